package sigv4_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

const (
	testKeyID  = "AKIDEXAMPLE"
	testSecret = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
	otherKeyID = "AKIDOTHER"
	// otherSecret is longer than a SHA-256 block, so "AWS4"+secret is
	// hashed before use as an HMAC key.
	otherSecret = "a-rather-long-secret-access-key-that-is-longer-than-sixty-four-bytes-in-total"

	arnPath = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh/converse"
)

// signTime is when the tests sign; testNow is a second later.
var (
	signTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)
	testNow  = signTime.Add(time.Second)
)

// keyMap is a SecretLookup over a fixed map.
type keyMap map[string]string

func (m keyMap) Secret(_ context.Context, id string) (string, error) {
	s, ok := m[id]
	if !ok {
		return "", errkind.New(errkind.NotFound, "access key %q not found", id)
	}
	return s, nil
}

var testKeys = keyMap{testKeyID: testSecret, otherKeyID: otherSecret}

func newVerifier(now time.Time) *sigv4.Verifier {
	return &sigv4.Verifier{Keys: testKeys, Now: func() time.Time { return now }}
}

func creds(id, secret, token string) aws.Credentials {
	return aws.Credentials{AccessKeyID: id, SecretAccessKey: secret, SessionToken: token}
}

func hexSHA256(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// sign signs r with the SDK's own signer. An empty payloadHash means the
// hex SHA-256 of body.
func sign(t testing.TB, r *http.Request, body []byte, c aws.Credentials, service, region string, at time.Time, payloadHash string) {
	t.Helper()
	if payloadHash == "" {
		payloadHash = hexSHA256(body)
	}
	if err := v4.NewSigner().SignHTTP(context.Background(), c, r, payloadHash, service, region, at); err != nil {
		t.Fatalf("SignHTTP: %v", err)
	}
}

// writeError answers err the way Tollgate's restJson1 adapters do.
func writeError(w http.ResponseWriter, err error) {
	e := errkind.As(err)
	status, code := http.StatusInternalServerError, "InternalServerException"
	switch e.Kind {
	case errkind.Denied:
		status = http.StatusForbidden
	case errkind.Unavailable:
		status, code = http.StatusServiceUnavailable, "ServiceUnavailableException"
	}
	if e.Code != "" {
		code = e.Code
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Amzn-ErrorType", code)
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"__type": code, "message": e.Message})
}

// verifyServer starts a server that verifies every request with v and, on
// success, calls ok to answer.
func verifyServer(t *testing.T, v *sigv4.Verifier, ok func(w http.ResponseWriter, r *http.Request, res sigv4.Result)) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			writeError(w, err)
			return
		}
		res, err := v.Verify(r.Context(), r, body)
		if err != nil {
			writeError(w, err)
			return
		}
		ok(w, r, res)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// echoResult answers with the verified Result as JSON.
func echoResult(w http.ResponseWriter, _ *http.Request, res sigv4.Result) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(res)
}

