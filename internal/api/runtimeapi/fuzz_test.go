package runtimeapi_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/aws/smithy-go/eventstream"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/runtimeapi"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	account  = "123456789012"
	haikuID  = "anthropic.claude-3-haiku-20240307-v1:0"
	haikuARN = "arn:aws:bedrock:us-east-1::foundation-model/" + haikuID
)

// newRuntime returns the runtime handler over the simulator, the real
// ledger and a real SQLite store in a temporary directory, with one
// application profile, and the profile's ARN.
func newRuntime(tb testing.TB) (http.Handler, string) {
	tb.Helper()
	ctx := tb.Context()
	db, err := sqlite.Open(ctx, filepath.Join(tb.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		tb.Fatal(err)
	}
	cat := catalog.Default()
	profiles, err := profile.NewService(ctx, profile.Config{Store: db, Catalog: cat, Region: "us-east-1"})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	p, err := profiles.Create(ctx, profile.CreateInput{
		Account: account, Name: "claims-chatbot", CopyFrom: haikuARN,
		Tags: []tags.Tag{{Key: "dept", Value: "claims"}},
	})
	if err != nil {
		db.Close()
		tb.Fatal(err)
	}
	batcher := ledger.NewBatcher(db, 0, nil)
	tb.Cleanup(func() {
		batcher.Close()
		db.Close()
	})
	routes := invoke.NewRouteTable(nil, &invoke.Route{Name: "sim", Provider: sim.New(sim.Config{})})
	svc := invoke.NewService(invoke.Config{
		Profiles: profiles,
		Catalog:  cat,
		Router:   routes.Route,
		Ledger:   batcher,
		Tokens:   sim.Tokens,
	})
	mux := http.NewServeMux()
	runtimeapi.New(svc, runtimeapi.Options{}).Register(mux)
	mux.HandleFunc("/", server.UnknownOperation)
	return mux, p.ARN
}

// operations are the runtime operations the fuzzer picks from by index.
var operations = []string{"converse", "converse-stream", "invoke", "invoke-with-response-stream"}

var requestSeq atomic.Int64

// serve sends one runtime request to h as the server would after
// authentication. It returns nil for a target the server does not pass
// to handlers (see canonicalPath).
func serve(h http.Handler, op, modelID string, body []byte) *httptest.ResponseRecorder {
	target := "/model/" + url.PathEscape(modelID) + "/" + op
	u, err := url.ParseRequestURI(target)
	if err != nil || !canonicalPath(u.EscapedPath()) {
		return nil
	}
	info := &awsproto.RequestInfo{
		ID:   "fuzz-" + strconv.FormatInt(requestSeq.Add(1), 10),
		Body: body,
		Identity: principal.Identity{
			Principal: &principal.Principal{ID: principal.RootID(account), Account: account, Kind: principal.Root},
			KeyID:     "AKIAFUZZFUZZFUZZFUZZ",
		},
	}
	r := &http.Request{
		Method:     http.MethodPost,
		URL:        u,
		RequestURI: target,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Accept": {"application/json"}},
		Body:          http.NoBody,
		ContentLength: int64(len(body)),
		Host:          "localhost",
	}
	r = r.WithContext(awsproto.WithInfo(r.Context(), info))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// canonicalPath reports whether an http.ServeMux routes p as it is rather
// than redirecting to a cleaned path ("." or ".." model ids). The server
// answers other paths itself before dispatch.
func canonicalPath(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// checkResponse fails t unless w is a well-formed runtime answer: never a
// 500 (the ledger cannot fail here), the restJson1 error shape on errors,
// JSON from Converse, and event-stream frames that each name their message
// type from the streaming operations.
func checkResponse(t *testing.T, op, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: status %d, body %s", what, w.Code, w.Body)
	}
	if w.Code < 200 || w.Code >= 300 {
		name := w.Header().Get("X-Amzn-ErrorType")
		if name == "" {
			t.Fatalf("%s: status %d without X-Amzn-ErrorType; body %q", what, w.Code, w.Body)
		}
		var e map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%s: status %d, error body is not a JSON object: %v: %q", what, w.Code, err, w.Body)
		}
		typ, ok1 := e["__type"].(string)
		_, ok2 := e["message"].(string)
		if !ok1 || !ok2 || typ != name {
			t.Fatalf("%s: status %d, error body %s lacks __type %q or message", what, w.Code, w.Body, name)
		}
		return
	}
	switch ct := w.Header().Get("Content-Type"); {
	case ct == "application/vnd.amazon.eventstream":
		checkFrames(t, what, w.Body.Bytes())
	case strings.HasSuffix(op, "stream"):
		t.Fatalf("%s: status %d with Content-Type %q, want an event stream", what, w.Code, ct)
	case op == "converse":
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s: Converse answered a body that is not a JSON object: %v", what, err)
		}
	}
}

