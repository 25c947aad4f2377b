package ratelimit

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func TestBucketsBurstAndRefill(t *testing.T) {
	b := NewBuckets(2)
	for i := range 2 {
		if !b.Allow("a", t0) {
			t.Fatalf("call %d of the burst refused", i)
		}
	}
	if b.Allow("a", t0) {
		t.Error("third call at once admitted, want refused (burst 2)")
	}
	if !b.Allow("b", t0) {
		t.Error("another key refused, want its own bucket")
	}
	if !b.Allow("a", t0.Add(500*time.Millisecond)) {
		t.Error("call after 0.5 s at 2/s refused, want one token refilled")
	}
	if b.Allow("a", t0.Add(500*time.Millisecond)) {
		t.Error("second call after 0.5 s admitted, want refused")
	}
}

func TestBucketsBelowOnePerSecond(t *testing.T) {
	b := NewBuckets(0.5)
	if !b.Allow("a", t0) || b.Allow("a", t0.Add(time.Second)) {
		t.Fatal("want one call, then none for 2 s")
	}
	if !b.Allow("a", t0.Add(2*time.Second)) {
		t.Error("call after 2 s at 0.5/s refused")
	}
}

func TestBucketsEvictIdleKeys(t *testing.T) {
	b := NewBuckets(10) // an emptied bucket fills in 1 s
	for i := range 1000 {
		b.Allow(string(rune('a'+i%26))+string(rune(i)), t0)
	}
	if b.Len() != 1000 {
		t.Fatalf("Len() = %d, want 1000", b.Len())
	}
	b.Allow("busy", t0.Add(999*time.Millisecond))
	if b.Len() != 1001 {
		t.Fatalf("Len() = %d before the keys are idle, want 1001", b.Len())
	}
	for range 10 {
		b.Allow("busy", t0.Add(1500*time.Millisecond))
	}
	if got := b.Len(); got != 1 {
		t.Errorf("Len() = %d after the others filled up, want 1 (busy)", got)
	}
	// An evicted key starts full, as it would have been.
	for i := range 10 {
		if !b.Allow("a\x00", t0.Add(1500*time.Millisecond)) {
			t.Fatalf("call %d of an evicted key refused", i)
		}
	}
}

func TestBucketsConcurrent(t *testing.T) {
	b := NewBuckets(100)
	var wg sync.WaitGroup
	var mu sync.Mutex
	admitted := 0
	for range 8 {
		wg.Go(func() {
			for range 50 {
				if b.Allow("k", t0) {
					mu.Lock()
					admitted++
					mu.Unlock()
				}
			}
		})
	}
	wg.Wait()
	if admitted != 100 {
		t.Errorf("admitted %d at once, want the burst of 100", admitted)
	}
}

func TestWindowAllow(t *testing.T) {
	w := &Window{Length: time.Minute}
	for i := range 3 {
		if !w.Allow(t0.Add(time.Duration(i)*time.Second), 3) {
			t.Fatalf("call %d refused", i)
		}
	}
	if w.Allow(t0.Add(59*time.Second), 3) {
		t.Error("fourth call in the minute admitted")
	}
	if !w.Allow(t0.Add(time.Minute), 3) {
		t.Error("first call of the next minute refused")
	}
}

func TestWindowClaim(t *testing.T) {
	w := &Window{Length: time.Minute}
	type call struct {
		start       time.Time
		limit, want int64
	}
	var calls []call
	left := int64(20)
	claim := func(_ context.Context, start time.Time, limit, want int64) (int64, error) {
		calls = append(calls, call{start, limit, want})
		got := min(left, want)
		left -= got
		return got, nil
	}
	at := t0.Add(30 * time.Second)
	admitted := 0
	for range 25 {
		ok, err := w.Claim(t.Context(), at, 20, claim)
		if err != nil {
			t.Fatal(err)
		}
		if ok {
			admitted++
		}
	}
	if admitted != 20 {
		t.Errorf("admitted %d, want the fleet's 20", admitted)
	}
	if calls[0] != (call{t0, 20, 2}) {
		t.Errorf("first claim = %+v, want the minute's start, limit 20, a batch of 2", calls[0])
	}
	if len(calls) != 15 { // 10 batches of 2, then 5 refusals
		t.Errorf("%d claims, want 15", len(calls))
	}
	boom := errors.New("store down")
	if _, err := w.Claim(t.Context(), t0.Add(time.Minute), 20, func(context.Context, time.Time, int64, int64) (int64, error) {
		return 0, boom
	}); !errors.Is(err, boom) {
		t.Errorf("Claim = %v, want the claimer's error", err)
	}
}

func TestEvery(t *testing.T) {
	var e Every
	e.Interval = time.Minute
	if ok, n := e.Allow(t0); !ok || n != 0 {
		t.Fatalf("first = %v, %d; want through, 0 held back", ok, n)
	}
	for i := range 3 {
		if ok, _ := e.Allow(t0.Add(time.Duration(i+1) * time.Second)); ok {
			t.Fatal("event within the interval let through")
		}
	}
	if ok, n := e.Allow(t0.Add(time.Minute)); !ok || n != 3 {
		t.Errorf("after the interval = %v, %d; want through, 3 held back", ok, n)
	}
}
