#!/usr/bin/env bash
# Failover under a policy (docs/security.md, "Failover under a policy"):
# three executors as three nodes, each with its own PM2 daemon and its own
# key, pinned in the policy's [executors] or the trust file; unsigned commands refused
# (role "none"). A failover task started by the signed agent alpha on n1 is
# moved, when n1's executor is SIGKILLed, as a start signed by the moving
# executor in the failover context: it runs once on n2 or n3, owned by
# alpha, and the audit says "failover by executor ... for alpha". A forged
# unsigned start written straight into a node's stream with a
# failover-looking request_id is refused; so is a failover start for an
# owner whose failover fields an agent wrote into its own signed command.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis "" || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export TASKER_PRESENCE_TTL=10 TASKER_FAILOVER_GRACE=2
P='b00t:{tasker}:b00t:k0mmand3r:'
K=$TMP/keys
mkdir -p "$K" "$TMP/srv/agents"
(cd "$K" && for k in alpha n1 n2 n3; do "$TASKER" key new "$k" >/dev/null; done)
SRV=$(realpath "$TMP/srv/agents")

cat >"$TMP/policy.toml" <<EOF
[unsigned]
role = "none"

[agents.alpha]
key = "$(cat "$K/alpha.pub")"
role = "specialist"

[roles.specialist]
verbs = ["start", "stop", "restart", "delete", "status", "logs"]
own_tasks_only = true
tasks = ["agent-*"]
programs = ["sleep"]
cwd = ["$SRV"]
max_instances = 2

[executors]
n1 = "$(cat "$K/n1.pub")"
n2 = "$(cat "$K/n2.pub")"
EOF
# n3's key is pinned in the trust file instead (either way is accepted).
printf 'n3 %s\n' "$(cat "$K/n3.pub")" >"$TMP/trust"

declare -A EX
for node in n1 n2 n3; do
	mkdir -p "$TMP/pm2-$node"
	PM2_HOME="$TMP/pm2-$node" bg "$TASKER" exec --node "$node" --pm2-home "$TMP/pm2-$node" \
		--key "$K/$node.key" --policy "$TMP/policy.toml" --trust "$TMP/trust" --cwd-base "$TMP" \
		--log-level=debug >>"$TMP/exec-$node.log" 2>&1
	EX[$node]=$BG_PID
done
for node in n1 n2 n3; do
	check "executor $node is ready" wait_until 20 file_has "$TMP/exec-$node.log" "ready: listening"
done

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1
all_seen() { "$TASKER" send --key "$K/alpha.key" --wait=10 --raw '/status' 2>/dev/null | grep -q '"nodes":\["n[123]","n[123]","n[123]"\]'; }
check "the fleet sees three nodes" wait_until 30 all_seen

as_alpha() { "$TASKER" send --key "$K/alpha.key" --wait=20 --raw "$1" 2>&1; }
online() { "$TASKER" ls --pm2-home "$TMP/pm2-$1" --json 2>/dev/null | grep -q "\"name\":\"$2\",\"pm_id\":[0-9]*,\"status\":\"online\""; }
copies() { local n=0 node; for node in n2 n3; do online "$node" "$1" && n=$((n + 1)); done; echo "$n"; }
def() { rcli --raw HGET "${P}def:$1" "$2"; }

out=$("$TASKER" send --wait=10 --raw "/start --task=agent-u --node=n1 --command='sleep 600' --cwd=$SRV" 2>&1)
check "unsigned is refused (role none)" has "$out" '"status":"unauthenticated"\|"status":"denied"'

out=$(as_alpha "/start --task=agent-fo --node=n1 --failover=true --command='sleep 600' --cwd=$SRV")
check "alpha starts agent-fo (failover) on n1" has "$out" '"status":"started".*"node":"n1"'
check "its definition records the owner alpha" [ "$(def agent-fo owner)" = alpha ]
check "... and alpha's key" [ "$(def agent-fo owner_key)" = "$(cat "$K/alpha.pub")" ]

