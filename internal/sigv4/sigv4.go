// Package sigv4 verifies AWS Signature Version 4 on incoming requests, the
// way AWS services do for the Authorization-header form (AWS4-HMAC-SHA256).
// It owns authentication only: it proves which access key signed a request
// for which region and service, and leaves what that key may do to others.
//
// The canonical request is rebuilt exactly as aws-sdk-go-v2's signer builds
// it, so any request that SDK signs verifies. Presigned URLs (query-string
// auth), chunked payload signing (STREAMING-*) and SigV4a are not supported.
package sigv4

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// AWS exception names Verify puts in errkind.Error.Code. All are HTTP 403.
const (
	codeMissingToken = "MissingAuthenticationTokenException"
	codeIncomplete   = "IncompleteSignatureException"
	codeUnrecognized = "UnrecognizedClientException"
	codeInvalidSig   = "InvalidSignatureException"
)

const (
	amzDateFormat        = "20060102T150405Z"
	unsignedPayload      = "UNSIGNED-PAYLOAD"
	defaultMaxSkew       = 5 * time.Minute
	maxCachedSigningKeys = 1024
)

// SecretLookup finds the secret for an access key id. It returns an error of
// kind errkind.NotFound when the key is unknown (or inactive); any other
// error is treated as the store failing. Safe for concurrent use.
type SecretLookup interface {
	Secret(ctx context.Context, accessKeyID string) (string, error)
}

// Verifier checks SigV4 signatures. Set its fields before first use and do
// not copy it afterwards; it is safe for concurrent use. It caches derived
// signing keys (one per key id, day, region and service, checked against the
// current secret on every use), so a rotated secret takes effect at once.
type Verifier struct {
	// Keys resolves access key ids to secrets. Required.
	Keys SecretLookup
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// MaxSkew is how far the request date may be from Now, either way;
	// 0 means 5 minutes, as AWS allows.
	MaxSkew time.Duration
	// AllowUnsignedPayload accepts X-Amz-Content-Sha256: UNSIGNED-PAYLOAD.
	// Default false: as on the AWS services Tollgate serves (S3 is the
	// exception), the signature must cover the body.
	AllowUnsignedPayload bool

	mu   sync.RWMutex
	keys map[scopeKey]signingKey
}

// scopeKey identifies a derived signing key.
type scopeKey struct{ accessKeyID, date, region, service string }

// signingKey is a derived key and the secret it was derived from.
type signingKey struct {
	secret string
	key    [sha256.Size]byte
}

// Result is what a verified signature proves.
type Result struct {
	AccessKeyID string
	// Region and Service are the credential scope the client signed for;
	// the caller checks they name this endpoint.
	Region  string
	Service string
	// SessionToken is the X-Amz-Security-Token header, which Verify
	// requires to be signed when present; empty if absent.
	SessionToken string
	// Date is the request's signing time (X-Amz-Date, else Date), in UTC.
	Date time.Time
}

// Verify checks r's signature over body (the full request body, already read
// by the caller; r.Body is not read). On success it returns what the
// signature proves. Failures are *errkind.Error of kind Denied whose Code is
// the AWS exception name (MissingAuthenticationTokenException,
// IncompleteSignatureException, UnrecognizedClientException or
// InvalidSignatureException) and whose Message is safe for the client; a
// failing key store yields kind Unavailable or Internal.
//
// Verify is Prepare followed by Finish; a server that reads bodies only
// from callers whose headers already passed calls the two itself.
func (v *Verifier) Verify(ctx context.Context, r *http.Request, body []byte) (Result, error) {
	p, err := v.Prepare(ctx, r)
	if err != nil {
		return Result{}, err
	}
	return v.Finish(&p, body)
}

// Prepared is a request whose headers passed every check that needs no
// body: a well-formed Authorization header for an active access key, a
// signing time within the allowed skew, and a signed security token. Only
// Finish, with the body, proves the signature.
type Prepared struct {
	r       *http.Request
	a       auth
	date    time.Time
	amzDate string
	token   string
	secret  string
	// payloadHash is X-Amz-Content-Sha256 when the client sent one.
	payloadHash string
}

