package taggingapi

import (
	"bytes"
	"encoding/json"
	"fmt"
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

func (cborCodec) decode(body []byte, v any) error { return awsproto.DecodeCBOR(body, v) }

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
