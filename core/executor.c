/*
 * executor: see executor.h. Owns the PM2 client and event reader it uses,
 * the commands in flight, the presence key, and the relay of PM2's own
 * events to the status channel.
 *
 * A command is a small state machine driven by PM2 replies: it lists the
 * processes, decides, acts (prepare, stop, restart, delete), and replies.
 * Commands for the same task name run one after another, in arrival order,
 * so "start api" then "stop api" can never cross; commands for different
 * names run side by side (the daemon pipelines them).
 *
 * What it must not do: run a shell, pass its own environment to tasks, act
 * on input it has not validated, or leave a command without a reply.
 */
#include "executor.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "codec.h"
#include "command_check.h"
#include "log.h"
#include "pm2.h"
#include "pm2_conf.h"
#include "slash.h"
#include "util.h"

#define PRESENCE_EVERY_MS 10000
#define ERROR_BUCKET 20	   /* error replies to garbage: burst */
#define ERROR_REFILL_MS 100 /* one more token every 100 ms: 10 per second */
#define EVENTS_RETRY_MS 2000
#define DRAIN_DEADLINE_MS 15000
#define MAX_IDS 1024
#define MAX_COMMANDS 1000 /* live commands; more are refused, not queued */
#define SEEN_IDS 256	  /* request ids remembered to drop duplicates */

enum verb { V_START, V_STOP, V_RESTART, V_DELETE, V_STATUS };


struct exit_mark;

struct command {
	struct executor *ex;
	struct command *next; /* all live commands, in arrival order */
	enum verb verb;
	char verb_word[32]; /* as received: "run", "remove", ... */
	char *name;	    /* the task; NULL for status */
	char *request_id;
	char *agent_id;
	struct start_spec *spec;
	cJSON *conf; /* start: the app conf for prepare */
	int ids[MAX_IDS]; /* pm_ids acted on */
	size_t nids, idx;
	int first_id;
	bool running; /* begun (not waiting behind a command for the same name) */
	char error[300]; /* the first error PM2 gave for one of the ids */
	bool relaunched;
};

struct executor {
	struct loop *loop;
	struct bus *bus;
	const struct config *cfg;
	struct pm2_client *pm2;
	struct pm2_events *events;
	struct loop_timer *events_retry;
	char *pm2_bin; /* NULL: none found (then no daemon start) */
	char *pm2_bin_error;
	char *pm2_home;
	char *pm2_version;
	struct pm2_launch *launch;
	bool launched_once;
	bool presence_refused;
	size_t ncommands;
	char *seen[SEEN_IDS];
	size_t seen_next;
	/* The shared listing (see on_list). */
	bool list_inflight;
	struct command **batch_sent, **batch_next;
	size_t nbatch_sent, nbatch_next;
	struct command *commands;
	char **base_env_keys; /* names passed from our environment */
	size_t nbase;
	char *cwd_base;
	uint64_t default_max_memory;
	struct start_defaults start_def; /* points into the three above */
	int presence_ttl;
	char *presence_key;
	struct loop_timer *presence_timer;
	int task_count;
	int self_pm_id; /* our own pm_id when PM2 runs us; -1 otherwise */
	/* Error replies to malformed messages are rate-limited (token bucket). */
	int tokens;
	int64_t tokens_at;
	unsigned long suppressed;
	/* Shutdown */
	bool draining;
	void (*drain_done)(void *arg);
	void *drain_arg;
	struct loop_timer *drain_deadline;
	size_t unacked; /* publishes not yet acknowledged by Redis */
	struct exit_mark *marks;
	size_t nmarks;
	bool ready_logged;
};

static void command_begin(struct command *cmd);
static void drain_check(struct executor *ex);

/* --- small helpers ---------------------------------------------------- */

static const char *verb_canonical(enum verb v)
{
	static const char *const names[] = {"start", "stop", "restart", "delete", "status"};
	return names[v];
}

static int verb_parse(const char *word, enum verb *out)
{
	static const struct {
		const char *word;
		enum verb verb;
	} table[] = {
		{"start", V_START},   {"run", V_START},	    {"stop", V_STOP},	  {"restart", V_RESTART},
		{"delete", V_DELETE}, {"remove", V_DELETE}, {"status", V_STATUS}, {"list", V_STATUS},
		{"ps", V_STATUS},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(word, table[i].word) == 0) {
			*out = table[i].verb;
			return 0;
		}
	}
	return -1;
}

/* --- replies ------------------------------------------------------------- */

static void on_reply_acked(struct bus *bus, long long receivers, void *arg)
{
	(void)bus;
	(void)receivers;
	struct executor *ex = arg;
	if (ex->unacked > 0)
		ex->unacked--;
	drain_check(ex);
}

static void publish_obj(struct executor *ex, cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (s == NULL)
		return;
	if (bus_publish(ex->bus, ex->cfg->status_channel, s, strlen(s), on_reply_acked, ex) == 0)
		ex->unacked++;
	free(s);
}

