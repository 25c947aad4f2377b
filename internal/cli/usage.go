package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"sort"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
)

const usageUsage = `Usage: tollgate usage [flags]

The request log: the most recent calls recorded in the ledger, newest
first, with their profile (name and id), principal, tags, tokens, latency,
outcome and cost. Filters combine (AND); --follow keeps printing calls as
they are recorded until interrupted.

It reads the database offline (the SQLite database in --data-dir, or the
PostgreSQL one --store names) and never creates one: a mistyped
--data-dir is an error.

Examples:
  tollgate usage
  tollgate usage --since 1h --profile claims-bot
  tollgate usage --tag dept=claims --tag env=prod --outcome throttled -o json
  tollgate usage --since 2026-11-01 --principal AIDAEXAMPLE -n 100 -o csv
  tollgate usage --follow
`

// pollInterval is how often --follow reads new records.
const pollInterval = time.Second

// usageCmd is `tollgate usage`: it reads the ledger offline because it
// is a bulk read of what has been recorded (see the package comment).
func usageCmd(ctx context.Context, args []string, env Env) error {
	fs, lf := newStoreFlagSet("tollgate usage", usageUsage, env)
	out := registerOutput(fs)
	limit := fs.Int("limit", 20, "how many records to print (newest first); 0 for all that match")
	short(fs, "n", "limit")
	prof := fs.String("profile", "", "only calls through this profile (name, id or ARN)")
	tagF := tagFlags{}
	fs.Var(tagF, "tag", "only calls whose profile carried tag `key=value` (repeatable; AND)")
	principal := fs.String("principal", "", "only calls by this principal (name or id)")
	outcome := fs.String("outcome", "", "only calls with this outcome: success, client_error, server_error, throttled or cancelled")
	since := fs.String("since", "", "only calls since a duration ago (30m, 24h, 7d) or a date (2026-11-01, RFC 3339)")
	follow := fs.Bool("follow", false, "after the most recent calls, keep printing new ones as they are recorded")
	short(fs, "f", "follow")
	if err := ParseFlags(fs, args); err != nil {
		return err
	}
	if err := noArgs(fs, "usage"); err != nil {
		return err
	}
	if *limit < 0 {
		return Usagef("usage", "--limit must be 0 or more")
	}
	f := recordFilter{principal: *principal, outcome: *outcome, tags: tagF}
	if f.outcome != "" {
		outcomes := []string{ledger.OutcomeSuccess, ledger.OutcomeClientError, ledger.OutcomeServerError, ledger.OutcomeThrottled, ledger.OutcomeCancelled}
		if !contains(outcomes, f.outcome) {
			ue := &UsageError{Cmd: "usage", Msg: fmt.Sprintf("--outcome %q is not an outcome", f.outcome)}
			if s := closest(f.outcome, outcomes); s != "" {
				ue.Hint = "Did you mean --outcome " + s + "?"
			} else {
				ue.Hint = "Outcomes: " + strings.Join(outcomes, ", ") + "."
			}
			return ue
		}
	}
	now := time.Now().UTC()
	if *since != "" {
		t, err := parseSince(*since, now)
		if err != nil {
			return Usagef("usage", "--since: %v", err)
		}
		f.from = t
	}
	db, err := lf.open(ctx, env, false)
	if err != nil {
		return err
	}
	defer db.Close()
	profiles, err := db.ListAllProfiles(ctx)
	if err != nil {
		return err
	}
	principals, _, _, err := db.LoadPrincipals(ctx)
	if err != nil {
		return err
	}
	names := usageNames{profiles: profileNames(profiles), principals: principalNames(principals)}
	if f.principal != "" {
		if f.principal, err = findPrincipal(f.principal, principals); err != nil {
			return err
		}
	}
	if *prof != "" {
		if f.profileID, err = findProfile(*prof, profiles); err != nil {
			return err
		}
	}
	recs, seenKeys, err := recentRecords(ctx, db, f, *limit)
	if err != nil {
		return err
	}
	if len(recs) == 0 {
		// Nothing matched: a tag key that neither a profile nor a call read
		// carries is a typo.
		known := tagKeysOf(profiles)
		for k := range seenKeys {
			known[k] = true
		}
		for k := range tagF {
			if !known[k] {
				return tagKeyError("usage", k, sortedKeys(known))
			}
		}
	}
	// Oldest first when following, as a tail does; newest first otherwise.
	if *follow {
		for i, j := 0, len(recs)-1; i < j; i, j = i+1, j-1 {
			recs[i], recs[j] = recs[j], recs[i]
		}
	}
	if !*follow {
		return render(env.Stdout, out.format, usageDataset(recs, names))
	}
	st := &stream{w: env.Stdout, format: out.format}
	if err := st.write(usageDataset(recs, names)); err != nil {
		return err
	}
	return followRecords(ctx, db, f, recs, now, func(batch []ledger.Record) error {
		if len(batch) > 0 && hasUnknownProfile(batch, names.profiles) {
			if ps, err := db.ListAllProfiles(ctx); err == nil {
				names.profiles = profileNames(ps)
			}
		}
		if len(batch) > 0 && hasUnknownPrincipal(batch, names.principals) {
			if ps, _, _, err := db.LoadPrincipals(ctx); err == nil {
				names.principals = principalNames(ps)
			}
		}
		return st.write(usageDataset(batch, names))
	})
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

// recordFilter is what usage's flags select.
type recordFilter struct {
	from      time.Time
	profileID string
	principal string
	outcome   string
	tags      map[string]string
}

func (f recordFilter) match(r ledger.Record) bool {
	if f.profileID != "" && r.ProfileID != f.profileID {
		return false
	}
	if f.principal != "" && r.PrincipalID != f.principal {
		return false
	}
	if f.outcome != "" && r.Outcome != f.outcome {
		return false
	}
	for k, v := range f.tags {
		if got, ok := r.Tags[k]; !ok || got != v {
			return false
		}
	}
	return true
}

// usagePage is how many records recentRecords reads at a time.
const usagePage = 500

// recentRecords returns up to limit (0: all) records matching f, newest
// first, reading the ledger a page at a time backwards from now, and the
// tag keys of the records it read.
func recentRecords(ctx context.Context, db ledger.Reader, f recordFilter, limit int) ([]ledger.Record, map[string]bool, error) {
	var out []ledger.Record
	seen := map[string]bool{}
	keys := map[string]bool{}
	// take reads recs (newest first), reports whether limit is reached,
	// and how many were not read before.
	take := func(recs []ledger.Record) (full bool, fresh int) {
		for _, r := range recs {
			if seen[r.RequestID] {
				continue
			}
			seen[r.RequestID] = true
			fresh++
			for k := range r.Tags {
				keys[k] = true
			}
			if f.match(r) {
				out = append(out, r)
				if limit > 0 && len(out) == limit {
					return true, fresh
				}
			}
		}
		return false, fresh
	}
	to := time.Time{}
	for {
		page, err := db.Records(ctx, ledger.Query{From: f.from, To: to, Limit: usagePage, Newest: true})
		if err != nil {
			return nil, nil, err
		}
		full, fresh := take(page)
		if full || len(page) < usagePage {
			return out, keys, nil
		}
		// The next page ends just after the oldest record read: records of
		// that millisecond not read yet come again (those read are skipped).
		// When a page brings nothing new, the millisecond holds more than a
		// page: read it whole, then go on before it.
		oldest := page[len(page)-1].Time
		to = oldest.Add(time.Millisecond)
		if fresh == 0 {
			ms, err := db.Records(ctx, ledger.Query{From: oldest, To: oldest.Add(time.Millisecond), Newest: true})
			if err != nil {
				return nil, nil, err
			}
			if full, _ := take(ms); full {
				return out, keys, nil
			}
			to = oldest
		}
	}
}

// followRecords polls for records newer than those already shown, until
// ctx is done, passing each batch (oldest first) to emit.
func followRecords(ctx context.Context, db ledger.Reader, f recordFilter, shown []ledger.Record, now time.Time, emit func([]ledger.Record) error) error {
	from := now.Add(-time.Minute)
	seen := map[string]time.Time{}
	for _, r := range shown {
		seen[r.RequestID] = r.Time
	}
	t := time.NewTicker(pollInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		q := ledger.Query{From: from}
		if f.from.After(from) {
			q.From = f.from
		}
		recs, err := db.Records(ctx, q)
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return err
		}
		var batch []ledger.Record
		for _, r := range recs {
			if _, ok := seen[r.RequestID]; ok {
				continue
			}
			seen[r.RequestID] = r.Time
			if f.match(r) {
				batch = append(batch, r)
			}
		}
		if err := emit(batch); err != nil {
			return err
		}
		// Records are stamped when the call started and may be appended a
		// call's latency later: keep reading a minute back, and forget
		// what is older than that.
		from = time.Now().UTC().Add(-time.Minute)
		for id, at := range seen {
			if at.Before(from) {
				delete(seen, id)
			}
		}
	}
}

