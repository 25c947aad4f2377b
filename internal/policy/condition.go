package policy

import (
	"encoding/base64"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// family is the type of value a condition operator compares.
type family uint8

const (
	famString family = iota
	famNumeric
	famDate
	famBool
	famBinary
	famIP
	famARN
	famNull
)

// relation is how an operator compares a request value with a policy value.
type relation uint8

const (
	relEq     relation = iota // equal
	relEqFold                 // equal ignoring case
	relLike                   // wildcard match
	relLt
	relLe
	relGt
	relGe
)

// baseOp is a condition operator without its set qualifier or IfExists.
type baseOp struct {
	fam family
	rel relation
	neg bool // a negated operator: true when no policy value matches
}

// operators are the condition operators, by name.
var operators = map[string]baseOp{
	"StringEquals":              {famString, relEq, false},
	"StringNotEquals":           {famString, relEq, true},
	"StringEqualsIgnoreCase":    {famString, relEqFold, false},
	"StringNotEqualsIgnoreCase": {famString, relEqFold, true},
	"StringLike":                {famString, relLike, false},
	"StringNotLike":             {famString, relLike, true},
	"NumericEquals":             {famNumeric, relEq, false},
	"NumericNotEquals":          {famNumeric, relEq, true},
	"NumericLessThan":           {famNumeric, relLt, false},
	"NumericLessThanEquals":     {famNumeric, relLe, false},
	"NumericGreaterThan":        {famNumeric, relGt, false},
	"NumericGreaterThanEquals":  {famNumeric, relGe, false},
	"DateEquals":                {famDate, relEq, false},
	"DateNotEquals":             {famDate, relEq, true},
	"DateLessThan":              {famDate, relLt, false},
	"DateLessThanEquals":        {famDate, relLe, false},
	"DateGreaterThan":           {famDate, relGt, false},
	"DateGreaterThanEquals":     {famDate, relGe, false},
	"Bool":                      {famBool, relEq, false},
	"BinaryEquals":              {famBinary, relEq, false},
	"IpAddress":                 {famIP, relEq, false},
	"NotIpAddress":              {famIP, relEq, true},
	"ArnEquals":                 {famARN, relLike, false},
	"ArnLike":                   {famARN, relLike, false},
	"ArnNotEquals":              {famARN, relLike, true},
	"ArnNotLike":                {famARN, relLike, true},
	"Null":                      {famNull, relEq, false},
}

// setOp is a condition operator's set qualifier.
type setOp uint8

const (
	setNone setOp = iota
	setAll        // ForAllValues:
	setAny        // ForAnyValue:
)

// condition is one compiled (operator, key) pair of a Condition block with
// its values decoded for the operator's family.
type condition struct {
	op       baseOp
	set      setOp
	ifExists bool
	key      string

	strs  []pattern   // famString
	nums  []number    // famNumeric
	dates []time.Time // famDate
	bools []bool      // famBool, famNull
	bins  []string    // famBinary: decoded bytes
	ips   []netip.Prefix
	arns  []arnPattern // famARN
}

// compileCondition compiles the operator op on key with the given values.
// vars says whether the document substitutes policy variables.
func compileCondition(op, key string, values []string, vars bool, path string) (condition, error) {
	name := op
	c := condition{key: key}
	if rest, ok := strings.CutPrefix(name, "ForAllValues:"); ok {
		c.set, name = setAll, rest
	} else if rest, ok := strings.CutPrefix(name, "ForAnyValue:"); ok {
		c.set, name = setAny, rest
	}
	base, ok := operators[name]
	if !ok {
		if rest, cut := strings.CutSuffix(name, "IfExists"); cut {
			base, ok = operators[rest]
			c.ifExists = true
		}
	}
	if !ok {
		return condition{}, errorf(path, "unknown condition operator %s", quote(op))
	}
	if base.fam == famNull && (c.ifExists || c.set != setNone) {
		return condition{}, errorf(path, "condition operator %s: Null takes neither IfExists nor a set qualifier", quote(op))
	}
	c.op = base
	if !validConditionKey(key) {
		return condition{}, errorf(path, "invalid condition key %s", quote(key))
	}
	vpath := path + "." + key
	for _, v := range values {
		if err := c.addValue(v, vars, vpath); err != nil {
			return condition{}, err
		}
	}
	return c, nil
}

// addValue decodes one policy value for the operator's family.
func (c *condition) addValue(v string, vars bool, path string) error {
	switch c.op.fam {
	case famString:
		p, err := compilePattern(v, c.op.rel == relLike, vars)
		if err != nil {
			return at(err, path)
		}
		c.strs = append(c.strs, p)
	case famNumeric:
		n, ok := parseNumber(v)
		if !ok {
			return errorf(path, "%s is not a number", quote(v))
		}
		c.nums = append(c.nums, n)
	case famDate:
		t, ok := parseDate(v)
		if !ok {
			return errorf(path, "%s is not a date (ISO 8601 or epoch seconds)", quote(v))
		}
		c.dates = append(c.dates, t)
	case famBool, famNull:
		b, ok := parseBool(v)
		if !ok {
			return errorf(path, "%s is not \"true\" or \"false\"", quote(v))
		}
		c.bools = append(c.bools, b)
	case famBinary:
		b, err := base64.StdEncoding.DecodeString(v)
		if err != nil {
			return errorf(path, "%s is not base64", quote(v))
		}
		c.bins = append(c.bins, string(b))
	case famIP:
		p, ok := parsePrefix(v)
		if !ok {
			return errorf(path, "%s is not an IP address or CIDR block", quote(v))
		}
		c.ips = append(c.ips, p)
	case famARN:
		a, err := compileARN(v, vars, false)
		if err != nil {
			return at(err, path)
		}
		c.arns = append(c.arns, a)
	}
	return nil
}

// eval reports whether the condition holds for the request.
func (c *condition) eval(ctx Context, st *stats) bool {
	vals, ok := ctx.Value(c.key)
	present := ok && len(vals) > 0
	if c.op.fam == famNull {
		// Null "true" holds when the key is absent, "false" when present.
		for _, want := range c.bools {
			if want != present {
				return true
			}
		}
		return false
	}
	if !present {
		switch {
		case c.ifExists:
			return true
		case c.set == setAll:
			return true
		case c.set == setAny:
			return false
		}
		return c.op.neg
	}
	switch c.set {
	case setAll:
		for _, v := range vals {
			if !c.sat(v, ctx, st) {
				return false
			}
		}
		return true
	case setAny:
		for _, v := range vals {
			if c.sat(v, ctx, st) {
				return true
			}
		}
		return false
	}
	// No set qualifier: a positive operator holds when some value matches;
	// a negated one when every value satisfies it, that is when no value
	// matches, so that it stays the negation of the positive operator on a
	// multi-valued key too.
	if c.op.neg {
		for _, v := range vals {
			if !c.sat(v, ctx, st) {
				return false
			}
		}
		return true
	}
	for _, v := range vals {
		if c.sat(v, ctx, st) {
			return true
		}
	}
	return false
}

// sat reports whether the request value v satisfies the operator: for a
// positive operator, v matches one of the policy values; for a negated
// one, v can be read as the operator's type and matches none of them.
func (c *condition) sat(v string, ctx Context, st *stats) bool {
	m, readable := c.matchAny(v, ctx, st)
	if c.op.neg {
		return readable && !m
	}
	return m
}

// matchAny reports whether v matches any policy value, and whether v
// could be read as the operator's type at all.
func (c *condition) matchAny(v string, ctx Context, st *stats) (matched, readable bool) {
	switch c.op.fam {
	case famString:
		for i := range c.strs {
			p := &c.strs[i]
			if c.op.rel == relEqFold {
				t, ok := p.text(ctx)
				if ok && strings.EqualFold(v, t) {
					return true, true
				}
				continue
			}
			if p.match(v, ctx, st) {
				return true, true
			}
		}
		return false, true
	case famNumeric:
		n, ok := parseNumber(v)
		if !ok {
			return false, false
		}
		for _, p := range c.nums {
			if compareRel(compareNumbers(n, p), c.op.rel) {
				return true, true
			}
		}
		return false, true
	case famDate:
		t, ok := parseDate(v)
		if !ok {
			return false, false
		}
		for _, p := range c.dates {
			if compareRel(t.Compare(p), c.op.rel) {
				return true, true
			}
		}
		return false, true
	case famBool:
		b, ok := parseBool(v)
		if !ok {
			return false, false
		}
		for _, p := range c.bools {
			if b == p {
				return true, true
			}
		}
		return false, true
	case famBinary:
		for _, p := range c.bins {
			if v == p {
				return true, true
			}
		}
		return false, true
	case famIP:
		a, err := netip.ParseAddr(v)
		if err != nil {
			return false, false
		}
		a = a.WithZone("").Unmap()
		for _, p := range c.ips {
			if p.Contains(a) {
				return true, true
			}
		}
		return false, true
	case famARN:
		av := splitARN(v)
		for i := range c.arns {
			p := &c.arns[i]
			if p.match(&av, ctx, st) {
				return true, true
			}
		}
		return false, av.ok
	}
	return false, false
}

// compareRel applies an ordering relation to a comparison result.
func compareRel(cmp int, rel relation) bool {
	switch rel {
	case relEq:
		return cmp == 0
	case relLt:
		return cmp < 0
	case relLe:
		return cmp <= 0
	case relGt:
		return cmp > 0
	case relGe:
		return cmp >= 0
	}
	return false
}

// number is a decoded numeric value: an exact integer, or a float.
type number struct {
	i     int64
	f     float64
	isInt bool
}

// parseNumber reads a decimal number: an optional sign, digits with an
// optional fraction, and an optional exponent. Integers that fit in 64 bits
// are kept exact.
func parseNumber(s string) (number, bool) {
	i := 0
	if i < len(s) && (s[i] == '-' || s[i] == '+') {
		i++
	}
	digits := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		digits++
	}
	isInt := true
	if i < len(s) && s[i] == '.' {
		isInt = false
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			digits++
		}
	}
	if digits == 0 {
		return number{}, false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		isInt = false
		i++
		if i < len(s) && (s[i] == '-' || s[i] == '+') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return number{}, false
		}
	}
	if i != len(s) {
		return number{}, false
	}
	if isInt {
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			return number{i: n, f: float64(n), isInt: true}, true
		}
	}
	f, err := strconv.ParseFloat(s, 64)
	if err != nil {
		// Out of float64's range: not a number IAM could compare.
		return number{}, false
	}
	return number{f: f}, true
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// compareNumbers returns -1, 0 or +1 as a is less than, equal to or
// greater than b.
func compareNumbers(a, b number) int {
	if a.isInt && b.isInt {
		switch {
		case a.i < b.i:
			return -1
		case a.i > b.i:
			return 1
		}
		return 0
	}
	switch {
	case a.f < b.f:
		return -1
	case a.f > b.f:
		return 1
	}
	return 0
}

