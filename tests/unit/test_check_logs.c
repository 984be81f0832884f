/*
 * Unit tests for check_logs (core/command_check.c): the logs verb's lines
 * and follow params (docs/protocol.md, section 12): defaults, bounds, the
 * forms a number may take on the wire, and the sentence for each refusal.
 */
#include "unit.h"

#include <string.h>

#include "codec.h"
#include "command_check.h"

/* Runs check_logs on a JSON envelope; returns its result, with the values
 * and the sentence. */
static int run(const char *json, long *lines, long *follow, char *err, size_t errlen)
{
	struct envelope env;
	char derr[200];
	if (codec_decode_command(json, strlen(json), &env, derr, sizeof(derr)) < 0)
		fail_msg("the envelope does not decode: %s", derr);
	err[0] = '\0';
	int r = check_logs(&env, lines, follow, err, errlen);
	codec_envelope_free(&env);
	return r;
}

static void expect_ok(const char *json, long want_lines, long want_follow)
{
	long lines = -1, follow = -1;
	char err[300];
	if (run(json, &lines, &follow, err, sizeof(err)) != 0)
		fail_msg("%s refused: %s", json, err);
	assert_int_equal(lines, want_lines);
	assert_int_equal(follow, want_follow);
}

static void expect_refused(const char *json, const char *words)
{
	long lines, follow;
	char err[300];
	if (run(json, &lines, &follow, err, sizeof(err)) == 0)
		fail_msg("%s accepted", json);
	if (strstr(err, words) == NULL)
		fail_msg("%s: \"%s\" does not say \"%s\"", json, err, words);
}

static void defaults(void **state)
{
	(void)state;
	expect_ok("{\"verb\":\"logs\",\"params\":{\"task\":\"api\"}}", 100, 0);
}

static void numbers_and_strings(void **state)
{
	(void)state;
	expect_ok(
	    "{\"verb\":\"logs\",\"params\":{\"task\":\"api\",\"lines\":\"200\",\"follow\":\"30\"}}",
	    200, 30);
	expect_ok("{\"verb\":\"logs\",\"params\":{\"task\":\"api\",\"lines\":7,\"follow\":1}}", 7,
	          1);
	/* A JSON number is its value, however it is written. */
	expect_ok("{\"verb\":\"logs\",\"params\":{\"lines\":1e3}}", 1000, 0);
}

static void bounds(void **state)
{
	(void)state;
	expect_ok("{\"verb\":\"logs\",\"params\":{\"lines\":\"0\",\"follow\":\"0\"}}", 0, 0);
	expect_ok("{\"verb\":\"logs\",\"params\":{\"lines\":\"5000\",\"follow\":\"3600\"}}", 5000,
	          3600);
	expect_refused("{\"verb\":\"logs\",\"params\":{\"lines\":\"5001\"}}",
	               "lines must be a whole number from 0 to 5000");
	expect_refused("{\"verb\":\"logs\",\"params\":{\"follow\":\"3601\"}}",
	               "follow must be a whole number of seconds from 0 to 3600");
	expect_refused("{\"verb\":\"logs\",\"params\":{\"lines\":\"999999999\"}}", "lines must");
	expect_refused("{\"verb\":\"logs\",\"params\":{\"lines\":\"9999999999999999999999\"}}",
	               "lines must");
}

static void not_whole_numbers(void **state)
{
	(void)state;
	const char *bad[] = {"-1",     "\"-1\"", "\"+5\"",  "2.5",  "\"2.5\"", "\"\"",
	                     "\" 5\"", "\"5 \"", "\"abc\"", "true", "\"0x10\""};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		char json[200];
		snprintf(json, sizeof(json), "{\"verb\":\"logs\",\"params\":{\"lines\":%s}}",
		         bad[i]);
		expect_refused(json, "lines must be a whole number");
		snprintf(json, sizeof(json), "{\"verb\":\"logs\",\"params\":{\"follow\":%s}}",
		         bad[i]);
		expect_refused(json, "follow must be a whole number");
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(defaults),
	    cmocka_unit_test(numbers_and_strings),
	    cmocka_unit_test(bounds),
	    cmocka_unit_test(not_whole_numbers),
	};
	UNIT_RUN("check_logs", tests);
}
