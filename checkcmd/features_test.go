package checkcmd_test

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/app"
	"gitlab.com/echoeshq/echoes-labels/cienv"
	"gitlab.com/echoeshq/echoes-labels/internal/clock"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// fakeClock advances only when slept on, so --wait tests take no real time.
type fakeClock struct {
	mu     sync.Mutex
	now    time.Time
	slept  []time.Duration
	onTick func()
}

func (c *fakeClock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *fakeClock) Sleep(_ context.Context, d time.Duration) error {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.slept = append(c.slept, d)
	tick := c.onTick
	c.mu.Unlock()
	if tick != nil {
		tick()
	}
	return nil
}

// runIn runs the command in this process with exactly env, a fake clock
// and retry waits of a millisecond.
func runIn(t *testing.T, env map[string]string, clk clock.Clock, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := app.Main(context.Background(), args, app.Deps{
		Stdout: &stdout, Stderr: &stderr, Env: cienv.Map(env), Version: "test", Clock: clk,
		MaxRetryWait: time.Millisecond,
	})
	r := result{stdout.String(), stderr.String(), code}
	for _, s := range []string{secret, jobSecret} {
		if strings.Contains(strings.ToLower(r.stdout+r.stderr), strings.ToLower(s)) {
			t.Fatalf("a token was printed:\n%s", r)
		}
	}
	return r
}

// labelled is a stand-in whose merge request 7 of project 42,
// group/project, has labels.
func labelled(t *testing.T, labels ...string) *gitlabtest.Server {
	t.Helper()
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 7, labels...)
	return srv
}

// commentOn7 checks merge request 7 of srv with --comment and more, in
// env, and fails the test unless the check exits code.
func commentOn7(t *testing.T, srv *gitlabtest.Server, env map[string]string, code int, more ...string) {
	t.Helper()
	if r := runIn(t, env, &fakeClock{}, apiArgs(srv, "7", append([]string{"--comment"}, more...)...)...); r.code != code {
		t.Fatal(r)
	}
}

// labelsArriveAt is a stand-in whose merge request 7 is labelled only
// "backend" until the check's nth sleep, when its labels become labels, and
// the fake clock, at 1_800_000_000, that makes the change.
func labelsArriveAt(t *testing.T, n int, labels ...string) (*gitlabtest.Server, *fakeClock) {
	t.Helper()
	srv := labelled(t, "backend")
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	clock.onTick = func() {
		if len(clock.slept) == n {
			srv.SetLabels(42, "group/project", 7, labels...)
		}
	}
	return srv, clock
}

func apiArgs(srv *gitlabtest.Server, iid string, more ...string) []string {
	return append([]string{"--gitlab-url", srv.APIURL(), "--token", secret, "--project", "group/project", "--mr", iid}, more...)
}

