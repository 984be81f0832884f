/*
 * Unit tests for core/codec.c: command envelopes in (every malformed class
 * is its own readable error, the liberal cases are accepted), command
 * envelopes out (compared as exact JSON strings), the round trip between
 * them, status messages both ways, and the ISO-8601 time parser.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "slash.h"
#include "tools.h"

/* 2025-11-17T15:00:00Z, the time of the documented examples. */
#define T_DOC_MS INT64_C(1763391600000)
/* 2026-11-27T10:00:00Z, the time of the console example. */
#define T_CONSOLE_MS INT64_C(1795773600000)

/* Decodes json and fails the test, showing the error, unless it succeeds. */
static void decode_ok(const char *json, struct envelope *env)
{
	char err[256] = "";
	if (codec_decode_command(json, strlen(json), env, err, sizeof(err)) != 0)
		fail_msg("decode of %s failed: %s", json, err);
}

/* Checks that an error message is a sentence a person can read: not empty,
 * one line, no raw control characters. */
static void check_readable(const char *err)
{
	assert_true(err[0] != '\0');
	for (const unsigned char *p = (const unsigned char *)err; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			fail_msg("error \"%s\" contains control byte 0x%02x", err, *p);
}

/* Checks that buf[0..len) is refused with an error containing every word
 * of words (NULL-terminated, up to 3). The error is copied into err. */
static void expect_error_n(const char *buf, size_t len, char *err, size_t errlen, const char *w1,
                           const char *w2, const char *w3)
{
	struct envelope env;
	err[0] = '\0';
	int rc = codec_decode_command(buf, len, &env, err, errlen);
	codec_envelope_free(&env);
	if (rc != -1)
		fail_msg("decode of %.*s succeeded, expected an error", (int)len, buf);
	check_readable(err);
	const char *words[] = {w1, w2, w3};
	for (size_t i = 0; i < 3; i++)
		if (words[i] != NULL && strstr(err, words[i]) == NULL)
			fail_msg("error \"%s\" lacks \"%s\"", err, words[i]);
}

static void expect_error(const char *json, const char *w1, const char *w2, const char *w3)
{
	char err[256];
	expect_error_n(json, strlen(json), err, sizeof(err), w1, w2, w3);
}

/* A malloc'd buffer of exactly len bytes holding a valid envelope whose
 * content pads it to that size (len >= 40). */
static char *padded_message(size_t len)
{
	static const char head[] = "{\"verb\":\"v\",\"content\":\"";
	static const char tail[] = "\"}";
	char *buf = malloc(len);
	assert_non_null(buf);
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, 'x', len - (sizeof(head) - 1) - (sizeof(tail) - 1));
	memcpy(buf + len - (sizeof(tail) - 1), tail, sizeof(tail) - 1);
	return buf;
}

/* ---- malformed input: one class, one distinct error ---- */

/* Every class of malformed input with the words its error must contain. */
struct bad_case {
	const char *json;
	size_t len; /* 0: strlen(json) */
	const char *words[3];
};

#define NUL_MESSAGE "{\"verb\":\"start\",\"pa\0ams\":{}}"

static const struct bad_case bad_cases[] = {
    {"{\"verb\":\"start\"", 0, {"not valid JSON", "byte", NULL}},
    {"{verb:\"start\"}", 0, {"not valid JSON", NULL, NULL}},
    {"{\"verb\":\"start\"} x", 0, {"text after the JSON", "byte 18", NULL}},
    {"[\"start\"]", 0, {"an array", "not a JSON object", NULL}},
    {"\"start\"", 0, {"a string", "not a JSON object", NULL}},
    {"42", 0, {"a number", "not a JSON object", NULL}},
    {"{\"verb\":\"start\",\"params\":\"--task=api\"}", 0, {"params", "JSON object", "a string"}},
    {"{\"verb\":\"start\",\"params\":[\"api\"]}", 0, {"params", "JSON object", "an array"}},
    {"{\"verb\":\"start\",\"params\":{\"env\":{\"PORT\":\"80\"}}}",
     0,
     {"params.env", "an object", "flat"}},
    {"{\"verb\":\"start\",\"params\":{\"files\":[\"a\"]}}",
     0,
     {"params.files", "an array", "flat"}},
    {"{\"verb\":\"start\",\"params\":{\"args\":[\"-v\",{\"x\":1}]}}",
     0,
     {"params.args[1]", "an object", NULL}},
    {"{\"verb\":\"start\",\"params\":{\"a\":\"\xff\"}}", 0, {"UTF-8", NULL, NULL}},
    {NUL_MESSAGE, sizeof(NUL_MESSAGE) - 1, {"NUL", NULL, NULL}},
    {"{\"verb\":\"start\",\"params\":{\"ta\\u0001sk\":\"api\"}}",
     0,
     {"params key", "control character", "\\x01"}},
    {"{\"verb\":\"st\\nart\"}", 0, {"verb", "control character", NULL}},
    {"{\"verb\":\"start\",\"params\":{\"\":\"api\"}}", 0, {"params", "empty key", NULL}},
    {"{\"params\":{\"task\":\"api\"}}", 0, {"no verb", NULL, NULL}},
    {"{\"verb\":7}", 0, {"verb must be a string", "a number", NULL}},
    {"{\"verb\":\"\"}", 0, {"verb is empty", NULL, NULL}},
    {"{\"verb\":\"start now\"}", 0, {"verb", "start now", "not a word"}},
    {"{\"verb\":\"start\",\"timestamp\":true}", 0, {"timestamp must be", "a boolean", NULL}},
    {"{\"verb\":\"start\",\"timestamp\":\"yesterday\"}", 0, {"timestamp", "yesterday", "ISO-8601"}},
    {"{\"verb\":\"start\",\"timestamp\":-5}", 0, {"timestamp", "epoch seconds", NULL}},
    {"{\"verb\":\"start\",\"content\":[\"x\"]}", 0, {"content must be a string", "an array", NULL}},
    {"{\"verb\":\"start\",\"request_id\":{\"a\":1}}", 0, {"request_id", "an object", NULL}},
};

static void bad_each_class(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		const struct bad_case *c = &bad_cases[i];
		char err[256];
		size_t len = c->len ? c->len : strlen(c->json);
		expect_error_n(c->json, len, err, sizeof(err), c->words[0], c->words[1],
		               c->words[2]);
	}
}

static void bad_errors_distinct(void **state)
{
	(void)state;
	enum { N = sizeof(bad_cases) / sizeof(bad_cases[0]) };
	char errs[N][256];
	for (size_t i = 0; i < N; i++) {
		const struct bad_case *c = &bad_cases[i];
		size_t len = c->len ? c->len : strlen(c->json);
		expect_error_n(c->json, len, errs[i], sizeof(errs[i]), NULL, NULL, NULL);
	}
	for (size_t i = 0; i < N; i++)
		for (size_t k = i + 1; k < N; k++)
			if (strcmp(errs[i], errs[k]) == 0)
				fail_msg("cases %zu and %zu share the error \"%s\"", i, k, errs[i]);
}

static void bad_not_json(void **state)
{
	(void)state;
	expect_error("", "not valid JSON", NULL, NULL);
	expect_error("   ", "not valid JSON", NULL, NULL);
	expect_error("start --task=api", "not valid JSON", NULL, NULL);
	expect_error("{\"verb\":\"start\",}", "not valid JSON", NULL, NULL);
	expect_error("{\"verb\":'start'}", "not valid JSON", NULL, NULL);
}

