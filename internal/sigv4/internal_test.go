package sigv4

import (
	"crypto/hmac"
	"crypto/sha256"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/httpbinding"
	"github.com/google/go-cmp/cmp"
)

func TestHMAC(t *testing.T) {
	tests := []struct {
		name     string
		key, msg string
	}{
		{name: "empty", key: "", msg: ""},
		{name: "short key", key: "AWS4secret", msg: "20260304"},
		{name: "block-size key", key: strings.Repeat("k", sha256.BlockSize), msg: "us-east-1"},
		{name: "long key", key: strings.Repeat("k", sha256.BlockSize+1), msg: "bedrock"},
		{name: "long message", key: "key", msg: strings.Repeat("AWS4-HMAC-SHA256\n", 40)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf []byte
			got := hmacSHA256(&buf, []byte(tt.key), tt.msg)
			m := hmac.New(sha256.New, []byte(tt.key))
			m.Write([]byte(tt.msg))
			if diff := cmp.Diff(got[:], m.Sum(nil)); diff != "" {
				t.Errorf("hmacSHA256 (-got +want):\n%s", diff)
			}
		})
	}
}

func TestCanonicalURIMatchesSmithy(t *testing.T) {
	for _, p := range []string{
		"/",
		"/model/arn%3Aaws%3Abedrock%3Aus-east-1%3A1%3Aapplication-inference-profile%2Fx/converse",
		"/a b/ü/!$&'()*+,;=:@/~-._",
		"//double//slash/",
		"/%ZZ%",
	} {
		got := string(appendCanonicalURI(nil, p))
		if want := httpbinding.EscapePath(p, false); got != want {
			t.Errorf("appendCanonicalURI(%q) = %q, want %q", p, got, want)
		}
	}
}

func TestParseAmzDate(t *testing.T) {
	tests := []struct {
		in     string
		want   time.Time
		wantOK bool
	}{
		{in: "20260304T050607Z", want: time.Date(2026, 3, 4, 5, 6, 7, 0, time.UTC), wantOK: true},
		{in: "20240229T235959Z", want: time.Date(2024, 2, 29, 23, 59, 59, 0, time.UTC), wantOK: true},
		{in: "20250229T000000Z"}, // not a leap year
		{in: "20261304T000000Z"},
		{in: "20260300T000000Z"},
		{in: "20260304T240000Z"},
		{in: "20260304T006000Z"},
		{in: "20260304T000060Z"},
		{in: "20260304T50607Z"}, // time.Parse would accept a one-digit hour
		{in: "20260304T050607"},
		{in: "20260304 050607Z"},
		{in: "2026030+T050607Z"},
		{in: ""},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, ok := parseAmzDate(tt.in)
			if ok != tt.wantOK || !got.Equal(tt.want) {
				t.Errorf("parseAmzDate(%q) = %v, %v; want %v, %v", tt.in, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}

func TestCanonicalQuery(t *testing.T) {
	tests := []struct {
		name   string
		raw    string
		want   string
		wantOK bool
	}{
		{name: "empty", raw: "", want: "", wantOK: true},
		{name: "sorted by key then value", raw: "b=2&a=2&a=1", want: "a=1&a=2&b=2", wantOK: true},
		{name: "plus is a space", raw: "q=hello+world", want: "q=hello%20world", wantOK: true},
		{name: "re-encoded uppercase", raw: "t=a%2fb%7e%2B", want: "t=a%2Fb~%2B", wantOK: true},
		{name: "sorted after encoding", raw: "v=a-b&v=a/b", want: "v=a%2Fb&v=a-b", wantOK: true},
		{name: "bare key and empty pairs", raw: "&bare&&e=&", want: "bare=&e=", wantOK: true},
		{name: "signature excluded", raw: "X-Amz-Signature=abc&a=1", want: "a=1", wantOK: true},
		{name: "bad escape", raw: "a=%zz", wantOK: false},
		{name: "semicolon", raw: "a=1;b=2", wantOK: false},
		{name: "too many pairs", raw: strings.Repeat("a&", maxQueryParams), wantOK: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s scratch
			got, ok := s.appendCanonicalQuery(nil, tt.raw)
			if ok != tt.wantOK || (ok && string(got) != tt.want) {
				t.Errorf("appendCanonicalQuery(%q) = %q, %v; want %q, %v", tt.raw, got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
