package native

import (
	"strings"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// Text-completion families (Llama, Mistral) take one prompt string written
// in the model's chat template. parsePrompt recovers the conversation from
// the two templates Bedrock documents: Llama 3's header tokens
// (<|start_header_id|>role<|end_header_id|> … <|eot_id|>) and the
// [INST] … [/INST] form of Llama 2 and Mistral (with Llama 2's <<SYS>>
// block). A prompt in neither form, or one the parser cannot follow,
// becomes a single user message holding the whole prompt.

// parsePrompt returns the system blocks and messages of prompt.
func parsePrompt(prompt string) ([]converse.SystemBlock, []converse.Message) {
	if strings.Contains(prompt, "<|start_header_id|>") {
		if sys, msgs, ok := parseLlama3(prompt); ok {
			return sys, msgs
		}
	} else if strings.Contains(prompt, "[INST]") {
		if sys, msgs, ok := parseInst(prompt); ok {
			return sys, msgs
		}
	}
	return nil, []converse.Message{{Role: "user", Content: []converse.ContentBlock{textBlock(prompt)}}}
}

const (
	llamaBegin     = "<|begin_of_text|>"
	llamaHeader    = "<|start_header_id|>"
	llamaHeaderEnd = "<|end_header_id|>"
	llamaEOT       = "<|eot_id|>"
	llamaEOM       = "<|eom_id|>"
)

func parseLlama3(prompt string) ([]converse.SystemBlock, []converse.Message, bool) {
	p := strings.TrimSpace(prompt)
	p = strings.TrimPrefix(p, llamaBegin)
	parts := strings.Split(p, llamaHeader)
	if strings.TrimSpace(parts[0]) != "" {
		return nil, nil, false // text before the first header
	}
	var sys []converse.SystemBlock
	var msgs []converse.Message
	last := len(parts) - 1
	for i, part := range parts[1:] {
		role, body, ok := strings.Cut(part, llamaHeaderEnd)
		if !ok {
			return nil, nil, false
		}
		body = strings.TrimSuffix(strings.TrimRight(body, " \t\r\n"), llamaEOT)
		body = strings.TrimSuffix(body, llamaEOM)
		body = strings.TrimSpace(body)
		switch strings.TrimSpace(role) {
		case "system":
			if body != "" {
				sys = append(sys, systemText(body))
			}
		case "user", "ipython", "tool":
			if body != "" {
				msgs = appendTurn(msgs, "user", []converse.ContentBlock{textBlock(body)})
			}
		case "assistant":
			// The trailing empty assistant header asks for the reply.
			if body == "" && i+1 == last {
				continue
			}
			if body != "" {
				msgs = appendTurn(msgs, "assistant", []converse.ContentBlock{textBlock(body)})
			}
		default:
			return nil, nil, false
		}
	}
	if len(msgs) == 0 {
		return nil, nil, false
	}
	return sys, msgs, true
}

func parseInst(prompt string) ([]converse.SystemBlock, []converse.Message, bool) {
	p := strings.ReplaceAll(prompt, "</s>", "")
	p = strings.ReplaceAll(p, "<s>", "")
	p = strings.TrimSpace(p)
	if !strings.HasPrefix(p, "[INST]") {
		return nil, nil, false
	}
	var sys []converse.SystemBlock
	var msgs []converse.Message
	rest := p[len("[INST]"):]
	for {
		user, after, ok := strings.Cut(rest, "[/INST]")
		if !ok {
			return nil, nil, false
		}
		if s, r, found := cutSys(user); found {
			if s != "" {
				sys = append(sys, systemText(s))
			}
			user = r
		}
		if user = strings.TrimSpace(user); user != "" {
			msgs = appendTurn(msgs, "user", []converse.ContentBlock{textBlock(user)})
		}
		answer, next, more := strings.Cut(after, "[INST]")
		if answer = strings.TrimSpace(answer); answer != "" {
			msgs = appendTurn(msgs, "assistant", []converse.ContentBlock{textBlock(answer)})
		}
		if !more {
			break
		}
		rest = next
	}
	if len(msgs) == 0 {
		return nil, nil, false
	}
	return sys, msgs, true
}

// cutSys removes a Llama 2 <<SYS>> … <</SYS>> block from the start of a user
// turn.
func cutSys(user string) (sys, rest string, found bool) {
	t := strings.TrimSpace(user)
	if !strings.HasPrefix(t, "<<SYS>>") {
		return "", user, false
	}
	s, rest, ok := strings.Cut(t[len("<<SYS>>"):], "<</SYS>>")
	if !ok {
		return "", user, false
	}
	return strings.TrimSpace(s), rest, true
}
