#!/usr/bin/env bash
# bench_fleet.sh: the fleet (docs/fleet.md) measured from the outside, on a
# redis-server of its own (appendonly everysec, as a fleet would run) with
# three executors (n1, n2, n3), each with its own PM2 daemon in a private
# PM2_HOME (never ~/.pm2); every task runs sleep 600:
#   1. a burst of BENCH_FLEET_BURST (300) untargeted starts, one raw PUBLISH
#      each (one redis-cli reading them all from a pipe), placed by the
#      fleet: time from the first PUBLISH to the last reply (the reply's own
#      timestamp), starts/s, where they landed; then the same names deleted
#      in one burst; BENCH_FLEET_ROUNDS rounds (3), median and spread;
#   2. Redis commands per tasker command: CONFIG RESETSTAT, N commands of
#      one kind one after another (each waits for its reply), INFO
#      commandstats; the idle fleet's own traffic over the same time taken
#      away (measured first, idle with BENCH_FLEET_IDLE_TASKS (30) tasks
#      running, over BENCH_FLEET_IDLE (10) s); one column per
#      kind: start, stop, status, delete through `tasker send --wait` (its
#      SUBSCRIBE, its own admission script and PUBLISH included) and as a
#      raw PUBLISH (the fleet's side alone, plus that one PUBLISH); bytes
#      in and out of Redis too;
#   3. a model, computed from this run's figures and labelled as such: the
#      Redis load of 100 nodes, 100 commands/s and 10,000 tasks, beside
#      what this Redis did on this machine (redis-benchmark GET/SET, same
#      run), and what would need sharding first.
# Prints figures; asserts nothing. Sourced by tests/bench/run.sh, or run on
# its own: BUILD=build tests/bench/bench_fleet.sh

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
	. "$(dirname "$0")/../integration/lib.sh"
	BENCH_STANDALONE=1
fi

BF_BURST=${BENCH_FLEET_BURST:-300}
BF_ROUNDS=${BENCH_FLEET_ROUNDS:-3}
BF_N=${BENCH_FLEET_N:-20}
BF_IDLE=${BENCH_FLEET_IDLE:-10}
BF_IDLE_N=${BENCH_FLEET_IDLE_TASKS:-30}

bf_main() {
	local pm2="$ROOT/.deps/node_modules/.bin/pm2"
	echo
	echo "== fleet: three executors (n1 n2 n3) on one redis-server (appendonly everysec), each its own PM2 daemon"
	if [ ! -x "$pm2" ]; then
		echo "  skipped: pm2 is not installed in .deps (run make deps)"
		return 0
	fi
	local dir="$TMP/bench-fleet"
	mkdir -p "$dir"
	local port
	port=$(free_port) || { echo "  skipped: no free port"; return 0; }
	bg redis-server --port "$port" --bind 127.0.0.1 --save '' --appendonly yes \
		--appendfsync everysec --dir "$dir" --logfile "$dir/redis.log"
	BF_REDIS_PID=$BG_PID
	BF_PORT=$port
	if ! wait_until 10 bf_up; then
		echo "  skipped: redis-server did not start"
		kill "$BF_REDIS_PID" 2>/dev/null
		return 0
	fi
	local url="redis://127.0.0.1:$port"
	local node
	for node in n1 n2 n3; do
		mkdir -p "$dir/pm2-$node"
		PM2_HOME="$dir/pm2-$node" bg "$TASKER" exec --redis "$url" --node "$node" \
			--pm2 "$pm2" --pm2-home "$dir/pm2-$node" --cwd-base "$TMP" \
			>"$dir/exec-$node.log" 2>&1
		BF_EXEC[$node]=$BG_PID
	done
	for node in n1 n2 n3; do
		if ! wait_until 30 file_has "$dir/exec-$node.log" "ready: listening"; then
			echo "  skipped: executor $node did not say it was ready: $(tail -n 1 "$dir/exec-$node.log")"
			bf_stop "$pm2" "$dir"
			return 0
		fi
	done
	BF_LOG="$dir/status.log"
	bg "$TASKER" watch --json --redis "$url" >"$BF_LOG" 2>/dev/null
	wait_until 10 bf_numsub_is 1
	if ! wait_until 30 bf_all_seen "$url"; then
		echo "  skipped: the fleet's status does not name three nodes"
		bf_stop "$pm2" "$dir"
		return 0
	fi

	# Each dispatcher's first view may predate the others' presence keys
	# (started together): let every view refresh once (every 1 s) so that
	# placement sees three nodes.
	bf_pause 2
	bf_burst "$url"
	bf_commandstats "$url"
	bf_model
	bf_stop "$pm2" "$dir"
	return 0
}

