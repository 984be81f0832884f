/*
 * exec_job: the b00t:job channel (docs/protocol.md, "Jobs"), answered on
 * b00t:job:status the way b00t-cli's listener answers: job_status
 * messages. A command is decoded (a signed one verified, exec_auth.c),
 * claimed for this executor (the fleet rule: the node params.node names,
 * else the first executor whose SET NX on the request's claim key
 * succeeds), judged by the policy (run and stop as the verb "job", plan,
 * status and list as "status", the job's name as the task), and carried
 * out: plan, run (every step's start checked before anything runs; with
 * dry_run nothing runs), status, stop, list. exec_job_run.c runs the
 * steps.
 *
 * Must not: run anything for a job whose graph or any step's start is
 * refused, read a job from anywhere but the executor's datum folder, or
 * carry a command out on two executors.
 */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>
#include <sodium.h>

#include "bus.h"
#include "codec.h"
#include "command_check.h"
#include "exec_job_int.h"
#include "log.h"
#include "util.h"

void exec_job_new(struct executor *ex)
{
	ex->jobs = xcalloc(1, sizeof(*ex->jobs));
}

void exec_job_free(struct executor *ex)
{
	if (ex->jobs == NULL)
		return;
	while (ex->jobs->runs != NULL) {
		struct job_run *r = ex->jobs->runs;
		ex->jobs->runs = r->next;
		job_run_free(r);
	}
	free(ex->jobs);
	ex->jobs = NULL;
}

void exec_job_drain(struct executor *ex)
{
	for (struct job_run *r = ex->jobs ? ex->jobs->runs : NULL; r != NULL; r = r->next) {
		if (r->status != RUN_RUNNING || r->stopping)
			continue;
		log_info("shutdown: stopping job %s (run %s)", r->job, r->run_id);
		job_run_stop(r, NULL, NULL);
	}
}

/* --- replies --------------------------------------------------------------- */

static void on_job_reply_acked(struct bus *bus, long long receivers, void *arg)
{
	(void)bus;
	(void)receivers;
	struct executor *ex = arg;
	if (ex->unacked > 0)
		ex->unacked--;
	exec_drain_check(ex);
}

void job_reply(struct executor *ex, const char *status, const char *job, const char *content,
	       const char *agent_id, const char *request_id)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "verb", "job_status");
	cJSON *params = cJSON_AddObjectToObject(o, "params");
	cJSON_AddStringToObject(params, "status", status);
	cJSON_AddStringToObject(params, "job_name", job ? job : "");
	cJSON_AddStringToObject(o, "content", content ? content : "");
	cJSON_AddStringToObject(o, "agent_id",
				agent_id && agent_id[0] ? agent_id : "job-orchestrator");
	/* b00t-ipc's timestamp: whole epoch seconds (required there). */
	cJSON_AddNumberToObject(o, "timestamp", (double)(util_wall_ms() / 1000));
	if (request_id != NULL)
		cJSON_AddStringToObject(o, "request_id", request_id);
	cJSON_AddStringToObject(o, "node", ex->cfg->node);
	char *s = exec_status_text(ex, o); /* signed like every status message */
	if (s == NULL)
		return;
	if (bus_publish(ex->bus, EXEC_JOB_STATUS_CHANNEL, s, strlen(s), on_job_reply_acked, ex) == 0)
		ex->unacked++;
	free(s);
}

static void reply_json(struct executor *ex, const char *status, const char *job, cJSON *content,
		       const char *agent_id, const char *request_id)
{
	char *s = cJSON_PrintUnformatted(content);
	cJSON_Delete(content);
	job_reply(ex, status, job, s ? s : "{}", agent_id, request_id);
	free(s);
}

/* --- a command ------------------------------------------------------------ */

/* A command between its arrival and its claim (everything owned). */
struct job_cmd {
	struct executor *ex;
	struct exec_auth_id id; /* inner freed: only who sent it */
	int arc;		/* exec_auth_open's verdict */
	char astatus[32];
	char aerr[600];
	int drc; /* codec_decode_command's */
	char derr[512];
	struct envelope env;
	char job[128];	    /* params.name without ".job" ("" when none) */
	char elsewhere[130]; /* a live node the job's record says runs it, or "" */
};