func TestVerifyRoundTrip(t *testing.T) {
	srv := verifyServer(t, newVerifier(testNow), echoResult)

	tests := []struct {
		name    string
		method  string
		target  string // path and query, as the client escapes them
		body    string
		header  http.Header
		creds   aws.Credentials
		service string
		region  string
	}{
		{
			name:    "get with query params",
			method:  http.MethodGet,
			target:  "/inference-profiles?maxResults=10&nextToken=a%2Fb%2Bc%3D&type=APPLICATION&q=hello+world&k=2&k=1&empty=&bare",
			creds:   creds(testKeyID, testSecret, ""),
			service: "bedrock",
			region:  "us-east-1",
		},
		{
			name:    "post with json body",
			method:  http.MethodPost,
			target:  "/model/anthropic.claude-3-haiku-20240307-v1:0/converse",
			body:    `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`,
			header:  http.Header{"Content-Type": {"application/json"}},
			creds:   creds(testKeyID, testSecret, ""),
			service: "bedrock",
			region:  "us-east-1",
		},
		{
			name:    "percent-encoded arn in path",
			method:  http.MethodPost,
			target:  arnPath,
			body:    `{"messages":[]}`,
			header:  http.Header{"Content-Type": {"application/json"}},
			creds:   creds(testKeyID, testSecret, ""),
			service: "bedrock",
			region:  "us-west-2",
		},
		{
			name:   "tagging json 1.1",
			method: http.MethodPost,
			target: "/",
			body:   `{"TagFilters":[{"Key":"team","Values":["ml"]}]}`,
			header: http.Header{
				"Content-Type": {"application/x-amz-json-1.1"},
				"X-Amz-Target": {"ResourceGroupsTaggingAPI_20170126.GetResources"},
			},
			creds:   creds(testKeyID, testSecret, ""),
			service: "tagging",
			region:  "eu-west-1",
		},
		{
			name:    "session token",
			method:  http.MethodPost,
			target:  "/model/m/invoke",
			body:    `{}`,
			header:  http.Header{"Content-Type": {"application/json"}},
			creds:   creds(testKeyID, testSecret, "FwoGZXIvYXdzEXAMPLETOKEN//+=="),
			service: "bedrock",
			region:  "us-east-1",
		},
		{
			name:   "header values with spaces, tabs and repeats",
			method: http.MethodPost,
			target: "/model/m/invoke",
			body:   `{}`,
			header: http.Header{
				"Content-Type":        {"application/json"},
				"X-Amz-Meta-Spaced":   {"  a   b \t c  "},
				"X-Amz-Meta-Repeated": {"one", " two  words ", "three"},
			},
			creds:   creds(otherKeyID, otherSecret, ""),
			service: "bedrock",
			region:  "us-east-1",
		},
		{
			name:    "path needing escapes and empty body",
			method:  http.MethodDelete,
			target:  "/inference-profiles/caf%C3%A9%20profile%21%2A",
			creds:   creds(testKeyID, testSecret, ""),
			service: "bedrock",
			region:  "us-east-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var body io.Reader
			if tt.body != "" {
				body = strings.NewReader(tt.body)
			}
			req, err := http.NewRequestWithContext(t.Context(), tt.method, srv.URL+tt.target, body)
			if err != nil {
				t.Fatal(err)
			}
			for k, vs := range tt.header {
				req.Header[k] = vs
			}
			sign(t, req, []byte(tt.body), tt.creds, tt.service, tt.region, signTime, "")

			resp, err := srv.Client().Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			raw, _ := io.ReadAll(resp.Body)
			if resp.StatusCode != http.StatusOK {
				t.Fatalf("status %d: %s", resp.StatusCode, raw)
			}
			var got sigv4.Result
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			want := sigv4.Result{
				AccessKeyID:  tt.creds.AccessKeyID,
				Region:       tt.region,
				Service:      tt.service,
				SessionToken: tt.creds.SessionToken,
				Date:         signTime,
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("Result mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// signedRequest returns a client-side request signed by the SDK at signTime,
// the form a handler sees except that Content-Length lives in ContentLength.
func signedRequest(t testing.TB, c aws.Credentials, header http.Header, body []byte, payloadHash string) *http.Request {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost,
		"https://bedrock-runtime.us-east-1.amazonaws.com"+arnPath+"?trace=1", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Amz-Sdk-Invocation-Id", "8e1b0bde-5e1a-4c1e-9a3c-0f3c1a2b3c4d")
	req.Header.Set("Amz-Sdk-Request", "attempt=1; max=3")
	for k, vs := range header {
		req.Header[k] = vs
	}
	sign(t, req, body, c, "bedrock", "us-east-1", signTime, payloadHash)
	return req
}

// setAuth rewrites part of the Authorization header.
func setAuth(old, new string) func(*http.Request, []byte) []byte {
	return func(r *http.Request, b []byte) []byte {
		r.Header.Set("Authorization", strings.Replace(r.Header.Get("Authorization"), old, new, 1))
		return b
	}
}

func TestVerifyRejects(t *testing.T) {
	body := []byte(`{"messages":[{"role":"user","content":[{"text":"hello"}]}]}`)
	good := creds(testKeyID, testSecret, "")
	const (
		missing    = "MissingAuthenticationTokenException"
		incomplete = "IncompleteSignatureException"
		unknown    = "UnrecognizedClientException"
		invalid    = "InvalidSignatureException"
	)

	tests := []struct {
		name        string
		creds       aws.Credentials                    // zero: good
		header      http.Header                        // set before signing
		payloadHash string                             // passed to the signer; "" means the body's
		mutate      func(*http.Request, []byte) []byte // applied after signing; returns the body
		now         time.Time                          // zero: testNow
		wantCode    string                             // "" means success
		wantMessage string                             // checked when set
	}{
		{name: "valid", wantCode: ""},
		{name: "valid 4 minutes later", now: signTime.Add(4 * time.Minute)},
		{
			name:        "wrong secret",
			creds:       creds(testKeyID, "not-the-secret", ""),
			wantCode:    invalid,
			wantMessage: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method.",
		},
		{
			name:        "unknown key",
			creds:       creds("AKIDUNKNOWN", testSecret, ""),
			wantCode:    unknown,
			wantMessage: "The security token included in the request is invalid.",
		},
		{
			name:     "tampered body",
			mutate:   func(_ *http.Request, b []byte) []byte { return bytes.Replace(b, []byte("hello"), []byte("HELLO"), 1) },
			wantCode: invalid,
		},
		{
			name:     "changed signed header value",
			mutate:   func(r *http.Request, b []byte) []byte { r.Header.Set("Content-Type", "text/plain"); return b },
			wantCode: invalid,
		},
		{
			name:     "added query param",
			mutate:   func(r *http.Request, b []byte) []byte { r.URL.RawQuery += "&extra=1"; return b },
			wantCode: invalid,
		},
		{
			name: "changed path",
			mutate: func(r *http.Request, b []byte) []byte {
				r.URL.RawPath = strings.Replace(r.URL.RawPath, "abcd1234efgh", "zzzz1234efgh", 1)
				return b
			},
			wantCode: invalid,
		},
		{
			name:     "changed method",
			mutate:   func(r *http.Request, b []byte) []byte { r.Method = http.MethodPut; return b },
			wantCode: invalid,
		},
		{
			name:     "changed host",
			mutate:   func(r *http.Request, b []byte) []byte { r.Host = "evil.example.com"; return b },
			wantCode: invalid,
		},
		{
			name:     "added signed-looking header is ignored",
			mutate:   func(r *http.Request, b []byte) []byte { r.Header.Set("X-Unsigned", "1"); return b },
			wantCode: "",
		},
		{
			name:        "date 6 minutes in the past",
			now:         signTime.Add(6 * time.Minute),
			wantCode:    invalid,
			wantMessage: "Signature expired: 20260304T050607Z is now earlier than 20260304T050707Z (20260304T051207Z - 5 min.)",
		},
		{
			name:        "date 6 minutes in the future",
			now:         signTime.Add(-6 * time.Minute),
			wantCode:    invalid,
			wantMessage: "Signature not yet current: 20260304T050607Z is still later than 20260304T050507Z (20260304T050007Z + 5 min.)",
		},
		{
			name:        "missing authorization",
			mutate:      func(r *http.Request, b []byte) []byte { r.Header.Del("Authorization"); return b },
			wantCode:    missing,
			wantMessage: "Missing Authentication Token",
		},
		{
			name:     "missing x-amz-date",
			mutate:   func(r *http.Request, b []byte) []byte { r.Header.Del("X-Amz-Date"); return b },
			wantCode: incomplete,
		},
		{
			name:     "malformed x-amz-date",
			mutate:   func(r *http.Request, b []byte) []byte { r.Header.Set("X-Amz-Date", "2026-03-04T05:06:07Z"); return b },
			wantCode: incomplete,
		},
		{
			name:        "x-amz-date on another day than the scope",
			mutate:      func(r *http.Request, b []byte) []byte { r.Header.Set("X-Amz-Date", "20260305T050607Z"); return b },
			now:         signTime.Add(24 * time.Hour),
			wantCode:    invalid,
			wantMessage: "Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '20260304' != '20260305', from '20260305T050607Z'.",
		},
		{name: "garbage authorization", mutate: setAuth("AWS4-HMAC-SHA256 Credential", "garbage"), wantCode: incomplete},
		{name: "bearer authorization", mutate: func(r *http.Request, b []byte) []byte { r.Header.Set("Authorization", "Bearer abc"); return b }, wantCode: incomplete},
		{name: "algorithm only", mutate: func(r *http.Request, b []byte) []byte { r.Header.Set("Authorization", "AWS4-HMAC-SHA256"); return b }, wantCode: incomplete},
		{name: "other algorithm", mutate: setAuth("AWS4-HMAC-SHA256", "AWS4-ECDSA-P256-SHA256"), wantCode: incomplete},
		{name: "bad scope terminator", mutate: setAuth("/aws4_request", "/aws4_reqest"), wantCode: incomplete},
		{name: "short credential", mutate: setAuth("/us-east-1/bedrock/aws4_request", "/aws4_request"), wantCode: incomplete},
		{name: "uppercase signed header", mutate: setAuth("SignedHeaders=amz", "SignedHeaders=Amz"), wantCode: incomplete},
		{name: "truncated signature", mutate: setAuth("Signature=", "Signature=ab"), wantCode: incomplete},
		{name: "signature missing", mutate: setAuth(", Signature=", ", Sig="), wantCode: incomplete},
		{name: "duplicate component", mutate: func(r *http.Request, b []byte) []byte {
			r.Header.Set("Authorization", r.Header.Get("Authorization")+", Signature=00")
			return b
		}, wantCode: incomplete},
		{name: "signed headers missing host", mutate: setAuth("content-type;host;", "content-type;"), wantCode: incomplete},
		{name: "signed headers unsorted", mutate: setAuth("content-type;host;", "host;content-type;"), wantCode: incomplete},
		{
			name:     "scope for another region",
			mutate:   setAuth("/us-east-1/", "/us-west-2/"),
			wantCode: invalid,
		},
		{
			name:     "session token added unsigned",
			mutate:   func(r *http.Request, b []byte) []byte { r.Header.Set("X-Amz-Security-Token", "tok"); return b },
			wantCode: incomplete,
		},
		{
			name:     "session token changed",
			creds:    creds(testKeyID, testSecret, "tok"),
			mutate:   func(r *http.Request, b []byte) []byte { r.Header.Set("X-Amz-Security-Token", "tok2"); return b },
			wantCode: invalid,
		},
		{
			// The services Tollgate serves require a signed payload.
			name:        "unsigned payload refused",
			header:      http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}},
			payloadHash: "UNSIGNED-PAYLOAD",
			wantCode:    "IncompleteSignatureException",
		},
		{
			name:        "content sha256 header matching body",
			header:      http.Header{"X-Amz-Content-Sha256": {hexSHA256(body)}},
			payloadHash: hexSHA256(body),
			wantCode:    "",
		},
		{
			name:        "content sha256 header with tampered body",
			header:      http.Header{"X-Amz-Content-Sha256": {hexSHA256(body)}},
			payloadHash: hexSHA256(body),
			mutate:      func(_ *http.Request, b []byte) []byte { return append(b, ' ') },
			wantCode:    invalid,
			wantMessage: "The provided 'x-amz-content-sha256' header does not match what was computed.",
		},
		{
			name:        "streaming payload is not supported",
			header:      http.Header{"X-Amz-Content-Sha256": {"STREAMING-AWS4-HMAC-SHA256-PAYLOAD"}},
			payloadHash: "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
			wantCode:    incomplete,
		},
		{
			name:     "malformed query",
			mutate:   func(r *http.Request, b []byte) []byte { r.URL.RawQuery = "trace=1&bad=%zz"; return b },
			wantCode: incomplete,
		},
		{
			name:     "semicolon in query",
			mutate:   func(r *http.Request, b []byte) []byte { r.URL.RawQuery = "trace=1;x=2"; return b },
			wantCode: incomplete,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := tt.creds
			if c.AccessKeyID == "" {
				c = good
			}
			req := signedRequest(t, c, tt.header, body, tt.payloadHash)
			// What the correct signature would be: it must never leak.
			want := signedRequest(t, good, tt.header, body, tt.payloadHash).Header.Get("Authorization")
			wantSig := want[strings.LastIndex(want, "=")+1:]

			b := body
			if tt.mutate != nil {
				b = tt.mutate(req, bytes.Clone(body))
			}
			now := tt.now
			if now.IsZero() {
				now = testNow
			}
			_, err := newVerifier(now).Verify(t.Context(), req, b)

			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("Verify: %v", err)
				}
				return
			}
			var e *errkind.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error = %v, want *errkind.Error", err)
			}
			if diff := cmp.Diff(e.Code, tt.wantCode); diff != "" {
				t.Errorf("Code (-got +want):\n%s\nerror: %v", diff, err)
			}
			if got, want := e.Kind, errkind.Denied; got != want {
				t.Errorf("Kind = %v, want %v", got, want)
			}
			if tt.wantMessage != "" {
				if diff := cmp.Diff(e.Message, tt.wantMessage); diff != "" {
					t.Errorf("Message (-got +want):\n%s", diff)
				}
			}
			for _, secret := range []string{testSecret, wantSig} {
				if strings.Contains(err.Error(), secret) {
					t.Errorf("error %q leaks %q", err, secret)
				}
			}
		})
	}
}

