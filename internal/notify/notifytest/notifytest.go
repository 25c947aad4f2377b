// Package notifytest stands in for Slack, Microsoft Teams and PagerDuty in
// tests: a Receiver checks each request's payload against the shape the
// service documents (Slack incoming webhooks with Block Kit blocks, Teams
// workflow webhooks with an Adaptive Card in the "attachments" envelope,
// PagerDuty Events API v2), answers a malformed one with 400 as the
// service would, records what it accepted, and can fail the first
// attempts so the outbox's retries are exercised.
package notifytest

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"sync"
	"testing"
	"unicode/utf8"
)

// Service is the service a Receiver stands in for.
type Service string

// The services.
const (
	Slack     Service = "slack"
	Teams     Service = "teams"
	PagerDuty Service = "pagerduty"
)

// Receiver is a local endpoint of one service.
type Receiver struct {
	// URL is the endpoint's base URL (http://127.0.0.1:PORT).
	URL string
	svc Service

	mu       sync.Mutex
	fail     int // attempts still to fail with 503
	attempts int
	accepted []map[string]any
	problems []string
}

// Start starts a receiver for svc that answers the first failFirst
// well-formed requests with 503; it stops when the test ends.
func Start(t testing.TB, svc Service, failFirst int) *Receiver {
	r := &Receiver{svc: svc, fail: failFirst}
	srv := httptest.NewServer(r)
	t.Cleanup(srv.Close)
	r.URL = srv.URL
	return r
}

// ServeHTTP implements http.Handler.
func (r *Receiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(io.LimitReader(req.Body, 1<<20))
	r.mu.Lock()
	defer r.mu.Unlock()
	r.attempts++
	var err error
	switch {
	case req.Method != http.MethodPost:
		err = fmt.Errorf("method %s, want POST", req.Method)
	case req.Header.Get("Content-Type") != "application/json":
		err = fmt.Errorf("Content-Type %q, want application/json", req.Header.Get("Content-Type"))
	default:
		err = Check(r.svc, body)
	}
	if err != nil {
		r.problems = append(r.problems, err.Error())
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	if r.fail > 0 {
		r.fail--
		http.Error(w, "try again", http.StatusServiceUnavailable)
		return
	}
	var v map[string]any
	_ = json.Unmarshal(body, &v)
	r.accepted = append(r.accepted, v)
	switch r.svc {
	case PagerDuty:
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(http.StatusAccepted)
		fmt.Fprintf(w, `{"status":"success","message":"Event processed","dedup_key":%q}`, v["dedup_key"])
	case Teams:
		w.WriteHeader(http.StatusAccepted)
	default:
		_, _ = io.WriteString(w, "ok")
	}
}

// Accepted returns the payloads accepted so far, decoded.
func (r *Receiver) Accepted() []map[string]any {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]map[string]any(nil), r.accepted...)
}

// Attempts returns how many requests arrived.
func (r *Receiver) Attempts() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.attempts
}

// Problems returns why each malformed request was refused.
func (r *Receiver) Problems() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.problems...)
}

// Check checks a payload against svc's documented shape.
func Check(svc Service, body []byte) error {
	var v map[string]any
	if err := json.Unmarshal(body, &v); err != nil {
		return fmt.Errorf("body is not a JSON object: %v", err)
	}
	switch svc {
	case Slack:
		return checkSlack(v)
	case Teams:
		return checkTeams(v)
	case PagerDuty:
		return checkPagerDuty(v)
	}
	return fmt.Errorf("unknown service %q", svc)
}

func str(v any) (string, bool) { s, ok := v.(string); return s, ok }

// checkSlack: a message needs text or blocks; at most 50 blocks; each
// block a known type with its required members and Slack's length limits
// (header: plain_text of at most 150 characters; section: text of at most
// 3000 or 1-10 fields of at most 2000; context: 1-10 elements).
func checkSlack(v map[string]any) error {
	text, hasText := str(v["text"])
	blocks, hasBlocks := v["blocks"].([]any)
	if (!hasText || text == "") && !hasBlocks {
		return errors.New("slack: no text and no blocks")
	}
	if len(blocks) > 50 {
		return fmt.Errorf("slack: %d blocks, at most 50", len(blocks))
	}
	textObj := func(o any, types ...string) (string, error) {
		m, ok := o.(map[string]any)
		if !ok {
			return "", errors.New("text object is not an object")
		}
		typ, _ := str(m["type"])
		s, ok := str(m["text"])
		if !ok || s == "" {
			return "", errors.New("text object without text")
		}
		for _, t := range types {
			if typ == t {
				return s, nil
			}
		}
		return "", fmt.Errorf("text object of type %q, want %v", typ, types)
	}
	for i, b := range blocks {
		m, ok := b.(map[string]any)
		if !ok {
			return fmt.Errorf("slack: block %d is not an object", i)
		}
		typ, _ := str(m["type"])
		switch typ {
		case "header":
			s, err := textObj(m["text"], "plain_text")
			if err != nil {
				return fmt.Errorf("slack: header: %v", err)
			}
			if utf8.RuneCountInString(s) > 150 {
				return errors.New("slack: header text over 150 characters")
			}
		case "section":
			fields, hasFields := m["fields"].([]any)
			if m["text"] == nil && !hasFields {
				return fmt.Errorf("slack: section %d has neither text nor fields", i)
			}
			if m["text"] != nil {
				s, err := textObj(m["text"], "mrkdwn", "plain_text")
				if err != nil || utf8.RuneCountInString(s) > 3000 {
					return fmt.Errorf("slack: section %d text: %v (or over 3000 characters)", i, err)
				}
			}
			if hasFields && (len(fields) == 0 || len(fields) > 10) {
				return fmt.Errorf("slack: section %d has %d fields, want 1-10", i, len(fields))
			}
			for _, f := range fields {
				s, err := textObj(f, "mrkdwn", "plain_text")
				if err != nil || utf8.RuneCountInString(s) > 2000 {
					return fmt.Errorf("slack: section %d field: %v (or over 2000 characters)", i, err)
				}
			}
		case "context":
			els, _ := m["elements"].([]any)
			if len(els) == 0 || len(els) > 10 {
				return fmt.Errorf("slack: context %d has %d elements, want 1-10", i, len(els))
			}
			for _, e := range els {
				if _, err := textObj(e, "mrkdwn", "plain_text"); err != nil {
					return fmt.Errorf("slack: context element: %v", err)
				}
			}
		case "divider":
		default:
			return fmt.Errorf("slack: block %d of type %q", i, typ)
		}
	}
	return nil
}

