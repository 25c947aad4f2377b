package main

import (
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rt "github.com/aws/aws-sdk-go-v2/service/bedrockruntime/types"
	"github.com/aws/aws-sdk-go-v2/service/budgets"
	bt "github.com/aws/aws-sdk-go-v2/service/budgets/types"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// TestBudgetByFullUsageType creates, through the AWS SDK's budgets
// client, budgets filtered on Nova Pro's flex usage types (legacy
// CostFilters) and on its Standard ones (FilterExpression), makes a flex
// and a Standard Converse call through one profile, and checks that each
// budget counts the spend of its tier's call only, live and after a
// restart (rebuilt from the rollups). A BLOCK budget at $0 on the flex
// usage types then refuses a flex call and admits a Standard one.
func TestBudgetByFullUsageType(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	ts := startServer(t, dir, nil)
	ctx := t.Context()
	bc := ts.budgets(t)
	acct := aws.String(budgetAcct)
	profileARN := createProfile(t, ts.bedrock(t), "batch", "arn:aws:bedrock:us-east-1::foundation-model/"+novaProID, tagList("dept", "batch")...)
	flexTypes := []string{"USE1-NovaPro-input-tokens-flex", "USE1-NovaPro-output-tokens-flex"}
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: &bt.Budget{BudgetName: aws.String("flex"),
		BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("100"),
		CostFilters: map[string][]string{"UsageType": flexTypes}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: &bt.Budget{BudgetName: aws.String("standard"),
		BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("100"),
		FilterExpression: &bt.Expression{Dimensions: &bt.ExpressionDimensionValues{Key: bt.DimensionUsageType,
			Values: []string{"USE1-NovaPro-input-tokens", "USE1-NovaPro-output-tokens"}}}}}); err != nil {
		t.Fatal(err)
	}
	call := func(rc *bedrockruntime.Client, tier string) error {
		_, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(profileARN), Messages: userText("Summarise the claim."),
			InferenceConfig: &rt.InferenceConfiguration{MaxTokens: aws.Int32(64)}, ServiceTier: &rt.ServiceTier{Type: rt.ServiceTierType(tier)}})
		return err
	}
	rc := ts.runtime(t)
	for _, tier := range []string{"flex", "default"} {
		if err := call(rc, tier); err != nil {
			t.Fatalf("%s call: %v", tier, err)
		}
	}
	_, recs := ledgerSpend(t, ts, profileARN)
	byTier := map[string]money.Amount{}
	for _, r := range recs {
		byTier[r.ServiceTier] += r.Cost
	}
	if len(recs) != 2 || byTier["flex"] == 0 || byTier["default"] == 0 || byTier["flex"] == byTier["default"] {
		t.Fatalf("records %+v: want a flex and a Standard call, priced apart", recs)
	}
	check := func(t *testing.T, bc *budgets.Client) {
		t.Helper()
		for name, want := range map[string]money.Amount{"flex": byTier["flex"], "standard": byTier["default"]} {
			d, err := bc.DescribeBudget(ctx, &budgets.DescribeBudgetInput{AccountId: acct, BudgetName: aws.String(name)})
			if err != nil {
				t.Fatal(err)
			}
			if got := aws.ToString(d.Budget.CalculatedSpend.ActualSpend.Amount); got != want.Decimal(1) {
				t.Errorf("budget %s: ActualSpend %s, want %s (its tier's call only)", name, got, want.Decimal(1))
			}
		}
	}
	t.Run("live", func(t *testing.T) { check(t, bc) })

	ts.stop()
	ts = startServer(t, dir, nil)
	bc = ts.budgets(t)
	t.Run("after a restart", func(t *testing.T) { check(t, bc) })

	t.Run("BLOCK on the flex usage types", func(t *testing.T) {
		if _, err := bc.CreateBudget(ctx, &budgets.CreateBudgetInput{AccountId: acct, Budget: &bt.Budget{BudgetName: aws.String("flex-frozen"),
			BudgetType: bt.BudgetTypeCost, TimeUnit: bt.TimeUnitMonthly, BudgetLimit: usd("0"),
			CostFilters: map[string][]string{"UsageType": flexTypes}}}); err != nil {
			t.Fatal(err)
		}
		if _, err := bc.CreateBudgetAction(ctx, &budgets.CreateBudgetActionInput{AccountId: acct, BudgetName: aws.String("flex-frozen"),
			NotificationType: bt.NotificationTypeActual, ActionType: "BLOCK",
			ActionThreshold: &bt.ActionThreshold{ActionThresholdType: bt.ThresholdTypePercentage, ActionThresholdValue: 100},
			Definition:      &bt.Definition{}, ExecutionRoleArn: aws.String(""), ApprovalModel: bt.ApprovalModelAuto, Subscribers: []bt.Subscriber{}}); err != nil {
			t.Fatal(err)
		}
		rc := ts.runtime(t)
		wantCode(t, "flex call", call(rc, "flex"), "ServiceQuotaExceededException")
		if err := call(rc, "default"); err != nil {
			t.Errorf("Standard call: %v; the flex budget must not hold it", err)
		}
	})
}
