#!/usr/bin/env bash
# The headless executor against a real redis-server and a real PM2 daemon
# (private PM2_HOME): upstream recipes, argv and env exactness, every kind
# of invalid input, replace/already_running/not_found, relayed PM2 events,
# presence, faults (Redis restart, PM2 daemon killed), clean shutdown.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"
export REDIS_URL=$R
mkdir -p "$PM2_HOME" "$TMP/work dir"
HELP="$ROOT/tests/integration/helpers"

# Everything on the status channel, for checks by request_id.
bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

start_exec() {
	SECRET_TOKEN=do-not-leak bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" "$@" >"$TMP/exec.log" 2>&1
	EXEC=$BG_PID
	wait_until 20 file_has "$TMP/exec.log" "ready: listening"
}
check "executor starts and says ready" start_exec

# send LINE: tasker send --wait --raw; prints the reply.
send() {
	"$TASKER" send --wait=20 --raw "$@" 2>>"$TMP/send.err"
}

# --- upstream recipes, verbatim ---------------------------------------------
out=$(req '{"verb":"start","params":{"task":"test-echo","command":"echo","args":"Hello from PM2 Tasker"}}')
check "recipe: start test-echo is started" has "$out" '"status":"started"'
check "recipe: the reply has the real pm_id" has "$out" '"pm_id":[0-9]'
check "recipe: the reply names task, verb and node" has "$out" '"task_name":"test-echo".*"verb":"start","node":"'
check "recipe: test-echo printed its args" wait_until 10 bash -c "grep -q 'Hello from PM2 Tasker' '$PM2_HOME'/logs/test-echo-out*.log"
check "a task that exits is relayed as an event" wait_until 20 file_has "$TMP/status.log" '"task_name":"test-echo","status":"exited"'
check "PM2 giving up on the crash loop is relayed" wait_until 30 file_has "$TMP/status.log" '"task_name":"test-echo","status":"errored"'
n=$(grep -c '"task_name":"test-echo","status":"exited"' "$TMP/status.log")
check "a crash loop is a few messages, not one per restart ($n exited)" [ "$n" -le 3 ]
out=$(req '{"verb":"stop","params":{"task":"test-echo"}}')
check "recipe: stop test-echo is stopped" has "$out" '"status":"stopped"'
out=$(req '{"verb":"status","params":{}}')
check "recipe: status answers with a task_list" has "$out" '"type":"task_list"'
check "task_list rows carry the documented fields" has "$out" '"name":"test-echo","pm_id":[0-9]*,"status":"[a-z]*","pid":0,"cpu":[0-9.]*,"memory":[0-9]*,"uptime":0,"restarts":[0-9]*,"mode":"fork","instances":1,"owner":"unsigned","node":"'

