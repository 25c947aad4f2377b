// Package server is Tollgate's one listener: HTTP/1.1 and cleartext HTTP/2
// (or TLS), request ids, the access log, panic recovery, body limits,
// authentication (SigV4 and Bedrock API keys) and dispatch to the API
// handlers by path or X-Amz-Target, plus /healthz, /readyz and /metrics.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"path"
	"runtime/debug"
	"strings"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

// Authorizer decides whether an authenticated caller may act (authz.Authorizer).
type Authorizer interface {
	Check(id principal.Identity, env authz.Env, action, resource string, keys map[string][]string) error
	// Unrestricted reports whether Check allows id everything: the
	// request then carries no authorizer, and its handlers build no
	// condition keys.
	Unrestricted(id principal.Identity) bool
}

// Authenticator is what the server needs from the principal domain.
type Authenticator interface {
	ByAccessKey(accessKeyID string) (principal.Identity, bool)
	ByAPIKey(token string) (principal.Identity, bool)
}

// Options configures a Server.
type Options struct {
	Logger   *slog.Logger
	Verifier *sigv4.Verifier
	Auth     Authenticator
	// Authz authorizes each operation; nil allows every authenticated call.
	Authz Authorizer
	// Region is the region requests must be signed for.
	Region string
	// RestJSON serves the restJson1 APIs (bedrock and bedrock-runtime),
	// routed by path. Unmatched paths answer UnknownOperationException.
	RestJSON http.Handler
	// Admin serves Tollgate's own API under /tollgate/v1/ (signing name
	// "tollgate").
	Admin http.Handler
	// RPC are the services dispatched by X-Amz-Target (awsJson) and by
	// POST /service/<Name>/operation/<Op> (Smithy RPC v2 CBOR).
	RPC []RPCService
	// Ready reports whether the server is ready to take traffic.
	Ready func(ctx context.Context) error
	// MaxBodyBytes caps every request body but those of RuntimeRoutes,
	// which RuntimeMaxBodyBytes caps (InvokeModel allows up to 25 MB).
	// Defaults 1 MiB and 25,000,000 bytes.
	MaxBodyBytes        int64
	RuntimeMaxBodyBytes int64
	// RuntimeRoutes are the http.ServeMux patterns of the runtime
	// operations (POST /model/{modelId}/converse, ...): only a request
	// RestJSON would serve by one of them gets RuntimeMaxBodyBytes.
	RuntimeRoutes []string
	// BodyReadTimeout bounds reading one request body, from the end of
	// its headers. Default 20s.
	BodyReadTimeout time.Duration
	// BodyMemoryBytes bounds the request bodies held in memory at once,
	// over every connection; a request that would pass it is throttled.
	// Default 256 MiB.
	BodyMemoryBytes int64
	// MaxConnsPerClient bounds the open connections from one client
	// address; more are closed on accept. 0 means no bound. HTTP/2
	// connections carry at most MaxStreamsPerConn concurrent requests.
	MaxConnsPerClient int
	// AllowPlaintextAPIKeys accepts Bedrock API keys over plain HTTP from
	// any address; by default only loopback clients may send them without
	// TLS (set it behind a proxy that terminates TLS).
	AllowPlaintextAPIKeys bool
	// MetricsAccount is the account whose principals may read /metrics on
	// the API port (signed, with tollgate:GetMetrics); it shows every
	// account's series. Empty: /metrics is served only by ServeMetrics.
	MetricsAccount string
	// TLSCert and TLSKey enable TLS.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the drain at shutdown.
	ShutdownTimeout time.Duration
	// Metrics, when set, is the Prometheus handler: on the API port, GET
	// /metrics for signed callers of MetricsAccount; unauthenticated on
	// the private listener ServeMetrics runs.
	Metrics http.Handler
	// Console, when set, is the web console, served under /console/ to
	// requests that carry no AWS credentials (it signs its users in
	// itself); a browser's GET / is redirected there. Its bodies are
	// read here, within ConsoleMaxBodyBytes (default 64 KiB) and
	// BodyReadTimeout, charged to the body budget.
	Console             http.Handler
	ConsoleMaxBodyBytes int64
	// ObserveRequest, when set, is called once per request with the
	// service and operation that served it ("" when none did), the status
	// and the duration.
	ObserveRequest func(service, op string, status int, d time.Duration)
	// AccessAttrs, when set, adds attributes to a request's access-log
	// line (the runtime calls' tokens, cost, profile name), given its
	// request id.
	AccessAttrs func(requestID string) []slog.Attr
	// AppendAccessAttrs, when set, is used instead of AccessAttrs: it
	// appends the attributes to attrs (a reused slice) and returns it.
	AppendAccessAttrs func(requestID string, attrs []slog.Attr) []slog.Attr
	// AccessLog, when set, takes the access-log lines: the server formats
	// each one itself, byte for byte as a slog.JSONHandler without
	// options would (Logger must be such a handler, writing to the same
	// place), and buffers it there — a line at ERROR is written at once.
	// Logger's level still decides which lines are written. Unset, the
	// lines go through Logger, one write each.
	AccessLog LineWriter
}

