#!/usr/bin/env bash
# send, watch and the Redis bus against a real redis-server: round trips,
# --wait correlation, AUTH (password and ACL user), unix sockets, and the
# subscriber surviving a killed connection, a full server restart, and a
# server that is not there yet.
. "$(dirname "$0")/lib.sh"

start_redis || { not_ok "redis-server starts"; finish; }
R="redis://127.0.0.1:$REDIS_PORT"

# --- send -> watch round trip -------------------------------------------
bg "$TASKER" watch --redis "$R" --json --commands --count 1 >"$TMP/w1" 2>"$TMP/w1.err"
W=$BG_PID
check "watch subscribes" wait_until 10 numsub_is b00t:k0mmand3r 1
"$TASKER" send --redis "$R" --agent-id=tester '/start --task=api --command="node api.js" --env_PORT=8080'
check "send exits 0" [ $? -eq 0 ]
check "watch got the envelope" wait_until 10 lines_in "$TMP/w1" 1
env=$(cat "$TMP/w1")
check "envelope verb and params" grep -q '"verb":"start","params":{"task":"api","command":"node api.js","env_PORT":"8080"}' <<<"$env"
check "envelope has an ISO timestamp" grep -qE '"timestamp":"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z"' <<<"$env"
check "envelope has agent_id" grep -q '"agent_id":"tester"' <<<"$env"
check "envelope has a request_id" grep -qE '"request_id":"[0-9a-f]{32}"' <<<"$env"
check "envelope omits empty content" bash -c "! grep -q content <<<'$env'"
wait_until 5 bash -c "! kill -0 $W 2>/dev/null"
check "watch --count 1 exits after one message" bash -c "! kill -0 $W 2>/dev/null"

# --- --wait correlation with a fake responder ---------------------------
# The responder answers every command with a decoy reply (another
# request_id) first, then the real one, with the status given and the verb
# echoed as an executor does (send --wait counts only a reply that fits).
responder() {
	local status=$1
	redis-cli -p "$REDIS_PORT" --raw SUBSCRIBE b00t:k0mmand3r | while read -r line; do
		rid=$(grep -oE '"request_id":"[^"]*"' <<<"$line" | cut -d'"' -f4)
		verb=$(grep -oE '"verb":"[^"]*"' <<<"$line" | cut -d'"' -f4)
		[ -n "$rid" ] || continue
		redis-cli -p "$REDIS_PORT" PUBLISH b00t:task:status \
			'{"type":"task_status","task_name":"api","status":"started","request_id":"not-yours"}' >/dev/null
		redis-cli -p "$REDIS_PORT" PUBLISH b00t:task:status \
			"{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":\"$status\",\"pm_id\":3,\"request_id\":\"$rid\",\"verb\":\"$verb\",\"error\":\"$2\"}" >/dev/null
	done
}
kill "$W" 2>/dev/null
wait_until 5 numsub_is b00t:k0mmand3r 0
bg responder started ""
RESP=$BG_PID
wait_until 10 numsub_is b00t:k0mmand3r 1
out=$("$TASKER" send --redis "$R" --wait=5 '/start --task=api --command=x'); rc=$?
check "--wait exits 0 on a success reply" [ "$rc" -eq 0 ]
check "--wait prints only its own reply" bash -c "[ \$(wc -l <<<'$out') -eq 1 ] && grep -q 'started api (pm_id 3)' <<<'$out'"
kill "$RESP" 2>/dev/null; pkill -f "redis-cli -p $REDIS_PORT --raw SUBSCRIBE" 2>/dev/null
wait_until 5 numsub_is b00t:k0mmand3r 0
bg responder error "command not found: pyhton3"
wait_until 10 numsub_is b00t:k0mmand3r 1
out=$("$TASKER" send --redis "$R" --wait=5 '/start --task=api --command=pyhton3'); rc=$?
check "--wait exits 1 on an error reply" [ "$rc" -eq 1 ]
check "--wait prints the error sentence" grep -q "command not found: pyhton3" <<<"$out"
out=$("$TASKER" send --redis "$R" --wait=5 --raw '/stop --task=api'); rc=$?
check "--wait --raw prints the JSON reply" grep -q '"status":"error"' <<<"$out"
pkill -f "redis-cli -p $REDIS_PORT --raw SUBSCRIBE" 2>/dev/null
wait_until 5 numsub_is b00t:k0mmand3r 0

