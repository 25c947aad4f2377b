package openai

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// streamer turns chat-completion chunks into ConverseStream events.
//
// Content blocks are numbered in the order they open. Text deltas go to
// the open text block, or open one (text blocks have no contentBlockStart,
// as on Bedrock). Each tool call (keyed by its delta index) opens a
// toolUse block with contentBlockStart once its name is known; its
// argument pieces become toolUse deltas. Opening a block closes the open
// one, so blocks follow each other as on Bedrock; a server that goes back
// to an earlier tool call has its pieces sent to that call's block.
type streamer struct {
	emit    func(converse.StreamEvent) error
	metrics func() converse.Metrics

	emitErr  error // emit's error, once it failed
	started  bool  // messageStart sent
	stopped  bool  // messageStop sent
	next     int   // index of the next block to open
	open     int   // index of the open block, or -1
	openText bool  // the open block is text
	tool     *toolState
	tools    map[int]*toolState // by delta tool_calls index
	sawTools bool
	usage    *chatUsage // the last usage the server reported
	tier     string     // the service_tier the server reported
	chars    int        // characters produced, for estimating usage
}

// toolState is one streamed tool call.
type toolState struct {
	key      int // its delta tool_calls index
	block    int
	id, name string
	started  bool   // contentBlockStart sent
	pending  string // arguments received before the start
}

func newStreamer(emit func(converse.StreamEvent) error, metrics func() converse.Metrics) *streamer {
	return &streamer{emit: emit, metrics: metrics, open: -1, tools: map[int]*toolState{}}
}

// run reads server-sent events from body until "data: [DONE]" or the end
// of the body. Each "data:" line is one chunk: these servers never split a
// chunk over several lines. "error:" lines are llama.cpp's in-stream
// errors.
func (s *streamer) run(ctx context.Context, body io.Reader) (converse.Usage, error) {
	sc := bufio.NewScanner(body)
	sc.Buffer(make([]byte, 0, 64<<10), maxResponse)
	for sc.Scan() {
		field, value, _ := bytes.Cut(sc.Bytes(), []byte(":"))
		value = bytes.TrimSpace(value)
		var err error
		switch string(field) {
		case "data":
			if string(value) == "[DONE]" {
				return s.end()
			}
			err = s.chunk(value)
		case "error":
			err = errorEvent(value)
		}
		if err != nil {
			return s.fail(err)
		}
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return s.fail(malformed(err))
		}
		return s.fail(streamError(ctx, err))
	}
	if s.stopped {
		// Some servers end without [DONE]; the message was complete.
		return s.end()
	}
	return s.fail(errkind.New(errkind.Unavailable, "The model provider's stream ended before the response was complete."))
}

// streamError classifies a failed read of the stream.
func streamError(ctx context.Context, err error) *errkind.Error {
	if ctx.Err() != nil {
		return transportError(ctx, err)
	}
	return errkind.Wrap(errkind.Unavailable, err, "The model provider's stream was interrupted.")
}

// chunk handles one "data:" chunk.
func (s *streamer) chunk(data []byte) error {
	var c chatResponse
	if err := json.Unmarshal(data, &c); err != nil {
		return malformed(err)
	}
	if c.Error != nil {
		return c.Error.err()
	}
	if c.Usage != nil {
		s.usage = c.Usage
	}
	if c.ServiceTier != "" {
		s.tier = c.ServiceTier
	}
	if err := s.start(); err != nil {
		return err
	}
	ch := firstChoice(c.Choices)
	if ch == nil || s.stopped {
		return nil
	}
	text, err := contentText(ch.Delta.Content)
	if err != nil {
		return malformed(err)
	}
	if text != "" {
		if err := s.text(text); err != nil {
			return err
		}
	}
	for _, tc := range ch.Delta.ToolCalls {
		if err := s.toolCall(tc); err != nil {
			return err
		}
	}
	if ch.FinishReason != nil && *ch.FinishReason != "" {
		return s.finish(ch.FinishReason, ch.StopReason)
	}
	return nil
}

