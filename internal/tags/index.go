package tags

import (
	"cmp"
	"hash/maphash"
	"slices"
	"sync"
)

// Filter is one tag filter: the resource must carry Key with one of Values,
// or with any value when Values is empty.
type Filter struct {
	Key    string
	Values []string
}

// Index is an inverted index from tag key and value to resources, answering
// filters without scanning every resource. Resource ids are opaque strings
// (Tollgate uses ARNs). Safe for concurrent use.
//
// It is built to hold hundreds of thousands of resources in little memory:
// each resource has a dense slot number, the resources carrying a tag are
// a sorted list of slots, and equal tag sets are stored once (Put returns
// the shared set for the caller to keep instead of its own), their keys
// and values shared with the index's.
type Index struct {
	mu    sync.RWMutex
	byKV  map[string]*keyPostings // tag key -> its values' postings
	slot  map[string]uint32       // id -> slot
	ids   []string                // slot -> id
	sets  []*sharedSet            // slot -> tags; nil when the slot is free
	free  []uint32                // free slots
	held  map[uint64]*sharedSet   // set hash -> the sets held with it
	seed  maphash.Seed
	order []uint32 // every live slot, sorted by id; nil when it must be rebuilt
}

// keyPostings is the postings of one tag key.
type keyPostings struct {
	key  string              // the index's copy of the key, shared by the sets it holds
	vals map[string]postings // value -> the resources carrying key=value
}

// postings is the resources carrying one key and value.
type postings struct {
	value string   // the index's copy of the value, shared by the sets it holds
	slots []uint32 // sorted
}

// sharedSet is a tag set held once for every resource carrying it.
type sharedSet struct {
	t    Set
	hash uint64
	refs int32
	next *sharedSet // another set with the same hash
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byKV: map[string]*keyPostings{}, slot: map[string]uint32{}, held: map[uint64]*sharedSet{}, seed: maphash.MakeSeed()}
}

// hash returns an order-independent hash of t.
func (ix *Index) hash(t Set) uint64 {
	var sum uint64
	var h maphash.Hash
	h.SetSeed(ix.seed)
	for k, v := range t {
		h.Reset()
		h.WriteString(k)
		h.WriteByte(0)
		h.WriteString(v)
		sum += h.Sum64()
	}
	return sum
}

// holdLocked returns the held set equal to t, holding a copy of t whose
// keys and values are the index's own strings when there is none, with
// one more reference.
func (ix *Index) holdLocked(t Set) *sharedSet {
	h := ix.hash(t)
	for s := ix.held[h]; s != nil; s = s.next {
		if s.t.Equal(t) {
			s.refs++
			return s
		}
	}
	c := make(Set, len(t))
	for k, v := range t {
		if kp := ix.byKV[k]; kp != nil {
			k = kp.key
			if p, ok := kp.vals[v]; ok {
				v = p.value
			}
		}
		c[k] = v
	}
	s := &sharedSet{t: c, hash: h, refs: 1, next: ix.held[h]}
	ix.held[h] = s
	return s
}

// releaseLocked drops one reference to s.
func (ix *Index) releaseLocked(s *sharedSet) {
	if s.refs--; s.refs > 0 {
		return
	}
	if ix.held[s.hash] == s {
		if s.next == nil {
			delete(ix.held, s.hash)
		} else {
			ix.held[s.hash] = s.next
		}
		return
	}
	for p := ix.held[s.hash]; p != nil; p = p.next {
		if p.next == s {
			p.next = s.next
			return
		}
	}
}

// postLocked adds slot to the postings of k=v.
func (ix *Index) postLocked(k, v string, slot uint32) {
	kp := ix.byKV[k]
	if kp == nil {
		kp = &keyPostings{key: k, vals: map[string]postings{}}
		ix.byKV[k] = kp
	}
	p, ok := kp.vals[v]
	if !ok {
		p.value = v
	}
	if n := len(p.slots); n == 0 || p.slots[n-1] < slot {
		p.slots = append(p.slots, slot)
	} else if i, found := slices.BinarySearch(p.slots, slot); !found {
		p.slots = slices.Insert(p.slots, i, slot)
	}
	kp.vals[v] = p
}

// unpostLocked removes slot from the postings of k=v.
func (ix *Index) unpostLocked(k, v string, slot uint32) {
	kp := ix.byKV[k]
	if kp == nil {
		return
	}
	p, ok := kp.vals[v]
	if !ok {
		return
	}
	if i, found := slices.BinarySearch(p.slots, slot); found {
		p.slots = slices.Delete(p.slots, i, i+1)
	}
	switch {
	case len(p.slots) > 0:
		kp.vals[v] = p
	case len(kp.vals) > 1:
		delete(kp.vals, v)
	default:
		delete(ix.byKV, k)
	}
}

