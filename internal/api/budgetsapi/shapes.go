package budgetsapi

import "github.com/tollgate-dev/tollgate/internal/api/awsproto"

// Wire shapes of AWS Budgets (awsJson1_1), with AWS's member names.
// Timestamps are epoch seconds (JSON numbers).

type spend struct {
	Amount *string `json:"Amount"`
	Unit   *string `json:"Unit"`
}

type spendOut struct {
	Amount string `json:"Amount"`
	Unit   string `json:"Unit"`
}

type timePeriod struct {
	Start *float64 `json:"Start"`
	End   *float64 `json:"End"`
}

type timePeriodOut struct {
	Start float64 `json:"Start"`
	End   float64 `json:"End"`
}

type calculatedSpend struct {
	ActualSpend     *spendOut `json:"ActualSpend,omitempty"`
	ForecastedSpend *spendOut `json:"ForecastedSpend,omitempty"`
}

// budgetIn is a Budget in a request. CalculatedSpend, LastUpdatedTime and
// HealthStatus are output members and ignored; BillingViewArn is accepted
// and ignored (there is one billing view).
type budgetIn struct {
	BudgetName          *string              `json:"BudgetName"`
	BudgetType          *string              `json:"BudgetType"`
	TimeUnit            *string              `json:"TimeUnit"`
	BudgetLimit         *spend               `json:"BudgetLimit"`
	PlannedBudgetLimits map[string]spend     `json:"PlannedBudgetLimits"`
	CostFilters         map[string][]string  `json:"CostFilters"`
	CostTypes           map[string]bool      `json:"CostTypes"`
	TimePeriod          *timePeriod          `json:"TimePeriod"`
	FilterExpression    *awsproto.Expression `json:"FilterExpression"`
	Metrics             []string             `json:"Metrics"`
	AutoAdjustData      any                  `json:"AutoAdjustData"`
	BillingViewArn      *string              `json:"BillingViewArn"`
	CalculatedSpend     any                  `json:"CalculatedSpend"`
	LastUpdatedTime     any                  `json:"LastUpdatedTime"`
	HealthStatus        any                  `json:"HealthStatus"`
}

type budgetOut struct {
	BudgetName          string               `json:"BudgetName"`
	BudgetType          string               `json:"BudgetType"`
	TimeUnit            string               `json:"TimeUnit"`
	BudgetLimit         *spendOut            `json:"BudgetLimit,omitempty"`
	PlannedBudgetLimits map[string]spendOut  `json:"PlannedBudgetLimits,omitempty"`
	CostFilters         map[string][]string  `json:"CostFilters,omitempty"`
	CostTypes           map[string]bool      `json:"CostTypes,omitempty"`
	TimePeriod          timePeriodOut        `json:"TimePeriod"`
	CalculatedSpend     *calculatedSpend     `json:"CalculatedSpend,omitempty"`
	LastUpdatedTime     float64              `json:"LastUpdatedTime"`
	FilterExpression    *awsproto.Expression `json:"FilterExpression,omitempty"`
	Metrics             []string             `json:"Metrics,omitempty"`
}

type notification struct {
	NotificationType   *string  `json:"NotificationType"`
	ComparisonOperator *string  `json:"ComparisonOperator"`
	Threshold          *float64 `json:"Threshold"`
	ThresholdType      *string  `json:"ThresholdType"`
	NotificationState  *string  `json:"NotificationState"`
}

type notificationOut struct {
	NotificationType   string  `json:"NotificationType"`
	ComparisonOperator string  `json:"ComparisonOperator"`
	Threshold          float64 `json:"Threshold"`
	ThresholdType      string  `json:"ThresholdType"`
	NotificationState  string  `json:"NotificationState"`
}

type subscriber struct {
	SubscriptionType *string `json:"SubscriptionType"`
	Address          *string `json:"Address"`
}

type subscriberOut struct {
	SubscriptionType string `json:"SubscriptionType"`
	Address          string `json:"Address"`
}

type notificationWithSubscribers struct {
	Notification *notification `json:"Notification"`
	Subscribers  []subscriber  `json:"Subscribers"`
}

type resourceTag struct {
	Key   *string `json:"Key"`
	Value *string `json:"Value"`
}

type createBudgetInput struct {
	AccountId                    *string                       `json:"AccountId"`
	Budget                       *budgetIn                     `json:"Budget"`
	NotificationsWithSubscribers []notificationWithSubscribers `json:"NotificationsWithSubscribers"`
	ResourceTags                 []resourceTag                 `json:"ResourceTags"`
}

type budgetNameInput struct {
	AccountId            *string `json:"AccountId"`
	BudgetName           *string `json:"BudgetName"`
	ShowFilterExpression *bool   `json:"ShowFilterExpression"`
	MaxResults           *int32  `json:"MaxResults"`
	NextToken            *string `json:"NextToken"`
}

type describeBudgetsInput struct {
	AccountId            *string `json:"AccountId"`
	MaxResults           *int32  `json:"MaxResults"`
	NextToken            *string `json:"NextToken"`
	ShowFilterExpression *bool   `json:"ShowFilterExpression"`
}

