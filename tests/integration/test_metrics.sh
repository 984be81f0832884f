#!/usr/bin/env bash
# tasker exec --metrics against a real redis-server, a real PM2 daemon
# (private PM2_HOME) and a real Prometheus: `promtool check metrics` passes
# on a live scrape; OpenMetrics is served when asked for; the figures are
# PM2's (state and pm_id as `pm2 jlist` shows them); a Prometheus server
# started here scrapes the executor every second and its query API returns
# a task's memory and a command counter that moved after commands were
# sent; bad requests (another path, another method, a 64 KiB header, a
# silent client, too many connections) get their HTTP error while a
# command sent meanwhile is still answered promptly; the example alert
# rules of docs/metrics-alerts.yml pass `promtool check rules`, and
# `promtool test rules` with tests/integration/metrics-alerts.test.yml.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v promtool >/dev/null && command -v prometheus >/dev/null ||
	{ not_ok "promtool and prometheus are installed (Debian package prometheus; make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

# --- the option ---------------------------------------------------------------
out=$("$TASKER" exec --metrics 70000 2>&1); rc=$?
check "--metrics 70000 is a usage error (exit 2: $rc)" [ "$rc" -eq 2 ]
check "which says what it takes" has "$out" "takes \[ADDR:\]PORT"
out=$(TASKER_METRICS=nohost:1 "$TASKER" exec 2>&1); rc=$?
check "a bad TASKER_METRICS is a usage error (exit 2: $rc)" [ "$rc" -eq 2 ]
check "which names the variable" has "$out" "TASKER_METRICS takes"
out=$(TASKER_METRICS=nohost:1 "$TASKER" exec --metrics 70000 2>&1)
check "--metrics beats TASKER_METRICS" has "$out" "^tasker exec: --metrics takes"
check "--help shows --metrics" bash -c "'$TASKER' exec --help | grep -q -- '--metrics \[ADDR:\]PORT'"

MPORT=$(free_port)
M="http://127.0.0.1:$MPORT/metrics"
# Through the variable, as a PM2 ecosystem file would give it.
TASKER_METRICS=$MPORT bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
check "executor starts and says ready" wait_until 30 file_has "$TMP/exec.log" "ready: listening"
check "and where it serves metrics" file_has "$TMP/exec.log" "metrics: serving http://127.0.0.1:$MPORT/metrics"
"$TASKER" exec --metrics "$MPORT" --node other >"$TMP/second.out" 2>&1; rc=$?
check "a second executor on the same port fails (exit 1: $rc)" bash -c "[ $rc -eq 1 ] && grep -q 'cannot listen on 127.0.0.1:$MPORT' '$TMP/second.out'"

send() { "$TASKER" send --wait=20 --raw "$@" 2>>"$TMP/send.err"; }
out=$(send '/start --task=web --command="sleep 600"')
check "start web: started" has "$out" '"status":"started"'
out=$(send '/start --task=db --command="sleep 600"')
check "start db: started" has "$out" '"status":"started"'

scrape() { curl -s --max-time 5 "$@" "$M"; }
pm2_id() { "$PM2" jlist 2>/dev/null | jq -r ".[] | select(.name==\"$1\") | .pm_id"; }
pm2_status() { "$PM2" jlist 2>/dev/null | jq -r ".[] | select(.name==\"$1\") | .pm2_env.status"; }
WEB_ID=$(pm2_id web)
# series NAME LABELS: the value of one series of a text scrape ("" if none).
series() { scrape | grep -F "$1{$2}" | head -n 1 | awk '{print $2}'; }
listed() { [ "$(series tasker_task_state "node=\"$(hostname)\",task=\"db\",pm_id=\"$(pm2_id db)\",state=\"online\"")" = 1 ]; }
check "the listing after the starts is served (both tasks online)" wait_until 20 listed
check "web's state series say online, as pm2 jlist does ($(pm2_status web))" bash -c "[ '$(pm2_status web)' = online ] && [ '$(series tasker_task_state "node=\"$(hostname)\",task=\"web\",pm_id=\"$WEB_ID\",state=\"online\"")' = 1 ] && [ '$(series tasker_task_state "node=\"$(hostname)\",task=\"web\",pm_id=\"$WEB_ID\",state=\"stopped\"")' = 0 ]"
mem=$(series tasker_task_memory_bytes "node=\"$(hostname)\",task=\"web\",pm_id=\"$WEB_ID\"")
check "web's memory is a byte count above 100 KiB ($mem)" bash -c "[ -n '$mem' ] && [ '$mem' -gt 102400 ]"
# CPU seconds from /proc: no more than the process has really used (read after).
cpu=$(series tasker_task_cpu_seconds_total "node=\"$(hostname)\",task=\"web\",pm_id=\"$WEB_ID\"")
web_pid=$(PM2_HOME="$PM2_HOME" "$PM2" jlist 2>/dev/null | jq -r '.[] | select(.name == "web") | .pid')
proc_cpu=$(awk '{sub(/.*\) /, ""); print ($12 + $13) / 100}' "/proc/$web_pid/stat" 2>/dev/null)
check "web's CPU seconds come from /proc ($cpu <= $proc_cpu)" bash -c "[ -n '$cpu' ] && awk -v a='$cpu' -v b='$proc_cpu' 'BEGIN { exit !(a >= 0 && a <= b + 0.001) }'"

scrape >"$TMP/scrape.txt"
check "promtool check metrics passes on a live scrape" bash -c "promtool check metrics <'$TMP/scrape.txt' >'$TMP/promtool.out' 2>&1"
check "it has every executor family" bash -c "for f in tasker_build_info tasker_task_restarts_total tasker_task_cpu_usage_ratio tasker_task_cpu_seconds_total tasker_task_start_time_seconds tasker_commands_total tasker_command_duration_seconds_bucket tasker_commands_in_flight tasker_stream_entries_pending tasker_stream_entries_redelivered_total tasker_commands_expired_total tasker_policy_refusals_total tasker_redis_reconnects_total tasker_pm2_call_errors_total; do grep -q \"^\$f\" '$TMP/scrape.txt' || exit 1; done"
check "build info carries the version" grep -q "^tasker_build_info{node=\"$(hostname)\",version=\"$("$TASKER" --version | grep -o '[0-9][0-9.]*' | head -n 1)\"} 1$" "$TMP/scrape.txt"
hdr=$(curl -s --max-time 5 -D - -o /dev/null "$M")
check "text format: Content-Type version=0.0.4" has "$hdr" "Content-Type: text/plain; version=0.0.4"

OM="application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
curl -s --max-time 5 -D "$TMP/om.hdr" -H "Accept: $OM" "$M" >"$TMP/om.txt"
check "OpenMetrics when asked: its Content-Type" grep -q "Content-Type: application/openmetrics-text; version=1.0.0" "$TMP/om.hdr"
check "OpenMetrics: ends with # EOF" bash -c "[ \"\$(tail -n 1 '$TMP/om.txt')\" = '# EOF' ]"
check "OpenMetrics: counters typed by family, samples _total" bash -c "grep -q '^# TYPE tasker_commands counter$' '$TMP/om.txt' && grep -q '^tasker_commands_total{' '$TMP/om.txt' && grep -q '^# TYPE tasker_task_restarts counter$' '$TMP/om.txt'"
check "OpenMetrics: units" bash -c "grep -q '^# UNIT tasker_task_memory_bytes bytes$' '$TMP/om.txt' && grep -q '^# UNIT tasker_command_duration_seconds seconds$' '$TMP/om.txt'"
check "OpenMetrics: build info typed info" grep -q '^# TYPE tasker_build info$' "$TMP/om.txt"
check "OpenMetrics: no family typed twice" bash -c "[ -z \"\$(grep '^# TYPE' '$TMP/om.txt' | awk '{print \$3}' | sort | uniq -d)\" ]"

# --- a real Prometheus --------------------------------------------------------
PPORT=$(free_port)
mkdir -p "$TMP/prom"
cat >"$TMP/prom/prometheus.yml" <<EOF
global:
  scrape_interval: 1s
  evaluation_interval: 1s
rule_files:
  - $ROOT/docs/metrics-alerts.yml
scrape_configs:
  - job_name: tasker
    static_configs:
      - targets: ['127.0.0.1:$MPORT']
EOF
bg prometheus --config.file="$TMP/prom/prometheus.yml" --storage.tsdb.path="$TMP/prom/data" \
	--web.listen-address="127.0.0.1:$PPORT" --log.level=warn >"$TMP/prom/prom.log" 2>&1
PROM=$BG_PID
# query EXPR: the first result's value ("" when none).
query() {
	curl -s --max-time 5 -G "http://127.0.0.1:$PPORT/api/v1/query" --data-urlencode "query=$1" 2>/dev/null |
		jq -r '.data.result[0].value[1] // empty' 2>/dev/null
}
query_is() { [ "$(query "$1")" = "$2" ]; }
query_gt() { local v; v=$(query "$1"); [ -n "$v" ] && awk -v v="$v" -v m="$2" 'BEGIN { exit !(v > m) }'; }
check "prometheus scrapes the executor (up == 1)" wait_until 60 query_is 'up{job="tasker"}' 1
check "its API returns web's memory (> 100 KiB)" wait_until 30 query_gt "tasker_task_memory_bytes{task=\"web\",pm_id=\"$WEB_ID\"}" 102400
check "and web's state online" wait_until 30 query_is 'tasker_task_state{task="web",state="online"}' 1
stops=$(query 'sum(tasker_commands_total{verb="stop",outcome="stopped"})')
check "no stop counted before any stop (${stops:-none})" [ -z "$stops" ]
for t in web db; do
	out=$(send "/stop --task=$t")
	check "stop $t: stopped" has "$out" '"status":"stopped"'
done
check "the command counter moved in prometheus (2 stops)" wait_until 30 query_is 'sum(tasker_commands_total{verb="stop",outcome="stopped"})' 2
check "the latency histogram counted 4 commands" wait_until 30 query_is 'sum(tasker_command_duration_seconds_count)' 4
check "web's stopped state reaches prometheus" wait_until 30 query_is 'tasker_task_state{task="web",state="stopped"}' 1
check "the example alert rules are loaded" bash -c "curl -s 'http://127.0.0.1:$PPORT/api/v1/rules' | jq -e '[.data.groups[].rules[].name] | index(\"TaskerRestartStorm\") != null' >/dev/null"

# --- expired commands and Redis reconnects are counted ---------------------------
value() { scrape | awk -v n="$1" '$1 == n {print $2}'; }
value_ge() { local v; v=$(value "$1"); [ -n "$v" ] && [ "$v" -ge "$2" ]; }
check "no command expired yet" [ "$(value tasker_commands_expired_total)" = 0 ]
out=$(req '{"verb":"start","params":{"task":"late","command":"sleep 600"},"timestamp":"2025-11-17T15:00:00Z"}')
check "a command past its ttl is answered expired" has "$out" '"status":"expired"'
check "and counted: tasker_commands_expired_total 1" [ "$(value tasker_commands_expired_total)" = 1 ]
check "as verb start, outcome expired" [ "$(series tasker_commands_total 'verb="start",outcome="expired"')" = 1 ]
# A signed command whose signature does not match is refused and counted.
check "no refusal yet" [ "$(value tasker_policy_refusals_total)" = 0 ]
forged=$(python3 -c '
import base64, json, sys, time
inner = json.dumps({"verb": "status", "request_id": "forged-1", "timestamp": int(time.time() * 1000)})
print(json.dumps({"signed": base64.b64encode(inner.encode()).decode(),
                  "key": "ed25519:" + base64.b64encode(bytes(range(32))).decode(),
                  "sig": base64.b64encode(bytes(64)).decode()}))')
rcli PUBLISH b00t:k0mmand3r "$forged" >/dev/null
check "a forged signature is refused" wait_until 20 bash -c "grep '\"request_id\":\"forged-1\"' '$TMP/status.log' | grep -q '\"status\":\"unauthenticated\"'"
check "and counted: tasker_policy_refusals_total 1" wait_until 10 bash -c "[ \"\$(curl -s --max-time 5 '$M' | awk '\$1 == \"tasker_policy_refusals_total\" {print \$2}')\" = 1 ]"
check "no reconnect yet" [ "$(value tasker_redis_reconnects_total)" = 0 ]
PORT0=$REDIS_PORT
stop_redis
start_redis "$PORT0"
check "a Redis restart is counted as a reconnect" wait_until 30 value_ge tasker_redis_reconnects_total 1
check "PM2 call errors is a count" bash -c "[[ '$(value tasker_pm2_call_errors_total)' =~ ^[0-9]+\$ ]]"

# --- bad scrapes never stall the loop ------------------------------------------
code() { curl -s --max-time 5 -o /dev/null -w '%{http_code}' "$@"; }
check "another path: 404" [ "$(code "http://127.0.0.1:$MPORT/")" = 404 ]
check "/metrics/x: 404" [ "$(code "$M/x")" = 404 ]
check "POST: 405" [ "$(code -X POST --data x "$M")" = 405 ]
check "405 says Allow: GET, HEAD" bash -c "curl -s -D - -o /dev/null -X DELETE '$M' | grep -qi '^Allow: GET, HEAD'"
check "HEAD: 200" [ "$(code -I "$M")" = 200 ]
big=$(head -c 65536 /dev/zero | tr '\0' a)
check "a 64 KiB header: 431" [ "$(code -H "X-Big: $big" "$M")" = 431 ]

# A command answered within 3 s while clients misbehave (a loop that
# stalled would hold it).
prompt() {
	local t0 t1 out
	t0=$(date +%s%N)
	out=$(send "/status")
	t1=$(date +%s%N)
	echo "$(((t1 - t0) / 1000000)) ms" >>"$TMP/prompt.log"
	has "$out" '"status":"ok"' && [ $(((t1 - t0) / 1000000)) -lt 3000 ]
}
# Slow clients: a request line and half a header, then silence.
exec 7<>"/dev/tcp/127.0.0.1/$MPORT"
SLOW_AT=$SECONDS
printf 'GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ' >&7
# Big headers, many at once, while a command is sent.
CURLS=()
for i in 1 2 3 4 5 6 7 8; do
	curl -s --max-time 10 -o /dev/null -H "X-Big: $big" "$M" &
	CURLS+=($!)
done
check "a command is answered promptly during bad scrapes" prompt
wait "${CURLS[@]}"
check "a good scrape works beside the slow client" [ "$(code "$M")" = 200 ]
# Too many connections: 40 silent ones (the limit is 32).
for fd in $(seq 10 49); do eval "exec $fd<>/dev/tcp/127.0.0.1/$MPORT" 2>/dev/null; done
check "a command is answered promptly with 40 idle connections open" prompt
check "past the limit a scrape is refused, not queued (no 200 within 2 s)" bash -c "[ \"\$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' '$M')\" != 200 ]"
for fd in $(seq 10 49); do eval "exec $fd>&-"; done
check "once they close, scrapes work again" wait_until 15 bash -c "[ \"\$(curl -s --max-time 2 -o /dev/null -w '%{http_code}' '$M')\" = 200 ]"
# The silent client is dropped after the connection timeout (10 s).
slow_closed() { timeout 1 cat <&7 >/dev/null; [ $? -ne 124 ]; }
check "the silent client is disconnected by the timeout" wait_until 20 slow_closed
check "after about 10 s, not at once ($((SECONDS - SLOW_AT)) s)" [ $((SECONDS - SLOW_AT)) -ge 8 ]
exec 7>&-
check "the executor is still alive" alive "$EXEC"
check "prometheus still sees it up" wait_until 20 query_is 'up{job="tasker"}' 1

# --- the alert rules ------------------------------------------------------------
check "promtool check rules passes on docs/metrics-alerts.yml" \
	bash -c "promtool check rules '$ROOT/docs/metrics-alerts.yml' >'$TMP/rules.out' 2>&1 && grep -q 'SUCCESS: 3 rules found' '$TMP/rules.out'"
check "promtool test rules: each alert fires on its series, and only then" \
	bash -c "promtool test rules '$ROOT/tests/integration/metrics-alerts.test.yml' >'$TMP/rules-test.out' 2>&1"
kill "$EXEC"
check "executor down: up == 0 for its job" wait_until 30 query_is 'up{job="tasker"}' 0

finish
