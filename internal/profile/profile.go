// Package profile owns inference profiles: the system-defined (cross-region)
// profiles derived from the catalogue and the application inference profiles
// users create from a foundation model or a system profile, with their tags,
// idempotent creation, quotas and the in-memory view every runtime call
// resolves against.
package profile

import (
	"context"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Type is an inference profile's type, as AWS names it.
type Type string

// The profile types.
const (
	SystemDefined Type = "SYSTEM_DEFINED"
	Application   Type = "APPLICATION"
)

// StatusActive is the only status AWS defines for inference profiles.
const StatusActive = "ACTIVE"

// Profile is an inference profile.
type Profile struct {
	ID          string // 12 lowercase alphanumerics (application) or GEO.MODEL_ID (system)
	ARN         string
	Name        string
	Description string
	Account     string
	Region      string
	Type        Type
	ModelID     string   // the underlying foundation model
	ModelARNs   []string // one foundation-model ARN per region it routes to
	Source      string   // the copyFrom ARN it was created from (application only)
	// Scope is the endpoint scope the profile's calls are priced in:
	// catalog.ScopeInRegion, ScopeGeo or ScopeGlobal. An application
	// profile takes it from its source when it is created and keeps it,
	// whatever the catalogue later says of that source; a system profile
	// has its geography's.
	Scope     string
	Tags      tags.Set
	CreatedAt time.Time
	UpdatedAt time.Time

	// ClientRequestToken and RequestHash make creation idempotent: a replay
	// with the same token and hash returns this profile.
	ClientRequestToken string
	RequestHash        string
}

// Regions returns the regions the profile routes to, in order.
func (p Profile) Regions() []string {
	out := make([]string, 0, len(p.ModelARNs))
	for _, a := range p.ModelARNs {
		// arn:aws:bedrock:REGION::foundation-model/ID
		var n, start int
		for i := 0; i < len(a); i++ {
			if a[i] == ':' {
				n++
				if n == 3 {
					start = i + 1
				} else if n == 4 {
					out = append(out, a[start:i])
					break
				}
			}
		}
	}
	return out
}

// ScopeOfSource returns the endpoint scope a modelSource.copyFrom ARN
// names, from the ARN alone: global for a system profile whose id starts
// "global.", geographic for any other system profile, in-region for a
// foundation model (or an ARN it cannot read). It is the rule the stores'
// migrations backfill existing profiles with; creation reads the
// catalogue's geography instead, which agrees with it.
func ScopeOfSource(source string) string {
	a, err := arn.Bedrock(source, arn.TypeInferenceProfile)
	if err != nil {
		return catalog.ScopeInRegion
	}
	geo, _, _ := strings.Cut(a.ID(), ".")
	return catalog.ScopeOfGeo(geo)
}

// Clone returns a deep copy of p.
func (p Profile) Clone() Profile {
	c := p
	c.ModelARNs = append([]string(nil), p.ModelARNs...)
	c.Tags = p.Tags.Clone()
	return c
}

// Store persists application inference profiles. Implementations are safe
// for concurrent use.
type Store interface {
	// CreateProfile inserts p. It returns an errkind.Conflict error when a
	// profile with the same account and ID, name, or client request token
	// already exists.
	CreateProfile(ctx context.Context, p Profile) error
	// DeleteProfile removes the profile; errkind.NotFound if absent.
	DeleteProfile(ctx context.Context, account, id string) error
	// SetProfileTags replaces the profile's whole tag set and its UpdatedAt;
	// errkind.NotFound if absent.
	SetProfileTags(ctx context.Context, account, id string, t tags.Set, updated time.Time) error
	// ListAllProfiles returns every application profile of every account,
	// ordered by account, creation time and ID.
	ListAllProfiles(ctx context.Context) ([]Profile, error)
}

// QuotaStore is a Store that enforces the per-account quota itself, in
// the transaction that inserts: several replicas sharing it cannot exceed
// the quota together, as they could checking their own counts. The
// Service uses it when its store implements it.
type QuotaStore interface {
	// CreateProfileWithin is CreateProfile, failing with an
	// errkind.QuotaExceeded error when p's account already has quota
	// profiles.
	CreateProfileWithin(ctx context.Context, p Profile, quota int) error
}
