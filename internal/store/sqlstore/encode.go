package sqlstore

import (
	"database/sql"
	"encoding/json"
	"time"

	"github.com/tollgate-dev/tollgate/internal/tags"
)

// Both stores keep times as unix milliseconds (bigint / INTEGER), tag
// sets and lists as JSON objects and arrays (jsonb / TEXT), and booleans
// of the ledger as 0 or 1.

// MS returns t in unix milliseconds.
func MS(t time.Time) int64 { return t.UnixMilli() }

// FromMS returns the UTC time of v unix milliseconds.
func FromMS(v int64) time.Time { return time.UnixMilli(v).UTC() }

// MSOrZero is MS, with the zero time as 0.
func MSOrZero(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return MS(t)
}

// FromMSOrZero is FromMS, with 0 as the zero time.
func FromMSOrZero(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return FromMS(v)
}

// FromNullMS is FromMS, with NULL (and 0) as the zero time.
func FromNullMS(v sql.NullInt64) time.Time { return FromMSOrZero(v.Int64) }

// TagsJSON encodes a tag set as a JSON object (keys sorted, so equal sets
// encode equally).
func TagsJSON(t tags.Set) string {
	b, _ := json.Marshal(map[string]string(t.Clone()))
	return string(b)
}

// DecodeTags decodes a JSON object into a non-nil tag set.
func DecodeTags(b []byte) (tags.Set, error) {
	var t tags.Set
	if err := json.Unmarshal(b, &t); err != nil {
		return nil, err
	}
	if t == nil {
		t = tags.Set{}
	}
	return t, nil
}

// JSONText encodes v as JSON text.
func JSONText(v any) (string, error) {
	b, err := json.Marshal(v)
	return string(b), err
}

// Nullable returns s, or NULL when s is empty.
func Nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// Bool returns b as 0 or 1.
func Bool(b bool) int64 {
	if b {
		return 1
	}
	return 0
}
