package bedrockapi_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

// serveAs sends one GET to h as the root of acct would after
// authentication.
func serveAs(h http.Handler, acct, target string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodGet, target, nil)
	info := &awsproto.RequestInfo{Identity: principal.Identity{
		Principal: &principal.Principal{ID: principal.RootID(acct), Account: acct, Kind: principal.Root},
	}}
	r = r.WithContext(awsproto.WithInfo(r.Context(), info))
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

type listPage struct {
	Summaries []struct {
		ARN string `json:"inferenceProfileArn"`
	} `json:"inferenceProfileSummaries"`
	NextToken string `json:"nextToken"`
}

// list pages through ListInferenceProfiles of typ, size items a page,
// and returns the ARNs listed and the tokens answered.
func list(t *testing.T, h http.Handler, typ string, size int) (arns, toks []string) {
	t.Helper()
	tok := ""
	for range 100 {
		target := fmt.Sprintf("/inference-profiles?type=%s&maxResults=%d", typ, size)
		if tok != "" {
			target += "&nextToken=" + url.QueryEscape(tok)
		}
		w := serveAs(h, account, target)
		if w.Code != http.StatusOK {
			t.Fatalf("GET %s = %d %s", target, w.Code, w.Body)
		}
		var p listPage
		if err := json.Unmarshal(w.Body.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		for _, s := range p.Summaries {
			arns = append(arns, s.ARN)
		}
		if p.NextToken == "" {
			return arns, toks
		}
		toks = append(toks, p.NextToken)
		tok = p.NextToken
	}
	t.Fatal("ListInferenceProfiles never ended")
	return nil, nil
}

// TestListInferenceProfilesTokens checks that ListInferenceProfiles pages
// through the engine's request-bound tokens: the pages make up the whole
// listing, and a token answers for the listing it continues only.
func TestListInferenceProfilesTokens(t *testing.T) {
	h := newControlPlane(t)
	for i := range 5 {
		body := fmt.Sprintf(`{"inferenceProfileName":"p%d","modelSource":{"copyFrom":%q}}`, i, haiku)
		if w := serve(h, http.MethodPost, "/inference-profiles", []byte(body)); w.Code != http.StatusCreated {
			t.Fatalf("create p%d = %d %s", i, w.Code, w.Body)
		}
	}
	whole, _ := list(t, h, "APPLICATION", 1000)
	paged, appToks := list(t, h, "APPLICATION", 2)
	if len(whole) != 5 || len(appToks) != 2 {
		t.Fatalf("listed %d profiles with %d tokens, want 5 and 2", len(whole), len(appToks))
	}
	if diff := cmp.Diff(paged, whole); diff != "" {
		t.Errorf("paged listing differs from the whole one (-paged +whole):\n%s", diff)
	}
	_, sysToks := list(t, h, "SYSTEM_DEFINED", 3)
	if len(sysToks) == 0 {
		t.Fatal("SYSTEM_DEFINED listing fits one page of 3; want several")
	}

	for _, tc := range []struct {
		name, acct, target string
		code               int
	}{
		{"next page, other size", account, "/inference-profiles?type=APPLICATION&maxResults=3&nextToken=" + appToks[0], http.StatusOK},
		{"garbage", account, "/inference-profiles?type=APPLICATION&nextToken=not-a-token", http.StatusBadRequest},
		{"old format", account, "/inference-profiles?nextToken=djEAU1lTVEVNX0RFRklORUQAdXM", http.StatusBadRequest},
		{"token of another type", account, "/inference-profiles?type=APPLICATION&nextToken=" + sysToks[0], http.StatusBadRequest},
		{"token of another account", "210987654321", "/inference-profiles?type=APPLICATION&nextToken=" + appToks[0], http.StatusBadRequest},
		{"altered token", account, "/inference-profiles?type=APPLICATION&nextToken=" + appToks[0][:len(appToks[0])-2] + "AA", http.StatusBadRequest},
	} {
		t.Run(tc.name, func(t *testing.T) {
			w := serveAs(h, tc.acct, tc.target)
			if w.Code != tc.code {
				t.Fatalf("status %d, want %d; body %s", w.Code, tc.code, w.Body)
			}
			if tc.code == http.StatusOK {
				return
			}
			var e struct {
				Type    string `json:"__type"`
				Message string `json:"message"`
			}
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if e.Type != "ValidationException" || e.Message != "The nextToken is invalid." {
				t.Errorf("answer %q %q, want ValidationException %q", e.Type, e.Message, "The nextToken is invalid.")
			}
		})
	}
}
