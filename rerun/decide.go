package rerun

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// The decisions are pure functions of a snapshot of GitLab's state: the
// worker reads GitLab into the snapshot, asks the decision, reads what it
// says it needs next (need), and at the end performs the writes it names.
// Nothing here calls GitLab, reads a clock or keeps state.

// need is what a decision needs read before it can decide.
type need int

const (
	needNothing       need = iota
	needJobs               // the label job of the head pipeline
	needLabelEvents        // the merge request's label events
	needJobsAgain          // the label job's newest attempt again, just before a retry
	needProjectChecks      // the project's status checks
	needMRChecks           // the merge request's status checks
	needReady              // when the merge request was last marked ready
)

// jobPolicy is what the label job decision is told by the configuration.
type jobPolicy struct {
	jobName    string
	retryForks bool
	docsURL    string
	rereadJobs time.Duration // jobs read longer ago than this are read again before a retry
}

// jobSnapshot is GitLab's state of one merge request's label job, as far
// as the worker read it.
type jobSnapshot struct {
	project int64  // the merge request's (target) project
	pass    bool   // its labels pass the rules
	sha     string // its head commit
	head    *gitlabapi.Pipeline
	source  int64 // the merge request's source project, 0 when unknown

	jobsRead   bool
	job        *gitlabapi.Job // the newest attempt of the label job; nil: none
	jobProject int64          // the project and pipeline it is in: the head pipeline's
	pipeline   int64
	jobsReadAt time.Time

	eventsRead bool
	changed    time.Time // the newest label event; zero: none

	draft     bool      // the merge request is a draft now
	readyRead bool      // readyAt was read
	readyAt   time.Time // when it was last marked ready; zero: never (in its newest notes)

	now       time.Time // when the decision is asked (for the re-read)
	reread    bool
	newestNow *gitlabapi.Job // the re-read's newest attempt; nil: none
}

// jobDecision is what to do with the label job: read more (need), retry
// it (retry), or nothing, and why (detail).
type jobDecision struct {
	need       need
	project    int64 // needJobs: the head pipeline's project and id
	pipeline   int64
	retry      bool // retry job in jobProject (and pipeline)
	job        *gitlabapi.Job
	jobProject int64
	detail     string
}

