package main

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

const (
	novaProID   = "amazon.nova-pro-v1:0" // offers priority and flex
	sonnet45ID  = "anthropic.claude-sonnet-4-5-20250929-v1:0"
	novaBody    = `{"messages":[{"role":"user","content":[{"text":"Assess the risk of policy 7"}]}],"inferenceConfig":{"maxTokens":64}}`
	claudeBody  = `{"anthropic_version":"bedrock-2023-05-31","max_tokens":64,"messages":[{"role":"user","content":"Assess the risk of policy 7"}]}`
	tierUnknown = "turbo"
)

// tierCall runs one runtime operation on model in tier ("" names none)
// and returns the tier the response says served it.
type tierCall func(t *testing.T, rc *bedrockruntime.Client, model, body, tier string) (string, error)

var tierOps = map[string]tierCall{
	"Converse": func(t *testing.T, rc *bedrockruntime.Client, model, _, tier string) (string, error) {
		in := &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText("Assess the risk of policy 7"),
			InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(64)}}
		if tier != "" {
			in.ServiceTier = &rt.ServiceTier{Type: rt.ServiceTierType(tier)}
		}
		out, err := rc.Converse(t.Context(), in)
		if err != nil {
			return "", err
		}
		if out.ServiceTier == nil {
			t.Fatal("Converse response has no serviceTier")
		}
		return string(out.ServiceTier.Type), nil
	},
	"ConverseStream": func(t *testing.T, rc *bedrockruntime.Client, model, _, tier string) (string, error) {
		in := &bedrockruntime.ConverseStreamInput{ModelId: aws.String(model), Messages: userText("Assess the risk of policy 7"),
			InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(64)}}
		if tier != "" {
			in.ServiceTier = &rt.ServiceTier{Type: rt.ServiceTierType(tier)}
		}
		out, err := rc.ConverseStream(t.Context(), in)
		if err != nil {
			return "", err
		}
		stream := out.GetStream()
		defer stream.Close()
		var served string
		for ev := range stream.Events() {
			if m, ok := ev.(*rt.ConverseStreamOutputMemberMetadata); ok {
				if m.Value.ServiceTier == nil {
					t.Fatal("metadata event has no serviceTier")
				}
				served = string(m.Value.ServiceTier.Type)
			}
		}
		return served, stream.Err()
	},
	"InvokeModel": func(t *testing.T, rc *bedrockruntime.Client, model, body, tier string) (string, error) {
		out, err := rc.InvokeModel(t.Context(), &bedrockruntime.InvokeModelInput{ModelId: aws.String(model), Body: []byte(body),
			ContentType: aws.String("application/json"), ServiceTier: rt.ServiceTierType(tier)})
		if err != nil {
			return "", err
		}
		if !json.Valid(out.Body) {
			t.Fatalf("InvokeModel body %q", out.Body)
		}
		return string(out.ServiceTier), nil
	},
	"InvokeModelWithResponseStream": func(t *testing.T, rc *bedrockruntime.Client, model, body, tier string) (string, error) {
		out, err := rc.InvokeModelWithResponseStream(t.Context(), &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(model),
			Body: []byte(body), ContentType: aws.String("application/json"), ServiceTier: rt.ServiceTierType(tier)})
		if err != nil {
			return "", err
		}
		stream := out.GetStream()
		defer stream.Close()
		chunks := 0
		for range stream.Events() {
			chunks++
		}
		if chunks == 0 {
			t.Error("no chunks")
		}
		return string(out.ServiceTier), stream.Err()
	},
}