// Put sets the tags of a resource (replacing any it had) and returns the
// set the index keeps for it: t's equal, shared with every resource
// carrying the same tags, and sharing the index's strings. The caller
// should keep the returned set instead of t, and must not modify either.
func (ix *Index) Put(id string, t Set) Set {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if slot, ok := ix.slot[id]; ok {
		cur := ix.sets[slot]
		if cur.t.Equal(t) {
			return cur.t
		}
		next := ix.holdLocked(t)
		for k, v := range cur.t {
			if nv, ok := next.t[k]; !ok || nv != v {
				ix.unpostLocked(k, v, slot)
			}
		}
		for k, v := range next.t {
			if ov, ok := cur.t[k]; !ok || ov != v {
				ix.postLocked(k, v, slot)
			}
		}
		ix.sets[slot] = next
		ix.releaseLocked(cur)
		return next.t
	}
	var slot uint32
	if n := len(ix.free); n > 0 {
		slot = ix.free[n-1]
		ix.free = ix.free[:n-1]
	} else {
		slot = uint32(len(ix.ids))
		ix.ids = append(ix.ids, "")
		ix.sets = append(ix.sets, nil)
	}
	s := ix.holdLocked(t)
	ix.slot[id] = slot
	ix.ids[slot] = id
	ix.sets[slot] = s
	for k, v := range s.t {
		ix.postLocked(k, v, slot)
	}
	ix.order = nil
	return s.t
}

// Remove drops a resource.
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	slot, ok := ix.slot[id]
	if !ok {
		return
	}
	s := ix.sets[slot]
	for k, v := range s.t {
		ix.unpostLocked(k, v, slot)
	}
	ix.releaseLocked(s)
	delete(ix.slot, id)
	ix.ids[slot] = ""
	ix.sets[slot] = nil
	ix.free = append(ix.free, slot)
	ix.order = nil
}

// Tags returns a resource's tags (shared; do not modify) and whether it is
// indexed.
func (ix *Index) Tags(id string) (Set, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	slot, ok := ix.slot[id]
	if !ok {
		return nil, false
	}
	return ix.sets[slot].t, true
}

// Len returns the number of resources.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.slot)
}

// IDs returns the ids of every resource, in no order.
func (ix *Index) IDs() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]string, 0, len(ix.slot))
	for id := range ix.slot {
		out = append(out, id)
	}
	return out
}

func (ix *Index) allLocked() []uint32 {
	if ix.order == nil {
		ix.order = make([]uint32, 0, len(ix.slot))
		for _, slot := range ix.slot {
			ix.order = append(ix.order, slot)
		}
		slices.SortFunc(ix.order, func(a, b uint32) int { return cmp.Compare(ix.ids[a], ix.ids[b]) })
	}
	return ix.order
}

// idsOf returns the ids of slots.
func (ix *Index) idsOf(slots []uint32) []string {
	out := make([]string, len(slots))
	for i, s := range slots {
		out[i] = ix.ids[s]
	}
	return out
}

// sizeLocked returns how many resources can match f on its own.
func (ix *Index) sizeLocked(f Filter) int {
	kp := ix.byKV[f.Key]
	if kp == nil {
		return 0
	}
	n := 0
	if len(f.Values) == 0 {
		for _, p := range kp.vals {
			n += len(p.slots)
		}
		return n
	}
	for _, v := range f.Values {
		n += len(kp.vals[v].slots)
	}
	return n
}

func matches(t Set, f Filter) bool {
	v, ok := t[f.Key]
	if !ok {
		return false
	}
	return len(f.Values) == 0 || slices.Contains(f.Values, v)
}

// Match returns the ids of the resources matching every filter (AND across
// filters, OR across one filter's values), sorted. With no filters it
// returns every resource. The work is proportional to the size of the most
// selective filter, not to the number of resources.
func (ix *Index) Match(filters []Filter) []string {
	// Read under the write lock only when the sorted order must be rebuilt.
	ix.mu.RLock()
	if len(filters) == 0 && ix.order == nil {
		ix.mu.RUnlock()
		ix.mu.Lock()
		out := ix.idsOf(ix.allLocked())
		ix.mu.Unlock()
		return out
	}
	defer ix.mu.RUnlock()
	if len(filters) == 0 {
		return ix.idsOf(ix.order)
	}
	best, bestN := 0, -1
	for i, f := range filters {
		if n := ix.sizeLocked(f); bestN < 0 || n < bestN {
			best, bestN = i, n
		}
	}
	if bestN == 0 {
		return nil
	}
	lead := filters[best]
	out := make([]string, 0, bestN)
	visit := func(slots []uint32) {
	next:
		for _, slot := range slots {
			t := ix.sets[slot].t
			for i, f := range filters {
				if i != best && !matches(t, f) {
					continue next
				}
			}
			out = append(out, ix.ids[slot])
		}
	}
	kp := ix.byKV[lead.Key]
	if len(lead.Values) == 0 {
		for _, p := range kp.vals {
			visit(p.slots)
		}
	} else {
		for i, v := range lead.Values {
			if slices.Contains(lead.Values[:i], v) {
				continue
			}
			visit(kp.vals[v].slots)
		}
	}
	slices.Sort(out)
	return out
}

// Keys returns every tag key in use, sorted.
func (ix *Index) Keys() []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	out := make([]string, 0, len(ix.byKV))
	for k := range ix.byKV {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Values returns every value of a tag key in use, sorted.
func (ix *Index) Values(key string) []string {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	kp := ix.byKV[key]
	if kp == nil {
		return []string{}
	}
	out := make([]string, 0, len(kp.vals))
	for v := range kp.vals {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
