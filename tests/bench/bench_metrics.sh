#!/usr/bin/env bash
# bench_metrics.sh: sourced by tests/bench/run.sh once Redis is up (lib.sh's
# helpers, $TMP, $REDIS_PORT, the private PM2_HOME). Starts `tasker exec
# --metrics` on a free port with its own PM2 daemon (under $TMP, never
# ~/.pm2), puts BENCH_METRICS_TASKS tasks in PM2 (default 1000, each
# `sleep 600`, started by `pm2 start` of one ecosystem file), waits until a
# scrape shows them all, then runs build/bench/bench_metrics: scrape time
# and executor CPU per scrape in both formats, and the start p50 while
# scraped every second beside not scraped. Stops the executor and the
# daemon at the end. Prints figures; asserts nothing.
# Run on its own: BUILD=build tests/bench/bench_metrics.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then # run on its own: Redis of its own
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_metrics: could not start redis-server"
		exit 1
	}
	BENCH_STANDALONE=1
fi

bench_metrics_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local bin="$ROOT/$BUILD/bench/bench_metrics"
	local n=${BENCH_METRICS_TASKS:-1000}
	local home="$TMP/pm2-metrics"
	local log="$TMP/bench-metrics.log"
	local url="redis://127.0.0.1:$REDIS_PORT"
	echo
	echo "== metrics (tasker exec --metrics): scrape cost with $n tasks, and the start p50 while scraped"
	if [ ! -x "$pm2" ] || [ ! -x "$bin" ]; then
		echo "  skipped: pm2 (make deps) or $bin is missing"
		return 0
	fi
	mkdir -p "$home"
	local port
	port=$(free_port)
	PM2_HOME="$home" bg "$TASKER" exec --redis "$url" --pm2 "$pm2" --pm2-home "$home" \
		--cwd-base "$TMP" --metrics "$port" >"$log" 2>&1
	local exec_pid=$BG_PID
	if ! wait_until 30 file_has "$log" "ready: listening"; then
		echo "  skipped: the executor did not say it was ready:"
		tail -n 5 "$log" | sed 's/^/  # /'
		kill "$exec_pid" 2>/dev/null
		wait "$exec_pid" 2>/dev/null
		return 0
	fi
	# The executor starts the daemon: `pm2 start` must find it up, or it
	# starts a second one on the same home.
	if ! wait_until 30 file_has "$log" "pm2: daemon started"; then
		echo "  skipped: the executor did not start the PM2 daemon"
		kill "$exec_pid" 2>/dev/null
		wait "$exec_pid" 2>/dev/null
		return 0
	fi
	local eco="$home/bench-metrics.json" k
	{
		echo "["
		for k in $(seq 1 "$n"); do
			[ "$k" -gt 1 ] && echo ","
			printf '{"name":"bm-task-%04d","script":"sleep","args":["600"],"interpreter":"none","autorestart":false}' "$k"
		done
		echo "]"
	} >"$eco"
	local t0=$SECONDS
	PM2_HOME="$home" timeout 600 "$pm2" start "$eco" >"$TMP/bench-metrics-pm2.out" 2>&1
	local listed=0
	all_listed() {
		listed=$(curl -s --max-time 10 "http://127.0.0.1:$port/metrics" | awk '$1 == "tasker_tasks" {print $2}')
		[ "${listed:-0}" -ge "$n" ]
	}
	if ! wait_until 600 all_listed; then
		echo "  (only ${listed:-0} of $n tasks listed after $((SECONDS - t0)) s; measuring with those)"
		n=${listed:-0}
	else
		echo "  ($n tasks started by pm2 and listed by the executor in $((SECONDS - t0)) s)"
	fi
	"$bin" "$url" "$exec_pid" "$port" "$n"
	local rss
	rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$exec_pid/status" 2>/dev/null)
	[ -n "$rss" ] && awk -v r="$rss" -v n="$n" 'BEGIN { printf "  executor VmRSS with %d tasks listed and scraped: %.1f MB\n", n, r / 1024 }'
	kill -TERM "$exec_pid" 2>/dev/null
	wait "$exec_pid" 2>/dev/null
	PM2_HOME="$home" "$pm2" kill >/dev/null 2>&1
	return 0
}

bench_metrics_main
if [ -n "${BENCH_STANDALONE:-}" ]; then exit 0; fi
