package gitlabtest

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"
)

// row is one item of a list: the fields GitLab orders lists by, and its
// JSON, made only if the item is on the page asked for (a bench lists
// thousands of merge requests a page at a time).
type row struct {
	id               int64
	created, updated time.Time
	json             func() any
}

// paginate answers a list as GitLab does. rows are in the list's default
// order; order_by (id, created_at, updated_at) and sort (asc, desc) reorder
// them, ties by id, and any other value of either is GitLab's 400. The page
// asked for (page, from 1; per_page, 20 by default and 100 at most) comes
// with GitLab's paging headers: X-Page, X-Per-Page, X-Prev-Page,
// X-Next-Page (empty on the first and last page), X-Total, X-Total-Pages,
// and Link with rel prev, next, first and last.
func paginate(w http.ResponseWriter, r *http.Request, rows []row) {
	q := r.URL.Query()
	orderBy, sort := q.Get("order_by"), q.Get("sort")
	if orderBy != "" || sort != "" {
		key := map[string]func(row) int64{
			"id":         func(x row) int64 { return x.id },
			"created_at": func(x row) int64 { return x.created.UnixNano() },
			"updated_at": func(x row) int64 { return x.updated.UnixNano() },
		}[cmp.Or(orderBy, "created_at")]
		switch {
		case key == nil:
			badRequest(w, "order_by does not have a valid value")
			return
		case sort != "" && sort != "asc" && sort != "desc":
			badRequest(w, "sort does not have a valid value")
			return
		}
		rows = slices.Clone(rows)
		slices.SortStableFunc(rows, func(a, b row) int {
			c := cmp.Or(cmp.Compare(key(a), key(b)), cmp.Compare(a.id, b.id))
			if sort != "asc" {
				return -c
			}
			return c
		})
	}
	perPage, _ := strconv.Atoi(q.Get("per_page"))
	if perPage <= 0 {
		perPage = 20
	}
	perPage = min(perPage, 100)
	page, _ := strconv.Atoi(q.Get("page"))
	page = max(page, 1)
	pages := max((len(rows)+perPage-1)/perPage, 1)
	from := min((page-1)*perPage, len(rows))
	to := min(from+perPage, len(rows))
	out := make([]any, 0, to-from)
	for _, x := range rows[from:to] {
		out = append(out, x.json())
	}

	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	link := func(n int, rel string) string {
		q := r.URL.Query()
		q.Set("page", strconv.Itoa(n))
		q.Set("per_page", strconv.Itoa(perPage))
		return "<" + scheme + "://" + r.Host + r.URL.EscapedPath() + "?" + q.Encode() + `>; rel="` + rel + `"`
	}
	var links []string
	prev, next := "", ""
	if page > 1 {
		prev = strconv.Itoa(min(page-1, pages))
		links = append(links, link(min(page-1, pages), "prev"))
	}
	if page < pages {
		next = strconv.Itoa(page + 1)
		links = append(links, link(page+1, "next"))
	}
	links = append(links, link(1, "first"), link(pages, "last"))
	w.Header().Set("Link", strings.Join(links, ", "))
	w.Header().Set("X-Page", strconv.Itoa(page))
	w.Header().Set("X-Per-Page", strconv.Itoa(perPage))
	w.Header().Set("X-Prev-Page", prev)
	w.Header().Set("X-Next-Page", next)
	w.Header().Set("X-Total", strconv.Itoa(len(rows)))
	w.Header().Set("X-Total-Pages", strconv.Itoa(pages))
	JSON(w, http.StatusOK, out)
}

// badRequest is GitLab's answer to a parameter it refuses.
func badRequest(w http.ResponseWriter, msg string) {
	JSON(w, http.StatusBadRequest, map[string]string{"error": msg})
}
