package console

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// preCookie holds the sign-in form's CSRF token (a double-submit cookie:
// there is no session yet to bind it to).
const preCookie = "tollgate_console_signin"

type signInPage struct {
	Next, Method, KeyID, Error string
	Token                      string
}

func (h *Handler) signInPage(w http.ResponseWriter, r *http.Request) {
	h.showSignIn(w, r, http.StatusOK, signInPage{Next: r.URL.Query().Get("next"), Method: "key"})
}

func (h *Handler) showSignIn(w http.ResponseWriter, r *http.Request, status int, p signInPage) {
	// One token per browser, kept while it has one: two sign-in pages
	// (tabs, a reload) must not invalidate each other's forms.
	if c, err := r.Cookie(preCookie); err == nil && len(c.Value) == 24 {
		p.Token = c.Value
	} else {
		var b [18]byte
		_, _ = rand.Read(b[:])
		p.Token = base64.RawURLEncoding.EncodeToString(b[:])
	}
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: p.Token, Path: "/console/", HttpOnly: true, Secure: r.TLS != nil, SameSite: http.SameSiteStrictMode})
	h.render(w, r, status, "signin", view{Title: "Sign in", Page: p})
}

// signIn checks an access key id and its secret (as SigV4 would: the key
// must be active and the secret match) or a Bedrock API key, and starts a
// session. Failures are rate-limited per source address and logged
// without the secret.
func (h *Handler) signIn(w http.ResponseWriter, r *http.Request) {
	p := signInPage{Next: r.PostFormValue("next"), Method: r.PostFormValue("method"), KeyID: strings.TrimSpace(r.PostFormValue("access_key_id"))}
	c, _ := r.Cookie(preCookie)
	if c == nil || !h.sameOrigin(r) || subtle.ConstantTimeCompare([]byte(c.Value), []byte(r.PostFormValue("csrf"))) != 1 {
		awsproto.Info(r.Context()).Err = errkind.New(errkind.Denied, "sign-in CSRF token missing or invalid")
		p.Error = "The sign-in form expired. Try again."
		h.showSignIn(w, r, http.StatusForbidden, p)
		return
	}
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	if parsed := net.ParseIP(ip); r.TLS == nil && !h.opts.AllowPlaintextSignIn && (parsed == nil || !parsed.IsLoopback()) {
		awsproto.Info(r.Context()).Err = errkind.New(errkind.Denied, "console sign-in over plain HTTP from another host")
		p.Error = "Signing in sends your secret: over plain HTTP it is accepted only from this host. Use HTTPS (tlsCert), or allowPlaintextAPIKeys behind a proxy that terminates TLS."
		h.showSignIn(w, r, http.StatusForbidden, p)
		return
	}
	now := h.opts.Now()
	if !h.limiter.allowed(ip, now) {
		h.log.Warn("console_signin_throttled", "remote", ip, "access_key_id", p.KeyID)
		awsproto.Info(r.Context()).Err = errkind.New(errkind.Throttled, "too many failed sign-ins")
		p.Error = "Too many failed sign-ins from your address. Wait a minute and try again."
		h.showSignIn(w, r, http.StatusTooManyRequests, p)
		return
	}
	var id principal.Identity
	ok, apiKey := false, false
	switch p.Method {
	case "apikey":
		apiKey = true
		id, ok = h.opts.Auth.ByAPIKey(strings.TrimSpace(r.PostFormValue("api_key")))
	default:
		p.Method = "key"
		secret := r.PostFormValue("secret_access_key")
		if want, err := h.opts.Auth.Secret(r.Context(), p.KeyID); err == nil && secret != "" &&
			subtle.ConstantTimeCompare([]byte(want), []byte(secret)) == 1 {
			id, ok = h.opts.Auth.ByAccessKey(p.KeyID)
		}
	}
	if !ok || id.Principal == nil {
		h.limiter.fail(ip, now)
		h.log.Warn("console_signin_failed", "remote", ip, "method", p.Method, "access_key_id", p.KeyID)
		awsproto.Info(r.Context()).Err = errkind.New(errkind.Denied, "console sign-in failed")
		p.Error = "Those credentials are not valid, or the key is inactive."
		h.showSignIn(w, r, http.StatusUnauthorized, p)
		return
	}
	token, _, err := h.opts.Sessions.Start(r.Context(), id.Principal.ID, id.KeyID, apiKey)
	if err != nil {
		awsproto.Info(r.Context()).Err = err
		p.Error = "The console could not start your session. Try again in a moment."
		h.showSignIn(w, r, http.StatusInternalServerError, p)
		return
	}
	awsproto.Info(r.Context()).Identity = id
	h.log.Info("console_signin", "principal", id.Principal.ARN(), "key_id", id.KeyID, "remote", ip)
	h.setCookie(w, r, token)
	http.SetCookie(w, &http.Cookie{Name: preCookie, Value: "", Path: "/console/", MaxAge: -1})
	next := p.Next
	if !strings.HasPrefix(next, "/console/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		next = "/console/"
	}
	http.Redirect(w, r, next, http.StatusSeeOther)
}

