package tags

import (
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestValidate(t *testing.T) {
	for _, tc := range []struct {
		name string
		list []Tag
		want errkind.Kind // -1 = valid
	}{
		{"ok", []Tag{{"dept", "claims"}, {"empty", ""}, {"a:b/c=d+e@f-g.h_i", "x y"}}, -1},
		{"unicode letters", []Tag{{"abteilung", "schäden"}}, -1},
		{"empty key", []Tag{{"", "x"}}, errkind.Invalid},
		{"long key", []Tag{{strings.Repeat("k", 129), "x"}}, errkind.Invalid},
		{"long value", []Tag{{"k", strings.Repeat("v", 257)}}, errkind.Invalid},
		{"bad char", []Tag{{"k|", "x"}}, errkind.Invalid},
		{"aws prefix", []Tag{{"AWS:cost", "x"}}, errkind.Invalid},
		{"duplicate", []Tag{{"k", "a"}, {"k", "b"}}, errkind.Invalid},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := ValidateList(tc.list)
			if tc.want < 0 {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errkind.Is(err, tc.want) {
				t.Errorf("ValidateList = %v, want kind %v", err, tc.want)
			}
		})
	}
	many := make([]Tag, 51)
	for i := range many {
		many[i] = Tag{fmt.Sprint("k", i), "v"}
	}
	if err := ValidateList(many); !errkind.Is(err, errkind.TooManyTags) {
		t.Errorf("51 tags: %v", err)
	}
	if _, err := FromList(many[:50]).Merge(Set{"extra": "x"}); !errkind.Is(err, errkind.TooManyTags) {
		t.Errorf("merge past 50: %v", err)
	}
}

func TestCanonicalRoundTrip(t *testing.T) {
	for _, s := range []Set{{}, {"a": ""}, {"b": "2", "a": "1", "c": "x=y,z"}} {
		if got := ParseCanonical(s.Canonical()); !got.Equal(s) {
			t.Errorf("round trip of %v gave %v", s, got)
		}
	}
	if (Set{"a": "1", "b": "2"}).Canonical() != (Set{"b": "2", "a": "1"}).Canonical() {
		t.Error("canonical form depends on map order")
	}
}

func TestIndexMatch(t *testing.T) {
	ix := NewIndex()
	ix.Put("r1", Set{"tenant": "acme", "app": "chat", "env": "prod"})
	ix.Put("r2", Set{"tenant": "acme", "app": "claims", "env": "dev"})
	ix.Put("r3", Set{"tenant": "globex", "app": "chat", "env": ""})
	ix.Put("r4", Set{})
	ix.Put("r5", Set{"tenant": "acme"})
	ix.Put("r5", Set{"tenant": "initech"}) // retag replaces
	ix.Put("gone", Set{"tenant": "acme"})
	ix.Remove("gone")
	f := func(k string, v ...string) Filter { return Filter{Key: k, Values: v} }
	for _, tc := range []struct {
		name    string
		filters []Filter
		want    []string
	}{
		{"none", nil, []string{"r1", "r2", "r3", "r4", "r5"}},
		{"one value", []Filter{f("tenant", "acme")}, []string{"r1", "r2"}},
		{"or values", []Filter{f("tenant", "acme", "globex")}, []string{"r1", "r2", "r3"}},
		{"and keys", []Filter{f("tenant", "acme"), f("app", "chat")}, []string{"r1"}},
		{"key only", []Filter{f("env")}, []string{"r1", "r2", "r3"}},
		{"empty value", []Filter{f("env", "")}, []string{"r3"}},
		{"retagged", []Filter{f("tenant", "initech")}, []string{"r5"}},
		{"removed", []Filter{f("tenant", "acme"), f("app")}, []string{"r1", "r2"}},
		{"no match", []Filter{f("tenant", "umbrella")}, nil},
		{"duplicate values", []Filter{f("tenant", "acme", "acme")}, []string{"r1", "r2"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if diff := cmp.Diff(ix.Match(tc.filters), tc.want); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
	if diff := cmp.Diff(ix.Keys(), []string{"app", "env", "tenant"}); diff != "" {
		t.Errorf("Keys (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(ix.Values("tenant"), []string{"acme", "globex", "initech"}); diff != "" {
		t.Errorf("Values (-got +want):\n%s", diff)
	}
}

func BenchmarkIndexMatchTwoKeys(b *testing.B) {
	ix := NewIndex()
	for i := range 100_000 {
		ix.Put(fmt.Sprintf("arn-%06d", i), Set{"tenant": fmt.Sprintf("t%04d", i%1000), "app": fmt.Sprintf("app%d", i%10)})
	}
	filters := []Filter{{Key: "tenant", Values: []string{"t0042"}}, {Key: "app", Values: []string{"app2"}}}
	b.ReportAllocs()
	for b.Loop() {
		if len(ix.Match(filters)) != 100 {
			b.Fatal("wrong match count")
		}
	}
}
