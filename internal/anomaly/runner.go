package anomaly

import (
	"context"
	"errors"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/notify"
)

// RunnerConfig configures a Runner. Store and Source are required.
type RunnerConfig struct {
	Store  Store
	Source Source
	// Names names usage types in root causes. Default: model ids only.
	Names *costquery.Namer
	// Management is the account whose monitors watch every account's
	// spend (the organisation's management account); other accounts'
	// monitors watch their own. "" means every monitor watches its
	// owner's spend only.
	Management string
	// Notifier sends alerts. nil logs them instead.
	Notifier Notifier
	// Logger logs evaluation failures and, without a Notifier, alerts.
	// Default: discard.
	Logger *slog.Logger
	// Now is the clock. Default time.Now.
	Now func() time.Time
	// Detector tunes the detector.
	Detector DetectorConfig
	// Backfill is how far before its first evaluation a new monitor's
	// hours are judged. Default 24h.
	Backfill time.Duration
	// MaxCatchUp bounds how far back a monitor not evaluated for long
	// (Tollgate was down) is judged. Default 7 days.
	MaxCatchUp time.Duration
	// Interval is how often Run evaluates: complete hours at each hour
	// boundary, the running hour at the others. Default 5 minutes; it
	// should divide an hour.
	Interval time.Duration
	// DetailsLink, when set, is the prefix of the anomalyDetailsLink
	// alerts carry (the anomaly id is appended).
	DetailsLink string
}

// Runner evaluates every monitor continuously: at each hour boundary it
// judges the hours completed since the monitor's last evaluation, and
// every Interval it judges the running hour from its spend so far (an
// hour a quarter done or more). It stores the anomalies found, sends
// IMMEDIATE alerts as they are found or grow, and DAILY and WEEKLY
// summaries after each day and week (UTC; weeks start on Monday).
// Evaluations are idempotent — anomaly ids derive from monitor, value
// and first hour, alert keys from anomaly and day — so a restart or a
// second replica repeats work but not alerts. Safe for concurrent use;
// evaluations run one at a time.
type Runner struct {
	cfg RunnerConfig
	det *Detector
	log *slog.Logger

	mu    sync.Mutex
	state map[string]*monitorState // by monitor ARN: forecasts for the running hour
	sent  map[string]time.Time     // message keys sent, and when
}

// monitorState is what the last full evaluation of a monitor left for
// the checks of the running hour.
type monitorState struct {
	hour    time.Time           // the running hour
	next    map[string]Forecast // by value
	covered map[string]bool     // values whose anomaly already reaches the running hour
}

