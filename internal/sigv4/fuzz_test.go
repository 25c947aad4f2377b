package sigv4_test

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/sigv4"
)

// sdkAuthorization is a header the SDK signer wrote (see signedRequest).
const sdkAuthorization = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260304/us-east-1/bedrock/aws4_request, SignedHeaders=amz-sdk-invocation-id;amz-sdk-request;content-length;content-type;host;x-amz-date;x-amz-security-token, Signature=182859129c030514153e1fe5af74b14bdadf59867309b8c15b769d7e395e049d"

func FuzzParseAuthorization(f *testing.F) {
	f.Add(sdkAuthorization)
	f.Add("AWS4-HMAC-SHA256 Signature=" + strings.Repeat("a", 64) + ",SignedHeaders=host,Credential=K/20260304/r/s/aws4_request")
	f.Add("AWS4-HMAC-SHA256 Credential=K/20260304/r/s/aws4_request, SignedHeaders=host;;x, Signature=00")
	f.Add("Bearer abc")
	f.Add("")
	f.Fuzz(func(t *testing.T, h string) {
		a, err := sigv4.ParseAuthorization(h)
		if err != nil {
			var e *errkind.Error
			if !errors.As(err, &e) || e.Kind != errkind.Denied || e.Code != "IncompleteSignatureException" {
				t.Fatalf("ParseAuthorization(%q) error = %#v, want a Denied IncompleteSignatureException", h, err)
			}
			return
		}
		if a.AccessKeyID == "" || len(a.Date) != 8 || a.Region == "" || a.Service == "" || len(a.Signature) != 64 {
			t.Fatalf("ParseAuthorization(%q) = %+v: empty or malformed field", h, a)
		}
		if len(a.SignedHeaders) == 0 || !slices.IsSorted(a.SignedHeaders) || slices.Contains(a.SignedHeaders, "") {
			t.Fatalf("ParseAuthorization(%q) SignedHeaders = %q", h, a.SignedHeaders)
		}
		// Re-rendering in the SDK's form parses to the same value.
		again := "AWS4-HMAC-SHA256 Credential=" + a.AccessKeyID + "/" + a.Date + "/" + a.Region + "/" + a.Service +
			"/aws4_request, SignedHeaders=" + strings.Join(a.SignedHeaders, ";") + ", Signature=" + a.Signature
		b, err := sigv4.ParseAuthorization(again)
		if err != nil {
			t.Fatalf("ParseAuthorization(%q) (re-rendered from %q): %v", again, h, err)
		}
		if !slices.Equal(a.SignedHeaders, b.SignedHeaders) || a.AccessKeyID != b.AccessKeyID || a.Date != b.Date ||
			a.Region != b.Region || a.Service != b.Service || a.Signature != b.Signature {
			t.Fatalf("re-parse of %q = %+v, want %+v", again, b, a)
		}
	})
}

// FuzzVerify feeds arbitrary requests to Verify. Whatever the input, Verify
// must not panic and must fail with an *errkind.Error; and once the SDK has
// signed the same request, Verify must accept it, which checks the
// canonicalisation against the SDK's on arbitrary paths, queries and header
// values.
func FuzzVerify(f *testing.F) {
	f.Add(sdkAuthorization, arnPath, "a=1&b=x+y", "X-Amz-Meta-Note", "  two  spaces ", []byte(`{"messages":[]}`))
	f.Add("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20260304/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature="+strings.Repeat("0", 64),
		"/", "", "Content-Type", "application/json", []byte{})
	f.Add("garbage", "/a%2fb/%7E", "k=%zz;x", "X-Amz-Target", "\tTab\t", []byte("body"))
	f.Add("", "/model/x/converse", "nextToken=tok%2F1%2B2%203%3D%3D&maxResults=5", "Accept", "a,b", []byte(nil))
	f.Fuzz(func(t *testing.T, authz, path, query, name, value string, body []byte) {
		u, err := url.ParseRequestURI(path + "?" + query)
		if err != nil {
			return
		}
		newReq := func() *http.Request {
			r := &http.Request{
				Method:        http.MethodPost,
				URL:           u,
				Host:          "bedrock.us-east-1.amazonaws.com",
				Header:        http.Header{"X-Amz-Date": {"20260304T050607Z"}},
				ContentLength: int64(len(body)),
			}
			if fuzzableHeader(name) {
				r.Header.Add(name, value)
			}
			return r
		}
		v := newVerifier(testNow)

		r := newReq()
		r.Header.Set("Authorization", authz)
		if _, err := v.Verify(t.Context(), r, body); err != nil {
			var e *errkind.Error
			if !errors.As(err, &e) {
				t.Fatalf("Verify error %#v is not an *errkind.Error", err)
			}
		}

		uc := *u
		u = &uc
		r = newReq()
		sign(t, r, body, creds(testKeyID, testSecret, ""), "bedrock", "us-east-1", signTime, "")
		if _, err := v.Verify(t.Context(), r, bytes.Clone(body)); err != nil {
			t.Fatalf("Verify of SDK-signed request (path %q, query %q, %s: %q): %v", r.URL.EscapedPath(), r.URL.RawQuery, name, value, err)
		}
	})
}

// fuzzableHeader reports whether a header named name can take an arbitrary
// value in FuzzVerify: a valid field name, and not one that net/http or the
// signer treats specially (the SDK signs Content-Length from ContentLength
// and never reads X-Amz-Content-Sha256, which Verify does).
func fuzzableHeader(name string) bool {
	if name == "" {
		return false
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		ok := 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
		if !ok {
			return false
		}
	}
	switch http.CanonicalHeaderKey(name) {
	case "Authorization", "Content-Length", "X-Amz-Content-Sha256", "X-Amz-Date", "Host":
		return false
	}
	return true
}
