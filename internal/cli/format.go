package cli

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/money"
)

// One output convention for every command whose output is data: -o
// table|json|yaml|csv. A command builds a dataset (columns and rows of
// typed cells) and render writes it in the chosen format, so the keys,
// money and durations are the same everywhere:
//
//   - JSON and YAML keys are lowerCamel (the column's key), CSV's header
//     row is the same keys;
//   - money is a decimal string with its currency, "12.345678 USD"; in a
//     table it is right-aligned with six decimals under a "(USD)" header;
//   - durations are Go duration strings ("1.2s", "350ms");
//   - times are RFC 3339 in UTC.

// outputFormats are the values -o takes.
var outputFormats = []string{"table", "json", "yaml", "csv"}

// outputFlag is -o/--output.
type outputFlag struct{ format string }

func (o *outputFlag) String() string   { return o.format }
func (o *outputFlag) TypeName() string { return "format" }
func (o *outputFlag) Set(v string) error {
	for _, f := range outputFormats {
		if v == f {
			o.format = v
			return nil
		}
	}
	if s := closest(v, outputFormats); s != "" {
		return fmt.Errorf("%q is not an output format (did you mean %s?)", v, s)
	}
	return fmt.Errorf("%q is not an output format: use table, json, yaml or csv", v)
}

// registerOutput adds -o/--output (default table) and --json (the same
// as -o json, kept for scripts written before -o) to fs.
func registerOutput(fs *flag.FlagSet) *outputFlag {
	o := &outputFlag{format: "table"}
	fs.Var(o, "output", "output format: table, json, yaml or csv")
	short(fs, "o", "output")
	fs.Var(jsonAlias{o}, "json", "same as -o json")
	return o
}

// jsonAlias is --json: -o json.
type jsonAlias struct{ o *outputFlag }

func (j jsonAlias) String() string   { return "false" }
func (j jsonAlias) IsBoolFlag() bool { return true }
func (j jsonAlias) TypeName() string { return "" }
func (j jsonAlias) Set(v string) error {
	b, err := strconv.ParseBool(v)
	if err != nil {
		return err
	}
	if b {
		j.o.format = "json"
	}
	return nil
}

// column is one column of a dataset.
type column struct {
	key    string // lowerCamel JSON/YAML/CSV key
	header string // table header; "" for the key in upper case
	right  bool   // right-aligned in a table (numbers, money)
}

// dataset is rows of cells under columns, rendered by render.
type dataset struct {
	cols []column
	rows [][]any
	// empty is printed instead of a table with no rows ("" for just the
	// header).
	empty string
}

// usdCell is money in a dataset cell.
type usdCell money.Amount

// unpricedCell is the cost of a call with no known price.
type unpricedCell struct{}

// blankCell is an empty cell (a total row's group columns).
type blankCell struct{}

// pctCell is a share or change in percent, one decimal; NaN-free.
type pctCell struct {
	v     float64
	valid bool
	sign  bool // print + for positive values (a change)
}

// render writes ds in format.
func render(w io.Writer, format string, ds dataset) error {
	switch format {
	case "json":
		return renderJSON(w, ds)
	case "yaml":
		return renderYAML(w, ds)
	case "csv":
		return renderCSV(w, ds)
	}
	return renderTable(w, ds)
}

// cellText is a cell as a table shows it.
func cellText(v any) string {
	switch c := v.(type) {
	case nil:
		return "-"
	case string:
		if c == "" {
			return "-"
		}
		return c
	case usdCell:
		return fixedUSD(money.Amount(c), 6)
	case unpricedCell:
		return "unpriced"
	case blankCell:
		return ""
	case pctCell:
		if !c.valid {
			return "-"
		}
		if c.sign && c.v > 0 {
			return "+" + strconv.FormatFloat(c.v, 'f', 1, 64) + "%"
		}
		return strconv.FormatFloat(c.v, 'f', 1, 64) + "%"
	case time.Time:
		if c.IsZero() {
			return "-"
		}
		return c.UTC().Format(time.RFC3339)
	case time.Duration:
		return c.String()
	case map[string]string:
		return tagsText(c)
	case []string:
		if len(c) == 0 {
			return "-"
		}
		return strings.Join(c, ",")
	case int64:
		return strconv.FormatInt(c, 10)
	case float64:
		return strconv.FormatFloat(c, 'f', -1, 64)
	}
	return fmt.Sprint(v)
}

// cellData is a cell as JSON and YAML carry it.
func cellData(v any) any {
	switch c := v.(type) {
	case usdCell:
		return money.Amount(c).Decimal(9) + " USD"
	case unpricedCell, blankCell:
		return nil
	case pctCell:
		if !c.valid {
			return nil
		}
		return strconv.FormatFloat(c.v, 'f', 1, 64) + "%"
	case time.Time:
		if c.IsZero() {
			return nil
		}
		return c.UTC().Format(time.RFC3339Nano)
	case time.Duration:
		return c.String()
	case map[string]string:
		if c == nil {
			return map[string]string{}
		}
	case []string:
		if c == nil {
			return []string{}
		}
	}
	return v
}

// tagsText writes tags as k=v pairs sorted by key.
func tagsText(m map[string]string) string {
	if len(m) == 0 {
		return "-"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = k + "=" + m[k]
	}
	return strings.Join(parts, ",")
}

func (c column) title() string {
	if c.header != "" {
		return c.header
	}
	var b strings.Builder
	for i, r := range c.key {
		if r >= 'A' && r <= 'Z' && i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(strings.ToUpper(string(r)))
	}
	return b.String()
}

