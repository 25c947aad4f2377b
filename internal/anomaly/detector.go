package anomaly

import (
	"math"
	"time"
)

// The detector's fixed shape: how far back it looks and what it takes for
// an hour to count. These are properties of the method, not per-monitor
// thresholds.
const (
	hoursPerWeek = 7 * 24
	// seasonWeeks is how many past weeks give the same hour of the week.
	seasonWeeks = 4
	// seasonDays is how many recent days give the same hour of the day.
	seasonDays = 7
	// levelHours is the window of the recent level factor.
	levelHours = 24
	// scaleDays is how far back residuals estimate the noise.
	scaleDays = 14
	// minLocal and maxLocal bound the residuals of hours like this one
	// that estimate its noise; minPooled is the fewest residuals of all
	// hours that may stand in.
	minLocal, maxLocal, minPooled = 12, 72, 24
	// epsShare is the offset, as a share of the mean hourly spend, added
	// to actual and expected before their log ratio is taken: it keeps
	// near-zero hours from producing huge ratios of tiny amounts.
	epsShare = 0.05
	// materialShare is the least hourly impact, as a share of the mean
	// hourly spend, that makes an anomaly material.
	materialShare = 0.1
	// sustainedHours is the window of the sustained test, and
	// sustainedMinScore the least hourly score an hour needs for that
	// test to flag it.
	sustainedHours    = 6
	sustainedMinScore = 1.5
	// minPartial is the least share of an hour the partial-hour check
	// needs before it judges.
	minPartial = 0.25
)

// HistoryHours is how many hours of history the detector uses before the
// first hour it judges: the seasonal weeks, and the week before them that
// scales them to the current level.
const HistoryHours = (seasonWeeks + 1) * hoursPerWeek

// Label is what is already known about an hour before the detector runs.
type Label uint8

const (
	// Unknown hours are judged by the detector.
	Unknown Label = iota
	// Normal hours are usual spend: never flagged, always learnt from
	// (hours judged before, and anomalies the baseline has adapted to or
	// that feedback called not anomalous).
	Normal
	// Outlier hours are known to be anomalous (found before): flagged, and
	// replaced by their expected value in the history later hours learn
	// from.
	Outlier
	// Adopted hours are a level the baseline takes on (an anomaly the
	// detector adapted to before, or that feedback called planned or not
	// anomalous): never flagged, and at the end of a run of them their
	// level relative to the forecast becomes the expected level, as when
	// the detector adopts a level shift itself.
	Adopted
)

// DetectorConfig tunes a Detector. The zero value of each field selects
// its default. None of them is a per-monitor threshold: the method derives
// each value's threshold from its own history.
type DetectorConfig struct {
	// FalsePositiveRate is the share of normal hours the detector may
	// flag; each value's score threshold is derived from it and from how
	// much residual history backs the value's noise estimate. Default 1e-4
	// (one false alarm per monitored value in some 14 months of hours;
	// docs/anomaly.md reports the rate observed).
	FalsePositiveRate float64
	// MinImpact is the least hourly impact (actual minus expected spend,
	// in dollars) an anomalous hour has, whatever its score. Default 0.01.
	MinImpact float64
	// AdaptAfter is how many hours an anomaly may last before the
	// baseline adopts its level as the new normal (a level shift) and the
	// anomaly closes. Default 24.
	AdaptAfter int
	// MergeGap is how many quiet hours may separate anomalous hours of one
	// anomaly. Default 2.
	MergeGap int
	// MinHistory is how many hours of history a value needs before its
	// hours are judged. Default 240 (ten days, the history AWS is said to
	// need before it judges a new service).
	MinHistory int
}

func (c DetectorConfig) withDefaults() DetectorConfig {
	if c.FalsePositiveRate <= 0 {
		c.FalsePositiveRate = 1e-4
	}
	if c.MinImpact <= 0 {
		c.MinImpact = 0.01
	}
	if c.AdaptAfter <= 0 {
		c.AdaptAfter = 24
	}
	if c.MergeGap <= 0 {
		c.MergeGap = 2
	}
	if c.MinHistory <= 0 {
		c.MinHistory = 10 * 24
	}
	return c
}

