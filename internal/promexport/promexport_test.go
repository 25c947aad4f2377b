package promexport_test

import (
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/promexport"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

func TestExporter(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := promexport.New(reg, promexport.Options{
		TagLabels:     []string{"dept", "cost-center"},
		MaxOperations: 3,
		Alarms: func() []promexport.AlarmStatus {
			return []promexport.AlarmStatus{{Account: "111111111111", Name: "rpm", State: "ALARM"}, {Account: "111111111111", Name: "cost", State: "OK"}}
		},
		Budgets: func() []promexport.BudgetStatus {
			return []promexport.BudgetStatus{{Account: "111111111111", Name: "sales", Limit: 10_000e9, Spent: 2_500e9}}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	base := ledger.Record{Account: "111111111111", ProfileID: "aaaaaaaaaaaa", ModelID: "m1", Operation: "ConverseStream",
		InputTokens: 100, OutputTokens: 20, LatencyMs: 1500, TTFTMs: 200, Outcome: ledger.OutcomeSuccess, Cost: 250_000_000, Priced: true,
		Tags: tags.Set{"dept": "sales", "cost-center": "cc1", "secret": "never-a-label"}}
	e.ObserveRecord(base)
	e.ObserveRecord(base)
	thr := base
	thr.Outcome, thr.ErrorCode, thr.InputTokens, thr.OutputTokens, thr.Cost = ledger.OutcomeThrottled, "ThrottlingException", 0, 0, 0
	thr.Calls = 3 // a record standing for three throttled calls counts three
	e.ObserveRecord(thr)
	for _, op := range []string{"Converse", "ConverseStream", "InvokeModel", "Bogus1", "Bogus2"} {
		e.ObserveRequest("bedrock-runtime", op, 200, 10*time.Millisecond)
	}
	e.ObserveRequest("", "", 403, time.Millisecond)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	exposition := string(body)
	for _, tc := range []struct {
		name, text string
	}{
		{"invocations", `
# HELP tollgate_model_invocations_total Model calls by account, inference profile id (empty for direct calls), model and outcome (success, client_error, server_error, throttled, cancelled).
# TYPE tollgate_model_invocations_total counter
tollgate_model_invocations_total{account="111111111111",model="m1",outcome="success",profile="aaaaaaaaaaaa",tag_cost_center="cc1",tag_dept="sales"} 2
tollgate_model_invocations_total{account="111111111111",model="m1",outcome="throttled",profile="aaaaaaaaaaaa",tag_cost_center="cc1",tag_dept="sales"} 3
`},
		{"tokens and cost", `
# HELP tollgate_model_cost_usd_total Cost of model calls in USD (priced calls).
# TYPE tollgate_model_cost_usd_total counter
tollgate_model_cost_usd_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",tag_cost_center="cc1",tag_dept="sales"} 0.5
# HELP tollgate_model_tokens_total Tokens by type (input, output, cache_read, cache_write).
# TYPE tollgate_model_tokens_total counter
tollgate_model_tokens_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",tag_cost_center="cc1",tag_dept="sales",type="input"} 200
tollgate_model_tokens_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",tag_cost_center="cc1",tag_dept="sales",type="output"} 40
`},
		{"throttles and errors", `
# HELP tollgate_model_errors_total Failed model calls by AWS error code.
# TYPE tollgate_model_errors_total counter
tollgate_model_errors_total{account="111111111111",code="ThrottlingException",model="m1",profile="aaaaaaaaaaaa"} 3
# HELP tollgate_model_throttles_total Model calls refused with ThrottlingException.
# TYPE tollgate_model_throttles_total counter
tollgate_model_throttles_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa"} 3
`},
		{"requests bounded", `
# HELP tollgate_http_requests_total API requests by service, operation and HTTP status code.
# TYPE tollgate_http_requests_total counter
tollgate_http_requests_total{code="200",operation="Converse",service="bedrock-runtime"} 1
tollgate_http_requests_total{code="200",operation="ConverseStream",service="bedrock-runtime"} 1
tollgate_http_requests_total{code="200",operation="InvokeModel",service="bedrock-runtime"} 1
tollgate_http_requests_total{code="200",operation="other",service="bedrock-runtime"} 2
tollgate_http_requests_total{code="403",operation="other",service="none"} 1
`},
		{"alarms", `
# HELP tollgate_alarm_state 1 for the state each alarm is in, 0 for the others.
# TYPE tollgate_alarm_state gauge
tollgate_alarm_state{account="111111111111",alarm="cost",state="ALARM"} 0
tollgate_alarm_state{account="111111111111",alarm="cost",state="INSUFFICIENT_DATA"} 0
tollgate_alarm_state{account="111111111111",alarm="cost",state="OK"} 1
tollgate_alarm_state{account="111111111111",alarm="rpm",state="ALARM"} 1
tollgate_alarm_state{account="111111111111",alarm="rpm",state="INSUFFICIENT_DATA"} 0
tollgate_alarm_state{account="111111111111",alarm="rpm",state="OK"} 0
# HELP tollgate_alarms Alarms by state.
# TYPE tollgate_alarms gauge
tollgate_alarms{state="ALARM"} 1
tollgate_alarms{state="INSUFFICIENT_DATA"} 0
tollgate_alarms{state="OK"} 1
`},
		{"budgets", `
# HELP tollgate_budget_remaining_usd Limit minus spend (negative when over budget) in USD.
# TYPE tollgate_budget_remaining_usd gauge
tollgate_budget_remaining_usd{account="111111111111",budget="sales"} 7500
# HELP tollgate_budget_spend_usd Actual spend of the budget's current period in USD.
# TYPE tollgate_budget_spend_usd gauge
tollgate_budget_spend_usd{account="111111111111",budget="sales"} 2500
`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, line := range strings.Split(strings.TrimSpace(tc.text), "\n") {
				if !strings.Contains(exposition, line+"\n") {
					t.Errorf("/metrics lacks %q", line)
				}
			}
		})
	}
	for _, bad := range []string{"never-a-label", "tag_secret", "Bogus"} {
		if strings.Contains(exposition, bad) {
			t.Errorf("/metrics holds %q", bad)
		}
	}
	if !strings.Contains(exposition, `tollgate_model_time_to_first_token_seconds_count{account="111111111111",model="m1",profile="aaaaaaaaaaaa"} 2`) {
		t.Error("/metrics lacks the TTFT histogram")
	}
}

// TestExactCostCounter: the nano-dollar counter's value is the exact sum
// of the records' integer costs, labelled with the profile's name and the
// allow-listed tags only.
func TestExactCostCounter(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := promexport.New(reg, promexport.Options{TagLabels: []string{"dept"},
		ProfileName: func(account, id string) string { return "sales-chat" }})
	if err != nil {
		t.Fatal(err)
	}
	r := ledger.Record{Account: "111111111111", ProfileID: "aaaaaaaaaaaa", ModelID: "m1", Outcome: ledger.OutcomeSuccess, Priced: true,
		Tags: tags.Set{"dept": "sales", "team": "support"}}
	// 0.1 + 0.2 dollars in float64 is not 0.3; in nano-dollars it is.
	for _, c := range []int64{100_000_001, 200_000_002, 1 << 40, 7} {
		r.Cost = money.Amount(c)
		e.ObserveRecord(r)
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	want := `tollgate_cost_nanodollars_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",profile_name="sales-chat",tag_dept="sales"} 1.099811627786e+12` // 1099811627786 exactly
	if got := grepLine(rec.Body.String(), "tollgate_cost_nanodollars_total{"); got != want {
		t.Errorf("cost counter:\n%s\nwant\n%s", got, want)
	}
}

func grepLine(s, prefix string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.HasPrefix(l, prefix) {
			return l
		}
	}
	return ""
}

// BenchmarkObserve is the metrics update of one metered call: its record
// (invocation, latency, tokens, cost) and its request, with two tag
// labels. It should not allocate once the series exist.
func BenchmarkObserve(b *testing.B) {
	e, err := promexport.New(prometheus.NewRegistry(), promexport.Options{TagLabels: []string{"dept", "cost-center"},
		ProfileName: func(account, id string) string { return "claims" }})
	if err != nil {
		b.Fatal(err)
	}
	r := ledger.Record{Account: "111111111111", ProfileID: "aaaaaaaaaaaa", ModelID: "m1", Operation: "Converse",
		InputTokens: 100, OutputTokens: 20, LatencyMs: 150, Outcome: ledger.OutcomeSuccess, Cost: 250_000_000, Priced: true,
		Tags: tags.Set{"dept": "sales", "cost-center": "cc1"}}
	b.Run("profiles=1", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			e.ObserveRecord(r)
			e.ObserveRequest("bedrock-runtime", "Converse", 200, 10*time.Millisecond)
		}
	})
	// More busy profiles than the series cache holds: most calls miss it.
	ids := make([]string, 20_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%011d", i)
	}
	for _, id := range ids { // the series exist, as in a long-running gateway
		r.ProfileID = id
		e.ObserveRecord(r)
	}
	b.Run("profiles=20000", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.ProfileID = ids[i%len(ids)]
			i++
			e.ObserveRecord(r)
			e.ObserveRequest("bedrock-runtime", "Converse", 200, 10*time.Millisecond)
		}
	})
	// The same with the default profile limit: most calls are counted
	// in the overflow series.
	limited, err := promexport.New(prometheus.NewRegistry(), promexport.Options{TagLabels: []string{"dept", "cost-center"},
		ProfileName: func(account, id string) string { return "claims" }, MaxProfiles: 2000})
	if err != nil {
		b.Fatal(err)
	}
	for _, id := range ids {
		r.ProfileID = id
		limited.ObserveRecord(r)
	}
	b.Run("profiles=20000,max=2000", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			r.ProfileID = ids[i%len(ids)]
			i++
			limited.ObserveRecord(r)
			limited.ObserveRequest("bedrock-runtime", "Converse", 200, 10*time.Millisecond)
		}
	})
}

