#!/usr/bin/env bash
# The tools against hostile input, with a real redis-server, a real
# executor and a real PM2 daemon (private PM2_HOME): status text that tries
# to drive the terminal (watch, send, ls), a log line forged by a task name,
# a message with a duplicate key, a spoofed reply racing the executor's,
# params.ttl from send --wait, two commands given as two words, bad stdin
# lines named by number, and a Redis host name that does not resolve.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
export LC_ALL=C.UTF-8
mkdir -p "$PM2_HOME"
ESC=$'\x1b'
BEL=$'\x07'

# no_controls FILE: FILE is UTF-8 and holds no ESC, BEL or CR, no C1 control
# (U+0080-U+009F) and no bidi override (U+202A-U+202E, U+2066-U+2069).
no_controls() {
	iconv -f UTF-8 -t UTF-8 "$1" >/dev/null 2>&1 &&
		! LC_ALL=C grep -q "[$ESC$BEL"$'\r'"]" "$1" &&
		! LC_ALL=C grep -qP '\xc2[\x80-\x9f]|\xe2\x80[\xaa-\xae]|\xe2\x81[\xa6-\xa9]' "$1"
}
has() { grep -qF -- "$2" <<<"$1"; }

# --- watch: a status message that tries to drive the terminal -------------------
bg "$TASKER" watch >"$TMP/watch.out" 2>"$TMP/watch.err"
WATCH=$BG_PID
bg "$TASKER" watch --json >"$TMP/watch.json" 2>/dev/null
wait_until 20 numsub_is b00t:task:status 2
# Clear the screen, set the title (OSC 0), write the clipboard (OSC 52), a C1
# CSI in UTF-8, a bidi override, and a newline that forges a whole line.
EVIL='{"type":"task_status","task_name":"t\u001b[31m","status":"error","node":"n\u001b]0;title\u0007","error":"boom\u001b[2J\u001b]52;c;aGk=\u0007\u009b1m\u202egnp.exe\nMALLORY  started api (pm_id 1)"}'
rcli PUBLISH b00t:task:status "$EVIL" >/dev/null
# Bytes that are not UTF-8, with an 8-bit C1 CSI among them.
printf '{"type":"task_status","status":"error","task_name":"raw","error":"\xff\x9b2J\xc2"}' |
	rcli -x PUBLISH b00t:task:status >/dev/null
check "watch prints both hostile messages" wait_until 20 lines_in "$TMP/watch.out" 2
check "watch: nothing reaches the terminal raw (ESC, BEL, C1, bidi)" no_controls "$TMP/watch.out"
check "watch: an embedded newline forges no line" bash -c "! grep -q '^MALLORY' '$TMP/watch.out' && [ \$(wc -l <'$TMP/watch.out') -eq 2 ]"
check "watch: escapes are visible" grep -qF 'boom\x1b[2J\x1b]52;c;aGk=\x07\u009b1m\u202egnp.exe\nMALLORY' "$TMP/watch.out"
check "watch: task name and node are escaped too" grep -qF 't\x1b[31m' "$TMP/watch.out"
check "watch: the node's title sequence is escaped" grep -qF '[n\x1b]0;title\x07]' "$TMP/watch.out"
check "watch: bytes that are not UTF-8 are shown as \\xHH" grep -qF '\xff\x9b2J\xc2' "$TMP/watch.out"
check "watch --json keeps the exact JSON" wait_until 10 grep -qF '"error":"boom\u001b[2J' "$TMP/watch.json"
bg "$TASKER" watch --commands --count=1 --status-channel=nothing-here >"$TMP/cmds.out" 2>/dev/null
C=$BG_PID
wait_until 20 numsub_is b00t:k0mmand3r 1
printf 'x\x1b[2J\x9by' | rcli -x PUBLISH b00t:k0mmand3r >/dev/null
wait "$C"
check "watch --commands escapes the command text" bash -c "grep -qF 'x\x1b[2J\x9by' '$TMP/cmds.out' && ! grep -q \$'\x1b' '$TMP/cmds.out'"

