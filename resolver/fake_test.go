package resolver_test

import (
	"context"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	"github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"
)

// fakeAPI is an in-process Tagging API: GetResources over a mutable set of
// tagged resources, with the service's filter semantics, pagination,
// injectable latency and errors, and a call counter.
type fakeAPI struct {
	calls atomic.Int64

	mu        sync.Mutex
	resources map[string]map[string]string // ARN -> tags
	pageSize  int                          // default 100
	delay     time.Duration                // before answering each call
	errs      []error                      // returned by the next calls, one each
	err       error                        // returned by every call while set (after errs)
	inputs    []resourcegroupstaggingapi.GetResourcesInput
}

func newFake() *fakeAPI { return &fakeAPI{resources: map[string]map[string]string{}} }

// put sets the tags of a resource.
func (f *fakeAPI) put(arn string, tags map[string]string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.resources[arn] = tags
}

func (f *fakeAPI) remove(arn string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.resources, arn)
}

func (f *fakeAPI) setErr(err error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.err = err
}

func (f *fakeAPI) queueErrs(errs ...error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.errs = append(f.errs, errs...)
}

func (f *fakeAPI) GetResources(ctx context.Context, in *resourcegroupstaggingapi.GetResourcesInput, _ ...func(*resourcegroupstaggingapi.Options)) (*resourcegroupstaggingapi.GetResourcesOutput, error) {
	f.calls.Add(1)
	f.mu.Lock()
	delay := f.delay
	f.inputs = append(f.inputs, *in)
	f.mu.Unlock()
	if delay > 0 {
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-ctx.Done():
			t.Stop()
			return nil, ctx.Err()
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.errs) > 0 {
		err := f.errs[0]
		f.errs = f.errs[1:]
		return nil, err
	}
	if f.err != nil {
		return nil, f.err
	}
	var arns []string
	for arn, tags := range f.resources {
		if typeMatches(arn, in.ResourceTypeFilters) && tagsMatch(tags, in.TagFilters) {
			arns = append(arns, arn)
		}
	}
	slices.Sort(arns)
	start := 0
	if tok := aws.ToString(in.PaginationToken); tok != "" {
		start, _ = strconv.Atoi(tok)
	}
	size := f.pageSize
	if size == 0 {
		size = 100
	}
	if n := int(aws.ToInt32(in.ResourcesPerPage)); n > 0 && n < size {
		size = n
	}
	end := min(start+size, len(arns))
	out := &resourcegroupstaggingapi.GetResourcesOutput{}
	for _, arn := range arns[start:end] {
		m := types.ResourceTagMapping{ResourceARN: aws.String(arn), Tags: []types.Tag{}}
		for k, v := range f.resources[arn] {
			m.Tags = append(m.Tags, types.Tag{Key: aws.String(k), Value: aws.String(v)})
		}
		out.ResourceTagMappingList = append(out.ResourceTagMappingList, m)
	}
	if end < len(arns) {
		out.PaginationToken = aws.String(strconv.Itoa(end))
	}
	return out, nil
}

// typeMatches applies ResourceTypeFilters ("service" or
// "service:resourceType", OR) to an ARN.
func typeMatches(arn string, filters []string) bool {
	if len(filters) == 0 {
		return true
	}
	parts := strings.SplitN(arn, ":", 6)
	if len(parts) < 6 {
		return false
	}
	service := parts[2]
	rtype, _, _ := strings.Cut(parts[5], "/")
	for _, f := range filters {
		if f == service || f == service+":"+rtype {
			return true
		}
	}
	return false
}

// tagsMatch applies TagFilters (AND across filters, OR across values, any
// value when Values is empty).
func tagsMatch(tags map[string]string, filters []types.TagFilter) bool {
	for _, f := range filters {
		v, ok := tags[aws.ToString(f.Key)]
		if !ok || (len(f.Values) > 0 && !slices.Contains(f.Values, v)) {
			return false
		}
	}
	return true
}

// profileARN returns an application inference profile ARN for id.
func profileARN(id string) string {
	return "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/" + id
}