declare -A BF_EXEC
bf_rcli() { redis-cli -p "$BF_PORT" "$@"; }
bf_up() { [ "$(bf_rcli ping 2>/dev/null)" = PONG ]; }
bf_numsub_is() { [ "$(bf_rcli --raw PUBSUB NUMSUB b00t:task:status | sed -n 2p)" = "$1" ]; }
bf_all_seen() {
	"$TASKER" send --redis "$1" --wait=10 --raw '/status' 2>/dev/null |
		grep -q '"nodes":\["n[123]","n[123]","n[123]"\]'
}
bf_count() { grep -c "\"request_id\":\"$1" "$BF_LOG"; }
bf_count_ge() { [ "$(bf_count "$1")" -ge "$2" ]; }
bf_wake() { [ -p "$TMP/bench-fleet/wake" ] || mkfifo "$TMP/bench-fleet/wake"; }
# bf_pause SECONDS: a bounded wait (a read nobody answers).
bf_pause() { bf_wake; read -r -t "$1" _ <>"$TMP/bench-fleet/wake"; }

bf_stop() {
	local node
	for node in n1 n2 n3; do kill -TERM "${BF_EXEC[$node]}" 2>/dev/null; done
	for node in n1 n2 n3; do wait "${BF_EXEC[$node]}" 2>/dev/null; done
	for node in n1 n2 n3; do PM2_HOME="$2/pm2-$node" "$1" kill >/dev/null 2>&1; done
	# Its redis-server too: a later bench file starts with a quiet machine.
	kill -TERM "$BF_REDIS_PID" 2>/dev/null
	wait "$BF_REDIS_PID" 2>/dev/null
}

# bf_burst_once VERB PREFIX ROUND: BF_BURST raw PUBLISHes through one
# redis-cli; prints "SECONDS n1 n2 n3 OK" (to the last reply by its own
# timestamp; per node; how many had the success status).
bf_burst_once() {
	local verb=$1 pre=$2 round=$3 i
	local file="$TMP/bench-fleet/burst-$pre-$round"
	for i in $(seq 1 "$BF_BURST"); do
		if [ "$verb" = start ]; then
			echo "PUBLISH b00t:k0mmand3r '{\"verb\":\"start\",\"params\":{\"task\":\"fb$round-$i\",\"command\":\"sleep 600\"},\"request_id\":\"$pre-$round-$i\"}'"
		else
			echo "PUBLISH b00t:k0mmand3r '{\"verb\":\"$verb\",\"params\":{\"task\":\"fb$round-$i\"},\"request_id\":\"$pre-$round-$i\"}'"
		fi
	done >"$file"
	local t0
	t0=$(date -u +%s%3N)
	bf_rcli <"$file" >/dev/null
	wait_until 300 bf_count_ge "$pre-$round-" "$BF_BURST"
	grep "\"request_id\":\"$pre-$round-" "$BF_LOG" | awk -v t0="$t0" -v want="$([ "$verb" = start ] && echo started || echo deleted)" '
		{
			match($0, /"timestamp":"[^"]*"/); ts = substr($0, RSTART + 13, RLENGTH - 14)
			split(substr(ts, 12, 12), hms, ":")
			ms = ((hms[1] * 60 + hms[2]) * 60 + hms[3]) * 1000
			if (ms > last) last = ms
			match($0, /"node":"[^"]*"/); node = substr($0, RSTART + 8, RLENGTH - 9); per[node]++
			if (index($0, "\"status\":\"" want "\"")) ok++
			n++
		}
		END {
			day = t0 % 86400000
			printf "%.2f %d %d %d %d %d\n", (last - day) / 1000, per["n1"], per["n2"], per["n3"], ok, n
		}'
	# Anything but the success status, by status and error.
	grep "\"request_id\":\"$pre-$round-" "$BF_LOG" | grep -v "\"status\":\"$([ "$verb" = start ] && echo started || echo deleted)\"" |
		sed -E 's/.*"status":"([^"]*)".*"error":"([^"]{0,100}).*/\1: \2/; s/.*"status":"([^"]*)".*/\1/' |
		sed -E 's/[0-9]+/N/g' | sort | uniq -c | sort -rn | head -n 3 | sed 's/^ */             not a success: /' >&2
}

