// Package config defines Tollgate's configuration: a struct with defaults,
// validation, strict YAML decoding (unknown keys are errors), and overrides
// from TOLLGATE_* environment variables and command-line flags, applied in
// that order (file < environment < flags).
package config

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/egress"
)

// Config is the whole configuration of `tollgate serve`.
type Config struct {
	// Addr is the listen address. Default "127.0.0.1:8080".
	Addr string `yaml:"addr"`
	// DataDir holds the database, the credentials file and the master key.
	// Default "./tollgate-data".
	DataDir string `yaml:"dataDir"`
	// Region is the AWS region Tollgate presents. Default "us-east-1".
	Region string `yaml:"region"`
	// AccountID is the 12-digit AWS account id Tollgate presents.
	// Default "123456789012".
	AccountID string `yaml:"accountId"`
	// TLSCert and TLSKey are PEM files; when both are set Tollgate serves
	// HTTPS (HTTP/1.1 and HTTP/2). Default empty: cleartext HTTP/1.1 and h2c.
	TLSCert string `yaml:"tlsCert"`
	TLSKey  string `yaml:"tlsKey"`
	// ProfileQuota is the most application inference profiles per account.
	// Default 1000.
	ProfileQuota int `yaml:"profileQuota"`
	// MaxBodyBytes caps every request body but the runtime operations'.
	// Default 1 MiB.
	MaxBodyBytes int64 `yaml:"maxBodyBytes"`
	// RuntimeMaxBodyBytes caps the bodies of Converse, ConverseStream,
	// InvokeModel and InvokeModelWithResponseStream. Default 25,000,000.
	RuntimeMaxBodyBytes int64 `yaml:"runtimeMaxBodyBytes"`
	// BodyReadTimeout bounds reading one request body after its headers;
	// a slower client gets RequestTimeoutException. Default 20s.
	BodyReadTimeout time.Duration `yaml:"bodyReadTimeout"`
	// BodyMemoryBytes bounds the request bodies held in memory at once;
	// past it requests are throttled. Default 256 MiB.
	BodyMemoryBytes int64 `yaml:"bodyMemoryBytes"`
	// MaxConnsPerClient bounds the open connections from one client IP
	// address; 0 means no bound. Raise it behind a load balancer, whose
	// address every connection comes from. Default 512.
	MaxConnsPerClient int `yaml:"maxConnsPerClient"`
	// AllowPlaintextAPIKeys accepts Bedrock API keys over plain HTTP from
	// other hosts (behind a proxy that terminates TLS). Default false:
	// without TLS only loopback clients may send them.
	AllowPlaintextAPIKeys bool `yaml:"allowPlaintextAPIKeys"`
	// MetricsAddr, when set, is a second listen address serving only GET
	// /metrics, unauthenticated: keep it private. On the API port /metrics
	// needs a signed request from a principal of AccountID allowed
	// tollgate:GetMetrics. Default empty: no metrics listener.
	MetricsAddr string `yaml:"metricsAddr"`
	// DebugAddr, when set, is a private listen address serving Go's
	// runtime profiles (/debug/pprof/: heap, CPU, goroutines, ...),
	// unauthenticated: keep it on loopback or a private network. Default
	// empty: no debug listener.
	DebugAddr string `yaml:"debugAddr"`
	// CatalogFile is an optional YAML catalogue whose models and system
	// profiles replace or extend the embedded ones. Default empty.
	CatalogFile string `yaml:"catalogFile"`
	// PricesFile is an optional YAML file of price overrides laid over
	// the catalogue's (negotiated rates, prices the catalogue lacks),
	// checked strictly at start-up; docs/pricing.md has the format.
	// Default empty.
	PricesFile string `yaml:"pricesFile"`
	// LogLevel is debug, info, warn or error. Default "info".
	LogLevel string `yaml:"logLevel"`
	// Synchronous is SQLite's durability: FULL (default) or NORMAL.
	Synchronous string `yaml:"synchronous"`
	// Store selects the database. Default empty: SQLite in DataDir. A
	// postgres:// (or postgresql://) URL selects that PostgreSQL database,
	// which several replicas may share; DataDir still holds the
	// credentials files and the master key. Keep the password out of the
	// URL (PGPASSWORD or a pgpass file) when it is written in a file.
	Store string `yaml:"store"`
	// ShutdownTimeout bounds how long shutdown waits for in-flight requests
	// to finish; past it they are cut, and each call is recorded with the
	// usage it delivered before the ledger closes. Default 30s.
	ShutdownTimeout time.Duration `yaml:"shutdownTimeout"`
	// AttemptTimeout bounds one provider attempt before the call fails over
	// to the next region: the whole attempt of a non-streaming call, and a
	// stream's wait for its first event (a stream that has started runs to
	// its end). Default 0: no bound.
	AttemptTimeout time.Duration `yaml:"attemptTimeout"`
	// StreamWriteTimeout bounds each write of a stream event to the client
	// (ConverseStream, InvokeModelWithResponseStream). A client that stops
	// reading makes a write miss it; the call then ends, is recorded with
	// the tokens delivered, and releases its budget reservation. Default
	// 15s.
	StreamWriteTimeout time.Duration `yaml:"streamWriteTimeout"`
	// TaggingRate is the Tagging API requests per second each account may
	// make before ThrottledException; 0 (default) means unlimited.
	TaggingRate float64 `yaml:"taggingRate"`
	// SMTPAddr is the host:port of the SMTP server for EMAIL subscribers of
	// budget and anomaly alerts; SMTPFrom the sender (default
	// "tollgate@localhost") and SMTPUsername the login (the password is
	// Secrets.SMTPPassword). Default empty: e-mail alerts
	// stay queued.
	SMTPAddr     string `yaml:"smtpAddr"`
	SMTPFrom     string `yaml:"smtpFrom"`
	SMTPUsername string `yaml:"smtpUsername"`
	// OutboundAllow lets alert webhooks (CloudWatch alarm actions, Budgets
	// and Cost Explorer SNS subscribers) reach internal addresses, which
	// Tollgate refuses by default: loopback, link-local (incl. the cloud
	// metadata address), private, CGNAT, unspecified and multicast
	// ranges. Each entry is a CIDR prefix ("10.1.2.0/24"), an IP address
	// ("10.1.2.3"), a host name ("hooks.internal") trusted on any port, or
	// a host name and port ("hooks.internal:8443"); a trusted host name is
	// dialled whatever it resolves to. Default empty: nothing internal.
	OutboundAllow []string `yaml:"outboundAllow"`
	// NotifyRetry is the first retry delay of the notification outbox; it
	// doubles each attempt, to at most 1h. Default 0: 1s.
	NotifyRetry time.Duration `yaml:"notifyRetry"`
	// BudgetEvalInterval is how often budgets re-evaluate forecasts and
	// alerts besides after every call. Default 0: 10s.
	BudgetEvalInterval time.Duration `yaml:"budgetEvalInterval"`
	// AlarmEvalInterval is how often CloudWatch alarms are evaluated; an
	// alarm sees a period once the period's last minute has ended, so an
	// interval under a minute shortens the delay after it. Default 0: 10s.
	AlarmEvalInterval time.Duration `yaml:"alarmEvalInterval"`
	// BudgetSyncInterval is, with several replicas on PostgreSQL, how
	// often each reads the fleet's budget spend from the ledger and gives
	// back budget allowance it does not use. Default 0: 2s.
	BudgetSyncInterval time.Duration `yaml:"budgetSyncInterval"`
	// BudgetEnforcementHold is how long a BLOCK budget action stays
	// engaged (status EXECUTION_SUCCESS) after the last call it refused
	// below its threshold. Default 0: 1m.
	BudgetEnforcementHold time.Duration `yaml:"budgetEnforcementHold"`
	// PagerDutyEndpoint is where pagerduty:ROUTING_KEY subscribers and
	// alarm actions are sent (PagerDuty Events API v2). Default empty:
	// https://events.pagerduty.com/v2/enqueue.
	PagerDutyEndpoint string `yaml:"pagerDutyEndpoint"`
	// LeaseTTL is, with several replicas on PostgreSQL, how long a dead
	// replica's background jobs (budget and alarm evaluation, anomaly
	// detection, notification delivery) wait before another replica takes
	// them over. Default 0: 15s.
	LeaseTTL time.Duration `yaml:"leaseTTL"`
	// LedgerRetentionMonths is, on PostgreSQL, how many whole months of
	// usage records (and their rollups) to keep before the current one;
	// older months' partitions are dropped hourly by one replica. Default
	// 0: keep everything. (SQLite keeps everything.)
	LedgerRetentionMonths int `yaml:"ledgerRetentionMonths"`
	// MetricsTagLabels are profile tag keys added as Prometheus labels,
	// comma-separated. Default empty: none, so label values stay bounded.
	MetricsTagLabels string `yaml:"metricsTagLabels"`
	// MetricsMaxProfiles bounds the application profiles with Prometheus
	// series of their own, so that the exporter's memory does not grow
	// with the number of profiles: the calls of profiles past it are
	// counted under profile="__overflow__". 0 means no bound.
	// Default 2000.
	MetricsMaxProfiles int `yaml:"metricsMaxProfiles"`
	// Providers are the model backends; a built-in simulator named "sim"
	// always exists. Default empty.
	Providers []Provider `yaml:"providers"`
	// Routes bind models and regions to providers; the first match wins and
	// unmatched models go to "sim". Default empty.
	Routes []Route `yaml:"routes"`
	// ConsoleMainTagKey is the tag key the console's home page ranks
	// spend by (a visitor may pick another with ?tag=KEY). Default empty:
	// the key with most spend this month.
	ConsoleMainTagKey string `yaml:"consoleMainTagKey"`
	// ConsoleIdleTimeout ends a web console session unused this long.
	// Default 1h.
	ConsoleIdleTimeout time.Duration `yaml:"consoleIdleTimeout"`
	// ConsoleSessionLifetime ends every web console session this long
	// after sign-in. Default 12h.
	ConsoleSessionLifetime time.Duration `yaml:"consoleSessionLifetime"`
	// Quotas are the runtime quotas and priority admission
	// (docs/priority.md). Default: none, and the adaptive upstream limit.
	Quotas Quotas `yaml:"quotas"`

	// Secrets are the credentials Tollgate takes from the environment
	// only; Load fills them. Never read from or written to YAML.
	Secrets Secrets `yaml:"-" json:"-"`
}

