package policy

import (
	"math/rand/v2"
	"strings"
	"testing"
)

// globRef is a reference wildcard matcher: the textbook dynamic program
// over runes, with * any run and ? one rune.
func globRef(pattern, s string, fold bool) bool {
	if fold {
		pattern, s = strings.ToLower(pattern), strings.ToLower(s)
	}
	p, v := []rune(pattern), []rune(s)
	// m[j] reports whether p[:i] matches v[:j].
	m := make([]bool, len(v)+1)
	m[0] = true
	for i := range p {
		next := make([]bool, len(v)+1)
		switch p[i] {
		case '*':
			for j := range next {
				next[j] = m[j] || j > 0 && next[j-1]
			}
		case '?':
			for j := 1; j <= len(v); j++ {
				next[j] = m[j-1]
			}
		default:
			for j := 1; j <= len(v); j++ {
				next[j] = m[j-1] && v[j-1] == p[i]
			}
		}
		m = next
	}
	return m[len(v)]
}

func mustPattern(t testing.TB, s string) pattern {
	t.Helper()
	p, err := compilePattern(s, true, false)
	if err != nil {
		t.Fatalf("compilePattern(%q): %v", s, err)
	}
	return p
}

// TestGlobMatchesReference compares the matcher with the reference on
// every small pattern and value over a small alphabet, and on random
// longer ones.
func TestGlobMatchesReference(t *testing.T) {
	check := func(pat, s string, fold bool) {
		t.Helper()
		p := mustPattern(t, pat)
		var st stats
		var got bool
		if fold {
			got = p.matchAction(s, &st)
		} else {
			got = p.match(s, emptyContext{}, &st)
		}
		if want := globRef(pat, s, fold); got != want {
			t.Fatalf("match(%q, %q, fold=%v) = %v, want %v", pat, s, fold, got, want)
		}
	}
	// Every pattern over {a, b, *, ?} up to length 5 against every value
	// over {a, b} up to length 5.
	var pats, vals []string
	var gen func(prefix string, alphabet string, n int, out *[]string)
	gen = func(prefix, alphabet string, n int, out *[]string) {
		*out = append(*out, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+string(c), alphabet, n-1, out)
		}
	}
	gen("", "ab*?", 5, &pats)
	gen("", "ab", 5, &vals)
	for _, p := range pats {
		for _, v := range vals {
			check(p, v, false)
		}
	}
	// Random patterns with multi-byte runes and case.
	r := rand.New(rand.NewPCG(1, 2))
	alphabet := []string{"a", "B", "é", "*", "?", ":", "/", "ab"}
	for range 20000 {
		var p, v strings.Builder
		for range r.IntN(12) {
			p.WriteString(alphabet[r.IntN(len(alphabet))])
		}
		for range r.IntN(16) {
			c := alphabet[r.IntN(len(alphabet))]
			if c == "*" || c == "?" {
				c = "A"
			}
			v.WriteString(c)
		}
		check(p.String(), v.String(), false)
		if isASCII(p.String()) && isASCII(v.String()) {
			check(p.String(), v.String(), true)
		}
	}
}

// TestGlobStepsLinear counts the matcher's steps on patterns that make
// backtracking matchers explode, and requires them to stay within a small
// multiple of the pattern and value lengths. Nothing is timed.
func TestGlobStepsLinear(t *testing.T) {
	long := strings.Repeat("a", maxMatchLen)
	tests := []struct {
		name    string
		pattern string
		value   string
		want    bool
	}{
		{"a*a*...b", strings.Repeat("a*", 500) + "b", long, false},
		{"*a*a*...*b", strings.Repeat("*a", 500) + "*b", long, false},
		{"*a*a*...*b*", strings.Repeat("*a", 500) + "*b*", long, false},
		{"*a*a*...*a*", strings.Repeat("*a", 500) + "*", long, true},
		{"*aa...ab*", "*" + strings.Repeat("a", 60) + "b*", long, false},
		{"a?a?...*", strings.Repeat("a?", 500) + "*", long, true},
		{"*?*?...*b", strings.Repeat("*?", 500) + "*b", long, false},
		{"**...**b", strings.Repeat("*", 2000) + "b", long, false},
		{"?...?b", strings.Repeat("?", 3000) + "b", long, false},
		{"*a*b on ab...ab", strings.Repeat("*a*b", 300), strings.Repeat("ab", maxMatchLen/2), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustPattern(t, tt.pattern)
			var st stats
			if got := p.match(tt.value, emptyContext{}, &st); got != tt.want {
				t.Errorf("match = %v, want %v", got, tt.want)
			}
			if limit := 4 * (len(tt.pattern) + len(tt.value)); st.steps > limit {
				t.Errorf("%d steps, want at most %d", st.steps, limit)
			}

			// Actions fold case and are capped at maxActionLen; the
			// folding search stays within pattern times value.
			action := tt.value[:maxActionLen]
			st = stats{}
			if got, want := p.matchAction(action, &st), globRef(tt.pattern, action, true); got != want {
				t.Errorf("matchAction = %v, want %v", got, want)
			}
			if limit := (len(tt.pattern) + 1) * (len(action) + 1); st.steps > limit {
				t.Errorf("matchAction: %d steps, want at most %d", st.steps, limit)
			}
		})
	}
}