// TestServiceTiersOnTheWire runs the four runtime operations through the
// official client in each tier: the tier asked for is served and echoed
// (response member, stream metadata, response header), a call naming none
// is served Standard, a tier the model does not offer and a tier Bedrock
// does not know are ValidationExceptions, and each record carries the
// tier that served it.
func TestServiceTiersOnTheWire(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	rc := ts.runtime(t)
	served := 0
	for op, call := range tierOps {
		t.Run(op, func(t *testing.T) {
			for _, c := range []struct{ model, body, tier, want string }{
				{novaProID, novaBody, "priority", "priority"},
				{novaProID, novaBody, "default", "default"},
				{novaProID, novaBody, "flex", "flex"},
				{novaProID, novaBody, "", "default"},
				{sonnet45ID, claudeBody, "reserved", "reserved"},
			} {
				got, err := call(t, rc, c.model, c.body, c.tier)
				if err != nil {
					t.Fatalf("%s in tier %q: %v", c.model, c.tier, err)
				}
				if got != c.want {
					t.Errorf("%s in tier %q: served %q, want %q", c.model, c.tier, got, c.want)
				}
			}
			for _, c := range []struct{ model, body, tier, msg string }{
				{novaProID, novaBody, "reserved", "service tier (reserved) is not supported"},
				{haikuID, claudeBody, "priority", "service tier (priority) is not supported"},
				{haikuID, claudeBody, "flex", "service tier (flex) is not supported"},
				{novaProID, novaBody, tierUnknown, "failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]"},
			} {
				_, err := call(t, rc, c.model, c.body, c.tier)
				if errorCode(err) != "ValidationException" || !strings.Contains(err.Error(), c.msg) {
					t.Errorf("%s in tier %q: err %v, want ValidationException %q", c.model, c.tier, err, c.msg)
				}
			}
		})
		served += 5
	}
	recs, err := ts.DB.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	count := map[string]int{}
	for _, r := range recs {
		count[r.ServiceTier]++
	}
	if len(recs) != served || count["priority"] != 4 || count["flex"] != 4 || count["reserved"] != 4 || count["default"] != 8 {
		t.Errorf("%d records by tier %v; want %d: priority 4, flex 4, reserved 4, default 8", len(recs), count, served)
	}
}

// tierCapPolicy lets the batch team invoke anything but in the priority
// tier, through the tollgate:ServiceTier condition key.
const tierCapPolicy = `{
  "Version": "2012-10-17",
  "Statement": [
    {"Effect": "Allow", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], "Resource": "*"},
    {"Effect": "Deny", "Action": ["bedrock:InvokeModel", "bedrock:InvokeModelWithResponseStream"], "Resource": "*",
     "Condition": {"StringEquals": {"tollgate:ServiceTier": "priority"}}}
  ]
}`

// TestProfileTierSettings sets a batch profile's default tier (flex) and
// cap (default) through the admin API and checks the runtime applies
// them: a call naming no tier is served flex, a call asking for priority
// is refused, a call asking for default is served default; and an IAM
// policy on tollgate:ServiceTier denies priority to a principal even on a
// profile without a cap.
func TestProfileTierSettings(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	novaARN := "arn:aws:bedrock:us-east-1::foundation-model/" + novaProID
	batch := createProfile(t, ts.bedrock(t), "risk-batch", novaARN, tagList("team", "risk")...)
	chatbot := createProfile(t, ts.bedrock(t), "claims-chatbot", novaARN, tagList("team", "claims")...)
	admin := adminapi.NewClient(ts.URL(), "us-east-1", ts.awsConfig(t).Credentials)
	if _, err := admin.PutProfileTiers(ctx, "", batch, "flex", "default"); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.PutProfileTiers(ctx, "", chatbot, "priority", ""); err != nil {
		t.Fatal(err)
	}
	rc := ts.runtime(t)
	for op, call := range tierOps {
		t.Run(op, func(t *testing.T) {
			for _, c := range []struct{ profile, tier, want string }{
				{batch, "", "flex"}, {batch, "default", "default"}, {batch, "flex", "flex"},
				{chatbot, "", "priority"}, {chatbot, "flex", "flex"},
			} {
				got, err := call(t, rc, c.profile, novaBody, c.tier)
				if err != nil || got != c.want {
					t.Errorf("%s in tier %q: served %q, %v; want %q", c.profile, c.tier, got, err, c.want)
				}
			}
			_, err := call(t, rc, batch, novaBody, "priority")
			if errorCode(err) != "AccessDeniedException" || !strings.Contains(err.Error(), "may use service tiers up to default") {
				t.Errorf("batch profile in priority: %v, want AccessDeniedException", err)
			}
		})
	}

	ts.putPolicy(t, "123456789012", "no-priority", tierCapPolicy)
	_, key, secret := ts.newUser(t, "123456789012", "nightly", []string{"no-priority"}, "team", "risk")
	nightly := ts.runtime(t, func(o *bedrockruntime.Options) {
		o.Credentials = credentials.NewStaticCredentialsProvider(key, secret, "")
	})
	for op, call := range tierOps {
		if got, err := call(t, nightly, chatbot, novaBody, "flex"); err != nil || got != "flex" {
			t.Errorf("%s: nightly in flex: %q, %v", op, got, err)
		}
		// The chatbot profile defaults to priority: the condition key
		// carries the tier the call resolves to.
		for _, tier := range []string{"priority", ""} {
			if _, err := call(t, nightly, chatbot, novaBody, tier); errorCode(err) != "AccessDeniedException" {
				t.Errorf("%s: nightly in tier %q on the chatbot profile: %v, want AccessDeniedException", op, tier, err)
			}
		}
	}
}

