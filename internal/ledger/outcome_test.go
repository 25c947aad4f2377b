package ledger

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestOutcomeOf(t *testing.T) {
	for _, tc := range []struct {
		name          string
		err           error
		outcome, code string
	}{
		{"success", nil, OutcomeSuccess, ""},
		{"cancelled", fmt.Errorf("stream: %w", context.Canceled), OutcomeCancelled, ""},
		{"throttled", errkind.New(errkind.Throttled, "slow down"), OutcomeThrottled, "ThrottlingException"},
		{"invalid", errkind.New(errkind.Invalid, "bad"), OutcomeClientError, "ValidationException"},
		{"denied", errkind.New(errkind.Denied, "no"), OutcomeClientError, "AccessDeniedException"},
		{"not found", errkind.New(errkind.NotFound, "none"), OutcomeClientError, "ResourceNotFoundException"},
		{"quota", errkind.New(errkind.QuotaExceeded, "budget"), OutcomeClientError, "ServiceQuotaExceededException"},
		{"unavailable", errkind.New(errkind.Unavailable, "down"), OutcomeServerError, "ServiceUnavailableException"},
		{"deadline", errkind.Wrap(errkind.Unavailable, context.DeadlineExceeded, "late"), OutcomeServerError, "ServiceUnavailableException"},
		{"internal", errkind.New(errkind.Internal, "oops"), OutcomeServerError, "InternalServerException"},
		{"conflict", errkind.New(errkind.Conflict, "x"), OutcomeServerError, "InternalServerException"},
		{"plain error", errors.New("boom"), OutcomeServerError, "InternalServerException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			outcome, code := OutcomeOf(tc.err)
			if outcome != tc.outcome || code != tc.code {
				t.Errorf("OutcomeOf = %q, %q; want %q, %q", outcome, code, tc.outcome, tc.code)
			}
		})
	}
}