func TestJUnitReport(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	srv.SetLabels(42, "group/project", 8, "echoes/effort/XXL", "evil\x1b[31m<label>&\"")
	dir := t.TempDir()

	type junit struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Suites   []struct {
			Cases []struct {
				Name    string `xml:"name,attr"`
				Failure *struct {
					Message string `xml:"message,attr"`
					Text    string `xml:",chardata"`
				} `xml:"failure"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	read := func(path string) junit {
		t.Helper()
		b := readFile(t, path)
		var j junit
		if err := xml.Unmarshal(b, &j); err != nil {
			t.Fatalf("not valid XML: %v\n%s", err, b)
		}
		if bytes.ContainsRune(b, 0x1b) {
			t.Errorf("raw escape character in the XML:\n%q", b)
		}
		return j
	}

	pass := filepath.Join(dir, "reports", "pass.xml")
	if r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--junit", pass)...); r.code != 0 {
		t.Fatal(r)
	}
	if j := read(pass); j.Tests != 1 || j.Failures != 0 || j.Suites[0].Cases[0].Failure != nil {
		t.Errorf("passing report = %+v", j)
	}

	fail := filepath.Join(dir, "fail.xml")
	inCI := map[string]string{"CI": "true"} // a job to retry
	if r := runIn(t, inCI, &fakeClock{}, apiArgs(srv, "8", "--junit", fail, "--require-effort")...); r.code != 1 {
		t.Fatal(r)
	}
	j := read(fail)
	if j.Tests != 2 || j.Failures != 2 {
		t.Fatalf("failing report: %d tests, %d failures; want one case per rule, both failed", j.Tests, j.Failures)
	}
	f := j.Suites[0].Cases[0].Failure
	if f == nil || !strings.Contains(f.Text, "https://docs.echoeshq.com/developer-guide") || !strings.Contains(f.Text, "retry this job") {
		t.Errorf("failure should carry the message, the docs link and the next step: %+v", f)
	}
	if f := j.Suites[0].Cases[1].Failure; f == nil || !strings.Contains(f.Text, "weighing-efforts") {
		t.Errorf("effort failure = %+v", f)
	}
	// By hand, there is no job to retry.
	if r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "8")...); r.code != 1 || strings.Contains(r.stdout, "retry") || !strings.Contains(r.stdout, "run echoes-labels again") {
		t.Errorf("outside CI: %s", r)
	}

	// A pipeline without a merge request leaves a report with a skipped case.
	skipped := filepath.Join(dir, "skipped.xml")
	if r := runIn(t, nil, &fakeClock{}, "--junit", skipped); r.code != 0 {
		t.Fatal(r)
	}
	if b, _ := os.ReadFile(skipped); !bytes.Contains(b, []byte("<skipped")) || !bytes.Contains(b, []byte(`skipped="1"`)) {
		t.Errorf("skipped report:\n%s", b)
	}

	// An API error still leaves a report, with an error case.
	srv.SetToken("another")
	apiErr := filepath.Join(dir, "error.xml")
	if r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--junit", apiErr)...); r.code != 3 {
		t.Fatal(r)
	}
	if b, _ := os.ReadFile(apiErr); !bytes.Contains(b, []byte("<error")) || !bytes.Contains(b, []byte("read_api")) {
		t.Errorf("API error report:\n%s", b)
	}
}

func TestJSONReport(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 8, "echoes/intnet/feature", "echoes/effort/M", "backend")
	r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "8", "--format", "json")...)
	if r.code != 1 {
		t.Fatal(r)
	}
	var doc report.JSONReport
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	if doc.Verdict != "fail" || doc.Source != "api" || doc.MergeRequest == nil || doc.MergeRequest.IID != 8 ||
		len(doc.Labels.All) != 3 || len(doc.Labels.Effort) != 1 || len(doc.Labels.Intent) != 0 {
		t.Errorf("document = %+v", doc)
	}
	if len(doc.Rules) != 2 || doc.Rules[0].Result != "failed" || doc.Rules[0].Fix == "" || doc.Rules[1].Result != "passed" {
		t.Errorf("rules = %+v", doc.Rules)
	}
	if len(doc.NearMisses) != 1 || doc.NearMisses[0].Suggestion != "echoes/intent/feature" {
		t.Errorf("near misses = %+v", doc.NearMisses)
	}

	r = runIn(t, nil, &fakeClock{}, "--format", "json")
	if r.code != 0 || !strings.Contains(r.stdout, `"verdict": "skipped"`) {
		t.Errorf("nothing to check in JSON: %s", r)
	}
	r = runIn(t, nil, &fakeClock{}, "--format", "json", "--mr", "x", "--token", secret, "--project", "1")
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || r.code != 2 || doc.Verdict != "error" || doc.Error.ExitCode != 2 {
		t.Errorf("config error in JSON: %v %s", err, r)
	}
	r = runIn(t, nil, &fakeClock{}, "--format", "yaml")
	if r.code != 2 {
		t.Errorf("unknown format: %s", r)
	}
}

func TestWaitPassesWhenTheLabelArrives(t *testing.T) {
	// the developer adds the label during the third interval
	srv, clock := labelsArriveAt(t, 3, "backend", "echoes/intent/feature")
	r := runIn(t, nil, clock, apiArgs(srv, "7", "--wait", "10m", "--poll-interval", "10s")...)
	if r.code != 0 {
		t.Fatalf("want a pass once the label is added:\n%s", r)
	}
	if n := srv.Count(); n != 4 {
		t.Errorf("%d requests, want 4: the check and one per poll", n)
	}
	if strings.Count(r.stdout, "waiting up to 10m0s") != 1 {
		t.Errorf("should say once that it is waiting:\n%s", r.stdout)
	}
	for _, d := range clock.slept {
		if d != 10*time.Second {
			t.Errorf("slept %v, want the poll interval", d)
		}
	}
}

func TestWaitGivesUpAtTheDeadline(t *testing.T) {
	srv := labelled(t, "backend")
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	r := runIn(t, nil, clock, apiArgs(srv, "7", "--wait", "25s", "--poll-interval", "10s")...)
	if r.code != 1 {
		t.Fatalf("want a failure after the wait:\n%s", r)
	}
	if want := []time.Duration{10 * time.Second, 10 * time.Second, 5 * time.Second}; len(clock.slept) != 3 || clock.slept[2] != want[2] {
		t.Errorf("slept %v, want %v: never past the deadline", clock.slept, want)
	}
	// 4 reads of the merge request, then the project's labels for the
	// failure's report.
	if n := srv.Count(); n != 5 {
		t.Errorf("%d requests, want 5", n)
	}
}

func TestWaitIsBoundedWhenGitLabHangs(t *testing.T) {
	srv := labelled(t, "backend")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			return false
		}
		<-r.Context().Done() // hang until the client gives up
		return true
	})
	start := time.Now()
	// Each re-read is bounded by --timeout, and the run by --timeout plus --wait.
	r := runIn(t, nil, nil, apiArgs(srv, "7", "--wait", "2s", "--poll-interval", "1s", "--timeout", "2s")...)
	if r.code != 1 || !strings.Contains(r.stdout, "gave up waiting") {
		t.Fatalf("want a failure after the wait:\n%s", r)
	}
	if el := time.Since(start); el > 20*time.Second { // --timeout plus --wait is 4 s; a hang never ends
		t.Errorf("a hanging GitLab stretched a 2s wait to %v", el)
	}
}

func TestWaitIsPointlessOnFrozenLabels(t *testing.T) {
	clock := &fakeClock{}
	r := runIn(t, map[string]string{"CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_LABELS": "backend"}, clock, "--mr", "7", "--project", "1", "--wait", "5m")
	if r.code != 1 || !strings.Contains(r.stdout, "--wait is ignored") || len(clock.slept) != 0 {
		t.Fatalf("want no waiting on CI_MERGE_REQUEST_LABELS:\n%s", r)
	}
}

func TestStickyComment(t *testing.T) {
	srv := labelled(t, "backend")
	srv.AddNote("group/project", 7, "LGTM, but please label it")
	args := apiArgs(srv, "7", "--comment")

	if r := runIn(t, nil, &fakeClock{}, args...); r.code != 1 {
		t.Fatal(r)
	}
	notes := srv.Notes("group/project", 7)
	if len(notes) != 2 || !strings.Contains(notes[1].Body, "needs an Echoes label") || !strings.Contains(notes[1].Body, "developer-guide") {
		t.Fatalf("after the first failure, notes = %+v", notes)
	}
	first := notes[1].ID

	srv.SetLabels(42, "group/project", 7, "backend", "echoes/effort/XXL")
	if r := runIn(t, nil, &fakeClock{}, args...); r.code != 1 {
		t.Fatal(r)
	}
	notes = srv.Notes("group/project", 7)
	if len(notes) != 2 || notes[1].ID != first || !strings.Contains(notes[1].Body, "XXL") {
		t.Fatalf("a second failure should update the same note: %+v", notes)
	}

	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	if r := runIn(t, nil, &fakeClock{}, args...); r.code != 0 {
		t.Fatal(r)
	}
	notes = srv.Notes("group/project", 7)
	if len(notes) != 2 || notes[1].ID != first || !strings.Contains(notes[1].Body, "complete") {
		t.Fatalf("a pass should turn the note green: %+v", notes)
	}
	writes := 0
	for _, r := range srv.Requests() {
		if r.Method != http.MethodGet {
			writes++
		}
	}
	if writes != 3 {
		t.Errorf("%d writes, want 3 (create, update, update)", writes)
	}
}

func TestNoCommentOnAPassWithoutANote(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	commentOn7(t, srv, nil, 0)
	if n := len(srv.Notes("group/project", 7)); n != 0 {
		t.Errorf("a pass created %d notes", n)
	}
}

func TestCommentRefusedKeepsTheVerdict(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	srv.SetLabels(42, "group/project", 8, "backend")
	srv.RefuseNotes(true)
	r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "8", "--comment")...)
	if r.code != 1 || !strings.Contains(r.stdout, "could not write the comment") || !strings.Contains(r.stdout, "api scope") {
		t.Fatalf("want the label verdict and a warning:\n%s", r)
	}
	if r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--comment")...); r.code != 0 {
		t.Fatalf("a refused comment must not fail a pass:\n%s", r)
	}
}

func TestCommentMarkdownIsInert(t *testing.T) {
	srv := labelled(t, "echoes/effort/<img src=x>@all[x](http://evil)`")
	commentOn7(t, srv, nil, 1)
	// Label text goes in code spans, which GitLab's filters skip; outside
	// them nothing of it may remain (report's tests render the note).
	body := srv.Notes("group/project", 7)[0].Body
	if !strings.Contains(body, "``\"echoes/effort/<img src=x>@all[x](http://evil)`\" is not") {
		t.Errorf("the label should be quoted in a code span fenced with two backticks:\n%s", body)
	}
	outside := regexp.MustCompile("``[^\n]*?``|`[^`\n]*`").ReplaceAllString(body, "")
	for _, bad := range []string{"<img", "@all", "http://evil", "`"} {
		if strings.Contains(outside, bad) {
			t.Errorf("note body keeps %q outside code:\n%s", bad, body)
		}
	}
}

func TestBranchPipelines(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	srv.SetSourceBranch(42, "group/project", 7, "topic")
	srv.SetLabels(42, "group/project", 9, "backend")
	srv.SetSourceBranch(42, "group/project", 9, "unlabelled")
	base := []string{"--gitlab-url", srv.APIURL(), "--token", secret, "--project", "42"}

	// CI_OPEN_MERGE_REQUESTS names a fork's merge request first; ours is the one in this project.
	env := map[string]string{"CI_OPEN_MERGE_REQUESTS": "someone/fork!3,group/project!9", "CI_PROJECT_PATH": "group/project", "CI_COMMIT_BRANCH": "unlabelled"}
	r := runIn(t, env, &fakeClock{}, base...)
	if r.code != 1 || !strings.Contains(r.stdout, "group/project!9") {
		t.Fatalf("want MR !9 from CI_OPEN_MERGE_REQUESTS checked:\n%s", r)
	}

	// No variable: found by source branch, with the labels of the list answer (one request).
	before := srv.Count()
	r = runIn(t, map[string]string{"CI_PROJECT_PATH": "group/project", "CI_COMMIT_BRANCH": "topic"}, &fakeClock{}, base...)
	if r.code != 0 || !strings.Contains(r.stdout, "!7") || srv.Count()-before != 1 {
		t.Fatalf("want MR !7 found by branch with one request (%d made):\n%s", srv.Count()-before, r)
	}

	// A branch with no merge request: nothing to check.
	r = runIn(t, map[string]string{"CI_PROJECT_PATH": "group/project", "CI_COMMIT_BRANCH": "lonely"}, &fakeClock{}, base...)
	if r.code != 0 || !strings.Contains(r.stdout, "nothing to check") {
		t.Fatalf("branch without MR:\n%s", r)
	}
}

func TestMergeTrainChecksAsUsual(t *testing.T) {
	srv := labelled(t, "echoes/initiative/q3")
	env := map[string]string{"CI_MERGE_REQUEST_IID": "7", "CI_MERGE_REQUEST_EVENT_TYPE": "merge_train", "GITLAB_CI": "true", "CI": "true"}
	r := runIn(t, env, &fakeClock{now: time.Unix(1_800_000_000, 0)}, apiArgs(srv, "7")...)
	if r.code != 0 {
		t.Fatal(r)
	}
	golden(t, "gitlab-log-sections", r)
}

func TestGitLabLogSections(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 8, "backend", "echoes/intnet/x")
	env := map[string]string{"CI_MERGE_REQUEST_IID": "7", "GITLAB_CI": "true", "CI": "true"}
	r := runIn(t, env, &fakeClock{now: time.Unix(1_800_000_000, 0)}, apiArgs(srv, "8")...)
	if r.code != 1 {
		t.Fatal(r)
	}
	start := strings.Index(r.stdout, "section_start:1800000000:echoes_labels_details[collapsed=true]")
	end := strings.Index(r.stdout, "section_end:1800000000:echoes_labels_details")
	verdict := strings.Index(r.stdout, "FAIL")
	if start < 0 || end < start || verdict < end {
		t.Fatalf("want the details in a collapsed section and the verdict after it:\n%q", r.stdout)
	}
	details := r.stdout[start:end]
	for _, want := range []string{"backend", "echoes/intnet/x", "GET /api/v4/projects/group%2Fproject/merge_requests/8 → 200"} {
		if !strings.Contains(details, want) {
			t.Errorf("details lack %q:\n%s", want, details)
		}
	}
	if !strings.Contains(r.stdout[end:], "replace the label echoes/intnet/x with echoes/intent/x on this merge request") {
		t.Errorf("the fix should stay visible after the section:\n%s", r.stdout[end:])
	}
}

func TestJUnitReportIsMaskedToo(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		gitlabtest.Error(w, 401, "401 Unauthorized: token "+r.Header.Get("PRIVATE-TOKEN")+" is revoked")
		return true
	})
	path := filepath.Join(t.TempDir(), "junit.xml")
	if r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--junit", path)...); r.code != 3 {
		t.Fatal(r)
	}
	b := readFile(t, path)
	if bytes.Contains(b, []byte(secret)) || !bytes.Contains(b, []byte("[MASKED]")) {
		t.Errorf("the JUnit report, shown in the merge request, must mask the token:\n%s", b)
	}
}

