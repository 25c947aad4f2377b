package cloudwatchapi_test

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

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/cloudwatchapi"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

var t0 = time.Date(2026, 5, 4, 9, 0, 0, 0, time.UTC)

func newHandler(t *testing.T) *cloudwatchapi.Handler {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	now := func() time.Time { return t0.Add(time.Hour) }
	reg, err := metrics.Open(t.Context(), metrics.Config{Store: db, Now: now})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		reg.Add(ledger.Record{Account: "111111111111", ProfileID: "aaaaaaaaaaaa", ModelID: "m", Time: t0.Add(time.Duration(i) * time.Minute),
			Outcome: ledger.OutcomeSuccess, LatencyMs: int64(10 * (i + 1)), InputTokens: 5, Cost: 1_500_000_000, Priced: true})
	}
	svc, err := alarm.NewService(t.Context(), alarm.Config{Store: db, Now: now, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	return cloudwatchapi.New(reg, svc, cloudwatchapi.Options{Region: "us-east-1", Now: now})
}

// call serves one operation with a body, as the server would after
// authenticating account 111111111111.
func call(h *cloudwatchapi.Handler, proto, op string, body []byte) *httptest.ResponseRecorder {
	info := &awsproto.RequestInfo{Body: body, Identity: principal.Identity{Principal: &principal.Principal{Account: "111111111111"}}}
	r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body)).WithContext(awsproto.WithInfo(context.Background(), info))
	w := httptest.NewRecorder()
	svc := h.Service()
	if proto == "cbor" {
		svc.Serve(w, r, awsproto.RPCv2CBOR, op)
	} else {
		svc.Serve(w, r, awsproto.AWSJSON10, op)
	}
	return w
}

func TestCBORShapes(t *testing.T) {
	h := newHandler(t)
	in := cbor.Map{
		"StartTime": &cbor.Tag{ID: 1, Value: cbor.Float64(float64(t0.Unix()))},
		"EndTime":   &cbor.Tag{ID: 1, Value: cbor.Uint(uint64(t0.Add(time.Hour).Unix()))},
		"MetricDataQueries": cbor.List{cbor.Map{"Id": cbor.String("m1"), "MetricStat": cbor.Map{
			"Metric": cbor.Map{"Namespace": cbor.String("AWS/Bedrock"), "MetricName": cbor.String("Cost"),
				"Dimensions": cbor.List{cbor.Map{"Name": cbor.String("ModelId"), "Value": cbor.String("aaaaaaaaaaaa")}}},
			"Period": cbor.Uint(60), "Stat": cbor.String("Sum")}}},
		"ScanBy": cbor.String("TimestampAscending"),
	}
	w := call(h, "cbor", "GetMetricData", cbor.Encode(in))
	if w.Code != 200 || w.Header().Get("Smithy-Protocol") != "rpc-v2-cbor" || w.Header().Get("Content-Type") != "application/cbor" {
		t.Fatalf("status %d, headers %v", w.Code, w.Header())
	}
	v, err := cbor.Decode(w.Body.Bytes())
	if err != nil {
		t.Fatal(err)
	}
	res := v.(cbor.Map)["MetricDataResults"].(cbor.List)[0].(cbor.Map)
	ts := res["Timestamps"].(cbor.List)
	vals := res["Values"].(cbor.List)
	if len(ts) != 3 || len(vals) != 3 {
		t.Fatalf("result %#v", res)
	}
	tag, ok := ts[0].(*cbor.Tag)
	if !ok || tag.ID != 1 {
		t.Fatalf("timestamp %#v, want tag 1", ts[0])
	}
	if f, ok := tag.Value.(cbor.Float64); !ok || float64(f) != float64(t0.Unix()) {
		t.Errorf("timestamp value %#v, want float64 %d", tag.Value, t0.Unix())
	}
	if f, ok := vals[0].(cbor.Float64); !ok || float64(f) != 1.5 {
		t.Errorf("value %#v, want float64 1.5 (USD)", vals[0])
	}
}

func TestJSONShapes(t *testing.T) {
	h := newHandler(t)
	body := `{"Namespace":"AWS/Bedrock","MetricName":"InvocationLatency","StartTime":` + jsonTime(t0) + `,"EndTime":` + jsonTime(t0.Add(time.Hour)) +
		`,"Period":3600,"Statistics":["Average","Maximum"],"Dimensions":[{"Name":"ModelId","Value":"arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa"}]}`
	w := call(h, "json", "GetMetricStatistics", []byte(body))
	if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-amz-json-1.0" {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	want := `{"Label":"InvocationLatency","Datapoints":[{"Timestamp":` + jsonTime(t0) + `,"Average":20,"Maximum":30,"Unit":"Milliseconds"}]}`
	if got := strings.TrimSpace(w.Body.String()); got != want {
		t.Errorf("body\n%s\nwant\n%s", got, want)
	}
}

func jsonTime(t time.Time) string { b, _ := json.Marshal(t.Unix()); return string(b) }

