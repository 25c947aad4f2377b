package budget_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/notify"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	acct  = "111111111111"
	haiku = "anthropic.claude-3-haiku-20240307-v1:0"
	nova  = "amazon.nova-micro-v1:0"
)

// clock is a settable test clock.
type clock struct{ ns atomic.Int64 }

func newClock(t time.Time) *clock { c := &clock{}; c.set(t); return c }
func (c *clock) set(t time.Time)  { c.ns.Store(t.UnixNano()) }
func (c *clock) now() time.Time   { return time.Unix(0, c.ns.Load()).UTC() }

type fixture struct {
	svc    *budget.Service
	store  *sqlite.DB
	ledger *ledger.Batcher // appends to store
	outbox *notify.Outbox  // over store, never run
	clock  *clock
}

func newFixture(t testing.TB, now time.Time) *fixture {
	t.Helper()
	f := &fixture{store: sqlitetest.Open(t), clock: newClock(now)}
	f.outbox = notify.New(notify.Config{Store: f.store, Now: f.clock.now})
	f.ledger = ledger.NewBatcher(f.store, 0, nil)
	t.Cleanup(f.ledger.Close)
	f.start(t)
	return f
}

// start (re)creates the service over the fixture's store, as a restart.
func (f *fixture) start(t testing.TB) {
	t.Helper()
	svc, err := budget.NewService(t.Context(), budget.Config{Store: f.store, Source: f.store, Catalog: catalog.Default(), Notifier: f.outbox, Management: acct, Now: f.clock.now})
	if err != nil {
		t.Fatal(err)
	}
	f.svc = svc
}

func profileARN(id string) string {
	return "arn:aws:bedrock:us-east-1:" + acct + ":application-inference-profile/" + id
}

// call admits a call through profile id with the given tags and worst
// case, and returns the ticket (nil when refused) and the error.
func (f *fixture) admit(id string, t tags.Set, worst money.Amount) (admission.Ticket, error) {
	return f.svc.Admit(context.Background(), admission.Request{Time: f.clock.now(), RequestID: "req", Account: acct, ProfileARN: profileARN(id), ProfileID: id,
		Model: catalog.Model{ID: haiku}, Tags: t, Operation: "Converse", InputTokens: 100, MaxOutputTokens: 200, WorstCase: worst})
}

var seq atomic.Int64

// record is the durable record of a call through profile id costing cost.
func (f *fixture) record(id string, t tags.Set, cost money.Amount) ledger.Record {
	return ledger.Record{RequestID: fmt.Sprintf("r%d", seq.Add(1)), Time: f.clock.now().Truncate(time.Millisecond), Account: acct,
		RegionServed: "us-east-1", ProfileARN: profileARN(id), ProfileID: id, ModelID: haiku, Operation: "Converse",
		InputTokens: 10, OutputTokens: 10, Cost: cost, OutputCost: cost, Priced: true, Tags: t}
}

