/*
 * Unit tests for pm2_conf: the prepare conf carries every field PM2 needs,
 * byte-exact arguments and env, and the builder refuses whatever would make
 * a malformed request or let PM2 misread the app.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "pm2.h"
#include "pm2_conf.h"

#define HOME "/tmp/pm2 home"

static const char *const some_args[] = {"a", "b c", "$(x)", ";ls", "'q'", "\"dq\"", "é\t"};
static const struct pm2_env_var some_env[] = {
    {"PATH", "/usr/bin:/bin"},
    {"FOO", "bar baz"},
    {"EMPTY", ""},
};

static struct pm2_conf fork_conf(void)
{
	struct pm2_conf c = {
	    .name = "web api",
	    .exec_path = "/bin/sleep",
	    .argv = some_args,
	    .argc = sizeof(some_args) / sizeof(some_args[0]),
	    .cwd = "/srv/dir with space",
	    .env = some_env,
	    .nenv = sizeof(some_env) / sizeof(some_env[0]),
	    .instances = 1,
	    .autorestart = true,
	};
	return c;
}

static const char *str(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	assert_true(cJSON_IsString(v));
	return v->valuestring;
}

static double num(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	assert_true(cJSON_IsNumber(v));
	return v->valuedouble;
}

static bool boolean(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	assert_true(cJSON_IsBool(v));
	return cJSON_IsTrue(v);
}

static void test_fork_conf_fields(void **state)
{
	(void)state;
	struct pm2_conf c = fork_conf();
	char err[200] = "";
	cJSON *o = pm2_conf_build(&c, HOME, err, sizeof(err));
	assert_non_null(o);
	assert_string_equal(str(o, "name"), "web api");
	assert_string_equal(str(o, "namespace"), "default");
	assert_string_equal(str(o, "pm_exec_path"), "/bin/sleep");
	assert_string_equal(str(o, "pm_cwd"), "/srv/dir with space");
	assert_string_equal(str(o, "exec_interpreter"), "none");
	assert_string_equal(str(o, "exec_mode"), "fork_mode");
	assert_true(num(o, "instances") == 1);
	assert_string_equal(str(o, "pm_pid_path"), HOME "/pids/web-api.pid");
	assert_string_equal(str(o, "pm_out_log_path"), HOME "/logs/web-api-out.log");
	assert_string_equal(str(o, "pm_err_log_path"), HOME "/logs/web-api-error.log");
	assert_true(boolean(o, "autostart"));
	assert_true(boolean(o, "autorestart"));
	assert_true(boolean(o, "treekill"));
	assert_true(boolean(o, "merge_logs"));
	assert_false(boolean(o, "vizion"));
	assert_true(num(o, "kill_retry_time") == 25);
	assert_string_equal(str(o, "instance_var"), "NODE_APP_INSTANCE");
	assert_null(cJSON_GetObjectItemCaseSensitive(o, "max_memory_restart"));
	/* pm2 monit crashes on a process without node_args, fork mode too. */
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "node_args")));

	const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args");
	assert_true(cJSON_IsArray(args));
	assert_int_equal(cJSON_GetArraySize(args), c.argc);
	for (size_t i = 0; i < c.argc; i++)
		assert_string_equal(cJSON_GetArrayItem(args, (int)i)->valuestring, some_args[i]);

	const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "env");
	assert_true(cJSON_IsObject(env));
	assert_int_equal(cJSON_GetArraySize(env), 3);
	assert_string_equal(str(env, "FOO"), "bar baz");
	assert_string_equal(str(env, "EMPTY"), "");

	/* What the builder makes, the strict encoder accepts. */
	cJSON *call = cJSON_CreateArray();
	cJSON_AddItemToArray(call, o);
	size_t len;
	const char *eerr = NULL;
	char *frame = pm2_rpc_encode("prepare", call, "1:1", &len, &eerr);
	assert_non_null(frame);
	free(frame);
	cJSON_Delete(call);
}

static void test_env_always_present(void **state)
{
	(void)state;
	struct pm2_conf c = fork_conf();
	c.env = NULL;
	c.nenv = 0;
	c.argv = NULL;
	c.argc = 0;
	char err[200];
	cJSON *o = pm2_conf_build(&c, HOME, err, sizeof(err));
	assert_non_null(o);
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(o, "env");
	assert_true(cJSON_IsObject(env));
	assert_int_equal(cJSON_GetArraySize(env), 0);
	const cJSON *args = cJSON_GetObjectItemCaseSensitive(o, "args");
	assert_true(cJSON_IsArray(args));
	assert_int_equal(cJSON_GetArraySize(args), 0);
	assert_non_null(cJSON_GetObjectItemCaseSensitive(o, "pm_pid_path"));
	cJSON_Delete(o);
}

static void test_cluster_conf(void **state)
{
	(void)state;
	struct pm2_conf c = fork_conf();
	c.name = "cl";
	c.namespace = "team";
	c.exec_path = "/srv/app/server.js";
	c.cluster = true;
	c.instances = 2;
	c.max_memory_restart = 50u << 20;
	c.autorestart = false;
	char err[200];
	cJSON *o = pm2_conf_build(&c, HOME, err, sizeof(err));
	assert_non_null(o);
	assert_string_equal(str(o, "namespace"), "team");
	assert_string_equal(str(o, "exec_interpreter"), "node");
	assert_string_equal(str(o, "exec_mode"), "cluster_mode");
	assert_string_equal(str(o, "pm_exec_path"), "/srv/app/server.js");
	assert_true(num(o, "instances") == 2);
	assert_false(boolean(o, "merge_logs"));
	assert_false(boolean(o, "autorestart"));
	assert_true(num(o, "max_memory_restart") == 52428800.0);
	assert_true(cJSON_IsArray(cJSON_GetObjectItemCaseSensitive(o, "node_args")));
	cJSON_Delete(o);

	/* Several fork instances also get one log file each. */
	c = fork_conf();
	c.instances = 0;
	o = pm2_conf_build(&c, HOME, err, sizeof(err));
	assert_non_null(o);
	assert_true(num(o, "instances") == 0);
	assert_false(boolean(o, "merge_logs"));
	cJSON_Delete(o);
}