static void job_cmd_free(struct job_cmd *c)
{
	codec_envelope_free(&c->env);
	free(c);
}

/* NULL when name is a usable job name, else a sentence. */
static const char *job_name_problem(const char *name)
{
	if (name == NULL || name[0] == '\0')
		return "params.name is missing: the job to act on (its datum is NAME.job)";
	if (strlen(name) > 100)
		return "params.name is longer than 100 characters";
	if (strchr(name, '/') != NULL || strchr(name, '\\') != NULL)
		return "params.name must not contain '/': a job is named, never a path (the folder "
		       "is the executor's)";
	if (strstr(name, "..") != NULL)
		return "params.name must not contain '..': a job is named, never a path";
	if (name[0] == '.')
		return "params.name must not start with '.'";
	for (const char *p = name; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!util_ascii_alnum(c) && c != '.' && c != '_' && c != '-')
			return "params.name may hold letters, digits, '.', '_' and '-' only";
	}
	return NULL;
}

static bool param_true(const struct envelope *env, const char *key)
{
	const char *v = codec_param(env, key);
	return v != NULL && (strcmp(v, "true") == 0 || strcmp(v, "1") == 0 ||
			     strcmp(v, "yes") == 0);
}

static struct job_run *find_run(struct executor *ex, const char *job)
{
	for (struct job_run *r = ex->jobs->runs; r != NULL; r = r->next)
		if (strcmp(r->job, job) == 0)
			return r; /* newest first */
	return NULL;
}

/* Drops finished runs no command points at: older runs of job, and the
 * oldest past JOB_MAX_RUNS. */
static void prune_runs(struct executor *ex, const char *job)
{
	size_t kept = 0;
	struct job_run **pp = &ex->jobs->runs;
	while (*pp != NULL) {
		struct job_run *r = *pp;
		bool idle = r->status != RUN_RUNNING && r->tickets == 0;
		if (idle && (strcmp(r->job, job) == 0 || kept >= JOB_MAX_RUNS - 1)) {
			*pp = r->next;
			ex->jobs->nruns--;
			job_run_free(r);
			continue;
		}
		kept++;
		pp = &r->next;
	}
}

static char *job_path(const struct executor *ex, const char *job)
{
	return xasprintf("%s/%s.job.toml", ex->cfg->datum_dir ? ex->cfg->datum_dir : ".", job);
}

/* Reads and plans job for a run or a plan; NULL with err. */
static struct job_run *job_prepare(struct executor *ex, struct job_cmd *c, const char *job,
				   char *err, size_t errlen)
{
	if (ex->cfg->datum_dir == NULL || ex->cfg->datum_dir[0] == '\0') {
		snprintf(err, errlen,
			 "this executor has no datum folder (--datum-dir, TASKER_DATUM_DIR or "
			 "_B00T_Path); nothing was run");
		return NULL;
	}
	struct job_run *run = xcalloc(1, sizeof(*run));
	run->ex = ex;
	run->job = xstrdup(job);
	char *path = job_path(ex, job);
	char why[700];
	if (job_toml_load_file(path, &run->def, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "job %s: %s; nothing was run", job, why);
		free(path);
		job_run_free(run);
		return NULL;
	}
	free(path);
	if (job_plan_build(&run->def, job, codec_param(&c->env, "from_step"),
			   codec_param(&c->env, "to_step"), &run->plan, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "job %s: %s", job, why);
		job_run_free(run);
		return NULL;
	}
	return run;
}

static void job_lock_take(struct executor *ex, struct job_run *run);

