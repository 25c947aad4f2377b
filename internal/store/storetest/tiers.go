package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// testProfileTiers checks profile.TierStore: settings are stored per
// profile, replaced, removed by empty settings, refused for a profile that
// does not exist, and not listed once their profile is deleted.
func testProfileTiers(t *testing.T, s Store) {
	ctx := t.Context()
	for _, p := range []profile.Profile{
		sample("111111111111", "aaaaaaaaaaaa", "chatbot", "", t0),
		sample("111111111111", "bbbbbbbbbbbb", "batch", "", t0),
		sample("222222222222", "aaaaaaaaaaaa", "other", "", t0),
	} {
		if err := s.CreateProfile(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	put := func(account, id string, set profile.TierSettings) {
		t.Helper()
		if err := s.PutProfileTiers(ctx, account, id, set); err != nil {
			t.Fatalf("PutProfileTiers(%s, %s): %v", account, id, err)
		}
	}
	list := func() []profile.ProfileTiers {
		t.Helper()
		got, err := s.ListProfileTiers(ctx)
		if err != nil {
			t.Fatal(err)
		}
		return got
	}
	put("111111111111", "bbbbbbbbbbbb", profile.TierSettings{Default: "flex", Max: "default"})
	put("111111111111", "aaaaaaaaaaaa", profile.TierSettings{Default: "priority"})
	put("222222222222", "aaaaaaaaaaaa", profile.TierSettings{Max: "flex"})
	put("111111111111", "aaaaaaaaaaaa", profile.TierSettings{Default: "priority", Max: "priority"}) // replaced
	want := []profile.ProfileTiers{
		{Account: "111111111111", ID: "aaaaaaaaaaaa", TierSettings: profile.TierSettings{Default: "priority", Max: "priority"}},
		{Account: "111111111111", ID: "bbbbbbbbbbbb", TierSettings: profile.TierSettings{Default: "flex", Max: "default"}},
		{Account: "222222222222", ID: "aaaaaaaaaaaa", TierSettings: profile.TierSettings{Max: "flex"}},
	}
	if diff := cmp.Diff(list(), want); diff != "" {
		t.Errorf("ListProfileTiers (-got +want):\n%s", diff)
	}
	if err := s.PutProfileTiers(ctx, "111111111111", "cccccccccccc", profile.TierSettings{Default: "flex"}); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("PutProfileTiers of a missing profile: %v, want NotFound", err)
	}
	put("222222222222", "aaaaaaaaaaaa", profile.TierSettings{}) // removed
	if err := s.DeleteProfile(ctx, "111111111111", "bbbbbbbbbbbb"); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(list(), want[:1]); diff != "" {
		t.Errorf("ListProfileTiers after a removal and a profile deletion (-got +want):\n%s", diff)
	}
}
