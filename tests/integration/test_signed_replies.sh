#!/usr/bin/env bash
# Signed replies (issue 9, item 6): a real executor signs every status
# message with its own key (made at first start in its state directory),
# publishes the key with its presence, and keeps the signed bytes in the
# history; `send --wait` takes only a verified reply (a spoofed one
# published first, unsigned or with a changed byte, does not win), `watch`
# marks what does not verify, a pinned trust file wins over presence, and
# an unsigned reply from an executor that publishes no key still counts
# (but not under a trust file).
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v node >/dev/null || { not_ok "node is installed"; finish; }
start_redis || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"
mkdir -p "$PM2_HOME"
VERIFY="$ROOT/tests/integration/helpers/verify_reply.js"

bg "$TASKER" watch --json --commands >"$TMP/all.log" 2>/dev/null
bg "$TASKER" watch >"$TMP/watch.log" 2>&1
wait_until 10 numsub_is b00t:task:status 2

bg "$TASKER" exec --node n1 --cwd-base "$TMP" >"$TMP/exec.log" 2>&1
EXEC=$BG_PID
check "executor starts" wait_until 30 file_has "$TMP/exec.log" "ready: listening"
KEYFILE="$XDG_STATE_HOME/tasker/reply-n1.key"
check "without --key it made its key in the state directory" test -f "$KEYFILE"
check "the key file is mode 0600" [ "$(stat -c %a "$KEYFILE" 2>/dev/null)" = 600 ]
PUB=$(cat "$XDG_STATE_HOME/tasker/reply-n1.pub" 2>/dev/null)
check "the public key file is one ed25519: line" has "$PUB" '^ed25519:[A-Za-z0-9+/]\{43\}=$'
presence_has_key() { rcli GET b00t:tasker:executor:n1 | grep -qF "\"key\":\"$PUB\""; }
check "presence carries the executor's public key" wait_until 15 presence_has_key

# --- a real reply verifies ----------------------------------------------------
out=$("$TASKER" send --wait=15 --raw /status 2>"$TMP/send1.err")
rc=$?
check "send --wait takes the real executor's reply (rc $rc)" [ "$rc" = 0 ]
check "the reply ends with the sig member" has "$out" ',"sig":{"key":"ed25519:[^"]*","value":"[^"]*"}}$'
check "the reply verifies with node's crypto against the state key" bash -c "node '$VERIFY' '$PUB' <<<'$out'"
check "and not against another key" bash -c "! node '$VERIFY' 'ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=' <<<'$out' 2>/dev/null"
hist=$(rcli --raw XREVRANGE 'b00t:{tasker}:status' + - COUNT 20 | grep -F "\"request_id\":\"$(jq -r .request_id <<<"$out")\"" | head -n 1)
check "the history keeps the signed bytes" bash -c "node '$VERIFY' '$PUB' <<<'$hist'"
rid=$(jq -r .request_id <<<"$out")
check "watch shows the verified reply unmarked" wait_until 10 bash -c "grep -F '[n1]' '$TMP/watch.log' | grep -q 'task_list' && ! grep -q 'forged\\|UNVERIFIED\\|unsigned' '$TMP/watch.log'"

