#!/usr/bin/env bash
# The executor's hardening, against a real redis-server and a real PM2
# daemon (private PM2_HOME): one strict rule per value, a bound on what one
# start may add to PM2, expiry (ttl), a stalled daemon answered within the
# command's time from arrival, a full executor that leaves commands in
# Redis instead of dropping them, refusals that are always answered and
# not remembered as seen, and true outcomes after a deadline.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
check "executor starts and says ready" wait_until 20 file_has "$TMP/exec.log" "ready: listening"
out=$(req '{"verb":"status"}')
check "the daemon is up (first status answered)" has "$out" '"type":"task_list"'
DAEMON=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null)
check "the daemon's pid is known" alive "${DAEMON:-0}"

# names_in_pm2 NAME: how many processes of that name PM2 holds.
names_in_pm2() {
	"$TASKER" ls --json 2>/dev/null | grep -o "\"name\":\"$1\"" | wc -l
}
absent() { [ "$(names_in_pm2 "$1")" -eq 0 ]; }
# once_gone RID: the fleet's once key of that request_id is gone (a command
# not carried out lets it go after 3 s; sent again then, it is taken again).
once_gone() { [ "$(rcli EXISTS "b00t:{tasker}:b00t:k0mmand3r:once:$1")" = 0 ]; }

# --- one strict rule per value (item 9) ------------------------------------
bad "command true is not the program true" '{"verb":"start","params":{"task":"lax","command":true}}' 'params.command must be a string, not a boolean'
bad "command as a number" '{"verb":"start","params":{"task":"lax","command":5}}' 'params.command must be a string, not a number'
bad "task as a number" '{"verb":"stop","params":{"task":42}}' 'params.task must be a string, not a number'
bad "cwd as a boolean" '{"verb":"start","params":{"task":"lax","command":"sleep 5","cwd":false}}' 'params.cwd must be a string'
for v in '" 2"' '"+2"' '"02"' '"2 "' 0 -1 '"0"' '"-1"' 1025 2.5 true '""'; do
	bad "instances $v" '{"verb":"start","params":{"task":"lax","command":"sleep 5","instances":'"$v"'}}' 'instances must be a number from 1 to 1024 written without sign'
done
for v in '"1"' 1048576 '"500m"' '"512K"' '"0M"' '"05M"' '"M"'; do
	bad "max_memory_restart $v" '{"verb":"start","params":{"task":"lax","command":"sleep 5","max_memory_restart":'"$v"'}}' 'max_memory_restart must be a size with its unit'
done
bad "autorestart 1" '{"verb":"start","params":{"task":"lax","command":"sleep 5","autorestart":1}}' 'autorestart must be true or false'
bad "autorestart yes" '{"verb":"start","params":{"task":"lax","command":"sleep 5","autorestart":"yes"}}' 'autorestart must be true or false'
bad "env value true" '{"verb":"start","params":{"task":"lax","command":"sleep 5","env_DEBUG":true}}' 'params.env_DEBUG must be a string or a number, not a boolean'
for v in '"abc"' 0 -1 86401 '"1e3"' '" 5"' true; do
	bad "ttl $v" '{"verb":"status","params":{"ttl":'"$v"'}}' 'ttl must be a number of seconds'
done
check "nothing named lax was started by any of those" absent lax
out=$(req '{"verb":"start","params":{"task":"strict-ok","command":"sleep 600","instances":2,"max_memory_restart":"1M","autorestart":false,"env_N":7,"ttl":30}}')
check "numbers where numbers belong are accepted (instances 2, env 7, ttl 30)" has "$out" '"status":"started".*"pm_ids":\[[0-9]*,[0-9]*\]'
out=$(req '{"verb":"delete","params":{"task":"strict-ok"}}')
check "and deleted" has "$out" '"status":"deleted"'

# --- one message must not lock tasker out of PM2 (item 3) --------------------
BIG=$(head -c 60000 /dev/zero | tr '\0' x)
out=$(req '{"verb":"start","params":{"task":"hog","command":"sleep 600","instances":600,"env_BIG":"'"$BIG"'"}}')
check "600 instances x 60 KB of env is refused" has "$out" "\"status\":\"error\".*the limit is 8 MiB"
check "and nothing named hog exists" absent hog
out=$(req '{"verb":"start","params":{"task":"hog","command":"sleep 600","instances":2,"env_BIG":"'"$BIG"'"}}')
check "2 instances x 60 KB of env is within the bound" has "$out" '"status":"started"'
out=$(req '{"verb":"delete","params":{"task":"hog"}}')
check "and deleted" has "$out" '"status":"deleted"'