func (h *Handler) signOut(w http.ResponseWriter, q *req) {
	if err := h.opts.Sessions.End(q.Context(), q.token); err != nil {
		awsproto.Info(q.Context()).Err = err
	}
	h.clearCookie(w, q.Request)
	http.Redirect(w, q.Request, "/console/signin", http.StatusSeeOther)
}

// switchAccount changes the account the management account's root looks
// at ("" is the consolidated view of every account).
func (h *Handler) switchAccount(w http.ResponseWriter, q *req) {
	if !h.canSwitch(q) {
		h.renderError(w, q.Request, q, http.StatusForbidden, "Not authorized", "Only the management account's root may switch accounts.")
		return
	}
	acct := q.PostFormValue("account")
	if acct == q.id.Principal.Account {
		acct = ""
	}
	if acct != "" {
		found := false
		for _, a := range h.opts.Directory.Accounts() {
			found = found || a.ID == acct
		}
		if !found {
			h.renderError(w, q.Request, q, http.StatusBadRequest, "No such account", "The organisation has no account "+acct+".")
			return
		}
	}
	if err := h.opts.Sessions.SetView(q.Context(), q.sess, acct); err != nil {
		awsproto.Info(q.Context()).Err = err
		h.renderError(w, q.Request, q, http.StatusInternalServerError, "Something went wrong", "The account could not be switched.")
		return
	}
	http.Redirect(w, q.Request, "/console/", http.StatusSeeOther)
}

// failLimiter bounds failed sign-ins per source address: burst failures in
// a row, then one more per every. Safe for concurrent use.
type failLimiter struct {
	burst float64
	every time.Duration

	mu    sync.Mutex
	addrs map[string]*failBucket
}

type failBucket struct {
	left float64
	last time.Time
}

func newFailLimiter(burst int, every time.Duration) *failLimiter {
	return &failLimiter{burst: float64(burst), every: every, addrs: map[string]*failBucket{}}
}

func (l *failLimiter) refill(b *failBucket, now time.Time) {
	if d := now.Sub(b.last); d > 0 {
		b.left = min(l.burst, b.left+float64(d)/float64(l.every))
		b.last = now
	}
}

// allowed reports whether addr may try to sign in at now.
func (l *failLimiter) allowed(addr string, now time.Time) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.addrs[addr]
	if b == nil {
		return true
	}
	l.refill(b, now)
	return b.left >= 1
}

// fail records a failed sign-in from addr at now.
func (l *failLimiter) fail(addr string, now time.Time) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if len(l.addrs) > 10000 {
		for a, b := range l.addrs { // forget the addresses that have recovered
			if l.refill(b, now); b.left >= l.burst {
				delete(l.addrs, a)
			}
		}
	}
	b := l.addrs[addr]
	if b == nil {
		b = &failBucket{left: l.burst, last: now}
		l.addrs[addr] = b
	}
	l.refill(b, now)
	b.left = max(0, b.left-1)
}
