#!/usr/bin/env bash
# make bench: prints the figures the issues name, each beside its baseline.
# Starts its own redis-server (and PM2 daemon where needed) like the tests.
. "$(dirname "$0")/../integration/lib.sh"
B="$ROOT/$BUILD/bench"
echo "== core throughput"
"$B/bench_core"
echo
start_redis || { echo "bench: could not start redis-server"; exit 1; }
echo "== bus latency"
"$B/bench_bus" "redis://127.0.0.1:$REDIS_PORT" "$TASKER" 1000 2>/dev/null
for extra in "$(dirname "$0")"/bench_*.sh; do
	[ -e "$extra" ] && . "$extra"
done
exit 0
