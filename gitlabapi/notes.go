package gitlabapi

import (
	"context"
	"errors"
	"net/http"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// Note is a comment on a merge request.
type Note struct {
	ID     int64
	Body   string
	System bool
	Author struct {
		ID int64
	}
}

func noteOf(n *gitlab.Note) *Note {
	if n == nil {
		return nil
	}
	note := &Note{ID: n.ID, Body: n.Body, System: n.System}
	note.Author.ID = n.Author.ID
	return note
}

// CurrentUserID is the id of the token's user (GET /user).
func (c *Client) CurrentUserID(ctx context.Context) (int64, error) {
	u, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.User, *gitlab.Response, error) {
		return c.gl.Users.CurrentUser(o...)
	})
	if err != nil {
		return 0, err
	}
	if u == nil || u.ID <= 0 {
		return 0, c.malformed(rec, "answered without a user id")
	}
	return u.ID, nil
}

// MaxNotesRead bounds the search for our notes: 20 pages of 100 is more
// discussion than any merge request we have seen, and the search must end.
const MaxNotesRead = maxNotePages * 100

const maxNotePages = 20

// OurNotes returns the notes on the merge request written by author whose
// body starts with marker, oldest first. Only the author's own notes count: a
// reviewer quoting one must not be taken for it (and could not be edited).
// The marker must open the body: a note quotes label names, and a label
// spelling another job's marker must not make that job take (and delete)
// this note as a duplicate of its own.
// It reads at most MaxNotesRead notes; complete is false when the
// merge request has more notes than that, so a note not found may exist.
func (c *Client) OurNotes(ctx context.Context, project string, iid, author int64, marker string) (ours []Note, complete bool, err error) {
	notes, complete, err := pages(ctx, c, maxNotePages, "notes", func(o ...gitlab.RequestOptionFunc) ([]*gitlab.Note, *gitlab.Response, error) {
		return c.gl.Notes.ListMergeRequestNotes(project, iid, &gitlab.ListMergeRequestNotesOptions{
			ListOptions: perPage100, OrderBy: gitlab.Ptr("created_at"), Sort: gitlab.Ptr("asc"),
		}, o...)
	})
	if err != nil {
		return nil, false, err
	}
	return collect(notes, func(n *gitlab.Note) (Note, bool) {
		return *noteOf(n), !n.System && n.Author.ID == author && strings.HasPrefix(n.Body, marker)
	}), complete, nil
}

// DeleteNote deletes a note; one already gone is not an error.
func (c *Client) DeleteNote(ctx context.Context, project string, iid, noteID int64) error {
	err := Exec(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Response, error) {
		return c.gl.Notes.DeleteMergeRequestNote(project, iid, noteID, o...)
	})
	var e *Error
	if errors.As(err, &e) && e.Kind == Status && e.Status == http.StatusNotFound {
		return nil
	}
	return err
}

// CreateNote adds a note to the merge request.
func (c *Client) CreateNote(ctx context.Context, project string, iid int64, body string) (*Note, error) {
	n, err := Call(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Note, *gitlab.Response, error) {
		return c.gl.Notes.CreateMergeRequestNote(project, iid, &gitlab.CreateMergeRequestNoteOptions{Body: gitlab.Ptr(body)}, o...)
	})
	return noteOf(n), err
}

// UpdateNote replaces a note's body.
func (c *Client) UpdateNote(ctx context.Context, project string, iid, noteID int64, body string) (*Note, error) {
	n, err := Call(ctx, c, func(o ...gitlab.RequestOptionFunc) (*gitlab.Note, *gitlab.Response, error) {
		return c.gl.Notes.UpdateMergeRequestNote(project, iid, noteID, &gitlab.UpdateMergeRequestNoteOptions{Body: gitlab.Ptr(body)}, o...)
	})
	return noteOf(n), err
}

// MarkedReadyAt is when the merge request was last marked ready: the
// newest of GitLab's system notes "marked this merge request as
// **ready**" (before GitLab 14, "unmarked as a **Work In Progress**")
// among its newest 100 notes (one GET); zero when there is none. Only a
// system note counts: nobody can write one through the API.
func (c *Client) MarkedReadyAt(ctx context.Context, project string, iid int64) (time.Time, error) {
	notes, _, _, err := page(ctx, c, "notes", cursor{}, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.Note, *gitlab.Response, error) {
		return c.gl.Notes.ListMergeRequestNotes(project, iid, &gitlab.ListMergeRequestNotesOptions{
			ListOptions: perPage100, OrderBy: gitlab.Ptr("created_at"), Sort: gitlab.Ptr("desc"),
		}, o...)
	})
	if err != nil {
		return time.Time{}, err
	}
	var at time.Time
	for _, n := range notes {
		if n == nil || !n.System || n.CreatedAt == nil {
			continue
		}
		if ReadyNote(n.Body) && n.CreatedAt.After(at) {
			at = *n.CreatedAt
		}
	}
	return at, nil
}

// ReadyNote is true of the body of GitLab's system note for a merge
// request marked ready (SystemNotes::MergeRequestsService).
func ReadyNote(body string) bool {
	return strings.Contains(body, "marked this merge request as **ready**") ||
		strings.Contains(body, "unmarked as a **Work In Progress**")
}
