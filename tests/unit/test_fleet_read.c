/*
 * Unit tests for fleet_read: a table written by fleet_tasks_encode reads
 * back into the same records (the console and `tasker ls --fleet` show what
 * the executor listed), hostile fields are clamped to zero or "", records
 * without a name are skipped, text that is not a table is refused, and a
 * key names its node only after the right prefix.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "fleet_read.h"
#include "pm2.h"

static char s_api[] = "api", s_online[] = "online", s_fork[] = "fork_mode";

static void round_trip(void **state)
{
	(void)state;
	struct pm2_proc p = {.pm_id = 3,
			     .name = s_api,
			     .status = s_online,
			     .state = PM2_ST_ONLINE,
			     .pid = 4242,
			     .cpu = 2,
			     .memory = 4096,
			     .pm_uptime = 1000,
			     .restart_time = 5,
			     .exec_mode = s_fork,
			     .instances = 1};
	char *s = fleet_tasks_encode(&p, 1, "n2", "h", 1, 61000);
	struct pm2_proc *out;
	size_t n;
	char node[32];
	char **nodes;
	assert_int_equal(fleet_read_table(s, strlen(s), 70000, &out, &n, node, sizeof(node), &nodes), 0);
	assert_int_equal(n, 1);
	assert_string_equal(node, "n2");
	assert_string_equal(nodes[0], "n2");
	assert_string_equal(out[0].name, "api");
	assert_int_equal(out[0].state, PM2_ST_ONLINE);
	assert_int_equal(out[0].pm_id, 3);
	assert_int_equal(out[0].pid, 4242);
	assert_int_equal(out[0].restart_time, 5);
	assert_int_equal(out[0].memory, 4096);
	/* Up 60 s when written; read at 70000: started at 10000. */
	assert_int_equal(out[0].pm_uptime, 10000);
	assert_string_equal(out[0].out_log_path, "");
	free(nodes[0]);
	free(nodes);
	pm2_procs_free(out, n);
	free(s);
}

static void hostile_fields(void **state)
{
	(void)state;
	const char *t = "{\"node\":\"x\",\"tasks\":[{\"name\":\"a\",\"pm_id\":1e300,\"pid\":-4,"
			"\"memory\":-5,\"status\":7,\"node\":\"own\"},{\"pm_id\":2},\"junk\",null]}";
	struct pm2_proc *out;
	size_t n;
	char **nodes;
	assert_int_equal(fleet_read_table(t, strlen(t), 0, &out, &n, NULL, 0, &nodes), 0);
	assert_int_equal(n, 1);
	assert_int_equal(out[0].pm_id, 0);
	assert_int_equal(out[0].pid, 0);
	assert_int_equal(out[0].memory, 0);
	assert_string_equal(out[0].status, "");
	assert_string_equal(nodes[0], "own");
	free(nodes[0]);
	free(nodes);
	pm2_procs_free(out, n);
}

static void not_a_table(void **state)
{
	(void)state;
	struct pm2_proc *out = (struct pm2_proc *)1;
	size_t n = 9;
	assert_int_equal(fleet_read_table("nope", 4, 0, &out, &n, NULL, 0, NULL), -1);
	assert_null(out);
	assert_int_equal(n, 0);
}

static void key_node(void **state)
{
	(void)state;
	const char *k = "b00t:{tasker}:tasks:web-2";
	assert_string_equal(fleet_read_key_node(k, strlen(k), FLEET_TASKS_PREFIX), "web-2");
	k = "b00t:{tasker}:tasks:";
	assert_null(fleet_read_key_node(k, strlen(k), FLEET_TASKS_PREFIX));
	k = "b00t:tasker:executor:n1";
	assert_null(fleet_read_key_node(k, strlen(k), FLEET_TASKS_PREFIX));
	assert_string_equal(fleet_read_key_node(k, strlen(k), FLEET_PRESENCE_PREFIX), "n1");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(round_trip),
		cmocka_unit_test(hostile_fields),
		cmocka_unit_test(not_a_table),
		cmocka_unit_test(key_node),
	};
	UNIT_RUN("test_fleet_read", tests);
}