static cJSON *reply_json(struct command *cmd, const char *status, const char *error, long pm_id)
{
	struct status_msg st = {
		.task_name = cmd->name,
		.status = status,
		.pm_id = pm_id,
		.request_id = cmd->request_id,
		.verb = cmd->verb_word,
		.node = cmd->ex->cfg->node,
		.agent_id = cmd->agent_id,
		.error = error,
	};
	return codec_status_json(&st, util_wall_ms());
}

static void command_free(struct command *cmd)
{
	free(cmd->name);
	free(cmd->request_id);
	free(cmd->agent_id);
	start_spec_free(cmd->spec);
	cJSON_Delete(cmd->conf);
	free(cmd);
}

/* Unlinks and frees cmd, then begins the next command for the same name. */
static void command_finish(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	struct command **pp = &ex->commands;
	while (*pp != NULL && *pp != cmd)
		pp = &(*pp)->next;
	if (*pp == cmd) {
		*pp = cmd->next;
		ex->ncommands--;
	}
	struct command *next = NULL;
	if (cmd->name != NULL) {
		for (struct command *c = ex->commands; c != NULL; c = c->next) {
			if (!c->running && c->name != NULL && strcmp(c->name, cmd->name) == 0) {
				next = c;
				break;
			}
		}
	}
	command_free(cmd);
	if (next != NULL)
		command_begin(next);
	drain_check(ex);
}

static void reply_and_finish(struct command *cmd, cJSON *obj)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(obj, "error");
	if (cJSON_IsString(error))
		log_warn("%s %s: %s%s%s", cmd->verb_word, cmd->name ? cmd->name : "-",
			 status->valuestring, ": ", error->valuestring);
	else
		log_info("%s %s: %s", cmd->verb_word, cmd->name ? cmd->name : "-",
			 cJSON_IsString(status) ? status->valuestring : "done");
	publish_obj(cmd->ex, obj);
	command_finish(cmd);
}

static void reply_simple(struct command *cmd, const char *status, const char *error, long pm_id)
{
	reply_and_finish(cmd, reply_json(cmd, status, error, pm_id));
}

/* An error reply for a message that never became a command. Rate-limited:
 * garbage on the channel must not become a flood on the status channel. */
static void reply_refused(struct executor *ex, const struct envelope *env, const char *verb,
			  const char *task, const char *error, bool limited)
{
	if (limited) {
		int64_t now = loop_now(ex->loop);
		int64_t refill = (now - ex->tokens_at) / ERROR_REFILL_MS;
		if (refill > 0) {
			ex->tokens = (int)(ex->tokens + refill > ERROR_BUCKET ? ERROR_BUCKET
									      : ex->tokens + refill);
			ex->tokens_at = now;
		}
		if (ex->tokens == 0) {
			/* Neither a reply nor a log line each: garbage must not
			 * flood the channel or the log. */
			if (ex->suppressed++ % 1000 == 0)
				log_warn("refusing malformed messages without replies (rate limit); "
					 "%lu so far, latest: %s",
					 ex->suppressed, error);
			return;
		}
		ex->tokens--;
	}
	log_warn("refused %s%s%s: %s", verb ? verb : "message", task ? " " : "", task ? task : "",
		 error);
	struct status_msg st = {
		.task_name = task,
		.status = "error",
		.pm_id = -1,
		.request_id = env ? env->request_id : NULL,
		.verb = verb,
		.node = ex->cfg->node,
		.agent_id = env ? env->agent_id : NULL,
		.error = error,
	};
	publish_obj(ex, codec_status_json(&st, util_wall_ms()));
}

/* --- PM2 availability ---------------------------------------------------- */

static void on_daemon_started(struct pm2_launch *l, bool ok, const char *error, void *arg);
static void on_presence_list(struct pm2_client *c, struct pm2_proc *procs, size_t n,
			     const char *error, void *arg);

/* A PM2 call failed. When the daemon is simply not there, start it once and
 * run the command again from the top (every command begins by listing, so
 * a second run is safe); otherwise reply with PM2's words. */
static void pm2_failed(struct command *cmd, const char *error)
{
	struct executor *ex = cmd->ex;
	if (!pm2_client_connected(ex->pm2) && !cmd->relaunched) {
		cmd->relaunched = true;
		if (ex->pm2_bin == NULL) {
			char msg[512];
			snprintf(msg, sizeof(msg), "PM2 is not running (%s) and cannot be started: %s",
				 error, ex->pm2_bin_error ? ex->pm2_bin_error : "no pm2 command");
			reply_simple(cmd, "error", msg, -1);
			return;
		}
		cmd->running = false; /* waits for the daemon */
		if (ex->launch == NULL) {
			char err[256];
			log_warn("pm2: daemon not reachable (%s); starting it with %s ping", error,
				 ex->pm2_bin);
			ex->launch = pm2_daemon_start(ex->loop, ex->pm2_bin, ex->pm2_home, 0,
						      on_daemon_started, ex, err, sizeof(err));
			if (ex->launch == NULL) {
				on_daemon_started(NULL, false, err, ex);
				return;
			}
		}
		return;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "PM2: %s", error);
	reply_simple(cmd, "error", msg, cmd->first_id);
}

static void events_connect(struct executor *ex);

