package bedrockapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/bedrockapi"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

const (
	account = "123456789012"
	appARN  = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh"
	haiku   = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
	usHaiku = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
)

// methods are the HTTP methods the fuzzer picks from by index.
var methods = []string{http.MethodGet, http.MethodPost, http.MethodDelete, http.MethodPut, http.MethodPatch, http.MethodHead, http.MethodOptions}

// newControlPlane returns the control-plane handler over a real SQLite
// store in a temporary directory, on a mux whose other paths answer as the
// server does.
func newControlPlane(tb testing.TB) http.Handler {
	tb.Helper()
	db, err := sqlite.Open(tb.Context(), filepath.Join(tb.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { db.Close() })
	svc, err := profile.NewService(tb.Context(), profile.Config{Store: db, Catalog: catalog.Default(), Region: "us-east-1"})
	if err != nil {
		tb.Fatal(err)
	}
	mux := http.NewServeMux()
	bedrockapi.New(svc).Register(mux)
	mux.HandleFunc("/", server.UnknownOperation)
	return mux
}

var requestSeq atomic.Int64

// serve sends one request to h as the server would after authentication:
// the body read into the request info and the caller set.
func serve(h http.Handler, method, target string, body []byte) *httptest.ResponseRecorder {
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
		Method:     method,
		URL:        u,
		RequestURI: target,
		Proto:      "HTTP/1.1", ProtoMajor: 1, ProtoMinor: 1,
		Header:        http.Header{"Content-Type": {"application/json"}},
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
// than redirecting to a cleaned path. The server answers other paths
// itself before dispatch, so handlers never see them.
func canonicalPath(p string) bool {
	c := path.Clean(p)
	if strings.HasSuffix(p, "/") && c != "/" {
		c += "/"
	}
	return c == p
}

// checkResponse fails t unless w is a well-formed restJson1 answer: never
// a 500, a JSON object body on success, and the AWS error shape otherwise.
func checkResponse(t *testing.T, what string, w *httptest.ResponseRecorder) {
	t.Helper()
	if w.Code >= 500 {
		t.Fatalf("%s: status %d, body %s", what, w.Code, w.Body)
	}
	if w.Code >= 200 && w.Code < 300 {
		var v map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &v); err != nil {
			t.Fatalf("%s: status %d with a body that is not a JSON object: %v: %q", what, w.Code, err, w.Body)
		}
		return
	}
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
}

// FuzzControlPlane sends arbitrary methods, paths and bodies to the
// control-plane handler: it must never panic or answer 500, and every
// error must come in the restJson1 shape the SDKs parse.
func FuzzControlPlane(f *testing.F) {
	seeds := []struct {
		method int
		path   string
		body   string
	}{
		{1, "inference-profiles", `{"inferenceProfileName":"claims-chatbot","modelSource":{"copyFrom":"` + haiku + `"},"tags":[{"key":"dept","value":"claims"}]}`},
		{1, "inference-profiles", `{"inferenceProfileName":"sales chat","description":"Sales support","clientRequestToken":"tok-1","modelSource":{"copyFrom":"` + usHaiku + `"}}`},
		{1, "inference-profiles", `{"inferenceProfileName":7,"tags":"dept=claims"}`},
		{0, "inference-profiles?type=APPLICATION&maxResults=2", ``},
		{0, "inference-profiles?type=SYSTEM_DEFINED&nextToken=djEAU1lTVEVNX0RFRklORUQAdXM", ``},
		{0, "inference-profiles/us.anthropic.claude-3-haiku-20240307-v1:0", ``},
		{0, "inference-profiles/" + url.PathEscape(appARN), ``},
		{2, "inference-profiles/abcd1234efgh", ``},
		{1, "tagResource", `{"resourceARN":"` + appARN + `","tags":[{"key":"team","value":"support"}]}`},
		{1, "untagResource", `{"resourceARN":"` + appARN + `","tagKeys":["team"]}`},
		{1, "listTagsForResource", `{"resourceARN":"arn:aws:bedrock:eu-west-1:123456789012:application-inference-profile/abcd1234efgh"}`},
		{1, "listTagsForResource", `{"resourceARN":"not an arn"} trailing`},
		{0, "foundation-models?byProvider=anthropic&byOutputModality=TEXT", ``},
		{0, "foundation-models/" + url.PathEscape(haiku), ``},
		{3, "inference-profiles", `[]`},
		{0, "inference-profiles/%ff%00", ``},
	}
	for _, s := range seeds {
		f.Add(uint8(s.method), s.path, []byte(s.body))
	}
	h := newControlPlane(f)
	f.Fuzz(func(t *testing.T, method uint8, path string, body []byte) {
		m := methods[int(method)%len(methods)]
		w := serve(h, m, "/"+path, body)
		if w == nil {
			return // not a target net/http and the server pass to handlers
		}
		checkResponse(t, m+" /"+path, w)
	})
}

// TestControlPlaneHarness checks the fuzz harness itself: a bad
// request must come back as an AWS error, and a good one as JSON.
func TestControlPlaneHarness(t *testing.T) {
	h := newControlPlane(t)
	for _, tc := range []struct {
		method, target, body string
		status               int
		errType              string
	}{
		{"GET", "/foundation-models", "", 200, ""},
		{"POST", "/inference-profiles", `{"inferenceProfileName":7}`, 400, "ValidationException"},
		{"PUT", "/nowhere", "", 404, "UnknownOperationException"},
		{"GET", "/inference-profiles/zzzzzzzzzzzz", "", 404, "ResourceNotFoundException"},
	} {
		w := serve(h, tc.method, tc.target, []byte(tc.body))
		if w.Code != tc.status || w.Header().Get("X-Amzn-ErrorType") != tc.errType {
			t.Errorf("%s %s = %d %q, want %d %q", tc.method, tc.target, w.Code, w.Header().Get("X-Amzn-ErrorType"), tc.status, tc.errType)
		}
		checkResponse(t, tc.method+" "+tc.target, w)
	}
	if !bytes.Contains(serve(h, "GET", "/foundation-models", nil).Body.Bytes(), []byte("anthropic.claude-3-haiku")) {
		t.Error("ListFoundationModels does not list the catalogue")
	}
}
