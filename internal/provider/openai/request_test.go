package openai

import (
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

const okReply = `{"id":"c1","object":"chat.completion","choices":[{"index":0,"message":{"role":"assistant","content":"ok"},"finish_reason":"stop"}],"usage":{"prompt_tokens":1,"completion_tokens":1,"total_tokens":2}}`

func TestRequestTranslation(t *testing.T) {
	tests := []struct {
		name string
		req  string // Converse request body
		want string // chat-completions request body
	}{
		{
			name: "system and multi-turn",
			req: `{
				"system": [{"text": "be brief"}, {"cachePoint": {"type": "default"}}, {"text": "be kind"}],
				"messages": [
					{"role": "user", "content": [{"text": "hi"}]},
					{"role": "assistant", "content": [{"text": "hello"}]},
					{"role": "user", "content": [{"text": "how"}, {"text": "are you?"}, {"cachePoint": {"type": "default"}}]}
				]}`,
			want: `{
				"model": "served",
				"messages": [
					{"role": "system", "content": "be brief\nbe kind"},
					{"role": "user", "content": "hi"},
					{"role": "assistant", "content": "hello"},
					{"role": "user", "content": "how\nare you?"}
				]}`,
		},
		{
			name: "inference config",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "hi"}]}],
				"inferenceConfig": {"maxTokens": 100, "temperature": 0.5, "topP": 0.9, "stopSequences": ["END", "STOP"]}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "hi"}],
				"max_tokens": 100, "temperature": 0.5, "top_p": 0.9, "stop": ["END", "STOP"]}`,
		},
		{
			name: "tools without tool choice",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "weather?"}]}],
				"toolConfig": {"tools": [
					{"toolSpec": {"name": "get_weather", "description": "Weather in a city",
						"inputSchema": {"json": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}}},
					{"cachePoint": {"type": "default"}},
					{"toolSpec": {"name": "now", "inputSchema": {"json": {"type": "object"}}, "strict": true}}
				]}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "weather?"}],
				"tools": [
					{"type": "function", "function": {"name": "get_weather", "description": "Weather in a city",
						"parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}},
					{"type": "function", "function": {"name": "now", "parameters": {"type": "object"}, "strict": true}}
				]}`,
		},
		{
			name: "tool choice auto",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "x"}]}],
				"toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"auto": {}}}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "x"}],
				"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
				"tool_choice": "auto"}`,
		},
		{
			name: "tool choice any",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "x"}]}],
				"toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"any": {}}}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "x"}],
				"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
				"tool_choice": "required"}`,
		},
		{
			name: "tool choice tool",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "x"}]}],
				"toolConfig": {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}], "toolChoice": {"tool": {"name": "f"}}}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "x"}],
				"tools": [{"type": "function", "function": {"name": "f", "parameters": {"type": "object"}}}],
				"tool_choice": {"type": "function", "function": {"name": "f"}}}`,
		},
		{
			name: "tool use and tool result turns",
			req: `{
				"messages": [
					{"role": "user", "content": [{"text": "weather in Paris and Rome?"}]},
					{"role": "assistant", "content": [
						{"text": "Let me look."},
						{"toolUse": {"toolUseId": "tooluse_1", "name": "get_weather", "input": {"city": "Paris"}}},
						{"toolUse": {"toolUseId": "tooluse_2", "name": "get_weather", "input": {"city": "Rome"}}}
					]},
					{"role": "user", "content": [
						{"toolResult": {"toolUseId": "tooluse_1", "content": [{"text": "18C"}, {"json": {"wind": 5, "unit": "kmh"}}]}},
						{"text": "and be quick"},
						{"toolResult": {"toolUseId": "tooluse_2", "content": [{"text": "no data"}], "status": "error"}}
					]},
					{"role": "assistant", "content": [{"toolUse": {"toolUseId": "tooluse_3", "name": "now", "input": {}}}]},
					{"role": "user", "content": [{"toolResult": {"toolUseId": "tooluse_3", "content": [{"json": "12:00"}]}}]}
				]}`,
			want: `{
				"model": "served",
				"messages": [
					{"role": "user", "content": "weather in Paris and Rome?"},
					{"role": "assistant", "content": "Let me look.", "tool_calls": [
						{"id": "tooluse_1", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Paris\"}"}},
						{"id": "tooluse_2", "type": "function", "function": {"name": "get_weather", "arguments": "{\"city\":\"Rome\"}"}}
					]},
					{"role": "tool", "tool_call_id": "tooluse_1", "content": "18C\n{\"wind\":5,\"unit\":\"kmh\"}"},
					{"role": "tool", "tool_call_id": "tooluse_2", "content": "no data"},
					{"role": "user", "content": "and be quick"},
					{"role": "assistant", "tool_calls": [
						{"id": "tooluse_3", "type": "function", "function": {"name": "now", "arguments": "{}"}}
					]},
					{"role": "tool", "tool_call_id": "tooluse_3", "content": "\"12:00\""}
				]}`,
		},
		{
			name: "image",
			req: `{
				"messages": [{"role": "user", "content": [
					{"text": "what is this?"},
					{"image": {"format": "png", "source": {"bytes": "iVBORw0KGgo="}}},
					{"image": {"format": "jpeg", "source": {"bytes": "/9j/4A=="}}}
				]}]}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": [
					{"type": "text", "text": "what is this?"},
					{"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
					{"type": "image_url", "image_url": {"url": "data:image/jpeg;base64,/9j/4A=="}}
				]}]}`,
		},
		{
			name: "additional fields merge without overriding",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "hi"}]}],
				"inferenceConfig": {"maxTokens": 10},
				"additionalModelRequestFields": {"top_k": 5, "repetition_penalty": 1.1, "max_tokens": 999, "model": "other", "stream": true, "n": 3, "chat_template_kwargs": {"enable_thinking": false}}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "hi"}],
				"max_tokens": 10,
				"top_k": 5, "repetition_penalty": 1.1, "chat_template_kwargs": {"enable_thinking": false}}`,
		},
		{
			name: "additional fields fill unset members",
			req: `{
				"messages": [{"role": "user", "content": [{"text": "hi"}]}],
				"additionalModelRequestFields": {"max_tokens": 999, "tool_choice": "none"}}`,
			want: `{
				"model": "served",
				"messages": [{"role": "user", "content": "hi"}],
				"max_tokens": 999, "tool_choice": "none"}`,
		},
		{
			name: "guard content and dropped reasoning",
			req: `{
				"system": [{"guardContent": {"text": {"text": "policy"}}}],
				"messages": [
					{"role": "user", "content": [{"guardContent": {"text": {"text": "checked", "qualifiers": ["query"]}}}]},
					{"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {"text": "hmm", "signature": "s"}}}, {"text": "fine"}]},
					{"role": "assistant", "content": [{"reasoningContent": {"reasoningText": {"text": "hmm"}}}]}
				]}`,
			want: `{
				"model": "served",
				"messages": [
					{"role": "system", "content": "policy"},
					{"role": "user", "content": "checked"},
					{"role": "assistant", "content": "fine"},
					{"role": "assistant", "content": ""}
				]}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonReply(http.StatusOK, okReply))
			if _, err := f.p.Converse(t.Context(), call, converseRequest(t, tt.req)); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			got := f.last(t)
			if got.method != http.MethodPost || got.path != "/v1/chat/completions" {
				t.Errorf("request = %s %s, want POST /v1/chat/completions", got.method, got.path)
			}
			if diff := diffJSON(t, got.body, tt.want); diff != "" {
				t.Errorf("request body mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

func TestRequestStreamFlags(t *testing.T) {
	f := newFake(t, sseReply(`{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}`, "[DONE]"))
	req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}],
		"additionalModelRequestFields":{"stream":false,"stream_options":{"include_usage":false}}}`)
	var r recorder
	if _, err := f.p.ConverseStream(t.Context(), call, req, r.emit); err != nil {
		t.Fatalf("ConverseStream: %v", err)
	}
	got := f.last(t)
	want := `{"model":"served","messages":[{"role":"user","content":"hi"}],"stream":true,"stream_options":{"include_usage":true}}`
	if diff := diffJSON(t, got.body, want); diff != "" {
		t.Errorf("request body mismatch (-got +want):\n%s", diff)
	}
	if got, want := got.header.Get("Accept"), "text/event-stream"; got != want {
		t.Errorf("Accept = %q, want %q", got, want)
	}
}