# A listener that never answers: exit 3 after the wait.
bg redis-cli -p "$REDIS_PORT" SUBSCRIBE b00t:k0mmand3r >/dev/null
SILENT=$BG_PID
wait_until 10 numsub_is b00t:k0mmand3r 1
"$TASKER" send --redis "$R" --wait=0.5 /status >/dev/null 2>"$TMP/err"; rc=$?
check "--wait exits 3 when nothing answers" [ "$rc" -eq 3 ]
check "--wait timeout says why" grep -q "no reply within" "$TMP/err"
kill "$SILENT"
wait_until 5 numsub_is b00t:k0mmand3r 0
"$TASKER" send --redis "$R" --wait=30 /status >/dev/null 2>"$TMP/err"; rc=$?
check "--wait exits 3 at once when nobody listens" [ "$rc" -eq 3 ]
check "nobody-listens message names the channel" grep -q "nobody is subscribed to b00t:k0mmand3r" "$TMP/err"

# Several messages from stdin, JSON and slash lines mixed.
bg "$TASKER" watch --redis "$R" --json --commands --count 3 >"$TMP/w2"
wait_until 10 numsub_is b00t:k0mmand3r 1
printf '/stop --task=a\n\n{"verb":"Stop","params":{"task":"b","instances":4}}\n/status\n' |
	"$TASKER" send --redis "$R" -
check "send - publishes every line" wait_until 10 lines_in "$TMP/w2" 3
check "send - keeps a JSON envelope and adds a request_id" \
	grep -qE '"task":"b","instances":4}.*"request_id":"[0-9a-f]{32}"' "$TMP/w2"

# --- watch output -----------------------------------------------------------
bg "$TASKER" watch --redis "$R" --count 3 >"$TMP/w3"
wait_until 10 numsub_is b00t:task:status 1
rcli PUBLISH b00t:task:status '{"type":"task_status","task_name":"w","status":"started","pm_id":1,"pm_ids":[1,2,3,4,5,6]}' >/dev/null
rcli PUBLISH b00t:task:status '{"type":"task_status","task_name":"web","status":"error","error":"cwd does not exist: /nope","timestamp":"2026-01-01T00:00:00Z","node":"n1"}' >/dev/null
rcli PUBLISH b00t:task:status 'garbage{' >/dev/null
check "watch prints three lines" wait_until 10 lines_in "$TMP/w3" 3
check "watch names several instances" grep -q "started w (pm_ids 1, 2, 3, 4, ... 6 in all)" "$TMP/w3"
check "watch line has status, task and error" grep -q "error web: cwd does not exist: /nope  \[n1\]" "$TMP/w3"
check "watch survives an unreadable message" grep -q "unreadable status message" "$TMP/w3"

# --- the subscriber survives CLIENT KILL and a server restart --------------
bg "$TASKER" watch --redis "$R" --json --count 3 >"$TMP/w4" 2>"$TMP/w4.err"
W4=$BG_PID
wait_until 10 numsub_is b00t:task:status 1
rcli PUBLISH b00t:task:status '{"status":"one"}' >/dev/null
wait_until 10 lines_in "$TMP/w4" 1
rcli CLIENT KILL TYPE pubsub >/dev/null
check "watch resubscribes after CLIENT KILL" wait_until 10 numsub_is b00t:task:status 1
rcli PUBLISH b00t:task:status '{"status":"two"}' >/dev/null
check "watch receives after CLIENT KILL" wait_until 10 file_has "$TMP/w4" '"two"'
PORT=$REDIS_PORT
stop_redis
check "watch stays up while Redis is down" alive "$W4"
start_redis "$PORT"
check "watch resubscribes after a restart" wait_until 15 numsub_is b00t:task:status 1
rcli PUBLISH b00t:task:status '{"status":"three"}' >/dev/null
check "watch receives after a restart" wait_until 10 file_has "$TMP/w4" '"three"'
check "watch logged the outage" grep -q "connection lost" "$TMP/w4.err"

# --- no Redis at all yet -----------------------------------------------------
P2=$(free_port)
bg "$TASKER" watch --redis "redis://127.0.0.1:$P2" --json --count 1 >"$TMP/w5" 2>"$TMP/w5.err"
W5=$BG_PID
check "watch says what it waits for" wait_until 10 file_has "$TMP/w5.err" "waiting for Redis at redis://127.0.0.1:$P2"
check "watch does not exit while Redis is absent" alive "$W5"
OLDPID=$REDIS_PID
REDIS_PID=
start_redis "$P2"
check "watch subscribes once Redis appears" wait_until 15 numsub_is b00t:task:status 1
rcli PUBLISH b00t:task:status '{"status":"late"}' >/dev/null
check "watch receives from the late server" wait_until 10 file_has "$TMP/w5" '"late"'
wait_until 10 bash -c "! kill -0 $W5 2>/dev/null"
stop_redis
REDIS_PID=$OLDPID
REDIS_PORT=$PORT

