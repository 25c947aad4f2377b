package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch/schemas"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

const cwHaikuARN = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"

// contentTypes records the Content-Type of every request a client sends.
type contentTypes struct {
	mu   sync.Mutex
	seen map[string]bool
	next http.RoundTripper
}

func (c *contentTypes) RoundTrip(r *http.Request) (*http.Response, error) {
	c.mu.Lock()
	c.seen[r.Header.Get("Content-Type")] = true
	c.mu.Unlock()
	return c.next.RoundTrip(r)
}

// cloudWatchClients returns the official Go client twice: with its
// default protocol (Smithy RPC v2 CBOR) and with awsJson1_0, the protocol
// the JavaScript v3 client speaks, each checked to send what it should.
func (ts *testServer) cloudWatchClients(t *testing.T) map[string]*cloudwatch.Client {
	t.Helper()
	out := map[string]*cloudwatch.Client{}
	for name, want := range map[string]string{"cbor": "application/cbor", "json": "application/x-amz-json-1.0"} {
		ct := &contentTypes{seen: map[string]bool{}, next: http.DefaultTransport}
		out[name] = cloudwatch.NewFromConfig(ts.awsConfig(t), func(o *cloudwatch.Options) {
			o.HTTPClient = &http.Client{Transport: ct}
			if name == "json" {
				o.Protocol = awsjson.New10(schemas.GraniteServiceVersion20100801)
			}
		})
		t.Cleanup(func() {
			if !t.Failed() && !ct.seen[want] {
				t.Errorf("the %s client sent %v, never %s", name, ct.seen, want)
			}
		})
	}
	return out
}

// cwCall makes Converse calls through modelID.
func cwCall(t *testing.T, rc *bedrockruntime.Client, modelID string, n int, stream bool) {
	t.Helper()
	for range n {
		if stream {
			so, err := rc.ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(modelID), Messages: userText("stream a few words")})
			if err != nil {
				t.Fatal(err)
			}
			if sr := readConverseStream(so); sr.err != nil {
				t.Fatal(sr.err)
			}
			continue
		}
		if _, err := rc.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(modelID), Messages: userText("hello there")}); err != nil {
			t.Fatal(err)
		}
	}
}

// nearest is the exact nearest-rank percentile.
func nearest(vals []float64, p float64) float64 {
	s := slices.Clone(vals)
	slices.Sort(s)
	rank := int(math.Ceil(p / 100 * float64(len(s))))
	return s[min(max(rank, 1), len(s))-1]
}