// NewRunner returns a Runner; call Run (or Evaluate) to evaluate.
func NewRunner(cfg RunnerConfig) *Runner {
	if cfg.Names == nil {
		cfg.Names = costquery.NewNamer(nil)
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Backfill <= 0 {
		cfg.Backfill = 24 * time.Hour
	}
	if cfg.MaxCatchUp <= 0 {
		cfg.MaxCatchUp = 7 * 24 * time.Hour
	}
	if cfg.Interval <= 0 {
		cfg.Interval = 5 * time.Minute
	}
	return &Runner{cfg: cfg, det: NewDetector(cfg.Detector), log: cfg.Logger,
		state: map[string]*monitorState{}, sent: map[string]time.Time{}}
}

// Detector returns the runner's detector.
func (r *Runner) Detector() *Detector { return r.det }

// Run evaluates at once and then at every Interval boundary of the clock
// until ctx is done.
func (r *Runner) Run(ctx context.Context) {
	for {
		if err := r.Evaluate(ctx); err != nil && ctx.Err() == nil {
			r.log.Error("anomaly_evaluation_failed", "err", err.Error())
		}
		now := r.cfg.Now()
		// A second past the boundary, so the hour's last calls are in.
		next := now.Truncate(r.cfg.Interval).Add(r.cfg.Interval + time.Second)
		t := time.NewTimer(next.Sub(now))
		select {
		case <-ctx.Done():
			t.Stop()
			return
		case <-t.C:
		}
	}
}

// Evaluate evaluates every monitor at the clock's time, then sends the
// summaries that are due.
func (r *Runner) Evaluate(ctx context.Context) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	now := r.cfg.Now().UTC()
	mons, err := r.cfg.Store.AnomalyMonitors(ctx, "")
	if err != nil {
		return err
	}
	subs, err := r.cfg.Store.AnomalySubscriptions(ctx, "")
	if err != nil {
		return err
	}
	live := map[string]bool{}
	rd := &reader{src: r.cfg.Source}
	var errs []error
	for _, m := range mons {
		live[m.ARN] = true
		if err := r.evaluateMonitor(ctx, m, subs, now, rd); err != nil {
			if ctx.Err() != nil {
				return ctx.Err()
			}
			r.log.Error("anomaly_monitor_evaluation_failed", "monitor", m.ARN, "err", err.Error())
			errs = append(errs, err)
		}
	}
	for arn := range r.state {
		if !live[arn] {
			delete(r.state, arn)
		}
	}
	if err := r.summaries(ctx, mons, subs, now); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// scope returns the accounts whose spend m watches (nil: all).
func (r *Runner) scope(m Monitor) []string {
	if r.cfg.Management != "" && m.Account == r.cfg.Management {
		return nil
	}
	return []string{m.Account}
}

// reader reads rollups for one evaluation, reusing a read of the same
// accounts that covers the range asked for.
type reader struct {
	src   Source
	reads []readCache
}

type readCache struct {
	key      string
	from, to time.Time
	rolls    []ledger.Rollup
}

func (rd *reader) read(ctx context.Context, accounts []string, from, to time.Time) ([]ledger.Rollup, error) {
	key := "\x00*"
	if accounts != nil {
		key = strings.Join(accounts, "\x00")
	}
	for _, c := range rd.reads {
		if c.key == key && !from.Before(c.from) && !to.After(c.to) {
			lo, _ := slices.BinarySearchFunc(c.rolls, from, func(r ledger.Rollup, t time.Time) int { return r.Hour.Compare(t) })
			hi, _ := slices.BinarySearchFunc(c.rolls, to, func(r ledger.Rollup, t time.Time) int { return r.Hour.Compare(t) })
			return c.rolls[lo:hi:hi], nil
		}
	}
	rolls, err := rd.src.CostRollups(ctx, accounts, from, to)
	if err != nil {
		return nil, err
	}
	rd.reads = append(rd.reads, readCache{key: key, from: from, to: to, rolls: rolls})
	return rolls, nil
}

// evaluateMonitor judges m at now: a full evaluation when hours have
// completed since the last one (or nothing is cached), else a check of
// the running hour, which turns into a full evaluation when a value is
// anomalous.
func (r *Runner) evaluateMonitor(ctx context.Context, m Monitor, subs []Subscription, now time.Time, rd *reader) error {
	hour := now.Truncate(time.Hour)
	st := r.state[m.ARN]
	if st == nil || !st.hour.Equal(hour) || m.LastEvaluated.Before(hour) {
		return r.full(ctx, m, subs, now, rd)
	}
	rolls, err := rd.read(ctx, r.scope(m), hour, hour.Add(time.Hour))
	if err != nil {
		return err
	}
	frac := now.Sub(hour).Hours()
	for _, s := range buildSeries(m, rolls, hour, hour) {
		if st.covered[s.value] {
			return r.full(ctx, m, subs, now, rd)
		}
		if f, ok := st.next[s.value]; ok {
			if _, hot := f.Partial(dollars(s.partial), frac); hot {
				return r.full(ctx, m, subs, now, rd)
			}
		}
	}
	return nil
}

// full evaluates m from its last evaluation to now, and the running hour.
func (r *Runner) full(ctx context.Context, m Monitor, subs []Subscription, now time.Time, rd *reader) error {
	hour := now.Truncate(time.Hour)
	w := m.LastEvaluated
	if w.IsZero() {
		w = hour.Add(-r.cfg.Backfill)
	}
	if oldest := hour.Add(-r.cfg.MaxCatchUp); w.Before(oldest) {
		w = oldest
	}
	if w = w.Truncate(time.Hour); w.After(hour) {
		w = hour
	}
	start := w.Add(-HistoryHours * time.Hour)
	rolls, err := rd.read(ctx, r.scope(m), start, hour.Add(time.Hour))
	if err != nil {
		return err
	}
	stored, err := r.cfg.Store.Anomalies(ctx, AnomalyFilter{MonitorARN: m.ARN, EndFrom: start})
	if err != nil {
		return err
	}
	byValue := map[string][]Anomaly{}
	for _, a := range stored {
		byValue[a.DimensionValue] = append(byValue[a.DimensionValue], a)
	}
	series := buildSeries(m, rolls, start, hour)
	st := &monitorState{hour: hour, next: map[string]Forecast{}, covered: map[string]bool{}}
	frac := now.Sub(hour).Hours()
	var changed []Anomaly
	for _, s := range series {
		found, next, covered := r.judge(m, s, byValue[s.value], start, w, hour, frac, now)
		st.next[s.value] = next
		st.covered[s.value] = covered
		for _, a := range found {
			a.RootCauses = rootCauses(m, s.value, a, rolls, r.cfg.Names)
			if i := slices.IndexFunc(byValue[s.value], func(o Anomaly) bool { return o.ID == a.ID }); i >= 0 && same(byValue[s.value][i], a) {
				continue
			}
			changed = append(changed, a)
		}
	}
	if err := r.cfg.Store.PutAnomalies(ctx, changed); err != nil {
		return err
	}
	if err := r.cfg.Store.SetAnomalyMonitorEvaluated(ctx, m.ARN, hour, len(series)); err != nil {
		return err
	}
	r.state[m.ARN] = st
	return r.alert(ctx, m, subs, changed)
}

// same reports whether an evaluation left a stored anomaly as it was.
func same(old, a Anomaly) bool {
	return old.Start.Equal(a.Start) && old.End.Equal(a.End) && old.Open == a.Open && old.Adapted == a.Adapted &&
		old.Actual == a.Actual && old.Expected == a.Expected && old.MaxImpact == a.MaxImpact &&
		old.MaxScore == a.MaxScore && old.CurrentScore == a.CurrentScore && slices.Equal(old.RootCauses, a.RootCauses)
}

// judge runs the detector over one value's series and returns the
// anomalies its evaluation created or changed (without root causes), the
// forecast of the running hour, and whether an anomaly reaches the
// running hour.
func (r *Runner) judge(m Monitor, s *valueSeries, stored []Anomaly, start, w, hour time.Time, frac float64, now time.Time) ([]Anomaly, Forecast, bool) {
	n := len(s.hours)
	wIdx := int(w.Sub(start) / time.Hour)
	idx := func(t time.Time) int { return int(t.Sub(start) / time.Hour) }
	labels := make([]Label, n)
	for i := range wIdx {
		labels[i] = Normal
	}
	coverNow := false
	for _, a := range stored {
		lab := Outlier
		if a.Adapted || a.Feedback == FeedbackNo || a.Feedback == FeedbackPlanned {
			lab = Adopted
		} else if a.End.Equal(hour) {
			coverNow = true
		}
		for i := max(0, idx(a.Start)); i <= min(n-1, idx(a.End)); i++ {
			labels[i] = lab
		}
	}
	values := make([]float64, n)
	for i, v := range s.hours {
		values[i] = dollars(v)
	}
	res := r.det.Run(start, values, labels)
	gap := r.det.cfg.MergeGap

	// overlapping returns the stored anomaly an episode continues.
	overlapping := func(from, to time.Time) *Anomaly {
		var best *Anomaly
		for i := range stored {
			a := &stored[i]
			if !a.Start.After(to) && !a.End.Before(from) && (best == nil || a.Start.Before(best.Start)) {
				best = a
			}
		}
		return best
	}
	var out []Anomaly
	var openIdx = -1 // index in out of an anomaly the running hour may extend
	for _, ep := range res.Episodes {
		from, to := start.Add(time.Duration(ep.Start)*time.Hour), start.Add(time.Duration(ep.End)*time.Hour)
		old := overlapping(from, to)
		if ep.End < wIdx && (old == nil || !old.Open) {
			continue // judged before and settled
		}
		a := Anomaly{
			ID: anomalyID(m.ARN, s.value, from), Account: m.Account, MonitorARN: m.ARN, DimensionValue: s.value,
			Start: from, End: to, Open: ep.Open, Adapted: ep.Adapted, MaxScore: ep.MaxScore,
			CurrentScore: res.Points[ep.End].Score, DetectedAt: now, UpdatedAt: now,
		}
		for i := ep.Start; i <= ep.End; i++ {
			exp := nanos(res.Points[i].Expected)
			a.Actual += s.hours[i]
			a.Expected += exp
			a.MaxImpact = max(a.MaxImpact, s.hours[i]-exp)
		}
		if old != nil {
			a.ID, a.Feedback, a.DetectedAt = old.ID, old.Feedback, old.DetectedAt
			a.MaxScore = max(a.MaxScore, old.MaxScore)
		}
		out = append(out, a)
		if ep.Open {
			openIdx = len(out) - 1
		}
	}
	// Open anomalies the detector now takes as a level (feedback NO or
	// PLANNED_ACTIVITY) grow no more.
	for _, old := range stored {
		if old.Open && (old.Feedback == FeedbackNo || old.Feedback == FeedbackPlanned) {
			old.Open, old.UpdatedAt = false, now
			out = append(out, old)
		}
	}
	// The running hour.
	next := res.Next
	score, hot := next.Partial(dollars(s.partial), frac)
	if !hot && !coverNow {
		return out, next, false
	}
	var a *Anomaly
	if openIdx >= 0 && !hour.After(out[openIdx].End.Add(time.Duration(gap+1)*time.Hour)) {
		a = &out[openIdx]
	} else if old := overlapping(hour, hour); old != nil {
		// Only the running hour was anomalous so far: rebuild it.
		out = append(out, Anomaly{ID: old.ID, Account: m.Account, MonitorARN: m.ARN, DimensionValue: s.value,
			Start: hour, End: hour, Feedback: old.Feedback, DetectedAt: old.DetectedAt, MaxScore: old.MaxScore})
		a = &out[len(out)-1]
	} else {
		out = append(out, Anomaly{ID: anomalyID(m.ARN, s.value, hour), Account: m.Account, MonitorARN: m.ARN,
			DimensionValue: s.value, Start: hour, End: hour, DetectedAt: now})
		a = &out[len(out)-1]
	}
	exp := nanos(next.Expected * frac)
	a.End, a.Open, a.UpdatedAt = hour, true, now
	a.Actual += s.partial
	a.Expected += exp
	a.MaxImpact = max(a.MaxImpact, s.partial-exp)
	a.MaxScore, a.CurrentScore = max(a.MaxScore, score), score
	return out, next, true
}

// alert sends the IMMEDIATE alerts of anomalies m's evaluation created or
// changed.
func (r *Runner) alert(ctx context.Context, m Monitor, subs []Subscription, changed []Anomaly) error {
	if len(changed) == 0 {
		return nil
	}
	var msgs []notify.Message
	for _, sub := range subs {
		if sub.Frequency != Immediate || sub.Account != m.Account || !slices.Contains(sub.MonitorARNs, m.ARN) {
			continue
		}
		for _, a := range changed {
			if a.Feedback == FeedbackNo || a.Feedback == FeedbackPlanned || !sub.Threshold.Match(a) {
				continue
			}
			msgs = append(msgs, alertMessages(sub, a, m.Name, r.cfg.DetailsLink)...)
		}
	}
	return r.send(ctx, msgs)
}

// summaries sends the DAILY summaries of the day before now and, on
// Mondays, the WEEKLY ones of the week before, to subscriptions that
// existed when the period ended. A period without anomalies above the
// threshold sends nothing.
func (r *Runner) summaries(ctx context.Context, mons []Monitor, subs []Subscription, now time.Time) error {
	day := now.Truncate(24 * time.Hour)
	monday := day.AddDate(0, 0, -((int(day.Weekday()) + 6) % 7))
	names := map[string]string{}
	for _, m := range mons {
		names[m.ARN] = m.Name
	}
	var msgs []notify.Message
	for _, sub := range subs {
		var from, to time.Time
		switch sub.Frequency {
		case Daily:
			from, to = day.AddDate(0, 0, -1), day
		case Weekly:
			from, to = monday.AddDate(0, 0, -7), monday
		default:
			continue
		}
		if !sub.CreatedAt.Before(to) {
			continue
		}
		var picked []Anomaly
		for _, arn := range sub.MonitorARNs {
			as, err := r.cfg.Store.Anomalies(ctx, AnomalyFilter{Account: sub.Account, MonitorARN: arn, EndFrom: from, EndTo: to})
			if err != nil {
				return err
			}
			for _, a := range as {
				if a.Feedback != FeedbackNo && a.Feedback != FeedbackPlanned && sub.Threshold.Match(a) {
					picked = append(picked, a)
				}
			}
		}
		if len(picked) > 0 {
			msgs = append(msgs, summaryMessages(sub, from, to, picked, names, r.cfg.DetailsLink)...)
		}
	}
	return r.send(ctx, msgs)
}

func (r *Runner) send(ctx context.Context, msgs []notify.Message) error {
	now := r.cfg.Now()
	for _, msg := range msgs {
		if _, done := r.sent[msg.Key]; done {
			continue // enqueued (or logged) already: the outbox would drop it
		}
		if r.cfg.Notifier == nil {
			r.log.Info("anomaly_alert", "key", msg.Key, "kind", msg.Kind, "target", msg.Target, "subject", msg.Subject)
		} else if err := r.cfg.Notifier.Enqueue(ctx, msg); err != nil {
			return err
		}
		r.sent[msg.Key] = now
	}
	// Keys stop recurring once their day or week is over.
	for k, at := range r.sent {
		if now.Sub(at) > 8*24*time.Hour {
			delete(r.sent, k)
		}
	}
	return nil
}
