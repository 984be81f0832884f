#!/usr/bin/env bash
# The console, driven as a person would through a private tmux server (fixed
# size, UTF-8), against a real redis-server, a real PM2 daemon (private
# PM2_HOME) and a real executor. The screen is read with capture-pane,
# polled against deadlines.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config"

bg "$TASKER" exec --redis "$R" >"$TMP/exec.log" 2>&1
wait_until 20 file_has "$TMP/exec.log" "ready: listening"

CONSOLE_ARGS=(--redis "$R")
# answer KEY TEXT: answers the question on screen with KEY until TEXT shows
# (a key within 300 ms of the question is not taken as its answer).
answer_once() { key "$1"; wait_until 3 screen_has "$2"; }
answer() { wait_until 30 answer_once "$@"; }

console --
check "the console starts and shows its header" wait_until 15 screen_has "tasker"
check "the header shows Redis up" wait_until 15 screen_has "Redis up"
check "the header sees one executor" wait_until 15 screen_has "exec 1"
check "the feed is there" screen_has "Status feed"
check "the key hints are there" screen_has "/ command"

# Type a /start line: the bar opens on '/', the outcome comes back.
type_text "/start --task=hello --command=\"sleep 600\""
check "the bar shows what is typed" wait_until 10 screen_has '/start --task=hello --command="sleep 600"'
key Enter
check "the outcome shows ✓ started" wait_until 20 screen_has "✓ started hello"
check "the row goes online" wait_until 20 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -E 'hello +online'"
screen_has "✓ started hello" || dump

# Stop with 's' on the selected row: it asks first, y goes on.
key s
check "s asks before it stops" wait_until 10 screen_has "Stop hello (pm_id"
check "s then y stops the selected task" answer y "✓ stopped hello"
check "the row shows stopped" wait_until 20 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -E 'hello +stopped'"

# A bad line: its error at once, and nothing published.
bg redis-cli -p "$REDIS_PORT" SUBSCRIBE b00t:k0mmand3r >"$TMP/sub.log"
wait_until 10 numsub_is b00t:k0mmand3r 2
type_text "/start --task=x --command=\"node app.js"
key Enter
check "a parse error shows its column" wait_until 10 screen_has "unterminated quote at column 27"
check "the parse error says nothing was sent" screen_has "nothing was sent"
type_text "/status"
key Enter
check "the next good line is published" wait_until 10 file_has "$TMP/sub.log" '"verb":"status"'
check "the bad line was never published" bash -c "! grep -q 'app.js' '$TMP/sub.log'"

# Console commands, help, details.
type_text "/filter nomatch"
key Enter
check "/filter hides rows" wait_until 10 screen_has "No task matches the filter"
type_text "/filter"
key Enter
check "/filter alone clears it" wait_until 10 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -E 'hello +stopped'"
type_text $'/filter zz\r/sort name\r'
check "a pasted block of two lines runs both" wait_until 10 screen_has "sorted by name"
check "and the first line took effect too" screen_has "No task matches the filter"
type_text "/filter"
key Enter
key '?'
check "? opens the help" wait_until 10 screen_has "tasker help"
key x
check "any key closes the help" wait_until 10 screen_lacks "tasker help"
key Enter
check "Enter opens the details" wait_until 10 screen_has "command  /"
check "details hide env values" screen_has "values hidden"
key Escape
check "Esc closes the details" wait_until 10 screen_lacks "values hidden"

# Tab completion of a task name.
type_text "/restart --task=hel"
key Tab
check "Tab completes the task name" wait_until 10 screen_has "/restart --task=hello"
key Escape
check "Esc leaves the bar" wait_until 10 screen_lacks "/restart --task=hello"
check "the hints are back to the table's" screen_has "Enter details"

# A key action names exactly the selected task, whatever its PM2 name holds.
type_text "/start --task=my --command=\"sleep 600\""
key Enter
check "task my is started" wait_until 20 screen_has "✓ started my"
PM2_HOME="$PM2_HOME" "$PM2" start /bin/sleep --name "my app" -- 600 >/dev/null 2>&1
check "a PM2 task named 'my app' shows up" wait_until 20 screen_has "my app"
type_text '/filter my app'
key Enter
wait_until 10 screen_lacks "hello "
key s
check "s on 'my app' asks for that one process, by its pm_id" wait_until 10 screen_has "Stop my app (pm_id [0-9]*, by its pm_id)"
answer y "✓ stopped my app"
check "s on 'my app' stops it by its pm_id, not 'my'" wait_until 20 screen_has "✓ stopped my app"
check "'my app' is stopped in PM2" wait_until 10 bash -c "'$PM2' jlist 2>/dev/null | python3 -c 'import json,sys; sys.exit(0 if [p for p in json.load(sys.stdin) if p[\"name\"]==\"my app\" and p[\"pm2_env\"][\"status\"]==\"stopped\"] else 1)'"
type_text "/filter"
key Enter
check "task my is still online" wait_until 10 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -E ' my +online'"