func TestErrors(t *testing.T) {
	h := newHandler(t)
	for _, tc := range []struct {
		name, op, body string
		status         int
		typ, query     string
	}{
		{"bad period", "GetMetricStatistics", `{"Namespace":"AWS/Bedrock","MetricName":"Invocations","StartTime":1,"EndTime":2,"Period":90,"Statistics":["Sum"]}`,
			400, "InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"both statistics", "GetMetricStatistics", `{"Namespace":"AWS/Bedrock","MetricName":"Invocations","StartTime":1,"EndTime":2,"Period":60,"Statistics":["Sum"],"ExtendedStatistics":["p9"]}`,
			400, "InvalidParameterCombinationException", "InvalidParameterCombination;Sender"},
		{"too many points", "GetMetricStatistics", `{"Namespace":"AWS/Bedrock","MetricName":"Invocations","StartTime":0,"EndTime":100000,"Period":60,"Statistics":["Sum"]}`,
			400, "InvalidParameterCombinationException", "InvalidParameterCombination;Sender"},
		{"math", "GetMetricData", `{"StartTime":1,"EndTime":2,"MetricDataQueries":[{"Id":"e1","Expression":"SUM(METRICS())"}]}`,
			400, "InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"bad id", "GetMetricData", `{"StartTime":1,"EndTime":2,"MetricDataQueries":[{"Id":"Upper","MetricStat":{}}]}`,
			400, "InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"bad token", "DescribeAlarms", `{"NextToken":"xyz"}`, 400, "InvalidNextToken", "InvalidNextToken;Sender"},
		{"missing alarm", "SetAlarmState", `{"AlarmName":"nope","StateValue":"OK","StateReason":"r"}`, 404, "ResourceNotFound", "ResourceNotFound;Sender"},
		{"bad reason data", "SetAlarmState", `{"AlarmName":"nope","StateValue":"OK","StateReason":"r","StateReasonData":"{"}`, 400, "InvalidFormatFault", "InvalidFormat;Sender"},
		{"missing threshold", "PutMetricAlarm", `{"AlarmName":"a"}`, 400, "MissingRequiredParameterException", "MissingParameter;Sender"},
		{"wrong type", "DeleteAlarms", `{"AlarmNames":"a"}`, 400, "InvalidParameterValueException", "InvalidParameterValue;Sender"},
		{"unknown op", "PutMetricData", `{}`, 400, "UnknownOperationException", "UnknownOperationException;Sender"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := call(h, "json", tc.op, []byte(tc.body))
			var body map[string]string
			_ = json.Unmarshal(w.Body.Bytes(), &body)
			if w.Code != tc.status || body["__type"] != tc.typ || w.Header().Get("X-Amzn-Query-Error") != tc.query || body["message"] == "" {
				t.Errorf("%d %v %s, want %d %s %s", w.Code, w.Header(), w.Body, tc.status, tc.typ, tc.query)
			}
		})
	}
	w := call(h, "cbor", "SetAlarmState", []byte{0xff})
	v, _ := cbor.Decode(w.Body.Bytes())
	if m, ok := v.(cbor.Map); w.Code != 400 || !ok || m["__type"] != cbor.String("com.amazonaws.cloudwatch#InvalidParameterValueException") {
		t.Errorf("malformed CBOR: %d %#v", w.Code, v)
	}
}

func TestPaginationAndListMetrics(t *testing.T) {
	h := newHandler(t)
	for _, n := range []string{"a", "b", "c"} {
		body := `{"AlarmName":"` + n + `","Namespace":"AWS/Bedrock","MetricName":"Invocations","Statistic":"Sum","Period":60,"EvaluationPeriods":1,"Threshold":1,"ComparisonOperator":"GreaterThanThreshold"}`
		if w := call(h, "json", "PutMetricAlarm", []byte(body)); w.Code != 200 || w.Body.String() != "{}" {
			t.Fatalf("PutMetricAlarm: %d %s", w.Code, w.Body)
		}
	}
	var names []string
	tok := ""
	for range 5 {
		body := `{"MaxRecords":2}`
		if tok != "" {
			body = `{"MaxRecords":2,"NextToken":"` + tok + `"}`
		}
		var out struct {
			MetricAlarms []struct{ AlarmName string }
			NextToken    string
		}
		if err := json.Unmarshal(call(h, "json", "DescribeAlarms", []byte(body)).Body.Bytes(), &out); err != nil {
			t.Fatal(err)
		}
		for _, a := range out.MetricAlarms {
			names = append(names, a.AlarmName)
		}
		if tok = out.NextToken; tok == "" {
			break
		}
	}
	if strings.Join(names, ",") != "a,b,c" {
		t.Errorf("paged DescribeAlarms = %v", names)
	}
	var lm struct {
		Metrics []struct {
			MetricName string
			Dimensions []struct{ Name, Value string }
		}
	}
	if err := json.Unmarshal(call(h, "json", "ListMetrics", []byte(`{"MetricName":"Cost"}`)).Body.Bytes(), &lm); err != nil {
		t.Fatal(err)
	}
	if len(lm.Metrics) != 2 || len(lm.Metrics[0].Dimensions) != 0 || lm.Metrics[1].Dimensions[0].Value != "aaaaaaaaaaaa" {
		t.Errorf("ListMetrics(Cost) = %+v, want the series across model ids and the profile's", lm.Metrics)
	}
	var hist struct {
		AlarmHistoryItems []struct{ AlarmName, HistoryItemType string }
		NextToken         string
	}
	if err := json.Unmarshal(call(h, "json", "DescribeAlarmHistory", []byte(`{"MaxRecords":2}`)).Body.Bytes(), &hist); err != nil {
		t.Fatal(err)
	}
	if len(hist.AlarmHistoryItems) != 2 || hist.NextToken == "" || hist.AlarmHistoryItems[0].HistoryItemType != "ConfigurationUpdate" {
		t.Errorf("DescribeAlarmHistory page = %+v", hist)
	}
}
