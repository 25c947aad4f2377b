package awsproto

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
)

type echoIn struct {
	Name  *string  `json:"Name"`
	Count *int64   `json:"Count"`
	Rate  *float64 `json:"Rate"`
	List  []string `json:"List"`
}

type echoOut struct {
	Name    string         `json:"Name"`
	Count   int64          `json:"Count"`
	Rate    float64        `json:"Rate"`
	List    []string       `json:"List"`
	When    Timestamp      `json:"When"`
	Skipped string         `json:"Skipped,omitempty"`
	Nil     *string        `json:"Nil"`
	Number  json.Number    `json:"Number"`
	Map     map[string]int `json:"Map"`
}

type echo struct{ denied bool }

var echoOps = Table[*echo]{
	Op("Echo", (*echo).echo),
	Guarded("Guarded", func(e *echo, _ context.Context, in *echoIn) error {
		if e.denied {
			return errkind.New(errkind.Denied, "no")
		}
		return nil
	}, (*echo).echo),
	Op("Fail", func(*echo, context.Context, echoIn) (struct{}, error) {
		return struct{}{}, errkind.New(errkind.NotFound, "not here")
	}),
}

var when = time.Date(2025, 3, 1, 12, 0, 0, 500_000_000, time.UTC)

func (*echo) echo(_ context.Context, in echoIn) (echoOut, error) {
	out := echoOut{List: in.List, When: Timestamp(when), Number: "12", Map: map[string]int{"a": -3}}
	if in.Name != nil {
		out.Name = *in.Name
	}
	if in.Count != nil {
		out.Count = *in.Count
	}
	if in.Rate != nil {
		out.Rate = *in.Rate
	}
	return out, nil
}

func testService(e *echo) Service {
	return Service{
		Name: "Echo_2025", SigningName: "echo", Label: "echo",
		Protocols: []Protocol{AWSJSON11, RPCv2CBOR},
		Codes: Codes{
			errkind.Internal: {"InternalFailure", 500},
			errkind.Invalid:  {"ValidationException", 400},
			errkind.NotFound: {"NotFoundException", 404},
			errkind.Denied:   {"AccessDeniedException", 403},
		},
		Namespace:  "com.example",
		QueryCodes: map[string]string{"ValidationException": "Validation"},
		Ops:        echoOps.Bind(e),
	}
}

func serve(t *testing.T, svc Service, p Protocol, op string, body []byte) (*httptest.ResponseRecorder, *RequestInfo) {
	t.Helper()
	info := &RequestInfo{Body: body, Identity: principal.Identity{Principal: &principal.Principal{Account: "111111111111"}}}
	r := httptest.NewRequest(http.MethodPost, "/", nil).WithContext(WithInfo(t.Context(), info))
	w := httptest.NewRecorder()
	svc.Serve(w, r, p, op)
	return w, info
}

func TestServeRoundTrip(t *testing.T) {
	svc := testService(&echo{})
	in := `{"Name":"x","Count":-7,"Rate":1.5,"List":["a","b"]}`
	t.Run("awsJson1_1", func(t *testing.T) {
		w, info := serve(t, svc, AWSJSON11, "Echo", []byte(in))
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/x-amz-json-1.1" {
			t.Fatalf("status %d, headers %v: %s", w.Code, w.Header(), w.Body)
		}
		want := `{"Name":"x","Count":-7,"Rate":1.5,"List":["a","b"],"When":1740830400.5,"Nil":null,"Number":12,"Map":{"a":-3}}`
		if got := w.Body.String(); got != want {
			t.Errorf("body\n%s\nwant\n%s", got, want)
		}
		if info.Service != "echo" || info.Op != "Echo" {
			t.Errorf("info %q %q", info.Service, info.Op)
		}
	})
	t.Run("rpcv2Cbor", func(t *testing.T) {
		body := cbor.Encode(cbor.Map{"Name": cbor.String("x"), "Count": cbor.NegInt(7), "Rate": cbor.Float64(1.5),
			"List": cbor.List{cbor.String("a"), cbor.String("b")}})
		w, _ := serve(t, svc, RPCv2CBOR, "Echo", body)
		if w.Code != 200 || w.Header().Get("Content-Type") != "application/cbor" || w.Header().Get("Smithy-Protocol") != "rpc-v2-cbor" {
			t.Fatalf("status %d, headers %v", w.Code, w.Header())
		}
		got, err := cbor.Decode(w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		want := cbor.Map{
			"Name": cbor.String("x"), "Count": cbor.NegInt(7), "Rate": cbor.Float64(1.5),
			"List":   cbor.List{cbor.String("a"), cbor.String("b")},
			"When":   &cbor.Tag{ID: 1, Value: cbor.Float64(1740830400.5)},
			"Number": cbor.Uint(12), "Map": cbor.Map{"a": cbor.NegInt(3)},
		}
		if diff := cmp.Diff(got, cbor.Value(want)); diff != "" {
			t.Errorf("(-got +want):\n%s", diff)
		}
	})
}

