package resolver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/resolver"
)

func TestParseStaticMap(t *testing.T) {
	good := `# comment
keyTags: [tenant, app]
profiles:
  acme/claims_chatbot: arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcd1234efgh
  "globex/chat%2Fapp": arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/0123456789ab
`
	m, err := resolver.ParseStaticMap([]byte(good))
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		tags map[string]string
		want string
	}{
		{map[string]string{"tenant": "acme", "app": "claims_chatbot"}, "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/abcd1234efgh"},
		{map[string]string{"tenant": "globex", "app": "chat/app"}, "arn:aws:bedrock:us-east-1:111122223333:application-inference-profile/0123456789ab"},
		{map[string]string{"tenant": "acme"}, ""},
		{map[string]string{"tenant": "acme", "app": "claims_chatbot", "env": "prod"}, ""},
	} {
		got, ok := m.Lookup(resolver.MustQuery(tc.tags))
		if got != tc.want || ok != (tc.want != "") {
			t.Errorf("Lookup(%v) = %q, %v; want %q", tc.tags, got, ok, tc.want)
		}
	}

	for _, tc := range []struct{ name, doc string }{
		{"empty", ""},
		{"unknown field", "keyTags: [tenant]\nprofiles: {}\nextra: 1\n"},
		{"no key tags", "profiles:\n  acme: arn:aws:x\n"},
		{"duplicate key tag", "keyTags: [tenant, tenant]\nprofiles: {}\n"},
		{"too few values", "keyTags: [tenant, app]\nprofiles:\n  acme: arn:aws:x\n"},
		{"too many values", "keyTags: [tenant]\nprofiles:\n  acme/x: arn:aws:x\n"},
		{"empty value", "keyTags: [tenant, app]\nprofiles:\n  acme/: arn:aws:x\n"},
		{"not an ARN", "keyTags: [tenant]\nprofiles:\n  acme: profile-1\n"},
		{"bad escape", "keyTags: [tenant]\nprofiles:\n  acme%zz: arn:aws:x\n"},
		{"same tags twice", "keyTags: [tenant]\nprofiles:\n  acme: arn:aws:x\n  \"%61cme\": arn:aws:y\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := resolver.ParseStaticMap([]byte(tc.doc)); err == nil {
				t.Error("ParseStaticMap accepted it")
			}
		})
	}
}

func TestStaticMapFileRoundTrip(t *testing.T) {
	profiles := map[string]string{
		resolver.StaticKey("acme", "claims_chatbot"): profileARN("claims000001"),
		resolver.StaticKey("a/b", "50%"):             profileARN("odd000000001"),
	}
	m, err := resolver.NewStaticMap([]string{"tenant", "app"}, profiles)
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "map.yaml")
	if err := m.WriteFile(path); err != nil {
		t.Fatal(err)
	}
	data, _ := os.ReadFile(path)
	if !strings.HasPrefix(string(data), "# Tollgate static profile map") || !strings.Contains(string(data), "a%2Fb/50%25:") {
		t.Errorf("file =\n%s", data)
	}
	m2, err := resolver.LoadStaticMap(path)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(m2.Profiles(), profiles); diff != "" {
		t.Errorf("profiles after round trip (-got +want):\n%s", diff)
	}
	if got, _ := m2.Lookup(resolver.MustQuery(map[string]string{"tenant": "a/b", "app": "50%"})); got != profileARN("odd000000001") {
		t.Errorf("Lookup of escaped values = %q", got)
	}
	if diff := cmp.Diff(m2.KeyTags(), []string{"tenant", "app"}); diff != "" || m2.Len() != 2 {
		t.Errorf("KeyTags/Len: %s %d", diff, m2.Len())
	}
}

func TestBuildStaticMap(t *testing.T) {
	tags := func(kv ...string) []resolver.Tag {
		var out []resolver.Tag
		for i := 0; i < len(kv); i += 2 {
			out = append(out, resolver.Tag{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	resources := []resolver.Resource{
		{ARN: profileARN("a00000000001"), Tags: tags("tenant", "acme", "app", "claims_chatbot")},
		{ARN: profileARN("b00000000002"), Tags: tags("tenant", "acme", "app", "chat_app", "env", "prod")},
		{ARN: profileARN("b00000000001"), Tags: tags("tenant", "acme", "app", "chat_app", "env", "dev")},
		{ARN: profileARN("c00000000001"), Tags: tags("tenant", "globex")},             // lacks app
		{ARN: profileARN("d00000000001"), Tags: tags("tenant", "initech", "app", "")}, // empty app
	}
	m, dups, err := resolver.BuildStaticMap([]string{"tenant", "app"}, resources)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"acme/claims_chatbot": profileARN("a00000000001"),
		"acme/chat_app":       profileARN("b00000000001"),
	}
	if diff := cmp.Diff(m.Profiles(), want); diff != "" {
		t.Errorf("profiles (-got +want):\n%s", diff)
	}
	wantDups := []resolver.Duplicate{{Key: "acme/chat_app", ARNs: []string{profileARN("b00000000001"), profileARN("b00000000002")}}}
	if diff := cmp.Diff(dups, wantDups); diff != "" {
		t.Errorf("duplicates (-got +want):\n%s", diff)
	}
}