// TestGlobStepsBounded checks the worst case the matcher admits, runs of
// ? between stars, stays within pattern length times value length, and
// that a value past maxMatchLen is refused without work.
func TestGlobStepsBounded(t *testing.T) {
	pat := "*" + strings.Repeat("?", 200) + "b*"
	value := strings.Repeat("a", maxMatchLen)
	p := mustPattern(t, pat)
	var st stats
	if p.match(value, emptyContext{}, &st) {
		t.Fatal("matched a value without b")
	}
	if limit := (len(pat) + 1) * (len(value) + 1); st.steps > limit {
		t.Errorf("%d steps, want at most %d", st.steps, limit)
	}

	st = stats{}
	if p.match(value+"ab", emptyContext{}, &st) {
		t.Error("matched a value longer than maxMatchLen")
	}
	if st.steps > 1 {
		t.Errorf("%d steps on a value longer than maxMatchLen, want at most 1", st.steps)
	}
}

// TestEvaluatePathological evaluates a whole document whose action,
// resource and condition are pathological wildcards, and bounds the steps
// of the evaluation.
func TestEvaluatePathological(t *testing.T) {
	stars := strings.Repeat("*a", 600)
	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",` +
		`"Action":"bedrock:` + strings.Repeat("*a", 100) + `*b",` +
		`"Resource":"arn:aws:bedrock:*:*:application-inference-profile/` + stars + `*b",` +
		`"Condition":{"StringLike":{"aws:ResourceTag/team":"` + stars + `*b"}}}]}`
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatal(err)
	}
	long := strings.Repeat("a", 3000)
	req := Request{
		Action:   "bedrock:" + long[:200],
		Resource: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/" + long,
		Context:  MapContext{"aws:ResourceTag/team": {long}},
	}
	var st stats
	if d, _ := evaluate([]*Policy{p}, req, &st); d != ImplicitDeny {
		t.Errorf("decision %v, want implicitDeny", d)
	}
	if limit := 4 * (len(doc) + 3*len(long)); st.steps > limit {
		t.Errorf("%d steps, want at most %d", st.steps, limit)
	}

	// Ending the values with b makes every pattern match.
	long += "b"
	// (The action, like a real one, stays under maxActionLen.)
	req.Action = "bedrock:" + long[:200] + "b"
	req.Resource = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/" + long
	req.Context = MapContext{"aws:ResourceTag/team": {long}}
	st = stats{}
	if d, _ := evaluate([]*Policy{p}, req, &st); d != Allow {
		t.Errorf("decision %v, want allow", d)
	}
	if limit := 4 * (len(doc) + 3*len(long)); st.steps > limit {
		t.Errorf("%d steps, want at most %d", st.steps, limit)
	}
}