# --- expiry (item 12) ---------------------------------------------------------
iso() { date -u -d "@$1" +%Y-%m-%dT%H:%M:%SZ; }
NOW=$(date +%s)
out=$(req '{"verb":"start","params":{"task":"stale1","command":"sleep 600"},"timestamp":"'"$(iso $((NOW - 120)))"'"}')
check "a command 120 s old (default ttl 60 s) is expired" has "$out" '"status":"expired"'
out=$(req '{"verb":"start","params":{"task":"stale2","command":"sleep 600","ttl":"10"},"timestamp":'"$((NOW - 30))"'}')
check "a command 30 s old with ttl 10 is expired" has "$out" '"status":"expired"'
out=$(req '{"verb":"start","params":{"task":"fresh1","command":"sleep 600","ttl":100},"timestamp":'"$((NOW - 30))"'}')
check "a command 30 s old with ttl 100 is carried out" has "$out" '"status":"started"'
out=$(req '{"verb":"start","params":{"task":"ahead1","command":"sleep 600","ttl":5},"timestamp":'"$((NOW + 3600))"'}')
check "a sender clock an hour ahead does not make it expire (ttl counts from arrival too)" has "$out" '"status":"started"'
check "expired commands started nothing" bash -c "[ \$('$TASKER' ls --json | grep -c '\"name\":\"stale') -eq 0 ]"

# A command that waits in Redis while the executor is frozen, past its ttl.
kill -STOP "$EXEC"
"$TASKER" send --json '{"verb":"start","params":{"task":"late1","command":"sleep 600","ttl":"1"},"request_id":"late-1"}' 2>>"$TMP/send.err"
T0=$(date +%s%N)
passed_ms() { [ $((($(date +%s%N) - T0) / 1000000)) -ge "$1" ]; }
wait_until 5 passed_ms 1500
kill -CONT "$EXEC"
check "a command buffered past its ttl is answered expired" wait_until 20 file_has "$TMP/status.log" '"task_name":"late1","status":"expired"'
check "and late1 was never started" absent late1

# --- a stalled daemon: answers from arrival, busy, seen (items 10, 11, 6, 12) --
kill -STOP "$DAEMON"
"$TASKER" send --json '{"verb":"start","params":{"task":"late2","command":"sleep 600","ttl":"1"},"request_id":"late-2"}' 2>>"$TMP/send.err"
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"stall-a"}' >/dev/null
# B arrives while A's listing hangs: it must be answered within the
# executor's 8 s from its own arrival, before send's 12 s run out.
bg "$TASKER" send --wait=12 --raw /status >"$TMP/stall-b.out" 2>&1
SENDB=$BG_PID
for i in $(seq 1 1000); do
	echo "PUBLISH b00t:k0mmand3r '{\"verb\":\"status\",\"request_id\":\"fill-$i\"}'"
done | redis-cli -p "$REDIS_PORT" >/dev/null
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"busy-1"}' >/dev/null
# Past 1000 waiting commands, an executor reads no more: the command waits
# in Redis and is answered once there is room (with PM2 still stalled: an
# error saying nothing was done).
check "a command past 1000 waiting is answered once there is room" wait_until 40 file_has "$TMP/status.log" '"request_id":"busy-1"'
check "and says nothing was done" bash -c "grep '\"request_id\":\"busy-1\"' '$TMP/status.log' | grep -q 'nothing was done'"
wait "$SENDB"; rc=$?
check "send --wait=12 during a stall gets its answer before it gives up (exit 1, not 3: got $rc)" [ "$rc" -eq 1 ]
check "that answer says PM2 did not answer and nothing was done" file_has "$TMP/stall-b.out" 'PM2 did not answer within 8.0 s; nothing was done'
check "a start whose ttl passes while PM2 stalls is expired" wait_until 20 file_has "$TMP/status.log" '"task_name":"late2","status":"expired"'
replied() { [ "$(grep -c '"request_id":"fill-' "$TMP/status.log")" -ge 1000 ]; }
wait_until 30 replied
n=$(grep -o '"request_id":"fill-[0-9]*"' "$TMP/status.log" | sort | uniq | wc -l)
dups=$(grep -o '"request_id":"fill-[0-9]*"' "$TMP/status.log" | sort | uniq -d | wc -l)
check "each of the 1000 waiting commands got a reply ($n) and only one ($dups with more)" [ "$n" -eq 1000 ] && [ "$dups" -eq 0 ]
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"again-1","params":{"ttl":"0.5"}}' >/dev/null
check "a status whose ttl passes while PM2 stalls is expired" wait_until 20 file_has "$TMP/status.log" '"status":"expired".*"request_id":"again-1"'
wait_until 10 once_gone again-1
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"again-1","params":{"ttl":"0.5"}}' >/dev/null
twice() { [ "$(grep -c '"request_id":"again-1"' "$TMP/status.log")" -eq 2 ]; }
check "sent again with the same request_id, it is answered again (an expired command is not remembered)" wait_until 20 twice
kill -CONT "$DAEMON"
check "late2 never started once PM2 came back" bash -c "! '$TASKER' ls --json | grep -q '\"name\":\"late2\"'"
check "a command that was not carried out lets its request_id go" wait_until 10 once_gone busy-1
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"busy-1"}' >/dev/null
check "busy-1 sent again later is carried out (a refusal is not remembered as seen)" wait_until 20 file_has "$TMP/status.log" '"type":"task_list".*"request_id":"busy-1"'
check "the executor is still running" alive "$EXEC"

