#!/usr/bin/env bash
# bench_console_logs.sh: sourced by tests/bench/run.sh after
# bench_console.sh (whose helpers it uses). The console's cost while its
# log view (l, tui/logview.h) follows a task that writes 1,000 lines a
# second, beside the same console on its table and `pm2 logs` following
# the same task:
#   1. one task (node) writing 100 lines every 100 ms, started by the pm2
#      command in the private PM2_HOME;
#   2. rounds (BENCH_CONSOLE_ROUNDS, default 3), each measuring, in an order
#      that rotates, for a window (BENCH_CONSOLE_SECONDS, default 15 s after
#      a 3 s settle): the console following the task in its log view; the
#      console on its table; `pm2 logs logger` (.deps pm2);
#   3. each side's medians of CPU (% of a core) and RSS, and the ratios
#      round by round.
# Goal for the console following: under 2% of a core and under 20 MB.
# Ends with `pm2 kill`. Prints figures; asserts nothing. Run on its own:
# BUILD=build tests/bench/bench_console_logs.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then # run on its own: Redis of its own
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_console_logs: could not start redis-server"
		exit 1
	}
	BENCH_STANDALONE_LOGS=1
fi
if ! declare -F bc_measure >/dev/null; then
	BENCH_CONSOLE_HELPERS_ONLY=1 . "$(dirname "${BASH_SOURCE[0]}")/bench_console.sh"
fi

BL_TMUX="tasker-bench-logs-$$"
BL_TMUX_P="tasker-bench-pm2logs-$$"

bl_cleanup_tmux() {
	bc_kill_tmux "$BL_TMUX"
	bc_kill_tmux "$BL_TMUX_P"
}

# bl_round_console URL DAEMON FOLLOW: one window of the console, following
# the task in its log view (FOLLOW=1) or on its table (0).
bl_round_console() {
	local url=$1 daemon=$2 follow=$3 cpid ok=1
	if ! bc_tmux "$BL_TMUX" "$TASKER" --redis "$url" --interval 1 --pm2-home "$PM2_HOME" ||
		! wait_until 20 bc_screen_has "$BL_TMUX" "logger"; then
		echo "  tasker: the console did not show the task within 20 s; screen:"
		bc_dump "$BL_TMUX"
		bc_kill_tmux "$BL_TMUX"
		return 1
	fi
	if [ "$follow" = 1 ]; then
		tmux -L "$BL_TMUX" send-keys -t main -l -- "/filter logger"
		tmux -L "$BL_TMUX" send-keys -t main Enter
		wait_until 10 bc_screen_has "$BL_TMUX" "logger *online"
		tmux -L "$BL_TMUX" send-keys -t main l
		if ! wait_until 10 bc_screen_has "$BL_TMUX" "following (F)"; then
			echo "  tasker: the log view did not open, following; screen:"
			bc_dump "$BL_TMUX"
			bc_kill_tmux "$BL_TMUX"
			return 1
		fi
	fi
	cpid=$(bc_pane_pid "$BL_TMUX")
	if [ -n "$cpid" ] && [ "$(cat "/proc/$cpid/comm" 2>/dev/null)" = tasker ]; then
		bc_pause 3 # settle (a deadline, not a poll)
		bc_measure "tasker" "$cpid" "$daemon"
		[ -n "$BC_CPU" ] && ok=0
		if [ "$follow" = 1 ] && ! bc_screen_has "$BL_TMUX" "following (F)"; then
			echo "  tasker: the log view no longer follows at the end of the window"
			ok=1
		fi
	fi
	bc_kill_tmux "$BL_TMUX"
	return $ok
}