// TestObserveSeriesCache checks that successful calls, counted through the
// exporter's series cache, give the exposition the vectors would: a token
// kind gets its series only once a call has such tokens, a renamed profile
// counts its cost under the new name, and a full cache loses
// no count.
func TestObserveSeriesCache(t *testing.T) {
	reg := prometheus.NewRegistry()
	name := "claims"
	e, err := promexport.New(reg, promexport.Options{TagLabels: []string{"dept"},
		ProfileName: func(account, id string) string { return name }})
	if err != nil {
		t.Fatal(err)
	}
	r := ledger.Record{Account: "111111111111", ProfileID: "aaaaaaaaaaaa", ModelID: "m1", Operation: "Converse",
		InputTokens: 10, OutputTokens: 2, LatencyMs: 150, Outcome: ledger.OutcomeSuccess, Cost: 1000, Priced: true,
		Tags: tags.Set{"dept": "sales"}}
	e.ObserveRecord(r)
	cached := r
	cached.CacheReadTokens = 5
	e.ObserveRecord(cached)
	name = "claims-v2"
	e.ObserveRecord(r)
	for i := range 5000 { // more label sets than the cache holds
		other := r
		other.ProfileID = fmt.Sprintf("p%011d", i)
		e.ObserveRecord(other)
	}
	e.ObserveRecord(r)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	body, _ := io.ReadAll(rec.Body)
	exposition := string(body)
	for _, want := range []string{
		`tollgate_model_invocations_total{account="111111111111",model="m1",outcome="success",profile="aaaaaaaaaaaa",tag_dept="sales"} 4`,
		`tollgate_model_tokens_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",tag_dept="sales",type="input"} 40`,
		`tollgate_model_tokens_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",tag_dept="sales",type="cache_read"} 5`,
		`tollgate_cost_nanodollars_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",profile_name="claims",tag_dept="sales"} 2000`,
		`tollgate_cost_nanodollars_total{account="111111111111",model="m1",profile="aaaaaaaaaaaa",profile_name="claims-v2",tag_dept="sales"} 2000`,
		`tollgate_model_invocation_latency_seconds_count{account="111111111111",model="m1",profile="aaaaaaaaaaaa"} 4`,
		`tollgate_model_invocations_total{account="111111111111",model="m1",outcome="success",profile="p00000004999",tag_dept="sales"} 1`,
	} {
		if !strings.Contains(exposition, want+"\n") {
			t.Errorf("exposition lacks %s", want)
		}
	}
	for _, never := range []string{`type="cache_write"`, `tollgate_model_time_to_first_token_seconds_count{`, `tollgate_model_unpriced_calls_total{`} {
		if strings.Contains(exposition, never) {
			t.Errorf("exposition has a series no call updated: %s", never)
		}
	}
}

