package native

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"image/png"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestParseImageRequest(t *testing.T) {
	for _, tc := range []struct {
		name, family, body string
		want               ImageRequest
		wantErr            string
	}{
		{"nova defaults", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a robot"}}`,
			ImageRequest{Count: 1, Quality: "standard", Width: 1024, Height: 1024}, ""},
		{"nova premium 2048 x2", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a robot"},
			"imageGenerationConfig":{"numberOfImages":2,"quality":"premium","width":2048,"height":2048,"cfgScale":8,"seed":42}}`,
			ImageRequest{Count: 2, Quality: "premium", Width: 2048, Height: 2048}, ""},
		{"nova 512", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"width":512,"height":512}}`,
			ImageRequest{Count: 1, Quality: "standard", Width: 512, Height: 512}, ""},
		{"stability", FamilyStabilityImage, `{"prompt":"a lighthouse","aspect_ratio":"16:9","seed":7}`, ImageRequest{Count: 1}, ""},
		{"not json", FamilyNovaCanvas, `{`, ImageRequest{}, "not valid JSON"},
		{"no task type", FamilyNovaCanvas, `{"textToImageParams":{"text":"x"}}`, ImageRequest{}, "required key [taskType] not found"},
		{"bad task type", FamilyNovaCanvas, `{"taskType":"PAINT"}`, ImageRequest{}, "#/taskType: PAINT is not a valid enum value"},
		{"no text params", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE"}`, ImageRequest{}, "required key [textToImageParams] not found"},
		{"empty text", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":""}}`, ImageRequest{}, "textToImageParams/text"},
		{"six images", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":6}}`,
			ImageRequest{}, "numberOfImages: 6 is not between 1 and 5"},
		{"bad quality", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"quality":"ultra"}}`,
			ImageRequest{}, "quality: ultra is not a valid enum value"},
		{"side not a multiple of 16", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"width":1000}}`,
			ImageRequest{}, "multiple of 16"},
		{"too many pixels", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"width":4096,"height":2048}}`,
			ImageRequest{}, "more than 4194304 pixels"},
		{"count as string", FamilyNovaCanvas, `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":"2"}}`,
			ImageRequest{}, "expected type: Integer, found: String"},
		{"stability no prompt", FamilyStabilityImage, `{"seed":1}`, ImageRequest{}, "required key [prompt] not found"},
		{"stability empty prompt", FamilyStabilityImage, `{"prompt":""}`, ImageRequest{}, "minLength"},
		{"text family", FamilyNova, `{"prompt":"x"}`, ImageRequest{}, "does not support image generation"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseImageRequest(tc.family, []byte(tc.body))
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errkind.Is(err, errkind.Invalid) {
					t.Fatalf("err = %v, want an Invalid error containing %q", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %+v, want %+v", got, tc.want)
			}
		})
	}
}

func TestGenerateImages(t *testing.T) {
	nova := `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":3}}`
	r, err := ParseImageRequest(FamilyNovaCanvas, []byte(nova))
	if err != nil {
		t.Fatal(err)
	}
	body, err := GenerateImages(FamilyNovaCanvas, []byte(nova), r)
	if err != nil {
		t.Fatal(err)
	}
	var out struct {
		Images []string `json:"images"`
	}
	if err := json.Unmarshal(body, &out); err != nil || len(out.Images) != 3 {
		t.Fatalf("body %s: %v, %d images; want 3", body, err, len(out.Images))
	}
	raw, err := base64.StdEncoding.DecodeString(out.Images[0])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := png.Decode(bytes.NewReader(raw)); err != nil {
		t.Errorf("image is not a PNG: %v", err)
	}
	if n := ImagesIn(body); n != 3 {
		t.Errorf("ImagesIn = %d, want 3", n)
	}

	stab := `{"prompt":"a lighthouse","seed":7}`
	body, err = GenerateImages(FamilyStabilityImage, []byte(stab), ImageRequest{Count: 1})
	if err != nil {
		t.Fatal(err)
	}
	var s struct {
		Seeds         []uint32  `json:"seeds"`
		FinishReasons []*string `json:"finish_reasons"`
		Images        []string  `json:"images"`
	}
	if err := json.Unmarshal(body, &s); err != nil || len(s.Images) != 1 || len(s.Seeds) != 1 || s.Seeds[0] != 7 ||
		len(s.FinishReasons) != 1 || s.FinishReasons[0] != nil {
		t.Errorf("stability body %s (%v): want one image, seed 7, finish reason null", body, err)
	}
	if _, err := GenerateImages(FamilyNova, nil, ImageRequest{Count: 1}); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("text family: %v, want Invalid", err)
	}
}

// TestImagesIn counts the images of responses as Bedrock returns them,
// leaving out Stability's filtered ones.
func TestImagesIn(t *testing.T) {
	for _, tc := range []struct {
		body string
		want int64
	}{
		{`{"images":["a","b"]}`, 2},
		{`{"seeds":[1],"finish_reasons":[null],"images":["a"]}`, 1},
		{`{"finish_reasons":["Filter reason: prompt"]}`, 0},
		{`{"seeds":[1,2],"finish_reasons":[null,"Filter reason: output image"],"images":["a","b"]}`, 1},
		{`{"images":[],"error":"x"}`, 0},
		{`not json`, 0},
	} {
		if got := ImagesIn([]byte(tc.body)); got != tc.want {
			t.Errorf("ImagesIn(%s) = %d, want %d", tc.body, got, tc.want)
		}
	}
}