# --- documented examples ---------------------------------------------------------
PORT=$(free_port)
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"webserver\",\"command\":\"python3\",\"args\":\"-m http.server $PORT --bind 127.0.0.1\",\"env_PORT\":\"$PORT\"}}")
check "example: python3 -m http.server is started" has "$out" '"status":"started"'
http_up() { (exec 3<>"/dev/tcp/127.0.0.1/$PORT" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && grep -q "200 OK" <&3) 2>/dev/null; }
check "example: the http.server really answers" wait_until 20 http_up
CPORT=$(free_port)
cp "$HELP/cluster.js" "$TMP/work dir/api.js"
out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"api\",\"command\":\"node\",\"args\":\"api.js\",\"cwd\":\"work dir\",\"instances\":\"2\",\"max_memory_restart\":\"500M\",\"env_PORT\":\"$CPORT\"}}")
check "example: node api.js with instances is started" has "$out" '"status":"started"'
check "example: cluster mode starts 2 instances" has "$out" '"pm_ids":\[[0-9]*,[0-9]*\]'
capi_up() { (exec 3<>"/dev/tcp/127.0.0.1/$CPORT" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && grep -q "200 OK" <&3) 2>/dev/null; }
check "example: the cluster app answers (cwd with a space)" wait_until 20 capi_up
"$TASKER" ls --json >"$TMP/ls.json"
capi_up || { echo "# api logs:"; tail -n 5 "$PM2_HOME"/logs/api-*.log | sed 's/^/#   /'; "$TASKER" ls | sed 's/^/#   /'; }
check "ls: both api instances in cluster mode" bash -c "[ \$(grep -o '\"name\":\"api\",\"pm_id\":[0-9]*,\"status\":\"online\",[^}]*\"mode\":\"cluster\"' '$TMP/ls.json' | wc -l) -eq 2 ]"
# The documented example carries a fixed time in 2025: far past the default
# ttl of 60 s, so it is answered expired and nothing runs; the same envelope
# sent now is started.
out=$(req '{"verb":"start","params":{"task":"myapp","command":"sleep 600","env_PORT":"3000"},"content":"optional content","timestamp":"2025-11-17T15:00:00Z","agent_id":"agent-123"}')
check "example: the full envelope with its 2025 timestamp is expired" has "$out" '"status":"expired"'
NOW_ISO=$(date -u +%Y-%m-%dT%H:%M:%SZ)
out=$(req '{"verb":"start","params":{"task":"myapp","command":"sleep 600","env_PORT":"3000"},"content":"optional content","timestamp":"'"$NOW_ISO"'","agent_id":"agent-123"}')
check "example: the full envelope is started" has "$out" '"status":"started"'
check "the reply carries the sender's agent_id" has "$out" '"agent_id":"agent-123"'
out=$(req '{"verb":"start","params":{"task":"rusty","command":"sleep 600"},"timestamp":'"$(date +%s)"',"agent_id":"rust"}')
check "integer epoch timestamp (Rust envelope) is accepted" has "$out" '"status":"started"'
out=$(req '{"verb":"start","params":{"task":"numeric","command":"sleep","args":"600","instances":1}}')
check "numbers as param values are accepted" has "$out" '"status":"started"'

# --- argv and env arrive exactly; no shell anywhere ------------------------------------
cp "$HELP/record.sh" "$TMP/rec"
out=$(send "/start --task=argv --command='$TMP/rec' --args=\"'a b' 'x\\\"y' '\$(touch $TMP/pwned1)' ';' '|' '\`touch $TMP/pwned2\`' '*' '\$HOME' ''\" --env_RECORD_OUT=$TMP/argv.out --env_FOO='bar baz'")
check "argv task is started" has "$out" '"status":"started"'
check "argv task recorded its argv" wait_until 20 test -f "$TMP/argv.out"
printf '%s\n' 'a b' 'x"y' "\$(touch $TMP/pwned1)" ';' '|' "\`touch $TMP/pwned2\`" '*' '$HOME' '' >"$TMP/argv.want"
check "argv arrives byte for byte" cmp -s "$TMP/argv.want" "$TMP/argv.out"
check "no shell ran \$(...) or backticks" bash -c "[ ! -e '$TMP/pwned1' ] && [ ! -e '$TMP/pwned2' ]"
check "env_FOO reaches the task" grep -qx 'FOO=bar baz' "$TMP/argv.out.env"
check "PATH reaches the task" grep -q '^PATH=' "$TMP/argv.out.env"
check "the executor's own environment does not leak" bash -c "! grep -q SECRET_TOKEN '$TMP/argv.out.env'"
check "relative cwd resolves against --cwd-base" grep -qx "$TMP" "$TMP/argv.out.cwd"
out=$(send "/start --task=semi --command=\"sleep 60; touch $TMP/pwned3\"")
check "'sleep 60; touch' is plain arguments to sleep" has "$out" '"status":"started"'
check "sleep rejects '60;' and the task exits" wait_until 20 file_has "$TMP/status.log" '"task_name":"semi","status":"exited"'
check "no shell ran the ; part" test ! -e "$TMP/pwned3"
JSONARGS='{"verb":"start","params":{"task":"arr","command":"'"$TMP"'/rec","args":["one two","$(x)"],"env_RECORD_OUT":"'"$TMP"'/arr.out"}}'
out=$(req "$JSONARGS")
check "args as a JSON array is started" has "$out" '"status":"started"'
check "args array arrives exactly" wait_until 20 bash -c "[ \"\$(cat '$TMP/arr.out' 2>/dev/null)\" = \"\$(printf 'one two\n\$(x)')\" ]"

