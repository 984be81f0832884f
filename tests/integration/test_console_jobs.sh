#!/usr/bin/env bash
# The console's result and job views (issue 10, item 5), driven through a
# private tmux server against a real redis-server, a real PM2 daemon
# (private PM2_HOME) and a real executor: the detail view shows the last
# result of a one-shot task and the next run of a schedule; the job view
# (J, /jobs) shows the job records in Redis (written here, in the shape the
# job runner writes), steps in order with their states, refreshed live; a
# malformed record is an error line, never a crash.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
export REDIS_URL="$R"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config"

CONSOLE_ARGS=(--redis "$R")
COLS_=110 ROWS_=32
# line_of TEXT: the screen line number holding TEXT (first), or 0.
line_of() { screen | grep -n -- "$1" | head -n 1 | cut -d: -f1 | grep . || echo 0; }

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1
D="$TMP/datums"
mkdir -p "$D"
# A job the executor's runner carries out (docs/protocol.md, section 16):
# b waits on a FIFO the test writes, so the view can see it running.
mkfifo "$TMP/go"
cat >"$D/real.job.toml" <<TOML
[b00t]
name = "real"
type = "job"
[b00t.job.config]
mode = "dag"
[[b00t.job.steps]]
name = "a"
[b00t.job.steps.task]
type = "bash"
command = "echo a-done"
[[b00t.job.steps]]
name = "b"
depends_on = ["a"]
[b00t.job.steps.task]
type = "bash"
command = "read -r x < $TMP/go; exit 4"
TOML
bg "$TASKER" exec --redis "$R" --datum-dir "$D" >"$TMP/exec.log" 2>&1
check "executor starts" wait_until 20 file_has "$TMP/exec.log" "ready: listening"
out=$(req '{"verb":"status","params":{}}')

# --- a one-shot task ends: its result is kept --------------------------------------
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"once\",\"command\":\"sh\",\"args\":\"-c 'echo hello-out; echo second-out; echo oops-err >&2; exit 3'\",\"autorestart\":false}}")
check "once started" has "$out" '"status":"started"'
check "its result is in Redis" wait_until 15 bash -c "[ -n \"\$(redis-cli -p $REDIS_PORT --raw GET 'b00t:{tasker}:result:once')\" ]"
out=$(req '{"verb":"start","params":{"task":"sched5","command":"sleep 600","cron":"*/5 * * * *"}}')
check "sched5 started" has "$out" '"status":"started"'