// Secrets are the credentials Tollgate takes from the environment only,
// never from the YAML file or flags: Load reads them once (LoadSecrets),
// and the wiring reads them here. They are never written out or logged:
// String, GoString and LogValue print them redacted.
type Secrets struct {
	// MasterKey (TOLLGATE_MASTER_KEY) is the base64 key that encrypts
	// secrets at rest. Default empty: <data-dir>/master.key, created on
	// first start.
	MasterKey string
	// RootAccessKeyID and RootSecretAccessKey
	// (TOLLGATE_ROOT_ACCESS_KEY_ID, TOLLGATE_ROOT_SECRET_ACCESS_KEY) pin
	// the root credentials; both or neither. Default empty: the stored
	// root key, created on first start.
	RootAccessKeyID, RootSecretAccessKey string
	// SMTPPassword (TOLLGATE_SMTP_PASSWORD) is SMTPUsername's password.
	// Default empty.
	SMTPPassword string
	// WebhookSecret (TOLLGATE_WEBHOOK_SECRET) signs webhook deliveries.
	// Default empty: <data-dir>/webhook.secret, created on first start.
	WebhookSecret string
	// ProviderAPIKeys are the providers' API keys by provider name, each
	// read from the variable its Provider.APIKeyEnv names. Default empty.
	ProviderAPIKeys map[string]string
}