func TestBranchPipelineWithARefusedJobToken(t *testing.T) {
	srv := gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 9, "backend")
	env := map[string]string{"CI_JOB_TOKEN": jobSecret, "CI_OPEN_MERGE_REQUESTS": "group/project!9", "CI_PROJECT_PATH": "group/project", "CI_COMMIT_BRANCH": "topic"}
	r := runIn(t, env, &fakeClock{}, "--gitlab-url", srv.APIURL(), "--project", "42")
	if r.code != 0 || !strings.Contains(r.stdout, "refused the job token") || !strings.Contains(r.stdout, "ECHOES_GITLAB_TOKEN") {
		t.Fatalf("want a notice and nothing to check, as there is no label variable to fall back on:\n%s", r)
	}
}

func TestRefusedJobTokenFixNamesTheVariable(t *testing.T) {
	srv := labelled(t, "backend")
	// Outside a merge request pipeline there is no fallback: the error must
	// say what to do, and not ask for scopes a job token cannot have.
	r := runIn(t, map[string]string{"CI_JOB_TOKEN": jobSecret}, &fakeClock{}, "--gitlab-url", srv.APIURL(), "--project", "42", "--mr", "7")
	if r.code != 3 || !strings.Contains(r.stderr, "job token") || !strings.Contains(r.stderr, "ECHOES_GITLAB_TOKEN") || strings.Contains(r.stderr, "Reporter") {
		t.Fatalf("%s", r)
	}
}