# bf_stats VALUES...: "median min max" of numbers.
bf_stats() { printf '%s\n' "$@" | sort -g | awk '{v[NR] = $1} END {printf "%s %s %s", v[int((NR + 1) / 2)], v[1], v[NR]}'; }

# bf_sizes URL: with the burst's tasks running, the bytes per task of the
# task tables and of a fleet status reply (for the model).
bf_tasks() { "$TASKER" ls --fleet --json --redis "$1" 2>/dev/null | grep -o '"pm_id":' | wc -l; }
bf_tasks_ge() { [ "$(bf_tasks "$1")" -ge "$2" ]; }
BF_SK=0
bf_status_full() {
	BF_SK=$((BF_SK + 1))
	bf_pub_wait "{\"verb\":\"status\",\"params\":{},\"request_id\":\"fs-size-$BF_SK\"}" "fs-size-$BF_SK"
	grep -F "\"request_id\":\"fs-size-$BF_SK\"" "$BF_LOG" | head -n 1 >"$TMP/bench-fleet/status-size"
	[ "$(grep -o '"pm_id":' "$TMP/bench-fleet/status-size" | wc -l)" -ge "$BF_BURST" ]
}
bf_sizes() {
	wait_until 10 bf_tasks_ge "$1" "$BF_BURST"
	BF_TABLE_TASKS=$(bf_tasks "$1")
	BF_TABLE_BYTES=$(for n in n1 n2 n3; do bf_rcli STRLEN "b00t:{tasker}:tasks:$n"; done | awk '{s += $1} END {print s + 0}')
	# The dispatchers' views follow the tables within about a second.
	wait_until 10 bf_status_full
	BF_STATUS_BYTES=$(wc -c <"$TMP/bench-fleet/status-size")
	printf '           with %d tasks: task tables %d bytes (%.0f per task), a fleet status reply %d bytes (%.0f per task)\n' \
		"$BF_TABLE_TASKS" "$BF_TABLE_BYTES" "$(awk -v b="$BF_TABLE_BYTES" -v t="$BF_TABLE_TASKS" 'BEGIN {print (t > 0) ? b / t : 0}')" \
		"$BF_STATUS_BYTES" "$(awk -v b="$BF_STATUS_BYTES" -v t="$BF_TABLE_TASKS" 'BEGIN {print (t > 0) ? b / t : 0}')"
}

