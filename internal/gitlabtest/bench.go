package gitlabtest

// The bench side of the stand-in (bench/sweep.sh): a group of thousands of
// open merge requests made in one go, lists of them ordered by updated_at
// that stay fast at that size (sorted on the merge requests' own fields,
// only the page asked for turned into JSON), a rate limit answering 429
// with GitLab's headers, and a report of the calls made per merge request.

import (
	"cmp"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Kinds of the merge requests AddBenchGroup makes.
const (
	BenchNothing   = "nothing"    // labels pass, label job succeeded: nothing to do
	BenchRetryPass = "retry-pass" // label job failed, labels made to pass after it: retry once
	BenchRetryFail = "retry-fail" // label job succeeded, a label removed after it so they fail: retry once
)

// BenchMR is one merge request of a bench group.
type BenchMR struct {
	Project int64
	IID     int64
	Kind    string
}

// BenchGroupOptions describe a bench group.
type BenchGroupOptions struct {
	GroupID       int64
	GroupPath     string
	MRs           int      // open merge requests in all
	Projects      int      // spread over this many projects (ids from 1001, paths GroupPath/p1 …)
	CheckProjects int      // the first this many projects have an external status check named CheckName
	CheckName     string   // default echoes-labels
	JobName       string   // the label job, default echoes-labels
	Passing       []string // labels that pass the rules
	Failing       []string // labels that fail them
	Every         int      // one merge request in Every is BenchRetryPass, one other BenchRetryFail (default 50)
}

// AddBenchGroup makes a group of o.MRs open merge requests, each with a
// merge request pipeline as its head pipeline holding the label job. Most
// need nothing (labels pass, job succeeded); in each project, one in
// o.Every failed and got passing labels after the job started, and one in
// o.Every succeeded and lost a label after it. Where the project has a status check, each merge
// request has a response for its head commit: the verdict of the labels
// the job read (so the changed ones need a new answer). Each merge request
// is updated a second apart from the next, oldest first. It returns the
// merge requests made.
func (s *Server) AddBenchGroup(o BenchGroupOptions) []BenchMR {
	o.Projects = max(o.Projects, 1)
	o.Every = cmp.Or(o.Every, 50)
	o.CheckName = cmp.Or(o.CheckName, "echoes-labels")
	o.JobName = cmp.Or(o.JobName, "echoes-labels")
	checks := map[int64]int64{}
	for p := range min(o.CheckProjects, o.Projects) {
		id := int64(1001 + p)
		checks[id] = s.AddStatusCheck(id, fmt.Sprintf("%s/p%d", o.GroupPath, p+1), o.CheckName)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	ids := make([]int64, o.Projects)
	for p := range ids {
		ids[p] = int64(1001 + p)
	}
	for _, key := range []string{strconv.FormatInt(o.GroupID, 10), o.GroupPath} {
		s.ci.groups[key] = append(s.ci.groups[key], ids...)
	}
	base := time.Now().UTC().Add(-time.Duration(o.MRs+1) * time.Second).Truncate(time.Second)
	out := make([]BenchMR, 0, o.MRs)
	for i := range o.MRs {
		id := ids[i%o.Projects]
		path := fmt.Sprintf("%s/p%d", o.GroupPath, i%o.Projects+1)
		iid := int64(i/o.Projects + 1)
		kind := BenchNothing
		switch (iid + int64(i%o.Projects)) % int64(o.Every) {
		case 7:
			kind = BenchRetryPass
		case 7 + int64(o.Every/2):
			kind = BenchRetryFail
		}
		mr := s.mr(id, path, iid)
		before, status, after := o.Passing, "success", o.Passing
		switch kind {
		case BenchRetryPass:
			before, status = o.Failing, "failed"
		case BenchRetryFail:
			after = o.Failing
		}
		s.setLabelsLocked(mr, before)
		p := s.addPipeline(id, path, id, iid, fmt.Sprintf("refs/merge-requests/%d/head", iid), "merge_request_event",
			[]Job{{Name: "build", Status: "success"}, {Name: o.JobName, Status: status}})
		mr.headPipeline = p.id
		if check, ok := checks[id]; ok {
			verdict := "passed"
			if kind == BenchRetryPass {
				verdict = "failed"
			}
			k := mrKey{id, iid}
			s.ci.checks[k] = append(s.ci.checks[k], StatusCheckResponse{SHA: mr.sha, ExternalStatusCheckID: check, Status: verdict})
			s.ci.answered[k] = append(s.ci.answered[k], s.tick())
		}
		s.setLabelsLocked(mr, after)
		mr.updatedAt = base.Add(time.Duration(i) * time.Second)
		out = append(out, BenchMR{Project: id, IID: iid, Kind: kind})
	}
	return out
}

// setLabelsLocked is SetLabels with s.mu held.
func (s *Server) setLabelsLocked(mr *mergeRequest, labels []string) {
	if labels == nil {
		labels = []string{}
	}
	now := s.tick()
	for _, l := range mr.labels {
		if !slices.Contains(labels, l) {
			s.nextNoteID++
			mr.labelEvents = append(mr.labelEvents, labelEvent{id: s.nextNoteID, action: "remove", label: l, created: now})
		}
	}
	for _, l := range labels {
		if !slices.Contains(mr.labels, l) {
			s.nextNoteID++
			mr.labelEvents = append(mr.labelEvents, labelEvent{id: s.nextNoteID, action: "add", label: l, created: now})
		}
	}
	mr.labels = slices.Clone(labels)
	mr.updatedAt = now
}

// isMergeRequestList is true for /api/v4/{projects,groups}/:id/merge_requests.
func isMergeRequestList(path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v4/"), "/")
	return len(parts) == 3 && (parts[0] == "projects" || parts[0] == "groups") && parts[2] == "merge_requests"
}

// OrderedByUpdate (order_by=updated_at, the order a sweep pages open merge
// requests in; the stand-in's own lists are newest iid first) is a FaultFunc answering GET /projects/:id/merge_requests and GET
// /groups/:id/merge_requests asked with order_by=updated_at (state and
// updated_after applied, sort=asc or desc, then by id), that sorts the
// merge requests themselves and makes JSON of the page asked for only.
// next, when not nil, is asked first.
func (s *Server) OrderedByUpdate(next FaultFunc) FaultFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		if next != nil && next(w, r, n) {
			return true
		}
		q := r.URL.Query()
		if r.Method != http.MethodGet || q.Get("order_by") != "updated_at" || !isMergeRequestList(r.URL.EscapedPath()) {
			return false
		}
		if !s.authorized(w, r) {
			return true
		}
		parts := strings.Split(strings.TrimPrefix(r.URL.EscapedPath(), "/api/v4/"), "/")
		key, err := url.PathUnescape(parts[1])
		if err != nil {
			Error(w, http.StatusBadRequest, "400 Bad request")
			return true
		}
		s.mu.Lock()
		defer s.mu.Unlock()
		s.ci.init()
		var projects []int64
		if parts[0] == "groups" {
			ps, ok := s.ci.groups[key]
			if !ok {
				Error(w, http.StatusNotFound, "404 Group Not Found")
				return true
			}
			projects = ps
		} else {
			id, ok := s.ids[key]
			if !ok {
				Error(w, http.StatusNotFound, "404 Project Not Found")
				return true
			}
			projects = []int64{id}
		}
		type entry struct {
			project, iid int64
			mr           *mergeRequest
		}
		var items []entry
		for _, id := range projects {
			for iid, mr := range s.projects[strconv.FormatInt(id, 10)] {
				if mr.matches(q) {
					items = append(items, entry{id, iid, mr})
				}
			}
		}
		desc := q.Get("sort") != "asc"
		slices.SortFunc(items, func(a, b entry) int {
			c := cmp.Or(a.mr.updatedAt.Compare(b.mr.updatedAt), cmp.Compare(a.project*1000+a.iid, b.project*1000+b.iid))
			if desc {
				return -c
			}
			return c
		})
		perPage, _ := strconv.Atoi(q.Get("per_page"))
		if perPage <= 0 {
			perPage = 20
		}
		perPage = min(perPage, 100)
		page, _ := strconv.Atoi(q.Get("page"))
		page = max(page, 1)
		from := min((page-1)*perPage, len(items))
		to := min(from+perPage, len(items))
		out := make([]map[string]any, 0, to-from)
		for _, e := range items[from:to] {
			out = append(out, s.answer(e.mr, e.project, e.iid))
		}
		pages := max((len(items)+perPage-1)/perPage, 1)
		h := w.Header()
		h.Set("X-Page", strconv.Itoa(page))
		h.Set("X-Per-Page", strconv.Itoa(perPage))
		h.Set("X-Total", strconv.Itoa(len(items)))
		h.Set("X-Total-Pages", strconv.Itoa(pages))
		h.Set("X-Next-Page", "")
		if page < pages {
			h.Set("X-Next-Page", strconv.Itoa(page+1))
		}
		JSON(w, http.StatusOK, out)
		return true
	}
}

