package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/resolversidecar"
	"github.com/tollgate-dev/tollgate/resolver"
)

// runningSidecar is a `tollgate resolver` started in-process.
type runningSidecar struct {
	*resolversidecar.Sidecar
	cancel context.CancelFunc
	done   chan error
}

// startSidecar starts a sidecar on a free port, pointed at ts, and stops
// it when the test ends.
func startSidecar(t *testing.T, ts *testServer, cfg resolversidecar.Config) *runningSidecar {
	t.Helper()
	cfg.Listen = "127.0.0.1:0"
	cfg.Endpoint = ts.URL()
	cfg.Region = ts.Config.Region
	cfg.Credentials = ts.CredentialsFile()
	var logw io.Writer = io.Discard
	if os.Getenv("TOLLGATE_TEST_LOG") != "" {
		logw = os.Stderr
	}
	s, err := resolversidecar.New(t.Context(), cfg, nil, slog.New(slog.NewJSONHandler(logw, nil)))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	rs := &runningSidecar{Sidecar: s, cancel: cancel, done: make(chan error, 1)}
	go func() { rs.done <- s.Run(ctx) }()
	t.Cleanup(func() { rs.stop(t) })
	return rs
}

func (rs *runningSidecar) stop(t *testing.T) {
	t.Helper()
	if rs.cancel == nil {
		return
	}
	rs.cancel()
	if err := <-rs.done; err != nil {
		t.Errorf("sidecar Run: %v", err)
	}
	rs.cancel = nil
}

// get sends GET path to the sidecar and decodes the JSON answer.
func (rs *runningSidecar) get(t *testing.T, path string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(rs.URL() + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: decoding: %v", path, err)
	}
	return resp.StatusCode, body
}

// expect checks one /resolve answer: its status and the listed fields.
func (rs *runningSidecar) expect(t *testing.T, path string, status int, fields map[string]any) {
	t.Helper()
	got, body := rs.get(t, path)
	if got != status {
		t.Errorf("GET %s = %d %v, want %d", path, got, body, status)
		return
	}
	for k, want := range fields {
		if fmt.Sprint(body[k]) != fmt.Sprint(want) {
			t.Errorf("GET %s: %s = %v, want %v (body %v)", path, k, body[k], want, body)
		}
	}
}

// insuranceProfiles creates the profiles the resolver tests look up and
// returns their ARNs by name.
func insuranceProfiles(t *testing.T, ts *testServer) map[string]string {
	t.Helper()
	bc := ts.bedrock(t)
	arns := map[string]string{}
	for _, p := range []struct {
		name string
		tags []string
	}{
		{"claims", []string{"tenant", "acme", "app", "claims_chatbot", "dept", "claims"}},
		{"sales", []string{"tenant", "acme", "app", "chat_app", "dept", "sales"}},
		{"globex-1", []string{"tenant", "globex", "app", "chat_app"}},
		{"globex-2", []string{"tenant", "globex", "app", "chat_app"}},
		{"untagged", nil},
	} {
		arns[p.name] = createProfile(t, bc, p.name, haikuARN, tagList(p.tags...)...)
	}
	return arns
}

func waitForFile(t *testing.T, path, substr string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		if data, err := os.ReadFile(path); err == nil && strings.Contains(string(data), substr) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("%s never came to contain %q", path, substr)
}

