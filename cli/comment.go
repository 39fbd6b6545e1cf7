package cli

import (
	"context"
	"fmt"
	"strings"

	"gitlab.com/echoeshq/echoes-labels/check"
	"gitlab.com/echoeshq/echoes-labels/gitlabapi"
	"gitlab.com/echoeshq/echoes-labels/printable"
	"gitlab.com/echoeshq/echoes-labels/report"
)

// noteMarker finds our note among the merge request's; it is an HTML
// comment, invisible in the rendered note.
const noteMarker = "<!-- echoes-labels:sticky-note -->"

// comment keeps one note on the merge request in step with the verdict: on
// failure it is written or updated; on a pass an existing note is updated to
// say all is well (kept rather than deleted, so reviewers see the thread
// resolve), and none is created. A failure to write is a warning: the
// verdict must not depend on the comment.
func (c *command) comment(res report.Result) {
	src := c.src
	if src.client == nil || src.tokenKind != gitlabapi.PrivateToken {
		c.noticef("--comment skipped: writing a comment needs a token with the api scope in ECHOES_GITLAB_TOKEN.")
		return
	}
	ctx, cancel := context.WithDeadline(context.Background(), c.deadline)
	defer cancel()
	me, err := src.client.CurrentUserID(ctx)
	if err != nil {
		c.noticef("warning: could not tell which user the token belongs to (%s); no comment written.", printable.Truncate(err.Error(), 200))
		return
	}
	note, err := src.client.FindNote(ctx, src.project, src.iid, me, noteMarker)
	if err != nil {
		c.noticef("warning: could not read the merge request's comments (%s); no comment written.", printable.Truncate(err.Error(), 200))
		return
	}
	body := noteBody(res)
	done := "updated the comment on the merge request"
	switch {
	case note == nil && res.Verdict.Pass():
		return
	case note == nil:
		done = "commented on the merge request"
		_, err = src.client.CreateNote(ctx, src.project, src.iid, body)
	case note.Body == body:
		return
	default:
		_, err = src.client.UpdateNote(ctx, src.project, src.iid, note.ID, body)
	}
	if err == nil {
		c.noticef("%s.", done)
	}
	if err != nil {
		c.noticef("warning: could not write the comment (%s); the token needs the api scope. The check result stands.", printable.Truncate(err.Error(), 200))
	}
}

// noteBody is the Markdown of our note. Label names and messages are
// untrusted: markdownText escapes them, so they cannot inject Markdown,
// HTML, links or mentions.
func noteBody(res report.Result) string {
	var b strings.Builder
	b.WriteString(noteMarker + "\n")
	v := res.Verdict
	if v.Pass() {
		b.WriteString("✅ **Echoes labels are complete.** Thank you!\n")
		return b.String()
	}
	b.WriteString("❌ **This merge request needs an Echoes label.**\n\n")
	for _, rule := range v.Rules {
		if rule.Outcome == check.Passed {
			continue
		}
		mark := "❌"
		if rule.Outcome == check.Warned {
			mark = "⚠️"
		}
		fmt.Fprintf(&b, "- %s %s\n", mark, markdownText(rule.Message))
		if fix := report.Fix(rule, v, res.EffectivePrefixes()); fix != "" {
			fmt.Fprintf(&b, "  - Fix: %s\n", markdownText(fix))
		}
		fmt.Fprintf(&b, "  - Details: %s\n", res.Docs.For(rule.Rule))
	}
	fmt.Fprintf(&b, "\n%s\n", report.NextStep(res.Source))
	return b.String()
}

// markdownText makes untrusted text inert in GitLab Markdown: no HTML, no
// mentions or references, no links.
func markdownText(s string) string {
	s = printable.Truncate(s, 2*printable.MaxRunes)
	r := strings.NewReplacer("\\", "\\\\", "`", "'", "<", "&lt;", ">", "&gt;", "@", "@\u200b", "[", "\\[", "]", "\\]",
		"!", "\\!", "#", "\\#", "*", "\\*", "_", "\\_", "~", "\\~", "|", "\\|", "$", "\\$", "&", "&amp;", "://", ":/\u200b/")
	return r.Replace(s)
}