# --- a spoofed reply published first does not win ---------------------------------
# stopped_send RID OUT: freezes the executor, starts send --wait for RID in
# the background, and waits until the command is on the bus.
stopped_send() {
	kill -STOP "$EXEC"
	bg "$TASKER" send --wait=20 --raw "$@" --json "{\"verb\":\"status\",\"params\":{},\"request_id\":\"$RID\"}" >"$TMP/$RID.out" 2>"$TMP/$RID.err"
	SEND=$BG_PID
	wait_until 10 file_has "$TMP/all.log" "\"request_id\":\"$RID\""
}
spoof() { # spoof ERROR: an unsigned error reply for RID claiming node n1
	rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"\",\"status\":\"error\",\"error\":\"$1\",\"request_id\":\"$RID\",\"verb\":\"status\",\"node\":\"n1\"}" >/dev/null
}
RID="spoof-$RANDOM"
check "send --wait is waiting with the executor frozen" stopped_send
spoof SPOOFED-UNSIGNED
# A real signed reply with its request_id changed: one changed byte string.
forged=${out//$rid/$RID}
rcli PUBLISH b00t:task:status "$forged" >/dev/null
check "send saw the unsigned spoof and said so" wait_until 10 file_has "$TMP/$RID.err" "ignored an UNSIGNED (forged?) reply for request_id $RID claiming node n1"
check "send saw the changed reply and said so" wait_until 10 file_has "$TMP/$RID.err" "ignored an UNVERIFIED (forged?) reply for request_id $RID"
check "send is still waiting" alive "$SEND"
kill -CONT "$EXEC"
wait "$SEND"
rc=$?
check "the real reply wins (rc $rc)" [ "$rc" = 0 ]
check "send printed the executor's own reply" bash -c "node '$VERIFY' '$PUB' <'$TMP/$RID.out'"
check "and not the spoof" bash -c "! grep -q SPOOFED '$TMP/$RID.out'"
check "watch marks the unsigned spoof" wait_until 10 bash -c "grep SPOOFED-UNSIGNED '$TMP/watch.log' | grep -q 'UNSIGNED (forged?)'"
check "watch marks the changed reply as unverified" wait_until 10 bash -c "grep -F '$RID' '$TMP/all.log' >/dev/null && grep 'UNVERIFIED (forged?): the signature does not match' '$TMP/watch.log' | grep -q 'task_list'"

# One changed byte inside the signed part, published alone.
one=$(sed 's/"node":"n1"/"node":"n1" /' <<<"$out")
rcli PUBLISH b00t:task:status "$one" >/dev/null
check "a reply with one added byte does not verify (node's crypto)" bash -c "! node '$VERIFY' '$PUB' <<<'$one'"
check "watch marks it unverified" wait_until 10 bash -c "[ \$(grep -c 'UNVERIFIED (forged?): the signature does not match' '$TMP/watch.log') -ge 2 ]"

# --- pinned keys win ---------------------------------------------------------------
(cd "$TMP" && "$TASKER" key new other >/dev/null)
echo "n1 $(cat "$TMP/other.pub")" >"$TMP/trust-wrong"
echo "# the real one" >"$TMP/trust-right"
echo "n1 $PUB" >>"$TMP/trust-right"
"$TASKER" send --wait=3 --trust "$TMP/trust-wrong" /status >"$TMP/pin.out" 2>"$TMP/pin.err"
rc=$?
check "with a different pinned key the real reply is not taken (rc $rc)" [ "$rc" = 3 ]
check "send says the reply is signed by another key than the pinned one" grep -q "UNVERIFIED (forged?) reply .*claiming node n1 (signed by another key than the one pinned" "$TMP/pin.err"
check "send names the unverified reply at the end" grep -q "had 1 unverified reply" "$TMP/pin.err"
TASKER_TRUST="$TMP/trust-right" "$TASKER" send --wait=15 /status >"$TMP/pin2.out" 2>&1
check "with the right pinned key it is taken (TASKER_TRUST)" [ $? = 0 ]
bg "$TASKER" watch --trust "$TMP/trust-wrong" >"$TMP/watch-pin.log" 2>&1
wait_until 10 numsub_is b00t:task:status 3
"$TASKER" send --wait=3 /status >/dev/null 2>&1
check "watch with the wrong pin marks the real replies" wait_until 10 bash -c "grep -q 'UNVERIFIED (forged?): signed by another key than the one pinned' '$TMP/watch-pin.log'"
echo "n1 not-a-key" >"$TMP/trust-bad"
"$TASKER" watch --trust "$TMP/trust-bad" >/dev/null 2>"$TMP/bad.err"
check "a bad trust file is refused with its line" bash -c "[ $? = 2 ] && grep -q 'trust-bad:1:' '$TMP/bad.err'"

# --- old executors: unsigned, accepted only when their presence has no key ------------
rcli SET b00t:tasker:executor:old1 '{"node":"old1","version":"0.0.9"}' EX 60 >/dev/null
RID="old-$RANDOM"
check "send --wait is waiting (old executor)" stopped_send
rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"\",\"status\":\"error\",\"error\":\"OLD-EXECUTOR\",\"request_id\":\"$RID\",\"verb\":\"status\",\"node\":\"old1\"}" >/dev/null
wait "$SEND"
rc=$?
kill -CONT "$EXEC"
check "an unsigned reply from an executor that publishes no key is taken (rc $rc)" [ "$rc" = 1 ]
check "it is the old executor's reply" grep -q OLD-EXECUTOR "$TMP/$RID.out"
check "watch shows it as unsigned" wait_until 10 bash -c "grep OLD-EXECUTOR '$TMP/watch.log' | grep -q '  unsigned$'"
# A node that publishes no presence at all: taken, with a warning, without
# a trust file; not taken under one (only pinned or published keys count).
RID="ghost-$RANDOM"
check "send --wait is waiting (a node nobody knows)" stopped_send
ghost() { rcli PUBLISH b00t:task:status "{\"type\":\"task_status\",\"task_name\":\"\",\"status\":\"error\",\"error\":\"GHOST\",\"request_id\":\"$RID\",\"verb\":\"status\",\"node\":\"ghost\"}" >/dev/null; }
ghost
wait "$SEND"
rc=$?
kill -CONT "$EXEC"
check "without a trust file an unknown node's reply is taken (rc $rc)" [ "$rc" = 1 ]
check "with a warning that anyone could have sent it" grep -q "took an unsigned reply for request_id $RID from node ghost: no key is pinned or published" "$TMP/$RID.err"
RID="ghost-$RANDOM"
check "send --wait --trust is waiting (a node nobody knows)" stopped_send --trust "$TMP/trust-right"
ghost
check "under a trust file it is ignored" wait_until 10 file_has "$TMP/$RID.err" "ignored an unsigned reply for request_id $RID claiming node ghost (the node is not in the trust file)"
kill -CONT "$EXEC"
wait "$SEND"
check "and the real one is taken" [ $? = 0 ]

# --- --key: the executor's own key file --------------------------------------------
cp "$TMP/other.key" "$TMP/loose.key"
chmod 644 "$TMP/loose.key"
"$TASKER" exec --node n2 --key "$TMP/loose.key" >"$TMP/loose.log" 2>&1
check "an executor refuses a key file others may read (rc $?)" grep -q "key.*chmod 600\|chmod 600" "$TMP/loose.log"
bg "$TASKER" exec --node n2 --key "$TMP/other.key" --cwd-base "$TMP" >"$TMP/exec2.log" 2>&1
check "an executor with --key starts" wait_until 30 file_has "$TMP/exec2.log" "ready: listening"
check "it made no key of its own" test ! -e "$XDG_STATE_HOME/tasker/reply-n2.key"
n2_key() { rcli GET b00t:tasker:executor:n2 | grep -qF "\"key\":\"$(cat "$TMP/other.pub")\""; }
check "its presence carries --key's public key" wait_until 15 n2_key
echo "n2 $(cat "$TMP/other.pub")" >>"$TMP/trust-right"
kill "$EXEC" 2>/dev/null
wait "$EXEC" 2>/dev/null
out=$("$TASKER" send --wait=15 --raw --trust "$TMP/trust-right" /status 2>"$TMP/n2.err")
check "its replies verify against the pinned key (rc $?)" has "$out" '"node":"n2"'
check "without a warning" bash -c "! grep -q 'took an\|ignored an' '$TMP/n2.err'"

kill "$EXEC" 2>/dev/null
finish
