// Package tags owns resource tags: the AWS constraints on keys and values,
// tag sets as values, and an inverted index (key -> value -> resources) that
// answers tag filters without scanning.
package tags

import (
	"cmp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// MaxPerResource is the most tags one resource may carry.
const MaxPerResource = 50

// Tag is one key/value pair.
type Tag struct {
	Key   string
	Value string
}

// Set is the tags of one resource, keyed by tag key. A nil Set is empty.
type Set map[string]string

// FromList builds a Set from tags; a later duplicate key wins.
func FromList(list []Tag) Set {
	s := make(Set, len(list))
	for _, t := range list {
		s[t.Key] = t.Value
	}
	return s
}

// List returns the tags sorted by key.
func (s Set) List() []Tag {
	out := make([]Tag, 0, len(s))
	for k, v := range s {
		out = append(out, Tag{k, v})
	}
	slices.SortFunc(out, func(a, b Tag) int { return cmp.Compare(a.Key, b.Key) })
	return out
}

// Keys returns the tag keys, sorted.
func (s Set) Keys() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}

// Clone returns a copy of s (never nil).
func (s Set) Clone() Set {
	c := make(Set, len(s))
	for k, v := range s {
		c[k] = v
	}
	return c
}

// Equal reports whether s and o hold the same tags.
func (s Set) Equal(o Set) bool {
	if len(s) != len(o) {
		return false
	}
	for k, v := range s {
		if ov, ok := o[k]; !ok || ov != v {
			return false
		}
	}
	return true
}

// Canonical returns a stable string form of s ("k1=v1\x00k2=v2"), used to
// deduplicate tag sets and as a map key. Keys and values cannot contain NUL
// or '\x01', so the form is unambiguous.
func (s Set) Canonical() string {
	var b strings.Builder
	for i, t := range s.List() {
		if i > 0 {
			b.WriteByte(0)
		}
		b.WriteString(t.Key)
		b.WriteByte(1)
		b.WriteString(t.Value)
	}
	return b.String()
}

// ParseCanonical is the inverse of Canonical.
func ParseCanonical(c string) Set {
	s := Set{}
	if c == "" {
		return s
	}
	for _, kv := range strings.Split(c, "\x00") {
		k, v, _ := strings.Cut(kv, "\x01")
		s[k] = v
	}
	return s
}

func validChars(s string) bool {
	// AWS pattern ^[a-zA-Z0-9\s._:/=+@-]*$ (Bedrock's model); other AWS
	// services also allow Unicode letters, which we accept as well.
	for _, r := range s {
		switch {
		case r >= 'a' && r <= 'z', r >= 'A' && r <= 'Z', r >= '0' && r <= '9':
		case r == ' ', r == '\t', r == '\n', r == '\r', r == '\f', r == '\v':
		case strings.ContainsRune("._:/=+@-", r):
		case r > utf8.RuneSelf && r != utf8.RuneError && isLetterOrDigit(r):
		default:
			return false
		}
	}
	return true
}

// ValidateKey checks one tag key against the AWS constraints.
func ValidateKey(k string) error {
	n := utf8.RuneCountInString(k)
	switch {
	case n < 1 || n > 128:
		return errkind.New(errkind.Invalid, "Tag key %q must be 1-128 characters long.", truncate(k))
	case !utf8.ValidString(k) || !validChars(k):
		return errkind.New(errkind.Invalid, "Tag key %q contains characters outside [a-zA-Z0-9 _.:/=+@-].", truncate(k))
	case strings.HasPrefix(strings.ToLower(k), "aws:"):
		return errkind.New(errkind.Invalid, "Tag keys starting with \"aws:\" are reserved for AWS use.")
	}
	return nil
}

// ValidateValue checks one tag value against the AWS constraints.
func ValidateValue(v string) error {
	if utf8.RuneCountInString(v) > 256 {
		return errkind.New(errkind.Invalid, "Tag value must be at most 256 characters long.")
	}
	if !utf8.ValidString(v) || !validChars(v) {
		return errkind.New(errkind.Invalid, "Tag value %q contains characters outside [a-zA-Z0-9 _.:/=+@-].", truncate(v))
	}
	return nil
}

// ValidateList checks a list of tags as sent on the wire: each key and
// value, no duplicate keys, at most MaxPerResource tags.
func ValidateList(list []Tag) error {
	seen := make(map[string]bool, len(list))
	for _, t := range list {
		if err := ValidateKey(t.Key); err != nil {
			return err
		}
		if err := ValidateValue(t.Value); err != nil {
			return err
		}
		if seen[t.Key] {
			return errkind.New(errkind.Invalid, "Duplicate tag key %q.", t.Key)
		}
		seen[t.Key] = true
	}
	if len(list) > MaxPerResource {
		return errkind.New(errkind.TooManyTags, "A resource can have at most %d tags; the request has %d.", MaxPerResource, len(list))
	}
	return nil
}

// Merge returns a copy of s with add applied (add wins on a shared key). It
// fails with TooManyTags when the result exceeds MaxPerResource.
func (s Set) Merge(add Set) (Set, error) {
	out := s.Clone()
	for k, v := range add {
		out[k] = v
	}
	if len(out) > MaxPerResource {
		return nil, errkind.New(errkind.TooManyTags, "A resource can have at most %d tags; it would have %d.", MaxPerResource, len(out))
	}
	return out, nil
}

// Without returns a copy of s without the given keys.
func (s Set) Without(keys []string) Set {
	out := s.Clone()
	for _, k := range keys {
		delete(out, k)
	}
	return out
}

func truncate(s string) string {
	if len(s) > 40 {
		return s[:40] + "..."
	}
	return s
}
