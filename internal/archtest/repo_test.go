package archtest

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/tollgate-dev/tollgate/internal/cli"
	"github.com/tollgate-dev/tollgate/internal/config"
)

// The repository's own files: the notices list every module, the
// deployment files hold together (Docker is not runnable in CI), and the
// documentation's links and commands point at things that exist.

// goModModules returns "path version" of every module go.mod requires.
func goModModules(t *testing.T, root string) []string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var mods []string
	inBlock := false
	for _, line := range strings.Split(string(data), "\n") {
		line = strings.TrimSpace(strings.Split(line, "//")[0])
		switch {
		case line == "require (":
			inBlock = true
			continue
		case inBlock && line == ")":
			inBlock = false
			continue
		case strings.HasPrefix(line, "require "):
			line = strings.TrimPrefix(line, "require ")
		case !inBlock:
			continue
		}
		if f := strings.Fields(line); len(f) == 2 {
			mods = append(mods, f[0]+" "+f[1])
		}
	}
	if len(mods) == 0 {
		t.Fatal("go.mod requires no module: the parser is broken")
	}
	return mods
}

func TestNoticesListEveryModule(t *testing.T) {
	root := moduleRoot(t)
	notices, err := os.ReadFile(filepath.Join(root, "THIRD_PARTY_NOTICES.md"))
	if err != nil {
		t.Fatal(err)
	}
	listed := map[string]string{} // module -> licence
	for _, line := range strings.Split(string(notices), "\n") {
		cells := strings.Split(line, "|")
		if len(cells) == 5 {
			listed[strings.TrimSpace(cells[1])+" "+strings.TrimSpace(cells[2])] = strings.TrimSpace(cells[3])
		}
	}
	for _, m := range goModModules(t, root) {
		if lic, ok := listed[m]; !ok || lic == "" {
			t.Errorf("THIRD_PARTY_NOTICES.md does not list %s with its licence", m)
		}
	}
	if lic, err := os.ReadFile(filepath.Join(root, "LICENSE")); err != nil || !bytes.Contains(lic, []byte("Apache License")) ||
		!bytes.Contains(lic, []byte("Version 2.0")) {
		t.Errorf("LICENSE is not the Apache License 2.0 (%v)", err)
	}
}

func TestComposeFile(t *testing.T) {
	root := moduleRoot(t)
	data, err := os.ReadFile(filepath.Join(root, "compose.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var c struct {
		Services map[string]struct {
			Build       any               `yaml:"build"`
			Image       string            `yaml:"image"`
			Environment map[string]string `yaml:"environment"`
			Volumes     []string          `yaml:"volumes"`
			Ports       []string          `yaml:"ports"`
			Command     []string          `yaml:"command"`
			DependsOn   any               `yaml:"depends_on"`
		} `yaml:"services"`
		Volumes map[string]any `yaml:"volumes"`
	}
	if err := yaml.Unmarshal(data, &c); err != nil {
		t.Fatalf("compose.yaml: %v", err)
	}
	var replicas []string
	for name, s := range c.Services {
		if s.Build != nil {
			replicas = append(replicas, name)
		}
	}
	slices.Sort(replicas)
	if len(replicas) != 2 {
		t.Fatalf("compose.yaml builds %v, want two Tollgate replicas", replicas)
	}
	pg, ok := c.Services["postgres"]
	if !ok || !strings.HasPrefix(pg.Image, "postgres:") {
		t.Errorf("compose.yaml has no postgres service")
	}
	secrets := []string{config.EnvMasterKey, config.EnvRootAccessKeyID, config.EnvRootSecretAccessKey, config.EnvSMTPPassword, config.EnvWebhookSecret}
	var first map[string]string
	for _, name := range replicas {
		s := c.Services[name]
		if !slices.Equal(s.Command, []string{"serve"}) {
			t.Errorf("%s runs %v, want serve", name, s.Command)
		}
		if !strings.HasPrefix(s.Environment["TOLLGATE_STORE"], "postgres://") || !strings.Contains(s.Environment["TOLLGATE_STORE"], "@postgres:5432/") {
			t.Errorf("%s: TOLLGATE_STORE %q does not name the postgres service", name, s.Environment["TOLLGATE_STORE"])
		}
		for _, k := range []string{config.EnvMasterKey, config.EnvRootAccessKeyID, config.EnvRootSecretAccessKey} {
			if s.Environment[k] == "" {
				t.Errorf("%s does not set %s, which every replica must share", name, k)
			}
		}
		for k := range s.Environment {
			if slices.Contains(secrets, k) {
				continue
			}
			flagName := strings.ReplaceAll(strings.ToLower(strings.TrimPrefix(k, "TOLLGATE_")), "_", "-")
			if !strings.HasPrefix(k, "TOLLGATE_") || config.EnvName(flagName) != k {
				t.Errorf("%s: %s is not a TOLLGATE_ variable", name, k)
				continue
			}
			if _, err := config.Load("serve", []string{"--" + flagName + "=" + s.Environment[k]}, func(string) string { return "" }); err != nil &&
				strings.Contains(err.Error(), "not defined") {
				t.Errorf("%s: %s names no setting of serve (%v)", name, k, err)
			}
		}
		if first == nil {
			first = s.Environment
		} else if !equalMaps(first, s.Environment) {
			t.Errorf("the replicas' environments differ: %v and %v", first, s.Environment)
		}
		if len(s.Volumes) != 1 || !strings.HasSuffix(s.Volumes[0], ":/data") {
			t.Errorf("%s: volumes %v, want its own volume on /data", name, s.Volumes)
		}
	}
	lb, ok := c.Services["lb"]
	if !ok || len(lb.Ports) == 0 {
		t.Fatal("compose.yaml has no load balancer publishing a port")
	}
	var lbConf string
	for _, v := range lb.Volumes {
		src := strings.Split(v, ":")[0]
		if b, err := os.ReadFile(filepath.Join(root, src)); err == nil {
			lbConf = string(b)
		}
	}
	if lbConf == "" {
		t.Fatalf("the load balancer's configuration (%v) is not in the repository", lb.Volumes)
	}
	for _, name := range replicas {
		if !strings.Contains(lbConf, name+":8080") {
			t.Errorf("the load balancer does not send traffic to %s:8080", name)
		}
	}
	if !strings.Contains(lbConf, "/readyz") {
		t.Errorf("the load balancer does not health-check /readyz")
	}
}

func equalMaps(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if b[k] != v {
			return false
		}
	}
	return true
}

