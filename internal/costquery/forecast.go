package costquery

import (
	"math"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// ForecastQuery is a GetCostForecast request in domain terms.
type ForecastQuery struct {
	// From and To bound the forecast, [From, To); both UTC midnights.
	// From may not be after today; the forecast covers [max(From,
	// today), To).
	From, To time.Time
	// Granularity is Daily or Monthly.
	Granularity Granularity
	// Filter selects the cost forecast; nil selects all.
	Filter *Expr
	// Level is the prediction interval's confidence level in percent,
	// 51-99; 0 means 80.
	Level int
}

// ForecastPeriod is one period of a forecast.
type ForecastPeriod struct {
	Period
	Mean, Lower, Upper money.Amount
}

// ForecastResult answers a ForecastQuery.
type ForecastResult struct {
	Periods []ForecastPeriod
	// Total is the sum of the periods' means.
	Total money.Amount
}

// Forecast parameters.
const (
	// HistoryDays is how many days before today the forecast learns from.
	HistoryDays = 56
	// MinHistoryDays is the least history (days from the first day with
	// cost to yesterday) a forecast needs.
	MinHistoryDays = 3
	// seasonDays is the least history for a weekday profile (two weeks).
	seasonDays = 14
	// trendDays is the least history for a linear trend (one week).
	trendDays = 7
)

func midnight(t time.Time) time.Time {
	t = t.UTC()
	return time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
}

// Validate checks q against today (a UTC midnight).
func (q ForecastQuery) Validate(today time.Time) error {
	if err := checkRange(q.From, q.To); err != nil {
		return err
	}
	if !q.From.Equal(midnight(q.From)) || !q.To.Equal(midnight(q.To)) {
		return errkind.New(errkind.Invalid, "A forecast's Start and End must be dates.")
	}
	if q.From.After(today) {
		return errkind.New(errkind.Invalid, "The forecast's start date must be equal to or no later than the current date.")
	}
	if !q.To.After(today) {
		return errkind.New(errkind.Invalid, "The forecast's end date must be after the current date.")
	}
	switch q.Granularity {
	case Daily:
		if q.To.After(today.AddDate(0, 3, 0)) {
			return errkind.New(errkind.Invalid, "DAILY forecasts cover at most 3 months from today.")
		}
	case Monthly:
		if q.To.After(today.AddDate(0, 18, 0)) {
			return errkind.New(errkind.Invalid, "MONTHLY forecasts cover at most 18 months from today.")
		}
	case Hourly:
		return errkind.New(errkind.Invalid, "GetCostForecast supports only DAILY and MONTHLY granularities.")
	default:
		return errkind.New(errkind.Invalid, "Invalid granularity %q: valid values are DAILY and MONTHLY.", truncate(string(q.Granularity)))
	}
	if q.Level != 0 && (q.Level < 51 || q.Level > 99) {
		return errkind.New(errkind.Invalid, "PredictionIntervalLevel must be between 51 and 99.")
	}
	return q.Filter.Validate()
}

// Forecast predicts daily cost from history, the daily costs of the days
// before today (oldest first, history[len-1] is yesterday), and sums it
// into q's periods.
//
// The method, documented because Cost Explorer's is not public:
//   - Leading days without cost are dropped; fewer than MinHistoryDays
//     left is an Unavailable error (DataUnavailableException).
//   - With two weeks of history or more, an additive weekday profile: each
//     weekday's mean deviation from the overall mean.
//   - With a week or more, a least-squares linear trend on the
//     deseasonalised series; otherwise a flat mean.
//   - Each future day's mean is trend + weekday effect, floored at zero.
//   - Residuals of the fit give a standard deviation s; a day's variance
//     is s²·(1 + 1/n + (t-t̄)²/Sxx) (the regression prediction variance),
//     a period's variance the sum over its days (independent errors), and
//     its interval mean ± z·√variance, z the normal quantile of the
//     two-sided level (80% by default), the lower bound floored at zero.
//
// Amounts are computed in float64 nano-dollars and rounded to the
// nano-dollar: the one place Tollgate's money goes through floating point,
// because a forecast is an estimate, not an account.
func Forecast(history []money.Amount, today time.Time, q ForecastQuery) (ForecastResult, error) {
	if err := q.Validate(today); err != nil {
		return ForecastResult{}, err
	}
	first := 0
	for first < len(history) && history[first] == 0 {
		first++
	}
	y := make([]float64, 0, len(history)-first)
	for _, a := range history[first:] {
		y = append(y, float64(a))
	}
	n := len(y)
	if n < MinHistoryDays {
		return ForecastResult{}, errNoHistory()
	}
	start := today.AddDate(0, 0, -n) // the day y[0] is
	weekday := func(t int) int { return int(start.AddDate(0, 0, t).Weekday()) }

	var mean float64
	for _, v := range y {
		mean += v
	}
	mean /= float64(n)
	var season [7]float64
	params := 1
	if n >= seasonDays {
		var sum [7]float64
		var cnt [7]int
		for t, v := range y {
			sum[weekday(t)] += v - mean
			cnt[weekday(t)]++
		}
		var avg float64
		for w := range 7 {
			season[w] = sum[w] / float64(cnt[w])
			avg += season[w]
		}
		for w := range 7 {
			season[w] -= avg / 7
		}
		params += 6
	}
	z := make([]float64, n)
	var tbar, zbar float64
	for t, v := range y {
		z[t] = v - season[weekday(t)]
		tbar += float64(t)
		zbar += z[t]
	}
	tbar /= float64(n)
	zbar /= float64(n)
	var sxx, sxz float64
	for t := range z {
		d := float64(t) - tbar
		sxx += d * d
		sxz += d * (z[t] - zbar)
	}
	a, b := zbar, 0.0
	trend := n >= trendDays && sxx > 0
	if trend {
		b = sxz / sxx
		a = zbar - b*tbar
		params++
	}
	var rss float64
	for t, v := range y {
		r := v - (a + b*float64(t) + season[weekday(t)])
		rss += r * r
	}
	s2 := rss / float64(max(1, n-params))

	level := q.Level
	if level == 0 {
		level = 80
	}
	zq := normalQuantile(0.5 + float64(level)/200)

	from := q.From
	if from.Before(today) {
		from = today
	}
	var res ForecastResult
	for _, p := range Periods(from, q.To, q.Granularity) {
		var m, v float64
		for d := p.Start; d.Before(p.End); d = d.AddDate(0, 0, 1) {
			t := float64(n) + d.Sub(today).Hours()/24
			dm := a + b*t + season[int(d.Weekday())]
			m += max(0, dm)
			dv := s2 * (1 + 1/float64(n))
			if trend {
				dv += s2 * (t - tbar) * (t - tbar) / sxx
			}
			v += dv
		}
		half := zq * math.Sqrt(v)
		fp := ForecastPeriod{Period: p, Mean: nanos(m), Lower: nanos(max(0, m-half)), Upper: nanos(m + half)}
		res.Periods = append(res.Periods, fp)
		res.Total += fp.Mean
	}
	return res, nil
}

func nanos(f float64) money.Amount {
	if f >= math.MaxInt64 {
		return money.Amount(math.MaxInt64)
	}
	return money.Amount(math.Round(f))
}

// normalQuantile returns the p-quantile of the standard normal
// distribution (Acklam's rational approximation, relative error < 1.2e-9).
func normalQuantile(p float64) float64 {
	const (
		a1, a2, a3, a4, a5, a6 = -3.969683028665376e+01, 2.209460984245205e+02, -2.759285104469687e+02, 1.383577518672690e+02, -3.066479806614716e+01, 2.506628277459239e+00
		b1, b2, b3, b4, b5     = -5.447609879822406e+01, 1.615858368580409e+02, -1.556989798598866e+02, 6.680131188771972e+01, -1.328068155288572e+01
		c1, c2, c3, c4, c5, c6 = -7.784894002430293e-03, -3.223964580411365e-01, -2.400758277161838e+00, -2.549732539343734e+00, 4.374664141464968e+00, 2.938163982698783e+00
		d1, d2, d3, d4         = 7.784695709041462e-03, 3.224671290700398e-01, 2.445134137142996e+00, 3.754408661907416e+00
		low                    = 0.02425
	)
	switch {
	case p <= 0:
		return math.Inf(-1)
	case p >= 1:
		return math.Inf(1)
	case p < low:
		q := math.Sqrt(-2 * math.Log(p))
		return (((((c1*q+c2)*q+c3)*q+c4)*q+c5)*q + c6) / ((((d1*q+d2)*q+d3)*q+d4)*q + 1)
	case p > 1-low:
		q := math.Sqrt(-2 * math.Log(1-p))
		return -(((((c1*q+c2)*q+c3)*q+c4)*q+c5)*q + c6) / ((((d1*q+d2)*q+d3)*q+d4)*q + 1)
	}
	q := p - 0.5
	r := q * q
	return (((((a1*r+a2)*r+a3)*r+a4)*r+a5)*r + a6) * q / (((((b1*r+b2)*r+b3)*r+b4)*r+b5)*r + 1)
}
