package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// jsClientDir holds the pinned JavaScript dependencies (package.json,
// package-lock.json) and the script TestJavaScriptClients runs.
const jsClientDir = "testdata/jsclient"

// jsUsage is a Converse TokenUsage as the JavaScript SDK deserialises it.
type jsUsage struct {
	InputTokens  int `json:"inputTokens"`
	OutputTokens int `json:"outputTokens"`
	TotalTokens  int `json:"totalTokens"`
}

// jsError is a thrown SDK exception.
type jsError struct {
	Name           string `json:"name"`
	HTTPStatusCode int    `json:"httpStatusCode"`
	Fault          string `json:"fault"`
	Message        string `json:"message"`
}

// jsReport is what testdata/jsclient/test.mjs prints.
type jsReport struct {
	Problems            []string `json:"problems"`
	ControlPlaneHandler string   `json:"controlPlaneHandler"`
	RuntimeHandler      string   `json:"runtimeHandler"`
	Listed              []string `json:"listed"`
	Profile             *struct {
		ARN    string   `json:"arn"`
		Name   string   `json:"name"`
		Type   string   `json:"type"`
		Status string   `json:"status"`
		Models []string `json:"models"`
	} `json:"profile"`
	Converse *struct {
		Text           string  `json:"text"`
		StopReason     string  `json:"stopReason"`
		Usage          jsUsage `json:"usage"`
		HTTPStatusCode int     `json:"httpStatusCode"`
	} `json:"converse"`
	ConverseStream *struct {
		Text       string   `json:"text"`
		Events     []string `json:"events"`
		StopReason string   `json:"stopReason"`
		Usage      *jsUsage `json:"usage"`
	} `json:"converseStream"`
	InvokeModel *struct {
		Text  string `json:"text"`
		Usage struct {
			InputTokens  int `json:"input_tokens"`
			OutputTokens int `json:"output_tokens"`
		} `json:"usage"`
	} `json:"invokeModel"`
	InvokeModelStream *struct {
		Text    string         `json:"text"`
		Chunks  int            `json:"chunks"`
		Metrics map[string]any `json:"metrics"`
	} `json:"invokeModelStream"`
	Errors struct {
		UnknownProfile jsError `json:"unknownProfile"`
		OtherRegion    jsError `json:"otherRegion"`
	} `json:"errors"`
	H2C *struct {
		Status int `json:"status"`
	} `json:"h2c"`
}

