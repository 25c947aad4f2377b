package invoke

import (
	"path"
	"slices"
	"sync"

	"github.com/tollgate-dev/tollgate/internal/catalog"
)

// RouteRule binds models (glob patterns on the model id; empty = all) in
// regions (empty = all) to a route.
type RouteRule struct {
	Models  []string
	Regions []string
	Route   Route
}

// RouteTable is a Router over ordered rules with a fallback route; the
// first matching rule wins. Lookups are cached. Safe for concurrent use.
type RouteTable struct {
	rules    []RouteRule
	fallback *Route

	mu    sync.RWMutex
	cache map[routeKey]*Route // nil: no route
}

// routeKey is a cached lookup: a struct, so that a lookup builds no key.
type routeKey struct{ model, region string }

// NewRouteTable returns a table; fallback (may be nil) serves what no rule
// matches.
func NewRouteTable(rules []RouteRule, fallback *Route) *RouteTable {
	return &RouteTable{rules: rules, fallback: fallback}
}

func (rr RouteRule) matches(model, region string) bool {
	if len(rr.Regions) > 0 && !slices.Contains(rr.Regions, region) {
		return false
	}
	if len(rr.Models) == 0 {
		return true
	}
	for _, p := range rr.Models {
		if ok, _ := path.Match(p, model); ok {
			return true
		}
	}
	return false
}

// Route implements Router.
func (t *RouteTable) Route(m catalog.Model, region string) (Route, bool) {
	key := routeKey{m.ID, region}
	t.mu.RLock()
	r, ok := t.cache[key]
	t.mu.RUnlock()
	if ok {
		return derefRoute(r)
	}
	var found *Route
	for i := range t.rules {
		if t.rules[i].matches(m.ID, region) {
			found = &t.rules[i].Route
			break
		}
	}
	if found == nil {
		found = t.fallback
	}
	t.mu.Lock()
	if t.cache == nil {
		t.cache = make(map[routeKey]*Route)
	}
	t.cache[key] = found
	t.mu.Unlock()
	return derefRoute(found)
}

func derefRoute(r *Route) (Route, bool) {
	if r == nil {
		return Route{}, false
	}
	return *r, true
}
