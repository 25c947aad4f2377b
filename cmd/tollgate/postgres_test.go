package main

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/bedrock"
	"github.com/aws/aws-sdk-go-v2/service/bedrock/types"
	"github.com/aws/aws-sdk-go-v2/service/bedrockruntime"
	rgt "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi"
	rgttypes "github.com/aws/aws-sdk-go-v2/service/resourcegroupstaggingapi/types"

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
	t.Parallel()
	url := pgtest.URL(t)
	onPostgres := func(c *config.Config) { c.Store = url }
	dir := t.TempDir()
	ctx := t.Context()
	var arn string
	converse := func(t *testing.T, ts *testServer, n int) {
		t.Helper()
		rc := ts.runtime(t)
		for range n {
			if _, err := rc.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn), Messages: userText("hi")}); err != nil {
				t.Fatal(err)
			}
		}
	}

	if !t.Run("a profile and calls on PostgreSQL, and no SQLite database", func(t *testing.T) {
		ts := startServer(t, dir, onPostgres)
		if _, ok := ts.DB.(*postgres.DB); !ok {
			t.Fatalf("store is %T, want *postgres.DB", ts.DB)
		}
		arn = createProfile(t, ts.bedrock(t), "pg-claims", haikuARN, tagList("dept", "claims")...)
		converse(t, ts, 3)
		ts.stop()
		if _, err := os.Stat(filepath.Join(dir, "tollgate.db")); err == nil {
			t.Error("a SQLite database was created in the data directory")
		}
	}) {
		return
	}

	ts2 := startServer(t, dir, onPostgres)

	if !t.Run("the profile is found after a restart", func(t *testing.T) {
		list, err := ts2.bedrock(t).ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
		if err != nil {
			t.Fatal(err)
		}
		if len(list.InferenceProfileSummaries) != 1 || aws.ToString(list.InferenceProfileSummaries[0].InferenceProfileArn) != arn {
			t.Fatalf("profiles after restart: %+v, want %s", list.InferenceProfileSummaries, arn)
		}
		converse(t, ts2, 1)
	}) {
		return
	}

	if !t.Run("a second replica with its own data directory serves it", func(t *testing.T) {
		// A second replica: its own data directory, the same database and
		// master key (so it can open the root key's sealed secret).
		key, err := os.ReadFile(filepath.Join(dir, "master.key"))
		if err != nil {
			t.Fatal(err)
		}
		replica := startServer(t, t.TempDir(), withMasterKey(onPostgres, key))
		converse(t, replica, 2)
	}) {
		return
	}

	t.Run("every call is in the ledger and the rollups", func(t *testing.T) {
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
	})
}

