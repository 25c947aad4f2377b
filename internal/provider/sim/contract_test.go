package sim

import "github.com/tollgate-dev/tollgate/internal/invoke"

// The simulator implements the pipeline's provider contract; the check
// lives in a test so the provider does not import the pipeline.
var _ invoke.Provider = (*Provider)(nil)
