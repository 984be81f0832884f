#!/usr/bin/env bash
# bench_console.sh: sourced by tests/bench/run.sh once Redis is up (lib.sh's
# helpers, $TMP, $REDIS_PORT, the private PM2_HOME). The console side by
# side with its previous behaviour and `pm2 monit`, same daemon, same tasks,
# same terminal size:
#   1. `pm2 start` starts BENCH_CONSOLE_TASKS tasks (default 500, sleep 600)
#      in the private PM2_HOME from one ecosystem file; afterwards only the
#      monitor under test talks to the daemon;
#   2. rounds (BENCH_CONSOLE_ROUNDS, default 3), each measuring, one after
#      the other in an order that rotates from round to round, each started
#      afresh and alone in a private tmux server for a window
#      (BENCH_CONSOLE_SECONDS, default 15 s after a 3 s settle):
#      - the daemon alone (no client): its idle cost in that round (PM2
#        samples its apps itself);
#      - the console (tasker --interval 1): its CPU (utime+stime from
#        /proc), its memory (VmRSS, VmHWM) and the daemon's CPU in the same
#        window; between listings it follows the daemon's events and reads
#        CPU and memory from /proc (tui/procview.h), listing every 30 s;
#      - the same with --local (its in-process executor publishing the
#        task table, which the console's fleet scan reads back);
#      - the console as before (TASKER_CONSOLE_LIST=every: getMonitorData
#        once a second), the same figures;
#      - `pm2 monit` (.deps pm2; it asks for getMonitorData 800 ms after
#        it has drawn the previous reply, and listens on the daemon's bus),
#        the same figures;
#   3. each side's medians: own CPU, the daemon's CPU meanwhile, the extra
#      daemon CPU it causes (minus the idle daemon of the same round) and
#      their sum; the ratios (previous / now, pm2 monit / now) taken round by
#      round (median, min, max): the machine is shared, so only figures from
#      the same round are compared.
# Ends with `pm2 kill`, so a later bench file starts with no daemon. Prints
# figures; asserts nothing. Run on its own: BUILD=build tests/bench/bench_console.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then # run on its own: Redis of its own
	. "$(dirname "$0")/../integration/lib.sh"
	start_redis || {
		echo "bench_console: could not start redis-server"
		exit 1
	}
	BENCH_STANDALONE=1
fi

BC_WINDOW=${BENCH_CONSOLE_SECONDS:-15}
BC_ROUNDS=${BENCH_CONSOLE_ROUNDS:-3}
BC_TASKS=${BENCH_CONSOLE_TASKS:-500}
BC_TMUX_C="tasker-bench-console-old-$$"
BC_TMUX_A="tasker-bench-console-$$"
BC_TMUX_B="tasker-bench-monit-$$"

# bc_kill_tmux NAME: ends the private tmux server NAME and removes the socket
# it leaves behind.
bc_kill_tmux() {
	tmux -L "$1" kill-server 2>/dev/null
	rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$1"
}

bc_cleanup_tmux() {
	bc_kill_tmux "$BC_TMUX_A"
	bc_kill_tmux "$BC_TMUX_C"
	bc_kill_tmux "$BC_TMUX_B"
}

# bc_online: how many tasks the daemon reports online.
bc_online() {
	"$TASKER" ls --json --pm2-home "$PM2_HOME" 2>/dev/null | grep -o '"status": *"online"' | wc -l
}

bc_all_online() {
	[ "$(bc_online)" -ge "$BC_TASKS" ]
}

# bc_pause SECONDS: waits SECONDS (a deadline that nothing ends early).
bc_pause() {
	wait_until "$1" false
	return 0
}