func mustCreate(t testing.TB, f *fixture, b budget.Budget) {
	t.Helper()
	if b.Account == "" {
		b.Account = acct
	}
	if b.Type == "" {
		b.Type, b.Unit = budget.Cost, "USD"
	}
	if b.TimeUnit == "" {
		b.TimeUnit = budget.Monthly
	}
	if err := f.svc.Create(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

func claims() *costquery.Expr {
	return &costquery.Expr{Tags: &costquery.Values{Key: "user:dept", Values: []string{"claims"}}}
}

// TestBlockBoundUnderConcurrency drives 200 goroutines through a BLOCK
// budget and checks the documented bound: with every actual cost within
// its worst case, the final spend never exceeds the limit; with some calls
// costing more than their worst case, it exceeds it by at most the sum of
// those excesses.
func TestBlockBoundUnderConcurrency(t *testing.T) {
	for _, tc := range []struct {
		name   string
		excess bool // some calls cost more than their worst case
	}{{"worst cases hold", false}, {"some calls exceed their worst case", true}} {
		t.Run(tc.name, func(t *testing.T) {
			f := newFixture(t, t0)
			limit := 20 * money.Dollar
			mustCreate(t, f, budget.Budget{Name: "claims", Limit: int64(limit), Filter: claims(),
				Actions: []budget.Action{{Type: budget.Block, Threshold: 100, ThresholdType: budget.Percentage}}})
			tg := tags.Set{"dept": "claims"}
			var admitted, refused, excess atomic.Int64
			var wg sync.WaitGroup
			for g := range 200 {
				wg.Add(1)
				go func() {
					defer wg.Done()
					rng := rand.New(rand.NewPCG(uint64(g), 3))
					for range 100 {
						worst := money.Amount(1_000_000 + rng.IntN(4_000_000)) // 0.1 to 0.5 cents
						tk, err := f.admit("aaaaaaaaaaaa", tg, worst)
						if err != nil {
							if !errkind.Is(err, errkind.QuotaExceeded) || !strings.Contains(err.Error(), `"claims"`) {
								t.Errorf("refusal = %v, want QuotaExceeded naming the budget", err)
							}
							refused.Add(1)
							continue
						}
						admitted.Add(1)
						cost := worst * money.Amount(30+rng.IntN(71)) / 100
						if tc.excess && rng.IntN(10) == 0 {
							cost = worst * 2
							excess.Add(int64(cost - worst))
						}
						tk.Done(f.record("aaaaaaaaaaaa", tg, cost))
					}
				}()
			}
			wg.Wait()
			v, err := f.svc.Get(t.Context(), acct, "claims")
			if err != nil {
				t.Fatal(err)
			}
			bound := int64(limit) + excess.Load()
			t.Logf("admitted %d, refused %d, spend %s of %s (bound %s), reserved %d", admitted.Load(), refused.Load(),
				money.Amount(v.Actual), limit, money.Amount(bound), v.Reserved)
			if v.Actual > bound {
				t.Errorf("spend %s exceeds the bound %s", money.Amount(v.Actual), money.Amount(bound))
			}
			if v.Reserved != 0 {
				t.Errorf("reserved %d after every call settled, want 0", v.Reserved)
			}
			if refused.Load() == 0 || v.Actual < int64(limit)*9/10 {
				t.Errorf("spend %s with %d refusals: the budget was never filled, so the test proves nothing", money.Amount(v.Actual), refused.Load())
			}
		})
	}
}

func TestRetagEntersAndLeavesScope(t *testing.T) {
	f := newFixture(t, t0)
	mustCreate(t, f, budget.Budget{Name: "claims-zero", Limit: 0, Filter: claims(), Actions: []budget.Action{{Type: budget.Block, Threshold: 100}}})
	p := profile.Profile{ID: "bbbbbbbbbbbb", ARN: profileARN("bbbbbbbbbbbb"), Account: acct, ModelID: haiku, Tags: tags.Set{"dept": "sales"}}
	f.svc.AddProfiles([]*profile.Profile{&p})
	try := func() error {
		// Admission passes the tags the pipeline resolved; the index keeps
		// the profile's current ones.
		tk, err := f.admit(p.ID, p.Tags, money.Cent)
		if err == nil {
			tk.Done(ledger.Record{})
		}
		return err
	}
	if err := try(); err != nil {
		t.Fatalf("call through a sales profile: %v", err)
	}
	retagged := p.Clone()
	retagged.Tags["dept"] = "claims"
	f.svc.ProfileChanged(&p, &retagged)
	p = retagged
	if err := try(); !errkind.Is(err, errkind.QuotaExceeded) {
		t.Fatalf("call after retagging to claims = %v, want QuotaExceeded", err)
	}
	back := p.Clone()
	back.Tags["dept"] = "sales"
	f.svc.ProfileChanged(&p, &back)
	p = back
	if err := try(); err != nil {
		t.Fatalf("call after retagging back to sales: %v", err)
	}
}

func TestThrottleAndDowngrade(t *testing.T) {
	f := newFixture(t, t0)
	mustCreate(t, f, budget.Budget{Name: "b", Limit: int64(10 * money.Dollar), Filter: claims(), Actions: []budget.Action{
		{Type: budget.Throttle, Threshold: 50, RequestsPerMinute: 3},
		{Type: budget.Downgrade, Threshold: 80, Model: nova},
	}})
	tg := tags.Set{"dept": "claims"}
	spend := func(cost money.Amount) {
		tk, err := f.admit("aaaaaaaaaaaa", tg, cost)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(f.record("aaaaaaaaaaaa", tg, cost))
	}
	// Below both thresholds: no cap, no downgrade.
	for range 10 {
		spend(money.Cent)
	}
	spend(5 * money.Dollar) // now past 50%: at most 3 calls a minute
	f.clock.set(t0.Add(time.Minute).Truncate(time.Minute))
	var codes []string
	for range 5 {
		tk, err := f.admit("aaaaaaaaaaaa", tg, money.Cent)
		if err != nil {
			codes = append(codes, errkind.KindOf(err).String())
			continue
		}
		if m := tk.Model(); m != "" {
			t.Errorf("downgraded to %s below the DOWNGRADE threshold", m)
		}
		tk.Done(ledger.Record{})
		codes = append(codes, "ok")
	}
	if got, want := strings.Join(codes, ","), "ok,ok,ok,throttled,throttled"; got != want {
		t.Errorf("calls in one minute = %s, want %s", got, want)
	}
	f.clock.set(t0.Add(2 * time.Minute).Truncate(time.Minute))
	spend(3 * money.Dollar) // past 80%
	tk, err := f.admit("aaaaaaaaaaaa", tg, money.Cent)
	if err != nil {
		t.Fatal(err)
	}
	if tk.Model() != nova {
		t.Errorf("Model() past the DOWNGRADE threshold = %q, want %q", tk.Model(), nova)
	}
	tk.Done(ledger.Record{})
	v, _ := f.svc.Get(t.Context(), acct, "b")
	for _, a := range v.Actions {
		if !v.InForce[a.ID] {
			t.Errorf("action %s not in force at %s of %s", a.Type, money.Amount(v.Actual), money.Amount(v.PeriodLimit))
		}
	}
}

// TestAlerts checks ACTUAL alerts fire once per threshold per period and
// FORECASTED alerts again after the forecast dips and rises.
func TestAlerts(t *testing.T) {
	start := time.Date(2026, 11, 11, 0, 0, 0, 0, time.UTC) // 10 days into a 30-day month
	f := newFixture(t, start)
	hook := []budget.Subscriber{{Type: budget.SNS, Address: "https://hooks.example.com/b"}, {Type: budget.Email, Address: "fin@example.com"}}
	mustCreate(t, f, budget.Budget{Name: "b", Limit: int64(100 * money.Dollar), Filter: claims(), Notifications: []budget.Notification{
		{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 80, ThresholdType: budget.Percentage, Subscribers: hook},
		{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 50, ThresholdType: budget.AbsoluteValue, Subscribers: hook[:1]},
		{Type: budget.Forecasted, Comparison: budget.GreaterThan, Threshold: 100, ThresholdType: budget.Percentage, Subscribers: hook[:1]},
	}})
	tg := tags.Set{"dept": "claims"}
	spend := func(cost money.Amount) {
		tk, err := f.admit("aaaaaaaaaaaa", tg, cost)
		if err != nil {
			t.Fatal(err)
		}
		tk.Done(f.record("aaaaaaaaaaaa", tg, cost))
	}
	count := func() map[string]int {
		f.svc.Evaluate(t.Context())
		out := map[string]int{}
		for _, m := range f.messages(t) {
			var kind string
			switch {
			case strings.Contains(m.Key, "/ACTUAL/GREATER_THAN/80/"):
				kind = "actual80"
			case strings.Contains(m.Key, "/ACTUAL/GREATER_THAN/50/"):
				kind = "actual$50"
			default:
				kind = "forecast100"
			}
			if strings.HasPrefix(m.Target, "email:") {
				kind += "-email"
			}
			out[kind]++
		}
		return out
	}
	want := func(got map[string]int, w map[string]int) {
		t.Helper()
		if fmt.Sprint(got) != fmt.Sprint(w) {
			t.Errorf("messages = %v, want %v", got, w)
		}
	}
	spend(40 * money.Dollar) // run rate: 40 in 10 days -> 120 forecast
	want(count(), map[string]int{"forecast100": 1})
	spend(15 * money.Dollar) // 55: past $50
	want(count(), map[string]int{"forecast100": 1, "actual$50": 1})
	spend(30 * money.Dollar) // 85: past 80%
	want(count(), map[string]int{"forecast100": 1, "actual$50": 1, "actual80": 1, "actual80-email": 1})
	spend(5 * money.Dollar) // still past: nothing new
	want(count(), map[string]int{"forecast100": 1, "actual$50": 1, "actual80": 1, "actual80-email": 1})

	// A restart does not resend.
	f.add(t) // the ledger holds nothing here: spend restarts from the records below
	v, _ := f.svc.Get(t.Context(), acct, "b")
	if !v.Alarm[v.Notifications[0].Key()] {
		t.Errorf("ACTUAL 80%% notification not in ALARM at %s", money.Amount(v.Actual))
	}

	// Next month: the ACTUAL alerts fire again, once.
	f.clock.set(time.Date(2026, 12, 21, 0, 0, 0, 0, time.UTC))
	spend(1 * money.Dollar) // 1 in 20 days: forecast 1.55, below
	want(count(), map[string]int{"forecast100": 1, "actual$50": 1, "actual80": 1, "actual80-email": 1})
	spend(90 * money.Dollar)
	want(count(), map[string]int{"forecast100": 2, "actual$50": 2, "actual80": 2, "actual80-email": 2})

	// The forecast dips below (time passes without spend) and rises again.
	f.clock.set(time.Date(2026, 12, 31, 0, 0, 0, 0, time.UTC)) // 91 in 30 of 31 days: 94, below
	want(count(), map[string]int{"forecast100": 2, "actual$50": 2, "actual80": 2, "actual80-email": 2})
	spend(10 * money.Dollar) // 101 in 30 days: above again
	want(count(), map[string]int{"forecast100": 3, "actual$50": 2, "actual80": 2, "actual80-email": 2})
}

func TestRestartRebuildsSpendAndAlertState(t *testing.T) {
	now := time.Date(2026, 11, 20, 10, 30, 0, 0, time.UTC)
	f := newFixture(t, now)
	hook := []budget.Subscriber{{Type: budget.SNS, Address: "https://hooks.example.com/b"}}
	mustCreate(t, f, budget.Budget{Name: "claims", Limit: int64(100 * money.Dollar), Filter: claims(),
		Notifications: []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 10, Subscribers: hook}}})
	mustCreate(t, f, budget.Budget{Name: "usage", Type: budget.Usage, Unit: "Tokens", Limit: 1_000_000, TimeUnit: budget.Daily,
		CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}}})
	var want money.Amount
	var tokens int64
	for i, at := range []time.Time{
		time.Date(2026, 10, 31, 23, 0, 0, 0, time.UTC), // last month: not counted
		time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 20, 9, 0, 0, 0, time.UTC),
		time.Date(2026, 11, 20, 10, 29, 0, 0, time.UTC),
	} {
		f.clock.set(at)
		tg := tags.Set{"dept": "claims"}
		if i == 2 {
			tg = tags.Set{"dept": "sales"} // another scope
		}
		r := f.record("aaaaaaaaaaaa", tg, money.Amount(i+1)*3*money.Dollar)
		tk, _ := f.admit("aaaaaaaaaaaa", tg, r.Cost)
		tk.Done(r)
		f.add(t, r)
		if i != 0 && i != 2 {
			want += r.Cost
			if at.Day() == 20 {
				tokens += r.InputTokens + r.OutputTokens
			}
		}
	}
	f.clock.set(now)
	f.svc.Evaluate(t.Context())
	before, _ := f.svc.Get(t.Context(), acct, "claims")
	f.start(t) // restart
	after, _ := f.svc.Get(t.Context(), acct, "claims")
	if after.Actual != int64(want) || before.Actual != int64(want) {
		t.Errorf("actual before restart %s, after %s, want %s", money.Amount(before.Actual), money.Amount(after.Actual), want)
	}
	u, _ := f.svc.Get(t.Context(), acct, "usage")
	if u.Actual != tokens {
		t.Errorf("usage budget after restart = %d tokens, want %d", u.Actual, tokens)
	}
	f.svc.Evaluate(t.Context())
	if n := len(f.messages(t)); n != 1 {
		t.Errorf("%d alerts after a restart, want the 1 sent before it", n)
	}
}