// BenchmarkExporterMemory reports the heap the exporter holds once N busy
// profiles have each made calls (a streamed, priced call with input and
// output tokens; every tenth profile also a throttled one), after a GC:
// heap-MB in all and B/own-profile, that divided by the profiles with
// series of their own, without a profile limit and with the default one.
// Run it with -benchtime 1x; the figures are memory, not time.
func BenchmarkExporterMemory(b *testing.B) {
	ids := make([]string, 100_000)
	for i := range ids {
		ids[i] = fmt.Sprintf("p%011d", i)
	}
	for _, tc := range []struct {
		name     string
		profiles int
		opts     promexport.Options
	}{
		{"profiles=10000,tags=0,max=none", 10_000, promexport.Options{}},
		{"profiles=10000,tags=2,max=none", 10_000, promexport.Options{TagLabels: []string{"dept", "team"}}},
		{"profiles=10000,tags=0,max=2000", 10_000, promexport.Options{MaxProfiles: 2000}},
		{"profiles=10000,tags=2,max=2000", 10_000, promexport.Options{TagLabels: []string{"dept", "team"}, MaxProfiles: 2000}},
		{"profiles=100000,tags=2,max=2000", 100_000, promexport.Options{TagLabels: []string{"dept", "team"}, MaxProfiles: 2000}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			var inuse, alloc float64
			for b.Loop() {
				b.StopTimer()
				before := heapAfterGC()
				b.StartTimer()
				opts := tc.opts
				opts.ProfileName = func(account, id string) string { return "app-" + id }
				e, err := promexport.New(prometheus.NewRegistry(), opts)
				if err != nil {
					b.Fatal(err)
				}
				for i, id := range ids[:tc.profiles] {
					r := ledger.Record{Account: "111111111111", ProfileID: id, ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Operation: "ConverseStream",
						InputTokens: 100, OutputTokens: 20, LatencyMs: 150, TTFTMs: 40, Outcome: ledger.OutcomeSuccess, Cost: 250_000, Priced: true,
						Tags: tags.Set{"dept": fmt.Sprintf("dept-%02d", i%10), "team": fmt.Sprintf("team-%03d", i%100)}}
					e.ObserveRecord(r)
					if i%10 == 0 {
						r.Outcome, r.ErrorCode, r.InputTokens, r.OutputTokens, r.Cost, r.TTFTMs = ledger.OutcomeThrottled, "ThrottlingException", 0, 0, 0, 0
						e.ObserveRecord(r)
					}
				}
				b.StopTimer()
				after := heapAfterGC()
				inuse = float64(after.HeapInuse) - float64(before.HeapInuse)
				alloc = float64(after.HeapAlloc) - float64(before.HeapAlloc)
				runtime.KeepAlive(e)
				b.StartTimer()
			}
			own := tc.profiles
			if tc.opts.MaxProfiles > 0 {
				own = min(own, tc.opts.MaxProfiles)
			}
			b.ReportMetric(inuse/(1<<20), "heap-MB")
			b.ReportMetric(alloc/float64(own), "B/own-profile")
		})
	}
}

