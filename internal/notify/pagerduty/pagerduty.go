// Package pagerduty delivers notify messages to PagerDuty as Events API
// v2 events: a POST of JSON to the events endpoint (default
// https://events.pagerduty.com/v2/enqueue) with the target's routing key,
// event_action "trigger" or "resolve" and a dedup_key, so the resolve of a
// budget action's release or an alarm's return to OK closes the incident
// its trigger opened (notify.IncidentOf says which a message is).
//
// The endpoint is reached only where the outbound policy (internal/egress)
// allows, without redirects or proxies. 202 (and any 2xx) is a delivery;
// 429, 5xx and transport errors are retried by the outbox; 400 and other
// answers reject the message for good.
package pagerduty

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
)

// DefaultEndpoint is PagerDuty's Events API v2 endpoint.
const DefaultEndpoint = "https://events.pagerduty.com/v2/enqueue"

// Event is an Events API v2 event.
type Event struct {
	RoutingKey  string   `json:"routing_key"`
	EventAction string   `json:"event_action"` // trigger or resolve
	DedupKey    string   `json:"dedup_key"`
	Payload     *Payload `json:"payload,omitempty"` // triggers only
	Client      string   `json:"client,omitempty"`
}

// Payload is a trigger event's payload.
type Payload struct {
	Summary       string          `json:"summary"` // at most 1024 characters
	Source        string          `json:"source"`
	Severity      string          `json:"severity"` // critical, error, warning or info
	Timestamp     string          `json:"timestamp,omitempty"`
	Component     string          `json:"component,omitempty"`
	Group         string          `json:"group,omitempty"`
	Class         string          `json:"class,omitempty"`
	CustomDetails json.RawMessage `json:"custom_details,omitempty"`
}

// Deliverer sends messages of notify.ChannelPagerDuty. Safe for
// concurrent use.
type Deliverer struct {
	// Endpoint is the events endpoint. Default DefaultEndpoint.
	Endpoint string
	// Egress is the outbound address policy when Client is nil. Default
	// nil: the egress defaults, no internal address allowed.
	Egress *egress.Policy
	// Client sends the requests. Default: webhook.NewClient(Egress, 15s).
	Client *http.Client

	once   sync.Once
	client *http.Client
}

var _ notify.Deliverer = (*Deliverer)(nil)

// EventOf returns the event a message sends.
func EventOf(m notify.Message) (Event, error) {
	ch, addr, ok := notify.SplitTarget(m.Target)
	key, kok := notify.ParsePagerDuty(ch + ":" + addr)
	if !ok || ch != notify.ChannelPagerDuty || !kok {
		return Event{}, fmt.Errorf("pagerduty: bad target %q", m.Target)
	}
	in := notify.IncidentOf(m)
	e := Event{RoutingKey: key, EventAction: "trigger", DedupKey: in.DedupKey, Client: "Tollgate"}
	if in.Resolve {
		e.EventAction = "resolve"
		return e, nil
	}
	summary := m.Subject
	if len([]rune(summary)) > 1024 {
		summary = string([]rune(summary)[:1023]) + "…"
	}
	e.Payload = &Payload{Summary: summary, Source: in.Source, Severity: in.Severity, Component: in.Component, Group: "tollgate", Class: m.Kind}
	if !m.CreatedAt.IsZero() {
		e.Payload.Timestamp = m.CreatedAt.UTC().Format(time.RFC3339Nano)
	}
	if len(m.Data) > 0 && json.Valid(m.Data) {
		e.Payload.CustomDetails = m.Data
	}
	return e, nil
}

// Deliver implements notify.Deliverer.
func (d *Deliverer) Deliver(ctx context.Context, m notify.Message) error {
	e, err := EventOf(m)
	if err != nil {
		return notify.Permanent(err)
	}
	body, err := json.Marshal(e)
	if err != nil {
		return notify.Permanent(err)
	}
	endpoint := d.Endpoint
	if endpoint == "" {
		endpoint = DefaultEndpoint
	}
	if _, err := url.Parse(endpoint); err != nil {
		return notify.Permanent(fmt.Errorf("pagerduty: bad endpoint: %w", err))
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		return notify.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Tollgate-Notify/1")
	c := d.Client
	if c == nil {
		d.once.Do(func() { d.client = webhook.NewClient(d.Egress, 15*time.Second) })
		c = d.client
	}
	return webhook.Post(c, req)
}