static void on_daemon_started(struct pm2_launch *l, bool ok, const char *error, void *arg)
{
	(void)l;
	struct executor *ex = arg;
	ex->launch = NULL;
	if (ok)
		log_info("pm2: daemon started (PM2_HOME %s)", ex->pm2_home);
	else
		log_error("pm2: could not start the daemon: %s", error);
	/* Wake every command that waited for the daemon. Collect first: a
	 * command may finish (and unlink itself) while we walk. */
	size_t n = 0;
	for (struct command *c = ex->commands; c != NULL; c = c->next)
		if (c->relaunched && !c->running)
			n++;
	struct command **wake = xcalloc(n + 1, sizeof(*wake));
	n = 0;
	for (struct command *c = ex->commands; c != NULL; c = c->next)
		if (c->relaunched && !c->running)
			wake[n++] = c;
	for (size_t i = 0; i < n; i++) {
		if (ok) {
			command_begin(wake[i]);
		} else {
			char msg[512];
			snprintf(msg, sizeof(msg), "PM2 is not running and could not be started: %s",
				 error);
			wake[i]->running = true;
			reply_simple(wake[i], "error", msg, -1);
		}
	}
	free(wake);
	if (ok) {
		/* A new daemon numbers its processes afresh: forget what the
		 * relay remembered by pm_id. */
		ex->nmarks = 0;
		events_connect(ex);
		pm2_list(ex->pm2, on_presence_list, ex);
	}
}

/* --- the verbs ------------------------------------------------------------- */

static bool proc_active(const struct pm2_proc *p)
{
	return p->state == PM2_ST_ONLINE || p->state == PM2_ST_LAUNCHING ||
	       p->state == PM2_ST_WAITING_RESTART || p->state == PM2_ST_STOPPING;
}

static void on_started(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct command *cmd = arg;
	if (error != NULL) {
		pm2_failed(cmd, error);
		return;
	}
	int ids[MAX_IDS], pids[MAX_IDS];
	size_t n = pm2_started(result, ids, pids, MAX_IDS);
	cJSON *obj = reply_json(cmd, "started", NULL, n > 0 ? ids[0] : -1);
	if (n > 0)
		cJSON_AddNumberToObject(obj, "pid", pids[0]);
	if (n > 1) {
		cJSON *arr = cJSON_AddArrayToObject(obj, "pm_ids");
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
	}
	cJSON_AddNumberToObject(obj, "instances", (double)n);
	reply_and_finish(cmd, obj);
}

/* Builds the app conf for prepare. Done when the command arrives, so that a
 * refusal comes before anything changes (a start replacing a stopped task
 * deletes the old one first). Returns NULL with err. */
static cJSON *build_conf(struct executor *ex, const char *name, const struct start_spec *s,
			 char *err, size_t errlen)
{
	struct pm2_conf conf = {
		.name = name,
		.namespace = NULL,
		.exec_path = s->exec_path,
		.argv = (const char *const *)s->argv,
		.argc = s->argc,
		.cwd = s->cwd,
		.env = s->env,
		.nenv = s->nenv,
		.instances = s->instances,
		.cluster = s->cluster,
		.max_memory_restart = s->max_memory,
		.autorestart = s->autorestart,
	};
	return pm2_conf_build(&conf, ex->pm2_home, err, errlen);
}

static void do_prepare(struct command *cmd)
{
	const char *why = NULL;
	uint64_t call = pm2_start(cmd->ex->pm2, cmd->conf, on_started, cmd, &why);
	if (call == 0)
		reply_simple(cmd, "error", why ? why : "PM2 refused the app definition", -1);
}

static void act_next(struct command *cmd);

static void on_acted(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	struct command *cmd = arg;
	if (error != NULL) {
		if (!pm2_client_connected(cmd->ex->pm2)) {
			pm2_failed(cmd, error);
			return;
		}
		/* Stopping a stopped task is not an error for PM2, so an error
		 * here is real: go on with the other instances, then report it. */
		if (cmd->error[0] == '\0')
			snprintf(cmd->error, sizeof(cmd->error), "PM2 (pm_id %d): %s",
				 cmd->ids[cmd->idx], error);
	}
	cmd->idx++;
	act_next(cmd);
}

static void act_next(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	if (cmd->idx >= cmd->nids) {
		if (cmd->error[0] != '\0') {
			reply_simple(cmd, "error", cmd->error, cmd->first_id);
			return;
		}
		if (cmd->verb == V_START) {
			do_prepare(cmd); /* the old, stopped definition is gone */
			return;
		}
		const char *status = cmd->verb == V_STOP	  ? "stopped"
				     : cmd->verb == V_RESTART ? "restarted"
							      : "deleted";
		cJSON *obj = reply_json(cmd, status, NULL, cmd->first_id);
		if (cmd->nids > 1) {
			cJSON *arr = cJSON_AddArrayToObject(obj, "pm_ids");
			for (size_t i = 0; i < cmd->nids; i++)
				cJSON_AddItemToArray(arr, cJSON_CreateNumber(cmd->ids[i]));
		}
		reply_and_finish(cmd, obj);
		return;
	}
	int id = cmd->ids[cmd->idx];
	uint64_t call = 0;
	switch (cmd->verb) {
	case V_STOP:
		call = pm2_stop(ex->pm2, id, on_acted, cmd);
		break;
	case V_RESTART:
		call = pm2_restart(ex->pm2, id, on_acted, cmd);
		break;
	case V_START: /* replacing a stopped or errored definition */
	case V_DELETE:
		call = pm2_delete(ex->pm2, id, on_acted, cmd);
		break;
	case V_STATUS:
		break;
	}
	if (call == 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "the request for pm_id %d could not be sent to PM2", id);
		reply_simple(cmd, "error", msg, cmd->first_id);
	}
}

