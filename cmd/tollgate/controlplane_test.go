package main

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	v4 "github.com/aws/aws-sdk-go-v2/aws/signer/v4"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/smithy-go/auth/bearer"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/config"
)

const (
	haikuID   = "anthropic.claude-3-haiku-20240307-v1:0"
	haikuARN  = "arn:aws:bedrock:us-east-1::foundation-model/" + haikuID
	usHaiku   = "us." + haikuID
	usHaikuAR = "arn:aws:bedrock:us-east-1:123456789012:inference-profile/" + usHaiku
)

func tagList(kv ...string) []types.Tag {
	var out []types.Tag
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, types.Tag{Key: aws.String(kv[i]), Value: aws.String(kv[i+1])})
	}
	return out
}

func createProfile(t *testing.T, c *bedrock.Client, name, from string, tags ...types.Tag) string {
	t.Helper()
	out, err := c.CreateInferenceProfile(t.Context(), &bedrock.CreateInferenceProfileInput{
		InferenceProfileName: aws.String(name),
		ModelSource:          &types.InferenceProfileModelSourceMemberCopyFrom{Value: from},
		Tags:                 tags,
	})
	if err != nil {
		t.Fatalf("CreateInferenceProfile(%s): %v", name, err)
	}
	return aws.ToString(out.InferenceProfileArn)
}

func TestFoundationModels(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	c := ts.bedrock(t)
	ctx := t.Context()

	all, err := c.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{})
	if err != nil {
		t.Fatal(err)
	}
	if len(all.ModelSummaries) < 25 {
		t.Errorf("ListFoundationModels: %d models, want >= 25", len(all.ModelSummaries))
	}
	for _, tc := range []struct {
		name  string
		in    bedrock.ListFoundationModelsInput
		check func(types.FoundationModelSummary) bool
	}{
		{"by provider", bedrock.ListFoundationModelsInput{ByProvider: aws.String("Anthropic")},
			func(m types.FoundationModelSummary) bool { return aws.ToString(m.ProviderName) == "Anthropic" }},
		{"by provider prefix, any case", bedrock.ListFoundationModelsInput{ByProvider: aws.String("meta")},
			func(m types.FoundationModelSummary) bool { return strings.HasPrefix(aws.ToString(m.ModelId), "meta.") }},
		{"by output modality", bedrock.ListFoundationModelsInput{ByOutputModality: types.ModelModalityEmbedding},
			func(m types.FoundationModelSummary) bool {
				return slices.Contains(m.OutputModalities, types.ModelModalityEmbedding)
			}},
		{"by inference type", bedrock.ListFoundationModelsInput{ByInferenceType: types.InferenceTypeOnDemand},
			func(m types.FoundationModelSummary) bool {
				return slices.Contains(m.InferenceTypesSupported, types.InferenceTypeOnDemand)
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			out, err := c.ListFoundationModels(ctx, &tc.in)
			if err != nil {
				t.Fatal(err)
			}
			if len(out.ModelSummaries) == 0 || len(out.ModelSummaries) == len(all.ModelSummaries) && tc.in.ByInferenceType == "" {
				t.Errorf("filter returned %d of %d models", len(out.ModelSummaries), len(all.ModelSummaries))
			}
			for _, m := range out.ModelSummaries {
				if !tc.check(m) {
					t.Errorf("model %s does not match the filter", aws.ToString(m.ModelId))
				}
			}
		})
	}

	for _, id := range []string{haikuID, haikuARN} {
		got, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(id)})
		if err != nil {
			t.Fatalf("GetFoundationModel(%s): %v", id, err)
		}
		d := got.ModelDetails
		if aws.ToString(d.ModelArn) != haikuARN || aws.ToString(d.ModelId) != haikuID || !aws.ToBool(d.ResponseStreamingSupported) ||
			d.ModelLifecycle == nil || d.ModelLifecycle.Status == "" {
			t.Errorf("GetFoundationModel(%s) = %+v", id, d)
		}
	}

	// A model AWS offers only through cross-region profiles is listed and
	// described with inferenceTypesSupported INFERENCE_PROFILE, and left
	// out of the ON_DEMAND filter.
	const premier = "amazon.nova-premier-v1:0"
	got, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String(premier)})
	if err != nil {
		t.Fatalf("GetFoundationModel(%s): %v", premier, err)
	}
	if it := got.ModelDetails.InferenceTypesSupported; len(it) != 1 || it[0] != "INFERENCE_PROFILE" {
		t.Errorf("%s: inferenceTypesSupported = %v, want [INFERENCE_PROFILE]", premier, it)
	}
	if !slices.ContainsFunc(all.ModelSummaries, func(m types.FoundationModelSummary) bool { return aws.ToString(m.ModelId) == premier }) {
		t.Errorf("ListFoundationModels does not list the profile-only %s", premier)
	}

	for _, tc := range []struct {
		name string
		call func() error
		want any
	}{
		{"unknown model", func() error {
			_, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String("acme.unknown-v1:0")})
			return err
		}, new(*types.ResourceNotFoundException)},
		{"model ARN of another region", func() error {
			_, err := c.GetFoundationModel(ctx, &bedrock.GetFoundationModelInput{ModelIdentifier: aws.String("arn:aws:bedrock:eu-west-1::foundation-model/" + haikuID)})
			return err
		}, new(*types.ValidationException)},
		{"bad enum", func() error {
			_, err := c.ListFoundationModels(ctx, &bedrock.ListFoundationModelsInput{ByOutputModality: "SMELL"})
			return err
		}, new(*types.ValidationException)},
	} {
		t.Run(tc.name, func(t *testing.T) { assertErrorAs(t, tc.call(), tc.want) })
	}
}

