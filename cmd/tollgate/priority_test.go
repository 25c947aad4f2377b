package main

import (
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// The priority load test: the simulator serves Nova Pro with a fixed
// capacity; workers offer twice that many concurrent calls through four
// profiles of the insurance scenario.
const (
	simCapacity  = 6
	simLatency   = 20 * time.Millisecond
	loadDuration = 5 * time.Second
)

// loadProfile is one profile of the load and what happened to its calls.
type loadProfile struct {
	name, tenant, tier string
	workers            int

	arn, id string
	ok      int
	refused int // ThrottlingException
	tooMany int // refusals saying "Too many requests"
}

// priorityLoad runs the load against a server whose capped simulator
// injects faults, and returns the profiles with their outcomes.
func priorityLoad(t *testing.T, faults []config.Fault) (*testServer, []*loadProfile) {
	ts := startServer(t, "", func(c *config.Config) {
		c.Providers = append(c.Providers, config.Provider{Name: "capped", Type: "sim", Capacity: simCapacity, Latency: simLatency, Faults: faults})
		c.Routes = append([]config.Route{{Models: []string{novaProID}, Provider: "capped"}}, c.Routes...)
		c.Quotas.Concurrency = config.QuotaConcurrency{Initial: simCapacity, Min: 1, Max: 2 * simCapacity}
		c.Quotas.FlexShare, c.Quotas.DefaultShare = 0.5, 0.67
		c.Quotas.FlexMaxWait, c.Quotas.DefaultMaxWait, c.Quotas.PriorityMaxWait = 300*time.Millisecond, 3*time.Second, 5*time.Second
	})
	novaARN := "arn:aws:bedrock:us-east-1::foundation-model/" + novaProID
	// Twice the capacity: 2 priority + 3 + 3 default + 4 flex workers.
	profiles := []*loadProfile{
		{name: "claims-chatbot", tenant: "claims", tier: "priority", workers: 2},
		{name: "sales-chat-north", tenant: "north", tier: "default", workers: 3},
		{name: "sales-chat-south", tenant: "south", tier: "default", workers: 3},
		{name: "risk-nightly", tenant: "risk", tier: "flex", workers: 4},
	}
	admin := adminapi.NewClient(ts.URL(), "us-east-1", ts.awsConfig(t).Credentials)
	for _, p := range profiles {
		p.arn = createProfile(t, ts.bedrock(t), p.name, novaARN, tagList("tenant", p.tenant)...)
		p.id = p.arn[strings.LastIndex(p.arn, "/")+1:]
		if _, err := admin.PutProfileTiers(t.Context(), "", p.id, p.tier, ""); err != nil {
			t.Fatal(err)
		}
	}
	rc := ts.runtime(t, func(o *bedrockruntime.Options) { o.HTTPClient = sharedHTTPClient() })
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	end := time.Now().Add(loadDuration)
	for _, p := range profiles {
		for range p.workers {
			wg.Go(func() {
				for time.Now().Before(end) {
					out, err := rc.Converse(t.Context(), &bedrockruntime.ConverseInput{ModelId: aws.String(p.arn),
						Messages: userText("Assess claim 42"), InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(16)}})
					mu.Lock()
					switch {
					case err == nil:
						p.ok++
						if out.ServiceTier == nil || string(out.ServiceTier.Type) != p.tier {
							t.Errorf("%s: served %+v, want %s", p.name, out.ServiceTier, p.tier)
						}
					case errorCode(err) == "ThrottlingException":
						p.refused++
						if strings.Contains(err.Error(), "Too many requests") {
							p.tooMany++
						}
					default:
						t.Errorf("%s: %v", p.name, err)
					}
					mu.Unlock()
					if err != nil {
						time.Sleep(20 * time.Millisecond) // a client backing off a little
					}
				}
			})
		}
	}
	wg.Wait()
	return ts, profiles
}

// checkBilling checks every refused call is on the ledger as throttled
// with no tokens and no cost, and every successful one is priced.
func checkBilling(t *testing.T, ts *testServer, profiles []*loadProfile) {
	t.Helper()
	recs, err := ts.DB.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	throttled, ok := map[string]int{}, map[string]int{}
	for _, r := range recs {
		switch r.Outcome {
		case ledger.OutcomeThrottled:
			throttled[r.ProfileID]++
			if r.Cost != 0 || r.InputTokens+r.OutputTokens != 0 {
				t.Errorf("refused call %s billed: cost %d, tokens %d+%d", r.RequestID, r.Cost, r.InputTokens, r.OutputTokens)
			}
		case ledger.OutcomeSuccess:
			ok[r.ProfileID]++
		}
	}
	for _, p := range profiles {
		if throttled[p.id] != p.refused || ok[p.id] != p.ok {
			t.Errorf("%s: ledger has %d ok and %d throttled, the client saw %d and %d", p.name, ok[p.id], throttled[p.id], p.ok, p.refused)
		}
	}
}