func TestValidation(t *testing.T) {
	f := newFixture(t, t0)
	ok := budget.Budget{Account: acct, Name: "ok", Type: budget.Cost, Unit: "USD", TimeUnit: budget.Monthly, Limit: 1}
	mustCreate(t, f, ok)
	for _, tc := range []struct {
		name string
		mod  func(b *budget.Budget)
		kind errkind.Kind
	}{
		{"duplicate", func(b *budget.Budget) { b.Name = "ok" }, errkind.Conflict},
		{"colon in name", func(b *budget.Budget) { b.Name = "a:b" }, errkind.Invalid},
		{"action in name", func(b *budget.Budget) { b.Name = "a/action/b" }, errkind.Invalid},
		{"RI budget", func(b *budget.Budget) { b.Type = "RI_UTILIZATION" }, errkind.Invalid},
		{"bad time unit", func(b *budget.Budget) { b.TimeUnit = "WEEKLY" }, errkind.Invalid},
		{"custom without end", func(b *budget.Budget) { b.TimeUnit = budget.Custom; b.Start = t0 }, errkind.Invalid},
		{"cost in tokens", func(b *budget.Budget) { b.Unit = "Tokens" }, errkind.Invalid},
		{"planned daily", func(b *budget.Budget) {
			b.Limit = 0
			b.TimeUnit = budget.Daily
			b.Planned = map[int64]int64{t0.Truncate(24 * time.Hour).Unix(): 1}
		}, errkind.Invalid},
		{"both filter styles", func(b *budget.Budget) {
			b.Filter = claims()
			b.CostFilters = map[string][]string{"Region": {"us-east-1"}}
		}, errkind.Invalid},
		{"bad dimension", func(b *budget.Budget) {
			b.Filter = &costquery.Expr{Dimensions: &costquery.Values{Key: "INSTANCE_TYPE", Values: []string{"x"}}}
		}, errkind.Invalid},
		{"two roots", func(b *budget.Budget) {
			b.Filter = &costquery.Expr{Tags: claims().Tags, Dimensions: &costquery.Values{Key: "REGION", Values: []string{"x"}}}
		}, errkind.Invalid},
		{"bad threshold", func(b *budget.Budget) {
			b.Notifications = []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 2e6, Subscribers: []budget.Subscriber{{budget.Email, "a@b.c"}}}}
		}, errkind.Invalid},
		{"no subscribers", func(b *budget.Budget) {
			b.Notifications = []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 80}}
		}, errkind.Invalid},
		{"bad email", func(b *budget.Budget) {
			b.Notifications = []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 80, Subscribers: []budget.Subscriber{{budget.Email, "nobody"}}}}
		}, errkind.Invalid},
		{"sns topic arn", func(b *budget.Budget) {
			b.Notifications = []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 80, Subscribers: []budget.Subscriber{{budget.SNS, "arn:aws:sns:us-east-1:111111111111:t"}}}}
		}, errkind.Invalid},
		{"two sns", func(b *budget.Budget) {
			b.Notifications = []budget.Notification{{Type: budget.Actual, Comparison: budget.GreaterThan, Threshold: 80, Subscribers: []budget.Subscriber{{budget.SNS, "https://a.example/x"}, {budget.SNS, "https://b.example/x"}}}}
		}, errkind.QuotaExceeded},
		{"unknown downgrade model", func(b *budget.Budget) { b.Actions = []budget.Action{{Type: budget.Downgrade, Model: "nope"}} }, errkind.Invalid},
		{"IAM action", func(b *budget.Budget) { b.Actions = []budget.Action{{Type: "APPLY_IAM_POLICY"}} }, errkind.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := ok.Clone()
			b.Name = "new"
			tc.mod(&b)
			err := f.svc.Create(t.Context(), b)
			if err == nil || errkind.KindOf(err) != tc.kind {
				t.Errorf("Create = %v, want a %s error", err, tc.kind)
			}
		})
	}
}

