// Package runtimeapi serves Bedrock Runtime (restJson1 plus AWS event
// streams): Converse, ConverseStream, InvokeModel and
// InvokeModelWithResponseStream, wire compatible with
// aws-sdk-go-v2/service/bedrockruntime and the JavaScript v3 client.
// Handlers decode, call the invoke pipeline, and encode; once a stream has
// started, errors travel inside it as exception events.
package runtimeapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/aws/smithy-go/eventstream"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
)

// Handler serves the runtime operations.
type Handler struct {
	svc  *invoke.Service
	opts Options
}

// Options configures a Handler.
type Options struct {
	// StreamWriteTimeout bounds each write of a stream event to the
	// client. A write that misses it (a client that stopped reading) ends
	// the call, which is recorded with what it delivered. 0: no bound.
	StreamWriteTimeout time.Duration
}

// New returns a Handler over the invoke pipeline.
func New(svc *invoke.Service, opts Options) *Handler { return &Handler{svc: svc, opts: opts} }

// Route is one runtime operation: its HTTP pattern and its name.
type Route = awsproto.Route

// api is the runtime's table of operations.
func (h *Handler) api() awsproto.RestAPI {
	return awsproto.RestAPI{Label: "bedrock-runtime", Codes: awsproto.BedrockCodes, Ops: []awsproto.RestOp{
		{Route: awsproto.Route{Pattern: "POST /model/{modelId}/converse", Op: "Converse"}, Handle: retryAfter(h.converse)},
		{Route: awsproto.Route{Pattern: "POST /model/{modelId}/converse-stream", Op: "ConverseStream"}, Handle: retryAfter(h.converseStream)},
		{Route: awsproto.Route{Pattern: "POST /model/{modelId}/invoke", Op: "InvokeModel"}, Handle: retryAfter(h.invokeModel)},
		{Route: awsproto.Route{Pattern: "POST /model/{modelId}/invoke-with-response-stream", Op: "InvokeModelWithResponseStream"}, Handle: retryAfter(h.invokeModelStream)},
	}}
}

// retryAfter adds a Retry-After header (whole seconds, at least 1) to
// the error response of a call refused by a quota or a full upstream.
func retryAfter(f func(w http.ResponseWriter, r *http.Request) error) func(w http.ResponseWriter, r *http.Request) error {
	return func(w http.ResponseWriter, r *http.Request) error {
		err := f(w, r)
		if d, ok := admission.RetryAfter(err); ok {
			w.Header().Set("Retry-After", strconv.FormatInt(max(1, int64(math.Ceil(d.Seconds()))), 10))
		}
		return err
	}
}

// Routes lists the runtime operations Register adds: the only routes
// whose bodies may reach the runtime body limit.
func Routes() []Route { return (&Handler{}).api().Routes() }

// Register adds the runtime routes to mux.
func (h *Handler) Register(mux *http.ServeMux) { h.api().Register(mux) }

// ProfileTagsHeader names an application profile by its tags instead of
// an ARN; the path's modelId is then the base model.
const ProfileTagsHeader = "X-Tollgate-Profile-Tags"

// ServiceTierHeader names the service tier of an InvokeModel request and
// response (Bedrock's X-Amzn-Bedrock-Service-Tier).
const ServiceTierHeader = "X-Amzn-Bedrock-Service-Tier"

// LatencyHeader names the latency mode of an InvokeModel request and
// response (Bedrock's X-Amzn-Bedrock-PerformanceConfig-Latency).
const LatencyHeader = "X-Amzn-Bedrock-PerformanceConfig-Latency"

// nativeRequest reads an InvokeModel request's body and headers; accept
// names the header of the response type wanted.
func nativeRequest(r *http.Request, accept string) (converse.NativeRequest, error) {
	in := converse.NativeRequest{
		Body:        awsproto.Info(r.Context()).Body,
		ContentType: r.Header.Get("Content-Type"),
		Accept:      r.Header.Get(accept),
		ServiceTier: r.Header.Get(ServiceTierHeader),
		Latency:     r.Header.Get(LatencyHeader),
	}
	switch in.Latency {
	case "", converse.LatencyStandard, converse.LatencyOptimized:
	default:
		return in, errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at 'performanceConfigLatency' failed to satisfy constraint: Member must satisfy enum value set: [standard, optimized]", in.Latency)
	}
	return in, converse.ValidateServiceTier(in.ServiceTier)
}