// Detector finds anomalous hours in an hourly spend series. It is
// immutable and safe for concurrent use.
//
// Each hour's expected spend is forecast from the history before it. A
// seasonal forecast blends the same hour of the week over the last four
// weeks (median) with the same hour of the day over the last seven days
// (median, each day adjusted by its day-of-week factor), every past value
// scaled by the ratio of the current level to the level at its time
// (trend). A recent level factor, the median ratio of actual to seasonal
// forecast over the last 24 hours, multiplies it.
//
// The residual is the log ratio of actual to expected. Its centre and
// scale are the median and a MAD-type deviation of the last residuals of
// hours whose expected spend was close to this hour's (night and weekend
// hours are relatively noisier). The score is the robust z of the
// residual; an hour is anomalous when the score reaches the Student-t
// quantile for the target false-positive rate (degrees of freedom from
// the number of residuals) and the excess spend is material. A second,
// sustained test judges the last six hours together the same way, to
// catch increases each hour of a noisy value hides.
//
// Anomalous hours enter the history as their expected value, so past
// outliers do not inflate later baselines. An anomaly that lasts
// AdaptAfter hours is taken for a level shift: its hours return to the
// history, and the shift's level becomes a regime factor that later
// forecasts expect and that the history is kept in units of, so the
// seasonal shape of the following weeks is not distorted; the regime ends
// when spend falls back nearer the level before it.
type Detector struct {
	cfg        DetectorConfig
	tailP      float64
	thresholds [2 * hoursPerWeek]float64
}

// NewDetector returns a Detector with cfg (defaults filled in).
func NewDetector(cfg DetectorConfig) *Detector {
	cfg = cfg.withDefaults()
	d := &Detector{cfg: cfg, tailP: 1 - cfg.FalsePositiveRate}
	for n := range d.thresholds {
		d.thresholds[n] = d.computeThreshold(n)
	}
	return d
}

// Config returns the detector's configuration with defaults filled in.
func (d *Detector) Config() DetectorConfig { return d.cfg }

// computeThreshold is the score threshold for a scale estimated from n
// residuals: the t quantile at the target false-positive rate, with the
// degrees of freedom a MAD-type estimate of n values carries (about 40%
// of a standard deviation's).
func (d *Detector) computeThreshold(n int) float64 {
	return studentQuantile(d.tailP, max(5, 0.4*float64(n)))
}

func (d *Detector) threshold(n int) float64 {
	if n >= 0 && n < len(d.thresholds) {
		return d.thresholds[n]
	}
	return d.computeThreshold(n)
}

// Point is the detector's verdict on one hour.
type Point struct {
	// Expected is the forecast spend of the hour.
	Expected float64
	// Score is the hour's robust z score (0 before the value has enough
	// history, and for hours below expected); higher is more anomalous.
	Score float64
	// Anomalous reports whether the hour is part of an anomaly.
	Anomalous bool
}

// Episode is one anomaly in a series: a run of anomalous hours, no more
// than MergeGap quiet hours apart.
type Episode struct {
	Start, End int // first and last anomalous hour, as indexes
	// Adapted reports that the episode lasted AdaptAfter hours and the
	// baseline adopted its level (it is closed).
	Adapted bool
	// Open reports that the episode may still grow: it ends within
	// MergeGap hours of the series' end and has not been adapted to.
	Open bool
	// MaxScore is the highest score of its hours.
	MaxScore float64
}

// Forecast is the detector's forecast for the hour after a series, used
// to judge that hour while it is still running.
type Forecast struct {
	// Ready reports whether the value has the history to be judged.
	Ready bool
	// Expected is the expected spend of the whole hour.
	Expected float64
	// Level is the mean hourly spend over the last week.
	Level float64

	centre, scale, threshold, eps, minImpact float64
}

