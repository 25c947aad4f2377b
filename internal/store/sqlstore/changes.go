package sqlstore

// The kinds of change a store's Watch reports, one per committed change
// to what replicas keep in memory.
const (
	ChangeProfile    = "profile"
	ChangePrincipal  = "principal"
	ChangeAccessKey  = "access_key"
	ChangeAPIKey     = "api_key"
	ChangeAccount    = "account"
	ChangePolicy     = "policy"
	ChangeAttachment = "attachment"
	// ChangeBudget is announced when a budget is created, updated or
	// deleted. Alert states and outbox messages are not announced: they
	// change with every evaluation and every alert.
	ChangeBudget = "budget"
	// ChangeAlarm is announced when the alarms change (SaveAlarm,
	// DeleteAlarms). Appending to and pruning the alarm history is not
	// announced.
	ChangeAlarm = "alarm"
	// ChangeAnomaly is announced when an anomaly monitor or subscription
	// is created, changed or deleted. Evaluations, anomalies and their
	// feedback are not announced: the first two change with every
	// evaluation.
	ChangeAnomaly = "anomaly"
	// ChangeAllowance is announced when a replica could not get the
	// budget allowance a call needed: the others give back what they hold
	// and do not need.
	ChangeAllowance = "allowance"
	// ChangeTick is the periodic reconciliation (and the catch-up after a
	// lost feed was restored): reload everything.
	ChangeTick = "tick"
)
