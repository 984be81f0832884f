#!/usr/bin/env bash
# The status history stream against a real redis-server, a real executor and
# a real PM2 daemon (private PM2_HOME): the stream holds every reply as
# published, it is capped, `watch --since` replays then goes live with no
# gap and no duplicate, `send --wait` finds a reply published while its
# subscriber was cut off, the console opens with the earlier feed, an
# executor without the right to XADD still answers (and says so once), and
# a message published while the executor's Redis was gone reaches the stream.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
K='b00t:{tasker}:status'
mkdir -p "$PM2_HOME"

# entries KEY: the m field of every entry, oldest first, one per line.
entries() {
	rcli --raw XRANGE "$1" - + | awk 'NR % 3 == 0'
}
xlen() { rcli XLEN "$1"; }
xlen_is() { [ "$(xlen "$1")" = "$2" ]; }

start_exec() {
	local log=$1
	shift
	bg "$TASKER" exec --redis "$R" --log-level=debug "$@" >"$log" 2>&1
	EXEC=$BG_PID
	wait_until 30 file_has "$log" "ready: listening"
}

stop_exec() {
	kill "$EXEC" 2>/dev/null
	wait_until 30 bash -c "! kill -0 $EXEC 2>/dev/null"
}

# --- every reply reaches the stream, byte for byte --------------------------------
check "executor starts" start_exec "$TMP/exec1.log"
bg "$TASKER" watch --redis "$R" --json >"$TMP/live.log" 2>/dev/null
LIVE=$BG_PID
wait_until 10 numsub_is b00t:task:status 1
for i in $(seq 1 20); do echo "/stop --task=early$i"; done |
	"$TASKER" send --redis "$R" --wait=120 - >/dev/null 2>"$TMP/send1.err"
check "20 commands were answered" wait_until 30 lines_in "$TMP/live.log" 20
check "the stream holds 20 entries" xlen_is "$K" 20
entries "$K" >"$TMP/stream1"
check "each entry is the published message, in order" diff "$TMP/live.log" "$TMP/stream1"
check "an entry is a not_found reply" grep -q '"task_name":"early7","status":"not_found"' "$TMP/stream1"

# --- watch --since: the earlier replies, then live ones, each once ----------------
bg "$TASKER" watch --redis "$R" --json --since 1h >"$TMP/since.log" 2>"$TMP/since.err"
SINCE=$BG_PID
check "watch --since prints the earlier replies" wait_until 20 lines_in "$TMP/since.log" 20
for i in $(seq 1 20); do echo "/stop --task=late$i"; done |
	"$TASKER" send --redis "$R" --wait=120 - >/dev/null 2>>"$TMP/send1.err"
check "and then the later ones" wait_until 30 lines_in "$TMP/live.log" 40
check "watch --since printed 40 lines" wait_until 20 lines_in "$TMP/since.log" 40
entries "$K" >"$TMP/stream2"
check "watch --since printed the 40 replies in order, none twice or missing" \
	diff "$TMP/stream2" "$TMP/since.log"
check "watch --since says how many it replayed" grep -q "replayed 20 earlier status messages" "$TMP/since.err"
"$TASKER" watch --redis "$R" --since 1h --count 1 >"$TMP/since_human.log" 2>/dev/null
check "watch --since prints readable lines too" grep -q "not_found early1: no task named early1" "$TMP/since_human.log"
"$TASKER" watch --redis "$R" --since 2h30 >/dev/null 2>"$TMP/bad_since.err"
check "a duration without its unit is a usage error" [ $? -eq 2 ]
check "and says what --since takes" grep -q "is neither a duration" "$TMP/bad_since.err"
kill "$SINCE" "$LIVE" 2>/dev/null

# A writer racing the start of watch --since: messages published (and added
# to the stream) before, during and after the replay. Every one is printed
# exactly once, in order.
S2=race:status
K2="$K:$S2"
writer() {
	local i
	for i in $(seq "$1" "$2"); do
		echo "PUBLISH $S2 m$i"
		echo "XADD $K2 * m m$i"
	done | redis-cli -p "$REDIS_PORT" >/dev/null
}
writer 1 200
bg writer 201 6000
WR=$BG_PID
wait_until 20 bash -c "[ \$(redis-cli -p $REDIS_PORT XLEN '$K2') -ge 1000 ]"
"$TASKER" watch --redis "$R" --status-channel "$S2" --json --since 1h --count 6000 --log-level=debug \
	>"$TMP/race.log" 2>"$TMP/race.err" &
