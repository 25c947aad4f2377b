package main

import (
	"fmt"
	"io"

	"github.com/tollgate-dev/tollgate/internal/buildinfo"
	"github.com/tollgate-dev/tollgate/internal/cli"
)

const versionUsage = `Usage: tollgate version [-o text|json]

Print the version, the commit and commit time the binary was built from
(+dirty when the work tree had uncommitted changes) and the Go version,
from the build information Go embeds. The same line is recorded as
created_by in Parquet exports. Set the version at link time with
-ldflags "-X github.com/tollgate-dev/tollgate/internal/buildinfo.version=v1.2.3".

Examples:
  tollgate version
  tollgate version -o json

Flags:
`

// versionCmd is `tollgate version`.
func versionCmd(args []string, stdout, stderr io.Writer) error {
	fs := cli.NewFlagSet("tollgate version", versionUsage, stdout, stderr)
	out := fs.String("o", "text", "output format: text or json")
	if err := cli.ParseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return cli.Usagef("version", "version: unexpected argument %q", fs.Arg(0))
	}
	in := buildinfo.Read()
	switch *out {
	case "text":
		_, err := fmt.Fprintln(stdout, in.String())
		return err
	case "json":
		return cli.WriteJSON(stdout, map[string]any{"version": in.Version, "commit": in.Commit, "commitTime": in.Time,
			"modified": in.Modified, "goVersion": in.GoVersion})
	}
	return cli.Usagef("version", "-o wants text or json, not %q", *out)
}
