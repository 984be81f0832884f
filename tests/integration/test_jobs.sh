#!/usr/bin/env bash
# Jobs (docs/protocol.md, "Jobs"): job datums written here run as dependency
# graphs on the b00t:job protocol; replies on b00t:job:status checked field
# by field; step order read from timestamps the steps write; failure,
# continue_on_failure, retry, timeout, rollback, plan and dry_run, refusals
# before anything runs, stop, status and list, and two executors on one
# Redis carrying a job out once.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
D="$TMP/datums"
mkdir -p "$PM2_HOME" "$D"
# Steps wait on a FIFO nobody writes (read -t), never on sleep.
FIFO="$TMP/never"
mkfifo "$FIFO"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
bg "$TASKER" watch >"$TMP/human.log" 2>/dev/null
bg redis-cli -p "$REDIS_PORT" --raw SUBSCRIBE b00t:job:status >"$TMP/job.log"
wait_until 10 numsub_is b00t:task:status 2
wait_until 10 numsub_is b00t:job:status 1
bg "$TASKER" exec --log-level=debug --node=n1 --cwd-base "$TMP" --datum-dir "$D" >"$TMP/exec.log" 2>&1
EXEC_PID=$BG_PID
check "executor starts" wait_until 20 file_has "$TMP/exec.log" "ready: listening"
check "the executor listens on b00t:job" wait_until 10 numsub_is b00t:job 1

# jreq PARAMS_JSON: publishes a job command (a fresh request_id in RID) and
# puts its first reply on b00t:job:status in OUT.
JN=0
RID=
OUT=
jreq() {
	JN=$((JN + 1))
	RID="job-$JN-$(date +%s%N)"
	OUT=
	rcli PUBLISH b00t:job "{\"verb\":\"job\",\"params\":$1,\"agent_id\":\"tester\",\"request_id\":\"$RID\",\"timestamp\":$(date +%s)}" >/dev/null
	wait_until 20 file_has "$TMP/job.log" "\"request_id\":\"$RID\"" || return 1
	OUT=$(grep "\"request_id\":\"$RID\"" "$TMP/job.log" | head -n 1)
}
# final RID: the job's last reply (completed, error or stopped) for RID.
final_has() { grep "\"request_id\":\"$1\"" "$TMP/job.log" | grep -qE '"status":"(completed|error|stopped)"'; }
final() {
	wait_until "${2:-30}" final_has "$1" || return 1
	grep "\"request_id\":\"$1\"" "$TMP/job.log" | grep -E '"status":"(completed|error|stopped)"' | head -n 1
}
# field JSON EXPR: a value of the reply (python3 reads the JSON).
field() { python3 -c 'import json,sys; d=json.loads(sys.argv[1]); print(eval(sys.argv[2], {"d": d, "json": json}))' "$1" "$2" 2>/dev/null; }
is() { [ "$1" = "$2" ]; }
# state JOB EXPR: a value of the job's state record in Redis.
state() { field "$(rcli --raw GET "b00t:{tasker}:job:$1")" "$2"; }
# pm2_online_job PREFIX: a task named PREFIX* online in PM2's list.
pm2_count() { "$PM2" jlist 2>/dev/null | python3 -c 'import json,sys; print(sum(p["name"].startswith(sys.argv[1]) and (sys.argv[2] == "any" or p["pm2_env"]["status"] == sys.argv[2]) for p in json.load(sys.stdin)))' "$1" "$2"; }
none_online() { is "$(pm2_count "$1" online)" 0; }
none_listed() { is "$(pm2_count "$1" any)" 0; }

# step NAME FILE: a bash step's command: its start and end time in FILE,
# 1 s apart (long enough for b and c to overlap on a loaded machine).
step() { echo "echo $1 start \$(date +%s%N) >> $2; read -t 1 <> $FIFO; echo $1 end \$(date +%s%N) >> $2"; }

