package sqlite_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/alarm"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/console"
	"github.com/tollgate-dev/tollgate/internal/console/session"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/storetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// consoleBenchProfiles is how many application profiles the console's
// benchmark indexes (the month's rollups name the first BenchProfiles).
const consoleBenchProfiles = 100_000

// memProfiles is a profile.Store holding the benchmark's profiles.
type memProfiles struct{ all []profile.Profile }

func (m *memProfiles) CreateProfile(context.Context, profile.Profile) error { return nil }
func (m *memProfiles) DeleteProfile(context.Context, string, string) error  { return nil }
func (m *memProfiles) SetProfileTags(context.Context, string, string, tags.Set, time.Time) error {
	return nil
}
func (m *memProfiles) ListAllProfiles(context.Context) ([]profile.Profile, error) { return m.all, nil }

// benchAuth is the root of the benchmark's management account.
type benchAuth struct{ root principal.Principal }

func (a benchAuth) Secret(context.Context, string) (string, error) { return "", nil }
func (a benchAuth) ByAccessKey(string) (principal.Identity, bool) {
	return principal.Identity{Principal: &a.root, KeyID: "AKIABENCH"}, true
}
func (a benchAuth) ByAPIKey(string) (principal.Identity, bool)   { return principal.Identity{}, false }
func (a benchAuth) Principal(string) (principal.Principal, bool) { return a.root, true }

type benchDir struct{}

func (benchDir) Accounts() []principal.Account             { return nil }
func (benchDir) APIKeys(string) []principal.APIKey         { return nil }
func (benchDir) AttachedPolicies(principalID string) []any { return nil }

type noBudgets struct{}

func (noBudgets) List(context.Context, string) []budget.View { return nil }
func (noBudgets) Get(context.Context, string, string) (budget.View, error) {
	return budget.View{}, nil
}
func (noBudgets) Create(context.Context, budget.Budget) error { return nil }
func (noBudgets) Update(context.Context, budget.Budget) error { return nil }
func (noBudgets) PerformanceHistory(context.Context, string, string, time.Time, time.Time) (budget.Budget, []budget.PeriodSpend, error) {
	return budget.Budget{}, nil, nil
}

type noAlarms struct{}

func (noAlarms) List(string, alarm.Filter) []alarm.Alarm { return nil }
func (noAlarms) Put(context.Context, alarm.Alarm) error  { return nil }
func (noAlarms) History(context.Context, alarm.HistoryQuery) ([]alarm.HistoryItem, error) {
	return nil, nil
}

// swapCosts lets a benchmark start each op with a new cost service (an
// empty cache: every op reads the month from the store).
type swapCosts struct{ *costquery.Service }

// BenchmarkConsolePages renders the console's cost explorer (the month,
// daily, grouped by a tag key) and home page as the management root over
// the month of 10M calls, with 100,000 application profiles in the
// profile index. cold starts each render with a new cost service, so the
// month's rollups are read from the store; warm reuses one, whose cache
// holds them until the ledger changes, as a running server does.
func BenchmarkConsolePages(b *testing.B) {
	db := benchDB(b)
	sdb, err := sqlite.Open(b.Context(), filepath.Join(b.TempDir(), "sessions.db"), sqlite.Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { sdb.Close() })
	now := benchMonth.AddDate(0, 1, 0).Add(-time.Hour) // the month's last hour
	clock := func() time.Time { return now }

	all := make([]profile.Profile, consoleBenchProfiles)
	for p := range all {
		bp := storetest.BenchProfileOf(p % storetest.BenchProfiles)
		pr := profile.Profile{Account: bp.Account, ID: bp.ID, ARN: bp.ARN, Name: bp.ID, Region: "us-east-1", Type: profile.Application,
			ModelID: bp.Model, Tags: bp.Tags, CreatedAt: benchMonth, UpdatedAt: benchMonth}
		if p >= storetest.BenchProfiles {
			pr.ID = fmt.Sprintf("c%011d", p)
			pr.ARN = "arn:aws:bedrock:us-east-1:" + bp.Account + ":application-inference-profile/" + pr.ID
			pr.Name = pr.ID
		}
		all[p] = pr
	}
	profiles, err := profile.NewService(b.Context(), profile.Config{Store: &memProfiles{all: all}, Catalog: catalog.Default(), Region: "us-east-1", Quota: consoleBenchProfiles})
	if err != nil {
		b.Fatal(err)
	}
	names := costquery.NewNamer(catalog.Default())
	costs := &swapCosts{costquery.NewService(db, names, clock)}
	const mgmt = "111111111111"
	root := principal.Principal{ID: principal.RootID(mgmt), Account: mgmt, Name: "root", Kind: principal.Root}
	sessions := &session.Manager{Store: sdb, Now: clock}
	h := console.New(console.Options{Sessions: sessions, Auth: benchAuth{root}, Directory: benchDir{}, Authz: authz.New(benchDir{}, clock),
		Costs: costs, Profiles: profiles, Budgets: noBudgets{}, Alarms: noAlarms{}, Management: mgmt, Now: clock})
	token, _, err := sessions.Start(b.Context(), root.ID, "AKIABENCH", false)
	if err != nil {
		b.Fatal(err)
	}
	for _, pg := range []struct{ name, path string }{
		{"costs", "/console/costs?range=mtd&gran=DAILY&group=tag:team"},
		{"home", "/console/"},
	} {
		for _, warm := range []bool{false, true} {
			mode := "cold"
			if warm {
				mode = "warm"
			}
			b.Run(pg.name+"/"+mode, func(b *testing.B) {
				b.ReportAllocs()
				for b.Loop() {
					if !warm {
						costs.Service = costquery.NewService(db, names, clock)
					}
					req := httptest.NewRequest("GET", pg.path, nil)
					req.AddCookie(&http.Cookie{Name: "tollgate_console", Value: token})
					rec := httptest.NewRecorder()
					h.ServeHTTP(rec, req)
					if rec.Code != http.StatusOK {
						b.Fatalf("%s: %d %.300s", pg.path, rec.Code, rec.Body.String())
					}
				}
			})
		}
	}
}
