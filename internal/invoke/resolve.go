package invoke

import (
	"strings"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Target is what a runtime modelId resolves to.
type Target struct {
	Account    string
	ProfileARN string        // "" for a direct foundation-model call
	ProfileID  string        // application id or system GEO.MODEL id
	Type       profile.Type  // "" for a direct call
	Model      catalog.Model // shared with the catalogue; do not modify
	Regions    []string      // regions to route to, in preference order
	Tags       tags.Set      // the profile's tags now (shared; do not modify)
	// Scope is the endpoint scope the call is priced in: the profile's
	// (fixed when an application profile was created), in-region for a
	// direct call.
	Scope string

	// modelARNs are the profile's foundation-model ARNs, one per region
	// in Regions' order (shared; do not modify); nil for a direct call.
	modelARNs []string
}

// Resolve turns a runtime modelId (foundation-model id or ARN,
// system-defined profile id or ARN, application profile id or ARN) into
// the target it names, as account sees it.
func (s *Service) Resolve(account, modelID string) (Target, error) {
	if modelID == "" || len(modelID) > 2048 {
		return Target{}, errkind.New(errkind.Invalid, "1 validation error detected: Value at 'modelId' failed to satisfy constraint: Member must have length between 1 and 2048")
	}
	region := s.profiles.Region()
	if strings.HasPrefix(modelID, "arn:") {
		a, err := arn.Bedrock(modelID, arn.TypeFoundationModel, arn.TypeInferenceProfile, arn.TypeApplicationProfile)
		if err != nil {
			return Target{}, errkind.New(errkind.Invalid, "The provided model identifier is invalid.")
		}
		if a.Region != region {
			return Target{}, errkind.New(errkind.Invalid, "The model ARN %s is in region %q, but this endpoint serves %q.", modelID, a.Region, region)
		}
		switch a.Type() {
		case arn.TypeApplicationProfile:
			if a.Account != account {
				return Target{}, errkind.New(errkind.NotFound, "The inference profile %s could not be found.", modelID)
			}
			return s.applicationTarget(account, a.ID(), modelID)
		case arn.TypeInferenceProfile:
			if a.Account != account {
				return Target{}, errkind.New(errkind.NotFound, "The inference profile %s could not be found.", modelID)
			}
			return s.systemTarget(account, a.ID(), modelID)
		default:
			if a.Account != "" {
				return Target{}, errkind.New(errkind.Invalid, "The provided model identifier is invalid.")
			}
			return s.modelTarget(account, a.ID(), modelID)
		}
	}
	if p, ok := s.profiles.Lookup(account, modelID); ok {
		return s.fromApplication(p)
	}
	if _, ok := s.catalog.SystemProfile(modelID); ok {
		return s.systemTarget(account, modelID, modelID)
	}
	return s.modelTarget(account, modelID, modelID)
}

func (s *Service) applicationTarget(account, id, ident string) (Target, error) {
	p, ok := s.profiles.Lookup(account, id)
	if !ok {
		return Target{}, errkind.New(errkind.NotFound, "The inference profile %s could not be found.", ident)
	}
	return s.fromApplication(p)
}

func (s *Service) fromApplication(p *profile.Profile) (Target, error) {
	m, ok := s.catalog.SharedModel(p.ModelID)
	if !ok {
		return Target{}, errkind.New(errkind.Internal, "The model %s of inference profile %s is no longer in the catalogue.", p.ModelID, p.ID)
	}
	return Target{Account: p.Account, ProfileARN: p.ARN, ProfileID: p.ID, Type: profile.Application,
		Model: m, Regions: p.Regions(), Tags: p.Tags, Scope: p.Scope, modelARNs: p.ModelARNs}, nil
}

func (s *Service) systemTarget(account, id, ident string) (Target, error) {
	p, ok := s.profiles.SystemProfile(account, id)
	if !ok {
		return Target{}, errkind.New(errkind.NotFound, "The inference profile %s could not be found.", ident)
	}
	m, ok := s.catalog.SharedModel(p.ModelID)
	if !ok {
		return Target{}, errkind.New(errkind.Internal, "The model %s is not in the catalogue.", p.ModelID)
	}
	return Target{Account: account, ProfileARN: p.ARN, ProfileID: p.ID, Type: profile.SystemDefined,
		Model: m, Regions: p.Regions(), Scope: p.Scope, modelARNs: p.ModelARNs}, nil
}

func (s *Service) modelTarget(account, id, ident string) (Target, error) {
	m, ok := s.catalog.SharedModel(id)
	region := s.profiles.Region()
	if !ok {
		return Target{}, errkind.New(errkind.Invalid, "The provided model identifier is invalid: %s.", ident)
	}
	offered := false
	for _, r := range m.Regions {
		offered = offered || r == region
	}
	if !offered {
		return Target{}, errkind.New(errkind.Invalid, "Invocation of model ID %s with on-demand throughput isn't supported in %s. Retry your request with the ID or ARN of an inference profile that contains this model.", id, region)
	}
	return Target{Account: account, Model: m, Regions: []string{region}, Scope: catalog.ScopeInRegion}, nil
}

// ResolveTagged finds the application profile for a call that names its
// tenant by tags instead of an ARN: modelID is the base model (id or ARN)
// and the profile must wrap that model and carry every tag in filters.
// None is a NotFound error; several are an Invalid error listing them.
func (s *Service) ResolveTagged(account, modelID string, filters []tags.Filter) (Target, error) {
	base, err := s.Resolve(account, modelID)
	if err != nil {
		return Target{}, err
	}
	if base.Type == profile.Application {
		return Target{}, errkind.New(errkind.Invalid, "X-Tollgate-Profile-Tags needs a base model as modelId, not the profile %s.", modelID)
	}
	var found []*profile.Profile
	for _, a := range s.profiles.FindByTags(account, filters) {
		id := a[strings.LastIndexByte(a, '/')+1:]
		if p, ok := s.profiles.Lookup(account, id); ok && p.ModelID == base.Model.ID {
			found = append(found, p)
		}
	}
	switch len(found) {
	case 0:
		return Target{}, errkind.New(errkind.NotFound, "No application inference profile for %s matches the tags %s.", base.Model.ID, describe(filters))
	case 1:
		return s.fromApplication(found[0])
	}
	arns := make([]string, len(found))
	for i, p := range found {
		arns[i] = p.ARN
	}
	return Target{}, errkind.New(errkind.Invalid, "%d application inference profiles for %s match the tags %s: %s.", len(found), base.Model.ID, describe(filters), strings.Join(arns, ", "))
}

func describe(filters []tags.Filter) string {
	parts := make([]string, len(filters))
	for i, f := range filters {
		parts[i] = f.Key + "=" + strings.Join(f.Values, "|")
	}
	return strings.Join(parts, ",")
}

// ParseProfileTags reads the X-Tollgate-Profile-Tags header:
// "tenant=acme,app=claims_chatbot". Each key must appear once.
func ParseProfileTags(h string) ([]tags.Filter, error) {
	var out []tags.Filter
	seen := map[string]bool{}
	for _, part := range strings.Split(h, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(part), "=")
		k, v = strings.TrimSpace(k), strings.TrimSpace(v)
		if !ok || k == "" || seen[k] {
			return nil, errkind.New(errkind.Invalid, "X-Tollgate-Profile-Tags must be key=value pairs separated by commas, each key once.")
		}
		if err := tags.ValidateValue(v); err != nil || len(k) > 128 {
			return nil, errkind.New(errkind.Invalid, "X-Tollgate-Profile-Tags holds an invalid tag %q.", k)
		}
		seen[k] = true
		out = append(out, tags.Filter{Key: k, Values: []string{v}})
	}
	return out, nil
}