// Scope returns the credential scope's region and service, so a caller can
// refuse a request signed for another endpoint before reading its body.
func (p *Prepared) Scope() (region, service string) { return p.a.region, p.a.service }

// Prepare checks r's headers: everything Verify checks except the
// signature itself, which covers the body. It looks the access key up, so
// a request with an unknown or inactive key fails here, before its body is
// read. Errors are as for Verify.
func (v *Verifier) Prepare(ctx context.Context, r *http.Request) (Prepared, error) {
	hv := r.Header["Authorization"]
	if len(hv) == 0 || hv[0] == "" {
		return Prepared{}, &errkind.Error{Kind: errkind.Denied, Code: codeMissingToken, Message: "Missing Authentication Token"}
	}
	if len(hv) > 1 {
		return Prepared{}, incomplete("Only one Authorization header is allowed.")
	}
	a, perr := parseAuth(hv[0])
	if perr != nil {
		return Prepared{}, perr
	}
	if !a.signsHost {
		return Prepared{}, incomplete("'Host' must be a 'SignedHeader' in the AWS Authorization.")
	}

	date, amzDate, derr := a.requestDate(r)
	if derr != nil {
		return Prepared{}, derr
	}
	if err := v.checkSkew(date); err != nil {
		return Prepared{}, err
	}
	p := Prepared{r: r, a: a, date: date, amzDate: amzDate}
	if tv := r.Header["X-Amz-Security-Token"]; len(tv) > 0 {
		if len(tv) > 1 || !a.signsToken {
			return Prepared{}, incomplete("'X-Amz-Security-Token' must be a single 'SignedHeader' in the AWS Authorization.")
		}
		p.token = tv[0]
	}
	if cv := r.Header["X-Amz-Content-Sha256"]; len(cv) > 0 {
		switch {
		case len(cv) > 1:
			return Prepared{}, incomplete("Only one X-Amz-Content-Sha256 header is allowed.")
		case cv[0] == unsignedPayload:
			if !v.AllowUnsignedPayload {
				return Prepared{}, incomplete("This service requires a signed payload: X-Amz-Content-Sha256 must be the hex SHA-256 of the payload, not UNSIGNED-PAYLOAD.")
			}
		case isHexString(cv[0], 2*sha256.Size):
		default:
			return Prepared{}, incomplete("X-Amz-Content-Sha256 must be UNSIGNED-PAYLOAD or the hex SHA-256 of the payload.")
		}
		p.payloadHash = cv[0]
	}

	if v.Keys == nil {
		return Prepared{}, errkind.New(errkind.Internal, "internal error")
	}
	secret, err := v.Keys.Secret(ctx, a.accessKeyID)
	switch {
	case err == nil:
		if secret == "" {
			// Fail closed: "AWS4" alone is a key anyone can compute.
			return Prepared{}, errkind.New(errkind.Internal, "internal error")
		}
	case errkind.Is(err, errkind.NotFound):
		return Prepared{}, &errkind.Error{Kind: errkind.Denied, Code: codeUnrecognized,
			Message: "The security token included in the request is invalid.", Err: err}
	case errkind.Is(err, errkind.Unavailable):
		return Prepared{}, errkind.Wrap(errkind.Unavailable, err, "The credential store is unavailable; retry later.")
	default:
		return Prepared{}, errkind.Wrap(errkind.Internal, err, "internal error")
	}
	p.secret = secret
	return p, nil
}