// failingKeys fails every lookup with err.
type failingKeys struct{ err error }

func (f failingKeys) Secret(context.Context, string) (string, error) { return "", f.err }

func TestVerifyLookupFailure(t *testing.T) {
	tests := []struct {
		name     string
		keys     sigv4.SecretLookup
		wantKind errkind.Kind
	}{
		{name: "store unavailable", keys: failingKeys{errkind.New(errkind.Unavailable, "db down")}, wantKind: errkind.Unavailable},
		{name: "plain error", keys: failingKeys{errors.New("boom")}, wantKind: errkind.Internal},
		{name: "context canceled", keys: failingKeys{context.Canceled}, wantKind: errkind.Internal},
		{name: "empty secret", keys: keyMap{testKeyID: ""}, wantKind: errkind.Internal},
		{name: "no lookup configured", keys: nil, wantKind: errkind.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := signedRequest(t, creds(testKeyID, testSecret, ""), nil, []byte("{}"), "")
			v := &sigv4.Verifier{Keys: tt.keys, Now: func() time.Time { return testNow }}
			_, err := v.Verify(t.Context(), req, []byte("{}"))
			if got := errkind.KindOf(err); got != tt.wantKind {
				t.Errorf("KindOf(%v) = %v, want %v", err, got, tt.wantKind)
			}
		})
	}
}

