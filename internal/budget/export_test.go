package budget

import "github.com/tollgate-dev/tollgate/internal/admission"

// TicketBudgets returns how many budgets hold tk, a ticket Admit returned
// (for the external tests' benchmark).
func TicketBudgets(tk admission.Ticket) int { return tk.(*ticket).n }

// ReleaseTicket hands back tk's reservations without settling a call.
func ReleaseTicket(tk admission.Ticket) { tk.(*ticket).release() }
