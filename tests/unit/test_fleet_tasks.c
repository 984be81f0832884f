/*
 * Unit tests for fleet_tasks: a node's task table round-trips through its
 * JSON, its digest moves with what readers care about (a task appearing,
 * its status, its restarts) and not with figures (CPU, memory), and a value
 * that is not a table is refused.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "fleet_tasks.h"
#include "pm2.h"

/* Records hold mutable strings; these are ours to point at. */
static char s_api[] = "api", s_job[] = "job", s_online[] = "online", s_stopped[] = "stopped",
	    s_fork[] = "fork_mode";

static struct pm2_proc proc(int id, char *name, char *status)
{
	return (struct pm2_proc){.pm_id = id,
				 .name = name,
				 .status = status,
				 .state = pm2_status_parse(status),
				 .pid = 100 + id,
				 .memory = 1024,
				 .cpu = 1.5,
				 .pm_uptime = 1000,
				 .exec_mode = s_fork,
				 .instances = 1};
}

static void key_has_tag(void **state)
{
	(void)state;
	char *k = fleet_tasks_key("web-2");
	assert_string_equal(k, "b00t:{tasker}:tasks:web-2");
	free(k);
}

static void round_trip(void **state)
{
	(void)state;
	struct pm2_proc p[2] = {proc(0, s_api, s_online),
				proc(1, s_job, s_stopped)};
	char *s = fleet_tasks_encode(p, 2, "n1", "host1", 42, 61000);
	cJSON *root;
	const cJSON *tasks = fleet_tasks_decode(s, strlen(s), &root);
	assert_non_null(tasks);
	assert_int_equal(cJSON_GetArraySize(tasks), 2);
	const cJSON *t0 = cJSON_GetArrayItem(tasks, 0);
	assert_string_equal(cJSON_GetObjectItem(t0, "name")->valuestring, "api");
	assert_string_equal(cJSON_GetObjectItem(t0, "node")->valuestring, "n1");
	assert_int_equal(cJSON_GetObjectItem(t0, "uptime")->valuedouble, 60000);
	assert_int_equal(cJSON_GetObjectItem(cJSON_GetArrayItem(tasks, 1), "pid")->valuedouble, 0);
	assert_string_equal(cJSON_GetObjectItem(root, "host")->valuestring, "host1");
	assert_int_equal(cJSON_GetObjectItem(root, "count")->valuedouble, 2);
	cJSON_Delete(root);
	free(s);
}

static void digest_follows_changes_not_figures(void **state)
{
	(void)state;
	struct pm2_proc p[2] = {proc(0, s_api, s_online),
				proc(1, s_job, s_online)};
	uint64_t d0 = fleet_tasks_digest(p, 2);
	p[0].cpu = 99;
	p[0].memory = 1 << 30;
	assert_true(fleet_tasks_digest(p, 2) == d0);
	p[1].status = s_stopped;
	uint64_t d1 = fleet_tasks_digest(p, 2);
	assert_true(d1 != d0);
	p[1].restart_time = 1;
	assert_true(fleet_tasks_digest(p, 2) != d1);
	assert_true(fleet_tasks_digest(p, 1) != fleet_tasks_digest(p, 2));
}

static void not_a_table(void **state)
{
	(void)state;
	static const char *const bad[] = {"", "x", "[]", "{}", "{\"tasks\":{}}", "null",
					  "{\"tasks\":\"a\"}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *root = (cJSON *)1;
		assert_null(fleet_tasks_decode(bad[i], strlen(bad[i]), &root));
		assert_null(root);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(key_has_tag),
		cmocka_unit_test(round_trip),
		cmocka_unit_test(digest_follows_changes_not_figures),
		cmocka_unit_test(not_a_table),
	};
	UNIT_RUN("test_fleet_tasks", tests);
}
