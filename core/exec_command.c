/*
 * exec_command: a command from the moment it is taken (exec_intake.c) to
 * its one reply.
 *
 * A command is a small state machine driven by PM2 replies: it learns the
 * processes of its name, decides, acts (prepare, stop, restart, delete),
 * and replies. It learns them from the live view (exec_view.c) when the
 * view is fresh and the name is not in flux; else, and always for status,
 * from a listing. A call that fails on a decision taken from the view (a
 * process deleted behind the executor's back) makes the view stale and
 * runs the command once more from a fresh listing.
 * Commands for the same task name run one after another, in arrival order,
 * so "start api" then "stop api" can never cross; commands for different
 * names run side by side (the daemon pipelines them).
 *
 * Time is counted from arrival. Every command has one deadline: its expiry
 * (params.ttl after its timestamp, default 60 s) or the executor's answer
 * budget (--command-timeout, default 8 s), whichever comes first. Past it,
 * a command that has not touched PM2 yet is answered `expired` (or, when
 * only the budget ran out, an error saying nothing was done); a command
 * whose calls are in flight lists PM2 again and answers what really
 * happened: PM2 may finish a start after the caller stopped waiting.
 *
 * The reply is exec_reply.c's, the truth after a deadline exec_verify.c's
 * (the record they share: exec_command_int.h).
 *
 * Must not: leave a command without exactly one reply, act on a command
 * past its expiry, or act twice for one command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "codec.h"
#include "command_target.h"
#include "exec_command_int.h"
#include "exec_result.h"
#include "executor_int.h"
#include "log.h"
#include "metrics_exec.h"
#include "loop.h"
#include "util.h"



/* --- small helpers ---------------------------------------------------- */

const char *exec_verb_name(enum verb v)
{
	static const char *const names[] = {"start", "stop",   "restart", "delete",
					    "status", "logs", "result",  "job"};
	return names[v];
}

bool cmd_proc_active(const struct pm2_proc *p)
{
	return p->state == PM2_ST_ONLINE || p->state == PM2_ST_LAUNCHING ||
	       p->state == PM2_ST_WAITING_RESTART || p->state == PM2_ST_STOPPING;
}

double cmd_budget_s(const struct executor *ex)
{
	return (double)ex->command_timeout_ms / 1000.0;
}

/* --- PM2 availability ---------------------------------------------------- */

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
			cmd_reply_simple(cmd, "error", msg, -1);
			return;
		}
		cmd->phase = PH_WAIT_DAEMON;
		if (ex->launch == NULL) {
			char err[256];
			log_warn("pm2: daemon not reachable (%s); starting it with %s ping", error,
				 ex->pm2_bin);
			ex->launch = pm2_daemon_start(ex->loop, ex->pm2_bin, ex->pm2_home, 0,
						      exec_daemon_started, ex, err, sizeof(err));
			if (ex->launch == NULL) {
				exec_daemon_started(NULL, false, err, ex);
				return;
			}
		}
		return;
	}
	char msg[512];
	snprintf(msg, sizeof(msg), "PM2: %s", error);
	cmd_reply_simple(cmd, "error", msg, cmd->first_id);
}

void exec_daemon_started(struct pm2_launch *l, bool ok, const char *error, void *arg)
{
	(void)l;
	struct executor *ex = arg;
	ex->launch = NULL;
	if (ok)
		log_info("pm2: daemon started (PM2_HOME %s)", ex->pm2_home);
	else
		log_error("pm2: could not start the daemon: %s", error);
	/* A daemon that died hard left its fork-mode apps running: stop them
	 * before any command runs again, or a start run again doubles them. */
	if (ok)
		exec_orphans_check(ex, "a new daemon was started");
	/* Wake every command that waited for the daemon. Collect first: a
	 * command may finish (and unlink itself) while we walk. */
	size_t n = 0;
	for (struct command *c = ex->commands; c != NULL; c = c->next)
		if (c->phase == PH_WAIT_DAEMON)
			n++;
	struct command **wake = xcalloc(n + 1, sizeof(*wake));
	n = 0;
	for (struct command *c = ex->commands; c != NULL; c = c->next)
		if (c->phase == PH_WAIT_DAEMON)
			wake[n++] = c;
	for (size_t i = 0; i < n; i++) {
		if (ok) {
			command_begin(wake[i]);
		} else {
			char msg[512];
			snprintf(msg, sizeof(msg), "PM2 is not running and could not be started: %s",
				 error);
			cmd_reply_simple(wake[i], "error", msg, -1);
		}
	}
	free(wake);
	if (ok) {
		exec_relay_forget(ex);
		exec_events_connect(ex);
		exec_presence_refresh(ex);
	}
}

