package rerun

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/exit"
)

// A bare number in --watch is refused at start (exit 2, with the fix):
// GitLab numbers groups and projects apart.
func TestWatchEntries(t *testing.T) {
	got, err := ParseWatch([]string{" acme/platform/ ", "group:42", "project:7", "group:acme", "project:acme/api", ""})
	if err != nil {
		t.Fatal(err)
	}
	var s []string
	for _, w := range got {
		g, known := w.isGroup()
		s = append(s, fmt.Sprintf("%s=%s/%v/%v", w, w.ref(), g, known))
	}
	if want := "acme/platform=acme/platform/false/false group:42=42/true/true project:7=7/false/true group:acme=acme/true/true project:acme/api=acme/api/false/true"; strings.Join(s, " ") != want {
		t.Errorf("parsed %q, want %q", strings.Join(s, " "), want)
	}
	for _, bad := range []string{"42", "group:", "project:0", "a b"} {
		_, err := ParseWatch([]string{"acme", bad})
		var e *exit.Error
		if !errors.As(err, &e) || e.Code != exit.Config || e.Setting != SettingWatch || !strings.Contains(e.Fix, "group:42") {
			t.Errorf("--watch %q: %v, want exit 2 on --watch with the group:/project: fix", bad, err)
		}
	}
}