// RPCService is an AWS service spoken over awsJson and/or RPC v2 CBOR:
// the protocol engine's service value (names, protocols, exceptions and
// operations). The server routes to it and authenticates; it serves.
type RPCService = awsproto.Service

// MaxStreamsPerConn is the most concurrent requests one HTTP/2 connection
// may carry.
const MaxStreamsPerConn = 100

// Server is the HTTP front of Tollgate.
type Server struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler
	seq     atomic.Uint64
	prefix  string
	bodies  *bodyBudget
	// runtimeRoutes matches RuntimeRoutes, for the body limit.
	runtimeRoutes *routeSet
}

// New returns a Server; call Serve to run it.
func New(opts Options) *Server {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.MaxBodyBytes == 0 {
		opts.MaxBodyBytes = 1 << 20
	}
	if opts.RuntimeMaxBodyBytes == 0 {
		opts.RuntimeMaxBodyBytes = 25_000_000
	}
	if opts.ShutdownTimeout == 0 {
		opts.ShutdownTimeout = 30 * time.Second
	}
	if opts.BodyReadTimeout == 0 {
		opts.BodyReadTimeout = 20 * time.Second
	}
	if opts.BodyMemoryBytes == 0 {
		opts.BodyMemoryBytes = 256 << 20
	}
	if opts.ConsoleMaxBodyBytes == 0 {
		opts.ConsoleMaxBodyBytes = 64 << 10
	}
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &Server{opts: opts, log: opts.Logger, prefix: hex.EncodeToString(b[:]), bodies: newBodyBudget(opts.BodyMemoryBytes)}
	s.runtimeRoutes = newRouteSet(opts.RuntimeRoutes)
	s.handler = s.routes()
	return s
}

// BodyLimit returns the most body bytes the request may carry: the
// runtime limit for the runtime operations' routes, the control-plane
// limit for everything else (any RPC service, the admin API, and any
// other path, /model/... included).
func (s *Server) BodyLimit(r *http.Request) int64 {
	if r.Header.Get("X-Amz-Target") == "" && !strings.HasPrefix(r.URL.Path, "/service/") && !strings.HasPrefix(r.URL.Path, "/tollgate/") {
		if s.runtimeRoutes.matches(r, requestPath(r)) {
			return s.opts.RuntimeMaxBodyBytes
		}
	}
	return s.opts.MaxBodyBytes
}

// requestPath returns r's escaped path (URL.EscapedPath): the one observe
// computed for the request, or computed now.
func requestPath(r *http.Request) string {
	if p := awsproto.Info(r.Context()).Path; p != "" {
		return p
	}
	return sigv4.EscapedPath(r.URL)
}

// Handler returns the server's root handler (for httptest).
func (s *Server) Handler() http.Handler { return s.handler }

// newRequestID returns a UUID-shaped id: a per-process random prefix and
// a sequence number, cheap enough for every request.
func (s *Server) newRequestID() string {
	n := s.seq.Add(1)
	// fmt.Sprintf("%s-%04x-4%03x-8%03x-%012x", s.prefix, uint16(n>>48),
	// uint16(n>>36)&0xfff, uint16(n>>24)&0xfff, n&0xffffffffffff), in
	// one allocation.
	var buf [64]byte
	b := append(buf[:0], s.prefix...)
	b = append(b, '-')
	b = appendHex(b, uint64(uint16(n>>48)), 4)
	b = append(b, '-', '4')
	b = appendHex(b, uint64(uint16(n>>36)&0xfff), 3)
	b = append(b, '-', '8')
	b = appendHex(b, uint64(uint16(n>>24)&0xfff), 3)
	b = append(b, '-')
	b = appendHex(b, n&0xffffffffffff, 12)
	return string(b)
}