// TestCloudWatchMetricsMatchLedger runs traffic through a profile (by ARN
// and id) and directly, then checks GetMetricData, GetMetricStatistics and
// ListMetrics, through both protocols of the official client, against
// sums and percentiles computed from the ledger.
func TestCloudWatchMetricsMatchLedger(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	type want struct {
		calls, input, output float64
		cost                 float64
		latency, ttft        []float64
	}
	var exp map[string]*want
	var profARN, profID string
	var start, end time.Time

	if !t.Run("traffic by profile ARN, by id and direct, as the ledger has it", func(t *testing.T) {
		profARN = createProfile(t, ts.bedrock(t), "claims-chat", cwHaikuARN, tagList("dept", "claims")...)
		profID = profARN[strings.LastIndex(profARN, "/")+1:]
		rc := ts.runtime(t)
		start = time.Now().Add(-time.Minute)
		cwCall(t, rc, profARN, 9, false)
		cwCall(t, rc, profID, 3, true)
		cwCall(t, rc, "anthropic.claude-3-haiku-20240307-v1:0", 4, false)
		end = time.Now().Add(2 * time.Minute)

		recs, err := ts.DB.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		exp = map[string]*want{profID: {}, "anthropic.claude-3-haiku-20240307-v1:0": {}, "": {}}
		for _, r := range recs {
			key := r.ProfileID
			if key == "" {
				key = r.ModelID
			}
			for _, k := range []string{key, ""} {
				w := exp[k]
				w.calls++
				w.input += float64(r.InputTokens)
				w.output += float64(r.OutputTokens)
				w.cost += float64(r.Cost) / 1e9
				w.latency = append(w.latency, float64(r.LatencyMs))
				if r.Operation == "ConverseStream" {
					w.ttft = append(w.ttft, float64(r.TTFTMs))
				}
			}
		}
		if len(recs) != 16 || exp[profID].calls != 12 || exp[""].calls != 16 {
			t.Fatalf("ledger has %d records (%v by profile), want 16 and 12", len(recs), exp[profID].calls)
		}
	}) {
		return
	}

	dims := func(v string) []cwtypes.Dimension {
		if v == "" {
			return nil
		}
		return []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(v)}}
	}
	for proto, cw := range ts.cloudWatchClients(t) {
		t.Run(proto, func(t *testing.T) {
			query := func(id, metric, dim, stat string) cwtypes.MetricDataQuery {
				return cwtypes.MetricDataQuery{Id: aws.String(id), MetricStat: &cwtypes.MetricStat{
					Metric: &cwtypes.Metric{Namespace: aws.String("AWS/Bedrock"), MetricName: aws.String(metric), Dimensions: dims(dim)},
					Period: aws.Int32(86400), Stat: aws.String(stat)}}
			}
			out, err := cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(start), EndTime: aws.Time(end),
				MetricDataQueries: []cwtypes.MetricDataQuery{
					query("byarn", "Invocations", profARN, "Sum"),
					query("byid", "Invocations", profID, "SampleCount"),
					query("input", "InputTokenCount", profID, "Sum"),
					query("output", "OutputTokenCount", profID, "Sum"),
					query("cost", "Cost", profID, "Sum"),
					query("direct", "Invocations", "anthropic.claude-3-haiku-20240307-v1:0", "Sum"),
					query("all", "Invocations", "", "Sum"),
					query("allinput", "InputTokenCount", "", "Sum"),
					query("p50", "InvocationLatency", profID, "p50"),
					query("p99", "InvocationLatency", profID, "p99"),
					query("maxlat", "InvocationLatency", profID, "Maximum"),
					query("avglat", "InvocationLatency", "", "Average"),
					query("ttft", "TimeToFirstToken", profID, "SampleCount"),
					query("nothing", "InvocationThrottles", profID, "Sum"),
				}})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]float64{}
			for _, r := range out.MetricDataResults {
				if r.StatusCode != cwtypes.StatusCodeComplete || len(r.Values) != len(r.Timestamps) || len(r.Values) > 1 {
					t.Errorf("%s: status %s, %d values, %d timestamps", aws.ToString(r.Id), r.StatusCode, len(r.Values), len(r.Timestamps))
				}
				if len(r.Values) == 1 {
					got[aws.ToString(r.Id)] = r.Values[0]
					if ts := r.Timestamps[0]; ts.After(end) || ts.Before(start.Add(-time.Minute)) || ts.Second() != 0 {
						t.Errorf("%s: timestamp %v outside [%v, %v] or not on a minute", aws.ToString(r.Id), ts, start, end)
					}
				}
			}
			p, d, all := exp[profID], exp["anthropic.claude-3-haiku-20240307-v1:0"], exp[""]
			var avg float64
			for _, v := range all.latency {
				avg += v / float64(len(all.latency))
			}
			for id, w := range map[string]float64{
				"byarn": p.calls, "byid": p.calls, "input": p.input, "output": p.output, "cost": p.cost,
				"direct": d.calls, "all": all.calls, "allinput": all.input,
				"p50": nearest(p.latency, 50), "p99": nearest(p.latency, 99), "maxlat": slices.Max(p.latency),
				"avglat": avg, "ttft": float64(len(p.ttft)),
			} {
				if math.Abs(got[id]-w) > 1e-9*math.Max(1, w) {
					t.Errorf("GetMetricData %s = %v, ledger says %v", id, got[id], w)
				}
			}
			if _, ok := got["nothing"]; ok {
				t.Errorf("InvocationThrottles has data without throttles")
			}

			// GetMetricStatistics over 1-minute periods adds up to the same.
			st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Bedrock"),
				MetricName: aws.String("InputTokenCount"), Dimensions: dims(profARN), StartTime: aws.Time(start), EndTime: aws.Time(end),
				Period: aws.Int32(60), Statistics: []cwtypes.Statistic{cwtypes.StatisticSum, cwtypes.StatisticSampleCount, cwtypes.StatisticMinimum}})
			if err != nil {
				t.Fatal(err)
			}
			var sum, n float64
			for _, dp := range st.Datapoints {
				sum += aws.ToFloat64(dp.Sum)
				n += aws.ToFloat64(dp.SampleCount)
				if dp.Unit != cwtypes.StandardUnitCount || dp.Minimum == nil || dp.Average != nil || dp.Timestamp == nil {
					t.Errorf("datapoint %+v", dp)
				}
			}
			if sum != p.input || n != p.calls || aws.ToString(st.Label) != "InputTokenCount" {
				t.Errorf("GetMetricStatistics: sum %v over %v samples (label %q), ledger %v over %v", sum, n, aws.ToString(st.Label), p.input, p.calls)
			}
			ext, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Bedrock"),
				MetricName: aws.String("InvocationLatency"), Dimensions: dims(profID), StartTime: aws.Time(start), EndTime: aws.Time(end),
				Period: aws.Int32(3600 * 24), ExtendedStatistics: []string{"p90", "p100"}})
			if err != nil {
				t.Fatal(err)
			}
			if len(ext.Datapoints) != 1 || ext.Datapoints[0].ExtendedStatistics["p90"] != nearest(p.latency, 90) ||
				ext.Datapoints[0].ExtendedStatistics["p100"] != slices.Max(p.latency) {
				t.Errorf("extended statistics %+v, want p90 %v p100 %v", ext.Datapoints, nearest(p.latency, 90), slices.Max(p.latency))
			}

			lm, err := cw.ListMetrics(ctx, &cloudwatch.ListMetricsInput{Namespace: aws.String("AWS/Bedrock"),
				Dimensions: []cwtypes.DimensionFilter{{Name: aws.String("ModelId"), Value: aws.String(profARN)}}})
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, m := range lm.Metrics {
				if len(m.Dimensions) != 1 || aws.ToString(m.Dimensions[0].Value) != profID {
					t.Errorf("ListMetrics returned %+v", m)
				}
				names = append(names, aws.ToString(m.MetricName))
			}
			slices.Sort(names)
			wantNames := []string{"Cost", "EstimatedTPMQuotaUsage", "InputTokenCount", "InvocationLatency", "Invocations", "OutputTokenCount", "QueueWait", "TimeToFirstToken"}
			if !slices.Equal(names, wantNames) {
				t.Errorf("ListMetrics = %v, want %v", names, wantNames)
			}

			// Errors carry CloudWatch's codes in both protocols.
			_, err = cw.GetMetricData(ctx, &cloudwatch.GetMetricDataInput{StartTime: aws.Time(end), EndTime: aws.Time(start),
				MetricDataQueries: []cwtypes.MetricDataQuery{query("q", "Invocations", "", "Sum")}})
			if code := errorCode(err); code != "InvalidParameterValue" {
				t.Errorf("GetMetricData with StartTime after EndTime: %v (code %q), want InvalidParameterValue", err, code)
			}
		})
	}
	t.Run("the series survive a restart", func(t *testing.T) {
		// The series survive a restart (flushed at Close, rebuilt at Open).
		dir := ts.Config.DataDir
		ts.stop()
		ts2 := startServer(t, dir, nil)
		cw := cloudwatch.NewFromConfig(ts2.awsConfig(t))
		st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Bedrock"),
			MetricName: aws.String("Invocations"), StartTime: aws.Time(start), EndTime: aws.Time(end), Period: aws.Int32(86400),
			Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Datapoints) != 1 || aws.ToFloat64(st.Datapoints[0].Sum) != 16 {
			t.Errorf("after a restart: %+v, want one datapoint of 16 invocations", st.Datapoints)
		}
	})
}

