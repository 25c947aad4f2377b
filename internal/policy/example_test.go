package policy_test

import (
	"fmt"

	"github.com/tollgate-dev/tollgate/internal/policy"
)

// A team may invoke only the application profiles tagged with its own
// team, and nobody invokes system-defined profiles directly.
func ExampleEvaluate() {
	p, err := policy.Parse([]byte(`{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Sid": "InvokeOwnTeamProfiles",
      "Effect": "Allow",
      "Action": "bedrock:InvokeModel*",
      "Resource": "arn:aws:bedrock:*:*:application-inference-profile/*",
      "Condition": {"StringEquals": {"aws:ResourceTag/team": "${aws:PrincipalTag/team}"}}
    },
    {
      "Sid": "DenySystemDefinedProfiles",
      "Effect": "Deny",
      "Action": "bedrock:InvokeModel*",
      "Resource": "arn:aws:bedrock:*:*:inference-profile/*"
    }
  ]
}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	ctx := policy.MapContext{}
	ctx.SetTags(policy.KeyPrincipalTag, map[string]string{"team": "automation"})
	ctx.SetTags(policy.KeyResourceTag, map[string]string{"team": "automation", "dept": "claims"})

	for _, resource := range []string{
		"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh",
		"arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-haiku-20240307-v1:0",
	} {
		d, m := policy.Evaluate([]*policy.Policy{p}, policy.Request{
			Action:   "bedrock:InvokeModel",
			Resource: resource,
			Context:  ctx,
		})
		fmt.Println(d, m)
	}
	// Output:
	// allow statement InvokeOwnTeamProfiles
	// explicitDeny statement DenySystemDefinedProfiles
}
