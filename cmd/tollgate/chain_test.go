package main

import (
	"encoding/json"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// TestChainBedrockProvider runs Tollgate A with the bedrock provider pointed
// at two Tollgates standing in for Bedrock in us-east-1 (which throttles
// every call) and us-west-2. A profile spanning both regions must answer
// every call from us-west-2 — streams included — and bill each call once.
func TestChainBedrockProvider(t *testing.T) {
	const keyID, secret = "AKIACHAINTESTKEY0001", "chain-test-secret"
	rootKey := func(c *config.Config) { c.Secrets.RootAccessKeyID, c.Secrets.RootSecretAccessKey = keyID, secret }
	east := startServer(t, "", func(c *config.Config) {
		rootKey(c)
		c.Providers = []config.Provider{{Name: "busy", Type: "sim", Faults: []config.Fault{{Every: 1, Kind: "throttled"}}}}
		c.Routes = []config.Route{{Provider: "busy"}}
	})
	west := startServer(t, "", func(c *config.Config) { rootKey(c); c.Region = "us-west-2" })

	// A's bedrock provider finds its credentials through the default chain.
	t.Setenv("AWS_ACCESS_KEY_ID", keyID)
	t.Setenv("AWS_SECRET_ACCESS_KEY", secret)
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	a := startServer(t, "", func(c *config.Config) {
		c.Providers = []config.Provider{{Name: "aws", Type: "bedrock",
			Endpoints: map[string]string{"us-east-1": east.URL(), "us-west-2": west.URL()}}}
		c.Routes = []config.Route{{Provider: "aws"}}
	})
	sonnetProfile := "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.anthropic.claude-3-sonnet-20240229-v1:0"
	profile := createProfile(t, a.bedrock(t), "chained", sonnetProfile, tagList("dept", "claims")...)
	rc := a.runtime(t)
	ctx := t.Context()

	const rounds = 4 // round robin starts in each region at least once
	var wantIn, wantOut int64
	failedOver := 0

	if !t.Run("every operation, four rounds, through the chain", func(t *testing.T) {
		for i := range rounds {
			conv, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profile), Messages: userText("chain call")})
			if err != nil {
				t.Fatalf("Converse %d: %v", i, err)
			}
			wantIn += int64(aws.ToInt32(conv.Usage.InputTokens))
			wantOut += int64(aws.ToInt32(conv.Usage.OutputTokens))

			so, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(profile), Messages: userText("chain call")})
			if err != nil {
				t.Fatalf("ConverseStream %d: %v", i, err)
			}
			sr := readConverseStream(so)
			if sr.err != nil || sr.text != textOf(conv) {
				t.Fatalf("stream %d: %q, %v; want %q", i, sr.text, sr.err, textOf(conv))
			}
			wantIn += int64(aws.ToInt32(sr.usage.InputTokens))
			wantOut += int64(aws.ToInt32(sr.usage.OutputTokens))

			body := []byte(`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"messages":[{"role":"user","content":"chain call"}]}`)
			inv, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(profile), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModel %d: %v", i, err)
			}
			var native struct {
				Usage struct{ InputTokens, OutputTokens int64 } `json:"usage"`
			}
			if err := json.Unmarshal(inv.Body, &native); err != nil {
				t.Fatal(err)
			}
			st, err := rc.InvokeModelWithResponseStream(ctx, &bedrockruntime.InvokeModelWithResponseStreamInput{ModelId: aws.String(profile), Body: body, ContentType: aws.String("application/json")})
			if err != nil {
				t.Fatalf("InvokeModelWithResponseStream %d: %v", i, err)
			}
			chunks := 0
			for ev := range st.GetStream().Events() {
				if _, ok := ev.(*rt.ResponseStreamMemberChunk); ok {
					chunks++
				}
			}
			st.GetStream().Close()
			if err := st.GetStream().Err(); err != nil || chunks == 0 {
				t.Fatalf("IMWRS %d: %d chunks, %v", i, chunks, err)
			}
		}
	}) {
		return
	}

	if !t.Run("A bills every call as served in us-west-2, some after a failover", func(t *testing.T) {
		recs, err := a.DB.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		if len(recs) != 4*rounds {
			t.Fatalf("A recorded %d calls, want %d", len(recs), 4*rounds)
		}
		var gotIn, gotOut int64
		for _, r := range recs {
			if r.RegionServed != "us-west-2" || r.Outcome != ledger.OutcomeSuccess || r.Provider != "aws" || r.Tags["dept"] != "claims" {
				t.Errorf("record %+v", r)
			}
			if r.Attempts == 2 {
				failedOver++
			}
			if r.Operation == "Converse" || r.Operation == "ConverseStream" {
				gotIn += r.InputTokens
				gotOut += r.OutputTokens
			}
		}
		if failedOver == 0 {
			t.Error("no call failed over from the throttling region")
		}
		if gotIn != wantIn || gotOut != wantOut {
			t.Errorf("A billed %d/%d tokens for Converse calls, clients saw %d/%d", gotIn, gotOut, wantIn, wantOut)
		}
	}) {
		return
	}
	t.Run("the upstreams saw the throttled attempts and served the calls", func(t *testing.T) {
		// B in us-east-1 saw the throttled attempts; B in us-west-2 served all.
		eastRecs, _ := east.DB.Records(ctx, ledger.Query{})
		westRecs, _ := west.DB.Records(ctx, ledger.Query{})
		if len(eastRecs) != failedOver || len(westRecs) != 4*rounds {
			t.Errorf("upstreams recorded %d (east) and %d (west) calls, want %d and %d", len(eastRecs), len(westRecs), failedOver, 4*rounds)
		}
		for _, r := range eastRecs {
			if r.Outcome != ledger.OutcomeThrottled {
				t.Errorf("east record outcome %s", r.Outcome)
			}
		}
	})
}
