package export_test

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
)

// This file is a second, independent Parquet reader for the round-trip
// tests, written from the Apache Parquet format specification and sharing
// no code with parquet-go: it parses the footer (Thrift compact protocol),
// walks each column chunk's pages (v1 and v2 data pages, dictionary
// pages), decompresses Snappy itself, and decodes the PLAIN and
// RLE_DICTIONARY encodings of required (flat, non-null) INT64 and
// BYTE_ARRAY columns — enough to re-add the costs, usage amounts and usage
// types of an export.

// thrift is a decoded Thrift compact-protocol struct: field id -> value
// (int64 for every integer type, bool, []byte, []any for a list, thrift
// for a struct).
type thrift map[int16]any

func (t thrift) int(id int16) int64 { v, _ := t[id].(int64); return v }
func (t thrift) str(id int16) string {
	b, _ := t[id].([]byte)
	return string(b)
}
func (t thrift) sub(id int16) thrift { s, _ := t[id].(thrift); return s }
func (t thrift) list(id int16) []any { l, _ := t[id].([]any); return l }

type thriftReader struct {
	b   []byte
	off int
	err error
}

func (r *thriftReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("thrift at %d: "+format, append([]any{r.off}, args...)...)
	}
}

func (r *thriftReader) byte() byte {
	if r.off >= len(r.b) {
		r.fail("unexpected end")
		return 0
	}
	c := r.b[r.off]
	r.off++
	return c
}

func (r *thriftReader) uvarint() uint64 {
	v, n := binary.Uvarint(r.b[min(r.off, len(r.b)):])
	if n <= 0 {
		r.fail("bad varint")
		return 0
	}
	r.off += n
	return v
}

func (r *thriftReader) zigzag() int64 {
	u := r.uvarint()
	return int64(u>>1) ^ -int64(u&1)
}

func (r *thriftReader) bytes(n int) []byte {
	if n < 0 || r.off+n > len(r.b) {
		r.fail("length %d out of range", n)
		return nil
	}
	b := r.b[r.off : r.off+n]
	r.off += n
	return b
}

func (r *thriftReader) readStruct() thrift {
	s := thrift{}
	var last int16
	for r.err == nil {
		h := r.byte()
		if h == 0 { // STOP
			return s
		}
		typ, delta := h&0x0f, int16(h>>4)
		id := last + delta
		if delta == 0 {
			id = int16(r.zigzag())
		}
		last = id
		switch typ {
		case 1:
			s[id] = true
		case 2:
			s[id] = false
		default:
			s[id] = r.readValue(typ)
		}
	}
	return s
}

func (r *thriftReader) readValue(typ byte) any {
	switch typ {
	case 1, 2, 3: // a bool inside a list, or an i8: one byte
		return int64(int8(r.byte()))
	case 4, 5, 6: // i16, i32, i64
		return r.zigzag()
	case 7: // double
		return math.Float64frombits(binary.LittleEndian.Uint64(r.bytes(8)))
	case 8: // binary
		return r.bytes(int(r.uvarint()))
	case 9, 10: // list, set
		h := r.byte()
		n, et := int(h>>4), h&0x0f
		if n == 15 {
			n = int(r.uvarint())
		}
		out := make([]any, 0, min(n, 1<<16))
		for range n {
			if r.err != nil {
				break
			}
			out = append(out, r.readValue(et))
		}
		return out
	case 11: // map
		n := int(r.uvarint())
		if n == 0 {
			return map[any]any{}
		}
		kv := r.byte()
		for range n {
			if r.err != nil {
				break
			}
			r.readValue(kv >> 4)
			r.readValue(kv & 0x0f)
		}
		return nil // no map is needed here
	case 12:
		return r.readStruct()
	}
	r.fail("unknown type %d", typ)
	return nil
}