// hookServer receives webhooks.
type hookServer struct {
	*httptest.Server
	got chan hookCall
}

type hookCall struct {
	key  string
	body map[string]any
}

func newHookServer(t *testing.T) *hookServer {
	h := &hookServer{got: make(chan hookCall, 16)}
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// The outbox's webhook payload carries the CloudWatch-style
		// notification as its data.
		var payload struct {
			ID, Kind, Subject, Text string
			Data                    map[string]any
		}
		data, _ := io.ReadAll(r.Body)
		if err := json.Unmarshal(data, &payload); err != nil {
			t.Errorf("webhook body %q: %v", data, err)
		}
		if payload.Kind != "alarm.state" || payload.ID != r.Header.Get("X-Tollgate-Idempotency-Key") ||
			!strings.HasPrefix(r.Header.Get("X-Tollgate-Signature"), "sha256=") || !strings.Contains(payload.Subject, `"sales-chat-invocation-limit"`) {
			t.Errorf("webhook delivery %s: headers %v", data, r.Header)
		}
		h.got <- hookCall{key: payload.ID, body: payload.Data}
	}))
	t.Cleanup(h.Close)
	return h
}

func (h *hookServer) next(t *testing.T) hookCall {
	t.Helper()
	select {
	case c := <-h.got:
		return c
	case <-time.After(10 * time.Second):
		t.Fatal("no webhook within 10s")
	}
	return hookCall{}
}

