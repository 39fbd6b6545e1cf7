package checkcmd

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// fetched is what the fetch hands the rules: the labels, masked, and where
// they came from; or, with skip set, why there is nothing to check.
type fetched struct {
	source report.Source
	labels []string
	mr     report.MergeRequest
	skip   string
	// author and draft come from the one read of the merge request: ""
	// and false when the labels came from elsewhere.
	author string
	draft  bool
}

// fetcher reads the labels as the plan says, with client when the plan
// calls GitLab (nil otherwise).
type fetcher struct {
	*run
	plan   plan
	client *gitlabapi.Client
}

// newFetcher makes the GitLab client when the plan needs one. It makes no
// request.
func (r *run) newFetcher(p plan) (fetcher, error) {
	f := fetcher{run: r, plan: p}
	if p.source != fromAPI && p.source != fromBranch {
		return f, nil
	}
	client, err := gitlabapi.New(gitlabapi.Config{
		Base: r.cfg.base, RootCAs: r.cfg.caPool, Token: p.token, TokenKind: p.tokenKind,
		UserAgent: "echoes-labels/" + r.d.Version, MaxRetryWait: r.d.MaxRetryWait, Secrets: r.cfg.secrets,
		OnRetry: func(cause string, wait time.Duration) {
			// On stderr whatever the format: a remark on the way, not the
			// report (in a job, stderr is in the log too). gitlabapi has
			// masked and bounded the cause.
			fmt.Fprintf(r.d.Stderr, "echoes-labels: %s; trying again in %s.\n", printable.String(cause), wait.Round(time.Millisecond))
		},
	})
	f.client = client
	return f, err
}

// fetch carries out the plan: at most one read of the labels (one request),
// or none at all. A refused job token falls back as the plan says.
func (f fetcher) fetch(ctx context.Context) (fetched, error) {
	p := f.plan
	switch p.source {
	case fromLabelsFlag:
		return f.masked(fetched{source: report.FromCommandLine, labels: p.labels}), nil
	case fromVariable:
		return f.fromVariable(), nil
	case nothingToCheck:
		return fetched{skip: p.skip}, nil
	}
	read, cancel := context.WithTimeout(ctx, f.cfg.timeout)
	defer cancel()

	if p.source == fromBranch {
		mrs, err := f.client.OpenMergeRequestsFrom(read, p.project, p.branch)
		if err != nil {
			return fetched{}, f.apiError(err, 0)
		}
		if len(mrs) == 0 {
			return fetched{skip: "no merge request here (CI_MERGE_REQUEST_IID is not set and no open merge request was found for branch " +
				printable.String(p.branch) + "), so there is nothing to check"}, nil
		}
		mr := mrs[0] // GitLab lists the newest first
		f.noticef("branch pipeline: checking merge request !%d, open from branch %s.", mr.IID, printable.String(p.branch))
		return f.fromAPI(&mr), nil
	}

	mr, err := f.client.MergeRequest(read, p.project, p.iid)
	switch {
	case err == nil:
		if p.found != "" {
			f.noticef("branch pipeline: checking merge request %s, found in CI_OPEN_MERGE_REQUESTS.", printable.String(p.found))
		}
		return f.fromAPI(mr), nil
	case p.tokenKind == gitlabapi.JobToken && refused(err) && p.onRefused == fromVariable:
		var e *gitlabapi.Error
		errors.As(err, &e)
		why, fix := f.jobTokenRefusal()
		f.noticef("GitLab refused the job token (%d %s), so this check uses the labels GitLab gave this job when it started (CI_MERGE_REQUEST_LABELS).\n"+
			"  Why: %s.\n  A retry of this job sees a label added since; to read them live: %s.",
			e.Status, http.StatusText(e.Status), why, fix)
		return f.fromVariable(), nil
	case p.tokenKind == gitlabapi.JobToken && refused(err) && p.onRefused == nothingToCheck:
		// A branch pipeline has no label variable to fall back on.
		f.noticef("branch pipeline: GitLab refused the job token for %s, and a branch pipeline has no label variable; nothing is checked.\n"+
			"  To check branch pipelines, store a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.", printable.String(p.found))
		return fetched{skip: "GitLab refused the job token, and a branch pipeline has no label variable, so there is nothing to check"}, nil
	}
	return fetched{}, f.apiError(err, p.iid)
}

func (f fetcher) fromAPI(mr *gitlabapi.MergeRequest) fetched {
	return f.masked(fetched{source: report.FromAPI, labels: mr.Labels, author: mr.Author, draft: mr.Draft,
		mr: report.MergeRequest{Project: f.plan.project, IID: mr.IID, WebURL: mr.WebURL}})
}

func (f fetcher) fromVariable() fetched {
	// The draft state as the pipeline started, like its labels.
	return f.masked(fetched{source: report.FromVariable, labels: f.plan.pipeline, draft: f.job.PipelineDraft,
		mr: report.MergeRequest{Project: f.plan.project, IID: f.plan.iid}})
}

// masked masks the secrets in what GitLab or the pipeline sent, before any
// rule, cut or encoding sees it.
func (f fetcher) masked(got fetched) fetched {
	m := f.cfg.secrets
	got.labels = m.Masks(got.labels)
	got.mr.Project, got.mr.WebURL, got.author = m.Mask(got.mr.Project), m.Mask(got.mr.WebURL), m.Mask(got.author)
	return got
}
