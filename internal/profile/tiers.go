package profile

import (
	"context"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// TierSettings are an application profile's service-tier settings.
type TierSettings struct {
	// Default is the tier of calls through the profile that name none
	// ("" = Standard, "default").
	Default string `json:"defaultTier,omitempty"`
	// Max is the highest tier calls through the profile may use, in the
	// order flex < default < priority < reserved ("" = any).
	Max string `json:"maxTier,omitempty"`
}

// ProfileTiers are the tier settings of one application profile.
type ProfileTiers struct {
	Account, ID string
	TierSettings
}

// TierStore persists application profiles' tier settings. Implementations
// are safe for concurrent use.
type TierStore interface {
	// PutProfileTiers replaces the tier settings of the application
	// profile account/id (empty settings remove them); errkind.NotFound
	// when no such profile exists.
	PutProfileTiers(ctx context.Context, account, id string, s TierSettings) error
	// ListProfileTiers returns the settings of every application profile
	// that has any and still exists, ordered by account and id.
	ListProfileTiers(ctx context.Context) ([]ProfileTiers, error)
}

// TierRank orders the service tiers: flex 0, default 1, priority 2,
// reserved 3; -1 for anything else. "" ranks as default.
func TierRank(tier string) int {
	switch tier {
	case catalog.TierFlex:
		return 0
	case "", catalog.TierDefault:
		return 1
	case catalog.TierPriority:
		return 2
	case catalog.TierReserved:
		return 3
	}
	return -1
}

// Tiers keeps every application profile's tier settings in memory for
// the runtime path, writing changes through a TierStore. Safe for
// concurrent use.
type Tiers struct {
	store    TierStore
	profiles *Service

	mu sync.RWMutex
	m  map[key]TierSettings
}

// NewTiers loads the stored settings and returns the service.
func NewTiers(ctx context.Context, store TierStore, profiles *Service) (*Tiers, error) {
	t := &Tiers{store: store, profiles: profiles}
	if err := t.Reload(ctx); err != nil {
		return nil, err
	}
	return t, nil
}

// Reload re-reads the settings from the store (changes made through other
// replicas sharing it).
func (t *Tiers) Reload(ctx context.Context) error {
	all, err := t.store.ListProfileTiers(ctx)
	if err != nil {
		return err
	}
	m := make(map[key]TierSettings, len(all))
	for _, p := range all {
		m[key{p.Account, p.ID}] = p.TierSettings
	}
	t.mu.Lock()
	t.m = m
	t.mu.Unlock()
	return nil
}

// Lookup returns the settings of the application profile account/id; ok
// false when it has none. It is on the runtime hot path.
func (t *Tiers) Lookup(account, id string) (TierSettings, bool) {
	t.mu.RLock()
	s, ok := t.m[key{account, id}]
	t.mu.RUnlock()
	return s, ok
}

// Get returns the profile an identifier (id or ARN) names in account and
// its settings (zero when it has none).
func (t *Tiers) Get(account, identifier string) (Profile, TierSettings, error) {
	p, err := t.profiles.Get(account, identifier)
	if err != nil {
		return Profile{}, TierSettings{}, err
	}
	s, _ := t.Lookup(account, p.ID)
	return p, s, nil
}

// Set replaces the settings of the application profile an identifier
// names. The default must be a tier the profile's model offers and not
// above the cap; system-defined profiles carry no settings.
func (t *Tiers) Set(ctx context.Context, account, identifier string, s TierSettings) (Profile, error) {
	p, err := t.profiles.Get(account, identifier)
	if err != nil {
		return Profile{}, err
	}
	if p.Type != Application {
		return Profile{}, errkind.New(errkind.Invalid, "Service-tier settings apply to application inference profiles only; %s is system-defined.", identifier)
	}
	if err := validTierSettings(t.profiles.catalog, p, s); err != nil {
		return Profile{}, err
	}
	if err := t.store.PutProfileTiers(ctx, account, p.ID, s); err != nil {
		return Profile{}, err
	}
	t.mu.Lock()
	m := make(map[key]TierSettings, len(t.m)+1)
	for k, v := range t.m {
		m[k] = v
	}
	if s == (TierSettings{}) {
		delete(m, key{account, p.ID})
	} else {
		m[key{account, p.ID}] = s
	}
	t.m = m
	t.mu.Unlock()
	return p, nil
}

func validTierSettings(c *catalog.Catalog, p Profile, s TierSettings) error {
	for _, v := range []struct{ name, tier string }{{"defaultTier", s.Default}, {"maxTier", s.Max}} {
		if v.tier != "" && TierRank(v.tier) < 0 {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at '%s' failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]", v.tier, v.name)
		}
	}
	if s.Default != "" {
		if m, ok := c.Model(p.ModelID); ok && !m.OffersTier(s.Default) {
			return errkind.New(errkind.Invalid, "The model %s of inference profile %s does not offer the service tier %s.", p.ModelID, p.ID, s.Default)
		}
	}
	if s.Max != "" && TierRank(s.Default) > TierRank(s.Max) {
		return errkind.New(errkind.Invalid, "The default service tier %s is above the maximum tier %s.", defaultName(s.Default), s.Max)
	}
	return nil
}

func defaultName(tier string) string {
	if tier == "" {
		return catalog.TierDefault
	}
	return tier
}
