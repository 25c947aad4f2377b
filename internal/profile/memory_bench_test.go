package profile_test

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/testsupport"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// listStore is a profile.Store that only lists, so the benchmark measures
// the Service's memory, not a database's.
type listStore struct{ ps []profile.Profile }

func (m *listStore) CreateProfile(context.Context, profile.Profile) error { return nil }
func (m *listStore) DeleteProfile(context.Context, string, string) error  { return nil }
func (m *listStore) SetProfileTags(context.Context, string, string, tags.Set, time.Time) error {
	return nil
}
func (m *listStore) ListAllProfiles(context.Context) ([]profile.Profile, error) { return m.ps, nil }

// BenchmarkServiceMemory100k loads 100,000 application profiles with four
// tags each (as 'tollgate bench --scale' creates them, every string its
// own allocation as a store scan makes it) and reports the heap the
// Service holds per profile after a GC: the part of a server's memory
// that grows with the number of profiles. In "shared" the tags repeat as
// in the scale run (app=app-<i mod 1000>, and team and dept that follow
// from it: 1,000 distinct sets); in "unique" every profile has its own
// app tag, so no two tag sets are equal.
func BenchmarkServiceMemory100k(b *testing.B) {
	for _, tc := range []struct {
		name string
		app  func(i int) string
	}{
		{"shared", func(i int) string { return fmt.Sprintf("app-%04d", i%1000) }},
		{"unique", func(i int) string { return fmt.Sprintf("app-%06d", i) }},
	} {
		b.Run(tc.name, func(b *testing.B) { benchmarkServiceMemory(b, tc.app) })
	}
}

func benchmarkServiceMemory(b *testing.B, app func(int) string) {
	const n = 100_000
	for b.Loop() {
		base := testsupport.HeapInuse()
		st := &listStore{}
		for i := range n {
			id := fmt.Sprintf("scale%07d", i)
			st.ps = append(st.ps, profile.Profile{
				ID: id, ARN: fmt.Sprintf("arn:aws:bedrock:us-east-1:%s:application-inference-profile/%s", "123456789012", id),
				Name: fmt.Sprintf("scale-%06d", i), Account: strings.Clone("123456789012"), Region: strings.Clone("us-east-1"),
				Type: profile.Application, ModelID: strings.Clone("anthropic.claude-3-haiku-20240307-v1:0"),
				ModelARNs: []string{strings.Clone("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0")},
				Source:    strings.Clone("arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"),
				CreatedAt: time.Unix(int64(i), 0), UpdatedAt: time.Unix(int64(i), 0),
				Tags: tags.Set{strings.Clone("app"): app(i), strings.Clone("team"): fmt.Sprintf("team-%03d", i%100),
					strings.Clone("dept"): fmt.Sprintf("dept-%02d", i%10), strings.Clone("environment"): strings.Clone("bench")},
			})
		}
		svc, err := profile.NewService(b.Context(), profile.Config{Store: st, Catalog: catalog.Default(), Region: "us-east-1", Quota: n})
		if err != nil {
			b.Fatal(err)
		}
		st.ps = nil
		held := testsupport.HeapInuse() - base
		b.ReportMetric(float64(held)/n, "heap-B/profile")
		b.ReportMetric(float64(held)/(1<<20), "heap-MiB")
		runtime.KeepAlive(svc)
	}
}