func TestCommentIgnoresAReviewerQuotingIt(t *testing.T) {
	srv := labelled(t, "backend")
	srv.AddNote("group/project", 7, "> <!-- echoes-labels:sticky-note -->\n> quoting the bot: why is this red?")
	r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--comment")...)
	if r.code != 1 || !strings.Contains(r.stdout, "commented on the merge request") {
		t.Fatal(r)
	}
	notes := srv.Notes("group/project", 7)
	if len(notes) != 2 || notes[0].Author != gitlabtest.Reviewer || !strings.Contains(notes[0].Body, "quoting the bot") || notes[1].Author != gitlabtest.Bot {
		t.Fatalf("the reviewer's note must stay as it was and the bot write its own: %+v", notes)
	}
}

// Every exit 2 leaves its errored case in the JUnit file, and a JSON
// document with --format json, errors found while reading flags and
// variables included.
func TestConfigErrorsReachTheReports(t *testing.T) {
	for _, tt := range []struct {
		name, variable, value, mention string
	}{
		{"a bool that is neither", "ECHOES_REQUIRE_EFFORT", "maybe", "ECHOES_REQUIRE_EFFORT"},
		{"a duration that is none", "ECHOES_POLL_INTERVAL", "abc", "ECHOES_POLL_INTERVAL"},
		{"a duration without its unit", "ECHOES_TIMEOUT", "30", "30s"},
		{"a poll interval below the floor", "ECHOES_POLL_INTERVAL", "100ms", "1s"},
		{"an unknown format", "ECHOES_FORMAT", "xml", "--format json"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			junit := filepath.Join(t.TempDir(), "r.xml")
			env := map[string]string{"ECHOES_JUNIT": junit, "ECHOES_WAIT": "1m", tt.variable: tt.value}
			r := runIn(t, env, &fakeClock{}, "--labels", "echoes/intent/x")
			if r.code != 2 || !strings.Contains(r.stderr, tt.mention) {
				t.Fatalf("want exit 2 naming %s:\n%s", tt.mention, r)
			}
			b, err := os.ReadFile(junit)
			if err != nil || !bytes.Contains(b, []byte(`errors="1"`)) || !bytes.Contains(b, []byte("<error")) {
				t.Errorf("JUnit report (%v):\n%s", err, b)
			}
			if tt.variable == "ECHOES_FORMAT" {
				return
			}
			env["ECHOES_FORMAT"] = "json"
			r = runIn(t, env, &fakeClock{}, "--labels", "echoes/intent/x")
			var doc report.JSONReport
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Verdict != report.VerdictError || doc.Error == nil || doc.Error.ExitCode != 2 {
				t.Errorf("JSON (%v):\n%s", err, r)
			}
		})
	}
	t.Run("an unknown flag, with the report paths on the command line", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "r.xml")
		r := runIn(t, nil, &fakeClock{}, "--format=json", "--junit", junit, "--labls", "x")
		var doc report.JSONReport
		if err := json.Unmarshal([]byte(r.stdout), &doc); r.code != 2 || err != nil || doc.Error == nil {
			t.Errorf("JSON (%v):\n%s", err, r)
		}
		if b, err := os.ReadFile(junit); err != nil || !bytes.Contains(b, []byte("<error")) {
			t.Errorf("JUnit report (%v):\n%s", err, b)
		}
	})
	t.Run("an unknown flag, with the report paths from the variables", func(t *testing.T) {
		junit := filepath.Join(t.TempDir(), "r.xml")
		r := runIn(t, map[string]string{"ECHOES_JUNIT": junit, "ECHOES_FORMAT": "json"}, &fakeClock{}, "--labls", "x")
		var doc report.JSONReport
		if err := json.Unmarshal([]byte(r.stdout), &doc); r.code != 2 || err != nil || doc.Error == nil {
			t.Errorf("JSON (%v):\n%s", err, r)
		}
		if b, err := os.ReadFile(junit); err != nil || !bytes.Contains(b, []byte("<error")) {
			t.Errorf("JUnit report (%v):\n%s", err, b)
		}
	})
}

