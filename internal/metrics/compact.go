package metrics

import (
	"math/bits"
	"slices"
)

// The registry's in-memory representation. Each (account, model id) has
// one entry; each entry holds its periods in memory (usually the current
// minute, the minutes of the memory window and the current hour); each
// period holds every metric's statistics of that account, model id and
// period: one cstats per metric present, in metric index order, and
// their sketches one after the other in one []uint32. A bucket of the
// Store's model (a series' one period) is a metric of a period.

// Metric indices: the position of a metric in defs. Masks of metrics are
// uint16.
var (
	metricIndex = func() map[string]int {
		m := make(map[string]int, len(defs))
		for i, d := range defs {
			m[d.Name] = i
		}
		return m
	}()
	// metricsByName lists the metric indices in the byte order of their
	// names: the order of the store's primary key.
	metricsByName = func() []int {
		ix := make([]int, len(defs))
		for i := range ix {
			ix[i] = i
		}
		slices.SortFunc(ix, func(a, b int) int { return cmpStr(defs[a].Name, defs[b].Name) })
		return ix
	}()
)

func init() {
	if len(defs) > 16 {
		panic("metrics: more metrics than a period's uint16 masks hold")
	}
}

type entryKey struct{ account, modelID string }

// entry holds an account's and model id's periods in memory.
type entry struct {
	p []period
}

// period holds the statistics of one entry's metrics over one minute or
// hour. has, dirty and delta are masks by metric index: the metrics
// present, those with samples since the last flush, and those held as a
// delta to merge into the stored bucket (not the authority of their
// period).
type period struct {
	start             int64 // unix seconds
	hour              bool
	has, dirty, delta uint16
	st                []cstats // one per bit of has, in index order
	bins              []uint32 // st[0]'s sketch, then st[1]'s, ...
}

// cstats is Stats with its sketch in period.bins: n packed bins (see
// pack). n == 0 with count > 0 means every sample was min (== max): the
// sketch is one bin, implied.
type cstats struct {
	count, sum, min, max int64
	n                    int32
}

// Estimated sizes, in bytes, of the parts of the representation: an
// entry (its map slot, amortized over the map's load, and its struct;
// its strings are added), a period, a cstats and a packed bin.
const (
	entrySize  = 96
	periodSize = 64
	cstatsSize = 40
	packedSize = 4
)

// A packed bin is a sketch bin's index in its top 12 bits and a count of
// up to maxPacked in the other 20. A bin whose count passes maxPacked is
// held as several packed bins of its index, the one not full first, so a
// sketch's packed bins are sorted by value. Indices are below 4096:
// binIndex of the largest int64 is about 2,070.
const (
	countBits = 20
	maxPacked = 1<<countBits - 1
	maxIdx    = 1<<(32-countBits) - 1
)

func pack(idx int32, n uint32) uint32 { return uint32(min(max(idx, 0), maxIdx))<<countBits | n }

func (p *period) bytes() int64 {
	return int64(cap(p.st))*cstatsSize + int64(cap(p.bins))*packedSize
}

// pos returns the position in p.st of metric m (present or not).
func (p *period) pos(m int) int { return bits.OnesCount16(p.has & (1<<m - 1)) }

// offset returns where the sketch of the metric at position i of p.st
// begins in p.bins.
func (p *period) offset(i int) int {
	off := 0
	for _, s := range p.st[:i] {
		off += int(s.n)
	}
	return off
}

// stat returns metric m's statistics, adding them (empty) when absent;
// delta marks a new one as a delta.
func (p *period) stat(m int, delta bool) *cstats {
	i := p.pos(m)
	if p.has&(1<<m) == 0 {
		p.has |= 1 << m
		if delta {
			p.delta |= 1 << m
		}
		p.st = slices.Insert(p.st, i, cstats{})
	}
	return &p.st[i]
}

// remove lets metric m's statistics go.
func (p *period) remove(m int) {
	if p.has&(1<<m) == 0 {
		return
	}
	i := p.pos(m)
	off := p.offset(i)
	p.bins = slices.Delete(p.bins, off, off+int(p.st[i].n))
	p.st = slices.Delete(p.st, i, i+1)
	p.has &^= 1 << m
	p.dirty &^= 1 << m
	p.delta &^= 1 << m
}

