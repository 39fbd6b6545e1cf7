package bench

import (
	"encoding/json"
	"net/http"
	"testing"
	"time"

	"gitlab.com/echoeshq/echoes-labels/internal/gitlabtest"
)

func TestBenchGroupListsByUpdateAndRateLimits(t *testing.T) {
	s := gitlabtest.New(t)
	mrs := AddGroup(s, GroupOptions{GroupID: 9, GroupPath: "g", MRs: 200, Projects: 4, CheckProjects: 1,
		Passing: []string{"backend", "echoes/intent/feature"}, Failing: []string{"backend"}})
	kinds := map[string]int{}
	for _, mr := range mrs {
		kinds[mr.Kind]++
	}
	if kinds[RetryPass] != 4 || kinds[RetryFail] != 4 || kinds[Nothing] != 192 {
		t.Fatalf("kinds %v", kinds)
	}
	limit := &RateLimit{Every: 3, Wait: time.Second}
	s.SetFault(limit.Fault(nil))
	get := func(url string) (*http.Response, []map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, s.APIURL()+url, nil)
		req.Header.Set("PRIVATE-TOKEN", "t")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out []map[string]any
		_ = json.NewDecoder(resp.Body).Decode(&out)
		return resp, out
	}
	var last time.Time
	seen := 0
	for page := 1; page <= 2; page++ {
		resp, out := get("/groups/g/merge_requests?state=opened&order_by=updated_at&sort=asc&per_page=100&page=" + string(rune('0'+page)))
		if resp.StatusCode != http.StatusOK || len(out) != 100 {
			t.Fatalf("page %d: %d, %d items", page, resp.StatusCode, len(out))
		}
		for _, mr := range out {
			at := updatedAt(mr)
			if at.Before(last) {
				t.Fatalf("page %d: %v before %v", page, at, last)
			}
			last = at
			seen++
		}
	}
	resp, _ := get("/user")
	if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") != "1" || resp.Header.Get("RateLimit-Remaining") != "0" || resp.Header.Get("RateLimit-Reset") == "" {
		t.Fatalf("request 3: %d %v", resp.StatusCode, resp.Header)
	}
	if resp, _ := get("/user"); resp.StatusCode != http.StatusOK {
		t.Fatalf("request 4: %d", resp.StatusCode)
	}
	if r := limit.Report(); r["refused"] != 1 || r["came_again_early"] != 1 {
		t.Fatalf("report %v", r)
	}
	if got := Report(s, mrs)["other"].(map[string]int)["list pages"]; got != 2 || seen != 200 {
		t.Fatalf("list pages %d, seen %d", got, seen)
	}
}

func updatedAt(mr map[string]any) time.Time {
	s, _ := mr["updated_at"].(string)
	t, _ := time.Parse(time.RFC3339Nano, s)
	return t
}
