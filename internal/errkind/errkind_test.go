package errkind_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/errkind"
)

func TestKindOfIsAs(t *testing.T) {
	throttled := errkind.New(errkind.Throttled, "slow down")
	wrapped := fmt.Errorf("upstream: %w", throttled)
	tests := []struct {
		name string
		err  error
		kind errkind.Kind
	}{
		{"direct", throttled, errkind.Throttled},
		{"wrapped", wrapped, errkind.Throttled},
		{"canceled", context.Canceled, errkind.Canceled},
		{"foreign", fmt.Errorf("boom"), errkind.Internal},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := errkind.As(tt.err).Kind; got != tt.kind {
				t.Errorf("As(err).Kind = %v, want %v", got, tt.kind)
			}
			isErr := tt.name == "direct" || tt.name == "wrapped"
			if got := errkind.Is(tt.err, tt.kind); got != isErr {
				t.Errorf("Is(err, %v) = %v, want %v", tt.kind, got, isErr)
			}
		})
	}
	if errkind.Is(nil, errkind.Internal) {
		t.Error("Is(nil, Internal) = true")
	}
	if got := errkind.KindOf(wrapped); got != errkind.Throttled {
		t.Errorf("KindOf(wrapped) = %v, want Throttled", got)
	}
}

// TestIsDoesNotAllocate: Is runs on every runtime call.
func TestIsDoesNotAllocate(t *testing.T) {
	err := fmt.Errorf("upstream: %w", errkind.New(errkind.Throttled, "slow down"))
	if n := testing.AllocsPerRun(100, func() {
		_ = errkind.Is(nil, errkind.Throttled)
		_ = errkind.Is(err, errkind.Throttled)
		_ = errkind.KindOf(err)
	}); n != 0 {
		t.Errorf("Is and KindOf allocate %v times, want 0", n)
	}
}
