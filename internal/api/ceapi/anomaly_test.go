package ceapi_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/ceapi"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

var anomalyNow = time.Date(2026, 3, 10, 12, 30, 0, 0, time.UTC)

func newAnomalyHandler(t *testing.T) (*ceapi.AnomalyHandler, *sqlite.DB) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	svc := anomaly.NewService(db, func() time.Time { return anomalyNow })
	return ceapi.NewAnomalyHandler(svc), db
}

// callAnomaly runs one operation as a caller of account and decodes the
// answer with numbers kept exact.
func callAnomaly(t *testing.T, h *ceapi.AnomalyHandler, account, op string, in any) (int, map[string]any) {
	t.Helper()
	body, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	info := &awsproto.RequestInfo{Body: body, Identity: principal.Identity{Principal: &principal.Principal{Account: account}}}
	r := httptest.NewRequest(http.MethodPost, "/", nil).WithContext(awsproto.WithInfo(context.Background(), info))
	w := httptest.NewRecorder()
	api := ceapi.New(costquery.NewService(&memSource{}, nil, nil), ceapi.Options{Anomalies: h}).Service()
	api.Serve(w, r, awsproto.AWSJSON11, op)
	var out map[string]any
	dec := json.NewDecoder(bytes.NewReader(w.Body.Bytes()))
	dec.UseNumber()
	if err := dec.Decode(&out); err != nil {
		t.Fatalf("%s: %v: %s", op, err, w.Body.String())
	}
	if ct := w.Header().Get("Content-Type"); ct != "application/x-amz-json-1.1" {
		t.Errorf("Content-Type %q", ct)
	}
	return w.Code, out
}

func mustCall(t *testing.T, h *ceapi.AnomalyHandler, op string, in any) map[string]any {
	t.Helper()
	code, out := callAnomaly(t, h, mgmt, op, in)
	if code != 200 {
		t.Fatalf("%s: %d %v", op, code, out)
	}
	return out
}

func tagsSpec(key string, values ...string) map[string]any {
	v := map[string]any{"Key": key}
	if len(values) > 0 {
		v["Values"] = values
	}
	return map[string]any{"Tags": v}
}