// appendHex appends v in lowercase hexadecimal, zero-padded to width
// digits (v must fit).
func appendHex(b []byte, v uint64, width int) []byte {
	const digits = "0123456789abcdef"
	for i := width - 1; i >= 0; i-- {
		b = append(b, digits[(v>>(4*uint(i)))&0xf])
	}
	return b
}

func (s *Server) routes() http.Handler {
	ops := http.NewServeMux()
	ops.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ok\n"))
	})
	ops.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if s.opts.Ready != nil {
			if err := s.opts.Ready(r.Context()); err != nil {
				http.Error(w, "not ready: "+err.Error(), http.StatusServiceUnavailable)
				return
			}
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = w.Write([]byte("ready\n"))
	})

	rest := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// An http.ServeMux answers a path with "//", "." or ".." segments
		// with a redirect no AWS client follows; answer it here instead.
		if s.opts.RestJSON == nil || !canonicalPath(requestPath(r)) {
			UnknownOperation(w, r)
			return
		}
		s.opts.RestJSON.ServeHTTP(w, r)
	})
	restAuthed := s.authenticate("bedrock", restJSONErrors, rest)
	var adminAuthed http.Handler
	if s.opts.Admin != nil {
		adminAuthed = s.authenticate("tollgate", restJSONErrors, s.opts.Admin)
	}
	var metricsAuthed http.Handler
	if s.opts.Metrics != nil && s.opts.MetricsAccount != "" {
		metricsAuthed = s.authenticate("tollgate", restJSONErrors, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := s.authorizeMetrics(r); err != nil {
				restJSONErrors(w, r, err)
				return
			}
			s.opts.Metrics.ServeHTTP(w, r)
		}))
	}

	type rpcRoute struct {
		json, cbor http.Handler
	}
	rpc := map[string]rpcRoute{}
	for _, svc := range s.opts.RPC {
		var rt rpcRoute
		for _, p := range svc.Protocols {
			fail := func(w http.ResponseWriter, r *http.Request, err error) { svc.WriteError(w, r, p, err) }
			h := s.authenticate(svc.SigningName, fail, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				svc.Serve(w, r, p, opFromContext(r))
			}))
			if p == awsproto.RPCv2CBOR {
				rt.cbor = h
			} else {
				rt.json = h
			}
		}
		rpc[svc.Name] = rt
	}

	return s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			ops.ServeHTTP(w, r)
			return
		case "/metrics":
			if metricsAuthed != nil && r.Method == http.MethodGet {
				metricsAuthed.ServeHTTP(w, r)
				return
			}
		}
		if s.opts.Console != nil && s.forConsole(r) {
			s.serveConsole(w, r)
			return
		}
		if adminAuthed != nil && strings.HasPrefix(r.URL.Path, "/tollgate/v1/") {
			adminAuthed.ServeHTTP(w, r)
			return
		}
		if target := r.Header.Get("X-Amz-Target"); target != "" && r.Method == http.MethodPost {
			name, op, _ := strings.Cut(target, ".")
			if rt, ok := rpc[name]; ok && rt.json != nil && op != "" {
				rt.json.ServeHTTP(w, withOp(r, op))
				return
			}
			// A client's mistake: logged as such, not as a server error.
			awsproto.WriteAWSJSONError(w, r, awsproto.Codes{errkind.Invalid: {Name: "UnknownOperationException", Status: 400}},
				errkind.New(errkind.Invalid, "No operation matches X-Amz-Target %q.", target), "application/x-amz-json-1.1")
			return
		}
		if rest, ok := strings.CutPrefix(r.URL.Path, "/service/"); ok && r.Method == http.MethodPost {
			name, op, _ := strings.Cut(rest, "/operation/")
			if rt, ok := rpc[name]; ok && rt.cbor != nil && op != "" && !strings.Contains(op, "/") {
				rt.cbor.ServeHTTP(w, withOp(r, op))
				return
			}
		}
		restAuthed.ServeHTTP(w, r)
	}))
}

