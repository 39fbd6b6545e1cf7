package serve

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"

	gitlab "gitlab.com/gitlab-org/api/client-go/v2"
)

// statusCheckRequest is a merge request event with the extra field GitLab
// adds when it asks an external status check (docs.gitlab.com, "External
// Status Checks API", example payload sent to external service).
type statusCheckRequest struct {
	gitlab.MergeEvent
	ExternalApprovalRule *struct {
		ID   int64  `json:"id"`
		Name string `json:"name"`
	} `json:"external_approval_rule"`
}

// webhook answers POST /webhook. It authenticates, parses and queues, and
// never waits for GitLab: its answer comes in well under GitLab's timeout
// whatever GitLab's API does, since a webhook that keeps failing gets
// disabled.
func (s *service) webhook(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	d := delivery{id: deliveryID(r), received: start}
	answer := func(code int, outcome, msg string, attrs ...any) {
		defer func() { s.metrics.answer.UpdateDuration(start) }()
		s.metrics.deliveries.Inc(outcome)
		if outcome != outcomeQueued && outcome != outcomeCoalesced {
			s.log.Info("delivery", append([]any{"delivery", d.id, "outcome", outcome, "status", code,
				"duration_ms", ms(time.Since(start))}, attrs...)...)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		w.WriteHeader(code)
		_, _ = io.WriteString(w, msg+"\n")
	}
	if r.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		answer(http.StatusMethodNotAllowed, outcomeBadMethod, "POST merge request events here")
		return
	}

	// The token is checked before the body is read; a signature needs it.
	token, signature := r.Header.Get("X-Gitlab-Token"), r.Header.Get("X-Gitlab-Signature")
	if token == "" && signature == "" {
		answer(http.StatusUnauthorized, outcomeUnauthorized, "missing X-Gitlab-Token")
		return
	}
	if token != "" && !equalSecret(token, s.cfg.secret) {
		answer(http.StatusUnauthorized, outcomeUnauthorized, "wrong X-Gitlab-Token")
		return
	}
	// Status check requests carry no X-Gitlab-Event; webhooks always do.
	// Another kind is acknowledged unread, so that no big pipeline or push
	// event meets the body cap and counts as a failure against the hook.
	event := gitlab.HookEventType(r)
	ignore := func() {
		answer(http.StatusOK, outcomeIgnored, "ignored: not a merge request event", "event", clip(string(event)))
	}
	otherKind := event != "" && event != gitlab.EventTypeMergeRequest
	if token != "" && otherKind {
		ignore()
		return
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, s.cfg.maxBody))
	if err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			answer(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body too large")
			return
		}
		answer(http.StatusBadRequest, outcomeBadRequest, "cannot read the body")
		return
	}
	if token == "" && !validSignature(signature, body, s.cfg.secret) {
		answer(http.StatusUnauthorized, outcomeUnauthorized, "wrong X-Gitlab-Signature")
		return
	}
	if otherKind {
		ignore()
		return
	}
	var ev statusCheckRequest
	if err := json.Unmarshal(body, &ev); err != nil || ev.ObjectKind != "merge_request" ||
		ev.Project.ID <= 0 || ev.ObjectAttributes.IID <= 0 {
		answer(http.StatusBadRequest, outcomeBadRequest, "not a merge request event")
		return
	}
	t := &task{
		key:        mrKey{ev.Project.ID, ev.ObjectAttributes.IID},
		path:       clip(ev.Project.PathWithNamespace),
		labels:     eventLabels(&ev.MergeEvent),
		updated:    ev.ObjectAttributes.UpdatedAt,
		state:      ev.ObjectAttributes.State,
		deliveries: []delivery{d},
	}
	if ev.ExternalApprovalRule != nil && ev.ExternalApprovalRule.ID > 0 {
		sha := ev.ObjectAttributes.LastCommit.ID
		if sha == "" {
			answer(http.StatusBadRequest, outcomeBadRequest, "status check request without object_attributes.last_commit.id")
			return
		}
		t.checks = map[int64]string{ev.ExternalApprovalRule.ID: sha}
	}
	merged, ok := s.queue.push(t)
	switch {
	case !ok:
		// Full (or stopping): GitLab still hears yes, since the fault is
		// ours; the reconcile will look at this merge request again.
		answer(http.StatusAccepted, outcomeDropped, "accepted; the queue is full, the reconcile will catch up",
			"project", t.path, "mr", t.key.iid)
	case merged:
		answer(http.StatusAccepted, outcomeCoalesced, "accepted")
	default:
		answer(http.StatusAccepted, outcomeQueued, "accepted")
	}
}

// eventLabels are the merge request's labels after the change the event
// reports.
func eventLabels(ev *gitlab.MergeEvent) []string {
	src := ev.ObjectAttributes.Labels
	if src == nil {
		src = ev.Labels
	}
	out := make([]string, 0, len(src))
	for _, l := range src {
		if l != nil {
			out = append(out, l.Title)
		}
	}
	return out
}

// equalSecret compares in constant time; hashing first hides the length.
func equalSecret(got string, secret []byte) bool {
	a, b := sha256.Sum256([]byte(got)), sha256.Sum256(secret)
	return subtle.ConstantTimeCompare(a[:], b[:]) == 1
}

// validSignature checks X-Gitlab-Signature: the hex HMAC-SHA256 of the body
// keyed with the status check's shared secret (GitLab's
// ExternalStatusChecks::DispatchService, OpenSSL::HMAC.hexdigest).
func validSignature(sig string, body, secret []byte) bool {
	got, err := hex.DecodeString(strings.TrimPrefix(strings.TrimSpace(sig), "sha256="))
	if err != nil {
		return false
	}
	mac := hmac.New(sha256.New, secret)
	mac.Write(body)
	return hmac.Equal(got, mac.Sum(nil))
}

// deliveryID is GitLab's id of the delivery, clipped: it is untrusted.
func deliveryID(r *http.Request) string {
	if id := r.Header.Get("X-Gitlab-Event-UUID"); id != "" {
		return clip(id)
	}
	return "none"
}

// clip bounds an untrusted string before it reaches the log.
func clip(s string) string {
	if len(s) > 128 {
		s = s[:128]
	}
	return strings.ToValidUTF8(s, "?")
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// logTask writes the one line per delivery of a task that was worked on.
func (s *service) logTask(t *task, verdict, action, detail string, took time.Duration) {
	level := slog.LevelInfo
	if action == "gave_up" || action == "abandoned" {
		level = slog.LevelWarn
	}
	for _, d := range t.deliveries {
		s.log.Log(context.Background(), level, "delivery", "delivery", d.id, "project", t.path, "project_id", t.key.project,
			"mr", t.key.iid, "verdict", verdict, "action", action, "detail", detail,
			"batch", len(t.deliveries)+t.dropped, "duration_ms", ms(time.Since(d.received)), "work_ms", ms(took))
	}
	if t.dropped > 0 {
		s.log.Log(context.Background(), level, "deliveries merged without a line of their own", "project", t.path, "mr", t.key.iid, "count", t.dropped)
	}
}