// errorEvent is the error an "error:" line reports, bare or wrapped in
// {"error": ...}.
func errorEvent(data []byte) error {
	var wrapped struct {
		Error *chatError `json:"error"`
	}
	if json.Unmarshal(data, &wrapped) == nil && wrapped.Error != nil {
		return wrapped.Error.err()
	}
	var e chatError
	if json.Unmarshal(data, &e) != nil {
		e = chatError{Message: string(data)}
	}
	return e.err()
}

func (s *streamer) start() error {
	if s.started {
		return nil
	}
	s.started = true
	return s.send(converse.StreamEvent{MessageStart: &converse.MessageStartEvent{Role: "assistant"}})
}

// text sends a piece of text, opening a text block if need be.
func (s *streamer) text(t string) error {
	if !s.openText {
		if err := s.closeBlock(); err != nil {
			return err
		}
		s.open, s.openText = s.next, true
		s.next++
	}
	s.chars += utf8.RuneCountInString(t)
	return s.send(textDelta(s.open, t))
}

// toolCall handles a piece of a tool call.
func (s *streamer) toolCall(tc replyToolCall) error {
	var key int
	switch {
	case tc.Index != nil:
		key = *tc.Index
	case s.tool != nil && tc.ID == "":
		key = s.tool.key // an unindexed continuation of the open call
	default:
		key = len(s.tools) // an unindexed new call
		for s.tools[key] != nil {
			key++
		}
	}
	t := s.tools[key]
	if t == nil {
		if err := s.closeBlock(); err != nil {
			return err
		}
		t = &toolState{key: key, block: s.next}
		s.next++
		s.tools[key] = t
		s.open, s.tool, s.sawTools = t.block, t, true
	}
	if t.id == "" {
		t.id = tc.ID
	}
	if t.name == "" {
		t.name = tc.Function.Name
	}
	args := toolArgs(tc.Function.Arguments)
	s.chars += utf8.RuneCountInString(args)
	if !t.started {
		t.pending += args
		if t.name == "" {
			return nil // wait for the name
		}
		return s.startTool(t)
	}
	if args == "" {
		return nil
	}
	return s.send(toolDelta(t.block, args))
}

// startTool sends a tool call's contentBlockStart and the arguments that
// came before it.
func (s *streamer) startTool(t *toolState) error {
	if t.id == "" {
		t.id = newToolUseID()
	}
	t.started = true
	if err := s.send(toolStart(t.block, t.id, t.name)); err != nil {
		return err
	}
	if t.pending == "" {
		return nil
	}
	p := t.pending
	t.pending = ""
	return s.send(toolDelta(t.block, p))
}

// closeBlock closes the open block, if any.
func (s *streamer) closeBlock() error {
	if s.open < 0 {
		return nil
	}
	if s.tool != nil && !s.tool.started {
		// The server never named this call; send it all the same.
		if err := s.startTool(s.tool); err != nil {
			return err
		}
	}
	i := s.open
	s.open, s.openText, s.tool = -1, false, nil
	return s.send(converse.StreamEvent{ContentBlockStop: &converse.ContentBlockStopEvent{ContentBlockIndex: i}})
}

// finish closes the open block and the message.
func (s *streamer) finish(reason *string, vllmStop json.RawMessage) error {
	if err := s.closeBlock(); err != nil {
		return err
	}
	s.stopped = true
	return s.send(converse.StreamEvent{MessageStop: &converse.MessageStopEvent{
		StopReason: stopReason(reason, vllmStop, s.sawTools),
	}})
}

