package tags

import (
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
type Index struct {
	mu    sync.RWMutex
	byKV  map[string]map[string]map[string]struct{} // key -> value -> ids
	byID  map[string]Set
	order []string // all ids, sorted; nil when it must be rebuilt
}

// NewIndex returns an empty index.
func NewIndex() *Index {
	return &Index{byKV: map[string]map[string]map[string]struct{}{}, byID: map[string]Set{}}
}

// Put sets the tags of a resource (replacing any it had).
func (ix *Index) Put(id string, t Set) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.byID[id]; ok {
		ix.removeLocked(id)
	} else {
		ix.order = nil
	}
	c := t.Clone()
	ix.byID[id] = c
	for k, v := range c {
		vals := ix.byKV[k]
		if vals == nil {
			vals = map[string]map[string]struct{}{}
			ix.byKV[k] = vals
		}
		ids := vals[v]
		if ids == nil {
			ids = map[string]struct{}{}
			vals[v] = ids
		}
		ids[id] = struct{}{}
	}
}

// Remove drops a resource.
func (ix *Index) Remove(id string) {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	if _, ok := ix.byID[id]; ok {
		ix.removeLocked(id)
		delete(ix.byID, id)
		ix.order = nil
	}
}

func (ix *Index) removeLocked(id string) {
	for k, v := range ix.byID[id] {
		ids := ix.byKV[k][v]
		delete(ids, id)
		if len(ids) == 0 {
			delete(ix.byKV[k], v)
			if len(ix.byKV[k]) == 0 {
				delete(ix.byKV, k)
			}
		}
	}
}

// Tags returns a resource's tags (shared; do not modify) and whether it is
// indexed.
func (ix *Index) Tags(id string) (Set, bool) {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	t, ok := ix.byID[id]
	return t, ok
}

// Len returns the number of resources.
func (ix *Index) Len() int {
	ix.mu.RLock()
	defer ix.mu.RUnlock()
	return len(ix.byID)
}

func (ix *Index) allLocked() []string {
	if ix.order == nil {
		ix.order = make([]string, 0, len(ix.byID))
		for id := range ix.byID {
			ix.order = append(ix.order, id)
		}
		slices.Sort(ix.order)
	}
	return ix.order
}

// sizeLocked returns how many resources can match f on its own.
func (ix *Index) sizeLocked(f Filter) int {
	vals := ix.byKV[f.Key]
	if len(f.Values) == 0 {
		n := 0
		for _, ids := range vals {
			n += len(ids)
		}
		return n
	}
	n := 0
	for _, v := range f.Values {
		n += len(vals[v])
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
		out := slices.Clone(ix.allLocked())
		ix.mu.Unlock()
		return out
	}
	defer ix.mu.RUnlock()
	if len(filters) == 0 {
		return slices.Clone(ix.order)
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
	visit := func(ids map[string]struct{}) {
	next:
		for id := range ids {
			t := ix.byID[id]
			for i, f := range filters {
				if i != best && !matches(t, f) {
					continue next
				}
			}
			out = append(out, id)
		}
	}
	vals := ix.byKV[lead.Key]
	if len(lead.Values) == 0 {
		for _, ids := range vals {
			visit(ids)
		}
	} else {
		seen := map[string]bool{}
		for _, v := range lead.Values {
			if seen[v] {
				continue
			}
			seen[v] = true
			visit(vals[v])
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
	out := make([]string, 0, len(ix.byKV[key]))
	for v := range ix.byKV[key] {
		out = append(out, v)
	}
	slices.Sort(out)
	return out
}
