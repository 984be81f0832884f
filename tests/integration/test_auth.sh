#!/usr/bin/env bash
# Authority (docs/security.md) against a real redis-server and a real PM2
# daemon: signed commands verified by the executor, the policy's roles
# (observer, specialist, captain) with their globs, programs, cwd, instance
# limit and env deny list, task ownership (own_tasks_only, foreign tasks
# made with the pm2 CLI), replays, changed bytes, unknown keys, stale
# timestamps, SIGHUP reloads, the open mode without a policy, the audit
# stream and `tasker audit`, and a fleet of two executors.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME" "$TMP/keys" "$TMP/srv/agents/a" "$TMP/elsewhere"
ln -s "$TMP/elsewhere" "$TMP/srv/agents/link"
(cd "$TMP/keys" && for k in alpha beta ops mallory; do "$TASKER" key new "$k" >/dev/null; done)
K=$TMP/keys
SRV=$(realpath "$TMP/srv/agents")

write_policy() { # write_policy FILE UNSIGNED_ROLE
	cat >"$1" <<EOF
[unsigned]
role = "$2"

[agents.alpha]
key = "$(cat "$K/alpha.pub")"
role = "specialist"

[agents.beta]
key = "$(cat "$K/beta.pub")"
role = "specialist"

[agents.ops]
key = "$(cat "$K/ops.pub")"
role = "captain"

[roles.captain]
verbs = ["*"]

[roles.specialist]
verbs = ["start", "stop", "restart", "delete", "status", "logs"]
own_tasks_only = true
tasks = ["agent-*"]
programs = ["/usr/bin/python3", "node", "sleep"]
cwd = ["$SRV"]
max_instances = 2

[roles.observer]
verbs = ["status", "logs"]

[env]
deny = ["LD_*", "NODE_OPTIONS", "BASH_ENV", "PYTHONSTARTUP", "PATH"]
EOF
}
POLICY=$TMP/policy.toml
write_policy "$POLICY" observer

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

start_exec() { # start_exec LOG ARGS...
	local log=$1
	shift
	bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" "$@" >"$log" 2>&1
	EXEC=$BG_PID
	wait_until 30 file_has "$log" "ready: listening"
}
check "executor with --policy starts" start_exec "$TMP/exec.log" --policy "$POLICY"
check "... and logs the policy it applies" file_has "$TMP/exec.log" "policy $POLICY: 3 agent(s)"

# as KEY LINE...: tasker send signed with KEY (or unsigned for -), waits; the raw reply.
as() {
	local key=$1
	shift
	if [ "$key" = - ]; then
		"$TASKER" send --wait=20 --raw "$@" 2>>"$TMP/send.err"
	else
		"$TASKER" send --key "$K/$key.key" --wait=20 --raw "$@" 2>>"$TMP/send.err"
	fi
}
pm2_has() { "$PM2" jlist 2>/dev/null | grep -q "\"name\":\"$1\""; }
pm2_count() {
	"$PM2" jlist 2>/dev/null | python3 -c 'import json,sys; print(sum(p["name"] == sys.argv[1] for p in json.load(sys.stdin)))' "$1"
}

# --- observer (unsigned) -----------------------------------------------------------
out=$(as - '/status')
check "unsigned (observer) may ask status" has "$out" '"type":"task_list"'
out=$(as - "/start --task=agent-obs --command='sleep 300' --cwd=$SRV")
check "unsigned (observer) may not start: denied" has "$out" '"status":"denied"'
check "... saying which rule" has "$out" 'may not start (\[roles.observer\] verbs)'
check "... and nothing is started" bash -c "! '$PM2' jlist | grep -q agent-obs"

