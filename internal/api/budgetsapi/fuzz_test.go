package budgetsapi_test

import (
	"bytes"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/budgetsapi"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
)

// FuzzBudgets sends arbitrary bodies to every operation: the handler must
// never panic, and must answer 200 with a JSON object or a Budgets
// exception with the awsJson error shape.
func FuzzBudgets(f *testing.F) {
	db, err := sqlite.Open(f.Context(), filepath.Join(f.TempDir(), "t.db"), sqlite.Options{})
	if err != nil {
		f.Fatal(err)
	}
	f.Cleanup(func() { db.Close() })
	svc, err := budget.NewService(f.Context(), budget.Config{Store: db, Source: db, Catalog: catalog.Default(), Management: "123456789012"})
	if err != nil {
		f.Fatal(err)
	}
	api := budgetsapi.New(svc).Service()
	ops := []string{"CreateBudget", "DescribeBudget", "DescribeBudgets", "UpdateBudget", "DeleteBudget", "CreateNotification", "UpdateNotification",
		"DeleteNotification", "DescribeNotificationsForBudget", "CreateSubscriber", "UpdateSubscriber", "DeleteSubscriber",
		"DescribeSubscribersForNotification", "DescribeBudgetNotificationsForAccount", "DescribeBudgetPerformanceHistory", "CreateBudgetAction",
		"DescribeBudgetAction", "DescribeBudgetActionsForBudget", "DescribeBudgetActionsForAccount", "UpdateBudgetAction", "DeleteBudgetAction", "DescribeBudgetActionHistories", "Nope"}
	for i, seed := range []string{
		`{"AccountId":"123456789012","Budget":{"BudgetName":"b","BudgetType":"COST","TimeUnit":"MONTHLY","BudgetLimit":{"Amount":"10","Unit":"USD"},"CostFilters":{"TagKeyValue":["user:dept$claims"]}},"NotificationsWithSubscribers":[{"Notification":{"NotificationType":"ACTUAL","ComparisonOperator":"GREATER_THAN","Threshold":80},"Subscribers":[{"SubscriptionType":"EMAIL","Address":"a@b.c"}]}]}`,
		`{"AccountId":"123456789012","BudgetName":"b","ShowFilterExpression":true}`,
		`{"AccountId":"123456789012","MaxResults":1,"NextToken":"eyJ2IjoxfQ"}`,
		`{"AccountId":"123456789012","NewBudget":{"BudgetName":"b","BudgetType":"USAGE","TimeUnit":"DAILY","BudgetLimit":{"Amount":"1e3","Unit":"Tokens"},"FilterExpression":{"Not":{"Tags":{"Key":"dept"}}}}}`,
		`{"AccountId":"123456789012","BudgetName":"b","Notification":{"NotificationType":"ACTUAL","ComparisonOperator":"GREATER_THAN","Threshold":"NaN"},"Subscriber":{"SubscriptionType":"SNS","Address":"https://x.example/h"}}`,
		`{"AccountId":"123456789012","BudgetName":"b","OldNotification":{"NotificationType":"ACTUAL","ComparisonOperator":"GREATER_THAN","Threshold":80},"NewNotification":{}}`,
		`{"AccountId":"123456789012","BudgetName":"b","TimePeriod":{"Start":1e300,"End":-1}}`,
		`{"AccountId":"123456789012","BudgetName":"b","NotificationType":"ACTUAL","ActionType":"THROTTLE","ActionThreshold":{"ActionThresholdType":"PERCENTAGE","ActionThresholdValue":50},"Definition":{"IamActionDefinition":{"PolicyArn":"60"}},"ExecutionRoleArn":"","ApprovalModel":"AUTOMATIC","Subscribers":[]}`,
		`{"AccountId":"123456789012","BudgetName":"b","ActionId":"x","ActionThreshold":{},"Definition":{"ScpActionDefinition":{}}}`,
		`{"Budget":{"FilterExpression":{"And":[{"And":[{"Or":[]}]}]}}}`,
		`[]`, `null`, `{"AccountId":12}`, ``,
	} {
		f.Add(ops[i%len(ops)], []byte(seed))
		f.Add(ops[(i+7)%len(ops)], []byte(seed))
	}
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if !strings.HasPrefix(op, "Describe") && !strings.HasPrefix(op, "Create") && !strings.HasPrefix(op, "Update") && !strings.HasPrefix(op, "Delete") {
			op = ops[len(body)%len(ops)]
		}
		r := httptest.NewRequest(http.MethodPost, "/", bytes.NewReader(body))
		r = r.WithContext(awsproto.WithInfo(r.Context(), &awsproto.RequestInfo{Body: body}))
		w := httptest.NewRecorder()
		api.Serve(w, r, awsproto.AWSJSON11, op)
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Fatalf("%s %q: answer %q is not a JSON object", op, body, w.Body.String())
		}
		if w.Code == http.StatusOK {
			return
		}
		typ, _ := out["__type"].(string)
		if w.Header().Get("X-Amzn-ErrorType") != typ || !strings.HasSuffix(typ, "Exception") {
			t.Fatalf("%s %q: status %d, error type %q (header %q)", op, body, w.Code, typ, w.Header().Get("X-Amzn-ErrorType"))
		}
	})
}
