package main

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/tollgate-dev/tollgate/internal/buildinfo"
	"github.com/tollgate-dev/tollgate/internal/cli"
)

// TestVersionAndHelpDispatch: version prints the build line (and JSON
// with -o json); serve's help and `help serve` print on stdout and are
// no error; a mistyped command exits 2 with a did-you-mean.
func TestVersionAndHelpDispatch(t *testing.T) {
	noEnv := func(string) string { return "" }
	exec := func(args ...string) (int, string, string) {
		var out, errOut bytes.Buffer
		err := run(t.Context(), args, &out, &errOut, noEnv)
		return cli.Exit(err, &errOut), out.String(), errOut.String()
	}
	if code, out, _ := exec("version"); code != 0 || out != buildinfo.Read().String()+"\n" {
		t.Errorf("version: exit %d, %q", code, out)
	}
	var v map[string]any
	if code, out, _ := exec("version", "-o", "json"); code != 0 || json.Unmarshal([]byte(out), &v) != nil || v["goVersion"] == "" || v["version"] == nil {
		t.Errorf("version -o json: exit %d, %q", code, out)
	}
	if code, _, errOut := exec("version", "-o", "xml"); code != 2 || !strings.Contains(errOut, "text or json") {
		t.Errorf("version -o xml: exit %d, %q", code, errOut)
	}
	for _, args := range [][]string{{"serve", "--help"}, {"help", "serve"}, {"serve", "-h"}} {
		code, out, errOut := exec(args...)
		if code != 0 || errOut != "" || !strings.Contains(out, "Usage: tollgate serve") || !strings.Contains(out, "-tls-cert") ||
			!strings.Contains(out, "Examples:") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q", args, code, out, errOut)
		}
	}
	if code, out, _ := exec("help", "version"); code != 0 || !strings.Contains(out, "Usage: tollgate version") {
		t.Errorf("help version: exit %d, %q", code, out)
	}
	if code, _, errOut := exec("serv"); code != 2 || !strings.Contains(errOut, "Did you mean 'tollgate serve'?") {
		t.Errorf("serv: exit %d, %q", code, errOut)
	}
}
