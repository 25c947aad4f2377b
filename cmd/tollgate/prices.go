package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/supervise"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// loadPrices lays the price overrides of the file at path over c and
// reads its reserved-capacity commitments, failing start-up on any
// problem (each named with its line).
func loadPrices(c *catalog.Catalog, path string) (*catalog.Catalog, []pricing.Commitment, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, fmt.Errorf("prices file: %w", err)
	}
	prices, err := catalog.ParsePrices(path, data)
	if err != nil {
		return nil, nil, fmt.Errorf("prices file: %w", err)
	}
	if c, err = c.WithPrices(prices); err != nil {
		return nil, nil, fmt.Errorf("prices file: %w", err)
	}
	commitments, err := pricing.ParseCommitments(path, data, c)
	if err != nil {
		return nil, nil, fmt.Errorf("prices file: %w", err)
	}
	return c, commitments, nil
}

// commitmentJob writes each reserved-capacity commitment's fixed cost to
// the ledger, one record per completed hour of its term, allocated to the
// owning profile with its tags at the time: at start (catching up on every
// hour since the term began; the ledger skips hours already recorded) and
// then after every hour. Leased: one replica writes.
func (m *Main) commitmentJob() supervise.Job {
	return supervise.Job{Name: "reserved-capacity", Leased: true, Run: func(ctx context.Context) error {
		done := map[string]time.Time{} // commitment id -> hours written up to
		for {
			now := time.Now().UTC().Truncate(time.Hour)
			for _, c := range m.Commitments {
				from := done[c.ID]
				if from.IsZero() {
					from = c.From
				}
				if !from.Before(now) {
					continue
				}
				var tg tags.Set
				if a, err := arn.Parse(c.Profile); err == nil {
					if p, ok := m.Profiles.Lookup(a.Account, a.ID()); ok {
						tg = p.Tags
					}
				}
				recs := c.Records(from, now, tg)
				for i := 0; i < len(recs); i += 500 {
					if err := m.DB.AppendRecords(ctx, recs[i:min(i+500, len(recs))]); err != nil {
						m.Logger.Error("commitment_append_failed", "commitment", c.ID, "err", err.Error())
						recs = nil
						break
					}
				}
				if recs != nil {
					done[c.ID] = now
				}
			}
			next := now.Add(time.Hour + time.Minute)
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(time.Until(next)):
			}
		}
	}}
}
