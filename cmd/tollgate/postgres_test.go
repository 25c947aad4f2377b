package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"

	"github.com/tollgate-dev/tollgate/internal/config"
	"github.com/tollgate-dev/tollgate/internal/ledger"
	"github.com/tollgate-dev/tollgate/internal/store/postgres"
	"github.com/tollgate-dev/tollgate/internal/store/postgres/pgtest"
)

// TestPostgresStore runs Tollgate on PostgreSQL (skipped without
// TOLLGATE_TEST_POSTGRES_URL): a profile created and calls made through
// the SDKs are found after a restart, and by a second replica with its own
// data directory sharing the database and the master key.
func TestPostgresStore(t *testing.T) {
	url := pgtest.URL(t)
	onPostgres := func(c *config.Config) { c.Store = url }
	dir := t.TempDir()
	ctx := t.Context()

	ts := startServer(t, dir, onPostgres)
	if _, ok := ts.DB.(*postgres.DB); !ok {
		t.Fatalf("store is %T, want *postgres.DB", ts.DB)
	}
	arn := createProfile(t, ts.bedrock(t), "pg-claims", haikuARN, tagList("dept", "claims")...)
	converse := func(ts *testServer, n int) {
		t.Helper()
		rc := ts.runtime(t)
		for range n {
			if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn), Messages: userText("hi")}); err != nil {
				t.Fatal(err)
			}
		}
	}
	converse(ts, 3)
	ts.stop()
	if _, err := os.Stat(filepath.Join(dir, "tollgate.db")); err == nil {
		t.Error("a SQLite database was created in the data directory")
	}

	ts2 := startServer(t, dir, onPostgres)
	list, err := ts2.bedrock(t).ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
	if err != nil {
		t.Fatal(err)
	}
	if len(list.InferenceProfileSummaries) != 1 || aws.ToString(list.InferenceProfileSummaries[0].InferenceProfileArn) != arn {
		t.Fatalf("profiles after restart: %+v, want %s", list.InferenceProfileSummaries, arn)
	}
	converse(ts2, 1)

	// A second replica: its own data directory, the same database and
	// master key (so it can open the root key's sealed secret).
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	replica := startServerIn(t, t.TempDir(), onPostgres, nil, map[string]string{"TOLLGATE_MASTER_KEY": strings.TrimSpace(string(key))})
	converse(replica, 2)

	recs, err := ts2.DB.Records(ctx, ledger.Query{})
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 6 {
		t.Fatalf("%d records, want 6", len(recs))
	}
	for _, r := range recs {
		if r.ProfileARN != arn || r.Tags["dept"] != "claims" || r.Outcome != ledger.OutcomeSuccess {
			t.Errorf("record %+v, want a successful call billed to %s with dept=claims", r, arn)
		}
	}
	rolls, err := ts2.DB.Rollups(ctx, "", time.Now().Add(-2*time.Hour), time.Now().Add(time.Hour))
	if err != nil {
		t.Fatal(err)
	}
	var calls int64
	for _, r := range rolls {
		calls += r.Calls
	}
	if calls != 6 {
		t.Errorf("rollups count %d calls, want 6", calls)
	}
}
