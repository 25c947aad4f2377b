// Package console is Tollgate's web console, served under /console/ on the
// API port: server-rendered pages (html/template, assets embedded, charts
// drawn as SVG on the server, no JavaScript needed) for the cost explorer,
// budgets, inference profiles, metrics and alarms, the home page, and for
// administrators the Access page (accounts, principals, keys, policies),
// authorized by the admin API's own decision (adminapi.Rules). It
// owns sign-in (an access key id and secret, or a Bedrock API key),
// server-side sessions (internal/console/session), CSRF tokens, the
// sign-in rate limit, and the authorization of every page and action
// through the same policy engine, actions and resource ARNs as the AWS APIs
// the page stands for. It calls the domain services in-process through the
// small interfaces below, which cmd/tollgate satisfies.
package console

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/metrics"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticFS embed.FS

// Authenticator finds who signs in (principal.Service).
type Authenticator interface {
	// Secret returns an active access key's secret.
	Secret(ctx context.Context, accessKeyID string) (string, error)
	ByAccessKey(accessKeyID string) (principal.Identity, bool)
	ByAPIKey(token string) (principal.Identity, bool)
	Principal(id string) (principal.Principal, bool)
}

// Directory is the account and key directory (principal.Directory).
type Directory interface {
	Accounts() []principal.Account
	APIKeys(principalID string) []principal.APIKey
}

// Authorizer is the policy engine (authz.Authorizer).
type Authorizer interface {
	Check(id principal.Identity, env authz.Env, action, resource string, keys map[string][]string) error
}

// Costs answers cost queries (costquery.Service).
type Costs interface {
	CostAndUsage(ctx context.Context, accounts []string, q costquery.Query) (costquery.Result, error)
	Tags(ctx context.Context, accounts []string, key string, sc costquery.Scope) ([]costquery.Value, error)
	DimensionValues(ctx context.Context, accounts []string, dim string, sc costquery.Scope) ([]costquery.Value, error)
	Forecast(ctx context.Context, accounts []string, q costquery.ForecastQuery) (costquery.ForecastResult, error)
}

// Profiles manages inference profiles (profile.Service).
type Profiles interface {
	Region() string
	Catalog() *catalog.Catalog
	Create(ctx context.Context, in profile.CreateInput) (profile.Profile, error)
	Get(account, identifier string) (profile.Profile, error)
	ListSystem(account string) []profile.Profile
	ListApplication(account string) []profile.Profile
	Delete(ctx context.Context, account, identifier string) error
	Tag(ctx context.Context, account, resourceARN string, add []tags.Tag) error
	Untag(ctx context.Context, account, resourceARN string, keys []string) error
	TagKeys(account string) []string
	TagValues(account, key string) []string
}

// Budgets manages budgets (budget.Service).
type Budgets interface {
	List(ctx context.Context, account string) []budget.View
	Get(ctx context.Context, account, name string) (budget.View, error)
	Create(ctx context.Context, b budget.Budget) error
	Update(ctx context.Context, b budget.Budget) error
	PerformanceHistory(ctx context.Context, account, name string, from, to time.Time) (budget.Budget, []budget.PeriodSpend, error)
}

// Alarms manages metric alarms (alarm.Service).
type Alarms interface {
	List(account string, f alarm.Filter) []alarm.Alarm
	Put(ctx context.Context, in alarm.Alarm) error
	History(ctx context.Context, q alarm.HistoryQuery) ([]alarm.HistoryItem, error)
}

// Metrics reads metric series (metrics.Registry).
type Metrics interface {
	Query(ctx context.Context, key metrics.Key, from, to time.Time, period time.Duration) ([]metrics.Period, error)
}