// heapAfterGC returns the memory statistics after a full collection.
func heapAfterGC() runtime.MemStats {
	runtime.GC()
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m
}

// TestProfileLimit feeds the calls of more profiles than MaxProfiles, in
// two accounts, and checks that only the first MaxProfiles have series of
// their own, that the others' calls land in one overflow series per
// account and model with the tag labels left empty, that every total
// (calls, tokens, exact cost, errors, throttles) still adds up to what
// was fed, and that the limit is warned about once.
func TestProfileLimit(t *testing.T) {
	const limit, extra = 3, 5
	reg := prometheus.NewRegistry()
	var logs strings.Builder
	e, err := promexport.New(reg, promexport.Options{TagLabels: []string{"dept"}, MaxProfiles: limit,
		Logger:      slog.New(slog.NewTextHandler(&logs, nil)),
		ProfileName: func(account, id string) string { return "name-" + id }})
	if err != nil {
		t.Fatal(err)
	}
	var wantCalls, wantOverflow, wantTokens, wantCost, wantThrottles, wantErrors int64
	feed := func(r ledger.Record, overflow bool) {
		t.Helper()
		e.ObserveRecord(r)
		n := int64(r.CallCount())
		wantCalls += n
		wantTokens += r.InputTokens + r.OutputTokens
		if r.Priced {
			wantCost += int64(r.Cost)
		}
		if r.Outcome == ledger.OutcomeThrottled {
			wantThrottles += n
		}
		if r.ErrorCode != "" {
			wantErrors += n
		}
		if overflow {
			wantOverflow += n
		}
	}
	success := func(account, id string, i int) ledger.Record {
		return ledger.Record{Account: account, ProfileID: id, ModelID: "m1", Operation: "ConverseStream",
			InputTokens: int64(100 + i), OutputTokens: 20, LatencyMs: 150, TTFTMs: 40, Outcome: ledger.OutcomeSuccess,
			Cost: money.Amount(1_000_000_007 * (i + 1)), Priced: true, Tags: tags.Set{"dept": fmt.Sprintf("dept-%d", i)}}
	}
	accounts := []string{"111111111111", "222222222222"}
	for i := range limit + extra {
		account := accounts[i%2]
		id := fmt.Sprintf("p%011d", i)
		over := i >= limit
		r := success(account, id, i)
		feed(r, over)
		feed(r, over) // a second call: through the series cache
		thr := r
		thr.Outcome, thr.ErrorCode, thr.InputTokens, thr.OutputTokens, thr.Cost, thr.TTFTMs, thr.Calls = ledger.OutcomeThrottled, "ThrottlingException", 0, 0, 0, 0, 2
		feed(thr, over)
		failed := r
		failed.Outcome, failed.ErrorCode, failed.OutputTokens, failed.Cost, failed.Priced = ledger.OutcomeServerError, "ModelErrorException", 0, 0, false
		feed(failed, over)
	}
	// A profile that had its series before the limit keeps them, and a
	// direct call (no profile) is not counted against the limit.
	feed(success(accounts[0], fmt.Sprintf("p%011d", 0), 0), false)
	direct := success(accounts[1], "", 9)
	feed(direct, false)

	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	exposition := rec.Body.String()

	calls := samples(t, exposition, "tollgate_model_invocations_total")
	profiles := map[string]bool{}
	for labels := range calls {
		profiles[label(labels, "profile")] = true
	}
	if len(profiles) != limit+2 { // the first three, the overflow, direct calls
		t.Errorf("invocation series have %d profile labels, want %d: %v", len(profiles), limit+2, profiles)
	}
	for i := range limit + extra {
		if got, want := profiles[fmt.Sprintf("p%011d", i)], i < limit; got != want {
			t.Errorf("profile %d has series of its own: %v, want %v", i, got, want)
		}
	}
	for _, tc := range []struct {
		name, metric, profile string
		want                  int64
	}{
		{"calls", "tollgate_model_invocations_total", "", wantCalls},
		{"overflow calls", "tollgate_model_invocations_total", promexport.OverflowProfile, wantOverflow},
		{"tokens", "tollgate_model_tokens_total", "", wantTokens},
		{"exact cost", "tollgate_cost_nanodollars_total", "", wantCost},
		{"throttles", "tollgate_model_throttles_total", "", wantThrottles},
		{"errors", "tollgate_model_errors_total", "", wantErrors},
		{"latency observations", "tollgate_model_invocation_latency_seconds_count", "", wantCalls - wantThrottles},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var got float64
			for labels, v := range samples(t, exposition, tc.metric) {
				if tc.profile == "" || label(labels, "profile") == tc.profile {
					got += v
				}
			}
			if got != float64(tc.want) {
				t.Errorf("sum of %s = %v, want %d", tc.metric, got, tc.want)
			}
		})
	}
	for labels := range samples(t, exposition, "tollgate_cost_nanodollars_total") {
		if label(labels, "profile") == promexport.OverflowProfile {
			if got := label(labels, "profile_name"); got != promexport.OverflowProfile {
				t.Errorf("overflow cost series: profile_name %q", got)
			}
		}
	}
	overflowAccounts := map[string]bool{}
	for labels := range calls {
		if label(labels, "profile") == promexport.OverflowProfile {
			overflowAccounts[label(labels, "account")] = true
			if got := label(labels, "tag_dept"); got != "" {
				t.Errorf("overflow series %s keeps tag_dept=%q", labels, got)
			}
		}
	}
	if len(overflowAccounts) != 2 {
		t.Errorf("overflow series in accounts %v, want both", overflowAccounts)
	}
	for _, want := range []string{
		"tollgate_metrics_profiles " + strconv.Itoa(limit),
		"tollgate_metrics_max_profiles " + strconv.Itoa(limit),
		"tollgate_metrics_profile_overflow_calls_total " + strconv.FormatInt(wantOverflow, 10),
	} {
		if !strings.Contains(exposition, want+"\n") {
			t.Errorf("/metrics lacks %q", want)
		}
	}
	if n := strings.Count(logs.String(), "metrics_profile_limit_reached"); n != 1 {
		t.Errorf("the limit was logged %d times, want once:\n%s", n, logs.String())
	}
}