# --- send --wait: only a reply that fits the command counts --------------------------
# No executor yet: the test plays both the forger, who sees the request_id
# on the command channel and answers first, and then the executor. A
# subscriber on the command channel keeps send from giving up at once.
bg "$TASKER" watch --commands --json --status-channel=nothing-here >/dev/null 2>&1
wait_until 20 numsub_is b00t:k0mmand3r 1
bg "$TASKER" send -v --wait=60 '/restart --task=ghost' >"$TMP/spoof.out" 2>"$TMP/spoof.err"
S=$BG_PID
wait_until 20 grep -q 'request_id [0-9a-f]\{32\}$' "$TMP/spoof.err"
RID=$(sed -n 's/^tasker send: request_id \([0-9a-f]\{32\}\)$/\1/p' "$TMP/spoof.err")
rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"ghost\",\"status\":\"started\",\"pm_id\":7,\"request_id\":\"$RID\",\"verb\":\"restart\"}" >/dev/null
rcli PUBLISH b00t:task:status "{\"type\":\"task_list\",\"status\":\"ok\",\"request_id\":\"$RID\",\"verb\":\"restart\",\"tasks\":[]}" >/dev/null
rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"ghost\",\"status\":\"stopped\",\"request_id\":\"$RID\",\"verb\":\"stop\"}" >/dev/null
rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"ghost\",\"status\":\"not_found\",\"request_id\":\"$RID\",\"verb\":\"restart\",\"error\":\"no task named ghost\"}" >/dev/null
wait "$S"; rc=$?
check "a spoofed 'started' for a restart does not win (exit $rc)" [ "$rc" -eq 1 ]
check "send prints the executor's not_found" grep -q "not_found ghost" "$TMP/spoof.out"
check "and never the spoofed reply" bash -c "! grep -q 'started\|pm_id 7\|task_list' '$TMP/spoof.out'"
check "-v says an unfitting reply was ignored" grep -q "ignored a reply for request_id $RID that does not fit /restart: verb restart, status started" "$TMP/spoof.err"
# A fitting reply is printed with its text escaped.
bg "$TASKER" send -v --wait=60 '/stop --task=nobody-has-this' >"$TMP/esc.out" 2>"$TMP/esc.err"
S=$BG_PID
wait_until 20 grep -q 'request_id [0-9a-f]\{32\}$' "$TMP/esc.err"
RID=$(sed -n 's/^tasker send: request_id \([0-9a-f]\{32\}\)$/\1/p' "$TMP/esc.err")
rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"nobody-has-this\",\"status\":\"error\",\"request_id\":\"$RID\",\"verb\":\"stop\",\"error\":\"x\u001b[2J\nFORGED\"}" >/dev/null
wait "$S"; rc=$?
check "send --wait: an error reply exits 1" [ "$rc" -eq 1 ]
check "send --wait escapes the reply's text" bash -c "grep -qF 'x\x1b[2J\nFORGED' '$TMP/esc.out' && [ \$(wc -l <'$TMP/esc.out') -eq 1 ]"
check "send --wait output holds no control" no_controls "$TMP/esc.out"
# --- the executor ----------------------------------------------------------------
bg "$TASKER" exec --log-level=debug >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
check "executor starts" wait_until 30 file_has "$TMP/exec.log" "ready: listening"

# req JSON RID: publishes a raw envelope and waits for the reply carrying RID.
req() {
	rcli PUBLISH b00t:k0mmand3r "$1" >/dev/null
	wait_until 30 file_has "$TMP/watch.json" "\"request_id\":\"$2\"" || return 1
	grep "\"request_id\":\"$2\"" "$TMP/watch.json" | head -n 1
}

# --- log injection: a refused task name forges no log line ------------------------
out=$(req '{"verb":"stop","params":{"task":"x\n2026-01-01T00:00:00.000Z error FORGED\u001b[2J"},"request_id":"log-1"}' log-1)
check "a bad task name is refused" has "$out" '"status":"error"'
check "exec log: the newline in the name forged no line" bash -c "! grep -q '^2026-01-01T00:00:00.000Z error FORGED' '$TMP/exec.log'"
check "exec log: the name is escaped on its own line" grep -qF 'x\n2026-01-01T00:00:00.000Z error FORGED\x1b[2J' "$TMP/exec.log"
check "exec log: no escape sequence reaches a terminal" no_controls "$TMP/exec.log"

