# bench_exec.sh: sourced by tests/bench/run.sh once Redis is up (lib.sh's
# helpers, $TMP, $REDIS_PORT, the private PM2_HOME). Runs `tasker exec`
# against its own PM2 daemon (started by the executor under $TMP/pm2, never
# ~/.pm2), runs build/bench/bench_exec (listing cost, start/stop latency, a
# burst of 50 starts), then reads the executor's memory with the burst's
# tasks still running. Stops the executor and the daemon at the end, so a
# later bench file starts clean. Prints figures; asserts nothing.

bench_exec_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local bin="$ROOT/$BUILD/bench/bench_exec"
	local log="$TMP/bench-exec.log"
	local url="redis://127.0.0.1:$REDIS_PORT"
	echo
	echo "== executor (tasker exec over the PM2 socket; every task runs sleep 600)"
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

	"$bin" "$url" "$PM2_HOME" "$pm2" "$exec_pid"

	# Resident memory of the executor, after the burst, its tasks running.
	if [ -r "/proc/$exec_pid/status" ]; then
		local rss hwm tasks
		rss=$(awk '/^VmRSS:/ {print $2}' "/proc/$exec_pid/status")
		hwm=$(awk '/^VmHWM:/ {print $2}' "/proc/$exec_pid/status")
		tasks=$("$TASKER" ls --json --pm2-home "$PM2_HOME" 2>/dev/null | grep -o '"pm_id":' | wc -l)
		awk -v r="$rss" -v h="$hwm" -v t="$tasks" 'BEGIN {
			printf "executor resident memory  VmRSS %.1f MB (peak %.1f MB) after the burst, %d tasks   (upstream TS: 60-70 MB; goal <= 8 MB)\n", r / 1024, h / 1024, t
		}'
	else
		echo "executor resident memory: the executor is gone:"
		tail -n 5 "$log" | sed 's/^/  # /'
	fi
	local warns
	warns=$(grep -c -E 'warn|error' "$log")
	[ "$warns" -gt 0 ] && echo "  ($warns warning/error lines in the executor's log, e.g. $(grep -m1 -E 'warn|error' "$log"))"

	kill -TERM "$exec_pid" 2>/dev/null
	wait "$exec_pid" 2>/dev/null
	"$pm2" kill >/dev/null 2>&1
	return 0
}

bench_exec_main