# --- n1 is lost -------------------------------------------------------------------------
kill -KILL "${EX[n1]}"
wait "${EX[n1]}" 2>/dev/null
moved() { [ "$(copies agent-fo)" -eq 1 ]; }
check "agent-fo runs on exactly one of n2, n3 after the failover" wait_until 60 moved
to=$(def agent-fo node)
check "its definition names that node" bash -c "[ '$to' = n2 ] || [ '$to' = n3 ]"
wait_until 5 bash -c "[ \"\$(grep -c '\"task_name\":\"agent-fo\".*\"status\":\"started\"' '$TMP/status.log')\" -ge 2 ]"
check "the moved start was not refused" bash -c "! grep '\"task_name\":\"agent-fo\"' '$TMP/status.log' | grep -q '\"status\":\"\(unauthenticated\|denied\|stale\|error\)\"'"
check "it is still one copy a moment later" [ "$(copies agent-fo)" -eq 1 ]
"$TASKER" ls --pm2-home "$TMP/pm2-$to" --json >"$TMP/ls.json" 2>/dev/null
check "tasker ls on $to: agent-fo is owned by alpha" grep -q '"name":"agent-fo",[^}]*"owner":"alpha"' "$TMP/ls.json"
pid=$(python3 -c 'import json,sys; print([p["pid"] for p in json.load(open(sys.argv[1])) if p["name"]=="agent-fo"][0])' "$TMP/ls.json" 2>/dev/null)
check "its environment has TASKER_OWNER=alpha" grep -qa "TASKER_OWNER=alpha" "/proc/$pid/environ"
check "... and alpha's key" grep -qaF "TASKER_OWNER_KEY=$(cat "$K/alpha.pub")" "/proc/$pid/environ"
check "the new definition still records alpha" [ "$(def agent-fo owner)" = alpha ]
"$TASKER" audit --since 10m --json >"$TMP/audit.json" 2>/dev/null
check "the audit: the start allowed, failover by executor n2|n3 for alpha" grep -q '"decision":"allow".*"agent":"alpha".*"verb":"start","task":"agent-fo".*failover by executor n[23] for alpha' "$TMP/audit.json"

# --- forged and lying starts ---------------------------------------------------------------
forged='{"verb":"start","request_id":"failover-agent-forged-2","params":{"task":"agent-forged","command":"sleep 600","cwd":"'$SRV'"},"failover":{"owner":"alpha","owner_key":"'$(cat "$K/alpha.pub")'","by":"n3","from":"n1","epoch":2}}'
rcli XADD "${P}node:n2" '*' m "$forged" t "$(date +%s%3N)" >/dev/null
refused_forged() { grep '"request_id":"failover-agent-forged-2"' "$TMP/status.log" | grep -q '"status":"unauthenticated"'; }
check "a forged unsigned failover start in n2's stream is refused" wait_until 20 refused_forged
check "... and nothing is started" bash -c "! '$TASKER' ls --pm2-home '$TMP/pm2-n2' --json | grep -q agent-forged"
"$TASKER" audit --since 10m --json >"$TMP/audit.json" 2>/dev/null
check "... and audited" grep -q '"decision":"deny".*"task":"agent-forged"' "$TMP/audit.json"

# The moved start, captured from its node's stream and appended to the
# other survivor's: bound to its node, it is refused there.
moved_start=$(rcli --raw XRANGE "${P}node:$to" - + | grep -F '"signed"' | tail -1)
mover_key=$(sed -n 's/.*"key":"\([^"]*\)".*/\1/p' <<<"$moved_start")
check "the moved start in $to's stream is signed by a surviving executor's key" bash -c "[ '$mover_key' = '$(cat "$K/n2.pub")' ] || [ '$mover_key' = '$(cat "$K/n3.pub")' ]"
other=n2; [ "$to" = n2 ] && other=n3
rcli XADD "${P}node:$other" '*' m "$moved_start" t "$(date +%s%3N)" >/dev/null
refused_copy() { grep '"request_id":"failover-agent-fo-2"' "$TMP/status.log" | grep '"node":"'$other'"' | grep -q '"status":"unauthenticated".*not this one'; }
check "a copy of it appended to $other's stream is refused" wait_until 20 refused_copy
check "... and agent-fo still runs once" [ "$(copies agent-fo)" -eq 1 ]

# alpha signs (command context) a start carrying failover fields for
# another owner: the fields grant nothing, it is judged as alpha.
out=$("$TASKER" send --key "$K/alpha.key" --wait=20 --raw --json '{"verb":"start","params":{"task":"other-x","command":"sleep 600","cwd":"'$SRV'","node":"n2"},"failover":{"owner":"ops","owner_key":"'$(cat "$K/n1.pub")'","by":"n1"}}' 2>&1)
check "failover fields in an agent's own command grant nothing" has "$out" '"status":"denied"'

# SIGHUP reads the trust file again with the policy; a broken one keeps the pins.
cp "$TMP/trust" "$TMP/trust.good"
echo 'n9 not-a-key' >>"$TMP/trust"
kill -HUP "${EX[n2]}"
check "SIGHUP with a broken trust file logs why" wait_until 10 file_has "$TMP/exec-n2.log" "trust file was not reloaded"
cp "$TMP/trust.good" "$TMP/trust"
kill -HUP "${EX[n2]}"
check "SIGHUP with a good trust file reloads it" wait_until 10 file_has "$TMP/exec-n2.log" "trust file $TMP/trust reloaded"

for node in n2 n3; do check "executor $node is alive" alive "${EX[$node]}"; done
finish
