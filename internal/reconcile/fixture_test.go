package reconcile_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"maps"
	"math/big"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/demo"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// The fixture generator. testdata/cur2-demo.csv is a CUR 2.0 export (the
// AWS column layout, a few of the ~120 columns AWS writes besides the
// ones reconcile reads, hourly line items, one per hour × usage type ×
// resource) of the demo's history for FixtureNow's two days, with five
// deliberate discrepancies (Injections). Claude's lines are AWS
// Marketplace's: marketplace usage types in "1M tokens", the product name
// in the product map and a Marketplace product code of their own (the
// codes here are placeholders: AWS's are not published). TestFixture
// checks the file is what the generator writes; `go test
// ./internal/reconcile -run TestFixture -update` rewrites it.

var update = flag.Bool("update", false, "rewrite testdata/cur2-demo.csv")

// FixtureNow is the fixed "now" of the demo history: two days, the 2nd
// and 3rd of November 2026 (a Monday and a Tuesday).
var FixtureNow = time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC)

const account = "111111111111"

// demoProfiles are five of the demo's six profiles (internal/demo's
// Profiles, whose fields are unexported; policy-recs-dev, the smallest,
// is left out to keep the fixture under 256 KB), with the foundation
// models the history prices them at.
func demoProfiles() []demo.HistoryProfile {
	base := map[string]string{"tenant": "acme-insurance"}
	mk := func(name, id, model string, tg ...string) demo.HistoryProfile {
		t := maps.Clone(base)
		for i := 0; i < len(tg); i += 2 {
			t[tg[i]] = tg[i+1]
		}
		return demo.HistoryProfile{Name: name, ID: id, ARN: "arn:aws:bedrock:us-east-1:" + account + ":application-inference-profile/" + id,
			Account: account, Region: "us-east-1", ModelID: model, Tags: t}
	}
	return []demo.HistoryProfile{
		mk("claims-chatbot-prod", "c1a1m5b0tpr0", "anthropic.claude-3-haiku-20240307-v1:0", "dept", "claims", "team", "automation", "app", "claims_chatbot", "cost_center", "CC-1001", "environment", "prod"),
		mk("sales-chat-prod", "5a1e5c4a7pr0", "anthropic.claude-3-5-haiku-20241022-v1:0", "dept", "sales", "team", "support", "app", "chat_app", "cost_center", "CC-2002", "environment", "prod"),
		mk("policy-recs-prod", "p011cyrecpr0", "amazon.nova-pro-v1:0", "dept", "underwriting", "team", "personalization", "app", "policy_recommendations", "cost_center", "CC-3003", "environment", "prod"),
		mk("risk-assessment-dev", "r15ka55esdev", "meta.llama3-1-8b-instruct-v1:0", "dept", "risk", "team", "actuarial", "app", "risk_assessment", "cost_center", "CC-4004", "environment", "dev"),
		mk("risk-assessment-prod", "r15ka55espr0", "anthropic.claude-3-5-sonnet-20240620-v1:0", "dept", "risk", "team", "actuarial", "app", "risk_assessment", "cost_center", "CC-4004", "environment", "prod"),
	}
}

// fixtureRecords are the ledger side: the demo history of FixtureNow.
func fixtureRecords(t testing.TB) []ledger.Record {
	recs, _, err := demo.History(catalog.Default(), demoProfiles(), 2, FixtureNow)
	if err != nil || len(recs) == 0 {
		t.Fatalf("demo.History: %d records, %v", len(recs), err)
	}
	return recs
}

// activeTags are the tag keys the fixture's payer activated for cost
// allocation: the others (tenant, cost_center, environment) are not, so
// the export carries only these.
var activeTags = []string{"app", "dept", "team"}