static void bad_trailing_text(void **state)
{
	(void)state;
	expect_error("{}x", "text after the JSON", "byte 3", NULL);
	expect_error("{\"verb\":\"a\"}{\"verb\":\"b\"}", "text after the JSON", NULL, NULL);
	/* Whitespace after the value is not text. */
	struct envelope env;
	decode_ok("{\"verb\":\"a\"} \n\t\r\n", &env);
	assert_string_equal(env.verb, "a");
	codec_envelope_free(&env);
}

static void bad_not_object(void **state)
{
	(void)state;
	expect_error("[]", "an array", "not a JSON object", NULL);
	expect_error("\"{}\"", "a string", "not a JSON object", NULL);
	expect_error("3.5", "a number", "not a JSON object", NULL);
	expect_error("true", "a boolean", "not a JSON object", NULL);
	expect_error("null", "null", "not a JSON object", NULL);
}

static void bad_params_not_object(void **state)
{
	(void)state;
	expect_error("{\"verb\":\"s\",\"params\":\"x\"}", "params must be a JSON object",
	             "a string", NULL);
	expect_error("{\"verb\":\"s\",\"params\":[]}", "params must be a JSON object", "an array",
	             NULL);
	expect_error("{\"verb\":\"s\",\"params\":1}", "params must be a JSON object", "a number",
	             NULL);
	expect_error("{\"verb\":\"s\",\"params\":false}", "params must be a JSON object",
	             "a boolean", NULL);
}

static void bad_nested_params(void **state)
{
	(void)state;
	expect_error("{\"verb\":\"s\",\"params\":{\"env\":{}}}", "params.env", "an object", "flat");
	expect_error("{\"verb\":\"s\",\"params\":{\"list\":[]}}", "params.list", "an array",
	             "flat");
	/* args may be an array, but only of strings (and numbers). */
	expect_error("{\"verb\":\"s\",\"params\":{\"args\":[[\"x\"]]}}", "params.args[0]",
	             "an array", NULL);
	expect_error("{\"verb\":\"s\",\"params\":{\"args\":[\"a\",true]}}", "params.args[1]",
	             "a boolean", NULL);
	expect_error("{\"verb\":\"s\",\"params\":{\"args\":[\"a\",\"b\",null]}}", "params.args[2]",
	             "null", NULL);
	expect_error("{\"verb\":\"s\",\"params\":{\"args\":{\"0\":\"a\"}}}", "params.args",
	             "an object", NULL);
}

static void bad_too_big(void **state)
{
	(void)state;
	size_t len = CODEC_MAX_MESSAGE + 1;
	char *buf = padded_message(len);
	char err[256];
	expect_error_n(buf, len, err, sizeof(err), "65537 bytes", "64 KiB", NULL);
	free(buf);

	/* Exactly at the limit is fine. */
	len = CODEC_MAX_MESSAGE;
	buf = padded_message(len);
	struct envelope env;
	assert_int_equal(codec_decode_command(buf, len, &env, err, sizeof(err)), 0);
	assert_string_equal(env.verb, "v");
	assert_int_equal(strlen(env.content), len - 25);
	codec_envelope_free(&env);
	free(buf);
}

static void bad_utf8(void **state)
{
	(void)state;
	expect_error("{\"verb\":\"s\",\"content\":\"caf\xc3\"}", "not valid UTF-8", NULL, NULL);
	expect_error("{\"verb\":\"s\",\"content\":\"\xc0\xaf\"}", "UTF-8", NULL, NULL);
	expect_error("{\"verb\":\"s\",\"content\":\"\xed\xa0\x80\"}", "UTF-8", NULL, NULL);
	expect_error("{\"verb\":\"s\",\"x\":\"\xfe\"}", "UTF-8", NULL, NULL);
	/* Valid multibyte text is fine. */
	struct envelope env;
	decode_ok("{\"verb\":\"s\",\"content\":\"caf\xc3\xa9 \xf0\x9f\x9a\x80\"}", &env);
	assert_string_equal(env.content, "caf\xc3\xa9 \xf0\x9f\x9a\x80");
	codec_envelope_free(&env);
}

static void bad_nul_byte(void **state)
{
	(void)state;
	char err[256];
	static const char msg[] = "{\"verb\":\"s\"}\0";
	expect_error_n(msg, sizeof(msg) - 1, err, sizeof(err), "NUL", NULL, NULL);
	static const char inside[] = "{\"verb\":\"s\0t\"}";
	expect_error_n(inside, sizeof(inside) - 1, err, sizeof(err), "NUL", NULL, NULL);
}

/*
 * A NUL written as the JSON escape \u0000 cannot live in a C string: cJSON
 * cuts the string there, so the codec would act on a different verb, key,
 * value or id than the sender wrote. It must be refused like a raw NUL.
 */
static void bad_nul_escape(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "{\"verb\":\"stop\\u0000all\"}",
	    "{\"verb\":\"s\",\"params\":{\"task\":\"api\\u0000-other\"}}",
	    "{\"verb\":\"s\",\"params\":{\"ta\\u0000sk\":\"api\"}}",
	    "{\"verb\":\"s\",\"request_id\":\"r1\\u0000r2\"}",
	    "{\"verb\":\"s\",\"content\":\"a\\u0000b\"}",
	};
	size_t accepted = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope env;
		char err[256] = "";
		int rc = codec_decode_command(cases[i], strlen(cases[i]), &env, err, sizeof(err));
		if (rc == 0) {
			print_message("accepted %s as verb \"%s\"%s%s%s%s\n", cases[i], env.verb,
			              env.nparams ? ", param " : "",
			              env.nparams ? env.params[0].key : "", env.nparams ? "=" : "",
			              env.nparams ? env.params[0].value : "");
			accepted++;
		} else {
			check_readable(err);
		}
		codec_envelope_free(&env);
	}
	if (accepted > 0)
		fail_msg("%zu messages with \\u0000 were accepted, cut at the NUL", accepted);
}

static void bad_control_in_names(void **state)
{
	(void)state;
	expect_error("{\"verb\":\"s\",\"params\":{\"a\\tb\":\"1\"}}", "params key", "\\x09",
	             "control character");
	expect_error("{\"verb\":\"s\",\"params\":{\"a\\u007f\":\"1\"}}", "params key", "\\x7f",
	             "control character");
	expect_error("{\"verb\":\"sta\\u001brt\"}", "verb contains a control character", NULL,
	             NULL);
	expect_error("{\"verb\":\"/s\\r\"}", "verb contains a control character", NULL, NULL);
	/* Control characters in values and content are data, not names. */
	struct envelope env;
	decode_ok("{\"verb\":\"s\",\"params\":{\"a\":\"x\\ty\"},\"content\":\"l1\\nl2\"}", &env);
	assert_string_equal(codec_param(&env, "a"), "x\ty");
	assert_string_equal(env.content, "l1\nl2");
	codec_envelope_free(&env);
}