# --- a flood: 15,000 well-formed commands among 5,000 pieces of garbage (item 11)
for i in $(seq 1 20000); do
	if [ $((i % 4)) -eq 0 ]; then
		echo "PUBLISH b00t:k0mmand3r 'garbage $i'"
	else
		echo "PUBLISH b00t:k0mmand3r '{\"verb\":\"stop\",\"params\":{\"task\":\"ghost-$((i % 50))\"},\"request_id\":\"flood-$i\"}'"
	fi
done | redis-cli -p "$REDIS_PORT" >/dev/null
flood_answered() { [ "$(grep -c '"request_id":"flood-' "$TMP/status.log")" -ge 15000 ]; }
wait_until 120 flood_answered
n=$(grep -o '"request_id":"flood-[0-9]*"' "$TMP/status.log" | sort -u | wc -l)
dups=$(grep -o '"request_id":"flood-[0-9]*"' "$TMP/status.log" | sort | uniq -d | wc -l)
busy=$(grep '"request_id":"flood-' "$TMP/status.log" | grep -c '"status":"busy"')
check "each of the 15000 well-formed commands in the flood got one reply ($n, $busy of them busy, $dups twice)" [ "$n" -eq 15000 ] && [ "$dups" -eq 0 ]

# --- orphans of a killed daemon (item 5) --------------------------------------
# app_procs NAME: live processes whose environment marks them as instances of
# NAME under our PM2_HOME (PM2 gives fork-mode apps their pid file path).
app_procs() {
	local p n=0
	for p in /proc/[0-9]*; do
		{ tr '\0' '\n' <"$p/environ"; } 2>/dev/null | grep -q "^pm_pid_path=$PM2_HOME/pids/$1-[0-9]*\.pid$" && n=$((n + 1))
	done
	echo "$n"
}
procs_are() { [ "$(app_procs "$1")" -eq "$2" ]; }
out=$(req '{"verb":"start","params":{"task":"orph","command":"sleep 600","instances":4}}')
check "orph: 4 instances started" has "$out" '"status":"started".*"instances":4'
kill -KILL "$(cat "$PM2_HOME/pm2.pid")"
check "a SIGKILLed daemon leaves its 4 fork-mode apps running, unmanaged" wait_until 10 procs_are orph 4
out=$(req '{"verb":"start","params":{"task":"orph","command":"sleep 600","instances":4}}')
check "the same start again brings a new daemon and is started" has "$out" '"status":"started"'
check "the 4 orphans are stopped: 4 processes of orph in all, not 8" wait_until 30 procs_are orph 4
orphan_reports() { [ "$(grep -c '"task_name":"orph","status":"orphan_stopped".*"source":"tasker","event":"orphan"' "$TMP/status.log")" -eq 4 ]; }
check "each orphan is reported on the status channel (orphan_stopped)" wait_until 30 orphan_reports
check "and PM2 manages exactly the 4 that run" bash -c "[ \$('$TASKER' ls --json | grep -o '\"name\":\"orph\",\"pm_id\":[0-9]*,\"status\":\"online\"' | wc -l) -eq 4 ]"
# Killed while the calls of a 40-instance stop are in flight: one reply.
out=$(req '{"verb":"start","params":{"task":"multi","command":"sleep 600","instances":40}}')
check "multi: 40 instances started" has "$out" '"status":"started"'
rcli PUBLISH b00t:k0mmand3r '{"verb":"stop","params":{"task":"multi"},"request_id":"stop-multi"}' >/dev/null
kill -KILL "$(cat "$PM2_HOME/pm2.pid")"
check "a stop whose daemon is killed under it gets a final reply" wait_until 40 file_has "$TMP/status.log" '"request_id":"stop-multi"'
echo "# its reply: $(grep '"request_id":"stop-multi"' "$TMP/status.log" | cut -c1-200)"
check "exactly one" [ "$(grep -c '"request_id":"stop-multi"' "$TMP/status.log")" -eq 1 ]
check "no multi process is left running unmanaged" wait_until 30 procs_are multi 0
check "the executor is still running" alive "$EXEC"
# Killed in the middle of a start: no more instances than asked, in the end.
rcli PUBLISH b00t:k0mmand3r '{"verb":"start","params":{"task":"midway","command":"sleep 600","instances":200},"request_id":"midway-1"}' >/dev/null
some_midway() { compgen -G "$PM2_HOME/pids/midway-*.pid" >/dev/null; }
wait_until 20 some_midway
kill -KILL "$(cat "$PM2_HOME/pm2.pid")"
echo "# the daemon was killed with $(app_procs midway) of 200 midway instances launched"
check "the start killed midway gets one final reply" wait_until 40 file_has "$TMP/status.log" '"request_id":"midway-1"'
echo "# its reply: $(grep '"request_id":"midway-1"' "$TMP/status.log" | cut -c1-300)"
out=$(req '{"verb":"start","params":{"task":"after-midway","command":"sleep 600"}}')
check "a command after that is carried out" has "$out" '"status":"started"\|"status":"already_running"'
midway_settles() { [ "$(app_procs midway)" -le 200 ] && [ "$(app_procs midway)" = "$("$TASKER" ls --json | grep -o '"name":"midway"' | wc -l)" ]; }
check "in the end no more than 200 midway processes run, and PM2 knows every one" wait_until 60 midway_settles
DAEMON=$(cat "$PM2_HOME/pm2.pid")
out=$(req '{"verb":"delete","params":{"task":"midway"}}')
out=$(req '{"verb":"delete","params":{"task":"orph"}}')

# An app whose helper leaves its process tree (double fork, reparented to
# init) still carries PM2's marks; it is no orphan while its daemon lives.
ln -s "$(command -v sleep)" "$TMP/helper-sleep"
out=$(req '{"verb":"start","params":{"task":"forker","command":"sh","args":["-c","('"$TMP"'/helper-sleep 612 &); exec sleep 611"]}}')
check "forker: started" has "$out" '"status":"started"'
helper_alive() { pgrep -f "^$TMP/helper-sleep 612\$" >/dev/null; }
check "its detached helper runs" wait_until 10 helper_alive

# --- true outcomes after the deadline (item 4) ---------------------------------
# A second executor with a 0.1 s budget, on its own channel: PM2 takes
# longer than that to fork 100 instances, so the reply comes from a listing.
bg "$TASKER" exec --channel b00t:k0mmand3r:quick --command-timeout 0.1 --cwd-base "$TMP" --log-level=debug >"$TMP/exec2.log" 2>&1
check "a second executor with --command-timeout 0.1 starts" wait_until 20 file_has "$TMP/exec2.log" "ready: listening"
check "the new executor looked for orphans at start-up" wait_until 20 file_has "$TMP/exec2.log" "no process left running by a dead daemon (found at start-up)"
check "and spared the live app's detached helper" helper_alive
out=$("$TASKER" send --channel b00t:k0mmand3r:quick --wait=20 --raw '/start --task=many --command="sleep 600" --instances=100' 2>&1)
check "a start past its deadline is answered started, with the instances PM2 has" has "$out" '"status":"started".*"pm_ids":\[[0-9]'
if has "$out" '"instances":100[,}]'; then
	ok "PM2 was quick enough for all 100 (nothing to note)"
else
	check "fewer than asked: the reply says how many of how many" has "$out" '"requested":100,"note":"PM2 had started [0-9]* of 100 instances'
fi
all100() { [ "$(names_in_pm2 many)" -eq 100 ]; }
check "PM2 finishes the start: 100 instances, none more" wait_until 60 all100
out=$("$TASKER" send --wait=60 --raw '/delete --task=many' 2>&1)
check "delete of 100 instances is deleted, naming each" bash -c "grep -q '\"status\":\"deleted\"' <<<'$out' && [ \$(grep -o '\"pm_ids\":\[[0-9,]*\]' <<<'$out' | tr ',' '\n' | wc -l) -eq 100 ]"
check "no process named many remains" absent many
# A stalled daemon while a stop is in flight: the reply says what is known.
out=$(req '{"verb":"start","params":{"task":"frozen","command":"sleep 600"}}')
kill -STOP "$DAEMON"
out=$("$TASKER" send --channel b00t:k0mmand3r:quick --wait=20 --raw '/stop --task=frozen' 2>&1)
kill -CONT "$DAEMON"
check "a stop the daemon never answered is an error, not a claim (nothing was done)" has "$out" '"status":"error".*nothing was done'
finish
