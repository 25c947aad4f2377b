package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	ce "github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// anomalyHistory appends 36 days of hourly usage before hour for two
// departments' profiles, with a daily cycle and noise; the sales
// profile spends spike times as much in the last three hours. It
// returns the exact spend of those three sales hours.
func anomalyHistory(t *testing.T, ts *testServer, hour time.Time, spike float64) money.Amount {
	t.Helper()
	rng := rand.New(rand.NewPCG(5, 5))
	profiles := map[string]string{"claims": ceAppARN(ceMgmt, "claimsprod01"), "sales": ceAppARN(ceMgmt, "salesprod001")}
	var recs []ledger.Record
	var spent money.Amount
	n := 0
	for h := hour.AddDate(0, 0, -36); h.Before(hour); h = h.Add(time.Hour) {
		for _, dept := range []string{"claims", "sales"} {
			dollars := 2 + math.Sin(2*math.Pi*float64(h.Hour()-9)/24)
			inSpike := dept == "sales" && !h.Before(hour.Add(-3*time.Hour))
			if inSpike {
				dollars *= spike
			}
			for k := range 4 {
				cost := money.Amount(dollars / 4 * math.Exp(0.1*rng.NormFloat64()) * float64(money.Dollar))
				n++
				arn := profiles[dept]
				recs = append(recs, ledger.Record{
					RequestID: fmt.Sprintf("an-%07d", n), Time: h.Add(time.Duration(k*13) * time.Minute), Account: ceMgmt,
					Region: "us-east-1", RegionServed: "us-east-1", PrincipalID: "root-" + ceMgmt, ProfileARN: arn,
					ProfileID: arn[strings.LastIndex(arn, "/")+1:], ModelID: ceHaiku, Provider: "sim", Operation: "Converse",
					InputTokens: 1000, OutputTokens: 100, LatencyMs: 100, Attempts: 1, Outcome: ledger.OutcomeSuccess, Priced: true,
					InputCost: cost / 4, OutputCost: cost - cost/4, Cost: cost, Tags: tags.Set{"dept": dept, "env": "prod"},
				})
				if inSpike {
					spent += cost
				}
			}
		}
	}
	for i := 0; i < len(recs); i += 5000 {
		if err := ts.DB.AppendRecords(t.Context(), recs[i:min(i+5000, len(recs))]); err != nil {
			t.Fatal(err)
		}
	}
	return spent
}

// sameAmount compares a dollar amount an SDK parsed as float64 with an
// exact one.
func sameAmount(f float64, a money.Amount) bool {
	return math.Abs(f-float64(a)/1e9) < 1e-9*math.Max(1, math.Abs(f))
}

