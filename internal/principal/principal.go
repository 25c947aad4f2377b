// Package principal owns who calls Tollgate: principals (users, roles and
// the root of an account), their principal tags, their SigV4 access keys
// (secrets encrypted at rest) and Bedrock API keys (bearer tokens, stored
// hashed), and the in-memory lookups authentication does on every request.
package principal

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/secretbox"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Kind is the kind of a principal.
type Kind string

// Principal kinds.
const (
	Root Kind = "root"
	User Kind = "user"
	Role Kind = "role"
)

// Principal is an identity that calls Tollgate.
type Principal struct {
	ID        string // stable id, e.g. "root-123456789012"
	Account   string
	Name      string
	Kind      Kind
	Tags      tags.Set
	CreatedAt time.Time
}

// ARN returns the principal's IAM-style ARN.
func (p Principal) ARN() string {
	switch p.Kind {
	case Root:
		return "arn:aws:iam::" + p.Account + ":root"
	case Role:
		return "arn:aws:iam::" + p.Account + ":role/" + p.Name
	default:
		return "arn:aws:iam::" + p.Account + ":user/" + p.Name
	}
}

// Key statuses.
const (
	Active   = "Active"
	Inactive = "Inactive"
)

// AccessKey is a SigV4 access key. SecretSealed is the secret encrypted
// with the service's secretbox, bound to the key id.
type AccessKey struct {
	ID           string
	PrincipalID  string
	SecretSealed []byte
	Status       string
	CreatedAt    time.Time
}

// APIKey is a Bedrock API key (bearer token). Only its SHA-256 is stored.
type APIKey struct {
	ID          string // public prefix, shown in lists
	PrincipalID string
	Hash        string // hex SHA-256 of the whole token
	Status      string
	CreatedAt   time.Time
}

// Store persists principals and keys. Implementations are safe for
// concurrent use.
type Store interface {
	// PutPrincipal inserts or replaces a principal.
	PutPrincipal(ctx context.Context, p Principal) error
	// PutAccessKey inserts or replaces an access key.
	PutAccessKey(ctx context.Context, k AccessKey) error
	// PutAPIKey inserts or replaces an API key.
	PutAPIKey(ctx context.Context, k APIKey) error
	// LoadPrincipals returns every principal, access key and API key.
	LoadPrincipals(ctx context.Context) ([]Principal, []AccessKey, []APIKey, error)
}

// Identity is an authenticated caller.
type Identity struct {
	Principal *Principal
	KeyID     string
}

// Service authenticates callers from in-memory copies of all keys. Safe
// for concurrent use.
type Service struct {
	store Store
	box   *secretbox.Box
	now   func() time.Time

	mu         sync.RWMutex
	principals map[string]*Principal
	secrets    map[string]keyEntry // active access key id -> decrypted secret
	apiKeys    map[string]apiEntry // active API key hash -> entry
	keys       map[string]AccessKey
	apiKeyList map[string]APIKey // by public id
	writes     uint64            // store writes made (under mu); see reload
}

type keyEntry struct {
	secret    string
	principal *Principal
}

type apiEntry struct {
	principal *Principal
	id        string
}

// NewService loads all principals and keys and decrypts the secrets.
func NewService(ctx context.Context, store Store, box *secretbox.Box, now func() time.Time) (*Service, error) {
	if now == nil {
		now = time.Now
	}
	s := &Service{store: store, box: box, now: now,
		principals: map[string]*Principal{}, secrets: map[string]keyEntry{}, apiKeys: map[string]apiEntry{},
		keys: map[string]AccessKey{}, apiKeyList: map[string]APIKey{}}
	s.store = countingStore{store, &s.writes}
	ps, aks, apis, err := store.LoadPrincipals(ctx)
	if err != nil {
		return nil, err
	}
	for i := range ps {
		s.principals[ps[i].ID] = &ps[i]
	}
	for _, k := range aks {
		s.keys[k.ID] = k
		if err := s.addAccessKeyLocked(k); err != nil {
			return nil, err
		}
	}
	for _, k := range apis {
		s.apiKeyList[k.ID] = k
		s.addAPIKeyLocked(k)
	}
	return s, nil
}

func (s *Service) addAccessKeyLocked(k AccessKey) error {
	delete(s.secrets, k.ID)
	if k.Status != Active {
		return nil
	}
	p := s.principals[k.PrincipalID]
	if p == nil {
		return nil
	}
	secret, err := s.box.Open(k.SecretSealed, []byte(k.ID))
	if err != nil {
		return errkind.Wrap(errkind.Internal, err, "cannot decrypt the secret of access key %s: is this the data directory's master key?", k.ID)
	}
	s.secrets[k.ID] = keyEntry{secret: string(secret), principal: p}
	return nil
}

func (s *Service) addAPIKeyLocked(k APIKey) {
	if k.Status != Active {
		delete(s.apiKeys, k.Hash)
		return
	}
	if p := s.principals[k.PrincipalID]; p != nil {
		s.apiKeys[k.Hash] = apiEntry{principal: p, id: k.ID}
	}
}

