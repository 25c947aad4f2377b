package invoke

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/arn"
)

// TestIsFoundationModelARN: a profile's model ARN stands in for
// arn.FoundationModel only when it is the same string.
func TestIsFoundationModelARN(t *testing.T) {
	const id = "anthropic.claude-3-haiku-20240307-v1:0"
	for _, tc := range []struct {
		a, region string
		want      bool
	}{
		{arn.FoundationModel("us-east-1", id), "us-east-1", true},
		{arn.FoundationModel("us-east-2", id), "us-east-1", false},
		{arn.FoundationModel("us-east-1", id+"x"), "us-east-1", false},
		{"arn:aws-cn:bedrock:us-east-1::foundation-model/" + id, "us-east-1", false},
		{"arn:aws:bedrock:us-east-1:123456789012:foundation-model/" + id, "us-east-1", false},
		{"", "us-east-1", false},
	} {
		if got := isFoundationModelARN(tc.a, tc.region, id); got != tc.want {
			t.Errorf("isFoundationModelARN(%q, %q) = %v, want %v", tc.a, tc.region, got, tc.want)
		}
		tg := Target{Model: Target{}.Model, modelARNs: []string{tc.a}}
		tg.Model.ID = id
		if got, want := tg.modelARN(0, tc.region), arn.FoundationModel(tc.region, id); got != want {
			t.Errorf("modelARN(%q) = %q, want %q", tc.a, got, want)
		}
	}
	if got, want := resourceTagKey("dept"), "aws:ResourceTag/dept"; got != want || resourceTagKey("dept") != want {
		t.Errorf("resourceTagKey = %q, want %q", got, want)
	}
}
