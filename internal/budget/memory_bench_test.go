package budget_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/testsupport"

	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// BenchmarkIndexMemory100k reports the heap the admission index holds per
// application profile with 1,000 budgets (budget k scoped to the profiles
// tagged app=app-k, as 'tollgate bench --scale' makes them) and 100,000
// profiles indexed, each in one budget's scope. The profiles are made as
// the profile service keeps them (shared strings, ModelARNs and tag
// sets), so only the index's own memory is counted.
func BenchmarkIndexMemory100k(b *testing.B) {
	const budgets, n = 1000, 100_000
	for b.Loop() {
		f := scaleFixture(b, budgets)
		sets := make([]tags.Set, budgets)
		for i := range sets {
			sets[i] = tags.Set{"app": fmt.Sprintf("app-%04d", i)}
		}
		modelARNs := []string{"arn:aws:bedrock:us-east-1::foundation-model/" + haiku}
		ps := make([]profile.Profile, n)
		for i := range ps {
			id := fmt.Sprintf("p%011d", i)
			ps[i] = profile.Profile{ID: id, ARN: profileARN(id), Account: acct, Region: "us-east-1", ModelID: haiku,
				ModelARNs: modelARNs, Scope: "in-region", Tags: sets[i%budgets]}
		}
		ptrs := pointers(ps)
		base := testsupport.HeapInuse()
		f.svc.AddProfiles(ptrs)
		held := testsupport.HeapInuse() - base
		if tk, err := f.admit("p00000000001", sets[1], 1); err != nil || budget.TicketBudgets(tk) != 1 {
			b.Fatalf("admit = %v; want one budget in scope", err)
		}
		b.ReportMetric(float64(held)/n, "heap-B/profile")
		b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
		runtime.KeepAlive(ps)
		runtime.KeepAlive(f)
	}
}

// profileStore is a profile.Store that keeps nothing when profiles are
// created and lists list, each string its own allocation as a store scan
// makes it, so the benchmarks measure the services' memory, not a
// database's.
type profileStore struct{ list []profile.Profile }

func (m *profileStore) CreateProfile(context.Context, profile.Profile) error { return nil }
func (m *profileStore) DeleteProfile(context.Context, string, string) error  { return nil }
func (m *profileStore) SetProfileTags(context.Context, string, string, tags.Set, time.Time) error {
	return nil
}

func (m *profileStore) ListAllProfiles(context.Context) ([]profile.Profile, error) {
	out := make([]profile.Profile, len(m.list))
	for i, p := range m.list {
		p.ID, p.ARN, p.Name, p.Account, p.Region = strings.Clone(p.ID), strings.Clone(p.ARN), strings.Clone(p.Name), strings.Clone(p.Account), strings.Clone(p.Region)
		p.ModelID, p.Source, p.Scope = strings.Clone(p.ModelID), strings.Clone(p.Source), strings.Clone(p.Scope)
		p.ClientRequestToken, p.RequestHash = strings.Clone(p.ClientRequestToken), strings.Clone(p.RequestHash)
		p.ModelARNs = []string{strings.Clone(p.ModelARNs[0])}
		t := make(tags.Set, len(p.Tags))
		for k, v := range p.Tags {
			t[strings.Clone(k)] = strings.Clone(v)
		}
		p.Tags = t
		out[i] = p
	}
	return out, nil
}

// scaleFixture returns a fixture with budgets monthly COST budgets as
// 'tollgate bench --scale' makes them: budget k scoped to the profiles
// tagged app=app-k, with a BLOCK action at 100 % of a limit no call
// reaches.
func scaleFixture(b *testing.B, budgets int) *fixture {
	f := newFixture(b, t0)
	for k := range budgets {
		mustCreate(b, f, budget.Budget{Name: fmt.Sprintf("app-%04d", k), Limit: int64(1e6 * money.Dollar),
			CostFilters: map[string][]string{"TagKeyValue": {fmt.Sprintf("user:app$app-%04d", k)}},
			Actions:     []budget.Action{{Type: budget.Block, Threshold: 100}}})
	}
	return f
}

// createScale creates n application profiles through svc as 'tollgate
// bench --scale' does (profile i tagged app=app-<i mod 1000>, team, dept
// and environment), each with a client request token as the AWS SDK
// sends one, and returns them when keep is set.
func createScale(b *testing.B, svc *profile.Service, n int, keep bool) []profile.Profile {
	source := "arn:aws:bedrock:us-east-1::foundation-model/" + haiku
	var out []profile.Profile
	for i := range n {
		p, err := svc.Create(b.Context(), profile.CreateInput{Account: acct, Name: fmt.Sprintf("scale-%06d", i), CopyFrom: source,
			Tags: []tags.Tag{{Key: "app", Value: fmt.Sprintf("app-%04d", i%1000)}, {Key: "team", Value: fmt.Sprintf("team-%03d", i%100)},
				{Key: "dept", Value: fmt.Sprintf("dept-%02d", i%10)}, {Key: "environment", Value: "bench"}},
			ClientRequestToken: fmt.Sprintf("%08x-0000-4000-8000-%012x", i, i)})
		if err != nil {
			b.Fatal(err)
		}
		if keep {
			out = append(out, p)
		}
	}
	return out
}

// BenchmarkScaleMemory reports the heap the profile service and the
// budget admission index hold together per application profile in
// issue #18's scale state, built through the services as a server
// builds it: 1,000 budgets (budget k scoped to app=app-k, a BLOCK action
// each), then 100,000 profiles tagged as 'tollgate bench --scale' tags
// them, each with a client request token as the AWS SDK sends one.
// "create" makes them through profile.Service.Create with the admission
// index following (OnChange), as the scale run does; "restart" loads them
// from the store (NewService) and indexes them (AddProfiles), as a server
// does when it starts.
func BenchmarkScaleMemory(b *testing.B) {
	const budgets, n = 1000, 100_000
	for _, restart := range []bool{false, true} {
		b.Run(map[bool]string{false: "create", true: "restart"}[restart], func(b *testing.B) {
			for b.Loop() {
				f := scaleFixture(b, budgets)
				st := &profileStore{}
				cfg := profile.Config{Store: st, Catalog: catalog.Default(), Region: "us-east-1", Quota: n, Now: f.clock.now}
				var src, svc *profile.Service
				if restart {
					// The profiles as the create case makes them, kept by the
					// store.
					var err error
					if src, err = profile.NewService(b.Context(), cfg); err != nil {
						b.Fatal(err)
					}
					st.list = createScale(b, src, n, true)
				}
				base := testsupport.HeapInuse()
				var err error
				if svc, err = profile.NewService(b.Context(), cfg); err != nil {
					b.Fatal(err)
				}
				svc.OnChange(f.svc.ProfileChanged)
				f.svc.AddProfiles(svc.AllShared())
				if !restart {
					createScale(b, svc, n, false)
				}
				held := testsupport.HeapInuse() - base
				if got := len(svc.FindByTags(acct, []tags.Filter{{Key: "app", Values: []string{"app-0001"}}})); got != n/budgets {
					b.Fatalf("FindByTags(app=app-0001) = %d profiles; want %d", got, n/budgets)
				}
				b.ReportMetric(float64(held)/n, "heap-B/profile")
				b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
				// The source service and the store's list were there before
				// base: keep them past the measurement.
				runtime.KeepAlive(src)
				runtime.KeepAlive(st)
				runtime.KeepAlive(svc)
				runtime.KeepAlive(f)
			}
		})
	}
}
