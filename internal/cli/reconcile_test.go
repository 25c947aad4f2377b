package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// reconStore is a Store holding records and profiles.
type reconStore struct {
	Store
	recs     []ledger.Record
	profiles []profile.Profile
}

func (s reconStore) Records(_ context.Context, q ledger.Query) ([]ledger.Record, error) {
	var out []ledger.Record
	for _, r := range s.recs {
		if !r.Time.Before(q.From) && r.Time.Before(q.To) {
			out = append(out, r)
		}
	}
	return out, nil
}
func (s reconStore) ListAllProfiles(context.Context) ([]profile.Profile, error) {
	return s.profiles, nil
}
func (s reconStore) Close() error { return nil }

const reconARN = "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/"

// reconRecord is a Claude 3 Haiku call ($0.00025 / $0.00125 per 1K).
func reconRecord(id string, day, hour int, in, out int64, tg map[string]string) ledger.Record {
	ic, oc := money.PerThousand(250_000).Cost(in), money.PerThousand(1_250_000).Cost(out)
	return ledger.Record{RequestID: fmt.Sprintf("%s-%d-%d", id, day, hour), Time: time.Date(2026, 11, day, hour, 12, 0, 0, time.UTC),
		Account: "111111111111", Region: "us-east-1", RegionServed: "us-east-1", ProfileARN: reconARN + id, ProfileID: id,
		ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Operation: "Converse", InputTokens: in, OutputTokens: out,
		InputCost: ic, OutputCost: oc, Cost: ic + oc, Priced: true, Outcome: ledger.OutcomeSuccess, Tags: tags.Set(tg)}
}

// reconCUR is a CUR 2.0 export of those calls with one discrepancy of
// each class, and lines reconcile skips (S3, a tax line). AWS Marketplace
// bills Claude: its lines have a Marketplace product code (a placeholder
// here), the "(Amazon Bedrock Edition)" product and marketplace usage
// types in millions of tokens.
const reconCUR = `identity_line_item_id,line_item_usage_start_date,line_item_usage_end_date,line_item_line_item_type,line_item_product_code,line_item_resource_id,line_item_usage_type,line_item_usage_amount,pricing_unit,line_item_unblended_rate,line_item_unblended_cost,product,resource_tags
a1,2026-11-02T09:00:00.000Z,2026-11-02T10:00:00.000Z,Usage,c1aude3ha1ku0fixture0code,` + reconARN + `c1a1m5b0tpr0,USE1-MP:USE1_InputTokenCount-Units,0.01,1M tokens,0.25,0.0025,` + haikuProduct + `,"{""user_dept"":""claims""}"
a2,2026-11-02T09:00:00.000Z,2026-11-02T10:00:00.000Z,Usage,c1aude3ha1ku0fixture0code,` + reconARN + `c1a1m5b0tpr0,USE1-MP:USE1_OutputTokenCount-Units,0.002,1M tokens,1.5,0.003,` + haikuProduct + `,"{""user_dept"":""claims""}"
a3,2026-11-02T10:00:00.000Z,2026-11-02T11:00:00.000Z,Usage,c1aude3ha1ku0fixture0code,` + reconARN + `5a1e5c4a7pr0,USE1-MP:USE1_InputTokenCount-Units,0.021,1M tokens,0.25,0.00525,` + haikuProduct + `,"{""user_dept"":""sales""}"
a4,2026-11-02T10:00:00.000Z,2026-11-02T11:00:00.000Z,Usage,c1aude3ha1ku0fixture0code,` + reconARN + `5a1e5c4a7pr0,USE1-MP:USE1_OutputTokenCount-Units,0.004,1M tokens,1.25,0.00500000004,` + haikuProduct + `,"{""user_dept"":""marketing""}"
a5,2026-11-02T11:00:00.000Z,2026-11-02T12:00:00.000Z,Usage,c1aude3ha1ku0fixture0code,` + reconARN + `b7pa55d1rect,USE1-MP:USE1_InputTokenCount-Units,0.004,1M tokens,0.25,0.001,` + haikuProduct + `,"{""user_dept"":""marketing""}"
a6,2026-11-02T00:00:00.000Z,2026-11-02T01:00:00.000Z,Usage,AmazonS3,tollgate-exports,USE1-TimedStorage-ByteHrs,1.5,GB-Mo,0.023,0.0345,"{""product_name"":""Amazon Simple Storage Service""}",{}
a7,2026-11-02T00:00:00.000Z,2026-11-03T00:00:00.000Z,Tax,AmazonBedrock,,,0,,,0.17,{},{}
`

// haikuProduct is the product column of a Claude 3 Haiku line item.
const haikuProduct = `"{""product_name"":""Claude 3 Haiku (Amazon Bedrock Edition)""}"`

