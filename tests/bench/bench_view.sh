#!/usr/bin/env bash
# bench_view.sh: a start and a stop through the executor beside PM2's own
# floor (a bare `prepare`, a bare `stopProcessId` on the daemon's socket),
# with no other task and with BENCH_VIEW_FILL (default 500) tasks running
# (build/bench/bench_view). Its own executor (at debug level, to count the
# listings it makes) and its own PM2 daemon in a private PM2_HOME (never
# ~/.pm2). Prints figures; asserts nothing.
#
# Sourced by tests/bench/run.sh once Redis is up, or run on its own:
#   BUILD=build tests/bench/bench_view.sh
# Stops the executor and its daemon (and so the tasks) at the end.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_view: could not start redis-server"
		exit 1
	}
	BENCH_STANDALONE=1
fi

bench_view_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local bin="$ROOT/$BUILD/bench/bench_view"
	local log="$TMP/bench-view.log"
	local url="redis://127.0.0.1:$REDIS_PORT"
	local -x PM2_HOME="$TMP/pm2-view"
	local fill=${BENCH_VIEW_FILL:-500}
	echo
	echo "== start and stop beside PM2's floor (bare prepare / stopProcessId on rpc.sock, same daemon, same run); 0 then $fill other tasks running sleep 600"
	if [ ! -x "$pm2" ]; then
		echo "  skipped: pm2 is not installed in .deps (run make deps)"
		return 0
	fi
	if [ ! -x "$bin" ]; then
		echo "  skipped: $bin is not built (make $BUILD/bench/bench_view)"
		return 0
	fi
	local sleep_path
	sleep_path=$(command -v sleep) && sleep_path=$(readlink -f "$sleep_path")
	mkdir -p "$PM2_HOME"
	bg "$TASKER" exec --redis "$url" --pm2 "$pm2" --pm2-home "$PM2_HOME" --cwd-base "$TMP" \
		--log-level=debug >"$log" 2>&1
	local exec_pid=$BG_PID
	if ! wait_until 30 file_has "$log" "ready: listening" ||
		! "$TASKER" send --redis "$url" --wait=60 /status >/dev/null 2>&1; then
		echo "  skipped: the executor did not answer a status command:"
		tail -n 5 "$log" | sed 's/^/  # /'
		kill "$exec_pid" 2>/dev/null
		wait "$exec_pid" 2>/dev/null
		"$pm2" kill >/dev/null 2>&1
		return 0
	fi
	local lists0
	lists0=$(grep -c "pm2: listing for" "$log")
	"$bin" "$url" "$PM2_HOME" "$exec_pid" "$TMP" "$sleep_path" "$fill" | sed 's/^/  /'
	local cmds lists views
	cmds=$(grep -c -E "debug command (start|stop|delete) bench-view" "$log")
	local status
	status=$(grep -c -E "debug command status" "$log")
	lists=$(($(grep -c "pm2: listing for" "$log") - lists0))
	views=$(grep -c "pm2 view: listing" "$log")
	echo "  the executor listed $lists time(s) for its commands ($cmds start/stop/delete, $((status - 1)) status: status always lists); its view listed $views time(s) (seed, safety net, gaps)"
	local warns
	warns=$(awk '$2 == "warn" || $2 == "error"' "$log" | wc -l)
	[ "$warns" -gt 0 ] && echo "  executor log: $warns warning/error lines, e.g. $(awk '$2 == "warn" || $2 == "error"' "$log" | head -n 1)"
	alive "$exec_pid" || echo "  the executor exited during the run: $(tail -n 1 "$log")"
	kill -TERM "$exec_pid" 2>/dev/null
	wait "$exec_pid" 2>/dev/null
	"$pm2" kill >/dev/null 2>&1
	return 0
}

bench_view_main
if [ -n "${BENCH_STANDALONE:-}" ]; then exit 0; fi