// checkFrames decodes every event-stream frame of body: each must carry
// :message-type, and events and exceptions must name their type.
func checkFrames(t *testing.T, what string, body []byte) {
	t.Helper()
	dec := eventstream.NewDecoder()
	r := bytes.NewReader(body)
	var buf []byte
	for n := 0; ; n++ {
		msg, err := dec.Decode(r, buf)
		if errors.Is(err, io.EOF) && r.Len() == 0 {
			if n == 0 {
				t.Fatalf("%s: empty event stream", what)
			}
			return
		}
		if err != nil {
			t.Fatalf("%s: frame %d: %v", what, n, err)
		}
		mt := msg.Headers.Get(":message-type")
		if mt == nil {
			t.Fatalf("%s: frame %d has no :message-type (headers %v)", what, n, msg.Headers)
		}
		want := map[string]string{"event": ":event-type", "exception": ":exception-type"}[mt.String()]
		if want == "" {
			t.Fatalf("%s: frame %d has :message-type %q", what, n, mt.String())
		}
		if msg.Headers.Get(want) == nil {
			t.Fatalf("%s: %s frame %d has no %s", what, mt.String(), n, want)
		}
		if !json.Valid(msg.Payload) {
			t.Fatalf("%s: frame %d payload is not JSON: %q", what, n, msg.Payload)
		}
	}
}

// FuzzRuntime sends arbitrary model ids and bodies to the four runtime
// operations over the simulator: nothing may panic or answer 500, errors
// must come in the restJson1 shape, and streams must decode frame by frame.
func FuzzRuntime(f *testing.F) {
	converse := `{"messages":[{"role":"user","content":[{"text":"echo: hello there"}]}],"inferenceConfig":{"maxTokens":16,"temperature":0.2}}`
	tools := `{"messages":[{"role":"user","content":[{"text":"what time is it"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"get_time","inputSchema":{"json":{"type":"object"}}}}],"toolChoice":{"any":{}}}}`
	anthropic := `{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"ping"}]}`
	for _, s := range []struct {
		op      int
		modelID string
		body    string
	}{
		{0, haikuID, converse},
		{1, "us." + haikuID, converse},
		{0, haikuARN, tools},
		{1, "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh", converse},
		{2, haikuID, anthropic},
		{3, haikuID, anthropic},
		{2, "amazon.titan-embed-text-v2:0", `{"inputText":"hello","dimensions":256}`},
		{2, "cohere.embed-english-v3", `{"texts":["a"],"input_type":"search_document"}`},
		{3, "meta.llama3-8b-instruct-v1:0", `{"prompt":"hi","max_gen_len":8}`},
		{3, "amazon.titan-embed-text-v2:0", `{"inputText":"no streaming for embeddings"}`},
		{0, haikuID, `{"messages":"hello"}`},
		{1, haikuID, `{"messages":[{"role":"user","content":[]}]}`},
		{0, "acme.unknown-v1:0", converse},
		{2, haikuID, `not json`},
		{0, "arn:aws:bedrock:eu-west-1::foundation-model/" + haikuID, converse},
	} {
		f.Add(uint8(s.op), s.modelID, []byte(s.body))
	}
	h, appARN := newRuntime(f)
	f.Add(uint8(1), appARN, []byte(converse))
	f.Add(uint8(3), appARN, []byte(anthropic))
	f.Fuzz(func(t *testing.T, op uint8, modelID string, body []byte) {
		name := operations[int(op)%len(operations)]
		w := serve(h, name, modelID, body)
		if w == nil {
			return
		}
		checkResponse(t, name, name+" "+strconv.Quote(modelID), w)
	})
}

// TestRuntimeHarness checks the harness answers what the fuzzer relies on:
// success and streams from the simulator, and errors in the AWS shape.
func TestRuntimeHarness(t *testing.T) {
	h, appARN := newRuntime(t)
	converse := `{"messages":[{"role":"user","content":[{"text":"ping"}]}]}`
	for _, tc := range []struct {
		op, modelID, body string
		status            int
		ctype, errType    string
	}{
		{"converse", haikuID, converse, 200, "application/json", ""},
		{"converse-stream", appARN, converse, 200, "application/vnd.amazon.eventstream", ""},
		{"invoke-with-response-stream", haikuID, `{"anthropic_version":"bedrock-2023-05-31","max_tokens":8,"messages":[{"role":"user","content":"ping"}]}`, 200, "application/vnd.amazon.eventstream", ""},
		{"converse", haikuID, `{"messages":7}`, 400, "application/json", "ValidationException"},
		{"converse-stream", "acme.none-v1:0", converse, 400, "application/json", "ValidationException"},
	} {
		w := serve(h, tc.op, tc.modelID, []byte(tc.body))
		if w.Code != tc.status || w.Header().Get("Content-Type") != tc.ctype || w.Header().Get("X-Amzn-ErrorType") != tc.errType {
			t.Errorf("%s %s = %d %q %q, want %d %q %q; body %.300s", tc.op, tc.modelID, w.Code,
				w.Header().Get("Content-Type"), w.Header().Get("X-Amzn-ErrorType"), tc.status, tc.ctype, tc.errType, w.Body)
		}
		checkResponse(t, tc.op, tc.op+" "+tc.modelID, w)
	}
}
