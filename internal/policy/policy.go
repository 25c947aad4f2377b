// Package policy owns Tollgate's IAM policy language: parsing identity
// policy documents in AWS's JSON grammar, compiling them, and evaluating
// them against a request the way AWS documents it.
//
// # Grammar
//
// A document has Version, Id and Statement. Statement is one object or an
// array of them; each has Sid, Effect, Action or NotAction, Resource or
// NotResource, and an optional Condition. Principal and NotPrincipal are
// rejected: these are identity policies, attached to principals; resource
// policies are out of scope. Action, Resource and condition values may be a
// string or an array. [Parse] checks the document as IAM would and compiles
// it: wildcards are pre-split, ARNs cut into their six parts, operators
// resolved and literal numbers, dates, addresses and binaries decoded, so
// that evaluation does no parsing of the policy and, in the common case,
// allocates nothing.
//
// # Evaluation
//
// [Evaluate] applies AWS's logic for identity policies: an explicit Deny in
// any statement that matches wins; otherwise an Allow that matches allows;
// otherwise the request is implicitly denied. A statement matches when its
// action, its resource and every one of its conditions match.
//
//   - Actions match case-insensitively, with * (any run) and ? (one
//     character) wildcards. NotAction matches every action none of its
//     patterns match.
//   - Resource "*" matches everything. Any other resource is an ARN pattern
//     matched case-sensitively part by part: a wildcard in the partition,
//     service, region or account matches within that part only, while the
//     resource part (everything after the fifth colon) may hold "/" and ":"
//     and a * there matches across them. NotResource is the complement.
//   - A condition block is the AND of its operators and of their keys; the
//     values listed for one key are ORed. Negated operators (StringNotEquals,
//     StringNotLike, StringNotEqualsIgnoreCase, NumericNotEquals,
//     DateNotEquals, NotIpAddress, ArnNotEquals, ArnNotLike) are true when
//     the request value matches none of the listed values.
//   - A key missing from the request makes a condition false, except that
//     a negated operator is then true, a ...IfExists operator is true, a
//     ForAllValues: operator is true and Null tests the absence itself.
//   - Condition keys are case-insensitive, the tag key in
//     aws:ResourceTag/<key> included ([MapContext] implements this); values
//     are case-sensitive unless the operator is an IgnoreCase one.
//
// # Readings of the AWS documentation
//
// Where AWS leaves a case open, this package decides as follows.
//
//   - A multi-valued key (aws:TagKeys) under an operator without a set
//     qualifier behaves like ForAnyValue for a positive operator (some value
//     matches) and, for a negated one, is true only when no value matches:
//     the negated operator stays the exact negation of the positive one.
//   - A key present with no values (an empty aws:TagKeys) counts as missing,
//     for Null as for every other operator.
//   - A request value that cannot be read as the operator's type (a
//     malformed number, date, address or boolean, or a non-ARN under an Arn
//     operator) matches nothing, and satisfies no negated operator either: a
//     condition on garbage is false whichever way it is phrased.
//   - Policy variables are substituted in Resource and NotResource (only
//     after the fifth colon, as AWS requires) and in the values of String and
//     Arn operators; elsewhere "${" is literal text. A variable whose key is
//     missing, or multi-valued, takes its default if it has one; otherwise it
//     is null: the Resource or NotResource entry holding it matches no
//     resource, and in a condition the value holding it matches nothing, so
//     a positive operator does not match on it and a negated one does, as
//     AWS documents. Substituted values are literal: a * inside a tag value
//     is not a wildcard. Version 2008-10-17, and a document with no Version,
//     treat "${...}" literally, as AWS does.
//   - Date operators read ISO 8601 (the W3C profile: 2006, 2006-01,
//     2006-01-02, with time to the minute, second or fraction, with a zone or
//     UTC when none is given, and the basic form 20060102T150405Z) and epoch
//     seconds, on either side. Numbers are decimal (integers compared
//     exactly, others as float64). Bool and Null accept "true" and "false"
//     in any case, as strings or JSON booleans.
//   - Wildcard matching is a greedy algorithm that never backtracks past the
//     last *: its work is at most proportional to the product of pattern and
//     value lengths, and linear for the patterns people write. Values longer
//     than 4096 bytes match no wildcard pattern other than "*", "text*" and
//     "*text", and actions longer than 256 bytes likewise match no action
//     pattern with a wildcard inside. Together with the document size limit
//     this bounds the work of any evaluation.
//
// Policies are immutable once parsed and safe for concurrent use.
package policy

