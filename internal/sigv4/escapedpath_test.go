package sigv4_test

import (
	"net/url"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

// TestEscapedPath: EscapedPath returns what URL.EscapedPath does, for
// paths as received and for a URL whose RawPath no longer encodes Path.
func TestEscapedPath(t *testing.T) {
	for _, target := range []string{
		"/model/m/converse",
		"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A123456789012%3Aapplication-inference-profile%2Fabcd/converse",
		"/model/a%2Fb/invoke",
		"/a%20b",
		"/a%25b",
		"/a+b",
		"/%7Bx%7D",
		"/a;b,c",
		"/",
	} {
		u, err := url.ParseRequestURI(target)
		if err != nil {
			t.Fatal(err)
		}
		if got, want := sigv4.EscapedPath(u), u.EscapedPath(); got != want {
			t.Errorf("EscapedPath(%q) = %q, want %q", target, got, want)
		}
		u.Path += "x" // RawPath is stale
		if got, want := sigv4.EscapedPath(u), u.EscapedPath(); got != want {
			t.Errorf("EscapedPath(%q, stale RawPath) = %q, want %q", target, got, want)
		}
	}
}