/* --- the verbs ------------------------------------------------------------- */

/* The status an answer's record carries (pm2_env.status), or def. */
static enum pm2_status answer_status(const cJSON *rec, enum pm2_status def)
{
	const cJSON *env = cJSON_GetObjectItemCaseSensitive(rec, "pm2_env");
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(env, "status");
	enum pm2_status s = cJSON_IsString(st) ? pm2_status_parse(st->valuestring) : PM2_ST_UNKNOWN;
	return s == PM2_ST_UNKNOWN ? def : s;
}

static void command_begin_listing(struct command *cmd);

static void on_started(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct command *cmd = arg;
	cmd->prepare_call = 0;
	if (error != NULL) {
		exec_view_stale(cmd->ex, "a start failed");
		pm2_failed(cmd, error);
		return;
	}
	int ids[MAX_IDS], pids[MAX_IDS];
	size_t n = pm2_started(result, ids, pids, MAX_IDS);
	/* The view learns the new pm_ids from the answer itself: a stop
	 * right after this reply must find them. */
	const cJSON *rec = cJSON_IsArray(result) ? result->child : NULL;
	for (size_t i = 0; i < n; i++, rec = rec ? rec->next : NULL)
		exec_view_set(cmd->ex, ids[i], cmd->name, answer_status(rec, PM2_ST_ONLINE), pids[i]);
	if (n == 0)
		exec_view_stale(cmd->ex, "a start's answer named no process");
	cJSON *obj = cmd_reply_json(cmd, "started", NULL, n > 0 ? ids[0] : -1);
	if (n > 0)
		cJSON_AddNumberToObject(obj, "pid", pids[0]);
	cmd_add_ids(obj, ids, n);
	cJSON_AddNumberToObject(obj, "instances", (double)n);
	cmd_reply_and_finish(cmd, obj);
}

static void do_prepare(struct command *cmd)
{
	const char *why = NULL;
	cmd->phase = PH_ACTING;
	cmd->acted = cmd->prepared = true;
	cmd->prepare_call = pm2_start(cmd->ex->pm2, cmd->conf, on_started, cmd, &why);
	if (cmd->prepare_call == 0)
		cmd_reply_simple(cmd, "error", why ? why : "PM2 refused the app definition", -1);
}

static void act_more(struct command *cmd);

void cmd_act_done(struct command *cmd)
{
	if (cmd->view_miss) {
		/* The view was wrong about this name (someone else changed
		 * PM2): learn the truth and decide again, once. What was done
		 * with success is not done twice (done_ids). */
		log_debug("%s %s: a call failed on the view's word; listing", cmd->verb_word,
			  cmd->name);
		cmd->view_miss = false;
		cmd->rerun = true;
		cmd->from_view = false;
		cmd->sent = cmd->answered = 0;
		command_begin_listing(cmd);
		return;
	}
	if (cmd->error[0] != '\0') {
		cmd_reply_simple(cmd, "error", cmd->error, cmd->first_id);
		return;
	}
	if (cmd->verb == V_START) {
		do_prepare(cmd); /* the old, stopped definition is gone */
		return;
	}
	const char *status = cmd->verb == V_STOP      ? "stopped"
			     : cmd->verb == V_RESTART ? "restarted"
						      : "deleted";
	cJSON *obj = cmd_reply_json(cmd, status, NULL, cmd->first_id);
	cmd_add_ids(obj, cmd->ids, cmd->nids);
	cmd_reply_and_finish(cmd, obj);
}