// TestQuotasOnTheWire checks a requests-per-minute quota through the
// official client: calls beyond it are ThrottlingException, HTTP 429,
// with Bedrock's message and a Retry-After header, across Converse and
// InvokeModel alike; and reserved capacity serves its profile's calls in
// the reserved tier until it is used up, then Standard.
func TestQuotasOnTheWire(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) {
		c.Quotas.Rules = []config.QuotaRule{{Model: novaProID, Scope: "on-demand", RPM: 3}}
		c.Quotas.DefaultShare = 1
	})
	rc := ts.runtime(t)
	for i, op := range []string{"Converse", "InvokeModel", "Converse", "InvokeModel", "ConverseStream"} {
		_, err := tierOps[op](t, rc, novaProID, novaBody, "")
		if i < 3 {
			if err != nil {
				t.Fatalf("call %d (%s) within the quota: %v", i, op, err)
			}
			continue
		}
		var re *smithyhttp.ResponseError
		if !errors.As(err, &re) || errorCode(err) != "ThrottlingException" || re.HTTPStatusCode() != 429 ||
			!strings.Contains(err.Error(), "Too many requests, please wait before trying again.") {
			t.Fatalf("call %d (%s) beyond the quota: %v", i, op, err)
		}
		if ra, err := strconv.Atoi(re.Response.Header.Get("Retry-After")); err != nil || ra < 1 || ra > 60 {
			t.Errorf("Retry-After %q", re.Response.Header.Get("Retry-After"))
		}
	}

	// Reserved capacity: 200 tokens a minute for one profile. Its first
	// reserved call (about 75 input + 64 max tokens) fits; the second
	// overflows to Standard; another profile's reserved calls are
	// Standard at once.
	dir := t.TempDir()
	sonnetARN := "arn:aws:bedrock:us-east-1::foundation-model/" + sonnet45ID
	first := startServer(t, dir, nil)
	reserved := createProfile(t, first.bedrock(t), "claims-reserved", sonnetARN, tagList("app", "claims_chatbot")...)
	other := createProfile(t, first.bedrock(t), "sales-reserved", sonnetARN, tagList("app", "chat_app")...)
	first.stop()
	id := reserved[strings.LastIndex(reserved, "/")+1:]
	ts2 := startServer(t, dir, func(c *config.Config) {
		c.Quotas.Reserved = []config.QuotaReserved{{Profile: id, TPM: 200}}
	})
	rc2 := ts2.runtime(t)
	for i, c := range []struct{ profile, want string }{{reserved, "reserved"}, {reserved, "default"}, {other, "default"}} {
		got, err := tierOps["Converse"](t, rc2, c.profile, "", "reserved")
		if err != nil || got != c.want {
			t.Errorf("reserved call %d: served %q, %v; want %q", i, got, err, c.want)
		}
	}
}
