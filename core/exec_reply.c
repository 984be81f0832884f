/*
 * exec_reply: the one reply of each command (docs/protocol.md, section 5):
 * built from what PM2 said, published on the status channel (through the
 * fleet's reply script when the command came from a stream), added to the
 * history, and the command freed.
 *
 * Must not: send a second reply for one command.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "codec.h"
#include "exec_command_int.h"
#include "executor_int.h"
#include "log.h"
#include "metrics_exec.h"
#include "loop.h"
#include "util.h"

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
	char *s = exec_status_text(ex, obj);
	if (s == NULL)
		return;
	if (bus_publish(ex->bus, ex->cfg->status_channel, s, strlen(s), on_reply_acked, ex) == 0)
		ex->unacked++;
	history_add(ex->history, s, strlen(s));
	free(s);
}

cJSON *cmd_reply_json(struct command *cmd, const char *status, const char *error, long pm_id)
{
	struct status_msg st = {
		/* By pm_id: the real name once known, and always the pm_id. */
		.task_name = cmd->pm_target >= 0 ? cmd->target : cmd->name,
		.status = status,
		.pm_id = pm_id < 0 && cmd->pm_target >= 0 ? cmd->pm_target : pm_id,
		.request_id = cmd->request_id,
		.verb = cmd->verb_word,
		.node = cmd->ex->cfg->node,
		.agent_id = cmd->agent_id,
		.error = error,
	};
	return codec_status_json(&st, util_wall_ms());
}

void cmd_add_ids(cJSON *obj, const int *ids, size_t n)
{
	if (n < 2)
		return;
	cJSON *arr = cJSON_AddArrayToObject(obj, "pm_ids");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateNumber(ids[i]));
}

/* Drops cmd from the listing batches it may wait in. */
void cmd_batch_remove(struct command ***batch, size_t *n, struct command *cmd)
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
void cmd_cancel_calls(struct command *cmd)
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
	cmd_cancel_calls(cmd);
	if (cmd->verify_call != 0)
		pm2_cancel(ex->pm2, cmd->verify_call);
	cmd_batch_remove(&ex->batch_sent, &ex->nbatch_sent, cmd);
	cmd_batch_remove(&ex->batch_next, &ex->nbatch_next, cmd);
	cmd_batch_remove(&ex->view_batch, &ex->nview_batch, cmd);
	if (cmd->mark != NULL)
		cmd->mark->cmd = NULL;
	free(cmd->ids);
	free(cmd->calls);
	free(cmd->slots);
	free(cmd->done_ids);
	free(cmd->name);
	free(cmd->target);
	free(cmd->request_id);
	free(cmd->agent_id);
	exec_auth_req_free(cmd->auth);
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

/* A start's owner, as recorded in its environment (exec_intake.c). */
static const char *spec_env(const struct start_spec *spec, const char *key)
{
	for (size_t i = 0; spec != NULL && i < spec->nenv; i++)
		if (strcmp(spec->env[i].key, key) == 0)
			return spec->env[i].value;
	return NULL;
}

void cmd_reply_and_finish(struct command *cmd, cJSON *obj)
{
	if (cmd->on_reply != NULL)
		cmd->on_reply(cmd, obj, cmd->on_reply_arg);
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const cJSON *error = cJSON_GetObjectItemCaseSensitive(obj, "error");
	const char *st = cJSON_IsString(status) ? status->valuestring : "done";
	/* A command that changed nothing (cmd_expired, or an error before any
	 * call to PM2) was not carried out: the same request_id may come
	 * again and must be carried out then. */
	bool not_done = !cmd->acted && (strcmp(st, "expired") == 0 || strcmp(st, "error") == 0);
	if (cmd->request_id != NULL && not_done)
		exec_forget(cmd->ex, cmd->request_id);
	if (cmd->done != NULL) {
		exec_done_fn done = cmd->done;
		cmd->done = NULL;
		done(cmd->done_arg, st, cJSON_IsString(error) ? error->valuestring : NULL);
	}
	if (cJSON_IsString(error))
		log_warn("%s %s: %s: %s", cmd->verb_word, cmd->name ? cmd_task(cmd) : "-", st,
			 error->valuestring);
	else
		log_info("%s %s: %s", cmd->verb_word, cmd->name ? cmd_task(cmd) : "-", st);
	if (cmd->has_entry && cmd->entry.extra && strcmp(st, "not_found") == 0) {
		/* Sent here for this node's table alone (a second behind PM2);
		 * the name's holder answers. */
		exec_fleet_ack(cmd->ex, &cmd->entry);
		cJSON_Delete(obj);
	} else if (cmd->has_entry) {
		metrics_exec_command(cmd->ex, cmd->verb_word, st, cmd->taken_us);
		/* Who holds the name from now on: its start failed, or it is
		 * deleted, or it runs. */
		bool ok = strcmp(st, "started") == 0 || strcmp(st, "already_running") == 0;
		const char *op = cmd->verb == V_START ? (ok ? "set" : "del")
				 : cmd->verb == V_DELETE && strcmp(st, "deleted") == 0 ? "gone"
				 : cmd->verb == V_DELETE && strcmp(st, "not_found") == 0 ? "del"
											: "";
		/* One process by its pm_id says nothing of who holds its name. */
		if (cmd->pm_target >= 0)
			op = "";
		exec_fleet_reply_def(cmd->ex, &cmd->entry, obj, cmd_task(cmd), op,
				     not_done ? cmd->request_id : NULL,
				     exec_failover_op(cmd->verb, st, cmd->spec),
				     cmd->spec ? cmd->spec->definition : NULL,
				     spec_env(cmd->spec, "TASKER_OWNER"),
				     spec_env(cmd->spec, "TASKER_OWNER_KEY"));
	} else {
		metrics_exec_command(cmd->ex, cmd->verb_word, st, cmd->taken_us);
		exec_publish(cmd->ex, obj);
	}
	command_finish(cmd);
}

void cmd_reply_simple(struct command *cmd, const char *status, const char *error, long pm_id)
{
	cmd_reply_and_finish(cmd, cmd_reply_json(cmd, status, error, pm_id));
}

void cmd_reply_expired(struct command *cmd)
{
	char msg[200];
	snprintf(msg, sizeof(msg),
		 "the command passed its deadline (params.ttl, default %d s after its timestamp) "
		 "before it could be carried out; nothing was done",
		 EXEC_DEFAULT_TTL_MS / 1000);
	cmd_reply_simple(cmd, "expired", msg, -1);
}
