package main

import (
	"bytes"
	"crypto/tls"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// consoleClient is a browser-like HTTP client of the console: a cookie
// jar, no redirects followed (tests look at them).
type consoleClient struct {
	t    *testing.T
	base string
	http *http.Client
}

func (ts *testServer) consoleClient(t *testing.T) *consoleClient {
	jar, _ := cookiejar.New(nil)
	return &consoleClient{t: t, base: ts.URL(), http: &http.Client{Jar: jar, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

var csrfRE = regexp.MustCompile(`name="csrf" value="([^"]*)"`)

// get fetches path and returns the status and body.
func (c *consoleClient) get(path string) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest("GET", c.base+path, nil)
	req.Header.Set("Accept", "text/html")
	return c.do(req)
}

func (c *consoleClient) do(req *http.Request) (int, string) {
	c.t.Helper()
	resp, err := c.http.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if loc := resp.Header.Get("Location"); loc != "" {
		return resp.StatusCode, loc
	}
	return resp.StatusCode, string(b)
}

// post sends a form to path; csrf is added as the form's token when not
// empty.
func (c *consoleClient) post(path string, form url.Values) (int, string) {
	c.t.Helper()
	req, _ := http.NewRequest("POST", c.base+path, strings.NewReader(form.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", c.base)
	return c.do(req)
}

// csrf returns the CSRF token of a page's forms.
func (c *consoleClient) csrf(page string) string {
	c.t.Helper()
	_, body := c.get(page)
	m := csrfRE.FindStringSubmatch(body)
	if m == nil {
		c.t.Fatalf("no CSRF token on %s: %.300s", page, body)
	}
	return m[1]
}

// signIn signs in with an access key; it returns the status of the
// sign-in POST.
func (c *consoleClient) signIn(keyID, secret string) int {
	c.t.Helper()
	tok := c.csrf("/console/signin")
	status, _ := c.post("/console/signin", url.Values{"csrf": {tok}, "method": {"key"}, "access_key_id": {keyID}, "secret_access_key": {secret}})
	return status
}

// sessionToken returns the session cookie's value.
func (c *consoleClient) sessionToken() string {
	u, _ := url.Parse(c.base + "/console/")
	for _, ck := range c.http.Jar.Cookies(u) {
		if ck.Name == "tollgate_console" {
			return ck.Value
		}
	}
	return ""
}

// TestConsoleMountAndSessions checks the console's front: a browser's GET
// / goes to the console and API clients are unaffected; sign-in checks the
// secret, is rate-limited per address, and starts a session whose cookie
// is HttpOnly and SameSite=Strict; a POST without the CSRF token is
// refused; a signed-out, idle or expired session, or one whose key was
// deactivated, is refused; a console form over the body limit is refused.
func TestConsoleMountAndSessions(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.BodyReadTimeout = 400 * time.Millisecond })
	c := ts.consoleClient(t)

	t.Run("redirects", func(t *testing.T) {
		if status, loc := c.get("/"); status != http.StatusFound || loc != "/console/" {
			t.Errorf("GET / (browser) = %d %s, want 302 /console/", status, loc)
		}
		if status, loc := c.get("/console/"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/signin") {
			t.Errorf("GET /console/ signed out = %d %s, want 303 to the sign-in page", status, loc)
		}
	})
	t.Run("API clients unaffected", func(t *testing.T) {
		if _, err := ts.bedrock(t).ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{}); err != nil {
			t.Fatal(err)
		}
		// A request with credentials under /console/ is the APIs', not
		// the console's.
		req, _ := http.NewRequest("GET", ts.URL()+"/console/", nil)
		req.Header.Set("Authorization", "Bearer nope")
		status, body := c.do(req)
		if status == http.StatusOK || strings.Contains(body, "<html") {
			t.Errorf("bearer request to /console/ = %d %.200s, want an API error", status, body)
		}
	})
	t.Run("API key", func(t *testing.T) {
		key := strings.TrimSpace(readFile(t, filepath.Join(ts.Config.DataDir, "bedrock-api-key")))
		a := ts.consoleClient(t)
		tok := a.csrf("/console/signin")
		if status, loc := a.post("/console/signin", url.Values{"csrf": {tok}, "method": {"apikey"}, "api_key": {key}}); status != http.StatusSeeOther || loc != "/console/" {
			t.Fatalf("API key sign-in = %d %s", status, loc)
		}
		if status, body := a.get("/console/"); status != http.StatusOK || !strings.Contains(body, "root") {
			t.Errorf("home after API key sign-in = %d", status)
		}
	})
	t.Run("wrong secret", func(t *testing.T) {
		if got := c.signIn(ts.RootAccessKeyID, "not-the-secret"); got != http.StatusUnauthorized {
			t.Errorf("sign-in with a wrong secret = %d, want 401", got)
		}
		if c.sessionToken() != "" {
			t.Error("a failed sign-in set a session cookie")
		}
	})
	t.Run("sign in", func(t *testing.T) {
		tok := c.csrf("/console/signin")
		req, _ := http.NewRequest("POST", ts.URL()+"/console/signin", strings.NewReader(url.Values{"csrf": {tok}, "method": {"key"},
			"access_key_id": {ts.RootAccessKeyID}, "secret_access_key": {ts.RootSecretAccessKey}}.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := c.http.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusSeeOther {
			t.Fatalf("sign-in = %d, want 303", resp.StatusCode)
		}
		var cookie *http.Cookie
		for _, ck := range resp.Cookies() {
			if ck.Name == "tollgate_console" {
				cookie = ck
			}
		}
		if cookie == nil || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Secure {
			t.Errorf("session cookie = %+v, want HttpOnly, SameSite=Strict, not Secure over plain HTTP", cookie)
		}
		if status, body := c.get("/console/"); status != http.StatusOK || !strings.Contains(body, "Month-to-date spend") {
			t.Errorf("home after sign-in = %d %.200s", status, body)
		}
	})
	t.Run("CSRF", func(t *testing.T) {
		form := url.Values{"name": {"forged"}, "limit": {"10"}, "time_unit": {"MONTHLY"}}
		if status, _ := c.post("/console/budgets", form); status != http.StatusForbidden {
			t.Errorf("POST without CSRF token = %d, want 403", status)
		}
		form.Set("csrf", "forged-token")
		if status, _ := c.post("/console/budgets", form); status != http.StatusForbidden {
			t.Errorf("POST with a forged CSRF token = %d, want 403", status)
		}
		form.Set("csrf", c.csrf("/console/budgets/new"))
		req, _ := http.NewRequest("POST", ts.URL()+"/console/budgets", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("Origin", "https://evil.example")
		if status, _ := c.do(req); status != http.StatusForbidden {
			t.Errorf("POST from another origin = %d, want 403", status)
		}
		if status, loc := c.post("/console/budgets", form); status != http.StatusSeeOther || !strings.Contains(loc, "/console/budgets/forged") {
			t.Errorf("POST with the token = %d %s, want 303 to the budget", status, loc)
		}
	})
	t.Run("body limit", func(t *testing.T) {
		big := url.Values{"csrf": {c.csrf("/console/budgets/new")}, "name": {strings.Repeat("x", 70<<10)}}
		if status, _ := c.post("/console/budgets", big); status != http.StatusRequestEntityTooLarge {
			t.Errorf("70 KiB form = %d, want 413", status)
		}
	})
	t.Run("signed out", func(t *testing.T) {
		other := ts.consoleClient(t)
		if got := other.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", got)
		}
		token := other.sessionToken()
		if status, _ := other.post("/console/signout", url.Values{"csrf": {other.csrf("/console/")}}); status != http.StatusSeeOther {
			t.Fatalf("sign-out = %d", status)
		}
		// The old cookie, replayed, is refused.
		req, _ := http.NewRequest("GET", ts.URL()+"/console/costs", nil)
		req.AddCookie(&http.Cookie{Name: "tollgate_console", Value: token})
		if status, loc := (&consoleClient{t: t, base: ts.URL(), http: &http.Client{CheckRedirect: other.http.CheckRedirect}}).do(req); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/signin") {
			t.Errorf("signed-out session = %d %s, want a redirect to sign in", status, loc)
		}
	})
	t.Run("idle", func(t *testing.T) {
		other := ts.consoleClient(t)
		other.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey)
		h := session.Hash(other.sessionToken())
		if err := ts.DB.TouchConsoleSession(t.Context(), h, time.Now().Add(-2*time.Hour), ""); err != nil {
			t.Fatal(err)
		}
		if status, loc := other.get("/console/"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/signin") {
			t.Errorf("idle session = %d %s, want a redirect to sign in", status, loc)
		}
		if _, err := ts.DB.ConsoleSession(t.Context(), h); err == nil {
			t.Error("the idle session is still stored")
		}
	})
	t.Run("deactivated key", func(t *testing.T) {
		ts.putPolicy(t, "123456789012", "console-all", `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`)
		_, key, secret := ts.newUser(t, "123456789012", "erin", []string{"console-all"})
		u := ts.consoleClient(t)
		if got := u.signIn(key, secret); got != http.StatusSeeOther {
			t.Fatalf("sign-in = %d", got)
		}
		if status, _ := u.get("/console/costs"); status != http.StatusOK {
			t.Fatalf("costs = %d", status)
		}
		ts.mustCLI(t, nil, "keys", "deactivate", key)
		if status, loc := u.get("/console/costs"); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/signin") {
			t.Errorf("after the key was deactivated = %d %s, want a redirect to sign in", status, loc)
		}
	})
	t.Run("rate limit", func(t *testing.T) {
		r := ts.consoleClient(t)
		var last int
		for range 8 {
			last = r.signIn("AKIANOSUCHKEY0000000", "x")
		}
		if last != http.StatusTooManyRequests {
			t.Errorf("8th failed sign-in in a row = %d, want 429", last)
		}
		// The right secret is refused too while the address is limited.
		if got := r.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusTooManyRequests {
			t.Errorf("sign-in while limited = %d, want 429", got)
		}
	})
	t.Run("stalled body", func(t *testing.T) {
		full := bytes.Repeat([]byte("a"), 100)
		req, _ := http.NewRequest("POST", ts.URL()+"/console/signin", &slowBody{data: full[:10]})
		req.ContentLength = 100
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return // the server closed the connection: refused
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest {
			t.Errorf("stalled console body = %d, want 400", resp.StatusCode)
		}
	})
}

// slowBody sends data, then blocks until the request is abandoned.
type slowBody struct {
	data []byte
	sent bool
}

func (b *slowBody) Read(p []byte) (int, error) {
	if !b.sent {
		b.sent = true
		return copy(p, b.data), nil
	}
	time.Sleep(3 * time.Second)
	return 0, io.EOF
}

// TestConsoleAnomalies shows a stored anomaly of the account's monitor
// with its root causes, and records feedback given with its buttons.
func TestConsoleAnomalies(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	const acct = "123456789012"
	ctx := t.Context()
	now := time.Now().UTC().Truncate(time.Hour)
	m := anomaly.Monitor{ARN: anomaly.MonitorARN(acct, "m1"), Account: acct, Name: "by-team", Type: anomaly.Dimensional,
		Dimension: anomaly.DimTag, TagKey: "team", ResourceTags: tags.Set{}, CreatedAt: now, UpdatedAt: now}
	if err := ts.DB.CreateAnomalyMonitor(ctx, m); err != nil {
		t.Fatal(err)
	}
	a := anomaly.Anomaly{ID: "an-1", Account: acct, MonitorARN: m.ARN, DimensionValue: "team$support", Start: now.Add(-3 * time.Hour), End: now.Add(-time.Hour),
		MaxScore: 9, CurrentScore: 4, Actual: 42 * money.Dollar, Expected: 12 * money.Dollar, MaxImpact: 15 * money.Dollar,
		RootCauses: []anomaly.RootCause{{Account: acct, Region: "us-east-1", UsageType: "USE1-Claude3Haiku-output-tokens", ModelID: haikuID, Contribution: 27 * money.Dollar}},
		DetectedAt: now, UpdatedAt: now}
	if err := ts.DB.PutAnomalies(ctx, []anomaly.Anomaly{a}); err != nil {
		t.Fatal(err)
	}
	c := ts.consoleClient(t)
	c.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey)
	status, body := c.get("/console/anomalies")
	for _, want := range []string{"team$support", "$30.00", "250%", "USE1-Claude3Haiku-output-tokens", "$27.00"} {
		if !strings.Contains(body, want) {
			t.Errorf("anomalies page (%d) lacks %q", status, want)
		}
	}
	if _, home := c.get("/console/"); !strings.Contains(home, "team$support") {
		t.Error("home does not list the recent anomaly")
	}
	if status, loc := c.post("/console/anomalies/an-1/feedback", url.Values{"csrf": {c.csrf("/console/anomalies")}, "feedback": {"PLANNED_ACTIVITY"}}); status != http.StatusSeeOther {
		t.Fatalf("feedback = %d %s", status, loc)
	}
	got, err := ts.DB.Anomalies(ctx, anomaly.AnomalyFilter{Account: acct})
	if err != nil || len(got) != 1 || got[0].Feedback != anomaly.FeedbackPlanned {
		t.Errorf("stored anomalies after feedback: %+v, %v", got, err)
	}
}

