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
	"encoding/base64"
	"math"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/authz"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
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
		h.limiter = &limiter{rate: opts.Rate, now: now, buckets: map[string]*bucket{}}
		if opts.Shared != nil {
			h.limiter = newSharedLimiter(opts.Shared, opts.Rate, now)
		}
	}
	return h
}

// ServeJSON serves one awsJson1_1 operation.
func (h *Handler) ServeJSON(w http.ResponseWriter, r *http.Request, op string) {
	h.serve(w, r, op, jsonCodec{})
}

// ServeCBOR serves one RPC v2 CBOR operation.
func (h *Handler) ServeCBOR(w http.ResponseWriter, r *http.Request, op string) {
	h.serve(w, r, op, cborCodec{})
}

// WriteJSONError and WriteCBORError answer errors raised before an
// operation runs (authentication), in each protocol's shape.
func WriteJSONError(w http.ResponseWriter, r *http.Request, err error) {
	jsonCodec{}.writeError(w, r, err)
}

// WriteCBORError is WriteJSONError for RPC v2 CBOR.
func WriteCBORError(w http.ResponseWriter, r *http.Request, err error) {
	cborCodec{}.writeError(w, r, err)
}

// Operations are the operations the Tagging API serves, in both protocols.
// Each is authorized as "tag:<Operation>" on "*", as on AWS; TagResources
// and UntagResources also authorize bedrock:TagResource and
// bedrock:UntagResource on each resource ARN (see tagResources).
var Operations = []string{"GetResources", "GetTagKeys", "GetTagValues", "TagResources", "UntagResources"}

func (h *Handler) serve(w http.ResponseWriter, r *http.Request, op string, c codec) {
	info := awsproto.Info(r.Context())
	info.Service, info.Op = "tagging", op
	account := awsproto.Account(r.Context())
	if !slices.Contains(Operations, op) {
		c.writeError(w, r, errkind.New(errkind.Invalid, "The operation %s is not supported.", op).WithCode("UnknownOperationException"))
		return
	}
	if err := awsproto.Authorize(r.Context(), "tag:"+op, "*", nil); err != nil {
		c.writeError(w, r, err)
		return
	}
	if h.limiter != nil && !h.limiter.allow(r.Context(), account) {
		c.writeError(w, r, errkind.New(errkind.Throttled, "Rate exceeded"))
		return
	}
	var out any
	var err error
	switch op {
	case "GetResources":
		var in getResourcesInput
		if err = c.decode(info.Body, &in); err == nil {
			out, err = h.getResources(account, in)
		}
	case "GetTagKeys":
		var in getTagKeysInput
		if err = c.decode(info.Body, &in); err == nil {
			out, err = page(h.profiles.TagKeys(account), in.PaginationToken, "keys", func(p []string, tok string) any {
				return getTagKeysOutput{TagKeys: p, PaginationToken: tok}
			})
		}
	case "GetTagValues":
		var in getTagValuesInput
		if err = c.decode(info.Body, &in); err == nil {
			if in.Key == nil || *in.Key == "" || len(*in.Key) > 128 {
				err = errkind.New(errkind.Invalid, "Key is required and must be 1-128 characters.")
				break
			}
			out, err = page(h.profiles.TagValues(account, *in.Key), in.PaginationToken, "values:"+*in.Key, func(p []string, tok string) any {
				return getTagValuesOutput{TagValues: p, PaginationToken: tok}
			})
		}
	case "TagResources":
		var in tagResourcesInput
		if err = c.decode(info.Body, &in); err == nil {
			out, err = h.tagResources(r, account, in)
		}
	case "UntagResources":
		var in untagResourcesInput
		if err = c.decode(info.Body, &in); err == nil {
			out, err = h.untagResources(r, account, in)
		}
	default:
		err = errkind.New(errkind.Invalid, "The operation %s is not supported.", op).WithCode("UnknownOperationException")
	}
	if err != nil {
		c.writeError(w, r, err)
		return
	}
	c.write(w, out)
}

const maxPage = 100

func encodeToken(scope, last string) string {
	return base64.RawURLEncoding.EncodeToString([]byte("v1\x00" + scope + "\x00" + last))
}