// Finish proves the signature of a prepared request over its body (the
// full request body; the request's Body is not read). Errors are as for
// Verify.
func (v *Verifier) Finish(p *Prepared, body []byte) (Result, error) {
	a, r := &p.a, p.r
	// The payload hash line is the X-Amz-Content-Sha256 header when the
	// client sent one (S3 style), else the hex SHA-256 of the body.
	var payloadBuf [2 * sha256.Size]byte
	var payload []byte
	var bodySum [sha256.Size]byte
	checkBody := false
	switch {
	case p.payloadHash == unsignedPayload:
		payload = append(payloadBuf[:0], p.payloadHash...)
	case p.payloadHash != "":
		payload, checkBody = append(payloadBuf[:0], p.payloadHash...), true
		bodySum = sha256.Sum256(body)
	default:
		bodySum = sha256.Sum256(body)
		hex.Encode(payloadBuf[:], bodySum[:])
		payload = payloadBuf[:]
	}

	s := getScratch()
	defer putScratch(s)

	var ok bool
	if s.canon, ok = s.appendCanonicalRequest(s.canon[:0], r, a.signedHeaders, payload); !ok {
		return Result{}, incomplete("The query string is malformed.")
	}
	canonSum := sha256.Sum256(s.canon)
	sts := append(s.canon[:0], algorithm+"\n"...)
	sts = append(sts, p.amzDate...)
	sts = append(sts, '\n')
	sts = append(sts, a.scope...)
	sts = append(sts, '\n')
	sts = hex.AppendEncode(sts, canonSum[:])
	s.canon = sts

	key := v.signingKey(s, a, p.secret)
	mac := hmacSHA256(&s.mac, key[:], sts)
	var got [sha256.Size]byte
	if !decodeHex(got[:], a.signature) || !hmac.Equal(got[:], mac[:]) {
		return Result{}, &errkind.Error{Kind: errkind.Denied, Code: codeInvalidSig,
			Message: "The request signature we calculated does not match the signature you provided. Check your AWS Secret Access Key and signing method."}
	}
	if checkBody {
		var claimed [sha256.Size]byte
		decodeHex(claimed[:], payload)
		if !hmac.Equal(claimed[:], bodySum[:]) {
			return Result{}, &errkind.Error{Kind: errkind.Denied, Code: codeInvalidSig,
				Message: "The provided 'x-amz-content-sha256' header does not match what was computed."}
		}
	}
	v.storeSigningKey(a, p.secret, key)

	return Result{
		AccessKeyID:  a.accessKeyID,
		Region:       a.region,
		Service:      a.service,
		SessionToken: p.token,
		Date:         p.date,
	}, nil
}

// Signs reports whether the signature covers the header name (any case).
func (p *Prepared) Signs(name string) bool {
	for h := range strings.SplitSeq(p.a.signedHeaders, ";") {
		if strings.EqualFold(h, name) {
			return true
		}
	}
	return false
}

