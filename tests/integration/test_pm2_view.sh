#!/usr/bin/env bash
# The executor's live view of PM2's processes (core/exec_view.c) against a
# real redis-server and a real PM2 daemon (private PM2_HOME): while the view
# is fresh a start or stop asks the daemon for no listing (the executor's
# debug log says when it lists for commands); it stays true when PM2 is
# changed behind its back with the pm2 command (same PM2_HOME): a task
# deleted there is started afresh, one started or stopped there is seen; and
# after the daemon is killed (pm2 kill, then kill -9) the view is rebuilt
# and commands stay correct. Every outcome is checked in PM2's own list.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME"
LOG="$TMP/exec.log"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" --pm2 "$PM2" >"$LOG" 2>&1
EXEC=$BG_PID
check "executor starts and says ready" wait_until 30 file_has "$LOG" "ready: listening"

fresh_count() { grep -c "pm2 view: fresh" "$LOG"; }
# fresh_again N: the view became fresh more than N times.
fresh_again() { [ "$(fresh_count)" -gt "$1" ]; }
view_fresh() { fresh_again 0 && ! tail -n 40 "$LOG" | grep -q "pm2 view: stale"; }
check "the view is seeded once the event socket is up" wait_until 30 fresh_again 0

# PM2's own word: the pm2 command, not tasker.
jlist() { "$PM2" jlist 2>/dev/null; }
# count_named NAME STATUS: how many processes PM2 lists with that name and status.
count_named() {
	jlist | node -e '
		let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
			const l = JSON.parse(s);
			console.log(l.filter(p => p.name === process.argv[1] &&
				(process.argv[2] === "any" || p.pm2_env.status === process.argv[2])).length);
		});' "$1" "$2"
}
named_is() { [ "$(count_named "$1" "$2")" = "$3" ]; }
one_online() { named_is "$1" any 1 && named_is "$1" online 1; }
pm_id_of() {
	jlist | node -e '
		let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
			const p = JSON.parse(s).find(p => p.name === process.argv[1]);
			console.log(p ? p.pm_id : -1);
		});' "$1"
}

# cmd JSON: the reply, and in $NEW the executor's log lines written meanwhile.
cmd() {
	local before
	before=$(wc -l <"$LOG")
	REPLY_OUT=$(req "$1")
	NEW=$(tail -n +"$((before + 1))" "$LOG")
}
start_json() { echo "{\"verb\":\"start\",\"params\":{\"task\":\"$1\",\"command\":\"sleep\",\"args\":\"600\"}}"; }
verb_json() { echo "{\"verb\":\"$1\",\"params\":{\"task\":\"$2\"}}"; }

# --- a fresh view: no listing on the command path --------------------------------------------------
wait_until 10 view_fresh
cmd "$(start_json va)"
check "start va: started" has "$REPLY_OUT" '"status":"started"'
check "start va: the reply's pm_id is PM2's" has "$REPLY_OUT" "\"pm_id\":$(pm_id_of va),"
check "start va: decided from the view" has "$NEW" "start va: decided from the view"
check "start va: no listing for the command" bash -c "! grep -q 'pm2: listing for' <<<'$NEW'"
cmd "$(verb_json stop va)"
check "stop va right after: stopped" has "$REPLY_OUT" '"status":"stopped"'
check "stop va: no listing for the command" bash -c "! grep -q 'pm2: listing for' <<<'$NEW'"
check "stop va: PM2 says stopped" named_is va stopped 1
cmd "$(start_json va)"
check "start va again: started (the stopped one replaced)" has "$REPLY_OUT" '"status":"started"'
check "PM2 has one va, online" one_online va
cmd "$(start_json va)"
check "start va once more: already_running" has "$REPLY_OUT" '"status":"already_running"'
check "PM2 still has one va" named_is va any 1
cmd "$(verb_json restart va)"
check "restart va: restarted" has "$REPLY_OUT" '"status":"restarted"'
cmd "$(verb_json delete va)"
check "delete va: deleted" has "$REPLY_OUT" '"status":"deleted"'
check "delete va: PM2 has none" named_is va any 0
cmd "$(verb_json stop va)"
check "stop va after its delete: not_found" has "$REPLY_OUT" '"status":"not_found"'
check "no command listed while the view was fresh" bash -c "! grep -q 'pm2: listing for' '$LOG'"

# A quick series on one name, each sent without waiting: order holds.
for v in start stop start stop start; do
	if [ "$v" = start ]; then j=$(start_json vq); else j=$(verb_json stop vq); fi
	rcli PUBLISH b00t:k0mmand3r "${j/\{/\{\"request_id\":\"q-$v-$RANDOM$RANDOM\",}" >/dev/null
