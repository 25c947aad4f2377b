package storetest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/internal/errkind"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// AdminStore is a store of accounts, policies and attachments.
type AdminStore interface {
	principal.Store
	principal.AdminStore
}

func testAdmin(t *testing.T, s AdminStore) {
	ctx := t.Context()
	for _, a := range []principal.Account{{ID: "111111111111", Name: "prod", CreatedAt: t0}, {ID: "222222222222", Name: "dev", CreatedAt: t0}} {
		if err := s.PutAccount(ctx, a); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutAccount(ctx, principal.Account{ID: "222222222222", Name: "development", CreatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	p := principal.Principal{ID: "user-111111111111-alice", Account: "111111111111", Name: "alice", Kind: principal.User, Tags: tags.Set{"team": "claims"}, CreatedAt: t0}
	if err := s.PutPrincipal(ctx, p); err != nil {
		t.Fatal(err)
	}
	doc := principal.PolicyDoc{Account: "111111111111", Name: "invoke", Document: `{"Version":"2012-10-17","Statement":[]}`, UpdatedAt: t0}
	if err := s.PutPolicy(ctx, doc); err != nil {
		t.Fatal(err)
	}
	doc.Document = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}`
	if err := s.PutPolicy(ctx, doc); err != nil {
		t.Fatal(err)
	}
	att := principal.Attachment{PrincipalID: p.ID, Account: "111111111111", PolicyName: "invoke"}
	for range 2 { // idempotent
		if err := s.Attach(ctx, att); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.Attach(ctx, principal.Attachment{PrincipalID: "nobody", Account: "111111111111", PolicyName: "invoke"}); err == nil {
		t.Error("attaching to a missing principal succeeded")
	}
	accts, pols, atts, err := s.LoadAdmin(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(accts, []principal.Account{{ID: "111111111111", Name: "prod", CreatedAt: t0}, {ID: "222222222222", Name: "development", CreatedAt: t0}}); diff != "" {
		t.Errorf("accounts (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(pols, []principal.PolicyDoc{doc}); diff != "" {
		t.Errorf("policies (-got +want):\n%s", diff)
	}
	if diff := cmp.Diff(atts, []principal.Attachment{att}); diff != "" {
		t.Errorf("attachments (-got +want):\n%s", diff)
	}
	if err := s.Detach(ctx, att); err != nil {
		t.Fatal(err)
	}
	if err := s.Detach(ctx, att); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second Detach = %v, want NotFound", err)
	}
	if err := s.Attach(ctx, att); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicy(ctx, "111111111111", "invoke"); err != nil {
		t.Fatal(err)
	}
	if err := s.DeletePolicy(ctx, "111111111111", "invoke"); !errkind.Is(err, errkind.NotFound) {
		t.Errorf("second DeletePolicy = %v, want NotFound", err)
	}
	_, pols, atts, _ = s.LoadAdmin(ctx)
	if len(pols) != 0 || len(atts) != 0 {
		t.Errorf("after DeletePolicy: %v %v", pols, atts)
	}
}
