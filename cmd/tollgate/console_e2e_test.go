package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"
	"github.com/chromedp/chromedp"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/console"
	"github.com/tollgate-dev/tollgate/internal/demo"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// chromiumPath is Debian's chromium package's binary.
const chromiumPath = "/usr/bin/chromium"

// browser starts headless Chromium for a test, or skips the test when it
// is not installed (fails instead with TOLLGATE_REQUIRE_BROWSER=1, as CI
// sets). It returns a chromedp context (a fresh profile: no cookies).
func browser(t *testing.T) context.Context {
	t.Helper()
	if _, err := os.Stat(chromiumPath); err != nil {
		if os.Getenv("TOLLGATE_REQUIRE_BROWSER") == "1" {
			t.Fatalf("TOLLGATE_REQUIRE_BROWSER=1 but %s is missing: %v", chromiumPath, err)
		}
		t.Skipf("no Chromium at %s (apt-get install chromium); set TOLLGATE_REQUIRE_BROWSER=1 to fail instead", chromiumPath)
	}
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath),
		chromedp.Flag("headless", true),
		chromedp.Flag("no-sandbox", true),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("no-first-run", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("hide-scrollbars", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelB := chromedp.NewContext(actx)
	t.Cleanup(func() { cancelB(); cancelA() })
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1280, 800)); err != nil { // start the browser now
		t.Fatalf("starting Chromium: %v", err)
	}
	return ctx
}

// shots saves screenshots of the pages a browser test visits: to
// TOLLGATE_CONSOLE_SCREENSHOTS when set, else a test temp dir.
type shots struct {
	t   *testing.T
	dir string
}

func newShots(t *testing.T) *shots {
	dir := os.Getenv("TOLLGATE_CONSOLE_SCREENSHOTS")
	if dir == "" {
		dir = t.TempDir()
	} else if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return &shots{t: t, dir: dir}
}

// take captures the viewport (1280x800) as name.png.
func (s *shots) take(ctx context.Context, name string) {
	s.t.Helper()
	buf, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
	if err != nil {
		s.t.Fatalf("screenshot %s: %v", name, err)
	}
	if err := os.WriteFile(filepath.Join(s.dir, name+".png"), buf, 0o644); err != nil {
		s.t.Fatal(err)
	}
}

// crun runs browser actions with a bound, failing the test on error.
func crun(t *testing.T, ctx context.Context, what string, actions ...chromedp.Action[chromedp.Void]) {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(cctx, actions...); err != nil {
		var where string
		if body, err := chromedp.Run(ctx, chromedp.Evaluate[string](`location.href + "\n" + document.body.innerText.slice(0, 600)`)); err == nil {
			where = body
		}
		t.Fatalf("%s: %v; the page:\n%s", what, err, where)
	}
}

// get runs one browser action that returns a value.
func get[T any](t *testing.T, ctx context.Context, what string, a chromedp.Action[T]) T {
	t.Helper()
	cctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(cctx, a)
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	return v
}

// waitText reloads url until the element sel's text contains want.
func waitText(t *testing.T, ctx context.Context, url, sel, want string) string {
	t.Helper()
	var text string
	deadline := time.Now().Add(20 * time.Second)
	for {
		crun(t, ctx, "open "+url, chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS("main")))
		nodes := get(t, ctx, "count "+sel, chromedp.Evaluate[int](fmt.Sprintf(`document.querySelectorAll(%q).length`, sel)))
		if nodes > 0 {
			text = get(t, ctx, "read "+sel, chromedp.Text(chromedp.CSS(sel)))
			if strings.Contains(text, want) {
				return text
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: %q never showed %q (last %q)", url, sel, want, text)
		}
		time.Sleep(300 * time.Millisecond)
	}
}

