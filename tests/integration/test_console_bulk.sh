#!/usr/bin/env bash
# Every PM2 process under control, and bulk actions (issue 12, items 2, 3
# and the help of 9), against a real redis-server, a real PM2 daemon
# (private PM2_HOME) and a real executor: processes made with the pm2 CLI
# under names tasker refuses for a task ("my app", a unicode name) stopped,
# restarted, deleted and their logs read by pm_id, from `tasker send` and
# from the console; the policy judging a pm_id by the process's real name;
# marks, a bulk stop after one confirmation, mark-all-matching-the-filter;
# the help box scrolling at 80x24.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
export REDIS_URL="$R"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config" "$TMP/keys"
SOCK="tasker-test-$$"
T=(tmux -L "$SOCK" -f /dev/null)
cleanup_tmux() { "${T[@]}" kill-server 2>/dev/null; }
trap 'cleanup_tmux; cleanup' EXIT

# jq-less readers of PM2's own list.
pm2_field() { # pm2_field NAME FIELD: status or pm_id of the first process of NAME
	"$PM2" jlist 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["name"] == sys.argv[1]:
        print(p["pm_id"] if sys.argv[2] == "pm_id" else p["pm2_env"]["status"])
        break' "$1" "$2"
}
pm2_status_is() { [ "$(pm2_field "$1" status)" = "$2" ]; }
pm2_gone() { [ -z "$(pm2_field "$1" pm_id)" ]; }
pm2_restarts() {
	"$PM2" jlist 2>/dev/null | python3 -c '
import json, sys
print(sum(p["pm2_env"].get("restart_time", 0) for p in json.load(sys.stdin) if p["name"] == sys.argv[1]))' "$1"
}
# as KEY LINE...: tasker send signed with KEY (- for unsigned), waits; the raw reply.
as() {
	local key=$1
	shift
	if [ "$key" = - ]; then
		"$TASKER" send --wait=20 --raw "$@" 2>>"$TMP/send.err"
	else
		"$TASKER" send --key "$TMP/keys/$key.key" --wait=20 --raw "$@" 2>>"$TMP/send.err"
	fi
}

cat >"$TMP/tick.js" <<'JS'
let n = 0;
console.log(`hello from ${process.env.WHO || 'someone'}`);
setInterval(() => console.log(`tick ${++n}`), 500);
JS
U='naïve-ünïcode-名前'
"$PM2" start "$TMP/tick.js" --name "my app" >/dev/null 2>&1
WHO=unicode "$PM2" start "$TMP/tick.js" --name "$U" >/dev/null 2>&1
"$PM2" start "$TMP/tick.js" --name "has.dot/and-slash" >/dev/null 2>&1
check "the pm2 CLI made 'my app'" wait_until 20 pm2_status_is "my app" online
check "... and the unicode name" wait_until 20 pm2_status_is "$U" online
ID_APP=$(pm2_field "my app" pm_id)
ID_U=$(pm2_field "$U" pm_id)

bg "$TASKER" exec --redis "$R" --log-level=debug >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
wait_until 30 file_has "$TMP/exec.log" "ready: listening"

# --- by pm_id from tasker send ----------------------------------------------------------
out=$(as - "/stop --task='my app'")
check "by name, 'my app' is refused (the name rule)" has "$out" 'task name may hold only'
check "... and the refusal points at --pm_id" has "$out" 'pm_id'
out=$(as - "/stop --pm_id=$ID_APP")
check "/stop --pm_id stops 'my app'" has "$out" '"status":"stopped"'
check "... the reply names the real task" has "$out" '"task_name":"my app"'
check "... and carries the pm_id" has "$out" "\"pm_id\":$ID_APP"
check "... stopped in PM2" wait_until 10 pm2_status_is "my app" stopped
check "... the other processes untouched" pm2_status_is "$U" online
out=$(as - "/restart --pm_id=$ID_APP")
check "/restart --pm_id restarts it" has "$out" '"status":"restarted"'
check "... online in PM2" wait_until 10 pm2_status_is "my app" online
out=$(as - "/logs --pm_id=$ID_U --lines=5")
check "/logs --pm_id reads the unicode task's log" has "$out" 'hello from unicode'
check "... naming it" has "$out" "\"task_name\":\"$U\""
out=$("$TASKER" send --wait=20 --json "{\"verb\":\"stop\",\"params\":{\"pm_id\":$ID_U}}" 2>&1)
check "a JSON number pm_id works too (stopped)" has "$out" 'stopped'
check "... the unicode task is stopped in PM2" wait_until 10 pm2_status_is "$U" stopped
out=$(as - "/stop --pm_id=$ID_APP --task=api")
check "task and pm_id together: a clear error" has "$out" 'either the task (--task=NAME) or its pm_id'
out=$(as - "/stop")
check "neither: a clear error naming both" has "$out" 'a task name (--task=NAME) or a pm_id (--pm_id=N)'
out=$(as - "/stop --pm_id=-1")
check "a negative pm_id: refused" has "$out" 'pm_id must be a whole number'
out=$(as - "/stop --pm_id=abc")
check "a pm_id that is not a number: refused" has "$out" 'pm_id must be a whole number'
out=$(as - "/start --pm_id=3 --command='sleep 1'")
check "start takes no pm_id" has "$out" 'params.pm_id is for stop, restart, delete and logs'
out=$(as - "/stop --pm_id=9999")
check "an unknown pm_id: not_found" has "$out" '"status":"not_found"'
check "... saying which" has "$out" 'no PM2 process with pm_id 9999'
out=$(as - "/delete --pm_id=$ID_U")
check "/delete --pm_id deletes the unicode task" has "$out" '"status":"deleted"'
check "... gone from PM2" wait_until 10 pm2_gone "$U"
check "the executor is still alive" alive "$EXEC"

finish
