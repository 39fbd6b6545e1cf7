package rerun

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/exit"
)

// The forms of --watch are parsed; a bare number is refused at start
// (exit 2, with the fix): GitLab numbers groups and projects apart.
func TestWatchEntries(t *testing.T) {
	got, err := ParseWatch([]string{" acme/platform/ ", "group:42", "project:7", "group:acme", "project:acme/api", "my_group.x/sub-1"})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, w := range got {
		g, known := w.isGroup()
		s = append(s, fmt.Sprintf("%s=%s/%v/%v", w, w.ref(), g, known))
	}
	if want := "acme/platform=acme/platform/false/false group:42=42/true/true project:7=7/false/true group:acme=acme/true/true project:acme/api=acme/api/false/true my_group.x/sub-1=my_group.x/sub-1/false/false"; strings.Join(s, " ") != want {
		t.Errorf("parsed %q, want %q", strings.Join(s, " "), want)
	}
}

// --watch is required, and each malformed entry is refused at start (exit
// 2), named with why and the forms accepted: none matches nothing in
// silence.
func TestWatchRefused(t *testing.T) {
	for _, c := range []struct {
		entries []string
		want    string // in the cause
	}{
		{nil, "is required"},
		{[]string{""}, "empty entry"},
		{[]string{"  "}, "empty entry"},
		{[]string{"a", "", "b"}, `"" (an empty entry`},
		{[]string{"acme/x", ""}, "empty entry"},
		{[]string{"42"}, `"42" (a bare number can be a group or a project: write group:42 or project:42)`},
		{[]string{"group:"}, "no path or id"},
		{[]string{"project:0"}, "not an id"},
		{[]string{"https://gitlab.com/group/project"}, `"https://gitlab.com/group/project" (a URL: give the path group/project)`},
		{[]string{"https://gitlab.com/g/p/-/merge_requests/7"}, "give the path g/p"},
		{[]string{"https://gitlab.com"}, "a URL"},
		{[]string{"grp:x"}, `"grp:x" (the only prefixes are group: and project:)`},
		{[]string{"group:abc:def"}, `"group:abc:def" (a path has no colon)`},
		{[]string{"my group"}, `"my group" (not a GitLab path`},
		{[]string{"a//b"}, "not a GitLab path"},
		{[]string{"-a/b"}, "not a GitLab path"},
		{[]string{"acme/ü"}, "not a GitLab path"},
		{[]string{".."}, "not a GitLab path"},
		{[]string{"group/.."}, "not a GitLab path"},
		{[]string{"a/./b"}, "not a GitLab path"},
		{[]string{"group:.."}, `"group:.."`},
		{[]string{"project:.."}, `"project:.."`},
	} {
		_, err := ParseWatch(c.entries)
		var e *exit.Error
		if !errors.As(err, &e) || e.Code != exit.Config || e.Setting != SettingWatch || !strings.Contains(e.Cause, c.want) ||
			strings.Contains(e.Cause, "bare number") != strings.Contains(c.want, "bare number") {
			t.Errorf("--watch %q: %v, want exit 2 on --watch saying %q", c.entries, err, c.want)
			continue
		}
		for _, form := range []string{"group/sub", "group:42", "project:42", "ECHOES_WATCH"} {
			if !strings.Contains(e.Fix, form) {
				t.Errorf("--watch %q: fix %q does not show %s", c.entries, e.Fix, form)
			}
		}
	}
	// Every bad entry is named at once.
	_, err := ParseWatch([]string{"grp:x", "ok/path", "my group"})
	if err == nil || !strings.Contains(err.Error(), `"grp:x"`) || !strings.Contains(err.Error(), `"my group"`) || !strings.Contains(err.Error(), "entries") {
		t.Errorf("two bad entries: %v, want both named", err)
	}
}