// TestProfileLimitUnbounded: with MaxProfiles 0 every profile has series
// of its own and the limit's gauges are absent.
func TestProfileLimitUnbounded(t *testing.T) {
	reg := prometheus.NewRegistry()
	e, err := promexport.New(reg, promexport.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		e.ObserveRecord(ledger.Record{Account: "111111111111", ProfileID: fmt.Sprintf("p%011d", i), ModelID: "m1", Outcome: ledger.OutcomeSuccess, LatencyMs: 1})
	}
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	if got := len(samples(t, rec.Body.String(), "tollgate_model_invocations_total")); got != 50 {
		t.Errorf("%d invocation series, want 50", got)
	}
	for _, never := range []string{`,profile="` + promexport.OverflowProfile, "tollgate_metrics_profiles ", "tollgate_metrics_max_profiles "} {
		if strings.Contains(rec.Body.String(), never) {
			t.Errorf("/metrics holds %q", never)
		}
	}
}

// samples returns the samples of metric in a text exposition, by their
// label string.
func samples(t *testing.T, exposition, metric string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	for _, l := range strings.Split(exposition, "\n") {
		rest, ok := strings.CutPrefix(l, metric+"{")
		if !ok {
			continue
		}
		labels, value, ok := strings.Cut(rest, "} ")
		if !ok {
			t.Fatalf("unparsed sample %q", l)
		}
		v, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("sample %q: %v", l, err)
		}
		out[labels] = v
	}
	return out
}