done
check "a quick start/stop series: every command answered" wait_until 20 bash -c "[ \$(grep -c '\"request_id\":\"q-' '$TMP/status.log') -ge 5 ]"
n=$(grep '"request_id":"q-' "$TMP/status.log" | grep -c '"task_name":"vq","status":"\(started\|stopped\)"')
check "a quick start/stop series: all 5 carried out ($n)" [ "$n" -eq 5 ]
check "PM2 has one vq, online" one_online vq

# --- behind the executor's back, with the pm2 command ----------------------------------------------------
cmd "$(start_json vb)"
check "start vb: started" has "$REPLY_OUT" '"status":"started"'
"$PM2" delete vb >/dev/null 2>&1
check "pm2 delete vb: PM2 has none" named_is vb any 0
cmd "$(start_json vb)"
check "start vb after pm2 deleted it: started afresh, not already_running" has "$REPLY_OUT" '"status":"started"'
check "PM2 has one vb, online" one_online vb
check "start vb: the reply's pm_id is PM2's" has "$REPLY_OUT" "\"pm_id\":$(pm_id_of vb),"

cmd "$(start_json vc)"
"$PM2" delete vc >/dev/null 2>&1
cmd "$(verb_json stop vc)"
check "stop vc after pm2 deleted it: not_found" has "$REPLY_OUT" '"status":"not_found"'

"$PM2" start sleep --name vd --interpreter none -- 600 >/dev/null 2>&1
check "pm2 start vd: PM2 has it online" named_is vd online 1
cmd "$(start_json vd)"
check "start vd started by the pm2 command: already_running" has "$REPLY_OUT" '"status":"already_running'
check "start vd: the reply names pm2's pm_id" has "$REPLY_OUT" "\"pm_id\":$(pm_id_of vd),"
check "PM2 still has one vd" named_is vd any 1

"$PM2" stop vd >/dev/null 2>&1
cmd "$(start_json vd)"
check "start vd after pm2 stopped it: started (replaced)" has "$REPLY_OUT" '"status":"started"'
check "PM2 has one vd, online" one_online vd

"$PM2" restart vd >/dev/null 2>&1
cmd "$(verb_json stop vd)"
check "stop vd after pm2 restarted it: stopped" has "$REPLY_OUT" '"status":"stopped"'
check "PM2 says vd stopped" named_is vd stopped 1

# --- the daemon killed: the view is rebuilt -------------------------------------------------------
n=$(fresh_count)
"$PM2" kill >/dev/null 2>&1
check "pm2 kill: the view goes stale" wait_until 10 file_has "$LOG" "pm2 view: stale (the event socket is down)"
cmd "$(start_json ve)"
check "start ve after pm2 kill: started (the daemon brought back)" has "$REPLY_OUT" '"status":"started"'
check "the view is fresh again after the daemon came back" wait_until 20 fresh_again "$n"
check "PM2 has one ve, online" named_is ve online 1
check "vb went with the killed daemon: PM2 has none" named_is vb any 0
wait_until 10 view_fresh
cmd "$(start_json vb)"
check "start vb on the new daemon: started" has "$REPLY_OUT" '"status":"started"'
check "start vb on the new daemon: decided from the view" has "$NEW" "start vb: decided from the view"
cmd "$(start_json ve)"
check "start ve again: already_running" has "$REPLY_OUT" '"status":"already_running"'

n=$(fresh_count)
dpid=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null)
kill -9 "$dpid" 2>/dev/null
check "kill -9 of the daemon: the view goes stale" wait_until 10 bash -c "[ \$(grep -c 'pm2 view: stale (the event socket is down)' '$LOG') -ge 2 ]"
cmd "$(start_json vf)"
check "start vf after kill -9: started" has "$REPLY_OUT" '"status":"started"'
check "the view is rebuilt after kill -9" wait_until 20 fresh_again "$n"
check "PM2 has one vf, online" named_is vf online 1
wait_until 10 view_fresh
cmd "$(verb_json stop vf)"
check "stop vf on the rebuilt view: stopped" has "$REPLY_OUT" '"status":"stopped"'
check "PM2 says vf stopped" named_is vf stopped 1
cmd "$(start_json vf)"
check "start vf: started (replaced)" has "$REPLY_OUT" '"status":"started"'
check "PM2 has one vf, online" one_online vf

# status still answers from a listing: every field, PM2's figures.
out=$(req '{"verb":"status","params":{}}')
check "status: a task_list with vf online" has "$out" '"name":"vf","pm_id":[0-9]*,"status":"online"'
check "the executor is alive" alive "$EXEC"
warns=$(grep -E '\[(error|warn)' "$LOG" | grep -v -E 'not reachable|daemon|orphan|left running|PM2: ' | head -n 3)
check "no unexpected warnings in the executor's log" [ -z "$warns" ]
[ -n "$warns" ] && echo "$warns" | sed 's/^/#   /'
[ -n "${KEEP_LOG:-}" ] && cp "$LOG" "$KEEP_LOG"
finish
