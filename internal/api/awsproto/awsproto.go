// Package awsproto holds what every AWS wire protocol Tollgate serves has in
// common: request-scoped information (request id, caller, the error to log),
// reading bodies within limits, decoding JSON strictly enough to reject
// malformed input, and writing errors in the shape each protocol's SDKs
// parse, with the exception names and status codes the service models give.
package awsproto

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"reflect"
	"strconv"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// RequestInfo is request-scoped state shared by the server's middleware and
// the API handlers. The server creates it; handlers fill in what they know.
type RequestInfo struct {
	ID       string             // request id, also sent as X-Amzn-RequestId
	Identity principal.Identity // the authenticated caller (zero before auth)
	Service  string             // which API served it: "bedrock", "tagging", ...
	Op       string             // operation name for logs and metrics
	Err      error              // the error answered, logged once by the access log
	Body     []byte             // the request body, read once before auth
	// Path is the request's escaped path (URL.EscapedPath), computed once
	// by the server for every user of it: the body limit's routing, the
	// path check and the access log; "" in a request the server did not
	// see.
	Path string
	// Authorizer decides what the caller may do; nil allows everything
	// (a caller the server's authorizer leaves unrestricted, an account's
	// root; handlers tested alone).
	Authorizer func(action, resource string, keys map[string][]string) error
}

// Authorize asks the request's authorizer whether the caller may perform
// action on resource, with the given resource and request condition keys.
func Authorize(ctx context.Context, action, resource string, keys map[string][]string) error {
	if f := Info(ctx).Authorizer; f != nil {
		return f(action, resource, keys)
	}
	return nil
}

type infoKey struct{}

// WithInfo returns ctx carrying info.
func WithInfo(ctx context.Context, info *RequestInfo) context.Context {
	return context.WithValue(ctx, infoKey{}, info)
}

// Info returns the request's info; never nil (a detached empty one when
// the context has none, so handlers can be unit-tested alone).
func Info(ctx context.Context) *RequestInfo {
	if i, ok := ctx.Value(infoKey{}).(*RequestInfo); ok {
		return i
	}
	return &RequestInfo{}
}

// Account returns the caller's account id.
func Account(ctx context.Context) string {
	if p := Info(ctx).Identity.Principal; p != nil {
		return p.Account
	}
	return ""
}

// ReadBody reads r's body up to limit bytes. A larger body is an Invalid
// error; the body is kept in the request info for handlers.
func ReadBody(r *http.Request, limit int64) ([]byte, error) {
	if r.Body == nil || r.Body == http.NoBody {
		return nil, nil
	}
	if r.ContentLength > limit {
		return nil, errkind.New(errkind.Invalid, "Request body of %d bytes exceeds the limit of %d bytes.", r.ContentLength, limit)
	}
	var buf bytes.Buffer
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(r.Body, limit+1))
	if err != nil {
		return nil, errkind.Wrap(errkind.Invalid, err, "Could not read the request body.")
	}
	if n > limit {
		return nil, errkind.New(errkind.Invalid, "Request body exceeds the limit of %d bytes.", limit)
	}
	return buf.Bytes(), nil
}

// InputValidator is a request shape that checks the constraints its
// service model states (ranges, lengths, enumerations) once decoded.
type InputValidator interface {
	// ValidateInput returns an errkind.Invalid error in the service's
	// words, or nil.
	ValidateInput() error
}

