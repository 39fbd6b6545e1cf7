package cli

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// noteMarker finds our note among the merge request's. It is an HTML
// comment, invisible in the rendered note, and names the job (key) so that
// two jobs on one merge request keep a note each.
func noteMarker(key string) string {
	if key == "" {
		return "<!-- echoes-labels:sticky-note -->"
	}
	var b strings.Builder
	for _, ch := range []byte(key) {
		// Percent-encoded unless it can neither end the comment nor the line.
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("_.:/", ch) >= 0 {
			b.WriteByte(ch)
		} else {
			fmt.Fprintf(&b, "%%%02X", ch)
		}
	}
	return "<!-- echoes-labels:sticky-note job=" + b.String() + " -->"
}

// comment keeps one note on the merge request in step with the verdict: on
// failure it is written or updated; on a pass an existing note is updated to
// say all is well (kept rather than deleted, so reviewers see the thread
// resolve), and none is created. A failure to write is a warning: the
// verdict must not depend on the comment.
func (c *command) comment(ctx context.Context, res report.Result) {
	if c.client == nil || c.plan.tokenKind != gitlabapi.PrivateToken || res.Source != report.FromAPI {
		c.noticef("--comment skipped: writing a comment needs a token with the api scope in ECHOES_GITLAB_TOKEN.")
		return
	}
	project, iid := res.MergeRequest.Project, res.MergeRequest.IID
	me, err := c.client.CurrentUserID(ctx)
	if err != nil {
		c.noticef("warning: could not tell which user the token belongs to, so no comment was written: %s", c.noteProblem(err))
		return
	}
	marker := noteMarker(c.cfg.commentKey)
	note, err := c.client.FindNote(ctx, project, iid, me, marker)
	if err != nil {
		c.noticef("warning: could not read the merge request's comments, so no comment was written: %s", c.noteProblem(err))
		return
	}
	body := report.Note(res, marker)
	done := "updated the comment on the merge request"
	switch {
	case note == nil && res.Verdict.Pass():
		return
	case note == nil:
		done = "commented on the merge request"
		_, err = c.client.CreateNote(ctx, project, iid, body)
	case note.Body == body:
		return
	default:
		_, err = c.client.UpdateNote(ctx, project, iid, note.ID, body)
	}
	if err != nil {
		c.noticef("warning: could not write the comment; the check result stands: %s", c.noteProblem(err))
		return
	}
	c.noticef("%s.", done)
}

// noteProblem names the real cause of a failed note call and its fix.
func (c *command) noteProblem(err error) string {
	var e *gitlabapi.Error
	if errors.As(err, &e) && e.Kind == gitlabapi.Status && (e.Status == http.StatusUnauthorized || e.Status == http.StatusForbidden) {
		return printable.Truncate(c.cfg.mask.mask(e.Error()), 200) + ".\n  fix: the token needs the api scope (not only read_api) and at least the Reporter role in the project"
	}
	ae := asError(c.apiError(err))
	return ae.Cause + ".\n  fix: " + ae.Fix
}
