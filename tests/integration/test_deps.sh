#!/usr/bin/env bash
# Dependencies (docs/protocol.md, "Dependencies"): a start with depends_on
# waits (on the executor's loop) until each named task is online in PM2, and
# each NAME:PORT accepts a TCP connection, then starts; past its deadline it
# answers an error naming what was not ready and starts nothing. A stop with
# with_deps stops the task, then what it depends on, dependents first. A
# datum's b00t.depends_on names datums: each stands for the task it starts.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
D="$TMP/datums"
mkdir -p "$PM2_HOME" "$D"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1
bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" --datum-dir "$D" >"$TMP/exec.log" 2>&1
EXEC_PID=$BG_PID
check "executor starts" wait_until 20 file_has "$TMP/exec.log" "ready: listening"
# The executor starts PM2's daemon: the test's own `pm2 jlist` must not race it.
out=$(req '{"verb":"status","params":{}}')
check "PM2 is up" has "$out" '"status":"ok"'

# jl: PM2's own list, one line per process: NAME STATUS PM_UPTIME DEPENDS_ON.
jl() { "$PM2" jlist 2>/dev/null | jq -r '.[] | "\(.name) \(.pm2_env.status) \(.pm2_env.pm_uptime) \(.pm2_env.env.TASKER_DEPENDS_ON // "-")"'; }
pm2_status() { jl | awk -v n="$1" '$1 == n { print $2; exit }'; }
pm2_uptime() { jl | awk -v n="$1" '$1 == n { print $3; exit }'; }
pm2_deps() { jl | awk -v n="$1" '$1 == n { print $4; exit }'; }
is_status() { [ "$(pm2_status "$1")" = "$2" ]; }
absent() { [ -z "$(pm2_status "$1")" ]; }