// DecodeJSON decodes a JSON object body into v. An empty body decodes as
// {}. Malformed JSON, a non-object, trailing data or a wrong member type is
// an Invalid error naming the problem; so is a constraint v, an
// InputValidator, finds broken.
func DecodeJSON(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return errkind.New(errkind.Invalid, "The request body must be a JSON object.")
	}
	// A type without interface values (the Converse request, ...) decodes
	// the same with json.Unmarshal, which UseNumber would not change, at a
	// third fewer allocations; any error is reported by the decoder below,
	// from a zero v, so that its words do not change.
	if rv := reflect.ValueOf(v); rv.Kind() == reflect.Pointer && !rv.IsNil() && !holdsInterface(rv.Type().Elem()) {
		if json.Unmarshal(body, v) == nil {
			if iv, ok := v.(InputValidator); ok {
				return iv.ValidateInput()
			}
			return nil
		}
		rv.Elem().SetZero()
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value at '%s' has the wrong type: expected %s.", te.Field, te.Type)
		}
		return errkind.Wrap(errkind.Invalid, err, "The request body is not valid JSON.")
	}
	if dec.More() {
		return errkind.New(errkind.Invalid, "The request body has data after the JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errkind.New(errkind.Invalid, "The request body has data after the JSON object.")
	}
	if iv, ok := v.(InputValidator); ok {
		return iv.ValidateInput()
	}
	return nil
}

// interfaceFree caches holdsInterface by type (reflect.Type -> bool).
var interfaceFree sync.Map

// holdsInterface reports whether a value of type t can hold an interface
// value (where json.Decoder.UseNumber makes a difference), through its
// fields, elements, keys and pointers.
func holdsInterface(t reflect.Type) bool {
	if v, ok := interfaceFree.Load(t); ok {
		return v.(bool)
	}
	h := holdsInterfaceSeen(t, map[reflect.Type]bool{})
	interfaceFree.Store(t, h)
	return h
}

func holdsInterfaceSeen(t reflect.Type, seen map[reflect.Type]bool) bool {
	if seen[t] {
		return false // a recursive type: answered where it was first met
	}
	seen[t] = true
	switch t.Kind() {
	case reflect.Interface:
		return true
	case reflect.Pointer, reflect.Slice, reflect.Array:
		return holdsInterfaceSeen(t.Elem(), seen)
	case reflect.Map:
		return holdsInterfaceSeen(t.Key(), seen) || holdsInterfaceSeen(t.Elem(), seen)
	case reflect.Struct:
		for i := range t.NumField() {
			if holdsInterfaceSeen(t.Field(i).Type, seen) {
				return true
			}
		}
	}
	return false
}

// ErrorCode is an AWS exception name and HTTP status.
type ErrorCode struct {
	Name   string
	Status int
}

// Codes maps each error kind to the exception a service's model defines.
type Codes map[errkind.Kind]ErrorCode

// Lookup returns the code for err, honouring an explicit errkind.Error.Code
// (authentication errors name their own exceptions, always 403 unless the
// kind maps elsewhere).
func (c Codes) Lookup(e *errkind.Error) ErrorCode {
	code, ok := c[e.Kind]
	if !ok && e.Kind == errkind.Canceled {
		// Nobody reads it; the status tells logs and metrics the client
		// closed the request (nginx's 499), not that Tollgate failed.
		code, ok = ErrorCode{Name: "RequestCanceledException", Status: 499}, true
	}
	if !ok {
		code = c[errkind.Internal]
	}
	if e.Code != "" {
		code.Name = e.Code
	}
	return code
}

// BedrockCodes are the exceptions of Bedrock and Bedrock Runtime (restJson1).
var BedrockCodes = Codes{
	errkind.Internal:      {"InternalServerException", 500},
	errkind.Invalid:       {"ValidationException", 400},
	errkind.NotFound:      {"ResourceNotFoundException", 404},
	errkind.Conflict:      {"ConflictException", 400},
	errkind.Denied:        {"AccessDeniedException", 403},
	errkind.Throttled:     {"ThrottlingException", 429},
	errkind.Unavailable:   {"ServiceUnavailableException", 503},
	errkind.QuotaExceeded: {"ServiceQuotaExceededException", 400},
	errkind.TooManyTags:   {"TooManyTagsException", 400},
}

