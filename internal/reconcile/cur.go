package reconcile

import (
	"bufio"
	"compress/gzip"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// Reading a CUR 2.0 export.
//
// A path is one file or a directory, walked recursively as AWS lays an
// export out in S3 (data/BILLING_PERIOD=2026-11/<name>-00001.csv.gz);
// files ending .csv, .csv.gz or .parquet are read, anything else (the
// manifests, metadata) is skipped. Columns are found by their CUR 2.0
// names, in any order, among the others an export has.
//
// A line item is kept when line_item_line_item_type is "Usage", it is
// Bedrock's — line_item_product_code (or product_servicecode) is one of
// the Price List service codes that hold Bedrock (AmazonBedrock,
// AmazonBedrockService, AmazonBedrockFoundationModels), or its product
// name (CUR 2.0's product['product_name'], or a product_product_name
// column) is an AWS Marketplace "… (Amazon Bedrock Edition)" product,
// whose product code is the Marketplace's own — and its
// line_item_usage_start_date is in [from, to). Credits, refunds, taxes,
// discounts and Savings Plans lines are not usage and are left out.
//
// Amounts are decimal strings parsed exactly (a Parquet DOUBLE is first
// written as the shortest decimal that reads back as the same double):
// line_item_unblended_cost is rounded half away from zero to the
// nano-dollar (CUR writes up to about ten decimals), the usage amount of
// a "1K tokens" line to the token (× 1,000), of a marketplace usage type
// ("…-MP:…-Units") in "1M tokens" or "Units" to the token (× 1,000,000:
// the Price List prices those usage types per million tokens), of any
// other unit to its thousandth. resource_tags is CUR 2.0's map column — in CSV a JSON
// object such as {"user_dept":"claims"} — whose "user_" keys are the
// user-defined cost-allocation tags (the prefix is dropped); AWS's own
// "aws_" tags are ignored. Legacy Athena-style resource_tags_user_<key>
// columns are read too.

// BedrockServiceCodes are the product codes whose line items are read.
var BedrockServiceCodes = []string{"AmazonBedrock", "AmazonBedrockService", "AmazonBedrockFoundationModels"}

// userTagPrefix prefixes user-defined cost-allocation tag keys in CUR 2.0.
const userTagPrefix = "user_"

// MarketplaceProductSuffix ends the product name of every model AWS
// Marketplace bills through Bedrock ("Claude Sonnet 4.5 (Amazon Bedrock
// Edition)").
const MarketplaceProductSuffix = " (Amazon Bedrock Edition)"

// productNameKey is the product name's key in CUR 2.0's product map.
const productNameKey = "product_name"

// CUR is what was read from an export.
type CUR struct {
	// Lines are the Bedrock usage line items in the period.
	Lines []Line
	// TagKeys are the user tag keys (without "user_") seen on any Bedrock
	// usage line: the keys activated for cost allocation.
	TagKeys map[string]bool
	// Files are the files read.
	Files []string
	// Skipped counts the line items read and left out (not Bedrock
	// usage, or outside the period).
	Skipped int
}

// Read reads the CUR 2.0 export at path (a file or a directory) and
// keeps the Bedrock usage line items starting in [from, to) (a zero bound
// is open).
func Read(path string, from, to time.Time) (*CUR, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("reconcile: %w", err)
	}
	var files []string
	if st.IsDir() {
		err := filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				return err
			}
			if !d.IsDir() && curFile(p) {
				files = append(files, p)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("reconcile: %w", err)
		}
		if len(files) == 0 {
			return nil, fmt.Errorf("reconcile: %s: no .csv, .csv.gz or .parquet file in the directory", path)
		}
		slices.Sort(files)
	} else {
		if !curFile(path) {
			return nil, fmt.Errorf("reconcile: %s: not a CUR 2.0 export file (want .csv, .csv.gz or .parquet)", path)
		}
		files = []string{path}
	}
	c := &CUR{TagKeys: map[string]bool{}, Files: files}
	for _, f := range files {
		var err error
		if strings.HasSuffix(strings.ToLower(f), ".parquet") {
			err = c.readParquet(f, from, to)
		} else {
			err = c.readCSV(f, from, to)
		}
		if err != nil {
			return nil, err
		}
	}
	return c, nil
}

func curFile(p string) bool {
	l := strings.ToLower(p)
	return strings.HasSuffix(l, ".csv") || strings.HasSuffix(l, ".csv.gz") || strings.HasSuffix(l, ".parquet")
}

// Column names.
const (
	colStart     = "line_item_usage_start_date"
	colType      = "line_item_line_item_type"
	colProduct   = "line_item_product_code"
	colService   = "product_servicecode"
	colResource  = "line_item_resource_id"
	colUsageType = "line_item_usage_type"
	colAmount    = "line_item_usage_amount"
	colUnit      = "pricing_unit"
	colRate      = "line_item_unblended_rate"
	colCost      = "line_item_unblended_cost"
	colTags      = "resource_tags"
	colProductM  = "product"              // CUR 2.0's product map
	colProdName  = "product_product_name" // the product name as its own column
	legacyTag    = "resource_tags_user_"
)

