#!/usr/bin/env bash
# Commands by pm_id name what they expect, and bulk actions act on the
# marked processes only (fixes after review), against a real redis-server,
# a real PM2 daemon (private PM2_HOME) and a real executor:
# - params.expect_name: a pm_id now held by another process is refused
#   (not_found), nothing stopped; the right name goes on;
# - a bulk delete of ONE marked instance of a 4-instance task deletes that
#   one (by its pm_id, with expect_name), the other three stay;
# - every instance marked: the question says "all 3 instances of api" and
#   one by-name command goes;
# - the marked rows change between the question and y: nothing is sent,
#   the question shows again;
# - the console runs under another --node than the executor: its local
#   rows' pm_id commands carry no node (a fleet of one), so they still act.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/tmux.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v tmux >/dev/null || { not_ok "tmux is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
export REDIS_URL="$R"
mkdir -p "$PM2_HOME" "$TMP/state" "$TMP/config"

# pm2_ids NAME: the pm_ids PM2 has under NAME, one a line, ascending.
pm2_ids() {
	"$PM2" jlist 2>/dev/null | python3 -c '
import json, sys
for i in sorted(p["pm_id"] for p in json.load(sys.stdin) if p["name"] == sys.argv[1]):
    print(i)' "$1"
}
pm2_count() { pm2_ids "$1" | wc -l; }
pm2_count_is() { [ "$(pm2_count "$1")" = "$2" ]; }
pm2_status() { # pm2_status PM_ID
	"$PM2" jlist 2>/dev/null | python3 -c '
import json, sys
for p in json.load(sys.stdin):
    if p["pm_id"] == int(sys.argv[1]):
        print(p["pm2_env"]["status"])' "$1"
}
pm2_status_is() { [ "$(pm2_status "$1")" = "$2" ]; }
pm2_online_count() { # pm2_online_count NAME
	"$PM2" jlist 2>/dev/null | python3 -c '
import json, sys
print(sum(1 for p in json.load(sys.stdin) if p["name"] == sys.argv[1] and p["pm2_env"]["status"] == "online"))' "$1"
}
as() { "$TASKER" send --wait=20 --raw "$@" 2>>"$TMP/send.err"; }

bg "$TASKER" exec --redis "$R" --log-level=debug >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
wait_until 30 file_has "$TMP/exec.log" "ready: listening"
EXEC_NODE=$(sed -n 's/.*"node":"\([^"]*\)".*/\1/p' <<<"$(as '/status')" | head -n 1)
check "the executor names its node ($EXEC_NODE)" test -n "$EXEC_NODE"

# --- params.expect_name from tasker send ----------------------------------------------------
as '/start --task=one --command="sleep 600"' '/start --task=two --command="sleep 600"' >/dev/null
wait_until 20 pm2_count_is one 1
wait_until 20 pm2_count_is two 1
ID_ONE=$(pm2_ids one)
ID_TWO=$(pm2_ids two)
check "one is online" wait_until 20 pm2_status_is "$ID_ONE" online
check "two is online" wait_until 20 pm2_status_is "$ID_TWO" online
out=$(as "/stop --pm_id=$ID_ONE --expect_name=two")
check "pm_id of one with expect_name two: not_found" has "$out" '"status":"not_found"'
check "... saying what holds the number" has "$out" "pm_id $ID_ONE is now 'one', not 'two'; nothing was done"
check "... one still online" pm2_status_is "$ID_ONE" online
check "... two still online" pm2_status_is "$ID_TWO" online
out=$("$TASKER" send --wait=20 --raw --json "{\"verb\":\"stop\",\"params\":{\"pm_id\":$ID_TWO,\"expect_name\":\"my app\"}}" 2>&1)
check "a name with a blank in expect_name (JSON): refused when it differs" has "$out" "is now 'two', not 'my app'"
check "... two still online" pm2_status_is "$ID_TWO" online
out=$(as "/stop --task=one --expect_name=one")
check "expect_name with a task name: a clear error" has "$out" 'goes only with params.pm_id'
check "... one still online" pm2_status_is "$ID_ONE" online
out=$(as "/stop --pm_id=$ID_ONE --expect_name=one")
check "the right expect_name: stopped" has "$out" '"status":"stopped"'
check "... one stopped in PM2" wait_until 10 pm2_status_is "$ID_ONE" stopped
check "... two untouched" pm2_status_is "$ID_TWO" online

# --- the console: bulk on some instances of a task --------------------------------------------
out=$(as '/start --task=api --command="sleep 600" --instances=4')
check "api starts with 4 instances" wait_until 20 pm2_count_is api 4
online_is() { [ "$(pm2_online_count "$1")" = "$2" ]; }
check "... all online" wait_until 20 online_is api 4

# Every command the console publishes, as Redis carries it.
bg stdbuf -oL redis-cli -p "$REDIS_PORT" subscribe b00t:k0mmand3r >"$TMP/cmds.log"
wait_until 10 numsub_is b00t:k0mmand3r 2

