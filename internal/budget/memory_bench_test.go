package budget_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/testsupport"

	"github.com/tollgate-dev/tollgate/internal/budget"
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
		f := newFixture(b, t0)
		for i := range budgets {
			mustCreate(b, f, budget.Budget{Name: fmt.Sprintf("app-%04d", i), Limit: int64(1e6 * money.Dollar),
				CostFilters: map[string][]string{"TagKeyValue": {fmt.Sprintf("user:app$app-%04d", i)}},
				Actions:     []budget.Action{{Type: budget.Block, Threshold: 100}}})
		}
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