// TestVerifyAWSTestSuite checks known answers from AWS's published SigV4
// test suite, independent of the SDK: get-vanilla from the 2011 suite (which
// signs the Date header) and from the 2015 suite (X-Amz-Date).
func TestVerifyAWSTestSuite(t *testing.T) {
	tests := []struct {
		name   string
		host   string
		header http.Header
		now    time.Time
		want   sigv4.Result
	}{
		{
			name: "2011 get-vanilla with Date",
			host: "host.foo.com",
			header: http.Header{
				"Date":          {"Mon, 09 Sep 2011 23:36:00 GMT"},
				"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20110909/us-east-1/host/aws4_request, SignedHeaders=date;host, Signature=b27ccfbfa7df52a200ff74193ca6e32d4b48b8856fab7ebf1c595d0670a7e470"},
			},
			now:  time.Date(2011, 9, 9, 23, 36, 0, 0, time.UTC),
			want: sigv4.Result{AccessKeyID: "AKIDEXAMPLE", Region: "us-east-1", Service: "host", Date: time.Date(2011, 9, 9, 23, 36, 0, 0, time.UTC)},
		},
		{
			name: "2015 get-vanilla with X-Amz-Date",
			host: "example.amazonaws.com",
			header: http.Header{
				"X-Amz-Date":    {"20150830T123600Z"},
				"Authorization": {"AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31"},
			},
			now:  time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC),
			want: sigv4.Result{AccessKeyID: "AKIDEXAMPLE", Region: "us-east-1", Service: "service", Date: time.Date(2015, 8, 30, 12, 36, 0, 0, time.UTC)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			req := httptest.NewRequestWithContext(t.Context(), http.MethodGet, "http://"+tt.host+"/", nil)
			req.Header = tt.header
			v := &sigv4.Verifier{Keys: keyMap{"AKIDEXAMPLE": testSecret}, Now: func() time.Time { return tt.now }}
			got, err := v.Verify(t.Context(), req, nil)
			if err != nil {
				t.Fatalf("Verify: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("Result (-got +want):\n%s", diff)
			}
		})
	}
}