// requestDate returns the signing time from X-Amz-Date (else Date) and its
// ISO 8601 basic form for the string to sign, checking the header is signed
// and its day is the credential scope's.
func (a *auth) requestDate(r *http.Request) (time.Time, string, *errkind.Error) {
	var t time.Time
	var iso string
	if xv := r.Header["X-Amz-Date"]; len(xv) > 0 {
		if len(xv) > 1 {
			return t, "", incomplete("Only one X-Amz-Date header is allowed.")
		}
		var ok bool
		if t, ok = parseAmzDate(xv[0]); !ok {
			return t, "", incomplete("Date must be in ISO-8601 'basic format' (YYYYMMDD'T'HHMMSS'Z').")
		}
		if !a.signsAmzDate {
			return t, "", incomplete("'X-Amz-Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		iso = xv[0]
	} else if dv := r.Header["Date"]; len(dv) > 0 {
		var err error
		if len(dv) > 1 {
			return t, "", incomplete("Only one Date header is allowed.")
		}
		if t, err = http.ParseTime(dv[0]); err != nil {
			return t, "", incomplete("The Date header is not a valid HTTP date.")
		}
		if !a.signsDate {
			return t, "", incomplete("'Date' must be a 'SignedHeader' in the AWS Authorization.")
		}
		t = t.UTC()
		iso = t.Format(amzDateFormat)
	} else {
		return t, "", incomplete("Authorization header requires existence of either a 'X-Amz-Date' or a 'Date' header.")
	}
	if iso[:8] != a.date {
		return t, "", &errkind.Error{Kind: errkind.Denied, Code: codeInvalidSig, Message: fmt.Sprintf(
			"Date in Credential scope does not match YYYYMMDD from ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'.",
			a.date, iso[:8], iso)}
	}
	return t, iso, nil
}

// checkSkew rejects a signing time more than MaxSkew from now, with AWS's
// wording.
func (v *Verifier) checkSkew(date time.Time) *errkind.Error {
	now := time.Now
	if v.Now != nil {
		now = v.Now
	}
	skew := v.MaxSkew
	if skew <= 0 {
		skew = defaultMaxSkew
	}
	n := now().UTC().Truncate(time.Second)
	var msg string
	switch {
	case date.Before(n.Add(-skew)):
		msg = fmt.Sprintf("Signature expired: %s is now earlier than %s (%s - %s.)",
			date.Format(amzDateFormat), n.Add(-skew).Format(amzDateFormat), n.Format(amzDateFormat), skewString(skew))
	case date.After(n.Add(skew)):
		msg = fmt.Sprintf("Signature not yet current: %s is still later than %s (%s + %s.)",
			date.Format(amzDateFormat), n.Add(skew).Format(amzDateFormat), n.Format(amzDateFormat), skewString(skew))
	default:
		return nil
	}
	return &errkind.Error{Kind: errkind.Denied, Code: codeInvalidSig, Message: msg}
}

func skewString(d time.Duration) string {
	if d%time.Minute == 0 {
		return fmt.Sprintf("%d min", d/time.Minute)
	}
	return d.String()
}

// signingKey returns the key derived from secret for a's scope, from the
// cache when it was derived from the same secret.
func (v *Verifier) signingKey(s *scratch, a *auth, secret string) [sha256.Size]byte {
	k := scopeKey{a.accessKeyID, a.date, a.region, a.service}
	v.mu.RLock()
	e, ok := v.keys[k]
	v.mu.RUnlock()
	if ok && e.secret == secret {
		return e.key
	}
	s.key = append(append(s.key[:0], "AWS4"...), secret...)
	key := hmacSHA256(&s.mac, s.key, a.date)
	key = hmacSHA256(&s.mac, key[:], a.region)
	key = hmacSHA256(&s.mac, key[:], a.service)
	return hmacSHA256(&s.mac, key[:], scopeTerminator)
}

// storeSigningKey caches a key that just verified a signature, so keys are
// cached only for callers who know the secret. The cache is cleared when
// full; a day's working set is small.
func (v *Verifier) storeSigningKey(a *auth, secret string, key [sha256.Size]byte) {
	k := scopeKey{a.accessKeyID, a.date, a.region, a.service}
	v.mu.RLock()
	e, ok := v.keys[k]
	v.mu.RUnlock()
	if ok && e.secret == secret {
		return
	}
	// Clone so the cache does not pin the request's header strings.
	k = scopeKey{strings.Clone(k.accessKeyID), strings.Clone(k.date), strings.Clone(k.region), strings.Clone(k.service)}
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.keys == nil || len(v.keys) >= maxCachedSigningKeys {
		v.keys = make(map[scopeKey]signingKey)
	}
	v.keys[k] = signingKey{secret: secret, key: key}
}

// parseAmzDate parses exactly YYYYMMDDTHHMMSSZ (time.Parse would also take
// a one-digit hour).
func parseAmzDate(s string) (time.Time, bool) {
	if len(s) != len(amzDateFormat) || s[8] != 'T' || s[15] != 'Z' || !isDigits(s[:8]) || !isDigits(s[9:15]) {
		return time.Time{}, false
	}
	n := func(i, j int) int {
		v := 0
		for _, c := range []byte(s[i:j]) {
			v = v*10 + int(c-'0')
		}
		return v
	}
	y, mo, d, h, mi, sec := n(0, 4), n(4, 6), n(6, 8), n(9, 11), n(11, 13), n(13, 15)
	t := time.Date(y, time.Month(mo), d, h, mi, sec, 0, time.UTC)
	if mo < 1 || mo > 12 || t.Day() != d || h > 23 || mi > 59 || sec > 59 {
		return time.Time{}, false
	}
	return t, true
}

// isHexString reports whether s is n hex digits of either case.
func isHexString(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isHex(s[i]) {
			return false
		}
	}
	return true
}
