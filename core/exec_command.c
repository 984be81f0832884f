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
 * Must not: leave a command without exactly one reply, act on a command
 * past its expiry, or act twice for one command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "codec.h"
#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define MAX_IDS 1024
#define ACT_WINDOW 32	  /* PM2 calls in flight for one command */
#define VERIFY_MS 1000	  /* how long the listing after a deadline may take */
#define SETTLE_MS 250	  /* a redelivered command: list again this much later... */
#define SETTLE_TRIES 20	  /* ...at most this often, while PM2 has not finished it */

/* Where a command is; what its deadline means depends on it. */
enum phase {
	PH_QUEUED,	/* behind a command for the same name */
	PH_LISTING,	/* waiting for the shared listing */
	PH_WAIT_DAEMON, /* PM2 was not there; waiting for it to start */
	PH_ACTING,	/* calls that change PM2 in flight */
	PH_VERIFYING,	/* past the deadline: listing to learn the truth */
};

/* One action call in flight: its answer says which pm_id it was for. */
struct act_slot {
	struct command *cmd;
	int pm_id;
};

struct command {
	struct executor *ex;
	struct command *next; /* all live commands, in arrival order */
	enum verb verb;
	enum phase phase;
	char verb_word[32]; /* as received: "run", "remove", ... */
	char *name;	    /* the task; NULL for status */
	char *request_id;
	char *agent_id;
	struct start_spec *spec;
	cJSON *conf;	 /* start: the app conf for prepare; logs: lines and follow */
	int *ids;	 /* pm_ids acted on (for a start: the old ones it replaces) */
	uint64_t *calls; /* per id sent: its call (cancelling an answered one is a no-op) */
	struct act_slot *slots; /* per id: what its call's answer is for */
	int *done_ids;	 /* ids acted on with success (kept over a run again) */
	size_t ndone;
	size_t nids, sent, answered;
	uint64_t prepare_call, verify_call, ping_call;
	int first_id;
	bool acted;	 /* a call that changes PM2 was sent */
	bool prepared;	 /* start: prepare was sent */
	bool lost;	 /* the connection went while calls were in flight */
	bool deadline_expires; /* its deadline is its expiry, not the budget */
	bool has_entry;	 /* it came from this node's stream (exec_fleet.c) */
	bool marked;	 /* its acting record is in Redis */
	bool redelivered; /* it was being carried out when an executor stopped */
	struct exec_entry entry;
	struct mark_ticket *mark; /* an acting record on its way */
	bool relaunched; /* the daemon was started for this command once */
	bool from_view;	 /* decided from the live view, not a listing */
	bool view_miss;	 /* a call failed on a decision from the view */
	bool rerun;	 /* it was run again from a listing after a miss */
	bool pinged;	 /* the daemon answered a ping since it was decided */
	char error[300]; /* the first error PM2 gave for one of the ids */
	int64_t expires_wall; /* wall ms: past this it is not carried out */
	struct loop_timer *deadline;
	struct loop_timer *settle; /* redelivered: the next listing, PM2 still moving */
	int settle_tries;
};

/* A pending acting record: the command may be gone when Redis answers. */
struct mark_ticket {
	struct command *cmd;
};

static void command_begin(struct command *cmd);
static void command_verify(struct command *cmd);
static void on_deadline(struct loop *loop, void *arg);

/* --- small helpers ---------------------------------------------------- */

const char *exec_verb_name(enum verb v)
{
	static const char *const names[] = {"start", "stop", "restart", "delete", "status", "logs"};
	return names[v];
}

static bool proc_active(const struct pm2_proc *p)
{
	return p->state == PM2_ST_ONLINE || p->state == PM2_ST_LAUNCHING ||
	       p->state == PM2_ST_WAITING_RESTART || p->state == PM2_ST_STOPPING;
}

static double budget_s(const struct executor *ex)
{
	return (double)ex->command_timeout_ms / 1000.0;
}

/* --- replies ------------------------------------------------------------- */

static void on_reply_acked(struct bus *bus, long long receivers, void *arg)
{
	(void)bus;
	(void)receivers;
	struct executor *ex = arg;
	if (ex->unacked > 0)
		ex->unacked--;
	exec_drain_check(ex);
}

