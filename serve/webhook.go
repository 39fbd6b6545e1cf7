package serve

import (
	"cmp"
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"gitlab.com/echoeshq/echoes-labels/rerun"
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
		IID int64 `json:"iid"`
	} `json:"object_attributes"`
	ExternalApprovalRule *struct {
		ID int64 `json:"id"`
	} `json:"external_approval_rule"`
}

// X-Gitlab-Event of the deliveries the service reads. A status check
// request carries no X-Gitlab-Event.
const (
	eventMergeRequest = "Merge Request Hook"
	eventJob          = "Job Hook"
	eventPipeline     = "Pipeline Hook"
	// eventSystem is an instance-wide system hook: its merge request
	// events have the merge request hook's shape (object_kind
	// merge_request); its other events (event_name) are not read.
	eventSystem = "System Hook"
)

// jobEvent is the part of GitLab's job event ("Job events") the service
// reads. The merge request's iid is only in the ref of a merge request
// pipeline (refs/merge-requests/IID/head, /merge, /train).
type jobEvent struct {
	ObjectKind  string `json:"object_kind"`
	Ref         string `json:"ref"`
	BuildName   string `json:"build_name"`
	BuildStatus string `json:"build_status"`
	ProjectID   int64  `json:"project_id"`
	Project     struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
}

// pipelineEvent is the part of GitLab's pipeline event ("Pipeline
// events") the service reads; merge_request is null for other pipelines,
// builds are the newest attempt of each job.
type pipelineEvent struct {
	ObjectKind   string `json:"object_kind"`
	MergeRequest *struct {
		IID             int64 `json:"iid"`
		TargetProjectID int64 `json:"target_project_id"`
	} `json:"merge_request"`
	Project struct {
		ID                int64  `json:"id"`
		PathWithNamespace string `json:"path_with_namespace"`
	} `json:"project"`
	Builds []struct {
		Name   string `json:"name"`
		Status string `json:"status"`
	} `json:"builds"`
}

// mergeRequestRef is the iid in a merge request pipeline's ref. Compiled
// on first use: a check, in the same binary, never needs it.
var mergeRequestRef = sync.OnceValue(func() *regexp.Regexp {
	return regexp.MustCompile(`^refs/merge-requests/([1-9][0-9]{0,18})/(head|merge|train)$`)
})

// refusal is a delivery the service does not queue: the answer, the
// outcome it is counted under, and why, for the log. Deliveries from an
// authenticated sender that are of no use are answered 2xx: GitLab counts
// every other answer against the hook, and a retry would not help.
type refusal struct {
	status     int
	outcome    string // the deliveries metric's label
	message    string // the answer's body; never echoes a header
	reason     string // for the log line
	event      string // X-Gitlab-Event, clipped
	retryAfter string // seconds, for a 503
	warn       bool   // logged at WARN: work refused that GitLab will not send again
}

func refuse(status int, outcome, message, reason string) *refusal {
	return &refusal{status: status, outcome: outcome, message: message, reason: reason}
}

// useless is an authenticated delivery the service cannot use: 200, its
// reason in the log.
func useless(outcome, message, reason string) *refusal {
	return refuse(http.StatusOK, outcome, message, reason)
}

// parseDelivery authenticates and reads one delivery: a task to queue, or
// a refusal. A valid X-Gitlab-Token is checked before the body is read,
// and its sender's body (up to cfg.maxBody, GitLab's own 25 MB) is read
// within the shared budget authBody. A request without one must be signed
// (X-Gitlab-Signature of a status check, or a Standard Webhooks
// signature): its body, up to cfg.maxSignedBody, is read into the fixed
// pool signedBody before the signature is checked; when the pool is full,
// the oldest slow body of the address holding the most makes room for it
// (takeFor), else it is refused. Deliveries of a kind the service does
// not read are acknowledged unread.
func (s *service) parseDelivery(w http.ResponseWriter, r *http.Request) (*rerun.Task, *refusal) {
	if r.Method != http.MethodPost {
		return nil, refuse(http.StatusMethodNotAllowed, outcomeBadMethod, "POST GitLab's events here", "method "+clip(r.Method))
	}
	event := r.Header.Get("X-Gitlab-Event")
	t, no := s.authenticateAndParse(w, r, event)
	if no != nil {
		no.event = clip(event)
	}
	return t, no
}

