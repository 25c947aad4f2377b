package anomaly

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The evaluation: synthetic 60-day hourly spend series — daily and weekly
// seasonality (weekends lower and flatter), trend, call-count (Poisson)
// and per-call cost (log-normal) noise, day-to-day drift — with injected
// spikes (1-6 hours) and level shifts (12-96 hours) of 1.5x to 10x the
// underlying expected spend, sizes log-uniform. Everything is seeded, so
// every run generates the same series. docs/anomaly.md reports the
// figures this test prints; rerun with
//
//	go test ./internal/anomaly -run TestEvaluation -v

// evalChange is one injected change.
type evalChange struct {
	start, dur int     // hour index and length
	factor     float64 // multiplier of the underlying spend
	shift      bool    // level shift (long) rather than spike
}

// evalSeries is one generated series.
type evalSeries struct {
	name    string
	start   time.Time
	values  []float64
	changes []evalChange
}

// evalProfile describes a series' shape.
type evalProfile struct {
	name        string
	callsPerDay float64 // mean calls per day at the start
	costPerCall float64 // mean dollars per call
	costSigma   float64 // log-normal spread of the per-call cost
	growth      float64 // trend: growth per day (0.01 = 1%)
	nightShare  float64 // spend at night relative to the daily peak
	weekend     float64 // weekend level relative to weekdays
	drift       float64 // log-normal day-to-day level drift
	peakHour    float64 // UTC hour of the daily peak
}

var evalProfiles = []evalProfile{
	{"claims-chat", 12000, 0.02, 0.6, 0.004, 0.15, 0.45, 0.05, 14},
	{"sales-support", 3000, 0.05, 0.8, 0.010, 0.25, 0.30, 0.08, 16},
	{"risk-batch", 1500, 0.20, 1.0, -0.002, 0.60, 0.90, 0.10, 3},
	{"policy-rec", 30000, 0.004, 0.5, 0.015, 0.30, 0.60, 0.04, 11},
	{"dev-sandbox", 2400, 0.03, 1.0, 0.000, 0.10, 0.25, 0.10, 15},
}

// evalStress is a value too noisy for hourly detection of 3x changes (a
// few calls an hour at night and at weekends, per-call costs spread over
// two orders of magnitude: hourly spend varies by a factor of two or
// more). It is evaluated and reported apart from the acceptance corpus.
var evalStress = evalProfile{"stress-sparse", 800, 0.03, 1.2, 0.000, 0.10, 0.20, 0.12, 15}

// poisson draws a Poisson variate (normal approximation above 60).
func poisson(rng *rand.Rand, lambda float64) int {
	if lambda <= 0 {
		return 0
	}
	if lambda > 60 {
		return max(0, int(math.Round(lambda+math.Sqrt(lambda)*rng.NormFloat64())))
	}
	l, k, p := math.Exp(-lambda), 0, 1.0
	for {
		p *= rng.Float64()
		if p <= l {
			return k
		}
		k++
	}
}

// evalGenerate makes one 60-day series with its changes, deterministic
// in seed.
func evalGenerate(pr evalProfile, seed uint64) evalSeries {
	rng := rand.New(rand.NewPCG(seed, 0x5eed))
	const days = 60
	n := days * 24
	start := time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday
	s := evalSeries{name: pr.name, start: start, values: make([]float64, n)}

	// Underlying expected calls per hour, before changes.
	base := make([]float64, n)
	drift := 0.0
	for i := range n {
		if i%24 == 0 {
			drift = 0.7*drift + pr.drift*rng.NormFloat64()
		}
		t := start.Add(time.Duration(i) * time.Hour)
		h := float64(t.Hour())
		// Daily shape: a raised cosine between the night share and 1.
		shape := pr.nightShare + (1-pr.nightShare)*0.5*(1+math.Cos(2*math.Pi*(h-pr.peakHour)/24))
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			// Weekends are lower and flatter.
			shape = pr.weekend * (0.5 + 0.5*shape)
		}
		day := float64(i) / 24
		base[i] = pr.callsPerDay / 24 * 2 * shape * math.Pow(1+pr.growth, day) * math.Exp(drift)
	}

	// Changes: from day 15 on, one after another with quiet days between.
	mult := make([]float64, n)
	for i := range mult {
		mult[i] = 1
	}
	for at := 15*24 + rng.IntN(24); ; {
		c := evalChange{start: at, factor: math.Exp(math.Log(1.5) + rng.Float64()*(math.Log(10)-math.Log(1.5)))}
		if rng.IntN(3) == 0 {
			c.shift, c.dur = true, 12+rng.IntN(85)
		} else {
			c.dur = 1 + rng.IntN(6)
		}
		if c.start+c.dur+24 > n {
			break
		}
		for j := c.start; j < c.start+c.dur; j++ {
			mult[j] = c.factor
		}
		s.changes = append(s.changes, c)
		at = c.start + c.dur + 36 + rng.IntN(60)
	}

	mu := math.Log(pr.costPerCall) - pr.costSigma*pr.costSigma/2
	for i := range n {
		calls := poisson(rng, base[i]*mult[i])
		v := 0.0
		for range calls {
			v += math.Exp(mu + pr.costSigma*rng.NormFloat64())
		}
		s.values[i] = math.Round(v*1e6) / 1e6
	}
	return s
}

