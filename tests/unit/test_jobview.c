/*
 * Unit tests for the pure parts of the console's job and result views
 * (tui/jobview.c job_rec_parse, tui/resultview.c result_summarize): records
 * from Redis are untrusted, so every malformed shape must come back as an
 * error line, and every text escaped.
 */
#include "unit.h"

#include <locale.h>
#include <stdlib.h>
#include <string.h>

#include "jobview.h"
#include "resultview.h"

static void parse(const char *name, const char *json, struct job_rec *r)
{
	job_rec_parse(name, json, json ? strlen(json) : 0, r);
}

static void job_good(void **state)
{
	(void)state;
	struct job_rec r;
	parse(
	    "build",
	    "{\"job\":\"build\",\"status\":\"running\",\"mode\":\"dag\",\"run_id\":\"r1\","
	    "\"started_ms\":1000,\"steps\":["
	    "{\"name\":\"c\",\"state\":\"pending\",\"level\":2,\"depends_on\":[\"a\",\"b\"]},"
	    "{\"name\":\"a\",\"state\":\"succeeded\",\"level\":0,\"attempt\":1,\"started_ms\":1000,"
	    "\"ended_ms\":2500,\"exit_code\":0},"
	    "{\"name\":\"b\",\"state\":\"failed\",\"level\":1,\"exit_code\":3}],"
	    "\"rollback\":[{\"name\":\"undo\",\"state\":\"running\",\"level\":0}]}",
	    &r);
	assert_true(r.ok);
	assert_string_equal(r.status, "running");
	assert_string_equal(r.mode, "dag");
	assert_int_equal(r.nsteps, 4);
	assert_string_equal(r.steps[0].name, "a");
	assert_string_equal(r.steps[1].name, "b");
	assert_string_equal(r.steps[2].name, "c");
	assert_string_equal(r.steps[2].deps, "a,b");
	assert_string_equal(r.steps[3].name, "undo");
	assert_true(r.steps[3].rollback);
	assert_true(r.steps[1].has_exit);
	assert_int_equal(r.steps[1].exit_code, 3);
	assert_int_equal(r.steps[0].ended_ms - r.steps[0].started_ms, 1500);
	job_rec_free(&r);
}

static void job_bad(void **state)
{
	(void)state;
	struct job_rec r;
	const char *bad[] = {
	    NULL, "", "not json{", "[]", "5", "null", "{}", "{\"steps\":5}", "{\"steps\":{}}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		parse("x", bad[i], &r);
		if (r.ok)
			fail_msg("record %zu (%s) was read", i, bad[i] ? bad[i] : "NULL");
		assert_true(r.err[0] != '\0');
		job_rec_free(&r);
	}
	/* Wrong types inside: kept readable, nothing trusted. */
	parse(
	    "x\x1b[2J",
	    "{\"status\":7,\"steps\":[7,null,\"s\",{\"name\":\"\\u001b]0;t\\u0007\",\"state\":[1],"
	    "\"level\":\"deep\",\"attempt\":1e300,\"started_ms\":-5,\"depends_on\":[1,null,\"ok\"]}"
	    "]}",
	    &r);
	assert_true(r.ok);
	assert_string_equal(r.name, "x\\x1b[2J");
	assert_string_equal(r.status, "?");
	assert_int_equal(r.nsteps, 1);
	assert_string_equal(r.steps[0].name, "\\x1b]0;t\\x07");
	assert_string_equal(r.steps[0].state, "?");
	assert_int_equal(r.steps[0].level, -1);
	assert_int_equal(r.steps[0].attempt, 0);
	assert_int_equal(r.steps[0].started_ms, 0);
	assert_string_equal(r.steps[0].deps, "ok");
	job_rec_free(&r);
}