static void expect_refused(const struct pm2_conf *c, const char *home, const char *needle)
{
	char err[200] = "";
	cJSON *o = pm2_conf_build(c, home, err, sizeof(err));
	if (o != NULL)
		fail_msg("accepted, expected refusal mentioning \"%s\"", needle);
	if (strstr(err, needle) == NULL)
		fail_msg("error \"%s\" does not mention \"%s\"", err, needle);
}

static void test_refusals(void **state)
{
	(void)state;
	struct pm2_conf c;
	expect_refused(NULL, HOME, "conf");

	c = fork_conf();
	c.name = "";
	expect_refused(&c, HOME, "name");
	c.name = NULL;
	expect_refused(&c, HOME, "name");
	c.name = "42";
	expect_refused(&c, HOME, "id");
	c.name = "all";
	expect_refused(&c, HOME, "pattern");
	c.name = "a\nb";
	expect_refused(&c, HOME, "name");
	c.name = "bad\xff";
	expect_refused(&c, HOME, "name");

	c = fork_conf();
	c.namespace = "";
	expect_refused(&c, HOME, "namespace");

	c = fork_conf();
	c.exec_path = "sleep";
	expect_refused(&c, HOME, "program");
	c.exec_path = NULL;
	expect_refused(&c, HOME, "program");

	c = fork_conf();
	c.cwd = "relative/dir";
	expect_refused(&c, HOME, "working directory");
	c.cwd = NULL;
	expect_refused(&c, HOME, "working directory");

	c = fork_conf();
	expect_refused(&c, "relative", "PM2 home");
	expect_refused(&c, NULL, "PM2 home");

	c = fork_conf();
	c.cluster = true; /* /bin/sleep is no node script */
	expect_refused(&c, HOME, "cluster");

	c = fork_conf();
	c.instances = -1;
	expect_refused(&c, HOME, "instances");
	c.instances = PM2_CONF_MAX_INSTANCES + 1;
	expect_refused(&c, HOME, "instances");

	c = fork_conf();
	const char *bad_args[] = {"ok", "bad\xc3"};
	c.argv = bad_args;
	c.argc = 2;
	expect_refused(&c, HOME, "argument 2");
	const char *null_args[] = {"ok", NULL};
	c.argv = null_args;
	expect_refused(&c, HOME, "argument 2");

	c = fork_conf();
	c.max_memory_restart = ((uint64_t)1 << 53) + 1;
	expect_refused(&c, HOME, "max_memory_restart");
}

static void test_env_refusals(void **state)
{
	(void)state;
	static const char *const bad_keys[] = {
	    "",          "A=B",       "name",      "pm_exec_path", "pm_id",
	    "env",       "args",      "status",    "exec_mode",    "NODE_APP_INSTANCE",
	    "__proto__", "axm_x",     "instances", "autorestart",  "max_memory_restart",
	    "pm2_env",   "unique_id", "cwd",       "bad\x01",      "\xff",
	};
	for (size_t i = 0; i < sizeof(bad_keys) / sizeof(bad_keys[0]); i++) {
		struct pm2_env_var env[] = {{"OK", "1"}, {bad_keys[i], "v"}};
		struct pm2_conf c = fork_conf();
		c.env = env;
		c.nenv = 2;
		char err[200] = "";
		cJSON *o = pm2_conf_build(&c, HOME, err, sizeof(err));
		if (o != NULL)
			fail_msg("env key %zu \"%s\" was accepted", i, bad_keys[i]);
		assert_false(pm2_conf_env_key_ok(bad_keys[i]));
	}
	assert_true(pm2_conf_env_key_ok("PM2_HOME"));
	assert_true(pm2_conf_env_key_ok("NAME"));
	assert_true(pm2_conf_env_key_ok("lower_case"));

	struct pm2_env_var dup[] = {{"A", "1"}, {"A", "2"}};
	struct pm2_conf c = fork_conf();
	c.env = dup;
	c.nenv = 2;
	expect_refused(&c, HOME, "twice");

	struct pm2_env_var badval[] = {{"A", "\xe2\x82"}};
	c.env = badval;
	c.nenv = 1;
	expect_refused(&c, HOME, "value");
	struct pm2_env_var nullval[] = {{"A", NULL}};
	c.env = nullval;
	expect_refused(&c, HOME, "value");
}

static void test_file_name(void **state)
{
	(void)state;
	char *s = pm2_conf_file_name("a b/c.d-e_f");
	assert_string_equal(s, "a-b-c.d-e-f");
	free(s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_fork_conf_fields), cmocka_unit_test(test_env_always_present),
	    cmocka_unit_test(test_cluster_conf),     cmocka_unit_test(test_refusals),
	    cmocka_unit_test(test_env_refusals),     cmocka_unit_test(test_file_name),
	};
	UNIT_RUN("test_pmconf", tests);
}