// curLine is one line item of the fixture: usage in tokens, the rate in
// nano-USD per 1K tokens; the cost is written exactly (usage × rate, up
// to 12 decimals), as AWS writes more decimals than a nano-dollar.
type curLine struct {
	start              time.Time
	resource, usage    string
	model              string
	tokens             int64
	rate               money.PerThousand
	tags               map[string]string
	product, itemType  string
	productName        string // product['product_name']
	unit, operationTxt string
}

func (l curLine) cost() string {
	p := new(big.Int).Mul(big.NewInt(l.tokens), big.NewInt(int64(l.rate))) // 1e-12 USD
	return fixed(p, 12)
}

// perMillion reports whether l is priced per million tokens.
func (l curLine) perMillion() bool { return l.unit == pricing.MarketplacePricingUnit }

// marketplaceCodes are placeholder Marketplace product codes of the
// fixture's marketplace models.
var marketplaceCodes = map[string]string{
	"anthropic.claude-3-haiku-20240307-v1:0":    "c1aude3ha1ku0fixture0code",
	"anthropic.claude-3-5-haiku-20241022-v1:0":  "c1aude35ha1ku0fixture0cde",
	"anthropic.claude-3-5-sonnet-20240620-v1:0": "c1aude35s0nnet0fixture0cd",
}

// productOf returns the product code and product name of model's lines.
func productOf(t testing.TB, names *pricing.Namer, model string) (code, name string) {
	if mp, ok := names.Marketplace(model); ok {
		code, ok := marketplaceCodes[model]
		if !ok {
			t.Fatalf("no placeholder product code for marketplace model %s", model)
		}
		return code, mp.Product
	}
	return "AmazonBedrock", "Amazon Bedrock"
}

func fixed(u *big.Int, scale int) string {
	s := u.String()
	for len(s) <= scale {
		s = "0" + s
	}
	s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	s = strings.TrimRight(s, "0")
	return strings.TrimSuffix(s, ".")
}

// cleanLines are the hourly line items AWS would bill the records as.
func cleanLines(t testing.TB, recs []ledger.Record) []curLine {
	type key struct {
		hour       time.Time
		res, usage string
	}
	idx := map[key]int{}
	var out []curLine
	names := pricing.NewNamer(catalog.Default())
	for i := range recs {
		r := &recs[i]
		m, _ := catalog.Default().Model(r.ModelID)
		price, ok := m.PriceAt(r.Time)
		if !ok {
			t.Fatalf("no price for %s", r.ModelID)
		}
		tg := map[string]string{}
		for _, k := range activeTags {
			if v, ok := r.Tags[k]; ok {
				tg[k] = v
			}
		}
		for _, l := range pricing.UsageTypes(r) {
			rate := price.Input
			if l.Kind == pricing.Output {
				rate = price.Output
			} else if l.Kind != pricing.Input {
				t.Fatalf("the demo history has only input and output tokens, got %v", l.Kind)
			}
			k := key{r.Time.Truncate(time.Hour), r.ProfileARN, l.UsageType}
			if j, ok := idx[k]; ok {
				out[j].tokens += l.Tokens // the spike's calls share the hour's line item
				continue
			}
			idx[k] = len(out)
			code, name := productOf(t, names, r.ModelID)
			out = append(out, curLine{start: k.hour, resource: r.ProfileARN, usage: l.UsageType, model: r.ModelID, tokens: l.Tokens,
				rate: rate, tags: tg, product: code, productName: name, itemType: "Usage", unit: l.PricingUnit, operationTxt: "InvokeModelInference"})
		}
	}
	slices.SortStableFunc(out, func(a, b curLine) int {
		if c := a.start.Compare(b.start); c != 0 {
			return c
		}
		return strings.Compare(a.resource+a.usage, b.resource+b.usage)
	})
	return out
}

// Injection is one deliberate discrepancy and the row it must produce.
type Injection struct {
	Class               string
	Day                 string
	ResourceID, UsageTy string
}

func arn(id string) string {
	return "arn:aws:bedrock:us-east-1:" + account + ":application-inference-profile/" + id
}

