/*
 * Unit tests for fleet_admit: the once key a sender and an executor give
 * the same message, the EVAL's arguments, and what its reply means.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "fleet_admit.h"

#define P "b00t:{tasker}:b00t:k0mmand3r:"

static void prefix_names_the_channel(void **state)
{
	(void)state;
	char *p = fleet_admit_prefix("b00t:k0mmand3r");
	assert_string_equal(p, P);
	free(p);
}

static void request_id_is_the_key(void **state)
{
	(void)state;
	int64_t ttl;
	const char *a = "{\"verb\":\"status\",\"request_id\":\"r1\"}";
	const char *b = "{\"request_id\":\"r1\",\"verb\":\"stop\",\"params\":{\"task\":\"x\"}}";
	char *ka = fleet_admit_once_key(P, a, strlen(a), &ttl);
	assert_string_equal(ka, P "once:r1");
	assert_int_equal(ttl, FLEET_ADMIT_DEFAULT_TTL_MS);
	/* Other bytes, the same request_id: the same command. */
	char *kb = fleet_admit_once_key(P, b, strlen(b), &ttl);
	assert_string_equal(ka, kb);
	free(ka);
	free(kb);
}

static void bytes_digest_without_request_id(void **state)
{
	(void)state;
	int64_t ttl;
	const char *a = "{\"verb\":\"status\"}";
	const char *b = "{\"verb\":\"status\" }";
	const char nul[] = "x\0y";
	char *ka = fleet_admit_once_key(P, a, strlen(a), &ttl);
	char *ka2 = fleet_admit_once_key(P, a, strlen(a), &ttl);
	char *kb = fleet_admit_once_key(P, b, strlen(b), &ttl);
	char *kn = fleet_admit_once_key(P, nul, 3, &ttl);
	char *kn2 = fleet_admit_once_key(P, nul, 1, &ttl);
	assert_string_equal(ka, ka2);
	assert_string_not_equal(ka, kb);
	assert_string_not_equal(kn, kn2); /* every byte counts, NUL too */
	assert_int_equal(strncmp(ka, P "once:~", strlen(P "once:~")), 0);
	assert_int_equal(strlen(ka), strlen(P "once:~") + 16);
	free(ka);
	free(ka2);
	free(kb);
	free(kn);
	free(kn2);
}

static void ttl_comes_from_params(void **state)
{
	(void)state;
	int64_t ttl;
	const char *a = "{\"verb\":\"status\",\"params\":{\"ttl\":\"2.5\"},\"request_id\":\"r\"}";
	const char *bad = "{\"verb\":\"status\",\"params\":{\"ttl\":-1},\"request_id\":\"r\"}";
	free(fleet_admit_once_key(P, a, strlen(a), &ttl));
	assert_int_equal(ttl, 2500);
	free(fleet_admit_once_key(P, bad, strlen(bad), &ttl));
	assert_int_equal(ttl, FLEET_ADMIT_DEFAULT_TTL_MS);
	free(fleet_admit_once_key(P, "garbage", 7, &ttl));
	assert_int_equal(ttl, FLEET_ADMIT_DEFAULT_TTL_MS);
}

static void eval_arguments(void **state)
{
	(void)state;
	const char msg[] = "{\"verb\":\"status\",\"params\":{\"ttl\":3},\"request_id\":\"q\"}";
	struct fleet_admit a;
	fleet_admit_build(&a, P, msg, sizeof(msg) - 1);
	assert_string_equal(a.argv[0], "EVAL");
	assert_ptr_equal(a.argv[1], fleet_admit_lua);
	assert_string_equal(a.argv[2], "2");
	assert_string_equal(a.argv[3], P "once:q");
	assert_string_equal(a.argv[4], P "commands");
	assert_string_equal(a.argv[5], "3000");
	assert_ptr_equal(a.argv[6], msg);
	assert_int_equal(a.lens[6], sizeof(msg) - 1);
	assert_string_equal(a.argv[7], FLEET_ADMIT_MAXLEN);
	for (int i = 0; i < FLEET_ADMIT_ARGC; i++)
		if (i != 6)
			assert_int_equal(a.lens[i], strlen(a.argv[i]));
	fleet_admit_free(&a);
	assert_null(a.once_key);
}

static void replies(void **state)
{
	(void)state;
	redisReply r = {0};
	assert_int_equal(fleet_admit_outcome(NULL), FLEET_LOST);
	r.type = REDIS_REPLY_STRING;
	r.str = (char *)(uintptr_t) "1-0";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_ADMITTED);
	r.type = REDIS_REPLY_NIL;
	assert_int_equal(fleet_admit_outcome(&r), FLEET_TAKEN);
	r.type = REDIS_REPLY_INTEGER;
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED);
	r.type = REDIS_REPLY_ERROR;
	r.str = (char *)(uintptr_t) "NOPERM this user has no permissions to run the 'eval' command";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED);
	r.str = (char *)(uintptr_t) "ERR The user executing the script can't run this command or "
				    "subcommand script: 2b48, on @user_script:1.";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED);
	r.str = (char *)(uintptr_t) "ERR unknown command 'EVAL', with args beginning with:";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED);
	r.str = (char *)(uintptr_t) "ERR Error running script: Unknown Redis command called from "
				    "Lua script";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED);
	r.str = (char *)(uintptr_t) "LOADING Redis is loading the dataset in memory";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED_NOW);
	r.str = (char *)(uintptr_t) "BUSY Redis is busy running a script.";
	assert_int_equal(fleet_admit_outcome(&r), FLEET_REFUSED_NOW);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(prefix_names_the_channel),
		cmocka_unit_test(request_id_is_the_key),
		cmocka_unit_test(bytes_digest_without_request_id),
		cmocka_unit_test(ttl_comes_from_params),
		cmocka_unit_test(eval_arguments),
		cmocka_unit_test(replies),
	};
	UNIT_RUN("fleet_admit", tests);
}