func TestVerifyMaxSkew(t *testing.T) {
	req := signedRequest(t, creds(testKeyID, testSecret, ""), nil, []byte("{}"), "")
	v := &sigv4.Verifier{Keys: testKeys, Now: func() time.Time { return signTime.Add(90 * time.Second) }, MaxSkew: time.Minute}
	_, err := v.Verify(t.Context(), req, []byte("{}"))
	var e *errkind.Error
	if !errors.As(err, &e) {
		t.Fatalf("Verify error = %v, want *errkind.Error", err)
	}
	want := "Signature expired: 20260304T050607Z is now earlier than 20260304T050637Z (20260304T050737Z - 1 min.)"
	if diff := cmp.Diff(e.Message, want); diff != "" {
		t.Errorf("Message (-got +want):\n%s", diff)
	}
}

func TestVerifyRotatedSecret(t *testing.T) {
	// The signing-key cache must not outlive a secret rotation.
	keys := keyMap{testKeyID: testSecret}
	v := &sigv4.Verifier{Keys: keys, Now: func() time.Time { return testNow }}
	body := []byte("{}")
	if _, err := v.Verify(t.Context(), signedRequest(t, creds(testKeyID, testSecret, ""), nil, body, ""), body); err != nil {
		t.Fatalf("Verify before rotation: %v", err)
	}
	keys[testKeyID] = "rotated-secret"
	_, err := v.Verify(t.Context(), signedRequest(t, creds(testKeyID, testSecret, ""), nil, body, ""), body)
	if got, want := errkind.As(err).Code, "InvalidSignatureException"; got != want {
		t.Errorf("old secret after rotation: Code = %q, want %q (%v)", got, want, err)
	}
	if _, err := v.Verify(t.Context(), signedRequest(t, creds(testKeyID, "rotated-secret", ""), nil, body, ""), body); err != nil {
		t.Errorf("Verify with rotated secret: %v", err)
	}
}

