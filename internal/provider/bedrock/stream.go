package bedrock

import (
	"bufio"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"

	"github.com/aws/smithy-go/eventstream"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// maxFrame bounds one event-stream message. Bedrock's chunks are at most
// 1 MB of bytes (base64 in JSON); the limit only keeps a broken upstream
// from making Tollgate allocate gigabytes from a length prefix.
const maxFrame = 16 << 20

// ConverseStream runs one ConverseStream call, passing each event to emit
// in the order Bedrock sends them; see invoke.Provider for the contract.
// Unknown event types are skipped, and so are contentBlockDelta and
// contentBlockStart events whose only member is one converse.StreamEvent
// cannot carry (a citation delta, an image start). When emit fails the
// upstream request is cancelled and emit's error returned with the usage so
// far.
func (p *Provider) ConverseStream(ctx context.Context, call converse.Call, req *converse.Request, emit func(converse.StreamEvent) error) (converse.Usage, error) {
	body, err := converseBody(req, call.ServiceTier)
	if err != nil {
		return converse.Usage{}, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	// A cancel of our own tears the upstream request down however we
	// return (emit failing, an exception, a malformed frame).
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := p.do(sctx, call, "converse-stream", body, http.Header{"Content-Type": {"application/json"}})
	if err != nil {
		return converse.Usage{}, err
	}
	defer resp.Body.Close()

	var st converseState
	fr := newFrameReader(resp.Body)
	for {
		m, err := fr.next()
		if err == io.EOF {
			if st.done {
				return st.usage, nil
			}
			return st.soFar(), errkind.New(errkind.Unavailable, "Amazon Bedrock ended the stream before its metadata event.")
		}
		if err != nil {
			return st.soFar(), frameError(ctx, err)
		}
		switch mt := headerString(m.Headers, eventstream.MessageTypeHeader); mt {
		case eventstream.EventMessageType:
			ev, ok, err := converseEvent(headerString(m.Headers, eventstream.EventTypeHeader), m.Payload)
			if err != nil {
				return st.soFar(), malformed(err)
			}
			if !ok {
				continue
			}
			st.observe(&ev)
			if err := emit(ev); err != nil {
				return st.soFar(), err
			}
		default:
			return st.soFar(), messageError(mt, m)
		}
	}
}

// converseState follows a ConverseStream for its usage.
type converseState struct {
	done    bool // the metadata event arrived
	usage   converse.Usage
	textLen int64 // bytes of generated text seen
}

// observe notes what ev says about usage.
func (s *converseState) observe(ev *converse.StreamEvent) {
	switch {
	case ev.Metadata != nil:
		s.done, s.usage = true, ev.Metadata.Usage
	case ev.ContentBlockDelta != nil:
		d := &ev.ContentBlockDelta.Delta
		if d.Text != nil {
			s.textLen += int64(len(*d.Text))
		}
		if d.ToolUse != nil {
			s.textLen += int64(len(d.ToolUse.Input))
		}
		if len(d.ReasoningContent) > 0 {
			var r struct {
				Text string `json:"text"`
			}
			if json.Unmarshal(d.ReasoningContent, &r) == nil {
				s.textLen += int64(len(r.Text))
			}
		}
	}
}

// soFar is the usage to bill when the stream stops: the metadata's when it
// arrived, else the estimate from the text produced.
func (s *converseState) soFar() converse.Usage {
	if s.done {
		return s.usage
	}
	return usage(0, estimateTokens(s.textLen), 0, 0)
}

// estimateTokens is the output-token estimate for n bytes of text: one per
// four bytes, rounded up.
func estimateTokens(n int64) int64 { return (n + 3) / 4 }

// converseEvent decodes a ConverseStream event of type t; ok is false for
// a type Tollgate does not know.
func converseEvent(t string, payload []byte) (ev converse.StreamEvent, ok bool, err error) {
	var dst any
	switch t {
	case "messageStart":
		ev.MessageStart = new(converse.MessageStartEvent)
		dst = ev.MessageStart
	case "contentBlockStart":
		ev.ContentBlockStart = new(converse.ContentBlockStartEvent)
		dst = ev.ContentBlockStart
	case "contentBlockDelta":
		ev.ContentBlockDelta = new(converse.ContentBlockDeltaEvent)
		dst = ev.ContentBlockDelta
	case "contentBlockStop":
		ev.ContentBlockStop = new(converse.ContentBlockStopEvent)
		dst = ev.ContentBlockStop
	case "messageStop":
		ev.MessageStop = new(converse.MessageStopEvent)
		dst = ev.MessageStop
	case "metadata":
		ev.Metadata = new(converse.MetadataEvent)
		dst = ev.Metadata
	default:
		return ev, false, nil
	}
	if err := json.Unmarshal(payload, dst); err != nil {
		return ev, false, fmt.Errorf("%s event: %w", t, err)
	}
	// A delta or start of a kind the canonical types cannot carry (a
	// citation delta, an image start) would be re-encoded as an empty
	// union, which the SDKs reject; skip it.
	switch {
	case ev.ContentBlockDelta != nil:
		d := &ev.ContentBlockDelta.Delta
		ok = d.Text != nil || d.ToolUse != nil || len(d.ReasoningContent) > 0
	case ev.ContentBlockStart != nil:
		ok = ev.ContentBlockStart.Start.ToolUse != nil
	default:
		ok = true
	}
	return ev, ok, nil
}

// InvokeModelStream runs one InvokeModelWithResponseStream call: in.Body
// is sent as it is, with its Content-Type (application/json when empty) and
// in.Accept as X-Amzn-Bedrock-Accept, and each chunk's decoded bytes are
// passed to emit. The usage is that of the last chunk's
// "amazon-bedrock-invocationMetrics"; see the package documentation for
// the estimate when the stream stops early.
func (p *Provider) InvokeModelStream(ctx context.Context, call converse.Call, in converse.NativeRequest, emit func(chunk []byte) error) (converse.Usage, error) {
	sctx, cancel := context.WithCancel(ctx)
	defer cancel()
	resp, err := p.do(sctx, call, "invoke-with-response-stream", in.Body, nativeHeaders(call, in, "X-Amzn-Bedrock-Accept"))
	if err != nil {
		return converse.Usage{}, err
	}
	defer resp.Body.Close()
	if t := resp.Header.Get(tierHeader); t != "" && call.OnServed != nil {
		call.OnServed(t)
	}
	if l := resp.Header.Get(latencyHeader); l != "" && call.OnLatency != nil {
		call.OnLatency(l)
	}

	var st nativeState
	fr := newFrameReader(resp.Body)
	for {
		m, err := fr.next()
		if err == io.EOF {
			if st.done {
				return st.usage, nil
			}
			return st.soFar(), errkind.New(errkind.Unavailable, "Amazon Bedrock ended the stream before its invocation metrics.")
		}
		if err != nil {
			return st.soFar(), frameError(ctx, err)
		}
		switch mt := headerString(m.Headers, eventstream.MessageTypeHeader); mt {
		case eventstream.EventMessageType:
			if headerString(m.Headers, eventstream.EventTypeHeader) != "chunk" {
				continue
			}
			var part struct {
				Bytes []byte `json:"bytes"`
			}
			if err := json.Unmarshal(m.Payload, &part); err != nil {
				return st.soFar(), malformed(fmt.Errorf("chunk event: %w", err))
			}
			st.observe(part.Bytes)
			if err := emit(part.Bytes); err != nil {
				return st.soFar(), err
			}
		default:
			return st.soFar(), messageError(mt, m)
		}
	}
}

// metricsKey names the object Bedrock adds to the last chunk of a native
// stream.
const metricsKey = "amazon-bedrock-invocationMetrics"

// nativeState follows a native stream for its usage.
type nativeState struct {
	done    bool // invocation metrics arrived
	usage   converse.Usage
	textLen int64 // bytes of generated text seen
	// input and output are the largest Anthropic-style input_tokens and
	// output_tokens counts seen in the chunks.
	input, output int64
}

// observe notes what a chunk says about usage.
func (s *nativeState) observe(chunk []byte) {
	var v any
	if json.Unmarshal(chunk, &v) != nil {
		return
	}
	if obj, ok := v.(map[string]any); ok {
		if m, ok := obj[metricsKey].(map[string]any); ok {
			s.done = true
			s.usage = usage(count(m["inputTokenCount"]), count(m["outputTokenCount"]),
				count(m["cacheReadInputTokenCount"]), count(m["cacheWriteInputTokenCount"]))
			delete(obj, metricsKey)
		}
	}
	s.walk(v, "")
}

// walk adds up the generated text and token counts in a chunk's JSON
// value, found under key.
func (s *nativeState) walk(v any, key string) {
	switch v := v.(type) {
	case map[string]any:
		for k, e := range v {
			s.walk(e, k)
		}
	case []any:
		for _, e := range v {
			s.walk(e, key)
		}
	case string:
		switch key {
		case "text", "completion", "outputText", "generation", "content", "partial_json", "thinking":
			s.textLen += int64(len(v))
		}
	case float64:
		switch key {
		case "input_tokens":
			s.input = max(s.input, int64(v))
		case "output_tokens":
			s.output = max(s.output, int64(v))
		}
	}
}

// count reads a token count from decoded JSON; anything else is 0.
func count(v any) int64 {
	if f, ok := v.(float64); ok && f > 0 {
		return int64(f)
	}
	return 0
}

// soFar is the usage to bill when the stream stops: the invocation
// metrics when they arrived, else the counts and estimate seen so far.
func (s *nativeState) soFar() converse.Usage {
	if s.done {
		return s.usage
	}
	return usage(s.input, max(s.output, estimateTokens(s.textLen)), 0, 0)
}

// frameReader reads event-stream messages from a response body.
type frameReader struct {
	r   *bufio.Reader
	dec *eventstream.Decoder
	buf []byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 32<<10), dec: eventstream.NewDecoder()}
}

