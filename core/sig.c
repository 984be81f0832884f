/*
 * sig: Ed25519 keys, key files, signatures and the signed-message wrapper
 * (see sig.h and docs/security.md, "Signed commands"). libsodium does the
 * cryptography; this file only frames bytes and checks forms.
 *
 * Must not: read the clock, talk to Redis, or judge authority.
 */
#include "sig.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <sodium.h>

#include "util.h"

#define PUBLIC_PREFIX "ed25519:"
#define SECRET_PREFIX "ed25519-secret:"
/* Base64 (standard alphabet, padded) of 32 and 64 bytes. */
#define B64_32 44
#define B64_64 88

int sig_init(void)
{
	return sodium_init() < 0 ? -1 : 0;
}

int sig_key_new(struct sig_key *out)
{
	return crypto_sign_ed25519_keypair(out->pk, out->sk) == 0 ? 0 : -1;
}

void sig_key_from_seed(const unsigned char seed[SIG_SEED_BYTES], struct sig_key *out)
{
	crypto_sign_ed25519_seed_keypair(out->pk, out->sk, seed);
}

void sig_key_wipe(struct sig_key *key)
{
	sodium_memzero(key, sizeof(*key));
}

/* --- base64 ---------------------------------------------------------------- */

/*
 * Decodes standard, padded base64 strictly (no blanks, no stray bits, no
 * missing or extra padding) into out; the result must be exactly want bytes
 * when want > 0, else at most cap. Returns the length, or -1.
 */
static long b64_decode(const char *text, size_t len, unsigned char *out, size_t cap, size_t want)
{
	size_t n = 0;
	if (len == 0 || len % 4 != 0)
		return -1;
	if (sodium_base642bin(out, cap, text, len, NULL, &n, NULL,
	                      sodium_base64_VARIANT_ORIGINAL) != 0)
		return -1;
	if (want > 0 && n != want)
		return -1;
	return (long)n;
}

static void b64_encode(const unsigned char *bin, size_t len, char *out, size_t size)
{
	sodium_bin2base64(out, size, bin, len, sodium_base64_VARIANT_ORIGINAL);
}

/* --- public keys ------------------------------------------------------------ */

void sig_public_text(const unsigned char pk[SIG_PUBLIC_BYTES], char buf[SIG_PUBLIC_TEXT])
{
	memcpy(buf, PUBLIC_PREFIX, strlen(PUBLIC_PREFIX));
	b64_encode(pk, SIG_PUBLIC_BYTES, buf + strlen(PUBLIC_PREFIX),
	           SIG_PUBLIC_TEXT - strlen(PUBLIC_PREFIX));
}

int sig_parse_public(const char *text, unsigned char pk[SIG_PUBLIC_BYTES], char *err, size_t errlen)
{
	size_t plen = strlen(PUBLIC_PREFIX);
	if (strncmp(text, PUBLIC_PREFIX, plen) != 0) {
		snprintf(err, errlen,
		         "a public key is written ed25519:BASE64 (it does not start "
		         "with \"ed25519:\")");
		return -1;
	}
	const char *b = text + plen;
	size_t blen = strlen(b);
	unsigned char tmp[SIG_PUBLIC_BYTES + 4];
	if (blen != B64_32 || b64_decode(b, blen, tmp, sizeof(tmp), SIG_PUBLIC_BYTES) < 0) {
		snprintf(err, errlen,
		         "a public key is \"ed25519:\" and the standard base64 of 32 bytes "
		         "(44 characters, ending in '='); this is not");
		return -1;
	}
	memcpy(pk, tmp, SIG_PUBLIC_BYTES);
	return 0;
}

/* --- key files -------------------------------------------------------------- */

bool sig_key_name_ok(const char *name)
{
	size_t n = strlen(name);
	if (n == 0 || n > 64 || !util_ascii_alnum((unsigned char)name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!util_ascii_alnum(c) && c != '.' && c != '_' && c != '-')
			return false;
	}
	return true;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t w = write(fd, buf, len);
		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		buf += w;
		len -= (size_t)w;
	}
	return 0;
}

