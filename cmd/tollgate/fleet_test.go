package main

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"
	"github.com/aws/aws-sdk-go-v2/service/cloudwatch"
	cwtypes "github.com/aws/aws-sdk-go-v2/service/cloudwatch/types"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// fleetReplica is one `tollgate serve` process of a fleet with SDK
// clients for it.
type fleetReplica struct {
	p       *process
	bedrock *bedrock.Client
	budgets *budgets.Client
	runtime *bedrockruntime.Client
}

// fleetJobs are the leases of the background jobs that must run on one
// replica at a time.
var fleetJobs = []string{"budget-alerts", "notify-outbox", "alarm-evaluation", "anomaly-detection"}

// TestFleetBudgetsAlertsAndJobs runs three `tollgate serve` replicas on
// one PostgreSQL schema (skipped without TOLLGATE_TEST_POSTGRES_URL):
//   - a profile created and a budget created on one replica are in force
//     on the others within the stated lag;
//   - a BLOCK budget driven by concurrent calls on all three holds: the
//     ledger's spend never passes its limit (the overshoot bound of one
//     node, 0 when worst cases hold, which the simulator's do);
//   - every replica's CloudWatch reports the fleet's metrics;
//   - its ACTUAL thresholds alert exactly once each, though three
//     replicas saw the spend;
//   - the replica running the background jobs is SIGKILLed: the jobs move
//     to a survivor, which delivers the next alert;
//   - a profile retagged on one survivor is found by its new tag on the
//     other within the stated lag.
func TestFleetBudgetsAlertsAndJobs(t *testing.T) {
	t.Parallel()
	const keyID, secret = "AKIAFLEETTEST0000001", "fleet-secret"
	storeURL := pgtest.URL(t)
	key := make([]byte, 32)
	rand.Read(key)
	hookSecret := []byte("fleet-webhook-secret")
	env := []string{
		"TOLLGATE_MASTER_KEY=" + base64.StdEncoding.EncodeToString(key),
		"TOLLGATE_ROOT_ACCESS_KEY_ID=" + keyID, "TOLLGATE_ROOT_SECRET_ACCESS_KEY=" + secret,
		"TOLLGATE_WEBHOOK_SECRET=" + string(hookSecret), "TOLLGATE_NOTIFY_RETRY=50ms",
		"TOLLGATE_LEASE_TTL=1s", "TOLLGATE_BUDGET_SYNC_INTERVAL=200ms", "TOLLGATE_BUDGET_EVAL_INTERVAL=300ms",
		"TOLLGATE_TAGGING_RATE=5",
		"TOLLGATE_OUTBOUND_ALLOW=127.0.0.0/8", // the webhook receiver's address
	}
	creds := credentials.NewStaticCredentialsProvider(keyID, secret, "")
	fleet := make([]*fleetReplica, 3)
	for i := range fleet {
		p := startReplica(t, storeURL, env...)
		cfg := aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(p.url), HTTPClient: sharedHTTPClient()}
		fleet[i] = &fleetReplica{p: p, bedrock: bedrock.NewFromConfig(cfg), budgets: budgets.NewFromConfig(cfg),
			runtime: bedrockruntime.NewFromConfig(cfg, func(o *bedrockruntime.Options) { o.RetryMaxAttempts = 1 })}
	}
	db, err := postgres.Open(t.Context(), storeURL, postgres.Options{MaxConns: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	ctx := t.Context()
	recv := &hookReceiver{secret: hookSecret}
	addr, _ := serveOn(t, recv, "127.0.0.1:0")
	hook := bt.Subscriber{SubscriptionType: bt.SubscriptionTypeSns, Address: aws.String("http://" + addr + "/hooks")}

	const lag = 5 * time.Second
	// The fleet budget's limit. One call costs about $0.00008 and
	// reserves its worst case (64 output tokens): $0.01 takes some 120
	// calls.
	const limit = "0.01"
	acct := aws.String(budgetAcct)
	nt := func(threshold float64) *bt.Notification {
		return &bt.Notification{NotificationType: bt.NotificationTypeActual, ComparisonOperator: bt.ComparisonOperatorGreaterThan,
			Threshold: threshold, ThresholdType: bt.ThresholdTypePercentage}
	}
	var arn string
	var victim int

	if !t.Run("a profile made on replica 1 answers on replica 3", func(t *testing.T) {
		arn = createProfile(t, fleet[0].bedrock, "fleet-bot", haikuARN, tagList("dept", "fleet")...)
		within(t, lag, "Converse on replica 3 through a profile created on replica 1", func() error {
			return fleetCall(ctx, fleet[2].runtime, arn)
		})
	}) {
		return
	}

	if !t.Run("a BLOCK budget made on replica 2 is in force on all three", func(t *testing.T) {
		// A BLOCK budget made on replica 2, with alerts at 50% and 80%.
		if _, err := fleet[1].budgets.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct,
			Budget: &bt.Budget{BudgetName: aws.String("fleet"), BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd(limit),
				FilterExpression: &bt.Expression{Tags: &bt.TagValues{Key: aws.String("dept"), Values: []string{"fleet"}}}},
			NotificationsWithSubscribers: []bt.NotificationWithSubscribers{
				{Notification: nt(50), Subscribers: []bt.Subscriber{hook}},
				{Notification: nt(80), Subscribers: []bt.Subscriber{hook}},
			}}); err != nil {
			t.Fatal(err)
		}
		if _, err := fleet[1].budgets.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("fleet"),
			NotificationType: bt.NotificationTypeActual, ActionType: "BLOCK",
			ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 100},
			Definition:      &bt.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{}}); err != nil {
			t.Fatal(err)
		}
		for i, r := range fleet {
			within(t, lag, fmt.Sprintf("the budget with its BLOCK action on replica %d", i+1), func() error {
				out, err := r.budgets.DescribeBudgetActionsForBudget(ctx, &budgets.DescribeBudgetActionsForBudgetInput{AccountId: acct, BudgetName: aws.String("fleet")})
				if err != nil {
					return err
				}
				if len(out.Actions) != 1 {
					return fmt.Errorf("%d actions", len(out.Actions))
				}
				return nil
			})
		}
	}) {
		return
	}

	if !t.Run("load on all three replicas until every one blocks", func(t *testing.T) {
		var ok, blocked atomic.Int64
		var blockedOn [3]atomic.Int64
		var wg sync.WaitGroup
		for w := range 24 {
			wg.Go(func() {
				r := w % 3
				rc := bedrockruntime.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(fleet[r].p.url),
					HTTPClient: sharedHTTPClient(), RetryMaxAttempts: 1})
				for range 40 {
					err := fleetCall(ctx, rc, arn)
					var qe interface{ ErrorCode() string }
					switch {
					case err == nil:
						ok.Add(1)
					case errors.As(err, &qe) && qe.ErrorCode() == "ServiceQuotaExceededException" && strings.Contains(err.Error(), `"fleet"`):
						blocked.Add(1)
						blockedOn[r].Add(1)
					default:
						t.Errorf("call on replica %d: %v", r+1, err)
						return
					}
				}
			})
		}
		wg.Wait()
		spend := fleetSpend(t, db, arn)
		max := money.MustParse(limit)
		t.Logf("%d calls admitted, %d blocked (per replica %d/%d/%d); ledger spend %s of %s", ok.Load(), blocked.Load(),
			blockedOn[0].Load(), blockedOn[1].Load(), blockedOn[2].Load(), spend, max)
		if spend > max {
			t.Errorf("the fleet spent %s through a BLOCK budget of %s", spend, max)
		}
		if spend < max/2 {
			t.Errorf("spend %s: the budget never filled, so the test proves nothing", spend)
		}
		for i := range blockedOn {
			if blockedOn[i].Load() == 0 {
				t.Errorf("replica %d blocked no call", i+1)
			}
		}
	}) {
		return
	}

	t.Run("every replica's CloudWatch reports the fleet's metrics", func(t *testing.T) {
		// Every replica's CloudWatch answers with the fleet's metrics: each
		// replica flushes its own buckets, and queries add them up.
		var inputTokens float64
		recs, err := db.Records(ctx, ledger.Query{})
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range recs {
			if r.ProfileARN == arn {
				inputTokens += float64(r.InputTokens)
			}
		}
		start := time.Now().UTC().Truncate(time.Hour).Add(-time.Hour)
		for i, r := range fleet {
			cw := cloudwatch.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(r.p.url), HTTPClient: sharedHTTPClient()})
			within(t, 20*time.Second, fmt.Sprintf("InputTokenCount on replica %d equal to the ledger's %v", i+1, inputTokens), func() error {
				st, err := cw.GetMetricStatistics(ctx, &cloudwatch.GetMetricStatisticsInput{Namespace: aws.String("AWS/Bedrock"),
					MetricName: aws.String("InputTokenCount"), Dimensions: []cwtypes.Dimension{{Name: aws.String("ModelId"), Value: aws.String(arn)}},
					StartTime: aws.Time(start), EndTime: aws.Time(start.Add(3 * time.Hour)), Period: aws.Int32(3600),
					Statistics: []cwtypes.Statistic{cwtypes.StatisticSum}})
				if err != nil {
					return err
				}
				var sum float64
				for _, dp := range st.Datapoints {
					sum += aws.ToFloat64(dp.Sum)
				}
				if sum != inputTokens {
					return fmt.Errorf("sum %v", sum)
				}
				return nil
			})
		}
	})

	if !t.Run("one alert per threshold though three replicas saw the spend", func(t *testing.T) {
		// One alert per threshold, though every replica saw the spend pass it.
		eventually(t, "the 50% and 80% alerts", func() bool { return len(recv.accepted()) == 2 })
		time.Sleep(1500 * time.Millisecond) // several evaluations and syncs later: still two
		perThreshold := map[string]int{}
		for _, d := range recv.all() {
			if d.status == 200 {
				perThreshold[d.notif]++
			}
		}
		if perThreshold["ACTUAL/50"] != 1 || perThreshold["ACTUAL/80"] != 1 || len(perThreshold) != 2 {
			t.Errorf("deliveries per threshold = %v, want one each at 50 and 80", perThreshold)
		}
	}) {
		return
	}

	t.Run("the Tagging API's rate is the fleet's", func(t *testing.T) {
		// The Tagging API's rate (5 a second per account) is the fleet's: 30
		// requests at once through three replicas get at most 5 a second (10
		// if they straddle two seconds), not 5 on each replica.
		var tagOK, tagThrottled atomic.Int64
		var tagWG sync.WaitGroup
		for i := range 30 {
			tagWG.Go(func() {
				tg := rgt.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(fleet[i%3].p.url),
					HTTPClient: sharedHTTPClient(), RetryMaxAttempts: 1})
				_, err := tg.GetTagKeys(ctx, &rgt.GetTagKeysInput{})
				var qe interface{ ErrorCode() string }
				switch {
				case err == nil:
					tagOK.Add(1)
				case errors.As(err, &qe) && qe.ErrorCode() == "ThrottledException":
					tagThrottled.Add(1)
				default:
					t.Errorf("GetTagKeys: %v", err)
				}
			})
		}
		tagWG.Wait()
		if tagOK.Load() == 0 || tagOK.Load() > 10 || tagThrottled.Load() == 0 {
			t.Errorf("Tagging API across 3 replicas at 5/s: %d admitted, %d throttled; want 1 to 10 admitted", tagOK.Load(), tagThrottled.Load())
		}
	})

	if !t.Run("the replica holding the jobs is killed and a survivor takes them", func(t *testing.T) {
		// Kill the replica holding the budget alerts; its jobs move.
		holder, err := db.LeaseHolder(ctx, "budget-alerts")
		if err != nil || holder == "" {
			t.Fatalf("budget-alerts lease holder %q, %v", holder, err)
		}
		victim = -1
		for i, r := range fleet {
			if strings.Contains(holder, "-"+strconv.Itoa(r.p.cmd.Process.Pid)+"-") {
				victim = i
			}
		}
		if victim < 0 {
			t.Fatalf("lease holder %q is none of the replicas", holder)
		}
		held := map[string]string{}
		for _, job := range fleetJobs {
			if h, _ := db.LeaseHolder(ctx, job); h == holder {
				held[job] = h
			}
		}
		if err := fleet[victim].p.cmd.Process.Signal(syscall.SIGKILL); err != nil {
			t.Fatal(err)
		}
		_ = fleet[victim].p.cmd.Wait()
		killedAt := time.Now()
		t.Logf("killed replica %d holding %v", victim+1, held)
		for job := range held {
			within(t, 5*time.Second, "lease "+job+" taken over by a survivor", func() error {
				h, err := db.LeaseHolder(ctx, job)
				switch {
				case err != nil:
					return err
				case h == "" || h == holder:
					return fmt.Errorf("held by %q", h)
				}
				return nil
			})
		}
		t.Logf("every job taken over %v after the kill (lease TTL 1s)", time.Since(killedAt).Round(10*time.Millisecond))
	}) {
		return
	}

	survivor := fleet[(victim+1)%3]
	t.Run("a survivor delivers the next alert", func(t *testing.T) {
		// A new alert, on a survivor: a notification at 10% of a budget
		// created now is passed already.
		if _, err := survivor.budgets.CreateNotification(ctx, &budgets.CreateNotificationInput{AccountId: acct, BudgetName: aws.String("fleet"),
			Notification: nt(10), Subscribers: []bt.Subscriber{hook}}); err != nil {
			t.Fatal(err)
		}
		eventually(t, "the 10% alert after the kill", func() bool { return len(recv.accepted()) == 3 })
		time.Sleep(time.Second)
		if n := len(recv.accepted()); n != 3 {
			t.Errorf("%d distinct alerts after the kill, want 3", n)
		}
	})

	t.Run("retagged on one survivor, found by its new tag on the other", func(t *testing.T) {
		other := fleet[(victim+2)%3]
		if _, err := survivor.bedrock.TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(arn), Tags: tagList("dept", "moved")}); err != nil {
			t.Fatal(err)
		}
		tg := rgt.NewFromConfig(aws.Config{Region: "us-east-1", Credentials: creds, BaseEndpoint: aws.String(other.p.url), HTTPClient: sharedHTTPClient()})
		within(t, lag, "the retagged profile found by its new tag on the other survivor", func() error {
			out, err := tg.GetResources(ctx, &rgt.GetResourcesInput{TagFilters: []rgttypes.TagFilter{{Key: aws.String("dept"), Values: []string{"moved"}}}})
			if err != nil {
				return err
			}
			if len(out.ResourceTagMappingList) != 1 || aws.ToString(out.ResourceTagMappingList[0].ResourceARN) != arn {
				return fmt.Errorf("%d resources", len(out.ResourceTagMappingList))
			}
			return nil
		})
	})
}

// fleetCall makes one Converse call with a small maxTokens, so its worst
// case is small next to the budget.
func fleetCall(ctx context.Context, rc *bedrockruntime.Client, model string) error {
	_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(model), Messages: userText("Summarise the claim."),
		InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(64)}})
	return err
}

// fleetSpend sums the ledger's cost of the calls through arn.
func fleetSpend(t *testing.T, db *postgres.DB, arn string) money.Amount {
	t.Helper()
	recs, err := db.Records(t.Context(), ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	var sum money.Amount
	for _, r := range recs {
		if r.ProfileARN == arn {
			sum += r.Cost
		}
	}
	return sum
}
