// Package adminapi is Tollgate's own administration API, a small JSON API
// under /tollgate/v1/ for accounts, principals (users and roles), access
// keys, Bedrock API keys, identity policies and application profiles'
// service-tier settings. Requests are signed with
// SigV4 under the signing name "tollgate".
//
// Each operation is authorized as the action "tollgate:<Operation>" on the
// ARN of the resource it touches, in IAM's forms (see Routes and
// docs/access-control.md):
//
//	a user or role, its keys and attachments  arn:aws:iam::ACCOUNT:user/NAME, arn:aws:iam::ACCOUNT:role/NAME
//	the root (GetPrincipal only)              arn:aws:iam::ACCOUNT:root
//	a policy                                  arn:aws:iam::ACCOUNT:policy/NAME
//	the principals of an account (list)       arn:aws:iam::ACCOUNT:*
//	the policies of an account (list)         arn:aws:iam::ACCOUNT:policy/*
//	an account (create)                       arn:aws:organizations::MANAGEMENT:account/ACCOUNT
//	the accounts (list)                       *
//	an application profile's tier settings     arn:aws:bedrock:REGION:ACCOUNT:application-inference-profile/ID
//
// AttachPolicy and DetachPolicy carry the condition key iam:PolicyARN, and
// CreatePrincipal carries aws:RequestTag/* and aws:TagKeys for the
// principal tags it sets.
//
// Beyond the policy, three rules hold for every caller but an account's
// root, so that no principal grants itself more than it has:
//
//   - an account's root is managed only by itself: nobody else creates,
//     lists, activates, deactivates or revokes its keys or changes its
//     attachments;
//   - a principal never changes its own power: it may not create (retag)
//     itself, attach a policy to or detach one from itself, or put a policy
//     attached to itself;
//   - another account is administered only by the management account's
//     root; any other caller acts within its own account only.
package adminapi

import (
	"net/http"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// SigningName is the SigV4 service name of the admin API.
const SigningName = "tollgate"

// Handler serves the admin API.
type Handler struct {
	dir    *principal.Directory
	tiers  *profile.Tiers // nil: the profile tier operations answer Unavailable
	models ModelRouter    // nil: GetModelRoutes answers Unavailable
}

// New returns a Handler over the principal directory.
func New(dir *principal.Directory) *Handler { return &Handler{dir: dir} }

// Route is one admin operation: its HTTP pattern and its name, the
// action "tollgate:<Op>".
type Route = awsproto.Route

// target is what an operation acts on (see Target in rules.go).
type target = Target

type route struct {
	Route
	resolve func(r *http.Request) (target, error)
	serve   func(w http.ResponseWriter, r *http.Request, t target) error
}

func (h *Handler) routes() []route {
	return append([]route{
		{Route{Pattern: "GET /tollgate/v1/accounts", Op: "ListAccounts"}, h.anything, h.listAccounts},
		{Route{Pattern: "POST /tollgate/v1/accounts", Op: "CreateAccount"}, h.newAccount, h.createAccount},
		{Route{Pattern: "GET /tollgate/v1/principals", Op: "ListPrincipals"}, h.queryAccount(PrincipalsTarget), h.listPrincipals},
		{Route{Pattern: "POST /tollgate/v1/principals", Op: "CreatePrincipal"}, h.newPrincipal, h.createPrincipal},
		{Route{Pattern: "GET /tollgate/v1/principals/{id}", Op: "GetPrincipal"}, h.pathPrincipal(false), h.getPrincipal},
		{Route{Pattern: "POST /tollgate/v1/principals/{id}/access-keys", Op: "CreateAccessKey"}, h.pathPrincipal(false), h.createAccessKey},
		{Route{Pattern: "GET /tollgate/v1/principals/{id}/access-keys", Op: "ListAccessKeys"}, h.pathPrincipal(false), h.listAccessKeys},
		{Route{Pattern: "POST /tollgate/v1/access-keys/{key}", Op: "UpdateAccessKey"}, h.accessKeyOwner, h.updateAccessKey},
		{Route{Pattern: "POST /tollgate/v1/principals/{id}/api-keys", Op: "CreateAPIKey"}, h.pathPrincipal(false), h.createAPIKey},
		{Route{Pattern: "DELETE /tollgate/v1/api-keys/{key}", Op: "RevokeAPIKey"}, h.apiKeyOwner, h.revokeAPIKey},
		{Route{Pattern: "GET /tollgate/v1/policies", Op: "ListPolicies"}, h.queryAccount(PoliciesTarget), h.listPolicies},
		{Route{Pattern: "PUT /tollgate/v1/policies/{account}/{name}", Op: "PutPolicy"}, h.pathPolicy, h.putPolicy},
		{Route{Pattern: "POST /tollgate/v1/principals/{id}/policies", Op: "AttachPolicy"}, h.attachment, h.attachPolicy},
		{Route{Pattern: "DELETE /tollgate/v1/principals/{id}/policies/{name}", Op: "DetachPolicy"}, h.attachment, h.detachPolicy},
	}, append(h.tierRoutes(), h.modelRoutes()...)...)
}

// Routes lists the admin operations the handler registers.
func Routes() []Route {
	var out []Route
	for _, r := range (&Handler{}).routes() {
		out = append(out, r.Route)
	}
	return out
}

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	for _, rt := range h.routes() {
		mux.Handle(rt.Pattern, h.wrap(rt))
	}
	mux.HandleFunc("/tollgate/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errkind.New(errkind.NotFound, "No admin operation matches %s %s.", r.Method, r.URL.Path))
	})
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, err)
}

