package serve

import (
	"math"
	"strconv"
	"time"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// newGitLab builds the client the service calls GitLab with, configured as
// the check's (gitlabapi): the token never follows a redirect to another
// host, and its errors are *gitlabapi.Error, the token masked. It makes one
// attempt a call: the worker's tries of a task are the only retry layer,
// so a GitLab in trouble gets a bounded number of calls per task (and a
// write is never repeated by the client: the worker re-reads and decides
// again instead).
func newGitLab(cfg config) (*gitlabapi.Client, error) {
	return gitlabapi.New(gitlabapi.Config{
		BaseURL: cfg.gitlabURL, Token: cfg.token, TokenKind: gitlabapi.PrivateToken, CAFile: cfg.caFile,
		UserAgent: "echoes-labels-serve", RetryMax: gitlabapi.NoRetries,
	})
}

// projectID is a project's id as gitlabapi takes it.
func projectID(id int64) string { return strconv.FormatInt(id, 10) }

// faultWait is how long to wait before try number attempt+2 after a
// failure f: what GitLab asked for (Retry-After), as asked, else the
// backoff.
func (s *service) faultWait(f gitlabapi.Failure, attempt int) time.Duration {
	if f.Wait > 0 {
		return f.Wait
	}
	return expBackoff(s.cfg.backoff, s.cfg.maxWait, attempt)
}

// expBackoff doubles lo per attempt, up to hi.
func expBackoff(lo, hi time.Duration, attempt int) time.Duration {
	d := float64(lo) * math.Pow(2, float64(attempt))
	if d > float64(hi) {
		return hi
	}
	return time.Duration(d)
}
