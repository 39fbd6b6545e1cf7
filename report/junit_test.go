package report

import (
	"bytes"
	"strings"
	"testing"

	"gitlab.com/echoeshq/echoes-labels/check"
)

func evaluated(src Source, required bool, labels ...string) Result {
	return Result{Labels: labels, Source: src, MergeRequest: MergeRequest{Project: "group/project", IID: 7},
		Verdict: check.Evaluate(labels, check.Options{RequireEffort: required})}
}

// gitlabSees writes r as JUnit and reads it back as GitLab does.
func gitlabSees(t *testing.T, write func(*bytes.Buffer) error) []gitlabCase {
	t.Helper()
	var buf bytes.Buffer
	if err := write(&buf); err != nil {
		t.Fatal(err)
	}
	cases, err := parseLikeGitLab(buf.Bytes())
	if err != nil {
		t.Fatalf("GitLab would not read it: %v\n%s", err, buf.String())
	}
	for _, c := range cases {
		if _, isText := c.SystemOutput.(string); c.SystemOutput != nil && !isText {
			t.Fatalf("GitLab shows case %q as %v, not text:\n%s", c.Name, c.SystemOutput, buf.String())
		}
	}
	return cases
}

func TestJUnitWarningsShowInGitLab(t *testing.T) {
	for _, tt := range []struct {
		name   string
		labels []string
		want   []string // in what GitLab shows for the effort case
	}{
		{"bad size", []string{"echoes/intent/x", "echoes/effort/XXL"}, []string{`"echoes/effort/XXL" is not a t-shirt size`, "fix: replace it with one of", "weighing-efforts"}},
		{"doubled", []string{"echoes/intent/x", "echoes/effort/S", "echoes/effort/M"}, []string{"2 effort labels (echoes/effort/S, echoes/effort/M)", "fix: remove all but one", "weighing-efforts"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			r := evaluated(FromAPI, false, tt.labels...)
			cases := gitlabSees(t, func(b *bytes.Buffer) error { return JUnit(b, r) })
			if len(cases) != 2 || cases[0].Status != "success" {
				t.Fatalf("want the intent case passed and an effort case: %+v", cases)
			}
			c := cases[1]
			if c.Status != "skipped" || !strings.Contains(c.Name, "(warning: ") {
				t.Fatalf("a warning must neither fail nor hide: %+v", c)
			}
			shown := c.SystemOutput.(string)
			if !strings.HasPrefix(shown, "warning only, the job passes: ") {
				t.Errorf("shown = %q", shown)
			}
			for _, w := range tt.want {
				if !strings.Contains(shown, w) {
					t.Errorf("GitLab shows %q, which lacks %q", shown, w)
				}
			}
		})
	}
}

func TestJUnitFailuresShowInGitLab(t *testing.T) {
	r := evaluated(FromVariable, true, "echoes/intnet/feature", "backend")
	cases := gitlabSees(t, func(b *bytes.Buffer) error { return JUnit(b, r) })
	if len(cases) != 2 || cases[0].Status != "failed" || cases[1].Status != "failed" {
		t.Fatalf("want two failed cases: %+v", cases)
	}
	for _, w := range []string{"no echoes/intent… or echoes/initiative… label", "fix: replace the label echoes/intnet/feature with echoes/intent/feature on this merge request",
		"details: https://docs.echoeshq.com/developer-guide", "then retry this job"} {
		if !strings.Contains(cases[0].SystemOutput.(string), w) {
			t.Errorf("GitLab shows %q, which lacks %q", cases[0].SystemOutput, w)
		}
	}
}

func TestJUnitSkippedAndErrorShowInGitLab(t *testing.T) {
	reason := "no merge request: this is a branch pipeline"
	cases := gitlabSees(t, func(b *bytes.Buffer) error { return JUnitSkipped(b, reason) })
	if len(cases) != 1 || cases[0].Status != "skipped" || cases[0].SystemOutput != reason {
		t.Fatalf("the skip reason must be readable: %+v", cases)
	}
	cases = gitlabSees(t, func(b *bytes.Buffer) error {
		return JUnitError(b, MergeRequest{Project: "g/p", IID: 7}, "GitLab answered 401", "check the token")
	})
	if len(cases) != 1 || cases[0].Status != "error" || cases[0].SystemOutput != "GitLab answered 401\nfix: check the token" {
		t.Fatalf("error case = %+v", cases)
	}
}

func TestJUnitPassShowsNames(t *testing.T) {
	r := evaluated(FromAPI, true, "echoes/intent/x", "echoes/effort/M")
	cases := gitlabSees(t, func(b *bytes.Buffer) error { return JUnit(b, r) })
	if len(cases) != 2 || cases[0].Status != "success" || cases[1].Status != "success" ||
		cases[0].Name != "an echoes/intent or echoes/initiative label" || cases[1].Name != "one echoes/effort label sized XS, S, M, L or XL" {
		t.Fatalf("passing report = %+v", cases)
	}
}
