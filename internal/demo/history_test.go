package demo

import (
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/money"
)

func historyProfiles() []HistoryProfile {
	var out []HistoryProfile
	for i, p := range Profiles {
		id := strings.Repeat(string(rune('a'+i)), 12)
		model := p.source
		if j := strings.Index(model, "."); j > 0 && (strings.HasPrefix(model, "us.") || strings.HasPrefix(model, "eu.")) {
			model = model[j+1:]
		}
		out = append(out, HistoryProfile{Name: p.name, ARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/" + id, ID: id,
			Account: "111111111111", Region: "us-east-1", ModelID: model, Tags: p.tags})
	}
	return out
}

// TestHistoryShape checks the history has what the demo promises:
// weekday/weekend seasonality, growth, one spike taking the sales chat's
// month past its budget, one record per profile and hour standing for
// the hour's calls at the profile's call size, and the same request ids
// for the same hours (so a re-append is skipped).
func TestHistoryShape(t *testing.T) {
	now := time.Date(2026, 12, 9, 16, 20, 0, 0, time.UTC) // a Wednesday
	cat := catalog.Default()
	recs, spike, err := History(cat, historyProfiles(), 60, now)
	if err != nil {
		t.Fatal(err)
	}
	daily := map[time.Time]money.Amount{}
	var month money.Amount
	ids := map[string]bool{}
	names := map[string]string{}
	for _, p := range historyProfiles() {
		names[p.ID] = p.Name
	}
	var calls int64
	for _, r := range recs {
		// The record stands for the calls its tokens make at the
		// profile's call size, never for a single one.
		per := inputPerCall[names[r.ProfileID]]
		if per == 0 || r.Calls < 2 || r.Calls*per-per/2 > r.InputTokens || r.InputTokens >= r.Calls*per+per/2 {
			t.Fatalf("record %s: %d calls for %d input tokens at %d a call", r.RequestID, r.Calls, r.InputTokens, per)
		}
		calls += r.Calls
		if ids[r.RequestID] {
			t.Fatalf("request id %s twice", r.RequestID)
		}
		ids[r.RequestID] = true
		if r.ProfileID == "" || r.Cost <= 0 || !r.Priced || r.Time.After(now) {
			t.Fatalf("bad record %+v", r)
		}
		if r.Tags["app"] == "chat_app" {
			daily[r.Time.Truncate(24*time.Hour)] += r.Cost
			if !r.Time.Before(time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)) {
				month += r.Cost
			}
		}
	}
	if n := 60 * 24 * len(Profiles); len(recs) < n {
		t.Errorf("%d records, want at least %d (one per profile and hour)", len(recs), n)
	}
	if calls < 100*int64(len(recs)) {
		t.Errorf("%d calls in %d hourly records: want a realistic hour's calls in each", calls, len(recs))
	}
	t.Logf("%d records stand for %d calls", len(recs), calls)
	// Weekdays against weekends, away from the spike.
	var wd, we money.Amount
	var nwd, nwe int64
	for d, v := range daily {
		if d.After(now.AddDate(0, 0, -2)) {
			continue
		}
		if d.Weekday() == time.Saturday || d.Weekday() == time.Sunday {
			we, nwe = we+v, nwe+1
		} else {
			wd, nwd = wd+v, nwd+1
		}
	}
	if wd/money.Amount(nwd) < 2*we/money.Amount(nwe) {
		t.Errorf("weekday average %s vs weekend %s: no weekly seasonality", wd/money.Amount(nwd), we/money.Amount(nwe))
	}
	first, last := daily[time.Date(2026, 10, 14, 0, 0, 0, 0, time.UTC)], daily[time.Date(2026, 12, 2, 0, 0, 0, 0, time.UTC)] // both Wednesdays
	if last < first*5/4 {
		t.Errorf("same weekday 7 weeks apart: %s then %s: no growth", first, last)
	}
	if spike.Profile != SpikeProfile || spike.Extra <= 0 || month <= SalesChatBudget || spike.End.After(now) {
		t.Errorf("spike %+v; sales chat month %s, want past %s", spike, month, SalesChatBudget)
	}
	again, _, _ := History(cat, historyProfiles(), 60, now.Add(10*time.Minute))
	for _, r := range again {
		if !ids[r.RequestID] {
			t.Errorf("request id %s differs in the same hour: a re-run would append twice", r.RequestID)
			break
		}
	}
	if none, _, _ := History(cat, historyProfiles(), 0, now); len(none) != 0 {
		t.Errorf("--days 0 made %d records", len(none))
	}
}

func TestFlags(t *testing.T) {
	rest, o, err := Flags([]string{"--once", "--days", "7", "--calls=5", "--data-dir", "x"})
	if err != nil || !o.Once || o.Days != 7 || o.Calls != 5 || strings.Join(rest, " ") != "--data-dir x" {
		t.Errorf("Flags = %v %+v %v", rest, o, err)
	}
	if _, o, _ := Flags(nil); o.Days != 60 || o.Calls != 300 || o.Once {
		t.Errorf("defaults = %+v", o)
	}
	for _, bad := range [][]string{{"--days", "-1"}, {"--days"}, {"--calls=x"}, {"--days", "9999"}} {
		if _, _, err := Flags(bad); err == nil {
			t.Errorf("Flags(%q) accepted", bad)
		}
	}
}