/* Decides and acts for one command on a listing it shares with others;
 * procs stay owned by the caller. */
static void decide(struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	struct executor *ex = cmd->ex;
	if (cmd->verb == V_STATUS) {
		cJSON *obj = reply_json(cmd, "ok", NULL, -1);
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "type", cJSON_CreateString("task_list"));
		cJSON *arr = cJSON_AddArrayToObject(obj, "tasks");
		int64_t now = util_wall_ms();
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, codec_task_json(&procs[i], now, ex->cfg->node));
		cJSON_AddNumberToObject(obj, "count", (double)n);
		reply_and_finish(cmd, obj);
		return;
	}

	bool active = false;
	cmd->nids = 0;
	cmd->first_id = -1;
	cmd->error[0] = '\0'; /* a run again after a daemon restart starts clean */
	for (size_t i = 0; i < n && cmd->nids < MAX_IDS; i++) {
		if (strcmp(procs[i].name, cmd->name) != 0)
			continue;
		if (procs[i].pm_id == ex->self_pm_id) {
			reply_simple(cmd, "error",
				     "refusing to act on the executor's own PM2 process", -1);
			return;
		}
		if (cmd->first_id < 0)
			cmd->first_id = procs[i].pm_id;
		if (proc_active(&procs[i]))
			active = true;
		cmd->ids[cmd->nids++] = procs[i].pm_id;
	}
	cmd->idx = 0;

	if (cmd->verb == V_START) {
		if (active) {
			reply_simple(cmd, "already_running", NULL, cmd->first_id);
			return;
		}
		/* A stopped or errored task of that name is replaced by the new
		 * definition: delete it first (act_next), then prepare. */
		act_next(cmd);
		return;
	}
	if (cmd->nids == 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "no task named %s", cmd->name);
		reply_simple(cmd, "not_found", msg, -1);
		return;
	}
	act_next(cmd);
}

static void send_list(struct executor *ex);

/*
 * Listing is shared: every command begins with the process list, and a
 * burst of 50 starts would otherwise ask for (and parse) 50 listings that
 * grow as the burst lands. A command may use a listing only if it began
 * before that listing was requested (a listing sent earlier could predate
 * the previous command for the same name), so commands that begin while a
 * listing is in flight wait for the next one: at most two per burst.
 */
static void on_list(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
		    void *arg)
{
	(void)c;
	struct executor *ex = arg;
	struct command **batch = ex->batch_sent;
	size_t nbatch = ex->nbatch_sent;
	ex->batch_sent = ex->batch_next;
	ex->nbatch_sent = ex->nbatch_next;
	ex->batch_next = NULL;
	ex->nbatch_next = 0;
	ex->list_inflight = false;
	if (ex->nbatch_sent > 0)
		send_list(ex);
	if (error == NULL)
		ex->task_count = (int)n;
	/* Deciding may finish a command, which may begin the next one for the
	 * same name: that one joins the batch now in flight or a new one. */
	for (size_t i = 0; i < nbatch; i++) {
		if (error != NULL)
			pm2_failed(batch[i], error);
		else
			decide(batch[i], procs, n);
	}
	free(batch);
	if (error == NULL)
		pm2_procs_free(procs, n);
}

static void send_list(struct executor *ex)
{
	ex->list_inflight = true;
	pm2_list(ex->pm2, on_list, ex);
}

static void command_begin(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	cmd->running = true;
	if (!ex->list_inflight) {
		ex->batch_sent = xrealloc(ex->batch_sent, (ex->nbatch_sent + 1) * sizeof(cmd));
		ex->batch_sent[ex->nbatch_sent++] = cmd;
		send_list(ex);
	} else {
		ex->batch_next = xrealloc(ex->batch_next, (ex->nbatch_next + 1) * sizeof(cmd));
		ex->batch_next[ex->nbatch_next++] = cmd;
	}
}

/* --- intake ---------------------------------------------------------------- */

/* Remembers request ids in a ring; true when id is in it already. */
static bool seen_before(struct executor *ex, const char *id)
{
	for (size_t i = 0; i < SEEN_IDS; i++)
		if (ex->seen[i] != NULL && strcmp(ex->seen[i], id) == 0)
			return true;
	free(ex->seen[ex->seen_next]);
	ex->seen[ex->seen_next] = xstrdup(id);
	ex->seen_next = (ex->seen_next + 1) % SEEN_IDS;
	return false;
}