// Secret returns the secret of an active access key, or an errkind.NotFound
// error. It satisfies sigv4.SecretLookup.
func (s *Service) Secret(_ context.Context, accessKeyID string) (string, error) {
	s.mu.RLock()
	e, ok := s.secrets[accessKeyID]
	s.mu.RUnlock()
	if !ok {
		return "", errkind.New(errkind.NotFound, "unknown access key")
	}
	return e.secret, nil
}

// ByAccessKey returns the identity owning an active access key.
func (s *Service) ByAccessKey(accessKeyID string) (Identity, bool) {
	s.mu.RLock()
	e, ok := s.secrets[accessKeyID]
	s.mu.RUnlock()
	return Identity{Principal: e.principal, KeyID: accessKeyID}, ok
}

// ByAPIKey returns the identity owning an active Bedrock API key. Keys are
// found by the SHA-256 of the token, so no secret is compared directly.
func (s *Service) ByAPIKey(token string) (Identity, bool) {
	// hashToken(token), in stack buffers: the lookup does not allocate
	// ([]byte(token) would, past 32 bytes; a key is 60).
	var buf [256]byte
	b := buf[:0]
	if len(token) <= len(buf) {
		b = append(b, token...)
	} else {
		b = []byte(token)
	}
	sum := sha256.Sum256(b)
	var h [2 * sha256.Size]byte
	hex.Encode(h[:], sum[:])
	s.mu.RLock()
	e, ok := s.apiKeys[string(h[:])]
	s.mu.RUnlock()
	if !ok {
		return Identity{}, false
	}
	return Identity{Principal: e.principal, KeyID: e.id}, true
}

func hashToken(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Principal returns a principal by id.
func (s *Service) Principal(id string) (Principal, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	p, ok := s.principals[id]
	if !ok {
		return Principal{}, false
	}
	return *p, true
}

// RootID returns the principal id of an account's root.
func RootID(account string) string { return "root-" + account }

// EnsureRoot makes sure the account's root principal exists and holds the
// access key (id, secret). When id is empty and the root has no active
// access key, a new key is generated. It returns the root's active key id
// and secret and whether a new key was created.
func (s *Service) EnsureRoot(ctx context.Context, account, id, secret string) (string, string, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	rootID := RootID(account)
	if _, ok := s.principals[rootID]; !ok {
		p := &Principal{ID: rootID, Account: account, Name: "root", Kind: Root, Tags: tags.Set{}, CreatedAt: s.now().UTC()}
		if err := s.store.PutPrincipal(ctx, *p); err != nil {
			return "", "", false, err
		}
		s.principals[rootID] = p
	}
	if id != "" {
		if e, ok := s.secrets[id]; ok && e.principal.ID == rootID && e.secret == secret {
			return id, secret, false, nil
		}
		if e, ok := s.secrets[id]; ok && e.principal.ID != rootID {
			return "", "", false, errkind.New(errkind.Conflict, "access key %s belongs to another principal", id)
		}
		if err := s.putAccessKeyLocked(ctx, rootID, id, secret); err != nil {
			return "", "", false, err
		}
		return id, secret, true, nil
	}
	for kid, e := range s.secrets {
		if e.principal.ID == rootID {
			return kid, e.secret, false, nil
		}
	}
	id, secret = NewAccessKeyID(), newSecret()
	if err := s.putAccessKeyLocked(ctx, rootID, id, secret); err != nil {
		return "", "", false, err
	}
	return id, secret, true, nil
}

func (s *Service) putAccessKeyLocked(ctx context.Context, principalID, id, secret string) error {
	k := AccessKey{ID: id, PrincipalID: principalID, SecretSealed: s.box.Seal([]byte(secret), []byte(id)), Status: Active, CreatedAt: s.now().UTC()}
	if err := s.store.PutAccessKey(ctx, k); err != nil {
		return err
	}
	s.keys[k.ID] = k
	return s.addAccessKeyLocked(k)
}

// CreateAPIKey issues a new Bedrock API key for a principal and returns the
// token; only its hash is kept.
func (s *Service) CreateAPIKey(ctx context.Context, principalID string) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.principals[principalID]; !ok {
		return "", errkind.New(errkind.NotFound, "principal %s not found", principalID)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", errkind.Wrap(errkind.Internal, err, "internal error")
	}
	id := "TGK" + strings.ToUpper(hex.EncodeToString(raw[:5]))
	token := "ABSK" + base64.StdEncoding.EncodeToString(append([]byte(id+":"), raw[5:]...))
	k := APIKey{ID: id, PrincipalID: principalID, Hash: hashToken(token), Status: Active, CreatedAt: s.now().UTC()}
	if err := s.store.PutAPIKey(ctx, k); err != nil {
		return "", err
	}
	s.apiKeyList[k.ID] = k
	s.addAPIKeyLocked(k)
	return token, nil
}

// NewAccessKeyID returns a fresh access key id in the AWS form (20
// characters, "AKIA" then uppercase base32).
func NewAccessKeyID() string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	out := []byte("AKIA")
	for _, c := range b {
		out = append(out, alphabet[int(c)%32])
	}
	return string(out)
}

func newSecret() string {
	var b [30]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err)
	}
	return base64.StdEncoding.EncodeToString(b[:])
}