// usageNames are the names the request log shows beside ids: profiles'
// and principals', by id.
type usageNames struct{ profiles, principals map[string]string }

// usageDataset is the request log's rows.
func usageDataset(recs []ledger.Record, names usageNames) dataset {
	ds := dataset{cols: []column{
		{key: "time"}, {key: "requestId", header: "REQUEST ID"}, {key: "operation"},
		{key: "profileName", header: "PROFILE"}, {key: "profileId", header: "PROFILE ID"},
		{key: "principalName", header: "PRINCIPAL"}, {key: "principal", header: "PRINCIPAL ID"}, {key: "model"}, {key: "regionServed", header: "REGION"}, {key: "tags"},
		{key: "inputTokens", header: "IN", right: true}, {key: "outputTokens", header: "OUT", right: true},
		{key: "cacheReadTokens", header: "CACHE R", right: true}, {key: "cacheWriteTokens", header: "CACHE W", right: true},
		{key: "latency", right: true}, {key: "outcome"}, {key: "cost", header: "COST (USD)", right: true},
	}}
	for _, r := range recs {
		var cost any = usdCell(r.Cost)
		if !r.Priced {
			cost = unpricedCell{}
		}
		ds.rows = append(ds.rows, []any{
			r.Time, r.RequestID, r.Operation, names.profiles[r.ProfileID], r.ProfileID, names.principals[r.PrincipalID], r.PrincipalID, r.ModelID, r.RegionServed,
			map[string]string(r.Tags), r.InputTokens, r.OutputTokens, r.CacheReadTokens, r.CacheWriteAll(),
			time.Duration(r.LatencyMs) * time.Millisecond, r.Outcome, cost,
		})
	}
	return ds
}

