/*
 * Unit tests for sig: signatures round-trip and a changed byte, a wrong key
 * or the wrong context fails; the wrapper matches what Node's and Python's
 * own Ed25519 produce for the example of docs/security.md; public keys and
 * wrappers are parsed strictly; the time window's edges; key files (modes,
 * refusing to replace, refusing a secret others may read).
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cleanup.h"
#include "sig.h"

/* The worked example of docs/security.md: seed bytes 0..31, signed with
 * Node's crypto.sign and with Python's cryptography (both gave this). */
static const char example_cmd[] =
    "{\"verb\":\"status\",\"params\":{},\"timestamp\":\"2026-12-01T12:"
    "00:00.000Z\",\"agent_id\":\"alpha\",\"request_id\":\"r1\"}";
static const char example_wrapper[] =
    "{\"signed\":\"eyJ2ZXJiIjoic3RhdHVzIiwicGFyYW1zIjp7fSwidGltZXN0YW1wIjoiMjAyNi0xMi0wMVQxMj"
    "owMDowMC4wMDBaIiwiYWdlbnRfaWQiOiJhbHBoYSIsInJlcXVlc3RfaWQiOiJyMSJ9\",\"key\":\"ed25519:"
    "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\",\"sig\":\"y605qcyERIs8z7823IiBQEZx5RcY6WX34"
    "IdtYgnwQDVP99WBd12lqzf9PqkSJJhImA307ThPKXxve3ahX9BDCQ==\"}";

static struct sig_key example_key(void)
{
	unsigned char seed[SIG_SEED_BYTES];
	for (int i = 0; i < SIG_SEED_BYTES; i++)
		seed[i] = (unsigned char)i;
	struct sig_key k;
	sig_key_from_seed(seed, &k);
	return k;
}

static struct sig_key fresh_key(void)
{
	struct sig_key k;
	assert_int_equal(sig_key_new(&k), 0);
	return k;
}

static int setup(void **state)
{
	(void)state;
	return sig_init();
}

static void test_round_trip(void **state)
{
	(void)state;
	struct sig_key k = fresh_key();
	const char msg[] = "{\"verb\":\"start\"}";
	unsigned char s[SIG_BYTES];
	sig_sign(SIG_COMMAND, &k, msg, strlen(msg), s);
	assert_true(sig_verify(SIG_COMMAND, k.pk, msg, strlen(msg), s));
	/* The empty message too. */
	sig_sign(SIG_COMMAND, &k, "", 0, s);
	assert_true(sig_verify(SIG_COMMAND, k.pk, "", 0, s));
}

static void test_changed_byte_fails(void **state)
{
	(void)state;
	struct sig_key k = fresh_key();
	char msg[] = "{\"verb\":\"stop\",\"params\":{\"task\":\"agent-1\"}}";
	size_t n = strlen(msg);
	unsigned char s[SIG_BYTES];
	sig_sign(SIG_COMMAND, &k, msg, n, s);
	for (size_t i = 0; i < n; i++) {
		msg[i] ^= 0x01;
		assert_false(sig_verify(SIG_COMMAND, k.pk, msg, n, s));
		msg[i] ^= 0x01;
	}
	assert_true(sig_verify(SIG_COMMAND, k.pk, msg, n, s));
	/* One more or one less byte. */
	assert_false(sig_verify(SIG_COMMAND, k.pk, msg, n - 1, s));
	/* A changed signature byte. */
	for (size_t i = 0; i < SIG_BYTES; i += 7) {
		s[i] ^= 0x80;
		assert_false(sig_verify(SIG_COMMAND, k.pk, msg, n, s));
		s[i] ^= 0x80;
	}
}

static void test_wrong_key_and_context_fail(void **state)
{
	(void)state;
	struct sig_key a = fresh_key(), b = fresh_key();
	const char msg[] = "{\"verb\":\"delete\",\"params\":{\"task\":\"x\"}}";
	unsigned char s[SIG_BYTES];
	sig_sign(SIG_COMMAND, &a, msg, strlen(msg), s);
	assert_false(sig_verify(SIG_COMMAND, b.pk, msg, strlen(msg), s));
	/* A reply's signature is not a command's, and the other way round. */
	assert_false(sig_verify(SIG_REPLY, a.pk, msg, strlen(msg), s));
	sig_sign(SIG_REPLY, &a, msg, strlen(msg), s);
	assert_true(sig_verify(SIG_REPLY, a.pk, msg, strlen(msg), s));
	assert_false(sig_verify(SIG_COMMAND, a.pk, msg, strlen(msg), s));
	/* A failover start's signature is neither, and neither is one. */
	assert_false(sig_verify(SIG_FAILOVER, a.pk, msg, strlen(msg), s));
	sig_sign(SIG_FAILOVER, &a, msg, strlen(msg), s);
	assert_true(sig_verify(SIG_FAILOVER, a.pk, msg, strlen(msg), s));
	assert_false(sig_verify(SIG_COMMAND, a.pk, msg, strlen(msg), s));
	assert_false(sig_verify(SIG_REPLY, a.pk, msg, strlen(msg), s));
}