# --- a diamond: a -> b, c -> d, and e on its own -------------------------------
T="$TMP/diamond.ts"
cat >"$D/diamond.job.toml" <<TOML
[b00t]
name = "diamond"
type = "job"
[b00t.job]
description = "five steps, a diamond and one on its own"
[b00t.job.config]
mode = "dag"
[[b00t.job.steps]]
name = "a"
[b00t.job.steps.task]
type = "bash"
command = "$(step a "$T")"
[[b00t.job.steps]]
name = "b"
depends_on = ["a"]
[b00t.job.steps.task]
type = "bash"
command = "$(step b "$T")"
[[b00t.job.steps]]
name = "c"
depends_on = ["a"]
[b00t.job.steps.task]
type = "bash"
command = "$(step c "$T")"
[[b00t.job.steps]]
name = "d"
depends_on = ["b", "c"]
[b00t.job.steps.task]
type = "bash"
command = "$(step d "$T")"
[[b00t.job.steps]]
name = "e"
[b00t.job.steps.task]
type = "bash"
command = "$(step e "$T")"
TOML

jreq '{"action":"run","name":"diamond"}'; out=$OUT
check "run: the reply's verb is job_status" is "$(field "$out" 'd["verb"]')" job_status
check "run: params.status started" is "$(field "$out" 'd["params"]["status"]')" started
check "run: params.job_name" is "$(field "$out" 'd["params"]["job_name"]')" diamond
check "run: agent_id copied" is "$(field "$out" 'd["agent_id"]')" tester
check "run: content says what runs" has "$(field "$out" 'd["content"]')" "job diamond started on node n1: 5 step(s) in 3 level(s)"
check "run: timestamp in epoch seconds" bash -c "[ \"$(field "$out" 'type(d["timestamp"]).__name__')\" = int ]"
R=$RID
fin=$(final "$R" 40)
check "run: completed" is "$(field "$fin" 'd["params"]["status"]')" completed
check "run: completed content" has "$(field "$fin" 'd["content"]')" "5 step(s) succeeded, 0 failed"
# ts STEP start|end
ts() { awk -v s="$1" -v w="$2" '$1 == s && $2 == w { print $3 }' "$T"; }
check "diamond: every step wrote both times" is "$(wc -l <"$T")" 10
check "diamond: b starts after a ended" bash -c "[ $(ts b start) -ge $(ts a end) ]"
check "diamond: c starts after a ended" bash -c "[ $(ts c start) -ge $(ts a end) ]"
check "diamond: b and c overlap" bash -c "[ $(ts b start) -lt $(ts c end) ] && [ $(ts c start) -lt $(ts b end) ]"
check "diamond: d starts after b and c ended" bash -c "[ $(ts d start) -ge $(ts b end) ] && [ $(ts d start) -ge $(ts c end) ]"
check "diamond: e runs beside a" bash -c "[ $(ts e start) -lt $(ts a end) ] && [ $(ts a start) -lt $(ts e end) ]"
check "state record: completed" is "$(state diamond 'd["status"]')" completed
check "state record: every step succeeded" is "$(state diamond '",".join(s["state"] for s in d["steps"])')" "succeeded,succeeded,succeeded,succeeded,succeeded"
check "state record: levels" is "$(state diamond '",".join(str(s["level"]) for s in d["steps"])')" "0,1,1,2,0"
check "state record: task names" is "$(state diamond 'd["steps"][3]["task"]')" job.diamond.d
check "state record: node and run_id" is "$(state diamond 'd["node"] + " " + d["run_id"]')" "n1 $R"
check "state record: a TTL of 7 days" bash -c "[ \$(redis-cli -p $REDIS_PORT TTL 'b00t:{tasker}:job:diamond') -gt 604000 ]"
check "status channel: each step's start" is "$(grep '"type":"job_step"' "$TMP/status.log" | grep -c '"status":"started"')" 5
check "status channel: each step's end" is "$(grep '"type":"job_step"' "$TMP/status.log" | grep -c '"status":"succeeded"')" 5
check "tasker watch shows a step's end" file_has "$TMP/human.log" "job diamond step d: succeeded (task job.diamond.d, exit code 0)"
check "steps ran as one-shot PM2 tasks (none online after)" none_online job.diamond.
check "PM2 lists the steps' tasks" is "$(pm2_count job.diamond. any)" 5
check "a step's result is kept" wait_until 10 bash -c "redis-cli -p $REDIS_PORT --raw GET 'b00t:{tasker}:result:job.diamond.d' | grep -q '\"exit_code\":0'"