func TestRequestInvalid(t *testing.T) {
	tests := []struct {
		name string
		req  string
		want string // substring of the message
	}{
		{"system role in messages", `{"messages":[{"role":"system","content":[{"text":"x"}]}]}`, `messages[0].role "system"`},
		{"document", `{"messages":[{"role":"user","content":[{"document":{"format":"pdf","name":"a","source":{"bytes":"AA=="}}}]}]}`, "messages[0].content[0]: document"},
		{"video", `{"messages":[{"role":"user","content":[{"video":{"format":"mp4"}}]}]}`, "video"},
		{"s3 image", `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"s3Location":{"uri":"s3://b/k"}}}}]}]}`, "only images given by bytes"},
		{"image format", `{"messages":[{"role":"user","content":[{"image":{"format":"tiff","source":{"bytes":"AA=="}}}]}]}`, `format "tiff"`},
		{"assistant image", `{"messages":[{"role":"assistant","content":[{"image":{"format":"png","source":{"bytes":"AA=="}}}]}]}`, "image is not supported"},
		{"tool use in a user turn", `{"messages":[{"role":"user","content":[{"toolUse":{"toolUseId":"a","name":"f","input":{}}}]}]}`, "toolUse"},
		{"tool result image", `{"messages":[{"role":"user","content":[{"toolResult":{"toolUseId":"a","content":[{"image":{"format":"png","source":{"bytes":"AA=="}}}]}}]}]}`, "only text and json tool results"},
		{"empty content block", `{"messages":[{"role":"user","content":[{}]}]}`, "messages[0].content[0]"},
		{"additional fields not an object", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"additionalModelRequestFields":[1,2]}`, "additionalModelRequestFields must be a JSON object"},
		{"system tool", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"systemTool":{"name":"web"}}]}}`, "system tools"},
		{"unknown tool choice", `{"messages":[{"role":"user","content":[{"text":"x"}]}],"toolConfig":{"tools":[{"toolSpec":{"name":"f","inputSchema":{"json":{}}}}],"toolChoice":{"none":{}}}}`, "toolChoice"},
		{"system image", `{"system":[{"guardContent":{"image":{"format":"png"}}}],"messages":[{"role":"user","content":[{"text":"x"}]}]}`, "system[0].guardContent"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonReply(http.StatusOK, okReply))
			req := converseRequest(t, tt.req)
			_, err := f.p.Converse(t.Context(), call, req)
			checkKind(t, err, errkind.Invalid)
			if err != nil && !strings.Contains(errkind.As(err).Message, tt.want) {
				t.Errorf("message = %q, want it to contain %q", errkind.As(err).Message, tt.want)
			}
			var r recorder
			_, err = f.p.ConverseStream(t.Context(), call, req, r.emit)
			checkKind(t, err, errkind.Invalid)
			if len(r.events) > 0 {
				t.Errorf("ConverseStream emitted %d events before failing", len(r.events))
			}
			if n := f.count(); n != 0 {
				t.Errorf("the server received %d requests, want 0", n)
			}
		})
	}
}