// RateLimit answers every every-th API request (n, counted by the server)
// 429 with GitLab's headers: Retry-After (wait, whole seconds),
// RateLimit-Limit, -Observed, -Remaining (0), -Reset (Unix seconds) and
// -ResetTime (an HTTP date). It remembers each refused call (method, path
// and query) and, when that call comes again, how long after: Honoured
// says whether every one came back no sooner than asked. next, when not
// nil, is asked for the requests it does not refuse.
type RateLimit struct {
	Every int
	Wait  time.Duration

	mu       sync.Mutex
	refused  map[string]time.Time // call → when it was refused, until it comes again
	count    int
	returns  int
	early    int
	minGap   time.Duration
	maxGap   time.Duration
	pathways map[string]int // refusals by kind of call
}

// Fault is the FaultFunc of the limit.
func (l *RateLimit) Fault(next FaultFunc) FaultFunc {
	return func(w http.ResponseWriter, r *http.Request, n int) bool {
		call := r.Method + " " + r.URL.EscapedPath() + "?" + r.URL.RawQuery
		now := time.Now()
		l.mu.Lock()
		if at, ok := l.refused[call]; ok {
			delete(l.refused, call)
			gap := now.Sub(at)
			l.returns++
			if gap < l.Wait {
				l.early++
			}
			if l.returns == 1 || gap < l.minGap {
				l.minGap = gap
			}
			l.maxGap = max(l.maxGap, gap)
		}
		refuse := l.Every > 0 && n%l.Every == 0
		if refuse {
			if l.refused == nil {
				l.refused, l.pathways = map[string]time.Time{}, map[string]int{}
			}
			l.refused[call] = now
			l.count++
			l.pathways[callKind(r.Method, r.URL.EscapedPath())]++
		}
		l.mu.Unlock()
		if !refuse {
			return next != nil && next(w, r, n)
		}
		secs := max(int(l.Wait/time.Second), 1)
		reset := now.Add(time.Duration(secs) * time.Second)
		h := w.Header()
		h.Set("Retry-After", strconv.Itoa(secs))
		h.Set("RateLimit-Name", "throttle_authenticated_api")
		h.Set("RateLimit-Limit", "600")
		h.Set("RateLimit-Observed", "601")
		h.Set("RateLimit-Remaining", "0")
		h.Set("RateLimit-Reset", strconv.FormatInt(reset.Unix(), 10))
		h.Set("RateLimit-ResetTime", reset.UTC().Format(http.TimeFormat))
		w.Header().Set("Content-Type", "text/plain")
		w.WriteHeader(http.StatusTooManyRequests)
		_, _ = w.Write([]byte("Retry later\n"))
		return true
	}
}