static void bad_long_names(void **state)
{
	(void)state;
	char json[512];
	char name[200];
	memset(name, 'k', 129);
	name[129] = '\0';
	snprintf(json, sizeof(json), "{\"verb\":\"s\",\"params\":{\"%s\":\"1\"}}", name);
	expect_error(json, "params key", "longer than 128", NULL);
	snprintf(json, sizeof(json), "{\"verb\":\"%s\"}", name);
	expect_error(json, "verb", "longer than 128", NULL);
	/* 128 is the limit, not over it. */
	name[128] = '\0';
	struct envelope env;
	snprintf(json, sizeof(json), "{\"verb\":\"%s\",\"params\":{\"%s\":\"1\"}}", name, name);
	decode_ok(json, &env);
	assert_int_equal(strlen(env.verb), 128);
	assert_string_equal(codec_param(&env, name), "1");
	codec_envelope_free(&env);
}

static void bad_verb(void **state)
{
	(void)state;
	expect_error("{}", "no verb", NULL, NULL);
	expect_error("{\"verb\":null}", "no verb", NULL, NULL);
	expect_error("{\"Verb\":\"start\"}", "no verb", NULL, NULL);
	expect_error("{\"verb\":true}", "verb must be a string", "a boolean", NULL);
	expect_error("{\"verb\":[\"start\"]}", "verb must be a string", "an array", NULL);
	expect_error("{\"verb\":{}}", "verb must be a string", "an object", NULL);
	expect_error("{\"verb\":\"\"}", "verb is empty", NULL, NULL);
	expect_error("{\"verb\":\"/\"}", "verb is empty", NULL, NULL);
	expect_error("{\"verb\":\"2start\"}", "\"2start\"", "not a word", NULL);
	expect_error("{\"verb\":\"-start\"}", "not a word", NULL, NULL);
	expect_error("{\"verb\":\"_start\"}", "not a word", NULL, NULL);
	expect_error("{\"verb\":\"//start\"}", "not a word", NULL, NULL);
	expect_error("{\"verb\":\"start!\"}", "not a word", NULL, NULL);
	expect_error("{\"verb\":\"start --task=api\"}", "not a word", NULL, NULL);
	expect_error("{\"verb\":\"st\xc3\xa4rt\"}", "not a word", NULL, NULL);
}

static void bad_timestamp(void **state)
{
	(void)state;
	expect_error("{\"verb\":\"s\",\"timestamp\":false}", "timestamp must be", "a boolean",
	             NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":{}}", "timestamp must be", "an object", NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":[1]}", "timestamp must be", "an array", NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":\"2025-11-17T15:00:00\"}",
	             "2025-11-17T15:00:00", "not ISO-8601", NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":\"2025-13-17T15:00:00Z\"}", "not ISO-8601",
	             NULL, NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":\"\"}", "not ISO-8601", NULL, NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":\"1763391600\"}", "not ISO-8601", NULL, NULL);
	/* The malformed text is shown escaped, so the error stays one line. */
	expect_error("{\"verb\":\"s\",\"timestamp\":\"x\\ny\"}", "x\\x0ay", NULL, NULL);
	/* Epoch seconds: negative, or milliseconds mistaken for seconds. */
	expect_error("{\"verb\":\"s\",\"timestamp\":-1}", "epoch seconds", NULL, NULL);
	expect_error("{\"verb\":\"s\",\"timestamp\":1763391600000}", "epoch seconds", NULL, NULL);
}

static void bad_ids(void **state)
{
	(void)state;
	expect_error("{\"verb\":\"s\",\"agent_id\":[]}", "agent_id must be a string", "an array",
	             NULL);
	expect_error("{\"verb\":\"s\",\"request_id\":\"a\\nb\"}", "request_id", "printable", NULL);
	char json[600];
	char id[300];
	memset(id, 'r', 257);
	id[257] = '\0';
	snprintf(json, sizeof(json), "{\"verb\":\"s\",\"request_id\":\"%s\"}", id);
	expect_error(json, "request_id", "at most 256", NULL);
}

/* ---- the ids survive a later failure, for the error reply ---- */

static void partial_ids_kept(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "{\"request_id\":\"r-9\",\"agent_id\":\"agent-7\"}",
	    "{\"request_id\":\"r-9\",\"agent_id\":\"agent-7\",\"verb\":5}",
	    "{\"request_id\":\"r-9\",\"agent_id\":\"agent-7\",\"verb\":\"s s\"}",
	    "{\"verb\":\"Start\",\"params\":[],\"request_id\":\"r-9\",\"agent_id\":\"agent-7\"}",
	    "{\"verb\":\"start\",\"params\":{\"a\":{}},\"request_id\":\"r-9\",\"agent_id\":"
	    "\"agent-7\"}",
	    "{\"verb\":\"start\",\"timestamp\":\"soon\",\"request_id\":\"r-9\",\"agent_id\":"
	    "\"agent-7\"}",
	    "{\"verb\":\"start\",\"content\":7,\"request_id\":\"r-9\",\"agent_id\":\"agent-7\"}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct envelope env;
		char err[256] = "";
		assert_int_equal(
		    codec_decode_command(cases[i], strlen(cases[i]), &env, err, sizeof(err)), -1);
		check_readable(err);
		assert_non_null(env.request_id);
		assert_string_equal(env.request_id, "r-9");
		assert_non_null(env.agent_id);
		assert_string_equal(env.agent_id, "agent-7");
		/* Once the verb is read, it is kept too. */
		if (i >= 3) {
			assert_non_null(env.verb);
			assert_string_equal(env.verb, "start");
		}
		codec_envelope_free(&env);
		assert_null(env.request_id);
		assert_null(env.verb);
	}
}

static void partial_nothing_on_bad_json(void **state)
{
	(void)state;
	struct envelope env;
	char err[256];
	static const char msg[] = "{\"request_id\":\"r-9\",\"verb\":\"s\"";
	assert_int_equal(codec_decode_command(msg, sizeof(msg) - 1, &env, err, sizeof(err)), -1);
	assert_null(env.request_id);
	assert_null(env.verb);
	assert_int_equal(env.nparams, 0);
	codec_envelope_free(&env);
}

/* ---- liberal decoding ---- */

static void ok_documented_examples(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"verb\":\"start\",\"params\":{\"task\":\"webserver\",\"command\":\"python3\","
	          "\"args\":\"-m http.server 8000\",\"env_PORT\":\"8000\"}}",
	          &env);
	assert_string_equal(env.verb, "start");
	assert_int_equal(env.nparams, 4);
	assert_string_equal(env.params[0].key, "task");
	assert_string_equal(env.params[0].value, "webserver");
	assert_string_equal(codec_param(&env, "command"), "python3");
	assert_string_equal(codec_param(&env, "args"), "-m http.server 8000");
	assert_string_equal(codec_param(&env, "env_PORT"), "8000");
	assert_null(codec_param(&env, "cwd"));
	assert_null(env.args_array);
	assert_null(env.content);
	assert_false(env.has_timestamp);
	assert_null(env.agent_id);
	assert_null(env.request_id);
	codec_envelope_free(&env);

	decode_ok("{\"verb\":\"start\",\"params\":{\"task\":\"myapp\",\"command\":\"node app.js\","
	          "\"env_PORT\":\"3000\"},\"content\":\"optional content\",\"timestamp\":"
	          "\"2025-11-17T15:00:00Z\",\"agent_id\":\"agent-123\"}",
	          &env);
	assert_string_equal(env.verb, "start");
	assert_string_equal(codec_param(&env, "task"), "myapp");
	assert_string_equal(codec_param(&env, "command"), "node app.js");
	assert_string_equal(env.content, "optional content");
	assert_true(env.has_timestamp);
	assert_int_equal(env.timestamp_ms, T_DOC_MS);
	assert_string_equal(env.agent_id, "agent-123");
	codec_envelope_free(&env);

	decode_ok("{\"verb\":\"status\",\"params\":{}}", &env);
	assert_string_equal(env.verb, "status");
	assert_int_equal(env.nparams, 0);
	codec_envelope_free(&env);
}