func TestDockerfileBuildMatchesREADME(t *testing.T) {
	root := moduleRoot(t)
	df, err := os.ReadFile(filepath.Join(root, "Dockerfile"))
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	gomod, _ := os.ReadFile(filepath.Join(root, "go.mod"))
	goVersion := regexp.MustCompile(`(?m)^go (\S+)$`).FindSubmatch(gomod)
	if goVersion == nil {
		t.Fatal("go.mod has no go line")
	}
	if !bytes.Contains(df, []byte("FROM golang:"+string(goVersion[1])+" ")) {
		t.Errorf("the Dockerfile does not build with Go %s, the version go.mod needs", goVersion[1])
	}
	if !bytes.Contains(readme, []byte("Go "+string(goVersion[1]))) {
		t.Errorf("the README does not state the Go version go.mod needs (Go %s)", goVersion[1])
	}
	build := regexp.MustCompile(`(?m)^RUN (CGO_ENABLED=0 go build .*)$`).FindSubmatch(df)
	if build == nil {
		t.Fatal("the Dockerfile has no `RUN CGO_ENABLED=0 go build` step")
	}
	cmd := string(build[1])
	for _, want := range []string{"-o tollgate ./cmd/tollgate", "go install github.com/tollgate-dev/tollgate/cmd/tollgate@latest"} {
		if !bytes.Contains(readme, []byte(want)) {
			t.Errorf("the README lacks %q", want)
		}
	}
	if !strings.HasSuffix(cmd, " ./cmd/tollgate") {
		t.Errorf("the Dockerfile builds %q, not ./cmd/tollgate as the README does", cmd)
	}
	// The release build the README documents is the Dockerfile's, and the
	// variable it sets exists.
	ldflags := regexp.MustCompile(`-X (\S+)\.version=`).FindStringSubmatch(cmd)
	if ldflags == nil || !bytes.Contains(readme, []byte("-X "+ldflags[1]+".version=")) {
		t.Errorf("the README does not document the Dockerfile's -ldflags -X version (%v)", ldflags)
	}
	src, err := os.ReadFile(filepath.Join(root, "internal", "buildinfo", "buildinfo.go"))
	if err != nil || !bytes.Contains(src, []byte("\nvar version = ")) || ldflags[1] != module+"/internal/buildinfo" {
		t.Errorf("-X %s.version sets no variable (%v)", ldflags[1], err)
	}
	for _, want := range []string{"USER 65532", "VOLUME [\"/data\"]", "CGO_ENABLED=0"} {
		if !bytes.Contains(df, []byte(want)) {
			t.Errorf("the Dockerfile lacks %q", want)
		}
	}
}

