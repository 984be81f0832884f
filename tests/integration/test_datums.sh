#!/usr/bin/env bash
# Datums (docs/protocol.md, "Datums"): start --datum=NAME.TYPE reads
# NAME.TYPE.toml from the executor's datum folder (written here by the test)
# and starts what it describes; params in the command win; every bad datum
# is an error reply and nothing in PM2.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
D="$TMP/datums"
mkdir -p "$PM2_HOME" "$D/work"
cp "$ROOT/tests/integration/helpers/record.sh" "$D/rec"
chmod +x "$D/rec"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
bg "$TASKER" watch >"$TMP/human.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 2
# _B00T_Path is the fallback; --datum-dir must win over it.
_B00T_Path=/nonexistent bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" --datum-dir "$D" >"$TMP/exec.log" 2>&1
EXEC_PID=$BG_PID
check "executor starts" wait_until 20 file_has "$TMP/exec.log" "ready: listening"

# pm2_has NAME: PM2's own list names the task.
pm2_has() { "$PM2" jlist 2>/dev/null | grep -q "\"name\":\"$1\""; }

cat >"$D/api.cli.toml" <<TOML
[b00t]
name = "api"
type = "cli"
hint = "a test api"
command = "$D/rec"
args = ["one", "two words"]
cwd = "work"
[b00t.env]
RECORD_OUT = "$TMP/api.out"
FROM_DATUM = "datum"
[env]
TOP = "top"
TOML

# --- a datum start: name, command, args, env, cwd from the file ---------------
out=$(req '{"verb":"start","params":{"datum":"api.cli"}}')
check "datum start: started" has "$out" '"status":"started"'
check "datum start: the task is named by the datum's name" has "$out" '"task_name":"api"'
check "datum start: PM2 lists api" pm2_has api
check "datum start: the program ran with the datum's args" wait_until 20 bash -c "[ \"\$(cat '$TMP/api.out' 2>/dev/null)\" = \"\$(printf 'one\ntwo words')\" ]"
check "datum start: the datum's env reached the task" file_has "$TMP/api.out.env" '^FROM_DATUM=datum$'
check "datum start: the top-level [env] reached the task" file_has "$TMP/api.out.env" '^TOP=top$'
check "datum start: cwd relative to the datum folder" file_has "$TMP/api.out.cwd" "^$D/work\$"

# --- params in the command override the datum; --task renames ------------------
out=$(req "{\"verb\":\"start\",\"params\":{\"datum\":\"api.cli\",\"task\":\"api2\",\"args\":\"three\",\"env_FROM_DATUM\":\"param\",\"env_RECORD_OUT\":\"$TMP/api2.out\",\"cwd\":\"$TMP\"}}")
check "override: started" has "$out" '"status":"started"'
check "override: --task names the task" has "$out" '"task_name":"api2"'
check "override: PM2 lists api2" pm2_has api2
check "override: the command's args replace the datum's" wait_until 20 bash -c "[ \"\$(cat '$TMP/api2.out' 2>/dev/null)\" = three ]"
check "override: the command's env wins" file_has "$TMP/api2.out.env" '^FROM_DATUM=param$'
check "override: the datum's other env stays" file_has "$TMP/api2.out.env" '^TOP=top$'
check "override: the command's cwd wins" file_has "$TMP/api2.out.cwd" "^$TMP\$"

# The slash form too, through tasker send.
out=$("$TASKER" send --wait=20 --raw "/start --datum=api.cli --task=api3 --env_RECORD_OUT=$TMP/api3.out" 2>&1)
check "slash: /start --datum=api.cli --task=api3 started" has "$out" '"status":"started"'
check "slash: PM2 lists api3" wait_until 10 pm2_has api3

# --- every rule of a start applies to what the datum says -----------------------
cat >"$D/owner.cli.toml" <<TOML
[b00t]
name = "owner"
command = "sleep 600"
[b00t.env]
TASKER_OWNER = "someone"
TOML
bad "a datum may not set TASKER_ variables" '{"verb":"start","params":{"datum":"owner.cli"}}' 'TASKER_'
check "TASKER_ datum: nothing in PM2" bash -c "! \"$PM2\" jlist | grep -q '\"name\":\"owner\"'"

# --- bad datums: an error reply, nothing started ---------------------------------
bad "datum with /" '{"verb":"start","params":{"datum":"../etc/passwd"}}' "must not contain '/'"
bad "datum with .." '{"verb":"start","params":{"datum":"x..cli"}}' "must not contain '..'"
bad "datum not a string" '{"verb":"start","params":{"datum":true}}' 'must be a string'
bad "missing datum file" '{"verb":"start","params":{"datum":"nothere.cli"}}' 'nothere.cli.toml: no such datum file'

