package serve

import "gitlab.com/echoeshq/echoes-labels/gitlabapi"

// listed gives a swept merge request's task what the list said of it, for
// the worker of today, which decides from the task's labels and state.
//
// Transitional: once the worker reads each merge request from GitLab
// (labels, sha, head pipeline) and the task is only its key, path and
// deliveries, delete this file and the call in sweep.
func listed(t *task, mr gitlabapi.MergeRequestInfo) {
	t.labels, t.state = mr.Labels, mr.State
	if !mr.UpdatedAt.IsZero() {
		// The webhook's format, so that merge() compares like with like.
		t.updated = mr.UpdatedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	}
}