# --- every invalid input gets an error reply with its request_id ----------------------------
bad "params not an object" '{"verb":"start","params":"x"}' 'params must be a JSON object'
bad "nested params" '{"verb":"start","params":{"task":{"a":1}}}' 'params are flat'
bad "verb missing" '{"params":{}}' 'has no verb'
bad "unknown verb" '{"verb":"explode","params":{"task":"x"}}' "unknown verb 'explode'"
bad "no task name" '{"verb":"stop","params":{}}' 'needs a task name'
bad "bad task name" '{"verb":"stop","params":{"task":"../etc"}}' 'task name must start with a letter or digit'
bad "task name all" '{"verb":"delete","params":{"task":"all"}}' "must not be 'all'"
bad "all-digit task name" '{"verb":"stop","params":{"task":"123"}}' 'must not be all digits'
bad "start without a command" '{"verb":"start","params":{"task":"x"}}' 'start needs a command'
bad "command not found" '{"verb":"start","params":{"task":"x","command":"pyhton3 app.py"}}' 'command not found: pyhton3'
bad "cwd missing" '{"verb":"start","params":{"task":"x","command":"sleep 1","cwd":"/nonexistent/dir"}}' 'cwd is not an existing directory'
bad "instances bad" '{"verb":"start","params":{"task":"x","command":"sleep 1","instances":"lots"}}' 'instances must be a number'
bad "memory bad" '{"verb":"start","params":{"task":"x","command":"sleep 1","max_memory_restart":"1TB"}}' 'max_memory_restart must be a size'
bad "a command of form feeds only" '{"verb":"start","params":{"task":"x","command":"\f\u000b"}}' 'start needs a command'
bad "memory that overflows" '{"verb":"start","params":{"task":"x","command":"sleep 1","max_memory_restart":"17179869185G"}}' 'max_memory_restart must be a size'
bad "env name bad" '{"verb":"start","params":{"task":"x","command":"sleep 1","env_1X":"y"}}' 'environment variable name'
bad "unterminated quote in command" '{"verb":"start","params":{"task":"x","command":"node \"app.js"}}' 'unterminated quote'
bad "bad timestamp" '{"verb":"status","timestamp":"yesterday"}' 'timestamp'
bad "control character in a key" '{"verb":"start","params":{"ta\u0001sk":"x"}}' 'control character'
rcli PUBLISH b00t:k0mmand3r 'this is not json' >/dev/null
check "garbage gets an error reply too" wait_until 10 file_has "$TMP/status.log" 'message is not valid JSON'
before=$(grep -c 'message is not valid JSON' "$TMP/status.log")
for i in $(seq 1 300); do echo "PUBLISH b00t:k0mmand3r 'garbage $i'"; done | redis-cli -p "$REDIS_PORT" >/dev/null
out=$(req '{"verb":"status"}') # answered in order: every garbage message came before it
after=$(grep -c 'message is not valid JSON' "$TMP/status.log")
n=$((after - before))
check "garbage cannot flood the status channel ($n error replies for 300 messages)" bash -c "[ $n -ge 1 ] && [ $n -lt 100 ]"
check "the executor still answers after all that" has "$out" '"type":"task_list"'
check "the executor is still running" alive "$EXEC"

# --- a request_id seen twice runs once ----------------------------------------------------
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"dup-1"}' >/dev/null
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"dup-1"}' >/dev/null
out=$(req '{"verb":"status"}') # in order: both copies came before this one
n=$(grep -c '"request_id":"dup-1"' "$TMP/status.log")
check "a message delivered twice (same request_id) is carried out once ($n replies)" [ "$n" -eq 1 ]