// scheme is how a delivery says who sent it, decided once from its
// headers: the secret token, checked before the body is read, or a
// signature of the body, checked once it is read.
type scheme int

const (
	byToken     scheme = iota // X-Gitlab-Token
	bySignature               // X-Gitlab-Signature: a status check request
	byStandard                // webhook-id, webhook-timestamp, webhook-signature: a signed webhook
)

// schemeOf decides the delivery's scheme, refusing what can be refused
// before the body is read: a wrong token, no credential at all, a
// Standard Webhooks delivery without its id or out of its time.
func (s *service) schemeOf(h http.Header) (scheme, *refusal) {
	switch {
	case h.Get("X-Gitlab-Token") != "":
		if !equalSecret(h.Get("X-Gitlab-Token"), s.cfg.secret) {
			return byToken, refuse(http.StatusUnauthorized, outcomeUnauthorized, "wrong X-Gitlab-Token", "X-Gitlab-Token is not the webhook secret")
		}
		return byToken, nil
	case h.Get("X-Gitlab-Signature") != "":
		return bySignature, nil
	case h.Get("webhook-signature") == "":
		return byToken, refuse(http.StatusUnauthorized, outcomeUnauthorized, "missing X-Gitlab-Token",
			"no X-Gitlab-Token, no X-Gitlab-Signature, no webhook-signature")
	}
	if reason := s.standardHeaders(h); reason != "" {
		return byStandard, refuse(http.StatusUnauthorized, outcomeUnauthorized, "bad webhook signature headers", reason)
	}
	return byStandard, nil
}

// verify checks a signed delivery's signature against its body; a
// token's sender was checked before the body was read.
func (s *service) verify(how scheme, h http.Header, body []byte) *refusal {
	switch {
	case how == bySignature && !validSignature(h.Get("X-Gitlab-Signature"), body, s.cfg.secret):
		return refuse(http.StatusUnauthorized, outcomeUnauthorized, "wrong X-Gitlab-Signature",
			"X-Gitlab-Signature is not the body's HMAC with the secret")
	case how == byStandard && !validStandardSignature(h, body, s.cfg.signingKey):
		return refuse(http.StatusUnauthorized, outcomeUnauthorized, "wrong webhook-signature",
			"no v1 webhook-signature is the HMAC of id.timestamp.body with the signing key")
	}
	return nil
}

// authenticateAndParse is parseDelivery past the method: the sender
// authenticated (schemeOf, then verify once the body is read within its
// budget), then the body parsed.
func (s *service) authenticateAndParse(w http.ResponseWriter, r *http.Request, event string) (*rerun.Task, *refusal) {
	how, no := s.schemeOf(r.Header)
	if no != nil {
		return nil, no
	}
	known := false
	switch event {
	case "", eventMergeRequest, eventJob, eventPipeline, eventSystem:
		known = true
	}
	if !known && how == byToken {
		// Nothing is done with it: acknowledged unread, so that no big
		// push event meets a body cap and counts against the hook.
		return nil, useless(outcomeIgnored, "ignored: not an event the service reads", "another event kind")
	}
	body, release, no := s.readDelivery(w, r, how == byToken)
	if no != nil {
		return nil, no
	}
	// The body's bytes stay reserved until it is decoded.
	defer release()
	if no := s.verify(how, r.Header, body); no != nil {
		return nil, no
	}
	// From here on the sender is GitLab: whatever is wrong is answered 2xx.
	if !known {
		return nil, useless(outcomeIgnored, "ignored: not an event the service reads", "another event kind")
	}
	var t *rerun.Task
	switch event {
	case eventJob:
		t, no = s.parseJob(body)
	case eventPipeline:
		t, no = s.parsePipeline(body)
	case eventSystem:
		t, no = parseSystemHook(body)
	default:
		t, no = parseMergeRequest(body)
	}
	if no != nil {
		return nil, no
	}
	// A first sieve on the payload's word, which only saves work: the
	// worker applies --watch to GitLab's path of the project id it acts
	// on. A fork's pipeline event names the target by id only: the
	// worker decides.
	if t.Path != "" && !s.engine.Allows(t.Key.Project, t.Path) {
		return nil, useless(outcomeIgnored, "ignored: the project is not in --watch",
			fmt.Sprintf("the payload's project %s (id %d) is outside --watch", strconv.Quote(clip(t.Path)), t.Key.Project))
	}
	return t, nil
}