func TestAnomalyMonitorsWire(t *testing.T) {
	h, _ := newAnomalyHandler(t)
	dim := mustCall(t, h, "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{
		"MonitorName": "by dept", "MonitorType": "DIMENSIONAL", "MonitorDimension": "TAG", "MonitorSpecification": tagsSpec("dept"),
	}, "ResourceTags": []map[string]string{{"Key": "team", "Value": "finance"}}})["MonitorArn"].(string)
	custom := mustCall(t, h, "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{
		"MonitorName": "chat", "MonitorType": "CUSTOM", "MonitorSpecification": tagsSpec("app", "chat_app", "claims_chatbot"),
	}})["MonitorArn"].(string)
	accounts := mustCall(t, h, "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{
		"MonitorName": "accounts", "MonitorType": "CUSTOM",
		"MonitorSpecification": map[string]any{"Dimensions": map[string]any{"Key": "LINKED_ACCOUNT", "Values": []string{linked}}},
	}})["MonitorArn"].(string)
	if !strings.HasPrefix(dim, "arn:aws:ce::"+mgmt+":anomalymonitor/") {
		t.Errorf("MonitorArn %q", dim)
	}

	out := mustCall(t, h, "GetAnomalyMonitors", map[string]any{"MonitorArnList": []string{custom, dim, accounts}})
	want := []any{
		map[string]any{"MonitorArn": custom, "MonitorName": "chat", "MonitorType": "CUSTOM",
			"MonitorSpecification": map[string]any{"Tags": map[string]any{"Key": "app", "Values": []any{"chat_app", "claims_chatbot"}}},
			"CreationDate":         "2026-03-10T12:30:00Z", "LastUpdatedDate": "2026-03-10T12:30:00Z", "DimensionalValueCount": json.Number("0")},
		map[string]any{"MonitorArn": dim, "MonitorName": "by dept", "MonitorType": "DIMENSIONAL", "MonitorDimension": "TAG",
			"MonitorSpecification": map[string]any{"Tags": map[string]any{"Key": "dept"}},
			"CreationDate":         "2026-03-10T12:30:00Z", "LastUpdatedDate": "2026-03-10T12:30:00Z", "DimensionalValueCount": json.Number("0")},
		map[string]any{"MonitorArn": accounts, "MonitorName": "accounts", "MonitorType": "CUSTOM",
			"MonitorSpecification": map[string]any{"Dimensions": map[string]any{"Key": "LINKED_ACCOUNT", "Values": []any{linked}}},
			"CreationDate":         "2026-03-10T12:30:00Z", "LastUpdatedDate": "2026-03-10T12:30:00Z", "DimensionalValueCount": json.Number("0")},
	}
	if diff := cmp.Diff(out["AnomalyMonitors"], any(want)); diff != "" {
		t.Errorf("GetAnomalyMonitors (-got +want):\n%s", diff)
	}

	// Pages of one: each monitor once.
	var seen []string
	var tok any
	for range 5 {
		in := map[string]any{"MaxResults": 1}
		if tok != nil {
			in["NextPageToken"] = tok
		}
		out := mustCall(t, h, "GetAnomalyMonitors", in)
		for _, m := range out["AnomalyMonitors"].([]any) {
			seen = append(seen, m.(map[string]any)["MonitorArn"].(string))
		}
		if tok = out["NextPageToken"]; tok == nil {
			break
		}
	}
	// Created in the same millisecond: ordered by ARN.
	if diff := cmp.Diff(seen, []string{dim, custom, accounts}, cmpopts.SortSlices(func(a, b string) bool { return a < b })); diff != "" {
		t.Errorf("paged monitors (-got +want):\n%s", diff)
	}

	// Another account sees none of them.
	if _, out := callAnomaly(t, h, linked, "GetAnomalyMonitors", map[string]any{}); len(out["AnomalyMonitors"].([]any)) != 0 {
		t.Errorf("another account sees %v", out["AnomalyMonitors"])
	}
	mustCall(t, h, "UpdateAnomalyMonitor", map[string]any{"MonitorArn": dim, "MonitorName": "departments"})
	mustCall(t, h, "DeleteAnomalyMonitor", map[string]any{"MonitorArn": accounts})

	for _, tc := range []struct {
		name, op string
		in       any
		code     string
	}{
		{"unknown monitor", "GetAnomalyMonitors", map[string]any{"MonitorArnList": []string{accounts}}, "UnknownMonitorException"},
		{"delete twice", "DeleteAnomalyMonitor", map[string]any{"MonitorArn": accounts}, "UnknownMonitorException"},
		{"rename another account's", "UpdateAnomalyMonitor", map[string]any{"MonitorArn": "arn:aws:ce::" + linked + ":anomalymonitor/x", "MonitorName": "n"}, "UnknownMonitorException"},
		{"combined specification", "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{"MonitorName": "x", "MonitorType": "CUSTOM",
			"MonitorSpecification": map[string]any{"And": []any{tagsSpec("a", "b"), tagsSpec("c", "d")}}}}, "ValidationException"},
		{"cost category", "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{"MonitorName": "x", "MonitorType": "CUSTOM",
			"MonitorSpecification": map[string]any{"CostCategories": map[string]any{"Key": "c", "Values": []string{"v"}}}}}, "ValidationException"},
		{"eleven values", "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{"MonitorName": "x", "MonitorType": "CUSTOM",
			"MonitorSpecification": tagsSpec("app", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10", "11")}}, "ValidationException"},
		{"tags for a service monitor", "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{"MonitorName": "x",
			"MonitorType": "DIMENSIONAL", "MonitorDimension": "SERVICE", "MonitorSpecification": tagsSpec("dept")}}, "ValidationException"},
		{"reserved resource tag", "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{"MonitorName": "x",
			"MonitorType": "DIMENSIONAL", "MonitorDimension": "LINKED_ACCOUNT"}, "ResourceTags": []map[string]string{{"Key": "aws:x", "Value": "v"}}}, "ValidationException"},
		{"wrong type", "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": "x"}, "ValidationException"},
		{"bad token", "GetAnomalyMonitors", map[string]any{"NextPageToken": "garbage"}, "InvalidNextTokenException"},
		{"unknown operation", "GetReservationCoverage", map[string]any{}, "UnknownOperationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := callAnomaly(t, h, mgmt, tc.op, tc.in)
			if code != 400 || out["__type"] != tc.code {
				t.Errorf("%d %v, want 400 %s", code, out, tc.code)
			}
		})
	}
}