int sig_write_key_files(const char *dir, const char *name, const struct sig_key *key, char *err,
                        size_t errlen)
{
	if (!sig_key_name_ok(name)) {
		snprintf(err, errlen,
		         "a key name is 1 to 64 letters, digits, '.', '_' or '-', starting with a "
		         "letter or digit");
		return -1;
	}
	char *kpath = xasprintf("%s/%s.key", dir, name);
	char *ppath = xasprintf("%s/%s.pub", dir, name);
	int rc = -1, kfd = -1, pfd = -1;
	bool made_key = false, made_pub = false;
	struct stat st;
	/* Check both first, so that an existing NAME.pub leaves no new NAME.key. */
	if (lstat(kpath, &st) == 0 || lstat(ppath, &st) == 0) {
		snprintf(err, errlen, "%s exists: refusing to replace a key",
		         lstat(kpath, &st) == 0 ? kpath : ppath);
		goto out;
	}
	kfd = open(kpath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
	if (kfd < 0) {
		snprintf(err, errlen, "%s: %s", kpath, strerror(errno));
		goto out;
	}
	made_key = true;
	pfd = open(ppath, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
	if (pfd < 0) {
		snprintf(err, errlen, "%s: %s", ppath, strerror(errno));
		goto out;
	}
	made_pub = true;

	char line[sizeof(SECRET_PREFIX) + B64_32 + 2];
	size_t plen = strlen(SECRET_PREFIX);
	memcpy(line, SECRET_PREFIX, plen);
	/* libsodium's secret key starts with the 32-byte seed. */
	b64_encode(key->sk, SIG_SEED_BYTES, line + plen, sizeof(line) - plen);
	strcat(line, "\n");
	char pub[SIG_PUBLIC_TEXT + 1];
	sig_public_text(key->pk, pub);
	strcat(pub, "\n");
	int werr = 0;
	if (fchmod(kfd, 0600) < 0 || write_all(kfd, line, strlen(line)) < 0 || fsync(kfd) < 0)
		werr = errno;
	sodium_memzero(line, sizeof(line));
	if (werr != 0) {
		snprintf(err, errlen, "%s: %s", kpath, strerror(werr));
		goto out;
	}
	if (write_all(pfd, pub, strlen(pub)) < 0) {
		snprintf(err, errlen, "%s: %s", ppath, strerror(errno));
		goto out;
	}
	rc = 0;
out:
	if (kfd >= 0 && close(kfd) < 0 && rc == 0) {
		snprintf(err, errlen, "%s: %s", kpath, strerror(errno));
		rc = -1;
	}
	if (pfd >= 0 && close(pfd) < 0 && rc == 0) {
		snprintf(err, errlen, "%s: %s", ppath, strerror(errno));
		rc = -1;
	}
	if (rc < 0) {
		if (made_key)
			unlink(kpath);
		if (made_pub)
			unlink(ppath);
	}
	free(kpath);
	free(ppath);
	return rc;
}

/*
 * Reads a small file (at most size - 1 bytes; more is an error) into buf,
 * NUL-terminated, and drops one final "\n". Returns 0 or -1 with err. When
 * secret, refuses a file its group or others may use.
 */
static int read_small(const char *path, bool secret, char *buf, size_t size, char *err,
                      size_t errlen)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s: not a regular file", path);
		close(fd);
		return -1;
	}
	if (secret && (st.st_mode & 077) != 0) {
		snprintf(err, errlen,
		         "%s has mode %04o: a secret key must be readable by its owner only "
		         "(chmod 600 %s)",
		         path, (unsigned)(st.st_mode & 07777), path);
		close(fd);
		return -1;
	}
	size_t n = 0;
	for (;;) {
		ssize_t r = read(fd, buf + n, size - 1 - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "%s: %s", path, strerror(errno));
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		n += (size_t)r;
		if (n == size - 1) {
			char extra;
			if (read(fd, &extra, 1) > 0) {
				snprintf(err, errlen, "%s: too long for a key file", path);
				close(fd);
				return -1;
			}
			break;
		}
	}
	close(fd);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	return 0;
}

int sig_read_secret(const char *path, struct sig_key *out, char *err, size_t errlen)
{
	char buf[128];
	if (read_small(path, true, buf, sizeof(buf), err, errlen) < 0)
		return -1;
	size_t plen = strlen(SECRET_PREFIX);
	unsigned char seed[SIG_SEED_BYTES + 4];
	int rc = 0;
	if (strncmp(buf, SECRET_PREFIX, plen) != 0 || strlen(buf + plen) != B64_32 ||
	    b64_decode(buf + plen, B64_32, seed, sizeof(seed), SIG_SEED_BYTES) < 0) {
		snprintf(err, errlen,
		         "%s: not a tasker secret key (one line: ed25519-secret: and the base64 "
		         "of a 32-byte seed)",
		         path);
		rc = -1;
	} else {
		sig_key_from_seed(seed, out);
	}
	sodium_memzero(buf, sizeof(buf));
	sodium_memzero(seed, sizeof(seed));
	return rc;
}

