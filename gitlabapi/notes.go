package gitlabapi

import (
	"context"
	"strings"

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

// maxNotePages bounds the search for our note: 20 pages of 100 is more
// discussion than any merge request we have seen, and the search must end.
const maxNotePages = 20

// FindNote returns the first note on the merge request written by author
// whose body contains marker, or nil. Only the author's own note counts: a
// reviewer quoting it must not be taken for it (and could not be edited).
// Notes are read oldest first, where a note written by the first failing
// pipeline sits.
func (c *Client) FindNote(ctx context.Context, project string, iid, author int64, marker string) (*Note, error) {
	for page := int64(1); page <= maxNotePages; page++ {
		opt := &gitlab.ListMergeRequestNotesOptions{
			ListOptions: gitlab.ListOptions{PerPage: 100, Page: page},
			OrderBy:     gitlab.Ptr("created_at"),
			Sort:        gitlab.Ptr("asc"),
		}
		notes, err := Call(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]*gitlab.Note, *gitlab.Response, error) {
			return c.gl.Notes.ListMergeRequestNotes(project, iid, opt, o...)
		})
		if err != nil {
			return nil, err
		}
		for _, n := range notes {
			if n != nil && !n.System && n.Author.ID == author && strings.Contains(n.Body, marker) {
				return noteOf(n), nil
			}
		}
		if len(notes) < 100 {
			return nil, nil
		}
	}
	return nil, nil
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
