// Package notify owns Tollgate's outgoing notifications: a durable outbox
// that delivers each message at least once — stored before Enqueue
// returns, retried with exponential backoff while its receiver fails,
// resumed after a restart — and never again once a delivery succeeded.
// Every message carries an idempotency key: enqueueing a key twice stores
// one message, and receivers see the key so they can drop the rare
// duplicate (a crash between a receiver's acceptance and the outbox
// recording it).
//
// Budgets send their alerts through it; alarms and anomaly alerts can too.
// The package declares the Store it needs and the Deliverer interface,
// and maps subscriber addresses to channels (TargetOf: e-mail, the signed
// webhook, Slack, Microsoft Teams, PagerDuty); the deliverers themselves
// (webhook for the first three web channels, pagerduty, mail) live in
// subpackages, so this one stays free of transport code.
package notify

import (
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/backoff"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Message is one notification to one target.
type Message struct {
	// Key is the idempotency key: a second Enqueue of the same key is a
	// no-op, and deliverers pass it to the receiver. 1-1024 bytes.
	Key string
	// Kind names what the message is about, e.g. "budget.alert".
	Kind string
	// Target is the subscriber, "<channel>:<address>": for example
	// "email:finance@example.com" or "webhook:https://hooks.example.com/x".
	Target string
	// Subject is a one-line summary (the e-mail subject).
	Subject string
	// Body is the human-readable text.
	Body string
	// Data is the structured payload (a JSON object) webhooks carry;
	// optional.
	Data json.RawMessage
	// CreatedAt is when the message was enqueued (set by Enqueue).
	CreatedAt time.Time
}

// The channels Tollgate delivers to.
const (
	ChannelEmail   = "email"
	ChannelWebhook = "webhook"
)

// Target returns the target string of channel and address.
func Target(channel, address string) string { return channel + ":" + address }

// SplitTarget splits a target into its channel and address.
func SplitTarget(target string) (channel, address string, ok bool) {
	channel, address, ok = strings.Cut(target, ":")
	return channel, address, ok && channel != "" && address != ""
}

// State is where a message is in its life.
type State string

// The states.
const (
	Pending   State = "pending"   // waiting for its next attempt
	Delivered State = "delivered" // a receiver accepted it; never sent again
	Dead      State = "dead"      // failed permanently or too often; kept for inspection
)

// Delivery is a message with its delivery state.
type Delivery struct {
	Message
	State       State
	Attempts    int
	NextAt      time.Time // when a pending message is due
	LastError   string
	DeliveredAt time.Time
}

// Store persists the outbox. Implementations are safe for concurrent use;
// errors are errkind Internal unless stated.
type Store interface {
	// EnqueueMessage stores m as pending, due at m.CreatedAt. When a
	// message with m.Key exists, in any state, it changes nothing and
	// returns false.
	EnqueueMessage(ctx context.Context, m Message) (bool, error)
	// DueMessages returns up to limit pending messages due at or before
	// now, the earliest due first.
	DueMessages(ctx context.Context, now time.Time, limit int) ([]Delivery, error)
	// MarkDelivered records that the message was accepted on attempt
	// number attempts; errkind.NotFound when the key is unknown.
	MarkDelivered(ctx context.Context, key string, attempts int, at time.Time) error
	// MarkFailed records a failed attempt: the message stays pending, due
	// at next, or becomes Dead when dead is true; errkind.NotFound when
	// the key is unknown.
	MarkFailed(ctx context.Context, key string, attempts int, next time.Time, dead bool, lastErr string) error
	// OutboxMessage returns one message; errkind.NotFound when unknown.
	OutboxMessage(ctx context.Context, key string) (Delivery, error)
}

// Deliverer sends messages of one channel. Implementations are safe for
// concurrent use.
type Deliverer interface {
	// Deliver sends m once. nil means the receiver accepted it; an error
	// marked with Permanent is not retried.
	Deliver(ctx context.Context, m Message) error
}

type permanent struct{ err error }

func (p permanent) Error() string { return p.err.Error() }
func (p permanent) Unwrap() error { return p.err }

// Permanent marks a delivery error the outbox must not retry (the receiver
// rejected the message itself, e.g. an HTTP 400 or an SMTP 550).
func Permanent(err error) error { return permanent{err} }

// IsPermanent reports whether err was marked with Permanent.
func IsPermanent(err error) bool {
	var p permanent
	return errors.As(err, &p)
}

// DefaultBackoff waits 5s after the first failure, doubling up to an hour,
// with ±20% jitter.
func DefaultBackoff(n int) time.Duration { return defaultBackoff.Delay(n) }

var defaultBackoff = backoff.Policy{First: 5 * time.Second, Max: time.Hour, Jitter: 0.2}

// Config configures an Outbox.
type Config struct {
	Store Store
	// Deliverers maps a channel ("email", "webhook") to its deliverer. A
	// message whose channel has none stays pending and is retried (a
	// restart with the channel configured delivers it).
	Deliverers map[string]Deliverer
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Logger logs failures. Default: discard.
	Logger *slog.Logger
	// Backoff returns the wait after the n-th failed attempt (n >= 1).
	// Default DefaultBackoff.
	Backoff func(n int) time.Duration
	// MaxAttempts is how many attempts a message gets before it is Dead.
	// Default 20.
	MaxAttempts int
	// Poll is how often Run looks for due messages when nothing wakes it.
	// Default 1s.
	Poll time.Duration
	// Timeout bounds one attempt. Default 15s.
	Timeout time.Duration
	// Concurrency is how many attempts run at once. Default 8.
	Concurrency int
}

// Outbox delivers messages durably. Safe for concurrent use; run one Run
// per store.
type Outbox struct {
	cfg  Config
	log  *slog.Logger
	wake chan struct{}
	pass sync.Mutex // one delivery pass at a time

	enqueued, delivered, retried, dead atomic.Uint64
	due                                atomic.Int64
}

// Stats are an outbox's counts since this process started, for metrics.
type Stats struct {
	// Enqueued counts new messages stored; Delivered, Retried and Dead
	// count attempts that delivered, failed and will be retried, and
	// failed for good.
	Enqueued, Delivered, Retried, Dead uint64
	// Due is how many messages were due at the last delivery pass (at
	// most one batch, 64): the backlog as this replica last saw it.
	Due int64
}

// Stats returns the outbox's counts.
func (o *Outbox) Stats() Stats {
	return Stats{Enqueued: o.enqueued.Load(), Delivered: o.delivered.Load(), Retried: o.retried.Load(), Dead: o.dead.Load(), Due: o.due.Load()}
}

// New returns an Outbox; call Run to deliver.
func New(cfg Config) *Outbox {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Backoff == nil {
		cfg.Backoff = DefaultBackoff
	}
	if cfg.MaxAttempts <= 0 {
		cfg.MaxAttempts = 20
	}
	if cfg.Poll <= 0 {
		cfg.Poll = time.Second
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 15 * time.Second
	}
	if cfg.Concurrency <= 0 {
		cfg.Concurrency = 8
	}
	return &Outbox{cfg: cfg, log: cfg.Logger, wake: make(chan struct{}, 1)}
}

// Enqueue stores m durably for delivery and wakes the deliverer. Enqueueing
// a key that exists is a no-op. Errors: errkind.Invalid for a malformed
// message, else the store's.
func (o *Outbox) Enqueue(ctx context.Context, m Message) error {
	if m.Key == "" || len(m.Key) > 1024 {
		return errkind.New(errkind.Invalid, "A message key must be 1-1024 bytes long.")
	}
	if _, _, ok := SplitTarget(m.Target); !ok {
		return errkind.New(errkind.Invalid, "The message target %q is not <channel>:<address>.", m.Target)
	}
	if len(m.Data) > 0 && !json.Valid(m.Data) {
		return errkind.New(errkind.Invalid, "The message data is not valid JSON.")
	}
	m.CreatedAt = o.cfg.Now().UTC().Truncate(time.Millisecond)
	added, err := o.cfg.Store.EnqueueMessage(ctx, m)
	if err != nil {
		return err
	}
	if added {
		o.enqueued.Add(1)
		select {
		case o.wake <- struct{}{}:
		default:
		}
	}
	return nil
}

// Run delivers due messages until ctx is done: at once when a message is
// enqueued, else every Poll.
func (o *Outbox) Run(ctx context.Context) {
	t := time.NewTimer(0)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-o.wake:
		case <-t.C:
		}
		n, err := o.DeliverDue(ctx)
		if err != nil && ctx.Err() == nil {
			o.log.Error("outbox_pass_failed", "err", err.Error())
		}
		wait := o.cfg.Poll
		if n == batch {
			wait = 0 // more may be due
		}
		if !t.Stop() {
			select {
			case <-t.C:
			default:
			}
		}
		t.Reset(wait)
	}
}