# --- status and list ----------------------------------------------------------
jreq '{"action":"status","name":"diamond"}'; out=$OUT
check "status: status_response" is "$(field "$out" 'd["params"]["status"]')" status_response
check "status: content is the state record" is "$(field "$(field "$out" 'd["content"]')" 'd["type"] + " " + d["status"]')" "job_state completed"
jreq '{"action":"list"}'; out=$OUT
check "list: list_response" is "$(field "$out" 'd["params"]["status"]')" list_response
check "list: names the diamond with its last run" is "$(field "$(field "$out" 'd["content"]')" '[j["last_run"]["status"] for j in d["jobs"] if j["name"] == "diamond"][0]')" completed

# --- failure stops dependents; continue_on_failure -----------------------------
fail_job() { # NAME CONTINUE
	cat >"$D/$1.job.toml" <<TOML
[b00t]
type = "job"
[b00t.job.config]
mode = "dag"
continue_on_failure = $2
[[b00t.job.steps]]
name = "bad"
[b00t.job.steps.task]
type = "bash"
command = "exit 3"
[[b00t.job.steps]]
name = "after"
depends_on = ["bad"]
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/$1.after"
[[b00t.job.steps]]
name = "other"
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/$1.other"
[[b00t.job.steps]]
name = "cleanup"
depends_on = ["bad"]
condition = { when = "always" }
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/$1.cleanup"
[[b00t.job.steps]]
name = "onfail"
depends_on = ["bad"]
condition = { when = "on_failure" }
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/$1.onfail"
[[b00t.job.steps]]
name = "onok"
depends_on = ["other"]
condition = { when = "on_failure" }
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/$1.onok"
TOML
}
fail_job failing false
jreq '{"name":"failing"}' >/dev/null
fin=$(final "$RID")
check "failure: the job ends in error" is "$(field "$fin" 'd["params"]["status"]')" error
check "failure: the failed step's exit code" is "$(state failing '[s["exit_code"] for s in d["steps"] if s["name"] == "bad"][0]')" 3
check "failure: its dependent was skipped" is "$(state failing '[s["state"] for s in d["steps"] if s["name"] == "after"][0]')" skipped
check "failure: the dependent never ran" test ! -e "$TMP/failing.after"
check "failure: the independent step ran" test -e "$TMP/failing.other"
check "condition always: ran after the failure" test -e "$TMP/failing.cleanup"
check "condition on_failure: ran after the failure" test -e "$TMP/failing.onfail"
check "condition on_failure: skipped after a success" test ! -e "$TMP/failing.onok"
check "conditions: recorded" is "$(state failing '",".join(s["state"] for s in d["steps"])')" "failed,skipped,succeeded,succeeded,succeeded,skipped"
fail_job going true
jreq '{"name":"going"}' >/dev/null
fin=$(final "$RID")
check "continue_on_failure: the dependent ran" test -e "$TMP/going.after"
check "continue_on_failure: its state" is "$(state going '[s["state"] for s in d["steps"] if s["name"] == "after"][0]')" succeeded
check "continue_on_failure: the job still reports the failure" is "$(field "$fin" 'd["params"]["status"]')" error

# --- retry: fails the first time, succeeds the second --------------------------
cat >"$D/retry.job.toml" <<TOML
[b00t]
type = "job"
[b00t.job.config]
retry_failed_steps = 2
[[b00t.job.steps]]
name = "flaky"
[b00t.job.steps.task]
type = "bash"
command = "n=\$(cat $TMP/count 2>/dev/null || echo 0); n=\$((n + 1)); echo \$n > $TMP/count; [ \$n -ge 2 ]"
TOML
jreq '{"name":"retry"}' >/dev/null
fin=$(final "$RID")
check "retry: completed" is "$(field "$fin" 'd["params"]["status"]')" completed
check "retry: ran twice" is "$(cat "$TMP/count")" 2
check "retry: attempt 2 in the record" is "$(state retry 'd["steps"][0]["attempt"]')" 2

