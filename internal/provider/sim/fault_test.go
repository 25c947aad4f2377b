package sim

import (
	"errors"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/converse"
	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestFaultKinds(t *testing.T) {
	tests := []struct {
		name    string
		fault   Fault
		wantMsg string
	}{
		{"throttled", Fault{Kind: errkind.Throttled}, "Too many requests, please wait before trying again."},
		{"unavailable", Fault{Kind: errkind.Unavailable}, defaultMessages[errkind.Unavailable]},
		{"invalid", Fault{Kind: errkind.Invalid}, defaultMessages[errkind.Invalid]},
		{"internal", Fault{Kind: errkind.Internal}, defaultMessages[errkind.Internal]},
		{"custom message", Fault{Kind: errkind.Throttled, Message: "Rate exceeded 100%"}, "Rate exceeded 100%"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Faults: []Fault{tt.fault}})
			check := func(op string, err error) {
				t.Helper()
				if !errkind.Is(err, tt.fault.Kind) || !errors.Is(err, ErrInjected) {
					t.Errorf("%s error = %v, want kind %s wrapping ErrInjected", op, err, tt.fault.Kind)
				}
				if got := errkind.As(err).Message; got != tt.wantMsg {
					t.Errorf("%s message = %q, want %q", op, got, tt.wantMsg)
				}
			}
			resp, err := p.Converse(t.Context(), testCall, say("hi"))
			if resp != nil {
				t.Errorf("Converse returned a response with its error")
			}
			check("Converse", err)
			c := collect(t.Context(), p, testCall, say("hi"))
			check("ConverseStream", c.err)
			if len(c.events) != 0 || c.usage != (converse.Usage{}) {
				t.Errorf("ConverseStream emitted %d events, usage %+v; want none before the error", len(c.events), c.usage)
			}
		})
	}
}

func TestFaultBeforeValidation(t *testing.T) {
	p := New(Config{Faults: []Fault{{Kind: errkind.Throttled}}})
	if _, err := p.Converse(t.Context(), testCall, &converse.Request{}); !errkind.Is(err, errkind.Throttled) {
		t.Errorf("error = %v, want the injected Throttled error before validation", err)
	}
}

func TestFaultSchedule(t *testing.T) {
	tests := []struct {
		name  string
		every int
		after int
		want  []int // failing calls among 1..12
	}{
		{"every call", 1, 0, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"zero every means every call", 0, 0, []int{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}},
		{"every third", 3, 0, []int{1, 4, 7, 10}},
		{"every third after two", 3, 2, []int{3, 6, 9, 12}},
		{"all after five", 1, 5, []int{6, 7, 8, 9, 10, 11, 12}},
		{"every fourth after one", 4, 1, []int{2, 6, 10}},
		{"never within range", 1, 20, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Faults: []Fault{{Every: tt.every, After: tt.after, Kind: errkind.Throttled}}})
			var got []int
			for n := 1; n <= 12; n++ {
				var err error
				if n%2 == 0 { // streams and non-streams share the count
					err = collect(t.Context(), p, testCall, say("hi")).err
				} else {
					_, err = p.Converse(t.Context(), testCall, say("hi"))
				}
				if err != nil {
					got = append(got, n)
				}
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("failing calls (-got +want):\n%s", diff)
			}
			if got, want := p.Calls(), int64(12); got != want {
				t.Errorf("Calls() = %d, want %d", got, want)
			}
		})
	}
}

func TestFaultRestriction(t *testing.T) {
	const other = "amazon.nova-micro-v1:0"
	east := func(model string) converse.Call { return converse.Call{ModelID: model, Region: "us-east-1"} }
	west := func(model string) converse.Call { return converse.Call{ModelID: model, Region: "us-west-2"} }
	tests := []struct {
		name  string
		fault Fault
		calls []converse.Call
		want  []bool // which calls fail
	}{
		{
			name:  "region and model",
			fault: Fault{Regions: []string{"us-east-1"}, Models: []string{testModel}, Kind: errkind.Unavailable},
			calls: []converse.Call{east(testModel), west(testModel), east(other), west(other), east(testModel)},
			want:  []bool{true, false, false, false, true},
		},
		{
			name:  "several regions",
			fault: Fault{Regions: []string{"us-east-1", "us-west-2"}, Kind: errkind.Unavailable},
			calls: []converse.Call{east(other), west(testModel), {ModelID: testModel, Region: "eu-west-1"}},
			want:  []bool{true, true, false},
		},
		{
			name:  "only matching calls count",
			fault: Fault{Every: 2, Regions: []string{"us-east-1"}, Kind: errkind.Throttled},
			calls: []converse.Call{east(testModel), west(testModel), east(testModel), west(testModel), east(other)},
			want:  []bool{true, false, false, false, true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Faults: []Fault{tt.fault}})
			var got []bool
			for _, call := range tt.calls {
				_, err := p.Converse(t.Context(), call, say("hi"))
				if err != nil && !errkind.Is(err, tt.fault.Kind) {
					t.Fatalf("unexpected error %v", err)
				}
				got = append(got, err != nil)
			}
			if diff := cmp.Diff(got, tt.want); diff != "" {
				t.Errorf("failing calls (-got +want):\n%s", diff)
			}
		})
	}
}