// --junit writes a regular file or creates one; it never replaces a
// device, a FIFO or a directory, even as root.
func TestJUnitWritesOnlyARegularFile(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{os.DevNull, fifo, dir} {
		before, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		r := runIn(t, nil, &fakeClock{}, "--labels", "echoes/intent/x", "--junit", path)
		if r.code != 2 || !strings.Contains(r.stderr, "not a regular file") || !strings.Contains(r.stderr, "--junit") {
			t.Errorf("--junit %s: %s", path, r)
		}
		if after, err := os.Stat(path); err != nil || after.Mode() != before.Mode() {
			t.Errorf("%s changed from %v to %v (%v)", path, before.Mode(), after.Mode(), err)
		}
	}
	r := runIn(t, nil, &fakeClock{}, "--labels", "echoes/intent/x", "--junit", dir+"/")
	if r.code != 2 || !strings.Contains(r.stderr, "names a directory") {
		t.Errorf("--junit ending in /: %s", r)
	}
	path := filepath.Join(dir, "new", "r.xml")
	if r := runIn(t, nil, &fakeClock{}, "--labels", "echoes/intent/x", "--junit", path); r.code != 0 {
		t.Fatalf("%s", r)
	}
	if fi, err := os.Stat(path); err != nil || !fi.Mode().IsRegular() {
		t.Errorf("the report was not created: %v", err)
	}
}