// readDelivery reads the body within its budget: an authenticated
// sender's in the shared authBody (waiting a little for room), an unknown
// sender's in the fixed signedBody pool, within its address's share and
// as it comes in (refused when there is no room, even by ending an old
// body: takeFor). The bytes stay reserved until the caller calls
// release, once the body is parsed: what is reserved bounds what is held.
func (s *service) readDelivery(w http.ResponseWriter, r *http.Request, authenticated bool) (body []byte, release func(), no *refusal) {
	limit := s.cfg.maxSignedBody
	if authenticated {
		limit = s.cfg.maxBody
	}
	if r.ContentLength > limit {
		return nil, nil, refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body too large",
			fmt.Sprintf("Content-Length %d is past the cap of %d bytes", r.ContentLength, limit))
	}
	var err error
	if authenticated {
		budget, n := s.authBody, reservation(r, limit)
		ctx, cancel := context.WithTimeout(r.Context(), s.cfg.bodyWait)
		ok := budget.acquire(ctx, n)
		cancel()
		if !ok {
			// Refusing would count against the hook, and GitLab would not
			// send it again: acknowledged, logged at WARN, left to the sweep.
			no := refuse(http.StatusAccepted, outcomeOverloaded, "accepted unread: the service is busy; the sweep will catch up",
				fmt.Sprintf("no room to read %d bytes within %s (authenticated bodies being read take %d of %d)", n, s.cfg.bodyWait, budget.inUse(), budget.size))
			no.warn = true
			return nil, nil, no
		}
		release = sync.OnceFunc(func() { budget.release(n) })
		body, err = readBody(r, n, limit)
	} else {
		budget, key := s.signedBody, clientKey(r.RemoteAddr)
		rate := newMinRate(r.Body, http.NewResponseController(w), time.Now, s.cfg.bodyStall)
		rd := &reader{key: key, end: rate.preempt}
		if most := max(1, s.cfg.maxConns/8); !budget.enter(rd, most) {
			no := refuse(http.StatusServiceUnavailable, outcomeOverloaded, "busy: try again later",
				fmt.Sprintf("this address is already sending %d bodies not yet authenticated, the most it may", most))
			no.retryAfter = "10"
			return nil, nil, no
		}
		release = sync.OnceFunc(func() { budget.leave(rd) })
		body, err = readGrowing(rate, r.ContentLength, limit, func(n int64) bool {
			return budget.takeFor(r.Context(), rd, n)
		})
		budget.read(rd)
		if rate.ended.Load() { // ended in its Read (errPreempted) or while waiting for room (errNoRoom)
			release()
			no := refuse(http.StatusServiceUnavailable, outcomeOverloaded, "busy: try again later",
				fmt.Sprintf("ended after %s to make room in the full pool of bodies not yet authenticated: the oldest of the address holding the most",
					s.clock.Now().Sub(rd.start).Round(time.Millisecond)))
			no.retryAfter = "10"
			return nil, nil, no
		}
		if errors.Is(err, errNoRoom) {
			release()
			no := refuse(http.StatusServiceUnavailable, outcomeOverloaded, "busy: try again later",
				fmt.Sprintf("no room for the body in the pool of bodies not yet authenticated (%d of %d bytes taken, %d by this address, which may take %d)",
					budget.inUse(), budget.size, budget.heldBy(key), budget.share))
			no.retryAfter = "10"
			return nil, nil, no
		}
		if rate.cut {
			release()
			return nil, nil, refuse(http.StatusRequestTimeout, outcomeBadRequest, "the body came too slowly",
				fmt.Sprintf("the body came in under %d bytes a second, or took more than %s", minBodyRate, unauthenticatedReadTimeout))
		}
	}
	switch {
	case errors.Is(err, errTooLarge):
		release()
		return nil, nil, refuse(http.StatusRequestEntityTooLarge, outcomeTooLarge, "body too large",
			fmt.Sprintf("the body is past the cap of %d bytes", limit))
	case err != nil:
		release()
		return nil, nil, refuse(http.StatusBadRequest, outcomeBadRequest, "cannot read the body", "reading the body: "+clip(err.Error()))
	}
	return body, release, nil
}

