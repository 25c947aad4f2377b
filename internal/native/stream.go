package native

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// invocationMetrics is the "amazon-bedrock-invocationMetrics" member Bedrock
// adds to the last chunk of every InvokeModelWithResponseStream call.
type invocationMetrics struct {
	InputTokenCount           int64  `json:"inputTokenCount"`
	OutputTokenCount          int64  `json:"outputTokenCount"`
	InvocationLatency         int64  `json:"invocationLatency"`
	FirstByteLatency          int64  `json:"firstByteLatency"`
	CacheReadInputTokenCount  *int64 `json:"cacheReadInputTokenCount,omitempty"`
	CacheWriteInputTokenCount *int64 `json:"cacheWriteInputTokenCount,omitempty"`
}

const metricsKey = "amazon-bedrock-invocationMetrics"

// streamBase is the state every encoder shares: timing for the invocation
// metrics, the input-token hint, and whether the stream has ended.
type streamBase struct {
	env     env
	modelID string
	start   time.Time
	first   time.Time // when the first chunk was produced
	hint    *int64
	done    bool
}

func newStreamBase(e env, modelID string) streamBase {
	return streamBase{env: e, modelID: modelID, start: e.now()}
}

// HintInputTokens records the prompt's token count for the first chunk.
func (s *streamBase) HintInputTokens(n int64) { s.hint = &n }

// produced notes that chunks are about to be returned.
func (s *streamBase) produced(chunks [][]byte) [][]byte {
	if len(chunks) > 0 && s.first.IsZero() {
		s.first = s.env.now()
	}
	return chunks
}

// metrics returns the invocation metrics for the final chunk. The
// invocation latency is the provider's when it reports one, the measured
// time otherwise; the first-byte latency is measured and never exceeds it.
func (s *streamBase) metrics(md *converse.MetadataEvent) invocationMetrics {
	now := s.env.now()
	first := s.first
	if first.IsZero() {
		first = now
	}
	total := md.Metrics.LatencyMs
	if total <= 0 {
		total = now.Sub(s.start).Milliseconds()
	}
	fb := first.Sub(s.start).Milliseconds()
	if fb > total {
		fb = total
	}
	if fb < 0 {
		fb = 0
	}
	m := invocationMetrics{
		InputTokenCount:   md.Usage.InputTokens,
		OutputTokenCount:  md.Usage.OutputTokens,
		InvocationLatency: total,
		FirstByteLatency:  fb,
	}
	if n := md.Usage.CacheReadInputTokens; n != 0 {
		m.CacheReadInputTokenCount = &n
	}
	if n := md.Usage.CacheWriteInputTokens; n != 0 {
		m.CacheWriteInputTokenCount = &n
	}
	return m
}

// firstInput returns the input-token count to report in the first chunk
// (the hint, or nil) and remembers whether it was reported.
func (s *streamBase) firstInput(reported *bool) *int64 {
	if *reported || s.hint == nil {
		return nil
	}
	*reported = true
	n := *s.hint
	return &n
}

// finalInput returns the input-token count for the final chunk when the
// first chunk did not report it.
func finalInput(reported bool, md *converse.MetadataEvent) *int64 {
	if reported {
		return nil
	}
	n := md.Usage.InputTokens
	return &n
}
