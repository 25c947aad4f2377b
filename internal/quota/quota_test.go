package quota

import (
	"context"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
)

var (
	t0   = time.Date(2026, 12, 6, 17, 0, 10, 0, time.UTC)
	nova = catalog.Model{ID: "amazon.nova-pro-v1:0"}
)

func call(tier, profile string, input, maxTokens int64) admission.Request {
	return admission.Request{Account: "111111111111", ProfileID: profile, Model: nova, ServiceTier: tier,
		InputTokens: input, RequestMaxTokens: maxTokens}
}

func admit(t *testing.T, q *Quotas, r admission.Request) admission.TierTicket {
	t.Helper()
	tk, err := q.AdmitTier(t.Context(), r)
	if err != nil {
		t.Fatalf("AdmitTier(%s, %d+%d): %v", r.ServiceTier, r.InputTokens, r.RequestMaxTokens, err)
	}
	return tk
}

func used(q *Quotas, kind string) int64 {
	return q.Usage(t0)[kind+" 111111111111 amazon.nova-pro-v1:0 on-demand "]
}

// TestQuotaReserveAndSettle checks a call holds input + maxTokens of the
// TPM quota while it runs and input + output once settled; a call that
// did not run gives everything back; the request stays counted.
func TestQuotaReserveAndSettle(t *testing.T) {
	q := New(Config{Now: func() time.Time { return t0 }, Rules: []Rule{{Model: "amazon.nova-*", Scope: ScopeOnDemand, RPM: 10, TPM: 10000}}})
	a := admit(t, q, call("default", "", 100, 1000))
	if got := used(q, "tpm"); got != 1100 {
		t.Errorf("tokens held while running = %d, want 1100", got)
	}
	a.Done(ledger.Record{InputTokens: 100, OutputTokens: 200})
	if got := used(q, "tpm"); got != 300 {
		t.Errorf("tokens after settling = %d, want 300", got)
	}
	b := admit(t, q, call("default", "", 50, 500))
	b.Done(ledger.Record{})
	if got, rpm := used(q, "tpm"), used(q, "rpm"); got != 300 || rpm != 2 {
		t.Errorf("after a call that did not run: tokens %d, requests %d; want 300, 2", got, rpm)
	}
	if a.ServiceTier() != "" {
		t.Errorf("ServiceTier %q, want the tier asked for", a.ServiceTier())
	}
}

// TestQuotaThrottles checks exhaustion answers a ThrottlingException in
// Bedrock's words with a Retry-After to the next minute, and that flex
// and default calls leave room for priority (FlexShare, DefaultShare).
func TestQuotaThrottles(t *testing.T) {
	q := New(Config{Now: func() time.Time { return t0 }, Rules: []Rule{{Model: "*", Scope: ScopeOnDemand, TPM: 1000, RPM: 100}}})
	admit(t, q, call("flex", "", 300, 400)) // 700 of 800 flex may fill
	_, err := q.AdmitTier(t.Context(), call("flex", "", 50, 100))
	if !errkind.Is(err, errkind.Throttled) || !strings.Contains(err.Error(), "Too many tokens, please wait before trying again.") {
		t.Fatalf("flex beyond its share: %v", err)
	}
	if d, ok := admission.RetryAfter(err); !ok || d != 50*time.Second {
		t.Errorf("Retry-After %v, %v; want 50s (the next minute)", d, ok)
	}
	admit(t, q, call("default", "", 100, 100)) // 900 of 900
	admit(t, q, call("priority", "", 50, 50))  // 1000 of 1000
	if _, err := q.AdmitTier(t.Context(), call("priority", "", 1, 1)); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("priority beyond the quota: %v", err)
	}
	r := call("default", "", 1, 1)
	r.CrossRegion = true // another quota: the cross-region one, not configured
	if tk, err := q.AdmitTier(t.Context(), r); tk != nil || err != nil {
		t.Errorf("a cross-region call with only an on-demand quota: %v, %v", tk, err)
	}
	rpm := New(Config{Now: func() time.Time { return t0 }, Rules: []Rule{{Model: "*", Scope: ScopeOnDemand, RPM: 1}}})
	admit(t, rpm, call("priority", "", 1, 1))
	if _, err := rpm.AdmitTier(t.Context(), call("priority", "", 1, 1)); !strings.Contains(err.Error(), "Too many requests, please wait") {
		t.Errorf("second request of an RPM 1 quota: %v", err)
	}
}

