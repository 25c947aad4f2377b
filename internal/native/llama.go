package native

import (
	"bytes"
	"encoding/base64"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// llamaCodec speaks Meta Llama's format: {"prompt","max_gen_len",
// "temperature","top_p","images"} in, {"generation","prompt_token_count",
// "generation_token_count","stop_reason"} out.
type llamaCodec struct{ env env }

func (c llamaCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	prompt, err := o.reqStr("prompt")
	if err != nil {
		return nil, err
	}
	if prompt == "" {
		return nil, malformed("#/prompt: expected minLength: 1, actual: 0")
	}
	req := &converse.Request{}
	req.System, req.Messages = parsePrompt(prompt)
	var cfg converse.InferenceConfig
	if cfg.MaxTokens, err = o.maxTokens("max_gen_len"); err != nil {
		return nil, err
	}
	if cfg.Temperature, err = o.sampling("temperature"); err != nil {
		return nil, err
	}
	if cfg.TopP, err = o.sampling("top_p"); err != nil {
		return nil, err
	}
	req.InferenceConfig = inferenceConfig(cfg)
	// Llama 3.2 vision models take base64 images beside the prompt; they
	// belong to the first user turn.
	images, _, err := o.strs("images")
	if err != nil {
		return nil, err
	}
	for i, s := range images {
		data, err := base64.StdEncoding.DecodeString(s)
		if err != nil {
			return nil, malformed("#/images/%d: not valid base64", i)
		}
		format := sniffImage(data)
		if format == "" {
			return nil, malformed("#/images/%d: not a png, jpeg, gif or webp image", i)
		}
		img := &converse.ImageBlock{Format: format}
		img.Source.Bytes = data
		for j := range req.Messages {
			if req.Messages[j].Role == "user" {
				req.Messages[j].Content = append([]converse.ContentBlock{{Image: img}}, req.Messages[j].Content...)
				break
			}
		}
	}
	if req.AdditionalModelRequestFields, err = additional(o.rest()); err != nil {
		return nil, err
	}
	return req, nil
}

// sniffImage names the Converse format of an image from its magic bytes.
func sniffImage(b []byte) string {
	switch {
	case bytes.HasPrefix(b, []byte("\x89PNG\r\n\x1a\n")):
		return "png"
	case bytes.HasPrefix(b, []byte("\xff\xd8\xff")):
		return "jpeg"
	case bytes.HasPrefix(b, []byte("GIF87a")), bytes.HasPrefix(b, []byte("GIF89a")):
		return "gif"
	case len(b) >= 12 && string(b[0:4]) == "RIFF" && string(b[8:12]) == "WEBP":
		return "webp"
	}
	return ""
}

// llamaStopReason maps a Converse stop reason to Llama's.
func llamaStopReason(r string) string {
	if r == "max_tokens" || r == "model_context_window_exceeded" {
		return "length"
	}
	return "stop"
}

func (c llamaCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	out := struct {
		Generation           string `json:"generation"`
		PromptTokenCount     int64  `json:"prompt_token_count"`
		GenerationTokenCount int64  `json:"generation_token_count"`
		StopReason           string `json:"stop_reason"`
	}{responseText(resp), resp.Usage.InputTokens, resp.Usage.OutputTokens, llamaStopReason(resp.StopReason)}
	return marshalResponse(out)
}

func (c llamaCodec) Stream(modelID string) StreamEncoder {
	return &llamaStream{streamBase: newStreamBase(c.env, modelID)}
}

// llamaStream renders text deltas as Llama chunks. generation_token_count
// is cumulative; a Converse stream does not count tokens per delta, so
// intermediate chunks count deltas and the final chunk, produced by the
// metadata event, carries the true count.
type llamaStream struct {
	streamBase
	inputReported bool
	deltas        int64
	stopReason    string
}

type llamaChunk struct {
	Generation           string             `json:"generation"`
	PromptTokenCount     *int64             `json:"prompt_token_count"`
	GenerationTokenCount int64              `json:"generation_token_count"`
	StopReason           *string            `json:"stop_reason"`
	Metrics              *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

func (s *llamaStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var chunk llamaChunk
	switch {
	case ev.ContentBlockDelta != nil && ev.ContentBlockDelta.Delta.Text != nil:
		s.deltas++
		chunk = llamaChunk{
			Generation:           *ev.ContentBlockDelta.Delta.Text,
			PromptTokenCount:     s.firstInput(&s.inputReported),
			GenerationTokenCount: s.deltas,
		}
	case ev.MessageStop != nil:
		s.stopReason = ev.MessageStop.StopReason
		return nil, nil
	case ev.Metadata != nil:
		s.done = true
		reason := llamaStopReason(s.stopReason)
		m := s.metrics(ev.Metadata)
		chunk = llamaChunk{
			PromptTokenCount:     finalInput(s.inputReported, ev.Metadata),
			GenerationTokenCount: ev.Metadata.Usage.OutputTokens,
			StopReason:           &reason,
			Metrics:              &m,
		}
	default:
		return nil, nil
	}
	chunks, err := marshalChunks(chunk)
	if err != nil {
		return nil, err
	}
	return s.produced(chunks), nil
}