void executor_handle(struct executor *ex, const char *data, size_t len)
{
	struct envelope env;
	char err[512];
	if (codec_decode_command(data, len, &env, err, sizeof(err)) < 0) {
		reply_refused(ex, &env, env.verb, NULL, err, true);
		codec_envelope_free(&env);
		return;
	}
	if (env.request_id != NULL && seen_before(ex, env.request_id)) {
		/* The bus sends a message again when a connection drops before
		 * Redis confirmed it; a command must not run twice for that. */
		log_debug("request %s seen already: ignored", env.request_id);
		codec_envelope_free(&env);
		return;
	}
	if (ex->ncommands >= MAX_COMMANDS) {
		reply_refused(ex, &env, env.verb, codec_param(&env, "task"),
			      "too many commands waiting; nothing was done, send it again later",
			      true);
		codec_envelope_free(&env);
		return;
	}
	if (ex->draining) {
		/* Still subscribed while finishing the last commands: say no
		 * rather than take work that would be cut off. */
		reply_refused(ex, &env, env.verb, codec_param(&env, "task"),
			      "this executor is shutting down; nothing was done", false);
		codec_envelope_free(&env);
		return;
	}
	enum verb verb;
	if (verb_parse(env.verb, &verb) < 0) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "unknown verb '%.40s' (expected start, stop, restart, delete or status)",
			 env.verb);
		reply_refused(ex, &env, env.verb, NULL, msg, true);
		codec_envelope_free(&env);
		return;
	}
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	if (verb != V_STATUS) {
		const char *problem = name == NULL ? "the command needs a task name (--task=NAME)"
						   : check_task_name(name);
		if (problem != NULL) {
			reply_refused(ex, &env, env.verb, name, problem, false);
			codec_envelope_free(&env);
			return;
		}
	}
	if (codec_param(&env, "datum") != NULL)
		log_debug("datum '%s' given: datum files are not read by this version",
			  codec_param(&env, "datum"));

	struct start_spec *spec = NULL;
	cJSON *conf = NULL;
	if (verb == V_START) {
		spec = check_start(&env, &ex->start_def, err, sizeof(err));
		if (spec != NULL && (conf = build_conf(ex, name, spec, err, sizeof(err))) == NULL) {
			start_spec_free(spec);
			spec = NULL;
		}
		if (spec == NULL) {
			reply_refused(ex, &env, env.verb, name, err, false);
			codec_envelope_free(&env);
			return;
		}
	}

	struct command *cmd = xcalloc(1, sizeof(*cmd));
	cmd->ex = ex;
	cmd->verb = verb;
	snprintf(cmd->verb_word, sizeof(cmd->verb_word), "%s", env.verb);
	cmd->name = verb == V_STATUS ? NULL : xstrdup(name);
	cmd->request_id = env.request_id ? xstrdup(env.request_id) : NULL;
	cmd->agent_id = env.agent_id ? xstrdup(env.agent_id) : NULL;
	cmd->spec = spec;
	cmd->conf = conf;
	cmd->first_id = -1;
	codec_envelope_free(&env);
	log_debug("command %s %s (request %s)", verb_canonical(verb), cmd->name ? cmd->name : "",
		  cmd->request_id ? cmd->request_id : "-");

	/* Append; run now unless a command for the same name is still live. */
	bool busy = false;
	struct command **pp = &ex->commands;
	while (*pp != NULL) {
		if (cmd->name != NULL && (*pp)->name != NULL && strcmp((*pp)->name, cmd->name) == 0)
			busy = true;
		pp = &(*pp)->next;
	}
	*pp = cmd;
	ex->ncommands++;
	if (!busy)
		command_begin(cmd);
}

/* --- PM2 events relayed ------------------------------------------------------ */

/* What the relay remembers of a process between its events. */
struct exit_mark {
	int pm_id;
	bool stopping; /* saw the "stopping" half of a stop */
	bool errored;  /* relayed that PM2 gave up; until it is online again */
	int64_t exit_at;     /* when the last exit was relayed (monotonic ms) */
	unsigned suppressed; /* exits not relayed since (a crash loop) */
};

/* A crash loop restarts a task many times a second: one exit message per
 * task per this many ms, the next one counting those in between. */
#define EXIT_RELAY_MS 5000

static struct exit_mark *exit_mark(struct executor *ex, int pm_id)
{
	for (size_t i = 0; i < ex->nmarks; i++)
		if (ex->marks[i].pm_id == pm_id)
			return &ex->marks[i];
	/* Bounded: ids are reused rarely, and a full table starts over. */
	if (ex->nmarks == 4096)
		ex->nmarks = 0;
	ex->marks = xrealloc(ex->marks, (ex->nmarks + 1) * sizeof(*ex->marks));
	ex->marks[ex->nmarks] = (struct exit_mark){.pm_id = pm_id};
	return &ex->marks[ex->nmarks++];
}

static void relay(struct executor *ex, const struct pm2_event *ev, const char *status,
		  const char *error)
{
	struct status_msg st = {
		.task_name = ev->process_name,
		.status = status,
		.pm_id = ev->pm_id,
		.node = ex->cfg->node,
		.error = error,
	};
	cJSON *obj = codec_status_json(&st, util_wall_ms());
	cJSON_AddStringToObject(obj, "source", "pm2");
	cJSON_AddStringToObject(obj, "event", ev->event);
	if (ev->status[0])
		cJSON_AddStringToObject(obj, "pm2_status", ev->status);
	publish_obj(ex, obj);
}

