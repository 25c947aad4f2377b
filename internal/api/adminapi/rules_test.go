package adminapi_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

type rulesDir map[string][]string // principal id -> attached policy names

func (rulesDir) Management() string                       { return mgmt }
func (d rulesDir) AttachedPolicyNames(id string) []string { return d[id] }
func user(account, name string) principal.Principal {
	return principal.Principal{ID: principal.PrincipalID(account, principal.User, name), Account: account, Name: name, Kind: principal.User}
}
func root(account string) principal.Principal {
	return principal.Principal{ID: principal.RootID(account), Account: account, Kind: principal.Root}
}

// TestRules checks the shared decision alone (the API's and the
// console's): each rule refuses before the policies are asked, and a
// target the rules let through goes to the policy check with the
// operation's action, ARN and condition keys.
func TestRules(t *testing.T) {
	ada, bob, dave := user(mgmt, "ada"), user(mgmt, "bob"), user(dev, "dave")
	rootM, rootD := root(mgmt), root(dev)
	ru := adminapi.Rules{Dir: rulesDir{ada.ID: {"admin"}}}
	newAda, _ := adminapi.NewPrincipalTarget(mgmt, principal.User, "ada", tags.Set{"team": "x"})
	for _, c := range []struct {
		name   string
		caller principal.Principal
		op     string
		t      adminapi.Target
		why    string // "" : the policies decide
	}{
		{"root's key by an admin", ada, "UpdateAccessKey", adminapi.PrincipalTarget(rootM), "an account's root is managed only by itself"},
		{"root read by an admin", ada, "GetPrincipal", adminapi.PrincipalTarget(rootM), ""},
		{"root's key by itself", rootM, "UpdateAccessKey", adminapi.PrincipalTarget(rootM), ""},
		{"another root by the management root", rootM, "CreateAccessKey", adminapi.PrincipalTarget(rootD), "an account's root is managed only by itself"},
		{"own attachment", ada, "AttachPolicy", adminapi.AttachmentTarget(ada, "more"), "a principal may not change its own tags or policies"},
		{"own retag", ada, "CreatePrincipal", newAda, "a principal may not change its own tags or policies"},
		{"own key", ada, "CreateAccessKey", adminapi.PrincipalTarget(ada), ""},
		{"own policy", ada, "PutPolicy", adminapi.PolicyTarget(mgmt, "admin"), "a principal may not change a policy attached to itself"},
		{"another policy", ada, "PutPolicy", adminapi.PolicyTarget(mgmt, "other"), ""},
		{"another's attachment", ada, "AttachPolicy", adminapi.AttachmentTarget(bob, "admin"), ""},
		{"another account", dave, "DetachPolicy", adminapi.AttachmentTarget(bob, "admin"), "only the management account's root administers account " + mgmt},
		{"another account's list", dave, "ListPrincipals", adminapi.PrincipalsTarget(mgmt), "only the management account's root administers account " + mgmt},
		{"another account by the management root", rootM, "AttachPolicy", adminapi.AttachmentTarget(dave, "admin"), ""},
		{"absent principal of another account", dave, "GetPrincipal", adminapi.AbsentTarget(dev, "user-"+mgmt+"-nosuch", errors.New("nf")), "only the management account's root administers account " + mgmt},
		{"absent key", dave, "UpdateAccessKey", adminapi.AbsentTarget(dev, "", errors.New("nf")), ""},
		{"a member root elsewhere", rootD, "ListPolicies", adminapi.PoliciesTarget(mgmt), "only the management account's root administers account " + mgmt},
	} {
		t.Run(c.name, func(t *testing.T) {
			var asked []string
			allow := func(action, resource string, keys map[string][]string) error {
				asked = append(asked, action, resource)
				return nil
			}
			err := ru.Authorize(&c.caller, c.op, c.t, allow)
			if got := ru.Refusal(&c.caller, c.op, c.t); got != c.why {
				t.Errorf("Refusal = %q, want %q", got, c.why)
			}
			if c.why != "" {
				if errkind.As(err).Kind != errkind.Denied || !strings.Contains(err.Error(), c.why) || !strings.Contains(err.Error(), "tollgate:"+c.op) || len(asked) != 0 {
					t.Errorf("Authorize = %v (policies asked %v), want Denied naming the rule before the policies", err, asked)
				}
				return
			}
			if err != nil || len(asked) != 2 || asked[0] != "tollgate:"+c.op || asked[1] != c.t.ARN {
				t.Errorf("Authorize = %v, policies asked %v; want them asked tollgate:%s on %s", err, asked, c.op, c.t.ARN)
			}
		})
	}
	// The absent rule's ARNs.
	if got := adminapi.AbsentTarget(dev, "user-"+mgmt+"-nosuch", nil); got.ARN != "arn:aws:iam::"+mgmt+":user/nosuch" || got.Account != mgmt {
		t.Errorf("absent user target = %+v", got)
	}
	if got := adminapi.AbsentTarget(dev, "", nil); got.ARN != "arn:aws:iam::"+dev+":user/*" || got.Account != dev {
		t.Errorf("absent key target = %+v", got)
	}
	if got := newAda.Keys["aws:RequestTag/team"]; len(got) != 1 || got[0] != "x" {
		t.Errorf("CreatePrincipal's condition keys = %v", newAda.Keys)
	}
}
