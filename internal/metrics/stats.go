package metrics

import (
	"encoding/binary"
	"errors"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
)

// Sketch is a mergeable histogram of non-negative integer values from
// which percentiles are read.
//
// Accuracy: values below ExactBelow are counted exactly, so a percentile
// whose true value lies below it is exact. Larger values fall in
// logarithmic bins of ratio gamma = (1+Alpha)/(1-Alpha); a bin is reported
// as the point 2*gamma^k/(gamma+1) of its range (gamma^(k-1), gamma^k],
// which lies within Alpha (1%) of every value in the bin. So a percentile
// is the nearest-rank sample value within 1% relative error, and p0 and
// p100 are the exact minimum and maximum. A bin needs 12 bytes; values up
// to 10^12 need at most about 1,100 bins, and a minute bucket usually
// holds a handful.
type Sketch struct {
	bins []bin // sorted by index
}

type bin struct {
	idx int32
	n   int64
}

// Sketch parameters.
const (
	Alpha      = 0.01
	ExactBelow = 128
)

var (
	gamma    = (1 + Alpha) / (1 - Alpha)
	logGamma = math.Log(gamma)
	// idxBase makes the first logarithmic bin follow the exact ones.
	idxBase = int32(math.Ceil(math.Log(ExactBelow) / logGamma))
)

func binIndex(v int64) int32 {
	if v < ExactBelow {
		if v < 0 {
			return 0
		}
		return int32(v)
	}
	k := int32(math.Ceil(math.Log(float64(v)) / logGamma))
	return ExactBelow + max(k-idxBase, 0)
}

func binValue(idx int32) float64 {
	if idx < ExactBelow {
		return float64(idx)
	}
	k := float64(idx - ExactBelow + idxBase)
	return 2 * math.Pow(gamma, k) / (gamma + 1)
}

func (s *Sketch) add(idx int32, n int64) {
	i, found := slices.BinarySearchFunc(s.bins, idx, func(b bin, t int32) int { return int(b.idx - t) })
	if found {
		s.bins[i].n += n
		return
	}
	s.bins = slices.Insert(s.bins, i, bin{idx, n})
}

// Add counts v once.
func (s *Sketch) Add(v int64) { s.add(binIndex(v), 1) }

// Merge adds every value counted in o.
func (s *Sketch) Merge(o *Sketch) {
	if len(s.bins) == 0 {
		s.bins = append(s.bins, o.bins...)
		return
	}
	out := make([]bin, 0, len(s.bins)+len(o.bins))
	i, j := 0, 0
	for i < len(s.bins) && j < len(o.bins) {
		switch a, b := s.bins[i], o.bins[j]; {
		case a.idx < b.idx:
			out = append(out, a)
			i++
		case a.idx > b.idx:
			out = append(out, b)
			j++
		default:
			out = append(out, bin{a.idx, a.n + b.n})
			i++
			j++
		}
	}
	out = append(out, s.bins[i:]...)
	s.bins = append(out, o.bins[j:]...)
}

// quantile returns the value at nearest rank (1-based) rank.
func (s *Sketch) rankValue(rank int64) float64 {
	var seen int64
	for _, b := range s.bins {
		seen += b.n
		if seen >= rank {
			return binValue(b.idx)
		}
	}
	if len(s.bins) == 0 {
		return math.NaN()
	}
	return binValue(s.bins[len(s.bins)-1].idx)
}

// MarshalBinary encodes the sketch compactly: uvarint pairs of index
// delta and count.
func (s *Sketch) MarshalBinary() ([]byte, error) {
	return s.AppendBinary(make([]byte, 0, 4*len(s.bins)))
}

// AppendBinary appends what MarshalBinary returns to buf.
func (s *Sketch) AppendBinary(buf []byte) ([]byte, error) {
	var prev int32
	for _, b := range s.bins {
		buf = binary.AppendUvarint(buf, uint64(b.idx-prev))
		buf = binary.AppendUvarint(buf, uint64(b.n))
		prev = b.idx
	}
	return buf, nil
}

