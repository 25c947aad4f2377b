package native

import (
	"encoding/json"
	"math"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func wordCount(s string) int64 { return int64(len(s)) }

func TestEmbedTitan(t *testing.T) {
	tests := []struct {
		name      string
		body      string
		wantDim   int
		wantTypes []string
	}{
		{"default dimensions", `{"inputText":"The cat sat on the mat."}`, 1024, nil},
		{"256 dimensions", `{"inputText":"The cat sat on the mat.","dimensions":256,"normalize":true}`, 256, nil},
		{"by type", `{"inputText":"The cat sat on the mat.","dimensions":512,"embeddingTypes":["float","binary"]}`, 512, []string{"binary", "float"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, usage, err := Embed(FamilyTitanEmbed, []byte(tt.body), wordCount)
			if err != nil {
				t.Fatalf("Embed: %v", err)
			}
			var got struct {
				Embedding           []float64            `json:"embedding"`
				InputTextTokenCount int64                `json:"inputTextTokenCount"`
				EmbeddingsByType    map[string][]float64 `json:"embeddingsByType"`
			}
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("response %s: %v", body, err)
			}
			if len(got.Embedding) != tt.wantDim {
				t.Errorf("len(embedding) = %d, want %d", len(got.Embedding), tt.wantDim)
			}
			if n := norm(got.Embedding); math.Abs(n-1) > 1e-5 {
				t.Errorf("norm = %v, want 1", n)
			}
			if got.InputTextTokenCount != 23 {
				t.Errorf("inputTextTokenCount = %d, want 23", got.InputTextTokenCount)
			}
			if diff := cmp.Diff(usage, converse.Usage{InputTokens: 23, TotalTokens: 23}); diff != "" {
				t.Errorf("usage mismatch (-got +want):\n%s", diff)
			}
			var types []string
			for k, v := range got.EmbeddingsByType {
				types = append(types, k)
				slices.Sort(types)
				if len(v) != tt.wantDim {
					t.Errorf("len(embeddingsByType[%s]) = %d, want %d", k, len(v), tt.wantDim)
				}
			}
			if diff := cmp.Diff(types, tt.wantTypes); diff != "" {
				t.Errorf("embedding types mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestEmbedDeterministicAndSimilar(t *testing.T) {
	embed := func(s string) []float64 {
		t.Helper()
		body, _, err := Embed(FamilyTitanEmbed, []byte(`{"inputText":`+string(mustJSON(t, s))+`}`), nil)
		if err != nil {
			t.Fatalf("Embed(%q): %v", s, err)
		}
		var r struct{ Embedding []float64 }
		if err := json.Unmarshal(body, &r); err != nil {
			t.Fatal(err)
		}
		return r.Embedding
	}
	a1, a2 := embed("invoice for claims processing"), embed("invoice for claims processing")
	if diff := cmp.Diff(a1, a2); diff != "" {
		t.Errorf("same text, different vectors (-first +second):\n%s", diff)
	}
	near := cosine(a1, embed("claims processing invoice"))
	far := cosine(a1, embed("sunny weather in Lisbon"))
	if near <= far {
		t.Errorf("cosine(similar) = %v, not above cosine(unrelated) = %v", near, far)
	}
	if n := norm(embed("!!!")); math.Abs(n-1) > 1e-5 {
		t.Errorf("norm of a text without words = %v, want 1", n)
	}
}

func TestEmbedCohere(t *testing.T) {
	t.Run("floats", func(t *testing.T) {
		body, usage, err := Embed(FamilyCohereEmbed, []byte(`{"texts":["hello world","goodbye"],"input_type":"search_document"}`), wordCount)
		if err != nil {
			t.Fatalf("Embed: %v", err)
		}
		var got struct {
			Embeddings   [][]float64 `json:"embeddings"`
			ID           string      `json:"id"`
			ResponseType string      `json:"response_type"`
			Texts        []string    `json:"texts"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("response %s: %v", body, err)
		}
		if len(got.Embeddings) != 2 || len(got.Embeddings[0]) != 1024 || len(got.Embeddings[1]) != 1024 {
			t.Errorf("embeddings shape wrong: %d vectors", len(got.Embeddings))
		}
		if got.ResponseType != "embeddings_floats" || len(got.ID) != 36 {
			t.Errorf("response_type %q, id %q", got.ResponseType, got.ID)
		}
		if diff := cmp.Diff(got.Texts, []string{"hello world", "goodbye"}); diff != "" {
			t.Errorf("texts mismatch (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(usage, converse.Usage{InputTokens: 18, TotalTokens: 18}); diff != "" {
			t.Errorf("usage mismatch (-got +want):\n%s", diff)
		}
	})
	t.Run("by type", func(t *testing.T) {
		body, _, err := Embed(FamilyCohereEmbed, []byte(`{"texts":["hello"],"input_type":"search_query","embedding_types":["float","int8","uint8","binary","ubinary"]}`), nil)
		if err != nil {
			t.Fatalf("Embed: %v", err)
		}
		var got struct {
			Embeddings   map[string][][]float64 `json:"embeddings"`
			ResponseType string                 `json:"response_type"`
		}
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatalf("response %s: %v", body, err)
		}
		if got.ResponseType != "embeddings_by_type" {
			t.Errorf("response_type = %q", got.ResponseType)
		}
		wantLen := map[string]int{"float": 1024, "int8": 1024, "uint8": 1024, "binary": 128, "ubinary": 128}
		wantRange := map[string][2]float64{"float": {-1, 1}, "int8": {-128, 127}, "uint8": {0, 255}, "binary": {-128, 127}, "ubinary": {0, 255}}
		for typ, n := range wantLen {
			vs := got.Embeddings[typ]
			if len(vs) != 1 || len(vs[0]) != n {
				t.Errorf("%s: shape wrong", typ)
				continue
			}
			for _, x := range vs[0] {
				if r := wantRange[typ]; x < r[0] || x > r[1] || (typ != "float" && x != math.Trunc(x)) {
					t.Errorf("%s: value %v out of range", typ, x)
					break
				}
			}
		}
	})
}

func TestEmbedInvalid(t *testing.T) {
	tests := []struct {
		name, family, body string
	}{
		{"unknown family", FamilyAnthropic, `{"inputText":"x"}`},
		{"titan not JSON", FamilyTitanEmbed, `inputText`},
		{"titan missing text", FamilyTitanEmbed, `{}`},
		{"titan empty text", FamilyTitanEmbed, `{"inputText":""}`},
		{"titan bad dimensions", FamilyTitanEmbed, `{"inputText":"x","dimensions":100}`},
		{"titan dimensions type", FamilyTitanEmbed, `{"inputText":"x","dimensions":"256"}`},
		{"titan bad type", FamilyTitanEmbed, `{"inputText":"x","embeddingTypes":["int4"]}`},
		{"cohere missing input_type", FamilyCohereEmbed, `{"texts":["x"]}`},
		{"cohere bad input_type", FamilyCohereEmbed, `{"texts":["x"],"input_type":"poem"}`},
		{"cohere missing texts", FamilyCohereEmbed, `{"input_type":"clustering"}`},
		{"cohere empty texts", FamilyCohereEmbed, `{"texts":[],"input_type":"clustering"}`},
		{"cohere texts not strings", FamilyCohereEmbed, `{"texts":[1],"input_type":"clustering"}`},
		{"cohere bad truncate", FamilyCohereEmbed, `{"texts":["x"],"input_type":"clustering","truncate":"MIDDLE"}`},
		{"cohere bad embedding type", FamilyCohereEmbed, `{"texts":["x"],"input_type":"clustering","embedding_types":["int4"]}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := Embed(tt.family, []byte(tt.body), nil)
			if !errkind.Is(err, errkind.Invalid) {
				t.Errorf("Embed error = %v, want an Invalid error", err)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func norm(v []float64) float64 {
	var s float64
	for _, x := range v {
		s += x * x
	}
	return math.Sqrt(s)
}

func cosine(a, b []float64) float64 {
	var s float64
	for i := range a {
		s += a[i] * b[i]
	}
	return s / norm(a) / norm(b)
}
