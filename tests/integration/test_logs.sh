#!/usr/bin/env bash
# The logs verb against a real redis-server and real PM2 daemons (private
# PM2_HOMEs): the last lines of a task's stdout and stderr (count, order,
# stream tag, lines=N, the fair share of each stream), a line cut at 4096
# bytes, a huge log answered at once under 256 KiB, not_found and invalid
# params, a follow streamed to Redis with its end entry (timeout, deleted,
# the executor shutting down), `tasker logs` (escapes shown escaped, --json
# exact, exit codes), and in a fleet of two nodes the node holding the task
# answering.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME"
LOGGER="$ROOT/tests/integration/helpers/logger.sh"

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1

bg "$TASKER" exec --log-level=debug --cwd-base "$TMP" >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
check "executor is ready" wait_until 20 file_has "$TMP/exec.log" "ready: listening"

started() {
	local out
	out=$(req "{\"verb\":\"start\",\"params\":{\"task\":\"$1\",\"command\":\"$LOGGER $2\"}}")
	has "$out" '"status":"started"'
}
LOGS="$PM2_HOME/logs"
mkfifo "$TMP/flag"
check "task lg starts" started lg "lines $TMP/flag"
check "task odd starts" started odd odd
check "task big starts" started big big
check "lg printed its lines" wait_until 20 bash -c "grep -q out-50 '$LOGS/lg-out.log' && grep -q err-20 '$LOGS/lg-error.log'"
check "odd printed its lines" wait_until 20 file_has "$LOGS/odd-out.log" odd-end
check "big printed its lines" wait_until 30 file_has "$LOGS/big-out.log" big-last

# texts JSON: the reply's lines as "s:l", one per line.
texts() { jq -r '.lines[] | "\(.s):\(.l)"' <<<"$1"; }

# --- the last lines ----------------------------------------------------------
out=$(req '{"verb":"logs","params":{"task":"lg"}}')
check "logs lg: ok" has "$out" '"status":"ok"'
check "the reply names verb, task and node" has "$out" '"task_name":"lg".*"verb":"logs","node":"'
check "not truncated" [ "$(jq -r .truncated <<<"$out")" = false ]
check "no stream without a follow" [ "$(jq -r '.stream // "none"' <<<"$out")" = none ]
expect=$( (for i in $(seq 1 50); do echo "out:out-$i"; done; for i in $(seq 1 20); do echo "err:err-$i"; done))
check "all 70 lines by default (100): stdout in order, then stderr in order" [ "$(texts "$out")" = "$expect" ]

out=$(req '{"verb":"logs","params":{"task":"lg","lines":"10"}}')
expect=$( (for i in $(seq 46 50); do echo "out:out-$i"; done; for i in $(seq 16 20); do echo "err:err-$i"; done))
check "lines=10: the last 5 of each stream" [ "$(texts "$out")" = "$expect" ]
out=$(req '{"verb":"logs","params":{"task":"lg","lines":60}}')
expect=$( (for i in $(seq 11 50); do echo "out:out-$i"; done; for i in $(seq 1 20); do echo "err:err-$i"; done))
check "lines=60 (a JSON number): stderr's 20 whole, stdout's last 40" [ "$(texts "$out")" = "$expect" ]
out=$(req '{"verb":"logs","params":{"task":"lg","lines":"0"}}')
check "lines=0: ok with no lines" [ "$(jq -r '.status + " " + (.lines | length | tostring)' <<<"$out")" = "ok 0" ]

out=$(req '{"verb":"logs","params":{"task":"odd"}}')
long=$(jq -r '.lines[] | select(.l | startswith("long:")) | .l' <<<"$out")
check "a line of 5005 bytes is cut at 4096" [ "${#long}" -eq 4096 ]
check "and the lines after it are whole" [ "$(jq -r '.lines[-1].l' <<<"$out")" = odd-end ]
check "escape sequences come exact in the JSON" [ "$(jq -r '.lines[1].l' <<<"$out")" = "$(printf 'esc:\033[31mred\033[0m')" ]

