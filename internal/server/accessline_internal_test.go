package server

import (
	"bytes"
	"context"
	"log/slog"
	"math"
	"testing"
	"time"
)

// slogLine is the line slog's JSON handler writes for the record.
func slogLine(t testing.TB, at time.Time, level slog.Level, msg string, attrs []slog.Attr) string {
	var buf bytes.Buffer
	h := slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})
	r := slog.NewRecord(at, level, msg, 0)
	r.AddAttrs(attrs...)
	if err := h.Handle(context.Background(), r); err != nil {
		t.Fatal(err)
	}
	return buf.String()
}

// TestJSONLineMatchesSlog checks the access log's own formatter writes
// what slog's JSON handler writes for the same record, byte for byte:
// every value kind it formats, strings that need escaping, floats at the
// edges of encoding/json's formats, levels and time zones.
func TestJSONLineMatchesSlog(t *testing.T) {
	utc := time.Date(2026, 12, 6, 21, 54, 37, 123456789, time.UTC)
	paris := time.Date(2026, 12, 6, 22, 54, 37, 120000000, time.FixedZone("CET", 3600))
	for _, c := range []struct {
		name  string
		at    time.Time
		level slog.Level
		attrs []slog.Attr
	}{
		{"runtime call", utc, slog.LevelInfo, append([]slog.Attr{
			slog.String("request_id", "0a1b2c3d-0000-4000-8000-000000000001"), slog.String("method", "POST"),
			slog.String("path", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse"),
			slog.Int("status", 200), slog.Int64("bytes", 512), slog.Float64("duration_ms", 1.234), slog.String("proto", "HTTP/1.1"),
			slog.String("remote", "127.0.0.1:54321"), slog.String("service", "bedrock-runtime"), slog.String("op", "Converse"),
		}, usageAttrs...)},
		{"error", paris, slog.LevelError, []slog.Attr{slog.String("err", "store down: \"disk\" full\n\tat line 3"), slog.String("kind", "Internal")}},
		{"debug probe", utc.Truncate(time.Second), slog.LevelDebug, []slog.Attr{slog.String("path", "/healthz"), slog.Int("status", 200)}},
		{"custom level", utc, slog.LevelWarn + 2, nil},
		{"escapes", utc, slog.LevelInfo, []slog.Attr{
			slog.String("ctl", "\x00\x01\x1f\x7f<>&'"), slog.String("utf8", "héllo – 日本 \u2028\u2029 🎉"),
			slog.String("bad utf8", "a\xffb\xc3"), slog.String("key \"quoted\"\n", "v"), slog.String("", "empty key"),
			slog.String("html", "<script>&amp;</script>"),
		}},
		{"numbers", utc, slog.LevelInfo, []slog.Attr{
			slog.Int64("min", math.MinInt64), slog.Uint64("max", math.MaxUint64), slog.Bool("t", true), slog.Bool("f", false),
			slog.Duration("d", 1500*time.Millisecond), slog.Float64("zero", 0), slog.Float64("negzero", math.Copysign(0, -1)),
			slog.Float64("tiny", 1e-7), slog.Float64("small", 0.000001), slog.Float64("e-9", 1.5e-9), slog.Float64("big", 1e21),
			slog.Float64("below big", 999999999999999999999.0), slog.Float64("neg", -0.001), slog.Float64("third", 1.0/3),
			slog.Float64("ms", float64((1234567*time.Microsecond).Microseconds())/1000),
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, ok := appendJSONLine(nil, c.at, c.level, "request", c.attrs)
			if !ok {
				t.Fatal("appendJSONLine refused the record")
			}
			if want := slogLine(t, c.at, c.level, "request", c.attrs); string(got) != want {
				t.Errorf("line\n got %s\nwant %s", got, want)
			}
		})
	}
}

// TestJSONLineLeavesOtherKindsToSlog checks the formatter refuses what it
// does not format the way slog does.
func TestJSONLineLeavesOtherKindsToSlog(t *testing.T) {
	at := time.Now()
	for _, a := range []slog.Attr{
		slog.Any("any", []int{1}), slog.Group("g", slog.Int("a", 1)), slog.Time("t", at),
		slog.Float64("nan", math.NaN()), slog.Float64("inf", math.Inf(-1)), {},
	} {
		if _, ok := appendJSONLine(nil, at, slog.LevelInfo, "request", []slog.Attr{slog.Int("a", 1), a}); ok {
			t.Errorf("%v: formatted, want left to slog", a)
		}
	}
}

// FuzzJSONLineMatchesSlog compares the formatter with slog on arbitrary
// strings and floats.
func FuzzJSONLineMatchesSlog(f *testing.F) {
	f.Add("key", "value", 1.234, int64(7))
	f.Add("k\x00", "\xed\xa0\x80\u2028\"\\", 1e-7, int64(-1))
	f.Add("", "", 0.0, int64(0))
	f.Fuzz(func(t *testing.T, key, value string, fl float64, n int64) {
		if math.IsNaN(fl) || math.IsInf(fl, 0) {
			return
		}
		at := time.Unix(0, n).UTC()
		attrs := []slog.Attr{slog.String(key, value), slog.Float64(key, fl), slog.Int64(value, n)}
		got, ok := appendJSONLine(nil, at, slog.Level(n%16), value, attrs)
		if !ok {
			t.Fatal("appendJSONLine refused the record")
		}
		if want := slogLine(t, at, slog.Level(n%16), value, attrs); string(got) != want {
			t.Errorf("line\n got %q\nwant %q", got, want)
		}
	})
}

// BenchmarkJSONLine formats a runtime call's access-log line.
func BenchmarkJSONLine(b *testing.B) {
	at := time.Now()
	attrs := append([]slog.Attr{
		slog.String("request_id", "0a1b2c3d-0000-4000-8000-000000000001"), slog.String("method", "POST"),
		slog.String("path", "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fa1b2c3d4e5f6/converse"),
		slog.Int("status", 200), slog.Int64("bytes", 512), slog.Float64("duration_ms", 1.234), slog.String("proto", "HTTP/1.1"),
		slog.String("remote", "127.0.0.1:54321"), slog.String("service", "bedrock-runtime"), slog.String("op", "Converse"),
		slog.String("principal", "arn:aws:iam::123456789012:root"), slog.String("key_id", "TGAK0123456789ABCDEF"),
	}, usageAttrs...)
	buf := make([]byte, 0, 2048)
	b.ReportAllocs()
	for b.Loop() {
		buf, _ = appendJSONLine(buf[:0], at, slog.LevelInfo, "request", attrs)
	}
}