// evalFigures are the evaluation's outcome.
type evalFigures struct {
	series, changes, big, bigFound int
	detections, truePos            int
	normalHours                    int   // hours judged outside any change
	delays                         []int // hours of data to detection, changes >= 3x
	byBucket                       map[string][2]int
	falsePos                       []string
	precision, recall, p50d, p90d  float64
}

var evalBuckets = []struct {
	name   string
	lo, hi float64
}{{"1.5-2x", 1.5, 2}, {"2-3x", 2, 3}, {"3-5x", 3, 5}, {"5-10x", 5, 10.01}}

// evaluate runs d over each series, as the runner does (each hour judged
// once, from the history before it), and matches its anomalies with the
// injected changes. An anomaly is a true positive when it overlaps a
// change (or follows its end within MergeGap hours); a change is found
// when one of its hours is flagged, after as many hours of data as from
// its start to that hour, inclusive.
func evaluate(d *Detector, series []evalSeries) evalFigures {
	f := evalFigures{series: len(series), byBucket: map[string][2]int{}}
	gap := d.cfg.MergeGap
	for _, s := range series {
		res := d.Run(s.start, s.values, nil)
		inChange := make([]bool, len(s.values))
		for _, c := range s.changes {
			for j := c.start; j < min(len(inChange), c.start+c.dur+gap); j++ {
				inChange[j] = true
			}
		}
		for i := d.cfg.MinHistory; i < len(inChange); i++ {
			if !inChange[i] {
				f.normalHours++
			}
		}
		matched := make([]bool, len(res.Episodes))
		for _, c := range s.changes {
			f.changes++
			for k, ep := range res.Episodes {
				if ep.End >= c.start && ep.Start <= c.start+c.dur-1+gap {
					matched[k] = true
				}
			}
			first := -1
			for j := c.start; j < c.start+c.dur; j++ {
				if res.Points[j].Anomalous {
					first = j
					break
				}
			}
			for _, b := range evalBuckets {
				if c.factor >= b.lo && c.factor < b.hi {
					v := f.byBucket[b.name]
					v[0]++
					if first >= 0 {
						v[1]++
					}
					f.byBucket[b.name] = v
				}
			}
			if c.factor >= 3 {
				f.big++
				if first >= 0 {
					f.bigFound++
					f.delays = append(f.delays, first-c.start+1)
				}
			}
		}
		for k, ep := range res.Episodes {
			f.detections++
			if matched[k] {
				f.truePos++
				continue
			}
			at := s.start.Add(time.Duration(ep.Start) * time.Hour)
			f.falsePos = append(f.falsePos, fmt.Sprintf("%s %s, %dh, score %.1f, actual %.2f expected %.2f",
				s.name, at.Format("2006-01-02T15Z Mon"), ep.End-ep.Start+1, ep.MaxScore,
				s.values[ep.Start], res.Points[ep.Start].Expected))
		}
	}
	f.precision = float64(f.truePos) / float64(max(1, f.detections))
	f.recall = float64(f.bigFound) / float64(max(1, f.big))
	if len(f.delays) > 0 {
		ds := slices.Clone(f.delays)
		slices.Sort(ds)
		f.p50d = float64(ds[(len(ds)-1)/2]+ds[len(ds)/2]) / 2
		f.p90d = float64(ds[(len(ds)*9)/10])
	}
	return f
}

