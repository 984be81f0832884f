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
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
export REDIS_URL="$R"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config" "$TMP/keys"

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
out=$(as - "/logs --pm_id=$ID_U --lines=1000")
check "/logs --pm_id reads the unicode task's log" has "$out" 'hello from unicode'
check "... naming it" has "$out" "\"task_name\":\"$U\""
out=$("$TASKER" logs --pm_id "$ID_APP" --lines 1000 2>&1)
check "tasker logs --pm_id prints 'my app's lines" has "$out" 'hello from someone'
out=$("$TASKER" logs --pm_id "$ID_APP" api 2>&1)
check "tasker logs with both a TASK and --pm_id: usage error" has "$out" 'either TASK or --pm_id'
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

CONSOLE_ARGS=(--redis "$R")
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

# --- bulk: marks, one question, one command per task ---------------------------------------
out=$(as - '/start --task=b1 --command="sleep 600"' '/start --task=b2 --command="sleep 600"' \
	'/start --task=b3 --command="sleep 600"' '/start --task=b4 --command="sleep 600"' \
	'/start --task=b5 --command="sleep 600"')
for t in b1 b2 b3 b4 b5; do wait_until 20 pm2_status_is $t online; done
check "five tasks b1..b5 run" bash -c "for t in b1 b2 b3 b4 b5; do [ \"\$('$PM2' jlist | grep -o \"\\\"name\\\":\\\"\$t\\\"\" | head -1)\" ] || exit 1; done"
filter "b"
check "the filter shows the five" wait_until 15 screen_re "table filter: b \\(5 of"
key g
key Space
key Space
key j
key Space
check "Space marked three: the hint line counts them" wait_until 10 screen_has " 3 marked: s stop"
check "marked rows show *" bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -cE '^\\*vm +[0-9]+ b[1-5] ') = 3 ]"
mk() { screen | grep -E "^\\*vm +[0-9]+ b[1-5] " | grep -oE "b[1-5]" | sort | tr '\n' ' '; }
MARKED=$(mk)
check "three distinct rows are marked ($MARKED)" bash -c "[ \$(echo '$MARKED' | wc -w) = 3 ]"
# The table refreshes every second: the marks stay.
B1_ROW=$(screen | grep -E ' b1 ')
wait_until 5 bash -c "[ \"\$(tmux -L $SOCK capture-pane -p -t main | grep -E ' b1 ')\" != '$B1_ROW' ]"
check "marks survive the refreshes" wait_until 3 bash -c "[ \"\$(tmux -L $SOCK capture-pane -p -t main | grep -E '^\\*vm +[0-9]+ b[1-5] ' | grep -oE 'b[1-5]' | sort | tr '\n' ' ')\" = '$MARKED' ]"
key s
check "s with marks asks ONE question for the three" wait_until 10 screen_has "Stop 3 marked tasks?"
for t in $MARKED; do
	check "... listing $t" screen_re "^ *│? +$t \\(pm_id [0-9]+\\)"
done
UNMARKED=$(for t in b1 b2 b3 b4 b5; do case " $MARKED" in *" $t "*) ;; *) printf '%s ' $t ;; esac; done)
for t in $UNMARKED; do
	check "... and not $t" bash -c "! tmux -L $SOCK capture-pane -p -t main | grep -qE '│ +$t \\(pm_id'"
done
answer y "bulk stop: 3 of 3 answered"
check "y: the panel shows every outcome, 3 ok" wait_until 20 screen_has "bulk stop: 3 of 3 answered · 3 ok, 0 failed"
for t in $MARKED; do
	check "... $t: stopped" screen_re "✓ $t: stopped"
	check "... $t stopped in PM2" wait_until 10 pm2_status_is $t stopped
done
for t in $UNMARKED; do
	check "... $t untouched (online in PM2)" pm2_status_is $t online
done
check "the summary is in the bar" screen_has "✓ bulk stop: 3 ok, 0 failed"
check "one command per task went out (three stops in the executor's log)" bash -c "[ \$(grep -cE 'info  stop b[1-5]: stopped' '$TMP/exec.log') = 3 ]"
key Escape
check "a key closes the outcomes" wait_until 10 screen_lacks "bulk stop: 3 of 3"
check "the marks are spent" screen_lacks "marked: s stop"

# * marks every row the filter shows; a row that disappears loses its mark.
key '*'
check "* marks the five rows the filter shows" wait_until 10 screen_has " 5 marked: s stop"
"$PM2" delete b5 >/dev/null 2>&1
check "b5 deleted with the pm2 CLI: its mark goes (4 marked)" wait_until 15 screen_has " 4 marked: s stop"
key u
check "u unmarks all" wait_until 10 screen_lacks "marked: s stop"
key '*'
wait_until 10 screen_has " 4 marked: s stop"
key r
check "r asks once for the four" wait_until 10 screen_has "Restart 4 marked tasks?"
answer y "bulk restart: 4 of 4 answered"
check "all four restarted" wait_until 20 screen_has "bulk restart: 4 of 4 answered · 4 ok, 0 failed"
for t in b1 b2 b3 b4; do
	check "... $t online in PM2" wait_until 10 pm2_status_is $t online