// snappyDecode decodes a Snappy block (the format Parquet's SNAPPY codec
// uses: no framing).
func snappyDecode(src []byte) ([]byte, error) {
	n, k := binary.Uvarint(src)
	if k <= 0 {
		return nil, errors.New("snappy: bad length")
	}
	src = src[k:]
	dst := make([]byte, 0, n)
	for len(src) > 0 {
		tag := src[0]
		var length, offset int
		switch tag & 3 {
		case 0: // literal
			length = int(tag >> 2)
			src = src[1:]
			if length >= 60 {
				nb := length - 59
				if len(src) < nb {
					return nil, errors.New("snappy: short literal length")
				}
				length = 0
				for i := nb - 1; i >= 0; i-- {
					length = length<<8 | int(src[i])
				}
				src = src[nb:]
			}
			length++
			if len(src) < length {
				return nil, errors.New("snappy: short literal")
			}
			dst = append(dst, src[:length]...)
			src = src[length:]
			continue
		case 1:
			if len(src) < 2 {
				return nil, errors.New("snappy: short copy")
			}
			length = int(tag>>2&7) + 4
			offset = int(tag>>5)<<8 | int(src[1])
			src = src[2:]
		case 2:
			if len(src) < 3 {
				return nil, errors.New("snappy: short copy")
			}
			length = int(tag>>2) + 1
			offset = int(binary.LittleEndian.Uint16(src[1:]))
			src = src[3:]
		case 3:
			if len(src) < 5 {
				return nil, errors.New("snappy: short copy")
			}
			length = int(tag>>2) + 1
			offset = int(binary.LittleEndian.Uint32(src[1:]))
			src = src[5:]
		}
		if offset <= 0 || offset > len(dst) {
			return nil, errors.New("snappy: bad offset")
		}
		for range length { // byte by byte: a copy may overlap its output
			dst = append(dst, dst[len(dst)-offset])
		}
	}
	if uint64(len(dst)) != n {
		return nil, fmt.Errorf("snappy: decoded %d bytes, want %d", len(dst), n)
	}
	return dst, nil
}

// Parquet enums used here.
const (
	pqInt64     = 2
	pqByteArray = 6

	pqRequired = 0

	pqUncompressed = 0
	pqSnappy       = 1

	pqPlain          = 0
	pqPlainDict      = 2
	pqRLEDictionary  = 8
	pqDataPage       = 0
	pqDictionaryPage = 2
	pqDataPageV2     = 3

	pqConvertedDecimal = 5
)

// pqColumn is one leaf column of a file's schema.
type pqColumn struct {
	Name             string
	Type             int64
	Repetition       int64
	Converted        int64
	Scale            int64
	Precision        int64
	LogicalDecimal   bool // the DECIMAL logical type annotation is present
	LogicalScale     int64
	LogicalPrecision int64
}

// pqFile is a parsed Parquet file.
type pqFile struct {
	data    []byte
	meta    thrift
	NumRows int64
	Columns map[string]pqColumn // top-level leaf columns by name
}

func openParquet(data []byte) (*pqFile, error) {
	if len(data) < 12 || string(data[:4]) != "PAR1" || string(data[len(data)-4:]) != "PAR1" {
		return nil, errors.New("parquet: missing PAR1 magic")
	}
	n := int(binary.LittleEndian.Uint32(data[len(data)-8:]))
	if n <= 0 || n > len(data)-12 {
		return nil, errors.New("parquet: bad footer length")
	}
	r := &thriftReader{b: data[len(data)-8-n : len(data)-8]}
	meta := r.readStruct()
	if r.err != nil {
		return nil, r.err
	}
	f := &pqFile{data: data, meta: meta, NumRows: meta.int(3), Columns: map[string]pqColumn{}}
	schema := meta.list(2)
	// The root, then its children; only direct leaf children are recorded
	// (nested groups such as the tags map are skipped with their children).
	skip := 0
	for _, e := range schema[1:] {
		el := e.(thrift)
		if skip > 0 {
			skip += int(el.int(5)) - 1
			continue
		}
		if kids := el.int(5); kids > 0 {
			skip = int(kids)
			continue
		}
		c := pqColumn{Name: el.str(4), Type: el.int(1), Repetition: el.int(3), Converted: el.int(6),
			Scale: el.int(7), Precision: el.int(8)}
		if lt := el.sub(10); lt != nil {
			if d := lt.sub(5); d != nil {
				c.LogicalDecimal, c.LogicalScale, c.LogicalPrecision = true, d.int(1), d.int(2)
			}
		}
		f.Columns[c.Name] = c
	}
	return f, nil
}

// readColumn returns every value of the named required top-level column:
// int64 values for INT64, string values for BYTE_ARRAY.
func (f *pqFile) readColumn(name string) ([]any, error) {
	col, ok := f.Columns[name]
	if !ok {
		return nil, fmt.Errorf("parquet: no column %q", name)
	}
	if col.Repetition != pqRequired {
		return nil, fmt.Errorf("parquet: column %q is not required", name)
	}
	var out []any
	for _, rg := range f.meta.list(4) {
		for _, cc := range rg.(thrift).list(1) {
			md := cc.(thrift).sub(3)
			path := md.list(3)
			if len(path) != 1 || string(path[0].([]byte)) != name {
				continue
			}
			vals, err := f.readChunk(md, col.Type)
			if err != nil {
				return nil, fmt.Errorf("parquet: column %q: %w", name, err)
			}
			out = append(out, vals...)
		}
	}
	return out, nil
}

