package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime/document"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// fakeOpenAI is an OpenAI-compatible chat-completions server: it calls the
// first tool when tools are offered, and otherwise answers with text, as a
// JSON response or an SSE stream with a usage chunk.
func fakeOpenAI(t *testing.T) (*httptest.Server, *[]map[string]any) {
	var mu sync.Mutex
	var seen []map[string]any
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/chat/completions" || r.Header.Get("Authorization") != "Bearer sk-test" {
			http.Error(w, `{"error":{"message":"bad path or key"}}`, http.StatusUnauthorized)
			return
		}
		body, _ := io.ReadAll(r.Body)
		var req map[string]any
		if err := json.Unmarshal(body, &req); err != nil {
			http.Error(w, `{"error":{"message":"bad json"}}`, 400)
			return
		}
		mu.Lock()
		seen = append(seen, req)
		mu.Unlock()
		usage := `{"prompt_tokens":21,"completion_tokens":7,"total_tokens":28}`
		if tools, ok := req["tools"].([]any); ok && len(tools) > 0 {
			name := tools[0].(map[string]any)["function"].(map[string]any)["name"].(string)
			fmt.Fprintf(w, `{"id":"c1","object":"chat.completion","model":%q,"choices":[{"index":0,"finish_reason":"tool_calls","message":{"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":%q,"arguments":"{\"policy\":\"P-42\"}"}}]}}],"usage":%s}`, req["model"], name, usage)
			return
		}
		if req["stream"] == true {
			w.Header().Set("Content-Type", "text/event-stream")
			for _, piece := range []string{"Claim ", "approved", "."} {
				fmt.Fprintf(w, "data: {\"choices\":[{\"index\":0,\"delta\":{\"content\":%q}}]}\n\n", piece)
			}
			fmt.Fprint(w, "data: {\"choices\":[{\"index\":0,\"delta\":{},\"finish_reason\":\"stop\"}]}\n\n")
			fmt.Fprintf(w, "data: {\"choices\":[],\"usage\":%s}\n\ndata: [DONE]\n\n", usage)
			return
		}
		fmt.Fprintf(w, `{"id":"c2","object":"chat.completion","choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"Claim approved."}}],"usage":%s}`, usage)
	}))
	t.Cleanup(srv.Close)
	return srv, &seen
}

// TestOpenAIProvider routes a model to an OpenAI-compatible server and
// drives it through the Bedrock runtime SDK: text, stream and a tool call.
func TestOpenAIProvider(t *testing.T) {
	t.Parallel()
	upstream, seen := fakeOpenAI(t)
	ts := startServer(t, "", func(c *config.Config) {
		c.Secrets.ProviderAPIKeys = map[string]string{"vllm": "sk-test"} // config.Load reads it from FAKE_OPENAI_KEY
		c.Providers = []config.Provider{{Name: "vllm", Type: "openai", BaseURL: upstream.URL + "/v1", APIKeyEnv: "FAKE_OPENAI_KEY",
			Models: map[string]string{"meta.llama3-1-8b-instruct-v1:0": "meta-llama/Llama-3.1-8B-Instruct"}}}
		c.Routes = []config.Route{{Models: []string{"meta.*"}, Provider: "vllm"}}
	})
	profile := createProfile(t, ts.bedrock(t), "llama-claims", "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.meta.llama3-1-8b-instruct-v1:0", tagList("dept", "claims")...)
	rc := ts.runtime(t)
	ctx := t.Context()

	conv, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profile), Messages: userText("Approve claim 42?"),
		System: []rt.SystemContentBlock{&rt.SystemContentBlockMemberText{Value: "You are a claims assistant."}}})
	if err != nil {
		t.Fatal(err)
	}
	if textOf(conv) != "Claim approved." || aws.ToInt32(conv.Usage.InputTokens) != 21 || aws.ToInt32(conv.Usage.OutputTokens) != 7 {
		t.Errorf("Converse: %q %+v", textOf(conv), conv.Usage)
	}

	so, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(profile), Messages: userText("Approve claim 42?")})
	if err != nil {
		t.Fatal(err)
	}
	sr := readConverseStream(so)
	if sr.err != nil || sr.text != "Claim approved." || aws.ToInt32(sr.usage.OutputTokens) != 7 || sr.stop != rt.StopReasonEndTurn {
		t.Errorf("stream: %q %+v %s %v", sr.text, sr.usage, sr.stop, sr.err)
	}

	tool, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profile), Messages: userText("Look up policy P-42"),
		ToolConfig: &rt.ToolConfiguration{Tools: []rt.Tool{&rt.ToolMemberToolSpec{Value: rt.ToolSpecification{
			Name: aws.String("lookup_policy"), Description: aws.String("Finds a policy"),
			InputSchema: &rt.ToolInputSchemaMemberJson{Value: document.NewLazyDocument(map[string]any{
				"type": "object", "properties": map[string]any{"policy": map[string]any{"type": "string"}}, "required": []string{"policy"}})},
		}}}}})
	if err != nil {
		t.Fatal(err)
	}
	msg := tool.Output.(*rt.ConverseOutputMemberMessage).Value
	var use *rt.ToolUseBlock
	for _, c := range msg.Content {
		if u, ok := c.(*rt.ContentBlockMemberToolUse); ok {
			use = &u.Value
		}
	}
	if tool.StopReason != rt.StopReasonToolUse || use == nil || aws.ToString(use.Name) != "lookup_policy" {
		t.Fatalf("tool call: %s %+v", tool.StopReason, msg.Content)
	}
	var input map[string]any
	if err := use.Input.UnmarshalSmithyDocument(&input); err != nil || input["policy"] != "P-42" {
		t.Errorf("tool input %v (%v)", input, err)
	}

	// The upstream saw the served model name and the system prompt.
	first := (*seen)[0]
	msgs := first["messages"].([]any)
	if first["model"] != "meta-llama/Llama-3.1-8B-Instruct" || msgs[0].(map[string]any)["role"] != "system" {
		t.Errorf("upstream request %v", first)
	}
	if !strings.Contains(fmt.Sprint((*seen)[2]["tools"]), "lookup_policy") {
		t.Errorf("tools not forwarded: %v", (*seen)[2])
	}
	recs, _ := ts.DB.Records(ctx, ledger.Query{})
	if len(recs) != 3 {
		t.Fatalf("%d records, want 3", len(recs))
	}
	for _, r := range recs {
		if r.Provider != "vllm" || r.InputTokens != 21 || r.OutputTokens != 7 || !r.Priced || r.Tags["dept"] != "claims" {
			t.Errorf("record %+v", r)
		}
	}
}
