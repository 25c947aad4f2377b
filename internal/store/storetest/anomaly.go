package storetest

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// testAnomaly checks the anomaly-detection store.
func testAnomaly(t *testing.T, s Store) {
	t.Run("Monitors", func(t *testing.T) { testAnomalyMonitors(t, s) })
	t.Run("Subscriptions", func(t *testing.T) { testAnomalySubscriptions(t, s) })
	t.Run("Anomalies", func(t *testing.T) { testAnomalies(t, s) })
}

const (
	anAcct  = "111111111111"
	anOther = "222222222222"
)

func anMonitor(account, id string, at time.Time) anomaly.Monitor {
	return anomaly.Monitor{
		ARN: anomaly.MonitorARN(account, id), Account: account, Name: "m-" + id, Type: anomaly.Dimensional,
		Dimension: anomaly.DimTag, TagKey: "dept", ResourceTags: tags.Set{"team": "finance"}, CreatedAt: at, UpdatedAt: at,
	}
}

func testAnomalyMonitors(t *testing.T, s anomaly.Store) {
	ctx := t.Context()
	a := anMonitor(anAcct, "a", t0)
	b := anomaly.Monitor{ARN: anomaly.MonitorARN(anAcct, "b"), Account: anAcct, Name: "custom", Type: anomaly.Custom,
		Dimension: anomaly.DimTag, TagKey: "app", Values: []string{"chat_app", "claims"}, ResourceTags: tags.Set{},
		CreatedAt: t0.Add(time.Second), UpdatedAt: t0.Add(time.Second)}
	c := anMonitor(anOther, "c", t0)
	for _, m := range []anomaly.Monitor{b, a, c} {
		if err := s.CreateAnomalyMonitor(ctx, m); err != nil {
			t.Fatalf("CreateAnomalyMonitor(%s): %v", m.ARN, err)
		}
	}
	if err := s.CreateAnomalyMonitor(ctx, a); !errkind.Is(err, errkind.Conflict) {
		t.Errorf("second CreateAnomalyMonitor = %v, want Conflict", err)
	}
	got, err := s.AnomalyMonitors(ctx, anAcct)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []anomaly.Monitor{a, b}); diff != "" {
		t.Errorf("AnomalyMonitors (-got +want):\n%s", diff)
	}
	all, _ := s.AnomalyMonitors(ctx, "")
	if len(all) != 3 {
		t.Errorf("every account's monitors: %d, want 3", len(all))
	}
	if err := s.RenameAnomalyMonitor(ctx, anAcct, a.ARN, "renamed", t0.Add(time.Hour)); err != nil {
		t.Fatal(err)
	}
	if err := s.RenameAnomalyMonitor(ctx, anOther, a.ARN, "x", t0); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("rename through another account = %v, want NotFound", err)
	}
	end := t0.Add(3 * time.Hour)
	if err := s.SetAnomalyMonitorEvaluated(ctx, a.ARN, end, 7); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AnomalyMonitors(ctx, anAcct)
	a.Name, a.UpdatedAt, a.LastEvaluated, a.ValueCount = "renamed", t0.Add(time.Hour), end, 7
	if diff := cmp.Diff(got, []anomaly.Monitor{a, b}); diff != "" {
		t.Errorf("after rename and evaluation (-got +want):\n%s", diff)
	}
	if err := s.DeleteAnomalyMonitor(ctx, anAcct, a.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAnomalyMonitor(ctx, anAcct, a.ARN); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second delete = %v, want NotFound", err)
	}
	// Evaluating a monitor deleted meanwhile is not an error.
	if err := s.SetAnomalyMonitorEvaluated(ctx, a.ARN, end, 1); err != nil {
		t.Errorf("SetAnomalyMonitorEvaluated on a deleted monitor: %v", err)
	}
}

