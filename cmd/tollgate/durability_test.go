package main

import (
	"bufio"
	"context"
	"database/sql"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/aws/middleware"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// TestMain starts building the tollgate binary the process tests run
// (buildBinary) before any test: the build, a minute of CPU under load,
// then overlaps the tests that come first instead of holding up the first
// test that needs it. A run of chosen tests (-run) builds only if one
// needs it.
func TestMain(m *testing.M) {
	flag.Parse()
	if !testing.Short() && flag.Lookup("test.run").Value.String() == "" {
		go func() { _, _ = buildBinary() }()
	}
	os.Exit(m.Run())
}

// buildBinary builds cmd/tollgate once per test binary run.
var buildBinary = sync.OnceValues(func() (string, error) {
	dir, err := os.MkdirTemp("", "tollgate-bin")
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "tollgate")
	out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("go build: %v\n%s", err, out)
	}
	return bin, nil
})

// process is a `tollgate serve` child process.
type process struct {
	cmd *exec.Cmd
	url string
}

func startProcess(t *testing.T, dataDir string, env ...string) *process {
	t.Helper()
	bin, err := buildBinary()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "serve", "--addr", "127.0.0.1:0", "--data-dir", dataDir, "--log-level", "error")
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &process{cmd: cmd}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	sc := bufio.NewScanner(stderr)
	deadline := time.AfterFunc(30*time.Second, func() { _ = cmd.Process.Kill() })
	defer deadline.Stop()
	for sc.Scan() {
		if u, ok := strings.CutPrefix(sc.Text(), "tollgate: serving on "); ok {
			p.url = strings.Fields(u)[0]
			break
		}
	}
	if p.url == "" {
		t.Fatal("tollgate serve did not report its address")
	}
	go func() { _, _ = io.Copy(io.Discard, stderr) }()
	waitHealthy(t, p.url, nil)
	return p
}

