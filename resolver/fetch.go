package resolver

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
	"github.com/aws/smithy-go"
)

// Backoff spaces retries of throttled calls: before retry n (from 1) it
// waits a uniformly random time between 0 and min(Max, Base·2^(n-1))
// ("full jitter"). After a fetch fails for good, the same schedule, with
// the number of consecutive failed fetches as n and at least half the
// cap, spaces the next fetch of that query.
type Backoff struct {
	Base        time.Duration // default 100ms
	Max         time.Duration // default 5s
	MaxAttempts int           // calls per page including the first; default 5
}

func (b Backoff) withDefaults() Backoff {
	if b.Base <= 0 {
		b.Base = 100 * time.Millisecond
	}
	if b.Max <= 0 {
		b.Max = 5 * time.Second
	}
	if b.Max < b.Base {
		b.Max = b.Base
	}
	if b.MaxAttempts <= 0 {
		b.MaxAttempts = 5
	}
	return b
}

// cap returns min(Max, Base·2^(n-1)) for n >= 1.
func (b Backoff) cap(n int) time.Duration {
	d := b.Base
	for i := 1; i < n && d < b.Max; i++ {
		d *= 2
	}
	return min(d, b.Max)
}

// retryDelay is the full-jitter wait before retry n.
func (b Backoff) retryDelay(n int) time.Duration {
	return time.Duration(rand.Int64N(int64(b.cap(n)) + 1))
}

// failureDelay is the wait after n consecutive failed fetches of a query:
// between half the cap and the cap.
func (b Backoff) failureDelay(n int) time.Duration {
	c := b.cap(n)
	return c/2 + time.Duration(rand.Int64N(int64(c/2)+1))
}

// throttleCodes are the error codes that mean "slow down". The Tagging
// API's is ThrottledException; other AWS services say ThrottlingException.
var throttleCodes = []string{
	"ThrottledException", "ThrottlingException", "Throttling",
	"TooManyRequestsException", "RequestLimitExceeded", "RequestThrottledException",
}

// IsThrottle reports whether err is a throttling error from the Tagging
// API (ThrottledException) or another AWS API (ThrottlingException and
// kin), as the AWS SDK reports them.
func IsThrottle(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && slices.Contains(throttleCodes, ae.ErrorCode())
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return context.Cause(ctx)
	}
}

// maxPages bounds one listing, against an upstream that never stops
// returning a pagination token.
const maxPages = 10_000

// getResources makes one GetResources call, retrying throttles.
func (r *Resolver) getResources(ctx context.Context, in *resourcegroupstaggingapi.GetResourcesInput) (*resourcegroupstaggingapi.GetResourcesOutput, error) {
	for attempt := 1; ; attempt++ {
		r.stats.upstreamCalls.Add(1)
		out, err := r.api.GetResources(ctx, in)
		if err == nil {
			return out, nil
		}
		r.stats.upstreamErrors.Add(1)
		if !IsThrottle(err) {
			return nil, err
		}
		r.stats.throttles.Add(1)
		if attempt >= r.backoff.MaxAttempts {
			return nil, fmt.Errorf("throttled %d times: %w", attempt, err)
		}
		if serr := r.sleep(ctx, r.backoff.retryDelay(attempt)); serr != nil {
			return nil, fmt.Errorf("%w (while backing off after: %w)", serr, err)
		}
	}
}

// list pages through GetResources with the resource-type filters and the
// given tag filters, returning the resources sorted by ARN, each once.
func (r *Resolver) list(ctx context.Context, filters []types.TagFilter, keep func([]Tag) bool) ([]Resource, error) {
	if r.api == nil {
		return nil, errors.New("resolver: no API configured")
	}
	var (
		out   []Resource
		seen  = map[string]bool{}
		token *string
	)
	for page := 0; ; page++ {
		if page == maxPages {
			return nil, fmt.Errorf("resolver: GetResources still paginating after %d pages", maxPages)
		}
		res, err := r.getResources(ctx, &resourcegroupstaggingapi.GetResourcesInput{
			ResourceTypeFilters: r.types,
			TagFilters:          filters,
			ResourcesPerPage:    aws.Int32(100),
			PaginationToken:     token,
		})
		if err != nil {
			return nil, fmt.Errorf("GetResources: %w", err)
		}
		for _, m := range res.ResourceTagMappingList {
			arn := aws.ToString(m.ResourceARN)
			if arn == "" || seen[arn] {
				continue
			}
			tags := make([]Tag, 0, len(m.Tags))
			for _, t := range m.Tags {
				tags = append(tags, Tag{Key: aws.ToString(t.Key), Value: aws.ToString(t.Value)})
			}
			if keep != nil && !keep(tags) {
				continue
			}
			seen[arn] = true
			out = append(out, Resource{ARN: arn, Tags: tags})
		}
		if aws.ToString(res.PaginationToken) == "" {
			break
		}
		token = res.PaginationToken
	}
	slices.SortFunc(out, func(a, b Resource) int { return strings.Compare(a.ARN, b.ARN) })
	return out, nil
}

// query asks the Tagging API for the profiles matching q. The answer is
// filtered again locally, so an upstream that ignores a filter cannot
// produce a wrong match.
func (r *Resolver) query(ctx context.Context, q Query) ([]Resource, error) {
	filters := make([]types.TagFilter, len(q.tags))
	for i, t := range q.tags {
		filters[i] = types.TagFilter{Key: aws.String(t.Key), Values: []string{t.Value}}
	}
	return r.list(ctx, filters, q.Matches)
}

// matching returns the resources (sorted by ARN) that q matches.
func matching(all []Resource, q Query) []Resource {
	var out []Resource
	for _, res := range all {
		if q.Matches(res.Tags) {
			out = append(out, res)
		}
	}
	return out
}

// ListProfiles pages through every resource of the configured resource
// types once (GetResources without tag filters, throttles retried),
// returning them sorted by ARN. Untagged resources are included, with no
// tags.
func (r *Resolver) ListProfiles(ctx context.Context) ([]Resource, error) {
	res, err := r.list(ctx, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("resolver: list profiles: %w", err)
	}
	return res, nil
}

// Warm lists every profile once (ListProfiles) and keeps the listing as a
// source of answers: for the next TTL less RefreshAhead, a query not yet
// cached is answered from it without an upstream call, and every query
// already cached is refreshed from it now. It returns the number of
// profiles listed. After that window, queries are fetched one by one
// again; call Warm again to renew the listing in bulk.
func (r *Resolver) Warm(ctx context.Context) (int, error) {
	start, startAt := r.mono(), r.now()
	res, err := r.ListProfiles(ctx)
	if err != nil {
		return 0, err
	}
	r.warm.Store(&listing{resources: res, fetched: start, fetchedAt: startAt})
	r.slots.Range(func(_, v any) bool {
		s := v.(*slot)
		e := r.newEntry(s.q, matching(res, s.q), start, startAt)
		s.mu.Lock()
		if cur := s.cur.Load(); cur == nil || cur.restored || cur.fetched <= start {
			s.cur.Store(e)
			s.failures, s.lastErr = 0, nil
			s.nextTry.Store(0)
		}
		s.mu.Unlock()
		return true
	})
	if r.onUpdate != nil {
		r.onUpdate()
	}
	return len(res), nil
}
