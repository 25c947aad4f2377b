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
	// MaxBodyBytes caps control-plane bodies; RuntimeMaxBodyBytes caps
	// /model/... bodies (InvokeModel allows up to 25 MB).
	MaxBodyBytes        int64
	RuntimeMaxBodyBytes int64
	// TLSCert and TLSKey enable TLS.
	TLSCert, TLSKey string
	// ShutdownTimeout bounds the drain at shutdown.
	ShutdownTimeout time.Duration
	// Metrics, when set, serves GET /metrics (Prometheus), unauthenticated
	// like /healthz.
	Metrics http.Handler
	// ObserveRequest, when set, is called once per request with the
	// service and operation that served it ("" when none did), the status
	// and the duration.
	ObserveRequest func(service, op string, status int, d time.Duration)
}

// RPCService is an AWS service spoken over awsJson and/or RPC v2 CBOR.
type RPCService struct {
	// Name is the Smithy service shape name, e.g.
	// "ResourceGroupsTaggingAPI_20170126": the X-Amz-Target prefix and the
	// RPC v2 path segment.
	Name string
	// SigningName is the SigV4 service name requests must be signed for.
	SigningName string
	// ActionPrefix, when set, makes the server authorize "<prefix>:<Op>"
	// on resource "*" before the operation runs (e.g. "tag", "ce").
	ActionPrefix string
	// JSON and CBOR serve one operation; either may be nil.
	JSON, CBOR func(w http.ResponseWriter, r *http.Request, op string)
	// JSONError and CBORError write errors in each protocol's shape.
	JSONError, CBORError func(w http.ResponseWriter, r *http.Request, err error)
}

// Server is the HTTP front of Tollgate.
type Server struct {
	opts    Options
	log     *slog.Logger
	handler http.Handler
	seq     atomic.Uint64
	prefix  string
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
	var b [4]byte
	_, _ = rand.Read(b[:])
	s := &Server{opts: opts, log: opts.Logger, prefix: hex.EncodeToString(b[:])}
	s.handler = s.routes()
	return s
}

// Handler returns the server's root handler (for httptest).
func (s *Server) Handler() http.Handler { return s.handler }

