package main

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/schemas"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go/transport/http/protocol/awsjson"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/config"
)

func (ts *testServer) tagging(t *testing.T, opts ...func(*rgt.Options)) *rgt.Client {
	return rgt.NewFromConfig(ts.awsConfig(t), opts...)
}

// taggingProtocols are the two protocols the Tagging API's clients speak:
// the newest Go SDK's default (Smithy RPC v2 CBOR) and awsJson1_1 (older Go
// SDKs, JavaScript).
var taggingProtocols = map[string]func(*rgt.Options){
	"rpcv2Cbor":  func(*rgt.Options) {},
	"awsJson1_1": func(o *rgt.Options) { o.Protocol = awsjson.New11(schemas.ResourceGroupsTaggingAPI_20170126) },
}

func TestTaggingGetResources(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	bc := ts.bedrock(t)
	arn := map[string]string{}
	for _, p := range []struct {
		name string
		tags []string
	}{
		{"claims-prod", []string{"tenant", "acme", "dept", "claims", "app", "claims_chatbot", "env", "prod"}},
		{"claims-dev", []string{"tenant", "acme", "dept", "claims", "app", "claims_chatbot", "env", "dev"}},
		{"sales-prod", []string{"tenant", "acme", "dept", "sales", "app", "chat_app", "env", "prod"}},
		{"globex-sales", []string{"tenant", "globex", "dept", "sales", "app", "chat_app", "env", "prod"}},
		{"risk-empty-env", []string{"tenant", "globex", "dept", "risk", "env", ""}},
		{"untagged", nil},
	} {
		arn[p.name] = createProfile(t, bc, p.name, haikuARN, tagList(p.tags...)...)
	}
	names := func(arns []string) []string {
		var out []string
		for _, a := range arns {
			for n, v := range arn {
				if v == a {
					out = append(out, n)
				}
			}
		}
		slices.Sort(out)
		return out
	}
	f := func(key string, values ...string) rgttypes.TagFilter {
		return rgttypes.TagFilter{Key: aws.String(key), Values: values}
	}
	cases := []struct {
		name    string
		filters []rgttypes.TagFilter
		types   []string
		arns    []string
		want    []string
	}{
		{"no filter lists every profile", nil, nil, nil, []string{"claims-dev", "claims-prod", "globex-sales", "risk-empty-env", "sales-prod", "untagged"}},
		{"one key one value", []rgttypes.TagFilter{f("dept", "claims")}, nil, nil, []string{"claims-dev", "claims-prod"}},
		{"one key two values (OR)", []rgttypes.TagFilter{f("dept", "claims", "risk")}, nil, nil, []string{"claims-dev", "claims-prod", "risk-empty-env"}},
		{"two keys (AND)", []rgttypes.TagFilter{f("tenant", "acme"), f("env", "prod")}, nil, nil, []string{"claims-prod", "sales-prod"}},
		{"three keys", []rgttypes.TagFilter{f("tenant", "acme"), f("app", "claims_chatbot"), f("env", "dev")}, nil, nil, []string{"claims-dev"}},
		{"key only matches any value", []rgttypes.TagFilter{f("env")}, nil, nil, []string{"claims-dev", "claims-prod", "globex-sales", "risk-empty-env", "sales-prod"}},
		{"key only matches the empty value", []rgttypes.TagFilter{f("env", "")}, nil, nil, []string{"risk-empty-env"}},
		{"AND with OR", []rgttypes.TagFilter{f("dept", "sales", "risk"), f("tenant", "globex")}, nil, nil, []string{"globex-sales", "risk-empty-env"}},
		{"no match", []rgttypes.TagFilter{f("dept", "marketing")}, nil, nil, nil},
		{"unknown key", []rgttypes.TagFilter{f("nope")}, nil, nil, nil},
		{"values are case sensitive", []rgttypes.TagFilter{f("dept", "Claims")}, nil, nil, nil},
		{"type filter bedrock", []rgttypes.TagFilter{f("dept", "sales")}, []string{"bedrock"}, nil, []string{"globex-sales", "sales-prod"}},
		{"type filter application profile", []rgttypes.TagFilter{f("app", "chat_app")}, []string{"bedrock:application-inference-profile"}, nil, []string{"globex-sales", "sales-prod"}},
		{"type filter of another service", nil, []string{"ec2:instance"}, nil, nil},
		{"type filters OR", []rgttypes.TagFilter{f("tenant", "globex")}, []string{"ec2", "bedrock:application-inference-profile"}, nil, []string{"globex-sales", "risk-empty-env"}},
		{"ARN list", nil, nil, []string{arn["claims-prod"], arn["untagged"], "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz"}, []string{"claims-prod", "untagged"}},
		{"ARN list with a tag filter", []rgttypes.TagFilter{f("env", "prod")}, nil, []string{arn["claims-prod"], arn["claims-dev"]}, []string{"claims-prod"}},
	}
	for proto, opt := range taggingProtocols {
		t.Run(proto, func(t *testing.T) {
			c := ts.tagging(t, opt)
			for _, tc := range cases {
				t.Run(tc.name, func(t *testing.T) {
					out, err := c.GetResources(t.Context(), &rgt.GetResourcesInput{TagFilters: tc.filters, ResourceTypeFilters: tc.types, ResourceARNList: tc.arns})
					if err != nil {
						t.Fatal(err)
					}
					var got []string
					for _, m := range out.ResourceTagMappingList {
						got = append(got, aws.ToString(m.ResourceARN))
					}
					if diff := cmp.Diff(names(got), tc.want); diff != "" {
						t.Errorf("(-got +want):\n%s", diff)
					}
				})
			}
			// Tags come back with each resource.
			out, err := c.GetResources(t.Context(), &rgt.GetResourcesInput{ResourceARNList: []string{arn["risk-empty-env"]}})
			if err != nil {
				t.Fatal(err)
			}
			var tg []string
			for _, x := range out.ResourceTagMappingList[0].Tags {
				tg = append(tg, aws.ToString(x.Key)+"="+aws.ToString(x.Value))
			}
			if diff := cmp.Diff(tg, []string{"dept=risk", "env=", "tenant=globex"}); diff != "" {
				t.Errorf("tags (-got +want):\n%s", diff)
			}
			keys, err := c.GetTagKeys(t.Context(), &rgt.GetTagKeysInput{})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(keys.TagKeys, []string{"app", "dept", "env", "tenant"}); diff != "" {
				t.Errorf("GetTagKeys (-got +want):\n%s", diff)
			}
			vals, err := c.GetTagValues(t.Context(), &rgt.GetTagValuesInput{Key: aws.String("dept")})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(vals.TagValues, []string{"claims", "risk", "sales"}); diff != "" {
				t.Errorf("GetTagValues (-got +want):\n%s", diff)
			}
			for _, bad := range []*rgt.GetResourcesInput{
				{ResourcesPerPage: aws.Int32(0)},
				{ResourcesPerPage: aws.Int32(101)},
				{PaginationToken: aws.String("garbage")},
				{ResourceARNList: []string{arn["claims-prod"]}, ResourcesPerPage: aws.Int32(5)},
				{ResourceARNList: []string{"not-an-arn"}},
				{TagFilters: []rgttypes.TagFilter{{Values: []string{"x"}}}},
				{ResourceTypeFilters: []string{"bad type"}},
			} {
				_, err := c.GetResources(t.Context(), bad)
				assertErrorAs(t, err, new(*rgttypes.InvalidParameterException))
			}
		})
	}

	t.Run("a retag is visible at once", func(t *testing.T) {
		// A retag is visible at once.
		c := ts.tagging(t)
		if _, err := c.TagResources(t.Context(), &rgt.TagResourcesInput{ResourceARNList: []string{arn["untagged"]}, Tags: map[string]string{"dept": "claims"}}); err != nil {
			t.Fatal(err)
		}
		out, err := c.GetResources(t.Context(), &rgt.GetResourcesInput{TagFilters: []rgttypes.TagFilter{f("dept", "claims")}})
		if err != nil || len(out.ResourceTagMappingList) != 3 {
			t.Errorf("after TagResources: %d matches (%v), want 3", len(out.ResourceTagMappingList), err)
		}
		un, err := c.UntagResources(t.Context(), &rgt.UntagResourcesInput{ResourceARNList: []string{arn["untagged"], "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/zzzzzzzzzzzz"}, TagKeys: []string{"dept"}})
		if err != nil {
			t.Fatal(err)
		}
		if len(un.FailedResourcesMap) != 1 {
			t.Errorf("UntagResources failures %v, want the unknown ARN only", un.FailedResourcesMap)
		}
	})
}

