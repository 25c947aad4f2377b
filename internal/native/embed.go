package native

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash/fnv"
	"math"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Embed answers an InvokeModel request of an embedding family
// ("titan-embed" or "cohere-embed") the way the simulator does: with
// deterministic pseudo-embeddings, unit-normalised, derived from hashed
// word and character-trigram features of each text, so that texts sharing
// words have a positive cosine similarity and the same text always gets the
// same vector. It returns the native response body and the usage (input
// tokens only). tokens counts the tokens of one text; nil means an
// estimate of one token per four characters.
//
// Titan answers {"embedding":[…],"inputTextTokenCount"} with "dimensions"
// floats (256, 512 or 1024; default 1024), plus "embeddingsByType" when
// "embeddingTypes" is given; "normalize" is accepted and vectors are always
// unit length. Cohere answers {"embeddings":[[…]],"id","response_type":
// "embeddings_floats","texts"} with 1024 floats per text, or
// "embeddings_by_type" when "embedding_types" is given (float, int8, uint8,
// binary, ubinary). Malformed bodies and other families yield
// errkind.Invalid.
func Embed(family string, body []byte, tokens func(string) int64) ([]byte, converse.Usage, error) {
	if tokens == nil {
		tokens = estimateTokens
	}
	switch family {
	case FamilyTitanEmbed:
		return titanEmbed(body, tokens)
	case FamilyCohereEmbed:
		return cohereEmbed(body, tokens)
	}
	return nil, converse.Usage{}, errkind.New(errkind.Invalid, "The model does not support embedding requests.")
}

// estimateTokens estimates the tokens of s at one per four characters.
func estimateTokens(s string) int64 {
	n := int64(utf8.RuneCountInString(s))
	if n == 0 {
		return 0
	}
	return (n + 3) / 4
}

func titanEmbed(body []byte, tokens func(string) int64) ([]byte, converse.Usage, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, converse.Usage{}, err
	}
	text, err := o.reqStr("inputText")
	if err != nil {
		return nil, converse.Usage{}, err
	}
	if text == "" {
		return nil, converse.Usage{}, malformed("#/inputText: expected minLength: 1, actual: 0")
	}
	dim := int64(1024)
	if n, ok, err := o.int("dimensions"); err != nil {
		return nil, converse.Usage{}, err
	} else if ok {
		if n != 256 && n != 512 && n != 1024 {
			return nil, converse.Usage{}, malformed("#/dimensions: %d is not a valid enum value", n)
		}
		dim = n
	}
	if _, _, err := o.boolean("normalize"); err != nil {
		return nil, converse.Usage{}, err
	}
	types, hasTypes, err := o.strs("embeddingTypes")
	if err != nil {
		return nil, converse.Usage{}, err
	}
	vec := pseudoEmbedding(text, int(dim))
	n := tokens(text)
	out := map[string]any{"embedding": vec, "inputTextTokenCount": n}
	if hasTypes {
		byType := map[string]any{}
		for i, t := range types {
			switch t {
			case "float":
				byType["float"] = vec
			case "binary":
				bits := make([]int, len(vec))
				for j, x := range vec {
					if x > 0 {
						bits[j] = 1
					}
				}
				byType["binary"] = bits
			default:
				return nil, converse.Usage{}, malformed("#/embeddingTypes/%d: %s is not a valid enum value", i, clip(t))
			}
		}
		out["embeddingsByType"] = byType
	}
	b, err := marshalResponse(out)
	if err != nil {
		return nil, converse.Usage{}, err
	}
	return b, converse.Usage{InputTokens: n, TotalTokens: n}, nil
}

