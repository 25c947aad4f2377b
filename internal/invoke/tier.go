package invoke

import (
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

// tierRank orders the service tiers for a profile's cap.
func tierRank(tier string) int { return profile.TierRank(tier) }

// TierLookup returns the service-tier settings of an application profile;
// ok false when it has none (profile.Tiers.Lookup).
type TierLookup func(account, profileID string) (profile.TierSettings, bool)

// requestedTier returns the tier a call asks for: the one the request
// names, else its profile's default, else Standard ("default"), with the
// profile's tier settings.
func (s *Service) requestedTier(caller Caller, t Target) (string, profile.TierSettings) {
	tier := caller.ServiceTier
	var set profile.TierSettings
	if t.ProfileID != "" && s.tiers != nil {
		set, _ = s.tiers(t.Account, t.ProfileID)
	}
	if tier == "" {
		tier = set.Default
	}
	if tier == "" {
		tier = catalog.TierDefault
	}
	return tier, set
}

// checkTier refuses a tier that is no Bedrock tier, that the model does
// not offer (ValidationException, as Bedrock), or that is above the
// profile's cap (AccessDeniedException).
func checkTier(tier string, set profile.TierSettings, t Target) error {
	if tierRank(tier) < 0 {
		return errkind.New(errkind.Invalid, "1 validation error detected: Value '%s' at 'serviceTier.type' failed to satisfy constraint: Member must satisfy enum value set: [priority, default, flex, reserved]", tier)
	}
	if !t.Model.OffersTier(tier) {
		return errkind.New(errkind.Invalid, "The provided service tier (%s) is not supported for the model %s.", tier, t.Model.ID)
	}
	if set.Max != "" && tierRank(tier) > tierRank(set.Max) {
		return errkind.New(errkind.Denied, "The inference profile %s may use service tiers up to %s; the call asked for %s.", t.ProfileARN, set.Max, tier)
	}
	return nil
}

// onLatency records the latency mode ("standard" or "optimized") a
// provider says serves the current attempt; "" (not said) changes nothing.
func (c *call) onLatency(mode string) {
	if mode == converse.LatencyStandard || mode == converse.LatencyOptimized {
		c.latency = mode
	}
}

// onServed records the tier a provider says serves the current attempt.
func (c *call) onServed(tier string) {
	if tierRank(tier) >= 0 {
		c.served = tier
	}
}
