package alarm

import (
	"context"
	"encoding/json"
	"fmt"
	"log/slog"
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/egress"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/ratelimit"
)

// Query asks a Source for an alarm's datapoints.
type Query struct {
	Account    string
	Namespace  string
	MetricName string
	Dimensions []Dimension
	Statistic  string // SampleCount, Average, Sum, Minimum, Maximum or pNN
	Unit       string // "" = any
	Start      time.Time
	Period     time.Duration
	Count      int
}

// Source reads metric datapoints. Implementations are safe for
// concurrent use.
type Source interface {
	// Datapoints returns q.Count datapoints, oldest first: the statistic
	// over [Start+i*Period, Start+(i+1)*Period), Missing when that period
	// has no samples. A metric that does not exist has only missing ones.
	Datapoints(ctx context.Context, q Query) ([]Datapoint, error)
}

// Notifier is the durable notification outbox webhooks go through (the
// same one budget alerts use). Implementations are safe for concurrent use.
type Notifier interface {
	// Enqueue queues body for delivery to target (a webhook URL).
	// Enqueueing the same key twice delivers once.
	Enqueue(ctx context.Context, key, target, subject, body string) error
}

// Store persists alarms and their history. Implementations are safe for
// concurrent use; their errors are errkind.Internal.
type Store interface {
	// LoadAlarms returns every alarm of every account.
	LoadAlarms(ctx context.Context) ([]Alarm, error)
	// SaveAlarm stores a, replacing the alarm of the same account and
	// name, and appends items, in one transaction.
	SaveAlarm(ctx context.Context, a Alarm, items []HistoryItem) error
	// DeleteAlarms deletes the named alarms of account (names that do not
	// exist are skipped) and appends items, in one transaction.
	DeleteAlarms(ctx context.Context, account string, names []string, items []HistoryItem) error
	// AppendAlarmHistory appends items.
	AppendAlarmHistory(ctx context.Context, items []HistoryItem) error
	// AlarmHistory returns the history items matching q.
	AlarmHistory(ctx context.Context, q HistoryQuery) ([]HistoryItem, error)
	// PruneAlarmHistory deletes items older than before.
	PruneAlarmHistory(ctx context.Context, before time.Time) error
}

// HistoryQuery selects history items.
type HistoryQuery struct {
	Account   string    // "" = every account
	AlarmName string    // "" = every alarm
	Type      string    // "" = every type
	From, To  time.Time // [From, To); zero = unbounded
	Newest    bool      // newest first (else oldest first)
	Offset    int
	Limit     int // 0 = no limit
}

// Config configures a Service.
type Config struct {
	Store  Store
	Source Source
	// Notifier delivers webhook actions; nil logs them only.
	Notifier Notifier
	// Egress checks webhook actions' URLs when an alarm is put. Default
	// nil: the egress defaults, no internal address allowed.
	Egress *egress.Policy
	// Region appears in ARNs and notifications.
	Region string
	// Normalize maps a ModelId dimension value (an ARN, say) to the value
	// calls are counted under; nil keeps it.
	Normalize func(string) string
	// Now is the clock; nil means time.Now.
	Now    func() time.Time
	Logger *slog.Logger
	// MaxAlarms is the most alarms per account. Default 5000.
	MaxAlarms int
}

// Service holds the alarms, evaluates them and runs their actions. Safe
// for concurrent use.
type Service struct {
	cfg  Config
	log  *slog.Logger
	gate *Gate

	writeMu  sync.Mutex // serialises changes and their writes
	evalMu   sync.Mutex
	lastEval time.Time // end of the last evaluated window

	mu     sync.RWMutex
	alarms map[alarmKey]*Alarm // values are never modified once stored

	historyLogged ratelimit.Every // failed history writes, logged once a minute
}

type alarmKey struct{ account, name string }

