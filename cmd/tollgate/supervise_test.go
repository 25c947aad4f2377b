package main

import (
	"bytes"
	"context"
	"io"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/config"
)

// tollgateGoroutines returns the stacks of the goroutines running
// Tollgate's code, by goroutine id.
func tollgateGoroutines() map[string]string {
	buf := make([]byte, 1<<20)
	for {
		n := runtime.Stack(buf, true)
		if n < len(buf) {
			buf = buf[:n]
			break
		}
		buf = make([]byte, 2*len(buf))
	}
	out := map[string]string{}
	for _, g := range bytes.Split(buf, []byte("\n\n")) {
		stack := string(g)
		head, _, _ := strings.Cut(stack, " [")
		if strings.Contains(stack, "github.com/tollgate-dev/tollgate/") {
			out[head] = stack
		}
	}
	return out
}

// TestMainStopsEveryJob checks the ownership of background work: Open
// starts nothing, Run starts every job through Main.Jobs, and after Run
// and Close not one goroutine running Tollgate's code is left (net/http's
// idle client connections aside, which run none).
func TestMainStopsEveryJob(t *testing.T) {
	before := tollgateGoroutines()

	cfg := config.Default()
	cfg.Addr, cfg.MetricsAddr = "127.0.0.1:0", "127.0.0.1:0"
	cfg.DataDir = t.TempDir()
	cfg.Synchronous, cfg.LogLevel = "NORMAL", "error"
	m := NewMain(cfg, io.Discard)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := m.Open(ctx); err != nil {
		m.Close()
		t.Fatal(err)
	}
	if got := m.Jobs.Running(); len(got) != 0 {
		t.Errorf("Open started jobs %q; Run starts them", got)
	}
	done := make(chan error, 1)
	go func() { done <- m.Run(ctx) }()
	waitHealthy(t, m.URL(), nil)

	want := []string{"metrics-flush", "alarm-evaluation", "notify-outbox", "budget-alerts",
		"anomaly-detection", "change-follower", "console-session-sweep", "metrics-listener"}
	if got := m.Jobs.Running(); !slices.Equal(got, want) {
		t.Errorf("jobs running = %q, want %q", got, want)
	}
	ts := &testServer{Main: m}
	if _, err := ts.runtime(t).Converse(t.Context(), &bedrockruntime.ConverseInput{
		ModelId: aws.String(haikuID), Messages: userText("hello"),
	}); err != nil {
		t.Fatal(err)
	}

	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run: %v", err)
	}
	if got := m.Jobs.Running(); len(got) != 0 {
		t.Errorf("jobs still running after Run returned: %q", got)
	}
	if err := m.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}

	var left []string
	deadline := time.Now().Add(5 * time.Second)
	for {
		left = left[:0]
		for id, stack := range tollgateGoroutines() {
			if _, ok := before[id]; !ok {
				left = append(left, stack)
			}
		}
		if len(left) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	for _, stack := range left {
		t.Errorf("goroutine left after Close:\n%s", stack)
	}
}
