// Package invoke is the runtime pipeline: it resolves a modelId (foundation
// model, system-defined or application profile), picks a provider and
// region, invokes it with failover, meters the usage at the price in force,
// and appends the usage record durably before the response completes. It
// declares the Provider interface every model backend implements.
package invoke

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/converse"
)

// Provider is a model backend. Implementations are safe for concurrent use.
//
// Errors are *errkind.Error values: Throttled for rate limiting (the
// pipeline fails over to another region), Unavailable for 5xx, timeouts and
// connection failures (also failed over), Invalid for a request the model
// rejects, Internal otherwise (an upstream internal error: failed over
// too). A stream fails over only before its first event.
type Provider interface {
	// Converse runs one non-streaming call.
	Converse(ctx context.Context, call converse.Call, req *converse.Request) (*converse.Response, error)
	// ConverseStream runs one streaming call, passing each event to emit in
	// order; the last events are messageStop and metadata. It returns the
	// usage: the final usage on success, or the tokens consumed and produced
	// so far when it stops early (provider error, or emit failing because
	// the client went away — then it returns emit's error). An error
	// returned before the first emit lets the pipeline fail over.
	ConverseStream(ctx context.Context, call converse.Call, req *converse.Request, emit func(converse.StreamEvent) error) (converse.Usage, error)
}

// NativeInvoker is implemented by providers that take model-native
// InvokeModel bodies as they are (Amazon Bedrock). For other providers the
// pipeline translates native bodies to and from Converse.
type NativeInvoker interface {
	InvokeModel(ctx context.Context, call converse.Call, in converse.NativeRequest) (converse.NativeResponse, error)
	// InvokeModelStream passes each model-native chunk to emit and returns
	// the usage, with the same early-stop contract as ConverseStream.
	InvokeModelStream(ctx context.Context, call converse.Call, in converse.NativeRequest, emit func(chunk []byte) error) (converse.Usage, error)
}
