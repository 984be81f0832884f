// Verifies a signed status message exactly as docs/security.md ("Signed
// replies") tells a third party to: strip the fixed 169-byte suffix, put
// back '}', check Ed25519 over "tasker-reply-v1\n" + those bytes with the
// key given (ed25519:BASE64). Reads the message on stdin (one line); exits
// 0 when it verifies, 1 when not. Node's crypto only: an independent check.
const crypto = require('crypto');
const want = process.argv[2];
let msg = require('fs').readFileSync(0).toString('utf8').replace(/\n$/, '');
const buf = Buffer.from(msg, 'utf8');
const m = /,"sig":\{"key":"(ed25519:[A-Za-z0-9+/]{43}=)","value":"([A-Za-z0-9+/]{86}==)"\}\}$/.exec(msg);
if (!m || buf.length < 169) { console.error('no signature'); process.exit(1); }
const body = Buffer.concat([buf.subarray(0, buf.length - 169), Buffer.from('}')]);
if (want && m[1] !== want) { console.error('another key'); process.exit(1); }
const raw = Buffer.from(m[1].slice(8), 'base64');
const spki = Buffer.concat([Buffer.from('302a300506032b6570032100', 'hex'), raw]);
const key = crypto.createPublicKey({key: spki, format: 'der', type: 'spki'});
const ok = crypto.verify(null, Buffer.concat([Buffer.from('tasker-reply-v1\n'), body]), key,
	Buffer.from(m[2], 'base64'));
JSON.parse(body.toString('utf8')); // B is plain JSON
process.exit(ok ? 0 : 1);
