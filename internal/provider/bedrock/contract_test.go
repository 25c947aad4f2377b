package bedrock_test

import (
	"github.com/tollgate-dev/tollgate/internal/invoke"
	"github.com/tollgate-dev/tollgate/internal/provider/bedrock"
)

// Provider implements the pipeline's provider contracts, Converse and
// native; the check lives in a test so the provider does not import the
// pipeline.
var (
	_ invoke.Provider      = (*bedrock.Provider)(nil)
	_ invoke.NativeInvoker = (*bedrock.Provider)(nil)
)