func TestAnomalySubscriptionsWire(t *testing.T) {
	h, _ := newAnomalyHandler(t)
	mon := mustCall(t, h, "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{
		"MonitorName": "all", "MonitorType": "DIMENSIONAL", "MonitorDimension": "SERVICE"}})["MonitorArn"].(string)
	both := map[string]any{"And": []any{
		map[string]any{"Dimensions": map[string]any{"Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "MatchOptions": []string{"GREATER_THAN_OR_EQUAL"}, "Values": []string{"100"}}},
		map[string]any{"Dimensions": map[string]any{"Key": "ANOMALY_TOTAL_IMPACT_PERCENTAGE", "MatchOptions": []string{"GREATER_THAN_OR_EQUAL"}, "Values": []string{"12.5"}}},
	}}
	pager := mustCall(t, h, "CreateAnomalySubscription", map[string]any{"AnomalySubscription": map[string]any{
		"SubscriptionName": "pager", "MonitorArnList": []string{mon}, "Frequency": "IMMEDIATE",
		"Subscribers":         []map[string]string{{"Type": "SNS", "Address": "https://hooks.example.com/a"}},
		"ThresholdExpression": both,
	}})["SubscriptionArn"].(string)
	legacy := mustCall(t, h, "CreateAnomalySubscription", map[string]any{"AnomalySubscription": map[string]any{
		"SubscriptionName": "finance", "MonitorArnList": []string{mon}, "Frequency": "DAILY",
		"Subscribers": []map[string]string{{"Type": "EMAIL", "Address": "finance@example.com"}}, "Threshold": 250,
	}})["SubscriptionArn"].(string)

	out := mustCall(t, h, "GetAnomalySubscriptions", map[string]any{"SubscriptionArnList": []string{pager, legacy}})
	want := []any{
		map[string]any{"SubscriptionArn": pager, "AccountId": mgmt, "SubscriptionName": "pager", "MonitorArnList": []any{mon},
			"Subscribers": []any{map[string]any{"Address": "https://hooks.example.com/a", "Type": "SNS", "Status": "CONFIRMED"}},
			"Frequency":   "IMMEDIATE", "ThresholdExpression": map[string]any{"And": []any{
				map[string]any{"Dimensions": map[string]any{"Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "MatchOptions": []any{"GREATER_THAN_OR_EQUAL"}, "Values": []any{"100"}}},
				map[string]any{"Dimensions": map[string]any{"Key": "ANOMALY_TOTAL_IMPACT_PERCENTAGE", "MatchOptions": []any{"GREATER_THAN_OR_EQUAL"}, "Values": []any{"12.5"}}},
			}}},
		map[string]any{"SubscriptionArn": legacy, "AccountId": mgmt, "SubscriptionName": "finance", "MonitorArnList": []any{mon},
			"Subscribers": []any{map[string]any{"Address": "finance@example.com", "Type": "EMAIL", "Status": "CONFIRMED"}},
			"Frequency":   "DAILY", "Threshold": json.Number("250"), "ThresholdExpression": map[string]any{
				"Dimensions": map[string]any{"Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "MatchOptions": []any{"GREATER_THAN_OR_EQUAL"}, "Values": []any{"250"}}}},
	}
	if diff := cmp.Diff(out["AnomalySubscriptions"], any(want)); diff != "" {
		t.Errorf("GetAnomalySubscriptions (-got +want):\n%s", diff)
	}
	mustCall(t, h, "UpdateAnomalySubscription", map[string]any{"SubscriptionArn": legacy, "Frequency": "WEEKLY", "ThresholdExpression": both})
	out = mustCall(t, h, "GetAnomalySubscriptions", map[string]any{"MonitorArn": mon, "SubscriptionArnList": []string{legacy}})
	got := out["AnomalySubscriptions"].([]any)[0].(map[string]any)
	if got["Frequency"] != "WEEKLY" || got["Threshold"] != nil {
		t.Errorf("after update: %v", got)
	}

	sub := func(extra map[string]any) map[string]any {
		s := map[string]any{"SubscriptionName": "x", "MonitorArnList": []string{mon}, "Frequency": "DAILY",
			"Subscribers": []map[string]string{{"Type": "EMAIL", "Address": "a@example.com"}}, "Threshold": 1}
		for k, v := range extra {
			if v == nil {
				delete(s, k)
			} else {
				s[k] = v
			}
		}
		return map[string]any{"AnomalySubscription": s}
	}
	for _, tc := range []struct {
		name, op string
		in       any
		code     string
	}{
		{"both thresholds", "CreateAnomalySubscription", sub(map[string]any{"ThresholdExpression": both}), "ValidationException"},
		{"no threshold", "CreateAnomalySubscription", sub(map[string]any{"Threshold": nil}), "ValidationException"},
		{"match option", "CreateAnomalySubscription", sub(map[string]any{"Threshold": nil, "ThresholdExpression": map[string]any{"Dimensions": map[string]any{
			"Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "MatchOptions": []string{"EQUALS"}, "Values": []string{"1"}}}}), "ValidationException"},
		{"not a number", "CreateAnomalySubscription", sub(map[string]any{"Threshold": nil, "ThresholdExpression": map[string]any{"Dimensions": map[string]any{
			"Key": "ANOMALY_TOTAL_IMPACT_ABSOLUTE", "MatchOptions": []string{"GREATER_THAN_OR_EQUAL"}, "Values": []string{"lots"}}}}), "ValidationException"},
		{"not", "CreateAnomalySubscription", sub(map[string]any{"Threshold": nil, "ThresholdExpression": map[string]any{"Not": both}}), "ValidationException"},
		{"unknown monitor", "CreateAnomalySubscription", sub(map[string]any{"MonitorArnList": []string{"arn:aws:ce::" + mgmt + ":anomalymonitor/x"}}), "UnknownMonitorException"},
		{"another account", "CreateAnomalySubscription", sub(map[string]any{"AccountId": linked}), "ValidationException"},
		{"unknown subscription", "GetAnomalySubscriptions", map[string]any{"SubscriptionArnList": []string{"arn:aws:ce::" + mgmt + ":anomalysubscription/x"}}, "UnknownSubscriptionException"},
		{"update unknown", "UpdateAnomalySubscription", map[string]any{"SubscriptionArn": "arn:aws:ce::" + mgmt + ":anomalysubscription/x", "Frequency": "DAILY"}, "UnknownSubscriptionException"},
		{"delete without arn", "DeleteAnomalySubscription", map[string]any{}, "ValidationException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := callAnomaly(t, h, mgmt, tc.op, tc.in)
			if code != 400 || out["__type"] != tc.code {
				t.Errorf("%d %v, want 400 %s", code, out, tc.code)
			}
		})
	}
	mustCall(t, h, "DeleteAnomalySubscription", map[string]any{"SubscriptionArn": pager})
	if code, out := callAnomaly(t, h, mgmt, "DeleteAnomalySubscription", map[string]any{"SubscriptionArn": pager}); out["__type"] != "UnknownSubscriptionException" {
		t.Errorf("second delete: %d %v", code, out)
	}
}

func TestGetAnomaliesWire(t *testing.T) {
	h, db := newAnomalyHandler(t)
	mon := mustCall(t, h, "CreateAnomalyMonitor", map[string]any{"AnomalyMonitor": map[string]any{
		"MonitorName": "all", "MonitorType": "DIMENSIONAL", "MonitorDimension": "SERVICE"}})["MonitorArn"].(string)
	start := time.Date(2026, 3, 9, 14, 0, 0, 0, time.UTC)
	profile := "arn:aws:bedrock:us-east-1:" + mgmt + ":application-inference-profile/salesprod001"
	if err := db.PutAnomalies(t.Context(), []anomaly.Anomaly{{
		ID: "11111111-2222-5333-8444-555555555555", Account: mgmt, MonitorARN: mon, DimensionValue: anomaly.ServiceName,
		Start: start, End: start.Add(2 * time.Hour), MaxScore: 12.3456, CurrentScore: 7.891,
		Actual: 123_456_789_012, Expected: 23_456_789_012, MaxImpact: 50_000_000_001,
		RootCauses: []anomaly.RootCause{{Account: mgmt, Region: "us-east-1", UsageType: "USE1-Claude3Haiku-output-tokens",
			ProfileARN: profile, ModelID: "anthropic.claude-3-haiku-20240307-v1:0", PrincipalID: "root-" + mgmt, Contribution: 100 * money.Dollar}},
		DetectedAt: anomalyNow, UpdatedAt: anomalyNow,
	}, {
		ID: "new-value", Account: mgmt, MonitorARN: mon, DimensionValue: anomaly.ServiceName, Start: start.AddDate(0, 0, -3),
		End: start.AddDate(0, 0, -3), Actual: money.Dollar, DetectedAt: anomalyNow, UpdatedAt: anomalyNow,
	}}); err != nil {
		t.Fatal(err)
	}
	out := mustCall(t, h, "GetAnomalies", map[string]any{"DateInterval": map[string]string{"StartDate": "2026-03-09", "EndDate": "2026-03-09"}})
	want := []any{map[string]any{
		"AnomalyId": "11111111-2222-5333-8444-555555555555", "AnomalyStartDate": "2026-03-09T14:00:00Z", "AnomalyEndDate": "2026-03-09T16:00:00Z",
		"DimensionValue": "Amazon Bedrock", "MonitorArn": mon,
		"AnomalyScore": map[string]any{"MaxScore": json.Number("12.35"), "CurrentScore": json.Number("7.89")},
		"Impact": map[string]any{"MaxImpact": json.Number("50.000000001"), "TotalActualSpend": json.Number("123.456789012"),
			"TotalExpectedSpend": json.Number("23.456789012"), "TotalImpact": json.Number("100"), "TotalImpactPercentage": json.Number("426.32")},
		"RootCauses": []any{map[string]any{"Service": "Amazon Bedrock", "Region": "us-east-1", "LinkedAccount": mgmt, "LinkedAccountName": mgmt,
			"UsageType": "USE1-Claude3Haiku-output-tokens", "Impact": map[string]any{"Contribution": json.Number("100")},
			"ProfileArn": profile, "ModelId": "anthropic.claude-3-haiku-20240307-v1:0", "PrincipalId": "root-" + mgmt}},
	}}
	if diff := cmp.Diff(out["Anomalies"], any(want)); diff != "" {
		t.Errorf("GetAnomalies (-got +want):\n%s", diff)
	}
	// No expected spend: no percentage.
	out = mustCall(t, h, "GetAnomalies", map[string]any{"DateInterval": map[string]string{"StartDate": "2026-03-01"},
		"TotalImpact": map[string]any{"NumericOperator": "LESS_THAN", "StartValue": 10}})
	as := out["Anomalies"].([]any)
	if len(as) != 1 || as[0].(map[string]any)["Impact"].(map[string]any)["TotalImpactPercentage"] != nil {
		t.Errorf("small anomaly: %v", as)
	}
	mustCall(t, h, "ProvideAnomalyFeedback", map[string]any{"AnomalyId": "new-value", "Feedback": "PLANNED_ACTIVITY"})
	out = mustCall(t, h, "GetAnomalies", map[string]any{"DateInterval": map[string]string{"StartDate": "2026-03-01"}, "Feedback": "PLANNED_ACTIVITY"})
	if as := out["Anomalies"].([]any); len(as) != 1 || as[0].(map[string]any)["Feedback"] != "PLANNED_ACTIVITY" {
		t.Errorf("by feedback: %v", as)
	}
	for _, tc := range []struct {
		name, op string
		in       any
		code     string
	}{
		{"no interval", "GetAnomalies", map[string]any{}, "ValidationException"},
		{"bad date", "GetAnomalies", map[string]any{"DateInterval": map[string]string{"StartDate": "March"}}, "ValidationException"},
		{"between without end", "GetAnomalies", map[string]any{"DateInterval": map[string]string{"StartDate": "2026-03-01"},
			"TotalImpact": map[string]any{"NumericOperator": "BETWEEN", "StartValue": 1}}, "ValidationException"},
		{"bad feedback", "ProvideAnomalyFeedback", map[string]any{"AnomalyId": "new-value", "Feedback": "MAYBE"}, "ValidationException"},
		{"unknown anomaly", "ProvideAnomalyFeedback", map[string]any{"AnomalyId": "nope", "Feedback": "YES"}, "ResourceNotFoundException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, out := callAnomaly(t, h, mgmt, tc.op, tc.in)
			if code != 400 || out["__type"] != tc.code {
				t.Errorf("%d %v, want 400 %s", code, out, tc.code)
			}
		})
	}
	// Another account sees nothing, and cannot give feedback.
	if _, out := callAnomaly(t, h, linked, "GetAnomalies", map[string]any{"DateInterval": map[string]string{"StartDate": "2026-03-01"}}); len(out["Anomalies"].([]any)) != 0 {
		t.Errorf("another account sees %v", out["Anomalies"])
	}
}
