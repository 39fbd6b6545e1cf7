package checkcmd_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

func labelsServer(t *testing.T) *gitlabtest.Server {
	srv := labelled(t, "backend", "echoes/intnet/feature")
	srv.SetLabels(42, "group/project", 8, "echoes/intent/feature")
	labels := []gitlabtest.ProjectLabel{{Name: "backend"}, {Name: "echoes/intent/feature", Group: true},
		{Name: "echoes/intent/bugfix", Group: true}, {Name: "echoes/initiative/checkout"}, {Name: "echoes/effort/M"},
		{Name: "echoes/effort/XXL"}, {Name: "echoes/intentional"}}
	for i := range 30 {
		labels = append(labels, gitlabtest.ProjectLabel{Name: fmt.Sprintf("echoes/intent/x%02d", i)})
	}
	srv.SetProjectLabels(42, "group/project", labels...)
	return srv
}

// A failing check lists the labels of the missing kinds that exist, in
// every report; a near miss names the existing label it should become.
func TestAvailableLabels(t *testing.T) {
	srv := labelsServer(t)
	dir := t.TempDir()
	junit := filepath.Join(dir, "j.xml")
	r := runIn(t, map[string]string{"NO_COLOR": "1"}, nil, apiArgs(srv, "7", "--require-effort", "--junit", junit)...)
	if r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	for _, want := range []string{
		"fix: replace the label echoes/intnet/feature with echoes/intent/feature on this merge request (it exists in the project)",
		"available: echoes/intent/bugfix, echoes/intent/feature, echoes/intent/x00",
		"echoes/intent/x17, … 13 more\n",
		"available: echoes/effort/M\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("log lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "echoes/intentional") || strings.Contains(r.stdout, "available: backend") || strings.Contains(r.stdout, "XXL") {
		t.Errorf("log lists a label of no missing kind:\n%s", r.stdout)
	}
	reqs := srv.Requests()
	if len(reqs) != 2 || !strings.HasSuffix(reqs[1].Path, "/projects/group%2Fproject/labels") ||
		reqs[1].Query.Get("include_ancestor_groups") != "true" || reqs[1].Query.Get("search") != "echoes/" {
		t.Errorf("want the merge request, then one labels read searching echoes/ with ancestors; got %+v", reqs)
	}
	if j, _ := os.ReadFile(junit); !strings.Contains(string(j), "available: echoes/intent/bugfix, echoes/intent/feature") {
		t.Errorf("JUnit lacks the available labels:\n%s", j)
	}

	r = runIn(t, nil, nil, apiArgs(srv, "7", "--format", "json")...)
	var doc struct {
		Available *struct{ Intent, Initiative, Effort []string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Available == nil || len(doc.Available.Intent) != 32 ||
		len(doc.Available.Initiative) != 1 || len(doc.Available.Effort) != 0 {
		t.Fatalf("JSON available = %+v (%v):\n%s", doc.Available, err, r)
	}

	// A pass makes exactly one request; --labels none.
	before := srv.Count()
	if r := runIn(t, nil, nil, apiArgs(srv, "8")...); r.code != 0 || srv.Count() != before+1 {
		t.Errorf("a pass made %d requests, want 1:\n%s", srv.Count()-before, r)
	}
	before = srv.Count()
	if r := runIn(t, nil, nil, "--labels", "backend"); r.code != 1 || srv.Count() != before || strings.Contains(r.stdout, "available:") {
		t.Errorf("--labels made %d requests:\n%s", srv.Count()-before, r)
	}
}

// The note shows the quick action as inert text, in a code span.
func TestAvailableLabelsInTheNote(t *testing.T) {
	srv := labelsServer(t)
	srv.SetLabels(42, "group/project", 9, "backend")
	if r := runIn(t, nil, nil, apiArgs(srv, "9", "--comment")...); r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	notes := srv.Notes("group/project", 9)
	if len(notes) != 1 {
		t.Fatalf("notes: %+v", notes)
	}
	body := notes[0].Body
	// No near miss says which label is meant: the quick action names none
	// (the first in the list would be a guess someone pastes).
	if !strings.Contains(body, "  - Available: `echoes/intent/bugfix`, `echoes/intent/feature`") ||
		!strings.Contains(body, "  - Or comment `/label ~\"…\"` with the one that fits") {
		t.Errorf("note:\n%s", body)
	}
	// A near miss whose right spelling exists: that label, ready to paste.
	srv.SetLabels(42, "group/project", 10, "echoes/intnet/feature")
	if r := runIn(t, nil, nil, apiArgs(srv, "10", "--comment")...); r.code != 1 {
		t.Fatalf("want exit 1:\n%s", r)
	}
	if notes := srv.Notes("group/project", 10); len(notes) != 1 || !strings.Contains(notes[0].Body, "  - Or comment: `/label ~\"echoes/intent/feature\"`") {
		t.Errorf("notes with a near miss: %+v", notes)
	}
	for _, line := range strings.Split(body, "\n") {
		if strings.HasPrefix(strings.TrimSpace(line), "/") {
			t.Errorf("a line would run a quick action: %q", line)
		}
	}
}

// If the labels cannot be read, the report goes on without them.
func TestAvailableLabelsReadFails(t *testing.T) {
	srv := labelsServer(t)
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if strings.HasSuffix(r.URL.Path, "/labels") {
			gitlabtest.Error(w, http.StatusForbidden, "403 Forbidden")
			return true
		}
		return false
	})
	r := runIn(t, map[string]string{"NO_COLOR": "1"}, nil, apiArgs(srv, "7")...)
	if r.code != 1 || !strings.Contains(r.stdout, "✖ FAIL") || strings.Contains(r.stdout, "available:") ||
		!strings.Contains(r.stderr, "could not list the project's labels") {
		t.Fatalf("want the failure reported without the labels:\n%s", r)
	}
}
