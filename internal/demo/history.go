package demo

import (
	"fmt"
	"hash/fnv"
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// History.
//
// `tollgate demo --days N` gives the example a past: N days of usage of
// every profile before the current hour, written through the ledger
// (AppendRecords: records and hourly rollups in one transaction, a
// request id stored twice is skipped). Each history record is one hour
// of one profile's traffic — its tokens the hour's sum, its Calls the
// number of calls those tokens make at the profile's typical call size
// (inputPerCall), its request id demo-history-<profile>-<unix hour> — so
// two months stay a few thousand records standing for millions of calls,
// reports and rollups count the calls (not the hours), and the backfill
// takes well under a second. The series has
// what forecasts and anomaly detection look for: business-hours and
// weekday/weekend seasonality, steady growth (the spend of N days ago is
// two thirds of today's), deterministic noise, and one spike: a runaway
// sales-chat loop in the last hours, large enough to take the sales
// chat's month past its $10,000 budget.

// HistoryProfile is a profile the history covers.
type HistoryProfile struct {
	Name, ARN, ID, Account, Region, ModelID string
	Tags                                    map[string]string
}

// dailyUSD is each demo profile's spend on a weekday today, in dollars.
var dailyUSD = map[string]float64{
	"claims-chatbot-prod":  180,
	"sales-chat-prod":      320,
	"policy-recs-dev":      15,
	"policy-recs-prod":     90,
	"risk-assessment-dev":  8,
	"risk-assessment-prod": 140,
}

// inputPerCall is each demo profile's typical input tokens per call (a
// call's output is a quarter of it, as in every history record), from
// which a history hour's Calls follows: a claims chatbot turn carries the
// claim's summary and the conversation so far, a sales chat turn a
// shorter history, a policy recommendation the customer's profile and
// candidate policies, a risk assessment an application file.
var inputPerCall = map[string]int64{
	"claims-chatbot-prod":  2_400,
	"sales-chat-prod":      1_600,
	"policy-recs-dev":      3_000,
	"policy-recs-prod":     3_000,
	"risk-assessment-dev":  8_000,
	"risk-assessment-prod": 8_000,
}

// defaultInputPerCall is inputPerCall for a profile it does not list.
const defaultInputPerCall = 2_000

// callsFor returns how many calls in input tokens make for profile name:
// at least one.
func callsFor(name string, in int64) int64 {
	per, ok := inputPerCall[name]
	if !ok {
		per = defaultInputPerCall
	}
	return max(1, (in+per/2)/per)
}

// SpikeProfile is the profile whose runaway loop is the history's spike.
const SpikeProfile = "sales-chat-prod"

// SalesChatBudget is the seed scenario's monthly budget on the sales chat.
const SalesChatBudget = 10_000 * money.Dollar

// spikeHours is how many hours the spike lasts (ending an hour before now).
const spikeHours = 4

// Spike describes the injected spike.
type Spike struct {
	Profile    string
	Start, End time.Time // whole hours
	Extra      money.Amount
}

// hourShape is the share of a day's traffic each UTC hour carries: a
// business day with a lunch dip and a quiet night.
var hourShape = func() [24]float64 {
	raw := [24]float64{1, 1, 1, 1, 1, 1.5, 3, 6, 9, 10, 10, 9, 7, 9, 10, 10, 9, 7, 5, 3.5, 2.5, 2, 1.5, 1}
	var sum float64
	for _, v := range raw {
		sum += v
	}
	for i := range raw {
		raw[i] /= sum
	}
	return raw
}()

// noise is a deterministic factor in [0.85, 1.15] for a profile and hour.
func noise(name string, hour int64) float64 {
	h := fnv.New64a()
	fmt.Fprintf(h, "%s/%d", name, hour)
	return 0.85 + 0.3*float64(h.Sum64()%10_000)/10_000
}

// History returns the records of the days before now's hour (the last
// hour before it included), and the spike it injected (zero when days is
// 0). Profiles without a demo spend or a price are left out.
func History(cat *catalog.Catalog, profiles []HistoryProfile, days int, now time.Time) ([]ledger.Record, Spike, error) {
	if days <= 0 {
		return nil, Spike{}, nil
	}
	end := now.UTC().Truncate(time.Hour)
	start := end.Add(-time.Duration(days) * 24 * time.Hour)
	monthStart := time.Date(end.Year(), end.Month(), 1, 0, 0, 0, 0, time.UTC)
	spike := Spike{Profile: SpikeProfile, Start: end.Add(-(spikeHours + 1) * time.Hour), End: end.Add(-time.Hour)}
	if spike.Start.Before(start) {
		spike.Start = start
	}
	var out []ledger.Record
	var spikeRecs []int
	var monthToDate money.Amount
	for _, p := range profiles {
		daily, ok := dailyUSD[p.Name]
		if !ok {
			continue
		}
		m, ok := cat.Model(p.ModelID)
		if !ok {
			continue
		}
		for t := start; t.Before(end); t = t.Add(time.Hour) {
			price, ok := m.PriceAt(t)
			if !ok {
				continue
			}
			age := end.Sub(t).Hours() / 24 / float64(days) // 1 at the start, 0 now
			usd := daily * (1 - age/3) * hourShape[t.Hour()] * noise(p.Name, t.Unix())
			if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
				usd *= 0.35
			}
			r, ok := hourRecord(p, price, t, usd, "demo-history-")
			if !ok {
				continue
			}
			if p.Name == SpikeProfile && !t.Before(spike.Start) && t.Before(spike.End) {
				spikeRecs = append(spikeRecs, len(out))
			}
			if p.Name == SpikeProfile && !t.Before(monthStart) {
				monthToDate += r.Cost
			}
			out = append(out, r)
		}
	}
	// The spike: enough on top of the sales chat's month so far to pass
	// its budget by 15%, and never less than ten times its usual hours.
	if len(spikeRecs) > 0 {
		var usual money.Amount
		for _, i := range spikeRecs {
			usual += out[i].Cost
		}
		extra := max(SalesChatBudget*115/100-monthToDate, 10*usual)
		per := float64(extra) / float64(len(spikeRecs)) / float64(money.Dollar)
		for _, i := range spikeRecs {
			r := out[i]
			m, _ := cat.Model(r.ModelID)
			price, _ := m.PriceAt(r.Time)
			p := HistoryProfile{Name: SpikeProfile, ARN: r.ProfileARN, ID: r.ProfileID, Account: r.Account, Region: r.Region, ModelID: r.ModelID, Tags: r.Tags}
			sr, ok := hourRecord(p, price, r.Time.Truncate(time.Hour), per, "demo-spike-")
			if ok {
				spike.Extra += sr.Cost
				out = append(out, sr)
			}
		}
	}
	return out, spike, nil
}

