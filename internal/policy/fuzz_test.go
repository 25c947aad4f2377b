package policy

import (
	"errors"
	"strings"
	"testing"
	"unicode/utf8"
)

// fuzzDocs seed both fuzz targets: the Bedrock scenarios, every operator
// family, variables, and pathological wildcards.
var fuzzDocs = []string{
	`{"Version":"2012-10-17","Statement":[{"Sid":"InvokeOwnTeamProfiles","Effect":"Allow","Action":["bedrock:InvokeModel","bedrock:InvokeModelWithResponseStream"],"Resource":"arn:aws:bedrock:*:*:application-inference-profile/*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:CreateInferenceProfile","Resource":"arn:aws:bedrock:*:*:application-inference-profile/*","Condition":{"Null":{"aws:RequestTag/dept":"false","aws:RequestTag/app":"false"},"ForAllValues:StringEquals":{"aws:TagKeys":["dept","app","env"]}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*","Resource":"*"},{"Sid":"DenySystem","Effect":"Deny","Action":"bedrock:InvokeModel*","Resource":"arn:aws:bedrock:*:*:inference-profile/*"}]}`,
	`{"Version":"2012-10-17","Statement":{"Effect":"Deny","NotAction":["bedrock:Get*","bedrock:List*"],"NotResource":"arn:aws:bedrock:us-east-1:*:*"}}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NumericLessThanEquals":{"s3:max-keys":10},"DateGreaterThan":{"aws:CurrentTime":"2024-07-01T00:00:00Z"},"DateLessThan":{"aws:EpochTime":1893456000},"Bool":{"aws:SecureTransport":true},"IpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]},"BinaryEquals":{"tollgate:Blob":"aGVsbG8="}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Action":"*","Resource":"*","Condition":{"StringNotEqualsIgnoreCaseIfExists":{"aws:ResourceTag/env":"${aws:PrincipalTag/env, 'dev'}"},"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"},"ForAnyValue:StringLike":{"aws:TagKeys":["${*}x?","a${$}${?}"]}}}]}`,
	`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:?nvoke*","Resource":"arn:aws:s3:::b/${aws:username}/*","Condition":{"StringLike":{"aws:ResourceTag/a":"${x"}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:*a*a*a*a*a*a*a*a*b","Resource":"arn:aws:bedrock:*:*:application-inference-profile/*a*a*a*a*a*a*a*a*a*a*b","Condition":{"StringLike":{"aws:ResourceTag/team":"a*a*a*a*a*a*a*a*a*a*a*a*b"}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:bedrock:*:*:*?????????????????????x*","Condition":{"StringLike":{"aws:ResourceTag/team":"*${aws:PrincipalTag/team}?${aws:PrincipalTag/team}*"}}}]}`,
	`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"}]}`,
	`{"Statement":[{"Effect":"Allow","Action":"*","Resource":"*","Condition":{"NullIfExists":{"a:b":"true"}}}]}`,
	`[`,
}

// FuzzParse feeds arbitrary documents to Parse: it must not panic, must
// reject with a *ParseError, and what it accepts must be well formed and
// evaluate the same way twice.
func FuzzParse(f *testing.F) {
	for _, d := range fuzzDocs {
		f.Add([]byte(d))
	}
	reqs := []Request{
		{Action: "bedrock:InvokeModel", Resource: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh",
			Context: MapContext{"aws:PrincipalTag/team": {"a"}, "aws:ResourceTag/team": {"a"}, "aws:TagKeys": {"dept", "app"}}},
		{Action: "bedrock:CreateInferenceProfile", Resource: "*", Context: MapContext{"aws:CurrentTime": {"2025-01-01T00:00:00Z"}, "aws:SourceIp": {"203.0.113.9"}}},
		{Action: "", Resource: ""},
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T is not a *ParseError: %v", err, err)
			}
			if p != nil {
				t.Fatal("Parse returned a policy with an error")
			}
			return
		}
		if len(p.Statements) == 0 {
			t.Fatal("accepted a policy without statements")
		}
		for i, s := range p.Statements {
			if s.Effect != EffectAllow && s.Effect != EffectDeny {
				t.Errorf("statement %d has Effect %v", i, s.Effect)
			}
			if (len(s.Action) == 0) == (len(s.NotAction) == 0) || (len(s.Resource) == 0) == (len(s.NotResource) == 0) {
				t.Errorf("statement %d: want exactly one of Action and NotAction, and of Resource and NotResource", i)
			}
			if len(s.Conditions) != len(s.conditions) {
				t.Errorf("statement %d: %d conditions listed, %d compiled", i, len(s.Conditions), len(s.conditions))
			}
		}
		again, err := Parse(doc)
		if err != nil {
			t.Fatalf("second Parse failed: %v", err)
		}
		for _, req := range reqs {
			d1, m1 := Evaluate([]*Policy{p}, req)
			d2, m2 := Evaluate([]*Policy{again}, req)
			if d1 != d2 || m1 != m2 {
				t.Errorf("two parses of one document decide %v (%v) and %v (%v)", d1, m1, d2, m2)
			}
		}
	})
}