func caller(r *http.Request) (invoke.Caller, error) {
	info := awsproto.Info(r.Context())
	c := invoke.Caller{RequestID: info.ID, Authorize: info.Authorizer}
	if p := info.Identity.Principal; p != nil {
		c.Account, c.PrincipalID = p.Account, p.ID
	}
	if h := r.Header.Get(ProfileTagsHeader); h != "" {
		f, err := invoke.ParseProfileTags(h)
		if err != nil {
			return c, err
		}
		c.ProfileTags = f
	}
	return c, nil
}

func (h *Handler) converse(w http.ResponseWriter, r *http.Request) error {
	var req converse.Request
	body := awsproto.Info(r.Context()).Body
	if err := awsproto.DecodeJSON(body, &req); err != nil {
		return err
	}
	req.Raw = body
	c, err := caller(r)
	if err != nil {
		return err
	}
	c.ServiceTier = req.ServiceTier.Tier()
	resp, err := h.svc.Converse(r.Context(), c, r.PathValue("modelId"), &req)
	if err != nil {
		return err
	}
	return awsproto.WriteJSON(w, http.StatusOK, "application/json", resp)
}

// stream writes AWS event-stream frames, sending the 200 header lazily so
// an error before the first event is still an ordinary error response.
type stream struct {
	w        http.ResponseWriter
	rc       *http.ResponseController
	enc      *eventstream.Encoder
	buf      bytes.Buffer
	started  bool
	header   func(h http.Header)
	timeout  time.Duration // per write; 0 = none
	deadline bool          // a write deadline is set
	failed   bool          // a write failed
	mu       sync.Mutex
}

func (h *Handler) newStream(w http.ResponseWriter, header func(http.Header)) *stream {
	return &stream{w: w, rc: http.NewResponseController(w), enc: eventstream.NewEncoder(), header: header, timeout: h.opts.StreamWriteTimeout}
}

// close clears the write deadline of a stream that ended well, so that
// the connection serves its next request without it.
func (s *stream) close() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.deadline && !s.failed {
		_ = s.rc.SetWriteDeadline(time.Time{})
	}
}

func (s *stream) start() {
	if s.started {
		return
	}
	s.started = true
	h := s.w.Header()
	h.Set("Content-Type", "application/vnd.amazon.eventstream")
	if s.header != nil {
		s.header(h)
	}
	s.w.WriteHeader(http.StatusOK)
}

func (s *stream) frame(headers eventstream.Headers, payload []byte) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.start()
	s.buf.Reset()
	if err := s.enc.Encode(&s.buf, eventstream.Message{Headers: headers, Payload: payload}); err != nil {
		return errkind.Wrap(errkind.Internal, err, "internal error")
	}
	if s.timeout > 0 {
		// A client that stops reading must not hold the call (and its
		// budget reservation) for longer than one write may take.
		s.deadline = s.rc.SetWriteDeadline(time.Now().Add(s.timeout)) == nil
	}
	if _, err := s.w.Write(s.buf.Bytes()); err != nil {
		s.failed = true
		return err
	}
	if err := s.rc.Flush(); err != nil {
		s.failed = true
		return err
	}
	return nil
}

func (s *stream) event(eventType string, payload []byte) error {
	return s.frame(eventstream.Headers{
		{Name: ":event-type", Value: eventstream.StringValue(eventType)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("event")},
	}, payload)
}

func (s *stream) exception(err error) error {
	name, payload := awsproto.BedrockStreamExceptions.Exception(awsproto.BedrockCodes, err)
	return s.frame(eventstream.Headers{
		{Name: ":exception-type", Value: eventstream.StringValue(name)},
		{Name: ":content-type", Value: eventstream.StringValue("application/json")},
		{Name: ":message-type", Value: eventstream.StringValue("exception")},
	}, payload)
}

// eventName returns the member name of the set event.
func eventName(ev converse.StreamEvent) (string, any) {
	switch {
	case ev.MessageStart != nil:
		return "messageStart", ev.MessageStart
	case ev.ContentBlockStart != nil:
		return "contentBlockStart", ev.ContentBlockStart
	case ev.ContentBlockDelta != nil:
		return "contentBlockDelta", ev.ContentBlockDelta
	case ev.ContentBlockStop != nil:
		return "contentBlockStop", ev.ContentBlockStop
	case ev.MessageStop != nil:
		return "messageStop", ev.MessageStop
	case ev.Metadata != nil:
		return "metadata", ev.Metadata
	}
	return "", nil
}