static void on_acted(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct act_slot *slot = arg;
	struct command *cmd = slot->cmd;
	cmd->answered++;
	if (error == NULL) {
		if (cmd->verb == V_STOP)
			exec_view_set(cmd->ex, slot->pm_id, cmd_task(cmd),
				      answer_status(result, PM2_ST_STOPPED), 0);
		else if (cmd->verb == V_RESTART)
			exec_view_set(cmd->ex, slot->pm_id, cmd_task(cmd),
				      answer_status(result, PM2_ST_ONLINE), 0);
		else
			exec_view_gone(cmd->ex, slot->pm_id);
		cmd->done_ids = xrealloc(cmd->done_ids, (cmd->ndone + 1) * sizeof(int));
		cmd->done_ids[cmd->ndone++] = slot->pm_id;
	} else {
		exec_view_stale(cmd->ex, "a call failed");
	}
	if (error != NULL && !pm2_client_connected(cmd->ex->pm2))
		cmd->lost = true;
	else if (error != NULL && cmd->from_view && !cmd->rerun)
		cmd->view_miss = true; /* run again from a listing (cmd_act_done) */
	else if (error != NULL && cmd->error[0] == '\0')
		/* Stopping a stopped task is not an error for PM2, so an error
		 * here is real: go on with the other instances, then report it. */
		snprintf(cmd->error, sizeof(cmd->error), "PM2: %s", error);
	if (cmd->lost) {
		/* The connection went: the client fails every call in flight,
		 * each through here, from a list cancelling no longer reaches.
		 * Only the last may run the command again (from the top, once
		 * the daemon is back): it is then the only one left. */
		if (cmd->answered == cmd->sent) {
			cmd->lost = false;
			cmd->view_miss = false;
			cmd->sent = cmd->answered = 0;
			pm2_failed(cmd, error != NULL ? error : "lost the connection to the PM2 daemon");
		}
		return;
	}
	act_more(cmd);
}

/* Sends the calls for cmd->ids, ACT_WINDOW at a time: deleting 1024
 * instances one call after another took 114 s. */
static void act_more(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	if (cmd->answered == cmd->nids) {
		cmd_act_done(cmd);
		return;
	}
	cmd->phase = PH_ACTING;
	while (cmd->sent < cmd->nids && cmd->sent - cmd->answered < ACT_WINDOW) {
		int id = cmd->ids[cmd->sent];
		struct act_slot *slot = &cmd->slots[cmd->sent];
		*slot = (struct act_slot){cmd, id};
		uint64_t call = 0;
		switch (cmd->verb) {
		case V_STOP:
			call = pm2_stop(ex->pm2, id, on_acted, slot);
			break;
		case V_RESTART:
			call = pm2_restart(ex->pm2, id, on_acted, slot);
			break;
		case V_START: /* replacing a stopped or errored definition */
		case V_DELETE:
			call = pm2_delete(ex->pm2, id, on_acted, slot);
			break;
		case V_STATUS:
		case V_LOGS:
		case V_RESULT:
		case V_JOB:
			break;
		}
		if (call == 0) {
			char msg[160];
			snprintf(msg, sizeof(msg), "the request for pm_id %d could not be sent to PM2",
				 id);
			cmd_reply_simple(cmd, "error", msg, cmd->first_id);
			return;
		}
		cmd->acted = true;
		cmd->calls[cmd->sent++] = call;
	}
}

static void on_marked(void *arg, bool ok)
{
	struct mark_ticket *t = arg;
	struct command *cmd = t->cmd;
	free(t);
	if (cmd == NULL)
		return; /* answered meanwhile (its deadline) */
	cmd->mark = NULL;
	if (!ok) {
		cmd_reply_simple(cmd, "error",
			     "Redis did not record the command before it would act; nothing was done",
			     cmd->first_id);
		return;
	}
	cmd->marked = true;
	act_more(cmd);
}

static void command_act(struct command *cmd);

static void on_pinged(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	struct command *cmd = arg;
	cmd->ping_call = 0;
	if (error != NULL) {
		exec_view_stale(cmd->ex, "a ping failed");
		pm2_failed(cmd, error);
		return;
	}
	cmd->pinged = true;
	command_act(cmd);
}

/* The first call that changes PM2. A command from the fleet's stream first
 * records that it acts, so that if this executor dies, the command is
 * verified when it comes back, not run again.
 *
 * A command decided from the view first pings the daemon (nearly free for
 * it, unlike a listing): as when it listed, nothing is sent that changes
 * PM2 until the daemon has answered something since the command arrived,
 * so a stalled daemon leaves the command undone (cmd_expired, or "nothing was
 * done") rather than carried out late. */