// TestCloudWatchAlarmFiresWebhookAndThrottles creates the invocation
// limit alarm on an application profile ARN with one PutMetricAlarm, runs
// traffic past it, and checks the transition: webhook, Tollgate throttle,
// state and history through the API, /metrics and the CLI.
func TestCloudWatchAlarmFiresWebhookAndThrottles(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", allowLoopback)
	ctx := t.Context()
	hook := newHookServer(t)
	profARN := createProfile(t, ts.bedrock(t), "sales-chat", cwHaikuARN, tagList("dept", "sales")...)
	profID := profARN[strings.LastIndex(profARN, "/")+1:]
	clients := ts.cloudWatchClients(t)
	cw, cwJSON := clients["cbor"], clients["json"]
	rc := ts.runtime(t)

	if !t.Run("PutMetricAlarm on the profile ARN, in INSUFFICIENT_DATA", func(t *testing.T) {
		// The invocation limit alarm on an application inference profile ARN: one call.
		_, err := cw.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("sales-chat-invocation-limit"), Namespace: aws.String("AWS/Bedrock"), MetricName: aws.String("Invocations"), Dimensions: []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(profARN)}}, Statistic: cwtypes.StatisticSum, Period: aws.Int32(300), EvaluationPeriods: aws.Int32(1), Threshold: aws.Float64(4), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold, TreatMissingData: aws.String("notBreaching"), AlarmActions: []string{hook.URL + "/alarm", "tollgate:throttle"}})
		if err != nil {
			t.Fatal(err)
		}
		desc, err := cwJSON.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNames: []string{"sales-chat-invocation-limit"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(desc.MetricAlarms) != 1 || desc.MetricAlarms[0].StateValue != cwtypes.StateValueInsufficientData ||
			aws.ToFloat64(desc.MetricAlarms[0].Threshold) != 4 || !aws.ToBool(desc.MetricAlarms[0].ActionsEnabled) ||
			aws.ToString(desc.MetricAlarms[0].AlarmArn) != "arn:aws:cloudwatch:us-east-1:123456789012:alarm:sales-chat-invocation-limit" {
			t.Fatalf("DescribeAlarms after PutMetricAlarm: %+v", desc.MetricAlarms)
		}
	}) {
		return
	}

	if !t.Run("traffic past the threshold fires the webhook", func(t *testing.T) {
		cwCall(t, rc, profARN, 5, false)
		cwCall(t, rc, "anthropic.claude-3-haiku-20240307-v1:0", 3, false) // not the profile's
		// The evaluator runs every minute on its own; drive it a minute on.
		if err := ts.Watch.Alarms.Evaluate(ctx, time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		call := hook.next(t)
		if call.body["NewStateValue"] != "ALARM" || call.body["OldStateValue"] != "INSUFFICIENT_DATA" ||
			call.body["AlarmName"] != "sales-chat-invocation-limit" || call.key == "" {
			t.Errorf("webhook %q: %v", call.key, call.body)
		}
		trig, _ := call.body["Trigger"].(map[string]any)
		if trig["MetricName"] != "Invocations" || trig["Threshold"] != 4.0 || !strings.Contains(mustMarshal(t, trig["Dimensions"]), profARN) {
			t.Errorf("webhook trigger %v", trig)
		}
	}) {
		return
	}

	if !t.Run("the throttle action refuses calls through the profile only", func(t *testing.T) {
		// The alarm's tollgate:throttle action now refuses calls through the
		// profile, and only those.
		_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profARN), Messages: userText("one more")})
		if code := errorCode(err); code != "ThrottlingException" {
			t.Errorf("call through the alarmed profile: %v (code %q), want ThrottlingException", err, code)
		}
		cwCall(t, rc, "anthropic.claude-3-haiku-20240307-v1:0", 1, false)
	}) {
		return
	}

	t.Run("state and history in both protocols", func(t *testing.T) {
		for proto, c := range clients {
			desc, err := c.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{StateValue: cwtypes.StateValueAlarm})
			if err != nil {
				t.Fatal(err)
			}
			if len(desc.MetricAlarms) != 1 || !strings.Contains(aws.ToString(desc.MetricAlarms[0].StateReason), "Threshold Crossed: 1 out of the last 1 datapoints [5.0") ||
				desc.MetricAlarms[0].StateUpdatedTimestamp == nil || desc.MetricAlarms[0].StateUpdatedTimestamp.Before(time.Now().Add(-time.Hour)) {
				t.Errorf("%s: DescribeAlarms(ALARM) = %+v", proto, desc.MetricAlarms)
			}
			forMetric, err := c.DescribeAlarmsForMetric(ctx, &cloudwatch.DescribeAlarmsForMetricInput{Namespace: aws.String("AWS/Bedrock"),
				MetricName: aws.String("Invocations"), Dimensions: []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(profID)}}})
			if err != nil || len(forMetric.MetricAlarms) != 1 {
				t.Errorf("%s: DescribeAlarmsForMetric(profile id) = %v, %v", proto, forMetric, err)
			}
			hist, err := c.DescribeAlarmHistory(ctx, &cloudwatch.DescribeAlarmHistoryInput{AlarmName: aws.String("sales-chat-invocation-limit"),
				ScanBy: cwtypes.ScanByTimestampAscending})
			if err != nil {
				t.Fatal(err)
			}
			var kinds []string
			for _, h := range hist.AlarmHistoryItems {
				kinds = append(kinds, string(h.HistoryItemType))
			}
			if want := []string{"ConfigurationUpdate", "StateUpdate", "Action", "Action"}; !slices.Equal(kinds, want) {
				t.Errorf("%s: history %v, want %v", proto, kinds, want)
			}
		}
	})

	t.Run("the metrics endpoint shows the calls and the alarm state", func(t *testing.T) {
		// /metrics shows the calls and the alarm state.
		resp, err := ts.getMetrics(t)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		for _, want := range []string{
			`tollgate_model_invocations_total{account="123456789012",model="anthropic.claude-3-haiku-20240307-v1:0",outcome="success",profile="` + profID + `"} 5`,
			`tollgate_model_invocations_total{account="123456789012",model="anthropic.claude-3-haiku-20240307-v1:0",outcome="throttled",profile="` + profID + `"} 1`,
			`tollgate_alarm_state{account="123456789012",alarm="sales-chat-invocation-limit",state="ALARM"} 1`,
			`tollgate_http_requests_total{code="200",operation="PutMetricAlarm",service="cloudwatch"} 1`,
		} {
			if !bytes.Contains(body, []byte(want)) {
				t.Errorf("/metrics lacks %s", want)
			}
		}
		// Each of the six calls above waited for its commit group:
		// at least one group, at most one per record, none failed.
		series := func(name string) float64 {
			m := regexp.MustCompile(`(?m)^` + name + ` (\S+)$`).FindSubmatch(body)
			if m == nil {
				t.Errorf("/metrics lacks %s", name)
				return -1
			}
			v, _ := strconv.ParseFloat(string(m[1]), 64)
			return v
		}
		records, commits := series("tollgate_ledger_committed_records_total"), series("tollgate_ledger_commit_duration_seconds_count")
		if records < 6 || commits < 1 || commits > records || series("tollgate_ledger_commit_errors_total") != 0 {
			t.Errorf("ledger commits: %v records in %v groups, want at least the 6 calls' in 1 to %v groups and no errors", records, commits, records)
		}
	})

	t.Run("the CLI shows the alarm", func(t *testing.T) {
		var out bytes.Buffer
		if err := run(ctx, []string{"alarms", "--data-dir", ts.Config.DataDir}, &out, io.Discard, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "sales-chat-invocation-limit  ALARM") || !strings.Contains(out.String(), "Sum(Invocations{ModelId="+profARN+"}) > 4 for 1 of 1 x 300s") {
			t.Errorf("tollgate alarms:\n%s", out.String())
		}
		out.Reset()
		if err := run(ctx, []string{"alarms", "history", "--data-dir", ts.Config.DataDir}, &out, io.Discard, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(out.String(), "Alarm updated from INSUFFICIENT_DATA to ALARM") {
			t.Errorf("tollgate alarms history:\n%s", out.String())
		}
	})

	if !t.Run("SetAlarmState and the actions switch", func(t *testing.T) {
		// SetAlarmState to OK lifts the throttle until the next evaluation.
		if _, err := cwJSON.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("sales-chat-invocation-limit"),
			StateValue: cwtypes.StateValueOk, StateReason: aws.String("manual reset")}); err != nil {
			t.Fatal(err)
		}
		cwCall(t, rc, profARN, 1, false)
		if _, err := cw.DisableAlarmActions(ctx, &cloudwatch.DisableAlarmActionsInput{AlarmNames: []string{"sales-chat-invocation-limit"}}); err != nil {
			t.Fatal(err)
		}
		if _, err := cw.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("sales-chat-invocation-limit"),
			StateValue: cwtypes.StateValueAlarm, StateReason: aws.String("actions are off")}); err != nil {
			t.Fatal(err)
		}
		cwCall(t, rc, profARN, 1, false) // actions disabled: no throttle
		if _, err := cwJSON.EnableAlarmActions(ctx, &cloudwatch.EnableAlarmActionsInput{AlarmNames: []string{"sales-chat-invocation-limit"}}); err != nil {
			t.Fatal(err)
		}
		desc, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{AlarmNamePrefix: aws.String("sales-")})
		if err != nil || len(desc.MetricAlarms) != 1 || !aws.ToBool(desc.MetricAlarms[0].ActionsEnabled) || desc.MetricAlarms[0].StateValue != cwtypes.StateValueAlarm {
			t.Errorf("after EnableAlarmActions: %+v, %v", desc, err)
		}
		select {
		case c := <-hook.got:
			t.Errorf("a webhook without a transition to a state listing it: %v", c.body)
		default:
		}
	}) {
		return
	}

	t.Run("validation and not-found errors, then DeleteAlarms", func(t *testing.T) {
		// Validation and not-found errors, in both protocols.
		for proto, c := range clients {
			_, err := c.PutMetricAlarm(ctx, &cloudwatch.PutMetricAlarmInput{AlarmName: aws.String("hires"), Namespace: aws.String("AWS/Bedrock"),
				MetricName: aws.String("Invocations"), Statistic: cwtypes.StatisticSum, Period: aws.Int32(10), EvaluationPeriods: aws.Int32(1),
				Threshold: aws.Float64(1), ComparisonOperator: cwtypes.ComparisonOperatorGreaterThanThreshold})
			if code := errorCode(err); code != "InvalidParameterValue" {
				t.Errorf("%s: high-resolution alarm: %v (code %q)", proto, err, code)
			}
			_, err = c.SetAlarmState(ctx, &cloudwatch.SetAlarmStateInput{AlarmName: aws.String("nope"), StateValue: cwtypes.StateValueOk, StateReason: aws.String("x")})
			var nf *cwtypes.ResourceNotFound
			if !errors.As(err, &nf) {
				t.Errorf("%s: SetAlarmState on a missing alarm: %v, want ResourceNotFound", proto, err)
			}
		}
		if _, err := cwJSON.DeleteAlarms(ctx, &cloudwatch.DeleteAlarmsInput{AlarmNames: []string{"sales-chat-invocation-limit"}}); err != nil {
			t.Fatal(err)
		}
		desc, err := cw.DescribeAlarms(ctx, &cloudwatch.DescribeAlarmsInput{})
		if err != nil || len(desc.MetricAlarms) != 0 {
			t.Errorf("after DeleteAlarms: %+v, %v", desc, err)
		}
		cwCall(t, rc, profARN, 1, false) // the throttle went with the alarm
		if got := ts.Watch.Alarms.List("123456789012", alarm.Filter{}); len(got) != 0 {
			t.Errorf("service still holds %d alarms", len(got))
		}
	})
}

func mustMarshal(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
