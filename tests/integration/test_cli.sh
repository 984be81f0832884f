#!/usr/bin/env bash
# The command line itself: help, version, usage errors and their exit codes,
# the parse tool, and secrets kept out of messages. No network needed,
# except where a bad URL must fail before any connection.
. "$(dirname "$0")/lib.sh"

out=$("$TASKER" --help); rc=$?
check "--help exits 0" [ "$rc" -eq 0 ]
check "--help lists the commands" grep -q "send" <<<"$out"
check "--help lists the shared options" grep -q -- "--status-channel" <<<"$out"
check "--version prints the version" grep -qE '^tasker [0-9]+\.[0-9]+\.[0-9]+$' <<<"$("$TASKER" --version)"
for c in parse send watch exec ls; do
	"$TASKER" "$c" --help >"$TMP/help" 2>&1; rc=$?
	check "tasker $c --help exits 0 with a usage line" \
		bash -c "[ $rc -eq 0 ] && grep -q 'Usage: tasker $c' '$TMP/help'"
done

"$TASKER" frobnicate >/dev/null 2>"$TMP/err"; rc=$?
check "unknown command exits 2" [ "$rc" -eq 2 ]
check "unknown command is named" grep -q "unknown command 'frobnicate'" "$TMP/err"
"$TASKER" send --bogus /x >/dev/null 2>"$TMP/err"; rc=$?
check "unknown option exits 2" [ "$rc" -eq 2 ]
LOG_LEVEL=loud "$TASKER" parse /x >/dev/null 2>"$TMP/err"; rc=$?
check "invalid LOG_LEVEL is a usage error" [ "$rc" -eq 2 ]
check "invalid LOG_LEVEL names the choices" grep -q "debug, info, warn or error" "$TMP/err"
check "--help works whatever LOG_LEVEL holds" bash -c "LOG_LEVEL=loud '$TASKER' --help >/dev/null && LOG_LEVEL=loud '$TASKER' send --help >/dev/null"
LOG_LEVEL=loud "$TASKER" watch >/dev/null 2>"$TMP/err"; rc=$?
check "invalid LOG_LEVEL stops a command that runs" [ "$rc" -eq 2 ]
check "an option beats its bad variable" bash -c "LOG_LEVEL=loud '$TASKER' --log-level=info parse /x >/dev/null"
"$TASKER" --log-level=chatty watch >/dev/null 2>"$TMP/err"; rc=$?
check "invalid --log-level is a usage error" [ "$rc" -eq 2 ]

"$TASKER" send --redis 'redis://:hunter2@127.0.0.1:notaport' /status >/dev/null 2>"$TMP/err"; rc=$?
check "bad Redis URL exits 2" [ "$rc" -eq 2 ]
check "bad Redis URL error says what is wrong" grep -q "port" "$TMP/err"
check "bad Redis URL error hides the password" bash -c "! grep -q hunter2 '$TMP/err'"
REDIS_URL='redis://:hunter2@127.0.0.1:1' "$TASKER" send --wait=0.5 /status >/dev/null 2>"$TMP/err"; rc=$?
check "unreachable Redis exits 1" [ "$rc" -eq 1 ]
check "unreachable Redis is explained" grep -q "could not publish" "$TMP/err"
check "unreachable Redis message hides the password" bash -c "! grep -q hunter2 '$TMP/err'"
check "unreachable Redis message shows the redacted address" grep -q '\*\*\*@127.0.0.1:1' "$TMP/err"

# parse: JSON out, null exactly where the grammar gives none.
check "parse verb only" [ "$("$TASKER" parse /status)" = '{"verb":"status","params":null,"content":null}' ]
check "parse superset command" [ "$("$TASKER" parse '/start --task=api --command="node api.js"')" = \
	'{"verb":"start","params":{"task":"api","command":"node api.js"},"content":""}' ]
check "parse joins words" [ "$("$TASKER" parse /start --task=x)" = \
	'{"verb":"start","params":{"task":"x"},"content":""}' ]
check "parse: a word starting with /VERB begins another command, as in send" [ "$("$TASKER" parse /stop --task=a /start --task=b /tmp/x)" = \
	"$(printf '%s\n%s' '{"verb":"stop","params":{"task":"a"},"content":""}' '{"verb":"start","params":{"task":"b"},"content":"/tmp/x"}')" ]
check "parse plain content" [ "$("$TASKER" parse 'just words')" = \
	'{"verb":null,"params":null,"content":"just words"}' ]
"$TASKER" parse '/start --command="node app.js' >/dev/null 2>"$TMP/err"; rc=$?
check "parse error exits 2" [ "$rc" -eq 2 ]
check "parse error names the column" grep -q "unterminated quote at column 18" "$TMP/err"
check "parse error shows a caret" grep -q '\^' "$TMP/err"
printf '/a --x=1\n/b\nnot a command\n' | "$TASKER" parse - >"$TMP/out"; rc=$?
check "parse - reads lines" bash -c "[ $rc -eq 0 ] && [ \$(wc -l <'$TMP/out') -eq 3 ]"
"$TASKER" send 'no verb here' >/dev/null 2>"$TMP/err"; rc=$?
check "send without a verb exits 2" [ "$rc" -eq 2 ]
"$TASKER" send --json '{"verb":"start","params":{"x":{"y":1}}}' >/dev/null 2>"$TMP/err"; rc=$?
check "send --json validates before sending" bash -c "[ $rc -eq 2 ] && grep -q 'params are flat' '$TMP/err'"
finish
