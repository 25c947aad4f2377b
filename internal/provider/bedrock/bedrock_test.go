package bedrock_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/provider/bedrock"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

func ptr[T any](v T) *T { return &v }

// converseRequest is a request with members Tollgate only passes through.
func converseRequest() *converse.Request {
	return &converse.Request{
		Messages:                     []converse.Message{{Role: "user", Content: []converse.ContentBlock{{Text: ptr("hi")}}}},
		System:                       []converse.SystemBlock{{Text: ptr("be brief")}},
		InferenceConfig:              &converse.InferenceConfig{MaxTokens: ptr(int32(10))},
		AdditionalModelRequestFields: json.RawMessage(`{"top_k":5}`),
		RequestMetadata:              map[string]string{"tenant": "t1"},
		ServiceTier:                  &converse.ServiceTier{Type: "flex"},
	}
}

// converseRequestJSON is converseRequest as sent on the wire.
const converseRequestJSON = `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":[{"text":"be brief"}],"inferenceConfig":{"maxTokens":10},"additionalModelRequestFields":{"top_k":5},"requestMetadata":{"tenant":"t1"},"serviceTier":{"type":"flex"}}`

const converseResponseJSON = `{"output":{"message":{"role":"assistant","content":[{"text":"hello"}]}},"stopReason":"end_turn",
 "usage":{"inputTokens":3,"outputTokens":1,"totalTokens":6,"cacheReadInputTokens":2},"metrics":{"latencyMs":12},
 "additionalModelResponseFields":{"stop_sequence":null}}`

func TestConverse(t *testing.T) {
	tests := []struct {
		name     string
		call     converse.Call
		models   map[string]string
		wantPath string
		region   string
	}{
		{
			name:     "foundation model id is escaped",
			call:     haikuCall,
			wantPath: haikuPath + "/converse",
			region:   "us-east-1",
		},
		{
			name:     "upstream application profile ARN",
			call:     converse.Call{ModelID: haikuID, Region: "us-west-2", Upstream: profileARN},
			wantPath: profilePath + "/converse",
			region:   "us-west-2",
		},
		{
			name:     "models map",
			call:     haikuCall,
			models:   map[string]string{haikuID: profileARN},
			wantPath: profilePath + "/converse",
			region:   "us-east-1",
		},
		{
			name:     "upstream wins over models map",
			call:     converse.Call{ModelID: haikuID, Region: "eu-west-1", Upstream: "eu.anthropic.claude-3-haiku-20240307-v1:0"},
			models:   map[string]string{haikuID: profileARN},
			wantPath: "/model/eu.anthropic.claude-3-haiku-20240307-v1%3A0/converse",
			region:   "eu-west-1",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, converseResponseJSON)
			})
			p := newProvider(t, f.URL, func(c *bedrock.Config) { c.Models = tt.models })

			got, err := p.Converse(t.Context(), tt.call, converseRequest())
			if err != nil {
				t.Fatalf("Converse: %v", err)
			}
			want := &converse.Response{
				StopReason:                    "end_turn",
				Usage:                         converse.Usage{InputTokens: 3, OutputTokens: 1, TotalTokens: 6, CacheReadInputTokens: 2},
				Metrics:                       converse.Metrics{LatencyMs: 12},
				AdditionalModelResponseFields: json.RawMessage(`{"stop_sequence":null}`),
			}
			want.Output.Message = &converse.Message{Role: "assistant", Content: []converse.ContentBlock{{Text: ptr("hello")}}}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("response (-got +want):\n%s", diff)
			}

			rec := f.last(t)
			gotReq := struct{ Path, Body, ContentType, Region string }{rec.Path, rec.Body, rec.Header.Get("Content-Type"), rec.Auth.Region}
			wantReq := struct{ Path, Body, ContentType, Region string }{tt.wantPath, converseRequestJSON, "application/json", tt.region}
			if diff := cmp.Diff(gotReq, wantReq); diff != "" {
				t.Errorf("request (-got +want):\n%s", diff)
			}
		})
	}
}

