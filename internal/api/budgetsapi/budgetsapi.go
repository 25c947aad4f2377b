// Package budgetsapi serves the AWS Budgets API (awsJson1_1, X-Amz-Target
// AWSBudgetServiceGateway.*, signing name "budgets"), wire-compatible with
// aws-sdk-go-v2/service/budgets: budgets (CreateBudget with its
// notifications and subscribers, DescribeBudget(s), UpdateBudget,
// DeleteBudget), notifications and subscribers, the performance history,
// and budget actions, which carry Tollgate's enforcement. It translates
// wire shapes to internal/budget and back, pages results with NextToken,
// and answers errors with the exceptions the Budgets model defines
// (InvalidParameterException, NotFoundException, DuplicateRecordException,
// CreationLimitExceededException, AccessDeniedException, ...).
//
// Authorization follows AWS's action names: budgets:ViewBudget and
// budgets:ModifyBudget on arn:aws:budgets::ACCOUNT:budget/NAME, and the
// budget action operations' own names (budgets:CreateBudgetAction, ...).
// A caller manages its own account's budgets only: another AccountId is
// AccessDeniedException.
//
// Budget actions. AWS's action types name IAM, SCP and SSM changes,
// which Tollgate has nothing to apply to; Tollgate's ActionType values
// are BLOCK, THROTTLE and DOWNGRADE (the SDK's ActionType is an open
// string enum, so types.ActionType("BLOCK") goes through). NotificationType
// must be ACTUAL; ApprovalModel is AUTOMATIC (enforce) or MANUAL (shadow:
// record what would be refused, refuse nothing); ActionThreshold says when
// the action applies. The action's argument rides in
// Definition.IamActionDefinition.PolicyArn: THROTTLE's requests per minute
// ("60"), DOWNGRADE's foundation-model id ("amazon.nova-micro-v1:0");
// BLOCK takes none (send an empty Definition). ExecutionRoleArn is kept as
// given. An action's Status is EXECUTION_SUCCESS while it is engaged
// (its threshold reached, or a BLOCK refusing calls whose worst case would
// cross it), PENDING while a shadow action would be, STANDBY otherwise;
// Tollgate adds StatusReason, and DescribeBudgetActionHistories lists the
// engagements and releases with their reasons.
package budgetsapi

