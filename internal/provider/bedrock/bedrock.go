// Package bedrock is the model provider that forwards calls to Amazon
// Bedrock Runtime, or to any endpoint that speaks its wire protocol (for
// example another Tollgate). It implements invoke.Provider (Converse and
// ConverseStream) and invoke.NativeInvoker (InvokeModel and
// InvokeModelWithResponseStream).
//
// Requests are forwarded as Converse or model-native JSON, never rebuilt
// through the AWS SDK's typed structs: the Converse body is json.Marshal of
// the canonical request (package converse's types follow Bedrock's Converse
// shapes member for member and keep documents as raw JSON), and native
// bodies pass through byte for byte, so what a client sent reaches Bedrock
// unchanged even where the SDK of the day does not know a field. aws-sdk-go-v2
// supplies what must match AWS exactly: the credentials (the default chain
// through config.LoadDefaultConfig, or a given provider), and the SigV4
// signer (service name "bedrock", as the Bedrock Runtime SDKs sign). Each
// call is a single attempt with no SDK retries: the Tollgate pipeline fails
// over between regions itself. Streams are decoded with smithy-go's
// event-stream codec.
//
// The model is addressed, in order of precedence, by the call's Upstream
// (for example an application-inference-profile ARN), by Config.Models, or
// by the catalogue model id. It goes into the path as one segment escaped
// the way the SDKs escape it (everything but A-Z a-z 0-9 - . _ ~ becomes
// %XX, including ':' and '/'), and is signed over that escaped path escaped
// once more, as AWS verifies it.
//
// Errors are *errkind.Error values (but a stream whose emit fails returns
// emit's error as it is). An upstream error response is
// classified by its exception name (the X-Amzn-ErrorType header, else the
// body's __type) and then by HTTP status:
//
//   - ThrottlingException, ModelNotReadyException, a 429
//     ServiceQuotaExceededException and any other 429: Throttled, with the
//     upstream message.
//   - ServiceUnavailableException, InternalServerException,
//     ModelTimeoutException, ModelStreamErrorException, any 5xx and 408:
//     Unavailable; the upstream message is kept for the log only.
//   - ValidationException, ResourceNotFoundException, ModelErrorException,
//     ConflictException and any other 4xx: Invalid, with the upstream
//     message.
//   - A ServiceQuotaExceededException that is not a 429 (Bedrock sends it
//     as a 400 when an account quota is used up): QuotaExceeded, with the
//     upstream message.
//   - AccessDeniedException, the signature and token exceptions
//     (UnrecognizedClientException, InvalidSignatureException, ...), 401 and
//     403: Denied, saying only that the upstream rejected the provider's
//     credentials; the upstream message is kept for the log.
//
// Failures to connect, to obtain credentials, or to read a response, and
// malformed responses, are Unavailable, so the pipeline may fail over.
// Exceptions inside a stream (:message-type "exception") are classified by
// :exception-type with the same table; an unmodeled stream error
// (:message-type "error") is Unavailable.
//
// # Usage
//
// Converse usage is the response's usage. ConverseStream usage is the
// metadata event's usage. InvokeModel usage comes from the
// X-Amzn-Bedrock-Input-Token-Count, -Output-Token-Count,
// -Cache-Read-Input-Token-Count and -Cache-Write-Input-Token-Count response
// headers; InvokeModelWithResponseStream usage from the
// "amazon-bedrock-invocationMetrics" object Bedrock puts in the last chunk
// of every model family. totalTokens is then input + output + cache read +
// cache write, as Bedrock counts it.
//
// A stream that stops before its usage arrives (an upstream exception, a
// broken connection, emit failing because the client went away) is billed
// an estimate: one output token per four bytes of generated text seen so
// far, rounded up, and the input tokens only when the stream already
// reported them (zero otherwise). For ConverseStream the generated text is
// the text, tool-use input and reasoning text deltas; for native streams it
// is the string members named text, completion, outputText, generation,
// content, partial_json or thinking anywhere in the chunks, and the input
// and output counts are those of input_tokens and output_tokens members
// (Anthropic's message_start and message_delta usage) when present.
package bedrock

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// signingName is the SigV4 service name of Bedrock Runtime.
const signingName = "bedrock"

// Limits on what is read from upstream.
const (
	maxConverseResponse = 32 << 20 // a Converse response body
	maxNativeResponse   = 64 << 20 // an InvokeModel response body (images are large)
	maxErrorBody        = 64 << 10 // an error response body
)