// required are the columns an export must have.
var required = []string{colStart, colType, colResource, colUsageType, colAmount, colUnit, colCost}

// item is one line item's fields as strings.
type item struct {
	start, typ, product, service, resource, usageType, amount, unit, rate, cost string
	tags                                                                        map[string]string
	tagsJSON                                                                    string
	productName                                                                 string // product['product_name']
	productJSON                                                                 string // the product map, in CSV
}

// marketplaceUsageType reports whether ut is an AWS Marketplace usage type
// ("USE1-MP:USE1_InputTokenCount-Units").
func marketplaceUsageType(ut string) bool {
	return strings.Contains(ut, "-MP:") || strings.HasPrefix(ut, "MP:")
}

// InTokens reports whether a Line's Usage of usage type ut in pricing
// unit unit is in tokens (rather than thousandths of the unit): "tokens",
// "1K tokens", and for a marketplace usage type "1M tokens" or "Units".
func InTokens(unit, ut string) bool {
	switch {
	case strings.EqualFold(unit, "tokens"), strings.EqualFold(unit, "1K tokens"):
		return true
	case marketplaceUsageType(ut):
		return unit == "1M tokens" || strings.EqualFold(unit, "Units")
	}
	return false
}

// keep converts it into a Line, or reports false when it is not Bedrock
// usage in [from, to).
func (c *CUR) keep(it *item, from, to time.Time) (Line, bool, error) {
	if it.typ != "Usage" {
		return Line{}, false, nil
	}
	if it.productName == "" && it.productJSON != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(it.productJSON), &m); err != nil {
			return Line{}, false, fmt.Errorf("%s %q: not a JSON object of strings", colProductM, it.productJSON)
		}
		it.productName = m[productNameKey]
	}
	if !slices.Contains(BedrockServiceCodes, it.product) && !slices.Contains(BedrockServiceCodes, it.service) &&
		!strings.HasSuffix(it.productName, MarketplaceProductSuffix) {
		return Line{}, false, nil
	}
	start, err := parseTime(it.start)
	if err != nil {
		return Line{}, false, fmt.Errorf("%s %q: %w", colStart, it.start, err)
	}
	scale := 3
	switch {
	case strings.EqualFold(it.unit, "tokens"):
		scale = 0
	case marketplaceUsageType(it.usageType) && (it.unit == "1M tokens" || strings.EqualFold(it.unit, "Units")):
		scale = 6 // millions of tokens, to the token
	}
	usage, err := ParseDecimal(it.amount, scale)
	if err != nil {
		return Line{}, false, fmt.Errorf("%s %q: %w", colAmount, it.amount, err)
	}
	cost, err := ParseDecimal(it.cost, 9)
	if err != nil {
		return Line{}, false, fmt.Errorf("%s %q: %w", colCost, it.cost, err)
	}
	if it.rate != "" {
		if _, err := ParseDecimal(it.rate, 9); err != nil {
			return Line{}, false, fmt.Errorf("%s %q: %w", colRate, it.rate, err)
		}
	}
	if it.usageType == "" {
		return Line{}, false, fmt.Errorf("%s is empty", colUsageType)
	}
	tg := it.tags
	if it.tagsJSON != "" {
		var m map[string]string
		if err := json.Unmarshal([]byte(it.tagsJSON), &m); err != nil {
			return Line{}, false, fmt.Errorf("%s %q: not a JSON object of strings", colTags, it.tagsJSON)
		}
		for k, v := range m {
			if tg == nil {
				tg = map[string]string{}
			}
			tg[k] = v
		}
	}
	if !from.IsZero() && start.Before(from) || !to.IsZero() && !start.Before(to) {
		return Line{}, false, nil // checked whole first: a malformed line is an error in any period
	}
	var tags map[string]string
	for k, v := range tg {
		if key, ok := strings.CutPrefix(k, userTagPrefix); ok && key != "" {
			c.TagKeys[key] = true
			if v == "" {
				continue // an activated key the resource does not carry
			}
			if tags == nil {
				tags = map[string]string{}
			}
			tags[key] = v
		}
	}
	return Line{Start: start, UsageType: it.usageType, ResourceID: it.resource, Tags: tags, Unit: it.unit, Usage: usage,
		Cost: money.Amount(cost)}, true, nil
}

func (c *CUR) add(it *item, from, to time.Time) error {
	l, ok, err := c.keep(it, from, to)
	if err != nil {
		return err
	}
	if !ok {
		c.Skipped++
		return nil
	}
	c.Lines = append(c.Lines, l)
	return nil
}