func reconEnv(t *testing.T, out, errb *bytes.Buffer) Env {
	t.Helper()
	claims := map[string]string{"dept": "claims", "tenant": "acme"}
	sales := map[string]string{"dept": "sales", "tenant": "acme"}
	st := reconStore{
		recs: []ledger.Record{
			reconRecord("c1a1m5b0tpr0", 2, 9, 6000, 1200, claims), reconRecord("c1a1m5b0tpr0", 2, 9, 4000, 800, claims),
			reconRecord("5a1e5c4a7pr0", 2, 10, 20000, 4000, sales),
			reconRecord("r15ka55espr0", 2, 11, 8000, 0, map[string]string{"dept": "risk"}),
			reconRecord("c1a1m5b0tpr0", 3, 9, 1000, 100, claims), // outside the export's days
		},
		profiles: []profile.Profile{{ID: "c1a1m5b0tpr0", ARN: reconARN + "c1a1m5b0tpr0", Name: "claims-chatbot-prod"},
			{ID: "5a1e5c4a7pr0", ARN: reconARN + "5a1e5c4a7pr0", Name: "sales-chat-prod"}},
	}
	return Env{Stdout: out, Stderr: errb, Getenv: func(string) string { return "" },
		OpenStore: func(context.Context, StoreLocation) (Store, error) { return st, nil }}
}

func runReconcile(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	var out, errb bytes.Buffer
	err := Run(t.Context(), append([]string{"reconcile"}, args...), reconEnv(t, &out, &errb))
	return Exit(err, &errb), out.String(), errb.String()
}

// TestReconcileOutput: one row of each class, in every format, with the
// exit status the tolerances give.
func TestReconcileOutput(t *testing.T) {
	dir := t.TempDir()
	cur := filepath.Join(dir, "cur-00001.csv")
	if err := os.WriteFile(cur, []byte(reconCUR), 0o644); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, args := range [][]string{
		{"--cur", cur},
		{"--cur", cur, "--all", "-o", "json"},
		{"--cur", cur, "-o", "csv"},
		{"--cur", cur, "-o", "yaml", "--tolerance", "0.001"},
		{"--cur", cur, "--tolerance", "1", "--total-tolerance", "0.0001"},
		{"--cur", dir, "--from", "2026-11-02", "--to", "2026-11-04", "--tolerance", "$1"},
	} {
		code, out, errOut := runReconcile(t, args...)
		fmt.Fprintf(&all, "$ tollgate reconcile %s\nexit %d\n%s%s\n", strings.ReplaceAll(strings.Join(args, " "), dir, "DIR"), code,
			out, strings.ReplaceAll(errOut, dir, "DIR"))
	}
	golden(t, "reconcile", all.Bytes())
	// A tag mismatch is exposed by its whole cost ($0.005), though both
	// sides' costs agree.
	if code, _, errOut := runReconcile(t, "--cur", cur, "--tolerance", "0.004"); code != 1 || !strings.Contains(errOut, "1 of 6 rows") {
		t.Errorf("--tolerance 0.004: exit %d, %q; want 1 for the tag mismatch alone", code, errOut)
	}
	if code, _, _ := runReconcile(t, "--cur", cur, "--tolerance", "0.005"); code != 0 {
		t.Errorf("--tolerance 0.005: exit %d; want 0", code)
	}
}

// TestReconcileErrors: bad usage exits 2 with a hint, a bad export 1
// with its file and line.
func TestReconcileErrors(t *testing.T) {
	dir := t.TempDir()
	bad := filepath.Join(dir, "bad.csv")
	body := strings.Replace(reconCUR, "0.00525", "0.00x525", 1)
	if err := os.WriteFile(bad, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
	var all bytes.Buffer
	for _, args := range [][]string{
		{},
		{"--cur"},
		{"--cur", bad, "extra"},
		{"--cur", bad, "--from", "2026-13-01"},
		{"--cur", bad, "--from", "2026-11-03", "--to", "2026-11-02"},
		{"--cur", bad, "--tolerance", "-1"},
		{"--cur", bad, "--total-tolerance", "lots"},
		{"--cur", bad, "--tolerence", "1"},
		{"--cur", bad, "-o", "xml"},
		{"--cur", bad},
		{"--cur", filepath.Join(dir, "missing")},
		{"--cur", dir + "/", "--from", "2026-12-01"},
	} {
		code, out, errOut := runReconcile(t, args...)
		fmt.Fprintf(&all, "$ tollgate reconcile %s\nexit %d\n%s%s\n", strings.ReplaceAll(strings.Join(args, " "), dir, "DIR"), code, out,
			strings.ReplaceAll(errOut, dir, "DIR"))
	}
	golden(t, "reconcile_errors", all.Bytes())
}