// WriteJSON writes v as a JSON response with the given status and
// Content-Type.
func WriteJSON(w http.ResponseWriter, status int, contentType string, v any) error {
	body, err := json.Marshal(v)
	if err != nil {
		return errkind.Wrap(errkind.Internal, err, "internal error")
	}
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// WriteRestJSONError answers err in the restJson1 error shape: header
// X-Amzn-ErrorType and body {"__type": name, "message": msg}. It records
// err in the request info for the access log.
func WriteRestJSONError(w http.ResponseWriter, r *http.Request, codes Codes, err error) {
	writeJSONError(w, r, codes, err, "application/json", false)
}

// WriteAWSJSONError answers err in the awsJson1_0/1_1 error shape, which
// also carries "Message" for clients that read the modeled member.
func WriteAWSJSONError(w http.ResponseWriter, r *http.Request, codes Codes, err error, contentType string) {
	writeJSONError(w, r, codes, err, contentType, true)
}

func writeJSONError(w http.ResponseWriter, r *http.Request, codes Codes, err error, contentType string, upper bool) {
	e := errkind.As(err)
	Info(r.Context()).Err = err
	code := codes.Lookup(e)
	body := map[string]string{"__type": code.Name, "message": e.Message}
	if upper {
		body["Message"] = e.Message
	}
	w.Header().Set("X-Amzn-ErrorType", code.Name)
	_ = WriteJSON(w, code.Status, contentType, body)
}

// StreamExceptions name the exception member of an event stream (the
// ":exception-type" of an exception message) for each error kind; a kind
// without one is Fallback, which carries the status and message the error
// would have had as a response (originalStatusCode, originalMessage).
type StreamExceptions struct {
	Kinds    map[errkind.Kind]string
	Fallback string
}

// BedrockStreamExceptions are Bedrock Runtime's response-stream
// exceptions (ConverseStream, InvokeModelWithResponseStream).
var BedrockStreamExceptions = StreamExceptions{
	Kinds: map[errkind.Kind]string{
		errkind.Throttled:   "throttlingException",
		errkind.Invalid:     "validationException",
		errkind.Unavailable: "serviceUnavailableException",
		errkind.Internal:    "internalServerException",
	},
	Fallback: "modelStreamErrorException",
}

// Exception returns the exception message err becomes once a stream has
// started: its exception type and its JSON payload. codes give the
// fallback's original status.
func (x StreamExceptions) Exception(codes Codes, err error) (string, []byte) {
	e := errkind.As(err)
	name, ok := x.Kinds[e.Kind]
	body := map[string]any{"message": e.Message}
	if !ok {
		name = x.Fallback
		body["originalStatusCode"] = codes.Lookup(e).Status
		body["originalMessage"] = e.Message
	}
	payload, _ := json.Marshal(body)
	return name, payload
}

// Route is one restJson1 operation: its http.ServeMux pattern and its
// name (the action is "<service>:<Op>").
type Route struct {
	Pattern string
	Op      string
}

// RestOp is a restJson1 operation and the handler that serves it; an
// error it returns is answered in the API's error shape.
type RestOp struct {
	Route
	Handle func(w http.ResponseWriter, r *http.Request) error
}

// RestAPI is a restJson1 API's table of routes.
type RestAPI struct {
	// Label names the API in the access log and metrics ("bedrock").
	Label string
	// Codes are the API's exceptions.
	Codes Codes
	Ops   []RestOp
}

// Routes returns the API's routes, in table order.
func (a RestAPI) Routes() []Route {
	out := make([]Route, len(a.Ops))
	for i, op := range a.Ops {
		out[i] = op.Route
	}
	return out
}

// Register adds every route to mux: each records its API and operation
// for the access log, and answers the error its handler returns.
func (a RestAPI) Register(mux *http.ServeMux) {
	for _, op := range a.Ops {
		mux.Handle(op.Pattern, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			info := Info(r.Context())
			info.Service, info.Op = a.Label, op.Op
			if err := op.Handle(w, r); err != nil {
				WriteRestJSONError(w, r, a.Codes, err)
			}
		}))
	}
}