func TestAnomaliesSDK(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", allowLoopback)
	ctx := t.Context()
	// The IMMEDIATE subscription's SNS subscriber: a webhook.
	alerts := make(chan webhook.Payload, 10)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var p webhook.Payload
		if err := json.NewDecoder(r.Body).Decode(&p); err != nil {
			t.Errorf("webhook body: %v", err)
		}
		alerts <- p
	}))
	defer hook.Close()
	hour := time.Now().UTC().Truncate(time.Hour)
	spent := anomalyHistory(t, ts, hour, 6)
	c := ce.NewFromConfig(ts.awsConfig(t))

	var tagMon, customMon *ce.CreateAnomalyMonitorOutput
	var sub *ce.CreateAnomalySubscriptionOutput
	var interval *cetypes.AnomalyDateInterval
	var a cetypes.Anomaly

	if !t.Run("monitors created, invalid ones refused", func(t *testing.T) {
		var err error
		tagMon, err = c.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: &cetypes.AnomalyMonitor{
			MonitorName: aws.String("by department"), MonitorType: cetypes.MonitorTypeDimensional, MonitorDimension: cetypes.MonitorDimensionTag,
			MonitorSpecification: &cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String("dept")}},
		}, ResourceTags: []cetypes.ResourceTag{{Key: aws.String("team"), Value: aws.String("finance")}}})
		if err != nil {
			t.Fatal(err)
		}
		customMon, err = c.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: &cetypes.AnomalyMonitor{
			MonitorName: aws.String("sales chat"), MonitorType: cetypes.MonitorTypeCustom,
			MonitorSpecification: &cetypes.Expression{Tags: &cetypes.TagValues{Key: aws.String("dept"), Values: []string{"sales"}}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: &cetypes.AnomalyMonitor{
			MonitorName: aws.String("bedrock"), MonitorType: cetypes.MonitorTypeDimensional, MonitorDimension: cetypes.MonitorDimensionService,
		}}); err != nil {
			t.Fatal(err)
		}
		for name, in := range map[string]*cetypes.AnomalyMonitor{
			"second services monitor": {MonitorName: aws.String("again"), MonitorType: cetypes.MonitorTypeDimensional, MonitorDimension: cetypes.MonitorDimensionService},
			"eleven values": {MonitorName: aws.String("x"), MonitorType: cetypes.MonitorTypeCustom, MonitorSpecification: &cetypes.Expression{
				Tags: &cetypes.TagValues{Key: aws.String("app"), Values: strings.Split("a,b,c,d,e,f,g,h,i,j,k", ",")}}},
			"cost category": {MonitorName: aws.String("x"), MonitorType: cetypes.MonitorTypeDimensional, MonitorDimension: cetypes.MonitorDimensionCostCategory},
		} {
			if _, err := c.CreateAnomalyMonitor(ctx, &ce.CreateAnomalyMonitorInput{AnomalyMonitor: in}); errorCode(err) != "ValidationException" {
				t.Errorf("%s: %v, want ValidationException", name, err)
			}
		}
	}) {
		return
	}
	if !t.Run("subscriptions created, invalid ones refused", func(t *testing.T) {
		var err error
		sub, err = c.CreateAnomalySubscription(ctx, &ce.CreateAnomalySubscriptionInput{AnomalySubscription: &cetypes.AnomalySubscription{
			SubscriptionName: aws.String("sales pager"), MonitorArnList: []string{*tagMon.MonitorArn, *customMon.MonitorArn},
			Frequency:   cetypes.AnomalySubscriptionFrequencyImmediate,
			Subscribers: []cetypes.Subscriber{{Type: cetypes.SubscriberTypeSns, Address: aws.String(hook.URL + "/anomalies")}},
			ThresholdExpression: &cetypes.Expression{And: []cetypes.Expression{
				{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionAnomalyTotalImpactAbsolute,
					MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionGreaterThanOrEqual}, Values: []string{"5"}}},
				{Dimensions: &cetypes.DimensionValues{Key: cetypes.DimensionAnomalyTotalImpactPercentage,
					MatchOptions: []cetypes.MatchOption{cetypes.MatchOptionGreaterThanOrEqual}, Values: []string{"50"}}},
			}},
		}})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.CreateAnomalySubscription(ctx, &ce.CreateAnomalySubscriptionInput{AnomalySubscription: &cetypes.AnomalySubscription{
			SubscriptionName: aws.String("wrong channel"), MonitorArnList: []string{*tagMon.MonitorArn},
			Frequency:   cetypes.AnomalySubscriptionFrequencyImmediate,
			Subscribers: []cetypes.Subscriber{{Type: cetypes.SubscriberTypeEmail, Address: aws.String("a@example.com")}},
			Threshold:   aws.Float64(10),
		}}); errorCode(err) != "ValidationException" {
			t.Errorf("IMMEDIATE to an email: %v, want ValidationException", err)
		}
		if _, err := c.CreateAnomalySubscription(ctx, &ce.CreateAnomalySubscriptionInput{AnomalySubscription: &cetypes.AnomalySubscription{
			SubscriptionName: aws.String("missing"), MonitorArnList: []string{"arn:aws:ce::" + ceMgmt + ":anomalymonitor/none"},
			Frequency:   cetypes.AnomalySubscriptionFrequencyDaily,
			Subscribers: []cetypes.Subscriber{{Type: cetypes.SubscriberTypeEmail, Address: aws.String("a@example.com")}},
			Threshold:   aws.Float64(10),
		}}); errorCode(err) != "UnknownMonitorException" {
			t.Errorf("unknown monitor: %v, want UnknownMonitorException", err)
		}
	}) {
		return
	}

	if !t.Run("the hourly evaluation finds the sales anomaly", func(t *testing.T) {
		// The runner evaluates as it would at the hour boundary.
		if err := ts.Anomalies.Evaluate(ctx); err != nil {
			t.Fatal(err)
		}
		interval = &cetypes.AnomalyDateInterval{StartDate: aws.String(hour.AddDate(0, 0, -2).Format(time.DateOnly))}
		got, err := c.GetAnomalies(ctx, &ce.GetAnomaliesInput{DateInterval: interval, MonitorArn: tagMon.MonitorArn})
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Anomalies) != 1 {
			t.Fatalf("anomalies of the department monitor: %+v, want one", got.Anomalies)
		}
		a = got.Anomalies[0]
		fmtHour := func(t time.Time) string { return t.Format("2006-01-02T15:04:05Z") }
		if aws.ToString(a.DimensionValue) != "sales" || aws.ToString(a.AnomalyStartDate) != fmtHour(hour.Add(-3*time.Hour)) ||
			aws.ToString(a.AnomalyEndDate) != fmtHour(hour.Add(-time.Hour)) {
			t.Errorf("anomaly %s %s..%s, want sales over the last three hours", aws.ToString(a.DimensionValue),
				aws.ToString(a.AnomalyStartDate), aws.ToString(a.AnomalyEndDate))
		}
		im := a.Impact
		if !sameAmount(aws.ToFloat64(im.TotalActualSpend), spent) {
			t.Errorf("TotalActualSpend %v, want the exact spend of the three hours %s", aws.ToFloat64(im.TotalActualSpend), spent)
		}
		exp := aws.ToFloat64(im.TotalExpectedSpend)
		if exp <= 0 || math.Abs(im.TotalImpact-(aws.ToFloat64(im.TotalActualSpend)-exp)) > 1e-6 ||
			math.Abs(aws.ToFloat64(im.TotalImpactPercentage)-math.Round(im.TotalImpact/exp*10000)/100) > 0.011 || im.MaxImpact <= 0 {
			t.Errorf("impact %+v inconsistent", im)
		}
		if r := aws.ToFloat64(im.TotalActualSpend) / exp; r < 3 || r > 12 {
			t.Errorf("actual/expected %.2f, want near the injected 6x", r)
		}
		if a.AnomalyScore == nil || a.AnomalyScore.MaxScore < 4 {
			t.Errorf("score %+v", a.AnomalyScore)
		}
		var contrib float64
		for _, rc := range a.RootCauses {
			contrib += rc.Impact.Contribution
			if aws.ToString(rc.Service) != "Amazon Bedrock" || aws.ToString(rc.Region) != "us-east-1" || aws.ToString(rc.LinkedAccount) != ceMgmt ||
				!strings.HasPrefix(aws.ToString(rc.UsageType), "USE1-MP:USE1_") { // Claude 3 Haiku: AWS Marketplace usage types
				t.Errorf("root cause %+v", rc)
			}
		}
		if len(a.RootCauses) != 2 || math.Abs(contrib-im.TotalImpact) > 1e-6 {
			t.Errorf("%d root causes contributing %v, want the input and output tokens of the sales profile adding up to %v", len(a.RootCauses), contrib, im.TotalImpact)
		}
	}) {
		return
	}
	t.Run("alerts for the subscribed monitors reach the webhook", func(t *testing.T) {
		// Alerts for the two subscribed monitors' anomalies reach the webhook.
		ids := map[string]bool{}
		for range 2 {
			select {
			case p := <-alerts:
				var msg anomaly.MessageAnomaly
				if err := json.Unmarshal(p.Data, &msg); err != nil || p.Kind != anomaly.KindAlert || msg.DimensionalValue == "" || len(msg.RootCauses) == 0 {
					t.Errorf("alert %+v (%v)", p, err)
				}
				ids[msg.AnomalyID] = true
			case <-time.After(10 * time.Second):
				t.Fatal("no alert reached the webhook")
			}
		}
		if !ids[aws.ToString(a.AnomalyId)] {
			t.Errorf("alerts for %v, want one for %s", ids, aws.ToString(a.AnomalyId))
		}
	})
	t.Run("GetAnomalies by monitor and by impact", func(t *testing.T) {
		for _, mon := range []*string{customMon.MonitorArn} {
			got, err := c.GetAnomalies(ctx, &ce.GetAnomaliesInput{DateInterval: interval, MonitorArn: mon})
			if err != nil || len(got.Anomalies) != 1 || aws.ToString(got.Anomalies[0].DimensionValue) != "dept$sales" {
				t.Errorf("custom monitor: %+v, %v", got, err)
			}
		}
		big, err := c.GetAnomalies(ctx, &ce.GetAnomaliesInput{DateInterval: interval,
			TotalImpact: &cetypes.TotalImpactFilter{NumericOperator: cetypes.NumericOperatorGreaterThan, StartValue: 1e6}})
		if err != nil || len(big.Anomalies) != 0 {
			t.Errorf("anomalies above $1M: %+v, %v", big, err)
		}
	})

	t.Run("feedback", func(t *testing.T) {
		if _, err := c.ProvideAnomalyFeedback(ctx, &ce.ProvideAnomalyFeedbackInput{AnomalyId: a.AnomalyId, Feedback: cetypes.AnomalyFeedbackTypeYes}); err != nil {
			t.Fatal(err)
		}
		yes, err := c.GetAnomalies(ctx, &ce.GetAnomaliesInput{DateInterval: interval, Feedback: cetypes.AnomalyFeedbackTypeYes})
		if err != nil || len(yes.Anomalies) != 1 || aws.ToString(yes.Anomalies[0].AnomalyId) != aws.ToString(a.AnomalyId) {
			t.Errorf("anomalies with feedback YES: %+v, %v", yes, err)
		}
	})

	if !t.Run("monitors and subscriptions read back and updated", func(t *testing.T) {
		// Monitors and subscriptions read back.
		mons, err := c.GetAnomalyMonitors(ctx, &ce.GetAnomalyMonitorsInput{MonitorArnList: []string{*tagMon.MonitorArn}})
		if err != nil {
			t.Fatal(err)
		}
		if m := mons.AnomalyMonitors[0]; aws.ToString(m.MonitorName) != "by department" || m.DimensionalValueCount != 2 ||
			aws.ToString(m.LastEvaluatedDate) == "" || aws.ToString(m.MonitorSpecification.Tags.Key) != "dept" {
			t.Errorf("monitor %+v", m)
		}
		if _, err := c.UpdateAnomalyMonitor(ctx, &ce.UpdateAnomalyMonitorInput{MonitorArn: tagMon.MonitorArn, MonitorName: aws.String("departments")}); err != nil {
			t.Fatal(err)
		}
		subs, err := c.GetAnomalySubscriptions(ctx, &ce.GetAnomalySubscriptionsInput{MonitorArn: customMon.MonitorArn})
		if err != nil || len(subs.AnomalySubscriptions) != 1 || aws.ToString(subs.AnomalySubscriptions[0].SubscriptionArn) != *sub.SubscriptionArn ||
			len(subs.AnomalySubscriptions[0].ThresholdExpression.And) != 2 {
			t.Fatalf("subscriptions of the custom monitor: %+v, %v", subs, err)
		}
		if _, err := c.UpdateAnomalySubscription(ctx, &ce.UpdateAnomalySubscriptionInput{SubscriptionArn: sub.SubscriptionArn,
			Threshold: aws.Float64(20)}); err != nil {
			t.Fatal(err)
		}
	}) {
		return
	}

	t.Run("the CLI shows the same anomaly", func(t *testing.T) {
		var out bytes.Buffer
		dir := ts.Config.DataDir
		if err := run(ctx, []string{"anomalies", "--data-dir", dir}, &out, &out, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); !strings.Contains(s, aws.ToString(a.AnomalyId)) || !strings.Contains(s, "departments") || !strings.Contains(s, "sales") {
			t.Errorf("tollgate anomalies:\n%s", s)
		}
		out.Reset()
		if err := run(ctx, []string{"anomalies", "show", aws.ToString(a.AnomalyId), "--data-dir", dir}, &out, &out, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); !strings.Contains(s, ceAppARN(ceMgmt, "salesprod001")) || !strings.Contains(s, "root-"+ceMgmt) ||
			!strings.Contains(s, spent.Decimal(2)) {
			t.Errorf("tollgate anomalies show:\n%s", s)
		}
		out.Reset()
		if err := run(ctx, []string{"anomalies", "subscriptions", "--data-dir", dir}, &out, &out, func(string) string { return "" }); err != nil {
			t.Fatal(err)
		}
		if s := out.String(); !strings.Contains(s, "sales pager") || !strings.Contains(s, "impact >= $20") {
			t.Errorf("tollgate anomalies subscriptions:\n%s", s)
		}
	})

	t.Run("deleting a monitor deletes its anomalies", func(t *testing.T) {
		if _, err := c.DeleteAnomalyMonitor(ctx, &ce.DeleteAnomalyMonitorInput{MonitorArn: tagMon.MonitorArn}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.DeleteAnomalyMonitor(ctx, &ce.DeleteAnomalyMonitorInput{MonitorArn: tagMon.MonitorArn}); errorCode(err) != "UnknownMonitorException" {
			t.Errorf("second delete: %v, want UnknownMonitorException", err)
		}
		left, err := c.GetAnomalies(ctx, &ce.GetAnomaliesInput{DateInterval: interval, MonitorArn: tagMon.MonitorArn})
		if err != nil || len(left.Anomalies) != 0 {
			t.Errorf("anomalies of a deleted monitor: %+v, %v", left, err)
		}
		if _, err := c.DeleteAnomalySubscription(ctx, &ce.DeleteAnomalySubscriptionInput{SubscriptionArn: sub.SubscriptionArn}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.GetAnomalySubscriptions(ctx, &ce.GetAnomalySubscriptionsInput{SubscriptionArnList: []string{*sub.SubscriptionArn}}); errorCode(err) != "UnknownSubscriptionException" {
			t.Errorf("deleted subscription: %v, want UnknownSubscriptionException", err)
		}
	})
}

func TestAnomaliesCLIFlags(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	// An empty database (offline commands never create one: a mistyped
	// --data-dir is an error).
	empty := t.TempDir()
	db, err := sqlite.Open(t.Context(), filepath.Join(empty, "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := run(t.Context(), []string{"anomalies", "--data-dir", empty, "--json"}, &out, &out, func(string) string { return "" }); err != nil {
		t.Fatal(err)
	}
	if s := strings.TrimSpace(out.String()); s != "[]" {
		t.Errorf("empty data dir, --json: %q", s)
	}
	if err := run(t.Context(), []string{"anomalies", "bogus", "--data-dir", t.TempDir()}, &out, &out, func(string) string { return "" }); err == nil {
		t.Error("unknown subcommand accepted")
	}
}