# The detail view follows the end of a long log of short lines.
type_text "/start --task=counter --command=\"seq 1 3000\" --autorestart=false"
key Enter
check "the counter task ran" wait_until 20 bash -c "grep -q '^3000\$' '$PM2_HOME'/logs/counter-out*.log"
type_text "/filter counter"
key Enter
wait_until 10 screen_lacks " my "
key Enter
check "details show the last line of the log" wait_until 10 screen_has "3000"
key Escape
type_text "/filter"
key Enter

# Resize to 60x15 and back.
"${T[@]}" resize-window -t main -x 60 -y 15
check "at 60x15 the table still shows the task" wait_until 10 bash -c "tmux -L $SOCK capture-pane -p -t main | grep -E 'hello +stopped'"
check "at 60x15 the screen is 15 lines" bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | wc -l) -eq 15 ]"
check "at 60x15 no line is wider than 60" bash -c "! tmux -L $SOCK capture-pane -p -t main | awk '{ if (length(\$0) > 60) exit 0 } END { exit 1 }'"
"${T[@]}" resize-window -t main -x 100 -y 30
check "back at 100x30 the columns return" wait_until 10 screen_has "UPTIME"

# Redis goes away and comes back: the header says so and recovers.
PORT=$REDIS_PORT
stop_redis
check "the header shows Redis down" wait_until 15 screen_has "Redis DOWN"
start_redis "$PORT"
check "the header recovers after the restart" wait_until 20 screen_has "Redis up"
type_text "/stop --task=hello"
key Enter
check "commands work again after the restart" wait_until 20 screen_has "✓ stopped hello"

# A flood of status messages does not freeze input.
flood() {
	local i
	for i in $(seq 1 20000); do
		echo "PUBLISH b00t:task:status '{\"type\":\"task_status\",\"task_name\":\"flood$i\",\"status\":\"exited\"}'"
	done | redis-cli -p "$REDIS_PORT" >/dev/null
}
bg flood
FLOOD=$BG_PID
check "the flood reaches the feed" wait_until 20 screen_has "exited flood"
type_text "/filter hel"
check "typing shows up during the flood" wait_until 10 screen_has "/filter hel"
key Enter
check "and the line is handled during the flood" wait_until 10 screen_has "filter: hel"
wait "$FLOOD" 2>/dev/null
type_text "/filter"
key Enter

# q quits and restores the terminal.
key q
check "q quits the console" wait_until 10 bash -c "! tmux -L $SOCK has-session -t main 2>/dev/null || ! tmux -L $SOCK list-panes -t main -F '#{pane_current_command}' | grep -q tasker"

# The mono theme and NO_COLOR render.
console -- --theme mono
check "--theme mono renders" wait_until 15 screen_has "Status feed"
key q
console NO_COLOR=1 --
check "NO_COLOR renders" wait_until 15 screen_has "Status feed"
"${T[@]}" capture-pane -e -p -t main >"$TMP/nocolor.txt"
check "NO_COLOR emits no colour codes" bash -c "! grep -qE $'\\033\\\\[[0-9;]*3[0-7]m' '$TMP/nocolor.txt'"
key q
console -- --theme nosuchtheme
check "a missing theme falls back to the default" wait_until 15 screen_has "Status feed"
check "and says so on screen" wait_until 5 screen_has "theme 'nosuchtheme' not found"
key q

# PM2 unreachable: the table says so and how to fix it.
"$PM2" kill >/dev/null 2>&1
kill "$(pgrep -f "$TASKER exec --redis $R")" 2>/dev/null
console -- --interval 0.2
check "PM2 down is explained in the table" wait_until 15 screen_has "PM2 is not reachable"
check "and the header says PM2 DOWN" screen_has "PM2 DOWN"
key q
finish