type opKey struct{}

func withOp(r *http.Request, op string) *http.Request {
	return r.WithContext(context.WithValue(r.Context(), opKey{}, op))
}

func opFromContext(r *http.Request) string {
	op, _ := r.Context().Value(opKey{}).(string)
	return op
}

// errorWriter writes an error in one protocol's shape.
type errorWriter func(w http.ResponseWriter, r *http.Request, err error)

func restJSONErrors(w http.ResponseWriter, r *http.Request, err error) {
	awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, err)
}

// UnknownOperation answers a restJson1 request no route matched.
func UnknownOperation(w http.ResponseWriter, r *http.Request) {
	awsproto.WriteRestJSONError(w, r, awsproto.Codes{errkind.NotFound: {Name: "UnknownOperationException", Status: 404}},
		errkind.New(errkind.NotFound, "No operation matches %s %s.", r.Method, r.URL.EscapedPath()))
}

// canonicalPath reports whether p is already in the form http.ServeMux
// routes without redirecting: rooted, without empty, "." or ".." segments.
func canonicalPath(p string) bool {
	if p == "" || p[0] != '/' {
		return false
	}
	c := path.Clean(p)
	if p[len(p)-1] == '/' && c != "/" {
		c += "/"
	}
	return c == p
}

// authenticate proves who is calling, then serves the request. What needs
// no body is checked first — a Bedrock API key, or a SigV4 Authorization
// header naming an active access key, scoped to signingName and this
// region, with a fresh date — so a caller who cannot get that far costs
// neither memory nor a read. Only then is the body read (incrementally,
// within the route's limit, under BodyReadTimeout, charged to the body
// budget) and the signature over it proven.
func (s *Server) authenticate(signingName string, fail errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := awsproto.Info(r.Context())
		id, prepared, err := s.identifyHeaders(r, signingName)
		if err != nil {
			failUnread(w, r, fail, err)
			return
		}
		body, release, err := readBody(w, r, s.BodyLimit(r), s.opts.BodyReadTimeout, s.bodies)
		defer release()
		if err != nil {
			failUnread(w, r, fail, err)
			return
		}
		info.Body = body
		if prepared != nil {
			if id, err = s.finishSigV4(prepared, body); err != nil {
				fail(w, r, err)
				return
			}
		}
		info.Identity = id
		if s.opts.Authz != nil && !s.opts.Authz.Unrestricted(id) {
			env := authz.Env{Secure: r.TLS != nil}
			if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
				env.SourceIP = host
			}
			info.Authorizer = func(action, resource string, keys map[string][]string) error {
				return s.opts.Authz.Check(id, env, action, resource, keys)
			}
		}
		next.ServeHTTP(w, r)
	})
}

// failUnread answers err to a request whose body was not read, closing an
// HTTP/1.1 connection after the answer: otherwise net/http would wait to
// read (up to 256 KB of) the unread body before answering, to keep the
// connection, which a client that never sends it turns into a hang.
func failUnread(w http.ResponseWriter, r *http.Request, fail errorWriter, err error) {
	if r.ProtoMajor == 1 && r.ContentLength != 0 {
		w.Header().Set("Connection", "close")
	}
	fail(w, r, err)
}

// mustBeSigned are the headers a SigV4 signature must cover when present:
// each changes who is billed or what is served.
var mustBeSigned = []string{"X-Tollgate-Profile-Tags"}