static void command_act(struct command *cmd)
{
	if (cmd->from_view && !cmd->pinged) {
		cmd->ping_call = pm2_ping(cmd->ex->pm2, on_pinged, cmd);
		if (cmd->ping_call == 0)
			cmd_reply_simple(cmd, "error", "the ping could not be sent to PM2", -1);
		return;
	}
	if (!cmd->has_entry || cmd->marked) {
		act_more(cmd);
		return;
	}
	struct mark_ticket *t = xmalloc(sizeof(*t));
	t->cmd = cmd;
	cmd->mark = t;
	cmd->phase = PH_ACTING;
	if (exec_fleet_mark(cmd->ex, &cmd->entry, on_marked, t) < 0) {
		cmd->mark = NULL;
		free(t);
		cmd_reply_simple(cmd, "error", "Redis is not reachable to record the command; nothing was done",
			     cmd->first_id);
	}
}

bool cmd_expired(const struct command *cmd)
{
	return util_wall_ms() >= cmd->expires_wall;
}

static bool is_done(const struct command *cmd, int pm_id)
{
	for (size_t i = 0; i < cmd->ndone; i++)
		if (cmd->done_ids[i] == pm_id)
			return true;
	return false;
}

/* Run again after a miss: the ids acted on with success the first time
 * go first and count as sent and answered, so act_more does not act on
 * them twice (a restart restarted twice). */
static void skip_done(struct command *cmd)
{
	size_t k = 0;
	for (size_t i = 0; i < cmd->nids; i++) {
		if (!is_done(cmd, cmd->ids[i]))
			continue;
		int id = cmd->ids[i];
		cmd->ids[i] = cmd->ids[k];
		cmd->ids[k++] = id;
	}
	cmd->sent = cmd->answered = k;
}

/* Decides and acts for one command on a listing it shares with others, or
 * on the view's records of its name; procs stay owned by the caller. */
static void decide(struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	struct executor *ex = cmd->ex;
	if (!cmd->acted && cmd_expired(cmd)) {
		cmd_reply_expired(cmd);
		return;
	}
	if (cmd->verb == V_STATUS) {
		cJSON *obj = cmd_reply_json(cmd, "ok", NULL, -1);
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "type", cJSON_CreateString("task_list"));
		cJSON *arr = cJSON_AddArrayToObject(obj, "tasks");
		int64_t now = util_wall_ms();
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, codec_task_json(&procs[i], now, ex->cfg->node));
		cJSON_AddNumberToObject(obj, "count", (double)n);
		cmd_reply_and_finish(cmd, obj);
		return;
	}
	if (cmd->pm_target >= 0 && cmd_pm_resolve(cmd, &procs, &n) < 0)
		return; /* by pm_id: narrowed to that process, or answered */
	if (cmd->verb == V_LOGS) {
		/* Read-only, answered at once: a follow runs on in exec_logs.c. */
		cmd_reply_and_finish(cmd, exec_logs_answer(ex, cmd_reply_json(cmd, "ok", NULL, -1), cmd_task(cmd),
						       cmd->request_id, cmd->conf, procs, n));
		return;
	}

	/* The policy again, now that the target's owner is known (a run again
	 * after a miss was judged already). */
	if (cmd->auth != NULL && !cmd->rerun && !cmd->acted) {
		const char *owner = NULL, *status = "denied";
		enum policy_owner kind = exec_auth_owner_of(procs, n, cmd_task(cmd), &owner);
		char reason[400];
		if (!exec_auth_check(ex, cmd->auth, kind, owner, true, &status, reason,
				     sizeof(reason))) {
			char msg[460];
			snprintf(msg, sizeof(msg), "%s; nothing was done", reason);
			cmd_reply_simple(cmd, status, msg, -1);
			return;
		}
	}

	bool active = false;
	cmd->nids = cmd->sent = cmd->answered = 0;
	cmd->first_id = -1;
	cmd->error[0] = '\0'; /* a run again after a daemon restart starts clean */
	for (size_t i = 0; i < n; i++) {
		if (!cmd_targets(cmd, &procs[i]))
			continue;
		if (procs[i].pm_id == ex->self_pm_id) {
			cmd_reply_simple(cmd, "error",
				     "refusing to act on the executor's own PM2 process", -1);
			return;
		}
		if (cmd->nids == MAX_IDS)
			break;
		if (cmd->first_id < 0)
			cmd->first_id = procs[i].pm_id;
		if (cmd_proc_active(&procs[i]))
			active = true;
		cmd->ids = xrealloc(cmd->ids, (cmd->nids + 1) * sizeof(*cmd->ids));
		cmd->ids[cmd->nids++] = procs[i].pm_id;
	}
	free(cmd->calls);
	cmd->calls = xcalloc(cmd->nids + 1, sizeof(*cmd->calls));
	free(cmd->slots);
	cmd->slots = xcalloc(cmd->nids + 1, sizeof(*cmd->slots));
	skip_done(cmd);

	if (cmd->verb == V_START) {
		if (active) {
			cmd_reply_simple(cmd, "already_running", NULL, cmd->first_id);
			return;
		}
		/* A stopped or errored task of that name is replaced by the new
		 * definition: delete it first (act_more), then prepare. */
		command_act(cmd);
		return;
	}
	if (cmd->nids == 0) {
		char msg[160];
		snprintf(msg, sizeof(msg), "no task named %s", cmd->name);
		cmd_reply_simple(cmd, "not_found", msg, -1);
		return;
	}
	command_act(cmd);
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
	struct exec_view_mark mark = ex->list_mark;
	if (ex->nbatch_sent > 0)
		send_list(ex);
	if (error == NULL)
		ex->task_count = (int)n;
	if (error == NULL)
		exec_view_listed(ex, mark, procs, n); /* a fresh listing is a seed */
	/* Deciding may finish a command, which may begin the next one for the
	 * same name: that one joins the batch now in flight or a new one. */
	if (error == NULL) {
		exec_orphans_seen_daemon(ex); /* a daemon someone else restarted */
		exec_tasks_publish(ex, procs, n);
	}
	for (size_t i = 0; i < nbatch; i++) {
		if (batch[i]->phase != PH_LISTING)
			continue; /* moved on since (past its deadline) */
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
	ex->list_mark = exec_view_mark(ex);
	ex->command_lists++;
	log_debug("pm2: listing for %zu command(s) (%lu listings for commands so far)",
		  ex->nbatch_sent, ex->command_lists);
	pm2_list(ex->pm2, on_list, ex);
}

