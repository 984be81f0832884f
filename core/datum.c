/*
 * datum: params.datum resolved into a start's params (datum.h). The file
 * is read by datum_toml.cpp (toml++); this file decides what a datum may
 * be (a reference without a path in it, a type that runs, a command) and
 * merges it under the command's own params.
 *
 * Must not: start anything, or check what check_start checks.
 */
#include "datum.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "datum_toml.h"
#include "util.h"

#define DATUM_REF_MAX 128

const char *datum_ref_problem(const char *ref)
{
	if (ref == NULL || ref[0] == '\0')
		return "params.datum is empty (a datum reference is NAME.TYPE, e.g. api.cli)";
	if (strlen(ref) > DATUM_REF_MAX)
		return "params.datum is longer than 128 characters";
	if (strchr(ref, '/') != NULL || strchr(ref, '\\') != NULL)
		return "params.datum must not contain '/': a datum is named, never a path (the "
		       "folder is the executor's)";
	if (strstr(ref, "..") != NULL)
		return "params.datum must not contain '..': a datum is named, never a path";
	if (ref[0] == '.')
		return "params.datum must not start with '.'";
	for (const char *p = ref; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '.' || c == '_' || c == '-'))
			return "params.datum may hold letters, digits, '.', '_' and '-' only";
	}
	return NULL;
}

/* The types tasker starts as a task: the ones whose datum is a command. */
static bool type_runs(const char *type)
{
	return strcmp(type, "cli") == 0 || strcmp(type, "bash") == 0;
}

static void add_param(struct envelope *env, const char *key, const char *value)
{
	env->params = xrealloc(env->params, (env->nparams + 1) * sizeof(*env->params));
	env->kinds = xrealloc(env->kinds, (env->nparams + 1) * sizeof(*env->kinds));
	env->params[env->nparams].key = xstrdup(key);
	env->params[env->nparams].value = xstrdup(value);
	env->kinds[env->nparams] = CODEC_STRING;
	env->nparams++;
}

/*
 * b00t.depends_on as a start's depends_on (docs/protocol.md,
 * "Dependencies"): an entry that names a datum of this folder (REF, or
 * REF:PORT) stands for the task that datum starts, its b00t.name (else
 * the NAME of NAME.TYPE); any other entry is a task name as it is. The
 * list is checked by check_start like a command's. A malloc'd string.
 */
static char *datum_deps_list(const char *dir, const struct datum *d)
{
	char *out = xstrdup("");
	for (size_t i = 0; i < d->ndeps; i++) {
		char *item = xstrdup(d->depends_on[i]);
		char *colon = strchr(item, ':');
		const char *port = "";
		if (colon != NULL) {
			*colon = '\0';
			port = colon + 1;
		}
		char *name = xstrdup(item);
		if (datum_ref_problem(item) == NULL) {
			char *path = xasprintf("%s/%s.toml", dir, item);
			struct datum dd;
			char why[300];
			if (datum_toml_load_file(path, &dd, why, sizeof(why)) == 0) {
				const char *dot = strrchr(item, '.');
				free(name);
				name = dd.name != NULL && dd.name[0] != '\0' ? xstrdup(dd.name)
				       : dot != NULL ? xstrndup(item, (size_t)(dot - item))
						     : xstrdup(item);
				datum_free(&dd);
			}
			free(path);
		}
		char *next = xasprintf("%s%s%s%s%s", out, i ? "," : "", name, colon ? ":" : "", port);
		free(out);
		out = next;
		free(name);
		free(item);
	}
	return out;
}

int datum_resolve(struct envelope *env, const char *dir, char *err, size_t errlen)
{
	const char *ref = codec_param(env, "datum");
	if (ref == NULL)
		return 0;
	if (codec_param_kind(env, "datum") != CODEC_STRING) {
		snprintf(err, errlen, "params.datum must be a string (NAME.TYPE, e.g. api.cli)");
		return -1;
	}
	const char *problem = datum_ref_problem(ref);
	if (problem != NULL) {
		snprintf(err, errlen, "%s; nothing was done", problem);
		return -1;
	}
	if (dir == NULL || dir[0] == '\0') {
		snprintf(err, errlen,
			 "this executor has no datum folder (--datum-dir, TASKER_DATUM_DIR or "
			 "_B00T_Path); nothing was done");
		return -1;
	}
	char *path = xasprintf("%s/%s.toml", dir, ref);
	struct datum d;
	char why[600];
	if (datum_toml_load_file(path, &d, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "datum %s: %s; nothing was done", ref, why);
		free(path);
		return -1;
	}
	int rc = -1;
	const char *dot = strrchr(ref, '.');
	const char *type = d.type != NULL ? d.type : dot != NULL ? dot + 1 : NULL;
	if (type == NULL || type[0] == '\0') {
		snprintf(err, errlen,
			 "datum %s: no type (b00t.type, or the file name's NAME.TYPE); nothing was "
			 "done",
			 ref);
		goto out;
	}
	if (!type_runs(type)) {
		snprintf(err, errlen,
			 "datum %s: a datum of type '%.40s' cannot be started as a task (tasker "
			 "starts cli and bash datums); nothing was done",
			 ref, type);
		goto out;
	}
	bool given_command = codec_param(env, "command") != NULL ||
			     codec_param(env, "script") != NULL || codec_param(env, "cmd") != NULL;
	if (!given_command && (d.command == NULL || d.command[strspn(d.command, " \t\r\n")] == '\0')) {
		snprintf(err, errlen,
			 "datum %s: no command (b00t.command or b00t.script) in %s; nothing was done",
			 ref, path);
		goto out;
	}
	/* All checks passed: merge, the command's own params first. */
	if (codec_param(env, "task") == NULL && codec_param(env, "name") == NULL)
		add_param(env, "task", d.name != NULL && d.name[0] != '\0' ? d.name : ref);
	if (!given_command)
		add_param(env, "command", d.command);
	if (codec_param(env, "args") == NULL && env->args_array == NULL && d.nargs > 0) {
		env->args_array = xcalloc(d.nargs, sizeof(char *));
		for (size_t i = 0; i < d.nargs; i++)
			env->args_array[i] = xstrdup(d.args[i]);
		env->nargs_array = d.nargs;
	}
	for (size_t i = 0; i < d.nenv; i++) {
		char *key = xasprintf("env_%s", d.env[i].key);
		if (codec_param(env, key) == NULL)
			add_param(env, key, d.env[i].value);
		free(key);
	}
	if (codec_param(env, "depends_on") == NULL && d.ndeps > 0) {
		char *list = datum_deps_list(dir, &d);
		add_param(env, "depends_on", list);
		free(list);
	}
	if (codec_param(env, "cwd") == NULL && d.cwd != NULL && d.cwd[0] != '\0') {
		/* A relative cwd in a datum is relative to the datum folder. */
		char *cwd = d.cwd[0] == '/' ? xstrdup(d.cwd) : xasprintf("%s/%s", dir, d.cwd);
		add_param(env, "cwd", cwd);
		free(cwd);
	}
	rc = 0;
out:
	datum_free(&d);
	free(path);
	return rc;
}
