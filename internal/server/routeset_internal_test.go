package server

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

var routeSetPatterns = []string{
	"POST /model/{modelId}/converse",
	"POST /model/{modelId}/converse-stream",
	"POST /model/{modelId}/invoke",
	"POST /model/{modelId}/invoke-with-response-stream",
	"GET /async-invoke/{invocationArn}",
}

var routeSetTargets = []string{
	"/model/m/converse",
	"/model/anthropic.claude-3-haiku-20240307-v1%3A0/converse",
	"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd1234efgh/invoke",
	"/model/a%2Fb/converse-stream",
	"/model/m/converse/",
	"/model//converse",
	"/model/m/../m/converse",
	"/model/./converse",
	"/model/m/x/converse",
	"/model/m/convers%65",
	"/model/m/delete",
	"/mod%65l/m/invoke",
	"/model/m",
	"/model/",
	"/model",
	"/",
	"/async-invoke/x",
	"/async-invoke/x/",
	"/async-invoke/",
	"/inference-profiles",
	"/model/m%2F..%2Fx/converse",
	"/model/%7Bid%7D/converse",
}

// TestRouteSetMatchesServeMux: the route set decides as a ServeMux holding
// its patterns does, for each method and path, whether the patterns are
// simple or not.
func TestRouteSetMatchesServeMux(t *testing.T) {
	sets := map[string][]string{
		"simple":     routeSetPatterns,
		"not simple": append([]string{"/files/{rest...}"}, routeSetPatterns...),
	}
	for name, patterns := range sets {
		t.Run(name, func(t *testing.T) {
			rs := newRouteSet(patterns)
			if got, want := rs.simple != nil, name == "simple"; got != want {
				t.Fatalf("simple = %v, want %v", got, want)
			}
			for _, method := range []string{"POST", "GET", "HEAD", "PUT"} {
				for _, target := range routeSetTargets {
					checkRouteSet(t, rs, httptest.NewRequest(method, target, nil))
				}
			}
		})
	}
}

func checkRouteSet(t *testing.T, rs *routeSet, r *http.Request) {
	t.Helper()
	_, pattern := rs.mux.Handler(r)
	if got, want := rs.matches(r, sigv4.EscapedPath(r.URL)), pattern != ""; got != want {
		t.Errorf("%s %s: matches = %v, want %v (ServeMux pattern %q)", r.Method, r.URL.RequestURI(), got, want, pattern)
	}
}

func TestParseSimplePattern(t *testing.T) {
	for p, want := range map[string]bool{
		"POST /model/{modelId}/converse": true,
		"/model/{modelId}/converse":      true,
		"GET /a":                         true,
		"POST /model/{modelId}/":         false,
		"POST /files/{rest...}":          false,
		"POST /a/{$}":                    false,
		"example.com/a":                  false,
		"POST example.com/a":             false,
		"POST /a%20b":                    false,
		"POST /a/x{y}":                   false,
		"POST /a//b":                     false,
		"/":                              false,
	} {
		if _, got := parseSimplePattern(p); got != want {
			t.Errorf("parseSimplePattern(%q) simple = %v, want %v", p, got, want)
		}
	}
}

// FuzzRouteSet compares the route set with a ServeMux on arbitrary
// request paths.
func FuzzRouteSet(f *testing.F) {
	for _, target := range routeSetTargets {
		f.Add("POST", target)
	}
	rs := newRouteSet(routeSetPatterns)
	f.Fuzz(func(t *testing.T, method, target string) {
		if method != "GET" && method != "POST" && method != "HEAD" {
			method = "POST"
		}
		if !strings.HasPrefix(target, "/") || strings.ContainsAny(target, " ?#\r\n\t\x00") {
			return
		}
		r, err := http.NewRequest(method, "http://example.com"+target, nil)
		if err != nil {
			return
		}
		checkRouteSet(t, rs, r)
	})
}