void exec_publish(struct executor *ex, cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (s == NULL)
		return;
	if (bus_publish(ex->bus, ex->cfg->status_channel, s, strlen(s), on_reply_acked, ex) == 0)
		ex->unacked++;
	history_add(ex->history, s, strlen(s));
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

static void add_ids(cJSON *obj, const int *ids, size_t n)
{
	if (n < 2)
		return;
	cJSON *arr = cJSON_AddArrayToObject(obj, "pm_ids");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
}

/* Drops cmd from the listing batches it may wait in. */
static void batch_remove(struct command ***batch, size_t *n, struct command *cmd)
{
	for (size_t i = 0; i < *n; i++) {
		if ((*batch)[i] == cmd) {
			memmove(*batch + i, *batch + i + 1, (*n - i - 1) * sizeof(**batch));
			(*n)--;
			return;
		}
	}
}

/* Forgets every action call of cmd still in flight. */
static void cancel_calls(struct command *cmd)
{
	for (size_t i = 0; i < cmd->sent; i++)
		pm2_cancel(cmd->ex->pm2, cmd->calls[i]);
	cmd->sent = cmd->answered = 0;
	if (cmd->prepare_call != 0)
		pm2_cancel(cmd->ex->pm2, cmd->prepare_call);
	cmd->prepare_call = 0;
	if (cmd->ping_call != 0)
		pm2_cancel(cmd->ex->pm2, cmd->ping_call);
	cmd->ping_call = 0;
}

static void command_free(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	loop_timer_cancel(cmd->deadline);
	loop_timer_cancel(cmd->settle);
	/* Calls still in flight must not call back into freed memory. */
	cancel_calls(cmd);
	if (cmd->verify_call != 0)
		pm2_cancel(ex->pm2, cmd->verify_call);
	batch_remove(&ex->batch_sent, &ex->nbatch_sent, cmd);
	batch_remove(&ex->batch_next, &ex->nbatch_next, cmd);
	batch_remove(&ex->view_batch, &ex->nview_batch, cmd);
	if (cmd->mark != NULL)
		cmd->mark->cmd = NULL;
	free(cmd->ids);
	free(cmd->calls);
	free(cmd->slots);
	free(cmd->done_ids);
	free(cmd->name);
	free(cmd->request_id);
	free(cmd->agent_id);
	start_spec_free(cmd->spec);
	cJSON_Delete(cmd->conf);
	free(cmd);
}

void exec_commands_free(struct executor *ex)
{
	while (ex->commands != NULL) {
		struct command *c = ex->commands;
		ex->commands = c->next;
		command_free(c);
	}
	ex->ncommands = 0;
}

/* Unlinks and frees cmd, then begins the next command for the same name
 * unless one is running already (a queued command may finish first, when
 * its deadline passes). */
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
			if (c->name == NULL || strcmp(c->name, cmd->name) != 0)
				continue;
			if (c->phase != PH_QUEUED) {
				next = NULL;
				break;
			}
			if (next == NULL)
				next = c;
		}
	}
	command_free(cmd);
	if (next != NULL)
		command_begin(next);
	exec_fleet_kick(ex);
	exec_drain_check(ex);
}

static void reply_and_finish(struct command *cmd, cJSON *obj)
{
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(obj, "error");
	const char *st = cJSON_IsString(status) ? status->valuestring : "done";
	/* A command that changed nothing (expired, or an error before any
	 * call to PM2) was not carried out: the same request_id may come
	 * again and must be carried out then. */
	bool not_done = !cmd->acted && (strcmp(st, "expired") == 0 || strcmp(st, "error") == 0);
	if (cmd->request_id != NULL && not_done)
		exec_forget(cmd->ex, cmd->request_id);
	if (cJSON_IsString(error))
		log_warn("%s %s: %s: %s", cmd->verb_word, cmd->name ? cmd->name : "-", st,
			 error->valuestring);
	else
		log_info("%s %s: %s", cmd->verb_word, cmd->name ? cmd->name : "-", st);
	if (cmd->has_entry && cmd->entry.extra && strcmp(st, "not_found") == 0) {
		/* Sent here for this node's table alone (a second behind PM2);
		 * the name's holder answers. */
		exec_fleet_ack(cmd->ex, &cmd->entry);
		cJSON_Delete(obj);
	} else if (cmd->has_entry) {
		/* Who holds the name from now on: its start failed, or it is
		 * deleted, or it runs. */
		bool ok = strcmp(st, "started") == 0 || strcmp(st, "already_running") == 0;
		const char *op = cmd->verb == V_START ? (ok ? "set" : "del")
				 : cmd->verb == V_DELETE && strcmp(st, "deleted") == 0 ? "gone"
				 : cmd->verb == V_DELETE && strcmp(st, "not_found") == 0 ? "del"
											: "";
		exec_fleet_reply_def(cmd->ex, &cmd->entry, obj, cmd->name, op,
				     not_done ? cmd->request_id : NULL,
				     exec_failover_op(cmd->verb, st, cmd->spec),
				     cmd->spec ? cmd->spec->definition : NULL);
	} else {
		exec_publish(cmd->ex, obj);
	}
	command_finish(cmd);
}