// NewService loads the alarms.
func NewService(ctx context.Context, cfg Config) (*Service, error) {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Normalize == nil {
		cfg.Normalize = func(s string) string { return s }
	}
	if cfg.MaxAlarms <= 0 {
		cfg.MaxAlarms = 5000
	}
	s := &Service{cfg: cfg, log: cfg.Logger, gate: newGate(), alarms: map[alarmKey]*Alarm{}}
	s.historyLogged.Interval = time.Minute
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	all, err := cfg.Store.LoadAlarms(ctx)
	if err != nil {
		return nil, err
	}
	for i := range all {
		a := all[i]
		s.alarms[alarmKey{a.Account, a.Name}] = &a
	}
	s.refreshGate()
	return s, nil
}

// Reload replaces the alarms in memory by the store's: with several
// replicas on one store, another replica changed them (PutMetricAlarm,
// DeleteAlarms, or a state its evaluator moved).
func (s *Service) Reload(ctx context.Context) error {
	all, err := s.cfg.Store.LoadAlarms(ctx)
	if err != nil {
		return err
	}
	m := make(map[alarmKey]*Alarm, len(all))
	for i := range all {
		a := all[i]
		m[alarmKey{a.Account, a.Name}] = &a
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	s.mu.Lock()
	s.alarms = m
	s.mu.Unlock()
	s.refreshGate()
	return nil
}

// Gate returns the gate enforcing Tollgate actions.
func (s *Service) Gate() *Gate { return s.gate }

func (s *Service) refreshGate() {
	s.mu.RLock()
	list := make([]*Alarm, 0, len(s.alarms))
	for _, a := range s.alarms {
		list = append(list, a)
	}
	s.mu.RUnlock()
	s.gate.set(list, s.cfg.Normalize)
}

func clone(a *Alarm) *Alarm {
	c := *a
	c.Dimensions = slices.Clone(a.Dimensions)
	c.AlarmActions = slices.Clone(a.AlarmActions)
	c.OKActions = slices.Clone(a.OKActions)
	c.InsufficientDataActions = slices.Clone(a.InsufficientDataActions)
	return &c
}

func (s *Service) get(account, name string) *Alarm {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.alarms[alarmKey{account, name}]
}

func (s *Service) put(a *Alarm) {
	s.mu.Lock()
	s.alarms[alarmKey{a.Account, a.Name}] = a
	s.mu.Unlock()
}

// Put creates or replaces an alarm (PutMetricAlarm). A new alarm starts
// in INSUFFICIENT_DATA; replacing one keeps its state until the next
// evaluation.
func (s *Service) Put(ctx context.Context, in Alarm) error {
	if err := in.Validate(); err != nil {
		return err
	}
	if err := in.CheckWebhooks(s.cfg.Egress); err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.cfg.Now().UTC()
	a := clone(&in)
	a.ConfigurationUpdated = now
	old := s.get(in.Account, in.Name)
	summary := fmt.Sprintf("Alarm %q created", a.Name)
	if old != nil {
		a.State, a.StateReason, a.StateReasonData = old.State, old.StateReason, old.StateReasonData
		a.StateUpdated, a.StateTransitioned = old.StateUpdated, old.StateTransitioned
		summary = fmt.Sprintf("Alarm %q updated", a.Name)
	} else {
		if s.count(in.Account) >= s.cfg.MaxAlarms {
			return errkind.New(errkind.QuotaExceeded, "The maximum number of alarms (%d) has been reached.", s.cfg.MaxAlarms)
		}
		a.State, a.StateReason, a.StateUpdated, a.StateTransitioned = StateInsufficientData, "Unchecked: Initial alarm creation", now, now
	}
	data := map[string]any{"version": "1.0", "type": "Create", "createdAlarm": configJSON(a, s.cfg.Region)}
	if old != nil {
		data = map[string]any{"version": "1.0", "type": "Update", "updatedAlarm": configJSON(a, s.cfg.Region),
			"originalAlarm": configJSON(old, s.cfg.Region)}
	}
	item := HistoryItem{Account: a.Account, AlarmName: a.Name, Time: now, Type: HistoryConfigurationUpdate, Summary: summary, Data: mustJSON(data)}
	if err := s.cfg.Store.SaveAlarm(ctx, *a, []HistoryItem{item}); err != nil {
		return err
	}
	s.put(a)
	s.refreshGate()
	return nil
}

func (s *Service) count(account string) int {
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for k := range s.alarms {
		if k.account == account {
			n++
		}
	}
	return n
}

// Filter selects alarms for List.
type Filter struct {
	Names        []string // exact names (any of them)
	Prefix       string
	State        State // "" = any
	ActionPrefix string
}

// List returns the alarms of account matching f, by name.
func (s *Service) List(account string, f Filter) []Alarm {
	s.mu.RLock()
	var out []Alarm
	for k, a := range s.alarms {
		if k.account != account {
			continue
		}
		if len(f.Names) > 0 && !slices.Contains(f.Names, a.Name) {
			continue
		}
		if f.Prefix != "" && !strings.HasPrefix(a.Name, f.Prefix) {
			continue
		}
		if f.State != "" && a.State != f.State {
			continue
		}
		if f.ActionPrefix != "" && !slices.ContainsFunc(slices.Concat(a.AlarmActions, a.OKActions, a.InsufficientDataActions),
			func(s string) bool { return strings.HasPrefix(s, f.ActionPrefix) }) {
			continue
		}
		out = append(out, *clone(a))
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

// All returns every alarm of every account, by account then name.
func (s *Service) All() []Alarm {
	s.mu.RLock()
	out := make([]Alarm, 0, len(s.alarms))
	for _, a := range s.alarms {
		out = append(out, *clone(a))
	}
	s.mu.RUnlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Account != out[j].Account {
			return out[i].Account < out[j].Account
		}
		return out[i].Name < out[j].Name
	})
	return out
}

// Delete deletes the named alarms of account. A name that does not exist
// is a NotFound error and nothing is deleted.
func (s *Service) Delete(ctx context.Context, account string, names []string) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	for _, n := range names {
		if s.get(account, n) == nil {
			return errkind.New(errkind.NotFound, "The alarm %s does not exist.", n)
		}
	}
	now := s.cfg.Now().UTC()
	var items []HistoryItem
	for _, n := range names {
		items = append(items, HistoryItem{Account: account, AlarmName: n, Time: now, Type: HistoryConfigurationUpdate,
			Summary: fmt.Sprintf("Alarm %q deleted", n), Data: mustJSON(map[string]any{"version": "1.0", "type": "Delete"})})
	}
	if err := s.cfg.Store.DeleteAlarms(ctx, account, names, items); err != nil {
		return err
	}
	s.mu.Lock()
	for _, n := range names {
		delete(s.alarms, alarmKey{account, n})
	}
	s.mu.Unlock()
	s.refreshGate()
	return nil
}

