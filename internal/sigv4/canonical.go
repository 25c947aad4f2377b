package sigv4

import (
	"bytes"
	"crypto/sha256"
	"net/http"
	"net/textproto"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// This file rebuilds the canonical request exactly as aws-sdk-go-v2's
// aws/signer/v4 builds it (httpSigner.Build), into reusable buffers.

// maxQueryParams matches net/url's default limit: above it url.Values parsing
// fails, the SDK would sign an empty query, and handlers would see none.
const maxQueryParams = 10000

// scratch holds the per-call buffers; it is pooled so a verification
// allocates nothing in steady state.
type scratch struct {
	canon  []byte  // canonical request, then string to sign
	query  []byte  // encoded query keys and values, addressed by params
	params []param // query parameters to sort
	mac    []byte  // HMAC input
	key    []byte  // "AWS4" + secret
}

// param locates an encoded key and value in scratch.query.
type param struct{ start, mid, end int }

var scratchPool = sync.Pool{New: func() any { return new(scratch) }}

// maxPooled bounds the buffers a scratch keeps, so one huge request does not
// pin memory in the pool.
const maxPooled = 64 << 10

func getScratch() *scratch { return scratchPool.Get().(*scratch) }

func putScratch(s *scratch) {
	if cap(s.canon) > maxPooled || cap(s.query) > maxPooled || cap(s.params) > maxPooled/8 {
		return
	}
	clear(s.key) // the secret must not linger
	s.key = s.key[:0]
	scratchPool.Put(s)
}

// appendCanonicalRequest appends
//
//	method \n uri \n query \n headers \n signedHeaders \n payloadHash
//
// where headers is one "name:value\n" line per signed header. It reports
// false if the query string is one net/url would refuse to parse.
func (s *scratch) appendCanonicalRequest(dst []byte, r *http.Request, signedHeaders string, payloadHash []byte) ([]byte, bool) {
	dst = append(dst, r.Method...)
	dst = append(dst, '\n')
	dst = appendCanonicalURI(dst, requestPath(r))
	dst = append(dst, '\n')
	dst, ok := s.appendCanonicalQuery(dst, r.URL.RawQuery)
	if !ok {
		return dst, false
	}
	dst = append(dst, '\n')
	for rest := signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		dst = append(dst, name...)
		dst = append(dst, ':')
		dst = appendHeaderValues(dst, r, name)
		dst = append(dst, '\n')
	}
	dst = append(dst, '\n')
	dst = append(dst, signedHeaders...)
	dst = append(dst, '\n')
	dst = append(dst, payloadHash...)
	return dst, true
}

// requestPath returns the path as the client escaped it, which is what the
// SDK signed (v4Internal.GetURIPath): URL.Opaque for requests built that way,
// else URL.EscapedPath(). EscapedPath is RawPath, the path as received, when
// RawPath is a valid encoding of Path; rawPathValid checks that without
// EscapedPath's allocation.
func requestPath(r *http.Request) string {
	u := r.URL
	if u.Opaque != "" {
		p := u.Opaque
		if i := strings.IndexByte(p, '?'); i >= 0 {
			p = p[:i]
		}
		p = strings.TrimPrefix(p, "//")
		if i := strings.IndexByte(p, '/'); i >= 0 {
			return p[i:]
		}
		return ""
	}
	return EscapedPath(u)
}

// EscapedPath returns u.EscapedPath() without its allocation in the common
// case of a percent-encoded path: RawPath when it is a valid encoding of
// Path, as EscapedPath checks (rawPathValid), else EscapedPath itself.
func EscapedPath(u *url.URL) string {
	if u.RawPath != "" && rawPathValid(u.RawPath, u.Path) {
		return u.RawPath
	}
	return u.EscapedPath()
}

