package gitlabapi

import (
	"context"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// lister asks for one page of a list; the options it is given choose the
// page (none: the first) and carry the call's context.
type lister[T any] func(o ...gitlab.RequestOptionFunc) ([]T, *gitlab.Response, error)

// cursor names a page of a list: by number (X-Next-Page) or, for a list
// GitLab pages by keyset, by the Link header's rel="next" URL. The zero
// cursor is the first page.
type cursor struct {
	page int64
	link string
}

func (at cursor) option() gitlab.RequestOptionFunc {
	switch {
	case at.page > 0:
		return gitlab.WithOffsetPaginationParameters(at.page)
	case at.link != "":
		return gitlab.WithKeysetPaginationParameters(at.link)
	}
	return nil
}

// follows says whether next names a page after at: a page number past
// at's, or a keyset link other than at's. A next page that does not move
// on would read the same page forever.
func (next cursor) follows(at cursor) bool {
	if next.page > 0 {
		return next.page > max(at.page, 1)
	}
	return next.link != "" && next.link != at.link
}

// page reads the page of a list at a cursor (one call) and returns the
// cursor of the next one, the zero cursor on the last. An answer that is
// not a JSON list is malformed: what names the list in its error.
func page[T any](ctx context.Context, c *Client, what string, at cursor, list lister[T]) ([]T, cursor, *call, error) {
	var next cursor
	got, rec, err := do(ctx, c, func(o ...gitlab.RequestOptionFunc) ([]T, *gitlab.Response, error) {
		if opt := at.option(); opt != nil {
			o = append(o, opt)
		}
		v, resp, err := list(o...)
		if resp != nil {
			next = cursor{page: resp.NextPage, link: resp.NextLink}
		}
		return v, resp, err
	})
	if err != nil {
		return nil, cursor{}, rec, err
	}
	if rec.firstByte() != '[' {
		return nil, cursor{}, rec, c.malformed(rec, "answered without a list of "+what)
	}
	if !next.follows(at) {
		next = cursor{}
	}
	return got, next, rec, nil
}

// pages reads a whole list, page after page while GitLab names a next one,
// up to maxPages; each page is one call. It never stops at a short page:
// GitLab may send a short or empty page before the last (it drops what the
// token may not read after cutting the page). complete is false when
// maxPages were read and GitLab named another.
func pages[T any](ctx context.Context, c *Client, maxPages int, what string, list lister[T]) (out []T, complete bool, err error) {
	var at cursor
	for range maxPages {
		got, next, _, err := page(ctx, c, what, at, list)
		if err != nil {
			return nil, false, err
		}
		out = append(out, got...)
		if next == (cursor{}) {
			return out, true, nil
		}
		at = next
	}
	return out, false, nil
}

// collect maps the items of a list that keep says are items (GitLab's
// nulls and id-less entries are not) to ours.
func collect[T, U any](list []*T, keep func(*T) (U, bool)) []U {
	if list == nil {
		return nil
	}
	out := make([]U, 0, len(list))
	for _, v := range list {
		if v == nil {
			continue
		}
		if u, ok := keep(v); ok {
			out = append(out, u)
		}
	}
	return out
}
