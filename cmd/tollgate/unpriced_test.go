package main

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// TestUnknownPriceIsNotZero calls a model whose only price starts in the
// future: the record is marked unpriced (not billed as $0 silently), and
// /metrics counts it.
func TestUnknownPriceIsNotZero(t *testing.T) {
	t.Parallel()
	catalogFile := filepath.Join(t.TempDir(), "catalog.yaml")
	if err := os.WriteFile(catalogFile, []byte(`models:
  - id: acme.future-v1:0
    name: Acme Future
    provider: Acme
    inputModalities: [TEXT]
    outputModalities: [TEXT]
    streaming: true
    inferenceTypes: [ON_DEMAND]
    lifecycle: ACTIVE
    regions: [us-east-1]
    family: anthropic
    prices:
      - effective: 2099-01-01
        input: "0.001"
        output: "0.002"
        source: test
`), 0o600); err != nil {
		t.Fatal(err)
	}
	ts := startServer(t, "", func(c *config.Config) { c.CatalogFile = catalogFile })
	if _, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String("acme.future-v1:0"), Messages: userText("hello")}); err != nil {
		t.Fatal(err)
	}
	recs, _ := ts.DB.Records(t.Context(), ledger.Query{})
	if len(recs) != 1 || recs[0].Priced || recs[0].Cost != 0 || recs[0].InputTokens == 0 {
		t.Fatalf("records %+v, want one unpriced record with tokens", recs)
	}
	if ts.Invoke.UnpricedCalls() != 1 {
		t.Errorf("UnpricedCalls = %d", ts.Invoke.UnpricedCalls())
	}
	resp, err := ts.getMetrics(t)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `tollgate_model_unpriced_calls_total{account="123456789012",model="acme.future-v1:0",profile=""} 1`) {
		t.Errorf("/metrics lacks the unpriced counter:\n%s", grepLines(string(body), "unpriced"))
	}
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestMetricsTagLabelsConfig allow-lists a tag key as a Prometheus label
// through the configuration.
func TestMetricsTagLabelsConfig(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.MetricsTagLabels = "dept" })
	profile := createProfile(t, ts.bedrock(t), "tagged", haikuARN, tagList("dept", "claims", "team", "secret-team")...)
	if _, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(profile), Messages: userText("hi")}); err != nil {
		t.Fatal(err)
	}
	resp, err := ts.getMetrics(t)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	calls := grepLines(string(body), "tollgate_model_invocations_total{")
	if !strings.Contains(calls, `dept="claims"`) || strings.Contains(calls, "secret-team") {
		t.Errorf("invocation series:\n%s", calls)
	}
}

// TestMetricsMaxProfilesConfig bounds the profiles with Prometheus series
// of their own through the configuration: with a limit of one, the
// second profile's call is counted under profile="__overflow__".
func TestMetricsMaxProfilesConfig(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", func(c *config.Config) { c.MetricsMaxProfiles = 1 })
	for _, name := range []string{"first", "second"} {
		profile := createProfile(t, ts.bedrock(t), name, haikuARN)
		if _, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(profile), Messages: userText("hi")}); err != nil {
			t.Fatal(err)
		}
	}
	resp, err := ts.getMetrics(t)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	calls := grepLines(string(body), "tollgate_model_invocations_total{")
	if n := strings.Count(calls, "\n") + 1; n != 2 || !strings.Contains(calls, `profile="__overflow__"`) {
		t.Errorf("invocation series, want one of the first profile and the overflow:\n%s", calls)
	}
	if !strings.Contains(string(body), "tollgate_metrics_profile_overflow_calls_total 1\n") {
		t.Errorf("/metrics lacks the overflow counter:\n%s", grepLines(string(body), "tollgate_metrics_"))
	}
}