# --- timeout_ms ---------------------------------------------------------------
cat >"$D/slow.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "slow"
[b00t.job.steps.task]
type = "bash"
command = "read -t 60 <> $FIFO"
timeout_ms = 1000
TOML
t0=$(date +%s%N)
jreq '{"name":"slow"}' >/dev/null
fin=$(final "$RID")
t1=$(date +%s%N)
check "timeout: the job ends in error" is "$(field "$fin" 'd["params"]["status"]')" error
check "timeout: the step is timed_out" is "$(state slow 'd["steps"][0]["state"]')" timed_out
check "timeout: within 10 s, not 60" bash -c "[ $(((t1 - t0) / 1000000)) -lt 10000 ]"
check "timeout: the step is not running in PM2" none_online job.slow.

# --- rollback ------------------------------------------------------------------
cat >"$D/rb.job.toml" <<TOML
[b00t]
type = "job"
[b00t.job.config]
rollback_on_failure = true
[[b00t.job.steps]]
name = "deploy"
[b00t.job.steps.task]
type = "bash"
command = "exit 1"
[[b00t.job.rollback]]
name = "undo"
[b00t.job.rollback.task]
type = "bash"
command = "touch $TMP/undone"
TOML
jreq '{"name":"rb"}' >/dev/null
fin=$(final "$RID")
check "rollback: the job ends in error" is "$(field "$fin" 'd["params"]["status"]')" error
check "rollback: the rollback step ran" test -e "$TMP/undone"
check "rollback: recorded" is "$(state rb 'd["rollback"][0]["name"] + " " + d["rollback"][0]["state"]')" "undo succeeded"
check "rollback: its task name" is "$(state rb 'd["rollback"][0]["task"]')" job.rb.rollback.undo

# --- plan and dry_run: nothing runs ----------------------------------------------
sed -e 's/name = "diamond"/name = "planned"/' -e "s#$T#$TMP/planned.ts#g" "$D/diamond.job.toml" >"$D/planned.job.toml"
jreq '{"action":"plan","name":"planned"}'; out=$OUT
check "plan: plan_response" is "$(field "$out" 'd["params"]["status"]')" plan_response
check "plan: the levels" is "$(field "$(field "$out" 'd["content"]')" 'json.dumps(d["levels"])' | tr -d ' ')" '[["a","e"],["b","c"],["d"]]'
jreq '{"action":"plan","name":"planned","from_step":"b"}'; out=$OUT
check "plan: from_step b selects b and d" is "$(field "$(field "$out" 'd["content"]')" 'json.dumps(d["levels"])' | tr -d ' ')" '[["b"],["d"]]'
jreq '{"action":"plan","name":"planned","to_step":"b"}'; out=$OUT
check "plan: to_step b selects a and b" is "$(field "$(field "$out" 'd["content"]')" 'json.dumps(d["levels"])' | tr -d ' ')" '[["a"],["b"]]'
jreq '{"action":"run","name":"planned","dry_run":"true"}'; out=$OUT
check "dry_run: plan_response" is "$(field "$out" 'd["params"]["status"]')" plan_response
check "dry_run: says so" is "$(field "$(field "$out" 'd["content"]')" 'd["dry_run"]')" True
check "plan and dry_run: nothing in PM2" none_listed job.planned.
check "plan and dry_run: no step ran" test ! -e "$TMP/planned.ts"