// rawPathValid reports whether raw holds only bytes net/url allows unescaped
// in a path (validEncoded) and unescapes to path.
func rawPathValid(raw, path string) bool {
	j := 0
	for i := 0; i < len(raw); i++ {
		c := raw[i]
		if c == '%' {
			if i+2 >= len(raw) || !isHex(raw[i+1]) || !isHex(raw[i+2]) {
				return false
			}
			c = unhex(raw[i+1])<<4 | unhex(raw[i+2])
			i += 2
		} else if !unreserved(c) && strings.IndexByte("$&+,/:;=@!'()*[]", c) < 0 {
			return false
		}
		if j >= len(path) || path[j] != c {
			return false
		}
		j++
	}
	return j == len(path)
}

// appendCanonicalURI escapes p again, as httpbinding.EscapePath(p, false)
// does: every byte but A-Z a-z 0-9 - . _ ~ and '/' becomes %XX, so an
// escaped "%3A" is signed as "%253A". An empty path is "/".
func appendCanonicalURI(dst []byte, p string) []byte {
	if p == "" {
		return append(dst, '/')
	}
	for i := 0; i < len(p); i++ {
		c := p[i]
		if unreserved(c) || c == '/' {
			dst = append(dst, c)
		} else {
			dst = appendPercent(dst, c)
		}
	}
	return dst
}

// appendCanonicalQuery appends the query as the SDK canonicalises it
// (url.Values from URL.Query, then v4Internal.EncodeQuery): each key and value
// decoded ('+' is a space) and re-encoded RFC 3986 style with %20 for space,
// pairs sorted by encoded key then encoded value, X-Amz-Signature left out.
// Where url.ParseQuery would silently drop a pair (a ';', a bad escape) or
// give up (too many pairs), it reports false instead, so nothing a handler
// could read goes unsigned.
func (s *scratch) appendCanonicalQuery(dst []byte, raw string) ([]byte, bool) {
	if raw == "" {
		return dst, true
	}
	if strings.Count(raw, "&") >= maxQueryParams {
		return dst, false
	}
	s.query, s.params = s.query[:0], s.params[:0]
	for raw != "" {
		var pair string
		pair, raw, _ = strings.Cut(raw, "&")
		if pair == "" {
			continue
		}
		if strings.IndexByte(pair, ';') >= 0 {
			return dst, false
		}
		k, v, _ := strings.Cut(pair, "=")
		start := len(s.query)
		var ok1, ok2 bool
		s.query, ok1 = appendRequeryEscaped(s.query, k)
		mid := len(s.query)
		s.query, ok2 = appendRequeryEscaped(s.query, v)
		if !ok1 || !ok2 {
			return dst, false
		}
		if string(s.query[start:mid]) == "X-Amz-Signature" {
			s.query = s.query[:start]
			continue
		}
		s.params = append(s.params, param{start, mid, len(s.query)})
	}
	q := s.query
	slices.SortFunc(s.params, func(a, b param) int {
		if c := bytes.Compare(q[a.start:a.mid], q[b.start:b.mid]); c != 0 {
			return c
		}
		return bytes.Compare(q[a.mid:a.end], q[b.mid:b.end])
	})
	for i, p := range s.params {
		if i > 0 {
			dst = append(dst, '&')
		}
		dst = append(dst, q[p.start:p.mid]...)
		dst = append(dst, '=')
		dst = append(dst, q[p.mid:p.end]...)
	}
	return dst, true
}

// appendRequeryEscaped decodes one query component as url.QueryUnescape does
// and appends it encoded as SigV4 wants; it reports false on a bad escape.
func appendRequeryEscaped(dst []byte, s string) ([]byte, bool) {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '+':
			c = ' '
		case '%':
			if i+2 >= len(s) || !isHex(s[i+1]) || !isHex(s[i+2]) {
				return dst, false
			}
			c = unhex(s[i+1])<<4 | unhex(s[i+2])
			i += 2
		}
		if unreserved(c) {
			dst = append(dst, c)
		} else {
			dst = appendPercent(dst, c)
		}
	}
	return dst, true
}

