package main

import (
	"context"
	"fmt"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/provider/bedrock"
	"github.com/tollgate-dev/tollgate/internal/provider/openai"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
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