out=$(req '{"verb":"logs","params":{"task":"big","lines":"5000"}}')
bytes=$(printf '%s' "$out" | wc -c)
check "a 6 MB log is answered" [ "$(jq -r .status <<<"$out")" = ok ]
check "the reply stays under 256 KiB ($bytes bytes)" [ "$bytes" -lt 262144 ]
check "and says truncated" [ "$(jq -r .truncated <<<"$out")" = true ]
check "with the newest line last" [ "$(jq -r '.lines[-1].l' <<<"$out")" = big-last ]
n=$(jq '.lines | length' <<<"$out")
check "and a few thousand lines ($n)" [ "$n" -gt 2000 ]
hist=$(rcli --raw XREVRANGE 'b00t:{tasker}:status' + - COUNT 20 | grep '"verb":"logs"' | grep '"task_name":"big"' | head -n 1)
slim() { [ -n "$hist" ] && ! grep -q '"lines":\[' <<<"$hist"; }
check "the history keeps that reply without its lines" slim
check "saying how many it left out" [ "$(jq -r .lines_omitted <<<"$hist")" = "$n" ]

# --- refusals -----------------------------------------------------------------
out=$(req '{"verb":"logs","params":{"task":"nosuch"}}')
check "unknown task: not_found" has "$out" '"status":"not_found".*no task named nosuch'
invalid() {
	local out
	out=$(req "{\"verb\":\"logs\",\"params\":{\"task\":\"lg\",$1}}")
	has "$out" '"status":"invalid"' && has "$out" "$2"
}
check "lines=5001: invalid" invalid '"lines":"5001"' 'lines must be a whole number from 0 to 5000'
check "lines=-1: invalid" invalid '"lines":-1' 'lines must be a whole number'
check "lines=abc: invalid" invalid '"lines":"abc"' 'lines must be a whole number'
check "lines=2.5: invalid" invalid '"lines":2.5' 'lines must be a whole number'
check "lines=true: invalid" invalid '"lines":true' 'lines must be a whole number'
check "follow=3601: invalid" invalid '"follow":"3601"' 'follow must be a whole number of seconds from 0 to 3600'
check "follow=x: invalid" invalid '"follow":"x"' 'follow must be'
out=$(req '{"verb":"logs","params":{"task":"9"}}')
check "a bad task name: error" has "$out" '"status":"error".*must not be all digits'

# --- follow ----------------------------------------------------------------------
rcli DEL "b00t:{tasker}:logs:fol-1" >/dev/null
rcli PUBLISH b00t:k0mmand3r '{"verb":"logs","params":{"task":"lg","lines":"0","follow":"3"},"request_id":"fol-1"}' >/dev/null
check "a follow is answered at once" wait_until 10 file_has "$TMP/status.log" '"request_id":"fol-1"'
out=$(grep '"request_id":"fol-1"' "$TMP/status.log" | head -n 1)
check "with its stream" [ "$(jq -r .stream <<<"$out")" = "b00t:{tasker}:logs:fol-1" ]
timeout 10 sh -c 'echo go >"$1"' _ "$TMP/flag" # the task goes on
stream() { rcli XRANGE "b00t:{tasker}:logs:fol-1" - + | tr '\n' ' '; }
stream_has() { grep -q -- "$1" <<<"$(stream)"; }
check "lines printed after it come on the stream" wait_until 10 stream_has 's out l late-1 [^ ]* s out l late-2'
check "stderr's too" stream_has 's err l late-err'
check "then the end entry, after the timeout" wait_until 10 stream_has 'end timeout'
check "which is the last entry" [ "$(rcli XREVRANGE "b00t:{tasker}:logs:fol-1" + - COUNT 1 | sed -n 2p)" = end ]
ttl=$(rcli TTL "b00t:{tasker}:logs:fol-1")
check "the stream expires ($ttl s)" [ "$ttl" -gt 0 ] && [ "$ttl" -le 64 ]
check "the follow held no command slot: the executor answers meanwhile" has "$(req '{"verb":"status"}')" '"status":"ok"'