import (
	"strconv"
	"strings"
	"time"
)

// Decision is the outcome of evaluating policies against a request.
type Decision int

// The decisions, in the order AWS documents them: no statement allowed the
// request, a statement allowed it and none denied it, or a statement denied
// it explicitly.
const (
	ImplicitDeny Decision = iota
	Allow
	ExplicitDeny
)

// String returns "implicitDeny", "allow" or "explicitDeny".
func (d Decision) String() string {
	switch d {
	case ImplicitDeny:
		return "implicitDeny"
	case Allow:
		return "allow"
	case ExplicitDeny:
		return "explicitDeny"
	}
	return "Decision(" + strconv.Itoa(int(d)) + ")"
}

// Match names the statement that decided an evaluation: the index of the
// policy in the slice given to [Evaluate], the index of the statement in
// that policy, and its Sid ("" when it has none). After an implicit deny no
// statement decided, and Policy and Statement are -1.
type Match struct {
	Policy    int
	Statement int
	Sid       string
}

// String describes the statement for messages: its Sid when it has one,
// otherwise its position.
func (m Match) String() string {
	if m.Policy < 0 {
		return "no statement"
	}
	if m.Sid != "" {
		return "statement " + m.Sid
	}
	return "policy " + strconv.Itoa(m.Policy) + " statement " + strconv.Itoa(m.Statement)
}

// noMatch is the Match of an implicit deny.
var noMatch = Match{Policy: -1, Statement: -1}

// Request is what is being authorized: an action on a resource, with the
// condition keys of the request.
type Request struct {
	// Action is "service:Action", for example "bedrock:InvokeModel".
	Action string
	// Resource is the ARN of the resource acted on, or "*" for actions
	// that do not act on one resource.
	Resource string
	// Context answers condition keys. A nil Context has no keys.
	Context Context
}

// Context answers the condition keys of a request. Value returns the
// values of key and whether the key is present; a multi-valued key
// (aws:TagKeys) returns several values, and a key present with no values
// counts as missing. Keys are passed as the policy writes them, and
// implementations must compare them case-insensitively, as AWS does.
// Evaluation calls Value often, so implementations must be cheap; they
// must be safe for concurrent use if one Context serves concurrent
// evaluations.
type Context interface {
	Value(key string) (values []string, ok bool)
}

// MapContext is a Context backed by a map from condition key to values.
// Lookups try the key exactly first, then case-insensitively; if several
// keys differ only in case, the smallest one wins. Its methods that set
// keys are for building a context; reading it concurrently is safe.
type MapContext map[string][]string

// Value implements Context.
func (m MapContext) Value(key string) ([]string, bool) {
	if v, ok := m[key]; ok {
		return v, true
	}
	var (
		best  string
		vals  []string
		found bool
	)
	for k, v := range m {
		if strings.EqualFold(k, key) && (!found || k < best) {
			best, vals, found = k, v, true
		}
	}
	return vals, found
}

// Set sets key to values, replacing what it held.
func (m MapContext) Set(key string, values ...string) {
	m[key] = values
}

// SetTags sets prefix+key to the value of each tag, for prefix
// KeyResourceTag, KeyRequestTag or KeyPrincipalTag. With KeyRequestTag it
// also sets aws:TagKeys to the tag keys, as a request that carries tags
// does.
func (m MapContext) SetTags(prefix string, tags map[string]string) {
	var keys []string
	for k, v := range tags {
		m[prefix+k] = []string{v}
		keys = append(keys, k)
	}
	if prefix == KeyRequestTag {
		m[KeyTagKeys] = keys
	}
}

