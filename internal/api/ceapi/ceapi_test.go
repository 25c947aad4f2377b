package ceapi_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/ceapi"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	mgmt   = "111111111111"
	linked = "222222222222"
)

var day0 = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

type memSource struct {
	rolls []ledger.Rollup
	calls int
}

func (m *memSource) CostRollups(_ context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	m.calls++
	var out []ledger.Rollup
	for _, r := range m.rolls {
		if !r.Hour.Before(from) && r.Hour.Before(to) && (accounts == nil || slices.Contains(accounts, r.Account)) {
			out = append(out, r)
		}
	}
	return out, nil
}

// newHandler serves three days of usage in two accounts: each hour, one
// call per account, tagged dept=claims in the management account and
// untagged in the linked one.
func newHandler(t *testing.T, pageSize int) *ceapi.Handler {
	t.Helper()
	var recs []ledger.Record
	for h := range 72 {
		for i, acct := range []string{mgmt, linked} {
			tg := tags.Set{}
			if acct == mgmt {
				tg["dept"] = "claims"
			}
			recs = append(recs, ledger.Record{
				RequestID: acct + time.Duration(h).String(), Time: day0.Add(time.Duration(h) * time.Hour), Account: acct,
				RegionServed: "us-east-1", ModelID: "amazon.nova-lite-v1:0", Operation: "Converse", Outcome: ledger.OutcomeSuccess,
				ProfileARN:  "arn:aws:bedrock:us-east-1:" + acct + ":application-inference-profile/abcdefghijk" + string(rune('0'+i)),
				InputTokens: 1000, OutputTokens: 100, InputCost: money.Micro, OutputCost: 2 * money.Micro, Cost: 3 * money.Micro,
				Priced: true, Tags: tg,
			})
		}
	}
	src := &memSource{rolls: costquery.RollupRecords(recs)}
	svc := costquery.NewService(src, nil, func() time.Time { return day0.AddDate(0, 0, 3).Add(time.Hour) })
	return ceapi.New(svc, ceapi.Options{Management: mgmt, PageSize: pageSize})
}

// call runs one operation as a caller of account.
func call(t *testing.T, h *ceapi.Handler, account, op string, in any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	info := &awsproto.RequestInfo{Body: body, Identity: principal.Identity{Principal: &principal.Principal{Account: account}}}
	r := httptest.NewRequest(http.MethodPost, "/", nil).WithContext(awsproto.WithInfo(context.Background(), info))
	w := httptest.NewRecorder()
	h.Service().Serve(w, r, awsproto.AWSJSON11, op)
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("%s: %v: %s", op, err, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", ct)
	}
	return w.Code, out
}

func usageInput(granularity string, groupBy ...map[string]string) map[string]any {
	in := map[string]any{
		"TimePeriod":  map[string]string{"Start": "2026-03-01", "End": "2026-03-04"},
		"Granularity": granularity,
		"Metrics":     []string{"UnblendedCost", "UsageQuantity"},
	}
	if len(groupBy) > 0 {
		in["GroupBy"] = groupBy
	}
	return in
}

func TestAccountScope(t *testing.T) {
	h := newHandler(t, 0)
	byAccount := map[string]string{"Type": "DIMENSION", "Key": "LINKED_ACCOUNT"}
	keys := func(out map[string]any) []string {
		var ks []string
		for _, r := range out["ResultsByTime"].([]any) {
			for _, g := range r.(map[string]any)["Groups"].([]any) {
				ks = append(ks, g.(map[string]any)["Keys"].([]any)[0].(string))
			}
		}
		return ks
	}
	_, out := call(t, h, mgmt, "GetCostAndUsage", usageInput("MONTHLY", byAccount))
	if diff := cmp.Diff(keys(out), []string{mgmt, linked}); diff != "" {
		t.Errorf("management account sees (-got +want):\n%s", diff)
	}
	if attrs := out["DimensionValueAttributes"].([]any); len(attrs) != 2 {
		t.Errorf("DimensionValueAttributes %v, want both accounts", attrs)
	}
	_, out = call(t, h, linked, "GetCostAndUsage", usageInput("MONTHLY", byAccount))
	if diff := cmp.Diff(keys(out), []string{linked}); diff != "" {
		t.Errorf("linked account sees (-got +want):\n%s", diff)
	}
	_, out = call(t, h, "333333333333", "GetCostAndUsage", usageInput("MONTHLY", byAccount))
	if got := keys(out); len(got) != 0 {
		t.Errorf("an account without usage sees %v", got)
	}
}