# send_nowait RID JSON: publishes an envelope with request_id RID, waits for nothing.
send_nowait() {
	local json=${2/\{/\{\"request_id\":\"$1\",}
	rcli PUBLISH b00t:k0mmand3r "$json" >/dev/null
}
reply_of() { grep "\"request_id\":\"$1\"" "$TMP/status.log" | head -n 1; }
replied() { file_has "$TMP/status.log" "\"request_id\":\"$1\""; }
log_count() { grep -c -- "$1" "$TMP/exec.log" 2>/dev/null; }

# --- a start waits for its dependency to come online, then starts ----------------
send_nowait w1 '{"verb":"start","params":{"task":"api","command":"sleep 600","depends_on":"db","depends_timeout_ms":"25000"}}'
check "waits: the executor holds the start" wait_until 10 file_has "$TMP/exec.log" "start api: waiting up to"
check "waits: no reply yet" bash -c "! grep -q '\"request_id\":\"w1\"' '$TMP/status.log'"
check "waits: api is not in PM2 while db is not" absent api
out=$(req '{"verb":"start","params":{"task":"db","command":"sleep 600"}}')
check "db started" has "$out" '"status":"started"'
check "waits: api answered once db is online" wait_until 15 replied w1
out=$(reply_of w1)
check "waits: api started" has "$out" '"status":"started"'
check "waits: api online in PM2" wait_until 10 is_status api online
up_db=$(pm2_uptime db)
up_api=$(pm2_uptime api)
check "waits: PM2 started api after db ($up_api >= $up_db)" test "$up_api" -ge "$up_db"
check "waits: the dependency list is recorded with the task" test "$(pm2_deps api)" = db

# --- a dependency already online: the start goes at once ------------------------
# A stop of the name while its start waits gives the start up: once the
# dependency comes, nothing starts it. Two waiting starts share one
# listing per round.
send_nowait c1 '{"verb":"start","params":{"task":"held","command":"sleep 600","depends_on":"late","depends_timeout_ms":"60000"}}'
send_nowait c2 '{"verb":"start","params":{"task":"held2","command":"sleep 600","depends_on":"late","depends_timeout_ms":"60000"}}'
check "cancel: the executor holds both starts" wait_until 10 bash -c "grep -q 'start held: waiting up to' '$TMP/exec.log' && grep -q 'start held2: waiting up to' '$TMP/exec.log'"
out=$(req '{"verb":"stop","params":{"task":"held"}}')
check "cancel: the waiting start is answered at once" wait_until 10 replied c1
check "cancel: ... with an error saying why, nothing started" has "$(reply_of c1)" '"status":"error".*a stop of held came while it waited.*nothing was started'
check "cancel: the stop itself is answered (not_found: nothing runs)" has "$out" '"status":"not_found"'
out=$(req '{"verb":"start","params":{"task":"late","command":"sleep 600"}}')
check "cancel: the dependency starts" has "$out" '"status":"started"'
check "cancel: the other waiting start goes on" wait_until 15 replied c2
check "cancel: ... and starts held2" has "$(reply_of c2)" '"status":"started"'
check "cancel: held was never started" absent held
check "cancel: one reply for the given-up start" test "$(grep -c '"request_id":"c1"' "$TMP/status.log")" -eq 1

out=$(req '{"verb":"start","params":{"task":"api2","command":"sleep 600","depends_on":" db "}}')
check "ready at once: started" has "$out" '"status":"started"'

# --- a port dependency waits for a listener --------------------------------------
PORT=$(free_port)
out=$(req '{"verb":"start","params":{"task":"web","command":"sleep 600"}}')
check "web (no listener yet) started" has "$out" '"status":"started"'
send_nowait p1 "{\"verb\":\"start\",\"params\":{\"task\":\"app\",\"command\":\"sleep 600\",\"depends_on\":\"web:$PORT\",\"depends_timeout_ms\":\"25000\"}}"
check "port: the executor holds the start" wait_until 10 file_has "$TMP/exec.log" "start app: waiting up to"
check "port: web is online" wait_until 10 is_status web online
check "port: no reply while the port is closed" bash -c "! grep -q '\"request_id\":\"p1\"' '$TMP/status.log'"
check "port: app is not in PM2 while the port is closed" absent app
bg node -e "require('net').createServer(s => s.end()).listen($PORT, '127.0.0.1')"
LISTENER=$BG_PID
check "port: app answered once the port listens" wait_until 15 replied p1
check "port: app started" has "$(reply_of p1)" '"status":"started"'
check "port: app online" wait_until 10 is_status app online
check "port: recorded with its port" test "$(pm2_deps app)" = "web:$PORT"
kill "$LISTENER" 2>/dev/null

# --- a deadline: an error naming what was not ready, nothing started -------------
t0=$(date +%s%N)
out=$(req '{"verb":"start","params":{"task":"lonely","command":"sleep 600","depends_on":"ghost,db","depends_timeout_ms":"1500"}}')
t1=$(date +%s%N)
check "timeout: an error reply" has "$out" '"status":"error"'
check "timeout: names the missing dependency" has "$out" 'ghost (not in PM2)'
check "timeout: does not name the ready one" bash -c "! grep -q 'db (' <<<'$out'"
check "timeout: the not_ready list" has "$out" '"not_ready":\[{"task":"ghost","state":"not in PM2"}\]'
check "timeout: nothing started" absent lonely
ms=$(((t1 - t0) / 1000000))
check "timeout: answered after about 1.5 s ($ms ms)" test "$ms" -ge 1400 -a "$ms" -lt 8000

# A stopped dependency: said so.
out=$(req '{"verb":"start","params":{"task":"halted","command":"sleep 600"}}')
out=$(req '{"verb":"stop","params":{"task":"halted"}}')
check "halted stopped" has "$out" '"status":"stopped"'
out=$(req '{"verb":"start","params":{"task":"needy","command":"sleep 600","depends_on":"halted","depends_timeout_ms":"800"}}')
check "stopped dependency: named with its state" has "$out" 'halted (stopped)'
check "stopped dependency: nothing started" absent needy
# An open port of a task that is not there does not count: the task must be online.
PORT2=$(free_port)
bg node -e "require('net').createServer(s => s.end()).listen($PORT2, '127.0.0.1')"
L2=$BG_PID
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"needy\",\"command\":\"sleep 600\",\"depends_on\":\"nobody:$PORT2\",\"depends_timeout_ms\":\"800\"}}")
check "port without its task: not ready" has "$out" 'nobody (not in PM2)'
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"needy\",\"command\":\"sleep 600\",\"depends_on\":\"db:$(free_port)\",\"depends_timeout_ms\":\"800\"}}")
check "closed port of an online task: said so" has "$out" 'db (online, but port [0-9]* accepts no connection)'
kill "$L2" 2>/dev/null

# --- bad params --------------------------------------------------------------------
bad "depends on itself" '{"verb":"start","params":{"task":"selfish","command":"sleep 1","depends_on":"selfish"}}' 'cannot depend on itself'
bad "bad port" '{"verb":"start","params":{"task":"x1","command":"sleep 1","depends_on":"db:99999"}}' 'from 1 to 65535'
bad "bad name" '{"verb":"start","params":{"task":"x1","command":"sleep 1","depends_on":"a b"}}' 'depends_on'
bad "empty item" '{"verb":"start","params":{"task":"x1","command":"sleep 1","depends_on":"db,,api"}}' 'empty item'
bad "not a string" '{"verb":"start","params":{"task":"x1","command":"sleep 1","depends_on":5}}' 'must be a string'
bad "timeout out of range" '{"verb":"start","params":{"task":"x1","command":"sleep 1","depends_on":"db","depends_timeout_ms":"9999999"}}' 'depends_timeout_ms'
bad "timeout without depends_on" '{"verb":"start","params":{"task":"x1","command":"sleep 1","depends_timeout_ms":"100"}}' 'goes with params.depends_on'
bad "with_deps on a start" '{"verb":"start","params":{"task":"x1","command":"sleep 1","with_deps":true}}' 'stop parameter'
bad "with_deps not a boolean" '{"verb":"stop","params":{"task":"api","with_deps":"maybe"}}' 'true or false'
check "bad params: nothing started" absent x1
check "the executor survived" alive "$EXEC_PID"

# --- a group stop: the task, then what it depends on, dependents first ------------
# disk <- store <- front -> cache ; worker -> disk (worker stays running)
for t in "disk:" "store:disk" "cache:" "front:store,cache" "worker:disk"; do
	n=${t%%:*}
	d=${t#*:}
	if [ -n "$d" ]; then
		out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"$n\",\"command\":\"sleep 600\",\"depends_on\":\"$d\"}}")
	else
		out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"$n\",\"command\":\"sleep 600\"}}")
	fi
	check "group: $n started" has "$out" '"status":"started"'
