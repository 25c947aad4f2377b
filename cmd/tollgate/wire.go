package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/anomaly"
	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/api/bedrockapi"
	"github.com/tollgate-dev/tollgate/internal/api/ceapi"
	"github.com/tollgate-dev/tollgate/internal/api/runtimeapi"
	"github.com/tollgate-dev/tollgate/internal/api/taggingapi"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/lease"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
	"github.com/tollgate-dev/tollgate/internal/secretbox"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/supervise"
)

// Store is the whole store contract: every capability Tollgate has, as
// Main and the offline commands use it. *sqlite.DB (the default, one
// node) and *postgres.DB (Config.Store set to a postgres:// URL, shared by
// replicas) implement all of it: what PostgreSQL shares between replicas
// SQLite implements for its one node (see internal/store/sqlite's
// coord.go). Whether replicas share the store is Shared's answer, not the
// store's type. Safe for concurrent use.
type Store interface {
	// Profiles, principals, and their administration (accounts,
	// policies, attachments).
	profile.Store
	principal.Store
	principal.AdminStore

	// The usage ledger, and the cost queries and exports that read it.
	ledger.Writer
	ledger.Reader
	costquery.Source
	costquery.Versioned
	costquery.DailySource
	export.Source
	// Re-pricing: records re-costed after a price correction, with a log.
	ledger.Repricer
	// DropPartitionsBefore is the ledger's retention: it drops the whole
	// months that end at or before before and returns their names
	// (PostgreSQL's monthly partitions; SQLite keeps its ledger whole and
	// drops nothing).
	DropPartitionsBefore(ctx context.Context, before time.Time) ([]string, error)

	// Budgets, their alert states, and the notification outbox.
	budget.Store
	notify.Store

	// Metric series (and the records they are rebuilt from) and alarms.
	metrics.Store
	metrics.RecordReader
	alarm.Store

	// Cost anomaly monitors, subscriptions and anomalies.
	anomaly.Store

	// Web console sessions (console.go).
	session.Store
	// Application profiles' service-tier settings.
	profile.TierStore

	// Coordination between the replicas sharing the store: leases of
	// background jobs, budget allowance pools and throttle windows (the
	// latter also the tagging API's fleet-wide rate), and the change feed
	// that keeps in-memory indexes in step with other replicas' changes.
	lease.Store
	budget.Shared
	// Watch calls fn with the kind of every change the store announces
	// (the sqlstore.Change* kinds) until ctx is done.
	Watch(ctx context.Context, fn func(kind string)) error
	// Shared reports whether several replicas may share the store: then
	// background jobs run under leases, budgets pool their allowance, the
	// tagging rate is the fleet's, and each replica keeps its own metric
	// buckets.
	Shared() bool

	Ping(ctx context.Context) error
	Close() error
}

var (
	_ Store = (*sqlite.DB)(nil)
	_ Store = (*postgres.DB)(nil)
)

// openStore opens the database cfg selects: PostgreSQL when cfg.Store is
// set, else SQLite in cfg.DataDir.
func openStore(ctx context.Context, cfg config.Config, log *slog.Logger) (Store, error) {
	if cfg.Store != "" {
		db, err := postgres.Open(ctx, cfg.Store, postgres.Options{Logger: log})
		if err != nil {
			return nil, err
		}
		return db, nil
	}
	db, err := sqlite.Open(ctx, filepath.Join(cfg.DataDir, "tollgate.db"), sqlite.Options{Synchronous: cfg.Synchronous})
	if err != nil {
		return nil, err
	}
	return db, nil
}

