package checkcmd_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// A bot's merge request is skipped, whatever its labels, and the log names
// the author and the pattern; a pattern matches the whole username.
func TestSkipAuthors(t *testing.T) {
	srv := labelled(t, "backend")
	srv.SetAuthor(42, "group/project", 7, "Renovate-Bot")
	srv.SetLabels(42, "group/project", 8, "backend")
	srv.SetAuthor(42, "group/project", 8, "renovate-bot-2")

	r := runIn(t, nil, nil, apiArgs(srv, "7", "--skip-authors", " dependabot* , RENOVATE*bot ")...)
	if r.code != 0 || !strings.Contains(r.stdout, "is by Renovate-Bot") || !strings.Contains(r.stdout, "--skip-authors renovate*bot") {
		t.Fatalf("want a skip naming the author and the pattern:\n%s", r)
	}
	if srv.Count() != 1 {
		t.Errorf("%d requests, want the one read", srv.Count())
	}
	// renovate*bot does not match renovate-bot-2 as a whole; renovate does
	// not match renovate-bot.
	for _, c := range []struct{ iid, pattern string }{{"8", "renovate*bot"}, {"7", "renovate"}} {
		if r := runIn(t, nil, nil, apiArgs(srv, c.iid, "--skip-authors", c.pattern)...); r.code != 1 {
			t.Errorf("--skip-authors %s on !%s: want the check to fail, got:\n%s", c.pattern, c.iid, r)
		}
	}
	dir := t.TempDir()
	r = runIn(t, map[string]string{"ECHOES_SKIP_AUTHORS": "renovate*"}, nil,
		apiArgs(srv, "7", "--format", "json", "--junit", filepath.Join(dir, "j.xml"))...)
	var doc struct {
		Verdict, Reason string
		MergeRequest    struct{ IID int64 } `json:"merge_request"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 0 || doc.Verdict != "skipped" || !strings.Contains(doc.Reason, "Renovate-Bot") || doc.MergeRequest.IID != 7 {
		t.Fatalf("JSON %+v (%v):\n%s", doc, err, r)
	}
	if j, _ := os.ReadFile(filepath.Join(dir, "j.xml")); !strings.Contains(string(j), "<skipped") {
		t.Errorf("JUnit lacks the skipped case:\n%s", j)
	}
	if r := runIn(t, nil, nil, apiArgs(srv, "7", "--skip-authors", "renovate bot")...); r.code != 2 || !strings.Contains(r.stderr, "--skip-authors") {
		t.Errorf("a pattern with a space: want exit 2 naming --skip-authors, got:\n%s", r)
	}
}

// A draft lacking labels is a warning (exit 4) under --drafts warn, says
// what is missing as a failure would, and fails again once ready; --enforce
// false makes every missing label a warning.
func TestDraftsAndEnforce(t *testing.T) {
	srv := labelled(t, "backend")
	srv.SetDraft(42, "group/project", 7, true)
	dir := t.TempDir()
	junit := filepath.Join(dir, "j.xml")

	r := runIn(t, map[string]string{"ECHOES_DRAFTS": "WARN", "NO_COLOR": "1"}, nil, apiArgs(srv, "7", "--junit", junit)...)
	if r.code != 4 || !strings.Contains(r.stdout, "⚠ WARN this merge request needs a label: no intent or initiative label") ||
		!strings.Contains(r.stdout, "is a draft") || !strings.Contains(r.stdout, "fix: add a label starting with echoes/intent/") {
		t.Fatalf("want a warning saying what is missing, exit 4:\n%s", r)
	}
	if j, _ := os.ReadFile(junit); !strings.Contains(string(j), `failures="0"`) || !strings.Contains(string(j), "not enforced") {
		t.Errorf("JUnit must hold a warning, not a failure:\n%s", j)
	}
	if r := runIn(t, nil, nil, apiArgs(srv, "7")...); r.code != 1 {
		t.Errorf("a draft under the default --drafts enforce: want exit 1, got:\n%s", r)
	}
	srv.SetDraft(42, "group/project", 7, false)
	if r := runIn(t, nil, nil, apiArgs(srv, "7", "--drafts", "warn")...); r.code != 1 {
		t.Errorf("marked ready: want exit 1, got:\n%s", r)
	}

	r = runIn(t, nil, nil, apiArgs(srv, "7", "--enforce=false", "--format", "json")...)
	var doc struct {
		Verdict     string `json:"verdict"`
		NotEnforced string `json:"not_enforced"`
		Rules       []struct{ Result, Fix string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 4 || doc.Verdict != "warn" || !strings.Contains(doc.NotEnforced, "--enforce") {
		t.Fatalf("--enforce=false: JSON %+v (%v):\n%s", doc, err, r)
	}
	// Offline too: --enforce applies to --labels; --drafts has no draft there.
	if r := runIn(t, map[string]string{"ECHOES_ENFORCE": "false"}, nil, "--labels", "backend"); r.code != 4 {
		t.Errorf("--labels with ECHOES_ENFORCE=false: want exit 4, got:\n%s", r)
	}
	if r := runIn(t, nil, nil, "--labels", "backend", "--drafts", "warn", "--skip-authors", "*"); r.code != 1 {
		t.Errorf("--labels has no author nor draft: want exit 1, got:\n%s", r)
	}
	if r := runIn(t, nil, nil, "--labels", "echoes/intent/x", "--enforce=false"); r.code != 0 {
		t.Errorf("passing labels under --enforce=false: want exit 0, got:\n%s", r)
	}
	r = runIn(t, nil, nil, "--labels", "x", "--drafts", "sometimes", "--enforce=maybe")
	if r.code != 2 || !strings.Contains(r.stderr, "--drafts/ECHOES_DRAFTS") || !strings.Contains(r.stderr, "--enforce/ECHOES_ENFORCE") {
		t.Errorf("bad --drafts and --enforce: want both in one exit 2, got:\n%s", r)
	}
}

// Without a token, the pipeline's labels come with its draft state.
func TestDraftFromThePipeline(t *testing.T) {
	srv := gitlabtest.New(t)
	env := with(mrEnv(srv, "7"), "CI_JOB_TOKEN", "<unset>", "CI_MERGE_REQUEST_LABELS", "backend", "ECHOES_DRAFTS", "warn")
	if r := runIn(t, with(env, "CI_MERGE_REQUEST_DRAFT", "true"), nil); r.code != 4 {
		t.Errorf("a draft pipeline under --drafts warn: want exit 4, got:\n%s", r)
	}
	if r := runIn(t, with(env, "CI_MERGE_REQUEST_DRAFT", "false"), nil); r.code != 1 {
		t.Errorf("a ready pipeline: want exit 1, got:\n%s", r)
	}
}
