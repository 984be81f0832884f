#!/usr/bin/env bash
# Failover (docs/fleet.md, "Failover"): three executors as three nodes on one
# redis-server, each with its own PM2 daemon. Tasks started with
# failover=true on n1 are started once on another node after n1's executor
# is killed (its PM2 and tasks left running) and the grace has passed,
# with a "failover" status message; a task without failover and a stopped
# failover task stay put. When n1's executor comes back, its stale copies
# are deleted ("fenced"): each task runs exactly once in the fleet. Two
# surviving executors race for each move: each moves once.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis "" || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
# A presence key lives 10 s (the shortest allowed) and a node lost for 2 s
# more fails over: the test waits about 12 s per lost node, not 60.
export TASKER_PRESENCE_TTL=10 TASKER_FAILOVER_GRACE=2
P='b00t:{tasker}:b00t:k0mmand3r:'

declare -A EX
start_node() {
	local node=$1
	mkdir -p "$TMP/pm2-$node"
	PM2_HOME="$TMP/pm2-$node" bg "$TASKER" exec --node "$node" --pm2-home "$TMP/pm2-$node" \
		--cwd-base "$TMP" --log-level=debug >>"$TMP/exec-$node.log" 2>&1
	EX[$node]=$BG_PID
}
for node in n1 n2 n3; do start_node "$node"; done
for node in n1 n2 n3; do
	check "executor $node is ready" wait_until 20 file_has "$TMP/exec-$node.log" "ready: listening"
done

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1
all_seen() { "$TASKER" send --wait=10 --raw '/status' 2>/dev/null | grep -q '"nodes":\["n[123]","n[123]","n[123]"\]'; }
check "the fleet sees three nodes" wait_until 30 all_seen

send() { "$TASKER" send --wait=20 --raw "$1" 2>&1; }
# online NODE TASK: NODE's own PM2 runs TASK (asked over its socket, not
# through Redis).
online() { "$TASKER" ls --pm2-home "$TMP/pm2-$1" --json 2>/dev/null | grep -q "\"name\":\"$2\",\"pm_id\":[0-9]*,\"status\":\"online\""; }
listed() { "$TASKER" ls --pm2-home "$TMP/pm2-$1" --json 2>/dev/null | grep -q "\"name\":\"$2\""; }
copies() { local n=0 node; for node in "$@"; do online "$node" "$TASK" && n=$((n + 1)); done; echo "$n"; }
copies_is() { local want=$1; shift; [ "$(copies "$@")" -eq "$want" ]; }
def() { rcli --raw HGET "${P}def:$1" "$2"; }
msgs() { grep "\"task_name\":\"$1\"" "$TMP/status.log" | grep -c "\"status\":\"$2\""; }

# --- the param -------------------------------------------------------------------
out=$(send '/stop --task=x --failover=true')
check "failover on a stop is refused" has "$out" '"status":"error".*failover is a start parameter'
out=$(send '/start --task=x --command="sleep 600" --failover=maybe')
check "failover=maybe is refused" has "$out" '"status":"error".*failover must be true or false'
out=$(send '/start --task=x --command="sleep 600" --failover=2 --node=n2')
check "failover=2 is refused" has "$out" 'failover must be true or false'

# --- what Redis holds is untrusted -----------------------------------------------------
# A def key of another type, a definition whose start is not JSON, for a
# node that never ran: no executor crashes, the start of a name whose def
# key is not a hash is still answered, the bad definition moves once and
# its new node answers it with an error.
rcli SET "${P}def:junk" x >/dev/null
rcli HSET "${P}def:bad" node ghost epoch 1 state active msg 'not json' >/dev/null
rcli SADD "${P}defs" junk bad evil >/dev/null
rcli HSET "${P}def:evil" node '../x' epoch 1 state active msg '{}' >/dev/null
out=$(send '/start --task=junk --node=n3 --failover=true --command="sleep 600"')
check "a start whose def key holds a string is answered" has "$out" '"status":"started".*"node":"n3"'
bad_moved() { [ "$(msgs bad failover)" -eq 1 ]; }
check "a definition of a node that is not live moves (once its grace passed)" wait_until 20 bad_moved
check "its new node answers the garbage with an error" wait_until 10 bash -c "grep -q '\"status\":\"error\".*\"error\":\"message is not valid JSON' '$TMP/status.log'"
check "a definition naming no valid node is left alone" [ "$(def evil node)" = '../x' ]
for node in n1 n2 n3; do check "executor $node is alive" alive "${EX[$node]}"; done
rcli DEL "${P}def:junk" "${P}def:bad" "${P}def:evil" >/dev/null
rcli SREM "${P}defs" junk bad evil >/dev/null