func testAnomalySubscriptions(t *testing.T, s anomaly.Store) {
	ctx := t.Context()
	m1, m2 := anMonitor(anAcct, "m1", t0), anMonitor(anAcct, "m2", t0.Add(time.Second))
	for _, m := range []anomaly.Monitor{m1, m2} {
		if err := s.CreateAnomalyMonitor(ctx, m); err != nil {
			t.Fatal(err)
		}
	}
	sub := anomaly.Subscription{
		ARN: anomaly.SubscriptionARN(anAcct, "s1"), Account: anAcct, Name: "finance", MonitorARNs: []string{m2.ARN, m1.ARN},
		Subscribers: []anomaly.Subscriber{{Address: "finance@example.com", Type: anomaly.SubscriberEmail, Status: anomaly.SubscriberConfirmed}},
		Frequency:   anomaly.Daily,
		Threshold: anomaly.Threshold{And: []anomaly.Threshold{
			{Key: anomaly.ImpactAbsolute, Value: 100}, {Key: anomaly.ImpactPercentage, Value: 12.5}}},
		ResourceTags: tags.Set{"k": "v"}, CreatedAt: t0, UpdatedAt: t0,
	}
	if err := s.CreateAnomalySubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	bad := sub
	bad.ARN, bad.MonitorARNs = anomaly.SubscriptionARN(anAcct, "s2"), []string{anomaly.MonitorARN(anAcct, "missing")}
	if err := s.CreateAnomalySubscription(ctx, bad); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("subscription to a missing monitor = %v, want NotFound", err)
	}
	got, err := s.AnomalySubscriptions(ctx, anAcct)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []anomaly.Subscription{sub}); diff != "" {
		t.Errorf("AnomalySubscriptions (-got +want):\n%s", diff)
	}
	sub.Name, sub.Frequency, sub.MonitorARNs, sub.Legacy = "renamed", anomaly.Weekly, []string{m1.ARN}, true
	sub.Threshold, sub.UpdatedAt = anomaly.Threshold{Key: anomaly.ImpactAbsolute, Value: 5}, t0.Add(time.Hour)
	if err := s.UpdateAnomalySubscription(ctx, sub); err != nil {
		t.Fatal(err)
	}
	missing := sub
	missing.MonitorARNs = []string{m1.ARN, anomaly.MonitorARN(anAcct, "missing")}
	if err := s.UpdateAnomalySubscription(ctx, missing); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("update to a missing monitor = %v, want NotFound", err)
	}
	other := sub
	other.Account = anOther
	if err := s.UpdateAnomalySubscription(ctx, other); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("update through another account = %v, want NotFound", err)
	}
	got, _ = s.AnomalySubscriptions(ctx, "")
	if diff := cmp.Diff(got, []anomaly.Subscription{sub}); diff != "" {
		t.Errorf("after update (-got +want):\n%s", diff)
	}
	// Deleting a monitor takes it out of its subscriptions.
	if err := s.DeleteAnomalyMonitor(ctx, anAcct, m1.ARN); err != nil {
		t.Fatal(err)
	}
	got, _ = s.AnomalySubscriptions(ctx, anAcct)
	if len(got) != 1 || len(got[0].MonitorARNs) != 0 {
		t.Errorf("after deleting its monitor: %+v, want one subscription without monitors", got)
	}
	if err := s.DeleteAnomalySubscription(ctx, anAcct, sub.ARN); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteAnomalySubscription(ctx, anAcct, sub.ARN); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second delete = %v, want NotFound", err)
	}
}