CONSOLE_ARGS=(--redis "$R")
answer_once() { key "$1"; wait_until 3 screen_has "$2"; }
answer() { wait_until 30 answer_once "$@"; }
filter() { type_text "/filter $1"; key Enter; }
COLS_=110 ROWS_=32 console -- --node elsewhere
check "the console (--node elsewhere) starts" wait_until 15 screen_has "Redis up"
type_text "/node elsewhere"
key Enter
filter api
check "the four api rows show (node elsewhere: the local PM2)" wait_until 20 bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -cE '^ ?elsewhere +[0-9]+ +api +online') -eq 4 ]" ||
	dump
key g
key Space
check "one row marked" wait_until 10 screen_has " 1 marked: s stop"
MARKED_ID=$(screen | sed -n 's/^\*elsewhere *\([0-9]*\) .*/\1/p' | head -n 1)
check "the marked row's pm_id is known ($MARKED_ID)" bash -c "[[ '$MARKED_ID' =~ ^[0-9]+$ ]]"
key d
check "d asks for the ONE marked instance, by its pm_id" wait_until 10 screen_re "api \\(pm_id $MARKED_ID, by its pm_id\\)"
check "... not for all instances" screen_lacks "instances of api"
answer y "bulk delete: 1 of 1 answered"
check "y: one command, answered ok" wait_until 20 screen_has "bulk delete: 1 of 1 answered · 1 ok, 0 failed" || {
	dump
	tail -n 5 "$TMP/exec.log" | sed 's/^/#   /'
}
check "... three api instances remain in PM2" wait_until 10 pm2_count_is api 3
id_gone() { ! pm2_ids api | grep -qx "$1"; }
check "... the marked one is the one gone" id_gone "$MARKED_ID"
check "the console sent it by pm_id with expect_name, without a node" \
	grep -qE "\"verb\":\"delete\",\"params\":\\{\"pm_id\":\"$MARKED_ID\",\"expect_name\":\"api\"\\}" "$TMP/cmds.log"
check "... and no by-name delete of api went out" bash -c "! grep -q '\"verb\":\"delete\",\"params\":{\"task\":\"api\"' '$TMP/cmds.log'"
key Escape
wait_until 10 screen_lacks "bulk delete: 1 of 1"

# Every instance marked: one by-name command, the question says all of them.
check "three api rows show" wait_until 20 bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -cE '^ ?elsewhere +[0-9]+ +api +online') -eq 3 ]"
key '*'
check "* marks the three" wait_until 10 screen_has " 3 marked: s stop"
key s
check "s asks for all 3 instances of api" wait_until 10 screen_has "all 3 instances of api (pm_ids"
check "... as one task" screen_has "Stop 1 marked task?"
answer y "bulk stop: 1 of 1 answered"
check "y stops them: 1 ok" wait_until 20 screen_has "bulk stop: 1 of 1 answered · 1 ok, 0 failed"
check "... all three stopped in PM2" wait_until 10 bash -c "[ \"\$('$PM2' jlist | python3 -c 'import json,sys; print(sum(1 for p in json.load(sys.stdin) if p[\"name\"]==\"api\" and p[\"pm2_env\"][\"status\"]==\"stopped\"))')\" = 3 ]"
check "... by name" grep -q '"verb":"stop","params":{"task":"api"}' "$TMP/cmds.log"
key Escape

# Marked, then the table changes before y: the question is asked again.
# (Online: PM2 tells the console of a delete by the exit it causes.)
out=$(as '/restart --task=api')
check "api's three instances restarted" wait_until 20 online_is api 3
check "... the console shows them online" wait_until 20 bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -cE '^.elsewhere +[0-9]+ +api +online') -eq 3 ]"
key '*'
wait_until 10 screen_has " 3 marked: s stop"
key r
check "r asks for all 3 instances" wait_until 10 screen_has "all 3 instances of api (pm_ids"
"$PM2" delete "$(pm2_ids api | tail -n 1)" >/dev/null 2>&1
check "an instance deleted behind the question: 2 left" wait_until 10 pm2_count_is api 2
check "... the console's table has 2 left" wait_until 20 bash -c "[ \$(tmux -L $SOCK capture-pane -p -t main | grep -cE '^.elsewhere +[0-9]+ +api ') -eq 2 ]" || dump
restarts_sent() { grep -c '"verb":"restart","params":{"task":"api"' "$TMP/cmds.log"; }
RESTARTS=$(restarts_sent)
key y
check "y on a stale question sends nothing: it asks again" wait_until 10 screen_has "the marked tasks changed: nothing was restarted yet"
check "... the new question lists both instances" wait_until 10 screen_has "all 2 instances of api (pm_ids"
check "... no restart of api went out" test "$(restarts_sent)" = "$RESTARTS"
answer y "bulk restart: 1 of 1 answered"
check "y now restarts the two" wait_until 20 screen_has "bulk restart: 1 of 1 answered · 1 ok, 0 failed"
check "the executor is still alive" alive "$EXEC"

finish