func decodeToken(tok, scope string) (string, error) {
	raw, err := base64.RawURLEncoding.DecodeString(tok)
	parts := strings.SplitN(string(raw), "\x00", 3)
	if err != nil || len(parts) != 3 || parts[0] != "v1" || parts[1] != scope {
		return "", errkind.New(errkind.Invalid, "The PaginationToken is invalid.")
	}
	return parts[2], nil
}

// page returns the page of a sorted list after the token's last item.
func page(all []string, token *string, scope string, mk func([]string, string) any) (any, error) {
	start := 0
	if token != nil && *token != "" {
		last, err := decodeToken(*token, scope)
		if err != nil {
			return nil, err
		}
		start, _ = slices.BinarySearch(all, last)
		if start < len(all) && all[start] == last {
			start++
		}
	}
	end := min(start+maxPage, len(all))
	items := all[start:end]
	if items == nil {
		items = []string{}
	}
	tok := ""
	if end < len(all) {
		tok = encodeToken(scope, all[end-1])
	}
	return mk(items, tok), nil
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

func (h *Handler) getResources(account string, in getResourcesInput) (any, error) {
	if len(in.TagFilters) > 50 {
		return nil, errkind.New(errkind.Invalid, "TagFilters may hold at most 50 filters.")
	}
	if len(in.ResourceTypeFilters) > 100 {
		return nil, errkind.New(errkind.Invalid, "ResourceTypeFilters may hold at most 100 entries.")
	}
	if in.ResourcesPerPage != nil && (*in.ResourcesPerPage < 1 || *in.ResourcesPerPage > 100) {
		return nil, errkind.New(errkind.Invalid, "ResourcesPerPage must be between 1 and 100.")
	}
	if in.TagsPerPage != nil && (*in.TagsPerPage < 100 || *in.TagsPerPage > 500) {
		return nil, errkind.New(errkind.Invalid, "TagsPerPage must be between 100 and 500.")
	}
	if len(in.ResourceARNList) > 0 {
		if in.ResourcesPerPage != nil || in.TagsPerPage != nil || (in.PaginationToken != nil && *in.PaginationToken != "") {
			return nil, errkind.New(errkind.Invalid, "ResourceARNList cannot be combined with ResourcesPerPage, TagsPerPage or PaginationToken.")
		}
		if len(in.ResourceARNList) > 100 {
			return nil, errkind.New(errkind.Invalid, "ResourceARNList may hold at most 100 ARNs.")
		}
	}
	if in.ExcludeCompliantResources != nil && *in.ExcludeCompliantResources && (in.IncludeComplianceDetails == nil || !*in.IncludeComplianceDetails) {
		return nil, errkind.New(errkind.Invalid, "ExcludeCompliantResources requires IncludeComplianceDetails.")
	}
	filters := make([]tags.Filter, 0, len(in.TagFilters))
	for _, f := range in.TagFilters {
		if f.Key == nil || *f.Key == "" || len(*f.Key) > 128 {
			return nil, errkind.New(errkind.Invalid, "Each tag filter needs a Key of 1-128 characters.")
		}
		if len(f.Values) > 20 {
			return nil, errkind.New(errkind.Invalid, "A tag filter may list at most 20 values.")
		}
		filters = append(filters, tags.Filter{Key: *f.Key, Values: f.Values})
	}
	typeOK := len(in.ResourceTypeFilters) == 0
	for _, t := range in.ResourceTypeFilters {
		ok, err := typeMatches(t)
		if err != nil {
			return nil, err
		}
		typeOK = typeOK || ok
	}
	out := getResourcesOutput{ResourceTagMappingList: []resourceTagMapping{}}
	if !typeOK {
		return out, nil
	}

	var arns []string
	if len(in.ResourceARNList) > 0 {
		for _, a := range in.ResourceARNList {
			if _, err := arn.Parse(a); err != nil {
				return nil, errkind.New(errkind.Invalid, "%q is not a valid ARN.", a)
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
		start := 0
		if in.PaginationToken != nil && *in.PaginationToken != "" {
			last, err := decodeToken(*in.PaginationToken, "resources")
			if err != nil {
				return nil, err
			}
			start, _ = slices.BinarySearch(all, last)
			if start < len(all) && all[start] == last {
				start++
			}
		}
		size := maxPage
		if in.ResourcesPerPage != nil {
			size = int(*in.ResourcesPerPage)
		}
		end := min(start+size, len(all))
		arns = all[start:end]
		if end < len(all) {
			out.PaginationToken = encodeToken("resources", all[end-1])
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

func (h *Handler) tagResources(r *http.Request, account string, in tagResourcesInput) (any, error) {
	if len(in.ResourceARNList) == 0 || len(in.ResourceARNList) > 20 {
		return nil, errkind.New(errkind.Invalid, "ResourceARNList must hold 1-20 ARNs.")
	}
	if len(in.Tags) == 0 || len(in.Tags) > 50 {
		return nil, errkind.New(errkind.Invalid, "Tags must hold 1-50 tags.")
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
		err := awsproto.Authorize(r.Context(), "bedrock:TagResource", a, authz.TagResourceKeys(current, list))
		if err == nil {
			err = h.profiles.Tag(r.Context(), account, a, list)
		}
		if err != nil {
			out.FailedResourcesMap[a] = failure(err)
		}
	}
	return out, nil
}

func (h *Handler) untagResources(r *http.Request, account string, in untagResourcesInput) (any, error) {
	if len(in.ResourceARNList) == 0 || len(in.ResourceARNList) > 20 {
		return nil, errkind.New(errkind.Invalid, "ResourceARNList must hold 1-20 ARNs.")
	}
	if len(in.TagKeys) == 0 || len(in.TagKeys) > 50 {
		return nil, errkind.New(errkind.Invalid, "TagKeys must hold 1-50 keys.")
	}
	out := failedOutput{FailedResourcesMap: map[string]failureInfo{}}
	for _, a := range in.ResourceARNList {
		current, _ := h.profiles.TagsOf(account, a)
		err := awsproto.Authorize(r.Context(), "bedrock:UntagResource", a, authz.UntagResourceKeys(current, in.TagKeys))
		if err == nil {
			err = h.profiles.Untag(r.Context(), account, a, in.TagKeys)
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

// limiter is a token bucket per account.
type limiter struct {
	rate    float64
	now     func() time.Time
	mu      sync.Mutex
	buckets map[string]*bucket
}

type bucket struct {
	tokens float64
	last   time.Time
}

func (l *limiter) allow(_ context.Context, account string) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.now()
	burst := max(1, l.rate)
	b := l.buckets[account]
	if b == nil {
		b = &bucket{tokens: burst, last: now}
		l.buckets[account] = b
	}
	b.tokens = min(burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

// sharedKey names the Tagging API's windows in the store; a budget name
// cannot contain ':', so it meets no budget's THROTTLE window.
const sharedKey = "tagging:api"

// sharedLimiter is the fleet's limiter: fixed windows counted in the
// store, claimed in batches.
type sharedLimiter struct {
	shared SharedRate
	window time.Duration // 1s, or longer below one request a second
	limit  int64         // requests per window
	now    func() time.Time

	mu    sync.Mutex
	slots map[string]*slots // per account
}

// slots are the requests this replica may still admit in one window.
type slots struct {
	window int64 // start, unix nanoseconds
	left   int64
}

func newSharedLimiter(shared SharedRate, rate float64, now func() time.Time) *sharedLimiter {
	l := &sharedLimiter{shared: shared, window: time.Second, now: now, slots: map[string]*slots{}}
	if rate < 1 {
		l.window = time.Duration(math.Round(float64(time.Second) / rate))
		rate = 1
	}
	l.limit = int64(rate)
	return l
}

func (l *sharedLimiter) allow(ctx context.Context, account string) bool {
	start := l.now().Truncate(l.window)
	ws := start.UnixNano()
	l.mu.Lock()
	s := l.slots[account]
	if s == nil {
		s = &slots{}
		l.slots[account] = s
	}
	if s.window == ws && s.left > 0 {
		s.left--
		l.mu.Unlock()
		return true
	}
	l.mu.Unlock()
	got, err := l.shared.ClaimRate(ctx, account, sharedKey, start, l.limit, max(1, l.limit/8))
	if err != nil {
		// The throttle protects the service, not money: without the
		// store to count in, serve.
		return true
	}
	if got == 0 {
		return false
	}
	l.mu.Lock()
	if s.window != ws {
		s.window, s.left = ws, 0
	}
	s.left += got - 1
	l.mu.Unlock()
	return true
}
