package policy

import (
	"strings"
	"unicode/utf8"
)

// maxMatchLen is the longest value a wildcard pattern is matched against;
// longer values match no wildcard pattern. ARNs are at most 2048
// characters and tag values 256, so no real value comes near it; the cap
// bounds the matcher's worst case.
const maxMatchLen = 4096

// maxActionLen is the longest action matched; AWS's longest action names
// are under 100 characters.
const maxActionLen = 256

// pieceKind says what one piece of a compiled pattern is.
type pieceKind uint8

const (
	pLit  pieceKind = iota // literal text
	pStar                  // *: any run of characters, possibly empty
	pOne                   // ?: exactly one character
	pVar                   // a policy variable, substituted at evaluation
)

// piece is one element of a compiled pattern.
type piece struct {
	kind   pieceKind
	text   string // pLit: the text; pVar: the condition key
	def    string // pVar: the default value, when hasDef
	hasDef bool
}

// pattern is a compiled string pattern: literal text, wildcards and policy
// variables. A plain pattern (neither wildcards nor variables) is compared
// as a whole.
type pattern struct {
	pieces []piece
	lit    string // the whole text when plain; the text around the * for shapes prefix and suffix
	plain  bool
	hasVar bool
	shape  shape
}

// shape names the simple forms of pattern that match without the general
// algorithm.
type shape uint8

const (
	shapeGlob   shape = iota // anything else
	shapeStar                // *
	shapePrefix              // text*
	shapeSuffix              // *text
)

// compilePattern compiles s. With wild, * and ? are wildcards; with vars,
// ${...} are policy variables (and ${*}, ${?}, ${$} escapes).
func compilePattern(s string, wild, vars bool) (pattern, error) {
	ps, err := tokenize(s, wild, vars)
	if err != nil {
		return pattern{}, err
	}
	return newPattern(ps), nil
}

// tokenize splits s into pieces, merging adjacent literal text and
// collapsing runs of *.
func tokenize(s string, wild, vars bool) ([]piece, error) {
	var (
		ps  []piece
		buf []byte
	)
	flush := func() {
		if len(buf) > 0 {
			ps = append(ps, piece{kind: pLit, text: string(buf)})
			buf = buf[:0]
		}
	}
	for i := 0; i < len(s); {
		c := s[i]
		switch {
		case vars && c == '$' && i+1 < len(s) && s[i+1] == '{':
			v, n, err := parseVariable(s[i:])
			if err != nil {
				return nil, err
			}
			i += n
			if v.kind == pLit {
				buf = append(buf, v.text...)
				continue
			}
			flush()
			ps = append(ps, v)
		case wild && c == '*':
			flush()
			if len(ps) == 0 || ps[len(ps)-1].kind != pStar {
				ps = append(ps, piece{kind: pStar})
			}
			i++
		case wild && c == '?':
			flush()
			ps = append(ps, piece{kind: pOne})
			i++
		default:
			buf = append(buf, c)
			i++
		}
	}
	flush()
	return ps, nil
}

// newPattern builds a pattern from pieces already merged by tokenize.
func newPattern(ps []piece) pattern {
	p := pattern{pieces: ps, plain: true}
	for _, pc := range ps {
		switch pc.kind {
		case pVar:
			p.hasVar = true
			p.plain = false
		case pStar, pOne:
			p.plain = false
		}
	}
	switch {
	case len(ps) == 1 && ps[0].kind == pStar:
		p.shape = shapeStar
	case len(ps) == 2 && ps[0].kind == pLit && ps[1].kind == pStar:
		p.shape, p.lit = shapePrefix, ps[0].text
	case len(ps) == 2 && ps[0].kind == pStar && ps[1].kind == pLit:
		p.shape, p.lit = shapeSuffix, ps[1].text
	}
	if p.plain {
		var b strings.Builder
		for _, pc := range ps {
			b.WriteString(pc.text)
		}
		p.lit = b.String()
	}
	return p
}