// identifyHeaders authenticates what the headers alone can: a Bedrock API
// key completely (the identity is returned), a SigV4 signature up to the
// body (the prepared request is returned for finishSigV4).
func (s *Server) identifyHeaders(r *http.Request, signingName string) (principal.Identity, *sigv4.Prepared, error) {
	h := r.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(h, "Bearer "); ok {
		if signingName != "bedrock" && r.URL.Path != "/metrics" {
			return principal.Identity{}, nil, errkind.New(errkind.Denied, "Bedrock API keys are accepted by Bedrock APIs only; sign this request with SigV4.").WithCode("UnrecognizedClientException")
		}
		if r.TLS == nil && !s.opts.AllowPlaintextAPIKeys && !loopbackClient(r) {
			return principal.Identity{}, nil, errkind.New(errkind.Denied, "Bedrock API keys are accepted over plain HTTP only from this host; use HTTPS.")
		}
		id, ok := s.opts.Auth.ByAPIKey(strings.TrimSpace(token))
		if !ok {
			return principal.Identity{}, nil, errkind.New(errkind.Denied, "The API key is invalid or has been revoked.").WithCode("UnrecognizedClientException")
		}
		return id, nil, nil
	}
	p, err := s.opts.Verifier.Prepare(r.Context(), r)
	if err != nil {
		return principal.Identity{}, nil, err
	}
	region, service := p.Scope()
	if service != signingName {
		return principal.Identity{}, nil, errkind.New(errkind.Denied, "Credential should be scoped to correct service: '%s'.", signingName).WithCode("InvalidSignatureException")
	}
	if s.opts.Region != "" && region != s.opts.Region {
		return principal.Identity{}, nil, errkind.New(errkind.Denied, "Credential should be scoped to a valid region: '%s'.", s.opts.Region).WithCode("InvalidSignatureException")
	}
	for _, name := range mustBeSigned {
		if r.Header.Get(name) != "" && !p.Signs(name) {
			return principal.Identity{}, nil, errkind.New(errkind.Denied, "'%s' must be a 'SignedHeader' in the AWS Authorization.", name).WithCode("IncompleteSignatureException")
		}
	}
	return principal.Identity{}, &p, nil
}

// finishSigV4 proves a prepared signature over the body.
func (s *Server) finishSigV4(p *sigv4.Prepared, body []byte) (principal.Identity, error) {
	res, err := s.opts.Verifier.Finish(p, body)
	if err != nil {
		return principal.Identity{}, err
	}
	id, ok := s.opts.Auth.ByAccessKey(res.AccessKeyID)
	if !ok {
		return principal.Identity{}, errkind.New(errkind.Denied, "The security token included in the request is invalid.").WithCode("UnrecognizedClientException")
	}
	return id, nil
}

// loopbackClient reports whether r came from this host.
func loopbackClient(r *http.Request) bool {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return false
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// authorizeMetrics lets through callers of the metrics account allowed
// tollgate:GetMetrics: the series name every account's budgets, alarms
// and profiles.
func (s *Server) authorizeMetrics(r *http.Request) error {
	if awsproto.Account(r.Context()) != s.opts.MetricsAccount {
		return errkind.New(errkind.Denied, "You are not authorized to read /metrics.")
	}
	return awsproto.Authorize(r.Context(), "tollgate:GetMetrics", "*", nil)
}

// statusWriter records the status and size for the access log and passes
// flushes through (streams need them).
type statusWriter struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (w *statusWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	n, err := w.ResponseWriter.Write(b)
	w.bytes += int64(n)
	return n, err
}

func (w *statusWriter) Flush() {
	if f, ok := w.ResponseWriter.(http.Flusher); ok {
		f.Flush()
	}
}

func (w *statusWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

// requestState is what observe allocates per request.
type requestState struct {
	info awsproto.RequestInfo
	sw   statusWriter
	id   [1]string // the X-Amzn-RequestId header's value
}

// requestIDHeader is X-Amzn-RequestId in canonical form, the key
// Header.Set would use.
var requestIDHeader = http.CanonicalHeaderKey("X-Amzn-RequestId")

// observe assigns the request id, recovers panics, and writes one access
// line per request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		// The request's info, its status writer and its id header's value
		// in one allocation.
		st := &requestState{
			info: awsproto.RequestInfo{ID: s.newRequestID(), Path: sigv4.EscapedPath(r.URL)},
			sw:   statusWriter{ResponseWriter: w},
		}
		info, sw := &st.info, &st.sw
		st.id[0] = info.ID
		w.Header()[requestIDHeader] = st.id[:] // Header.Set, without its slice
		r = r.WithContext(awsproto.WithInfo(r.Context(), info))
		defer func() {
			if v := recover(); v != nil {
				if v == http.ErrAbortHandler {
					panic(v)
				}
				s.log.Error("panic", "request_id", info.ID, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
				info.Err = fmt.Errorf("panic: %v", v)
				if sw.status == 0 {
					awsproto.WriteRestJSONError(sw, r, awsproto.BedrockCodes, errkind.New(errkind.Internal, "internal error"))
				}
			}
			s.accessLog(r, sw, info, time.Since(start))
		}()
		next.ServeHTTP(sw, r)
	})
}

