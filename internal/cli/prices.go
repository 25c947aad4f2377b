package cli

import (
	"context"
	"encoding/csv"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

const pricesUsage = `Usage: tollgate prices [--date YYYY-MM-DD] [-o table|json|yaml|csv] [--catalog F] [--prices-file F]

List the prices in force on a date (default today, UTC): for every model,
each price that some call would be charged at, with the endpoint scopes,
service tier, latency mode and source regions it applies to, its rates in
USD per 1,000 tokens, its long-context tier, its version and where it
came from (the catalogue's cited source, or the override file and line).
Combinations without a row are unpriced: such calls are recorded unpriced.
Reads no database: the embedded catalogue, --catalog (TOLLGATE_CATALOG)
and --prices-file (TOLLGATE_PRICES_FILE), checked as serve checks them.

Examples:
  tollgate prices
  tollgate prices --date 2026-11-01 -o csv
  tollgate prices --prices-file negotiated.yaml -o json
`

// pricesCmd lists the prices in force on a date.
func pricesCmd(_ context.Context, args []string, env Env) error {
	fs := newFlagSet("tollgate prices", pricesUsage, env)
	out := registerOutput(fs)
	dateFlag := fs.String("date", "", "the date, YYYY-MM-DD (default: today, UTC)")
	catalogFile := fs.String("catalog", env.Getenv("TOLLGATE_CATALOG"), "catalogue override YAML file")
	pricesFile := fs.String("prices-file", env.Getenv("TOLLGATE_PRICES_FILE"), "price overrides YAML file")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "prices"); err != nil {
		return err
	}
	at := time.Now().UTC().Truncate(24 * time.Hour)
	if *dateFlag != "" {
		d, err := time.Parse(time.DateOnly, *dateFlag)
		if err != nil {
			return Usagef("prices", "prices: --date %q: want YYYY-MM-DD", *dateFlag)
		}
		at = d
	}
	cat, err := pricesCatalog(*catalogFile, *pricesFile)
	if err != nil {
		return err
	}
	rows := PricesInForce(cat, at)
	switch out.format {
	case "table":
		return writePricesTable(env.Stdout, at, rows)
	case "csv":
		return writePricesCSV(env.Stdout, rows)
	}
	return renderObject(env.Stdout, out.format, struct {
		Date   string     `json:"date"`
		Prices []PriceRow `json:"prices"`
	}{at.Format(time.DateOnly), rows})
}

// pricesCatalog is the embedded catalogue with the catalogue and price
// files laid over it.
func pricesCatalog(catalogFile, pricesFile string) (*catalog.Catalog, error) {
	cat := catalog.Default()
	if catalogFile != "" {
		data, err := os.ReadFile(catalogFile)
		if err != nil {
			return nil, fmt.Errorf("prices: %w", err)
		}
		over, err := catalog.Parse(data)
		if err != nil {
			return nil, err
		}
		cat = cat.Merge(over)
	}
	if pricesFile == "" {
		return cat, nil
	}
	data, err := os.ReadFile(pricesFile)
	if err != nil {
		return nil, fmt.Errorf("prices: %w", err)
	}
	prices, err := catalog.ParsePrices(pricesFile, data)
	if err != nil {
		return nil, err
	}
	return cat.WithPrices(prices)
}

// PriceRow is one price in force: the rates, in USD per 1,000 tokens as
// exact decimals ("" where the price has none: an image model's), its
// per-unit prices, and what it applies to.
type PriceRow struct {
	Model        string   `json:"model"`
	Effective    string   `json:"effective"`
	Scopes       []string `json:"scopes"`
	Tier         string   `json:"tier"`
	Latency      string   `json:"latency"`
	Regions      []string `json:"regions,omitempty"`
	Input        string   `json:"input"`
	Output       string   `json:"output"`
	CacheRead    string   `json:"cacheRead"`
	CacheWrite   string   `json:"cacheWrite"`
	CacheWrite1h string   `json:"cacheWrite1h"`
	LongAbove    int64    `json:"longContextAbove,omitempty"`
	LongInput    string   `json:"longContextInput,omitempty"`
	LongOutput   string   `json:"longContextOutput,omitempty"`
	// Units are the per-unit prices, "<kind>=<USD>" (such as
	// "image-premium-2048x2048=0.08"), USD per image.
	Units   []string `json:"units,omitempty"`
	Version string   `json:"version"`
	Source  string   `json:"source"`
	Origin  string   `json:"origin"` // "catalog" or "<file>:<line>"
}