// printUsage writes usage records as a table (profile names unknown).
func printUsage(w io.Writer, recs []ledger.Record) error {
	return renderTable(w, usageDataset(recs, usageNames{}))
}

func profileNames(ps []profile.Profile) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.ID] = p.Name
	}
	return m
}

// principalNames maps principal ids to names.
func principalNames(ps []principal.Principal) map[string]string {
	m := make(map[string]string, len(ps))
	for _, p := range ps {
		m[p.ID] = p.Name
	}
	return m
}

// findPrincipal resolves --principal: an id as it is, else the id of the
// one principal with that name (a name several accounts use is
// ambiguous). An unknown value is kept: calls of a deleted principal
// still carry its id.
func findPrincipal(s string, ps []principal.Principal) (string, error) {
	var ids []string
	for _, p := range ps {
		if p.ID == s {
			return s, nil
		}
		if p.Name == s {
			ids = append(ids, p.ID)
		}
	}
	switch len(ids) {
	case 0:
		return s, nil
	case 1:
		return ids[0], nil
	}
	sort.Strings(ids)
	return "", Usagef("usage", "--principal %q names %d principals (%s): give the id", s, len(ids), strings.Join(ids, ", "))
}

func hasUnknownPrincipal(recs []ledger.Record, names map[string]string) bool {
	for _, r := range recs {
		if _, ok := names[r.PrincipalID]; r.PrincipalID != "" && !ok {
			return true
		}
	}
	return false
}

func hasUnknownProfile(recs []ledger.Record, names map[string]string) bool {
	for _, r := range recs {
		if _, ok := names[r.ProfileID]; r.ProfileID != "" && !ok {
			return true
		}
	}
	return false
}

// findProfile returns the id of the profile s names (name, id or ARN).
func findProfile(s string, ps []profile.Profile) (string, error) {
	var names []string
	for _, p := range ps {
		if s == p.ID || s == p.ARN || s == p.Name {
			return p.ID, nil
		}
		names = append(names, p.Name)
	}
	ue := &UsageError{Cmd: "usage", Msg: fmt.Sprintf("no profile named %q", s)}
	if c := closest(s, names); c != "" {
		ue.Hint = "Did you mean --profile " + c + "?"
	} else {
		ue.Hint = "Run 'tollgate profiles list' for the profiles."
	}
	return "", ue
}

