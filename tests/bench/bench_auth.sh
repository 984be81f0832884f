#!/usr/bin/env bash
# Sourced by tests/bench/run.sh (or run on its own): the cost of signed
# commands and of the policy, in-process (bench_auth.c).
[ -n "${B:-}" ] || B="$(cd "$(dirname "$0")/../.." && pwd)/${BUILD:-build}/bench"
echo
echo "== authority: signatures and policy"
"$B/bench_auth"