// FuzzEvaluate evaluates arbitrary documents against arbitrary requests:
// no panic, a decision that names a statement of the right effect, the
// same decision when the policy is attached twice, and work within a
// bound set by the sizes of the document and the request, which no
// wildcard pattern can escape.
func FuzzEvaluate(f *testing.F) {
	for _, d := range fuzzDocs {
		f.Add([]byte(d), "bedrock:InvokeModel", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh", "aws:ResourceTag/team", "a", "dept,app")
	}
	f.Add([]byte(fuzzDocs[7]), "bedrock:"+strings.Repeat("a", 200), "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"+strings.Repeat("a", 2000), "aws:ResourceTag/team", strings.Repeat("a", 2000), "")
	f.Add([]byte(fuzzDocs[4]), "s3:GetObject", "arn:aws:s3:::bucket/key", "s3:max-keys", "10", "")
	f.Add([]byte(fuzzDocs[2]), "bedrock:InvokeModelWithResponseStream", "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.x:0", "aws:SourceIp", "::ffff:203.0.113.9", "")
	f.Fuzz(func(t *testing.T, doc []byte, action, resource, key, value, tagKeys string) {
		p, err := Parse(doc)
		if err != nil {
			return
		}
		ctx := MapContext{
			key:                     {value},
			"aws:TagKeys":           strings.Split(tagKeys, ","),
			"aws:PrincipalTag/team": {value},
			"aws:SourceIp":          {value},
			"aws:CurrentTime":       {value},
			"aws:SecureTransport":   {value},
			"aws:PrincipalArn":      {resource},
		}
		req := Request{Action: action, Resource: resource, Context: ctx}
		var st stats
		d, m := evaluate([]*Policy{p}, req, &st)
		switch d {
		case ImplicitDeny:
			if m != noMatch {
				t.Errorf("implicit deny with Match %+v", m)
			}
		case Allow, ExplicitDeny:
			s := p.Statements[m.Statement]
			if want := map[Decision]Effect{Allow: EffectAllow, ExplicitDeny: EffectDeny}[d]; s.Effect != want || s.Sid != m.Sid || m.Policy != 0 {
				t.Errorf("decision %v by %+v, a statement with Effect %v", d, m, s.Effect)
			}
		default:
			t.Fatalf("decision %v", d)
		}
		d2, m2 := Evaluate([]*Policy{p, p}, req)
		if d2 != d || m2 != m {
			t.Errorf("attached twice: %v (%+v), once: %v (%+v)", d2, m2, d, m)
		}

		// Each pattern is matched against one value per call; a call's
		// work is bounded by (value + pieces)^2, and a document of n
		// characters has fewer than n pieces and leads to fewer than n
		// calls per value of the request.
		n := len(doc) + 2
		vmax := max(len(action), len(resource), len(key), len(value)) + 2
		nv := len(ctx["aws:TagKeys"]) + 1
		if limit := 4 * n * nv * (vmax + n) * (vmax + n); st.steps > limit {
			t.Errorf("%d steps for a %d-byte document and %d-byte values, want at most %d", st.steps, len(doc), vmax, limit)
		}
	})
}

// FuzzGlob checks the wildcard matcher against the reference dynamic
// program, and that its steps stay within the product of the pattern's and
// the value's lengths.
func FuzzGlob(f *testing.F) {
	f.Add("arn:aws:bedrock:*:*:application-inference-profile/*", "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd")
	f.Add(strings.Repeat("a*", 40)+"b", strings.Repeat("a", 400))
	f.Add("*"+strings.Repeat("?", 30)+"b*", strings.Repeat("a", 300)+"b")
	f.Add("é?*ab?*", "éxéabéé")
	f.Add("bedrock:Invoke*", "BEDROCK:invokemodel")
	f.Fuzz(func(t *testing.T, pat, s string) {
		if !utf8.ValidString(pat) || !utf8.ValidString(s) || len(pat) > 512 || len(s) > 2048 {
			return
		}
		p, err := compilePattern(pat, true, false)
		if err != nil {
			t.Fatalf("compilePattern(%q): %v", pat, err)
		}
		var st stats
		if got, want := p.match(s, emptyContext{}, &st), globRef(pat, s, false); got != want {
			t.Errorf("match(%q, %q) = %v, want %v", pat, s, got, want)
		}
		if limit := 4 * (len(pat) + 2) * (len(s) + 2); st.steps > limit {
			t.Errorf("match(%q, %q): %d steps, want at most %d", pat, s, st.steps, limit)
		}
		if len(s) <= maxActionLen && isASCII(pat) && isASCII(s) {
			st = stats{}
			if got, want := p.matchAction(s, &st), globRef(pat, s, true); got != want {
				t.Errorf("matchAction(%q, %q) = %v, want %v", pat, s, got, want)
			}
			if limit := 4 * (len(pat) + 2) * (len(s) + 2); st.steps > limit {
				t.Errorf("matchAction(%q, %q): %d steps, want at most %d", pat, s, st.steps, limit)
			}
		}
	})
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}
