#!/usr/bin/env bash
# The console's task table between listings (issue 12, item 12), through a
# private tmux server against a real redis-server and a real PM2 daemon
# (private PM2_HOME): while the daemon's events flow, the console does not
# list every interval (its counters, TASKER_CONSOLE_STATS), yet a stop, a
# restart, a delete and a new task made with the pm2 CLI show within a
# couple of intervals, and CPU and memory of a busy task come from /proc
# and agree with what PM2's own listing says. The old behaviour
# (TASKER_CONSOLE_LIST=every) lists every interval: the counter can tell.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config"
STATS="$TMP/console-stats"

CONSOLE_ARGS=(--redis "$R" --interval 1)
CONSOLE_ENV=(TASKER_CONSOLE_STATS="$STATS")
COLS_=140
# stat NAME: a counter of the console's view (lists, sampled, events).
stat() { grep -oE "$1=[0-9a-z]+" "$STATS" 2>/dev/null | cut -d= -f2; }
stat_is() { [ "$(stat "$1")" = "$2" ]; }
stat_ge() { local v; v=$(stat "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
# cell NAME COLUMN: NAME's value in COLUMN (STATUS, PID, CPU, MEM, UPTIME,
# RESTARTS), counted in fields from the name (names here have no spaces).
cell() {
	screen | awk -v name="$1" -v col="$2" '
		BEGIN { off["STATUS"] = 1; off["PID"] = 2; off["CPU"] = 3; off["MEM"] = 4; off["UPTIME"] = 5; off["RESTARTS"] = 6 }
		{ for (i = 1; i <= NF; i++) if ($i == name) { print $(i + off[col]); exit } }'
}
# row_of NAME: NAME's row.
row_of() { screen | grep -E " $1 " | head -n 1; }
row_re() { row_of "$1" | grep -qE -- "$2"; }
# listed NAME FIELD: FIELD of NAME in PM2's own listing (tasker ls --json).
listed() {
	"$TASKER" ls --json --pm2-home "$PM2_HOME" 2>/dev/null | node -e '
		let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
			const l = JSON.parse(s), t = (l.tasks || l).find(x => x.name === process.argv[1]);
			if (t) console.log(t[process.argv[2]]);
		})' "$1" "$2"
}
pause() { wait_until "$1" false; return 0; } # a deadline nothing ends early

# busy burns about a fifth of a core; the others idle.
cat >"$TMP/busy.js" <<'JS'
setInterval(() => { const t = Date.now(); while (Date.now() - t < 100); }, 500);
JS
cat >"$TMP/idle.js" <<'JS'
setInterval(() => {}, 1 << 30);
JS
for n in busy idle1 idle2; do
	s=idle.js
	[ "$n" = busy ] && s=busy.js
	"$PM2" start "$TMP/$s" --name "$n" >/dev/null 2>&1
done

rm -f "$STATS"
console --
check "the console starts" wait_until 15 screen_has "Redis up"
check "the tasks show" wait_until 15 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -qE ' idle2 +online'"
check "the view follows the daemon's events" wait_until 10 stat_is mode events

# Steady state: 5 intervals, at most one listing (none is due).
l0=$(stat lists)
s0=$(stat sampled)
pause 5
l1=$(stat lists)
s1=$(stat sampled)
check "no listing every interval: $((l1 - l0)) in 5 s" test "$((l1 - l0))" -le 1
check "the rows were refreshed from /proc meanwhile: $((s1 - s0)) times" test "$((s1 - s0))" -ge 3

# CPU and memory of the busy task, from /proc, against PM2's listing.
check "busy shows a CPU above 0%" wait_until 5 bash -c "[ \"\$(tmux -L $SOCK capture-pane -p -t main | grep -E ' busy ' | grep -oE '[0-9]+%' | head -n 1 | tr -d %)\" -gt 0 ]"
mem_screen=$(cell busy MEM)
mem_pm2=$(listed busy memory)
check "busy shows its memory ($mem_screen; PM2 says $mem_pm2 bytes)" \
	awk -v s="$mem_screen" -v p="$mem_pm2" 'BEGIN {
		u = substr(s, length(s)); v = substr(s, 1, length(s) - 1) + 0
		m = (u == "K") ? 1024 : (u == "M") ? 1048576 : (u == "G") ? 1073741824 : 1
		b = v * m; exit !(p > 0 && b > p * 0.8 && b < p * 1.25)
	}'
pid_screen=$(cell busy PID)
check "the pid is PM2's ($pid_screen)" test "$pid_screen" = "$(listed busy pid)"

