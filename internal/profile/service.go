package profile

import (
	"cmp"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"regexp"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// DefaultQuota is the default number of application profiles per account.
const DefaultQuota = 1000

// Service is the inference-profile domain: it validates requests, applies
// them to the Store and keeps an in-memory view of all application profiles
// so reads (and every runtime call) never touch the store. Safe for
// concurrent use.
type Service struct {
	store   Store
	catalog *catalog.Catalog
	region  string
	quota   int
	now     func() time.Time

	mu       sync.RWMutex
	accts    map[string]*account // account -> its profiles
	n        int                 // how many profiles the accounts hold
	strs     map[string]string   // interned strings profiles repeat (accounts, regions, models, sources)
	arnLists map[string][]string // interned ModelARNs lists, by their strings joined with NUL
	onChange []func(old, new *Profile)
	// writes counts the store writes made under mu, so Reload can tell
	// that its snapshot of the store may predate one of them.
	writes uint64
}

// account is one account's application profiles.
type account struct {
	byID   map[string]*Profile // id -> profile: Lookup, the hot path
	names  map[string]*Profile // name -> profile; its size is the account's profile count
	tokens map[string]*Profile // client request token -> profile
	tags   *tags.Index         // ARN -> tags
}

type key struct{ account, s string }

// Config configures a Service.
type Config struct {
	Store   Store
	Catalog *catalog.Catalog
	Region  string
	// Quota is the most application profiles per account; 0 means DefaultQuota.
	Quota int
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// NewService loads every application profile from the store and returns
// the service.
func NewService(ctx context.Context, cfg Config) (*Service, error) {
	s := &Service{
		store:   cfg.Store,
		catalog: cfg.Catalog,
		region:  cfg.Region,
		quota:   cmp.Or(cfg.Quota, DefaultQuota),
		now:     cfg.Now,
	}
	s.resetLocked()
	if s.now == nil {
		s.now = time.Now
	}
	all, err := cfg.Store.ListAllProfiles(ctx)
	if err != nil {
		return nil, err
	}
	if cap(all) > len(all) {
		// The view keeps pointers into all: no room for profiles that
		// will never come.
		all = slices.Clone(all)
	}
	for i := range all {
		s.insertLocked(&all[i], true)
	}
	return s, nil
}

// Region returns the region the service presents.
func (s *Service) Region() string { return s.region }

// Catalog returns the model catalogue the service resolves against.
func (s *Service) Catalog() *catalog.Catalog { return s.catalog }

// OnChange registers f to be called after every change to an application
// profile: creation (old nil), tag change, deletion (new nil). f runs under
// the service's lock, so changes arrive in order; it must be quick and must
// not call back into the Service. Register before serving requests.
func (s *Service) OnChange(f func(old, new *Profile)) { s.onChange = append(s.onChange, f) }

func (s *Service) notify(old, new *Profile) {
	for _, f := range s.onChange {
		f(old, new)
	}
}

// resetLocked empties the in-memory view.
func (s *Service) resetLocked() {
	s.accts = map[string]*account{}
	s.n = 0
	if s.strs == nil {
		s.strs = map[string]string{}
		s.arnLists = map[string][]string{}
	}
}

// intern returns the service's copy of a string that many profiles
// repeat, so they share it.
func (s *Service) intern(v string) string {
	if c, ok := s.strs[v]; ok {
		return c
	}
	s.strs[v] = v
	return v
}

// compactLocked makes a profile not yet published small: it shares the
// strings profiles repeat and its ModelARNs list with the others, keeps
// its own strings in one allocation and its ID as a substring of its
// ARN. It changes no value.
func (s *Service) compactLocked(p *Profile) {
	p.Account = s.intern(p.Account)
	p.Region = s.intern(p.Region)
	p.ModelID = s.intern(p.ModelID)
	p.Source = s.intern(p.Source)
	p.Scope = s.intern(p.Scope)
	// The strings of its own in one allocation: fewer, and made now, so
	// the ones they were parsed from (interleaved with what the store
	// scan or the request decoding left behind) can all be freed.
	own := [...]*string{&p.ARN, &p.Name, &p.Description, &p.ClientRequestToken, &p.RequestHash}
	n := 0
	for _, f := range own {
		n += len(*f)
	}
	var b strings.Builder
	b.Grow(n)
	for _, f := range own {
		b.WriteString(*f)
	}
	buf := b.String()
	for _, f := range own {
		*f, buf = buf[:len(*f)], buf[len(*f):]
	}
	if n := len(p.ARN) - len(p.ID); n > 0 && p.ARN[n-1] == '/' && p.ARN[n:] == p.ID {
		p.ID = p.ARN[n:]
	}
	if len(p.ModelARNs) > 0 {
		k := strings.Join(p.ModelARNs, "\x00")
		if l, ok := s.arnLists[k]; ok {
			p.ModelARNs = l
		} else {
			l := make([]string, len(p.ModelARNs))
			for i, a := range p.ModelARNs {
				l[i] = s.intern(a)
			}
			s.arnLists[k] = l
			p.ModelARNs = l
		}
	}
}

// insertLocked adds p to the view. fresh says p is not yet published
// (no reader holds it), so it may be compacted and take the tag index's
// shared copy of its tags.
func (s *Service) insertLocked(p *Profile, fresh bool) {
	if fresh {
		if p.Scope == "" {
			// A row written before the store kept the scope (or by an older
			// replica): the scope its source names.
			p.Scope = ScopeOfSource(p.Source)
		}
		s.compactLocked(p)
	}
	a := s.accts[p.Account]
	if a == nil {
		a = newAccount(nil)
		s.accts[p.Account] = a
	}
	if _, ok := a.byID[p.ID]; !ok {
		s.n++
	}
	a.byID[p.ID] = p
	if p.ClientRequestToken != "" {
		a.tokens[p.ClientRequestToken] = p
	}
	a.names[p.Name] = p
	if t := a.tags.Put(p.ARN, p.Tags); fresh {
		p.Tags = t
	}
}

// newAccount returns an account with no profiles, and the tag index ix
// (a new one when nil).
func newAccount(ix *tags.Index) *account {
	if ix == nil {
		ix = tags.NewIndex()
	}
	return &account{byID: map[string]*Profile{}, names: map[string]*Profile{}, tokens: map[string]*Profile{}, tags: ix}
}

// lookupLocked returns the application profile account/id; s.mu is held.
func (s *Service) lookupLocked(account, id string) (*Profile, bool) {
	if a := s.accts[account]; a != nil {
		p, ok := a.byID[id]
		return p, ok
	}
	return nil, false
}

func (s *Service) removeLocked(p *Profile) {
	a := s.accts[p.Account]
	if a == nil {
		return
	}
	if a.byID[p.ID] == p {
		delete(a.byID, p.ID)
		s.n--
	}
	if p.ClientRequestToken != "" && a.tokens[p.ClientRequestToken] == p {
		delete(a.tokens, p.ClientRequestToken)
	}
	if a.names[p.Name] == p {
		delete(a.names, p.Name)
	}
	a.tags.Remove(p.ARN)
	if len(a.names) == 0 {
		delete(s.accts, p.Account)
	}
}

// replaceLocked puts np, a retagged copy of the published old, in its
// place.
func (s *Service) replaceLocked(old, np *Profile) {
	a := s.accts[np.Account]
	a.byID[np.ID] = np
	if a.tokens[np.ClientRequestToken] == old {
		a.tokens[np.ClientRequestToken] = np
	}
	if a.names[np.Name] == old {
		a.names[np.Name] = np
	}
	np.Tags = a.tags.Put(np.ARN, np.Tags)
}

// token returns the profile created with a client request token.
func (a *account) token(tok string) (*Profile, bool) {
	if a == nil {
		return nil, false
	}
	p, ok := a.tokens[tok]
	return p, ok
}

// named returns the profile with a name.
func (a *account) named(name string) (*Profile, bool) {
	if a == nil {
		return nil, false
	}
	p, ok := a.names[name]
	return p, ok
}

// countLocked returns how many application profiles account has.
func (s *Service) countLocked(account string) int {
	if a := s.accts[account]; a != nil {
		return len(a.names)
	}
	return 0
}

// CreateInput is a request to create an application inference profile.
type CreateInput struct {
	Account            string
	Name               string
	Description        string
	CopyFrom           string
	Tags               []tags.Tag
	ClientRequestToken string
}

var (
	namePattern  = regexp.MustCompile(`^([0-9a-zA-Z][ _-]?)+$`)
	descPattern  = regexp.MustCompile(`^([0-9a-zA-Z:.][ _-]?)+$`)
	tokenPattern = regexp.MustCompile(`^[a-zA-Z0-9](-*[a-zA-Z0-9])*$`)
)

func (in CreateInput) validate() error {
	if n := utf8.RuneCountInString(in.Name); n < 1 || n > 64 {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'inferenceProfileName' failed to satisfy constraint: Member must have length between 1 and 64")
	}
	if !namePattern.MatchString(in.Name) {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'inferenceProfileName' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([0-9a-zA-Z][ _-]?)+$")
	}
	if in.Description != "" {
		if utf8.RuneCountInString(in.Description) > 200 {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must have length between 1 and 200")
		}
		if !descPattern.MatchString(in.Description) {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'description' failed to satisfy constraint: Member must satisfy regular expression pattern: ^([0-9a-zA-Z:.][ _-]?)+$")
		}
	}
	if in.ClientRequestToken != "" && (len(in.ClientRequestToken) > 256 || !tokenPattern.MatchString(in.ClientRequestToken)) {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'clientRequestToken' failed to satisfy constraint: Member must satisfy regular expression pattern: ^[a-zA-Z0-9](-*[a-zA-Z0-9])*$")
	}
	if in.CopyFrom == "" {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'modelSource' failed to satisfy constraint: Member must not be null")
	}
	return tags.ValidateList(in.Tags)
}

func (in CreateInput) hash() string {
	h := sha256.New()
	for _, s := range []string{in.Name, in.Description, in.CopyFrom, tags.FromList(in.Tags).Canonical()} {
		h.Write([]byte(s))
		h.Write([]byte{0xff})
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// Create creates an application inference profile, or returns the profile a
// previous request with the same client request token created.
func (s *Service) Create(ctx context.Context, in CreateInput) (Profile, error) {
	if err := in.validate(); err != nil {
		return Profile{}, err
	}
	modelID, modelARNs, scope, err := s.resolveSource(in.Account, in.CopyFrom)
	if err != nil {
		return Profile{}, err
	}
	hash := in.hash()

	s.mu.Lock()
	if in.ClientRequestToken != "" {
		if p, ok := s.accts[in.Account].token(in.ClientRequestToken); ok {
			s.mu.Unlock()
			if p.RequestHash != hash {
				return Profile{}, errkind.New(errkind.Conflict, "The client request token %q was already used with different request parameters.", in.ClientRequestToken)
			}
			return p.Clone(), nil
		}
	}
	if _, ok := s.accts[in.Account].named(in.Name); ok {
		s.mu.Unlock()
		return Profile{}, errkind.New(errkind.Conflict, "An inference profile named %q already exists.", in.Name)
	}
	if s.countLocked(in.Account) >= s.quota {
		s.mu.Unlock()
		return Profile{}, errkind.New(errkind.QuotaExceeded, "The account has reached its quota of %d application inference profiles.", s.quota)
	}
	id, err := s.newIDLocked(in.Account)
	if err != nil {
		s.mu.Unlock()
		return Profile{}, err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	p := &Profile{
		ID:                 id,
		ARN:                arn.ApplicationProfile(s.region, in.Account, id),
		Name:               in.Name,
		Description:        in.Description,
		Account:            in.Account,
		Region:             s.region,
		Type:               Application,
		ModelID:            modelID,
		ModelARNs:          modelARNs,
		Source:             in.CopyFrom,
		Scope:              scope,
		Tags:               tags.FromList(in.Tags),
		CreatedAt:          now,
		UpdatedAt:          now,
		ClientRequestToken: in.ClientRequestToken,
		RequestHash:        hash,
	}
	s.writes++
	create := s.store.CreateProfile
	if qs, ok := s.store.(QuotaStore); ok {
		create = func(ctx context.Context, p Profile) error { return qs.CreateProfileWithin(ctx, p, s.quota) }
	}
	if err := create(ctx, *p); err != nil {
		s.mu.Unlock()
		return Profile{}, err
	}
	s.insertLocked(p, true)
	s.notify(nil, p)
	s.mu.Unlock()
	return p.Clone(), nil
}

func (s *Service) newIDLocked(account string) (string, error) {
	const alphabet = "abcdefghijklmnopqrstuvwxyz0123456789"
	for range 8 {
		var b [12]byte
		if _, err := rand.Read(b[:]); err != nil {
			return "", errkind.Wrap(errkind.Internal, err, "internal error")
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		id := string(b[:])
		if _, taken := s.lookupLocked(account, id); !taken {
			return id, nil
		}
	}
	return "", errkind.New(errkind.Internal, "could not allocate a profile id")
}

// resolveSource checks a modelSource.copyFrom ARN and returns the model it
// wraps, the model ARNs the new profile routes to and the endpoint scope
// its calls are priced in (the system profile's, or in-region).
func (s *Service) resolveSource(account, copyFrom string) (string, []string, string, error) {
	a, err := arn.Bedrock(copyFrom, arn.TypeFoundationModel, arn.TypeInferenceProfile)
	if err != nil {
		return "", nil, "", errkind.New(errkind.Invalid, "1 validation error detected: Value at 'modelSource.copyFrom' failed to satisfy constraint: Member must be the ARN of a foundation model or a system-defined inference profile")
	}
	if a.Region != s.region {
		return "", nil, "", errkind.New(errkind.Invalid, "The model source ARN %s is in region %q, not %q.", copyFrom, a.Region, s.region)
	}
	switch a.Type() {
	case arn.TypeFoundationModel:
		if a.Account != "" {
			return "", nil, "", errkind.New(errkind.Invalid, "A foundation-model ARN has no account id: %s", copyFrom)
		}
		m, ok := s.catalog.Model(a.ID())
		if !ok || !slices.Contains(m.Regions, s.region) {
			return "", nil, "", errkind.New(errkind.NotFound, "The foundation model %s is not available in %s.", a.ID(), s.region)
		}
		if !slices.Contains(m.InferenceTypes, "ON_DEMAND") {
			return "", nil, "", errkind.New(errkind.Invalid, "The foundation model %s does not support on-demand inference.", a.ID())
		}
		return m.ID, []string{arn.FoundationModel(s.region, m.ID)}, catalog.ScopeInRegion, nil
	default:
		if a.Account != account {
			return "", nil, "", errkind.New(errkind.Invalid, "The inference profile ARN %s belongs to another account.", copyFrom)
		}
		sp, ok := s.catalog.SystemProfile(a.ID())
		if !ok || !slices.Contains(sp.Regions, s.region) {
			return "", nil, "", errkind.New(errkind.NotFound, "The inference profile %s was not found.", a.ID())
		}
		return sp.ModelID, sp.ModelARNs(), catalog.ScopeOfGeo(sp.Geo), nil
	}
}

// Get returns the profile (system-defined or application) named by an id or
// ARN, as the given account sees it.
func (s *Service) Get(account, identifier string) (Profile, error) {
	id, typ, err := s.parseIdentifier(account, identifier)
	if err != nil {
		return Profile{}, err
	}
	if typ != SystemDefined {
		s.mu.RLock()
		p, ok := s.lookupLocked(account, id)
		s.mu.RUnlock()
		if ok {
			return p.Clone(), nil
		}
		if typ == Application {
			return Profile{}, notFound(identifier)
		}
	}
	if sp, ok := s.catalog.SystemProfile(id); ok && slices.Contains(sp.Regions, s.region) {
		return s.systemProfile(account, sp), nil
	}
	return Profile{}, notFound(identifier)
}

// Lookup returns the application profile with the given id in account,
// without copying; callers must not modify it. It is the runtime hot path.
func (s *Service) Lookup(account, id string) (*Profile, bool) {
	s.mu.RLock()
	p, ok := s.lookupLocked(account, id)
	s.mu.RUnlock()
	return p, ok
}

func notFound(identifier string) error {
	return errkind.New(errkind.NotFound, "The inference profile %s could not be found.", identifier)
}

// parseIdentifier splits an inferenceProfileIdentifier (id or ARN) into the
// id and the type its ARN names ("" for a bare id).
func (s *Service) parseIdentifier(account, identifier string) (string, Type, error) {
	if !strings.HasPrefix(identifier, "arn:") {
		if identifier == "" || len(identifier) > 64 || !idPattern.MatchString(identifier) {
			return "", "", errkind.New(errkind.Invalid, "1 validation error detected: Value at 'inferenceProfileIdentifier' failed to satisfy constraint: Member must satisfy regular expression pattern")
		}
		return identifier, "", nil
	}
	a, err := arn.Bedrock(identifier, arn.TypeInferenceProfile, arn.TypeApplicationProfile)
	if err != nil || !idPattern.MatchString(a.ID()) {
		return "", "", errkind.New(errkind.Invalid, "1 validation error detected: Value at 'inferenceProfileIdentifier' failed to satisfy constraint: Member must be an inference profile id or ARN")
	}
	if a.Region != s.region {
		return "", "", errkind.New(errkind.Invalid, "The ARN %s is in region %q, but this endpoint serves %q.", identifier, a.Region, s.region)
	}
	if a.Account != account {
		return "", "", notFound(identifier)
	}
	if a.Type() == arn.TypeApplicationProfile {
		return a.ID(), Application, nil
	}
	return a.ID(), SystemDefined, nil
}

var idPattern = regexp.MustCompile(`^[a-zA-Z0-9-:.]+$`)

// systemEpoch is the creation time reported for system-defined profiles.
var systemEpoch = time.Date(2024, 8, 27, 0, 0, 0, 0, time.UTC)

func (s *Service) systemProfile(account string, sp catalog.SystemProfile) Profile {
	return Profile{
		ID:          sp.ID,
		ARN:         arn.InferenceProfile(s.region, account, sp.ID),
		Name:        sp.Name,
		Description: sp.Description,
		Account:     account,
		Region:      s.region,
		Type:        SystemDefined,
		ModelID:     sp.ModelID,
		ModelARNs:   sp.ModelARNs(),
		Scope:       catalog.ScopeOfGeo(sp.Geo),
		CreatedAt:   systemEpoch,
		UpdatedAt:   systemEpoch,
	}
}

// SystemProfile returns the system-defined profile id as account sees it.
func (s *Service) SystemProfile(account, id string) (Profile, bool) {
	sp, ok := s.catalog.SystemProfile(id)
	if !ok || !slices.Contains(sp.Regions, s.region) {
		return Profile{}, false
	}
	return s.systemProfile(account, sp), true
}

// ListSystem returns the system-defined profiles invokable from the region,
// ordered by ID.
func (s *Service) ListSystem(account string) []Profile {
	sps := s.catalog.SystemProfilesFrom(s.region)
	out := make([]Profile, len(sps))
	for i, sp := range sps {
		out[i] = s.systemProfile(account, sp)
	}
	return out
}

// ListApplication returns the account's application profiles ordered by
// creation time then ID.
func (s *Service) ListApplication(account string) []Profile {
	s.mu.RLock()
	var out []Profile
	if a := s.accts[account]; a != nil {
		out = make([]Profile, 0, len(a.names))
		for _, p := range a.names {
			out = append(out, p.Clone())
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(out, func(a, b Profile) int {
		if c := a.CreatedAt.Compare(b.CreatedAt); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	return out
}

// All returns every application profile of every account, in no order.
func (s *Service) All() []Profile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]Profile, 0, s.n)
	for _, a := range s.accts {
		for _, p := range a.byID {
			out = append(out, p.Clone())
		}
	}
	return out
}

// AllShared returns every application profile of every account, in no
// order, without copying them: callers must not modify them (as with
// Lookup). Indexes built over the profiles take these, so the tag sets
// and strings they keep are the Service's own, not copies.
func (s *Service) AllShared() []*Profile {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]*Profile, 0, s.n)
	for _, a := range s.accts {
		for _, p := range a.byID {
			out = append(out, p)
		}
	}
	return out
}

// Delete deletes an application profile. System-defined profiles cannot be
// deleted.
func (s *Service) Delete(ctx context.Context, account, identifier string) error {
	id, typ, err := s.parseIdentifier(account, identifier)
	if err != nil {
		return err
	}
	s.mu.Lock()
	p, ok := s.lookupLocked(account, id)
	if !ok || typ == SystemDefined {
		s.mu.Unlock()
		if _, sys := s.SystemProfile(account, id); sys {
			return errkind.New(errkind.Invalid, "System-defined inference profile %s cannot be deleted.", identifier)
		}
		return notFound(identifier)
	}
	s.writes++
	if err := s.store.DeleteProfile(ctx, account, id); err != nil {
		s.mu.Unlock()
		return err
	}
	s.removeLocked(p)
	s.notify(p, nil)
	s.mu.Unlock()
	return nil
}

// resolveTaggable finds the application profile a tagging call names by
// ARN. Other ARNs get the exceptions Bedrock gives.
func (s *Service) resolveTaggable(account, resourceARN string) (*Profile, error) {
	if n := len(resourceARN); n < 20 || n > 1011 {
		return nil, errkind.New(errkind.Invalid, "1 validation error detected: Value at 'resourceARN' failed to satisfy constraint: Member must have length between 20 and 1011")
	}
	a, err := arn.Parse(resourceARN)
	if err != nil || a.Service != "bedrock" {
		return nil, errkind.New(errkind.Invalid, "1 validation error detected: Value at 'resourceARN' failed to satisfy constraint: Member must be a taggable Bedrock resource ARN")
	}
	if a.Region != s.region {
		return nil, errkind.New(errkind.Invalid, "The ARN %s is in region %q, but this endpoint serves %q.", resourceARN, a.Region, s.region)
	}
	if a.Type() != arn.TypeApplicationProfile {
		if a.Type() == arn.TypeInferenceProfile || a.Type() == arn.TypeFoundationModel {
			return nil, errkind.New(errkind.Invalid, "Tags can only be managed on application inference profiles; %s is not one.", resourceARN)
		}
		return nil, errkind.New(errkind.NotFound, "The resource %s could not be found.", resourceARN)
	}
	if a.Account != account {
		return nil, errkind.New(errkind.NotFound, "The resource %s could not be found.", resourceARN)
	}
	s.mu.RLock()
	p, ok := s.lookupLocked(account, a.ID())
	s.mu.RUnlock()
	if !ok {
		return nil, errkind.New(errkind.NotFound, "The resource %s could not be found.", resourceARN)
	}
	return p, nil
}

// Tag adds or overwrites tags on an application profile.
func (s *Service) Tag(ctx context.Context, account, resourceARN string, add []tags.Tag) error {
	if len(add) == 0 {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'tags' failed to satisfy constraint: Member must have length greater than or equal to 0")
	}
	if err := tags.ValidateList(add); err != nil {
		return err
	}
	return s.updateTags(ctx, account, resourceARN, func(cur tags.Set) (tags.Set, error) {
		return cur.Merge(tags.FromList(add))
	})
}

// Untag removes tag keys from an application profile; absent keys are
// ignored, as AWS does.
func (s *Service) Untag(ctx context.Context, account, resourceARN string, keys []string) error {
	if len(keys) > 200 {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length less than or equal to 200")
	}
	for _, k := range keys {
		if n := utf8.RuneCountInString(k); n < 1 || n > 128 {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value at 'tagKeys' failed to satisfy constraint: Member must have length between 1 and 128")
		}
	}
	return s.updateTags(ctx, account, resourceARN, func(cur tags.Set) (tags.Set, error) {
		return cur.Without(keys), nil
	})
}

func (s *Service) updateTags(ctx context.Context, account, resourceARN string, f func(tags.Set) (tags.Set, error)) error {
	p, err := s.resolveTaggable(account, resourceARN)
	if err != nil {
		return err
	}
	s.mu.Lock()
	cur, ok := s.lookupLocked(account, p.ID)
	if !ok {
		s.mu.Unlock()
		return errkind.New(errkind.NotFound, "The resource %s could not be found.", resourceARN)
	}
	next, err := f(cur.Tags)
	if err != nil {
		s.mu.Unlock()
		return err
	}
	now := s.now().UTC().Truncate(time.Millisecond)
	s.writes++
	if err := s.store.SetProfileTags(ctx, account, cur.ID, next, now); err != nil {
		s.mu.Unlock()
		return err
	}
	// Replace the pointer rather than mutate: readers holding the old
	// *Profile (Lookup) keep a consistent view.
	old := cur
	np := *cur // shares the strings and ModelARNs, which never change
	np.Tags = next
	np.UpdatedAt = now
	s.replaceLocked(old, &np)
	s.notify(old, &np)
	s.mu.Unlock()
	return nil
}

// ListTags returns an application profile's tags sorted by key.
func (s *Service) ListTags(account, resourceARN string) ([]tags.Tag, error) {
	p, err := s.resolveTaggable(account, resourceARN)
	if err != nil {
		return nil, err
	}
	return p.Tags.List(), nil
}

// index returns the account's tag index (nil when it has no profiles).
func (s *Service) index(account string) *tags.Index {
	s.mu.RLock()
	defer s.mu.RUnlock()
	if a := s.accts[account]; a != nil {
		return a.tags
	}
	return nil
}

// FindByTags returns the ARNs of the account's application profiles that
// match every filter, sorted. It reads the inverted index, never scanning.
func (s *Service) FindByTags(account string, filters []tags.Filter) []string {
	ix := s.index(account)
	if ix == nil {
		return nil
	}
	return ix.Match(filters)
}

// TagsOf returns the current tags of the application profile with this ARN
// (shared; do not modify).
func (s *Service) TagsOf(account, arn string) (tags.Set, bool) {
	ix := s.index(account)
	if ix == nil {
		return nil, false
	}
	return ix.Tags(arn)
}

// TagKeys returns the tag keys in use on the account's profiles, sorted.
func (s *Service) TagKeys(account string) []string {
	if ix := s.index(account); ix != nil {
		return ix.Keys()
	}
	return nil
}

// TagValues returns the values of a tag key in use, sorted.
func (s *Service) TagValues(account, key string) []string {
	if ix := s.index(account); ix != nil {
		return ix.Values(key)
	}
	return nil
}

// Reload re-reads every application profile from the store and swaps the
// in-memory view (profiles, names, tokens, tag index) for it under the
// lock, so changes made through other replicas sharing the store become
// visible. Profiles whose stored version is unchanged keep their pointer;
// OnChange callbacks run for every profile added (old nil), retagged or
// otherwise updated, and removed (new nil).
func (s *Service) Reload(ctx context.Context) error {
	for attempt := 0; ; attempt++ {
		s.mu.RLock()
		before := s.writes
		s.mu.RUnlock()
		last := attempt >= 3
		if last {
			// Writes keep racing the reads: read under the lock.
			s.mu.Lock()
		}
		all, err := s.store.ListAllProfiles(ctx)
		if err != nil {
			if last {
				s.mu.Unlock()
			}
			return err
		}
		if !last {
			s.mu.Lock()
			if s.writes != before {
				// A local write happened meanwhile; the snapshot may
				// predate it.
				s.mu.Unlock()
				continue
			}
		}
		s.swapLocked(all)
		s.mu.Unlock()
		return nil
	}
}

func (s *Service) swapLocked(all []Profile) {
	oldAccts := s.accts
	s.resetLocked()
	type change struct{ old, new *Profile }
	var changes []change
	for i := range all {
		p, fresh := &all[i], true
		var o *Profile
		var ok bool
		if oa := oldAccts[p.Account]; oa != nil {
			o, ok = oa.byID[p.ID]
		}
		if ok && o.UpdatedAt.Equal(p.UpdatedAt) && o.Tags.Equal(p.Tags) {
			p, fresh = o, false
		} else {
			// Its own allocation: a pointer into all would keep every
			// profile of the snapshot alive.
			np := new(Profile)
			*np = *p
			p = np
			changes = append(changes, change{o, p})
		}
		if s.accts[p.Account] == nil {
			if oa := oldAccts[p.Account]; oa != nil {
				// Keep the account's tag index (and the tag sets it
				// shares), updating it in place.
				s.accts[p.Account] = newAccount(oa.tags)
			}
		}
		s.insertLocked(p, fresh)
	}
	for _, oa := range oldAccts {
		for _, o := range oa.byID {
			if _, ok := s.lookupLocked(o.Account, o.ID); !ok {
				changes = append(changes, change{o, nil})
				if a := s.accts[o.Account]; a != nil {
					a.tags.Remove(o.ARN)
				}
			}
		}
	}
	for _, c := range changes {
		s.notify(c.old, c.new)
	}
}
