package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
)

// lockedBuffer is a bytes.Buffer safe for the server's goroutines.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestRuntimeAccessLogCarriesUsage checks a Converse call's access-log
// line carries its tokens, cost, model and profile id and name, written
// the way `tollgate serve` writes it (buffered, out within 100 ms).
func TestRuntimeAccessLogCarriesUsage(t *testing.T) {
	t.Parallel()
	logs := &lockedBuffer{}
	ts := startMain(t, "", nil, nil, func(m *Main) {
		cfg := m.Config
		cfg.LogLevel = "info"
		*m = *NewMain(cfg, logs)
	})
	profileARN := createProfile(t, ts.bedrock(t), "claims-bot", haikuARN, tagList("dept", "claims")...)
	if err := converse(t.Context(), ts.runtime(t), profileARN); err != nil {
		t.Fatal(err)
	}
	var line map[string]any
	eventually(t, "the Converse access line", func() bool {
		sc := bufio.NewScanner(strings.NewReader(logs.String()))
		for sc.Scan() {
			var l map[string]any
			if json.Unmarshal(sc.Bytes(), &l) == nil && l["msg"] == "request" && l["op"] == "Converse" {
				line = l
				return true
			}
		}
		return false
	})
	if line["profile_name"] != "claims-bot" || line["profile_id"] != profileARN[strings.LastIndex(profileARN, "/")+1:] ||
		line["input_tokens"].(float64) <= 0 || line["output_tokens"].(float64) <= 0 || line["cost_usd"] == "0" || line["cost_usd"] == nil ||
		line["outcome"] != "success" || line["level"] != "INFO" {
		t.Errorf("access line = %v", line)
	}
}
