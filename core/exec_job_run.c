/*
 * exec_job_run: a job run (docs/protocol.md, "Jobs"): each step a one-shot
 * PM2 task (autorestart false) started through the same path as any start
 * (check_start, the policy with the sender's identity, the command queue
 * per task name, its task_status reply), its end learnt from its result
 * (exec_result.c), timeouts, retries, conditions and the rollback steps;
 * each step's start and end announced on the status channel (type
 * job_step) and the run's state record rewritten in Redis at every step
 * transition.
 *
 * Must not: block the loop (timers and PM2's answers only), put anything
 * from a message into a step's command line (a bash step runs `bash -c`
 * with the datum's own line; a message gives env values at most), or leave
 * a step running after a stop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "command_check.h"
#include "datum.h"
#include "exec_job_int.h"
#include "exec_result.h"
#include "log.h"
#include "loop.h"
#include "pm2_conf.h"
#include "util.h"

/* A step's start or stop command in flight, or its timeout: counted in
 * run->tickets, so that the run is not freed while one points at it. */
struct ticket {
	struct job_run *run;
	size_t i;
	bool rollback;
	int attempt;
	bool stop; /* a stop command (timeout or job stop) */
};

static void kick(struct job_run *run);

static struct job_step_run *step_of(struct job_run *run, size_t i, bool rollback)
{
	return rollback ? &run->rb[i] : &run->steps[i];
}

static const struct job_step *def_of(const struct job_run *run, size_t i, bool rollback)
{
	return rollback ? &run->def.rollback[i] : &run->def.steps[i];
}

static const char *task_of(const struct job_run *run, size_t i, bool rollback)
{
	return rollback ? run->plan.rb_task[i] : run->plan.task[i];
}

/* --- the start of a step ------------------------------------------------- */

static void add_param(struct envelope *env, const char *key, const char *value)
{
	for (size_t i = 0; i < env->nparams; i++) {
		if (strcmp(env->params[i].key, key) == 0) {
			free(env->params[i].value);
			env->params[i].value = xstrdup(value);
			return;
		}
	}
	env->params = xrealloc(env->params, (env->nparams + 1) * sizeof(*env->params));
	env->kinds = xrealloc(env->kinds, (env->nparams + 1) * sizeof(*env->kinds));
	env->params[env->nparams].key = xstrdup(key);
	env->params[env->nparams].value = xstrdup(value);
	env->kinds[env->nparams] = CODEC_STRING;
	env->nparams++;
}

static void add_env(struct envelope *env, const char *key, const char *value)
{
	char *k = xasprintf("env_%s", key);
	add_param(env, k, value);
	free(k);
}

