package archtest

import (
	"bytes"
	"encoding/json"
	"errors"
	"go/parser"
	"go/token"
	"io"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/tollgate-dev/tollgate"

// domain are the packages that hold Tollgate's rules in plain Go.
var domain = []string{
	"errkind", "money", "arn", "tags", "catalog", "profile", "converse", "admission",
	"principal", "ledger", "pricing", "secretbox", "invoke", "native",
	"policy", "authz", "costquery", "metrics", "alarm", "anomaly",
	"budget", "notify", "lease", "chargeback", "backoff", "ratelimit", "supervise",
}

// forbiddenModules are the third-party modules no domain package may
// depend on: the database drivers, which belong to the stores, and
// Prometheus, which belongs to the exporter (internal/promexport).
var forbiddenModules = []struct{ prefix, why string }{
	{"modernc.org/sqlite", "a database driver (modernc.org/sqlite)"},
	{"github.com/jackc/pgx", "a database driver (github.com/jackc/pgx)"},
	{"github.com/prometheus", "Prometheus (github.com/prometheus/...)"},
}

// listedPackage is the part of `go list -json` output the rules read.
type listedPackage struct {
	ImportPath string
	Name       string
	Dir        string
	Doc        string
	Standard   bool
	Module     *struct{ Path string }
	GoFiles    []string
	CgoFiles   []string
	Imports    []string // non-test imports only
}

// moduleRoot returns the directory holding go.mod.
func moduleRoot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOMOD").Output()
	if err != nil {
		t.Fatalf("go env GOMOD: %v", err)
	}
	gomod := strings.TrimSpace(string(out))
	if gomod == "" || gomod == os.DevNull {
		t.Fatal("not inside a module")
	}
	return filepath.Dir(gomod)
}

// goList runs `go list -json args...` at the module root and decodes its
// stream of packages.
func goList(t *testing.T, args ...string) []listedPackage {
	t.Helper()
	cmd := exec.Command("go", append([]string{"list", "-json"}, args...)...)
	cmd.Dir = moduleRoot(t)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("go list -json %s: %v\n%s", strings.Join(args, " "), err, stderr.String())
	}
	var pkgs []listedPackage
	dec := json.NewDecoder(bytes.NewReader(out))
	for {
		var p listedPackage
		if err := dec.Decode(&p); errors.Is(err, io.EOF) {
			break
		} else if err != nil {
			t.Fatalf("decoding go list output: %v", err)
		}
		pkgs = append(pkgs, p)
	}
	if len(pkgs) == 0 {
		t.Fatal("go list found no packages")
	}
	return pkgs
}

// forbiddenInDomain reports why a domain package must not depend on path,
// or "" when it may.
func forbiddenInDomain(path string) string {
	switch path {
	case "net/http":
		return "transport (net/http)"
	case "database/sql":
		return "storage (database/sql)"
	}
	for _, m := range forbiddenModules {
		if path == m.prefix || strings.HasPrefix(path, m.prefix+"/") {
			return m.why
		}
	}
	for _, prefix := range []string{"store", "api", "server", "provider"} {
		p := module + "/internal/" + prefix
		if path == p || strings.HasPrefix(path, p+"/") {
			return "an adapter (internal/" + prefix + ")"
		}
	}
	return ""
}

// importChain returns the shortest chain of non-test imports from one
// package to another, or nil when from does not depend on to.
func importChain(graph map[string][]string, from, to string) []string {
	prev := map[string]string{from: ""}
	queue := []string{from}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		if p == to {
			var chain []string
			for ; p != ""; p = prev[p] {
				chain = append(chain, p)
			}
			slices.Reverse(chain)
			return chain
		}
		for _, q := range graph[p] {
			if _, seen := prev[q]; !seen {
				prev[q] = p
				queue = append(queue, q)
			}
		}
	}
	return nil
}

func isDomain(path string) bool {
	name, ok := strings.CutPrefix(path, module+"/internal/")
	return ok && slices.Contains(domain, name)
}

func short(path string) string { return strings.TrimPrefix(path, module+"/") }

