package metrics_test

import "github.com/tollgate-dev/tollgate/internal/metrics"

const maxMemory = metrics.DefaultMaxMemory
