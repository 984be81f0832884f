/*
 * exec_verify: what really happened to a command past its deadline, or one
 * delivered again after its executor died while carrying it out: a fresh
 * listing (repeated while PM2 is still moving the processes) decides the
 * reply, and nothing is done twice.
 *
 * Must not: act on a command past its expiry, or answer from a listing
 * taken before PM2 finished.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "codec.h"
#include "exec_command_int.h"
#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "util.h"

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
		if (cmd_targets(cmd, &procs[i]) && !was_acted_on(cmd, procs[i].pm_id))
			ids[found++] = procs[i].pm_id;
	char msg[400];
	if (found == 0) {
		/* The prepare was sent: PM2 may still carry it out. */
		snprintf(msg, sizeof(msg),
			 "PM2 had not confirmed the start within %.1f s, and no new process named %s "
			 "exists yet; it may still start: check with /status",
			 cmd_budget_s(cmd->ex), cmd->name);
		cmd_reply_simple(cmd, "error", msg, -1);
		return;
	}
	cJSON *obj = cmd_reply_json(cmd, "started", NULL, ids[0]);
	cmd_add_ids(obj, ids, found);
	cJSON_AddNumberToObject(obj, "instances", (double)found);
	int want = cmd->spec->instances;
	if (want > 0)
		cJSON_AddNumberToObject(obj, "requested", want);
	if (want > 0 && found < (size_t)want) {
		snprintf(msg, sizeof(msg),
			 "PM2 had started %zu of %d instances when tasker answered (after %.1f s); it "
			 "may still be starting the rest",
			 found, want, cmd_budget_s(cmd->ex));
		cJSON_AddStringToObject(obj, "note", msg);
	}
	cmd_reply_and_finish(cmd, obj);
}

/* stop, restart, delete: whether process p (NULL: gone) is in the state
 * the verb promises. */
static bool act_ok(const struct command *cmd, const struct pm2_proc *p)
{
	return cmd->verb == V_DELETE ? p == NULL
	       : cmd->verb == V_STOP ? p == NULL || !cmd_proc_active(p)
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
		cmd_act_done(cmd);
		return;
	}
	const char *ing = cmd->verb == V_DELETE	 ? "deleting"
			  : cmd->verb == V_STOP	 ? "stopping"
						 : "restarting";
	char msg[400];
	snprintf(msg, sizeof(msg), "PM2 had not finished %s %s after %.1f s: %zu of %zu done (%s)",
		 ing, cmd->name, cmd_budget_s(cmd->ex), done, cmd->nids, pending);
	cmd_reply_simple(cmd, "error", msg, cmd->first_id);
}

/* A redelivered start: a process of its name exists and none is still
 * launching. */
static bool start_settled(const struct command *cmd, const struct pm2_proc *procs, size_t n)
{
	bool seen = false;
	for (size_t i = 0; i < n; i++) {
		if (!cmd_targets(cmd, &procs[i]))
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
			 cmd_budget_s(cmd->ex), error, exec_verb_name(cmd->verb), cmd->name);
		cmd_reply_simple(cmd, "error", msg, cmd->first_id);
		return;
	}
	if (cmd->redelivered && cmd->verb != V_START) {
		/* Which processes it acted on died with its executor: every
		 * process of the name is what it acted on (in this listing). */
		cmd->nids = 0;
		cmd->first_id = -1;
		for (size_t i = 0; i < n; i++) {
			if (!cmd_targets(cmd, &procs[i]))
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
			 cmd->name, cmd_budget_s(cmd->ex));
		cmd_reply_simple(cmd, "error", msg, cmd->first_id);
	} else {
		verify_act(cmd, procs, n);
	}
	pm2_procs_free(procs, n);
}

void command_verify(struct command *cmd)
{
	struct executor *ex = cmd->ex;
	/* The answers to the calls in flight no longer matter: the listing
	 * says what happened. It has a short deadline of its own. */
	size_t done = cmd->answered;
	cmd_cancel_calls(cmd);
	cmd->answered = done;
	/* It may wait for a listing of its own again (run again after the
	 * daemon came back): that one must not make it act past its time. */
	cmd_batch_remove(&ex->batch_sent, &ex->nbatch_sent, cmd);
	cmd_batch_remove(&ex->batch_next, &ex->nbatch_next, cmd);
	cmd_batch_remove(&ex->view_batch, &ex->nview_batch, cmd);
	if (cmd->verify_call != 0)
		pm2_cancel(ex->pm2, cmd->verify_call);
	cmd->phase = PH_VERIFYING;
	loop_timer_cancel(cmd->deadline);
	cmd->verify_call = pm2_list(ex->pm2, on_verify, cmd);
	cmd->deadline = loop_timer_add(ex->loop, VERIFY_MS, cmd_on_deadline, cmd);
}

void cmd_on_deadline(struct loop *loop, void *arg)
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
			 cmd_budget_s(ex) + VERIFY_MS / 1000.0, exec_verb_name(cmd->verb), cmd->name);
		cmd_reply_simple(cmd, "error", msg, cmd->first_id);
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
		cmd_reply_simple(cmd, "error", msg, cmd->first_id);
		return;
	}
	if (cmd->deadline_expires || cmd_expired(cmd)) {
		cmd_reply_expired(cmd);
		return;
	}
	char msg[300];
	if (cmd->phase == PH_QUEUED)
		snprintf(msg, sizeof(msg),
			 "no answer within %.1f s: an earlier command for %s was still being carried "
			 "out; nothing was done",
			 cmd_budget_s(ex), cmd->name);
	else if (cmd->phase == PH_WAIT_DAEMON)
		snprintf(msg, sizeof(msg),
			 "PM2 was not running and did not start within %.1f s; nothing was done",
			 cmd_budget_s(ex));
	else
		snprintf(msg, sizeof(msg), "PM2 did not answer within %.1f s; nothing was done",
			 cmd_budget_s(ex));
	cmd_reply_simple(cmd, "error", msg, -1);
}
