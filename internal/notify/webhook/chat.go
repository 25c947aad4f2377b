package webhook

import (
	"strings"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/notify"
)

// Chat formats. A message's Body is lines of "Label: value" (budget
// alerts) or free text (an alarm's state reason); both formats show the
// subject as a title, the labelled lines as facts and the rest as text,
// and end with the message's kind. The idempotency key is left out: it
// names the target, whose URL holds the webhook's secret.

// facts splits a message body into its "Label: value" lines and the rest.
func facts(body string) (labelled [][2]string, rest []string) {
	for _, line := range strings.Split(strings.TrimSpace(body), "\n") {
		if line == "" {
			continue
		}
		if k, v, ok := strings.Cut(line, ": "); ok && len(k) <= 40 && !strings.ContainsAny(k, ".!?") {
			labelled = append(labelled, [2]string{k, v})
			continue
		}
		rest = append(rest, line)
	}
	return labelled, rest
}

// clip shortens s to at most n characters, marking the cut.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

// slackEscape escapes the three characters Slack's mrkdwn gives meaning.
var slackEscape = strings.NewReplacer("&", "&amp;", "<", "&lt;", ">", "&gt;")

// slackMessage is a Slack incoming-webhook message in Block Kit: a header
// block (plain text, at most 150 characters), a section of mrkdwn text
// (at most 3000), a section of up to 10 fields, and a context block; text
// is the notification fallback.
func slackMessage(m notify.Message) map[string]any {
	labelled, rest := facts(m.Body)
	blocks := []any{
		map[string]any{"type": "header", "text": map[string]any{"type": "plain_text", "text": clip(m.Subject, 150)}},
	}
	if len(rest) > 0 {
		blocks = append(blocks, map[string]any{"type": "section",
			"text": map[string]any{"type": "mrkdwn", "text": clip(slackEscape.Replace(strings.Join(rest, "\n")), 3000)}})
	}
	if len(labelled) > 0 {
		var fields []any
		for _, f := range labelled[:min(len(labelled), 10)] {
			fields = append(fields, map[string]any{"type": "mrkdwn", "text": clip("*"+slackEscape.Replace(f[0])+"*\n"+slackEscape.Replace(f[1]), 2000)})
		}
		blocks = append(blocks, map[string]any{"type": "section", "fields": fields})
	}
	blocks = append(blocks, map[string]any{"type": "context", "elements": []any{
		map[string]any{"type": "mrkdwn", "text": clip("Tollgate · "+slackEscape.Replace(m.Kind), 3000)}}})
	return map[string]any{"text": clip(m.Subject, 3000), "blocks": blocks}
}

// teamsMessage is a Microsoft Teams workflow-webhook message: an
// Adaptive Card (version 1.4) in the "attachments" envelope the
// "When a Teams webhook request is received" trigger takes.
func teamsMessage(m notify.Message) map[string]any {
	labelled, rest := facts(m.Body)
	body := []any{map[string]any{"type": "TextBlock", "text": m.Subject, "weight": "Bolder", "size": "Medium", "wrap": true}}
	for _, line := range rest {
		body = append(body, map[string]any{"type": "TextBlock", "text": line, "wrap": true})
	}
	if len(labelled) > 0 {
		var fs []any
		for _, f := range labelled {
			fs = append(fs, map[string]any{"title": f[0], "value": f[1]})
		}
		body = append(body, map[string]any{"type": "FactSet", "facts": fs})
	}
	body = append(body, map[string]any{"type": "TextBlock", "text": "Tollgate · " + m.Kind, "isSubtle": true, "size": "Small", "wrap": true})
	card := map[string]any{"$schema": "http://adaptivecards.io/schemas/adaptive-card.json", "type": "AdaptiveCard", "version": "1.4", "body": body}
	return map[string]any{"type": "message", "attachments": []any{
		map[string]any{"contentType": "application/vnd.microsoft.card.adaptive", "contentUrl": nil, "content": card}}}
}
