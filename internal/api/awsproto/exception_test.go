package awsproto

import (
	"encoding/json"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestStreamException(t *testing.T) {
	for _, tc := range []struct {
		name string
		err  error
		typ  string
		body map[string]any
	}{
		{"throttled", errkind.New(errkind.Throttled, "slow down"), "throttlingException", map[string]any{"message": "slow down"}},
		{"not found falls back", errkind.New(errkind.NotFound, "gone"), "modelStreamErrorException",
			map[string]any{"message": "gone", "originalStatusCode": float64(404), "originalMessage": "gone"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			typ, payload := BedrockStreamExceptions.Exception(BedrockCodes, tc.err)
			var body map[string]any
			if err := json.Unmarshal(payload, &body); err != nil {
				t.Fatal(err)
			}
			if typ != tc.typ {
				t.Errorf("type %q, want %q", typ, tc.typ)
			}
			if diff := cmp.Diff(body, tc.body); diff != "" {
				t.Errorf("(-got +want):\n%s", diff)
			}
		})
	}
}

func TestExpressionRoundTrip(t *testing.T) {
	in := `{"And":[{"Tags":{"Key":"dept","Values":["claims"],"MatchOptions":["EQUALS"]}},{"Not":{"Dimensions":{"Key":"REGION","Values":["us-east-1"]}}}]}`
	var e Expression
	if err := DecodeJSON([]byte(in), &e); err != nil {
		t.Fatal(err)
	}
	q, err := e.Query()
	if err != nil {
		t.Fatal(err)
	}
	out, err := json.Marshal(ExpressionOf(q))
	if err != nil {
		t.Fatal(err)
	}
	if string(out) != in {
		t.Errorf("round trip\n%s\nwant\n%s", out, in)
	}
	deep := &Expression{}
	for range costquery.MaxFilterDepth {
		deep = &Expression{Not: deep}
	}
	if _, err := deep.Query(); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("an expression nested %d deep: %v, want Invalid", costquery.MaxFilterDepth+1, err)
	}
}