// redacted is how a Secrets value prints.
const redacted = "Secrets{redacted}"

// String returns a redacted form: secrets are never printed.
func (Secrets) String() string { return redacted }

// GoString returns a redacted form: secrets are never printed.
func (Secrets) GoString() string { return redacted }

// LogValue returns a redacted form: secrets are never logged.
func (Secrets) LogValue() slog.Value { return slog.StringValue(redacted) }

// Secret environment variables (Secrets' fields).
const (
	EnvMasterKey           = "TOLLGATE_MASTER_KEY"
	EnvRootAccessKeyID     = "TOLLGATE_ROOT_ACCESS_KEY_ID"
	EnvRootSecretAccessKey = "TOLLGATE_ROOT_SECRET_ACCESS_KEY"
	EnvSMTPPassword        = "TOLLGATE_SMTP_PASSWORD"
	EnvWebhookSecret       = "TOLLGATE_WEBHOOK_SECRET"
)

// LoadSecrets reads c's secrets from getenv: the TOLLGATE_* secret
// variables and each provider's APIKeyEnv.
func (c *Config) LoadSecrets(getenv func(string) string) {
	c.Secrets = Secrets{
		MasterKey:           getenv(EnvMasterKey),
		RootAccessKeyID:     getenv(EnvRootAccessKeyID),
		RootSecretAccessKey: getenv(EnvRootSecretAccessKey),
		SMTPPassword:        getenv(EnvSMTPPassword),
		WebhookSecret:       getenv(EnvWebhookSecret),
	}
	for _, p := range c.Providers {
		if p.APIKeyEnv == "" {
			continue
		}
		if v := getenv(p.APIKeyEnv); v != "" {
			if c.Secrets.ProviderAPIKeys == nil {
				c.Secrets.ProviderAPIKeys = map[string]string{}
			}
			c.Secrets.ProviderAPIKeys[p.Name] = v
		}
	}
}

