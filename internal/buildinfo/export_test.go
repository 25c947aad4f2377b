package buildinfo_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/parquet-go/parquet-go"

	"github.com/tollgate-dev/tollgate/internal/buildinfo"
	"github.com/tollgate-dev/tollgate/internal/costquery"
	"github.com/tollgate-dev/tollgate/internal/export"
)

// TestParquetCreatedBy: a Parquet export records the line `tollgate
// version` prints as the file's created_by.
func TestParquetCreatedBy(t *testing.T) {
	var buf bytes.Buffer
	w := export.NewParquetWriter(&buf)
	from := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	if _, err := export.Run(t.Context(), export.SliceSource(nil), export.Options{From: from, To: from.AddDate(0, 0, 1),
		Granularity: costquery.Daily}, w); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := parquet.OpenFile(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := f.Metadata().CreatedBy, buildinfo.Read().String(); got != want {
		t.Errorf("created_by %q, want %q", got, want)
	}
}