static void ok_scalars_as_strings(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"verb\":\"start\",\"params\":{\"instances\":4,\"watch\":true,\"off\":false,"
	          "\"ratio\":1.5,\"neg\":-3,\"big\":1e6,\"zero\":0}}",
	          &env);
	assert_string_equal(codec_param(&env, "instances"), "4");
	assert_string_equal(codec_param(&env, "watch"), "true");
	assert_string_equal(codec_param(&env, "off"), "false");
	assert_string_equal(codec_param(&env, "ratio"), "1.5");
	assert_string_equal(codec_param(&env, "neg"), "-3");
	assert_string_equal(codec_param(&env, "big"), "1000000");
	assert_string_equal(codec_param(&env, "zero"), "0");
	codec_envelope_free(&env);

	/* Ids may be numbers too. */
	decode_ok("{\"verb\":\"s\",\"request_id\":42,\"agent_id\":7}", &env);
	assert_string_equal(env.request_id, "42");
	assert_string_equal(env.agent_id, "7");
	codec_envelope_free(&env);
}

/* "Numbers become the text a person would write": 0.1 is written "0.1",
 * not as the 17 significant digits of its binary approximation. */
static void ok_decimal_as_written(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"verb\":\"s\",\"params\":{\"ratio\":0.1,\"cpu\":0.3}}", &env);
	/* Copied out first, so that a failure leaks nothing under ASan. */
	char ratio[64], cpu[64];
	snprintf(ratio, sizeof(ratio), "%s", codec_param(&env, "ratio"));
	snprintf(cpu, sizeof(cpu), "%s", codec_param(&env, "cpu"));
	codec_envelope_free(&env);
	assert_string_equal(ratio, "0.1");
	assert_string_equal(cpu, "0.3");
}

static void ok_null_ignored(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"verb\":\"s\",\"params\":{\"a\":null,\"b\":\"2\"},\"content\":null,"
	          "\"timestamp\":null,\"agent_id\":null,\"request_id\":null}",
	          &env);
	assert_int_equal(env.nparams, 1);
	assert_null(codec_param(&env, "a"));
	assert_string_equal(codec_param(&env, "b"), "2");
	assert_null(env.content);
	assert_false(env.has_timestamp);
	assert_null(env.agent_id);
	assert_null(env.request_id);
	codec_envelope_free(&env);

	decode_ok("{\"verb\":\"s\",\"params\":null}", &env);
	assert_int_equal(env.nparams, 0);
	codec_envelope_free(&env);
}

static void ok_args_array(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok(
	    "{\"verb\":\"start\",\"params\":{\"task\":\"web\",\"args\":[\"-m\",\"http.server\","
	    "8000,\"a b\"]}}",
	    &env);
	assert_int_equal(env.nargs_array, 4);
	assert_non_null(env.args_array);
	assert_string_equal(env.args_array[0], "-m");
	assert_string_equal(env.args_array[1], "http.server");
	assert_string_equal(env.args_array[2], "8000");
	assert_string_equal(env.args_array[3], "a b");
	assert_null(env.args_array[4]);
	/* The array lands in args_array, not among the string params. */
	assert_null(codec_param(&env, "args"));
	assert_int_equal(env.nparams, 1);
	codec_envelope_free(&env);

	decode_ok("{\"verb\":\"start\",\"params\":{\"args\":[]}}", &env);
	assert_int_equal(env.nargs_array, 0);
	codec_envelope_free(&env);

	/* A string args stays a string param. */
	decode_ok("{\"verb\":\"start\",\"params\":{\"args\":\"-m http.server\"}}", &env);
	assert_null(env.args_array);
	assert_string_equal(codec_param(&env, "args"), "-m http.server");
	codec_envelope_free(&env);
}

static void ok_timestamps(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		int64_t ms;
	} cases[] = {
	    {"\"2025-11-17T15:00:00Z\"", T_DOC_MS},
	    {"\"2025-11-17T15:00:00.250Z\"", T_DOC_MS + 250},
	    {"\"2025-11-17T17:00:00+02:00\"", T_DOC_MS},
	    {"\"2025-11-17T17:00:00.125+02:00\"", T_DOC_MS + 125},
	    {"\"2025-11-17T09:30:00-05:30\"", T_DOC_MS},
	    {"\"2026-11-27T10:00:00.000Z\"", T_CONSOLE_MS},
	    /* The Rust b00t-ipc envelope: integer epoch seconds. */
	    {"1763391600", T_DOC_MS},
	    {"1763391600.5", T_DOC_MS + 500},
	    {"0", 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[128];
		snprintf(json, sizeof(json), "{\"verb\":\"s\",\"timestamp\":%s}", cases[i].json);
		struct envelope env;
		decode_ok(json, &env);
		assert_true(env.has_timestamp);
		if (env.timestamp_ms != cases[i].ms)
			fail_msg("%s gave %lld ms, expected %lld", cases[i].json,
			         (long long)env.timestamp_ms, (long long)cases[i].ms);
		codec_envelope_free(&env);
	}
}

static void ok_unknown_keys(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"priority\":5,\"verb\":\"stop\",\"meta\":{\"x\":[1,{\"y\":null}]},\"params\":"
	          "{\"task\":\"api\"},\"tags\":[\"a\"],\"Verb\":\"ignored\"}",
	          &env);
	assert_string_equal(env.verb, "stop");
	assert_int_equal(env.nparams, 1);
	assert_string_equal(codec_param(&env, "task"), "api");
	codec_envelope_free(&env);
}

