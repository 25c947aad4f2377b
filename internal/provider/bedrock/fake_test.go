package bedrock_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/smithy-go/eventstream"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/provider/bedrock"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

const (
	testKeyID  = "AKIDTOLLGATEBEDROCK1"
	testSecret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYBEDROCKKEY"
	haikuID    = "anthropic.claude-3-haiku-20240307-v1:0"
	haikuPath  = "/model/anthropic.claude-3-haiku-20240307-v1%3A0"
	profileARN = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abcd1234efgh"
	// profilePath is profileARN escaped as the SDKs put it in a path.
	profilePath = "/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh"
)

// signTime is the provider's signing clock and the verifier's clock.
var signTime = time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC)

// keyMap is a static sigv4.SecretLookup.
type keyMap map[string]string

func (k keyMap) Secret(_ context.Context, id string) (string, error) {
	s, ok := k[id]
	if !ok {
		return "", errkind.New(errkind.NotFound, "unknown access key")
	}
	return s, nil
}

// received is one request the fake Bedrock Runtime accepted.
type received struct {
	Path   string // as on the wire, escaped
	Body   string
	Header http.Header
	Auth   sigv4.Result
}

// fakeBedrock is an httptest server acting as Bedrock Runtime: it verifies
// every request's SigV4 signature (unless anonymous), records it, and lets
// answer respond.
type fakeBedrock struct {
	URL string

	mu   sync.Mutex
	reqs []received
}

// newFake starts a fake Bedrock Runtime whose answers come from answer.
// When verify is false, requests are recorded without checking a
// signature.
func newFake(t *testing.T, verify bool, answer http.HandlerFunc) *fakeBedrock {
	t.Helper()
	f := &fakeBedrock{}
	v := &sigv4.Verifier{Keys: keyMap{testKeyID: testSecret}, Now: func() time.Time { return signTime }}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, err := io.ReadAll(r.Body)
		if err != nil {
			t.Errorf("reading request body: %v", err)
			return
		}
		rec := received{Path: r.URL.EscapedPath(), Body: string(body), Header: r.Header.Clone()}
		if verify {
			res, err := v.Verify(r.Context(), r, body)
			if err != nil {
				t.Errorf("%s %s: signature does not verify: %v", r.Method, r.URL.EscapedPath(), err)
				w.Header().Set("X-Amzn-ErrorType", "InvalidSignatureException")
				w.WriteHeader(http.StatusForbidden)
				io.WriteString(w, `{"message":"signature does not verify"}`)
				return
			}
			if res.Service != "bedrock" {
				t.Errorf("signed for service %q, want bedrock", res.Service)
			}
			rec.Auth = res
		}
		f.mu.Lock()
		f.reqs = append(f.reqs, rec)
		f.mu.Unlock()
		r.Body = io.NopCloser(bytes.NewReader(body))
		answer(w, r)
	}))
	t.Cleanup(srv.Close)
	f.URL = srv.URL
	return f
}

// last returns the last request received.
func (f *fakeBedrock) last(t *testing.T) received {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.reqs) == 0 {
		t.Fatal("the fake Bedrock received no request")
	}
	return f.reqs[len(f.reqs)-1]
}

// newProvider returns a Provider signing with the test key that sends
// every region to endpoint.
func newProvider(t *testing.T, endpoint string, edit ...func(*bedrock.Config)) *bedrock.Provider {
	t.Helper()
	cfg := bedrock.Config{
		Endpoint:    endpoint,
		Credentials: credentials.NewStaticCredentialsProvider(testKeyID, testSecret, ""),
		Now:         func() time.Time { return signTime },
	}
	for _, e := range edit {
		e(&cfg)
	}
	p, err := bedrock.New(t.Context(), cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	return p
}

// haikuCall is a call of the Haiku foundation model in us-east-1.
var haikuCall = converse.Call{RequestID: "req-1", ModelID: haikuID, Region: "us-east-1"}

// Event-stream helpers.

func event(eventType, payload string) eventstream.Message {
	var h eventstream.Headers
	h.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.EventMessageType))
	h.Set(eventstream.EventTypeHeader, eventstream.StringValue(eventType))
	h.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
	return eventstream.Message{Headers: h, Payload: []byte(payload)}
}

func exception(exceptionType, payload string) eventstream.Message {
	var h eventstream.Headers
	h.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.ExceptionMessageType))
	h.Set(eventstream.ExceptionTypeHeader, eventstream.StringValue(exceptionType))
	h.Set(eventstream.ContentTypeHeader, eventstream.StringValue("application/json"))
	return eventstream.Message{Headers: h, Payload: []byte(payload)}
}

func errorMessage(code, msg string) eventstream.Message {
	var h eventstream.Headers
	h.Set(eventstream.MessageTypeHeader, eventstream.StringValue(eventstream.ErrorMessageType))
	h.Set(eventstream.ErrorCodeHeader, eventstream.StringValue(code))
	h.Set(eventstream.ErrorMessageHeader, eventstream.StringValue(msg))
	return eventstream.Message{Headers: h}
}

// chunk is an InvokeModelWithResponseStream chunk event carrying native.
func chunk(native string) eventstream.Message {
	b, _ := json.Marshal(map[string][]byte{"bytes": []byte(native)})
	return event("chunk", string(b))
}

// writeFrames answers 200 with msgs as an event stream, flushing after
// each frame.
func writeFrames(t *testing.T, w http.ResponseWriter, msgs ...eventstream.Message) {
	t.Helper()
	w.Header().Set("Content-Type", "application/vnd.amazon.eventstream")
	w.WriteHeader(http.StatusOK)
	enc := eventstream.NewEncoder()
	for _, m := range msgs {
		if err := enc.Encode(w, m); err != nil {
			t.Errorf("encoding frame: %v", err)
			return
		}
		w.(http.Flusher).Flush()
	}
}

// frameBytes encodes msgs.
func frameBytes(t *testing.T, msgs ...eventstream.Message) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := eventstream.NewEncoder()
	for _, m := range msgs {
		if err := enc.Encode(&buf, m); err != nil {
			t.Fatalf("encoding frame: %v", err)
		}
	}
	return buf.Bytes()
}

// kindAndMessage reduces an error to what the pipeline and the client see.
type kindAndMessage struct {
	Kind    errkind.Kind
	Message string
}

func describe(err error) kindAndMessage {
	if err == nil {
		return kindAndMessage{Kind: -1}
	}
	var e *errkind.Error
	if !errors.As(err, &e) {
		return kindAndMessage{Kind: -2, Message: err.Error()}
	}
	return kindAndMessage{Kind: e.Kind, Message: e.Message}
}
