package budget

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/notify"
)

// Alerts.
//
// After a call settles, its budgets are marked and the evaluator (Run)
// looks at them within moments; every EvalInterval it looks at all
// budgets, since forecasts move with time. For each notification it
// compares the actual spend (ACTUAL) or the forecast (FORECASTED) with the
// threshold:
//   - an ACTUAL notification fires the first time its condition holds in a
//     period, and not again in that period;
//   - a FORECASTED notification fires when its condition starts to hold,
//     and again if the forecast leaves the condition and comes back.
//
// Each firing enqueues one message per subscriber, with an idempotency key
// naming the budget, the notification, the period and the firing number,
// before the alert state is stored: a crash between the two re-enqueues
// the same keys (which the outbox ignores) and stores the state then. An
// action coming into force in a period is announced to its subscribers
// the same way, once per period.

// Message kinds.
const (
	KindAlert  = "budget.alert"
	KindAction = "budget.action"
)

func (s *Service) evaluate(ctx context.Context, dirtyOnly bool) {
	s.eval.Lock()
	defer s.eval.Unlock()
	now := s.cfg.Now()
	var states []*state
	if dirtyOnly {
		states = s.takeDirty()
	} else {
		states = s.snapshot()
	}
	if !dirtyOnly {
		// Refresh the day's histories of budgets with forecast alerts in
		// one read of the ledger.
		today := now.UTC().Truncate(24 * time.Hour)
		var stale []*state
		for _, st := range states {
			if h := st.fc.Load(); hasForecastAlert(st.b) && (h == nil || !h.day.Equal(today)) {
				stale = append(stale, st)
			}
		}
		if len(stale) > 0 {
			if err := s.loadHistory(ctx, stale, today); err != nil {
				s.log.Error("budget_history_failed", "err", err.Error())
			}
		}
	}
	var refusals map[actionKey]int64
	for _, st := range states {
		if ctx.Err() != nil {
			return
		}
		if !st.dirt.Swap(false) && dirtyOnly {
			continue
		}
		if refusals == nil && len(st.b.Actions) > 0 {
			refusals = s.fleetRefusals(ctx, states, now)
		}
		s.evaluateOne(ctx, st, now, refusals, !dirtyOnly)
	}
}

func hasForecastAlert(b *Budget) bool {
	for _, n := range b.Notifications {
		if n.Type == Forecasted {
			return true
		}
	}
	return false
}