# --- tasker logs ------------------------------------------------------------------------
"$TASKER" logs --lines 3 lg >"$TMP/t.out" 2>"$TMP/t.err"
rc=$?
check "tasker logs exits 0 ($rc)" [ "$rc" -eq 0 ]
check "stdout lines on stdout (2 of the 3)" [ "$(cat "$TMP/t.out")" = "$(printf 'late-1\nlate-2')" ]
check "stderr lines on stderr" grep -qx "late-err" "$TMP/t.err"
"$TASKER" logs odd >"$TMP/t.out" 2>&1
check "escape sequences are shown escaped" grep -qF 'esc:\x1b[31mred\x1b[0m' "$TMP/t.out"
check "never raw" bash -c "! grep -q $'\033' '$TMP/t.out'"
"$TASKER" logs --json odd >"$TMP/t.json" 2>/dev/null
check "--json prints the reply exact" [ "$(jq -r '.lines[1].l' "$TMP/t.json")" = "$(printf 'esc:\033[31mred\033[0m')" ]
"$TASKER" logs nosuch >/dev/null 2>"$TMP/t.err"
rc=$?
check "tasker logs of an unknown task exits 1 ($rc)" [ "$rc" -eq 1 ]
check "and says not_found" grep -q "not_found\|no task named nosuch" "$TMP/t.err"
"$TASKER" logs --lines 9999 lg >/dev/null 2>&1
check "--lines 9999 is a usage error (2)" [ $? -eq 2 ]
"$TASKER" logs --help >"$TMP/help" 2>&1
check "tasker logs --help exits 0 with a usage line" grep -q "Usage: tasker logs" "$TMP/help"
"$TASKER" logs >/dev/null 2>&1
check "tasker logs without a TASK is a usage error (2)" [ $? -eq 2 ]
"$TASKER" --redis redis://127.0.0.1:1 logs --wait 1 lg >/dev/null 2>"$TMP/t.err"
rc=$?
check "Redis unreachable: exit 1 ($rc)" [ "$rc" -eq 1 ]
check "and says it could not publish" grep -q "could not publish within 1 s" "$TMP/t.err"
out=$("$TASKER" send --wait=10 --raw '/logs --task=lg --lines=2' 2>&1)
check "tasker send --wait takes a logs reply" has "$out" '"status":"ok"'
out=$("$TASKER" send --wait=10 '/logs --task=lg --lines=3' 2>&1)
check "and says how many lines, not the lines ($out)" has "$out" 'logs lg (pm_id [0-9]*): 3 lines$'

check "task tick starts" started tick tick
"$TASKER" logs --lines 0 --follow=2 tick >"$TMP/f.out" 2>"$TMP/f.err"
rc=$?
check "tasker logs --follow=2 exits 0 after the end entry ($rc)" [ "$rc" -eq 0 ]
n=$(grep -c '^tick-[0-9]*$' "$TMP/f.out")
check "it printed the lines written meanwhile ($n)" [ "$n" -ge 3 ]
check "and said why it ended" grep -q "the follow ended: timeout" "$TMP/f.err"
"$TASKER" logs --json --lines 0 --follow=1 tick >"$TMP/f.json" 2>/dev/null
check "--json --follow: entries as JSON, then the end" bash -c "grep -q '^{\"s\":\"out\",\"l\":\"tick-[0-9]*\"}$' '$TMP/f.json' && tail -n 1 '$TMP/f.json' | grep -qx '{\"end\":\"timeout\"}'"

rcli PUBLISH b00t:k0mmand3r '{"verb":"logs","params":{"task":"tick","lines":"0","follow":"60"},"request_id":"fol-del"}' >/dev/null
check "a follow of tick is answered" wait_until 10 file_has "$TMP/status.log" '"request_id":"fol-del"'
# A file that shrank is read again from 0: 1 MB of blank lines, then the
# file emptied (pm2 flush, a copy-and-truncate rotation); a follow that kept
# its offset would see nothing for a long while.
ticks() { redis-cli -p "$REDIS_PORT" XRANGE 'b00t:{tasker}:logs:fol-del' - + | sed -n 's/^tick-//p' | sort -n | tail -n 1; }
check "tick lines come on the stream" wait_until 10 bash -c "redis-cli -p $REDIS_PORT XRANGE 'b00t:{tasker}:logs:fol-del' - + | grep -q '^tick-'"
head -c 1000000 /dev/zero | tr '\0' '\n' >>"$LOGS/tick-out.log"
check "the 1 MB is read past" wait_until 10 bash -c "[ \$(redis-cli -p $REDIS_PORT XLEN 'b00t:{tasker}:logs:fol-del') -ge 1000 ]"
: >"$LOGS/tick-out.log"
m=$(ticks)
after_trunc() { [ "$(ticks)" -gt $((m + 2)) ]; }
check "after the file was emptied, its new lines come (past tick-$m)" wait_until 5 after_trunc
check "tick is deleted" has "$(req '{"verb":"delete","params":{"task":"tick"}}')" '"status":"deleted"'
check "the follow ends: deleted" wait_until 10 bash -c "redis-cli -p $REDIS_PORT XRANGE 'b00t:{tasker}:logs:fol-del' - + | grep -qx deleted"

# Over the bound: 32 follows, then busy.
for i in $(seq 1 33); do
	rcli PUBLISH b00t:k0mmand3r "{\"verb\":\"logs\",\"params\":{\"task\":\"lg\",\"lines\":\"0\",\"follow\":\"60\"},\"request_id\":\"many-$i\"}" >/dev/null
