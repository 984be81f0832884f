#!/usr/bin/env bash
# Senders write to the fleet's stream (docs/fleet.md, "Admission"): a
# command sent while no executor runs is carried out once by the first one
# that starts; with three executors (three nodes, each its own PM2_HOME) a
# send, a raw PUBLISH, and the same request_id sent twice are each carried
# out once; a Redis user whose ACL forbids EVAL or XADD falls back to the
# PUBLISH alone (said on stderr) and the command is still carried out; the
# console's typed commands go into the stream too.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
STREAM='b00t:{tasker}:b00t:k0mmand3r:commands'

declare -A EX
start_node() {
	local node=$1
	mkdir -p "$TMP/pm2-$node"
	PM2_HOME="$TMP/pm2-$node" bg "$TASKER" exec --node "$node" --pm2-home "$TMP/pm2-$node" \
		--cwd-base "$TMP" --log-level=debug >>"$TMP/exec-$node.log" 2>&1
	EX[$node]=$BG_PID
}
stop_node() {
	kill -TERM "${EX[$1]}" 2>/dev/null
	wait "${EX[$1]}" 2>/dev/null
}

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

# replies RID: how many replies carry that request_id.
replies() { grep -c "\"request_id\":\"$1\"" "$TMP/status.log"; }
got_reply() { [ "$(replies "$1")" -ge 1 ]; }
reply_has() { grep "\"request_id\":\"$1\"" "$TMP/status.log" | grep -q -- "$2"; }
# in_stream TEXT: how many entries of the intake hold TEXT.
in_stream() { rcli --raw XRANGE "$STREAM" - + | grep -cF -- "$1"; }
fleet_count() { "$TASKER" ls --fleet --json 2>/dev/null | grep -o "\"name\":\"$1\",[^}]*\"node\":\"[a-z0-9]*\"" | wc -l; }
fleet_count_is() { [ "$(fleet_count "$1")" -eq "$2" ]; }
# pm2_has_once NODE NAME: the node's PM2 lists NAME exactly once (read
# from the daemon's socket).
pm2_has_once() { [ "$("$TASKER" ls --json --pm2-home "$TMP/pm2-$1" 2>/dev/null | grep -o "\"name\":\"$2\"" | wc -l)" -eq 1 ]; }
start_json() { printf '{"verb":"start","params":{"task":"%s","command":"sleep 600"},"request_id":"%s"}' "$1" "$2"; }
# settled RID: a /status sent after RID went through the whole fleet and
# came back, so a second copy of RID would have been carried out by now.
settled() { "$TASKER" send --wait=20 /status >/dev/null 2>&1; }

# --- (a) sent while no executor runs: carried out once by a later one ------------------
check "no executor listens yet" numsub_is b00t:k0mmand3r 0
"$TASKER" send -v --json "$(start_json qa sa1)" >"$TMP/a.out" 2>"$TMP/a.err"; rc=$?
check "send with no executor exits 0 ($rc)" [ "$rc" -eq 0 ]
check "and says the command waits in the fleet's stream" grep -q "nobody is subscribed to b00t:k0mmand3r.*waits in the fleet's stream" "$TMP/a.err"
check "-v names the stream entry" grep -q "request_id sa1 queued as [0-9]*-[0-9]* in $STREAM" "$TMP/a.err"
check "the command is in the intake stream once" [ "$(in_stream '"request_id":"sa1"')" -eq 1 ]
"$TASKER" send --wait=1 '/status' >/dev/null 2>"$TMP/a2.err"; rc=$?
check "send --wait with no executor still exits 3 at once ($rc)" [ "$rc" -eq 3 ]
check "saying it stays queued for its ttl (the wait, 1 s)" grep -q "waits in the fleet's stream.*an executor that starts within 1 s carries it out" "$TMP/a2.err"

start_node n1
check "executor n1 starts" wait_until 20 file_has "$TMP/exec-n1.log" "ready: listening"
check "the queued start is answered" wait_until 30 got_reply sa1
check "started" reply_has sa1 '"status":"started"'
settled
check "exactly one reply for sa1 ($(replies sa1))" [ "$(replies sa1)" -eq 1 ]
check "PM2 of n1 lists qa once" wait_until 20 pm2_has_once n1 qa

# --- (b) three nodes: a send is carried out once --------------------------------------
start_node n2
start_node n3
for node in n2 n3; do
	check "executor $node is ready" wait_until 20 file_has "$TMP/exec-$node.log" "ready: listening"
done
all_seen() { "$TASKER" send --wait=10 --raw '/status' 2>/dev/null | grep -q '"nodes":\["n[123]","n[123]","n[123]"\]'; }
check "the fleet sees three nodes" wait_until 30 all_seen
check "three executors listen" numsub_is b00t:k0mmand3r 3

"$TASKER" send --json "$(start_json qb sb1)" >/dev/null 2>"$TMP/b.err"; rc=$?
check "send to three nodes exits 0 ($rc)" [ "$rc" -eq 0 ]
check "no 'nobody' warning with executors listening" bash -c "! grep -q nobody '$TMP/b.err'"
check "sb1 is answered" wait_until 30 got_reply sb1
settled
check "exactly one reply for sb1 ($(replies sb1))" [ "$(replies sb1)" -eq 1 ]
check "admitted once: one entry in the intake (the executors dropped their copies)" [ "$(in_stream '"request_id":"sb1"')" -eq 1 ]
check "qb runs once in the fleet" wait_until 20 fleet_count_is qb 1
out=$("$TASKER" send --wait=20 '/start --task=qw --command="sleep 600"' 2>&1); rc=$?
check "send --wait still prints the reply and exits 0 ($rc)" [ "$rc" -eq 0 ]
check "the reply says started" has "$out" "started qw"
check "qw runs once in the fleet" wait_until 20 fleet_count_is qw 1

# --- (c) a raw PUBLISH is still carried out once ------------------------------------------
rcli PUBLISH b00t:k0mmand3r "$(start_json qc sc1)" >/dev/null
check "a raw PUBLISH is answered" wait_until 30 got_reply sc1
settled
check "exactly one reply for sc1 ($(replies sc1))" [ "$(replies sc1)" -eq 1 ]
check "one entry in the intake for sc1" [ "$(in_stream '"request_id":"sc1"')" -eq 1 ]
check "qc runs once in the fleet" wait_until 20 fleet_count_is qc 1

# --- (e) the same request_id twice: carried out once ------------------------------------
"$TASKER" send --json "$(start_json qe se1)" >/dev/null 2>&1
"$TASKER" send --json "$(start_json qe se1)" >/dev/null 2>"$TMP/e.err"; rc=$?
check "the second send exits 0 ($rc)" [ "$rc" -eq 0 ]
check "and says the request_id was sent already" grep -q "request_id se1 was sent already" "$TMP/e.err"
check "se1 is answered" wait_until 30 got_reply se1
settled
check "exactly one reply for se1 ($(replies se1))" [ "$(replies se1)" -eq 1 ]
check "one entry in the intake for se1" [ "$(in_stream '"request_id":"se1"')" -eq 1 ]
check "qe runs once in the fleet" wait_until 20 fleet_count_is qe 1

# --publish-only: the PUBLISH alone; an executor admits it.
"$TASKER" send -v --publish-only --json "$(start_json qp sp1)" >/dev/null 2>"$TMP/p.err"; rc=$?
check "--publish-only exits 0 ($rc)" [ "$rc" -eq 0 ]
check "--publish-only queues nothing itself" bash -c "! grep -q 'queued as' '$TMP/p.err'"
check "sp1 is answered" wait_until 30 got_reply sp1
settled
check "exactly one reply for sp1 ($(replies sp1))" [ "$(replies sp1)" -eq 1 ]
check "one entry in the intake for sp1 (an executor's admission)" [ "$(in_stream '"request_id":"sp1"')" -eq 1 ]

# --- (d) an ACL without EVAL, or without XADD: PUBLISH alone, said once --------------
rcli ACL SETUSER noeval on '>pw' '~*' '&*' '+@all' '-eval' '-evalsha' >/dev/null
rcli ACL SETUSER noxadd on '>pw' '~*' '&*' '+@all' '-xadd' >/dev/null
# A script refused halfway (TIME) must leave nothing behind, or the
# executors admit the command a second time.
rcli ACL SETUSER notime on '>pw' '~*' '&*' '+@all' '-time' >/dev/null
for u in noeval noxadd notime; do
	rid="sd-$u"
	REDIS_URL="redis://$u:pw@127.0.0.1:$REDIS_PORT" "$TASKER" send --json "$(start_json "qd$u" "$rid")" \
		>/dev/null 2>"$TMP/d-$u.err"; rc=$?
	check "$u: send exits 0 ($rc)" [ "$rc" -eq 0 ]
	check "$u: says it publishes only" grep -q "Redis refused the fleet's stream.*publishing only" "$TMP/d-$u.err"
	check "$u: says it once" [ "$(grep -c "refused" "$TMP/d-$u.err")" -eq 1 ]
	check "$u: the command is answered" wait_until 30 got_reply "$rid"
	settled
	check "$u: exactly one reply ($(replies "$rid"))" [ "$(replies "$rid")" -eq 1 ]
	check "$u: started once in the fleet" wait_until 20 fleet_count_is "qd$u" 1
	check "$u: one entry in the intake" [ "$(in_stream "\"request_id\":\"$rid\"")" -eq 1 ]
done
# Two commands in one send: the refusal is said once, both go out.
printf '%s\n%s\n' "$(start_json qd2a sd2a)" "$(start_json qd2b sd2b)" |
	REDIS_URL="redis://noxadd:pw@127.0.0.1:$REDIS_PORT" "$TASKER" send - >/dev/null 2>"$TMP/d2.err"
check "two commands, one refusal line" [ "$(grep -c "refused" "$TMP/d2.err")" -eq 1 ]
check "both are answered" wait_until 30 bash -c "grep -q '\"request_id\":\"sd2a\"' '$TMP/status.log' && grep -q '\"request_id\":\"sd2b\"' '$TMP/status.log'"

# --- the console: a typed command goes into the stream ------------------------------------
if command -v tmux >/dev/null; then
	for node in n1 n2 n3; do stop_node "$node"; done
	wait_until 10 numsub_is b00t:k0mmand3r 0
	SOCK="tasker-send-$$"
	T=(tmux -L "$SOCK" -f /dev/null)
	trap '"${T[@]}" kill-server 2>/dev/null; cleanup' EXIT
	screen_has() { "${T[@]}" capture-pane -p -t main 2>/dev/null | grep -q -- "$1"; }
	mkdir -p "$TMP/state" "$TMP/config"
	"${T[@]}" new-session -d -x 100 -y 30 -s main env LC_ALL=C.UTF-8 TERM=xterm-256color \
		XDG_STATE_HOME="$TMP/state" XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$TMP/pm2-n1" \
		"$TASKER" --redis "$REDIS_URL"
	check "the console starts" wait_until 15 screen_has "Redis up"
	"${T[@]}" send-keys -t main -l -- '/start --task=qcon --command="sleep 600"'
	check "the bar shows the line" wait_until 10 screen_has '/start --task=qcon'
	"${T[@]}" send-keys -t main Enter
	check "the typed start is in the intake stream, once" wait_until 10 bash -c "[ \$(redis-cli -p $REDIS_PORT --raw XRANGE '$STREAM' - + | grep -c '\"task\":\"qcon\"') -eq 1 ]"
	start_node n1
	check "executor n1 is back" wait_until 20 bash -c "[ \$(grep -c 'ready: listening' '$TMP/exec-n1.log') -ge 2 ]"
	check "an executor started after it carries it out" wait_until 30 pm2_has_once n1 qcon
	"${T[@]}" kill-server 2>/dev/null
else
	echo "# tmux is missing: the console's path is not tested here"
fi

for node in n1 n2 n3; do PM2_HOME="$TMP/pm2-$node" "$PM2" kill >/dev/null 2>&1; done
finish
