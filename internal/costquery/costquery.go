// Package costquery is Tollgate's Cost Explorer engine. It turns the
// ledger's hourly rollups into AWS-style line items — one per token class
// (input, output, cache read, cache write), each with its usage type
// ("USE1-NovaPro-input-tokens", "USE1-MP:USE1_InputTokenCount-Units"),
// cost and token quantity — then filters, groups and sums them as
// GetCostAndUsage, GetDimensionValues and GetTags do, in exact integer
// nano-dollars, and forecasts cost from the daily history as
// GetCostForecast does.
//
// Line items carry the tags in force at call time, so a profile retagged
// mid-month splits its spend between its old and new values. The
// dimensions are SERVICE, SERVICE_CODE, RECORD_TYPE, LINKED_ACCOUNT,
// REGION (the region that served the call), USAGE_TYPE, OPERATION (the
// runtime operation: Converse, ConverseStream, InvokeModel or
// InvokeModelWithResponseStream), RESOURCE_ID (the inference profile ARN,
// or the foundation-model ARN of a direct call) and Tollgate's own MODEL
// (the foundation-model id). Unpriced usage counts in the usage quantity
// but not in cost, and marks its period Estimated.
//
// The functions over rollups (Aggregate, DimensionValues, TagKeys,
// TagValues, Forecast) are pure; Service feeds them from a Source. The
// package knows nothing of HTTP or SQL.
package costquery

import (
	"context"
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// Source reads the hourly rollups the engine aggregates.
type Source interface {
	// CostRollups returns the rollups whose Hour lies in [from, to), of
	// the given accounts (nil means every account; an empty non-nil slice
	// none), ordered by Hour. Rollups may share Tags maps, which callers
	// must not modify. Errors are errkind Internal. Safe for concurrent
	// use.
	CostRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error)
}

// DailySource is a Source that also keeps daily rollups (the hourly ones
// summed per UTC day, Hour being midnight). Daily and monthly queries read
// them for the whole days of their range, and the hourly rollups for the
// partial days at its edges: a day is one row per dimension combination
// instead of 24.
type DailySource interface {
	// CostRollupsDaily is CostRollups over daily rollups, for from and to
	// at UTC midnight.
	CostRollupsDaily(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error)
}

// Versioned is a Source that can say whether its rollups changed. A Source
// implementing it lets the Service reuse the rollups it read for one query
// in the next ones (the pages of one result, the queries of one report)
// until the ledger changes.
type Versioned interface {
	// LedgerVersion returns a number that changes whenever any rollup
	// changes (for an append-only ledger, its highest record sequence).
	// Errors are errkind Internal.
	LedgerVersion(ctx context.Context) (int64, error)
}

// Service answers cost queries from a Source. Safe for concurrent use.
type Service struct {
	src   Source
	names *Namer
	now   func() time.Time

	mu    sync.Mutex
	cache []cached // most recently used first
}

// cached is one read of the Source, valid while the version holds.
type cached struct {
	daily    bool   // from the daily rollups
	accounts string // accounts joined, "\x00*" for all
	from, to time.Time
	version  int64
	rolls    []ledger.Rollup
}

// Cache bounds: how many reads the Service keeps, and how many rollups in
// all (a rollup takes some 400 bytes).
const (
	cacheEntries  = 4
	cacheMaxRolls = 250_000
)

// NewService returns a Service reading src, naming line items with names
// (nil: model ids only), with clock now (nil: time.Now).
func NewService(src Source, names *Namer, now func() time.Time) *Service {
	if names == nil {
		names = NewNamer(nil)
	}
	if now == nil {
		now = time.Now
	}
	return &Service{src: src, names: names, now: now}
}

// rollups reads the rollups of [from, to) for accounts, from the cache when
// a cached read covers the range and the ledger has not changed since.
func (s *Service) rollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	return s.read(ctx, false, accounts, from, to)
}

// dailyRollups reads the rollups of [from, to) for a query whose periods
// are days or months: when the source keeps daily rollups, the whole UTC
// days of the range from them and the partial days at its edges from the
// hourly ones, ordered by Hour; else hourly ones throughout.
func (s *Service) dailyRollups(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	_, daily := s.src.(DailySource)
	return splitDays(daily, from, to, func(daily bool, from, to time.Time) ([]ledger.Rollup, error) {
		return s.read(ctx, daily, accounts, from, to)
	})
}

// DayRollups reads src's rollups of [from, to) for sums over days or
// longer periods, as the Service does for DAILY and MONTHLY queries: the
// whole UTC days from daily rollups when src keeps them (each dated at its
// midnight), the partial days at the edges from hourly ones. It does not
// cache.
func DayRollups(ctx context.Context, src Source, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	ds, daily := src.(DailySource)
	return splitDays(daily, from, to, func(daily bool, from, to time.Time) ([]ledger.Rollup, error) {
		if daily {
			return ds.CostRollupsDaily(ctx, accounts, from, to)
		}
		return src.CostRollups(ctx, accounts, from, to)
	})
}

// splitDays reads [from, to) with read: whole days daily when daily is
// true, the rest hourly, ordered by Hour.
func splitDays(daily bool, from, to time.Time, read func(daily bool, from, to time.Time) ([]ledger.Rollup, error)) ([]ledger.Rollup, error) {
	first, last := midnight(from), midnight(to)
	if first.Before(from) {
		first = first.AddDate(0, 0, 1)
	}
	if !daily || !first.Before(last) {
		return read(false, from, to)
	}
	days, err := read(true, first, last)
	if err != nil || (first.Equal(from) && last.Equal(to)) {
		return days, err
	}
	var head, tail []ledger.Rollup
	if from.Before(first) {
		if head, err = read(false, from, first); err != nil {
			return nil, err
		}
	}
	if last.Before(to) {
		if tail, err = read(false, last, to); err != nil {
			return nil, err
		}
	}
	return slices.Concat(head, days, tail), nil
}