static void do_run(struct executor *ex, struct job_cmd *c, const char *job)
{
	const char *rid = c->env.request_id, *aid = c->env.agent_id;
	char err[900];
	if (c->elsewhere[0] != '\0') {
		snprintf(err, sizeof(err),
			 "job %s is running already on node %s; stop it first; nothing was run", job,
			 c->elsewhere);
		job_reply(ex, "error", job, err, aid, rid);
		return;
	}
	struct job_run *old = find_run(ex, job);
	if (old != NULL && old->status == RUN_RUNNING) {
		snprintf(err, sizeof(err),
			 "job %s is running already on node %s (run %s); stop it first; nothing "
			 "was run",
			 job, ex->cfg->node, old->run_id);
		job_reply(ex, "error", job, err, aid, rid);
		return;
	}
	struct job_run *run = job_prepare(ex, c, job, err, sizeof(err));
	if (run == NULL) {
		job_reply(ex, "error", job, err, aid, rid);
		return;
	}
	char idbuf[33];
	util_random_id(idbuf);
	run->run_id = xstrdup(rid ? rid : idbuf);
	run->request_id = rid ? xstrdup(rid) : NULL;
	run->agent_id = aid ? xstrdup(aid) : NULL;
	run->who.is_signed = c->id.is_signed;
	snprintf(run->who.agent, sizeof(run->who.agent), "%s", c->id.agent);
	snprintf(run->who.key, sizeof(run->who.key), "%s", c->id.key);
	/* env_* params: the steps' environment (names checked here, values
	 * never put into a command line). */
	for (size_t i = 0; i < c->env.nparams; i++) {
		const char *k = c->env.params[i].key;
		if (strncmp(k, "env_", 4) != 0)
			continue;
		if (!check_env_name(k + 4) || run->nenv >= JOB_MAX_ENV) {
			if (run->nenv >= JOB_MAX_ENV)
				snprintf(err, sizeof(err), "more than %d env_ params; nothing was run",
					 JOB_MAX_ENV);
			else
				snprintf(err, sizeof(err),
					 "%.80s is not a variable name (env_NAME: letters, digits, "
					 "'_'); nothing was run",
					 k);
			job_reply(ex, "error", job, err, aid, rid);
			job_run_free(run);
			return;
		}
		run->env = xrealloc(run->env, (run->nenv + 1) * sizeof(*run->env));
		run->env[run->nenv].key = xstrdup(k + 4);
		run->env[run->nenv].value = xstrdup(c->env.params[i].value);
		run->nenv++;
	}
	/* Every step's start is checked now (check_start, the policy): a
	 * refused one refuses the job before anything runs. */
	for (int pass = 0; pass < 2; pass++) {
		size_t n = pass ? run->def.nrollback : run->plan.n;
		for (size_t i = 0; i < n; i++) {
			if (!pass && !run->plan.selected[i])
				continue;
			struct start_spec *spec;
			cJSON *conf;
			struct exec_auth_req *auth;
			char why[700];
			if (job_step_start(ex, run, i, pass == 1, &spec, &conf, &auth, why,
					   sizeof(why)) < 0) {
				snprintf(err, sizeof(err), "job %s: %s%s; nothing was run", job,
					 pass ? "rollback " : "", why);
				job_reply(ex, "error", job, err, aid, rid);
				job_run_free(run);
				return;
			}
			start_spec_free(spec);
			cJSON_Delete(conf);
			exec_auth_req_free(auth);
		}
	}
	if (param_true(&c->env, "dry_run")) {
		cJSON *plan = job_plan_json(&run->def, &run->plan, job);
		cJSON_AddBoolToObject(plan, "dry_run", true);
		cJSON_AddStringToObject(plan, "node", ex->cfg->node);
		reply_json(ex, "plan_response", job, plan, aid, rid);
		job_run_free(run);
		return;
	}
	job_lock_take(ex, run);
}

/* --- the job's lock: one node runs a job at a time ------------------------- */

/* KEYS[1] the lock; ARGV: the value, ms. {1, value} when taken, {0, the
 * holder's value} when held. */
static const char lock_take_lua[] =
	"local v = redis.call('GET', KEYS[1]) "
	"if v then return {0, v} end "
	"redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2]) "
	"return {1, ARGV[1]}";
