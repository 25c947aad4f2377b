package adminapi_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// scopedPolicy allows a few operations on named resources of the
// management account only, in the ARN forms of the package comment.
const scopedPolicy = `{"Version": "2012-10-17", "Statement": [
  {"Effect": "Allow", "Action": ["tollgate:GetPrincipal", "tollgate:ListAccessKeys"],
   "Resource": ["arn:aws:iam::123456789012:user/bob", "arn:aws:iam::123456789012:root"]},
  {"Effect": "Allow", "Action": "tollgate:ListPolicies", "Resource": "arn:aws:iam::123456789012:policy/*"},
  {"Effect": "Allow", "Action": "tollgate:PutPolicy", "Resource": "arn:aws:iam::123456789012:policy/read"},
  {"Effect": "Allow", "Action": "tollgate:AttachPolicy", "Resource": "arn:aws:iam::123456789012:user/bob",
   "Condition": {"StringEquals": {"iam:PolicyARN": "arn:aws:iam::123456789012:policy/read"}}},
  {"Effect": "Allow", "Action": "tollgate:CreatePrincipal", "Resource": "arn:aws:iam::123456789012:user/*",
   "Condition": {"StringEquals": {"aws:RequestTag/team": "claims"}}}
]}`

// other is a third account, administered by nobody but the management
// root.
const other = "333333333333"