static void on_pm2_event(struct pm2_events *r, const struct pm2_event *ev, void *arg)
{
	(void)r;
	struct executor *ex = arg;
	if (ev->kind != PM2_EV_PROCESS || ev->pm_id < 0 || ev->process_name[0] == '\0')
		return;
	log_debug("pm2 event: %s %s (pm_id %d) status=%s manually=%d", ev->event,
		  ev->process_name, ev->pm_id, ev->status, ev->manually);
	struct exit_mark *m = exit_mark(ex, ev->pm_id);
	if (strcmp(ev->event, "exit") == 0) {
		/*
		 * PM2 says "manually" false for every exit, so a stop is told
		 * apart by its shape: an exit with status "stopping", then one
		 * with "stopped". A lone "stopped" exit is a task that ended by
		 * itself (PM2 restarts it); "errored" means PM2 gave up.
		 */
		if (strcmp(ev->status, "stopping") == 0) {
			m->stopping = true;
			return;
		}
		if (strcmp(ev->status, "stopped") == 0 && m->stopping) {
			m->stopping = false;
			return;
		}
		m->stopping = false;
		const cJSON *proc = ev->payload ? cJSON_GetObjectItemCaseSensitive(ev->payload, "process")
						: NULL;
		const cJSON *code = proc ? cJSON_GetObjectItemCaseSensitive(proc, "exit_code") : NULL;
		char msg[200];
		if (cJSON_IsNumber(code))
			snprintf(msg, sizeof(msg), "the task exited with code %d", (int)code->valuedouble);
		else
			snprintf(msg, sizeof(msg), "the task exited");
		if (strcmp(ev->status, "errored") == 0) {
			/* PM2 sends "restart overlimit" before this exit: say it once. */
			if (!m->errored) {
				char more[200];
				snprintf(more, sizeof(more), "%s; PM2 gave up restarting it", msg);
				relay(ex, ev, "errored", more);
			}
			m->errored = true;
		} else {
			int64_t now = loop_now(ex->loop);
			if (m->exit_at != 0 && now - m->exit_at < EXIT_RELAY_MS) {
				m->suppressed++;
				return;
			}
			if (m->suppressed > 0) {
				size_t k = strlen(msg);
				snprintf(msg + k, sizeof(msg) - k, " (and %u more time%s since)",
					 m->suppressed, m->suppressed == 1 ? "" : "s");
			}
			m->exit_at = now;
			m->suppressed = 0;
			relay(ex, ev, "exited", msg);
		}
	} else if (strcmp(ev->event, "restart overlimit") == 0) {
		if (!m->errored)
			relay(ex, ev, "errored", "the task restarted too often; PM2 stopped restarting it");
		m->errored = true;
	} else if (strcmp(ev->event, "online") == 0) {
		m->errored = false;
	}
}

static void on_events_retry(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	ex->events_retry = NULL;
	events_connect(ex);
}

static void on_events_state(struct pm2_events *r, bool connected, const char *reason, void *arg)
{
	(void)r;
	struct executor *ex = arg;
	if (connected) {
		log_debug("pm2: listening to the daemon's events");
		return;
	}
	log_debug("pm2: event socket: %s", reason);
	if (ex->events_retry == NULL && !ex->draining)
		ex->events_retry = loop_timer_add(ex->loop, EVENTS_RETRY_MS, on_events_retry, ex);
}

static void events_connect(struct executor *ex)
{
	if (pm2_events_connected(ex->events))
		return;
	if (pm2_events_connect(ex->events) < 0 && ex->events_retry == NULL && !ex->draining)
		ex->events_retry = loop_timer_add(ex->loop, EVENTS_RETRY_MS, on_events_retry, ex);
}

/* --- presence ------------------------------------------------------------------ */

static void write_presence(struct executor *ex);

static void on_version(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct executor *ex = arg;
	if (error == NULL && cJSON_IsString(result)) {
		free(ex->pm2_version);
		ex->pm2_version = xstrdup(result->valuestring);
	}
	write_presence(ex);
}

static void on_presence_set(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct executor *ex = arg;
	bool refused = reply != NULL && reply->type == REDIS_REPLY_ERROR;
	/* An ACL without the presence keys: say so once, not every 10 s. */
	if (refused && !ex->presence_refused)
		log_error("redis refused the presence key %s: %s", ex->presence_key ? ex->presence_key : "", reply->str);
	ex->presence_refused = refused;
}

