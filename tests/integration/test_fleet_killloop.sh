#!/usr/bin/env bash
# The fleet under a kill loop (issue #8): three executors (n1, n2, n3) on one
# redis-server with appendonly, each with its own PM2 daemon (private
# PM2_HOMEs). A few hundred mixed commands (start, stop, restart, delete, a
# little status; placed by the fleet or targeted with params.node; half as a
# raw redis-cli PUBLISH, half through `tasker send --wait`) go out over a set
# of task names while a background loop SIGKILLs one executor (in turn) and
# starts it again every 2 to 4 seconds.
#
# The outcome is deterministic: one driver per task name sends its commands
# one after another, each after the reply to the one before, and keeps a
# model of its task (absent, online or stopped, and on which node); every
# reply must be the one the model predicts. Names run side by side. Every
# reply is recorded by a `tasker watch --json` subscribed before the first
# command. Afterwards, with every executor up:
#   1. every request_id sent has exactly one reply, and nothing else does;
#   2. PM2 on each node (read with the pm2 command from .deps) holds exactly
#      the tasks the models expect, each once in the fleet, on the expected
#      node, online or stopped as expected;
#   3. no task process runs outside PM2 (/proc, by a tag in each task's
#      environment).
# Prints the counts: commands sent, kills done, replies.
. "$(dirname "$0")/lib.sh"

PM2="$ROOT/.deps/node_modules/.bin/pm2"
[ -x "$PM2" ] || { not_ok "pm2 is installed in .deps (run make deps)"; finish; }
command -v node >/dev/null || { not_ok "node is installed (pm2 needs it)"; finish; }
start_redis "" --appendonly yes --appendfsync everysec || { not_ok "redis-server starts"; finish; }
export REDIS_URL="redis://127.0.0.1:$REDIS_PORT"

NAMES=${KILLLOOP_NAMES:-12} # task names, one driver each
STEPS=${KILLLOOP_STEPS:-30} # commands per name
TAG="kl-$$-$RANDOM"	    # in every task's environment: finds them in /proc
NODES=(n1 n2 n3)
WAKE="$TMP/wake.fifo" # never written: `read -t` on it is a bounded wait
mkfifo "$WAKE"

# pause SECONDS: waits that long (a bounded read nobody answers).
pause() { read -r -t "$1" _ <>"$WAKE"; }

# start_node NODE: starts its executor; its pid goes to $TMP/pid-NODE (the
# kill loop runs in a subshell: the file is how the test finds it).
start_node() {
	local node=$1
	mkdir -p "$TMP/pm2-$node"
	PM2_HOME="$TMP/pm2-$node" bg "$TASKER" exec --node "$node" --pm2-home "$TMP/pm2-$node" \
		--cwd-base "$TMP" --log-level=debug >>"$TMP/exec-$node.log" 2>&1
	echo "$BG_PID" >"$TMP/pid-$node"
}
gone() { ! kill -0 "$1" 2>/dev/null; }
acting() { [ "$(rcli HLEN "b00t:{tasker}:b00t:k0mmand3r:acting:$1")" -gt 0 ]; }
readies() { grep -c "ready: listening" "$TMP/exec-$1.log" 2>/dev/null; }
ready_count_is() { [ "$(readies "$1")" -ge "$2" ]; }

for node in "${NODES[@]}"; do start_node "$node"; done
for node in "${NODES[@]}"; do
	check "executor $node is ready" wait_until 30 ready_count_is "$node" 1
done

bg "$TASKER" watch --json >"$TMP/status.log" 2>/dev/null
wait_until 10 numsub_is b00t:task:status 1
all_seen() { "$TASKER" send --wait=10 --raw '/status' 2>/dev/null | grep -q '"nodes":\["n[123]","n[123]","n[123]"\]'; }
check "status without a node answers for all three nodes" wait_until 30 all_seen

# await_reply RID SECONDS: prints the first reply carrying RID (the watcher's
# log, followed as it grows: no polling).
await_reply() {
	timeout "$2" tail -n +1 -f "$TMP/status.log" 2>/dev/null | grep -m1 -F "\"request_id\":\"$1\""
}
# field JSON KEY: the first string value of KEY (the reply's own, before any
# "tasks" array).
field() { grep -o "\"$2\":\"[^\"]*\"" <<<"$1" | head -n 1 | sed 's/.*:"\(.*\)"/\1/'; }