// Main wires every part of Tollgate together. End-to-end tests reuse it
// with Addr "127.0.0.1:0".
type Main struct {
	Config config.Config
	Logger *slog.Logger
	// Logs is the buffered writer under Logger (NewMain's): the access
	// log's lines wait there, up to logbuf.DefaultMaxDelay, every other
	// line goes out at once; Close writes what waits. Whoever replaces
	// Logger must set Logs to nil (the access lines then go through
	// Logger) or to the writer under the new Logger.
	Logs *logbuf.Writer

	DB         Store
	Catalog    *catalog.Catalog
	Profiles   *profile.Service
	Tiers      *profile.Tiers // application profiles' service-tier settings
	Principals *principal.Service
	Directory  *principal.Directory
	Server     *server.Server
	Ledger     *ledger.Batcher
	Invoke     *invoke.Service
	Watch      *Watch   // metric series, alarms, CloudWatch API, /metrics (alarms.go)
	Budgets    *Budgets // budgets, their alerts and enforcement, the Budgets API (budgets.go)

	// Anomalies runs cost anomaly detection (anomalies.go).
	Anomalies *anomaly.Runner

	// ConsoleSessions are the web console's sign-in sessions (console.go).
	ConsoleSessions *session.Manager
	// Priority holds the runtime quotas and the tier-ordered upstream
	// admission (priority.go).
	Priority *Priority
	// Commitments are the reserved-capacity commitments of the prices
	// file, written to the ledger hour by hour (prices.go).
	Commitments []pricing.Commitment

	// Replica identifies this process among the replicas sharing a
	// store (host name and a random suffix); it holds its background
	// jobs' leases there.
	Replica string

	// Jobs owns every background job: Open builds it, Run starts the jobs
	// (jobs) and stops them, in reverse order, once the server has
	// drained the calls in flight.
	Jobs *supervise.Group

	// Egress is the outbound address policy of alert webhooks (alarm
	// actions, SNS subscribers), from Config.OutboundAllow; Open sets it
	// unless it is set (tests set one that resolves names their way).
	Egress *egress.Policy

	// RootAccessKeyID and RootSecretAccessKey are the root credentials.
	RootAccessKeyID, RootSecretAccessKey string

	ln        net.Listener
	metricsLn net.Listener // the private /metrics listener; nil when none
	debugLn   net.Listener // the private /debug/pprof/ listener; nil when none
}

// NewMain returns a Main logging JSON to logw, through a buffer: the
// access log's lines reach logw in batches, every 64 KiB or 100 ms, the
// other lines (ERROR access lines included) at once, and Close writes
// what waits. Main never reads the environment: every setting, secrets
// included, comes in cfg (config.Load).
func NewMain(cfg config.Config, logw io.Writer) *Main {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	logs := logbuf.New(logw, logbuf.DefaultSize, logbuf.DefaultMaxDelay)
	return &Main{
		Config: cfg,
		Logger: slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: level})),
		Logs:   logs,
	}
}

