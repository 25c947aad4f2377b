package policy_test

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/policy"
)

// benchPolicy is one identity policy of 20 statements such as a platform
// team would attach: team and tenant isolation through principal and
// resource tags, guard rails as Deny statements, and a few plain allows.
const benchPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Sid": "InvokeOwnTeamProfiles", "Effect": "Allow",
     "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream", "bedrock:Converse", "bedrock:ConverseStream"],
     "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "ReadProfiles", "Effect": "Allow", "Action": ["bedrock:GetInferenceProfile", "bedrock:ListInferenceProfiles"], "Resource": "*"},
    {"Sid": "DenySystemDefinedProfiles", "Effect": "Deny", "Action": ["bedrock:InvokeModel*", "bedrock:Converse*"],
     "Resource": "arn:aws:bedrock:*:*:inference-profile/*"},
    {"Sid": "DenyOutsideNetwork", "Effect": "Deny", "Action": "bedrock:*", "Resource": "*",
     "Condition": {"NotIpAddress": {"aws:SourceIp": ["10.0.0.0/8", "192.168.0.0/16", "2001:db8::/32"]}}},
    {"Sid": "DenyInsecureTransport", "Effect": "Deny", "Action": "bedrock:*", "Resource": "*",
     "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
    {"Sid": "DenyProdUnlessProdPrincipal", "Effect": "Deny", "Action": "bedrock:Invoke*", "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}, "StringNotEquals": {"aws:PrincipalTag/env": "prod"}}},
    {"Sid": "DenyAfterContractEnd", "Effect": "Deny", "Action": "bedrock:*", "Resource": "*",
     "Condition": {"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}},
    {"Sid": "DenyOtherTenants", "Effect": "Deny", "Action": "bedrock:*", "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"StringNotEqualsIfExists": {"aws:ResourceTag/tenant": "${aws:PrincipalTag/tenant}"}}},
    {"Sid": "DenyUntaggedCreate", "Effect": "Deny", "Action": "bedrock:CreateInferenceProfile", "Resource": "*",
     "Condition": {"Null": {"aws:RequestTag/dept": "true"}}},
    {"Sid": "CreateTaggedProfiles", "Effect": "Allow", "Action": "bedrock:CreateInferenceProfile",
     "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"Null": {"aws:RequestTag/dept": "false", "aws:RequestTag/app": "false"},
                   "ForAllValues:StringEquals": {"aws:TagKeys": ["dept", "app", "team", "env", "tenant", "cost_center"]}}},
    {"Sid": "DenyDeleteProd", "Effect": "Deny", "Action": "bedrock:DeleteInferenceProfile", "Resource": "*",
     "Condition": {"StringEquals": {"aws:ResourceTag/env": "prod"}}},
    {"Sid": "TagOwnProfiles", "Effect": "Allow", "Action": ["bedrock:TagResource", "bedrock:UntagResource"],
     "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}},
    {"Sid": "DenyRetaggingOwnership", "Effect": "Deny", "Action": ["bedrock:TagResource", "bedrock:UntagResource"], "Resource": "*",
     "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["team", "tenant"]}}},
    {"Sid": "DenyOutsideUS", "Effect": "Deny", "Action": "bedrock:Invoke*",
     "NotResource": ["arn:aws:bedrock:us-*:*:*", "arn:aws:bedrock:us-*::foundation-model/*"]},
    {"Sid": "DenyModelsDirectly", "Effect": "Deny", "Action": "bedrock:Invoke*", "Resource": "arn:aws:bedrock:*::foundation-model/*",
     "Condition": {"Null": {"bedrock:InferenceProfileArn": "true"}}},
    {"Sid": "ModelsThroughProfiles", "Effect": "Allow", "Action": "bedrock:InvokeModel*", "Resource": "arn:aws:bedrock:*::foundation-model/*",
     "Condition": {"ArnLike": {"bedrock:InferenceProfileArn": "arn:aws:bedrock:*:*:application-inference-profile/*"}}},
    {"Sid": "DenyUnknownRoles", "Effect": "Deny", "Action": "bedrock:*", "Resource": "*",
     "Condition": {"ArnNotLike": {"aws:PrincipalArn": ["arn:aws:iam::123456789012:role/*", "arn:aws:iam::123456789012:user/*"]}}},
    {"Sid": "ListModels", "Effect": "Allow", "Action": ["bedrock:ListFoundationModels", "bedrock:GetFoundationModel"], "Resource": "*"},
    {"Sid": "DenyOpus", "Effect": "Deny", "Action": "bedrock:Invoke*", "Resource": "arn:aws:bedrock:*::foundation-model/anthropic.claude-3-opus*"},
    {"Sid": "InvokeSharedProfiles", "Effect": "Allow", "Action": "bedrock:Invoke*", "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
     "Condition": {"StringEquals": {"aws:ResourceTag/team": "shared"}}}
  ]
}`

// benchRequest is an InvokeModel call on an application profile, with
// the context the gateway builds for it.
func benchRequest() policy.Request {
	return policy.Request{
		Action:   "bedrock:InvokeModel",
		Resource: appARN,
		Context: policy.MapContext{
			"aws:PrincipalTag/team":   {"automation"},
			"aws:PrincipalTag/tenant": {"acme"},
			"aws:PrincipalTag/env":    {"dev"},
			"aws:PrincipalAccount":    {"123456789012"},
			"aws:PrincipalArn":        {roleARN},
			"aws:ResourceTag/team":    {"automation"},
			"aws:ResourceTag/dept":    {"claims"},
			"aws:ResourceTag/app":     {"claims_chatbot"},
			"aws:ResourceTag/env":     {"dev"},
			"aws:ResourceTag/tenant":  {"acme"},
			"aws:SourceIp":            {"10.20.30.40"},
			"aws:SecureTransport":     {"true"},
			"aws:CurrentTime":         {"2025-06-01T09:30:00Z"},
			"aws:EpochTime":           {"1748770200"},
		},
	}
}

// BenchmarkEvaluate20Statements authorizes a runtime call against one
// policy of 20 statements; every Deny is examined before the Allow
// decides.
func BenchmarkEvaluate20Statements(b *testing.B) {
	p, err := policy.Parse([]byte(benchPolicy))
	if err != nil {
		b.Fatal(err)
	}
	if n := len(p.Statements); n != 20 {
		b.Fatalf("%d statements, want 20", n)
	}
	policies := []*policy.Policy{p}
	req := benchRequest()
	if d, m := policy.Evaluate(policies, req); d != policy.Allow || m.Sid != "InvokeOwnTeamProfiles" {
		b.Fatalf("Evaluate = %v by %v, want allow by InvokeOwnTeamProfiles", d, m)
	}
	b.ReportAllocs()
	for b.Loop() {
		policy.Evaluate(policies, req)
	}
}

// BenchmarkParse parses the 20-statement policy.
func BenchmarkParse(b *testing.B) {
	doc := []byte(benchPolicy)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := policy.Parse(doc); err != nil {
			b.Fatal(err)
		}
	}
}