func cohereEmbed(body []byte, tokens func(string) int64) ([]byte, converse.Usage, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, converse.Usage{}, err
	}
	inputType, err := o.reqStr("input_type")
	if err != nil {
		return nil, converse.Usage{}, err
	}
	switch inputType {
	case "search_document", "search_query", "classification", "clustering", "image":
	default:
		return nil, converse.Usage{}, malformed("#/input_type: %s is not a valid enum value", clip(inputType))
	}
	texts, hasTexts, err := o.strs("texts")
	if err != nil {
		return nil, converse.Usage{}, err
	}
	images, hasImages, err := o.strs("images")
	if err != nil {
		return nil, converse.Usage{}, err
	}
	inputs := texts
	if !hasTexts {
		if !hasImages {
			return nil, converse.Usage{}, o.missing("texts")
		}
		inputs = images
	}
	if len(inputs) == 0 {
		return nil, converse.Usage{}, malformed("#/texts: expected minimum item count: 1, found: 0")
	}
	if len(inputs) > 96 {
		return nil, converse.Usage{}, malformed("#/texts: expected maximum item count: 96, found: %d", len(inputs))
	}
	if t, ok, err := o.str("truncate"); err != nil {
		return nil, converse.Usage{}, err
	} else if ok && t != "NONE" && t != "START" && t != "END" {
		return nil, converse.Usage{}, malformed("#/truncate: %s is not a valid enum value", clip(t))
	}
	types, hasTypes, err := o.strs("embedding_types")
	if err != nil {
		return nil, converse.Usage{}, err
	}
	const dim = 1024
	vecs := make([][]float32, len(inputs))
	var n int64
	for i, s := range inputs {
		vecs[i] = pseudoEmbedding(inputType+"\x00"+s, dim)
		if hasTexts {
			n += tokens(s)
		}
	}
	sum := sha256.Sum256(body)
	id := hex.EncodeToString(sum[:16])
	out := map[string]any{
		"id":    id[0:8] + "-" + id[8:12] + "-" + id[12:16] + "-" + id[16:20] + "-" + id[20:32],
		"texts": texts,
	}
	if texts == nil {
		out["texts"] = []string{}
	}
	if !hasTypes {
		out["embeddings"] = vecs
		out["response_type"] = "embeddings_floats"
	} else {
		byType := map[string]any{}
		for i, t := range types {
			switch t {
			case "float":
				byType[t] = vecs
			case "int8", "uint8", "binary", "ubinary":
				q := make([][]int, len(vecs))
				for j, v := range vecs {
					q[j] = quantize(v, t)
				}
				byType[t] = q
			default:
				return nil, converse.Usage{}, malformed("#/embedding_types/%d: %s is not a valid enum value", i, clip(t))
			}
		}
		out["embeddings"] = byType
		out["response_type"] = "embeddings_by_type"
	}
	b, err := marshalResponse(out)
	if err != nil {
		return nil, converse.Usage{}, err
	}
	return b, converse.Usage{InputTokens: n, TotalTokens: n}, nil
}

// quantize renders v as Cohere's integer embedding types: int8 and uint8
// scale each value, binary and ubinary pack sign bits eight to a value
// (ubinary as 0..255, binary as that minus 128).
func quantize(v []float32, kind string) []int {
	var maxAbs float64
	for _, x := range v {
		maxAbs = math.Max(maxAbs, math.Abs(float64(x)))
	}
	if maxAbs == 0 {
		maxAbs = 1
	}
	switch kind {
	case "int8", "uint8":
		out := make([]int, len(v))
		for i, x := range v {
			s := float64(x) / maxAbs
			if kind == "int8" {
				out[i] = int(math.Max(-128, math.Min(127, math.Round(s*127))))
			} else {
				out[i] = int(math.Max(0, math.Min(255, math.Round((s+1)*127.5))))
			}
		}
		return out
	}
	out := make([]int, (len(v)+7)/8)
	for i, x := range v {
		if x > 0 {
			out[i/8] |= 1 << (7 - i%8)
		}
	}
	if kind == "binary" {
		for i := range out {
			out[i] -= 128
		}
	}
	return out
}

// pseudoEmbedding returns a deterministic unit vector of dim floats for
// text. Each lower-cased word, and with less weight each character
// trigram, adds ±weight at eight positions drawn from a generator seeded by
// the feature's hash.
func pseudoEmbedding(text string, dim int) []float32 {
	v := make([]float64, dim)
	add := func(feature string, w float64) {
		h := fnv.New64a()
		h.Write([]byte(feature))
		x := h.Sum64()
		for range 8 {
			x = splitmix64(x)
			idx := int(x % uint64(dim))
			sign := 1.0
			if x>>63 == 1 {
				sign = -1
			}
			v[idx] += sign * w
		}
	}
	words := strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
		return !unicode.IsLetter(r) && !unicode.IsDigit(r)
	})
	for _, w := range words {
		add("w:"+w, 1)
		padded := []rune("^" + w + "$")
		for i := 0; i+3 <= len(padded); i++ {
			add("t:"+string(padded[i:i+3]), 0.25)
		}
	}
	var norm float64
	for _, x := range v {
		norm += x * x
	}
	if norm == 0 {
		// No words (punctuation, empty): a vector from the whole text.
		sum := sha256.Sum256([]byte(text))
		x := binary.BigEndian.Uint64(sum[:8])
		for i := range v {
			x = splitmix64(x)
			v[i] = float64(int64(x>>11))/float64(1<<52) - 1
			norm += v[i] * v[i]
		}
	}
	norm = math.Sqrt(norm)
	out := make([]float32, dim)
	for i, x := range v {
		out[i] = float32(x / norm)
	}
	return out
}

func splitmix64(x uint64) uint64 {
	x += 0x9e3779b97f4a7c15
	z := x
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
	z = (z ^ (z >> 27)) * 0x94d049bb133111eb
	return z ^ (z >> 31)
}