static void reply_simple(struct command *cmd, const char *status, const char *error, long pm_id)
{
	reply_and_finish(cmd, reply_json(cmd, status, error, pm_id));
}

static void reply_expired(struct command *cmd)
{
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "the command passed its deadline (params.ttl, default %d s after its timestamp) "
		 "before it could be carried out; nothing was done",
		 EXEC_DEFAULT_TTL_MS / 1000);
	reply_simple(cmd, "expired", msg, -1);
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
			reply_simple(cmd, "error", msg, -1);
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
	reply_simple(cmd, "error", msg, cmd->first_id);
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
			reply_simple(wake[i], "error", msg, -1);
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
	cJSON *obj = reply_json(cmd, "started", NULL, n > 0 ? ids[0] : -1);
	if (n > 0)
		cJSON_AddNumberToObject(obj, "pid", pids[0]);
	add_ids(obj, ids, n);
	cJSON_AddNumberToObject(obj, "instances", (double)n);
	reply_and_finish(cmd, obj);
}

static void do_prepare(struct command *cmd)
{
	const char *why = NULL;
	cmd->phase = PH_ACTING;
	cmd->acted = cmd->prepared = true;
	cmd->prepare_call = pm2_start(cmd->ex->pm2, cmd->conf, on_started, cmd, &why);
	if (cmd->prepare_call == 0)
		reply_simple(cmd, "error", why ? why : "PM2 refused the app definition", -1);
}

static void act_more(struct command *cmd);

static void act_done(struct command *cmd)
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
		reply_simple(cmd, "error", cmd->error, cmd->first_id);
		return;
	}
	if (cmd->verb == V_START) {
		do_prepare(cmd); /* the old, stopped definition is gone */
		return;
	}
	const char *status = cmd->verb == V_STOP      ? "stopped"
			     : cmd->verb == V_RESTART ? "restarted"
						      : "deleted";
	cJSON *obj = reply_json(cmd, status, NULL, cmd->first_id);
	add_ids(obj, cmd->ids, cmd->nids);
	reply_and_finish(cmd, obj);
}

