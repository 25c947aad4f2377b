package reconcile

import (
	"errors"
	"fmt"
	"io"
	"math/big"
	"os"
	"strconv"
	"time"

	"github.com/parquet-go/parquet-go"
	"github.com/parquet-go/parquet-go/format"
)

// Parquet columns are read by their CUR 2.0 names whatever their
// physical type: strings (BYTE_ARRAY), DECIMAL over INT32/INT64 (the
// stored integer read exactly with its scale), DOUBLE (written as its
// shortest decimal, then parsed as a string is), TIMESTAMP in
// milliseconds, microseconds or nanoseconds; resource_tags is a
// MAP<STRING,STRING> (its key and value leaves).

// pqCol is how one leaf column is converted to text.
type pqCol struct {
	field   *string // the item field it fills; nil for a tag leaf
	scale   int     // DECIMAL scale, -1 when not a decimal
	unit    time.Duration
	isTime  bool
	tagKey  bool
	tagVal  bool
	prodKey bool // a key leaf of the product map
	prodVal bool
	colName string
}

func (c *CUR) readParquet(path string, from, to time.Time) error {
	fail := func(format string, args ...any) error {
		return fmt.Errorf("reconcile: %s: "+format, append([]any{path}, args...)...)
	}
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("reconcile: %w", err)
	}
	pf, err := parquet.OpenFile(f, st.Size())
	if err != nil {
		return fail("not a Parquet file: %v", err)
	}
	var it item
	fields := map[string]*string{colStart: &it.start, colType: &it.typ, colProduct: &it.product, colService: &it.service,
		colResource: &it.resource, colUsageType: &it.usageType, colAmount: &it.amount, colUnit: &it.unit, colRate: &it.rate,
		colCost: &it.cost, colProdName: &it.productName}
	cols := map[int]*pqCol{}
	found := map[string]bool{}
	for _, p := range pf.Schema().Columns() {
		leaf, ok := pf.Schema().Lookup(p...)
		if !ok {
			continue
		}
		pc := &pqCol{scale: -1, colName: p[0]}
		switch {
		case len(p) == 1 && fields[p[0]] != nil:
			pc.field = fields[p[0]]
		case p[0] == colTags && len(p) > 1 && p[len(p)-1] == "key":
			pc.tagKey = true
		case p[0] == colTags && len(p) > 1 && p[len(p)-1] == "value":
			pc.tagVal = true
		case p[0] == colProductM && len(p) > 1 && p[len(p)-1] == "key":
			pc.prodKey = true
		case p[0] == colProductM && len(p) > 1 && p[len(p)-1] == "value":
			pc.prodVal = true
		default:
			continue
		}
		found[p[0]] = true
		if lt := leaf.Node.Type().LogicalType(); lt != nil {
			switch v := lt.Value.(type) {
			case *format.DecimalType:
				pc.scale = int(v.Scale)
			case *format.TimestampType:
				pc.isTime = true
				switch v.Unit.Value.(type) {
				case *format.MilliSeconds:
					pc.unit = time.Millisecond
				case *format.MicroSeconds:
					pc.unit = time.Microsecond
				default:
					pc.unit = time.Nanosecond
				}
			}
		}
		cols[leaf.ColumnIndex] = pc
	}
	for _, col := range required {
		if !found[col] {
			return fail("no %s column: not a CUR 2.0 export", col)
		}
	}
	buf := make([]parquet.Row, 256)
	n := 0
	for _, rg := range pf.RowGroups() {
		rows := rg.Rows()
		for {
			k, err := rows.ReadRows(buf)
			for _, row := range buf[:k] {
				n++
				it = item{}
				var keys, vals []string // a row holds a column's values together: every key, then every value
				var pkeys, pvals []string
				for _, v := range row {
					pc := cols[v.Column()]
					if pc == nil {
						continue
					}
					if v.IsNull() {
						// An empty or null map has one null key and value;
						// a null value is an empty one.
						switch {
						case pc.tagKey:
							keys = append(keys, "")
						case pc.tagVal:
							vals = append(vals, "")
						case pc.prodKey:
							pkeys = append(pkeys, "")
						case pc.prodVal:
							pvals = append(pvals, "")
						}
						continue
					}
					s, err := pqText(v, pc)
					if err != nil {
						rows.Close()
						return fail("row %d: %s: %v", n, pc.colName, err)
					}
					switch {
					case pc.tagKey:
						keys = append(keys, s)
					case pc.tagVal:
						vals = append(vals, s)
					case pc.prodKey:
						pkeys = append(pkeys, s)
					case pc.prodVal:
						pvals = append(pvals, s)
					default:
						*pc.field = s
					}
				}
				if len(keys) != len(vals) {
					rows.Close()
					return fail("row %d: %s: %d keys, %d values", n, colTags, len(keys), len(vals))
				}
				for i, k := range pkeys {
					if k == productNameKey && i < len(pvals) && it.productName == "" {
						it.productName = pvals[i]
					}
				}
				for i, k := range keys {
					if k == "" {
						continue
					}
					if it.tags == nil {
						it.tags = map[string]string{}
					}
					it.tags[k] = vals[i]
				}
				if err := c.add(&it, from, to); err != nil {
					rows.Close()
					return fail("row %d: %v", n, err)
				}
			}
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				rows.Close()
				return fail("%v", err)
			}
		}
		if err := rows.Close(); err != nil {
			return fail("%v", err)
		}
	}
	return nil
}

// pqText converts a Parquet value to the text a CSV export would hold.
func pqText(v parquet.Value, pc *pqCol) (string, error) {
	switch v.Kind() {
	case parquet.ByteArray, parquet.FixedLenByteArray:
		if pc.scale >= 0 {
			b := v.ByteArray()
			u := new(big.Int).SetBytes(b) // two's complement, big-endian
			if len(b) > 0 && b[0]&0x80 != 0 {
				u.Sub(u, new(big.Int).Lsh(big.NewInt(1), uint(8*len(b))))
			}
			return decimalText(u, pc.scale), nil
		}
		return string(v.ByteArray()), nil
	case parquet.Int32, parquet.Int64:
		i := v.Int64()
		if v.Kind() == parquet.Int32 {
			i = int64(v.Int32())
		}
		switch {
		case pc.isTime:
			return time.Unix(0, 0).Add(time.Duration(i) * pc.unit).UTC().Format(time.RFC3339Nano), nil
		case pc.scale >= 0:
			return decimalText(big.NewInt(i), pc.scale), nil
		}
		return strconv.FormatInt(i, 10), nil
	case parquet.Double:
		return strconv.FormatFloat(v.Double(), 'f', -1, 64), nil
	case parquet.Float:
		return strconv.FormatFloat(float64(v.Float()), 'f', -1, 32), nil
	}
	return "", fmt.Errorf("unsupported Parquet type %s", v.Kind())
}

// decimalText writes the unscaled integer u with scale decimals.
func decimalText(u *big.Int, scale int) string {
	s := new(big.Int).Abs(u).String()
	for len(s) <= scale {
		s = "0" + s
	}
	if scale > 0 {
		s = s[:len(s)-scale] + "." + s[len(s)-scale:]
	}
	if u.Sign() < 0 {
		s = "-" + s
	}
	return s
}