/*
 * Commands that begin while the view is fresh decide from it on the next
 * loop pass, together (never from inside exec_command_take: a reply must
 * not come before the intake is done with the message). A name in flux,
 * or a view gone stale meanwhile, sends the command to a listing.
 */
static void on_view_batch(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	ex->view_timer = NULL;
	/* One at a time from the front: deciding one may finish it and begin
	 * the next command of its name, which joins this same batch. */
	while (ex->nview_batch > 0) {
		struct command *cmd = ex->view_batch[0];
		cmd_batch_remove(&ex->view_batch, &ex->nview_batch, cmd);
		if (cmd->phase != PH_LISTING)
			continue;
		struct pm2_proc procs[64];
		bool uncertain = false;
		size_t found = exec_view_fresh(ex)
				       ? exec_view_find(ex, cmd->name, procs, 64, &uncertain)
				       : 0;
		if (!exec_view_fresh(ex) || uncertain || found > 64) {
			command_begin_listing(cmd);
			continue;
		}
		log_debug("%s %s: decided from the view (%zu process(es) of that name)",
			  cmd->verb_word, cmd->name, found);
		cmd->from_view = true;
		cmd->pinged = false;
		decide(cmd, procs, found);
	}
}

void command_begin(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	if (!cmd->acted && cmd_expired(cmd)) {
		cmd_reply_expired(cmd);
		return;
	}
	cmd->phase = PH_LISTING;
	/* logs needs the log paths only a listing has. */
	/* The view has no owners: a command the policy judges by its
	 * target's owner decides from a listing. */
	bool owner_needed = cmd->auth != NULL && exec_auth_has_policy(ex);
	if (cmd->verb != V_STATUS && cmd->verb != V_LOGS && !cmd->rerun && !owner_needed &&
	    cmd->pm_target < 0 && exec_view_fresh(ex)) {
		ex->view_batch = xrealloc(ex->view_batch, (ex->nview_batch + 1) * sizeof(cmd));
		ex->view_batch[ex->nview_batch++] = cmd;
		if (ex->view_timer == NULL)
			ex->view_timer = loop_timer_add(ex->loop, 0, on_view_batch, ex);
		return;
	}
	command_begin_listing(cmd);
}