# --- tasks on n1 ---------------------------------------------------------------------
for t in fo1 fo2 fo3 fo4; do
	out=$(send "/start --task=$t --node=n1 --failover=true --command=\"sleep 600\" --env_K=v1")
	check "$t (failover=true) is started on n1" has "$out" '"status":"started".*"node":"n1"'
done
out=$(send '/start --task=plain1 --node=n1 --failover=false --command="sleep 600"')
check "plain1 (failover=false) is started on n1" has "$out" '"status":"started".*"node":"n1"'
out=$(send '/start --task=fostop --node=n1 --failover --command="sleep 600"')
check "fostop (a bare --failover flag) is started on n1" has "$out" '"status":"started".*"node":"n1"'
# Stop, restart and delete name their node: a dispatcher that started a
# moment ago may not see the other nodes yet (docs/fleet.md, Dispatch).
out=$(send '/stop --task=fostop --node=n1')
check "fostop is stopped" has "$out" '"status":"stopped".*"node":"n1"'

check "fo1's definition names n1, epoch 1" [ "$(def fo1 node)/$(def fo1 epoch)/$(def fo1 state)" = "n1/1/active" ]
check "it keeps the start without node or request_id" bash -c "m=\$(redis-cli -p $REDIS_PORT --raw HGET '${P}def:fo1' msg); echo \"\$m\" | grep -q '\"verb\":\"start\"' && echo \"\$m\" | grep -q '\"failover\":\"true\"' && echo \"\$m\" | grep -q '\"env_K\":\"v1\"' && ! echo \"\$m\" | grep -q 'node\|request_id'"
check "plain1 has no definition" [ "$(rcli EXISTS "${P}def:plain1")" = 0 ]
check "fostop's definition is stopped" [ "$(def fostop state)" = stopped ]
check "the set of definitions holds the five" [ "$(rcli SCARD "${P}defs")" = 5 ]

# --- n1 is lost: its executor killed, its PM2 left running ----------------------------
kill -KILL "${EX[n1]}"
wait "${EX[n1]}" 2>/dev/null
T0=$(date +%s%N)
KILLED=$T0
# Two surviving executors race for each move. To make them race for real,
# Redis pauses every write (scripts included, CLIENT PAUSE WRITE) for 4 s
# once n1 is marked lost: each executor's next check waits, the grace (2 s)
# passes meanwhile, and when the pause ends both checks run back to back
# and both find every task due; both then send their moves.
lost_marked() { [ -n "$(def fo4 lost_since)" ]; }
check "n1 is marked lost (Redis time) once its presence expires" wait_until 30 lost_marked
rcli CLIENT PAUSE 4000 WRITE >/dev/null
passed_ms() { [ $((($(date +%s%N) - T0) / 1000000)) -ge "$1" ]; }
T0=$KILLED
moved_all() { local t; for t in fo1 fo2 fo3 fo4; do TASK=$t copies_is 1 n2 n3 || return 1; done; }
check "after the presence TTL and the grace, fo1..fo4 each run on exactly one of n2, n3" wait_until 60 moved_all
ms=$((($(date +%s%N) - T0) / 1000000))
# The presence was written at most 5 s before the kill: it expired 5 to 10 s
# after it, and the grace adds 2 s.
check "not before the presence expired and the grace passed (${ms} ms)" [ "$ms" -ge 6500 ]
check "a failover status message for fo1, from n1" bash -c "grep '\"task_name\":\"fo1\"' '$TMP/status.log' | grep '\"status\":\"failover\"' | grep -q '\"from_node\":\"n1\"'"
T0=$(date +%s%N)
wait_until 5 passed_ms 3000 # two surviving executors had three more checks each
once=0
for t in fo1 fo2 fo3 fo4; do [ "$(msgs "$t" failover)" -eq 1 ] && TASK=$t copies_is 1 n2 n3 && once=$((once + 1)); done
# Each task's loser logs it at least once (twice when its next check came
# before its view had the move).
lost=0
for t in fo1 fo2 fo3 fo4; do
	cat "$TMP/exec-n2.log" "$TMP/exec-n3.log" | grep -q "task $t was moved by another executor" && lost=$((lost + 1))
