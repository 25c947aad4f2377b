package pricing

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math/big"
	"slices"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Commitment is a reserved-capacity commitment: Bedrock's Reserved tier
// bills a fixed price per 1,000 tokens per minute (TPM) of capacity per
// month, whatever is used; overflow is served, and priced, at Standard.
// Tollgate turns it into one fixed-cost ledger record per hour, allocated
// to the application profile that owns the capacity, so budgets, Cost
// Explorer and chargeback include it.
type Commitment struct {
	// ID names the commitment; hourly records are "commitment/<ID>/<hour>".
	ID string
	// Profile is the ARN of the application inference profile that owns
	// the capacity: its account, region and tags are the records'.
	Profile string
	// Model is the foundation model reserved.
	Model string
	// From and To bound the term, [From, To), whole UTC hours.
	From, To time.Time
	// TPM is the tokens per minute reserved.
	TPM int64
	// PricePerThousandTPM is the monthly price of 1,000 TPM.
	PricePerThousandTPM money.Amount
	// Source says where the price comes from.
	Source string
	// Origin is "<file>:<line>".
	Origin string
}

// Monthly returns the commitment's monthly fee: TPM/1000 × the price.
func (c Commitment) Monthly() money.Amount {
	v := new(big.Int).Mul(big.NewInt(c.TPM), big.NewInt(int64(c.PricePerThousandTPM)))
	return money.Amount(new(big.Int).Quo(v, big.NewInt(1000)).Int64())
}

// HourCost returns the fixed cost of hour h (a whole UTC hour in the
// term): the monthly fee spread over the hours of h's calendar month so
// that the hours of a month sum to the fee exactly (the first hours carry
// the remainder's nano-dollars).
func (c Commitment) HourCost(h time.Time) money.Amount {
	start := time.Date(h.Year(), h.Month(), 1, 0, 0, 0, 0, time.UTC)
	hours := int64(start.AddDate(0, 1, 0).Sub(start) / time.Hour)
	i := int64(h.Sub(start) / time.Hour)
	fee := int64(c.Monthly())
	return money.Amount((i+1)*fee/hours - i*fee/hours)
}

// Version is the price version of the commitment's records.
func (c Commitment) Version() string { return "commitment/" + c.ID }

// Records returns the fixed-cost records of the hours of the term in
// [from, to), tagged t (the owning profile's tags).
func (c Commitment) Records(from, to time.Time, t tags.Set) []ledger.Record {
	a, err := arn.Parse(c.Profile)
	if err != nil {
		return nil
	}
	from, to = maxTime(from, c.From).Truncate(time.Hour), minTime(to, c.To)
	var out []ledger.Record
	for h := from; h.Before(to); h = h.Add(time.Hour) {
		cost := c.HourCost(h)
		out = append(out, ledger.Record{RequestID: "commitment/" + c.ID + "/" + h.Format("2006-01-02T15"), Time: h,
			Account: a.Account, Region: a.Region, RegionServed: a.Region, ProfileARN: c.Profile, ProfileID: a.ID(),
			ModelID: c.Model, Provider: "reserved", Operation: ledger.OpFixedCost, ServiceTier: catalog.TierReserved,
			Outcome: ledger.OutcomeSuccess, Priced: true, Cost: cost, FixedCost: cost, PriceVersion: c.Version(), Tags: t})
	}
	return out
}

func maxTime(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}

func minTime(a, b time.Time) time.Time {
	if a.Before(b) {
		return a
	}
	return b
}

var commitmentKeys = []string{"id", "profile", "model", "from", "to", "tokensPerMinute", "pricePerThousandTPMMonth", "source"}

// ParseCommitments reads the commitments: section of a price file named
// name (the prices: section is catalog.ParsePrices'):
//
//	commitments:
//	  - id: sonnet-q1
//	    profile: arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123
//	    model: anthropic.claude-sonnet-4-5-20250929-v1:0
//	    from: 2026-01-01
//	    to: 2026-04-01
//	    tokensPerMinute: 100000
//	    pricePerThousandTPMMonth: "45.00"
//	    source: "Reserved tier order 123"
//
// Every problem is reported with its line; the model must be in c.
func ParseCommitments(name string, data []byte, c *catalog.Catalog) ([]Commitment, error) {
	var doc struct {
		Prices      yaml.Node   `yaml:"prices"`
		Commitments []yaml.Node `yaml:"commitments"`
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&doc); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	var errs []error
	fail := func(line int, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s:%d: "+format, append([]any{name, line}, args...)...))
	}
	var out []Commitment
	for i := range doc.Commitments {
		n := &doc.Commitments[i]
		if n.Kind != yaml.MappingNode {
			fail(n.Line, "a commitment must be a mapping")
			continue
		}
		bad := false
		for j := 0; j+1 < len(n.Content); j += 2 {
			if k := n.Content[j]; !slices.Contains(commitmentKeys, k.Value) {
				fail(k.Line, "unknown field %q (known: %s)", k.Value, strings.Join(commitmentKeys, ", "))
				bad = true
			}
		}
		var d struct {
			ID      string `yaml:"id"`
			Profile string `yaml:"profile"`
			Model   string `yaml:"model"`
			From    string `yaml:"from"`
			To      string `yaml:"to"`
			TPM     int64  `yaml:"tokensPerMinute"`
			Price   string `yaml:"pricePerThousandTPMMonth"`
			Source  string `yaml:"source"`
		}
		if err := n.Decode(&d); err != nil {
			fail(n.Line, "%v", err)
			continue
		}
		if bad {
			continue
		}
		cm := Commitment{ID: d.ID, Profile: d.Profile, Model: d.Model, TPM: d.TPM, Source: d.Source, Origin: fmt.Sprintf("%s:%d", name, n.Line)}
		problem := func(format string, args ...any) {
			fail(n.Line, "commitment %q: "+format, append([]any{d.ID}, args...)...)
		}
		if d.ID == "" || strings.ContainsAny(d.ID, "/ ") {
			problem("id must be non-empty, without '/' or spaces")
		}
		if a, err := arn.Bedrock(d.Profile, arn.TypeApplicationProfile); err != nil || a.Region == "" || a.Account == "" {
			problem("profile %q is not an application inference profile ARN", d.Profile)
		}
		if _, ok := c.Model(d.Model); !ok {
			problem("model %q is not in the catalogue", d.Model)
		}
		var err error
		if cm.From, err = time.Parse(time.DateOnly, d.From); err != nil {
			problem("from %q is not a date (YYYY-MM-DD)", d.From)
		}
		if cm.To, err = time.Parse(time.DateOnly, d.To); err != nil {
			problem("to %q is not a date (YYYY-MM-DD)", d.To)
		} else if !cm.To.After(cm.From) {
			problem("to is not after from")
		}
		if d.TPM <= 0 {
			problem("tokensPerMinute must be positive")
		}
		if cm.PricePerThousandTPM, err = money.Parse(d.Price); err != nil || cm.PricePerThousandTPM <= 0 {
			problem("pricePerThousandTPMMonth %q is not a positive decimal dollar amount", d.Price)
		}
		if strings.TrimSpace(d.Source) == "" {
			problem("missing source")
		}
		for _, o := range out {
			if o.ID == d.ID {
				problem("id repeats the commitment at %s", o.Origin)
			}
		}
		out = append(out, cm)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return out, nil
}
