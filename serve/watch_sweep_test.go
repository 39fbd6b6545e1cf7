package serve

import (
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// An entry that says what it is is listed as that, never guessed:
// project:42 is not tried as group 42 first (a group may have that id).
func TestTypedWatchEntriesAreListedAsTyped(t *testing.T) {
	gl := newStandIn(t)
	start(t, gl, func(c *config) {
		c.engine.Interval = time.Hour
		allow, err := rerun.ParseWatch([]string{"project:42", "group:7"})
		if err != nil {
			t.Fatal(err)
		}
		c.engine.Watch = allow
	})
	waitFor(t, "the merge requests of project 42 and of group 7 listed", func() bool {
		var project, group bool
		for _, r := range gl.Requests() {
			if strings.HasPrefix(r.Path, "/api/v4/groups/42") {
				t.Fatalf("project:42 was listed as a group: %s", r.Path)
			}
			project = project || strings.HasPrefix(r.Path, "/api/v4/projects/42/merge_requests")
			group = group || strings.HasPrefix(r.Path, "/api/v4/groups/7/merge_requests")
		}
		return project && group
	})
}

// A signing token that is only its prefix says so, not "not base64".
func TestEmptySigningTokenSaysSo(t *testing.T) {
	if _, err := signingKey("whsec_"); err == nil || !strings.Contains(err.Error(), "nothing after it") {
		t.Errorf("signingKey(whsec_) = %v, want an error saying it is empty", err)
	}
	if _, err := signingKey("whsec_***"); err == nil || !strings.Contains(err.Error(), "not base64") {
		t.Errorf("signingKey(whsec_***) = %v, want not base64", err)
	}
}