// assertErrorAs checks that err matches target, a pointer to a pointer of
// an SDK exception type.
func assertErrorAs(t *testing.T, err error, target any) {
	t.Helper()
	if err == nil {
		t.Fatalf("no error, want %T", target)
	}
	if !errors.As(err, target) {
		t.Fatalf("error %v (code %q), want %T", err, errorCode(err), target)
	}
}

func TestInferenceProfileLifecycle(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	c := ts.bedrock(t)
	ctx := t.Context()

	var claims, sales, id string
	before := time.Now().Add(-time.Second)
	if !t.Run("created with a 12-character id, found by ARN and by id", func(t *testing.T) {
		claims = createProfile(t, c, "claims-chatbot", haikuARN, tagList("dept", "claims", "team", "automation", "app", "claims_chatbot")...)
		sales = createProfile(t, c, "sales chat", usHaikuAR, tagList("dept", "sales", "team", "support", "app", "chat_app")...)

		id = claims[strings.LastIndex(claims, "/")+1:]
		if len(id) != 12 || strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") != "" {
			t.Errorf("profile id %q is not 12 lowercase alphanumerics", id)
		}
		if want := "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/" + id; claims != want {
			t.Errorf("ARN %s, want %s", claims, want)
		}

		for _, ident := range []string{claims, id} {
			got, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(ident)})
			if err != nil {
				t.Fatalf("GetInferenceProfile(%s): %v", ident, err)
			}
			if aws.ToString(got.InferenceProfileArn) != claims || aws.ToString(got.InferenceProfileId) != id ||
				got.Type != types.InferenceProfileTypeApplication || got.Status != types.InferenceProfileStatusActive ||
				aws.ToString(got.InferenceProfileName) != "claims-chatbot" {
				t.Errorf("GetInferenceProfile(%s) = %+v", ident, got)
			}
			if got.CreatedAt == nil || got.CreatedAt.Before(before) || got.UpdatedAt == nil {
				t.Errorf("timestamps %v %v", got.CreatedAt, got.UpdatedAt)
			}
			if len(got.Models) != 1 || aws.ToString(got.Models[0].ModelArn) != haikuARN {
				t.Errorf("models %+v, want [%s]", got.Models, haikuARN)
			}
		}
	}) {
		return
	}

	t.Run("a copy of a system profile inherits all its regions", func(t *testing.T) {
		// A profile copied from a system profile inherits all its regions.
		sys, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(usHaiku)})
		if err != nil {
			t.Fatal(err)
		}
		if sys.Type != types.InferenceProfileTypeSystemDefined || aws.ToString(sys.InferenceProfileArn) != usHaikuAR || len(sys.Models) < 2 {
			t.Errorf("system profile %+v", sys)
		}
		got, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(sales)})
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(modelARNs(got.Models), modelARNs(sys.Models)); diff != "" {
			t.Errorf("copied profile's models (-got +want):\n%s", diff)
		}
	})

	t.Run("tags listed, merged, overwritten and removed", func(t *testing.T) {
		// Tags: list, merge, overwrite, untag.
		tags := func(arn string) map[string]string {
			t.Helper()
			out, err := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(arn)})
			if err != nil {
				t.Fatal(err)
			}
			m := map[string]string{}
			for _, tg := range out.Tags {
				m[aws.ToString(tg.Key)] = aws.ToString(tg.Value)
			}
			return m
		}
		if diff := cmp.Diff(tags(claims), map[string]string{"dept": "claims", "team": "automation", "app": "claims_chatbot"}); diff != "" {
			t.Errorf("initial tags (-got +want):\n%s", diff)
		}
		if _, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(claims), Tags: tagList("team", "intake", "env", "prod", "empty", "")}); err != nil {
			t.Fatal(err)
		}
		if _, err := c.UntagResource(ctx, &bedrock.UntagResourceInput{ResourceARN: aws.String(claims), TagKeys: []string{"app", "never-there"}}); err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tags(claims), map[string]string{"dept": "claims", "team": "intake", "env": "prod", "empty": ""}); diff != "" {
			t.Errorf("tags after tag/untag (-got +want):\n%s", diff)
		}
	})

	t.Run("deleted, then gone", func(t *testing.T) {
		if _, err := c.DeleteInferenceProfile(ctx, &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(sales)}); err != nil {
			t.Fatal(err)
		}
		_, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(sales)})
		assertErrorAs(t, err, new(*types.ResourceNotFoundException))
		_, err = c.DeleteInferenceProfile(ctx, &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(sales)})
		assertErrorAs(t, err, new(*types.ResourceNotFoundException))
	})
}

