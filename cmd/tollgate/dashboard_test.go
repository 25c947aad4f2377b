package main

import (
	"encoding/json"
	"io"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// promQLRefs returns the metric names a PromQL expression reads and the
// label names it groups by. It knows the subset of PromQL dashboards use:
// functions and aggregations, label matchers, range selectors, by/without
// clauses, numbers, operators and Grafana's $variables.
func promQLRefs(expr string) (metrics, labels []string) {
	s := regexp.MustCompile(`"(?:[^"\\]|\\.)*"`).ReplaceAllString(expr, `""`)
	s = regexp.MustCompile(`\b\d+(?:\.\d+)?(?:[eE][+-]?\d+)?\b`).ReplaceAllString(s, " ")
	s = regexp.MustCompile(`\{[^}]*\}`).ReplaceAllString(s, " ")
	s = regexp.MustCompile(`\[[^\]]*\]`).ReplaceAllString(s, " ")
	for _, m := range regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)`).FindAllStringSubmatch(s, -1) {
		for _, l := range strings.Split(m[1], ",") {
			if l = strings.TrimSpace(l); l != "" {
				labels = append(labels, l)
			}
		}
	}
	s = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)`).ReplaceAllString(s, " ")
	keywords := map[string]bool{"and": true, "or": true, "unless": true, "bool": true, "offset": true}
	for _, m := range regexp.MustCompile(`\$?[A-Za-z_:][A-Za-z0-9_:]*(\s*\()?`).FindAllStringSubmatch(s, -1) {
		tok := strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(m[0]), "("))
		if m[1] != "" || strings.HasPrefix(tok, "$") || keywords[tok] {
			continue // a function call, a Grafana variable, a keyword
		}
		metrics = append(metrics, tok)
	}
	return metrics, labels
}

func TestPromQLRefs(t *testing.T) {
	m, l := promQLRefs(`topk(10, sum by (profile_name, model) (increase(tollgate_cost_nanodollars_total{code=~"5.."}[$__range])) / 1e9) * 100 / other_metric`)
	if strings.Join(m, ",") != "tollgate_cost_nanodollars_total,other_metric" || strings.Join(l, ",") != "profile_name,model" {
		t.Errorf("refs = %v %v", m, l)
	}
}

// exposition parses the Prometheus text format into metric name -> the
// label names its series carry.
func exposition(body string) map[string]map[string]bool {
	out := map[string]map[string]bool{}
	for _, line := range strings.Split(body, "\n") {
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		name, rest, _ := strings.Cut(line, "{")
		name = strings.Fields(name)[0]
		if out[name] == nil {
			out[name] = map[string]bool{}
		}
		if lbls, _, ok := strings.Cut(rest, "}"); ok {
			for _, m := range regexp.MustCompile(`([A-Za-z_][A-Za-z0-9_]*)="`).FindAllStringSubmatch(lbls, -1) {
				out[name][m[1]] = true
			}
		}
	}
	return out
}