// SetTime sets aws:CurrentTime (ISO 8601, UTC, to the second) and
// aws:EpochTime (seconds) to t.
func (m MapContext) SetTime(t time.Time) {
	m[KeyCurrentTime] = []string{t.UTC().Format("2006-01-02T15:04:05Z")}
	m[KeyEpochTime] = []string{strconv.FormatInt(t.Unix(), 10)}
}

// Condition keys Tollgate supplies. The tag keys are prefixes: append the
// tag key, as in KeyResourceTag+"team".
const (
	KeyResourceTag         = "aws:ResourceTag/"
	KeyRequestTag          = "aws:RequestTag/"
	KeyPrincipalTag        = "aws:PrincipalTag/"
	KeyTagKeys             = "aws:TagKeys"
	KeyPrincipalAccount    = "aws:PrincipalAccount"
	KeyPrincipalArn        = "aws:PrincipalArn"
	KeySourceIP            = "aws:SourceIp"
	KeyCurrentTime         = "aws:CurrentTime"
	KeyEpochTime           = "aws:EpochTime"
	KeySecureTransport     = "aws:SecureTransport"
	KeyInferenceProfileArn = "bedrock:InferenceProfileArn"
	// KeyServiceTier is the Bedrock service tier a runtime call asks for
	// ("priority", "default", "flex" or "reserved"; "default" when it
	// names none and its profile sets no default). AWS defines no
	// condition key on the service tier, so it is Tollgate's own.
	KeyServiceTier = "tollgate:ServiceTier"
)

// emptyContext is the Context of a request with none.
type emptyContext struct{}

func (emptyContext) Value(string) ([]string, bool) { return nil, false }

// stats counts the work an evaluation does; tests read it to bound the
// matcher's steps without timing anything.
type stats struct {
	steps int
}

// Evaluate decides req against the identity policies attached to a
// principal, as AWS does: if any statement with Effect Deny matches, the
// decision is ExplicitDeny; otherwise, if any statement with Effect Allow
// matches, it is Allow; otherwise it is ImplicitDeny. The Match names the
// deciding statement: the first matching Deny, or else the first matching
// Allow, in policy and statement order. Nil policies are skipped.
func Evaluate(policies []*Policy, req Request) (Decision, Match) {
	var st stats
	return evaluate(policies, req, &st)
}

func evaluate(policies []*Policy, req Request, st *stats) (Decision, Match) {
	ctx := req.Context
	if ctx == nil {
		ctx = emptyContext{}
	}
	res := splitARN(req.Resource)
	allowed := false
	allow := noMatch
	for pi, p := range policies {
		if p == nil {
			continue
		}
		for si := range p.Statements {
			s := &p.Statements[si]
			if allowed && s.Effect == EffectAllow {
				// One Allow is enough; only a Deny can change the answer now.
				continue
			}
			if !s.matches(req.Action, &res, ctx, st) {
				continue
			}
			if s.Effect == EffectDeny {
				return ExplicitDeny, Match{Policy: pi, Statement: si, Sid: s.Sid}
			}
			allowed = true
			allow = Match{Policy: pi, Statement: si, Sid: s.Sid}
		}
	}
	if allowed {
		return Allow, allow
	}
	return ImplicitDeny, noMatch
}

// matches reports whether the statement applies to the request.
func (s *Statement) matches(action string, res *arnValue, ctx Context, st *stats) bool {
	hit := false
	for i := range s.actions {
		if s.actions[i].matchAction(action, st) {
			hit = true
			break
		}
	}
	if hit == s.notAction {
		return false
	}
	hit = false
	for i := range s.resources {
		if s.resources[i].match(res, ctx, st) {
			hit = true
			break
		}
	}
	if hit == s.notResource {
		return false
	}
	for i := range s.conditions {
		if !s.conditions[i].eval(ctx, st) {
			return false
		}
	}
	return true
}