done
send_nowait g1 '{"verb":"stop","params":{"task":"front","with_deps":true}}'
check "group: four replies" wait_until 20 bash -c "[ \$(grep -c '\"request_id\":\"g1\"' '$TMP/status.log') -ge 4 ]"
order=$(grep '"request_id":"g1"' "$TMP/status.log" | jq -r '"\(.group_step)/\(.group_size) \(.task_name) \(.status)"' | tr '\n' ';')
check "group: stop order and outcomes ($order)" test "$order" = "1/4 front stopped;2/4 cache stopped;3/4 store stopped;4/4 disk kept;"
check "group: kept says who still needs it" has "$(grep '"request_id":"g1"' "$TMP/status.log" | grep '"task_name":"disk"')" 'worker (running) still depends on it'
for n in front cache store; do
	check "group: $n stopped in PM2" is_status "$n" stopped
done
check "group: disk still online" is_status disk online
check "group: worker untouched" is_status worker online
# PM2's own order: each stop's reply came after the one before it was done
# (the executor runs them one after another); the log says so too.
check "group: planned order in the log" file_has "$TMP/exec.log" 'stop front with its dependencies: front, cache, store, disk (kept)'
# Without others needing it, the whole chain stops.
out=$(req '{"verb":"stop","params":{"task":"worker"}}')
send_nowait g2 '{"verb":"stop","params":{"task":"store","with_deps":"true"}}'
check "group 2: two replies" wait_until 20 bash -c "[ \$(grep -c '\"request_id\":\"g2\"' '$TMP/status.log') -ge 2 ]"
order=$(grep '"request_id":"g2"' "$TMP/status.log" | jq -r '"\(.task_name) \(.status)"' | tr '\n' ';')
check "group 2: store (already stopped) then disk ($order)" test "$order" = "store stopped;disk stopped;"
check "group 2: disk stopped in PM2" is_status disk stopped
# A plain stop is not a group stop.
out=$(req '{"verb":"stop","params":{"task":"api"}}')
check "plain stop: api stopped" has "$out" '"status":"stopped"'
check "plain stop: db still online" is_status db online
check "plain stop: no group fields" bash -c "! grep -q '\"group\"' <<<'$out'"