// decideJob decides whether to retry the label job of the merge request's
// head pipeline, only when that is a merge request pipeline (source
// merge_request_event), the only pipelines the component adds the job to
// (a branch pipeline's job of that name, or a child pipeline's, is not
// ours; the head pipeline's bridges are never followed): when its result
// is not the labels' verdict, both ways (failed while the labels pass, success while
// they fail), and only when the labels changed after that attempt read
// them (GitLab's resource label events against the job's start), so an
// update that changes no label never retries, and a job that fails for
// another reason is retried at most once per label change, by any number
// of replicas and sweeps. A failed job is ours to retry only when its
// script failed (failure_reason script_failure): a job named like ours
// that failed for another reason (a protected environment, the runner)
// is left alone.
func decideJob(p jobPolicy, s jobSnapshot) jobDecision {
	head := s.head
	if head == nil {
		return jobDecision{detail: "no head pipeline"}
	}
	if head.Source != mergeRequestEvent {
		// GitLab's head_pipeline may be a branch pipeline (a push, even to
		// a protected branch, a schedule, the API): a job of that name there
		// is not the component's, and a retry would run it as the bot.
		return jobDecision{detail: fmt.Sprintf("head pipeline %d %s, not a merge request pipeline: the component adds the label job to merge request pipelines only; left alone",
			head.ID, pipelineSource(head.Source))}
	}
	project := head.ProjectID
	if project <= 0 {
		project = s.project
	}
	if !p.retryForks {
		// A fork's merge request, wherever its pipeline ran: in the fork,
		// or in this project (run by a member for the fork's author).
		switch {
		case project != s.project:
			return jobDecision{detail: fmt.Sprintf("a fork's merge request: its head pipeline %d runs in project %d; left alone (--retry-forks acts on it)", head.ID, project)}
		case s.source > 0 && s.source != s.project:
			return jobDecision{detail: fmt.Sprintf("a fork's merge request (source project %d): its head pipeline %d runs in this project; left alone (--retry-forks acts on it)", s.source, head.ID)}
		}
	}
	if head.SHA != s.sha && !mergedResults(head.Ref) {
		// GitLab sets head_pipeline when the new commit's pipeline is
		// made: until then it names the previous commit's.
		return jobDecision{detail: fmt.Sprintf("head pipeline %d is for commit %s, not the merge request's head commit %s: GitLab has not caught up with the push; left alone (the new pipeline's job runs afresh)",
			head.ID, Clip(shortSHA(head.SHA)), Clip(shortSHA(s.sha)))}
	}
	if !s.jobsRead {
		return jobDecision{need: needJobs, project: project, pipeline: head.ID}
	}
	job := s.job
	switch {
	case job == nil:
		return jobDecision{detail: fmt.Sprintf("no job %q in head pipeline %d (child and downstream pipelines are never looked in)", p.jobName, head.ID)}
	case !finished(job.Status):
		return jobDecision{detail: fmt.Sprintf("job %d is %s", job.ID, Clip(job.Status))}
	case job.Status == "failed" && job.FailureReason != scriptFailure:
		// The check's verdict fails its script; any other failure (a
		// protected environment, the runner, a timeout) is not the labels',
		// and a retry would run the job as the bot.
		reason := "no failure_reason"
		if job.FailureReason != "" {
			reason = "failure_reason " + strconv.Quote(Clip(job.FailureReason))
		}
		return jobDecision{detail: fmt.Sprintf("job %d failed with %s, not by its script (%s): not the labels' verdict; left alone", job.ID, reason, scriptFailure)}
	case (job.Status == "success") == s.pass && (s.pass || !warned(job)): // its verdict is the labels'
		if !s.pass {
			return jobDecision{detail: fmt.Sprintf("labels fail the rules (%s): the label job is red for the right reason", p.docsURL)}
		}
		return jobDecision{detail: fmt.Sprintf("job %d is %s", job.ID, Clip(job.Status))}
	case !s.pass && warned(job) && s.draft:
		return jobDecision{detail: fmt.Sprintf("job %d warned (labels missing, not enforced) on a draft: left as a warning until the merge request is marked ready (%s)", job.ID, p.docsURL)}
	}
	// Labels failing and a warning: the check's warning for a draft
	// (--drafts warn) or for --enforce=false. A draft marked ready since
	// the job ran runs no pipeline in GitLab: its job is retried, once,
	// and then fails (or passes) for real; any other warning stands.
	warning := !s.pass && warned(job)
	if job.Archived {
		return jobDecision{detail: fmt.Sprintf("job %d is archived (GitLab no longer retries the jobs of a pipeline this old): a new pipeline is needed (push, or run one for the merge request)", job.ID)}
	}
	read := job.StartedAt
	if read.IsZero() {
		read = job.CreatedAt
	}
	if read.IsZero() {
		return jobDecision{detail: fmt.Sprintf("job %d is %s, but GitLab gives no time it read the labels: not retried", job.ID, job.Status)}
	}
	why := "the labels changed after it read them"
	switch {
	case warning && !s.readyRead:
		return jobDecision{need: needReady}
	case warning && (s.readyAt.IsZero() || !s.readyAt.After(read)):
		return jobDecision{detail: fmt.Sprintf("job %d warned (labels missing, not enforced); the merge request was not marked ready since it ran: not retried (%s)", job.ID, p.docsURL)}
	case warning:
		why = "it warned on a draft, marked ready since: it now fails or passes for real"
	case !s.eventsRead:
		return jobDecision{need: needLabelEvents}
	case s.changed.IsZero() || !s.changed.After(read):
		return jobDecision{detail: fmt.Sprintf("job %d is %s; the labels have not changed since it read them: not retried", job.ID, job.Status)}
	}
	if s.now.Sub(s.jobsReadAt) > p.rereadJobs {
		// Another replica may have retried it since: GitLab checks that a
		// job is retryable without a lock, so two POSTs can both succeed.
		// Read again just before, to narrow that window to a moment.
		if !s.reread {
			return jobDecision{need: needJobsAgain, project: s.jobProject, pipeline: s.pipeline}
		}
		if now := s.newestNow; now == nil || now.ID != job.ID || now.Status != job.Status {
			return jobDecision{detail: fmt.Sprintf("job %d was already retried", job.ID)}
		}
	}
	return jobDecision{retry: true, job: job, jobProject: s.jobProject, pipeline: s.pipeline,
		detail: fmt.Sprintf("job %d (%s) of pipeline %d retried: %s", job.ID, job.Status, s.pipeline, why)}
}

// warned is true of a label job that ended in the check's warning (exit
// 4, which the component allows to fail): GitLab says failed, by its
// script, allowed to fail.
func warned(job *gitlabapi.Job) bool {
	return job.Status == "failed" && job.FailureReason == scriptFailure && job.AllowFailure
}