import (
	"context"
	"math"
	"regexp"
	"strconv"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/budget"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// ServiceName is the Smithy service shape name: the X-Amz-Target prefix.
const ServiceName = "AWSBudgetServiceGateway"

// SigningName is the SigV4 service name Budgets requests are signed for.
const SigningName = "budgets"

// Codes maps error kinds to the Budgets exceptions.
var Codes = awsproto.Codes{
	errkind.Internal:      {Name: "InternalErrorException", Status: 500},
	errkind.Invalid:       {Name: "InvalidParameterException", Status: 400},
	errkind.NotFound:      {Name: "NotFoundException", Status: 400},
	errkind.Conflict:      {Name: "DuplicateRecordException", Status: 400},
	errkind.Denied:        {Name: "AccessDeniedException", Status: 400},
	errkind.Throttled:     {Name: "ThrottlingException", Status: 400},
	errkind.Unavailable:   {Name: "InternalErrorException", Status: 500},
	errkind.QuotaExceeded: {Name: "CreationLimitExceededException", Status: 400},
	errkind.TooManyTags:   {Name: "ServiceQuotaExceededException", Status: 400},
}

// Handler serves the Budgets API. Safe for concurrent use.
type Handler struct {
	svc *budget.Service
}

// New returns a Handler over svc.
func New(svc *budget.Service) *Handler { return &Handler{svc: svc} }

// Service returns the Budgets API for the server.
func (h *Handler) Service() awsproto.Service {
	return awsproto.Service{
		Name: ServiceName, SigningName: SigningName, Label: "budgets",
		Protocols: []awsproto.Protocol{awsproto.AWSJSON11}, Codes: Codes, Ops: operations.Bind(h),
	}
}

type empty struct{}

// operations are the Budgets API's operations; each authorizes itself
// (target) once it has read the budget it names.
var operations = awsproto.Table[*Handler]{
	awsproto.Op("CreateBudget", (*Handler).createBudget),
	awsproto.Op("DescribeBudget", (*Handler).describeBudget),
	awsproto.Op("DescribeBudgets", (*Handler).describeBudgets),
	awsproto.Op("UpdateBudget", (*Handler).updateBudget),
	awsproto.Op("DeleteBudget", (*Handler).deleteBudget),
	awsproto.Op("CreateNotification", (*Handler).createNotification),
	awsproto.Op("UpdateNotification", (*Handler).updateNotification),
	awsproto.Op("DeleteNotification", (*Handler).deleteNotification),
	awsproto.Op("DescribeNotificationsForBudget", (*Handler).describeNotificationsForBudget),
	awsproto.Op("CreateSubscriber", (*Handler).createSubscriber),
	awsproto.Op("UpdateSubscriber", (*Handler).updateSubscriber),
	awsproto.Op("DeleteSubscriber", (*Handler).deleteSubscriber),
	awsproto.Op("DescribeSubscribersForNotification", (*Handler).describeSubscribersForNotification),
	awsproto.Op("DescribeBudgetNotificationsForAccount", (*Handler).notificationsForAccount),
	awsproto.Op("DescribeBudgetPerformanceHistory", (*Handler).performanceHistory),
	awsproto.Op("CreateBudgetAction", (*Handler).createBudgetAction),
	awsproto.Op("DescribeBudgetAction", (*Handler).describeBudgetAction),
	awsproto.Op("DescribeBudgetActionsForBudget", (*Handler).describeBudgetActionsForBudget),
	awsproto.Op("DescribeBudgetActionsForAccount", (*Handler).describeBudgetActionsForAccount),
	awsproto.Op("UpdateBudgetAction", (*Handler).updateBudgetAction),
	awsproto.Op("DeleteBudgetAction", (*Handler).deleteBudgetAction),
	awsproto.Op("DescribeBudgetActionHistories", (*Handler).describeBudgetActionHistories),
}

// Operations are the operations the Budgets API serves.
var Operations = operations.Names()

func invalid(format string, args ...any) error {
	return errkind.New(errkind.Invalid, format, args...)
}

var accountRE = regexp.MustCompile(`^\d{12}$`)

// account checks AccountId: 12 digits, and the caller's own account.
func account(ctx context.Context, id *string) (string, error) {
	if id == nil || !accountRE.MatchString(*id) {
		return "", invalid("AccountId must be a 12-digit account id.")
	}
	if caller := awsproto.Account(ctx); caller != "" && caller != *id {
		return "", errkind.New(errkind.Denied, "Account %s may not manage the budgets of account %s.", caller, *id)
	}
	return *id, nil
}

func budgetARN(account, name string) string { return "arn:aws:budgets::" + account + ":budget/" + name }

// target checks AccountId and BudgetName and authorizes action on the
// budget.
func target(ctx context.Context, action string, id, name *string) (string, string, error) {
	acct, err := account(ctx, id)
	if err != nil {
		return "", "", err
	}
	if name == nil {
		return "", "", invalid("BudgetName is required.")
	}
	if err := budget.ValidateName(*name); err != nil {
		return "", "", err
	}
	if err := awsproto.Authorize(ctx, action, budgetARN(acct, *name), nil); err != nil {
		return "", "", err
	}
	return acct, *name, nil
}

func epoch(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// bounds returns a request's optional TimePeriod as times; a missing
// period or end is the zero time (unbounded).
func (tp *timePeriod) bounds() (from, to time.Time, err error) {
	if tp == nil {
		return from, to, nil
	}
	if tp.Start != nil {
		if from, err = fromEpoch(*tp.Start); err != nil {
			return from, to, err
		}
	}
	if tp.End != nil {
		if to, err = fromEpoch(*tp.End); err != nil {
			return from, to, err
		}
	}
	return from, to, nil
}

func fromEpoch(v float64) (time.Time, error) {
	if math.IsNaN(v) || math.IsInf(v, 0) || v < 0 || v > 1e11 {
		return time.Time{}, invalid("The timestamp %v is out of range.", v)
	}
	sec, frac := math.Modf(v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC(), nil
}

func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}

var costTypeKeys = map[string]bool{
	"IncludeCredit": true, "IncludeDiscount": true, "IncludeOtherSubscription": true, "IncludeRecurring": true, "IncludeRefund": true,
	"IncludeSubscription": true, "IncludeSupport": true, "IncludeTax": true, "IncludeUpfront": true, "UseAmortized": false, "UseBlended": false,
}

// toBudget translates a wire budget.
func toBudget(acct string, in *budgetIn) (budget.Budget, error) {
	if in == nil {
		return budget.Budget{}, invalid("Budget is required.")
	}
	if in.BudgetName == nil {
		return budget.Budget{}, invalid("BudgetName is required.")
	}
	b := budget.Budget{Account: acct, Name: *in.BudgetName, Type: budget.Type(deref(in.BudgetType)), TimeUnit: budget.TimeUnit(deref(in.TimeUnit)),
		CostFilters: in.CostFilters, Metrics: in.Metrics}
	if in.AutoAdjustData != nil {
		return b, invalid("AutoAdjustData is not supported: Tollgate budgets have fixed or planned limits.")
	}
	for k := range in.CostTypes {
		if _, ok := costTypeKeys[k]; !ok {
			return b, invalid("Unknown CostTypes member %q.", k)
		}
	}
	if in.CostTypes != nil {
		b.CostTypes = in.CostTypes
	}
	if in.BudgetLimit != nil && len(in.PlannedBudgetLimits) > 0 {
		return b, invalid("A budget has either a BudgetLimit or PlannedBudgetLimits, not both.")
	}
	unitOf := func(s spend) (int64, string, error) {
		if s.Amount == nil || s.Unit == nil {
			return 0, "", invalid("A Spend needs an Amount and a Unit.")
		}
		v, err := budget.ParseUnits(b.Type, *s.Amount)
		return v, *s.Unit, err
	}
	switch {
	case in.BudgetLimit != nil:
		v, unit, err := unitOf(*in.BudgetLimit)
		if err != nil {
			return b, err
		}
		b.Limit, b.Unit = v, unit
	case len(in.PlannedBudgetLimits) > 0:
		b.Planned = map[int64]int64{}
		for k, s := range in.PlannedBudgetLimits {
			sec, err := strconv.ParseInt(k, 10, 64)
			if err != nil {
				return b, invalid("The PlannedBudgetLimits key %q is not epoch seconds.", k)
			}
			v, unit, err := unitOf(s)
			if err != nil {
				return b, err
			}
			if b.Unit != "" && unit != b.Unit {
				return b, invalid("Every planned limit must use the same Unit.")
			}
			b.Planned[sec], b.Unit = v, unit
		}
	default:
		if b.Type == budget.Cost || b.Type == budget.Usage {
			return b, invalid("BudgetLimit (or PlannedBudgetLimits) is required for %s budgets.", b.Type)
		}
	}
	if tp := in.TimePeriod; tp != nil {
		var err error
		if tp.Start != nil {
			if b.Start, err = fromEpoch(*tp.Start); err != nil {
				return b, err
			}
		}
		if tp.End != nil {
			if b.End, err = fromEpoch(*tp.End); err != nil {
				return b, err
			}
		}
	}
	if in.FilterExpression != nil {
		f, err := in.FilterExpression.Query()
		if err != nil {
			return b, err
		}
		b.Filter = f
	}
	return b, nil
}

func fromBudget(v budget.View, showFilter bool) budgetOut {
	b := v.Budget
	out := budgetOut{BudgetName: b.Name, BudgetType: string(b.Type), TimeUnit: string(b.TimeUnit),
		TimePeriod: timePeriodOut{Start: epoch(b.Start), End: epoch(b.End)}, LastUpdatedTime: epoch(b.UpdatedAt), Metrics: b.Metrics}
	if len(b.Planned) > 0 {
		out.PlannedBudgetLimits = map[string]spendOut{}
		for k, l := range b.Planned {
			out.PlannedBudgetLimits[strconv.FormatInt(k, 10)] = spendOut{b.FormatUnits(l), b.Unit}
		}
	} else {
		out.BudgetLimit = &spendOut{b.FormatUnits(b.Limit), b.Unit}
	}
	if b.Filter == nil {
		out.CostFilters = b.CostFilters
		if out.CostFilters == nil {
			out.CostFilters = map[string][]string{}
		}
		out.CostTypes = map[string]bool{}
		for k, def := range costTypeKeys {
			out.CostTypes[k] = def
		}
		for k, v := range b.CostTypes {
			out.CostTypes[k] = v
		}
	} else if showFilter {
		out.FilterExpression = awsproto.ExpressionOf(b.Filter)
	}
	cs := &calculatedSpend{ActualSpend: &spendOut{b.FormatUnits(v.Actual), b.Unit}}
	if v.HasForecast {
		cs.ForecastedSpend = &spendOut{b.FormatUnits(v.Forecast), b.Unit}
	}
	out.CalculatedSpend = cs
	return out
}

func (h *Handler) createBudget(ctx context.Context, in createBudgetInput) (any, error) {
	if in.Budget == nil {
		return nil, invalid("Budget is required.")
	}
	acct, name, err := target(ctx, "budgets:ModifyBudget", in.AccountId, in.Budget.BudgetName)
	if err != nil {
		return nil, err
	}
	b, err := toBudget(acct, in.Budget)
	if err != nil {
		return nil, err
	}
	b.Name = name
	if len(in.NotificationsWithSubscribers) > 5 {
		return nil, errkind.New(errkind.QuotaExceeded, "CreateBudget takes at most 5 notifications; add more with CreateNotification.")
	}
	for _, nws := range in.NotificationsWithSubscribers {
		n, err := toNotification(nws.Notification)
		if err != nil {
			return nil, err
		}
		if n.Subscribers, err = toSubscribers(nws.Subscribers); err != nil {
			return nil, err
		}
		b.Notifications = append(b.Notifications, n)
	}
	if err := h.svc.Create(ctx, b); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) describeBudget(ctx context.Context, in budgetNameInput) (any, error) {
	acct, name, err := target(ctx, "budgets:ViewBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Get(ctx, acct, name)
	if err != nil {
		return nil, err
	}
	show := in.ShowFilterExpression != nil && *in.ShowFilterExpression
	return map[string]any{"Budget": fromBudget(v, show)}, nil
}

func (h *Handler) describeBudgets(ctx context.Context, in describeBudgetsInput) (any, error) {
	acct, err := account(ctx, in.AccountId)
	if err != nil {
		return nil, err
	}
	if err := awsproto.Authorize(ctx, "budgets:ViewBudget", budgetARN(acct, "*"), nil); err != nil {
		return nil, err
	}
	names := h.svc.Names(acct)
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 1000, len(names), in.ShowFilterExpression)
	if err != nil {
		return nil, err
	}
	show := in.ShowFilterExpression != nil && *in.ShowFilterExpression
	out := []budgetOut{}
	for _, n := range names[lo:hi] {
		if v, err := h.svc.Get(ctx, acct, n); err == nil {
			out = append(out, fromBudget(v, show))
		}
	}
	return map[string]any{"Budgets": out, "NextToken": next}, nil
}

func (h *Handler) updateBudget(ctx context.Context, in updateBudgetInput) (any, error) {
	if in.NewBudget == nil {
		return nil, invalid("NewBudget is required.")
	}
	acct, _, err := target(ctx, "budgets:ModifyBudget", in.AccountId, in.NewBudget.BudgetName)
	if err != nil {
		return nil, err
	}
	b, err := toBudget(acct, in.NewBudget)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Update(ctx, b); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func (h *Handler) deleteBudget(ctx context.Context, in budgetNameInput) (any, error) {
	acct, name, err := target(ctx, "budgets:ModifyBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return nil, err
	}
	if err := h.svc.Delete(ctx, acct, name); err != nil {
		return nil, err
	}
	return empty{}, nil
}

func toNotification(n *notification) (budget.Notification, error) {
	if n == nil {
		return budget.Notification{}, invalid("Notification is required.")
	}
	if n.Threshold == nil {
		return budget.Notification{}, invalid("Notification.Threshold is required.")
	}
	return budget.Notification{Type: budget.NotificationType(deref(n.NotificationType)), Comparison: budget.Comparison(deref(n.ComparisonOperator)),
		Threshold: *n.Threshold, ThresholdType: budget.ThresholdType(deref(n.ThresholdType))}, nil
}

func toSubscriber(s *subscriber) (budget.Subscriber, error) {
	if s == nil || s.SubscriptionType == nil || s.Address == nil {
		return budget.Subscriber{}, invalid("A Subscriber needs a SubscriptionType and an Address.")
	}
	return budget.Subscriber{Type: budget.SubscriptionType(*s.SubscriptionType), Address: *s.Address}, nil
}

func toSubscribers(in []subscriber) ([]budget.Subscriber, error) {
	out := make([]budget.Subscriber, 0, len(in))
	for i := range in {
		s, err := toSubscriber(&in[i])
		if err != nil {
			return nil, err
		}
		out = append(out, s)
	}
	return out, nil
}

func fromSubscribers(in []budget.Subscriber) []subscriberOut {
	out := make([]subscriberOut, 0, len(in))
	for _, s := range in {
		out = append(out, subscriberOut{string(s.Type), s.Address})
	}
	return out
}

func fromNotification(n budget.Notification, alarm bool) notificationOut {
	state := "OK"
	if alarm {
		state = "ALARM"
	}
	return notificationOut{NotificationType: string(n.Type), ComparisonOperator: string(n.Comparison), Threshold: n.Threshold,
		ThresholdType: string(n.ThresholdType), NotificationState: state}
}

func (h *Handler) createNotification(ctx context.Context, in notificationInput) (empty, error) {
	acct, name, err := target(ctx, "budgets:ModifyBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return empty{}, err
	}
	n, err := toNotification(in.Notification)
	if err != nil {
		return empty{}, err
	}
	if n.Subscribers, err = toSubscribers(in.Subscribers); err != nil {
		return empty{}, err
	}
	return empty{}, h.svc.CreateNotification(ctx, acct, name, n)
}

func (h *Handler) updateNotification(ctx context.Context, in notificationInput) (empty, error) {
	acct, name, err := target(ctx, "budgets:ModifyBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return empty{}, err
	}
	old, err := toNotification(in.OldNotification)
	if err != nil {
		return empty{}, err
	}
	nn, err := toNotification(in.NewNotification)
	if err != nil {
		return empty{}, err
	}
	return empty{}, h.svc.UpdateNotification(ctx, acct, name, old, nn)
}

func (h *Handler) deleteNotification(ctx context.Context, in notificationInput) (empty, error) {
	acct, name, err := target(ctx, "budgets:ModifyBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return empty{}, err
	}
	n, err := toNotification(in.Notification)
	if err != nil {
		return empty{}, err
	}
	return empty{}, h.svc.DeleteNotification(ctx, acct, name, n)
}

func (h *Handler) describeNotificationsForBudget(ctx context.Context, in notificationInput) (any, error) {
	acct, name, err := target(ctx, "budgets:ViewBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return nil, err
	}
	ns, err := h.svc.Notifications(ctx, acct, name)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(ns), name)
	if err != nil {
		return nil, err
	}
	out := []notificationOut{}
	for _, n := range ns[lo:hi] {
		out = append(out, fromNotification(n.Notification, n.Alarm))
	}
	return map[string]any{"Notifications": out, "NextToken": next}, nil
}

// subscriberTarget authorizes action on the budget a subscriber operation
// names and reads its notification.
func subscriberTarget(ctx context.Context, action string, in notificationInput) (string, string, budget.Notification, error) {
	acct, name, err := target(ctx, action, in.AccountId, in.BudgetName)
	if err != nil {
		return "", "", budget.Notification{}, err
	}
	n, err := toNotification(in.Notification)
	return acct, name, n, err
}

func (h *Handler) createSubscriber(ctx context.Context, in notificationInput) (empty, error) {
	return empty{}, withSubscriber(ctx, in, h.svc.CreateSubscriber)
}

func (h *Handler) deleteSubscriber(ctx context.Context, in notificationInput) (empty, error) {
	return empty{}, withSubscriber(ctx, in, h.svc.DeleteSubscriber)
}

// withSubscriber authorizes a change of one subscriber of a budget's
// notification and makes it with change.
func withSubscriber(ctx context.Context, in notificationInput,
	change func(ctx context.Context, account, budget string, n budget.Notification, s budget.Subscriber) error) error {
	acct, name, n, err := subscriberTarget(ctx, "budgets:ModifyBudget", in)
	if err != nil {
		return err
	}
	s, err := toSubscriber(in.Subscriber)
	if err != nil {
		return err
	}
	return change(ctx, acct, name, n, s)
}

func (h *Handler) updateSubscriber(ctx context.Context, in notificationInput) (empty, error) {
	acct, name, n, err := subscriberTarget(ctx, "budgets:ModifyBudget", in)
	if err != nil {
		return empty{}, err
	}
	old, err := toSubscriber(in.OldSubscriber)
	if err != nil {
		return empty{}, err
	}
	ns, err := toSubscriber(in.NewSubscriber)
	if err != nil {
		return empty{}, err
	}
	return empty{}, h.svc.UpdateSubscriber(ctx, acct, name, n, old, ns)
}

func (h *Handler) describeSubscribersForNotification(ctx context.Context, in notificationInput) (any, error) {
	acct, name, n, err := subscriberTarget(ctx, "budgets:ViewBudget", in)
	if err != nil {
		return nil, err
	}
	subs, err := h.svc.Subscribers(acct, name, n)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(subs), []string{name, n.Key()})
	if err != nil {
		return nil, err
	}
	return map[string]any{"Subscribers": fromSubscribers(subs[lo:hi]), "NextToken": next}, nil
}

func (h *Handler) notificationsForAccount(ctx context.Context, in describeBudgetsInput) (any, error) {
	acct, err := account(ctx, in.AccountId)
	if err != nil {
		return nil, err
	}
	if err := awsproto.Authorize(ctx, "budgets:ViewBudget", budgetARN(acct, "*"), nil); err != nil {
		return nil, err
	}
	views := h.svc.List(ctx, acct)
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(views), nil)
	if err != nil {
		return nil, err
	}
	type entry struct {
		BudgetName    string            `json:"BudgetName"`
		Notifications []notificationOut `json:"Notifications"`
	}
	out := []entry{}
	for _, v := range views[lo:hi] {
		e := entry{BudgetName: v.Name, Notifications: []notificationOut{}}
		for _, n := range v.Notifications {
			e.Notifications = append(e.Notifications, fromNotification(n, v.Alarm[n.Key()]))
		}
		out = append(out, e)
	}
	return map[string]any{"BudgetNotificationsForAccount": out, "NextToken": next}, nil
}

