// Package metrics owns Tollgate's per-profile metric series in the shape
// of CloudWatch's AWS/Bedrock namespace: Invocations, InvocationLatency,
// the error and throttle counts, the four token counts, TimeToFirstToken,
// OutputImageCount and Cost, each under the dimension ModelId (the inference profile id for
// calls through a profile, the model id for direct calls), once more
// under ModelId "<id>+<tier>" for calls served in a tier other than
// Standard (as Bedrock publishes "model-id+priority" and "model-id+flex"),
// and once more without dimensions ("across all model ids").
//
// Series are fed by the durable usage records of the ledger. Each series
// keeps one bucket per minute (kept 15 days) and one per hour (kept 15
// months); a bucket holds the sample count, sum, minimum, maximum and a
// small logarithmic histogram from which percentiles are read with at most
// 1% relative error (see Sketch). The current buckets live in memory
// (Registry) and are written to a Store in batches, promptly once their
// minute is past; older ones are read back from it.
//
// Memory bound: the Registry holds the buckets changed since its last
// flush and, once flushed, those of the last two minutes and the current
// hour, compactly (one entry per account and model id holding every
// metric's statistics: about 2 KB for a busy profile, so 10,000 fit);
// when their estimated size passes Config.MaxMemory (32 MiB by default)
// it flushes early and lets every written bucket go. So its
// memory is at most MaxMemory plus what arrives during one flush, whatever
// the number of profiles (series), as long as the store takes the
// writes; no sample is ever dropped (see Registry).
package metrics

import (
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/quota"
)

// Namespace is the CloudWatch namespace of the series.
const Namespace = "AWS/Bedrock"

// DimensionModelID is the one dimension series carry.
const DimensionModelID = "ModelId"

// The metric names, as AWS/Bedrock spells them (Cost is Tollgate's own).
const (
	Invocations            = "Invocations"
	InvocationLatency      = "InvocationLatency"
	InvocationClientErrors = "InvocationClientErrors"
	InvocationServerErrors = "InvocationServerErrors"
	InvocationThrottles    = "InvocationThrottles"
	InputTokenCount        = "InputTokenCount"
	OutputTokenCount       = "OutputTokenCount"
	CacheReadInputTokens   = "CacheReadInputTokens"
	CacheWriteInputTokens  = "CacheWriteInputTokens"
	TimeToFirstToken       = "TimeToFirstToken"
	// OutputImageCount is the images an image model generated (AWS
	// publishes it for image models only; Tollgate keeps its ModelId
	// dimension, not ImageSize or BucketedStepSize).
	OutputImageCount = "OutputImageCount"
	Cost             = "Cost"
	// EstimatedTPMQuotaUsage is what each call counted against its
	// tokens-per-minute quota, as Bedrock publishes it: input and
	// cache-write tokens plus output tokens at the model's burndown rate
	// (quota.Settled).
	EstimatedTPMQuotaUsage = "EstimatedTPMQuotaUsage"
	// QueueWait is Tollgate's own: how long each call waited for
	// admission (a flex call for room in its quota, any call for a slot
	// at a saturated upstream).
	QueueWait = "QueueWait"
)

// Def describes one metric.
type Def struct {
	Name string
	// Unit is the CloudWatch StandardUnit its values are reported in.
	Unit string
	// Scale converts a stored integer value to the reported value: 1 for
	// counts and milliseconds, 1e-9 for Cost (stored in nano-USD,
	// reported in USD).
	Scale float64
}

var defs = []Def{
	{Invocations, "Count", 1},
	{InvocationLatency, "Milliseconds", 1},
	{InvocationClientErrors, "Count", 1},
	{InvocationServerErrors, "Count", 1},
	{InvocationThrottles, "Count", 1},
	{InputTokenCount, "Count", 1},
	{OutputTokenCount, "Count", 1},
	{CacheReadInputTokens, "Count", 1},
	{CacheWriteInputTokens, "Count", 1},
	{TimeToFirstToken, "Milliseconds", 1},
	{OutputImageCount, "Count", 1},
	{Cost, "None", 1e-9},
	{EstimatedTPMQuotaUsage, "Count", 1},
	{QueueWait, "Milliseconds", 1},
	{EnforcementActive, "None", 1},
}