func TestCompileARN(t *testing.T) {
	tests := []struct {
		in    string
		parts [6]string // each part's pieces, rendered
		any   bool
	}{
		{in: "*", any: true},
		{in: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/*",
			parts: [6]string{"arn", "aws", "bedrock", "us-east-1", "123456789012", "application-inference-profile/|*"}},
		{in: "arn:*:bedrock:*::foundation-model/a:b:*",
			parts: [6]string{"arn", "*", "bedrock", "*", "", "foundation-model/a:b:|*"}},
		{in: "arn:aws:s3:::bucket/${aws:username}/*",
			parts: [6]string{"arn", "aws", "s3", "", "", "bucket/|${aws:username}|/|*"}},
		{in: "arn:aws:s3:::a${*}b",
			parts: [6]string{"arn", "aws", "s3", "", "", "a*b"}},
	}
	for _, tt := range tests {
		a, err := compileARN(tt.in, true, true)
		if err != nil {
			t.Errorf("compileARN(%q): %v", tt.in, err)
			continue
		}
		if a.any != tt.any {
			t.Errorf("compileARN(%q).any = %v", tt.in, a.any)
		}
		if tt.any {
			continue
		}
		for i, p := range a.parts {
			if got := render(p); got != tt.parts[i] {
				t.Errorf("compileARN(%q) part %d = %q, want %q", tt.in, i, got, tt.parts[i])
			}
		}
	}
}

// render shows a pattern's pieces separated by |.
func render(p pattern) string {
	var out []string
	for _, pc := range p.pieces {
		switch pc.kind {
		case pLit:
			out = append(out, pc.text)
		case pStar:
			out = append(out, "*")
		case pOne:
			out = append(out, "?")
		case pVar:
			out = append(out, "${"+pc.text+"}")
		}
	}
	return strings.Join(out, "|")
}

func TestParseDate(t *testing.T) {
	good := map[string]string{
		"2024-07-01T12:30:45Z":      "2024-07-01T12:30:45Z",
		"2024-07-01T12:30:45.5Z":    "2024-07-01T12:30:45.5Z",
		"2024-07-01T14:30:45+02:00": "2024-07-01T12:30:45Z",
		"2024-07-01T12:30Z":         "2024-07-01T12:30:00Z",
		"2024-07-01T12:30:45":       "2024-07-01T12:30:45Z",
		"2024-07-01T12:30":          "2024-07-01T12:30:00Z",
		"2024-07-01":                "2024-07-01T00:00:00Z",
		"2024-07":                   "2024-07-01T00:00:00Z",
		"2024":                      "2024-01-01T00:00:00Z",
		"20240701T123045Z":          "2024-07-01T12:30:45Z",
		"1719837045":                "2024-07-01T12:30:45Z",
		"1719837045.25":             "2024-07-01T12:30:45.25Z",
		"0":                         "1970-01-01T00:00:00Z",
		"-86400":                    "1969-12-31T00:00:00Z",
	}
	for in, want := range good {
		got, ok := parseDate(in)
		if !ok {
			t.Errorf("parseDate(%q) failed", in)
			continue
		}
		if s := got.UTC().Format("2006-01-02T15:04:05.999999999Z"); s != want {
			t.Errorf("parseDate(%q) = %s, want %s", in, s, want)
		}
	}
	for _, in := range []string{"", "yesterday", "2024-13-01", "2024-07-01T25:00:00Z", "1.", "12a", "1e9", "--1", "1719837045.1234567891", "9999999999999"} {
		if got, ok := parseDate(in); ok {
			t.Errorf("parseDate(%q) = %v, want failure", in, got)
		}
	}
}

func TestParseNumber(t *testing.T) {
	good := map[string]number{
		"10":                   {i: 10, f: 10, isInt: true},
		"-3":                   {i: -3, f: -3, isInt: true},
		"+3":                   {i: 3, f: 3, isInt: true},
		"2.5":                  {f: 2.5},
		".5":                   {f: 0.5},
		"1e3":                  {f: 1000},
		"99999999999999999999": {f: 1e20},
	}
	for in, want := range good {
		if got, ok := parseNumber(in); !ok || got != want {
			t.Errorf("parseNumber(%q) = %+v, %v; want %+v", in, got, ok, want)
		}
	}
	for _, in := range []string{"", "-", ".", "1.2.3", "0x10", "1e", "Inf", "NaN", "1_000", "1e999", " 1"} {
		if got, ok := parseNumber(in); ok {
			t.Errorf("parseNumber(%q) = %+v, want failure", in, got)
		}
	}
}

// TestEvaluateAllocs checks that a typical evaluation allocates nothing.
func TestEvaluateAllocs(t *testing.T) {
	p, err := Parse([]byte(`{"Version":"2012-10-17","Statement":[
		{"Effect":"Allow","Action":"bedrock:Invoke*","Resource":"arn:aws:bedrock:*:*:application-inference-profile/*",
		 "Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"},"IpAddress":{"aws:SourceIp":"10.0.0.0/8"},
		 "DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"},"Bool":{"aws:SecureTransport":"true"}}},
		{"Effect":"Deny","Action":"*","Resource":"arn:aws:bedrock:*:*:inference-profile/*"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	req := Request{
		Action:   "bedrock:InvokeModel",
		Resource: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh",
		Context: MapContext{
			"aws:ResourceTag/team":  {"claims"},
			"aws:PrincipalTag/team": {"claims"},
			"aws:SourceIp":          {"10.1.2.3"},
			"aws:CurrentTime":       {"2025-01-01T00:00:00Z"},
			"aws:SecureTransport":   {"true"},
		},
	}
	policies := []*Policy{p}
	allocs := testing.AllocsPerRun(100, func() {
		if d, _ := Evaluate(policies, req); d != Allow {
			t.Fatalf("decision %v", d)
		}
	})
	if allocs != 0 {
		t.Errorf("Evaluate allocates %v times, want 0", allocs)
	}
}
