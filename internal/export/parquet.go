package export

import (
	"io"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tollgate-dev/tollgate/internal/buildinfo"
)

// parquetRow is one line item in the Parquet schema. Money and usage are
// DECIMAL(18, scale) columns over INT64, whose stored integers are exact:
// the cost and rate in nano-dollars (scale 9), the usage amount in
// millionths of the pricing unit (scale 6: tokens × 1,000 in 1K tokens,
// tokens in 1M tokens).
type parquetRow struct {
	UsageStartDate time.Time         `parquet:"line_item_usage_start_date,timestamp(millisecond)"`
	UsageEndDate   time.Time         `parquet:"line_item_usage_end_date,timestamp(millisecond)"`
	UsageAccountID string            `parquet:"line_item_usage_account_id,dict"`
	LineItemType   string            `parquet:"line_item_line_item_type,dict"`
	ProductCode    string            `parquet:"line_item_product_code,dict"`
	ResourceID     string            `parquet:"line_item_resource_id,dict"`
	UsageType      string            `parquet:"line_item_usage_type,dict"`
	Operation      string            `parquet:"line_item_operation,dict"`
	UsageAmount    int64             `parquet:"line_item_usage_amount,decimal(6:18)"`
	PricingUnit    string            `parquet:"pricing_unit,dict"`
	UnblendedRate  *int64            `parquet:"line_item_unblended_rate,decimal(9:18)"`
	UnblendedCost  int64             `parquet:"line_item_unblended_cost,decimal(9:18)"`
	Product        map[string]string `parquet:"product"`
	ProductRegion  string            `parquet:"product_region,dict"`
	Model          string            `parquet:"model,dict"`
	ResourceTags   map[string]string `parquet:"resource_tags"`
}

// Parquet layout: row groups of at most parquetRowGroup rows keep the
// writer's memory bounded (a row group is buffered until it is complete);
// rows go to the writer parquetBatch at a time.
const (
	parquetRowGroup = 64 << 10
	parquetBatch    = 1024
)

// ParquetWriter writes line items as a Snappy-compressed Parquet file
// whose columns are Columns, typed as CUR 2.0's: dates are TIMESTAMP
// (milliseconds, UTC); line_item_usage_amount is DECIMAL(18,6) and
// line_item_unblended_rate and line_item_unblended_cost DECIMAL(18,9),
// all stored as INT64 (millionths of the pricing unit and nano-dollars,
// exact), the rate null when unrated; product ({"product_name": ...})
// and resource_tags (keys "user_<key>") are MAP<STRING,STRING>; the other
// columns are dictionary-encoded strings.
type ParquetWriter struct {
	w        *parquet.GenericWriter[parquetRow]
	batch    []parquetRow
	rates    []int64
	tags     map[string]map[string]string // canonical tag set -> resource_tags
	products map[string]map[string]string // product name -> product
}

// NewParquetWriter returns a ParquetWriter writing to w.
func NewParquetWriter(w io.Writer) *ParquetWriter {
	return &ParquetWriter{
		w: parquet.NewGenericWriter[parquetRow](w,
			parquet.Compression(&parquet.Snappy),
			parquet.MaxRowsPerRowGroup(parquetRowGroup),
			&parquet.WriterConfig{CreatedBy: buildinfo.Read().String()},
		),
		batch:    make([]parquetRow, 0, parquetBatch),
		rates:    make([]int64, parquetBatch),
		tags:     map[string]map[string]string{},
		products: map[string]map[string]string{},
	}
}

// Write implements Writer.
func (p *ParquetWriter) Write(li *LineItem) error {
	row := parquetRow{
		UsageStartDate: li.Start.UTC(), UsageEndDate: li.End.UTC(), UsageAccountID: li.Account,
		LineItemType: LineItemType, ProductCode: cmpOr(li.ProductCode, ProductCode), ResourceID: li.ResourceID, UsageType: li.UsageType,
		Operation: li.Operation, UsageAmount: li.amountMicros(), PricingUnit: li.Unit(), UnblendedCost: int64(li.Cost),
		Product: p.product(li), ProductRegion: li.Region, Model: li.Model, ResourceTags: p.resourceTags(li),
	}
	if li.Rated {
		r := &p.rates[len(p.batch)]
		*r = li.unitRate()
		row.UnblendedRate = r
	}
	p.batch = append(p.batch, row)
	if len(p.batch) == cap(p.batch) {
		return p.flush()
	}
	return nil
}

// product returns li's product column, one map per product name.
func (p *ParquetWriter) product(li *LineItem) map[string]string {
	name := productName(li)
	m, ok := p.products[name]
	if !ok {
		m = map[string]string{ProductNameKey: name}
		p.products[name] = m
	}
	return m
}

func (p *ParquetWriter) resourceTags(li *LineItem) map[string]string {
	if li.tagsKey == "" && len(li.Tags) > 0 {
		return resourceTags(li)
	}
	m, ok := p.tags[li.tagsKey]
	if !ok {
		m = resourceTags(li)
		p.tags[li.tagsKey] = m
	}
	return m
}

func (p *ParquetWriter) flush() error {
	if len(p.batch) == 0 {
		return nil
	}
	_, err := p.w.Write(p.batch)
	clear(p.batch)
	p.batch = p.batch[:0]
	return err
}

// Close implements Writer: it writes the buffered rows and the footer.
func (p *ParquetWriter) Close() error {
	if err := p.flush(); err != nil {
		return err
	}
	return p.w.Close()
}
