// Package errkind is Tollgate's one vocabulary of error kinds. Domain code
// returns errors that carry a Kind and a client-safe message; each wire
// protocol maps the Kind once to the AWS exception name and HTTP status its
// SDKs expect, and logs the detail at the boundary.
package errkind

import (
	"context"
	"errors"
	"fmt"
)

// Kind classifies an error by what the caller can do about it.
type Kind int

// The kinds. Their order is not significant.
const (
	// Internal is a fault in Tollgate; the client can only retry later.
	Internal Kind = iota
	// Invalid means the request itself is wrong (validation).
	Invalid
	// NotFound means a named resource does not exist.
	NotFound
	// Conflict means the request conflicts with the current state.
	Conflict
	// Denied means the caller is not allowed to do this (or not authenticated).
	Denied
	// Throttled means the caller sent too much; retry with backoff.
	Throttled
	// Unavailable means a dependency (provider, store) is down for now.
	Unavailable
	// QuotaExceeded means a configured resource quota is used up.
	QuotaExceeded
	// TooManyTags means a resource would carry more tags than allowed.
	TooManyTags
	// Canceled means the caller went away (closed its connection or
	// cancelled) before the answer: nobody reads it, and the fault is not
	// Tollgate's.
	Canceled
)

var kindNames = [...]string{
	Internal:      "internal",
	Invalid:       "invalid",
	NotFound:      "not_found",
	Conflict:      "conflict",
	Denied:        "denied",
	Throttled:     "throttled",
	Unavailable:   "unavailable",
	QuotaExceeded: "quota_exceeded",
	TooManyTags:   "too_many_tags",
	Canceled:      "canceled",
}

// String returns the kind's snake_case name, used in logs and metric labels.
func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("kind(%d)", int(k))
}

// Error is an error with a kind, a message safe to show the client, and an
// optional wrapped cause that is only logged.
type Error struct {
	Kind    Kind
	Message string // safe for the client
	Err     error  // detail for the log; may be nil
	// Code optionally overrides the wire exception name chosen from Kind
	// (for example "AuthFailure"-style names a protocol needs).
	Code string
}

// Error returns the client message followed by the cause, if any.
func (e *Error) Error() string {
	if e.Err != nil {
		return e.Message + ": " + e.Err.Error()
	}
	return e.Message
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// New returns an error of kind k with a client-safe message.
func New(k Kind, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...)}
}

// Wrap returns an error of kind k with a client-safe message and a cause kept
// for the log.
func Wrap(k Kind, err error, format string, args ...any) *Error {
	return &Error{Kind: k, Message: fmt.Sprintf(format, args...), Err: err}
}

// WithCode returns a copy of e whose wire exception name is code.
func (e *Error) WithCode(code string) *Error {
	c := *e
	c.Code = code
	return &c
}

// KindOf returns the kind of the first *Error in err's chain, or Internal.
func KindOf(err error) Kind {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Kind
	}
	return Internal
}

// Is reports whether err carries kind k.
func Is(err error, k Kind) bool {
	// errors.AsType, unlike errors.As(err, &e), does not move e to the
	// heap: Is runs on every runtime call, most often with a nil err.
	e, ok := errors.AsType[*Error](err)
	return ok && e.Kind == k
}

// As returns the first *Error in err's chain; context.Canceled becomes a
// Canceled error, and an error of any other type an Internal error with a
// generic message.
func As(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	if errors.Is(err, context.Canceled) {
		return &Error{Kind: Canceled, Message: "The request was cancelled.", Err: err}
	}
	return &Error{Kind: Internal, Message: "internal error", Err: err}
}
