/*
 * Unit tests for pm2_view: what each process event does to the table, that
 * a name in flux is said to be uncertain, and that a listing merged late
 * never undoes what the view learnt while it was on its way (nor brings
 * back a process deleted meanwhile), while everything else takes the
 * listing's word.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "pm2_view.h"

/* An event as pm2_event_parse would give it; payload may be NULL. */
static struct pm2_event ev(const char *event, int pm_id, const char *name, const char *status,
                           const cJSON *payload)
{
	return (struct pm2_event){.kind = PM2_EV_PROCESS,
	                          .name = "process:event",
	                          .event = event,
	                          .pm_id = pm_id,
	                          .process_name = name,
	                          .namespace = "default",
	                          .status = status,
	                          .data = "",
	                          .payload = payload};
}

static char s_api[] = "api", s_job[] = "job", s_online[] = "online", s_stopped[] = "stopped";

static struct pm2_proc proc(int id, char *name, char *status)
{
	return (struct pm2_proc){
	    .pm_id = id, .name = name, .status = status, .state = pm2_status_parse(status)};
}

/* The state of the only process named name; PM2_ST_UNKNOWN when there is
 * not exactly one. */
static enum pm2_status only(struct pm2_view *v, const char *name, bool *uncertain)
{
	struct pm2_proc p[4];
	size_t n = pm2_view_find(v, name, p, 4, uncertain);
	return n == 1 ? p[0].state : PM2_ST_UNKNOWN;
}

static void events_follow_a_life(void **state)
{
	(void)state;
	struct pm2_view *v = pm2_view_new();
	bool unc;
	struct pm2_event e = ev("online", 3, "api", "launching", NULL);
	pm2_view_event(v, &e);
	assert_int_equal(only(v, "api", &unc), PM2_ST_ONLINE); /* said launching: online */
	assert_false(unc);
	e = ev("exit", 3, "api", "stopping", NULL);
	pm2_view_event(v, &e);
	assert_int_equal(only(v, "api", &unc), PM2_ST_STOPPING);
	assert_false(unc);
	e = ev("exit", 3, "api", "stopped", NULL);
	pm2_view_event(v, &e);
	assert_int_equal(only(v, "api", &unc), PM2_ST_STOPPED);
	assert_false(unc); /* the second half of a stop */
	assert_int_equal(pm2_view_count(v), 1);
	pm2_view_free(v);
}

static void a_lone_exit_is_in_flux(void **state)
{
	(void)state;
	struct pm2_view *v = pm2_view_new();
	bool unc;
	struct pm2_event e = ev("online", 1, "job", "online", NULL);
	pm2_view_event(v, &e);
	e = ev("exit", 1, "job", "stopped", NULL);
	pm2_view_event(v, &e);
	only(v, "job", &unc);
	assert_true(unc); /* PM2 may be restarting it */
	e = ev("online", 1, "job", "launching", NULL);
	pm2_view_event(v, &e);
	assert_int_equal(only(v, "job", &unc), PM2_ST_ONLINE);
	assert_false(unc);
	/* autorestart false: it stays stopped, for sure. */
	cJSON *payload = cJSON_Parse("{\"process\":{\"autorestart\":false}}");
	e = ev("exit", 1, "job", "stopped", payload);
	pm2_view_event(v, &e);
	assert_int_equal(only(v, "job", &unc), PM2_ST_STOPPED);
	assert_false(unc);
	cJSON_Delete(payload);
	/* A delete announced (the process may go any moment), a made-up name. */
	e = ev("delete", 1, "job", "stopped", NULL);
	pm2_view_event(v, &e);
	only(v, "job", &unc);
	assert_true(unc);
	pm2_view_free(v);
}

static void garbage_events_are_ignored(void **state)
{
	(void)state;
	struct pm2_view *v = pm2_view_new();
	struct pm2_event e = ev("online", -1, "x", "online", NULL);
	pm2_view_event(v, &e);
	e = ev("online", 2, "", "online", NULL);
	pm2_view_event(v, &e);
	e = ev("online", 2, "x", "online", NULL);
	e.kind = PM2_EV_LOG_OUT;
	pm2_view_event(v, &e);
	assert_int_equal(pm2_view_count(v), 0);
	pm2_view_free(v);
}