# --- duplicate keys: refused, nothing deleted ---------------------------------------
out=$("$TASKER" send --wait=30 --raw '/start --task=victim --command="sleep 600"' 2>&1)
check "victim is started" has "$out" '"status":"started"'
out=$(req '{"verb":"delete","params":{"task":"victim"},"verb":"status","params":{},"request_id":"dup-1"}' dup-1)
check "a message with a duplicate key gets an error reply" has "$out" '"status":"error"'
check "the error names the duplicate key" has "$out" 'appears twice'
check "the reply picks no verb" bash -c "! grep -qF '\"verb\":' <<<'$out'"
"$TASKER" ls --json >"$TMP/ls.json"
check "and victim was not deleted" grep -q '"name":"victim","pm_id":[0-9]*,"status":"online"' "$TMP/ls.json"
rcli PUBLISH b00t:k0mmand3r '{"verb":"status","request_id":"rid-a","request_id":"rid-b","agent_id":"dup-agent"}' >/dev/null
check "a duplicate request_id gets an error reply" wait_until 30 file_has "$TMP/watch.json" '"request_id\\" appears twice'
line=$(grep -F 'request_id\" appears twice' "$TMP/watch.json" | head -n 1)
check "which names neither request_id" bash -c "! grep -qF 'rid-' <<<'$line' && ! grep -qF '\"request_id\":' <<<'$line'"
check "but keeps what is certain (agent_id)" has "$line" '"agent_id":"dup-agent"'

# The executor's real replies fit, aliases included.
out=$("$TASKER" send --wait=30 /ps 2>&1); rc=$?
check "/ps (an alias of status) is answered by a task_list (exit $rc)" bash -c "[ $rc -eq 0 ] && grep -q 'task_list' <<<'$out'"
out=$("$TASKER" send --wait=30 '/remove --task=ghost' 2>&1); rc=$?
check "/remove of a missing task is not_found (exit $rc)" bash -c "[ $rc -eq 1 ] && grep -q 'not_found ghost' <<<'$out'"

# --- ls: names made with pm2 start --name ---------------------------------------------
"$PM2" start sleep --name "evil${ESC}]0;pwned${BEL}${ESC}[2J" -- 600 >/dev/null 2>&1
check "a task with escapes in its name exists" wait_until 30 bash -c "'$TASKER' ls --json | grep -qF 'evil\u001b]0;pwned\u0007'"
"$TASKER" ls >"$TMP/ls.out" 2>&1
check "ls: the name is escaped" grep -qF 'evil\x1b]0;pwned\x07\x1b' "$TMP/ls.out"
check "ls: no control reaches the terminal" no_controls "$TMP/ls.out"
check "ls: columns stay aligned (STATUS under STATUS)" bash -c "[ \$(awk 'NR==1{print index(\$0,\"STATUS\")}' '$TMP/ls.out') -eq \$(grep -F 'evil' '$TMP/ls.out' | awk '{print index(\$0,\"online\")}') ]"
check "the executor is still running" alive "$EXEC"
kill -TERM "$EXEC"; wait "$EXEC" 2>/dev/null

# --- send: params.ttl, two commands, bad lines --------------------------------------------
# A channel nobody listens on: send prints the envelope, then exits 3 at once.
Q=(--channel=tasker-test-nobody)
"$TASKER" send -v --wait=2.5 "${Q[@]}" /status >/dev/null 2>"$TMP/ttl.err"
check "send --wait=2.5 sets params.ttl to \"2.5\"" grep -qF '"params":{"ttl":"2.5"}' "$TMP/ttl.err"
"$TASKER" send -v --wait "${Q[@]}" '/start --task=a --command=x' >/dev/null 2>"$TMP/ttl.err"
check "send --wait sets params.ttl to the default wait, \"10\"" grep -qF '"ttl":"10"' "$TMP/ttl.err"
"$TASKER" send -v --wait=5 "${Q[@]}" '/status --ttl=99' >/dev/null 2>"$TMP/ttl.err"
check "a ttl param of the line's own is kept" bash -c "grep -qF '\"ttl\":\"99\"' '$TMP/ttl.err' && ! grep -qF '\"ttl\":\"5\"' '$TMP/ttl.err'"
"$TASKER" send -v --wait=5 "${Q[@]}" --json '{"verb":"status","params":{"ttl":1}}' >/dev/null 2>"$TMP/ttl.err"
check "a JSON envelope's own ttl is kept" bash -c "grep -qF '\"ttl\":1' '$TMP/ttl.err' && ! grep -qF '\"ttl\":\"5\"' '$TMP/ttl.err'"
"$TASKER" send -v --wait=5 "${Q[@]}" --json '{"verb":"status"}' >/dev/null 2>"$TMP/ttl.err"
check "a JSON envelope without params gets one with the ttl" grep -qF '"params":{"ttl":"5"}' "$TMP/ttl.err"
"$TASKER" send -v "${Q[@]}" /status >/dev/null 2>"$TMP/ttl.err"
check "without --wait no ttl is added" bash -c "grep -q '\"verb\":\"status\"' '$TMP/ttl.err' && ! grep -q ttl '$TMP/ttl.err'"

