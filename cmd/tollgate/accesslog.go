package main

import (
	"log/slog"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
)

// usageLog hands each runtime call's usage to its access-log line: the
// pipeline's OnRecord puts the durable record (before the response
// completes), the access log takes it by request id when the request
// ends. A record whose request logged first (a stream cancelled by its
// client and recorded after) is dropped after a minute.
type usageLog struct {
	mu          sync.Mutex
	m           map[string]usageEntry
	profileName func(account, id string) string
}

type usageEntry struct {
	attrs []slog.Attr
	at    time.Time
}

// maxUsageEntries bounds the records waiting for their access-log line.
const maxUsageEntries = 4096

func (u *usageLog) put(r ledger.Record) {
	if r.RequestID == "" {
		return
	}
	attrs := []slog.Attr{
		slog.Int64("input_tokens", r.InputTokens),
		slog.Int64("output_tokens", r.OutputTokens),
		slog.Int64("cache_read_tokens", r.CacheReadTokens),
		slog.Int64("cache_write_tokens", r.CacheWriteTokens),
		slog.String("cost_usd", r.Cost.Decimal(9)),
		slog.String("model", r.ModelID),
		slog.String("outcome", r.Outcome),
	}
	if r.ServiceTier != "" {
		attrs = append(attrs, slog.String("tier", r.ServiceTier))
	}
	if r.ProfileID != "" {
		name := ""
		if u.profileName != nil {
			name = u.profileName(r.Account, r.ProfileID)
		}
		attrs = append(attrs, slog.String("profile_id", r.ProfileID), slog.String("profile_name", name))
	}
	now := time.Now()
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.m == nil {
		u.m = map[string]usageEntry{}
	}
	if len(u.m) >= maxUsageEntries {
		for k, e := range u.m {
			if now.Sub(e.at) > time.Minute {
				delete(u.m, k)
			}
		}
		if len(u.m) >= maxUsageEntries {
			return // the access log keeps its line, without usage
		}
	}
	u.m[r.RequestID] = usageEntry{attrs, now}
}

// take returns and forgets the usage attributes of a request (the
// server's AccessAttrs).
func (u *usageLog) take(requestID string) []slog.Attr {
	u.mu.Lock()
	defer u.mu.Unlock()
	e, ok := u.m[requestID]
	if !ok {
		return nil
	}
	delete(u.m, requestID)
	return e.attrs
}