// PricesInForce returns, per model, the prices some call would be charged
// at on date at: each combination of scope, tier, latency mode and source
// region a model's prices name is looked up, and the distinct prices found
// are listed, with the scopes each serves.
func PricesInForce(cat *catalog.Catalog, at time.Time) []PriceRow {
	var rows []PriceRow
	for _, m := range cat.Models() {
		tiers, latencies, regions := []string{""}, []string{""}, []string{""}
		for _, p := range m.Prices {
			if p.Tier != "" && !slices.Contains(tiers, p.Tier) {
				tiers = append(tiers, p.Tier)
			}
			if p.Latency != "" && !slices.Contains(latencies, p.Latency) {
				latencies = append(latencies, p.Latency)
			}
			for _, r := range p.Regions {
				if !slices.Contains(regions, r) {
					regions = append(regions, r)
				}
			}
		}
		type found struct {
			p      catalog.Price
			scopes []string
		}
		var seen []*found
		for _, tier := range tiers {
			for _, lat := range latencies {
				for _, region := range regions {
					for _, scope := range catalog.Scopes {
						p, ok := m.PriceFor(catalog.Dims{Scope: scope, Tier: tier, Latency: lat, Region: region}, at)
						if !ok {
							continue
						}
						v := pricing.Version(p)
						i := slices.IndexFunc(seen, func(f *found) bool { return pricing.Version(f.p) == v })
						if i < 0 {
							seen = append(seen, &found{p: p})
							i = len(seen) - 1
						}
						if !slices.Contains(seen[i].scopes, scope) {
							seen[i].scopes = append(seen[i].scopes, scope)
						}
					}
				}
			}
		}
		for _, f := range seen {
			rows = append(rows, rowOf(m.ID, f.p, f.scopes))
		}
	}
	return rows
}

func rowOf(model string, p catalog.Price, scopes []string) PriceRow {
	rate := func(v money.PerThousand, ok bool) string {
		if !ok {
			return ""
		}
		return money.Amount(v).Decimal(2)
	}
	r := PriceRow{Model: model, Effective: p.Effective.Format(time.DateOnly), Scopes: scopes, Tier: p.Tier, Latency: p.Latency,
		Regions: p.Regions, Input: rate(p.Input, !p.NoTokens), Output: rate(p.Output, !p.NoTokens), CacheRead: rate(p.CacheRead, p.HasCache),
		CacheWrite: rate(p.CacheWrite, p.HasCache), CacheWrite1h: rate(p.CacheWrite1h, p.HasCache1h),
		Version: pricing.Version(p), Source: p.Source, Origin: p.Origin}
	if r.Tier == "" {
		r.Tier = catalog.TierDefault
	}
	if r.Latency == "" {
		r.Latency = "standard"
	}
	if r.Origin == "" {
		r.Origin = "catalog"
	}
	if lc := p.LongContext; lc != nil {
		r.LongAbove, r.LongInput, r.LongOutput = lc.Above, rate(lc.Input, true), rate(lc.Output, true)
	}
	for _, u := range p.Units {
		r.Units = append(r.Units, u.Kind()+"="+u.Price.Decimal(2))
	}
	return r
}

func writePricesTable(w io.Writer, at time.Time, rows []PriceRow) error {
	fmt.Fprintf(w, "Prices in force on %s (USD per 1,000 tokens)\n", at.Format(time.DateOnly))
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "MODEL\tSCOPES\tTIER\tLATENCY\tINPUT\tOUTPUT\tCACHE READ\tWRITE 5M\tWRITE 1H\tLONG CONTEXT\tEFFECTIVE\tORIGIN\tSOURCE")
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	for _, r := range rows {
		long := "-"
		if r.LongAbove > 0 {
			long = fmt.Sprintf(">%d: %s/%s", r.LongAbove, r.LongInput, r.LongOutput)
		}
		scopes := strings.Join(r.Scopes, ",")
		if len(r.Regions) > 0 {
			scopes += " from " + strings.Join(r.Regions, ",")
		}
		input := dash(r.Input)
		if len(r.Units) > 0 && r.Input == "" {
			// An image model: its per-image prices in place of token rates.
			input = "per image: " + strings.Join(r.Units, " ")
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", r.Model, scopes, r.Tier, r.Latency, input, dash(r.Output),
			dash(r.CacheRead), dash(r.CacheWrite), dash(r.CacheWrite1h), long, r.Effective, r.Origin, r.Source)
	}
	return tw.Flush()
}

func writePricesCSV(w io.Writer, rows []PriceRow) error {
	cw := csv.NewWriter(w)
	_ = cw.Write([]string{"model", "effective", "scopes", "tier", "latency", "regions", "input", "output", "cache_read",
		"cache_write", "cache_write_1h", "long_context_above", "long_context_input", "long_context_output", "version", "origin", "source",
		"units"})
	for _, r := range rows {
		above := ""
		if r.LongAbove > 0 {
			above = fmt.Sprint(r.LongAbove)
		}
		_ = cw.Write([]string{r.Model, r.Effective, strings.Join(r.Scopes, " "), r.Tier, r.Latency, strings.Join(r.Regions, " "),
			r.Input, r.Output, r.CacheRead, r.CacheWrite, r.CacheWrite1h, above, r.LongInput, r.LongOutput, r.Version, r.Origin, r.Source,
			strings.Join(r.Units, " ")})
	}
	cw.Flush()
	return cw.Error()
}
