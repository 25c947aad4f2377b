// Package authz decides whether a caller may perform an action on a
// resource: it builds the IAM condition context of a request (principal
// tags and account, source IP, time, transport, plus the resource and
// request keys the API supplies) and evaluates the policies attached to the
// principal. An account's root may do everything within its account, as on
// AWS; everyone else needs an identity policy that allows the action.
package authz

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/policy"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// Directory is what the authorizer needs from the principal domain.
type Directory interface {
	AttachedPolicies(principalID string) []any
}

// Authorizer evaluates identity policies. Safe for concurrent use.
type Authorizer struct {
	dir Directory
	now func() time.Time
}

// New returns an Authorizer; now nil means time.Now.
func New(dir Directory, now func() time.Time) *Authorizer {
	if now == nil {
		now = time.Now
	}
	return &Authorizer{dir: dir, now: now}
}

// Env is what the transport knows about a request.
type Env struct {
	SourceIP string // client IP address
	Secure   bool   // TLS
}

// Check returns nil when id may perform action on resource, and a Denied
// error in AWS's words otherwise. keys holds the request's resource and
// request condition keys (aws:ResourceTag/..., aws:RequestTag/...,
// aws:TagKeys, bedrock:InferenceProfileArn); it may be nil and is not
// modified.
func (a *Authorizer) Check(id principal.Identity, env Env, action, resource string, keys map[string][]string) error {
	p := id.Principal
	if p == nil {
		return errkind.New(errkind.Denied, "The request is not authenticated.")
	}
	if p.Kind == principal.Root {
		return nil
	}
	ctx := make(policy.MapContext, len(keys)+len(p.Tags)+6)
	for k, v := range keys {
		ctx[k] = v
	}
	ctx.SetTags(policy.KeyPrincipalTag, p.Tags)
	ctx[policy.KeyPrincipalAccount] = []string{p.Account}
	ctx[policy.KeyPrincipalArn] = []string{p.ARN()}
	if env.SourceIP != "" {
		ctx[policy.KeySourceIP] = []string{env.SourceIP}
	}
	if env.Secure {
		ctx[policy.KeySecureTransport] = []string{"true"}
	} else {
		ctx[policy.KeySecureTransport] = []string{"false"}
	}
	ctx.SetTime(a.now())

	attached := a.dir.AttachedPolicies(p.ID)
	pols := make([]*policy.Policy, 0, len(attached))
	for _, c := range attached {
		if pp, ok := c.(*policy.Policy); ok {
			pols = append(pols, pp)
		}
	}
	switch d, _ := policy.Evaluate(pols, policy.Request{Action: action, Resource: resource, Context: ctx}); d {
	case policy.Allow:
		return nil
	case policy.ExplicitDeny:
		return errkind.New(errkind.Denied, "User: %s is not authorized to perform: %s on resource: %s with an explicit deny in an identity-based policy", p.ARN(), action, resource)
	default:
		return errkind.New(errkind.Denied, "User: %s is not authorized to perform: %s on resource: %s because no identity-based policy allows the %s action", p.ARN(), action, resource, action)
	}
}

// Unrestricted reports whether Check allows id every action on every
// resource, whatever the keys: id is an account's root. A caller may then
// skip Check and the keys it would build for it.
func (a *Authorizer) Unrestricted(id principal.Identity) bool {
	return id.Principal != nil && id.Principal.Kind == principal.Root
}

// Compile parses a policy document for the principal directory.
func Compile(doc []byte) (any, error) { return policy.Parse(doc) }

// CompileKnowing returns the principal directory's policy parser that
// also rejects an action of one of services (lowercase service prefix ->
// every action name) that does not exist, e.g. "tollgate:Frobnicate".
func CompileKnowing(services map[string][]string) func(doc []byte) (any, error) {
	l := policy.Limits{Services: services}
	return func(doc []byte) (any, error) { return l.Parse(doc) }
}