// hourRecord is one hour of a profile's traffic costing about usd
// dollars: four input tokens for every output token, in as many calls as
// callsFor gives.
func hourRecord(p HistoryProfile, price catalog.Price, hour time.Time, usd float64, prefix string) (ledger.Record, bool) {
	perIn, perOut := float64(price.Input.Cost(1_000_000)), float64(price.Output.Cost(1_000_000))
	if perIn+perOut/4 <= 0 || usd <= 0 {
		return ledger.Record{}, false
	}
	in := int64(math.Round(usd * float64(money.Dollar) * 1_000_000 / (perIn + perOut/4)))
	outTok := in / 4
	b, ok := pricing.Compute(price, pricing.Tokens{Input: in, Output: outTok})
	if !ok {
		return ledger.Record{}, false
	}
	return ledger.Record{
		RequestID: fmt.Sprintf("%s%s-%d", prefix, p.ID, hour.Unix()),
		Time:      hour.Add(30 * time.Minute), Account: p.Account, Region: p.Region, PrincipalID: "demo-history",
		ProfileARN: p.ARN, ProfileID: p.ID, ModelID: p.ModelID, Provider: "demo-history", Operation: "Converse",
		InputTokens: in, OutputTokens: outTok, LatencyMs: 1200, Attempts: 1, Outcome: ledger.OutcomeSuccess, RegionServed: p.Region,
		Cost: b.Total(), InputCost: b.Input, OutputCost: b.Output, Priced: true, Tags: tags.Set(p.Tags),
		Calls: callsFor(p.Name, in),
	}, true
}
