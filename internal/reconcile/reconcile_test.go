package reconcile_test

import (
	"bytes"
	"compress/gzip"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/reconcile"
)

func tagKeys(c *reconcile.CUR) map[string]bool { return c.TagKeys }

// run reconciles the export at path with the fixture's records.
func run(t *testing.T, path string) *reconcile.Report {
	t.Helper()
	c, err := reconcile.Read(path, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	return reconcile.Reconcile(c.Lines, reconcile.TollgateLines(fixtureRecords(t), tagKeys(c)))
}

// TestFixture checks testdata/cur2-demo.csv is what the generator writes
// (-update rewrites it), is small, and reconciles to exactly the
// deliberate discrepancies, each classified as injected.
func TestFixture(t *testing.T) {
	recs := fixtureRecords(t)
	want := writeCSV(t, inject(cleanLines(t, recs)))
	if *update {
		writeFile(t, ".", fixturePath, want)
	}
	got, err := os.ReadFile(fixturePath)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("%s is not what the generator writes; run go test ./internal/reconcile -run TestFixture -update", fixturePath)
	}
	// Claude's lines carry their Marketplace product, as AWS's do, which
	// took the fixture from 190 KB to 215 KB.
	if len(got) > 256<<10 {
		t.Errorf("fixture is %d bytes, want < 256 KB", len(got))
	}
	rep := run(t, fixturePath)
	mis := rep.Mismatches()
	if len(mis) != len(Injections) {
		for _, r := range mis {
			t.Logf("%s %s %s %s", r.Class, r.Day.Format(time.DateOnly), r.ResourceID, r.UsageType)
		}
		t.Fatalf("%d mismatches, want the %d injected", len(mis), len(Injections))
	}
	for _, in := range Injections {
		found := false
		for _, r := range mis {
			if r.Day.Format(time.DateOnly) == in.Day && r.ResourceID == in.ResourceID && r.UsageType == in.UsageTy {
				found = true
				if string(r.Class) != in.Class {
					t.Errorf("%s %s %s: class %s, want %s", in.Day, in.ResourceID, in.UsageTy, r.Class, in.Class)
				}
				checkRow(t, r)
			}
		}
		if !found {
			t.Errorf("injected %s (%s %s %s) not found", in.Class, in.Day, in.ResourceID, in.UsageTy)
		}
	}
	if rep.Counts()[reconcile.Match] < 10 {
		t.Errorf("only %d matching rows", rep.Counts()[reconcile.Match])
	}
}

// checkRow checks each class's figures against what was injected.
func checkRow(t *testing.T, r reconcile.Row) {
	t.Helper()
	au, tu := r.Usage()
	ac, tc := r.Cost()
	switch r.Class {
	case reconcile.WrongTokens:
		if au-tu != 1000 || ac <= tc {
			t.Errorf("wrong-tokens: usage %d vs %d, cost %v vs %v; want 1,000 tokens and their cost more on AWS", au, tu, ac, tc)
		}
	case reconcile.WrongRate:
		if au != tu || ac <= tc {
			t.Errorf("wrong-rate: usage %d vs %d, cost %v vs %v", au, tu, ac, tc)
		}
	case reconcile.MissingInAWS:
		if r.AWS != nil || r.Tollgate == nil || tc <= 0 || r.CostDiff() != -tc {
			t.Errorf("missing-in-aws: %+v", r)
		}
	case reconcile.MissingInTollgate:
		// 3 lines of 50, 51 and 52 thousand tokens at $0.00025 per 1K.
		if r.Tollgate != nil || au != 153_000 || ac != money.MustParse("0.03825") {
			t.Errorf("missing-in-tollgate: usage %d cost %v", au, ac)
		}
	case reconcile.TagMismatch:
		if au != tu || r.AWS.Tags["team"] != "customer-support" || r.Tollgate.Tags["team"] != "support" || r.Exposure() != max(ac, tc) {
			t.Errorf("tag-mismatch: %+v / %+v", r.AWS, r.Tollgate)
		}
		if _, ok := r.Tollgate.Tags["tenant"]; ok {
			t.Errorf("Tollgate's tags keep %q, a key the export does not carry", "tenant")
		}
	}
}