// dateLayouts are the ISO 8601 forms parseDate reads after RFC 3339 (which
// also takes fractional seconds), in the W3C profile AWS documents: dates
// and times with or without a zone (none meaning UTC), and the basic form.
var dateLayouts = []string{
	"2006-01-02T15:04Z07:00",
	"2006-01-02T15:04:05",
	"2006-01-02T15:04",
	"2006-01-02",
	"2006-01",
	"2006",
	"20060102T150405Z07:00",
}

// parseDate reads an ISO 8601 date or epoch seconds (with an optional
// fraction).
func parseDate(s string) (time.Time, bool) {
	if s == "" || len(s) > 64 {
		return time.Time{}, false
	}
	if t, ok := parseEpoch(s); ok {
		return t, true
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t, true
	}
	if !isDigit(s[0]) {
		return time.Time{}, false
	}
	for _, layout := range dateLayouts {
		if t, err := time.Parse(layout, s); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseEpoch reads epoch seconds: digits, with an optional sign and an
// optional fraction. Four digits alone are a year, not seconds.
func parseEpoch(s string) (time.Time, bool) {
	i := 0
	if s[0] == '-' {
		i++
	}
	start := i
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	whole := s[start:i]
	if whole == "" || len(whole) > 12 || (len(whole) == 4 && i == len(s) && start == 0) {
		return time.Time{}, false
	}
	var nanos int64
	if i < len(s) {
		if s[i] != '.' {
			return time.Time{}, false
		}
		frac := s[i+1:]
		if frac == "" || len(frac) > 9 {
			return time.Time{}, false
		}
		for j := 0; j < 9; j++ {
			nanos *= 10
			if j < len(frac) {
				if !isDigit(frac[j]) {
					return time.Time{}, false
				}
				nanos += int64(frac[j] - '0')
			}
		}
	}
	sec, err := strconv.ParseInt(whole, 10, 64)
	if err != nil {
		return time.Time{}, false
	}
	if start == 1 {
		sec, nanos = -sec, -nanos
	}
	return time.Unix(sec, nanos).UTC(), true
}

// parseBool reads "true" or "false", in any case.
func parseBool(s string) (value, ok bool) {
	switch {
	case strings.EqualFold(s, "true"):
		return true, true
	case strings.EqualFold(s, "false"):
		return false, true
	}
	return false, false
}

// parsePrefix reads an IP address or a CIDR block; an address is a block
// of one. Host bits in a block are ignored, and IPv4-mapped IPv6 addresses
// are read as IPv4.
func parsePrefix(s string) (netip.Prefix, bool) {
	if strings.IndexByte(s, '/') >= 0 {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, false
		}
		if a := p.Addr(); a.Is4In6() && p.Bits() >= 96 {
			p = netip.PrefixFrom(a.Unmap(), p.Bits()-96)
		}
		return p.Masked(), true
	}
	a, err := netip.ParseAddr(s)
	if err != nil || a.Zone() != "" {
		return netip.Prefix{}, false
	}
	a = a.Unmap()
	return netip.PrefixFrom(a, a.BitLen()), true
}

// validConditionKey reports whether key looks like a condition key:
// a service prefix of letters, digits and hyphens, a colon, and a name;
// the tag keys of aws:ResourceTag/, aws:RequestTag/ and aws:PrincipalTag/
// must not be empty.
func validConditionKey(key string) bool {
	prefix, name, ok := strings.Cut(key, ":")
	if !ok || prefix == "" || name == "" || len(key) > 1024 {
		return false
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !(isDigit(c) || 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || c == '-') {
			return false
		}
	}
	if strings.ContainsAny(key, "${}") {
		return false
	}
	if strings.EqualFold(prefix, "aws") {
		for _, tag := range []string{"ResourceTag/", "RequestTag/", "PrincipalTag/"} {
			if strings.EqualFold(name, tag) {
				return false
			}
		}
	}
	return true
}
