package rerun

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// The label job decision, snapshot by snapshot: what it needs read next,
// or what it does and why.
func TestDecideJob(t *testing.T) {
	pol := jobPolicy{jobName: "echoes-labels", docsURL: "https://docs", rereadJobs: 200 * time.Millisecond}
	t0 := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	head := &gitlabapi.Pipeline{ID: 9, ProjectID: 42, Source: "merge_request_event"}
	job := func(status string, started time.Time) *gitlabapi.Job {
		j := &gitlabapi.Job{ID: 5, Name: "echoes-labels", Status: status, StartedAt: started}
		if status == "failed" {
			j.FailureReason = "script_failure"
		}
		return j
	}
	failedBy := func(reason string) *gitlabapi.Job {
		j := job("failed", t0.Add(-time.Minute))
		j.FailureReason = reason
		return j
	}
	// read is a snapshot whose jobs were read: the label job in pipeline 9.
	read := func(pass bool, j *gitlabapi.Job) jobSnapshot {
		return jobSnapshot{project: 42, pass: pass, head: head, jobsRead: true, job: j, jobProject: 42, pipeline: 9, jobsReadAt: t0, now: t0}
	}
	// changed is read with the label events read: the newest at at.
	changed := func(pass bool, j *gitlabapi.Job, at time.Time) jobSnapshot {
		s := read(pass, j)
		s.eventsRead, s.changed = true, at
		return s
	}
	late := changed(true, job("failed", t0.Add(-time.Minute)), t0)
	late.now = t0.Add(time.Second) // the jobs were read a second ago
	lateReread := late
	lateReread.reread, lateReread.newestNow = true, job("failed", t0.Add(-time.Minute))
	lateRetried := late
	lateRetried.reread, lateRetried.newestNow = true, &gitlabapi.Job{ID: 6, Name: "echoes-labels", Status: "pending"}
	// warn is a label job that ended in the check's warning (exit 4,
	// allowed to fail), labels failing, the merge request a draft or not,
	// last marked ready at ready (zero: never), the notes read or not.
	warnJob := func() *gitlabapi.Job {
		j := job("failed", t0.Add(-time.Minute))
		j.AllowFailure = true
		return j
	}
	warn := func(draft, readyRead bool, ready time.Time) jobSnapshot {
		s := read(false, warnJob())
		s.draft, s.readyRead, s.readyAt = draft, readyRead, ready
		return s
	}
	// sourced is snap with a head pipeline (9, or snap's, copied) of that source.
	sourced := func(source string, snap jobSnapshot) jobSnapshot {
		h := *head
		if snap.head != nil {
			h = *snap.head
		}
		h.Source = source
		snap.head = &h
		return snap
	}
	forkHead := &gitlabapi.Pipeline{ID: 9, ProjectID: 99, Source: "merge_request_event"}
	noTime := read(true, &gitlabapi.Job{ID: 5, Status: "failed", FailureReason: "script_failure"})
	createdOnly := read(true, &gitlabapi.Job{ID: 5, Status: "failed", FailureReason: "script_failure", CreatedAt: t0.Add(-time.Minute)})

	for _, c := range []struct {
		name  string
		pol   func(*jobPolicy)
		snap  jobSnapshot
		need  need
		retry bool
		why   string // in the detail
	}{
		{name: "no head pipeline", snap: jobSnapshot{project: 42, pass: true}, why: "no head pipeline"},
		{name: "fork pipeline in the fork", snap: jobSnapshot{project: 42, head: forkHead}, why: "runs in project 99; left alone"},
		{name: "fork pipeline here", snap: jobSnapshot{project: 42, head: head, source: 99}, why: "source project 99"},
		{name: "fork with --retry-forks: jobs read in the fork", pol: func(p *jobPolicy) { p.retryForks = true },
			snap: jobSnapshot{project: 42, head: forkHead}, need: needJobs},
		{name: "jobs not read", snap: jobSnapshot{project: 42, pass: true, head: head}, need: needJobs},
		{name: "no label job", snap: read(true, nil), why: `no job "echoes-labels" in head pipeline 9 (child and downstream pipelines are never looked in)`},
		// Only a merge request pipeline's job is the component's: a branch
		// pipeline GitLab made the head pipeline (a push, even to a
		// protected branch) is left alone before any job is read, and so is
		// a head pipeline whose source GitLab does not say.
		{name: "push head pipeline: left alone", snap: sourced("push", jobSnapshot{project: 42, pass: true}),
			why: "head pipeline 9 is a push pipeline, not a merge request pipeline: the component adds the label job to merge request pipelines only"},
		{name: "push head pipeline, its job read and failed after a label change: still left alone", snap: sourced("push", changed(true, job("failed", t0.Add(-time.Minute)), t0)),
			why: "head pipeline 9 is a push pipeline, not a merge request pipeline"},
		{name: "push head pipeline of a fork with --retry-forks: left alone", pol: func(p *jobPolicy) { p.retryForks = true },
			snap: sourced("push", jobSnapshot{project: 42, head: forkHead}), why: "head pipeline 9 is a push pipeline"},
		{name: "scheduled head pipeline: left alone", snap: sourced("schedule", jobSnapshot{project: 42, pass: true}), why: "head pipeline 9 is a schedule pipeline, not a merge request pipeline"},
		{name: "child head pipeline: left alone", snap: sourced("parent_pipeline", jobSnapshot{project: 42, pass: true}), why: "head pipeline 9 is a parent_pipeline pipeline, not a merge request pipeline"},
		{name: "head pipeline of no source: left alone", snap: sourced("", jobSnapshot{project: 42, pass: true}),
			why: "head pipeline 9 has no source in GitLab's answer, not a merge request pipeline"},
		{name: "running", snap: read(true, job("running", t0)), why: "job 5 is running"},
		{name: "passed, labels pass", snap: read(true, job("success", t0)), why: "job 5 is success"},
		{name: "failed, labels fail", snap: read(false, job("failed", t0)), why: "labels fail the rules (https://docs): the label job is red for the right reason"},
		{name: "no time it read the labels", snap: noTime, why: "gives no time it read the labels"},
		{name: "created time when it never started: events next", snap: createdOnly, need: needLabelEvents},
		{name: "failed, labels pass: events next", snap: read(true, job("failed", t0.Add(-time.Minute))), need: needLabelEvents},
		{name: "no label event", snap: changed(true, job("failed", t0), time.Time{}), why: "have not changed since it read them"},
		{name: "labels changed before it read them", snap: changed(true, job("failed", t0), t0.Add(-time.Second)), why: "have not changed"},
		{name: "labels changed as it read them", snap: changed(true, job("failed", t0), t0), why: "have not changed"},
		{name: "failed, labels changed after: retry", snap: changed(true, job("failed", t0.Add(-time.Minute)), t0), retry: true,
			why: "job 5 (failed) of pipeline 9 retried: the labels changed after it read them"},
		{name: "passed, label removed after: retry", snap: changed(false, job("success", t0.Add(-time.Minute)), t0), retry: true,
			why: "job 5 (success) of pipeline 9 retried"},
		{name: "failed on a protected environment: left alone", snap: changed(true, failedBy("protected_environment_failure"), t0),
			why: `job 5 failed with failure_reason "protected_environment_failure", not by its script (script_failure): not the labels' verdict; left alone`},
		{name: "failed by the runner, labels fail: left alone", snap: read(false, failedBy("runner_system_failure")),
			why: `failure_reason "runner_system_failure", not by its script`},
		{name: "failed with no failure_reason: left alone", snap: changed(true, failedBy(""), t0), why: "failed with no failure_reason, not by its script"},
		{name: "timed out: left alone", snap: changed(true, failedBy("job_execution_timeout"), t0), why: `"job_execution_timeout"`},
		{name: "head pipeline of an older commit: left alone", snap: func() jobSnapshot {
			s := read(true, nil)
			s.sha = "bbbbbbbbbbbb"
			s.head = &gitlabapi.Pipeline{ID: 9, ProjectID: 42, SHA: "aaaaaaaaaaaa", Ref: "refs/merge-requests/3/head", Source: "merge_request_event"}
			return s
		}(),
			why: "head pipeline 9 is for commit aaaaaaaa, not the merge request's head commit bbbbbbbb: GitLab has not caught up with the push"},
		{name: "merged results pipeline: its sha is the merge commit", snap: func() jobSnapshot {
			s := jobSnapshot{project: 42, pass: true, sha: "bbbb"}
			s.head = &gitlabapi.Pipeline{ID: 9, ProjectID: 42, SHA: "cccc", Ref: "refs/merge-requests/3/merge", Source: "merge_request_event"}
			return s
		}(),
			need: needJobs},
		{name: "archived: a new pipeline is needed", snap: func() jobSnapshot {
			j := job("failed", t0.Add(-time.Minute))
			j.Archived = true
			return changed(true, j, t0)
		}(),
			why: "job 5 is archived (GitLab no longer retries the jobs of a pipeline this old): a new pipeline is needed"},
		{name: "archived, but its verdict is the labels'", snap: func() jobSnapshot { j := job("success", t0); j.Archived = true; return read(true, j) }(),
			why: "job 5 is success"},
		{name: "warned on a draft: left a warning", snap: warn(true, false, time.Time{}),
			why: "job 5 warned (labels missing, not enforced) on a draft: left as a warning until the merge request is marked ready"},
		{name: "warned, not a draft now: when it was marked ready next", snap: warn(false, false, time.Time{}), need: needReady},
		{name: "warned, marked ready after it ran: retried once", snap: warn(false, true, t0), retry: true,
			why: "job 5 (failed) of pipeline 9 retried: it warned on a draft, marked ready since: it now fails or passes for real"},
		{name: "warned, never marked ready (enforce false): not retried", snap: warn(false, true, time.Time{}),
			why: "the merge request was not marked ready since it ran: not retried"},
		{name: "warned after it was marked ready (the retry's own warning): not retried again", snap: warn(false, true, t0.Add(-2*time.Minute)),
			why: "not marked ready since it ran"},
		{name: "failed, not allowed to: red for the right reason, draft or not", snap: func() jobSnapshot { s := read(false, job("failed", t0)); s.draft = true; return s }(),
			why: "the label job is red for the right reason"},
		{name: "warned, labels pass now: the label events decide", snap: func() jobSnapshot { s := read(true, warnJob()); return s }(), need: needLabelEvents},
		{name: "passed on a draft, label removed after: retried", snap: func() jobSnapshot {
			s := changed(false, job("success", t0.Add(-time.Minute)), t0)
			s.draft = true
			return s
		}(),
			retry: true, why: "the labels changed after it read them"},
		{name: "jobs read long ago: read again", snap: late, need: needJobsAgain},
		{name: "read again, unchanged: retry", snap: lateReread, retry: true, why: "retried: the labels changed"},
		{name: "read again, retried meanwhile", snap: lateRetried, why: "job 5 was already retried"},
	} {
		p := pol
		if c.pol != nil {
			c.pol(&p)
		}
		d := decideJob(p, c.snap)
		if d.need != c.need || d.retry != c.retry || !strings.Contains(d.detail, c.why) {
			t.Errorf("%s: need %d, retry %v, %q; want need %d, retry %v, a detail with %q", c.name, d.need, d.retry, d.detail, c.need, c.retry, c.why)
		}
		if d.retry && (d.job == nil || d.jobProject != 42) {
			t.Errorf("%s: retry of %v in project %d, want job 5 in 42", c.name, d.job, d.jobProject)
		}
	}
}

