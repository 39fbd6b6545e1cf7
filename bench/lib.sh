# Shared by the bench scripts (sourced): what each of them did alike.

# standin_api OUT LOG prints the API root the stand-in writes on OUT's
# first line once it listens, waiting up to 30 s; it exits the script,
# with LOG, if none comes.
standin_api() {
	local api=""
	for _ in $(seq 600); do
		api=$(head -n1 "$1" 2>/dev/null || true)
		[ -n "$api" ] && break
		sleep 0.05
	done
	[ -n "$api" ] || { echo "the stand-in did not start:" >&2; cat "$2" >&2; exit 1; }
	echo "$api"
}

# bench_binary DIR COMMAND prints the echoes-labels to measure: $SERVE_BIN,
# or a build as released into DIR; it exits the script if that binary has
# no COMMAND.
bench_binary() {
	local bin="${SERVE_BIN:-}"
	if [ -z "$bin" ]; then
		bin="$1/echoes-labels"
		CGO_ENABLED=0 go build -trimpath -ldflags '-s -w' -o "$bin" ./cmd/echoes-labels
	fi
	"$bin" "$2" --help >/dev/null 2>&1 || { echo "$bin has no $2 command; set SERVE_BIN to a build that has" >&2; exit 2; }
	echo "$bin"
}

# cleanup, the EXIT trap of the scripts that take it as it is, stops the
# processes whose ids are in serve_pid and standin_pid, where set, and
# removes $work.
# shellcheck disable=SC2317 # called by the EXIT trap
cleanup() {
	local pid
	for pid in "${serve_pid:-}" "${standin_pid:-}"; do
		if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; fi
	done
	rm -rf "$work"
}

# bench_tools DIR builds the GitLab stand-in and serveload into DIR.
bench_tools() {
	go build -o "$1/standin" ./internal/gitlabtest/standin
	go build -o "$1/serveload" ./bench/serveload
}