// Serve accepts connections on ln until ctx is cancelled, then shuts down:
// it stops accepting, lets the requests in flight finish for up to the
// shutdown timeout, then cancels the contexts of those still running and
// closes their connections (a stream cut so ends and records the usage it
// delivered). It returns once every handler has returned.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	// Handlers do not see ctx's cancellation (the requests in flight get
	// the grace period), but are cancelled when the grace period is over.
	hctx, cut := context.WithCancel(context.WithoutCancel(ctx))
	defer cut()
	var handlers inFlight
	srv := &http.Server{
		Handler:           handlers.track(s.handler),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return hctx },
	}
	srv.HTTP2 = &http.HTTP2Config{MaxConcurrentStreams: MaxStreamsPerConn}
	ln = limitPerClient(ln, s.opts.MaxConnsPerClient)
	var p http.Protocols
	p.SetHTTP1(true)
	if s.opts.TLSCert != "" {
		p.SetHTTP2(true)
	} else {
		p.SetUnencryptedHTTP2(true)
	}
	srv.Protocols = &p

	errc := make(chan error, 1)
	go func() {
		var err error
		if s.opts.TLSCert != "" {
			err = srv.ServeTLS(ln, s.opts.TLSCert, s.opts.TLSKey)
		} else {
			err = srv.Serve(ln)
		}
		errc <- err
	}()
	select {
	case err := <-errc:
		cut()
		srv.Close()
		s.waitHandlers(&handlers)
		return err
	case <-ctx.Done():
	}
	s.log.Info("shutting_down", "timeout", s.opts.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), s.opts.ShutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		s.log.Warn("shutdown_timeout", "in_flight", handlers.count())
		cut()
		_ = srv.Close()
	}
	s.waitHandlers(&handlers)
	if e := <-errc; e != nil && !errors.Is(e, http.ErrServerClosed) {
		return e
	}
	return nil
}

// waitHandlers waits for every handler to return, logging now and then
// the ones still running.
func (s *Server) waitHandlers(handlers *inFlight) {
	idle := handlers.whenIdle()
	tick := time.NewTicker(5 * time.Second)
	defer tick.Stop()
	for {
		select {
		case <-idle:
			return
		case <-tick.C:
			s.log.Warn("shutdown_waiting_for_handlers", "in_flight", handlers.count())
		}
	}
}

// ServeMetrics serves GET /metrics, unauthenticated, on ln until ctx is
// cancelled: a listener for a private address that only the monitoring
// system reaches.
func (s *Server) ServeMetrics(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	if s.opts.Metrics != nil {
		mux.Handle("GET /metrics", s.opts.Metrics)
	}
	return s.servePrivate(ctx, ln, mux, 30*time.Second)
}

// ServeDebug serves Go's runtime profiles under /debug/pprof/ (the heap,
// CPU, goroutine, allocation, block and mutex profiles and the execution
// trace), unauthenticated, on ln until ctx is cancelled: a listener for a
// loopback or private address only operators reach. Writes have no
// deadline: a CPU profile or trace streams for as long as it was asked
// (?seconds=N).
func (s *Server) ServeDebug(ctx context.Context, ln net.Listener) error {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /debug/pprof/", pprof.Index)
	mux.HandleFunc("GET /debug/pprof/cmdline", pprof.Cmdline)
	mux.HandleFunc("GET /debug/pprof/profile", pprof.Profile)
	mux.HandleFunc("GET /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("POST /debug/pprof/symbol", pprof.Symbol)
	mux.HandleFunc("GET /debug/pprof/trace", pprof.Trace)
	return s.servePrivate(ctx, ln, mux, 0)
}

// servePrivate serves h on ln until ctx is cancelled, then shuts down
// within 5 seconds.
func (s *Server) servePrivate(ctx context.Context, ln net.Listener, h http.Handler, writeTimeout time.Duration) error {
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       10 * time.Second,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       120 * time.Second,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err := srv.Shutdown(sctx)
	<-errc
	return err
}

// Services returns the RPC services the server dispatches.
func (s *Server) Services() []RPCService { return s.opts.RPC }
