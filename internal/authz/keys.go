package authz

import (
	"github.com/tollgate-dev/tollgate/internal/policy"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// ResourceKeys returns the aws:ResourceTag/<k> condition keys of a
// resource's tags. The map is new; callers may add request keys to it.
func ResourceKeys(t tags.Set) map[string][]string {
	keys := make(map[string][]string, len(t)+1)
	for k, v := range t {
		keys[policy.KeyResourceTag+k] = []string{v}
	}
	return keys
}

// AddRequestTags adds aws:RequestTag/<k> and aws:TagKeys for the tags a
// request carries (a create or a tag request) and returns keys.
func AddRequestTags(keys map[string][]string, list []tags.Tag) map[string][]string {
	tagKeys := make([]string, 0, len(list))
	for _, t := range list {
		keys[policy.KeyRequestTag+t.Key] = []string{t.Value}
		tagKeys = append(tagKeys, t.Key)
	}
	keys[policy.KeyTagKeys] = tagKeys
	return keys
}

// TagResourceKeys are the condition keys of tagging a resource whose
// current tags are current with add: aws:ResourceTag/*, aws:RequestTag/*
// and aws:TagKeys. Every API that tags a resource (Bedrock's TagResource,
// the Tagging API's TagResources) authorizes with exactly these keys.
func TagResourceKeys(current tags.Set, add []tags.Tag) map[string][]string {
	return AddRequestTags(ResourceKeys(current), add)
}

// UntagResourceKeys are the condition keys of removing the tag keys
// remove from a resource whose current tags are current:
// aws:ResourceTag/* and aws:TagKeys.
func UntagResourceKeys(current tags.Set, remove []string) map[string][]string {
	keys := ResourceKeys(current)
	keys[policy.KeyTagKeys] = remove
	return keys
}