# bl_round_pm2logs PM2 DAEMON: one window of `pm2 logs logger`.
bl_round_pm2logs() {
	local pm2=$1 daemon=$2 pid ok=1
	if bc_tmux "$BL_TMUX_P" "$pm2" logs logger && wait_until 20 bc_screen_has "$BL_TMUX_P" "logger line"; then
		pid=$(bc_pane_pid "$BL_TMUX_P")
		bc_pause 3
		bc_measure "pm2 logs" "$pid" "$daemon"
		[ -n "$BC_CPU" ] && ok=0
	else
		echo "  pm2 logs: no line within 20 s"
		bc_dump "$BL_TMUX_P"
	fi
	bc_kill_tmux "$BL_TMUX_P"
	return $ok
}

bench_console_logs_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local url="redis://127.0.0.1:$REDIS_PORT"
	echo
	echo "== console log view (a task writing 1,000 lines/s; the console following it in its log view, on its table, beside pm2 logs; $BC_ROUNDS rounds of ${BC_WINDOW} s)"
	if [ ! -x "$pm2" ] || ! command -v tmux >/dev/null; then
		echo "  skipped: needs pm2 in .deps and tmux"
		return 0
	fi
	case "$PM2_HOME" in
	"$TMP"/*) ;;
	*)
		echo "  skipped: PM2_HOME ($PM2_HOME) is not a private directory under $TMP"
		return 0
		;;
	esac
	export PM2_HOME
	mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config"
	trap 'bl_cleanup_tmux; cleanup' EXIT
	cat >"$TMP/bench-logger.js" <<'JS'
let n = 0;
setInterval(() => {
	let s = '';
	for (let i = 0; i < 100; i++) s += `logger line ${++n} ${'x'.repeat(40)}\n`;
	process.stdout.write(s);
}, 100);
JS
	"$pm2" start "$TMP/bench-logger.js" --name logger >/dev/null 2>&1
	local daemon
	daemon=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null)
	if [ -z "$daemon" ] || ! wait_until 20 file_has "$PM2_HOME/logs/logger-out.log" "logger line 2000"; then
		echo "  skipped: the task did not write its lines"
		"$pm2" kill >/dev/null 2>&1
		return 0
	fi
	local r k side
	local -A cpu=() rss=() detail=()
	local sides=(follow table pm2logs)
	for ((r = 0; r < BC_ROUNDS; r++)); do
		for ((k = 0; k < 3; k++)); do
			side=${sides[$(((k + r) % 3))]}
			local got=1
			case $side in
			follow) bl_round_console "$url" "$daemon" 1 && got=0 ;;
			table) bl_round_console "$url" "$daemon" 0 && got=0 ;;
			pm2logs) bl_round_pm2logs "$pm2" "$daemon" && got=0 ;;
			esac
			if [ "$got" -eq 0 ]; then
				cpu[$side]+=" $BC_CPU" rss[$side]+=" $BC_RSS"
				detail[$side]="${BC_SECS} s: $BC_DETAIL"
			else
				cpu[$side]+=" -" rss[$side]+=" -"
			fi
		done
	done
	echo "console log view (1,000 lines/s), medians of $BC_ROUNDS rounds of ${BC_WINDOW} s (measured on a shared, loaded machine):"
	bc_side_by_side "CPU, % of a core" "%" "${cpu[follow]:-}" "${cpu[table]:-}" 1 "following" "on its table"
	bc_side_by_side "CPU, % of a core" "%" "${cpu[follow]:-}" "${cpu[pm2logs]:-}" 1 "following" "pm2 logs"
	bc_side_by_side "RSS, MB" "MB" "${rss[follow]:-}" "${rss[table]:-}" 1024 "following" "on its table"
	bc_side_by_side "RSS, MB" "MB" "${rss[follow]:-}" "${rss[pm2logs]:-}" 1024 "following" "pm2 logs"
	echo "  goal for the console following: under 2% of a core and under 20 MB"
	[ -n "${detail[follow]:-}" ] && echo "  following, last round ${detail[follow]}"
	"$pm2" kill >/dev/null 2>&1
	trap cleanup EXIT
	return 0
}

bench_console_logs_main
if [ -n "${BENCH_STANDALONE_LOGS:-}" ]; then exit 0; fi
