// Package storetest is the conformance suite every Tollgate store must pass.
// Each store package runs it against itself (SQLite always, PostgreSQL when
// TOLLGATE_TEST_POSTGRES_URL is set), so the stores keep the same contracts.
package storetest

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Store is everything a Tollgate store implements: the whole store
// contract (cmd/tollgate's Store but for Ping and Close), every part of
// which the suite checks on every store.
type Store interface {
	profile.Store
	principal.Store
	principal.AdminStore
	LedgerStore
	costquery.Source
	costquery.Versioned
	costquery.DailySource
	export.Source
	ledger.Repricer
	DropPartitionsBefore(ctx context.Context, before time.Time) ([]string, error)
	BudgetStore
	MetricsStore
	metrics.RecordReader
	anomaly.Store
	CoordStore
	session.Store
	profile.TierStore
}

// Run runs the whole suite. open returns a fresh, empty store; the suite
// closes nothing (register cleanup in open).
func Run(t *testing.T, open func(t *testing.T) Store) {
	t.Run("Profiles", func(t *testing.T) { testProfiles(t, open(t)) })
	t.Run("ProfileConflicts", func(t *testing.T) { testProfileConflicts(t, open(t)) })
	t.Run("ProfileTags", func(t *testing.T) { testProfileTags(t, open(t)) })
	t.Run("Principals", func(t *testing.T) { testPrincipals(t, open(t)) })
	t.Run("Admin", func(t *testing.T) { testAdmin(t, open(t)) })
	t.Run("ConcurrentCreates", func(t *testing.T) { testConcurrentCreates(t, open(t)) })
	t.Run("Ledger", func(t *testing.T) { testLedger(t, open(t)) })
	t.Run("LedgerGroupCommit", func(t *testing.T) { testLedgerConcurrent(t, open(t)) })
	t.Run("CostRollups", func(t *testing.T) { testCostRollups(t, open(t)) })
	t.Run("DailyRollups", func(t *testing.T) { testDailyRollups(t, open(t)) })
	t.Run("StreamRollups", func(t *testing.T) { testStreamRollups(t, open(t)) })
	t.Run("Reprice", func(t *testing.T) { testReprice(t, open(t)) })
	t.Run("RecordCalls", func(t *testing.T) { testRecordCalls(t, open(t)) })
	t.Run("RecordUnits", func(t *testing.T) { testRecordUnits(t, open(t)) })
	t.Run("Anomaly", func(t *testing.T) { testAnomaly(t, open(t)) })
	t.Run("Budgets", func(t *testing.T) { testBudgets(t, open(t)) })
	t.Run("Metrics", func(t *testing.T) { testMetrics(t, open(t)) })
	t.Run("Leases", func(t *testing.T) { testLeases(t, open(t)) })
	t.Run("AllowanceClaims", func(t *testing.T) { testAllowanceClaims(t, open(t)) })
	t.Run("RateClaims", func(t *testing.T) { testRateClaims(t, open(t)) })
	t.Run("ChangeFeed", func(t *testing.T) { testChangeFeed(t, open(t)) })
	t.Run("Retention", func(t *testing.T) { testRetention(t, open(t)) })
	t.Run("ConsoleSessions", func(t *testing.T) { testConsoleSessions(t, open(t)) })
	t.Run("ProfileTiers", func(t *testing.T) { testProfileTiers(t, open(t)) })
}

var t0 = time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)

func sample(account, id, name, token string, at time.Time) profile.Profile {
	return profile.Profile{
		ID: id, ARN: "arn:aws:bedrock:us-east-1:" + account + ":application-inference-profile/" + id,
		Name: name, Description: "d", Account: account, Region: "us-east-1", Type: profile.Application,
		ModelID:   "anthropic.claude-3-haiku-20240307-v1:0",
		ModelARNs: []string{"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"},
		Source:    "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0",
		Scope:     "in-region",
		Tags:      tags.Set{"dept": "claims", "empty": ""}, CreatedAt: at, UpdatedAt: at,
		ClientRequestToken: token, RequestHash: "h-" + id,
	}
}

func testProfiles(t *testing.T, s Store) {
	ctx := t.Context()
	a := sample("111111111111", "aaaaaaaaaaaa", "one", "tok-1", t0)
	b := sample("111111111111", "bbbbbbbbbbbb", "two", "", t0.Add(time.Second))
	// Copied from a global system profile: the store keeps its scope.
	b.Source, b.Scope = "arn:aws:bedrock:us-east-1:111111111111:inference-profile/global.anthropic.claude-haiku-4-5-20251001-v1:0", "global"
	c := sample("222222222222", "aaaaaaaaaaaa", "one", "tok-1", t0) // same id, name and token in another account
	for _, p := range []profile.Profile{b, a, c} {
		if err := s.CreateProfile(ctx, p); err != nil {
			t.Fatalf("CreateProfile(%s/%s): %v", p.Account, p.ID, err)
		}
	}
	got, err := s.ListAllProfiles(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []profile.Profile{a, b, c}); diff != "" {
		t.Errorf("ListAllProfiles (-got +want):\n%s", diff)
	}
	if err := s.DeleteProfile(ctx, "111111111111", "aaaaaaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteProfile(ctx, "111111111111", "aaaaaaaaaaaa"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second DeleteProfile = %v, want NotFound", err)
	}
	got, _ = s.ListAllProfiles(ctx)
	if diff := cmp.Diff(got, []profile.Profile{b, c}); diff != "" {
		t.Errorf("after delete (-got +want):\n%s", diff)
	}
	// The deleted profile's name and token are free again.
	if err := s.CreateProfile(ctx, sample("111111111111", "cccccccccccc", "one", "tok-1", t0)); err != nil {
		t.Errorf("re-create with freed name and token: %v", err)
	}
}

