#!/usr/bin/env bash
# The fleet's task tables: three executors as three nodes on one
# redis-server, each with its own PM2 daemon (private PM2_HOMEs) and, until
# commands travel on streams, its own command channel. `tasker ls --fleet`
# shows every node's tasks without a PM2 of its own; tables follow changes,
# go with a clean shutdown, expire after a crash, and hostile tables cannot
# drive the terminal.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

declare -A EX
for node in a b c; do
	mkdir -p "$TMP/pm2-$node"
	PM2_HOME="$TMP/pm2-$node" bg "$TASKER" exec --node "$node" --channel "b00t:k0mmand3r:$node" \
		--pm2-home "$TMP/pm2-$node" --cwd-base "$TMP" >"$TMP/exec-$node.log" 2>&1
	EX[$node]=$BG_PID
done
for node in a b c; do
	check "executor $node is ready" wait_until 20 file_has "$TMP/exec-$node.log" "ready: listening"
done
sendto() {
	local node=$1
	shift
	"$TASKER" send --channel "b00t:k0mmand3r:$node" --wait=30 --raw "$@" 2>>"$TMP/send.err"
}
for node in a b c; do
	out=$(sendto "$node" "/start --task=job-$node --command=\"sleep 600\"")
	check "job-$node started on node $node" has "$out" '"status":"started"'
done
out=$(sendto b '/start --task=pair --command="sleep 600" --instances=2')
check "pair (2 instances) started on node b" has "$out" '"status":"started"'

fleet_json() { "$TASKER" ls --fleet --json 2>/dev/null; }
has_task() { fleet_json | grep -q "\"name\":\"$1\",[^}]*\"status\":\"$2\"[^}]*\"node\":\"$3\""; }
for node in a b c; do
	check "ls --fleet --json: job-$node online on node $node" wait_until 20 has_task "job-$node" online "$node"
done
pairs_are() { [ "$(fleet_json | grep -o '"name":"pair"' | wc -l)" -eq "$1" ]; }
check "ls --fleet --json: both instances of pair" wait_until 20 pairs_are 2
"$TASKER" ls --fleet >"$TMP/fleet.txt" 2>&1
check "ls --fleet: a table with a NODE column" bash -c "head -n 1 '$TMP/fleet.txt' | grep -q '^NODE  *ID  *NAME'"
check "ls --fleet: node c's row, owned by whoever started it (unsigned)" grep -q '^c  *[0-9]*  *job-c  *unsigned  *online' "$TMP/fleet.txt"

# A change is written at once, not at the next refresh.
out=$(sendto a '/stop --task=job-a')
check "stop job-a on node a" has "$out" '"status":"stopped"'
check "the table shows job-a stopped" wait_until 10 has_task job-a stopped a

# A clean shutdown takes the table with it; a crash lets it expire.
kill -TERM "${EX[b]}"
wait "${EX[b]}" 2>/dev/null
check "SIGTERM: node b's table is gone at once" bash -c "! '$TASKER' ls --fleet --json | grep -q '\"node\":\"b\"'"
kill -KILL "${EX[c]}"
check "SIGKILL: node c's table is still there for a while" has_task job-c online c
gone_c() { ! fleet_json | grep -q '"node":"c"'; }
check "and expires within its TTL (20 s)" wait_until 30 gone_c

# Whatever sits in Redis is untrusted: escaped in the table, exact in JSON,
# and a table that is not one is passed over.
rcli SET 'b00t:{tasker}:tasks:evil' "$(printf '{"node":"evil","tasks":[{"name":"x\\u001b[2Jy","pm_id":1e300,"status":"online","node":"ev\\u202eil","memory":-5}]}')" >/dev/null
rcli SET 'b00t:{tasker}:tasks:junk' 'not json' >/dev/null
"$TASKER" ls --fleet >"$TMP/evil.txt" 2>&1; rc=$?
check "a hostile table is listed (exit 0)" [ "$rc" -eq 0 ]
check "its escape sequence is shown, not sent" bash -c "grep -q 'x\\\\x1b\\[2Jy' '$TMP/evil.txt' && ! grep -q \$'\\e' '$TMP/evil.txt'"
check "its bidi override is shown as an escape" grep -q 'ev\\u202eil' "$TMP/evil.txt"
check "--json keeps it exact" bash -c "'$TASKER' ls --fleet --json | grep -q 'x\\\\u001b\\[2Jy'"

"$TASKER" --redis redis://127.0.0.1:1 ls --fleet >/dev/null 2>"$TMP/err"; rc=$?
check "ls --fleet with no Redis exits 1 and says why" bash -c "[ $rc -eq 1 ] && grep -q 'cannot reach Redis' '$TMP/err'"
for node in a c; do PM2_HOME="$TMP/pm2-$node" "$PM2" kill >/dev/null 2>&1; done
PM2_HOME="$TMP/pm2-b" "$PM2" kill >/dev/null 2>&1
finish
