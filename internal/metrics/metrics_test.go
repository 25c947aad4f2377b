package metrics_test

import (
	"fmt"
	"math"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// nearestRank is the exact nearest-rank percentile of sorted values.
func nearestRank(sorted []int64, p float64) float64 {
	rank := int(math.Ceil(p / 100 * float64(len(sorted))))
	rank = min(max(rank, 1), len(sorted))
	return float64(sorted[rank-1])
}

func TestPercentileAccuracy(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for _, tc := range []struct {
		name string
		gen  func() int64
	}{
		{"small exact", func() int64 { return rng.Int64N(128) }},
		{"latency lognormal", func() int64 { return int64(math.Exp(rng.NormFloat64()*1.2 + 6)) }},
		{"tokens uniform", func() int64 { return rng.Int64N(200_000) }},
		{"cost nanos heavy tail", func() int64 { return int64(math.Exp(rng.ExpFloat64()*4 + 10)) }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s metrics.Stats
			vals := make([]int64, 5000)
			for i := range vals {
				vals[i] = tc.gen()
				s.Add(vals[i])
			}
			slices.Sort(vals)
			for _, p := range []float64{0, 1, 10, 25, 50, 75, 90, 95, 99, 99.9, 100} {
				want := nearestRank(vals, p)
				got := s.Percentile(p)
				tol := metrics.Alpha * want
				if want < metrics.ExactBelow {
					tol = 0
				}
				if math.Abs(got-want) > tol+1e-9 {
					t.Errorf("p%v = %v, exact %v (relative error %.4f > %.2f)", p, got, want, math.Abs(got-want)/want, metrics.Alpha)
				}
			}
		})
	}
}

func TestStatsMergeAndEncode(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var a, b, all metrics.Stats
	for i := range 3000 {
		v := rng.Int64N(1_000_000)
		if i%3 == 0 {
			a.Add(v)
		} else {
			b.Add(v)
		}
		all.Add(v)
	}
	m := a.Clone()
	m.Merge(&b)
	enc, _ := m.Sketch.MarshalBinary()
	var back metrics.Sketch
	if err := back.UnmarshalBinary(enc); err != nil {
		t.Fatal(err)
	}
	m.Sketch = back
	for _, stat := range []string{"Sum", "Average", "Minimum", "Maximum", "SampleCount", "p50", "p90", "p99.9"} {
		got, _ := m.Value(stat, 1)
		want, _ := all.Value(stat, 1)
		if got != want {
			t.Errorf("%s of merged and decoded = %v, want %v", stat, got, want)
		}
	}
	if err := back.UnmarshalBinary([]byte{0x80}); err == nil {
		t.Error("UnmarshalBinary accepted a truncated varint")
	}
}

func TestStatsValue(t *testing.T) {
	var s metrics.Stats
	if _, ok := s.Value("Sum", 1); ok {
		t.Error("an empty Stats has a Sum")
	}
	for _, v := range []int64{1_000_000_000, 3_000_000_000} { // nano-USD
		s.Add(v)
	}
	for stat, want := range map[string]float64{"Sum": 4, "Average": 2, "Minimum": 1, "Maximum": 3, "SampleCount": 2, "p100": 3, "p0": 1} {
		if got, ok := s.Value(stat, 1e-9); !ok || math.Abs(got-want) > 1e-12 {
			t.Errorf("%s = %v, %v; want %v", stat, got, ok, want)
		}
	}
	for _, bad := range []string{"p101", "p-1", "tm90", "P50", "p", "p1e2", "sum"} {
		if metrics.ValidStat(bad) {
			t.Errorf("ValidStat(%q) = true", bad)
		}
	}
}