RACE=$!
PIDS+=("$RACE")
wait_until 120 bash -c "! kill -0 $RACE 2>/dev/null"
wait "$WR" 2>/dev/null
check "watch --since during a stream of messages printed each once, in order" \
	diff <(seq 1 6000 | sed 's/^/m/') "$TMP/race.log"
check "and replayed part of them from the stream" grep -q "replayed [0-9]* earlier" "$TMP/race.err"
grep -hoE "(replayed [0-9]+ earlier.*|[0-9]+ live message.*)" "$TMP/race.err" | sed 's/^/# /'

# --- send --wait: a reply published while its subscriber was cut off --------------
# The sender is an ACL user; taking its channels away drops its subscriber
# and refuses it again, so the reply surely goes out while it is away.
stop_exec
rcli ACL SETUSER sender on '>senderpw' '~*' '&*' '+@all' >/dev/null
bg redis-cli -p "$REDIS_PORT" SUBSCRIBE cut:cmd >"$TMP/cut_listener.log"
wait_until 10 numsub_is cut:cmd 1
bg "$TASKER" send --redis "redis://sender:senderpw@127.0.0.1:$REDIS_PORT" --channel cut:cmd \
	--status-channel cut:status --wait=60 --raw -v '/stop --task=cutty' \
	>"$TMP/cut.out" 2>"$TMP/cut.err"
SENDER=$BG_PID
check "send published its command" wait_until 20 file_has "$TMP/cut_listener.log" '"task":"cutty"'
rid=$(grep -oE 'request_id [0-9a-f]{32}' "$TMP/cut.err" | head -n 1 | cut -d' ' -f2)
rcli ACL SETUSER sender resetchannels '&cut:cmd' >/dev/null
check "its subscriber is cut off" wait_until 10 numsub_is cut:status 0
reply="{\"type\":\"task_status\",\"task_name\":\"cutty\",\"status\":\"not_found\",\"timestamp\":\"$(date -u +%Y-%m-%dT%H:%M:%S.000Z)\",\"request_id\":\"$rid\",\"verb\":\"stop\",\"node\":\"fake\",\"error\":\"no task named cutty\"}"
decoy="{\"type\":\"task_status\",\"task_name\":\"cutty\",\"status\":\"started\",\"request_id\":\"$rid\",\"verb\":\"stop\"}"
for m in "$decoy" "$reply"; do
	rcli PUBLISH cut:status "$m" >/dev/null
	rcli XADD "$K:cut:status" '*' m "$m" >/dev/null
done
check "the reply went out while nobody listened" numsub_is cut:status 0
rcli ACL SETUSER sender allchannels >/dev/null
rcli CLIENT KILL USER sender >/dev/null
wait_until 60 bash -c "! kill -0 $SENDER 2>/dev/null"
wait "$SENDER"
rc=$?
check "send --wait found the reply in the history (exit 1: not_found)" [ "$rc" -eq 1 ]
check "and printed it, once" [ "$(cat "$TMP/cut.out")" = "$reply" ]
check "a reply that does not fit is still ignored" grep -q "ignored a reply for request_id $rid" "$TMP/cut.err"

