package adminapi_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/secretbox"
	"github.com/tollgate-dev/tollgate/internal/server"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	mgmt   = "123456789012" // the management account
	dev    = "210987654321" // a member account
	region = "us-east-1"
)

// fixture is the admin API served as Tollgate serves it: the server's
// SigV4 authentication and policy authorizer in front of the handler,
// over a real principal directory in a real SQLite store.
type fixture struct {
	dir *principal.Directory
	// novaProfile is an application profile of Nova Pro (which offers
	// priority and flex) in the management account.
	novaProfile profile.Profile
	url         string
	// root is a client signed with the management account's root key.
	root *adminapi.Client
}

func newFixture(t *testing.T) *fixture {
	t.Helper()
	ctx := t.Context()
	db := sqlitetest.Open(t)
	box, err := secretbox.New(secretbox.NewKey())
	if err != nil {
		t.Fatal(err)
	}
	svc, err := principal.NewService(ctx, db, box, nil)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := principal.NewDirectory(ctx, svc, db, authz.Compile, mgmt)
	if err != nil {
		t.Fatal(err)
	}
	profiles, err := profile.NewService(ctx, profile.Config{Store: db, Catalog: catalog.Default(), Region: region})
	if err != nil {
		t.Fatal(err)
	}
	nova, err := profiles.Create(ctx, profile.CreateInput{Account: mgmt, Name: "risk-batch",
		CopyFrom: "arn:aws:bedrock:" + region + "::foundation-model/amazon.nova-pro-v1:0", Tags: []tags.Tag{{Key: "team", Value: "risk"}}})
	if err != nil {
		t.Fatal(err)
	}
	tiers, err := profile.NewTiers(ctx, db, profiles)
	if err != nil {
		t.Fatal(err)
	}
	admin := http.NewServeMux()
	// Model routes as cmd/tollgate's router answers them: the profile is
	// served by a simulator, anything else is unknown.
	models := func(account, modelID string) (adminapi.ModelRoutes, tags.Set, error) {
		if account != mgmt || (modelID != nova.ID && modelID != nova.ARN) {
			return adminapi.ModelRoutes{}, nil, errkind.New(errkind.NotFound, "The inference profile %s could not be found.", modelID)
		}
		return adminapi.ModelRoutes{ModelID: modelID, ARN: nova.ARN, FoundationModelID: "amazon.nova-pro-v1:0",
			Routes: []adminapi.ModelRoute{{Region: region, Provider: "sim", ProviderType: "sim"}}}, nova.Tags, nil
	}
	adminapi.New(dir).WithProfileTiers(tiers).WithModelRoutes(models).Register(admin)
	srv := server.New(server.Options{
		Verifier: &sigv4.Verifier{Keys: svc},
		Auth:     svc,
		Authz:    authz.New(dir, nil),
		Admin:    admin,
		Region:   region,
	})
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	f := &fixture{dir: dir, url: ts.URL, novaProfile: nova}
	f.root = f.rootOf(t, mgmt)
	return f
}

// client returns a client signing with the access key id and secret.
func (f *fixture) client(id, secret string) *adminapi.Client {
	return adminapi.NewClient(f.url, region, credentials.NewStaticCredentialsProvider(id, secret, ""))
}

// rootOf returns a client signed with the root key of account.
func (f *fixture) rootOf(t *testing.T, account string) *adminapi.Client {
	t.Helper()
	id, secret, _, err := f.dir.EnsureRoot(t.Context(), account, "", "")
	if err != nil {
		t.Fatal(err)
	}
	return f.client(id, secret)
}

// user creates a user of account with tags and policies (put from docs
// and attached) through the directory, and returns its id and a client
// signed with a new key of its own.
func (f *fixture) user(t *testing.T, account, name string, t0 tags.Set, policies ...string) (string, *adminapi.Client) {
	t.Helper()
	ctx := t.Context()
	p, err := f.dir.CreatePrincipal(ctx, account, principal.User, name, t0)
	if err != nil {
		t.Fatal(err)
	}
	for _, pol := range policies {
		if err := f.dir.AttachPolicy(ctx, p.ID, pol); err != nil {
			t.Fatal(err)
		}
	}
	id, secret, err := f.dir.CreateAccessKey(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	return p.ID, f.client(id, secret)
}

func (f *fixture) putPolicy(t *testing.T, account, name, doc string) {
	t.Helper()
	if err := f.dir.PutPolicy(t.Context(), account, name, doc); err != nil {
		t.Fatalf("policy %s/%s: %v", account, name, err)
	}
}

// checkError fails t unless err is an *adminapi.Error naming the
// exception want ("" wants no error) with the status want implies.
func checkError(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Fatalf("error %v, want none", err)
		}
		return
	}
	var e *adminapi.Error
	if !errors.As(err, &e) {
		t.Fatalf("error %v (%T), want an *adminapi.Error %s", err, err, want)
	}
	status, ok := statusOf[want]
	if !ok {
		t.Fatalf("test knows no status for %s", want)
	}
	if e.Type != want || e.Status != status || e.Message == "" {
		t.Errorf("error %q %q %q, want %q %q and a message", e.Status, e.Type, e.Message, status, want)
	}
	if got := e.Error(); got != want+": "+e.Message {
		t.Errorf("Error() = %q, want %q", got, want+": "+e.Message)
	}
}

// statusOf is the HTTP status of each exception the admin API answers.
var statusOf = map[string]string{
	"AccessDeniedException":       "403 Forbidden",
	"ValidationException":         "400 Bad Request",
	"ResourceNotFoundException":   "404 Not Found",
	"UnrecognizedClientException": "403 Forbidden",
	"InvalidSignatureException":   "403 Forbidden",
}