/* KEYS[1] the lock; ARGV: the value, ms (0: take it back). */
static const char lock_keep_lua[] =
	"if redis.call('GET', KEYS[1]) ~= ARGV[1] then return 0 end "
	"if ARGV[2] == '0' then return redis.call('DEL', KEYS[1]) end "
	"return redis.call('PEXPIRE', KEYS[1], ARGV[2])";

static void lock_eval(struct executor *ex, const char *script, const char *job, const char *value,
		      int ms, void (*cb)(struct bus *, struct redisReply *, void *), void *arg)
{
	char *key = xasprintf("%s%s", JOB_LOCK_PREFIX, job);
	char px[16];
	snprintf(px, sizeof(px), "%d", ms);
	const char *argv[6] = {"EVAL", script, "1", key, value, px};
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(ex->bus, 6, argv, lens, cb, arg) < 0 && cb != NULL)
		cb(ex->bus, NULL, arg);
	free(key);
}

void job_lock_refresh(struct job_run *run)
{
	if (run->lock != NULL)
		lock_eval(run->ex, lock_keep_lua, run->job, run->lock, JOB_LOCK_MS, NULL, NULL);
}

void job_lock_release(struct job_run *run)
{
	if (run->lock != NULL)
		lock_eval(run->ex, lock_keep_lua, run->job, run->lock, 0, NULL, NULL);
	free(run->lock);
	run->lock = NULL;
}

static void run_locked(struct executor *ex, struct job_run *run);

static void on_lock(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct job_run *run = arg;
	struct executor *ex = run->ex;
	char err[400];
	if (reply == NULL) {
		/* The bus went (or is being freed): nothing ran, nobody to tell. */
		log_warn("job %s: its lock was not answered; nothing was run", run->job);
		job_run_free(run);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[0]->type != REDIS_REPLY_INTEGER ||
	    reply->element[1]->type != REDIS_REPLY_STRING) {
		snprintf(err, sizeof(err), "job %s: Redis refused the job's lock (%.200s); nothing "
			 "was run", run->job, reply->type == REDIS_REPLY_ERROR ? reply->str : "?");
		job_reply(ex, "error", run->job, err, run->agent_id, run->request_id);
		job_run_free(run);
		return;
	}
	if (reply->element[0]->integer != 1) {
		/* "node run_id": the node is what the sender needs. */
		char holder[140];
		snprintf(holder, sizeof(holder), "%.130s", reply->element[1]->str);
		char *sp = strchr(holder, ' ');
		if (sp != NULL)
			*sp = '\0';
		snprintf(err, sizeof(err),
			 "job %s is running already on node %s; stop it first; nothing was run",
			 run->job, holder);
		job_reply(ex, "error", run->job, err, run->agent_id, run->request_id);
		job_run_free(run);
		return;
	}
	if (ex->draining) {
		run->lock = xasprintf("%s %s", ex->cfg->node, run->run_id);
		job_lock_release(run);
		job_reply(ex, "error", run->job,
			  "the executor is shutting down; nothing was run", run->agent_id,
			  run->request_id);
		job_run_free(run);
		return;
	}
	run->lock = xasprintf("%s %s", ex->cfg->node, run->run_id);
	run_locked(ex, run);
}

static void job_lock_take(struct executor *ex, struct job_run *run)
{
	char *value = xasprintf("%s %s", ex->cfg->node, run->run_id);
	lock_eval(ex, lock_take_lua, run->job, value, JOB_LOCK_MS, on_lock, run);
	free(value);
}