// Report is what the limit saw.
func (l *RateLimit) Report() map[string]any {
	l.mu.Lock()
	defer l.mu.Unlock()
	return map[string]any{
		"refused": l.count, "refused_by_call": l.pathways, "came_again": l.returns, "came_again_early": l.early,
		"never_came_again": len(l.refused), "wait_ms": l.Wait.Milliseconds(),
		"min_gap_ms": l.minGap.Milliseconds(), "max_gap_ms": l.maxGap.Milliseconds(),
	}
}

// callKind names an API call without its ids, for counts.
func callKind(method, path string) string {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v4/"), "/")
	for i := range parts {
		if i%2 == 1 {
			parts[i] = ":id"
		}
	}
	return method + " /" + strings.Join(parts, "/")
}

// BenchReport counts the API calls the server has seen: those about one
// merge request (reads and writes, by merge request "project/iid": the
// merge request, its status checks and label events, its pipelines' jobs
// and bridges, a job's retry), list pages, per-project lookups and the
// rest; and the retries accepted per merge request.
func (s *Server) BenchReport() map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.ci.init()
	type counts struct {
		Reads  int            `json:"reads"`
		Writes int            `json:"writes"`
		Calls  map[string]int `json:"calls"`
	}
	mrs := map[string]*counts{}
	other := map[string]int{}
	at := func(project, iid int64, read bool, kind string) {
		k := fmt.Sprintf("%d/%d", project, iid)
		c := mrs[k]
		if c == nil {
			c = &counts{Calls: map[string]int{}}
			mrs[k] = c
		}
		if read {
			c.Reads++
		} else {
			c.Writes++
		}
		c.Calls[kind]++
	}
	for _, r := range s.requests {
		kind := callKind(r.Method, r.Path)
		parts := strings.Split(strings.TrimPrefix(r.Path, "/api/v4/"), "/")
		project := int64(0)
		if len(parts) >= 2 && parts[0] == "projects" {
			key, _ := url.PathUnescape(parts[1])
			project = s.ids[key]
		}
		read := r.Method == http.MethodGet
		switch {
		case isMergeRequestList(r.Path):
			other["list pages"]++
		case project != 0 && len(parts) >= 4 && parts[2] == "merge_requests":
			iid, _ := strconv.ParseInt(parts[3], 10, 64)
			at(project, iid, read, kind)
		case project != 0 && len(parts) >= 5 && parts[2] == "pipelines":
			pid, _ := strconv.ParseInt(parts[3], 10, 64)
			if p := s.ci.pipelines[pid]; p != nil {
				at(p.mrProject, p.iid, read, kind)
			} else {
				other[kind]++
			}
		case project != 0 && len(parts) >= 4 && parts[2] == "jobs":
			jid, _ := strconv.ParseInt(parts[3], 10, 64)
			if j := s.ci.jobs[jid]; j != nil {
				p := s.ci.pipelines[j.PipelineID]
				at(p.mrProject, p.iid, read, kind)
			} else {
				other[kind]++
			}
		default:
			other[kind]++
		}
	}
	retries := map[string]int{}
	for k, n := range s.ci.retries {
		retries[fmt.Sprintf("%d/%d", k.project, k.iid)] = n
	}
	return map[string]any{"total": len(s.requests), "other": other, "mrs": mrs, "retries": retries}
}
