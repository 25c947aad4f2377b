// Package resolversidecar is `tollgate resolver`, the caching sidecar
// between clients and the Resource Groups Tagging API (on AWS, a Lambda
// extension does this job): a small HTTP service that answers
// GET /resolve?tag=value... with a profile ARN from package resolver's TTL
// cache, refreshed from the Tagging API of AWS or Tollgate and persisted
// to a snapshot file so that a cold start answers at once. It also holds
// the Tagging API client and flags that `tollgate profiles export-map`
// shares.
package resolversidecar

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"

	"github.com/tollgate-dev/tollgate/resolver"
)

// Config configures `tollgate resolver`, the caching sidecar (the
// Lambda-extension way of finding a profile): a small HTTP service that
// answers tag filters with a profile ARN from its in-memory cache,
// refreshing from the Tagging API of AWS or Tollgate, and persisting the
// cache so that a cold start answers at once.
type Config struct {
	Listen      string // address to serve on; default 127.0.0.1:8091
	Endpoint    string // Tagging API base URL; default "": AWS's endpoint for Region
	Region      string // default "": from the AWS configuration (AWS_REGION, shared config)
	Credentials string // AWS shared credentials file; default "": the SDK's default chain
	Profile     string // profile (section) to use; default "": "default"

	Snapshot      string        // snapshot file; default "": none
	SnapshotDelay time.Duration // wait after a refresh before writing the snapshot; default 5s
	Static        string        // static map YAML file; default "": none
	StaticMode    string        // "fallback" (default) or "primary"

	TTL            time.Duration // default 5m
	NegativeTTL    time.Duration // default 30s
	MaxStale       time.Duration // default 1h
	RefreshTimeout time.Duration // default 30s
	Warm           bool          // list every profile at start; default true
	WarmEvery      time.Duration // list every profile again this often; default 0: never
}

// Sidecar is a running `tollgate resolver`. New binds the listener;
// Run serves until its context ends, then writes the snapshot.
type Sidecar struct {
	cfg   Config
	log   *slog.Logger
	res   *resolver.Resolver
	ln    net.Listener
	srv   *http.Server
	dirty chan struct{} // a refresh changed the cache; the snapshot is behind
}

// New builds the resolver (api nil: an AWS SDK tagging client from
// cfg), restores the snapshot, and binds cfg.Listen.
func New(ctx context.Context, cfg Config, api resolver.API, log *slog.Logger) (*Sidecar, error) {
	if cfg.SnapshotDelay == 0 {
		cfg.SnapshotDelay = 5 * time.Second
	}
	s := &Sidecar{cfg: cfg, log: log, dirty: make(chan struct{}, 1)}
	mode, err := resolver.ParseStaticMode(cfg.StaticMode)
	if err != nil {
		return nil, err
	}
	var static *resolver.StaticMap
	if cfg.Static != "" {
		if static, err = resolver.LoadStaticMap(cfg.Static); err != nil {
			return nil, err
		}
	}
	if api == nil {
		if api, err = TaggingClient(ctx, cfg.Endpoint, cfg.Region, cfg.Credentials, cfg.Profile); err != nil {
			return nil, err
		}
	}
	s.res, err = resolver.New(resolver.Options{
		API:            api,
		TTL:            cfg.TTL,
		NegativeTTL:    cfg.NegativeTTL,
		MaxStale:       cfg.MaxStale,
		RefreshTimeout: cfg.RefreshTimeout,
		Static:         static,
		StaticMode:     mode,
		OnUpdate:       s.markDirty,
	})
	if err != nil {
		return nil, err
	}
	if cfg.Snapshot != "" {
		n, err := s.res.LoadSnapshot(cfg.Snapshot)
		if err != nil {
			// A bad snapshot must not keep the sidecar down: start empty.
			log.Error("resolver_snapshot_unreadable", "path", cfg.Snapshot, "err", err)
		} else {
			log.Info("resolver_snapshot_loaded", "path", cfg.Snapshot, "answers", n)
		}
	}
	s.ln, err = net.Listen("tcp", cfg.Listen)
	if err != nil {
		s.res.Close()
		return nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /resolve", s.wrap(s.resolve))
	mux.HandleFunc("GET /stats", s.wrap(func(*http.Request) (int, any) { return http.StatusOK, s.res.Stats() }))
	mux.HandleFunc("GET /healthz", s.wrap(func(*http.Request) (int, any) { return http.StatusOK, map[string]string{"status": "ok"} }))
	s.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	return s, nil
}

// URL returns the sidecar's base URL.
func (s *Sidecar) URL() string { return "http://" + s.ln.Addr().String() }

func (s *Sidecar) markDirty() {
	select {
	case s.dirty <- struct{}{}:
	default:
	}
}

// Run serves until ctx ends; then it stops background refreshes and
// writes the snapshot one last time.
func (s *Sidecar) Run(ctx context.Context) error {
	bg, stopBG := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.background(bg)
	}()
	serveErr := make(chan error, 1)
	go func() { serveErr <- s.srv.Serve(s.ln) }()
	s.log.Info("resolver_listening", "url", s.URL())

	var err error
	select {
	case <-ctx.Done():
	case err = <-serveErr:
	}
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	if serr := s.srv.Shutdown(shutdownCtx); serr != nil && err == nil {
		err = serr
	}
	stopBG()
	<-done
	s.res.Close()
	s.saveSnapshot()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// background warms the cache and writes the snapshot after refreshes,
// once cfg.SnapshotDelay has passed without another.
func (s *Sidecar) background(ctx context.Context) {
	warm := func() {
		n, err := s.res.Warm(ctx)
		if err != nil {
			if ctx.Err() == nil {
				s.log.Warn("resolver_warm_failed", "err", err)
			}
			return
		}
		s.log.Info("resolver_warmed", "profiles", n)
	}
	if s.cfg.Warm {
		go warm()
	}
	var warmTick <-chan time.Time
	if s.cfg.WarmEvery > 0 {
		t := time.NewTicker(s.cfg.WarmEvery)
		defer t.Stop()
		warmTick = t.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-warmTick:
			warm()
		case <-s.dirty:
			t := time.NewTimer(s.cfg.SnapshotDelay)
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			s.saveSnapshot()
		}
	}
}