func TestSamplesOf(t *testing.T) {
	base := ledger.Record{Account: "111111111111", ProfileID: "aaaaaaaaaaaa", ModelID: "m", Operation: "ConverseStream",
		InputTokens: 10, OutputTokens: 20, CacheReadTokens: 3, LatencyMs: 50, TTFTMs: 7, Outcome: ledger.OutcomeSuccess, Cost: 1500, Priced: true}
	names := func(r ledger.Record) map[string]int64 {
		m := map[string]int64{}
		for _, s := range metrics.SamplesOf(r) {
			m[s.Metric] = s.Value
		}
		return m
	}
	if diff := cmp.Diff(names(base), map[string]int64{"Invocations": 1, "InvocationLatency": 50, "InputTokenCount": 10,
		"OutputTokenCount": 20, "CacheReadInputTokens": 3, "Cost": 1500, "TimeToFirstToken": 7,
		"EstimatedTPMQuotaUsage": 10 + 20}); diff != "" { // cache reads do not count
		t.Errorf("success (-got +want):\n%s", diff)
	}
	thr := base
	thr.Outcome, thr.InputTokens, thr.OutputTokens, thr.CacheReadTokens, thr.Cost = ledger.OutcomeThrottled, 0, 0, 0, 0
	if diff := cmp.Diff(names(thr), map[string]int64{"InvocationThrottles": 1}); diff != "" {
		t.Errorf("throttled (-got +want):\n%s", diff)
	}
	ce := thr
	ce.Outcome, ce.Operation = ledger.OutcomeClientError, "Converse"
	if diff := cmp.Diff(names(ce), map[string]int64{"Invocations": 1, "InvocationLatency": 50, "InvocationClientErrors": 1}); diff != "" {
		t.Errorf("client error (-got +want):\n%s", diff)
	}
	// An image call: its images and their cost, no tokens.
	img := ledger.Record{Account: "111111111111", ModelID: "amazon.nova-canvas-v1:0", Operation: "InvokeModel", LatencyMs: 900,
		Outcome: ledger.OutcomeSuccess, Priced: true, Units: 2, UnitKind: "image-premium-2048x2048", UnitCost: 160_000_000, Cost: 160_000_000}
	if diff := cmp.Diff(names(img), map[string]int64{"Invocations": 1, "InvocationLatency": 900, "OutputImageCount": 2,
		"InputTokenCount": 0, "OutputTokenCount": 0, "Cost": 160_000_000, "EstimatedTPMQuotaUsage": 0}); diff != "" {
		t.Errorf("image call (-got +want):\n%s", diff)
	}
	// A record standing for 40 calls counts 40 invocations, errors or
	// throttles; its tokens and cost are already the calls' sums.
	many := base
	many.Calls, many.Outcome = 40, ledger.OutcomeServerError
	if diff := cmp.Diff(names(many), map[string]int64{"Invocations": 40, "InvocationLatency": 50, "InvocationServerErrors": 40,
		"InputTokenCount": 10, "OutputTokenCount": 20, "CacheReadInputTokens": 3, "Cost": 1500,
		"EstimatedTPMQuotaUsage": 10 + 20}); diff != "" {
		t.Errorf("40 failed calls (-got +want):\n%s", diff)
	}
	manyThr := thr
	manyThr.Calls = 40
	if diff := cmp.Diff(names(manyThr), map[string]int64{"InvocationThrottles": 40}); diff != "" {
		t.Errorf("40 throttled calls (-got +want):\n%s", diff)
	}
	if got := metrics.DimensionValue(ledger.Record{ModelID: "m"}); got != "m" {
		t.Errorf("DimensionValue of a direct call = %q", got)
	}
	for in, want := range map[string]string{
		"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa":  "aaaaaaaaaaaa",
		"arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0": "anthropic.claude-3-haiku-20240307-v1:0",
		"us.anthropic.claude-3-haiku-20240307-v1:0":                                          "us.anthropic.claude-3-haiku-20240307-v1:0",
		"arn:nonsense": "arn:nonsense",
	} {
		if got := metrics.NormalizeModelID(in); got != want {
			t.Errorf("NormalizeModelID(%q) = %q, want %q", in, got, want)
		}
	}
}