const (
	adminPolicy = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "tollgate:*", "Resource": "*"}]}`
	readPolicy  = `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "tollgate:Get*", "Resource": "*"}]}`
)

// TestAuthorization checks, operation by operation, the rules of the
// package comment: each operation is authorized on its target's ARN with
// its condition keys; an account's root is managed only by itself; no
// principal changes its own power; another account is administered only
// by the management account's root.
func TestAuthorization(t *testing.T) {
	f := newFixture(t)
	ctx := t.Context()
	for _, a := range []string{dev, other} {
		if _, err := f.dir.CreateAccount(ctx, a, "member"); err != nil {
			t.Fatal(err)
		}
	}
	for account, pols := range map[string]map[string]string{
		mgmt: {"admin": adminPolicy, "scoped": scopedPolicy, "read": readPolicy},
		dev:  {"admin": adminPolicy, "read": readPolicy},
	} {
		for name, doc := range pols {
			f.putPolicy(t, account, name, doc)
		}
	}
	rootM, rootD := principal.RootID(mgmt), principal.RootID(dev)
	ada, adaC := f.user(t, mgmt, "ada", nil, "admin")   // administers the management account
	_, limC := f.user(t, mgmt, "lim", nil, "scoped")    // may do what scopedPolicy allows
	bob, _ := f.user(t, mgmt, "bob", nil)               // a user acted on
	carl, _ := f.user(t, mgmt, "carl", nil, "read")     // another, with a policy to detach
	dave, daveC := f.user(t, dev, "dave", nil, "admin") // administers dev
	erin, _ := f.user(t, dev, "erin", nil)              // a user of dev
	callers := map[string]*adminapi.Client{
		"root": f.root, "ada": adaC, "lim": limC, "devroot": f.rootOf(t, dev), "dave": daveC,
	}
	bobKey, _, err := f.dir.CreateAccessKey(ctx, bob)
	if err != nil {
		t.Fatal(err)
	}
	rootKey := f.dir.AccessKeys(rootM)[0].ID
	if _, err := f.dir.CreateAPIKey(ctx, bob); err != nil {
		t.Fatal(err)
	}
	bobAPIKey := f.dir.APIKeys(bob)[0].ID
	if _, err := f.dir.CreateAPIKey(ctx, rootM); err != nil {
		t.Fatal(err)
	}
	rootAPIKey := f.dir.APIKeys(rootM)[0].ID
	newUser := func(account, name string, t map[string]string) adminapi.PrincipalInput {
		return adminapi.PrincipalInput{Account: account, Name: name, Tags: t}
	}
	doc := []byte(readPolicy)

	// Each case is one call; allowed calls are idempotent or act on what
	// no other case reads, so the order of the cases does not matter.
	const denied = "AccessDeniedException"
	for _, tc := range []struct {
		rule, caller, name string
		call               func(c *adminapi.Client) error
		want               string // "" allowed
	}{
		// The target's ARN and condition keys decide, through the policy.
		{"target", "lim", "GetPrincipal of the user named", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, bob); return err }, ""},
		{"target", "lim", "GetPrincipal of another user", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, carl); return err }, denied},
		{"target", "lim", "GetPrincipal of the root, by the root ARN", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, rootM); return err }, ""},
		{"target", "lim", "ListAccessKeys of the user named", func(c *adminapi.Client) error { _, err := c.ListAccessKeys(ctx, bob); return err }, ""},
		{"target", "lim", "ListPolicies on policy/*", func(c *adminapi.Client) error { _, err := c.ListPolicies(ctx, ""); return err }, ""},
		{"target", "lim", "ListPrincipals needs the account's *", func(c *adminapi.Client) error { _, err := c.ListPrincipals(ctx, ""); return err }, denied},
		{"target", "lim", "ListAccounts needs *", func(c *adminapi.Client) error { _, err := c.ListAccounts(ctx); return err }, denied},
		// Whether a principal or key exists is told only to callers allowed
		// to act on it: others are denied as if it existed.
		{"existence", "lim", "GetPrincipal of an unknown user it may not read", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, "user-"+mgmt+"-nobody"); return err }, denied},
		{"existence", "ada", "GetPrincipal of an unknown user it may read", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, "user-"+mgmt+"-nobody"); return err }, "ResourceNotFoundException"},
		{"existence", "dave", "GetPrincipal of an unknown user of another account", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, "user-"+mgmt+"-nobody"); return err }, denied},
		{"existence", "lim", "UpdateAccessKey of an unknown key", func(c *adminapi.Client) error {
			_, err := c.UpdateAccessKey(ctx, "AKIANOSUCHKEY0000000", "Inactive")
			return err
		}, denied},
		{"existence", "ada", "UpdateAccessKey of an unknown key, allowed on every user", func(c *adminapi.Client) error {
			_, err := c.UpdateAccessKey(ctx, "AKIANOSUCHKEY0000000", "Inactive")
			return err
		}, "ResourceNotFoundException"},
		{"existence", "lim", "RevokeAPIKey of an unknown key", func(c *adminapi.Client) error { _, err := c.RevokeAPIKey(ctx, "TGKNOSUCHKEY"); return err }, denied},
		{"target", "lim", "PutPolicy of the policy named", func(c *adminapi.Client) error { _, err := c.PutPolicy(ctx, mgmt, "read", doc); return err }, ""},
		{"target", "lim", "PutPolicy of another policy", func(c *adminapi.Client) error { _, err := c.PutPolicy(ctx, mgmt, "admin", doc); return err }, denied},
		{"target", "lim", "AttachPolicy with the iam:PolicyARN allowed", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, bob, "read"); return err }, ""},
		{"target", "lim", "AttachPolicy with another iam:PolicyARN", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, bob, "admin"); return err }, denied},
		{"target", "lim", "CreatePrincipal with the request tag allowed", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, newUser("", "newbie", map[string]string{"team": "claims"}))
			return err
		}, ""},
		{"target", "lim", "CreatePrincipal with another request tag", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, newUser("", "other", map[string]string{"team": "sales"}))
			return err
		}, denied},
		{"target", "lim", "CreateAccount needs the organizations ARN", func(c *adminapi.Client) error { _, err := c.CreateAccount(ctx, other, "x"); return err }, denied},

		// An account's root is managed only by itself.
		{"root", "ada", "GetPrincipal of the root", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, rootM); return err }, ""},
		{"root", "ada", "CreateAccessKey for the root", func(c *adminapi.Client) error { _, err := c.CreateAccessKey(ctx, rootM); return err }, denied},
		{"root", "lim", "ListAccessKeys of the root, allowed by policy", func(c *adminapi.Client) error { _, err := c.ListAccessKeys(ctx, rootM); return err }, denied},
		{"root", "ada", "UpdateAccessKey of the root's key", func(c *adminapi.Client) error { _, err := c.UpdateAccessKey(ctx, rootKey, "Active"); return err }, denied},
		{"root", "ada", "CreateAPIKey for the root", func(c *adminapi.Client) error { _, err := c.CreateAPIKey(ctx, rootM); return err }, denied},
		{"root", "ada", "RevokeAPIKey of the root's key", func(c *adminapi.Client) error { _, err := c.RevokeAPIKey(ctx, rootAPIKey); return err }, denied},
		{"root", "ada", "AttachPolicy to the root", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, rootM, "read"); return err }, denied},
		{"root", "root", "ListAccessKeys of itself", func(c *adminapi.Client) error { _, err := c.ListAccessKeys(ctx, rootM); return err }, ""},
		{"root", "root", "AttachPolicy to itself", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, rootM, "read"); return err }, ""},
		{"root", "root", "GetPrincipal of another account's root", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, rootD); return err }, ""},
		{"root", "root", "CreateAccessKey for another account's root", func(c *adminapi.Client) error { _, err := c.CreateAccessKey(ctx, rootD); return err }, denied},
		{"root", "devroot", "ListAccessKeys of itself", func(c *adminapi.Client) error { _, err := c.ListAccessKeys(ctx, rootD); return err }, ""},

		// No principal changes its own power; roots are not bound by it.
		{"self", "ada", "AttachPolicy to itself", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, ada, "read"); return err }, denied},
		{"self", "ada", "DetachPolicy from itself", func(c *adminapi.Client) error { _, err := c.DetachPolicy(ctx, ada, "admin"); return err }, denied},
		{"self", "ada", "CreatePrincipal of itself (retag)", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, newUser("", "ada", map[string]string{"level": "max"}))
			return err
		}, denied},
		{"self", "ada", "PutPolicy attached to itself", func(c *adminapi.Client) error {
			_, err := c.PutPolicy(ctx, mgmt, "admin", []byte(adminPolicy))
			return err
		}, denied},
		{"self", "ada", "CreateAccessKey for itself", func(c *adminapi.Client) error { _, err := c.CreateAccessKey(ctx, ada); return err }, ""},
		{"self", "ada", "PutPolicy not attached to itself", func(c *adminapi.Client) error { _, err := c.PutPolicy(ctx, mgmt, "read", doc); return err }, ""},
		{"self", "ada", "AttachPolicy to another", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, bob, "admin"); return err }, ""},
		{"self", "ada", "DetachPolicy from another", func(c *adminapi.Client) error { _, err := c.DetachPolicy(ctx, carl, "read"); return err }, ""},
		{"self", "ada", "UpdateAccessKey of another's key", func(c *adminapi.Client) error { _, err := c.UpdateAccessKey(ctx, bobKey, "Active"); return err }, ""},
		{"self", "ada", "CreateAPIKey for another", func(c *adminapi.Client) error { _, err := c.CreateAPIKey(ctx, bob); return err }, ""},
		{"self", "ada", "RevokeAPIKey of another's key", func(c *adminapi.Client) error { _, err := c.RevokeAPIKey(ctx, bobAPIKey); return err }, ""},

		// Another account is administered by the management root only.
		{"account", "ada", "ListPrincipals of dev", func(c *adminapi.Client) error { _, err := c.ListPrincipals(ctx, dev); return err }, denied},
		{"account", "ada", "ListPolicies of dev", func(c *adminapi.Client) error { _, err := c.ListPolicies(ctx, dev); return err }, denied},
		{"account", "ada", "GetPrincipal in dev", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, erin); return err }, denied},
		{"account", "ada", "CreatePrincipal in dev", func(c *adminapi.Client) error { _, err := c.CreatePrincipal(ctx, newUser(dev, "x", nil)); return err }, denied},
		{"account", "ada", "PutPolicy in dev", func(c *adminapi.Client) error { _, err := c.PutPolicy(ctx, dev, "read", doc); return err }, denied},
		{"account", "ada", "CreateAccount", func(c *adminapi.Client) error { _, err := c.CreateAccount(ctx, other, "x"); return err }, denied},
		{"account", "dave", "GetPrincipal in the management account", func(c *adminapi.Client) error { _, err := c.GetPrincipal(ctx, bob); return err }, denied},
		{"account", "dave", "AttachPolicy in dev", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, erin, "read"); return err }, ""},
		{"account", "devroot", "ListPrincipals of the management account", func(c *adminapi.Client) error { _, err := c.ListPrincipals(ctx, mgmt); return err }, denied},
		{"account", "devroot", "CreateAccessKey in the management account", func(c *adminapi.Client) error { _, err := c.CreateAccessKey(ctx, bob); return err }, denied},
		{"account", "devroot", "CreateAccount", func(c *adminapi.Client) error { _, err := c.CreateAccount(ctx, other, "x"); return err }, denied},
		{"account", "root", "ListPrincipals of dev", func(c *adminapi.Client) error { _, err := c.ListPrincipals(ctx, dev); return err }, ""},
		{"account", "root", "CreatePrincipal in dev", func(c *adminapi.Client) error {
			_, err := c.CreatePrincipal(ctx, newUser(dev, "frank", nil))
			return err
		}, ""},
		{"account", "root", "PutPolicy in dev", func(c *adminapi.Client) error { _, err := c.PutPolicy(ctx, dev, "read", doc); return err }, ""},
		{"account", "root", "AttachPolicy in dev", func(c *adminapi.Client) error { _, err := c.AttachPolicy(ctx, dave, "read"); return err }, ""},
		{"account", "root", "CreateAccount", func(c *adminapi.Client) error { _, err := c.CreateAccount(ctx, other, "x"); return err }, ""},
	} {
		t.Run(tc.rule+"/"+tc.caller+"/"+tc.name, func(t *testing.T) {
			err := tc.call(callers[tc.caller])
			checkError(t, err, tc.want)
			if msg := fmt.Sprint(err); tc.want == denied && !strings.Contains(msg, "tollgate:"+strings.Fields(tc.name)[0]) && !strings.Contains(msg, "management account") {
				t.Errorf("denial %q names neither the action nor the management account", msg)
			}
		})
	}

	// ListAccounts lists the accounts the caller may see: every one for
	// the management root, its own for anyone else.
	for caller, want := range map[string][]string{"root": {mgmt, dev, other}, "ada": {mgmt}, "dave": {dev}, "devroot": {dev}} {
		t.Run("visible/"+caller+"/ListAccounts", func(t *testing.T) {
			list, err := callers[caller].ListAccounts(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, a := range list {
				got = append(got, a.AccountID)
			}
			slices.Sort(got)
			slices.Sort(want)
			if !slices.Equal(got, want) {
				t.Errorf("accounts %v, want %v", got, want)
			}
		})
	}
}