int job_step_start(struct executor *ex, const struct job_run *run, size_t i, bool rollback,
		   struct start_spec **spec, cJSON **conf, struct exec_auth_req **auth, char *err,
		   size_t errlen)
{
	const struct job_step *s = def_of(run, i, rollback);
	const char *task = task_of(run, i, rollback);
	const char *dir = ex->cfg->datum_dir;
	*spec = NULL;
	*conf = NULL;
	*auth = NULL;
	struct envelope env = {0};
	env.verb = xstrdup("start");
	env.request_id = run->request_id ? xstrdup(run->request_id) : NULL;
	env.agent_id = run->agent_id ? xstrdup(run->agent_id) : NULL;
	add_param(&env, "task", task);
	add_param(&env, "autorestart", "false");
	/* The job's env, then the step's, then the command's env_* params. */
	for (size_t k = 0; k < run->def.nenv; k++)
		add_env(&env, run->def.env[k].key, run->def.env[k].value);
	int rc = -1;
	char why[600];
	if (s->kind == JOB_STEP_BASH) {
		/* The datum's own command line, as one argument of bash -c:
		 * trusted configuration of this host, nothing from a message. */
		add_param(&env, "command", "bash");
		env.args_array = xcalloc(2, sizeof(char *));
		env.args_array[0] = xstrdup("-c");
		env.args_array[1] = xstrdup(s->command);
		env.nargs_array = 2;
		for (size_t k = 0; k < s->nenv; k++)
			add_env(&env, s->env[k].key, s->env[k].value);
		if (s->cwd != NULL && s->cwd[0] != '\0') {
			char *cwd = s->cwd[0] == '/' || dir == NULL ? xstrdup(s->cwd)
								   : xasprintf("%s/%s", dir, s->cwd);
			add_param(&env, "cwd", cwd);
			free(cwd);
		}
		for (size_t k = 0; k < run->nenv; k++)
			add_env(&env, run->env[k].key, run->env[k].value);
	} else {
		for (size_t k = 0; k < run->nenv; k++)
			add_env(&env, run->env[k].key, run->env[k].value);
		add_param(&env, "datum", s->datum);
		if (s->nargs > 0) {
			env.args_array = xcalloc(s->nargs, sizeof(char *));
			for (size_t k = 0; k < s->nargs; k++)
				env.args_array[k] = xstrdup(s->args[k]);
			env.nargs_array = s->nargs;
		}
		/* The datum fills what the step left out (core/datum.c). */
		if (datum_resolve(&env, dir, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "step %.64s: %s", s->name, why);
			goto out;
		}
	}
	*spec = check_start(&env, &ex->start_def, why, sizeof(why));
	if (*spec == NULL) {
		snprintf(err, errlen, "step %.64s: %s", s->name, why);
		goto out;
	}
	struct exec_auth_id id = {.is_signed = run->who.is_signed};
	snprintf(id.agent, sizeof(id.agent), "%s", run->who.agent);
	snprintf(id.key, sizeof(id.key), "%s", run->who.key);
	*auth = exec_auth_req_new(ex, &id, V_START, task, &env, *spec);
	const char *pstatus = "denied";
	char reason[400];
	if (!exec_auth_check(ex, *auth, POLICY_TASK_UNKNOWN, NULL, false, &pstatus, reason,
			     sizeof(reason))) {
		snprintf(err, errlen, "step %.64s (task %s): %s: %s", s->name, task, pstatus, reason);
		goto out;
	}
	start_spec_set_owner(*spec, exec_auth_owner_name(*auth), (*auth)->key ? (*auth)->key : "");
	struct pm2_conf pc = {
		.name = task,
		.exec_path = (*spec)->exec_path,
		.argv = (const char *const *)(*spec)->argv,
		.argc = (*spec)->argc,
		.cwd = (*spec)->cwd,
		.env = (*spec)->env,
		.nenv = (*spec)->nenv,
		.instances = 1,
		.cluster = false,
		.max_memory_restart = (*spec)->max_memory,
		.autorestart = false,
	};
	*conf = pm2_conf_build(&pc, ex->pm2_home, why, sizeof(why));
	if (*conf == NULL) {
		snprintf(err, errlen, "step %.64s: %s", s->name, why);
		goto out;
	}
	rc = 0;
out:
	if (rc < 0) {
		start_spec_free(*spec);
		exec_auth_req_free(*auth);
		*spec = NULL;
		*auth = NULL;
	}
	codec_envelope_free(&env);
	return rc;
}

/* --- the state record and the step messages ------------------------------ */

static void on_state_stored(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	(void)arg;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warn("job state: not kept in Redis: %s", reply->str);
}

static cJSON *num_or_null(int64_t v)
{
	return v > 0 ? cJSON_CreateNumber((double)v) : cJSON_CreateNull();
}