// Default returns the configuration with every default filled in.
func Default() Config {
	return Config{
		Addr:                "127.0.0.1:8080",
		DataDir:             "./tollgate-data",
		Region:              "us-east-1",
		AccountID:           "123456789012",
		ProfileQuota:        1000,
		MaxBodyBytes:        1 << 20,
		RuntimeMaxBodyBytes: 25_000_000,
		BodyReadTimeout:     20 * time.Second,
		BodyMemoryBytes:     256 << 20,
		MaxConnsPerClient:   512,
		MetricsMaxProfiles:  2000,
		LogLevel:            "info",
		Synchronous:         "FULL",
		ShutdownTimeout:     30 * time.Second,
		StreamWriteTimeout:  15 * time.Second,

		ConsoleIdleTimeout:     time.Hour,
		ConsoleSessionLifetime: 12 * time.Hour,
	}
}

var (
	regionRE  = regexp.MustCompile(`^[a-z]{2}(-gov)?-[a-z]+-\d$`)
	accountRE = regexp.MustCompile(`^\d{12}$`)
)

// Validate reports every problem with c at once.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := net.SplitHostPort(c.Addr); err != nil {
		errs = append(errs, fmt.Errorf("addr %q: %v", c.Addr, err))
	}
	if c.DataDir == "" {
		errs = append(errs, errors.New("dataDir must not be empty"))
	}
	if !regionRE.MatchString(c.Region) {
		errs = append(errs, fmt.Errorf("region %q is not an AWS region name", c.Region))
	}
	if !accountRE.MatchString(c.AccountID) {
		errs = append(errs, fmt.Errorf("accountId %q must be 12 digits", c.AccountID))
	}
	if (c.Secrets.RootAccessKeyID == "") != (c.Secrets.RootSecretAccessKey == "") {
		errs = append(errs, errors.New(EnvRootAccessKeyID+" and "+EnvRootSecretAccessKey+" must be set together"))
	}
	if (c.TLSCert == "") != (c.TLSKey == "") {
		errs = append(errs, errors.New("tlsCert and tlsKey must be given together"))
	}
	if c.ProfileQuota < 1 {
		errs = append(errs, fmt.Errorf("profileQuota %d must be at least 1", c.ProfileQuota))
	}
	if c.MaxBodyBytes < 1024 {
		errs = append(errs, fmt.Errorf("maxBodyBytes %d must be at least 1024", c.MaxBodyBytes))
	}
	if c.RuntimeMaxBodyBytes < c.MaxBodyBytes {
		errs = append(errs, fmt.Errorf("runtimeMaxBodyBytes %d must be at least maxBodyBytes %d", c.RuntimeMaxBodyBytes, c.MaxBodyBytes))
	}
	if c.BodyMemoryBytes < c.RuntimeMaxBodyBytes {
		errs = append(errs, fmt.Errorf("bodyMemoryBytes %d must be at least runtimeMaxBodyBytes %d", c.BodyMemoryBytes, c.RuntimeMaxBodyBytes))
	}
	if c.BodyReadTimeout <= 0 {
		errs = append(errs, fmt.Errorf("bodyReadTimeout %v must be positive", c.BodyReadTimeout))
	}
	if c.MaxConnsPerClient < 0 {
		errs = append(errs, fmt.Errorf("maxConnsPerClient %d must not be negative", c.MaxConnsPerClient))
	}
	if c.MetricsMaxProfiles < 0 {
		errs = append(errs, fmt.Errorf("metricsMaxProfiles %d must not be negative", c.MetricsMaxProfiles))
	}
	if c.MetricsAddr != "" {
		if _, _, err := net.SplitHostPort(c.MetricsAddr); err != nil {
			errs = append(errs, fmt.Errorf("metricsAddr %q: %v", c.MetricsAddr, err))
		}
	}
	if c.DebugAddr != "" {
		if _, _, err := net.SplitHostPort(c.DebugAddr); err != nil {
			errs = append(errs, fmt.Errorf("debugAddr %q: %v", c.DebugAddr, err))
		}
	}
	switch c.LogLevel {
	case "debug", "info", "warn", "error":
	default:
		errs = append(errs, fmt.Errorf("logLevel %q must be debug, info, warn or error", c.LogLevel))
	}
	switch strings.ToUpper(c.Synchronous) {
	case "FULL", "NORMAL":
	default:
		errs = append(errs, fmt.Errorf("synchronous %q must be FULL or NORMAL", c.Synchronous))
	}
	if err := ValidateStore(c.Store); err != nil {
		errs = append(errs, err)
	}
	if c.ShutdownTimeout <= 0 {
		errs = append(errs, fmt.Errorf("shutdownTimeout %v must be positive", c.ShutdownTimeout))
	}
	if c.ConsoleIdleTimeout <= 0 || c.ConsoleSessionLifetime <= 0 {
		errs = append(errs, errors.New("consoleIdleTimeout and consoleSessionLifetime must be positive"))
	}
	if c.NotifyRetry < 0 || c.BudgetEvalInterval < 0 || c.AlarmEvalInterval < 0 || c.BudgetSyncInterval < 0 || c.BudgetEnforcementHold < 0 || c.LeaseTTL < 0 {
		errs = append(errs, errors.New("notifyRetry, budgetEvalInterval, alarmEvalInterval, budgetSyncInterval and leaseTTL must not be negative"))
	}
	if c.LedgerRetentionMonths < 0 {
		errs = append(errs, fmt.Errorf("ledgerRetentionMonths %d must not be negative", c.LedgerRetentionMonths))
	}
	if c.LedgerRetentionMonths > 0 && c.Store == "" {
		errs = append(errs, errors.New("ledgerRetentionMonths applies to the PostgreSQL store only: set store too, or leave it 0"))
	}
	if c.LeaseTTL > 0 && c.LeaseTTL < 300*time.Millisecond {
		errs = append(errs, fmt.Errorf("leaseTTL %v is too short: at least 300ms", c.LeaseTTL))
	}
	if c.TaggingRate < 0 {
		errs = append(errs, fmt.Errorf("taggingRate %v must not be negative", c.TaggingRate))
	}
	if c.AttemptTimeout < 0 {
		errs = append(errs, fmt.Errorf("attemptTimeout %v must not be negative", c.AttemptTimeout))
	}
	if c.StreamWriteTimeout <= 0 {
		errs = append(errs, fmt.Errorf("streamWriteTimeout %v must be positive", c.StreamWriteTimeout))
	}
	if _, err := c.Egress(); err != nil {
		errs = append(errs, err)
	}
	if err := c.validateProviders(); err != nil {
		errs = append(errs, err)
	}
	if err := c.Quotas.validate(); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// Egress returns the outbound address policy of OutboundAllow.