bf_burst() {
	local url=$1 r out starts=() deletes=() rates=() drates=()
	echo
	echo "-- burst: $BF_BURST untargeted starts (raw PUBLISH, one redis-cli), placed by the fleet; then the same names deleted in one burst; $BF_ROUNDS rounds"
	for r in $(seq 1 "$BF_ROUNDS"); do
		out=$(bf_burst_once start fbs "$r")
		read -r secs a b c ok n <<<"$out"
		starts+=("$secs")
		rates+=("$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0) ? n / s : 0}')")
		printf '  round %d: %d starts answered (%d started) in %.2f s to the last reply: %s starts/s; placed n1 %d, n2 %d, n3 %d\n' \
			"$r" "$n" "$ok" "$secs" "${rates[-1]}" "$a" "$b" "$c"
		[ "$r" -eq 1 ] && bf_sizes "$url"
		out=$(bf_burst_once delete fbd "$r")
		read -r secs a b c ok n <<<"$out"
		deletes+=("$secs")
		drates+=("$(awk -v n="$n" -v s="$secs" 'BEGIN {printf "%.0f", (s > 0) ? n / s : 0}')")
		printf '           %d deletes answered (%d deleted) in %.2f s: %s deletes/s\n' "$n" "$ok" "$secs" "${drates[-1]}"
	done
	read -r m lo hi <<<"$(bf_stats "${starts[@]}")"
	printf '  burst of %d starts, median of %d rounds: %.2f s to the last reply (min %.2f, max %.2f)' "$BF_BURST" "$BF_ROUNDS" "$m" "$lo" "$hi"
	read -r m lo hi <<<"$(bf_stats "${rates[@]}")"
	printf ', %s starts/s (min %s, max %s)\n' "$m" "$lo" "$hi"
	read -r m lo hi <<<"$(bf_stats "${drates[@]}")"
	printf '  burst of %d deletes, median: %s deletes/s (min %s, max %s)\n' "$BF_BURST" "$m" "$lo" "$hi"
}

# bf_snapshot FILE: INFO commandstats as "cmd calls" lines, plus
# "~in BYTES" and "~out BYTES" (INFO stats), without our own INFO/CONFIG.
bf_snapshot() {
	{
		bf_rcli INFO commandstats | tr -d '\r' |
			sed -n 's/^cmdstat_\([^:]*\):calls=\([0-9]*\),.*/\1 \2/p'
		bf_rcli INFO stats | tr -d '\r' |
			sed -n 's/^total_net_input_bytes:/~in /p; s/^total_net_output_bytes:/~out /p'
	} | grep -v -E '^(info|config\|resetstat|config) ' >"$1"
}

# bf_kind NAME: runs BF_N commands of that kind, one after another.
bf_send() { "$TASKER" send --redis "$BF_URL" --wait=30 "$@" >/dev/null 2>&1; }
bf_pub_wait() {
	bf_rcli PUBLISH b00t:k0mmand3r "$1" >/dev/null
	timeout 30 tail -n +1 -f "$BF_LOG" 2>/dev/null | grep -m1 -qF "\"request_id\":\"$2\""
}
bf_kind() {
	local kind=$1 i
	for i in $(seq 1 "$BF_N"); do
		case "$kind" in
		start-send) bf_send "/start --task=cs$i --command=\"sleep 600\"" ;;
		stop-send) bf_send "/stop --task=cs$i" ;;
		status-send) bf_send "/status" ;;
		delete-send) bf_send "/delete --task=cs$i" ;;
		start-pub) bf_pub_wait "{\"verb\":\"start\",\"params\":{\"task\":\"cp$i\",\"command\":\"sleep 600\"},\"request_id\":\"cp-start-$i\"}" "cp-start-$i" ;;
		stop-pub) bf_pub_wait "{\"verb\":\"stop\",\"params\":{\"task\":\"cp$i\"},\"request_id\":\"cp-stop-$i\"}" "cp-stop-$i" ;;
		status-pub) bf_pub_wait "{\"verb\":\"status\",\"params\":{},\"request_id\":\"cp-status-$i\"}" "cp-status-$i" ;;
		delete-pub) bf_pub_wait "{\"verb\":\"delete\",\"params\":{\"task\":\"cp$i\"},\"request_id\":\"cp-delete-$i\"}" "cp-delete-$i" ;;
		esac
	done
}

BF_KINDS=(start-send stop-send status-send delete-send start-pub stop-pub status-pub delete-pub)