// markdownFiles returns README.md and every .md file under docs/.
func markdownFiles(t *testing.T, root string) []string {
	t.Helper()
	files := []string{filepath.Join(root, "README.md")}
	err := filepath.WalkDir(filepath.Join(root, "docs"), func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".md") {
			files = append(files, p)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

var linkRE = regexp.MustCompile(`\]\(([^)\s]+)\)`)

func TestDocsLinksResolve(t *testing.T) {
	root := moduleRoot(t)
	for _, f := range markdownFiles(t, root) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		rel, _ := filepath.Rel(root, f)
		for _, m := range linkRE.FindAllStringSubmatch(stripCode(string(data)), -1) {
			link := m[1]
			u, err := url.Parse(link)
			if err != nil {
				t.Errorf("%s: link %q does not parse: %v", rel, link, err)
				continue
			}
			if u.Scheme != "" || strings.HasPrefix(link, "#") {
				continue
			}
			target := filepath.Join(filepath.Dir(f), filepath.FromSlash(u.Path))
			inside, _ := filepath.Rel(root, target)
			if strings.HasPrefix(inside, "..") {
				t.Errorf("%s: link %q leaves the repository", rel, link)
				continue
			}
			if _, err := os.Stat(target); err != nil {
				t.Errorf("%s: link %q points at nothing (%s)", rel, link, inside)
			}
		}
	}
}

// stripCode removes fenced code blocks and inline code, whose brackets
// are not links.
func stripCode(s string) string {
	s = regexp.MustCompile("(?s)```.*?```").ReplaceAllString(s, "")
	return regexp.MustCompile("`[^`\n]*`").ReplaceAllString(s, "")
}

// commandDocs are the documents whose `tollgate ...` commands
// TestREADMECommandsNameRealFlags checks.
var commandDocs = []string{"README.md", "docs/first-hour.md", "docs/cli.md", "docs/tls.md", "docs/calling-by-tags.md", "docs/deployment.md"}

// TestREADMECommandsNameRealFlags checks every `tollgate ...` and `go run
// ./cmd/tollgate ...` command in the code blocks of the README and the
// guides: each flag it gives must be one the command's help lists
// (serve's and demo's: a setting of serve, or a flag demo.go defines).
func TestREADMECommandsNameRealFlags(t *testing.T) {
	root := moduleRoot(t)
	// demo's own flags are defined in cmd/tollgate/demo.go and internal/demo.
	var demoSrc []byte
	files, _ := filepath.Glob(filepath.Join(root, "internal", "demo", "*.go"))
	for _, f := range append(files, filepath.Join(root, "cmd", "tollgate", "demo.go")) {
		if b, err := os.ReadFile(f); err == nil && !strings.HasSuffix(f, "_test.go") {
			demoSrc = append(demoSrc, b...)
		}
	}
	checked := 0
	for _, doc := range commandDocs {
		data, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(doc)))
		if err != nil {
			t.Fatal(err)
		}
		checked += checkCommands(t, doc, string(data), demoSrc)
	}
	if checked == 0 {
		t.Fatal("no flag found in the documents' commands: the parser is broken")
	}
}

// checkCommands checks the commands of one document and returns how many
// flags it checked.
func checkCommands(t *testing.T, doc, data string, demoSrc []byte) int {
	t.Helper()
	checked := 0
	for _, block := range codeBlocks(data) {
		text := strings.ReplaceAll(block, "\\\n", " ")
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line), "$ "))
			var words []string
			switch {
			case strings.HasPrefix(line, "tollgate "), strings.HasPrefix(line, "./tollgate "):
				words = strings.Fields(line)[1:]
			case strings.HasPrefix(line, "go run ./cmd/tollgate "):
				words = strings.Fields(strings.TrimPrefix(line, "go run ./cmd/tollgate "))
			default:
				continue
			}
			if i := slices.Index(words, "#"); i >= 0 {
				words = words[:i]
			}
			var path []string
			for _, w := range words {
				if strings.HasPrefix(w, "-") {
					break
				}
				path = append(path, w)
			}
			for _, w := range words {
				if !strings.HasPrefix(w, "-") || w == "-" {
					continue
				}
				name := strings.SplitN(strings.TrimLeft(w, "-"), "=", 2)[0]
				checked++
				if !flagExists(t, path, name, demoSrc) {
					t.Errorf("%s: `%s` gives --%s, which `tollgate %s` does not have", doc, line, name, strings.Join(path, " "))
				}
			}
		}
	}
	return checked
}

// codeBlocks returns the contents of the fenced code blocks of markdown.
func codeBlocks(markdown string) []string {
	var blocks []string
	var cur *strings.Builder
	for _, line := range strings.Split(markdown, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "```") {
			if cur == nil {
				cur = &strings.Builder{}
			} else {
				blocks = append(blocks, cur.String())
				cur = nil
			}
			continue
		}
		if cur != nil {
			cur.WriteString(line + "\n")
		}
	}
	return blocks
}

// flagExists reports whether the command path has the flag name.
func flagExists(t *testing.T, path []string, name string, demoSrc []byte) bool {
	t.Helper()
	if len(path) > 0 && (path[0] == "serve" || path[0] == "demo") {
		_, err := config.Load("serve", []string{"--" + name + "=x"}, func(string) string { return "" })
		if err == nil || !strings.Contains(err.Error(), "not defined") {
			return true
		}
		return path[0] == "demo" && bytes.Contains(demoSrc, []byte(`"`+name+`"`))
	}
	var out bytes.Buffer
	env := cli.Env{Stdout: &out, Stderr: io.Discard, Getenv: func(string) string { return "" }}
	_ = cli.Run(context.Background(), append(append([]string{}, path...), "--help"), env)
	return strings.Contains(out.String(), "-"+name+" ") || strings.Contains(out.String(), "-"+name+"\n") ||
		strings.Contains(out.String(), "-"+name+", ")
}
