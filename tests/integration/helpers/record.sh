#!/bin/sh
# A task for the tests: writes its argv (one per line) to $RECORD_OUT and its
# environment to $RECORD_OUT.env, then stays up. It is run by PM2 directly
# (never through a shell of tasker's); this script is the program itself.
: "${RECORD_OUT:?}"
for a in "$@"; do printf '%s\n' "$a"; done >"$RECORD_OUT.tmp"
env >"$RECORD_OUT.env"
pwd >"$RECORD_OUT.cwd"
mv "$RECORD_OUT.tmp" "$RECORD_OUT"
exec sleep 600