static void run_locked(struct executor *ex, struct job_run *run)
{
	const char *job = run->job, *aid = run->agent_id, *rid = run->request_id;
	char err[900];
	struct job_run *old = find_run(ex, job);
	if (old != NULL && old->status == RUN_RUNNING) {
		/* Ours, begun while this one waited for its lock. */
		snprintf(err, sizeof(err),
			 "job %s is running already on node %s (run %s); stop it first; nothing "
			 "was run",
			 job, ex->cfg->node, old->run_id);
		job_reply(ex, "error", job, err, aid, rid);
		job_lock_release(run);
		job_run_free(run);
		return;
	}
	prune_runs(ex, job);
	run->next = ex->jobs->runs;
	ex->jobs->runs = run;
	ex->jobs->nruns++;
	size_t nsel = 0;
	for (size_t i = 0; i < run->plan.n; i++)
		nsel += run->plan.selected[i];
	snprintf(err, sizeof(err), "job %s started on node %s: %zu step(s) in %d level(s), mode %s (run %s)",
		 job, ex->cfg->node, nsel, run->plan.nlevels, job_mode_name(run->def.mode),
		 run->run_id);
	log_info("%s", err);
	job_reply(ex, "started", job, err, aid, rid);
	job_run_begin(run);
}

static void do_plan(struct executor *ex, struct job_cmd *c, const char *job)
{
	char err[900];
	struct job_run *run = job_prepare(ex, c, job, err, sizeof(err));
	if (run == NULL) {
		job_reply(ex, "error", job, err, c->env.agent_id, c->env.request_id);
		return;
	}
	cJSON *plan = job_plan_json(&run->def, &run->plan, job);
	cJSON_AddStringToObject(plan, "node", ex->cfg->node);
	reply_json(ex, "plan_response", job, plan, c->env.agent_id, c->env.request_id);
	job_run_free(run);
}

/* status of a job this executor does not hold: its record in Redis. */
struct status_wait {
	struct executor *ex;
	char *job, *agent_id, *request_id;
};

static void on_status_record(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct status_wait *w = arg;
	if (reply != NULL) {
		if (reply->type == REDIS_REPLY_STRING) {
			job_reply(w->ex, "status_response", w->job, reply->str, w->agent_id,
				  w->request_id);
		} else {
			char msg[300];
			snprintf(msg, sizeof(msg),
				 "no run of job %s is known (none in the last 7 days)", w->job);
			job_reply(w->ex, "error", w->job, msg, w->agent_id, w->request_id);
		}
	}
	free(w->job);
	free(w->agent_id);
	free(w->request_id);
	free(w);
}

static void do_status(struct executor *ex, struct job_cmd *c, const char *job)
{
	if (job == NULL) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "node", ex->cfg->node);
		cJSON *runs = cJSON_AddArrayToObject(o, "runs");
		for (struct job_run *r = ex->jobs->runs; r != NULL; r = r->next)
			cJSON_AddItemToArray(runs, job_run_state(r));
		reply_json(ex, "status_response", "", o, c->env.agent_id, c->env.request_id);
		return;
	}
	struct job_run *run = find_run(ex, job);
	if (run != NULL) {
		reply_json(ex, "status_response", job, job_run_state(run), c->env.agent_id,
			   c->env.request_id);
		return;
	}
	struct status_wait *w = xcalloc(1, sizeof(*w));
	w->ex = ex;
	w->job = xstrdup(job);
	w->agent_id = c->env.agent_id ? xstrdup(c->env.agent_id) : NULL;
	w->request_id = c->env.request_id ? xstrdup(c->env.request_id) : NULL;
	char *key = xasprintf("%s%s", JOB_STATE_PREFIX, job);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	if (bus_command(ex->bus, 2, argv, lens, on_status_record, w) < 0) {
		job_reply(ex, "error", job, "Redis is not reachable: the job's record cannot be read",
			  w->agent_id, w->request_id);
		free(w->job);
		free(w->agent_id);
		free(w->request_id);
		free(w);
	}
	free(key);
}