static cJSON *step_json(const struct job_run *run, size_t i, bool rollback)
{
	const struct job_step *s = def_of(run, i, rollback);
	const struct job_step_run *r = rollback ? &run->rb[i] : &run->steps[i];
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "name", s->name);
	cJSON_AddStringToObject(o, "kind", s->kind == JOB_STEP_BASH ? "bash" : "datum");
	cJSON *deps = cJSON_AddArrayToObject(o, "depends_on");
	for (size_t k = 0; k < s->ndeps; k++)
		cJSON_AddItemToArray(deps, cJSON_CreateString(s->depends_on[k]));
	cJSON_AddStringToObject(o, "task", task_of(run, i, rollback));
	cJSON_AddStringToObject(o, "state", job_state_name(r->state));
	cJSON_AddNumberToObject(o, "attempt", r->attempt);
	cJSON_AddItemToObject(o, "started_ms", num_or_null(r->started_ms));
	cJSON_AddItemToObject(o, "ended_ms", num_or_null(r->ended_ms));
	if (r->has_code)
		cJSON_AddNumberToObject(o, "exit_code", (double)r->exit_code);
	else
		cJSON_AddNullToObject(o, "exit_code");
	if (r->signal[0] != '\0')
		cJSON_AddStringToObject(o, "signal", r->signal);
	else
		cJSON_AddNullToObject(o, "signal");
	cJSON_AddNumberToObject(o, "level", rollback ? 0 : run->plan.level[i]);
	if (r->error[0] != '\0')
		cJSON_AddStringToObject(o, "error", r->error);
	return o;
}

cJSON *job_run_state(const struct job_run *run)
{
	static const char *const st[] = {"running", "completed", "failed", "stopped"};
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "type", "job_state");
	cJSON_AddStringToObject(o, "job", run->job);
	cJSON_AddStringToObject(o, "run_id", run->run_id);
	cJSON_AddStringToObject(o, "node", run->ex->cfg->node);
	cJSON_AddStringToObject(o, "agent_id", run->agent_id ? run->agent_id : "job-orchestrator");
	cJSON_AddStringToObject(o, "mode", job_mode_name(run->def.mode));
	cJSON_AddStringToObject(o, "status", st[run->status]);
	cJSON_AddNumberToObject(o, "started_ms", (double)run->started_ms);
	cJSON_AddItemToObject(o, "ended_ms", num_or_null(run->ended_ms));
	cJSON *steps = cJSON_AddArrayToObject(o, "steps");
	for (size_t i = 0; i < run->plan.n; i++)
		cJSON_AddItemToArray(steps, step_json(run, i, false));
	cJSON *rb = cJSON_AddArrayToObject(o, "rollback");
	for (size_t i = 0; i < run->def.nrollback; i++)
		if (run->rb[i].state != JS_PENDING)
			cJSON_AddItemToArray(rb, step_json(run, i, true));
	return o;
}

static void store_state(struct job_run *run)
{
	struct executor *ex = run->ex;
	if (!bus_can_command(ex->bus))
		return;
	cJSON *o = job_run_state(run);
	char *s = cJSON_PrintUnformatted(o);
	cJSON_Delete(o);
	if (s == NULL)
		return;
	char *key = xasprintf("%s%s", JOB_STATE_PREFIX, run->job);
	char ttl[24];
	snprintf(ttl, sizeof(ttl), "%d", JOB_STATE_TTL_S);
	const char *argv[5] = {"SET", key, s, "EX", ttl};
	size_t lens[5] = {3, strlen(key), strlen(s), 2, strlen(ttl)};
	bus_command(ex->bus, 5, argv, lens, on_state_stored, NULL);
	free(key);
	free(s);
}