func (h *Handler) performanceHistory(ctx context.Context, in performanceHistoryInput) (any, error) {
	acct, name, err := target(ctx, "budgets:ViewBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return nil, err
	}
	from, to, err := in.TimePeriod.bounds()
	if err != nil {
		return nil, err
	}
	b, periods, err := h.svc.PerformanceHistory(ctx, acct, name, from, to)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(periods), []any{name, from.Unix(), to.Unix()})
	if err != nil {
		return nil, err
	}
	ph := performanceHistory{BudgetName: b.Name, BudgetType: string(b.Type), TimeUnit: string(b.TimeUnit), Metrics: b.Metrics,
		BudgetedAndActualAmountsList: []budgetedAndActual{}}
	if b.Filter == nil {
		bo := fromBudget(budget.View{Budget: b}, false)
		ph.CostFilters, ph.CostTypes = bo.CostFilters, bo.CostTypes
	} else {
		ph.FilterExpression = awsproto.ExpressionOf(b.Filter)
	}
	for _, p := range periods[lo:hi] {
		ph.BudgetedAndActualAmountsList = append(ph.BudgetedAndActualAmountsList, budgetedAndActual{
			BudgetedAmount: spendOut{b.FormatUnits(p.Limit), b.Unit}, ActualAmount: spendOut{b.FormatUnits(p.Actual), b.Unit},
			TimePeriod: timePeriodOut{Start: epoch(p.Start), End: epoch(p.End)}})
	}
	return map[string]any{"BudgetPerformanceHistory": ph, "NextToken": next}, nil
}