# --- the kill loop ---------------------------------------------------------------
# Every 2 to 4 s: SIGKILL the next executor in turn, start it again at once,
# wait until it says it is ready. Stops when $TMP/stop-killing exists.
killer() {
	local i=0 node pid n
	while [ ! -e "$TMP/stop-killing" ]; do
		pause "$((2 + RANDOM % 3)).$((RANDOM % 10))"
		[ -e "$TMP/stop-killing" ] && break
		node=${NODES[$((i % 3))]}
		# Preferably while it carries out a command (its acting record
		# is written before its first PM2 call): up to 2 s more.
		wait_until 2 acting "$node"
		pid=$(cat "$TMP/pid-$node")
		n=$(readies "$node")
		kill -KILL "$pid" 2>/dev/null
		# Reaped (by this shell, or the main one for the first three):
		# a zombie would still hold the node's claim.
		wait "$pid" 2>/dev/null
		wait_until 10 gone "$pid"
		echo "$node $pid" >>"$TMP/kills"
		start_node "$node"
		wait_until 30 ready_count_is "$node" $((n + 1)) ||
			echo "$node did not come back" >>"$TMP/killer-errors"
		i=$((i + 1))
	done
}

# --- one driver per name ----------------------------------------------------------
# drive NAME: STEPS commands for NAME, each after the reply to the one
# before; checks each reply against the model; writes the model's final
# state to $TMP/final-NAME ("absent", or "online NODE", "stopped NODE").
drive() {
	local name=$1 state=absent at="" step verb target expect rid json reply got gnode r
	local log="$TMP/drive-$name.log"
	for step in $(seq 1 "$STEPS"); do
		# Spread the commands over the kill loop (about 1.5 s apart).
		pause "$((RANDOM % 3)).$((RANDOM % 10))"
		r=$((RANDOM % 100))
		if [ "$r" -lt 35 ]; then verb=start
		elif [ "$r" -lt 55 ]; then verb=stop
		elif [ "$r" -lt 75 ]; then verb=restart
		elif [ "$r" -lt 95 ]; then verb=delete
		else verb=status; fi
		# Targeted: at the node that holds the name, or for a new name any
		# node (a name held by one node is never sent to another).
		target=""
		if [ "$verb" != status ] && [ $((RANDOM % 3)) -eq 0 ]; then
			if [ "$state" = absent ]; then target=${NODES[$((RANDOM % 3))]}; else target=$at; fi
		fi
		case "$verb/$state" in
		start/absent | start/stopped) expect=started ;;
		start/online) expect=already_running ;;
		stop/absent | restart/absent | delete/absent) expect=not_found ;;
		stop/*) expect=stopped ;;
		restart/*) expect=restarted ;;
		delete/*) expect=deleted ;;
		status/*) expect=ok ;;
		esac
		rid="kl-$name-$step-$RANDOM"
		if [ "$verb" = start ]; then
			json="{\"verb\":\"start\",\"params\":{\"task\":\"$name\",\"command\":\"sleep 600\",\"env_KL_TAG\":\"$TAG\",\"ttl\":\"60\"${target:+,\"node\":\"$target\"}},\"request_id\":\"$rid\"}"
		else
			json="{\"verb\":\"$verb\",\"params\":{\"task\":\"$name\",\"ttl\":\"60\"${target:+,\"node\":\"$target\"}},\"request_id\":\"$rid\"}"
		fi
		local how=publish
		echo "$rid $name $verb ${target:--} $expect" >>"$TMP/sent.log"
		if [ $((RANDOM % 2)) -eq 0 ]; then
			how=send
			"$TASKER" send --wait=60 --json "$json" >/dev/null 2>&1
		else
			rcli PUBLISH b00t:k0mmand3r "$json" >/dev/null
		fi
		reply=$(await_reply "$rid" 90)
		if [ -z "$reply" ]; then
			echo "FAIL $rid $verb (${target:-placed}, $how): no reply; model $state $at" >>"$log"
			state=unknown
			break
		fi
		got=$(field "$reply" status)
		gnode=$(field "$reply" node)
		if [ "$got" != "$expect" ]; then
			echo "FAIL $rid $verb (${target:-placed}, $how): got $got, expected $expect; model $state $at; reply $reply" >>"$log"
			state=unknown
			break
		fi
		# Who answered: the target, else the holder (a placed start may
		# land anywhere; not_found of a placed command comes from a
		# dispatcher or a former holder).
		if [ -n "$target" ] && [ "$gnode" != "$target" ] && [ "$expect" != ok ]; then
			echo "FAIL $rid $verb: answered by $gnode, sent to $target; reply $reply" >>"$log"
		elif [ -z "$target" ] && [ "$state" != absent ] && [ "$expect" != ok ] && [ "$gnode" != "$at" ]; then
			echo "FAIL $rid $verb: answered by $gnode, the task is on $at; reply $reply" >>"$log"
		fi
		case "$expect" in
		started) state=online at=$gnode ;;
		restarted) state=online ;;
		stopped) state=stopped ;;
		deleted) state=absent at="" ;;
		esac
		echo "ok $rid $verb ${target:-placed} $how -> $got on $gnode; now $state $at" >>"$log"
	done
	echo "$state $at" >"$TMP/final-$name"
}

: >"$TMP/sent.log"
: >"$TMP/kills"
T0=$SECONDS
( killer ) &
KILLER=$!
PIDS+=("$KILLER")
DRIVERS=()
for i in $(seq 1 "$NAMES"); do
	drive "kl$i" &
	DRIVERS+=($!)
	PIDS+=($!)
done
for p in "${DRIVERS[@]}"; do wait "$p"; done
touch "$TMP/stop-killing"
wait "$KILLER"
ELAPSED=$((SECONDS - T0))
SENT=$(wc -l <"$TMP/sent.log")
KILLS=$(wc -l <"$TMP/kills")
echo "# $SENT commands sent over $NAMES names in ${ELAPSED} s; $KILLS executors killed and restarted"

check "the kill loop killed executors ($KILLS) and each came back" \
	bash -c "[ $KILLS -ge 3 ] && [ ! -s '$TMP/killer-errors' ]"
for node in "${NODES[@]}"; do
	check "executor $node is up at the end" alive "$(cat "$TMP/pid-$node")"
done

fails=$(cat "$TMP"/drive-*.log | grep -c '^FAIL')
check "every reply is the one the model predicts ($fails wrong)" [ "$fails" -eq 0 ]
grep -h '^FAIL' "$TMP"/drive-*.log | head -n 10 | sed 's/^/#   /'
check "every driver ran to its end" bash -c "! grep -q unknown '$TMP'/final-*"

# --- 1. exactly one reply per request_id --------------------------------------------
# Late duplicates would come within a moment: give them one status round trip
# through every node.
for node in "${NODES[@]}"; do "$TASKER" send --wait=30 "/status --node=$node" >/dev/null 2>&1; done
grep -o '"request_id":"kl-[^"]*"' "$TMP/status.log" | sed 's/.*:"\(.*\)"/\1/' | sort >"$TMP/replied"
REPLIES=$(wc -l <"$TMP/replied")
cut -d' ' -f1 "$TMP/sent.log" | sort >"$TMP/sent-ids"
dups=$(uniq -d "$TMP/replied" | wc -l)
missing=$(comm -23 "$TMP/sent-ids" <(sort -u "$TMP/replied") | wc -l)
foreign=$(comm -13 "$TMP/sent-ids" <(sort -u "$TMP/replied") | wc -l)
echo "# $REPLIES replies to $SENT commands"
check "every command has a reply ($missing without)" [ "$missing" -eq 0 ]
check "no command has two replies ($dups with more than one)" [ "$dups" -eq 0 ]
uniq -d "$TMP/replied" | head -n 5 | while read -r id; do echo "#   twice: $(grep -F "\"$id\"" "$TMP/status.log" | head -n 2 | tr '\n' ' ')"; done
check "no reply names a request_id that was not sent ($foreign)" [ "$foreign" -eq 0 ]
hist=$(rcli XLEN 'b00t:{tasker}:status')
echo "# history stream: $hist entries"

# --- 2. PM2 on every node holds exactly the expected tasks ---------------------------
# pm2 jlist per node, reduced to "NODE NAME STATUS PID" lines by node.
pm2_state() {
	local node
	for node in "${NODES[@]}"; do
		PM2_HOME="$TMP/pm2-$node" "$PM2" jlist 2>/dev/null | node -e '
			let s = ""; process.stdin.on("data", d => s += d).on("end", () => {
				for (const p of JSON.parse(s))
					console.log(process.argv[1], p.name, p.pm2_env.status, p.pid || 0);
			});' "$node"
	done | sort
}
: >"$TMP/expected"
for i in $(seq 1 "$NAMES"); do
	read -r st at <"$TMP/final-kl$i"
	[ "$st" = absent ] || echo "$at kl$i $st" >>"$TMP/expected"
done
sort -o "$TMP/expected" "$TMP/expected"
pm2_matches() {
	pm2_state >"$TMP/pm2-state"
	cut -d' ' -f1-3 "$TMP/pm2-state" | diff "$TMP/expected" - >"$TMP/pm2-diff"
}
check "PM2 on the three nodes holds exactly the expected $(wc -l <"$TMP/expected") tasks (each once, its node, its state)" \
	wait_until 30 pm2_matches
sed 's/^/#   diff: /' "$TMP/pm2-diff" | head -n 20
dup_names=$(cut -d' ' -f2 "$TMP/pm2-state" | sort | uniq -d | wc -l)
check "no task name is held twice in the fleet ($dup_names)" [ "$dup_names" -eq 0 ]
fleet_matches() {
	"$TASKER" ls --fleet --json 2>/dev/null | grep -o '"name":"kl[0-9]*",[^}]*"node":"n[123]"' |
		sed 's/"name":"\([^"]*\)".*"status":"\([^"]*\)".*"node":"\(n[123]\)"/\3 \1 \2/' | sort |
		diff "$TMP/expected" - >/dev/null
}
check "the fleet's task tables agree (tasker ls --fleet)" wait_until 30 fleet_matches

# --- 3. no task process outside PM2 ---------------------------------------------------
tagged() {
	local p
	for p in /proc/[0-9]*; do
		{ grep -qaF "KL_TAG=$TAG" "$p/environ"; } 2>/dev/null && echo "${p#/proc/}"
	done | sort -n
}
online_pids() { awk '$3 == "online" {print $4}' "$TMP/pm2-state" | sort -n; }
outside_none() { [ "$(tagged)" = "$(online_pids)" ]; }
check "the task processes are exactly PM2's online ones ($(online_pids | wc -l))" wait_until 20 outside_none
outside=$(comm -23 <(tagged) <(online_pids) | wc -l)
[ "$outside" -eq 0 ] || echo "#   $outside task process(es) outside PM2: $(comm -23 <(tagged) <(online_pids) | tr '\n' ' ')"

san=$(cat "$TMP"/exec-n*.log | grep -c -E 'ERROR: AddressSanitizer|runtime error:')
check "no executor reported a sanitizer error ($san)" [ "$san" -eq 0 ]
for node in "${NODES[@]}"; do
	w=$(grep -c -E ' (warn|error) ' "$TMP/exec-$node.log")
	v=$(grep -c 'was being carried out when this executor stopped' "$TMP/exec-$node.log")
	echo "# $node: $(readies "$node") starts, $v entries verified after a kill instead of run again, $w warning/error lines"
done
echo "# the executors' warnings, by kind:"
cat "$TMP"/exec-n*.log | awk '$2 == "warn" || $2 == "error" {
	$1 = ""; line = substr($0, 2); gsub(/[0-9]+/, "N", line); print substr(line, 1, 100)
}' | sort | uniq -c | sort -rn | head -n 6 | sed 's/^ */#   /'
echo "# counts: $SENT commands sent, $KILLS kills, $REPLIES replies"
for node in "${NODES[@]}"; do PM2_HOME="$TMP/pm2-$node" "$PM2" kill >/dev/null 2>&1; done
finish
