package native

import (
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// fuzzSeeds holds one realistic body per family and form; the committed
// corpus in testdata/fuzz/FuzzRequest holds more.
var fuzzSeeds = []string{
	`{"anthropic_version":"bedrock-2023-05-31","max_tokens":100,"system":[{"type":"text","text":"s","cache_control":{"type":"ephemeral"}}],"messages":[{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image","source":{"type":"base64","media_type":"image/png","data":"iVBORw0KGgo="}}]},{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"f","input":{}}]},{"role":"user","content":[{"type":"tool_result","tool_use_id":"t","content":[{"type":"text","text":"r"}]}]}],"tools":[{"name":"f","input_schema":{"type":"object"}}],"tool_choice":{"type":"any"},"top_k":5}`,
	`{"schemaVersion":"messages-v1","system":[{"text":"s"}],"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"max_new_tokens":10,"topK":3},"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}]}}`,
	`{"inputText":"User: hi\nBot:","textGenerationConfig":{"maxTokenCount":50,"temperature":0.1,"topP":0.9,"stopSequences":["User:"]}}`,
	`{"prompt":"<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\ns<|eot_id|><|start_header_id|>user<|end_header_id|>\n\nhi<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n","max_gen_len":64,"temperature":0.5,"top_p":0.9}`,
	`{"prompt":"<s>[INST] <<SYS>>\ns\n<</SYS>>\n\nhi [/INST] yo</s>[INST] again [/INST]","max_tokens":64,"top_k":10,"stop":["</s>"]}`,
	`{"messages":[{"role":"system","content":"s"},{"role":"user","content":[{"type":"text","text":"hi"},{"type":"image_url","image_url":{"url":"data:image/png;base64,iVBORw0KGgo="}}]},{"role":"assistant","content":"","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{}"}}]},{"role":"tool","tool_call_id":"a","content":"r"}],"tools":[{"type":"function","function":{"name":"f","parameters":{}}}],"tool_choice":"auto","max_tokens":10}`,
	`{"message":"hi","chat_history":[{"role":"USER","message":"a"},{"role":"CHATBOT","message":"b"}],"preamble":"s","max_tokens":10,"p":0.5,"k":3,"documents":[{"snippet":"x"}]}`,
	`{"inputText":"hello","dimensions":256,"embeddingTypes":["float","binary"]}`,
	`{"texts":["a","b"],"input_type":"search_document","embedding_types":["int8","ubinary"]}`,
	`{"generation":"x","prompt_token_count":1,"generation_token_count":2,"stop_reason":"stop","amazon-bedrock-invocationMetrics":{"inputTokenCount":1}}`,
	`{"max_tokens":1e400,"temperature":-0,"messages":null}`,
	`[{"role":"user"}]`,
	``,
}

var allFamilies = []string{
	FamilyAnthropic, FamilyNova, FamilyTitanText, FamilyTitanEmbed, FamilyLlama,
	FamilyMistral, FamilyCohereCommand, FamilyCohereEmbed, FamilyJamba,
}

// FuzzRequest feeds arbitrary bytes to every family's request parser (and
// to Embed and the usage readers): none may panic, every failure must be
// an Invalid error, and every success a request with messages that
// marshals.
func FuzzRequest(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, family := range allFamilies {
			UsageFromResponse(family, body)
			UsageFromChunk(family, body)
			if family == FamilyTitanEmbed || family == FamilyCohereEmbed {
				if _, _, err := Embed(family, body, nil); err != nil && !errkind.Is(err, errkind.Invalid) {
					t.Errorf("Embed(%s): error of kind %v: %v", family, errkind.KindOf(err), err)
				}
				continue
			}
			c, _ := ForRequest(family, body)
			req, err := c.Request(body)
			if err != nil {
				if !errkind.Is(err, errkind.Invalid) {
					t.Errorf("Request(%s): error of kind %v: %v", family, errkind.KindOf(err), err)
				}
				continue
			}
			if req == nil || len(req.Messages) == 0 {
				t.Errorf("Request(%s) = %+v without messages", family, req)
				continue
			}
			if _, err := json.Marshal(req); err != nil {
				t.Errorf("Request(%s) result does not marshal: %v", family, err)
			}
		}
	})
}
