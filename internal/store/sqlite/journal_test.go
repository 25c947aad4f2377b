package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/sqlstore"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// journalRecord is the i-th record of the journal tests: several hours,
// tag sets, outcomes and price dimensions.
func journalRecord(i int, t0 time.Time) ledger.Record {
	sets := []tags.Set{{"dept": "claims", "app": "claims_chatbot"}, {"dept": "sales", "team": "support"}, nil}
	r := ledger.Record{
		RequestID: fmt.Sprintf("req-%06d", i), Time: t0.Add(time.Duration(i) * 7 * time.Minute),
		Account: []string{"111111111111", "222222222222"}[i%2], Region: "us-east-1",
		RegionServed: []string{"us-east-1", "us-west-2"}[i%2], PrincipalID: "root-111111111111",
		ProfileARN: "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa",
		ProfileID:  "aaaaaaaaaaaa", ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Provider: "sim",
		Operation: []string{"Converse", "ConverseStream"}[i%2], ServiceTier: []string{"default", "priority", "flex", ""}[i%4],
		Scope: []string{"", "geo", "global"}[i%3], LongContext: i%6 == 1, LatencyOptimized: i%7 == 2,
		InputTokens: int64(10 + i), OutputTokens: int64(20 + i%7), CacheReadTokens: int64(i % 3), CacheWriteTokens: int64(i % 5),
		CacheWrite1hTokens: int64(i % 4), LatencyMs: int64(5 + i%11), TTFTMs: int64(i % 3), Attempts: 1 + i%2,
		Outcome: ledger.OutcomeSuccess, Priced: i%5 != 0, PriceVersion: fmt.Sprintf("p%016x", i%2),
		Tags: sets[i%len(sets)],
	}
	if i%13 == 0 {
		r.Outcome, r.ErrorCode = ledger.OutcomeThrottled, "ThrottlingException"
	}
	if i%9 == 4 {
		r.Calls = int64(40 + i) // a record standing for many calls
	}
	if i%5 == 3 {
		r.Units, r.UnitKind = int64(1+i%4), []string{"image-premium-2048x2048", "image"}[i%2] // images
	}
	if r.Priced {
		r.InputCost, r.OutputCost, r.CacheReadCost, r.CacheWriteCost, r.CacheWrite1hCost = money.Amount(600+i), 300, 100, money.Amount(i%5), money.Amount(7*(i%4))
		if r.Units > 0 {
			r.UnitCost = money.Amount(80_000_000 * r.Units)
		}
		r.Cost = r.LineSum()
	}
	return r
}

func TestJournalEncoding(t *testing.T) {
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 50 {
		recs = append(recs, journalRecord(i, t0))
	}
	recs = append(recs, ledger.Record{RequestID: "fixed", Time: t0, Operation: ledger.OpFixedCost, FixedCost: 123_456, Cost: 123_456,
		Priced: true, Tags: tags.Set{"dept": "claims"}, Attempts: -1, LatencyMs: -5})
	var e sqlstore.JournalEncoder
	body := slices.Clone(e.Encode(recs))
	got, err := sqlstore.DecodeJournal(body, nil, map[string]string{})
	if err != nil {
		t.Fatal(err)
	}
	want := slices.Clone(recs)
	for i := range want {
		if len(want[i].Tags) == 0 {
			want[i].Tags = nil
		}
	}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("decoded (-got +want):\n%s", diff)
	}
	// Every proper prefix and every changed format byte is refused, never
	// decoded into records.
	for n := range len(body) {
		if out, err := sqlstore.DecodeJournal(body[:n], nil, nil); err == nil {
			t.Fatalf("prefix of %d of %d bytes decoded into %d records", n, len(body), len(out))
		}
	}
	bad := slices.Clone(body)
	bad[0]++
	if _, err := sqlstore.DecodeJournal(bad, nil, nil); err == nil {
		t.Error("unknown format decoded")
	}
	if _, err := sqlstore.DecodeJournal(append(slices.Clone(body), 0), nil, nil); err == nil {
		t.Error("trailing byte accepted")
	}
}