// SetActionsEnabled enables or disables the actions of the named alarms
// of account; names that do not exist are skipped.
func (s *Service) SetActionsEnabled(ctx context.Context, account string, names []string, enabled bool) error {
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	now := s.cfg.Now().UTC()
	for _, n := range names {
		old := s.get(account, n)
		if old == nil || old.ActionsEnabled == enabled {
			continue
		}
		a := clone(old)
		a.ActionsEnabled, a.ConfigurationUpdated = enabled, now
		verb := "disabled"
		if enabled {
			verb = "enabled"
		}
		item := HistoryItem{Account: account, AlarmName: n, Time: now, Type: HistoryConfigurationUpdate,
			Summary: fmt.Sprintf("Alarm actions %s", verb),
			Data:    mustJSON(map[string]any{"version": "1.0", "type": "Update", "updatedAlarm": configJSON(a, s.cfg.Region), "originalAlarm": configJSON(old, s.cfg.Region)})}
		if err := s.cfg.Store.SaveAlarm(ctx, *a, []HistoryItem{item}); err != nil {
			return err
		}
		s.put(a)
	}
	s.refreshGate()
	return nil
}

// SetState sets an alarm's state until its next evaluation
// (SetAlarmState), running the new state's actions on a change.
func (s *Service) SetState(ctx context.Context, account, name string, state State, reason, reasonData string) error {
	if !state.Valid() {
		return errkind.New(errkind.Invalid, "StateValue must be OK, ALARM or INSUFFICIENT_DATA.")
	}
	if reason == "" || len(reason) > 1023 {
		return errkind.New(errkind.Invalid, "StateReason must be 1 to 1023 characters.")
	}
	if reasonData != "" && (len(reasonData) > 4000 || !json.Valid([]byte(reasonData))) {
		return errkind.New(errkind.Invalid, "StateReasonData must be a JSON document of at most 4000 characters.").WithCode("InvalidFormatFault")
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	old := s.get(account, name)
	if old == nil {
		return errkind.New(errkind.NotFound, "The alarm %s does not exist.", name)
	}
	return s.transition(ctx, old, state, reason, reasonData, s.cfg.Now().UTC())
}

// Run evaluates the alarms every interval (CloudWatch evaluates every
// minute; a shorter interval only evaluates each minute once, sooner after
// it ends) and prunes old history every hour, until ctx is done.
func (s *Service) Run(ctx context.Context, interval time.Duration) {
	t := time.NewTicker(interval)
	defer t.Stop()
	var pruned time.Time
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := s.cfg.Now()
		_ = s.Evaluate(ctx, now) // failures are logged per alarm
		if now.Sub(pruned) >= time.Hour {
			if err := s.PruneHistory(ctx); err != nil {
				s.log.Error("alarm_history_prune_failed", "err", err.Error())
			} else {
				pruned = now
			}
		}
	}
}