// TestConsoleOverTLS signs in over HTTPS: the session cookie is Secure.
func TestConsoleOverTLS(t *testing.T) {
	t.Parallel()
	cert, key, pool := selfSignedCert(t)
	ts := startServerTLS(t, func(c *config.Config) { c.TLSCert, c.TLSKey = cert, key }, pool)
	jar, _ := cookiejar.New(nil)
	client := &http.Client{Jar: jar, Timeout: 30 * time.Second,
		Transport:     &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	c := &consoleClient{t: t, base: ts.URL(), http: client}
	tok := c.csrf("/console/signin")
	req, _ := http.NewRequest("POST", ts.URL()+"/console/signin", strings.NewReader(url.Values{"csrf": {tok}, "method": {"key"},
		"access_key_id": {ts.RootAccessKeyID}, "secret_access_key": {ts.RootSecretAccessKey}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var secure bool
	for _, ck := range resp.Cookies() {
		if ck.Name == "tollgate_console" {
			secure = ck.Secure && ck.HttpOnly && ck.SameSite == http.SameSiteStrictMode
		}
	}
	if resp.StatusCode != http.StatusSeeOther || !secure {
		t.Errorf("sign-in over TLS = %d, session cookie Secure/HttpOnly/Strict = %v", resp.StatusCode, secure)
	}
	if status, _ := c.get("/console/costs"); status != http.StatusOK {
		t.Errorf("costs over TLS = %d", status)
	}
}

// TestConsoleHomeMainTagKey checks the home page's main tag key: the
// configured consoleMainTagKey, overridden by ?tag=KEY, with links to the
// other keys that have spend this month.
func TestConsoleHomeMainTagKey(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.ConsoleMainTagKey = "team" })
	ctx := t.Context()
	rc := ts.runtime(t)
	for _, p := range []struct{ name, dept, team string }{{"claims-bot", "claims", "automation"}, {"sales-chat", "sales", "support"}} {
		arn := createProfile(t, ts.bedrock(t), p.name, haikuARN, tagList("dept", p.dept, "team", p.team)...)
		if err := converse(ctx, rc, arn); err != nil {
			t.Fatal(err)
		}
	}
	c := ts.consoleClient(t)
	if got := c.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
		t.Fatalf("sign-in = %d", got)
	}
	for _, tc := range []struct{ path, key, other string }{
		{"/console/", "team", "dept"},
		{"/console/?tag=dept", "dept", "team"},
	} {
		status, body := c.get(tc.path)
		if status != http.StatusOK {
			t.Fatalf("GET %s = %d", tc.path, status)
		}
		if !strings.Contains(body, "Top <code>"+tc.key+"</code> values") {
			t.Errorf("GET %s does not rank by %s", tc.path, tc.key)
		}
		if !strings.Contains(body, `<a href="/console/?tag=`+tc.other+`">`+tc.other+`</a>`) {
			t.Errorf("GET %s has no link to rank by %s", tc.path, tc.other)
		}
	}
}