// Injections are the fixture's deliberate discrepancies.
var Injections = []Injection{
	{"wrong-tokens", "2026-11-02", arn("c1a1m5b0tpr0"), "USE1-MP:USE1_OutputTokenCount-Units"},
	{"missing-in-aws", "2026-11-02", arn("r15ka55esdev"), "USE1-Llama3-1-8B-output-tokens"},
	{"wrong-rate", "2026-11-03", arn("p011cyrecpr0"), "USE1-NovaPro-input-tokens"},
	{"tag-mismatch", "2026-11-03", arn("5a1e5c4a7pr0"), "USE1-MP:USE1_OutputTokenCount-Units"},
	{"missing-in-tollgate", "2026-11-03", arn("b7pa55d1rect"), "USE1-MP:USE1_InputTokenCount-Units"},
}

// inject applies Injections to a copy of lines, and adds the rows a real
// export has that reconcile must skip (another service, tax).
func inject(lines []curLine) []curLine {
	day := func(l curLine) string { return l.start.Format(time.DateOnly) }
	var out []curLine
	for _, l := range lines {
		switch {
		case day(l) == "2026-11-02" && l.resource == Injections[0].ResourceID && l.usage == Injections[0].UsageTy && l.start.Hour() == 10:
			l.tokens += 1000 // one more 1K-tokens unit billed than metered
		case day(l) == "2026-11-02" && l.resource == Injections[1].ResourceID && l.usage == Injections[1].UsageTy:
			continue // the day's output of risk-assessment-dev is not on the bill
		case day(l) == "2026-11-03" && l.resource == Injections[2].ResourceID && l.usage == Injections[2].UsageTy && l.start.Hour() == 14:
			l.rate = l.rate * 11 / 10 // billed 10% above the catalogue rate
		case day(l) == "2026-11-03" && l.resource == Injections[3].ResourceID && l.usage == Injections[3].UsageTy:
			l.tags = maps.Clone(l.tags)
			l.tags["team"] = "customer-support" // re-tagged in AWS, not in Tollgate
		}
		out = append(out, l)
	}
	// A team calling Bedrock directly through a profile Tollgate never saw.
	for h := 9; h < 12; h++ {
		out = append(out, curLine{start: time.Date(2026, 11, 3, h, 0, 0, 0, time.UTC), resource: Injections[4].ResourceID,
			usage: Injections[4].UsageTy, model: "anthropic.claude-3-haiku-20240307-v1:0", tokens: int64(41_000 + 1_000*h),
			rate: money.PerThousand(250_000), tags: map[string]string{"dept": "marketing"}, product: marketplaceCodes["anthropic.claude-3-haiku-20240307-v1:0"],
			productName: "Claude 3 Haiku (Amazon Bedrock Edition)", itemType: "Usage",
			unit: pricing.MarketplacePricingUnit, operationTxt: "InvokeModelInference"})
	}
	// Lines that are not Bedrock usage.
	out = append(out,
		curLine{start: time.Date(2026, 11, 2, 0, 0, 0, 0, time.UTC), resource: "tollgate-exports", usage: "USE1-TimedStorage-ByteHrs",
			tokens: 1_234_000, rate: money.PerThousand(23_000_000), product: "AmazonS3", itemType: "Usage", unit: "GB-Mo", operationTxt: "StandardStorage"},
		curLine{start: time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), usage: "", tokens: 0, product: "AmazonBedrock", itemType: "Tax", unit: ""},
	)
	return out
}

// curColumns are the fixture's columns, as a CUR 2.0 export names them.
var curColumns = []string{
	"identity_line_item_id", "bill_payer_account_id",
	"line_item_usage_start_date", "line_item_usage_end_date", "line_item_usage_account_id",
	"line_item_line_item_type", "line_item_product_code", "line_item_resource_id", "line_item_usage_type",
	"line_item_operation", "line_item_usage_amount", "pricing_unit", "line_item_unblended_rate",
	"line_item_unblended_cost", "line_item_currency_code", "product", "product_servicecode", "product_region_code", "resource_tags",
}