// Config configures a Provider.
type Config struct {
	// Endpoints maps a region to the Bedrock Runtime endpoint (an http or
	// https URL, optionally with a path prefix) calls routed to that region
	// are sent to. A region with no entry, or an empty one, uses Endpoint.
	// Default: empty.
	Endpoints map[string]string
	// Endpoint is the endpoint for every region without an Endpoints
	// entry, e.g. "http://127.0.0.1:9090" for a chained Tollgate. Default
	// empty: AWS's regional endpoint,
	// https://bedrock-runtime.{region}.amazonaws.com.
	Endpoint string
	// Credentials signs the requests. Default nil: the AWS SDK's default
	// chain (environment, shared config and credentials files, SSO, web
	// identity, container and EC2 instance roles), loaded by New. Pass
	// aws.AnonymousCredentials{} to send requests unsigned.
	Credentials aws.CredentialsProvider
	// HTTPClient sends the requests. Default: a client with connect, TLS
	// handshake and response-header timeouts but no overall timeout (a
	// stream may run for minutes; each call is bounded by its context),
	// which does not follow redirects.
	HTTPClient *http.Client
	// Models maps a catalogue model id to the model id or ARN Bedrock
	// knows it by, e.g. a real application-inference-profile ARN. A call's
	// Upstream takes precedence; a model without an entry is addressed by
	// its catalogue id. Default: empty.
	Models map[string]string
	// Now is the signing clock. Default nil: time.Now.
	Now func() time.Time
}

// Provider is an invoke.Provider and invoke.NativeInvoker that forwards
// calls to Amazon Bedrock Runtime. It is safe for concurrent use.
type Provider struct {
	endpoints map[string]*url.URL // per-region overrides
	endpoint  *url.URL            // override for every other region; nil: AWS
	creds     aws.CredentialsProvider
	anonymous bool
	signer    *v4.Signer
	client    *http.Client
	models    map[string]string
	now       func() time.Time
}

// New returns a Provider. When cfg.Credentials is nil it loads the AWS
// SDK's default configuration under ctx, which finds the credential chain
// but fetches no credentials yet (that happens on the first call). It
// returns an error if an endpoint is not an absolute http or https URL or
// the default configuration cannot be loaded.
func New(ctx context.Context, cfg Config) (*Provider, error) {
	p := &Provider{
		endpoints: make(map[string]*url.URL, len(cfg.Endpoints)),
		signer:    v4.NewSigner(),
		client:    cfg.HTTPClient,
		models:    maps.Clone(cfg.Models),
		now:       cfg.Now,
	}
	if cfg.Endpoint != "" {
		u, err := parseEndpoint(cfg.Endpoint)
		if err != nil {
			return nil, err
		}
		p.endpoint = u
	}
	for region, e := range cfg.Endpoints {
		if e == "" {
			continue
		}
		if !validRegion(region) {
			return nil, fmt.Errorf("bedrock: endpoints: region %q is not a valid region name", region)
		}
		u, err := parseEndpoint(e)
		if err != nil {
			return nil, err
		}
		p.endpoints[region] = u
	}

	creds := cfg.Credentials
	if creds == nil {
		awsCfg, err := config.LoadDefaultConfig(ctx)
		if err != nil {
			return nil, fmt.Errorf("bedrock: loading the default AWS configuration: %w", err)
		}
		if awsCfg.Credentials == nil {
			return nil, errors.New("bedrock: the default AWS configuration has no credential provider")
		}
		creds = awsCfg.Credentials
	}
	switch {
	case aws.IsCredentialsProvider(creds, aws.AnonymousCredentials{}):
		p.anonymous = true
	case !aws.IsCredentialsProvider(creds, (*aws.CredentialsCache)(nil)):
		creds = aws.NewCredentialsCache(creds)
	}
	p.creds = creds

	if p.client == nil {
		p.client = defaultClient()
	}
	if p.now == nil {
		p.now = time.Now
	}
	return p, nil
}

// parseEndpoint checks an endpoint override and returns it parsed, without
// a trailing slash.
func parseEndpoint(s string) (*url.URL, error) {
	u, err := url.Parse(s)
	if err != nil {
		return nil, fmt.Errorf("bedrock: endpoint %q: %v", s, err)
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return nil, fmt.Errorf("bedrock: endpoint %q: scheme must be http or https", s)
	case u.Host == "":
		return nil, fmt.Errorf("bedrock: endpoint %q has no host", s)
	case u.User != nil:
		return nil, fmt.Errorf("bedrock: endpoint %q must not carry user information", s)
	case u.RawQuery != "" || u.ForceQuery || u.Fragment != "":
		return nil, fmt.Errorf("bedrock: endpoint %q must not have a query or fragment", s)
	}
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = strings.TrimRight(u.RawPath, "/")
	return u, nil
}