static void do_stop(struct executor *ex, struct job_cmd *c, const char *job)
{
	struct job_run *run = find_run(ex, job);
	if (run == NULL || run->status != RUN_RUNNING) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "job %s is not running on node %s (send stop to the node that runs it: "
			 "params.node, the node of its status); nothing was done",
			 job, ex->cfg->node);
		job_reply(ex, "error", job, msg, c->env.agent_id, c->env.request_id);
		return;
	}
	if (run->stopping) {
		job_reply(ex, "error", job, "the job is being stopped already", c->env.agent_id,
			  c->env.request_id);
		return;
	}
	log_info("job %s: stopping (run %s)", job, run->run_id);
	job_run_stop(run, c->env.request_id, c->env.agent_id);
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void do_list(struct executor *ex, struct job_cmd *c)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "node", ex->cfg->node);
	cJSON *jobs = cJSON_AddArrayToObject(o, "jobs");
	const char *dir = ex->cfg->datum_dir;
	DIR *d = dir ? opendir(dir) : NULL;
	char **names = NULL;
	size_t n = 0;
	bool more = false;
	/* Each file is read (on the loop): at most JOB_LIST_MAX of them. */
	for (struct dirent *e; d != NULL && (e = readdir(d)) != NULL;) {
		size_t len = strlen(e->d_name);
		if (len > 9 && strcmp(e->d_name + len - 9, ".job.toml") == 0 && e->d_name[0] != '.') {
			if (n == JOB_LIST_MAX) {
				more = true;
				break;
			}
			names = xrealloc(names, (n + 1) * sizeof(char *));
			names[n++] = xstrndup(e->d_name, len - 9);
		}
	}
	if (d != NULL)
		closedir(d);
	if (n > 1)
		qsort(names, n, sizeof(char *), cmp_str);
	for (size_t i = 0; i < n; i++) {
		cJSON *j = cJSON_CreateObject();
		cJSON_AddStringToObject(j, "name", names[i]);
		struct job_def def;
		char why[600];
		char *path = job_path(ex, names[i]);
		if (job_name_problem(names[i]) != NULL) {
			cJSON_AddStringToObject(j, "error", job_name_problem(names[i]));
		} else if (job_toml_load_file(path, &def, why, sizeof(why)) < 0) {
			cJSON_AddStringToObject(j, "error", why);
		} else {
			if (def.description != NULL)
				cJSON_AddStringToObject(j, "description", def.description);
			cJSON_AddStringToObject(j, "mode", job_mode_name(def.mode));
			cJSON_AddNumberToObject(j, "steps", (double)def.nsteps);
			job_def_free(&def);
		}
		free(path);
		struct job_run *run = find_run(ex, names[i]);
		if (run != NULL) {
			cJSON *st = job_run_state(run);
			cJSON *last = cJSON_AddObjectToObject(j, "last_run");
			cJSON_AddItemToObject(last, "run_id",
					      cJSON_Duplicate(cJSON_GetObjectItem(st, "run_id"), 1));
			cJSON_AddItemToObject(last, "status",
					      cJSON_Duplicate(cJSON_GetObjectItem(st, "status"), 1));
			cJSON_Delete(st);
		}
		cJSON_AddItemToArray(jobs, j);
		free(names[i]);
	}
	free(names);
	if (more)
		cJSON_AddBoolToObject(o, "truncated", true);
	reply_json(ex, "list_response", "", o, c->env.agent_id, c->env.request_id);
}

