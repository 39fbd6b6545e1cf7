// Package bench is the part of the stand-in GitLab (internal/gitlabtest)
// that only bench/sweep.sh uses, through the standin command: a group of
// thousands of open merge requests made in one go, a rate limit answering
// 429 with GitLab's headers, and a report of the calls made per merge
// request. It is built on the stand-in's exported API alone.
package bench

import (
	"cmp"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

// Kinds of the merge requests AddGroup makes.
const (
	Nothing   = "nothing"    // labels pass, label job succeeded: nothing to do
	RetryPass = "retry-pass" // label job failed, labels made to pass after it: retry once
	RetryFail = "retry-fail" // label job succeeded, a label removed after it so they fail: retry once
)

// MR is one merge request of a bench group.
type MR struct {
	Project int64
	IID     int64
	Kind    string
}

// GroupOptions describe a bench group.
type GroupOptions struct {
	GroupID       int64
	GroupPath     string
	MRs           int      // open merge requests in all
	Projects      int      // spread over this many projects (ids from 1001, paths GroupPath/p1 …)
	CheckProjects int      // the first this many projects have an external status check named CheckName
	CheckName     string   // default echoes-labels
	JobName       string   // the label job, default echoes-labels
	Passing       []string // labels that pass the rules
	Failing       []string // labels that fail them
	Every         int      // one merge request in Every is RetryPass, one other RetryFail (default 50)
}

// AddGroup makes a group of o.MRs open merge requests, each with a merge
// request pipeline as its head pipeline holding the label job. Most need
// nothing (labels pass, job succeeded); in each project, one in o.Every
// failed and got passing labels after the job started, and one in o.Every
// succeeded and lost a label after it. Where the project has a status
// check, each merge request has a response for its head commit: the
// verdict of the labels the job read (so the changed ones need a new
// answer). Each merge request is updated a second apart from the next,
// oldest first. It returns the merge requests made.
func AddGroup(s *gitlabtest.Server, o GroupOptions) []MR {
	o.Projects = max(o.Projects, 1)
	o.Every = cmp.Or(o.Every, 50)
	o.CheckName = cmp.Or(o.CheckName, "echoes-labels")
	o.JobName = cmp.Or(o.JobName, "echoes-labels")
	ids := make([]int64, o.Projects)
	paths := make([]string, o.Projects)
	checks := map[int64]int64{}
	for p := range ids {
		ids[p], paths[p] = int64(1001+p), fmt.Sprintf("%s/p%d", o.GroupPath, p+1)
		if p < o.CheckProjects {
			checks[ids[p]] = s.AddStatusCheck(ids[p], paths[p], o.CheckName)
		}
	}
	s.AddGroup(o.GroupID, o.GroupPath, ids...)
	base := time.Now().UTC().Add(-time.Duration(o.MRs+1) * time.Second).Truncate(time.Second)
	out := make([]MR, 0, o.MRs)
	for i := range o.MRs {
		id, path := ids[i%o.Projects], paths[i%o.Projects]
		iid := int64(i/o.Projects + 1)
		kind := Nothing
		switch (iid + int64(i%o.Projects)) % int64(o.Every) {
		case 7:
			kind = RetryPass
		case 7 + int64(o.Every/2):
			kind = RetryFail
		}
		before, status, after, verdict := o.Passing, "success", o.Passing, "passed"
		switch kind {
		case RetryPass:
			before, status, verdict = o.Failing, "failed", "failed"
		case RetryFail:
			after = o.Failing
		}
		s.SetLabels(id, path, iid, before...)
		s.AddPipeline(id, path, iid, gitlabtest.Job{Name: "build", Status: "success"}, gitlabtest.Job{Name: o.JobName, Status: status})
		if check, ok := checks[id]; ok {
			s.AnswerStatusCheck(id, path, iid, check, verdict)
		}
		s.SetLabels(id, path, iid, after...)
		s.SetUpdatedAt(id, path, iid, base.Add(time.Duration(i)*time.Second))
		out = append(out, MR{Project: id, IID: iid, Kind: kind})
	}
	return out
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
func (l *RateLimit) Fault(next gitlabtest.FaultFunc) gitlabtest.FaultFunc {
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
		h.Set("Retry-After", fmt.Sprint(secs))
		h.Set("RateLimit-Name", "throttle_authenticated_api")
		h.Set("RateLimit-Limit", "600")
		h.Set("RateLimit-Observed", "601")
		h.Set("RateLimit-Remaining", "0")
		h.Set("RateLimit-Reset", fmt.Sprint(reset.Unix()))
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

// isMergeRequestList is true for /api/v4/{projects,groups}/:id/merge_requests.
func isMergeRequestList(path string) bool {
	parts := strings.Split(strings.TrimPrefix(path, "/api/v4/"), "/")
	return len(parts) == 3 && (parts[0] == "projects" || parts[0] == "groups") && parts[2] == "merge_requests"
}

// Report counts the API calls s has seen: those about one merge request
// (reads and writes, by merge request "project/iid": the merge request,
// its status checks and label events, its pipelines' jobs and bridges, a
// job's retry), list pages and the rest; and the retries accepted for each
// merge request of mrs.
func Report(s *gitlabtest.Server, mrs []MR) map[string]any {
	type counts struct {
		Reads  int            `json:"reads"`
		Writes int            `json:"writes"`
		Calls  map[string]int `json:"calls"`
	}
	byMR := map[string]*counts{}
	other := map[string]int{}
	requests := s.Requests()
	for _, r := range requests {
		kind := callKind(r.Method, r.Path)
		project, iid, ok := s.MergeRequestOf(r.Path)
		switch {
		case isMergeRequestList(r.Path):
			other["list pages"]++
		case ok:
			k := fmt.Sprintf("%d/%d", project, iid)
			c := byMR[k]
			if c == nil {
				c = &counts{Calls: map[string]int{}}
				byMR[k] = c
			}
			if r.Method == http.MethodGet {
				c.Reads++
			} else {
				c.Writes++
			}
			c.Calls[kind]++
		default:
			other[kind]++
		}
	}
	retries := map[string]int{}
	for _, mr := range mrs {
		if n := s.Retries(mr.Project, mr.IID); n > 0 {
			retries[fmt.Sprintf("%d/%d", mr.Project, mr.IID)] = n
		}
	}
	return map[string]any{"total": len(requests), "other": other, "mrs": byMR, "retries": retries}
}