// BenchmarkAdmit measures the admission check and settlement of one call
// with 1,000 budgets and 10,000 profiles: each profile is in the scope of
// two budgets (its team's and its department's), each with a BLOCK action.
func BenchmarkAdmit(b *testing.B) { benchmarkAdmit(b, false) }

// BenchmarkAdmitShared is BenchmarkAdmit with the BLOCK pools shared
// between replicas (the SQLite store's Shared, held in memory: the claims,
// one per chunk of an eighth of what is left, are rare; this measures the
// admission path).
func BenchmarkAdmitShared(b *testing.B) { benchmarkAdmit(b, true) }

func benchmarkAdmit(b *testing.B, shared bool) {
	f := newFixture(b, t0)
	if shared {
		svc, err := budget.NewService(b.Context(), budget.Config{Store: f.store, Source: f.store, Catalog: catalog.Default(), Notifier: f.outbox,
			Management: acct, Now: f.clock.now, Shared: f.store, Replica: "r1"})
		if err != nil {
			b.Fatal(err)
		}
		f.svc = svc
	}
	const budgets, profiles, depts = 1000, 10_000, 10
	for i := range budgets - depts {
		mustCreate(b, f, budget.Budget{Name: fmt.Sprintf("team-%03d", i), Limit: int64(1e6 * money.Dollar),
			Filter:  &costquery.Expr{Tags: &costquery.Values{Key: "team", Values: []string{fmt.Sprintf("t%03d", i)}}},
			Actions: []budget.Action{{Type: budget.Block, Threshold: 100}}})
	}
	for i := range depts {
		mustCreate(b, f, budget.Budget{Name: fmt.Sprintf("dept-%d", i), Limit: int64(1e6 * money.Dollar),
			CostFilters: map[string][]string{"TagKeyValue": {fmt.Sprintf("user:dept$d%d", i)}},
			Actions:     []budget.Action{{Type: budget.Block, Threshold: 100}}})
	}
	ps := make([]profile.Profile, profiles)
	for i := range ps {
		id := fmt.Sprintf("p%011d", i)
		ps[i] = profile.Profile{ID: id, ARN: profileARN(id), Account: acct, ModelID: haiku,
			Tags: tags.Set{"team": fmt.Sprintf("t%03d", i%(budgets-depts)), "dept": fmt.Sprintf("d%d", i%depts)}}
	}
	f.svc.AddProfiles(pointers(ps))
	adms := make([]admission.Request, profiles)
	for i, p := range ps {
		adms[i] = admission.Request{Time: t0, Account: acct, ProfileARN: p.ARN, ProfileID: p.ID, Model: catalog.Model{ID: haiku},
			Tags: p.Tags, Operation: "Converse", InputTokens: 100, MaxOutputTokens: 100, WorstCase: money.Cent}
	}
	if tk, _ := f.svc.Admit(context.Background(), adms[0]); budget.TicketBudgets(tk) != 2 {
		b.Fatalf("a profile is in the scope of %d budgets, want 2", budget.TicketBudgets(tk))
	}
	// The baseline: a call through a profile no budget covers.
	none := admission.Request{Time: t0, Account: acct, ProfileARN: profileARN("zzzzzzzzzzzz"), ProfileID: "zzzzzzzzzzzz", Model: catalog.Model{ID: haiku},
		Tags: tags.Set{"team": "none"}, Operation: "Converse", InputTokens: 100, MaxOutputTokens: 100, WorstCase: money.Cent}
	f.svc.AddProfiles([]*profile.Profile{{ID: "zzzzzzzzzzzz", ARN: none.ProfileARN, Account: acct, ModelID: haiku, Tags: none.Tags}})
	b.Run("no-budget-in-scope", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			tk, err := f.svc.Admit(context.Background(), none)
			if err != nil {
				b.Fatal(err)
			}
			tk.Done(ledger.Record{})
		}
	})
	b.Run("admit", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			tk, err := f.svc.Admit(context.Background(), adms[i%profiles])
			if err != nil {
				b.Fatal(err)
			}
			budget.ReleaseTicket(tk)
			i++
		}
	})
	b.Run("admit+done", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		var r ledger.Record
		for b.Loop() {
			a := adms[i%profiles]
			tk, err := f.svc.Admit(context.Background(), a)
			if err != nil {
				b.Fatal(err)
			}
			r = ledger.Record{RequestID: "r", Time: t0, Account: acct, RegionServed: "us-east-1", ProfileARN: a.ProfileARN, ModelID: haiku,
				Operation: "Converse", Tags: a.Tags, InputTokens: 10, Cost: money.Micro, InputCost: money.Micro, Priced: true}
			tk.Done(r)
			i++
		}
	})
	// What Run does after each call settles: evaluate the alerts and
	// actions of the budgets the call marked (two of the 1,000).
	b.Run("admit+done+evaluate", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			a := adms[i%profiles]
			tk, err := f.svc.Admit(context.Background(), a)
			if err != nil {
				b.Fatal(err)
			}
			tk.Done(ledger.Record{RequestID: "r", Time: t0, Account: acct, RegionServed: "us-east-1", ProfileARN: a.ProfileARN, ModelID: haiku,
				Operation: "Converse", Tags: a.Tags, InputTokens: 10, Cost: money.Micro, InputCost: money.Micro, Priced: true})
			budget.EvaluateMarked(f.svc, context.Background())
			i++
		}
	})
	b.Run("admit+done-parallel", func(b *testing.B) {
		b.ReportAllocs()
		var n atomic.Int64
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				a := adms[int(n.Add(1))%profiles]
				tk, err := f.svc.Admit(context.Background(), a)
				if err != nil {
					b.Error(err)
					return
				}
				tk.Done(ledger.Record{RequestID: "r", Time: t0, Account: acct, RegionServed: "us-east-1", ProfileARN: a.ProfileARN, ModelID: haiku,
					Operation: "Converse", Tags: a.Tags, InputTokens: 10, Cost: money.Micro, InputCost: money.Micro, Priced: true})
			}
		})
	})
}

