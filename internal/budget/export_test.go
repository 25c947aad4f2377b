package budget

import (
	"context"

	"github.com/tollgate-dev/tollgate/internal/admission"
)

// TicketBudgets returns how many budgets hold tk, a ticket Admit returned
// (for the external tests' benchmark).
func TicketBudgets(tk admission.Ticket) int { return tk.(*ticket).n }

// ReleaseTicket hands back tk's reservations without settling a call.
func ReleaseTicket(tk admission.Ticket) { tk.(*ticket).release() }

// EvaluateMarked evaluates the alerts of the budgets marked since the last
// evaluation, as Run does after calls settle.
func EvaluateMarked(s *Service, ctx context.Context) { s.evaluate(ctx, true) }