static void write_presence(struct executor *ex)
{
	/* After the DEL of a shutdown, a late listing must not bring it back. */
	if (ex->draining || ex->presence_key == NULL || !bus_can_command(ex->bus))
		return;
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "node", ex->cfg->node);
	cJSON_AddStringToObject(obj, "version", TASKER_VERSION);
	cJSON_AddStringToObject(obj, "pm2_version", ex->pm2_version ? ex->pm2_version : "unknown");
	cJSON_AddBoolToObject(obj, "pm2_reachable", pm2_client_connected(ex->pm2));
	cJSON_AddNumberToObject(obj, "tasks", ex->task_count);
	cJSON_AddNumberToObject(obj, "pid", (double)getpid());
	cJSON_AddStringToObject(obj, "channel", ex->cfg->channel);
	cJSON_AddStringToObject(obj, "status_channel", ex->cfg->status_channel);
	char stamp[40];
	util_iso_time(util_wall_ms(), stamp, sizeof(stamp));
	cJSON_AddStringToObject(obj, "seen", stamp);
	char *value = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	char ttl[16];
	snprintf(ttl, sizeof(ttl), "%d", ex->presence_ttl);
	const char *argv[5] = {"SET", ex->presence_key, value, "EX", ttl};
	size_t lens[5] = {3, strlen(ex->presence_key), strlen(value), 2, strlen(ttl)};
	bus_command(ex->bus, 5, argv, lens, on_presence_set, ex);
	free(value);
}

static void on_presence_list(struct pm2_client *c, struct pm2_proc *procs, size_t n,
			     const char *error, void *arg)
{
	(void)c;
	struct executor *ex = arg;
	if (error == NULL) {
		ex->task_count = (int)n;
		pm2_procs_free(procs, n);
		events_connect(ex);
		if (ex->pm2_version == NULL) {
			pm2_version(ex->pm2, on_version, ex); /* writes the presence */
			return;
		}
	} else {
		ex->task_count = -1;
		/* An executor exists to drive PM2: start the daemon once, at
		 * start-up, rather than on the first command. */
		if (!ex->launched_once && ex->launch == NULL && ex->pm2_bin != NULL &&
		    !pm2_client_connected(ex->pm2)) {
			char err[256];
			ex->launched_once = true;
			log_info("pm2: no daemon answers at %s; starting one", ex->pm2_home);
			ex->launch = pm2_daemon_start(ex->loop, ex->pm2_bin, ex->pm2_home, 0,
						      on_daemon_started, ex, err, sizeof(err));
			if (ex->launch == NULL)
				log_error("pm2: could not start the daemon: %s", err);
		}
	}
	write_presence(ex);
}

static void on_presence_timer(struct loop *loop, void *arg)
{
	struct executor *ex = arg;
	ex->presence_timer = loop_timer_add(loop, PRESENCE_EVERY_MS, on_presence_timer, ex);
	if (ex->launch == NULL)
		pm2_list(ex->pm2, on_presence_list, ex);
	else
		write_presence(ex);
}

/* --- lifecycle ---------------------------------------------------------------- */

void executor_bus_state(struct executor *ex, bool ready)
{
	if (ready) {
		/* "ready" means Redis confirmed the subscription: a command sent
		 * after this line is seen. */
		log_info("ready: listening on %s (Redis %s), replying on %s, PM2_HOME %s",
			 ex->cfg->channel, bus_address(ex->bus), ex->cfg->status_channel,
			 ex->pm2_home);
		ex->ready_logged = true;
		write_presence(ex);
	}
}

struct executor *executor_new(struct loop *loop, struct bus *bus, const struct config *cfg,
			      const struct exec_options *opt, char *err, size_t errlen)
{
	char *home = opt->pm2_home ? xstrdup(opt->pm2_home) : pm2_home_path();
	if (home == NULL) {
		snprintf(err, errlen, "neither PM2_HOME nor HOME is set: cannot find PM2");
		return NULL;
	}
	struct executor *ex = xcalloc(1, sizeof(*ex));
	ex->loop = loop;
	ex->bus = bus;
	ex->cfg = cfg;
	ex->pm2_home = home;
	ex->self_pm_id = -1;
	const char *self = getenv("pm_id");
	if (self != NULL && isdigit((unsigned char)self[0]))
		ex->self_pm_id = atoi(self);
	ex->presence_ttl = opt->presence_ttl > 0 ? opt->presence_ttl : 30;
	ex->default_max_memory = opt->default_max_memory;
	ex->tokens = ERROR_BUCKET;

	static const char *const base[] = {"PATH", "HOME", "LANG"};
	for (size_t i = 0; i < 3; i++) {
		ex->base_env_keys = xrealloc(ex->base_env_keys, (ex->nbase + 1) * sizeof(char *));
		ex->base_env_keys[ex->nbase++] = xstrdup(base[i]);
	}
	if (opt->pass_env != NULL && opt->pass_env[0] != '\0') {
		char *list = xstrdup(opt->pass_env);
		char *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!check_env_name(tok)) {
				snprintf(err, errlen, "--pass-env: '%.60s' is not a variable name", tok);
				free(list);
				executor_free(ex);
				return NULL;
			}
			ex->base_env_keys = xrealloc(ex->base_env_keys, (ex->nbase + 1) * sizeof(char *));
			ex->base_env_keys[ex->nbase++] = xstrdup(tok);
		}
		free(list);
	}

	char cwd[PATH_MAX];
	const char *basedir = opt->cwd_base;
	if (basedir == NULL)
		basedir = getcwd(cwd, sizeof(cwd)) ? cwd : "/";
	char real[PATH_MAX];
	if (realpath(basedir, real) == NULL) {
		snprintf(err, errlen, "--cwd-base %.200s: %s", basedir, strerror(errno));
		executor_free(ex);
		return NULL;
	}
	ex->cwd_base = xstrdup(real);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ex->start_def = (struct start_defaults){
		.pass_env = (const char *const *)ex->base_env_keys,
		.npass = ex->nbase,
		.cwd_base = ex->cwd_base,
		.max_memory = ex->default_max_memory,
		.cpus = cpus > 0 ? (int)cpus : 1,
	};

	char why[256];
	ex->pm2_bin = opt->no_start_pm2 ? NULL : pm2_find_bin(opt->pm2_bin, NULL, why, sizeof(why));
	if (opt->no_start_pm2) {
		ex->pm2_bin_error = xstrdup("--no-start-pm2 is set");
	} else if (ex->pm2_bin == NULL) {
		if (opt->pm2_bin != NULL) {
			snprintf(err, errlen, "--pm2: %s", why);
			executor_free(ex);
			return NULL;
		}
		ex->pm2_bin_error = xstrdup(why);
		log_warn("pm2: %s; tasker can use a running daemon but cannot start one", why);
	}

	ex->pm2 = pm2_client_new(loop, ex->pm2_home, NULL, ex);
	ex->events = pm2_events_new(loop, ex->pm2_home, 0, on_pm2_event, on_events_state, ex);
	ex->presence_key = xasprintf("b00t:tasker:executor:%s", cfg->node);
	ex->presence_timer = loop_timer_add(loop, 0, on_presence_timer, ex);
	return ex;
}

