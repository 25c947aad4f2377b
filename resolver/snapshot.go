package resolver

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
	"time"
)

// snapshotVersion is the version of the snapshot format Snapshot writes.
const snapshotVersion = 1

// snapshotFile is the JSON document Snapshot writes and Restore reads.
type snapshotFile struct {
	Version       int             `json:"version"`
	SavedAt       time.Time       `json:"savedAt"`
	ResourceTypes []string        `json:"resourceTypes"`
	Entries       []snapshotEntry `json:"entries"`
}

// snapshotEntry is one cached answer: exactly one of ARN, NoMatch and
// Ambiguous is set.
type snapshotEntry struct {
	Tags      map[string]string `json:"tags"`
	ARN       string            `json:"arn,omitempty"`
	NoMatch   bool              `json:"noMatch,omitempty"`
	Ambiguous []string          `json:"ambiguous,omitempty"`
	FetchedAt time.Time         `json:"fetchedAt"`
}

// Snapshot writes every cached answer from the Tagging API (not the
// static map's) as JSON: the query's tags, the answer, and when it was
// fetched. Answers restored from an earlier snapshot keep their original
// fetch time.
func (r *Resolver) Snapshot(w io.Writer) error {
	f := snapshotFile{Version: snapshotVersion, SavedAt: r.now().UTC(), ResourceTypes: r.types, Entries: []snapshotEntry{}}
	var keys []string
	r.slots.Range(func(_, v any) bool {
		s := v.(*slot)
		e := s.cur.Load()
		if e == nil {
			return true
		}
		se := snapshotEntry{Tags: s.q.Map(), ARN: e.arn, FetchedAt: e.fetchedAt.UTC()}
		switch {
		case e.ambiguous != nil:
			se.Ambiguous = e.ambiguous
		case e.arn == "":
			se.NoMatch = true
		}
		f.Entries = append(f.Entries, se)
		keys = append(keys, s.q.key)
		return true
	})
	sortBy(f.Entries, keys)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(f); err != nil {
		return fmt.Errorf("resolver: write snapshot: %w", err)
	}
	return nil
}

// Restore loads a snapshot written by Snapshot and returns how many
// answers it restored. Restored answers are served at once but marked
// stale (Result.Source "snapshot") while a background fetch refreshes
// them; an answer already more than MaxStale past its expiry is dropped.
// A query the cache already holds keeps its cached answer. The snapshot
// must have been taken for the same resource types.
func (r *Resolver) Restore(rd io.Reader) (int, error) {
	var f snapshotFile
	dec := json.NewDecoder(rd)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&f); err != nil {
		return 0, fmt.Errorf("resolver: read snapshot: %w", err)
	}
	if f.Version != snapshotVersion {
		return 0, fmt.Errorf("resolver: snapshot version %d; want %d", f.Version, snapshotVersion)
	}
	if !slices.Equal(f.ResourceTypes, r.types) {
		return 0, fmt.Errorf("resolver: snapshot is for resource types %q, not %q", f.ResourceTypes, r.types)
	}
	now, wall := r.mono(), r.now()
	n := 0
	for i, se := range f.Entries {
		q, err := NewQuery(se.Tags)
		if err != nil {
			return n, fmt.Errorf("resolver: snapshot entry %d: %w", i, err)
		}
		set := 0
		if se.ARN != "" {
			set++
		}
		if se.NoMatch {
			set++
		}
		if len(se.Ambiguous) > 0 {
			set++
		}
		if set != 1 {
			return n, fmt.Errorf("resolver: snapshot entry %d (%s) needs exactly one of arn, noMatch, ambiguous", i, q)
		}
		age := max(wall.Sub(se.FetchedAt), 0)
		var cands []Resource
		switch {
		case se.ARN != "":
			cands = []Resource{{ARN: se.ARN}}
		case len(se.Ambiguous) > 0:
			for _, a := range se.Ambiguous {
				cands = append(cands, Resource{ARN: a})
			}
			slices.SortFunc(cands, func(a, b Resource) int { return strings.Compare(a.ARN, b.ARN) })
		}
		// Candidates of an ambiguous answer carry no tags here; a TieBreak
		// that needs them leaves the answer ambiguous until refreshed.
		e := r.newEntry(q, cands, now-int64(age), se.FetchedAt)
		e.restored = true
		if now >= e.staleUntil {
			continue
		}
		v, _ := r.slots.LoadOrStore(q.mkey, &slot{q: q})
		s := v.(*slot)
		s.mu.Lock()
		if s.cur.Load() == nil {
			s.cur.Store(e)
			n++
		}
		s.mu.Unlock()
	}
	return n, nil
}

// sortBy sorts entries by keys (same length), in place.
func sortBy(entries []snapshotEntry, keys []string) {
	idx := make([]int, len(entries))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return strings.Compare(keys[a], keys[b]) })
	sorted := make([]snapshotEntry, len(entries))
	for i, j := range idx {
		sorted[i] = entries[j]
	}
	copy(entries, sorted)
}

// SaveSnapshot writes Snapshot to path atomically (a temporary file in the
// same directory, synced, then renamed), readable by the owner only.
func (r *Resolver) SaveSnapshot(path string) error {
	var b bytes.Buffer
	if err := r.Snapshot(&b); err != nil {
		return err
	}
	if err := writeFileAtomic(path, b.Bytes(), 0o600); err != nil {
		return fmt.Errorf("resolver: save snapshot: %w", err)
	}
	return nil
}

// LoadSnapshot restores the snapshot file at path (see Restore). A missing
// file restores nothing and is not an error.
func (r *Resolver) LoadSnapshot(path string) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("resolver: load snapshot: %w", err)
	}
	defer f.Close()
	n, err := r.Restore(f)
	if err != nil {
		return n, fmt.Errorf("%w (in %s)", err, path)
	}
	return n, nil
}
