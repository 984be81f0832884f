#!/usr/bin/env bash
# A fleet on one redis-server (appendonly): three executors as three nodes
# on the same command channel, each with its own PM2 daemon (private
# PM2_HOMEs). Commands travel on Redis Streams: a raw PUBLISH is carried out
# once, a targeted command by its node, a start placed on one node, a stop
# routed to the node that holds the task, status for the whole fleet; a
# command for a node that is down waits for it and is carried out once when
# it returns, or answered expired; a node killed in the middle of a burst
# leaves every command with exactly one final reply and every task once;
# a command whose admission Redis refused for a moment (OOM) runs once.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis "" --appendonly yes --appendfsync everysec || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

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

# replies RID: how many final replies carry that request_id.
replies() { grep -c "\"request_id\":\"$1\"" "$TMP/status.log"; }
reply_of() { grep "\"request_id\":\"$1\"" "$TMP/status.log" | head -n 1; }
got_reply() { [ "$(replies "$1")" -ge 1 ]; }
pub() { rcli PUBLISH b00t:k0mmand3r "$1" >/dev/null; }
fleet_count() { "$TASKER" ls --fleet --json 2>/dev/null | grep -o "\"name\":\"$1\",[^}]*\"node\":\"[a-z0-9]*\"" | wc -l; }
fleet_count_is() { [ "$(fleet_count "$1")" -eq "$2" ]; }
node_of() { "$TASKER" ls --fleet --json 2>/dev/null | grep -o "\"name\":\"$1\",[^}]*\"node\":\"[a-z0-9]*\"" | head -n 1 | sed 's/.*"node":"\([a-z0-9]*\)"/\1/'; }

all_seen() { "$TASKER" send --wait=10 --raw '/status' 2>/dev/null | grep -q '"nodes":\["n[123]","n[123]","n[123]"\]'; }
check "status without a node answers for all three nodes" wait_until 30 all_seen

# --- once, placed, targeted, routed ---------------------------------------------
pub '{"verb":"start","params":{"task":"alpha","command":"sleep 600"},"request_id":"a1"}'
check "a raw PUBLISH start is answered" wait_until 20 got_reply a1
check "alpha is started" bash -c "grep '\"request_id\":\"a1\"' '$TMP/status.log' | grep -q '\"status\":\"started\"'"
check "by exactly one node: one alpha in the fleet" wait_until 20 fleet_count_is alpha 1
check "and one reply" [ "$(replies a1)" -eq 1 ]
holder=$(node_of alpha)
check "the reply names the node that runs it ($holder)" bash -c "reply_of() { grep '\"request_id\":\"a1\"' '$TMP/status.log'; }; reply_of | grep -q '\"node\":\"$holder\"'"

out=$("$TASKER" send --wait=20 --raw '/start --task=beta --node=n2 --command="sleep 600"' 2>&1)
check "a start with --node=n2 is started by n2" has "$out" '"status":"started".*"node":"n2"'
check "beta runs on n2" wait_until 20 bash -c "[ \"\$('$TASKER' ls --fleet --json | grep -o '\"name\":\"beta\",[^}]*\"node\":\"n2\"' | wc -l)\" -eq 1 ]"

pub '{"verb":"start","params":{"task":"alpha","command":"sleep 600"},"request_id":"a2"}'
check "alpha again (no node): one reply" wait_until 20 got_reply a2
check "already_running, naming $holder" bash -c "grep '\"request_id\":\"a2\"' '$TMP/status.log' | grep -q '\"status\":\"already_running\".*\"node\":\"$holder\"'"
check "still one alpha" fleet_count_is alpha 1

