package storetest

import (
	"fmt"
	"time"

	"github.com/tollgate-dev/tollgate/internal/arn"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// The reporting benchmarks of both stores run over the same synthetic
// month of usage: BenchProfiles application profiles across 3 accounts, 7
// models (one without a price) and 4 serving regions; each profile is
// called by 2 principals through 2 operations. Tags: dept (6 values),
// team (12), app (40), environment (3) and cost_center (8 values; every
// tenth profile has none; every 25th profile is retagged to a ninth
// value). Each store's benchmark decides how many calls, over how many
// hours, and how it loads them.

// BenchMonth is the first instant of the benchmarks' month.
var BenchMonth = time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)

// BenchProfiles is the number of profiles of the benchmarks' month.
const BenchProfiles = 200

var (
	benchAccounts = []string{"111111111111", "222222222222", "333333333333"}
	benchModels   = []string{
		"anthropic.claude-3-haiku-20240307-v1:0", "anthropic.claude-sonnet-4-20250514-v1:0", "amazon.nova-lite-v1:0",
		"amazon.nova-pro-v1:0", "meta.llama3-1-70b-instruct-v1:0", "anthropic.claude-3-5-haiku-20241022-v1:0",
		"acme.in-house-model-v1", // not in the catalogue: unpriced
	}
	benchRegions = []string{"us-east-1", "us-west-2", "eu-central-1", "ap-northeast-1"}
	benchDepts   = []string{"claims", "sales", "risk", "underwriting", "it", "marketing"}
	benchCCs     = []string{"CC-1001", "CC-1002", "CC-2001", "CC-2002", "CC-3001", "CC-4001", "CC-5001", "CC-6001"}
	benchEnvs    = []string{"prod", "staging", "dev"}
	benchOps     = [2][2]string{{"Converse", "ConverseStream"}, {"InvokeModel", "InvokeModelWithResponseStream"}}
)

// BenchProfile is one application profile of the benchmarks' month.
type BenchProfile struct {
	ID, ARN, Account, Model, Region string
	// Ops are the two operations its principals call.
	Ops [2]string
	// Cached reports whether its model uses the prompt cache.
	Cached bool
	// Tags are its tags before the retagging, Retagged after (the same
	// set for a profile not retagged).
	Tags, Retagged tags.Set

	n int
}

// Principal returns the id of its principal i (0 or 1).
func (b BenchProfile) Principal(i int) string { return fmt.Sprintf("role-%03d-%d", b.n, i) }

// BenchProfileOf returns the benchmarks' profile p, 0 <= p < BenchProfiles.
func BenchProfileOf(p int) BenchProfile {
	t := tags.Set{
		"dept": benchDepts[p%6], "team": fmt.Sprintf("team-%02d", p%12), "app": fmt.Sprintf("app-%02d", p%40),
		"environment": benchEnvs[p%3],
	}
	if p%10 != 9 {
		t["cost_center"] = benchCCs[p%8]
	}
	moved := t
	if p%25 == 0 {
		moved = t.Clone()
		moved["cost_center"] = "CC-9000"
	}
	account, region := benchAccounts[p%3], benchRegions[(p/7)%4]
	id := fmt.Sprintf("bench%07d", p)
	return BenchProfile{
		ID: id, ARN: arn.ApplicationProfile(region, account, id), Account: account, Model: benchModels[p%7], Region: region,
		Ops: benchOps[p%2], Cached: p%7 == 0 || p%7 == 1 || p%7 == 5, // the Claude models
		Tags: t, Retagged: moved, n: p,
	}
}