func (s *Sidecar) saveSnapshot() {
	if s.cfg.Snapshot == "" {
		return
	}
	if err := s.res.SaveSnapshot(s.cfg.Snapshot); err != nil {
		s.log.Error("resolver_snapshot_write_failed", "path", s.cfg.Snapshot, "err", err)
	}
}

// resolveResponse is the body of a 200 from GET /resolve.
type resolveResponse struct {
	ARN       string     `json:"arn"`
	Source    string     `json:"source"`
	Stale     bool       `json:"stale"`
	FetchedAt *time.Time `json:"fetchedAt,omitempty"`
}

// sidecarError is the body of every error response.
type sidecarError struct {
	Error string   `json:"error"`
	Query string   `json:"query,omitempty"`
	ARNs  []string `json:"arns,omitempty"`
}

// resolve answers GET /resolve?key=value&...: every query parameter is one
// tag filter.
func (s *Sidecar) resolve(r *http.Request) (int, any) {
	tags := map[string]string{}
	for k, vs := range r.URL.Query() {
		if len(vs) != 1 {
			return http.StatusBadRequest, sidecarError{Error: fmt.Sprintf("tag %q is given %d times; give each tag once", k, len(vs))}
		}
		tags[k] = vs[0]
	}
	q, err := resolver.NewQuery(tags)
	if err != nil {
		return http.StatusBadRequest, sidecarError{Error: err.Error()}
	}
	res, err := s.res.ResolveDetail(r.Context(), q)
	var amb *resolver.AmbiguousError
	switch {
	case err == nil:
		out := resolveResponse{ARN: res.ARN, Source: string(res.Source), Stale: res.Stale}
		if !res.FetchedAt.IsZero() {
			out.FetchedAt = &res.FetchedAt
		}
		return http.StatusOK, out
	case errors.Is(err, resolver.ErrNoMatch):
		return http.StatusNotFound, sidecarError{Error: "no match", Query: q.String()}
	case errors.As(err, &amb):
		return http.StatusConflict, sidecarError{Error: "ambiguous", Query: q.String(), ARNs: amb.ARNs}
	default:
		s.log.Warn("resolver_upstream_failed", "query", q.String(), "err", err)
		return http.StatusServiceUnavailable, sidecarError{Error: "upstream unavailable and nothing cached", Query: q.String()}
	}
}

// wrap turns a handler's status and body into a JSON response.
func (s *Sidecar) wrap(h func(*http.Request) (int, any)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		status, body := h(r)
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		if err := json.NewEncoder(w).Encode(body); err != nil {
			s.log.Debug("resolver_write_failed", "err", err)
		}
	}
}

// TaggingClient returns a Tagging API client for endpoint ("" = AWS) and
// region. Credentials come from credFile (an AWS shared credentials file,
// such as the one Tollgate writes in its data directory) when given, else
// from the SDK's default chain. The SDK's retries are off: the resolver
// does its own backoff.
func TaggingClient(ctx context.Context, endpoint, region, credFile, profile string) (*rgt.Client, error) {
	opts := []func(*awsconfig.LoadOptions) error{awsconfig.WithRetryMaxAttempts(1)}
	if region != "" {
		opts = append(opts, awsconfig.WithRegion(region))
	}
	if endpoint != "" {
		opts = append(opts, awsconfig.WithBaseEndpoint(endpoint))
	}
	switch {
	case credFile != "":
		creds, err := sharedFileCredentials(ctx, credFile, profile)
		if err != nil {
			return nil, err
		}
		opts = append(opts, awsconfig.WithCredentialsProvider(credentials.StaticCredentialsProvider{Value: creds}))
	case profile != "":
		opts = append(opts, awsconfig.WithSharedConfigProfile(profile))
	}
	cfg, err := awsconfig.LoadDefaultConfig(ctx, opts...)
	if err != nil {
		return nil, fmt.Errorf("aws configuration: %w", err)
	}
	if cfg.Region == "" {
		return nil, errors.New("no region: pass --region or set AWS_REGION")
	}
	return rgt.NewFromConfig(cfg), nil
}

