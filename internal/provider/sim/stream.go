package sim

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// stream emits one generation as ConverseStream events.
type stream struct {
	p      *Provider
	ctx    context.Context
	emit   func(converse.StreamEvent) error
	g      *generation
	mid    *Fault // the mid-stream fault to fire, or nil
	deltas int    // content deltas emitted
	out    int64  // output tokens emitted
	tier   string // the service tier served ("" = none named)
}

// run emits every event in order and returns the first error.
func (s *stream) run(start time.Time) error {
	p, g := s.p, s.g
	if err := p.pause(s.ctx, p.cfg.Latency); err != nil {
		return err
	}
	if err := s.emit(converse.StreamEvent{MessageStart: &converse.MessageStartEvent{Role: "assistant"}}); err != nil {
		return err
	}
	if err := p.pause(s.ctx, p.cfg.TimeToFirstToken); err != nil {
		return err
	}

	// Text: one delta per token, with the spaces before it; the last one
	// also takes the trailing spaces. An empty text is one empty delta.
	text := g.text
	if g.textTokens == 0 {
		if err := s.textDelta(text, 0); err != nil {
			return err
		}
	}
	for i := 0; ; {
		start, end := nextToken(text, i)
		if start == end {
			break
		}
		if next, _ := nextToken(text, end); next == len(text) {
			end = len(text)
		}
		if err := s.textDelta(text[i:end], 1); err != nil {
			return err
		}
		i = end
	}
	if err := s.emit(converse.StreamEvent{ContentBlockStop: &converse.ContentBlockStopEvent{ContentBlockIndex: 0}}); err != nil {
		return err
	}

	if t := g.tool; t != nil {
		ev := &converse.ContentBlockStartEvent{ContentBlockIndex: 1}
		ev.Start.ToolUse = &struct {
			ToolUseID string `json:"toolUseId"`
			Name      string `json:"name"`
		}{ToolUseID: t.ToolUseID, Name: t.Name}
		if err := s.emit(converse.StreamEvent{ContentBlockStart: ev}); err != nil {
			return err
		}
		a, b := splitJSON(string(t.Input))
		for _, piece := range [...]string{a, b} {
			if err := s.toolDelta(piece); err != nil {
				return err
			}
		}
		if err := s.emit(converse.StreamEvent{ContentBlockStop: &converse.ContentBlockStopEvent{ContentBlockIndex: 1}}); err != nil {
			return err
		}
	}

	if s.mid != nil {
		return s.mid.err() // the reply had no more than MidStreamAfter deltas
	}
	if err := s.emit(converse.StreamEvent{MessageStop: &converse.MessageStopEvent{StopReason: g.stopReason}}); err != nil {
		return err
	}
	md := &converse.MetadataEvent{
		Usage:   g.usage(s.out),
		Metrics: converse.Metrics{LatencyMs: p.cfg.Now().Sub(start).Milliseconds()},
	}
	if s.tier != "" {
		md.ServiceTier = &converse.ServiceTier{Type: s.tier}
	}
	return s.emit(converse.StreamEvent{Metadata: md})
}

// textDelta emits a text delta at index 0 carrying k output tokens.
func (s *stream) textDelta(text string, k int64) error {
	ev := &converse.ContentBlockDeltaEvent{ContentBlockIndex: 0}
	ev.Delta.Text = &text
	return s.delta(ev, k)
}

// toolDelta emits a piece of tool input JSON at index 1.
func (s *stream) toolDelta(piece string) error {
	ev := &converse.ContentBlockDeltaEvent{ContentBlockIndex: 1}
	ev.Delta.ToolUse = &struct {
		Input string `json:"input"`
	}{Input: piece}
	return s.delta(ev, Tokens(piece))
}

// delta fires the mid-stream fault when its turn has come, else paces and
// emits ev, counting its k output tokens once emit succeeds.
func (s *stream) delta(ev *converse.ContentBlockDeltaEvent, k int64) error {
	if s.mid != nil && s.deltas == s.mid.MidStreamAfter {
		return s.mid.err()
	}
	if err := s.p.pause(s.ctx, s.p.pace(k)); err != nil {
		return err
	}
	if err := s.emit(converse.StreamEvent{ContentBlockDelta: ev}); err != nil {
		return err
	}
	s.deltas++
	s.out += k
	return nil
}

// splitJSON splits JSON text in two non-empty pieces at a token boundary
// near its middle, so that the pieces' tokens add up to the whole's.
func splitJSON(s string) (string, string) {
	cut := 0
	for i := 0; ; {
		start, end := nextToken(s, i)
		if start == end || end == len(s) {
			break
		}
		cut = end
		if end >= len(s)/2 {
			break
		}
		i = end
	}
	return s[:cut], s[cut:]
}