/* The command is this executor's: carry it out. */
static void job_cmd_run(struct job_cmd *c)
{
	struct executor *ex = c->ex;
	struct envelope *env = &c->env;
	const char *name = codec_param(env, "name");
	if (name == NULL)
		name = codec_param(env, "job");
	const char *job = c->job;
	if (ex->draining) {
		/* Claimed while the executor began to shut down. */
		job_reply(ex, "error", job, "the executor is shutting down; nothing was done",
			  env->agent_id, env->request_id);
		return;
	}
	if (c->arc < 0) {
		job_reply(ex, "error", job, c->aerr, env->agent_id, env->request_id);
		return;
	}
	if (c->drc < 0) {
		job_reply(ex, "error", job, c->derr, env->agent_id, env->request_id);
		return;
	}
	if (env->verb == NULL || strcmp(env->verb, "job") != 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "unknown verb '%.40s' on %s (expected job); nothing was done",
			 env->verb ? env->verb : "", EXEC_JOB_CHANNEL);
		job_reply(ex, "error", job, msg, env->agent_id, env->request_id);
		return;
	}
	const char *action = codec_param(env, "action");
	if (action == NULL)
		action = "run";
	bool is_run = strcmp(action, "run") == 0, is_stop = strcmp(action, "stop") == 0;
	bool is_status = strcmp(action, "status") == 0, is_plan = strcmp(action, "plan") == 0;
	bool is_list = strcmp(action, "list") == 0;
	if (!is_run && !is_stop && !is_status && !is_plan && !is_list) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "unknown action '%.40s' (expected run, status, stop, plan or list); nothing "
			 "was done",
			 action);
		job_reply(ex, "error", job, msg, env->agent_id, env->request_id);
		return;
	}
	bool needs_name = is_run || is_stop || is_plan || (is_status && name != NULL);
	const char *problem = needs_name ? job_name_problem(name) : NULL;
	if (problem != NULL) {
		char msg[300];
		snprintf(msg, sizeof(msg), "%s; nothing was done", problem);
		job_reply(ex, "error", job, msg, env->agent_id, env->request_id);
		return;
	}
	/* The policy: run and stop act (verb "job"), the others read ("status");
	 * the job's name is judged like a task name. */
	struct exec_auth_req *auth = exec_auth_req_new(ex, &c->id, is_run || is_stop ? V_JOB : V_STATUS,
						       needs_name ? job : NULL, env, NULL);
	const char *pstatus = "denied";
	char reason[400];
	bool allowed = exec_auth_check(ex, auth, POLICY_TASK_UNKNOWN, NULL, true, &pstatus, reason,
				       sizeof(reason));
	exec_auth_req_free(auth);
	if (!allowed) {
		char msg[500];
		snprintf(msg, sizeof(msg), "%s: %s; nothing was done", pstatus, reason);
		job_reply(ex, "error", job, msg, env->agent_id, env->request_id);
		return;
	}
	if (is_run)
		do_run(ex, c, job);
	else if (is_plan)
		do_plan(ex, c, job);
	else if (is_status)
		do_status(ex, c, needs_name ? job : NULL);
	else if (is_stop)
		do_stop(ex, c, job);
	else
		do_list(ex, c);
}

static void on_claimed(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct job_cmd *c = arg;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		log_warn("job command %s dropped: its claim was not recorded (%s)",
			 c->env.request_id ? c->env.request_id : "-",
			 reply ? reply->str : "the connection went");
	} else if (reply->type == REDIS_REPLY_STATUS) {
		job_cmd_run(c); /* OK: ours */
	} else {
		log_debug("job command %s: claimed by another executor",
			  c->env.request_id ? c->env.request_id : "-");
	}
	job_cmd_free(c);
}

/* Claims the command for this executor (SET NX on the request's claim key:
 * the request_id, else the digest hex of the bytes) and carries it out
 * when the claim is ours. */
static void job_cmd_claim(struct job_cmd *c, const char *hex)
{
	struct executor *ex = c->ex;
	char *key = xasprintf("%s%s", JOB_CLAIM_PREFIX,
			      c->env.request_id && strlen(c->env.request_id) <= 200 ? c->env.request_id
										    : hex);
	char px[24];
	snprintf(px, sizeof(px), "%d", JOB_CLAIM_MS);
	const char *argv[6] = {"SET", key, ex->cfg->node, "NX", "PX", px};
	size_t lens[6] = {3, strlen(key), strlen(ex->cfg->node), 2, 2, strlen(px)};
	if (bus_command(ex->bus, 6, argv, lens, on_claimed, c) < 0) {
		log_warn("job command %s dropped: Redis is not reachable to claim it",
			 c->env.request_id ? c->env.request_id : "-");
		job_cmd_free(c);
	}
	free(key);
}

/* A run or stop without params.node waits for the job's record: a job
 * runs where it runs, on one node of the fleet at a time. */
struct job_pending {
	struct job_cmd *c;
	bool is_stop;
	char hex[33];
};