int sig_read_public(const char *path, unsigned char pk[SIG_PUBLIC_BYTES], char *err, size_t errlen)
{
	char buf[128];
	if (read_small(path, false, buf, sizeof(buf), err, errlen) < 0)
		return -1;
	char why[200];
	if (sig_parse_public(buf, pk, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "%s: %s", path, why);
		return -1;
	}
	return 0;
}

/* --- signatures ---------------------------------------------------------- */

static const char *context_line(enum sig_context ctx)
{
	return ctx == SIG_REPLY	   ? "tasker-reply-v1\n"
	       : ctx == SIG_FAILOVER ? "tasker-failover-v1\n"
				     : "tasker-command-v1\n";
}

/* The signed bytes: the context line, then msg. Caller frees. */
static unsigned char *signed_bytes(enum sig_context ctx, const void *msg, size_t len, size_t *total)
{
	const char *c = context_line(ctx);
	size_t clen = strlen(c);
	unsigned char *m = xmalloc(clen + len + 1);
	memcpy(m, c, clen);
	if (len > 0)
		memcpy(m + clen, msg, len);
	*total = clen + len;
	return m;
}

void sig_sign(enum sig_context ctx, const struct sig_key *key, const void *msg, size_t len,
              unsigned char sig[SIG_BYTES])
{
	size_t total;
	unsigned char *m = signed_bytes(ctx, msg, len, &total);
	crypto_sign_ed25519_detached(sig, NULL, m, total, key->sk);
	free(m);
}

bool sig_verify(enum sig_context ctx, const unsigned char pk[SIG_PUBLIC_BYTES], const void *msg,
                size_t len, const unsigned char sig[SIG_BYTES])
{
	size_t total;
	unsigned char *m = signed_bytes(ctx, msg, len, &total);
	bool ok = crypto_sign_ed25519_verify_detached(sig, m, total, pk) == 0;
	free(m);
	return ok;
}

/* --- the wrapper ------------------------------------------------------------ */

char *sig_wrap(enum sig_context ctx, const struct sig_key *key, const void *msg, size_t len)
{
	if (len > SIG_MAX_INNER)
		return NULL;
	unsigned char sig[SIG_BYTES];
	sig_sign(ctx, key, msg, len, sig);
	size_t b64len = sodium_base64_ENCODED_LEN(len, sodium_base64_VARIANT_ORIGINAL);
	char *inner = xmalloc(b64len);
	b64_encode(msg, len, inner, b64len);
	char pub[SIG_PUBLIC_TEXT], sigtext[SIG_TEXT];
	sig_public_text(key->pk, pub);
	b64_encode(sig, SIG_BYTES, sigtext, sizeof(sigtext));
	char *out =
	    xasprintf("{\"signed\":\"%s\",\"key\":\"%s\",\"sig\":\"%s\"}", inner, pub, sigtext);
	free(inner);
	return out;
}

void sig_wrapper_free(struct sig_wrapper *w)
{
	free(w->inner);
	w->inner = NULL;
	w->inner_len = 0;
}

