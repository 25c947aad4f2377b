package principal

import (
	"context"
	"regexp"
	"slices"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Account is one AWS-style account of the organisation.
type Account struct {
	ID        string
	Name      string
	CreatedAt time.Time
}

// PolicyDoc is a named identity policy document of an account.
type PolicyDoc struct {
	Account   string
	Name      string
	Document  string
	UpdatedAt time.Time
}

// Attachment attaches a policy to a principal.
type Attachment struct {
	PrincipalID string
	Account     string
	PolicyName  string
}

// AdminStore persists accounts, policies and attachments. Implementations
// are safe for concurrent use.
type AdminStore interface {
	// PutAccount inserts or renames an account.
	PutAccount(ctx context.Context, a Account) error
	// PutPolicy inserts or replaces a policy document.
	PutPolicy(ctx context.Context, p PolicyDoc) error
	// DeletePolicy removes a policy and its attachments; errkind.NotFound
	// when absent.
	DeletePolicy(ctx context.Context, account, name string) error
	// Attach and Detach change attachments; Attach is idempotent, Detach
	// returns errkind.NotFound when the attachment does not exist.
	Attach(ctx context.Context, a Attachment) error
	Detach(ctx context.Context, a Attachment) error
	// LoadAdmin returns every account, policy and attachment.
	LoadAdmin(ctx context.Context) ([]Account, []PolicyDoc, []Attachment, error)
}

// PolicyCompiler turns a policy document into its compiled form; the
// principal package stores what it returns without knowing its type.
type PolicyCompiler func(doc []byte) (any, error)

var (
	accountRE = regexp.MustCompile(`^\d{12}$`)
	nameRE    = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
	policyRE  = regexp.MustCompile(`^[\w+=,.@-]{1,128}$`)
)

// Directory is the organisation's accounts, principals, keys and policies,
// held in memory and persisted through the stores. Safe for concurrent use.
type Directory struct {
	*Service
	admin      AdminStore
	compile    PolicyCompiler
	management string

	accounts map[string]Account
	policies map[[2]string]compiledPolicy // account+name -> policy
	attached map[string][]Attachment      // principal id -> attachments
	cache    map[string][]any             // principal id -> compiled policies (rebuilt on change)
}

type compiledPolicy struct {
	doc      PolicyDoc
	compiled any
}

// NewDirectory loads the directory and makes sure the management account
// exists.
func NewDirectory(ctx context.Context, svc *Service, admin AdminStore, compile PolicyCompiler, management string) (*Directory, error) {
	d := &Directory{Service: svc, admin: admin, compile: compile, management: management,
		accounts: map[string]Account{}, policies: map[[2]string]compiledPolicy{}, attached: map[string][]Attachment{}, cache: map[string][]any{}}
	d.admin = countingAdmin{admin, &svc.writes}
	accts, pols, atts, err := admin.LoadAdmin(ctx)
	if err != nil {
		return nil, err
	}
	for _, a := range accts {
		d.accounts[a.ID] = a
	}
	for _, p := range pols {
		c, err := compile([]byte(p.Document))
		if err != nil {
			return nil, errkind.Wrap(errkind.Internal, err, "stored policy %s/%s no longer parses", p.Account, p.Name)
		}
		d.policies[[2]string{p.Account, p.Name}] = compiledPolicy{p, c}
	}
	for _, a := range atts {
		d.attached[a.PrincipalID] = append(d.attached[a.PrincipalID], a)
	}
	if _, ok := d.accounts[management]; !ok {
		if _, err := d.CreateAccount(ctx, management, "management"); err != nil {
			return nil, err
		}
	}
	return d, nil
}

// Management returns the management account id.
func (d *Directory) Management() string { return d.management }

// CreateAccount adds an account (idempotent for the same id).
func (d *Directory) CreateAccount(ctx context.Context, id, name string) (Account, error) {
	if !accountRE.MatchString(id) {
		return Account{}, errkind.New(errkind.Invalid, "An account id is 12 digits; %q is not.", id)
	}
	if name == "" || len(name) > 64 {
		return Account{}, errkind.New(errkind.Invalid, "An account name is 1-64 characters.")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	a := Account{ID: id, Name: name, CreatedAt: d.now().UTC().Truncate(time.Millisecond)}
	if old, ok := d.accounts[id]; ok {
		a.CreatedAt = old.CreatedAt
	}
	if err := d.admin.PutAccount(ctx, a); err != nil {
		return Account{}, err
	}
	d.accounts[id] = a
	return a, nil
}

// Accounts returns every account, sorted by id.
func (d *Directory) Accounts() []Account {
	d.mu.RLock()
	defer d.mu.RUnlock()
	out := make([]Account, 0, len(d.accounts))
	for _, a := range d.accounts {
		out = append(out, a)
	}
	slices.SortFunc(out, func(a, b Account) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// HasAccount reports whether the account exists.
func (d *Directory) HasAccount(id string) bool {
	d.mu.RLock()
	defer d.mu.RUnlock()
	_, ok := d.accounts[id]
	return ok
}

// PrincipalID returns the id of a named user or role.
func PrincipalID(account string, kind Kind, name string) string {
	return string(kind) + "-" + account + "-" + name
}

// CreatePrincipal adds a user or role to an account; an existing one with
// the same name gets the new tags.
func (d *Directory) CreatePrincipal(ctx context.Context, account string, kind Kind, name string, t tags.Set) (Principal, error) {
	if kind != User && kind != Role {
		return Principal{}, errkind.New(errkind.Invalid, "A principal is a user or a role.")
	}
	if !nameRE.MatchString(name) {
		return Principal{}, errkind.New(errkind.Invalid, "A principal name is 1-64 characters of letters, digits and +=,.@_-.")
	}
	if err := tags.ValidateList(t.List()); err != nil {
		return Principal{}, err
	}
	if !d.HasAccount(account) {
		return Principal{}, errkind.New(errkind.NotFound, "Account %s does not exist.", account)
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	id := PrincipalID(account, kind, name)
	p := Principal{ID: id, Account: account, Name: name, Kind: kind, Tags: t.Clone(), CreatedAt: d.now().UTC().Truncate(time.Millisecond)}
	if old, ok := d.principals[id]; ok {
		p.CreatedAt = old.CreatedAt
	}
	if err := d.store.PutPrincipal(ctx, p); err != nil {
		return Principal{}, err
	}
	// Replace the pointer (never mutate it: requests read it without the
	// lock) and repoint the keys that hold the old one.
	np := &p
	if old, ok := d.principals[id]; ok {
		for k, e := range d.secrets {
			if e.principal == old {
				e.principal = np
				d.secrets[k] = e
			}
		}
		for k, e := range d.apiKeys {
			if e.principal == old {
				e.principal = np
				d.apiKeys[k] = e
			}
		}
	}
	d.principals[id] = np
	return p, nil
}

// Principals returns the principals of an account ("" = all), sorted.
func (d *Directory) Principals(account string) []Principal {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []Principal
	for _, p := range d.principals {
		if account == "" || p.Account == account {
			c := *p
			c.Tags = p.Tags.Clone()
			out = append(out, c)
		}
	}
	slices.SortFunc(out, func(a, b Principal) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// CreateAccessKey issues an access key for a principal and returns the
// secret, which is shown only now.
func (d *Directory) CreateAccessKey(ctx context.Context, principalID string) (id, secret string, err error) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if _, ok := d.principals[principalID]; !ok {
		return "", "", errkind.New(errkind.NotFound, "Principal %s does not exist.", principalID)
	}
	id, secret = NewAccessKeyID(), newSecret()
	if err := d.putAccessKeyLocked(ctx, principalID, id, secret); err != nil {
		return "", "", err
	}
	return id, secret, nil
}

// SetAccessKeyStatus activates or deactivates a key; it takes effect on
// the next request.
func (d *Directory) SetAccessKeyStatus(ctx context.Context, keyID, status string) error {
	if status != Active && status != Inactive {
		return errkind.New(errkind.Invalid, "A key status is Active or Inactive.")
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	k, ok := d.keys[keyID]
	if !ok {
		return errkind.New(errkind.NotFound, "Access key %s does not exist.", keyID)
	}
	k.Status = status
	if err := d.store.PutAccessKey(ctx, k); err != nil {
		return err
	}
	d.keys[keyID] = k
	return d.addAccessKeyLocked(k)
}

// AccessKeys returns the keys of a principal (without secrets).
func (d *Directory) AccessKeys(principalID string) []AccessKey {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []AccessKey
	for _, k := range d.keys {
		if k.PrincipalID == principalID {
			k.SecretSealed = nil
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b AccessKey) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// RevokeAPIKey deactivates a Bedrock API key by its public id.
func (d *Directory) RevokeAPIKey(ctx context.Context, id string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	k, ok := d.apiKeyList[id]
	if !ok {
		return errkind.New(errkind.NotFound, "API key %s does not exist.", id)
	}
	k.Status = Inactive
	if err := d.store.PutAPIKey(ctx, k); err != nil {
		return err
	}
	d.apiKeyList[id] = k
	d.addAPIKeyLocked(k)
	return nil
}

// PutPolicy validates and stores a policy document.
func (d *Directory) PutPolicy(ctx context.Context, account, name, document string) error {
	if !policyRE.MatchString(name) {
		return errkind.New(errkind.Invalid, "A policy name is 1-128 characters of letters, digits and +=,.@_-.")
	}
	if !d.HasAccount(account) {
		return errkind.New(errkind.NotFound, "Account %s does not exist.", account)
	}
	c, err := d.compile([]byte(document))
	if err != nil {
		return errkind.Wrap(errkind.Invalid, err, "MalformedPolicyDocument: %v", err)
	}
	p := PolicyDoc{Account: account, Name: name, Document: document, UpdatedAt: d.now().UTC().Truncate(time.Millisecond)}
	d.mu.Lock()
	defer d.mu.Unlock()
	if err := d.admin.PutPolicy(ctx, p); err != nil {
		return err
	}
	d.policies[[2]string{account, name}] = compiledPolicy{p, c}
	d.cache = map[string][]any{}
	return nil
}

// Policies returns an account's policies, sorted by name.
func (d *Directory) Policies(account string) []PolicyDoc {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []PolicyDoc
	for k, p := range d.policies {
		if k[0] == account {
			out = append(out, p.doc)
		}
	}
	slices.SortFunc(out, func(a, b PolicyDoc) int { return strings.Compare(a.Name, b.Name) })
	return out
}

// AttachPolicy attaches an account's policy to a principal of the same
// account.
func (d *Directory) AttachPolicy(ctx context.Context, principalID, policyName string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.principals[principalID]
	if !ok {
		return errkind.New(errkind.NotFound, "Principal %s does not exist.", principalID)
	}
	if _, ok := d.policies[[2]string{p.Account, policyName}]; !ok {
		return errkind.New(errkind.NotFound, "Policy %s does not exist in account %s.", policyName, p.Account)
	}
	a := Attachment{PrincipalID: principalID, Account: p.Account, PolicyName: policyName}
	if slices.Contains(d.attached[principalID], a) {
		return nil
	}
	if err := d.admin.Attach(ctx, a); err != nil {
		return err
	}
	d.attached[principalID] = append(d.attached[principalID], a)
	delete(d.cache, principalID)
	return nil
}

// DetachPolicy removes an attachment.
func (d *Directory) DetachPolicy(ctx context.Context, principalID, policyName string) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	p, ok := d.principals[principalID]
	if !ok {
		return errkind.New(errkind.NotFound, "Principal %s does not exist.", principalID)
	}
	a := Attachment{PrincipalID: principalID, Account: p.Account, PolicyName: policyName}
	i := slices.Index(d.attached[principalID], a)
	if i < 0 {
		return errkind.New(errkind.NotFound, "Policy %s is not attached to %s.", policyName, principalID)
	}
	if err := d.admin.Detach(ctx, a); err != nil {
		return err
	}
	d.attached[principalID] = slices.Delete(d.attached[principalID], i, i+1)
	delete(d.cache, principalID)
	return nil
}

// AttachedPolicies returns the compiled policies attached to a principal.
// The slice is shared; do not modify it.
func (d *Directory) AttachedPolicies(principalID string) []any {
	d.mu.RLock()
	c, ok := d.cache[principalID]
	d.mu.RUnlock()
	if ok {
		return c
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	var out []any
	for _, a := range d.attached[principalID] {
		if p, ok := d.policies[[2]string{a.Account, a.PolicyName}]; ok {
			out = append(out, p.compiled)
		}
	}
	d.cache[principalID] = out
	return out
}

// AttachedPolicyNames returns the names of the policies attached to a
// principal.
func (d *Directory) AttachedPolicyNames(principalID string) []string {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []string
	for _, a := range d.attached[principalID] {
		out = append(out, a.PolicyName)
	}
	return out
}

// APIKeys returns the Bedrock API keys of a principal (hashes only).
func (d *Directory) APIKeys(principalID string) []APIKey {
	d.mu.RLock()
	defer d.mu.RUnlock()
	var out []APIKey
	for _, k := range d.apiKeyList {
		if k.PrincipalID == principalID {
			out = append(out, k)
		}
	}
	slices.SortFunc(out, func(a, b APIKey) int { return strings.Compare(a.ID, b.ID) })
	return out
}

// ByAccessKeyAny returns the owner of an access key, active or not.
func (d *Directory) ByAccessKeyAny(keyID string) (Principal, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	k, ok := d.keys[keyID]
	if !ok {
		return Principal{}, false
	}
	p, ok := d.principals[k.PrincipalID]
	if !ok {
		return Principal{}, false
	}
	return *p, true
}

// APIKeyOwner returns the owner of a Bedrock API key by its public id.
func (d *Directory) APIKeyOwner(id string) (Principal, bool) {
	d.mu.RLock()
	defer d.mu.RUnlock()
	k, ok := d.apiKeyList[id]
	if !ok {
		return Principal{}, false
	}
	p, ok := d.principals[k.PrincipalID]
	if !ok {
		return Principal{}, false
	}
	return *p, true
}