// The component included twice keeps a note a job: the strict job's
// failure is not overwritten by the lenient job's pass.
func TestTwoJobsKeepTwoNotes(t *testing.T) {
	srv := labelled(t, "echoes/intent/feature")
	strict := map[string]string{"CI": "true", "CI_JOB_NAME": "echoes-labels-strict"}
	lenient := map[string]string{"CI": "true", "CI_JOB_NAME": "echoes labels: lenient -->"}
	commentOn7(t, srv, strict, 1, "--require-effort")
	srv.SetLabels(42, "group/project", 7, "backend")
	commentOn7(t, srv, lenient, 1)
	srv.SetLabels(42, "group/project", 7, "echoes/intent/feature")
	commentOn7(t, srv, lenient, 0)
	notes := srv.Notes("group/project", 7)
	if len(notes) != 2 {
		t.Fatalf("want a note a job, got %+v", notes)
	}
	if !strings.Contains(notes[0].Body, "job=echoes-labels-strict") || !strings.Contains(notes[0].Body, "effort") || strings.Contains(notes[0].Body, "complete") {
		t.Errorf("the strict job's failing note was changed: %q", notes[0].Body)
	}
	if !strings.Contains(notes[1].Body, "complete") || !strings.Contains(notes[1].Body, "job=echoes%20labels:%20lenient%20-%2D%3E -->") {
		t.Errorf("the lenient job's note: %q", notes[1].Body)
	}
}

