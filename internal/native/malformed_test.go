package native

import (
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestRequestMalformed(t *testing.T) {
	const av = `"anthropic_version":"bedrock-2023-05-31"`
	tests := []struct {
		name, family, body string
		wantMsg            string // a part of the client message
	}{
		// Every family.
		{"anthropic not JSON", FamilyAnthropic, `{"max_tokens":`, "not valid JSON"},
		{"anthropic empty body", FamilyAnthropic, ``, "not valid JSON"},
		{"anthropic array body", FamilyAnthropic, `[]`, "expected type: JSONObject, found: JSONArray"},
		{"anthropic trailing data", FamilyAnthropic, `{} {}`, "not valid JSON"},
		{"nova not JSON", FamilyNova, `nova`, "not valid JSON"},
		{"titan not JSON", FamilyTitanText, `{'inputText':'x'}`, "not valid JSON"},
		{"llama string body", FamilyLlama, `"prompt"`, "found: String"},
		{"mistral null body", FamilyMistral, `null`, "found: Null"},
		{"cohere number body", FamilyCohereCommand, `42`, "found: Integer"},
		{"jamba not JSON", FamilyJamba, `{"messages":[}`, "not valid JSON"},

		// Anthropic.
		{"anthropic missing anthropic_version", FamilyAnthropic, `{"max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, "required key [anthropic_version] not found"},
		{"anthropic wrong anthropic_version", FamilyAnthropic, `{"anthropic_version":"2023-06-01","max_tokens":10,"messages":[{"role":"user","content":"hi"}]}`, "#/anthropic_version"},
		{"anthropic missing max_tokens", FamilyAnthropic, `{` + av + `,"messages":[{"role":"user","content":"hi"}]}`, "required key [max_tokens] not found"},
		{"anthropic max_tokens string", FamilyAnthropic, `{` + av + `,"max_tokens":"10","messages":[{"role":"user","content":"hi"}]}`, "#/max_tokens: expected type: Integer, found: String"},
		{"anthropic max_tokens fraction", FamilyAnthropic, `{` + av + `,"max_tokens":10.5,"messages":[{"role":"user","content":"hi"}]}`, "#/max_tokens"},
		{"anthropic max_tokens zero", FamilyAnthropic, `{` + av + `,"max_tokens":0,"messages":[{"role":"user","content":"hi"}]}`, "#/max_tokens"},
		{"anthropic max_tokens huge", FamilyAnthropic, `{` + av + `,"max_tokens":1e30,"messages":[{"role":"user","content":"hi"}]}`, "#/max_tokens"},
		{"anthropic missing messages", FamilyAnthropic, `{` + av + `,"max_tokens":10}`, "required key [messages] not found"},
		{"anthropic empty messages", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[]}`, "#/messages: expected minimum item count: 1"},
		{"anthropic messages object", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":{}}`, "#/messages: expected type: JSONArray"},
		{"anthropic message not object", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":["hi"]}`, "#/messages/0"},
		{"anthropic bad role", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"system","content":"hi"}]}`, "#/messages/0/role"},
		{"anthropic missing content", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user"}]}`, "required key [content]"},
		{"anthropic empty content string", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":""}]}`, "non-empty"},
		{"anthropic empty content array", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[]}]}`, "minimum item count"},
		{"anthropic content number", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":5}]}`, "#/messages/0/content"},
		{"anthropic unknown block", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[{"type":"video"}]}]}`, "#/messages/0/content/0/type"},
		{"anthropic empty text block", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[{"type":"text","text":""}]}]}`, "#/messages/0/content/0/text"},
		{"anthropic text block without text", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[{"type":"text"}]}]}`, "required key [text]"},
		{"anthropic bad base64", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/png","data":"***"}}]}]}`, "base64"},
		{"anthropic bad media type", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"base64","media_type":"image/tiff","data":"AA=="}}]}]}`, "media_type"},
		{"anthropic url image", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":[{"type":"image","source":{"type":"url","media_type":"image/png","data":"x"}}]}]}`, "#/messages/0/content/0/source/type"},
		{"anthropic tool_use input string", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"assistant","content":[{"type":"tool_use","id":"t","name":"n","input":"{}"}]}]}`, "input: expected type: JSONObject"},
		{"anthropic system number", FamilyAnthropic, `{` + av + `,"max_tokens":10,"system":1,"messages":[{"role":"user","content":"hi"}]}`, "#/system"},
		{"anthropic temperature string", FamilyAnthropic, `{` + av + `,"max_tokens":10,"temperature":"hot","messages":[{"role":"user","content":"hi"}]}`, "#/temperature"},
		{"anthropic negative temperature", FamilyAnthropic, `{` + av + `,"max_tokens":10,"temperature":-1,"messages":[{"role":"user","content":"hi"}]}`, "#/temperature"},
		{"anthropic temperature above 1", FamilyAnthropic, `{` + av + `,"max_tokens":10,"temperature":7.5,"messages":[{"role":"user","content":"hi"}]}`, "#/temperature: 7.5 is not less or equal to 1"},
		{"anthropic top_p above 1", FamilyAnthropic, `{` + av + `,"max_tokens":10,"top_p":1.01,"messages":[{"role":"user","content":"hi"}]}`, "#/top_p: 1.01 is not less or equal to 1"},
		{"anthropic negative top_p", FamilyAnthropic, `{` + av + `,"max_tokens":10,"top_p":-3,"messages":[{"role":"user","content":"hi"}]}`, "#/top_p: -3 is not greater or equal to 0"},
		{"anthropic negative top_k", FamilyAnthropic, `{` + av + `,"max_tokens":10,"top_k":-1,"messages":[{"role":"user","content":"hi"}]}`, "#/top_k: -1 is not greater or equal to 0"},
		{"anthropic stop_sequences string", FamilyAnthropic, `{` + av + `,"max_tokens":10,"stop_sequences":"x","messages":[{"role":"user","content":"hi"}]}`, "#/stop_sequences"},
		{"anthropic top_k string", FamilyAnthropic, `{` + av + `,"max_tokens":10,"top_k":"5","messages":[{"role":"user","content":"hi"}]}`, "#/top_k"},
		{"anthropic tool without schema", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tools":[{"name":"t"}]}`, "required key [input_schema]"},
		{"anthropic bad tool_choice", FamilyAnthropic, `{` + av + `,"max_tokens":10,"messages":[{"role":"user","content":"hi"}],"tool_choice":{"type":"maybe"}}`, "#/tool_choice/type"},

		// Nova.
		{"nova missing messages", FamilyNova, `{"inferenceConfig":{"maxTokens":5}}`, "required key [messages]"},
		{"nova empty messages", FamilyNova, `{"messages":[]}`, "minimum item count"},
		{"nova content string", FamilyNova, `{"messages":[{"role":"user","content":"hi"}]}`, "#/messages/0/content: expected type: JSONArray"},
		{"nova empty content block", FamilyNova, `{"messages":[{"role":"user","content":[{}]}]}`, "#/messages/0/content/0"},
		{"nova text number", FamilyNova, `{"messages":[{"role":"user","content":[{"text":5}]}]}`, "#/messages/0/content/0"},
		{"nova bad image bytes", FamilyNova, `{"messages":[{"role":"user","content":[{"image":{"format":"png","source":{"bytes":"***"}}}]}]}`, "#/messages/0/content/0"},
		{"nova bad schemaVersion", FamilyNova, `{"schemaVersion":"messages-v9","messages":[{"role":"user","content":[{"text":"hi"}]}]}`, "#/schemaVersion"},
		{"nova maxTokens string", FamilyNova, `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"inferenceConfig":{"maxTokens":"5"}}`, "#/inferenceConfig/maxTokens"},
		{"nova empty tools", FamilyNova, `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"toolConfig":{"tools":[]}}`, "#/toolConfig/tools"},
		{"nova system string", FamilyNova, `{"messages":[{"role":"user","content":[{"text":"hi"}]}],"system":"be nice"}`, "#/system"},

		// Titan.
		{"titan missing inputText", FamilyTitanText, `{"textGenerationConfig":{}}`, "required key [inputText]"},
		{"titan empty inputText", FamilyTitanText, `{"inputText":""}`, "minLength"},
		{"titan inputText array", FamilyTitanText, `{"inputText":["a"]}`, "#/inputText: expected type: String"},
		{"titan config string", FamilyTitanText, `{"inputText":"a","textGenerationConfig":"x"}`, "#/textGenerationConfig"},
		{"titan maxTokenCount negative", FamilyTitanText, `{"inputText":"a","textGenerationConfig":{"maxTokenCount":-5}}`, "#/textGenerationConfig/maxTokenCount"},

		// Llama.
		{"llama missing prompt", FamilyLlama, `{"max_gen_len":5}`, "required key [prompt]"},
		{"llama empty prompt", FamilyLlama, `{"prompt":""}`, "minLength"},
		{"llama max_gen_len string", FamilyLlama, `{"prompt":"hi","max_gen_len":"5"}`, "#/max_gen_len"},
		{"llama bad image", FamilyLlama, `{"prompt":"hi","images":["AAAA"]}`, "#/images/0"},

		// Mistral.
		{"mistral neither prompt nor messages", FamilyMistral, `{"max_tokens":5}`, "required key [prompt]"},
		{"mistral stop number", FamilyMistral, `{"prompt":"hi","stop":5}`, "#/stop"},
		{"mistral empty messages", FamilyMistral, `{"messages":[]}`, "minimum item count"},
		{"mistral bad role", FamilyMistral, `{"messages":[{"role":"robot","content":"hi"}]}`, "#/messages/0/role"},
		{"mistral only system", FamilyMistral, `{"messages":[{"role":"system","content":"hi"}]}`, "user message"},
		{"mistral bad arguments", FamilyMistral, `{"messages":[{"role":"user","content":"hi"},{"role":"assistant","content":"","tool_calls":[{"id":"a","function":{"name":"f","arguments":"{"}}]}]}`, "arguments"},
		{"mistral tool without id", FamilyMistral, `{"messages":[{"role":"user","content":"hi"},{"role":"tool","content":"x"}]}`, "required key [tool_call_id]"},
		{"mistral bad tool_choice", FamilyMistral, `{"messages":[{"role":"user","content":"hi"}],"tool_choice":"sometimes"}`, "#/tool_choice"},

		// Cohere.
		{"cohere missing message", FamilyCohereCommand, `{"chat_history":[]}`, "required key [message]"},
		{"cohere empty conversation", FamilyCohereCommand, `{"message":""}`, "#/message"},
		{"cohere bad history role", FamilyCohereCommand, `{"message":"hi","chat_history":[{"role":"ROBOT","message":"x"}]}`, "#/chat_history/0/role"},
		{"cohere p string", FamilyCohereCommand, `{"message":"hi","p":"0.5"}`, "#/p"},

		// Jamba.
		{"jamba missing messages", FamilyJamba, `{"max_tokens":5}`, "required key [messages]"},
		{"jamba content number", FamilyJamba, `{"messages":[{"role":"user","content":1}]}`, "#/messages/0/content"},
		{"jamba image URL", FamilyJamba, `{"messages":[{"role":"user","content":[{"type":"image_url","image_url":{"url":"https://x/y.png"}}]}]}`, "data URLs"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c, ok := For(tt.family)
			if !ok {
				t.Fatalf("For(%q): no codec", tt.family)
			}
			got, err := c.Request([]byte(tt.body))
			if err == nil {
				t.Fatalf("Request = %+v, want an error", got)
			}
			if !errkind.Is(err, errkind.Invalid) {
				t.Fatalf("Request error %v has kind %v, want invalid", err, errkind.KindOf(err))
			}
			msg := errkind.As(err).Message
			if !strings.HasPrefix(msg, "Malformed input request: ") || !strings.Contains(msg, tt.wantMsg) {
				t.Errorf("message = %q, want it to start with %q and contain %q", msg, "Malformed input request: ", tt.wantMsg)
			}
		})
	}
}