type updateBudgetInput struct {
	AccountId *string   `json:"AccountId"`
	NewBudget *budgetIn `json:"NewBudget"`
}

type notificationInput struct {
	AccountId       *string       `json:"AccountId"`
	BudgetName      *string       `json:"BudgetName"`
	Notification    *notification `json:"Notification"`
	Subscribers     []subscriber  `json:"Subscribers"`
	OldNotification *notification `json:"OldNotification"`
	NewNotification *notification `json:"NewNotification"`
	Subscriber      *subscriber   `json:"Subscriber"`
	OldSubscriber   *subscriber   `json:"OldSubscriber"`
	NewSubscriber   *subscriber   `json:"NewSubscriber"`
	MaxResults      *int32        `json:"MaxResults"`
	NextToken       *string       `json:"NextToken"`
}

type performanceHistoryInput struct {
	AccountId  *string     `json:"AccountId"`
	BudgetName *string     `json:"BudgetName"`
	TimePeriod *timePeriod `json:"TimePeriod"`
	MaxResults *int32      `json:"MaxResults"`
	NextToken  *string     `json:"NextToken"`
}

type budgetedAndActual struct {
	BudgetedAmount spendOut      `json:"BudgetedAmount"`
	ActualAmount   spendOut      `json:"ActualAmount"`
	TimePeriod     timePeriodOut `json:"TimePeriod"`
}

type performanceHistory struct {
	BudgetName                   string               `json:"BudgetName"`
	BudgetType                   string               `json:"BudgetType"`
	TimeUnit                     string               `json:"TimeUnit"`
	CostFilters                  map[string][]string  `json:"CostFilters,omitempty"`
	CostTypes                    map[string]bool      `json:"CostTypes,omitempty"`
	FilterExpression             *awsproto.Expression `json:"FilterExpression,omitempty"`
	Metrics                      []string             `json:"Metrics,omitempty"`
	BudgetedAndActualAmountsList []budgetedAndActual  `json:"BudgetedAndActualAmountsList"`
}

type actionThreshold struct {
	ActionThresholdType  *string  `json:"ActionThresholdType"`
	ActionThresholdValue *float64 `json:"ActionThresholdValue"`
}

type actionThresholdOut struct {
	ActionThresholdType  string  `json:"ActionThresholdType"`
	ActionThresholdValue float64 `json:"ActionThresholdValue"`
}

type iamActionDefinition struct {
	PolicyArn *string  `json:"PolicyArn,omitempty"`
	Roles     []string `json:"Roles,omitempty"`
	Groups    []string `json:"Groups,omitempty"`
	Users     []string `json:"Users,omitempty"`
}

type definition struct {
	IamActionDefinition *iamActionDefinition `json:"IamActionDefinition,omitempty"`
	ScpActionDefinition any                  `json:"ScpActionDefinition,omitempty"`
	SsmActionDefinition any                  `json:"SsmActionDefinition,omitempty"`
}

type actionInput struct {
	AccountId        *string          `json:"AccountId"`
	BudgetName       *string          `json:"BudgetName"`
	ActionId         *string          `json:"ActionId"`
	NotificationType *string          `json:"NotificationType"`
	ActionType       *string          `json:"ActionType"`
	ActionThreshold  *actionThreshold `json:"ActionThreshold"`
	Definition       *definition      `json:"Definition"`
	ExecutionRoleArn *string          `json:"ExecutionRoleArn"`
	ApprovalModel    *string          `json:"ApprovalModel"`
	Subscribers      []subscriber     `json:"Subscribers"`
	ResourceTags     []resourceTag    `json:"ResourceTags"`
	TimePeriod       *timePeriod      `json:"TimePeriod"` // DescribeBudgetActionHistories
	MaxResults       *int32           `json:"MaxResults"`
	NextToken        *string          `json:"NextToken"`
}

type actionOut struct {
	ActionId         string             `json:"ActionId"`
	BudgetName       string             `json:"BudgetName"`
	NotificationType string             `json:"NotificationType"`
	ActionType       string             `json:"ActionType"`
	ActionThreshold  actionThresholdOut `json:"ActionThreshold"`
	Definition       definition         `json:"Definition"`
	ExecutionRoleArn string             `json:"ExecutionRoleArn"`
	ApprovalModel    string             `json:"ApprovalModel"`
	Status           string             `json:"Status"`
	Subscribers      []subscriberOut    `json:"Subscribers"`
	// StatusReason is Tollgate's: why the action is engaged (the SDK
	// skips members it does not know).
	StatusReason string `json:"StatusReason,omitempty"`
}

type actionHistoryDetails struct {
	Message string    `json:"Message"`
	Action  actionOut `json:"Action"`
}

type actionHistory struct {
	Timestamp            float64              `json:"Timestamp"`
	Status               string               `json:"Status"`
	EventType            string               `json:"EventType"`
	ActionHistoryDetails actionHistoryDetails `json:"ActionHistoryDetails"`
}
