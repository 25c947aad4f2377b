package alarm

import (
	"strings"
	"testing"
	"time"
)

// points turns a CloudWatch documentation row such as "0 - X - X" (oldest
// first; 0 not breaching, X breaching, - missing) into datapoints for a
// GreaterThanThreshold alarm with threshold 5.
func points(row string) []Datapoint {
	t0 := time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	var out []Datapoint
	for i, f := range strings.Fields(row) {
		p := Datapoint{Start: t0.Add(time.Duration(i) * time.Minute), Samples: 1}
		switch f {
		case "0":
			p.Value = 1
		case "X":
			p.Value = 9
		case "-":
			p.Missing = true
		default:
			panic("bad row " + row)
		}
		out = append(out, p)
	}
	return out
}

// keep stands for "retain current state" in the tables.
const keep State = "keep"

// TestEvaluateDocumentedTables checks every row of both tables in the
// CloudWatch User Guide's "How alarm state is evaluated when data is
// missing" (current and earlier editions), for every TreatMissingData
// mode, from each starting state.
func TestEvaluateDocumentedTables(t *testing.T) {
	type row struct {
		name                                     string
		data                                     string
		n, m                                     int
		missing, ignore, breaching, notBreaching State
	}
	rows := []row{
		// M = N = 3, evaluation range 5.
		{"3of3/0-X-X", "0 - X - X", 3, 3, StateOK, StateOK, StateOK, StateOK},
		{"3of3/0----", "0 - - - -", 3, 3, StateOK, StateOK, StateOK, StateOK},
		{"3of3/-----", "- - - - -", 3, 3, StateInsufficientData, keep, StateAlarm, StateOK},
		{"3of3/0XX-X", "0 X X - X", 3, 3, StateAlarm, StateAlarm, StateAlarm, StateAlarm},
		{"3of3/--X--premature", "- - X - -", 3, 3, StateAlarm, keep, StateAlarm, StateOK},
		{"3of3/----X", "- - - - X", 3, 3, StateInsufficientData, keep, StateAlarm, StateOK},
		{"3of3/X----", "X - - - -", 3, 3, StateAlarm, keep, StateAlarm, StateOK},
		// M = 2, N = 3 ("2 out of 3"), evaluation range 5.
		{"2of3/0-X-X", "0 - X - X", 3, 2, StateAlarm, StateAlarm, StateAlarm, StateAlarm},
		{"2of3/00X0X", "0 0 X 0 X", 3, 2, StateAlarm, StateAlarm, StateAlarm, StateAlarm},
		{"2of3/0-X--", "0 - X - -", 3, 2, StateOK, StateOK, StateAlarm, StateOK},
		{"2of3/----0", "- - - - 0", 3, 2, StateOK, StateOK, StateAlarm, StateOK},
		{"2of3/---X-premature", "- - - X -", 3, 2, StateAlarm, keep, StateAlarm, StateOK},
		{"2of3/----X", "- - - - X", 3, 2, StateInsufficientData, keep, StateAlarm, StateOK},
	}
	modes := []string{TreatMissing, TreatIgnore, TreatBreaching, TreatNotBreaching}
	for _, r := range rows {
		want := map[string]State{TreatMissing: r.missing, TreatIgnore: r.ignore, TreatBreaching: r.breaching, TreatNotBreaching: r.notBreaching}
		for _, mode := range modes {
			for _, cur := range []State{StateOK, StateAlarm, StateInsufficientData} {
				t.Run(r.name+"/"+mode+"/from-"+string(cur), func(t *testing.T) {
					rule := Rule{EvaluationPeriods: r.n, DatapointsToAlarm: r.m, Threshold: 5, ComparisonOperator: GreaterThanThreshold, TreatMissingData: mode}
					got := Evaluate(points(r.data), rule, cur).State
					w := want[mode]
					if w == keep {
						w = ""
					}
					if got != w {
						t.Errorf("Evaluate(%q, %d of %d, %s) from %s = %q, want %q", r.data, r.m, r.n, mode, cur, got, w)
					}
				})
			}
		}
	}
}

