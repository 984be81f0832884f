#!/usr/bin/env bash
# The console as one screen for a fleet: three executors (nodes n1, n2, n3,
# each with its own PM2 daemon and PM2_HOME) and a console on a machine with
# no PM2 at all (PM2_HOME an empty directory, no pm2 on PATH). It shows
# every node's tasks with their node, narrows to one node, stops a task of
# another node through the bus (that node's PM2 stops it), asks another
# node for a task's logs with the logs verb and follows the reply's stream,
# and shows a node whose executor was killed as lost.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$TMP/state" "$TMP/config" "$TMP/empty" "$TMP/bin"

declare -A EX
for node in n1 n2 n3; do
	mkdir -p "$TMP/pm2-$node"
	PM2_HOME="$TMP/pm2-$node" bg "$TASKER" exec --node "$node" --pm2-home "$TMP/pm2-$node" \
		--cwd-base "$TMP" >>"$TMP/exec-$node.log" 2>&1
	EX[$node]=$BG_PID
done
for node in n1 n2 n3; do
	check "executor $node is ready" wait_until 30 file_has "$TMP/exec-$node.log" "ready: listening"
done
for node in n1 n2 n3; do
	out=$("$TASKER" send --wait=30 --raw "/start --task=job-$node --node=$node --command=\"sleep 600\"" 2>&1)
	check "job-$node starts on $node" has "$out" "\"status\":\"started\".*\"node\":\"$node\""
done

# fleet_status TASK NODE: the status of TASK on NODE, from the task tables.
fleet_status() {
	"$TASKER" ls --fleet --json 2>/dev/null | grep -o "\"name\":\"$1\",[^}]*\"node\":\"$2\"" |
		sed -n 's/.*"status":"\([a-z_ ]*\)".*/\1/p' | head -n 1
}
fleet_status_is() { [ "$(fleet_status "$1" "$2")" = "$3" ]; }
for node in n1 n2 n3; do
	check "tasker ls --fleet sees job-$node online on $node" wait_until 20 fleet_status_is "job-$node" "$node" online
done

# A PATH with the tools a shell needs and no pm2 (nor node).
for tool in env sh bash; do ln -sf "$(command -v $tool)" "$TMP/bin/$tool"; done
answer_once() { key "$1"; wait_until 3 "${@:2}"; }
answer() { wait_until 30 answer_once "$@"; }

"${T[@]}" new-session -d -x 120 -y 32 -s main \
	env -i PATH="$TMP/bin" HOME="$TMP" LC_ALL=C.UTF-8 TERM=xterm-256color \
	XDG_STATE_HOME="$TMP/state" XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$TMP/empty" \
	"$TASKER" --redis "$REDIS_URL"
check "the console starts without PM2" wait_until 15 screen_has "tasker"
check "the header says there is no local PM2, not an alarm" wait_until 15 screen_has "no local PM2"
for node in n1 n2 n3; do
	check "the table shows job-$node with its node $node" wait_until 15 screen_re "$node +[0-9]+ +job-$node +online"
done
check "the header counts tasks per node" screen_re "n1 1, n2 1, n3 1"
# No PM2 is a state, said once in the header: the feed does not fill with it.
check "no error storm about PM2 in the feed" bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -ciE 'pm2.*(refused|no such|not reachable|ENOENT|connect)') -eq 0 ]"
screen_re "job-n3 +online" || dump

# --- the node filter ---------------------------------------------------------------
bg redis-cli -p "$REDIS_PORT" SUBSCRIBE b00t:k0mmand3r >"$TMP/sub.log"
wait_until 10 numsub_is b00t:k0mmand3r 4
key n
check "n narrows the table to one node (n1)" wait_until 10 screen_has "node n1 only"
key n
check "n again: the next node (n2)" wait_until 10 screen_has "node n2 only"
check "only n2's task shows" bash -c "tmux -L $SOCK capture-pane -p -t main | grep -qE 'n2 +[0-9]+ +job-n2' && ! tmux -L $SOCK capture-pane -p -t main | grep -qE 'n[13] +[0-9]+ +job-n[13]'"