done
key Escape
# A bulk question answered with anything but y sends nothing.
key '*'
wait_until 10 screen_has " 4 marked: s stop"
key d
wait_until 10 screen_has "Delete 4 marked tasks?"
answer n "cancelled: nothing was deleted"
check "n cancels the bulk delete: nothing deleted" bash -c "for t in b1 b2 b3 b4; do '$PM2' jlist | grep -q \"\\\"name\\\":\\\"\$t\\\"\" || exit 1; done"
check "... and the marks stay" screen_has " 4 marked: s stop"
key Escape
check "Esc drops the marks" wait_until 10 screen_lacks "marked: s stop"

# --- help: every key of every view, scrolling at 80x24 --------------------------------------
COLS_=80 ROWS_=24 console
wait_until 15 screen_has "Redis up"
key '?'
check "? opens the help" wait_until 10 screen_has "tasker help"
check "the help says where it stands (it does not fit at 80x24)" screen_re " 1-[0-9]+/[0-9]+ "
check "it starts with the task table's keys" screen_has "Task table"
# Page down to the end, keeping every screen: everything is reachable.
: >"$TMP/help.txt"
for i in 1 2 3 4 5 6 7 8; do
	screen >>"$TMP/help.txt"
	screen_has "shows here and in the feed" && break
	before=$(screen | md5sum)
	key NPage
	wait_until 5 bash -c "[ \"\$(tmux -L $SOCK capture-pane -p -t main | md5sum)\" != '$before' ]"
done
check "PgDn reaches the end" screen_has "shows here and in the feed"
for section in "Task table" "Marks and bulk actions" "Fleet and nodes" "Filter (f" "Details (Enter)" \
	"Log view (l)" "Questions (s, r, d)" "Command bar" "Console commands" "This help"; do
	check "the help has the section: $section" grep -qF "$section" "$TMP/help.txt"
done
check "... Space marks" grep -qE "│ +Space +mark or unmark" "$TMP/help.txt"
check "... * marks the rows shown" grep -qE "│ +\* +mark every row shown" "$TMP/help.txt"
check "... the detail view's v" grep -qE "│ +v +show or hide the environment" "$TMP/help.txt"
check "... the detail view's s r" grep -qE "│ +s r +stop or restart the task \(asks first, y" "$TMP/help.txt"
check "... the detail view's q" grep -qE "│ +q Esc Enter l +back to the table" "$TMP/help.txt"
check "... the log view's F" grep -qE "│ +F +follow new lines" "$TMP/help.txt"
check "... the command bar's ^R" grep -qE "│ +↑↓ \^R +the history" "$TMP/help.txt"
check "... n for the nodes" grep -qE "│ +n +one node at a time" "$TMP/help.txt"
key Home
check "Home goes back to the top" wait_until 10 screen_has "Task table"
key j
check "j scrolls one line" wait_until 10 screen_re " 2-[0-9]+/[0-9]+ "
key q
check "q closes the help" wait_until 10 screen_lacks "tasker help"
check "the table is back" screen_has "Status feed"

# --- authority: a pm_id is judged by the process's real name and owner -----------------------
(cd "$TMP/keys" && for k in alpha ops; do "$TASKER" key new "$k" >/dev/null; done)
mkdir -p "$TMP/srv"
cat >"$TMP/policy.toml" <<EOP
[unsigned]
role = "observer"

[agents.alpha]
key = "$(cat "$TMP/keys/alpha.pub")"
role = "specialist"

[agents.ops]
key = "$(cat "$TMP/keys/ops.pub")"
role = "captain"

[roles.captain]
verbs = ["*"]

[roles.specialist]
verbs = ["start", "stop", "restart", "delete", "status", "logs"]
tasks = ["agent-*"]

