package awsproto

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"math"
	"strconv"

	"github.com/aws/smithy-go/encoding/cbor"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// DecodeCBOR decodes a Smithy RPC v2 CBOR request body into v, a struct
// with the same JSON tags as the awsJson form: the CBOR document is turned
// into the JSON document it stands for, so one set of struct tags serves
// both protocols. An empty body decodes as {}. Malformed input is an
// Invalid error.
func DecodeCBOR(body []byte, v any) error {
	if len(bytes.TrimSpace(body)) == 0 {
		return DecodeJSON(nil, v)
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
