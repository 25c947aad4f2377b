package metrics

import (
	"math/rand/v2"
	"reflect"
	"testing"
)

// TestPeriodMatchesStats feeds the same samples to a period's metrics
// and to Stats, and merges stored Stats into both: the period's
// statistics, read back as Stats, must equal them, sketch included;
// through an implied sketch (one value), a bin past maxPacked samples
// and a neighbour metric's sketch growing beside it.
func TestPeriodMatchesStats(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	cases := []struct {
		name string
		next func(i int) int64
		n    int
	}{
		{"one value", func(int) int64 { return 1 }, 1000},
		{"one value then others", func(i int) int64 { return int64(max(1, i-900)) }, 1000},
		{"wide", func(int) int64 { return rng.Int64N(1 << 40) }, 5000},
		{"small", func(int) int64 { return rng.Int64N(300) }, 5000},
		{"a bin past maxPacked", func(i int) int64 { return int64(7 + i%2*(i%1000)) }, 3 * maxPacked},
		{"negative", func(i int) int64 { return int64(i%5 - 2) }, 100},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var p period
			var want, other Stats
			a, b := metricIndex[InvocationLatency], metricIndex[Cost]
			for i := range c.n {
				v := c.next(i)
				p.stat(a, false)
				p.add(a, v)
				want.Add(v)
				if i%3 == 0 {
					p.stat(b, false)
					p.add(b, v/3+int64(i))
					other.Add(v/3 + int64(i))
				}
			}
			check := func(when string) {
				t.Helper()
				if got := p.stats(a); !reflect.DeepEqual(&got, &want) {
					t.Errorf("%s: %s = %+v, want %+v", when, defs[a].Name, got, want)
				}
				if got := p.stats(b); !reflect.DeepEqual(&got, &other) {
					t.Errorf("%s: %s differs", when, defs[b].Name)
				}
			}
			check("after adds")
			stored := Stats{}
			for i := range 50 {
				stored.Add(int64(i * 37))
			}
			p.merge(a, &stored)
			want.Merge(&stored)
			check("after a merge")
			p.remove(b)
			if p.has != 1<<a || len(p.st) != 1 || len(p.bins) != int(p.st[0].n) {
				t.Errorf("after remove: has %b, %d stats, %d bins", p.has, len(p.st), len(p.bins))
			}
			if got := p.stats(a); !reflect.DeepEqual(&got, &want) {
				t.Errorf("after remove: %+v, want %+v", got, want)
			}
		})
	}
}
