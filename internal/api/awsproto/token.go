package awsproto

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/json"
	"strconv"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// Tokens issues and reads one service's pagination tokens. A token is
// opaque to clients and bound to the request it continues: the
// operation, the caller's account and the request's parameters (the
// bind value, typically the input without its token and page size).
//
// Format, base64url without padding:
//
//	version (1 byte, 1) | request hash (12 bytes) | check (8 bytes) | cursor
//
// The request hash is SHA-256 over the operation, account and the bind
// value's JSON; the check is SHA-256 over the request hash and the
// cursor, so a token altered in transit, or made up, does not read. The
// hashes are not keyed: a client able to compute them gains only a
// position in its own results, which every cursor reader checks against
// the result set.
type Tokens struct {
	// Member is the token's request member ("NextToken"), named in errors.
	Member string
	// Invalid is the exception of a token that does not read; "" is the
	// service's exception for errkind.Invalid.
	Invalid string
	// Changed is the exception of a token presented with other
	// parameters than the request it continues; "" is Invalid's, with
	// Invalid's message.
	Changed string
}

const tokenVersion = 1

func requestHash(ctx context.Context, bind any) []byte {
	b, err := json.Marshal(bind)
	if err != nil {
		panic("awsproto: pagination bind value does not encode: " + err.Error())
	}
	h := sha256.New()
	h.Write([]byte(Info(ctx).Op))
	h.Write([]byte{0})
	h.Write([]byte(Account(ctx)))
	h.Write([]byte{0})
	h.Write(b)
	return h.Sum(nil)[:12]
}

func tokenCheck(req []byte, cursor string) []byte {
	sum := sha256.Sum256(append(bytes.Clone(req), cursor...))
	return sum[:8]
}

// Next returns the token that continues the request of ctx's operation
// and account with parameters bind at cursor.
func (t Tokens) Next(ctx context.Context, bind any, cursor string) string {
	req := requestHash(ctx, bind)
	raw := make([]byte, 0, 1+12+8+len(cursor))
	raw = append(raw, tokenVersion)
	raw = append(raw, req...)
	raw = append(raw, tokenCheck(req, cursor)...)
	raw = append(raw, cursor...)
	return base64.RawURLEncoding.EncodeToString(raw)
}

// Read returns the cursor tok continues from, "" when tok is nil or
// empty. A token that does not read is an Invalid error with the Invalid
// exception; one issued for other parameters, with the Changed exception.
func (t Tokens) Read(ctx context.Context, tok *string, bind any) (string, error) {
	if tok == nil || *tok == "" {
		return "", nil
	}
	raw, err := base64.RawURLEncoding.DecodeString(*tok)
	if err != nil || len(raw) < 21 || raw[0] != tokenVersion {
		return "", t.invalid()
	}
	req, check, cursor := raw[1:13], raw[13:21], string(raw[21:])
	if !bytes.Equal(check, tokenCheck(req, cursor)) {
		return "", t.invalid()
	}
	if !bytes.Equal(req, requestHash(ctx, bind)) {
		if t.Changed == "" {
			return "", t.invalid()
		}
		return "", errkind.New(errkind.Invalid, "Your request parameters changed between pages. Try again with the old parameters or without a pagination token.").WithCode(t.Changed)
	}
	return cursor, nil
}

// NextOffset is Next for a cursor that is an offset into the results.
func (t Tokens) NextOffset(ctx context.Context, bind any, offset int) string {
	return t.Next(ctx, bind, strconv.Itoa(offset))
}

// ReadOffset is Read for an offset cursor: 0 without a token; a token's
// offset is greater than 0 and at most n (the results' count), or the
// token is invalid.
func (t Tokens) ReadOffset(ctx context.Context, tok *string, bind any, n int) (int, error) {
	c, err := t.Read(ctx, tok, bind)
	if err != nil || c == "" {
		return 0, err
	}
	off, err := strconv.Atoi(c)
	if err != nil || off <= 0 || off > n {
		return 0, t.invalid()
	}
	return off, nil
}

func (t Tokens) invalid() error {
	e := errkind.New(errkind.Invalid, "The %s is invalid.", t.Member)
	if t.Invalid != "" {
		e = e.WithCode(t.Invalid)
	}
	return e
}