// Options configures a Handler. Every service is required.
type Options struct {
	Logger    *slog.Logger
	Sessions  *session.Manager
	Auth      Authenticator
	Directory Directory
	Authz     Authorizer
	Costs     Costs
	Profiles  Profiles
	Budgets   Budgets
	Alarms    Alarms
	Metrics   Metrics
	Anomalies Anomalies
	Usage     Usage
	// Admin is the directory the Access page administers.
	Admin Admin
	// Management is the organisation's management account: its
	// principals see every account's spend, and its root may switch the
	// account it looks at.
	Management string
	// MainTagKey is the tag key the home page ranks spend by; "" picks
	// the tag key with the most spend this month.
	MainTagKey string
	// AllowPlaintextSignIn accepts sign-ins (whose form carries a secret
	// or an API key) over plain HTTP from any address, as
	// Config.AllowPlaintextAPIKeys does for API keys; by default, without
	// TLS, only loopback clients may sign in.
	AllowPlaintextSignIn bool
	// SignInRate bounds failed sign-ins per source address: at most
	// SignInBurst in a row, then one per SignInEvery. Defaults 5 and 12s.
	SignInBurst int
	SignInEvery time.Duration
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Handler serves the console. Safe for concurrent use.
type Handler struct {
	opts    Options
	log     *slog.Logger
	pages   map[string]*template.Template
	mux     *http.ServeMux
	limiter *failLimiter
}

// New returns the console handler.
func New(opts Options) *Handler {
	if opts.Logger == nil {
		opts.Logger = slog.New(slog.DiscardHandler)
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	if opts.SignInBurst <= 0 {
		opts.SignInBurst = 5
	}
	if opts.SignInEvery <= 0 {
		opts.SignInEvery = 12 * time.Second
	}
	h := &Handler{opts: opts, log: opts.Logger, limiter: newFailLimiter(opts.SignInBurst, opts.SignInEvery)}
	h.pages = parsePages()
	h.mux = http.NewServeMux()
	h.routes()
	return h
}

// routes registers every console path: pages are GETs, actions POSTs.
func (h *Handler) routes() {
	static, _ := fs.Sub(staticFS, "static")
	h.mux.Handle("GET /console/static/", http.StripPrefix("/console/static/", cacheStatic(http.FileServerFS(static))))
	h.mux.HandleFunc("GET /console/signin", h.signInPage)
	h.mux.HandleFunc("POST /console/signin", h.signIn)
	h.mux.Handle("POST /console/signout", h.user(h.signOut))
	h.mux.Handle("POST /console/account", h.user(h.switchAccount))
	h.mux.Handle("GET /console/{$}", h.user(h.home))
	h.mux.Handle("GET /console/costs", h.user(h.costs))
	h.mux.Handle("GET /console/costs.csv", h.user(h.costsCSV))
	h.mux.Handle("GET /console/budgets", h.user(h.budgets))
	h.mux.Handle("GET /console/budgets/new", h.user(h.budgetForm))
	h.mux.Handle("POST /console/budgets", h.user(h.saveBudget))
	h.mux.Handle("GET /console/budgets/{name}", h.user(h.budgetDetail))
	h.mux.Handle("GET /console/budgets/{name}/edit", h.user(h.budgetForm))
	h.mux.Handle("GET /console/profiles", h.user(h.profiles))
	h.mux.Handle("GET /console/profiles/new", h.user(h.profileForm))
	h.mux.Handle("POST /console/profiles", h.user(h.createProfile))
	h.mux.Handle("GET /console/profiles/{id}", h.user(h.profileDetail))
	h.mux.Handle("POST /console/profiles/{id}/tags", h.user(h.tagProfile))
	h.mux.Handle("POST /console/profiles/{id}/delete", h.user(h.deleteProfile))
	h.mux.Handle("GET /console/alarms", h.user(h.alarms))
	h.mux.Handle("GET /console/alarms/new", h.user(h.alarmForm))
	h.mux.Handle("POST /console/alarms", h.user(h.createAlarm))
	h.mux.Handle("GET /console/alarms/{name}", h.user(h.alarmDetail))
	h.mux.Handle("GET /console/metrics", h.user(h.metricsPage))
	h.mux.Handle("GET /console/anomalies", h.user(h.anomalies))
	h.mux.Handle("GET /console/usage", h.user(h.usage))
	h.mux.Handle("POST /console/anomalies/{id}/feedback", h.user(h.anomalyFeedback))
	h.mux.Handle("GET /console/access", h.user(h.access))
	h.mux.Handle("POST /console/access/principals", h.user(h.createPrincipal))
	h.mux.Handle("GET /console/access/principals/{id}", h.user(h.principalDetail))
	h.mux.Handle("POST /console/access/principals/{id}/access-keys", h.user(h.createAccessKey))
	h.mux.Handle("POST /console/access/principals/{id}/api-keys", h.user(h.createAPIKey))
	h.mux.Handle("POST /console/access/principals/{id}/policies", h.user(h.attachPolicy))
	h.mux.Handle("POST /console/access/principals/{id}/policies/{name}/detach", h.user(h.detachPolicy))
	h.mux.Handle("POST /console/access/access-keys/{key}", h.user(h.updateAccessKey))
	h.mux.Handle("POST /console/access/api-keys/{key}/revoke", h.user(h.revokeAPIKey))
	h.mux.Handle("GET /console/access/policies/new", h.user(h.policyNew))
	h.mux.Handle("GET /console/access/policies/{name}", h.user(h.policyView))
	h.mux.Handle("POST /console/access/policies", h.user(h.savePolicy))
	h.mux.HandleFunc("/console/", func(w http.ResponseWriter, r *http.Request) {
		h.renderError(w, r, nil, http.StatusNotFound, "Page not found", "There is no console page at this address.")
	})
	h.mux.HandleFunc("/console", func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, "/console/", http.StatusFound)
	})
}