func TestInvokeModel(t *testing.T) {
	const native = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":10,"messages":[{"role":"user","content":"hi"}],"some_new_field":[1,2]}`
	const answer = `{"id":"msg_1","type":"message","content":[{"type":"text","text":"hello"}]}`
	tests := []struct {
		name        string
		in          converse.NativeRequest
		respHeader  map[string]string
		wantHeaders map[string]string // request headers; "" means absent
		wantUsage   converse.Usage
	}{
		{
			name: "token headers",
			in:   converse.NativeRequest{Body: []byte(native), ContentType: "application/json", Accept: "application/json"},
			respHeader: map[string]string{
				"X-Amzn-Bedrock-Input-Token-Count":  "11",
				"X-Amzn-Bedrock-Output-Token-Count": "4",
			},
			wantHeaders: map[string]string{"Content-Type": "application/json", "Accept": "application/json"},
			wantUsage:   converse.Usage{InputTokens: 11, OutputTokens: 4, TotalTokens: 15},
		},
		{
			name: "cache token headers",
			in:   converse.NativeRequest{Body: []byte(native), ContentType: "application/json", Accept: "*/*"},
			respHeader: map[string]string{
				"X-Amzn-Bedrock-Input-Token-Count":             "11",
				"X-Amzn-Bedrock-Output-Token-Count":            "4",
				"X-Amzn-Bedrock-Cache-Read-Input-Token-Count":  "100",
				"X-Amzn-Bedrock-Cache-Write-Input-Token-Count": "20",
			},
			wantHeaders: map[string]string{"Content-Type": "application/json", "Accept": "*/*"},
			wantUsage:   converse.Usage{InputTokens: 11, OutputTokens: 4, TotalTokens: 135, CacheReadInputTokens: 100, CacheWriteInputTokens: 20},
		},
		{
			name:        "defaults and no token headers",
			in:          converse.NativeRequest{Body: []byte(native)},
			respHeader:  map[string]string{"X-Amzn-Bedrock-Input-Token-Count": "not a number"},
			wantHeaders: map[string]string{"Content-Type": "application/json", "Accept": ""},
			wantUsage:   converse.Usage{},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
				for k, v := range tt.respHeader {
					w.Header().Set(k, v)
				}
				w.Header().Set("Content-Type", "application/json")
				io.WriteString(w, answer)
			})
			p := newProvider(t, f.URL)
			call := converse.Call{ModelID: haikuID, Region: "us-east-1", Upstream: profileARN}

			got, err := p.InvokeModel(t.Context(), call, tt.in)
			if err != nil {
				t.Fatalf("InvokeModel: %v", err)
			}
			want := converse.NativeResponse{Body: []byte(answer), ContentType: "application/json", Usage: tt.wantUsage}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("response (-got +want):\n%s", diff)
			}

			rec := f.last(t)
			if diff := cmp.Diff(rec.Path, profilePath+"/invoke"); diff != "" {
				t.Errorf("path (-got +want):\n%s", diff)
			}
			if diff := cmp.Diff(rec.Body, native); diff != "" {
				t.Errorf("body (-got +want):\n%s", diff)
			}
			gotHeaders := map[string]string{}
			for k := range tt.wantHeaders {
				gotHeaders[k] = rec.Header.Get(k)
			}
			if diff := cmp.Diff(gotHeaders, tt.wantHeaders); diff != "" {
				t.Errorf("request headers (-got +want):\n%s", diff)
			}
		})
	}
}

// errorCase is an upstream error response and what it must become.
type errorCase struct {
	name   string
	status int
	header string // X-Amzn-ErrorType
	body   string
	want   kindAndMessage
}

var deniedMsg = "The upstream Amazon Bedrock endpoint rejected the provider's credentials."