// errorOf decodes an error answer in either protocol.
func errorOf(t *testing.T, p Protocol, w *httptest.ResponseRecorder) map[string]string {
	t.Helper()
	out := map[string]string{}
	if p == RPCv2CBOR {
		v, err := cbor.Decode(w.Body.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		for k, e := range v.(cbor.Map) {
			out[k] = string(e.(cbor.String))
		}
		return out
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("error body %q: %v", w.Body, err)
	}
	return out
}

func TestServeErrors(t *testing.T) {
	for _, p := range []Protocol{AWSJSON11, RPCv2CBOR} {
		malformed := []byte("{")
		if p == RPCv2CBOR {
			malformed = []byte{0xa1}
		}
		for _, tc := range []struct {
			name, op string
			denied   bool
			body     []byte
			status   int
			typ      string
			query    string
		}{
			{"unknown operation", "Nope", false, nil, 400, "UnknownOperationException", "UnknownOperationException;Sender"},
			{"malformed", "Echo", false, malformed, 400, "ValidationException", "Validation;Sender"},
			{"handler error", "Fail", false, nil, 404, "NotFoundException", "NotFoundException;Sender"},
			{"denied before input errors", "Guarded", true, malformed, 403, "AccessDeniedException", "AccessDeniedException;Sender"},
			{"allowed, then input errors", "Guarded", false, malformed, 400, "ValidationException", "Validation;Sender"},
		} {
			t.Run(p.ContentType()+"/"+tc.name, func(t *testing.T) {
				w, info := serve(t, testService(&echo{denied: tc.denied}), p, tc.op, tc.body)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", w.Code, tc.status, w.Body)
				}
				got := errorOf(t, p, w)
				typ := tc.typ
				if p == RPCv2CBOR {
					typ = "com.example#" + tc.typ
				} else if h := w.Header().Get("X-Amzn-ErrorType"); h != tc.typ {
					t.Errorf("X-Amzn-ErrorType %q, want %q", h, tc.typ)
				}
				if got["__type"] != typ || got["message"] == "" || got["Message"] != got["message"] {
					t.Errorf("error body %v, want __type %q and a message", got, typ)
				}
				if q := w.Header().Get("X-Amzn-Query-Error"); q != tc.query {
					t.Errorf("X-Amzn-Query-Error %q, want %q", q, tc.query)
				}
				if info.Err == nil {
					t.Error("the error is not recorded for the access log")
				}
				if k := errkind.KindOf(info.Err); tc.op == "Nope" && k != errkind.Invalid {
					t.Errorf("unknown operation is kind %v, want Invalid (a client error)", k)
				}
			})
		}
	}
}

func TestTableNames(t *testing.T) {
	if diff := cmp.Diff(echoOps.Names(), []string{"Echo", "Guarded", "Fail"}); diff != "" {
		t.Error(diff)
	}
	svc := testService(&echo{})
	if !svc.Speaks(RPCv2CBOR) || svc.Speaks(AWSJSON10) {
		t.Error("Speaks")
	}
}

func tokenCtx(t *testing.T, op, account string) context.Context {
	return WithInfo(t.Context(), &RequestInfo{Op: op, Identity: principal.Identity{Principal: &principal.Principal{Account: account}}})
}

func TestTokens(t *testing.T) {
	toks := Tokens{Member: "NextToken", Invalid: "InvalidNextTokenException", Changed: "RequestChangedException"}
	type filter struct{ Key string }
	ctx := tokenCtx(t, "List", "111111111111")
	tok := toks.Next(ctx, filter{"a"}, "cursor\x00with bytes")
	if strings.ContainsAny(tok, "+/=") {
		t.Errorf("token %q is not base64url without padding", tok)
	}
	if got, err := toks.Read(ctx, &tok, filter{"a"}); err != nil || got != "cursor\x00with bytes" {
		t.Fatalf("Read = %q, %v", got, err)
	}
	if got, err := toks.Read(ctx, nil, filter{"a"}); err != nil || got != "" {
		t.Errorf("no token: %q, %v", got, err)
	}
	empty := ""
	if got, err := toks.Read(ctx, &empty, filter{"a"}); err != nil || got != "" {
		t.Errorf("empty token: %q, %v", got, err)
	}

	tampered := []byte(tok)
	tampered[len(tampered)-2] ^= 1
	for _, tc := range []struct {
		name string
		ctx  context.Context
		tok  string
		bind any
		code string
	}{
		{"other parameters", ctx, tok, filter{"b"}, "RequestChangedException"},
		{"other operation", tokenCtx(t, "Other", "111111111111"), tok, filter{"a"}, "RequestChangedException"},
		{"other account", tokenCtx(t, "List", "222222222222"), tok, filter{"a"}, "RequestChangedException"},
		{"tampered cursor", ctx, string(tampered), filter{"a"}, "InvalidNextTokenException"},
		{"not base64", ctx, "!!", filter{"a"}, "InvalidNextTokenException"},
		{"short", ctx, "AQ", filter{"a"}, "InvalidNextTokenException"},
		{"other version", ctx, "Ag" + tok[2:], filter{"a"}, "InvalidNextTokenException"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := toks.Read(tc.ctx, &tc.tok, tc.bind)
			e := errkind.As(err)
			if err == nil || e.Kind != errkind.Invalid || e.Code != tc.code {
				t.Errorf("Read = %v, want Invalid %s", err, tc.code)
			}
		})
	}

	t.Run("changed without its own exception", func(t *testing.T) {
		plain := Tokens{Member: "PaginationToken"}
		tok := plain.Next(ctx, filter{"a"}, "x")
		_, err := plain.Read(ctx, &tok, filter{"b"})
		if e := errkind.As(err); err == nil || e.Code != "" || e.Message != "The PaginationToken is invalid." {
			t.Errorf("Read = %v", err)
		}
	})
	t.Run("offsets", func(t *testing.T) {
		tok := toks.NextOffset(ctx, nil, 5)
		if off, err := toks.ReadOffset(ctx, &tok, nil, 10); err != nil || off != 5 {
			t.Errorf("ReadOffset = %d, %v", off, err)
		}
		if _, err := toks.ReadOffset(ctx, &tok, nil, 4); err == nil {
			t.Error("an offset past the results reads")
		}
		zero := toks.Next(ctx, nil, "0")
		if _, err := toks.ReadOffset(ctx, &zero, nil, 10); err == nil {
			t.Error("offset 0 reads")
		}
	})
}