// TestKillDuringLoad sends concurrent calls to a `tollgate serve` process,
// SIGKILLs it mid-load, restarts it on the same data directory, and checks
// that every call whose response the client fully received has exactly one
// usage record.
func TestKillDuringLoad(t *testing.T) {
	t.Parallel()
	const keyID, secret = "AKIADURABILITYTEST01", "durability-secret"
	env := []string{"TOLLGATE_ROOT_ACCESS_KEY_ID=" + keyID, "TOLLGATE_ROOT_SECRET_ACCESS_KEY=" + secret}
	dir := t.TempDir()
	p := startProcess(t, dir, env...)

	cfg := aws.Config{
		Region: "us-east-1", Credentials: credentials.NewStaticCredentialsProvider(keyID, secret, ""),
		BaseEndpoint: aws.String(p.url), RetryMaxAttempts: 1, HTTPClient: sharedHTTPClient(),
	}
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var mu sync.Mutex
	var received []string
	if !t.Run("16 clients call until 400 calls are fully received, then SIGKILL", func(t *testing.T) {
		var wg sync.WaitGroup
		for w := range 16 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				// One client per worker: the SDK's event-stream codec is not
				// safe for concurrent streams on one client.
				rc := bedrockruntime.NewFromConfig(cfg)
				for i := 0; ctx.Err() == nil; i++ {
					prompt := fmt.Sprintf("worker %d call %d", w, i)
					var id string
					if i%2 == 0 {
						out, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(usHaiku), Messages: userText(prompt)})
						if err != nil {
							return
						}
						id, _ = middleware.GetRequestIDMetadata(out.ResultMetadata)
					} else {
						out, err := rc.ConverseStream(ctx, &bedrockruntime.ConverseStreamInput{ModelId: aws.String(usHaiku), Messages: userText(prompt)})
						if err != nil {
							return
						}
						sr := readConverseStream(out)
						// Fully received means the final metadata event arrived.
						if sr.err != nil || len(sr.events) == 0 || sr.events[len(sr.events)-1] != "metadata" {
							return
						}
						id = sr.reqID
					}
					mu.Lock()
					received = append(received, id)
					mu.Unlock()
				}
			}()
		}
		// Let load build up, then kill without warning.
		deadline := time.Now().Add(60 * time.Second)
		for {
			mu.Lock()
			n := len(received)
			mu.Unlock()
			if n >= 400 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("only %d calls completed in 60s", n)
			}
			time.Sleep(5 * time.Millisecond)
		}
		if err := p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = p.cmd.Wait()
		cancel()
		wg.Wait()
	}) {
		return
	}

	t.Run("the killed process left its journal to recover", func(t *testing.T) {
		// The records the applier had not moved into the ledger's tables
		// at the kill are journal rows; the restart applies them.
		n, err := journalRows(t, filepath.Join(dir, "tollgate.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Logf("%d journal rows (commit groups) not yet applied at the SIGKILL", n)
	})

	if !t.Run("a restart on the same directory serves and stops cleanly", func(t *testing.T) {
		// Restart on the same directory: it must come up, serve, and stop cleanly.
		p2 := startProcess(t, dir, env...)
		if err := p2.cmd.Process.Signal(syscall.SIGTERM); err != nil {
			t.Fatal(err)
		}
		if err := p2.cmd.Wait(); err != nil {
			t.Fatalf("graceful stop after restart: %v", err)
		}
	}) {
		return
	}

	t.Run("every fully received call has exactly one record", func(t *testing.T) {
		recs := dataDirRecords(t, dir)
		count := map[string]int{}
		for _, r := range recs {
			count[r.RequestID]++
		}
		missing := 0
		for _, id := range received {
			if count[id] != 1 {
				missing++
				if missing < 5 {
					t.Errorf("request %s fully received but has %d records", id, count[id])
				}
			}
		}
		if missing > 0 {
			t.Errorf("%d of %d fully received calls lack exactly one record", missing, len(received))
		}
		t.Logf("%d calls fully received before SIGKILL, %d records on disk", len(received), len(recs))
	})

	t.Run("the rollups are the records summed", func(t *testing.T) {
		db, err := sqlite.Open(t.Context(), filepath.Join(dir, "tollgate.db"), sqlite.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		recs, err := db.Records(t.Context(), ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		from, to := time.Now().Add(-48*time.Hour), time.Now().Add(48*time.Hour)
		got, err := db.Rollups(t.Context(), "", from, to)
		if err != nil {
			t.Fatal(err)
		}
		want := costquery.RollupRecords(recs)
		key := func(r ledger.Rollup) string {
			return strings.Join([]string{r.Hour.Format(time.RFC3339), r.Account, r.RegionServed, r.ProfileARN, r.ModelID, r.PrincipalID,
				r.Operation, r.Tags.Canonical(), r.Scope, r.ServiceTier, r.Region, fmt.Sprint(r.LongContext, r.LatencyOptimized)}, "\x00")
		}
		for _, rs := range [][]ledger.Rollup{got, want} {
			slices.SortFunc(rs, func(a, b ledger.Rollup) int { return strings.Compare(key(a), key(b)) })
		}
		if diff := cmp.Diff(got, want); diff != "" {
			t.Errorf("rollups (-got +want: the records rolled up):\n%s", diff)
		}
	})
}

// journalRows counts the rows of the ledger journal of the SQLite
// database at path (the journal file beside it) above the applied seq
// the main database records, read as SQLite finds them after a crash
// (without opening the store, which would apply them).
func journalRows(t *testing.T, path string) (int, error) {
	t.Helper()
	var applied int64
	db, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	if err := db.QueryRowContext(t.Context(), `SELECT coalesce(max(seq), 0) FROM ledger_journal`).Scan(&applied); err != nil {
		return 0, err
	}
	jf, err := sql.Open("sqlite", "file:"+sqlite.JournalPath(path))
	if err != nil {
		return 0, err
	}
	defer jf.Close()
	var n int
	err = jf.QueryRowContext(t.Context(), `SELECT count(*) FROM ledger_journal WHERE seq > ? AND length(body) > 0`, applied).Scan(&n)
	return n, err
}

// TestShutdownRecordsStreamsInFlight stops a server whose shutdown timeout
// is shorter than the streams in flight: past it they are cut, and each
// must still have one record carrying the tokens it delivered, written
// before the ledger closes.
func TestShutdownRecordsStreamsInFlight(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, func(c *config.Config) {
		c.ShutdownTimeout = 300 * time.Millisecond
		// 16 to 63 tokens at 10 per second: every stream outlives the
		// grace period by more than a second.
		c.Providers = []config.Provider{{Name: "slow", Type: "sim", Latency: 3 * time.Millisecond, TokensPerSecond: 10}}
		c.Routes = []config.Route{{Provider: "slow"}}
	})
	const n = 5
	type result struct {
		reqID    string
		deltas   int
		metadata bool
	}
	results := make([]result, n)
	ready := make(chan struct{}, n)
	var wg sync.WaitGroup
	for i := range n {
		// One client per stream: the SDK's event-stream codec is not safe
		// for concurrent streams on one client.
		out, err := ts.runtime(t).ConverseStream(t.Context(), &bedrockruntime.ConverseStreamInput{ModelId: aws.String(haikuID),
			Messages: userText(fmt.Sprintf("stream %d: write about flood insurance", i))})
		if err != nil {
			t.Fatal(err)
		}
		results[i].reqID, _ = middleware.GetRequestIDMetadata(out.ResultMetadata)
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer out.GetStream().Close()
			for ev := range out.GetStream().Events() {
				switch ev.(type) {
				case *rt.ConverseStreamOutputMemberContentBlockDelta:
					results[i].deltas++
					if results[i].deltas == 2 {
						ready <- struct{}{}
					}
				case *rt.ConverseStreamOutputMemberMetadata:
					results[i].metadata = true
				}
			}
		}()
	}
	if !t.Run("the five streams start", func(t *testing.T) {
		for range n {
			select {
			case <-ready:
			case <-time.After(10 * time.Second):
				t.Fatal("the streams did not start")
			}
		}
	}) {
		return
	}
	if !t.Run("the server shuts down, cutting the streams past the grace period", func(t *testing.T) {
		start := time.Now()
		ts.stop() // cancels Run, waits for it, closes the ledger
		t.Logf("shutdown took %v", time.Since(start).Round(time.Millisecond))
		wg.Wait()
	}) {
		return
	}

	t.Run("each cut stream has one record with the tokens it delivered", func(t *testing.T) {
		recs := dataDirRecords(t, dir)
		byID := map[string][]ledger.Record{}
		for _, r := range recs {
			byID[r.RequestID] = append(byID[r.RequestID], r)
		}
		for i, res := range results {
			if res.metadata {
				t.Fatalf("stream %d completed before the shutdown cut it: the test proves nothing", i)
			}
			rs := byID[res.reqID]
			if len(rs) != 1 {
				t.Errorf("stream %d (%s) delivered %d deltas and has %d records, want 1", i, res.reqID, res.deltas, len(rs))
				continue
			}
			r := rs[0]
			if r.Outcome != ledger.OutcomeCancelled || r.OutputTokens < int64(res.deltas) || r.InputTokens == 0 || r.Cost <= 0 {
				t.Errorf("stream %d delivered %d deltas; record: outcome %s, %d in, %d out, cost %v", i, res.deltas, r.Outcome, r.InputTokens, r.OutputTokens, r.Cost)
			}
		}
	})
}

// dataDirRecords reads every usage record of the SQLite database in a
// stopped Tollgate's data directory.
func dataDirRecords(t *testing.T, dir string) []ledger.Record {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(dir, "tollgate.db"), sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	recs, err := db.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}