var errorCases = []errorCase{
	{"throttling header", 429, "ThrottlingException:http://internal.amazon.com/coral/com.amazon.bedrock/", `{"message":"Too many requests, please wait before trying again."}`,
		kindAndMessage{errkind.Throttled, "Too many requests, please wait before trying again."}},
	{"throttling namespaced body type", 429, "", `{"__type":"com.amazonaws.bedrock#ThrottlingException","Message":"Slow down."}`,
		kindAndMessage{errkind.Throttled, "Slow down."}},
	{"quota exceeded 429", 429, "ServiceQuotaExceededException", `{"message":"Too many tokens per minute."}`,
		kindAndMessage{errkind.Throttled, "Too many tokens per minute."}},
	{"quota exceeded 400", 400, "ServiceQuotaExceededException", `{"message":"Daily token quota used up."}`,
		kindAndMessage{errkind.QuotaExceeded, "Daily token quota used up."}},
	{"model not ready", 429, "ModelNotReadyException", `{"message":"Model is not ready."}`,
		kindAndMessage{errkind.Throttled, "Model is not ready."}},
	{"unknown 429", 429, "", ``,
		kindAndMessage{errkind.Throttled, "Amazon Bedrock is throttling requests; try again later."}},
	{"service unavailable", 503, "ServiceUnavailableException", `{"message":"Service unavailable in account 123456789012."}`,
		kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."}},
	{"internal server", 500, "", `{"__type":"InternalServerException","message":"boom"}`,
		kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."}},
	{"model timeout", 408, "ModelTimeoutException", `{"message":"Model timed out."}`,
		kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."}},
	{"bad gateway html", 502, "", `<html>Bad Gateway</html>`,
		kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."}},
	{"validation", 400, "ValidationException", `{"message":"messages.0.content: must not be empty"}`,
		kindAndMessage{errkind.Invalid, "messages.0.content: must not be empty"}},
	{"resource not found", 404, "ResourceNotFoundException", `{"message":"Model not found."}`,
		kindAndMessage{errkind.Invalid, "Model not found."}},
	{"model error", 424, "ModelErrorException", `{"message":"The model returned an error.","originalStatusCode":400}`,
		kindAndMessage{errkind.Invalid, "The model returned an error."}},
	{"unknown 400", 400, "", `{"message":"nope"}`,
		kindAndMessage{errkind.Invalid, "nope"}},
	{"unknown 400 without message", 400, "", ``,
		kindAndMessage{errkind.Invalid, "Amazon Bedrock rejected the request (HTTP 400)."}},
	{"access denied", 403, "AccessDeniedException", `{"message":"User arn:aws:iam::123456789012:role/x is not authorized"}`,
		kindAndMessage{errkind.Denied, deniedMsg}},
	{"unrecognized client", 403, "", `{"__type":"UnrecognizedClientException","message":"The security token included in the request is invalid."}`,
		kindAndMessage{errkind.Denied, deniedMsg}},
	{"bare 403", 403, "", ``,
		kindAndMessage{errkind.Denied, deniedMsg}},
	{"bare 401", 401, "", ``,
		kindAndMessage{errkind.Denied, deniedMsg}},
	{"redirect is not followed", 307, "", ``,
		kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."}},
}

// ops runs each of the provider's operations once and returns its error.
var ops = []struct {
	name string
	run  func(t *testing.T, p *bedrock.Provider) error
}{
	{"converse", func(t *testing.T, p *bedrock.Provider) error {
		_, err := p.Converse(t.Context(), haikuCall, converseRequest())
		return err
	}},
	{"converse-stream", func(t *testing.T, p *bedrock.Provider) error {
		u, err := p.ConverseStream(t.Context(), haikuCall, converseRequest(), func(converse.StreamEvent) error {
			t.Error("emit called on an error response")
			return nil
		})
		if u != (converse.Usage{}) {
			t.Errorf("usage = %+v, want zero", u)
		}
		return err
	}},
	{"invoke", func(t *testing.T, p *bedrock.Provider) error {
		_, err := p.InvokeModel(t.Context(), haikuCall, converse.NativeRequest{Body: []byte(`{}`)})
		return err
	}},
	{"invoke-with-response-stream", func(t *testing.T, p *bedrock.Provider) error {
		u, err := p.InvokeModelStream(t.Context(), haikuCall, converse.NativeRequest{Body: []byte(`{}`)}, func([]byte) error {
			t.Error("emit called on an error response")
			return nil
		})
		if u != (converse.Usage{}) {
			t.Errorf("usage = %+v, want zero", u)
		}
		return err
	}},
}

func TestErrorResponses(t *testing.T) {
	for _, tt := range errorCases {
		for _, op := range ops {
			t.Run(tt.name+"/"+op.name, func(t *testing.T) {
				f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
					if tt.header != "" {
						w.Header().Set("X-Amzn-ErrorType", tt.header)
					}
					if tt.status/100 == 3 {
						w.Header().Set("Location", "/elsewhere")
					}
					w.Header().Set("Content-Type", "application/json")
					w.WriteHeader(tt.status)
					io.WriteString(w, tt.body)
				})
				p := newProvider(t, f.URL)
				err := op.run(t, p)
				if diff := cmp.Diff(describe(err), tt.want); diff != "" {
					t.Errorf("error %v (-got +want):\n%s", err, diff)
				}
				if !strings.HasSuffix(f.last(t).Path, "/"+op.name) {
					t.Errorf("path = %s, want the %s operation", f.last(t).Path, op.name)
				}
			})
		}
	}
}

func TestConnectionError(t *testing.T) {
	srv := httptest.NewServer(http.NotFoundHandler())
	url := srv.URL
	srv.Close()
	p := newProvider(t, url)
	for _, op := range ops {
		t.Run(op.name, func(t *testing.T) {
			err := op.run(t, p)
			if diff := cmp.Diff(describe(err), kindAndMessage{errkind.Unavailable, "Amazon Bedrock is unavailable."}); diff != "" {
				t.Errorf("error %v (-got +want):\n%s", err, diff)
			}
		})
	}
}

func TestConverseCancelled(t *testing.T) {
	arrived := make(chan struct{})
	serverSawCancel := make(chan bool, 1)
	f := newFake(t, true, func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		select {
		case <-r.Context().Done():
			serverSawCancel <- true
		case <-time.After(10 * time.Second):
			serverSawCancel <- false
		}
	})
	p := newProvider(t, f.URL)
	ctx, cancel := context.WithCancel(t.Context())
	go func() {
		<-arrived
		cancel()
	}()
	_, err := p.Converse(ctx, haikuCall, converseRequest())
	if !errors.Is(err, context.Canceled) || !errkind.Is(err, errkind.Unavailable) {
		t.Errorf("Converse error = %v, want Unavailable wrapping context.Canceled", err)
	}
	if !<-serverSawCancel {
		t.Error("the server's request context was not cancelled")
	}
}

// roundTripFunc is an http.RoundTripper for tests that need no network.
type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func TestEndpoints(t *testing.T) {
	tests := []struct {
		name      string
		endpoint  string
		endpoints map[string]string
		region    string
		want      string
	}{
		{
			name:   "AWS regional endpoint",
			region: "us-west-2",
			want:   "https://bedrock-runtime.us-west-2.amazonaws.com" + haikuPath + "/converse",
		},
		{
			name:     "one endpoint for every region",
			endpoint: "http://127.0.0.1:9090",
			region:   "eu-central-1",
			want:     "http://127.0.0.1:9090" + haikuPath + "/converse",
		},
		{
			name:      "region entry wins",
			endpoint:  "http://127.0.0.1:9090",
			endpoints: map[string]string{"us-west-2": "https://bedrock-runtime-fips.us-west-2.amazonaws.com/"},
			region:    "us-west-2",
			want:      "https://bedrock-runtime-fips.us-west-2.amazonaws.com" + haikuPath + "/converse",
		},
		{
			name:      "empty region entry falls back",
			endpoint:  "http://127.0.0.1:9090",
			endpoints: map[string]string{"us-west-2": ""},
			region:    "us-west-2",
			want:      "http://127.0.0.1:9090" + haikuPath + "/converse",
		},
		{
			name:      "other regions are not overridden",
			endpoints: map[string]string{"us-west-2": "http://127.0.0.1:9090"},
			region:    "us-east-1",
			want:      "https://bedrock-runtime.us-east-1.amazonaws.com" + haikuPath + "/converse",
		},
		{
			name:     "path prefix",
			endpoint: "http://gateway.internal:8080/bedrock%20runtime/",
			region:   "us-east-1",
			want:     "http://gateway.internal:8080/bedrock%20runtime" + haikuPath + "/converse",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := &sigv4.Verifier{Keys: keyMap{testKeyID: testSecret}, Now: func() time.Time { return signTime }}
			var got string
			client := &http.Client{Transport: roundTripFunc(func(r *http.Request) (*http.Response, error) {
				got = r.URL.Scheme + "://" + r.Host + r.URL.EscapedPath()
				body, _ := io.ReadAll(r.Body)
				res, err := v.Verify(r.Context(), r, body)
				if err != nil {
					t.Errorf("signature does not verify: %v", err)
				} else if res.Region != tt.region {
					t.Errorf("signed for region %q, want %q", res.Region, tt.region)
				}
				return &http.Response{StatusCode: 200, Header: http.Header{"Content-Type": {"application/json"}},
					Body: io.NopCloser(strings.NewReader(converseResponseJSON)), Request: r}, nil
			})}
			p := newProvider(t, tt.endpoint, func(c *bedrock.Config) {
				c.Endpoints = tt.endpoints
				c.HTTPClient = client
			})
			if _, err := p.Converse(t.Context(), converse.Call{ModelID: haikuID, Region: tt.region}, converseRequest()); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("request URL (-got +want):\n%s", diff)
			}
		})
	}
}

