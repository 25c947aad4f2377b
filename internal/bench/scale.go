package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	btypes "github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	budgettypes "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/smithy-go/encoding/httpbinding"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/pricing"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Scale is the state a scaled Tollgate target is measured in (issue #18:
// "100,000 profiles, 1,000 budgets and a 10-million-record ledger in
// place ... with the profiles busy"). The harness measures each provider
// twice in one run, empty and at this scale, so the two compare.
type Scale struct {
	// Records are seeded into the ledger before the server starts
	// (`tollgate bench seed`), spread over the 30 days before the run.
	Records int `json:"records"`
	// Profiles are application profiles created through the Bedrock API,
	// tagged app (1 in 1,000), team (1 in 100), dept (1 in 10).
	Profiles int `json:"profiles"`
	// Budgets are monthly COST budgets created through the Budgets API,
	// budget k scoped to the profiles tagged app=app-k, each with a BLOCK
	// action at 100 % of a limit the run does not reach, so admission
	// reserves on it.
	Budgets int `json:"budgets"`
	// Busy is how many of the profiles the calls go through, round robin.
	Busy int `json:"busy"`
}

// ParseScale parses --scale, "records=N,profiles=N,budgets=N,busy=N"
// (any subset; what is left out is 0, and busy defaults to all the
// profiles).
func ParseScale(s string) (*Scale, error) {
	sc := &Scale{}
	busy := false
	for kv := range strings.SplitSeq(s, ",") {
		k, v, ok := strings.Cut(strings.TrimSpace(kv), "=")
		n, err := strconv.Atoi(v)
		if !ok || err != nil || n < 0 {
			return nil, fmt.Errorf("bench: --scale %q: want records=N,profiles=N,budgets=N,busy=N with N ≥ 0", s)
		}
		switch k {
		case "records":
			sc.Records = n
		case "profiles":
			sc.Profiles = n
		case "budgets":
			sc.Budgets = n
		case "busy":
			sc.Busy, busy = n, true
		default:
			return nil, fmt.Errorf("bench: --scale: unknown %q: want records, profiles, budgets or busy", k)
		}
	}
	if !busy {
		sc.Busy = sc.Profiles
	}
	if sc.Busy > sc.Profiles {
		return nil, fmt.Errorf("bench: --scale: busy=%d is more than the %d profiles", sc.Busy, sc.Profiles)
	}
	if sc.Budgets > 0 && sc.Profiles == 0 {
		return nil, fmt.Errorf("bench: --scale: budgets are scoped by the profiles' tags, so they need profiles")
	}
	if *sc == (Scale{}) {
		return nil, fmt.Errorf("bench: --scale %q: nothing to scale", s)
	}
	return sc, nil
}

// String is the --scale form of sc.
func (sc Scale) String() string {
	return fmt.Sprintf("records=%d,profiles=%d,budgets=%d,busy=%d", sc.Records, sc.Profiles, sc.Budgets, sc.Busy)
}

// scaleAccount is the account of a bench Tollgate (serve's default).
const scaleAccount = "123456789012"

// seedLedger runs `tollgate bench seed` on dataDir before its server
// starts.
func (h *harness) seedLedger(ctx context.Context, name, dataDir string, records int) error {
	fmt.Fprintf(h.progress, "bench: seeding %s's ledger with %d records...\n", name, records)
	cmd := exec.CommandContext(ctx, h.o.Executable, "bench", "seed", "--data-dir", dataDir, "--records", strconv.Itoa(records),
		"--account", scaleAccount)
	cmd.Env = childEnv()
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("bench: seed %s: %w: %s", name, err, strings.TrimSpace(out.String()))
	}
	return nil
}

// scaleWorkers is how many API calls provisioning makes at once.
const scaleWorkers = 8