// TestJavaScriptClients drives Tollgate with the AWS SDK for JavaScript v3
// (pinned in testdata/jsclient) through its default request handlers: the
// Bedrock Runtime client speaks cleartext HTTP/2 with prior knowledge to an
// http:// endpoint, the control-plane client HTTP/1.1.
func TestJavaScriptClients(t *testing.T) {
	t.Parallel()
	for _, tool := range []string{"node", "npm"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s is not on PATH; TestJavaScriptClients needs Node.js >= 20 and npm", tool)
		}
	}
	dir := installJSClient(t)

	ts := startServer(t, "", nil)
	profileARN := createProfile(t, ts.bedrock(t), "claims-js", usHaikuAR, tagList("dept", "claims")...)

	var rep jsReport
	if !t.Run("node runs test.mjs against the server", func(t *testing.T) {
		// The script's own copy sits below the installed node_modules, which
		// Node finds by walking up from the script.
		runDir, err := os.MkdirTemp(dir, "run-")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { os.RemoveAll(runDir) })
		copyJSFile(t, filepath.Join(jsClientDir, "test.mjs"), filepath.Join(runDir, "test.mjs"))

		ctx, cancel := context.WithTimeout(t.Context(), 60*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, "node", "test.mjs")
		cmd.Dir = runDir
		cmd.WaitDelay = 5 * time.Second
		home := t.TempDir() // keeps the developer's ~/.aws out of the SDK's way
		cmd.Env = append(jsEnviron(),
			"ENDPOINT="+ts.URL(),
			"REGION=us-east-1",
			"AWS_ACCESS_KEY_ID="+ts.RootAccessKeyID,
			"AWS_SECRET_ACCESS_KEY="+ts.RootSecretAccessKey,
			"AWS_CONFIG_FILE="+filepath.Join(home, "config"),
			"AWS_SHARED_CREDENTIALS_FILE="+filepath.Join(home, "credentials"),
			"PROFILE_ARN="+profileARN,
		)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		start := time.Now()
		runErr := cmd.Run()
		t.Logf("node test.mjs took %v", time.Since(start).Round(time.Millisecond))

		if err := json.Unmarshal(bytes.TrimSpace(stdout.Bytes()), &rep); err != nil {
			t.Fatalf("node test.mjs: %v (ctx: %v); output is not one JSON object (%v)\nstdout:\n%s\nstderr:\n%s",
				runErr, ctx.Err(), err, stdout.Bytes(), stderr.Bytes())
		}
		if runErr != nil || len(rep.Problems) > 0 {
			t.Errorf("node test.mjs: %v; problems:\n  %s\nstderr:\n%s", runErr, strings.Join(rep.Problems, "\n  "), stderr.Bytes())
		}
	}) {
		return
	}

	t.Run("the clients used their default handlers, h2c for the runtime", func(t *testing.T) {
		// The clients used their default handlers, so the runtime calls that
		// succeeded went over h2c.
		if rep.RuntimeHandler != "NodeHttp2Handler" || rep.ControlPlaneHandler != "NodeHttpHandler" {
			t.Errorf("request handlers: runtime %q, control plane %q; want NodeHttp2Handler, NodeHttpHandler",
				rep.RuntimeHandler, rep.ControlPlaneHandler)
		}
		if rep.H2C == nil || rep.H2C.Status != 200 {
			t.Errorf("raw h2c GET /healthz: %+v, want :status 200", rep.H2C)
		}
	})

	t.Run("the control-plane client lists and gets the profile", func(t *testing.T) {
		if !slices.Contains(rep.Listed, profileARN) {
			t.Errorf("ListInferenceProfiles(APPLICATION) = %v, want %s among them", rep.Listed, profileARN)
		}
		if p := rep.Profile; p == nil || p.ARN != profileARN || p.Name != "claims-js" || p.Type != "APPLICATION" || p.Status != "ACTIVE" || len(p.Models) == 0 {
			t.Errorf("GetInferenceProfile = %+v", p)
		}
	})

	conv, cs := rep.Converse, rep.ConverseStream

	if !t.Run("Converse, ConverseStream, InvokeModel and its stream agree", func(t *testing.T) {
		if conv == nil || cs == nil {
			t.Fatalf("Converse %+v, ConverseStream %+v", conv, cs)
		}
		if conv.Text == "" || conv.StopReason != "end_turn" || conv.HTTPStatusCode != 200 {
			t.Errorf("Converse: %+v", *conv)
		}
		if u := conv.Usage; u.InputTokens <= 0 || u.OutputTokens <= 0 || u.TotalTokens != u.InputTokens+u.OutputTokens {
			t.Errorf("Converse usage %+v", u)
		}
		if cs.Text != conv.Text || cs.StopReason != conv.StopReason {
			t.Errorf("ConverseStream text %q (%s), Converse %q (%s)", cs.Text, cs.StopReason, conv.Text, conv.StopReason)
		}
		if cs.Usage == nil || *cs.Usage != conv.Usage {
			t.Errorf("ConverseStream usage %+v, Converse usage %+v", cs.Usage, conv.Usage)
		}

		im, ims := rep.InvokeModel, rep.InvokeModelStream
		if im == nil || ims == nil {
			t.Fatalf("InvokeModel %+v, InvokeModelWithResponseStream %+v", im, ims)
		}
		if im.Text != conv.Text || im.Usage.InputTokens <= 0 || im.Usage.OutputTokens <= 0 {
			t.Errorf("InvokeModel: %+v, want the Converse text %q", *im, conv.Text)
		}
		if ims.Text != im.Text || ims.Chunks < 3 || ims.Metrics == nil {
			t.Errorf("InvokeModelWithResponseStream: %d chunks, text %q (want %q), metrics %v", ims.Chunks, ims.Text, im.Text, ims.Metrics)
		}
	}) {
		return
	}

	t.Run("errors carry their AWS names and statuses", func(t *testing.T) {
		if e := rep.Errors.UnknownProfile; e.Name != "ResourceNotFoundException" || e.HTTPStatusCode != 404 {
			t.Errorf("Converse with an unknown profile threw %+v, want ResourceNotFoundException (404)", e)
		}
		if e := rep.Errors.OtherRegion; e.Name != "ValidationException" || e.HTTPStatusCode != 400 {
			t.Errorf("Converse with another region's model threw %+v, want ValidationException (400)", e)
		}
	})

	t.Run("the four calls are billed to the profile with its tags", func(t *testing.T) {
		// The four successful calls are billed to the profile with its tags.
		// Records of streams are appended once the stream ends, which can be
		// just after the client has read the last event.
		var recs []ledger.Record
		deadline := time.Now().Add(10 * time.Second)
		for {
			all, err := ts.DB.Records(t.Context(), ledger.Query{})
			if err != nil {
				t.Fatal(err)
			}
			recs = recs[:0]
			for _, r := range all {
				if r.ProfileARN == profileARN {
					recs = append(recs, r)
				}
			}
			if len(recs) >= 4 || time.Now().After(deadline) {
				break
			}
			time.Sleep(20 * time.Millisecond)
		}
		if len(recs) != 4 {
			t.Fatalf("%d ledger records for %s, want 4: %+v", len(recs), profileARN, recs)
		}
		var ops []string
		for _, r := range recs {
			ops = append(ops, r.Operation)
			if r.Outcome != ledger.OutcomeSuccess || r.Tags["dept"] != "claims" || r.InputTokens <= 0 || r.OutputTokens <= 0 {
				t.Errorf("ledger record %+v", r)
			}
			if r.Operation == "Converse" || r.Operation == "ConverseStream" {
				if r.InputTokens != int64(conv.Usage.InputTokens) || r.OutputTokens != int64(conv.Usage.OutputTokens) {
					t.Errorf("%s billed %d+%d tokens, client was told %+v", r.Operation, r.InputTokens, r.OutputTokens, conv.Usage)
				}
			}
		}
		slices.Sort(ops)
		if want := []string{"Converse", "ConverseStream", "InvokeModel", "InvokeModelWithResponseStream"}; !slices.Equal(ops, want) {
			t.Errorf("operations recorded %v, want %v", ops, want)
		}
	})
}

