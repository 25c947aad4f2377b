package catalog

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestImagePrices checks every per-image price of the default catalogue
// against its source (the AWS Bedrock pricing page, as the catalogue
// entry's source cites it), the price a call selects by quality and
// size, and that an image model has no token rates.
func TestImagePrices(t *testing.T) {
	c := Default()
	at := time.Date(2026, 12, 6, 0, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		model, region  string
		quality        string
		width, height  int64
		wantKind       string
		wantUSD        string
		sourceMentions string
	}{
		// Nova Canvas: aws.amazon.com/bedrock/pricing, Amazon Nova, image generation.
		{"amazon.nova-canvas-v1:0", "us-east-1", "standard", 1024, 1024, "image-standard-1024x1024", "0.04", "standard up to 1024x1024 $0.04"},
		{"amazon.nova-canvas-v1:0", "us-east-1", "standard", 512, 512, "image-standard-1024x1024", "0.04", "standard up to 1024x1024 $0.04"},
		{"amazon.nova-canvas-v1:0", "eu-west-1", "standard", 2048, 2048, "image-standard-2048x2048", "0.06", "up to 2048x2048 $0.06"},
		{"amazon.nova-canvas-v1:0", "ap-northeast-1", "premium", 1024, 1024, "image-premium-1024x1024", "0.06", "premium $0.06 / $0.08"},
		{"amazon.nova-canvas-v1:0", "us-east-1", "premium", 2048, 2048, "image-premium-2048x2048", "0.08", "premium $0.06 / $0.08"},
		{"amazon.nova-canvas-v1:0", "us-east-1", "premium", 1280, 720, "image-premium-1024x1024", "0.06", "premium $0.06 / $0.08"},
		{"amazon.nova-canvas-v1:0", "us-east-1", "premium", 1408, 1024, "image-premium-2048x2048", "0.08", "premium $0.06 / $0.08"},
		// Stability AI: aws.amazon.com/bedrock/pricing, Stability AI.
		{"stability.sd3-5-large-v1:0", "us-west-2", "", 1024, 1024, "image", "0.08", "SD3.5 Large $0.08"},
		{"stability.stable-image-core-v1:1", "us-west-2", "", 0, 0, "image", "0.04", "Stable Image Core $0.04"},
		{"stability.stable-image-ultra-v1:1", "us-west-2", "", 0, 0, "image", "0.14", "Stable Image Ultra $0.14"},
	} {
		t.Run(tc.model+"/"+tc.quality+"/"+tc.wantKind+"/"+tc.region, func(t *testing.T) {
			m, ok := c.Model(tc.model)
			if !ok {
				t.Fatalf("model %s missing", tc.model)
			}
			p, ok := m.PriceFor(Dims{Region: tc.region}, at)
			if !ok {
				t.Fatalf("no price in force in %s", tc.region)
			}
			if !p.NoTokens || p.Input != 0 || p.Output != 0 || p.HasCache {
				t.Errorf("NoTokens = %v, Input %v, Output %v; want a per-image price without token rates", p.NoTokens, p.Input, p.Output)
			}
			if !strings.Contains(p.Source, tc.sourceMentions) {
				t.Errorf("source %q does not cite %q", p.Source, tc.sourceMentions)
			}
			u, ok := p.UnitFor(UnitImage, tc.quality, tc.width*tc.height)
			if !ok {
				t.Fatalf("UnitFor(%s, %dx%d) found no price", tc.quality, tc.width, tc.height)
			}
			if got, want := u.Price, money.MustParse(tc.wantUSD); got != want {
				t.Errorf("price = %v, want %v", got, want)
			}
			if u.Kind() != tc.wantKind {
				t.Errorf("Kind = %q, want %q", u.Kind(), tc.wantKind)
			}
			unit, quality, px := ParseUnitKind(u.Kind())
			if unit != UnitImage || quality != u.Quality || px != u.MaxPixels {
				t.Errorf("ParseUnitKind(%q) = %q, %q, %d; want %q, %q, %d", u.Kind(), unit, quality, px, UnitImage, u.Quality, u.MaxPixels)
			}
		})
	}
}

// TestUnitForNoMatch checks a request no per-unit price covers is
// unpriced: an image larger than every size, a quality the model has no
// price for, a unit it does not bill.
func TestUnitForNoMatch(t *testing.T) {
	m, _ := Default().Model("amazon.nova-canvas-v1:0")
	p, _ := m.PriceAt(time.Now())
	for _, tc := range []struct {
		unit, quality string
		pixels        int64
	}{
		{UnitImage, "premium", 4096 * 4096},
		{UnitImage, "ultra", 1024 * 1024},
		{UnitImage, "", 1024 * 1024},
		{"video-second", "standard", 0},
	} {
		if u, ok := p.UnitFor(tc.unit, tc.quality, tc.pixels); ok {
			t.Errorf("UnitFor(%q, %q, %d) = %+v, want no price", tc.unit, tc.quality, tc.pixels, u)
		}
	}
}

// TestParseUnits checks the units block of a price file.
func TestParseUnits(t *testing.T) {
	doc := func(units string) string {
		return strings.Replace(validModel, "        input: \"0.001\"\n        output: \"0.002\"\n", units, 1)
	}
	if !strings.Contains(validModel, "        input: \"0.001\"\n        output: \"0.002\"\n") {
		t.Fatal("validModel changed: update the test")
	}
	for _, tc := range []struct {
		name, units, wantErr string
	}{
		{"per image only", "        units: [{unit: image, price: \"0.04\"}]\n", ""},
		{"tokens and images", "        input: \"0.001\"\n        output: \"0.002\"\n        units: [{unit: image, quality: premium, upTo: 1024x1024, price: \"0.04\"}]\n", ""},
		{"unknown unit", "        units: [{unit: song, price: \"0.04\"}]\n", `unit "song"`},
		{"unknown quality", "        units: [{unit: image, quality: ultra, price: \"0.04\"}]\n", `quality "ultra"`},
		{"bad size", "        units: [{unit: image, upTo: big, price: \"0.04\"}]\n", `upTo "big"`},
		{"zero price", "        units: [{unit: image, price: \"0\"}]\n", "not positive"},
		{"missing price", "        units: [{unit: image}]\n", "missing price"},
		{"repeated", "        units: [{unit: image, price: \"0.04\"}, {unit: image, price: \"0.05\"}]\n", "same unit"},
		{"no tokens and no units", "", "missing input"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Parse([]byte(doc(tc.units)))
			switch {
			case tc.wantErr == "" && err != nil:
				t.Fatalf("Parse: %v", err)
			case tc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tc.wantErr)):
				t.Fatalf("Parse error = %v, want one containing %q", err, tc.wantErr)
			}
		})
	}
}