// tokens are the Budgets API's NextTokens: a token that does not read, or
// that continues another request, is InvalidNextTokenException.
var tokens = awsproto.Tokens{Member: "NextToken", Invalid: "InvalidNextTokenException"}

// page returns the slice [lo, hi) of n entries a request asks for and the
// next token (nil on the last page); bind is what the request names
// besides its account.
func page(ctx context.Context, tok *string, maxResults *int32, limit, n int, bind any) (int, int, *string, error) {
	size := 100
	if maxResults != nil {
		if *maxResults < 1 || int(*maxResults) > limit {
			return 0, 0, nil, invalid("MaxResults must be between 1 and %d.", limit)
		}
		size = int(*maxResults)
	}
	lo, err := tokens.ReadOffset(ctx, tok, bind, n)
	if err != nil {
		return 0, 0, nil, err
	}
	hi := min(n, lo+size)
	if hi >= n {
		return lo, hi, nil, nil
	}
	next := tokens.NextOffset(ctx, bind, hi)
	return lo, hi, &next, nil
}

func toAction(in actionInput) (budget.Action, error) {
	var a budget.Action
	if nt := deref(in.NotificationType); nt != string(budget.Actual) {
		return a, invalid("Tollgate applies budget actions on ACTUAL spend: NotificationType must be ACTUAL, not %q.", nt)
	}
	a.Type = budget.ActionType(deref(in.ActionType))
	if in.ActionThreshold == nil || in.ActionThreshold.ActionThresholdValue == nil {
		return a, invalid("ActionThreshold is required.")
	}
	a.Threshold, a.ThresholdType = *in.ActionThreshold.ActionThresholdValue, budget.ThresholdType(deref(in.ActionThreshold.ActionThresholdType))
	if err := applyDefinition(&a, in.Definition); err != nil {
		return a, err
	}
	a.ExecutionRoleARN, a.ApprovalModel = deref(in.ExecutionRoleArn), deref(in.ApprovalModel)
	subs, err := toSubscribers(in.Subscribers)
	if err != nil {
		return a, err
	}
	a.Subscribers = subs
	return a, nil
}