// installJSClient installs the pinned dependencies of testdata/jsclient
// with npm ci into a cache directory outside the repository, keyed by the
// hash of package.json and package-lock.json, and returns that directory.
// A complete earlier install is reused.
func installJSClient(t *testing.T) string {
	t.Helper()
	h := sha256.New()
	var manifests [][]byte
	for _, name := range []string{"package.json", "package-lock.json"} {
		b, err := os.ReadFile(filepath.Join(jsClientDir, name))
		if err != nil {
			t.Fatal(err)
		}
		h.Write([]byte(name + "\x00"))
		h.Write(b)
		h.Write([]byte("\x00"))
		manifests = append(manifests, b)
	}
	base, err := os.UserCacheDir()
	if err != nil {
		base = os.TempDir()
	}
	root := filepath.Join(base, "tollgate-jsclient")
	dir := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	if fi, err := os.Stat(filepath.Join(dir, "node_modules")); err == nil && fi.IsDir() {
		t.Logf("JavaScript clients: reusing %s", dir)
		return dir
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}

	// Install into a fresh directory and rename it into place, so a
	// concurrent or interrupted run never sees a half-installed tree.
	tmp, err := os.MkdirTemp(root, "install-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	for i, name := range []string{"package.json", "package-lock.json"} {
		if err := os.WriteFile(filepath.Join(tmp, name), manifests[i], 0o644); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithTimeout(t.Context(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "npm", "ci", "--no-audit", "--no-fund", "--ignore-scripts")
	cmd.Dir = tmp
	cmd.WaitDelay = 5 * time.Second
	cmd.Env = append(os.Environ(), "npm_config_update_notifier=false")
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("npm ci in %s: %v (ctx: %v)\n%s", tmp, err, ctx.Err(), out)
	}
	t.Logf("JavaScript clients: npm ci took %v", time.Since(start).Round(time.Millisecond))
	if err := os.Rename(tmp, dir); err != nil {
		// Another run installed it first; use that one.
		if fi, serr := os.Stat(filepath.Join(dir, "node_modules")); serr == nil && fi.IsDir() {
			return dir
		}
		t.Fatal(err)
	}
	return dir
}

// jsEnviron is the test's environment without AWS_* variables, so that
// nothing but what the test sets reaches the SDK.
func jsEnviron() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") {
			env = append(env, kv)
		}
	}
	return env
}

func copyJSFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