func (s *Service) evaluateOne(ctx context.Context, st *state, now time.Time, refusals map[actionKey]int64, sample bool) {
	b := st.b
	if len(b.Notifications) == 0 && len(b.Actions) == 0 {
		return
	}
	p, ok := b.PeriodAt(now)
	lim := st.current(now)
	if !ok || lim == nil {
		return
	}
	actual := st.ctr.spent.Load()
	var fc int64
	var fok bool
	if hasForecastAlert(b) {
		if h := s.history(ctx, st, now); h != nil {
			fc, _, fok = Forecast(actual, h.daily, now, p)
		}
	}
	for _, n := range b.Notifications {
		thr := ThresholdUnits(lim.limit, n.Threshold, n.ThresholdType, b.Type)
		v := actual
		if n.Type == Forecasted {
			if !fok {
				continue
			}
			v = fc
		}
		cond := n.Comparison.Holds(v, thr)
		k := alertKey{b.Account, b.Name, n.Key(), p.Start.Unix()}
		s.amu.Lock()
		cur := s.alerts[k]
		s.amu.Unlock()
		switch {
		case cond && !cur.Alarm:
			a := alert{b: b, p: p, n: n, limit: lim.limit, threshold: thr, actual: actual, forecast: fc, hasForecast: fok, seq: cur.Fired}
			if err := s.send(ctx, a, n.Subscribers); err != nil {
				s.log.Error("budget_alert_failed", "account", b.Account, "budget", b.Name, "alert", n.Key(), "err", err.Error())
				continue
			}
			s.setAlert(ctx, k, true, cur.Fired+1, now)
		case !cond && cur.Alarm && n.Type == Forecasted:
			s.setAlert(ctx, k, false, cur.Fired, now)
		}
	}
	for _, act := range b.Actions {
		at := ThresholdUnits(lim.limit, act.Threshold, act.ThresholdType, b.Type)
		eng := s.engaged(st, &act, at, actual, refusals[actionKey{b.Account, b.Name, act.ID}], p, now)
		k := alertKey{b.Account, b.Name, "action/" + act.ID, p.Start.Unix()}
		s.amu.Lock()
		cur := s.alerts[k]
		s.amu.Unlock()
		if s.cfg.OnEnforcement != nil && (sample || eng.engaged != cur.Alarm) {
			s.cfg.OnEnforcement(EnforcementSample{Account: b.Account, Budget: b.Name, ActionID: act.ID, Shadow: act.Shadow(), Engaged: eng.engaged, At: now})
		}
		switch {
		case eng.engaged && !cur.Alarm:
			a := alert{b: b, p: p, act: &act, limit: lim.limit, threshold: at, actual: actual, seq: cur.Fired, reason: eng.reason}
			if err := s.send(ctx, a, act.Subscribers); err != nil {
				s.log.Error("budget_action_alert_failed", "account", b.Account, "budget", b.Name, "action", act.ID, "err", err.Error())
				continue
			}
			s.record(ctx, b, act, engagedStatus(&act), "SYSTEM", eng.reason, now)
			s.log.Info("budget_action_engaged", "account", b.Account, "budget", b.Name, "action", act.ID, "action_type", string(act.Type),
				"shadow", act.Shadow(), "reason", eng.reason)
			s.setAlert(ctx, k, true, cur.Fired+1, now)
		case !eng.engaged && cur.Alarm:
			s.release(ctx, st, &act, p, lim.limit, at, actual, cur, false, now)
		}
	}
	// An action engaged at the end of the previous period releases.
	if prev, ok := b.PeriodAt(p.Start.Add(-time.Nanosecond)); ok {
		for _, act := range b.Actions {
			k := alertKey{b.Account, b.Name, "action/" + act.ID, prev.Start.Unix()}
			s.amu.Lock()
			cur := s.alerts[k]
			s.amu.Unlock()
			if cur.Alarm {
				lim := b.LimitFor(prev.Start)
				s.release(ctx, st, &act, prev, lim, ThresholdUnits(lim, act.Threshold, act.ThresholdType, b.Type), actual, cur, true, now)
			}
		}
	}
}

func engagedStatus(a *Action) ActionStatus {
	if a.Shadow() {
		return StatusPending
	}
	return StatusExecuted
}

// release announces and records that an engaged action released.
func (s *Service) release(ctx context.Context, st *state, act *Action, p Period, limit, at, actual int64, cur AlertState, periodOver bool, now time.Time) {
	b := st.b
	reason := releaseReason(b, act, at, actual, s.cfg.EnforcementHold, periodOver)
	a := alert{b: b, p: p, act: act, limit: limit, threshold: at, actual: actual, seq: cur.Fired - 1, reason: reason, released: true}
	if err := s.send(ctx, a, act.Subscribers); err != nil {
		s.log.Error("budget_action_alert_failed", "account", b.Account, "budget", b.Name, "action", act.ID, "err", err.Error())
		return
	}
	s.record(ctx, b, *act, StatusStandby, "SYSTEM", reason, now)
	s.log.Info("budget_action_released", "account", b.Account, "budget", b.Name, "action", act.ID, "action_type", string(act.Type),
		"shadow", act.Shadow(), "reason", reason)
	k := alertKey{b.Account, b.Name, "action/" + act.ID, p.Start.Unix()}
	s.setAlert(ctx, k, false, cur.Fired, now)
}

func (s *Service) setAlert(ctx context.Context, k alertKey, alarm bool, fired int, now time.Time) {
	a := AlertState{Account: k.account, Budget: k.budget, Alert: k.alert, PeriodStart: time.Unix(k.period, 0).UTC(),
		Alarm: alarm, Fired: fired, UpdatedAt: now.UTC().Truncate(time.Millisecond)}
	if err := s.cfg.Store.PutBudgetAlertState(context.WithoutCancel(ctx), a); err != nil {
		s.log.Error("budget_alert_state_failed", "budget", k.budget, "alert", k.alert, "err", err.Error())
		return // evaluated again later: the outbox drops the repeated keys
	}
	s.amu.Lock()
	s.alerts[k] = a
	s.amu.Unlock()
}

