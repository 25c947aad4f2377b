package sqlstore

import (
	"cmp"
	"slices"
	"strings"

	"github.com/tollgate-dev/tollgate/internal/metrics"
)

// MetricRow is what one metrics.Store.WriteMetricBuckets call leaves in
// one metric_buckets row: Stats, which replace the stored row, or are
// added to it when Merge is set.
type MetricRow struct {
	Res                      int64 // res_s
	Account, Metric, ModelID string
	Start                    int64 // start_ms
	Replica                  string
	Stats                    metrics.Stats
	Merge                    bool
	owned                    bool // Stats is a copy, not a bucket's
}

// CompareMetricRows orders rows by primary key (res_s, account, metric,
// model_id, start_ms, replica; strings in byte order).
func CompareMetricRows(a, b *MetricRow) int {
	return cmp.Or(cmp.Compare(a.Res, b.Res), strings.Compare(a.Account, b.Account), strings.Compare(a.Metric, b.Metric),
		strings.Compare(a.ModelID, b.ModelID), cmp.Compare(a.Start, b.Start), strings.Compare(a.Replica, b.Replica))
}

// FoldMetricRows folds the buckets of a WriteMetricBuckets call into one
// row per primary key, sorted by it (CompareMetricRows): each replaced
// bucket replaces the row before it, each merged one is added to it; a
// row whose first bucket is merged is merged into the stored row. The
// rows share the buckets' sketches unless two buckets fold into one row;
// neither is modified.
func FoldMetricRows(replace, merge []metrics.Bucket) []MetricRow {
	rows := make([]MetricRow, 0, len(replace)+len(merge))
	for i := range replace {
		rows = append(rows, rowOf(&replace[i], false))
	}
	for i := range merge {
		rows = append(rows, rowOf(&merge[i], true))
	}
	// A stable sort keeps the buckets of one key in call order: replaced
	// ones, then merged ones, each in the order given.
	slices.SortStableFunc(rows, func(a, b MetricRow) int { return CompareMetricRows(&a, &b) })
	n := 0
	for i := range rows {
		if n > 0 && CompareMetricRows(&rows[n-1], &rows[i]) == 0 {
			last := &rows[n-1]
			if !rows[i].Merge {
				*last = rows[i]
				continue
			}
			if !last.owned {
				last.Stats, last.owned = *last.Stats.Clone(), true
			}
			last.Stats.Merge(&rows[i].Stats)
			continue
		}
		rows[n] = rows[i]
		n++
	}
	clear(rows[n:])
	return rows[:n]
}

func rowOf(b *metrics.Bucket, merge bool) MetricRow {
	return MetricRow{Res: ResSeconds(b.Res), Account: b.Key.Account, Metric: b.Key.Metric, ModelID: b.Key.ModelID,
		Start: MS(b.Start), Replica: b.Replica, Stats: b.Stats, Merge: merge}
}