static void test_example_matches_other_languages(void **state)
{
	(void)state;
	struct sig_key k = example_key();
	char *w = sig_wrap(SIG_COMMAND, &k, example_cmd, strlen(example_cmd));
	assert_string_equal(w, example_wrapper);
	free(w);

	struct sig_wrapper pw;
	char err[256];
	assert_int_equal(
	    sig_parse_wrapper(example_wrapper, strlen(example_wrapper), &pw, err, sizeof(err)), 1);
	assert_int_equal(pw.inner_len, strlen(example_cmd));
	assert_memory_equal(pw.inner, example_cmd, pw.inner_len);
	assert_memory_equal(pw.pk, k.pk, SIG_PUBLIC_BYTES);
	assert_true(sig_verify_wrapper(SIG_COMMAND, &pw));
	assert_false(sig_verify_wrapper(SIG_REPLY, &pw));
	sig_wrapper_free(&pw);
}

/* The wrapper with one field replaced. */
static char *with(const char *signed_b64, const char *key, const char *sig)
{
	size_t n = strlen(signed_b64) + strlen(key) + strlen(sig) + 64;
	char *s = malloc(n);
	snprintf(s, n, "{\"signed\":\"%s\",\"key\":\"%s\",\"sig\":\"%s\"}", signed_b64, key, sig);
	return s;
}

static int parse(const char *text, struct sig_wrapper *w, char *err, size_t errlen)
{
	return sig_parse_wrapper(text, strlen(text), w, err, errlen);
}

static void test_wrapper_changed_byte_and_key(void **state)
{
	(void)state;
	struct sig_key k = example_key(), other = fresh_key();
	char *w = sig_wrap(SIG_COMMAND, &k, example_cmd, strlen(example_cmd));
	struct sig_wrapper pw;
	char err[256];
	assert_int_equal(parse(w, &pw, err, sizeof(err)), 1);
	pw.inner[10] ^= 0x20; /* "status" -> "Status" */
	assert_false(sig_verify_wrapper(SIG_COMMAND, &pw));
	pw.inner[10] ^= 0x20;
	assert_true(sig_verify_wrapper(SIG_COMMAND, &pw));
	sig_wrapper_free(&pw);
	free(w);

	/* Someone else's key in the key field: a valid form, a failed check. */
	char pub[SIG_PUBLIC_TEXT];
	sig_public_text(other.pk, pub);
	char *signed_b64 =
	    strndup(strstr(example_wrapper, "eyJ"),
	            (size_t)(strstr(example_wrapper, "\",\"key") - strstr(example_wrapper, "eyJ")));
	char *sig64 = strndup(strstr(example_wrapper, "y605"), 88);
	char *swapped = with(signed_b64, pub, sig64);
	assert_int_equal(parse(swapped, &pw, err, sizeof(err)), 1);
	assert_false(sig_verify_wrapper(SIG_COMMAND, &pw));
	sig_wrapper_free(&pw);
	free(swapped);

	/* One byte of the command changed in its base64 (a -> b in "eyJ2..."). */
	signed_b64[5] = signed_b64[5] == 'Z' ? 'Y' : 'Z';
	char *changed =
	    with(signed_b64, "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", sig64);
	assert_int_equal(parse(changed, &pw, err, sizeof(err)), 1);
	assert_false(sig_verify_wrapper(SIG_COMMAND, &pw));
	sig_wrapper_free(&pw);
	free(changed);
	free(signed_b64);
	free(sig64);
}

