package invoke

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/policy"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// check is one Authorize call authorizeInvoke made.
type check struct {
	Action, Resource string
	Keys             map[string][]string
}

func recordChecks(t Target, tier string, cache *invokeKeyCache) []check {
	var got []check
	c := Caller{Authorize: func(action, resource string, keys map[string][]string) error {
		got = append(got, check{action, resource, keys})
		return nil
	}}
	_ = authorizeInvoke(c, OpConverse, t, tier, cache)
	return got
}

// TestAuthorizeInvokeKeys: the checks carry the profile's tags and the
// tier, from cache as when built, and follow a change of either.
func TestAuthorizeInvokeKeys(t *testing.T) {
	const id = "anthropic.claude-3-haiku-20240307-v1:0"
	profileARN := "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc"
	target := func(tg tags.Set) Target {
		tt := Target{ProfileARN: profileARN, Regions: []string{"us-east-1", "us-west-2"}, Tags: tg,
			modelARNs: []string{arn.FoundationModel("us-east-1", id), arn.FoundationModel("us-west-2", id)}}
		tt.Model.ID = id
		return tt
	}
	want := func(tg tags.Set, tier string) []check {
		onProfile := map[string][]string{policy.KeyServiceTier: {tier}}
		for k, v := range tg {
			onProfile["aws:ResourceTag/"+k] = []string{v}
		}
		onModels := map[string][]string{"bedrock:InferenceProfileArn": {profileARN}, policy.KeyServiceTier: {tier}}
		return []check{
			{"bedrock:InvokeModel", profileARN, onProfile},
			{"bedrock:InvokeModel", arn.FoundationModel("us-east-1", id), onModels},
			{"bedrock:InvokeModel", arn.FoundationModel("us-west-2", id), onModels},
		}
	}
	var cache invokeKeyCache
	steps := []struct {
		name string
		tags tags.Set
		tier string
	}{
		{"first call", tags.Set{"team": "risk", "app": "claims"}, "default"},
		{"cached", tags.Set{"team": "risk", "app": "claims"}, "default"},
		{"another tier", tags.Set{"team": "risk", "app": "claims"}, "flex"},
		{"retagged", tags.Set{"team": "sales", "app": "claims"}, "flex"},
		{"untagged", nil, "flex"},
	}
	for _, st := range steps {
		t.Run(st.name, func(t *testing.T) {
			if diff := cmp.Diff(want(st.tags, st.tier), recordChecks(target(st.tags), st.tier, &cache)); diff != "" {
				t.Errorf("checks (-want +got):\n%s", diff)
			}
		})
	}
	tt, allow := target(nil), Caller{Authorize: func(string, string, map[string][]string) error { return nil }}
	if n := testing.AllocsPerRun(100, func() { _ = authorizeInvoke(allow, OpConverse, tt, "flex", &cache) }); n != 0 {
		t.Errorf("a cached authorizeInvoke allocates %v times, want 0", n)
	}
}

// BenchmarkAuthorizeInvoke is the invoke checks of a call on a tagged
// application profile by a caller who is not unrestricted (the
// authorizer itself left out).
func BenchmarkAuthorizeInvoke(b *testing.B) {
	tt := Target{ProfileARN: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc",
		Regions: []string{"us-east-1", "us-west-2"}, Tags: tags.Set{"team": "risk", "app": "claims", "cost-center": "cc-42"}}
	tt.Model.ID = "anthropic.claude-3-haiku-20240307-v1:0"
	tt.modelARNs = []string{arn.FoundationModel("us-east-1", tt.Model.ID), arn.FoundationModel("us-west-2", tt.Model.ID)}
	c := Caller{Authorize: func(string, string, map[string][]string) error { return nil }}
	var cache invokeKeyCache
	b.ReportAllocs()
	for b.Loop() {
		if err := authorizeInvoke(c, OpConverse, tt, "default", &cache); err != nil {
			b.Fatal(err)
		}
	}
}
