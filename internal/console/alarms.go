package console

import (
	"math"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// alarmARN is the ARN CloudWatch authorizes an alarm operation on.
func (h *Handler) alarmARN(account, name string) string {
	a := alarm.Alarm{Account: account, Name: name}
	return a.ARN(h.opts.Profiles.Region())
}

type alarmsPage struct {
	Panel  panel
	Alarms []alarm.Alarm
	State  string
}

// alarms lists the account's alarms (cloudwatch:DescribeAlarms on every
// alarm of the account, as DescribeAlarms without names authorizes).
func (h *Handler) alarms(w http.ResponseWriter, q *req) {
	p := alarmsPage{State: q.URL.Query().Get("state")}
	p.Panel = h.guard(q, "cloudwatch:DescribeAlarms", h.alarmARN(q.account, "*"), nil, func() (any, error) {
		return h.opts.Alarms.List(q.account, alarm.Filter{State: alarm.State(p.State)}), nil
	})
	if as, ok := p.Panel.Data.([]alarm.Alarm); ok {
		p.Alarms = as
	}
	h.render(w, q.Request, panelStatus(p.Panel), "alarms", h.newView(q, "alarms", "Alarms", p))
}

type alarmDetailPage struct {
	Panel   panel
	Alarm   alarm.Alarm
	Period  string
	History panel
}

func (h *Handler) alarmDetail(w http.ResponseWriter, q *req) {
	name := q.PathValue("name")
	p := alarmDetailPage{}
	p.Panel = h.guard(q, "cloudwatch:DescribeAlarms", h.alarmARN(q.account, name), nil, func() (any, error) {
		as := h.opts.Alarms.List(q.account, alarm.Filter{Names: []string{name}})
		if len(as) == 0 {
			return nil, errInvalid("There is no alarm named %q.", name)
		}
		return as[0], nil
	})
	if a, ok := p.Panel.Data.(alarm.Alarm); ok {
		p.Alarm, p.Period = a, a.Period.String()
		p.History = h.guard(q, "cloudwatch:DescribeAlarmHistory", h.alarmARN(q.account, name), nil, func() (any, error) {
			return h.opts.Alarms.History(q.Context(), alarm.HistoryQuery{Account: q.account, AlarmName: name, Newest: true, Limit: 100})
		})
	}
	h.render(w, q.Request, panelStatus(p.Panel), "alarm", h.newView(q, "alarms", "Alarm "+name, p))
}

type alarmForm struct {
	Name, Profile, Metric, Threshold, Period, Periods, Error string
	Profiles                                                 []profile.Profile
	Metrics                                                  []string
}

var alarmMetrics = []string{metrics.Invocations, metrics.InputTokenCount, metrics.OutputTokenCount, metrics.InvocationThrottles,
	metrics.InvocationClientErrors, metrics.InvocationServerErrors, metrics.Cost}

func (h *Handler) alarmForm(w http.ResponseWriter, q *req) {
	if res := h.alarmARN(q.account, "*"); h.authorize(q, "cloudwatch:PutMetricAlarm", res, nil) != nil {
		h.renderDenied(w, q, "alarms", "cloudwatch:PutMetricAlarm", res)
		return
	}
	h.showAlarmForm(w, q, http.StatusOK, alarmForm{Profile: q.URL.Query().Get("profile"), Metric: metrics.Invocations, Period: "60", Periods: "1"})
}

func (h *Handler) showAlarmForm(w http.ResponseWriter, q *req, status int, f alarmForm) {
	f.Profiles, f.Metrics = h.opts.Profiles.ListApplication(q.account), alarmMetrics
	h.render(w, q.Request, status, "alarmform", h.newView(q, "alarms", "Create alarm", f))
}

// createAlarm creates a limit alarm on one profile's metric: the Sum over
// each period above the threshold (cloudwatch:PutMetricAlarm on the
// alarm, as PutMetricAlarm authorizes).
func (h *Handler) createAlarm(w http.ResponseWriter, q *req) {
	f := alarmForm{Name: strings.TrimSpace(q.PostFormValue("name")), Profile: q.PostFormValue("profile"), Metric: q.PostFormValue("metric"),
		Threshold: strings.TrimSpace(q.PostFormValue("threshold")), Period: q.PostFormValue("period"), Periods: strings.TrimSpace(q.PostFormValue("periods"))}
	res := h.alarmARN(q.account, f.Name)
	if err := h.authorize(q, "cloudwatch:PutMetricAlarm", res, nil); err != nil {
		h.renderDenied(w, q, "alarms", "cloudwatch:PutMetricAlarm", res)
		return
	}
	threshold, err1 := strconv.ParseFloat(f.Threshold, 64)
	secs, err2 := strconv.Atoi(f.Period)
	n, err3 := strconv.Atoi(f.Periods)
	if err1 != nil || err2 != nil || err3 != nil || secs < 60 || n < 1 {
		f.Error = "Give a numeric threshold, a period of at least a minute and at least one evaluation period."
		h.showAlarmForm(w, q, http.StatusBadRequest, f)
		return
	}
	a := alarm.Alarm{Account: q.account, Name: f.Name, Description: "Created in the Tollgate console",
		Namespace: metrics.Namespace, MetricName: f.Metric, Statistic: "Sum", Period: time.Duration(secs) * time.Second,
		EvaluationPeriods: n, Threshold: threshold, ComparisonOperator: "GreaterThanThreshold", TreatMissingData: "notBreaching", ActionsEnabled: true}
	if f.Profile != "" {
		a.Dimensions = []alarm.Dimension{{Name: "ModelId", Value: f.Profile}}
	}
	if err := h.opts.Alarms.Put(q.Context(), a); err != nil {
		f.Error = h.message(q.Request, err)
		h.showAlarmForm(w, q, http.StatusBadRequest, f)
		return
	}
	done(w, q.Request, "/console/alarms/"+url.PathEscape(f.Name), "Alarm created. It is evaluated every minute.")
}

// metricWindow is a period selector choice: how far back, in buckets of
// what length.
type metricWindow struct {
	Value, Label string
	Back, Bucket time.Duration
}

var metricWindows = []metricWindow{
	{"1h", "Last hour (1-minute)", time.Hour, time.Minute},
	{"3h", "Last 3 hours (5-minute)", 3 * time.Hour, 5 * time.Minute},
	{"24h", "Last 24 hours (1-hour)", 24 * time.Hour, time.Hour},
	{"7d", "Last 7 days (6-hour)", 7 * 24 * time.Hour, 6 * time.Hour},
}

type metricChart struct {
	Title string
	Chart chart
}

type metricsPage struct {
	Panel    panel
	Profile  string
	Window   string
	Windows  []metricWindow
	Profiles []profile.Profile
	Charts   []metricChart
}

// metricsPage charts one profile's (or every call's) runtime metrics:
// cloudwatch:GetMetricData on "*".
func (h *Handler) metricsPage(w http.ResponseWriter, q *req) {
	p := metricsPage{Profile: q.URL.Query().Get("profile"), Window: q.URL.Query().Get("window"), Windows: metricWindows}
	win := metricWindows[0]
	for _, mw := range metricWindows {
		if mw.Value == p.Window {
			win = mw
		}
	}
	p.Window = win.Value
	p.Profiles = h.opts.Profiles.ListApplication(q.account)
	p.Panel = h.guard(q, "cloudwatch:GetMetricData", "*", nil, func() (any, error) { return true, nil })
	if p.Panel.Data != nil {
		to := h.opts.Now().UTC().Truncate(win.Bucket).Add(win.Bucket)
		from := to.Add(-win.Back)
		var labels []string
		for t := from; t.Before(to); t = t.Add(win.Bucket) {
			labels = append(labels, t.Format("15:04"))
			if win.Bucket >= time.Hour {
				labels[len(labels)-1] = t.Format("Jan 2 15:04")
			}
		}
		type stat struct{ name, label string }
		specs := []struct {
			metric, title string
			stats         []stat
			lines         bool
		}{
			{metrics.Invocations, "Invocations", []stat{{"Sum", "Invocations"}}, false},
			{metrics.InvocationLatency, "Invocation latency (ms)", []stat{{"p50", "p50"}, {"p90", "p90"}, {"p99", "p99"}}, true},
			{metrics.InputTokenCount, "Input tokens", []stat{{"Sum", "Input tokens"}}, false},
			{metrics.OutputTokenCount, "Output tokens", []stat{{"Sum", "Output tokens"}}, false},
			{metrics.InvocationThrottles, "Throttles", []stat{{"Sum", "Throttles"}}, false},
			{metrics.InvocationClientErrors, "Errors", []stat{{"Sum", "Client errors"}}, false},
		}
		for i, sp := range specs {
			key := metrics.Key{Account: q.account, Metric: sp.metric, ModelID: p.Profile}
			periods, err := h.opts.Metrics.Query(q.Context(), key, from, to, win.Bucket)
			if err != nil {
				p.Panel = panel{Err: h.message(q.Request, err)}
				break
			}
			var ss []series
			for j, st := range sp.stats {
				s := series{Label: st.label, Color: palette[(i+j)%len(palette)], Values: make([]float64, len(labels))}
				if sp.lines {
					for k := range s.Values { // no calls: no latency, a gap
						s.Values[k] = math.NaN()
					}
				}
				for _, pr := range periods {
					idx := int(pr.Start.Sub(from) / win.Bucket)
					if idx < 0 || idx >= len(labels) {
						continue
					}
					if v, ok := pr.Stats.Value(st.name, 1); ok {
						s.Values[idx] = v
					}
				}
				ss = append(ss, s)
			}
			if sp.metric == metrics.InvocationClientErrors {
				// Errors: client and server, stacked.
				if periods, err := h.opts.Metrics.Query(q.Context(), metrics.Key{Account: q.account, Metric: metrics.InvocationServerErrors, ModelID: p.Profile}, from, to, win.Bucket); err == nil {
					s := series{Label: "Server errors", Color: palette[5], Values: make([]float64, len(labels))}
					for _, pr := range periods {
						if idx := int(pr.Start.Sub(from) / win.Bucket); idx >= 0 && idx < len(labels) {
							s.Values[idx], _ = pr.Stats.Value("Sum", 1)
						}
					}
					ss = append(ss, s)
				}
			}
			p.Charts = append(p.Charts, metricChart{Title: sp.title, Chart: chart{Title: sp.title, Labels: labels, Series: ss, Lines: sp.lines, Small: true,
				Format: func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) }}})
		}
	}
	h.render(w, q.Request, panelStatus(p.Panel), "metrics", h.newView(q, "metrics", "Metrics", p))
}