[roles.observer]
verbs = ["status", "logs"]
EOP
kill "$EXEC" 2>/dev/null
wait "$EXEC" 2>/dev/null
bg "$TASKER" exec --redis "$R" --log-level=debug --policy "$TMP/policy.toml" >"$TMP/exec2.log" 2>&1
EXEC=$BG_PID
check "an executor with a policy starts" wait_until 30 file_has "$TMP/exec2.log" "ready: listening"
"$PM2" start "$TMP/tick.js" --name "agent-cli" >/dev/null 2>&1
wait_until 20 pm2_status_is agent-cli online
ID_AGENT=$(pm2_field agent-cli pm_id)
out=$(as alpha "/stop --pm_id=$ID_APP")
check "a specialist (globs agent-*) may not stop 'my app' by its pm_id: denied" has "$out" '"status":"denied"'
check "... judged by its real name" has "$out" 'the task my app is outside role specialist.s task globs'
check "... and it still runs" pm2_status_is "my app" online
out=$(as alpha "/logs --pm_id=$ID_APP")
check "... nor read its logs by pm_id" has "$out" 'outside role specialist.s task globs'
check "... (no lines in the refusal)" bash -c '! grep -q "\"lines\"" <<<"$1"' _ "$out"
out=$(as alpha "/stop --pm_id=$ID_AGENT")
check "a foreign process inside its globs: denied (foreign_tasks)" has "$out" 'agent-cli was not started through tasker (a foreign task)'
check "... and it still runs" pm2_status_is agent-cli online
out=$(as - "/stop --pm_id=$ID_APP")
check "unsigned (observer) may not stop by pm_id" has "$out" '"status":"denied"'
check "... refused before the listing: the reply carries the pm_id" has "$out" "\"pm_id\":$ID_APP"
check "... and no made-up name" bash -c '! grep -q "\"task_name\":\"#" <<<"$1"' _ "$out"
out=$(as ops "/stop --pm_id=$ID_APP")
check "the captain stops 'my app' by its pm_id" has "$out" '"status":"stopped"'
check "... stopped in PM2" wait_until 10 pm2_status_is "my app" stopped
"$TASKER" audit --json >"$TMP/audit.json" 2>&1
check "the audit records alpha's refusal under the real name" grep -q '"decision":"deny".*"agent":"alpha".*"verb":"stop","task":"my app"' "$TMP/audit.json"
check "... and the captain's stop under it" grep -q '"decision":"allow".*"agent":"ops".*"verb":"stop","task":"my app"' "$TMP/audit.json"

# --- a fleet of two nodes: a pm_id names its node ------------------------------------------------
FAR="$TMP/pm2-far"
mkdir -p "$FAR"
WHO=far PM2_HOME="$FAR" "$PM2" start "$TMP/tick.js" --name "far app" >/dev/null 2>&1
far_field() { PM2_HOME="$FAR" pm2_field "$@"; }
check "the pm2 CLI made 'far app' on the second node's PM2" wait_until 20 bash -c "[ \"\$(PM2_HOME='$FAR' '$PM2' jlist 2>/dev/null | grep -c 'far app')\" -gt 0 ]"
ID_FAR=$(far_field "far app" pm_id)
PM2_HOME="$FAR" bg "$TASKER" exec --redis "$R" --node far --pm2-home "$FAR" >"$TMP/exec-far.log" 2>&1
check "a second executor (node far) starts" wait_until 30 file_has "$TMP/exec-far.log" "ready: listening"
wait_until 20 bash -c "'$TASKER' ls --fleet --json 2>/dev/null | grep -q 'far app'"
check "the first executor sees two live nodes" wait_until 20 file_has "$TMP/exec2.log" "fleet: 2 live node(s)"
out=$(as ops "/stop --pm_id=$ID_FAR")
check "in a fleet of two, a pm_id without a node is refused" has "$out" "a pm_id is PM2's number on one node and 2 nodes are live: name the node"
check "... nothing stopped" bash -c "[ \"\$(PM2_HOME='$FAR' '$PM2' jlist | python3 -c 'import json,sys; print([p[\"pm2_env\"][\"status\"] for p in json.load(sys.stdin) if p[\"name\"]==\"far app\"][0])')\" = online ]"
out=$(as ops "/restart --pm_id=$ID_FAR --node=far")
check "with --node=far it is carried out there" has "$out" '"status":"restarted"'
check "... by that node" has "$out" '"node":"far"'
check "... naming the real task" has "$out" '"task_name":"far app"'

COLS_=110 ROWS_=30 console
wait_until 15 screen_has "Redis up"
filter "far app"
check "the console shows 'far app' on node far" wait_until 20 screen_re "far +[0-9]+ +far app +online"
key l
check "l asks node far for the logs by pm_id: they show" wait_until 20 screen_has "hello from far"
key q
wait_until 10 screen_has "Status feed"
key s
check "s asks for it by its pm_id, on node far" wait_until 10 screen_has "Stop far app (pm_id $ID_FAR, by its pm_id) on node far?"
answer y "✓ stopped far app"
check "y stops it on node far" wait_until 20 screen_has "✓ stopped far app"
check "... stopped in far's PM2" wait_until 10 bash -c "[ \"\$(PM2_HOME='$FAR' '$PM2' jlist | python3 -c 'import json,sys; print([p[\"pm2_env\"][\"status\"] for p in json.load(sys.stdin) if p[\"name\"]==\"far app\"][0])')\" = stopped ]"
check "the local 'my app' was not touched (still stopped by the captain, not deleted)" pm2_status_is "my app" stopped

finish
