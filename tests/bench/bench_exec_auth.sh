#!/usr/bin/env bash
# bench_exec_auth.sh: sourced by tests/bench/run.sh once Redis is up (or run
# on its own: BUILD=build tests/bench/bench_exec_auth.sh). Starts `tasker
# exec` with a policy (its own PM2 daemon under $TMP) and runs
# build/bench/bench_exec_auth: a start signed against a start unsigned,
# round by round. Prints figures; asserts nothing.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_exec_auth: could not start redis-server"
		exit 1
	}
fi

bench_exec_auth_main() {
	local bin="$ROOT/$BUILD/bench/bench_exec_auth"
	local log="$TMP/bench-exec-auth.log"
	local home="$TMP/pm2-auth"
	echo
	echo "== authority: a start signed against a start unsigned, through tasker exec with a policy (shared, loaded machine: only the round-by-round difference means anything)"
	if [ ! -x "$bin" ] || [ ! -x "$ROOT/.deps/node_modules/.bin/pm2" ]; then
		echo "  skipped: $bin or pm2 (.deps) is missing"
		return 0
	fi
	mkdir -p "$TMP/bench-keys" "$home"
	(cd "$TMP/bench-keys" && "$TASKER" key new bench >/dev/null) || return 0
	cat >"$TMP/bench-policy.toml" <<POLICY
[unsigned]
role = "runner"

[agents.bench]
key = "$(cat "$TMP/bench-keys/bench.pub")"
role = "runner"

[roles.runner]
verbs = ["start", "delete", "status"]
tasks = ["agent-*"]
programs = ["sleep"]
POLICY
	bg "$TASKER" exec --redis "redis://127.0.0.1:$REDIS_PORT" --pm2-home "$home" \
		--cwd-base "$TMP" --policy "$TMP/bench-policy.toml" >"$log" 2>&1
	local exec_pid=$BG_PID
	if wait_until 30 file_has "$log" "ready: listening"; then
		"$bin" "redis://127.0.0.1:$REDIS_PORT" "$TMP/bench-keys/bench.key"
	else
		echo "  skipped: the executor did not say it was ready"
	fi
	kill "$exec_pid" 2>/dev/null
	wait "$exec_pid" 2>/dev/null
	PM2_HOME="$home" "$ROOT/.deps/node_modules/.bin/pm2" kill >/dev/null 2>&1
}
bench_exec_auth_main
