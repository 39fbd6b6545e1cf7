package serve

import (
	"strings"
	"testing"
	"time"
)

// An entry that says what it is is listed as that, never guessed:
// project:42 is not tried as group 42 first (a group may have that id).
func TestTypedWatchEntriesAreListedAsTyped(t *testing.T) {
	gl := newStandIn(t)
	start(t, gl, func(c *config) {
		c.interval = time.Hour
		allow, err := parseWatch([]string{"project:42", "group:7"})
		if err != nil {
			t.Fatal(err)
		}
		c.allow, c.watch = allow, nil
		for _, w := range allow {
			c.watch = append(c.watch, w.String())
		}
	})
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		var project, group bool
		for _, r := range gl.Requests() {
			if strings.HasPrefix(r.Path, "/api/v4/groups/42") {
				t.Fatalf("project:42 was listed as a group: %s", r.Path)
			}
			project = project || strings.HasPrefix(r.Path, "/api/v4/projects/42/merge_requests")
			group = group || strings.HasPrefix(r.Path, "/api/v4/groups/7/merge_requests")
		}
		if project && group {
			return
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("want the merge requests of project 42 and of group 7 listed; requests: %v", gl.Requests())
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
