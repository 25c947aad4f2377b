package sigv4

import (
	"strings"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// algorithm is the only signing algorithm Verify accepts.
const algorithm = "AWS4-HMAC-SHA256"

// scopeTerminator ends every SigV4 credential scope.
const scopeTerminator = "aws4_request"

// Authorization is a parsed SigV4 Authorization header:
//
//	AWS4-HMAC-SHA256 Credential=AKID/20260102/us-east-1/bedrock/aws4_request, SignedHeaders=host;x-amz-date, Signature=<64 hex>
type Authorization struct {
	AccessKeyID string
	Date        string // credential-scope date, YYYYMMDD
	Region      string
	Service     string
	// SignedHeaders are the lowercase header names the client signed, in
	// strictly ascending order.
	SignedHeaders []string
	Signature     string // 64 lowercase hex digits
}

// ParseAuthorization parses an Authorization header value of the
// AWS4-HMAC-SHA256 form. It checks syntax only: the credential scope has five
// parts ending in aws4_request with an eight-digit date, SignedHeaders is a
// non-empty, strictly sorted list of lowercase header names, and Signature is
// 64 lowercase hex digits. Which headers must be signed is Verify's concern.
// Errors are *errkind.Error of kind Denied with Code
// "IncompleteSignatureException".
func ParseAuthorization(h string) (Authorization, error) {
	a, err := parseAuth(h)
	if err != nil {
		return Authorization{}, err
	}
	return Authorization{
		AccessKeyID:   a.accessKeyID,
		Date:          a.date,
		Region:        a.region,
		Service:       a.service,
		SignedHeaders: strings.Split(a.signedHeaders, ";"),
		Signature:     a.signature,
	}, nil
}

// auth is the allocation-free form of Authorization used on the hot path:
// every string is a substring of the header value.
type auth struct {
	accessKeyID, date, region, service string
	scope                              string // date/region/service/aws4_request
	signedHeaders                      string // "a;b;c"
	signature                          string

	// Which of the headers Verify cares about are in signedHeaders.
	signsHost, signsAmzDate, signsDate, signsToken bool
}

func incomplete(msg string) *errkind.Error {
	return &errkind.Error{Kind: errkind.Denied, Code: codeIncomplete, Message: msg}
}

// parseAuth parses h. The components may come in any order, separated by
// commas with optional spaces, as AWS accepts them.
func parseAuth(h string) (auth, *errkind.Error) {
	var a auth
	alg, rest, _ := strings.Cut(h, " ")
	if alg != algorithm {
		return a, incomplete("Unsupported Authorization algorithm; only AWS4-HMAC-SHA256 is supported.")
	}
	var credential string
	var haveCred, haveSigned, haveSig bool
	for rest != "" {
		var part string
		part, rest, _ = strings.Cut(rest, ",")
		part = strings.Trim(part, " ")
		if part == "" {
			return a, incomplete("Authorization header contains an empty component.")
		}
		key, val, ok := strings.Cut(part, "=")
		if !ok {
			return a, incomplete("Invalid key=value pair (missing equal-sign) in Authorization header.")
		}
		var seen *bool
		switch key {
		case "Credential":
			credential, seen = val, &haveCred
		case "SignedHeaders":
			a.signedHeaders, seen = val, &haveSigned
		case "Signature":
			a.signature, seen = val, &haveSig
		default:
			return a, incomplete("Authorization header contains an unknown component; expected Credential, SignedHeaders and Signature.")
		}
		if *seen {
			return a, incomplete("Authorization header repeats the " + key + " component.")
		}
		*seen = true
	}
	switch {
	case !haveCred:
		return a, incomplete("Authorization header requires 'Credential' parameter.")
	case !haveSigned:
		return a, incomplete("Authorization header requires 'SignedHeaders' parameter.")
	case !haveSig:
		return a, incomplete("Authorization header requires 'Signature' parameter.")
	}
	if err := a.parseCredential(credential); err != nil {
		return a, err
	}
	if err := a.parseSignedHeaders(); err != nil {
		return a, err
	}
	if !isLowerHex(a.signature, 64) {
		return a, incomplete("Signature must be 64 lowercase hexadecimal characters.")
	}
	return a, nil
}

// parseCredential splits AKID/YYYYMMDD/region/service/aws4_request.
func (a *auth) parseCredential(c string) *errkind.Error {
	const bad = "Credential must have the form <AccessKeyId>/<YYYYMMDD>/<region>/<service>/aws4_request."
	akid, scope, ok := strings.Cut(c, "/")
	if !ok || !isVisible(akid) {
		return incomplete(bad)
	}
	date, rest, _ := strings.Cut(scope, "/")
	region, rest, _ := strings.Cut(rest, "/")
	service, term, _ := strings.Cut(rest, "/")
	if len(date) != 8 || !isDigits(date) || !isVisible(region) || !isVisible(service) {
		return incomplete(bad)
	}
	if term != scopeTerminator {
		return incomplete("Credential should be scoped with a valid terminator: 'aws4_request'.")
	}
	a.accessKeyID, a.date, a.region, a.service, a.scope = akid, date, region, service, scope
	return nil
}

// parseSignedHeaders checks the list the way the SDK writes it (lowercase,
// sorted, no duplicates) and notes the headers Verify requires.
func (a *auth) parseSignedHeaders() *errkind.Error {
	if a.signedHeaders == "" {
		return incomplete("SignedHeaders must not be empty.")
	}
	prev := ""
	for rest := a.signedHeaders; rest != ""; {
		var name string
		name, rest, _ = strings.Cut(rest, ";")
		if !isLowerToken(name) && name != ":authority" {
			return incomplete("SignedHeaders must be lowercase header names separated by ';'.")
		}
		if prev != "" && name <= prev {
			return incomplete("SignedHeaders must be sorted and free of duplicates.")
		}
		prev = name
		switch name {
		case "host", ":authority":
			// Over HTTP/2 the JavaScript SDK signs the :authority
			// pseudo-header in place of host; both carry r.Host.
			a.signsHost = true
		case "x-amz-date":
			a.signsAmzDate = true
		case "date":
			a.signsDate = true
		case "x-amz-security-token":
			a.signsToken = true
		}
	}
	if strings.HasSuffix(a.signedHeaders, ";") {
		return incomplete("SignedHeaders must be lowercase header names separated by ';'.")
	}
	return nil
}

// isLowerToken reports whether s is a non-empty HTTP token (RFC 9110
// field-name) without uppercase letters.
func isLowerToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !isTokenByte(c) || ('A' <= c && c <= 'Z') {
			return false
		}
	}
	return true
}

func isTokenByte(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	return strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0
}

// isVisible reports whether s is non-empty printable ASCII without spaces.
func isVisible(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if s[i] <= ' ' || s[i] > '~' {
			return false
		}
	}
	return true
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isLowerHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