# --- a specialist within and outside its limits --------------------------------------
out=$(as alpha "/start --task=agent-a1 --command='sleep 300' --cwd=$SRV/a")
check "specialist alpha starts agent-a1 within its limits" has "$out" '"status":"started"'
check "... really in PM2" pm2_has agent-a1
pid=$("$PM2" jlist | python3 -c 'import json,sys; print([p["pid"] for p in json.load(sys.stdin) if p["name"]=="agent-a1"][0])')
check "the task's environment records its owner" grep -qa "TASKER_OWNER=alpha" "/proc/$pid/environ"
check "... and the owner's key" grep -qaF "TASKER_OWNER_KEY=$(cat "$K/alpha.pub")" "/proc/$pid/environ"
out=$(as alpha "/start --task=agent-a2 --command='sleep 300' --cwd=$SRV/a --instances=2")
check "specialist alpha starts 2 instances (its limit)" has "$out" '"status":"started"'
out=$(as alpha "/start --task=web --command='sleep 300' --cwd=$SRV")
check "outside its task globs: denied" has "$out" 'outside role specialist.s task globs'
out=$(as alpha "/start --task=agent-perl --command='perl -e 1' --cwd=$SRV")
check "outside its programs: denied" has "$out" 'is not among role specialist.s programs'
out=$(as alpha "/start --task=agent-cwd --command='sleep 300' --cwd=$TMP/elsewhere")
check "outside its cwd: denied" has "$out" 'outside role specialist.s cwd prefixes'
out=$(as alpha "/start --task=agent-dots --command='sleep 300' --cwd=$SRV/../../elsewhere")
check "a cwd escaping through .. is denied" has "$out" '"status":"denied"'
out=$(as alpha "/start --task=agent-link --command='sleep 300' --cwd=$SRV/link")
check "a cwd escaping through a symlink is denied" has "$out" 'outside role specialist.s cwd prefixes'
out=$(as alpha "/start --task=agent-many --command='sleep 300' --cwd=$SRV --instances=3")
check "over its instance limit: denied" has "$out" 'at most 2 instances'
for v in LD_PRELOAD NODE_OPTIONS PATH; do
	out=$(as ops "/start --task=agent-env-$v --command='sleep 300' --cwd=$SRV --env_$v=/usr/bin")
	check "env deny list: $v refused, even for the captain" has "$out" "environment variable $v is denied"
done
out=$(as alpha "/start --task=agent-own --command='sleep 300' --cwd=$SRV --env_TASKER_OWNER=ops")
check "a command may not set TASKER_OWNER itself" has "$out" 'names starting with TASKER_ are the executor'
for t in agent-obs web agent-perl agent-cwd agent-dots agent-link agent-many agent-env-PATH agent-own; do
	pm2_has "$t" && not_ok "nothing was started for the refused $t"
done
ok "nothing was started for any refused start"

# --- ownership ------------------------------------------------------------------------
out=$(as beta "/stop --task=agent-a1")
check "own_tasks_only: beta may not stop alpha's task" has "$out" 'agent-a1 belongs to alpha'
check "... which still runs" bash -c "'$PM2' jlist | grep -q '\"name\":\"agent-a1\".*\"status\":\"online\"'"
out=$(as alpha "/stop --task=agent-a1")
check "alpha stops its own task" has "$out" '"status":"stopped"'
out=$(as ops "/restart --task=agent-a1")
check "the captain acts on anyone's task" has "$out" '"status":"restarted"'

# A foreign task: made with the pm2 CLI, same PM2_HOME.
"$PM2" start sleep --name agent-foreign -- 300 >/dev/null 2>&1
check "a foreign task exists (pm2 CLI)" pm2_has agent-foreign
out=$(as alpha "/stop --task=agent-foreign")
check "a specialist may not act on a foreign task" has "$out" 'a foreign task'
out=$(as alpha "/start --task=agent-foreign --command='sleep 300' --cwd=$SRV")
check "a start never replaces a foreign task" has "$out" 'never replaces agent-foreign'
out=$(as ops "/start --task=agent-foreign --command='sleep 300' --cwd=$SRV")
check "... not even the captain's" has "$out" 'never replaces agent-foreign'
check "... which is still the pm2 CLI's (one process)" [ "$(pm2_count agent-foreign)" -eq 1 ]
out=$(as ops "/stop --task=agent-foreign")
check "the captain may stop a foreign task" has "$out" '"status":"stopped"'
"$TASKER" ls --json >"$TMP/ls.json" 2>/dev/null