func TestShapes(t *testing.T) {
	h := newHandler(t, 0)
	code, out := call(t, h, mgmt, "GetCostAndUsage", usageInput("DAILY"))
	if code != 200 {
		t.Fatalf("status %d: %v", code, out)
	}
	want := map[string]any{
		"TimePeriod": map[string]any{"Start": "2026-03-01", "End": "2026-03-02"},
		"Total": map[string]any{
			"UnblendedCost": map[string]any{"Amount": "0.000144", "Unit": "USD"}, // 48 calls x 3 micro-dollars
			"UsageQuantity": map[string]any{"Amount": "52800", "Unit": "N/A"},
		},
		"Groups":    []any{},
		"Estimated": false,
	}
	if diff := cmp.Diff(out["ResultsByTime"].([]any)[0], any(want)); diff != "" {
		t.Errorf("ungrouped day (-got +want):\n%s", diff)
	}
	if _, ok := out["GroupDefinitions"]; ok {
		t.Error("GroupDefinitions without GroupBy")
	}
	_, out = call(t, h, mgmt, "GetCostAndUsage", usageInput("HOURLY", map[string]string{"Type": "TAG", "Key": "dept"}))
	first := out["ResultsByTime"].([]any)[0].(map[string]any)
	wantFirst := map[string]any{
		"TimePeriod": map[string]any{"Start": "2026-03-01T00:00:00Z", "End": "2026-03-01T01:00:00Z"},
		"Total":      map[string]any{},
		"Groups": []any{
			map[string]any{"Keys": []any{"dept$"}, "Metrics": map[string]any{
				"UnblendedCost": map[string]any{"Amount": "0.000003", "Unit": "USD"}, "UsageQuantity": map[string]any{"Amount": "1100", "Unit": "N/A"}}},
			map[string]any{"Keys": []any{"dept$claims"}, "Metrics": map[string]any{
				"UnblendedCost": map[string]any{"Amount": "0.000003", "Unit": "USD"}, "UsageQuantity": map[string]any{"Amount": "1100", "Unit": "N/A"}}},
		},
		"Estimated": false,
	}
	if diff := cmp.Diff(any(first), any(wantFirst)); diff != "" {
		t.Errorf("grouped hour (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(out["GroupDefinitions"], any([]any{map[string]any{"Type": "TAG", "Key": "dept"}})); diff != "" {
		t.Errorf("GroupDefinitions (-got +want):\n%s", diff)
	}
}

func TestPaging(t *testing.T) {
	h := newHandler(t, 5)
	in := usageInput("HOURLY", map[string]string{"Type": "DIMENSION", "Key": "RESOURCE_ID"}, map[string]string{"Type": "DIMENSION", "Key": "USAGE_TYPE"})
	// 72 hours x 2 resources x 2 usage types = 288 groups, 5 a page.
	seen := map[string]bool{}
	pages := 0
	for {
		code, out := call(t, h, mgmt, "GetCostAndUsage", in)
		if code != 200 {
			t.Fatalf("page %d: %d %v", pages, code, out)
		}
		pages++
		n := 0
		for _, r := range out["ResultsByTime"].([]any) {
			rm := r.(map[string]any)
			for _, g := range rm["Groups"].([]any) {
				k := rm["TimePeriod"].(map[string]any)["Start"].(string) + strings.Join(strings.Fields(toString(g.(map[string]any)["Keys"])), ",")
				if seen[k] {
					t.Fatalf("group %s on two pages", k)
				}
				seen[k] = true
				n++
			}
		}
		if n > 5 {
			t.Fatalf("page of %d groups, want at most 5", n)
		}
		tok, ok := out["NextPageToken"].(string)
		if !ok {
			break
		}
		in["NextPageToken"] = tok
	}
	if len(seen) != 288 || pages != 58 {
		t.Errorf("%d groups in %d pages, want 288 in 58", len(seen), pages)
	}

	// Values page too.
	dv := map[string]any{"TimePeriod": map[string]string{"Start": "2026-03-01", "End": "2026-03-04"}, "Dimension": "USAGE_TYPE"}
	h2 := newHandler(t, 1)
	_, out := call(t, h2, mgmt, "GetDimensionValues", dv)
	if out["ReturnSize"].(float64) != 1 || out["TotalSize"].(float64) != 2 || out["NextPageToken"] == nil {
		t.Errorf("first values page %v", out)
	}
	tok := out["NextPageToken"]
	dv["NextPageToken"] = tok
	_, out = call(t, h2, mgmt, "GetDimensionValues", dv)
	if out["ReturnSize"].(float64) != 1 || out["NextPageToken"] != nil {
		t.Errorf("last values page %v", out)
	}
	// The token belongs to that request.
	dv["Dimension"] = "REGION"
	if code, out := call(t, h2, mgmt, "GetDimensionValues", dv); code != 400 || out["__type"] != "RequestChangedException" {
		t.Errorf("changed request: %d %v", code, out)
	}
	if code, out := call(t, h2, linked, "GetDimensionValues", map[string]any{"TimePeriod": dv["TimePeriod"], "Dimension": "USAGE_TYPE",
		"NextPageToken": tok}); code != 400 || out["__type"] != "RequestChangedException" {
		t.Errorf("another caller's token: %d %v", code, out)
	}
}

func toString(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

func TestErrors(t *testing.T) {
	h := newHandler(t, 0)
	for _, tc := range []struct {
		name, op string
		in       any
		code     string
	}{
		{"unknown operation", "GetAnomalies", map[string]any{}, "UnknownOperationException"},
		{"missing time period", "GetCostAndUsage", map[string]any{"Granularity": "DAILY", "Metrics": []string{"UnblendedCost"}}, "ValidationException"},
		{"missing metrics", "GetCostAndUsage", map[string]any{"TimePeriod": map[string]string{"Start": "2026-03-01", "End": "2026-03-02"}, "Granularity": "DAILY"}, "ValidationException"},
		{"wrong type", "GetCostAndUsage", map[string]any{"Granularity": 7}, "ValidationException"},
		{"bad token", "GetCostAndUsage", func() map[string]any {
			in := usageInput("DAILY")
			in["NextPageToken"] = "!!"
			return in
		}(), "InvalidNextTokenException"},
		{"with resources needs a filter", "GetCostAndUsageWithResources", usageInput("DAILY"), "ValidationException"},
		{"reservations context", "GetDimensionValues", map[string]any{"TimePeriod": map[string]string{"Start": "2026-03-01", "End": "2026-03-02"},
			"Dimension": "REGION", "Context": "RESERVATIONS"}, "ValidationException"},
		{"sort with search", "GetTags", map[string]any{"TimePeriod": map[string]string{"Start": "2026-03-01", "End": "2026-03-02"},
			"SearchString": "d", "SortBy": []map[string]string{{"Key": "UnblendedCost"}}}, "ValidationException"},
		{"forecast without history", "GetCostForecast", map[string]any{"TimePeriod": map[string]string{"Start": "2026-03-04", "End": "2026-03-06"},
			"Granularity": "DAILY", "Metric": "UNBLENDED_COST", "Filter": map[string]any{"Tags": map[string]any{"Key": "dept", "Values": []string{"none"}}}},
			"DataUnavailableException"},
		{"forecast metric", "GetCostForecast", map[string]any{"TimePeriod": map[string]string{"Start": "2026-03-04", "End": "2026-03-06"},
			"Granularity": "DAILY", "Metric": "UnblendedCost"}, "ValidationException"},
		{"deep filter", "GetCostAndUsage", func() map[string]any {
			in := usageInput("DAILY")
			var f any = map[string]any{"Tags": map[string]any{"Key": "a", "Values": []string{"b"}}}
			for range 40 {
				f = map[string]any{"Not": f}
			}
			in["Filter"] = f
			return in
		}(), "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := call(t, h, mgmt, tc.op, tc.in)
			if code != 400 || out["__type"] != tc.code || out["message"] == "" || out["Message"] != out["message"] {
				t.Errorf("%d %v, want 400 %s with a message", code, out, tc.code)
			}
		})
	}
}

func TestForecastShape(t *testing.T) {
	h := newHandler(t, 0)
	code, out := call(t, h, mgmt, "GetCostForecast", map[string]any{
		"TimePeriod": map[string]string{"Start": "2026-03-04", "End": "2026-03-06"}, "Granularity": "DAILY", "Metric": "UNBLENDED_COST"})
	if code != 200 {
		t.Fatalf("%d %v", code, out)
	}
	// Flat history of 48 calls a day at 3 micro-dollars.
	want := map[string]any{
		"Total": map[string]any{"Amount": "0.000288", "Unit": "USD"},
		"ForecastResultsByTime": []any{
			map[string]any{"TimePeriod": map[string]any{"Start": "2026-03-04", "End": "2026-03-05"}, "MeanValue": "0.000144",
				"PredictionIntervalLowerBound": "0.000144", "PredictionIntervalUpperBound": "0.000144"},
			map[string]any{"TimePeriod": map[string]any{"Start": "2026-03-05", "End": "2026-03-06"}, "MeanValue": "0.000144",
				"PredictionIntervalLowerBound": "0.000144", "PredictionIntervalUpperBound": "0.000144"},
		},
	}
	if diff := cmp.Diff(any(out), any(want)); diff != "" {
		t.Errorf("(-got +want):\n%s", diff)
	}
}

func TestOtherOperations(t *testing.T) {
	svc := costquery.NewService(&memSource{}, nil, nil)
	for _, tc := range []struct {
		name   string
		opts   ceapi.Options
		status int
	}{
		{"with anomalies", ceapi.Options{Anomalies: ceapi.NewAnomalyHandler(anomaly.NewService(nil, nil))}, http.StatusOK},
		{"without", ceapi.Options{}, http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/", nil)
			w := httptest.NewRecorder()
			ceapi.New(svc, tc.opts).Service().Serve(w, r, awsproto.AWSJSON11, "CreateAnomalyMonitor")
			if tc.status == http.StatusBadRequest && !strings.Contains(w.Body.String(), "UnknownOperationException") {
				t.Errorf("status %d: %s, want UnknownOperationException", w.Code, w.Body)
			}
			if tc.status == http.StatusOK && strings.Contains(w.Body.String(), "UnknownOperationException") {
				t.Errorf("status %d: %s, want the anomaly operation served", w.Code, w.Body)
			}
		})
	}
}