# --- the console opens with the earlier feed ---------------------------------------
if command -v tmux >/dev/null; then
	check "executor starts again" start_exec "$TMP/exec2.log"
	"$TASKER" send --redis "$R" --wait=60 '/stop --task=before-console' >/dev/null
	SOCK="tasker-hist-$$"
	T=(tmux -L "$SOCK" -f /dev/null)
	trap '"${T[@]}" kill-server 2>/dev/null; cleanup' EXIT
	mkdir -p "$TMP/state" "$TMP/config"
	"${T[@]}" new-session -d -x 120 -y 30 -s main \
		env LC_ALL=C.UTF-8 TERM=xterm-256color XDG_STATE_HOME="$TMP/state" \
		XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$PM2_HOME" "$TASKER" --redis "$R"
	screen() { "${T[@]}" capture-pane -p -t main 2>/dev/null; }
	screen_has() { screen | grep -q -- "$1"; }
	check "the console's feed shows a reply sent before it started" \
		wait_until 20 screen_has "not_found before-console"
	check "and says those lines are the history" screen_has "before the console started"
	"$TASKER" send --redis "$R" --wait=60 '/stop --task=after-console' >/dev/null
	check "live replies follow" wait_until 20 screen_has "not_found after-console"
	check "the earlier reply is shown once" [ "$(screen | grep -c 'not_found before-console')" -eq 1 ]
	"${T[@]}" send-keys -t main q
	"${T[@]}" kill-server 2>/dev/null
	stop_exec
else
	not_ok "tmux is installed"
fi

# --- an executor that may not XADD still answers, and says so once ----------------
rcli ACL SETUSER noxadd on '>noxaddpw' '~*' '&*' '+@all' '-xadd' >/dev/null
before=$(xlen "$K")
bg "$TASKER" exec --redis "redis://noxadd:noxaddpw@127.0.0.1:$REDIS_PORT" >"$TMP/exec3.log" 2>&1
EXEC=$BG_PID
wait_until 30 file_has "$TMP/exec3.log" "ready: listening"
ok3=0
for i in 1 2 3; do
	"$TASKER" send --redis "$R" --wait=60 /status >/dev/null 2>&1 && ok3=$((ok3 + 1))
done
check "without XADD every command is still answered" [ "$ok3" -eq 3 ]
check "the refusal is logged" grep -q "refused to add to the history stream" "$TMP/exec3.log"
check "once, not once per message" [ "$(grep -c "refused to add to the history stream" "$TMP/exec3.log")" -eq 1 ]
check "and nothing was added" xlen_is "$K" "$before"
stop_exec

# --- a message published while Redis refused the executor reaches the stream later --
# The task exits when a file appears: the exit is relayed while the
# executor's connections are cut off, so its publish and its entry wait.
rcli ACL SETUSER ex on '>expw' '~*' '&*' '+@all' >/dev/null
bg "$TASKER" exec --redis "redis://ex:expw@127.0.0.1:$REDIS_PORT" --log-level=debug >"$TMP/exec4.log" 2>&1
EXEC=$BG_PID
wait_until 30 file_has "$TMP/exec4.log" "ready: listening"
WAITER='import os,sys,time
while not os.path.exists(sys.argv[1]): time.sleep(0.05)'
out=$("$TASKER" send --redis "$R" --wait=60 --raw --json \
	"{\"verb\":\"start\",\"params\":{\"task\":\"brief\",\"command\":\"python3\",\"args\":[\"-c\",$(printf '%s' "$WAITER" | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read()))'),\"$TMP/go\"],\"autorestart\":false}}")
check "the waiting task is started" grep -q '"status":"started"' <<<"$out"
rcli ACL SETUSER ex off >/dev/null
rcli CLIENT KILL USER ex >/dev/null
check "the executor lost Redis" wait_until 20 file_has "$TMP/exec4.log" "not listening"
touch "$TMP/go"
check "the task exited" wait_until 30 bash -c "'$TASKER' ls --json | grep -q '\"name\":\"brief\",\"pm_id\":[0-9]*,\"status\":\"stopped\"'"
check "the exit waits: it is not in the stream yet" bash -c "! redis-cli -p $REDIS_PORT --raw XRANGE '$K' - + | grep -q '\"task_name\":\"brief\",\"status\":\"exited\"'"
rcli ACL SETUSER ex on >/dev/null
check "once Redis takes the executor back, the exit reaches the stream" \
	wait_until 30 bash -c "redis-cli -p $REDIS_PORT --raw XRANGE '$K' - + | grep -q '\"task_name\":\"brief\",\"status\":\"exited\"'"
stop_exec

