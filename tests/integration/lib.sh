# Shared helpers for the integration tests (bash). Each test script sources
# this, starts the real components it needs (redis-server on a free loopback
# port, a PM2 daemon with a private PM2_HOME), and ends with `finish`, which
# prints "NAME: N passed, N failed". Waiting is always polling a condition
# against a deadline, never a fixed sleep.
set -u

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${BUILD:-build}
TASKER=${TASKER:-$ROOT/$BUILD/tasker}
TEST_NAME=$(basename "$0" .sh)
TMP=$(mktemp -d "/tmp/tasker-$TEST_NAME.XXXXXX")
PASS=0
FAIL=0
PIDS=()
REDIS_PID=
REDIS_PORT=

# Tasks and daemons must never see the developer's own PM2.
export PM2_HOME="$TMP/pm2"
export PM2_DISCRETE_MODE=1
unset REDIS_URL PM2_TASKER_CHANNEL TASKER_STATUS_CHANNEL LOG_LEVEL B00T_AGENT_ID
# An executor without --key makes its reply key in its state directory.
export XDG_STATE_HOME="$TMP/state"
# A --local console's private Redis and its local.json (which tools given
# no address follow) stay in the test's own runtime directory.
export XDG_RUNTIME_DIR="$TMP/run"
mkdir -p -m 700 "$XDG_RUNTIME_DIR"
unset TASKER_KEY TASKER_TRUST
# Sanitizer builds: leaks are checked by the unit tests; here we want
# crashes and UB reported, and the child's exit code kept.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=0:abort_on_error=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

cleanup() {
	local p
	for p in "${PIDS[@]+"${PIDS[@]}"}"; do
		kill "$p" 2>/dev/null
	done
	[ -n "$REDIS_PID" ] && kill "$REDIS_PID" 2>/dev/null
	if [ -S "$PM2_HOME/rpc.sock" ] && [ -x "$ROOT/.deps/node_modules/.bin/pm2" ]; then
		"$ROOT/.deps/node_modules/.bin/pm2" kill >/dev/null 2>&1
	fi
	# Whatever is left that belongs to this test (a daemon started late, its
	# tasks): everything whose command line names our private directory.
	pkill -KILL -f "$TMP" 2>/dev/null
	# And what names it only in its environment: PM2 apps a killed daemon
	# left running carry their pid file path under our PM2_HOME.
	local p
	for p in /proc/[0-9]*; do
		{ grep -qaF "$TMP" "$p/environ"; } 2>/dev/null && kill -KILL "${p#/proc/}" 2>/dev/null
	done
	wait 2>/dev/null
	rm -rf "$TMP"
}
trap cleanup EXIT

ok() {
	PASS=$((PASS + 1))
	echo "ok - $1"
}

not_ok() {
	FAIL=$((FAIL + 1))
	echo "not ok - $1"
	shift
	local line
	for line in "$@"; do echo "#   $line"; done
}

# check NAME COMMAND...: passes when the command succeeds.
check() {
	local name=$1
	shift
	if "$@"; then ok "$name"; else not_ok "$name" "command: $*"; fi
}

# wait_until SECONDS COMMAND...: polls until the command succeeds or the
# deadline passes; returns the last status.
wait_until() {
	local secs=$1
	shift
	local deadline=$((SECONDS + secs + 1))
	local start
	start=$(date +%s%N)
	while :; do
		"$@" && return 0
		local now
		now=$(date +%s%N)
		[ $(((now - start) / 1000000)) -ge $((secs * 1000)) ] && return 1
		[ "$SECONDS" -ge "$deadline" ] && return 1
		sleep 0.05 # poll interval, bounded by the deadline above
	done
}