/* A step's start or end on the status channel (type job_step). */
static void announce(struct job_run *run, size_t i, bool rollback)
{
	struct job_step_run *r = step_of(run, i, rollback);
	struct status_msg st = {
		.type = "job_step",
		.task_name = task_of(run, i, rollback),
		.status = r->state == JS_RUNNING ? "started" : job_state_name(r->state),
		.pm_id = -1,
		.request_id = run->request_id,
		.node = run->ex->cfg->node,
		.agent_id = run->agent_id,
		.error = r->error[0] ? r->error : NULL,
	};
	cJSON *o = codec_status_json(&st, util_wall_ms());
	cJSON_AddStringToObject(o, "job", run->job);
	cJSON_AddStringToObject(o, "run_id", run->run_id);
	cJSON_AddStringToObject(o, "step", def_of(run, i, rollback)->name);
	cJSON_AddBoolToObject(o, "rollback", rollback);
	cJSON_AddNumberToObject(o, "attempt", r->attempt);
	if (r->state != JS_RUNNING) {
		if (r->has_code)
			cJSON_AddNumberToObject(o, "exit_code", (double)r->exit_code);
		else
			cJSON_AddNullToObject(o, "exit_code");
		if (r->started_ms > 0 && r->ended_ms >= r->started_ms)
			cJSON_AddNumberToObject(o, "duration_ms",
						(double)(r->ended_ms - r->started_ms));
	}
	exec_publish(run->ex, o);
	store_state(run);
}

/* --- steps: launch, end, stop -------------------------------------------- */

static void step_end(struct job_run *run, size_t i, bool rollback, enum job_state state);
static void on_timeout(struct loop *loop, void *arg);

static struct ticket *ticket_new(struct job_run *run, size_t i, bool rollback, bool stop)
{
	struct ticket *t = xcalloc(1, sizeof(*t));
	t->run = run;
	t->i = i;
	t->rollback = rollback;
	t->attempt = step_of(run, i, rollback)->attempt;
	t->stop = stop;
	run->tickets++;
	return t;
}

static void ticket_free(struct ticket *t)
{
	t->run->tickets--;
	free(t);
}

static void on_step_command(void *arg, const char *status, const char *error)
{
	struct ticket *t = arg;
	struct job_run *run = t->run;
	struct job_step_run *r = step_of(run, t->i, t->rollback);
	bool current = r->attempt == t->attempt && r->state == JS_RUNNING;
	bool started = strcmp(status, "started") == 0 || strcmp(status, "already_running") == 0;
	if (current && !t->stop && started) {
		r->confirmed = true;
	} else if (current && !t->stop) {
		/* The start failed: nothing ran. */
		snprintf(r->error, sizeof(r->error), "the start was answered %s%s%.240s", status,
			 error ? ": " : "", error ? error : "");
		step_end(run, t->i, t->rollback, JS_FAILED);
	} else if (current && t->stop &&
		   (strcmp(status, "stopped") == 0 || strcmp(status, "not_found") == 0)) {
		step_end(run, t->i, t->rollback, r->timed_out ? JS_TIMED_OUT : JS_STOPPED);
	} else if (current && t->stop) {
		/* Not stopped (PM2 away, expired, busy): the step still runs;
		 * its stop is sent again by the next watch. */
		log_warn("job %s: the stop of step %s was answered %s%s%.200s; trying again",
			 run->job, task_of(run, t->i, t->rollback), status, error ? ": " : "",
			 error ? error : "");
		r->stop_sent = false;
		r->stop_again = true;
	}
	ticket_free(t);
}

static void step_stop(struct job_run *run, size_t i, bool rollback)
{
	struct job_step_run *r = step_of(run, i, rollback);
	if (r->state != JS_RUNNING || r->stop_sent)
		return;
	r->stop_sent = true;
	char *rid = xasprintf("%s:%s:stop", run->run_id, task_of(run, i, rollback));
	/* Queued behind the step's start if that is still in flight (one
	 * queue per task name), so the stop cannot pass it. */
	exec_command_take_then(run->ex, V_STOP, "stop", task_of(run, i, rollback), rid,
			       run->agent_id, NULL, NULL, util_wall_ms() + 60000, NULL, NULL,
			       on_step_command, ticket_new(run, i, rollback, true));
	free(rid);
}