// alert is one firing of a notification or an action.
type alert struct {
	b                *Budget
	p                Period
	n                Notification
	act              *Action
	limit, threshold int64
	actual, forecast int64
	hasForecast      bool
	seq              int // how many times it fired before in the period
	// reason says why an action engaged or released; released marks a
	// release.
	reason   string
	released bool
}

// AlertData is the JSON payload of an alert message (Message.Data).
type AlertData struct {
	Account     string `json:"account"`
	BudgetName  string `json:"budgetName"`
	BudgetType  string `json:"budgetType"`
	TimeUnit    string `json:"timeUnit"`
	PeriodStart string `json:"periodStart"`
	PeriodEnd   string `json:"periodEnd"`
	Unit        string `json:"unit"`
	Limit       string `json:"budgetedAmount"`
	Actual      string `json:"actualAmount"`
	Forecast    string `json:"forecastedAmount,omitempty"`
	Threshold   string `json:"thresholdAmount"`
	// Notification fields (budget.alert).
	NotificationType   string  `json:"notificationType,omitempty"`
	ComparisonOperator string  `json:"comparisonOperator,omitempty"`
	ThresholdValue     float64 `json:"threshold"`
	ThresholdType      string  `json:"thresholdType"`
	// Action fields (budget.action).
	ActionID   string `json:"actionId,omitempty"`
	ActionType string `json:"actionType,omitempty"`
	// ActionStatus is the action's status after the event: EXECUTION_SUCCESS
	// when it engaged, PENDING when a shadow would have, STANDBY when it
	// released; Shadow marks a shadow (MANUAL) action; Reason says why.
	ActionStatus string `json:"actionStatus,omitempty"`
	Shadow       bool   `json:"shadow,omitempty"`
	Reason       string `json:"reason,omitempty"`
	// Firing is 1 for the first firing of the alert in the period, 2 for
	// the next (FORECASTED alerts), ...
	Firing int `json:"firing"`
	// Event, DedupKey and Severity are for paging channels
	// (notify.IncidentOf): an action's release resolves the incident its
	// engagement triggered, under one dedup key per budget threshold (or
	// action engagement) and period.
	Event    string `json:"event"`
	DedupKey string `json:"dedupKey"`
	Severity string `json:"severity"`
}

// money formats units for people: "$12.50" or "1200 Tokens".
func (b *Budget) human(v int64) string {
	if b.Type == Usage {
		return strconv.FormatInt(v, 10) + " " + b.Unit
	}
	s := b.FormatUnits(v)
	if i := strings.IndexByte(s, '.'); i >= 0 && len(s)-i-1 < 2 {
		s += "0"
	}
	return "$" + s
}

