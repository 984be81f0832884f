/*
 * command_target: what a stop, restart, delete or logs command acts on:
 * a task name (params.task, or params.name) or one PM2 process by its
 * pm_id (params.pm_id), exactly one of the two (docs/protocol.md, "Acting
 * by pm_id"). A pm_id reaches the processes made with the pm2 CLI whose
 * names tasker refuses for a task ("my app", a name with a slash...).
 *
 * Inside the executor a pm_id command is keyed "#N" (COMMAND_PM_KEY): no
 * task name can start with '#', so commands for one pm_id run one after
 * another like commands for one name, and never mix with them.
 *
 * Must not: talk to PM2 or Redis (pure: the listing resolves the real
 * name, exec_pmid.c).
 */
#ifndef TASKER_COMMAND_TARGET_H
#define TASKER_COMMAND_TARGET_H

#include <stdbool.h>
#include <stddef.h>

#include "codec.h"

/* The longest "#N" key: '#', 9 digits, NUL. */
#define COMMAND_PM_KEY 12

/*
 * params.pm_id: a whole number, ^[0-9]{1,9}$, as a JSON number or a
 * decimal string. Returns the id, -1 when absent, -2 when malformed.
 */
long command_pm_id(const struct envelope *env);

/*
 * The target of a command. takes_pm_id: the verb may act by pm_id (stop,
 * restart, delete, logs). Returns 0 with *name (the task, checked) or, for
 * a pm_id, *name pointing at key (filled with "#N") and *pm_id set (else
 * -1); or -1 with a sentence in err.
 */
int command_target(const struct envelope *env, bool takes_pm_id, const char **name, long *pm_id,
		   char key[COMMAND_PM_KEY], char *err, size_t errlen);

/* The longest params.expect_name, in bytes (the task-name limit). */
#define COMMAND_EXPECT_NAME_MAX 64

/*
 * params.expect_name, for a command by pm_id only: the name the sender saw
 * on that process; the executor refuses the command when the process that
 * holds the number now has another name (PM2 renumbered). A JSON string of
 * 1 to COMMAND_EXPECT_NAME_MAX bytes, any characters. Returns 0 with
 * *expect (NULL when absent), or -1 with a sentence in err.
 */
int command_expect_name(const struct envelope *env, long pm_id, const char **expect, char *err,
			size_t errlen);

/* The pm_id a "#N" key names, or -1 for a task name (or NULL). */
long command_pm_key(const char *name);

#endif