static void on_acted(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct act_slot *slot = arg;
	struct command *cmd = slot->cmd;
	cmd->answered++;
	if (error == NULL) {
		if (cmd->verb == V_STOP)
			exec_view_set(cmd->ex, slot->pm_id, cmd->name,
				      answer_status(result, PM2_ST_STOPPED), 0);
		else if (cmd->verb == V_RESTART)
			exec_view_set(cmd->ex, slot->pm_id, cmd->name,
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
		cmd->view_miss = true; /* run again from a listing (act_done) */
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
		act_done(cmd);
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
			break;
		}
		if (call == 0) {
			char msg[160];
			snprintf(msg, sizeof(msg), "the request for pm_id %d could not be sent to PM2",
				 id);
			reply_simple(cmd, "error", msg, cmd->first_id);
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
		reply_simple(cmd, "error",
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
 * so a stalled daemon leaves the command undone (expired, or "nothing was
 * done") rather than carried out late. */
static void command_act(struct command *cmd)
{
	if (cmd->from_view && !cmd->pinged) {
		cmd->ping_call = pm2_ping(cmd->ex->pm2, on_pinged, cmd);
		if (cmd->ping_call == 0)
			reply_simple(cmd, "error", "the ping could not be sent to PM2", -1);
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
		reply_simple(cmd, "error", "Redis is not reachable to record the command; nothing was done",
			     cmd->first_id);
	}
}

static bool expired(const struct command *cmd)
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
	if (!cmd->acted && expired(cmd)) {
		reply_expired(cmd);
		return;
	}
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
	if (cmd->verb == V_LOGS) {
		/* Read-only, answered at once: a follow runs on in exec_logs.c. */
		reply_and_finish(cmd, exec_logs_answer(ex, reply_json(cmd, "ok", NULL, -1), cmd->name,
						       cmd->request_id, cmd->conf, procs, n));
		return;
	}

	bool active = false;
	cmd->nids = cmd->sent = cmd->answered = 0;
	cmd->first_id = -1;
	cmd->error[0] = '\0'; /* a run again after a daemon restart starts clean */
	for (size_t i = 0; i < n; i++) {
		if (strcmp(procs[i].name, cmd->name) != 0)
			continue;
		if (procs[i].pm_id == ex->self_pm_id) {
			reply_simple(cmd, "error",
				     "refusing to act on the executor's own PM2 process", -1);
			return;
		}
		if (cmd->nids == MAX_IDS)
			break;
		if (cmd->first_id < 0)
			cmd->first_id = procs[i].pm_id;
		if (proc_active(&procs[i]))
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
			reply_simple(cmd, "already_running", NULL, cmd->first_id);
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
		reply_simple(cmd, "not_found", msg, -1);
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
		batch_remove(&ex->view_batch, &ex->nview_batch, cmd);
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

static void command_begin(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	if (!cmd->acted && expired(cmd)) {
		reply_expired(cmd);
		return;
	}
	cmd->phase = PH_LISTING;
	/* logs needs the log paths only a listing has. */
	if (cmd->verb != V_STATUS && cmd->verb != V_LOGS && !cmd->rerun && exec_view_fresh(ex)) {
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

/* --- past the deadline: what really happened ------------------------------- */

/* The process of cmd's name with this pm_id in procs, or NULL. */
static const struct pm2_proc *find_proc(const struct pm2_proc *procs, size_t n, int pm_id)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].pm_id == pm_id)
			return &procs[i];
	return NULL;
}

static bool was_acted_on(const struct command *cmd, int pm_id)
{
	for (size_t i = 0; i < cmd->nids; i++)
		if (cmd->ids[i] == pm_id)
			return true;
	return false;
}

static void verify_start(struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	int ids[MAX_IDS];
	size_t found = 0;
	for (size_t i = 0; i < n && found < MAX_IDS; i++)
		if (strcmp(procs[i].name, cmd->name) == 0 && !was_acted_on(cmd, procs[i].pm_id))
			ids[found++] = procs[i].pm_id;
	char msg[400];
	if (found == 0) {
		/* The prepare was sent: PM2 may still carry it out. */
		snprintf(msg, sizeof(msg),
			 "PM2 had not confirmed the start within %.1f s, and no new process named %s "
			 "exists yet; it may still start: check with /status",
			 budget_s(cmd->ex), cmd->name);
		reply_simple(cmd, "error", msg, -1);
		return;
	}
	cJSON *obj = reply_json(cmd, "started", NULL, ids[0]);
	add_ids(obj, ids, found);
	cJSON_AddNumberToObject(obj, "instances", (double)found);
	int want = cmd->spec->instances;
	if (want > 0)
		cJSON_AddNumberToObject(obj, "requested", want);
	if (want > 0 && found < (size_t)want) {
		snprintf(msg, sizeof(msg),
			 "PM2 had started %zu of %d instances when tasker answered (after %.1f s); it "
			 "may still be starting the rest",
			 found, want, budget_s(cmd->ex));
		cJSON_AddStringToObject(obj, "note", msg);
	}
	reply_and_finish(cmd, obj);
}

/* stop, restart, delete: whether process p (NULL: gone) is in the state
 * the verb promises. */
static bool act_ok(const struct command *cmd, const struct pm2_proc *p)
{
	return cmd->verb == V_DELETE ? p == NULL
	       : cmd->verb == V_STOP ? p == NULL || !proc_active(p)
				     : p != NULL && p->state == PM2_ST_ONLINE;
}

/* How many of the ids acted on are not there yet. */
static size_t act_left(const struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	size_t left = 0;
	for (size_t i = 0; i < cmd->nids; i++)
		left += !act_ok(cmd, find_proc(procs, n, cmd->ids[i]));
	return left;
}

/* stop, restart, delete: which of the ids acted on reached the state the
 * verb promises. */
static void verify_act(struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	size_t done = 0;
	char pending[200] = "";
	size_t o = 0;
	for (size_t i = 0; i < cmd->nids; i++) {
		const struct pm2_proc *p = find_proc(procs, n, cmd->ids[i]);
		bool ok = act_ok(cmd, p);
		if (ok) {
			done++;
		} else if (o < sizeof(pending) - 40) {
			o += (size_t)snprintf(pending + o, sizeof(pending) - o, "%spm_id %d %s",
					      o ? ", " : "", cmd->ids[i],
					      p ? p->status : "gone");
		}
	}
	if (done == cmd->nids) {
		act_done(cmd);
		return;
	}
	const char *ing = cmd->verb == V_DELETE	 ? "deleting"
			  : cmd->verb == V_STOP	 ? "stopping"
						 : "restarting";
	char msg[400];
	snprintf(msg, sizeof(msg), "PM2 had not finished %s %s after %.1f s: %zu of %zu done (%s)",
		 ing, cmd->name, budget_s(cmd->ex), done, cmd->nids, pending);
	reply_simple(cmd, "error", msg, cmd->first_id);
}

/* A redelivered start: a process of its name exists and none is still
 * launching. */
static bool start_settled(const struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	bool seen = false;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(procs[i].name, cmd->name) != 0)
			continue;
		if (procs[i].state == PM2_ST_LAUNCHING)
			return false;
		seen = true;
	}
	return seen;
}

static void on_settle(struct loop *loop, void *arg)
{
	(void)loop;
	struct command *cmd = arg;
	cmd->settle = NULL;
	command_verify(cmd);
}

/* A redelivered command whose calls PM2 may still be carrying out: list
 * again in SETTLE_MS (takes procs). */
static void settle_later(struct command *cmd, struct pm2_proc *procs, size_t n)
{
	cmd->settle_tries++;
	pm2_procs_free(procs, n);
	loop_timer_cancel(cmd->deadline);
	cmd->deadline = NULL;
	cmd->settle = loop_timer_add(cmd->ex->loop, SETTLE_MS, on_settle, cmd);
}

static void on_verify(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
		      void *arg)
{
	(void)c;
	struct command *cmd = arg;
	cmd->verify_call = 0;
	if (error != NULL) {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "PM2 did not answer within %.1f s (%s); whether %s %s took effect is "
			 "unknown: check with /status",
			 budget_s(cmd->ex), error, exec_verb_name(cmd->verb), cmd->name);
		reply_simple(cmd, "error", msg, cmd->first_id);
		return;
	}
	if (cmd->redelivered && cmd->verb != V_START) {
		/* Which processes it acted on died with its executor: every
		 * process of the name is what it acted on (in this listing). */
		cmd->nids = 0;
		cmd->first_id = -1;
		for (size_t i = 0; i < n; i++) {
			if (strcmp(procs[i].name, cmd->name) != 0)
				continue;
			cmd->ids = xrealloc(cmd->ids, (cmd->nids + 1) * sizeof(*cmd->ids));
			cmd->ids[cmd->nids++] = procs[i].pm_id;
			if (cmd->first_id < 0)
				cmd->first_id = procs[i].pm_id;
		}
		/* PM2 may still be carrying it out (the calls went just before
		 * the executor died; a restart stops, then starts): judge once
		 * it is done, or after SETTLE_TRIES listings. */
		if (cmd->settle_tries < SETTLE_TRIES && act_left(cmd, procs, n) > 0) {
			settle_later(cmd, procs, n);
			return;
		}
	}
	if (cmd->redelivered && cmd->verb == V_START && cmd->settle_tries < SETTLE_TRIES &&
	    !start_settled(cmd, procs, n)) {
		settle_later(cmd, procs, n);
		return;
	}
	if (cmd->verb == V_START && cmd->prepared) {
		verify_start(cmd, procs, n);
	} else if (cmd->verb == V_START) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "PM2 had not finished removing the stopped task %s within %.1f s; the new "
			 "definition was not started",
			 cmd->name, budget_s(cmd->ex));
		reply_simple(cmd, "error", msg, cmd->first_id);
	} else {
		verify_act(cmd, procs, n);
	}
	pm2_procs_free(procs, n);
}