static void ok_verb_normalised(void **state)
{
	(void)state;
	static const struct {
		const char *in, *want;
	} cases[] = {
	    {"/start", "start"}, {"START", "start"},         {"/ReStart", "restart"},
	    {"ps", "ps"},        {"verb-name", "verb-name"}, {"env_set2", "env_set2"},
	    {"/S", "s"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char json[128];
		snprintf(json, sizeof(json), "{\"verb\":\"%s\"}", cases[i].in);
		struct envelope env;
		decode_ok(json, &env);
		assert_string_equal(env.verb, cases[i].want);
		codec_envelope_free(&env);
	}
}

/* Decodes json expecting a refusal that names want_key; returns the
 * envelope (what the error reply may carry) for more checks. */
static void expect_duplicate(const char *json, const char *want, struct envelope *env)
{
	char err[256] = "";
	if (codec_decode_command(json, strlen(json), env, err, sizeof(err)) != -1)
		fail_msg("decode of %s succeeded, expected a duplicate-key error", json);
	check_readable(err);
	if (strstr(err, want) == NULL)
		fail_msg("error \"%s\" lacks \"%s\"", err, want);
}

static void dup_keys_refused_at_top(void **state)
{
	(void)state;
	struct envelope env;
	/* The smuggling case: cJSON would read the delete, Python the status. */
	expect_duplicate("{\"verb\":\"delete\",\"params\":{\"task\":\"victim\"},"
			 "\"verb\":\"status\",\"params\":{},\"request_id\":\"r1\"}",
			 "appears twice", &env);
	/* Neither verb is picked for the reply; the one request_id is kept. */
	assert_null(env.verb);
	assert_int_equal(env.nparams, 0);
	assert_string_equal(env.request_id, "r1");
	codec_envelope_free(&env);
	expect_duplicate("{\"verb\":\"delete\",\"verb\":\"status\"}", "\"verb\" appears twice",
			 &env);
	codec_envelope_free(&env);
}

static void dup_request_id_left_out(void **state)
{
	(void)state;
	struct envelope env;
	expect_duplicate("{\"verb\":\"status\",\"request_id\":\"a\",\"agent_id\":\"me\","
			 "\"request_id\":\"b\"}",
			 "\"request_id\" appears twice", &env);
	assert_null(env.request_id);
	assert_string_equal(env.verb, "status");
	assert_string_equal(env.agent_id, "me");
	codec_envelope_free(&env);
	expect_duplicate("{\"verb\":\"status\",\"agent_id\":\"a\",\"agent_id\":\"b\",\"request_id\":7}",
			 "\"agent_id\" appears twice", &env);
	assert_null(env.agent_id);
	assert_string_equal(env.request_id, "7");
	codec_envelope_free(&env);
}

static void dup_keys_refused_at_any_level(void **state)
{
	(void)state;
	struct envelope env;
	expect_duplicate("{\"verb\":\"s\",\"request_id\":\"r\",\"params\":{\"a\":\"1\",\"b\":\"x\","
			 "\"a\":\"2\"}}",
			 "\"a\" appears twice in params", &env);
	assert_string_equal(env.request_id, "r");
	assert_string_equal(env.verb, "s");
	codec_envelope_free(&env);
	/* An escape spells the same key: readers decode it before comparing. */
	expect_duplicate("{\"verb\":\"stop\",\"params\":{\"task\":\"a\",\"t\\u0061sk\":\"b\"}}",
			 "\"task\" appears twice in params", &env);
	codec_envelope_free(&env);
	/* Unknown keys are ignored, but not a duplicate inside them. */
	expect_duplicate("{\"verb\":\"s\",\"x\":[1,{\"k\":1,\"k\":2}]}", "\"k\" appears twice in x[1]",
			 &env);
	codec_envelope_free(&env);
	expect_duplicate("{\"verb\":\"s\",\"x\":{\"y\":{\"z\":[],\"z\":null}}}",
			 "\"z\" appears twice in x.y", &env);
	codec_envelope_free(&env);
	/* One duplicate among many keys is found. */
	char big[40000];
	size_t o = (size_t)snprintf(big, sizeof(big), "{\"verb\":\"s\",\"params\":{");
	for (int i = 0; i < 2000; i++)
		o += (size_t)snprintf(big + o, sizeof(big) - o, "\"k%d\":\"v\",", i);
	snprintf(big + o, sizeof(big) - o, "\"k1234\":\"again\"}}");
	expect_duplicate(big, "\"k1234\" appears twice in params", &env);
	codec_envelope_free(&env);
}

static void ok_keys_case_sensitive(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"verb\":\"s\",\"params\":{\"Task\":\"A\",\"task\":\"b\"}}", &env);
	assert_int_equal(env.nparams, 2);
	assert_string_equal(codec_param(&env, "Task"), "A");
	assert_string_equal(codec_param(&env, "task"), "b");
	codec_envelope_free(&env);
}

static void ok_unicode_and_escapes(void **state)
{
	(void)state;
	struct envelope env;
	decode_ok("{\"verb\":\"say\",\"params\":{\"msg\":\"h\\u00e9 \\\"q\\\" \\\\\"},\"content\":"
	          "\"\\ud83d\\ude80 \xe6\x97\xa5\"}",
	          &env);
	assert_string_equal(codec_param(&env, "msg"), "h\xc3\xa9 \"q\" \\");
	assert_string_equal(env.content, "\xf0\x9f\x9a\x80 \xe6\x97\xa5");
	codec_envelope_free(&env);
}

static void ok_not_nul_terminated(void **state)
{
	(void)state;
	/* Only buf[0..len) is read. */
	static const char buf[] = "{\"verb\":\"s\"}garbage";
	struct envelope env;
	char err[256];
	assert_int_equal(codec_decode_command(buf, 12, &env, err, sizeof(err)), 0);
	assert_string_equal(env.verb, "s");
	codec_envelope_free(&env);
	codec_envelope_free(&env); /* free leaves it empty */
}

/* ---- encoding ---- */

static char *encode_line(const char *line, const char *agent_id, const char *request_id,
                         int64_t wall_ms)
{
	struct slash_line sl;
	struct slash_error se;
	if (slash_parse(line, strlen(line), &sl, &se) != 0)
		fail_msg("slash_parse of \"%s\" failed: %s", line, se.message);
	char *json = codec_encode_command(&sl, agent_id, request_id, wall_ms);
	slash_line_free(&sl);
	assert_non_null(json);
	return json;
}

static void expect_encoded(const char *line, const char *agent_id, const char *request_id,
                           int64_t wall_ms, const char *want)
{
	char *got = encode_line(line, agent_id, request_id, wall_ms);
	assert_string_equal(got, want);
	free(got);
}

static void enc_console_example(void **state)
{
	(void)state;
	expect_encoded(
	    "/start --task=api --command=\"node api.js\"", "agent-1", "r-1", T_CONSOLE_MS,
	    "{\"verb\":\"start\",\"params\":{\"task\":\"api\",\"command\":\"node api.js\"},"
	    "\"timestamp\":\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"agent-1\","
	    "\"request_id\":\"r-1\"}");
}

static void enc_params_always_object(void **state)
{
	(void)state;
	/* "/status" has no params (null in the grammar): still {} on the wire. */
	expect_encoded("/status", "a", "r", T_CONSOLE_MS,
	               "{\"verb\":\"status\",\"params\":{},\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"a\",\"request_id\":\"r\"}");
	expect_encoded("/status please", "a", "r", T_CONSOLE_MS,
	               "{\"verb\":\"status\",\"params\":{},\"content\":\"please\",\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"a\",\"request_id\":\"r\"}");
}

static void enc_content_only_when_non_empty(void **state)
{
	(void)state;
	/* "/stop --task=api" has content "" in the grammar: left out. */
	expect_encoded("/stop --task=api", "a", "r", T_CONSOLE_MS,
	               "{\"verb\":\"stop\",\"params\":{\"task\":\"api\"},\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"a\",\"request_id\":\"r\"}");
	expect_encoded("/say --to=all hello \"world\"\n bye", "a", "r", T_CONSOLE_MS,
	               "{\"verb\":\"say\",\"params\":{\"to\":\"all\"},\"content\":"
	               "\"hello \\\"world\\\"\\n bye\",\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"a\",\"request_id\":\"r\"}");
}

static void enc_ids_optional(void **state)
{
	(void)state;
	expect_encoded("/ps", NULL, NULL, T_CONSOLE_MS,
	               "{\"verb\":\"ps\",\"params\":{},\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\"}");
	expect_encoded("/ps", "agent-x", NULL, T_CONSOLE_MS,
	               "{\"verb\":\"ps\",\"params\":{},\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"agent-x\"}");
	expect_encoded("/ps", NULL, "req", T_CONSOLE_MS,
	               "{\"verb\":\"ps\",\"params\":{},\"timestamp\":"
	               "\"2026-11-27T10:00:00.000Z\",\"request_id\":\"req\"}");
}

