package anomaly

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestRootCausesImages checks a spike in image spend has the images'
// per-image usage type as its root cause, and the contributions still
// add up to the impact exactly.
func TestRootCausesImages(t *testing.T) {
	start := time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC)
	const canvas = "amazon.nova-canvas-v1:0"
	var rolls []ledger.Rollup
	for h := -48; h <= 0; h++ {
		r := ledger.Rollup{Hour: start.Add(time.Duration(h) * time.Hour), Account: "111111111111", RegionServed: "us-east-1",
			ModelID: canvas, Operation: "InvokeModel", UnitKind: "image-premium-2048x2048", Units: 1, UnitCost: 80_000_000, Cost: 80_000_000}
		tok := ledger.Rollup{Hour: r.Hour, Account: "111111111111", RegionServed: "us-east-1", ModelID: "amazon.nova-pro-v1:0",
			Operation: "Converse", InputTokens: 1000, InputCost: 800_000, Cost: 800_000}
		if h == 0 {
			r.Units, r.UnitCost, r.Cost = 50, 4_000_000_000, 4_000_000_000
		}
		rolls = append(rolls, r, tok)
	}
	a := Anomaly{Start: start, End: start, Actual: 4_000_000_000 + 800_000, Expected: 80_800_000}
	causes := rootCauses(Monitor{Type: Dimensional, Dimension: DimService}, ServiceName, a, rolls, costquery.NewNamer(catalog.Default()))
	var sum money.Amount
	for _, rc := range causes {
		sum += rc.Contribution
	}
	if len(causes) == 0 || causes[0].UsageType != "USE1-NovaCanvas-image-premium-2048x2048" || sum != a.Impact() {
		t.Errorf("root causes %+v (sum %v), want the premium 2048 images first, summing to the impact %v", causes, sum, a.Impact())
	}
}