// parseVariable reads the policy variable at the start of s, which begins
// with "${": an escape (${*}, ${?}, ${$}), returned as a literal piece, or
// ${key} or ${key, 'default'}, where a quote inside the default is written
// twice. It returns the piece and the length read.
func parseVariable(s string) (piece, int, error) {
	if len(s) >= 4 && s[3] == '}' {
		switch s[2] {
		case '*', '?', '$':
			return piece{kind: pLit, text: s[2:3]}, 4, nil
		}
	}
	i := 2
	for i < len(s) && s[i] != '}' && s[i] != ',' && s[i] != '\'' {
		i++
	}
	key := strings.TrimSpace(s[2:i])
	p := piece{kind: pVar, text: key}
	if i < len(s) && s[i] == ',' {
		i = skipSpaces(s, i+1)
		if i >= len(s) || s[i] != '\'' {
			return piece{}, 0, errorf("", "policy variable %s: the default value must be in single quotes", quoteVar(s))
		}
		i++
		var def []byte
		for {
			if i >= len(s) {
				return piece{}, 0, errorf("", "policy variable %s: the default value has no closing quote", quoteVar(s))
			}
			if s[i] == '\'' {
				if i+1 < len(s) && s[i+1] == '\'' {
					def = append(def, '\'')
					i += 2
					continue
				}
				i++
				break
			}
			def = append(def, s[i])
			i++
		}
		p.def, p.hasDef = string(def), true
		i = skipSpaces(s, i)
	}
	if i >= len(s) || s[i] != '}' {
		return piece{}, 0, errorf("", "policy variable %s is not closed by }", quoteVar(s))
	}
	if !validConditionKey(key) {
		return piece{}, 0, errorf("", "policy variable %s does not name a condition key", quoteVar(s))
	}
	return p, i + 1, nil
}

// quoteVar quotes the start of s, up to its first }, for messages.
func quoteVar(s string) string {
	if i := strings.IndexByte(s, '}'); i >= 0 {
		s = s[:i+1]
	}
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return quote(s)
}

func skipSpaces(s string, i int) int {
	for i < len(s) && s[i] == ' ' {
		i++
	}
	return i
}

// resolve appends the pieces of p to buf with each variable replaced by
// its value in ctx, or its default. ok is false when a variable has
// neither: a missing or multi-valued key with no default is null.
func (p *pattern) resolve(ctx Context, buf []piece) (_ []piece, ok bool) {
	for _, pc := range p.pieces {
		if pc.kind == pVar {
			v, ok := ctx.Value(pc.text)
			switch {
			case ok && len(v) == 1:
				pc = piece{kind: pLit, text: v[0]}
			case pc.hasDef:
				pc = piece{kind: pLit, text: pc.def}
			default:
				return nil, false
			}
		}
		buf = append(buf, pc)
	}
	return buf, true
}

// text returns the pattern's text with its variables substituted; it is
// for patterns without wildcards. ok is false when a variable is null.
func (p *pattern) text(ctx Context) (string, bool) {
	if !p.hasVar {
		return p.lit, true
	}
	var buf [16]piece
	ps, ok := p.resolve(ctx, buf[:0])
	if !ok {
		return "", false
	}
	var b strings.Builder
	for _, pc := range ps {
		b.WriteString(pc.text)
	}
	return b.String(), true
}

// match reports whether s matches the pattern, case-sensitively.
func (p *pattern) match(s string, ctx Context, st *stats) bool {
	st.steps++
	if p.plain {
		return s == p.lit
	}
	switch p.shape {
	case shapeStar:
		return true
	case shapePrefix:
		st.steps += len(p.lit)
		return strings.HasPrefix(s, p.lit)
	case shapeSuffix:
		st.steps += len(p.lit)
		return strings.HasSuffix(s, p.lit)
	}
	ps := p.pieces
	var buf [16]piece
	if p.hasVar {
		var ok bool
		if ps, ok = p.resolve(ctx, buf[:0]); !ok {
			return false
		}
	}
	return glob(ps, s, false, st)
}