// parseMergeRequest reads a merge request event or a status check request.
func parseMergeRequest(body []byte) (*rerun.Task, *refusal) {
	var ev mergeRequestEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, useless(outcomeBadRequest, "not a merge request event", "the body is not a merge request event: "+clip(err.Error()))
	}
	if ev.ObjectKind != "merge_request" || ev.Project.ID <= 0 || ev.ObjectAttributes.IID <= 0 {
		return nil, useless(outcomeBadRequest, "not a merge request event",
			"object_kind "+clip(ev.ObjectKind)+" without a project id and a merge request iid")
	}
	t := rerun.NewTask(rerun.Key{Project: ev.Project.ID, IID: ev.ObjectAttributes.IID}, ev.Project.PathWithNamespace, rerun.Delivery{})
	if rule := ev.ExternalApprovalRule; rule != nil && rule.ID > 0 {
		// The head commit the answer is for is read from GitLab, never
		// taken from the body.
		t.StatusCheck = true
	}
	return t, nil
}

// parseSystemHook reads a system hook delivery: a merge request event is
// read as a group hook's; any other (event_name project_create, push,
// ...) is acknowledged and ignored.
func parseSystemHook(body []byte) (*rerun.Task, *refusal) {
	var ev struct {
		ObjectKind string `json:"object_kind"`
		EventName  string `json:"event_name"`
	}
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, useless(outcomeBadRequest, "not a system hook event", "the body is not a system hook event: "+clip(err.Error()))
	}
	if ev.ObjectKind != "merge_request" {
		return nil, useless(outcomeIgnored, "ignored: not a merge request event",
			"a system hook event "+strconv.Quote(clip(cmp.Or(ev.EventName, ev.ObjectKind)))+", not a merge request's")
	}
	return parseMergeRequest(body)
}

// parseJob reads a job event: the label job, finished, in a merge request
// pipeline names the merge request to look at.
func (s *service) parseJob(body []byte) (*rerun.Task, *refusal) {
	var ev jobEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, useless(outcomeBadRequest, "not a job event", "the body is not a job event: "+clip(err.Error()))
	}
	project := ev.ProjectID
	if project <= 0 {
		project = ev.Project.ID
	}
	if ev.ObjectKind != "build" || project <= 0 {
		return nil, useless(outcomeBadRequest, "not a job event", "object_kind "+clip(ev.ObjectKind)+" without a project id")
	}
	if ev.BuildName != s.cfg.engine.JobName {
		return nil, useless(outcomeIgnored, "ignored: not the label job", "job "+strconv.Quote(clip(ev.BuildName))+" is not --job-name")
	}
	m := mergeRequestRef().FindStringSubmatch(ev.Ref)
	if m == nil {
		return nil, useless(outcomeIgnored, "ignored: not a merge request pipeline",
			"ref "+strconv.Quote(clip(ev.Ref))+" is not refs/merge-requests/IID/head, /merge or /train")
	}
	if !rerun.Finished(ev.BuildStatus) {
		return nil, useless(outcomeIgnored, "ignored: the label job has not finished",
			"the label job is "+clip(ev.BuildStatus)+"; its end is another event")
	}
	iid, _ := strconv.ParseInt(m[1], 10, 64)
	// The event carries no target project: for a fork's pipeline project
	// is the fork, where merge request !iid is not (see jobEventsOnly).
	t := rerun.NewTask(rerun.Key{Project: project, IID: iid}, ev.Project.PathWithNamespace, rerun.Delivery{})
	t.JobEventsOnly = true
	return t, nil
}