# free_port: a TCP port on 127.0.0.1 that nothing listens on now, below the
# kernel's ephemeral range: a client retrying a port inside that range can
# connect to itself (TCP simultaneous open) and hold the port.
free_port() {
	local p lo
	lo=$(cut -f1 /proc/sys/net/ipv4/ip_local_port_range 2>/dev/null || echo 32768)
	[ "$lo" -gt 11000 ] || lo=32768
	for _ in $(seq 1 200); do
		p=$((10000 + RANDOM % (lo - 10000)))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	return 1
}

rcli() {
	redis-cli -p "$REDIS_PORT" "$@"
}

redis_up() {
	[ "$(redis-cli -p "$REDIS_PORT" "${REDIS_CLI_AUTH[@]+"${REDIS_CLI_AUTH[@]}"}" ping 2>/dev/null)" = PONG ]
}

# start_redis [PORT] [redis-server args...]: starts a private redis-server
# on 127.0.0.1 (a new free port unless given) and waits until it answers.
start_redis() {
	local port=${1:-}
	local fixed=$port
	[ $# -gt 0 ] && shift
	local tries
	for tries in 1 2 3 4 5; do
		[ -n "$port" ] || port=$(free_port)
		REDIS_PORT=$port
		redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly no \
			--dir "$TMP" --logfile "$TMP/redis-$port.log" "$@" &
		REDIS_PID=$!
		if wait_until 10 redis_up; then
			PIDS+=("$REDIS_PID")
			return 0
		fi
		kill "$REDIS_PID" 2>/dev/null
		wait "$REDIS_PID" 2>/dev/null
		REDIS_PID=
		# A port the caller named is the point (a restart): try it again.
		[ -n "$fixed" ] || port=
	done
	echo "could not start redis-server" >&2
	return 1
}

stop_redis() {
	[ -n "$REDIS_PID" ] || return 0
	kill "$REDIS_PID" 2>/dev/null
	wait "$REDIS_PID" 2>/dev/null
	REDIS_PID=
}

# numsub CHANNEL: how many clients are subscribed to CHANNEL.
numsub() {
	rcli --raw PUBSUB NUMSUB "$1" 2>/dev/null | sed -n 2p
}

numsub_is() {
	[ "$(numsub "$1")" = "$2" ]
}

# bg COMMAND...: runs in the background, remembered for cleanup; sets BG_PID.
bg() {
	"$@" &
	BG_PID=$!
	PIDS+=("$BG_PID")
}

alive() {
	kill -0 "$1" 2>/dev/null
}

file_has() {
	grep -q -- "$2" "$1" 2>/dev/null
}

lines_in() {
	[ -f "$1" ] && [ "$(wc -l <"$1")" -ge "$2" ]
}

# --- executor tests: replies are read from $TMP/status.log, which a
# `tasker watch --json` started by the test fills.

# req JSON: publishes a raw envelope (with a fresh request_id) through
# redis-cli and waits for the reply carrying it; prints the reply.
REQ_N=0
req() {
	REQ_N=$((REQ_N + 1))
	local rid="req-$REQ_N-$(date +%s%N)-$RANDOM"
	local json=${1/\{/\{\"request_id\":\"$rid\",}
	rcli PUBLISH b00t:k0mmand3r "$json" >/dev/null
	wait_until 20 file_has "$TMP/status.log" "\"request_id\":\"$rid\"" || return 1
	grep "\"request_id\":\"$rid\"" "$TMP/status.log" | head -n 1
}

# has TEXT PATTERN: grep -q for a string.
has() { grep -q -- "$2" <<<"$1"; }

# bad NAME JSON WANT: the envelope gets an error reply containing WANT.
bad() {
	local name=$1 json=$2 want=$3
	local out
	out=$(req "$json")
	if has "$out" '"status":"error"' && has "$out" "$want"; then ok "error reply: $name"; else not_ok "error reply: $name" "got: $out"; fi
}

finish() {
	echo "$TEST_NAME: $PASS passed, $FAIL failed"
	[ "$FAIL" -eq 0 ]
	exit $?
}