// UnmarshalBinary decodes what MarshalBinary encoded.
func (s *Sketch) UnmarshalBinary(p []byte) error {
	s.bins = s.bins[:0]
	var prev int64
	for len(p) > 0 {
		d, n1 := binary.Uvarint(p)
		if n1 <= 0 {
			return errors.New("metrics: corrupt sketch")
		}
		c, n2 := binary.Uvarint(p[n1:])
		if n2 <= 0 {
			return errors.New("metrics: corrupt sketch")
		}
		p = p[n1+n2:]
		prev += int64(d)
		if prev > math.MaxInt32 || c > math.MaxInt64 {
			return errors.New("metrics: corrupt sketch")
		}
		s.bins = append(s.bins, bin{int32(prev), int64(c)})
	}
	return nil
}

// Stats aggregates the samples of one series over one bucket or period.
// The zero value is empty and ready to use. Values are in the metric's
// stored unit; they are integers, so Sum is exact.
type Stats struct {
	Count    int64
	Sum      int64
	Min, Max int64
	Sketch   Sketch
}

// Add adds one sample.
func (s *Stats) Add(v int64) {
	if s.Count == 0 || v < s.Min {
		s.Min = v
	}
	if s.Count == 0 || v > s.Max {
		s.Max = v
	}
	s.Count++
	s.Sum += v
	s.Sketch.Add(v)
}

// Merge adds every sample of o.
func (s *Stats) Merge(o *Stats) {
	if o.Count == 0 {
		return
	}
	if s.Count == 0 || o.Min < s.Min {
		s.Min = o.Min
	}
	if s.Count == 0 || o.Max > s.Max {
		s.Max = o.Max
	}
	s.Count += o.Count
	s.Sum += o.Sum
	s.Sketch.Merge(&o.Sketch)
}

// Clone returns a deep copy.
func (s *Stats) Clone() *Stats {
	c := *s
	c.Sketch.bins = slices.Clone(s.Sketch.bins)
	return &c
}

// Percentile returns the nearest-rank p-th percentile (0 <= p <= 100) of
// the samples, in the stored unit, within the Sketch's accuracy; NaN when
// there are none.
func (s *Stats) Percentile(p float64) float64 {
	if s.Count == 0 {
		return math.NaN()
	}
	rank := int64(math.Ceil(p / 100 * float64(s.Count)))
	switch {
	case rank <= 1:
		return float64(s.Min)
	case rank >= s.Count:
		return float64(s.Max)
	}
	v := s.Sketch.rankValue(rank)
	return math.Min(math.Max(v, float64(s.Min)), float64(s.Max))
}

// The statistics CloudWatch computes.
const (
	StatSum         = "Sum"
	StatAverage     = "Average"
	StatMinimum     = "Minimum"
	StatMaximum     = "Maximum"
	StatSampleCount = "SampleCount"
)

// ParsePercentile parses an extended statistic "pNN" or "pNN.NN" (0 to
// 100) and returns its percentile.
func ParsePercentile(stat string) (float64, bool) {
	rest, ok := strings.CutPrefix(stat, "p")
	if !ok || rest == "" || len(rest) > 6 {
		return 0, false
	}
	p, err := strconv.ParseFloat(rest, 64)
	if err != nil || p < 0 || p > 100 || strings.ContainsAny(rest, "eE+-") {
		return 0, false
	}
	return p, true
}

// ValidStat reports whether stat is a statistic Value answers.
func ValidStat(stat string) bool {
	switch stat {
	case StatSum, StatAverage, StatMinimum, StatMaximum, StatSampleCount:
		return true
	}
	_, ok := ParsePercentile(stat)
	return ok
}

// Value returns statistic stat of s, reported in the metric's unit (scale
// converts the stored unit; SampleCount is not scaled). ok is false when
// s is empty or stat is unknown.
func (s *Stats) Value(stat string, scale float64) (float64, bool) {
	if s.Count == 0 {
		return 0, false
	}
	switch stat {
	case StatSum:
		return float64(s.Sum) * scale, true
	case StatAverage:
		return float64(s.Sum) / float64(s.Count) * scale, true
	case StatMinimum:
		return float64(s.Min) * scale, true
	case StatMaximum:
		return float64(s.Max) * scale, true
	case StatSampleCount:
		return float64(s.Count), true
	}
	if p, ok := ParsePercentile(stat); ok {
		return s.Percentile(p) * scale, true
	}
	return 0, false
}

// sortedKeys returns m's keys in ascending order.
func sortedKeys[V any](m map[int64]V) []int64 {
	ks := make([]int64, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Slice(ks, func(i, j int) bool { return ks[i] < ks[j] })
	return ks
}
