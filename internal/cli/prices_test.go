package cli

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestPricesCommand(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "prices.yaml")
	if err := os.WriteFile(file, []byte("prices:\n  - {model: amazon.nova-pro-v1:0, effective: 2026-01-01, tier: flex, input: \"0.0004\", output: \"0.0016\", source: checked}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out, errb bytes.Buffer
		err := Run(t.Context(), append([]string{"prices"}, args...), Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }})
		return out.String(), err
	}
	out, err := run("--date", "2026-03-01", "-o", "json", "--prices-file", file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Date   string
		Prices []PriceRow
	}
	if err := json.Unmarshal([]byte(out), &doc); err != nil {
		t.Fatal(err)
	}
	found := map[string]PriceRow{}
	for _, r := range doc.Prices {
		found[r.Model+"/"+strings.Join(r.Scopes, ",")+"/"+r.Tier+"/"+r.Latency] = r
	}
	for key, want := range map[string]struct{ input, origin string }{
		"amazon.nova-pro-v1:0/in-region,geo,global/flex/standard":                      {"0.0004", file + ":2"},
		"amazon.nova-pro-v1:0/in-region,geo,global/default/optimized":                  {"0.001", "catalog"},
		"anthropic.claude-sonnet-4-5-20250929-v1:0/global/default/standard":            {"0.003", "catalog"},
		"anthropic.claude-sonnet-4-5-20250929-v1:0/in-region,geo/default/standard":     {"0.0033", "catalog"},
		"anthropic.claude-3-haiku-20240307-v1:0/in-region,geo,global/default/standard": {"0.00025", "catalog"},
	} {
		r, ok := found[key]
		if !ok || r.Input != want.input || r.Origin != want.origin || r.Source == "" || r.Version == "" {
			t.Errorf("%s: %+v, want input %s from %s", key, r, want.input, want.origin)
		}
	}
	if out, err := run("--date", "2026-03-01", "-o", "csv"); err != nil || !strings.HasPrefix(out, "model,effective,scopes,") {
		t.Errorf("csv: %v %.80q", err, out)
	}
	if out, err := run("--date", "2020-01-01"); err != nil || strings.Contains(out, "claude-sonnet-4-5") {
		t.Errorf("a date before the model's prices lists it: %v", err)
	}
	if _, err := run("--date", "March"); err == nil {
		t.Error("a bad date is accepted")
	}
	bad := filepath.Join(dir, "bad.yaml")
	os.WriteFile(bad, []byte("prices:\n  - {model: amazon.nova-pro-v1:0, effective: 2026-01-01, input: \"x\", output: \"1\", source: s}\n"), 0o600)
	if _, err := run("--prices-file", bad); err == nil || !strings.Contains(err.Error(), "bad.yaml:2:") {
		t.Errorf("bad prices file: %v, want its line named", err)
	}
}

// TestPricesImageModel checks an image model lists its per-image prices
// and no token rates (never a $0 token rate).
func TestPricesImageModel(t *testing.T) {
	var out, errb bytes.Buffer
	if err := Run(t.Context(), []string{"prices", "--date", "2026-12-01", "-o", "json"}, Env{Stdout: &out, Stderr: &errb, Getenv: func(string) string { return "" }}); err != nil {
		t.Fatal(err)
	}
	var doc struct{ Prices []PriceRow }
	if err := json.Unmarshal(out.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	for _, r := range doc.Prices {
		if r.Model != "amazon.nova-canvas-v1:0" {
			continue
		}
		want := "image-standard-1024x1024=0.04 image-standard-2048x2048=0.06 image-premium-1024x1024=0.06 image-premium-2048x2048=0.08"
		if r.Input != "" || r.Output != "" || strings.Join(r.Units, " ") != want {
			t.Errorf("Nova Canvas row: input %q output %q units %v; want no token rates and %s", r.Input, r.Output, r.Units, want)
		}
		return
	}
	t.Error("no Nova Canvas row")
}