// parsePipeline reads a pipeline event: a merge request's pipeline whose
// label job finished names the merge request to look at.
func (s *service) parsePipeline(body []byte) (*rerun.Task, *refusal) {
	var ev pipelineEvent
	if err := json.Unmarshal(body, &ev); err != nil {
		return nil, useless(outcomeBadRequest, "not a pipeline event", "the body is not a pipeline event: "+clip(err.Error()))
	}
	if ev.ObjectKind != "pipeline" || ev.Project.ID <= 0 {
		return nil, useless(outcomeBadRequest, "not a pipeline event", "object_kind "+clip(ev.ObjectKind)+" without a project id")
	}
	if ev.MergeRequest == nil || ev.MergeRequest.IID <= 0 {
		return nil, useless(outcomeIgnored, "ignored: not a merge request pipeline", "the pipeline has no merge_request")
	}
	status := ""
	for _, b := range ev.Builds {
		if b.Name == s.cfg.engine.JobName {
			status = b.Status
		}
	}
	switch {
	case status == "":
		return nil, useless(outcomeIgnored, "ignored: no label job in the pipeline", "builds hold no job named --job-name")
	case !rerun.Finished(status):
		return nil, useless(outcomeIgnored, "ignored: the label job has not finished",
			"the label job is "+clip(status)+"; its end is another event")
	}
	project, path := ev.Project.ID, ev.Project.PathWithNamespace
	if target := ev.MergeRequest.TargetProjectID; target > 0 && target != project {
		// A fork's pipeline: the merge request lives in the target project,
		// whose path the event does not give (merge_request has only its
		// id); --watch is applied by the worker, to GitLab's path.
		project, path = target, ""
	}
	return rerun.NewTask(rerun.Key{Project: project, IID: ev.MergeRequest.IID}, path, rerun.Delivery{}), nil
}

// webhook answers POST /webhook: it parses, counts, queues and answers,
// and never waits for GitLab: its answer comes in well under GitLab's
// timeout whatever GitLab's API does, since a webhook that keeps failing
// gets disabled.
func (s *service) webhook(w http.ResponseWriter, r *http.Request) {
	start := s.clock.Now()
	d := rerun.Delivery{ID: deliveryID(r), UUID: webhookUUID(r), Received: start}
	answer := func(code int, outcome, msg string, level slog.Level, attrs ...any) {
		defer func() { s.metrics.answer.Update(s.clock.Now().Sub(start).Seconds()) }()
		s.metrics.deliveries.Inc(outcome)
		if outcome != outcomeQueued && outcome != outcomeCoalesced && s.refusals.allow(outcome) {
			s.log.Log(r.Context(), level, "delivery", append([]any{"delivery", d.ID, "webhook_uuid", d.UUID, "outcome", outcome, "status", code,
				"duration_ms", ms(s.clock.Now().Sub(start))}, attrs...)...)
		}
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		if code >= 400 {
			// A refused sender gets a new connection for its next try, so
			// that one connection cannot pipeline thousands of refusals
			// (and no unread body is drained after the answer).
			w.Header().Set("Connection", "close")
		}
		w.WriteHeader(code)
		_, _ = io.WriteString(w, msg+"\n")
		if code >= 400 {
			_ = http.NewResponseController(w).Flush()
			answered(r)
		}
	}
	t, no := s.parseDelivery(w, r)
	if no != nil {
		switch {
		case no.status == http.StatusMethodNotAllowed:
			w.Header().Set("Allow", http.MethodPost)
		case no.retryAfter != "":
			w.Header().Set("Retry-After", no.retryAfter)
		}
		level := slog.LevelInfo
		if no.warn {
			level = slog.LevelWarn
		}
		answer(no.status, no.outcome, no.message, level, "reason", no.reason, "event", no.event)
		return
	}
	t.Deliveries = []rerun.Delivery{d}
	merged, ok := s.engine.Push(t)
	switch {
	case !ok:
		// Full (or stopping): GitLab still hears yes, since a refusal
		// would count against the hook and GitLab would not send it again.
		msg, sweep := "accepted, not queued: the queue is full; the sweep will catch up", true
		if rerun.OffReason(s.cfg.engine) != "" {
			msg, sweep = "accepted, not queued: the queue is full and no sweep runs here: lost unless a reconcile job runs", false
		}
		answer(http.StatusAccepted, outcomeDropped, msg, slog.LevelWarn,
			"reason", "the queue is full ("+strconv.Itoa(s.cfg.engine.QueueSize)+" merge requests) or stopping",
			"project", t.Path, "project_id", t.Key.Project, "mr", t.Key.IID, "event", eventName(r), "status_check", t.StatusCheck, "sweep", sweep)
	case merged:
		answer(http.StatusAccepted, outcomeCoalesced, "accepted", slog.LevelInfo)
	default:
		answer(http.StatusAccepted, outcomeQueued, "accepted", slog.LevelInfo)
	}
}

