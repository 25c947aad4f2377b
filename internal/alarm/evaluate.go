package alarm

import (
	"math"
	"time"
)

// Datapoint is one period of an alarm's evaluation range.
type Datapoint struct {
	Start   time.Time
	Value   float64
	Samples int64 // samples behind Value
	Missing bool  // the period has no data
}

// Rule is what evaluation needs of an alarm.
type Rule struct {
	EvaluationPeriods  int // N
	DatapointsToAlarm  int // M (0 means N)
	Threshold          float64
	ComparisonOperator string
	// TreatMissingData is missing (also ""), ignore, breaching or
	// notBreaching.
	TreatMissingData string
	// MinSamples, when positive, makes evaluation keep the current state
	// while the real datapoints hold fewer samples than this (a percentile
	// alarm with EvaluateLowSampleCountPercentile "ignore").
	MinSamples int64
}

// Result is the outcome of one evaluation.
type Result struct {
	// State is the new state; "" keeps the current one (TreatMissingData
	// ignore, or too few samples).
	State State
	// Evaluated are the datapoints the decision rests on, oldest first:
	// the real ones used, with filled-in missing ones marked Missing.
	Evaluated []Datapoint
	// Breaching is how many of Evaluated breach (filled ones included).
	Breaching int
	// Premature reports the "premature alarm state" rule decided.
	Premature bool
}

// Breaches reports whether v breaches threshold under op.
func Breaches(op string, v, threshold float64) bool {
	switch op {
	case GreaterThanOrEqualToThreshold:
		return v >= threshold
	case GreaterThanThreshold:
		return v > threshold
	case LessThanThreshold:
		return v < threshold
	case LessThanOrEqualToThreshold:
		return v <= threshold
	}
	return false
}

// EvaluationRange is how many datapoints an alarm of N evaluation
// periods fetches, so that gaps among the newest N can be covered by
// real datapoints from further back: N+2, which is CloudWatch's documented
// range of 5 for N = 3 (CloudWatch does not publish the rule for other N).
func EvaluationRange(n int) int { return n + 2 }

// Evaluate decides an alarm's state from its evaluation range (oldest
// first, normally EvaluationRange(N) datapoints) as CloudWatch does:
//
//   - With at least N real datapoints in the range, the newest N real
//     ones decide (ALARM when at least M breach, else OK); how missing
//     data is treated does not matter.
//   - With none, the state is INSUFFICIENT_DATA (missing), unchanged
//     (ignore), ALARM (breaching) or OK (notBreaching).
//   - With some but fewer than N, every real datapoint counts and missing
//     ones are filled in as few times as possible: N minus the real ones,
//     as breaching or not breaching. Under missing and ignore nothing is
//     filled: ALARM when at least M real ones breach, OK when any real one
//     does not breach; when all real ones breach but fewer than M, the
//     "premature alarm state" rule applies: ALARM under missing when the
//     oldest breaching datapoint is at least M periods old (it has had M
//     periods to be contradicted), else INSUFFICIENT_DATA; under ignore the
//     state stays.
//
// This reproduces every row of both tables in the CloudWatch User Guide's
// "How alarm state is evaluated when data is missing" (M = N = 3 and M = 2,
// N = 3, evaluation range 5), including those of its earlier edition.
func Evaluate(points []Datapoint, r Rule, current State) Result {
	n, m := r.EvaluationPeriods, r.DatapointsToAlarm
	if m <= 0 || m > n {
		m = n
	}
	var real []int
	for i, p := range points {
		if !p.Missing && !math.IsNaN(p.Value) {
			real = append(real, i)
		}
	}
	breach := func(i int) bool { return Breaches(r.ComparisonOperator, points[i].Value, r.Threshold) }
	decide := func(b int) State {
		if b >= m {
			return StateAlarm
		}
		return StateOK
	}
	if r.MinSamples > 0 {
		var samples int64
		for _, i := range real {
			samples += points[i].Samples
		}
		if samples < r.MinSamples {
			return Result{}
		}
	}
	if len(real) == 0 {
		res := Result{Evaluated: filler(points, n, nil)}
		switch r.TreatMissingData {
		case TreatBreaching:
			res.State, res.Breaching = StateAlarm, n
		case TreatNotBreaching:
			res.State = StateOK
		case TreatIgnore:
		default:
			res.State = StateInsufficientData
		}
		return res
	}
	if len(real) >= n {
		used := real[len(real)-n:]
		res := Result{}
		for _, i := range used {
			res.Evaluated = append(res.Evaluated, points[i])
			if breach(i) {
				res.Breaching++
			}
		}
		res.State = decide(res.Breaching)
		return res
	}
	fill := n - len(real)
	res := Result{}
	allBreach := true
	for _, i := range real {
		res.Evaluated = append(res.Evaluated, points[i])
		if breach(i) {
			res.Breaching++
		} else {
			allBreach = false
		}
	}
	switch r.TreatMissingData {
	case TreatBreaching:
		res.Evaluated = filler(points, fill, res.Evaluated)
		res.Breaching += fill
		res.State = decide(res.Breaching)
	case TreatNotBreaching:
		res.Evaluated = filler(points, fill, res.Evaluated)
		res.State = decide(res.Breaching)
	default: // missing, ignore
		switch {
		case res.Breaching >= m:
			res.State = StateAlarm
		case !allBreach:
			res.State = StateOK
		default:
			// Every real datapoint breaches, but fewer than M.
			oldestAge := len(points) - real[0] // the newest datapoint has age 1
			if oldestAge >= m && r.TreatMissingData != TreatIgnore {
				res.State, res.Premature = StateAlarm, true
			} else if r.TreatMissingData != TreatIgnore {
				res.State = StateInsufficientData
			}
		}
	}
	return res
}

// filler appends k missing datapoints standing for filled-in ones (taking
// the starts of the newest missing points of the range), keeping the
// result oldest first.
func filler(points []Datapoint, k int, real []Datapoint) []Datapoint {
	var fills []Datapoint
	for i := len(points) - 1; i >= 0 && len(fills) < k; i-- {
		if points[i].Missing || math.IsNaN(points[i].Value) {
			fills = append(fills, Datapoint{Start: points[i].Start, Missing: true})
		}
	}
	out := append([]Datapoint(nil), real...)
	for i := len(fills) - 1; i >= 0; i-- {
		out = append(out, fills[i])
	}
	sortByStart(out)
	return out
}

func sortByStart(ps []Datapoint) {
	for i := 1; i < len(ps); i++ {
		for j := i; j > 0 && ps[j].Start.Before(ps[j-1].Start); j-- {
			ps[j], ps[j-1] = ps[j-1], ps[j]
		}
	}
}
