package main

import (
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// usageLog hands each runtime call's usage to its access-log line: the
// pipeline's OnRecord puts the durable record (before the response
// completes), the access log takes it by request id when the request
// ends. A record whose request logged first (a stream cancelled by its
// client and recorded after) is dropped after a minute.
//
// The hand-over does not allocate in the steady state: the map holds the
// usage by value (its key shares the record's request id) and reuses the
// slots of taken entries, and appendAttrs appends to the access log's
// pooled slice; the one allocation left is the cost's decimal string.
type usageLog struct {
	mu          sync.Mutex
	m           map[string]usageEntry
	profileName func(account, id string) string
}

// usageEntry is what an access-log line shows of a runtime call's record.
type usageEntry struct {
	input, output, cacheRead, cacheWrite int64
	cost                                 money.Amount
	model, outcome, tier, profileID      string
	account                              string
	// at is when the record came (unix nanoseconds: the entry stays
	// within a map slot's 128 bytes, so an insert does not allocate).
	at int64
}

// maxUsageEntries bounds the records waiting for their access-log line.
const maxUsageEntries = 4096

func (u *usageLog) put(r ledger.Record) {
	if r.RequestID == "" {
		return
	}
	e := usageEntry{input: r.InputTokens, output: r.OutputTokens, cacheRead: r.CacheReadTokens, cacheWrite: r.CacheWriteAll(),
		cost: r.Cost, model: r.ModelID, outcome: r.Outcome, tier: r.ServiceTier, profileID: r.ProfileID, account: r.Account, at: time.Now().UnixNano()}
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = make(map[string]usageEntry, 64)
	}
	if len(u.m) >= maxUsageEntries {
		for k, old := range u.m {
			if time.Duration(e.at-old.at) > time.Minute {
				delete(u.m, k)
			}
		}
		if len(u.m) >= maxUsageEntries {
			return // the access log keeps its line, without usage
		}
	}
	u.m[r.RequestID] = e
}

// appendAttrs appends, and forgets, the usage attributes of a request
// (the server's AppendAccessAttrs): tokens, cost, model, outcome, tier
// (when set) and profile (when the call went through one).
func (u *usageLog) appendAttrs(requestID string, attrs []slog.Attr) []slog.Attr {
	u.mu.Lock()
	e, ok := u.m[requestID]
	if ok {
		delete(u.m, requestID)
	}
	u.mu.Unlock()
	if !ok {
		return attrs
	}
	attrs = append(attrs,
		slog.Int64("input_tokens", e.input),
		slog.Int64("output_tokens", e.output),
		slog.Int64("cache_read_tokens", e.cacheRead),
		slog.Int64("cache_write_tokens", e.cacheWrite),
		slog.String("cost_usd", costUSD(e.cost)),
		slog.String("model", e.model),
		slog.String("outcome", e.outcome),
	)
	if e.tier != "" {
		attrs = append(attrs, slog.String("tier", e.tier))
	}
	if e.profileID != "" {
		name := ""
		if u.profileName != nil {
			name = u.profileName(e.account, e.profileID)
		}
		attrs = append(attrs, slog.String("profile_id", e.profileID), slog.String("profile_name", name))
	}
	return attrs
}

// take returns and forgets the usage attributes of a request (the
// server's AccessAttrs).
func (u *usageLog) take(requestID string) []slog.Attr {
	return u.appendAttrs(requestID, nil)
}

// costUSD is a.Decimal(9) (nine decimals) in one allocation.
func costUSD(a money.Amount) string {
	var buf [32]byte
	b := buf[:0]
	u := uint64(a)
	if a < 0 {
		b = append(b, '-')
		u = -u // two's complement: also right for the most negative amount
	}
	b = strconv.AppendUint(b, u/1e9, 10)
	b = append(b, '.')
	frac := u % 1e9
	for d := uint64(1e8); d > 0; d /= 10 {
		b = append(b, byte('0'+frac/d%10))
	}
	return string(b)
}

// AppendAccessAttrs appends a runtime call's tokens, cost, model, outcome,
// tier and profile to its access-log line's attributes
// (server.Options.AppendAccessAttrs).
func (w *Watch) AppendAccessAttrs(requestID string, attrs []slog.Attr) []slog.Attr {
	return w.usage.appendAttrs(requestID, attrs)
}