static void step_launch(struct job_run *run, size_t i, bool rollback)
{
	struct executor *ex = run->ex;
	struct job_step_run *r = step_of(run, i, rollback);
	r->attempt++;
	r->state = JS_RUNNING;
	r->started_ms = util_wall_ms();
	r->ended_ms = 0;
	r->has_code = false;
	r->signal[0] = r->error[0] = '\0';
	r->timed_out = r->stop_sent = r->confirmed = r->checking = false;
	r->idle_polls = 0;
	struct start_spec *spec;
	cJSON *conf;
	struct exec_auth_req *auth;
	char err[700];
	if (job_step_start(ex, run, i, rollback, &spec, &conf, &auth, err, sizeof(err)) < 0) {
		/* Checked before the run; what changed since (a file, the
		 * policy on SIGHUP) fails this step alone. */
		announce(run, i, rollback);
		snprintf(r->error, sizeof(r->error), "%.290s", err);
		step_end(run, i, rollback, JS_FAILED);
		return;
	}
	announce(run, i, rollback);
	const struct job_step *s = def_of(run, i, rollback);
	if (s->timeout_ms > 0) {
		r->timeout_ticket = ticket_new(run, i, rollback, true);
		r->timeout = loop_timer_add(ex->loop, s->timeout_ms, on_timeout, r->timeout_ticket);
	}
	char *rid = xasprintf("%s:%s:%d", run->run_id, task_of(run, i, rollback), r->attempt);
	exec_command_take_then(ex, V_START, "start", task_of(run, i, rollback), rid, run->agent_id,
			       spec, conf, util_wall_ms() + 60000, NULL, auth, on_step_command,
			       ticket_new(run, i, rollback, false));
	free(rid);
}

static void on_timeout(struct loop *loop, void *arg)
{
	(void)loop;
	struct ticket *t = arg;
	struct job_step_run *r = step_of(t->run, t->i, t->rollback);
	r->timeout = NULL;
	r->timeout_ticket = NULL;
	if (r->state == JS_RUNNING && r->attempt == t->attempt) {
		log_info("job %s: step %s passed its timeout_ms of %ld: stopping it", t->run->job,
			 def_of(t->run, t->i, t->rollback)->name,
			 def_of(t->run, t->i, t->rollback)->timeout_ms);
		r->timed_out = true;
		step_stop(t->run, t->i, t->rollback);
	}
	ticket_free(t);
}

static void step_end(struct job_run *run, size_t i, bool rollback, enum job_state state)
{
	struct job_step_run *r = step_of(run, i, rollback);
	if (r->timeout != NULL) {
		loop_timer_cancel(r->timeout);
		ticket_free(r->timeout_ticket);
		r->timeout = NULL;
		r->timeout_ticket = NULL;
	}
	r->ended_ms = util_wall_ms();
	/* retry_failed_steps: a step that failed (not one that timed out or
	 * was stopped) runs again, as often as that says. */
	if (state == JS_FAILED && !run->stopping && !rollback &&
	    r->attempt <= run->def.retry_failed_steps) {
		r->state = JS_FAILED;
		announce(run, i, rollback);
		log_info("job %s: step %s failed (attempt %d): running it again", run->job,
			 def_of(run, i, rollback)->name, r->attempt);
		step_launch(run, i, rollback);
		return;
	}
	r->state = state;
	announce(run, i, rollback);
	kick(run);
}

/* Ends step i (rollback: of the rollback steps) from a task result. */
static void step_from_result(struct job_run *run, size_t i, bool rb, const cJSON *result)
{
	struct job_step_run *r = step_of(run, i, rb);
	long code;
	const cJSON *c = cJSON_GetObjectItemCaseSensitive(result, "exit_code");
	const cJSON *sig = cJSON_GetObjectItemCaseSensitive(result, "signal");
	r->has_code = codec_json_long(c, -2147483648L, 2147483647L, &code);
	r->exit_code = r->has_code ? code : 0;
	if (cJSON_IsString(sig))
		snprintf(r->signal, sizeof(r->signal), "%s", sig->valuestring);
	bool ok = r->has_code && code == 0;
	step_end(run, i, rb, r->timed_out ? JS_TIMED_OUT : ok ? JS_SUCCEEDED : JS_FAILED);
}