// Budget enforcement. EnforcementActive, in Tollgate's own namespace
// BudgetsNamespace, is 1 while a budget action is engaged (a shadow
// action: would be) and 0 otherwise, sampled by the budget evaluator at
// each pass and at each engagement and release; its dimensions are
// BudgetName and ActionId (the series without dimensions spans every
// action: its Maximum is 1 while any is engaged). The series stores the
// pair in Key.ModelID as "BUDGET:ACTION_ID" (a budget name has no ':').
const (
	BudgetsNamespace  = "Tollgate/Budgets"
	EnforcementActive = "EnforcementActive"
	DimensionBudget   = "BudgetName"
	DimensionActionID = "ActionId"
)

// NamespaceOf returns the CloudWatch namespace of a metric.
func NamespaceOf(metric string) string {
	if metric == EnforcementActive {
		return BudgetsNamespace
	}
	return Namespace
}

// Dimensions returns a series' CloudWatch dimensions, as name/value pairs.
func Dimensions(k Key) [][2]string {
	if k.ModelID == "" {
		return nil
	}
	if k.Metric == EnforcementActive {
		b, a, _ := strings.Cut(k.ModelID, ":")
		return [][2]string{{DimensionActionID, a}, {DimensionBudget, b}}
	}
	return [][2]string{{DimensionModelID, k.ModelID}}
}

// Defs returns every metric, in a fixed order.
func Defs() []Def { return append([]Def(nil), defs...) }

// Lookup returns the metric named name.
func Lookup(name string) (Def, bool) {
	for _, d := range defs {
		if d.Name == name {
			return d, true
		}
	}
	return Def{}, false
}

// Resolutions of stored buckets, and how long each is kept (CloudWatch
// keeps 1-minute data 15 days and 1-hour data 15 months).
const (
	Minute          = time.Minute
	Hour            = time.Hour
	MinuteRetention = 15 * 24 * time.Hour
	HourRetention   = 455 * 24 * time.Hour
)

// Key identifies one series. ModelID is the value of the ModelId
// dimension; "" is the series without dimensions, across all model ids.
type Key struct {
	Account string
	Metric  string
	ModelID string
}

// Sample is one value of one metric taken from a usage record.
type Sample struct {
	Metric string
	Value  int64 // in the metric's stored unit (see Def.Scale)
}

// DimensionValue returns the ModelId a record is counted under: the
// inference profile id for calls through a profile, else the model id.
func DimensionValue(r ledger.Record) string {
	if r.ProfileID != "" {
		return r.ProfileID
	}
	return r.ModelID
}

// TierDimensionValue returns the ModelId a record is counted under once
// more for its service tier, as Bedrock publishes per-tier series
// ("model-id+priority", "model-id+flex"): dim+"+"+tier for a call served in
// a tier other than Standard, "" otherwise.
func TierDimensionValue(dim string, r ledger.Record) string {
	switch r.ServiceTier {
	case "", "default":
		return ""
	}
	return dim + "+" + r.ServiceTier
}

// NormalizeModelID turns a ModelId dimension value as a client may give it
// (a profile id, a profile ARN, a model id or a foundation-model ARN) into
// the value series are stored under.
func NormalizeModelID(v string) string {
	if !strings.HasPrefix(v, "arn:") {
		return v
	}
	a, err := arn.Bedrock(v, arn.TypeFoundationModel, arn.TypeInferenceProfile, arn.TypeApplicationProfile)
	if err != nil {
		return v
	}
	return a.ID()
}