printf '[b00t]\nname = "broken"\ncommand = "sleep 600"\nargs = [1, \n' >"$D/broken.cli.toml"
out=$(req '{"verb":"start","params":{"datum":"broken.cli"}}')
check "TOML error: an error reply" has "$out" '"status":"error"'
check "TOML error: file:line:col" has "$out" "broken.cli.toml:[0-9]*:[0-9]*: "
check "TOML error: nothing in PM2" bash -c "! \"$PM2\" jlist | grep -q '\"name\":\"broken\"'"

printf '[b00t]\nname = "nocmd"\ntype = "cli"\nhint = "no command here"\n' >"$D/nocmd.cli.toml"
bad "no command" '{"verb":"start","params":{"datum":"nocmd.cli"}}' 'no command'
check "no command: nothing in PM2" bash -c "! \"$PM2\" jlist | grep -q '\"name\":\"nocmd\"'"

printf '[b00t]\nname = "build"\ntype = "job"\ncommand = "true"\n' >"$D/build.job.toml"
bad "a type that cannot run" '{"verb":"start","params":{"datum":"build.job"}}' "type 'job' cannot be started"
check "job type: nothing in PM2" bash -c "! \"$PM2\" jlist | grep -q '\"name\":\"build\"'"

printf '[b00t]\nname = "wrong"\ncommand = ["sleep"]\n' >"$D/wrong.cli.toml"
bad "command of the wrong type" '{"verb":"start","params":{"datum":"wrong.cli"}}' 'wrong.cli.toml:3:11: b00t.command must be a string'

# Upstream's pm2.cli.toml: aliases as an array, then [[b00t.aliases]].
cat >"$D/pm2.cli.toml" <<'TOML'
[b00t]
name = "pm2"
type = "cli"
hint = "Process manager"
command = "sleep 600"
aliases = ["pm2-runtime"]

[[b00t.aliases]]
name = "pm2-dev"
TOML
out=$(req '{"verb":"start","params":{"datum":"pm2.cli"}}')
check "pm2.cli.toml (array defined twice): an error reply" has "$out" '"status":"error"'
check "pm2.cli.toml: names the file, line and column" has "$out" "pm2.cli.toml:[0-9]*:[0-9]*: "
check "pm2.cli.toml: says what is wrong (aliases)" has "$out" 'aliases'
check "pm2.cli.toml: nothing in PM2" bash -c "! \"$PM2\" jlist | grep -q '\"name\":\"pm2\"'"
check "the executor is still alive" alive "$EXEC_PID"