// TestResolverSidecarSurvivesRestart runs the sidecar against Tollgate's
// Tagging API, kills Tollgate, restarts the sidecar from its snapshot, and
// still gets answers.
func TestResolverSidecarSurvivesRestart(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	arns := insuranceProfiles(t, ts)
	dir := t.TempDir()
	snapshot := filepath.Join(dir, "snapshot.json")
	mapFile := filepath.Join(dir, "map.yaml")
	var stdout, stderr strings.Builder
	if err := run(t.Context(), []string{"profiles", "export-map",
		"--endpoint", ts.URL(), "--region", ts.Config.Region, "--credentials", ts.CredentialsFile(),
		"--key", "tenant,app", "--allow-duplicates", "--out", mapFile}, &stdout, &stderr, os.Getenv); err != nil {
		t.Fatalf("export-map: %v\n%s", err, stderr.String())
	}

	cfg := resolversidecar.Config{Snapshot: snapshot, SnapshotDelay: 10 * time.Millisecond, TTL: time.Minute, Static: mapFile, Warm: false}
	sc := startSidecar(t, ts, cfg)
	sc.expect(t, "/healthz", 200, map[string]any{"status": "ok"})
	sc.expect(t, "/resolve?tenant=acme&app=claims_chatbot", 200, map[string]any{"arn": arns["claims"], "source": "upstream", "stale": false})
	sc.expect(t, "/resolve?app=claims_chatbot&tenant=acme", 200, map[string]any{"arn": arns["claims"], "source": "cache", "stale": false})
	sc.expect(t, "/resolve?tenant=nobody", 404, map[string]any{"error": "no match", "query": "tenant=nobody"})
	sc.expect(t, "/resolve?tenant=globex&app=chat_app", 409, map[string]any{"error": "ambiguous", "arns": []any{
		min(arns["globex-1"], arns["globex-2"]), max(arns["globex-1"], arns["globex-2"])}})
	sc.expect(t, "/resolve", 400, nil)
	sc.expect(t, "/resolve?tenant=acme&tenant=globex", 400, nil)
	sc.expect(t, "/resolve?tenant=", 400, nil)
	if code, st := sc.get(t, "/stats"); code != 200 || st["hits"].(float64) < 1 || st["misses"].(float64) < 3 || st["keys"].(float64) != 3 {
		t.Errorf("GET /stats = %d %v", code, st)
	}
	waitForFile(t, snapshot, arns["claims"])

	// Kill the upstream, restart the sidecar from its snapshot.
	sc.stop(t)
	ts.stop()
	sc = startSidecar(t, ts, cfg)
	sc.expect(t, "/resolve?tenant=acme&app=claims_chatbot", 200, map[string]any{"arn": arns["claims"], "source": "snapshot", "stale": true})
	sc.expect(t, "/resolve?tenant=nobody", 404, nil)
	sc.expect(t, "/resolve?tenant=globex&app=chat_app", 409, nil)
	// Never asked before the restart: the static map answers.
	sc.expect(t, "/resolve?tenant=acme&app=chat_app", 200, map[string]any{"arn": arns["sales"], "source": "static"})
	// Neither cached nor in the map.
	sc.expect(t, "/resolve?dept=sales", 503, nil)
	sc.stop(t)

	// The snapshot written at exit still holds the answers (with their
	// original fetch times), so a second restart answers too.
	sc = startSidecar(t, ts, resolversidecar.Config{Snapshot: snapshot, TTL: time.Minute})
	sc.expect(t, "/resolve?tenant=acme&app=claims_chatbot", 200, map[string]any{"arn": arns["claims"], "source": "snapshot"})
}

// TestResolverAgainstTollgate drives the resolver package through the AWS
// SDK's tagging client against Tollgate: throttling (ThrottledException
// over CBOR) is retried, and a tag change is seen within one TTL.
func TestResolverAgainstTollgate(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.TaggingRate = 5 })
	bc := ts.bedrock(t)
	const n = 12
	arns := make([]string, n)
	for i := range arns {
		arns[i] = createProfile(t, bc, fmt.Sprintf("tenant-%02d", i), haikuARN, tagList("tenant", fmt.Sprintf("t%02d", i), "app", "chat_app")...)
	}
	client, err := resolversidecar.TaggingClient(t.Context(), ts.URL(), ts.Config.Region, ts.CredentialsFile(), "")
	if err != nil {
		t.Fatal(err)
	}
	const ttl = 2 * time.Second
	r, err := resolver.New(resolver.Options{
		API:     client,
		TTL:     ttl,
		Backoff: resolver.Backoff{Base: 50 * time.Millisecond, Max: time.Second, MaxAttempts: 20},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()

	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			q := resolver.MustQuery(map[string]string{"tenant": fmt.Sprintf("t%02d", i), "app": "chat_app"})
			arn, err := r.Resolve(t.Context(), q)
			if err == nil && arn != arns[i] {
				err = fmt.Errorf("got %s, want %s", arn, arns[i])
			}
			errs[i] = err
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatal(err)
	}
	if st := r.Stats(); st.Throttles == 0 {
		t.Errorf("Stats = %+v; want some throttled calls at 5 requests/s", st)
	}

	// Move tenant t00 to another profile; the next lookup after one TTL
	// sees it.
	q := resolver.MustQuery(map[string]string{"tenant": "t00", "app": "chat_app"})
	start := time.Now()
	if _, err := bc.UntagResource(t.Context(), &bedrock.UntagResourceInput{ResourceARN: aws.String(arns[0]), TagKeys: []string{"tenant"}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.TagResource(t.Context(), &bedrock.TagResourceInput{ResourceARN: aws.String(arns[1]), Tags: tagList("tenant", "t00")}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(ttl + 100*time.Millisecond)
	arn, err := r.Resolve(t.Context(), q)
	if err != nil || arn != arns[1] {
		t.Errorf("after the tag change and %v: Resolve = %s, %v; want %s", time.Since(start).Round(time.Millisecond), arn, err, arns[1])
	}
}