// newRequestID returns a UUID-shaped id: a per-process random prefix and
// a sequence number, cheap enough for every request.
func (s *Server) newRequestID() string {
	n := s.seq.Add(1)
	return fmt.Sprintf("%s-%04x-4%03x-8%03x-%012x", s.prefix, uint16(n>>48), uint16(n>>36)&0xfff, uint16(n>>24)&0xfff, n&0xffffffffffff)
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
		if s.opts.RestJSON == nil || !canonicalPath(r.URL.EscapedPath()) {
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

	type rpcRoute struct {
		svc        RPCService
		json, cbor http.Handler
	}
	rpc := map[string]rpcRoute{}
	for _, svc := range s.opts.RPC {
		rt := rpcRoute{svc: svc}
		if svc.JSON != nil {
			rt.json = s.authenticate(svc.SigningName, svc.JSONError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				op := opFromContext(r)
				if svc.ActionPrefix != "" {
					if err := awsproto.Authorize(r.Context(), svc.ActionPrefix+":"+op, "*", nil); err != nil {
						svc.JSONError(w, r, err)
						return
					}
				}
				svc.JSON(w, r, op)
			}))
		}
		if svc.CBOR != nil {
			rt.cbor = s.authenticate(svc.SigningName, svc.CBORError, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				op := opFromContext(r)
				if svc.ActionPrefix != "" {
					if err := awsproto.Authorize(r.Context(), svc.ActionPrefix+":"+op, "*", nil); err != nil {
						svc.CBORError(w, r, err)
						return
					}
				}
				svc.CBOR(w, r, op)
			}))
		}
		rpc[svc.Name] = rt
	}

	return s.observe(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/healthz", "/readyz":
			ops.ServeHTTP(w, r)
			return
		case "/metrics":
			if s.opts.Metrics != nil && r.Method == http.MethodGet {
				s.opts.Metrics.ServeHTTP(w, r)
				return
			}
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
			awsproto.WriteAWSJSONError(w, r, awsproto.Codes{errkind.Internal: {Name: "UnknownOperationException", Status: 400}},
				errkind.New(errkind.Internal, "No operation matches X-Amz-Target %q.", target), "application/x-amz-json-1.1")
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
	awsproto.WriteRestJSONError(w, r, awsproto.Codes{errkind.Internal: {Name: "UnknownOperationException", Status: 404}},
		errkind.New(errkind.Internal, "No operation matches %s %s.", r.Method, r.URL.EscapedPath()))
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

// authenticate reads the body within its limit, then verifies a SigV4
// signature for signingName or a Bedrock API key, and records the caller.
func (s *Server) authenticate(signingName string, fail errorWriter, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := awsproto.Info(r.Context())
		limit := s.opts.MaxBodyBytes
		if strings.HasPrefix(r.URL.Path, "/model/") {
			limit = s.opts.RuntimeMaxBodyBytes
		}
		body, err := awsproto.ReadBody(r, limit)
		if err != nil {
			fail(w, r, err)
			return
		}
		info.Body = body
		id, err := s.identify(r, signingName, body)
		if err != nil {
			fail(w, r, err)
			return
		}
		info.Identity = id
		if s.opts.Authz != nil {
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

func (s *Server) identify(r *http.Request, signingName string, body []byte) (principal.Identity, error) {
	h := r.Header.Get("Authorization")
	if token, ok := strings.CutPrefix(h, "Bearer "); ok {
		if signingName != "bedrock" {
			return principal.Identity{}, errkind.New(errkind.Denied, "Bedrock API keys are accepted by Bedrock APIs only; sign this request with SigV4.").WithCode("UnrecognizedClientException")
		}
		id, ok := s.opts.Auth.ByAPIKey(strings.TrimSpace(token))
		if !ok {
			return principal.Identity{}, errkind.New(errkind.Denied, "The API key is invalid or has been revoked.").WithCode("UnrecognizedClientException")
		}
		return id, nil
	}
	res, err := s.opts.Verifier.Verify(r.Context(), r, body)
	if err != nil {
		return principal.Identity{}, err
	}
	if res.Service != signingName {
		return principal.Identity{}, errkind.New(errkind.Denied, "Credential should be scoped to correct service: '%s'.", signingName).WithCode("InvalidSignatureException")
	}
	if s.opts.Region != "" && res.Region != s.opts.Region {
		return principal.Identity{}, errkind.New(errkind.Denied, "Credential should be scoped to a valid region: '%s'.", s.opts.Region).WithCode("InvalidSignatureException")
	}
	id, ok := s.opts.Auth.ByAccessKey(res.AccessKeyID)
	if !ok {
		return principal.Identity{}, errkind.New(errkind.Denied, "The security token included in the request is invalid.").WithCode("UnrecognizedClientException")
	}
	return id, nil
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

// observe assigns the request id, recovers panics, and writes one access
// line per request.
func (s *Server) observe(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		info := &awsproto.RequestInfo{ID: s.newRequestID()}
		w.Header().Set("X-Amzn-RequestId", info.ID)
		sw := &statusWriter{ResponseWriter: w}
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

func (s *Server) accessLog(r *http.Request, sw *statusWriter, info *awsproto.RequestInfo, d time.Duration) {
	level := slog.LevelInfo
	attrs := []slog.Attr{
		slog.String("request_id", info.ID),
		slog.String("method", r.Method),
		slog.String("path", r.URL.EscapedPath()),
		slog.Int("status", sw.status),
		slog.Int64("bytes", sw.bytes),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("proto", r.Proto),
		slog.String("remote", r.RemoteAddr),
	}
	if info.Service != "" {
		attrs = append(attrs, slog.String("service", info.Service), slog.String("op", info.Op))
	}
	if p := info.Identity.Principal; p != nil {
		attrs = append(attrs, slog.String("principal", p.ARN()), slog.String("key_id", info.Identity.KeyID))
	}
	if info.Err != nil {
		e := errkind.As(info.Err)
		attrs = append(attrs, slog.String("err", info.Err.Error()), slog.String("kind", e.Kind.String()))
		if e.Kind == errkind.Internal || e.Kind == errkind.Unavailable {
			level = slog.LevelError
		}
	}
	s.log.LogAttrs(context.Background(), level, "request", attrs...)
	if s.opts.ObserveRequest != nil {
		s.opts.ObserveRequest(info.Service, info.Op, sw.status, d)
	}
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