# --- an action on another node's task ------------------------------------------
key s
check "s asks, naming the node" wait_until 10 screen_has "Stop job-n2 (pm_id 0) on node n2?"
stopped_msg() { screen_has "stopped job-n2"; }
check "y stops it: the outcome comes back" answer y stopped_msg
check "the command named the node (params.node n2)" wait_until 10 bash -c "grep '\"verb\":\"stop\"' '$TMP/sub.log' | grep -q '\"node\":\"n2\"'"
check "n2's PM2 stopped job-n2" wait_until 20 fleet_status_is job-n2 n2 stopped
check "and nothing else: job-n1 still online" fleet_status_is job-n1 n1 online
check "and job-n3 still online" fleet_status_is job-n3 n3 online
check "the row shows stopped" wait_until 15 screen_re "n2 +[0-9]+ +job-n2 +stopped"

key n
key n
check "past the last node: every node again" wait_until 10 screen_has "every node"
type_text "/node n3"
key Enter
check "/node n3 narrows to n3" wait_until 10 screen_has "node n3 only"
type_text "/node nowhere"
key Enter
check "/node with an unknown node says so" wait_until 10 screen_has "no node nowhere in the fleet"
type_text "/node"
key Enter
check "/node alone shows every node" wait_until 10 screen_has "every node"

# --- a node lost ------------------------------------------------------------------
kill -9 "${EX[n3]}"
{ wait "${EX[n3]}"; } 2>/dev/null
# Its task table (TTL 20 s) and presence key (TTL 30 s) expire.
check "after kill -9, n3 shows as lost" wait_until 45 screen_re "n3 +[0-9]+ +job-n3 +lost"
check "the header says n3 is lost" screen_re "n3 1 lost"
check "the feed says so" screen_has "node n3 is lost"
check "the other nodes stay live" screen_re "n1 +[0-9]+ +job-n1 +online"
check "a minute without PM2: still no error about it in the feed" bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -ciE 'pm2.*(refused|no such|not reachable|ENOENT|connect)') -eq 0 ]"
screen_re "job-n3 +lost" || dump

# --- logs of another node's task: the logs verb --------------------------------
# n1 answers a logs request itself (with an error until its executor has
# the verb); the view shows whatever it said.
type_text "/node n1"
key Enter
wait_until 10 screen_has "node n1 only"
key l
check "l on n1's task publishes the logs verb for node n1" wait_until 10 bash -c "grep '\"verb\":\"logs\"' '$TMP/sub.log' | grep '\"task\":\"job-n1\"' | grep -q '\"node\":\"n1\"'"
check "the detail view names the node" wait_until 10 screen_has "on node n1"
check "n1's answer shows in the view" wait_until 15 screen_re "logs +(error|invalid|not_found|the last lines|following)"
key Escape
wait_until 10 screen_has "node n1 only"
# n3 is gone: it cannot answer (an executor without the verb refuses it
# for the fleet; the view says so and keeps waiting), so the test answers
# as n3's executor would
# (the reply of /work/notes/logs-spec.md, docs/protocol.md): its lines,
# then the follow stream.
type_text "/node n3"
key Enter
wait_until 10 screen_has "node n3 only"
key l
check "l on lost n3's task asks n3" wait_until 10 bash -c "grep '\"verb\":\"logs\"' '$TMP/sub.log' | grep '\"task\":\"job-n3\"' | grep -q '\"node\":\"n3\"'"
check "the view says it asks n3" wait_until 10 screen_re "asking node n3 for the logs of job-n3|error: unknown verb"
rid=$(grep '"verb":"logs"' "$TMP/sub.log" | grep '"task":"job-n3"' | tail -n 1 | sed 's/.*"request_id":"\([^"]*\)".*/\1/')
stream="b00t:{tasker}:logs:$rid"
rcli XADD "$stream" '*' s out l "first streamed line" >/dev/null
rcli PUBLISH b00t:task:status "{\"type\":\"status\",\"verb\":\"logs\",\"status\":\"ok\",\"task\":\"job-n3\",\"node\":\"n3\",\"request_id\":\"$rid\",\"lines\":[{\"s\":\"out\",\"l\":\"hello from n3\"},{\"s\":\"err\",\"l\":\"warn from n3\"}],\"stream\":\"$stream\"}" >/dev/null
check "the reply's stdout line shows" wait_until 10 screen_has "hello from n3"
check "its stderr line shows" screen_has "warn from n3"
check "the view follows the stream" wait_until 10 screen_has "first streamed line"
rcli XADD "$stream" '*' s out l "second streamed line" >/dev/null
check "a line added later shows (XREAD BLOCK)" wait_until 10 screen_has "second streamed line"
rcli XADD "$stream" '*' end timeout >/dev/null
check "the end entry ends the follow" wait_until 10 screen_has "ended (timeout)"
key Escape
check "Esc closes the log view" wait_until 10 screen_has "node n3 only"
type_text "/node"
key Enter
wait_until 10 screen_has "every node"

