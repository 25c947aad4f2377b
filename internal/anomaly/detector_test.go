package anomaly

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"
)

var detStart = time.Date(2026, 1, 5, 0, 0, 0, 0, time.UTC) // a Monday

// seasonal returns days of hourly spend with a daily cycle, lower
// weekends and 5% multiplicative noise, deterministic in seed.
func seasonal(days int, seed uint64) []float64 {
	rng := rand.New(rand.NewPCG(seed, 1))
	out := make([]float64, days*24)
	for i := range out {
		t := detStart.Add(time.Duration(i) * time.Hour)
		v := 10 + 8*math.Sin(2*math.Pi*float64(t.Hour()-8)/24)
		if wd := t.Weekday(); wd == time.Saturday || wd == time.Sunday {
			v *= 0.5
		}
		out[i] = v * math.Exp(0.05*rng.NormFloat64())
	}
	return out
}

func anomalous(res Result) []int {
	var out []int
	for i, p := range res.Points {
		if p.Anomalous {
			out = append(out, i)
		}
	}
	return out
}

func TestDetectorQuietSeries(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	res := d.Run(detStart, seasonal(42, 1), nil)
	if got := anomalous(res); len(got) > 0 {
		t.Errorf("anomalous hours in a series without changes: %v", got)
	}
	if !res.Next.Ready {
		t.Error("no forecast for the next hour after six weeks")
	}
	if e := res.Next.Expected; e < 1 || e > 30 {
		t.Errorf("next hour expected %.2f, want within the series' range", e)
	}
}

func TestDetectorSpike(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	v := seasonal(35, 2)
	at := 30*24 + 13
	v[at] *= 4
	v[at+1] *= 4
	res := d.Run(detStart, v, nil)
	if len(res.Episodes) != 1 {
		t.Fatalf("episodes %+v, want one", res.Episodes)
	}
	ep := res.Episodes[0]
	if ep.Start != at || ep.End != at+1 || ep.Adapted || ep.Open {
		t.Errorf("episode %+v, want hours %d-%d, closed, not adapted", ep, at, at+1)
	}
	if ep.MaxScore < 5 {
		t.Errorf("max score %.2f, want a clear anomaly", ep.MaxScore)
	}
	if p := res.Points[at]; p.Expected <= 0 || v[at]/p.Expected < 3 {
		t.Errorf("spike hour expected %.2f for actual %.2f", p.Expected, v[at])
	}
}

// A past outlier must not inflate later baselines: the same spike a week
// later is found as clearly.
func TestDetectorRobustToPastOutliers(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	v := seasonal(42, 3)
	first, second := 28*24+12, 35*24+12 // the same hour of the week
	v[first] *= 5
	v[second] *= 5
	res := d.Run(detStart, v, nil)
	if !res.Points[first].Anomalous || !res.Points[second].Anomalous {
		t.Fatalf("spikes flagged: %v and %v, want both", res.Points[first].Anomalous, res.Points[second].Anomalous)
	}
	if e1, e2 := res.Points[first].Expected, res.Points[second].Expected; e2 > 1.3*e1 {
		t.Errorf("expected spend after an outlier %.2f, before %.2f: the outlier leaked into the baseline", e2, e1)
	}
}

// A level shift is one anomaly until the baseline adopts the new level.
func TestDetectorLevelShift(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	v := seasonal(42, 4)
	at := 30 * 24
	for i := at; i < len(v); i++ {
		v[i] *= 3
	}
	res := d.Run(detStart, v, nil)
	if len(res.Episodes) != 1 {
		t.Fatalf("episodes %+v, want one", res.Episodes)
	}
	ep := res.Episodes[0]
	if ep.Start != at || !ep.Adapted || ep.End-ep.Start+1 != d.Config().AdaptAfter {
		t.Errorf("episode %+v, want from hour %d, adapted after %d hours", ep, at, d.Config().AdaptAfter)
	}
	last := res.Points[len(v)-1]
	if r := v[len(v)-1] / last.Expected; r < 0.7 || r > 1.4 {
		t.Errorf("after the shift, actual/expected = %.2f, want the baseline at the new level", r)
	}
}

// The detector follows trend: steady growth of 2% a day is no anomaly.
func TestDetectorTrend(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	v := seasonal(42, 5)
	for i := range v {
		v[i] *= math.Pow(1.02, float64(i)/24)
	}
	if got := anomalous(d.Run(detStart, v, nil)); len(got) > 0 {
		t.Errorf("anomalous hours in a growing series: %v", got)
	}
}

func TestDetectorLabels(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	v := seasonal(35, 6)
	spike, known := 30*24+12, 31*24+3
	v[spike] *= 6
	labels := make([]Label, len(v))
	labels[spike] = Normal // feedback said it is normal
	labels[known] = Outlier
	res := d.Run(detStart, v, labels)
	if res.Points[spike].Anomalous {
		t.Error("an hour labelled Normal was flagged")
	}
	if !res.Points[known].Anomalous {
		t.Error("an hour labelled Outlier was not flagged")
	}
}

func TestDetectorNeedsHistory(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	v := seasonal(10, 7)
	v[3*24+12] *= 10 // within the first week
	res := d.Run(detStart, v, nil)
	if res.Points[3*24+12].Anomalous {
		t.Error("flagged an hour before MinHistory")
	}
	empty := d.Run(detStart, nil, nil)
	if empty.Next.Ready || len(empty.Episodes) != 0 {
		t.Errorf("empty series: %+v", empty)
	}
	zeros := d.Run(detStart, make([]float64, 30*24), nil)
	if len(zeros.Episodes) != 0 {
		t.Errorf("all-zero series: %+v", zeros.Episodes)
	}
}

func TestForecastPartial(t *testing.T) {
	d := NewDetector(DetectorConfig{})
	res := d.Run(detStart, seasonal(35, 8), nil)
	f := res.Next
	if !f.Ready {
		t.Fatal("not ready")
	}
	for _, tc := range []struct {
		name     string
		spent    float64
		fraction float64
		want     bool
	}{
		{"usual pace", f.Expected / 2, 0.5, false},
		{"five times the pace", 5 * f.Expected / 2, 0.5, true},
		{"too early to judge", 10 * f.Expected / 10, 0.1, false},
		{"nothing yet", 0, 0.5, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, got := f.Partial(tc.spent, tc.fraction); got != tc.want {
				t.Errorf("Partial(%.2f, %.2f) = %v, want %v", tc.spent, tc.fraction, got, tc.want)
			}
		})
	}
}

func TestStudentQuantile(t *testing.T) {
	for _, tc := range []struct {
		p, nu, want float64
	}{
		{0.975, 10, 2.228}, {0.99, 20, 2.528}, {0.999, 30, 3.385}, {0.9999, 60, 3.962},
	} {
		if got := studentQuantile(tc.p, tc.nu); math.Abs(got-tc.want) > 0.01*tc.want {
			t.Errorf("studentQuantile(%g, %g) = %.3f, want %.3f", tc.p, tc.nu, got, tc.want)
		}
	}
	if got := normalQuantile(0.975); math.Abs(got-1.959964) > 1e-6 {
		t.Errorf("normalQuantile(0.975) = %f", got)
	}
}
