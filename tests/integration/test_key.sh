#!/usr/bin/env bash
# tasker key: a key pair written where it is run, with the modes and formats
# docs/security.md gives; never a replaced key; a secret others may read is
# refused. The public key is checked against the secret through Python's own
# Ed25519 when the cryptography module is there. No network needed.
. "$(dirname "$0")/lib.sh"

mkdir -p "$TMP/keys" && cd "$TMP/keys" || exit 1
out=$("$TASKER" key new alpha 2>"$TMP/err"); rc=$?
check "key new exits 0" [ "$rc" -eq 0 ]
check "key new writes NAME.key with mode 0600" [ "$(stat -c %a alpha.key)" = 600 ]
check "key new writes NAME.pub" [ -f alpha.pub ]
check "NAME.pub is one ed25519:BASE64 line" \
	grep -qxE 'ed25519:[A-Za-z0-9+/]{43}=' alpha.pub
check "NAME.pub holds one line" [ "$(wc -l <alpha.pub)" -eq 1 ]
check "NAME.key is one ed25519-secret:BASE64 line" \
	grep -qxE 'ed25519-secret:[A-Za-z0-9+/]{43}=' alpha.key
check "key new prints the public key line" [ "$(tail -n 1 <<<"$out")" = "$(cat alpha.pub)" ]
check "key pub gives the same line back" [ "$("$TASKER" key pub alpha.key)" = "$(cat alpha.pub)" ]

"$TASKER" key new beta >/dev/null 2>&1
check "two keys differ" [ "$(cat alpha.pub)" != "$(cat beta.pub)" ]

before=$(cat alpha.key alpha.pub)
"$TASKER" key new alpha >/dev/null 2>"$TMP/err"; rc=$?
check "key new never replaces a key (exit 1)" [ "$rc" -eq 1 ]
check "... and says so" grep -q "refusing to replace" "$TMP/err"
check "... and leaves both files as they were" [ "$(cat alpha.key alpha.pub)" = "$before" ]
rm -f beta.key
"$TASKER" key new beta >/dev/null 2>&1; rc=$?
check "an existing NAME.pub alone also stops it" [ "$rc" -eq 1 ]
check "... with no new NAME.key left behind" [ ! -e beta.key ]

chmod 644 alpha.key
"$TASKER" key pub alpha.key >/dev/null 2>"$TMP/err"; rc=$?
check "a secret key others may read is refused (exit 1)" [ "$rc" -eq 1 ]
check "... with the chmod to run" grep -q "chmod 600 alpha.key" "$TMP/err"
chmod 600 alpha.key

"$TASKER" key new ../escape >/dev/null 2>"$TMP/err"; rc=$?
check "a name with a slash is a usage error (exit 2)" [ "$rc" -eq 2 ]
check "... and writes nothing" [ ! -e ../escape.key ]
"$TASKER" key >/dev/null 2>&1; rc=$?
check "key without a subcommand exits 2" [ "$rc" -eq 2 ]
"$TASKER" key rotate x >/dev/null 2>&1; rc=$?
check "an unknown subcommand exits 2" [ "$rc" -eq 2 ]
"$TASKER" key --help >"$TMP/help"; rc=$?
check "key --help exits 0 with a usage line" bash -c "[ $rc -eq 0 ] && grep -q 'Usage: tasker key' '$TMP/help'"

# The secret's seed gives the public key, as another Ed25519 implementation sees it.
if python3 -c 'import cryptography' 2>/dev/null; then
	derived=$(python3 - alpha.key <<'PY'
import base64, sys
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from cryptography.hazmat.primitives import serialization
seed = base64.b64decode(open(sys.argv[1]).read().strip().split(":", 1)[1])
pub = Ed25519PrivateKey.from_private_bytes(seed).public_key().public_bytes(
    serialization.Encoding.Raw, serialization.PublicFormat.Raw)
print("ed25519:" + base64.b64encode(pub).decode())
PY
)
	check "Python derives the same public key from the seed" [ "$derived" = "$(cat alpha.pub)" ]
else
	echo "# skipped: the Python cross-check (no cryptography module)"
fi
finish
