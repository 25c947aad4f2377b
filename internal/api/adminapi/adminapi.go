// Package adminapi is Tollgate's own administration API, a small JSON API
// under /tollgate/v1/ for accounts, principals (users and roles), access
// keys, Bedrock API keys and identity policies. Requests are signed with
// SigV4 under the signing name "tollgate"; each operation is authorized as
// the action "tollgate:<Operation>", so an account's root may do everything
// and other principals need a policy. Only the management account may
// manage other accounts.
package adminapi

import (
	"net/http"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// SigningName is the SigV4 service name of the admin API.
const SigningName = "tollgate"

// Handler serves the admin API.
type Handler struct {
	dir *principal.Directory
}

// New returns a Handler over the principal directory.
func New(dir *principal.Directory) *Handler { return &Handler{dir: dir} }

// Register adds the routes to mux.
func (h *Handler) Register(mux *http.ServeMux) {
	mux.Handle("GET /tollgate/v1/accounts", h.wrap("ListAccounts", h.listAccounts))
	mux.Handle("POST /tollgate/v1/accounts", h.wrap("CreateAccount", h.createAccount))
	mux.Handle("GET /tollgate/v1/principals", h.wrap("ListPrincipals", h.listPrincipals))
	mux.Handle("POST /tollgate/v1/principals", h.wrap("CreatePrincipal", h.createPrincipal))
	mux.Handle("GET /tollgate/v1/principals/{id}", h.wrap("GetPrincipal", h.getPrincipal))
	mux.Handle("POST /tollgate/v1/principals/{id}/access-keys", h.wrap("CreateAccessKey", h.createAccessKey))
	mux.Handle("GET /tollgate/v1/principals/{id}/access-keys", h.wrap("ListAccessKeys", h.listAccessKeys))
	mux.Handle("POST /tollgate/v1/access-keys/{key}", h.wrap("UpdateAccessKey", h.updateAccessKey))
	mux.Handle("POST /tollgate/v1/principals/{id}/api-keys", h.wrap("CreateAPIKey", h.createAPIKey))
	mux.Handle("DELETE /tollgate/v1/api-keys/{key}", h.wrap("RevokeAPIKey", h.revokeAPIKey))
	mux.Handle("GET /tollgate/v1/policies", h.wrap("ListPolicies", h.listPolicies))
	mux.Handle("PUT /tollgate/v1/policies/{account}/{name}", h.wrap("PutPolicy", h.putPolicy))
	mux.Handle("POST /tollgate/v1/principals/{id}/policies", h.wrap("AttachPolicy", h.attachPolicy))
	mux.Handle("DELETE /tollgate/v1/principals/{id}/policies/{name}", h.wrap("DetachPolicy", h.detachPolicy))
	mux.HandleFunc("/tollgate/v1/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, r, errkind.New(errkind.NotFound, "No admin operation matches %s %s.", r.Method, r.URL.Path))
	})
}

func writeError(w http.ResponseWriter, r *http.Request, err error) {
	awsproto.WriteRestJSONError(w, r, awsproto.BedrockCodes, err)
}

func (h *Handler) wrap(op string, f func(w http.ResponseWriter, r *http.Request) error) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := awsproto.Info(r.Context())
		info.Service, info.Op = "tollgate", op
		err := awsproto.Authorize(r.Context(), "tollgate:"+op, "*", nil)
		if err == nil {
			err = f(w, r)
		}
		if err != nil {
			writeError(w, r, err)
		}
	})
}

func ok(w http.ResponseWriter, status int, v any) error {
	return awsproto.WriteJSON(w, status, "application/json", v)
}

// scope checks that the caller may manage account: its own, or any from
// the management account.
func (h *Handler) scope(r *http.Request, account string) error {
	caller := awsproto.Account(r.Context())
	if account == caller || caller == h.dir.Management() {
		return nil
	}
	return errkind.New(errkind.Denied, "Only the management account may manage account %s.", account)
}

// Account is the wire form of an account.
type Account struct {
	AccountID string    `json:"accountId"`
	Name      string    `json:"name"`
	CreatedAt time.Time `json:"createdAt"`
}

func (h *Handler) listAccounts(w http.ResponseWriter, r *http.Request) error {
	out := []Account{}
	for _, a := range h.dir.Accounts() {
		if h.scope(r, a.ID) == nil {
			out = append(out, Account{a.ID, a.Name, a.CreatedAt})
		}
	}
	return ok(w, http.StatusOK, map[string]any{"accounts": out})
}

