#!/usr/bin/env bash
# examples/try-serve.sh: `echoes-labels serve` end to end on this machine,
# with no GitLab: the README's "Try serve locally", as a script.
#
#   bash examples/try-serve.sh
#
# 1. builds echoes-labels and the stand-in GitLab (internal/gitlabtest/standin)
#    into a temporary folder;
# 2. starts the stand-in on 127.0.0.1 with merge request !7 of project 42
#    (group/project), labelled echoes/intent/feature, whose newest pipeline has
#    a failed echoes-labels job (-pipeline 7=build:success,echoes-labels:failed);
# 3. starts `echoes-labels serve` on 127.0.0.1 against it;
# 4. posts examples/merge-request-hook.json (GitLab's "Merge request events"
#    webhook, labels just added) with X-Gitlab-Event: Merge Request Hook and
#    X-Gitlab-Token, as GitLab does;
# 5. asks the stand-in (GET /_retries) how many jobs were retried: it must be
#    exactly one, for !7.
#
# Exits 0 when the job was retried once, 1 otherwise (printing the logs).
# Loopback only, ports chosen by the system; stops both processes and removes
# the temporary folder on the way out. Needs Go and curl.
set -euo pipefail
cd "$(dirname "$0")/.."

work=$(mktemp -d)
standin_pid=""
serve_pid=""
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	if [ -n "$serve_pid" ]; then kill "$serve_pid" 2>/dev/null || true; wait "$serve_pid" 2>/dev/null || true; fi
	if [ -n "$standin_pid" ]; then kill "$standin_pid" 2>/dev/null || true; wait "$standin_pid" 2>/dev/null || true; fi
	rm -rf "$work"
}
trap cleanup EXIT

fail() {
	echo "FAIL: $*" >&2
	echo "--- stand-in log" >&2; cat "$work/standin.log" >&2 || true
	echo "--- serve log" >&2; cat "$work/serve.log" >&2 || true
	exit 1
}

command -v curl >/dev/null || { echo "try-serve: curl is needed (apt-get install curl)" >&2; exit 2; }

echo "== building echoes-labels and the stand-in GitLab into $work"
go build -o "$work/echoes-labels" ./cmd/echoes-labels
go build -o "$work/standin" ./internal/gitlabtest/standin

token="glpat-try-serve-0123456789"
secret="try-serve-webhook-secret"

echo "== starting the stand-in GitLab: !7 labelled echoes/intent/feature, its echoes-labels job failed"
"$work/standin" -addr 127.0.0.1:0 -addr-file "$work/standin.addr" -token "$token" \
	-project 42 -path group/project -lifetime 5m \
	-mr 7=echoes/intent/feature -pipeline 7=build:success,echoes-labels:failed \
	>"$work/standin.out" 2>"$work/standin.log" &
standin_pid=$!
for _ in $(seq 100); do [ -s "$work/standin.out" ] && break; sleep 0.05; done
api=$(head -n1 "$work/standin.out")
[ -n "$api" ] || fail "the stand-in did not start"
root=${api%/api/v4}
echo "   API root: $api"

echo "== starting echoes-labels serve"
"$work/echoes-labels" serve --listen 127.0.0.1:0 --gitlab-url "$api" --token "$token" \
	--webhook-secret "$secret" --watch group/project --reconcile-interval 0 2>"$work/serve.log" &
serve_pid=$!
addr=""
for _ in $(seq 100); do
	addr=$(grep -o '"msg":"listening","addr":"[^"]*"' "$work/serve.log" 2>/dev/null | sed 's/.*"addr":"//; s/"$//' || true)
	[ -n "$addr" ] && break
	kill -0 "$serve_pid" 2>/dev/null || fail "echoes-labels serve exited at start"
	sleep 0.05
done
[ -n "$addr" ] || fail "echoes-labels serve did not start listening"
echo "   listening on $addr; GET /livez: $(curl -sS "http://$addr/livez"); GET /readyz: $(curl -sS "http://$addr/readyz")"

echo "== posting examples/merge-request-hook.json (Merge Request Hook, labels added)"
code=$(curl -sS -o "$work/answer" -w '%{http_code}' -X POST "http://$addr/webhook" \
	-H 'Content-Type: application/json' \
	-H 'X-Gitlab-Event: Merge Request Hook' \
	-H "X-Gitlab-Token: $secret" \
	-H 'Idempotency-Key: 2b2c8c6e-try-serve-0001' \
	-H 'X-Gitlab-Webhook-UUID: 5d7e0a91-try-serve-0001' \
	--data-binary @examples/merge-request-hook.json)
echo "   answer: $code $(cat "$work/answer")"
[ "$code" = 202 ] || fail "the webhook answered $code, want 202"

echo "== waiting for the retry (the service gathers a burst for 1 s before it looks)"
retries=""
for _ in $(seq 100); do
	retries=$(curl -sS "$root/_retries")
	[ "$retries" = '{"7":1}' ] && break
	sleep 0.1
done
sleep 1 # a second retry, if any, would show by now
retries=$(curl -sS "$root/_retries")
echo "   GET /_retries: $retries"
echo "   serve's log line for the delivery:"
grep '"msg":"delivery"' "$work/serve.log" | sed 's/^/     /' || true
[ "$retries" = '{"7":1}' ] || fail "want the echoes-labels job of !7 retried exactly once ({\"7\":1}), got $retries"
echo "PASS: the failed echoes-labels job of !7 was retried once"