# --- signatures -------------------------------------------------------------------------
out=$(as mallory '/status')
check "an unknown key is refused" has "$out" '"status":"unauthenticated"'
check "... naming the key" has "$out" "unknown key $(cat "$K/mallory.pub" | sed 's/[+/]/./g')"
"$TASKER" send --key "$K/alpha.key" -v --wait=20 --raw "/stop --task=agent-a2" >"$TMP/orig.out" 2>"$TMP/orig.err"
check "a signed stop is carried out" grep -q '"status":"stopped"' "$TMP/orig.out"
wrapper=$(sed -n 's/^tasker send: \({"signed".*\)$/\1/p' "$TMP/orig.err" | head -n 1)
rid=$(sed -n 's/^tasker send: request_id //p' "$TMP/orig.err" | head -n 1)
check "send -v shows the signed wrapper" has "$wrapper" '"signed":'
# A replay must come later than a resend of the same PUBLISH (2 s).
T_REPLAY=$(($(date +%s%N) + 2200000000))
later() { [ "$(date +%s%N)" -gt "$T_REPLAY" ]; }
wait_until 5 later
rcli PUBLISH b00t:k0mmand3r "$wrapper" >/dev/null
check "a captured signed command sent again is refused as a replay" \
	wait_until 20 bash -c "grep '\"request_id\":\"$rid\"' '$TMP/status.log' | grep -q '\"status\":\"replay\"'"
check "... and carried out once (one stopped reply)" \
	[ "$(grep "\"request_id\":\"$rid\"" "$TMP/status.log" | grep -c '"status":"stopped"')" -eq 1 ]
changed=$(python3 - "$wrapper" <<'PY'
import base64, json, sys
w = json.loads(sys.argv[1])
inner = base64.b64decode(w["signed"]).replace(b"agent-a2", b"agent-a1", 1)
w["signed"] = base64.b64encode(inner).decode()
print(json.dumps(w, separators=(",", ":")))
PY
)
rcli PUBLISH b00t:k0mmand3r "$changed" >/dev/null
check "one changed byte is refused" \
	wait_until 20 bash -c "grep '\"request_id\":\"$rid\"' '$TMP/status.log' | grep -q 'the signature does not match'"
out=$(as alpha --json '{"verb":"status","params":{},"timestamp":"2020-01-01T00:00:00Z"}')
check "a stale timestamp is refused" has "$out" '"status":"stale"'
check "... saying how old" has "$out" 'outside the 60 s window'

# --- audit --------------------------------------------------------------------------------
n=$(rcli XLEN 'b00t:{tasker}:audit')
check "every decision is in the audit stream ($n entries)" [ "$n" -ge 20 ]
"$TASKER" audit --since 10m --agent beta >"$TMP/audit.beta"
check "tasker audit --agent beta shows beta's refusal" grep -q 'DENY denied: beta stop agent-a1' "$TMP/audit.beta"
check "... and only beta's decisions" bash -c "! grep -v ': beta ' '$TMP/audit.beta'"
"$TASKER" audit --since 10m --json >"$TMP/audit.json"
check "tasker audit --json gives the entries" grep -q '"decision":"allow".*"agent":"alpha".*"verb":"start","task":"agent-a1"' "$TMP/audit.json"
check "the audit has the replay" grep -q '"status":"replay"' "$TMP/audit.json"
check "the audit has the unknown key" grep -q '"status":"unauthenticated".*unknown key' "$TMP/audit.json"
check "the audit has the unsigned refusal" grep -q '"decision":"deny","status":"denied","node":"[^"]*","agent":null,"key":null' "$TMP/audit.json"
check "decisions are in the log too" file_has "$TMP/exec.log" 'refused (denied): beta stop agent-a1'