func TestModelName(t *testing.T) {
	tests := []struct {
		name string
		call converse.Call
		want string
	}{
		{"mapped", converse.Call{ModelID: "meta.llama3-8b-instruct-v1:0", Upstream: "ignored"}, "served"},
		{"upstream", converse.Call{ModelID: "mistral.mistral-7b-instruct-v0:2", Upstream: "mistralai/Mistral-7B-Instruct-v0.2"}, "mistralai/Mistral-7B-Instruct-v0.2"},
		{"catalogue id", converse.Call{ModelID: "mistral.mistral-7b-instruct-v0:2"}, "mistral.mistral-7b-instruct-v0:2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFake(t, jsonReply(http.StatusOK, okReply))
			req := converseRequest(t, `{"messages":[{"role":"user","content":[{"text":"hi"}]}]}`)
			if _, err := f.p.Converse(t.Context(), tt.call, req); err != nil {
				t.Fatalf("Converse: %v", err)
			}
			want := `{"model":"` + tt.want + `","messages":[{"role":"user","content":"hi"}]}`
			if diff := diffJSON(t, f.last(t).body, want); diff != "" {
				t.Errorf("request body mismatch (-got +want):\n%s", diff)
			}
		})
	}
}

// checkKind fails t unless err is an *errkind.Error of kind want.
func checkKind(t *testing.T, err error, want errkind.Kind) {
	t.Helper()
	if err == nil {
		t.Errorf("err = nil, want kind %v", want)
		return
	}
	if got := errkind.KindOf(err); got != want {
		t.Errorf("kind = %v, want %v (err: %v)", got, want, err)
	}
}
