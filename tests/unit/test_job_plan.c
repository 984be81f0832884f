/*
 * Unit tests for core/job_plan.c (and the job half of core/datum_toml.cpp):
 * a job datum read with its types; the graph checked (duplicates, unknown
 * dependencies, cycles named, task names); levels for dag, sequential and
 * parallel modes; from_step/to_step; and what becomes of a step once those
 * it waits for have ended (conditions, continue_on_failure).
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "datum_toml.h"
#include "job_plan.h"

static int load(const char *text, struct job_def *d, char *err, size_t errlen)
{
	err[0] = '\0';
	return job_toml_load_text(text, strlen(text), "t.job.toml", d, err, errlen);
}

/* A step with name, depends_on (a TOML array, or ""), when (or NULL). */
static char *step(char *buf, size_t len, const char *name, const char *deps, const char *when)
{
	char d[100] = "", w[100] = "";
	if (deps[0] != '\0')
		snprintf(d, sizeof(d), "depends_on = %s\n", deps);
	if (when != NULL)
		snprintf(w, sizeof(w), "condition = { when = \"%s\" }\n", when);
	snprintf(buf, len,
		 "[[b00t.job.steps]]\nname = \"%s\"\n%s%s[b00t.job.steps.task]\ntype = "
		 "\"bash\"\ncommand = \"true\"\n",
		 name, d, w);
	return buf;
}

static const char diamond[] =
	"[b00t]\nname = \"diamond\"\ntype = \"job\"\n[b00t.job]\ndescription = \"d\"\n"
	"[b00t.job.config]\nmode = \"dag\"\nretry_failed_steps = 2\n"
	"[[b00t.job.steps]]\nname = \"a\"\n[b00t.job.steps.task]\ntype = \"bash\"\n"
	"command = \"echo a\"\ntimeout_ms = 500\ncwd = \"w\"\nenv = { X = \"1\" }\n"
	"[[b00t.job.steps]]\nname = \"b\"\ndepends_on = [\"a\"]\n[b00t.job.steps.task]\n"
	"type = \"bash\"\ncommand = \"echo b\"\n"
	"[[b00t.job.steps]]\nname = \"c\"\ndepends_on = [\"a\"]\n[b00t.job.steps.task]\n"
	"type = \"datum\"\ndatum = \"x.cli\"\nargs = [\"1\", \"2\"]\n"
	"[[b00t.job.steps]]\nname = \"d\"\ndepends_on = [\"b\", \"c\"]\n"
	"[b00t.job.steps.task]\ntype = \"bash\"\ncommand = \"echo d\"\n"
	"[[b00t.job.steps]]\nname = \"e\"\n[b00t.job.steps.task]\ntype = \"bash\"\n"
	"command = \"echo e\"\n"
	"[[b00t.job.rollback]]\nname = \"undo\"\n[b00t.job.rollback.task]\ntype = \"bash\"\n"
	"command = \"echo undo\"\n";

static void reads_a_job(void **state)
{
	(void)state;
	struct job_def d;
	char err[400];
	if (load(diamond, &d, err, sizeof(err)) != 0)
		fail_msg("load: %s", err);
	assert_string_equal(d.name, "diamond");
	assert_string_equal(d.description, "d");
	assert_int_equal(d.mode, JOB_MODE_DAG);
	assert_int_equal(d.retry_failed_steps, 2);
	assert_int_equal(d.nsteps, 5);
	assert_int_equal(d.nrollback, 1);
	assert_int_equal(d.steps[0].kind, JOB_STEP_BASH);
	assert_string_equal(d.steps[0].command, "echo a");
	assert_string_equal(d.steps[0].cwd, "w");
	assert_int_equal(d.steps[0].timeout_ms, 500);
	assert_int_equal(d.steps[0].nenv, 1);
	assert_int_equal(d.steps[2].kind, JOB_STEP_DATUM);
	assert_string_equal(d.steps[2].datum, "x.cli");
	assert_int_equal(d.steps[2].nargs, 2);
	assert_int_equal(d.steps[3].ndeps, 2);
	assert_string_equal(d.rollback[0].name, "undo");
	job_def_free(&d);
	job_def_free(&d);
}