done
check "each moved once ($once of 4)" [ "$once" -eq 4 ]
check "although n2 and n3 both tried: the loser's move script found it done ($lost of 4)" [ "$lost" -eq 4 ]
to=$(def fo1 node)
check "fo1's definition names the new node ($to), epoch 2" [ "$(def fo1 epoch)" = 2 ] && [ "$to" != n1 ]
check "the new node replied started to the failover's request" bash -c "grep '\"request_id\":\"failover-fo1-2\"' '$TMP/status.log' | grep -q '\"status\":\"started\".*\"node\":\"$to\"'"
check "the name's holder is the new node" [ "$(rcli --raw GET "${P}name:fo1")" = "$to" ]
check "the task kept its environment there" bash -c "PM2_HOME='$TMP/pm2-$to' '$PM2' jlist 2>/dev/null | grep -o '\"name\":\"fo1\".*' | grep -q '\"K\":\"v1\"'"
check "plain1 (no failover) was not moved" bash -c "! '$TASKER' ls --pm2-home '$TMP/pm2-n2' --json | grep -q plain1 && ! '$TASKER' ls --pm2-home '$TMP/pm2-n3' --json | grep -q plain1"
check "fostop (stopped) was not moved" bash -c "! '$TASKER' ls --pm2-home '$TMP/pm2-n2' --json | grep -q fostop && ! '$TASKER' ls --pm2-home '$TMP/pm2-n3' --json | grep -q fostop"
check "n1's PM2 still runs its copy of fo1 meanwhile" online n1 fo1

# --- n1's executor comes back: its stale copies are fenced -----------------------------
start_node n1
check "executor n1 is back" wait_until 20 file_has "$TMP/exec-n1.log" "ready: listening"
fenced_all() { local t; for t in fo1 fo2 fo3 fo4; do listed n1 "$t" && return 1; done; return 0; }
check "n1 deletes its copies of fo1..fo4" wait_until 30 fenced_all
check "a fenced status message for fo1, naming $to" bash -c "grep '\"task_name\":\"fo1\"' '$TMP/status.log' | grep '\"status\":\"fenced\"' | grep -q '\"to_node\":\"$to\".*\"node\":\"n1\"\|\"node\":\"n1\".*\"to_node\":\"$to\"'"
check "and the delete's own reply" wait_until 10 bash -c "grep '\"request_id\":\"fence-fo1-2\"' '$TMP/status.log' | grep -q '\"status\":\"deleted\".*\"node\":\"n1\"'"
one=0
for t in fo1 fo2 fo3 fo4; do TASK=$t copies_is 1 n1 n2 n3 && one=$((one + 1)); done
check "each runs exactly once in the fleet ($one of 4)" [ "$one" -eq 4 ]
check "plain1 still runs on n1" online n1 plain1
check "fostop is still on n1" listed n1 fostop
check "fo1's definition still names $to" [ "$(def fo1 node)" = "$to" ]
check "fenced once" [ "$(msgs fo1 fenced)" -eq 1 ]

# --- an executor back before its presence expired keeps its tasks ------------------------
kill -KILL "${EX[$to]}"
wait "${EX[$to]}" 2>/dev/null
start_node "$to"
check "executor $to is back at once" wait_until 20 bash -c "[ \$(grep -c 'ready: listening' '$TMP/exec-$to.log') -ge 2 ]"
T0=$(date +%s%N)
wait_until 15 passed_ms 12000 # past the TTL and the grace had it been lost
check "fo1 did not move: still on $to, epoch 2" [ "$(def fo1 node)/$(def fo1 epoch)" = "$to/2" ]
check "no second failover message" [ "$(msgs fo1 failover)" -eq 1 ]
TASK=fo1
check "and it runs once" copies_is 1 n1 n2 n3

# --- stop, restart, delete and the definition ------------------------------------------
out=$(send '/restart --task=fostop --node=n1')
check "restart of fostop" has "$out" '"status":"restarted".*"node":"n1"'
check "makes its definition active" [ "$(def fostop state)" = active ]
out=$(send "/delete --task=fo2 --node=$(def fo2 node)")
check "delete of fo2" has "$out" '"status":"deleted"'
check "removes its definition" [ "$(rcli EXISTS "${P}def:fo2")" = 0 ]
check "and its name in the set" [ "$(rcli SISMEMBER "${P}defs" fo2)" = 0 ]
out=$(send '/start --task=fo5 --node=n3 --failover=true --command="sleep 600"')
check "fo5 (failover) is started on n3" has "$out" '"status":"started".*"node":"n3"'
check "with a definition" [ "$(def fo5 node)" = n3 ]
out=$(send '/stop --task=fo5 --node=n3')
check "fo5 is stopped" has "$out" '"status":"stopped"'
out=$(send '/start --task=fo5 --node=n3 --command="sleep 600"')
check "started again without failover (replacing the stopped one)" has "$out" '"status":"started".*"node":"n3"'
check "leaves no definition" [ "$(rcli EXISTS "${P}def:fo5")" = 0 ]

for node in n1 n2 n3; do PM2_HOME="$TMP/pm2-$node" "$PM2" kill >/dev/null 2>&1; done
finish