func testAnomalies(t *testing.T, s anomaly.Store) {
	ctx := t.Context()
	m := anMonitor(anAcct, "m", t0)
	if err := s.CreateAnomalyMonitor(ctx, m); err != nil {
		t.Fatal(err)
	}
	h := t0.Truncate(time.Hour)
	a1 := anomaly.Anomaly{
		ID: "a1", Account: anAcct, MonitorARN: m.ARN, DimensionValue: "claims", Start: h, End: h.Add(2 * time.Hour),
		Open: true, MaxScore: 9.25, CurrentScore: 4.5, Actual: 30_000_000_001, Expected: 10_000_000_000, MaxImpact: 12_000_000_000,
		RootCauses: []anomaly.RootCause{{Account: anAcct, Region: "us-east-1", UsageType: "USE1-Claude3Haiku-output-tokens",
			ProfileARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa",
			ModelID:    "anthropic.claude-3-haiku-20240307-v1:0", PrincipalID: "root-111111111111", Contribution: 20_000_000_001}},
		DetectedAt: t0, UpdatedAt: t0,
	}
	a2 := anomaly.Anomaly{ID: "a2", Account: anAcct, MonitorARN: m.ARN, DimensionValue: "sales", Start: h.Add(5 * time.Hour),
		End: h.Add(5 * time.Hour), Adapted: true, Actual: 1, DetectedAt: t0, UpdatedAt: t0}
	orphan := anomaly.Anomaly{ID: "a3", Account: anAcct, MonitorARN: anomaly.MonitorARN(anAcct, "gone"), Start: h, End: h, DetectedAt: t0, UpdatedAt: t0}
	if err := s.PutAnomalies(ctx, []anomaly.Anomaly{a2, a1, orphan}); err != nil {
		t.Fatal(err)
	}
	got, err := s.Anomalies(ctx, anomaly.AnomalyFilter{Account: anAcct})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []anomaly.Anomaly{a1, a2}); diff != "" {
		t.Errorf("Anomalies (-got +want; the orphan is skipped):\n%s", diff)
	}
	if err := s.SetAnomalyFeedback(ctx, anAcct, "a1", anomaly.FeedbackPlanned); err != nil {
		t.Fatal(err)
	}
	if err := s.SetAnomalyFeedback(ctx, anOther, "a1", anomaly.FeedbackYes); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("feedback through another account = %v, want NotFound", err)
	}
	// An update keeps the feedback and the detection time.
	up := a1
	up.End, up.Open, up.Actual, up.UpdatedAt, up.DetectedAt = h.Add(3*time.Hour), false, 40_000_000_000, t0.Add(time.Hour), t0.Add(time.Hour)
	if err := s.PutAnomalies(ctx, []anomaly.Anomaly{up}); err != nil {
		t.Fatal(err)
	}
	up.Feedback, up.DetectedAt = anomaly.FeedbackPlanned, t0
	for _, tc := range []struct {
		name string
		f    anomaly.AnomalyFilter
		want []anomaly.Anomaly
	}{
		{"all", anomaly.AnomalyFilter{}, []anomaly.Anomaly{up, a2}},
		{"monitor", anomaly.AnomalyFilter{MonitorARN: m.ARN}, []anomaly.Anomaly{up, a2}},
		{"other account", anomaly.AnomalyFilter{Account: anOther}, nil},
		{"end from", anomaly.AnomalyFilter{EndFrom: h.Add(4 * time.Hour)}, []anomaly.Anomaly{a2}},
		{"end to", anomaly.AnomalyFilter{EndTo: h.Add(5 * time.Hour)}, []anomaly.Anomaly{up}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := s.Anomalies(ctx, tc.f)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, tc.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
	// A batch naming an anomaly twice inserts it, then updates it.
	twice1, twice2 := a2, a2
	twice1.ID, twice1.Feedback = "a4", anomaly.FeedbackNo
	twice2.ID, twice2.MaxScore, twice2.DetectedAt, twice2.UpdatedAt = "a4", 3, t0.Add(time.Hour), t0.Add(time.Hour)
	if err := s.PutAnomalies(ctx, []anomaly.Anomaly{twice1, twice2}); err != nil {
		t.Fatal(err)
	}
	got, _ = s.Anomalies(ctx, anomaly.AnomalyFilter{EndFrom: h.Add(4 * time.Hour)})
	want := twice2
	want.Feedback, want.DetectedAt = anomaly.FeedbackNo, t0
	if diff := cmp.Diff(got, []anomaly.Anomaly{a2, want}); diff != "" {
		t.Errorf("after a batch naming a4 twice (-got +want):\n%s", diff)
	}
	if err := s.DeleteAnomalyMonitor(ctx, anAcct, m.ARN); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Anomalies(ctx, anomaly.AnomalyFilter{}); len(got) != 0 {
		t.Errorf("after deleting the monitor: %d anomalies, want 0", len(got))
	}
}