func TestVerifyConcurrent(t *testing.T) {
	v := newVerifier(testNow)
	body := []byte(`{"a":1}`)
	reqs := []*http.Request{
		signedRequest(t, creds(testKeyID, testSecret, ""), nil, body, ""),
		signedRequest(t, creds(otherKeyID, otherSecret, ""), nil, body, ""),
	}
	done := make(chan error)
	for i := range 8 {
		go func() {
			var err error
			for range 50 {
				if _, err = v.Verify(t.Context(), reqs[i%2], body); err != nil {
					break
				}
			}
			done <- err
		}()
	}
	for range 8 {
		if err := <-done; err != nil {
			t.Error(err)
		}
	}
}

func TestParseAuthorization(t *testing.T) {
	sig := strings.Repeat("0123456789abcdef", 4)
	tests := []struct {
		name     string
		header   string
		want     sigv4.Authorization
		wantCode string
	}{
		{
			name:   "sdk form",
			header: "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260304/us-east-1/bedrock/aws4_request, SignedHeaders=content-type;host;x-amz-date, Signature=" + sig,
			want: sigv4.Authorization{
				AccessKeyID: "AKIDEXAMPLE", Date: "20260304", Region: "us-east-1", Service: "bedrock",
				SignedHeaders: []string{"content-type", "host", "x-amz-date"}, Signature: sig,
			},
		},
		{
			name:   "no spaces, other order",
			header: "AWS4-HMAC-SHA256 Signature=" + sig + ",SignedHeaders=host,Credential=K/20260304/eu-west-1/tagging/aws4_request",
			want: sigv4.Authorization{
				AccessKeyID: "K", Date: "20260304", Region: "eu-west-1", Service: "tagging",
				SignedHeaders: []string{"host"}, Signature: sig,
			},
		},
		{name: "empty", header: "", wantCode: "IncompleteSignatureException"},
		{name: "lowercase algorithm", header: "aws4-hmac-sha256 Credential=K/20260304/r/s/aws4_request, SignedHeaders=host, Signature=" + sig, wantCode: "IncompleteSignatureException"},
		{name: "missing equal sign", header: "AWS4-HMAC-SHA256 Credential", wantCode: "IncompleteSignatureException"},
		{name: "unknown component", header: "AWS4-HMAC-SHA256 Credential=K/20260304/r/s/aws4_request, SignedHeaders=host, Signature=" + sig + ", Extra=1", wantCode: "IncompleteSignatureException"},
		{name: "bad date", header: "AWS4-HMAC-SHA256 Credential=K/2026034/r/s/aws4_request, SignedHeaders=host, Signature=" + sig, wantCode: "IncompleteSignatureException"},
		{name: "empty region", header: "AWS4-HMAC-SHA256 Credential=K/20260304//s/aws4_request, SignedHeaders=host, Signature=" + sig, wantCode: "IncompleteSignatureException"},
		{name: "extra scope part", header: "AWS4-HMAC-SHA256 Credential=K/20260304/r/s/x/aws4_request, SignedHeaders=host, Signature=" + sig, wantCode: "IncompleteSignatureException"},
		{name: "empty signed header", header: "AWS4-HMAC-SHA256 Credential=K/20260304/r/s/aws4_request, SignedHeaders=host;, Signature=" + sig, wantCode: "IncompleteSignatureException"},
		{name: "duplicate signed header", header: "AWS4-HMAC-SHA256 Credential=K/20260304/r/s/aws4_request, SignedHeaders=host;host, Signature=" + sig, wantCode: "IncompleteSignatureException"},
		{name: "uppercase signature", header: "AWS4-HMAC-SHA256 Credential=K/20260304/r/s/aws4_request, SignedHeaders=host, Signature=" + strings.ToUpper(sig), wantCode: "IncompleteSignatureException"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := sigv4.ParseAuthorization(tt.header)
			if tt.wantCode != "" {
				if gotCode := errkind.As(err).Code; gotCode != tt.wantCode {
					t.Errorf("ParseAuthorization(%q) error = %v (code %q), want code %q", tt.header, err, gotCode, tt.wantCode)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseAuthorization: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("ParseAuthorization (-got +want):\n%s", diff)
			}
		})
	}
}