// applyDefinition reads the action's argument from its definition.
func applyDefinition(a *budget.Action, d *definition) error {
	if d == nil {
		return invalid("Definition is required.")
	}
	if d.ScpActionDefinition != nil || d.SsmActionDefinition != nil {
		return invalid("Tollgate budget actions take no SCP or SSM definition: give the argument in IamActionDefinition.PolicyArn.")
	}
	arg := ""
	if d.IamActionDefinition != nil {
		arg = deref(d.IamActionDefinition.PolicyArn)
	}
	a.RequestsPerMinute, a.Model = 0, ""
	switch a.Type {
	case budget.Throttle:
		n, err := strconv.ParseInt(arg, 10, 64)
		if err != nil || n < 1 {
			return invalid("A THROTTLE action's argument (Definition.IamActionDefinition.PolicyArn) must be its requests per minute, not %q.", arg)
		}
		a.RequestsPerMinute = n
	case budget.Downgrade:
		a.Model = arg
	}
	return nil
}

func fromAction(name string, a budget.Action, e budget.Enforcement) actionOut {
	status := e.Status
	if status == "" {
		status = budget.StatusStandby
	}
	out := actionOut{ActionId: a.ID, BudgetName: name, NotificationType: string(budget.Actual), ActionType: string(a.Type),
		ActionThreshold:  actionThresholdOut{string(a.ThresholdType), a.Threshold},
		ExecutionRoleArn: a.ExecutionRoleARN, ApprovalModel: a.ApprovalModel, Status: string(status), Subscribers: fromSubscribers(a.Subscribers),
		StatusReason: e.Reason}
	if arg := a.Arg(); arg != "" {
		out.Definition.IamActionDefinition = &iamActionDefinition{PolicyArn: &arg}
	}
	return out
}