// next returns the next message, or io.EOF when the stream ends cleanly
// between messages. The message's payload is valid until the next call.
func (f *frameReader) next() (eventstream.Message, error) {
	prefix, err := f.r.Peek(4)
	switch {
	case err == io.EOF && len(prefix) == 0:
		return eventstream.Message{}, io.EOF
	case err == io.EOF:
		return eventstream.Message{}, io.ErrUnexpectedEOF
	case err != nil:
		return eventstream.Message{}, err
	}
	if n := binary.BigEndian.Uint32(prefix); n > maxFrame {
		return eventstream.Message{}, errFrameTooLarge
	}
	m, err := f.dec.Decode(f.r, f.buf)
	if err == io.EOF {
		err = io.ErrUnexpectedEOF
	}
	if err != nil {
		return eventstream.Message{}, err
	}
	f.buf = m.Payload
	return m, nil
}

var errFrameTooLarge = errors.New("event-stream message too large")

// frameError classifies a failure to read or decode a frame: a broken
// connection or a corrupt frame, both Unavailable.
func frameError(ctx context.Context, err error) *errkind.Error {
	var le eventstream.LengthError
	var ce eventstream.ChecksumError
	if errors.Is(err, errFrameTooLarge) || errors.As(err, &le) || errors.As(err, &ce) {
		return malformed(err)
	}
	return transportError(ctx, err)
}

