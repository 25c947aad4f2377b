package console

import (
	"bytes"
	"fmt"
	"html/template"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// pageFiles are the page templates; each is parsed with layout.html.
var pageFiles = []string{"signin", "error", "home", "costs", "budgets", "budget", "budgetform", "profiles", "profile", "profileform", "alarms", "alarm", "alarmform", "metrics", "anomalies", "usage", "access", "principal", "policy"}

var funcs = template.FuncMap{
	"usd":      usd,
	"usdExact": func(a money.Amount) string { return "$" + a.Decimal(2) },
	"num":      func(v int64) string { return group(strconv.FormatInt(v, 10)) },
	"float":    func(v float64) string { return strconv.FormatFloat(v, 'f', -1, 64) },
	"pct":      func(v float64) string { return strconv.FormatFloat(v, 'f', 0, 64) + "%" },
	"date":     func(t time.Time) string { return t.UTC().Format("2006-01-02") },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
	"query": func(v url.Values) template.URL { return template.URL(v.Encode()) },
	"eq2":   func(a, b string) bool { return a == b },
	"has": func(list []string, s string) bool {
		for _, v := range list {
			if v == s {
				return true
			}
		}
		return false
	},
}

func parsePages() map[string]*template.Template {
	out := map[string]*template.Template{}
	for _, name := range pageFiles {
		t := template.Must(template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html"))
		out[name] = t
	}
	return out
}

// FormatUSD formats an amount as the console shows it (see usd); tests
// compare the console's figures with the APIs' through it.
func FormatUSD(a money.Amount) string { return usd(a) }

// usd formats a as US dollars, rounded half away from zero to the cent
// ("$1,234.56"); an amount that is not zero but rounds to less than a cent
// keeps its first significant digits ("$0.000042").
func usd(a money.Amount) string {
	neg := a < 0
	if neg {
		a = -a
	}
	var s string
	if a != 0 && a < money.Cent/2 {
		f := float64(a) / float64(money.Dollar)
		digits := int(math.Ceil(-math.Log10(f))) + 1
		s = "$" + strconv.FormatFloat(f, 'f', min(digits, 9), 64)
	} else {
		cents := (int64(a) + int64(money.Cent)/2) / int64(money.Cent)
		s = fmt.Sprintf("$%s.%02d", group(strconv.FormatInt(cents/100, 10)), cents%100)
	}
	if neg {
		return "-" + s
	}
	return s
}

// group puts thousands separators in a string of digits.
func group(d string) string {
	neg := strings.HasPrefix(d, "-")
	d = strings.TrimPrefix(d, "-")
	var b strings.Builder
	for i, c := range d {
		if i > 0 && (len(d)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// nav is the console's navigation, in the order of the pages.
var nav = []struct{ Key, Label, Href string }{
	{"home", "Home", "/console/"},
	{"costs", "Cost explorer", "/console/costs"},
	{"budgets", "Budgets", "/console/budgets"},
	{"profiles", "Inference profiles", "/console/profiles"},
	{"metrics", "Metrics", "/console/metrics"},
	{"alarms", "Alarms", "/console/alarms"},
	{"anomalies", "Anomalies", "/console/anomalies"},
	{"usage", "Usage", "/console/usage"},
}

// accessNav is the Access entry, shown only to principals allowed at
// least one admin read.
var accessNav = struct{ Key, Label, Href string }{"access", "Access", "/console/access"}

// view is what the layout renders around a page.
type view struct {
	Title  string
	Active string
	Nav    any
	// User is the signed-in caller (nil on the sign-in page).
	User      *principal.Principal
	CSRF      string
	Account   string
	Accounts  []principal.Account
	CanSwitch bool
	Flash     string
	Page      any
}

func (h *Handler) newView(q *req, active, title string, page any) view {
	v := view{Title: title, Active: active, Nav: nav, Page: page}
	if q != nil {
		if h.adminReader(q) {
			v.Nav = append(slices.Clip(nav), accessNav)
		}
		v.User = q.id.Principal
		v.CSRF = session.CSRF(q.token)
		v.Account = q.sess.View
		if h.canSwitch(q) {
			v.CanSwitch = true
			v.Accounts = h.opts.Directory.Accounts()
		}
		v.Flash = q.URL.Query().Get("done")
	}
	return v
}

// render writes page name with status.
func (h *Handler) render(w http.ResponseWriter, r *http.Request, status int, name string, v view) {
	var buf bytes.Buffer
	if err := h.pages[name].Execute(&buf, v); err != nil {
		h.log.Error("console_render", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type errorPage struct {
	Heading, Text string
	Denied        *denied
}

func (h *Handler) renderError(w http.ResponseWriter, r *http.Request, q *req, status int, heading, text string) {
	h.render(w, r, status, "error", h.newView(q, "", heading, errorPage{Heading: heading, Text: text}))
}

// renderDenied answers a page or action the caller may not use: 403 and
// the not-authorized panel naming the action and resource.
func (h *Handler) renderDenied(w http.ResponseWriter, q *req, active, action, resource string) {
	h.render(w, q.Request, http.StatusForbidden, "error", h.newView(q, active, "Not authorized",
		errorPage{Heading: "Not authorized", Denied: &denied{Action: action, Resource: resource}}))
}

// done redirects after a successful action, with a confirmation.
func done(w http.ResponseWriter, r *http.Request, to, msg string) {
	sep := "?"
	if strings.Contains(to, "?") {
		sep = "&"
	}
	http.Redirect(w, r, to+sep+"done="+url.QueryEscape(msg), http.StatusSeeOther)
}
