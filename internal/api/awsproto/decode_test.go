package awsproto

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"reflect"
	"testing"

	"github.com/aws/smithy-go/encoding/cbor"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// shape is a request shape like the API packages decode.
type shape struct {
	Name  string            `json:"Name"`
	Count *int64            `json:"Count,omitempty"`
	Rate  *float64          `json:"Rate,omitempty"`
	On    *bool             `json:"On,omitempty"`
	Tags  map[string]string `json:"Tags,omitempty"`
	List  []string          `json:"List,omitempty"`
	Blob  []byte            `json:"Blob,omitempty"`
	Inner *struct {
		Values []json.Number `json:"Values"`
	} `json:"Inner,omitempty"`
}

// checked is a shape whose ValidateInput refuses a negative Count.
type checked struct {
	Count int `json:"Count"`
}

func (c *checked) ValidateInput() error {
	if c.Count < 0 {
		return errkind.New(errkind.Invalid, "Count must not be negative.")
	}
	return nil
}

func TestDecodeCBORTrailingData(t *testing.T) {
	m := cbor.Encode(cbor.Map{"Name": cbor.String("x")})
	for _, tc := range []struct {
		name string
		body []byte
		ok   bool
	}{
		{"map", m, true},
		{"empty", nil, true},
		{"trailing zero", append(bytes.Clone(m), 0), false},
		{"two maps", append(bytes.Clone(m), m...), false},
		{"trailing break", append(bytes.Clone(m), 0xff), false},
		{"indefinite map", []byte{0xbf, 0x64, 'N', 'a', 'm', 'e', 0x61, 'x', 0xff}, true},
		{"indefinite map then data", []byte{0xbf, 0xff, 0x01}, false},
		{"truncated", m[:len(m)-1], false},
		{"reserved info", []byte{0xbc}, false},
		{"huge length", []byte{0xbb, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var s shape
			err := DecodeCBOR(tc.body, &s)
			if tc.ok && err != nil {
				t.Errorf("DecodeCBOR = %v", err)
			}
			if !tc.ok && !errkind.Is(err, errkind.Invalid) {
				t.Errorf("DecodeCBOR = %v, want an Invalid error", err)
			}
		})
	}
}

func TestDecodeCallsValidateInput(t *testing.T) {
	var c checked
	if err := DecodeJSON([]byte(`{"Count":-1}`), &c); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("DecodeJSON = %v, want the validator's Invalid error", err)
	}
	if err := DecodeCBOR(cbor.Encode(cbor.Map{"Count": cbor.NegInt(1)}), &c); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("DecodeCBOR = %v, want the validator's Invalid error", err)
	}
	if err := DecodeJSON([]byte(`{"Count":3}`), &c); err != nil || c.Count != 3 {
		t.Errorf("DecodeJSON = %v, %+v", err, c)
	}
}

// decodeErrorOK checks the contract of the decoders' errors: Invalid,
// never Internal, with a client message.
func decodeErrorOK(t *testing.T, err error) {
	t.Helper()
	var e *errkind.Error
	if !errors.As(err, &e) || e.Kind != errkind.Invalid || e.Message == "" {
		t.Fatalf("error %v (%T) is not an Invalid errkind error", err, err)
	}
}

// FuzzDecodeJSON: any body decodes or fails Invalid; what decodes
// re-encodes to JSON that decodes to the same value.
func FuzzDecodeJSON(f *testing.F) {
	for _, s := range []string{``, `{}`, `{"Name":"x","Count":3,"Rate":1.5,"On":true,"Tags":{"a":"b"},"List":["c"],"Blob":"AAE=","Inner":{"Values":[1,2.5]}}`,
		`{"Count":"3"}`, `{"Count":1e400}`, `{} {}`, `[1]`, `{"Name":"\ud800"}`, `{"Inner":{"Values":["x"]}}`, `{"Blob":"***"}`} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var s shape
		if err := DecodeJSON(body, &s); err != nil {
			decodeErrorOK(t, err)
			return
		}
		again, err := json.Marshal(s)
		if err != nil {
			t.Fatalf("re-encoding %+v: %v", s, err)
		}
		var s2 shape
		if err := DecodeJSON(again, &s2); err != nil {
			t.Fatalf("decoding the re-encoded %s: %v", again, err)
		}
		// Empty and absent collections are the same request (omitempty).
		if diff := cmp.Diff(s, s2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("round trip changed the request (-first +second):\n%s", diff)
		}
	})
}