# --- refused before anything runs ------------------------------------------------
cat >"$D/cycle.job.toml" <<TOML
[b00t]
type = "job"
[b00t.job.config]
mode = "dag"
[[b00t.job.steps]]
name = "x"
depends_on = ["z"]
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/cycle.ran"
[[b00t.job.steps]]
name = "y"
depends_on = ["x"]
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/cycle.ran"
[[b00t.job.steps]]
name = "z"
depends_on = ["y"]
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/cycle.ran"
[[b00t.job.steps]]
name = "free"
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/cycle.ran"
TOML
jreq '{"name":"cycle"}'; out=$OUT
check "cycle: error" is "$(field "$out" 'd["params"]["status"]')" error
check "cycle: names the steps in it" has "$(field "$out" 'd["content"]')" "cycle: x waits for z waits for y waits for x"
sed -e 's/depends_on = \["z"\]/depends_on = ["nope"]/' "$D/cycle.job.toml" >"$D/unknown.job.toml"
jreq '{"name":"unknown"}'; out=$OUT
check "unknown dependency: error naming it" has "$(field "$out" 'd["content"]')" "step x depends on 'nope', which is no step of this job"
cat >"$D/agent.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "ok"
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/cycle.ran"
[[b00t.job.steps]]
name = "think"
[b00t.job.steps.task]
type = "agent"
TOML
jreq '{"name":"agent"}'; out=$OUT
check "step type agent: refused by name" has "$(field "$out" 'd["content"]')" "task type 'agent' is not run by tasker"
jreq '{"name":"../etc/passwd"}'; out=$OUT
check "a path as the job's name: refused" has "$(field "$out" 'd["content"]')" "must not contain '/'"
jreq '{"name":"diamond","env_BAD-NAME":"x"}'; out=$OUT
check "a bad env_ name: refused" has "$(field "$out" 'd["content"]')" "is not a variable name"
jreq '{"name":"nosuch"}'; out=$OUT
check "no such job: error" has "$(field "$out" 'd["content"]')" "no such datum file"
jreq '{"action":"explode","name":"diamond"}'; out=$OUT
check "an unknown action: error" has "$(field "$out" 'd["content"]')" "unknown action"
nerr=$(grep -c '"status":"error"' "$TMP/job.log")
rcli PUBLISH b00t:job 'not json {' >/dev/null
check "garbage on b00t:job: an error reply" wait_until 10 bash -c "[ \$(grep -c '\"status\":\"error\"' '$TMP/job.log') -gt $nerr ]"
RID2="wrongverb-$(date +%s%N)"
rcli PUBLISH b00t:job "{\"verb\":\"start\",\"params\":{\"task\":\"x\"},\"request_id\":\"$RID2\"}" >/dev/null
check "another verb on b00t:job: refused" wait_until 10 bash -c "grep '$RID2' '$TMP/job.log' | grep -q \"unknown verb 'start' on b00t:job\""
check "refusals: nothing ran" test ! -e "$TMP/cycle.ran"
check "refusals: nothing in PM2" bash -c "[ $(pm2_count job.cycle. any) = 0 ] && [ $(pm2_count job.unknown. any) = 0 ] && [ $(pm2_count job.agent. any) = 0 ]"

# --- env_* params reach the steps ------------------------------------------------
cat >"$D/envy.job.toml" <<TOML
[b00t]
type = "job"
[b00t.job]
env = { FROM_JOB = "job" }
[[b00t.job.steps]]
name = "show"
[b00t.job.steps.task]
type = "bash"
command = "echo \"\$FROM_JOB \$GREETING\" > $TMP/envy.out"
TOML
jreq '{"name":"envy","env_GREETING":"hello; touch /tmp/pwned"}' >/dev/null
final "$RID" >/dev/null
check "env_: the value reaches the step as a value, not as a command" is "$(cat "$TMP/envy.out")" "job hello; touch /tmp/pwned"

# --- stop: nothing left running ---------------------------------------------------
cat >"$D/long.job.toml" <<TOML
[b00t]
type = "job"
[b00t.job.config]
mode = "parallel"
[[b00t.job.steps]]
name = "one"
[b00t.job.steps.task]
type = "bash"
command = "read -t 120 <> $FIFO"
[[b00t.job.steps]]
name = "two"
[b00t.job.steps.task]
type = "bash"
command = "read -t 120 <> $FIFO"
[[b00t.job.steps]]
name = "three"
depends_on = ["one"]
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/three.ran"
TOML
jreq '{"name":"long"}' >/dev/null
LR=$RID
check "stop: both steps run" wait_until 20 bash -c "[ \$(\"$PM2\" jlist | python3 -c 'import json,sys; print(sum(p[\"name\"].startswith(\"job.long.\") and p[\"pm2_env\"][\"status\"] == \"online\" for p in json.load(sys.stdin)))') = 2 ]"
jreq '{"action":"status","name":"long"}'; out=$OUT
check "status of a running job" is "$(field "$(field "$out" 'd["content"]')" 'd["status"]')" running
jreq '{"action":"run","name":"long"}'; out=$OUT
check "run while running: refused" has "$(field "$out" 'd["content"]')" "is running already"
jreq '{"action":"stop","name":"long"}'; out=$OUT
check "stop: stopped reply" is "$(field "$out" 'd["params"]["status"]')" stopped
check "stop: content" has "$(field "$out" 'd["content"]')" "job long stopped"
check "stop: nothing of the job online in PM2" none_online job.long.
check "stop: the dependent never ran" test ! -e "$TMP/three.ran"
check "stop: record says stopped" is "$(state long 'd["status"] + " " + d["steps"][0]["state"] + " " + d["steps"][2]["state"]')" "stopped stopped skipped"
jreq '{"action":"stop","name":"long"}'; out=$OUT
check "stop of a job not running: error" has "$(field "$out" 'd["content"]')" "is not running on node n1"

