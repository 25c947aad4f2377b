package main

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/costexplorer"
	cetypes "github.com/aws/aws-sdk-go-v2/service/costexplorer/types"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestImageGenerationPerImage calls Nova Canvas through the Go SDK's
// bedrockruntime client against a started server (the simulator behind
// it): two premium 2048 x 2048 images come back as base64 PNGs; the
// record carries 2 units at 2 x $0.08 (the Bedrock pricing page's premium
// "up to 2048 x 2048" price, catalog TestImagePrices); GetCostAndUsage
// grouped by USAGE_TYPE shows the images as the usage of their per-image
// usage type and their cost; a malformed body and Converse on the model
// are ValidationExceptions.
func TestImageGenerationPerImage(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	ctx := t.Context()
	rc := ts.runtime(t)
	const canvas = "amazon.nova-canvas-v1:0"
	body := `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse at dusk, oil painting"},
		"imageGenerationConfig":{"numberOfImages":2,"quality":"premium","width":2048,"height":2048,"seed":42}}`
	out, err := rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(canvas), Body: []byte(body),
		ContentType: aws.String("application/json"), Accept: aws.String("application/json")})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	var resp struct {
		Images []string `json:"images"`
	}
	if err := json.Unmarshal(out.Body, &resp); err != nil || len(resp.Images) != 2 {
		t.Fatalf("body %s: %v; want 2 images", out.Body, err)
	}
	if png, err := base64.StdEncoding.DecodeString(resp.Images[0]); err != nil || !strings.HasPrefix(string(png), "\x89PNG\r\n\x1a\n") {
		t.Errorf("image 0 is not a base64 PNG: %v", err)
	}

	recs, err := ts.DB.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 1 {
		t.Fatalf("%d records, want 1", len(recs))
	}
	r := recs[0]
	want := 2 * money.MustParse("0.08")
	if !r.Priced || r.Units != 2 || r.UnitKind != "image-premium-2048x2048" || r.UnitCost != want || r.Cost != want || r.Operation != "InvokeModel" {
		t.Fatalf("record: priced %v, %d units of %q at %v, cost %v (%s); want 2 premium 2048 images at %v",
			r.Priced, r.Units, r.UnitKind, r.UnitCost, r.Cost, r.Operation, want)
	}

	day := r.Time.UTC().Truncate(24 * time.Hour)
	ce := costexplorer.NewFromConfig(ts.awsConfig(t))
	cu, err := ce.GetCostAndUsage(ctx, &costexplorer.GetCostAndUsageInput{
		TimePeriod:  &cetypes.DateInterval{Start: aws.String(day.Format(time.DateOnly)), End: aws.String(day.AddDate(0, 0, 1).Format(time.DateOnly))},
		Granularity: cetypes.GranularityDaily, Metrics: []string{"UnblendedCost", "UsageQuantity"},
		GroupBy: []cetypes.GroupDefinition{{Type: cetypes.GroupDefinitionTypeDimension, Key: aws.String("USAGE_TYPE")}},
	})
	if err != nil {
		t.Fatalf("GetCostAndUsage: %v", err)
	}
	var found bool
	for _, p := range cu.ResultsByTime {
		for _, g := range p.Groups {
			if len(g.Keys) != 1 || g.Keys[0] != "USE1-NovaCanvas-image-premium-2048x2048" {
				t.Errorf("unexpected group %v", g.Keys)
				continue
			}
			found = true
			if c := aws.ToString(g.Metrics["UnblendedCost"].Amount); c != "0.16" && !strings.HasPrefix(c, "0.16000") {
				t.Errorf("cost %s, want 0.16", c)
			}
			if u := aws.ToString(g.Metrics["UsageQuantity"].Amount); u != "2" {
				t.Errorf("usage quantity %s, want 2 (images)", u)
			}
		}
	}
	if !found {
		t.Errorf("no USAGE_TYPE group for the images: %+v", cu.ResultsByTime)
	}

	var ve *rt.ValidationException
	_, err = rc.InvokeModel(ctx, &bedrockruntime.InvokeModelInput{ModelId: aws.String(canvas),
		Body: []byte(`{"taskType":"TEXT_IMAGE","imageGenerationConfig":{"numberOfImages":2}}`), ContentType: aws.String("application/json")})
	if !errors.As(err, &ve) || !strings.Contains(ve.ErrorMessage(), "textToImageParams") {
		t.Errorf("malformed body: %v, want a ValidationException naming textToImageParams", err)
	}
	_, err = rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(canvas), Messages: userText("draw a lighthouse")})
	if !errors.As(err, &ve) {
		t.Errorf("Converse on an image model: %v, want a ValidationException", err)
	}
}