// ServeHTTP serves a console request.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hd := w.Header()
	hd.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("X-Frame-Options", "DENY")
	hd.Set("Referrer-Policy", "same-origin")
	info := awsproto.Info(r.Context())
	info.Service = "console"
	h.mux.ServeHTTP(w, r)
	if info.Op == "" {
		_, info.Op = h.mux.Handler(r)
	}
}

func cacheStatic(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "public, max-age=3600")
		next.ServeHTTP(w, r)
	})
}

// cookieName is the session cookie.
const cookieName = "tollgate_console"

// req is what a signed-in request carries to its handler.
type req struct {
	*http.Request
	token   string
	sess    session.Session
	id      principal.Identity
	env     authz.Env
	account string // the account looked at: the caller's, or for the management root the one switched to
}

// canSwitch reports whether the caller may look at other accounts: the
// management account's root.
func (h *Handler) canSwitch(q *req) bool {
	p := q.id.Principal
	return p.Kind == principal.Root && p.Account == h.opts.Management && h.opts.Management != ""
}

// costAccounts returns the accounts whose spend the caller sees (nil: all),
// as Cost Explorer scopes them: the management account sees every
// account's, others their own; the management root looking at one
// account sees that one's.
func (h *Handler) costAccounts(q *req) []string {
	if q.id.Principal.Account == h.opts.Management && h.opts.Management != "" {
		if q.sess.View != "" {
			return []string{q.sess.View}
		}
		return nil
	}
	return []string{q.id.Principal.Account}
}

// authorize asks the policy engine whether the caller may perform action
// on resource, as the AWS API operation the page stands for does.
func (h *Handler) authorize(q *req, action, resource string, keys map[string][]string) error {
	return h.opts.Authz.Check(q.id, q.env, action, resource, keys)
}

// user wraps a handler needing a signed-in user: it checks the session
// cookie (an idle, expired or signed-out session, or one whose key was
// deactivated or principal deleted, sends the browser to sign in), the
// CSRF token of every POST, and fills in the caller.
func (h *Handler) user(next func(w http.ResponseWriter, q *req)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, _ := r.Cookie(cookieName)
		var token string
		if c != nil {
			token = c.Value
		}
		s, err := h.opts.Sessions.Check(r.Context(), token)
		if err == nil {
			err = h.stillValid(r.Context(), s)
		}
		if err != nil {
			if errkind.As(err).Kind != errkind.Denied {
				awsproto.Info(r.Context()).Err = err
				h.renderError(w, r, nil, http.StatusInternalServerError, "Something went wrong", "The console could not check your session. Try again in a moment.")
				return
			}
			h.clearCookie(w, r)
			if r.Method != http.MethodGet {
				h.renderError(w, r, nil, http.StatusUnauthorized, "Signed out", "Your session has ended. Sign in again to continue.")
				return
			}
			http.Redirect(w, r, "/console/signin?next="+url.QueryEscape(r.URL.RequestURI()), http.StatusSeeOther)
			return
		}
		p, _ := h.opts.Auth.Principal(s.PrincipalID)
		q := &req{Request: r, token: token, sess: s, id: principal.Identity{Principal: &p, KeyID: s.KeyID}, account: p.Account}
		if host, _, err := net.SplitHostPort(r.RemoteAddr); err == nil {
			q.env.SourceIP = host
		}
		q.env.Secure = r.TLS != nil
		if s.View != "" && h.canSwitch(q) {
			q.account = s.View
		}
		info := awsproto.Info(r.Context())
		info.Identity = q.id
		if r.Method == http.MethodPost {
			if !h.sameOrigin(r) || !session.CheckCSRF(token, r.PostFormValue("csrf")) {
				h.log.Warn("console_csrf_refused", "principal", p.ARN(), "path", r.URL.Path, "remote", r.RemoteAddr)
				info.Err = errkind.New(errkind.Denied, "CSRF token missing or invalid")
				h.renderError(w, r, q, http.StatusForbidden, "Request refused", "This form was not sent from your console session (its security token is missing or out of date). Reload the page and try again.")
				return
			}
		}
		next(w, q)
	})
}

