/*
 * Unit tests for fleet_route: where a command goes in a fleet, decided
 * from a view of live nodes, their task tables and the name's holder.
 */
#include "unit.h"

#include <string.h>

#include "fleet_route.h"

static const char *const three[] = {"n1", "n2", "n3"};

static struct fleet_view view(const struct fleet_task_ref *tasks, size_t n)
{
	return (struct fleet_view){three, 3, tasks, n};
}

static void targeted_goes_there(void **state)
{
	(void)state;
	struct fleet_view v = view(NULL, 0);
	struct fleet_route r;
	fleet_route(FLEET_ACT, "api", "n3", NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_int_equal(r.ntargets, 1);
	assert_string_equal(r.targets[0], "n3");
	fleet_route(FLEET_STATUS, NULL, "n2", NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_string_equal(r.targets[0], "n2");
}

static void start_is_placed_once_and_stably(void **state)
{
	(void)state;
	struct fleet_view v = view(NULL, 0);
	struct fleet_route r1, r2;
	fleet_route(FLEET_START, "api", NULL, NULL, "n1", &v, &r1);
	fleet_route(FLEET_START, "api", NULL, NULL, "n2", &v, &r2);
	assert_int_equal(r1.kind, FLEET_FORWARD);
	assert_int_equal(r1.ntargets, 1);
	assert_true(r1.claim);
	/* Every dispatcher places a name on the same node. */
	assert_string_equal(r1.targets[0], r2.targets[0]);
	/* Names spread: 300 names land on every node. */
	int hits[3] = {0};
	for (int i = 0; i < 300; i++) {
		char name[16];
		snprintf(name, sizeof(name), "task-%d", i);
		const char *n = fleet_place(name, three, 3);
		for (int k = 0; k < 3; k++)
			hits[k] += strcmp(n, three[k]) == 0;
	}
	for (int k = 0; k < 3; k++)
		assert_true(hits[k] > 50);
	/* A node leaving moves only the names it held. */
	int moved = 0;
	for (int i = 0; i < 300; i++) {
		char name[16];
		snprintf(name, sizeof(name), "task-%d", i);
		const char *before = fleet_place(name, three, 3);
		const char *after = fleet_place(name, three, 2);
		if (strcmp(before, "n3") != 0 && strcmp(before, after) != 0)
			moved++;
	}
	assert_int_equal(moved, 0);
	assert_null(fleet_place("x", three, 0));
}

static void start_of_a_running_name_is_already_running(void **state)
{
	(void)state;
	struct fleet_task_ref t[] = {{"n2", "api", true}};
	struct fleet_view v = view(t, 1);
	struct fleet_route r;
	/* Without a node: to n2, whose own listing answers (the table may
	 * be a second behind a stop). */
	fleet_route(FLEET_START, "api", NULL, NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_int_equal(r.ntargets, 1);
	assert_string_equal(r.targets[0], "n2");
	/* Named elsewhere, it still runs on n2: names are fleet-wide. */
	fleet_route(FLEET_START, "api", "n3", NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_RUNNING);
	assert_string_equal(r.holder, "n2");

	/* Stopped on n2: replaced there. */
	t[0].active = false;
	fleet_route(FLEET_START, "api", NULL, NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_string_equal(r.targets[0], "n2");
	/* The recorded holder wins over placement. */
	struct fleet_view empty = view(NULL, 0);
	fleet_route(FLEET_START, "api", NULL, "n3", "n1", &empty, &r);
	assert_string_equal(r.targets[0], "n3");
	/* And over a table (a second behind the holder's replies), with or
	 * without naming the holder. */
	t[0].active = true;
	fleet_route(FLEET_START, "api", NULL, "n3", "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_int_equal(r.ntargets, 1);
	assert_string_equal(r.targets[0], "n3");
	fleet_route(FLEET_START, "api", "n3", "n3", "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_string_equal(r.targets[0], "n3");
}

static void stop_goes_where_the_task_lives(void **state)
{
	(void)state;
	struct fleet_task_ref t[] = {{"n2", "web", true}, {"n3", "web", false}, {"n1", "db", true}};
	struct fleet_view v = view(t, 3);
	struct fleet_route r;
	fleet_route(FLEET_ACT, "web", NULL, NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_int_equal(r.ntargets, 2);
	assert_string_equal(r.targets[0], "n2");
	assert_string_equal(r.targets[1], "n3");
	fleet_route(FLEET_ACT, "web", NULL, "n2", "n1", &v, &r);
	assert_int_equal(r.ntargets, 2); /* the holder is not counted twice */
	fleet_route(FLEET_ACT, "ghost", NULL, NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_NOT_FOUND);
	fleet_route(FLEET_STATUS, NULL, NULL, NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_STATUS_ALL);
}

/* By pm_id (no name): a pm_id is per node, so several nodes need node. */
static void a_pm_id_needs_its_node(void **state)
{
	(void)state;
	struct fleet_task_ref t[] = {{"n2", "web", true}};
	struct fleet_view v = view(t, 1);
	struct fleet_route r;
	fleet_route(FLEET_ACT, NULL, NULL, NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_NEED_NODE);
	assert_int_equal(r.ntargets, 0);
	fleet_route(FLEET_ACT, NULL, "n2", NULL, "n1", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_int_equal(r.ntargets, 1);
	assert_string_equal(r.targets[0], "n2");
	static const char *const me[] = {"solo"};
	struct fleet_view one = {me, 1, NULL, 0};
	fleet_route(FLEET_ACT, NULL, NULL, NULL, "solo", &one, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_string_equal(r.targets[0], "solo");
}

static void a_fleet_of_one_sends_everything_home(void **state)
{
	(void)state;
	static const char *const me[] = {"solo"};
	struct fleet_view v = {me, 1, NULL, 0};
	struct fleet_route r;
	fleet_route(FLEET_ACT, "ghost", NULL, NULL, "solo", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	assert_string_equal(r.targets[0], "solo");
	fleet_route(FLEET_STATUS, NULL, NULL, NULL, "solo", &v, &r);
	assert_int_equal(r.kind, FLEET_FORWARD);
	fleet_route(FLEET_ACT, "x", "other", NULL, "solo", &v, &r);
	assert_string_equal(r.targets[0], "other");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(targeted_goes_there),
		cmocka_unit_test(start_is_placed_once_and_stably),
		cmocka_unit_test(start_of_a_running_name_is_already_running),
		cmocka_unit_test(stop_goes_where_the_task_lives),
		cmocka_unit_test(a_fleet_of_one_sends_everything_home),
		cmocka_unit_test(a_pm_id_needs_its_node),
	};
	UNIT_RUN("test_fleet_route", tests);
}