func TestMidStreamFault(t *testing.T) {
	echo := say("echo: a b c d e") // 5 text deltas
	tools := &converse.Request{
		Messages:   []converse.Message{user(text("time?"))},
		ToolConfig: &converse.ToolConfig{Tools: []converse.Tool{toolSpec("get_time", "", "")}},
	} // "Calling tool get_time." is 6 deltas, then "{" and "}"
	tests := []struct {
		name      string
		req       *converse.Request
		after     int
		wantKinds []string
		wantOut   int64
	}{
		{"before the first delta", echo, 0, []string{"messageStart"}, 0},
		{"after three deltas", echo, 3, []string{"messageStart", "delta0", "delta0", "delta0"}, 3},
		{"after every delta", echo, 5, []string{"messageStart", "delta0", "delta0", "delta0", "delta0", "delta0", "stop0"}, 5},
		{"beyond the reply", echo, 50, []string{"messageStart", "delta0", "delta0", "delta0", "delta0", "delta0", "stop0"}, 5},
		{"inside the tool input", tools, 7, []string{
			"messageStart", "delta0", "delta0", "delta0", "delta0", "delta0", "delta0", "stop0", "start1", "delta1",
		}, 7},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := New(Config{Faults: []Fault{{MidStream: true, MidStreamAfter: tt.after, Kind: errkind.Unavailable}}})
			c := collect(t.Context(), p, testCall, tt.req)
			if !errkind.Is(c.err, errkind.Unavailable) || !errors.Is(c.err, ErrInjected) {
				t.Fatalf("error = %v, want the injected Unavailable error", c.err)
			}
			if diff := cmp.Diff(kinds(c.events), tt.wantKinds); diff != "" {
				t.Errorf("events (-got +want):\n%s", diff)
			}
			full := collect(t.Context(), New(Config{}), testCall, tt.req).usage
			want := full
			want.OutputTokens = tt.wantOut
			want.TotalTokens = full.InputTokens + tt.wantOut
			if diff := cmp.Diff(c.usage, want); diff != "" {
				t.Errorf("usage (-got +want):\n%s", diff)
			}
		})
	}
}

func TestMidStreamFaultSpareConverse(t *testing.T) {
	p := New(Config{Faults: []Fault{{MidStream: true, Every: 2, Kind: errkind.Internal}}})
	for range 3 {
		if _, err := p.Converse(t.Context(), testCall, say("hi")); err != nil {
			t.Fatalf("Converse error = %v, want none: mid-stream faults only fail streams", err)
		}
	}
	var failed []bool
	for range 3 {
		failed = append(failed, collect(t.Context(), p, testCall, say("hi")).err != nil)
	}
	if diff := cmp.Diff(failed, []bool{true, false, true}); diff != "" {
		t.Errorf("failing streams (-got +want):\n%s", diff)
	}
}

func TestFaultPrecedence(t *testing.T) {
	p := New(Config{Faults: []Fault{
		{MidStream: true, Kind: errkind.Internal},
		{Kind: errkind.Unavailable},
		{Kind: errkind.Throttled},
	}})
	c := collect(t.Context(), p, testCall, say("hi"))
	if !errkind.Is(c.err, errkind.Unavailable) || len(c.events) != 0 {
		t.Errorf("ConverseStream = %v after %d events, want the first up-front fault (Unavailable) before any event", c.err, len(c.events))
	}
}

func TestConcurrency(t *testing.T) {
	const goroutines, perGoroutine = 100, 10
	p := New(Config{Faults: []Fault{{Every: 4, Kind: errkind.Throttled}}})
	req := &converse.Request{
		System:   []converse.SystemBlock{{Text: ptr("Shared and cached.")}, {CachePoint: []byte(`{"type":"default"}`)}},
		Messages: []converse.Message{user(text("The same question from everyone."))},
	}
	want := callConverse(t, New(fixedClock()), req)

	var (
		mu        sync.Mutex
		throttled int
		writes    int64
		texts     = map[string]int{}
		wg        sync.WaitGroup
	)
	for g := range goroutines {
		wg.Go(func() {
			for i := range perGoroutine {
				var (
					txt   string
					usage converse.Usage
					err   error
				)
				if (g+i)%2 == 0 {
					var resp *converse.Response
					resp, err = p.Converse(t.Context(), testCall, req)
					if err == nil {
						txt, usage = replyText(resp), resp.Usage
					}
				} else {
					c := collect(t.Context(), p, testCall, req)
					err, usage = c.err, c.usage
					txt = reassemble(c.events).text
				}
				mu.Lock()
				switch {
				case errkind.Is(err, errkind.Throttled):
					throttled++
				case err != nil:
					t.Errorf("unexpected error %v", err)
				default:
					texts[txt]++
					writes += usage.CacheWriteInputTokens
				}
				mu.Unlock()
			}
		})
	}
	wg.Wait()

	const total = goroutines * perGoroutine
	if got := p.Calls(); got != total {
		t.Errorf("Calls() = %d, want %d", got, total)
	}
	if want := total / 4; throttled != want {
		t.Errorf("%d calls throttled, want %d", throttled, want)
	}
	if diff := cmp.Diff(texts, map[string]int{replyText(want): total - total/4}); diff != "" {
		t.Errorf("replies (-got +want):\n%s", diff)
	}
	if got := writes; got != want.Usage.CacheWriteInputTokens {
		t.Errorf("cache write tokens over all calls = %d, want one write of %d", got, want.Usage.CacheWriteInputTokens)
	}
	if !strings.HasSuffix(replyText(want), ".") {
		t.Errorf("reply %q is not a sentence", replyText(want))
	}
}