static void answers_set_and_delete(void **state)
{
	(void)state;
	struct pm2_view *v = pm2_view_new();
	bool unc;
	pm2_view_set(v, 7, "api", PM2_ST_ONLINE, 4242);
	struct pm2_proc p[2];
	assert_int_equal(pm2_view_find(v, "api", p, 2, &unc), 1);
	assert_int_equal(p[0].pm_id, 7);
	assert_int_equal(p[0].pid, 4242);
	assert_string_equal(p[0].status, "online");
	pm2_view_gone(v, 7);
	assert_int_equal(pm2_view_find(v, "api", p, 2, &unc), 0);
	assert_int_equal(pm2_view_count(v), 0);
	/* PM2 gives the id to a new process once its last one is gone. */
	pm2_view_set(v, 7, "job", PM2_ST_ONLINE, 1);
	assert_int_equal(pm2_view_find(v, "api", p, 2, &unc), 0);
	assert_int_equal(pm2_view_find(v, "job", p, 2, &unc), 1);
	pm2_view_free(v);
}

static void a_late_listing_does_not_undo(void **state)
{
	(void)state;
	struct pm2_view *v = pm2_view_new();
	bool unc;
	struct pm2_proc l1[] = {proc(0, s_api, s_online), proc(1, s_job, s_online)};
	pm2_view_listed(v, l1, 2, pm2_view_seq(v));
	assert_int_equal(pm2_view_count(v), 2);

	/* A listing is requested; meanwhile job is stopped (answer) and a new
	 * api instance starts (event); the listing saw neither. */
	uint64_t since = pm2_view_seq(v);
	pm2_view_set(v, 1, "job", PM2_ST_STOPPED, 0);
	struct pm2_event e = ev("online", 2, "api", "online", NULL);
	pm2_view_event(v, &e);
	pm2_view_listed(v, l1, 2, since);
	assert_int_equal(only(v, "job", &unc), PM2_ST_STOPPED);
	struct pm2_proc p[4];
	assert_int_equal(pm2_view_find(v, "api", p, 4, &unc), 2);

	/* Deleted while a listing that still had it was on its way: it stays
	 * gone. */
	since = pm2_view_seq(v);
	pm2_view_gone(v, 1);
	struct pm2_proc l2[] = {proc(0, s_api, s_online), proc(1, s_job, s_stopped),
	                        proc(2, s_api, s_online)};
	pm2_view_listed(v, l2, 3, since);
	assert_int_equal(pm2_view_find(v, "job", p, 4, &unc), 0);

	/* A listing asked for after all that has the last word: job is
	 * back (someone started it again), api 2 is gone (deleted behind our
	 * back: no event says so). */
	struct pm2_proc l3[] = {proc(0, s_api, s_online), proc(5, s_job, s_online)};
	pm2_view_listed(v, l3, 2, pm2_view_seq(v));
	assert_int_equal(pm2_view_find(v, "api", p, 4, &unc), 1);
	assert_int_equal(only(v, "job", &unc), PM2_ST_ONLINE);
	assert_int_equal(pm2_view_count(v), 2);
	pm2_view_free(v);
}

static void a_listing_clears_flux(void **state)
{
	(void)state;
	struct pm2_view *v = pm2_view_new();
	bool unc;
	struct pm2_event e = ev("exit", 0, "api", "stopped", NULL);
	pm2_view_event(v, &e);
	only(v, "api", &unc);
	assert_true(unc);
	struct pm2_proc l[] = {proc(0, s_api, s_online)};
	pm2_view_listed(v, l, 1, pm2_view_seq(v));
	assert_int_equal(only(v, "api", &unc), PM2_ST_ONLINE);
	assert_false(unc);
	pm2_view_free(v);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(events_follow_a_life),
	    cmocka_unit_test(a_lone_exit_is_in_flux),
	    cmocka_unit_test(garbage_events_are_ignored),
	    cmocka_unit_test(answers_set_and_delete),
	    cmocka_unit_test(a_late_listing_does_not_undo),
	    cmocka_unit_test(a_listing_clears_flux),
	};
	UNIT_RUN("test_pm2_view", tests);
}