static void enc_timestamp(void **state)
{
	(void)state;
	expect_encoded("/ps", NULL, NULL, T_CONSOLE_MS + 7,
	               "{\"verb\":\"ps\",\"params\":{},\"timestamp\":"
	               "\"2026-11-27T10:00:00.007Z\"}");
	expect_encoded("/ps", NULL, NULL, T_DOC_MS + 999,
	               "{\"verb\":\"ps\",\"params\":{},\"timestamp\":"
	               "\"2025-11-17T15:00:00.999Z\"}");
	expect_encoded("/ps", NULL, NULL, 0,
	               "{\"verb\":\"ps\",\"params\":{},\"timestamp\":"
	               "\"1970-01-01T00:00:00.000Z\"}");
}

static void enc_flags_and_unicode(void **state)
{
	(void)state;
	expect_encoded("/start --watch --name=caf\xc3\xa9", NULL, NULL, T_CONSOLE_MS,
	               "{\"verb\":\"start\",\"params\":{\"watch\":\"\",\"name\":\"caf\xc3\xa9\"},"
	               "\"timestamp\":\"2026-11-27T10:00:00.000Z\"}");
}

/* Encodes line, decodes the result and checks that verb, params, content,
 * time and ids come back unchanged. */
static void expect_round_trip(const char *line)
{
	struct slash_line sl;
	struct slash_error se;
	if (slash_parse(line, strlen(line), &sl, &se) != 0)
		fail_msg("slash_parse of \"%s\" failed: %s", line, se.message);
	int64_t when = T_CONSOLE_MS + 321;
	char *json = codec_encode_command(&sl, "agent-1", "req-1", when);
	struct envelope env;
	decode_ok(json, &env);
	assert_string_equal(env.verb, sl.verb);
	assert_int_equal(env.nparams, sl.nparams);
	for (size_t i = 0; i < sl.nparams; i++) {
		assert_string_equal(env.params[i].key, sl.params[i].key);
		assert_string_equal(env.params[i].value, sl.params[i].value);
	}
	if (sl.content == NULL || sl.content[0] == '\0')
		assert_null(env.content);
	else
		assert_string_equal(env.content, sl.content);
	assert_true(env.has_timestamp);
	assert_int_equal(env.timestamp_ms, when);
	assert_string_equal(env.agent_id, "agent-1");
	assert_string_equal(env.request_id, "req-1");
	codec_envelope_free(&env);
	free(json);
	slash_line_free(&sl);
}

static void round_trip(void **state)
{
	(void)state;
	expect_round_trip("/start --task=api --command=\"node api.js\" --env_PORT=8080");
	expect_round_trip("/status");
	expect_round_trip("/status please");
	expect_round_trip("/stop --task=api --force");
	expect_round_trip("/say --msg=\"tab\\there \\\"q\\\" back\\\\slash\" multi\n line");
	expect_round_trip("/say --msg=\"h\xc3\xa9llo \xf0\x9f\x9a\x80\" \xe6\x97\xa5\xe6\x9c\xac");
	expect_round_trip("/run --name=web --cmd=python3 --instances=2 --memory=1G");
	expect_round_trip("/v --a=1 --b=2 --a=3 tail");
}

/* ---- status messages ---- */

static void status_full(void **state)
{
	(void)state;
	struct status_msg st = {
	    .task_name = "api",
	    .status = "started",
	    .pm_id = 0,
	    .request_id = "r-1",
	    .verb = "start",
	    .node = "host1",
	    .agent_id = "agent-1",
	};
	char *json = codec_encode_status(&st, T_CONSOLE_MS);
	assert_string_equal(json, "{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":"
	                          "\"started\",\"timestamp\":\"2026-11-27T10:00:00.000Z\","
	                          "\"pm_id\":0,\"request_id\":\"r-1\",\"verb\":\"start\","
	                          "\"node\":\"host1\",\"agent_id\":\"agent-1\"}");
	free(json);
}

static void status_omits_absent(void **state)
{
	(void)state;
	struct status_msg st = {
	    .task_name = "api",
	    .status = "error",
	    .pm_id = -1,
	    .error = "no process named api",
	};
	char *json = codec_encode_status(&st, T_DOC_MS);
	assert_string_equal(json, "{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":"
	                          "\"error\",\"timestamp\":\"2025-11-17T15:00:00.000Z\","
	                          "\"error\":\"no process named api\"}");
	free(json);

	struct status_msg bare = {.pm_id = -5};
	json = codec_encode_status(&bare, T_DOC_MS);
	assert_string_equal(json, "{\"type\":\"task_status\",\"timestamp\":"
	                          "\"2025-11-17T15:00:00.000Z\"}");
	free(json);
}

static void status_type_and_pm_id(void **state)
{
	(void)state;
	struct status_msg st = {
	    .type = "task_event", .task_name = "w", .status = "online", .pm_id = 12};
	char *json = codec_encode_status(&st, T_DOC_MS);
	assert_string_equal(json, "{\"type\":\"task_event\",\"task_name\":\"w\",\"status\":"
	                          "\"online\",\"timestamp\":\"2025-11-17T15:00:00.000Z\","
	                          "\"pm_id\":12}");
	free(json);
}

static void status_json_extensible(void **state)
{
	(void)state;
	struct status_msg st = {.task_name = "api", .status = "listed", .pm_id = -1};
	cJSON *obj = codec_status_json(&st, T_DOC_MS);
	assert_non_null(obj);
	assert_string_equal(cJSON_GetObjectItemCaseSensitive(obj, "type")->valuestring,
	                    "task_status");
	assert_null(cJSON_GetObjectItemCaseSensitive(obj, "pm_id"));
	assert_null(cJSON_GetObjectItemCaseSensitive(obj, "error"));
	assert_null(cJSON_GetObjectItemCaseSensitive(obj, "request_id"));
	cJSON_AddNumberToObject(obj, "count", 3);
	char *json = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	assert_string_equal(json, "{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":"
	                          "\"listed\",\"timestamp\":\"2025-11-17T15:00:00.000Z\","
	                          "\"count\":3}");
	free(json);
}

static void status_escapes(void **state)
{
	(void)state;
	struct status_msg st = {.status = "error", .pm_id = -1, .error = "bad \"x\"\n\\"};
	char *json = codec_encode_status(&st, 0);
	assert_string_equal(json,
	                    "{\"type\":\"task_status\",\"status\":\"error\",\"timestamp\":"
	                    "\"1970-01-01T00:00:00.000Z\",\"error\":\"bad \\\"x\\\"\\n\\\\\"}");
	free(json);
}

static void status_decode_reply(void **state)
{
	(void)state;
	static const char msg[] =
	    "{\"type\":\"task_status\",\"task_name\":\"api\",\"status\":\"started\","
	    "\"timestamp\":\"2025-11-17T15:00:00.000Z\",\"pm_id\":3,\"request_id\":\"r-1\","
	    "\"verb\":\"start\",\"node\":\"host1\",\"agent_id\":\"agent-1\",\"extra\":[1]}";
	struct status_view v;
	char err[256] = "";
	assert_int_equal(codec_decode_status(msg, sizeof(msg) - 1, &v, err, sizeof(err)), 0);
	assert_non_null(v.root);
	assert_string_equal(v.type, "task_status");
	assert_string_equal(v.task_name, "api");
	assert_string_equal(v.status, "started");
	assert_string_equal(v.timestamp, "2025-11-17T15:00:00.000Z");
	assert_int_equal(v.pm_id, 3);
	assert_string_equal(v.request_id, "r-1");
	assert_string_equal(v.verb, "start");
	assert_string_equal(v.node, "host1");
	assert_string_equal(v.agent_id, "agent-1");
	assert_null(v.error);
	assert_int_equal(codec_status_outcome(v.status), 1);
	codec_status_view_free(&v);
	assert_null(v.root);
	assert_null(v.status);
	assert_int_equal(v.pm_id, -1);
}

