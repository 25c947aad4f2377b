package server_test

import (
	"bufio"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
	"github.com/tollgate-dev/tollgate/internal/server"
)

// TestAccessLogLevels checks the access log's levels: probes at DEBUG,
// client errors at INFO (never ERROR), Tollgate's own faults at ERROR,
// the error under "err", and the attributes AccessAttrs adds — with the
// lines written through the logger, and formatted by the server into a
// buffered writer (as cmd/tollgate runs it).
func TestAccessLogLevels(t *testing.T) {
	for _, buffered := range []bool{false, true} {
		name := "through slog"
		if buffered {
			name = "buffered"
		}
		t.Run(name, func(t *testing.T) { testAccessLogLevels(t, buffered) })
	}
}

func testAccessLogLevels(t *testing.T, buffered bool) {
	rest := http.NewServeMux()
	rest.HandleFunc("/bad", func(w http.ResponseWriter, r *http.Request) {
		awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, errkind.New(errkind.Invalid, "bad input"))
	})
	rest.HandleFunc("/missing", func(w http.ResponseWriter, r *http.Request) {
		awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, errkind.New(errkind.NotFound, "no such thing"))
	})
	rest.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, errkind.New(errkind.Internal, "store down"))
	})
	rest.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) })
	// A DEBUG logger, so the probes' lines show.
	logs := &syncBuffer{}
	var out io.Writer = logs
	var lines *logbuf.Writer
	if buffered {
		lines = logbuf.New(logs, 0, 0)
		out = lines
	}
	ts2 := startWith(t, rest, func(o *server.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(out, &slog.HandlerOptions{Level: slog.LevelDebug}))
		if buffered {
			o.AccessLog = lines
		}
		o.AccessAttrs = func(id string) []slog.Attr {
			return []slog.Attr{slog.Int64("input_tokens", 12), slog.String("profile_name", "chat")}
		}
	})
	for _, p := range []string{"/healthz", "/readyz", "/bad", "/missing", "/boom", "/ok"} {
		req := ts2.request(t, http.MethodGet, p, nil)
		if p == "/healthz" || p == "/readyz" {
			req.Header.Del("Authorization")
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	if err := ts2.stop(t); err != nil {
		t.Fatal(err)
	}
	if buffered {
		if err := lines.Close(); err != nil {
			t.Fatal(err)
		}
	}
	levels := map[string]string{}
	sc := bufio.NewScanner(strings.NewReader(logs.String()))
	for sc.Scan() {
		var l map[string]any
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("log line %q: %v", sc.Text(), err)
		}
		if _, ok := l["error"]; ok {
			t.Errorf("log line with an \"error\" key (the key is \"err\"): %s", sc.Text())
		}
		if l["msg"] != "request" {
			continue
		}
		p, _ := l["path"].(string)
		levels[p], _ = l["level"].(string)
		if p == "/ok" && (l["input_tokens"] != float64(12) || l["profile_name"] != "chat") {
			t.Errorf("access line without AccessAttrs: %s", sc.Text())
		}
		if (p == "/bad" || p == "/boom") && l["err"] == nil {
			t.Errorf("access line of an error without err: %s", sc.Text())
		}
		for _, k := range []string{"time", "request_id", "method", "status", "bytes", "duration_ms", "proto", "remote"} {
			if l[k] == nil {
				t.Errorf("access line without %s: %s", k, sc.Text())
			}
		}
	}
	want := map[string]string{"/healthz": "DEBUG", "/readyz": "DEBUG", "/bad": "INFO", "/missing": "INFO", "/boom": "ERROR", "/ok": "INFO"}
	for p, w := range want {
		if levels[p] != w {
			t.Errorf("%s logged at %q, want %s", p, levels[p], w)
		}
	}
	if t.Failed() {
		t.Logf("log:\n%s", logs.String())
	}
}

// TestAccessLogBuffered checks the buffered access log: plain requests'
// lines wait in the buffer, an ERROR line goes out at once with the lines
// before it, in order, and the logger's own lines (written through the
// same writer) are not held back.
func TestAccessLogBuffered(t *testing.T) {
	rest := http.NewServeMux()
	rest.HandleFunc("/boom", func(w http.ResponseWriter, r *http.Request) {
		awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, errkind.New(errkind.Internal, "store down"))
	})
	rest.HandleFunc("/ok", func(w http.ResponseWriter, r *http.Request) { _, _ = w.Write([]byte("{}")) })
	logs := &syncBuffer{}
	lines := logbuf.New(logs, 0, time.Hour) // only size, a Write or Close send lines
	logger := slog.New(slog.NewJSONHandler(lines, nil))
	ts := startWith(t, rest, func(o *server.Options) {
		o.Logger = logger
		o.AccessLog = lines
	})
	get := func(p string) {
		t.Helper()
		resp, err := http.DefaultClient.Do(ts.request(t, http.MethodGet, p, nil))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	paths := func() []string {
		var got []string
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var l map[string]any
			if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
				t.Fatalf("log line %q: %v", sc.Text(), err)
			}
			if l["msg"] == "request" {
				got = append(got, l["path"].(string))
			} else {
				got = append(got, l["msg"].(string))
			}
		}
		return got
	}
	get("/ok")
	get("/ok")
	// The access line is written after the response: wait for it to be
	// in the buffer (a Flush would send it), without flushing.
	time.Sleep(50 * time.Millisecond)
	if got := paths(); len(got) != 0 {
		t.Fatalf("plain requests' lines written before a flush: %q", got)
	}
	logger.Warn("provider_failover")
	get("/boom")
	deadline := time.Now().Add(5 * time.Second)
	want := []string{"/ok", "/ok", "provider_failover", "/boom"}
	for !slices.Equal(paths(), want) && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if got := paths(); !slices.Equal(got, want) {
		t.Fatalf("lines written = %q, want %q", got, want)
	}
	get("/ok") // waits, then goes before the shutdown's line
	if err := ts.stop(t); err != nil {
		t.Fatal(err)
	}
	if err := lines.Close(); err != nil {
		t.Fatal(err)
	}
	if got, want := paths(), append(want, "/ok", "shutting_down"); !slices.Equal(got, want) {
		t.Fatalf("lines after Close = %q, want %q", got, want)
	}
}
