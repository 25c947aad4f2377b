package adminapi

import (
	"context"
	"net/http"
	"net/url"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// WithProfileTiers serves the profile tier operations (GetProfileTiers,
// PutProfileTiers) over t and returns h.
func (h *Handler) WithProfileTiers(t *profile.Tiers) *Handler {
	h.tiers = t
	return h
}

// ProfileTiers is the wire form of an application profile's service-tier
// settings: the tier of calls that name none and the highest tier calls
// may use ("" = unset: Standard, and any tier).
type ProfileTiers struct {
	ProfileARN  string `json:"profileArn,omitempty"`
	DefaultTier string `json:"defaultTier"`
	MaxTier     string `json:"maxTier"`
}

func (h *Handler) tierRoutes() []route {
	return []route{
		{Route{Pattern: "GET /tollgate/v1/profile-tiers/{profile}", Op: "GetProfileTiers"}, h.pathProfile, h.getProfileTiers},
		{Route{Pattern: "PUT /tollgate/v1/profile-tiers/{profile}", Op: "PutProfileTiers"}, h.pathProfile, h.putProfileTiers},
	}
}

// pathProfile targets the application profile named in the path (an id
// or ARN) in the account of ?account= (default: the caller's), with its
// tags as aws:ResourceTag keys. A profile that does not exist is
// authorized on the ARN it would have before NotFound is answered.
func (h *Handler) pathProfile(r *http.Request) (target, error) {
	account := r.URL.Query().Get("account")
	if account == "" {
		account = awsproto.Account(r.Context())
	}
	if h.tiers == nil {
		return target{}, errkind.New(errkind.Unavailable, "Profile tier settings are not served here.")
	}
	ident := r.PathValue("profile")
	p, _, err := h.tiers.Get(account, ident)
	if err != nil {
		resource := ident
		if a, perr := arn.Parse(ident); perr != nil || a.Account != account {
			resource = "arn:aws:bedrock:*:" + account + ":application-inference-profile/" + ident
		}
		return target{ARN: resource, Account: account, Missing: err}, nil
	}
	return target{ARN: p.ARN, Account: account, Keys: authz.ResourceKeys(p.Tags)}, nil
}

func (h *Handler) getProfileTiers(w http.ResponseWriter, r *http.Request, t target) error {
	p, s, err := h.tiers.Get(t.Account, r.PathValue("profile"))
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, ProfileTiers{ProfileARN: p.ARN, DefaultTier: s.Default, MaxTier: s.Max})
}

func (h *Handler) putProfileTiers(w http.ResponseWriter, r *http.Request, t target) error {
	var in ProfileTiers
	if err := awsproto.DecodeJSON(awsproto.Info(r.Context()).Body, &in); err != nil {
		return err
	}
	s := profile.TierSettings{Default: in.DefaultTier, Max: in.MaxTier}
	p, err := h.tiers.Set(r.Context(), t.Account, r.PathValue("profile"), s)
	if err != nil {
		return err
	}
	return ok(w, http.StatusOK, ProfileTiers{ProfileARN: p.ARN, DefaultTier: s.Default, MaxTier: s.Max})
}

func profileTiersPath(account, profileID string) string {
	p := "/tollgate/v1/profile-tiers/" + url.PathEscape(profileID)
	if account != "" {
		p += "?account=" + url.QueryEscape(account)
	}
	return p
}

// GetProfileTiers returns an application profile's service-tier settings
// (GetProfileTiers); account "" is the caller's.
func (c *Client) GetProfileTiers(ctx context.Context, account, profileID string) (ProfileTiers, error) {
	var out ProfileTiers
	err := c.call(ctx, http.MethodGet, profileTiersPath(account, profileID), nil, &out)
	return out, err
}

// PutProfileTiers replaces an application profile's service-tier settings
// (PutProfileTiers); empty tiers unset them.
func (c *Client) PutProfileTiers(ctx context.Context, account, profileID, defaultTier, maxTier string) (ProfileTiers, error) {
	var out ProfileTiers
	err := c.call(ctx, http.MethodPut, profileTiersPath(account, profileID),
		ProfileTiers{DefaultTier: defaultTier, MaxTier: maxTier}, &out)
	return out, err
}