// SamplesOf returns the samples a usage record contributes, following
// the AWS/Bedrock definitions:
//
//   - Invocations (1) and InvocationLatency count every call that was
//     accepted, including those that failed; a throttled call counts only
//     as InvocationThrottles (1).
//   - InvocationClientErrors and InvocationServerErrors are 1 for each
//     failed call; error and throttle metrics have no sample when nothing
//     happened, so alarms on them want TreatMissingData notBreaching.
//   - The token counts and Cost have one sample per call that consumed
//     anything (every successful call, and failed or cancelled calls that
//     used tokens), so their sums equal the ledger's; the cache token counts
//     only when non-zero, and Cost only when the call was priced.
//   - TimeToFirstToken has one sample per successful streaming call.
//   - OutputImageCount has one sample per call that generated images
//     (ledger.Record.Units), whose Cost includes their per-image cost.
//   - EstimatedTPMQuotaUsage has one sample per call that consumed
//     anything, as the token counts.
//   - QueueWait comes from Registry.AddAdmission, not from records.
//
// A record standing for several calls (ledger.Record.Calls) counts them
// all in Invocations, InvocationThrottles and the error counts (one
// sample of value Record.CallCount); its latency, tokens and cost are
// one sample each, the sums being the calls' sums.
func SamplesOf(r ledger.Record) []Sample {
	return appendSamples(make([]Sample, 0, 8), &r)
}

// appendSamples appends the samples of r (SamplesOf) to out.
func appendSamples(out []Sample, r *ledger.Record) []Sample {
	calls := r.CallCount()
	if r.Outcome == ledger.OutcomeThrottled {
		return append(out, Sample{InvocationThrottles, calls})
	}
	if r.Operation == ledger.OpFixedCost {
		// An hour of reserved capacity: a cost, no invocation.
		if r.Priced {
			out = append(out, Sample{Cost, int64(r.Cost)})
		}
		return out
	}
	out = append(out, Sample{Invocations, calls}, Sample{InvocationLatency, r.LatencyMs})
	switch r.Outcome {
	case ledger.OutcomeClientError:
		out = append(out, Sample{InvocationClientErrors, calls})
	case ledger.OutcomeServerError:
		out = append(out, Sample{InvocationServerErrors, calls})
	}
	cacheWrite := r.CacheWriteAll() // both TTLs, as Bedrock's CacheWriteInputTokens
	used := r.InputTokens > 0 || r.OutputTokens > 0 || r.CacheReadTokens > 0 || cacheWrite > 0 || r.Units > 0
	if r.Units > 0 {
		out = append(out, Sample{OutputImageCount, r.Units})
	}
	if r.Outcome == ledger.OutcomeSuccess || used {
		out = append(out, Sample{InputTokenCount, r.InputTokens}, Sample{OutputTokenCount, r.OutputTokens})
		if r.CacheReadTokens > 0 {
			out = append(out, Sample{CacheReadInputTokens, r.CacheReadTokens})
		}
		if cacheWrite > 0 {
			out = append(out, Sample{CacheWriteInputTokens, cacheWrite})
		}
		if r.Priced {
			out = append(out, Sample{Cost, int64(r.Cost)})
		}
		out = append(out, Sample{EstimatedTPMQuotaUsage, quota.Settled(r.ModelID,
			quota.Tokens{Input: r.InputTokens, Output: r.OutputTokens, CacheRead: r.CacheReadTokens, CacheWrite: cacheWrite})})
	}
	if r.Outcome == ledger.OutcomeSuccess && (r.Operation == "ConverseStream" || r.Operation == "InvokeModelWithResponseStream") {
		out = append(out, Sample{TimeToFirstToken, r.TTFTMs})
	}
	return out
}

// Resolve returns the series a CloudWatch client names by namespace,
// metric name and dimensions: none for the series across all model ids,
// or ModelId alone (a profile or model id, or its ARN). ok is false for
// anything else, which has no data.
func Resolve(account, namespace, metricName string, dims map[string]string) (Key, Def, bool) {
	def, ok := Lookup(metricName)
	if !ok || namespace != NamespaceOf(metricName) {
		return Key{}, Def{}, false
	}
	key := Key{Account: account, Metric: metricName}
	if metricName == EnforcementActive {
		b, a := dims[DimensionBudget], dims[DimensionActionID]
		switch {
		case len(dims) == 0:
		case len(dims) == 2 && b != "" && a != "":
			key.ModelID = b + ":" + a
		default:
			return Key{}, Def{}, false
		}
		return key, def, true
	}
	switch len(dims) {
	case 0:
	case 1:
		v, ok := dims[DimensionModelID]
		if !ok || v == "" {
			return Key{}, Def{}, false
		}
		key.ModelID = NormalizeModelID(v)
	default:
		return Key{}, Def{}, false
	}
	return key, def, true
}