// Partial judges an hour that is only fraction (0..1] done, with spent
// spend so far: its score and whether it is already anomalous. The score
// is the full-hour score of the spend projected to the whole hour,
// shrunk by the square root of fraction because a projection from part
// of an hour is noisier; less than a quarter of an hour is not judged.
func (f Forecast) Partial(spent, fraction float64) (score float64, anomalous bool) {
	if !f.Ready || fraction < minPartial || f.scale <= 0 {
		return 0, false
	}
	fraction = min(fraction, 1)
	proj := spent / fraction
	score = math.Sqrt(fraction) * (math.Log((proj+f.eps)/(f.Expected+f.eps)) - f.centre) / f.scale
	material := max(f.minImpact, materialShare*f.Level) * fraction
	return max(score, 0), score >= f.threshold && spent-f.Expected*fraction >= material
}

// Result is the outcome of running the detector over a series.
type Result struct {
	Points   []Point
	Episodes []Episode
	// Next forecasts the hour after the series.
	Next Forecast
}

// Run judges an hourly spend series (dollars per hour, oldest first; the
// first hour starts at start, a whole UTC hour). labels, when not nil,
// has one Label per value; missing labels are Unknown. Hours labelled
// Normal, Outlier or Adopted keep that verdict; Unknown hours are judged.
func (d *Detector) Run(start time.Time, values []float64, labels []Label) Result {
	n := len(values)
	p := &pass{
		d: d, start: start.UTC(), y: values,
		c: make([]float64, n), norm: make([]float64, n), g: make([]float64, n), regime: 1,
		e0: make([]float64, n), e: make([]float64, n), flagged: make([]bool, n),
		prefix: make([]float64, n+1), dowDay: -1,
		hourly:    channel{res: make([]float64, n), pooledAt: -1},
		sustained: channel{res: make([]float64, n), exp: make([]float64, n), pooledAt: -1},
	}
	p.hourly.exp = p.e
	cfg := d.cfg
	points := make([]Point, n)
	var eps []Episode
	cur, lastFlag, adoptFrom := -1, -1, -1
	for i := range n {
		f := p.forecast(i)
		y := values[i]
		lab := Unknown
		if i < len(labels) {
			lab = labels[i]
		}
		score := 0.0
		if f.Ready {
			score = (math.Log((y+f.eps)/(f.Expected+f.eps)) - f.centre) / f.scale
		}
		var flagged bool
		switch lab {
		case Normal, Adopted:
		case Outlier:
			flagged = true
		default:
			material := max(cfg.MinImpact, materialShare*f.Level)
			flagged = f.Ready && score >= f.threshold && y-f.Expected >= material
			if f.Ready && !flagged && score >= sustainedMinScore && i+1 >= sustainedHours {
				flagged = p.sustainedAt(i, f, material)
			}
		}
		points[i] = Point{Expected: f.Expected, Score: max(score, 0), Anomalous: flagged}
		p.record(i, f, flagged)
		if lab == Adopted {
			// Its excess is no measure of the noise.
			p.hourly.res[i], p.sustained.res[i] = math.NaN(), math.NaN()
			if adoptFrom < 0 {
				adoptFrom = i
			}
			if i+1 >= len(labels) || labels[i+1] != Adopted {
				p.adopt(adoptFrom, i)
				adoptFrom = -1
			}
		}
		switch {
		case flagged:
			if cur >= 0 && i-lastFlag <= cfg.MergeGap+1 {
				eps[cur].End = i
			} else {
				eps = append(eps, Episode{Start: i, End: i})
				cur = len(eps) - 1
			}
			lastFlag = i
			eps[cur].MaxScore = max(eps[cur].MaxScore, points[i].Score)
			if i-eps[cur].Start+1 >= cfg.AdaptAfter {
				p.adopt(eps[cur].Start, i)
				eps[cur].Adapted = true
				cur = -1
			}
		case cur >= 0 && i-lastFlag > cfg.MergeGap:
			cur = -1
		}
	}
	if cur >= 0 {
		eps[cur].Open = true
	}
	return Result{Points: points, Episodes: eps, Next: p.forecast(n)}
}

