package metrics_test

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// TestTierSeries checks calls served in a tier other than Standard are
// counted once more under "<ModelId>+<tier>", as Bedrock publishes
// per-tier series, and Standard calls only under the plain ModelId.
func TestTierSeries(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "tollgate.db"))
	defer db.Close()
	clk := &clock{t: t0}
	reg, err := metrics.Open(t.Context(), metrics.Config{Store: db, Records: db, Now: clk.now, Memory: 40 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	tiers := []string{"priority", "priority", "flex", "default", ""}
	for i, tier := range tiers {
		r := rec(1+i, t0.Add(time.Duration(i)*time.Second))
		r.ProfileID, r.ProfileARN = "aaaaaaaaaaaa", "arn:aws:bedrock:us-east-1:111111111111:application-inference-profile/aaaaaaaaaaaa"
		r.ServiceTier = tier
		reg.Add(r)
	}
	from, to := t0, t0.Add(time.Hour)
	for dim, want := range map[string]float64{
		"aaaaaaaaaaaa": 5, "aaaaaaaaaaaa+priority": 2, "aaaaaaaaaaaa+flex": 1, "aaaaaaaaaaaa+default": 0, "": 5,
	} {
		got := sumOf(t, reg, metrics.Key{Account: "111111111111", Metric: metrics.Invocations, ModelID: dim}, from, to, time.Hour)
		if got != want {
			t.Errorf("Invocations under ModelId %q = %v, want %v", dim, got, want)
		}
	}
	key, _, ok := metrics.Resolve("111111111111", metrics.Namespace, metrics.Invocations, map[string]string{"ModelId": "aaaaaaaaaaaa+flex"})
	if !ok || key.ModelID != "aaaaaaaaaaaa+flex" {
		t.Errorf("Resolve(ModelId=aaaaaaaaaaaa+flex) = %+v, %v", key, ok)
	}
}

// TestAddAdmission checks queue waits are counted under the ModelId, the
// tier's and across all, and a call refused in the flex tier counts as a
// throttle of "<id>+flex".
func TestAddAdmission(t *testing.T) {
	db := openDB(t, filepath.Join(t.TempDir(), "tollgate.db"))
	defer db.Close()
	reg, err := metrics.Open(t.Context(), metrics.Config{Store: db, Records: db, Now: (&clock{t: t0}).now, Memory: 40 * time.Minute})
	if err != nil {
		t.Fatal(err)
	}
	ok := rec(1, t0)
	ok.ProfileID, ok.ServiceTier = "aaaaaaaaaaaa", "priority"
	reg.AddAdmission(ok, "priority", 30*time.Millisecond)
	refused := rec(2, t0.Add(time.Second))
	refused.ProfileID, refused.Outcome, refused.ServiceTier = "bbbbbbbbbbbb", "throttled", ""
	reg.AddAdmission(refused, "flex", 2*time.Second)
	from, to := t0, t0.Add(time.Hour)
	for _, c := range []struct {
		metric, dim string
		want        float64
	}{
		{metrics.QueueWait, "aaaaaaaaaaaa", 30}, {metrics.QueueWait, "aaaaaaaaaaaa+priority", 30},
		{metrics.QueueWait, "bbbbbbbbbbbb+flex", 2000}, {metrics.QueueWait, "", 2030},
		{metrics.InvocationThrottles, "bbbbbbbbbbbb+flex", 1}, {metrics.InvocationThrottles, "aaaaaaaaaaaa+priority", 0},
	} {
		if got := sumOf(t, reg, metrics.Key{Account: "111111111111", Metric: c.metric, ModelID: c.dim}, from, to, time.Hour); got != c.want {
			t.Errorf("%s under %q = %v, want %v", c.metric, c.dim, got, c.want)
		}
	}
}
