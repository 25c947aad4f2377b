package server

import (
	"net/http"
	"strings"
)

// routeSet answers whether an http.ServeMux holding its patterns would
// route a request to one of them (ServeMux.Handler's pattern is not ""),
// without the ServeMux's work per request: the routing tree, the
// unescaping of every segment and the slice of wildcard values. It
// decides itself for patterns of the form "[METHOD ]/lit/{name}/lit" —
// literal and single-segment wildcard segments, no host, no trailing
// slash, no {name...} or {$} — and for a request whose escaped path a
// ServeMux would neither clean nor redirect and whose literal positions
// hold no percent-escape; it asks the ServeMux otherwise.
type routeSet struct {
	mux *http.ServeMux
	// simple are the patterns split up; nil when one of them is not
	// simple (every request then asks mux).
	simple []simplePattern
}

// simplePattern is a simple ServeMux pattern: its method ("" for any)
// and its segments, "" standing for a wildcard.
type simplePattern struct {
	method string
	segs   []string
}

// newRouteSet returns the routeSet of patterns.
func newRouteSet(patterns []string) *routeSet {
	rs := &routeSet{mux: http.NewServeMux()}
	for _, p := range patterns {
		rs.mux.HandleFunc(p, http.NotFound)
	}
	simple := make([]simplePattern, 0, len(patterns))
	for _, p := range patterns {
		sp, ok := parseSimplePattern(p)
		if !ok {
			return rs
		}
		simple = append(simple, sp)
	}
	rs.simple = simple
	return rs
}

// parseSimplePattern splits p up, reporting whether it is simple.
func parseSimplePattern(p string) (simplePattern, bool) {
	var sp simplePattern
	if i := strings.IndexAny(p, " \t"); i >= 0 {
		sp.method, p = p[:i], p[i+1:]
		if sp.method == "" || strings.ContainsAny(p, " \t") {
			return simplePattern{}, false
		}
	}
	if len(p) < 2 || p[0] != '/' || p[len(p)-1] == '/' {
		return simplePattern{}, false
	}
	for seg := range strings.SplitSeq(p[1:], "/") {
		switch {
		case seg == "":
			return simplePattern{}, false
		case seg[0] == '{':
			name, ok := strings.CutSuffix(seg[1:], "}")
			if !ok || name == "" || name == "$" || strings.HasSuffix(name, "...") || strings.ContainsAny(name, "{}") {
				return simplePattern{}, false
			}
			seg = ""
		case strings.ContainsAny(seg, "{}%"):
			return simplePattern{}, false
		}
		sp.segs = append(sp.segs, seg)
	}
	return sp, true
}

// matches reports whether a ServeMux of the set's patterns routes r, whose
// escaped path (URL.EscapedPath) is escaped, to one of them.
func (rs *routeSet) matches(r *http.Request, escaped string) bool {
	if rs.simple == nil || r.Method == http.MethodConnect || escaped == "" ||
		escaped[len(escaped)-1] == '/' || !canonicalPath(escaped) {
		_, pattern := rs.mux.Handler(r)
		return pattern != ""
	}
	for i := range rs.simple {
		switch ok, sure := rs.simple[i].match(r.Method, escaped); {
		case !sure:
			_, pattern := rs.mux.Handler(r)
			return pattern != ""
		case ok:
			return true
		}
	}
	return false
}

// match reports whether the pattern matches a request of method for the
// canonical escaped path, unless sure is false: a literal position of the
// path holds a percent-escape, which only the ServeMux decides.
func (sp *simplePattern) match(method, escaped string) (ok, sure bool) {
	if sp.method != "" && sp.method != method && (sp.method != http.MethodGet || method != http.MethodHead) {
		return false, true
	}
	rest := escaped[1:]
	for i, want := range sp.segs {
		seg, tail, more := strings.Cut(rest, "/")
		if more != (i < len(sp.segs)-1) {
			return false, true
		}
		if want != "" && seg != want {
			if strings.IndexByte(seg, '%') >= 0 {
				return false, false
			}
			return false, true
		}
		rest = tail
	}
	return true, true
}
