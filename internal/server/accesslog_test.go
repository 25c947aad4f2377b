package server_test

import (
	"bufio"
	"encoding/json"
	"log/slog"
	"net/http"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/server"
)

// TestAccessLogLevels checks the access log's levels: probes at DEBUG,
// client errors at INFO (never ERROR), Tollgate's own faults at ERROR,
// the error under "err", and the attributes AccessAttrs adds.
func TestAccessLogLevels(t *testing.T) {
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
	ts2 := startWith(t, rest, func(o *server.Options) {
		o.Logger = slog.New(slog.NewJSONHandler(logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
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
