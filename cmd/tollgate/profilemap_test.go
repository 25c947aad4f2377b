package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/tollgate-dev/tollgate/resolver"
)

func TestProfilesExportMap(t *testing.T) {
	t.Parallel()
	ts := startServer(t, "", nil)
	arns := insuranceProfiles(t, ts)
	out := filepath.Join(t.TempDir(), "map.yaml")
	base := []string{"profiles", "export-map", "--endpoint", ts.URL(), "--region", ts.Config.Region,
		"--credentials", ts.CredentialsFile(), "--key", "tenant,app"}

	t.Run("duplicates are an error", func(t *testing.T) {
		var stdout, stderr strings.Builder
		err := run(t.Context(), append(base, "--out", out), &stdout, &stderr, os.Getenv)
		if err == nil || !strings.Contains(err.Error(), "globex/chat_app") || !strings.Contains(err.Error(), "--allow-duplicates") {
			t.Errorf("err = %v, want it to name the duplicate key and the flag", err)
		}
		if _, serr := os.Stat(out); serr == nil {
			t.Error("the map was written despite the error")
		}
	})

	t.Run("allow duplicates", func(t *testing.T) {
		var stdout, stderr strings.Builder
		if err := run(t.Context(), append(base, "--out", out, "--allow-duplicates"), &stdout, &stderr, os.Getenv); err != nil {
			t.Fatalf("export-map: %v\n%s", err, stderr.String())
		}
		if !strings.Contains(stderr.String(), "warning") || !strings.Contains(stderr.String(), arns["globex-2"]) {
			t.Errorf("stderr = %q, want a warning naming the duplicates", stderr.String())
		}
		m, err := resolver.LoadStaticMap(out)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"acme/claims_chatbot": arns["claims"],
			"acme/chat_app":       arns["sales"],
			"globex/chat_app":     min(arns["globex-1"], arns["globex-2"]),
		}
		if diff := cmp.Diff(m.Profiles(), want); diff != "" {
			t.Errorf("map (-got +want):\n%s", diff)
		}
		if diff := cmp.Diff(m.KeyTags(), []string{"tenant", "app"}); diff != "" {
			t.Errorf("keyTags (-got +want):\n%s", diff)
		}
	})

	t.Run("standard output", func(t *testing.T) {
		var stdout, stderr strings.Builder
		if err := run(t.Context(), append(base, "--key", "dept"), &stdout, &stderr, os.Getenv); err != nil {
			t.Fatalf("export-map: %v\n%s", err, stderr.String())
		}
		m, err := resolver.ParseStaticMap([]byte(stdout.String()))
		if err != nil {
			t.Fatalf("parsing stdout: %v\n%s", err, stdout.String())
		}
		if diff := cmp.Diff(m.Profiles(), map[string]string{"claims": arns["claims"], "sales": arns["sales"]}); diff != "" {
			t.Errorf("map (-got +want):\n%s", diff)
		}
	})

	t.Run("usage errors", func(t *testing.T) {
		for _, args := range [][]string{
			{"profiles"},
			{"profiles", "nope"},
			{"profiles", "export-map", "--region", "us-east-1"},
			{"profiles", "export-map", "--key", "tenant", "extra"},
		} {
			var stdout, stderr strings.Builder
			if err := run(t.Context(), args, &stdout, &stderr, os.Getenv); err == nil {
				t.Errorf("run(%q) succeeded", args)
			}
		}
	})
}