// renderTable writes ds as columns two spaces apart, right-aligning the
// columns that ask for it.
func renderTable(w io.Writer, ds dataset) error {
	if len(ds.rows) == 0 && ds.empty != "" {
		_, err := fmt.Fprintln(w, ds.empty)
		return err
	}
	cells := make([][]string, 0, len(ds.rows)+1)
	head := make([]string, len(ds.cols))
	for i, c := range ds.cols {
		head[i] = c.title()
	}
	cells = append(cells, head)
	for _, r := range ds.rows {
		line := make([]string, len(ds.cols))
		for i := range ds.cols {
			line[i] = cellText(r[i])
		}
		cells = append(cells, line)
	}
	width := make([]int, len(ds.cols))
	for _, line := range cells {
		for i, s := range line {
			width[i] = max(width[i], utf8.RuneCountInString(s))
		}
	}
	var b bytes.Buffer
	for _, line := range cells {
		for i, s := range line {
			pad := strings.Repeat(" ", width[i]-utf8.RuneCountInString(s))
			if i > 0 {
				b.WriteString("  ")
			}
			switch {
			case ds.cols[i].right:
				b.WriteString(pad + s)
			case i == len(line)-1:
				b.WriteString(s)
			default:
				b.WriteString(s + pad)
			}
		}
		b.WriteByte('\n')
	}
	_, err := w.Write(b.Bytes())
	return err
}

// renderJSON writes ds as an indented JSON array of objects whose keys
// keep the columns' order.
func renderJSON(w io.Writer, ds dataset) error {
	var b bytes.Buffer
	b.WriteString("[")
	for ri, r := range ds.rows {
		if ri > 0 {
			b.WriteString(",")
		}
		b.WriteString("\n  {")
		for i, c := range ds.cols {
			if i > 0 {
				b.WriteString(",")
			}
			k, _ := json.Marshal(c.key)
			v, err := marshalPlain(cellData(r[i]))
			if err != nil {
				return err
			}
			fmt.Fprintf(&b, "\n    %s: %s", k, v)
		}
		b.WriteString("\n  }")
	}
	if len(ds.rows) > 0 {
		b.WriteString("\n")
	}
	b.WriteString("]\n")
	_, err := w.Write(b.Bytes())
	return err
}

// renderYAML writes ds as a YAML sequence of mappings in column order.
func renderYAML(w io.Writer, ds dataset) error {
	seq := &yaml.Node{Kind: yaml.SequenceNode}
	for _, r := range ds.rows {
		m := &yaml.Node{Kind: yaml.MappingNode}
		for i, c := range ds.cols {
			v := &yaml.Node{}
			if err := v.Encode(cellData(r[i])); err != nil {
				return err
			}
			m.Content = append(m.Content, &yaml.Node{Kind: yaml.ScalarNode, Value: c.key}, v)
		}
		seq.Content = append(seq.Content, m)
	}
	if len(ds.rows) == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	enc := yaml.NewEncoder(w)
	enc.SetIndent(2)
	if err := enc.Encode(seq); err != nil {
		return err
	}
	return enc.Close()
}

// renderCSV writes ds as CSV with the keys as the header row; money is
// "12.345678901 USD" as in JSON, tags "k=v;k2=v2".
func renderCSV(w io.Writer, ds dataset) error {
	cw := csv.NewWriter(w)
	head := make([]string, len(ds.cols))
	for i, c := range ds.cols {
		head[i] = c.key
	}
	if err := cw.Write(head); err != nil {
		return err
	}
	for _, r := range ds.rows {
		line := make([]string, len(ds.cols))
		for i := range ds.cols {
			switch c := cellData(r[i]).(type) {
			case nil:
			case string:
				line[i] = c
			case map[string]string:
				line[i] = strings.ReplaceAll(tagsText(c), ",", ";")
				if line[i] == "-" {
					line[i] = ""
				}
			case []string:
				line[i] = strings.Join(c, ";")
			default:
				line[i] = cellText(c)
			}
		}
		if err := cw.Write(line); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// WriteJSON writes v as indented JSON (commands whose output is one
// object rather than rows).
func WriteJSON(w io.Writer, v any) error { return writeJSON(w, v) }

// renderObject writes one object (a detail view) as JSON or YAML; keys
// must already be lowerCamel.
func renderObject(w io.Writer, format string, v any) error {
	if format == "yaml" {
		// Through JSON, so the json tags name the keys.
		data, err := json.Marshal(v)
		if err != nil {
			return err
		}
		var generic any
		if err := yaml.Unmarshal(data, &generic); err != nil {
			return err
		}
		enc := yaml.NewEncoder(w)
		enc.SetIndent(2)
		if err := enc.Encode(generic); err != nil {
			return err
		}
		return enc.Close()
	}
	return writeJSON(w, v)
}

// fixedUSD formats a with exactly frac (0..9) fractional digits, rounded
// half away from zero, so a table's money column lines up.
func fixedUSD(a money.Amount, frac int) string {
	q := money.Amount(1)
	for range 9 - frac {
		q *= 10
	}
	r := a / q
	if rem := a % q; rem*2 >= q {
		r++
	} else if rem*2 <= -q {
		r--
	}
	return (r * q).Decimal(frac)
}

// marshalPlain is json.Marshal without HTML escaping (">=" stays ">=").
func marshalPlain(v any) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}
