package native

import (
	"encoding/json"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// titanCodec speaks the Amazon Titan Text format: {"inputText",
// "textGenerationConfig":{…}} in, {"inputTextTokenCount","results":[…]} out.
type titanCodec struct{ env env }

func (c titanCodec) Request(body []byte) (*converse.Request, error) {
	o, err := parseBody(body)
	if err != nil {
		return nil, err
	}
	text, err := o.reqStr("inputText")
	if err != nil {
		return nil, err
	}
	if text == "" {
		return nil, malformed("#/inputText: expected minLength: 1, actual: 0")
	}
	req := &converse.Request{
		Messages: []converse.Message{{Role: "user", Content: []converse.ContentBlock{textBlock(text)}}},
	}
	extra := map[string]json.RawMessage{}
	gc, ok, err := o.child("textGenerationConfig")
	if err != nil {
		return nil, err
	}
	if ok {
		var cfg converse.InferenceConfig
		if cfg.MaxTokens, err = gc.maxTokens("maxTokenCount"); err != nil {
			return nil, err
		}
		if cfg.Temperature, err = gc.sampling("temperature"); err != nil {
			return nil, err
		}
		if cfg.TopP, err = gc.sampling("topP"); err != nil {
			return nil, err
		}
		if cfg.StopSequences, _, err = gc.strs("stopSequences"); err != nil {
			return nil, err
		}
		req.InferenceConfig = inferenceConfig(cfg)
		if rest := gc.rest(); len(rest) > 0 {
			raw, err := json.Marshal(rest)
			if err != nil {
				return nil, malformed("#/textGenerationConfig: unreadable members")
			}
			extra["textGenerationConfig"] = raw
		}
	}
	for k, v := range o.rest() {
		extra[k] = v
	}
	if req.AdditionalModelRequestFields, err = additional(extra); err != nil {
		return nil, err
	}
	return req, nil
}

// titanCompletionReason maps a Converse stop reason to Titan's
// completionReason.
func titanCompletionReason(r string) string {
	switch r {
	case "max_tokens", "model_context_window_exceeded":
		return "LENGTH"
	case "stop_sequence":
		return "STOP_CRITERIA_MET"
	case "content_filtered", "guardrail_intervened":
		return "CONTENT_FILTERED"
	}
	return "FINISH"
}

func (c titanCodec) Response(resp *converse.Response, modelID string) ([]byte, error) {
	if resp == nil {
		return nil, errNilResponse
	}
	type result struct {
		TokenCount       int64  `json:"tokenCount"`
		OutputText       string `json:"outputText"`
		CompletionReason string `json:"completionReason"`
	}
	out := struct {
		InputTextTokenCount int64    `json:"inputTextTokenCount"`
		Results             []result `json:"results"`
	}{
		InputTextTokenCount: resp.Usage.InputTokens,
		Results: []result{{
			TokenCount:       resp.Usage.OutputTokens,
			OutputText:       responseText(resp),
			CompletionReason: titanCompletionReason(resp.StopReason),
		}},
	}
	return marshalResponse(out)
}

func (c titanCodec) Stream(modelID string) StreamEncoder {
	return &titanStream{streamBase: newStreamBase(c.env, modelID)}
}

// titanStream renders text deltas as Titan chunks. The first chunk carries
// inputTextTokenCount (when hinted), the final one, produced by the
// metadata event, totalOutputTextTokenCount, completionReason and the
// invocation metrics.
type titanStream struct {
	streamBase
	inputReported bool
	stopReason    string
}

type titanChunk struct {
	OutputText                string             `json:"outputText"`
	Index                     int                `json:"index"`
	TotalOutputTextTokenCount *int64             `json:"totalOutputTextTokenCount"`
	CompletionReason          *string            `json:"completionReason"`
	InputTextTokenCount       *int64             `json:"inputTextTokenCount"`
	Metrics                   *invocationMetrics `json:"amazon-bedrock-invocationMetrics,omitempty"`
}

func (s *titanStream) Encode(ev converse.StreamEvent) ([][]byte, error) {
	if s.done {
		return nil, nil
	}
	var chunk titanChunk
	switch {
	case ev.ContentBlockDelta != nil && ev.ContentBlockDelta.Delta.Text != nil:
		chunk = titanChunk{OutputText: *ev.ContentBlockDelta.Delta.Text, InputTextTokenCount: s.firstInput(&s.inputReported)}
	case ev.MessageStop != nil:
		s.stopReason = ev.MessageStop.StopReason
		return nil, nil
	case ev.Metadata != nil:
		s.done = true
		out := ev.Metadata.Usage.OutputTokens
		reason := titanCompletionReason(s.stopReason)
		m := s.metrics(ev.Metadata)
		chunk = titanChunk{
			TotalOutputTextTokenCount: &out,
			CompletionReason:          &reason,
			InputTextTokenCount:       finalInput(s.inputReported, ev.Metadata),
			Metrics:                   &m,
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
