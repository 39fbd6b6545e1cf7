package main

// -sweep-report: the figures and gates of bench/sweep.sh, from the
// stand-in's GET /_bench after `echoes-labels reconcile` swept its group.

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"time"
)

type benchReport struct {
	Total   int            `json:"total"`
	Other   map[string]int `json:"other"`
	Retries map[string]int `json:"retries"`
	Plan    map[string]string
	MRs     map[string]struct {
		Reads  int            `json:"reads"`
		Writes int            `json:"writes"`
		Calls  map[string]int `json:"calls"`
	} `json:"mrs"`
	RateLimit *struct {
		Refused        int            `json:"refused"`
		RefusedByCall  map[string]int `json:"refused_by_call"`
		CameAgain      int            `json:"came_again"`
		CameAgainEarly int            `json:"came_again_early"`
		NeverCameAgain int            `json:"never_came_again"`
		WaitMS         int64          `json:"wait_ms"`
		MinGapMS       int64          `json:"min_gap_ms"`
		MaxGapMS       int64          `json:"max_gap_ms"`
	} `json:"rate_limit"`
}

// sweepReport prints what the sweep cost and did, and fails past the
// gates: more than maxReads reads of one merge request (when strict: a
// run without a rate limit, whose refused calls come again and count), a
// needed retry missing or doubled, a retry not needed, a merge request
// never looked at, a refused call that came back sooner than asked.
func sweepReport(root string, maxReads int, strict bool, stdout io.Writer) error {
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Get(strings.TrimRight(root, "/") + "/_bench")
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var r benchReport
	if err := json.NewDecoder(resp.Body).Decode(&r); err != nil {
		return err
	}
	var failed []string
	type tally struct{ mrs, reads, writes, maxReads, maxCalls int }
	kinds := map[string]*tally{}
	perMR := 0
	unseen := 0
	callsOf := map[string]int{}
	for key, kind := range r.Plan {
		t := kinds[kind]
		if t == nil {
			t = &tally{}
			kinds[kind] = t
		}
		c, ok := r.MRs[key]
		if !ok {
			unseen++
			continue
		}
		t.mrs++
		t.reads += c.Reads
		t.writes += c.Writes
		t.maxReads = max(t.maxReads, c.Reads)
		t.maxCalls = max(t.maxCalls, c.Reads+c.Writes)
		perMR += c.Reads + c.Writes
		for k, n := range c.Calls {
			callsOf[k] += n
		}
	}
	var rt retryTally
	for key, kind := range r.Plan {
		rt.add(kind != "nothing", r.Retries[key])
	}
	other := 0
	var otherParts []string
	for k, n := range r.Other {
		other += n
		otherParts = append(otherParts, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(otherParts)
	fmt.Fprintf(stdout, "GitLab calls        %d in all: %d about one merge request, %d others (%s)\n", r.Total, perMR, other, strings.Join(otherParts, ", "))
	var callParts []string
	for k, n := range callsOf {
		callParts = append(callParts, fmt.Sprintf("%s %d", k, n))
	}
	slices.Sort(callParts)
	fmt.Fprintf(stdout, "  by call           %s\n", strings.Join(callParts, ", "))
	names := []string{"nothing", "retry-pass", "retry-fail"}
	for _, k := range names {
		t := kinds[k]
		if t == nil || t.mrs == 0 {
			continue
		}
		fmt.Fprintf(stdout, "  %-17s %d merge requests: reads %.2f a merge request (max %d), writes %.2f (all calls max %d)\n",
			k, t.mrs, float64(t.reads)/float64(t.mrs), t.maxReads, float64(t.writes)/float64(t.mrs), t.maxCalls)
		if strict && t.maxReads > maxReads {
			failed = append(failed, fmt.Sprintf("a %s merge request took %d reads (target ≤ %d)", k, t.maxReads, maxReads))
		}
	}
	fmt.Fprintf(stdout, "retries             %d of %d needed exactly once, %d more than once, %d missing, %d not needed\n", rt.once, rt.want, rt.twice, rt.missing, rt.wrong)
	if unseen > 0 {
		failed = append(failed, fmt.Sprintf("%d merge requests never looked at", unseen))
	}
	if !rt.right() {
		failed = append(failed, "a needed retry missing or doubled, or one not needed")
	}
	if l := r.RateLimit; l != nil {
		var parts []string
		for k, n := range l.RefusedByCall {
			parts = append(parts, fmt.Sprintf("%s %d", k, n))
		}
		slices.Sort(parts)
		fmt.Fprintf(stdout, "429 answers         %d (Retry-After %d s, RateLimit-Reset, -Remaining 0; %s)\n", l.Refused, l.WaitMS/1000, strings.Join(parts, ", "))
		fmt.Fprintf(stdout, "  came again        %d of them, none sooner than asked: %v (gap min %d ms, max %d ms); never again: %d\n",
			l.CameAgain, l.CameAgainEarly == 0, l.MinGapMS, l.MaxGapMS, l.NeverCameAgain)
		if l.CameAgainEarly > 0 {
			failed = append(failed, fmt.Sprintf("%d refused calls came again sooner than Retry-After", l.CameAgainEarly))
		}
		if l.NeverCameAgain > 0 {
			failed = append(failed, fmt.Sprintf("%d refused calls never came again", l.NeverCameAgain))
		}
	}
	if len(failed) > 0 {
		return fmt.Errorf("FAIL: %s", strings.Join(failed, "; "))
	}
	return nil
}

// retryTally counts, over the merge requests, the label job retries the
// stand-in saw against those that were needed.
type retryTally struct{ want, once, twice, missing, wrong int }

// add counts one merge request whose label job was retried n times;
// needed says whether one retry was due.
func (t *retryTally) add(needed bool, n int) {
	switch {
	case !needed:
		if n != 0 {
			t.wrong++
		}
		return
	case n == 1:
		t.once++
	case n > 1:
		t.twice++
	default:
		t.missing++
	}
	t.want++
}

// right says whether every needed retry came exactly once and no other.
func (t *retryTally) right() bool {
	return t.once == t.want && t.twice == 0 && t.missing == 0 && t.wrong == 0
}
