package policy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Versions of the policy language. Version2012 substitutes policy
// variables; Version2008, and a document without a Version, does not.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Limit defaults, as IAM sets them.
const (
	// DefaultMaxChars is IAM's size limit for a managed policy, in
	// characters not counting white space.
	DefaultMaxChars = 6144
	// DefaultMaxStatements bounds the statements of one document. The size
	// limit already keeps a managed policy well under it.
	DefaultMaxStatements = 128
)

// maxDepth is the deepest nesting of JSON arrays and objects a document
// may have; the grammar needs five levels.
const maxDepth = 8

// Policy is a parsed and compiled identity policy document. It is
// immutable and safe for concurrent use.
type Policy struct {
	// Version is the document's Version, or "" when it has none (which
	// IAM reads as 2008-10-17).
	Version string
	// ID is the document's optional Id.
	ID string
	// Statements are the statements in document order.
	Statements []Statement
}

// Effect is a statement's effect.
type Effect uint8

// The effects.
const (
	EffectAllow Effect = iota + 1
	EffectDeny
)

// String returns "Allow" or "Deny".
func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "Allow"
	case EffectDeny:
		return "Deny"
	}
	return "Effect(" + strconv.Itoa(int(e)) + ")"
}

// Statement is one compiled statement. The exported fields echo the
// document; exactly one of Action and NotAction, and one of Resource and
// NotResource, is set.
type Statement struct {
	Sid         string
	Effect      Effect
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	// Conditions lists the Condition block's (operator, key) pairs in
	// document order; all must hold.
	Conditions []Condition

	actions     []pattern
	notAction   bool
	resources   []arnPattern
	notResource bool
	conditions  []condition
}

// Condition is one operator applied to one condition key, with the values
// the policy lists (numbers and booleans as their JSON text).
type Condition struct {
	Operator string
	Key      string
	Values   []string
}

// ParseError is the error Parse returns for a document IAM would reject.
type ParseError struct {
	// Path locates the problem, like "Statement[1].Condition.StringLike";
	// it is empty when the problem is the document as a whole.
	Path string
	// Message says what is wrong.
	Message string
}

// Error returns "policy: " followed by the path and the message.
func (e *ParseError) Error() string {
	if e.Path == "" {
		return "policy: " + e.Message
	}
	return "policy: " + e.Path + ": " + e.Message
}

func errorf(path, format string, args ...any) *ParseError {
	return &ParseError{Path: path, Message: fmt.Sprintf(format, args...)}
}

// at sets the path of a ParseError made without one.
func at(err error, path string) error {
	var pe *ParseError
	if errors.As(err, &pe) && pe.Path == "" {
		pe.Path = path
	}
	return err
}

// quote quotes s for messages, shortening it.
func quote(s string) string {
	if len(s) > 120 {
		s = s[:120] + "..."
	}
	return strconv.Quote(s)
}

// Limits bounds the documents Parse accepts. A zero field takes its
// default.
type Limits struct {
	// MaxChars is the largest document, in characters not counting white
	// space outside strings, as IAM counts. Default DefaultMaxChars (6144,
	// a managed policy); IAM allows 2048 for an inline user policy, 5120
	// for a group and 10240 for a role.
	MaxChars int
	// MaxStatements is the most statements a document may have. Default
	// DefaultMaxStatements.
	MaxStatements int
	// Services are the services whose every action is known, each a
	// lowercase service prefix with its action names: an action of one of
	// them without wildcards that names none of its actions is invalid, as
	// IAM rejects an action that does not exist. Actions of other services
	// are accepted as written (a policy may name AWS actions Tollgate does
	// not serve). Default none.
	Services map[string][]string
}

// Parse parses one identity policy document with the default limits. It
// returns a *ParseError for a document IAM would reject.
func Parse(doc []byte) (*Policy, error) {
	return Limits{}.Parse(doc)
}