# --- SIGHUP --------------------------------------------------------------------------------
cp "$POLICY" "$TMP/policy.good"
echo 'this is = = not toml' >>"$POLICY"
kill -HUP "$EXEC"
check "SIGHUP with a broken file logs why" wait_until 10 file_has "$TMP/exec.log" "policy was not reloaded"
check "... and the executor runs on" alive "$EXEC"
out=$(as - '/status')
check "... with the old policy (unsigned status still allowed)" has "$out" '"type":"task_list"'
write_policy "$POLICY" none
kill -HUP "$EXEC"
check "SIGHUP with a good file reloads it" wait_until 10 file_has "$TMP/exec.log" "reloaded"
out=$(as - '/status')
check "unsigned refused under role = \"none\"" has "$out" '"status":"unauthenticated"'
check "... saying so" has "$out" 'unsigned commands are refused'
out=$(as ops '/status')
check "the captain still may" has "$out" '"type":"task_list"'
kill "$EXEC"
wait "$EXEC" 2>/dev/null

# --- no policy: open ---------------------------------------------------------------------
check "executor without a policy starts" start_exec "$TMP/open.log"
check "... and warns that it is open" file_has "$TMP/open.log" "no policy (--policy): this executor is OPEN"
out=$(as - "/start --task=open-1 --command='sleep 300'")
check "unsigned commands work as before" has "$out" '"status":"started"'
out=$(as mallory "/stop --task=open-1")
check "a signed command from any key works too" has "$out" '"status":"stopped"'
kill "$EXEC"
wait "$EXEC" 2>/dev/null

# --- without streams (pub/sub only): the replay key in Redis ---------------------------------
write_policy "$POLICY" none
rcli ACL SETUSER noeval on '>pw' '~*' '&*' '+@all' '-eval' '-evalsha' >/dev/null
NOEVAL="redis://noeval:pw@127.0.0.1:$REDIS_PORT"
check "an executor without scripts (pub/sub only) starts" start_exec "$TMP/direct.log" --redis "$NOEVAL" --policy "$POLICY"
"$TASKER" send --redis "$NOEVAL" --publish-only --key "$K/alpha.key" -v --wait=20 --raw \
	"/start --task=agent-d1 --command='sleep 300' --cwd=$SRV" >"$TMP/d.out" 2>"$TMP/d.err"
check "a signed start over pub/sub is started" grep -q '"status":"started"' "$TMP/d.out"
check "... by an executor that fell back to pub/sub" file_has "$TMP/direct.log" "refused the stream commands"
dw=$(sed -n 's/^tasker send: \({"signed".*\)$/\1/p' "$TMP/d.err" | head -n 1)
drid=$(sed -n 's/^tasker send: request_id //p' "$TMP/d.err" | head -n 1)
check "its replay id is kept in Redis" bash -c "[ -n \"\$(redis-cli -p $REDIS_PORT --raw KEYS 'b00t:{tasker}:b00t:k0mmand3r:seen:*')\" ]"
kill "$EXEC"
wait "$EXEC" 2>/dev/null
check "the executor starts again" start_exec "$TMP/direct2.log" --redis "$NOEVAL" --policy "$POLICY"
rcli PUBLISH b00t:k0mmand3r "$dw" >/dev/null
check "a replay after the executor's restart is refused (the key in Redis)" \
	wait_until 20 bash -c "grep '\"request_id\":\"$drid\"' '$TMP/status.log' | grep -q '\"status\":\"replay\"'"
check "... and not started again" [ "$(pm2_count agent-d1)" -eq 1 ]
kill "$EXEC"
wait "$EXEC" 2>/dev/null