// add counts the sample v of metric m (present).
func (p *period) add(m int, v int64) {
	i := p.pos(m)
	s := &p.st[i]
	switch {
	case s.count == 0:
		s.min, s.max = v, v
	case v == s.min && s.n == 0:
		// still one value: the sketch stays implied
	default:
		if s.n == 0 {
			p.materialize(i)
		}
		s.min, s.max = min(s.min, v), max(s.max, v)
		p.addBin(i, binIndex(v))
	}
	s.count++
	s.sum += v
}

// materialize turns the implied sketch of p.st[i] into packed bins.
func (p *period) materialize(i int) {
	s := &p.st[i]
	off := p.offset(i)
	var buf [4]uint32
	packed := appendPacked(buf[:0], binIndex(s.min), s.count)
	p.bins = slices.Insert(p.bins, off, packed...)
	s.n = int32(len(packed))
}

// appendPacked appends n samples of bin idx, packed, to out.
func appendPacked(out []uint32, idx int32, n int64) []uint32 {
	if rem := n % maxPacked; rem > 0 {
		out = append(out, pack(idx, uint32(rem)))
	}
	for range n / maxPacked {
		out = append(out, pack(idx, maxPacked))
	}
	return out
}

// addBin counts one sample of bin idx in the sketch of p.st[i].
func (p *period) addBin(i int, idx int32) {
	s := &p.st[i]
	off := p.offset(i)
	sk := p.bins[off : off+int(s.n)]
	key := pack(idx, 0)
	j, _ := slices.BinarySearch(sk, key)
	if j < len(sk) && sk[j]>>countBits == key>>countBits && sk[j]&maxPacked < maxPacked {
		sk[j]++
		return
	}
	p.bins = slices.Insert(p.bins, off+j, key|1)
	s.n++
}

// stats returns a copy of metric m's statistics (present) as Stats.
func (p *period) stats(m int) Stats {
	i := p.pos(m)
	s := &p.st[i]
	out := Stats{Count: s.count, Sum: s.sum, Min: s.min, Max: s.max}
	if s.count == 0 {
		return out
	}
	if s.n == 0 {
		out.Sketch.bins = []bin{{binIndex(s.min), s.count}}
		return out
	}
	off := p.offset(i)
	sk := p.bins[off : off+int(s.n)]
	out.Sketch.bins = make([]bin, 0, len(sk))
	for _, b := range sk {
		idx, n := int32(b>>countBits), int64(b&maxPacked)
		if k := len(out.Sketch.bins) - 1; k >= 0 && out.Sketch.bins[k].idx == idx {
			out.Sketch.bins[k].n += n
			continue
		}
		out.Sketch.bins = append(out.Sketch.bins, bin{idx, n})
	}
	return out
}

// merge adds o to metric m's statistics (present).
func (p *period) merge(m int, o *Stats) {
	if o.Count == 0 {
		return
	}
	all := p.stats(m)
	all.Merge(o)
	i := p.pos(m)
	s := &p.st[i]
	off := p.offset(i)
	var packed []uint32
	if all.Min != all.Max || len(all.Sketch.bins) != 1 || all.Sketch.bins[0].idx != binIndex(all.Min) {
		for _, b := range all.Sketch.bins {
			packed = appendPacked(packed, b.idx, b.n)
		}
	}
	p.bins = slices.Replace(p.bins, off, off+int(s.n), packed...)
	*s = cstats{count: all.Count, sum: all.Sum, min: all.Min, max: all.Max, n: int32(len(packed))}
}

// trim lets the spare capacity of p's slices go (a period whose samples
// have ended).
func (p *period) trim() {
	if cap(p.st) > len(p.st) {
		p.st = slices.Clip(slices.Clone(p.st))
	}
	if cap(p.bins) > len(p.bins)+len(p.bins)/8 {
		p.bins = slices.Clip(slices.Clone(p.bins))
	}
}