func (c Config) Egress() (*egress.Policy, error) {
	p, err := egress.New(c.OutboundAllow)
	if err != nil {
		return nil, fmt.Errorf("outboundAllow: %w", err)
	}
	return p, nil
}

// ValidateStore accepts an empty store (SQLite) or a PostgreSQL URL, as
// Validate does for Config.Store; the offline commands check their
// --store with it. Its errors never repeat a password the URL may hold.
func ValidateStore(s string) error {
	if s == "" {
		return nil
	}
	scheme, _, ok := strings.Cut(s, "://")
	if !ok || (scheme != "postgres" && scheme != "postgresql") {
		return errors.New("store must be empty (SQLite in dataDir) or a postgres:// URL")
	}
	if _, err := url.Parse(s); err != nil {
		return errors.New("store is not a valid postgres:// URL")
	}
	return nil
}

// DecodeYAML applies a YAML document onto c. Unknown keys are errors.
func (c *Config) DecodeYAML(data []byte) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(c); err != nil && !errors.Is(err, io.EOF) {
		return fmt.Errorf("config: %w", err)
	}
	return nil
}

// field describes one setting for the environment and flag layers.
type field struct {
	name  string // flag name; env is TOLLGATE_ + upper snake of it
	usage string
	get   func(*Config) string
	set   func(*Config, string) error
}

