package bedrock

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Client-safe messages for errors whose upstream detail is only logged.
const (
	msgDenied      = "The upstream Amazon Bedrock endpoint rejected the provider's credentials."
	msgUnavailable = "Amazon Bedrock is unavailable."
	msgThrottled   = "Amazon Bedrock is throttling requests; try again later."
	msgTimeout     = "Amazon Bedrock did not answer in time."
)

// responseError classifies a non-2xx response from its exception name
// (X-Amzn-ErrorType, else the body's __type or code) and status.
func responseError(status int, h http.Header, body []byte) *errkind.Error {
	var e struct {
		Type     string `json:"__type"`
		Code     string `json:"code"`
		Message  string `json:"message"`
		Message2 string `json:"Message"`
	}
	_ = json.Unmarshal(body, &e) // a non-JSON body (a proxy's HTML page) has no name or message
	name := h.Get("X-Amzn-ErrorType")
	if name == "" {
		name = e.Type
	}
	if name == "" {
		name = e.Code
	}
	msg := e.Message
	if msg == "" {
		msg = e.Message2
	}
	return classify(sanitizeErrorName(name), status, msg)
}

// sanitizeErrorName reduces an exception name as the SDKs do:
// "ThrottlingException:http://internal.amazon.com/..." and
// "com.amazonaws.bedrock#ThrottlingException" are both ThrottlingException.
func sanitizeErrorName(name string) string {
	name, _, _ = strings.Cut(name, ":")
	if i := strings.LastIndexByte(name, '#'); i >= 0 {
		name = name[i+1:]
	}
	return strings.TrimSpace(name)
}

// classify maps an upstream exception (name as sent, any case; status 0 for
// a stream exception) and its message to an error. Only Throttled, Invalid
// and QuotaExceeded show the upstream message to the client: it is AWS's
// explanation of what to change. Other messages may name accounts, roles
// or internals, so they are kept for the log.
func classify(name string, status int, msg string) *errkind.Error {
	detail := errors.New(strings.TrimSpace(fmt.Sprintf("%s (HTTP %d): %s", name, status, msg)))
	if status == 0 {
		detail = fmt.Errorf("%s: %s", name, msg)
	}
	withMsg := func(k errkind.Kind, fallback string) *errkind.Error {
		if msg == "" {
			msg = fallback
		}
		return errkind.Wrap(k, detail, "%s", msg)
	}
	switch strings.ToLower(name) {
	case "throttlingexception", "modelnotreadyexception", "toomanyrequestsexception":
		return withMsg(errkind.Throttled, msgThrottled)
	case "servicequotaexceededexception":
		if status == http.StatusTooManyRequests {
			return withMsg(errkind.Throttled, msgThrottled)
		}
		return withMsg(errkind.QuotaExceeded, "A service quota of the upstream Amazon Bedrock account is exceeded.")
	case "serviceunavailableexception", "internalserverexception", "internalfailure",
		"modeltimeoutexception", "modelstreamerrorexception":
		return errkind.Wrap(errkind.Unavailable, detail, msgUnavailable)
	case "validationexception", "resourcenotfoundexception", "modelerrorexception", "conflictexception":
		return withMsg(errkind.Invalid, "Amazon Bedrock rejected the request.")
	case "accessdeniedexception", "unrecognizedclientexception", "invalidsignatureexception",
		"incompletesignatureexception", "missingauthenticationtokenexception",
		"expiredtokenexception", "unauthorizedexception":
		return errkind.Wrap(errkind.Denied, detail, msgDenied)
	}
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return errkind.Wrap(errkind.Denied, detail, msgDenied)
	case status == http.StatusTooManyRequests:
		return withMsg(errkind.Throttled, msgThrottled)
	case status == http.StatusRequestTimeout || status >= 500:
		return errkind.Wrap(errkind.Unavailable, detail, msgUnavailable)
	case status >= 400:
		return withMsg(errkind.Invalid, fmt.Sprintf("Amazon Bedrock rejected the request (HTTP %d).", status))
	default:
		// A 1xx or 3xx final status, or an unknown stream exception.
		return errkind.Wrap(errkind.Unavailable, detail, msgUnavailable)
	}
}

// transportError classifies a failure to send a request or read a
// response: all are Unavailable, so the pipeline may fail over. When the
// caller's context ended, its error is in the chain (errors.Is finds
// context.Canceled or context.DeadlineExceeded).
func transportError(ctx context.Context, err error) *errkind.Error {
	if cerr := ctx.Err(); cerr != nil {
		if !errors.Is(err, cerr) {
			err = fmt.Errorf("%w (%v)", cerr, err)
		}
		if errors.Is(cerr, context.DeadlineExceeded) {
			return errkind.Wrap(errkind.Unavailable, err, msgTimeout)
		}
		return errkind.Wrap(errkind.Unavailable, err, "The request was cancelled.")
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return errkind.Wrap(errkind.Unavailable, err, msgTimeout)
	}
	return errkind.Wrap(errkind.Unavailable, err, msgUnavailable)
}

// readError classifies a failure while reading a 2xx response body.
func readError(ctx context.Context, err error) *errkind.Error {
	if errors.Is(err, errTooLarge) {
		return errkind.Wrap(errkind.Unavailable, err, "Amazon Bedrock sent a response that is too large.")
	}
	return transportError(ctx, err)
}

// malformed is the error for a response Tollgate cannot parse.
func malformed(err error) *errkind.Error {
	return errkind.Wrap(errkind.Unavailable, err, "Amazon Bedrock sent a malformed response.")
}