static void command_verify(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	/* The answers to the calls in flight no longer matter: the listing
	 * says what happened. It has a short deadline of its own. */
	size_t done = cmd->answered;
	cancel_calls(cmd);
	cmd->answered = done;
	/* It may wait for a listing of its own again (run again after the
	 * daemon came back): that one must not make it act past its time. */
	batch_remove(&ex->batch_sent, &ex->nbatch_sent, cmd);
	batch_remove(&ex->batch_next, &ex->nbatch_next, cmd);
	batch_remove(&ex->view_batch, &ex->nview_batch, cmd);
	if (cmd->verify_call != 0)
		pm2_cancel(ex->pm2, cmd->verify_call);
	cmd->phase = PH_VERIFYING;
	loop_timer_cancel(cmd->deadline);
	cmd->verify_call = pm2_list(ex->pm2, on_verify, cmd);
	cmd->deadline = loop_timer_add(ex->loop, VERIFY_MS, on_deadline, cmd);
}

static void on_deadline(struct loop *loop, void *arg)
{
	(void)loop;
	struct command *cmd = arg;
	struct executor *ex = cmd->ex;
	cmd->deadline = NULL;
	if (cmd->phase == PH_VERIFYING) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "PM2 did not answer within %.1f s; whether %s %s took effect is unknown: "
			 "check with /status",
			 budget_s(ex) + VERIFY_MS / 1000.0, exec_verb_name(cmd->verb), cmd->name);
		reply_simple(cmd, "error", msg, cmd->first_id);
		return;
	}
	if (cmd->acted && pm2_client_connected(ex->pm2)) {
		command_verify(cmd);
		return;
	}
	if (cmd->acted) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "PM2 went away while %s %s was being carried out; whether it took effect "
			 "is unknown: check with /status",
			 exec_verb_name(cmd->verb), cmd->name);
		reply_simple(cmd, "error", msg, cmd->first_id);
		return;
	}
	if (cmd->deadline_expires || expired(cmd)) {
		reply_expired(cmd);
		return;
	}
	char msg[300];
	if (cmd->phase == PH_QUEUED)
		snprintf(msg, sizeof(msg),
			 "no answer within %.1f s: an earlier command for %s was still being carried "
			 "out; nothing was done",
			 budget_s(ex), cmd->name);
	else if (cmd->phase == PH_WAIT_DAEMON)
		snprintf(msg, sizeof(msg),
			 "PM2 was not running and did not start within %.1f s; nothing was done",
			 budget_s(ex));
	else
		snprintf(msg, sizeof(msg), "PM2 did not answer within %.1f s; nothing was done",
			 budget_s(ex));
	reply_simple(cmd, "error", msg, -1);
}