/* Untrusted: anyone with write access may have written the record. */
static void on_job_record(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct job_pending *p = arg;
	struct job_cmd *c = p->c;
	struct executor *ex = c->ex;
	cJSON *rec = reply != NULL && reply->type == REDIS_REPLY_STRING
			     ? cJSON_ParseWithLength(reply->str, reply->len)
			     : NULL;
	const char *status = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "status"));
	const char *node = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(rec, "node"));
	if (status != NULL && strcmp(status, "running") == 0 && node != NULL &&
	    strcmp(node, ex->cfg->node) != 0 && exec_fleet_node_live(ex, node))
		snprintf(c->elsewhere, sizeof(c->elsewhere), "%.128s", node);
	cJSON_Delete(rec);
	if (p->is_stop && c->elsewhere[0] != '\0') {
		/* That node stops it (it takes a stop without claiming). */
		job_cmd_free(c);
	} else {
		job_cmd_claim(c, p->hex);
	}
	free(p);
}

void executor_handle_job(struct executor *ex, const char *data, size_t len)
{
	if (ex->conflicted || ex->draining)
		return;
	struct job_cmd *c = xcalloc(1, sizeof(*c));
	c->ex = ex;
	const char *astatus = NULL;
	c->arc = exec_auth_open(ex, data, len, util_wall_ms(), &c->id, &astatus, c->aerr,
				sizeof(c->aerr));
	if (c->arc < 0)
		snprintf(c->astatus, sizeof(c->astatus), "%s", astatus ? astatus : "error");
	const char *body = c->id.inner ? c->id.inner : data;
	size_t blen = c->id.inner ? c->id.inner_len : len;
	c->drc = codec_decode_command(body, blen, &c->env, c->derr, sizeof(c->derr));
	const char *name = c->drc == 0 ? codec_param(&c->env, "name") : NULL;
	if (name == NULL && c->drc == 0)
		name = codec_param(&c->env, "job");
	if (name != NULL) {
		snprintf(c->job, sizeof(c->job), "%s", name);
		size_t jl = strlen(c->job);
		if (jl > 4 && strcmp(c->job + jl - 4, ".job") == 0)
			c->job[jl - 4] = '\0';
	}
	/* The claim: the request_id, else the bytes' digest. */
	unsigned char h[16];
	crypto_generichash(h, sizeof(h), (const unsigned char *)data, len, NULL, 0);
	char hex[33];
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	exec_auth_id_free(&c->id);
	const char *node = c->drc == 0 ? codec_param(&c->env, "node") : NULL;
	if (node != NULL) {
		/* The fleet rule, first half: the node it names carries it out,
		 * once: its claim (as below) also keeps a copy sent again, a
		 * signed one replayed among them, from being carried out twice. */
		if (strcmp(node, ex->cfg->node) == 0)
			job_cmd_claim(c, hex);
		else
			job_cmd_free(c);
		return;
	}
	const char *action = c->drc == 0 && c->arc >= 0 ? codec_param(&c->env, "action") : NULL;
	bool is_run = c->drc == 0 && c->arc >= 0 && (action == NULL || strcmp(action, "run") == 0);
	bool is_stop = action != NULL && strcmp(action, "stop") == 0;
	if ((!is_run && !is_stop) || job_name_problem(name) != NULL) {
		job_cmd_claim(c, hex);
		return;
	}
	/* Second half: the node that runs the job takes its stop; the others
	 * read the job's record first (a job runs on one node at a time). */
	struct job_run *run = find_run(ex, c->job);
	if (is_stop && run != NULL && run->status == RUN_RUNNING) {
		job_cmd_claim(c, hex); /* the others stay silent: the claim is ours */
		return;
	}
	struct job_pending *p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->is_stop = is_stop;
	memcpy(p->hex, hex, sizeof(hex));
	char *key = xasprintf("%s%s", JOB_STATE_PREFIX, c->job);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	if (bus_command(ex->bus, 2, argv, lens, on_job_record, p) < 0) {
		log_warn("job command %s dropped: Redis is not reachable to read the job's record",
			 c->env.request_id ? c->env.request_id : "-");
		job_cmd_free(c);
		free(p);
	}
	free(key);
}