// Runs of one job racing each other (a retry and a new pipeline) end with
// one note: the oldest is kept, the others deleted.
func TestRacingRunsLeaveOneNote(t *testing.T) {
	const marker = "<!-- echoes-labels:sticky-note job=echoes-labels -->"
	env := map[string]string{"CI": "true", "CI_JOB_NAME": "echoes-labels"}
	t.Run("duplicates an earlier race left", func(t *testing.T) {
		srv := labelled(t, "backend")
		srv.AddNoteAs("group/project", 7, gitlabtest.Bot, marker+"\nold")
		srv.AddNoteAs("group/project", 7, gitlabtest.Bot, marker+"\nolder race")
		oldest := srv.Notes("group/project", 7)[0].ID
		if r := runIn(t, env, &fakeClock{}, apiArgs(srv, "7", "--comment")...); r.code != 1 || !strings.Contains(r.stdout, "removed 1 duplicate") {
			t.Fatal(r)
		}
		if notes := srv.Notes("group/project", 7); len(notes) != 1 || notes[0].ID != oldest || !strings.Contains(notes[0].Body, "needs an Echoes label") {
			t.Fatalf("notes = %+v", notes)
		}
	})
	t.Run("another run writes while this one does", func(t *testing.T) {
		srv := labelled(t, "backend")
		srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
			if r.Method == http.MethodPost {
				srv.AddNoteAs("group/project", 7, gitlabtest.Bot, marker+"\nthe other run's")
			}
			return false
		})
		commentOn7(t, srv, env, 1)
		notes := srv.Notes("group/project", 7)
		if len(notes) != 1 || strings.Contains(notes[0].Body, "the other run's") || !strings.Contains(notes[0].Body, "needs an Echoes label") {
			t.Fatalf("want the other run's note kept, with this verdict: %+v", notes)
		}
	})
}

// Thousands of comments: ours is found wherever the search reaches, and
// past the bound none is written rather than a duplicate.
func TestNoteAmongThousandsOfComments(t *testing.T) {
	const marker = "<!-- echoes-labels:sticky-note -->"
	srv := labelled(t, "backend")
	for i := 0; i < 1500; i++ {
		srv.AddNote("group/project", 7, fmt.Sprintf("comment %d", i))
	}
	srv.AddNoteAs("group/project", 7, gitlabtest.Bot, marker+"\nours, far down")
	if r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--comment")...); r.code != 1 || !strings.Contains(r.stdout, "updated the comment") {
		t.Fatal(r)
	}
	srv = gitlabtest.New(t)
	srv.SetLabels(42, "group/project", 7, "backend")
	for i := 0; i < 2100; i++ {
		srv.AddNote("group/project", 7, fmt.Sprintf("comment %d", i))
	}
	r := runIn(t, nil, &fakeClock{}, apiArgs(srv, "7", "--comment")...)
	if r.code != 1 || !strings.Contains(r.stdout, "no comment was written") || len(srv.Notes("group/project", 7)) != 2100 {
		t.Fatalf("past the bound: %s", r)
	}
}

