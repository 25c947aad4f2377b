package ledger

import (
	"context"
	"errors"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// outcomeCode is how the ledger records a call that failed with an error
// of one kind: its outcome and the AWS exception name Bedrock Runtime
// answers it with.
type outcomeCode struct{ outcome, code string }

// outcomes is the one table of the ledger's error codes. A kind it does
// not list (Internal, and any kind added later) is a server error,
// InternalServerException. Conflict and TooManyTags do not occur on model
// calls and are recorded as Internal.
var outcomes = map[errkind.Kind]outcomeCode{
	errkind.Throttled:     {OutcomeThrottled, "ThrottlingException"},
	errkind.Invalid:       {OutcomeClientError, "ValidationException"},
	errkind.Denied:        {OutcomeClientError, "AccessDeniedException"},
	errkind.NotFound:      {OutcomeClientError, "ResourceNotFoundException"},
	errkind.QuotaExceeded: {OutcomeClientError, "ServiceQuotaExceededException"},
	errkind.Unavailable:   {OutcomeServerError, "ServiceUnavailableException"},
	errkind.Canceled:      {OutcomeCancelled, ""},
}

var internalOutcome = outcomeCode{OutcomeServerError, "InternalServerException"}

// OutcomeOf returns the Outcome and ErrorCode of the record of a call that
// ended with err: success for nil, cancelled (no code) when the client
// went away (context.Canceled, or kind Canceled), else the kind's entry of
// the table above.
func OutcomeOf(err error) (outcome, code string) {
	if err == nil {
		return OutcomeSuccess, ""
	}
	if errors.Is(err, context.Canceled) {
		return OutcomeCancelled, ""
	}
	oc, ok := outcomes[errkind.KindOf(err)]
	if !ok {
		oc = internalOutcome
	}
	return oc.outcome, oc.code
}
