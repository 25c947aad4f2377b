package anomaly

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/notify"
)

// Notifier sends alerts: the notify outbox, which stores each message
// before it returns and delivers it at least once; a message whose key
// was enqueued before is dropped, which is what keeps an alert from being
// sent twice across evaluations, restarts and replicas.
type Notifier interface {
	Enqueue(ctx context.Context, m notify.Message) error
}

// Message kinds.
const (
	KindAlert   = "anomaly.alert"   // one anomaly, IMMEDIATE subscriptions
	KindSummary = "anomaly.summary" // DAILY and WEEKLY summaries
)

// MessageAnomaly is an anomaly as alerts carry it: the keys of AWS's SNS
// message for Cost Anomaly Detection, and Tollgate's root-cause details.
type MessageAnomaly struct {
	AccountID          string             `json:"accountId"`
	AnomalyID          string             `json:"anomalyId"`
	AnomalyStartDate   string             `json:"anomalyStartDate"`
	AnomalyEndDate     string             `json:"anomalyEndDate"`
	DimensionalValue   string             `json:"dimensionalValue"`
	MonitorArn         string             `json:"monitorArn"`
	MonitorName        string             `json:"monitorName"`
	AnomalyScore       messageScore       `json:"anomalyScore"`
	Impact             messageImpact      `json:"impact"`
	RootCauses         []messageRootCause `json:"rootCauses"`
	AnomalyDetailsLink string             `json:"anomalyDetailsLink,omitempty"`
}

type messageScore struct {
	MaxScore     float64 `json:"maxScore"`
	CurrentScore float64 `json:"currentScore"`
}

type messageImpact struct {
	MaxImpact             float64  `json:"maxImpact"`
	TotalImpact           float64  `json:"totalImpact"`
	TotalActualSpend      float64  `json:"totalActualSpend"`
	TotalExpectedSpend    float64  `json:"totalExpectedSpend"`
	TotalImpactPercentage *float64 `json:"totalImpactPercentage,omitempty"`
}

type messageRootCause struct {
	Service       string  `json:"service"`
	Region        string  `json:"region"`
	LinkedAccount string  `json:"linkedAccount"`
	UsageType     string  `json:"usageType"`
	ProfileArn    string  `json:"profileArn,omitempty"`
	ModelID       string  `json:"modelId"`
	PrincipalID   string  `json:"principalId,omitempty"`
	Contribution  float64 `json:"contribution"`
}

// FormatTime writes an anomaly's start or end hour as anomalies and
// alerts carry it.
func FormatTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05Z") }

func messageOf(a Anomaly, monitorName, detailsLink string) MessageAnomaly {
	out := MessageAnomaly{
		AccountID: a.Account, AnomalyID: a.ID, AnomalyStartDate: FormatTime(a.Start), AnomalyEndDate: FormatTime(a.End),
		DimensionalValue: a.DimensionValue, MonitorArn: a.MonitorARN, MonitorName: monitorName,
		AnomalyScore: messageScore{MaxScore: round2(a.MaxScore), CurrentScore: round2(a.CurrentScore)},
		Impact: messageImpact{
			MaxImpact: dollars(a.MaxImpact), TotalImpact: dollars(a.Impact()),
			TotalActualSpend: dollars(a.Actual), TotalExpectedSpend: dollars(a.Expected),
		},
		RootCauses: []messageRootCause{},
	}
	if p, ok := a.ImpactPercentage(); ok {
		out.Impact.TotalImpactPercentage = &p
	}
	if detailsLink != "" {
		out.AnomalyDetailsLink = detailsLink + a.ID
	}
	for _, rc := range a.RootCauses {
		out.RootCauses = append(out.RootCauses, messageRootCause{
			Service: ServiceName, Region: rc.Region, LinkedAccount: rc.Account, UsageType: rc.UsageType,
			ProfileArn: rc.ProfileARN, ModelID: rc.ModelID, PrincipalID: rc.PrincipalID, Contribution: dollars(rc.Contribution),
		})
	}
	return out
}

func round2(f float64) float64 {
	return float64(int64(f*100+0.5)) / 100
}

// target returns the outbox target of a subscriber: e-mail, or for SNS
// its Slack, Teams, PagerDuty or signed-webhook channel.
func target(s Subscriber) string {
	if s.Type == SubscriberSNS {
		return notify.TargetOf(s.Address)
	}
	return notify.Target(notify.ChannelEmail, s.Address)
}