# --- results: a one-shot task's end kept in Redis with a TTL and announced --------
cat >"$D/once.cli.toml" <<'TOML'
[b00t]
name = "once"
type = "cli"
command = "sh"
args = ["-c", "i=0; while [ $i -lt 60 ]; do echo out$i; i=$((i+1)); done; echo err1 >&2; exit 3"]
TOML
out=$(req '{"verb":"start","params":{"datum":"once.cli","autorestart":"false"}}')
check "result: the one-shot datum task started" has "$out" '"status":"started"'
has_result() { [ -n "$(rcli --raw GET 'b00t:{tasker}:result:once')" ]; }
check "result: kept under b00t:{tasker}:result:once" wait_until 20 has_result
res=$(rcli --raw GET 'b00t:{tasker}:result:once')
ttl=$(rcli --raw TTL 'b00t:{tasker}:result:once')
check "result: its TTL is about 7 days ($ttl s)" [ "$ttl" -gt 604000 -a "$ttl" -le 604800 ]
check "result: exit code 3" has "$res" '"exit_code":3,'
check "result: no signal, not ok" has "$res" '"exit_code":3,"signal":null,"ok":false'
check "result: start, duration, end" has "$res" '"start_time":"20[0-9-]*T[0-9:.]*Z","duration_ms":[0-9]*,"end_time":"20'
check "result: the last 50 lines of stdout (out10..out59)" bash -c "jq -e '.out | length == 50 and .[0] == \"out10\" and .[49] == \"out59\"' <<<'$res' >/dev/null"
check "result: stderr" bash -c "jq -e '.err == [\"err1\"]' <<<'$res' >/dev/null"
check "result: tasker watch says it in words" wait_until 10 file_has "$TMP/human.log" 'result once (pm_id [0-9]*): exited with code 3 after [0-9.]* s'
check "result: announced on the status channel (task_result)" wait_until 10 file_has "$TMP/status.log" '"type":"task_result","task_name":"once","pm_id":[0-9]*,"node":"[^"]*","exit_code":3'
out=$("$TASKER" result once 2>&1)
check "tasker result: exit code, times, kept" has "$out" 'once on [^ ]* exited with code 3; started 20.*, ended 20.* ([0-9.]* s); kept [0-9]* s more'
check "tasker result: stdout's last line" has "$out" '^  out59$'
check "tasker result: stderr" has "$out" '^  err1$'
out=$("$TASKER" result --json once)
check "tasker result --json: ttl_left" bash -c "jq -e '.ttl_left > 604000 and .exit_code == 3 and .task_name == \"once\"' <<<'$out' >/dev/null"
"$TASKER" result nosuch >/dev/null 2>"$TMP/nores.err"; rc=$?
check "tasker result: no result exits 1 ($rc)" [ "$rc" -eq 1 ]
check "tasker result: says there is none" file_has "$TMP/nores.err" 'no result for nosuch'
"$TASKER" result 'a b' >/dev/null 2>&1; rc=$?
check "tasker result: a bad task name is a usage error ($rc)" [ "$rc" -eq 2 ]
out=$(req '{"verb":"result","params":{"task":"once"}}')
check "/result: an ok reply" has "$out" '"type":"task_status","task_name":"once","status":"ok"'
check "/result: carries the stored result" has "$out" '"result":{"type":"task_result","task_name":"once","pm_id":[0-9]*,"node":"[^"]*","exit_code":3'
out=$(req '{"verb":"result","params":{"task":"nosuch"}}')
check "/result of a task without one: not_found" has "$out" '"type":"task_status","task_name":"nosuch","status":"not_found"'
out=$("$TASKER" send --wait=20 --raw '/result --task=once' 2>&1); rc=$?
check "tasker send --wait /result --task=once: exit 0 ($rc)" [ "$rc" -eq 0 ]
check "tasker send --wait /result: the reply" has "$out" '"exit_code":3'
out=$(req '{"verb":"start","params":{"task":"killed","command":"sh","args":"-c \"kill -9 $$\"","autorestart":"false"}}')
has_killed() { [ -n "$(rcli --raw GET 'b00t:{tasker}:result:killed')" ]; }
check "result: a task a signal ended has a result" wait_until 20 has_killed
check "result: tasker watch names the signal" wait_until 10 file_has "$TMP/human.log" 'result killed (pm_id [0-9]*): ended by SIGKILL'
check "result: exit_code null, signal SIGKILL" has "$(rcli --raw GET 'b00t:{tasker}:result:killed')" '"exit_code":null,"signal":"SIGKILL","ok":false'
out=$(req '{"verb":"start","params":{"task":"forever","command":"sh","args":"-c \"exit 0\""}}')
check "a task PM2 restarts has no result" wait_until 20 file_has "$TMP/status.log" '"task_name":"forever","status":"exited"'
check "no result for forever" [ -z "$(rcli --raw GET 'b00t:{tasker}:result:forever')" ]

# --- schedules: --cron checked before PM2, PM2's cron_restart with autorestart off ----
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"tick\",\"command\":\"sh\",\"args\":\"-c 'date +%s%N >>$TMP/tick.out'\",\"cron\":\"*/2 * * * * *\"}}")
check "cron: a start with a schedule is started" has "$out" '"status":"started"'
jl() { "$PM2" jlist 2>/dev/null; }
check "cron: PM2 has cron_restart and autorestart false" bash -c "\"$PM2\" jlist | jq -e '.[] | select(.name==\"tick\") | .pm2_env.cron_restart == \"*/2 * * * * *\" and .pm2_env.autorestart == false' >/dev/null"
check "cron: the task ran on schedule at least once more (2 runs)" wait_until 20 lines_in "$TMP/tick.out" 2
out=$(req '{"verb":"status","params":{}}')
check "cron: status shows the schedule" has "$out" '"name":"tick",[^}]*"cron":"\*/2 \* \* \* \* \*"'
check "cron: each run leaves a result" wait_until 10 bash -c "[ -n \"\$(redis-cli -p $REDIS_PORT --raw GET 'b00t:{tasker}:result:tick')\" ]"
out=$("$TASKER" send --wait=20 --raw '/start --task=tick5 --command="sleep 1" --cron="*/5 * * * *"' 2>&1)
check "cron: a 5-field schedule is accepted" has "$out" '"status":"started"'
bad "cron: a bad minute" '{"verb":"start","params":{"task":"badcron","command":"true","cron":"61 * * * *"}}' 'minute field'
bad "cron: too few fields" '{"verb":"start","params":{"task":"badcron","command":"true","cron":"* * *"}}' 'cron needs 5 fields'
bad "cron: croner-only syntax" '{"verb":"start","params":{"task":"badcron","command":"true","cron":"0 0 L * *"}}' 'day-of-month field'
bad "cron: with autorestart=true" '{"verb":"start","params":{"task":"badcron","command":"true","cron":"* * * * *","autorestart":"true"}}' 'autorestart must be false'
check "cron: nothing of the bad ones in PM2" bash -c "! \"$PM2\" jlist | grep -q '\"name\":\"badcron\"'"
check "the executor is still alive at the end" alive "$EXEC_PID"

finish