# --- a datum's depends_on names datums ----------------------------------------------
cat >"$D/back.cli.toml" <<TOML
[b00t]
name = "backend"
type = "cli"
command = "sleep 600"
TOML
cat >"$D/front.cli.toml" <<TOML
[b00t]
name = "frontend"
type = "cli"
command = "sleep 600"
depends_on = ["back.cli"]
TOML
send_nowait d1 '{"verb":"start","params":{"datum":"front.cli","depends_timeout_ms":"25000"}}'
check "datum: frontend waits" wait_until 10 file_has "$TMP/exec.log" "start frontend: waiting up to .* for backend"
check "datum: frontend not in PM2 yet" absent frontend
out=$(req '{"verb":"start","params":{"datum":"back.cli"}}')
check "datum: backend started" has "$out" '"status":"started"'
check "datum: frontend answered" wait_until 15 replied d1
check "datum: frontend started" has "$(reply_of d1)" '"status":"started"'
check "datum: recorded as the task name" test "$(pm2_deps frontend)" = backend
printf '[b00t]\nname = "odd"\ncommand = "sleep 1"\ndepends_on = "back.cli"\n' >"$D/odd.cli.toml"
bad "datum: depends_on of the wrong type" '{"verb":"start","params":{"datum":"odd.cli"}}' 'b00t.depends_on must be an array of strings'

# --- status and ls show what a task depends on -----------------------------------
out=$(req '{"verb":"status","params":{}}')
check "status: depends_on in the task entry" has "$out" '"name":"frontend"[^}]*"depends_on":"backend"'

# --- next_run: when PM2 runs a schedule next (docs/protocol.md, "Next run") ------
out=$(req '{"verb":"start","params":{"task":"sched5","command":"sleep 1","cron":"*/5 * * * *"}}')
check "next_run: a 5-minute schedule started" has "$out" '"status":"started"'
now=$(date +%s%3N)
out=$(req '{"verb":"status","params":{}}')
nr=$(jq -r '.tasks[] | select(.name == "sched5") | .next_run' <<<"$out")
check "next_run: in the status entry ($nr)" test -n "$nr" -a "$nr" != null
check "next_run: on a 5-minute boundary, within 5 minutes" bash -c "[ \$(($nr % 300000)) -eq 0 ] && [ $nr -gt $now ] && [ $nr -le \$(($now + 300000)) ]"
out=$("$TASKER" ls 2>&1)
check "next_run: tasker ls shows it" bash -c "grep 'sched5' <<<'$out' | grep -q 'next run in [0-9]*[ms]'"
# A range inside a comma list: croner 4.1 throws on it inside PM2's daemon,
# which then dies (seen on main before this check): refused, daemon alive.
dpid=$(cat "$PM2_HOME/pm2.pid")
bad "cron: a range inside a comma list" '{"verb":"start","params":{"task":"mixed","command":"sleep 600","cron":"1-5,10 * * * *"}}' 'comma list'
check "cron: nothing of it in PM2" absent mixed
check "cron: the daemon is the same, alive" bash -c "kill -0 $dpid && [ \"\$(cat '$PM2_HOME/pm2.pid')\" = $dpid ]"
# PM2 really fires at the time next_run names: a 3-second schedule records
# each run; the first run at or after the announced time is within 1.5 s.
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"tick3\",\"command\":\"sh\",\"args\":\"-c 'date +%s%3N >>$TMP/tick3.out'\",\"cron\":\"*/3 * * * * *\"}}")
check "next_run: a 3-second schedule started" has "$out" '"status":"started"'
out=$(req '{"verb":"status","params":{}}')
nr=$(jq -r '.tasks[] | select(.name == "tick3") | .next_run' <<<"$out")
check "next_run: tick3 has one ($nr)" test -n "$nr" -a "$nr" != null
check "next_run: PM2 ran it at or after that time" wait_until 15 bash -c "awk -v t=$nr '\$1 >= t - 100 { f = 1 } END { exit !f }' '$TMP/tick3.out'"
first=$(awk -v t="$nr" '$1 >= t - 100 { print $1; exit }' "$TMP/tick3.out")
check "next_run: the run came when announced (ran $first, announced $nr)" test "$first" -lt $((nr + 1500))

