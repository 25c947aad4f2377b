package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/export"
	"github.com/tollgate-dev/tollgate/internal/money"
)

func TestAnomalySinceAndCents(t *testing.T) {
	now := time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in   string
		want time.Time
	}{
		{"7d", now.AddDate(0, 0, -7)}, {"48h", now.Add(-48 * time.Hour)}, {"2026-03-01", time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)},
		{"2026-03-01T14:00:00Z", time.Date(2026, 3, 1, 14, 0, 0, 0, time.UTC)},
	} {
		got, err := anomalySince(tc.in, now)
		if err != nil || !got.Equal(tc.want) {
			t.Errorf("anomalySince(%q) = %v, %v, want %v", tc.in, got, err, tc.want)
		}
	}
	for a, want := range map[money.Amount]string{12_345_000_000: "$12.35", 4_999_999: "$0.00", 5_000_000: "$0.01", -1_994_999_999: "-$1.99"} {
		if got := anomalyCents(a); got != want {
			t.Errorf("anomalyCents(%d) = %q, want %q", a, got, want)
		}
	}
	if _, err := anomalySince("soon", now); err == nil {
		t.Error("anomalySince(soon) succeeded")
	}
}

func TestParseMonth(t *testing.T) {
	now := time.Date(2026, 1, 15, 10, 0, 0, 0, time.UTC)
	if got, _ := parseMonth("", now); !got.Equal(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("default month %v, want December 2025", got)
	}
	if got, _ := parseMonth("2026-11", now); !got.Equal(time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("parseMonth(2026-11) = %v", got)
	}
}

func TestExportProgressBar(t *testing.T) {
	var buf bytes.Buffer
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	bar := &progressBar{w: &buf, from: from, to: from.AddDate(0, 0, 10), start: time.Now().Add(-time.Second)}
	bar.update(export.Progress{Hour: from.AddDate(0, 0, 5), Rows: 1234})
	bar.update(export.Progress{Hour: from.AddDate(0, 0, 6), Rows: 1300}) // within 100ms: not drawn
	bar.update(export.Progress{Hour: from.AddDate(0, 0, 10), Rows: 2000})
	bar.finish()
	out := buf.String()
	for _, want := range []string{"\r\033[K[", " 50%", "1,234 line items", "100%", "2,000 line items"} {
		if !strings.Contains(out, want) {
			t.Errorf("progress output %q lacks %q", out, want)
		}
	}
	if strings.Contains(out, "1,300") || !strings.HasSuffix(out, "\n") {
		t.Errorf("progress output %q: want the throttled update skipped and a final newline", out)
	}
}
