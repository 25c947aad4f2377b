package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsmiddleware "github.com/aws/aws-sdk-go-v2/aws/middleware"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
)

// TestFirstHourWalkThrough is docs/first-hour.md as a script, all through
// the tollgate binary: build it, run the demo once, serve its data
// directory, create a profile, a budget and an alarm with Tollgate's own
// commands, send calls with the AWS SDK, and see the budget's spend, the
// alarm's state and the request log change.
func TestFirstHourWalkThrough(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary and waits for a minute to end for the alarm")
	}
	t.Parallel() // partly waiting for the alarm's minute to end: overlap it with the other tests
	ctx := t.Context()
	bin, err := buildBinary() // shared with the process tests (durability_test.go)
	if err != nil {
		t.Fatal(err)
	}
	data := t.TempDir()
	env := append(os.Environ(), "TOLLGATE_DATA_DIR="+data)
	tg := func(t *testing.T, wantCode int, args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, bin, args...)
		cmd.Env = env
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatalf("tollgate %s: %v", strings.Join(args, " "), err)
		}
		if code != wantCode {
			t.Fatalf("tollgate %s: exit %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, wantCode, stdout.String(), stderr.String())
		}
		return stdout.String()
	}

	t.Run("version", func(t *testing.T) {
		if out := tg(t, 0, "version"); !strings.HasPrefix(out, "tollgate ") || !strings.Contains(out, "go1.") {
			t.Errorf("tollgate version: %q", out)
		}
	})
	if !t.Run("demo once", func(t *testing.T) {
		tg(t, 0, "demo", "--once", "--addr", "127.0.0.1:0", "--log-level", "error")
	}) {
		return
	}

	// serve the demo's data directory on a free port; it rewrites the
	// config file with its endpoint once it listens.
	if err := os.Remove(filepath.Join(data, "config")); err != nil {
		t.Fatal(err)
	}
	srvCtx, stop := context.WithCancel(ctx)
	srv := exec.CommandContext(srvCtx, bin, "serve", "--addr", "127.0.0.1:0", "--log-level", "error", "--alarm-eval-interval", "1s")
	srv.Env = env
	var srvErr bytes.Buffer
	srv.Stderr = &srvErr
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = srv.Process.Signal(os.Interrupt)
		done := make(chan struct{})
		go func() { _ = srv.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(30 * time.Second):
			stop()
			<-done
		}
		stop()
	})
	endpoint := waitFor(t, 60*time.Second, func() (string, bool) {
		conf := readConfigFile(filepath.Join(data, "config"))
		ep := conf["endpoint_url"]
		if ep == "" {
			return "", false
		}
		resp, err := http.Get(ep + "/readyz")
		if err != nil {
			return "", false
		}
		resp.Body.Close()
		return ep, resp.StatusCode == 200
	}, func() string { return srvErr.String() })

	var profileARN string
	t.Run("profile", func(t *testing.T) {
		tg(t, 0, "profiles", "create", "walk-bot", "--model", "anthropic.claude-3-haiku-20240307-v1:0", "--tag", "dept=walk", "--tag", "app=walk_bot")
		var rows []map[string]any
		if err := json.Unmarshal([]byte(tg(t, 0, "profiles", "show", "walk-bot", "-o", "json")), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("profiles show -o json: %v %v", rows, err)
		}
		profileARN, _ = rows[0]["arn"].(string)
		if tags, _ := rows[0]["tags"].(map[string]any); tags["dept"] != "walk" || !strings.Contains(profileARN, "application-inference-profile/") {
			t.Fatalf("profile %v", rows[0])
		}
		if out := tg(t, 0, "profiles", "list"); !strings.Contains(out, "walk-bot") {
			t.Errorf("profiles list lacks walk-bot:\n%s", out)
		}
	})
	if profileARN == "" {
		t.FailNow()
	}
	t.Run("budget and alarm", func(t *testing.T) {
		tg(t, 0, "budgets", "create", "walk-budget", "--limit", "100", "--scope", "dept=walk,app=walk_bot",
			"--alert", "80%:email=finance@example.com", "--enforce", "throttle=600/min")
		tg(t, 0, "alarms", "create", "walk-limit", "--profile", "walk-bot", "--metric", "Invocations", "--threshold", "3", "--period", "1m")
		if out := tg(t, 0, "budgets", "show", "walk-budget"); !strings.Contains(out, "Actual:    $0.00") || !strings.Contains(out, "THROTTLE(600/min)@100%") {
			t.Errorf("budgets show before any call:\n%s", out)
		}
		// A new alarm starts in INSUFFICIENT_DATA; once evaluated (every
		// second here, so a slow machine gets there before this show),
		// its missing datapoints are not breaching: OK. Never ALARM.
		if out := tg(t, 0, "alarms", "show", "walk-limit"); !strings.Contains(out, "INSUFFICIENT_DATA") &&
			!(strings.Contains(out, "State:      OK") && strings.Contains(out, "Missing datapoints were treated as not breaching")) {
			t.Errorf("alarms show before any call:\n%s", out)
		}
		tg(t, 2, "budgets", "create", "walk-budget", "--limit", "ten")
		tg(t, 1, "budgets", "show", "no-such-budget")
	})

	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedCredentialsFiles([]string{filepath.Join(data, "credentials")}),
		awsconfig.WithRegion("us-east-1"), awsconfig.WithBaseEndpoint(endpoint))
	if err != nil {
		t.Fatal(err)
	}
	rc := bedrockruntime.NewFromConfig(cfg)
	t.Run("calls", func(t *testing.T) {
		for range 6 {
			if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileARN), Messages: userText("How do I file a claim?")}); err != nil {
				t.Fatal(err)
			}
		}
	})

	t.Run("state changes", func(t *testing.T) {
		waitFor(t, 60*time.Second, func() (string, bool) {
			out := tg(t, 0, "budgets", "show", "walk-budget")
			return out, !strings.Contains(out, "Actual:    $0.00 ")
		}, func() string { return tg(t, 0, "budgets", "show", "walk-budget") })
		var rows []map[string]any
		if err := json.Unmarshal([]byte(tg(t, 0, "budgets", "list", "-o", "json")), &rows); err != nil {
			t.Fatal(err)
		}
		found := false
		for _, r := range rows {
			if r["name"] == "walk-budget" {
				found = true
				if a, _ := r["actual"].(string); !strings.HasSuffix(a, " USD") || a == "0.000000000 USD" {
					t.Errorf("budgets list -o json: actual %v", r["actual"])
				}
			}
		}
		if !found {
			t.Errorf("budgets list -o json lacks walk-budget: %v", rows)
		}
	})

	t.Run("request log", func(t *testing.T) {
		out := tg(t, 0, "usage", "--since", "1h", "--profile", "walk-bot", "-n", "50")
		if n := strings.Count(out, "walk-bot"); n != 6 {
			t.Errorf("usage --since 1h --profile walk-bot shows %d calls, want 6:\n%s", n, out)
		}
		var recs []map[string]any
		if err := json.Unmarshal([]byte(tg(t, 0, "usage", "--since", "1h", "--tag", "dept=walk", "-o", "json")), &recs); err != nil || len(recs) != 6 {
			t.Fatalf("usage --tag dept=walk -o json: %d records, %v", len(recs), err)
		}
		if c, _ := recs[0]["cost"].(string); !strings.HasSuffix(c, " USD") || recs[0]["profileName"] != "walk-bot" || recs[0]["principalName"] != "root" {
			t.Errorf("usage record %v", recs[0])
		}
		tg(t, 2, "usage", "--tag", "dpet=walk")
		tg(t, 2, "report", "--group-by", "tag:dpet")
		if out := tg(t, 0, "report", "--group-by", "profile"); !strings.Contains(out, "walk-bot") {
			t.Errorf("report --group-by profile lacks walk-bot:\n%s", out)
		}
		// Seven profiles: the two costliest and one row for the rest.
		out = tg(t, 0, "report", "--group-by", "profile", "--top", "2")
		rows := 0
		for _, line := range strings.Split(out, "\n") {
			if line != "" && line[0] >= '0' && line[0] <= '9' {
				rows++
			}
		}
		if rows != 3 || !strings.Contains(out, "(5 others)") {
			t.Errorf("report --group-by profile --top 2: %d rows:\n%s", rows, out)
		}
		tg(t, 1, "usage", "--data-dir", filepath.Join(data, "typo"))
	})

	t.Run("tail the request log", func(t *testing.T) {
		// usage --follow prints calls as they are recorded: two more calls
		// appear as two JSON lines.
		fctx, cancel := context.WithCancel(ctx)
		defer cancel()
		follow := exec.CommandContext(fctx, bin, "usage", "--follow", "--profile", "walk-bot", "-n", "1", "-o", "json")
		follow.Env = env
		pr, pw := io.Pipe()
		follow.Stdout = pw
		if err := follow.Start(); err != nil {
			t.Fatal(err)
		}
		lines := make(chan map[string]any, 16)
		go func() {
			sc := bufio.NewScanner(pr)
			for sc.Scan() {
				var m map[string]any
				if json.Unmarshal(sc.Bytes(), &m) == nil {
					lines <- m
				}
			}
			close(lines)
		}()
		// The most recent call first, then the new ones.
		first := <-lines
		if first["profileName"] != "walk-bot" {
			t.Fatalf("usage --follow first line %v", first)
		}
		want := map[string]bool{}
		for range 2 {
			out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileARN), Messages: userText("And a follow-up?")})
			if err != nil {
				t.Fatal(err)
			}
			id, _ := awsmiddleware.GetRequestIDMetadata(out.ResultMetadata)
			want[id] = true
		}
		deadline := time.After(60 * time.Second)
		for len(want) > 0 {
			select {
			case m, ok := <-lines:
				if !ok {
					t.Fatal("usage --follow ended")
				}
				delete(want, fmt.Sprint(m["requestId"]))
			case <-deadline:
				t.Fatalf("usage --follow did not print the calls %v", want)
			}
		}
		cancel()
		pw.Close()
		_ = follow.Wait()
		if _, err := os.Stat(filepath.Join(data, "typo")); err == nil {
			t.Errorf("usage created the mistyped data directory")
		}
	})

	t.Run("alarm fires", func(t *testing.T) {
		// The alarm sees a minute once it has ended (the server evaluates
		// every second here): checked last, so the request log's checks
		// above overlap the wait.
		waitFor(t, 150*time.Second, func() (string, bool) {
			out := tg(t, 0, "alarms", "list", "--state", "ALARM")
			return out, strings.Contains(out, "walk-limit")
		}, func() string { return tg(t, 0, "alarms", "list") })
	})

	t.Run("change and remove", func(t *testing.T) {
		tg(t, 0, "profiles", "tag", "walk-bot", "--tag", "env=trial")
		tg(t, 0, "profiles", "untag", "walk-bot", "--key", "app")
		var rows []map[string]any
		if err := json.Unmarshal([]byte(tg(t, 0, "profiles", "show", "walk-bot", "-o", "json")), &rows); err != nil || len(rows) != 1 {
			t.Fatalf("profiles show: %v", err)
		}
		if tags, _ := rows[0]["tags"].(map[string]any); tags["env"] != "trial" || tags["app"] != nil || tags["dept"] != "walk" {
			t.Errorf("tags after tag and untag: %v", tags)
		}
		tg(t, 0, "budgets", "update", "walk-budget", "--limit", "250", "--enforce", "block")
		if out := tg(t, 0, "budgets", "show", "walk-budget"); !strings.Contains(out, "Limit:     $250.00") || !strings.Contains(out, "BLOCK@100%") ||
			strings.Contains(out, "THROTTLE") {
			t.Errorf("budgets show after update:\n%s", out)
		}
		tg(t, 0, "budgets", "update", "walk-budget", "--enforce", "none")
		if out := tg(t, 0, "budgets", "show", "walk-budget"); strings.Contains(out, "Actions:") {
			t.Errorf("budgets show after --enforce none:\n%s", out)
		}
		tg(t, 0, "budgets", "delete", "walk-budget")
		tg(t, 1, "budgets", "show", "walk-budget")
		tg(t, 0, "alarms", "delete", "walk-limit")
		tg(t, 1, "alarms", "show", "walk-limit")
		tg(t, 0, "profiles", "delete", "walk-bot")
		if out := tg(t, 0, "profiles", "list"); strings.Contains(out, "walk-bot") {
			t.Errorf("profiles list after delete:\n%s", out)
		}
	})
}

// waitFor polls f until it reports done or d passes; then the test fails
// with what detail returns.
func waitFor(t *testing.T, d time.Duration, f func() (string, bool), detail func() string) string {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		v, ok := f()
		if ok {
			return v
		}
		if time.Now().After(deadline) {
			t.Fatalf("gave up after %s:\n%s", d, detail())
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// readConfigFile reads key = value lines.
func readConfigFile(path string) map[string]string {
	out := map[string]string{}
	data, err := os.ReadFile(path)
	if err != nil {
		return out
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}