// Open opens the store, loads every in-memory index, ensures the root
// credentials, binds the listener and writes the AWS shared credentials
// and config files for clients. After Open, URL is known.
func (m *Main) Open(ctx context.Context) error {
	cfg := m.Config
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("data dir: %w", err)
	}
	box, err := m.masterKey()
	if err != nil {
		return err
	}
	m.Catalog = catalog.Default()
	if cfg.CatalogFile != "" {
		data, err := os.ReadFile(cfg.CatalogFile)
		if err != nil {
			return fmt.Errorf("catalog: %w", err)
		}
		over, err := catalog.Parse(data)
		if err != nil {
			return err
		}
		m.Catalog = m.Catalog.Merge(over)
	}
	if cfg.PricesFile != "" {
		if m.Catalog, m.Commitments, err = loadPrices(m.Catalog, cfg.PricesFile); err != nil {
			return err
		}
	}
	if m.Egress == nil {
		if m.Egress, err = cfg.Egress(); err != nil {
			return err
		}
	}
	m.DB, err = openStore(ctx, cfg, m.Logger)
	if err != nil {
		return err
	}
	m.Replica = replicaID()
	jcfg := supervise.Config{Holder: m.Replica, TTL: cfg.LeaseTTL, Logger: m.Logger}
	if m.DB.Shared() {
		// Several replicas: leased jobs run on one of them at a time.
		jcfg.Leases = m.DB
	}
	m.Jobs = supervise.New(jcfg)
	m.Principals, err = principal.NewService(ctx, m.DB, box, nil)
	if err != nil {
		return err
	}
	m.Directory, err = principal.NewDirectory(ctx, m.Principals, m.DB, authz.CompileKnowing(tollgateActions()), cfg.AccountID)
	if err != nil {
		return err
	}
	if err := m.ensureRoot(ctx); err != nil {
		return err
	}
	m.Profiles, err = profile.NewService(ctx, profile.Config{
		Store: m.DB, Catalog: m.Catalog, Region: cfg.Region, Quota: cfg.ProfileQuota,
	})
	if err != nil {
		return err
	}

	if m.Tiers, err = profile.NewTiers(ctx, m.DB, m.Profiles); err != nil {
		return err
	}

	router, err := buildRouter(ctx, cfg)
	if err != nil {
		return err
	}
	if m.Watch, err = openWatch(ctx, m); err != nil {
		return err
	}
	m.Ledger = ledger.NewBatcher(m.DB, 0, ledgerCommitMetrics(m.Watch.Prometheus))
	if m.Budgets, err = openBudgets(ctx, m); err != nil {
		return err
	}
	m.Watch.UseOutbox(m.Budgets.Outbox) // alarm webhooks go through the budgets' outbox
	m.Priority = openPriority(m)
	var quotas admission.TierAdmitter
	if !m.Priority.Quotas.Empty() {
		quotas = m.Priority.Quotas
	}
	m.Invoke = invoke.NewService(invoke.Config{
		Profiles:       m.Profiles,
		Catalog:        m.Catalog,
		Router:         router.Route,
		Ledger:         m.Ledger,
		Logger:         m.Logger,
		AttemptTimeout: cfg.AttemptTimeout,
		Tokens:         sim.Tokens,
		OnRecord:       m.Watch.OnRecord,
		Admitter:       m.Watch.Admitter(m.Budgets.Admitter()),
		Tiers:          m.Tiers.Lookup,
		Quotas:         quotas,
		Upstream:       m.Priority.Gate,
		OnAdmission:    m.Watch.Metrics.AddAdmission,
	})

	rest := http.NewServeMux()
	bedrockapi.New(m.Profiles).Register(rest)
	runtimeapi.New(m.Invoke, runtimeapi.Options{StreamWriteTimeout: cfg.StreamWriteTimeout}).Register(rest)
	rest.HandleFunc("/", server.UnknownOperation)

	admin := http.NewServeMux()
	adminapi.New(m.Directory).WithProfileTiers(m.Tiers).WithModelRoutes(modelRouter(m.Invoke, router.Route, cfg)).Register(admin)
	topts := taggingapi.Options{Rate: cfg.TaggingRate}
	if m.DB.Shared() {
		topts.Shared = m.DB // several replicas: the rate is the fleet's
	}
	tagging := taggingapi.New(m.Profiles, topts)
	costs := costquery.NewService(m.DB, costquery.NewNamer(m.Catalog), nil)
	ce := ceapi.New(costs, ceapi.Options{Management: cfg.AccountID, Anomalies: m.openAnomalies()})
	m.Server = server.New(server.Options{
		RPC:             append([]server.RPCService{tagging.Service(), ce.Service()}, append(m.Watch.RPC(), m.Budgets.RPC()...)...),
		Logger:          m.Logger,
		Verifier:        &sigv4.Verifier{Keys: m.Principals},
		Auth:            m.Principals,
		Authz:           authz.New(m.Directory, nil),
		Admin:           admin,
		Region:          cfg.Region,
		RestJSON:        rest,
		Ready:           m.DB.Ping,
		MaxBodyBytes:    cfg.MaxBodyBytes,
		TLSCert:         cfg.TLSCert,
		TLSKey:          cfg.TLSKey,
		ShutdownTimeout: cfg.ShutdownTimeout,
		Metrics:         m.Watch.MetricsHandler(),
		MetricsAccount:  cfg.AccountID,
		ObserveRequest:  m.Watch.Exporter.ObserveRequest,
		AccessAttrs:     m.Watch.AccessAttrs,

		RuntimeMaxBodyBytes:   cfg.RuntimeMaxBodyBytes,
		RuntimeRoutes:         runtimePatterns(),
		BodyReadTimeout:       cfg.BodyReadTimeout,
		BodyMemoryBytes:       cfg.BodyMemoryBytes,
		MaxConnsPerClient:     cfg.MaxConnsPerClient,
		AllowPlaintextAPIKeys: cfg.AllowPlaintextAPIKeys,
		Console:               m.openConsole(costs),
		AppendAccessAttrs:     m.Watch.AppendAccessAttrs,
		AccessLog:             m.accessLog(),
	})
	m.ln, err = net.Listen("tcp", cfg.Addr)
	if err != nil {
		return err
	}
	if cfg.MetricsAddr != "" {
		if m.metricsLn, err = net.Listen("tcp", cfg.MetricsAddr); err != nil {
			return err
		}
	}
	if cfg.DebugAddr != "" {
		if m.debugLn, err = net.Listen("tcp", cfg.DebugAddr); err != nil {
			return err
		}
	}
	// Once Open returns, serve says where the credentials are and
	// scripts read them: they must be there already.
	return m.writeClientFiles()
}

// DebugURL returns the base URL of the private /debug/pprof/ listener, or
// "" when there is none.
func (m *Main) DebugURL() string {
	if m.debugLn == nil {
		return ""
	}
	return "http://" + m.debugLn.Addr().String()
}