func str(p func(*Config) *string) (func(*Config) string, func(*Config, string) error) {
	return func(c *Config) string { return *p(c) }, func(c *Config, v string) error { *p(c) = v; return nil }
}

func fields() []field {
	mk := func(name, usage string, p func(*Config) *string) field {
		g, s := str(p)
		return field{name, usage, g, s}
	}
	return []field{
		mk("addr", "listen address", func(c *Config) *string { return &c.Addr }),
		mk("data-dir", "data directory (database, credentials, master key)", func(c *Config) *string { return &c.DataDir }),
		mk("region", "AWS region presented", func(c *Config) *string { return &c.Region }),
		mk("account-id", "12-digit AWS account id presented", func(c *Config) *string { return &c.AccountID }),
		mk("tls-cert", "TLS certificate (PEM)", func(c *Config) *string { return &c.TLSCert }),
		mk("tls-key", "TLS private key (PEM)", func(c *Config) *string { return &c.TLSKey }),
		mk("catalog", "catalogue override YAML file", func(c *Config) *string { return &c.CatalogFile }),
		mk("prices-file", "price overrides YAML file (docs/pricing.md)", func(c *Config) *string { return &c.PricesFile }),
		mk("log-level", "debug, info, warn or error", func(c *Config) *string { return &c.LogLevel }),
		mk("synchronous", "SQLite durability: FULL or NORMAL", func(c *Config) *string { return &c.Synchronous }),
		mk("smtp-addr", "SMTP server host:port for e-mail alerts", func(c *Config) *string { return &c.SMTPAddr }),
		mk("pagerduty-endpoint", "PagerDuty Events API v2 endpoint (empty = https://events.pagerduty.com/v2/enqueue)", func(c *Config) *string { return &c.PagerDutyEndpoint }),
		mk("smtp-from", "sender address of e-mail alerts", func(c *Config) *string { return &c.SMTPFrom }),
		mk("smtp-username", "SMTP login (password: TOLLGATE_SMTP_PASSWORD)", func(c *Config) *string { return &c.SMTPUsername }),
		mk("console-main-tag-key", "tag key the console's home page ranks spend by (empty = the one with most spend)", func(c *Config) *string { return &c.ConsoleMainTagKey }),
		mk("metrics-tag-labels", "profile tag keys to add as Prometheus labels (comma-separated)", func(c *Config) *string { return &c.MetricsTagLabels }),
		{"outbound-allow", "CIDR prefixes, addresses and host[:port] names alert webhooks may reach despite being internal (comma-separated)",
			func(c *Config) string { return strings.Join(c.OutboundAllow, ",") },
			func(c *Config, v string) error { c.OutboundAllow = splitList(v); return nil }},
		{"notify-retry", "first retry delay of the notification outbox (0 = 1s)",
			func(c *Config) string { return c.NotifyRetry.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.NotifyRetry = d; return err }},
		{"budget-eval-interval", "how often budgets re-evaluate forecasts and alerts (0 = 10s)",
			func(c *Config) string { return c.BudgetEvalInterval.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.BudgetEvalInterval = d; return err }},
		{"alarm-eval-interval", "how often CloudWatch alarms are evaluated (0 = 10s)",
			func(c *Config) string { return c.AlarmEvalInterval.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.AlarmEvalInterval = d; return err }},
		{"budget-sync-interval", "replicas on PostgreSQL: how often budgets read the fleet's spend (0 = 2s)",
			func(c *Config) string { return c.BudgetSyncInterval.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.BudgetSyncInterval = d; return err }},
		{"budget-enforcement-hold", "how long a BLOCK budget action stays engaged after its last refusal (0 = 1m)",
			func(c *Config) string { return c.BudgetEnforcementHold.String() },
			func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				c.BudgetEnforcementHold = d
				return err
			}},
		{"lease-ttl", "replicas on PostgreSQL: how long before a dead replica's background jobs move (0 = 15s)",
			func(c *Config) string { return c.LeaseTTL.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.LeaseTTL = d; return err }},
		mk("store", "database: empty for SQLite in the data dir, or a postgres:// URL", func(c *Config) *string { return &c.Store }),
		{"ledger-retention-months", "PostgreSQL: whole months of usage records kept before the current one (0 = all)",
			func(c *Config) string { return strconv.Itoa(c.LedgerRetentionMonths) },
			func(c *Config, v string) error { n, err := strconv.Atoi(v); c.LedgerRetentionMonths = n; return err }},
		{"profile-quota", "application profiles per account",
			func(c *Config) string { return strconv.Itoa(c.ProfileQuota) },
			func(c *Config, v string) error { n, err := strconv.Atoi(v); c.ProfileQuota = n; return err }},
		{"max-body-bytes", "control-plane request body limit",
			func(c *Config) string { return strconv.FormatInt(c.MaxBodyBytes, 10) },
			func(c *Config, v string) error { n, err := strconv.ParseInt(v, 10, 64); c.MaxBodyBytes = n; return err }},
		{"tagging-rate", "Tagging API requests per second per account (0 = unlimited)",
			func(c *Config) string { return strconv.FormatFloat(c.TaggingRate, 'g', -1, 64) },
			func(c *Config, v string) error { f, err := strconv.ParseFloat(v, 64); c.TaggingRate = f; return err }},
		{"attempt-timeout", "bound on one provider attempt before failover (0 = none)",
			func(c *Config) string { return c.AttemptTimeout.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.AttemptTimeout = d; return err }},
		mk("debug-addr", "private listen address serving Go's /debug/pprof/ profiles unauthenticated (empty = none)", func(c *Config) *string { return &c.DebugAddr }),
		mk("metrics-addr", "private listen address serving /metrics unauthenticated (empty = none)", func(c *Config) *string { return &c.MetricsAddr }),
		{"runtime-max-body-bytes", "runtime operations' request body limit",
			func(c *Config) string { return strconv.FormatInt(c.RuntimeMaxBodyBytes, 10) },
			func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				c.RuntimeMaxBodyBytes = n
				return err
			}},
		{"body-memory-bytes", "request bodies held in memory at once, over all connections",
			func(c *Config) string { return strconv.FormatInt(c.BodyMemoryBytes, 10) },
			func(c *Config, v string) error {
				n, err := strconv.ParseInt(v, 10, 64)
				c.BodyMemoryBytes = n
				return err
			}},
		{"body-read-timeout", "bound on reading one request body",
			func(c *Config) string { return c.BodyReadTimeout.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.BodyReadTimeout = d; return err }},
		{"metrics-max-profiles", "application profiles with Prometheus series of their own; the others' calls count under profile=\"__overflow__\" (0 = unbounded)",
			func(c *Config) string { return strconv.Itoa(c.MetricsMaxProfiles) },
			func(c *Config, v string) error { n, err := strconv.Atoi(v); c.MetricsMaxProfiles = n; return err }},
		{"max-conns-per-client", "open connections per client IP (0 = unbounded)",
			func(c *Config) string { return strconv.Itoa(c.MaxConnsPerClient) },
			func(c *Config, v string) error { n, err := strconv.Atoi(v); c.MaxConnsPerClient = n; return err }},
		{"allow-plaintext-api-keys", "accept Bedrock API keys over plain HTTP from other hosts",
			func(c *Config) string { return strconv.FormatBool(c.AllowPlaintextAPIKeys) },
			func(c *Config, v string) error {
				b, err := strconv.ParseBool(v)
				c.AllowPlaintextAPIKeys = b
				return err
			}},
		{"stream-write-timeout", "bound on each write of a stream event to the client",
			func(c *Config) string { return c.StreamWriteTimeout.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.StreamWriteTimeout = d; return err }},
		{"shutdown-timeout", "how long shutdown waits for in-flight requests",
			func(c *Config) string { return c.ShutdownTimeout.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.ShutdownTimeout = d; return err }},
		{"console-idle-timeout", "end a web console session unused this long",
			func(c *Config) string { return c.ConsoleIdleTimeout.String() },
			func(c *Config, v string) error { d, err := time.ParseDuration(v); c.ConsoleIdleTimeout = d; return err }},
		{"console-session-lifetime", "end every web console session this long after sign-in",
			func(c *Config) string { return c.ConsoleSessionLifetime.String() },
			func(c *Config, v string) error {
				d, err := time.ParseDuration(v)
				c.ConsoleSessionLifetime = d
				return err
			}},
	}
}