# A table that is not one (whatever sits in Redis) changes nothing.
rcli SET 'b00t:{tasker}:tasks:junk' 'not json at all' >/dev/null
rcli SET 'b00t:{tasker}:tasks:evil' "$(printf '{"node":"evil","tasks":[{"name":"x\\u001b[2Jy","pm_id":1e300,"status":"online","memory":-5}]}')" >/dev/null
check "a hostile table shows as a row, its escape drawn harmless" wait_until 10 screen_re "evil +0 +x.*y +lost"
check "the junk table adds no node" screen_lacks_re "junk"
check "the live nodes still show" screen_re "n1 +[0-9]+ +job-n1 +online"
rcli DEL 'b00t:{tasker}:tasks:junk' 'b00t:{tasker}:tasks:evil' >/dev/null

# The same screen in mono (NO_COLOR): the word lost carries it.
cleanup_tmux
wait_until 10 bash -c "! tmux -L $SOCK has-session 2>/dev/null"
"${T[@]}" new-session -d -x 120 -y 32 -s main \
	env -i PATH="$TMP/bin" HOME="$TMP" LC_ALL=C.UTF-8 TERM=xterm-256color NO_COLOR=1 \
	XDG_STATE_HOME="$TMP/state" XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$TMP/empty" \
	ASAN_OPTIONS="$ASAN_OPTIONS" UBSAN_OPTIONS="$UBSAN_OPTIONS" \
	bash -c "'$TASKER' --redis '$REDIS_URL' 2>'$TMP/console.err'; echo \$? >'$TMP/console.rc'"
# A new console has not seen n3 before: with its table and presence gone it
# is not in the fleet any more; n1 and n2 are.
check "a new console (NO_COLOR) shows the live nodes" wait_until 15 screen_re "n1 +[0-9]+ +job-n1 +online"
check "and no row of n3, which it never saw live" screen_lacks_re "n3 +[0-9]+ +job-n3"
# Through the log view of another node and out: q leaves cleanly.
key n
wait_until 10 screen_has "node n1 only"
key l
wait_until 10 screen_has "on node n1"
key Escape
wait_until 10 screen_lacks_re "on node n1"
key q
check "q leaves the console with status 0" wait_until 15 bash -c "[ \"\$(cat '$TMP/console.rc' 2>/dev/null)\" = 0 ]"
check "and nothing on its stderr (a sanitizer build reports there)" bash -c "! grep -q . '$TMP/console.err'"
[ -s "$TMP/console.err" ] && sed 's/^/#   /' "$TMP/console.err" | head -20
finish