// MetricsURL returns the base URL of the private metrics listener, or ""
// when there is none.
func (m *Main) MetricsURL() string {
	if m.metricsLn == nil {
		return ""
	}
	return "http://" + m.metricsLn.Addr().String()
}

// replicaID names this process: its host name, process id and a random
// suffix, so a restarted replica is a new one (it holds none of the old
// one's budget allowance or metric buckets).
func replicaID() string {
	host, _ := os.Hostname()
	var b [4]byte
	_, _ = rand.Read(b[:])
	if host == "" {
		host = "tollgate"
	}
	return fmt.Sprintf("%s-%d-%s", host, os.Getpid(), hex.EncodeToString(b[:]))
}

// jobs are the background jobs Run starts, in start order; they stop in
// the reverse order. Leased ones run on one replica at a time.
func (m *Main) jobs() []supervise.Job {
	jobs := slices.Concat(
		m.Watch.jobs(m.Logger),          // metrics-flush, alarm-evaluation (leased)
		m.Budgets.jobs(m.Logger),        // notify-outbox, budget-alerts (leased), budget-sync
		[]supervise.Job{m.anomalyJob()}, // anomaly-detection (leased)
		m.retentionJobs(),               // ledger-retention (leased; PostgreSQL with a retention)
		[]supervise.Job{{Name: "change-follower", Run: m.followChanges}},
		[]supervise.Job{m.consoleSweepJob()}, // console-session-sweep (leased)
	)
	if len(m.Commitments) > 0 {
		jobs = append(jobs, m.commitmentJob()) // reserved-capacity (leased)
	}
	if m.metricsLn != nil {
		jobs = append(jobs, supervise.Job{Name: "metrics-listener", Run: func(ctx context.Context) error {
			if err := m.Server.ServeMetrics(ctx, m.metricsLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}})
	}
	if m.debugLn != nil {
		jobs = append(jobs, supervise.Job{Name: "debug-listener", Run: func(ctx context.Context) error {
			if err := m.Server.ServeDebug(ctx, m.debugLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
				return err
			}
			return nil
		}})
	}
	return jobs
}

// URL returns the base endpoint clients use.
func (m *Main) URL() string {
	scheme := "http"
	if m.Config.TLSCert != "" {
		scheme = "https"
	}
	return scheme + "://" + m.ln.Addr().String()
}

// CredentialsFile is the AWS shared-credentials file holding the root key.
func (m *Main) CredentialsFile() string { return filepath.Join(m.Config.DataDir, "credentials") }

// ConfigFile is an AWS shared-config file with the region and endpoint.
func (m *Main) ConfigFile() string { return filepath.Join(m.Config.DataDir, "config") }

// Run starts the background jobs and serves until ctx is cancelled; then
// it drains the calls in flight (Server.Serve returns only once every
// handler has) and stops the jobs in the reverse order of their start
// before it returns. Close then closes the ledger and the store.
func (m *Main) Run(ctx context.Context) error {
	m.Logger.Info("serving", "addr", m.ln.Addr().String(), "region", m.Config.Region, "account", m.Config.AccountID)
	if m.Config.TLSCert == "" {
		if m.Config.AllowPlaintextAPIKeys {
			m.Logger.Warn("api_keys_over_plain_http", "from", "any address", "hint", "only behind a proxy that terminates TLS")
		} else {
			m.Logger.Info("api_keys_over_plain_http", "from", "loopback only", "hint", "serve TLS (tlsCert) for API keys from other hosts")
		}
	}
	if m.metricsLn != nil {
		m.Logger.Info("serving_metrics", "addr", m.metricsLn.Addr().String())
	}
	if m.debugLn != nil {
		m.Logger.Warn("serving_debug_profiles", "addr", m.debugLn.Addr().String(), "hint", "unauthenticated: keep this address private")
	}
	// The jobs outlive ctx until the server has drained: the calls in
	// flight still count metrics, reserve budgets and queue alerts.
	m.Jobs.Start(context.WithoutCancel(ctx), m.jobs()...)
	defer m.Jobs.Stop()
	return m.Server.Serve(ctx, m.ln)
}

// Close releases everything Open acquired. Call it after Run has returned:
// Run returns only once every request handler has and the background jobs
// have stopped (the metric series flushed on the way), so every call's
// record is queued before the ledger flushes and closes here, and only
// then does the store close.
func (m *Main) Close() error {
	var errs []error
	if m.ln != nil {
		m.ln.Close()
	}
	if m.metricsLn != nil {
		m.metricsLn.Close()
	}
	if m.debugLn != nil {
		m.debugLn.Close()
	}
	if m.Jobs != nil {
		m.Jobs.Stop() // Run has, unless it never ran
	}
	errs = append(errs, m.Budgets.Close()) // shortage announcements, idle allowance; undelivered alerts stay in the outbox
	if m.Ledger != nil {
		m.Ledger.Close() // durable before the store closes
	}
	if m.DB != nil {
		errs = append(errs, m.DB.Close())
	}
	if m.Logs != nil {
		// The log is not the record (the ledger is): a failed write
		// here is not Close's failure.
		_ = m.Logs.Close()
	}
	return errors.Join(errs...)
}

// accessLog is where the server buffers its access-log lines: Logs, or
// nowhere (the lines go through Logger) when a test took it away.
func (m *Main) accessLog() server.LineWriter {
	if m.Logs == nil {
		return nil
	}
	return m.Logs
}

// masterKey loads the key that encrypts secrets at rest:
// Config.Secrets.MasterKey (base64) or <data-dir>/master.key, created on
// first start.
func (m *Main) masterKey() (*secretbox.Box, error) {
	if v := m.Config.Secrets.MasterKey; v != "" {
		key, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return nil, fmt.Errorf("TOLLGATE_MASTER_KEY: %w", err)
		}
		return secretbox.New(key)
	}
	path := filepath.Join(m.Config.DataDir, "master.key")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key := secretbox.NewKey()
		enc := base64.StdEncoding.EncodeToString(key) + "\n"
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("master key: %w", err)
		}
		if _, err := f.WriteString(enc); err != nil {
			f.Close()
			return nil, err
		}
		if err := f.Close(); err != nil {
			return nil, err
		}
		return secretbox.New(key)
	}
	if err != nil {
		return nil, fmt.Errorf("master key: %w", err)
	}
	key, err := base64.StdEncoding.DecodeString(strings.TrimSpace(string(data)))
	if err != nil {
		return nil, fmt.Errorf("master key %s: %w", path, err)
	}
	return secretbox.New(key)
}