func (h *Handler) describeBudgetActionsForAccount(ctx context.Context, in actionInput) (any, error) {
	acct, err := account(ctx, in.AccountId)
	if err != nil {
		return nil, err
	}
	if err := awsproto.Authorize(ctx, "budgets:DescribeBudgetActionsForAccount", budgetARN(acct, "*"), nil); err != nil {
		return nil, err
	}
	names, acts := h.svc.AccountActions(acct)
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(acts), nil)
	if err != nil {
		return nil, err
	}
	out := []actionOut{}
	views := map[string]budget.View{}
	for i := lo; i < hi; i++ {
		v, ok := views[names[i]]
		if !ok {
			v, _ = h.svc.Get(ctx, acct, names[i])
			views[names[i]] = v
		}
		out = append(out, fromAction(names[i], acts[i], v.Enforcement[acts[i].ID]))
	}
	return map[string]any{"Actions": out, "NextToken": next}, nil
}

func (h *Handler) createBudgetAction(ctx context.Context, in actionInput) (any, error) {
	acct, name, err := target(ctx, "budgets:CreateBudgetAction", in.AccountId, in.BudgetName)
	if err != nil {
		return nil, err
	}
	a, err := toAction(in)
	if err != nil {
		return nil, err
	}
	id, err := h.svc.CreateAction(ctx, acct, name, a)
	if err != nil {
		return nil, err
	}
	return map[string]string{"AccountId": acct, "BudgetName": name, "ActionId": id}, nil
}