void exec_job_result(struct executor *ex, const char *task, const cJSON *result)
{
	if (ex->jobs == NULL)
		return;
	for (struct job_run *run = ex->jobs->runs; run != NULL; run = run->next) {
		if (run->status != RUN_RUNNING)
			continue;
		for (int pass = 0; pass < 2; pass++) {
			bool rb = pass == 1;
			size_t n = rb ? run->def.nrollback : run->plan.n;
			for (size_t i = 0; i < n; i++) {
				struct job_step_run *r = step_of(run, i, rb);
				if (r->state != JS_RUNNING || strcmp(task_of(run, i, rb), task) != 0)
					continue;
				step_from_result(run, i, rb, result);
				return;
			}
		}
	}
}

/* --- the watch: a step whose end was not seen ------------------------------ */

/*
 * A step ends when its task's result arrives, which needs PM2's exit event.
 * An event lost while the event socket was down would leave the step
 * running for ever: every JOB_WATCH_MS the running steps are compared with
 * the live view, and a step whose task has not been running for two passes
 * ends from its stored result (written by this run), else as failed.
 */
static void on_stored_result(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct ticket *t = arg;
	struct job_run *run = t->run;
	struct job_step_run *r = step_of(run, t->i, t->rollback);
	r->checking = false;
	if (reply != NULL && r->state == JS_RUNNING && r->attempt == t->attempt) {
		cJSON *res = reply->type == REDIS_REPLY_STRING
				     ? cJSON_ParseWithLength(reply->str, reply->len)
				     : NULL;
		const cJSON *end = cJSON_GetObjectItemCaseSensitive(res, "end_time");
		int64_t end_ms = -1;
		if (cJSON_IsString(end))
			codec_parse_iso_time(end->valuestring, &end_ms);
		if (cJSON_IsObject(res) && end_ms >= r->started_ms - 2000) {
			step_from_result(run, t->i, t->rollback, res);
		} else {
			snprintf(r->error, sizeof(r->error),
				 "its task stopped running and no result of this run was seen");
			step_end(run, t->i, t->rollback, JS_FAILED);
		}
		cJSON_Delete(res);
	}
	ticket_free(t);
}

static void watch_step(struct job_run *run, size_t i, bool rb)
{
	struct executor *ex = run->ex;
	struct job_step_run *r = step_of(run, i, rb);
	if (r->state != JS_RUNNING || !r->confirmed || r->stop_sent || r->checking)
		return;
	struct pm2_proc found[4];
	bool uncertain = false;
	size_t n = exec_view_find(ex, task_of(run, i, rb), found, 4, &uncertain);
	bool active = uncertain;
	for (size_t k = 0; k < n && k < 4; k++)
		active = active || found[k].state == PM2_ST_ONLINE ||
			 found[k].state == PM2_ST_LAUNCHING || found[k].state == PM2_ST_STOPPING ||
			 found[k].state == PM2_ST_WAITING_RESTART ||
			 found[k].state == PM2_ST_ONE_LAUNCH;
	if (active) {
		r->idle_polls = 0;
		return;
	}
	if (++r->idle_polls < 2 || !bus_can_command(ex->bus))
		return;
	log_warn("job %s: step %s: its task is not running and its end was not seen; reading "
		 "its result",
		 run->job, def_of(run, i, rb)->name);
	char *key = xasprintf("%s%s", RESULT_PREFIX, task_of(run, i, rb));
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	struct ticket *t = ticket_new(run, i, rb, false);
	if (bus_command(ex->bus, 2, argv, lens, on_stored_result, t) == 0)
		r->checking = true;
	else
		ticket_free(t);
	free(key);
}