// queueWaitP99 reads the p99 of QueueWait of a profile's calls from the
// gateway's own metric series, over the test's hour.
func queueWaitP99(t *testing.T, ts *testServer, profileID string) float64 {
	t.Helper()
	now := time.Now().UTC()
	from := now.Truncate(time.Hour)
	ps, err := ts.Watch.Metrics.Query(t.Context(), metrics.Key{Account: "123456789012", Metric: metrics.QueueWait, ModelID: profileID},
		from.Add(-time.Hour), from.Add(2*time.Hour), time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	var st metrics.Stats
	for _, p := range ps {
		st.Merge(&p.Stats)
	}
	if testing.Verbose() {
		t.Logf("queue wait of %s: n %d p50 %.0f p90 %.0f p99 %.0f max %d ms", profileID, st.Count, st.Percentile(50), st.Percentile(90), st.Percentile(99), st.Max)
	}
	return st.Percentile(99)
}

func report(t *testing.T, title string, ts *testServer, profiles []*loadProfile) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (capacity %d, %v a call, %v):\n", title, simCapacity, simLatency, loadDuration)
	for _, p := range profiles {
		fmt.Fprintf(&b, "  %-18s %-8s ok %5d  refused %5d  success %5.1f%%  queue wait p99 %4.0f ms\n", p.name, p.tier, p.ok, p.refused,
			100*float64(p.ok)/float64(max(1, p.ok+p.refused)), queueWaitP99(t, ts, p.id))
	}
	st := ts.Priority.Gate.Routes()
	for r, s := range st {
		fmt.Fprintf(&b, "  route %s/%s/%s: limit now %d, refused flex %d default %d priority %d\n", r.Provider, r.Model, r.Region,
			s.Limit.Load(), s.Refused[0].Load(), s.Refused[1].Load(), s.Refused[2].Load())
	}
	t.Log(b.String())
}

// TestPriorityUnderLoad offers twice a fixed capacity through a priority
// profile, two default profiles of different tenants and a flex profile:
// priority calls succeed (>= 99 %) with a p99 queue wait under 50 ms
// measured by the gateway, the two default tenants get shares within
// 10 % of each other, flex gets what is left and is refused with
// ThrottlingException, and no refused call is billed.
func TestPriorityUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ts, profiles := priorityLoad(t, nil)
	report(t, "fixed capacity", ts, profiles)
	prio, north, south, flex := profiles[0], profiles[1], profiles[2], profiles[3]
	if rate := float64(prio.ok) / float64(max(1, prio.ok+prio.refused)); rate < 0.99 || prio.ok == 0 {
		t.Errorf("priority success %.3f (%d ok, %d refused), want >= 0.99", rate, prio.ok, prio.refused)
	}
	if p99 := queueWaitP99(t, ts, prio.id); p99 >= 50 {
		t.Errorf("priority queue wait p99 %.0f ms, want < 50", p99)
	}
	if hi, lo := max(north.ok, south.ok), min(north.ok, south.ok); hi == 0 || float64(hi-lo) > 0.10*float64(hi) {
		t.Errorf("default tenants' shares %d and %d differ by more than 10 %%", north.ok, south.ok)
	}
	if flex.refused == 0 || flex.refused != flex.tooMany {
		t.Errorf("flex: %d refused (%d as ThrottlingException 'Too many requests'), want refusals under 2x load", flex.refused, flex.tooMany)
	}
	if flexRate, defRate := float64(flex.ok)/float64(max(1, flex.ok+flex.refused)), float64(north.ok+south.ok)/float64(max(1, north.ok+north.refused+south.ok+south.refused)); flexRate > defRate {
		t.Errorf("flex success %.2f above default's %.2f", flexRate, defRate)
	}
	checkBilling(t, ts, profiles)

	// Prometheus: the route's gauges and the refusals by class.
	mfs, err := ts.Watch.Prometheus.Gather()
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			for _, l := range m.GetLabel() {
				if l.GetName() == "provider" && l.GetValue() == "capped" {
					seen[mf.GetName()] = true
				}
			}
		}
	}
	for _, name := range []string{"tollgate_admission_queue_depth", "tollgate_upstream_in_flight", "tollgate_upstream_concurrency_limit", "tollgate_admission_refused_total"} {
		if !seen[name] {
			t.Errorf("/metrics has no %s for the capped route", name)
		}
	}
}

// TestPriorityShedsFlexOnUpstreamThrottles runs the same load with the
// simulator throttling one call in 10 on top of its capacity: the
// adaptive limit backs off, priority calls still succeed (the gate
// queues them again rather than pass the 429 on), and flex is shed
// first.
func TestPriorityShedsFlexOnUpstreamThrottles(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	ts, profiles := priorityLoad(t, []config.Fault{{Kind: "throttled", Every: 10, Models: []string{novaProID}}})
	report(t, "upstream throttling 1 call in 10", ts, profiles)
	prio, flex := profiles[0], profiles[3]
	if rate := float64(prio.ok) / float64(max(1, prio.ok+prio.refused)); rate < 0.99 || prio.ok == 0 {
		t.Errorf("priority success %.3f (%d ok, %d refused), want >= 0.99", rate, prio.ok, prio.refused)
	}
	flexRate := float64(flex.ok) / float64(max(1, flex.ok+flex.refused))
	if flexRate >= 0.99 || flex.refused == 0 {
		t.Errorf("flex success %.3f with %d refused: not shed", flexRate, flex.refused)
	}
	limits := []int64{}
	for _, s := range ts.Priority.Gate.Routes() {
		limits = append(limits, s.Limit.Load())
	}
	if len(limits) != 1 || slices.Max(limits) > 2*simCapacity || math.IsNaN(flexRate) {
		t.Errorf("route limits %v", limits)
	}
	checkBilling(t, ts, profiles)
}