pub '{"verb":"stop","params":{"task":"alpha"},"request_id":"a3"}'
check "stop alpha (no node) is answered" wait_until 20 got_reply a3
check "stopped, by $holder, once" bash -c "[ \$(grep -c '\"request_id\":\"a3\"' '$TMP/status.log') -eq 1 ] && grep '\"request_id\":\"a3\"' '$TMP/status.log' | grep -q '\"status\":\"stopped\".*\"node\":\"$holder\"'"
pub '{"verb":"stop","params":{"task":"nowhere"},"request_id":"a4"}'
check "stop of a name no node holds: not_found" wait_until 20 bash -c "grep '\"request_id\":\"a4\"' '$TMP/status.log' | grep -q '\"status\":\"not_found\"'"
# The fleet's status comes from the task tables, which follow PM2 within
# about a second.
fleet_status_has() { "$TASKER" send --wait=20 --raw '/status' 2>/dev/null | grep -q "$1"; }
check "status: every task carries its node" wait_until 20 fleet_status_has '"name":"beta",[^}]*"node":"n2"'

# --- one executor per node ------------------------------------------------------
mkdir -p "$TMP/pm2-dup"
PM2_HOME="$TMP/pm2-dup" timeout 30 "$TASKER" exec --node n1 --pm2-home "$TMP/pm2-dup" >"$TMP/dup.out" 2>&1; rc=$?
check "a second executor for live node n1 refuses to run (exit 1: $rc)" [ "$rc" -eq 1 ]
check "and says which pid on which host holds it" grep -q "node n1 is served by another executor (pid ${EX[n1]} on host $(hostname)" "$TMP/dup.out"
out=$("$TASKER" send --wait=20 --raw '/start --task=after-dup --node=n1 --command="sleep 600"' 2>&1)
check "n1 still serves its commands, once" has "$out" '"status":"started".*"node":"n1"'

# --- a node that is down: its commands wait for it -----------------------------------
kill -KILL "${EX[n3]}"
wait "${EX[n3]}" 2>/dev/null
pub '{"verb":"start","params":{"task":"gamma","node":"n3","command":"sleep 600"},"request_id":"g1"}'
pub '{"verb":"start","params":{"task":"late","node":"n3","command":"sleep 600","ttl":"1"},"request_id":"g2"}'
T0=$(date +%s%N)
passed_ms() { [ $((($(date +%s%N) - T0) / 1000000)) -ge "$1" ]; }
wait_until 5 passed_ms 2000
check "nothing answers for n3 while it is down" [ "$(replies g1)" -eq 0 ]
start_node n3
check "n3 back: the command sent meanwhile is carried out" wait_until 30 got_reply g1
check "started by n3, once" bash -c "[ \$(grep -c '\"request_id\":\"g1\"' '$TMP/status.log') -eq 1 ] && grep '\"request_id\":\"g1\"' '$TMP/status.log' | grep -q '\"status\":\"started\".*\"node\":\"n3\"'"
check "the one whose ttl passed meanwhile is expired" wait_until 30 bash -c "grep '\"request_id\":\"g2\"' '$TMP/status.log' | grep -q '\"status\":\"expired\"'"
check "and never ran" bash -c "! '$TASKER' ls --fleet --json | grep -q '\"name\":\"late\"'"

# --- a node killed in the middle of a burst --------------------------------------------
for i in $(seq 1 30); do
	pub "{\"verb\":\"start\",\"params\":{\"task\":\"burst-$i\",\"command\":\"sleep 600\"},\"request_id\":\"b$i\"}"
	if [ "$i" -eq 10 ]; then kill -KILL "${EX[n2]}"; wait "${EX[n2]}" 2>/dev/null; fi
done
start_node n2
all_answered() { for i in $(seq 1 30); do got_reply "b$i" || return 1; done; }
check "every command of the burst is answered" wait_until 60 all_answered
once=0
for i in $(seq 1 30); do [ "$(replies "b$i")" -eq 1 ] && once=$((once + 1)); done
check "each exactly once ($once of 30)" [ "$once" -eq 30 ]
each_once() { for i in $(seq 1 30); do fleet_count_is "burst-$i" 1 || return 1; done; }
check "each task runs exactly once in the fleet" wait_until 30 each_once