// timeLayouts are the forms line_item_usage_start_date takes: CUR 2.0's
// CSV writes "2026-11-01T00:00:00.000Z", Athena "2026-11-01 00:00:00.000".
var timeLayouts = []string{time.RFC3339Nano, "2006-01-02T15:04:05.000Z0700", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999"}

func parseTime(s string) (time.Time, error) {
	for _, l := range timeLayouts {
		if t, err := time.Parse(l, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, errors.New("not a date and time (want RFC 3339, e.g. 2026-11-01T00:00:00.000Z)")
}

// ParseDecimal reads a decimal string ("12.5", "-0.0000000004", "3") as
// an integer of scale decimal places, rounding the digits beyond them
// half away from zero, without floating point: ParseDecimal("0.0000000125",
// 9) is 13 (nano-dollars). An empty string, a stray character or an
// overflow is an error.
func ParseDecimal(s string, scale int) (int64, error) {
	if s == "" {
		return 0, errors.New("empty")
	}
	neg := false
	switch s[0] {
	case '-':
		neg, s = true, s[1:]
	case '+':
		s = s[1:]
	}
	whole, frac, _ := strings.Cut(s, ".")
	if whole == "" && frac == "" {
		return 0, errors.New("not a decimal number")
	}
	var v uint64
	const limit = math.MaxInt64
	push := func(c byte) error {
		if c < '0' || c > '9' {
			return errors.New("not a decimal number")
		}
		if v > (limit-uint64(c-'0'))/10 {
			return errors.New("out of range")
		}
		v = v*10 + uint64(c-'0')
		return nil
	}
	for i := 0; i < len(whole); i++ {
		if err := push(whole[i]); err != nil {
			return 0, err
		}
	}
	for i := 0; i < scale; i++ {
		c := byte('0')
		if i < len(frac) {
			c = frac[i]
		}
		if err := push(c); err != nil {
			return 0, err
		}
	}
	if len(frac) > scale {
		rest := frac[scale:]
		for i := 0; i < len(rest); i++ {
			if rest[i] < '0' || rest[i] > '9' {
				return 0, errors.New("not a decimal number")
			}
		}
		if rest[0] >= '5' {
			if v == limit {
				return 0, errors.New("out of range")
			}
			v++
		}
	}
	if neg {
		return -int64(v), nil
	}
	return int64(v), nil
}

func (c *CUR) readCSV(path string, from, to time.Time) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	defer f.Close()
	var r io.Reader = bufio.NewReaderSize(f, 64<<10)
	if strings.HasSuffix(strings.ToLower(path), ".gz") {
		gz, err := gzip.NewReader(r)
		if err != nil {
			return fmt.Errorf("reconcile: %s: %w", path, err)
		}
		defer gz.Close()
		r = gz
	}
	cr := csv.NewReader(r)
	cr.ReuseRecord = true
	head, err := cr.Read()
	if err != nil {
		if err == io.EOF {
			return fmt.Errorf("reconcile: %s: empty file, want a CUR 2.0 header row", path)
		}
		return fmt.Errorf("reconcile: %s: %w", path, err)
	}
	idx := map[string]int{}
	legacy := map[int]string{}
	for i, h := range head {
		h = strings.TrimPrefix(h, "\ufeff")
		idx[h] = i
		if k, ok := strings.CutPrefix(h, legacyTag); ok {
			legacy[i] = userTagPrefix + k
		}
	}
	for _, col := range required {
		if _, ok := idx[col]; !ok {
			return fmt.Errorf("reconcile: %s:1: no %s column: not a CUR 2.0 export", path, col)
		}
	}
	get := func(rec []string, col string) string {
		if i, ok := idx[col]; ok && i < len(rec) {
			return rec[i]
		}
		return ""
	}
	for {
		rec, err := cr.Read()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				return fmt.Errorf("reconcile: %s:%d: %w", path, pe.Line, pe.Err)
			}
			return fmt.Errorf("reconcile: %s: %w", path, err)
		}
		line, _ := cr.FieldPos(0)
		it := item{start: get(rec, colStart), typ: get(rec, colType), product: get(rec, colProduct), service: get(rec, colService),
			resource: get(rec, colResource), usageType: get(rec, colUsageType), amount: get(rec, colAmount), unit: get(rec, colUnit),
			rate: get(rec, colRate), cost: get(rec, colCost), tagsJSON: get(rec, colTags),
			productName: get(rec, colProdName), productJSON: get(rec, colProductM)}
		for i, k := range legacy {
			if i < len(rec) && rec[i] != "" {
				if it.tags == nil {
					it.tags = map[string]string{}
				}
				it.tags[k] = rec[i]
			}
		}
		if err := c.add(&it, from, to); err != nil {
			return fmt.Errorf("reconcile: %s:%d: %w", path, line, err)
		}
	}
}