/* The command waits for the shared listing (see on_list). */
static void command_begin_listing(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	cmd->phase = PH_LISTING;
	cmd->from_view = false;
	if (!ex->list_inflight) {
		ex->batch_sent = xrealloc(ex->batch_sent, (ex->nbatch_sent + 1) * sizeof(cmd));
		ex->batch_sent[ex->nbatch_sent++] = cmd;
		send_list(ex);
	} else {
		ex->batch_next = xrealloc(ex->batch_next, (ex->nbatch_next + 1) * sizeof(cmd));
		ex->batch_next[ex->nbatch_next++] = cmd;
	}
}

/* --- taking a command ------------------------------------------------------ */

void exec_command_take(struct executor *ex, enum verb verb, const char *verb_word,
		       const char *name, const char *request_id, const char *agent_id,
		       struct start_spec *spec, cJSON *conf, int64_t expires,
		       const struct exec_entry *entry, struct exec_auth_req *auth)
{
	exec_command_take_then(ex, verb, verb_word, name, request_id, agent_id, spec, conf, expires,
			       entry, auth, NULL, NULL);
}

void exec_command_take_then(struct executor *ex, enum verb verb, const char *verb_word,
			    const char *name, const char *request_id, const char *agent_id,
			    struct start_spec *spec, cJSON *conf, int64_t expires,
			    const struct exec_entry *entry, struct exec_auth_req *auth,
			    exec_done_fn done, void *done_arg)
{
	if (verb == V_RESULT) {
		/* Read-only, from Redis: no PM2 call, no slot (exec_result.c). */
		exec_result_answer(ex, entry, verb_word, name, request_id, agent_id);
		exec_auth_req_free(auth);
		start_spec_free(spec);
		cJSON_Delete(conf);
		return;
	}
	/* A stop or delete gives up a start of the name that still waits
	 * (which would otherwise start it once its dependencies are ready). */
	if ((verb == V_STOP || verb == V_DELETE) && name != NULL)
		exec_deps_cancel(ex, name, verb_word);
	/* depends_on, with_deps: held or split up first (exec_deps.c). */
	if (exec_deps_take(ex, verb, verb_word, name, request_id, agent_id, &spec, &conf, expires,
			   entry, &auth, done, done_arg))
		return;
	struct command *cmd = xcalloc(1, sizeof(*cmd));
	cmd->auth = auth;
	if (entry != NULL) {
		cmd->has_entry = true;
		cmd->entry = *entry;
	}
	cmd->ex = ex;
	cmd->done = done;
	cmd->done_arg = done_arg;
	cmd->verb = verb;
	cmd->phase = PH_QUEUED;
	snprintf(cmd->verb_word, sizeof(cmd->verb_word), "%s", verb_word);
	cmd->name = name ? xstrdup(name) : NULL;
	cmd->pm_target = command_pm_key(name); /* "#N": params.pm_id N */
	cmd->request_id = request_id ? xstrdup(request_id) : NULL;
	cmd->agent_id = agent_id ? xstrdup(agent_id) : NULL;
	cmd->spec = spec;
	cmd->conf = conf;
	cmd->first_id = -1;
	cmd->expires_wall = expires;
	cmd->taken_us = metrics_exec_now_us();
	exec_deps_attach(ex, cmd);
	int64_t wait = expires - util_wall_ms();
	/* The timer is monotonic and the expiry wall time: which one the
	 * deadline is, is decided here, not by comparing clocks when it fires. */
	cmd->deadline_expires = wait <= ex->command_timeout_ms;
	if (wait > ex->command_timeout_ms)
		wait = ex->command_timeout_ms;
	cmd->deadline = loop_timer_add(ex->loop, wait, cmd_on_deadline, cmd);
	log_debug("command %s %s (request %s)", exec_verb_name(verb), cmd->name ? cmd->name : "",
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
	if (entry != NULL && entry->acted) {
		/* It may have acted before its executor died: say what PM2
		 * shows rather than act a second time. */
		cmd->acted = cmd->marked = cmd->redelivered = true;
		cmd->prepared = verb == V_START;
		command_verify(cmd);
		return;
	}
	if (!busy)
		command_begin(cmd);
}
