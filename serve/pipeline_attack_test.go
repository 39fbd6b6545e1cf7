package serve

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"testing"
)

// bigPipeline is pipelineEventBody with n builds in GitLab's shape, the
// label job's newest attempt (status) last but one.
func bigPipeline(t *testing.T, iid int64, n int, status string) []byte {
	t.Helper()
	var ev map[string]any
	if err := json.Unmarshal(pipelineEventBody(t, iid, "lint", "success"), &ev); err != nil {
		t.Fatal(err)
	}
	tmpl := ev["builds"].([]any)[0].(map[string]any)
	tmpl["name"], tmpl["status"] = "NAME", "STATUS"
	one, err := json.Marshal(tmpl)
	if err != nil {
		t.Fatal(err)
	}
	ev["builds"] = []any{}
	rest, err := json.Marshal(ev)
	if err != nil {
		t.Fatal(err)
	}
	var builds []string
	for i := range n {
		name, st := fmt.Sprintf("test %d/%d", i, n), "success"
		switch i {
		case 10:
			name, st = jobName, "failed" // an older attempt
		case n - 2:
			name, st = jobName, status
		}
		builds = append(builds, strings.NewReplacer(`"NAME"`, strconv.Quote(name), `"STATUS"`, strconv.Quote(st)).Replace(string(one)))
	}
	out := []byte(strings.Replace(string(rest), `"builds":[]`, `"builds":[`+strings.Join(builds, ",")+`]`, 1))
	return out
}

// A pipeline event is read for the label job's newest attempt, whatever
// the number of builds (24,000: 17 MB, GitLab's shape); builds that are
// not GitLab's are a bad request.
func TestBigPipelineEvent(t *testing.T) {
	s := &service{cfg: testConfig(newStandIn(t))}
	body := bigPipeline(t, 9, 24000, "success")
	task, no := s.parsePipeline(body)
	if no != nil || task == nil || task.Key.IID != 9 || task.Key.Project != project {
		t.Fatalf("%d bytes, 24,000 builds, the label job's newest attempt succeeded: %+v %+v, want merge request 9 queued", len(body), task, no)
	}
	if _, no := s.parsePipeline(bigPipeline(t, 9, 50, "running")); no == nil || no.outcome != outcomeIgnored {
		t.Errorf("the label job's newest attempt running: %+v, want ignored", no)
	}
	for _, builds := range []string{`null`, `[]`} {
		var ev map[string]any
		_ = json.Unmarshal(pipelineEventBody(t, 9, "lint", "success"), &ev)
		ev["builds"] = json.RawMessage(builds)
		b, _ := json.Marshal(ev)
		if _, no := s.parsePipeline(b); no == nil || no.outcome != outcomeIgnored {
			t.Errorf("builds %s: %+v, want ignored (no label job)", builds, no)
		}
	}
	var ev map[string]any
	_ = json.Unmarshal(pipelineEventBody(t, 9, jobName, "failed"), &ev)
	ev["builds"] = json.RawMessage(`[{"name":1}]`)
	b, _ := json.Marshal(ev)
	if _, no := s.parsePipeline(b); no == nil || no.outcome != outcomeBadRequest {
		t.Errorf("a build that is not one: %+v, want bad_request", no)
	}
}
