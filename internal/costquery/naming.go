package costquery

import (
	"strings"
	"unicode"

	"github.com/tollgate-dev/tollgate/internal/catalog"
)

// Fixed dimension values of every Tollgate line item: all usage is Amazon
// Bedrock on-demand inference.
const (
	// ServiceName is the SERVICE dimension value.
	ServiceName = "Amazon Bedrock"
	// ServiceCode is the SERVICE_CODE dimension value (the Price List
	// service code).
	ServiceCode = "AmazonBedrock"
	// RecordType is the RECORD_TYPE dimension value.
	RecordType = "Usage"
	// NoRegion is the REGION value of usage no region served; such usage
	// has no tokens, so it rarely produces a line item.
	NoRegion = "NoRegion"
)

// Class is a token class: each class of a rollup becomes its own line
// item, with its own usage type, cost and quantity, as in the AWS bill.
type Class int

// The token classes, in line-item order.
const (
	Input Class = iota
	Output
	CacheRead
	CacheWrite
	numClasses
)

// classSuffix are the usage-type suffixes AWS uses for each token class
// (reference §4.2 and the Bedrock CUR guide: "*-input-tokens",
// "*-output-tokens", "*-cache-read-input-token-count",
// "*-cache-write-input-token-count").
var classSuffix = [numClasses]string{
	Input:      "-input-tokens",
	Output:     "-output-tokens",
	CacheRead:  "-cache-read-input-token-count",
	CacheWrite: "-cache-write-input-token-count",
}

// Suffix returns the usage-type suffix of c, such as "-input-tokens".
func (c Class) Suffix() string { return classSuffix[c] }

// regionCodes are the billing codes AWS prefixes usage types with. Note
// eu-west-1, whose code is "EU", not "EUW1".
var regionCodes = map[string]string{
	"us-east-1":      "USE1",
	"us-east-2":      "USE2",
	"us-west-1":      "USW1",
	"us-west-2":      "USW2",
	"ca-central-1":   "CAN1",
	"sa-east-1":      "SAE1",
	"eu-west-1":      "EU",
	"eu-west-2":      "EUW2",
	"eu-west-3":      "EUW3",
	"eu-central-1":   "EUC1",
	"eu-central-2":   "EUC2",
	"eu-north-1":     "EUN1",
	"eu-south-1":     "EUS1",
	"eu-south-2":     "EUS2",
	"ap-northeast-1": "APN1",
	"ap-northeast-2": "APN2",
	"ap-northeast-3": "APN3",
	"ap-southeast-1": "APS1",
	"ap-southeast-2": "APS2",
	"ap-south-1":     "APS3",
	"ap-east-1":      "APE1",
	"me-south-1":     "MES1",
	"me-central-1":   "MEC1",
	"af-south-1":     "AFS1",
	"il-central-1":   "ILC1",
	"us-gov-west-1":  "UGW1",
	"us-gov-east-1":  "UGE1",
}

// RegionCode returns the billing code AWS prefixes usage types with for
// region ("USE1" for us-east-1). A region without a known code is its
// name in upper case.
func RegionCode(region string) string {
	if c, ok := regionCodes[region]; ok {
		return c
	}
	return strings.ToUpper(region)
}

// ShortModelName derives the model name AWS usage types carry from a
// catalogue display name: the words joined without spaces ("Claude 3
// Haiku" -> "Claude3Haiku", "Nova Lite" -> "NovaLite"), a hyphen kept
// between two numbers ("Llama 3.1 8B Instruct" -> "Llama3.1-8BInstruct"),
// parentheses dropped; Claude 4 and later put the version before the
// family as AWS does ("Claude Sonnet 4.5" -> "Claude4.5Sonnet").
func ShortModelName(display string) string {
	display = strings.NewReplacer("(", " ", ")", " ").Replace(display)
	f := strings.Fields(display)
	if len(f) == 3 && f[0] == "Claude" && (f[1] == "Sonnet" || f[1] == "Opus" || f[1] == "Haiku") && startsDigit(f[2]) {
		return "Claude" + f[2] + f[1]
	}
	var b strings.Builder
	prev := ""
	for _, w := range f {
		if w == "-" {
			b.WriteByte('-')
			prev = ""
			continue
		}
		if endsDigit(prev) && startsDigit(w) {
			b.WriteByte('-')
		}
		b.WriteString(w)
		prev = w
	}
	return b.String()
}

func startsDigit(s string) bool { return s != "" && unicode.IsDigit(rune(s[0])) }
func endsDigit(s string) bool   { return s != "" && unicode.IsDigit(rune(s[len(s)-1])) }

// Namer names line items the AWS way. It is immutable and safe for
// concurrent use.
type Namer struct {
	short   map[string]string // model id -> usage-type model name
	display map[string]string // model id -> display name
}

// NewNamer returns a Namer knowing the models of c (which may be nil: every
// model is then named by its id).
func NewNamer(c *catalog.Catalog) *Namer {
	n := &Namer{short: map[string]string{}, display: map[string]string{}}
	if c != nil {
		for _, m := range c.Models() {
			n.short[m.ID] = ShortModelName(m.Name)
			n.display[m.ID] = m.Name
		}
	}
	return n
}

// ModelName returns the usage-type model name of modelID; a model the
// catalogue does not know keeps its id, as AWS does for newer models
// ("USE1-mistral.voxtral-small-24b-2507-mantle-input-tokens-standard").
func (n *Namer) ModelName(modelID string) string {
	if s, ok := n.short[modelID]; ok {
		return s
	}
	return modelID
}

// DisplayName returns the catalogue display name of modelID, or "" when
// the catalogue does not know it.
func (n *Namer) DisplayName(modelID string) string { return n.display[modelID] }

// UsageType returns the usage type of class c of modelID served in region,
// e.g. "USE1-Claude3Haiku-input-tokens".
func (n *Namer) UsageType(region, modelID string, c Class) string {
	name := n.ModelName(modelID) + c.Suffix()
	if region == "" {
		return name
	}
	return RegionCode(region) + "-" + name
}