// tagKeysOf returns the tag keys the profiles carry.
func tagKeysOf(ps []profile.Profile) map[string]bool {
	keys := map[string]bool{}
	for _, p := range ps {
		for k := range p.Tags {
			keys[k] = true
		}
	}
	return keys
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tagKeyError is the usage error for a filter on a tag key that does not
// exist: did you mean, and the keys that do.
func tagKeyError(cmd, key string, known []string) error {
	ue := &UsageError{Cmd: cmd, Msg: fmt.Sprintf("no profile carries the tag key %q", key)}
	switch c := closest(key, known); {
	case c != "":
		ue.Hint = fmt.Sprintf("Did you mean %s? Tag keys: %s.", c, strings.Join(known, ", "))
	case len(known) > 0:
		ue.Hint = "Tag keys: " + strings.Join(known, ", ") + "."
	default:
		ue.Hint = "No profile carries tags yet."
	}
	return ue
}

// parseSince reads a duration back from now (30m, 24h, 7d) or a date
// (2026-11-01, RFC 3339).
func parseSince(s string, now time.Time) (time.Time, error) {
	if d, ok := strings.CutSuffix(s, "d"); ok {
		var n int
		if _, err := fmt.Sscanf(d, "%d", &n); err == nil && fmt.Sprint(n) == d && n >= 0 {
			return now.AddDate(0, 0, -n), nil
		}
	}
	if d, err := time.ParseDuration(s); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	if t, err := time.Parse(time.DateOnly, s); err == nil {
		return t, nil
	}
	if t, err := time.Parse(time.RFC3339, s); err == nil {
		return t.UTC(), nil
	}
	return time.Time{}, fmt.Errorf("%q is neither a duration (30m, 24h, 7d) nor a date (2026-11-01)", s)
}

// stream writes datasets one after another as one output: a table's
// header once (columns widen as needed), JSON as one object per line,
// CSV's header once, YAML as one sequence.
type stream struct {
	w       io.Writer
	format  string
	started bool
	widths  []int
}

func (s *stream) write(ds dataset) error {
	switch s.format {
	case "json":
		for _, r := range ds.rows {
			var b, line bytes.Buffer
			if err := renderJSON(&b, dataset{cols: ds.cols, rows: [][]any{r}}); err != nil {
				return err
			}
			if err := json.Compact(&line, b.Bytes()); err != nil {
				return err
			}
			obj := bytes.TrimSuffix(bytes.TrimPrefix(line.Bytes(), []byte("[")), []byte("]"))
			if _, err := fmt.Fprintf(s.w, "%s\n", obj); err != nil {
				return err
			}
		}
		return nil
	case "csv":
		var b strings.Builder
		if err := renderCSV(&b, ds); err != nil {
			return err
		}
		text := b.String()
		if s.started {
			_, text, _ = strings.Cut(text, "\n")
		}
		s.started = true
		_, err := io.WriteString(s.w, text)
		return err
	case "yaml":
		if len(ds.rows) == 0 {
			return nil
		}
		return renderYAML(s.w, ds)
	}
	if s.widths == nil {
		s.widths = make([]int, len(ds.cols))
		for i, c := range ds.cols {
			s.widths[i] = len(c.title())
		}
	}
	for _, r := range ds.rows {
		for i := range ds.cols {
			s.widths[i] = max(s.widths[i], len(cellText(r[i])))
		}
	}
	var b strings.Builder
	line := func(cells []string) {
		for i, c := range cells {
			pad := strings.Repeat(" ", max(0, s.widths[i]-len(c)))
			if i > 0 {
				b.WriteString("  ")
			}
			if ds.cols[i].right {
				b.WriteString(pad + c)
			} else if i < len(cells)-1 {
				b.WriteString(c + pad)
			} else {
				b.WriteString(c)
			}
		}
		b.WriteByte('\n')
	}
	if !s.started {
		head := make([]string, len(ds.cols))
		for i, c := range ds.cols {
			head[i] = c.title()
		}
		line(head)
		s.started = true
	}
	for _, r := range ds.rows {
		cells := make([]string, len(ds.cols))
		for i := range ds.cols {
			cells[i] = cellText(r[i])
		}
		line(cells)
	}
	_, err := io.WriteString(s.w, b.String())
	return err
}