// label returns the value of key in a label string (`a="x",b="y"`).
func label(labels, key string) string {
	for _, kv := range strings.Split(labels, ",") {
		if v, ok := strings.CutPrefix(kv, key+`="`); ok {
			return strings.TrimSuffix(v, `"`)
		}
	}
	return ""
}

// TestProfileLimitConcurrent: goroutines calling for many profiles at
// once give exactly MaxProfiles of them series of their own, and lose no
// call (run it with -race).
func TestProfileLimitConcurrent(t *testing.T) {
	const limit, workers, perWorker, callsEach = 50, 8, 100, 3
	reg := prometheus.NewRegistry()
	e, err := promexport.New(reg, promexport.Options{MaxProfiles: limit})
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for w := range workers {
		wg.Go(func() {
			for c := range callsEach {
				for p := range perWorker {
					r := ledger.Record{Account: "111111111111", ProfileID: fmt.Sprintf("w%dp%09d", w, p), ModelID: "m1", LatencyMs: 5, Outcome: ledger.OutcomeSuccess}
					if c == 2 {
						r.Outcome, r.ErrorCode = ledger.OutcomeThrottled, "ThrottlingException"
					}
					e.ObserveRecord(r)
				}
			}
		})
	}
	wg.Wait()
	rec := httptest.NewRecorder()
	promhttp.HandlerFor(reg, promhttp.HandlerOpts{}).ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	own := map[string]bool{}
	var total float64
	for labels, v := range samples(t, rec.Body.String(), "tollgate_model_invocations_total") {
		total += v
		if p := label(labels, "profile"); p != promexport.OverflowProfile {
			own[p] = true
		}
	}
	if len(own) != limit {
		t.Errorf("%d profiles have series of their own, want %d", len(own), limit)
	}
	if want := float64(workers * perWorker * callsEach); total != want {
		t.Errorf("%v calls counted, want %v", total, want)
	}
}