// provisionScale creates sc's budgets and profiles through the APIs of
// the Tollgate at endpoint, for account, and returns the ARNs of the busy
// profiles. The budgets come first: a budget created indexes every
// profile there is, a profile created only the budgets.
func provisionScale(ctx context.Context, endpoint, region, account string, creds aws.Credentials, sc *Scale, progress io.Writer) ([]string, error) {
	cfg := aws.Config{
		Region:           region,
		Credentials:      aws.CredentialsProviderFunc(func(context.Context) (aws.Credentials, error) { return creds, nil }),
		BaseEndpoint:     aws.String(endpoint),
		RetryMaxAttempts: 3,
	}
	if sc.Budgets > 0 {
		fmt.Fprintf(progress, "bench: creating %d budgets with a BLOCK action each...\n", sc.Budgets)
		bu := budgets.NewFromConfig(cfg)
		err := parallel(ctx, sc.Budgets, func(k int) error {
			name := fmt.Sprintf("scale-%04d", k)
			_, err := bu.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: aws.String(account), Budget: &budgettypes.Budget{
				BudgetName: aws.String(name), BudgetType: budgettypes.BudgetTypeCost, TimeUnit: budgettypes.TimeUnitMonthly,
				BudgetLimit: &budgettypes.Spend{Amount: aws.String("1000000"), Unit: aws.String("USD")},
				CostFilters: map[string][]string{"TagKeyValue": {"user:app$" + scaleApp(k)}},
			}})
			if err != nil {
				return fmt.Errorf("bench: create budget %s: %w", name, err)
			}
			_, err = bu.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: aws.String(account), BudgetName: aws.String(name),
				NotificationType: budgettypes.NotificationTypeActual, ActionType: "BLOCK",
				ActionThreshold: &budgettypes.ActionThreshold{ActionThresholdType: budgettypes.ThresholdTypePercentage, ActionThresholdValue: 100},
				Definition:      &budgettypes.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: budgettypes.ApprovalModelAuto,
				Subscribers: []budgettypes.Subscriber{{SubscriptionType: budgettypes.SubscriptionTypeEmail, Address: aws.String("bench@example.com")}},
			})
			if err != nil {
				return fmt.Errorf("bench: create budget action for %s: %w", name, err)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	bc := bedrock.NewFromConfig(cfg)
	arns := make([]string, sc.Profiles)
	fmt.Fprintf(progress, "bench: creating %d application profiles...\n", sc.Profiles)
	err := parallel(ctx, sc.Profiles, func(i int) error {
		out, err := bc.CreateInferenceProfile(ctx, &bedrock.CreateInferenceProfileInput{
			InferenceProfileName: aws.String(fmt.Sprintf("scale-%06d", i)),
			ModelSource:          &btypes.InferenceProfileModelSourceMemberCopyFrom{Value: "arn:aws:bedrock:" + region + "::foundation-model/" + benchSourceModel},
			Tags: []btypes.Tag{
				{Key: aws.String("app"), Value: aws.String(scaleApp(i))},
				{Key: aws.String("team"), Value: aws.String(fmt.Sprintf("team-%03d", i%100))},
				{Key: aws.String("dept"), Value: aws.String(fmt.Sprintf("dept-%02d", i%10))},
				{Key: aws.String("environment"), Value: aws.String("bench")},
			},
		})
		if err != nil {
			return fmt.Errorf("bench: create profile %d: %w", i, err)
		}
		arns[i] = aws.ToString(out.InferenceProfileArn)
		return nil
	})
	if err != nil {
		return nil, err
	}
	// The busy profiles are spread over the whole set, so the budgets in
	// scope of the calls vary too.
	busy := make([]string, sc.Busy)
	for j := range busy {
		busy[j] = arns[j*sc.Profiles/sc.Busy]
	}
	return busy, nil
}

// scaleApp is the app tag of profile i, and the scope of budget i.
func scaleApp(i int) string { return fmt.Sprintf("app-%04d", i%1000) }

// parallel calls fn(0..n-1) on scaleWorkers goroutines and returns the
// first error.
func parallel(ctx context.Context, n int, fn func(i int) error) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(scaleWorkers, n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := fn(i); err != nil {
					cancel(err)
					return
				}
			}
		})
	}
	wg.Wait()
	return context.Cause(ctx)
}

// bearerConverseEach is bearerConverse through the models in turn.
func bearerConverseEach(base string, models []string, key string) RequestFunc {
	body := ConverseBody()
	urls := make([]string, len(models))
	for i, m := range models {
		urls[i] = base + "/model/" + httpbinding.EscapePath(m, true) + "/converse"
	}
	auth := "Bearer " + key
	var next atomic.Uint64
	return func(ctx context.Context) (*http.Request, error) {
		url := urls[(next.Add(1)-1)%uint64(len(urls))]
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, url, bytes.NewReader(body))
		if err != nil {
			return nil, err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		req.Header.Set("Authorization", auth)
		return req, nil
	}
}

// seedProfiles is how many profiles SeedTemplates spreads records over.
const seedProfiles = 1000

// SeedTemplates are the records `tollgate bench seed` copies into a
// ledger: Converse calls of the harness's model through seedProfiles
// application profiles of account, tagged as provisionScale tags its
// profiles, with token counts that vary, priced at the catalogue's price
// at at; one in 101 was throttled.
func SeedTemplates(account string, at time.Time) []ledger.Record {
	price, found := pricing.Lookup(catalog.Default(), benchSourceModel, at)
	out := make([]ledger.Record, 0, seedProfiles*2)
	for i := range seedProfiles * 2 {
		p := i % seedProfiles
		id := fmt.Sprintf("seed%06d", p)
		r := ledger.Record{Account: account, Region: "us-east-1", RegionServed: "us-east-1", PrincipalID: "root",
			ProfileARN: "arn:aws:bedrock:us-east-1:" + account + ":application-inference-profile/" + id, ProfileID: id,
			ModelID: benchSourceModel, Provider: "sim", Operation: "Converse", LatencyMs: int64(200 + i%700), Attempts: 1,
			Outcome: ledger.OutcomeSuccess,
			Tags:    tags.Set{"app": scaleApp(p), "team": fmt.Sprintf("team-%03d", p%100), "dept": fmt.Sprintf("dept-%02d", p%10), "environment": "bench"}}
		if i%101 == 0 {
			r.Outcome, r.ErrorCode = ledger.OutcomeThrottled, "ThrottlingException"
		} else {
			r.InputTokens, r.OutputTokens = int64(100+(i*37)%2000), int64(20+(i*53)%800)
			if b, ok := pricing.Compute(price, pricing.Tokens{Input: r.InputTokens, Output: r.OutputTokens}); found && ok {
				r.Priced, r.Cost, r.InputCost, r.OutputCost = true, b.Total(), b.Input, b.Output
			}
		}
		out = append(out, r)
	}
	return out
}
