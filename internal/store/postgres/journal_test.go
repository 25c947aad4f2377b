package postgres_test

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// The crash test's load: batch k holds the records k*crashStep up to
// k*crashStep+crashBatch, so every record is in two batches.
const (
	crashBatches = 240
	crashBatch   = 50
	crashStep    = 25
)

// crashRecord is record i of the crash test, the same in every batch that
// holds it: several hours, tag sets and accounts.
func crashRecord(i int) ledger.Record {
	t0 := time.Date(2027, 5, 31, 22, 0, 0, 0, time.UTC) // spans two months
	return ledger.Record{
		RequestID: fmt.Sprintf("crash-%05d", i), Time: t0.Add(time.Duration(i) * 2 * time.Second),
		Account: []string{"111111111111", "222222222222"}[i%2], Region: "us-east-1", RegionServed: "us-east-1",
		PrincipalID: fmt.Sprintf("user-%d", i%3), ModelID: "m", Provider: "sim", Operation: "Converse",
		InputTokens: int64(i), OutputTokens: 1, Attempts: 1, Outcome: ledger.OutcomeSuccess,
		Cost: money.Amount(1000 + i), InputCost: money.Amount(1000 + i), Priced: true,
		Tags: tags.Set{"tenant": fmt.Sprintf("t%d", i%5)},
	}
}

func crashBatchRecords(k int) []ledger.Record {
	out := make([]ledger.Record, 0, crashBatch)
	for i := k * crashStep; i < k*crashStep+crashBatch; i++ {
		out = append(out, crashRecord(i))
	}
	return out
}