func (a alert) messages(subs []Subscriber) []notify.Message {
	b := a.b
	d := AlertData{Account: b.Account, BudgetName: b.Name, BudgetType: string(b.Type), TimeUnit: string(b.TimeUnit),
		PeriodStart: a.p.Start.Format(time.RFC3339), PeriodEnd: a.p.End.Format(time.RFC3339), Unit: b.Unit,
		Limit: b.FormatUnits(a.limit), Actual: b.FormatUnits(a.actual), Threshold: b.FormatUnits(a.threshold), Firing: a.seq + 1}
	if a.hasForecast {
		d.Forecast = b.FormatUnits(a.forecast)
	}
	d.Event, d.Severity = "trigger", "warning"
	var kind, id, subject, rule string
	if a.act != nil {
		kind, id = KindAction, "action/"+a.act.ID
		d.ActionID, d.ActionType, d.ThresholdValue, d.ThresholdType = a.act.ID, string(a.act.Type), a.act.Threshold, string(a.act.ThresholdType)
		d.ActionStatus, d.Shadow, d.Reason = string(engagedStatus(a.act)), a.act.Shadow(), a.reason
		mode := ""
		if a.act.Shadow() {
			mode = " (shadow)"
		}
		d.DedupKey = strings.Join([]string{"budget", b.Account, b.Name, "action", a.act.ID, strconv.FormatInt(a.p.Start.Unix(), 10), strconv.Itoa(a.seq + 1)}, "/")
		if a.act.Type == Block && !a.act.Shadow() {
			d.Severity = "critical"
		}
		if a.released {
			id += "/released"
			d.Event = "resolve"
			d.ActionStatus = string(StatusStandby)
			subject = fmt.Sprintf("AWS Budgets: %s %s action%s released", b.Name, a.act.Type, mode)
		} else {
			subject = fmt.Sprintf("AWS Budgets: %s %s action%s engaged", b.Name, a.act.Type, mode)
		}
		rule = a.reason
	} else {
		n := a.n
		kind, id = KindAlert, n.Key()
		d.DedupKey = strings.Join([]string{"budget", b.Account, b.Name, n.Key(), strconv.FormatInt(a.p.Start.Unix(), 10)}, "/")
		d.NotificationType, d.ComparisonOperator, d.ThresholdValue, d.ThresholdType = string(n.Type), string(n.Comparison), n.Threshold, string(n.ThresholdType)
		verb := map[Comparison]string{GreaterThan: "exceeded", EqualTo: "reached", LessThan: "stayed below"}[n.Comparison]
		if n.Type == Forecasted {
			verb = map[Comparison]string{GreaterThan: "is forecasted to exceed", EqualTo: "is forecasted to reach", LessThan: "is forecasted to stay below"}[n.Comparison]
			subject = fmt.Sprintf("AWS Budgets: %s %s your alert threshold", b.Name, verb)
		} else {
			subject = fmt.Sprintf("AWS Budgets: %s has %s your alert threshold", b.Name, verb)
		}
		cmpText := map[Comparison]string{GreaterThan: "greater than", EqualTo: "equal to", LessThan: "less than"}[n.Comparison]
		rule = fmt.Sprintf("%s %s %s", n.Type, cmpText, thresholdText(b, n.Threshold, n.ThresholdType, a.threshold))
	}
	var body strings.Builder
	fmt.Fprintf(&body, "Budget: %s (account %s, %s, %s)\n", b.Name, b.Account, b.Type, b.TimeUnit)
	fmt.Fprintf(&body, "Period: %s to %s\n", a.p.Start.Format(time.DateOnly), a.p.End.Format(time.DateOnly))
	fmt.Fprintf(&body, "Alert: %s\n", rule)
	fmt.Fprintf(&body, "Budgeted amount: %s\n", b.human(a.limit))
	fmt.Fprintf(&body, "Actual: %s\n", b.human(a.actual))
	if a.hasForecast {
		fmt.Fprintf(&body, "Forecasted: %s\n", b.human(a.forecast))
	}
	data, _ := json.Marshal(d)
	out := make([]notify.Message, 0, len(subs))
	for _, sub := range subs {
		target := notify.Target(notify.ChannelEmail, sub.Address)
		if sub.Type == SNS {
			target = notify.TargetOf(sub.Address)
		}
		key := strings.Join([]string{"budget", b.Account, b.Name, strconv.FormatInt(b.CreatedAt.UnixMilli(), 10), id,
			strconv.FormatInt(a.p.Start.Unix(), 10), strconv.Itoa(a.seq + 1), target}, "/")
		out = append(out, notify.Message{Key: key, Kind: kind, Target: target, Subject: subject, Body: body.String(), Data: data})
	}
	return out
}

func thresholdText(b *Budget, v float64, tt ThresholdType, units int64) string {
	if tt == Percentage {
		return fmt.Sprintf("%s%% of the budgeted amount (%s)", strconv.FormatFloat(v, 'f', -1, 64), b.human(units))
	}
	return b.human(units)
}

// send enqueues the alert for every subscriber.
func (s *Service) send(ctx context.Context, a alert, subs []Subscriber) error {
	msgs := a.messages(subs)
	if s.cfg.Notifier == nil {
		for _, m := range msgs {
			s.log.Info("budget_alert", "key", m.Key, "subject", m.Subject)
		}
		return nil
	}
	for _, m := range msgs {
		if err := s.cfg.Notifier.Enqueue(ctx, m); err != nil {
			return err
		}
	}
	return nil
}