// matchAction reports whether action matches the pattern, ignoring ASCII
// case. Action patterns have no variables. Actions come from Tollgate's
// own routes, not from callers, and are short; past maxActionLen they
// match no pattern that needs the general algorithm, which bounds the
// case-folding search (that has no strings.Index to lean on) at
// maxActionLen times the pattern's length.
func (p *pattern) matchAction(action string, st *stats) bool {
	st.steps++
	if p.plain {
		return len(action) == len(p.lit) && equalFoldASCII(action, p.lit)
	}
	switch p.shape {
	case shapeStar:
		return true
	case shapePrefix:
		st.steps += len(p.lit)
		n := len(p.lit)
		return len(action) >= n && equalText(action[:n], p.lit, true)
	case shapeSuffix:
		st.steps += len(p.lit)
		n := len(p.lit)
		return len(action) >= n && equalText(action[len(action)-n:], p.lit, true)
	}
	if len(action) > maxActionLen {
		return false
	}
	return glob(p.pieces, action, true, st)
}

// glob matches s against pieces without variables. It anchors the text
// before the first * at the start and the text after the last * at the
// end, then finds each run between stars at its leftmost place after the
// previous one. Runs hold only literals and ?, which match a fixed number
// of characters, so the leftmost place is always right and nothing is
// ever retried: the work is linear in len(s) for runs without ?, and at
// most len(s) times the run's length otherwise.
func glob(ps []piece, s string, fold bool, st *stats) bool {
	if len(s) > maxMatchLen {
		return false
	}
	first, last := -1, -1
	for i := range ps {
		if ps[i].kind == pStar {
			if first < 0 {
				first = i
			}
			last = i
		}
	}
	if first < 0 {
		end, ok := matchAt(ps, s, 0, fold, st)
		return ok && end == len(s)
	}
	start, ok := matchAt(ps[:first], s, 0, fold, st)
	if !ok {
		return false
	}
	end, ok := matchBack(ps[last+1:], s, start, fold, st)
	if !ok {
		return false
	}
	s = s[:end]
	for k := first + 1; k < last; {
		e := k
		for ps[e].kind != pStar {
			e++
		}
		if e > k {
			if start, ok = find(ps[k:e], s, start, fold, st); !ok {
				return false
			}
		}
		k = e + 1
	}
	return true
}

// matchAt matches the star-free pieces ps at s[i:] and returns where the
// match ends.
func matchAt(ps []piece, s string, i int, fold bool, st *stats) (int, bool) {
	for _, p := range ps {
		st.steps++
		switch p.kind {
		case pLit:
			n := len(p.text)
			if len(s)-i < n {
				return 0, false
			}
			st.steps += n
			if !equalText(s[i:i+n], p.text, fold) {
				return 0, false
			}
			i += n
		case pOne:
			if i >= len(s) {
				return 0, false
			}
			_, w := utf8.DecodeRuneInString(s[i:])
			i += w
		}
	}
	return i, true
}

// matchBack matches the star-free pieces ps at the end of s, not reaching
// before lo, and returns where the match starts.
func matchBack(ps []piece, s string, lo int, fold bool, st *stats) (int, bool) {
	j := len(s)
	for k := len(ps) - 1; k >= 0; k-- {
		st.steps++
		switch p := ps[k]; p.kind {
		case pLit:
			n := len(p.text)
			if j-lo < n {
				return 0, false
			}
			st.steps += n
			if !equalText(s[j-n:j], p.text, fold) {
				return 0, false
			}
			j -= n
		case pOne:
			if j <= lo {
				return 0, false
			}
			_, w := utf8.DecodeLastRuneInString(s[lo:j])
			j -= w
		}
	}
	return j, true
}

