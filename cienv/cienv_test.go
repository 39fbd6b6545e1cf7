package cienv

import (
	"reflect"
	"strings"
	"testing"
)

func TestSplitLabels(t *testing.T) {
	for in, want := range map[string][]string{
		"":                                   nil,
		" , ,":                               nil,
		"echoes/intent/feature":              {"echoes/intent/feature"},
		"a, b ,c":                            {"a", "b", "c"},
		"echoes/intent: bug fix,workflow::x": {"echoes/intent: bug fix", "workflow::x"},
	} {
		if got := SplitLabels(in); !reflect.DeepEqual(got, want) {
			t.Errorf("SplitLabels(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestOpenMergeRequests(t *testing.T) {
	got := OpenMergeRequests("gitlab-org/gitlab!12, fork/gitlab!3,bad,!4,x!y,g/p!-1,g/p!0, a b!5,sub/group/proj!99999")
	want := []MergeRequestRef{{"gitlab-org/gitlab", 12}, {"fork/gitlab", 3}, {"sub/group/proj", 99999}}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("got %v, want %v", got, want)
	}
	if r, ok := InProject(got, "Fork/GitLab"); !ok || r.IID != 3 {
		t.Errorf("InProject = %v %v", r, ok)
	}
	if _, ok := InProject(got, "other/project"); ok {
		t.Error("found a merge request of another project")
	}
}

func FuzzOpenMergeRequests(f *testing.F) {
	for _, s := range []string{"g/p!1", "a!1,b!2", "!!!", "g/p!99999999999999999999", strings.Repeat("g/p!1,", 100)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, r := range OpenMergeRequests(s) {
			if r.IID <= 0 || r.Project == "" || strings.ContainsAny(r.Project, "!, \n") {
				t.Fatalf("OpenMergeRequests(%q) gave %+v", s, r)
			}
		}
	})
}

func FuzzSplitLabels(f *testing.F) {
	for _, s := range []string{"a,b", " , ", "echoes/intent/x,\x1b[31m", strings.Repeat("x,", 5000)} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for _, l := range SplitLabels(s) {
			if l == "" || strings.Contains(l, ",") || l != strings.TrimSpace(l) {
				t.Fatalf("SplitLabels(%q) gave %q", s, l)
			}
		}
	})
}

func TestEmptyMeansUnset(t *testing.T) {
	env := Map(map[string]string{CI: "", GitLabCI: " ", NoColor: "", JobToken: " tok ", ProjectPath: "g/p"})
	job := env.Job()
	if job.InCI || job.InGitLab || job.NoColor {
		t.Errorf("empty CI, GITLAB_CI or NO_COLOR counted as set: %+v", job)
	}
	if job.JobToken != "tok" || job.ProjectPath != "g/p" {
		t.Errorf("job = %+v", job)
	}
	if !env.Empty(CI) || env.Empty(ProjectPath) || env.Empty("UNDEFINED") {
		t.Error("Empty should be true only for a defined variable without a value")
	}
	if got := (Env{}).Get(CI); got != "" {
		t.Errorf("zero Env read %q", got)
	}
}
