#!/usr/bin/env bash
# make bench: prints figures measured in this run, each beside the baseline
# it names, measured in the same run in interleaved rounds (the machine is
# shared and noisy: a ratio is taken round by round and printed with its
# spread). Figures recorded elsewhere (the upstream TypeScript service, which
# cannot be installed here) are not printed; docs/architecture.md keeps them,
# labelled with where and when. Starts its own redis-server (and PM2 daemons
# where needed, in private PM2_HOMEs) like the tests. Each bench_*.sh also
# runs on its own: BUILD=build tests/bench/bench_exec.sh
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