bf_commandstats() {
	BF_URL=$1
	local d="$TMP/bench-fleet" k t0 t1
	echo
	echo "-- Redis commands per tasker command (INFO commandstats; $BF_N commands of each kind, one after another; the idle fleet's own traffic over the same time taken away)"
	# The idle fleet first: its own traffic per second, with BF_IDLE_N
	# tasks running (their tables, their fencing checks).
	local i
	for i in $(seq 1 "$BF_IDLE_N"); do
		echo "PUBLISH b00t:k0mmand3r '{\"verb\":\"start\",\"params\":{\"task\":\"idle$i\",\"command\":\"sleep 600\"},\"request_id\":\"fi-$i\"}'"
	done | bf_rcli >/dev/null
	wait_until 60 bf_count_ge fi- "$BF_IDLE_N"
	wait_until 10 bf_tasks_ge "$BF_URL" "$BF_IDLE_N"
	bf_pause 2
	bf_rcli CONFIG RESETSTAT >/dev/null
	t0=$(date +%s%N)
	bf_pause "$BF_IDLE"
	bf_snapshot "$d/cs-idle"
	t1=$(date +%s%N)
	BF_IDLE_KEYS=$(bf_rcli DBSIZE)
	BF_IDLE_TASKS=$(bf_tasks "$BF_URL")
	echo "$(((t1 - t0) / 1000000))" >"$d/cs-idle.ms"
	for k in "${BF_KINDS[@]}"; do
		bf_rcli CONFIG RESETSTAT >/dev/null
		t0=$(date +%s%N)
		bf_kind "$k"
		bf_snapshot "$d/cs-$k"
		t1=$(date +%s%N)
		echo "$(((t1 - t0) / 1000000))" >"$d/cs-$k.ms"
	done
	awk -v n="$BF_N" -v dir="$d" -v kinds="${BF_KINDS[*]}" -v keys="$BF_IDLE_KEYS" -v tasks="$BF_IDLE_TASKS" '
	function load(file, tag,   line, a) {
		while ((getline line < file) > 0) { split(line, a, " "); v[tag, a[1]] = a[2]; if (!(a[1] in seen)) { seen[a[1]] = 1; order[++nc] = a[1] } }
		close(file)
		getline ms[tag] < (file ".ms"); close(file ".ms")
	}
	BEGIN {
		nk = split(kinds, K, " ")
		load(dir "/cs-idle", "idle")
		for (i = 1; i <= nk; i++) load(dir "/cs-" K[i], K[i])
		# Sort command names (bytes last).
		for (i = 1; i <= nc; i++) for (j = i + 1; j <= nc; j++) if (order[j] < order[i]) { t = order[i]; order[i] = order[j]; order[j] = t }
		printf "  idle fleet of 3, per second (over %.1f s):", ms["idle"] / 1000
		for (i = 1; i <= nc; i++) { c = order[i]; if (substr(c, 1, 1) == "~") continue
			r = v["idle", c] / (ms["idle"] / 1000); if (r > 0) printf " %s %.2f", c, r; tot += r }
		printf "; total %.1f calls/s, %.0f B/s in, %.0f B/s out; %d keys in Redis, %d tasks\n", tot, v["idle", "~in"] / (ms["idle"] / 1000), v["idle", "~out"] / (ms["idle"] / 1000), keys, tasks
		printf "  %-13s", "per command"; for (i = 1; i <= nk; i++) printf " %12s", K[i]; printf "\n"
		for (i = 1; i <= nc; i++) {
			c = order[i]; line = sprintf("  %-13s", c == "~in" ? "bytes in" : c == "~out" ? "bytes out" : c); any = 0
			for (j = 1; j <= nk; j++) {
				bg = v["idle", c] / ms["idle"] * ms[K[j]]
				x = (v[K[j], c] - bg) / n
				if (x < 0.05 && x > -0.05) x = 0
				if (x != 0) any = 1
				line = line sprintf(" %12.1f", x)
				if (substr(c, 1, 1) != "~") total[j] += x
				else bytes[c, j] = x
			}
			if (any) print line
		}
		printf "  %-13s", "total calls"; for (j = 1; j <= nk; j++) printf " %12.1f", total[j]; printf "\n"
		printf "  %-13s", "wall ms each"; for (j = 1; j <= nk; j++) printf " %12.0f", ms[K[j]] / n; printf "\n"
		printf "  (-send: through tasker send --wait: its SUBSCRIBE, its own admission script and PUBLISH included; -pub: one raw\n"
		printf "   PUBLISH, the rest is the fleet: every executor that gets the PUBLISH runs the admission script)\n"
		# For the model.
		out = dir "/cs-summary"
		printf "idle_calls %.3f\nidle_in %.1f\nidle_out %.1f\n", tot, v["idle", "~in"] / (ms["idle"] / 1000), v["idle", "~out"] / (ms["idle"] / 1000) > out
		for (i = 1; i <= nc; i++) { c = order[i]; if (substr(c, 1, 1) != "~") printf "idle_%s %.4f\n", c, v["idle", c] / (ms["idle"] / 1000) > out }
		for (j = 1; j <= nk; j++) printf "calls_%s %.3f\nin_%s %.1f\nout_%s %.1f\n", K[j], total[j], K[j], bytes["~in", j], K[j], bytes["~out", j] > out
	}'
	# Redis on this machine, same run: what one connection pipeline does.
	BF_CAP=$(redis-benchmark -p "$BF_PORT" -q -n 100000 -c 20 -P 16 -t get,set 2>/dev/null | tr '\r' '\n' |
		awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {s += $i; n++; break}} END {if (n) printf "%.0f", s / n}')
	BF_CAP1=$(redis-benchmark -p "$BF_PORT" -q -n 50000 -c 20 -t get 2>/dev/null | tr '\r' '\n' |
		awk '/requests per second/ {for (i = 1; i <= NF; i++) if ($i ~ /^[0-9.]+$/) {print $i; exit}}')
	echo "  this redis-server on this machine (redis-benchmark, same run): GET/SET ${BF_CAP:-?} requests/s pipelined (20 clients, 16 deep), GET ${BF_CAP1:-?}/s unpipelined"
}