func (h *Handler) createAccount(w http.ResponseWriter, r *http.Request) error {
	var in Account
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	if awsproto.Account(r.Context()) != h.dir.Management() {
		return errkind.New(errkind.Denied, "Only the management account may create accounts.")
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

func (h *Handler) listPrincipals(w http.ResponseWriter, r *http.Request) error {
	account := r.URL.Query().Get("account")
	if account == "" {
		account = awsproto.Account(r.Context())
	}
	if err := h.scope(r, account); err != nil {
		return err
	}
	out := []Principal{}
	for _, p := range h.dir.Principals(account) {
		out = append(out, h.wire(p))
	}
	return ok(w, http.StatusOK, map[string]any{"principals": out})
}

func (h *Handler) createPrincipal(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Account string            `json:"accountId"`
		Name    string            `json:"name"`
		Kind    string            `json:"kind"`
		Tags    map[string]string `json:"tags"`
	}
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	if in.Account == "" {
		in.Account = awsproto.Account(r.Context())
	}
	if err := h.scope(r, in.Account); err != nil {
		return err
	}
	if in.Kind == "" {
		in.Kind = string(principal.User)
	}
	p, err := h.dir.CreatePrincipal(r.Context(), in.Account, principal.Kind(in.Kind), in.Name, tags.Set(in.Tags))
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, h.wire(p))
}

// principal finds the principal named in the path and checks scope.
func (h *Handler) principal(r *http.Request) (principal.Principal, error) {
	p, found := h.dir.Principal(r.PathValue("id"))
	if !found {
		return principal.Principal{}, errkind.New(errkind.NotFound, "Principal %s does not exist.", r.PathValue("id"))
	}
	return p, h.scope(r, p.Account)
}

func (h *Handler) getPrincipal(w http.ResponseWriter, r *http.Request) error {
	p, err := h.principal(r)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, h.wire(p))
}

func (h *Handler) createAccessKey(w http.ResponseWriter, r *http.Request) error {
	p, err := h.principal(r)
	if err != nil {
		return err
	}
	id, secret, err := h.dir.CreateAccessKey(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, map[string]string{"accessKeyId": id, "secretAccessKey": secret, "status": principal.Active, "principalId": p.ID})
}

func (h *Handler) listAccessKeys(w http.ResponseWriter, r *http.Request) error {
	p, err := h.principal(r)
	if err != nil {
		return err
	}
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

func (h *Handler) updateAccessKey(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		Status string `json:"status"`
	}
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	id := r.PathValue("key")
	owner, found := h.dir.ByAccessKeyAny(id)
	if !found {
		return errkind.New(errkind.NotFound, "Access key %s does not exist.", id)
	}
	if err := h.scope(r, owner.Account); err != nil {
		return err
	}
	if err := h.dir.SetAccessKeyStatus(r.Context(), id, in.Status); err != nil {
		return err
	}
	return ok(w, http.StatusOK, map[string]string{"accessKeyId": id, "status": in.Status})
}

func (h *Handler) createAPIKey(w http.ResponseWriter, r *http.Request) error {
	p, err := h.principal(r)
	if err != nil {
		return err
	}
	token, err := h.dir.CreateAPIKey(r.Context(), p.ID)
	if err != nil {
		return err
	}
	return ok(w, http.StatusCreated, map[string]string{"apiKey": token, "principalId": p.ID})
}

func (h *Handler) revokeAPIKey(w http.ResponseWriter, r *http.Request) error {
	id := r.PathValue("key")
	owner, found := h.dir.APIKeyOwner(id)
	if !found {
		return errkind.New(errkind.NotFound, "API key %s does not exist.", id)
	}
	if err := h.scope(r, owner.Account); err != nil {
		return err
	}
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

func (h *Handler) listPolicies(w http.ResponseWriter, r *http.Request) error {
	account := r.URL.Query().Get("account")
	if account == "" {
		account = awsproto.Account(r.Context())
	}
	if err := h.scope(r, account); err != nil {
		return err
	}
	out := []Policy{}
	for _, p := range h.dir.Policies(account) {
		out = append(out, Policy{p.Account, p.Name, p.Document, p.UpdatedAt})
	}
	return ok(w, http.StatusOK, map[string]any{"policies": out})
}

func (h *Handler) putPolicy(w http.ResponseWriter, r *http.Request) error {
	account, name := r.PathValue("account"), r.PathValue("name")
	if err := h.scope(r, account); err != nil {
		return err
	}
	doc := string(awsproto.Info(r.Context()).Body)
	if err := h.dir.PutPolicy(r.Context(), account, name, doc); err != nil {
		return err
	}
	return ok(w, http.StatusOK, Policy{Account: account, Name: name, Document: doc, UpdatedAt: time.Now().UTC()})
}

func (h *Handler) attachPolicy(w http.ResponseWriter, r *http.Request) error {
	var in struct {
		PolicyName string `json:"policyName"`
	}
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	p, err := h.principal(r)
	if err != nil {
		return err
	}
	if err := h.dir.AttachPolicy(r.Context(), p.ID, in.PolicyName); err != nil {
		return err
	}
	p, _ = h.dir.Principal(p.ID)
	return ok(w, http.StatusOK, h.wire(p))
}

func (h *Handler) detachPolicy(w http.ResponseWriter, r *http.Request) error {
	p, err := h.principal(r)
	if err != nil {
		return err
	}
	if err := h.dir.DetachPolicy(r.Context(), p.ID, r.PathValue("name")); err != nil {
		return err
	}
	p, _ = h.dir.Principal(p.ID)
	return ok(w, http.StatusOK, h.wire(p))
}
