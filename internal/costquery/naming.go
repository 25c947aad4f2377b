package costquery

import (
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/pricing"
)

// Dimension values of Tollgate's line items: all usage is on-demand
// inference, billed by Amazon Bedrock or, for the models AWS sells through
// AWS Marketplace, by their Marketplace product (Namer.Service).
const (
	// ServiceName is the SERVICE of usage Amazon Bedrock bills itself.
	ServiceName = pricing.ServiceName
	// ServiceCode is its SERVICE_CODE (the Price List service code).
	ServiceCode = pricing.ServiceCode
	// RecordType is the RECORD_TYPE dimension value.
	RecordType = "Usage"
	// NoRegion is the REGION value of usage no region served; such usage
	// has no tokens, so it rarely produces a line item.
	NoRegion = "NoRegion"
)

// Class is a token class: each class of a rollup becomes its own line
// item, with its own usage type, cost and quantity, as in the AWS bill.
// It is pricing's Kind.
type Class = pricing.Kind

// The token classes, in line-item order.
const (
	Input        = pricing.Input
	Output       = pricing.Output
	CacheRead    = pricing.CacheRead
	CacheWrite   = pricing.CacheWrite
	CacheWrite1h = pricing.CacheWrite1h
	numClasses   = pricing.NumKinds
)

// Namer names line items the AWS way (see pricing.Namer).
type Namer = pricing.Namer

// NewNamer returns a Namer knowing the models of c (which may be nil: every
// model is then named by its id).
func NewNamer(c *catalog.Catalog) *Namer { return pricing.NewNamer(c) }

// RegionCode returns the billing code AWS prefixes usage types with for
// region ("USE1" for us-east-1).
func RegionCode(region string) string { return pricing.RegionCode(region) }

// ShortModelName derives the model name AWS usage types carry from a
// catalogue display name (see pricing.ShortModelName).
func ShortModelName(display string) string { return pricing.ShortModelName(display) }