// TestRegionScopeAtAdmission checks a REGION-scoped budget is decided at
// admission from the regions a profile routes to: a profile that can only
// be served elsewhere is not held by it.
func TestRegionScopeAtAdmission(t *testing.T) {
	f := newFixture(t, t0)
	mustCreate(t, f, budget.Budget{Name: "west", Limit: 0, CostFilters: map[string][]string{"Region": {"us-west-2"}},
		Actions: []budget.Action{{Type: budget.Block, Threshold: 100}}})
	arnOf := func(region string) string {
		return "arn:aws:bedrock:" + region + "::foundation-model/" + haiku
	}
	east := profile.Profile{ID: "eeeeeeeeeeee", ARN: profileARN("eeeeeeeeeeee"), Account: acct, ModelID: haiku, ModelARNs: []string{arnOf("us-east-1")}}
	both := profile.Profile{ID: "bbbbbbbbbbbb", ARN: profileARN("bbbbbbbbbbbb"), Account: acct, ModelID: haiku, ModelARNs: []string{arnOf("us-east-1"), arnOf("us-west-2")}}
	f.svc.AddProfiles([]*profile.Profile{&east, &both})
	if _, err := f.admit(east.ID, nil, money.Cent); err != nil {
		t.Errorf("call through a us-east-1 profile: %v", err)
	}
	if _, err := f.admit(both.ID, nil, money.Cent); !errkind.Is(err, errkind.QuotaExceeded) {
		t.Errorf("call through a profile that may be served in us-west-2 = %v, want QuotaExceeded", err)
	}
}

