package chargeback_test

import (
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/chargeback"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// TestImageLines checks image calls are charged back on a line of their
// per-image usage type: the images as its usage, their exact cost, and
// the markup on it.
func TestImageLines(t *testing.T) {
	const canvas = "amazon.nova-canvas-v1:0"
	cat := catalog.Default()
	at := month.Add(36 * time.Hour)
	var recs []ledger.Record
	for i, n := range []int64{2, 3} {
		q, ok := pricing.Price(cat, pricing.Call{ModelID: canvas, At: at, Region: "us-east-1",
			Units: pricing.UnitUsage{Unit: catalog.UnitImage, Quality: "premium", Pixels: 2048 * 2048, Count: n}})
		if !ok {
			t.Fatal("unpriced")
		}
		recs = append(recs, ledger.Record{RequestID: string(rune('a' + i)), Time: at, Account: "111111111111", Region: "us-east-1",
			RegionServed: "us-east-1", ModelID: canvas, Operation: "InvokeModel", Outcome: ledger.OutcomeSuccess, Priced: true,
			Units: q.Units, UnitKind: q.Unit.Kind(), UnitCost: q.UnitCost, Cost: q.Total, Tags: tags.Set{"cost_center": "cc-7"}})
	}
	m, err := chargeback.ParseMarkup("10%")
	if err != nil {
		t.Fatal(err)
	}
	res := build(recs, chargeback.By{Tag: "cost_center"}, m)
	if len(res.Statements) != 1 || len(res.Statements[0].Lines) != 1 {
		t.Fatalf("statements %+v, want one of one line", res.Statements)
	}
	l := res.Statements[0].Lines[0]
	if l.UsageType != "USE1-NovaCanvas-image-premium-2048x2048" || l.Units != 5 || l.Tokens.Total() != 5 || l.Cost != 400_000_000 ||
		l.Markup != 40_000_000 || l.Total != 440_000_000 {
		t.Errorf("line %+v; want 5 premium 2048 images at $0.40, markup $0.04", l)
	}
}