func modelARNs(ms []types.InferenceProfileModel) []string {
	var out []string
	for _, m := range ms {
		out = append(out, aws.ToString(m.ModelArn))
	}
	return out
}

func TestListInferenceProfilesPagination(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	c := ts.bedrock(t)
	ctx := t.Context()
	var want []string
	for i := range 11 {
		want = append(want, createProfile(t, c, fmt.Sprintf("p%02d", i), haikuARN))
	}

	var got []string
	pages := 0
	p := bedrock.NewListInferenceProfilesPaginator(c, &bedrock.ListInferenceProfilesInput{
		TypeEquals: types.InferenceProfileTypeApplication, MaxResults: aws.Int32(4)})
	for p.HasMorePages() {
		out, err := p.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		for _, s := range out.InferenceProfileSummaries {
			got = append(got, aws.ToString(s.InferenceProfileArn))
		}
	}
	if pages != 3 {
		t.Errorf("%d pages, want 3", pages)
	}
	// Order is stable (creation time, then id) and pages neither repeat
	// nor skip.
	full, err := c.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
	if err != nil {
		t.Fatal(err)
	}
	var once []string
	for _, s := range full.InferenceProfileSummaries {
		once = append(once, aws.ToString(s.InferenceProfileArn))
	}
	if diff := cmp.Diff(got, once); diff != "" {
		t.Errorf("paged listing differs from one-page listing (-paged +whole):\n%s", diff)
	}
	slices.Sort(got)
	slices.Sort(want)
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("paged profiles (-got +want):\n%s", diff)
	}

	// No type: system-defined only, as AWS does; paged too.
	var sys []types.InferenceProfileSummary
	sp := bedrock.NewListInferenceProfilesPaginator(c, &bedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(5)})
	for sp.HasMorePages() {
		out, err := sp.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		sys = append(sys, out.InferenceProfileSummaries...)
	}
	if len(sys) < 10 {
		t.Errorf("%d system profiles, want >= 10", len(sys))
	}
	for _, s := range sys {
		if s.Type != types.InferenceProfileTypeSystemDefined || strings.HasPrefix(aws.ToString(s.InferenceProfileId), "eu.") {
			t.Errorf("listed %s (%s) from us-east-1", aws.ToString(s.InferenceProfileId), s.Type)
		}
	}

	// A real SYSTEM_DEFINED token, presented for another type below.
	first, err := c.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(5)})
	if err != nil || first.NextToken == nil {
		t.Fatalf("first SYSTEM_DEFINED page: token %v, %v", first.NextToken, err)
	}
	for _, tc := range []struct {
		name string
		in   bedrock.ListInferenceProfilesInput
	}{
		{"garbage token", bedrock.ListInferenceProfilesInput{NextToken: aws.String("not-a-token")}},
		{"token of another type", bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication, NextToken: first.NextToken}},
		{"maxResults too large", bedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(5000)}},
		{"maxResults zero", bedrock.ListInferenceProfilesInput{MaxResults: aws.Int32(0)}},
		{"bad type", bedrock.ListInferenceProfilesInput{TypeEquals: "CUSTOM"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := c.ListInferenceProfiles(ctx, &tc.in)
			assertErrorAs(t, err, new(*types.ValidationException))
		})
	}
}