// TestGrafanaDashboardQueriesExist starts a server, sends calls (some
// throttled, some failing, one streamed) through a tagged profile under a
// budget with an enforcing and a shadow action, and checks that every
// metric each query of dashboards/grafana-tollgate.json reads is exposed
// by /metrics, with the labels the query groups by.
func TestGrafanaDashboardQueriesExist(t *testing.T) {
	t.Parallel()
	raw, err := os.ReadFile("../../dashboards/grafana-tollgate.json")
	if err != nil {
		t.Fatal(err)
	}
	var dash struct {
		Panels []struct {
			Title   string `json:"title"`
			Type    string `json:"type"`
			Targets []struct {
				Expr string `json:"expr"`
			} `json:"targets"`
		} `json:"panels"`
	}
	if err := json.Unmarshal(raw, &dash); err != nil {
		t.Fatalf("the dashboard is not JSON: %v", err)
	}

	ts := startServer(t, "", func(c *config.Config) {
		c.MetricsTagLabels = "dept,team,app"
		c.Providers = []config.Provider{{Name: "test-sim", Type: "sim", Latency: 3 * time.Millisecond,
			Faults: []config.Fault{{After: 3, Every: 5, Kind: "throttled"}, {After: 4, Every: 5, Kind: "internal"}}}}
		c.BudgetEvalInterval = 20 * time.Millisecond
		// Upstream throttles of default calls are absorbed by priority
		// admission (re-queued, not passed on); a one-call-a-minute
		// quota on another model makes a throttle the client sees.
		c.Quotas.Rules = []config.QuotaRule{{Model: "amazon.nova-micro-v1:0", RPM: 1}}
	})
	ctx := t.Context()
	profileARN := createProfile(t, ts.bedrock(t), "sales-chat", haikuARN, tagList("dept", "sales", "team", "support", "app", "chat_app")...)
	rc := ts.runtime(t)
	for range 10 {
		_ = converse(ctx, rc, profileARN) // some fail; upstream throttles are re-queued by admission
	}
	for range 2 {
		_ = converse(ctx, rc, "amazon.nova-micro-v1:0") // the second is over the quota: ThrottlingException
	}
	out, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(profileARN), Messages: userText("stream")})
	if err != nil {
		t.Fatal(err)
	}
	if err := readConverseStream(out).err; err != nil {
		t.Fatal(err)
	}
	// A budget the spend has passed, with an enforcing and a shadow
	// BLOCK: the next call is refused (and counted by both).
	bc := ts.budgets(t)
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(budgetAcct),
		Budget: &bt.Budget{BudgetName: aws.String("sales-chat"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("10000"),
			FilterExpression: &bt.Expression{Tags: &bt.TagValues{Key: aws.String("app"), Values: []string{"chat_app"}}}}}); err != nil {
		t.Fatal(err)
	}
	for _, approval := range []bt.ApprovalModel{bt.ApprovalModelManual, bt.ApprovalModelAuto} {
		if _, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: aws.String(budgetAcct), BudgetName: aws.String("sales-chat"),
			NotificationType: bt.NotificationTypeActual, ActionType: "BLOCK",
			ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypeAbsoluteValue, ActionThresholdValue: 0.00001},
			Definition:      &bt.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: approval, Subscribers: []bt.Subscriber{}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := converse(ctx, rc, profileARN); errorCode(err) != "ServiceQuotaExceededException" {
		t.Fatalf("call past the BLOCK: %v", err)
	}
	// The budget's spend ($0.00001 threshold passed) engages its actions.
	eventually(t, "the enforcement gauge", func() bool {
		resp, err := ts.getMetrics(t)
		if err != nil {
			return false
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		return strings.Contains(string(b), `tollgate_budget_enforcement_active{account="`+budgetAcct+`",action=`)
	})
	resp, err := ts.getMetrics(t)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	exposed := exposition(string(body))

	queries := 0
	for _, p := range dash.Panels {
		for _, tg := range p.Targets {
			if tg.Expr == "" {
				t.Errorf("panel %q has a target without expr", p.Title)
				continue
			}
			queries++
			metrics, labels := promQLRefs(tg.Expr)
			if len(metrics) == 0 {
				t.Errorf("panel %q: query %q reads no metric", p.Title, tg.Expr)
			}
			have := map[string]bool{}
			for _, m := range metrics {
				ls, ok := exposed[m]
				if !ok {
					t.Errorf("panel %q: metric %s is not exposed by /metrics (query %q)", p.Title, m, tg.Expr)
				}
				for l := range ls {
					have[l] = true
				}
			}
			for _, l := range labels {
				if l != "le" && !have[l] {
					t.Errorf("panel %q: label %s is on none of %v (query %q)", p.Title, l, metrics, tg.Expr)
				}
			}
		}
	}
	if queries < 15 {
		t.Errorf("%d queries checked; the dashboard lost panels", queries)
	}
	want := []string{"Cost by tag (USD per hour)", "Top profiles by cost over the range", "Latency percentiles", "Throttles by model (per second)",
		"Errors by code (per second)", "Budget utilisation", "Enforcement state", "Notification backlog"}
	var titles []string
	for _, p := range dash.Panels {
		titles = append(titles, p.Title)
	}
	for _, w := range want {
		if !slices.Contains(titles, w) {
			t.Errorf("the dashboard has no panel %q", w)
		}
	}
	if t.Failed() {
		t.Logf("/metrics:\n%s", grepLines(string(body), "tollgate_"))
	}
}
