/*
 * command_target: see command_target.h. The rules are docs/protocol.md's
 * "Acting by pm_id"; a change to one changes both.
 */
#include "command_target.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_check.h"
#include "util.h"

static bool all_digits(const char *s, size_t max)
{
	size_t n = strlen(s);
	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!util_ascii_digit((unsigned char)s[i]))
			return false;
	return true;
}

long command_pm_id(const struct envelope *env)
{
	const char *s = codec_param(env, "pm_id");
	if (s == NULL)
		return -1;
	enum codec_kind kind = codec_param_kind(env, "pm_id");
	if (kind == CODEC_BOOL || !all_digits(s, 9))
		return -2;
	return strtol(s, NULL, 10);
}

long command_pm_key(const char *name)
{
	if (name == NULL || name[0] != '#' || !all_digits(name + 1, 9))
		return -1;
	return strtol(name + 1, NULL, 10);
}

int command_target(const struct envelope *env, bool takes_pm_id, const char **name, long *pm_id,
		   char key[COMMAND_PM_KEY], char *err, size_t errlen)
{
	const char *task = codec_param(env, "task");
	if (task == NULL)
		task = codec_param(env, "name");
	*pm_id = -1;
	*name = task;
	bool has_pm = codec_param(env, "pm_id") != NULL;
	if (has_pm && !takes_pm_id) {
		snprintf(err, errlen,
			 "params.pm_id is for stop, restart, delete and logs (a start names its task)");
		return -1;
	}
	if (has_pm && task != NULL) {
		snprintf(err, errlen,
			 "give either the task (--task=NAME) or its pm_id (--pm_id=N), not both");
		return -1;
	}
	if (has_pm) {
		long id = command_pm_id(env);
		if (id < 0) {
			snprintf(err, errlen,
				 "pm_id must be a whole number from 0 (PM2's id of the process, as "
				 "`tasker ls` shows it), like 3");
			return -1;
		}
		snprintf(key, COMMAND_PM_KEY, "#%ld", id);
		*pm_id = id;
		*name = key;
		return 0;
	}
	if (task == NULL) {
		snprintf(err, errlen, "%s",
			 takes_pm_id ? "the command needs a task name (--task=NAME) or a pm_id "
				       "(--pm_id=N)"
				     : "the command needs a task name (--task=NAME)");
		return -1;
	}
	const char *problem = check_task_name(task);
	if (problem != NULL) {
		snprintf(err, errlen, "%s%s", problem,
			 takes_pm_id ? " (a process PM2 has under such a name is reached by its "
				       "pm_id: --pm_id=N)"
				     : "");
		return -1;
	}
	return 0;
}

int command_expect_name(const struct envelope *env, long pm_id, const char **expect, char *err,
			size_t errlen)
{
	*expect = NULL;
	const char *s = codec_param(env, "expect_name");
	if (s == NULL)
		return 0;
	if (pm_id < 0) {
		snprintf(err, errlen,
			 "params.expect_name goes only with params.pm_id (a name is the name already)");
		return -1;
	}
	if (codec_param_kind(env, "expect_name") != CODEC_STRING) {
		snprintf(err, errlen, "expect_name must be a string (the process's name)");
		return -1;
	}
	size_t n = strlen(s);
	if (n == 0 || n > COMMAND_EXPECT_NAME_MAX) {
		snprintf(err, errlen, "expect_name must be 1 to %d bytes long, not %zu",
			 COMMAND_EXPECT_NAME_MAX, n);
		return -1;
	}
	*expect = s;
	return 0;
}
