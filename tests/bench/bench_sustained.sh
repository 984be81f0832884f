#!/usr/bin/env bash
# bench_sustained.sh: the executor under a steady load (build/bench/
# bench_sustained): BENCH_RATE commands a second (default 200) for
# BENCH_SECONDS (default 60), start/stop/status over BENCH_NAMES names
# (default 50), through a real redis-server to a real `tasker exec` with its
# own PM2 daemon in a private PM2_HOME (never ~/.pm2). Prints what was sent,
# answered, missing and duplicated, the carried-out rate, the refusals, the
# reply latency and where the CPU went; asserts nothing.
#
# Sourced by tests/bench/run.sh once Redis is up, or run on its own:
#   BUILD=build BENCH_SECONDS=30 tests/bench/bench_sustained.sh
# (then it starts its own redis-server, like the tests). Stops the executor
# and its daemon at the end.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_sustained: could not start redis-server"
		exit 1
	}
	BENCH_STANDALONE=1
fi

bench_sustained_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local bin="$ROOT/$BUILD/bench/bench_sustained"
	local log="$TMP/bench-sustained.log"
	local url="redis://127.0.0.1:$REDIS_PORT"
	# A daemon of its own: no task left by an earlier section.
	local -x PM2_HOME="$TMP/pm2-sustained"
	echo
	echo "== sustained load (${BENCH_RATE:-200} commands/s for ${BENCH_SECONDS:-60} s, start/stop/status over ${BENCH_NAMES:-50} names; tasker exec, its own PM2 daemon)"
	if [ ! -x "$pm2" ]; then
		echo "  skipped: pm2 is not installed in .deps (run make deps)"
		return 0
	fi
	if [ ! -x "$bin" ]; then
		echo "  skipped: $bin is not built (make $BUILD/bench/bench_sustained)"
		return 0
	fi
	mkdir -p "$PM2_HOME"

	bg "$TASKER" exec --redis "$url" --pm2 "$pm2" --pm2-home "$PM2_HOME" --cwd-base "$TMP" \
		>"$log" 2>&1
	local exec_pid=$BG_PID
	# Ready, and its daemon answers: one status round trip.
	if ! wait_until 30 file_has "$log" "ready: listening" ||
		! "$TASKER" send --redis "$url" --wait=60 /status >/dev/null 2>&1; then
		echo "  skipped: the executor did not answer a status command:"
		tail -n 5 "$log" | sed 's/^/  # /'
		kill "$exec_pid" 2>/dev/null
		wait "$exec_pid" 2>/dev/null
		"$pm2" kill >/dev/null 2>&1
		return 0
	fi

	"$bin" "$url" "$PM2_HOME" "$exec_pid" "${REDIS_PID:-0}" | sed 's/^/  /'

	# The executor's own account: its warnings and errors, by kind (the
	# first words, numbers as N), the commonest first.
	local warns
	warns=$(awk '$2 == "warn" || $2 == "error"' "$log" | wc -l)
	echo "  executor log: $warns warning/error lines"
	awk '$2 == "warn" || $2 == "error" {
		$1 = ""; line = substr($0, 2); gsub(/[0-9]+/, "N", line); print substr(line, 1, 90)
	}' "$log" | sort | uniq -c | sort -rn | head -n 4 | sed 's/^ */  # /'
	alive "$exec_pid" || echo "  the executor exited during the run: $(tail -n 1 "$log")"

	kill -TERM "$exec_pid" 2>/dev/null
	wait "$exec_pid" 2>/dev/null
	"$pm2" kill >/dev/null 2>&1
	return 0
}

bench_sustained_main
if [ -n "${BENCH_STANDALONE:-}" ]; then exit 0; fi
