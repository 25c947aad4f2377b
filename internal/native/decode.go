package native

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"strconv"
	"unicode/utf8"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

// The helpers below read a JSON object member by member so that every
// malformed body turns into an errkind.Invalid error whose message names
// the offending member with a JSON pointer, the way Bedrock's validator
// does ("Malformed input request: #/max_tokens: expected type: Integer,
// found: String, please reformat your input and try again.").

// malformed returns the Invalid error Bedrock gives for a body that does
// not match the model's schema.
func malformed(format string, args ...any) *errkind.Error {
	return errkind.New(errkind.Invalid, "Malformed input request: "+format+", please reformat your input and try again.", args...)
}

// clip bounds a client-supplied value echoed in an error message.
func clip(s string) string {
	const max = 64
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// jsonType names the JSON type of raw the way Bedrock's validator does.
func jsonType(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return "Null"
	}
	switch raw[0] {
	case '{':
		return "JSONObject"
	case '[':
		return "JSONArray"
	case '"':
		return "String"
	case 't', 'f':
		return "Boolean"
	case 'n':
		return "Null"
	}
	if _, err := strconv.ParseInt(string(raw), 10, 64); err == nil {
		return "Integer"
	}
	return "Number"
}

func isNull(raw json.RawMessage) bool {
	raw = bytes.TrimSpace(raw)
	return len(raw) == 0 || string(raw) == "null"
}

// obj is a decoded JSON object with the pointer path it was found at.
type obj struct {
	path string
	m    map[string]json.RawMessage
	used map[string]bool
}

// parseBody decodes a request body that must be one JSON object.
func parseBody(body []byte) (*obj, error) {
	if !json.Valid(body) {
		return nil, malformed("the body is not valid JSON")
	}
	return asObj("#", body)
}

// asObj decodes raw, found at path, as a JSON object.
func asObj(path string, raw json.RawMessage) (*obj, error) {
	if t := jsonType(raw); t != "JSONObject" {
		return nil, malformed("%s: expected type: JSONObject, found: %s", path, t)
	}
	var m map[string]json.RawMessage
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, malformed("%s: expected type: JSONObject", path)
	}
	return &obj{path: path, m: m, used: map[string]bool{}}, nil
}

func (o *obj) at(key string) string { return o.path + "/" + key }

// get returns the member key, treating null as absent, and marks it used.
func (o *obj) get(key string) (json.RawMessage, bool) {
	o.used[key] = true
	raw, ok := o.m[key]
	if !ok || isNull(raw) {
		return nil, false
	}
	return raw, true
}

// has reports whether key is present and not null, without marking it.
func (o *obj) has(key string) bool {
	raw, ok := o.m[key]
	return ok && !isNull(raw)
}

func (o *obj) missing(key string) *errkind.Error {
	return malformed("%s: required key [%s] not found", o.path, key)
}

func (o *obj) wrongType(key, want string, raw json.RawMessage) *errkind.Error {
	return malformed("%s: expected type: %s, found: %s", o.at(key), want, jsonType(raw))
}

// str reads a string member.
func (o *obj) str(key string) (string, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return "", false, nil
	}
	var s string
	if jsonType(raw) != "String" || json.Unmarshal(raw, &s) != nil {
		return "", false, o.wrongType(key, "String", raw)
	}
	return s, true, nil
}

// reqStr reads a required string member.
func (o *obj) reqStr(key string) (string, error) {
	s, ok, err := o.str(key)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", o.missing(key)
	}
	return s, nil
}

// int reads an integer member (1 and 1.0 both count as integers).
func (o *obj) int(key string) (int64, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	t := jsonType(raw)
	if t == "Integer" {
		n, err := strconv.ParseInt(string(bytes.TrimSpace(raw)), 10, 64)
		if err == nil {
			return n, true, nil
		}
	}
	if t == "Number" {
		f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
		if err == nil && f == math.Trunc(f) && math.Abs(f) < 1<<53 {
			return int64(f), true, nil
		}
		return 0, false, malformed("%s: expected type: Integer, found: Number", o.at(key))
	}
	return 0, false, o.wrongType(key, "Integer", raw)
}

// float reads a number member.
func (o *obj) float(key string) (float64, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return 0, false, nil
	}
	if t := jsonType(raw); t != "Integer" && t != "Number" {
		return 0, false, o.wrongType(key, "Number", raw)
	}
	f, err := strconv.ParseFloat(string(bytes.TrimSpace(raw)), 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0, false, malformed("%s: number out of range", o.at(key))
	}
	return f, true, nil
}