// TestDomainImports keeps the domain packages plain Go: neither they nor
// anything they import (test files aside) may use net/http, database/sql,
// a database driver, Prometheus, or a store, API, server or provider
// package.
func TestDomainImports(t *testing.T) {
	pkgs := goList(t, "-deps", "./internal/...")
	graph := map[string][]string{}
	for _, p := range pkgs {
		graph[p.ImportPath] = p.Imports
	}
	for _, name := range domain {
		path := module + "/internal/" + name
		if _, ok := graph[path]; !ok {
			t.Errorf("domain package internal/%s not found by go list", name)
			continue
		}
		for _, dep := range slices.Sorted(maps.Keys(graph)) {
			why := forbiddenInDomain(dep)
			if why == "" {
				continue
			}
			chain := importChain(graph, path, dep)
			if chain == nil || slices.ContainsFunc(chain[1:len(chain)-1], isDomain) {
				continue // none, or reported for the domain package on the way
			}
			for i := range chain {
				chain[i] = short(chain[i])
			}
			t.Errorf("domain package internal/%s depends on %s: %s", name, why, strings.Join(chain, " -> "))
		}
	}
}

// TestOnlyCommandWiresStoresToAPIs checks that cmd/tollgate is the one
// package importing both a store and an API package (test files aside).
func TestOnlyCommandWiresStoresToAPIs(t *testing.T) {
	for _, p := range goList(t, "./...") {
		if p.ImportPath == module+"/cmd/tollgate" {
			continue
		}
		var store, api []string
		for _, imp := range p.Imports {
			switch {
			case strings.HasPrefix(imp, module+"/internal/store/"):
				store = append(store, short(imp))
			case strings.HasPrefix(imp, module+"/internal/api/"):
				api = append(api, short(imp))
			}
		}
		if len(store) > 0 && len(api) > 0 {
			t.Errorf("%s imports both %s and %s; only cmd/tollgate may wire stores to APIs",
				short(p.ImportPath), strings.Join(store, ", "), strings.Join(api, ", "))
		}
	}
}

// TestRuleCheckersCatchViolations makes sure the import rules above can
// fail: the checkers must flag known-bad graphs.
func TestRuleCheckersCatchViolations(t *testing.T) {
	graph := map[string][]string{
		module + "/internal/profile":      {module + "/internal/tags", "strings"},
		module + "/internal/tags":         {module + "/internal/store/sqlite"},
		module + "/internal/store/sqlite": {"database/sql"},
	}
	got := importChain(graph, module+"/internal/profile", "database/sql")
	want := []string{module + "/internal/profile", module + "/internal/tags", module + "/internal/store/sqlite", "database/sql"}
	if !slices.Equal(got, want) {
		t.Errorf("importChain = %q, want %q", got, want)
	}
	if importChain(graph, module+"/internal/tags", "strings") != nil {
		t.Error("importChain found a dependency that does not exist")
	}
	for path, bad := range map[string]bool{
		"net/http": true, "database/sql": true, "net/http/httptest": false, "net/url": false,
		module + "/internal/store/sqlite": true, module + "/internal/api/awsproto": true,
		module + "/internal/server": true, module + "/internal/provider/sim": true,
		module + "/internal/storefront": false, module + "/internal/invoke": false,
		"modernc.org/sqlite": true, "modernc.org/sqlite/lib": true, "modernc.org/sqlitex": false,
		"github.com/jackc/pgx/v5/stdlib": true, "github.com/jackc/pgx/v5/pgconn": true, "github.com/jackc/pgxfoo": false,
		"github.com/prometheus/client_golang/prometheus": true, "github.com/prometheus/common/model": true,
		"github.com/prometheusx/y": false,
	} {
		if got := forbiddenInDomain(path) != ""; got != bad {
			t.Errorf("forbiddenInDomain(%q) = %v, want %v", path, got, bad)
		}
	}
}

