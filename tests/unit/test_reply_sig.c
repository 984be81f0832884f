/*
 * Unit tests for reply_sig: the signed reply of docs/security.md ("Signed
 * replies") matches what Node's own Ed25519 produces for the worked
 * example; split gives back B exactly; any changed byte, another key, the
 * command context, a malformed suffix and an empty object are refused; a
 * trust file's lines are read strictly.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "reply_sig.h"
#include "sig.h"

/* docs/security.md, 4.4: seed bytes 0..31, signed by Node's crypto.sign. */
static const char example_b[] =
    "{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":\"started\",\"pm_id\":0,"
    "\"request_id\":\"r1\",\"verb\":\"start\",\"node\":\"n1\",\"timestamp\":\"2026-12-01T12:00:"
    "00.000Z\"}";
static const char example_signed[] =
    "{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":\"started\",\"pm_id\":0,"
    "\"request_id\":\"r1\",\"verb\":\"start\",\"node\":\"n1\",\"timestamp\":\"2026-12-01T12:00:"
    "00.000Z\",\"sig\":{\"key\":\"ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\","
    "\"value\":\"HgkCzlP7Ad7Pjv2q3T7phxgTAR+n3ZHiV/3VaCgyiRH8OiB4vJzcydktIi6QVoAgbwfPYc9CYke7gAi"
    "hqOwRCA==\"}}";

static struct sig_key example_key(void)
{
	unsigned char seed[SIG_SEED_BYTES];
	for (int i = 0; i < SIG_SEED_BYTES; i++)
		seed[i] = (unsigned char)i;
	struct sig_key k;
	sig_key_from_seed(seed, &k);
	return k;
}

static void test_example(void **state)
{
	(void)state;
	assert_int_equal(sig_init(), 0);
	struct sig_key k = example_key();
	char *out = reply_sig_append(&k, example_b, strlen(example_b));
	assert_non_null(out);
	assert_string_equal(out, example_signed);
	assert_int_equal(strlen(out), strlen(example_b) - 1 + REPLY_SIG_SUFFIX_LEN);
	char *body;
	size_t blen;
	unsigned char pk[SIG_PUBLIC_BYTES], sig[SIG_BYTES];
	const char *why;
	assert_int_equal(reply_sig_split(out, strlen(out), &body, &blen, pk, sig, &why), 1);
	assert_int_equal(blen, strlen(example_b));
	assert_memory_equal(body, example_b, blen);
	assert_memory_equal(pk, k.pk, SIG_PUBLIC_BYTES);
	assert_true(sig_verify(SIG_REPLY, pk, body, blen, sig));
	assert_false(sig_verify(SIG_COMMAND, pk, body, blen, sig));
	free(body);
	free(out);
}

static void test_changed_bytes(void **state)
{
	(void)state;
	assert_int_equal(sig_init(), 0);
	char msg[sizeof(example_signed)];
	memcpy(msg, example_signed, sizeof(msg));
	size_t n = strlen(msg);
	for (size_t i = 0; i < n; i++) {
		msg[i] ^= 0x01;
		char *body = NULL;
		size_t blen;
		unsigned char pk[SIG_PUBLIC_BYTES], sig[SIG_BYTES];
		const char *why;
		int r = reply_sig_split(msg, n, &body, &blen, pk, sig, &why);
		/* Either not signed any more, malformed, or it fails to verify. */
		if (r == 1)
			assert_false(sig_verify(SIG_REPLY, pk, body, blen, sig));
		free(body);
		msg[i] ^= 0x01;
	}
}

static void test_refusals(void **state)
{
	(void)state;
	assert_int_equal(sig_init(), 0);
	struct sig_key k = example_key();
	assert_null(reply_sig_append(&k, "{}", 2));
	assert_null(reply_sig_append(&k, "{ }", 3));
	assert_null(reply_sig_append(&k, "[1]", 3));
	assert_null(reply_sig_append(&k, "", 0));
	char *body;
	size_t blen;
	unsigned char pk[SIG_PUBLIC_BYTES], sig[SIG_BYTES];
	const char *why;
	/* Unsigned: no suffix. */
	assert_int_equal(reply_sig_split(example_b, strlen(example_b), &body, &blen, pk, sig, &why), 0);
	/* A sig member last but not of the signed form. */
	char buf[400];
	snprintf(buf, sizeof(buf), "{\"a\":\"%0160d\",\"sig\":{\"key\":\"x\"}}", 0);
	int r = reply_sig_split(buf, strlen(buf), &body, &blen, pk, sig, &why);
	assert_true(r <= 0);
	/* Extra bytes after the suffix: not signed. */
	snprintf(buf, sizeof(buf), "%s ", example_signed);
	assert_int_equal(reply_sig_split(buf, strlen(buf), &body, &blen, pk, sig, &why), 0);
	/* A non-canonical value (stray bits in the last character). */
	snprintf(buf, sizeof(buf), "%s", example_signed);
	char *eq = strstr(buf, "==\"}}");
	assert_non_null(eq);
	eq[-1] = eq[-1] == 'A' ? 'B' : 'A';
	r = reply_sig_split(buf, strlen(buf), &body, &blen, pk, sig, &why);
	if (r == 1) {
		assert_false(sig_verify(SIG_REPLY, pk, body, blen, sig));
		free(body);
	}
}