"$TASKER" send -v "${Q[@]}" '/start --task=a --command=x' '/start --task=b --command=y' >/dev/null 2>"$TMP/two.err"
check "two quoted commands are two envelopes" bash -c "[ \$(grep -c '^tasker send: {' '$TMP/two.err') -eq 2 ] && grep -qF '\"task\":\"b\"' '$TMP/two.err' && ! grep -q content '$TMP/two.err'"
"$TASKER" send -v "${Q[@]}" /start --task=a --command=x /stop --task=b >/dev/null 2>"$TMP/two.err"
check "unquoted: each /VERB word starts a command" bash -c "[ \$(grep -c '^tasker send: {' '$TMP/two.err') -eq 2 ] && grep -qF '{\"verb\":\"stop\",\"params\":{\"task\":\"b\"}' '$TMP/two.err'"
"$TASKER" send -v "${Q[@]}" /start --task=a --command=node app.js /tmp/x >/dev/null 2>"$TMP/one.err"
check "words that are not /VERB stay in the same command" bash -c "[ \$(grep -c '^tasker send: {' '$TMP/one.err') -eq 1 ] && grep -qF '\"content\":\"app.js /tmp/x\"' '$TMP/one.err'"
"$TASKER" send -v "${Q[@]}" '/start --task=a --command="x' '/stop' >/dev/null 2>"$TMP/two.err"; rc=$?
check "a bad command among two refuses both, naming it (exit $rc)" bash -c "[ $rc -eq 2 ] && grep -qF 'command 1 (word 1): unterminated quote' '$TMP/two.err' && grep -q '1 of 2 commands refused; nothing was sent' '$TMP/two.err' && ! grep -q '^tasker send: {' '$TMP/two.err'"

printf '/status\n/start --command="x\n\n{bad json\n/stop --task=a\nno verb\n' |
	"$TASKER" send -v "${Q[@]}" - >/dev/null 2>"$TMP/lines.err"; rc=$?
check "stdin: a batch with bad lines exits 2" [ "$rc" -eq 2 ]
check "stdin: line 2 is named with its parse error" grep -qF 'line 2: unterminated quote at column' "$TMP/lines.err"
check "stdin: line 4 is named with its JSON error" grep -qF 'line 4: message is not valid JSON' "$TMP/lines.err"
check "stdin: line 6 is named too" grep -qF 'line 6: a command starts with /VERB' "$TMP/lines.err"
check "stdin: nothing was sent" bash -c "grep -qF '3 of 5 commands refused; nothing was sent' '$TMP/lines.err' && ! grep -q '^tasker send: {' '$TMP/lines.err'"
printf '{"verb":"status","params":{"a":1,"a":2}}\n' | "$TASKER" send "${Q[@]}" - >/dev/null 2>"$TMP/dup.err"; rc=$?
check "send refuses a duplicate key before sending (exit $rc)" bash -c "[ $rc -eq 2 ] && grep -qF 'line 1: the key \"a\" appears twice in params' '$TMP/dup.err'"

# --- a Redis host name that does not resolve ---------------------------------------------
timeout 60 "$TASKER" send --redis redis://nope.invalid:1 /status >/dev/null 2>"$TMP/dns.err"; rc=$?
check "send: an unresolvable host exits 1 (exit $rc)" [ "$rc" -eq 1 ]
check "send: the message says the name does not resolve" grep -q "cannot resolve the Redis host nope.invalid" "$TMP/dns.err"
timeout 60 "$TASKER" send --wait --redis redis://nope.invalid:1 /status >/dev/null 2>"$TMP/dns.err"; rc=$?
check "send --wait: an unresolvable host exits 1, not a wait (exit $rc)" bash -c "[ $rc -eq 1 ] && ! grep -q 'could not publish within' '$TMP/dns.err'"
timeout 60 "$TASKER" watch --redis redis://nope.invalid:1 >/dev/null 2>"$TMP/dns.err"; rc=$?
check "watch: an unresolvable host exits 1 (exit $rc)" bash -c "[ $rc -eq 1 ] && grep -q 'cannot resolve the Redis host nope.invalid' '$TMP/dns.err'"
finish
