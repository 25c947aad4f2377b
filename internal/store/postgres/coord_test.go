package postgres_test

import (
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// TestLeases runs the lease conformance test with its two holders on two
// pools of connections, as two replicas are, and checks LeaseHolder.
func TestLeases(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	storetest.LeasesAcross(t, a, b)
	if _, err := a.AcquireLease(t.Context(), "held", "A", time.Minute); err != nil {
		t.Fatal(err)
	}
	if h, _ := b.LeaseHolder(t.Context(), "held"); h != "A" {
		t.Errorf("LeaseHolder = %q, want A", h)
	}
}

// TestAllowanceClaims runs claims of three replicas (three pools of
// connections) on one budget at once: the grants never exceed the limit
// less the base, and a replica's grant is what it was given.
func TestAllowanceClaims(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*budgetShared{{openURL(t, url), "r0"}, {openURL(t, url), "r1"}, {openURL(t, url), "r2"}}
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	const limit, base = 1_000_000, 100_000
	var wg sync.WaitGroup
	var given [3]atomic.Int64
	for i, d := range dbs {
		for range 8 {
			wg.Go(func() {
				for range 40 {
					before := given[i].Load()
					got, err := d.db.ClaimAllowance(t.Context(), budget.Claim{Account: "111111111111", Budget: "b", Replica: d.id,
						PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0), Limit: limit, Base: base, Need: 1000, Want: 7000})
					if err != nil {
						t.Error(err)
						return
					}
					for got > before && !given[i].CompareAndSwap(before, got) {
						before = given[i].Load()
					}
				}
			})
		}
	}
	wg.Wait()
	var sum int64
	for i := range dbs {
		sum += given[i].Load()
	}
	if sum > limit-base {
		t.Errorf("grants sum to %d, more than the %d the pool holds", sum, limit-base)
	}
	if sum < limit-base-1000 {
		t.Errorf("grants sum to %d of %d: the pool was not used up", sum, limit-base)
	}
	// A return lowers a grant (never raises it) and frees the pool.
	c := budget.Claim{Account: "111111111111", Budget: "b", Replica: "r0", PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0),
		Limit: limit, Base: base, Need: 5000, Want: 5000}
	if err := dbs[0].db.ReturnAllowance(t.Context(), c, given[0].Load()-5000); err != nil {
		t.Fatal(err)
	}
	if err := dbs[0].db.ReturnAllowance(t.Context(), c, given[0].Load()+1e9); err != nil {
		t.Fatal(err)
	}
	c.Replica = "r1"
	got, err := dbs[1].db.ClaimAllowance(t.Context(), c)
	if err != nil {
		t.Fatal(err)
	}
	if got != given[1].Load()+5000 {
		t.Errorf("after r0 returned 5000, r1's grant = %d, want %d", got, given[1].Load()+5000)
	}
	if err := dbs[0].db.PruneShared(t.Context(), start.AddDate(0, 2, 0)); err != nil {
		t.Fatal(err)
	}
	c.Replica, c.Base = "r2", 0
	if got, err := dbs[2].db.ClaimAllowance(t.Context(), c); err != nil || got != 5000 {
		t.Errorf("after pruning the ended period, a claim = %d, %v; want a fresh pool granting 5000", got, err)
	}
}

type budgetShared struct {
	db interface {
		budget.Shared
	}
	id string
}

// TestRateClaims: replicas claiming a THROTTLE window's slots at once get
// exactly the limit between them.
func TestRateClaims(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	minute := time.Date(2026, 11, 3, 10, 4, 0, 0, time.UTC)
	var total atomic.Int64
	var wg sync.WaitGroup
	for i := range 16 {
		db := a
		if i%2 == 1 {
			db = b
		}
		wg.Go(func() {
			for range 10 {
				n, err := db.ClaimRate(t.Context(), "111111111111", "b", minute, 50, 3)
				if err != nil {
					t.Error(err)
					return
				}
				total.Add(n)
			}
		})
	}
	wg.Wait()
	if total.Load() != 50 {
		t.Errorf("%d slots taken of a window of 50", total.Load())
	}
	if n, _ := a.ClaimRate(t.Context(), "111111111111", "b", minute.Add(time.Minute), 50, 3); n != 3 {
		t.Errorf("the next minute's first claim = %d, want 3", n)
	}
}

// TestProfileQuotaAcrossReplicas: replicas creating profiles in one
// account at once stop at the quota together.
func TestProfileQuotaAcrossReplicas(t *testing.T) {
	url := pgtest.URL(t)
	dbs := []*postgres.DB{openURL(t, url), openURL(t, url), openURL(t, url)}
	const quota = 7
	var created, refused atomic.Int64
	var wg sync.WaitGroup
	for i := range 30 {
		wg.Go(func() {
			id := fmt.Sprintf("q%011d", i)
			p := profile.Profile{ID: id, ARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/" + id, Name: id,
				Account: "111111111111", Region: "us-east-1", Type: profile.Application, ModelID: "m", ModelARNs: []string{"a"}, Source: "s",
				Tags: tags.Set{}, CreatedAt: time.Now(), UpdatedAt: time.Now(), RequestHash: "h"}
			err := dbs[i%3].CreateProfileWithin(t.Context(), p, quota)
			switch {
			case err == nil:
				created.Add(1)
			case errkind.Is(err, errkind.QuotaExceeded):
				refused.Add(1)
			default:
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if created.Load() != quota || refused.Load() != 30-quota {
		t.Errorf("%d created and %d refused, want %d and %d", created.Load(), refused.Load(), quota, 30-quota)
	}
}

// BenchmarkClaimAllowance measures one claim's round trip (the cost a
// replica pays once per chunk of a BLOCK budget, not per call) and one
// THROTTLE slot claim, against an acquire of a lease as the baseline of a
// one-statement round trip.
func BenchmarkClaimAllowance(b *testing.B) {
	db := openURL(b, pgtest.URL(b))
	start := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	b.Run("lease-baseline", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.AcquireLease(b.Context(), "job", "r1", time.Minute); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("claim", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ClaimAllowance(b.Context(), budget.Claim{Account: "111111111111", Budget: "b", Replica: "r1",
				PeriodStart: start, PeriodEnd: start.AddDate(0, 1, 0), Limit: 1 << 62, Need: 1, Want: 1}); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("rate", func(b *testing.B) {
		for b.Loop() {
			if _, err := db.ClaimRate(b.Context(), "111111111111", "b", start, 1<<62, 1); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestNulIsInvalid: a NUL character, which PostgreSQL cannot store, is
// the caller's error (errkind.Invalid, a 400), not an internal one.
func TestNulIsInvalid(t *testing.T) {
	db := openURL(t, pgtest.URL(t))
	p := profile.Profile{ID: "nul000000001", ARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/nul000000001",
		Name: "nul", Description: "a\x00b", Account: "111111111111", Region: "us-east-1", Type: profile.Application, ModelID: "m",
		ModelARNs: []string{"a"}, Source: "s", Tags: tags.Set{}, CreatedAt: time.Now(), UpdatedAt: time.Now(), RequestHash: "h"}
	if err := db.CreateProfile(t.Context(), p); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("CreateProfile with a NUL in the description = %v, want Invalid", err)
	}
}