# A stop by pm_id with with_deps: that process alone (dependencies go by name).
out=$(req '{"verb":"start","params":{"task":"pmx","command":"sleep 600","depends_on":"db"}}')
check "pm_id: pmx started" has "$out" '"status":"started"'
pmx=$("$PM2" jlist 2>/dev/null | jq -r '.[] | select(.name == "pmx") | .pm_id')
send_nowait g4 "{\"verb\":\"stop\",\"params\":{\"pm_id\":$pmx,\"with_deps\":true}}"
check "pm_id: answered" wait_until 20 replied g4
check "pm_id: one stop, a group of one" has "$(reply_of g4)" '"status":"stopped".*"group_size":1'
check "pm_id: pmx stopped" is_status pmx stopped
check "pm_id: db still online" is_status db online

# --- the policy judges each task a group stop stops -----------------------------------
for t in "agent-db:" "core-db:" "agent-api:agent-db,core-db"; do
	n=${t%%:*}
	d=${t#*:}
	json="{\"verb\":\"start\",\"params\":{\"task\":\"$n\",\"command\":\"sleep 600\"}}"
	[ -n "$d" ] && json="{\"verb\":\"start\",\"params\":{\"task\":\"$n\",\"command\":\"sleep 600\",\"depends_on\":\"$d\"}}"
	out=$(req "$json")
	check "policy: $n started" has "$out" '"status":"started"'
done
kill "$EXEC_PID"
check "the first executor ends" wait_until 20 bash -c "! kill -0 $EXEC_PID 2>/dev/null"
cat >"$TMP/policy.toml" <<TOML
[unsigned]
role = "worker"
[roles.worker]
verbs = ["*"]
tasks = ["agent-*"]
TOML
bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" --datum-dir "$D" --policy "$TMP/policy.toml" >"$TMP/exec2.log" 2>&1
EXEC_PID=$BG_PID
check "an executor with a policy starts" wait_until 20 file_has "$TMP/exec2.log" "ready: listening"
send_nowait g3 '{"verb":"stop","params":{"task":"agent-api","with_deps":true}}'
check "policy: three replies" wait_until 20 bash -c "[ \$(grep -c '\"request_id\":\"g3\"' '$TMP/status.log') -ge 3 ]"
order=$(grep '"request_id":"g3"' "$TMP/status.log" | jq -r '"\(.group_step) \(.task_name) \(.status)"' | tr '\n' ';')
check "policy: agent-api stopped, core-db denied, agent-db skipped ($order)" test "$order" = "1 agent-api stopped;2 core-db denied;3 agent-db skipped;"
check "policy: the skip says why" has "$(grep '"request_id":"g3"' "$TMP/status.log" | grep '"task_name":"agent-db"')" 'the stop of core-db answered denied'
check "policy: core-db still online" is_status core-db online
check "policy: agent-db still online" is_status agent-db online
check "policy: agent-api stopped" is_status agent-api stopped
# A start waiting for a dependency is judged as any start.
out=$(req '{"verb":"start","params":{"task":"core-x","command":"sleep 600","depends_on":"agent-db"}}')
check "policy: a start outside the role is refused before any wait" has "$out" '"status":"denied"'
check "policy: ... at once (no wait logged)" bash -c "! grep -q 'start core-x: waiting' '$TMP/exec2.log'"

"$PM2" kill >/dev/null 2>&1
finish