// validRegion reports whether r can name a region: it goes into a host name
// and a credential scope, so only lowercase letters, digits and '-'.
func validRegion(r string) bool {
	if r == "" || len(r) > 64 {
		return false
	}
	for i := 0; i < len(r); i++ {
		c := r[i]
		if (c < 'a' || c > 'z') && (c < '0' || c > '9') && c != '-' {
			return false
		}
	}
	return true
}

// Response-header timeout of the default client. A non-streaming call is
// answered only when the model has finished, which takes minutes for long
// outputs; the call's context is the real bound, this only stops a silent
// server from holding a connection forever.
const responseHeaderTimeout = 15 * time.Minute

// defaultClient bounds connecting, handshakes and the wait for response
// headers, but not reading the response. It does not follow redirects: a
// signed request must not be replayed to another host.
func defaultClient() *http.Client {
	return &http.Client{
		Transport: &http.Transport{
			Proxy:                 http.ProxyFromEnvironment,
			DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
			ForceAttemptHTTP2:     true,
			TLSHandshakeTimeout:   10 * time.Second,
			ResponseHeaderTimeout: responseHeaderTimeout,
			ExpectContinueTimeout: time.Second,
			IdleConnTimeout:       90 * time.Second,
			MaxIdleConns:          100,
			MaxIdleConnsPerHost:   32,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// upstreamModel is the model id or ARN Bedrock is asked for.
func (p *Provider) upstreamModel(call converse.Call) string {
	if call.Upstream != "" {
		return call.Upstream
	}
	if m := p.models[call.ModelID]; m != "" {
		return m
	}
	return call.ModelID
}

// converseBody is the body to forward: the client's own bytes when the
// request came from the wire, so members Tollgate does not model reach
// Bedrock unchanged — with serviceTier set to the tier the pipeline
// resolved when the client named another or none (a profile's default).
func converseBody(req *converse.Request, tier string) ([]byte, error) {
	if len(req.Raw) == 0 {
		if tier != "" && req.ServiceTier.Tier() != tier {
			r := *req
			r.ServiceTier = &converse.ServiceTier{Type: tier}
			return json.Marshal(&r)
		}
		return json.Marshal(req)
	}
	if tier == "" || req.ServiceTier.Tier() == tier {
		return req.Raw, nil
	}
	var members map[string]json.RawMessage
	if err := json.Unmarshal(req.Raw, &members); err != nil {
		return nil, err
	}
	members["serviceTier"], _ = json.Marshal(converse.ServiceTier{Type: tier})
	return json.Marshal(members)
}

// tierHeader names the service tier of InvokeModel requests and responses.
const tierHeader = "X-Amzn-Bedrock-Service-Tier"

// latencyHeader names the latency mode of InvokeModel requests and
// responses (the SDK's PerformanceConfigLatency member).
const latencyHeader = "X-Amzn-Bedrock-PerformanceConfig-Latency"

// nativeHeaders are the headers of an InvokeModel request: its body's
// Content-Type (application/json when empty), the accept header under
// acceptName, and the service tier asked for.
func nativeHeaders(call converse.Call, in converse.NativeRequest, acceptName string) http.Header {
	h := http.Header{"Content-Type": {contentType(in.ContentType)}}
	if in.Accept != "" {
		h.Set(acceptName, in.Accept)
	}
	if call.ServiceTier != "" {
		h.Set(tierHeader, call.ServiceTier)
	}
	if in.Latency != "" {
		h.Set(latencyHeader, in.Latency)
	}
	return h
}

// Converse runs one Converse call.
func (p *Provider) Converse(ctx context.Context, call converse.Call, req *converse.Request) (*converse.Response, error) {
	body, err := converseBody(req, call.ServiceTier)
	if err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	resp, err := p.do(ctx, call, "converse", body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	data, err := readAll(resp.Body, maxConverseResponse)
	if err != nil {
		return nil, readError(ctx, err)
	}
	var out converse.Response
	if err := json.Unmarshal(data, &out); err != nil {
		return nil, malformed(err)
	}
	return &out, nil
}

// InvokeModel runs one InvokeModel call: in.Body is sent as it is with its
// Content-Type (application/json when empty) and Accept, and the response
// body comes back as it is, with its Content-Type and the usage Bedrock
// reports in its token-count headers.
func (p *Provider) InvokeModel(ctx context.Context, call converse.Call, in converse.NativeRequest) (converse.NativeResponse, error) {
	resp, err := p.do(ctx, call, "invoke", in.Body, nativeHeaders(call, in, "Accept"))
	if err != nil {
		return converse.NativeResponse{}, err
	}
	defer resp.Body.Close()
	data, err := readAll(resp.Body, maxNativeResponse)
	if err != nil {
		return converse.NativeResponse{}, readError(ctx, err)
	}
	return converse.NativeResponse{
		Body:        data,
		ContentType: resp.Header.Get("Content-Type"),
		Usage:       headerUsage(resp.Header),
		ServiceTier: resp.Header.Get(tierHeader),
		Latency:     resp.Header.Get(latencyHeader),
	}, nil
}

// contentType is the Content-Type of a native request body.
func contentType(ct string) string {
	if ct == "" {
		return "application/json"
	}
	return ct
}

// headerUsage reads InvokeModel's token-count headers; a missing or
// malformed count is 0.
func headerUsage(h http.Header) converse.Usage {
	n := func(name string) int64 {
		v, err := strconv.ParseInt(strings.TrimSpace(h.Get(name)), 10, 64)
		if err != nil || v < 0 {
			return 0
		}
		return v
	}
	return usage(
		n("X-Amzn-Bedrock-Input-Token-Count"),
		n("X-Amzn-Bedrock-Output-Token-Count"),
		n("X-Amzn-Bedrock-Cache-Read-Input-Token-Count"),
		n("X-Amzn-Bedrock-Cache-Write-Input-Token-Count"),
	)
}

// usage builds a Usage whose total counts every token read or written.
func usage(in, out, cacheRead, cacheWrite int64) converse.Usage {
	return converse.Usage{
		InputTokens:           in,
		OutputTokens:          out,
		CacheReadInputTokens:  cacheRead,
		CacheWriteInputTokens: cacheWrite,
		TotalTokens:           in + out + cacheRead + cacheWrite,
	}
}

// do signs and sends POST /model/{model}/{op} with body and the given
// headers to call's region, and returns the response if its status is 2xx;
// otherwise it returns the upstream error, classified.
func (p *Provider) do(ctx context.Context, call converse.Call, op string, body []byte, h http.Header) (*http.Response, error) {
	req, err := p.newRequest(ctx, call, op, body, h)
	if err != nil {
		return nil, err
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, transportError(ctx, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		defer resp.Body.Close()
		data, _ := readAll(resp.Body, maxErrorBody)
		return nil, responseError(resp.StatusCode, resp.Header, data)
	}
	return resp, nil
}

// newRequest builds and signs the request.
func (p *Provider) newRequest(ctx context.Context, call converse.Call, op string, body []byte, h http.Header) (*http.Request, error) {
	region := call.Region
	if !validRegion(region) {
		return nil, errkind.New(errkind.Internal, "internal error: the Bedrock provider was called for region %q", region)
	}
	model := p.upstreamModel(call)
	if model == "" {
		return nil, errkind.New(errkind.Internal, "internal error: the Bedrock provider was called without a model id")
	}
	base := p.endpointFor(region)
	escaped := base.EscapedPath() + "/model/" + httpbinding.EscapePath(model, true) + "/" + op
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base.Scheme+"://"+base.Host+escaped, bytes.NewReader(body))
	if err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	if req.URL.EscapedPath() != escaped {
		// Cannot happen with net/url today; if it did, send and sign the
		// path exactly as escaped rather than as net/url would re-escape it.
		req.URL.Opaque = "//" + base.Host + escaped
	}
	for k, v := range h {
		req.Header[k] = v
	}
	if p.anonymous {
		return req, nil
	}
	creds, err := p.creds.Retrieve(ctx)
	if err != nil {
		if ctx.Err() != nil {
			return nil, transportError(ctx, err)
		}
		return nil, errkind.Wrap(errkind.Unavailable, err, "The Amazon Bedrock provider could not obtain AWS credentials.")
	}
	sum := sha256.Sum256(body)
	if err := p.signer.SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), signingName, region, p.now()); err != nil {
		return nil, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	return req, nil
}

// endpointFor returns the endpoint serving region (already validated).
func (p *Provider) endpointFor(region string) *url.URL {
	if u, ok := p.endpoints[region]; ok {
		return u
	}
	if p.endpoint != nil {
		return p.endpoint
	}
	return &url.URL{Scheme: "https", Host: "bedrock-runtime." + region + ".amazonaws.com"}
}

// readAll reads r to the end, failing if it holds more than limit bytes.
func readAll(r io.Reader, limit int64) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(data)) > limit {
		return nil, errTooLarge
	}
	return data, nil
}

var errTooLarge = errors.New("response too large")