// boolean reads a boolean member.
func (o *obj) boolean(key string) (bool, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return false, false, nil
	}
	var b bool
	if jsonType(raw) != "Boolean" || json.Unmarshal(raw, &b) != nil {
		return false, false, o.wrongType(key, "Boolean", raw)
	}
	return b, true, nil
}

// arr reads an array member.
func (o *obj) arr(key string) ([]json.RawMessage, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return nil, false, nil
	}
	var a []json.RawMessage
	if jsonType(raw) != "JSONArray" || json.Unmarshal(raw, &a) != nil {
		return nil, false, o.wrongType(key, "JSONArray", raw)
	}
	return a, true, nil
}

// strs reads an array of strings. A lone string is not accepted.
func (o *obj) strs(key string) ([]string, bool, error) {
	a, ok, err := o.arr(key)
	if !ok || err != nil {
		return nil, ok, err
	}
	out := make([]string, 0, len(a))
	for i, raw := range a {
		var s string
		if jsonType(raw) != "String" || json.Unmarshal(raw, &s) != nil {
			return nil, false, malformed("%s/%d: expected type: String, found: %s", o.at(key), i, jsonType(raw))
		}
		out = append(out, s)
	}
	return out, true, nil
}

// child reads an object member.
func (o *obj) child(key string) (*obj, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return nil, false, nil
	}
	c, err := asObj(o.at(key), raw)
	if err != nil {
		return nil, false, err
	}
	return c, true, nil
}

// object reads a member that must be a JSON object and returns it raw
// (compacted).
func (o *obj) object(key string) (json.RawMessage, bool, error) {
	raw, ok := o.get(key)
	if !ok {
		return nil, false, nil
	}
	if jsonType(raw) != "JSONObject" {
		return nil, false, o.wrongType(key, "JSONObject", raw)
	}
	return compact(raw), true, nil
}

// rest returns the members not read so far, or nil.
func (o *obj) rest() map[string]json.RawMessage {
	var out map[string]json.RawMessage
	for k, v := range o.m {
		if o.used[k] {
			continue
		}
		if out == nil {
			out = map[string]json.RawMessage{}
		}
		out[k] = compact(v)
	}
	return out
}

// compact returns raw without insignificant white space.
func compact(raw json.RawMessage) json.RawMessage {
	var b bytes.Buffer
	if err := json.Compact(&b, raw); err != nil {
		return raw
	}
	return b.Bytes()
}

// maxTokens reads a token limit (at least 1, at most MaxInt32).
func (o *obj) maxTokens(key string) (*int32, error) {
	n, ok, err := o.int(key)
	if err != nil || !ok {
		return nil, err
	}
	if n < 1 {
		return nil, malformed("%s: %d is not greater or equal to 1", o.at(key), n)
	}
	if n > math.MaxInt32 {
		return nil, malformed("%s: %d is not less or equal to %d", o.at(key), n, math.MaxInt32)
	}
	v := int32(n)
	return &v, nil
}

// sampling reads a non-negative sampling parameter (temperature, top_p).
func (o *obj) sampling(key string) (*float32, error) {
	f, ok, err := o.float(key)
	if err != nil || !ok {
		return nil, err
	}
	if f < 0 {
		return nil, malformed("%s: %s is not greater or equal to 0", o.at(key), strconv.FormatFloat(f, 'g', -1, 64))
	}
	if f > math.MaxFloat32 {
		return nil, malformed("%s: number out of range", o.at(key))
	}
	v := float32(f)
	return &v, nil
}

// unit reads a sampling parameter that lies in [0, 1] (Anthropic's
// temperature and top_p).
func (o *obj) unit(key string) (*float32, error) {
	v, err := o.sampling(key)
	if err != nil || v == nil {
		return v, err
	}
	if *v > 1 {
		f, _, _ := o.float(key)
		return nil, malformed("%s: %s is not less or equal to 1", o.at(key), strconv.FormatFloat(f, 'g', -1, 64))
	}
	return v, nil
}

// elem returns the path of element i of the array member key.
func (o *obj) elem(key string, i int) string { return fmt.Sprintf("%s/%d", o.at(key), i) }