func (f evalFigures) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "series: %d x 60 days hourly; injected changes: %d (%d of them >= 3x)\n", f.series, f.changes, f.big)
	fmt.Fprintf(&b, "anomalies reported: %d, overlapping an injected change: %d\n", f.detections, f.truePos)
	fmt.Fprintf(&b, "precision: %.3f; false positives: %d in %d normal hours judged (%.1e per hour)\n", f.precision,
		f.detections-f.truePos, f.normalHours, float64(f.detections-f.truePos)/float64(max(1, f.normalHours)))
	fmt.Fprintf(&b, "recall (>= 3x): %.3f (%d/%d)\n", f.recall, f.bigFound, f.big)
	fmt.Fprintf(&b, "detection delay (>= 3x): median %.1f, 90th percentile %.0f hours of data\n", f.p50d, f.p90d)
	for _, bk := range evalBuckets {
		v := f.byBucket[bk.name]
		fmt.Fprintf(&b, "recall %s: %d/%d\n", bk.name, v[1], v[0])
	}
	return b.String()
}

// evalCorpus generates replicas x len(evalProfiles) series.
func evalCorpus(replicas int) []evalSeries {
	var out []evalSeries
	for r := range replicas {
		for k, pr := range evalProfiles {
			out = append(out, evalGenerate(pr, uint64(2026+k+100*r)))
		}
	}
	return out
}

// TestEvaluation is the acceptance evaluation: precision >= 0.9 and
// recall >= 0.9 for changes of 3x or more, median detection delay <= 1
// hour of data. TOLLGATE_EVAL_REPLICAS sets how many replicas of the five
// profiles run (default 3), TOLLGATE_EVAL_FPR the detector's target
// false-positive rate (default: the detector's default).
func TestEvaluation(t *testing.T) {
	replicas := 3
	if v, err := strconv.Atoi(os.Getenv("TOLLGATE_EVAL_REPLICAS")); err == nil && v > 0 {
		replicas = v
	}
	var cfg DetectorConfig
	if v, err := strconv.ParseFloat(os.Getenv("TOLLGATE_EVAL_FPR"), 64); err == nil {
		cfg.FalsePositiveRate = v
	}
	d := NewDetector(cfg)
	series := evalCorpus(replicas)
	f := evaluate(d, series)
	var b strings.Builder
	fmt.Fprintf(&b, "detector: false-positive rate target %g\n", d.Config().FalsePositiveRate)
	b.WriteString(f.String())
	b.WriteString("per profile (precision, recall >= 3x, median delay):\n")
	for k, pr := range evalProfiles {
		var one []evalSeries
		for r := range replicas {
			one = append(one, series[r*len(evalProfiles)+k])
		}
		g := evaluate(d, one)
		fmt.Fprintf(&b, "  %-14s %.3f  %.3f (%d/%d)  %.1fh\n", pr.name, g.precision, g.recall, g.bigFound, g.big, g.p50d)
	}
	for _, fp := range f.falsePos {
		fmt.Fprintf(&b, "false positive: %s\n", fp)
	}
	var stress []evalSeries
	for r := range replicas {
		stress = append(stress, evalGenerate(evalStress, uint64(4242+100*r)))
	}
	fmt.Fprintf(&b, "stress (not part of the acceptance figures):\n%s", evaluate(d, stress))
	t.Log("\n" + b.String())

	if f.changes < 50 {
		t.Errorf("only %d injected changes, want >= 50", f.changes)
	}
	if f.precision < 0.9 {
		t.Errorf("precision %.3f, want >= 0.9", f.precision)
	}
	if f.recall < 0.9 {
		t.Errorf("recall for changes >= 3x %.3f, want >= 0.9", f.recall)
	}
	if f.p50d > 1 {
		t.Errorf("median detection delay %.1f hours of data, want <= 1", f.p50d)
	}
}
