/*
 * Unit tests for the authority wiring's pure parts: the once key of a
 * signed message (fleet_admit.c), the owner fields a PM2 listing keeps
 * (pm2_list.c), the audit entry (audit.c), and TASKER_* params refused by
 * check_start (command_check.c).
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "audit.h"
#include "codec.h"
#include "command_check.h"
#include "fleet_admit.h"
#include "pm2.h"
#include "sig.h"

#define P "b00t:{tasker}:b00t:k0mmand3r:"

static void signed_once_key(void **state)
{
	(void)state;
	assert_int_equal(sig_init(), 0);
	unsigned char seed[SIG_SEED_BYTES];
	for (int i = 0; i < SIG_SEED_BYTES; i++)
		seed[i] = (unsigned char)i;
	struct sig_key key;
	sig_key_from_seed(seed, &key);
	const char *cmd = "{\"verb\":\"status\",\"params\":{\"ttl\":\"5\"},\"request_id\":\"r1\"}";
	char *w = sig_wrap(SIG_COMMAND, &key, cmd, strlen(cmd));
	int64_t ttl = 0;
	char *k = fleet_admit_once_key(P, w, strlen(w), &ttl);
	/* The replay id, not the request_id: a copy with another request_id
	 * is another signed command. */
	assert_int_equal(strncmp(k, P "once:sig:", strlen(P "once:sig:")), 0);
	assert_int_equal(strlen(k), strlen(P "once:sig:") + 64);
	/* Kept while the command could be accepted: two windows and a second. */
	assert_true(ttl >= 2 * SIG_WINDOW_MS + 1000);
	/* The same signed bytes, however wrapped, give the same key. */
	char *k2 = fleet_admit_once_key(P, w, strlen(w), &ttl);
	assert_string_equal(k, k2);
	free(k);
	free(k2);
	free(w);
	sig_key_wipe(&key);
}

static void listing_keeps_the_owner(void **state)
{
	(void)state;
	const char *text =
		"[{\"pid\":1,\"name\":\"a\",\"pm_id\":0,\"pm2_env\":{\"status\":\"online\",\"env\":"
		"{\"SECRET\":\"s3cret\",\"TASKER_OWNER\":\"alpha\",\"TASKER_OWNER_KEY\":\"ed25519:K\"}}},"
		"{\"pid\":2,\"name\":\"b\",\"pm_id\":1,\"pm2_env\":{\"status\":\"online\",\"env\":"
		"{\"HOME\":\"/root\"}}},"
		"{\"pid\":3,\"name\":\"c\",\"pm_id\":2,\"pm2_env\":{\"status\":\"online\",\"env\":"
		"{\"TASKER_OWNER\":{\"x\":1},\"TASKER_OWNER_KEY\":7}}}]";
	cJSON *list = cJSON_Parse(text);
	struct pm2_proc *procs;
	size_t n;
	assert_int_equal(pm2_procs_parse(list, &procs, &n, NULL), 0);
	assert_int_equal(n, 3);
	assert_string_equal(procs[0].owner, "alpha");
	assert_string_equal(procs[0].owner_key, "ed25519:K");
	assert_int_equal(procs[0].nenv, 3); /* names only... */
	assert_null(procs[1].owner);	    /* a foreign task */
	assert_null(procs[1].owner_key);
	assert_null(procs[2].owner); /* not a string: no owner */
	assert_null(procs[2].owner_key);
	pm2_procs_free(procs, n);
	cJSON_Delete(list);
}

static void audit_entry(void **state)
{
	(void)state;
	struct audit_record r = {.node = "n1",
				 .agent = "beta",
				 .verb = "stop",
				 .task = "agent-a1",
				 .request_id = "r7",
				 .allowed = false,
				 .status = "denied",
				 .role = "specialist",
				 .reason = "agent-a1 belongs to alpha"};
	char *text = audit_encode(&r, 1764590400123LL);
	cJSON *obj = cJSON_Parse(text);
	assert_non_null(obj);
	assert_string_equal(cJSON_GetObjectItem(obj, "decision")->valuestring, "deny");
	assert_string_equal(cJSON_GetObjectItem(obj, "status")->valuestring, "denied");
	assert_string_equal(cJSON_GetObjectItem(obj, "agent")->valuestring, "beta");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(obj, "key")));
	assert_string_equal(cJSON_GetObjectItem(obj, "time")->valuestring,
			    "2025-12-01T12:00:00.123Z");
	cJSON_Delete(obj);
	free(text);
	r.allowed = true;
	text = audit_encode(&r, 0);
	obj = cJSON_Parse(text);
	assert_string_equal(cJSON_GetObjectItem(obj, "decision")->valuestring, "allow");
	assert_true(cJSON_IsNull(cJSON_GetObjectItem(obj, "status")));
	cJSON_Delete(obj);
	free(text);
}

static void tasker_env_params_refused(void **state)
{
	(void)state;
	const char *cmd = "{\"verb\":\"start\",\"params\":{\"task\":\"x\",\"command\":\"sleep 1\","
			  "\"env_TASKER_OWNER\":\"ops\"}}";
	struct envelope env;
	char err[300];
	assert_int_equal(codec_decode_command(cmd, strlen(cmd), &env, err, sizeof(err)), 0);
	static const char *const pass[] = {"PATH"};
	struct start_defaults def = {pass, 1, "/", 0, 1};
	struct start_spec *spec = check_start(&env, &def, err, sizeof(err));
	assert_null(spec);
	assert_non_null(strstr(err, "names starting with TASKER_ are the executor's"));
	codec_envelope_free(&env);
	/* Without it, the start passes and owner fields can be set. */
	cmd = "{\"verb\":\"start\",\"params\":{\"task\":\"x\",\"command\":\"sleep 1\"}}";
	assert_int_equal(codec_decode_command(cmd, strlen(cmd), &env, err, sizeof(err)), 0);
	spec = check_start(&env, &def, err, sizeof(err));
	assert_non_null(spec);
	assert_non_null(spec->program);
	start_spec_set_owner(spec, "unsigned", "");
	int found = 0;
	for (size_t i = 0; i < spec->nenv; i++)
		found += strcmp(spec->env[i].key, "TASKER_OWNER") == 0 &&
			 strcmp(spec->env[i].value, "unsigned") == 0;
	assert_int_equal(found, 1);
	start_spec_free(spec);
	codec_envelope_free(&env);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(signed_once_key),
		cmocka_unit_test(listing_keeps_the_owner),
		cmocka_unit_test(audit_entry),
		cmocka_unit_test(tasker_env_params_refused),
	};
	UNIT_RUN("auth_wire", tests);
}