// find finds the leftmost match of the star-free pieces chunk in s at or
// after pos and returns where it ends.
func find(chunk []piece, s string, pos int, fold bool, st *stats) (int, bool) {
	if !fold && chunk[0].kind == pLit && chunk[0].text != "" {
		// Let strings.Index skip to the places the leading text occurs.
		lit := chunk[0].text
		for pos <= len(s) {
			k := strings.Index(s[pos:], lit)
			if k < 0 {
				st.steps += len(s) - pos
				return 0, false
			}
			st.steps += k + len(lit)
			if end, ok := matchAt(chunk, s, pos+k, fold, st); ok {
				return end, true
			}
			pos += k + 1
		}
		return 0, false
	}
	for {
		if end, ok := matchAt(chunk, s, pos, fold, st); ok {
			return end, true
		}
		if pos >= len(s) {
			return 0, false
		}
		_, w := utf8.DecodeRuneInString(s[pos:])
		pos += w
	}
}

// equalText compares two strings of equal length, folding ASCII case when
// fold is set.
func equalText(a, b string, fold bool) bool {
	return a == b || fold && equalFoldASCII(a, b)
}

// equalFoldASCII compares two strings of equal length ignoring ASCII case.
func equalFoldASCII(a, b string) bool {
	for i := 0; i < len(a); i++ {
		x, y := a[i], b[i]
		if x == y {
			continue
		}
		if 'A' <= x && x <= 'Z' {
			x += 'a' - 'A'
		}
		if 'A' <= y && y <= 'Z' {
			y += 'a' - 'A'
		}
		if x != y {
			return false
		}
	}
	return true
}

// arnValue is a request value cut into the six parts of an ARN; ok is
// false when it has fewer than six.
type arnValue struct {
	parts [6]string
	ok    bool
}

// splitARN cuts s at its first five colons.
func splitARN(s string) arnValue {
	var v arnValue
	for i := range 5 {
		before, after, found := strings.Cut(s, ":")
		if !found {
			return arnValue{}
		}
		v.parts[i] = before
		s = after
	}
	v.parts[5] = s
	v.ok = true
	return v
}

// arnPattern is a compiled ARN pattern: "*", or six part patterns.
type arnPattern struct {
	any   bool
	parts [6]pattern
}

// compileARN compiles an ARN pattern with wildcards. With vars, policy
// variables are substituted; with resourceOnly, only in the resource part,
// as AWS allows in the Resource element. It fails when s is neither "*"
// nor "arn:" followed by five more colon-separated parts.
func compileARN(s string, vars, resourceOnly bool) (arnPattern, error) {
	if s == "*" {
		return arnPattern{any: true}, nil
	}
	ps, err := tokenize(s, true, vars)
	if err != nil {
		return arnPattern{}, err
	}
	var (
		a   arnPattern
		seg int
		cur []piece
	)
	for _, pc := range ps {
		if pc.kind == pVar && resourceOnly && seg < 5 {
			return arnPattern{}, errorf("", "%s: policy variables are allowed only in the resource part of an ARN, after the fifth colon", quote(s))
		}
		if pc.kind != pLit || seg == 5 {
			cur = append(cur, pc)
			continue
		}
		text := pc.text
		for seg < 5 {
			before, after, found := strings.Cut(text, ":")
			if !found {
				break
			}
			if before != "" {
				cur = append(cur, piece{kind: pLit, text: before})
			}
			a.parts[seg] = newPattern(cur)
			cur = nil
			seg++
			text = after
		}
		if text != "" {
			cur = append(cur, piece{kind: pLit, text: text})
		}
	}
	if seg < 5 || !a.parts[0].plain || a.parts[0].lit != "arn" {
		return arnPattern{}, errorf("", "%s is not an ARN: want \"*\" or arn:partition:service:region:account:resource", quote(s))
	}
	a.parts[5] = newPattern(cur)
	return a, nil
}

// match reports whether the ARN cut into v matches the pattern.
func (a *arnPattern) match(v *arnValue, ctx Context, st *stats) bool {
	if a.any {
		return true
	}
	if !v.ok {
		return false
	}
	for i := range a.parts {
		if !a.parts[i].match(v.parts[i], ctx, st) {
			return false
		}
	}
	return true
}
