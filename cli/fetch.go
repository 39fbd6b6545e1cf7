package cli

import (
	"context"
	"errors"
	"net/http"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// fetched is what the fetch hands the rules: the labels and where they came
// from. A nil *fetched means there is no merge request to check.
type fetched struct {
	source report.Source
	labels []string
	mr     report.MergeRequest
}

// fetch carries out the plan: at most one read of the labels (one request),
// or none at all. A refused job token falls back as the plan says.
func (c *command) fetch(ctx context.Context) (*fetched, error) {
	p := c.plan
	switch p.source {
	case fromLabelsFlag:
		return &fetched{source: report.FromCommandLine, labels: p.labels}, nil
	case fromVariable:
		return c.fromVariable(p), nil
	case nothingToCheck:
		c.skipReason = p.skip
		return nil, nil
	}
	client, err := gitlabapi.New(gitlabapi.Config{
		BaseURL: c.cfg.gitlabURL, Token: p.token, TokenKind: p.tokenKind, CAFile: c.cfg.caFile,
		UserAgent: "echoes-labels/" + c.d.Version, MaxRetryWait: c.d.MaxRetryWait,
	})
	if err != nil {
		return nil, err
	}
	c.client = client
	read, cancel := context.WithTimeout(ctx, c.cfg.timeout)
	defer cancel()

	if p.source == fromBranch {
		mrs, err := client.OpenMergeRequestsFrom(read, p.project, p.branch)
		if err != nil {
			return nil, c.apiError(err)
		}
		if len(mrs) == 0 {
			c.skipReason = "no merge request here (CI_MERGE_REQUEST_IID is not set and no open merge request was found for branch " +
				printable.String(p.branch) + "), so there is nothing to check"
			return nil, nil
		}
		mr := mrs[0] // GitLab lists the newest first
		c.noticef("branch pipeline: checking merge request !%d, open from branch %s.", mr.IID, printable.String(p.branch))
		c.plan.iid = mr.IID
		return c.fromAPI(p.project, &mr), nil
	}

	mr, err := client.MergeRequest(read, p.project, p.iid)
	switch {
	case err == nil:
		if p.found != "" {
			c.noticef("branch pipeline: checking merge request %s, found in CI_OPEN_MERGE_REQUESTS.", printable.String(p.found))
		}
		return c.fromAPI(p.project, mr), nil
	case p.tokenKind == gitlabapi.JobToken && refused(err) && p.onRefused == fromVariable:
		var e *gitlabapi.Error
		errors.As(err, &e)
		c.noticef("GitLab refused the job token (%d %s), so this check uses the labels the pipeline started with (CI_MERGE_REQUEST_LABELS).\n"+
			"  A label added since needs a new pipeline, not a retry; or store a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.",
			e.Status, http.StatusText(e.Status))
		return c.fromVariable(p), nil
	case p.tokenKind == gitlabapi.JobToken && refused(err) && p.onRefused == nothingToCheck:
		// A branch pipeline has no label variable to fall back on.
		c.noticef("branch pipeline: GitLab refused the job token for %s, and a branch pipeline has no label variable; nothing is checked.\n"+
			"  To check branch pipelines, store a read_api token in the ECHOES_GITLAB_TOKEN CI/CD variable.", printable.String(p.found))
		c.skipReason = "GitLab refused the job token, and a branch pipeline has no label variable, so there is nothing to check"
		return nil, nil
	}
	return nil, c.apiError(err)
}

func (c *command) fromAPI(project string, mr *gitlabapi.MergeRequest) *fetched {
	return &fetched{source: report.FromAPI, labels: mr.Labels,
		mr: report.MergeRequest{Project: project, IID: mr.IID, WebURL: mr.WebURL}}
}

func (c *command) fromVariable(p plan) *fetched {
	return &fetched{source: report.FromVariable, labels: p.pipeline, mr: report.MergeRequest{Project: p.project, IID: p.iid}}
}

// wait re-reads the merge request's labels every --poll-interval until
// they pass or --wait runs out, so that a developer who adds the label
// while the job runs gets a green job without a retry. Each read is bounded
// by --timeout; a refused token ends the wait at once with its own cause.
func (c *command) wait(ctx context.Context, got *fetched, v check.Verdict) (*fetched, check.Verdict, error) {
	cfg, clock := c.cfg, c.d.Clock
	if got.source != report.FromAPI {
		c.noticef("--wait is ignored: these labels are %s, and cannot change while this job runs.", report.Describe(got.source))
		return got, v, nil
	}
	deadline := clock.Now().Add(cfg.wait)
	c.noticef("labels missing; waiting up to %s for them (re-reading every %s). Add the label to the merge request now and this job passes.", cfg.wait, cfg.pollInterval)
	for {
		left := deadline.Sub(clock.Now())
		if left <= 0 {
			c.noticef("gave up waiting after %s.", cfg.wait)
			return got, v, nil
		}
		if err := clock.Sleep(ctx, min(cfg.pollInterval, left)); err != nil {
			return c.stopWaiting(got, v, err)
		}
		read, cancel := context.WithTimeout(ctx, cfg.timeout)
		mr, err := c.client.MergeRequest(read, c.plan.project, c.plan.iid)
		cancel()
		switch {
		case ctx.Err() != nil:
			return c.stopWaiting(got, v, ctx.Err())
		case err != nil && refused(err):
			return got, v, c.apiError(err)
		case err != nil:
			c.noticef("re-reading the labels failed (%s); trying again.", printable.Truncate(c.cfg.mask.mask(err.Error()), 200))
			continue
		}
		got = c.masked(c.fromAPI(c.plan.project, mr))
		if v = check.Evaluate(got.labels, cfg.rules); v.Pass() {
			c.noticef("the labels are there now.")
			return got, v, nil
		}
	}
}

// stopWaiting ends a wait whose context ended: a cancelled job is an error,
// the run's budget (--timeout plus --wait) running out is giving up.
func (c *command) stopWaiting(got *fetched, v check.Verdict, err error) (*fetched, check.Verdict, error) {
	if errors.Is(err, context.DeadlineExceeded) {
		c.noticef("gave up waiting after %s.", c.cfg.wait)
		return got, v, nil
	}
	return got, v, err
}
