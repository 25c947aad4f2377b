package budget

import (
	"math"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// ForecastTolerance is the error Tollgate's budget forecast stays within on
// a synthetic month: a trend of +1% a day, a weekly profile (weekdays 1.2,
// weekends 0.5) and 5% daily noise, forecast from eight weeks of history in
// the middle of the month. The worst of 20 such series is about 4%.
const ForecastTolerance = 0.06

// series is the synthetic daily spend of day d (days since the epoch of
// the test), in nano-USD.
func series(rng *rand.Rand, day time.Time, d int) float64 {
	week := 1.2
	if wd := day.Weekday(); wd == time.Saturday || wd == time.Sunday {
		week = 0.5
	}
	return 100 * float64(money.Dollar) * (1 + 0.01*float64(d)) * week * (1 + 0.05*rng.NormFloat64())
}

func TestForecastOnSyntheticHistory(t *testing.T) {
	for _, tc := range []struct {
		name string
		now  time.Time
		unit TimeUnit
	}{
		{"mid-month", time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC), Monthly},
		{"early month", time.Date(2026, 11, 3, 6, 0, 0, 0, time.UTC), Monthly},
		{"late month", time.Date(2026, 11, 27, 18, 0, 0, 0, time.UTC), Monthly},
		{"quarter", time.Date(2026, 11, 16, 12, 0, 0, 0, time.UTC), Quarterly},
	} {
		t.Run(tc.name, func(t *testing.T) {
			worst := 0.0
			for seed := range uint64(20) {
				worst = max(worst, forecastError(t, seed, tc.now, tc.unit))
			}
			t.Logf("worst error over 20 series: %.2f%%", 100*worst)
		})
	}
}

// forecastError forecasts one synthetic series at now and returns the
// relative error against its true period total.
func forecastError(t *testing.T, seed uint64, now time.Time, unit TimeUnit) float64 {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 11))
	b := &Budget{TimeUnit: unit, Start: time.Date(2020, 1, 1, 0, 0, 0, 0, time.UTC), End: DefaultEnd}
	p, _ := b.PeriodAt(now)
	today := now.Truncate(24 * time.Hour)
	first := today.AddDate(0, 0, -56)
	// The true series from the first history day to the period's end.
	var truth []float64
	for d := first; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		truth = append(truth, series(rng, d, len(truth)))
	}
	history := make([]int64, 56)
	for i := range history {
		history[i] = int64(truth[i])
	}
	var actual, total float64
	for d := p.Start; d.Before(p.End); d = d.AddDate(0, 0, 1) {
		v := truth[int(d.Sub(first).Hours()/24)]
		total += v
		switch {
		case d.Before(today):
			actual += v
		case d.Equal(today):
			actual += v * now.Sub(today).Hours() / 24
		}
	}
	got, method, ok := Forecast(int64(actual), history, now, p)
	if !ok || method != FromHistory {
		t.Fatalf("seed %d: Forecast = %d, %s, %v; want a forecast from history", seed, got, method, ok)
	}
	rel := math.Abs(float64(got)-total) / total
	if rel > ForecastTolerance {
		t.Errorf("seed %d: forecast %s is %.1f%% off the true %s; tolerance %.0f%%", seed, money.Amount(got), 100*rel, money.Amount(int64(total)), 100*ForecastTolerance)
	}
	return rel
}

func TestForecastRunRate(t *testing.T) {
	p := Period{time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC), time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)}
	// AWS's example: $50 spent by the 20th of a 30-day month forecasts $75.
	got, method, ok := Forecast(int64(50*money.Dollar), nil, time.Date(2026, 11, 21, 0, 0, 0, 0, time.UTC), p)
	if !ok || method != RunRate || got != int64(75*money.Dollar) {
		t.Errorf("Forecast = %s, %s, %v; want 75, run-rate, true", money.Amount(got), method, ok)
	}
	// Too early in the period: no forecast.
	if got, _, ok := Forecast(int64(money.Dollar), nil, p.Start.Add(3*time.Hour), p); ok {
		t.Errorf("Forecast 3 hours into the month = %s, want none", money.Amount(got))
	}
	// After the period: the actual spend.
	if got, _, ok := Forecast(42, nil, p.End, p); !ok || got != 42 {
		t.Errorf("Forecast at the period's end = %d, %v; want 42", got, ok)
	}
}
