// Package webhook delivers notify messages as an HTTP POST of JSON to a
// URL: the target of Tollgate's SNS-style subscriptions. Each body is
// signed with HMAC-SHA256 under a shared secret,
//
//	X-Tollgate-Signature: sha256=<hex of HMAC-SHA256(secret, body)>
//
// and carries the message's idempotency key in X-Tollgate-Idempotency-Key
// (also the "id" member of the body), so a receiver can check where a
// delivery comes from and drop a repeat.
//
// The same Deliverer serves the chat channels (notify.ChannelSlack and
// ChannelTeams, and webhook targets whose URL notify.ChatURL names one):
// a Slack incoming webhook gets a Block Kit message, a Teams workflow
// webhook an Adaptive Card in the "attachments" envelope (chat.go), signed
// the same way. A slack+http(s) or teams+http(s) URL is posted to over
// http(s).
//
// Requests go only to addresses the outbound policy (internal/egress)
// allows, checked on the address dialled after DNS resolution; redirects
// are not followed (a 3xx answer rejects the message), and proxies from
// the environment are not used, so neither can lead a request elsewhere.
//
// Any 2xx answer is a delivery. 408, 425, 429 and 5xx answers, and
// transport errors, are retried by the outbox; other answers (400, 404,
// 410, ...) reject the message for good.
package webhook

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// Header names.
const (
	SignatureHeader   = "X-Tollgate-Signature"
	IdempotencyHeader = "X-Tollgate-Idempotency-Key"
	KindHeader        = "X-Tollgate-Kind"
)

// Payload is the JSON body of a delivery (other than Slack's).
type Payload struct {
	// ID is the message's idempotency key.
	ID        string          `json:"id"`
	Kind      string          `json:"kind"`
	Subject   string          `json:"subject"`
	Text      string          `json:"text"`
	Data      json.RawMessage `json:"data,omitempty"`
	CreatedAt time.Time       `json:"createdAt"`
}

// Sign returns the signature header value of body under secret.
func Sign(secret, body []byte) string {
	m := hmac.New(sha256.New, secret)
	m.Write(body)
	return "sha256=" + hex.EncodeToString(m.Sum(nil))
}

// Verify reports whether header is body's signature under secret, in
// constant time.
func Verify(secret, body []byte, header string) bool {
	return hmac.Equal([]byte(header), []byte(Sign(secret, body)))
}

// Deliverer posts messages to webhooks. Safe for concurrent use.
type Deliverer struct {
	// Secret signs every body.
	Secret []byte
	// Egress is the outbound address policy when Client is nil. Default
	// nil: the egress defaults, no internal address allowed.
	Egress *egress.Policy
	// Client sends the requests. Default: NewClient(Egress, 15s).
	Client *http.Client

	once   sync.Once
	client *http.Client
}

var _ notify.Deliverer = (*Deliverer)(nil)

// NewClient returns an HTTP client for webhooks: it connects only to
// addresses p allows (checked after resolution), follows no redirect,
// uses no proxy, and gives up on a request after timeout.
func NewClient(p *egress.Policy, timeout time.Duration) *http.Client {
	return &http.Client{
		Timeout: timeout,
		Transport: &http.Transport{
			Proxy:                 nil,
			DialContext:           p.DialContext,
			ForceAttemptHTTP2:     true,
			MaxIdleConns:          16,
			IdleConnTimeout:       90 * time.Second,
			TLSHandshakeTimeout:   10 * time.Second,
			ExpectContinueTimeout: time.Second,
		},
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
}

// Body returns the URL to post m to and the body to post.
func Body(m notify.Message) (string, []byte, error) {
	channel, addr, ok := notify.SplitTarget(m.Target)
	if !ok {
		return "", nil, fmt.Errorf("webhook: bad target %q", m.Target)
	}
	u, err := url.Parse(addr)
	if err != nil {
		return "", nil, fmt.Errorf("webhook: bad URL: %w", err)
	}
	format := channel
	if format == notify.ChannelWebhook {
		if ch := notify.ChatURL(u); ch != "" {
			format = ch
		}
	}
	for _, p := range []string{"slack+", "teams+"} {
		if s, ok := strings.CutPrefix(u.Scheme, p); ok {
			u.Scheme = s
		}
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return "", nil, fmt.Errorf("webhook: unsupported scheme %q", u.Scheme)
	}
	var v any
	switch format {
	case notify.ChannelSlack:
		v = slackMessage(m)
	case notify.ChannelTeams:
		v = teamsMessage(m)
	default:
		v = Payload{ID: m.Key, Kind: m.Kind, Subject: m.Subject, Text: m.Body, Data: m.Data, CreatedAt: m.CreatedAt}
	}
	body, err := json.Marshal(v)
	return u.String(), body, err
}

// Deliver implements notify.Deliverer.
func (d *Deliverer) Deliver(ctx context.Context, m notify.Message) error {
	u, body, err := Body(m)
	if err != nil {
		return notify.Permanent(err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, u, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tollgate-Notify/1")
	req.Header.Set(SignatureHeader, Sign(d.Secret, body))
	req.Header.Set(IdempotencyHeader, m.Key)
	req.Header.Set(KindHeader, m.Kind)
	return Post(d.client0(), req)
}

func (d *Deliverer) client0() *http.Client {
	if d.Client != nil {
		return d.Client
	}
	d.once.Do(func() { d.client = NewClient(d.Egress, 15*time.Second) })
	return d.client
}

// Post sends req with c and classifies the outcome for the outbox: nil
// for a 2xx answer; a retryable error for 408, 425, 429, 5xx and
// transport errors; a notify.Permanent error for an address the outbound
// policy refuses and for every other answer (redirects included).
func Post(c *http.Client, req *http.Request) error {
	u := req.URL.Redacted()
	resp, err := c.Do(req)
	if errors.Is(err, egress.ErrRefused) {
		return notify.Permanent(err)
	}
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
	switch s := resp.StatusCode; {
	case s >= 200 && s < 300:
		return nil
	case s == http.StatusRequestTimeout || s == http.StatusTooEarly || s == http.StatusTooManyRequests || s >= 500:
		return fmt.Errorf("webhook: %s answered %s", u, resp.Status)
	default:
		return notify.Permanent(fmt.Errorf("webhook: %s rejected the message: %s", u, resp.Status))
	}
}
