package adminapi_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
)

const listPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "tollgate:List*", "Resource": "*"}]}`

// ignoreTimes leaves out the times the directory stamps.
var ignoreTimes = cmp.Options{
	cmpopts.IgnoreFields(adminapi.Account{}, "CreatedAt"),
	cmpopts.IgnoreFields(adminapi.Principal{}, "CreatedAt"),
	cmpopts.IgnoreFields(adminapi.Policy{}, "UpdatedAt"),
	cmpopts.IgnoreFields(adminapi.AccessKey{}, "CreatedAt"),
	cmpopts.EquateEmpty(),
}

// TestClientRoundTrip drives every route of Routes through the typed
// client as the management account's root, step by step, and checks what
// each answers.
func TestClientRoundTrip(t *testing.T) {
	f := newFixture(t)
	c, ctx := f.root, t.Context()
	called := map[string]bool{}
	step := func(op, name string, fn func(t *testing.T)) {
		t.Helper()
		called[op] = true
		if !t.Run(op+"/"+name, fn) {
			t.FailNow()
		}
	}
	alice := adminapi.Principal{ID: "user-" + mgmt + "-alice", Account: mgmt, Name: "alice", Kind: "user",
		ARN: "arn:aws:iam::" + mgmt + ":user/alice", Tags: map[string]string{"team": "claims"}}
	var aliceKey adminapi.NewAccessKey
	var apiKeyID string

	step("ListAccounts", "management only", func(t *testing.T) {
		got, err := c.ListAccounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, []adminapi.Account{{AccountID: mgmt, Name: "management"}}, ignoreTimes); diff != "" {
			t.Errorf("accounts (-got +want):\n%s", diff)
		}
	})
	step("CreateAccount", "dev", func(t *testing.T) {
		got, err := c.CreateAccount(ctx, dev, "dev")
		if err != nil {
			t.Fatal(err)
		}
		if got.AccountID != dev || got.Name != "dev" || got.CreatedAt.IsZero() {
			t.Errorf("created %+v", got)
		}
		list, err := c.ListAccounts(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(list, []adminapi.Account{{AccountID: mgmt, Name: "management"}, {AccountID: dev, Name: "dev"}}, ignoreTimes); diff != "" {
			t.Errorf("accounts (-got +want):\n%s", diff)
		}
	})
	step("PutPolicy", "list", func(t *testing.T) {
		got, err := c.PutPolicy(ctx, mgmt, "list", []byte(listPolicy))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, adminapi.Policy{Account: mgmt, Name: "list", Document: listPolicy}, ignoreTimes); diff != "" || got.UpdatedAt.IsZero() {
			t.Errorf("policy (-got +want):\n%s (updated %v)", diff, got.UpdatedAt)
		}
	})
	step("ListPolicies", "own and other account", func(t *testing.T) {
		got, err := c.ListPolicies(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, []adminapi.Policy{{Account: mgmt, Name: "list", Document: listPolicy}}, ignoreTimes); diff != "" {
			t.Errorf("policies (-got +want):\n%s", diff)
		}
		if got, err := c.ListPolicies(ctx, dev); err != nil || len(got) != 0 {
			t.Errorf("dev policies %v, %v; want none", got, err)
		}
	})
	step("CreatePrincipal", "user and role", func(t *testing.T) {
		got, err := c.CreatePrincipal(ctx, adminapi.PrincipalInput{Name: "alice", Tags: map[string]string{"team": "claims"}})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, alice, ignoreTimes); diff != "" {
			t.Errorf("alice (-got +want):\n%s", diff)
		}
		role, err := c.CreatePrincipal(ctx, adminapi.PrincipalInput{Account: dev, Name: "ci", Kind: "role"})
		if err != nil {
			t.Fatal(err)
		}
		want := adminapi.Principal{ID: "role-" + dev + "-ci", Account: dev, Name: "ci", Kind: "role", ARN: "arn:aws:iam::" + dev + ":role/ci"}
		if diff := cmp.Diff(role, want, ignoreTimes); diff != "" {
			t.Errorf("role (-got +want):\n%s", diff)
		}
	})
	step("GetPrincipal", "alice", func(t *testing.T) {
		got, err := c.GetPrincipal(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, alice, ignoreTimes); diff != "" {
			t.Errorf("alice (-got +want):\n%s", diff)
		}
	})
	step("ListPrincipals", "per account", func(t *testing.T) {
		for account, want := range map[string][]string{"": {"root-" + mgmt, alice.ID}, mgmt: {"root-" + mgmt, alice.ID}, dev: {"role-" + dev + "-ci"}} {
			got, err := c.ListPrincipals(ctx, account)
			if err != nil {
				t.Fatal(err)
			}
			var gotIDs []string
			for _, p := range got {
				gotIDs = append(gotIDs, p.ID)
			}
			if diff := cmp.Diff(gotIDs, want); diff != "" {
				t.Errorf("principals of %q (-got +want):\n%s", account, diff)
			}
		}
	})
	step("AttachPolicy", "list to alice", func(t *testing.T) {
		got, err := c.AttachPolicy(ctx, alice.ID, "list")
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(got.Policies, []string{"list"}) {
			t.Errorf("alice's policies %v, want [list]", got.Policies)
		}
	})
	step("CreateAccessKey", "alice", func(t *testing.T) {
		var err error
		aliceKey, err = c.CreateAccessKey(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if aliceKey.AccessKeyID == "" || aliceKey.SecretAccessKey == "" || aliceKey.Status != "Active" || aliceKey.PrincipalID != alice.ID {
			t.Fatalf("key %+v", aliceKey)
		}
		// The key signs for alice, within the policy attached.
		ac := f.client(aliceKey.AccessKeyID, aliceKey.SecretAccessKey)
		if _, err := ac.ListPrincipals(ctx, ""); err != nil {
			t.Errorf("alice lists principals: %v", err)
		}
		_, err = ac.GetPrincipal(ctx, alice.ID)
		checkError(t, err, "AccessDeniedException")
	})
	step("CreateAPIKey", "alice", func(t *testing.T) {
		got, err := c.CreateAPIKey(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if !strings.HasPrefix(got.APIKey, "ABSK") || got.PrincipalID != alice.ID {
			t.Errorf("API key %+v", got)
		}
	})
	step("ListAccessKeys", "both kinds", func(t *testing.T) {
		got, err := c.ListAccessKeys(ctx, alice.ID)
		if err != nil {
			t.Fatal(err)
		}
		if len(got.APIKeys) != 1 {
			t.Fatalf("API keys %+v, want one", got.APIKeys)
		}
		apiKeyID = got.APIKeys[0].ID
		want := adminapi.Keys{
			AccessKeys: []adminapi.AccessKey{{ID: aliceKey.AccessKeyID, Status: "Active"}},
			APIKeys:    []adminapi.AccessKey{{ID: apiKeyID, Status: "Active"}},
		}
		if diff := cmp.Diff(got, want, ignoreTimes); diff != "" {
			t.Errorf("keys (-got +want):\n%s", diff)
		}
	})
	step("UpdateAccessKey", "deactivate and activate", func(t *testing.T) {
		ac := f.client(aliceKey.AccessKeyID, aliceKey.SecretAccessKey)
		for _, tc := range []struct{ status, answer string }{{"Inactive", "UnrecognizedClientException"}, {"Active", ""}} {
			got, err := c.UpdateAccessKey(ctx, aliceKey.AccessKeyID, tc.status)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(got, adminapi.AccessKeyStatus{AccessKeyID: aliceKey.AccessKeyID, Status: tc.status}); diff != "" {
				t.Errorf("status (-got +want):\n%s", diff)
			}
			_, err = ac.ListAccounts(ctx)
			checkError(t, err, tc.answer)
		}
	})
	step("RevokeAPIKey", "alice's", func(t *testing.T) {
		got, err := c.RevokeAPIKey(ctx, apiKeyID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, adminapi.APIKeyStatus{APIKeyID: apiKeyID, Status: "Inactive"}); diff != "" {
			t.Errorf("status (-got +want):\n%s", diff)
		}
		keys, err := c.ListAccessKeys(ctx, alice.ID)
		if err != nil || len(keys.APIKeys) != 1 || keys.APIKeys[0].Status != "Inactive" {
			t.Errorf("API keys after revoking %+v, %v", keys.APIKeys, err)
		}
	})
	step("DetachPolicy", "list from alice", func(t *testing.T) {
		got, err := c.DetachPolicy(ctx, alice.ID, "list")
		if err != nil {
			t.Fatal(err)
		}
		if len(got.Policies) != 0 {
			t.Errorf("alice's policies %v, want none", got.Policies)
		}
		_, err = f.client(aliceKey.AccessKeyID, aliceKey.SecretAccessKey).ListPrincipals(ctx, "")
		checkError(t, err, "AccessDeniedException")
	})

	nova := f.novaProfile
	step("GetProfileTiers", "none set", func(t *testing.T) {
		got, err := c.GetProfileTiers(ctx, "", nova.ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(got, adminapi.ProfileTiers{ProfileARN: nova.ARN}); diff != "" {
			t.Errorf("tiers (-got +want):\n%s", diff)
		}
	})
	step("PutProfileTiers", "batch: flex by default, never priority", func(t *testing.T) {
		got, err := c.PutProfileTiers(ctx, "", nova.ARN, "flex", "default")
		if err != nil {
			t.Fatal(err)
		}
		want := adminapi.ProfileTiers{ProfileARN: nova.ARN, DefaultTier: "flex", MaxTier: "default"}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("tiers (-got +want):\n%s", diff)
		}
		if got, err := c.GetProfileTiers(ctx, mgmt, nova.ID); err != nil || got != want {
			t.Errorf("read back %+v, %v; want %+v", got, err, want)
		}
		for _, bad := range []struct{ def, max, answer string }{
			{"reserved", "", "ValidationException"}, // Nova Pro offers no reserved tier
			{"turbo", "", "ValidationException"},
			{"priority", "default", "ValidationException"}, // default above the cap
		} {
			_, err := c.PutProfileTiers(ctx, "", nova.ID, bad.def, bad.max)
			checkError(t, err, bad.answer)
		}
		_, err = c.PutProfileTiers(ctx, "", "zzzzzzzzzzzz", "flex", "")
		checkError(t, err, "ResourceNotFoundException")
	})

	step("GetModelRoutes", "the profile's provider", func(t *testing.T) {
		got, err := c.GetModelRoutes(ctx, nova.ARN)
		if err != nil {
			t.Fatal(err)
		}
		want := adminapi.ModelRoutes{ModelID: nova.ARN, ARN: nova.ARN, FoundationModelID: "amazon.nova-pro-v1:0",
			Routes: []adminapi.ModelRoute{{Region: region, Provider: "sim", ProviderType: "sim"}}}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("routes (-got +want):\n%s", diff)
		}
		_, err = c.GetModelRoutes(ctx, "zzzzzzzzzzzz")
		checkError(t, err, "ResourceNotFoundException")
		// Authorized on the profile like the rest: alice's key has no policy.
		_, err = f.client(aliceKey.AccessKeyID, aliceKey.SecretAccessKey).GetModelRoutes(ctx, nova.ID)
		checkError(t, err, "AccessDeniedException")
	})

	for _, r := range adminapi.Routes() {
		if !called[r.Op] {
			t.Errorf("route %s (%s) is not exercised", r.Op, r.Pattern)
		}
	}
}

// TestClientErrors checks that the admin API's error answers come back
// from the client as *adminapi.Error with the exception and status of the
// error's kind.
func TestClientErrors(t *testing.T) {
	f := newFixture(t)
	c, ctx := f.root, t.Context()
	f.putPolicy(t, mgmt, "list", listPolicy)
	bob, _ := f.user(t, mgmt, "bob", nil)
	for _, tc := range []struct {
		name string
		call func(c *adminapi.Client) error
		want string
	}{
		{"account id not 12 digits", func(c *adminapi.Client) error { _, err := c.CreateAccount(ctx, "123", "short"); return err }, "ValidationException"},
		{"account without a name", func(c *adminapi.Client) error { _, err := c.CreateAccount(ctx, dev, ""); return err }, "ValidationException"},
		{"principal of kind root", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, adminapi.PrincipalInput{Name: "r", Kind: "root"})
			return err
		}, "ValidationException"},
		{"principal with a bad name", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, adminapi.PrincipalInput{Name: "a/b"})
			return err
		}, "ValidationException"},
		{"principal in no account", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, adminapi.PrincipalInput{Account: "999999999999", Name: "x"})
			return err
		}, "ResourceNotFoundException"},
		{"unknown principal", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, "user-"+mgmt+"-nobody"); return err }, "ResourceNotFoundException"},
		{"keys of an unknown principal", func(c *adminapi.Client) error { _, err := c.ListAccessKeys(ctx, "nobody"); return err }, "ResourceNotFoundException"},
		{"unknown access key", func(c *adminapi.Client) error {
			_, err := c.UpdateAccessKey(ctx, "AKIANOSUCHKEY0000000", "Inactive")
			return err
		}, "ResourceNotFoundException"},
		{"bad key status", func(c *adminapi.Client) error {
			k, err := c.CreateAccessKey(ctx, bob)
			if err != nil {
				return err
			}
			_, err = c.UpdateAccessKey(ctx, k.AccessKeyID, "Paused")
			return err
		}, "ValidationException"},
		{"unknown API key", func(c *adminapi.Client) error { _, err := c.RevokeAPIKey(ctx, "TGKNOSUCHKEY"); return err }, "ResourceNotFoundException"},
		{"malformed policy", func(c *adminapi.Client) error {
			_, err := c.PutPolicy(ctx, mgmt, "bad", []byte(`{"Statement": "nope"}`))
			return err
		}, "ValidationException"},
		{"policy in no account", func(c *adminapi.Client) error {
			_, err := c.PutPolicy(ctx, "999999999999", "p", []byte(listPolicy))
			return err
		}, "ResourceNotFoundException"},
		{"attach an unknown policy", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, bob, "nope"); return err }, "ResourceNotFoundException"},
		{"detach a policy not attached", func(c *adminapi.Client) error { _, err := c.DetachPolicy(ctx, bob, "list"); return err }, "ResourceNotFoundException"},
		{"body not JSON", func(c *adminapi.Client) error {
			_, err := c.PutPolicy(ctx, mgmt, "p", []byte(`not json`))
			return err
		}, "ValidationException"},
		{"unknown access key id", func(*adminapi.Client) error {
			_, err := f.client("AKIANOSUCHKEY0000000", "secret").ListAccounts(ctx)
			return err
		}, "UnrecognizedClientException"},
		{"wrong secret", func(*adminapi.Client) error {
			id, _, _, err := f.dir.EnsureRoot(ctx, mgmt, "", "")
			if err != nil {
				return err
			}
			_, err = f.client(id, "not-the-secret").ListAccounts(ctx)
			return err
		}, "InvalidSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkError(t, tc.call(c), tc.want)
		})
	}

	// An answer without __type keeps the status.
	e := &adminapi.Error{Status: "502 Bad Gateway", Message: "upstream"}
	if got := e.Error(); got != "502 Bad Gateway: upstream" {
		t.Errorf("Error() = %q", got)
	}
	var target *adminapi.Error
	if !errors.As(error(e), &target) {
		t.Error("errors.As does not find *adminapi.Error")
	}
}
