package pricing

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestImageCallPrices prices image calls of the default catalogue: the
// count times the cited per-image price of the quality and size asked
// for (catalog TestImagePrices traces each price to its source), and
// unpriced, never $0, when no per-image price applies.
func TestImageCallPrices(t *testing.T) {
	c := catalog.Default()
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		name     string
		call     Call
		wantOK   bool
		wantKind string
		wantCost money.Amount
	}{
		{"nova canvas 2 premium 2048", Call{ModelID: "amazon.nova-canvas-v1:0", At: at, Region: "us-east-1",
			Units: UnitUsage{Unit: catalog.UnitImage, Quality: "premium", Pixels: 2048 * 2048, Count: 2}},
			true, "image-premium-2048x2048", 2 * 80_000_000},
		{"nova canvas 1 standard 1024", Call{ModelID: "amazon.nova-canvas-v1:0", At: at, Region: "eu-west-1",
			Units: UnitUsage{Unit: catalog.UnitImage, Quality: "standard", Pixels: 1024 * 1024, Count: 1}},
			true, "image-standard-1024x1024", 40_000_000},
		{"nova canvas 5 standard 2048", Call{ModelID: "amazon.nova-canvas-v1:0", At: at, Region: "ap-northeast-1",
			Units: UnitUsage{Unit: catalog.UnitImage, Quality: "standard", Pixels: 2048 * 2048, Count: 5}},
			true, "image-standard-2048x2048", 5 * 60_000_000},
		{"sd3.5 large 3", Call{ModelID: "stability.sd3-5-large-v1:0", At: at, Region: "us-west-2",
			Units: UnitUsage{Unit: catalog.UnitImage, Count: 3}}, true, "image", 3 * 80_000_000},
		{"stable image ultra 1", Call{ModelID: "stability.stable-image-ultra-v1:1", At: at, Region: "us-west-2",
			Units: UnitUsage{Unit: catalog.UnitImage, Count: 1}}, true, "image", 140_000_000},
		{"stable image core 1", Call{ModelID: "stability.stable-image-core-v1:1", At: at, Region: "us-west-2",
			Units: UnitUsage{Unit: catalog.UnitImage, Count: 1}}, true, "image", 40_000_000},
		{"tokens on an image model", Call{ModelID: "amazon.nova-canvas-v1:0", At: at, Region: "us-east-1",
			Usage: Usage{Input: 10}}, false, "", 0},
		{"image larger than every price", Call{ModelID: "amazon.nova-canvas-v1:0", At: at, Region: "us-east-1",
			Units: UnitUsage{Unit: catalog.UnitImage, Quality: "premium", Pixels: 4096 * 4096, Count: 1}}, false, "", 0},
		{"images on a token model", Call{ModelID: "amazon.nova-pro-v1:0", At: at, Region: "us-east-1",
			Usage: Usage{Input: 10}, Units: UnitUsage{Unit: catalog.UnitImage, Count: 1}}, false, "", 0},
		{"before the price", Call{ModelID: "amazon.nova-canvas-v1:0", At: time.Date(2024, 1, 1, 0, 0, 0, 0, time.UTC), Region: "us-east-1",
			Units: UnitUsage{Unit: catalog.UnitImage, Quality: "premium", Pixels: 1, Count: 1}}, false, "", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			q, ok := Price(c, tc.call)
			if ok != tc.wantOK {
				t.Fatalf("ok = %v, want %v (quote %+v)", ok, tc.wantOK, q)
			}
			if !ok {
				return
			}
			if q.Unit.Kind() != tc.wantKind || q.Units != tc.call.Units.Count || q.UnitCost != tc.wantCost || q.Total != tc.wantCost {
				t.Errorf("kind %q units %d unit cost %v total %v; want %q, %d, %v, %v",
					q.Unit.Kind(), q.Units, q.UnitCost, q.Total, tc.wantKind, tc.call.Units.Count, tc.wantCost, tc.wantCost)
			}
			if q.Version == "" {
				t.Error("no price version")
			}
		})
	}
}

// TestImageRecordRoundTrip checks a priced image record re-prices to
// itself, names its per-image line after its unit kind, and that its
// lines sum to its cost.
func TestImageRecordRoundTrip(t *testing.T) {
	c := catalog.Default()
	at := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	q, ok := Price(c, Call{ModelID: "amazon.nova-canvas-v1:0", At: at, Region: "us-east-1",
		Units: UnitUsage{Unit: catalog.UnitImage, Quality: "premium", Pixels: 2048 * 2048, Count: 2}})
	if !ok {
		t.Fatal("unpriced")
	}
	r := ledger.Record{RequestID: "img", Time: at, Region: "us-east-1", RegionServed: "us-east-1", ModelID: "amazon.nova-canvas-v1:0",
		Operation: "InvokeModel", Outcome: ledger.OutcomeSuccess, Priced: true, Cost: q.Total, PriceVersion: q.Version,
		Units: q.Units, UnitKind: q.Unit.Kind(), UnitCost: q.UnitCost}
	if diff := cmp.Diff(r, Recompute(c, r)); diff != "" {
		t.Errorf("Recompute changed the record (-stored +recomputed):\n%s", diff)
	}
	if ch := Reprice(c, []ledger.Record{r}); len(ch) != 0 {
		t.Errorf("Reprice = %+v, want none", ch)
	}
	lines := UsageTypes(&r)
	want := []Line{{Unit: true, UsageType: "USE1-NovaCanvas-image-premium-2048x2048", PricingUnit: UnitPricingUnit, Tokens: 2, Cost: 160_000_000}}
	if diff := cmp.Diff(want, lines); diff != "" {
		t.Errorf("UsageTypes (-want +got):\n%s", diff)
	}
	if r.LineSum() != r.Cost {
		t.Errorf("LineSum %v != Cost %v", r.LineSum(), r.Cost)
	}

	// A corrected per-image price re-prices the record at the same tier.
	m, _ := c.Model("amazon.nova-canvas-v1:0")
	p, _ := m.PriceAt(at)
	p.Units = append([]catalog.UnitPrice(nil), p.Units...)
	for i := range p.Units {
		if p.Units[i].Kind() == "image-premium-2048x2048" {
			p.Units[i].Price = money.MustParse("0.09")
		}
	}
	p.Origin = "prices.yaml:1"
	c2, err := c.WithPrices(map[string][]catalog.Price{m.ID: {p}})
	if err != nil {
		t.Fatal(err)
	}
	ch := Reprice(c2, []ledger.Record{r})
	if len(ch) != 1 || ch[0].New.UnitCost != 180_000_000 || ch[0].New.Cost != 180_000_000 || ch[0].New.UnitKind != r.UnitKind ||
		ch[0].New.PriceVersion == r.PriceVersion {
		t.Errorf("Reprice at $0.09 = %+v, want unit cost and cost 0.18 under a new version", ch)
	}
}