/* --- taking a command ------------------------------------------------------ */

void exec_command_take(struct executor *ex, enum verb verb, const char *verb_word,
		       const char *name, const char *request_id, const char *agent_id,
		       struct start_spec *spec, cJSON *conf, int64_t expires,
		       const struct exec_entry *entry)
{
	struct command *cmd = xcalloc(1, sizeof(*cmd));
	if (entry != NULL) {
		cmd->has_entry = true;
		cmd->entry = *entry;
	}
	cmd->ex = ex;
	cmd->verb = verb;
	cmd->phase = PH_QUEUED;
	snprintf(cmd->verb_word, sizeof(cmd->verb_word), "%s", verb_word);
	cmd->name = name ? xstrdup(name) : NULL;
	cmd->request_id = request_id ? xstrdup(request_id) : NULL;
	cmd->agent_id = agent_id ? xstrdup(agent_id) : NULL;
	cmd->spec = spec;
	cmd->conf = conf;
	cmd->first_id = -1;
	cmd->expires_wall = expires;
	int64_t wait = expires - util_wall_ms();
	/* The timer is monotonic and the expiry wall time: which one the
	 * deadline is, is decided here, not by comparing clocks when it fires. */
	cmd->deadline_expires = wait <= ex->command_timeout_ms;
	if (wait > ex->command_timeout_ms)
		wait = ex->command_timeout_ms;
	cmd->deadline = loop_timer_add(ex->loop, wait, on_deadline, cmd);
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
