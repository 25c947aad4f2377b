package profile_test

import (
	"slices"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite"
	"github.com/tollgate-dev/tollgate/internal/store/sqlite/sqlitetest"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

const (
	acct   = "111111111111"
	region = "us-east-1"
	model  = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-lite-v1:0"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

func newService(t *testing.T, db *sqlite.DB, quota int) *profile.Service {
	t.Helper()
	s, err := profile.NewService(t.Context(), profile.Config{Store: db, Catalog: catalog.Default(), Region: region, Quota: quota,
		Now: func() time.Time { return t0 }})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// TestProfileLifecycle creates, tags, finds and deletes an application
// inference profile over a real store, reopening the service between
// steps to check what the store kept.
func TestProfileLifecycle(t *testing.T) {
	db := sqlitetest.Open(t)
	s := newService(t, db, 0)
	var p profile.Profile

	t.Run("create", func(t *testing.T) {
		var err error
		p, err = s.Create(t.Context(), profile.CreateInput{Account: acct, Name: "claims-bot", CopyFrom: model,
			Tags: []tags.Tag{{Key: "dept", Value: "claims"}}, ClientRequestToken: "tok-1"})
		if err != nil {
			t.Fatal(err)
		}
		if p.ModelID != "amazon.nova-lite-v1:0" || p.Type != profile.Application || p.ARN == "" {
			t.Errorf("Create = %+v", p)
		}
	})
	t.Run("idempotent and conflicting", func(t *testing.T) {
		again, err := s.Create(t.Context(), profile.CreateInput{Account: acct, Name: "claims-bot", CopyFrom: model,
			Tags: []tags.Tag{{Key: "dept", Value: "claims"}}, ClientRequestToken: "tok-1"})
		if err != nil || again.ID != p.ID {
			t.Errorf("retry with the same token = %+v, %v; want the same profile", again, err)
		}
		if _, err := s.Create(t.Context(), profile.CreateInput{Account: acct, Name: "claims-bot", CopyFrom: model}); errkind.KindOf(err) != errkind.Conflict {
			t.Errorf("same name, no token: %v, want Conflict", err)
		}
		if _, err := s.Create(t.Context(), profile.CreateInput{Account: acct, Name: "bad name!", CopyFrom: model}); errkind.KindOf(err) != errkind.Invalid {
			t.Errorf("bad name: %v, want Invalid", err)
		}
	})
	t.Run("tag and find", func(t *testing.T) {
		if err := s.Tag(t.Context(), acct, p.ARN, []tags.Tag{{Key: "env", Value: "prod"}}); err != nil {
			t.Fatal(err)
		}
		if err := s.Untag(t.Context(), acct, p.ARN, []string{"dept"}); err != nil {
			t.Fatal(err)
		}
		got := s.FindByTags(acct, []tags.Filter{{Key: "env", Values: []string{"prod"}}})
		if !slices.Equal(got, []string{p.ARN}) {
			t.Errorf("FindByTags(env=prod) = %q, want %q", got, p.ARN)
		}
	})
	t.Run("reopened", func(t *testing.T) {
		s2 := newService(t, db, 0)
		got, err := s2.Get(acct, p.ARN)
		if err != nil {
			t.Fatal(err)
		}
		if got.Tags["env"] != "prod" || got.Tags["dept"] != "" || got.Name != "claims-bot" {
			t.Errorf("profile after reopening = %+v", got)
		}
	})
	t.Run("delete", func(t *testing.T) {
		if err := s.Delete(t.Context(), acct, p.ARN); err != nil {
			t.Fatal(err)
		}
		if _, err := s.Get(acct, p.ARN); errkind.KindOf(err) != errkind.NotFound {
			t.Errorf("Get after Delete: %v, want NotFound", err)
		}
		if got := newService(t, db, 0).ListApplication(acct); len(got) != 0 {
			t.Errorf("profiles after Delete and reopening = %+v", got)
		}
	})
}

func TestQuota(t *testing.T) {
	s := newService(t, sqlitetest.Open(t), 2)
	for _, name := range []string{"a", "b"} {
		if _, err := s.Create(t.Context(), profile.CreateInput{Account: acct, Name: name, CopyFrom: model}); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.Create(t.Context(), profile.CreateInput{Account: acct, Name: "c", CopyFrom: model}); errkind.KindOf(err) != errkind.QuotaExceeded {
		t.Errorf("third profile with a quota of 2: %v, want QuotaExceeded", err)
	}
	if _, err := s.Create(t.Context(), profile.CreateInput{Account: "222222222222", Name: "c", CopyFrom: model}); err != nil {
		t.Errorf("another account's first profile: %v", err)
	}
}
