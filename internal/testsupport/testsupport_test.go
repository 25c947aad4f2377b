package testsupport

import (
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestEventually(t *testing.T) {
	var n atomic.Int32
	Eventually(t, time.Second, func() bool { return n.Add(1) >= 3 }, "never true")
	if n.Load() != 3 {
		t.Errorf("cond called %d times, want 3", n.Load())
	}
}

func TestReceiver(t *testing.T) {
	rc := NewReceiver(t, http.StatusServiceUnavailable)
	for _, want := range []int{503, 200, 200} {
		resp, err := http.Post(rc.URL+"/hook", "text/plain", strings.NewReader("hi"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != want {
			t.Errorf("status %d, want %d", resp.StatusCode, want)
		}
	}
	got := rc.Requests()
	if len(got) != 3 || got[0].Method != "POST" || got[0].Path != "/hook" || string(got[0].Body) != "hi" ||
		got[0].Header.Get("Content-Type") != "text/plain" {
		t.Errorf("Requests() = %+v", got)
	}
}
