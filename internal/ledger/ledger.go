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

// Record is the usage of one model call, or of several (Calls).
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

	// Price dimensions beside the tier (see internal/pricing).
	Scope            string // endpoint scope priced: "" in-region, "geo" (us., eu., apac., ...) or "global"
	LongContext      bool   // the call fell into its price's long-context tier
	LatencyOptimized bool   // latency-optimized inference was served

	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64 // cache writes with the 5-minute TTL
	// CacheWrite1hTokens are cache writes with the 1-hour TTL: disjoint
	// from CacheWriteTokens (Bedrock's cacheWriteInputTokens is their sum).
	CacheWrite1hTokens int64

	LatencyMs int64
	TTFTMs    int64 // time to first token (streams); 0 otherwise
	Attempts  int   // provider attempts (failover); billed once

	Outcome   string
	ErrorCode string // AWS exception name when the call failed

	Cost   money.Amount // exact, nano-USD: the sum of the five kinds below (plus FixedCost and UnitCost); 0 when Priced is false
	Priced bool         // false: no price was known at call time

	InputCost        money.Amount
	OutputCost       money.Amount
	CacheReadCost    money.Amount
	CacheWriteCost   money.Amount
	CacheWrite1hCost money.Amount
	// FixedCost is a fixed-cost line (an hour of a reserved-capacity
	// commitment, Operation OpFixedCost): no tokens, only cost.
	FixedCost money.Amount

	// Units is how many per-unit items the call was billed for (images
	// generated), UnitKind names the price they were billed at (such as
	// "image-premium-2048x2048" or "image"; see catalog.UnitPrice.Kind),
	// and UnitCost is their exact cost, part of Cost. All zero for a
	// call billed by tokens only.
	Units    int64
	UnitKind string
	UnitCost money.Amount

	// PriceVersion identifies the price the cost was computed at
	// ("" when unpriced or recorded before versions existed); re-pricing
	// changes it and keeps the old cost in the re-pricing log.
	PriceVersion string

	Tags tags.Set // the profile's tags at call time

	// Calls is how many calls the record stands for: 0 means 1, so every
	// runtime call leaves it 0. Only a summary of many calls sets it (the
	// demo's back-filled history: one record for an hour of one
	// profile's traffic), its tokens and costs being those calls' sums.
	// Rollups count CallCount calls (and as many errors or unpriced
	// calls) for it. Stores keep CallCount and read a single call back as
	// 0.
	Calls int64
}

// CallCount returns how many calls r stands for: max(1, r.Calls).
func (r Record) CallCount() int64 { return max(1, r.Calls) }

// RollupCalls returns the calls, errors and unpriced calls r adds to its
// rollups: CallCount each (errors when it failed, unpriced when it had no
// price), and none for a fixed-cost record, which is no call.
func (r Record) RollupCalls() (calls, errors, unpriced int64) {
	if r.Operation == OpFixedCost {
		return 0, 0, 0
	}
	calls = r.CallCount()
	if r.Outcome != OutcomeSuccess {
		errors = calls
	}
	if !r.Priced {
		unpriced = calls
	}
	return calls, errors, unpriced
}

// OpFixedCost is the Operation of a fixed-cost record: an hour of a
// reserved-capacity commitment, allocated to the profile that owns it.
const OpFixedCost = "ReservedCapacity"

// CacheWriteAll returns every cache-write token, both TTLs: what Bedrock
// reports as cacheWriteInputTokens.
func (r Record) CacheWriteAll() int64 { return r.CacheWriteTokens + r.CacheWrite1hTokens }

// LineSum returns the sum of r's cost lines, which Cost must equal.
func (r Record) LineSum() money.Amount {
	return r.InputCost + r.OutputCost + r.CacheReadCost + r.CacheWriteCost + r.CacheWrite1hCost + r.FixedCost + r.UnitCost
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
	// Region is the source region (the region the calls were made to),
	// which AWS bills and prices them in; "" in rollups recorded before
	// it was kept.
	Region string
	// Price dimensions, as in Record.
	Scope            string
	ServiceTier      string
	LongContext      bool
	LatencyOptimized bool
	// UnitKind is the per-unit price the hour's units were billed at, as
	// in Record; "" for token-only calls.
	UnitKind string

	Calls            int64 // the calls the hour's records stand for (Record.CallCount each)
	Errors           int64
	InputTokens      int64
	OutputTokens     int64
	CacheReadTokens  int64
	CacheWriteTokens int64
	// CacheWrite1hTokens are the 1-hour cache writes (disjoint from
	// CacheWriteTokens).
	CacheWrite1hTokens int64
	Cost               money.Amount
	InputCost          money.Amount
	OutputCost         money.Amount
	CacheReadCost      money.Amount
	CacheWriteCost     money.Amount
	CacheWrite1hCost   money.Amount
	FixedCost          money.Amount
	// Units and UnitCost sum the records' per-unit items (images) and
	// their cost.
	Units    int64
	UnitCost money.Amount
	Unpriced int64 // calls without a known price
}

// Repricing is one record's cost recomputed after a price correction: Old
// is the record as stored, New the same call (same request id, tokens and
// dimensions but for LongContext) with its new cost lines, Priced and
// PriceVersion.
type Repricing struct {
	Old, New Record
}

// Repricer re-prices stored records. Implementations are safe for
// concurrent use.
type Repricer interface {
	// Reprice applies changes in one transaction: each record takes its
	// new cost lines, Priced, LongContext and PriceVersion; the old and
	// new costs and versions are appended to the re-pricing log under
	// runID; and the hourly and daily rollups move by the difference, so
	// they still sum the records exactly. A change whose record no longer
	// holds Old's version and cost (re-priced meanwhile) is skipped; the
	// number applied comes back. Errors are errkind Internal.
	Reprice(ctx context.Context, runID string, at time.Time, changes []Repricing) (int, error)
	// Repricings returns the re-pricing log of the records of [from, to),
	// oldest first.
	Repricings(ctx context.Context, from, to time.Time) ([]RepricingEntry, error)
}

// RepricingEntry is one line of the re-pricing log.
type RepricingEntry struct {
	RunID                  string
	At                     time.Time // when the re-pricing ran
	RequestID              string
	Time                   time.Time // the record's
	OldVersion, NewVersion string
	OldPriced, NewPriced   bool
	OldCost, NewCost       money.Amount
}
