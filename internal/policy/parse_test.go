package policy_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/policy"
)

// stmtDoc is a document with one statement made of the given members.
func stmtDoc(members string) string {
	return `{"Version":"2012-10-17","Statement":[{` + members + `}]}`
}

// condDoc is a document with one statement under the Condition block cond.
func condDoc(cond string) string {
	return stmtDoc(`"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":` + cond)
}

// TestParseRejects lists documents IAM would refuse, with the error each
// gives.
func TestParseRejects(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"not JSON", `{"Version":`, `policy: the document is not valid JSON: unexpected end`},
		{"JSON syntax", `{"Version" "2012-10-17"}`, `policy: the document is not valid JSON: invalid character '"' after object key (at byte 11)`},
		{"array document", `[]`, `policy: the document must be a JSON object`},
		{"trailing data", `{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}} {}`, `policy: the document has data after its JSON object`},
		{"unknown top-level key", `{"Version":"2012-10-17","Statements":[]}`, `policy: unknown element "Statements"`},
		{"bad Version", `{"Version":"2012-10-18","Statement":[]}`, `policy: Version: the Version must be "2012-10-17" or "2008-10-17"`},
		{"Version as a number", `{"Version":2012,"Statement":[]}`, `policy: Version: the Version must be "2012-10-17" or "2008-10-17"`},
		{"Id not a string", `{"Id":1,"Statement":[]}`, `policy: Id: the Id must be a string`},
		{"no Statement", `{"Version":"2012-10-17"}`, `policy: the document has no Statement`},
		{"empty Statement", `{"Version":"2012-10-17","Statement":[]}`, `policy: Statement: the Statement array is empty`},
		{"Statement a string", `{"Version":"2012-10-17","Statement":"Allow"}`, `policy: Statement: the Statement must be an object or an array of objects`},
		{"statement not an object", `{"Version":"2012-10-17","Statement":["Allow"]}`, `policy: Statement[0]: a statement must be an object`},
		{"no Effect", stmtDoc(`"Action":"*","Resource":"*"`), `policy: Statement[0]: the statement has no Effect`},
		{"Effect in lower case", stmtDoc(`"Effect":"allow","Action":"*","Resource":"*"`), `policy: Statement[0].Effect: the Effect must be "Allow" or "Deny", not "allow"`},
		{"Effect a boolean", stmtDoc(`"Effect":true,"Action":"*","Resource":"*"`), `policy: Statement[0].Effect: the Effect must be "Allow" or "Deny", not true`},
		{"Action and NotAction", stmtDoc(`"Effect":"Allow","Action":"*","NotAction":"iam:*","Resource":"*"`), `policy: Statement[0]: the statement has both Action and NotAction`},
		{"no Action", stmtDoc(`"Effect":"Allow","Resource":"*"`), `policy: Statement[0]: the statement has no Action or NotAction`},
		{"Resource and NotResource", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"*","NotResource":"*"`), `policy: Statement[0]: the statement has both Resource and NotResource`},
		{"no Resource", stmtDoc(`"Effect":"Allow","Action":"*"`), `policy: Statement[0]: the statement has no Resource or NotResource`},
		{"Principal", stmtDoc(`"Effect":"Allow","Principal":"*","Action":"*","Resource":"*"`), `policy: Statement[0].Principal: an identity policy must not specify a principal`},
		{"NotPrincipal", stmtDoc(`"Effect":"Deny","NotPrincipal":{"AWS":"arn:aws:iam::123456789012:root"},"Action":"*","Resource":"*"`), `policy: Statement[0].NotPrincipal: an identity policy must not specify a principal`},
		{"unknown statement key", stmtDoc(`"Effect":"Allow","Actions":"*","Resource":"*"`), `policy: Statement[0]: unknown element "Actions"`},
		{"action without a service", stmtDoc(`"Effect":"Allow","Action":"InvokeModel","Resource":"*"`), `policy: Statement[0].Action: action "InvokeModel" must be "*" or prefixed by a service, as in "bedrock:InvokeModel"`},
		{"wildcard service prefix", stmtDoc(`"Effect":"Allow","Action":"*:InvokeModel","Resource":"*"`), `policy: Statement[0].Action: action "*:InvokeModel" has an invalid service prefix`},
		{"space in an action", stmtDoc(`"Effect":"Allow","Action":"bedrock:Invoke Model","Resource":"*"`), `policy: Statement[0].Action: action "bedrock:Invoke Model" has an invalid character ' '`},
		{"action without a name", stmtDoc(`"Effect":"Allow","Action":"bedrock:","Resource":"*"`), `policy: Statement[0].Action: action "bedrock:" has no action name`},
		{"empty Action list", stmtDoc(`"Effect":"Allow","Action":[],"Resource":"*"`), `policy: Statement[0].Action: the list is empty`},
		{"number in Action list", stmtDoc(`"Effect":"Allow","Action":["bedrock:InvokeModel",1],"Resource":"*"`), `policy: Statement[0].Action: element 1 is not a string`},
		{"Action an object", stmtDoc(`"Effect":"Allow","Action":{"bedrock":"*"},"Resource":"*"`), `policy: Statement[0].Action: want a string or an array of strings`},
		{"resource not an ARN", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"application-inference-profile/*"`), `policy: Statement[0].Resource: "application-inference-profile/*" is not an ARN: want "*" or arn:partition:service:region:account:resource`},
		{"ARN with five parts", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"arn:aws:bedrock:us-east-1:*"`), `policy: Statement[0].Resource: "arn:aws:bedrock:us-east-1:*" is not an ARN: want "*" or arn:partition:service:region:account:resource`},
		{"ARN prefix in capitals", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"ARN:aws:bedrock:*:*:*"`), `policy: Statement[0].Resource: "ARN:aws:bedrock:*:*:*" is not an ARN: want "*" or arn:partition:service:region:account:resource`},
		{"wildcard in the arn prefix", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"a*:aws:bedrock:*:*:*"`), `policy: Statement[0].Resource: "a*:aws:bedrock:*:*:*" is not an ARN: want "*" or arn:partition:service:region:account:resource`},
		{"NotResource not an ARN", stmtDoc(`"Effect":"Allow","Action":"*","NotResource":["*","bucket"]`), `policy: Statement[0].NotResource: "bucket" is not an ARN: want "*" or arn:partition:service:region:account:resource`},
		{"variable before the fifth colon", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"arn:aws:bedrock:${aws:RequestedRegion}:*:*"`), `policy: Statement[0].Resource: "arn:aws:bedrock:${aws:RequestedRegion}:*:*": policy variables are allowed only in the resource part of an ARN, after the fifth colon`},
		{"unclosed variable", stmtDoc(`"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${aws:username"`), `policy: Statement[0].Resource: policy variable "${aws:username" is not closed by }`},
		{"default without quotes", condDoc(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, shared}"}}`), `policy: Statement[0].Condition.StringEquals.aws:ResourceTag/team: policy variable "${aws:PrincipalTag/team, shared}": the default value must be in single quotes`},
		{"default without a closing quote", condDoc(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'shared}"}}`), `policy: Statement[0].Condition.StringEquals.aws:ResourceTag/team: policy variable "${aws:PrincipalTag/team, 'shared}": the default value has no closing quote`},
		{"variable without a service prefix", condDoc(`{"StringEquals":{"aws:ResourceTag/team":"${team}"}}`), `policy: Statement[0].Condition.StringEquals.aws:ResourceTag/team: policy variable "${team}" does not name a condition key`},
		{"unknown operator", condDoc(`{"StringEqual":{"aws:ResourceTag/team":"claims"}}`), `policy: Statement[0].Condition.StringEqual: unknown condition operator "StringEqual"`},
		{"operator in lower case", condDoc(`{"stringequals":{"aws:ResourceTag/team":"claims"}}`), `policy: Statement[0].Condition.stringequals: unknown condition operator "stringequals"`},
		{"unknown set qualifier", condDoc(`{"ForSomeValues:StringEquals":{"aws:TagKeys":"dept"}}`), `policy: Statement[0].Condition.ForSomeValues:StringEquals: unknown condition operator "ForSomeValues:StringEquals"`},
		{"IfExists on its own", condDoc(`{"IfExists":{"aws:TagKeys":"dept"}}`), `policy: Statement[0].Condition.IfExists: unknown condition operator "IfExists"`},
		{"NullIfExists", condDoc(`{"NullIfExists":{"aws:ResourceTag/team":"true"}}`), `policy: Statement[0].Condition.NullIfExists: condition operator "NullIfExists": Null takes neither IfExists nor a set qualifier`},
		{"ForAllValues:Null", condDoc(`{"ForAllValues:Null":{"aws:TagKeys":"true"}}`), `policy: Statement[0].Condition.ForAllValues:Null: condition operator "ForAllValues:Null": Null takes neither IfExists nor a set qualifier`},
		{"Condition an array", condDoc(`[]`), `policy: Statement[0].Condition: the Condition must be an object`},
		{"operator maps to a string", condDoc(`{"StringEquals":"claims"}`), `policy: Statement[0].Condition.StringEquals: a condition operator must map keys to values`},
		{"null condition value", condDoc(`{"StringEquals":{"aws:ResourceTag/team":null}}`), `policy: Statement[0].Condition.StringEquals.aws:ResourceTag/team: a condition value must be a string, number or boolean, or an array of them`},
		{"nested condition values", condDoc(`{"StringEquals":{"aws:ResourceTag/team":[["claims"]]}}`), `policy: Statement[0].Condition.StringEquals.aws:ResourceTag/team: a condition value must be a string, number or boolean, or an array of them`},
		{"no condition values", condDoc(`{"StringEquals":{"aws:ResourceTag/team":[]}}`), `policy: Statement[0].Condition.StringEquals.aws:ResourceTag/team: the condition has no values`},
		{"bad number", condDoc(`{"NumericLessThan":{"s3:max-keys":"ten"}}`), `policy: Statement[0].Condition.NumericLessThan.s3:max-keys: "ten" is not a number`},
		{"variable in a numeric operator", condDoc(`{"NumericLessThan":{"s3:max-keys":"${aws:PrincipalTag/max}"}}`), `policy: Statement[0].Condition.NumericLessThan.s3:max-keys: "${aws:PrincipalTag/max}" is not a number`},
		{"bad date", condDoc(`{"DateLessThan":{"aws:CurrentTime":"next tuesday"}}`), `policy: Statement[0].Condition.DateLessThan.aws:CurrentTime: "next tuesday" is not a date (ISO 8601 or epoch seconds)`},
		{"bad boolean", condDoc(`{"Bool":{"aws:SecureTransport":"yes"}}`), `policy: Statement[0].Condition.Bool.aws:SecureTransport: "yes" is not "true" or "false"`},
		{"bad Null value", condDoc(`{"Null":{"aws:ResourceTag/team":1}}`), `policy: Statement[0].Condition.Null.aws:ResourceTag/team: "1" is not "true" or "false"`},
		{"bad address", condDoc(`{"IpAddress":{"aws:SourceIp":"300.1.1.1/8"}}`), `policy: Statement[0].Condition.IpAddress.aws:SourceIp: "300.1.1.1/8" is not an IP address or CIDR block`},
		{"bad binary", condDoc(`{"BinaryEquals":{"tollgate:Blob":"***"}}`), `policy: Statement[0].Condition.BinaryEquals.tollgate:Blob: "***" is not base64`},
		{"ArnLike on a non-ARN", condDoc(`{"ArnLike":{"aws:PrincipalArn":"role/admin"}}`), `policy: Statement[0].Condition.ArnLike.aws:PrincipalArn: "role/admin" is not an ARN: want "*" or arn:partition:service:region:account:resource`},
		{"key without a service prefix", condDoc(`{"StringEquals":{"team":"claims"}}`), `policy: Statement[0].Condition.StringEquals: invalid condition key "team"`},
		{"tag key missing", condDoc(`{"StringEquals":{"aws:ResourceTag/":"claims"}}`), `policy: Statement[0].Condition.StringEquals: invalid condition key "aws:ResourceTag/"`},
		{"duplicate Sid", `{"Version":"2012-10-17","Statement":[{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"},{"Sid":"A","Effect":"Deny","Action":"*","Resource":"*"}]}`, `policy: Statement[1].Sid: Sid "A" is already used by statement 0; Sids must be unique`},
		{"Sid with a hyphen", stmtDoc(`"Sid":"allow-invoke","Effect":"Allow","Action":"*","Resource":"*"`), `policy: Statement[0].Sid: Sid "allow-invoke" may hold only ASCII letters and digits`},
		{"Sid a number", stmtDoc(`"Sid":1,"Effect":"Allow","Action":"*","Resource":"*"`), `policy: Statement[0].Sid: the Sid must be a string`},
		{"duplicate key", `{"Version":"2012-10-17","Version":"2012-10-17","Statement":[]}`, `policy: duplicate key "Version"`},
		{"duplicate operator", condDoc(`{"StringEquals":{"aws:ResourceTag/a":"x"},"StringEquals":{"aws:ResourceTag/b":"y"}}`), `policy: duplicate key "StringEquals"`},
		{"too deep", condDoc(`{"StringEquals":{"aws:ResourceTag/a":[[[[["x"]]]]]}}`), `policy: the document nests deeper than 8 levels`},
		{"not UTF-8", "{\"Statement\":\"\xff\"}", `policy: the document is not valid UTF-8`},
		{"too large", stmtDoc(`"Effect":"Allow","Action":"*","Resource":["` + strings.Repeat("x", 6200) + `"]`), `policy: the document is larger than 6144 characters (white space aside)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := policy.Parse([]byte(tt.doc))
			if err == nil {
				t.Fatalf("Parse succeeded with %d statements, want error %q", len(p.Statements), tt.want)
			}
			var pe *policy.ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse error %T %v is not a *ParseError", err, err)
			}
			if got := err.Error(); got != tt.want {
				t.Errorf("Parse error:\n got %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestParseLimits(t *testing.T) {
	// White space outside strings does not count; inside it does.
	padded := []byte(`{"Version":"2012-10-17",` + strings.Repeat(" \n\t", 3000) + `"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`)
	if _, err := policy.Parse(padded); err != nil {
		t.Errorf("Parse of a padded document: %v", err)
	}
	spaced := stmtDoc(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/x":"` + strings.Repeat(" ", 6100) + `"}}`)
	if _, err := policy.Parse([]byte(spaced)); err == nil {
		t.Error("Parse accepted 6100 spaces inside a string")
	}

	two := `{"Version":"2012-10-17","Statement":[` +
		`{"Effect":"Allow","Action":"bedrock:Get*","Resource":"*"},` +
		`{"Effect":"Allow","Action":"bedrock:List*","Resource":"*"}]}`
	three := strings.Replace(two, `]}`, `,{"Effect":"Deny","Action":"*","Resource":"*"}]}`, 1)
	tests := []struct {
		limits policy.Limits
		doc    string
		want   string // "" for success
	}{
		{policy.Limits{MaxStatements: 2}, two, ""},
		{policy.Limits{MaxStatements: 2}, three, "policy: Statement: the document has 3 statements, more than 2"},
		{policy.Limits{MaxChars: len(two)}, two, ""},
		{policy.Limits{MaxChars: len(two) - 1}, two, fmt.Sprintf("policy: the document is larger than %d characters (white space aside)", len(two)-1)},
		{policy.Limits{MaxChars: 10240}, stmtDoc(`"Effect":"Allow","Action":"*","Resource":["` + strings.Repeat("x", 6200) + `"]`), `policy: Statement[0].Resource: "` + strings.Repeat("x", 120) + `..." is not an ARN: want "*" or arn:partition:service:region:account:resource`},
	}
	for i, tt := range tests {
		_, err := tt.limits.Parse([]byte(tt.doc))
		got := ""
		if err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("case %d: Parse error %q, want %q", i, got, tt.want)
		}
	}
}

// statementView is the exported part of a Statement, for comparison.
type statementView struct {
	Sid         string
	Effect      string
	Action      []string
	NotAction   []string
	Resource    []string
	NotResource []string
	Conditions  []policy.Condition
}

func TestParseAccepts(t *testing.T) {
	p, err := policy.Parse([]byte(`{
  "Version": "2012-10-17",
  "Id": "ClaimsTeam",
  "Statement": [
    {
      "Sid": "Invoke",
      "Effect": "Allow",
      "Action": "bedrock:InvokeModel",
      "Resource": ["arn:aws:bedrock:*:*:application-inference-profile/*"],
      "Condition": {
        "StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}", "aws:ResourceTag/dept": ["claims", "sales"]},
        "NumericLessThanEquals": {"s3:max-keys": 10},
        "Bool": {"aws:SecureTransport": true}
      }
    },
    {"Effect": "Deny", "NotAction": ["bedrock:Get*", "bedrock:List*"], "NotResource": "*"}
  ]
}`))
	if err != nil {
		t.Fatal(err)
	}
	if p.Version != policy.Version2012 || p.ID != "ClaimsTeam" {
		t.Errorf("Version %q, ID %q", p.Version, p.ID)
	}
	var got []statementView
	for _, s := range p.Statements {
		got = append(got, statementView{s.Sid, s.Effect.String(), s.Action, s.NotAction, s.Resource, s.NotResource, s.Conditions})
	}
	want := []statementView{
		{
			Sid: "Invoke", Effect: "Allow",
			Action:   []string{"bedrock:InvokeModel"},
			Resource: []string{"arn:aws:bedrock:*:*:application-inference-profile/*"},
			Conditions: []policy.Condition{
				{Operator: "StringEquals", Key: "aws:ResourceTag/team", Values: []string{"${aws:PrincipalTag/team}"}},
				{Operator: "StringEquals", Key: "aws:ResourceTag/dept", Values: []string{"claims", "sales"}},
				{Operator: "NumericLessThanEquals", Key: "s3:max-keys", Values: []string{"10"}},
				{Operator: "Bool", Key: "aws:SecureTransport", Values: []string{"true"}},
			},
		},
		{
			Effect:      "Deny",
			NotAction:   []string{"bedrock:Get*", "bedrock:List*"},
			NotResource: []string{"*"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("statements (-want +got):\n%s", diff)
	}

	// Other documents IAM accepts.
	for _, d := range []string{
		`{"Statement":{"Effect":"Allow","Action":"*","Resource":"*"}}`,
		`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"arn:aws:s3:::b/${x}"}]}`,
		stmtDoc(`"Sid":"","Effect":"Allow","Action":"*","Resource":"*"`),
		stmtDoc(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{}`),
		stmtDoc(`"Effect":"Allow","Action":"*","Resource":"*","Condition":{"StringEquals":{}}`),
		condDoc(`{"ForAnyValue:StringNotEqualsIgnoreCaseIfExists":{"aws:TagKeys":["a"]}}`),
		condDoc(`{"DateGreaterThan":{"aws:CurrentTime":["2024","2024-07","20240701T000000Z",1719792000]}}`),
		condDoc(`{"IpAddress":{"aws:SourceIp":["10.0.0.1/8","::ffff:10.0.0.0/104","2001:db8::1"]}}`),
		condDoc(`{"StringLike":{"aws:ResourceTag/a":"${ aws:PrincipalTag/a , 'x' }"}}`),
		condDoc(`{"StringEquals":{"aws:ResourceTag/cost center":"${aws:PrincipalTag/cost center}"}}`),
	} {
		if _, err := policy.Parse([]byte(d)); err != nil {
			t.Errorf("Parse(%s): %v", d, err)
		}
	}
}

func TestEffectString(t *testing.T) {
	for e, want := range map[policy.Effect]string{policy.EffectAllow: "Allow", policy.EffectDeny: "Deny", policy.Effect(0): "Effect(0)"} {
		if got := e.String(); got != want {
			t.Errorf("Effect(%d).String() = %q, want %q", int(e), got, want)
		}
	}
}

// TestParseKnownServices checks Limits.Services: an action of a service
// whose every action is known must exist (IAM's "Invalid Action"), while
// wildcards and other services' actions pass as written.
func TestParseKnownServices(t *testing.T) {
	l := policy.Limits{Services: map[string][]string{"tollgate": {"GetMetrics", "PutPolicy"}}}
	for _, tc := range []struct {
		name, doc, wantErr string
	}{
		{"unknown tollgate action", stmtDoc(`"Effect":"Allow","Action":"tollgate:Frobnicate","Resource":"*"`),
			`policy: Statement[0].Action: Invalid Action: the action "tollgate:Frobnicate" does not exist`},
		{"unknown in NotAction", stmtDoc(`"Effect":"Deny","NotAction":["tollgate:GetMetrics","tollgate:PutPolicies"],"Resource":"*"`),
			`policy: Statement[0].NotAction: Invalid Action: the action "tollgate:PutPolicies" does not exist`},
		{"prefix in capitals", stmtDoc(`"Effect":"Allow","Action":"Tollgate:Frobnicate","Resource":"*"`),
			`policy: Statement[0].Action: Invalid Action: the action "Tollgate:Frobnicate" does not exist`},
		{"known action", stmtDoc(`"Effect":"Allow","Action":"tollgate:GetMetrics","Resource":"*"`), ""},
		{"known action in another case", stmtDoc(`"Effect":"Allow","Action":"tollgate:putpolicy","Resource":"*"`), ""},
		{"wildcard", stmtDoc(`"Effect":"Allow","Action":"tollgate:Frob*","Resource":"*"`), ""},
		{"another service", stmtDoc(`"Effect":"Allow","Action":"bedrock:Frobnicate","Resource":"*"`), ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := l.Parse([]byte(tc.doc))
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tc.wantErr {
				t.Errorf("Parse: %q, want %q", got, tc.wantErr)
			}
			var pe *policy.ParseError
			if err != nil && !errors.As(err, &pe) {
				t.Errorf("error %T, want *policy.ParseError", err)
			}
		})
	}
	if _, err := policy.Parse([]byte(stmtDoc(`"Effect":"Allow","Action":"tollgate:Frobnicate","Resource":"*"`))); err != nil {
		t.Errorf("without Services, a well-formed action is accepted: %v", err)
	}
}
