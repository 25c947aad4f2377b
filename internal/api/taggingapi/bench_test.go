package taggingapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/tollgate-dev/tollgate/internal/api/awsproto"
	"github.com/tollgate-dev/tollgate/internal/api/taggingapi"
	"github.com/tollgate-dev/tollgate/internal/catalog"
	"github.com/tollgate-dev/tollgate/internal/principal"
	"github.com/tollgate-dev/tollgate/internal/profile"
	"github.com/tollgate-dev/tollgate/internal/tags"
)

// memStore is an in-memory profile.Store, so the benchmark can hold 100,000
// profiles without paying for 100,000 disk inserts.
type memStore struct {
	mu sync.Mutex
	ps []profile.Profile
}

func (m *memStore) CreateProfile(_ context.Context, p profile.Profile) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.ps = append(m.ps, p)
	return nil
}
func (m *memStore) DeleteProfile(context.Context, string, string) error { return nil }
func (m *memStore) SetProfileTags(context.Context, string, string, tags.Set, time.Time) error {
	return nil
}
func (m *memStore) ListAllProfiles(context.Context) ([]profile.Profile, error) { return m.ps, nil }

const account = "123456789012"

func benchService(b *testing.B, n int) *profile.Service {
	b.Helper()
	st := &memStore{}
	for i := range n {
		id := fmt.Sprintf("p%011d", i)
		st.ps = append(st.ps, profile.Profile{
			ID: id, ARN: "arn:aws:bedrock:us-east-1:" + account + ":application-inference-profile/" + id,
			Name: id, Account: account, Region: "us-east-1", Type: profile.Application,
			ModelID: "anthropic.claude-3-haiku-20240307-v1:0", CreatedAt: time.Unix(int64(i), 0),
			Tags: tags.Set{"tenant": fmt.Sprintf("t%04d", i%1000), "app": fmt.Sprintf("app%d", i%10), "env": []string{"dev", "staging", "prod"}[i%3]},
		})
	}
	svc, err := profile.NewService(b.Context(), profile.Config{Store: st, Catalog: catalog.Default(), Region: "us-east-1"})
	if err != nil {
		b.Fatal(err)
	}
	return svc
}

func benchGetResources(b *testing.B, body string) {
	svc := benchService(b, 100_000)
	api := taggingapi.New(svc, taggingapi.Options{}).Service()
	root := &principal.Principal{ID: "root", Account: account}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		info := &awsproto.RequestInfo{Body: []byte(body), Identity: principal.Identity{Principal: root}}
		r := httptest.NewRequest("POST", "/", bytes.NewReader(nil)).WithContext(awsproto.WithInfo(context.Background(), info))
		w := httptest.NewRecorder()
		api.Serve(w, r, awsproto.AWSJSON11, "GetResources")
		if w.Code != http.StatusOK {
			b.Fatalf("status %d: %s", w.Code, w.Body)
		}
	}
}

// BenchmarkGetResources100kTwoKeys: 100,000 profiles, a two-key filter
// matching 10 of them.
func BenchmarkGetResources100kTwoKeys(b *testing.B) {
	benchGetResources(b, `{"TagFilters":[{"Key":"tenant","Values":["t0042"]},{"Key":"app","Values":["app2"]}],"ResourceTypeFilters":["bedrock:application-inference-profile"]}`)
}

// BenchmarkGetResources100kBroad: a filter matching a third of the
// profiles, first page of 100.
func BenchmarkGetResources100kBroad(b *testing.B) {
	benchGetResources(b, `{"TagFilters":[{"Key":"env","Values":["prod"]}]}`)
}