// TestPackageDocs checks that every package has a doc comment, in a
// non-test file, that starts "Package <name> " (or "Command <name> " for a
// command, named after its directory).
func TestPackageDocs(t *testing.T) {
	for _, p := range goList(t, "./...") {
		name := p.Name
		prefix := "Package " + name + " "
		if name == "main" {
			name = filepath.Base(p.Dir)
			prefix = "Command " + name + " "
		}
		found := false
		var docs []string
		for _, f := range slices.Concat(p.GoFiles, p.CgoFiles) {
			file, err := parser.ParseFile(token.NewFileSet(), filepath.Join(p.Dir, f), nil, parser.PackageClauseOnly|parser.ParseComments)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			if file.Doc == nil {
				continue
			}
			doc := file.Doc.Text()
			docs = append(docs, f+": "+strings.SplitN(doc, "\n", 2)[0])
			if strings.HasPrefix(doc, prefix) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s has no doc comment starting %q in a non-test file (found: %q)", short(p.ImportPath), prefix, docs)
		}
	}
}

// trackedArtifact reports why a tracked file must not be in the
// repository, or "" when it may be. head is the start of its content.
func trackedArtifact(name string, size int64, head []byte) string {
	for _, part := range strings.Split(name, "/") {
		if part == "tollgate-data" {
			return "a Tollgate data directory"
		}
	}
	base := filepath.Base(name)
	for _, pattern := range []string{"*.db", "*.db-wal", "*.db-shm", "*.db-journal", "*.sqlite", "*.exe", "*.test", "*.out"} {
		if ok, _ := filepath.Match(pattern, base); ok {
			return "a database, binary or build output (" + pattern + ")"
		}
	}
	if bytes.HasPrefix(head, []byte("\x7fELF")) {
		return "an ELF binary"
	}
	if size > 1<<20 {
		return "larger than 1 MiB"
	}
	return ""
}

// TestNoArtifactsTracked checks that git tracks no data directory,
// database, binary, build output or file over 1 MiB.
func TestNoArtifactsTracked(t *testing.T) {
	root := moduleRoot(t)
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	files := strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00")
	if len(files) < 10 {
		t.Fatalf("git ls-files listed only %d files", len(files))
	}
	for _, name := range files {
		f, err := os.Open(filepath.Join(root, name))
		if errors.Is(err, os.ErrNotExist) {
			continue // deleted in the work tree, not yet staged
		}
		if err != nil {
			t.Fatal(err)
		}
		fi, err := f.Stat()
		if err != nil {
			f.Close()
			t.Fatal(err)
		}
		head := make([]byte, 4)
		n, _ := io.ReadFull(f, head)
		f.Close()
		if fi.IsDir() {
			continue // a submodule
		}
		if why := trackedArtifact(name, fi.Size(), head[:n]); why != "" {
			t.Errorf("%s is tracked but is %s", name, why)
		}
	}
}

// TestTrackedArtifactCatchesViolations makes sure the artifact rule can
// fail.
func TestTrackedArtifactCatchesViolations(t *testing.T) {
	for _, tc := range []struct {
		name string
		size int64
		head string
		bad  bool
	}{
		{"tollgate-data/tollgate.db", 10, "SQLi", true},
		{"cmd/tollgate/tollgate-data/credentials", 10, "[def", true},
		{"internal/store/sqlite/testdata/x.db", 10, "SQLi", true},
		{"tollgate.exe", 10, "MZ\x90\x00", true},
		{"bin/tollgate", 10, "\x7fELF", true},
		{"testdata/big.json", 2 << 20, "{\"a\"", true},
		{"tollgate.test", 10, "\x7fELF", true},
		{"internal/store/sqlite/testdata/schema.golden.sql", 2000, "CREA", false},
		{"cmd/tollgate/main.go", 9000, "// C", false},
		{"docs/tollgate-database.md", 10, "# To", false},
	} {
		if got := trackedArtifact(tc.name, tc.size, []byte(tc.head)) != ""; got != tc.bad {
			t.Errorf("trackedArtifact(%q) flagged=%v, want %v", tc.name, got, tc.bad)
		}
	}
}
