package main

import (
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/arn"
)

// TestConsoleAuthorization signs in a user with no policy and checks that
// every console page and action is authorized as the AWS operation it
// stands for: the page answers 403 with the not-authorized panel naming
// that action (and no figures), the home page shows each panel denied;
// the same pages work for the root. A user of another account with every
// permission sees none of this account's profiles, budgets, alarms or
// spend, and cannot switch accounts.
func TestConsoleAuthorization(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	root := ts.consoleClient(t)
	if got := root.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
		t.Fatalf("root sign-in = %d", got)
	}
	// A profile (with spend), a budget and an alarm, made by the root.
	status, loc := root.post("/console/profiles", url.Values{"csrf": {root.csrf("/console/profiles/new")}, "name": {"team-a"},
		"source": {arn.FoundationModel("us-east-1", haikuID)}, "tags": {"team=a"}})
	if status != http.StatusSeeOther {
		t.Fatalf("create profile = %d %s", status, loc)
	}
	id := strings.TrimPrefix(strings.Split(loc, "?")[0], "/console/profiles/")
	p, err := ts.Profiles.Get("123456789012", id)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(p.ARN), Messages: userText("hello")}); err != nil {
		t.Fatal(err)
	}
	if status, loc := root.post("/console/budgets", url.Values{"csrf": {root.csrf("/console/budgets/new")}, "name": {"team-a-budget"},
		"limit": {"100"}, "time_unit": {"MONTHLY"}, "tag_key_0": {"team"}, "tag_value_0": {"a"}}); status != http.StatusSeeOther {
		t.Fatalf("create budget = %d %s", status, loc)
	}
	if status, loc := root.post("/console/alarms", url.Values{"csrf": {root.csrf("/console/alarms/new")}, "name": {"team-a-limit"},
		"profile": {id}, "metric": {"Invocations"}, "threshold": {"100"}, "period": {"60"}, "periods": {"1"}}); status != http.StatusSeeOther {
		t.Fatalf("create alarm = %d %s", status, loc)
	}

	// A policy saved through the Access page's editor, and a user acted on.
	if status, loc := root.post("/console/access/policies", url.Values{"csrf": {root.csrf("/console/access/policies/new")}, "new": {"1"},
		"name": {"readers"}, "document": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ce:Get*","Resource":"*"}]}`}}); status != http.StatusSeeOther {
		t.Fatalf("create policy = %d %s", status, loc)
	}
	bob, _, _ := ts.newUser(t, "123456789012", "bob", []string{"readers"})
	if _, err := ts.Directory.CreateAPIKey(t.Context(), bob); err != nil {
		t.Fatal(err)
	}
	bobAPIKey := ts.Directory.APIKeys(bob)[0].ID

	_, key, secret := ts.newUser(t, "123456789012", "nobody", nil)
	nobody := ts.consoleClient(t)
	if got := nobody.signIn(key, secret); got != http.StatusSeeOther {
		t.Fatalf("nobody sign-in = %d", got)
	}
	pages := []struct{ path, action string }{
		{"/console/costs", "ce:GetCostAndUsage"},
		{"/console/costs.csv", "ce:GetCostAndUsage"},
		{"/console/budgets", "budgets:ViewBudget"},
		{"/console/budgets/new", "budgets:ModifyBudget"},
		{"/console/budgets/team-a-budget", "budgets:ViewBudget"},
		{"/console/budgets/team-a-budget/edit", "budgets:ModifyBudget"},
		{"/console/profiles", "bedrock:ListInferenceProfiles"},
		{"/console/profiles/new", "bedrock:CreateInferenceProfile"},
		{"/console/profiles/" + id, "bedrock:GetInferenceProfile"},
		{"/console/alarms", "cloudwatch:DescribeAlarms"},
		{"/console/alarms/new", "cloudwatch:PutMetricAlarm"},
		{"/console/alarms/team-a-limit", "cloudwatch:DescribeAlarms"},
		{"/console/metrics", "cloudwatch:GetMetricData"},
		{"/console/anomalies", "ce:GetAnomalies"},
		{"/console/usage", "ce:GetCostAndUsageWithResources"},
		{"/console/access", "tollgate:ListAccounts"},
		{"/console/access/principals/" + bob, "tollgate:GetPrincipal"},
		{"/console/access/policies/new", "tollgate:PutPolicy"},
		{"/console/access/policies/readers", "tollgate:ListPolicies"},
	}
	for _, pg := range pages {
		t.Run("GET "+pg.path, func(t *testing.T) {
			status, body := nobody.get(pg.path)
			if status != http.StatusForbidden || !strings.Contains(body, "Not authorized") || !strings.Contains(body, "<code>"+pg.action+"</code>") {
				t.Errorf("nobody: %d %.400s, want 403 naming %s", status, body, pg.action)
			}
			if strings.Contains(body, "team-a-budget") && pg.path != "/console/budgets/team-a-budget" && pg.path != "/console/budgets/team-a-budget/edit" {
				t.Errorf("the denied page shows the budget's name")
			}
			if status, _ := root.get(pg.path); status != http.StatusOK {
				t.Errorf("root: %d, want 200", status)
			}
		})
	}
	t.Run("edit budget", func(t *testing.T) {
		status, loc := root.post("/console/budgets", url.Values{"csrf": {root.csrf("/console/budgets/team-a-budget/edit")}, "edit": {"1"},
			"name": {"team-a-budget"}, "limit": {"250.50"}, "time_unit": {"MONTHLY"}, "tag_key_0": {"team"}, "tag_value_0": {"a"}})
		if status != http.StatusSeeOther {
			t.Fatalf("edit = %d %s", status, loc)
		}
		v, err := ts.Budgets.Service.Get(t.Context(), "123456789012", "team-a-budget")
		if err != nil || v.Limit != 250_500_000_000 || len(v.Notifications) != 0 {
			t.Errorf("after the edit: limit %d, %d notifications, %v; want $250.50 and the notifications kept (none)", v.Limit, len(v.Notifications), err)
		}
	})
	t.Run("usage", func(t *testing.T) {
		_, body := root.get("/console/usage")
		if !strings.Contains(body, "team-a") || !strings.Contains(body, "Converse") || !strings.Contains(body, "team=a") {
			t.Errorf("the root's usage page lacks the call: %.600s", body)
		}
		_, rows := root.get("/console/usage?fragment=rows")
		if !strings.HasPrefix(strings.TrimSpace(rows), "<tr>") || !strings.Contains(rows, "team-a") {
			t.Errorf("usage rows fragment: %.300s", rows)
		}
		if status, _ := nobody.get("/console/usage?fragment=rows"); status != http.StatusForbidden {
			t.Errorf("nobody's usage rows = %d, want 403", status)
		}
	})
	t.Run("home", func(t *testing.T) {
		status, body := nobody.get("/console/")
		for _, a := range []string{"ce:GetCostAndUsage", "ce:GetCostForecast", "budgets:ViewBudget", "cloudwatch:DescribeAlarms", "ce:GetAnomalies"} {
			if !strings.Contains(body, "<code>"+a+"</code>") {
				t.Errorf("home (%d) does not show %s denied", status, a)
			}
		}
		if strings.Contains(body, `id="mtd"`) {
			t.Error("home shows the month-to-date spend to a user denied ce:GetCostAndUsage")
		}
	})
	csrf := nobody.csrf("/console/")
	actions := []struct {
		path   string
		form   url.Values
		action string
	}{
		{"/console/budgets", url.Values{"name": {"x"}, "limit": {"1"}, "time_unit": {"MONTHLY"}}, "budgets:ModifyBudget"},
		{"/console/profiles", url.Values{"name": {"x"}, "source": {arn.FoundationModel("us-east-1", haikuID)}}, "bedrock:CreateInferenceProfile"},
		{"/console/profiles/" + id + "/tags", url.Values{"add": {"team=b"}}, "bedrock:TagResource"},
		{"/console/profiles/" + id + "/tags", url.Values{"remove": {"team"}}, "bedrock:UntagResource"},
		{"/console/profiles/" + id + "/delete", url.Values{"confirm": {"yes"}}, "bedrock:DeleteInferenceProfile"},
		{"/console/alarms", url.Values{"name": {"x"}, "metric": {"Invocations"}, "threshold": {"1"}, "period": {"60"}, "periods": {"1"}}, "cloudwatch:PutMetricAlarm"},
		{"/console/anomalies/some-anomaly/feedback", url.Values{"feedback": {"NO"}}, "ce:ProvideAnomalyFeedback"},
		{"/console/account", url.Values{"account": {"123456789012"}}, ""},
		{"/console/access/principals", url.Values{"name": {"x"}, "kind": {"user"}, "tags": {"team=a"}}, "tollgate:CreatePrincipal"},
		{"/console/access/principals/" + bob + "/access-keys", url.Values{}, "tollgate:CreateAccessKey"},
		{"/console/access/principals/" + bob + "/api-keys", url.Values{}, "tollgate:CreateAPIKey"},
		{"/console/access/principals/" + bob + "/policies", url.Values{"policy": {"readers"}}, "tollgate:AttachPolicy"},
		{"/console/access/principals/" + bob + "/policies/readers/detach", url.Values{}, "tollgate:DetachPolicy"},
		{"/console/access/access-keys/" + ts.RootAccessKeyID, url.Values{"status": {"Inactive"}}, "tollgate:UpdateAccessKey"},
		{"/console/access/api-keys/" + bobAPIKey + "/revoke", url.Values{}, "tollgate:RevokeAPIKey"},
		{"/console/access/policies", url.Values{"name": {"readers"}, "document": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}}, "tollgate:PutPolicy"},
	}
	for _, a := range actions {
		t.Run("POST "+a.path+" "+a.action, func(t *testing.T) {
			a.form.Set("csrf", csrf)
			status, body := nobody.post(a.path, a.form)
			if status != http.StatusForbidden || !strings.Contains(body, "Not authorized") || (a.action != "" && !strings.Contains(body, "<code>"+a.action+"</code>")) {
				t.Errorf("nobody: %d %.300s, want 403 naming %s", status, body, a.action)
			}
		})
	}
	if _, err := ts.Profiles.Get("123456789012", id); err != nil {
		t.Errorf("the profile is gone after a denied delete: %v", err)
	}
	if _, found := ts.Principals.ByAccessKey(ts.RootAccessKeyID); !found {
		t.Error("the root's key was deactivated by a denied request")
	}
	if ks := ts.Directory.APIKeys(bob); ks[0].Status != "Active" || len(ts.Directory.AccessKeys(bob)) != 1 || len(ts.Directory.APIKeys(bob)) != 1 {
		t.Errorf("bob's keys changed by denied requests: %+v", ks)
	}
	if pols := ts.Directory.Policies("123456789012"); len(pols) != 1 || strings.Contains(pols[0].Document, `"Action":"*"`) {
		t.Errorf("policies after a denied PutPolicy: %+v", pols)
	}
	if _, body := nobody.get("/console/"); strings.Contains(body, `href="/console/access"`) {
		t.Error("the nav shows Access to a principal allowed no admin read")
	}
	if _, body := root.get("/console/"); !strings.Contains(body, `href="/console/access"`) {
		t.Error("the nav lacks Access for the root")
	}

	t.Run("other account", func(t *testing.T) {
		const other = "222222222222"
		ts.mustCLI(t, nil, "accounts", "create", "--id", other, "--name", "other")
		ts.putPolicy(t, other, "everything", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
		_, key, secret := ts.newUser(t, other, "olga", []string{"everything"})
		o := ts.consoleClient(t)
		if got := o.signIn(key, secret); got != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", got)
		}
		for _, path := range []string{"/console/profiles", "/console/budgets", "/console/alarms", "/console/costs?group=tag:team"} {
			status, body := o.get(path)
			if status != http.StatusOK || strings.Contains(body, "team-a") || strings.Contains(body, id) {
				t.Errorf("%s as account %s: %d, shows account 123456789012's resources: %v", path, other, status, strings.Contains(body, "team-a"))
			}
		}
		if status, _ := o.get("/console/profiles/" + id); status != http.StatusNotFound {
			t.Errorf("another account's profile page = %d, want 404", status)
		}
		if status, _ := o.post("/console/account", url.Values{"csrf": {o.csrf("/console/")}, "account": {"123456789012"}}); status != http.StatusForbidden {
			t.Errorf("account switch by another account's user = %d, want 403", status)
		}
		// The management root switches to the other account and back.
		if status, _ := root.post("/console/account", url.Values{"csrf": {root.csrf("/console/")}, "account": {other}}); status != http.StatusSeeOther {
			t.Fatalf("root switch = %d", status)
		}
		if _, body := root.get("/console/profiles"); strings.Contains(body, "team-a") {
			t.Error("the root looking at the other account sees this account's profile")
		}
		root.post("/console/account", url.Values{"csrf": {root.csrf("/console/")}, "account": {""}})
		if _, body := root.get("/console/profiles"); !strings.Contains(body, "team-a") {
			t.Error("the root back on its account does not see its profile")
		}
	})
}