# --- two executors on one Redis: a job runs once ---------------------------------
mkdir -p "$TMP/pm2b"
PM2_HOME="$TMP/pm2b" bg "$TASKER" exec --node=n2 --cwd-base "$TMP" --datum-dir "$D" >"$TMP/exec2.log" 2>&1
EXEC2_PID=$BG_PID
check "a second executor starts" wait_until 30 file_has "$TMP/exec2.log" "ready: listening"
check "both listen on b00t:job" wait_until 10 numsub_is b00t:job 2
cat >"$D/once.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "mark"
[b00t.job.steps.task]
type = "bash"
command = "echo ran >> $TMP/once.out"
TOML
for i in 1 2 3; do
	jreq '{"name":"once"}' >/dev/null
	final "$RID" >/dev/null
	check "fleet run $i: exactly one started reply" is "$(grep "\"request_id\":\"$RID\"" "$TMP/job.log" | grep -c '"status":"started"')" 1
done
check "fleet: three runs, three marks (each run once)" is "$(wc -l <"$TMP/once.out")" 3
jreq '{"name":"once","node":"n2"}' >/dev/null
fin=$(final "$RID")
check "fleet: params.node picks the executor" is "$(field "$fin" 'd["node"]')" n2
check "fleet: n2's own PM2 ran it" is "$(PM2_HOME="$TMP/pm2b" "$PM2" jlist | python3 -c 'import json,sys; print(sum(p["name"] == "job.once.mark" for p in json.load(sys.stdin)))')" 1

# A job runs on one node at a time: a run of it without params.node is
# refused naming that node, whoever claims it; a stop without params.node
# is carried out by the node that runs it, and only there.
n2_long() { is "$(PM2_HOME="$TMP/pm2b" "$PM2" jlist | python3 -c 'import json,sys; print(sum(p["name"].startswith("job.long.") and p["pm2_env"]["status"] == "online" for p in json.load(sys.stdin)))')" "$1"; }
jreq '{"name":"long","node":"n2"}' >/dev/null
check "fleet: n2 runs the long job" wait_until 20 n2_long 2
for i in 1 2 3; do
	jreq '{"name":"long"}'; out=$OUT
	check "fleet: a run elsewhere is refused naming n2 ($i)" has "$(field "$out" 'd["content"]')" "running already on node n2"
done
check "fleet: nothing of it started on n1" none_online job.long.
jreq '{"action":"stop","name":"long"}'; out=$OUT
check "fleet: a stop without node is carried out by n2" is "$(field "$out" 'd["params"]["status"]') $(field "$out" 'd["node"]')" "stopped n2"
check "fleet: ... nothing of it online on n2" wait_until 20 n2_long 0
check "fleet: ... and it got one reply" is "$(grep -c "\"request_id\":\"$RID\"" "$TMP/job.log")" 1

# Two runs of one job sent at once, each claimed by one executor: the
# job's lock lets exactly one of them run it (the record alone could not:
# both read "not running").
both_long() { is "$(( $(pm2_count job.long. online) + $(PM2_HOME="$TMP/pm2b" "$PM2" jlist | python3 -c 'import json,sys; print(sum(p["name"].startswith("job.long.") and p["pm2_env"]["status"] == "online" for p in json.load(sys.stdin)))') ))" "$1"; }
for i in 1 2 3; do
	A="race-$i-a-$(date +%s%N)"; B="race-$i-b-$(date +%s%N)"
	redis-cli -p "$REDIS_PORT" >/dev/null <<EOF2
