package server_test

import (
	"io"
	"net/http"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/server"
)

// TestShutdownCutsHandlersPastTheGracePeriod serves a handler that runs
// until its request's context ends and then takes a while to clean up (as
// a stream records its usage). Past the shutdown timeout the server must
// cancel that context, and Serve must return only after the handler has.
func TestShutdownCutsHandlersPastTheGracePeriod(t *testing.T) {
	for _, tc := range []struct {
		name   string
		client *http.Client
	}{
		{"http1", http1Client()},
		{"h2c", h2cClient()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			started := make(chan struct{})
			var cleanedUp atomic.Bool
			block := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.WriteHeader(http.StatusOK)
				w.(http.Flusher).Flush()
				close(started)
				<-r.Context().Done()
				time.Sleep(200 * time.Millisecond) // recording what was delivered
				cleanedUp.Store(true)
			})
			ts := startWith(t, block, func(o *server.Options) { o.ShutdownTimeout = 100 * time.Millisecond })
			cancel, done := ts.cancel, ts.done
			ts.cancel = nil // this test stops it

			resp, err := tc.client.Do(ts.request(t, "POST", "/block", nil))
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			go func() { _, _ = io.Copy(io.Discard, resp.Body) }()
			<-started

			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if err != nil {
					t.Errorf("Serve = %v, want nil", err)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("Serve did not return within 10s: the handler's context was never cancelled")
			}
			if !cleanedUp.Load() {
				t.Error("Serve returned before the handler did")
			}
			t.Logf("Serve returned %v after cancellation", time.Since(start).Round(time.Millisecond))
		})
	}
}
