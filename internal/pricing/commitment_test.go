package pricing

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const commitmentFile = `prices: []
commitments:
  - id: sonnet-q1
    profile: arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/abc123def456
    model: anthropic.claude-sonnet-4-5-20250929-v1:0
    from: 2026-01-01
    to: 2026-04-01
    tokensPerMinute: 100000
    pricePerThousandTPMMonth: "45.37"
    source: "Reserved tier order 123 (test figure)"
`

// TestCommitmentHours checks a commitment's hourly fixed costs: each
// month's hours sum exactly to TPM/1000 × the monthly price, records are
// one per hour of the term, idempotent ids, allocated to the profile.
func TestCommitmentHours(t *testing.T) {
	cs, err := ParseCommitments("prices.yaml", []byte(commitmentFile), catalog.Default())
	if err != nil {
		t.Fatal(err)
	}
	c := cs[0]
	if got, want := c.Monthly(), money.MustParse("4537"); got != want {
		t.Fatalf("Monthly = %v, want %v (100 × $45.37)", got, want)
	}
	tg := tags.Set{"dept": "claims"}
	recs := c.Records(time.Date(2025, 12, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC), tg)
	if want := (31 + 28 + 31) * 24; len(recs) != want {
		t.Fatalf("%d records, want %d (the term's hours)", len(recs), want)
	}
	perMonth := map[time.Month]money.Amount{}
	ids := map[string]bool{}
	for _, r := range recs {
		perMonth[r.Time.Month()] += r.Cost
		if r.Cost != r.FixedCost || r.LineSum() != r.Cost || r.Operation != ledger.OpFixedCost || r.Account != "111111111111" ||
			r.ProfileID != "abc123def456" || r.Tags["dept"] != "claims" || r.PriceVersion != "commitment/sonnet-q1" {
			t.Fatalf("record %+v", r)
		}
		ids[r.RequestID] = true
	}
	for m, sum := range perMonth {
		if sum != c.Monthly() {
			t.Errorf("%s sums to %v, want the monthly fee %v", m, sum, c.Monthly())
		}
	}
	if len(ids) != len(recs) {
		t.Error("request ids repeat")
	}
	again := c.Records(time.Date(2026, 2, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 2, 1, 2, 0, 0, 0, time.UTC), tg)
	if len(again) != 2 || !ids[again[0].RequestID] {
		t.Errorf("the same hour's record has another id: %v", again)
	}
}

func TestParseCommitmentsErrors(t *testing.T) {
	for _, tt := range []struct{ name, from, to, want string }{
		{"unknown field", "    source:", "    discount: 1\n    source:", "prices.yaml:10: unknown field \"discount\""},
		{"not a profile", "application-inference-profile/abc123def456", "foundation-model/x", "is not an application inference profile ARN"},
		{"unknown model", "model: anthropic.claude-sonnet-4-5-20250929-v1:0", "model: acme.x-v1:0", "prices.yaml:3: commitment \"sonnet-q1\": model \"acme.x-v1:0\" is not in the catalogue"},
		{"term backwards", "to: 2026-04-01", "to: 2025-04-01", "to is not after from"},
		{"no capacity", "tokensPerMinute: 100000", "tokensPerMinute: 0", "tokensPerMinute must be positive"},
		{"bad price", `"45.37"`, `"free"`, "is not a positive decimal"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseCommitments("prices.yaml", []byte(strings.Replace(commitmentFile, tt.from, tt.to, 1)), catalog.Default())
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error = %v, want %q", err, tt.want)
			}
		})
	}
}
