#!/usr/bin/env bash
# docs/tasker-exec.service, the sandboxed unit docs/security.md section 9
# describes: systemd accepts it (systemd-analyze verify, with the binary
# built here standing in for /usr/local/bin/tasker), its exposure is what
# the docs say (systemd-analyze security --offline), and the options of its
# ExecStart are ones `tasker exec` takes. (Not run under systemd: the test
# machine has no systemd as PID 1.)
. "$(dirname "$0")/lib.sh"

UNIT="$ROOT/docs/tasker-exec.service"
if ! command -v systemd-analyze >/dev/null; then
	not_ok "systemd-analyze is installed"
	finish
fi
mkdir -p "$TMP/u"
sed -e "s|/usr/local/bin/tasker|$TASKER|" -e '/^Documentation=/d' "$UNIT" >"$TMP/u/tasker-exec.service"
check "systemd-analyze verify accepts the unit" systemd-analyze verify "$TMP/u/tasker-exec.service"
score=$(systemd-analyze security --offline=yes "$UNIT" 2>/dev/null | sed -n 's/.*Overall exposure level for tasker-exec.service: \([0-9.]*\).*/\1/p')
check "its exposure is at most 2.0 ($score; 10 is a unit with no sandbox)" awk -v s="$score" 'BEGIN { exit !(s != "" && s <= 2.0) }'
documented=$(grep -o 'exposure level of \*\*[0-9.]*\*\*' "$ROOT/docs/security.md" | grep -o '[0-9.]*' | head -n 1)
check "docs/security.md gives that score ($documented)" [ "$documented" = "$score" ]
# Every option of ExecStart is one tasker exec knows (it would exit 2).
args=$(sed -n 's|^ExecStart=/usr/local/bin/tasker exec ||p' "$UNIT")
for opt in $(grep -o -- '--[a-z0-9-]*' <<<"$args"); do
	check "tasker exec knows $opt" grep -q -- "$opt" <("$TASKER" exec --help)
done
check "the unit runs the executor with --no-start-pm2 (PM2 outside the sandbox)" grep -q -- "--no-start-pm2" <<<"$args"
check "and with a policy" grep -q -- "--policy" <<<"$args"
finish