// clock is a settable clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time      { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) set(t time.Time)     { c.mu.Lock(); c.t = t; c.mu.Unlock() }
func (c *clock) add(d time.Duration) { c.set(c.now().Add(d)) }

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func rec(i int, at time.Time) ledger.Record {
	r := ledger.Record{RequestID: fmt.Sprintf("req-%06d", i), Time: at, Account: "111111111111", Region: "us-east-1",
		ProfileID: "aaaaaaaaaaaa", ProfileARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa",
		ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Operation: "Converse", InputTokens: int64(100 + i), OutputTokens: int64(i % 50),
		LatencyMs: int64(20 + i%300), Outcome: ledger.OutcomeSuccess, Cost: money.Amount(1000 * (i + 1)), Priced: true}
	if i%7 == 0 {
		r.ProfileID, r.ProfileARN = "", "" // a direct call
	}
	if i%11 == 0 {
		r.Outcome, r.InputTokens, r.OutputTokens, r.Cost = ledger.OutcomeThrottled, 0, 0, 0
	}
	return r
}

// sums adds up what the ledger says for records in [from, to) under dim
// ("" = all).
func ledgerSums(recs []ledger.Record, dim string, from, to time.Time) (calls, input int64, cost money.Amount) {
	for _, r := range recs {
		if r.Time.Before(from) || !r.Time.Before(to) || (dim != "" && metrics.DimensionValue(r) != dim) {
			continue
		}
		if r.Outcome != ledger.OutcomeThrottled {
			calls++
		}
		input += r.InputTokens
		cost += r.Cost
	}
	return
}

func openDB(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	return db
}

func sumOf(t *testing.T, r *metrics.Registry, key metrics.Key, from, to time.Time, period time.Duration) float64 {
	t.Helper()
	ps, err := r.Query(t.Context(), key, from, to, period)
	if err != nil {
		t.Fatal(err)
	}
	var total float64
	for _, p := range ps {
		v, _ := p.Stats.Value("Sum", 1)
		total += v
	}
	return total
}