func (h *Handler) describeBudgetActionsForBudget(ctx context.Context, in actionInput) (any, error) {
	acct, name, err := target(ctx, "budgets:DescribeBudgetActionsForBudget", in.AccountId, in.BudgetName)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Get(ctx, acct, name)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(v.Actions), name)
	if err != nil {
		return nil, err
	}
	out := []actionOut{}
	for _, a := range v.Actions[lo:hi] {
		out = append(out, fromAction(name, a, v.Enforcement[a.ID]))
	}
	return map[string]any{"Actions": out, "NextToken": next}, nil
}

// actionTarget authorizes action on the budget an operation on one budget
// action names, and reads the action's id.
func actionTarget(ctx context.Context, action string, in actionInput) (string, string, string, error) {
	acct, name, err := target(ctx, action, in.AccountId, in.BudgetName)
	if err != nil {
		return "", "", "", err
	}
	if in.ActionId == nil {
		return "", "", "", invalid("ActionId is required.")
	}
	return acct, name, *in.ActionId, nil
}

func (h *Handler) describeBudgetAction(ctx context.Context, in actionInput) (any, error) {
	acct, name, id, err := actionTarget(ctx, "budgets:DescribeBudgetAction", in)
	if err != nil {
		return nil, err
	}
	v, err := h.svc.Get(ctx, acct, name)
	if err != nil {
		return nil, err
	}
	for _, a := range v.Actions {
		if a.ID == id {
			return map[string]any{"AccountId": acct, "BudgetName": name, "Action": fromAction(name, a, v.Enforcement[a.ID])}, nil
		}
	}
	return nil, errkind.New(errkind.NotFound, "Unable to find the budget action %s.", id)
}