func (f *pqFile) readChunk(md thrift, typ int64) ([]any, error) {
	start := md.int(9)
	if d, ok := md[11].(int64); ok && d > 0 && d < start {
		start = d
	}
	end := start + md.int(7)
	if start < 4 || end > int64(len(f.data)) {
		return nil, errors.New("chunk out of range")
	}
	codec := md.int(4)
	var dict, out []any
	for pos := start; pos < end; {
		r := &thriftReader{b: f.data[pos:end]}
		h := r.readStruct()
		if r.err != nil {
			return nil, r.err
		}
		pos += int64(r.off)
		size := h.int(3)
		if pos+size > end {
			return nil, errors.New("page out of range")
		}
		page := f.data[pos : pos+size]
		pos += size
		switch h.int(1) {
		case pqDictionaryPage:
			body, err := decompress(codec, page)
			if err != nil {
				return nil, err
			}
			dh := h.sub(7)
			if e := dh.int(2); e != pqPlain && e != pqPlainDict {
				return nil, fmt.Errorf("dictionary encoding %d", e)
			}
			if dict, err = decodePlain(body, typ, int(dh.int(1))); err != nil {
				return nil, err
			}
		case pqDataPage:
			body, err := decompress(codec, page)
			if err != nil {
				return nil, err
			}
			dh := h.sub(5)
			vals, err := decodeValues(body, typ, int(dh.int(1)), dh.int(2), dict)
			if err != nil {
				return nil, err
			}
			out = append(out, vals...)
		case pqDataPageV2:
			dh := h.sub(8)
			levels := int(dh.int(5) + dh.int(6))
			if dh.int(2) != 0 {
				return nil, errors.New("nulls in a required column")
			}
			body := page[levels:]
			if c, ok := dh[7].(bool); !ok || c {
				var err error
				if body, err = decompress(codec, body); err != nil {
					return nil, err
				}
			}
			vals, err := decodeValues(body, typ, int(dh.int(1)), dh.int(4), dict)
			if err != nil {
				return nil, err
			}
			out = append(out, vals...)
		default:
			// index pages and others carry no values
		}
	}
	return out, nil
}

func decompress(codec int64, b []byte) ([]byte, error) {
	switch codec {
	case pqUncompressed:
		return b, nil
	case pqSnappy:
		return snappyDecode(b)
	}
	return nil, fmt.Errorf("codec %d not supported", codec)
}

func decodeValues(b []byte, typ int64, n int, encoding int64, dict []any) ([]any, error) {
	switch encoding {
	case pqPlain:
		return decodePlain(b, typ, n)
	case pqPlainDict, pqRLEDictionary:
		if len(b) < 1 {
			return nil, errors.New("missing bit width")
		}
		idx, err := decodeHybrid(b[1:], int(b[0]), n)
		if err != nil {
			return nil, err
		}
		out := make([]any, n)
		for i, k := range idx {
			if k >= len(dict) {
				return nil, errors.New("dictionary index out of range")
			}
			out[i] = dict[k]
		}
		return out, nil
	}
	return nil, fmt.Errorf("encoding %d not supported", encoding)
}

func decodePlain(b []byte, typ int64, n int) ([]any, error) {
	out := make([]any, 0, n)
	for range n {
		switch typ {
		case pqInt64:
			if len(b) < 8 {
				return nil, errors.New("short INT64")
			}
			out = append(out, int64(binary.LittleEndian.Uint64(b)))
			b = b[8:]
		case pqByteArray:
			if len(b) < 4 {
				return nil, errors.New("short BYTE_ARRAY length")
			}
			l := int(binary.LittleEndian.Uint32(b))
			if len(b) < 4+l {
				return nil, errors.New("short BYTE_ARRAY")
			}
			out = append(out, string(b[4:4+l]))
			b = b[4+l:]
		default:
			return nil, fmt.Errorf("physical type %d not supported", typ)
		}
	}
	return out, nil
}

// decodeHybrid decodes n values of the RLE / bit-packing hybrid encoding
// at bit width w.
func decodeHybrid(b []byte, w, n int) ([]int, error) {
	out := make([]int, 0, n)
	for len(out) < n {
		h, k := binary.Uvarint(b)
		if k <= 0 {
			return nil, errors.New("bad run header")
		}
		b = b[k:]
		if h&1 == 0 { // RLE run
			count, width := int(h>>1), (w+7)/8
			if len(b) < width {
				return nil, errors.New("short RLE value")
			}
			v := 0
			for i := width - 1; i >= 0; i-- {
				v = v<<8 | int(b[i])
			}
			b = b[width:]
			for range count {
				out = append(out, v)
			}
			continue
		}
		groups := int(h >> 1)
		nb := groups * w
		if len(b) < nb {
			return nil, errors.New("short bit-packed run")
		}
		for i := range groups * 8 {
			v := 0
			for j := range w {
				bit := i*w + j
				v |= int(b[bit/8]>>(bit%8)&1) << j
			}
			out = append(out, v)
		}
		b = b[nb:]
	}
	return out[:n], nil
}