// crashChild is the process TestJournalCrashRecovery kills: it appends
// batches from, on eight goroutines, printing "ack K" once batch K's
// append returned, with its applier running, or stopped when
// TOLLGATE_CRASH_APPLIER is "off" (every row it journals is then left).
func crashChild(url string, from, to int) {
	ctx := context.Background()
	db, err := postgres.Open(ctx, url, postgres.Options{})
	if err != nil {
		fmt.Println("open:", err)
		os.Exit(2)
	}
	if os.Getenv("TOLLGATE_CRASH_APPLIER") == "off" {
		postgres.StopApplier(db)
	}
	var mu sync.Mutex
	next := from
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for {
				mu.Lock()
				k := next
				next++
				mu.Unlock()
				if k >= to {
					return
				}
				if err := db.AppendRecords(ctx, crashBatchRecords(k)); err != nil {
					fmt.Println("append:", err)
					os.Exit(2)
				}
				mu.Lock()
				fmt.Printf("ack %d\n", k)
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	fmt.Println("done")
	select {} // wait to be killed, never closing the store
}

// TestJournalCrashRecovery kills processes appending to the ledger, one
// mid-load with its applier running and one whose applier was stopped
// (so every row it journaled is left), then opens two stores on the same
// schema whose appliers race to apply what is left while readers wait.
// Every acknowledged record must be stored exactly once, nothing else,
// the journal must be empty, and the hourly and daily rollups must equal
// the records' sums.
func TestJournalCrashRecovery(t *testing.T) {
	if url := os.Getenv("TOLLGATE_CRASH_CHILD_URL"); url != "" {
		from, _ := strconv.Atoi(os.Getenv("TOLLGATE_CRASH_FROM"))
		to, _ := strconv.Atoi(os.Getenv("TOLLGATE_CRASH_TO"))
		crashChild(url, from, to)
		return
	}
	url := pgtest.URL(t)
	acked := map[int]bool{}
	// run starts a child appending batches [from, to) and kills it once
	// it acknowledged killAfter of them (or all, then waits for "done").
	run := func(from, to, killAfter int, applier string) {
		t.Helper()
		cmd := exec.Command(os.Args[0], "-test.run=^TestJournalCrashRecovery$")
		cmd.Env = append(os.Environ(), "TOLLGATE_CRASH_CHILD_URL="+url, fmt.Sprintf("TOLLGATE_CRASH_FROM=%d", from),
			fmt.Sprintf("TOLLGATE_CRASH_TO=%d", to), "TOLLGATE_CRASH_APPLIER="+applier)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		cmd.Stderr = os.Stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		n := 0
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			line := sc.Text()
			if k, ok := strings.CutPrefix(line, "ack "); ok {
				i, _ := strconv.Atoi(k)
				acked[i] = true
				if n++; n == killAfter {
					break
				}
				continue
			}
			if line == "done" {
				break
			}
			cmd.Process.Kill()
			t.Fatalf("child: %s", line)
		}
		if err := cmd.Process.Kill(); err != nil {
			t.Fatal(err)
		}
		cmd.Wait()
		t.Logf("child [%d, %d) applier %s: %d batches acknowledged when killed", from, to, applier, n)
	}
	run(0, crashBatches/2, crashBatches/4, "on")
	run(crashBatches/2, crashBatches, crashBatches, "off")
	if len(acked) == 0 {
		t.Fatal("nothing acknowledged")
	}

	// Two replicas start at once; their appliers (and a reader on each)
	// race to apply what the crashes left.
	// (Counted without opening a store: its applier would start.)
	raw, err := sql.Open("pgx", url)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var rows, left int64
	if err := raw.QueryRowContext(t.Context(), `SELECT count(*), COALESCE(sum(records), 0) FROM ledger_journal`).Scan(&rows, &left); err != nil {
		t.Fatal(err)
	}
	t.Logf("journal rows left by the crashes: %d (%d records)", rows, left)
	if rows == 0 {
		t.Error("the crashes left no journal rows: the test proves nothing")
	}
	var dbs [2]*postgres.DB
	var wg sync.WaitGroup
	for i := range dbs {
		wg.Go(func() {
			dbs[i] = openURL(t, url)
			if _, err := dbs[i].LedgerVersion(t.Context()); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	a, b := dbs[0], dbs[1]
	if rows, _, err := a.JournalBacklog(t.Context()); err != nil || rows != 0 {
		t.Fatalf("journal rows after a read: %d, %v; want 0", rows, err)
	}
	t.Logf("records applied: %d by one replica, %d by the other", postgres.AppliedRecords(a), postgres.AppliedRecords(b))

	recs, err := b.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range recs {
		seen[r.RequestID]++
	}
	sent := map[string]bool{}
	for k := range crashBatches {
		for _, r := range crashBatchRecords(k) {
			sent[r.RequestID] = true
		}
	}
	for id, n := range seen {
		if n != 1 {
			t.Errorf("record %s stored %d times", id, n)
		}
		if !sent[id] {
			t.Errorf("record %s was never appended", id)
		}
	}
	for k := range acked {
		for _, r := range crashBatchRecords(k) {
			if seen[r.RequestID] == 0 {
				t.Errorf("record %s of acknowledged batch %d lost", r.RequestID, k)
			}
		}
	}
	checkRollupsMatch(t, a, recs)
}

// checkRollupsMatch checks that db's hourly and daily rollups are the
// sums of recs, per rollup key.
func checkRollupsMatch(t *testing.T, db *postgres.DB, recs []ledger.Record) {
	t.Helper()
	type key struct {
		at                        int64
		account, principal, tagKV string
	}
	type sums struct{ calls, in, cost int64 }
	want := [2]map[key]sums{{}, {}}
	for _, r := range recs {
		for i, d := range []time.Duration{time.Hour, 24 * time.Hour} {
			k := key{r.Time.Truncate(d).UnixMilli(), r.Account, r.PrincipalID, r.Tags.Canonical()}
			s := want[i][k]
			s.calls++
			s.in += r.InputTokens
			s.cost += int64(r.Cost)
			want[i][k] = s
		}
	}
	from, to := time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(2028, 1, 1, 0, 0, 0, 0, time.UTC)
	hourly, err := db.CostRollups(t.Context(), nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	daily, err := db.CostRollupsDaily(t.Context(), nil, from, to)
	if err != nil {
		t.Fatal(err)
	}
	for i, rolls := range [][]ledger.Rollup{hourly, daily} {
		got := map[key]sums{}
		for _, r := range rolls {
			k := key{r.Hour.UnixMilli(), r.Account, r.PrincipalID, r.Tags.Canonical()}
			s := got[k]
			s.calls += r.Calls
			s.in += r.InputTokens
			s.cost += int64(r.Cost)
			got[k] = s
		}
		if len(got) != len(want[i]) {
			t.Errorf("rollups %d: %d keys, want %d", i, len(got), len(want[i]))
		}
		for k, w := range want[i] {
			if got[k] != w {
				t.Errorf("rollups %d, key %v: %+v, want %+v", i, k, got[k], w)
			}
		}
	}
}

// TestJournalReadBarrier appends on one store whose applier is stopped and
// reads on another: the read sees every record appended before it,
// applied by the reader's applier; and with both appliers stopped, applied
// by the reader itself.
func TestJournalReadBarrier(t *testing.T) {
	url := pgtest.URL(t)
	a, b := openURL(t, url), openURL(t, url)
	postgres.StopApplier(a)
	recs := crashBatchRecords(0)
	if err := a.AppendRecords(t.Context(), recs); err != nil {
		t.Fatal(err)
	}
	got, err := b.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(recs) {
		t.Fatalf("read on the other replica after the append: %d records, want %d", len(got), len(recs))
	}
	// Neither applier runs: the reader applies.
	postgres.StopApplier(b)
	more := crashBatchRecords(2) // records 50 to 99
	if err := a.AppendRecords(t.Context(), more); err != nil {
		t.Fatal(err)
	}
	rolls, err := b.CostRollups(t.Context(), nil, time.Time{}, time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC))
	if err != nil {
		t.Fatal(err)
	}
	var calls int64
	for _, r := range rolls {
		calls += r.Calls
	}
	if calls != int64(len(recs)+len(more)) {
		t.Errorf("rollups count %d calls, want %d", calls, len(recs)+len(more))
	}
	if rows, _, err := a.JournalBacklog(t.Context()); err != nil || rows != 0 {
		t.Errorf("journal rows after the reads: %d, %v; want 0", rows, err)
	}
}

// TestJournalRefusesBadText: a string PostgreSQL cannot store fails the
// append (ValidationException's kind) and leaves nothing in the journal
// for the appliers to trip on.
func TestJournalRefusesBadText(t *testing.T) {
	db := openURL(t, pgtest.URL(t))
	for name, r := range map[string]ledger.Record{
		"NUL in a tag value":      {RequestID: "a", Time: time.Now(), Tags: tags.Set{"k": "v\x00"}},
		"invalid UTF-8 in a key":  {RequestID: "b", Time: time.Now(), Tags: tags.Set{"\xff": "v"}},
		"NUL in the principal id": {RequestID: "c", Time: time.Now(), PrincipalID: "p\x00"},
	} {
		err := db.AppendRecords(t.Context(), []ledger.Record{crashRecord(1), r})
		if !errkind.Is(err, errkind.Invalid) {
			t.Errorf("%s: AppendRecords = %v, want an Invalid error", name, err)
		}
	}
	if rows, _, err := db.JournalBacklog(t.Context()); err != nil || rows != 0 {
		t.Errorf("journal rows: %d, %v; want 0", rows, err)
	}
}

// TestJournalRepeatedRequestIDs appends records whose request ids were
// applied before (the applier's COPY of the ids then fails and the rows
// are applied again, skipping those ids) and ids repeated in two journal
// rows applied in one transaction: every id is stored once, with the
// record appended first, and the hourly and daily rollups count only the
// records stored.
func TestJournalRepeatedRequestIDs(t *testing.T) {
	db := openURL(t, pgtest.URL(t))
	postgres.StopApplier(db) // readers apply, one transaction for all rows left
	batch := func(from, to int, cost money.Amount) []ledger.Record {
		var out []ledger.Record
		for i := from; i < to; i++ {
			r := crashRecord(i)
			r.Cost, r.InputCost = cost, cost
			out = append(out, r)
		}
		return out
	}
	wantCost := map[string]money.Amount{}
	for _, step := range []struct {
		name    string
		appends [][]ledger.Record
		first   []ledger.Record // the records that count
	}{
		{"new ids", [][]ledger.Record{batch(0, 100, 1)}, batch(0, 100, 1)},
		{"half applied before", [][]ledger.Record{batch(50, 150, 2)}, batch(100, 150, 2)},
		{"all applied before", [][]ledger.Record{batch(0, 150, 3)}, nil},
		{"repeated across two rows", [][]ledger.Record{batch(150, 200, 4), batch(175, 225, 5)},
			append(batch(150, 200, 4), batch(200, 225, 5)...)},
	} {
		for _, recs := range step.appends {
			if err := db.AppendRecords(t.Context(), recs); err != nil {
				t.Fatalf("%s: %v", step.name, err)
			}
		}
		for _, r := range step.first {
			wantCost[r.RequestID] = r.Cost
		}
		got, err := db.Records(t.Context(), ledger.Query{})
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		gotCost := map[string]money.Amount{}
		var sum money.Amount
		for _, r := range got {
			if _, ok := gotCost[r.RequestID]; ok {
				t.Errorf("%s: request id %s stored twice", step.name, r.RequestID)
			}
			gotCost[r.RequestID] = r.Cost
			sum += r.Cost
		}
		if len(gotCost) != len(wantCost) {
			t.Fatalf("%s: %d records stored, want %d", step.name, len(gotCost), len(wantCost))
		}
		for id, c := range wantCost {
			if gotCost[id] != c {
				t.Errorf("%s: %s costs %v, want %v (the record appended first)", step.name, id, gotCost[id], c)
			}
		}
		end := time.Date(2100, 1, 1, 0, 0, 0, 0, time.UTC)
		hourly, err := db.CostRollups(t.Context(), nil, time.Time{}, end)
		if err != nil {
			t.Fatal(err)
		}
		daily, err := db.CostRollupsDaily(t.Context(), nil, time.Time{}, end)
		if err != nil {
			t.Fatal(err)
		}
		for name, rolls := range map[string][]ledger.Rollup{"hourly": hourly, "daily": daily} {
			var calls int64
			var cost money.Amount
			for _, r := range rolls {
				calls, cost = calls+r.Calls, cost+r.Cost
			}
			if calls != int64(len(got)) || cost != sum {
				t.Errorf("%s: %s rollups count %d calls and %v, want %d and %v", step.name, name, calls, cost, len(got), sum)
			}
		}
	}
}
