package serve

import (
	"net/http"
	"net/url"
	"time"

	"gitlab.com/echoeshq/echoes-labels/rerun"
)

// clip makes an untrusted string fit for the log (rerun.Clip).
func clip(s string) string { return rerun.Clip(s) }

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

func ms(d time.Duration) float64 { return rerun.Ms(d) }

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