func TestNewRejectsBadEndpoints(t *testing.T) {
	tests := []struct {
		name string
		cfg  bedrock.Config
	}{
		{"relative", bedrock.Config{Endpoint: "127.0.0.1:9090"}},
		{"ftp", bedrock.Config{Endpoint: "ftp://example.com"}},
		{"no host", bedrock.Config{Endpoint: "http://"}},
		{"query", bedrock.Config{Endpoint: "http://example.com/?x=1"}},
		{"user info", bedrock.Config{Endpoint: "https://user:pw@example.com"}},
		{"region entry", bedrock.Config{Endpoints: map[string]string{"us-east-1": "example.com"}}},
		{"region name", bedrock.Config{Endpoints: map[string]string{"evil.com/x": "http://example.com"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.cfg.Credentials = credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "")
			if _, err := bedrock.New(t.Context(), tt.cfg); err == nil {
				t.Error("New succeeded, want an error")
			}
		})
	}
}

func TestBadRegion(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1")
	for _, region := range []string{"", "us-east-1.evil.com/", "US-EAST-1"} {
		t.Run(region, func(t *testing.T) {
			_, err := p.Converse(t.Context(), converse.Call{ModelID: haikuID, Region: region}, converseRequest())
			if !errkind.Is(err, errkind.Internal) {
				t.Errorf("Converse error = %v, want Internal", err)
			}
		})
	}
}

