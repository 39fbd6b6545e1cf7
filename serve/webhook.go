package serve

import (
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"time"
)

// mergeRequestEvent is the part of GitLab's merge request event that the
// service reads ("Merge request events" in GitLab's webhook docs), with
// the field GitLab adds when it asks an external status check ("External
// Status Checks API", example payload sent to external service).
type mergeRequestEvent struct {
	ObjectKind string `json:"object_kind"`
	Project    struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
	ObjectAttributes struct {
		IID        int64         `json:"iid"`
		State      string        `json:"state"`
		UpdatedAt  string        `json:"updated_at"`
		Labels     []*eventLabel `json:"labels"`
		LastCommit struct {
			ID string `json:"id"`
		} `json:"last_commit"`
	} `json:"object_attributes"`
	Labels               []*eventLabel `json:"labels"`
	ExternalApprovalRule *struct {
		ID int64 `json:"id"`
	} `json:"external_approval_rule"`
}

type eventLabel struct {
	Title string `json:"title"`
}

// eventMergeRequest is X-Gitlab-Event of a merge request event.
const eventMergeRequest = "Merge Request Hook"

// refusal is a delivery the service does not queue: the answer, the
// outcome it is counted under, and why, for the log.
type refusal struct {
	status  int
	outcome string // the deliveries metric's label
	message string // the answer's body; never echoes a header
	reason  string // for the log line
	event   string // X-Gitlab-Event of an ignored delivery, clipped
}

func refuse(status int, outcome, message, reason string) *refusal {
	return &refusal{status: status, outcome: outcome, message: message, reason: reason}
}

// parseDelivery authenticates and reads one delivery: a task to queue, or
// a refusal. The token is checked before the body is read; a signature
// needs the body. Deliveries of another kind are acknowledged unread, so
// that no big pipeline or push event meets the body cap and counts as a
// failure against the hook.
func parseDelivery(r *http.Request, secret []byte, maxBody int64) (*task, *refusal) {
	if r.Method != http.MethodPost {
		return nil, refuse(http.StatusMethodNotAllowed, outcomeBadMethod, "POST merge request events here", "method "+clip(r.Method))
	}
	token, signature := r.Header.Get("X-Gitlab-Token"), r.Header.Get("X-Gitlab-Signature")
	if token == "" && signature == "" {
		return nil, refuse(http.StatusUnauthorized, outcomeUnauthorized, "missing X-Gitlab-Token", "no X-Gitlab-Token and no X-Gitlab-Signature")
	}
	if token != "" && !equalSecret(token, secret) {
		return nil, refuse(http.StatusUnauthorized, outcomeUnauthorized, "wrong X-Gitlab-Token", "X-Gitlab-Token is not the webhook secret")
	}
	// Status check requests carry no X-Gitlab-Event; webhooks always do.
	event := r.Header.Get("X-Gitlab-Event")
	otherKind := event != "" && event != eventMergeRequest
	ignore := &refusal{status: http.StatusOK, outcome: outcomeIgnored, message: "ignored: not a merge request event",
		reason: "another event kind", event: clip(event)}
	if token != "" && otherKind {
		return nil, ignore
	}
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody+1))
	switch {
	case err != nil:
		return nil, refuse(http.StatusBadRequest, outcomeBadRequest, "cannot read the body", "reading the body: "+clip(err.Error()))
	case int64(len(body)) > maxBody:
		return nil, refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body too large", "the body is larger than the cap")
	}
	if token == "" && !validSignature(signature, body, secret) {
		return nil, refuse(http.StatusUnauthorized, outcomeUnauthorized, "wrong X-Gitlab-Signature", "X-Gitlab-Signature is not the body's HMAC with the secret")
	}
	if otherKind {
		return nil, ignore
	}
	var ev mergeRequestEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, refuse(http.StatusBadRequest, outcomeBadRequest, "not a merge request event", "the body is not a merge request event: "+clip(err.Error()))
	}
	if ev.ObjectKind != "merge_request" || ev.Project.ID <= 0 || ev.ObjectAttributes.IID <= 0 {
		return nil, refuse(http.StatusBadRequest, outcomeBadRequest, "not a merge request event",
			"object_kind "+clip(ev.ObjectKind)+" without a project id and a merge request iid")
	}
	t := &task{
		key:  mrKey{ev.Project.ID, ev.ObjectAttributes.IID},
		path: clip(ev.Project.PathWithNamespace),
	}
	if rule := ev.ExternalApprovalRule; rule != nil && rule.ID > 0 {
		sha := ev.ObjectAttributes.LastCommit.ID
		if sha == "" {
			return nil, refuse(http.StatusBadRequest, outcomeBadRequest, "status check request without object_attributes.last_commit.id",
				"a status check request without object_attributes.last_commit.id")
		}
		t.statusCheck = true
	}
	return t, nil
}

// webhook answers POST /webhook: it parses, counts, queues and answers,
// and never waits for GitLab: its answer comes in well under GitLab's
// timeout whatever GitLab's API does, since a webhook that keeps failing
// gets disabled.
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
	t, no := parseDelivery(r, s.cfg.secret, s.cfg.maxBody)
	if no != nil {
		if no.status == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		attrs := []any{"reason", no.reason}
		if no.outcome == outcomeIgnored {
			attrs = append(attrs, "event", no.event)
		}
		answer(no.status, no.outcome, no.message, attrs...)
		return
	}
	t.deliveries = []delivery{d}
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