static void status_decode_round_trip(void **state)
{
	(void)state;
	struct status_msg st = {.task_name = "api",
	                        .status = "not_found",
	                        .pm_id = 0,
	                        .request_id = "r-2",
	                        .error = "no process named api"};
	char *json = codec_encode_status(&st, T_DOC_MS);
	struct status_view v;
	char err[256];
	assert_int_equal(codec_decode_status(json, strlen(json), &v, err, sizeof(err)), 0);
	assert_string_equal(v.type, "task_status");
	assert_string_equal(v.task_name, "api");
	assert_string_equal(v.status, "not_found");
	assert_string_equal(v.error, "no process named api");
	assert_string_equal(v.request_id, "r-2");
	assert_string_equal(v.timestamp, "2025-11-17T15:00:00.000Z");
	assert_int_equal(v.pm_id, 0);
	assert_null(v.verb);
	assert_null(v.node);
	assert_null(v.agent_id);
	assert_int_equal(codec_status_outcome(v.status), 0);
	codec_status_view_free(&v);
	free(json);
}

static void status_decode_lenient_fields(void **state)
{
	(void)state;
	/* Fields of the wrong type read as absent; pm_id must be a sane number. */
	static const char *const cases[] = {
	    "{\"status\":1,\"task_name\":null,\"pm_id\":\"3\"}",
	    "{\"status\":[],\"pm_id\":-1}",
	    "{\"pm_id\":1e12}",
	    "{\"pm_id\":true}",
	    "{}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct status_view v;
		char err[256];
		assert_int_equal(
		    codec_decode_status(cases[i], strlen(cases[i]), &v, err, sizeof(err)), 0);
		assert_null(v.status);
		assert_null(v.task_name);
		assert_null(v.type);
		assert_int_equal(v.pm_id, -1);
		codec_status_view_free(&v);
	}
}

static void status_huge_numbers(void **state)
{
	(void)state;
	/* Numbers no PM2 id can be: never converted to an integer (that is
	 * undefined behaviour out of range), and never described. */
	static const char *const cases[] = {
	    "{\"pm_id\":1e300,\"pm_ids\":[1e300,2]}",
	    "{\"pm_id\":-1e300,\"pm_ids\":[-1e300,-1e300]}",
	    "{\"pm_id\":1.5,\"pm_ids\":[1e999,1.5,3]}",
	    "{\"pm_id\":1e9,\"pm_ids\":[1e9,1e9]}",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct status_view v;
		char err[256], line[512], clock[16];
		assert_int_equal(
		    codec_decode_status(cases[i], strlen(cases[i]), &v, err, sizeof(err)), 0);
		assert_int_equal(v.pm_id, -1);
		tools_describe_status(&v, line, sizeof(line));
		assert_null(strstr(line, "-2147483648"));
		tools_clock(&v, clock, sizeof(clock));
		codec_status_view_free(&v);
	}
	struct status_view v;
	char err[256], line[512];
	const char *ok = "{\"status\":\"started\",\"task_name\":\"api\",\"pm_id\":2,\"pm_ids\":[2,3]}";
	assert_int_equal(codec_decode_status(ok, strlen(ok), &v, err, sizeof(err)), 0);
	tools_describe_status(&v, line, sizeof(line));
	assert_string_equal(line, "started api (pm_ids 2, 3)");
	codec_status_view_free(&v);
}

static void json_long_range(void **state)
{
	(void)state;
	static const struct {
		const char *json;
		bool ok;
		long want;
	} cases[] = {
	    {"0", true, 0},        {"7", true, 7},          {"999999999", true, 999999999},
	    {"1e9", false, 0},     {"-1", false, 0},        {"1.5", false, 0},
	    {"1e300", false, 0},   {"-1e300", false, 0},    {"1e999", false, 0},
	    {"\"3\"", false, 0}, {"true", false, 0},      {"null", false, 0},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cJSON *j = cJSON_Parse(cases[i].json);
		assert_non_null(j);
		long got = -42;
		assert_int_equal(codec_json_long(j, 0, 999999999, &got), cases[i].ok);
		if (cases[i].ok)
			assert_int_equal(got, cases[i].want);
		else
			assert_int_equal(got, -42);
		cJSON_Delete(j);
	}
}

static void status_decode_errors(void **state)
{
	(void)state;
	static const char *const cases[] = {"", "nope", "[1,2]", "\"started\"", "{\"status\":"};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct status_view v;
		char err[256] = "";
		assert_int_equal(
		    codec_decode_status(cases[i], strlen(cases[i]), &v, err, sizeof(err)), -1);
		assert_non_null(strstr(err, "not a JSON object"));
		assert_null(v.root);
		assert_int_equal(v.pm_id, -1);
		codec_status_view_free(&v);
	}
	size_t len = CODEC_MAX_MESSAGE + 1;
	char *buf = padded_message(len);
	struct status_view v;
	char err[256] = "";
	assert_int_equal(codec_decode_status(buf, len, &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "64 KiB"));
	codec_status_view_free(&v);
	free(buf);
}