static void result_lines(void **state)
{
	(void)state;
	struct result_summary s;
	const char *ok = "{\"exit_code\":0,\"start_time\":\"2026-12-01T10:00:00.000Z\","
	                 "\"end_time\":\"2026-12-01T10:00:02.500Z\",\"duration_ms\":2500,"
	                 "\"out\":[\"1\",\"2\",\"3\",\"4\",\"5\"],\"err\":[\"e\\u001b\"]}";
	result_summarize(ok, strlen(ok), &s);
	assert_true(s.ok);
	assert_false(s.failed);
	assert_string_equal(s.head, "exit 0 (ok), 10:00:00 -> 10:00:02 UTC, took 2.5s");
	assert_int_equal(s.nlines, 5);
	assert_string_equal(s.lines[0], "out| 2");
	assert_string_equal(s.lines[3], "out| 5");
	assert_string_equal(s.lines[4], "err| e\\x1b");
	const char *sig = "{\"exit_code\":null,\"signal\":\"SIGKILL\"}";
	result_summarize(sig, strlen(sig), &s);
	assert_true(s.ok);
	assert_true(s.failed);
	assert_non_null(strstr(s.head, "ended by SIGKILL"));
	const char *bad[] = {"", "{", "[]", "{}", "{\"exit_code\":\"3\"}", "{\"exit_code\":1e300}"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		result_summarize(bad[i], strlen(bad[i]), &s);
		if (s.ok)
			fail_msg("result %zu (%s) was read", i, bad[i]);
		assert_true(s.err[0] != '\0');
	}
}

/* The STEP column is cut and padded by terminal columns, never mid-character. */
static void step_columns(void **state)
{
	(void)state;
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
	struct job_step_row r;
	memset(&r, 0, sizeof(r));
	snprintf(r.state, sizeof(r.state), "failed");
	r.level = 0;
	char buf[400];
	/* 12 wide characters, 24 columns: 9 of them, "…" and one blank. */
	snprintf(r.name, sizeof(r.name), "名前名前名前名前名前名前");
	job_step_line(&r, "1.0s", buf, sizeof(buf));
	if (strstr(buf, "0   名前名前名前名前名…  failed ") == NULL)
		fail_msg("wide name: \"%s\"", buf);
	/* 15 two-byte characters, 15 columns: whole, padded with 5 blanks. */
	snprintf(r.name, sizeof(r.name), "ééééééééééééééé");
	job_step_line(&r, "1.0s", buf, sizeof(buf));
	if (strstr(buf, "0   ééééééééééééééé      failed ") == NULL)
		fail_msg("two-byte name: \"%s\"", buf);
	snprintf(r.name, sizeof(r.name), "ab");
	job_step_line(&r, "1.0s", buf, sizeof(buf));
	if (strstr(buf, "0   ab                   failed ") == NULL)
		fail_msg("short name: \"%s\"", buf);
	char small[8];
	job_fit_pad("名前名前", 20, small, sizeof(small));
	assert_true(strlen(small) < sizeof(small)); /* cut to the buffer, whole characters */
	assert_true(mbstowcs(NULL, small, 0) != (size_t)-1); /* valid UTF-8 */
}

/* The job list's top follows the selection. */
static void list_scrolls(void **state)
{
	(void)state;
	assert_int_equal(job_list_top(0, 0, 100, 10), 0);
	assert_int_equal(job_list_top(0, 9, 100, 10), 0);
	assert_int_equal(job_list_top(0, 10, 100, 10), 1);   /* one past the bottom */
	assert_int_equal(job_list_top(0, 57, 100, 10), 48);  /* far below */
	assert_int_equal(job_list_top(48, 50, 100, 10), 48); /* on screen: stays */
	assert_int_equal(job_list_top(48, 20, 100, 10), 20); /* above */
	assert_int_equal(job_list_top(95, 99, 100, 10), 90); /* never past the last page */
	assert_int_equal(job_list_top(7, 2, 5, 10), 0);      /* all fit */
	assert_int_equal(job_list_top(3, -1, 5, 10), 0);
	assert_int_equal(job_list_top(0, 3, 10, 0), 3);      /* no rows: one */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(job_good),
	    cmocka_unit_test(job_bad),
	    cmocka_unit_test(step_columns),
	    cmocka_unit_test(list_scrolls),
	    cmocka_unit_test(result_lines),
	};
	UNIT_RUN("jobview", tests);
}
