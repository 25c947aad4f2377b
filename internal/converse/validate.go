package converse

import (
	"encoding/json"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Bedrock's enumerations of content formats (the Converse API reference).
var (
	imageFormats    = []string{"png", "jpeg", "gif", "webp"}
	documentFormats = []string{"pdf", "csv", "doc", "docx", "xls", "xlsx", "html", "txt", "md"}
	videoFormats    = []string{"mkv", "mov", "mp4", "webm", "flv", "mpeg", "mpg", "wmv", "three_gp"}
)

// maxStopSequences is the most stop sequences inferenceConfig takes.
const maxStopSequences = 2500

// ValidateInput checks a decoded Converse request against the constraints
// the Bedrock Runtime service model states, as Bedrock does before it
// looks at the model: inferenceConfig's maxTokens (at least 1),
// temperature and topP (0 to 1) and stopSequences (at most 2500, none
// empty), the serviceTier type, and the format of every image, document and
// video block. The
// error is errkind.Invalid with Bedrock's message, for example
//
//	1 validation error detected: Value '7.5' at 'inferenceConfig.temperature'
//	failed to satisfy constraint: Member must have value less than or equal to 1
//
// (awsproto's decoders call it on every request type that has it).
func (r *Request) ValidateInput() error {
	var v violations
	if c := r.InferenceConfig; c != nil {
		if c.MaxTokens != nil && *c.MaxTokens < 1 {
			v.add(strconv.Itoa(int(*c.MaxTokens)), "inferenceConfig.maxTokens", "Member must have value greater than or equal to 1")
		}
		v.unit(c.Temperature, "inferenceConfig.temperature")
		v.unit(c.TopP, "inferenceConfig.topP")
		if len(c.StopSequences) > maxStopSequences {
			v.add("["+strings.Join(c.StopSequences[:3], ", ")+", ...]", "inferenceConfig.stopSequences",
				fmt.Sprintf("Member must have length less than or equal to %d", maxStopSequences))
		}
		for i, s := range c.StopSequences {
			if s == "" {
				v.add(s, fmt.Sprintf("inferenceConfig.stopSequences.%d.member", i+1), "Member must have length greater than or equal to 1")
			}
		}
	}
	if r.ServiceTier != nil {
		v.enum(r.ServiceTier.Type, "serviceTier.type", ServiceTiers)
	}
	for i, m := range r.Messages {
		for j, b := range m.Content {
			if b.Image == nil && len(b.Document) == 0 && len(b.Video) == 0 && b.ToolResult == nil {
				continue // text and the other blocks have no format to check
			}
			at := fmt.Sprintf("messages.%d.member.content.%d.member", i+1, j+1)
			if b.Image != nil {
				v.enum(b.Image.Format, at+".image.format", imageFormats)
			}
			v.rawFormat(b.Document, at+".document.format", documentFormats)
			v.rawFormat(b.Video, at+".video.format", videoFormats)
			if b.ToolResult != nil {
				for k, c := range b.ToolResult.Content {
					at := fmt.Sprintf("%s.toolResult.content.%d.member", at, k+1)
					if c.Image != nil {
						v.enum(c.Image.Format, at+".image.format", imageFormats)
					}
					v.rawFormat(c.Document, at+".document.format", documentFormats)
				}
			}
		}
	}
	return v.err()
}

// violations collects constraint failures in Bedrock's words.
type violations []string

func (v *violations) add(value, at, constraint string) {
	*v = append(*v, fmt.Sprintf("Value '%s' at '%s' failed to satisfy constraint: %s", value, at, constraint))
}

// unit checks a value that must lie in [0, 1].
func (v *violations) unit(f *float32, at string) {
	switch {
	case f == nil:
	case math.IsNaN(float64(*f)):
		v.add("NaN", at, "Member must have value less than or equal to 1")
	case *f < 0:
		v.add(javaFloat(*f), at, "Member must have value greater than or equal to 0")
	case *f > 1:
		v.add(javaFloat(*f), at, "Member must have value less than or equal to 1")
	}
}

func (v *violations) enum(s, at string, set []string) {
	if !slices.Contains(set, s) {
		v.add(s, at, "Member must satisfy enum value set: ["+strings.Join(set, ", ")+"]")
	}
}

// rawFormat checks the format member of a block kept as raw JSON (a
// document or video block); a block that is absent or has no string
// format is left to the provider.
func (v *violations) rawFormat(raw json.RawMessage, at string, set []string) {
	if len(raw) == 0 {
		return
	}
	var b struct {
		Format *string `json:"format"`
	}
	if json.Unmarshal(raw, &b) != nil || b.Format == nil {
		return
	}
	v.enum(*b.Format, at, set)
}

func (v violations) err() error {
	switch len(v) {
	case 0:
		return nil
	case 1:
		return errkind.New(errkind.Invalid, "1 validation error detected: %s", v[0])
	}
	return errkind.New(errkind.Invalid, "%d validation errors detected: %s", len(v), strings.Join(v, "; "))
}

// javaFloat formats f as Bedrock's messages do (Java's Float.toString for
// ordinary values): "7.5", "-3.0".
func javaFloat(f float32) string {
	s := strconv.FormatFloat(float64(f), 'f', -1, 32)
	if math.IsInf(float64(f), 0) {
		return strconv.FormatFloat(float64(f), 'g', -1, 32)
	}
	if !strings.Contains(s, ".") {
		s += ".0"
	}
	return s
}

// ValidateServiceTier checks a service tier named by the
// X-Amzn-Bedrock-Service-Tier header of an InvokeModel request ("" is no
// tier) against Bedrock's enumeration, with Bedrock's message.
func ValidateServiceTier(tier string) error {
	if tier == "" {
		return nil
	}
	var v violations
	v.enum(tier, "serviceTier", ServiceTiers)
	return v.err()
}