func (s *Service) fetch(ctx context.Context, daily bool, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	if daily {
		return s.src.(DailySource).CostRollupsDaily(ctx, accounts, from, to)
	}
	return s.src.CostRollups(ctx, accounts, from, to)
}

func (s *Service) read(ctx context.Context, daily bool, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	v, ok := s.src.(Versioned)
	if !ok {
		return s.fetch(ctx, daily, accounts, from, to)
	}
	version, err := v.LedgerVersion(ctx)
	if err != nil {
		return nil, err
	}
	key := "\x00*"
	if accounts != nil {
		sorted := slices.Sorted(slices.Values(accounts))
		key = ""
		for _, a := range sorted {
			key += a + "\x00"
		}
	}
	s.mu.Lock()
	// Reads of another version are of no more use (versions only grow).
	s.cache = slices.DeleteFunc(s.cache, func(c cached) bool { return c.version != version })
	for i, c := range s.cache {
		if c.daily == daily && c.accounts == key && !from.Before(c.from) && !to.After(c.to) {
			copy(s.cache[1:i+1], s.cache[:i])
			s.cache[0] = c
			s.mu.Unlock()
			lo := sort.Search(len(c.rolls), func(i int) bool { return !c.rolls[i].Hour.Before(from) })
			hi := sort.Search(len(c.rolls), func(i int) bool { return !c.rolls[i].Hour.Before(to) })
			return c.rolls[lo:hi:hi], nil
		}
	}
	s.mu.Unlock()
	rolls, err := s.fetch(ctx, daily, accounts, from, to)
	if err != nil || len(rolls) > cacheMaxRolls {
		return rolls, err
	}
	s.mu.Lock()
	s.cache = slices.Insert(s.cache, 0, cached{daily: daily, accounts: key, from: from, to: to, version: version, rolls: rolls})
	total := 0
	for i, c := range s.cache {
		total += len(c.rolls)
		if i == cacheEntries || total > cacheMaxRolls {
			clear(s.cache[i:])
			s.cache = s.cache[:i]
			break
		}
	}
	s.mu.Unlock()
	return rolls, nil
}

// Namer returns the Namer the service names line items with.
func (s *Service) Namer() *Namer { return s.names }

// Today returns the current UTC date (midnight).
func (s *Service) Today() time.Time { return midnight(s.now()) }

// CostAndUsage answers q over the usage of accounts (nil: all).
func (s *Service) CostAndUsage(ctx context.Context, accounts []string, q Query) (Result, error) {
	if err := q.Validate(); err != nil {
		return Result{}, err
	}
	read := s.rollups
	if q.Granularity != Hourly {
		read = s.dailyRollups
	}
	rolls, err := read(ctx, accounts, q.From, q.To)
	if err != nil {
		return Result{}, err
	}
	return Aggregate(rolls, q, s.names)
}

// DimensionValues returns the values of dim in sc over the usage of
// accounts (nil: all).
func (s *Service) DimensionValues(ctx context.Context, accounts []string, dim string, sc Scope) ([]Value, error) {
	if err := checkDimension(dim); err != nil {
		return nil, err
	}
	if err := sc.validate(); err != nil {
		return nil, err
	}
	rolls, err := s.dailyRollups(ctx, accounts, sc.From, sc.To) // values and sums only: whole days from the daily rollups
	if err != nil {
		return nil, err
	}
	return DimensionValues(rolls, dim, sc, s.names)
}

// Tags returns the tag keys (key "") or the values of tag key in sc over
// the usage of accounts (nil: all).
func (s *Service) Tags(ctx context.Context, accounts []string, key string, sc Scope) ([]Value, error) {
	if key != "" {
		if err := checkTagKey(key); err != nil {
			return nil, err
		}
	}
	if err := sc.validate(); err != nil {
		return nil, err
	}
	rolls, err := s.dailyRollups(ctx, accounts, sc.From, sc.To) // values and sums only: whole days from the daily rollups
	if err != nil {
		return nil, err
	}
	if key == "" {
		return TagKeys(rolls, sc, s.names)
	}
	return TagValues(rolls, key, sc, s.names)
}

// Forecast forecasts the cost q selects over the usage of accounts (nil:
// all) from the HistoryDays days before today.
func (s *Service) Forecast(ctx context.Context, accounts []string, q ForecastQuery) (ForecastResult, error) {
	today := s.Today()
	if err := q.Validate(today); err != nil {
		return ForecastResult{}, err
	}
	from := today.AddDate(0, 0, -HistoryDays)
	rolls, err := s.dailyRollups(ctx, accounts, from, today) // whole days: summed daily below
	if err != nil {
		return ForecastResult{}, err
	}
	hist, err := Aggregate(rolls, Query{From: from, To: today, Granularity: Daily, Filter: q.Filter}, s.names)
	if err != nil {
		return ForecastResult{}, err
	}
	daily := make([]money.Amount, len(hist.Periods))
	for i, p := range hist.Periods {
		daily[i] = p.Total.Cost
	}
	return Forecast(daily, today, q)
}