func (h *Handler) deleteBudgetAction(ctx context.Context, in actionInput) (any, error) {
	acct, name, id, err := actionTarget(ctx, "budgets:DeleteBudgetAction", in)
	if err != nil {
		return nil, err
	}
	a, err := h.svc.DeleteAction(ctx, acct, name, id)
	if err != nil {
		return nil, err
	}
	return map[string]any{"AccountId": acct, "BudgetName": name, "Action": fromAction(name, a, budget.Enforcement{})}, nil
}

// updateBudgetAction replaces the action's members the request gives.
func (h *Handler) updateBudgetAction(ctx context.Context, in actionInput) (any, error) {
	acct, name, id, err := actionTarget(ctx, "budgets:UpdateBudgetAction", in)
	if err != nil {
		return nil, err
	}
	old, nw, err := h.svc.UpdateAction(ctx, acct, name, id, func(a *budget.Action) error {
		if in.NotificationType != nil && *in.NotificationType != string(budget.Actual) {
			return invalid("Tollgate applies budget actions on ACTUAL spend: NotificationType must be ACTUAL.")
		}
		if t := in.ActionThreshold; t != nil {
			if t.ActionThresholdValue != nil {
				a.Threshold = *t.ActionThresholdValue
			}
			if t.ActionThresholdType != nil {
				a.ThresholdType = budget.ThresholdType(*t.ActionThresholdType)
			}
		}
		if in.Definition != nil {
			if err := applyDefinition(a, in.Definition); err != nil {
				return err
			}
		}
		if in.ExecutionRoleArn != nil {
			a.ExecutionRoleARN = *in.ExecutionRoleArn
		}
		if in.ApprovalModel != nil {
			a.ApprovalModel = *in.ApprovalModel
		}
		if in.Subscribers != nil {
			subs, err := toSubscribers(in.Subscribers)
			if err != nil {
				return err
			}
			a.Subscribers = subs
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	v, _ := h.svc.Get(ctx, acct, name)
	return map[string]any{"AccountId": acct, "BudgetName": name, "OldAction": fromAction(name, old, budget.Enforcement{}), "NewAction": fromAction(name, nw, v.Enforcement[id])}, nil
}

// describeBudgetActionHistories lists an action's events in the request's
// TimePeriod (default: all), oldest first.
func (h *Handler) describeBudgetActionHistories(ctx context.Context, in actionInput) (any, error) {
	acct, name, id, err := actionTarget(ctx, "budgets:DescribeBudgetActionHistories", in)
	if err != nil {
		return nil, err
	}
	from, to, err := in.TimePeriod.bounds()
	if err != nil {
		return nil, err
	}
	evs, err := h.svc.ActionHistory(ctx, acct, name, id, from, to)
	if err != nil {
		return nil, err
	}
	lo, hi, next, err := page(ctx, in.NextToken, in.MaxResults, 100, len(evs), []any{name, id, from.Unix(), to.Unix()})
	if err != nil {
		return nil, err
	}
	out := []actionHistory{}
	for _, e := range evs[lo:hi] {
		out = append(out, actionHistory{Timestamp: epoch(e.At), Status: string(e.Status), EventType: e.EventType,
			ActionHistoryDetails: actionHistoryDetails{Message: e.Message, Action: fromAction(name, e.Action, budget.Enforcement{Status: e.Status})}})
	}
	return map[string]any{"ActionHistories": out, "NextToken": next}, nil
}