func TestCreateIdempotencyAndConflicts(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	c := ts.bedrock(t)
	ctx := t.Context()
	in := &bedrock.CreateInferenceProfileInput{
		InferenceProfileName: aws.String("idem"),
		Description:          aws.String("claims bot"),
		ClientRequestToken:   aws.String("5324abe9-1b2c-4d5e-8f90-0123456789ab"),
		ModelSource:          &types.InferenceProfileModelSourceMemberCopyFrom{Value: haikuARN},
		Tags:                 tagList("dept", "claims"),
	}
	first, err := c.CreateInferenceProfile(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	again, err := c.CreateInferenceProfile(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if aws.ToString(first.InferenceProfileArn) != aws.ToString(again.InferenceProfileArn) || again.Status != types.InferenceProfileStatusActive {
		t.Errorf("replay returned %v, want %v", aws.ToString(again.InferenceProfileArn), aws.ToString(first.InferenceProfileArn))
	}
	changed := *in
	changed.Description = aws.String("other")
	_, err = c.CreateInferenceProfile(ctx, &changed)
	assertErrorAs(t, err, new(*types.ConflictException))

	sameName := *in
	sameName.ClientRequestToken = aws.String("another-token")
	_, err = c.CreateInferenceProfile(ctx, &sameName)
	assertErrorAs(t, err, new(*types.ConflictException))

	list, _ := c.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
	if len(list.InferenceProfileSummaries) != 1 {
		t.Errorf("%d profiles after replays, want 1", len(list.InferenceProfileSummaries))
	}
}

func TestControlPlaneValidation(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.ProfileQuota = 2 })
	c := ts.bedrock(t)
	ctx := t.Context()
	app := createProfile(t, c, "one", haikuARN)

	create := func(name, from string, tags []types.Tag, desc *string) func() error {
		return func() error {
			_, err := c.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{
				InferenceProfileName: aws.String(name), Description: desc,
				ModelSource: &types.InferenceProfileModelSourceMemberCopyFrom{Value: from}, Tags: tags})
			return err
		}
	}
	many := make([]types.Tag, 51)
	for i := range many {
		many[i] = types.Tag{Key: aws.String(fmt.Sprintf("k%d", i)), Value: aws.String("v")}
	}
	validation, notFound, tooMany := new(*types.ValidationException), new(*types.ResourceNotFoundException), new(*types.TooManyTagsException)
	for _, tc := range []struct {
		name string
		call func() error
		want any
	}{
		{"name with slash", create("bad/name", haikuARN, nil, nil), validation},
		{"name too long", create(strings.Repeat("a", 65), haikuARN, nil, nil), validation},
		{"description too long", create("d", haikuARN, nil, aws.String(strings.Repeat("a", 201))), validation},
		{"description empty", create("d", haikuARN, nil, aws.String("")), validation},
		{"copyFrom not an ARN", create("x", "claude", nil, nil), validation},
		{"copyFrom of another region", create("x", "arn:aws:bedrock:eu-west-1::foundation-model/"+haikuID, nil, nil), validation},
		{"copyFrom of another account", create("x", "arn:aws:bedrock:us-east-1:999999999999:inference-profile/"+usHaiku, nil, nil), validation},
		{"copyFrom an application profile", create("x", app, nil, nil), validation},
		{"unknown model", create("x", "arn:aws:bedrock:us-east-1::foundation-model/acme.nothing-v1:0", nil, nil), notFound},
		{"reserved tag prefix", create("x", haikuARN, tagList("aws:cost", "x"), nil), validation},
		{"tag key too long", create("x", haikuARN, tagList(strings.Repeat("k", 129), "x"), nil), validation},
		{"tag value too long", create("x", haikuARN, tagList("k", strings.Repeat("v", 257)), nil), validation},
		{"tag value bad chars", create("x", haikuARN, tagList("k", "a|b"), nil), validation},
		{"51 tags", create("x", haikuARN, many, nil), tooMany},
		{"get bad identifier", func() error {
			_, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String("no/slashes")})
			return err
		}, validation},
		{"get other account", func() error {
			_, err := c.GetInferenceProfile(ctx, &bedrock.GetInferenceProfileInput{InferenceProfileIdentifier: aws.String(strings.Replace(app, "123456789012", "999999999999", 1))})
			return err
		}, notFound},
		{"delete system profile", func() error {
			_, err := c.DeleteInferenceProfile(ctx, &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(usHaiku)})
			return err
		}, validation},
		{"tag a system profile", func() error {
			_, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(usHaikuAR), Tags: tagList("a", "b")})
			return err
		}, validation},
		{"tag an unknown profile", func() error {
			_, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(otherLast(app)), Tags: tagList("a", "b")})
			return err
		}, notFound},
		{"tag past 50", func() error {
			_, err := c.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(app), Tags: many})
			return err
		}, tooMany},
		{"untag not an ARN", func() error {
			_, err := c.UntagResource(ctx, &bedrock.UntagResourceInput{ResourceARN: aws.String("not-an-arn-but-long-enough"), TagKeys: []string{"a"}})
			return err
		}, validation},
		{"list tags of another region", func() error {
			_, err := c.ListTagsForResource(ctx, &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(strings.Replace(app, "us-east-1", "us-west-2", 1))})
			return err
		}, validation},
	} {
		t.Run(tc.name, func(t *testing.T) { assertErrorAs(t, tc.call(), tc.want) })
	}

	createProfile(t, c, "two", haikuARN)
	_, err := c.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{InferenceProfileName: aws.String("three"),
		ModelSource: &types.InferenceProfileModelSourceMemberCopyFrom{Value: haikuARN}})
	assertErrorAs(t, err, new(*types.ServiceQuotaExceededException))
}

