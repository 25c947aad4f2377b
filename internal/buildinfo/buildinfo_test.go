package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "-ldflags", Value: "-s"},
		{Key: "vcs", Value: "git"},
		{Key: "vcs.revision", Value: "0123456789abcdef0123456789abcdef01234567"},
		{Key: "vcs.time", Value: "2026-12-06T16:00:00Z"},
		{Key: "vcs.modified", Value: "true"},
	}
	for _, tc := range []struct {
		name     string
		bi       *debug.BuildInfo
		override string
		want     string
	}{
		{"no build info", nil, "", "tollgate dev (commit unknown, unknown, unknown)"},
		{"go build in a work tree", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "",
			"tollgate dev (commit 0123456789ab+dirty, 2026-12-06T16:00:00Z, go1.26.8)"},
		{"go install at a version", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}}, "",
			"tollgate v0.4.0 (commit unknown, unknown, go1.26.8)"},
		{"ldflags override", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.4.0"}, Settings: vcs[:4]}, "v1.2.3",
			"tollgate v1.2.3 (commit 0123456789ab, 2026-12-06T16:00:00Z, go1.26.8)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := fromBuildInfo(tc.bi, tc.override).String(); got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestReadNamesTheTestBinary(t *testing.T) {
	in := Read()
	if in.Version == "" || in.GoVersion == "unknown" {
		t.Errorf("Read() = %+v: want a version and the Go version", in)
	}
}