func TestTaggingPagination(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	bc := ts.bedrock(t)
	var want []string
	for i := range 23 {
		want = append(want, createProfile(t, bc, fmt.Sprintf("tenant-%02d", i), haikuARN, tagList("tenant", fmt.Sprintf("t%02d", i), "app", "chat")...))
	}
	slices.Sort(want)
	for proto, opt := range taggingProtocols {
		t.Run(proto, func(t *testing.T) {
			c := ts.tagging(t, opt)
			var got []string
			pages := 0
			p := rgt.NewGetResourcesPaginator(c, &rgt.GetResourcesInput{ResourcesPerPage: aws.Int32(10),
				TagFilters: []rgttypes.TagFilter{{Key: aws.String("app"), Values: []string{"chat"}}}})
			for p.HasMorePages() {
				out, err := p.NextPage(t.Context())
				if err != nil {
					t.Fatal(err)
				}
				pages++
				for _, m := range out.ResourceTagMappingList {
					got = append(got, aws.ToString(m.ResourceARN))
				}
			}
			if pages != 3 {
				t.Errorf("%d pages, want 3", pages)
			}
			if diff := cmp.Diff(got, want); diff != "" {
				t.Errorf("paged resources (-got +want):\n%s", diff)
			}
		})
	}
}

func TestTaggingThrottling(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.TaggingRate = 2 })
	for proto, opt := range taggingProtocols {
		t.Run(proto, func(t *testing.T) {
			c := ts.tagging(t, opt)
			var throttled error
			for range 10 {
				if _, err := c.GetTagKeys(t.Context(), &rgt.GetTagKeysInput{}); err != nil {
					throttled = err
					break
				}
			}
			assertErrorAs(t, throttled, new(*rgttypes.ThrottledException))
			if !strings.Contains(throttled.Error(), "Rate exceeded") {
				t.Errorf("message: %v", throttled)
			}
		})
	}
}

func TestTaggingRejectsBedrockSignature(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	c := ts.tagging(t, func(o *rgt.Options) { o.Region = "eu-west-1" })
	_, err := c.GetTagKeys(t.Context(), &rgt.GetTagKeysInput{})
	if code := errorCode(err); code != "InvalidSignatureException" {
		t.Errorf("code %q (%v)", code, err)
	}
}