// finishStream turns the pipeline's result into the end of the response:
// an ordinary error before any frame, an exception frame after.
func finishStream(s *stream, r *http.Request, err error) error {
	if err == nil {
		return nil
	}
	if !s.started {
		return err
	}
	info := awsproto.Info(r.Context())
	info.Err = err
	if errors.Is(err, errClientGone) || r.Context().Err() != nil {
		if !errkind.Is(err, errkind.Canceled) {
			info.Err = errkind.Wrap(errkind.Canceled, err, "The client went away.")
		}
		return nil // nobody is listening
	}
	_ = s.exception(err)
	return nil
}

// errClientGone marks a write to a client that went away: the caller's
// doing, logged as Canceled rather than as a fault.
var errClientGone = errkind.New(errkind.Canceled, "The client went away.")

func (h *Handler) converseStream(w http.ResponseWriter, r *http.Request) error {
	var req converse.Request
	body := awsproto.Info(r.Context()).Body
	if err := awsproto.DecodeJSON(body, &req); err != nil {
		return err
	}
	req.Raw = body
	c, err := caller(r)
	if err != nil {
		return err
	}
	c.ServiceTier = req.ServiceTier.Tier()
	s := h.newStream(w, nil)
	defer s.close()
	err = h.svc.ConverseStream(r.Context(), c, r.PathValue("modelId"), &req, func(ev converse.StreamEvent) error {
		name, v := eventName(ev)
		if name == "" {
			return nil
		}
		payload, err := json.Marshal(v)
		if err != nil {
			return errkind.Wrap(errkind.Internal, err, "internal error")
		}
		if err := s.event(name, payload); err != nil {
			return errors.Join(errClientGone, err)
		}
		return nil
	})
	return finishStream(s, r, err)
}

func (h *Handler) invokeModel(w http.ResponseWriter, r *http.Request) error {
	in, err := nativeRequest(r, "Accept")
	if err != nil {
		return err
	}
	c, err := caller(r)
	if err != nil {
		return err
	}
	c.ServiceTier = in.ServiceTier
	resp, err := h.svc.InvokeModel(r.Context(), c, r.PathValue("modelId"), in)
	if err != nil {
		return err
	}
	hd := w.Header()
	hd.Set("Content-Type", resp.ContentType)
	hd.Set("Content-Length", strconv.Itoa(len(resp.Body)))
	hd.Set("X-Amzn-Bedrock-Input-Token-Count", strconv.FormatInt(resp.Usage.InputTokens, 10))
	hd.Set("X-Amzn-Bedrock-Output-Token-Count", strconv.FormatInt(resp.Usage.OutputTokens, 10))
	hd.Set("X-Amzn-Bedrock-Invocation-Latency", strconv.FormatInt(resp.LatencyMs, 10))
	if resp.ServiceTier != "" {
		hd.Set(ServiceTierHeader, resp.ServiceTier)
	}
	if resp.Latency != "" {
		hd.Set(LatencyHeader, resp.Latency)
	}
	if resp.Usage.CacheReadInputTokens > 0 || resp.Usage.CacheWriteInputTokens > 0 {
		hd.Set("X-Amzn-Bedrock-Cache-Read-Input-Token-Count", strconv.FormatInt(resp.Usage.CacheReadInputTokens, 10))
		hd.Set("X-Amzn-Bedrock-Cache-Write-Input-Token-Count", strconv.FormatInt(resp.Usage.CacheWriteInputTokens, 10))
	}
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(resp.Body)
	return nil
}

type payloadPart struct {
	Bytes []byte `json:"bytes"`
}

func (h *Handler) invokeModelStream(w http.ResponseWriter, r *http.Request) error {
	in, err := nativeRequest(r, "X-Amzn-Bedrock-Accept")
	if err != nil {
		return err
	}
	c, err := caller(r)
	if err != nil {
		return err
	}
	c.ServiceTier = in.ServiceTier
	var served string // the tier serving the call, known before the first chunk
	c.OnServed = func(tier string) { served = tier }
	s := h.newStream(w, func(hd http.Header) {
		hd.Set("X-Amzn-Bedrock-Content-Type", "application/json")
		if served != "" {
			hd.Set(ServiceTierHeader, served)
		}
	})
	defer s.close()
	err = h.svc.InvokeModelStream(r.Context(), c, r.PathValue("modelId"), in, func(chunk []byte) error {
		payload, _ := json.Marshal(payloadPart{Bytes: chunk})
		if err := s.event("chunk", payload); err != nil {
			return errors.Join(errClientGone, err)
		}
		return nil
	})
	return finishStream(s, r, err)
}
