package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// DecodeCBOR decodes a Smithy RPC v2 CBOR request body into v, a struct
// with the same JSON tags as the awsJson form: the CBOR document is turned
// into the JSON document it stands for, so one set of struct tags serves
// both protocols. An empty body decodes as {}. Malformed input, and data
// after the one top-level item, is an Invalid error.
func DecodeCBOR(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return DecodeJSON(nil, v)
	}
	n, err := itemLen(body, 0)
	if err != nil {
		return errkind.Wrap(errkind.Invalid, err, "The request body is not valid CBOR.")
	}
	if n != len(body) {
		return errkind.New(errkind.Invalid, "The request body has data after the CBOR map.")
	}
	val, err := cbor.Decode(body)
	if err != nil {
		return errkind.Wrap(errkind.Invalid, err, "The request body is not valid CBOR.")
	}
	if _, ok := val.(cbor.Map); !ok {
		return errkind.New(errkind.Invalid, "The request body must be a CBOR map.")
	}
	plain, err := fromCBOR(val, 0)
	if err != nil {
		return err
	}
	js, err := json.Marshal(plain)
	if err != nil {
		return errkind.Wrap(errkind.Invalid, err, "The request body cannot be read.")
	}
	return DecodeJSON(js, v)
}

// errTruncated reports a CBOR item that runs past the end of the input.
var errTruncated = errors.New("unexpected end of CBOR data")

// itemLen returns the length in bytes of the well-formed CBOR data item
// that starts p (RFC 8949, section 3), without building it, so that data
// after it can be told apart.
func itemLen(p []byte, depth int) (int, error) {
	if depth > 128 {
		return 0, errors.New("CBOR nested too deeply")
	}
	if len(p) == 0 {
		return 0, errTruncated
	}
	major, minor := p[0]>>5, p[0]&0x1f
	var arg uint64
	off := 1
	switch {
	case minor < 24:
		arg = uint64(minor)
	case minor <= 27:
		size := 1 << (minor - 24)
		if len(p) < 1+size {
			return 0, errTruncated
		}
		for _, b := range p[1 : 1+size] {
			arg = arg<<8 | uint64(b)
		}
		off += size
	case minor == 31:
		switch major {
		case 2, 3: // indefinite byte or text string: definite chunks of the same major type
			for {
				if off >= len(p) {
					return 0, errTruncated
				}
				if p[off] == 0xff {
					return off + 1, nil
				}
				if p[off]>>5 != major || p[off]&0x1f == 31 {
					return 0, errors.New("bad chunk in an indefinite-length CBOR string")
				}
				n, err := itemLen(p[off:], depth+1)
				if err != nil {
					return 0, err
				}
				off += n
			}
		case 4, 5: // indefinite array or map: items up to a break
			count := 0
			for {
				if off >= len(p) {
					return 0, errTruncated
				}
				if p[off] == 0xff {
					if major == 5 && count%2 != 0 {
						return 0, errors.New("CBOR map with a key and no value")
					}
					return off + 1, nil
				}
				n, err := itemLen(p[off:], depth+1)
				if err != nil {
					return 0, err
				}
				off += n
				count++
			}
		}
		return 0, errors.New("unexpected CBOR break or indefinite length")
	default:
		return 0, fmt.Errorf("reserved CBOR additional information %d", minor)
	}
	switch major {
	case 0, 1, 7: // integers; simple values and floats carry their argument only
		return off, nil
	case 2, 3:
		if arg > uint64(len(p)-off) {
			return 0, errTruncated
		}
		return off + int(arg), nil
	case 6: // a tag, then its content
		n, err := itemLen(p[off:], depth+1)
		if err != nil {
			return 0, err
		}
		return off + n, nil
	}
	items := arg // 4: array
	if major == 5 {
		if arg > math.MaxUint64/2 {
			return 0, errTruncated
		}
		items = 2 * arg
	}
	if items > uint64(len(p)-off) { // every item takes at least one byte
		return 0, errTruncated
	}
	for range items {
		n, err := itemLen(p[off:], depth+1)
		if err != nil {
			return 0, err
		}
		off += n
	}
	return off, nil
}

