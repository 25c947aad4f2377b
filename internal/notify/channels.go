package notify

import (
	"encoding/json"
	"net/url"
	"regexp"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// The chat and paging channels, beside e-mail and the signed webhook.
const (
	// ChannelSlack posts a Block Kit message to a Slack incoming webhook.
	ChannelSlack = "slack"
	// ChannelTeams posts an Adaptive Card to a Microsoft Teams workflow
	// webhook.
	ChannelTeams = "teams"
	// ChannelPagerDuty sends a PagerDuty Events API v2 event; the address
	// is the integration's routing key.
	ChannelPagerDuty = "pagerduty"
)

// routingKey is a PagerDuty integration (routing) key: 32 characters in
// practice; letters, digits, '-' and '_' accepted, 1-128 of them.
var routingKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// ParsePagerDuty reads a subscriber or alarm action address of the form
// pagerduty:ROUTING_KEY and returns the routing key; ok is false for any
// other address.
func ParsePagerDuty(address string) (key string, ok bool) {
	key, ok = strings.CutPrefix(address, ChannelPagerDuty+":")
	return key, ok && routingKey.MatchString(key)
}

// CheckSNSAddress checks the address of an SNS subscriber, which Tollgate
// delivers itself: pagerduty:ROUTING_KEY, or an http(s) webhook URL (a
// Slack or Teams webhook, or any other) that out allows. The error is an
// errkind Invalid naming the address, or out's refusal.
func CheckSNSAddress(address string, out *egress.Policy) error {
	if _, ok := ParsePagerDuty(address); ok {
		return nil // a PagerDuty routing key: delivered to the events endpoint
	}
	short := address
	if len(short) > 256 {
		short = short[:256] + "..."
	}
	if strings.HasPrefix(address, ChannelPagerDuty+":") {
		return errkind.New(errkind.Invalid, "The SNS subscriber address %q is not pagerduty:ROUTING_KEY (1-128 letters, digits, '-' or '_').", short)
	}
	u, err := url.Parse(address)
	if err != nil || u.Host == "" || len(address) > 2000 {
		return errkind.New(errkind.Invalid, "The SNS subscriber address %q is not a webhook URL: Tollgate delivers SNS subscriptions as an HTTP POST to an http(s) URL.", short)
	}
	switch u.Scheme {
	case "http", "https", "slack+http", "slack+https", "teams+http", "teams+https":
	default:
		return errkind.New(errkind.Invalid, "The SNS subscriber address %q is not a webhook URL: Tollgate delivers SNS subscriptions as an HTTP POST to an http(s) URL (a Slack or Teams webhook, or any other), or to PagerDuty for pagerduty:ROUTING_KEY.", short)
	}
	return out.CheckURL(address)
}

// ChatURL reports which chat channel a webhook URL belongs to: Slack for
// https://hooks.slack.com/… (or a slack+http(s) URL, for receivers of
// one's own), Teams for a workflow URL on *.logic.azure.com,
// *.webhook.office.com or *.powerplatform.com (or teams+http(s)); "" for
// any other URL, a generic signed webhook.
func ChatURL(u *url.URL) string {
	switch {
	case strings.HasPrefix(u.Scheme, "slack+") || u.Hostname() == "hooks.slack.com":
		return ChannelSlack
	case strings.HasPrefix(u.Scheme, "teams+"):
		return ChannelTeams
	}
	h := strings.ToLower(u.Hostname())
	for _, suffix := range []string{".logic.azure.com", ".webhook.office.com", ".powerplatform.com"} {
		if strings.HasSuffix(h, suffix) {
			return ChannelTeams
		}
	}
	return ""
}

// TargetOf returns the target of a subscriber address that is not an
// e-mail address: pagerduty:KEY stays as it is, a Slack or Teams webhook
// URL goes to its chat channel, any other URL to the signed webhook.
func TargetOf(address string) string {
	if _, ok := ParsePagerDuty(address); ok {
		return address
	}
	if u, err := url.Parse(address); err == nil {
		if ch := ChatURL(u); ch != "" {
			return Target(ch, address)
		}
	}
	return Target(ChannelWebhook, address)
}

// Incident is what a paging channel needs of a message: whether it opens
// (trigger) or closes (resolve) an incident, the key that ties the two,
// and the severity of a trigger.
type Incident struct {
	// Resolve is true when the message closes the incident.
	Resolve bool
	// DedupKey ties a resolve to its trigger (at most 255 characters).
	DedupKey string
	// Severity is critical, error, warning or info.
	Severity string
	// Source and Component say what the incident is about.
	Source, Component string
}

// IncidentOf reads the incident a message describes from its Data: the
// members "event" ("trigger" or "resolve"), "dedupKey" and "severity"
// that budget alerts carry, or, for a CloudWatch alarm state change
// (kind alarm.state), its new state (OK resolves, ALARM triggers as
// critical, INSUFFICIENT_DATA as warning) keyed by the alarm's ARN.
// Without them a message triggers a warning keyed by its idempotency key.
func IncidentOf(m Message) Incident {
	in := Incident{DedupKey: m.Key, Severity: "warning", Source: "tollgate", Component: m.Kind}
	var d struct {
		Event    string `json:"event"`
		DedupKey string `json:"dedupKey"`
		Severity string `json:"severity"`
		Budget   string `json:"budgetName"`
		// CloudWatch's alarm notification.
		AlarmArn  string `json:"AlarmArn"`
		AlarmName string `json:"AlarmName"`
		NewState  string `json:"NewStateValue"`
	}
	if len(m.Data) > 0 && json.Unmarshal(m.Data, &d) == nil {
		switch {
		case d.AlarmArn != "":
			in.DedupKey, in.Component = d.AlarmArn, "alarm "+d.AlarmName
			in.Resolve = d.NewState == "OK"
			if d.NewState == "ALARM" {
				in.Severity = "critical"
			}
		default:
			if d.DedupKey != "" {
				in.DedupKey = d.DedupKey
			}
			in.Resolve = d.Event == "resolve"
			switch d.Severity {
			case "critical", "error", "warning", "info":
				in.Severity = d.Severity
			}
			if d.Budget != "" {
				in.Component = "budget " + d.Budget
			}
		}
	}
	if len(in.DedupKey) > 255 {
		in.DedupKey = in.DedupKey[:255]
	}
	return in
}