static void test_public_key_strict(void **state)
{
	(void)state;
	unsigned char pk[SIG_PUBLIC_BYTES];
	char err[256];
	const char *good = "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
	assert_int_equal(sig_parse_public(good, pk, err, sizeof(err)), 0);
	struct sig_key k = example_key();
	assert_memory_equal(pk, k.pk, SIG_PUBLIC_BYTES);
	char back[SIG_PUBLIC_TEXT];
	sig_public_text(pk, back);
	assert_string_equal(back, good);

	static const char *const bad[] = {
	    "",
	    "ed25519:",
	    "A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",          /* no prefix */
	    "ED25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",  /* prefix case */
	    "ed25519: A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=", /* a blank */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg= ", /* trailing blank */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n",
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg",   /* no padding */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg==", /* extra padding */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbh=",  /* stray bits */
	    "ed25519:A6EHv_POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",  /* URL alphabet */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMQ==",  /* 31 bytes */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbgA",  /* 33 bytes */
	    "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=A6EH",
	    "ed25519:!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!=",
	    "ed25519:ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=",
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		if (sig_parse_public(bad[i], pk, err, sizeof(err)) == 0)
			fail_msg("accepted public key %zu: \"%s\"", i, bad[i]);
		assert_true(strlen(err) > 10);
	}
}