// The status check decision, snapshot by snapshot.
func TestDecideChecks(t *testing.T) {
	yes, no := true, false
	ours := func(status string) gitlabapi.StatusCheck {
		return gitlabapi.StatusCheck{ID: 1, Name: "echoes-labels", Status: status}
	}
	other := gitlabapi.StatusCheck{ID: 2, Name: "security", Status: "pending"}
	for _, c := range []struct {
		name   string
		snap   checksSnapshot
		need   need
		answer string // ids=statuses answered, as "1:pending"
		want   string
		cache  *bool
		why    string
	}{
		{name: "project unknown: its list next", snap: checksSnapshot{}, need: needProjectChecks},
		{name: "project has none", snap: checksSnapshot{projectHas: &no}},
		{name: "project has one: the merge request's list next", snap: checksSnapshot{projectHas: &yes}, need: needMRChecks},
		{name: "project list refused: the merge request's next", snap: checksSnapshot{projectRefused: true}, need: needMRChecks},
		{name: "both refused: none, remembered", snap: checksSnapshot{projectRefused: true, mrRead: true, mrRefused: true}, cache: &no},
		{name: "refused project, ours on the merge request: answered, remembered",
			snap:   checksSnapshot{pass: true, projectRefused: true, mrRead: true, mrChecks: []gitlabapi.StatusCheck{ours("pending"), other}},
			answer: "1:pending", want: "passed", cache: &yes},
		{name: "refused project, none of ours here: not remembered for the project",
			snap: checksSnapshot{projectRefused: true, mrRead: true, mrChecks: []gitlabapi.StatusCheck{other}}},
		{name: "pending, labels pass", snap: checksSnapshot{pass: true, projectHas: &yes, mrRead: true, mrChecks: []gitlabapi.StatusCheck{ours("pending")}},
			answer: "1:pending", want: "passed"},
		{name: "passed, labels fail", snap: checksSnapshot{projectHas: &yes, mrRead: true, mrChecks: []gitlabapi.StatusCheck{ours("passed")}},
			answer: "1:passed", want: "failed"},
		{name: "already the verdict", snap: checksSnapshot{pass: true, projectHas: &yes, mrRead: true, mrChecks: []gitlabapi.StatusCheck{ours("passed"), other}},
			want: "passed"},
		{name: "request: the merge request's list whatever the project", snap: checksSnapshot{request: true, projectHas: &no}, need: needMRChecks},
		{name: "request, none of ours", snap: checksSnapshot{request: true, mrRead: true, mrChecks: []gitlabapi.StatusCheck{other}},
			want: "failed", why: `no status check named "echoes-labels" on this merge request`},
	} {
		c.snap.name = "echoes-labels"
		d := decideChecks(c.snap)
		var answered []string
		for _, a := range d.answer {
			answered = append(answered, fmt.Sprintf("%d:%s", a.id, a.status))
		}
		if d.need != c.need || strings.Join(answered, " ") != c.answer || (d.need == needNothing && d.want != c.want) ||
			fmt.Sprint(deref(d.cache)) != fmt.Sprint(deref(c.cache)) || d.detail != c.why {
			t.Errorf("%s: need %d, answer %q %q, cache %v, %q; want need %d, answer %q %q, cache %v, %q", c.name,
				d.need, answered, d.want, deref(d.cache), d.detail, c.need, c.answer, c.want, deref(c.cache), c.why)
		}
	}
}

func deref(b *bool) any {
	if b == nil {
		return nil
	}
	return *b
}
