package profile_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// TestReloadFollowsOtherReplica: profiles created, retagged and deleted
// through one Service appear in another sharing its store after Reload,
// with one OnChange call each, in its lookups and its tag index.
func TestReloadFollowsOtherReplica(t *testing.T) {
	db := sqlitetest.Open(t)
	a, b := newService(t, db, 0), newService(t, db, 0)
	var events []string
	b.OnChange(func(old, new *profile.Profile) {
		switch {
		case old == nil:
			events = append(events, "create "+new.Name+" "+new.Tags.Canonical())
		case new == nil:
			events = append(events, "delete "+old.Name)
		default:
			events = append(events, "change "+old.Name+" "+old.Tags.Canonical()+" -> "+new.Tags.Canonical())
		}
	})
	reload := func(t *testing.T, want ...string) {
		t.Helper()
		events = nil
		if err := b.Reload(t.Context()); err != nil {
			t.Fatal(err)
		}
		slices.Sort(events)
		if diff := cmp.Diff(events, want); diff != "" {
			t.Errorf("OnChange calls (-got +want):\n%s", diff)
		}
	}
	find := func(key, value string) []string {
		return b.FindByTags(acct, []tags.Filter{{Key: key, Values: []string{value}}})
	}
	create := func(t *testing.T, account, name string) profile.Profile {
		t.Helper()
		p, err := a.Create(t.Context(), profile.CreateInput{Account: account, Name: name, CopyFrom: model, Tags: []tags.Tag{{Key: "team", Value: "x"}}})
		if err != nil {
			t.Fatal(err)
		}
		return p
	}
	p1, p2 := create(t, acct, "one"), create(t, acct, "two")

	t.Run("created", func(t *testing.T) {
		reload(t, "create one team\x01x", "create two team\x01x")
		if diff := cmp.Diff(find("team", "x"), sorted(p1.ARN, p2.ARN)); diff != "" {
			t.Errorf("FindByTags(team=x) (-got +want):\n%s", diff)
		}
		got, ok := b.Lookup(acct, p1.ID)
		if !ok || got.ARN != p1.ARN || got.ID != p1.ID || got.Account != acct || !slices.Equal(got.ModelARNs, p1.ModelARNs) {
			t.Errorf("Lookup(p1) = %+v, %v", got, ok)
		}
	})
	t.Run("retagged and deleted", func(t *testing.T) {
		if err := a.Tag(t.Context(), acct, p1.ARN, []tags.Tag{{Key: "team", Value: "y"}}); err != nil {
			t.Fatal(err)
		}
		if err := a.Delete(t.Context(), acct, p2.ARN); err != nil {
			t.Fatal(err)
		}
		create(t, "222222222222", "three")
		reload(t, "change one team\x01x -> team\x01y", "create three team\x01x", "delete two")
		if got := find("team", "x"); len(got) != 0 {
			t.Errorf("FindByTags(team=x) = %q, want none", got)
		}
		if diff := cmp.Diff(find("team", "y"), []string{p1.ARN}); diff != "" {
			t.Errorf("FindByTags(team=y) (-got +want):\n%s", diff)
		}
		if _, ok := b.TagsOf(acct, p2.ARN); ok {
			t.Error("TagsOf(deleted p2) found it")
		}
		if _, ok := b.Lookup(acct, p2.ID); ok {
			t.Error("Lookup(deleted p2) found it")
		}
	})
	t.Run("unchanged", func(t *testing.T) {
		before, _ := b.Lookup(acct, p1.ID)
		reload(t)
		if after, _ := b.Lookup(acct, p1.ID); after != before {
			t.Error("an unchanged profile got a new pointer")
		}
		if tg, _ := b.TagsOf(acct, p1.ARN); tg["team"] != "y" {
			t.Errorf("TagsOf(p1) = %v", tg)
		}
		all := b.AllShared()
		if len(all) != 2 || !slices.Contains(all, before) {
			t.Errorf("AllShared() = %v, want 2 profiles, p1 as Lookup returns it", all)
		}
	})
}

func sorted(s ...string) []string { slices.Sort(s); return s }

// TestSharedIDAcrossAccounts: two accounts' profiles with the same id are
// both found, and deleting one leaves the other.
func TestSharedIDAcrossAccounts(t *testing.T) {
	db := sqlitetest.Open(t)
	accts := []string{acct, "222222222222", "333333333333"}
	for i, ac := range accts {
		p := profile.Profile{ID: "sameid000000", ARN: arn.ApplicationProfile(region, ac, "sameid000000"), Name: fmt.Sprintf("p%d", i),
			Account: ac, Region: region, Type: profile.Application, ModelID: "amazon.nova-lite-v1:0", ModelARNs: []string{model},
			Source: model, Scope: catalog.ScopeInRegion, Tags: tags.Set{"n": fmt.Sprint(i)}, CreatedAt: t0, UpdatedAt: t0}
		if err := db.CreateProfile(t.Context(), p); err != nil {
			t.Fatal(err)
		}
	}
	s := newService(t, db, 0)
	for i, ac := range accts {
		if p, ok := s.Lookup(ac, "sameid000000"); !ok || p.Account != ac || p.Name != fmt.Sprintf("p%d", i) {
			t.Errorf("Lookup(%s) = %+v, %v", ac, p, ok)
		}
	}
	for _, gone := range accts[:2] {
		if err := s.Delete(t.Context(), gone, "sameid000000"); err != nil {
			t.Fatal(err)
		}
		if _, ok := s.Lookup(gone, "sameid000000"); ok {
			t.Errorf("Lookup(%s) after Delete found it", gone)
		}
	}
	if p, ok := s.Lookup(accts[2], "sameid000000"); !ok || p.Account != accts[2] {
		t.Errorf("Lookup(%s) = %+v, %v after deleting the others", accts[2], p, ok)
	}
	if got := len(s.All()); got != 1 {
		t.Errorf("All() has %d profiles, want 1", got)
	}
}