# --- the cap: --history 50 and 200 replies ---------------------------------------------
rcli DEL "$K" >/dev/null
check "an executor with --history 50 starts" start_exec "$TMP/exec5.log" --history 50
for i in $(seq 1 200); do echo "/stop --task=cap$i"; done |
	"$TASKER" send --redis "$R" --wait=120 - >/dev/null 2>"$TMP/send5.err"
n=$(xlen "$K")
check "the stream stays near 50 entries after 200 replies ($n)" bash -c "[ '$n' -ge 50 ] && [ '$n' -le 150 ]"
newest=$(rcli --raw XREVRANGE "$K" + - COUNT 1 | sed -n 3p)
check "its newest entry is one of those replies" grep -q '"task_name":"cap[0-9]*","status":"not_found"' <<<"$newest"
stop_exec
# (Bounded: a tasker that took these would run as an executor.)
timeout 30 "$TASKER" exec --redis "$R" --history 12x >/dev/null 2>"$TMP/bad_hist.err"
check "--history takes a whole number" [ $? -eq 2 ]
TASKER_HISTORY=-5 timeout 30 "$TASKER" exec --redis "$R" >/dev/null 2>"$TMP/bad_hist2.err"
check "TASKER_HISTORY is checked too" grep -q "TASKER_HISTORY takes a whole number" "$TMP/bad_hist2.err"

# --- the ACL lines of docs/operations.md (section 4.2) --------------------------------
ops="$ROOT/docs/operations.md"
acl_line() { grep -m1 "^ACL SETUSER $1 " "$ops" | sed "s/>[A-Z]*-PASSWORD/>pw-$1/"; }
for u in tasker-exec b00t-agent b00t-watch; do
	line=$(acl_line "$u")
	# shellcheck disable=SC2086 # the documented line, split into words as redis-cli would
	[ -n "$line" ] && rcli ${line} >/dev/null
done
check "the documented ACL users exist" bash -c "redis-cli -p $REDIS_PORT ACL LIST | grep -q 'user b00t-watch on'"
rcli DEL "$K" >/dev/null
bg "$TASKER" exec --redis "redis://tasker-exec:pw-tasker-exec@127.0.0.1:$REDIS_PORT" >"$TMP/exec6.log" 2>&1
EXEC=$BG_PID
wait_until 30 file_has "$TMP/exec6.log" "ready: listening"
"$TASKER" send --redis "redis://b00t-agent:pw-b00t-agent@127.0.0.1:$REDIS_PORT" --wait=60 \
	'/stop --task=acl-ghost' >"$TMP/acl_send.out" 2>&1
check "tasker-exec answers b00t-agent's send --wait" grep -q "not_found acl-ghost" "$TMP/acl_send.out"
check "b00t-agent may admit its command to the fleet's stream" bash -c "! grep -q 'publishing only' '$TMP/acl_send.out'"
check "b00t-agent may not write a failover definition" bash -c "redis-cli -p $REDIS_PORT --user b00t-agent --pass pw-b00t-agent --no-auth-warning SET 'b00t:{tasker}:b00t:k0mmand3r:def:x' 1 | grep -q NOPERM"
check "nor a node's stream" bash -c "redis-cli -p $REDIS_PORT --user b00t-agent --pass pw-b00t-agent --no-auth-warning XADD 'b00t:{tasker}:b00t:k0mmand3r:node:n1' '*' m x | grep -q NOPERM"
check "nor a presence key" bash -c "redis-cli -p $REDIS_PORT --user b00t-agent --pass pw-b00t-agent --no-auth-warning SET 'b00t:tasker:executor:n1' x | grep -q NOPERM"
check "tasker-exec may add to the history" wait_until 10 xlen_is "$K" 1
check "and nothing was refused" bash -c "! grep -q refused '$TMP/exec6.log'"
timeout 30 "$TASKER" watch --redis "redis://b00t-watch:pw-b00t-watch@127.0.0.1:$REDIS_PORT" --since 1h \
	--count 1 >"$TMP/acl_watch.out" 2>&1
check "b00t-watch may replay the history" grep -q "not_found acl-ghost" "$TMP/acl_watch.out"
stop_exec

finish
