package config

import (
	"errors"
	"fmt"
	"time"
)

// Quotas configures Bedrock-style runtime quotas and priority admission
// (docs/priority.md). The zero value: no quotas, and an adaptive limit of
// calls in flight per provider route with its defaults.
type Quotas struct {
	// Rules are the requests- and tokens-per-minute quotas. Default none.
	Rules []QuotaRule `yaml:"rules"`
	// Reserved is tokens-per-minute capacity reserved for application
	// profiles (the reserved tier), overflowing to Standard. Default none.
	Reserved []QuotaReserved `yaml:"reserved"`
	// FlexShare and DefaultShare are the parts of each quota, and of
	// each upstream's limit of calls in flight, flex and default calls
	// may fill, keeping the rest for priority. Defaults 0.8 and 0.9.
	FlexShare    float64 `yaml:"flexShare"`
	DefaultShare float64 `yaml:"defaultShare"`
	// FlexMaxWait is how long a flex call may wait for room in a quota
	// or a slot upstream before ThrottlingException. Default 2s.
	FlexMaxWait time.Duration `yaml:"flexMaxWait"`
	// DefaultMaxWait and PriorityMaxWait are how long default and
	// priority (and reserved) calls may wait for a slot upstream.
	// Defaults 1s and 5s.
	DefaultMaxWait  time.Duration `yaml:"defaultMaxWait"`
	PriorityMaxWait time.Duration `yaml:"priorityMaxWait"`
	// Concurrency bounds the adaptive limit of calls in flight to each
	// provider, model and region. Defaults: initial 32, min 1, max 1024.
	Concurrency QuotaConcurrency `yaml:"concurrency"`
}

// QuotaRule is one quota: RPM requests and TPM tokens a minute per
// account for the models matched, in one scope.
type QuotaRule struct {
	// Model is a model id or a pattern with one "*". Required.
	Model string `yaml:"model"`
	// Scope is "on-demand" (in-region calls) or "cross-region" (through
	// a system-defined profile). Default "on-demand".
	Scope string `yaml:"scope"`
	// Account limits the rule to one account. Default: every account.
	Account string `yaml:"account"`
	// Profile makes the quota one application profile's own (its id).
	// Default: the account's.
	Profile string `yaml:"profile"`
	// RPM and TPM are the limits; 0 means none. At least one is set.
	RPM int64 `yaml:"rpm"`
	TPM int64 `yaml:"tpm"`
}

// QuotaReserved reserves TPM tokens a minute for an application profile.
type QuotaReserved struct {
	Profile string `yaml:"profile"` // required
	Account string `yaml:"account"` // default: every account
	TPM     int64  `yaml:"tpm"`     // required, > 0
}

// QuotaConcurrency bounds the adaptive limit of calls in flight.
type QuotaConcurrency struct {
	Initial int `yaml:"initial"`
	Min     int `yaml:"min"`
	Max     int `yaml:"max"`
}

func (q Quotas) validate() error {
	var errs []error
	for i, r := range q.Rules {
		where := fmt.Sprintf("quotas.rules[%d]", i)
		if r.Model == "" {
			errs = append(errs, fmt.Errorf("%s: model is required", where))
		}
		if r.Scope != "" && r.Scope != "on-demand" && r.Scope != "cross-region" {
			errs = append(errs, fmt.Errorf("%s: scope %q must be on-demand or cross-region", where, r.Scope))
		}
		if r.RPM < 0 || r.TPM < 0 || r.RPM == 0 && r.TPM == 0 {
			errs = append(errs, fmt.Errorf("%s: rpm and tpm must not be negative, and one must be set", where))
		}
		if r.Account != "" && !accountRE.MatchString(r.Account) {
			errs = append(errs, fmt.Errorf("%s: account %q is not a 12-digit account id", where, r.Account))
		}
	}
	for i, r := range q.Reserved {
		if r.Profile == "" || r.TPM <= 0 {
			errs = append(errs, fmt.Errorf("quotas.reserved[%d]: profile and a positive tpm are required", i))
		}
	}
	for name, v := range map[string]float64{"flexShare": q.FlexShare, "defaultShare": q.DefaultShare} {
		if v < 0 || v > 1 {
			errs = append(errs, fmt.Errorf("quotas.%s %v must lie between 0 and 1", name, v))
		}
	}
	for name, v := range map[string]time.Duration{"flexMaxWait": q.FlexMaxWait, "defaultMaxWait": q.DefaultMaxWait, "priorityMaxWait": q.PriorityMaxWait} {
		if v < 0 {
			errs = append(errs, fmt.Errorf("quotas.%s must not be negative", name))
		}
	}
	c := q.Concurrency
	if c.Initial < 0 || c.Min < 0 || c.Max < 0 || c.Max > 0 && c.Min > c.Max {
		errs = append(errs, errors.New("quotas.concurrency: initial, min and max must not be negative, and min not above max"))
	}
	return errors.Join(errs...)
}
