/*
 * job_plan: the graph of a job datum (docs/protocol.md, "Jobs"), pure: no
 * IO, no clock. It checks the steps as a graph (duplicate names, unknown
 * dependencies, cycles, task names), orders them in levels (steps of one
 * level may run side by side), selects from_step/to_step, and decides what
 * becomes of a step once the steps it waits for have ended. The runner
 * (exec_job_run.c) keeps the states; this module only reads them.
 */
#ifndef TASKER_JOB_PLAN_H
#define TASKER_JOB_PLAN_H

#include <stdbool.h>
#include <stddef.h>

#include <cjson/cJSON.h>

#include "datum_toml.h"

/* A step's state in a run (the names are the job state record's). */
enum job_state {
	JS_PENDING,
	JS_RUNNING,
	JS_SUCCEEDED,
	JS_FAILED,
	JS_SKIPPED,
	JS_TIMED_OUT,
	JS_STOPPED,
};

struct job_plan {
	size_t n;	/* steps, in file order */
	size_t **deps;	/* deps[i]: the steps step i waits for (indices) */
	size_t *ndeps;
	int *level;	/* 0: waits for nothing */
	int nlevels;
	bool *selected; /* within from_step/to_step */
	char **task;	/* the PM2 task name each step runs as */
	char **rb_task; /* the same for the rollback steps */
	size_t nrb;
};

/*
 * Builds the plan of def for the job named job (its datum name, without
 * ".job"), from and to: from_step and to_step, or NULL. Returns 0, or -1
 * with a sentence in err (a cycle names the steps in it).
 *
 * Dependencies: depends_on as written; in sequential mode each step also
 * waits for the one before it in the file; on_previous waits for the step
 * before it; on_failure without depends_on waits for every step before it.
 * Selection: from_step and the steps that depend on it (transitively),
 * and/or to_step and the steps it depends on; a step left out counts as
 * done for those that wait for it.
 */
int job_plan_build(const struct job_def *def, const char *job, const char *from, const char *to,
		   struct job_plan *out, char *err, size_t errlen);
void job_plan_free(struct job_plan *p);

/* The task name a step runs as: "job.<job>.<step>", or for a rollback step
 * "job.<job>.rollback.<step>", bytes other than letters, digits, '.', '_'
 * and '-' replaced by '_'. NULL when it is no valid task name (too long);
 * else malloc'd, the caller frees. */
char *job_task_name(const char *job, const char *step, bool rollback);

enum job_decision { JOB_WAIT, JOB_RUN, JOB_SKIP };
/*
 * What becomes of pending step i given the states of all steps: WAIT while
 * a step it waits for has not ended; then by its condition.when: always
 * runs; on_failure runs when one it waits for failed or timed out;
 * on_previous when the step before it succeeded; on_success (the default)
 * when all it waits for succeeded (or were left out of the selection), or,
 * with continue_on_failure, once they have ended at all. A step not
 * selected is SKIP.
 */
enum job_decision job_plan_decide(const struct job_def *def, const struct job_plan *p,
				  const enum job_state *states, size_t i);

/* "pending", "running", ... as the state record writes them. */
const char *job_state_name(enum job_state s);
const char *job_mode_name(enum job_mode m);
const char *job_when_name(enum job_when w);

/* The plan as JSON (the content of a plan_response): job, mode, levels
 * (arrays of step names), steps (name, kind, depends_on, level, when,
 * task, selected), rollback (name, kind, task). The caller owns it. */
cJSON *job_plan_json(const struct job_def *def, const struct job_plan *p, const char *job);

#endif