// TestCleanFixture: the export without injections reconciles to zero
// difference.
func TestCleanFixture(t *testing.T) {
	dir := t.TempDir()
	p := writeFile(t, dir, "clean.csv", writeCSV(t, cleanLines(t, fixtureRecords(t))))
	rep := run(t, p)
	if mis := rep.Mismatches(); len(mis) != 0 {
		t.Fatalf("clean fixture: %d mismatches, first %+v", len(mis), mis[0])
	}
	if rep.AWSCost != rep.TollgateCost {
		t.Errorf("clean fixture: AWS %v, Tollgate %v", rep.AWSCost, rep.TollgateCost)
	}
	if rows, total := rep.Exceeding(reconcile.Tolerance{Total: new(money.Amount)}); len(rows) != 0 || total {
		t.Errorf("clean fixture exceeds a zero tolerance: %d rows, total %v", len(rows), total)
	}
}

// TestFormatsReadTheSame: CSV, gzipped CSV, Parquet and a directory of
// split files give the same lines.
func TestFormatsReadTheSame(t *testing.T) {
	lines := inject(cleanLines(t, fixtureRecords(t)))
	csvB := writeCSV(t, lines)
	dir := t.TempDir()
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(csvB)
	_ = zw.Close()
	half := len(lines) / 2
	paths := map[string]string{
		"csv":     writeFile(t, dir, "one/cur.csv", csvB),
		"csv.gz":  writeFile(t, dir, "two/cur-00001.csv.gz", gz.Bytes()),
		"parquet": writeFile(t, dir, "three/cur-00001.parquet", writeParquet(t, lines)),
	}
	split := filepath.Join(dir, "split")
	writeFile(t, split, "data/BILLING_PERIOD=2026-11/x-00001.parquet", writeParquet(t, lines[:half]))
	writeFile(t, split, "data/BILLING_PERIOD=2026-11/x-00002.csv.gz", gzipped(writeCSV(t, lines[half:])))
	writeFile(t, split, "metadata/BILLING_PERIOD=2026-11/x-Manifest.json", []byte(`{}`))
	paths["directory"] = split
	base, err := reconcile.Read(paths["csv"], time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if len(base.Lines) != len(lines)-2 || base.Skipped != 2 {
		t.Fatalf("csv: %d lines, %d skipped; want %d and 2 (S3, tax)", len(base.Lines), base.Skipped, len(lines)-2)
	}
	for name, p := range paths {
		c, err := reconcile.Read(p, time.Time{}, time.Time{})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if !reflect.DeepEqual(c.Lines, base.Lines) || !reflect.DeepEqual(c.TagKeys, base.TagKeys) {
			t.Errorf("%s reads differently from the CSV (%d lines vs %d)", name, len(c.Lines), len(base.Lines))
			for i := range c.Lines {
				if !reflect.DeepEqual(c.Lines[i], base.Lines[i]) {
					t.Fatalf("first difference: %+v vs %+v", c.Lines[i], base.Lines[i])
				}
			}
		}
	}
	// The period bounds select by line_item_usage_start_date.
	day2, _ := reconcile.Read(paths["parquet"], time.Date(2026, 11, 3, 0, 0, 0, 0, time.UTC), time.Date(2026, 11, 4, 0, 0, 0, 0, time.UTC))
	for _, l := range day2.Lines {
		if l.Start.Day() != 3 {
			t.Fatalf("--from 2026-11-03 kept a line of %v", l.Start)
		}
	}
	if len(day2.Lines) == 0 || len(day2.Lines) >= len(base.Lines) {
		t.Errorf("one day: %d lines of %d", len(day2.Lines), len(base.Lines))
	}
}

func gzipped(b []byte) []byte {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	_, _ = zw.Write(b)
	_ = zw.Close()
	return gz.Bytes()
}

// TestMalformed: a bad file is an error naming the file and line.
func TestMalformed(t *testing.T) {
	head := "line_item_usage_start_date,line_item_line_item_type,line_item_product_code,line_item_resource_id,line_item_usage_type,line_item_usage_amount,pricing_unit,line_item_unblended_rate,line_item_unblended_cost,resource_tags\n"
	ok := "2026-11-02T00:00:00.000Z,Usage,AmazonBedrock,arn:x,USE1-NovaLite-input-tokens,1.5,1K tokens,0.00006,0.00009,{}\n"
	dir := t.TempDir()
	for _, tc := range []struct{ name, body, want string }{
		{"cost.csv", head + ok + strings.Replace(ok, "0.00009", "0.0000x9", 1), "cost.csv:3: line_item_unblended_cost \"0.0000x9\""},
		{"date.csv", head + ok + ok + strings.Replace(ok, "2026-11-02T00:00:00.000Z", "yesterday", 1), "date.csv:4: line_item_usage_start_date \"yesterday\""},
		{"tags.csv", head + strings.Replace(ok, "{}", `"{""user_dept"":1}"`, 1), "tags.csv:2: resource_tags"},
		{"amount.csv", head + strings.Replace(ok, ",1.5,", ",,", 1), "amount.csv:2: line_item_usage_amount \"\": empty"},
		{"fields.csv", head + "2026-11-02T00:00:00.000Z,Usage\n", "fields.csv:2"},
		{"legacy.csv", "lineItem/UsageStartDate,lineItem/UsageType\n", "legacy.csv:1: no line_item_usage_start_date column: not a CUR 2.0 export"},
		{"empty.csv", "", "empty.csv: empty file"},
		{"bad.parquet", "PAR1 not really", "bad.parquet: not a Parquet file"},
	} {
		p := writeFile(t, dir, tc.name, []byte(tc.body))
		_, err := reconcile.Read(p, time.Time{}, time.Time{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: error %v, want one containing %q", tc.name, err, tc.want)
		}
	}
	if _, err := reconcile.Read(filepath.Join(dir, "nope"), time.Time{}, time.Time{}); err == nil {
		t.Error("a missing path is not an error")
	}
	if _, err := reconcile.Read(writeFile(t, dir, "notes.txt", nil), time.Time{}, time.Time{}); err == nil {
		t.Error("a .txt file is not an error")
	}
	empty := filepath.Join(dir, "emptydir")
	_ = os.Mkdir(empty, 0o755)
	if _, err := reconcile.Read(empty, time.Time{}, time.Time{}); err == nil || !strings.Contains(err.Error(), "no .csv") {
		t.Errorf("empty directory: %v", err)
	}
}

func TestParseDecimal(t *testing.T) {
	for _, tc := range []struct {
		s     string
		scale int
		want  int64
		err   bool
	}{
		{"0.0000000125", 9, 13, false},    // half up
		{"0.0000000124999", 9, 12, false}, // below half
		{"-0.0000000125", 9, -13, false},  // half away from zero
		{"12.5", 3, 12500, false},
		{"3", 9, 3_000_000_000, false},
		{".5", 0, 1, false},
		{"1.", 2, 100, false},
		{"0.00038250000000", 9, 382500, false},
		{"9223372036.854775807", 9, 9223372036854775807, false},
		{"9223372036.854775808", 9, 0, true},
		{"9223372036.8547758075", 9, 0, true},
		{"", 9, 0, true},
		{".", 9, 0, true},
		{"1e-5", 9, 0, true},
		{"1.2.3", 9, 0, true},
		{"1.00000000000x", 9, 0, true},
	} {
		got, err := reconcile.ParseDecimal(tc.s, tc.scale)
		if (err != nil) != tc.err || got != tc.want {
			t.Errorf("ParseDecimal(%q, %d) = %d, %v; want %d, error %v", tc.s, tc.scale, got, err, tc.want, tc.err)
		}
	}
}

// TestTolerance: the exit decision.
func TestTolerance(t *testing.T) {
	rep := run(t, fixturePath)
	cent := money.MustParse("0.01")
	rows, _ := rep.Exceeding(reconcile.Tolerance{Row: cent})
	if len(rows) == 0 {
		t.Fatal("the fixture's discrepancies pass a 1-cent tolerance")
	}
	big := money.MustParse("1000000")
	if rows, total := rep.Exceeding(reconcile.Tolerance{Row: big, Total: &big}); len(rows) != 0 || total {
		t.Errorf("a $1M tolerance fails: %d rows, total %v", len(rows), total)
	}
	zero := money.Amount(0)
	if _, total := rep.Exceeding(reconcile.Tolerance{Row: big, Total: &zero}); !total {
		t.Error("a zero total tolerance passes a fixture whose totals differ")
	}
}

// TestParquetDoubles: a Parquet export whose amounts are DOUBLE and dates
// strings (as some CUR 2.0 Parquet files and Athena CTAS copies have them)
// reads the same as its CSV.
func TestParquetDoubles(t *testing.T) {
	type row struct {
		Start    string            `parquet:"line_item_usage_start_date"`
		Type     string            `parquet:"line_item_line_item_type"`
		Product  string            `parquet:"line_item_product_code"`
		Resource string            `parquet:"line_item_resource_id"`
		Usage    string            `parquet:"line_item_usage_type"`
		Amount   float64           `parquet:"line_item_usage_amount"`
		Unit     string            `parquet:"pricing_unit"`
		Rate     float64           `parquet:"line_item_unblended_rate"`
		Cost     float64           `parquet:"line_item_unblended_cost"`
		Tags     map[string]string `parquet:"resource_tags"`
	}
	var b bytes.Buffer
	w := parquet.NewGenericWriter[row](&b)
	_, err := w.Write([]row{
		{"2026-11-02 09:00:00.000", "Usage", "AmazonBedrockService", "arn:p", "USE1-Claude4Sonnet-input-tokens", 1.53, "1K tokens", 0.003, 0.00459, map[string]string{"user_dept": "claims", "aws_createdBy": "x"}},
		{"2026-11-02 10:00:00.000", "Usage", "AmazonBedrockService", "arn:p", "USE1-Claude4Sonnet-input-tokens", 0.1, "1K tokens", 0.003, 0.0003000000000000001, nil},
	})
	if err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	p := writeFile(t, t.TempDir(), "d.parquet", b.Bytes())
	c, err := reconcile.Read(p, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	want := []reconcile.Line{
		{Start: time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC), UsageType: "USE1-Claude4Sonnet-input-tokens", ResourceID: "arn:p",
			Tags: map[string]string{"dept": "claims"}, Unit: "1K tokens", Usage: 1530, Cost: money.MustParse("0.00459")},
		{Start: time.Date(2026, 11, 2, 10, 0, 0, 0, time.UTC), UsageType: "USE1-Claude4Sonnet-input-tokens", ResourceID: "arn:p",
			Unit: "1K tokens", Usage: 100, Cost: money.MustParse("0.0003")},
	}
	if !reflect.DeepEqual(c.Lines, want) {
		t.Errorf("got %+v\nwant %+v", c.Lines, want)
	}
	if !reflect.DeepEqual(c.TagKeys, map[string]bool{"dept": true}) {
		t.Errorf("tag keys %v", c.TagKeys)
	}
}

// TestClassify: rounding, and what pairs as a tag mismatch.
func TestClassify(t *testing.T) {
	day := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	ln := func(ut string, usage int64, cost money.Amount, tg ...string) reconcile.Line {
		m := map[string]string{}
		for i := 0; i < len(tg); i += 2 {
			m[tg[i]] = tg[i+1]
		}
		return reconcile.Line{Start: day, UsageType: ut, ResourceID: "arn:p", Tags: m, Unit: "1K tokens", Usage: usage, Cost: cost}
	}
	for _, tc := range []struct {
		name      string
		aws, ours []reconcile.Line
		want      []reconcile.Class
	}{
		// AWS rounds one line item, Tollgate two calls: 2 nano-dollars apart is rounding.
		{"rounding", []reconcile.Line{ln("in", 3000, 1002)}, []reconcile.Line{ln("in", 1000, 500), ln("in", 2000, 500)}, []reconcile.Class{reconcile.Match}},
		{"beyond rounding", []reconcile.Line{ln("in", 3000, 1003)}, []reconcile.Line{ln("in", 1000, 500), ln("in", 2000, 500)}, []reconcile.Class{reconcile.WrongRate}},
		{"tokens and cost", []reconcile.Line{ln("in", 3001, 2000)}, []reconcile.Line{ln("in", 3000, 1000)}, []reconcile.Class{reconcile.WrongTokens}},
		{"tags", []reconcile.Line{ln("in", 3000, 1000, "dept", "a")}, []reconcile.Line{ln("in", 3000, 1000, "dept", "b")}, []reconcile.Class{reconcile.TagMismatch}},
		// Different tags and different usage: two unrelated lines.
		{"tags and tokens", []reconcile.Line{ln("in", 3000, 1000, "dept", "a")}, []reconcile.Line{ln("in", 2000, 1000, "dept", "b")},
			[]reconcile.Class{reconcile.MissingInTollgate, reconcile.MissingInAWS}},
		{"usage type", []reconcile.Line{ln("in", 3000, 1000)}, []reconcile.Line{ln("out", 3000, 1000)},
			[]reconcile.Class{reconcile.MissingInTollgate, reconcile.MissingInAWS}},
	} {
		rep := reconcile.Reconcile(tc.aws, tc.ours)
		var got []reconcile.Class
		for _, r := range rep.Rows {
			got = append(got, r.Class)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestMarketplaceLines: a line item AWS Marketplace bills — its own
// product code, a "(Amazon Bedrock Edition)" product, a marketplace usage
// type in millions of tokens ("1M tokens" or "Units") — is kept and read
// to the token, from CSV (the product map as JSON, or a
// product_product_name column) and from Parquet (the product map); another
// Marketplace product is left out.
func TestMarketplaceLines(t *testing.T) {
	const header = "line_item_usage_start_date,line_item_line_item_type,line_item_product_code,line_item_resource_id,line_item_usage_type," +
		"line_item_usage_amount,pricing_unit,line_item_unblended_rate,line_item_unblended_cost,product,product_product_name,resource_tags\n"
	csvData := header +
		`2026-11-02T09:00:00.000Z,Usage,8jp8ymn3kcx5l8xvdq2udu5j3,arn:p,USE1-MP:USE1_InputTokenCount_Global-Units,0.001234,1M tokens,3,0.003702,"{""product_name"":""Claude Sonnet 4.6 (Amazon Bedrock Edition)""}",,{}` + "\n" +
		`2026-11-02T09:00:00.000Z,Usage,8jp8ymn3kcx5l8xvdq2udu5j3,arn:p,USE1-MP:USE1_OutputTokenCount-Units,0.0005,Units,16.5,0.00825,,Claude Sonnet 4.6 (Amazon Bedrock Edition),{}` + "\n" +
		`2026-11-02T09:00:00.000Z,Usage,a1b2c3d4e5f6g7h8i9j0k1l2m,arn:x,USE1-MP:USE1_Requests-Units,3,Units,0.1,0.3,"{""product_name"":""Some SaaS Product""}",,{}` + "\n"
	p := writeFile(t, t.TempDir(), "mp.csv", []byte(csvData))
	c, err := reconcile.Read(p, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 2, 9, 0, 0, 0, time.UTC)
	want := []reconcile.Line{
		{Start: at, UsageType: "USE1-MP:USE1_InputTokenCount_Global-Units", ResourceID: "arn:p", Unit: "1M tokens", Usage: 1234, Cost: money.MustParse("0.003702")},
		{Start: at, UsageType: "USE1-MP:USE1_OutputTokenCount-Units", ResourceID: "arn:p", Unit: "Units", Usage: 500, Cost: money.MustParse("0.00825")},
	}
	if !reflect.DeepEqual(c.Lines, want) {
		t.Errorf("CSV: got %+v\nwant %+v", c.Lines, want)
	}
	if c.Skipped != 1 {
		t.Errorf("CSV: skipped %d line items, want 1 (the other Marketplace product)", c.Skipped)
	}

	type row struct {
		Start    string            `parquet:"line_item_usage_start_date"`
		Type     string            `parquet:"line_item_line_item_type"`
		Product  string            `parquet:"line_item_product_code"`
		Resource string            `parquet:"line_item_resource_id"`
		Usage    string            `parquet:"line_item_usage_type"`
		Amount   float64           `parquet:"line_item_usage_amount"`
		Unit     string            `parquet:"pricing_unit"`
		Cost     float64           `parquet:"line_item_unblended_cost"`
		ProdMap  map[string]string `parquet:"product"`
		Tags     map[string]string `parquet:"resource_tags"`
	}
	var b bytes.Buffer
	w := parquet.NewGenericWriter[row](&b)
	_, err = w.Write([]row{
		{"2026-11-02 09:00:00.000", "Usage", "8jp8ymn3kcx5l8xvdq2udu5j3", "arn:p", "USE1-MP:USE1_InputTokenCount_Global-Units", 0.001234, "1M tokens", 0.003702,
			map[string]string{"product_name": "Claude Sonnet 4.6 (Amazon Bedrock Edition)", "product_family": "x"}, nil},
		{"2026-11-02 09:00:00.000", "Usage", "8jp8ymn3kcx5l8xvdq2udu5j3", "arn:p", "USE1-MP:USE1_OutputTokenCount-Units", 0.0005, "Units", 0.00825,
			map[string]string{"product_name": "Claude Sonnet 4.6 (Amazon Bedrock Edition)"}, nil},
		{"2026-11-02 09:00:00.000", "Usage", "a1b2c3d4e5f6g7h8i9j0k1l2m", "arn:x", "USE1-MP:USE1_Requests-Units", 3, "Units", 0.3,
			map[string]string{"product_name": "Some SaaS Product"}, nil},
	})
	if err != nil || w.Close() != nil {
		t.Fatal(err)
	}
	pq := writeFile(t, t.TempDir(), "mp.parquet", b.Bytes())
	c, err = reconcile.Read(pq, time.Time{}, time.Time{})
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(c.Lines, want) {
		t.Errorf("Parquet: got %+v\nwant %+v", c.Lines, want)
	}
	if c.Skipped != 1 {
		t.Errorf("Parquet: skipped %d line items, want 1", c.Skipped)
	}
}