// wrap resolves the operation's target, authorizes the caller on it and
// only then serves it.
func (h *Handler) wrap(rt route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := awsproto.Info(r.Context())
		info.Service, info.Op = "tollgate", rt.Op
		t, err := rt.resolve(r)
		if err == nil {
			err = h.authorize(r, rt.Op, t)
		}
		if err == nil && t.Missing != nil {
			err = t.Missing
		}
		if err == nil {
			err = rt.serve(w, r, t)
		}
		if err != nil {
			writeError(w, r, err)
		}
	})
}

// authorize applies the account, root and self rules of the package
// comment, then the caller's policies, to action "tollgate:"+op on t
// (Rules.Authorize, shared with the console's Access page).
func (h *Handler) authorize(r *http.Request, op string, t target) error {
	caller := awsproto.Info(r.Context()).Identity.Principal
	check := func(action, resource string, keys map[string][]string) error {
		return awsproto.Authorize(r.Context(), action, resource, keys)
	}
	if caller == nil {
		return check(Action(op), t.ARN, t.Keys)
	}
	return Rules{Dir: h.dir}.Authorize(caller, op, t, check)
}

func ok(w http.ResponseWriter, status int, v any) error {
	return awsproto.WriteJSON(w, status, "application/json", v)
}

// visible reports whether the caller may see account: its own, or any
// when it is the management account's root.
func (h *Handler) visible(r *http.Request, account string) bool {
	caller := awsproto.Info(r.Context()).Identity.Principal
	if caller == nil {
		return true // handlers tested alone
	}
	return Rules{Dir: h.dir}.Visible(caller, account)
}

// The resolvers below find each operation's target.

func (h *Handler) anything(*http.Request) (target, error) { return AnyTarget(), nil }

func (h *Handler) newAccount(r *http.Request) (target, error) {
	var in Account
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return target{}, err
	}
	if awsproto.Account(r.Context()) != h.dir.Management() {
		return target{}, errkind.New(errkind.Denied, "Only the management account may create accounts.")
	}
	// The new account is another account: only the management account's
	// root creates it.
	return AccountTarget(h.dir.Management(), in.AccountID), nil
}

// queryAccount targets the account named by ?account= (default: the
// caller's) through the ARN mk builds.
func (h *Handler) queryAccount(mk func(account string) target) func(r *http.Request) (target, error) {
	return func(r *http.Request) (target, error) {
		account := r.URL.Query().Get("account")
		if account == "" {
			account = awsproto.Account(r.Context())
		}
		return mk(account), nil
	}
}

func (h *Handler) newPrincipal(r *http.Request) (target, error) {
	in, err := decodePrincipal(r)
	if err != nil {
		return target{}, err
	}
	return NewPrincipalTarget(in.Account, principal.Kind(in.Kind), in.Name, tags.Set(in.Tags))
}