// TestConsoleInBrowser drives the console in headless Chromium against a
// started Tollgate: the root signs in; creates a tagged profile through
// the form; Converse calls go through it with the AWS SDK; the cost
// explorer grouped by the tag shows a table total equal to
// GetCostAndUsage's (through the SDK); a budget below the spend shows as
// exceeded; an invocation-limit alarm goes to ALARM; a restricted user
// sees what its policy allows and is refused what it does not. Every page
// visited is saved as a screenshot.
func TestConsoleInBrowser(t *testing.T) {
	ctx := browser(t)
	ts := startServer(t, "", func(c *config.Config) {
		if os.Getenv("TOLLGATE_TEST_LOG") != "" {
			c.LogLevel = "info"
		}
	})
	shot := newShots(t)
	base := ts.URL()
	const region, account = "us-east-1", "123456789012"

	t.Run("sign in as root", func(t *testing.T) {
		crun(t, ctx, "open console", chromedp.Navigate(base+"/"), chromedp.WaitVisible(chromedp.ID("access_key_id")))
		shot.take(ctx, "01-signin")
		crun(t, ctx, "sign in",
			chromedp.SendKeys(chromedp.ID("access_key_id"), ts.RootAccessKeyID),
			chromedp.SendKeys(chromedp.ID("secret_access_key"), ts.RootSecretAccessKey),
			chromedp.Click(chromedp.ID("signin")),
			chromedp.WaitVisible(chromedp.ID("mtd")))
	})

	var profileARN string
	t.Run("create a tagged profile", func(t *testing.T) {
		crun(t, ctx, "profile form", chromedp.Navigate(base+"/console/profiles/new"), chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), "support-chat"),
			chromedp.SetValue(chromedp.ID("source"), arn.FoundationModel(region, haikuID)),
			chromedp.SendKeys(chromedp.ID("tags"), "team=support\ndept=sales"))
		shot.take(ctx, "02-profile-create")
		crun(t, ctx, "create", chromedp.Click(chromedp.ID("create-profile")), chromedp.WaitVisible(chromedp.ID("profile-arn")))
		profileARN = get(t, ctx, "profile ARN", chromedp.Text(chromedp.ID("profile-arn")))
		if !strings.HasPrefix(profileARN, "arn:aws:bedrock:us-east-1:"+account+":application-inference-profile/") {
			t.Fatalf("profile ARN %q", profileARN)
		}
	})

	t.Run("calls through the SDK", func(t *testing.T) {
		rt := ts.runtime(t)
		for i := range 5 {
			if _, err := rt.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(profileARN), Messages: userText(fmt.Sprintf("hello %d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		id := profileARN[strings.LastIndex(profileARN, "/")+1:]
		waitText(t, ctx, base+"/console/profiles/"+id, "#profile-mtd", "$")
		shot.take(ctx, "03-profile-detail")
	})

	t.Run("cost explorer equals GetCostAndUsage", func(t *testing.T) {
		now := time.Now().UTC()
		month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC)
		tomorrow := now.Truncate(24*time.Hour).AddDate(0, 0, 1)
		out, err := costexplorer.NewFromConfig(ts.awsConfig(t)).GetCostAndUsage(t.Context(), &costexplorer.GetCostAndUsageInput{
			Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost"},
			TimePeriod: &cetypes.DateInterval{Start: aws.String(month.Format(time.DateOnly)), End: aws.String(tomorrow.Format(time.DateOnly))},
			GroupBy:    []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeTag, Key: aws.String("team")}},
		})
		if err != nil {
			t.Fatal(err)
		}
		var sdkTotal, support money.Amount
		for _, r := range out.ResultsByTime {
			for _, g := range r.Groups {
				a, err := money.Parse(aws.ToString(g.Metrics["UnblendedCost"].Amount))
				if err != nil {
					t.Fatal(err)
				}
				sdkTotal += a
				if g.Keys[0] == "team$support" {
					support += a
				}
			}
		}
		if support <= 0 {
			t.Fatalf("GetCostAndUsage shows no spend for team$support: %+v", out.ResultsByTime)
		}
		crun(t, ctx, "cost explorer", chromedp.Navigate(base+"/console/costs?range=mtd&gran=DAILY&group=tag:team"),
			chromedp.WaitVisible(chromedp.ID("cost-table")))
		total := get(t, ctx, "table total", chromedp.Text(chromedp.ID("table-total")))
		table := get(t, ctx, "table", chromedp.Text(chromedp.CSS("#cost-table tbody")))
		shot.take(ctx, "04-cost-explorer")
		if want := console.FormatUSD(sdkTotal); total != want {
			t.Errorf("table total %q, GetCostAndUsage total %q", total, want)
		}
		if !strings.Contains(table, "support") || !strings.Contains(table, console.FormatUSD(support)) {
			t.Errorf("table %q lacks the support row at %s", table, console.FormatUSD(support))
		}
		segments := get(t, ctx, "chart", chromedp.Evaluate[int](`document.querySelectorAll("svg.chart rect.seg").length`))
		if segments == 0 {
			t.Error("the chart draws no bar")
		}
	})

	t.Run("budget below the spend is exceeded", func(t *testing.T) {
		crun(t, ctx, "budget form", chromedp.Navigate(base+"/console/budgets/new"), chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), "support-budget"),
			chromedp.SendKeys(chromedp.ID("limit"), "0.000001"),
			chromedp.SendKeys(chromedp.ID("tag_key_0"), "team"),
			chromedp.SendKeys(chromedp.ID("tag_value_0"), "support"),
			chromedp.SendKeys(chromedp.ID("subscriber"), "finance@example.com"))
		shot.take(ctx, "05-budget-create")
		crun(t, ctx, "create budget", chromedp.Click(chromedp.ID("save-budget")), chromedp.WaitVisible(chromedp.ID("budget-actual")))
		waitText(t, ctx, base+"/console/budgets", `tr.exceeded[data-budget="support-budget"]`, "Exceeded")
		shot.take(ctx, "06-budgets")
		crun(t, ctx, "budget detail", chromedp.Navigate(base+"/console/budgets/support-budget"), chromedp.WaitVisible(chromedp.ID("budget-actual")))
		shot.take(ctx, "07-budget-detail")
	})

	t.Run("invocation-limit alarm goes to ALARM", func(t *testing.T) {
		id := profileARN[strings.LastIndex(profileARN, "/")+1:]
		crun(t, ctx, "alarm form", chromedp.Navigate(base+"/console/alarms/new?profile="+id), chromedp.WaitVisible(chromedp.ID("name")),
			chromedp.SendKeys(chromedp.ID("name"), "support-invocation-limit"),
			chromedp.SendKeys(chromedp.ID("threshold"), "2"))
		shot.take(ctx, "08-alarm-create")
		crun(t, ctx, "create alarm", chromedp.Click(chromedp.ID("create-alarm")), chromedp.WaitVisible(chromedp.ID("alarm-state")))
		// More calls in this minute, then the evaluation the alarm job
		// runs every ten seconds, made now.
		for i := range 3 {
			if _, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(profileARN), Messages: userText(fmt.Sprintf("again %d", i))}); err != nil {
				t.Fatal(err)
			}
		}
		if err := ts.Watch.Alarms.Evaluate(t.Context(), time.Now().Add(time.Minute)); err != nil {
			t.Fatal(err)
		}
		waitText(t, ctx, base+"/console/alarms/support-invocation-limit", "#alarm-state", "ALARM")
		shot.take(ctx, "09-alarm-detail")
		waitText(t, ctx, base+"/console/alarms", "#alarm-table", "ALARM")
		shot.take(ctx, "10-alarms")
		crun(t, ctx, "metrics", chromedp.Navigate(base+"/console/metrics?profile="+id), chromedp.WaitVisible(chromedp.CSS("main")))
		shot.take(ctx, "11-metrics")
		crun(t, ctx, "profiles", chromedp.Navigate(base+"/console/profiles"), chromedp.WaitVisible(chromedp.ID("app-profiles")))
		shot.take(ctx, "12-profiles")
		crun(t, ctx, "home", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.ID("mtd")))
		shot.take(ctx, "13-home")
		crun(t, ctx, "usage", chromedp.Navigate(base+"/console/usage"), chromedp.WaitVisible(chromedp.ID("usage-table")))
		shot.take(ctx, "13-usage")
	})

	t.Run("administer access", func(t *testing.T) {
		crun(t, ctx, "access", chromedp.Navigate(base+"/console/access"), chromedp.WaitVisible(chromedp.ID("principals")),
			chromedp.SendKeys(chromedp.ID("p-name"), "ops"),
			chromedp.SendKeys(chromedp.ID("p-tags"), "team=ops"))
		shot.take(ctx, "15-access")
		crun(t, ctx, "create principal", chromedp.Click(chromedp.ID("create-principal")), chromedp.WaitVisible(chromedp.ID("principal-arn")),
			chromedp.Click(chromedp.ID("create-access-key")), chromedp.WaitVisible(chromedp.ID("new-secret")))
		shot.take(ctx, "16-access-key-created")
		keyID := get(t, ctx, "key id", chromedp.Text(chromedp.ID("new-key-id")))
		secret := get(t, ctx, "secret", chromedp.Text(chromedp.ID("new-key-secret")))
		if got, err := ts.Principals.Secret(t.Context(), keyID); err != nil || got != secret {
			t.Errorf("the secret shown is not the key's: %v", err)
		}
		p, ok := ts.Principals.Principal("user-" + account + "-ops")
		if !ok || p.Tags["team"] != "ops" {
			t.Errorf("principal created through the form: %+v %v", p, ok)
		}
		crun(t, ctx, "refused policy", chromedp.Navigate(base+"/console/access/policies/new"), chromedp.WaitVisible(chromedp.ID("document")),
			chromedp.SendKeys(chromedp.ID("pol-name"), "ops-invoke"),
			chromedp.SetValue(chromedp.ID("document"), `{"Version": "2012-10-17", "Statement": [{"Effect": "Alow", "Action": "bedrock:InvokeModel", "Resource": "*"}]}`),
			chromedp.Click(chromedp.ID("save-policy")), chromedp.WaitVisible(chromedp.ID("policy-error")))
		shot.take(ctx, "17-policy-refused")
		if msg := get(t, ctx, "policy error", chromedp.Text(chromedp.ID("policy-error"))); !strings.Contains(msg, "Statement[0].Effect") {
			t.Errorf("policy error %q does not name Statement[0].Effect", msg)
		}
		crun(t, ctx, "saved policy", chromedp.SetValue(chromedp.ID("document"), `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "*"}]}`),
			chromedp.Click(chromedp.ID("save-policy")), chromedp.WaitVisible(chromedp.CSS("p.flash")))
		if pols := ts.Directory.Policies(account); len(pols) != 1 || pols[0].Name != "ops-invoke" {
			t.Errorf("policies after the editor: %+v", pols)
		}
	})

	t.Run("restricted user", func(t *testing.T) {
		ts.putPolicy(t, account, "cost-viewer", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ce:GetCostAndUsage","ce:GetTags","bedrock:ListInferenceProfiles","bedrock:GetInferenceProfile"],"Resource":"*"}]}`)
		_, key, secret := ts.newUser(t, account, "viewer", []string{"cost-viewer"})
		crun(t, ctx, "sign out", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("button.link")),
			chromedp.Click(chromedp.CSS("button.link")), chromedp.WaitVisible(chromedp.ID("access_key_id")))
		crun(t, ctx, "sign in as viewer",
			chromedp.SendKeys(chromedp.ID("access_key_id"), key),
			chromedp.SendKeys(chromedp.ID("secret_access_key"), secret),
			chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.CSS(`nav[aria-label="Main"]`)))
		crun(t, ctx, "costs", chromedp.Navigate(base+"/console/costs?group=tag:team"), chromedp.WaitVisible(chromedp.ID("table-total")))
		total := get(t, ctx, "viewer total", chromedp.Text(chromedp.ID("table-total")))
		if !strings.HasPrefix(total, "$") {
			t.Errorf("the viewer's cost explorer total = %q", total)
		}
		crun(t, ctx, "budgets", chromedp.Navigate(base+"/console/budgets"), chromedp.WaitVisible(chromedp.CSS(".denied")))
		denied := get(t, ctx, "denied panel", chromedp.Text(chromedp.CSS(".denied")))
		shot.take(ctx, "14-not-authorized")
		if !strings.Contains(denied, "budgets:ViewBudget") {
			t.Errorf("denied panel %q does not name budgets:ViewBudget", denied)
		}
		crun(t, ctx, "create profile refused", chromedp.Navigate(base+"/console/profiles/new"), chromedp.WaitVisible(chromedp.CSS("main")))
		body := get(t, ctx, "main", chromedp.Text(chromedp.CSS("main")))
		if !strings.Contains(body, "bedrock:CreateInferenceProfile") {
			t.Errorf("the viewer's profile form: %q, want a refusal naming bedrock:CreateInferenceProfile", body)
		}
		if n := get(t, ctx, "access nav", chromedp.Evaluate[int](`document.querySelectorAll('nav a[href="/console/access"]').length`)); n != 0 {
			t.Error("the viewer's navigation has Access")
		}
		crun(t, ctx, "access refused", chromedp.Navigate(base+"/console/access"), chromedp.WaitVisible(chromedp.CSS(".denied")))
		if body := get(t, ctx, "main", chromedp.Text(chromedp.CSS("main"))); !strings.Contains(body, "tollgate:ListPrincipals") {
			t.Errorf("the viewer's Access page: %q, want a refusal naming tollgate:ListPrincipals", body)
		}
	})

	t.Run("forged and signed-out requests", func(t *testing.T) {
		c := ts.consoleClient(t)
		if got := c.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", got)
		}
		if status, _ := c.post("/console/profiles/"+profileARN[strings.LastIndex(profileARN, "/")+1:]+"/delete", nil); status != http.StatusForbidden {
			t.Errorf("forged delete without CSRF token = %d, want 403", status)
		}
		if _, err := ts.Profiles.Get(account, profileARN); err != nil {
			t.Errorf("the forged delete deleted the profile: %v", err)
		}
		crun(t, ctx, "sign out", chromedp.Navigate(base+"/console/"), chromedp.WaitVisible(chromedp.CSS("button.link")),
			chromedp.Click(chromedp.CSS("button.link")), chromedp.WaitVisible(chromedp.ID("access_key_id")))
		crun(t, ctx, "after sign-out", chromedp.Navigate(base+"/console/costs"), chromedp.WaitVisible(chromedp.ID("access_key_id")))
		loc := get(t, ctx, "location", chromedp.Location())
		if !strings.Contains(loc, "/console/signin") {
			t.Errorf("after sign-out the console is at %s, want the sign-in page", loc)
		}
	})
}

