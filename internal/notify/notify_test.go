package notify_test

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/notify/mail"
	"github.com/tollgate-dev/tollgate/internal/notify/mail/mailtest"
	"github.com/tollgate-dev/tollgate/internal/notify/webhook"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/testsupport"
)

var secret = []byte("s3cret")

// loopback allows the test receivers, which listen on 127.0.0.1: the
// outbound policy refuses loopback addresses by default.
var loopback = mustPolicy("127.0.0.0/8")

func mustPolicy(entries ...string) *egress.Policy {
	p, err := egress.New(entries)
	if err != nil {
		panic(err)
	}
	return p
}

// receiver is a webhook endpoint that answers the statuses it is told to
// (200 once they run out) and records every request.
type receiver struct{ *testsupport.Receiver }

// request is what a test checks of a recorded webhook request.
type request struct {
	key, kind string
	sigOK     bool
	body      []byte
}

func newReceiver(t *testing.T, statuses ...int) receiver {
	return receiver{testsupport.NewReceiver(t, statuses...)}
}

func (rc receiver) requests() []request {
	var out []request
	for _, r := range rc.Requests() {
		out = append(out, request{key: r.Header.Get(webhook.IdempotencyHeader), kind: r.Header.Get(webhook.KindHeader),
			sigOK: webhook.Verify(secret, r.Body, r.Header.Get(webhook.SignatureHeader)), body: r.Body})
	}
	return out
}