func TestProfilesSurviveRestart(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	c := ts.bedrock(t)
	a := createProfile(t, c, "persist-a", haikuARN, tagList("tenant", "acme")...)
	b := createProfile(t, c, "persist-b", usHaikuAR)
	if _, err := c.TagResource(t.Context(), &bedrock.TagResourceInput{ResourceARN: aws.String(b), Tags: tagList("env", "prod")}); err != nil {
		t.Fatal(err)
	}
	keyID := ts.RootAccessKeyID
	ts.stop()

	ts2 := startServer(t, dir, nil)
	if ts2.RootAccessKeyID != keyID {
		t.Errorf("root key changed across restart: %s then %s", keyID, ts2.RootAccessKeyID)
	}
	c2 := ts2.bedrock(t)
	list, err := c2.ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
	if err != nil {
		t.Fatal(err)
	}
	var arns []string
	for _, s := range list.InferenceProfileSummaries {
		arns = append(arns, aws.ToString(s.InferenceProfileArn))
	}
	// Profiles created in the same millisecond list in id order.
	want := []string{a, b}
	slices.Sort(arns)
	slices.Sort(want)
	if diff := cmp.Diff(arns, want); diff != "" {
		t.Errorf("profiles after restart (-got +want):\n%s", diff)
	}
	tags, err := c2.ListTagsForResource(t.Context(), &bedrock.ListTagsForResourceInput{ResourceARN: aws.String(b)})
	if err != nil || len(tags.Tags) != 1 || aws.ToString(tags.Tags[0].Value) != "prod" {
		t.Errorf("tags after restart: %+v, %v", tags, err)
	}
}