# --- already_running, not_found, replace, restart, delete ------------------------------------
out=$(send '/start --task=myapp --command="sleep 700"')
check "start of an online task is already_running" has "$out" '"status":"already_running"'
out=$(send '/stop --task=ghost')
check "stop of an unknown task is not_found" has "$out" '"status":"not_found"'
out=$(send '/restart --task=ghost')
check "restart of an unknown task is not_found" has "$out" '"status":"not_found"'
out=$(send '/stop --task=myapp'); check "stop myapp" has "$out" '"status":"stopped"'
out=$(send '/start --task=myapp --command="sleep 800"')
check "a stopped task is replaced and started" has "$out" '"status":"started"'
"$TASKER" ls --json >"$TMP/ls2.json"
check "the replaced task runs the new definition, once" bash -c "[ \$(grep -o '\"name\":\"myapp\"' '$TMP/ls2.json' | wc -l) -eq 1 ] && $PM2 jlist 2>/dev/null | grep -q '\"args\":\[\"800\"\]'"
out=$(send '/stop --task=myapp')
out=$(send '/start --task=myapp --command="sleep 900" --memory=99999999999G')
check "a refused replacement is an error" has "$out" '"status":"error"'
"$TASKER" ls --json >"$TMP/ls3.json"
check "and the stopped task it would replace is still there" grep -q '"name":"myapp"' "$TMP/ls3.json"
out=$(send '/restart --task=myapp'); check "restart is restarted" has "$out" '"status":"restarted"'
out=$(send '/remove --task=myapp'); check "remove is deleted" has "$out" '"status":"deleted"'
out=$(send '/delete --task=myapp'); check "delete again is not_found" has "$out" '"status":"not_found"'

# --- presence ------------------------------------------------------------------------------
check "presence key exists" wait_until 15 bash -c "redis-cli -p $REDIS_PORT EXISTS b00t:tasker:executor:\$(hostname) | grep -q 1"
ttl=$(rcli TTL "b00t:tasker:executor:$(hostname)")
check "presence key has a short TTL" bash -c "[ $ttl -gt 0 ] && [ $ttl -le 30 ]"
check "presence holds versions and task count" bash -c "redis-cli -p $REDIS_PORT GET b00t:tasker:executor:\$(hostname) | grep -q '\"pm2_version\":\"7.0.4\".*\"tasks\":'"
check "presence names its host, pid and load" bash -c "redis-cli -p $REDIS_PORT GET b00t:tasker:executor:\$(hostname) | grep -q '\"pid\":$EXEC,\"host\":\"'\$(hostname)'\",\"load\":[0-9.]*,'"

# --- faults ----------------------------------------------------------------------------------
PORT0=$REDIS_PORT
stop_redis
check "the executor survives Redis going away" alive "$EXEC"
start_redis "$PORT0"
wait_until 20 numsub_is b00t:task:status 1
check "the executor resubscribes after a Redis restart" wait_until 20 numsub_is b00t:k0mmand3r 1
out=$(send '/status'); check "and answers the next command" has "$out" '"type":"task_list"'

"$PM2" kill >/dev/null 2>&1
check "PM2 daemon is gone (tasker ls cannot reach it)" bash -c "! '$TASKER' ls >/dev/null 2>&1"
out=$(send '/start --task=phoenix --command="sleep 600"')
check "after the daemon is killed the next start brings PM2 back and succeeds" has "$out" '"status":"started"'
out=$(send '/start --task=phoenix --command="sleep 600"')
check "no duplicate after the daemon came back" has "$out" '"status":"already_running"'

# --- shutdown ------------------------------------------------------------------------------------
kill -TERM "$EXEC"
wait "$EXEC"; rc=$?
check "SIGTERM: exit 0" [ "$rc" -eq 0 ]
check "SIGTERM: presence key removed" bash -c "[ \$(redis-cli -p $REDIS_PORT EXISTS b00t:tasker:executor:\$(hostname)) = 0 ]"

# --- ready means ready: 50 launches, each answers its first command -----------------------------
answered=0
for i in $(seq 1 50); do
	bg "$TASKER" exec >"$TMP/exec50.log" 2>&1
	E=$BG_PID
	if wait_until 20 file_has "$TMP/exec50.log" "ready: listening"; then
		out=$("$TASKER" send --wait=10 --raw /status 2>/dev/null)
		has "$out" '"type":"task_list"' && answered=$((answered + 1))
	fi
	kill -TERM "$E"; wait "$E" 2>/dev/null
done
check "50 launches, 50 answers to the first command ($answered)" [ "$answered" -eq 50 ]
finish
