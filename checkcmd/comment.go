package checkcmd

import (
	"context"
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
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
	for i, ch := range []byte(key) {
		// Percent-encoded unless it can neither end the comment nor the
		// line: a "-" only alone, since "--" ends an HTML comment.
		if 'a' <= ch && ch <= 'z' || 'A' <= ch && ch <= 'Z' || '0' <= ch && ch <= '9' || strings.IndexByte("_.:/", ch) >= 0 ||
			ch == '-' && (i == 0 || key[i-1] != '-') {
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
func (c fetcher) comment(ctx context.Context, res report.Result) {
	if c.client == nil || c.plan.tokenKind != gitlabapi.PrivateToken || res.Source != report.FromAPI {
		c.noticef("--comment skipped: writing a comment needs a token with the api scope in ECHOES_GITLAB_TOKEN.")
		return
	}
	n := noteWriter{c: c, project: c.plan.project, iid: res.MergeRequest.IID, marker: noteMarker(c.cfg.commentKey)}
	me, err := c.client.CurrentUserID(ctx)
	if err != nil {
		c.noticef("warning: could not tell which user the token belongs to, so no comment was written: %s", c.noteProblem(err))
		return
	}
	n.author = me
	ours, complete, err := c.client.OurNotes(ctx, n.project, n.iid, me, n.marker)
	if err != nil {
		c.noticef("warning: could not read the merge request's comments, so no comment was written: %s", c.noteProblem(err))
		return
	}
	body := report.Note(res, n.marker)
	switch {
	case len(ours) == 0 && res.Verdict.Pass():
		return
	case len(ours) == 0 && !complete:
		// Ours may sit past the pages read: a second one would be a duplicate.
		c.noticef("--comment: this merge request has more comments than the %d read, none of them ours, so no comment was written; the check result stands.", gitlabapi.MaxNotesRead)
		return
	case len(ours) == 0:
		created, err := c.client.CreateNote(ctx, n.project, n.iid, body)
		if err != nil {
			c.noticef("warning: could not write the comment; the check result stands: %s", c.noteProblem(err))
			return
		}
		c.noticef("commented on the merge request.")
		// Another run of this job may have written one at the same time:
		// read again, and keep the oldest.
		if ours, _, err = c.client.OurNotes(ctx, n.project, n.iid, me, n.marker); err != nil || len(ours) < 2 {
			return
		}
		if ours[0].ID == created.ID {
			n.keep(ctx, ours, "")
		} else {
			n.keep(ctx, ours, body)
		}
	default:
		n.keep(ctx, ours, body)
	}
}

// noteWriter keeps the one note of a job.
type noteWriter struct {
	c           fetcher
	project     string
	iid, author int64
	marker      string
}

// keep makes ours[0], the oldest, the job's note, with body (unless body is
// empty or already there), and deletes the others: duplicates that runs of
// the job racing each other left.
func (n noteWriter) keep(ctx context.Context, ours []gitlabapi.Note, body string) {
	c := n.c
	if body != "" && ours[0].Body != body {
		if _, err := c.client.UpdateNote(ctx, n.project, n.iid, ours[0].ID, body); err != nil {
			c.noticef("warning: could not write the comment; the check result stands: %s", c.noteProblem(err))
			return
		}
		c.noticef("updated the comment on the merge request.")
	}
	for _, dup := range ours[1:] {
		if err := c.client.DeleteNote(ctx, n.project, n.iid, dup.ID); err != nil {
			c.noticef("warning: could not remove a duplicate comment: %s", c.noteProblem(err))
			return
		}
	}
	if len(ours) > 1 {
		c.noticef("removed %d duplicate comment(s) of this job.", len(ours)-1)
	}
}
