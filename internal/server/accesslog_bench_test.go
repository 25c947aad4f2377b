package server

import (
	"log/slog"
	"net/http/httptest"
	"os"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/logbuf"
)

// usageAttrs stand for the runtime call's usage the AccessAttrs hook adds
// (cmd/tollgate's usageLog has its own benchmark).
var usageAttrs = []slog.Attr{
	slog.Int64("input_tokens", 812), slog.Int64("output_tokens", 240), slog.Int64("cache_read_tokens", 0),
	slog.Int64("cache_write_tokens", 0), slog.String("cost_usd", "0.000503000"), slog.String("model", "anthropic.claude-3-haiku-20240307-v1:0"),
	slog.String("outcome", "success"), slog.String("profile_id", "a1b2c3d4e5f6"), slog.String("profile_name", "chat"),
}

// BenchmarkAccessLogLine measures one runtime call's access-log line,
// formatted by slog's JSON handler and written at once (lines=slog), or
// formatted by the server and buffered (lines=buffered, as cmd/tollgate
// runs it); both write to /dev/null, a write(2) each time (go test -run
// XXX -bench AccessLog -benchmem ./internal/server/).
func BenchmarkAccessLogLine(b *testing.B) {
	for _, c := range []struct {
		name string
		err  error
	}{{"ok", nil}, {"error", errkind.New(errkind.Invalid, "bad input")}} {
		for _, buffered := range []bool{false, true} {
			name := "lines=slog/" + c.name
			if buffered {
				name = "lines=buffered/" + c.name
			}
			b.Run(name, func(b *testing.B) {
				devNull, err := os.OpenFile(os.DevNull, os.O_WRONLY, 0)
				if err != nil {
					b.Fatal(err)
				}
				b.Cleanup(func() { devNull.Close() })
				opts := Options{AccessAttrs: func(string) []slog.Attr { return usageAttrs }}
				if buffered {
					lines := logbuf.New(devNull, 0, 0)
					b.Cleanup(func() { lines.Close() })
					opts.Logger = slog.New(slog.NewJSONHandler(lines, nil))
					opts.AccessLog = lines
				} else {
					opts.Logger = slog.New(slog.NewJSONHandler(devNull, nil))
				}
				s := New(opts)
				r := httptest.NewRequest("POST", "/model/a1b2c3d4e5f6/converse", nil)
				sw := &statusWriter{ResponseWriter: httptest.NewRecorder(), status: 200, bytes: 512}
				info := &awsproto.RequestInfo{ID: "0a1b2c3d-0000-4000-8000-000000000001", Service: "bedrock-runtime", Op: "Converse", Err: c.err}
				b.ReportAllocs()
				for b.Loop() {
					s.accessLog(r, sw, info, 1234*time.Microsecond)
				}
			})
		}
	}
}
