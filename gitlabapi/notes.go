package gitlabapi

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"strings"
)

// Note is a comment on a merge request.
type Note struct {
	ID     int64  `json:"id"`
	Body   string `json:"body"`
	System bool   `json:"system"`
	Author struct {
		ID int64 `json:"id"`
	} `json:"author"`
}

// CurrentUserID is the id of the token's user (GET /user).
func (c *Client) CurrentUserID(ctx context.Context) (int64, error) {
	var u struct {
		ID int64 `json:"id"`
	}
	if err := c.do(ctx, "GET", "/user", nil, nil, &u); err != nil {
		return 0, err
	}
	if u.ID <= 0 {
		return 0, &Error{Kind: Malformed, Method: "GET", Path: "/user", Status: 200, Message: "answered without a user id"}
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
	path := notesPath(project, iid)
	for page := 1; page <= maxNotePages; page++ {
		q := url.Values{"per_page": {"100"}, "page": {strconv.Itoa(page)}, "sort": {"asc"}, "order_by": {"created_at"}}
		var notes []Note
		if err := c.do(ctx, "GET", path, q, nil, &notes); err != nil {
			return nil, err
		}
		for i := range notes {
			if !notes[i].System && notes[i].Author.ID == author && strings.Contains(notes[i].Body, marker) {
				return &notes[i], nil
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
	var n Note
	err := c.do(ctx, "POST", notesPath(project, iid), nil, map[string]string{"body": body}, &n)
	return &n, err
}

// UpdateNote replaces a note's body.
func (c *Client) UpdateNote(ctx context.Context, project string, iid, noteID int64, body string) (*Note, error) {
	var n Note
	err := c.do(ctx, "PUT", fmt.Sprintf("%s/%d", notesPath(project, iid), noteID), nil, map[string]string{"body": body}, &n)
	return &n, err
}

func notesPath(project string, iid int64) string {
	return fmt.Sprintf("/projects/%s/merge_requests/%d/notes", ProjectPath(project), iid)
}