// mergedResults is true of the ref of a merged results (or merge train)
// pipeline, whose sha is the merge commit GitLab made, not the merge
// request's head commit (GitLab finds it as the head pipeline by its
// source_sha, which its API does not show).
func mergedResults(ref string) bool {
	return strings.HasPrefix(ref, "refs/merge-requests/") && (strings.HasSuffix(ref, "/merge") || strings.HasSuffix(ref, "/train"))
}

// mergeRequestEvent is GitLab's source of a merge request pipeline
// (merged results and merge train pipelines included).
const mergeRequestEvent = "merge_request_event"

// pipelineSource says what a pipeline's source makes it: "is a push
// pipeline", or that GitLab did not say.
func pipelineSource(source string) string {
	if source == "" {
		return "has no source in GitLab's answer"
	}
	return "is a " + Clip(source) + " pipeline"
}

// shortSHA is a commit id as GitLab shows it short; "(none)" when empty.
func shortSHA(sha string) string {
	switch {
	case sha == "":
		return "(none)"
	case len(sha) > 8:
		return sha[:8]
	}
	return sha
}

// scriptFailure is GitLab's failure_reason of a job whose script exited
// non-zero: how the check fails.
const scriptFailure = "script_failure"

// finished are the job statuses worth a look: a failed label job may pass
// now, a successful one may have read labels since removed.
func finished(status string) bool { return status == "failed" || status == "success" }

// Finished is finished for the intake: a job or pipeline event whose label
// job has not finished names nothing to look at yet.
func Finished(status string) bool { return finished(status) }

// checksSnapshot is GitLab's state of one merge request's status checks,
// as far as the worker read it.
type checksSnapshot struct {
	name    string // --status-check-name: the checks that are ours
	pass    bool   // the labels pass the rules
	request bool   // a status check request asked about this merge request

	// projectHas: the project has a status check of ours, as the cache
	// or the project's list says; nil while unknown.
	projectHas     *bool
	projectRefused bool // GitLab will not list the project's checks (gitlabapi.Refused)

	mrRead    bool
	mrRefused bool // GitLab will not list the merge request's either
	mrChecks  []gitlabapi.StatusCheck
}

// checksDecision is what to do with the status checks: read more (need),
// answer some (answer: check id → status), remember for the project
// whether it has a check of ours (cache: nil, nothing to remember), and
// what to say.
type checksDecision struct {
	need   need
	answer []statusAnswer
	want   string
	cache  *bool
	detail string
}

type statusAnswer struct {
	id     int64
	status string // the check's status now
}

// decideChecks decides which of the merge request's status checks to
// answer: ours (by name) whose status for its head commit is not the
// verdict (pending, failed while the labels pass, passed while they
// fail). It looks only when the project has a check of ours, or when a
// status check request asked. A GitLab that will not list the project's
// checks (no licence, a token with no Maintainer role) is asked the merge
// request's list instead: a check of ours there is one in the project;
// none there says nothing of the others (a check may cover other target
// branches), so it is not believed for the project, unless GitLab lists
// no status checks at all.
func decideChecks(s checksSnapshot) checksDecision {
	var d checksDecision
	if !s.request {
		has := s.projectHas
		if has == nil {
			switch {
			case !s.projectRefused:
				return checksDecision{need: needProjectChecks}
			case !s.mrRead:
				return checksDecision{need: needMRChecks}
			}
			h := !s.mrRefused && anyOurs(s.mrChecks, s.name)
			has = &h
			if h || s.mrRefused {
				d.cache = has
			}
		}
		if !*has {
			return d
		}
	}
	if !s.mrRead {
		return checksDecision{need: needMRChecks, cache: d.cache}
	}
	d.want = "failed"
	if s.pass {
		d.want = "passed"
	}
	ours := 0
	for _, c := range s.mrChecks {
		if c.Name != s.name {
			continue // another service's check: never ours to answer
		}
		ours++
		if c.Status != d.want {
			d.answer = append(d.answer, statusAnswer{id: c.ID, status: c.Status})
		}
	}
	if ours == 0 && s.request {
		d.detail = fmt.Sprintf("no status check named %q on this merge request", s.name)
	}
	return d
}

func anyOurs(checks []gitlabapi.StatusCheck, name string) bool {
	for _, c := range checks {
		if c.Name == name {
			return true
		}
	}
	return false
}