// splitList splits a comma-separated list, dropping blanks.
func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// EnvName returns the environment variable for a flag name.
func EnvName(flagName string) string {
	return "TOLLGATE_" + strings.ToUpper(strings.ReplaceAll(flagName, "-", "_"))
}

// Load builds the configuration for `serve`: defaults, then the YAML file
// named by --config (or TOLLGATE_CONFIG), then TOLLGATE_* variables from
// getenv, then the flags in args; the secrets come from getenv only
// (LoadSecrets). It is the one place the server's settings are read from
// the environment.
func Load(name string, args []string, getenv func(string) string) (Config, error) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	configFile := fs.String("config", getenv("TOLLGATE_CONFIG"), "YAML configuration file")
	def := Default()
	vals := map[string]*string{}
	for _, f := range fields() {
		vals[f.name] = fs.String(f.name, f.get(&def), f.usage+" (env "+EnvName(f.name)+")")
	}
	if err := fs.Parse(args); err != nil {
		return Config{}, err
	}
	if fs.NArg() > 0 {
		return Config{}, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	c := Default()
	if *configFile != "" {
		data, err := os.ReadFile(*configFile)
		if err != nil {
			return Config{}, fmt.Errorf("config: %w", err)
		}
		if err := c.DecodeYAML(data); err != nil {
			return Config{}, err
		}
	}
	for _, f := range fields() {
		if v := getenv(EnvName(f.name)); v != "" {
			if err := f.set(&c, v); err != nil {
				return Config{}, fmt.Errorf("%s: %w", EnvName(f.name), err)
			}
		}
	}
	var ferr error
	fs.Visit(func(fl *flag.Flag) {
		for _, f := range fields() {
			if f.name == fl.Name {
				if err := f.set(&c, *vals[f.name]); err != nil && ferr == nil {
					ferr = fmt.Errorf("-%s: %w", f.name, err)
				}
			}
		}
	})
	if ferr != nil {
		return Config{}, ferr
	}
	c.LoadSecrets(getenv)
	return c, c.Validate()
}

// PrintFlags writes the flags Load accepts — every setting, with its
// environment variable and default — to w, as `tollgate serve --help`
// shows them.
func PrintFlags(w io.Writer) {
	fs := flag.NewFlagSet("tollgate serve", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.String("config", "", "YAML configuration file (env TOLLGATE_CONFIG)")
	def := Default()
	for _, f := range fields() {
		fs.String(f.name, f.get(&def), f.usage+" (env "+EnvName(f.name)+")")
	}
	fs.PrintDefaults()
}