// BenchmarkVerify measures a typical signed POST: a Converse call with a
// 500-byte body, in the form net/http hands it to a handler.
func BenchmarkVerify(b *testing.B) {
	body := bytes.Repeat([]byte("x"), 500)
	req := signedRequest(b, creds(testKeyID, testSecret, ""), nil, body, "")
	req.Header.Set("Content-Length", "500") // as net/http keeps it server-side
	req.Header.Set("User-Agent", "aws-sdk-go-v2/1.48.0 os/linux lang/go#1.26 md/GOOS#linux api/bedrockruntime#1.63.13")
	req.Header.Set("Accept-Encoding", "gzip")
	v := newVerifier(testNow)
	ctx := b.Context()
	if _, err := v.Verify(ctx, req, body); err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := v.Verify(ctx, req, body); err != nil {
			b.Fatal(err)
		}
	}
}

// TestVerifyUnsignedPayloadOptIn: with AllowUnsignedPayload an
// UNSIGNED-PAYLOAD signature covers no body, so any body verifies.
func TestVerifyUnsignedPayloadOptIn(t *testing.T) {
	body := []byte(`{"a":1}`)
	req := signedRequest(t, creds(testKeyID, testSecret, ""),
		http.Header{"X-Amz-Content-Sha256": {"UNSIGNED-PAYLOAD"}}, body, "UNSIGNED-PAYLOAD")
	v := newVerifier(testNow)
	if _, err := v.Verify(t.Context(), req, []byte("anything")); err == nil {
		t.Fatal("Verify accepted UNSIGNED-PAYLOAD without AllowUnsignedPayload")
	}
	v.AllowUnsignedPayload = true
	if _, err := v.Verify(t.Context(), req, []byte("anything")); err != nil {
		t.Fatalf("Verify with AllowUnsignedPayload: %v", err)
	}
}
