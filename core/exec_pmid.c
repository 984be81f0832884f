/*
 * exec_pmid: a stop, restart, delete or logs command that names a PM2
 * process by its pm_id (params.pm_id, docs/protocol.md "Acting by pm_id")
 * instead of a task name. Its key "#N" orders it behind other commands for
 * the same pm_id (command_target.h); the listing it decides on tells the
 * process's real name and owner, and from then on it is judged and
 * answered as a command for that name, narrowed to that one process.
 *
 * params.expect_name (intake keeps it in cmd->conf): the name the sender
 * saw; another name on that number now refuses the command.
 *
 * Must not: act on any process but the one with that pm_id, or let the
 * policy judge anything but the real name and owner.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "exec_command_int.h"
#include "executor_int.h"
#include "util.h"

const char *cmd_task(const struct command *cmd)
{
	return cmd->target != NULL ? cmd->target : cmd->name;
}

bool cmd_targets(const struct command *cmd, const struct pm2_proc *p)
{
	if (cmd->pm_target >= 0)
		return p->pm_id == cmd->pm_target;
	return cmd->name != NULL && strcmp(p->name, cmd->name) == 0;
}

int cmd_pm_resolve(struct command *cmd, const struct pm2_proc **procs, size_t *n)
{
	const struct pm2_proc *found = NULL;
	for (size_t i = 0; i < *n && found == NULL; i++)
		if ((*procs)[i].pm_id == cmd->pm_target)
			found = &(*procs)[i];
	if (found == NULL) {
		char msg[160];
		snprintf(msg, sizeof(msg), "no PM2 process with pm_id %ld", cmd->pm_target);
		cmd_reply_simple(cmd, "not_found", msg, -1);
		return -1;
	}
	/* params.expect_name: the name the sender saw on that number. PM2
	 * renumbers (a daemon restart): another process may hold it now. */
	const cJSON *expect = cmd->conf ? cJSON_GetObjectItemCaseSensitive(cmd->conf, "expect_name")
					: NULL;
	if (cJSON_IsString(expect) && strcmp(expect->valuestring, found->name) != 0) {
		char msg[400];
		snprintf(msg, sizeof(msg), "pm_id %ld is now '%.120s', not '%.64s'; nothing was done",
			 cmd->pm_target, found->name, expect->valuestring);
		cmd_reply_simple(cmd, "not_found", msg, -1);
		return -1;
	}
	free(cmd->target);
	cmd->target = xstrdup(found->name);
	/* The policy judges the real name from now on: a role whose globs
	 * do not cover it cannot reach it by its number either. */
	if (cmd->auth != NULL) {
		free(cmd->auth->task);
		cmd->auth->task = xstrdup(found->name);
		if (cmd->verb == V_LOGS) {
			/* Read-only, as for a name: every rule but ownership. */
			const char *status = "denied";
			char reason[400];
			if (!exec_auth_check(cmd->ex, cmd->auth, POLICY_TASK_UNKNOWN, NULL, true,
					     &status, reason, sizeof(reason))) {
				char msg[460];
				snprintf(msg, sizeof(msg), "%s; nothing was done", reason);
				cmd_reply_simple(cmd, status, msg, -1);
				return -1;
			}
		}
	}
	*procs = found;
	*n = 1;
	return 0;
}