// Parse parses one identity policy document within l. It returns a
// *ParseError for a document IAM would reject: one that is not JSON, too
// large, has unknown or duplicate keys, a bad Version or Effect, a
// Principal, both or neither of Action and NotAction (or Resource and
// NotResource), an action without a service prefix, a resource that is
// not an ARN or "*", an unknown condition operator or key, a value its
// operator cannot read, a malformed policy variable, or a repeated Sid.
func (l Limits) Parse(doc []byte) (*Policy, error) {
	maxChars := l.MaxChars
	if maxChars <= 0 {
		maxChars = DefaultMaxChars
	}
	maxStatements := l.MaxStatements
	if maxStatements <= 0 {
		maxStatements = DefaultMaxStatements
	}
	if n := policySize(doc, maxChars); n > maxChars {
		return nil, errorf("", "the document is larger than %d characters (white space aside)", maxChars)
	}
	if !utf8.Valid(doc) {
		return nil, errorf("", "the document is not valid UTF-8")
	}
	root, err := decodeJSON(doc)
	if err != nil {
		return nil, err
	}
	if root.kind != jObject {
		return nil, errorf("", "the document must be a JSON object")
	}
	p := &Policy{}
	var stmts *jvalue
	for i := range root.obj {
		m := &root.obj[i]
		switch m.key {
		case "Version":
			if m.val.kind != jString || (m.val.s != Version2012 && m.val.s != Version2008) {
				return nil, errorf("Version", "the Version must be %q or %q", Version2012, Version2008)
			}
			p.Version = m.val.s
		case "Id":
			if m.val.kind != jString {
				return nil, errorf("Id", "the Id must be a string")
			}
			p.ID = m.val.s
		case "Statement":
			stmts = &m.val
		default:
			return nil, errorf("", "unknown element %s", quote(m.key))
		}
	}
	if stmts == nil {
		return nil, errorf("", "the document has no Statement")
	}
	vars := p.Version == Version2012
	switch stmts.kind {
	case jObject:
		s, err := parseStatement(stmts, vars, "Statement")
		if err != nil {
			return nil, err
		}
		p.Statements = []Statement{s}
	case jArray:
		if len(stmts.arr) == 0 {
			return nil, errorf("Statement", "the Statement array is empty")
		}
		if len(stmts.arr) > maxStatements {
			return nil, errorf("Statement", "the document has %d statements, more than %d", len(stmts.arr), maxStatements)
		}
		p.Statements = make([]Statement, 0, len(stmts.arr))
		for i := range stmts.arr {
			s, err := parseStatement(&stmts.arr[i], vars, "Statement["+strconv.Itoa(i)+"]")
			if err != nil {
				return nil, err
			}
			p.Statements = append(p.Statements, s)
		}
	default:
		return nil, errorf("Statement", "the Statement must be an object or an array of objects")
	}
	for i, s := range p.Statements {
		name, actions := "Action", s.Action
		if s.notAction {
			name, actions = "NotAction", s.NotAction
		}
		for _, a := range actions {
			if !l.known(a) {
				path := "Statement"
				if stmts.kind == jArray {
					path += "[" + strconv.Itoa(i) + "]"
				}
				return nil, errorf(path+"."+name, "Invalid Action: the action %s does not exist", quote(a))
			}
		}
	}
	seen := map[string]int{}
	for i, s := range p.Statements {
		if s.Sid == "" {
			continue
		}
		if j, dup := seen[s.Sid]; dup {
			return nil, errorf("Statement["+strconv.Itoa(i)+"].Sid", "Sid %s is already used by statement %d; Sids must be unique", quote(s.Sid), j)
		}
		seen[s.Sid] = i
	}
	return p, nil
}

// policySize counts the characters of doc, not counting white space
// outside strings, stopping once past limit.
func policySize(doc []byte, limit int) int {
	n := 0
	inString, escaped := false, false
	for _, r := range string(doc) {
		if inString {
			switch {
			case escaped:
				escaped = false
			case r == '\\':
				escaped = true
			case r == '"':
				inString = false
			}
		} else {
			switch r {
			case ' ', '\t', '\n', '\r':
				continue
			case '"':
				inString = true
			}
		}
		n++
		if n > limit {
			break
		}
	}
	return n
}

