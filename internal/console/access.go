package console

import (
	"context"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Admin is the directory the Access page administers
// (principal.Directory), through the same operations as the admin API.
type Admin interface {
	adminapi.RulesDirectory
	Accounts() []principal.Account
	Principals(account string) []principal.Principal
	CreatePrincipal(ctx context.Context, account string, kind principal.Kind, name string, t tags.Set) (principal.Principal, error)
	CreateAccessKey(ctx context.Context, principalID string) (id, secret string, err error)
	SetAccessKeyStatus(ctx context.Context, keyID, status string) error
	AccessKeys(principalID string) []principal.AccessKey
	ByAccessKeyAny(keyID string) (principal.Principal, bool)
	CreateAPIKey(ctx context.Context, principalID string) (string, error)
	APIKeys(principalID string) []principal.APIKey
	APIKeyOwner(id string) (principal.Principal, bool)
	RevokeAPIKey(ctx context.Context, id string) error
	Policies(account string) []principal.PolicyDoc
	PutPolicy(ctx context.Context, account, name, document string) error
	AttachPolicy(ctx context.Context, principalID, policyName string) error
	DetachPolicy(ctx context.Context, principalID, policyName string) error
}

// The Access page's actions are the admin API's operations, authorized by
// the API's own decision (adminapi.Rules): the same action
// "tollgate:<Op>", target ARN and condition keys, the three rules (only
// the root manages the root; no principal changes its own power; only the
// management root acts in other accounts) and the absent rule.

// adminAuthorize decides whether the caller may perform admin operation
// op on t, exactly as the admin API does.
func (h *Handler) adminAuthorize(q *req, op string, t adminapi.Target) error {
	return adminapi.Rules{Dir: h.opts.Admin}.Authorize(q.id.Principal, op, t, func(action, resource string, keys map[string][]string) error {
		return h.authorize(q, action, resource, keys)
	})
}

// adminDenied is the not-authorized panel of op on t, naming the rule
// that refused it, if one did.
func (h *Handler) adminDenied(q *req, op string, t adminapi.Target) *denied {
	return &denied{Action: adminapi.Action(op), Resource: t.ARN, Why: adminapi.Rules{Dir: h.opts.Admin}.Refusal(q.id.Principal, op, t)}
}

// adminGuard is guard for an admin operation.
func (h *Handler) adminGuard(q *req, op string, t adminapi.Target, load func() (any, error)) panel {
	if h.adminAuthorize(q, op, t) != nil {
		return panel{Denied: h.adminDenied(q, op, t)}
	}
	v, err := load()
	if err != nil {
		return panel{Err: h.message(q.Request, err)}
	}
	return panel{Data: v}
}

// adminAction authorizes op on t for a POST; when refused it answers 403
// with the panel and returns false. A target whose principal or key does
// not exist answers its NotFound only once authorized.
func (h *Handler) adminAction(w http.ResponseWriter, q *req, op string, t adminapi.Target) bool {
	if h.adminAuthorize(q, op, t) != nil {
		h.render(w, q.Request, http.StatusForbidden, "error", h.newView(q, "access", "Not authorized",
			errorPage{Heading: "Not authorized", Denied: h.adminDenied(q, op, t)}))
		return false
	}
	if t.Missing != nil {
		h.renderError(w, q.Request, q, http.StatusNotFound, "Not found", h.message(q.Request, t.Missing))
		return false
	}
	return true
}

// adminReader reports whether the caller may use at least one admin read
// (the Access entry of the navigation is shown only then).
func (h *Handler) adminReader(q *req) bool {
	if h.opts.Admin == nil {
		return false
	}
	return h.adminAuthorize(q, "ListAccounts", adminapi.AnyTarget()) == nil ||
		h.adminAuthorize(q, "ListPrincipals", adminapi.PrincipalsTarget(q.account)) == nil ||
		h.adminAuthorize(q, "ListPolicies", adminapi.PoliciesTarget(q.account)) == nil
}

type principalRow struct {
	principal.Principal
	TagList  []tags.Tag
	Policies []string
}

type accessPage struct {
	Account    string
	Accounts   panel
	Principals panel
	Policies   panel
	Form       principalForm
}

type principalForm struct {
	Name, Kind, Tags, Error string
}

// access is the Access page: the accounts the caller sees, the principals
// of the account looked at with their tags and policies, its policies.
func (h *Handler) access(w http.ResponseWriter, q *req) {
	h.showAccess(w, q, http.StatusOK, principalForm{Kind: string(principal.User)})
}

func (h *Handler) showAccess(w http.ResponseWriter, q *req, status int, f principalForm) {
	p := accessPage{Account: q.account, Form: f}
	p.Accounts = h.adminGuard(q, "ListAccounts", adminapi.AnyTarget(), func() (any, error) {
		var out []principal.Account
		for _, a := range h.opts.Admin.Accounts() {
			if (adminapi.Rules{Dir: h.opts.Admin}).Visible(q.id.Principal, a.ID) {
				out = append(out, a)
			}
		}
		return out, nil
	})
	p.Principals = h.adminGuard(q, "ListPrincipals", adminapi.PrincipalsTarget(q.account), func() (any, error) {
		var out []principalRow
		for _, pr := range h.opts.Admin.Principals(q.account) {
			out = append(out, principalRow{Principal: pr, TagList: pr.Tags.List(), Policies: h.opts.Admin.AttachedPolicyNames(pr.ID)})
		}
		return out, nil
	})
	p.Policies = h.adminGuard(q, "ListPolicies", adminapi.PoliciesTarget(q.account), func() (any, error) {
		return h.opts.Admin.Policies(q.account), nil
	})
	if status == http.StatusOK && p.Accounts.Denied != nil && p.Principals.Denied != nil && p.Policies.Denied != nil {
		status = http.StatusForbidden
	}
	h.render(w, q.Request, status, "access", h.newView(q, "access", "Access", p))
}

// createPrincipal creates (or retags) a user or role (CreatePrincipal).
func (h *Handler) createPrincipal(w http.ResponseWriter, q *req) {
	f := principalForm{Name: strings.TrimSpace(q.PostFormValue("name")), Kind: q.PostFormValue("kind"), Tags: q.PostFormValue("tags")}
	list, err := parseTags(f.Tags)
	if err == nil && f.Kind != string(principal.User) && f.Kind != string(principal.Role) {
		err = errInvalid("A principal is a user or a role.")
	}
	if err != nil {
		f.Error = h.message(q.Request, err)
		h.showAccess(w, q, http.StatusBadRequest, f)
		return
	}
	set := tags.Set{}
	for _, t := range list {
		set[t.Key] = t.Value
	}
	t, err := adminapi.NewPrincipalTarget(q.account, principal.Kind(f.Kind), f.Name, set)
	if err != nil {
		f.Error = h.message(q.Request, err)
		h.showAccess(w, q, http.StatusBadRequest, f)
		return
	}
	if !h.adminAction(w, q, "CreatePrincipal", t) {
		return
	}
	p, err := h.opts.Admin.CreatePrincipal(q.Context(), q.account, principal.Kind(f.Kind), f.Name, set)
	if err != nil {
		f.Error = h.message(q.Request, err)
		h.showAccess(w, q, http.StatusBadRequest, f)
		return
	}
	done(w, q.Request, "/console/access/principals/"+url.PathEscape(p.ID), "Created "+string(p.Kind)+" "+p.Name+".")
}

// principalTarget is the target of an operation on the principal named in
// the path, or the absent target when there is none.
func (h *Handler) principalTarget(q *req) (principal.Principal, adminapi.Target) {
	id := q.PathValue("id")
	p, found := h.opts.Auth.Principal(id)
	if !found {
		return p, adminapi.AbsentTarget(q.id.Principal.Account, id, errkind.New(errkind.NotFound, "Principal %s does not exist.", id))
	}
	return p, adminapi.PrincipalTarget(p)
}

type principalPage struct {
	Panel    panel
	P        principal.Principal
	TagList  []tags.Tag
	Policies []string
	Keys     panel // keysData
	Attach   []string
	// Secret is a key just created, shown once.
	Secret *secretView
}

type keysData struct {
	Access []principal.AccessKey
	API    []principal.APIKey
}

type secretView struct {
	Kind, ID, Secret string
}

// principalDetail shows a principal (GetPrincipal), its keys
// (ListAccessKeys) and attached policies.
func (h *Handler) principalDetail(w http.ResponseWriter, q *req) {
	h.showPrincipal(w, q, nil)
}

func (h *Handler) showPrincipal(w http.ResponseWriter, q *req, secret *secretView) {
	p, t := h.principalTarget(q)
	var d principalPage
	if h.adminAuthorize(q, "GetPrincipal", t) != nil {
		d.Panel = panel{Denied: h.adminDenied(q, "GetPrincipal", t)}
		h.render(w, q.Request, http.StatusForbidden, "principal", h.newView(q, "access", "Principal", d))
		return
	}
	if t.Missing != nil {
		h.renderError(w, q.Request, q, http.StatusNotFound, "No such principal", h.message(q.Request, t.Missing))
		return
	}
	d.Panel = panel{Data: true}
	d.P, d.TagList, d.Policies, d.Secret = p, p.Tags.List(), h.opts.Admin.AttachedPolicyNames(p.ID), secret
	d.Keys = h.adminGuard(q, "ListAccessKeys", t, func() (any, error) {
		return keysData{Access: h.opts.Admin.AccessKeys(p.ID), API: h.opts.Admin.APIKeys(p.ID)}, nil
	})
	for _, pol := range h.opts.Admin.Policies(p.Account) {
		if !slices.Contains(d.Policies, pol.Name) {
			d.Attach = append(d.Attach, pol.Name)
		}
	}
	title := p.Name
	if p.Kind == principal.Root {
		title = "root"
	}
	h.render(w, q.Request, http.StatusOK, "principal", h.newView(q, "access", "Principal "+title, d))
}

// createAccessKey creates an access key (CreateAccessKey) and shows its
// secret once.
func (h *Handler) createAccessKey(w http.ResponseWriter, q *req) {
	p, t := h.principalTarget(q)
	if !h.adminAction(w, q, "CreateAccessKey", t) {
		return
	}
	id, secret, err := h.opts.Admin.CreateAccessKey(q.Context(), p.ID)
	if err != nil {
		h.renderError(w, q.Request, q, errStatus(err), "Could not create the key", h.message(q.Request, err))
		return
	}
	h.showPrincipal(w, q, &secretView{Kind: "access key", ID: id, Secret: secret})
}

// createAPIKey creates a Bedrock API key (CreateAPIKey) and shows it once.
func (h *Handler) createAPIKey(w http.ResponseWriter, q *req) {
	p, t := h.principalTarget(q)
	if !h.adminAction(w, q, "CreateAPIKey", t) {
		return
	}
	token, err := h.opts.Admin.CreateAPIKey(q.Context(), p.ID)
	if err != nil {
		h.renderError(w, q.Request, q, errStatus(err), "Could not create the key", h.message(q.Request, err))
		return
	}
	h.showPrincipal(w, q, &secretView{Kind: "Bedrock API key", Secret: token})
}

// updateAccessKey activates or deactivates an access key
// (UpdateAccessKey).
func (h *Handler) updateAccessKey(w http.ResponseWriter, q *req) {
	id := q.PathValue("key")
	owner, found := h.opts.Admin.ByAccessKeyAny(id)
	t := adminapi.PrincipalTarget(owner)
	if !found {
		t = adminapi.AbsentTarget(q.id.Principal.Account, "", errkind.New(errkind.NotFound, "Access key %s does not exist.", id))
	}
	if !h.adminAction(w, q, "UpdateAccessKey", t) {
		return
	}
	status := q.PostFormValue("status")
	if err := h.opts.Admin.SetAccessKeyStatus(q.Context(), id, status); err != nil {
		h.renderError(w, q.Request, q, errStatus(err), "Could not change the key", h.message(q.Request, err))
		return
	}
	done(w, q.Request, "/console/access/principals/"+url.PathEscape(owner.ID), "Access key "+id+" is now "+status+".")
}

// revokeAPIKey revokes a Bedrock API key (RevokeAPIKey).
func (h *Handler) revokeAPIKey(w http.ResponseWriter, q *req) {
	id := q.PathValue("key")
	owner, found := h.opts.Admin.APIKeyOwner(id)
	t := adminapi.PrincipalTarget(owner)
	if !found {
		t = adminapi.AbsentTarget(q.id.Principal.Account, "", errkind.New(errkind.NotFound, "API key %s does not exist.", id))
	}
	if !h.adminAction(w, q, "RevokeAPIKey", t) {
		return
	}
	if err := h.opts.Admin.RevokeAPIKey(q.Context(), id); err != nil {
		h.renderError(w, q.Request, q, errStatus(err), "Could not revoke the key", h.message(q.Request, err))
		return
	}
	done(w, q.Request, "/console/access/principals/"+url.PathEscape(owner.ID), "API key "+id+" revoked.")
}

// attachPolicy attaches a policy to the principal (AttachPolicy, with
// iam:PolicyARN).
func (h *Handler) attachPolicy(w http.ResponseWriter, q *req) {
	h.attachment(w, q, "AttachPolicy", q.PostFormValue("policy"))
}

// detachPolicy detaches one (DetachPolicy).
func (h *Handler) detachPolicy(w http.ResponseWriter, q *req) {
	h.attachment(w, q, "DetachPolicy", q.PathValue("name"))
}

func (h *Handler) attachment(w http.ResponseWriter, q *req, op, name string) {
	p, t := h.principalTarget(q)
	if t.Missing == nil {
		t = adminapi.AttachmentTarget(p, name)
	}
	if !h.adminAction(w, q, op, t) {
		return
	}
	do, verb := h.opts.Admin.AttachPolicy, "attached to"
	if op == "DetachPolicy" {
		do, verb = h.opts.Admin.DetachPolicy, "detached from"
	}
	if err := do(q.Context(), p.ID, name); err != nil {
		h.renderError(w, q.Request, q, errStatus(err), "Could not change the policies", h.message(q.Request, err))
		return
	}
	done(w, q.Request, "/console/access/principals/"+url.PathEscape(p.ID), "Policy "+name+" "+verb+" "+p.ARN()+".")
}

type policyForm struct {
	Account, Name, Document, Error string
	New                            bool
	// CanEdit is whether the caller may save it (PutPolicy).
	CanEdit bool
	Denied  *denied
	// Attached lists the principals the policy is attached to, when the
	// caller may list principals (ListPrincipals).
	Attached panel
}

const policyTemplate = `{
  "Version": "2012-10-17",
  "Statement": [
    {
      "Effect": "Allow",
      "Action": ["ce:GetCostAndUsage", "budgets:ViewBudget"],
      "Resource": "*"
    }
  ]
}`

// policyNew is the editor for a new policy; saving needs PutPolicy.
func (h *Handler) policyNew(w http.ResponseWriter, q *req) {
	t := adminapi.PoliciesTarget(q.account) // arn:aws:iam::ACCOUNT:policy/*
	if h.adminAuthorize(q, "PutPolicy", t) != nil {
		h.render(w, q.Request, http.StatusForbidden, "error", h.newView(q, "access", "Not authorized",
			errorPage{Heading: "Not authorized", Denied: h.adminDenied(q, "PutPolicy", t)}))
		return
	}
	h.render(w, q.Request, http.StatusOK, "policy", h.newView(q, "access", "New policy",
		policyForm{Account: q.account, New: true, CanEdit: true, Document: policyTemplate}))
}

// policyView shows a policy (its account's ListPolicies, as there is no
// read of one policy in the API) in the editor when the caller may save
// it (PutPolicy).
func (h *Handler) policyView(w http.ResponseWriter, q *req) {
	name := q.PathValue("name")
	lt := adminapi.PoliciesTarget(q.account)
	if h.adminAuthorize(q, "ListPolicies", lt) != nil {
		h.render(w, q.Request, http.StatusForbidden, "error", h.newView(q, "access", "Not authorized",
			errorPage{Heading: "Not authorized", Denied: h.adminDenied(q, "ListPolicies", lt)}))
		return
	}
	for _, p := range h.opts.Admin.Policies(q.account) {
		if p.Name == name {
			f := policyForm{Account: p.Account, Name: p.Name, Document: p.Document}
			f.Attached = h.adminGuard(q, "ListPrincipals", adminapi.PrincipalsTarget(q.account), func() (any, error) {
				var out []principal.Principal
				for _, pr := range h.opts.Admin.Principals(q.account) {
					if slices.Contains(h.opts.Admin.AttachedPolicyNames(pr.ID), name) {
						out = append(out, pr)
					}
				}
				return out, nil
			})
			pt := adminapi.PolicyTarget(q.account, name)
			if h.adminAuthorize(q, "PutPolicy", pt) == nil {
				f.CanEdit = true
			} else {
				f.Denied = h.adminDenied(q, "PutPolicy", pt)
			}
			h.render(w, q.Request, http.StatusOK, "policy", h.newView(q, "access", "Policy "+name, f))
			return
		}
	}
	h.renderError(w, q.Request, q, http.StatusNotFound, "No such policy", "Policy "+name+" does not exist in account "+q.account+".")
}

// savePolicy creates or replaces a policy (PutPolicy) once the policy
// parser the API uses (authz.Compile) accepts the document; its error,
// with the place in the document, is shown in the editor and nothing is
// saved.
func (h *Handler) savePolicy(w http.ResponseWriter, q *req) {
	f := policyForm{Account: q.account, Name: strings.TrimSpace(q.PostFormValue("name")), Document: q.PostFormValue("document"), New: q.PostFormValue("new") != "", CanEdit: true}
	if f.Name == "" {
		f.Error = "A policy needs a name."
		h.render(w, q.Request, http.StatusBadRequest, "policy", h.newView(q, "access", "Policy", f))
		return
	}
	if !h.adminAction(w, q, "PutPolicy", adminapi.PolicyTarget(q.account, f.Name)) {
		return
	}
	if _, err := authz.Compile([]byte(f.Document)); err != nil {
		f.Error = "The policy was not saved: " + err.Error()
		h.render(w, q.Request, http.StatusBadRequest, "policy", h.newView(q, "access", "Policy "+f.Name, f))
		return
	}
	if err := h.opts.Admin.PutPolicy(q.Context(), q.account, f.Name, f.Document); err != nil {
		f.Error = "The policy was not saved: " + h.message(q.Request, err)
		h.render(w, q.Request, errStatus(err), "policy", h.newView(q, "access", "Policy "+f.Name, f))
		return
	}
	done(w, q.Request, "/console/access/policies/"+url.PathEscape(f.Name), "Policy "+f.Name+" saved.")
}

// errStatus is the HTTP status of an action's error.
func errStatus(err error) int {
	switch errkind.As(err).Kind {
	case errkind.NotFound:
		return http.StatusNotFound
	case errkind.Invalid, errkind.Conflict:
		return http.StatusBadRequest
	case errkind.Denied:
		return http.StatusForbidden
	}
	return http.StatusInternalServerError
}
