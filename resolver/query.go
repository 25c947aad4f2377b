package resolver

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"unicode/utf8"
)

// Limits the Tagging API puts on a GetResources tag filter list; a Query
// that breaks them could never be sent upstream.
const (
	maxQueryTags = 50
	maxKeyLen    = 128
	maxValueLen  = 256
)

// Query is a set of tag filters (key = value, all of which must hold) that
// names one application inference profile, in canonical form. Build it
// once with NewQuery and reuse it: resolving a Query that is already cached
// does not allocate.
//
// The zero Query is invalid; Resolve rejects it. A Query is immutable and
// safe to share between goroutines.
type Query struct {
	tags []Tag // sorted by key; keys unique
	key  string
	mkey any // key, boxed once so that cache lookups do not allocate
}

// Tag is one tag filter of a Query, or one tag of a Resource.
type Tag struct {
	Key   string `json:"key" yaml:"key"`
	Value string `json:"value" yaml:"value"`
}

// NewQuery returns the Query matching resources that carry every tag in
// tags with exactly that value. Keys must be 1 to 128 characters and values
// 1 to 256 (an empty value would mean "any value" to the Tagging API), with
// at most 50 tags, none containing a NUL byte.
func NewQuery(tags map[string]string) (Query, error) {
	if len(tags) == 0 {
		return Query{}, errors.New("resolver: a query needs at least one tag")
	}
	if len(tags) > maxQueryTags {
		return Query{}, fmt.Errorf("resolver: a query has at most %d tags, not %d", maxQueryTags, len(tags))
	}
	keys := slices.Sorted(maps.Keys(tags))
	q := Query{tags: make([]Tag, 0, len(keys))}
	var b strings.Builder
	for _, k := range keys {
		v := tags[k]
		if err := checkTag(k, v); err != nil {
			return Query{}, err
		}
		q.tags = append(q.tags, Tag{Key: k, Value: v})
		b.WriteString(k)
		b.WriteByte(0)
		b.WriteString(v)
		b.WriteByte(0)
	}
	q.key = b.String()
	q.mkey = q.key
	return q, nil
}

// MustQuery is NewQuery for queries fixed in the program's source: it
// panics when tags are invalid.
func MustQuery(tags map[string]string) Query {
	q, err := NewQuery(tags)
	if err != nil {
		panic(err)
	}
	return q
}

func checkTag(k, v string) error {
	switch {
	case k == "" || utf8.RuneCountInString(k) > maxKeyLen:
		return fmt.Errorf("resolver: tag key %q must be 1 to %d characters", k, maxKeyLen)
	case v == "" || utf8.RuneCountInString(v) > maxValueLen:
		return fmt.Errorf("resolver: value of tag %q must be 1 to %d characters", k, maxValueLen)
	case strings.IndexByte(k, 0) >= 0 || strings.IndexByte(v, 0) >= 0:
		return fmt.Errorf("resolver: tag %q contains a NUL byte", k)
	}
	return nil
}

// Tags returns the query's tag filters, sorted by key.
func (q Query) Tags() []Tag { return slices.Clone(q.tags) }

// Map returns the query's tag filters as a map.
func (q Query) Map() map[string]string {
	m := make(map[string]string, len(q.tags))
	for _, t := range q.tags {
		m[t.Key] = t.Value
	}
	return m
}

// IsZero reports whether q is the zero Query.
func (q Query) IsZero() bool { return q.key == "" }

// String returns the query as "key=value,key=value", sorted by key.
func (q Query) String() string {
	var b strings.Builder
	for i, t := range q.tags {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(t.Key)
		b.WriteByte('=')
		b.WriteString(t.Value)
	}
	return b.String()
}

// Matches reports whether a resource carrying tags satisfies q: it has
// every tag of q with the same value (and possibly others). This is the
// GetResources semantics for tag filters of one value each.
func (q Query) Matches(tags []Tag) bool {
	for _, want := range q.tags {
		found := false
		for _, t := range tags {
			if t.Key == want.Key {
				found = t.Value == want.Value
				break
			}
		}
		if !found {
			return false
		}
	}
	return len(q.tags) > 0
}
