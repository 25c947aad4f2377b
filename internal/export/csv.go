package export

import (
	"bufio"
	"bytes"
	"encoding/json"
	"io"
	"strings"
	"time"

	"github.com/tollgate-dev/tollgate/internal/costquery"
)

// Columns are the export's columns, in order, named as in CUR 2.0.
var Columns = []string{
	"line_item_usage_start_date",
	"line_item_usage_end_date",
	"line_item_usage_account_id",
	"line_item_line_item_type",
	"line_item_product_code",
	"line_item_resource_id",
	"line_item_usage_type",
	"line_item_operation",
	"line_item_usage_amount",
	"pricing_unit",
	"line_item_unblended_rate",
	"line_item_unblended_cost",
	"product",
	"product_region",
	"model",
	"resource_tags",
}

// TagKeyPrefix prefixes the tag keys in resource_tags, as CUR 2.0 names
// user-defined cost allocation tags ("user_cost_center").
const TagKeyPrefix = "user_"

// CSVWriter writes line items as CSV (RFC 4180, "\n" line ends) with a
// header row of Columns. Dates are RFC 3339 UTC ("2026-11-01T00:00:00Z");
// line_item_usage_amount is in the pricing unit, exact: in 1K tokens with
// three decimals (tokens/1000), in 1M tokens with six; the rate and cost
// are USD with exactly nine decimals (exact nano-dollars), the rate
// empty when unrated; product is a JSON object {"product_name": ...};
// resource_tags is a JSON object with keys "user_<key>", sorted.
type CSVWriter struct {
	w      *bufio.Writer
	line   []byte
	header bool
	tags   map[string][]byte // canonical tag set -> encoded field
}

// NewCSVWriter returns a CSVWriter writing to w.
func NewCSVWriter(w io.Writer) *CSVWriter {
	return &CSVWriter{w: bufio.NewWriterSize(w, 64<<10), tags: map[string][]byte{}}
}

func (c *CSVWriter) writeHeader() error {
	c.header = true
	_, err := c.w.WriteString(strings.Join(Columns, ",") + "\n")
	return err
}

// Write implements Writer.
func (c *CSVWriter) Write(li *LineItem) error {
	if !c.header {
		if err := c.writeHeader(); err != nil {
			return err
		}
	}
	b := c.line[:0]
	b = li.Start.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = li.End.UTC().AppendFormat(b, time.RFC3339)
	b = append(b, ',')
	b = appendField(b, li.Account)
	b = append(b, ","+LineItemType+","...)
	b = appendField(b, cmpOr(li.ProductCode, ProductCode))
	b = append(b, ',')
	b = appendField(b, li.ResourceID)
	b = append(b, ',')
	b = appendField(b, li.UsageType)
	b = append(b, ',')
	b = appendField(b, li.Operation)
	b = append(b, ',')
	if li.PerMillion {
		b = appendFixed(b, li.Tokens, 6)
	} else {
		b = appendFixed(b, li.Tokens, 3)
	}
	b = append(b, ',')
	b = append(b, li.Unit()...)
	b = append(b, ',')
	if li.Rated {
		b = appendFixed(b, li.unitRate(), 9)
	}
	b = append(b, ',')
	b = appendFixed(b, int64(li.Cost), 9)
	b = append(b, ',')
	b = appendField(b, string(productJSON(li)))
	b = append(b, ',')
	b = appendField(b, li.Region)
	b = append(b, ',')
	b = appendField(b, li.Model)
	b = append(b, ',')
	b = append(b, c.tagsField(li)...)
	b = append(b, '\n')
	c.line = b
	_, err := c.w.Write(b)
	return err
}

// tagsField returns the CSV field of li's tags, encoded once per tag set.
func (c *CSVWriter) tagsField(li *LineItem) []byte {
	if li.tagsKey != "" || len(li.Tags) == 0 {
		if f, ok := c.tags[li.tagsKey]; ok {
			return f
		}
	}
	f := appendField(nil, string(tagsJSON(li)))
	if li.tagsKey != "" || len(li.Tags) == 0 {
		c.tags[li.tagsKey] = f
	}
	return f
}

// resourceTags returns li's tags keyed as in CUR 2.0.
func resourceTags(li *LineItem) map[string]string {
	m := make(map[string]string, len(li.Tags))
	for k, v := range li.Tags {
		m[TagKeyPrefix+k] = v
	}
	return m
}

// productName returns li's product name: "Amazon Bedrock" unless set.
func productName(li *LineItem) string { return cmpOr(li.Product, costquery.ServiceName) }

// productJSON encodes li's product column, {"product_name": ...}.
func productJSON(li *LineItem) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(map[string]string{ProductNameKey: productName(li)}) // a map of strings always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// tagsJSON encodes li's resource tags as a JSON object, keys sorted.
func tagsJSON(li *LineItem) []byte {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(resourceTags(li)) // a map of strings always encodes
	return bytes.TrimSuffix(buf.Bytes(), []byte("\n"))
}

// Close implements Writer: it writes the header if no line item came, and
// flushes.
func (c *CSVWriter) Close() error {
	if !c.header {
		if err := c.writeHeader(); err != nil {
			return err
		}
	}
	return c.w.Flush()
}

// appendField appends s as a CSV field, quoted when it must be (as
// encoding/csv quotes).
func appendField(b []byte, s string) []byte {
	if !needsQuotes(s) {
		return append(b, s...)
	}
	b = append(b, '"')
	for {
		i := strings.IndexByte(s, '"')
		if i < 0 {
			break
		}
		b = append(b, s[:i+1]...)
		b = append(b, '"')
		s = s[i+1:]
	}
	b = append(b, s...)
	return append(b, '"')
}

func needsQuotes(s string) bool {
	if s == "" {
		return false
	}
	if s == `\.` || s[0] == ' ' || s[0] == '\t' {
		return true
	}
	return strings.ContainsAny(s, ",\"\r\n")
}

// appendFixed appends v/10^scale as a decimal with exactly scale
// fractional digits: appendFixed(b, 1234, 3) appends "1.234".
func appendFixed(b []byte, v int64, scale int) []byte {
	u := uint64(v)
	if v < 0 {
		b = append(b, '-')
		u = -u
	}
	var digits [24]byte // 20 digits of a uint64, the point, and room
	i := len(digits)
	for range scale {
		i--
		digits[i] = byte('0' + u%10)
		u /= 10
	}
	if scale > 0 {
		i--
		digits[i] = '.'
	}
	for {
		i--
		digits[i] = byte('0' + u%10)
		u /= 10
		if u == 0 {
			break
		}
	}
	return append(b, digits[i:]...)
}