PUBLISH b00t:job "{\"verb\":\"job\",\"params\":{\"name\":\"long\"},\"request_id\":\"$A\"}"
PUBLISH b00t:job "{\"verb\":\"job\",\"params\":{\"name\":\"long\"},\"request_id\":\"$B\"}"
EOF2
	wait_until 20 bash -c "grep -q '\"request_id\":\"$A\"' '$TMP/job.log' && grep -q '\"request_id\":\"$B\"' '$TMP/job.log'"
	started=$(grep -E "\"request_id\":\"($A|$B)\"" "$TMP/job.log" | grep -c '"status":"started"')
	check "race $i: exactly one of two runs sent at once starts" is "$started" 1
	check "race $i: the other is refused naming the node" bash -c "grep -E '\"request_id\":\"($A|$B)\"' '$TMP/job.log' | grep -q 'is running already on node n[12]'"
	check "race $i: its steps run on one node only" wait_until 20 both_long 2
	jreq '{"action":"stop","name":"long"}' >/dev/null
	check "race $i: stopped" wait_until 20 both_long 0
done
check "the job's lock is taken back when the run ends" wait_until 10 bash -c "[ -z \"\$(redis-cli -p $REDIS_PORT --raw GET 'b00t:{tasker}:jobrun:long')\" ]"

# --- datum steps run another datum ---------------------------------------------
cat >"$D/mark.cli.toml" <<TOML
[b00t]
name = "mark"
type = "cli"
command = "touch $TMP/datum.ran"
TOML
cat >"$D/bydatum.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "viadatum"
[b00t.job.steps.task]
type = "datum"
datum = "mark.cli"
TOML
jreq '{"name":"bydatum","node":"n1"}'
fin=$(final "$RID")
check "datum step: completed" is "$(field "$fin" 'd["params"]["status"]')" completed
check "datum step: the datum's command ran" test -e "$TMP/datum.ran"
check "datum step: its task name is the step's" is "$(state bydatum 'd["steps"][0]["task"] + " " + d["steps"][0]["kind"]')" "job.bydatum.viadatum datum"

# --- a step whose task vanishes without a result (its end not seen) -------------
cat >"$D/vanish.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "gone"
[b00t.job.steps.task]
type = "bash"
command = "read -t 60 <> $FIFO"
TOML
jreq '{"name":"vanish","node":"n1"}'
check "vanish: the step runs" wait_until 20 bash -c "[ \$('$PM2' jlist | python3 -c 'import json,sys; print(sum(p[\"name\"] == \"job.vanish.gone\" and p[\"pm2_env\"][\"status\"] == \"online\" for p in json.load(sys.stdin)))') = 1 ]"
"$PM2" delete job.vanish.gone >/dev/null 2>&1
fin=$(final "$RID" 30)
check "vanish: the job ends in error (the watch saw it gone)" is "$(field "$fin" 'd["params"]["status"]')" error
check "vanish: the step says why" has "$(state vanish 'd["steps"][0]["error"]')" "no result of this run was seen"

# --- the policy judges the job and each step's start ------------------------------
(cd "$TMP" && "$TASKER" key new ops >/dev/null)
cat >"$TMP/policy.toml" <<TOML
[unsigned]
role = "runner"

[agents.ops]
key = "$(cat "$TMP/ops.pub")"
role = "captain"

[roles.captain]
verbs = ["*"]

[roles.runner]
verbs = ["job", "start", "stop", "status"]
tasks = ["okjob", "job.okjob.*", "progjob", "job.progjob.*"]
programs = ["bash"]