static void on_watch(struct loop *loop, void *arg)
{
	struct job_run *run = arg;
	run->watch = NULL;
	if (run->status != RUN_RUNNING)
		return;
	job_lock_refresh(run);
	for (size_t k = 0; k < run->plan.n + run->def.nrollback; k++) {
		bool rb = k >= run->plan.n;
		size_t i = rb ? k - run->plan.n : k;
		struct job_step_run *r = step_of(run, i, rb);
		if (r->stop_again && r->state == JS_RUNNING && !r->stop_sent) {
			r->stop_again = false;
			step_stop(run, i, rb);
		}
	}
	if (exec_view_fresh(run->ex)) {
		for (size_t i = 0; i < run->plan.n; i++)
			watch_step(run, i, false);
		for (size_t i = 0; i < run->def.nrollback; i++)
			watch_step(run, i, true);
	}
	if (run->status == RUN_RUNNING)
		run->watch = loop_timer_add(loop, JOB_WATCH_MS, on_watch, run);
}

/* --- the run ------------------------------------------------------------- */

static void finish(struct job_run *run, enum job_run_status status)
{
	run->status = status;
	run->ended_ms = util_wall_ms();
	store_state(run);
	job_lock_release(run);
	size_t ok = 0, bad = 0, skipped = 0;
	for (size_t i = 0; i < run->plan.n; i++) {
		enum job_state s = run->steps[i].state;
		ok += s == JS_SUCCEEDED;
		bad += s == JS_FAILED || s == JS_TIMED_OUT;
		skipped += s == JS_SKIPPED;
	}
	char text[600];
	int o = snprintf(text, sizeof(text),
			 "job %s %s in %.1f s: %zu step(s) succeeded, %zu failed, %zu skipped",
			 run->job,
			 status == RUN_COMPLETED ? "completed" : status == RUN_STOPPED ? "stopped"
										 : "failed",
			 (double)(run->ended_ms - run->started_ms) / 1000.0, ok, bad, skipped);
	if (run->rolling_back && o > 0 && (size_t)o < sizeof(text))
		o += snprintf(text + o, sizeof(text) - (size_t)o, "; %zu rollback step(s) ran",
			      run->def.nrollback);
	if (status == RUN_STOPPED && run->ex->draining && o > 0 && (size_t)o < sizeof(text))
		snprintf(text + o, sizeof(text) - (size_t)o, " (the executor is shutting down)");
	log_info("%s (run %s)", text, run->run_id);
	if (status == RUN_STOPPED) {
		job_reply(run->ex, "stopped", run->job, text,
			  run->stop_agent_id ? run->stop_agent_id : run->agent_id,
			  run->stop_request_id ? run->stop_request_id : run->request_id);
		run->stop_replied = true;
	} else {
		job_reply(run->ex, status == RUN_COMPLETED ? "completed" : "error", run->job, text,
			  run->agent_id, run->request_id);
	}
}

static bool any_running(const struct job_run *run)
{
	for (size_t i = 0; i < run->plan.n; i++)
		if (run->steps[i].state == JS_RUNNING)
			return true;
	for (size_t i = 0; i < run->def.nrollback; i++)
		if (run->rb[i].state == JS_RUNNING)
			return true;
	return false;
}