static void refuses_bad_files(void **state)
{
	(void)state;
	struct job_def d;
	char err[400];
	static const struct {
		const char *text, *want;
	} cases[] = {
		{"[b00t]\ntype = \"job\"\n[[b00t.job.steps]]\nname = \"x\"\n[b00t.job.steps.task]\n"
		 "type = \"agent\"\n",
		 "t.job.toml:6:8: b00t.job.steps[0] 'x': task type 'agent' is not run by tasker"},
		{"[b00t]\ntype = \"cli\"\n", "b00t.type is 'cli', not job"},
		{"[b00t]\ntype = \"job\"\n", "no [b00t.job] table"},
		{"[b00t]\n[b00t.job]\n", "b00t.job has no steps"},
		{"[b00t]\n[b00t.job.config]\nmode = \"chaos\"\n", "mode must be sequential, parallel or dag"},
		{"[b00t]\n[b00t.job.config]\nretry_failed_steps = 99\n", "from 0 to 10"},
		{"[b00t]\n[[b00t.job.steps]]\nname = 3\n", "name must be a string"},
		{"[b00t]\n[[b00t.job.steps]]\nname = \"x\"\n", "'x' has no task"},
		{"[b00t]\n[[b00t.job.steps]]\nname = \"x\"\n[b00t.job.steps.task]\ntype = \"bash\"\n",
		 "has no command"},
		{"[b00t]\n[[b00t.job.steps]]\nname = \"x\"\ncondition = { when = \"later\" }\n"
		 "[b00t.job.steps.task]\ntype = \"bash\"\ncommand = \"true\"\n",
		 "condition.when must be always"},
		{"[b00t]\n[[b00t.job.steps]]\nname = \"x\"\n[b00t.job.steps.task]\ntype = \"bash\"\n"
		 "command = \"true\"\ntimeout_ms = 0\n",
		 "timeout_ms must be from 1"},
		{"[b00t]\nx = [\n", "t.job.toml:2:"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (load(cases[i].text, &d, err, sizeof(err)) == 0)
			fail_msg("case %zu loaded", i);
		if (strstr(err, cases[i].want) == NULL)
			fail_msg("case %zu: got \"%s\", want \"%s\"", i, err, cases[i].want);
		assert_int_equal(d.nsteps, 0);
		assert_null(d.steps);
	}
}

/* Builds a plan from steps text (after a header with mode). */
static int plan_of(const char *mode, const char *steps, const char *from, const char *to,
		   struct job_def *d, struct job_plan *p, char *err, size_t errlen)
{
	char text[4096];
	snprintf(text, sizeof(text), "[b00t]\n[b00t.job.config]\nmode = \"%s\"\n%s", mode, steps);
	if (load(text, d, err, errlen) != 0)
		fail_msg("load: %s", err);
	return job_plan_build(d, "j", from, to, p, err, errlen);
}

static void levels(void **state)
{
	(void)state;
	struct job_def d;
	struct job_plan p;
	char err[400];
	if (load(diamond, &d, err, sizeof(err)) != 0 ||
	    job_plan_build(&d, "diamond", NULL, NULL, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	int want[] = {0, 1, 1, 2, 0};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(p.level[i], want[i]);
	assert_int_equal(p.nlevels, 3);
	assert_string_equal(p.task[3], "job.diamond.d");
	assert_string_equal(p.rb_task[0], "job.diamond.rollback.undo");
	cJSON *j = job_plan_json(&d, &p, "diamond");
	char *s = cJSON_PrintUnformatted(cJSON_GetObjectItem(j, "levels"));
	assert_string_equal(s, "[[\"a\",\"e\"],[\"b\",\"c\"],[\"d\"]]");
	free(s);
	cJSON_Delete(j);
	job_plan_free(&p);
	/* from_step b: b and d; to_step c: a and c; both: nothing in common
	 * but... from a to d: a, b, c, d (not e). */
	if (job_plan_build(&d, "diamond", "b", NULL, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	bool sel_b[] = {false, true, false, true, false};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(p.selected[i], sel_b[i]);
	job_plan_free(&p);
	if (job_plan_build(&d, "diamond", NULL, "c", &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	bool sel_c[] = {true, false, true, false, false};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(p.selected[i], sel_c[i]);
	job_plan_free(&p);
	if (job_plan_build(&d, "diamond", "a", "d", &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	bool sel_ad[] = {true, true, true, true, false};
	for (size_t i = 0; i < 5; i++)
		assert_int_equal(p.selected[i], sel_ad[i]);
	job_plan_free(&p);
	assert_int_equal(job_plan_build(&d, "diamond", "zz", NULL, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "from_step 'zz' is no step"));
	assert_int_equal(job_plan_build(&d, "diamond", "b", "c", &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no step is both"));
	job_def_free(&d);

	/* sequential: a chain in file order; parallel: all at once. */
	char s1[300], s2[300], s3[300], all[1000];
	snprintf(all, sizeof(all), "%s%s%s", step(s1, sizeof(s1), "x", "", NULL),
		 step(s2, sizeof(s2), "y", "", NULL), step(s3, sizeof(s3), "z", "", NULL));
	if (plan_of("sequential", all, NULL, NULL, &d, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(p.level[2], 2);
	job_plan_free(&p);
	job_def_free(&d);
	if (plan_of("parallel", all, NULL, NULL, &d, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	assert_int_equal(p.nlevels, 1);
	job_plan_free(&p);
	job_def_free(&d);
}

static void graph_errors(void **state)
{
	(void)state;
	struct job_def d;
	struct job_plan p;
	char err[400];
	char s1[300], s2[300], s3[300], all[1000];
	snprintf(all, sizeof(all), "%s%s%s", step(s1, sizeof(s1), "x", "[\"z\"]", NULL),
		 step(s2, sizeof(s2), "y", "[\"x\"]", NULL), step(s3, sizeof(s3), "z", "[\"y\"]", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_string_equal(err, "the steps wait for each other in a cycle: x waits for z waits "
				 "for y waits for x; nothing was run");
	job_def_free(&d);
	/* A step behind a cycle is not named as part of it. */
	snprintf(all, sizeof(all), "%s%s%s", step(s1, sizeof(s1), "w", "[\"x\"]", NULL),
		 step(s2, sizeof(s2), "x", "[\"y\"]", NULL), step(s3, sizeof(s3), "y", "[\"x\"]", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x waits for y waits for x"));
	assert_null(strstr(err, "w waits"));
	job_def_free(&d);
	snprintf(all, sizeof(all), "%s", step(s1, sizeof(s1), "x", "[\"x\"]", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "x waits for itself"));
	job_def_free(&d);
	snprintf(all, sizeof(all), "%s", step(s1, sizeof(s1), "x", "[\"nope\"]", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "step x depends on 'nope', which is no step of this job"));
	job_def_free(&d);
	snprintf(all, sizeof(all), "%s%s", step(s1, sizeof(s1), "x", "", NULL),
		 step(s2, sizeof(s2), "x", "", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "two steps are named 'x'"));
	job_def_free(&d);
	/* sequential: a dependency on a later step is a cycle with the chain. */
	snprintf(all, sizeof(all), "%s%s", step(s1, sizeof(s1), "x", "[\"y\"]", NULL),
		 step(s2, sizeof(s2), "y", "", NULL));
	assert_int_equal(plan_of("sequential", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "cycle"));
	job_def_free(&d);
	/* A task name over 64 characters. */
	char longname[80];
	memset(longname, 'n', 70);
	longname[70] = '\0';
	snprintf(all, sizeof(all), "%s", step(s1, sizeof(s1), longname, "", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "would be no valid task name"));
	job_def_free(&d);
	/* Two names, one task: "a b" and "a_b" both run as job.J.a_b. */
	snprintf(all, sizeof(all), "%s%s", step(s1, sizeof(s1), "a b", "", NULL),
		 step(s2, sizeof(s2), "a_b", "", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "two steps would run as one task job.j.a_b ('a b' and 'a_b')"));
	job_def_free(&d);
	/* A step "rollback.x" beside a rollback step "x". */
	snprintf(all, sizeof(all),
		 "%s[[b00t.job.rollback]]\nname = \"x\"\n[b00t.job.rollback.task]\ntype = "
		 "\"bash\"\ncommand = \"true\"\n",
		 step(s1, sizeof(s1), "rollback.x", "", NULL));
	assert_int_equal(plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "would run as one task job.j.rollback.x"));
	job_def_free(&d);
}

static void task_names(void **state)
{
	(void)state;
	char *t = job_task_name("build", "lint js", false);
	assert_string_equal(t, "job.build.lint_js");
	free(t);
	t = job_task_name("build", "undo", true);
	assert_string_equal(t, "job.build.rollback.undo");
	free(t);
}

static void decisions(void **state)
{
	(void)state;
	struct job_def d;
	struct job_plan p;
	char err[400];
	char s1[300], s2[300], s3[300], s4[300], s5[300], all[2000];
	snprintf(all, sizeof(all), "%s%s%s%s%s", step(s1, sizeof(s1), "a", "", NULL),
		 step(s2, sizeof(s2), "ok", "[\"a\"]", NULL),
		 step(s3, sizeof(s3), "always", "[\"a\"]", "always"),
		 step(s4, sizeof(s4), "onfail", "[\"a\"]", "on_failure"),
		 step(s5, sizeof(s5), "prev", "", "on_previous"));
	if (plan_of("dag", all, NULL, NULL, &d, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	enum job_state st[5] = {JS_RUNNING, JS_PENDING, JS_PENDING, JS_PENDING, JS_PENDING};
	assert_int_equal(job_plan_decide(&d, &p, st, 0), JOB_RUN);
	for (size_t i = 1; i < 5; i++)
		assert_int_equal(job_plan_decide(&d, &p, st, i), JOB_WAIT);
	st[0] = JS_SUCCEEDED;
	assert_int_equal(job_plan_decide(&d, &p, st, 1), JOB_RUN);
	assert_int_equal(job_plan_decide(&d, &p, st, 2), JOB_RUN);
	assert_int_equal(job_plan_decide(&d, &p, st, 3), JOB_SKIP);
	/* on_previous waits for the step before it in the file (onfail). */
	assert_int_equal(job_plan_decide(&d, &p, st, 4), JOB_WAIT);
	st[3] = JS_SKIPPED;
	assert_int_equal(job_plan_decide(&d, &p, st, 4), JOB_SKIP);
	st[3] = JS_SUCCEEDED;
	assert_int_equal(job_plan_decide(&d, &p, st, 4), JOB_RUN);
	st[0] = JS_FAILED;
	assert_int_equal(job_plan_decide(&d, &p, st, 1), JOB_SKIP);
	assert_int_equal(job_plan_decide(&d, &p, st, 2), JOB_RUN);
	assert_int_equal(job_plan_decide(&d, &p, st, 3), JOB_RUN);
	st[0] = JS_TIMED_OUT;
	assert_int_equal(job_plan_decide(&d, &p, st, 3), JOB_RUN);
	d.continue_on_failure = true;
	assert_int_equal(job_plan_decide(&d, &p, st, 1), JOB_RUN);
	job_plan_free(&p);
	/* A step left out by from_step counts as done for those after it. */
	if (job_plan_build(&d, "j", "ok", NULL, &p, err, sizeof(err)) != 0)
		fail_msg("%s", err);
	enum job_state st2[5] = {JS_PENDING, JS_PENDING, JS_PENDING, JS_PENDING, JS_PENDING};
	assert_int_equal(job_plan_decide(&d, &p, st2, 0), JOB_SKIP);
	assert_int_equal(job_plan_decide(&d, &p, st2, 1), JOB_RUN);
	job_plan_free(&p);
	job_def_free(&d);
	assert_string_equal(job_state_name(JS_TIMED_OUT), "timed_out");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(reads_a_job), cmocka_unit_test(refuses_bad_files),
	    cmocka_unit_test(levels),	   cmocka_unit_test(graph_errors),
	    cmocka_unit_test(task_names),  cmocka_unit_test(decisions),
	};
	UNIT_RUN("job_plan", tests);
}