// parseStatement parses and compiles one statement.
func parseStatement(v *jvalue, vars bool, path string) (Statement, error) {
	if v.kind != jObject {
		return Statement{}, errorf(path, "a statement must be an object")
	}
	var (
		s                                           Statement
		effect, action, notAction, resource, notRes *jvalue
		cond                                        *jvalue
	)
	for i := range v.obj {
		m := &v.obj[i]
		switch m.key {
		case "Sid":
			if m.val.kind != jString {
				return Statement{}, errorf(path+".Sid", "the Sid must be a string")
			}
			if !validSid(m.val.s) {
				return Statement{}, errorf(path+".Sid", "Sid %s may hold only ASCII letters and digits", quote(m.val.s))
			}
			s.Sid = m.val.s
		case "Effect":
			effect = &m.val
		case "Action":
			action = &m.val
		case "NotAction":
			notAction = &m.val
		case "Resource":
			resource = &m.val
		case "NotResource":
			notRes = &m.val
		case "Condition":
			cond = &m.val
		case "Principal", "NotPrincipal":
			return Statement{}, errorf(path+"."+m.key, "an identity policy must not specify a principal")
		default:
			return Statement{}, errorf(path, "unknown element %s", quote(m.key))
		}
	}
	switch {
	case effect == nil:
		return Statement{}, errorf(path, "the statement has no Effect")
	case effect.kind == jString && effect.s == "Allow":
		s.Effect = EffectAllow
	case effect.kind == jString && effect.s == "Deny":
		s.Effect = EffectDeny
	default:
		return Statement{}, errorf(path+".Effect", "the Effect must be \"Allow\" or \"Deny\", not %s", effect.text())
	}

	switch {
	case action != nil && notAction != nil:
		return Statement{}, errorf(path, "the statement has both Action and NotAction")
	case action == nil && notAction == nil:
		return Statement{}, errorf(path, "the statement has no Action or NotAction")
	}
	name, av := "Action", action
	if notAction != nil {
		name, av, s.notAction = "NotAction", notAction, true
	}
	actions, err := stringList(av, path+"."+name)
	if err != nil {
		return Statement{}, err
	}
	for _, a := range actions {
		p, err := compileAction(a)
		if err != nil {
			return Statement{}, at(err, path+"."+name)
		}
		s.actions = append(s.actions, p)
	}
	if s.notAction {
		s.NotAction = actions
	} else {
		s.Action = actions
	}

	switch {
	case resource != nil && notRes != nil:
		return Statement{}, errorf(path, "the statement has both Resource and NotResource")
	case resource == nil && notRes == nil:
		return Statement{}, errorf(path, "the statement has no Resource or NotResource")
	}
	name, rv := "Resource", resource
	if notRes != nil {
		name, rv, s.notResource = "NotResource", notRes, true
	}
	resources, err := stringList(rv, path+"."+name)
	if err != nil {
		return Statement{}, err
	}
	for _, r := range resources {
		p, err := compileARN(r, vars, true)
		if err != nil {
			return Statement{}, at(err, path+"."+name)
		}
		s.resources = append(s.resources, p)
	}
	if s.notResource {
		s.NotResource = resources
	} else {
		s.Resource = resources
	}

	if cond != nil {
		if err := s.parseConditions(cond, vars, path+".Condition"); err != nil {
			return Statement{}, err
		}
	}
	return s, nil
}

// parseConditions parses a Condition block into s.
func (s *Statement) parseConditions(v *jvalue, vars bool, path string) error {
	if v.kind != jObject {
		return errorf(path, "the Condition must be an object")
	}
	for i := range v.obj {
		op := &v.obj[i]
		opPath := path + "." + op.key
		if op.val.kind != jObject {
			return errorf(opPath, "a condition operator must map keys to values")
		}
		for j := range op.val.obj {
			kv := &op.val.obj[j]
			values, err := conditionValues(&kv.val, opPath+"."+kv.key)
			if err != nil {
				return err
			}
			c, err := compileCondition(op.key, kv.key, values, vars, opPath)
			if err != nil {
				return err
			}
			s.conditions = append(s.conditions, c)
			s.Conditions = append(s.Conditions, Condition{Operator: op.key, Key: kv.key, Values: values})
		}
	}
	return nil
}

// stringList reads a string or a non-empty array of strings.
func stringList(v *jvalue, path string) ([]string, error) {
	switch v.kind {
	case jString:
		return []string{v.s}, nil
	case jArray:
		if len(v.arr) == 0 {
			return nil, errorf(path, "the list is empty")
		}
		out := make([]string, 0, len(v.arr))
		for i := range v.arr {
			if v.arr[i].kind != jString {
				return nil, errorf(path, "element %d is not a string", i)
			}
			out = append(out, v.arr[i].s)
		}
		return out, nil
	}
	return nil, errorf(path, "want a string or an array of strings")
}

// conditionValues reads a condition value: a string, number or boolean, or
// a non-empty array of them.
func conditionValues(v *jvalue, path string) ([]string, error) {
	scalar := func(v *jvalue) (string, bool) {
		switch v.kind {
		case jString, jNumber, jBool:
			return v.s, true
		}
		return "", false
	}
	if s, ok := scalar(v); ok {
		return []string{s}, nil
	}
	if v.kind != jArray {
		return nil, errorf(path, "a condition value must be a string, number or boolean, or an array of them")
	}
	if len(v.arr) == 0 {
		return nil, errorf(path, "the condition has no values")
	}
	out := make([]string, 0, len(v.arr))
	for i := range v.arr {
		s, ok := scalar(&v.arr[i])
		if !ok {
			return nil, errorf(path, "a condition value must be a string, number or boolean, or an array of them")
		}
		out = append(out, s)
	}
	return out, nil
}

// known reports whether action a may name an existing action: it has a
// wildcard, its service is not one of l.Services, or it names one of that
// service's actions (case-insensitively, as IAM matches actions).
func (l Limits) known(a string) bool {
	prefix, name, ok := strings.Cut(a, ":")
	if !ok || strings.ContainsAny(a, "*?") {
		return true
	}
	names, ok := l.Services[strings.ToLower(prefix)]
	if !ok {
		return true
	}
	for _, n := range names {
		if strings.EqualFold(n, name) {
			return true
		}
	}
	return false
}

