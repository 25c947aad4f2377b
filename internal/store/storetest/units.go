package storetest

import (
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// testRecordUnits checks per-unit items (issue #15): image calls priced
// per image keep their units, unit kind and unit cost; the hourly and
// daily rollups keep one row per unit kind and sum units and unit cost
// exactly; re-pricing a per-image price moves the unit cost in records
// and rollups; Cost Explorer grouped by usage type shows each kind's
// images and cost.
func testRecordUnits(t *testing.T, s Store) {
	ctx := t.Context()
	cat := catalog.Default()
	const canvas = "amazon.nova-canvas-v1:0"
	base := time.Date(2026, 11, 4, 9, 0, 0, 0, time.UTC)
	claims := tags.Set{"dept": "claims"}
	var recs []ledger.Record
	for i := range 12 {
		quality := []string{"standard", "premium"}[i%2]
		side := []int64{1024, 2048}[i/2%2]
		r := ledger.Record{RequestID: fmt.Sprintf("img-%03d", i), Time: base.Add(time.Duration(i) * 7 * time.Minute),
			Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ModelID: canvas, Provider: "sim",
			Operation: "InvokeModel", Outcome: ledger.OutcomeSuccess, Attempts: 1, Tags: claims}
		q, ok := pricing.Price(cat, pricing.Call{ModelID: canvas, At: r.Time, Region: r.Region,
			Units: pricing.UnitUsage{Unit: catalog.UnitImage, Quality: quality, Pixels: side * side, Count: int64(1 + i%3)}})
		if !ok {
			t.Fatalf("record %d unpriced", i)
		}
		r.Priced, r.Cost, r.PriceVersion = true, q.Total, q.Version
		r.Units, r.UnitKind, r.UnitCost = q.Units, q.Unit.Kind(), q.UnitCost
		recs = append(recs, r)
	}
	// An unpriced image call (no price for its size) and a token call in
	// the same hour.
	recs = append(recs, ledger.Record{RequestID: "img-unpriced", Time: base.Add(3 * time.Minute), Account: "111111111111",
		Region: "us-east-1", RegionServed: "us-east-1", ModelID: canvas, Operation: "InvokeModel", Outcome: ledger.OutcomeSuccess,
		Units: 1, UnitKind: "image-premium-4096x4096", Tags: claims})
	tok := record(1, base.Add(5*time.Minute), claims)
	tok.RequestID = "img-tokens"
	recs = append(recs, tok)
	if err := s.AppendRecords(ctx, recs[:8]); err != nil {
		t.Fatal(err)
	}
	if err := s.AppendRecords(ctx, recs[4:]); err != nil { // overlapping: counted once
		t.Fatal(err)
	}

	got, err := s.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	want := make([]ledger.Record, len(recs))
	for i, r := range recs {
		r.Time = r.Time.UTC()
		want[i] = r
	}
	sortRecords := func(rs []ledger.Record) {
		for i := range rs {
			for j := i + 1; j < len(rs); j++ {
				if rs[j].RequestID < rs[i].RequestID {
					rs[i], rs[j] = rs[j], rs[i]
				}
			}
		}
	}
	sortRecords(got)
	sortRecords(want)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Fatalf("Records (-got +want):\n%s", diff)
	}

	from, to := base.Truncate(24*time.Hour), base.Add(24*time.Hour)
	check := func(step string, recs []ledger.Record) {
		t.Helper()
		hourly, err := s.Rollups(ctx, "111111111111", from, to)
		if err != nil {
			t.Fatal(err)
		}
		wantHourly := costquery.RollupRecords(recs)
		sortRollups(hourly)
		sortRollups(wantHourly)
		if diff := cmp.Diff(hourly, wantHourly); diff != "" {
			t.Errorf("%s: Rollups (-got +want):\n%s", step, diff)
		}
		daily, err := s.CostRollupsDaily(ctx, nil, from, to)
		if err != nil {
			t.Fatal(err)
		}
		var days []ledger.Record
		for _, r := range recs {
			r.Time = r.Time.Truncate(24 * time.Hour)
			days = append(days, r)
		}
		wantDaily := costquery.RollupRecords(days)
		sortRollups(daily)
		sortRollups(wantDaily)
		if diff := cmp.Diff(daily, wantDaily); diff != "" {
			t.Errorf("%s: CostRollupsDaily (-got +want):\n%s", step, diff)
		}
		kinds := map[string]bool{}
		for _, r := range hourly {
			if r.UnitKind != "" {
				kinds[r.UnitKind] = true
			}
		}
		if len(kinds) != 5 { // four Nova Canvas tiers and the unpriced size
			t.Errorf("%s: rollups of %d unit kinds, want 5: %v", step, len(kinds), kinds)
		}
	}
	check("appended", recs)

	// Cost Explorer by usage type: each image usage type's usage is its
	// images, its cost their cost.
	svc := costquery.NewService(s, pricing.NewNamer(cat), nil)
	res, err := svc.CostAndUsage(ctx, nil, costquery.Query{From: from, To: to, Granularity: costquery.Daily,
		GroupBy: []costquery.GroupBy{{Type: costquery.GroupDimension, Key: "USAGE_TYPE"}}})
	if err != nil {
		t.Fatal(err)
	}
	byType := map[string][2]int64{}
	for _, p := range res.Periods {
		for _, g := range p.Groups {
			v := byType[g.Keys[0]]
			byType[g.Keys[0]] = [2]int64{v[0] + g.Usage, v[1] + int64(g.Cost)}
		}
	}
	wantTypes := map[string][2]int64{}
	for _, r := range recs {
		if r.Units == 0 {
			continue
		}
		k := "USE1-NovaCanvas-" + r.UnitKind
		v := wantTypes[k]
		wantTypes[k] = [2]int64{v[0] + r.Units, v[1] + int64(r.UnitCost)}
	}
	for k, w := range wantTypes {
		if byType[k] != w {
			t.Errorf("usage type %s: usage, cost %v; want %v", k, byType[k], w)
		}
	}

	// A corrected premium 2048 price re-prices those records' unit cost.
	prices, err := catalog.ParsePrices("images.yaml", []byte(`prices:
  - model: `+canvas+`
    effective: 2026-11-01
    units:
      - {unit: image, quality: standard, upTo: 1024x1024, price: "0.04"}
      - {unit: image, quality: standard, upTo: 2048x2048, price: "0.06"}
      - {unit: image, quality: premium, upTo: 1024x1024, price: "0.06"}
      - {unit: image, quality: premium, upTo: 2048x2048, price: "0.09"}
    source: test correction
`))
	if err != nil {
		t.Fatal(err)
	}
	newCat, err := cat.WithPrices(prices)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := s.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var changes []ledger.Repricing
	for _, c := range pricing.Reprice(newCat, stored) {
		if c.Old.ModelID == canvas { // not the token record's made-up costs
			changes = append(changes, c)
		}
	}
	if len(changes) != 12 { // every priced image call takes the new version; the unpriced size stays unpriced
		t.Fatalf("%d changes, want 12", len(changes))
	}
	if n, err := s.Reprice(ctx, "units-1", base.Add(48*time.Hour), changes); err != nil || n != len(changes) {
		t.Fatalf("Reprice = %d, %v", n, err)
	}
	after, err := s.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	moved := 0
	for _, r := range after {
		if r.LineSum() != r.Cost {
			t.Errorf("record %s: lines %v, cost %v", r.RequestID, r.LineSum(), r.Cost)
		}
		if r.UnitKind == "image-premium-2048x2048" {
			moved++
			if int64(r.UnitCost) != 90_000_000*r.Units {
				t.Errorf("record %s: unit cost %v for %d images at $0.09", r.RequestID, r.UnitCost, r.Units)
			}
		}
	}
	if moved == 0 {
		t.Error("no premium 2048 record")
	}
	check("re-priced", after)
}