// pathPrincipal targets the principal named in the path.
func (h *Handler) pathPrincipal(empowers bool) func(r *http.Request) (target, error) {
	return func(r *http.Request) (target, error) {
		p, found := h.dir.Principal(r.PathValue("id"))
		if !found {
			return h.absent(r, r.PathValue("id"), errkind.New(errkind.NotFound, "Principal %s does not exist.", r.PathValue("id")))
		}
		t := PrincipalTarget(p)
		t.Empowers = empowers
		return t, nil
	}
}

func (h *Handler) accessKeyOwner(r *http.Request) (target, error) {
	id := r.PathValue("key")
	owner, found := h.dir.ByAccessKeyAny(id)
	if !found {
		return h.absent(r, "", errkind.New(errkind.NotFound, "Access key %s does not exist.", id))
	}
	return PrincipalTarget(owner), nil
}

func (h *Handler) apiKeyOwner(r *http.Request) (target, error) {
	id := r.PathValue("key")
	owner, found := h.dir.APIKeyOwner(id)
	if !found {
		return h.absent(r, "", errkind.New(errkind.NotFound, "API key %s does not exist.", id))
	}
	return PrincipalTarget(owner), nil
}

// absent is the target of an operation on a principal or key that does
// not exist (AbsentTarget), id "" for a key.
func (h *Handler) absent(r *http.Request, id string, notFound error) (target, error) {
	return AbsentTarget(awsproto.Account(r.Context()), id, notFound), nil
}

func (h *Handler) pathPolicy(r *http.Request) (target, error) {
	account, name := r.PathValue("account"), r.PathValue("name")
	return PolicyTarget(account, name), nil
}

// attachment targets the principal in the path, with iam:PolicyARN naming
// the policy attached or detached.
func (h *Handler) attachment(r *http.Request) (target, error) {
	name := r.PathValue("name")
	if name == "" {
		var in struct {
			PolicyName string `json:"policyName"`
		}
		if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
			return target{}, err
		}
		name = in.PolicyName
	}
	t, err := h.pathPrincipal(true)(r)
	if err != nil || t.Principal == nil {
		return t, err
	}
	return AttachmentTarget(*t.Principal, name), nil
}

