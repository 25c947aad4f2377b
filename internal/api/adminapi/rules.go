package adminapi

import (
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// This file is the admin API's authorization decision, exported so that
// every front end of the same operations (the API below and the web
// console's Access page) decides alike: the target's ARN and condition
// keys, the three rules of the package comment, the absent rule, then the
// caller's policies. It lives here, beside the operations it describes,
// rather than in a domain package, because the actions ("tollgate:<Op>")
// and the ARN forms are this API's contract (docs/access-control.md); a
// front end other than the API imports it to stay in step with it.

// Target is what an admin operation acts on, resolved before it runs.
type Target struct {
	ARN     string              // the resource authorized on
	Account string              // the account it belongs to; "" for none
	Keys    map[string][]string // condition keys, may be nil
	// Principal, when set, is the principal acted on: the root and
	// self rules apply to it.
	Principal *principal.Principal
	// Empowers marks an operation that changes the principal's power
	// (its tags or policies); a caller may not do that to itself.
	Empowers bool
	// PolicyName, when set, names a policy in Account being replaced; a
	// caller may not replace a policy attached to itself.
	PolicyName string
	// Missing, when set, is the NotFound answered once the caller is
	// authorized on the ARN the target would have: whether a principal
	// or key exists is told only to those allowed to act on it.
	Missing error
}

// RulesDirectory is what the rules read of the principal directory
// (principal.Directory).
type RulesDirectory interface {
	Management() string
	AttachedPolicyNames(principalID string) []string
}

// Rules decides whether a caller may perform an admin operation on a
// target: the three rules of the package comment, then the caller's
// policies.
type Rules struct {
	Dir RulesDirectory
}

// Refusal returns why the three rules refuse caller operation op on t, or
// "" when they do not (the policies still decide).
func (ru Rules) Refusal(caller *principal.Principal, op string, t Target) string {
	managementRoot := caller.Kind == principal.Root && caller.Account == ru.Dir.Management()
	if t.Account != "" && t.Account != caller.Account && !managementRoot {
		return "only the management account's root administers account " + t.Account
	}
	if p := t.Principal; p != nil && p.Kind == principal.Root && p.ID != caller.ID && op != "GetPrincipal" {
		return "an account's root is managed only by itself"
	}
	if caller.Kind != principal.Root {
		if p := t.Principal; p != nil && t.Empowers && p.ID == caller.ID {
			return "a principal may not change its own tags or policies"
		}
		if t.PolicyName != "" && t.Account == caller.Account && slices.Contains(ru.Dir.AttachedPolicyNames(caller.ID), t.PolicyName) {
			return "a principal may not change a policy attached to itself"
		}
	}
	return ""
}

// Authorize decides whether caller may perform op ("tollgate:"+op) on t:
// the rules' refusal as a Denied error naming the action, resource and
// rule, else check (the policy engine, as the caller) on t's ARN and keys.
// It does not answer t.Missing; the caller does, once Authorize allows.
func (ru Rules) Authorize(caller *principal.Principal, op string, t Target, check func(action, resource string, keys map[string][]string) error) error {
	action := Action(op)
	if why := ru.Refusal(caller, op, t); why != "" {
		return errkind.New(errkind.Denied, "User: %s is not authorized to perform: %s on resource: %s: %s", caller.ARN(), action, t.ARN, why)
	}
	return check(action, t.ARN, t.Keys)
}

// Visible reports whether caller may see account: its own, or any when it
// is the management account's root.
func (ru Rules) Visible(caller *principal.Principal, account string) bool {
	return account == caller.Account || caller.Kind == principal.Root && caller.Account == ru.Dir.Management()
}

// Action is the IAM action of admin operation op.
func Action(op string) string { return "tollgate:" + op }

// The constructors below build each operation's target.

// AnyTarget is the target of ListAccounts: "*".
func AnyTarget() Target { return Target{ARN: "*"} }

// AccountTarget is the target of CreateAccount of account id by the
// management account.
func AccountTarget(management, id string) Target {
	return Target{ARN: arn.OrganizationsAccount(management, id), Account: id}
}

// PrincipalsTarget is the target of ListPrincipals in account.
func PrincipalsTarget(account string) Target {
	return Target{ARN: arn.IAMAll(account), Account: account}
}

// PoliciesTarget is the target of ListPolicies in account.
func PoliciesTarget(account string) Target {
	return Target{ARN: arn.IAMPolicy(account, "*"), Account: account}
}

// PrincipalTarget is the target of an operation on an existing principal
// p or its keys (GetPrincipal, CreateAccessKey, ListAccessKeys,
// UpdateAccessKey, CreateAPIKey, RevokeAPIKey).
func PrincipalTarget(p principal.Principal) Target {
	return Target{ARN: p.ARN(), Account: p.Account, Principal: &p}
}

// NewPrincipalTarget is the target of CreatePrincipal: the principal it
// would create (or retag), with the request's tags as condition keys.
func NewPrincipalTarget(account string, kind principal.Kind, name string, t tags.Set) (Target, error) {
	if kind == principal.Root {
		return Target{}, errkind.New(errkind.Invalid, "A principal is a user or a role.")
	}
	p := principal.Principal{ID: principal.PrincipalID(account, kind, name), Account: account, Name: name, Kind: kind}
	tg := PrincipalTarget(p)
	tg.Empowers = true // recreating a principal replaces its tags
	tg.Keys = authz.AddRequestTags(map[string][]string{}, t.List())
	return tg, nil
}

// AttachmentTarget is the target of AttachPolicy or DetachPolicy of
// policy name on p, with iam:PolicyARN naming the policy.
func AttachmentTarget(p principal.Principal, name string) Target {
	tg := PrincipalTarget(p)
	tg.Empowers = true
	tg.Keys = map[string][]string{"iam:PolicyARN": {arn.IAMPolicy(tg.Account, name)}}
	return tg
}

// PolicyTarget is the target of PutPolicy of policy name in account.
func PolicyTarget(account, name string) Target {
	return Target{ARN: arn.IAMPolicy(account, name), Account: account, PolicyName: name}
}

// AbsentTarget is the target of an operation on a principal or key that
// does not exist: the ARN the principal id names ("user-ACCOUNT-NAME",
// "role-ACCOUNT-NAME", "root-ACCOUNT"), or for a key (id "") every user
// of callerAccount, so that notFound is answered only to a caller allowed
// the operation there and others learn nothing of what exists.
func AbsentTarget(callerAccount, id string, notFound error) Target {
	account := callerAccount
	resource := "arn:aws:iam::" + account + ":user/*"
	if kind, rest, ok := strings.Cut(id, "-"); ok {
		acct, name, _ := strings.Cut(rest, "-")
		p := principal.Principal{Kind: principal.Kind(kind), Account: acct, Name: name}
		if kind == string(principal.Root) {
			p.Account = rest
		}
		account, resource = p.Account, p.ARN()
	}
	return Target{ARN: resource, Account: account, Missing: notFound}
}