// messageError turns a stream message that is not an event into an error:
// an exception by its :exception-type, an unmodeled error by its
// :error-code and :error-message.
func messageError(messageType string, m eventstream.Message) *errkind.Error {
	switch messageType {
	case eventstream.ExceptionMessageType:
		var e struct {
			Message            string          `json:"message"`
			Message2           string          `json:"Message"`
			OriginalStatusCode json.RawMessage `json:"originalStatusCode"`
			OriginalMessage    string          `json:"originalMessage"`
		}
		_ = json.Unmarshal(m.Payload, &e)
		msg := e.Message
		if msg == "" {
			msg = e.Message2
		}
		err := classify(headerString(m.Headers, eventstream.ExceptionTypeHeader), 0, msg)
		if e.OriginalMessage != "" || len(e.OriginalStatusCode) > 0 {
			err.Err = fmt.Errorf("%w (original status %s: %s)", err.Err, e.OriginalStatusCode, e.OriginalMessage)
		}
		return err
	case eventstream.ErrorMessageType:
		return errkind.Wrap(errkind.Unavailable, fmt.Errorf("%s: %s",
			headerString(m.Headers, eventstream.ErrorCodeHeader), headerString(m.Headers, eventstream.ErrorMessageHeader)),
			msgUnavailable)
	case "":
		return malformed(errors.New("stream message without :message-type"))
	default:
		return malformed(fmt.Errorf("stream message of unknown type %q", messageType))
	}
}

// headerString returns a string header's value, or "".
func headerString(h eventstream.Headers, name string) string {
	if v, ok := h.Get(name).(eventstream.StringValue); ok {
		return string(v)
	}
	return ""
}
