package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// TestProfileTagsHeader names the tenant's profile by tags: the gateway
// resolves it and bills the call there.
func TestProfileTagsHeader(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	bc := ts.bedrock(t)
	acme := createProfile(t, bc, "acme-claims", haikuARN, tagList("tenant", "acme", "app", "claims_chatbot")...)
	createProfile(t, bc, "globex-claims", haikuARN, tagList("tenant", "globex", "app", "claims_chatbot")...)
	createProfile(t, bc, "acme-claims-nova", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0", tagList("tenant", "acme", "app", "claims_chatbot")...)
	createProfile(t, bc, "dup-1", haikuARN, tagList("tenant", "initech")...)
	createProfile(t, bc, "dup-2", haikuARN, tagList("tenant", "initech")...)

	withTags := func(h string) *bedrockruntime.Client {
		return ts.runtime(t, func(o *bedrockruntime.Options) {
			o.APIOptions = append(o.APIOptions, smithyhttp.AddHeaderValue("X-Tollgate-Profile-Tags", h))
		})
	}
	ctx := t.Context()
	out, err := withTags("tenant=acme, app=claims_chatbot").Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(haikuID), Messages: userText("hi")})
	if err != nil {
		t.Fatal(err)
	}
	so, err := withTags("tenant=acme,app=claims_chatbot").ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(haikuARN), Messages: userText("hi")})
	if err != nil {
		t.Fatal(err)
	}
	if sr := readConverseStream(so); sr.err != nil || sr.text != textOf(out) {
		t.Fatalf("stream %q %v", sr.text, sr.err)
	}
	recs, _ := ts.DB.Records(ctx, ledger.Query{})
	if len(recs) != 2 || recs[0].ProfileARN != acme || recs[1].ProfileARN != acme || recs[0].Tags["tenant"] != "acme" {
		t.Fatalf("records %+v, want both billed to %s", recs, acme)
	}

	for _, tc := range []struct {
		name, header, model string
		want                any
	}{
		{"no profile matches", "tenant=umbrella", haikuID, new(*rt.ResourceNotFoundException)},
		{"profile for another model", "tenant=globex", "amazon.nova-lite-v1:0", new(*rt.ResourceNotFoundException)},
		{"ambiguous", "tenant=initech", haikuID, new(*rt.ValidationException)},
		{"malformed header", "tenant", haikuID, new(*rt.ValidationException)},
		{"duplicate key", "tenant=a,tenant=b", haikuID, new(*rt.ValidationException)},
		{"application profile as modelId", "tenant=acme", acme, new(*rt.ValidationException)},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := withTags(tc.header).Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(tc.model), Messages: userText("hi")})
			assertErrorAs(t, err, tc.want)
		})
	}
}