func TestAuthentication(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	list := func(c *bedrock.Client) error {
		_, err := c.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{})
		return err
	}
	if err := list(ts.bedrock(t)); err != nil {
		t.Fatalf("root credentials: %v", err)
	}

	withCreds := func(id, secret string) *bedrock.Client {
		return ts.bedrock(t, func(o *bedrock.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(id, secret, "")
		})
	}
	for _, tc := range []struct {
		name   string
		client *bedrock.Client
		code   string
	}{
		{"wrong secret", withCreds(ts.RootAccessKeyID, "wrong-secret"), "InvalidSignatureException"},
		{"unknown key", withCreds("AKIAUNKNOWNUNKNOWN00", "x"), "UnrecognizedClientException"},
		{"wrong region", ts.bedrock(t, func(o *bedrock.Options) { o.Region = "eu-west-1" }), "InvalidSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if code := errorCode(list(tc.client)); code != tc.code {
				t.Errorf("error code %q, want %q", code, tc.code)
			}
		})
	}

	// Raw requests, signed with the SDK's signer, then altered.
	body := []byte(`{"resourceARN":"arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcdabcdabcd"}`)
	sign := func(t *testing.T, at time.Time, body []byte) *http.Request {
		req, _ := http.NewRequest("POST", ts.URL()+"/listTagsForResource", bytes.NewReader(body))
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Custom", "signed")
		sum := sha256Hex(body)
		err := v4.NewSigner().SignHTTP(ctx, aws.Credentials{AccessKeyID: ts.RootAccessKeyID, SecretAccessKey: ts.RootSecretAccessKey},
			req, sum, "bedrock", "us-east-1", at)
		if err != nil {
			t.Fatal(err)
		}
		return req
	}
	for _, tc := range []struct {
		name   string
		req    func(t *testing.T) *http.Request
		status int
		code   string
	}{
		{"valid", func(t *testing.T) *http.Request { return sign(t, time.Now(), body) }, 404, "ResourceNotFoundException"},
		{"tampered body", func(t *testing.T) *http.Request {
			r := sign(t, time.Now(), body)
			alt := bytes.Replace(body, []byte("abcd"), []byte("efgh"), 1)
			r.Body, r.ContentLength = io.NopCloser(bytes.NewReader(alt)), int64(len(alt))
			return r
		}, 403, "InvalidSignatureException"},
		{"changed signed header", func(t *testing.T) *http.Request {
			r := sign(t, time.Now(), body)
			r.Header.Set("X-Custom", "changed")
			return r
		}, 403, "InvalidSignatureException"},
		{"date outside the window", func(t *testing.T) *http.Request { return sign(t, time.Now().Add(-6*time.Minute), body) }, 403, "InvalidSignatureException"},
		{"date in the future", func(t *testing.T) *http.Request { return sign(t, time.Now().Add(6*time.Minute), body) }, 403, "InvalidSignatureException"},
		{"missing authorization", func(t *testing.T) *http.Request {
			r := sign(t, time.Now(), body)
			r.Header.Del("Authorization")
			return r
		}, 403, "MissingAuthenticationTokenException"},
		{"missing date header", func(t *testing.T) *http.Request {
			r := sign(t, time.Now(), body)
			r.Header.Del("X-Amz-Date")
			return r
		}, 403, "IncompleteSignatureException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, err := http.DefaultClient.Do(tc.req(t))
			if err != nil {
				t.Fatal(err)
			}
			resp.Body.Close()
			if resp.StatusCode != tc.status || resp.Header.Get("X-Amzn-ErrorType") != tc.code {
				t.Errorf("got %d %q, want %d %q", resp.StatusCode, resp.Header.Get("X-Amzn-ErrorType"), tc.status, tc.code)
			}
			if resp.Header.Get("X-Amzn-RequestId") == "" {
				t.Error("no request id")
			}
		})
	}
}

