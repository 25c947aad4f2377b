package policy_test

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/policy"
)

// ARNs the cases act on.
const (
	appARN   = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh"
	appARN2  = "arn:aws:bedrock:us-west-2:123456789012:application-inference-profile/zyxw9876vuts"
	sysARN   = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0"
	sysARNeu = "arn:aws:bedrock:eu-west-1:123456789012:inference-profile/eu.anthropic.claude-3-haiku-20240307-v1:0"
	fmARN    = "arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"
	govARN   = "arn:aws-us-gov:bedrock:us-gov-west-1:123456789012:application-inference-profile/abcd1234efgh"
	roleARN  = "arn:aws:iam::123456789012:role/claims-automation"
)

// Actions the cases request.
const (
	invoke       = "bedrock:InvokeModel"
	invokeStream = "bedrock:InvokeModelWithResponseStream"
	create       = "bedrock:CreateInferenceProfile"
	getProfile   = "bedrock:GetInferenceProfile"
	listProfiles = "bedrock:ListInferenceProfiles"
)

// evalCase is one row of the evaluation matrix: the identity policies
// attached to a principal, a request, and the decision AWS's documented
// logic gives. sid, when set, is the Sid of the statement that must
// decide.
type evalCase struct {
	name     string
	policies []string
	req      policy.Request
	want     policy.Decision
	sid      string
}

// doc wraps statements in a 2012-10-17 document.
func doc(stmts ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(stmts, ",") + `]}`
}

// allowIf is one policy allowing bedrock:InvokeModel on any resource when
// the Condition block cond holds.
func allowIf(cond string) []string {
	return []string{doc(`{"Sid":"Cond","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":` + cond + `}`)}
}

// denyIf is one policy allowing everything and denying
// bedrock:InvokeModel when the Condition block cond holds.
func denyIf(cond string) []string {
	return []string{doc(
		`{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}`,
		`{"Sid":"Cond","Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"*","Condition":`+cond+`}`,
	)}
}

// allowOn is one policy allowing action on resource.
func allowOn(action, resource string) []string {
	return []string{doc(`{"Sid":"A","Effect":"Allow","Action":` + action + `,"Resource":` + resource + `}`)}
}

// ctx builds a context of single-valued keys from key, value pairs.
func ctx(kv ...string) policy.MapContext {
	c := policy.MapContext{}
	for i := 0; i+1 < len(kv); i += 2 {
		c[kv[i]] = []string{kv[i+1]}
	}
	return c
}

func rq(action, resource string, c policy.MapContext) policy.Request {
	return policy.Request{Action: action, Resource: resource, Context: c}
}

// call is an InvokeModel request on the application profile.
func call(c policy.MapContext) policy.Request { return rq(invoke, appARN, c) }

var precedenceCases = []evalCase{
	{name: "allow matches", policies: allowOn(`"bedrock:InvokeModel"`, `"*"`), req: call(nil), want: policy.Allow, sid: "A"},
	{name: "deny beats allow in one policy", policies: []string{doc(
		`{"Sid":"Allow","Effect":"Allow","Action":"bedrock:*","Resource":"*"}`,
		`{"Sid":"Deny","Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"*"}`,
	)}, req: call(nil), want: policy.ExplicitDeny, sid: "Deny"},
	{name: "deny listed first still wins", policies: []string{doc(
		`{"Sid":"Deny","Effect":"Deny","Action":"bedrock:InvokeModel","Resource":"*"}`,
		`{"Sid":"Allow","Effect":"Allow","Action":"bedrock:*","Resource":"*"}`,
	)}, req: call(nil), want: policy.ExplicitDeny, sid: "Deny"},
	{name: "deny in a later policy beats allow in an earlier one", policies: []string{
		doc(`{"Sid":"Allow","Effect":"Allow","Action":"*","Resource":"*"}`),
		doc(`{"Sid":"Deny","Effect":"Deny","Action":"bedrock:Invoke*","Resource":"*"}`),
	}, req: call(nil), want: policy.ExplicitDeny, sid: "Deny"},
	{name: "deny of another action leaves the allow", policies: []string{doc(
		`{"Sid":"Allow","Effect":"Allow","Action":"bedrock:*","Resource":"*"}`,
		`{"Sid":"Deny","Effect":"Deny","Action":"bedrock:DeleteInferenceProfile","Resource":"*"}`,
	)}, req: call(nil), want: policy.Allow, sid: "Allow"},
	{name: "deny whose condition fails leaves the allow", policies: []string{doc(
		`{"Sid":"Allow","Effect":"Allow","Action":"bedrock:*","Resource":"*"}`,
		`{"Sid":"Deny","Effect":"Deny","Action":"bedrock:*","Resource":"*","Condition":{"StringEquals":{"aws:PrincipalTag/team":"banned"}}}`,
	)}, req: call(ctx("aws:PrincipalTag/team", "claims")), want: policy.Allow, sid: "Allow"},
	{name: "deny alone denies explicitly", policies: []string{doc(`{"Sid":"Deny","Effect":"Deny","Action":"*","Resource":"*"}`)},
		req: call(nil), want: policy.ExplicitDeny, sid: "Deny"},
	{name: "first of two allows decides", policies: []string{doc(
		`{"Sid":"First","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}`,
		`{"Sid":"Second","Effect":"Allow","Action":"bedrock:*","Resource":"*"}`,
	)}, req: call(nil), want: policy.Allow, sid: "First"},
	{name: "statement as an object", policies: []string{`{"Version":"2012-10-17","Statement":{"Sid":"One","Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*"}}`},
		req: call(nil), want: policy.Allow, sid: "One"},
	{name: "nil policy skipped", policies: []string{"", doc(`{"Sid":"A","Effect":"Allow","Action":"*","Resource":"*"}`)},
		req: call(nil), want: policy.Allow, sid: "A"},
}

