/*
 * exec_job_int: what the job files share (docs/protocol.md, "Jobs").
 * exec_job.c serves the b00t:job channel (a command until its reply: who
 * sent it, the fleet rule, the policy, the actions plan, status, list and
 * the checks before a run); exec_job_run.c runs a job's steps as one-shot
 * PM2 tasks and keeps its state record. Only the executor's files include
 * this.
 */
#ifndef TASKER_EXEC_JOB_INT_H
#define TASKER_EXEC_JOB_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "datum_toml.h"
#include "executor_int.h"
#include "job_plan.h"

#define JOB_STATE_PREFIX "b00t:{tasker}:job:"
#define JOB_CLAIM_PREFIX "b00t:{tasker}:jobclaim:"
#define JOB_CLAIM_MS 600000 /* a claim outlives any resend of the command */
/* A job runs on one node at a time: its run holds this key (value "node
 * run_id"), refreshed while it runs, taken back when it ends. */
#define JOB_LOCK_PREFIX "b00t:{tasker}:jobrun:"
#define JOB_LOCK_MS 15000
#define JOB_STATE_TTL_S (7 * 24 * 3600)
#define JOB_MAX_RUNS 64 /* runs kept in memory (the finished ones are dropped first) */
#define JOB_MAX_ENV 64	/* env_* params of one command */
#define JOB_LIST_MAX 200 /* job datums a list reads */
#define JOB_WATCH_MS 3000 /* how often running steps are compared with the view */

enum job_run_status { RUN_RUNNING, RUN_COMPLETED, RUN_FAILED, RUN_STOPPED };

struct job_step_run {
	enum job_state state;
	int attempt; /* 1 for the first run; more with retry_failed_steps */
	int64_t started_ms, ended_ms;
	bool has_code;
	long exit_code;
	char signal[24];
	char error[300];    /* why it failed before it ran (a refused start) */
	bool timed_out;     /* its timeout_ms passed: it is being stopped */
	bool stop_sent;
	bool stop_again;    /* its stop was not carried out: the watch sends it again */
	struct loop_timer *timeout;
	void *timeout_ticket; /* the timer's argument, freed when it is cancelled */
	bool confirmed;	      /* its start was answered started */
	int idle_polls;	      /* watch passes that found its task not running */
	bool checking;	      /* its stored result is being read (the watch) */
};

/* Who asked for a run: the steps' starts are judged with this identity. */
struct job_who {
	bool is_signed;
	char agent[72];
	char key[SIG_PUBLIC_TEXT];
};

struct job_run {
	struct executor *ex;
	struct job_run *next;
	char *job; /* the job's name (its datum is <job>.job) */
	char *run_id, *request_id, *agent_id;
	struct job_who who;
	struct job_def def;
	struct job_plan plan;
	struct job_step_run *steps; /* plan.n */
	struct job_step_run *rb;    /* def.nrollback */
	size_t rb_next;		    /* the rollback step running or next */
	bool rolling_back;
	bool stopping;
	bool stop_replied;
	char *stop_request_id, *stop_agent_id; /* who asked for the stop */
	enum job_run_status status;
	int64_t started_ms, ended_ms;
	struct slash_param *env; /* env_* params of the command (key without env_) */
	size_t nenv;
	struct loop_timer *kick;
	struct loop_timer *watch; /* every JOB_WATCH_MS: a step whose end was missed */
	int tickets; /* commands and timers that point at it: it is not freed before 0 */
	char *lock;  /* the value it holds JOB_LOCK_PREFIX<job> with, or NULL */
};

struct exec_jobs {
	struct job_run *runs; /* newest first */
	size_t nruns;
};

/* exec_job.c */
/* Publishes a job_status reply on EXEC_JOB_STATUS_CHANNEL: params status and
 * job_name, content (text or JSON text), agent_id (or "job-orchestrator"). */
void job_reply(struct executor *ex, const char *status, const char *job, const char *content,
	       const char *agent_id, const char *request_id);

/* The run's lock (JOB_LOCK_PREFIX): kept alive (every watch), and taken
 * back when the run ends (only if it still holds it). */
void job_lock_refresh(struct job_run *run);
void job_lock_release(struct job_run *run);

/* exec_job_run.c */
/* Builds the start of step (rollback: a rollback step) of run as a normal
 * start is built: envelope, datum, check_start, the policy with run's
 * identity, the PM2 app. 0 with *spec, *conf and *auth (owned by the
 * caller), or -1 with a sentence in err. Used before a run (every step
 * checked) and at each launch. */
int job_step_start(struct executor *ex, const struct job_run *run, size_t i, bool rollback,
		   struct start_spec **spec, cJSON **conf, struct exec_auth_req **auth, char *err,
		   size_t errlen);
/* Starts run (registered already): its first steps, its state record. */
void job_run_begin(struct job_run *run);
/* Stops run's running steps; the stopped reply once they are. */
void job_run_stop(struct job_run *run, const char *request_id, const char *agent_id);
/* The state record (notes/jobstate.md); the caller owns it. */
cJSON *job_run_state(const struct job_run *run);
void job_run_free(struct job_run *run);

#endif