// TestQuotaReserved checks reserved calls take from their profile's
// reservation and overflow to Standard when it is used up.
func TestQuotaReserved(t *testing.T) {
	q := New(Config{Now: func() time.Time { return t0 }, Reserved: []Reserved{{Profile: "chatbot", TPM: 1000}},
		Rules: []Rule{{Model: "*", Scope: ScopeOnDemand, TPM: 10000}}})
	a := admit(t, q, call("reserved", "chatbot", 400, 400))
	if a.ServiceTier() != "" || used(q, "tpm") != 0 {
		t.Errorf("within the reservation: tier %q, standard tokens %d", a.ServiceTier(), used(q, "tpm"))
	}
	b := admit(t, q, call("reserved", "chatbot", 400, 400))
	if b.ServiceTier() != "default" || used(q, "tpm") != 800 {
		t.Errorf("beyond the reservation: tier %q, standard tokens %d; want default, 800", b.ServiceTier(), used(q, "tpm"))
	}
	c := admit(t, q, call("reserved", "other", 10, 10))
	if c.ServiceTier() != "default" {
		t.Errorf("a profile without a reservation: tier %q, want default", c.ServiceTier())
	}
}

// TestQuotaFlexWaits checks a flex call waits for tokens a settling call
// gives back, up to FlexMaxWait.
func TestQuotaFlexWaits(t *testing.T) {
	q := New(Config{FlexMaxWait: time.Minute, Now: func() time.Time { return t0 }, Rules: []Rule{{Model: "*", Scope: ScopeOnDemand, TPM: 1250}}})
	a := admit(t, q, call("default", "", 500, 500))
	done := make(chan error)
	go func() {
		tk, err := q.AdmitTier(t.Context(), call("flex", "", 300, 100)) // 1000+400 > 1000 flex may fill
		if err == nil {
			tk.Done(ledger.Record{})
		}
		done <- err
	}()
	select {
	case err := <-done:
		t.Fatalf("flex did not wait: %v", err)
	case <-time.After(20 * time.Millisecond):
	}
	a.Done(ledger.Record{InputTokens: 500, OutputTokens: 10}) // 510+400 fit
	if err := <-done; err != nil {
		t.Errorf("flex after room was given back: %v", err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Millisecond)
	defer cancel()
	big := call("flex", "", 5000, 1)
	if _, err := q.AdmitTier(ctx, big); err != context.DeadlineExceeded {
		t.Errorf("flex wait ended by its context: %v", err)
	}
}

// fleetStore is the store's ClaimRate: one count per key and minute,
// never granting beyond the limit.
type fleetStore struct {
	mu sync.Mutex
	n  map[string]int64
}

func (s *fleetStore) ClaimRate(_ context.Context, account, key string, window time.Time, limit, want int64) (int64, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	k := account + key + window.String()
	give := min(want, limit-s.n[k])
	if give <= 0 {
		return 0, nil
	}
	s.n[k] += give
	return give, nil
}

// TestQuotaFleet checks three replicas claiming from one store admit no
// more tokens in a minute than the quota, and that the quota is used.
func TestQuotaFleet(t *testing.T) {
	store := &fleetStore{n: map[string]int64{}}
	const tpm = 100000
	var replicas []*Quotas
	for range 3 {
		replicas = append(replicas, New(Config{Shared: store, Now: func() time.Time { return t0 },
			Rules: []Rule{{Model: "*", Scope: ScopeOnDemand, TPM: tpm}}}))
	}
	var (
		mu       sync.Mutex
		admitted int64
		wg       sync.WaitGroup
	)
	for i := range 300 {
		wg.Go(func() {
			tk, err := replicas[i%3].AdmitTier(context.Background(), call("priority", "", 500, 500))
			if err != nil {
				return
			}
			tk.Done(ledger.Record{InputTokens: 500, OutputTokens: 500})
			mu.Lock()
			admitted += 1000
			mu.Unlock()
		})
	}
	wg.Wait()
	if admitted > tpm {
		t.Errorf("the fleet admitted %d tokens in a minute, quota %d", admitted, tpm)
	}
	// Each replica may hold up to TPM/8 it could not use: the bound.
	if admitted < tpm-3*tpm/8 {
		t.Errorf("the fleet admitted only %d tokens of %d", admitted, tpm)
	}
}
