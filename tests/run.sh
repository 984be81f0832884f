#!/usr/bin/env bash
# Runs test programs (unit binaries and integration scripts) one after
# another, shows their output, and adds up the "N passed, N failed" line each
# one ends with. A program that exits non-zero or prints no summary counts as
# a failure, so a crash can never look like a pass.
set -u
total_pass=0
total_fail=0
broken=()
for t in "$@"; do
	name=$(basename "$t")
	echo "== $name"
	out=$(mktemp)
	if [ "${t##*.}" = sh ]; then
		bash "$t" 2>&1 | tee "$out"
	else
		"$t" 2>&1 | tee "$out"
	fi
	rc=${PIPESTATUS[0]}
	line=$(grep -E '^([A-Za-z0-9_-]+: )?[0-9]+ passed, [0-9]+ failed' "$out" | tail -n 1)
	rm -f "$out"
	if [ -z "$line" ]; then
		broken+=("$name (no summary, exit $rc)")
		total_fail=$((total_fail + 1))
		continue
	fi
	p=$(sed -E 's/^([A-Za-z0-9_-]+: )?([0-9]+) passed.*/\2/' <<<"$line")
	f=$(sed -E 's/^([A-Za-z0-9_-]+: )?[0-9]+ passed, ([0-9]+) failed.*/\2/' <<<"$line")
	total_pass=$((total_pass + p))
	total_fail=$((total_fail + f))
	if [ "$rc" -ne 0 ] && [ "$f" -eq 0 ]; then
		broken+=("$name (exit $rc)")
		total_fail=$((total_fail + 1))
	fi
done
for b in "${broken[@]+"${broken[@]}"}"; do echo "broken: $b"; done
echo "total: $total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