// eventName names a delivery's kind for the log: X-Gitlab-Event, or a
// status check request.
func eventName(r *http.Request) string {
	if e := r.Header.Get("X-Gitlab-Event"); e != "" {
		return clip(e)
	}
	return "status check request"
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

// Standard Webhooks (standardwebhooks.com), as GitLab signs a webhook
// with a signing token: webhook-id (the delivery's Idempotency-Key),
// webhook-timestamp (Unix seconds) and webhook-signature, a space-separated
// list of "v1,<base64 HMAC-SHA256 of id.timestamp.body>".
const standardTolerance = 5 * time.Minute

// standardHeaders checks a Standard Webhooks delivery's id and time,
// before its body is read: "" when they are fit, else why not.
func (s *service) standardHeaders(h http.Header) string {
	if h.Get("webhook-id") == "" {
		return "webhook-signature without webhook-id"
	}
	ts, err := strconv.ParseInt(strings.TrimSpace(h.Get("webhook-timestamp")), 10, 64)
	if err != nil {
		return "webhook-timestamp is not Unix seconds"
	}
	off := s.clock.Now().Sub(time.Unix(ts, 0))
	if off > standardTolerance || off < -standardTolerance {
		return fmt.Sprintf("webhook-timestamp is %s off this clock, more than %s", off.Round(time.Second), standardTolerance)
	}
	return ""
}

// validStandardSignature checks the v1 signatures of a Standard Webhooks
// delivery: one of them must be the HMAC, compared in constant time.
func validStandardSignature(h http.Header, body, key []byte) bool {
	if len(key) == 0 {
		return false
	}
	mac := hmac.New(sha256.New, key)
	mac.Write([]byte(h.Get("webhook-id")))
	mac.Write([]byte{'.'})
	mac.Write([]byte(strings.TrimSpace(h.Get("webhook-timestamp"))))
	mac.Write([]byte{'.'})
	mac.Write(body)
	want := mac.Sum(nil)
	ok := false
	for _, sig := range strings.Fields(h.Get("webhook-signature")) {
		version, b64, found := strings.Cut(sig, ",")
		if !found || version != "v1" {
			continue
		}
		got, err := base64.StdEncoding.DecodeString(b64)
		if err == nil && hmac.Equal(got, want) {
			ok = true // no early return: every entry costs the same
		}
	}
	return ok
}

// signingKey is the HMAC key of a Standard Webhooks signing token: the
// bytes base64-encoded after "whsec_" (GitLab makes them
// "whsec_" + base64 of 32 random bytes), or the token itself otherwise.
func signingKey(token string) ([]byte, error) {
	rest, ok := strings.CutPrefix(token, "whsec_")
	if !ok {
		return []byte(token), nil
	}
	if rest == "" {
		return nil, errors.New("is whsec_ with nothing after it")
	}
	key, err := base64.StdEncoding.DecodeString(rest)
	if err != nil || len(key) == 0 {
		return nil, errors.New("the part after whsec_ is not base64")
	}
	return key, nil
}
