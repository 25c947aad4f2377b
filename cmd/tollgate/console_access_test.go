package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/principal"
)

const (
	mgmtAccount = "123456789012"
	adminDoc    = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"tollgate:*","Resource":"*"}]}`
)

var secretRE = regexp.MustCompile(`id="new-key-secret">([^<]+)<`)

// TestConsoleAccess drives the Access page as the root: a principal with
// tags, a policy through the editor, attach and detach, an access key
// whose secret is shown once and works, deactivated and activated, a
// Bedrock API key created and revoked; a policy the parser refuses is not
// saved and the parser's message, with its place, is shown.
func TestConsoleAccess(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	root := ts.consoleClient(t)
	if got := root.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
		t.Fatalf("root sign-in = %d", got)
	}
	csrf := root.csrf("/console/access")
	status, loc := root.post("/console/access/principals", url.Values{"csrf": {csrf}, "name": {"analyst"}, "kind": {"user"}, "tags": {"team=support\ncostcenter=42"}})
	if status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/access/principals/user-123456789012-analyst") {
		t.Fatalf("create principal = %d %s", status, loc)
	}
	p, ok := ts.Principals.Principal("user-123456789012-analyst")
	if !ok || p.Tags["team"] != "support" || p.Tags["costcenter"] != "42" {
		t.Fatalf("created principal: %+v %v", p, ok)
	}
	if _, body := root.get("/console/access"); !strings.Contains(body, "team=support") || !strings.Contains(body, "arn:aws:iam::123456789012:user/analyst") {
		t.Errorf("the Access page does not list the principal with its tags: %.800s", body)
	}

	t.Run("policy editor refuses what the parser refuses", func(t *testing.T) {
		for _, c := range []struct{ doc, want string }{
			{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"ce:*",]}`, "at byte"},
			{`{"Version":"2012-10-17","Statement":[{"Effect":"Perhaps","Action":"ce:*","Resource":"*"}]}`, "Statement[0].Effect"},
			{`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"GetCostAndUsage","Resource":"*"}]}`, "Statement[0].Action"},
		} {
			status, body := root.post("/console/access/policies", url.Values{"csrf": {csrf}, "new": {"1"}, "name": {"broken"}, "document": {c.doc}})
			body = html.UnescapeString(body)
			if status != http.StatusBadRequest || !strings.Contains(body, `id="policy-error"`) || !strings.Contains(body, "The policy was not saved: policy: ") || !strings.Contains(body, c.want) {
				t.Errorf("%s: %d, want 400 with the parser's message naming %q: %.1500s", c.doc, status, c.want, body)
			}
			if !strings.Contains(body, c.doc) {
				t.Errorf("the editor lost the document the user typed")
			}
		}
		for _, pol := range ts.Directory.Policies(mgmtAccount) {
			if pol.Name == "broken" {
				t.Errorf("a refused policy was saved: %+v", pol)
			}
		}
	})

	doc := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["ce:GetCostAndUsage"],"Resource":"*"}]}`
	if status, loc := root.post("/console/access/policies", url.Values{"csrf": {csrf}, "new": {"1"}, "name": {"cost-readers"}, "document": {doc}}); status != http.StatusSeeOther || !strings.HasPrefix(loc, "/console/access/policies/cost-readers") {
		t.Fatalf("save policy = %d %s", status, loc)
	}
	if _, body := root.get("/console/access/policies/cost-readers"); !strings.Contains(html.UnescapeString(body), doc) || !strings.Contains(body, `id="save-policy"`) {
		t.Errorf("the policy page does not show the document in the editor: %.600s", body)
	}
	if status, _ := root.post("/console/access/principals/"+p.ID+"/policies", url.Values{"csrf": {csrf}, "policy": {"cost-readers"}}); status != http.StatusSeeOther {
		t.Fatalf("attach = %d", status)
	}
	if got := ts.Directory.AttachedPolicyNames(p.ID); len(got) != 1 || got[0] != "cost-readers" {
		t.Fatalf("attached = %v", got)
	}
	if _, body := root.get("/console/access/policies/cost-readers"); !strings.Contains(body, `<a href="/console/access/principals/`+p.ID+`">arn:aws:iam::123456789012:user/analyst</a>`) {
		t.Errorf("the policy page does not list the principal it is attached to: %.1500s", body)
	}

	// An access key: the secret once, with the warning; it signs in.
	status, body := root.post("/console/access/principals/"+p.ID+"/access-keys", url.Values{"csrf": {csrf}})
	m := secretRE.FindStringSubmatch(body)
	if status != http.StatusOK || m == nil || !strings.Contains(body, "only time the secret is shown") {
		t.Fatalf("create access key = %d %.1200s", status, body)
	}
	keys := ts.Directory.AccessKeys(p.ID)
	if len(keys) != 1 {
		t.Fatalf("keys = %+v", keys)
	}
	analyst := ts.consoleClient(t)
	if got := analyst.signIn(keys[0].ID, html.UnescapeString(m[1])); got != http.StatusSeeOther {
		t.Fatalf("sign-in with the new key = %d", got)
	}
	if _, body := root.get("/console/access/principals/" + p.ID); strings.Contains(body, m[1]) {
		t.Error("the secret is shown again")
	}
	if status, _ := root.post("/console/access/access-keys/"+keys[0].ID, url.Values{"csrf": {csrf}, "status": {"Inactive"}}); status != http.StatusSeeOther {
		t.Fatalf("deactivate = %d", status)
	}
	if _, found := ts.Principals.ByAccessKey(keys[0].ID); found {
		t.Error("the key is still active after Deactivate")
	}
	if status, _ := analyst.get("/console/"); status != http.StatusSeeOther {
		t.Errorf("a session of a deactivated key = %d, want the sign-in redirect", status)
	}
	if status, _ := root.post("/console/access/access-keys/"+keys[0].ID, url.Values{"csrf": {csrf}, "status": {"Active"}}); status != http.StatusSeeOther {
		t.Fatalf("activate = %d", status)
	}
	if _, found := ts.Principals.ByAccessKey(keys[0].ID); !found {
		t.Error("the key is inactive after Activate")
	}

	// A Bedrock API key: shown once, then revoked.
	status, body = root.post("/console/access/principals/"+p.ID+"/api-keys", url.Values{"csrf": {csrf}})
	if m := secretRE.FindStringSubmatch(body); status != http.StatusOK || m == nil {
		t.Fatalf("create API key = %d %.800s", status, body)
	} else if _, found := ts.Principals.ByAPIKey(html.UnescapeString(m[1])); !found {
		t.Error("the API key shown does not authenticate")
	}
	api := ts.Directory.APIKeys(p.ID)
	if status, _ := root.post("/console/access/api-keys/"+api[0].ID+"/revoke", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
		t.Fatalf("revoke = %d", status)
	}
	if api := ts.Directory.APIKeys(p.ID); api[0].Status != principal.Inactive {
		t.Errorf("API key after revoke: %+v", api[0])
	}
	if status, _ := root.post("/console/access/principals/"+p.ID+"/policies/cost-readers/detach", url.Values{"csrf": {csrf}}); status != http.StatusSeeOther {
		t.Fatalf("detach = %d", status)
	}
	if got := ts.Directory.AttachedPolicyNames(p.ID); len(got) != 0 {
		t.Errorf("attached after detach = %v", got)
	}
	// Absent: a key that does not exist is NotFound to whoever may act.
	if status, _ := root.post("/console/access/access-keys/AKIANOSUCHKEY0000000", url.Values{"csrf": {csrf}, "status": {"Inactive"}}); status != http.StatusNotFound {
		t.Errorf("deactivate a missing key = %d, want 404", status)
	}
	// A forged request without the CSRF token changes nothing.
	if status, _ := root.post("/console/access/principals/"+p.ID+"/policies", url.Values{"policy": {"cost-readers"}}); status != http.StatusForbidden || len(ts.Directory.AttachedPolicyNames(p.ID)) != 0 {
		t.Errorf("attach without CSRF = %d", status)
	}
}

// TestConsoleAccessRules checks the admin API's three rules through the
// console: a non-root administrator (tollgate:* on *) cannot deactivate
// the root's key, attach or detach its own policies or edit a policy
// attached to itself; an administrator of account B can neither see nor
// touch account A; a principal that does not exist is NotFound only to
// whoever may act on it.
func TestConsoleAccessRules(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	const b = "222222222222"
	ts.mustCLI(t, nil, "accounts", "create", "--id", b, "--name", "b")
	ts.putPolicy(t, mgmtAccount, "admin", adminDoc)
	ts.putPolicy(t, mgmtAccount, "spare", adminDoc)
	ts.putPolicy(t, b, "admin", adminDoc)
	adaID, key, secret := ts.newUser(t, mgmtAccount, "ada", []string{"admin"})
	ada := ts.consoleClient(t)
	if got := ada.signIn(key, secret); got != http.StatusSeeOther {
		t.Fatalf("ada sign-in = %d", got)
	}
	bobID, _, _ := ts.newUser(t, mgmtAccount, "bob", nil)
	csrf := ada.csrf("/console/access")
	refused := func(t *testing.T, c *consoleClient, path string, form url.Values, action, why string) {
		t.Helper()
		status, body := c.post(path, form)
		body = html.UnescapeString(body)
		if status != http.StatusForbidden || !strings.Contains(body, "<code>"+action+"</code>") || !strings.Contains(body, why) {
			t.Errorf("POST %s: %d %.500s, want 403 naming %s (%s)", path, status, body, action, why)
		}
	}
	t.Run("root", func(t *testing.T) {
		refused(t, ada, "/console/access/access-keys/"+ts.RootAccessKeyID, url.Values{"csrf": {csrf}, "status": {"Inactive"}}, "tollgate:UpdateAccessKey", "an account's root is managed only by itself")
		refused(t, ada, "/console/access/principals/"+principal.RootID(mgmtAccount)+"/access-keys", url.Values{"csrf": {csrf}}, "tollgate:CreateAccessKey", "an account's root is managed only by itself")
		if _, found := ts.Principals.ByAccessKey(ts.RootAccessKeyID); !found || len(ts.Directory.AccessKeys(principal.RootID(mgmtAccount))) != 1 {
			t.Error("the root's keys changed")
		}
	})
	t.Run("self", func(t *testing.T) {
		refused(t, ada, "/console/access/principals/"+adaID+"/policies", url.Values{"csrf": {csrf}, "policy": {"spare"}}, "tollgate:AttachPolicy", "may not change its own tags or policies")
		refused(t, ada, "/console/access/principals/"+adaID+"/policies/admin/detach", url.Values{"csrf": {csrf}}, "tollgate:DetachPolicy", "may not change its own tags or policies")
		refused(t, ada, "/console/access/policies", url.Values{"csrf": {csrf}, "name": {"admin"}, "document": {`{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`}}, "tollgate:PutPolicy", "may not change a policy attached to itself")
		refused(t, ada, "/console/access/principals", url.Values{"csrf": {csrf}, "name": {"ada"}, "kind": {"user"}, "tags": {"team=all"}}, "tollgate:CreatePrincipal", "may not change its own tags or policies")
		if got := ts.Directory.AttachedPolicyNames(adaID); len(got) != 1 || got[0] != "admin" {
			t.Errorf("ada's policies = %v", got)
		}
		if _, body := ada.get("/console/access/policies/admin"); !strings.Contains(body, "may not change a policy attached to itself") || strings.Contains(body, `id="save-policy"`) {
			t.Errorf("ada's own policy is offered for editing: %.600s", body)
		}
		// Others, ada administers.
		if status, _ := ada.post("/console/access/principals/"+bobID+"/policies", url.Values{"csrf": {csrf}, "policy": {"spare"}}); status != http.StatusSeeOther {
			t.Errorf("ada attaching to bob = %d", status)
		}
	})
	t.Run("other account", func(t *testing.T) {
		_, key, secret := ts.newUser(t, b, "dave", []string{"admin"})
		dave := ts.consoleClient(t)
		if got := dave.signIn(key, secret); got != http.StatusSeeOther {
			t.Fatalf("dave sign-in = %d", got)
		}
		status, body := dave.get("/console/access")
		if status != http.StatusOK || strings.Contains(body, mgmtAccount) || strings.Contains(body, "ada") || !strings.Contains(body, "dave") {
			t.Errorf("account B's Access page (%d) shows account A or lacks B: %.1500s", status, body)
		}
		dcsrf := dave.csrf("/console/access")
		for _, c := range []struct{ path, action string }{
			{"/console/access/principals/" + adaID + "/access-keys", "tollgate:CreateAccessKey"},
			{"/console/access/principals/" + bobID + "/policies/spare/detach", "tollgate:DetachPolicy"},
			{"/console/access/access-keys/" + ts.Directory.AccessKeys(adaID)[0].ID, "tollgate:UpdateAccessKey"},
		} {
			refused(t, dave, c.path, url.Values{"csrf": {dcsrf}, "status": {"Inactive"}}, c.action, "only the management account's root administers account "+mgmtAccount)
		}
		if status, body := dave.get("/console/access/principals/" + adaID); status != http.StatusForbidden || strings.Contains(body, "ada") && strings.Contains(body, "admin</a>") {
			t.Errorf("account B's admin reading account A's principal = %d", status)
		}
		// A principal of A that does not exist is not told apart from one
		// that does.
		if status, _ := dave.get("/console/access/principals/user-" + mgmtAccount + "-nosuch"); status != http.StatusForbidden {
			t.Errorf("account B's admin reading a missing principal of A = %d, want 403", status)
		}
		if status, _ := ada.get("/console/access/principals/user-" + mgmtAccount + "-nosuch"); status != http.StatusNotFound {
			t.Errorf("ada reading a missing principal of her account = %d, want 404", status)
		}
		if _, found := ts.Principals.ByAccessKey(ts.Directory.AccessKeys(adaID)[0].ID); !found || len(ts.Directory.AttachedPolicyNames(bobID)) != 1 {
			t.Error("account B's admin changed account A")
		}
		// The management root, switched to account B, administers it.
		root := ts.consoleClient(t)
		if got := root.signIn(ts.RootAccessKeyID, ts.RootSecretAccessKey); got != http.StatusSeeOther {
			t.Fatalf("root sign-in = %d", got)
		}
		rcsrf := root.csrf("/console/")
		if status, _ := root.post("/console/account", url.Values{"csrf": {rcsrf}, "account": {b}}); status != http.StatusSeeOther {
			t.Fatalf("switch = %d", status)
		}
		if _, body := root.get("/console/access"); !strings.Contains(body, "arn:aws:iam::"+b+":user/dave") || strings.Contains(body, "user/ada") {
			t.Errorf("the root looking at account B: %.1000s", body)
		}
		if status, loc := root.post("/console/access/principals", url.Values{"csrf": {rcsrf}, "name": {"erin"}, "kind": {"role"}}); status != http.StatusSeeOther || !strings.Contains(loc, "role-"+b+"-erin") {
			t.Errorf("the management root creating a role in account B = %d %s", status, loc)
		}
		// Its own key, the root may deactivate; ada's it may (its account).
		if status, _ := root.post("/console/access/access-keys/"+ts.Directory.AccessKeys(adaID)[0].ID, url.Values{"csrf": {rcsrf}, "status": {"Inactive"}}); status != http.StatusSeeOther {
			t.Errorf("the management root deactivating ada's key = %d", status)
		}
	})
}