// TestJournalFormat1 decodes a body of the format before Calls (one a
// crash may leave behind an upgrade): its record stands for one call.
func TestJournalFormat1(t *testing.T) {
	body := []byte{sqlstore.JournalFormat1, 1, 0, 1, 'a', 2} // one record, request id "a", time 1 ms
	body = append(body, 0, 0)                                // account "": a literal, string 1 of the table
	for range 13 {
		body = append(body, 1) // region ... price version: string 1
	}
	body = append(body, 4)                   // flags: priced
	body = append(body, make([]byte, 15)...) // tokens, latency, attempts, costs: 0
	body[len(body)-15] = 14                  // input tokens 7 (zig-zag)
	body = append(body, 0)                   // no tags
	got, err := sqlstore.DecodeJournal(body, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ledger.Record{{RequestID: "a", Time: time.UnixMilli(1).UTC(), Priced: true, InputTokens: 7}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("decoded (-got +want):\n%s", diff)
	}
	if c := got[0].CallCount(); c != 1 {
		t.Errorf("CallCount %d, want 1", c)
	}
}

// TestJournalFormat2 decodes a body of the format before units (one a
// crash may leave behind an upgrade): its record keeps its calls and has
// no units.
func TestJournalFormat2(t *testing.T) {
	body := []byte{sqlstore.JournalFormat2, 1, 0, 1, 'a', 2} // one record, request id "a", time 1 ms
	body = append(body, 0, 0)                                // account "": a literal, string 1 of the table
	for range 13 {
		body = append(body, 1) // region ... price version: string 1
	}
	body = append(body, 4)                   // flags: priced
	body = append(body, make([]byte, 16)...) // tokens, latency, attempts, costs, calls: 0
	body[len(body)-16] = 14                  // input tokens 7 (zig-zag)
	body[len(body)-1] = 6                    // calls 3 (zig-zag)
	body = append(body, 0)                   // no tags
	got, err := sqlstore.DecodeJournal(body, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []ledger.Record{{RequestID: "a", Time: time.UnixMilli(1).UTC(), Priced: true, InputTokens: 7, Calls: 3}}
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("decoded (-got +want):\n%s", diff)
	}
}

// TestJournalCut appends records through the group commit with
// synchronous=FULL while the applier runs, then takes the image a crash
// would leave (no checkpoint having run, so both WALs only grew): the
// main database and its WAL, the journal file and its WAL. It cuts the
// journal's WAL at random byte offsets, or overwrites it with noise from
// an offset on, as a crash or a torn write would leave it; and, the
// journal intact, cuts the main database's WAL at random offsets past
// the point it had reached when the applier last deleted rows from the
// journal (an applying transaction is synced before its rows leave the
// journal, so no crash loses it after that). It reopens each image and
// checks that recovery never invents a record, never applies one twice,
// keeps every record acknowledged before the cut (the journal WAL's size
// when its Append returned is at most the offset) and leaves rollups
// equal to the sum of the records. Set TOLLGATE_JOURNAL_SEED to replay a
// failure.
func TestJournalCut(t *testing.T) {
	seed := uint64(time.Now().UnixNano())
	if s := os.Getenv("TOLLGATE_JOURNAL_SEED"); s != "" {
		v, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		seed = v
	}
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("seed %d: rerun with TOLLGATE_JOURNAL_SEED=%d", seed, seed)
		}
	})
	rng := rand.New(rand.NewPCG(seed, 0x6a6f75726e616c))
	ctx := t.Context()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

	path := filepath.Join(t.TempDir(), "tollgate.db")
	jpath := JournalPath(path)
	db, err := Open(ctx, path, Options{Synchronous: "FULL", noCheckpoint: true})
	if err != nil {
		t.Fatal(err)
	}
	// The main WAL's size when the journal was last trimmed: a cut of
	// the main WAL below it is no crash's.
	var mainFloor int64
	db.jr.trimMu.Lock()
	db.onTrim = func() {
		if st, err := os.Stat(path + "-wal"); err == nil {
			mainFloor = st.Size()
		}
	}
	db.jr.trimMu.Unlock()
	bt := ledger.NewBatcher(db, 0, nil)
	const appenders, perAppender = 4, 30
	all := map[string]ledger.Record{}
	acked := map[string]int64{} // request id -> journal WAL size once its Append returned
	var mu sync.Mutex
	var wg sync.WaitGroup
	pauses := make([]int, appenders*perAppender)
	for i := range pauses {
		pauses[i] = rng.IntN(4)
	}
	for a := range appenders {
		wg.Go(func() {
			for k := range perAppender {
				i := a*perAppender + k
				r := journalRecord(i, t0)
				mu.Lock()
				all[r.RequestID] = r
				mu.Unlock()
				if err := bt.Append(ctx, r); err != nil {
					t.Error(err)
					return
				}
				st, err := os.Stat(jpath + "-wal")
				if err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				acked[r.RequestID] = st.Size()
				mu.Unlock()
				// Now and then a pause lets the applier interleave its
				// transactions and trims with the journal's commits.
				if pauses[i] == 0 {
					time.Sleep(time.Duration(1+i%3) * 20 * time.Millisecond)
				}
			}
		})
	}
	wg.Wait()
	if t.Failed() {
		return
	}
	// Then the applier applies with trims held back, so the main WAL
	// grows past the floor for its cuts.
	db.jr.trimMu.Lock()
	db.jr.lastTrim = time.Now().Add(time.Hour)
	db.jr.trimMu.Unlock()
	next := appenders * perAppender
	for range 20 {
		r := journalRecord(next, t0)
		all[r.RequestID] = r
		if err := bt.Append(ctx, r); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(jpath + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		acked[r.RequestID] = st.Size()
		if next%4 == 0 {
			if _, err := db.LedgerVersion(ctx); err != nil { // applied now
				t.Fatal(err)
			}
		}
		next++
	}
	// The last groups stay in the journal: the applier stops first.
	db.stopApplier()
	for i := next; i < next+20; i++ {
		r := journalRecord(i, t0)
		all[r.RequestID] = r
		if err := db.AppendRecords(ctx, []ledger.Record{r}); err != nil {
			t.Fatal(err)
		}
		st, err := os.Stat(jpath + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		acked[r.RequestID] = st.Size()
	}
	// The image of a crash now: the database files (untouched since
	// they were created, nothing having checkpointed) and the WALs.
	var image [4][]byte
	for i, p := range []string{path, path + "-wal", jpath, jpath + "-wal"} {
		if image[i], err = os.ReadFile(p); err != nil {
			t.Fatal(err)
		}
	}
	mainWAL, wal := image[1], image[3]
	db.jr.trimMu.Lock()
	floor, trimmed := mainFloor, db.jr.trimmed
	db.jr.trimMu.Unlock()
	pending := db.jr.appended.Load() - db.jr.applied.Load()
	bt.Close()
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	t.Logf("journal WAL of %d bytes, main WAL of %d (%d at the last trim, of seqs up to %d); %d journal rows were not applied yet at the crash",
		len(wal), len(mainWAL), floor, trimmed, pending)
	if trimmed == 0 {
		t.Error("the applier never trimmed the journal file")
	}

	type cut struct {
		main  bool // the main WAL is cut, not the journal's
		at    int
		noise bool
	}
	cuts := []cut{{at: 0}, {at: 32}, {at: len(wal)}, {main: true, at: int(floor)}}
	for n := range 11 {
		at := rng.IntN(len(wal) + 1)
		cuts = append(cuts, cut{at: at, noise: n%2 == 1 && at < len(wal)})
	}
	for range 4 {
		cuts = append(cuts, cut{main: true, at: int(floor) + rng.IntN(len(mainWAL)-int(floor)+1)})
	}
	for n, c := range cuts {
		t.Run(fmt.Sprintf("main=%v,cut=%d,noise=%v", c.main, c.at, c.noise), func(t *testing.T) {
			img := image
			w := &img[3]
			if c.main {
				w = &img[1]
			}
			full := *w
			*w = slices.Clone(full[:c.at])
			if c.noise {
				for len(*w) < len(full) {
					*w = append(*w, byte(rng.Uint32()))
				}
			}
			p := filepath.Join(t.TempDir(), "tollgate.db")
			for i, f := range []string{p, p + "-wal", JournalPath(p), JournalPath(p) + "-wal"} {
				if err := os.WriteFile(f, img[i], 0o600); err != nil {
					t.Fatal(err)
				}
			}
			must := func(id string) bool { return c.main || acked[id] <= int64(c.at) }
			var first []ledger.Record
			// Recover twice: applying what the first recovery left must
			// change nothing.
			for round := range 1 + n%3/2 {
				got := checkRecovered(t, p, all, must)
				if round == 0 {
					first = got
				} else if diff := cmp.Diff(got, first); diff != "" {
					t.Errorf("records after a second open differ (-got +want):\n%s", diff)
				}
			}
		})
	}
}

// checkRecovered opens the database at p and checks its ledger against
// the records appended (all) and those that must have survived (must).
func checkRecovered(t *testing.T, p string, all map[string]ledger.Record, must func(id string) bool) []ledger.Record {
	t.Helper()
	ctx := t.Context()
	db, err := Open(ctx, p, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, h := range []*sql.DB{db.r, db.jc} {
		var left int
		if err := h.QueryRowContext(ctx, `SELECT count(*) FROM ledger_journal WHERE length(body) > 0`).Scan(&left); err != nil || left != 0 {
			t.Errorf("journal rows left after open: %d (%v)", left, err)
		}
	}
	{
		// New seqs go above the applied one.
		var applied, top int64
		if err := db.r.QueryRowContext(ctx, `SELECT max(seq) FROM ledger_journal`).Scan(&applied); err != nil {
			t.Fatal(err)
		}
		if err := db.jc.QueryRowContext(ctx, `SELECT max(seq) FROM ledger_journal`).Scan(&top); err != nil {
			t.Fatal(err)
		}
		if top < applied {
			t.Errorf("journal file's highest seq %d below the applied seq %d", top, applied)
		}
	}
	recs, err := db.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, r := range recs {
		want, ok := all[r.RequestID]
		if !ok {
			t.Fatalf("recovered record %s was never appended", r.RequestID)
		}
		if seen[r.RequestID] {
			t.Fatalf("record %s recovered twice", r.RequestID)
		}
		seen[r.RequestID] = true
		if len(want.Tags) == 0 {
			want.Tags = tags.Set{}
		}
		if diff := cmp.Diff(r, want); diff != "" {
			t.Fatalf("recovered record %s (-got +want):\n%s", r.RequestID, diff)
		}
	}
	lost, required := 0, 0
	for id := range all {
		if must(id) {
			required++
		}
		if must(id) && !seen[id] {
			lost++
			if lost < 5 {
				t.Errorf("record %s acknowledged before the cut was lost", id)
			}
		}
	}
	if lost > 0 {
		t.Errorf("%d acknowledged records lost", lost)
	}
	t.Logf("%d records recovered, %d of them acknowledged before the cut", len(recs), required)
	// The rollups are the records summed, hourly and daily.
	from, to := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC)
	var rolls []ledger.Rollup
	for _, acct := range []string{"111111111111", "222222222222"} {
		rs, err := db.Rollups(ctx, acct, from, to)
		if err != nil {
			t.Fatal(err)
		}
		rolls = append(rolls, rs...)
	}
	want := costquery.RollupRecords(recs)
	sortRolls(rolls)
	sortRolls(want)
	if diff := cmp.Diff(rolls, want); diff != "" {
		t.Errorf("hourly rollups (-got +want):\n%s", diff)
	}
	daily, err := db.CostRollupsDaily(ctx, nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	var dCalls, wCalls int64
	var dCost, wCost money.Amount
	for _, r := range daily {
		dCalls, dCost = dCalls+r.Calls, dCost+r.Cost
	}
	for _, r := range recs {
		wCalls, wCost = wCalls+r.CallCount(), wCost+r.Cost
	}
	if dCalls != wCalls || dCost != wCost {
		t.Errorf("daily rollups: %d calls costing %v, records: %d calls costing %v", dCalls, dCost, wCalls, wCost)
	}
	return recs
}

func sortRolls(rs []ledger.Rollup) {
	key := func(r ledger.Rollup) string {
		return strings.Join([]string{r.Hour.Format(time.RFC3339), r.Account, r.RegionServed, r.ProfileARN, r.ModelID, r.PrincipalID,
			r.Operation, r.Tags.Canonical(), r.Scope, r.ServiceTier, r.Region, fmt.Sprint(r.LongContext, r.LatencyOptimized)}, "\x00")
	}
	slices.SortFunc(rs, func(a, b ledger.Rollup) int { return strings.Compare(key(a), key(b)) })
}

// TestJournalAppliedElsewhere opens one database twice, as a server and an
// offline command opening its file would: rows one handle appended and
// the other applied (at its open) must not leave the first one's readers
// waiting for them.
func TestJournalAppliedElsewhere(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	a, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	a.stopApplier() // keep the rows in the journal until b opens
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 10 {
		recs = append(recs, journalRecord(i, t0))
	}
	if err := a.AppendRecords(ctx, recs); err != nil {
		t.Fatal(err)
	}
	b, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	a.startApplier()
	wait, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	got, err := a.Records(wait, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Errorf("%d records, want %d", len(got), len(recs))
	}
}

// TestJournalApplyLeavesNewRows checks that the applier applies the rows
// there are in one transaction and leaves those appended meanwhile to its
// next round, rather than chasing them with a transaction (and a sync of
// the main database) per handful of records; a backlog of more than a
// transaction holds is applied in full transactions and one more.
func TestJournalApplyLeavesNewRows(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.stopApplier() // applyTrimming is called below as the applier would
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	next := 0
	appendGroups := func(groups int) {
		t.Helper()
		for range groups {
			if err := db.AppendRecords(ctx, []ledger.Record{journalRecord(next, t0)}); err != nil {
				t.Fatal(err)
			}
			next++
		}
	}
	var txs []int
	during := 2 // groups appended while the first round applies
	db.onApply = func(rows int) {
		txs = append(txs, rows)
		appendGroups(during)
		during = 0
	}

	appendGroups(3)
	if err := db.applyTrimming(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(txs, []int{3}); diff != "" {
		t.Errorf("first round's transactions (-got +want rows):\n%s", diff)
	}
	if got, want := db.jr.applied.Load(), db.jr.appended.Load()-2; got != want {
		t.Errorf("applied seq %d after the first round, want %d (the two appended meanwhile left)", got, want)
	}
	if err := db.applyTrimming(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(txs, []int{3, 2}); diff != "" {
		t.Errorf("second round's transactions (-got +want rows):\n%s", diff)
	}

	txs = nil
	appendGroups(applyMaxRows + 2)
	if err := db.applyTrimming(ctx); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(txs, []int{applyMaxRows, 2}); diff != "" {
		t.Errorf("a backlog's transactions (-got +want rows):\n%s", diff)
	}
	got, err := db.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != next {
		t.Errorf("%d records, want %d", len(got), next)
	}
}

// TestJournalAppendBesideLongApply holds the main database's write lock
// in a long transaction, as an applying transaction of many records or
// any other writer of the main database does, and appends meanwhile: the
// append must not wait for it, since the journal is a file of its own.
// Records appended then are applied once the lock is released.
func TestJournalAppendBesideLongApply(t *testing.T) {
	ctx := t.Context()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "tollgate.db"), Options{Synchronous: "FULL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.w.BeginTx(ctx, nil) // BEGIN IMMEDIATE: the main database's write lock
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.ExecContext(ctx, `UPDATE tag_sets SET id = id WHERE 0`); err != nil {
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 8 {
		recs = append(recs, journalRecord(i, t0))
	}
	start := time.Now()
	actx, cancel := context.WithTimeout(ctx, 2*time.Second)
	for i := range recs {
		if err := db.AppendRecords(actx, recs[i:i+1]); err != nil {
			cancel()
			tx.Rollback()
			t.Fatalf("append %d while the main database's writer is held, after %v: %v", i, time.Since(start), err)
		}
	}
	cancel()
	held := time.Since(start)
	t.Logf("%d appends took %v while the main database's write lock was held", len(recs), held)
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	got, err := db.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Errorf("%d records, want %d", len(got), len(recs))
	}
}

// TestJournalLegacyRows upgrades a database that a crash of the version
// before the journal file left with rows in the main database's
// ledger_journal: Open applies them first, keeps the newest as the
// applied seq, and the journal file's seqs continue above it.
func TestJournalLegacyRows(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(JournalPath(path)); err != nil { // as the old version left it: no journal file
		t.Fatal(err)
	}
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	var recs []ledger.Record
	for i := range 12 {
		recs = append(recs, journalRecord(i, t0))
	}
	raw, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	// The old version's newest applied row (emptied), then two groups a
	// crash left.
	var e sqlstore.JournalEncoder
	for _, row := range []struct {
		seq  int64
		body []byte
	}{{40, []byte{}}, {41, slices.Clone(e.Encode(recs[:5]))}, {42, slices.Clone(e.Encode(recs[5:]))}} {
		if _, err := raw.ExecContext(ctx, `INSERT INTO ledger_journal (seq, body) VALUES (?, ?)`, row.seq, row.body); err != nil {
			t.Fatal(err)
		}
	}
	if err := raw.Close(); err != nil {
		t.Fatal(err)
	}
	db, err = Open(ctx, path, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	got, err := db.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Errorf("%d records after the upgrade, want %d", len(got), len(recs))
	}
	var left []int64
	rows, err := db.r.QueryContext(ctx, `SELECT seq FROM ledger_journal`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var s int64
		if err := rows.Scan(&s); err != nil {
			t.Fatal(err)
		}
		left = append(left, s)
	}
	rows.Close()
	if diff := cmp.Diff(left, []int64{42}); diff != "" {
		t.Errorf("main database's ledger_journal seqs (-got +want):\n%s", diff)
	}
	more := journalRecord(100, t0)
	if err := db.AppendRecords(ctx, []ledger.Record{more}); err != nil {
		t.Fatal(err)
	}
	if seq := db.jr.appended.Load(); seq != 43 {
		t.Errorf("first journal file seq %d, want 43", seq)
	}
	if got, err = db.Records(ctx, ledger.Query{}); err != nil || len(got) != len(recs)+1 {
		t.Errorf("%d records after an append (%v), want %d", len(got), err, len(recs)+1)
	}
}

// TestJournalWALBounded appends single-record groups back to back, as a
// steady load does, with the applier running: the journal's WAL must
// start again from its beginning now and then (the applier checkpoints
// it, since its automatic checkpoint is off), not grow by a frame or
// more per append.
func TestJournalWALBounded(t *testing.T) {
	ctx := t.Context()
	path := filepath.Join(t.TempDir(), "tollgate.db")
	db, err := Open(ctx, path, Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	const appends = 12000
	var largest int64
	for i := range appends {
		r := journalRecord(i%1000, t0)
		r.RequestID = "bounded-" + strconv.Itoa(i)
		if err := db.AppendRecords(ctx, []ledger.Record{r}); err != nil {
			t.Fatal(err)
		}
		if i%50 == 0 {
			st, err := os.Stat(JournalPath(path) + "-wal")
			if err != nil {
				t.Fatal(err)
			}
			largest = max(largest, st.Size())
		}
	}
	frames := largest / (4096 + 24)
	t.Logf("%d appends: the journal WAL reached %d frames at most", appends, frames)
	if frames >= appends*2/3 {
		t.Errorf("the journal WAL reached %d frames for %d appends: never started again", frames, appends)
	}
}