# A stop with the pm2 CLI.
l0=$(stat lists)
"$PM2" stop idle1 >/dev/null 2>&1
check "a stop shows within 2 s" wait_until 2 row_re idle1 "stopped"
# A restart: the restart count and the new pid.
"$PM2" restart busy >/dev/null 2>&1
cell_is() { [ "$(cell "$1" "$2")" = "$3" ]; }
check "a restart shows its count within 2 s" wait_until 2 cell_is busy RESTARTS 1
new_pid=$(listed busy pid)
check "the restarted task's new pid ($new_pid) shows within 2 s" wait_until 2 cell_is busy PID "$new_pid"
check "its restarts agree with PM2's listing" test "$(cell busy RESTARTS)" = "$(listed busy restarts)"
check "so does its status" test "$(cell busy STATUS)" = "$(listed busy status)"
# A delete of a running task, and a new task.
"$PM2" delete idle2 >/dev/null 2>&1
check "a delete shows within 2 s" wait_until 2 bash -c "! tmux -L $SOCK capture-pane -p -t main | grep -qE ' idle2 '"
"$PM2" start "$TMP/idle.js" --name fresh1 >/dev/null 2>&1
check "a new task shows within 2 s" wait_until 2 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -qE ' fresh1 +online +[0-9]+'"
l1=$(stat lists)
check "those took a few listings, not one per event ($((l1 - l0)) for $(stat events) events)" test "$((l1 - l0))" -le 8
check "the view still follows the events" stat_is mode events
[ "$FAIL" -eq 0 ] || dump

# The executor's task table (fleet_tasks.h): between listings its refresh
# republishes the last listing with CPU and memory from /proc, and a change
# made with the pm2 CLI still reaches the table at once.
bg "$TASKER" exec --redis "$R" --log-level debug >"$TMP/exec.log" 2>&1
check "the executor starts" wait_until 20 file_has "$TMP/exec.log" "ready: listening"
table() { rcli GET "$(rcli --scan --pattern 'b00t:{tasker}:tasks:*' | head -n 1)"; }
# tfield NAME FIELD: FIELD of NAME in the executor's published table.
tfield() {
	table | node -e '
		let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
			try { const t = JSON.parse(s).tasks.find(x => x.name === process.argv[1]);
				if (t) console.log(t[process.argv[2]]); } catch (e) {}
		})' "$1" "$2"
}
tfield_is() { [ "$(tfield "$1" "$2")" = "$3" ]; }
table_there() { [ -n "$(rcli --scan --pattern 'b00t:{tasker}:tasks:*')" ]; }
check "the table is published" wait_until 15 table_there
check "a refresh republishes it from the view and /proc, without listing" \
	wait_until 20 file_has "$TMP/exec.log" "task table: refreshed from the view and /proc"
tmem=$(tfield busy memory)
lmem=$(listed busy memory)
check "busy's memory in the table ($tmem bytes) agrees with PM2's listing ($lmem)" \
	awk -v t="$tmem" -v p="$lmem" 'BEGIN { exit !(p > 0 && t > p * 0.8 && t < p * 1.25) }'
tcpu_up() { awk -v c="$(tfield busy cpu)" 'BEGIN { exit !(c > 0) }'; }
check "busy's CPU in the table is above 0" wait_until 10 tcpu_up
"$PM2" restart busy >/dev/null 2>&1
check "a restart with the pm2 CLI reaches the table within 2 s" wait_until 2 tfield_is busy restarts 2
check "with the new pid" wait_until 2 tfield_is busy pid "$(listed busy pid)"
n0=$(grep -c "task table: refreshed from the view and /proc" "$TMP/exec.log")
check "and the refreshes from /proc go on" wait_until 15 bash -c "[ \$(grep -c 'task table: refreshed from the view and /proc' '$TMP/exec.log') -gt $n0 ]"

# No event socket (as with a daemon that has none): the console lists every
# interval, as before, and follows the events again once the socket is back.
mv "$PM2_HOME/pub.sock" "$PM2_HOME/pub.sock.away"
rm -f "$STATS"
console --
check "without the event socket the console still shows the tasks" wait_until 15 screen_re " fresh1 +online"
l0=$(stat lists)
pause 4
l1=$(stat lists)
check "without it, it lists every interval ($((l1 - l0)) in 4 s)" test "$((l1 - l0))" -ge 3
check "and says so in its counters" stat_is mode list
mv "$PM2_HOME/pub.sock.away" "$PM2_HOME/pub.sock"
check "once the socket is back, the view follows the events again" wait_until 5 stat_is mode events
"$PM2" stop fresh1 >/dev/null 2>&1
check "and a stop shows within 2 s" wait_until 2 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -qE ' fresh1 +stopped'"

# The old behaviour, kept behind a switch: a listing every interval.
rm -f "$STATS"
console TASKER_CONSOLE_LIST=every --
check "the console starts (listing every interval)" wait_until 15 screen_re " fresh1 +stopped"
l0=$(stat lists)
pause 4
l1=$(stat lists)
check "TASKER_CONSOLE_LIST=every lists every interval ($((l1 - l0)) in 4 s)" test "$((l1 - l0))" -ge 3

finish
