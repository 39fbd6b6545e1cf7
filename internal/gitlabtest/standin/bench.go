package main

// The flags of bench/sweep.sh: a group of thousands of open merge requests
// (-group-mrs), a rate
// limit (-rate-limit-every), and GET /_bench, which reports the calls made
// per merge request, the retries, what each merge request needed and what
// the rate limit saw.

import (
	"flag"
	"fmt"
	"net/http"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest/bench"
)

type benchConfig struct {
	groupMRs, groupProjects, groupChecks, groupEvery int
	groupID                                          int64
	groupPath                                        string
	rateEvery                                        int
	rateWait                                         time.Duration
}

func (b *benchConfig) register(fs *flag.FlagSet) {
	fs.IntVar(&b.groupMRs, "group-mrs", 0, "make a group of this many open merge requests, each with a head pipeline holding the label job echoes-labels (bench/sweep.sh; GET /_bench reports)")
	fs.Int64Var(&b.groupID, "group-id", 900, "-group-mrs: the group's id")
	fs.StringVar(&b.groupPath, "group-path", "bench", "-group-mrs: the group's path (its projects are PATH/p1 …, ids from 1001)")
	fs.IntVar(&b.groupProjects, "group-projects", 10, "-group-mrs: spread over this many projects")
	fs.IntVar(&b.groupChecks, "group-checks", 4, "-group-mrs: the first this many projects have an external status check named echoes-labels")
	fs.IntVar(&b.groupEvery, "group-every", 50, "-group-mrs: one merge request in this many failed and got passing labels after, one other succeeded and lost a label after")
	fs.IntVar(&b.rateEvery, "rate-limit-every", 0, "answer every this-many-th API request 429 with Retry-After and RateLimit-* headers (0: never)")
	fs.DurationVar(&b.rateWait, "rate-limit-wait", time.Second, "-rate-limit-every: the Retry-After to send (whole seconds)")
}

func (b *benchConfig) check() error {
	switch {
	case b.groupMRs < 0 || b.groupMRs > 100_000:
		return fmt.Errorf("-group-mrs %d: want 0 to 100000", b.groupMRs)
	case b.groupMRs > 0 && (b.groupProjects <= 0 || b.groupProjects > 100 || b.groupMRs/b.groupProjects >= 1000):
		return fmt.Errorf("-group-projects %d: want 1 to 100, and fewer than 1000 merge requests a project", b.groupProjects)
	case b.groupEvery < 4:
		return fmt.Errorf("-group-every %d: want 4 or more", b.groupEvery)
	case b.rateEvery < 0 || b.rateWait < time.Second || b.rateWait > time.Minute:
		return fmt.Errorf("-rate-limit-every %d, -rate-limit-wait %s: want 0 or more, and 1s to 1m", b.rateEvery, b.rateWait)
	}
	return nil
}

// setup makes the group and installs the faults; it returns the handler
// of GET /_bench around next.
func (b *benchConfig) setup(srv *gitlabtest.Server, next http.Handler) http.Handler {
	var plan map[string]string
	var mrs []bench.MR
	if b.groupMRs > 0 {
		mrs = bench.AddGroup(srv, bench.GroupOptions{
			GroupID: b.groupID, GroupPath: b.groupPath, MRs: b.groupMRs, Projects: b.groupProjects,
			CheckProjects: b.groupChecks, Every: b.groupEvery,
			Passing: []string{"backend", "echoes/intent/feature"}, Failing: []string{"backend"},
		})
		plan = make(map[string]string, len(mrs))
		for _, mr := range mrs {
			plan[fmt.Sprintf("%d/%d", mr.Project, mr.IID)] = mr.Kind
		}
	}
	var limit *bench.RateLimit
	if b.rateEvery > 0 {
		limit = &bench.RateLimit{Every: b.rateEvery, Wait: b.rateWait}
		srv.SetFault(limit.Fault(nil))
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/_bench" {
			next.ServeHTTP(w, r)
			return
		}
		out := bench.Report(srv, mrs)
		out["plan"] = plan
		if limit != nil {
			out["rate_limit"] = limit.Report()
		}
		gitlabtest.JSON(w, http.StatusOK, out)
	})
}