func openDB(t *testing.T, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(t.Context(), path, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func newOutbox(db *sqlite.DB, extra func(*notify.Config)) *notify.Outbox {
	cfg := notify.Config{Store: db, Deliverers: map[string]notify.Deliverer{notify.ChannelWebhook: &webhook.Deliverer{Secret: secret, Egress: loopback}},
		Backoff: func(int) time.Duration { return 20 * time.Millisecond }, Poll: 10 * time.Millisecond, MaxAttempts: 10}
	if extra != nil {
		extra(&cfg)
	}
	return notify.New(cfg)
}

// run runs o until the test ends or stop is called.
func run(t *testing.T, o *notify.Outbox) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { o.Run(ctx); close(done) }()
	var once sync.Once
	stop = func() { once.Do(func() { cancel(); <-done }) }
	t.Cleanup(stop)
	return stop
}

// waitState polls until the message reaches state (10s at most).
func waitState(t *testing.T, s notify.Store, key string, want notify.State) notify.Delivery {
	t.Helper()
	var d notify.Delivery
	var err error
	testsupport.Eventually(t, 10*time.Second, func() bool {
		d, err = s.OutboxMessage(context.Background(), key)
		return err == nil && d.State == want
	}, "message %s is not %s", key, want)
	return d
}

func message(key, url string) notify.Message {
	return notify.Message{Key: key, Kind: "test.alert", Target: notify.Target(notify.ChannelWebhook, url),
		Subject: "Budget passed 80%", Body: "Actual: $81.00\n", Data: json.RawMessage(`{"budgetName":"b"}`)}
}

func TestRetriesUntilDeliveredThenNeverAgain(t *testing.T) {
	rc := newReceiver(t, 503, 500, 429)
	db := openDB(t, filepath.Join(t.TempDir(), "t.db"))
	o := newOutbox(db, nil)
	run(t, o)
	if err := o.Enqueue(t.Context(), message("k1", rc.URL)); err != nil {
		t.Fatal(err)
	}
	if err := o.Enqueue(t.Context(), message("k1", rc.URL)); err != nil { // same key: no second message
		t.Fatal(err)
	}
	d := waitState(t, db, "k1", notify.Delivered)
	if d.Attempts != 4 {
		t.Errorf("delivered after %d attempts, want 4", d.Attempts)
	}
	// Later passes send nothing more.
	for range 5 {
		if _, err := o.DeliverDue(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	got := rc.requests()
	if len(got) != 4 {
		t.Fatalf("receiver got %d requests, want 4 (3 failures, 1 success)", len(got))
	}
	for _, r := range got {
		if r.key != "k1" || r.kind != "test.alert" || !r.sigOK {
			t.Errorf("request key %q kind %q signature ok %v; want k1, test.alert, true", r.key, r.kind, r.sigOK)
		}
	}
	var p webhook.Payload
	if err := json.Unmarshal(got[3].body, &p); err != nil || p.ID != "k1" || p.Subject != "Budget passed 80%" || string(p.Data) != `{"budgetName":"b"}` {
		t.Errorf("payload %s (%v)", got[3].body, err)
	}
}

func TestRedeliversAfterRestart(t *testing.T) {
	path := filepath.Join(t.TempDir(), "t.db")
	// Reserve an address, then close it: the receiver is down and
	// connections are refused.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	db := openDB(t, path)
	o := newOutbox(db, func(c *notify.Config) { c.Backoff = func(int) time.Duration { return time.Hour } })
	stop := run(t, o)
	if err := o.Enqueue(t.Context(), message("k1", "http://"+addr+"/hook")); err != nil {
		t.Fatal(err)
	}
	testsupport.Eventually(t, 10*time.Second, func() bool { return waitState(t, db, "k1", notify.Pending).Attempts > 0 },
		"no delivery attempt")
	stop()
	db.Close()

	// Restart past the backoff with the receiver up on the same address:
	// the pending message goes out, once.
	rc := newReceiver(t)
	rc.Close()
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: rc.Config.Handler}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	db2 := openDB(t, path)
	later := time.Now().Add(2 * time.Hour)
	o2 := newOutbox(db2, func(c *notify.Config) { c.Now = func() time.Time { return later } })
	run(t, o2)
	waitState(t, db2, "k1", notify.Delivered)
	if got := rc.requests(); len(got) != 1 || got[0].key != "k1" || !got[0].sigOK {
		t.Errorf("receiver got %+v, want one signed delivery of k1", got)
	}
}

func TestPermanentFailuresAndMaxAttempts(t *testing.T) {
	rc := newReceiver(t, 400, 503, 503, 503)
	db := openDB(t, filepath.Join(t.TempDir(), "t.db"))
	o := newOutbox(db, func(c *notify.Config) { c.MaxAttempts = 3 })
	run(t, o)
	if err := o.Enqueue(t.Context(), message("rejected", rc.URL)); err != nil {
		t.Fatal(err)
	}
	if d := waitState(t, db, "rejected", notify.Dead); d.Attempts != 1 || !strings.Contains(d.LastError, "400") {
		t.Errorf("rejected message = %+v, want dead after 1 attempt with the 400", d)
	}
	if err := o.Enqueue(t.Context(), message("flaky", rc.URL)); err != nil {
		t.Fatal(err)
	}
	if d := waitState(t, db, "flaky", notify.Dead); d.Attempts != 3 {
		t.Errorf("flaky message = %+v, want dead after 3 attempts", d)
	}
	if err := o.Enqueue(t.Context(), notify.Message{Key: "", Target: "webhook:x"}); err == nil {
		t.Error("Enqueue without a key succeeded")
	}
	if err := o.Enqueue(t.Context(), notify.Message{Key: "k", Target: "nochannel"}); err == nil {
		t.Error("Enqueue with a malformed target succeeded")
	}
}

func TestMail(t *testing.T) {
	srv := mailtest.Start(t)
	d := &mail.Deliverer{Addr: srv.Addr, From: "tollgate@example.com", Now: func() time.Time { return time.Date(2026, 11, 20, 10, 0, 0, 0, time.UTC) }}
	m := notify.Message{Key: "budget/k", Kind: "budget.alert", Target: "email:fin@example.com", Subject: "Budget é passed", Body: "Line one\n.Line two\n"}
	if err := d.Deliver(t.Context(), m); err != nil {
		t.Fatal(err)
	}
	got := srv.Mail()
	if len(got) != 1 || got[0].From != "tollgate@example.com" || len(got[0].To) != 1 || got[0].To[0] != "fin@example.com" {
		t.Fatalf("mail %+v", got)
	}
	for _, want := range []string{"Subject: =?utf-8?q?Budget_=C3=A9_passed?=\r\n", "X-Tollgate-Idempotency-Key: budget/k\r\n", "\r\n\r\nLine one\r\n.Line two\r\n"} {
		if !strings.Contains(got[0].Data, want) {
			t.Errorf("mail data lacks %q:\n%s", want, got[0].Data)
		}
	}
	srv.SetReject("451 4.3.0 try later")
	if err := d.Deliver(t.Context(), m); err == nil || notify.IsPermanent(err) {
		t.Errorf("Deliver on a 451 = %v, want a retryable error", err)
	}
	srv.SetReject("550 5.1.1 no such user")
	if err := d.Deliver(t.Context(), m); !notify.IsPermanent(err) {
		t.Errorf("Deliver on a 550 = %v, want a permanent error", err)
	}
}

// TestWebhookOutboundPolicy proves the delivery-time address check: the
// default deliverer refuses a receiver on a loopback address, whether
// written as an address, as localhost, or as a name that resolves there,
// for good (no retry); and it follows no redirect, so an allowed receiver
// cannot send it on to an internal one.
func TestWebhookOutboundPolicy(t *testing.T) {
	rc := newReceiver(t)
	_, port, _ := net.SplitHostPort(rc.Listener.Addr().String())
	rebind := (*egress.Policy)(nil).WithLookup(func(_ context.Context, host string) ([]netip.Addr, error) {
		return []netip.Addr{netip.MustParseAddr("127.0.0.1")}, nil
	})
	for _, tc := range []struct {
		name string
		d    *webhook.Deliverer
		url  string
	}{
		{"address", &webhook.Deliverer{Secret: secret}, rc.URL + "/hook"},
		{"localhost", &webhook.Deliverer{Secret: secret}, "http://localhost:" + port + "/hook"},
		{"name resolving to loopback", &webhook.Deliverer{Secret: secret, Egress: rebind}, "http://hooks.example.com:" + port + "/hook"},
		{"slack scheme", &webhook.Deliverer{Secret: secret}, "slack+" + rc.URL + "/hook"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.d.Deliver(t.Context(), message("k", tc.url))
			if !errors.Is(err, egress.ErrRefused) || !notify.IsPermanent(err) {
				t.Errorf("Deliver = %v, want a permanent egress.ErrRefused", err)
			}
		})
	}
	if got := rc.requests(); len(got) != 0 {
		t.Errorf("the refused receiver got %d requests", len(got))
	}

	// An allowed receiver that redirects: the redirect is not followed.
	inner := newReceiver(t)
	redirect := httptest.NewServer(http.RedirectHandler(inner.URL+"/internal", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	d := &webhook.Deliverer{Secret: secret, Egress: loopback}
	if err := d.Deliver(t.Context(), message("k", redirect.URL)); err == nil || !notify.IsPermanent(err) {
		t.Errorf("Deliver to a redirect = %v, want a permanent rejection", err)
	}
	if got := inner.requests(); len(got) != 0 {
		t.Errorf("the redirect was followed: %d requests", len(got))
	}
}
