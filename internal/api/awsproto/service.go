package awsproto

import (
	"context"
	"net/http"
	"slices"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Protocol is a wire protocol an RPC service speaks: how its requests
// are decoded and its results and errors encoded.
type Protocol int

// The RPC protocols Tollgate serves.
const (
	AWSJSON10 Protocol = iota + 1 // awsJson1_0: POST / with X-Amz-Target
	AWSJSON11                     // awsJson1_1: POST / with X-Amz-Target
	RPCv2CBOR                     // Smithy RPC v2 CBOR: POST /service/<Name>/operation/<Op>
)

// ContentType is the media type of the protocol's bodies.
func (p Protocol) ContentType() string {
	switch p {
	case AWSJSON10:
		return "application/x-amz-json-1.0"
	case RPCv2CBOR:
		return cborContentType
	}
	return "application/x-amz-json-1.1"
}

// JSON reports whether p is one of the awsJson protocols.
func (p Protocol) JSON() bool { return p == AWSJSON10 || p == AWSJSON11 }

// decode reads a request body in protocol p into v.
func (p Protocol) decode(body []byte, v any) error {
	if p == RPCv2CBOR {
		return DecodeCBOR(body, v)
	}
	return DecodeJSON(body, v)
}

// Operation is one entry of an API package's table of operations, for
// handlers of type H (the package's *Handler): a name and how to serve
// it. Build entries with Op and Guarded.
type Operation[H any] struct {
	Name  string
	serve func(h H, ctx context.Context, p Protocol, body []byte) (any, error)
}

// Op returns the table entry of the operation name, served by handle (a
// method expression such as (*Handler).getResources): the engine decodes
// the request into In, calls handle and encodes its Out.
func Op[H, In, Out any](name string, handle func(H, context.Context, In) (Out, error)) Operation[H] {
	return Guarded(name, nil, handle)
}

// Guarded is Op with an authorization check that reads the request: it
// runs once the body is decoded (on what could be decoded of a malformed
// one), and its denial is answered before any input error, so a caller
// learns nothing of a request it may not make. authorize may be nil.
func Guarded[H, In, Out any](name string, authorize func(H, context.Context, *In) error, handle func(H, context.Context, In) (Out, error)) Operation[H] {
	return Operation[H]{Name: name, serve: func(h H, ctx context.Context, p Protocol, body []byte) (any, error) {
		var in In
		decodeErr := p.decode(body, &in)
		if authorize != nil {
			if err := authorize(h, ctx, &in); err != nil {
				return nil, err
			}
		}
		if decodeErr != nil {
			return nil, decodeErr
		}
		return handle(h, ctx, in)
	}}
}

// Table is an API package's operations.
type Table[H any] []Operation[H]

// Names returns the operations' names, in table order.
func (t Table[H]) Names() []string {
	names := make([]string, len(t))
	for i, op := range t {
		names[i] = op.Name
	}
	return names
}

// Bind returns the operations served by h, for a Service.
func (t Table[H]) Bind(h H) []Bound {
	out := make([]Bound, len(t))
	for i, op := range t {
		serve := op.serve
		out[i] = Bound{Name: op.Name, serve: func(ctx context.Context, p Protocol, body []byte) (any, error) {
			return serve(h, ctx, p, body)
		}}
	}
	return out
}

// Bound is an operation bound to the handler that serves it.
type Bound struct {
	Name  string
	serve func(ctx context.Context, p Protocol, body []byte) (any, error)
}

// Service is an AWS service spoken over awsJson and/or RPC v2 CBOR: its
// names, protocols, exceptions and operations. The server routes to it by
// Name and authenticates for SigningName; Serve does the rest. A Service
// is a value; it is safe for concurrent use once built.
type Service struct {
	// Name is the Smithy service shape name, e.g.
	// "ResourceGroupsTaggingAPI_20170126": the X-Amz-Target prefix and the
	// RPC v2 path segment.
	Name string
	// SigningName is the SigV4 service name requests are signed for.
	SigningName string
	// Label names the service in logs and metrics (RequestInfo.Service).
	Label string
	// Protocols are the protocols the service speaks.
	Protocols []Protocol
	// Codes maps error kinds to the service's exceptions.
	Codes Codes
	// Namespace, when set, qualifies the exception name of RPC v2 CBOR
	// errors ("com.amazonaws.cloudwatch#Name").
	Namespace string
	// QueryCodes, when non-nil, marks the service @awsQueryCompatible:
	// every error carries X-Amzn-Query-Error with the awsQuery code of its
	// exception (the exception name when the map has none).
	QueryCodes map[string]string
	// Before, when set, runs before each known operation decodes its
	// input (authorization on "*", rate limits); its error is answered.
	Before func(ctx context.Context, op string) error
	// MapError, when set, rewrites an operation's error before it is
	// answered (to name a modelled exception).
	MapError func(error) error
	// Ops are the operations, from Table.Bind.
	Ops []Bound
}

// Speaks reports whether the service speaks p.
func (s Service) Speaks(p Protocol) bool { return slices.Contains(s.Protocols, p) }

// Names returns the names of the service's operations.
func (s Service) Names() []string {
	names := make([]string, len(s.Ops))
	for i, op := range s.Ops {
		names[i] = op.Name
	}
	return names
}

// UnknownOperation is the error an operation the service does not have is
// answered with: a client error.
func UnknownOperation(op string) *errkind.Error {
	return errkind.New(errkind.Invalid, "The operation %s is not supported.", op).WithCode("UnknownOperationException")
}

// Serve serves one operation in protocol p: the body was read (and
// authenticated) by the server and is in the request info.
func (s Service) Serve(w http.ResponseWriter, r *http.Request, p Protocol, op string) {
	ctx := r.Context()
	info := Info(ctx)
	info.Service, info.Op = s.Label, op
	out, err := s.call(ctx, p, op, info.Body)
	if err != nil {
		s.WriteError(w, r, p, err)
		return
	}
	if err := s.write(w, p, out); err != nil {
		s.WriteError(w, r, p, err)
	}
}

func (s Service) call(ctx context.Context, p Protocol, op string, body []byte) (any, error) {
	i := slices.IndexFunc(s.Ops, func(b Bound) bool { return b.Name == op })
	if i < 0 {
		return nil, UnknownOperation(op)
	}
	if s.Before != nil {
		if err := s.Before(ctx, op); err != nil {
			return nil, err
		}
	}
	out, err := s.Ops[i].serve(ctx, p, body)
	if err != nil && s.MapError != nil {
		err = s.MapError(err)
	}
	return out, err
}

func (s Service) write(w http.ResponseWriter, p Protocol, out any) error {
	if p == RPCv2CBOR {
		return WriteCBOR(w, http.StatusOK, out)
	}
	return WriteJSON(w, http.StatusOK, p.ContentType(), out)
}

// WriteError answers err in protocol p's error shape with the service's
// exception for it, and records err in the request info for the access
// log. awsJson: header X-Amzn-ErrorType, body {"__type", "message",
// "Message"}; RPC v2 CBOR: the same members in a CBOR map, __type
// qualified by Namespace.
func (s Service) WriteError(w http.ResponseWriter, r *http.Request, p Protocol, err error) {
	e := errkind.As(err)
	code := s.Codes.Lookup(e)
	if s.QueryCodes != nil {
		q, ok := s.QueryCodes[code.Name]
		if !ok {
			q = code.Name
		}
		fault := "Sender"
		if code.Status >= 500 {
			fault = "Receiver"
		}
		w.Header().Set("X-Amzn-Query-Error", q+";"+fault)
	}
	if p.JSON() {
		WriteAWSJSONError(w, r, s.Codes, err, p.ContentType())
		return
	}
	Info(r.Context()).Err = err
	name := code.Name
	if s.Namespace != "" {
		name = s.Namespace + "#" + name
	}
	_ = WriteCBOR(w, code.Status, errorBody{Type: name, Message: e.Message, MessageUpper: e.Message})
}

// errorBody is the RPC v2 CBOR error document; both casings of message
// are written, as in awsJson errors, for models that name either.
type errorBody struct {
	Type         string `json:"__type"`
	Message      string `json:"message"`
	MessageUpper string `json:"Message"`
}