// TestConsoleDemoScreenshots takes the screenshots docs/console.md shows,
// from the demo's data: run with TOLLGATE_CONSOLE_DOCS=docs/console (it is
// skipped otherwise). It checks each page renders without an error panel.
func TestConsoleDemoScreenshots(t *testing.T) {
	dir := os.Getenv("TOLLGATE_CONSOLE_DOCS")
	if dir == "" {
		t.Skip("set TOLLGATE_CONSOLE_DOCS to a directory to take the documentation's screenshots")
	}
	ctx := browser(t)
	ts := startServer(t, "", nil)
	shot := &shots{t: t, dir: dir}
	ccfg, err := ts.clientConfig(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	arns, err := demo.Drive(t.Context(), ccfg, "us-east-1", "123456789012", 400, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	// The demo's 60 days of history, its budgets, alarm and anomaly
	// monitor, as `tollgate demo` makes them.
	if err := ts.demoHistory(t.Context(), ccfg, arns, 60, io.Discard); err != nil {
		t.Fatal(err)
	}
	c := ts.consoleClient(t)
	if got := c.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", got)
	}
	for _, b := range []url.Values{
		{"name": {"all-teams"}, "limit": {"20000"}, "threshold_0": {"90"}},
	} {
		b.Set("csrf", c.csrf("/console/budgets/new"))
		b.Set("time_unit", "MONTHLY")
		b.Set("forecast", "100")
		b.Set("subscriber", "finops@example.com")
		if status, body := c.post("/console/budgets", b); status != http.StatusSeeOther {
			t.Fatalf("budget %s: %d %.300s", b.Get("name"), status, body)
		}
	}
	var profileID string
	for _, p := range ts.Profiles.ListApplication("123456789012") {
		if p.Tags["app"] == "chat_app" {
			profileID = p.ID
		}
	}
	if status, body := c.post("/console/alarms", url.Values{"csrf": {c.csrf("/console/alarms/new")}, "name": {"chat-app-invocation-limit"},
		"profile": {profileID}, "metric": {"Invocations"}, "threshold": {"20"}, "period": {"60"}, "periods": {"1"}}); status != http.StatusSeeOther {
		t.Fatalf("alarm: %d %.300s", status, body)
	}
	if err := ts.Watch.Alarms.Evaluate(t.Context(), time.Now().Add(time.Minute)); err != nil {
		t.Fatal(err)
	}
	// The Access page's examples: a policy, an analyst with tags and that
	// policy, and a key.
	acsrf := c.csrf("/console/access")
	if status, body := c.post("/console/access/policies", url.Values{"csrf": {acsrf}, "new": {"1"}, "name": {"cost-readers"}, "document": {`{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["ce:GetCostAndUsage", "ce:GetCostForecast", "budgets:ViewBudget"],
      "Resource": "*"
    },
    {
      "Effect": "Allow",
      "Action": "bedrock:ListInferenceProfiles",
      "Resource": "*"
    }
  ]
}`}}); status != http.StatusSeeOther {
		t.Fatalf("policy: %d %.300s", status, body)
	}
	if status, body := c.post("/console/access/principals", url.Values{"csrf": {acsrf}, "name": {"finops-analyst"}, "kind": {"user"}, "tags": {"team=finance\ncostcenter=4100"}}); status != http.StatusSeeOther {
		t.Fatalf("principal: %d %.300s", status, body)
	}
	if status, body := c.post("/console/access/policies", url.Values{"csrf": {acsrf}, "new": {"1"}, "name": {"profile-admins"}, "document": {
		`{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "bedrock:*InferenceProfile*", "Resource": "*"}]}`}}); status != http.StatusSeeOther {
		t.Fatalf("policy: %d %.300s", status, body)
	}
	const analyst = "user-123456789012-finops-analyst"
	if status, body := c.post("/console/access/principals/"+analyst+"/policies", url.Values{"csrf": {acsrf}, "policy": {"cost-readers"}}); status != http.StatusSeeOther {
		t.Fatalf("attach: %d %.300s", status, body)
	}

	crun(t, ctx, "sign-in page", chromedp.Navigate(ts.URL()+"/console/"), chromedp.WaitVisible(chromedp.ID("access_key_id")),
		chromedp.SendKeys(chromedp.ID("access_key_id"), ts.RootAccessKeyID))
	shot.take(ctx, "signin")
	crun(t, ctx, "sign in", chromedp.SendKeys(chromedp.ID("secret_access_key"), ts.RootSecretAccessKey),
		chromedp.Click(chromedp.ID("signin")), chromedp.WaitVisible(chromedp.ID("mtd")))
	for _, pg := range []struct{ name, path string }{
		{"home", "/console/"},
		{"cost-explorer", "/console/costs?range=mtd&gran=DAILY&group=tag:app"},
		{"cost-explorer-by-profile", "/console/costs?range=7d&gran=DAILY&group=dim:RESOURCE_ID"},
		{"budgets", "/console/budgets"},
		{"budget", "/console/budgets/" + demo.SalesBudgetName},
		{"budget-create", "/console/budgets/new"},
		{"profiles", "/console/profiles"},
		{"profile", "/console/profiles/" + profileID},
		{"profile-create", "/console/profiles/new"},
		{"metrics", "/console/metrics?profile=" + profileID},
		{"alarms", "/console/alarms"},
		{"alarm", "/console/alarms/chat-app-invocation-limit"},
		{"alarm-create", "/console/alarms/new?profile=" + profileID},
		{"usage", "/console/usage"},
		{"anomalies", "/console/anomalies"},
		{"access", "/console/access"},
		{"access-principal", "/console/access/principals/" + analyst},
		{"access-policy", "/console/access/policies/cost-readers"},
	} {
		crun(t, ctx, pg.name, chromedp.Navigate(ts.URL()+pg.path), chromedp.WaitVisible(chromedp.CSS("main")))
		if n := get(t, ctx, "errors on "+pg.name, chromedp.Evaluate[int](`document.querySelectorAll(".panel.error, .denied, p.error").length`)); n != 0 {
			t.Errorf("%s shows %d error panels", pg.path, n)
		}
		shot.take(ctx, pg.name)
	}
	crun(t, ctx, "create access key", chromedp.Navigate(ts.URL()+"/console/access/principals/"+analyst),
		chromedp.WaitVisible(chromedp.ID("create-access-key")), chromedp.Click(chromedp.ID("create-access-key")), chromedp.WaitVisible(chromedp.ID("new-secret")))
	shot.take(ctx, "access-key-created")
	crun(t, ctx, "invalid policy", chromedp.Navigate(ts.URL()+"/console/access/policies/new"), chromedp.WaitVisible(chromedp.ID("document")),
		chromedp.SetValue(chromedp.ID("pol-name"), "team-invokers"),
		chromedp.SetValue(chromedp.ID("document"), `{"Version": "2012-10-17", "Statement": [{"Effect": "Allwo", "Action": "bedrock:InvokeModel", "Resource": "*"}]}`),
		chromedp.Click(chromedp.ID("save-policy")), chromedp.WaitVisible(chromedp.ID("policy-error")))
	shot.take(ctx, "access-policy-invalid")
}
