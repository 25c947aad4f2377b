package main

import (
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/quota"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// TestPostgresFleetTokenQuota runs three replicas on one PostgreSQL store
// with a tokens-per-minute quota on Nova Pro and calls it through all
// three at once: the tokens the fleet's calls count (Bedrock's settled
// maths, from the ledger) stay within the quota in every minute, however
// the calls spread over the replicas, and the calls beyond it are
// ThrottlingExceptions.
func TestPostgresFleetTokenQuota(t *testing.T) {
	t.Parallel()
	const tpm = 6000
	url := pgtest.URL(t)
	withQuota := func(c *config.Config) {
		c.Store = url
		c.Quotas.Rules = []config.QuotaRule{{Model: novaProID, Scope: "on-demand", TPM: tpm}}
		c.Quotas.DefaultShare = 1
	}
	dir := t.TempDir()
	r1 := startServer(t, dir, withQuota)
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	replicas := []*testServer{r1, startServer(t, t.TempDir(), withMasterKey(withQuota, key)), startServer(t, t.TempDir(), withMasterKey(withQuota, key))}
	var (
		mu                sync.Mutex
		ok, refused, errs int
		wg                sync.WaitGroup
	)
	// Call until the fleet has refused a few calls (the quota is reached)
	// or 30 s have passed, however slow the machine.
	end := time.Now().Add(30 * time.Second)
	reached := func() bool { mu.Lock(); defer mu.Unlock(); return refused >= 20 }
	for i, r := range replicas {
		rc := r.runtime(t)
		for w := range 3 {
			wg.Go(func() {
				for time.Now().Before(end) && !reached() {
					_, err := rc.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(novaProID),
						Messages:        userText(strings.Repeat("Assess the risk of policy 7. ", 1+(i+w)%3)),
						InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(200)}})
					mu.Lock()
					switch {
					case err == nil:
						ok++
					case errorCode(err) == "ThrottlingException" && strings.Contains(err.Error(), "Too many tokens"):
						refused++
					default:
						errs++
						t.Errorf("replica %d: %v", i, err)
					}
					mu.Unlock()
					if err != nil {
						time.Sleep(10 * time.Millisecond)
					}
				}
			})
		}
	}
	wg.Wait()
	recs, err := r1.DB.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	perMinute := map[time.Time]int64{}
	calls := 0
	for _, r := range recs {
		if r.Outcome != ledger.OutcomeSuccess || r.ModelID != novaProID {
			continue
		}
		calls++
		perMinute[r.Time.Truncate(time.Minute)] += quota.Settled(r.ModelID,
			quota.Tokens{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens, CacheWrite: r.CacheWriteTokens})
	}
	t.Logf("fleet: %d calls ok, %d refused; settled tokens per minute %v (quota %d)", ok, refused, perMinute, tpm)
	if calls != ok || refused == 0 {
		t.Errorf("%d successful records for %d calls, %d refusals: the quota was not reached", calls, ok, refused)
	}
	for m, n := range perMinute {
		if n > tpm {
			t.Errorf("minute %v: the fleet counted %d tokens, quota %d", m, n, tpm)
		}
	}
}