// within polls f until it returns nil, failing the test when it has
// not within bound.
func within(t *testing.T, bound time.Duration, what string, f func() error) {
	t.Helper()
	deadline := time.Now().Add(bound)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v: %v", what, bound, err)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestPostgresReplicasFollowChanges runs two replicas on one PostgreSQL
// schema (skipped without TOLLGATE_TEST_POSTGRES_URL): profiles created,
// retagged and deleted, and principals, policies and access keys created
// or deactivated through one replica take effect on the other within the
// documented lag (LISTEN/NOTIFY, well under 5 s).
func TestPostgresReplicasFollowChanges(t *testing.T) {
	t.Parallel()
	const bound = 5 * time.Second
	url := pgtest.URL(t)
	onPostgres := func(c *config.Config) { c.Store = url }
	dir := t.TempDir()
	ctx := t.Context()
	r1 := startServer(t, dir, onPostgres)
	key, err := os.ReadFile(filepath.Join(dir, "master.key"))
	if err != nil {
		t.Fatal(err)
	}
	r2 := startServer(t, t.TempDir(), withMasterKey(onPostgres, key))

	const mgmt = "123456789012"
	var danaKey, arn string
	var danaOn2 *bedrock.Client
	rc2 := r2.runtime(t)
	converse := func() error {
		_, err := rc2.Converse(ctx, &bedrockruntime.ConverseInput{ModelId: aws.String(arn), Messages: userText("hi")})
		return err
	}

	if !t.Run("a principal, its policy and key made on replica 1 work on replica 2", func(t *testing.T) {
		// A principal, its policy and access key, made through replica 1, work
		// on replica 2.
		r1.putPolicy(t, mgmt, "admin", adminPolicy)
		var danaSecret string
		_, danaKey, danaSecret = r1.newUser(t, mgmt, "dana", []string{"admin"})
		danaOn2 = r2.bedrock(t, func(o *bedrock.Options) {
			o.Credentials = credentials.NewStaticCredentialsProvider(danaKey, danaSecret, "")
		})
		within(t, bound, "dana's new key on replica 2", func() error {
			_, err := danaOn2.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{TypeEquals: types.InferenceProfileTypeApplication})
			return err
		})
	}) {
		return
	}

	if !t.Run("a profile created on replica 1 resolves on replica 2", func(t *testing.T) {
		// A profile created on replica 1 is resolvable on replica 2.
		arn = createProfile(t, r1.bedrock(t), "replicated", haikuARN, tagList("team", "alpha")...)
		within(t, bound, "Converse on replica 2 through a profile created on replica 1", converse)
	}) {
		return
	}

	t.Run("retagged on replica 1, found by its new tag on replica 2", func(t *testing.T) {
		// Retagged on replica 1, found by its new tag on replica 2.
		if _, err := r1.bedrock(t).TagResource(ctx, &bedrock.TagResourceInput{ResourceARN: aws.String(arn), Tags: tagList("team", "beta")}); err != nil {
			t.Fatal(err)
		}
		tg2 := r2.tagging(t)
		within(t, bound, "GetResources team=beta on replica 2", func() error {
			out, err := tg2.GetResources(ctx, &rgt.GetResourcesInput{TagFilters: []rgttypes.TagFilter{{Key: aws.String("team"), Values: []string{"beta"}}}})
			if err != nil {
				return err
			}
			if len(out.ResourceTagMappingList) != 1 || aws.ToString(out.ResourceTagMappingList[0].ResourceARN) != arn {
				return fmt.Errorf("got %d resources, want %s", len(out.ResourceTagMappingList), arn)
			}
			return nil
		})
	})

	t.Run("a key deactivated on replica 1 is refused on replica 2", func(t *testing.T) {
		// An access key deactivated on replica 1 stops working on replica 2.
		r1.mustCLI(t, nil, "keys", "deactivate", danaKey)
		within(t, bound, "dana's deactivated key refused on replica 2", func() error {
			if _, err := danaOn2.ListInferenceProfiles(ctx, &bedrock.ListInferenceProfilesInput{}); err == nil {
				return errors.New("the deactivated key still works")
			}
			return nil
		})
	})

	t.Run("a profile deleted on replica 1 is gone on replica 2", func(t *testing.T) {
		// A profile deleted on replica 1 is gone on replica 2.
		if _, err := r1.bedrock(t).DeleteInferenceProfile(ctx, &bedrock.DeleteInferenceProfileInput{InferenceProfileIdentifier: aws.String(arn)}); err != nil {
			t.Fatal(err)
		}
		within(t, bound, "profile deleted on replica 1 gone on replica 2", func() error {
			if converse() == nil {
				return errors.New("Converse through the deleted profile still succeeds")
			}
			return nil
		})
	})
}

// withMasterKey returns mutate that also sets the master key read from a
// master.key file (what TOLLGATE_MASTER_KEY would hold).
func withMasterKey(mutate func(*config.Config), key []byte) func(*config.Config) {
	return func(c *config.Config) {
		mutate(c)
		c.Secrets.MasterKey = strings.TrimSpace(string(key))
	}
}
