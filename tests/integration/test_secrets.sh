#!/usr/bin/env bash
# Secrets stay with the executor (issue 9, item 5): an executor started
# with a password in REDIS_URL, a TASKER_KEY and marker variables starts a
# PM2 daemon whose /proc/PID/environ holds none of them, and neither do its
# tasks (fork mode, and cluster mode, where node merges the daemon's
# environment into the workers); a task still gets PATH, HOME and its env_
# params.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
mkdir -p "$PM2_HOME" "$TMP/work"
# The default user has no password: AUTH default ANYTHING passes, so the
# password below is a real one on the wire without a Redis to configure.
PW="pw-$RANDOM-s3cret"
SECRET_URL="redis://default:$PW@127.0.0.1:$REDIS_PORT"
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

(cd "$TMP" && "$TASKER" key new execkey >/dev/null)
MARK="marker-$RANDOM-leak"
REDIS_URL=$SECRET_URL TASKER_KEY="$TMP/execkey.key" TASKER_MARKER="$MARK" SECRET_MARKER="$MARK" \
	bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
check "executor starts with a password in REDIS_URL" wait_until 30 file_has "$TMP/exec.log" "ready: listening"
check "the executor itself holds the secrets (the test's premise)" grep -qaF "$PW" "/proc/$EXEC/environ"
check "the executor started the PM2 daemon" wait_until 30 test -s "$PM2_HOME/pm2.pid"
DPID=$(cat "$PM2_HOME/pm2.pid" 2>/dev/null)

# leaks FILE: the environ file names none of the secrets.
leaks() {
	local f=$1
	tr '\0' '\n' <"$f" >"$TMP/env.txt" 2>/dev/null || return 0
	grep -qF "$PW" "$TMP/env.txt" && return 0
	grep -qF "$MARK" "$TMP/env.txt" && return 0
	# TASKER_OWNER and TASKER_OWNER_KEY are the task's own record (security.md, 6).
	grep -v '^TASKER_OWNER=\|^TASKER_OWNER_KEY=' "$TMP/env.txt" |
		grep -q '^TASKER_\|^REDIS_URL=\|^SECRET_MARKER=' && return 0
	grep -qF "execkey" "$TMP/env.txt" && return 0
	return 1
}
no_leak() { ! leaks "/proc/$1/environ"; }
env_has() { tr '\0' '\n' <"/proc/$1/environ" | grep -q -- "$2"; }

check "the daemon's pid is a live process" alive "$DPID"
check "the daemon's environment holds no password, TASKER_*, key path or marker" no_leak "$DPID"
check "the daemon still has PATH" env_has "$DPID" '^PATH='
check "the daemon still has PM2_HOME" env_has "$DPID" "^PM2_HOME=$PM2_HOME\$"

out=$(req '{"verb":"start","params":{"task":"sec-fork","command":"sleep","args":"300","env_FOO":"bar-value"}}')
check "a fork-mode task starts" has "$out" '"status":"started"'
CPORT=$(free_port)
cp "$ROOT/tests/integration/helpers/cluster.js" "$TMP/work/api.js"
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"sec-cluster\",\"command\":\"node\",\"args\":\"api.js\",\"cwd\":\"work\",\"instances\":\"2\",\"env_PORT\":\"$CPORT\"}}")
check "a cluster-mode task starts" has "$out" '"status":"started"'

# pids NAME: the live pids of a task, from PM2's own list.
pids() {
	"$PM2" jlist 2>/dev/null | jq -r ".[] | select(.name == \"$1\" and .pid > 0) | .pid"
}
have_pids() { [ "$(pids "$1" | wc -l)" -ge "$2" ]; }
check "PM2 lists the fork task's pid" wait_until 20 have_pids sec-fork 1
check "PM2 lists both cluster workers' pids" wait_until 20 have_pids sec-cluster 2
FPID=$(pids sec-fork | head -n 1)
check "the fork task gets no secret of the executor's" no_leak "$FPID"
check "the fork task gets PATH" env_has "$FPID" '^PATH='
check "the fork task gets HOME" env_has "$FPID" '^HOME='
check "the fork task gets its env_ param" env_has "$FPID" '^FOO=bar-value$'
n=0
for p in $(pids sec-cluster); do
	n=$((n + 1))
	check "cluster worker $n gets no secret of the executor's" no_leak "$p"
done
# A worker sets its env_ params from PM2's message at run time (not in
# /proc/PID/environ): that it listens on PORT shows it got it.
capi_up() { (exec 3<>"/dev/tcp/127.0.0.1/$CPORT" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && grep -q "200 OK" <&3) 2>/dev/null; }
check "the cluster workers got their env_ param (they answer on PORT)" wait_until 20 capi_up
# The task's parent is the daemon: what a task reads at /proc/$PPID/environ.
ppid=$(awk '{print $4}' "/proc/$FPID/stat")
check "the fork task's parent is the daemon (what /proc/\$PPID/environ shows)" [ "$ppid" = "$DPID" ]

req '{"verb":"delete","params":{"task":"sec-fork"}}' >/dev/null
req '{"verb":"delete","params":{"task":"sec-cluster"}}' >/dev/null
kill "$EXEC" 2>/dev/null
finish