// alertMessages returns the messages of an IMMEDIATE alert on a, one per
// confirmed subscriber. Their keys hold the anomaly's last day, so an
// anomaly that goes on into another day alerts again.
func alertMessages(sub Subscription, a Anomaly, monitorName, detailsLink string) []notify.Message {
	data, _ := json.Marshal(messageOf(a, monitorName, detailsLink))
	subject := fmt.Sprintf("AWS Cost Anomaly Detection: $%s anomaly in %s (%s)", a.Impact().Decimal(2), monitorName, a.DimensionValue)
	var body strings.Builder
	writeAnomaly(&body, a, monitorName)
	var out []notify.Message
	for _, s := range sub.Subscribers {
		if s.Status == SubscriberDeclined {
			continue
		}
		t := target(s)
		key := strings.Join([]string{"anomaly", sub.ARN, a.ID, a.End.UTC().Format(time.DateOnly), t}, "/")
		out = append(out, notify.Message{Key: key, Kind: KindAlert, Target: t, Subject: subject, Body: body.String(), Data: data})
	}
	return out
}

// summaryMessages returns the messages of a DAILY or WEEKLY summary of
// the anomalies of [from, to), one per confirmed subscriber.
func summaryMessages(sub Subscription, from, to time.Time, as []Anomaly, monitorNames map[string]string, detailsLink string) []notify.Message {
	type summary struct {
		SubscriptionArn  string           `json:"subscriptionArn"`
		SubscriptionName string           `json:"subscriptionName"`
		Frequency        string           `json:"frequency"`
		PeriodStart      string           `json:"periodStart"`
		PeriodEnd        string           `json:"periodEnd"`
		Anomalies        []MessageAnomaly `json:"anomalies"`
	}
	sm := summary{SubscriptionArn: sub.ARN, SubscriptionName: sub.Name, Frequency: string(sub.Frequency),
		PeriodStart: FormatTime(from), PeriodEnd: FormatTime(to), Anomalies: []MessageAnomaly{}}
	var body strings.Builder
	fmt.Fprintf(&body, "%d cost anomalies from %s to %s (subscription %s).\n", len(as), FormatTime(from), FormatTime(to), sub.Name)
	for _, a := range as {
		sm.Anomalies = append(sm.Anomalies, messageOf(a, monitorNames[a.MonitorARN], detailsLink))
		body.WriteString("\n")
		writeAnomaly(&body, a, monitorNames[a.MonitorARN])
	}
	data, _ := json.Marshal(sm)
	subject := fmt.Sprintf("AWS Cost Anomaly Detection: %s summary, %d anomalies", strings.ToLower(string(sub.Frequency)), len(as))
	var out []notify.Message
	for _, s := range sub.Subscribers {
		if s.Status == SubscriberDeclined {
			continue
		}
		t := target(s)
		key := strings.Join([]string{"anomaly-summary", sub.ARN, string(sub.Frequency), from.UTC().Format(time.DateOnly), t}, "/")
		out = append(out, notify.Message{Key: key, Kind: KindSummary, Target: t, Subject: subject, Body: body.String(), Data: data})
	}
	return out
}

func writeAnomaly(b *strings.Builder, a Anomaly, monitorName string) {
	fmt.Fprintf(b, "Anomaly %s in monitor %s, %s\n", a.ID, monitorName, a.DimensionValue)
	fmt.Fprintf(b, "Hours: %s to %s\n", FormatTime(a.Start), FormatTime(a.End))
	fmt.Fprintf(b, "Actual spend: $%s, expected: $%s, impact: $%s", a.Actual.Decimal(2), a.Expected.Decimal(2), a.Impact().Decimal(2))
	if p, ok := a.ImpactPercentage(); ok {
		fmt.Fprintf(b, " (%+.1f%%)", p)
	}
	fmt.Fprintf(b, "\nScore: %.2f (max %.2f)\n", a.CurrentScore, a.MaxScore)
	for _, rc := range a.RootCauses {
		prof := rc.ProfileARN
		if prof == "" {
			prof = "(direct model call)"
		}
		fmt.Fprintf(b, "  $%s %s %s %s %s principal %s\n", rc.Contribution.Decimal(2), rc.Account, rc.Region, rc.UsageType, prof, rc.PrincipalID)
	}
}