# --- the console signs what is typed (TASKER_KEY) ----------------------------------------------
if command -v tmux >/dev/null; then
	check "an executor with the policy (unsigned: none) starts" start_exec "$TMP/console-exec.log" --policy "$POLICY"
	SOCK="tasker-auth-$$"
	T=(tmux -L "$SOCK" -f /dev/null)
	trap '"${T[@]}" kill-server 2>/dev/null; cleanup' EXIT
	screen_has() { "${T[@]}" capture-pane -p -t main 2>/dev/null | grep -q -- "$1"; }
	mkdir -p "$TMP/state" "$TMP/config"
	"${T[@]}" new-session -d -x 120 -y 30 -s main env LC_ALL=C.UTF-8 TERM=xterm-256color \
		XDG_STATE_HOME="$TMP/state" XDG_CONFIG_HOME="$TMP/config" TASKER_KEY="$K/alpha.key" \
		"$TASKER" --redis "$REDIS_URL"
	check "the console starts" wait_until 15 screen_has "Redis up"
	"${T[@]}" send-keys -t main -l -- "/start --task=agent-c1 --command='sleep 300' --cwd=$SRV"
	wait_until 10 screen_has '/start --task=agent-c1'
	"${T[@]}" send-keys -t main Enter
	check "a start typed in the console with TASKER_KEY is carried out" wait_until 20 pm2_has agent-c1
	cpid=$("$PM2" jlist | python3 -c 'import json,sys; print([p["pid"] for p in json.load(sys.stdin) if p["name"]=="agent-c1"][0])')
	check "... signed by alpha (its owner)" grep -qa "TASKER_OWNER=alpha" "/proc/$cpid/environ"
	"${T[@]}" kill-server 2>/dev/null
	kill "$EXEC"
	wait "$EXEC" 2>/dev/null
else
	echo "# tmux is missing: the console's signing is not tested here"
fi

# --- a fleet of two executors (two nodes) --------------------------------------------------
bg "$TASKER" exec --node n1 --cwd-base "$TMP" --policy "$POLICY" --log-level=debug >"$TMP/n1.log" 2>&1
N1=$BG_PID
bg "$TASKER" exec --node n2 --cwd-base "$TMP" --policy "$POLICY" --log-level=debug --pm2-home "$TMP/pm2b" >"$TMP/n2.log" 2>&1
N2=$BG_PID
check "two executors start as two nodes" wait_until 30 bash -c "grep -q 'ready: listening' '$TMP/n1.log' && grep -q 'ready: listening' '$TMP/n2.log'"
"$TASKER" send --key "$K/alpha.key" -v --wait=20 --raw "/start --task=agent-f1 --command='sleep 300' --cwd=$SRV --node=n1" >"$TMP/f.out" 2>"$TMP/f.err"
check "a signed start through the fleet is started" grep -q '"status":"started"' "$TMP/f.out"
check "... once (one process)" [ "$(pm2_count agent-f1)" -eq 1 ]
fw=$(sed -n 's/^tasker send: \({"signed".*\)$/\1/p' "$TMP/f.err" | head -n 1)
frid=$(sed -n 's/^tasker send: request_id //p' "$TMP/f.err" | head -n 1)
T_REPLAY=$(($(date +%s%N) + 2200000000))
wait_until 5 later
rcli PUBLISH b00t:k0mmand3r "$fw" >/dev/null
check "the fleet answers its replay as one" \
	wait_until 20 bash -c "grep '\"request_id\":\"$frid\"' '$TMP/status.log' | grep -q '\"status\":\"replay\"'"
check "... once, by one executor" \
	bash -c "[ \$(grep '\"request_id\":\"$frid\"' '$TMP/status.log' | grep -c '\"status\":\"replay\"') -eq 1 ]"
check "... and nothing more is started" [ "$(pm2_count agent-f1)" -eq 1 ]
out=$(as - '/status')
check "the fleet's dispatcher refuses unsigned status under role none" has "$out" '"status":"unauthenticated"'
finish