// appendHeaderValues appends the canonical value of the signed header name
// (lowercase): the request's values, each trimmed with inner runs of spaces
// collapsed, joined by ','. Host comes from r.Host, where net/http moves it;
// Content-Length from r.ContentLength when net/http did not keep the header
// (client-side requests).
func appendHeaderValues(dst []byte, r *http.Request, name string) []byte {
	switch name {
	case "host", ":authority":
		return appendStripped(dst, r.Host)
	case "content-length":
		if _, ok := r.Header["Content-Length"]; !ok {
			if r.ContentLength < 0 {
				return dst
			}
			return strconv.AppendInt(dst, r.ContentLength, 10)
		}
	}
	for i, v := range headerValues(r.Header, name) {
		if i > 0 {
			dst = append(dst, ',')
		}
		start := len(dst)
		dst = appendStripped(dst, v)
		// The SDK also applies strings.TrimSpace after stripping spaces.
		if t := bytes.TrimSpace(dst[start:]); len(t) != len(dst)-start {
			dst = dst[:start+copy(dst[start:], t)]
		}
	}
	return dst
}

// appendStripped appends v without leading and trailing spaces and with each
// inner run of spaces collapsed to one, like v4Internal.StripExcessSpaces.
// Only ' ' counts; tabs are left to the caller's TrimSpace.
func appendStripped(dst []byte, v string) []byte {
	v = strings.Trim(v, " ")
	space := false
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		dst = append(dst, c)
	}
	return dst
}

// headerValues returns h's values for the lowercase token name, looking it up
// under its canonical MIME key without allocating.
func headerValues(h http.Header, name string) []string {
	var buf [64]byte
	if len(name) > len(buf) {
		return h[textproto.CanonicalMIMEHeaderKey(name)]
	}
	k := buf[:len(name)]
	upper := true
	for i := 0; i < len(name); i++ {
		c := name[i]
		if upper && 'a' <= c && c <= 'z' {
			c -= 'a' - 'A'
		}
		k[i] = c
		upper = c == '-'
	}
	return h[string(k)]
}

// hmacSHA256 returns HMAC-SHA256 (RFC 2104) of msg under key, using buf
// (which must not alias key or msg) as scratch space. It is crypto/hmac
// without the per-call allocations of hmac.New; TestHMAC checks the two agree.
func hmacSHA256[M string | []byte](buf *[]byte, key []byte, msg M) [sha256.Size]byte {
	var k [sha256.BlockSize]byte
	if len(key) > len(k) {
		sum := sha256.Sum256(key)
		copy(k[:], sum[:])
	} else {
		copy(k[:], key)
	}
	b := (*buf)[:0]
	for _, c := range k {
		b = append(b, c^0x36)
	}
	b = append(b, msg...)
	inner := sha256.Sum256(b)
	b = b[:0]
	for _, c := range k {
		b = append(b, c^0x5c)
	}
	b = append(b, inner[:]...)
	out := sha256.Sum256(b)
	clear(b)
	clear(k[:])
	*buf = b[:0]
	return out
}

func unreserved(c byte) bool {
	return 'A' <= c && c <= 'Z' || 'a' <= c && c <= 'z' || '0' <= c && c <= '9' ||
		c == '-' || c == '.' || c == '_' || c == '~'
}

const upperHex = "0123456789ABCDEF"

func appendPercent(dst []byte, c byte) []byte {
	return append(dst, '%', upperHex[c>>4], upperHex[c&15])
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

func unhex(c byte) byte {
	switch {
	case '0' <= c && c <= '9':
		return c - '0'
	case 'a' <= c && c <= 'f':
		return c - 'a' + 10
	default:
		return c - 'A' + 10
	}
}

// decodeHex decodes exactly len(dst)*2 hex digits of s into dst.
func decodeHex[S string | []byte](dst []byte, s S) bool {
	if len(s) != 2*len(dst) {
		return false
	}
	for i := range dst {
		if !isHex(s[2*i]) || !isHex(s[2*i+1]) {
			return false
		}
		dst[i] = unhex(s[2*i])<<4 | unhex(s[2*i+1])
	}
	return true
}
