package serve

import (
	"context"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"time"

	"gitlab.com/echoeshq/echoes-labels/printable"
)

// maxLogged bounds an untrusted string in the log, in runes.
const maxLogged = 128

// clip makes an untrusted string fit for the log: control characters
// (C0 and C1, bidi overrides) escaped, invalid UTF-8 replaced, bounded.
// Secrets are masked by the log's writer.
func clip(s string) string { return printable.Truncate(s, maxLogged) }

// deliveryID is GitLab's id of the delivery, clipped: it is untrusted.
// Idempotency-Key is the same across GitLab's retries and resends of one
// delivery (webhook-id, of a signed webhook, is the same value).
// X-Gitlab-Event-UUID is not a delivery's id: it is GitLab's recursion
// detection, shared by every hook one event fires.
func deliveryID(r *http.Request) string {
	for _, h := range []string{"Idempotency-Key", "webhook-id"} {
		if id := r.Header.Get(h); id != "" {
			return clip(id)
		}
	}
	return "none"
}

// webhookUUID is X-Gitlab-Webhook-UUID, new for each request GitLab
// sends, clipped; "" when absent (status check requests, GitLab < 16.2).
func webhookUUID(r *http.Request) string { return clip(r.Header.Get("X-Gitlab-Webhook-UUID")) }

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }

// logTask writes the one line per delivery of a task that was worked on.
func (s *service) logTask(t *task, verdict, action, detail string, took time.Duration) {
	level := slog.LevelInfo
	if action == "abandoned" || strings.HasSuffix(action, "gave_up") {
		level = slog.LevelWarn
	}
	for _, d := range t.deliveries {
		s.log.Log(context.Background(), level, "delivery", "delivery", d.id, "webhook_uuid", d.uuid, "project", t.path, "project_id", t.key.project,
			"mr", t.key.iid, "verdict", verdict, "action", action, "detail", detail,
			"batch", len(t.deliveries)+t.dropped, "duration_ms", ms(time.Since(d.received)), "work_ms", ms(took))
	}
	if t.dropped > 0 {
		s.log.Log(context.Background(), level, "deliveries merged without a line of their own", "project", t.path, "mr", t.key.iid, "count", t.dropped)
	}
}

// redacted hides a password given in the URL's user info, and drops the
// query and fragment, where a token can sit too (?private_token=…); the
// client drops them as well, so the log shows the URL that is called.
func redacted(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(unparsable URL)"
	}
	u.RawQuery, u.Fragment, u.RawFragment = "", "", ""
	return u.Redacted()
}
