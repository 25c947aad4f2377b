// Package ledger owns usage records: one append-only, idempotent record per
// model call, carrying the tokens, the exact cost and the tag set in force
// at the time of the call, and the group commit that makes each record
// durable before its response completes without serialising requests.
package ledger

import (
	"context"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Outcomes of a call.
const (
	OutcomeSuccess     = "success"
	OutcomeClientError = "client_error"
	OutcomeServerError = "server_error"
	OutcomeThrottled   = "throttled"
	OutcomeCancelled   = "cancelled" // the client went away mid-call
)

// Record is the usage of one model call.
type Record struct {
	RequestID    string
	Time         time.Time // when the call started (UTC, millisecond precision)
	Account      string
	Region       string // region the call was made to
	RegionServed string // region that answered ("" if none did)
	PrincipalID  string
	ProfileARN   string // the application or system profile invoked; "" for a direct model call
	ProfileID    string
	ModelID      string // underlying foundation model
	Provider     string // provider name that served it
	Operation    string // Converse, ConverseStream, InvokeModel, InvokeModelWithResponseStream
	ServiceTier  string // Bedrock service tier that served the call: "priority", "default", "flex", "reserved"; "" when none answered

	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64

	LatencyMs int64
	TTFTMs    int64 // time to first token (streams); 0 otherwise
	Attempts  int   // provider attempts (failover); billed once

	Outcome   string
	ErrorCode string // AWS exception name when the call failed

	Cost   money.Amount // exact, nano-USD: the sum of the four classes below; 0 when Priced is false
	Priced bool         // false: no price was known at call time

	InputCost      money.Amount
	OutputCost     money.Amount
	CacheReadCost  money.Amount
	CacheWriteCost money.Amount

	Tags tags.Set // the profile's tags at call time
}

// Writer appends records durably. Implementations are safe for concurrent
// use.
type Writer interface {
	// AppendRecords stores the records and updates the hourly rollups in
	// one transaction. A record whose RequestID is already stored is
	// skipped (not an error), so a retried append never counts twice.
	AppendRecords(ctx context.Context, recs []Record) error
}

// Query selects records.
type Query struct {
	Account  string    // "" = all accounts
	From, To time.Time // [From, To); zero = unbounded
	Limit    int       // 0 = no limit
	Newest   bool      // newest first
}

// Reader reads records and rollups. Implementations are safe for
// concurrent use.
type Reader interface {
	// Records returns the records matching q, ordered by time.
	Records(ctx context.Context, q Query) ([]Record, error)
	// Rollups returns the hourly rollups overlapping [from, to).
	Rollups(ctx context.Context, account string, from, to time.Time) ([]Rollup, error)
}

// Rollup is the sum of records in one hour for one combination of
// dimensions.
type Rollup struct {
	Hour         time.Time
	Account      string
	RegionServed string
	ProfileARN   string
	ModelID      string
	PrincipalID  string
	Operation    string
	Tags         tags.Set

	Calls            int64
	Errors           int64
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	Cost             money.Amount
	InputCost        money.Amount
	OutputCost       money.Amount
	CacheReadCost    money.Amount
	CacheWriteCost   money.Amount
	Unpriced         int64 // calls without a known price
}