static void test_wrapper_strict(void **state)
{
	(void)state;
	struct sig_wrapper w;
	char err[256];
	/* Not wrappers: left to the codec. */
	static const char *const not_wrappers[] = {
	    "{\"verb\":\"status\"}", "not json", "[1,2]", "\"signed\"", "{\"signed\":1} x", "",
	    "{\"Signed\":\"eyJ9\"}",
	};
	for (size_t i = 0; i < sizeof(not_wrappers) / sizeof(not_wrappers[0]); i++)
		if (parse(not_wrappers[i], &w, err, sizeof(err)) != 0)
			fail_msg("took %s for a wrapper", not_wrappers[i]);
	/* A NUL inside: the codec's to refuse. */
	assert_int_equal(sig_parse_wrapper("{\"signed\":\"\"}\0", 14, &w, err, sizeof(err)), 0);

	const char *key = "ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=";
	const char *sig = "y605qcyERIs8z7823IiBQEZx5RcY6WX34IdtYgnwQDVP99WBd12lqzf9PqkSJJhImA307ThP"
	                  "KXxve3ahX9BDCQ==";
	struct {
		const char *text; /* K and S stand for a good key and signature */
		const char *says;
	} cases[] = {
	    {"{'signed':'eyJ9','key':'K','sig':'S','verb':'stop'}", "also has"},
	    {"{'signed':'eyJ9','key':'K','sig':'S','signed':'eyJ9'}", "twice"},
	    {"{'signed':'eyJ9','s\\u0069g':'S','key':'K','sig':'S'}", "twice"},
	    {"{'signed':'eyJ9','sig':'S'}", "no key"},
	    {"{'signed':'eyJ9','key':'K'}", "no sig"},
	    {"{'signed':7,'key':'K','sig':'S'}", "must be a string"},
	    {"{'signed':'eyJ9','key':'K','sig':'S=='}", "64 bytes"},
	    {"{'signed':'eyJ9','key':'K=','sig':'S'}", "key"},
	    {"{'signed':'eyJ9','key':'K','sig':null}", "must be a string"},
	    {"{'signed':'','key':'K','sig':'S'}", "base64"},
	    {"{'signed':'eyJ9 ','key':'K','sig':'S'}", "base64"},
	    {"{'signed':'eyJ','key':'K','sig':'S'}", "base64"},
	    {"{'signed':'e-J9','key':'K','sig':'S'}", "base64"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char bad[1024];
		size_t o = 0;
		for (const char *c = cases[i].text; *c; c++) {
			const char *put = *c == '\''  ? "\""
			                  : *c == 'K' ? key
			                  : *c == 'S' ? sig
			                              : NULL;
			if (put == NULL)
				bad[o++] = *c;
			else
				o += (size_t)snprintf(bad + o, sizeof(bad) - o, "%s", put);
		}
		bad[o] = '\0';
		err[0] = '\0';
		int rc = parse(bad, &w, err, sizeof(err));
		sig_wrapper_free(&w);
		if (rc != -1 || strstr(err, cases[i].says) == NULL)
			fail_msg("case %zu (%s): rc %d, \"%s\"", i, bad, rc, err);
	}
	/* The largest inner accepted, and one byte more refused. */
	struct sig_key k = example_key();
	char *big = malloc(SIG_MAX_INNER + 2);
	memset(big, 'x', SIG_MAX_INNER + 1);
	assert_null(sig_wrap(SIG_COMMAND, &k, big, SIG_MAX_INNER + 1));
	char *wr = sig_wrap(SIG_COMMAND, &k, big, SIG_MAX_INNER);
	assert_non_null(wr);
	assert_true(strlen(wr) <= 64 * 1024);
	assert_int_equal(parse(wr, &w, err, sizeof(err)), 1);
	assert_int_equal(w.inner_len, SIG_MAX_INNER);
	assert_true(sig_verify_wrapper(SIG_COMMAND, &w));
	sig_wrapper_free(&w);
	free(wr);
	free(big);
}

static void test_window_edges(void **state)
{
	(void)state;
	char err[256];
	int64_t now = 1800000000000;
	assert_int_equal(sig_check_window(now, now, SIG_WINDOW_MS, err, sizeof(err)), 0);
	assert_int_equal(sig_check_window(now - 60000, now, SIG_WINDOW_MS, err, sizeof(err)), 0);
	assert_int_equal(sig_check_window(now + 60000, now, SIG_WINDOW_MS, err, sizeof(err)), 0);
	assert_int_equal(sig_check_window(now - 60001, now, SIG_WINDOW_MS, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "60.0 s old, outside the 60 s window"));
	assert_int_equal(sig_check_window(now + 60001, now, SIG_WINDOW_MS, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "60.0 s ahead"));
	assert_int_equal(sig_check_window(0, now, SIG_WINDOW_MS, err, sizeof(err)), -1);
	assert_int_equal(sig_check_window(INT64_MIN, INT64_MAX, SIG_WINDOW_MS, err, sizeof(err)),
	                 -1);
	assert_non_null(strstr(err, "out of range"));
	/* Replay ids live until the timestamp leaves the window. */
	assert_int_equal(sig_replay_ttl_ms(now, now, SIG_WINDOW_MS), 61000);
	assert_int_equal(sig_replay_ttl_ms(now + 60000, now, SIG_WINDOW_MS), 121000);
	assert_int_equal(sig_replay_ttl_ms(now - 60000, now, SIG_WINDOW_MS), 1000);
	assert_int_equal(sig_replay_ttl_ms(now - 90000, now, SIG_WINDOW_MS), 1000);
}

static void test_replay_id(void **state)
{
	(void)state;
	struct sig_key k = example_key();
	struct sig_wrapper a, b;
	char err[256], ida[65], idb[65];
	assert_int_equal(parse(example_wrapper, &a, err, sizeof(err)), 1);
	char *again = sig_wrap(SIG_COMMAND, &k, example_cmd, strlen(example_cmd));
	assert_int_equal(parse(again, &b, err, sizeof(err)), 1);
	sig_replay_id(SIG_COMMAND, &a, ida);
	sig_replay_id(SIG_COMMAND, &b, idb);
	assert_int_equal(strlen(ida), 64);
	assert_string_equal(ida, idb);
	sig_replay_id(SIG_REPLY, &b, idb);
	assert_string_not_equal(ida, idb);
	b.inner[b.inner_len - 2] = '2'; /* request_id r1 -> r2 */
	sig_replay_id(SIG_COMMAND, &b, idb);
	assert_string_not_equal(ida, idb);
	sig_wrapper_free(&a);
	sig_wrapper_free(&b);
	free(again);
}

/* --- key files --------------------------------------------------------------- */

static char *tmpdir(void)
{
	char *d = strdup("/tmp/tasker-sig-XXXXXX");
	assert_non_null(mkdtemp(d));
	return d;
}

static mode_t mode_of(const char *path)
{
	struct stat st;
	assert_int_equal(stat(path, &st), 0);
	return st.st_mode & 07777;
}

static char *path_in(const char *dir, const char *file)
{
	size_t n = strlen(dir) + strlen(file) + 2;
	char *p = malloc(n);
	snprintf(p, n, "%s/%s", dir, file);
	return p;
}

static void test_key_files(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char err[512];
	struct sig_key k = fresh_key();
	assert_int_equal(sig_write_key_files(dir, "alpha", &k, err, sizeof(err)), 0);
	char *kp = path_in(dir, "alpha.key"), *pp = path_in(dir, "alpha.pub");
	assert_int_equal(mode_of(kp), 0600);

	/* NAME.pub is the one line the policy wants. */
	FILE *f = fopen(pp, "r");
	char line[128] = "";
	assert_non_null(fgets(line, sizeof(line), f));
	fclose(f);
	char want[SIG_PUBLIC_TEXT + 1];
	sig_public_text(k.pk, want);
	strcat(want, "\n");
	assert_string_equal(line, want);
	unsigned char pk[SIG_PUBLIC_BYTES];
	assert_int_equal(sig_read_public(pp, pk, err, sizeof(err)), 0);
	assert_memory_equal(pk, k.pk, SIG_PUBLIC_BYTES);

	/* The secret read back signs for the same public key. */
	struct sig_key back;
	assert_int_equal(sig_read_secret(kp, &back, err, sizeof(err)), 0);
	assert_memory_equal(back.pk, k.pk, SIG_PUBLIC_BYTES);
	unsigned char s[SIG_BYTES];
	sig_sign(SIG_COMMAND, &back, "m", 1, s);
	assert_true(sig_verify(SIG_COMMAND, pk, "m", 1, s));

	/* Never replaced: both exist, or only the .pub. */
	struct sig_key k2 = fresh_key();
	assert_int_equal(sig_write_key_files(dir, "alpha", &k2, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refusing to replace"));
	assert_int_equal(sig_read_public(pp, pk, err, sizeof(err)), 0);
	assert_memory_equal(pk, k.pk, SIG_PUBLIC_BYTES);
	assert_int_equal(unlink(kp), 0);
	assert_int_equal(sig_write_key_files(dir, "alpha", &k2, err, sizeof(err)), -1);
	assert_int_equal(access(kp, F_OK), -1); /* no new secret left behind */

	/* Names that would leave the directory, or are not names. */
	static const char *const bad_names[] = {"", "../x", "a/b", ".hidden", "-x", "a b"};
	for (size_t i = 0; i < sizeof(bad_names) / sizeof(bad_names[0]); i++)
		assert_int_equal(sig_write_key_files(dir, bad_names[i], &k2, err, sizeof(err)), -1);
	free(kp);
	free(pp);
	cleanup_rm_tree(dir);
	free(dir);
}

static void test_secret_key_permissions(void **state)
{
	(void)state;
	char *dir = tmpdir();
	char err[512];
	struct sig_key k = fresh_key(), back;
	assert_int_equal(sig_write_key_files(dir, "ops", &k, err, sizeof(err)), 0);
	char *kp = path_in(dir, "ops.key");
	static const mode_t refused[] = {0640, 0604, 0660, 0644, 0601, 0610, 0602, 0620, 0666};
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(chmod(kp, refused[i]), 0);
		err[0] = '\0';
		if (sig_read_secret(kp, &back, err, sizeof(err)) == 0)
			fail_msg("read a secret key of mode %04o", (unsigned)refused[i]);
		assert_non_null(strstr(err, "readable by its owner only"));
	}
	assert_int_equal(chmod(kp, 0400), 0);
	assert_int_equal(sig_read_secret(kp, &back, err, sizeof(err)), 0);
	assert_memory_equal(back.pk, k.pk, SIG_PUBLIC_BYTES);

	/* Not a key file: a directory, junk, a public key where a secret goes. */
	assert_int_equal(sig_read_secret(dir, &back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a regular file"));
	char *junk = path_in(dir, "junk.key");
	FILE *f = fopen(junk, "w");
	fputs("ed25519-secret:not base64 at all\n", f);
	fclose(f);
	assert_int_equal(chmod(junk, 0600), 0);
	assert_int_equal(sig_read_secret(junk, &back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "not a tasker secret key"));
	char *pub = path_in(dir, "ops.pub");
	assert_int_equal(chmod(pub, 0600), 0);
	assert_int_equal(sig_read_secret(pub, &back, err, sizeof(err)), -1);
	assert_int_equal(sig_read_secret("/nonexistent/x.key", &back, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file"));
	free(pub);
	free(junk);
	free(kp);
	cleanup_rm_tree(dir);
	free(dir);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_round_trip),
	    cmocka_unit_test(test_changed_byte_fails),
	    cmocka_unit_test(test_wrong_key_and_context_fail),
	    cmocka_unit_test(test_example_matches_other_languages),
	    cmocka_unit_test(test_wrapper_changed_byte_and_key),
	    cmocka_unit_test(test_public_key_strict),
	    cmocka_unit_test(test_wrapper_strict),
	    cmocka_unit_test(test_window_edges),
	    cmocka_unit_test(test_replay_id),
	    cmocka_unit_test(test_key_files),
	    cmocka_unit_test(test_secret_key_permissions),
	};
	if (setup(NULL) < 0)
		return 1;
	UNIT_RUN("test_sig", tests);
}