var implicitDenyCases = []evalCase{
	{name: "no policies", policies: nil, req: call(nil), want: policy.ImplicitDeny},
	{name: "allow of another action", policies: allowOn(`"bedrock:GetInferenceProfile"`, `"*"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "allow of another resource", policies: allowOn(`"bedrock:InvokeModel"`, `"`+appARN2+`"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "allow whose condition fails", policies: allowIf(`{"StringEquals":{"aws:PrincipalAccount":"999999999999"}}`),
		req: call(ctx("aws:PrincipalAccount", "123456789012")), want: policy.ImplicitDeny},
	{name: "allow of another service", policies: allowOn(`"s3:*"`, `"*"`), req: call(nil), want: policy.ImplicitDeny},
}

var actionCases = []evalCase{
	{name: "exact", policies: allowOn(`"bedrock:InvokeModel"`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "policy in lower case", policies: allowOn(`"bedrock:invokemodel"`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "request in upper case", policies: allowOn(`"bedrock:InvokeModel"`, `"*"`), req: rq("BEDROCK:INVOKEMODEL", appARN, nil), want: policy.Allow},
	{name: "service wildcard", policies: allowOn(`"bedrock:*"`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "everything", policies: allowOn(`"*"`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "prefix wildcard", policies: allowOn(`"bedrock:Invoke*"`, `"*"`), req: rq(invokeStream, appARN, nil), want: policy.Allow},
	{name: "prefix wildcard misses", policies: allowOn(`"bedrock:Invoke*"`, `"*"`), req: rq("bedrock:Converse", appARN, nil), want: policy.ImplicitDeny},
	{name: "question mark is one character", policies: allowOn(`"bedrock:?nvokeModel"`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "question mark needs a character", policies: allowOn(`"bedrock:InvokeModel?"`, `"*"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "infix wildcard, any case", policies: allowOn(`"bedrock:*profile*"`, `"*"`), req: rq(listProfiles, "*", nil), want: policy.Allow},
	{name: "suffix wildcard", policies: allowOn(`"bedrock:*Model"`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "one of a list", policies: allowOn(`["bedrock:GetInferenceProfile","bedrock:InvokeModel"]`, `"*"`), req: call(nil), want: policy.Allow},
	{name: "exact does not match a longer action", policies: allowOn(`"bedrock:InvokeModel"`, `"*"`), req: rq(invokeStream, appARN, nil), want: policy.ImplicitDeny},
	{name: "other service's wildcard", policies: allowOn(`"bedrock-runtime:*"`, `"*"`), req: call(nil), want: policy.ImplicitDeny},
}

var notActionCases = []evalCase{
	{name: "allow all but create: invoke allowed", policies: []string{doc(`{"Effect":"Allow","NotAction":"bedrock:CreateInferenceProfile","Resource":"*"}`)},
		req: call(nil), want: policy.Allow},
	{name: "allow all but create: create not allowed", policies: []string{doc(`{"Effect":"Allow","NotAction":"bedrock:Create*","Resource":"*"}`)},
		req: rq(create, appARN, nil), want: policy.ImplicitDeny},
	{name: "deny all but invoke: list denied", policies: []string{doc(
		`{"Effect":"Allow","Action":"*","Resource":"*"}`,
		`{"Sid":"OnlyInvoke","Effect":"Deny","NotAction":["bedrock:Invoke*","bedrock:Converse*"],"Resource":"*"}`,
	)}, req: rq(listProfiles, "*", nil), want: policy.ExplicitDeny, sid: "OnlyInvoke"},
	{name: "deny all but invoke: invoke allowed", policies: []string{doc(
		`{"Sid":"All","Effect":"Allow","Action":"*","Resource":"*"}`,
		`{"Sid":"OnlyInvoke","Effect":"Deny","NotAction":["bedrock:Invoke*","bedrock:Converse*"],"Resource":"*"}`,
	)}, req: call(nil), want: policy.Allow, sid: "All"},
	{name: "NotAction ignores case", policies: []string{doc(`{"Effect":"Allow","NotAction":"BEDROCK:INVOKEMODEL","Resource":"*"}`)},
		req: call(nil), want: policy.ImplicitDeny},
	{name: "NotAction of another service allows bedrock", policies: []string{doc(`{"Effect":"Allow","NotAction":"iam:*","Resource":"*"}`)},
		req: call(nil), want: policy.Allow},
}

var resourceCases = []evalCase{
	{name: "exact ARN", policies: allowOn(`"*"`, `"`+appARN+`"`), req: call(nil), want: policy.Allow},
	{name: "application profiles anywhere", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:application-inference-profile/*"`), req: call(nil), want: policy.Allow},
	{name: "application pattern misses system profile", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:application-inference-profile/*"`), req: rq(invoke, sysARN, nil), want: policy.ImplicitDeny},
	{name: "other region", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-west-2:*:application-inference-profile/*"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "other account", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:210987654321:application-inference-profile/*"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "region prefix wildcard", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-*:123456789012:application-inference-profile/*"`), req: call(nil), want: policy.Allow},
	{name: "question mark in account", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-east-1:12345678901?:application-inference-profile/*"`), req: call(nil), want: policy.Allow},
	{name: "wildcard in region does not cross a colon", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:123456789012:application-inference-profile/*"`),
		req: rq(invoke, "arn:aws:bedrock:us-east-1:extra:123456789012:application-inference-profile/abcd1234efgh", nil), want: policy.ImplicitDeny},
	{name: "empty account matched by star", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:foundation-model/*"`), req: rq(invoke, fmARN, nil), want: policy.Allow},
	{name: "account needs a character for ?", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:?*:foundation-model/*"`), req: rq(invoke, fmARN, nil), want: policy.ImplicitDeny},
	{name: "resource part star crosses slash and colon", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-east-1::foundation-model/anthropic.*"`), req: rq(invoke, fmARN, nil), want: policy.Allow},
	{name: "resource part is case-sensitive", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-east-1:123456789012:Application-Inference-Profile/*"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "star resource, non-ARN request", policies: allowOn(`"*"`, `"*"`), req: rq(listProfiles, "*", nil), want: policy.Allow},
	{name: "ARN pattern, non-ARN request", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:*"`), req: rq(listProfiles, "*", nil), want: policy.ImplicitDeny},
	{name: "second of a list", policies: allowOn(`"*"`, `["`+appARN2+`","`+appARN+`"]`), req: call(nil), want: policy.Allow},
	{name: "partition wildcard", policies: allowOn(`"*"`, `"arn:*:bedrock:*:123456789012:application-inference-profile/*"`), req: rq(invoke, govARN, nil), want: policy.Allow},
	{name: "partition differs", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:123456789012:application-inference-profile/*"`), req: rq(invoke, govARN, nil), want: policy.ImplicitDeny},
	{name: "question mark at the end", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efg?"`), req: call(nil), want: policy.Allow},
	{name: "question mark is exactly one", policies: allowOn(`"*"`, `"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234ef?"`), req: call(nil), want: policy.ImplicitDeny},
	{name: "other service", policies: allowOn(`"*"`, `"arn:aws:s3:::*"`), req: call(nil), want: policy.ImplicitDeny},
}

var notResourceCases = []evalCase{
	{name: "allow all but system profiles: application", policies: []string{doc(`{"Effect":"Allow","Action":"bedrock:*","NotResource":"arn:aws:bedrock:*:*:inference-profile/*"}`)},
		req: call(nil), want: policy.Allow},
	{name: "allow all but system profiles: system", policies: []string{doc(`{"Effect":"Allow","Action":"bedrock:*","NotResource":"arn:aws:bedrock:*:*:inference-profile/*"}`)},
		req: rq(invoke, sysARN, nil), want: policy.ImplicitDeny},
	{name: "deny outside us-east-1: other region", policies: []string{doc(
		`{"Effect":"Allow","Action":"*","Resource":"*"}`,
		`{"Sid":"OnlyUsEast1","Effect":"Deny","Action":"bedrock:*","NotResource":["arn:aws:bedrock:us-east-1:*:*","arn:aws:bedrock:us-east-1::*"]}`,
	)}, req: rq(invoke, appARN2, nil), want: policy.ExplicitDeny, sid: "OnlyUsEast1"},
	{name: "deny outside us-east-1: us-east-1", policies: []string{doc(
		`{"Effect":"Allow","Action":"*","Resource":"*"}`,
		`{"Sid":"OnlyUsEast1","Effect":"Deny","Action":"bedrock:*","NotResource":["arn:aws:bedrock:us-east-1:*:*"]}`,
	)}, req: call(nil), want: policy.Allow},
	{name: "NotResource star matches nothing", policies: []string{doc(`{"Effect":"Allow","Action":"*","NotResource":"*"}`)},
		req: call(nil), want: policy.ImplicitDeny},
	{name: "NotResource with a non-ARN request", policies: []string{doc(`{"Effect":"Allow","Action":"*","NotResource":"arn:aws:bedrock:*:*:inference-profile/*"}`)},
		req: rq(listProfiles, "*", nil), want: policy.Allow},
}

var stringCases = []evalCase{
	{name: "StringEquals matches", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"claims"}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.Allow},
	{name: "StringEquals differs", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"claims"}}`), req: call(ctx("aws:ResourceTag/team", "sales")), want: policy.ImplicitDeny},
	{name: "StringEquals is case-sensitive", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"claims"}}`), req: call(ctx("aws:ResourceTag/team", "Claims")), want: policy.ImplicitDeny},
	{name: "StringEquals missing key", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"claims"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "StringEquals values are ORed", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":["sales","claims"]}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.Allow},
	{name: "StringEquals keys are ANDed", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"claims","aws:ResourceTag/dept":"ops"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:ResourceTag/dept", "sales")), want: policy.ImplicitDeny},
	{name: "operators are ANDed", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"claims"},"StringLike":{"aws:ResourceTag/app":"claims_*"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:ResourceTag/app", "claims_chatbot")), want: policy.Allow},
	{name: "condition key names ignore case", policies: allowIf(`{"StringEquals":{"AWS:resourcetag/TEAM":"claims"}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.Allow},
	{name: "StringEquals has no wildcards", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"cl*"}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.ImplicitDeny},
	{name: "StringEquals empty value", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":""}}`), req: call(ctx("aws:ResourceTag/team", "")), want: policy.Allow},
	{name: "StringNotEquals differs", policies: allowIf(`{"StringNotEquals":{"aws:ResourceTag/env":"prod"}}`), req: call(ctx("aws:ResourceTag/env", "dev")), want: policy.Allow},
	{name: "StringNotEquals equal", policies: allowIf(`{"StringNotEquals":{"aws:ResourceTag/env":"prod"}}`), req: call(ctx("aws:ResourceTag/env", "prod")), want: policy.ImplicitDeny},
	{name: "StringNotEquals missing key", policies: allowIf(`{"StringNotEquals":{"aws:ResourceTag/env":"prod"}}`), req: call(nil), want: policy.Allow},
	{name: "StringNotEquals matches none of the values", policies: allowIf(`{"StringNotEquals":{"aws:ResourceTag/env":["prod","staging"]}}`), req: call(ctx("aws:ResourceTag/env", "staging")), want: policy.ImplicitDeny},
	{name: "StringEqualsIgnoreCase", policies: allowIf(`{"StringEqualsIgnoreCase":{"aws:ResourceTag/team":"CLAIMS"}}`), req: call(ctx("aws:ResourceTag/team", "Claims")), want: policy.Allow},
	{name: "StringEqualsIgnoreCase differs", policies: allowIf(`{"StringEqualsIgnoreCase":{"aws:ResourceTag/team":"CLAIMS"}}`), req: call(ctx("aws:ResourceTag/team", "sales")), want: policy.ImplicitDeny},
	{name: "StringEqualsIgnoreCase missing key", policies: allowIf(`{"StringEqualsIgnoreCase":{"aws:ResourceTag/team":"claims"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "StringNotEqualsIgnoreCase equal but for case", policies: allowIf(`{"StringNotEqualsIgnoreCase":{"aws:ResourceTag/env":"PROD"}}`), req: call(ctx("aws:ResourceTag/env", "prod")), want: policy.ImplicitDeny},
	{name: "StringNotEqualsIgnoreCase missing key", policies: allowIf(`{"StringNotEqualsIgnoreCase":{"aws:ResourceTag/env":"PROD"}}`), req: call(nil), want: policy.Allow},
	{name: "StringLike star", policies: allowIf(`{"StringLike":{"aws:ResourceTag/app":"claims_*"}}`), req: call(ctx("aws:ResourceTag/app", "claims_chatbot")), want: policy.Allow},
	{name: "StringLike question mark", policies: allowIf(`{"StringLike":{"aws:ResourceTag/env":"dev?"}}`), req: call(ctx("aws:ResourceTag/env", "dev2")), want: policy.Allow},
	{name: "StringLike misses", policies: allowIf(`{"StringLike":{"aws:ResourceTag/app":"claims_*"}}`), req: call(ctx("aws:ResourceTag/app", "chat_app")), want: policy.ImplicitDeny},
	{name: "StringLike star requires the key", policies: allowIf(`{"StringLike":{"aws:RequestTag/project":"*"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "StringLike star matches empty value", policies: allowIf(`{"StringLike":{"aws:RequestTag/project":"*"}}`), req: call(ctx("aws:RequestTag/project", "")), want: policy.Allow},
	{name: "StringNotLike matching value", policies: allowIf(`{"StringNotLike":{"aws:ResourceTag/env":"prod*"}}`), req: call(ctx("aws:ResourceTag/env", "production")), want: policy.ImplicitDeny},
	{name: "StringNotLike other value", policies: allowIf(`{"StringNotLike":{"aws:ResourceTag/env":"prod*"}}`), req: call(ctx("aws:ResourceTag/env", "dev")), want: policy.Allow},
	{name: "StringNotLike missing key", policies: allowIf(`{"StringNotLike":{"aws:ResourceTag/env":"prod*"}}`), req: call(nil), want: policy.Allow},
	{name: "PrincipalAccount", policies: allowIf(`{"StringEquals":{"aws:PrincipalAccount":"123456789012"}}`), req: call(ctx("aws:PrincipalAccount", "123456789012")), want: policy.Allow},
	{name: "number as a string value", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/cost_center":1234}}`), req: call(ctx("aws:ResourceTag/cost_center", "1234")), want: policy.Allow},
}

var numericCases = []evalCase{
	{name: "LessThan below", policies: allowIf(`{"NumericLessThan":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "5")), want: policy.Allow},
	{name: "LessThan equal", policies: allowIf(`{"NumericLessThan":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "10")), want: policy.ImplicitDeny},
	{name: "LessThanEquals equal", policies: allowIf(`{"NumericLessThanEquals":{"s3:max-keys":10}}`), req: call(ctx("s3:max-keys", "10")), want: policy.Allow},
	{name: "GreaterThan above", policies: allowIf(`{"NumericGreaterThan":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "11")), want: policy.Allow},
	{name: "GreaterThan equal", policies: allowIf(`{"NumericGreaterThan":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "10")), want: policy.ImplicitDeny},
	{name: "GreaterThanEquals equal", policies: allowIf(`{"NumericGreaterThanEquals":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "10")), want: policy.Allow},
	{name: "Equals compares numbers", policies: allowIf(`{"NumericEquals":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "10.0")), want: policy.Allow},
	{name: "Equals decimals", policies: allowIf(`{"NumericEquals":{"s3:max-keys":2.5}}`), req: call(ctx("s3:max-keys", "2.50")), want: policy.Allow},
	{name: "NotEquals differs", policies: allowIf(`{"NumericNotEquals":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "11")), want: policy.Allow},
	{name: "NotEquals equal", policies: allowIf(`{"NumericNotEquals":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "10")), want: policy.ImplicitDeny},
	{name: "NotEquals missing key", policies: allowIf(`{"NumericNotEquals":{"s3:max-keys":"10"}}`), req: call(nil), want: policy.Allow},
	{name: "LessThan missing key", policies: allowIf(`{"NumericLessThan":{"s3:max-keys":"10"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "unreadable request value", policies: allowIf(`{"NumericLessThan":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "five")), want: policy.ImplicitDeny},
	{name: "unreadable request value under a negated operator", policies: allowIf(`{"NumericNotEquals":{"s3:max-keys":"10"}}`), req: call(ctx("s3:max-keys", "ten")), want: policy.ImplicitDeny},
	{name: "negative numbers", policies: allowIf(`{"NumericLessThan":{"s3:max-keys":"-1"}}`), req: call(ctx("s3:max-keys", "-2")), want: policy.Allow},
}

var dateCases = []evalCase{
	{name: "inside a CurrentTime window", policies: allowIf(`{"DateGreaterThan":{"aws:CurrentTime":"2024-07-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-12-31T23:59:59Z"}}`),
		req: call(ctx("aws:CurrentTime", "2024-09-15T12:00:00Z")), want: policy.Allow},
	{name: "before the window", policies: allowIf(`{"DateGreaterThan":{"aws:CurrentTime":"2024-07-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-12-31T23:59:59Z"}}`),
		req: call(ctx("aws:CurrentTime", "2024-06-30T23:59:59Z")), want: policy.ImplicitDeny},
	{name: "after the window", policies: allowIf(`{"DateGreaterThan":{"aws:CurrentTime":"2024-07-01T00:00:00Z"},"DateLessThan":{"aws:CurrentTime":"2024-12-31T23:59:59Z"}}`),
		req: call(ctx("aws:CurrentTime", "2025-01-01T00:00:00Z")), want: policy.ImplicitDeny},
	{name: "missing CurrentTime", policies: allowIf(`{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "date without time", policies: allowIf(`{"DateLessThan":{"aws:CurrentTime":"2024-07-01"}}`), req: call(ctx("aws:CurrentTime", "2024-06-30T23:59:59Z")), want: policy.Allow},
	{name: "zone offset", policies: allowIf(`{"DateLessThan":{"aws:CurrentTime":"2024-07-01T02:00:00+02:00"}}`), req: call(ctx("aws:CurrentTime", "2024-07-01T00:00:00Z")), want: policy.ImplicitDeny},
	{name: "epoch in the policy, ISO in the request", policies: allowIf(`{"DateGreaterThanEquals":{"aws:CurrentTime":"1719792000"}}`), req: call(ctx("aws:CurrentTime", "2024-07-01T00:00:00Z")), want: policy.Allow},
	{name: "EpochTime against ISO", policies: allowIf(`{"DateLessThan":{"aws:EpochTime":"2024-07-01T00:00:00Z"}}`), req: call(ctx("aws:EpochTime", "1719791999")), want: policy.Allow},
	{name: "EpochTime at the bound", policies: allowIf(`{"DateLessThan":{"aws:EpochTime":1719792000}}`), req: call(ctx("aws:EpochTime", "1719792000")), want: policy.ImplicitDeny},
	{name: "DateEquals the same instant", policies: allowIf(`{"DateEquals":{"aws:CurrentTime":"2024-07-01T00:00:00Z"}}`), req: call(ctx("aws:CurrentTime", "2024-07-01T02:00:00+02:00")), want: policy.Allow},
	{name: "DateNotEquals", policies: allowIf(`{"DateNotEquals":{"aws:CurrentTime":"2024-07-01T00:00:00Z"}}`), req: call(ctx("aws:CurrentTime", "2024-07-01T00:00:01Z")), want: policy.Allow},
	{name: "DateLessThanEquals at the bound", policies: allowIf(`{"DateLessThanEquals":{"aws:CurrentTime":"2024-07-01T00:00:00Z"}}`), req: call(ctx("aws:CurrentTime", "2024-07-01T00:00:00.000Z")), want: policy.Allow},
	{name: "unreadable request date", policies: allowIf(`{"DateLessThan":{"aws:CurrentTime":"2030-01-01T00:00:00Z"}}`), req: call(ctx("aws:CurrentTime", "yesterday")), want: policy.ImplicitDeny},
	{name: "deny after a deadline", policies: denyIf(`{"DateGreaterThan":{"aws:CurrentTime":"2024-12-31T23:59:59Z"}}`), req: call(ctx("aws:CurrentTime", "2025-01-02T09:00:00Z")), want: policy.ExplicitDeny, sid: "Cond"},
}

var boolCases = []evalCase{
	{name: "SecureTransport true", policies: allowIf(`{"Bool":{"aws:SecureTransport":"true"}}`), req: call(ctx("aws:SecureTransport", "true")), want: policy.Allow},
	{name: "SecureTransport false", policies: allowIf(`{"Bool":{"aws:SecureTransport":"true"}}`), req: call(ctx("aws:SecureTransport", "false")), want: policy.ImplicitDeny},
	{name: "missing key", policies: allowIf(`{"Bool":{"aws:SecureTransport":"true"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "deny plain HTTP, JSON boolean", policies: denyIf(`{"Bool":{"aws:SecureTransport":false}}`), req: call(ctx("aws:SecureTransport", "false")), want: policy.ExplicitDeny, sid: "Cond"},
	{name: "deny plain HTTP, key missing", policies: denyIf(`{"Bool":{"aws:SecureTransport":false}}`), req: call(nil), want: policy.Allow},
	{name: "BoolIfExists deny, key missing", policies: denyIf(`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`), req: call(nil), want: policy.ExplicitDeny},
	{name: "BoolIfExists deny, key true", policies: denyIf(`{"BoolIfExists":{"aws:MultiFactorAuthPresent":"false"}}`), req: call(ctx("aws:MultiFactorAuthPresent", "true")), want: policy.Allow},
	{name: "case of the value", policies: allowIf(`{"Bool":{"aws:SecureTransport":"TRUE"}}`), req: call(ctx("aws:SecureTransport", "True")), want: policy.Allow},
	{name: "BinaryEquals", policies: allowIf(`{"BinaryEquals":{"tollgate:Blob":"aGVsbG8="}}`), req: call(ctx("tollgate:Blob", "hello")), want: policy.Allow},
	{name: "BinaryEquals differs", policies: allowIf(`{"BinaryEquals":{"tollgate:Blob":"aGVsbG8="}}`), req: call(ctx("tollgate:Blob", "hellO")), want: policy.ImplicitDeny},
}

var ipCases = []evalCase{
	{name: "inside the block", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(ctx("aws:SourceIp", "203.0.113.7")), want: policy.Allow},
	{name: "outside the block", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(ctx("aws:SourceIp", "198.51.100.1")), want: policy.ImplicitDeny},
	{name: "one of several blocks", policies: allowIf(`{"IpAddress":{"aws:SourceIp":["198.51.100.0/24","203.0.113.0/24"]}}`), req: call(ctx("aws:SourceIp", "203.0.113.7")), want: policy.Allow},
	{name: "single address", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"203.0.113.7"}}`), req: call(ctx("aws:SourceIp", "203.0.113.7")), want: policy.Allow},
	{name: "IPv6 block", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"2001:db8::/32"}}`), req: call(ctx("aws:SourceIp", "2001:db8:1234::1")), want: policy.Allow},
	{name: "IPv4-mapped request address", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(ctx("aws:SourceIp", "::ffff:203.0.113.7")), want: policy.Allow},
	{name: "missing SourceIp", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "unreadable SourceIp", policies: allowIf(`{"IpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(ctx("aws:SourceIp", "203.0.113")), want: policy.ImplicitDeny},
	{name: "deny outside the office", policies: denyIf(`{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`), req: call(ctx("aws:SourceIp", "198.51.100.1")), want: policy.ExplicitDeny, sid: "Cond"},
	{name: "deny outside the office: inside", policies: denyIf(`{"NotIpAddress":{"aws:SourceIp":["203.0.113.0/24","2001:db8::/32"]}}`), req: call(ctx("aws:SourceIp", "203.0.113.9")), want: policy.Allow},
	{name: "deny outside the office: no SourceIp", policies: denyIf(`{"NotIpAddress":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(nil), want: policy.ExplicitDeny},
}

var arnCases = []evalCase{
	{name: "ArnLike PrincipalArn", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/claims-*"}}`), req: call(ctx("aws:PrincipalArn", roleARN)), want: policy.Allow},
	{name: "ArnEquals takes wildcards too", policies: allowIf(`{"ArnEquals":{"aws:PrincipalArn":"arn:aws:iam::*:role/claims-automation"}}`), req: call(ctx("aws:PrincipalArn", roleARN)), want: policy.Allow},
	{name: "ArnLike misses", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/sales-*"}}`), req: call(ctx("aws:PrincipalArn", roleARN)), want: policy.ImplicitDeny},
	{name: "ArnLike missing key", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/*"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "ArnNotLike other role", policies: allowIf(`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/sales-*"}}`), req: call(ctx("aws:PrincipalArn", roleARN)), want: policy.Allow},
	{name: "ArnNotEquals same role", policies: allowIf(`{"ArnNotEquals":{"aws:PrincipalArn":"` + roleARN + `"}}`), req: call(ctx("aws:PrincipalArn", roleARN)), want: policy.ImplicitDeny},
	{name: "ArnNotLike missing key", policies: allowIf(`{"ArnNotLike":{"aws:PrincipalArn":"arn:aws:iam::123456789012:role/sales-*"}}`), req: call(nil), want: policy.Allow},
	{name: "ArnLike on a value that is not an ARN", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/*"}}`), req: call(ctx("aws:PrincipalArn", "claims-automation")), want: policy.ImplicitDeny},
	{name: "ArnLike account wildcard stays in its part", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::*:role/claims-automation"}}`),
		req: call(ctx("aws:PrincipalArn", "arn:aws:iam::123456789012:x:role/claims-automation")), want: policy.ImplicitDeny},
}

var ifExistsCases = []evalCase{
	{name: "StringEqualsIfExists missing", policies: allowIf(`{"StringEqualsIfExists":{"aws:ResourceTag/env":"dev"}}`), req: call(nil), want: policy.Allow},
	{name: "StringEqualsIfExists present and equal", policies: allowIf(`{"StringEqualsIfExists":{"aws:ResourceTag/env":"dev"}}`), req: call(ctx("aws:ResourceTag/env", "dev")), want: policy.Allow},
	{name: "StringEqualsIfExists present and different", policies: allowIf(`{"StringEqualsIfExists":{"aws:ResourceTag/env":"dev"}}`), req: call(ctx("aws:ResourceTag/env", "prod")), want: policy.ImplicitDeny},
	{name: "NumericLessThanIfExists missing", policies: allowIf(`{"NumericLessThanIfExists":{"s3:max-keys":"10"}}`), req: call(nil), want: policy.Allow},
	{name: "StringLikeIfExists present", policies: allowIf(`{"StringLikeIfExists":{"aws:ResourceTag/app":"claims_*"}}`), req: call(ctx("aws:ResourceTag/app", "chat_app")), want: policy.ImplicitDeny},
	{name: "deny StringNotEqualsIfExists, other value", policies: denyIf(`{"StringNotEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}`), req: call(ctx("aws:RequestedRegion", "eu-west-1")), want: policy.ExplicitDeny},
	{name: "deny StringNotEqualsIfExists, missing", policies: denyIf(`{"StringNotEqualsIfExists":{"aws:RequestedRegion":"us-east-1"}}`), req: call(nil), want: policy.ExplicitDeny},
	{name: "IpAddressIfExists missing", policies: allowIf(`{"IpAddressIfExists":{"aws:SourceIp":"203.0.113.0/24"}}`), req: call(nil), want: policy.Allow},
	{name: "DateLessThanIfExists present and late", policies: allowIf(`{"DateLessThanIfExists":{"aws:CurrentTime":"2024-01-01T00:00:00Z"}}`), req: call(ctx("aws:CurrentTime", "2024-06-01T00:00:00Z")), want: policy.ImplicitDeny},
	{name: "ArnLikeIfExists missing", policies: allowIf(`{"ArnLikeIfExists":{"bedrock:InferenceProfileArn":"arn:aws:bedrock:*:*:application-inference-profile/*"}}`), req: call(nil), want: policy.Allow},
}

var nullCases = []evalCase{
	{name: "Null true, key missing", policies: allowIf(`{"Null":{"aws:ResourceTag/team":"true"}}`), req: call(nil), want: policy.Allow},
	{name: "Null true, key present", policies: allowIf(`{"Null":{"aws:ResourceTag/team":"true"}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.ImplicitDeny},
	{name: "Null false, key present", policies: allowIf(`{"Null":{"aws:ResourceTag/team":"false"}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.Allow},
	{name: "Null false, key missing", policies: allowIf(`{"Null":{"aws:ResourceTag/team":"false"}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "Null false, empty value is present", policies: allowIf(`{"Null":{"aws:ResourceTag/team":false}}`), req: call(ctx("aws:ResourceTag/team", "")), want: policy.Allow},
	{name: "Null true, empty TagKeys is null", policies: allowIf(`{"Null":{"aws:TagKeys":"true"}}`), req: call(policy.MapContext{"aws:TagKeys": {}}), want: policy.Allow},
	{name: "Null true and false, either", policies: allowIf(`{"Null":{"aws:ResourceTag/team":["true","false"]}}`), req: call(nil), want: policy.Allow},
	{name: "deny when a tag is missing", policies: denyIf(`{"Null":{"aws:ResourceTag/cost_center":"true"}}`), req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.ExplicitDeny, sid: "Cond"},
}

// tagKeys is a context whose aws:TagKeys holds keys.
func tagKeys(keys ...string) policy.MapContext {
	return policy.MapContext{"aws:TagKeys": keys}
}

var setCases = []evalCase{
	{name: "ForAllValues subset", policies: allowIf(`{"ForAllValues:StringEquals":{"aws:TagKeys":["dept","app"]}}`), req: call(tagKeys("dept")), want: policy.Allow},
	{name: "ForAllValues whole set", policies: allowIf(`{"ForAllValues:StringEquals":{"aws:TagKeys":["dept","app"]}}`), req: call(tagKeys("app", "dept")), want: policy.Allow},
	{name: "ForAllValues extra key", policies: allowIf(`{"ForAllValues:StringEquals":{"aws:TagKeys":["dept","app"]}}`), req: call(tagKeys("dept", "owner")), want: policy.ImplicitDeny},
	{name: "ForAllValues missing key is true", policies: allowIf(`{"ForAllValues:StringEquals":{"aws:TagKeys":["dept","app"]}}`), req: call(nil), want: policy.Allow},
	{name: "ForAllValues empty set is true", policies: allowIf(`{"ForAllValues:StringEquals":{"aws:TagKeys":["dept","app"]}}`), req: call(tagKeys()), want: policy.Allow},
	{name: "ForAnyValue one matches", policies: allowIf(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys("app", "dept")), want: policy.Allow},
	{name: "ForAnyValue none matches", policies: allowIf(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys("app")), want: policy.ImplicitDeny},
	{name: "ForAnyValue missing key is false", policies: allowIf(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["dept"]}}`), req: call(nil), want: policy.ImplicitDeny},
	{name: "ForAnyValue empty set is false", policies: allowIf(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys()), want: policy.ImplicitDeny},
	{name: "ForAllValues:StringLike", policies: allowIf(`{"ForAllValues:StringLike":{"aws:TagKeys":["cost_*","app"]}}`), req: call(tagKeys("cost_center", "app")), want: policy.Allow},
	{name: "ForAnyValue:StringNotEquals some other key", policies: allowIf(`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys("dept", "app")), want: policy.Allow},
	{name: "ForAnyValue:StringNotEquals only that key", policies: allowIf(`{"ForAnyValue:StringNotEquals":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys("dept")), want: policy.ImplicitDeny},
	{name: "ForAllValues:StringNotEquals none forbidden", policies: allowIf(`{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`), req: call(tagKeys("dept", "app")), want: policy.Allow},
	{name: "ForAllValues:StringNotEquals one forbidden", policies: allowIf(`{"ForAllValues:StringNotEquals":{"aws:TagKeys":["secret"]}}`), req: call(tagKeys("dept", "secret")), want: policy.ImplicitDeny},
	{name: "deny ForAnyValue forbidden key", policies: denyIf(`{"ForAnyValue:StringEquals":{"aws:TagKeys":["secret","internal"]}}`), req: call(tagKeys("app", "internal")), want: policy.ExplicitDeny, sid: "Cond"},
	{name: "ForAnyValue:StringEqualsIfExists missing", policies: allowIf(`{"ForAnyValue:StringEqualsIfExists":{"aws:TagKeys":["dept"]}}`), req: call(nil), want: policy.Allow},
	{name: "no qualifier on a multi-valued key: any matches", policies: allowIf(`{"StringEquals":{"aws:TagKeys":"dept"}}`), req: call(tagKeys("app", "dept")), want: policy.Allow},
	{name: "no qualifier, negated: one value matches", policies: allowIf(`{"StringNotEquals":{"aws:TagKeys":"dept"}}`), req: call(tagKeys("app", "dept")), want: policy.ImplicitDeny},
	{name: "no qualifier, negated: none matches", policies: allowIf(`{"StringNotEquals":{"aws:TagKeys":"dept"}}`), req: call(tagKeys("app", "env")), want: policy.Allow},
	{name: "set values are case-sensitive", policies: allowIf(`{"ForAllValues:StringEquals":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys("Dept")), want: policy.ImplicitDeny},
	{name: "ForAllValues:StringEqualsIgnoreCase", policies: allowIf(`{"ForAllValues:StringEqualsIgnoreCase":{"aws:TagKeys":["dept"]}}`), req: call(tagKeys("Dept", "DEPT")), want: policy.Allow},
}

var variableCases = []evalCase{
	{name: "principal tag equals resource tag", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:PrincipalTag/team", "claims")), want: policy.Allow},
	{name: "principal tag differs", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:PrincipalTag/team", "sales")), want: policy.ImplicitDeny},
	{name: "missing variable: positive operator does not match", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.ImplicitDeny},
	{name: "missing variable: negated operator matches", policies: allowIf(`{"StringNotEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.Allow},
	{name: "deny team mismatch, principal untagged", policies: denyIf(`{"StringNotEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims")), want: policy.ExplicitDeny, sid: "Cond"},
	{name: "in the resource part", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/profile}"`),
		req: call(ctx("aws:PrincipalTag/profile", "abcd1234efgh")), want: policy.Allow},
	{name: "in the resource part, other value", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/profile}"`),
		req: call(ctx("aws:PrincipalTag/profile", "zyxw9876vuts")), want: policy.ImplicitDeny},
	{name: "missing variable in Resource matches nothing", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/profile}"`),
		req: call(nil), want: policy.ImplicitDeny},
	{name: "missing variable in NotResource excludes nothing", policies: []string{doc(
		`{"Effect":"Allow","Action":"*","Resource":"*"}`,
		`{"Sid":"OwnOnly","Effect":"Deny","Action":"bedrock:InvokeModel","NotResource":"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/profile}"}`,
	)}, req: call(nil), want: policy.ExplicitDeny, sid: "OwnOnly"},
	{name: "default when missing", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'shared'}"}}`),
		req: call(ctx("aws:ResourceTag/team", "shared")), want: policy.Allow},
	{name: "default ignored when present", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team, 'shared'}"}}`),
		req: call(ctx("aws:ResourceTag/team", "shared", "aws:PrincipalTag/team", "claims")), want: policy.ImplicitDeny},
	{name: "default in a resource", policies: allowOn(`"*"`, `"arn:aws:bedrock:*:*:application-inference-profile/${aws:PrincipalTag/profile,'abcd1234efgh'}"`),
		req: call(nil), want: policy.Allow},
	{name: "default with a doubled quote", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/owner":"${aws:PrincipalTag/owner, 'o''brien'}"}}`),
		req: call(ctx("aws:ResourceTag/owner", "o'brien")), want: policy.Allow},
	{name: "variable inside a like pattern", policies: allowIf(`{"StringLike":{"aws:ResourceTag/app":"${aws:PrincipalTag/team}_*"}}`),
		req: call(ctx("aws:ResourceTag/app", "claims_chatbot", "aws:PrincipalTag/team", "claims")), want: policy.Allow},
	{name: "substituted star is literal", policies: allowIf(`{"StringLike":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:PrincipalTag/team", "*")), want: policy.ImplicitDeny},
	{name: "escaped star is literal", policies: allowIf(`{"StringLike":{"aws:ResourceTag/note":"a${*}*"}}`),
		req: call(ctx("aws:ResourceTag/note", "a*b")), want: policy.Allow},
	{name: "escaped star needs a star", policies: allowIf(`{"StringLike":{"aws:ResourceTag/note":"a${*}*"}}`),
		req: call(ctx("aws:ResourceTag/note", "ab")), want: policy.ImplicitDeny},
	{name: "escaped question mark and dollar", policies: allowIf(`{"StringLike":{"aws:ResourceTag/note":"${$}${?}?"}}`),
		req: call(ctx("aws:ResourceTag/note", "$?x")), want: policy.Allow},
	{name: "variable key ignores case", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${AWS:principaltag/TEAM}"}}`),
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:PrincipalTag/team", "claims")), want: policy.Allow},
	{name: "multi-valued key is no variable", policies: allowIf(`{"StringEquals":{"aws:ResourceTag/team":"${aws:TagKeys}"}}`),
		req: call(policy.MapContext{"aws:ResourceTag/team": {"dept"}, "aws:TagKeys": {"dept", "app"}}), want: policy.ImplicitDeny},
	{name: "variable in an ARN condition", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}`),
		req: call(ctx("aws:PrincipalArn", roleARN, "aws:PrincipalAccount", "123456789012")), want: policy.Allow},
	{name: "variable in an ARN condition, other account", policies: allowIf(`{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::${aws:PrincipalAccount}:role/*"}}`),
		req: call(ctx("aws:PrincipalArn", roleARN, "aws:PrincipalAccount", "210987654321")), want: policy.ImplicitDeny},
	{name: "IgnoreCase with a variable", policies: allowIf(`{"StringEqualsIgnoreCase":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}`),
		req: call(ctx("aws:ResourceTag/team", "CLAIMS", "aws:PrincipalTag/team", "claims")), want: policy.Allow},
	{name: "version 2008 compares the text", policies: []string{`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}`},
		req: call(ctx("aws:ResourceTag/team", "${aws:PrincipalTag/team}")), want: policy.Allow},
	{name: "version 2008 does not substitute", policies: []string{`{"Version":"2008-10-17","Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}`},
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:PrincipalTag/team", "claims")), want: policy.ImplicitDeny},
	{name: "no version does not substitute", policies: []string{`{"Statement":[{"Effect":"Allow","Action":"bedrock:InvokeModel","Resource":"*","Condition":{"StringEquals":{"aws:ResourceTag/team":"${aws:PrincipalTag/team}"}}}]}`},
		req: call(ctx("aws:ResourceTag/team", "claims", "aws:PrincipalTag/team", "claims")), want: policy.ImplicitDeny},
}

// The Bedrock scenarios of DESIGN.md, written as the policies security
// would attach.
var (
	teamPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "InvokeOwnTeamProfiles",
      "Effect": "Allow",
      "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"],
      "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
      "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    },
    {
      "Sid": "ReadProfiles",
      "Effect": "Allow",
      "Action": ["bedrock:GetInferenceProfile", "bedrock:ListInferenceProfiles"],
      "Resource": "*"
    }
  ]
}`
	createPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "CreateTaggedProfiles",
      "Effect": "Allow",
      "Action": "bedrock:CreateInferenceProfile",
      "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
      "Condition": {
        "Null": {"aws:RequestTag/dept": "false", "aws:RequestTag/app": "false"},
        "ForAllValues:StringEquals": {"aws:TagKeys": ["dept", "app", "team", "env", "cost_center", "tenant"]}
      }
    },
    {
      "Sid": "CopyFromModels",
      "Effect": "Allow",
      "Action": "bedrock:CreateInferenceProfile",
      "Resource": ["arn:aws:bedrock:*::foundation-model/*", "arn:aws:bedrock:*:*:inference-profile/*"]
    }
  ]
}`
	denyUntaggedCreate = `{
  "Version": "2012-10-17",
  "Statement": {
    "Sid": "DenyCreateWithoutCostTags",
    "Effect": "Deny",
    "Action": "bedrock:CreateInferenceProfile",
    "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
    "Condition": {"Null": {"aws:RequestTag/dept": "true"}}
  }
}`
	systemPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "UseBedrock", "Effect": "Allow", "Action": "bedrock:*", "Resource": "*"},
    {
      "Sid": "DenySystemDefinedProfiles",
      "Effect": "Deny",
      "Action": ["bedrock:InvokeModel*", "bedrock:Converse*"],
      "Resource": "arn:aws:bedrock:*:*:inference-profile/*"
    }
  ]
}`
	viaProfilePolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "InvokeProfiles", "Effect": "Allow", "Action": "bedrock:InvokeModel", "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*"},
    {
      "Sid": "ModelsOnlyThroughProfiles",
      "Effect": "Allow",
      "Action": "bedrock:InvokeModel",
      "Resource": "arn:aws:bedrock:*::foundation-model/*",
      "Condition": {"ArnLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:application-inference-profile/*"}}
    }
  ]
}`
)

// createReq is a CreateInferenceProfile request carrying tags.
func createReq(tags map[string]string) policy.Request {
	c := policy.MapContext{}
	c.SetTags(policy.KeyRequestTag, tags)
	return rq(create, appARN, c)
}

var bedrockCases = []evalCase{
	{name: "team: own team's profile", policies: []string{teamPolicy},
		req: call(ctx("aws:PrincipalTag/team", "automation", "aws:ResourceTag/team", "automation", "aws:ResourceTag/dept", "claims")), want: policy.Allow, sid: "InvokeOwnTeamProfiles"},
	{name: "team: streaming on own team's profile", policies: []string{teamPolicy},
		req: rq(invokeStream, appARN, ctx("aws:PrincipalTag/team", "automation", "aws:ResourceTag/team", "automation")), want: policy.Allow},
	{name: "team: other team's profile", policies: []string{teamPolicy},
		req: call(ctx("aws:PrincipalTag/team", "automation", "aws:ResourceTag/team", "support")), want: policy.ImplicitDeny},
	{name: "team: untagged profile", policies: []string{teamPolicy},
		req: call(ctx("aws:PrincipalTag/team", "automation")), want: policy.ImplicitDeny},
	{name: "team: untagged principal", policies: []string{teamPolicy},
		req: call(ctx("aws:ResourceTag/team", "automation")), want: policy.ImplicitDeny},
	{name: "team: tag values are case-sensitive", policies: []string{teamPolicy},
		req: call(ctx("aws:PrincipalTag/team", "Automation", "aws:ResourceTag/team", "automation")), want: policy.ImplicitDeny},
	{name: "team: tag key case does not matter", policies: []string{teamPolicy},
		req: call(ctx("aws:PrincipalTag/Team", "automation", "aws:ResourceTag/TEAM", "automation")), want: policy.Allow},
	{name: "team: foundation model directly", policies: []string{teamPolicy},
		req: rq(invoke, fmARN, ctx("aws:PrincipalTag/team", "automation", "aws:ResourceTag/team", "automation")), want: policy.ImplicitDeny},
	{name: "team: reading any profile", policies: []string{teamPolicy},
		req: rq(getProfile, appARN2, ctx("aws:PrincipalTag/team", "automation", "aws:ResourceTag/team", "support")), want: policy.Allow, sid: "ReadProfiles"},
	{name: "create: dept and app", policies: []string{createPolicy},
		req: createReq(map[string]string{"dept": "sales", "app": "chat_app"}), want: policy.Allow, sid: "CreateTaggedProfiles"},
	{name: "create: dept, app and more allowed keys", policies: []string{createPolicy},
		req: createReq(map[string]string{"dept": "sales", "app": "chat_app", "team": "support", "env": "prod"}), want: policy.Allow},
	{name: "create: app missing", policies: []string{createPolicy},
		req: createReq(map[string]string{"dept": "sales", "team": "support"}), want: policy.ImplicitDeny},
	{name: "create: unlisted tag key", policies: []string{createPolicy},
		req: createReq(map[string]string{"dept": "sales", "app": "chat_app", "owner": "alice"}), want: policy.ImplicitDeny},
	{name: "create: no tags", policies: []string{createPolicy},
		req: rq(create, appARN, nil), want: policy.ImplicitDeny},
	{name: "create: tag key case is not the listed key", policies: []string{createPolicy},
		req: createReq(map[string]string{"dept": "sales", "app": "chat_app", "Env": "prod"}), want: policy.ImplicitDeny},
	{name: "create: copying from a foundation model", policies: []string{createPolicy},
		req: rq(create, fmARN, nil), want: policy.Allow, sid: "CopyFromModels"},
	{name: "create: explicit deny without dept", policies: []string{createPolicy, denyUntaggedCreate},
		req: createReq(map[string]string{"app": "chat_app"}), want: policy.ExplicitDeny, sid: "DenyCreateWithoutCostTags"},
	{name: "create: explicit deny does not fire with dept", policies: []string{createPolicy, denyUntaggedCreate},
		req: createReq(map[string]string{"dept": "sales", "app": "chat_app"}), want: policy.Allow},
	{name: "system: invoking a system-defined profile", policies: []string{systemPolicy},
		req: rq(invoke, sysARN, nil), want: policy.ExplicitDeny, sid: "DenySystemDefinedProfiles"},
	{name: "system: streaming from a system-defined profile", policies: []string{systemPolicy},
		req: rq(invokeStream, sysARNeu, nil), want: policy.ExplicitDeny, sid: "DenySystemDefinedProfiles"},
	{name: "system: invoking an application profile", policies: []string{systemPolicy},
		req: call(nil), want: policy.Allow, sid: "UseBedrock"},
	{name: "system: invoking a foundation model", policies: []string{systemPolicy},
		req: rq(invoke, fmARN, nil), want: policy.Allow},
	{name: "system: reading a system-defined profile", policies: []string{systemPolicy},
		req: rq(getProfile, sysARN, nil), want: policy.Allow},
	{name: "system: deny wins over the team allow", policies: []string{teamPolicy, systemPolicy},
		req: rq(invoke, sysARN, ctx("aws:PrincipalTag/team", "automation", "aws:ResourceTag/team", "automation")), want: policy.ExplicitDeny},
	{name: "via profile: model through an application profile", policies: []string{viaProfilePolicy},
		req: rq(invoke, fmARN, ctx("bedrock:InferenceProfileArn", appARN)), want: policy.Allow, sid: "ModelsOnlyThroughProfiles"},
	{name: "via profile: model directly", policies: []string{viaProfilePolicy},
		req: rq(invoke, fmARN, nil), want: policy.ImplicitDeny},
	{name: "via profile: model through a system profile", policies: []string{viaProfilePolicy},
		req: rq(invoke, fmARN, ctx("bedrock:InferenceProfileArn", sysARN)), want: policy.ImplicitDeny},
}

// allEvalCases gathers the matrix by topic.
func allEvalCases() map[string][]evalCase {
	return map[string][]evalCase{
		"precedence":   precedenceCases,
		"implicitDeny": implicitDenyCases,
		"action":       actionCases,
		"notAction":    notActionCases,
		"resource":     resourceCases,
		"notResource":  notResourceCases,
		"string":       stringCases,
		"numeric":      numericCases,
		"date":         dateCases,
		"bool":         boolCases,
		"ip":           ipCases,
		"arn":          arnCases,
		"ifExists":     ifExistsCases,
		"null":         nullCases,
		"set":          setCases,
		"variable":     variableCases,
		"bedrock":      bedrockCases,
	}
}

// parseAll parses documents, "" standing for a nil policy.
func parseAll(t *testing.T, docs []string) []*policy.Policy {
	t.Helper()
	out := make([]*policy.Policy, len(docs))
	for i, d := range docs {
		if d == "" {
			continue
		}
		p, err := policy.Parse([]byte(d))
		if err != nil {
			t.Fatalf("Parse(policy %d): %v\n%s", i, err, d)
		}
		out[i] = p
	}
	return out
}

func TestEvaluate(t *testing.T) {
	total := 0
	for topic, cases := range allEvalCases() {
		total += len(cases)
		for _, tc := range cases {
			t.Run(topic+"/"+tc.name, func(t *testing.T) {
				policies := parseAll(t, tc.policies)
				got, m := policy.Evaluate(policies, tc.req)
				if got != tc.want {
					t.Fatalf("Evaluate = %v (%v), want %v", got, m, tc.want)
				}
				if got == policy.ImplicitDeny {
					if m != (policy.Match{Policy: -1, Statement: -1}) {
						t.Errorf("implicit deny with Match %+v", m)
					}
					return
				}
				st := policies[m.Policy].Statements[m.Statement]
				wantEffect := policy.EffectAllow
				if got == policy.ExplicitDeny {
					wantEffect = policy.EffectDeny
				}
				if st.Effect != wantEffect || st.Sid != m.Sid {
					t.Errorf("Match %+v names a statement with Effect %v, Sid %q", m, st.Effect, st.Sid)
				}
				if tc.sid != "" && m.Sid != tc.sid {
					t.Errorf("decided by %q, want %q", m.Sid, tc.sid)
				}
			})
		}
	}
	if total < 100 {
		t.Errorf("the matrix has %d cases, want at least 100", total)
	}
}

// TestEvaluateMatch checks the positions Evaluate reports.
func TestEvaluateMatch(t *testing.T) {
	policies := parseAll(t, []string{
		doc(`{"Effect":"Allow","Action":"bedrock:Get*","Resource":"*"}`),
		doc(`{"Effect":"Allow","Action":"bedrock:List*","Resource":"*"}`, `{"Effect":"Allow","Action":"bedrock:Invoke*","Resource":"*"}`),
		doc(`{"Sid":"NoSystem","Effect":"Deny","Action":"*","Resource":"arn:aws:bedrock:*:*:inference-profile/*"}`),
	})
	tests := []struct {
		req      policy.Request
		want     policy.Decision
		wantM    policy.Match
		wantText string
	}{
		{call(nil), policy.Allow, policy.Match{Policy: 1, Statement: 1}, "policy 1 statement 1"},
		{rq(invoke, sysARN, nil), policy.ExplicitDeny, policy.Match{Policy: 2, Statement: 0, Sid: "NoSystem"}, "statement NoSystem"},
		{rq("bedrock:DeleteInferenceProfile", appARN, nil), policy.ImplicitDeny, policy.Match{Policy: -1, Statement: -1}, "no statement"},
	}
	for _, tt := range tests {
		got, m := policy.Evaluate(policies, tt.req)
		if got != tt.want {
			t.Errorf("Evaluate(%s on %s) = %v, want %v", tt.req.Action, tt.req.Resource, got, tt.want)
		}
		if diff := cmp.Diff(tt.wantM, m); diff != "" {
			t.Errorf("Evaluate(%s on %s) Match (-want +got):\n%s", tt.req.Action, tt.req.Resource, diff)
		}
		if m.String() != tt.wantText {
			t.Errorf("Match.String() = %q, want %q", m.String(), tt.wantText)
		}
	}
}

func TestDecisionString(t *testing.T) {
	for d, want := range map[policy.Decision]string{
		policy.ImplicitDeny: "implicitDeny",
		policy.Allow:        "allow",
		policy.ExplicitDeny: "explicitDeny",
		policy.Decision(7):  "Decision(7)",
	} {
		if got := d.String(); got != want {
			t.Errorf("Decision(%d).String() = %q, want %q", int(d), got, want)
		}
	}
}

func TestMapContext(t *testing.T) {
	c := policy.MapContext{
		"aws:ResourceTag/Team": {"upper"},
		"aws:resourcetag/team": {"lower"},
		"aws:TagKeys":          {"a", "b"},
	}
	tests := []struct {
		key    string
		want   []string
		wantOK bool
	}{
		{"aws:ResourceTag/Team", []string{"upper"}, true},
		{"aws:resourcetag/team", []string{"lower"}, true},
		// Neither spelling is exact: the smaller key wins, every time.
		{"AWS:RESOURCETAG/TEAM", []string{"upper"}, true},
		{"aws:tagkeys", []string{"a", "b"}, true},
		{"aws:ResourceTag/dept", nil, false},
	}
	for _, tt := range tests {
		got, ok := c.Value(tt.key)
		if ok != tt.wantOK || !cmp.Equal(got, tt.want) {
			t.Errorf("Value(%q) = %q, %v; want %q, %v", tt.key, got, ok, tt.want, tt.wantOK)
		}
	}

	c = policy.MapContext{}
	c.SetTags(policy.KeyRequestTag, map[string]string{"dept": "sales"})
	c.SetTags(policy.KeyPrincipalTag, map[string]string{"team": "support"})
	c.Set(policy.KeySourceIP, "203.0.113.7")
	want := policy.MapContext{
		"aws:RequestTag/dept":   {"sales"},
		"aws:TagKeys":           {"dept"},
		"aws:PrincipalTag/team": {"support"},
		"aws:SourceIp":          {"203.0.113.7"},
	}
	if diff := cmp.Diff(want, c); diff != "" {
		t.Errorf("built context (-want +got):\n%s", diff)
	}
}