# --- AUTH: password, ACL user, unix socket ---------------------------------------
stop_redis
REDIS_CLI_AUTH=(-a 's3cr3t@pw' --no-auth-warning)
start_redis "" --requirepass 's3cr3t@pw'
rclia() { redis-cli -p "$REDIS_PORT" -a 's3cr3t@pw' --no-auth-warning "$@" 2>/dev/null; }
rclia ACL SETUSER alice on '>alicepw' '~*' '&*' '+@all' >/dev/null
numsub_a() { [ "$(rclia --raw PUBSUB NUMSUB b00t:task:status | sed -n 2p)" = "$1" ]; }
bg "$TASKER" watch --redis "redis://:s3cr3t%40pw@127.0.0.1:$REDIS_PORT" --json --count 1 >"$TMP/w6" 2>"$TMP/w6.err"
check "password AUTH subscribes" wait_until 10 numsub_a 1
rclia PUBLISH b00t:task:status '{"status":"authed"}' >/dev/null
check "password AUTH receives" wait_until 10 file_has "$TMP/w6" authed
wait_until 10 numsub_a 0
bg "$TASKER" watch --redis "redis://alice:alicepw@127.0.0.1:$REDIS_PORT/3" --json --count 1 >"$TMP/w7" 2>"$TMP/w7.err"
check "ACL user AUTH with a db subscribes" wait_until 10 numsub_a 1
rclia PUBLISH b00t:task:status '{"status":"acl"}' >/dev/null
check "ACL user AUTH receives" wait_until 10 file_has "$TMP/w7" acl
wait_until 10 numsub_a 0
bg "$TASKER" watch --redis "redis://alice:wrongpw@127.0.0.1:$REDIS_PORT" --json >"$TMP/w8" 2>"$TMP/w8.err"
W8=$BG_PID
check "a wrong password is reported" wait_until 10 file_has "$TMP/w8.err" "refused the credentials"
check "a wrong password is never printed" bash -c "! grep -q wrongpw '$TMP/w8.err'"
check "a wrong password does not stop watch" alive "$W8"
"$TASKER" send --redis "redis://:s3cr3t%40pw@127.0.0.1:$REDIS_PORT" /status 2>/dev/null
check "send with a password publishes" [ $? -eq 0 ]
REDIS_CLI_AUTH=()
stop_redis

start_redis "" --unixsocket "$TMP/redis.sock" --unixsocketperm 700
bg "$TASKER" watch --redis "unix://$TMP/redis.sock" --json --count 1 >"$TMP/w9" 2>"$TMP/w9.err"
check "unix socket URL subscribes" wait_until 10 numsub_is b00t:task:status 1
"$TASKER" send --redis "unix://$TMP/redis.sock?db=2" --status-channel=x --channel=b00t:task:status '/hello --via=unix'
check "unix socket send exits 0" [ $? -eq 0 ]
check "unix socket round trip" wait_until 10 file_has "$TMP/w9" '"via":"unix"'
wait_until 10 numsub_is b00t:task:status 0
stop_redis

REDIS_CLI_AUTH=(-a 'sockpw' --no-auth-warning)
start_redis "" --unixsocket "$TMP/redis2.sock" --unixsocketperm 700 --requirepass sockpw
bg "$TASKER" watch --redis "unix://:sockpw@$TMP/redis2.sock" --json --count 1 >"$TMP/w10" 2>"$TMP/w10.err"
check "a password over a unix socket subscribes" wait_until 10 bash -c "[ \"\$(redis-cli -p $REDIS_PORT -a sockpw --no-auth-warning --raw PUBSUB NUMSUB b00t:task:status 2>/dev/null | sed -n 2p)\" = 1 ]"
"$TASKER" send --redis "unix://:sockpw@$TMP/redis2.sock" --channel=b00t:task:status '/hello --via=unixauth'
check "a password over a unix socket round trip" wait_until 10 file_has "$TMP/w10" '"via":"unixauth"'
check "the socket password is never printed" bash -c "! grep -q sockpw '$TMP/w10.err'"
REDIS_CLI_AUTH=()
finish