// stillValid ends a session whose key was deactivated or whose principal
// was deleted.
func (h *Handler) stillValid(ctx context.Context, s session.Session) error {
	p, ok := h.opts.Auth.Principal(s.PrincipalID)
	active := false
	if ok {
		if s.APIKey {
			for _, k := range h.opts.Directory.APIKeys(p.ID) {
				if k.ID == s.KeyID && k.Status == principal.Active {
					active = true
				}
			}
		} else if id, found := h.opts.Auth.ByAccessKey(s.KeyID); found && id.Principal.ID == p.ID {
			active = true
		}
	}
	if active {
		return nil
	}
	if _, err := h.opts.Sessions.Store.DeleteConsoleSessionsOf(ctx, s.PrincipalID); err != nil {
		return err
	}
	return session.ErrNoSession
}

// sameOrigin refuses a POST whose Origin (or, without one, Referer) names
// another site; browsers send one on every form POST.
func (h *Handler) sameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		o = r.Header.Get("Referer")
	}
	if o == "" || o == "null" {
		return o == ""
	}
	u, err := url.Parse(o)
	return err == nil && strings.EqualFold(u.Host, r.Host)
}

func (h *Handler) setCookie(w http.ResponseWriter, r *http.Request, token string) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: token, Path: "/console/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

func (h *Handler) clearCookie(w http.ResponseWriter, r *http.Request) {
	http.SetCookie(w, &http.Cookie{Name: cookieName, Value: "", Path: "/console/", MaxAge: -1, HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
}

// denied is a panel the caller may not see: the action and resource it
// needs, in the policy engine's words.
type denied struct {
	Action, Resource string
	// Why is the rule that refused it beyond the policies, if one did.
	Why string
}

// panel is one section of a page: its data, or why the caller may not
// see it, or what went wrong.
type panel struct {
	Denied *denied
	Err    string
	Data   any
}

// guard authorizes action on resource and, when allowed, loads the
// panel's data; a denial or an error becomes the panel's message.
func (h *Handler) guard(q *req, action, resource string, keys map[string][]string, load func() (any, error)) panel {
	if err := h.authorize(q, action, resource, keys); err != nil {
		return panel{Denied: &denied{Action: action, Resource: resource}}
	}
	v, err := load()
	if err != nil {
		return panel{Err: h.message(q.Request, err)}
	}
	return panel{Data: v}
}

// forecastErr turns the forecast's "not enough history" (Unavailable)
// into a message for the user rather than a server fault.
func forecastErr(err error) error {
	if errkind.As(err).Kind == errkind.Unavailable {
		return errkind.New(errkind.Invalid, "Not enough spend history for a forecast yet (it needs a few days).")
	}
	return err
}

// message is what a user is told of err: a client error's own message,
// "internal error" (logged) for Tollgate's own faults.
func (h *Handler) message(r *http.Request, err error) string {
	e := errkind.As(err)
	if e.Kind == errkind.Internal || e.Kind == errkind.Unavailable {
		awsproto.Info(r.Context()).Err = err
		return "Something went wrong on the server; the error has been logged. Try again in a moment."
	}
	return e.Message
}

func errInvalid(format string, args ...any) error {
	return errkind.New(errkind.Invalid, format, args...)
}
