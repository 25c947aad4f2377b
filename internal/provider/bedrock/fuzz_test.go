package bedrock

import (
	"bytes"
	"context"
	"errors"
	"io"
	"testing"

	"github.com/aws/smithy-go/eventstream"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// frame encodes one event-stream message.
func frame(headers map[string]string, payload string) []byte {
	var m eventstream.Message
	for k, v := range headers {
		m.Headers.Set(k, eventstream.StringValue(v))
	}
	m.Payload = []byte(payload)
	var b bytes.Buffer
	if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
		panic(err)
	}
	return b.Bytes()
}

func event(t, payload string) []byte {
	return frame(map[string]string{":message-type": "event", ":event-type": t, ":content-type": "application/json"}, payload)
}

// FuzzEventStream feeds arbitrary bytes to the upstream ConverseStream
// decoding (frames, then events): it never panics; every failure is
// classified (malformed or an upstream exception, never Internal); and
// the frames it reads re-encode to the bytes they came from.
func FuzzEventStream(f *testing.F) {
	f.Add(bytes.Join([][]byte{
		event("messageStart", `{"role":"assistant"}`),
		event("contentBlockDelta", `{"contentBlockIndex":0,"delta":{"text":"Hi"}}`),
		event("contentBlockStop", `{"contentBlockIndex":0}`),
		event("messageStop", `{"stopReason":"end_turn"}`),
		event("metadata", `{"usage":{"inputTokens":3,"outputTokens":1,"totalTokens":4},"metrics":{"latencyMs":5}}`),
	}, nil))
	f.Add(event("contentBlockStart", `{"contentBlockIndex":1,"start":{"toolUse":{"toolUseId":"t","name":"n"}}}`))
	f.Add(frame(map[string]string{":message-type": "exception", ":exception-type": "throttlingException"}, `{"message":"slow down"}`))
	f.Add(frame(map[string]string{":message-type": "error", ":error-code": "Boom", ":error-message": "x"}, ``))
	f.Add(event("metadata", `{"usage":`))
	f.Add([]byte{0, 0, 0, 16, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Add([]byte{0xff, 0xff, 0xff, 0xff})
	f.Fuzz(func(t *testing.T, body []byte) {
		ctx := context.Background()
		fr := newFrameReader(bytes.NewReader(body))
		read := 0
		for {
			m, err := fr.next()
			if err == io.EOF {
				if read != len(body) {
					t.Fatalf("clean end after %d of %d bytes", read, len(body))
				}
				return
			}
			if err != nil {
				classified(t, frameError(ctx, err))
				return
			}
			var b bytes.Buffer
			if err := eventstream.NewEncoder().Encode(&b, m); err != nil {
				t.Fatalf("re-encoding a decoded frame: %v", err)
			}
			if !bytes.Equal(b.Bytes(), body[read:read+b.Len()]) {
				t.Fatalf("frame at %d does not re-encode to its bytes", read)
			}
			read += b.Len()
			switch mt := headerString(m.Headers, eventstream.MessageTypeHeader); mt {
			case eventstream.EventMessageType:
				if _, _, err := converseEvent(headerString(m.Headers, eventstream.EventTypeHeader), m.Payload); err != nil {
					classified(t, malformed(err))
					return
				}
			default:
				classified(t, messageError(mt, m))
				return
			}
		}
	})
}

func classified(t *testing.T, err error) {
	t.Helper()
	var e *errkind.Error
	if !errors.As(err, &e) || e.Kind == errkind.Internal || e.Message == "" {
		t.Fatalf("error %v is not a classified errkind error", err)
	}
}