// TestTLSAndBearerKeys serves TLS and authenticates Bedrock API keys, which
// the SDK only sends over HTTPS.
func TestTLSAndBearerKeys(t *testing.T) {
	t.Parallel()
	cert, key, pool := selfSignedCert(t)
	ts := startServerTLS(t, func(c *config.Config) { c.TLSCert, c.TLSKey = cert, key }, pool)
	if !strings.HasPrefix(ts.URL(), "https://") {
		t.Fatalf("URL %s is not https", ts.URL())
	}
	token := strings.TrimSpace(readFile(t, ts.Config.DataDir+"/bedrock-api-key"))
	withToken := func(tok string) *bedrock.Client {
		return ts.bedrock(t, func(o *bedrock.Options) {
			o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
			o.BearerAuthTokenProvider = bearer.TokenProviderFunc(func(context.Context) (bearer.Token, error) { return bearer.Token{Value: tok}, nil })
			o.AuthSchemePreference = []string{"httpBearerAuth"}
		})
	}
	if _, err := withToken(token).ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{}); err != nil {
		t.Fatalf("API key over TLS: %v", err)
	}
	_, err := withToken("ABSKnot-a-key").ListInferenceProfiles(t.Context(), &bedrock.ListInferenceProfilesInput{})
	if code := errorCode(err); code != "UnrecognizedClientException" {
		t.Errorf("bad API key: code %q (%v)", code, err)
	}
	// SigV4 works over TLS as well.
	c := ts.bedrock(t, func(o *bedrock.Options) {
		o.HTTPClient = &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}}}
	})
	if _, err := c.ListFoundationModels(t.Context(), &bedrock.ListFoundationModelsInput{}); err != nil {
		t.Fatalf("SigV4 over TLS: %v", err)
	}
}

// TestCredentialsAtRest checks the files Tollgate writes for clients and
// that no secret is stored in clear in the database.
func TestCredentialsAtRest(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	for _, f := range []string{"credentials", "config", "master.key", "bedrock-api-key"} {
		st, err := os.Stat(filepath.Join(dir, f))
		if err != nil {
			t.Fatal(err)
		}
		if st.Mode().Perm() != 0o600 {
			t.Errorf("%s has mode %v, want 0600", f, st.Mode().Perm())
		}
	}
	creds := readFile(t, filepath.Join(dir, "credentials"))
	want := "[default]\naws_access_key_id = " + ts.RootAccessKeyID + "\naws_secret_access_key = " + ts.RootSecretAccessKey + "\n"
	if creds != want {
		t.Errorf("credentials file:\n%s\nwant:\n%s", creds, want)
	}
	apiKey := strings.TrimSpace(readFile(t, filepath.Join(dir, "bedrock-api-key")))
	secret := ts.RootSecretAccessKey
	ts.stop()
	for _, f := range []string{"tollgate.db", "tollgate.db-wal", "tollgate.db.journal", "tollgate.db.journal-wal"} {
		data, err := os.ReadFile(filepath.Join(dir, f))
		if err != nil && !os.IsNotExist(err) {
			t.Fatal(err)
		}
		if bytes.Contains(data, []byte(secret)) || bytes.Contains(data, []byte(apiKey)) {
			t.Errorf("%s holds a secret in clear", f)
		}
	}
	// A configured root key (TOLLGATE_ROOT_*, read by config.Load)
	// replaces a generated one.
	ts2 := startServer(t, "", func(c *config.Config) {
		c.Secrets.RootAccessKeyID, c.Secrets.RootSecretAccessKey = "AKIAFROMENVIRONMENT1", "from-env"
	})
	if ts2.RootAccessKeyID != "AKIAFROMENVIRONMENT1" {
		t.Errorf("root key %s, want the one from the environment", ts2.RootAccessKeyID)
	}
	if _, err := ts2.bedrock(t).ListFoundationModels(t.Context(), &bedrock.ListFoundationModelsInput{}); err != nil {
		t.Errorf("environment root key: %v", err)
	}
}

// otherLast returns s with its last character changed, so an ARN built
// from a real one names a resource that does not exist.
func otherLast(s string) string {
	if strings.HasSuffix(s, "0") {
		return s[:len(s)-1] + "1"
	}
	return s[:len(s)-1] + "0"
}
