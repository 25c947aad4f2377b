package principal

import (
	"bytes"
	"context"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// countingStore counts the writes made through the stores, always under
// the Service's lock, so a reload can tell that its snapshot of the store
// may predate a local write.
type countingStore struct {
	Store
	n *uint64
}

func (c countingStore) PutPrincipal(ctx context.Context, p Principal) error {
	*c.n++
	return c.Store.PutPrincipal(ctx, p)
}

func (c countingStore) PutAccessKey(ctx context.Context, k AccessKey) error {
	*c.n++
	return c.Store.PutAccessKey(ctx, k)
}

func (c countingStore) PutAPIKey(ctx context.Context, k APIKey) error {
	*c.n++
	return c.Store.PutAPIKey(ctx, k)
}

type countingAdmin struct {
	AdminStore
	n *uint64
}

func (c countingAdmin) PutAccount(ctx context.Context, a Account) error {
	*c.n++
	return c.AdminStore.PutAccount(ctx, a)
}

func (c countingAdmin) PutPolicy(ctx context.Context, p PolicyDoc) error {
	*c.n++
	return c.AdminStore.PutPolicy(ctx, p)
}

func (c countingAdmin) DeletePolicy(ctx context.Context, account, name string) error {
	*c.n++
	return c.AdminStore.DeletePolicy(ctx, account, name)
}

func (c countingAdmin) Attach(ctx context.Context, a Attachment) error {
	*c.n++
	return c.AdminStore.Attach(ctx, a)
}

func (c countingAdmin) Detach(ctx context.Context, a Attachment) error {
	*c.n++
	return c.AdminStore.Detach(ctx, a)
}

// Reload re-reads every principal, access key and API key from the store
// and swaps the in-memory lookups for them under the lock, so changes made
// through other replicas sharing the store take effect. Unchanged
// principals keep their pointer (requests read it without the lock);
// changed ones get a new one, never a mutated one. Secrets already
// decrypted are reused. On error nothing changes.
func (s *Service) Reload(ctx context.Context) error { return s.reload(ctx, nil) }

// reload loads the principals (and, through extra, anything else that must
// be swapped together) and applies them under the lock, retrying when a
// local write raced the read; after three tries it reads under the lock.
func (s *Service) reload(ctx context.Context, extra func(ctx context.Context) (apply func(), err error)) error {
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		before := s.writes
		s.mu.RUnlock()
		last := attempt >= 3
		if last {
			s.mu.Lock()
		}
		ps, aks, apis, err := s.store.LoadPrincipals(ctx)
		var apply func()
		if err == nil && extra != nil {
			apply, err = extra(ctx)
		}
		if err != nil {
			if last {
				s.mu.Unlock()
			}
			return err
		}
		if !last {
			s.mu.Lock()
			if s.writes != before {
				s.mu.Unlock()
				continue
			}
		}
		err = s.swapLocked(ps, aks, apis)
		if err == nil && apply != nil {
			apply()
		}
		s.mu.Unlock()
		return err
	}
}

func samePrincipal(a, b *Principal) bool {
	return a.Account == b.Account && a.Name == b.Name && a.Kind == b.Kind && a.CreatedAt.Equal(b.CreatedAt) &&
		a.Tags.Canonical() == b.Tags.Canonical()
}

func (s *Service) swapLocked(ps []Principal, aks []AccessKey, apis []APIKey) error {
	principals := make(map[string]*Principal, len(ps))
	for i := range ps {
		p := &ps[i]
		if o, ok := s.principals[p.ID]; ok && samePrincipal(o, p) {
			p = o
		}
		principals[p.ID] = p
	}
	keys := make(map[string]AccessKey, len(aks))
	secrets := map[string]keyEntry{}
	for _, k := range aks {
		keys[k.ID] = k
		p := principals[k.PrincipalID]
		if k.Status != Active || p == nil {
			continue
		}
		if o, ok := s.keys[k.ID]; ok && bytes.Equal(o.SecretSealed, k.SecretSealed) {
			if e, ok := s.secrets[k.ID]; ok {
				secrets[k.ID] = keyEntry{secret: e.secret, principal: p}
				continue
			}
		}
		secret, err := s.box.Open(k.SecretSealed, []byte(k.ID))
		if err != nil {
			return errkind.Wrap(errkind.Internal, err, "cannot decrypt the secret of access key %s: is this the data directory's master key?", k.ID)
		}
		secrets[k.ID] = keyEntry{secret: string(secret), principal: p}
	}
	apiKeyList := make(map[string]APIKey, len(apis))
	apiKeys := map[string]apiEntry{}
	for _, k := range apis {
		apiKeyList[k.ID] = k
		if p := principals[k.PrincipalID]; p != nil && k.Status == Active {
			apiKeys[k.Hash] = apiEntry{principal: p, id: k.ID}
		}
	}
	s.principals, s.keys, s.secrets, s.apiKeyList, s.apiKeys = principals, keys, secrets, apiKeyList, apiKeys
	return nil
}

// Reload re-reads principals, keys, accounts, policies and attachments
// from the stores and swaps them in together (see Service.Reload). A
// stored policy that no longer compiles fails the reload; nothing changes.
func (d *Directory) Reload(ctx context.Context) error {
	// Policies compiled before are reused when their document is unchanged.
	d.mu.RLock()
	old := d.policies
	d.mu.RUnlock()
	return d.reload(ctx, func(ctx context.Context) (func(), error) {
		accts, pols, atts, err := d.admin.LoadAdmin(ctx)
		if err != nil {
			return nil, err
		}
		accounts := make(map[string]Account, len(accts))
		for _, a := range accts {
			accounts[a.ID] = a
		}
		policies := make(map[[2]string]compiledPolicy, len(pols))
		for _, p := range pols {
			k := [2]string{p.Account, p.Name}
			if o, ok := old[k]; ok && o.doc.Document == p.Document {
				policies[k] = compiledPolicy{p, o.compiled}
				continue
			}
			c, err := d.compile([]byte(p.Document))
			if err != nil {
				return nil, errkind.Wrap(errkind.Internal, err, "stored policy %s/%s no longer parses", p.Account, p.Name)
			}
			policies[k] = compiledPolicy{p, c}
		}
		attached := map[string][]Attachment{}
		for _, a := range atts {
			attached[a.PrincipalID] = append(attached[a.PrincipalID], a)
		}
		return func() {
			d.accounts, d.policies, d.attached = accounts, policies, attached
			d.cache = map[string][]any{}
		}, nil
	})
}
