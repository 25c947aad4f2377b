package invoke_test

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// scopeModel is a model whose global price differs from its in-region
// and geographic one, so a record's cost tells which scope priced it.
const scopeModel = "anthropic.scope-test-v1:0"

// scopeCatalog returns a catalogue of scopeModel with the system profiles
// given as YAML entries.
func scopeCatalog(t *testing.T, profiles string) *catalog.Catalog {
	t.Helper()
	c, err := catalog.Parse(fmt.Appendf(nil, `models:
  - id: %[1]s
    name: Scope Test
    provider: Anthropic
    inputModalities: [TEXT]
    outputModalities: [TEXT]
    streaming: true
    inferenceTypes: [ON_DEMAND]
    lifecycle: ACTIVE
    regions: [us-east-1, us-west-2]
    family: anthropic
    prices:
      - {effective: 2024-01-01, scopes: [in-region, geo], input: "0.004", output: "0.02", source: test in-region price}
      - {effective: 2024-01-01, scopes: [global], input: "0.001", output: "0.005", source: test global price}
systemProfiles:
%[2]s`, scopeModel, profiles))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestProfileScopeFixedAtCreation creates an application profile from a
// global system profile, then reopens the profiles over catalogues in
// which that system profile is gone or the only one left for the model
// is geographic: the profile's calls stay priced (and billed) as global,
// the scope it recorded when it was created.
func TestProfileScopeFixedAtCreation(t *testing.T) {
	global := fmt.Sprintf(`  - {id: global.%[1]s, geo: global, name: Global Scope Test, description: d, modelId: %[1]s, regions: [us-east-1, us-west-2]}
`, scopeModel)
	us := fmt.Sprintf(`  - {id: us.%[1]s, geo: us, name: US Scope Test, description: d, modelId: %[1]s, regions: [us-east-1, us-west-2]}
`, scopeModel)
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "tollgate.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	at := scopeCatalog(t, global)
	ps, err := profile.NewService(t.Context(), profile.Config{Store: db, Catalog: at, Region: "us-east-1"})
	if err != nil {
		t.Fatal(err)
	}
	fromGlobal, err := ps.Create(t.Context(), profile.CreateInput{Account: account, Name: "from-global",
		CopyFrom: "arn:aws:bedrock:us-east-1:" + account + ":inference-profile/global." + scopeModel})
	if err != nil {
		t.Fatal(err)
	}
	direct, err := ps.Create(t.Context(), profile.CreateInput{Account: account, Name: "from-model",
		CopyFrom: "arn:aws:bedrock:us-east-1::foundation-model/" + scopeModel})
	if err != nil {
		t.Fatal(err)
	}
	if fromGlobal.Scope != catalog.ScopeGlobal || direct.Scope != catalog.ScopeInRegion {
		t.Fatalf("created with scopes %q and %q, want global and in-region", fromGlobal.Scope, direct.Scope)
	}

	for _, tc := range []struct{ name, profiles string }{
		{"the catalogue of its creation", global},
		{"its system profile gone", ""},
		{"only a geographic profile left", us},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cat := scopeCatalog(t, tc.profiles)
			reopened, err := profile.NewService(t.Context(), profile.Config{Store: db, Catalog: cat, Region: "us-east-1"})
			if err != nil {
				t.Fatal(err)
			}
			p := &pipeline{db: db, profiles: reopened, catalog: cat}
			svc := p.service(t, invoke.Config{}, func(catalog.Model, string) (invoke.Route, bool) {
				return invoke.Route{Name: "sim", Provider: sim.New(sim.Config{})}, true
			})
			before := len(p.records(t))
			for i, prof := range []profile.Profile{fromGlobal, direct} {
				caller := invoke.Caller{RequestID: fmt.Sprintf("%s-%d", tc.name, i), Account: account}
				if _, err := svc.Converse(t.Context(), caller, prof.ARN, request("tell me about floods")); err != nil {
					t.Fatal(err)
				}
			}
			recs := p.records(t)[before:]
			if len(recs) != 2 {
				t.Fatalf("%d records, want 2", len(recs))
			}
			for i, want := range []struct {
				scope         string
				input, output string
			}{{"global", "0.001", "0.005"}, {"", "0.004", "0.02"}} {
				r := recs[i]
				perK := func(v string, tokens int64) money.Amount { return money.MustParse(v) * money.Amount(tokens) / 1000 }
				if r.Scope != want.scope || !r.Priced || r.InputCost != perK(want.input, r.InputTokens) || r.OutputCost != perK(want.output, r.OutputTokens) {
					t.Errorf("call through %s: scope %q, input %s for %d tokens, output %s for %d; want scope %q at $%s/$%s per 1K",
						r.ProfileARN, r.Scope, r.InputCost, r.InputTokens, r.OutputCost, r.OutputTokens, want.scope, want.input, want.output)
				}
			}
		})
	}
}