// TestPeriodRolloverAndPlannedLimits checks a BLOCK budget admits again in
// its next period, with that period's planned limit (the last planned one
// keeps applying).
func TestPeriodRolloverAndPlannedLimits(t *testing.T) {
	nov := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	f := newFixture(t, nov.Add(10*24*time.Hour))
	mustCreate(t, f, budget.Budget{Name: "planned", Planned: map[int64]int64{nov.Unix(): int64(money.Dollar), nov.AddDate(0, 1, 0).Unix(): int64(3 * money.Dollar)},
		Filter: claims(), Actions: []budget.Action{{Type: budget.Block, Threshold: 100}}})
	tg := tags.Set{"dept": "claims"}
	spendAll := func() money.Amount { // admit $0.25 calls until blocked
		var total money.Amount
		for range 100 {
			tk, err := f.admit("aaaaaaaaaaaa", tg, money.Dollar/4)
			if err != nil {
				if !errkind.Is(err, errkind.QuotaExceeded) {
					t.Fatal(err)
				}
				return total
			}
			tk.Done(f.record("aaaaaaaaaaaa", tg, money.Dollar/4))
			total += money.Dollar / 4
		}
		t.Fatal("never blocked")
		return 0
	}
	if got := spendAll(); got != money.Dollar {
		t.Errorf("November admitted %s, want its planned $1", got)
	}
	for _, tc := range []struct {
		at   time.Time
		want money.Amount
	}{
		{time.Date(2026, 12, 3, 0, 0, 0, 0, time.UTC), 3 * money.Dollar}, // December's plan
		{time.Date(2027, 2, 3, 0, 0, 0, 0, time.UTC), 3 * money.Dollar},  // the last plan keeps applying
	} {
		f.clock.set(tc.at)
		if got := spendAll(); got != tc.want {
			t.Errorf("%s admitted %s, want %s", tc.at.Format("2006-01"), got, tc.want)
		}
		v, _ := f.svc.Get(t.Context(), acct, "planned")
		if v.PeriodLimit != int64(tc.want) || v.Actual != int64(tc.want) || !v.Period.Start.Equal(time.Date(tc.at.Year(), tc.at.Month(), 1, 0, 0, 0, 0, time.UTC)) {
			t.Errorf("%s: view %+v", tc.at.Format("2006-01"), v.Period)
		}
	}
}