// TestRegistryMatchesLedger feeds records over three hours, flushing and
// letting buckets leave memory as time passes, then checks every query
// (minute and hour buckets, memory and store) against the ledger; then
// reopens the registry as after a crash and checks again.
func TestRegistryMatchesLedger(t *testing.T) {
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db := openDB(t, path)
	defer func() { db.Close() }()
	clk := &clock{t: t0}
	reg, err := metrics.Open(t.Context(), metrics.Config{Store: db, Records: db, Now: clk.now, Memory: 40 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	var recs []ledger.Record
	for i := range 600 {
		at := t0.Add(time.Duration(i) * 18 * time.Second) // 3 hours
		clk.set(at.Add(time.Second))
		r := rec(i, at)
		recs = append(recs, r)
		if err := db.AppendRecords(t.Context(), []ledger.Record{r}); err != nil {
			t.Fatal(err)
		}
		reg.Add(r)
		if i%40 == 0 {
			if err := reg.Flush(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	}
	// A late record: a long call that started 2 hours ago, below the
	// memory floor.
	late := rec(9999, t0.Add(50*time.Minute+5*time.Second))
	recs = append(recs, late)
	if err := db.AppendRecords(t.Context(), []ledger.Record{late}); err != nil {
		t.Fatal(err)
	}
	reg.Add(late)

	check := func(t *testing.T, reg *metrics.Registry) {
		for _, dim := range []string{"aaaaaaaaaaaa", "anthropic.claude-3-haiku-20240307-v1:0", ""} {
			for _, win := range []struct {
				from, to time.Time
				period   time.Duration
			}{
				{t0, t0.Add(3 * time.Hour), time.Minute},
				{t0, t0.Add(3 * time.Hour), time.Hour},
				{t0.Add(45 * time.Minute), t0.Add(95 * time.Minute), 5 * time.Minute},
				{t0.Add(2*time.Hour + 30*time.Minute), t0.Add(3 * time.Hour), time.Minute},
				{t0.Add(time.Hour), t0.Add(2 * time.Hour), time.Hour},
			} {
				name := fmt.Sprintf("%s/%s-%s/%s", dim, win.from.Format("15:04"), win.to.Format("15:04"), win.period)
				calls, input, cost := ledgerSums(recs, dim, win.from, win.to)
				key := func(m string) metrics.Key { return metrics.Key{Account: "111111111111", Metric: m, ModelID: dim} }
				if got := sumOf(t, reg, key(metrics.Invocations), win.from, win.to, win.period); got != float64(calls) {
					t.Errorf("%s: Invocations sum %v, ledger %d", name, got, calls)
				}
				if got := sumOf(t, reg, key(metrics.InputTokenCount), win.from, win.to, win.period); got != float64(input) {
					t.Errorf("%s: InputTokenCount sum %v, ledger %d", name, got, input)
				}
				if got := sumOf(t, reg, key(metrics.Cost), win.from, win.to, win.period); got != float64(cost) {
					t.Errorf("%s: Cost sum %v nano-USD, ledger %d", name, got, cost)
				}
			}
		}
	}
	t.Run("live", func(t *testing.T) { check(t, reg) })
	if err := reg.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Run("flushed", func(t *testing.T) { check(t, reg) })

	// More records after the last flush, then a "crash": the registry is
	// dropped without flushing and rebuilt from the ledger.
	for i := 600; i < 620; i++ {
		r := rec(i, t0.Add(3*time.Hour+time.Duration(i-600)*time.Second))
		recs = append(recs, r)
		if err := db.AppendRecords(t.Context(), []ledger.Record{r}); err != nil {
			t.Fatal(err)
		}
		reg.Add(r)
	}
	db.Close()
	db = openDB(t, path)
	clk.add(time.Minute)
	reg2, err := metrics.Open(t.Context(), metrics.Config{Store: db, Records: db, Now: clk.now, Memory: 40 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	t.Run("rebuilt", func(t *testing.T) { check(t, reg2) })
	if err := reg2.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	clk.add(2 * time.Hour) // everything leaves memory
	if err := reg2.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	t.Run("stored", func(t *testing.T) { check(t, reg2) })
	if n := sumOf(t, reg2, metrics.Key{Account: "111111111111", Metric: metrics.Invocations}, t0.Add(3*time.Hour), t0.Add(4*time.Hour), time.Hour); n != 18 {
		t.Errorf("invocations after the crash point = %v, want 18 (20 calls, 2 throttled)", n)
	}
	keys, err := reg2.Series(t.Context(), "111111111111", t0)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 3*7 { // 7 metrics (no cache, TTFT or errors) x 3 ModelId values
		t.Errorf("Series = %d keys, want 21: %v", len(keys), keys)
	}
}

func TestRegistryPrune(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "tollgate.db"))
	defer db.Close()
	clk := &clock{t: t0}
	reg, err := metrics.Open(t.Context(), metrics.Config{Store: db, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	reg.Add(rec(1, t0))
	if err := reg.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	key := metrics.Key{Account: "111111111111", Metric: metrics.Invocations, ModelID: "aaaaaaaaaaaa"}
	clk.add(16 * 24 * time.Hour)
	if err := reg.Flush(t.Context()); err != nil {
		t.Fatal(err)
	}
	if err := reg.Prune(t.Context()); err != nil {
		t.Fatal(err)
	}
	if n := sumOf(t, reg, key, t0, t0.Add(time.Hour), time.Minute); n != 0 {
		t.Errorf("minute data after 16 days = %v, want pruned", n)
	}
	if n := sumOf(t, reg, key, t0, t0.Add(time.Hour), time.Hour); n != 1 {
		t.Errorf("hour data after 16 days = %v, want kept", n)
	}
}