// History returns history items (DescribeAlarmHistory).
func (s *Service) History(ctx context.Context, q HistoryQuery) ([]HistoryItem, error) {
	return s.cfg.Store.AlarmHistory(ctx, q)
}

// PruneHistory deletes history older than HistoryRetention.
func (s *Service) PruneHistory(ctx context.Context) error {
	return s.cfg.Store.PruneAlarmHistory(ctx, s.cfg.Now().UTC().Add(-HistoryRetention))
}

// Evaluate evaluates every alarm over the windows that end at now's
// minute, as CloudWatch does every minute, and runs the actions of each
// transition. Evaluation time only moves forward: a call whose minute is
// not after the last evaluated one does nothing.
func (s *Service) Evaluate(ctx context.Context, now time.Time) error {
	s.evalMu.Lock()
	defer s.evalMu.Unlock()
	end := now.UTC().Truncate(time.Minute)
	if !end.After(s.lastEval) {
		return nil
	}
	s.lastEval = end
	var errs []error
	for _, a := range s.All() {
		if err := s.evaluate(ctx, &a, end, now.UTC()); err != nil {
			s.log.Error("alarm_evaluation_failed", "account", a.Account, "alarm", a.Name, "err", err.Error())
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return errs[0]
	}
	return nil
}

func (s *Service) evaluate(ctx context.Context, a *Alarm, end, now time.Time) error {
	r := EvaluationRange(a.EvaluationPeriods)
	q := Query{Account: a.Account, Namespace: a.Namespace, MetricName: a.MetricName, Dimensions: a.Dimensions,
		Statistic: a.Stat(), Unit: a.Unit, Start: end.Add(-time.Duration(r) * a.Period), Period: a.Period, Count: r}
	points, err := s.cfg.Source.Datapoints(ctx, q)
	if err != nil {
		return err
	}
	s.writeMu.Lock()
	defer s.writeMu.Unlock()
	cur := s.get(a.Account, a.Name)
	if cur == nil || !cur.ConfigurationUpdated.Equal(a.ConfigurationUpdated) {
		return nil // deleted or changed meanwhile; the next tick sees it
	}
	res := Evaluate(points, cur.rule(), cur.State)
	if res.State == "" || res.State == cur.State {
		return nil
	}
	reason, data := explain(cur, res, q, now)
	return s.transition(ctx, cur, res.State, reason, data, now)
}

// transition moves old to state, records it and runs the actions.
// writeMu held.
func (s *Service) transition(ctx context.Context, old *Alarm, state State, reason, reasonData string, now time.Time) error {
	a := clone(old)
	a.State, a.StateReason, a.StateReasonData, a.StateUpdated = state, reason, reasonData, now
	if state != old.State {
		a.StateTransitioned = now
	}
	hist := map[string]any{"version": "1.0",
		"oldState": stateJSON(old.State, old.StateReason, old.StateReasonData),
		"newState": stateJSON(state, reason, reasonData)}
	items := []HistoryItem{{Account: a.Account, AlarmName: a.Name, Time: now, Type: HistoryStateUpdate,
		Summary: fmt.Sprintf("Alarm updated from %s to %s", old.State, state), Data: mustJSON(hist)}}
	type webhook struct{ key, target string }
	var hooks []webhook
	if a.ActionsEnabled && state != old.State {
		for _, s := range a.Actions(state) {
			act, err := ParseAction(s)
			item := HistoryItem{Account: a.Account, AlarmName: a.Name, Time: now, Type: HistoryAction}
			switch {
			case err != nil || act.Kind == ActionOther:
				item.Summary = fmt.Sprintf("Failed to execute action %s. Received error: Tollgate runs webhook and tollgate: actions only", s)
				item.Data = mustJSON(map[string]any{"actionState": "Failed", "notificationResource": s, "stateUpdateTimestamp": now.UnixMilli()})
			case act.Kind == ActionWebhook:
				key := fmt.Sprintf("alarm:%s:%s:%d:%s", a.Account, a.Name, now.UnixMilli(), s)
				hooks = append(hooks, webhook{key, s})
				item.Summary = fmt.Sprintf("Successfully queued action %s", s)
				item.Data = mustJSON(map[string]any{"actionState": "Succeeded", "notificationResource": s, "stateUpdateTimestamp": now.UnixMilli()})
			default:
				item.Summary = fmt.Sprintf("Successfully executed action %s", s)
				item.Data = mustJSON(map[string]any{"actionState": "Succeeded", "notificationResource": s, "stateUpdateTimestamp": now.UnixMilli()})
			}
			items = append(items, item)
		}
	}
	if err := s.cfg.Store.SaveAlarm(ctx, *a, items); err != nil {
		return err
	}
	s.put(a)
	s.refreshGate()
	s.log.Info("alarm_state_changed", "account", a.Account, "alarm", a.Name, "from", string(old.State), "to", string(state))
	if len(hooks) == 0 {
		return nil
	}
	subject := fmt.Sprintf("%s: %q in %s", state, a.Name, s.cfg.Region)
	body := mustJSON(notification(old, a, s.cfg.Region, now))
	for _, h := range hooks {
		if s.cfg.Notifier == nil {
			s.log.Warn("alarm_webhook_not_sent", "alarm", a.Name, "target", h.target, "reason", "no notifier")
			continue
		}
		if err := s.cfg.Notifier.Enqueue(context.WithoutCancel(ctx), h.key, h.target, subject, body); err != nil {
			s.log.Error("alarm_webhook_enqueue_failed", "alarm", a.Name, "target", h.target, "err", err.Error())
			if herr := s.cfg.Store.AppendAlarmHistory(ctx, []HistoryItem{{Account: a.Account, AlarmName: a.Name, Time: now, Type: HistoryAction,
				Summary: fmt.Sprintf("Failed to execute action %s. Received error: %v", h.target, errkind.As(err).Message),
				Data:    mustJSON(map[string]any{"actionState": "Failed", "notificationResource": h.target, "stateUpdateTimestamp": now.UnixMilli()})}}); herr != nil {
				if ok, suppressed := s.historyLogged.Allow(now); ok {
					s.log.Error("alarm_history_write_failed", "account", a.Account, "alarm", a.Name, "suppressed", suppressed, "err", herr.Error())
				}
			}
		}
	}
	return nil
}

func stateJSON(st State, reason, data string) map[string]any {
	m := map[string]any{"stateValue": string(st), "stateReason": reason}
	if data != "" {
		var v any
		if json.Unmarshal([]byte(data), &v) == nil {
			m["stateReasonData"] = v
		}
	}
	return m
}

// explain writes the state reason and reason data of an evaluation, in
// CloudWatch's words.
func explain(a *Alarm, res Result, q Query, now time.Time) (string, string) {
	var vals []string
	var recent []float64
	type evaluated struct {
		Timestamp   string   `json:"timestamp"`
		SampleCount *float64 `json:"sampleCount,omitempty"`
		Value       *float64 `json:"value,omitempty"`
	}
	var ev []evaluated
	for i := len(res.Evaluated) - 1; i >= 0; i-- { // newest first, as CloudWatch lists them
		p := res.Evaluated[i]
		ts := p.Start.UTC().Format("02/01/06 15:04:05")
		e := evaluated{Timestamp: p.Start.UTC().Format("2006-01-02T15:04:05.000+0000")}
		if p.Missing {
			vals = append(vals, "missing ("+ts+")")
		} else {
			v, n := p.Value, float64(p.Samples)
			vals = append(vals, fmt.Sprintf("%s (%s)", formatFloat(v), ts))
			recent = append(recent, v)
			e.Value, e.SampleCount = &v, &n
		}
		ev = append(ev, e)
	}
	op := map[string]string{GreaterThanOrEqualToThreshold: "greater than or equal to", GreaterThanThreshold: "greater than",
		LessThanThreshold: "less than", LessThanOrEqualToThreshold: "less than or equal to"}[a.ComparisonOperator]
	var reason string
	switch {
	case res.State == StateInsufficientData && len(recent) == 0:
		reason = fmt.Sprintf("Insufficient Data: %d datapoints were unknown.", len(res.Evaluated))
	case res.State == StateInsufficientData:
		reason = fmt.Sprintf("Insufficient Data: %d of the last %d datapoints were breaching, which is fewer than the %d needed, and the others were unknown [%s].",
			res.Breaching, len(res.Evaluated), a.M(), strings.Join(vals, ", "))
	default:
		was := "were"
		if res.Breaching == 1 {
			was = "was"
		}
		reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s) (minimum %d datapoint%s for %s transition).",
			res.Breaching, len(res.Evaluated), strings.Join(vals, ", "), was, op, formatFloat(a.Threshold), a.M(), plural(a.M()), res.State)
		if res.State == StateOK {
			reason = fmt.Sprintf("Threshold Crossed: %d out of the last %d datapoints [%s] %s %s the threshold (%s), fewer than the %d needed for ALARM.",
				res.Breaching, len(res.Evaluated), strings.Join(vals, ", "), was, op, formatFloat(a.Threshold), a.M())
		}
		switch {
		case res.Premature:
			reason += " The alarm went to ALARM before DatapointsToAlarm datapoints arrived: the oldest breaching datapoint is at least DatapointsToAlarm periods old and no newer one is below the threshold."
		case len(recent) < len(res.Evaluated) && a.Treat() == TreatBreaching:
			reason += " Missing datapoints were treated as breaching."
		case len(recent) < len(res.Evaluated) && a.Treat() == TreatNotBreaching:
			reason += " Missing datapoints were treated as not breaching."
		}
	}
	data := map[string]any{"version": "1.0", "queryDate": now.Format("2006-01-02T15:04:05.000+0000"),
		"startDate": q.Start.UTC().Format("2006-01-02T15:04:05.000+0000"), "statistic": q.Statistic,
		"period": int64(q.Period / time.Second), "recentDatapoints": nonNil(recent), "threshold": a.Threshold,
		"evaluatedDatapoints": ev}
	if a.Unit != "" {
		data["unit"] = a.Unit
	}
	return reason, mustJSON(data)
}

