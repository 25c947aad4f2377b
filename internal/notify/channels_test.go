package notify_test

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/notifytest"
	"github.com/tollgate-dev/tollgate/internal/notify/pagerduty"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
)

func TestTargetOf(t *testing.T) {
	for _, c := range []struct{ addr, want string }{
		{"https://hooks.slack.com/services/T0/B0/xyz", "slack:https://hooks.slack.com/services/T0/B0/xyz"},
		{"slack+http://127.0.0.1:9/services/x", "slack:slack+http://127.0.0.1:9/services/x"},
		{"https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x", "teams:https://prod-12.westeurope.logic.azure.com:443/workflows/abc/triggers/manual/paths/invoke?sig=x"},
		{"https://contoso.webhook.office.com/webhookb2/abc", "teams:https://contoso.webhook.office.com/webhookb2/abc"},
		{"pagerduty:R0UTINGKEY0123456789abcdefABCDEF", "pagerduty:R0UTINGKEY0123456789abcdefABCDEF"},
		{"pagerduty:bad key", "webhook:pagerduty:bad key"},
		{"https://hooks.example.com/x", "webhook:https://hooks.example.com/x"},
	} {
		if got := notify.TargetOf(c.addr); got != c.want {
			t.Errorf("TargetOf(%q) = %q, want %q", c.addr, got, c.want)
		}
	}
}

// TestChatAndPagingChannels delivers one budget alert to Slack, Teams and
// PagerDuty receivers that fail the first attempt: each accepts exactly
// one message of its documented shape, on the second attempt; a
// PagerDuty resolve then closes the incident under the same dedup key.
func TestChatAndPagingChannels(t *testing.T) {
	slack := notifytest.Start(t, notifytest.Slack, 1)
	teams := notifytest.Start(t, notifytest.Teams, 1)
	pd := notifytest.Start(t, notifytest.PagerDuty, 1)
	db := openDB(t, filepath.Join(t.TempDir(), "t.db"))
	hooks := &webhook.Deliverer{Secret: secret, Egress: loopback}
	o := newOutbox(db, func(c *notify.Config) {
		c.Deliverers[notify.ChannelSlack] = hooks
		c.Deliverers[notify.ChannelTeams] = hooks
		c.Deliverers[notify.ChannelPagerDuty] = &pagerduty.Deliverer{Endpoint: pd.URL + "/v2/enqueue", Egress: loopback}
	})
	run(t, o)
	const key = "0123456789abcdef0123456789abcdef"
	alert := func(k, target, event string) notify.Message {
		return notify.Message{Key: k, Kind: "budget.action", Target: target,
			Subject: "AWS Budgets: sales-chat BLOCK action engaged",
			Body:    "Budget: sales-chat (account 111111111111, COST, MONTHLY)\nAlert: BLOCK engaged: actual spend $10,000.00 reached the threshold\nActual: $10,012.40\n",
			Data:    json.RawMessage(fmt.Sprintf(`{"budgetName":"sales-chat","event":%q,"dedupKey":"budget/111111111111/sales-chat/action/a1/1","severity":"critical"}`, event))}
	}
	for _, m := range []notify.Message{
		alert("s1", notify.TargetOf("slack+"+slack.URL+"/services/T0/B0/x"), "trigger"),
		alert("t1", notify.TargetOf("teams+"+teams.URL+"/workflows/x"), "trigger"),
		alert("p1", notify.TargetOf("pagerduty:"+key), "trigger"),
	} {
		if err := o.Enqueue(t.Context(), m); err != nil {
			t.Fatal(err)
		}
	}
	for _, k := range []string{"s1", "t1", "p1"} {
		if d := waitState(t, db, k, notify.Delivered); d.Attempts != 2 {
			t.Errorf("%s delivered after %d attempts, want 2 (the receiver fails the first)", k, d.Attempts)
		}
	}
	for name, rc := range map[string]*notifytest.Receiver{"slack": slack, "teams": teams, "pagerduty": pd} {
		if p := rc.Problems(); len(p) > 0 {
			t.Errorf("%s refused payloads: %q", name, p)
		}
		if n := len(rc.Accepted()); n != 1 {
			t.Errorf("%s accepted %d messages, want 1", name, n)
		}
	}
	sb, _ := json.Marshal(slack.Accepted())
	if s := string(sb); !strings.Contains(s, `"type":"header"`) || !strings.Contains(s, "sales-chat BLOCK action engaged") || !strings.Contains(s, `*Actual*\n$10,012.40`) {
		t.Errorf("Slack message = %s", s)
	}
	tb, _ := json.Marshal(teams.Accepted())
	if s := string(tb); !strings.Contains(s, `"contentType":"application/vnd.microsoft.card.adaptive"`) || !strings.Contains(s, `{"title":"Actual","value":"$10,012.40"}`) {
		t.Errorf("Teams message = %s", s)
	}
	trig := pd.Accepted()[0]
	payload, _ := trig["payload"].(map[string]any)
	if trig["event_action"] != "trigger" || trig["routing_key"] != key || trig["dedup_key"] != "budget/111111111111/sales-chat/action/a1/1" ||
		payload["severity"] != "critical" || payload["summary"] != "AWS Budgets: sales-chat BLOCK action engaged" {
		t.Errorf("PagerDuty trigger = %v", trig)
	}

	if err := o.Enqueue(t.Context(), alert("p2", "pagerduty:"+key, "resolve")); err != nil {
		t.Fatal(err)
	}
	waitState(t, db, "p2", notify.Delivered)
	if got := pd.Accepted(); len(got) != 2 || got[1]["event_action"] != "resolve" || got[1]["dedup_key"] != trig["dedup_key"] || got[1]["payload"] != nil {
		t.Errorf("PagerDuty resolve = %v", got[len(got)-1])
	}
}

// TestReceiversRefuseMalformedPayloads keeps the receivers honest: a
// payload missing what the service requires is refused.
func TestReceiversRefuseMalformedPayloads(t *testing.T) {
	for _, c := range []struct {
		svc  notifytest.Service
		body string
	}{
		{notifytest.Slack, `{"blocks":[{"type":"header","text":{"type":"mrkdwn","text":"x"}}]}`},
		{notifytest.Slack, `{"text":"` + strings.Repeat("x", 10) + `","blocks":[{"type":"section"}]}`},
		{notifytest.Teams, `{"type":"message","attachments":[{"contentType":"application/json","content":{}}]}`},
		{notifytest.Teams, `{"type":"AdaptiveCard","version":"1.4","body":[]}`},
		{notifytest.PagerDuty, `{"routing_key":"k","event_action":"trigger","payload":{"summary":"s","source":"x","severity":"high"}}`},
		{notifytest.PagerDuty, `{"routing_key":"k","event_action":"resolve"}`},
	} {
		if err := notifytest.Check(c.svc, []byte(c.body)); err == nil {
			t.Errorf("%s accepted %s", c.svc, c.body)
		}
	}
}