done
check "33 follows are answered" wait_until 10 file_has "$TMP/status.log" '"request_id":"many-33"'
nbusy=$(grep '"request_id":"many-' "$TMP/status.log" | grep -c '"status":"busy"')
check "the 33rd is busy (busy: $nbusy)" [ "$nbusy" -eq 1 ]
kill -TERM "$EXEC"
check "the executor stops" wait_until 15 bash -c "! kill -0 $EXEC 2>/dev/null"
check "its follows end with an end entry on the way" bash -c "redis-cli -p $REDIS_PORT XRANGE 'b00t:{tasker}:logs:many-1' - + | grep -q 'shutting down'"

# No executor now: the command waits in the fleet's stream, as send's do.
"$TASKER" logs --wait 2 --lines 1 nobody-home >/dev/null 2>"$TMP/t.err"
rc=$?
check "tasker logs with no executor: exit 3 ($rc)" [ "$rc" -eq 3 ]
check "and says nobody listens" grep -q "nobody is subscribed" "$TMP/t.err"
check "the command was admitted into the fleet's stream" bash -c "redis-cli -p $REDIS_PORT XRANGE 'b00t:{tasker}:b00t:k0mmand3r:commands' - + | grep -q 'nobody-home'"

# --- a fleet of two nodes: the node holding the task answers -----------------------
start_node() {
	mkdir -p "$TMP/pm2-$1"
	PM2_HOME="$TMP/pm2-$1" bg "$TASKER" exec --node "$1" --pm2-home "$TMP/pm2-$1" \
		--cwd-base "$TMP" --log-level=debug >>"$TMP/exec-$1.log" 2>&1
	wait_until 20 file_has "$TMP/exec-$1.log" "ready: listening"
}
check "node n1 is ready" start_node n1
check "node n2 is ready" start_node n2
# Each executor dispatches from its own view of the fleet (refreshed every
# second): both must see both nodes before a command may go either way.
sees_both() { grep -q "first view: 2 live node\|2 live node(s) now" "$TMP/exec-$1.log"; }
check "n1 sees both nodes" wait_until 20 sees_both n1
check "n2 sees both nodes" wait_until 20 sees_both n2
out=$("$TASKER" send --wait=20 --raw "/start --task=far --node=n2 --command=\"$LOGGER odd\"" 2>&1)
check "far starts on n2" has "$out" '"status":"started".*"node":"n2"'
check "far printed" wait_until 20 file_has "$TMP/pm2-n2/logs/far-out.log" odd-end
on_table() { "$TASKER" ls --fleet --json 2>/dev/null | grep -q '"name":"far",[^}]*"node":"n2"'; }
check "far is in n2's task table" wait_until 20 on_table
out=$(req '{"verb":"logs","params":{"task":"far"}}')
check "logs far without a node: answered by n2" has "$out" '"status":"ok".*"node":"n2"'
check "with far's lines" [ "$(jq -r '.lines[-1].l' <<<"$out")" = odd-end ]
"$TASKER" logs far >"$TMP/far.out" 2>&1
check "tasker logs far prints them" grep -qx odd-end "$TMP/far.out"
"$TASKER" logs --node n1 far >/dev/null 2>"$TMP/far.err"
rc=$?
check "tasker logs --node n1 far: exit 1 ($rc), not_found" bash -c "[ $rc -eq 1 ] && grep -q 'not_found far' '$TMP/far.err'"
"$TASKER" logs --node n2 --lines 1 far >"$TMP/far.out" 2>&1
check "tasker logs --node n2 far: its last line" [ "$(cat "$TMP/far.out")" = odd-end ]
out=$(req '{"verb":"logs","params":{"task":"far","node":"n1"}}')
check "logs far on n1: not_found there" has "$out" '"status":"not_found".*"node":"n1"'
name_of() { redis-cli -p "$REDIS_PORT" GET "b00t:{tasker}:b00t:k0mmand3r:name:$1"; }
check "far's name is still held by n2" [ "$(name_of far)" = n2 ]
out=$(req '{"verb":"logs","params":{"task":"ghost","node":"n1"}}')
check "logs of a name nobody holds, on n1: not_found" has "$out" '"status":"not_found".*"node":"n1"'
check "and no name is claimed for it" [ -z "$(name_of ghost)" ]
out=$(req '{"verb":"logs","params":{"task":"ghost"}}')
check "without a node: not_found from the dispatcher" has "$out" '"status":"not_found".*no task named ghost on any node'

finish
