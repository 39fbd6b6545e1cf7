package rerun

import (
	"strconv"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
)

// newGitLab builds the client the engine calls GitLab with, configured as
// the check's (gitlabapi): the token never follows a redirect to another
// host, and its errors are *gitlabapi.Error, the token masked. It makes one
// attempt a call: the engine's retry loop is the only retry layer, so a
// GitLab in trouble gets a bounded number of calls per task (and a write
// is never repeated by the client: the worker re-reads and decides again
// instead).
func newGitLab(cfg Config) (*gitlabapi.Client, error) {
	return gitlabapi.New(gitlabapi.Config{
		BaseURL: cfg.GitLabURL, Token: cfg.Token, TokenKind: gitlabapi.PrivateToken, CAFile: cfg.CAFile,
		UserAgent: "echoes-labels-serve", RetryMax: gitlabapi.NoRetries,
	})
}

// projectID is a project's id as gitlabapi takes it.
func projectID(id int64) string { return strconv.FormatInt(id, 10) }
