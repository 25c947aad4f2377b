package budget

import (
	"time"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// ForecastMethod says how a forecast was made.
type ForecastMethod string

// The forecast methods.
const (
	// FromHistory: the daily history of the budget's scope, forecast as
	// GetCostForecast forecasts (costquery.Forecast: weekday profile and
	// linear trend), added to the actual spend so far.
	FromHistory ForecastMethod = "history"
	// RunRate: too little history, so the period's actual spend so far
	// extrapolated linearly to its end (AWS's example: $50 spent by the
	// 20th of a 30-day month forecasts $75).
	RunRate ForecastMethod = "run-rate"
)

// Forecast predicts the spend of period p as seen at now: actual, the
// spend of p so far, plus the expected spend from now to the end of p.
//
// history holds the scope's daily spend for the costquery.HistoryDays days
// before today (oldest first; the last is yesterday). When it has at least
// costquery.MinHistoryDays days with spend, the rest of the period is
// forecast from it: the remaining fraction of today at today's forecast
// mean, plus every later day's mean. Otherwise, once a quarter of the
// period or a day has passed (whichever is shorter), the actual spend is
// extrapolated at its run rate; before that ok is false (no forecast).
// Periods are whole UTC days.
func Forecast(actual int64, history []int64, now time.Time, p Period) (forecast int64, method ForecastMethod, ok bool) {
	now = now.UTC()
	if !now.Before(p.End) {
		return actual, FromHistory, true
	}
	if now.Before(p.Start) {
		now = p.Start
	}
	today := time.Date(now.Year(), now.Month(), now.Day(), 0, 0, 0, 0, time.UTC)
	hist := make([]money.Amount, len(history))
	for i, v := range history {
		hist[i] = money.Amount(v)
	}
	if rest, ok := restFromHistory(hist, today, now, p.End); ok {
		return sat(actual, rest), FromHistory, true
	}
	elapsed, length := now.Sub(p.Start), p.End.Sub(p.Start)
	if elapsed <= 0 || elapsed < min(24*time.Hour, length/4) {
		return 0, "", false
	}
	f := float64(actual) * float64(length) / float64(elapsed)
	return int64(nanosOf(f)), RunRate, true
}

// restFromHistory forecasts the spend of [now, end) from the daily
// history before today.
func restFromHistory(hist []money.Amount, today, now, end time.Time) (int64, bool) {
	tomorrow := today.AddDate(0, 0, 1)
	day, err := costquery.Forecast(hist, today, costquery.ForecastQuery{From: today, To: tomorrow, Granularity: costquery.Daily})
	if err != nil {
		return 0, false
	}
	todayMean := float64(day.Total)
	stop := tomorrow
	if end.Before(stop) {
		stop = end
	}
	frac := float64(stop.Sub(now)) / float64(24*time.Hour)
	rest := todayMean * frac
	if end.After(tomorrow) {
		g := costquery.Daily
		if end.After(today.AddDate(0, 3, 0)) {
			g = costquery.Monthly
		}
		if end.After(today.AddDate(0, 18, 0)) {
			return 0, false
		}
		all, err := costquery.Forecast(hist, today, costquery.ForecastQuery{From: today, To: end, Granularity: g})
		if err != nil {
			return 0, false
		}
		rest += float64(all.Total) - todayMean
	}
	return int64(nanosOf(rest)), true
}

func nanosOf(f float64) float64 {
	if f < 0 {
		return 0
	}
	if f > 9e18 {
		return 9e18
	}
	return f + 0.5
}

// sat adds without overflowing.
func sat(a, b int64) int64 {
	if s := a + b; s >= a {
		return s
	}
	return 1<<63 - 1
}