func nonNil(v []float64) []float64 {
	if v == nil {
		return []float64{}
	}
	return v
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}

func formatFloat(v float64) string {
	if v == math.Trunc(v) && math.Abs(v) < 1e15 {
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%g", v)
}

func configJSON(a *Alarm, region string) map[string]any {
	dims := make([]map[string]string, 0, len(a.Dimensions))
	for _, d := range a.Dimensions {
		dims = append(dims, map[string]string{"name": d.Name, "value": d.Value})
	}
	m := map[string]any{"alarmName": a.Name, "alarmArn": a.ARN(region), "namespace": a.Namespace, "metricName": a.MetricName,
		"dimensions": dims, "period": int64(a.Period / time.Second), "evaluationPeriods": a.EvaluationPeriods,
		"datapointsToAlarm": a.M(), "threshold": a.Threshold, "comparisonOperator": a.ComparisonOperator,
		"treatMissingData": a.Treat(), "actionsEnabled": a.ActionsEnabled,
		"alarmActions": nonNilS(a.AlarmActions), "okActions": nonNilS(a.OKActions), "insufficientDataActions": nonNilS(a.InsufficientDataActions)}
	if a.Statistic != "" {
		m["statistic"] = a.Statistic
	} else {
		m["extendedStatistic"] = a.ExtendedStatistic
	}
	if a.Description != "" {
		m["alarmDescription"] = a.Description
	}
	return m
}

func nonNilS(v []string) []string {
	if v == nil {
		return []string{}
	}
	return v
}

// notification is the webhook body: the message CloudWatch publishes to
// SNS for an alarm state change.
func notification(old, a *Alarm, region string, now time.Time) map[string]any {
	dims := make([]map[string]string, 0, len(a.Dimensions))
	for _, d := range a.Dimensions {
		dims = append(dims, map[string]string{"value": d.Value, "name": d.Name})
	}
	trigger := map[string]any{"MetricName": a.MetricName, "Namespace": a.Namespace, "Unit": nil,
		"Dimensions": dims, "Period": int64(a.Period / time.Second), "EvaluationPeriods": a.EvaluationPeriods,
		"DatapointsToAlarm": a.M(), "ComparisonOperator": a.ComparisonOperator, "Threshold": a.Threshold,
		"TreatMissingData": a.Treat(), "EvaluateLowSampleCountPercentile": a.EvaluateLowSampleCountPercentile}
	if a.Unit != "" {
		trigger["Unit"] = a.Unit
	}
	if a.Statistic != "" {
		trigger["StatisticType"], trigger["Statistic"] = "Statistic", strings.ToUpper(a.Statistic)
	} else {
		trigger["StatisticType"], trigger["ExtendedStatistic"] = "ExtendedStatistic", a.ExtendedStatistic
	}
	var desc any
	if a.Description != "" {
		desc = a.Description
	}
	return map[string]any{"AlarmName": a.Name, "AlarmDescription": desc, "AWSAccountId": a.Account,
		"AlarmConfigurationUpdatedTimestamp": a.ConfigurationUpdated.Format("2006-01-02T15:04:05.000+0000"),
		"NewStateValue":                      string(a.State), "NewStateReason": a.StateReason,
		"StateChangeTime": now.Format("2006-01-02T15:04:05.000+0000"), "Region": region, "AlarmArn": a.ARN(region),
		"OldStateValue": string(old.State), "OKActions": nonNilS(a.OKActions), "AlarmActions": nonNilS(a.AlarmActions),
		"InsufficientDataActions": nonNilS(a.InsufficientDataActions), "Trigger": trigger}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return "{}"
	}
	return string(b)
}