size_t executor_inflight(const struct executor *ex)
{
	size_t n = 0;
	for (const struct command *c = ex->commands; c != NULL; c = c->next)
		n++;
	return n;
}

const char *executor_pm2_home(const struct executor *ex)
{
	return ex->pm2_home;
}

static void drain_finish(struct executor *ex)
{
	if (ex->drain_done == NULL)
		return;
	void (*done)(void *) = ex->drain_done;
	ex->drain_done = NULL;
	loop_timer_cancel(ex->drain_deadline);
	ex->drain_deadline = NULL;
	done(ex->drain_arg);
}

static void on_drain_deadline(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	ex->drain_deadline = NULL;
	log_warn("shutdown: giving up on %zu command(s) and %zu reply(ies) after %d s",
		 executor_inflight(ex), ex->unacked, DRAIN_DEADLINE_MS / 1000);
	drain_finish(ex);
}

static void on_presence_deleted(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct executor *ex = arg;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warn("redis refused to delete the presence key: %s", reply->str);
	if (ex->unacked > 0)
		ex->unacked--;
	drain_check(ex);
}

static void drain_check(struct executor *ex)
{
	if (!ex->draining || ex->drain_done == NULL || ex->commands != NULL)
		return;
	if (ex->presence_key != NULL && bus_can_command(ex->bus)) {
		/* Others learn at once that this executor is gone, not 30 s later. */
		const char *argv[2] = {"DEL", ex->presence_key};
		size_t lens[2] = {3, strlen(ex->presence_key)};
		if (bus_command(ex->bus, 2, argv, lens, on_presence_deleted, ex) == 0)
			ex->unacked++;
		free(ex->presence_key);
		ex->presence_key = NULL;
	}
	if (ex->unacked == 0 || !bus_can_command(ex->bus))
		drain_finish(ex);
}

void executor_drain(struct executor *ex, void (*done)(void *arg), void *arg)
{
	ex->draining = true;
	ex->drain_done = done;
	ex->drain_arg = arg;
	loop_timer_cancel(ex->presence_timer);
	ex->presence_timer = NULL;
	if (ex->commands != NULL)
		log_info("shutdown: finishing %zu command(s) in flight", executor_inflight(ex));
	ex->drain_deadline = loop_timer_add(ex->loop, DRAIN_DEADLINE_MS, on_drain_deadline, ex);
	drain_check(ex);
}

void executor_free(struct executor *ex)
{
	if (ex == NULL)
		return;
	while (ex->commands != NULL) {
		struct command *c = ex->commands;
		ex->commands = c->next;
		command_free(c);
	}
	free(ex->batch_sent);
	free(ex->batch_next);
	if (ex->launch != NULL)
		pm2_launch_cancel(ex->launch);
	pm2_events_free(ex->events);
	pm2_client_free(ex->pm2);
	loop_timer_cancel(ex->events_retry);
	loop_timer_cancel(ex->presence_timer);
	loop_timer_cancel(ex->drain_deadline);
	for (size_t i = 0; i < ex->nbase; i++)
		free(ex->base_env_keys[i]);
	free(ex->base_env_keys);
	free(ex->cwd_base);
	free(ex->pm2_bin);
	free(ex->pm2_bin_error);
	free(ex->pm2_home);
	free(ex->pm2_version);
	free(ex->presence_key);
	free(ex->marks);
	for (size_t i = 0; i < SEEN_IDS; i++)
		free(ex->seen[i]);
	free(ex);
}