// batch is how many due messages one pass takes.
const batch = 64

// DeliverDue makes one attempt at every message due now (up to a batch)
// and returns how many it tried.
func (o *Outbox) DeliverDue(ctx context.Context) (int, error) {
	o.pass.Lock()
	defer o.pass.Unlock()
	due, err := o.cfg.Store.DueMessages(ctx, o.cfg.Now(), batch)
	if err != nil {
		return 0, err
	}
	o.due.Store(int64(len(due)))
	sem := make(chan struct{}, o.cfg.Concurrency)
	var wg sync.WaitGroup
	for _, d := range due {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			o.attempt(ctx, d)
		}()
	}
	wg.Wait()
	return len(due), nil
}

func (o *Outbox) attempt(ctx context.Context, d Delivery) {
	channel, _, _ := SplitTarget(d.Target)
	var err error
	if dl, ok := o.cfg.Deliverers[channel]; ok {
		actx, cancel := context.WithTimeout(ctx, o.cfg.Timeout)
		err = dl.Deliver(actx, d.Message)
		cancel()
	} else {
		err = errors.New("no deliverer is configured for channel " + channel)
	}
	if ctx.Err() != nil {
		return // shutting down: the message stays pending as it was
	}
	sctx := context.WithoutCancel(ctx)
	n := d.Attempts + 1
	now := o.cfg.Now().UTC()
	if err == nil {
		o.delivered.Add(1)
		if err := o.cfg.Store.MarkDelivered(sctx, d.Key, n, now); err != nil {
			o.log.Error("outbox_mark_failed", "key", d.Key, "err", err.Error())
		}
		return
	}
	dead := IsPermanent(err) || n >= o.cfg.MaxAttempts
	if dead {
		o.dead.Add(1)
	} else {
		o.retried.Add(1)
	}
	next := now.Add(o.cfg.Backoff(n))
	o.log.Warn("notification_delivery_failed", "key", d.Key, "kind", d.Kind, "channel", channel, "attempt", n, "dead", dead, "err", err.Error())
	msg := err.Error()
	if len(msg) > 1000 {
		msg = msg[:1000]
	}
	if err := o.cfg.Store.MarkFailed(sctx, d.Key, n, next, dead, msg); err != nil {
		o.log.Error("outbox_mark_failed", "key", d.Key, "err", err.Error())
	}
}