// sharedFileCredentials reads one profile ("" = default) of an AWS shared
// credentials file.
func sharedFileCredentials(ctx context.Context, file, profile string) (aws.Credentials, error) {
	if profile == "" {
		profile = "default"
	}
	sc, err := awsconfig.LoadSharedConfigProfile(ctx, profile, func(o *awsconfig.LoadSharedConfigOptions) {
		o.CredentialsFiles = []string{file}
		o.ConfigFiles = []string{}
	})
	if err != nil {
		return aws.Credentials{}, fmt.Errorf("credentials %s: %w", file, err)
	}
	if !sc.Credentials.HasKeys() {
		return aws.Credentials{}, fmt.Errorf("credentials %s: profile %q has no access key", file, profile)
	}
	return sc.Credentials, nil
}

// TaggingFlags registers the flags that say how to reach the Tagging API.
func TaggingFlags(fs *flag.FlagSet, endpoint, region, credFile, profile *string) {
	fs.StringVar(endpoint, "endpoint", "", "Tagging API base URL, e.g. Tollgate's http://127.0.0.1:8080 (default: AWS)")
	fs.StringVar(region, "region", "", "region (default: from the AWS configuration)")
	fs.StringVar(credFile, "credentials", "", "AWS shared credentials file, e.g. ./tollgate-data/credentials (default: the AWS SDK's credential chain)")
	fs.StringVar(profile, "profile", "", `profile of the credentials or config file (default "default")`)
}

// Usage is the help text of `tollgate resolver`, printed before its flags.
const Usage = `Usage: tollgate resolver [flags]

Caching sidecar: GET /resolve?tenant=acme&app=claims_chatbot answers
  200 {"arn": "...", "source": "cache|upstream|snapshot|static", "stale": false}
  404 no profile matches, 409 several match, 503 upstream down and nothing cached.
GET /stats returns the cache counters; GET /healthz returns 200.

Examples:
  tollgate resolver --endpoint http://127.0.0.1:8080 --credentials ./tollgate-data/credentials
  tollgate resolver --snapshot /var/cache/tollgate/resolver.json --static profiles.yaml --ttl 10m
`

// Flags registers the sidecar's flags on fs and returns the Config they
// fill when fs is parsed.
func Flags(fs *flag.FlagSet) *Config {
	cfg := new(Config)
	fs.StringVar(&cfg.Listen, "listen", "127.0.0.1:8091", "address to serve on")
	TaggingFlags(fs, &cfg.Endpoint, &cfg.Region, &cfg.Credentials, &cfg.Profile)
	fs.StringVar(&cfg.Snapshot, "snapshot", "", "file holding the last good cache, loaded at start and written after refreshes and at exit")
	fs.DurationVar(&cfg.SnapshotDelay, "snapshot-delay", 5*time.Second, "after a refresh, wait this long before writing the snapshot (at most one write per delay)")
	fs.StringVar(&cfg.Static, "static", "", "static map YAML file (see tollgate profiles export-map)")
	fs.StringVar(&cfg.StaticMode, "static-mode", "fallback", "how the static map is used: fallback (when the upstream fails) or primary (before the upstream)")
	fs.DurationVar(&cfg.TTL, "ttl", resolver.DefaultTTL, "how long an answer is fresh")
	fs.DurationVar(&cfg.NegativeTTL, "negative-ttl", resolver.DefaultNegativeTTL, `how long "no match" and "ambiguous" answers are fresh`)
	fs.DurationVar(&cfg.MaxStale, "max-stale", resolver.DefaultMaxStale, "how long past expiry an answer may be served while the upstream fails (negative: never)")
	fs.DurationVar(&cfg.RefreshTimeout, "refresh-timeout", resolver.DefaultRefreshTimeout, "bound on one upstream fetch, retries included")
	fs.BoolVar(&cfg.Warm, "warm", true, "list every profile at start")
	fs.DurationVar(&cfg.WarmEvery, "warm-every", 0, "list every profile again this often (0: never)")
	return cfg
}

// Serve runs the sidecar with cfg until ctx ends, logging JSON lines to
// logw. A configuration error is returned before anything listens.
func Serve(ctx context.Context, cfg Config, logw io.Writer) error {
	log := slog.New(slog.NewJSONHandler(logw, nil))
	s, err := New(ctx, cfg, nil, log)
	if err != nil {
		return fmt.Errorf("resolver: %w", err)
	}
	return s.Run(ctx)
}
