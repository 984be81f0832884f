/*
 * Unit tests for command_target (core/command_target.c): a stop, restart,
 * delete or logs names a task or a pm_id, exactly one of them
 * (docs/protocol.md, "Acting by pm_id"); the forms a pm_id may take on the
 * wire, and the sentence for each refusal.
 */
#include "unit.h"

#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "command_target.h"

static int run(const char *json, bool takes, const char **name, long *pm_id, char *key,
	       char *err, size_t errlen, struct envelope *env)
{
	char derr[200];
	if (codec_decode_command(json, strlen(json), env, derr, sizeof(derr)) < 0)
		fail_msg("the envelope does not decode: %s", derr);
	err[0] = '\0';
	return command_target(env, takes, name, pm_id, key, err, errlen);
}

static void expect_pm(const char *json, long want)
{
	struct envelope env;
	const char *name;
	long id;
	char key[COMMAND_PM_KEY], err[300];
	if (run(json, true, &name, &id, key, err, sizeof(err), &env) != 0)
		fail_msg("%s refused: %s", json, err);
	assert_int_equal(id, want);
	assert_ptr_equal(name, key);
	assert_int_equal(command_pm_key(name), want);
	codec_envelope_free(&env);
}

static void expect_refused(const char *json, bool takes, const char *words)
{
	struct envelope env;
	const char *name;
	long id;
	char key[COMMAND_PM_KEY], err[300];
	assert_int_equal(run(json, takes, &name, &id, key, err, sizeof(err), &env), -1);
	if (strstr(err, words) == NULL)
		fail_msg("%s: \"%s\" does not say \"%s\"", json, err, words);
	codec_envelope_free(&env);
}

static void pm_ids(void **state)
{
	(void)state;
	expect_pm("{\"verb\":\"stop\",\"params\":{\"pm_id\":3}}", 3);
	expect_pm("{\"verb\":\"stop\",\"params\":{\"pm_id\":\"0\"}}", 0);
	expect_pm("{\"verb\":\"logs\",\"params\":{\"pm_id\":123456789}}", 123456789);
}

static void names(void **state)
{
	(void)state;
	struct envelope env;
	const char *name;
	long id;
	char key[COMMAND_PM_KEY], err[300];
	assert_int_equal(run("{\"verb\":\"stop\",\"params\":{\"task\":\"api\"}}", true, &name, &id, key,
			     err, sizeof(err), &env),
			 0);
	assert_string_equal(name, "api");
	assert_int_equal(id, -1);
	assert_int_equal(command_pm_key(name), -1);
	codec_envelope_free(&env);
	assert_int_equal(command_pm_key(NULL), -1);
	assert_int_equal(command_pm_key("#"), -1);
	assert_int_equal(command_pm_key("#1x"), -1);
}

static void refusals(void **state)
{
	(void)state;
	expect_refused("{\"verb\":\"stop\",\"params\":{\"pm_id\":3,\"task\":\"api\"}}", true,
		       "not both");
	expect_refused("{\"verb\":\"stop\",\"params\":{}}", true, "or a pm_id (--pm_id=N)");
	expect_refused("{\"verb\":\"stop\",\"params\":{\"pm_id\":-1}}", true, "whole number");
	expect_refused("{\"verb\":\"stop\",\"params\":{\"pm_id\":1.5}}", true, "whole number");
	expect_refused("{\"verb\":\"stop\",\"params\":{\"pm_id\":true}}", true, "whole number");
	expect_refused("{\"verb\":\"stop\",\"params\":{\"pm_id\":\"\"}}", true, "whole number");
	expect_refused("{\"verb\":\"stop\",\"params\":{\"pm_id\":1234567890}}", true, "whole number");
	expect_refused("{\"verb\":\"start\",\"params\":{\"pm_id\":3}}", false, "is for stop");
	expect_refused("{\"verb\":\"stop\",\"params\":{\"task\":\"my app\"}}", true, "--pm_id=N");
}

/* params.expect_name: checked with the pm_id command_target found. */
static int expect_run(const char *json, const char **expect, char *err, size_t errlen)
{
	struct envelope env;
	const char *name;
	long id;
	char key[COMMAND_PM_KEY], derr[200];
	if (codec_decode_command(json, strlen(json), &env, derr, sizeof(derr)) < 0)
		fail_msg("the envelope does not decode: %s", derr);
	err[0] = '\0';
	int rc = command_target(&env, true, &name, &id, key, err, errlen);
	if (rc == 0)
		rc = command_expect_name(&env, id, expect, err, errlen);
	/* *expect points into env: compared before it goes. */
	static char kept[200];
	if (rc == 0 && *expect != NULL) {
		snprintf(kept, sizeof(kept), "%s", *expect);
		*expect = kept;
	}
	codec_envelope_free(&env);
	return rc;
}

static void expect_names(void **state)
{
	(void)state;
	const char *expect;
	char err[300];
	assert_int_equal(expect_run("{\"verb\":\"stop\",\"params\":{\"pm_id\":3}}", &expect, err,
				    sizeof(err)),
			 0);
	assert_null(expect);
	assert_int_equal(expect_run("{\"verb\":\"stop\",\"params\":{\"pm_id\":3,\"expect_name\":"
				    "\"my app/na\u00efve \u540d\"}}",
				    &expect, err, sizeof(err)),
			 0);
	assert_string_equal(expect, "my app/na\xc3\xafve \xe5\x90\x8d");
	/* 64 bytes pass, 65 do not. */
	char json[300];
	snprintf(json, sizeof(json), "{\"verb\":\"delete\",\"params\":{\"pm_id\":0,\"expect_name\":\"%s\"}}",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa");
	assert_int_equal(expect_run(json, &expect, err, sizeof(err)), 0);
	assert_int_equal(strlen(expect), 64);
	snprintf(json, sizeof(json), "{\"verb\":\"delete\",\"params\":{\"pm_id\":0,\"expect_name\":\"%s\"}}",
		 "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaab");
	assert_int_equal(expect_run(json, &expect, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "1 to 64 bytes"));
	assert_int_equal(expect_run("{\"verb\":\"stop\",\"params\":{\"pm_id\":3,\"expect_name\":\"\"}}",
				    &expect, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "1 to 64 bytes"));
	assert_int_equal(expect_run("{\"verb\":\"stop\",\"params\":{\"pm_id\":3,\"expect_name\":7}}",
				    &expect, err, sizeof(err)),
			 -1);
	assert_non_null(strstr(err, "must be a string"));
	assert_int_equal(
	    expect_run("{\"verb\":\"stop\",\"params\":{\"task\":\"api\",\"expect_name\":\"api\"}}",
		       &expect, err, sizeof(err)),
	    -1);
	assert_non_null(strstr(err, "only with params.pm_id"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(pm_ids),
	    cmocka_unit_test(names),
	    cmocka_unit_test(refusals),
	    cmocka_unit_test(expect_names),
	};
	UNIT_RUN("command_target", tests);
}