func (m *Main) ensureRoot(ctx context.Context) error {
	// config.Validate has checked that both or neither are set.
	id, secret := m.Config.Secrets.RootAccessKeyID, m.Config.Secrets.RootSecretAccessKey
	id, secret, created, err := m.Principals.EnsureRoot(ctx, m.Config.AccountID, id, secret)
	if err != nil {
		return err
	}
	if created {
		m.Logger.Info("root_access_key_created", "access_key_id", id)
	}
	m.RootAccessKeyID, m.RootSecretAccessKey = id, secret
	keyFile := filepath.Join(m.Config.DataDir, "bedrock-api-key")
	if _, err := os.Stat(keyFile); errors.Is(err, os.ErrNotExist) {
		token, err := m.Principals.CreateAPIKey(ctx, principal.RootID(m.Config.AccountID))
		if err != nil {
			return err
		}
		if err := writeFile0600(keyFile, token+"\n"); err != nil {
			return err
		}
	}
	return nil
}

// writeClientFiles writes the AWS shared credentials and config files so
// every SDK and the AWS CLI can reach this Tollgate.
func (m *Main) writeClientFiles() error {
	creds := fmt.Sprintf("[default]\naws_access_key_id = %s\naws_secret_access_key = %s\n", m.RootAccessKeyID, m.RootSecretAccessKey)
	if err := writeFile0600(m.CredentialsFile(), creds); err != nil {
		return err
	}
	conf := fmt.Sprintf("[default]\nregion = %s\nendpoint_url = %s\n", m.Config.Region, m.URL())
	return writeFile0600(m.ConfigFile(), conf)
}

func writeFile0600(path, content string) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, []byte(content), 0o600); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o600); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}

// runtimePatterns are the runtime operations' route patterns, which get
// the runtime body limit.
func runtimePatterns() []string {
	var ps []string
	for _, r := range runtimeapi.Routes() {
		ps = append(ps, r.Pattern)
	}
	return ps
}

// tollgateActions are the actions of Tollgate's own service, the only
// service whose every action Tollgate knows: the admin API's operations
// and GetMetrics. A policy naming another tollgate: action is malformed.
func tollgateActions() map[string][]string {
	names := []string{"GetMetrics"}
	for _, r := range adminapi.Routes() {
		names = append(names, r.Op)
	}
	return map[string][]string{"tollgate": names}
}