// TestEvaluateCases covers the rest of the state machine: M of N with
// gaps, every comparison operator, long ranges, and low sample counts.
func TestEvaluateCases(t *testing.T) {
	for _, tc := range []struct {
		name string
		data string
		rule Rule
		cur  State
		want State
	}{
		{"1of1 breach", "- - X", Rule{EvaluationPeriods: 1}, StateOK, StateAlarm},
		{"1of1 ok", "- - 0", Rule{EvaluationPeriods: 1}, StateAlarm, StateOK},
		{"1of1 newest missing uses older real", "X 0 -", Rule{EvaluationPeriods: 1}, StateAlarm, StateOK},
		{"1of1 all missing", "- - -", Rule{EvaluationPeriods: 1}, StateOK, StateInsufficientData},
		{"1of1 all missing notBreaching", "- - -", Rule{EvaluationPeriods: 1, TreatMissingData: TreatNotBreaching}, StateAlarm, StateOK},
		{"1of1 all missing breaching", "- - -", Rule{EvaluationPeriods: 1, TreatMissingData: TreatBreaching}, StateOK, StateAlarm},
		{"3of5 gaps enough real", "X - X 0 X 0 -", Rule{EvaluationPeriods: 5, DatapointsToAlarm: 3}, StateOK, StateAlarm},
		{"3of5 gaps two breaching", "0 - X 0 0 X 0", Rule{EvaluationPeriods: 5, DatapointsToAlarm: 3}, StateAlarm, StateOK},
		{"3of5 newest five real decide", "X X X 0 0 0 0", Rule{EvaluationPeriods: 5, DatapointsToAlarm: 3}, StateAlarm, StateOK},
		{"2of4 sparse breaching fills", "- 0 - - - X", Rule{EvaluationPeriods: 4, DatapointsToAlarm: 2, TreatMissingData: TreatBreaching}, StateOK, StateAlarm},
		{"2of4 sparse notBreaching", "- 0 - - - X", Rule{EvaluationPeriods: 4, DatapointsToAlarm: 2, TreatMissingData: TreatNotBreaching}, StateAlarm, StateOK},
		{"2of4 sparse missing ok", "- 0 - - - X", Rule{EvaluationPeriods: 4, DatapointsToAlarm: 2}, StateAlarm, StateOK},
		{"M defaults to N", "X X 0", Rule{EvaluationPeriods: 3}, StateAlarm, StateOK},
		{"low samples keep state", "X X X", Rule{EvaluationPeriods: 3, MinSamples: 100}, StateOK, ""},
		{"enough samples evaluate", "X X X", Rule{EvaluationPeriods: 3, MinSamples: 3}, StateOK, StateAlarm},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := tc.rule
			r.Threshold, r.ComparisonOperator = 5, GreaterThanThreshold
			if got := Evaluate(points(tc.data), r, tc.cur).State; got != tc.want {
				t.Errorf("Evaluate(%q) from %s = %q, want %q", tc.data, tc.cur, got, tc.want)
			}
		})
	}
}

func TestBreaches(t *testing.T) {
	for _, tc := range []struct {
		op   string
		v    float64
		want bool
	}{
		{GreaterThanOrEqualToThreshold, 5, true},
		{GreaterThanOrEqualToThreshold, 4.9, false},
		{GreaterThanThreshold, 5, false},
		{GreaterThanThreshold, 5.1, true},
		{LessThanThreshold, 5, false},
		{LessThanThreshold, 4.9, true},
		{LessThanOrEqualToThreshold, 5, true},
		{LessThanOrEqualToThreshold, 5.1, false},
		{"Bogus", 5, false},
	} {
		if got := Breaches(tc.op, tc.v, 5); got != tc.want {
			t.Errorf("Breaches(%s, %v, 5) = %v, want %v", tc.op, tc.v, got, tc.want)
		}
	}
}
