package main

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	awsconfig "github.com/aws/aws-sdk-go-v2/config"
)

// adminClient calls Tollgate's admin API, signing with SigV4 as the
// "tollgate" service.
type adminClient struct {
	endpoint string
	region   string
	creds    aws.CredentialsProvider
	http     *http.Client
}

// adminFlags are the connection flags every admin command takes.
type adminFlags struct {
	dataDir, endpoint, credentials, region string
}

func (f *adminFlags) register(fs *flag.FlagSet, getenv func(string) string) {
	fs.StringVar(&f.dataDir, "data-dir", firstNonEmpty(getenv("TOLLGATE_DATA_DIR"), "./tollgate-data"), "data directory (credentials and endpoint are read from it)")
	fs.StringVar(&f.endpoint, "endpoint", "", "Tollgate endpoint (default: endpoint_url in <data-dir>/config)")
	fs.StringVar(&f.credentials, "credentials", "", "AWS shared-credentials file (default: <data-dir>/credentials)")
	fs.StringVar(&f.region, "region", "", "region (default: region in <data-dir>/config, else us-east-1)")
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

func (f *adminFlags) client(ctx context.Context) (*adminClient, error) {
	conf := readSharedConfig(filepath.Join(f.dataDir, "config"))
	endpoint := firstNonEmpty(f.endpoint, conf["endpoint_url"])
	if endpoint == "" {
		return nil, errors.New("no endpoint: give --endpoint or a --data-dir of a running Tollgate")
	}
	region := firstNonEmpty(f.region, conf["region"], "us-east-1")
	credFile := firstNonEmpty(f.credentials, filepath.Join(f.dataDir, "credentials"))
	cfg, err := awsconfig.LoadDefaultConfig(ctx, awsconfig.WithSharedCredentialsFiles([]string{credFile}), awsconfig.WithRegion(region))
	if err != nil {
		return nil, err
	}
	return &adminClient{endpoint: strings.TrimRight(endpoint, "/"), region: region, creds: cfg.Credentials,
		http: &http.Client{Timeout: 30 * time.Second}}, nil
}

// call sends one request and decodes the JSON answer into out (may be nil).
func (c *adminClient) call(ctx context.Context, method, path string, in any, out any) error {
	var body []byte
	switch v := in.(type) {
	case nil:
	case []byte:
		body = v
	default:
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		body = b
	}
	req, err := http.NewRequestWithContext(ctx, method, c.endpoint+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	creds, err := c.creds.Retrieve(ctx)
	if err != nil {
		return fmt.Errorf("credentials: %w", err)
	}
	sum := sha256.Sum256(body)
	if err := v4.NewSigner().SignHTTP(ctx, creds, req, hex.EncodeToString(sum[:]), "tollgate", c.region, time.Now()); err != nil {
		return err
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return err
	}
	if resp.StatusCode >= 300 {
		var e struct {
			Type    string `json:"__type"`
			Message string `json:"message"`
		}
		_ = json.Unmarshal(data, &e)
		return fmt.Errorf("%s: %s", firstNonEmpty(e.Type, resp.Status), e.Message)
	}
	if out != nil {
		return json.Unmarshal(data, out)
	}
	return nil
}

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

// adminCmd runs `tollgate accounts|principals|keys|policies ...`.
func adminCmd(ctx context.Context, group string, args []string, stdout io.Writer, getenv func(string) string) error {
	if len(args) == 0 {
		return fmt.Errorf("usage: tollgate %s <command> [flags]", group)
	}
	verb := args[0]
	fs := flag.NewFlagSet("tollgate "+group+" "+verb, flag.ContinueOnError)
	var conn adminFlags
	conn.register(fs, getenv)
	account := fs.String("account", "", "account id (default: the caller's)")
	name := fs.String("name", "", "name")
	kind := fs.String("kind", "user", "principal kind: user or role")
	principalID := fs.String("principal", "", "principal id")
	policyName := fs.String("policy", "", "policy name")
	file := fs.String("file", "", "policy document file (- for stdin)")
	id := fs.String("id", "", "account id to create")
	tg := tagFlags{}
	fs.Var(tg, "tag", "principal tag key=value (repeatable)")
	if err := fs.Parse(args[1:]); err != nil {
		return err
	}
	c, err := conn.client(ctx)
	if err != nil {
		return err
	}
	var out any
	q := ""
	if *account != "" {
		q = "?account=" + url.QueryEscape(*account)
	}
	pathPrincipal := func() (string, error) {
		if *principalID == "" {
			return "", errors.New("--principal is required")
		}
		return "/tollgate/v1/principals/" + url.PathEscape(*principalID), nil
	}
	switch group + " " + verb {
	case "accounts list":
		err = c.call(ctx, "GET", "/tollgate/v1/accounts", nil, &out)
	case "accounts create":
		err = c.call(ctx, "POST", "/tollgate/v1/accounts", map[string]string{"accountId": *id, "name": *name}, &out)
	case "principals list":
		err = c.call(ctx, "GET", "/tollgate/v1/principals"+q, nil, &out)
	case "principals create":
		err = c.call(ctx, "POST", "/tollgate/v1/principals", map[string]any{"accountId": *account, "name": *name, "kind": *kind, "tags": tg}, &out)
	case "principals show":
		var p string
		if p, err = pathPrincipal(); err == nil {
			err = c.call(ctx, "GET", p, nil, &out)
		}
	case "keys create", "keys list", "keys create-api-key":
		var p string
		if p, err = pathPrincipal(); err == nil {
			switch verb {
			case "create":
				err = c.call(ctx, "POST", p+"/access-keys", nil, &out)
			case "list":
				err = c.call(ctx, "GET", p+"/access-keys", nil, &out)
			default:
				err = c.call(ctx, "POST", p+"/api-keys", nil, &out)
			}
		}
	case "keys activate", "keys deactivate":
		if fs.NArg() != 1 {
			return fmt.Errorf("usage: tollgate keys %s ACCESS_KEY_ID", verb)
		}
		status := "Active"
		if verb == "deactivate" {
			status = "Inactive"
		}
		err = c.call(ctx, "POST", "/tollgate/v1/access-keys/"+url.PathEscape(fs.Arg(0)), map[string]string{"status": status}, &out)
	case "keys revoke-api-key":
		if fs.NArg() != 1 {
			return errors.New("usage: tollgate keys revoke-api-key API_KEY_ID")
		}
		err = c.call(ctx, "DELETE", "/tollgate/v1/api-keys/"+url.PathEscape(fs.Arg(0)), nil, &out)
	case "policies list":
		err = c.call(ctx, "GET", "/tollgate/v1/policies"+q, nil, &out)
	case "policies put":
		var doc []byte
		if *file == "-" {
			doc, err = io.ReadAll(os.Stdin)
		} else {
			doc, err = os.ReadFile(*file)
		}
		if err != nil {
			return err
		}
		acct := *account
		if acct == "" {
			var who struct {
				Accounts []struct {
					AccountID string `json:"accountId"`
				} `json:"accounts"`
			}
			if err := c.call(ctx, "GET", "/tollgate/v1/accounts", nil, &who); err != nil || len(who.Accounts) == 0 {
				return fmt.Errorf("--account is required (%v)", err)
			}
			acct = who.Accounts[0].AccountID
		}
		err = c.call(ctx, "PUT", "/tollgate/v1/policies/"+url.PathEscape(acct)+"/"+url.PathEscape(*name), doc, &out)
	case "policies attach":
		var p string
		if p, err = pathPrincipal(); err == nil {
			err = c.call(ctx, "POST", p+"/policies", map[string]string{"policyName": *policyName}, &out)
		}
	case "policies detach":
		var p string
		if p, err = pathPrincipal(); err == nil {
			err = c.call(ctx, "DELETE", p+"/policies/"+url.PathEscape(*policyName), nil, &out)
		}
	default:
		return fmt.Errorf("unknown command: tollgate %s %s", group, verb)
	}
	if err != nil {
		return err
	}
	enc := json.NewEncoder(stdout)
	enc.SetIndent("", "  ")
	return enc.Encode(out)
}