// checkTeams: {"type":"message","attachments":[{"contentType":
// "application/vnd.microsoft.card.adaptive","content":{AdaptiveCard}}]}
// with a card of type AdaptiveCard, a version, and a body of elements
// with a type (TextBlocks with text, FactSets with title/value facts).
func checkTeams(v map[string]any) error {
	if t, _ := str(v["type"]); t != "message" {
		return fmt.Errorf("teams: type %q, want message", v["type"])
	}
	atts, _ := v["attachments"].([]any)
	if len(atts) == 0 {
		return errors.New("teams: no attachments")
	}
	for _, a := range atts {
		m, _ := a.(map[string]any)
		if ct, _ := str(m["contentType"]); ct != "application/vnd.microsoft.card.adaptive" {
			return fmt.Errorf("teams: attachment contentType %q", m["contentType"])
		}
		card, _ := m["content"].(map[string]any)
		if t, _ := str(card["type"]); t != "AdaptiveCard" {
			return fmt.Errorf("teams: content type %q, want AdaptiveCard", card["type"])
		}
		if ver, _ := str(card["version"]); !regexp.MustCompile(`^1\.[0-6]$`).MatchString(ver) {
			return fmt.Errorf("teams: card version %q", card["version"])
		}
		body, _ := card["body"].([]any)
		if len(body) == 0 {
			return errors.New("teams: empty card body")
		}
		for _, el := range body {
			e, _ := el.(map[string]any)
			switch t, _ := str(e["type"]); t {
			case "TextBlock":
				if s, _ := str(e["text"]); s == "" {
					return errors.New("teams: TextBlock without text")
				}
			case "FactSet":
				facts, _ := e["facts"].([]any)
				if len(facts) == 0 {
					return errors.New("teams: FactSet without facts")
				}
				for _, f := range facts {
					fm, _ := f.(map[string]any)
					if _, ok := str(fm["title"]); !ok {
						return errors.New("teams: fact without title")
					}
					if _, ok := str(fm["value"]); !ok {
						return errors.New("teams: fact without value")
					}
				}
			default:
				return fmt.Errorf("teams: card element of type %q", t)
			}
		}
	}
	return nil
}

var routingKey = regexp.MustCompile(`^[A-Za-z0-9_-]{1,128}$`)

// checkPagerDuty: routing_key, event_action trigger/acknowledge/resolve,
// dedup_key of at most 255 characters (required to resolve); a trigger
// needs payload.summary (at most 1024), payload.source and
// payload.severity (critical, error, warning, info).
func checkPagerDuty(v map[string]any) error {
	if k, _ := str(v["routing_key"]); !routingKey.MatchString(k) {
		return fmt.Errorf("pagerduty: routing_key %q", v["routing_key"])
	}
	dk, _ := str(v["dedup_key"])
	if len(dk) > 255 {
		return errors.New("pagerduty: dedup_key over 255 characters")
	}
	switch a, _ := str(v["event_action"]); a {
	case "trigger":
		p, _ := v["payload"].(map[string]any)
		if p == nil {
			return errors.New("pagerduty: trigger without payload")
		}
		if s, _ := str(p["summary"]); s == "" || utf8.RuneCountInString(s) > 1024 {
			return errors.New("pagerduty: payload.summary missing or over 1024 characters")
		}
		if s, _ := str(p["source"]); s == "" {
			return errors.New("pagerduty: payload.source missing")
		}
		switch s, _ := str(p["severity"]); s {
		case "critical", "error", "warning", "info":
		default:
			return fmt.Errorf("pagerduty: payload.severity %q", p["severity"])
		}
	case "acknowledge", "resolve":
		if dk == "" {
			return fmt.Errorf("pagerduty: %s without dedup_key", a)
		}
	default:
		return fmt.Errorf("pagerduty: event_action %q", v["event_action"])
	}
	return nil
}