// BenchmarkProfileChanged measures keeping the admission index in step
// when a profile is created, with 1,000 budgets and 100,000 profiles
// already indexed: the cost of one CreateInferenceProfile on the budget
// side.
func BenchmarkProfileChanged(b *testing.B) {
	f := newFixture(b, t0)
	const budgets, profiles = 1000, 100_000
	for i := range budgets {
		mustCreate(b, f, budget.Budget{Name: fmt.Sprintf("app-%04d", i), Limit: int64(1e6 * money.Dollar),
			CostFilters: map[string][]string{"TagKeyValue": {fmt.Sprintf("user:app$app-%04d", i)}},
			Actions:     []budget.Action{{Type: budget.Block, Threshold: 100}}})
	}
	ps := make([]profile.Profile, profiles)
	for i := range ps {
		id := fmt.Sprintf("p%011d", i)
		ps[i] = profile.Profile{ID: id, ARN: profileARN(id), Account: acct, ModelID: haiku, Tags: tags.Set{"app": fmt.Sprintf("app-%04d", i%budgets)}}
	}
	f.svc.AddProfiles(pointers(ps))
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		id := fmt.Sprintf("n%011d", i)
		f.svc.ProfileChanged(nil, &profile.Profile{ID: id, ARN: profileARN(id), Account: acct, ModelID: haiku, Tags: tags.Set{"app": fmt.Sprintf("app-%04d", i%budgets)}})
		i++
	}
}