// compileAction compiles an action pattern: "*", or "service:action" with
// a service prefix of letters, digits and hyphens and an action name of
// letters, digits, and the wildcards * and ?.
func compileAction(a string) (pattern, error) {
	if a == "*" {
		return compilePattern(a, true, false)
	}
	prefix, name, ok := strings.Cut(a, ":")
	if !ok || prefix == "" {
		return pattern{}, errorf("", "action %s must be \"*\" or prefixed by a service, as in \"bedrock:InvokeModel\"", quote(a))
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return pattern{}, errorf("", "action %s has an invalid service prefix", quote(a))
		}
	}
	if name == "" {
		return pattern{}, errorf("", "action %s has no action name", quote(a))
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '*' || c == '?' || c == '-' || c == '_' || c == '.') {
			return pattern{}, errorf("", "action %s has an invalid character %q", quote(a), c)
		}
	}
	return compilePattern(a, true, false)
}

// validSid reports whether sid holds only ASCII letters and digits, as
// IAM requires of identity policies.
func validSid(sid string) bool {
	for i := 0; i < len(sid); i++ {
		c := sid[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

// jkind is the kind of a decoded JSON value.
type jkind uint8

const (
	jNull jkind = iota
	jBool
	jNumber
	jString
	jArray
	jObject
)

// jvalue is a decoded JSON value that keeps object members in order, so
// that duplicate keys can be refused.
type jvalue struct {
	kind jkind
	s    string // jString: the string; jNumber, jBool: the JSON text
	arr  []jvalue
	obj  []jmember
}

type jmember struct {
	key string
	val jvalue
}

// text describes v for messages.
func (v *jvalue) text() string {
	switch v.kind {
	case jString:
		return quote(v.s)
	case jNumber, jBool:
		return v.s
	case jNull:
		return "null"
	case jArray:
		return "an array"
	}
	return "an object"
}

// decodeJSON decodes one JSON document, refusing duplicate object keys,
// nesting deeper than maxDepth and trailing data.
func decodeJSON(doc []byte) (jvalue, error) {
	dec := json.NewDecoder(bytes.NewReader(doc))
	dec.UseNumber()
	v, err := decodeValue(dec, 0)
	if err != nil {
		return jvalue{}, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return jvalue{}, errorf("", "the document has data after its JSON object")
	}
	return v, nil
}

func decodeValue(dec *json.Decoder, depth int) (jvalue, error) {
	tok, err := dec.Token()
	if err != nil {
		return jvalue{}, syntaxError(err)
	}
	switch t := tok.(type) {
	case json.Delim:
		if depth >= maxDepth {
			return jvalue{}, errorf("", "the document nests deeper than %d levels", maxDepth)
		}
		if t == '[' {
			v := jvalue{kind: jArray}
			for dec.More() {
				e, err := decodeValue(dec, depth+1)
				if err != nil {
					return jvalue{}, err
				}
				v.arr = append(v.arr, e)
			}
			if _, err := dec.Token(); err != nil {
				return jvalue{}, syntaxError(err)
			}
			return v, nil
		}
		if t != '{' {
			return jvalue{}, errorf("", "the document is not valid JSON")
		}
		v := jvalue{kind: jObject}
		for dec.More() {
			kt, err := dec.Token()
			if err != nil {
				return jvalue{}, syntaxError(err)
			}
			key, ok := kt.(string)
			if !ok {
				return jvalue{}, errorf("", "the document is not valid JSON")
			}
			for i := range v.obj {
				if v.obj[i].key == key {
					return jvalue{}, errorf("", "duplicate key %s", quote(key))
				}
			}
			e, err := decodeValue(dec, depth+1)
			if err != nil {
				return jvalue{}, err
			}
			v.obj = append(v.obj, jmember{key: key, val: e})
		}
		if _, err := dec.Token(); err != nil {
			return jvalue{}, syntaxError(err)
		}
		return v, nil
	case string:
		return jvalue{kind: jString, s: t}, nil
	case json.Number:
		return jvalue{kind: jNumber, s: t.String()}, nil
	case bool:
		return jvalue{kind: jBool, s: strconv.FormatBool(t)}, nil
	case nil:
		return jvalue{kind: jNull}, nil
	}
	return jvalue{}, errorf("", "the document is not valid JSON")
}

// syntaxError turns a decoding error into a ParseError.
func syntaxError(err error) error {
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return errorf("", "the document is not valid JSON: %v (at byte %d)", se, se.Offset)
	}
	if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return errorf("", "the document is not valid JSON: unexpected end")
	}
	return errorf("", "the document is not valid JSON: %v", err)
}