// Account is the wire form of an account.
type Account struct {
	AccountID string    `json:"accountId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

func (h *Handler) listAccounts(w http.ResponseWriter, r *http.Request, _ target) error {
	out := []Account{}
	for _, a := range h.dir.Accounts() {
		if h.visible(r, a.ID) {
			out = append(out, Account{a.ID, a.Name, a.CreatedAt})
		}
	}
	return ok(w, http.StatusOK, map[string]any{"accounts": out})
}

func (h *Handler) createAccount(w http.ResponseWriter, r *http.Request, _ target) error {
	var in Account
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	a, err := h.dir.CreateAccount(r.Context(), in.AccountID, in.Name)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, Account{a.ID, a.Name, a.CreatedAt})
}

// Principal is the wire form of a principal.
type Principal struct {
	ID        string            `json:"principalId"`
	Account   string            `json:"accountId"`
	Name      string            `json:"name"`
	Kind      string            `json:"kind"`
	ARN       string            `json:"arn"`
	Tags      map[string]string `json:"tags"`
	Policies  []string          `json:"policies"`
	CreatedAt time.Time         `json:"createdAt"`
}

func (h *Handler) wire(p principal.Principal) Principal {
	t := map[string]string(p.Tags.Clone())
	pols := h.dir.AttachedPolicyNames(p.ID)
	if pols == nil {
		pols = []string{}
	}
	return Principal{ID: p.ID, Account: p.Account, Name: p.Name, Kind: string(p.Kind), ARN: p.ARN(), Tags: t, Policies: pols, CreatedAt: p.CreatedAt}
}

func (h *Handler) listPrincipals(w http.ResponseWriter, r *http.Request, t target) error {
	out := []Principal{}
	for _, p := range h.dir.Principals(t.Account) {
		out = append(out, h.wire(p))
	}
	return ok(w, http.StatusOK, map[string]any{"principals": out})
}

type principalInput struct {
	Account string            `json:"accountId"`
	Name    string            `json:"name"`
	Kind    string            `json:"kind"`
	Tags    map[string]string `json:"tags"`
}

// decodePrincipal decodes a CreatePrincipal body, with the caller's
// account and the user kind as defaults.
func decodePrincipal(r *http.Request) (principalInput, error) {
	var in principalInput
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return in, err
	}
	if in.Account == "" {
		in.Account = awsproto.Account(r.Context())
	}
	if in.Kind == "" {
		in.Kind = string(principal.User)
	}
	return in, nil
}

func (h *Handler) createPrincipal(w http.ResponseWriter, r *http.Request, _ target) error {
	in, err := decodePrincipal(r)
	if err != nil {
		return err
	}
	p, err := h.dir.CreatePrincipal(r.Context(), in.Account, principal.Kind(in.Kind), in.Name, tags.Set(in.Tags))
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, h.wire(p))
}

func (h *Handler) getPrincipal(w http.ResponseWriter, r *http.Request, t target) error {
	p := *t.Principal
	return ok(w, http.StatusOK, h.wire(p))
}

func (h *Handler) createAccessKey(w http.ResponseWriter, r *http.Request, t target) error {
	p := *t.Principal
	id, secret, err := h.dir.CreateAccessKey(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, map[string]string{"accessKeyId": id, "secretAccessKey": secret, "status": principal.Active, "principalId": p.ID})
}

func (h *Handler) listAccessKeys(w http.ResponseWriter, r *http.Request, t target) error {
	p := *t.Principal
	type key struct {
		ID        string    `json:"accessKeyId"`
		Status    string    `json:"status"`
		CreatedAt time.Time `json:"createdAt"`
	}
	out := []key{}
	for _, k := range h.dir.AccessKeys(p.ID) {
		out = append(out, key{k.ID, k.Status, k.CreatedAt})
	}
	apis := []key{}
	for _, k := range h.dir.APIKeys(p.ID) {
		apis = append(apis, key{k.ID, k.Status, k.CreatedAt})
	}
	return ok(w, http.StatusOK, map[string]any{"accessKeys": out, "apiKeys": apis})
}

func (h *Handler) updateAccessKey(w http.ResponseWriter, r *http.Request, _ target) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	id := r.PathValue("key")
	if err := h.dir.SetAccessKeyStatus(r.Context(), id, in.Status); err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]string{"accessKeyId": id, "status": in.Status})
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request, t target) error {
	p := *t.Principal
	token, err := h.dir.CreateAPIKey(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, map[string]string{"apiKey": token, "principalId": p.ID})
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request, _ target) error {
	id := r.PathValue("key")
	if err := h.dir.RevokeAPIKey(r.Context(), id); err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]string{"apiKeyId": id, "status": principal.Inactive})
}

// Policy is the wire form of a policy.
type Policy struct {
	Account   string    `json:"accountId"`
	Name      string    `json:"name"`
	Document  string    `json:"document"`
	UpdatedAt time.Time `json:"updatedAt"`
}

func (h *Handler) listPolicies(w http.ResponseWriter, r *http.Request, t target) error {
	out := []Policy{}
	for _, p := range h.dir.Policies(t.Account) {
		out = append(out, Policy{p.Account, p.Name, p.Document, p.UpdatedAt})
	}
	return ok(w, http.StatusOK, map[string]any{"policies": out})
}

func (h *Handler) putPolicy(w http.ResponseWriter, r *http.Request, t target) error {
	account, name := t.Account, t.PolicyName
	doc := string(awsproto.Info(r.Context()).Body)
	if err := h.dir.PutPolicy(r.Context(), account, name, doc); err != nil {
		return err
	}
	return ok(w, http.StatusOK, Policy{Account: account, Name: name, Document: doc, UpdatedAt: time.Now().UTC()})
}

func (h *Handler) attachPolicy(w http.ResponseWriter, r *http.Request, t target) error {
	var in struct {
		PolicyName string `json:"policyName"`
	}
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	p := *t.Principal
	if err := h.dir.AttachPolicy(r.Context(), p.ID, in.PolicyName); err != nil {
		return err
	}
	p, _ = h.dir.Principal(p.ID)
	return ok(w, http.StatusOK, h.wire(p))
}

func (h *Handler) detachPolicy(w http.ResponseWriter, r *http.Request, t target) error {
	p := *t.Principal
	if err := h.dir.DetachPolicy(r.Context(), p.ID, r.PathValue("name")); err != nil {
		return err
	}
	p, _ = h.dir.Principal(p.ID)
	return ok(w, http.StatusOK, h.wire(p))
}
