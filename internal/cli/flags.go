package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/config"
)

// storeFlags are the flags that say which database an offline command
// reads: the SQLite database in --data-dir, or the PostgreSQL database
// --store names, the one the replicas share.
type storeFlags struct {
	dataDir string
	// store is --store, or TOLLGATE_STORE when the flag is not given: as
	// for serve, the flag wins even when empty. The variable is read at
	// open, not shown as the flag's default, so -h never prints a URL
	// that may hold a password.
	store    string
	storeSet bool
	getenv   func(string) string
}

// register adds --data-dir and --store to fs, their defaults read from
// TOLLGATE_DATA_DIR and TOLLGATE_STORE as serve reads them (an empty
// variable counts as unset).
func (sf *storeFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	sf.getenv = getenv
	fs.StringVar(&sf.dataDir, "data-dir", firstNonEmpty(getenv(config.EnvName("data-dir")), "./tollgate-data"),
		"data directory holding the SQLite database (env "+config.EnvName("data-dir")+")")
	fs.Func("store", "database: empty for SQLite in --data-dir, or the postgres:// `URL` the replicas share (env "+
		config.EnvName("store")+")", func(v string) error {
		sf.store, sf.storeSet = v, true
		return nil
	})
}

// open opens the database the flags name through env.OpenStore; create
// says whether a missing SQLite database may be created (StoreLocation).
func (sf *storeFlags) open(ctx context.Context, env Env, create bool) (Store, error) {
	url := sf.store
	if !sf.storeSet {
		url = sf.getenv(config.EnvName("store"))
	}
	if env.OpenStore == nil {
		return nil, errors.New("this build of tollgate cannot open a store")
	}
	return env.OpenStore(ctx, StoreLocation{URL: url, DataDir: sf.dataDir, Create: create})
}

// serverFlags are the flags of the commands that talk to a running
// Tollgate: its endpoint, region and credentials, by default those the
// server wrote into its data directory (config and credentials, in the
// AWS shared-file formats).
type serverFlags struct {
	dataDir, endpoint, credentials, region string
	timeout                                time.Duration
}

func (f *serverFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.dataDir, "data-dir", firstNonEmpty(getenv("TOLLGATE_DATA_DIR"), "./tollgate-data"), "data directory (credentials and endpoint are read from it)")
	fs.StringVar(&f.endpoint, "endpoint", "", "Tollgate endpoint (default: endpoint_url in <data-dir>/config)")
	fs.StringVar(&f.credentials, "credentials", "", "AWS shared-credentials file (default: <data-dir>/credentials)")
	fs.StringVar(&f.region, "region", "", "region (default: region in <data-dir>/config, else us-east-1)")
	fs.DurationVar(&f.timeout, "timeout", 30*time.Second, "give up on a request to the server after this long")
}

// resolve returns the endpoint, region and credentials file the flags
// name, falling back on the data directory's config file.
func (f *serverFlags) resolve() (endpoint, region, credFile string, err error) {
	conf := readSharedConfig(filepath.Join(f.dataDir, "config"))
	endpoint = firstNonEmpty(f.endpoint, conf["endpoint_url"])
	if endpoint == "" {
		return "", "", "", errors.New("no endpoint: give --endpoint or a --data-dir of a running Tollgate")
	}
	region = firstNonEmpty(f.region, conf["region"], "us-east-1")
	credFile = firstNonEmpty(f.credentials, filepath.Join(f.dataDir, "credentials"))
	return strings.TrimRight(endpoint, "/"), region, credFile, nil
}

// awsConfig returns the AWS SDK configuration for the flags' server:
// its region and the credentials file, with the base endpoint set.
func (f *serverFlags) awsConfig(ctx context.Context) (aws.Config, error) {
	endpoint, region, credFile, err := f.resolve()
	if err != nil {
		return aws.Config{}, err
	}
	if _, err := os.Stat(credFile); err != nil {
		return aws.Config{}, fmt.Errorf("no credentials file at %s (give --credentials, or the --data-dir of a running Tollgate)", credFile)
	}
	timeout := f.timeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	return awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedCredentialsFiles([]string{credFile}),
		awsconfig.WithRegion(region), awsconfig.WithBaseEndpoint(endpoint),
		awsconfig.WithHTTPClient(awshttp.NewBuildableClient().WithTimeout(timeout)))
}

// adminClient returns the typed admin API client for the flags' server.
func (f *serverFlags) adminClient(ctx context.Context) (*adminapi.Client, error) {
	cfg, err := f.awsConfig(ctx)
	if err != nil {
		return nil, err
	}
	return adminapi.NewClient(aws.ToString(cfg.BaseEndpoint), cfg.Region, cfg.Credentials), nil
}

// readSharedConfig reads key = value pairs of the [default] section.
func readSharedConfig(path string) map[string]string {
	out := map[string]string{}
	f, err := os.Open(path)
	if err != nil {
		return out
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), "=")
		if ok {
			out[strings.TrimSpace(k)] = strings.TrimSpace(v)
		}
	}
	return out
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ", ") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

// tagFlags collects repeated --tag k=v flags.
type tagFlags map[string]string

func (t tagFlags) String() string { return fmt.Sprint(map[string]string(t)) }
func (t tagFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("--tag wants key=value, not %q", s)
	}
	t[k] = v
	return nil
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// newFlagSet returns a command's flag set (NewFlagSet on env's writers).
func newFlagSet(name, usage string, env Env) *flag.FlagSet {
	return NewFlagSet(name, usage, env.Stdout, env.Stderr)
}

// newStoreFlagSet is newFlagSet for an offline command, with the flags
// that choose its store (--data-dir, --store).
func newStoreFlagSet(name, usage string, env Env) (*flag.FlagSet, *storeFlags) {
	fs := newFlagSet(name, usage, env)
	lf := &storeFlags{}
	lf.register(fs, env.Getenv)
	return fs, lf
}

// subcommand splits a leading subcommand off args; def when the first
// argument is a flag or there is none.
func subcommand(args []string, def string) (string, []string) {
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		return args[0], args[1:]
	}
	return def, args
}

// noArgs reports a positional argument after cmd's flags as bad usage.
func noArgs(fs *flag.FlagSet, cmd string) error {
	if fs.NArg() > 0 {
		return Usagef(cmd, "%s: unexpected argument %q", cmd, fs.Arg(0))
	}
	return nil
}

// nArgs checks that cmd got exactly the positional arguments names
// (e.g. "NAME") and returns them.
func nArgs(fs *flag.FlagSet, cmd string, names ...string) ([]string, error) {
	switch {
	case fs.NArg() < len(names):
		return nil, Usagef(cmd, "%s: missing %s", cmd, strings.Join(names[fs.NArg():], " "))
	case fs.NArg() > len(names):
		return nil, Usagef(cmd, "%s: unexpected argument %q", cmd, fs.Arg(len(names)))
	}
	return fs.Args(), nil
}