# bc_ticks PID [EXCLUDE]: CPU clock ticks used so far by PID and every live
# descendant (utime+stime), plus the children PID has already reaped
# (cutime+cstime). EXCLUDE (the daemon) is never counted. Prints "TICKS N"
# with N the number of live processes counted, or nothing if PID is gone.
bc_ticks() {
	local root=$1 exclude=${2:-}
	local line pid rest path f=()
	local -A parent=() own=() reaped=()
	for path in /proc/[0-9]*/stat; do
		{ read -r line <"$path"; } 2>/dev/null || continue
		pid=${line%% *}
		rest=${line##*) } # after the command name, which may hold spaces
		# f: state ppid pgrp session tty tpgid flags minflt cminflt majflt
		#    cmajflt utime stime cutime cstime ...
		read -ra f <<<"$rest"
		parent[$pid]=${f[1]}
		own[$pid]=$((f[11] + f[12]))
		reaped[$pid]=$((f[13] + f[14]))
	done
	[ -n "${own[$root]+x}" ] || return 0
	local total=$((own[$root] + reaped[$root])) n=1 grew=1 p
	local -A in=([$root]=1)
	while [ "$grew" -eq 1 ]; do
		grew=0
		for p in "${!parent[@]}"; do
			[ -z "${in[$p]+x}" ] || continue
			[ "$p" != "$exclude" ] || continue
			if [ -n "${in[${parent[$p]}]+x}" ]; then
				in[$p]=1
				total=$((total + own[$p] + reaped[$p]))
				n=$((n + 1))
				grew=1
			fi
		done
	done
	echo "$total $n"
}

# bc_self_ticks PID: utime+stime of PID alone.
bc_self_ticks() {
	local line f=()
	{ read -r line <"/proc/$1/stat"; } 2>/dev/null || return 0
	read -ra f <<<"${line##*) }"
	echo $((f[11] + f[12]))
}

bc_uptime_cs() { # the machine's uptime in hundredths of a second
	local up
	read -r up _ </proc/uptime
	echo $((10#${up%.*} * 100 + 10#${up#*.}))
}

bc_status_kb() { # PID FIELD: a /proc/PID/status field in kB
	awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/status" 2>/dev/null
}

bc_rollup_kb() { # PID FIELD: a /proc/PID/smaps_rollup field in kB
	awk -v k="$2:" '$1 == k {print $2}' "/proc/$1/smaps_rollup" 2>/dev/null
}

# bc_measure LABEL PID DAEMON: samples PID's tree and the daemon now and
# after the window; sets BC_CPU, BC_DCPU (percent of one core), BC_RSS,
# BC_HWM (kB), BC_NPROC, BC_SECS and BC_DETAIL. PID may be empty (daemon only).
bc_measure() {
	local label=$1 pid=$2 daemon=$3
	local t0 t1 d0 d1 w0 w1 n=1 hz
	hz=$(getconf CLK_TCK)
	w0=$(bc_uptime_cs)
	if [ -n "$pid" ]; then
		read -r t0 _ < <(bc_ticks "$pid" "$daemon")
	fi
	d0=$(bc_self_ticks "$daemon")
	bc_pause "$BC_WINDOW"
	if [ -n "$pid" ]; then
		read -r t1 n < <(bc_ticks "$pid" "$daemon")
	fi
	d1=$(bc_self_ticks "$daemon")
	w1=$(bc_uptime_cs)
	BC_SECS=$(awk -v a="$w0" -v b="$w1" 'BEGIN { printf "%.1f", (b - a) / 100 }')
	BC_CPU='' BC_DCPU='' BC_RSS='' BC_HWM='' BC_NPROC=$n BC_DETAIL=''
	if [ -n "$d0" ] && [ -n "$d1" ]; then
		BC_DCPU=$(awk -v a="$d0" -v b="$d1" -v w0="$w0" -v w1="$w1" -v hz="$hz" \
			'BEGIN { printf "%.2f", (b - a) / hz / ((w1 - w0) / 100) * 100 }')
	fi
	[ -n "$pid" ] || return 0
	if [ -z "${t0:-}" ] || [ -z "${t1:-}" ]; then
		echo "  $label: the process was gone before the end of the window"
		return 0
	fi
	BC_CPU=$(awk -v a="$t0" -v b="$t1" -v w0="$w0" -v w1="$w1" -v hz="$hz" \
		'BEGIN { printf "%.2f", (b - a) / hz / ((w1 - w0) / 100) * 100 }')
	BC_RSS=$(bc_status_kb "$pid" VmRSS)
	BC_HWM=$(bc_status_kb "$pid" VmHWM)
	BC_DETAIL=$(awk -v r="$BC_RSS" -v h="$BC_HWM" -v pss="$(bc_rollup_kb "$pid" Pss)" \
		-v an="$(bc_status_kb "$pid" RssAnon)" -v fi="$(bc_status_kb "$pid" RssFile)" \
		-v sh="$(bc_status_kb "$pid" RssShmem)" -v th="$(bc_status_kb "$pid" Threads)" \
		-v ticks="$((t1 - t0))" -v hz="$hz" 'BEGIN {
		printf "VmRSS %.1f MB (peak %.1f MB; anon %.1f, file %.1f, shmem %.1f; Pss %.1f MB), %d threads, %d ticks of %d Hz",
			r / 1024, h / 1024, an / 1024, fi / 1024, sh / 1024, pss / 1024, th, ticks, hz
	}')
}

# bc_tmux NAME COMMAND...: a private tmux server NAME, one 160x50 window
# running COMMAND with the console's environment.
bc_tmux() {
	local name=$1
	shift
	for _ in 1 2 3; do
		tmux -L "$name" -f /dev/null new-session -d -x 160 -y 50 -s main \
			env LC_ALL=C.UTF-8 TERM=xterm-256color XDG_STATE_HOME="$TMP/state" \
			XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$PM2_HOME" PM2_DISCRETE_MODE=1 \
			"$@" \; set-option -t main remain-on-exit on && return 0
	done
	return 1
}

bc_screen_has() { # NAME TEXT
	tmux -L "$1" capture-pane -p -t main 2>/dev/null | grep -q -- "$2"
}

bc_pane_pid() { # NAME
	tmux -L "$1" list-panes -t main -F '#{pane_pid}' 2>/dev/null | head -n 1
}

bc_pane_dead() { # NAME: the program in the pane has exited
	[ "$(tmux -L "$1" list-panes -t main -F '#{pane_dead}' 2>/dev/null | head -n 1)" = 1 ]
}

bc_dump() { # NAME: the pane's last lines, blank ones left out
	tmux -L "$1" capture-pane -p -t main -S -100 2>/dev/null | grep -v '^ *$' | tail -n 12 | sed 's/^/  # /'
}

# bc_round_console URL DAEMON [TMUX [ENV=VALUE...]]: one window of the
# console, started afresh (in tmux server TMUX, with ENV); with
# BC_CONSOLE_LOCAL=1, `tasker --local`, measured once its in-process
# executor has started. Sets BC_* as bc_measure does; fails when it could
# not be measured.
bc_round_console() {
	local url=$1 daemon=$2 tm=${3:-$BC_TMUX_A} cpid ok=1 opts=()
	shift 2
	[ $# -gt 0 ] && shift
	[ -n "${BC_CONSOLE_LOCAL:-}" ] && opts=(--local)
	if bc_tmux "$tm" env "$@" "$TASKER" --redis "$url" --interval 1 --pm2-home "$PM2_HOME" "${opts[@]}" &&
		wait_until 20 bc_screen_has "$tm" "idle0"; then
		cpid=$(bc_pane_pid "$tm")
		if [ -n "${BC_CONSOLE_LOCAL:-}" ] && ! wait_until 30 bc_screen_has "$tm" "local executor started"; then
			echo "  tasker --local: its executor did not start within 30 s"
		fi
		if [ -n "$cpid" ] && [ "$(cat "/proc/$cpid/comm" 2>/dev/null)" = tasker ]; then
			bc_pause 3 # settle after the first draw (a deadline, not a poll)
			bc_measure "tasker" "$cpid" "$daemon"
			[ -n "$BC_CPU" ] && ok=0
			if bc_pane_dead "$tm"; then
				echo "  tasker: the console exited during the window:"
				bc_dump "$tm"
				ok=1
			elif ! bc_screen_has "$tm" "idle0"; then
				echo "  tasker: the table is no longer on screen at the end of the window"
			fi
			[ "$BC_NPROC" -gt 1 ] && echo "  tasker: $BC_NPROC processes in its tree"
		else
			echo "  tasker: the pane's process ($cpid, $(cat "/proc/$cpid/comm" 2>/dev/null)) is not the console"
		fi
	else
		echo "  tasker: the console did not show the table within 20 s; screen:"
		bc_dump "$tm"
	fi
	bc_kill_tmux "$tm"
	return $ok
}

# bc_round_monit PM2 DAEMON: one window of pm2 monit, started afresh.
bc_round_monit() {
	local pm2=$1 daemon=$2 mpid ok=1
	if bc_tmux "$BC_TMUX_B" "$pm2" monit &&
		wait_until 30 bc_screen_has "$BC_TMUX_B" "idle0"; then
		mpid=$(bc_pane_pid "$BC_TMUX_B")
		if [ -n "$mpid" ] && [ -r "/proc/$mpid/stat" ]; then
			bc_pause 3 # settle after the first draw (a deadline, not a poll)
			bc_measure "pm2 monit" "$mpid" "$daemon"
			[ -n "$BC_CPU" ] && ok=0
			if bc_pane_dead "$BC_TMUX_B"; then
				echo "  pm2 monit: it exited during the window:"
				bc_dump "$BC_TMUX_B"
				ok=1
			fi
		else
			echo "  pm2 monit: no process in the pane"
		fi
	else
		echo "  pm2 monit: the process list did not show within 30 s; screen:"
		bc_dump "$BC_TMUX_B"
	fi
	bc_kill_tmux "$BC_TMUX_B"
	return $ok
}

# bc_median "V1 V2...": the median of the values that are not "-".
bc_median() {
	awk -v a="$1" 'BEGIN {
		n = split(a, v, " "); k = 0
		for (i = 1; i <= n; i++) if (v[i] != "-") m[++k] = v[i] + 0
		if (k == 0) { print "?"; exit }
		for (i = 2; i <= k; i++) for (j = i; j > 1 && m[j - 1] > m[j]; j--) { t = m[j]; m[j] = m[j - 1]; m[j - 1] = t }
		printf "%.2f", k % 2 ? m[(k + 1) / 2] : (m[k / 2] + m[k / 2 + 1]) / 2
	}'
}

# bc_side_by_side LABEL UNIT "A1 A2..." "B1 B2..." [DIVISOR [NAME_A NAME_B]]:
# A's median, B's median, and the ratio B/A in each round where both were
# measured ("-": not measured that round): its median, min and max. Values
# are divided by DIVISOR (kB to MB).
bc_side_by_side() {
	awk -v label="$1" -v unit="$2" -v a="$3" -v b="$4" -v div="${5:-1}" \
		-v an="${6:-tasker}" -v bn="${7:-pm2 monit}" '
	function median(v, n,   i, j, t) {
		for (i = 2; i <= n; i++)
			for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
		return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
	}
	BEGIN {
		n = split(a, va, " "); split(b, vb, " ")
		na = nb = k = 0
		for (i = 1; i <= n; i++) {
			if (va[i] != "-") ma[++na] = va[i] / div
			if (vb[i] != "-") mb[++nb] = vb[i] / div
			if (va[i] != "-" && vb[i] != "-" && va[i] > 0) r[++k] = vb[i] / va[i]
		}
		if (na == 0 || nb == 0) {
			printf "  %-22s not measured (%s in %d rounds, %s in %d)\n", label, an, na, bn, nb
			exit
		}
		printf "  %-22s %s %.2f %s   %s %.2f %s   ", label, an, median(ma, na), unit, bn, median(mb, nb), unit
		if (k == 0) { printf "%s / %s: no ratio (no round with both, %s above 0)\n", bn, an, an; exit }
		lo = hi = r[1]
		for (i = 2; i <= k; i++) { if (r[i] < lo) lo = r[i]; if (r[i] > hi) hi = r[i] }
		printf "%s / %s: median %.1fx (min %.1fx, max %.1fx; %d rounds)\n", bn, an, median(r, k), lo, hi, k
	}'
}

bench_console_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	local url="redis://127.0.0.1:$REDIS_PORT"
	local log="$TMP/bench-console-start.log"
	echo
	echo "== console ($BC_TASKS tasks running sleep 600, 160x50 tmux; tasker --interval 1 now and as before, beside pm2 monit and the idle daemon, $BC_ROUNDS interleaved rounds of ${BC_WINDOW} s)"
	if [ ! -x "$pm2" ]; then
		echo "  skipped: pm2 is not installed in .deps (run make deps)"
		return 0
	fi
	if ! command -v tmux >/dev/null; then
		echo "  skipped: tmux is not installed"
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
	trap 'bc_cleanup_tmux; cleanup' EXIT

	# 1. 100 tasks, started by the pm2 command from one ecosystem file (not
	# through `tasker exec`: pm2 monit's dashboard reads pm2_env.node_args,
	# which the executor sets only for cluster tasks, and dies on the first
	# fork task without it). No client stays connected afterwards.
	local i t_start t_up eco="$TMP/bench-console-tasks.json"
	{
		printf '['
		for ((i = 0; i < BC_TASKS; i++)); do
			[ "$i" -gt 0 ] && printf ','
			printf '\n{"name":"idle%03d","script":"sleep","args":["600"],"interpreter":"none","cwd":"%s"}' "$i" "$TMP"
		done
		printf '\n]\n'
	} >"$eco"
	t_start=$(date +%s%N)
	"$pm2" start "$eco" >"$log" 2>&1
	if ! wait_until 180 bc_all_online; then
		echo "  skipped: only $(bc_online) of $BC_TASKS tasks came online"
		tail -n 5 "$log" | sed 's/^/  # /'
		"$pm2" kill >/dev/null 2>&1
		return 0
	fi
	t_up=$(date +%s%N)
	local daemon
	daemon=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null)
	if [ -z "$daemon" ] || ! alive "$daemon"; then
		echo "  skipped: no PM2 daemon pid in $PM2_HOME/pm2.pid"
		"$pm2" kill >/dev/null 2>&1
		return 0
	fi
	awk -v n="$BC_TASKS" -v ns="$((t_up - t_start))" -v rss="$(bc_status_kb "$daemon" VmRSS)" 'BEGIN {
		printf "  setup: %d tasks online in %.1f s (pm2 start); daemon VmRSS %.0f MB\n", n, ns / 1e9, rss / 1024
	}'
	# What every refresh carries: pm2 copies the environment `pm2 start` ran
	# in into each task's record (twice), so the listing, and the cost of
	# parsing it, grows with the number of variables in that environment.
	"$pm2" jlist 2>/dev/null | node -e '
		let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
			try {
				const l = JSON.parse(s), e = (l[0] && l[0].pm2_env && l[0].pm2_env.env) || {};
				console.log("  each refresh: pm2 jlist is " + (s.length / 1024).toFixed(0) + " KB (" +
					(s.length / Math.max(l.length, 1) / 1024).toFixed(1) + " KB a task; " +
					Object.keys(e).length + " variables in each task'"'"'s env)");
			} catch (err) { console.log("  each refresh: pm2 jlist did not parse: " + err.message); }
		})' 2>/dev/null

	bc_pause 2 # let the last starts' aftermath settle (a deadline, not a poll)

	# 2. Rounds: the idle daemon and the three monitors, one after the
	# other, the order rotating from round to round.
	local r k side idle_d
	local -A cpu=() dcpu=() extra=() total=() rss=() detail=()
	local sides=(new local old monit)
	for ((r = 0; r < BC_ROUNDS; r++)); do
		idle_d=''
		# The idle window first in each round, so that each monitor's
		# extra is taken against this round's idle daemon.
		local order=(idle)
		for ((k = 0; k < 4; k++)); do order+=("${sides[$(((k + r) % 4))]}"); done
		for side in "${order[@]}"; do
			local got=1
			case $side in
			idle)
				bc_measure "daemon" "" "$daemon"
				idle_d=$BC_DCPU
				[ -n "$idle_d" ] && got=0
				;;
			new) bc_round_console "$url" "$daemon" "$BC_TMUX_A" && got=0 ;;
			local)
				# --local: the in-process executor too (its presence
				# and task table, which the console's fleet scan
				# reads back); its keys go with the round.
				BC_CONSOLE_LOCAL=1 bc_round_console "$url" "$daemon" "$BC_TMUX_A" && got=0
				rcli FLUSHDB >/dev/null 2>&1
				;;
			old) bc_round_console "$url" "$daemon" "$BC_TMUX_C" TASKER_CONSOLE_LIST=every && got=0 ;;
			monit) bc_round_monit "$pm2" "$daemon" && got=0 ;;
			esac
			if [ "$side" = idle ]; then
				dcpu[idle]+=" ${idle_d:--}"
				continue
			fi
			if [ "$got" -eq 0 ] && [ -n "$BC_DCPU" ] && [ -n "$idle_d" ]; then
				cpu[$side]+=" $BC_CPU" dcpu[$side]+=" $BC_DCPU" rss[$side]+=" $BC_RSS"
				extra[$side]+=" $(awk -v d="$BC_DCPU" -v i="$idle_d" 'BEGIN { printf "%.2f", d - i }')"
				total[$side]+=" $(awk -v c="$BC_CPU" -v d="$BC_DCPU" -v i="$idle_d" 'BEGIN { printf "%.2f", c + d - i }')"
				detail[$side]="${BC_SECS} s: $BC_DETAIL$([ "$BC_NPROC" -gt 1 ] && echo ", $BC_NPROC processes")"
			else
				cpu[$side]+=" -" dcpu[$side]+=" -" rss[$side]+=" -" extra[$side]+=" -" total[$side]+=" -"
			fi
		done
	done

	# 3. Medians, and ratios round by round.
	echo "console ($BC_TASKS tasks, 1 s refresh), medians of $BC_ROUNDS rounds of ${BC_WINDOW} s (measured on a shared, loaded machine):"
	echo "  idle daemon (no client): CPU $(bc_median "${dcpu[idle]}")% of a core (rounds:${dcpu[idle]})"
	local what
	for what in "CPU, % of a core|cpu|%|1" "daemon CPU meanwhile|dcpu|%|1" \
		"extra daemon CPU|extra|%|1" "own + extra daemon|total|%|1" "RSS, MB|rss|MB|1024"; do
		IFS='|' read -r label arr unit div <<<"$what"
		local -n ref=$arr
		bc_side_by_side "$label" "$unit" "${ref[new]:-}" "${ref[old]:-}" "$div" "now" "before"
		bc_side_by_side "$label" "$unit" "${ref[new]:-}" "${ref[monit]:-}" "$div" "now" "pm2 monit"
		bc_side_by_side "$label" "$unit" "${ref[new]:-}" "${ref[local]:-}" "$div" "now" "now --local"
		unset -n ref
	done
	echo "  goal for tasker at 500 tasks: own CPU + extra daemon CPU <= 1% of a core; RSS <= 20 MB"
	[ -n "${detail[new]:-}" ] && echo "  tasker now, last round    ${detail[new]}"
	[ -n "${detail[old]:-}" ] && echo "  tasker before, last round ${detail[old]}"
	[ -n "${detail[local]:-}" ] && echo "  tasker --local, last round ${detail[local]}"
	[ -n "${detail[monit]:-}" ] && echo "  pm2 monit, last round     ${detail[monit]}"
	echo "  (now: lists every 30 s and on events, CPU and memory from /proc; before: getMonitorData once a"
	echo "   second; pm2 monit asks 800 ms after it has drawn the previous reply, and listens on the bus)"

	"$pm2" kill >/dev/null 2>&1
	trap cleanup EXIT
	return 0
}

# bench_console_logs.sh sources this file for its helpers alone.
[ -n "${BENCH_CONSOLE_HELPERS_ONLY:-}" ] || bench_console_main
if [ -n "${BENCH_STANDALONE:-}" ]; then exit 0; fi
