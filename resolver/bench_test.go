package resolver_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

	"github.com/tollgate-dev/tollgate/resolver"
)

// cannedAPI answers every GetResources with one prebuilt page: the
// cheapest possible upstream, so a benchmark measures the Resolver.
type cannedAPI struct {
	out *resourcegroupstaggingapi.GetResourcesOutput
}

func newCanned() cannedAPI {
	return cannedAPI{out: &resourcegroupstaggingapi.GetResourcesOutput{ResourceTagMappingList: []types.ResourceTagMapping{{
		ResourceARN: aws.String(profileARN("claims000001")),
		Tags: []types.Tag{
			{Key: aws.String("tenant"), Value: aws.String("acme")},
			{Key: aws.String("app"), Value: aws.String("claims_chatbot")},
		},
	}}}}
}

func (c cannedAPI) GetResources(context.Context, *resourcegroupstaggingapi.GetResourcesInput, ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error) {
	return c.out, nil
}

func cachedResolver(tb testing.TB) *resolver.Resolver {
	r, err := resolver.New(resolver.Options{API: newCanned(), TTL: time.Hour})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { r.Close() })
	if _, err := r.Resolve(context.Background(), acmeClaims); err != nil {
		tb.Fatal(err)
	}
	return r
}

func TestResolveCachedDoesNotAllocate(t *testing.T) {
	r := cachedResolver(t)
	ctx := context.Background()
	allocs := testing.AllocsPerRun(1000, func() {
		if _, err := r.Resolve(ctx, acmeClaims); err != nil {
			t.Fatal(err)
		}
	})
	if allocs != 0 {
		t.Errorf("a cached Resolve allocates %v times, want 0", allocs)
	}
}

func BenchmarkResolveCached(b *testing.B) {
	r := cachedResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		if _, err := r.Resolve(ctx, acmeClaims); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkResolveCachedParallel(b *testing.B) {
	r := cachedResolver(b)
	ctx := context.Background()
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := r.Resolve(ctx, acmeClaims); err != nil {
				b.Error(err)
				return
			}
		}
	})
}

// BenchmarkResolveMiss measures a lookup that must fetch: the clock moves
// past the TTL before every lookup, so each one waits for an upstream
// call (to an in-process upstream that answers at once).
func BenchmarkResolveMiss(b *testing.B) {
	var tick atomic.Int64
	base := time.Now()
	r, err := resolver.New(resolver.Options{
		API: newCanned(),
		TTL: time.Minute,
		Now: func() time.Time { return base.Add(time.Duration(tick.Load())) },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		tick.Add(int64(time.Minute + time.Second))
		res, err := r.ResolveDetail(ctx, acmeClaims)
		if err != nil || res.Source != resolver.SourceUpstream {
			b.Fatalf("Resolve = %+v, %v; want an upstream answer", res, err)
		}
	}
}

func BenchmarkNewQuery(b *testing.B) {
	tags := map[string]string{"tenant": "acme", "app": "claims_chatbot"}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := resolver.NewQuery(tags); err != nil {
			b.Fatal(err)
		}
	}
}
