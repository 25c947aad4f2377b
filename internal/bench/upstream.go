package bench

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"time"
)

// upstreamCompletion is the answer of the zero-latency upstream: a small
// chat completion with usage, as an OpenAI-compatible server sends it.
const upstreamCompletion = `{"id":"chatcmpl-bench","object":"chat.completion","created":1700000000,"model":"bench",` +
	`"choices":[{"index":0,"finish_reason":"stop","message":{"role":"assistant","content":"The claim notes are complete; no documents are missing."}}],` +
	`"usage":{"prompt_tokens":24,"completion_tokens":12,"total_tokens":36}}`

// upstreamPath is the one route the upstream answers.
const upstreamPath = "/v1/chat/completions"

// UpstreamHandler is the zero-latency OpenAI-compatible upstream: it reads
// the request body and answers POST /v1/chat/completions at once with
// the same small completion; anything else is 404.
func UpstreamHandler() http.Handler {
	body := []byte(upstreamCompletion)
	clen := strconv.Itoa(len(body))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_, _ = io.Copy(io.Discard, r.Body)
		if r.Method != http.MethodPost || r.URL.Path != upstreamPath {
			http.Error(w, `{"error":{"message":"only POST /v1/chat/completions is served"}}`, http.StatusNotFound)
			return
		}
		h := w.Header()
		h.Set("Content-Type", "application/json")
		h.Set("Content-Length", clen)
		w.WriteHeader(http.StatusOK)
		_, _ = w.Write(body)
	})
}

// upstreamReady is the line the upstream prints once it listens,
// followed by its base URL.
const upstreamReady = "tollgate: bench upstream on "

// ServeUpstream listens on addr (loopback only), prints upstreamReady and
// its URL on out, and serves UpstreamHandler until ctx ends. It is the
// hidden `tollgate bench upstream` the harness starts as its own process.
func ServeUpstream(ctx context.Context, addr string, out io.Writer) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("bench upstream: --listen %q: %w", addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return fmt.Errorf("bench upstream: --listen %q is not a loopback address", addr)
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("bench upstream: %w", err)
	}
	srv := &http.Server{Handler: UpstreamHandler(), ReadHeaderTimeout: 10 * time.Second}
	fmt.Fprintf(out, "%shttp://%s\n", upstreamReady, ln.Addr())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return err
	}
	if err := <-done; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