// FuzzDecodeCBOR: any body decodes or fails Invalid; DecodeCBOR never
// accepts data after the one top-level item, nor an item smithy's decoder
// rejects; and what it decodes round-trips through the JSON form.
func FuzzDecodeCBOR(f *testing.F) {
	for _, v := range []cbor.Value{
		cbor.Map{},
		cbor.Map{"Name": cbor.String("x"), "Count": cbor.Uint(3), "Rate": cbor.Float64(1.5), "On": cbor.Bool(true),
			"Tags": cbor.Map{"a": cbor.String("b")}, "List": cbor.List{cbor.String("c")}, "Blob": cbor.Slice{0, 1},
			"Inner": cbor.Map{"Values": cbor.List{cbor.Uint(1), cbor.Float32(2.5)}}},
		cbor.Map{"Count": cbor.NegInt(1), "Name": &cbor.Tag{ID: 1, Value: cbor.Uint(5)}},
		cbor.Map{"Rate": cbor.Float64(0), "On": &cbor.Nil{}},
		cbor.List{cbor.Uint(1)},
	} {
		f.Add(cbor.Encode(v))
	}
	f.Add([]byte{0xa0, 0x00})
	f.Add([]byte{0xbf, 0x61, 'a', 0x9f, 0x01, 0xff, 0xff})
	f.Add([]byte{0x7f, 0x61, 'a', 0x61, 'b', 0xff})
	f.Add([]byte{0xfb, 0x7f, 0xf8, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, body []byte) {
		var s shape
		err := DecodeCBOR(body, &s)
		if n, lerr := itemLen(body, 0); lerr == nil && n <= len(body) {
			if _, derr := cbor.Decode(body[:n]); derr != nil && len(bytes.TrimSpace(body)) > 0 {
				// itemLen accepted what smithy rejects: only a semantic
				// refusal (a bad tag, say) may differ, never the length.
				if err == nil {
					t.Fatalf("DecodeCBOR accepted %x, which smithy rejects: %v", body, derr)
				}
			}
		}
		if err != nil {
			decodeErrorOK(t, err)
			return
		}
		if len(bytes.TrimSpace(body)) > 0 {
			if n, lerr := itemLen(body, 0); lerr != nil || n != len(body) {
				t.Fatalf("DecodeCBOR accepted %x with data after its item (%d of %d bytes, %v)", body, n, len(body), lerr)
			}
		}
		js, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var s2 shape
		if err := DecodeJSON(js, &s2); err != nil {
			t.Fatalf("the JSON form %s of a CBOR decode does not decode: %v", js, err)
		}
		if diff := cmp.Diff(s, s2, cmpopts.EquateEmpty()); diff != "" {
			t.Fatalf("the JSON form of a CBOR decode does not round-trip (-cbor +json):\n%s", diff)
		}
	})
}

// decodeWithDecoder is DecodeJSON as it was before its json.Unmarshal fast
// path: the reference the fast path must agree with.
func decodeWithDecoder(body []byte, v any) error {
	body = bytes.TrimSpace(body)
	if len(body) == 0 {
		body = []byte("{}")
	}
	if body[0] != '{' {
		return errkind.New(errkind.Invalid, "The request body must be a JSON object.")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) {
			return errkind.New(errkind.Invalid, "1 validation error detected: Value at '%s' has the wrong type: expected %s.", te.Field, te.Type)
		}
		return errkind.Wrap(errkind.Invalid, err, "The request body is not valid JSON.")
	}
	if dec.More() {
		return errkind.New(errkind.Invalid, "The request body has data after the JSON object.")
	}
	if _, err := dec.Token(); err != io.EOF {
		return errkind.New(errkind.Invalid, "The request body has data after the JSON object.")
	}
	if iv, ok := v.(InputValidator); ok {
		return iv.ValidateInput()
	}
	return nil
}

// TestDecodeJSONFastPath: DecodeJSON decodes and fails exactly as the
// decoder alone did, for shapes with and without interface values.
func TestDecodeJSONFastPath(t *testing.T) {
	type loose struct {
		Name  string         `json:"Name"`
		Any   any            `json:"Any"`
		Props map[string]any `json:"Props"`
	}
	bodies := []string{
		``, `  `, `{}`, ` {"Name":"a"} `, `{"Name":"a","Count":3,"Rate":1.5,"On":true,"Tags":{"k":"v"},"List":["x"],"Blob":"AAE=","Inner":{"Values":[1,2.5]}}`,
		`{"Name":"a"} {"Name":"b"}`, `{"Name":"a"}x`, `{"Name":"a"`, `{"Name":1}`, `{"Count":"3"}`, `{"Count":1.5}`,
		`{"Name":"a","Name":"b"}`, `{"name":"lower"}`, `{"Blob":"!"}`, `{"Inner":{"Values":["x"]}}`, `[1]`, `"s"`,
		`{"Any":12345678901234567890,"Props":{"n":1.0,"s":"x"}}`, `{"Any":[1,{"a":2}]}`, `{"Count":-1}`, "{\"Name\":\"\xff\"}",
	}
	for _, body := range bodies {
		for _, mk := range []func() any{func() any { return new(shape) }, func() any { return new(loose) }, func() any { return new(checked) }} {
			got, want := mk(), mk()
			gerr, werr := DecodeJSON([]byte(body), got), decodeWithDecoder([]byte(body), want)
			if fmt.Sprint(gerr) != fmt.Sprint(werr) || errkind.KindOf(gerr) != errkind.KindOf(werr) {
				t.Errorf("%T %q: error %v, want %v", got, body, gerr, werr)
			}
			if werr == nil {
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%T %q: (-want +got)\n%s", got, body, diff)
				}
			}
		}
	}
	if !holdsInterface(reflect.TypeFor[loose]()) || holdsInterface(reflect.TypeFor[shape]()) {
		t.Error("holdsInterface: wrong answer for loose or shape")
	}
}

// BenchmarkDecodeJSON decodes a small request body into a shape without
// interface values (the fast path) and into one with them (the decoder).
func BenchmarkDecodeJSON(b *testing.B) {
	body := []byte(`{"Name":"claims","Count":3,"Tags":{"dept":"claims","team":"automation"},"List":["a","b"]}`)
	b.Run("shape=typed", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v shape
			if err := DecodeJSON(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("shape=any", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			var v struct {
				Name  string         `json:"Name"`
				Count int            `json:"Count"`
				Tags  map[string]any `json:"Tags"`
				List  []string       `json:"List"`
			}
			if err := DecodeJSON(body, &v); err != nil {
				b.Fatal(err)
			}
		}
	})
}