// pointers returns pointers to ps's elements.
func pointers(ps []profile.Profile) []*profile.Profile {
	out := make([]*profile.Profile, len(ps))
	for i := range ps {
		out[i] = &ps[i]
	}
	return out
}

// TestProfileEntryDecidedPerCall checks that a budget whose scope depends
// on the call's operation is decided per call from what the admission
// index holds of the profile (its tags, not the request's), and follows a
// retag.
func TestProfileEntryDecidedPerCall(t *testing.T) {
	f := newFixture(t, t0)
	mustCreate(t, f, budget.Budget{Name: "claims-converse", Limit: 0,
		CostFilters: map[string][]string{"TagKeyValue": {"user:dept$claims"}, "Operation": {"Converse"}},
		Actions:     []budget.Action{{Type: budget.Block, Threshold: 100}}})
	claims := profile.Profile{ID: "cccccccccccc", ARN: profileARN("cccccccccccc"), Account: acct, ModelID: haiku, Tags: tags.Set{"dept": "claims"}}
	other := profile.Profile{ID: "oooooooooooo", ARN: profileARN("oooooooooooo"), Account: acct, ModelID: haiku, Tags: tags.Set{"dept": "other"}}
	f.svc.AddProfiles([]*profile.Profile{&claims, &other})
	if _, err := f.admit(claims.ID, nil, money.Cent); !errkind.Is(err, errkind.QuotaExceeded) {
		t.Errorf("Converse through the claims profile = %v, want QuotaExceeded", err)
	}
	if _, err := f.admit(other.ID, nil, money.Cent); err != nil {
		t.Errorf("Converse through the other profile: %v", err)
	}
	retagged := claims
	retagged.Tags = tags.Set{"dept": "other"}
	f.svc.ProfileChanged(&claims, &retagged)
	if _, err := f.admit(claims.ID, nil, money.Cent); err != nil {
		t.Errorf("Converse through the claims profile retagged dept=other: %v", err)
	}
}
