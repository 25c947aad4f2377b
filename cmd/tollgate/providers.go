package main

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/internal/api/adminapi"
	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/provider/bedrock"
	"github.com/tollgate-dev/tollgate/internal/provider/openai"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

var faultKinds = map[string]errkind.Kind{
	"throttled":   errkind.Throttled,
	"unavailable": errkind.Unavailable,
	"invalid":     errkind.Invalid,
	"internal":    errkind.Internal,
}

func simConfig(p config.Provider) sim.Config {
	c := sim.Config{Latency: p.Latency, TimeToFirstToken: p.TimeToFirstToken, TokensPerSecond: p.TokensPerSecond, Capacity: p.Capacity}
	for _, f := range p.Faults {
		c.Faults = append(c.Faults, sim.Fault{Every: f.Every, After: f.After, Kind: faultKinds[f.Kind], Message: f.Message,
			Regions: f.Regions, Models: f.Models, MidStream: f.MidStream, MidStreamAfter: f.MidStreamAfter})
	}
	return c
}

// buildRouter creates the configured providers and the route table. The
// built-in simulator "sim" serves every model no route names.
func buildRouter(ctx context.Context, cfg config.Config) (*invoke.RouteTable, error) {
	providers := map[string]invoke.Provider{"sim": sim.New(sim.Config{})}
	for _, p := range cfg.Providers {
		var prov invoke.Provider
		switch p.Type {
		case "sim":
			prov = sim.New(simConfig(p))
		case "openai":
			o, err := openai.New(openai.Config{BaseURL: p.BaseURL, APIKey: cfg.Secrets.ProviderAPIKeys[p.Name], Models: p.Models})
			if err != nil {
				return nil, fmt.Errorf("provider %s: %w", p.Name, err)
			}
			prov = o
		case "bedrock":
			b, err := bedrock.New(ctx, bedrock.Config{Endpoint: p.Endpoint, Endpoints: p.Endpoints, Models: p.Models})
			if err != nil {
				return nil, fmt.Errorf("provider %s: %w", p.Name, err)
			}
			prov = b
		default:
			return nil, fmt.Errorf("provider %s: unknown type %q", p.Name, p.Type)
		}
		providers[p.Name] = prov
	}
	rules := make([]invoke.RouteRule, 0, len(cfg.Routes))
	for _, r := range cfg.Routes {
		rules = append(rules, invoke.RouteRule{Models: r.Models, Regions: r.Regions,
			Route: invoke.Route{Name: r.Provider, Provider: providers[r.Provider], Upstream: r.Upstream}})
	}
	return invoke.NewRouteTable(rules, &invoke.Route{Name: "sim", Provider: providers["sim"]}), nil
}

// modelRouter answers the admin API's GetModelRoutes: the target a
// runtime modelId resolves to, as svc resolves it for a call, and the
// provider router picks in each of its regions, with the provider's type
// from the configuration (the built-in "sim" when no route names it).
func modelRouter(svc *invoke.Service, router invoke.Router, cfg config.Config) adminapi.ModelRouter {
	types := map[string]string{"sim": "sim"}
	for _, p := range cfg.Providers {
		types[p.Name] = p.Type
	}
	return func(account, modelID string) (adminapi.ModelRoutes, tags.Set, error) {
		t, err := svc.Resolve(account, modelID)
		if err != nil {
			return adminapi.ModelRoutes{}, nil, err
		}
		out := adminapi.ModelRoutes{ModelID: modelID, ARN: t.ProfileARN, FoundationModelID: t.Model.ID, Routes: []adminapi.ModelRoute{}}
		if out.ARN == "" {
			out.ARN = arn.FoundationModel(cfg.Region, t.Model.ID)
		}
		for _, region := range t.Regions {
			if r, ok := router(t.Model, region); ok {
				out.Routes = append(out.Routes, adminapi.ModelRoute{Region: region, Provider: r.Name, ProviderType: types[r.Name]})
			}
		}
		return out, t.Tags, nil
	}
}
