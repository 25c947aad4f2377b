// Package taggingapi serves the Resource Groups Tagging API over Tollgate's
// application inference profiles — GetResources, GetTagKeys, GetTagValues,
// TagResources and UntagResources — in both protocols its SDKs speak:
// awsJson1_1 (POST / with X-Amz-Target) and Smithy RPC v2 CBOR (the newest
// Go SDK's default). Tag filters are answered from the profile service's
// inverted index, never by scanning, and a per-account request rate answers
// ThrottledException as AWS does, so clients can exercise their backoff.
//
// Every operation authorizes "tag:<Operation>" on "*". The read operations
// answer from the caller's account only. TagResources and UntagResources
// change each resource only when the caller also holds bedrock:TagResource
// or bedrock:UntagResource on its ARN, with its aws:ResourceTag/*,
// aws:RequestTag/* and aws:TagKeys condition keys, exactly as Bedrock's
// own TagResource and UntagResource do; a resource denied is reported in
// FailedResourcesMap (StatusCode 403), as AWS does.
package taggingapi

import (
	"context"
	"math"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/ratelimit"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// ServiceName is the Smithy service shape name: the X-Amz-Target prefix and
// the RPC v2 path segment.
const ServiceName = "ResourceGroupsTaggingAPI_20170126"

// ResourceType is the Tagging API resource type of application profiles.
const ResourceType = "bedrock:application-inference-profile"

// Codes maps error kinds to the Tagging API's exceptions.
var Codes = awsproto.Codes{
	errkind.Internal:      {Name: "InternalServiceException", Status: 500},
	errkind.Unavailable:   {Name: "InternalServiceException", Status: 500},
	errkind.Invalid:       {Name: "InvalidParameterException", Status: 400},
	errkind.NotFound:      {Name: "InvalidParameterException", Status: 400},
	errkind.Throttled:     {Name: "ThrottledException", Status: 400},
	errkind.Denied:        {Name: "AccessDeniedException", Status: 400},
	errkind.Conflict:      {Name: "ConcurrentModificationException", Status: 400},
	errkind.QuotaExceeded: {Name: "ConstraintViolationException", Status: 400},
	errkind.TooManyTags:   {Name: "ConstraintViolationException", Status: 400},
}

// Handler serves the Tagging API. Safe for concurrent use.
type Handler struct {
	profiles *profile.Service
	limiter  interface {
		allow(ctx context.Context, account string) bool
	}
}

// SharedRate counts requests across the replicas that share a store (the
// PostgreSQL store's budget THROTTLE windows serve). Safe for concurrent
// use.
type SharedRate interface {
	// ClaimRate takes up to want of the limit slots of the window
	// starting at window, for account and key; it returns how many it
	// took.
	ClaimRate(ctx context.Context, account, key string, window time.Time, limit, want int64) (int64, error)
}

// Options configures a Handler.
type Options struct {
	// Rate is the requests per second each account may make (bursting to
	// Rate); 0 means unlimited.
	Rate float64
	// Shared, when several replicas share a store, makes Rate the
	// fleet's: requests are counted per account in fixed windows (a
	// second, or 1/Rate seconds below one request a second) in the store,
	// each replica taking slots in batches of an eighth of the window.
	// nil counts each replica's requests alone (a token bucket).
	Shared SharedRate
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// New returns a Handler.
func New(profiles *profile.Service, opts Options) *Handler {
	h := &Handler{profiles: profiles}
	if opts.Rate > 0 {
		now := opts.Now
		if now == nil {
			now = time.Now
		}
		h.limiter = &limiter{buckets: ratelimit.NewBuckets(opts.Rate), now: now}
		if opts.Shared != nil {
			h.limiter = newSharedLimiter(opts.Shared, opts.Rate, now)
		}
	}
	return h
}

// Service returns the Tagging API for the server, in both protocols.
func (h *Handler) Service() awsproto.Service {
	return awsproto.Service{
		Name: ServiceName, SigningName: "tagging", Label: "tagging",
		Protocols: []awsproto.Protocol{awsproto.AWSJSON11, awsproto.RPCv2CBOR},
		Codes:     Codes, Before: h.before, Ops: operations.Bind(h),
	}
}

// operations are the Tagging API's operations.
var operations = awsproto.Table[*Handler]{
	awsproto.Op("GetResources", (*Handler).getResources),
	awsproto.Op("GetTagKeys", (*Handler).getTagKeys),
	awsproto.Op("GetTagValues", (*Handler).getTagValues),
	awsproto.Op("TagResources", (*Handler).tagResources),
	awsproto.Op("UntagResources", (*Handler).untagResources),
}

// Operations are the operations the Tagging API serves, in both protocols.
// Each is authorized as "tag:<Operation>" on "*", as on AWS; TagResources
// and UntagResources also authorize bedrock:TagResource and
// bedrock:UntagResource on each resource ARN (see tagResources).
var Operations = operations.Names()

// before authorizes "tag:<op>" on "*" and then takes the caller's share
// of the request rate.
func (h *Handler) before(ctx context.Context, op string) error {
	if err := awsproto.Authorize(ctx, "tag:"+op, "*", nil); err != nil {
		return err
	}
	if h.limiter != nil && !h.limiter.allow(ctx, awsproto.Account(ctx)) {
		return errkind.New(errkind.Throttled, "Rate exceeded")
	}
	return nil
}

const maxPage = 100

// tokens are the Tagging API's PaginationTokens.
var tokens = awsproto.Tokens{Member: "PaginationToken"}

func (h *Handler) getTagKeys(ctx context.Context, in getTagKeysInput) (getTagKeysOutput, error) {
	p, tok, err := page(ctx, h.profiles.TagKeys(awsproto.Account(ctx)), in.PaginationToken, nil)
	return getTagKeysOutput{TagKeys: p, PaginationToken: tok}, err
}

func (h *Handler) getTagValues(ctx context.Context, in getTagValuesInput) (getTagValuesOutput, error) {
	if in.Key == nil || *in.Key == "" || len(*in.Key) > 128 {
		return getTagValuesOutput{}, errkind.New(errkind.Invalid, "Key is required and must be 1-128 characters.")
	}
	p, tok, err := page(ctx, h.profiles.TagValues(awsproto.Account(ctx), *in.Key), in.PaginationToken, *in.Key)
	return getTagValuesOutput{TagValues: p, PaginationToken: tok}, err
}

// page returns the page of a sorted list after the token's last item and
// the token of the next page ("" on the last); bind is what the request
// asked for.
func page(ctx context.Context, all []string, token *string, bind any) ([]string, string, error) {
	start, err := after(ctx, all, token, bind)
	if err != nil {
		return nil, "", err
	}
	end := min(start+maxPage, len(all))
	items := all[start:end]
	if items == nil {
		items = []string{}
	}
	tok := ""
	if end < len(all) {
		tok = tokens.Next(ctx, bind, all[end-1])
	}
	return items, tok, nil
}

// after returns the index in the sorted list all of the first item after
// the token's.
func after(ctx context.Context, all []string, token *string, bind any) (int, error) {
	last, err := tokens.Read(ctx, token, bind)
	if err != nil || last == "" {
		return 0, err
	}
	start, found := slices.BinarySearch(all, last)
	if found {
		start++
	}
	return start, nil
}

// typeMatches reports whether a ResourceTypeFilters entry selects
// application inference profiles.
func typeMatches(f string) (bool, error) {
	if f == "" || len(f) > 256 || strings.ContainsAny(f, " \t\n") {
		return false, errkind.New(errkind.Invalid, "ResourceTypeFilters entry %q is not of the form service[:resourceType].", f)
	}
	svc, typ, _ := strings.Cut(f, ":")
	return svc == "bedrock" && (typ == "" || typ == "application-inference-profile"), nil
}

func (h *Handler) getResources(ctx context.Context, in getResourcesInput) (getResourcesOutput, error) {
	var out getResourcesOutput
	account := awsproto.Account(ctx)
	if len(in.TagFilters) > 50 {
		return out, errkind.New(errkind.Invalid, "TagFilters may hold at most 50 filters.")
	}
	if len(in.ResourceTypeFilters) > 100 {
		return out, errkind.New(errkind.Invalid, "ResourceTypeFilters may hold at most 100 entries.")
	}
	if in.ResourcesPerPage != nil && (*in.ResourcesPerPage < 1 || *in.ResourcesPerPage > 100) {
		return out, errkind.New(errkind.Invalid, "ResourcesPerPage must be between 1 and 100.")
	}
	if in.TagsPerPage != nil && (*in.TagsPerPage < 100 || *in.TagsPerPage > 500) {
		return out, errkind.New(errkind.Invalid, "TagsPerPage must be between 100 and 500.")
	}
	if len(in.ResourceARNList) > 0 {
		if in.ResourcesPerPage != nil || in.TagsPerPage != nil || (in.PaginationToken != nil && *in.PaginationToken != "") {
			return out, errkind.New(errkind.Invalid, "ResourceARNList cannot be combined with ResourcesPerPage, TagsPerPage or PaginationToken.")
		}
		if len(in.ResourceARNList) > 100 {
			return out, errkind.New(errkind.Invalid, "ResourceARNList may hold at most 100 ARNs.")
		}
	}
	if in.ExcludeCompliantResources != nil && *in.ExcludeCompliantResources && (in.IncludeComplianceDetails == nil || !*in.IncludeComplianceDetails) {
		return out, errkind.New(errkind.Invalid, "ExcludeCompliantResources requires IncludeComplianceDetails.")
	}
	filters := make([]tags.Filter, 0, len(in.TagFilters))
	for _, f := range in.TagFilters {
		if f.Key == nil || *f.Key == "" || len(*f.Key) > 128 {
			return out, errkind.New(errkind.Invalid, "Each tag filter needs a Key of 1-128 characters.")
		}
		if len(f.Values) > 20 {
			return out, errkind.New(errkind.Invalid, "A tag filter may list at most 20 values.")
		}
		filters = append(filters, tags.Filter{Key: *f.Key, Values: f.Values})
	}
	typeOK := len(in.ResourceTypeFilters) == 0
	for _, t := range in.ResourceTypeFilters {
		ok, err := typeMatches(t)
		if err != nil {
			return out, err
		}
		typeOK = typeOK || ok
	}
	out.ResourceTagMappingList = []resourceTagMapping{}
	if !typeOK {
		return out, nil
	}

	var arns []string
	if len(in.ResourceARNList) > 0 {
		for _, a := range in.ResourceARNList {
			if _, err := arn.Parse(a); err != nil {
				return out, errkind.New(errkind.Invalid, "%q is not a valid ARN.", a)
			}
		}
		matched := h.profiles.FindByTags(account, filters)
		for _, a := range in.ResourceARNList {
			if _, ok := slices.BinarySearch(matched, a); ok && !slices.Contains(arns, a) {
				arns = append(arns, a)
			}
		}
	} else {
		all := h.profiles.FindByTags(account, filters)
		// A token continues the same filters.
		bind := struct {
			TagFilters          []tagFilter
			ResourceTypeFilters []string
		}{in.TagFilters, in.ResourceTypeFilters}
		start, err := after(ctx, all, in.PaginationToken, bind)
		if err != nil {
			return getResourcesOutput{}, err
		}
		size := maxPage
		if in.ResourcesPerPage != nil {
			size = int(*in.ResourcesPerPage)
		}
		end := min(start+size, len(all))
		arns = all[start:end]
		if end < len(all) {
			out.PaginationToken = tokens.Next(ctx, bind, all[end-1])
		}
	}
	for _, a := range arns {
		t, _ := h.profiles.TagsOf(account, a)
		m := resourceTagMapping{ResourceARN: a, Tags: make([]tagShape, 0, len(t))}
		for _, tg := range t.List() {
			m.Tags = append(m.Tags, tagShape{Key: tg.Key, Value: tg.Value})
		}
		out.ResourceTagMappingList = append(out.ResourceTagMappingList, m)
	}
	return out, nil
}

func (h *Handler) tagResources(ctx context.Context, in tagResourcesInput) (failedOutput, error) {
	account := awsproto.Account(ctx)
	if len(in.ResourceARNList) == 0 || len(in.ResourceARNList) > 20 {
		return failedOutput{}, errkind.New(errkind.Invalid, "ResourceARNList must hold 1-20 ARNs.")
	}
	if len(in.Tags) == 0 || len(in.Tags) > 50 {
		return failedOutput{}, errkind.New(errkind.Invalid, "Tags must hold 1-50 tags.")
	}
	list := make([]tags.Tag, 0, len(in.Tags))
	for k, v := range in.Tags {
		list = append(list, tags.Tag{Key: k, Value: v})
	}
	out := failedOutput{FailedResourcesMap: map[string]failureInfo{}}
	for _, a := range in.ResourceARNList {
		// As on AWS, tagging through this API needs the service's own
		// permission on each resource, with the keys Bedrock's
		// TagResource checks; a denial fails that resource only.
		current, _ := h.profiles.TagsOf(account, a)
		err := awsproto.Authorize(ctx, "bedrock:TagResource", a, authz.TagResourceKeys(current, list))
		if err == nil {
			err = h.profiles.Tag(ctx, account, a, list)
		}
		if err != nil {
			out.FailedResourcesMap[a] = failure(err)
		}
	}
	return out, nil
}

func (h *Handler) untagResources(ctx context.Context, in untagResourcesInput) (failedOutput, error) {
	account := awsproto.Account(ctx)
	if len(in.ResourceARNList) == 0 || len(in.ResourceARNList) > 20 {
		return failedOutput{}, errkind.New(errkind.Invalid, "ResourceARNList must hold 1-20 ARNs.")
	}
	if len(in.TagKeys) == 0 || len(in.TagKeys) > 50 {
		return failedOutput{}, errkind.New(errkind.Invalid, "TagKeys must hold 1-50 keys.")
	}
	out := failedOutput{FailedResourcesMap: map[string]failureInfo{}}
	for _, a := range in.ResourceARNList {
		current, _ := h.profiles.TagsOf(account, a)
		err := awsproto.Authorize(ctx, "bedrock:UntagResource", a, authz.UntagResourceKeys(current, in.TagKeys))
		if err == nil {
			err = h.profiles.Untag(ctx, account, a, in.TagKeys)
		}
		if err != nil {
			out.FailedResourcesMap[a] = failure(err)
		}
	}
	return out, nil
}

// failure is the FailedResourcesMap entry of a resource the batch could
// not change. AWS's ErrorCode is InternalServiceException or
// InvalidParameterException; an access denial carries StatusCode 403.
func failure(err error) failureInfo {
	e := errkind.As(err)
	switch e.Kind {
	case errkind.Internal, errkind.Unavailable:
		return failureInfo{StatusCode: 500, ErrorCode: "InternalServiceException", ErrorMessage: e.Message}
	case errkind.Denied:
		return failureInfo{StatusCode: 403, ErrorCode: "InvalidParameterException", ErrorMessage: e.Message}
	}
	return failureInfo{StatusCode: 400, ErrorCode: "InvalidParameterException", ErrorMessage: e.Message}
}

// limiter is a token bucket per account, forgetting idle accounts.
type limiter struct {
	buckets *ratelimit.Buckets
	now     func() time.Time
}

func (l *limiter) allow(_ context.Context, account string) bool {
	return l.buckets.Allow(account, l.now())
}

// sharedKey names the Tagging API's windows in the store; a budget name
// cannot contain ':', so it meets no budget's THROTTLE window.
const sharedKey = "tagging:api"

// sharedLimiter is the fleet's limiter: fixed windows counted in the
// store, claimed in batches (ratelimit.Window.Claim), one window per
// account; accounts idle for a minute are forgotten.
type sharedLimiter struct {
	shared SharedRate
	window time.Duration // 1s, or longer below one request a second
	limit  int64         // requests per window
	now    func() time.Time

	mu      sync.Mutex
	windows map[string]*accountWindow
	swept   time.Time
}

type accountWindow struct {
	ratelimit.Window
	used atomic.Int64 // unix nanoseconds of the last call
}

func newSharedLimiter(shared SharedRate, rate float64, now func() time.Time) *sharedLimiter {
	l := &sharedLimiter{shared: shared, window: time.Second, now: now, windows: map[string]*accountWindow{}}
	if rate < 1 {
		l.window = time.Duration(math.Round(float64(time.Second) / rate))
		rate = 1
	}
	l.limit = int64(rate)
	return l
}

func (l *sharedLimiter) allow(ctx context.Context, account string) bool {
	now := l.now()
	l.mu.Lock()
	w := l.windows[account]
	if w == nil {
		w = &accountWindow{Window: ratelimit.Window{Length: l.window}}
		l.windows[account] = w
	}
	if idle := max(time.Minute, 2*l.window); now.Sub(l.swept) > idle {
		for a, aw := range l.windows {
			if now.UnixNano()-aw.used.Load() > int64(idle) && a != account {
				delete(l.windows, a)
			}
		}
		l.swept = now
	}
	l.mu.Unlock()
	w.used.Store(now.UnixNano())
	ok, err := w.Claim(ctx, now, l.limit, func(ctx context.Context, start time.Time, limit, want int64) (int64, error) {
		return l.shared.ClaimRate(ctx, account, sharedKey, start, limit, want)
	})
	if err != nil {
		// The throttle protects the service, not money: without the
		// store to count in, serve.
		return true
	}
	return ok
}
