package metrics_test

import (
	"context"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// bucketLog is a metrics.Store that records the buckets written to it.
type bucketLog struct {
	discardStore
	written []metrics.Bucket
}

func (l *bucketLog) WriteMetricBuckets(_ context.Context, replace, merge []metrics.Bucket) error {
	l.written = append(append(l.written, replace...), merge...)
	return nil
}

// periods returns the written buckets' resolutions and starts, as
// "minute 01:00" and "hour 01:00", each once.
func (l *bucketLog) periods() map[string]bool {
	out := map[string]bool{}
	for _, b := range l.written {
		res := "minute"
		if b.Res == metrics.Hour {
			res = "hour"
		}
		out[res+" "+b.Start.Format("15:04")] = true
	}
	return out
}

// TestPeriodicFlushWritesEndedPeriods: on a single node, Run's periodic
// flush writes a minute's or an hour's bucket once that period has ended
// (the start-up rebuild makes the unended ones), while Flush (Close, an
// explicit flush), an early flush for memory, and a replica's flushes
// write every changed bucket at once.
func TestPeriodicFlushWritesEndedPeriods(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 1, 0, 30, 0, time.UTC)
	open := func(t *testing.T, cfg metrics.Config) (*metrics.Registry, *bucketLog, *time.Time) {
		t.Helper()
		st := &bucketLog{}
		now := t0
		cfg.Store, cfg.Now = st, func() time.Time { return now }
		reg, err := metrics.Open(t.Context(), cfg)
		if err != nil {
			t.Fatal(err)
		}
		return reg, st, &now
	}
	t.Run("single node", func(t *testing.T) {
		reg, st, now := open(t, metrics.Config{})
		reg.Add(busyRecord(1, t0, 1))
		if err := reg.FlushEnded(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(st.written) != 0 {
			t.Fatalf("periodic flush inside the minute wrote %v", st.periods())
		}
		*now = t0.Add(35 * time.Second) // 01:01:05: the minute has ended
		reg.Add(busyRecord(1, *now, 2))
		if err := reg.FlushEnded(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := st.periods(); len(got) != 1 || !got["minute 01:00"] {
			t.Fatalf("periodic flush after the minute wrote %v, want only minute 01:00", got)
		}
		st.written = nil
		if err := reg.Flush(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := st.periods(); len(got) != 2 || !got["minute 01:01"] || !got["hour 01:00"] {
			t.Fatalf("Flush wrote %v, want minute 01:01 and hour 01:00", got)
		}
		// What the hour holds: both calls, each counted once.
		for _, b := range st.written {
			if b.Res == metrics.Hour && b.Key.Metric == metrics.Invocations && b.Key.ModelID != "" && b.Stats.Count != 2 {
				t.Errorf("hour 01:00 %v: %d invocations, want 2", b.Key, b.Stats.Count)
			}
		}
		st.written = nil
		*now = t0.Add(time.Hour) // 02:00:30
		if err := reg.FlushEnded(t.Context()); err != nil {
			t.Fatal(err)
		}
		if len(st.written) != 0 {
			t.Errorf("a flush with nothing changed wrote %v", st.periods())
		}
	})
	t.Run("replica", func(t *testing.T) {
		reg, st, _ := open(t, metrics.Config{Replica: "r1"})
		reg.Add(busyRecord(1, t0, 1))
		if err := reg.FlushEnded(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := st.periods(); !got["minute 01:00"] || !got["hour 01:00"] {
			t.Fatalf("a replica's periodic flush wrote %v, want the current minute and hour", got)
		}
	})
	t.Run("memory over its bound", func(t *testing.T) {
		reg, st, _ := open(t, metrics.Config{MaxMemory: 1})
		reg.Add(busyRecord(1, t0, 1))
		if err := reg.FlushEnded(t.Context()); err != nil {
			t.Fatal(err)
		}
		if got := st.periods(); !got["minute 01:00"] || !got["hour 01:00"] {
			t.Fatalf("an early flush for memory wrote %v, want the current minute and hour", got)
		}
	})
}