static void status_outcome(void **state)
{
	(void)state;
	static const char *const ok[] = {"started",         "stopped", "restarted", "deleted",
	                                 "already_running", "ok",      "listed"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		assert_int_equal(codec_status_outcome(ok[i]), 1);
	assert_int_equal(codec_status_outcome("error"), 0);
	assert_int_equal(codec_status_outcome("not_found"), 0);
	/* Refusals: too many commands waiting, and a command past its ttl. */
	assert_int_equal(codec_status_outcome("busy"), 0);
	assert_int_equal(codec_status_outcome("expired"), 0);
	/* Relayed PM2 events and anything unknown are not a final outcome. */
	assert_int_equal(codec_status_outcome(NULL), -1);
	assert_int_equal(codec_status_outcome(""), -1);
	assert_int_equal(codec_status_outcome("online"), -1);
	assert_int_equal(codec_status_outcome("exit"), -1);
	assert_int_equal(codec_status_outcome("STARTED"), -1);
	assert_int_equal(codec_status_outcome("started "), -1);
}

/* ---- ISO-8601 ---- */

static void expect_iso(const char *s, int64_t want)
{
	int64_t ms = -12345;
	if (codec_parse_iso_time(s, &ms) != 0)
		fail_msg("\"%s\" was refused", s);
	if (ms != want)
		fail_msg("\"%s\" gave %lld ms, expected %lld", s, (long long)ms, (long long)want);
}

static void expect_iso_refused(const char *s)
{
	int64_t ms = 0;
	if (codec_parse_iso_time(s, &ms) != -1)
		fail_msg("\"%s\" was accepted as %lld ms", s, (long long)ms);
}

static void iso_accepted(void **state)
{
	(void)state;
	expect_iso("2025-11-17T15:00:00Z", T_DOC_MS);
	expect_iso("2025-11-17t15:00:00z", T_DOC_MS);
	expect_iso("2025-11-17 15:00:00Z", T_DOC_MS);
	expect_iso("2025-11-17T15:00:00.5Z", T_DOC_MS + 500);
	expect_iso("2025-11-17T15:00:00,5Z", T_DOC_MS + 500);
	expect_iso("2025-11-17T15:00:00.05Z", T_DOC_MS + 50);
	expect_iso("2025-11-17T15:00:00.123Z", T_DOC_MS + 123);
	expect_iso("2025-11-17T15:00:00.123999999Z", T_DOC_MS + 123);
	expect_iso("2025-11-17T17:00:00+02:00", T_DOC_MS);
	expect_iso("2025-11-17T17:00:00+0200", T_DOC_MS);
	expect_iso("2025-11-17T15:00:00+00:00", T_DOC_MS);
	expect_iso("2025-11-17T15:00:00-00:00", T_DOC_MS);
	expect_iso("2025-11-17T09:30:00-05:30", T_DOC_MS);
	expect_iso("2025-11-18T04:45:00.001+13:45", T_DOC_MS + 1);
	expect_iso("1970-01-01T00:00:00Z", 0);
	expect_iso("1969-12-31T23:59:59.500Z", -500);
	expect_iso("2024-02-29T00:00:00Z", INT64_C(1709164800000));
	expect_iso("2026-11-27T10:00:00.000Z", T_CONSOLE_MS);
}

static void iso_leap_second(void **state)
{
	(void)state;
	/* POSIX time has no leap seconds: :60 is accepted and reads as the
	 * first second of the next minute. */
	expect_iso("2016-12-31T23:59:60Z", INT64_C(1483228800000));
	expect_iso_refused("2016-12-31T23:59:61Z");
}

static void iso_refused(void **state)
{
	(void)state;
	expect_iso_refused("");
	expect_iso_refused("2025-11-17T15:00:00");     /* no zone: ambiguous */
	expect_iso_refused("2025-11-17T15:00:00.250"); /* no zone */
	expect_iso_refused("2025-11-17");
	expect_iso_refused("2025-11-17T15:00Z");
	expect_iso_refused("2025-13-17T15:00:00Z");
	expect_iso_refused("2025-00-17T15:00:00Z");
	expect_iso_refused("2025-11-00T15:00:00Z");
	expect_iso_refused("2025-11-32T15:00:00Z");
	expect_iso_refused("2025-11-17T24:00:00Z");
	expect_iso_refused("2025-11-17T15:60:00Z");
	expect_iso_refused("2025-11-17T15:00:00.Z");
	expect_iso_refused("2025-11-17T15:00:00ZZ");
	expect_iso_refused("2025-11-17T15:00:00Z ");
	expect_iso_refused("2025-11-17T15:00:00+24:00");
	expect_iso_refused("2025-11-17T15:00:00+02:60");
	expect_iso_refused("2025-11-17T15:00:00+02");
	expect_iso_refused("2025-11-17T15:00:00+2:00");
	expect_iso_refused("2025-11-17T15:00:00+02:00:00");
	expect_iso_refused("2025-11-17X15:00:00Z");
	expect_iso_refused("2025/11/17T15:00:00Z");
	expect_iso_refused("2025-1-17T15:00:00Z");
	expect_iso_refused("25-11-17T15:00:00Z");
	expect_iso_refused(" 2025-11-17T15:00:00Z");
	expect_iso_refused("2025-11-17T15:00:00UTC");
	expect_iso_refused("1763391600");
}

/* A day the month does not have is not a time; it must not be read as a
 * day of the next month (2026-02-30 is not 2026-03-02). */
static void iso_day_of_month(void **state)
{
	(void)state;
	static const char *const cases[] = {"2026-02-30T00:00:00Z", "2025-02-29T00:00:00Z",
	                                    "2026-04-31T00:00:00Z", "2026-06-31T12:00:00Z"};
	size_t accepted = 0;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t ms = 0;
		if (codec_parse_iso_time(cases[i], &ms) == 0) {
			print_message("accepted \"%s\" as %lld ms\n", cases[i], (long long)ms);
			accepted++;
		}
	}
	if (accepted > 0)
		fail_msg("%zu days that the month does not have were accepted", accepted);
	/* The last day of each month is fine. */
	expect_iso("2024-02-29T00:00:00Z", INT64_C(1709164800000));
	expect_iso("2026-04-30T00:00:00Z", INT64_C(1777507200000));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(bad_each_class),
	    cmocka_unit_test(bad_errors_distinct),
	    cmocka_unit_test(bad_not_json),
	    cmocka_unit_test(bad_trailing_text),
	    cmocka_unit_test(bad_not_object),
	    cmocka_unit_test(bad_params_not_object),
	    cmocka_unit_test(bad_nested_params),
	    cmocka_unit_test(bad_too_big),
	    cmocka_unit_test(bad_utf8),
	    cmocka_unit_test(bad_nul_byte),
	    cmocka_unit_test(bad_nul_escape),
	    cmocka_unit_test(bad_control_in_names),
	    cmocka_unit_test(bad_long_names),
	    cmocka_unit_test(bad_verb),
	    cmocka_unit_test(bad_timestamp),
	    cmocka_unit_test(bad_ids),
	    cmocka_unit_test(partial_ids_kept),
	    cmocka_unit_test(partial_nothing_on_bad_json),
	    cmocka_unit_test(ok_documented_examples),
	    cmocka_unit_test(ok_scalars_as_strings),
	    cmocka_unit_test(ok_decimal_as_written),
	    cmocka_unit_test(ok_null_ignored),
	    cmocka_unit_test(ok_args_array),
	    cmocka_unit_test(ok_timestamps),
	    cmocka_unit_test(ok_unknown_keys),
	    cmocka_unit_test(ok_verb_normalised),
	    cmocka_unit_test(dup_keys_refused_at_top),
	    cmocka_unit_test(dup_request_id_left_out),
	    cmocka_unit_test(dup_keys_refused_at_any_level),
	    cmocka_unit_test(status_huge_numbers),
	    cmocka_unit_test(json_long_range),
	    cmocka_unit_test(ok_keys_case_sensitive),
	    cmocka_unit_test(ok_unicode_and_escapes),
	    cmocka_unit_test(ok_not_nul_terminated),
	    cmocka_unit_test(enc_console_example),
	    cmocka_unit_test(enc_params_always_object),
	    cmocka_unit_test(enc_content_only_when_non_empty),
	    cmocka_unit_test(enc_ids_optional),
	    cmocka_unit_test(enc_timestamp),
	    cmocka_unit_test(enc_flags_and_unicode),
	    cmocka_unit_test(round_trip),
	    cmocka_unit_test(status_full),
	    cmocka_unit_test(status_omits_absent),
	    cmocka_unit_test(status_type_and_pm_id),
	    cmocka_unit_test(status_json_extensible),
	    cmocka_unit_test(status_escapes),
	    cmocka_unit_test(status_decode_reply),
	    cmocka_unit_test(status_decode_round_trip),
	    cmocka_unit_test(status_decode_lenient_fields),
	    cmocka_unit_test(status_decode_errors),
	    cmocka_unit_test(status_outcome),
	    cmocka_unit_test(iso_accepted),
	    cmocka_unit_test(iso_leap_second),
	    cmocka_unit_test(iso_refused),
	    cmocka_unit_test(iso_day_of_month),
	};
	UNIT_RUN("codec", tests);
}