func TestFor(t *testing.T) {
	tests := []struct {
		family string
		want   bool
	}{
		{FamilyAnthropic, true}, {FamilyNova, true}, {FamilyTitanText, true}, {FamilyLlama, true},
		{FamilyMistral, true}, {FamilyCohereCommand, true}, {FamilyJamba, true},
		{FamilyTitanEmbed, false}, {FamilyCohereEmbed, false}, {"", false}, {"openai", false},
	}
	for _, tt := range tests {
		t.Run(tt.family, func(t *testing.T) {
			c, got := For(tt.family)
			if got != tt.want || (c != nil) != tt.want {
				t.Errorf("For(%q) = %v, %v; want ok=%v", tt.family, c, got, tt.want)
			}
			if !got {
				return
			}
			if _, ok := c.Stream("m").(InputTokenHinter); !ok {
				t.Errorf("For(%q).Stream does not implement InputTokenHinter", tt.family)
			}
			if _, err := c.Response(nil, "m"); err == nil {
				t.Errorf("For(%q).Response(nil) succeeded", tt.family)
			}
			// A response without a message renders too.
			if _, err := c.Response(&converse.Response{StopReason: "end_turn"}, "m"); err != nil {
				t.Errorf("For(%q).Response(empty): %v", tt.family, err)
			}
		})
	}
}
