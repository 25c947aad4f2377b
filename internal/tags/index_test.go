package tags

import (
	"fmt"
	"reflect"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func same(a, b Set) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// TestIndexSharesSets: resources with equal tags share one set, which
// outlives neither its last holder nor a retag of one of them.
func TestIndexSharesSets(t *testing.T) {
	ix := NewIndex()
	a := ix.Put("a", Set{"app": "chat", "env": "prod"})
	b := ix.Put("b", Set{"env": "prod", "app": "chat"})
	if !same(a, b) {
		t.Error("equal sets put for a and b are not shared")
	}
	if got, _ := ix.Tags("b"); !same(got, a) {
		t.Error("Tags(b) is not the shared set")
	}
	c := ix.Put("c", Set{"app": "chat", "env": "dev"})
	if same(a, c) || !c.Equal(Set{"app": "chat", "env": "dev"}) {
		t.Errorf("Put(c) = %v, want its own set", c)
	}
	if got := ix.Put("a", Set{"env": "prod", "app": "chat"}); !same(got, a) {
		t.Error("putting an equal set again replaced the shared one")
	}

	// Retag a: b keeps the old set, a joins c's.
	if got := ix.Put("a", Set{"app": "chat", "env": "dev"}); !same(got, c) {
		t.Error("retagged a does not share c's set")
	}
	if got, _ := ix.Tags("b"); !got.Equal(Set{"app": "chat", "env": "prod"}) {
		t.Errorf("Tags(b) = %v after a's retag", got)
	}
	for _, tc := range []struct {
		filters []Filter
		want    []string
	}{
		{[]Filter{{Key: "env", Values: []string{"prod"}}}, []string{"b"}},
		{[]Filter{{Key: "env", Values: []string{"dev"}}}, []string{"a", "c"}},
		{[]Filter{{Key: "app"}}, []string{"a", "b", "c"}},
	} {
		if diff := cmp.Diff(ix.Match(tc.filters), tc.want); diff != "" {
			t.Errorf("Match(%v) (-got +want):\n%s", tc.filters, diff)
		}
	}
	if len(ix.held) != 2 {
		t.Errorf("%d sets held, want 2", len(ix.held))
	}
	ix.Remove("b")
	ix.Remove("a")
	ix.Remove("c")
	if len(ix.held) != 0 || len(ix.byKV) != 0 || ix.Len() != 0 {
		t.Errorf("after removing everything: %d sets held, %d keys, %d resources", len(ix.held), len(ix.byKV), ix.Len())
	}
}

// TestIndexChurn puts, retags and removes resources in an order that
// reuses slots, checking every answer against a scan.
func TestIndexChurn(t *testing.T) {
	ix := NewIndex()
	want := map[string]Set{}
	for i := range 3000 {
		id := fmt.Sprintf("r%03d", (i*37)%400)
		switch i % 5 {
		case 0, 1, 2:
			s := Set{"app": fmt.Sprintf("a%d", i%7), "team": fmt.Sprintf("t%d", i%3)}
			if i%11 == 0 {
				delete(s, "team")
			}
			ix.Put(id, s)
			want[id] = s
		case 3:
			ix.Remove(id)
			delete(want, id)
		case 4:
			if s, ok := want[id]; ok {
				n := s.Clone()
				n["app"] = "a0"
				ix.Put(id, n)
				want[id] = n
			}
		}
	}
	for _, filters := range [][]Filter{
		nil,
		{{Key: "app", Values: []string{"a0"}}},
		{{Key: "app", Values: []string{"a1", "a2"}}, {Key: "team", Values: []string{"t1"}}},
		{{Key: "team"}},
	} {
		var scan []string
		for id, s := range want {
			ok := true
			for _, f := range filters {
				ok = ok && matches(s, f)
			}
			if ok {
				scan = append(scan, id)
			}
		}
		slices.Sort(scan)
		got := ix.Match(filters)
		if len(got) == 0 && len(scan) == 0 {
			continue
		}
		if diff := cmp.Diff(got, scan); diff != "" {
			t.Errorf("Match(%v) (-got +want):\n%s", filters, diff)
		}
	}
	for id, s := range want {
		if got, ok := ix.Tags(id); !ok || !got.Equal(s) {
			t.Errorf("Tags(%s) = %v, %v; want %v", id, got, ok, s)
		}
	}
}