func (l curLine) fields(i int) []string {
	tags := map[string]string{}
	for k, v := range l.tags {
		tags["user_"+k] = v
	}
	tj, _ := json.Marshal(tags) // keys sorted
	product := "{}"
	if l.productName != "" {
		pj, _ := json.Marshal(map[string]string{"product_name": l.productName})
		product = string(pj)
	}
	amount := fixed(big.NewInt(l.tokens), 3)
	rate := fixed(big.NewInt(int64(l.rate)), 9)
	if l.perMillion() {
		amount = fixed(big.NewInt(l.tokens), 6)
		rate = fixed(big.NewInt(int64(l.rate)*1000), 9)
	}
	cost := l.cost()
	if l.itemType == "Tax" {
		amount, rate, cost = "0", "", "1.73"
	}
	return []string{fmt.Sprintf("tg%08x", i), account,
		l.start.Format("2006-01-02T15:04:05.000Z"), l.start.Add(time.Hour).Format("2006-01-02T15:04:05.000Z"), account,
		l.itemType, l.product, l.resource, l.usage, l.operationTxt, amount, l.unit, rate, cost, "USD", product, l.product, "us-east-1", string(tj)}
}

func writeCSV(t testing.TB, lines []curLine) []byte {
	var b bytes.Buffer
	w := csv.NewWriter(&b)
	_ = w.Write(curColumns)
	for i, l := range lines {
		_ = w.Write(l.fields(i))
	}
	w.Flush()
	if err := w.Error(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// pqRow is the fixture as Parquet, typed as a CUR 2.0 Parquet export:
// timestamps, decimals and the resource_tags map.
type pqRow struct {
	ID           string            `parquet:"identity_line_item_id"`
	Start        time.Time         `parquet:"line_item_usage_start_date,timestamp(millisecond)"`
	End          time.Time         `parquet:"line_item_usage_end_date,timestamp(millisecond)"`
	Type         string            `parquet:"line_item_line_item_type,dict"`
	Product      string            `parquet:"line_item_product_code,dict"`
	Resource     string            `parquet:"line_item_resource_id,dict"`
	UsageType    string            `parquet:"line_item_usage_type,dict"`
	Amount       int64             `parquet:"line_item_usage_amount,decimal(6:18)"` // millionths of Unit
	Unit         string            `parquet:"pricing_unit,dict"`
	Rate         *int64            `parquet:"line_item_unblended_rate,decimal(9:18),optional"`
	Cost         int64             `parquet:"line_item_unblended_cost,decimal(12:18)"`
	Service      string            `parquet:"product_servicecode,dict"`
	ProductMap   map[string]string `parquet:"product"`
	ResourceTags map[string]string `parquet:"resource_tags"`
}

func writeParquet(t testing.TB, lines []curLine) []byte {
	var b bytes.Buffer
	w := parquet.NewGenericWriter[pqRow](&b)
	for i, l := range lines {
		tags := map[string]string{}
		for k, v := range l.tags {
			tags["user_"+k] = v
		}
		amount, rate := l.tokens*1000, int64(l.rate)
		if l.perMillion() {
			amount, rate = l.tokens, rate*1000
		}
		r := pqRow{ID: fmt.Sprintf("tg%08x", i), Start: l.start, End: l.start.Add(time.Hour), Type: l.itemType, Product: l.product,
			Resource: l.resource, UsageType: l.usage, Amount: amount, Unit: l.unit, Cost: l.tokens * int64(l.rate), Service: l.product,
			ResourceTags: tags}
		if l.productName != "" {
			r.ProductMap = map[string]string{"product_name": l.productName}
		}
		if l.itemType != "Tax" {
			r.Rate = &rate
		}
		if _, err := w.Write([]pqRow{r}); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

const fixturePath = "testdata/cur2-demo.csv"

func writeFile(t testing.TB, dir, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

var _ = strconv.Itoa