// end completes the stream: the message, if the server did not say why it
// stopped, then the metadata.
func (s *streamer) end() (converse.Usage, error) {
	if err := s.start(); err != nil {
		return s.fail(err)
	}
	if !s.stopped {
		if err := s.finish(nil, nil); err != nil {
			return s.fail(err)
		}
	}
	u := s.usageSoFar()
	if err := s.send(converse.StreamEvent{Metadata: &converse.MetadataEvent{Usage: u, Metrics: s.metrics(), ServiceTier: bedrockServiceTier(s.tier)}}); err != nil {
		return s.fail(err)
	}
	return u, nil
}

// fail returns the usage so far with emit's error if emit failed, else
// with err.
func (s *streamer) fail(err error) (converse.Usage, error) {
	if s.emitErr != nil {
		err = s.emitErr
	}
	return s.usageSoFar(), err
}

// usageSoFar is the usage the server last reported, or an estimate of the
// output so far (input unknown, so 0).
func (s *streamer) usageSoFar() converse.Usage {
	if s.usage != nil {
		return s.usage.usage()
	}
	return estimatedUsage(s.chars)
}

func (s *streamer) send(ev converse.StreamEvent) error {
	if s.emitErr != nil {
		return s.emitErr
	}
	if err := s.emit(ev); err != nil {
		s.emitErr = err
		return err
	}
	return nil
}

// replay answers a stream from a whole (non-streamed) response, for
// servers that ignore "stream": true.
func (s *streamer) replay(ctx context.Context, body io.Reader) (converse.Usage, error) {
	data, err := io.ReadAll(io.LimitReader(body, maxResponse+1))
	if err != nil {
		return converse.Usage{}, transportError(ctx, err)
	}
	if len(data) > maxResponse {
		return converse.Usage{}, errkind.New(errkind.Unavailable, "The model provider's response is too large.")
	}
	var cr chatResponse
	if err := json.Unmarshal(data, &cr); err != nil {
		return converse.Usage{}, malformed(err)
	}
	resp, err := fromChat(&cr)
	if err != nil {
		return converse.Usage{}, err
	}
	evs := []converse.StreamEvent{{MessageStart: &converse.MessageStartEvent{Role: "assistant"}}}
	for i, b := range resp.Output.Message.Content {
		switch {
		case b.Text != nil:
			evs = append(evs, textDelta(i, *b.Text))
		case b.ToolUse != nil:
			evs = append(evs, toolStart(i, b.ToolUse.ToolUseID, b.ToolUse.Name), toolDelta(i, string(b.ToolUse.Input)))
		}
		evs = append(evs, converse.StreamEvent{ContentBlockStop: &converse.ContentBlockStopEvent{ContentBlockIndex: i}})
	}
	evs = append(evs,
		converse.StreamEvent{MessageStop: &converse.MessageStopEvent{StopReason: resp.StopReason}},
		converse.StreamEvent{Metadata: &converse.MetadataEvent{Usage: resp.Usage, Metrics: s.metrics(), ServiceTier: resp.ServiceTier}},
	)
	for _, ev := range evs {
		if err := s.emit(ev); err != nil {
			return resp.Usage, err
		}
	}
	return resp.Usage, nil
}

func textDelta(i int, text string) converse.StreamEvent {
	ev := &converse.ContentBlockDeltaEvent{ContentBlockIndex: i}
	ev.Delta.Text = &text
	return converse.StreamEvent{ContentBlockDelta: ev}
}

func toolDelta(i int, input string) converse.StreamEvent {
	ev := &converse.ContentBlockDeltaEvent{ContentBlockIndex: i}
	ev.Delta.ToolUse = &struct {
		Input string `json:"input"`
	}{input}
	return converse.StreamEvent{ContentBlockDelta: ev}
}

func toolStart(i int, id, name string) converse.StreamEvent {
	ev := &converse.ContentBlockStartEvent{ContentBlockIndex: i}
	ev.Start.ToolUse = &struct {
		ToolUseID string `json:"toolUseId"`
		Name      string `json:"name"`
	}{id, name}
	return converse.StreamEvent{ContentBlockStart: ev}
}