// pass is the state of one run over a series.
type pass struct {
	d     *Detector
	start time.Time
	y     []float64 // actual spend

	c       []float64 // cleaned spend: actual, or expected for anomalous hours
	g       []float64 // regime factor in force at each hour
	norm    []float64 // regime-normalised history: c / g
	e0      []float64 // seasonal forecast, in normalised units
	e       []float64 // expected spend: e0 * recent level factor * regime
	flagged []bool
	regime  float64 // the level of the adopted shifts, 1 without

	prefix []float64 // prefix[i] = sum of norm[:i]

	dow    [7]float64 // day-of-week factors, by time.Weekday
	dowDay int        // the day index they were computed at

	hourly, sustained channel

	buf, buf2, cand, cand2, rat []float64
}

// record enters hour i into the history once judged.
func (p *pass) record(i int, f Forecast, flagged bool) {
	y := p.y[i]
	p.flagged[i] = flagged
	p.hourly.res[i], p.sustained.res[i] = math.NaN(), math.NaN()
	if flagged {
		p.c[i] = f.Expected
	} else {
		p.c[i] = y
		if f.Expected > 0 || y > 0 {
			p.hourly.res[i] = math.Log((y + f.eps) / (f.Expected + f.eps))
		}
	}
	p.norm[i] = p.c[i] / p.g[i]
	p.prefix[i+1] = p.prefix[i] + p.norm[i]
	if i+1 >= sustainedHours {
		actual, expected, anyFlagged := p.window(i)
		p.sustained.exp[i] = expected
		if !anyFlagged && (actual > 0 || expected > 0) {
			k := float64(sustainedHours)
			p.sustained.res[i] = math.Log((actual + k*f.eps) / (expected + k*f.eps))
		}
	}
}

// adopt ends a level shift over hours [from, to]: their actual spend
// returns to the history, and the regime becomes the shift's level (the
// median ratio of actual spend to seasonal forecast over its hours), so
// the forecasts that follow expect the new level while the normalised
// history keeps its seasonal shape.
func (p *pass) adopt(from, to int) {
	p.rat = p.rat[:0]
	for j := from; j <= to; j++ {
		if p.e0[j] > 0 {
			p.rat = append(p.rat, p.y[j]/p.e0[j])
		}
	}
	if len(p.rat) == 0 {
		return
	}
	m := median(p.rat)
	if m <= 0 {
		return
	}
	p.regime = m
	p.setRegime(from, to, m, true)
}

// setRegime re-enters hours [from, to] into the normalised history under
// regime factor g; restore puts their actual spend back in the history.
func (p *pass) setRegime(from, to int, g float64, restore bool) {
	for j := from; j <= to; j++ {
		if restore {
			p.c[j] = p.y[j]
		}
		p.g[j] = g
		p.norm[j] = p.c[j] / g
		p.prefix[j+1] = p.prefix[j] + p.norm[j]
	}
	for j := to + 1; j < len(p.norm) && p.g[j] != 0; j++ {
		p.prefix[j+1] = p.prefix[j] + p.norm[j]
	}
	p.dowDay = -1
}

// level returns the normalised level at hour i: the median of the mean
// of the seven 24-hour windows before it (robust to a few days of unusual
// spend), or the mean of what there is with less history; and how many
// hours back it reaches.
func (p *pass) level(i int) (float64, int) {
	if i >= hoursPerWeek {
		var daily [7]float64
		for k := range daily {
			hi := i - 24*k
			daily[k] = (p.prefix[hi] - p.prefix[hi-24]) / 24
		}
		return median(daily[:]), hoursPerWeek
	}
	if i <= 0 {
		return 0, 0
	}
	return p.prefix[i] / float64(i), i
}

// levelRatio scales normalised spend seen at hour j to the level at hour
// i.
func (p *pass) levelRatio(i, j int) float64 {
	ai, _ := p.level(i)
	aj, nj := p.level(j)
	if nj < 24 || ai <= 0 || aj <= 0 {
		return 1
	}
	return min(max(ai/aj, 0.1), 10)
}

func (p *pass) weekday(i int) time.Weekday {
	return p.start.Add(time.Duration(i) * time.Hour).Weekday()
}

