package taggingapi

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// The Tagging API is served in two protocols with the same member names:
// awsJson1_1 and Smithy RPC v2 CBOR. Both decode into the same Go structs:
// CBOR is converted to the equivalent JSON value first, so one set of
// struct tags describes the wire shape.

const (
	jsonContentType = "application/x-amz-json-1.1"
	cborContentType = "application/cbor"
)

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
	awsproto.WriteAWSJSONError(w, r, Codes, err, jsonContentType)
}

type cborCodec struct{}

func (cborCodec) decode(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return awsproto.DecodeJSON(nil, v)
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
	return awsproto.DecodeJSON(js, v)
}

func (cborCodec) write(w http.ResponseWriter, v any) {
	writeCBOR(w, http.StatusOK, v)
}

func (cborCodec) writeError(w http.ResponseWriter, r *http.Request, err error) {
	e := errkind.As(err)
	awsproto.Info(r.Context()).Err = err
	code := Codes.Lookup(e)
	writeCBOR(w, code.Status, map[string]string{"__type": code.Name, "message": e.Message, "Message": e.Message})
}

func writeCBOR(w http.ResponseWriter, status int, v any) {
	js, err := json.Marshal(v)
	var body []byte
	if err == nil {
		var plain any
		dec := json.NewDecoder(bytes.NewReader(js))
		dec.UseNumber()
		if err = dec.Decode(&plain); err == nil {
			body = cbor.Encode(toCBOR(plain))
		}
	}
	if err != nil {
		status = http.StatusInternalServerError
		body = cbor.Encode(cbor.Map{"__type": cbor.String("InternalServiceException"), "message": cbor.String("internal error")})
	}
	h := w.Header()
	h.Set("Content-Type", cborContentType)
	h.Set("Smithy-Protocol", "rpc-v2-cbor")
	h.Set("Content-Length", strconv.Itoa(len(body)))
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fromCBOR converts a decoded CBOR value to the value encoding/json would
// produce for the same document.
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
		return float64(x), nil
	case cbor.Float64:
		return float64(x), nil
	case cbor.Slice:
		return base64.StdEncoding.EncodeToString(x), nil
	case *cbor.Nil, *cbor.Undefined:
		return nil, nil
	case *cbor.Tag:
		return fromCBOR(x.Value, depth+1)
	}
	return nil, errkind.New(errkind.Invalid, "The request body holds an unsupported CBOR value (%T).", v)
}

// toCBOR converts a JSON-decoded value (numbers as json.Number) to CBOR.
func toCBOR(v any) cbor.Value {
	switch x := v.(type) {
	case map[string]any:
		m := make(cbor.Map, len(x))
		for k, e := range x {
			if e != nil {
				m[k] = toCBOR(e)
			}
		}
		return m
	case []any:
		l := make(cbor.List, len(x))
		for i, e := range x {
			l[i] = toCBOR(e)
		}
		return l
	case string:
		return cbor.String(x)
	case bool:
		return cbor.Bool(x)
	case json.Number:
		if n, err := strconv.ParseInt(string(x), 10, 64); err == nil {
			if n < 0 {
				return cbor.NegInt(uint64(-n))
			}
			return cbor.Uint(uint64(n))
		}
		f, _ := x.Float64()
		return cbor.Float64(f)
	case nil:
		return &cbor.Nil{}
	}
	panic(fmt.Sprintf("taggingapi: cannot encode %T as CBOR", v))
}
