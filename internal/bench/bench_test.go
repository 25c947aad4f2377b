package bench

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestBenchRefusesNonLoopback(t *testing.T) {
	for _, ep := range []string{"http://10.0.0.1:8080", "http://example.com", "https://192.168.1.2", "ftp://127.0.0.1"} {
		if _, err := checkLoopback(ep); err == nil {
			t.Errorf("checkLoopback(%q) accepted a non-loopback endpoint", ep)
		}
	}
	for _, ep := range []string{"http://127.0.0.1:8080", "http://localhost:1", "http://[::1]:8080", "https://127.0.0.2"} {
		if _, err := checkLoopback(ep); err != nil {
			t.Errorf("checkLoopback(%q): %v", ep, err)
		}
	}
}

func TestParseRates(t *testing.T) {
	got, err := ParseRates("500, 1000,2000")
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(got, []int{500, 1000, 2000}); diff != "" {
		t.Errorf("rates (-got +want):\n%s", diff)
	}
	for _, bad := range []string{"", "0", "-5", "fast", "1,2,x", "1000000"} {
		if _, err := ParseRates(bad); err == nil {
			t.Errorf("ParseRates(%q) accepted it", bad)
		}
	}
}