// updateDOW recomputes the day-of-week factors, once a day, from the last
// four weeks: each past day's mean over the mean of the week centred on
// it, the median per weekday.
func (p *pass) updateDOW(i int) {
	day := i / 24
	if day == p.dowDay {
		return
	}
	p.dowDay = day
	off := (24 - p.start.Hour()) % 24 // index of the first midnight
	var ratios [7][]float64
	for b := off; b+24 <= i; b += 24 {
		if i-b > 4*hoursPerWeek+24 {
			continue
		}
		lo, hi := max(0, b-72), min(i, b+96)
		if hi-lo < 5*24 {
			continue
		}
		week := (p.prefix[hi] - p.prefix[lo]) / float64(hi-lo)
		if week <= 0 {
			continue
		}
		wd := p.weekday(b)
		ratios[wd] = append(ratios[wd], (p.prefix[b+24]-p.prefix[b])/24/week)
	}
	for wd := range ratios {
		p.dow[wd] = 1
		if len(ratios[wd]) > 0 {
			p.dow[wd] = min(max(median(ratios[wd]), 0.05), 20)
		}
	}
}

// forecast forecasts hour i from the history before it, and records its
// seasonal forecast, level factor and expected spend.
func (p *pass) forecast(i int) Forecast {
	cfg := p.d.cfg
	if i < len(p.g) {
		p.g[i] = p.regime
	}
	level, nLevel := p.level(i)
	if nLevel == 0 {
		return Forecast{}
	}
	p.updateDOW(i)
	p.cand, p.cand2 = p.cand[:0], p.cand2[:0]
	for k := 1; k <= seasonWeeks; k++ {
		j := i - hoursPerWeek*k
		if j < 0 {
			break
		}
		p.cand = append(p.cand, p.norm[j]*p.levelRatio(i, j))
	}
	wi := p.dow[p.weekday(i)]
	for dd := 1; dd <= seasonDays; dd++ {
		j := i - 24*dd
		if j < 0 {
			break
		}
		p.cand2 = append(p.cand2, p.norm[j]*p.levelRatio(i, j)*wi/p.dow[p.weekday(j)])
	}
	var e0 float64
	nW, nD := len(p.cand), len(p.cand2)
	var hw, hd float64
	if nW > 0 {
		hw = median(p.cand)
	}
	if nD > 0 {
		hd = median(p.cand2)
	}
	switch {
	case nW == 0 && nD == 0:
		e0 = level
	case nD == 0:
		e0 = hw
	case nW == 0:
		e0 = hd
	default:
		// Trust the same hour of the week more as weeks accumulate.
		w := [...]float64{0, 0.25, 0.4, 0.5, 0.5}[min(nW, seasonWeeks)]
		e0 = w*hw + (1-w)*hd
	}
	// The recent level factor: normalised actual over seasonal forecast,
	// last day.
	lf := p.recentLevel(i)
	if p.regime != 1 && math.Abs(math.Log(lf)) > math.Abs(math.Log(lf*p.regime)) {
		// Spend is back nearer the level before the adopted shift: the
		// regime is over, and the last day's hours were not of it.
		p.regime = 1
		p.setRegime(max(0, i-levelHours), i-1, 1, false)
		lf = p.recentLevel(i)
		if i < len(p.g) {
			p.g[i] = 1
		}
	}
	e := e0 * lf * p.regime
	if i < len(p.e) {
		p.e0[i], p.e[i] = e0, e
	}
	// The mean hourly spend, in dollars, scales the offset and what is
	// material.
	dollars := level * lf * p.regime
	f := Forecast{Expected: e, Level: dollars, eps: max(epsShare*dollars, cfg.MinImpact/10), minImpact: cfg.MinImpact}
	if i < cfg.MinHistory {
		return f
	}
	centre, scale, n := p.scaleAt(&p.hourly, i, e)
	if n == 0 {
		return f
	}
	f.Ready, f.centre, f.scale, f.threshold = true, centre, scale, p.d.threshold(n)
	return f
}

// recentLevel returns the median ratio of normalised spend to seasonal
// forecast over the day before hour i (1 with too little of it).
func (p *pass) recentLevel(i int) float64 {
	p.rat = p.rat[:0]
	for j := max(0, i-levelHours); j < i; j++ {
		if p.e0[j] > 0 {
			p.rat = append(p.rat, p.norm[j]/p.e0[j])
		}
	}
	if len(p.rat) < levelHours/2 {
		return 1
	}
	return max(median(p.rat), 1e-3)
}

