package main

import (
	"log/slog"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/money"
)

// BenchmarkUsageLog measures handing one runtime call's usage from the
// pipeline to its access-log line (allocations per call: go test -run
// XXX -bench UsageLog -benchmem ./cmd/tollgate/).
func BenchmarkUsageLog(b *testing.B) {
	u := &usageLog{profileName: func(account, id string) string { return "chat" }}
	rec := ledger.Record{RequestID: "0a1b2c3d-0000-4000-8000-000000000001", Time: time.Now(), Account: "111111111111",
		ProfileID: "a1b2c3d4e5f6", ModelID: "anthropic.claude-3-haiku-20240307-v1:0", Operation: "Converse", InputTokens: 812,
		OutputTokens: 240, Outcome: ledger.OutcomeSuccess, Cost: money.Amount(503000), Priced: true}
	buf := make([]slog.Attr, 0, 32)
	b.ReportAllocs()
	for b.Loop() {
		u.put(rec)
		if len(u.appendAttrs(rec.RequestID, buf[:0])) == 0 {
			b.Fatal("no usage")
		}
	}
}
