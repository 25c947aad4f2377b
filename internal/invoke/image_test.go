package invoke_test

import (
	"context"
	"encoding/json"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/admission"
	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
	"github.com/tollgate-dev/tollgate/internal/provider/sim"
)

// TestImageGeneration runs image calls on Nova Canvas through the
// simulator: the answer holds the images asked for, the record carries
// them as units at the per-image price of their quality and size (two
// premium 2048 x 2048 images: 2 x $0.08, catalog TestImagePrices), a
// malformed body is a ValidationException recorded without cost, a size
// no price covers would be unpriced, and Converse on the model is
// refused as Bedrock refuses it.
func TestImageGeneration(t *testing.T) {
	const canvas = "amazon.nova-canvas-v1:0"
	svc, p := newService(t, invoke.Config{}, sim.New(sim.Config{}))
	ctx := t.Context()
	body := `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"a lighthouse at dusk"},
		"imageGenerationConfig":{"numberOfImages":2,"quality":"premium","width":2048,"height":2048}}`
	resp, err := svc.InvokeModel(ctx, invoke.Caller{RequestID: "img-1", Account: account}, canvas, converse.NativeRequest{Body: []byte(body)})
	if err != nil {
		t.Fatalf("InvokeModel: %v", err)
	}
	var out struct {
		Images []string `json:"images"`
	}
	if err := json.Unmarshal(resp.Body, &out); err != nil || len(out.Images) != 2 {
		t.Fatalf("response %s: %v; want 2 images", resp.Body, err)
	}
	r := onlyRecord(t, p)
	if !r.Priced || r.Units != 2 || r.UnitKind != "image-premium-2048x2048" || r.UnitCost != 160_000_000 || r.Cost != 160_000_000 ||
		r.InputTokens != 0 || r.OutputTokens != 0 || r.Outcome != ledger.OutcomeSuccess || r.PriceVersion == "" {
		t.Errorf("record: priced %v, %d units of %q costing %v (cost %v, tokens %d/%d, %s); want 2 premium 2048 images at $0.16",
			r.Priced, r.Units, r.UnitKind, r.UnitCost, r.Cost, r.InputTokens, r.OutputTokens, r.Outcome)
	}

	for _, tc := range []struct{ id, body string }{
		{"img-bad-1", `{"taskType":"TEXT_IMAGE"}`},
		{"img-bad-2", `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":9}}`},
		{"img-bad-3", `not json`},
	} {
		_, err := svc.InvokeModel(ctx, invoke.Caller{RequestID: tc.id, Account: account}, canvas, converse.NativeRequest{Body: []byte(tc.body)})
		if !errkind.Is(err, errkind.Invalid) {
			t.Errorf("%s: %v, want a ValidationException", tc.body, err)
		}
	}
	if _, err := svc.Converse(ctx, invoke.Caller{RequestID: "img-converse", Account: account}, canvas, request("draw a cat")); !errkind.Is(err, errkind.Invalid) {
		t.Errorf("Converse on an image model: %v, want a ValidationException", err)
	}
	err = svc.ConverseStream(ctx, invoke.Caller{RequestID: "img-stream", Account: account}, canvas, request("draw a cat"),
		func(converse.StreamEvent) error { return nil })
	if !errkind.Is(err, errkind.Invalid) {
		t.Errorf("ConverseStream on an image model: %v, want a ValidationException", err)
	}
	for _, r := range p.records(t) {
		if r.RequestID != "img-1" && (r.Cost != 0 || r.Units != 0) {
			t.Errorf("refused call %s recorded %d units, cost %v", r.RequestID, r.Units, r.Cost)
		}
	}
}

// nativeImages is a provider answering InvokeModel natively, as the
// bedrock provider does, with a fixed body.
type nativeImages struct {
	*sim.Provider
	body string
}

