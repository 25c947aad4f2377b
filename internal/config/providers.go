package config

import (
	"errors"
	"fmt"
	"net/url"
	"path"
	"time"
)

// Provider configures one model backend.
type Provider struct {
	// Name identifies the provider in routes and in usage records. Required.
	Name string `yaml:"name"`
	// Type is "sim", "openai" or "bedrock". Required.
	Type string `yaml:"type"`

	// BaseURL (openai) is the server's API root, e.g. http://127.0.0.1:8000/v1.
	BaseURL string `yaml:"baseURL"`
	// APIKeyEnv (openai) names the environment variable holding the API
	// key, which Load reads into Secrets.ProviderAPIKeys; keys are never
	// written in the config file. Default empty: none.
	APIKeyEnv string `yaml:"apiKeyEnv"`
	// Models maps catalogue model ids to the provider's own model names
	// (openai: served model names; bedrock: upstream model ids or
	// application-profile ARNs). Default empty: the catalogue id is used.
	Models map[string]string `yaml:"models"`

	// Endpoint (bedrock) overrides the Bedrock Runtime endpoint for every
	// region, e.g. another Tollgate. Default empty: AWS's regional endpoint.
	Endpoint string `yaml:"endpoint"`
	// Endpoints (bedrock) overrides the endpoint per region.
	Endpoints map[string]string `yaml:"endpoints"`

	// Latency (sim) is added before every answer. Default 0.
	Latency time.Duration `yaml:"latency"`
	// TimeToFirstToken (sim) delays a stream's first token. Default 0.
	TimeToFirstToken time.Duration `yaml:"timeToFirstToken"`
	// TokensPerSecond (sim) paces output; 0 (default) means no pacing.
	TokensPerSecond float64 `yaml:"tokensPerSecond"`
	// Faults (sim) injects errors on a schedule. Default none.
	Faults []Fault `yaml:"faults"`
	// Capacity (sim) is the most calls served at once; one more is a
	// ThrottlingException, as from a model of fixed capacity. Default 0:
	// unlimited.
	Capacity int `yaml:"capacity"`
}

// Fault is an injected simulator error: every Every-th call after the
// first After calls fails with Kind.
type Fault struct {
	Every          int      `yaml:"every"`
	After          int      `yaml:"after"`
	Kind           string   `yaml:"kind"` // throttled, unavailable, invalid, internal
	Message        string   `yaml:"message"`
	Regions        []string `yaml:"regions"`
	Models         []string `yaml:"models"`
	MidStream      bool     `yaml:"midStream"`
	MidStreamAfter int      `yaml:"midStreamAfter"`
}

// Route binds catalogue models (glob patterns on the model id, e.g.
// "anthropic.*") in some regions to a provider. The first matching route
// wins; models no route matches are served by the built-in simulator.
type Route struct {
	Models   []string `yaml:"models"`  // default ["*"]
	Regions  []string `yaml:"regions"` // default: every region
	Provider string   `yaml:"provider"`
	// Upstream, when set, is the model name or ARN the provider addresses.
	Upstream string `yaml:"upstream"`
}

func (c Config) validateProviders() error {
	var errs []error
	names := map[string]bool{"sim": true}
	for i, p := range c.Providers {
		where := fmt.Sprintf("providers[%d] (%s)", i, p.Name)
		if p.Name == "" {
			errs = append(errs, fmt.Errorf("providers[%d]: name is required", i))
		} else if names[p.Name] && p.Name != "sim" {
			errs = append(errs, fmt.Errorf("%s: duplicate name", where))
		}
		names[p.Name] = true
		switch p.Type {
		case "sim":
			if p.Capacity < 0 {
				errs = append(errs, fmt.Errorf("%s: capacity must not be negative", where))
			}
			for j, f := range p.Faults {
				switch f.Kind {
				case "throttled", "unavailable", "invalid", "internal":
				default:
					errs = append(errs, fmt.Errorf("%s: faults[%d]: kind %q must be throttled, unavailable, invalid or internal", where, j, f.Kind))
				}
				if f.Every < 1 {
					errs = append(errs, fmt.Errorf("%s: faults[%d]: every must be at least 1", where, j))
				}
			}
		case "openai":
			if u, err := url.Parse(p.BaseURL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				errs = append(errs, fmt.Errorf("%s: baseURL %q must be an http(s) URL", where, p.BaseURL))
			}
		case "bedrock":
			for _, e := range append([]string{p.Endpoint}, mapValues(p.Endpoints)...) {
				if e == "" {
					continue
				}
				if u, err := url.Parse(e); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
					errs = append(errs, fmt.Errorf("%s: endpoint %q must be an http(s) URL", where, e))
				}
			}
		default:
			errs = append(errs, fmt.Errorf("%s: type %q must be sim, openai or bedrock", where, p.Type))
		}
	}
	for i, r := range c.Routes {
		if !names[r.Provider] {
			errs = append(errs, fmt.Errorf("routes[%d]: unknown provider %q", i, r.Provider))
		}
		for _, m := range r.Models {
			if _, err := path.Match(m, ""); err != nil {
				errs = append(errs, fmt.Errorf("routes[%d]: bad model pattern %q", i, m))
			}
		}
	}
	return errors.Join(errs...)
}

func mapValues(m map[string]string) []string {
	out := make([]string, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