static bool blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int sig_parse_wrapper(const char *buf, size_t len, struct sig_wrapper *out, char *err,
                      size_t errlen)
{
	memset(out, 0, sizeof(*out));
	/* Anything the codec would refuse on its own is left to it, with its
	 * own sentence: too long, a NUL, not JSON, not an object. */
	if (len > 64 * 1024 || memchr(buf, '\0', len) != NULL)
		return 0;
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (root == NULL)
		return 0;
	while (end != NULL && end < buf + len && blank(*end))
		end++;
	if (!cJSON_IsObject(root) || end != buf + len ||
	    cJSON_GetObjectItemCaseSensitive(root, "signed") == NULL) {
		cJSON_Delete(root);
		return 0;
	}

	const cJSON *signed_v = NULL, *key_v = NULL, *sig_v = NULL;
	int rc = -1;
	for (const cJSON *m = root->child; m != NULL; m = m->next) {
		const cJSON **slot = strcmp(m->string, "signed") == 0 ? &signed_v
		                     : strcmp(m->string, "key") == 0  ? &key_v
		                     : strcmp(m->string, "sig") == 0  ? &sig_v
		                                                      : NULL;
		if (slot == NULL) {
			char shown[48];
			util_json_escape(m->string, shown, sizeof(shown));
			snprintf(err, errlen,
			         "a signed message has exactly the members signed, key and sig; "
			         "this one also has \"%s\"",
			         shown);
			goto out;
		}
		if (*slot != NULL) {
			snprintf(err, errlen,
			         "the key \"%s\" appears twice in the signed message (JSON readers "
			         "disagree on which one counts)",
			         m->string);
			goto out;
		}
		if (!cJSON_IsString(m)) {
			snprintf(err, errlen, "the signed message's %s must be a string",
			         m->string);
			goto out;
		}
		*slot = m;
	}
	if (key_v == NULL || sig_v == NULL) {
		snprintf(err, errlen, "the signed message has no %s",
		         key_v == NULL ? "key" : "sig");
		goto out;
	}
	char why[200];
	if (sig_parse_public(key_v->valuestring, out->pk, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "the signed message's key: %s", why);
		goto out;
	}
	unsigned char sig[SIG_BYTES + 4];
	size_t slen = strlen(sig_v->valuestring);
	if (slen != B64_64 ||
	    b64_decode(sig_v->valuestring, slen, sig, sizeof(sig), SIG_BYTES) < 0) {
		snprintf(err, errlen,
		         "the signed message's sig must be the standard base64 of 64 bytes (88 "
		         "characters)");
		goto out;
	}
	memcpy(out->sig, sig, SIG_BYTES);
	size_t ilen = strlen(signed_v->valuestring);
	size_t cap = ilen / 4 * 3 + 3;
	out->inner = xmalloc(cap + 1);
	long n = b64_decode(signed_v->valuestring, ilen, (unsigned char *)out->inner, cap, 0);
	if (n <= 0) {
		snprintf(err, errlen,
		         "the signed message's signed must be the standard base64 (padded) of the "
		         "message's bytes");
		goto out;
	}
	if ((size_t)n > SIG_MAX_INNER) {
		snprintf(err, errlen, "the signed bytes are %ld long, over the limit of %d", n,
		         SIG_MAX_INNER);
		goto out;
	}
	out->inner[n] = '\0';
	out->inner_len = (size_t)n;
	rc = 1;
out:
	cJSON_Delete(root);
	return rc;
}

bool sig_verify_wrapper(enum sig_context ctx, const struct sig_wrapper *w)
{
	return w->inner != NULL && sig_verify(ctx, w->pk, w->inner, w->inner_len, w->sig);
}

/* --- time and replay ----------------------------------------------------- */

int sig_check_window(int64_t ts_ms, int64_t now_ms, int64_t window_ms, char *err, size_t errlen)
{
	int64_t age;
	if (__builtin_sub_overflow(now_ms, ts_ms, &age)) {
		snprintf(err, errlen, "the timestamp is out of range");
		return -1;
	}
	if (age > window_ms) {
		snprintf(err, errlen, "the timestamp is %.1f s old, outside the %.0f s window",
		         (double)age / 1000.0, (double)window_ms / 1000.0);
		return -1;
	}
	if (age < -window_ms) {
		snprintf(err, errlen,
		         "the timestamp is %.1f s ahead of this executor's clock, outside the %.0f "
		         "s window",
		         -(double)age / 1000.0, (double)window_ms / 1000.0);
		return -1;
	}
	return 0;
}

void sig_replay_id(enum sig_context ctx, const struct sig_wrapper *w, char out[65])
{
	crypto_generichash_state st;
	unsigned char h[32];
	const char *c = context_line(ctx);
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)c, strlen(c));
	crypto_generichash_update(&st, w->pk, SIG_PUBLIC_BYTES);
	crypto_generichash_update(&st, (const unsigned char *)w->inner, w->inner_len);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, 65, h, sizeof(h));
}

int64_t sig_replay_ttl_ms(int64_t ts_ms, int64_t now_ms, int64_t window_ms)
{
	int64_t left = ts_ms + window_ms - now_ms + 1000;
	return left < 1000 ? 1000 : left;
}
