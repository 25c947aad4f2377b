package cloudwatchapi

import (
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"
	"time"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// CloudWatch is served in two protocols with the same member names:
// awsJson1_0 and Smithy RPC v2 CBOR. Inputs in CBOR are converted to the
// equivalent JSON document and decoded by the same structs (timestamps,
// CBOR tag 1, become epoch-second numbers, as awsJson1_0 sends them).
// Outputs are encoded from the structs: to JSON by encoding/json, to CBOR
// by walking them with their json tags, so float members stay floats and
// timestamps are written as tag 1 with epoch seconds, as smithy's RPC v2
// codec expects.

const (
	jsonContentType = "application/x-amz-json-1.0"
	cborContentType = "application/cbor"
)

// epoch is a timestamp on the wire: epoch seconds (a JSON number, or a
// CBOR tag 1 float).
type epoch time.Time

// MarshalJSON writes epoch seconds with millisecond precision.
func (e epoch) MarshalJSON() ([]byte, error) {
	return []byte(strconv.FormatFloat(epochSeconds(time.Time(e)), 'f', -1, 64)), nil
}

func epochSeconds(t time.Time) float64 { return float64(t.UnixMilli()) / 1000 }

// timeOf converts an input timestamp (epoch seconds) to a time.
func timeOf(v *float64) time.Time {
	if v == nil || math.IsNaN(*v) || math.IsInf(*v, 0) {
		return time.Time{}
	}
	sec, frac := math.Modf(*v)
	return time.Unix(int64(sec), int64(frac*1e9)).UTC()
}

// codec reads inputs and writes outputs and errors in one protocol.
type codec interface {
	decode(body []byte, v any) error
	write(w http.ResponseWriter, v any)
	writeError(w http.ResponseWriter, r *http.Request, err error)
}

type jsonCodec struct{}

func (jsonCodec) decode(body []byte, v any) error { return awsproto.DecodeJSON(body, v) }

func (jsonCodec) write(w http.ResponseWriter, v any) {
	_ = awsproto.WriteJSON(w, http.StatusOK, jsonContentType, v)
}

func (jsonCodec) writeError(w http.ResponseWriter, r *http.Request, err error) {
	code := Codes.Lookup(errkind.As(err))
	setQueryError(w, code)
	awsproto.WriteAWSJSONError(w, r, Codes, err, jsonContentType)
}

// setQueryError sets the header awsQuery-compatible clients read the
// error code from (CloudWatch is @awsQueryCompatible).
func setQueryError(w http.ResponseWriter, code awsproto.ErrorCode) {
	q, ok := queryCodes[code.Name]
	if !ok {
		q = code.Name
	}
	fault := "Sender"
	if code.Status >= 500 {
		fault = "Receiver"
	}
	w.Header().Set("X-Amzn-Query-Error", q+";"+fault)
}

type cborCodec struct{}

func (cborCodec) decode(body []byte, v any) error { return awsproto.DecodeCBOR(body, v) }

func (cborCodec) write(w http.ResponseWriter, v any) {
	writeCBOR(w, http.StatusOK, encodeCBOR(reflect.ValueOf(v)))
}

func (cborCodec) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errkind.As(err)
	awsproto.Info(r.Context()).Err = err
	code := Codes.Lookup(e)
	setQueryError(w, code)
	writeCBOR(w, code.Status, cbor.Map{"__type": cbor.String("com.amazonaws.cloudwatch#" + code.Name), "message": cbor.String(e.Message)})
}

func writeCBOR(w http.ResponseWriter, status int, v cbor.Value) {
	body := cbor.Encode(v)
	h := w.Header()
	h.Set("Content-Type", cborContentType)
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

var epochType = reflect.TypeFor[epoch]()

// encodeCBOR converts an output value to CBOR following its json tags.
func encodeCBOR(v reflect.Value) cbor.Value {
	if !v.IsValid() {
		return &cbor.Nil{}
	}
	if v.Type() == epochType {
		return &cbor.Tag{ID: 1, Value: cbor.Float64(epochSeconds(time.Time(v.Interface().(epoch))))}
	}
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if v.IsNil() {
			return &cbor.Nil{}
		}
		return encodeCBOR(v.Elem())
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
			m[name] = encodeCBOR(fv)
		}
		return m
	case reflect.Slice, reflect.Array:
		l := make(cbor.List, v.Len())
		for i := range l {
			l[i] = encodeCBOR(v.Index(i))
		}
		return l
	case reflect.Map:
		m := make(cbor.Map, v.Len())
		iter := v.MapRange()
		for iter.Next() {
			m[iter.Key().String()] = encodeCBOR(iter.Value())
		}
		return m
	case reflect.String:
		return cbor.String(v.String())
	case reflect.Bool:
		return cbor.Bool(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n := v.Int(); n < 0 {
			return cbor.NegInt(uint64(-(n + 1)) + 1)
		} else {
			return cbor.Uint(uint64(n))
		}
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return cbor.Uint(v.Uint())
	case reflect.Float32, reflect.Float64:
		return cbor.Float64(v.Float())
	}
	return &cbor.Nil{}
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