// fromCBOR converts a decoded CBOR value to the value encoding/json would
// produce for the same document; tags (timestamps) become their content.
func fromCBOR(v cbor.Value, depth int) (any, error) {
	if depth > 64 {
		return nil, errkind.New(errkind.Invalid, "The request body is nested too deeply.")
	}
	switch x := v.(type) {
	case cbor.Map:
		m := make(map[string]any, len(x))
		for k, e := range x {
			c, err := fromCBOR(e, depth+1)
			if err != nil {
				return nil, err
			}
			if c != nil {
				m[k] = c
			}
		}
		return m, nil
	case cbor.List:
		l := make([]any, 0, len(x))
		for _, e := range x {
			c, err := fromCBOR(e, depth+1)
			if err != nil {
				return nil, err
			}
			l = append(l, c)
		}
		return l, nil
	case cbor.String:
		return string(x), nil
	case cbor.Uint:
		return json.Number(strconv.FormatUint(uint64(x), 10)), nil
	case cbor.NegInt:
		if x == 0 || uint64(x) > math.MaxInt64 {
			return nil, errkind.New(errkind.Invalid, "An integer in the request is out of range.")
		}
		return json.Number("-" + strconv.FormatUint(uint64(x), 10)), nil
	case cbor.Bool:
		return bool(x), nil
	case cbor.Float32:
		return finite(float64(x))
	case cbor.Float64:
		return finite(float64(x))
	case cbor.Slice:
		return base64.StdEncoding.EncodeToString(x), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case *cbor.Tag:
		return fromCBOR(x.Value, depth+1)
	}
	return nil, errkind.New(errkind.Invalid, "The request body holds an unsupported CBOR value (%T).", v)
}

func finite(f float64) (any, error) {
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return nil, errkind.New(errkind.Invalid, "The request holds a number that is not finite.")
	}
	return f, nil
}

const cborContentType = "application/cbor"

// Timestamp is a timestamp in an output shape: epoch seconds with
// millisecond precision, a JSON number in awsJson and a CBOR tag 1 float
// in RPC v2 CBOR, as the SDKs' codecs expect.
type Timestamp time.Time

// MarshalJSON writes epoch seconds with millisecond precision.
func (t Timestamp) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(t.seconds(), 'f', -1, 64)), nil
}

func (t Timestamp) seconds() float64 { return float64(time.Time(t).UnixMilli()) / 1000 }

// WriteCBOR writes v as an RPC v2 CBOR response with the given status.
func WriteCBOR(w http.ResponseWriter, status int, v any) error {
	body := EncodeCBOR(v)
	h := w.Header()
	h.Set("Content-Type", cborContentType)
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
	return nil
}

// EncodeCBOR encodes an output shape as CBOR following its json tags, the
// same document encoding/json would write: omitempty and "-" are honoured,
// nil pointers and interfaces are left out, integers stay integers and
// floats floats, json.Number keeps its kind, and a Timestamp is tag 1
// with epoch seconds. Nil slices and maps are written empty.
func EncodeCBOR(v any) []byte { return cbor.Encode(cborValue(reflect.ValueOf(v))) }

var (
	timestampType = reflect.TypeFor[Timestamp]()
	numberType    = reflect.TypeFor[json.Number]()
)

func cborValue(v reflect.Value) cbor.Value {
	if !v.IsValid() {
		return &cbor.Nil{}
	}
	switch v.Type() {
	case timestampType:
		return &cbor.Tag{ID: 1, Value: cbor.Float64(v.Interface().(Timestamp).seconds())}
	case numberType:
		return cborNumber(v.String())
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return &cbor.Nil{}
		}
		return cborValue(v.Elem())
	case reflect.Struct:
		m := cbor.Map{}
		t := v.Type()
		for i := range t.NumField() {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			name, opts, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" {
				continue
			}
			if name == "" {
				name = f.Name
			}
			fv := v.Field(i)
			if (strings.Contains(opts, "omitempty") && emptyValue(fv)) || ((fv.Kind() == reflect.Pointer || fv.Kind() == reflect.Interface) && fv.IsNil()) {
				continue
			}
			m[name] = cborValue(fv)
		}
		return m
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8 {
			return cbor.Slice(v.Bytes())
		}
		l := make(cbor.List, v.Len())
		for i := range l {
			l[i] = cborValue(v.Index(i))
		}
		return l
	case reflect.Map:
		m := make(cbor.Map, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			if e := iter.Value(); (e.Kind() == reflect.Pointer || e.Kind() == reflect.Interface) && e.IsNil() {
				continue // JSON's null: absent
			}
			m[iter.Key().String()] = cborValue(iter.Value())
		}
		return m
	case reflect.String:
		return cbor.String(v.String())
	case reflect.Bool:
		return cbor.Bool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return cborInt(v.Int())
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cbor.Uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return cbor.Float64(v.Float())
	}
	return &cbor.Nil{}
}

func cborInt(n int64) cbor.Value {
	if n < 0 {
		return cbor.NegInt(uint64(-(n + 1)) + 1)
	}
	return cbor.Uint(uint64(n))
}

// cborNumber encodes a json.Number as an integer when it is one.
func cborNumber(s string) cbor.Value {
	if n, err := strconv.ParseInt(s, 10, 64); err == nil {
		return cborInt(n)
	}
	f, _ := strconv.ParseFloat(s, 64)
	return cbor.Float64(f)
}

func emptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Slice, reflect.Map, reflect.String, reflect.Array:
		return v.Len() == 0
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Bool:
		return !v.Bool()
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return v.Int() == 0
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return v.Uint() == 0
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return false
}
