package console

import (
	"context"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// noKeys knows no credentials.
type noKeys struct{}

func (noKeys) Secret(context.Context, string) (string, error) {
	return "", errkind.New(errkind.NotFound, "unknown access key")
}
func (noKeys) ByAccessKey(string) (principal.Identity, bool) { return principal.Identity{}, false }
func (noKeys) ByAPIKey(string) (principal.Identity, bool)    { return principal.Identity{}, false }
func (noKeys) Principal(string) (principal.Principal, bool)  { return principal.Principal{}, false }

// TestSignInOverPlainHTTP refuses a sign-in form (which carries a secret)
// sent over plain HTTP from another host, unless allowed; from loopback
// the credentials are checked.
func TestSignInOverPlainHTTP(t *testing.T) {
	for _, tc := range []struct {
		remote string
		allow  bool
		want   int
	}{
		{"203.0.113.5:4000", false, http.StatusForbidden},
		{"127.0.0.1:4000", false, http.StatusUnauthorized},
		{"[::1]:4000", false, http.StatusUnauthorized},
		{"203.0.113.5:4000", true, http.StatusUnauthorized},
	} {
		h := New(Options{Auth: noKeys{}, AllowPlaintextSignIn: tc.allow})
		get := httptest.NewRequest("GET", "/console/signin", nil)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, get)
		tok := regexp.MustCompile(`name="csrf" value="([^"]*)"`).FindStringSubmatch(rec.Body.String())[1]
		form := url.Values{"csrf": {tok}, "method": {"key"}, "access_key_id": {"AKIAEXAMPLE"}, "secret_access_key": {"s"}}
		post := httptest.NewRequest("POST", "/console/signin", strings.NewReader(form.Encode()))
		post.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		post.RemoteAddr = tc.remote
		for _, c := range rec.Result().Cookies() {
			post.AddCookie(c)
		}
		rec = httptest.NewRecorder()
		h.ServeHTTP(rec, post)
		if rec.Code != tc.want {
			t.Errorf("sign-in from %s (allow %v) = %d, want %d", tc.remote, tc.allow, rec.Code, tc.want)
		}
	}
}