func (n nativeImages) InvokeModel(context.Context, converse.Call, converse.NativeRequest) (converse.NativeResponse, error) {
	return converse.NativeResponse{Body: []byte(n.body), ContentType: "application/json"}, nil
}

func (n nativeImages) InvokeModelStream(context.Context, converse.Call, converse.NativeRequest, func([]byte) error) (converse.Usage, error) {
	return converse.Usage{}, errkind.New(errkind.Invalid, "not streamed")
}

// TestImagesCountedFromProvider checks a provider that answers natively
// (real Bedrock): the images are counted in its answer, not taken from
// the request, priced at the quality and size the request asked for;
// and images whose request named no quality the price needs are
// unpriced, never $0.
func TestImagesCountedFromProvider(t *testing.T) {
	const canvas = "amazon.nova-canvas-v1:0"
	// Asked for 3, answered 2 (Bedrock filtered one out).
	svc, p := newService(t, invoke.Config{}, nativeImages{sim.New(sim.Config{}), `{"images":["iVBO","iVBO"]}`})
	body := `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":3,"quality":"standard","width":1280,"height":720}}`
	if _, err := svc.InvokeModel(t.Context(), invoke.Caller{RequestID: "n1", Account: account}, canvas, converse.NativeRequest{Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	r := onlyRecord(t, p)
	if !r.Priced || r.Units != 2 || r.UnitKind != "image-standard-1024x1024" || r.UnitCost != 80_000_000 || r.Cost != r.UnitCost {
		t.Errorf("record: priced %v, %d units of %q at %v (cost %v); want 2 standard up-to-1024 images at $0.08", r.Priced, r.Units, r.UnitKind, r.UnitCost, r.Cost)
	}

	// A body Tollgate cannot read (Bedrock took it): the images are
	// kept, unpriced.
	svc2, p2 := newService(t, invoke.Config{}, nativeImages{sim.New(sim.Config{}), `{"images":["iVBO"]}`})
	if _, err := svc2.InvokeModel(t.Context(), invoke.Caller{RequestID: "n2", Account: account}, canvas,
		converse.NativeRequest{Body: []byte(`{"taskType":"FUTURE_TASK"}`)}); err != nil {
		t.Fatal(err)
	}
	r = onlyRecord(t, p2)
	if r.Priced || r.Units != 1 || r.UnitKind != "image" || r.Cost != 0 || r.UnitCost != 0 {
		t.Errorf("record: priced %v, %d units of %q, cost %v; want 1 unpriced image", r.Priced, r.Units, r.UnitKind, r.Cost)
	}
}

// worstCases records the worst case of each admitted call.
type worstCases struct{ got []money.Amount }

func (w *worstCases) Admit(_ context.Context, r admission.Request) (admission.Ticket, error) {
	w.got = append(w.got, r.WorstCase)
	return keep{}, nil
}

// keep is a ticket that keeps the model.
type keep struct{}

func (keep) Model() string        { return "" }
func (keep) Done(r ledger.Record) {}

// TestImageWorstCase checks admission reserves an image call's images
// at their per-image price (a budget's hard limit then holds for image
// calls): 3 premium 2048 images reserve 3 x $0.08.
func TestImageWorstCase(t *testing.T) {
	adm := &worstCases{}
	svc, _ := newService(t, invoke.Config{Admitter: adm}, sim.New(sim.Config{}))
	body := `{"taskType":"TEXT_IMAGE","textToImageParams":{"text":"x"},"imageGenerationConfig":{"numberOfImages":3,"quality":"premium","width":2048,"height":2048}}`
	if _, err := svc.InvokeModel(t.Context(), invoke.Caller{RequestID: "w1", Account: account}, "amazon.nova-canvas-v1:0",
		converse.NativeRequest{Body: []byte(body)}); err != nil {
		t.Fatal(err)
	}
	if len(adm.got) != 1 || adm.got[0] != 240_000_000 {
		t.Errorf("worst cases %v, want [0.24]", adm.got)
	}
}