console
check "the console starts" wait_until 15 screen_has "Redis up"
type_text "/filter once"
key Enter
check "once is the row shown" wait_until 15 screen_re "once +(stopped|errored)"
key Enter
check "details: the result line" wait_until 10 screen_has "result   exit 3 (failed)"
check "details: the result's times and duration" screen_re "result   exit 3 \(failed\), [0-9:]{8} -> [0-9:]{8} UTC, took [0-9.]+s"
check "details: the last stdout lines" screen_has "out| second-out"
check "details: the last stderr line" screen_has "err| oops-err"
check "details: the result is coloured as a failure" bash -c "tmux -L $SOCK capture-pane -e -p -t main | grep 'result   exit 3' | grep -q '31m'"
# A newer run replaces it: the view follows without reopening.
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:result:once' '{"type":"task_result","task_name":"once","exit_code":0,"signal":null,"ok":true,"start_time":"2026-12-01T10:00:00.000Z","end_time":"2026-12-01T10:00:02.500Z","duration_ms":2500,"out":["fresh \u001b[31mline"],"err":[]}' >/dev/null
check "details: a new result shows within a second or so" wait_until 5 screen_has "result   exit 0 (ok), 10:00:00 -> 10:00:02 UTC, took 2.5s"
check "details: a control character in a line is escaped" screen_has 'out| fresh \\x1b\[31mline'
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:result:once' '{"exit_code":' >/dev/null
check "details: a malformed result is an error line" wait_until 5 screen_has "result   unreadable: the stored result is not a JSON object"
key Escape
type_text "/filter sched5"
key Enter
check "sched5 is the row shown" wait_until 15 screen_re "sched5 +"
key Enter
check "details: the schedule and its next run" wait_until 10 screen_re "schedule \*/5 \* \* \* \*   next run in ([0-9]+m )?[0-9]+s \([0-9:]{8}\)"
check "details: no result for a task that has none" screen_lacks "result   "
key Escape
type_text "/filter"
key Enter

# --- the job view --------------------------------------------------------------------
now=$(($(date +%s%3N) - 10000))
rec() {
	# rec STATE_OF_TEST: a job state record with steps written out of order.
	cat <<JSON
{"type":"job_state","job":"build-and-test","run_id":"run-1","node":"vm","agent_id":"t","mode":"dag","status":"$2","started_ms":$now,"ended_ms":null,
 "steps":[
  {"name":"test","kind":"bash","depends_on":["lint","build"],"task":"job-build-and-test-test","state":"$1","attempt":2,"started_ms":$((now + 3000)),"ended_ms":null,"exit_code":null,"signal":null,"level":2},
  {"name":"fetch","kind":"bash","depends_on":[],"task":"job-build-and-test-fetch","state":"succeeded","attempt":1,"started_ms":$now,"ended_ms":$((now + 1200)),"exit_code":0,"signal":null,"level":0},
  {"name":"lint","kind":"bash","depends_on":["fetch"],"task":"job-build-and-test-lint","state":"failed","attempt":1,"started_ms":$((now + 1300)),"ended_ms":$((now + 2000)),"exit_code":2,"signal":null,"level":1},
  {"name":"build","kind":"datum","depends_on":["fetch"],"task":"job-build-and-test-build","state":"succeeded","attempt":1,"started_ms":$((now + 1300)),"ended_ms":$((now + 2900)),"exit_code":0,"signal":null,"level":1}
 ],
 "rollback":[{"name":"undo","kind":"bash","depends_on":[],"task":"x","state":"pending","attempt":0,"started_ms":null,"ended_ms":null,"exit_code":null,"signal":null,"level":0}]}
JSON
}
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:job:build-and-test' "$(rec running running)" >/dev/null
key J
check "J opens the job view" wait_until 10 screen_has "jobs (1) from b00t:{tasker}:job:"
check "the job is listed with its status" screen_re "> build-and-test  running"
check "its header: mode and run" screen_has "mode dag  took"
check "the step titles" screen_re "LVL STEP +STATE +TRY +TOOK +DEPENDS ON"
check "fetch: level 0, succeeded, 1 try, 1.2s" screen_re "0 +fetch +succeeded +1 +1\.2s +-"
check "lint: level 1, failed with its exit code" screen_re "1 +lint +failed\(2\) +1 +0\.7s +fetch"
check "build: level 1, its dependency" screen_re "1 +build +succeeded +1 +1\.6s +fetch"
check "test: level 2, running, attempt 2, both dependencies" screen_re "2 +test +running +2 +[0-9.]+s\+ +lint,build"
lf=$(line_of " fetch ")
ll=$(line_of " lint ")
lb=$(line_of " build ")
lt=$(line_of " test ")
check "steps in order of level (fetch $lf < lint $ll < build $lb < test $lt)" test "$lf" -gt 0 -a "$lf" -lt "$ll" -a "$ll" -lt "$lb" -a "$lb" -lt "$lt"
check "rollback steps after them" bash -c "[ $(line_of 'rollback') -gt $lt ] && [ $(line_of ' undo ') -gt $lt ]"
# The theme's job-* styles (default theme: failed red, succeeded green, running yellow).
check "failed is red" bash -c "tmux -L $SOCK capture-pane -e -p -t main | grep -qE '31m1 +lint'"
check "succeeded is green" bash -c "tmux -L $SOCK capture-pane -e -p -t main | grep -qE '32m0 +fetch'"
check "running is yellow" bash -c "tmux -L $SOCK capture-pane -e -p -t main | grep -qE '33m2 +test'"
check "the hints say how to leave" screen_has "Esc/q/J back"

# Live: the record changes and a job_step message passes.
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:job:build-and-test' "$(rec succeeded failed)" >/dev/null
redis-cli -p "$REDIS_PORT" PUBLISH b00t:task:status '{"type":"job_step","job":"build-and-test","step":"test","state":"succeeded","timestamp":"2026-12-01T10:00:00.000Z"}' >/dev/null
check "live: the step's new state shows" wait_until 5 screen_re "2 +test +succeeded +2"
check "live: the job's new status shows" screen_re "> build-and-test  failed"

# Malformed records: listed with an error line, the console lives on.
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:job:aaa-broken' 'not json{' >/dev/null
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:job:aab-nosteps' '{"steps":5,"status":"running"}' >/dev/null
redis-cli -p "$REDIS_PORT" SET 'b00t:{tasker}:job:aac-evil' '{"job":"evil","status":"running","steps":[{"name":"\u001b]0;owned\u0007x","state":"\u001b[2J","attempt":"many","level":"deep","depends_on":[1,null,"ok"]},7,null]}' >/dev/null
redis-cli -p "$REDIS_PORT" HSET 'b00t:{tasker}:job:aad-hash' f v >/dev/null
check "malformed: listed as unreadable" wait_until 5 screen_re "aaa-broken  unreadable"
check "malformed: the one without steps too" screen_re "aab-nosteps  unreadable"
check "malformed: a hash under the prefix is not listed" screen_lacks "aad-hash"
check "the selection stays on build-and-test" screen_re "> build-and-test"
key k
check "k moves up to aac-evil" wait_until 5 screen_re "> aac-evil"
check "evil: control characters escaped, not sent to the terminal" screen_has '\\x1b]0;owned\\x07x'
check "evil: bad numbers are dashes, not garbage" screen_re "^.*- +\\\\x1b]0;owned"
key k
check "k: aab-nosteps, its error line" wait_until 5 screen_has "unreadable record: the record has no steps array"
key k
check "k: aaa-broken, its error line" wait_until 5 screen_has "unreadable record: the record is not a JSON object"
check "the console is alive" "${T[@]}" has-session -t main
key Escape
check "Esc leaves the job view" wait_until 5 screen_has "Enter details"

# --- a job run by the executor's runner, followed live -----------------------------
redis-cli -p "$REDIS_PORT" DEL 'b00t:{tasker}:job:aaa-broken' 'b00t:{tasker}:job:aab-nosteps' 'b00t:{tasker}:job:aac-evil' >/dev/null
redis-cli -p "$REDIS_PORT" PUBLISH b00t:job '{"verb":"job","params":{"action":"run","name":"real"},"agent_id":"tester","request_id":"job-1"}' >/dev/null
key J
check "runner: the real job is listed" wait_until 15 screen_re "real  running"
key j
check "runner: selected" wait_until 5 screen_re "> real"
check "runner: a succeeded at level 0" wait_until 15 screen_re "0 +a +succeeded +1"
check "runner: b running at level 1, after a" wait_until 15 screen_re "1 +b +running +1 +[0-9.]+s\\+ +a"
echo go >"$TMP/go"
check "runner: b failed with its exit code, live" wait_until 15 screen_re "1 +b +failed\\(4\\) +1"
check "runner: the job failed" wait_until 10 screen_re "> real  failed"
key Escape
check "Esc leaves the job view again" wait_until 5 screen_has "Enter details"
type_text "/jobs"
key Enter
check "/jobs opens it too" wait_until 5 screen_has "jobs (2) from"
key q
check "q leaves it" wait_until 5 screen_lacks "jobs (2) from"
key '?'
check "help names J" wait_until 5 screen_re "J +jobs: each job run"
key End
check "help names /jobs (the help scrolls: at its end)" wait_until 5 screen_has "/theme NAME /clear /jobs"
key Escape

# Many jobs, a long one: the list follows the selection, the steps scroll,
# a wide step name is cut by columns, Ctrl-C quits from the job view.
args=()
for i in $(seq -w 0 39); do
	args+=("b00t:{tasker}:job:zz-$i" "{\"job\":\"zz-$i\",\"status\":\"succeeded\",\"steps\":[{\"name\":\"only\",\"state\":\"succeeded\",\"level\":0}]}")
done
steps=""
for i in $(seq -w 0 59); do
	steps+="{\"name\":\"s$i\",\"state\":\"succeeded\",\"attempt\":1,\"level\":$((10#$i))},"
done
steps+='{"name":"名前名前名前名前名前名前","state":"failed","attempt":1,"level":0}'
args+=("b00t:{tasker}:job:zz-long" "{\"job\":\"zz-long\",\"status\":\"failed\",\"steps\":[$steps]}")
redis-cli -p "$REDIS_PORT" MSET "${args[@]}" >/dev/null
key J
check "J: 43 jobs listed" wait_until 10 screen_has "jobs (43) from"
check "... more than the screen holds: zz-long is below it" screen_lacks "zz-long"
for i in $(seq 1 45); do key j; done
check "j past the bottom: the list follows, zz-long selected and shown" wait_until 10 screen_re "> zz-long  failed"
check "... the first jobs scrolled away" screen_lacks "build-and-test"
check "a wide step name is cut by columns, whole characters" screen_re "0 +名前名前名前名前名…  failed"
check "61 steps do not fit: the pane says which show" screen_re "steps 1-[0-9]+ of 61 \\(PgUp PgDn\\)"
check "... s59 is not on screen yet" screen_lacks " s59 "
key End
check "End scrolls the steps to the last: s59 shows" wait_until 5 screen_re "59 +s59 +succeeded"
check "... the first steps scrolled away" screen_lacks " s01 "
key PPage
check "PgUp scrolls back up" wait_until 5 screen_lacks " s59 "
key Home
check "Home: the first steps again" wait_until 5 screen_re "0 +s00 +succeeded"
key C-c
check "Ctrl-C in the job view quits the console" wait_until 10 session_gone

"${T[@]}" kill-server 2>/dev/null
"$PM2" kill >/dev/null 2>&1
finish
