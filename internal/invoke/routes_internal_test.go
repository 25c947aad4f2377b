package invoke

import (
	"testing"

	"github.com/tollgate-dev/tollgate/internal/catalog"
)

// TestRouteTableCached: a lookup answers the first matching rule (or the
// fallback, or none) again from the cache, without allocating.
func TestRouteTableCached(t *testing.T) {
	a, b := Route{Name: "a"}, Route{Name: "b"}
	tbl := NewRouteTable([]RouteRule{{Models: []string{"anthropic.*"}, Regions: []string{"us-east-1"}, Route: a}}, &b)
	none := NewRouteTable(nil, nil)
	m := catalog.Model{ID: "anthropic.claude-3-haiku-20240307-v1:0"}
	for range 2 {
		if r, ok := tbl.Route(m, "us-east-1"); !ok || r.Name != "a" {
			t.Errorf("Route(us-east-1) = %q, %v; want a", r.Name, ok)
		}
		if r, ok := tbl.Route(m, "eu-west-1"); !ok || r.Name != "b" {
			t.Errorf("Route(eu-west-1) = %q, %v; want the fallback b", r.Name, ok)
		}
		if _, ok := none.Route(m, "us-east-1"); ok {
			t.Error("Route without rules or fallback found one")
		}
	}
	if n := testing.AllocsPerRun(100, func() { tbl.Route(m, "us-east-1") }); n != 0 {
		t.Errorf("a cached Route allocates %v times, want 0", n)
	}
}