static void test_trust_file(void **state)
{
	(void)state;
	char path[] = "/tmp/test_reply_sig.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char good[] = "# pins\n\nn1 ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n";
	assert_int_equal(write(fd, good, strlen(good)), (ssize_t)strlen(good));
	close(fd);
	char err[300];
	struct reply_trust *t = reply_trust_new(NULL, path, err, sizeof(err));
	assert_non_null(t);
	reply_trust_free(t);
	FILE *f = fopen(path, "a");
	fputs("n1 ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n", f);
	fclose(f);
	assert_null(reply_trust_new(NULL, path, err, sizeof(err)));
	assert_non_null(strstr(err, ":4: node n1 is pinned twice"));
	f = fopen(path, "w");
	fputs("n2 ed25519:short\n", f);
	fclose(f);
	assert_null(reply_trust_new(NULL, path, err, sizeof(err)));
	assert_non_null(strstr(err, ":1: "));
	f = fopen(path, "w");
	fputs("justanode\n", f);
	fclose(f);
	assert_null(reply_trust_new(NULL, path, err, sizeof(err)));
	unlink(path);
	assert_null(reply_trust_new(NULL, path, err, sizeof(err)));
	assert_non_null(strstr(err, "cannot read the trust file"));
}

/* Checked without a bus: pins decide, presence is unknown. */
struct seen {
	enum reply_verdict v;
	int n;
	bool acceptable;
};

static void on_checked(const char *data, size_t len, const struct reply_check *c, void *arg)
{
	(void)data;
	(void)len;
	struct seen *s = arg;
	s->v = c->verdict;
	s->acceptable = reply_acceptable(c);
	s->n++;
}

static void test_verdicts(void **state)
{
	(void)state;
	char path[] = "/tmp/test_reply_sig.XXXXXX";
	int fd = mkstemp(path);
	assert_true(fd >= 0);
	const char pins[] = "n1 ed25519:A6EHv/POEL4dcN0Y50vAmWfk1jCbpQ1fHdyGZBJVMbg=\n";
	assert_int_equal(write(fd, pins, strlen(pins)), (ssize_t)strlen(pins));
	close(fd);
	char err[300];
	struct reply_trust *t = reply_trust_new(NULL, path, err, sizeof(err));
	assert_non_null(t);
	struct seen s = {0};
	reply_trust_check(t, example_signed, strlen(example_signed), on_checked, &s);
	assert_int_equal(s.n, 1);
	assert_int_equal(s.v, REPLY_VERIFIED);
	assert_true(s.acceptable);
	reply_trust_check(t, example_b, strlen(example_b), on_checked, &s);
	assert_int_equal(s.v, REPLY_UNSIGNED);
	assert_false(s.acceptable);
	/* Signed by another key than the pinned one. */
	struct sig_key other;
	assert_int_equal(sig_key_new(&other), 0);
	char *o = reply_sig_append(&other, example_b, strlen(example_b));
	reply_trust_check(t, o, strlen(o), on_checked, &s);
	assert_int_equal(s.v, REPLY_UNVERIFIED);
	assert_false(s.acceptable);
	free(o);
	/* A node nobody pinned, without a bus: no key known. */
	const char ghost[] = "{\"status\":\"ok\",\"node\":\"ghost\"}";
	struct sig_key k = example_key();
	o = reply_sig_append(&k, ghost, strlen(ghost));
	reply_trust_check(t, o, strlen(o), on_checked, &s);
	assert_int_equal(s.v, REPLY_UNKNOWN_KEY);
	assert_false(s.acceptable); /* under a trust file: not pinned */
	reply_trust_free(t);
	unlink(path);
	/* Without a trust file, a node nobody vouches for is taken (compat),
	 * a failing signature never. */
	t = reply_trust_new(NULL, NULL, err, sizeof(err));
	assert_non_null(t);
	reply_trust_check(t, o, strlen(o), on_checked, &s);
	assert_int_equal(s.v, REPLY_UNKNOWN_KEY);
	assert_true(s.acceptable);
	reply_trust_check(t, ghost, strlen(ghost), on_checked, &s);
	assert_int_equal(s.v, REPLY_UNSIGNED);
	assert_true(s.acceptable);
	o[20] ^= 1;
	reply_trust_check(t, o, strlen(o), on_checked, &s);
	assert_int_equal(s.v, REPLY_UNVERIFIED);
	assert_false(s.acceptable);
	free(o);
	reply_trust_free(t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_example),   cmocka_unit_test(test_changed_bytes),
	    cmocka_unit_test(test_refusals),  cmocka_unit_test(test_trust_file),
	    cmocka_unit_test(test_verdicts),
	};
	UNIT_RUN("test_reply_sig", tests);
}
