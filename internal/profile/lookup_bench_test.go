package profile_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// lookupService returns a Service holding n application profiles of one
// account, tagged app=app-<i mod 1000> and team=team-<i mod 100>, and
// their ids.
func lookupService(b *testing.B, n int) (*profile.Service, []string) {
	st := &listStore{}
	ids := make([]string, n)
	for i := range n {
		ids[i] = fmt.Sprintf("p%011d", i)
		st.ps = append(st.ps, profile.Profile{ID: ids[i], ARN: "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/" + ids[i],
			Name: ids[i], Account: "123456789012", Region: "us-east-1", Type: profile.Application,
			Tags: tags.Set{"app": fmt.Sprintf("app-%04d", i%1000), "team": fmt.Sprintf("team-%03d", i%100)}})
	}
	svc, err := profile.NewService(b.Context(), profile.Config{Store: st, Catalog: catalog.Default(), Region: "us-east-1", Quota: n})
	if err != nil {
		b.Fatal(err)
	}
	return svc, ids
}

// BenchmarkLookup measures the runtime hot path's profile lookup among
// 100,000 profiles. It looks ids up through copies, as a request's are:
// the same string as the map's key would compare without reading it.
func BenchmarkLookup(b *testing.B) {
	svc, ids := lookupService(b, 100_000)
	for i := range ids {
		ids[i] = strings.Clone(ids[i])
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if _, ok := svc.Lookup("123456789012", ids[i%len(ids)]); !ok {
			b.Fatal("not found")
		}
		i += 7919
	}
}

// BenchmarkFindByTags measures a two-filter tag query (100 matches) among
// 100,000 profiles, as the resolver's misses make it.
func BenchmarkFindByTags(b *testing.B) {
	svc, _ := lookupService(b, 100_000)
	filters := []tags.Filter{{Key: "app", Values: []string{"app-0042"}}, {Key: "team", Values: []string{"team-042"}}}
	b.ReportAllocs()
	for b.Loop() {
		if n := len(svc.FindByTags("123456789012", filters)); n != 100 {
			b.Fatalf("%d matches, want 100", n)
		}
	}
}