# --- Redis refusing writes for a moment (OOM): admitted later, run once -------------------
# Every executor gets the PUBLISH; each admission is refused. Carried out
# at once on each, it would run three times.
rcli CONFIG SET maxmemory-policy noeviction >/dev/null
rcli CONFIG SET maxmemory 1 >/dev/null
pub '{"verb":"start","params":{"task":"oom-1","command":"sleep 600"},"request_id":"o1"}'
said_oom() { grep -q "OOM.*trying again" "$TMP"/exec-n*.log; }
check "the executors were refused (OOM) and say they try again" wait_until 20 said_oom
rcli CONFIG SET maxmemory 0 >/dev/null
check "after the OOM the command is answered" wait_until 30 got_reply o1
check "exactly once" bash -c "[ \$(grep -c '\"request_id\":\"o1\"' '$TMP/status.log') -eq 1 ]"
# Each node answers a status after it: whatever it did with o1 is done.
for node in n1 n2 n3; do "$TASKER" send --wait=20 "/status --node=$node" >/dev/null 2>&1; done
oom_pm2() { local n=0; for node in n1 n2 n3; do PM2_HOME="$TMP/pm2-$node" "$PM2" jlist 2>/dev/null | grep -q '"name":"oom-1"' && n=$((n + 1)); done; echo "$n"; }
check "and it runs on one node's PM2 ($(oom_pm2) of 3)" [ "$(oom_pm2)" -eq 1 ]
check "still one reply" bash -c "[ \$(grep -c '\"request_id\":\"o1\"' '$TMP/status.log') -eq 1 ]"

# --- Redis refusing for a while (a replica: READONLY): reading starts again ---------
rcli REPLICAOF 127.0.0.1 1 >/dev/null
said_ro() { grep -q "READONLY.*trying again" "$TMP"/exec-n*.log; }
check "a refusal (READONLY) is said" wait_until 20 said_ro
T0=$(date +%s%N)
wait_until 5 passed_ms 2500 # every reader's blocking read (2 s) came back refused
rcli REPLICAOF NO ONE >/dev/null
pub '{"verb":"status","request_id":"after-readonly"}'
check "afterwards the fleet reads and answers again" wait_until 30 got_reply after-readonly

# --- a key of another type under the scanned patterns stops nothing -----------------
rcli HSET 'b00t:{tasker}:tasks:bogus' a b >/dev/null
rcli HSET 'b00t:tasker:executor:bogus' a b >/dev/null
pub '{"verb":"status","request_id":"wrongtype"}'
check "a hash where a task table would be: the fleet still answers" wait_until 30 got_reply wrongtype
start_node n4
check "and a new executor still starts reading" wait_until 20 file_has "$TMP/exec-n4.log" "ready: listening"
pub '{"verb":"status","params":{"node":"n4"},"request_id":"n4-reads"}'
check "and answers what is sent to it" wait_until 30 got_reply n4-reads
rcli DEL 'b00t:{tasker}:tasks:bogus' 'b00t:tasker:executor:bogus' >/dev/null

# --- names and sizes -------------------------------------------------------------------
timeout 20 "$TASKER" exec --node 'web 2' >/dev/null 2>"$TMP/badnode.err"
check "a node name outside the task-name rule is refused at start (exit 2)" [ $? -eq 2 ]
check "saying why" grep -q "node name follows the task-name rule" "$TMP/badnode.err"
before=$(rcli XLEN 'b00t:{tasker}:b00t:k0mmand3r:commands')
big=$(python3 -c 'import json; print(json.dumps({"verb":"status","request_id":"big-one","params":{"pad":"x"*70000}}))')
rcli PUBLISH b00t:k0mmand3r "$big" >/dev/null
pub '{"verb":"status","request_id":"after-big"}'
wait_until 30 got_reply after-big
check "a message over 64 KiB is not admitted to the stream" [ "$(rcli XLEN 'b00t:{tasker}:b00t:k0mmand3r:commands')" -eq $((before + 1)) ]

for node in n1 n2 n3 n4; do PM2_HOME="$TMP/pm2-$node" "$PM2" kill >/dev/null 2>&1; done
finish
