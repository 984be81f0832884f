#!/usr/bin/env bash
# bench_exec.sh: sourced by tests/bench/run.sh once Redis is up (lib.sh's
# helpers, $TMP, $REDIS_PORT, the private PM2_HOME). Runs `tasker exec`
# against its own PM2 daemon (started by the executor under $TMP/pm2, never
# ~/.pm2), runs build/bench/bench_exec (tasker ls against pm2 jlist, start
# and stop against the pm2 command, a burst of 50 starts against pm2
# starting 50 apps, in interleaved rounds), then reads the executor's memory
# with the burst's tasks still running, beside a Node.js process holding
# pm2's own API connected to the same daemon. Stops the executor and the
# daemon at the end, so a later bench file starts clean. Prints figures;
# asserts nothing. Run on its own: BUILD=build tests/bench/bench_exec.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then # run on its own: Redis of its own
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_exec: could not start redis-server"
		exit 1
	}
	BENCH_STANDALONE=1
fi

bench_exec_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local bin="$ROOT/$BUILD/bench/bench_exec"
	local log="$TMP/bench-exec.log"
	local url="redis://127.0.0.1:$REDIS_PORT"
	echo
	echo "== executor (tasker exec over the PM2 socket) beside the pm2 command, same daemon, same run; every task runs sleep 600"
	if [ ! -x "$pm2" ]; then
		echo "  skipped: pm2 is not installed in .deps (run make deps)"
		return 0
	fi
	if [ ! -x "$bin" ]; then
		echo "  skipped: $bin is not built"
		return 0
	fi
	case "$PM2_HOME" in
	"$TMP"/*) ;;
	*)
		echo "  skipped: PM2_HOME ($PM2_HOME) is not a private directory under $TMP"
		return 0
		;;
	esac
	mkdir -p "$PM2_HOME"

	bg "$TASKER" exec --redis "$url" --pm2 "$pm2" --pm2-home "$PM2_HOME" --cwd-base "$TMP" \
		>"$log" 2>&1
	local exec_pid=$BG_PID
	if ! wait_until 30 file_has "$log" "ready: listening"; then
		echo "  skipped: the executor did not say it was ready:"
		tail -n 5 "$log" | sed 's/^/  # /'
		kill "$exec_pid" 2>/dev/null
		wait "$exec_pid" 2>/dev/null
		return 0
	fi

	"$bin" "$url" "$PM2_HOME" "$pm2" "$TASKER" "$exec_pid"

	# Resident memory of the executor, after the burst, its tasks running;
	# beside it, Node.js with pm2's own API connected to the same daemon:
	# the floor of any Node.js PM2 client (the upstream service is one).
	local node_pid='' node_rss='' node_out="$TMP/bench-exec-node.out"
	if command -v node >/dev/null; then
		node -e '
			const pm2 = require(process.argv[1]);
			pm2.connect(err => {
				if (err) return console.log("error " + err.message);
				pm2.list((e, l) => console.log(e ? "error " + e.message : "ready " + l.length));
			});' "$ROOT/.deps/node_modules/pm2" >"$node_out" 2>&1 &
		node_pid=$!
		wait_until 30 file_has "$node_out" "ready" &&
			node_rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$node_pid/status" 2>/dev/null)
		kill "$node_pid" 2>/dev/null
		wait "$node_pid" 2>/dev/null
	fi
	if [ -r "/proc/$exec_pid/status" ]; then
		local rss hwm tasks
		rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$exec_pid/status")
		hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$exec_pid/status")
		tasks=$("$TASKER" ls --json --pm2-home "$PM2_HOME" 2>/dev/null | grep -o '"pm_id":' | wc -l)
		awk -v r="$rss" -v h="$hwm" -v t="$tasks" -v n="${node_rss:-}" 'BEGIN {
			printf "resident memory, after the burst (%d tasks)   executor VmRSS %.1f MB (peak %.1f MB)   ", t, r / 1024, h / 1024
			if (n != "")
				printf "node holding the pm2 API, same daemon: VmRSS %.1f MB   node / executor: %.1fx   ", n / 1024, n / r
			else
				printf "node holding the pm2 API: not measured   "
			printf "(goal: executor <= 8 MB)\n"
		}'
	else
		echo "executor resident memory: the executor is gone:"
		tail -n 5 "$log" | sed 's/^/  # /'
	fi
	[ -z "$node_rss" ] && [ -s "$node_out" ] && echo "  node: $(head -c 200 "$node_out")"
	echo "(the upstream TypeScript service cannot be installed here; its figures, recorded elsewhere,"
	echo " are in docs/architecture.md, labelled with where and when)"
	local warns
	warns=$(grep -c -E 'warn|error' "$log")
	[ "$warns" -gt 0 ] && echo "  ($warns warning/error lines in the executor's log, e.g. $(grep -m1 -E 'warn|error' "$log"))"

	kill -TERM "$exec_pid" 2>/dev/null
	wait "$exec_pid" 2>/dev/null
	"$pm2" kill >/dev/null 2>&1
	return 0
}

bench_exec_main
if [ -n "${BENCH_STANDALONE:-}" ]; then exit 0; fi