static void advance(struct job_run *run)
{
	if (run->status != RUN_RUNNING)
		return;
	if (run->stopping) {
		if (!any_running(run)) {
			for (size_t i = 0; i < run->plan.n; i++)
				if (run->steps[i].state == JS_PENDING)
					run->steps[i].state = JS_SKIPPED;
			finish(run, RUN_STOPPED);
		}
		return;
	}
	if (run->rolling_back) {
		if (run->rb_next < run->def.nrollback && run->rb[run->rb_next].state == JS_RUNNING)
			return;
		if (run->rb_next < run->def.nrollback &&
		    run->rb[run->rb_next].state != JS_PENDING)
			run->rb_next++;
		if (run->rb_next < run->def.nrollback) {
			step_launch(run, run->rb_next, true);
			return;
		}
		finish(run, RUN_FAILED);
		return;
	}
	bool pending = false;
	enum job_state *states = xcalloc(run->plan.n, sizeof(*states));
	/* Skipping one step may decide another: go round until nothing moves. */
	for (bool moved = true; moved;) {
		moved = false;
		for (size_t i = 0; i < run->plan.n; i++)
			states[i] = run->steps[i].state;
		for (size_t i = 0; i < run->plan.n; i++) {
			if (run->steps[i].state != JS_PENDING)
				continue;
			enum job_decision d = job_plan_decide(&run->def, &run->plan, states, i);
			if (d == JOB_SKIP) {
				run->steps[i].state = JS_SKIPPED;
				if (run->plan.selected[i])
					announce(run, i, false);
				moved = true;
			} else if (d == JOB_RUN) {
				step_launch(run, i, false);
				moved = true;
			}
		}
	}
	free(states);
	bool failed = false;
	for (size_t i = 0; i < run->plan.n; i++) {
		pending = pending || run->steps[i].state == JS_PENDING;
		failed = failed || run->steps[i].state == JS_FAILED ||
			 run->steps[i].state == JS_TIMED_OUT;
	}
	if (pending || any_running(run))
		return;
	if (failed && run->def.rollback_on_failure && run->def.nrollback > 0) {
		log_info("job %s: a step failed: running %zu rollback step(s)", run->job,
			 run->def.nrollback);
		run->rolling_back = true;
		run->rb_next = 0;
		step_launch(run, 0, true);
		return;
	}
	finish(run, failed ? RUN_FAILED : RUN_COMPLETED);
}

static void on_kick(struct loop *loop, void *arg)
{
	(void)loop;
	struct job_run *run = arg;
	run->kick = NULL;
	advance(run);
}

/* Decisions wait for the next pass of the loop: a step's end may arrive
 * inside a command's reply, which must finish before the next starts. */
static void kick(struct job_run *run)
{
	if (run->kick == NULL)
		run->kick = loop_timer_add(run->ex->loop, 0, on_kick, run);
}

void job_run_begin(struct job_run *run)
{
	run->status = RUN_RUNNING;
	run->started_ms = util_wall_ms();
	run->steps = xcalloc(run->plan.n, sizeof(*run->steps));
	run->rb = xcalloc(run->def.nrollback + 1, sizeof(*run->rb));
	store_state(run);
	kick(run);
	run->watch = loop_timer_add(run->ex->loop, JOB_WATCH_MS, on_watch, run);
}

void job_run_stop(struct job_run *run, const char *request_id, const char *agent_id)
{
	free(run->stop_request_id);
	free(run->stop_agent_id);
	run->stop_request_id = request_id ? xstrdup(request_id) : NULL;
	run->stop_agent_id = agent_id ? xstrdup(agent_id) : NULL;
	run->stopping = true;
	for (size_t i = 0; i < run->plan.n; i++)
		step_stop(run, i, false);
	for (size_t i = 0; i < run->def.nrollback; i++)
		step_stop(run, i, true);
	kick(run);
}

void job_run_free(struct job_run *run)
{
	if (run == NULL)
		return;
	/* Only at teardown (the commands are gone) or once no command or
	 * timer points at it (exec_job.c keeps it until then). */
	loop_timer_cancel(run->kick);
	loop_timer_cancel(run->watch);
	free(run->lock); /* a run freed before its end: the lock expires */
	for (size_t i = 0; run->steps != NULL && i < run->plan.n; i++) {
		loop_timer_cancel(run->steps[i].timeout);
		free(run->steps[i].timeout_ticket);
	}
	for (size_t i = 0; run->rb != NULL && i < run->def.nrollback; i++) {
		loop_timer_cancel(run->rb[i].timeout);
		free(run->rb[i].timeout_ticket);
	}
	free(run->steps);
	free(run->rb);
	job_plan_free(&run->plan);
	job_def_free(&run->def);
	for (size_t i = 0; i < run->nenv; i++) {
		free(run->env[i].key);
		free(run->env[i].value);
	}
	free(run->env);
	free(run->job);
	free(run->run_id);
	free(run->request_id);
	free(run->agent_id);
	free(run->stop_request_id);
	free(run->stop_agent_id);
	free(run);
}
