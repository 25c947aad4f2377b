package config

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestDefaultIsValid(t *testing.T) {
	if err := Default().Validate(); err != nil {
		t.Fatal(err)
	}
}

func TestConfigFiles(t *testing.T) {
	files, _ := filepath.Glob("testdata/*.yml")
	if len(files) < 5 {
		t.Fatalf("only %d test files", len(files))
	}
	for _, f := range files {
		t.Run(filepath.Base(f), func(t *testing.T) {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			c := Default()
			err = c.DecodeYAML(data)
			if err == nil {
				err = c.Validate()
			}
			good := strings.HasSuffix(f, ".good.yml")
			if good && err != nil {
				t.Errorf("good file rejected: %v", err)
			}
			if !good && err == nil {
				t.Errorf("bad file accepted")
			}
		})
	}
}

func TestLoadPrecedence(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "c.yml")
	if err := os.WriteFile(file, []byte("addr: 127.0.0.1:1111\nregion: eu-west-1\nprofileQuota: 7\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TOLLGATE_CONFIG":               file,
		"TOLLGATE_REGION":               "us-west-2",
		"TOLLGATE_ACCOUNT_ID":           "111122223333",
		"TOLLGATE_PROFILE_QUOTA":        "9",
		"TOLLGATE_SHUTDOWN_TIMEOUT":     "5s",
		"TOLLGATE_OUTBOUND_ALLOW":       "10.1.2.0/24, hooks.internal:8443,",
		"TOLLGATE_METRICS_MAX_PROFILES": "500",
	}
	got, err := Load("serve", []string{"--account-id", "444455556666", "--data-dir", dir}, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Default()
	want.Addr = "127.0.0.1:1111"    // file
	want.Region = "us-west-2"       // env beats file
	want.ProfileQuota = 9           // env beats file
	want.AccountID = "444455556666" // flag beats env
	want.DataDir = dir              // flag
	want.ShutdownTimeout = 5 * time.Second
	want.OutboundAllow = []string{"10.1.2.0/24", "hooks.internal:8443"}
	want.MetricsMaxProfiles = 500
	if diff := cmp.Diff(got, want); diff != "" {
		t.Errorf("Load (-got +want):\n%s", diff)
	}
}

func TestLoadErrors(t *testing.T) {
	for _, tc := range []struct {
		name string
		args []string
		env  map[string]string
	}{
		{"bad flag value", []string{"--profile-quota", "x"}, nil},
		{"bad env value", nil, map[string]string{"TOLLGATE_SHUTDOWN_TIMEOUT": "soon"}},
		{"invalid result", []string{"--region", "mars"}, nil},
		{"unknown flag", []string{"--nope"}, nil},
		{"missing file", []string{"--config", "/nonexistent/tollgate.yml"}, nil},
		{"stray argument", []string{"extra"}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if _, err := Load("serve", tc.args, func(k string) string { return tc.env[k] }); err == nil {
				t.Error("Load succeeded")
			}
		})
	}
}

// TestLoadSecrets checks that Load takes the secrets from the environment
// only and that they never print.
func TestLoadSecrets(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "tollgate.yml")
	yml := "providers:\n  - name: vllm\n    type: openai\n    baseURL: http://127.0.0.1:8000/v1\n    apiKeyEnv: VLLM_KEY\n"
	if err := os.WriteFile(file, []byte(yml), 0o600); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{
		"TOLLGATE_CONFIG":                 file,
		"TOLLGATE_MASTER_KEY":             "bWFzdGVy",
		"TOLLGATE_ROOT_ACCESS_KEY_ID":     "AKIAROOT",
		"TOLLGATE_ROOT_SECRET_ACCESS_KEY": "root-secret",
		"TOLLGATE_SMTP_PASSWORD":          "smtp-secret",
		"TOLLGATE_WEBHOOK_SECRET":         "hook-secret",
		"VLLM_KEY":                        "sk-vllm",
	}
	c, err := Load("tollgate serve", nil, func(k string) string { return env[k] })
	if err != nil {
		t.Fatal(err)
	}
	want := Secrets{MasterKey: "bWFzdGVy", RootAccessKeyID: "AKIAROOT", RootSecretAccessKey: "root-secret",
		SMTPPassword: "smtp-secret", WebhookSecret: "hook-secret", ProviderAPIKeys: map[string]string{"vllm": "sk-vllm"}}
	if diff := cmp.Diff(c.Secrets, want); diff != "" {
		t.Errorf("Secrets (-got +want):\n%s", diff)
	}
	for _, s := range []string{fmt.Sprint(c), fmt.Sprintf("%+v", c), fmt.Sprintf("%#v", c)} {
		for _, secret := range []string{"root-secret", "smtp-secret", "hook-secret", "sk-vllm", "bWFzdGVy"} {
			if strings.Contains(s, secret) {
				t.Errorf("printed Config holds %q", secret)
			}
		}
	}
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("config", "secrets", c.Secrets)
	if strings.Contains(logged.String(), "root-secret") {
		t.Errorf("logged secrets: %s", logged.String())
	}

	delete(env, "TOLLGATE_ROOT_SECRET_ACCESS_KEY")
	if _, err := Load("tollgate serve", nil, func(k string) string { return env[k] }); err == nil || !strings.Contains(err.Error(), "must be set together") {
		t.Errorf("Load with half a root key: %v, want an error", err)
	}
}
