// Package buildinfo owns the identity of the tollgate binary: its
// version, the commit and commit time it was built from, whether the work
// tree had uncommitted changes, and the Go version that built it. They
// come from the build information the Go toolchain embeds in every binary
// (runtime/debug.ReadBuildInfo); the version can be set at link time with
//
//	go build -ldflags "-X github.com/tollgate-dev/tollgate/internal/buildinfo.version=v1.2.3" ./cmd/tollgate
//
// `tollgate version` prints String, and exports record it as the file's
// created_by.
package buildinfo

import (
	"runtime/debug"
	"strings"
)

// version is the version set at link time (-ldflags -X); "" to take it
// from the module's build information.
var version = ""

// Info is what a binary knows of its own build. Fields it cannot tell are
// "unknown" (a binary built with -buildvcs=false, or by go run).
type Info struct {
	// Version is the link-time version, else the module version `go
	// install ...@vX` records, else "dev".
	Version string
	// Commit is the VCS revision (vcs.revision), shortened to 12 hex digits.
	Commit string
	// Time is the commit time (vcs.time, RFC 3339).
	Time string
	// Modified is vcs.modified: the work tree had uncommitted changes.
	Modified bool
	// GoVersion is the Go toolchain that built the binary.
	GoVersion string
}

// Read returns the running binary's build information.
func Read() Info {
	bi, _ := debug.ReadBuildInfo()
	return fromBuildInfo(bi, version)
}

// fromBuildInfo reads bi (nil when the binary has none) with the
// link-time version override.
func fromBuildInfo(bi *debug.BuildInfo, override string) Info {
	in := Info{Version: override, Commit: "unknown", Time: "unknown", GoVersion: "unknown"}
	if bi == nil {
		if in.Version == "" {
			in.Version = "dev"
		}
		return in
	}
	if in.Version == "" {
		if v := bi.Main.Version; v != "" && v != "(devel)" {
			in.Version = v
		} else {
			in.Version = "dev"
		}
	}
	if bi.GoVersion != "" {
		in.GoVersion = bi.GoVersion
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			in.Commit = s.Value
			if len(in.Commit) > 12 {
				in.Commit = in.Commit[:12]
			}
		case "vcs.time":
			in.Time = s.Value
		case "vcs.modified":
			in.Modified = s.Value == "true"
		}
	}
	return in
}

// String is the one line that names the build, as `tollgate version`
// prints it and exports record it:
// "tollgate v1.2.3 (commit 0123456789ab+dirty, 2026-12-06T16:00:00Z, go1.26.8)".
func (in Info) String() string {
	commit := in.Commit
	if in.Modified {
		commit += "+dirty"
	}
	var b strings.Builder
	b.WriteString("tollgate ")
	b.WriteString(in.Version)
	b.WriteString(" (commit ")
	b.WriteString(commit)
	b.WriteString(", ")
	b.WriteString(in.Time)
	b.WriteString(", ")
	b.WriteString(in.GoVersion)
	b.WriteString(")")
	return b.String()
}