bf_model() {
	local d="$TMP/bench-fleet"
	[ -s "$d/cs-summary" ] || return 0
	echo
	echo "-- MODEL, computed from this run's measurements above (not measured): 100 nodes, 100 commands/s (a third each start, stop, status), 10,000 tasks"
	awk -v tb="${BF_TABLE_BYTES:-0}" -v tn="${BF_TABLE_TASKS:-0}" -v sb="${BF_STATUS_BYTES:-0}" \
		-v cap="${BF_CAP:-0}" -v cap1="${BF_CAP1:-0}" -v keys="${BF_IDLE_KEYS:-0}" -v itasks="${BF_IDLE_TASKS:-0}" '
	{ m[$1] = $2 }
	END {
		N = 100; C = 100; T = 10000; n = 3
		bpt = (tn > 0) ? tb / tn : 0
		spt = (tn > 0) ? sb / tn : 0
		# The view: every node, every second: SCAN presence and SCAN tables
		# (COUNT 1000: one call per 1000 keys of the whole keyspace), then
		# GET every presence key and every table (2 x 3 GETs at 3 nodes).
		views = m["idle_get"] / n / (2 * n)
		scan_per_view = (views > 0) ? m["idle_scan"] / n / views : 0
		# Keys at that size: a name key per task, a once key per command
		# for its ttl (60 s), presence, tables, node streams, acting.
		K = T + C * 60 + 4 * N + 10
		scans = 2 * int((K + 999) / 1000)
		view_calls = N * views * (scans + 2 * N)
		view_out = N * views * (T * bpt + N * 300)
		visits = N * views * 2 * K
		# Fencing (failover): after each view, each node looks up the
		# definition of each of its tasks (HMGET in one script).
		fence = (itasks > 0) ? m["idle_hmget"] / itasks : 0
		# Each node besides its view and fencing: presence, table,
		# blocking read, claims, the failover check.
		own = (m["idle_calls"] - m["idle_scan"] - m["idle_get"] - m["idle_hmget"]) / n
		# A table is written every 5 s and after each change (200 ms).
		tables_in = N / 5 * (T / N * bpt) + C * 2 / 3 * (T / N * bpt)
		# Commands: the fleet-side calls of the raw PUBLISH columns, at 3
		# nodes; every executor that gets the PUBLISH runs the admission
		# script (EVAL + EXISTS, or + XADD + SET for the one that admits
		# it): N - 3 more of those each.
		per = (m["calls_start-pub"] + m["calls_stop-pub"] + m["calls_status-pub"]) / 3
		per_n = per + 2 * (N - n)
		cmd_calls = C * per_n
		cmd_in = C / 3 * (m["in_start-pub"] + m["in_stop-pub"] + m["in_status-pub"]) + C * (N - n) * 600
		# A status without a node: the whole fleet in one reply, sent to
		# Redis in the reply script, published, added to the history.
		status_reply = T * spt
		status_in = C / 3 * status_reply * 2
		status_out = C / 3 * status_reply
		total = view_calls + N * own + T * fence + cmd_calls
		tin = tables_in + cmd_in + status_in
		tout = view_out + status_out
		printf "  inputs measured above: %.2f views/s per node (%.1f SCAN calls each with %d keys in Redis); %.2f calls/s per idle\n", views, scan_per_view, keys, own
		printf "    node besides its view; fleet-side calls per command at 3 nodes: start %.1f, stop %.1f, status %.1f (raw PUBLISH\n", m["calls_start-pub"], m["calls_stop-pub"], m["calls_status-pub"]
		printf "    columns); %.0f bytes per task in the tables, %.0f in a fleet status reply\n", bpt, spt
		printf "  %-70s %10s %10s %10s\n", "", "calls/s", "MB/s in", "MB/s out"
		printf "  %-70s %10.0f %10s %10.1f\n", sprintf("views: %d nodes x (%d SCAN over ~%d keys + %d GET) a second", N, scans, K, 2 * N), view_calls, "", view_out / 1e6
		printf "  %-70s %10.0f %10s %10s\n", "presence and table refreshes, blocking reads, claims, failover check", N * own, "", ""
		printf "  %-70s %10.0f %10s %10s\n", sprintf("fencing: %.2f definition lookups (HMGET) per task a second", fence), T * fence, "", ""
		printf "  %-70s %10s %10.1f %10s\n", "task tables written (every 5 s, and after each start/stop)", "", tables_in / 1e6, ""
		printf "  %-70s %10.0f %10.1f %10s\n", sprintf("%d commands/s (%.1f calls each: %d admission scripts)", C, per_n, N), cmd_calls, cmd_in / 1e6, ""
		printf "  %-70s %10s %10.1f %10.1f\n", sprintf("  of which fleet status replies (%.1f MB each)", status_reply / 1e6), "", status_in / 1e6, status_out / 1e6
		printf "  %-70s %10.0f %10.1f %10.1f\n", "total", total, tin / 1e6, tout / 1e6
		printf "  against this redis-server on this machine, same run: %s calls/s pipelined, %s unpipelined (redis-benchmark GET/SET):\n", cap, cap1
		printf "    the calls are %.0f%% of the unpipelined figure; SCAN visits %.1f million keys/s; %.0f MB/s leave Redis\n", (cap1 > 0) ? 100 * total / cap1 : 0, visits / 1e6, tout / 1e6
		printf "  first to change: the view (each node reads every table every second: nodes x tasks x %.0f bytes/s,\n", bpt
		printf "    and SCANs the whole keyspace twice), then fleet status replies (the whole fleet in one message, kept in the history)\n"
	}' "$d/cs-summary"
}

bf_main
if [ -n "${BENCH_STANDALONE:-}" ]; then exit 0; fi