func TestCredentials(t *testing.T) {
	tests := []struct {
		name      string
		creds     aws.CredentialsProvider
		env       map[string]string
		verify    bool
		wantToken string
		wantAuth  bool
	}{
		{
			name:      "session credentials",
			creds:     credentials.NewStaticCredentialsProvider(testKeyID, testSecret, "session-token-1"),
			verify:    true,
			wantToken: "session-token-1",
			wantAuth:  true,
		},
		{
			name: "default chain from the environment",
			env: map[string]string{
				"AWS_ACCESS_KEY_ID":     testKeyID,
				"AWS_SECRET_ACCESS_KEY": testSecret,
				"AWS_SESSION_TOKEN":     "env-token",
			},
			verify:    true,
			wantToken: "env-token",
			wantAuth:  true,
		},
		{
			name:   "anonymous",
			creds:  aws.AnonymousCredentials{},
			verify: false,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.env != nil {
				none := filepath.Join(t.TempDir(), "none")
				t.Setenv("AWS_CONFIG_FILE", none)
				t.Setenv("AWS_SHARED_CREDENTIALS_FILE", none)
				t.Setenv("AWS_PROFILE", "")
				t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
				for k, v := range tt.env {
					t.Setenv(k, v)
				}
			}
			f := newFake(t, tt.verify, func(w http.ResponseWriter, r *http.Request) {
				io.WriteString(w, converseResponseJSON)
			})
			p := newProvider(t, f.URL, func(c *bedrock.Config) { c.Credentials = tt.creds })
			if _, err := p.Converse(t.Context(), haikuCall, converseRequest()); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			rec := f.last(t)
			got := struct {
				Token string
				Auth  bool
			}{rec.Auth.SessionToken, rec.Header.Get("Authorization") != ""}
			want := struct {
				Token string
				Auth  bool
			}{tt.wantToken, tt.wantAuth}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

// failingCreds is a credentials provider that cannot provide.
type failingCreds struct{}

func (failingCreds) Retrieve(context.Context) (aws.Credentials, error) {
	return aws.Credentials{}, errors.New("no EC2 IMDS role found")
}

func TestCredentialsUnavailable(t *testing.T) {
	p := newProvider(t, "http://127.0.0.1:1", func(c *bedrock.Config) { c.Credentials = failingCreds{} })
	_, err := p.Converse(t.Context(), haikuCall, converseRequest())
	want := kindAndMessage{errkind.Unavailable, "The Amazon Bedrock provider could not obtain AWS credentials."}
	if diff := cmp.Diff(describe(err), want); diff != "" {
		t.Errorf("error %v (-got +want):\n%s", err, diff)
	}
}