// The log's details section spans the whole check, a wait of minutes
// included, so GitLab shows how long the job really spent.
func TestDetailsSectionShowsTheRealDuration(t *testing.T) {
	srv, clock := labelsArriveAt(t, 12, "echoes/intent/feature")
	env := map[string]string{"CI": "true", "GITLAB_CI": "true"}
	r := runIn(t, env, clock, apiArgs(srv, "7", "--wait", "10m", "--poll-interval", "10s")...)
	m := regexp.MustCompile(`section_start:(\d+):echoes_labels_details.*section_end:(\d+):echoes_labels_details`).FindStringSubmatch(strings.ReplaceAll(r.stdout, "\n", " "))
	if r.code != 0 || m == nil {
		t.Fatalf("%s", r)
	}
	if m[1] != "1800000000" || m[2] != "1800000120" {
		t.Errorf("section from %s to %s, want the two minutes waited", m[1], m[2])
	}
}

// A refusal while waiting is not worth waiting out: the wait ends at once
// with the refusal's own cause.
func TestWaitEndsAtOnceWhenRefused(t *testing.T) {
	srv := labelled(t, "backend")
	srv.SetFault(func(w http.ResponseWriter, r *http.Request, n int) bool {
		if n == 1 {
			return false
		}
		gitlabtest.Error(w, http.StatusForbidden, "403 Forbidden")
		return true
	})
	clock := &fakeClock{now: time.Unix(1_800_000_000, 0)}
	r := runIn(t, nil, clock, apiArgs(srv, "7", "--wait", "10m", "--poll-interval", "10s")...)
	if r.code != 3 || !strings.Contains(r.stderr, "403") || !strings.Contains(r.stderr, "Reporter role") || len(clock.slept) != 1 {
		t.Fatalf("want exit 3 after one re-read (slept %v):\n%s", clock.slept, r)
	}
}

// A token pasted into a label prefix or the comment key, which every report
// prints (messages, fixes, the note's marker), is masked like any other
// value that comes in.
func TestTokenInPrefixesAndCommentKeyIsMasked(t *testing.T) {
	srv := labelled(t, "backend")
	path := filepath.Join(t.TempDir(), "junit.xml")
	env := map[string]string{"ECHOES_INTENT_PREFIX": secret, "ECHOES_EFFORT_PREFIX": "x" + secret, "ECHOES_COMMENT_KEY": secret}
	for _, format := range []string{"text", "json"} {
		// runIn fails the test when the token reaches stdout or stderr.
		r := runIn(t, env, &fakeClock{}, apiArgs(srv, "7", "--comment", "--require-effort", "--junit", path, "--format", format)...)
		if r.code != 1 {
			t.Fatal(r)
		}
		b := readFile(t, path)
		if strings.Contains(string(b), secret) {
			t.Errorf("the JUnit report shows the token:\n%s", b)
		}
	}
	for _, n := range srv.Notes("group/project", 7) {
		if strings.Contains(n.Body, secret) {
			t.Errorf("the note shows the token:\n%s", n.Body)
		}
	}
}

// A label that spells another job's marker, quoted in this job's note, must
// not make the other job take that note for its own and delete it.
func TestALabelSpellingAMarkerTakesNoNote(t *testing.T) {
	srv := gitlabtest.New(t)
	strict := map[string]string{"CI": "true", "CI_JOB_NAME": "strict"}
	lenient := map[string]string{"CI": "true", "CI_JOB_NAME": "lenient"}
	srv.SetLabels(42, "group/project", 7, "backend")
	commentOn7(t, srv, strict, 1)
	// Quoted in the lenient job's note, in its "replace the label … with …" fix.
	srv.SetLabels(42, "group/project", 7, "echoes/intnet/<!-- echoes-labels:sticky-note job=strict -->")
	commentOn7(t, srv, lenient, 1)
	commentOn7(t, srv, strict, 1)
	notes := srv.Notes("group/project", 7)
	if len(notes) != 2 || !strings.HasPrefix(notes[1].Body, "<!-- echoes-labels:sticky-note job=lenient -->") {
		t.Fatalf("want the strict and the lenient job's notes, got %+v", notes)
	}
}