[env]
deny = ["LD_*"]
TOML
cat >"$D/okjob.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "fine"
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/okjob.ran"
TOML
cat >"$D/progjob.job.toml" <<TOML
[b00t]
type = "job"
[[b00t.job.steps]]
name = "first"
[b00t.job.steps.task]
type = "bash"
command = "touch $TMP/progjob.ran"
[[b00t.job.steps]]
name = "viadatum"
[b00t.job.steps.task]
type = "datum"
datum = "mark.cli"
TOML
mkdir -p "$TMP/pm2c"
PM2_HOME="$TMP/pm2c" bg "$TASKER" exec --node=n3 --policy "$TMP/policy.toml" --cwd-base "$TMP" --datum-dir "$D" >"$TMP/exec3.log" 2>&1
check "an executor with a policy starts" wait_until 30 file_has "$TMP/exec3.log" "ready: listening"
wait_until 10 numsub_is b00t:job 4
jreq '{"name":"okjob","node":"n3"}'
fin=$(final "$RID")
check "policy: a job the role names runs" is "$(field "$fin" 'd["params"]["status"]')" completed
check "policy: its step ran" test -e "$TMP/okjob.ran"
jreq '{"name":"diamond","node":"n3"}'; out=$OUT
check "policy: a job the role does not name is refused" has "$(field "$out" 'd["content"]')" "denied: the task diamond is outside role runner's task globs"
jreq '{"name":"progjob","node":"n3"}'; out=$OUT
check "policy: a step whose program the role refuses refuses the job" has "$(field "$out" 'd["content"]')" "step viadatum (task job.progjob.viadatum): denied"
check "policy: nothing of that job ran" test ! -e "$TMP/progjob.ran"
jreq '{"name":"okjob","node":"n3","env_LD_PRELOAD":"x"}'; out=$OUT
check "policy: [env] deny holds for env_ params" has "$(field "$out" 'd["content"]')" "the environment variable LD_PRELOAD is denied by"
jreq '{"action":"plan","name":"okjob","node":"n3"}'; out=$OUT
check "policy: plan is a status (allowed)" is "$(field "$out" 'd["params"]["status"]')" plan_response
# A signed command: verified, then judged as its signer's (ops, captain).
bg redis-cli -p "$REDIS_PORT" --raw SUBSCRIBE b00t:job >"$TMP/jobcmds.log"
wait_until 10 numsub_is b00t:job 4
"$TASKER" send --channel b00t:job --publish-only --key "$TMP/ops.key" --agent-id ops \
	'/job --name=okjob --node=n3 --env_SIGNED=yes' >"$TMP/signed.out" 2>&1
check "signed: a job_status reply for ops" wait_until 20 bash -c "grep '\"agent_id\":\"ops\"' '$TMP/job.log' | grep -q '\"status\":\"completed\"'"
# The same signed bytes published again (a replay within its 60 s): the
# node it names does not run it twice. A later command to that node is
# answered after anything the replay would have caused.
wait_until 10 file_has "$TMP/jobcmds.log" '"signed"'
signed_msg=$(grep -F '"signed"' "$TMP/jobcmds.log" | tail -n 1)
rcli PUBLISH b00t:job "$signed_msg" >/dev/null
jreq '{"action":"list","node":"n3"}' >/dev/null
check "signed: a replay of a node's signed job command is not run again" is "$(grep '"agent_id":"ops"' "$TMP/job.log" | grep -c '"status":"started"')" 1
check "signed: the audit records ops's job" wait_until 10 bash -c "redis-cli -p $REDIS_PORT --raw XRANGE 'b00t:{tasker}:audit' - + | grep -q '\"agent\":\"ops\".*\"verb\":\"job\"'"

# --- shutdown: a running job is stopped, nothing left running -----------------
jreq '{"name":"long","node":"n2"}'
SR=$RID
check "shutdown: n2 runs the long job" wait_until 20 bash -c "[ \$(PM2_HOME='$TMP/pm2b' '$PM2' jlist | python3 -c 'import json,sys; print(sum(p[\"name\"].startswith(\"job.long.\") and p[\"pm2_env\"][\"status\"] == \"online\" for p in json.load(sys.stdin)))') = 2 ]"
kill -TERM "$EXEC2_PID"
fin=$(final "$SR" 20)
check "shutdown: a stopped reply" is "$(field "$fin" 'd["params"]["status"]')" stopped
check "shutdown: it says why" has "$(field "$fin" 'd["content"]')" "the executor is shutting down"
check "shutdown: nothing of the job online in n2's PM2" is "$(PM2_HOME="$TMP/pm2b" "$PM2" jlist | python3 -c 'import json,sys; print(sum(p["name"].startswith("job.long.") and p["pm2_env"]["status"] == "online" for p in json.load(sys.stdin)))')" 0
check "shutdown: the executor exits" wait_until 20 bash -c "! kill -0 $EXEC2_PID 2>/dev/null"

check "the executor is still alive" alive "$EXEC_PID"
check "no crash in the log" bash -c "! grep -qiE 'AddressSanitizer|runtime error|segmentation' '$TMP/exec.log' '$TMP/exec2.log' '$TMP/exec3.log'"
finish