// window sums actual and expected spend over the sustained window ending
// at hour i, and reports whether any of its hours is flagged.
func (p *pass) window(i int) (actual, expected float64, anyFlagged bool) {
	for j := i - sustainedHours + 1; j <= i; j++ {
		actual += p.y[j]
		expected += p.e[j]
		anyFlagged = anyFlagged || p.flagged[j]
	}
	return actual, expected, anyFlagged
}

// sustainedAt runs the sustained test at hour i (forecast as f, with its
// expected spend recorded): the spend of the last hours together against
// their expected spend, judged by the scale of past windows. It catches
// increases too small to stand out in any one hour of a noisy value but
// clear over several.
func (p *pass) sustainedAt(i int, f Forecast, material float64) bool {
	actual, expected, _ := p.window(i)
	centre, scale, n := p.scaleAt(&p.sustained, i, expected)
	if n == 0 {
		return false
	}
	k := float64(sustainedHours)
	z := (math.Log((actual+k*f.eps)/(expected+k*f.eps)) - centre) / scale
	// Overlapping windows are correlated: fewer degrees of freedom.
	return z >= p.d.threshold(max(minLocal, n/3)) && actual-expected >= k*material
}

// channel is one residual series and what its scale estimate needs: the
// hourly residuals, or those of the sustained test's windows.
type channel struct {
	res []float64 // residuals; NaN where excluded
	exp []float64 // the expected spend each residual was measured against

	pooledAt                  int
	pooledCentre, pooledScale float64
	pooledN                   int
}

// scaleAt returns the residual centre and scale for hour i of ch, whose
// expected spend is expected, and the number of residuals behind them; n
// is 0 when there are too few.
func (p *pass) scaleAt(ch *channel, i int, expected float64) (centre, scale float64, n int) {
	// Pooled over the last two weeks, recomputed daily: the fallback and
	// a floor for the local scale.
	if ch.pooledAt < 0 || i-ch.pooledAt >= 24 {
		ch.pooledAt = i
		p.buf = p.buf[:0]
		for j := max(0, i-2*hoursPerWeek); j < i; j++ {
			if !math.IsNaN(ch.res[j]) {
				p.buf = append(p.buf, ch.res[j])
			}
		}
		ch.pooledN = len(p.buf)
		if ch.pooledN >= minPooled {
			p.buf2 = grow(p.buf2, ch.pooledN)
			ch.pooledCentre, ch.pooledScale = robustScale(p.buf, p.buf2)
		}
	}
	// Local: the latest residuals of hours whose expected spend was close
	// to this hour's (noise depends on the level: night and weekend hours
	// are relatively noisier than busy ones), widening the band when too
	// few are close.
	for _, band := range [...]float64{1.5, 3} {
		p.buf = p.buf[:0]
		for j := i - 1; j >= max(0, i-scaleDays*24) && len(p.buf) < maxLocal; j-- {
			if math.IsNaN(ch.res[j]) || ch.exp[j] <= 0 || expected <= 0 {
				continue
			}
			if r := ch.exp[j] / expected; r >= 1/band && r <= band {
				p.buf = append(p.buf, ch.res[j])
			}
		}
		if len(p.buf) >= minLocal {
			break
		}
	}
	if len(p.buf) >= minLocal {
		p.buf2 = grow(p.buf2, len(p.buf))
		centre, scale = robustScale(p.buf, p.buf2)
		if ch.pooledN >= minPooled {
			scale = max(scale, 0.5*ch.pooledScale)
		}
		return centre, max(scale, 0.01), len(p.buf)
	}
	if ch.pooledN >= minPooled {
		return ch.pooledCentre, max(ch.pooledScale, 0.01), ch.pooledN
	}
	return 0, 0, 0
}

func grow(b []float64, n int) []float64 {
	if cap(b) < n {
		return make([]float64, n)
	}
	return b[:n]
}
