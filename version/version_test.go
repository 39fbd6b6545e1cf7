package version

import (
	"regexp"
	"runtime/debug"
	"testing"
)

func TestString(t *testing.T) {
	vcs := func(rev, modified string) *debug.BuildInfo {
		return &debug.BuildInfo{Settings: []debug.BuildSetting{{Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}}
	}
	for _, tt := range []struct {
		name     string
		revision string
		info     *debug.BuildInfo
		want     string
	}{
		{"no build info", "", nil, Number},
		{"no VCS stamp (-buildvcs=false, a tarball)", "", &debug.BuildInfo{Main: debug.Module{Version: "(devel)"}}, Number},
		{"Go's VCS stamp", "", vcs("0dfcaec0123456789abcdef", "false"), Number + " (0dfcaec)"},
		{"a work tree with changes", "", vcs("0dfcaec0123456789abcdef", "true"), Number + " (0dfcaec, modified)"},
		{"a stamped revision wins", "abc1234", vcs("0dfcaec0123456789abcdef", "true"), Number + " (abc1234)"},
		{"a stamped full hash is shortened", "abc1234def", nil, Number + " (abc1234)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := String(tt.revision, tt.info); got != tt.want {
				t.Errorf("String(%q, …) = %q, want %q", tt.revision, got, tt.want)
			}
		})
	}
}

func TestNumberIsSemver(t *testing.T) {
	if !regexp.MustCompile(`^\d+\.\d+\.\d+$`).MatchString(Number) {
		t.Errorf("Number = %q, want X.Y.Z (no v, the CI/CD catalog's rule)", Number)
	}
}