func testProfileConflicts(t *testing.T, s Store) {
	ctx := t.Context()
	base := sample("111111111111", "aaaaaaaaaaaa", "one", "tok-1", t0)
	if err := s.CreateProfile(ctx, base); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		p    profile.Profile
	}{
		{"same id", sample("111111111111", "aaaaaaaaaaaa", "other", "tok-2", t0)},
		{"same name", sample("111111111111", "bbbbbbbbbbbb", "one", "tok-3", t0)},
		{"same token", sample("111111111111", "cccccccccccc", "three", "tok-1", t0)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if err := s.CreateProfile(ctx, tc.p); !errkind.Is(err, errkind.Conflict) {
				t.Errorf("CreateProfile = %v, want Conflict", err)
			}
		})
	}
	got, _ := s.ListAllProfiles(ctx)
	if len(got) != 1 {
		t.Errorf("after conflicts: %d profiles, want 1", len(got))
	}
}

func testProfileTags(t *testing.T, s Store) {
	ctx := t.Context()
	p := sample("111111111111", "aaaaaaaaaaaa", "one", "", t0)
	if err := s.CreateProfile(ctx, p); err != nil {
		t.Fatal(err)
	}
	next := tags.Set{"dept": "sales", "team": "support", "app": "chat_app"}
	if err := s.SetProfileTags(ctx, p.Account, p.ID, next, t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	got, _ := s.ListAllProfiles(ctx)
	p.Tags, p.UpdatedAt = next, t0.Add(time.Hour)
	if diff := cmp.Diff(got, []profile.Profile{p}); diff != "" {
		t.Errorf("after SetProfileTags (-got +want):\n%s", diff)
	}
	if err := s.SetProfileTags(ctx, p.Account, "zzzzzzzzzzzz", next, t0); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("SetProfileTags on a missing profile = %v, want NotFound", err)
	}
	if err := s.SetProfileTags(ctx, p.Account, p.ID, tags.Set{}, t0); err != nil {
		t.Fatal(err)
	}
	got, _ = s.ListAllProfiles(ctx)
	if len(got[0].Tags) != 0 || got[0].Tags == nil {
		t.Errorf("after clearing tags: %#v, want an empty non-nil set", got[0].Tags)
	}
}

func testPrincipals(t *testing.T, s Store) {
	ctx := t.Context()
	p := principal.Principal{ID: "root-111111111111", Account: "111111111111", Name: "root", Kind: principal.Root, Tags: tags.Set{"team": "a"}, CreatedAt: t0}
	if err := s.PutPrincipal(ctx, p); err != nil {
		t.Fatal(err)
	}
	k := principal.AccessKey{ID: "AKIAEXAMPLE", PrincipalID: p.ID, SecretSealed: []byte{1, 2, 3}, Status: principal.Active, CreatedAt: t0}
	if err := s.PutAccessKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	k.Status = principal.Inactive
	if err := s.PutAccessKey(ctx, k); err != nil {
		t.Fatal(err)
	}
	api := principal.APIKey{ID: "TGK1", PrincipalID: p.ID, Hash: "abc", Status: principal.Active, CreatedAt: t0}
	if err := s.PutAPIKey(ctx, api); err != nil {
		t.Fatal(err)
	}
	if err := s.PutAccessKey(ctx, principal.AccessKey{ID: "AKIAORPHAN", PrincipalID: "nobody", SecretSealed: []byte{1}, Status: principal.Active, CreatedAt: t0}); err == nil {
		t.Errorf("PutAccessKey for a missing principal succeeded")
	}
	ps, aks, apis, err := s.LoadPrincipals(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(ps, []principal.Principal{p}); diff != "" {
		t.Errorf("principals (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(aks, []principal.AccessKey{k}); diff != "" {
		t.Errorf("access keys (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(apis, []principal.APIKey{api}); diff != "" {
		t.Errorf("api keys (-got +want):\n%s", diff)
	}
}

func testConcurrentCreates(t *testing.T, s Store) {
	ctx := t.Context()
	const n = 50
	errs := make(chan error, n)
	for i := range n {
		go func() {
			id := fmt.Sprintf("p%011d", i)
			errs <- s.CreateProfile(ctx, sample("111111111111", id, "name"+id, "", t0))
		}()
	}
	for range n {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
	got, err := s.ListAllProfiles(context.WithoutCancel(ctx))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != n {
		t.Errorf("after %d concurrent creates: %d profiles", n, len(got))
	}
}
