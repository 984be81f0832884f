/*
 * command_check: see command_check.h. Every rule here is written down in
 * docs/protocol.md (sections 3 and 4); a change to one changes both.
 */
#include "command_check.h"

#include <ctype.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cron_check.h"
#include "deps.h"
#include "slash.h"
#include "util.h"

/* ^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$, not all digits (PM2 reads those as
 * ids), not "all" (a PM2 pattern). */
const char *check_task_name(const char *name)
{
	size_t n = strlen(name);
	if (n == 0)
		return "the task name is empty";
	if (n > 64)
		return "the task name is longer than 64 characters";
	if (!util_ascii_alnum((unsigned char)name[0]))
		return "the task name must start with a letter or digit";
	bool digits = true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)name[i];
		if (!util_ascii_alnum(c) && c != '.' && c != '_' && c != '-')
			return "the task name may hold only letters, digits, '.', '_' and '-'";
		if (!util_ascii_digit(c))
			digits = false;
	}
	if (digits)
		return "the task name must not be all digits (PM2 would read it as an id)";
	if (strcmp(name, "all") == 0)
		return "the task name must not be 'all' (PM2 reads it as every task)";
	return NULL;
}

bool check_env_name(const char *s)
{
	if (!(util_ascii_alpha((unsigned char)s[0]) || s[0] == '_'))
		return false;
	for (const char *p = s; *p; p++)
		if (!(util_ascii_alnum((unsigned char)*p) || *p == '_'))
			return false;
	return true;
}

/* Values that name things or are split into argv must be text on the
 * wire: `"command": true` is a mistake, not the program true. */
static const char *const text_params[] = {"task", "name", "command", "script",
					  "cmd",  "cwd",  "datum",   "node"};

int check_text_params(const struct envelope *env, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(text_params) / sizeof(text_params[0]); i++) {
		const char *key = text_params[i];
		if (codec_param(env, key) == NULL)
			continue;
		enum codec_kind kind = codec_param_kind(env, key);
		if (kind != CODEC_STRING) {
			snprintf(err, errlen, "params.%s must be a string, not %s", key,
				 codec_kind_name(kind));
			return -1;
		}
	}
	/* Only a start leaves a definition behind to fail over. */
	if (codec_param(env, "failover") != NULL && env->verb != NULL &&
	    strcmp(env->verb, "start") != 0 && strcmp(env->verb, "run") != 0) {
		snprintf(err, errlen,
			 "params.failover is a start parameter: a task asks for failover when it is "
			 "started");
		return -1;
	}
	return 0;
}

/* ^[0-9]+(\.[0-9]+)?$ as a number of seconds. */
static bool parse_seconds(const char *s, double *out)
{
	size_t i = 0, digits = 0;
	while (util_ascii_digit((unsigned char)s[i]))
		i++, digits++;
	if (digits == 0 || digits > 9)
		return false;
	if (s[i] == '.') {
		size_t frac = 0;
		i++;
		while (util_ascii_digit((unsigned char)s[i]))
			i++, frac++;
		if (frac == 0 || frac > 9)
			return false;
	}
	if (s[i] != '\0')
		return false;
	*out = strtod(s, NULL);
	return true;
}

int check_ttl(const struct envelope *env, int64_t def_ms, int64_t *ms, char *err, size_t errlen)
{
	const char *v = codec_param(env, "ttl");
	*ms = def_ms;
	if (v == NULL)
		return 0;
	double secs;
	if (codec_param_kind(env, "ttl") == CODEC_BOOL || !parse_seconds(v, &secs) || secs <= 0 ||
	    secs > CHECK_MAX_TTL_S) {
		snprintf(err, errlen,
			 "ttl must be a number of seconds above 0 and at most %d, like 30 or 2.5",
			 CHECK_MAX_TTL_S);
		return -1;
	}
	*ms = (int64_t)(secs * 1000.0);
	if (*ms < 1)
		*ms = 1;
	return 0;
}

/* A whole number within [0, max] (^[0-9]{1,9}$, a JSON number arriving as
 * its text), into *out; def when absent. */
static bool parse_count(const struct envelope *env, const char *key, long max, long def, long *out)
{
	const char *s = codec_param(env, key);
	*out = def;
	if (s == NULL)
		return true;
	size_t n = strlen(s);
	if (codec_param_kind(env, key) == CODEC_BOOL || n == 0 || n > 9)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!util_ascii_digit((unsigned char)s[i]))
			return false;
	*out = strtol(s, NULL, 10);
	return *out <= max;
}

int check_logs(const struct envelope *env, long *lines, long *follow, char *err, size_t errlen)
{
	if (!parse_count(env, "lines", CHECK_LOGS_LINES_MAX, CHECK_LOGS_LINES_DEFAULT, lines)) {
		snprintf(err, errlen,
			 "lines must be a whole number from 0 to %d (how many of the last lines to "
			 "send), like 200",
			 CHECK_LOGS_LINES_MAX);
		return -1;
	}
	if (!parse_count(env, "follow", CHECK_LOGS_FOLLOW_MAX, 0, follow)) {
		snprintf(err, errlen,
			 "follow must be a whole number of seconds from 0 to %d (how long to stream "
			 "new lines; 0: none), like 30",
			 CHECK_LOGS_FOLLOW_MAX);
		return -1;
	}
	return 0;
}

/* "max", or ^[1-9][0-9]*$ up to PM2_CONF_MAX_INSTANCES (a JSON number
 * arrives as its text): no sign, blank or leading zero, and no 0 or -1
 * standing in for "max". */
static int parse_instances(const struct envelope *env, int *out, char *err, size_t errlen)
{
	const char *s = codec_param(env, "instances");
	*out = 1;
	if (s == NULL)
		return 0;
	enum codec_kind kind = codec_param_kind(env, "instances");
	if (kind == CODEC_STRING && strcmp(s, "max") == 0) {
		*out = 0;
		return 0;
	}
	bool ok = kind != CODEC_BOOL && s[0] >= '1' && s[0] <= '9' && strlen(s) <= 4;
	for (const char *p = s; ok && *p; p++)
		ok = util_ascii_digit((unsigned char)*p);
	if (ok && atoi(s) <= PM2_CONF_MAX_INSTANCES) {
		*out = atoi(s);
		return 0;
	}
	snprintf(err, errlen,
		 "instances must be a number from 1 to %d written without sign, blank or leading zero, "
		 "or \"max\" for one per CPU",
		 PM2_CONF_MAX_INSTANCES);
	return -1;
}

/* A memory limit must name its unit: a bare "1" was one byte, and PM2
 * restarted the task every 30 s. ^[1-9][0-9]*[KMG]$, from 1M to 1024G. */
static int parse_memory(const struct envelope *env, uint64_t *out, char *err, size_t errlen)
{
	const char *key = codec_param(env, "max_memory_restart") ? "max_memory_restart" : "memory";
	const char *s = codec_param(env, key);
	if (s == NULL)
		return 0;
	size_t n = strlen(s);
	uint64_t bytes = 0;
	if (codec_param_kind(env, key) == CODEC_STRING && n >= 2 && s[0] != '0' &&
	    strchr("KMG", s[n - 1]) != NULL && util_parse_size(s, &bytes) == 0 &&
	    bytes >= ((uint64_t)1 << 20)) {
		*out = bytes;
		return 0;
	}
	snprintf(err, errlen,
		 "%s must be a size with its unit, from 1M to 1024G, like 500M "
		 "(digits, then K, M or G)",
		 key);
	return -1;
}

/* true/false as JSON booleans or text; a bare slash flag ("") is true. */
static int parse_autorestart(const struct envelope *env, bool *out, char *err, size_t errlen)
{
	const char *s = codec_param(env, "autorestart");
	if (s == NULL)
		return 0;
	if (codec_param_kind(env, "autorestart") != CODEC_NUMBER) {
		if (strcmp(s, "true") == 0 || strcmp(s, "") == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, "false") == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "autorestart must be true or false");
	return -1;
}

/* cron: a schedule for a one-shot task (cron_check.h); autorestart=true
 * with it is refused (PM2 would both restart it and run it on time). */
static int parse_cron(const struct envelope *env, struct start_spec *spec, char *err,
		      size_t errlen)
{
	const char *s = codec_param(env, "cron");
	if (s == NULL)
		return 0;
	if (codec_param_kind(env, "cron") != CODEC_STRING) {
		snprintf(err, errlen, "params.cron must be a string (e.g. \"*/5 * * * *\")");
		return -1;
	}
	if (cron_check(s, err, errlen) < 0)
		return -1;
	const char *ar = codec_param(env, "autorestart");
	if (ar != NULL && strcmp(ar, "false") != 0) {
		snprintf(err, errlen,
			 "cron runs a one-shot task: autorestart must be false (or absent) with it");
		return -1;
	}
	spec->autorestart = false;
	spec->cron = xstrdup(s);
	return 0;
}

/* failover: true/false as JSON booleans or text; a bare slash flag is true. */
static int parse_failover(const struct envelope *env, bool *out, char *err, size_t errlen)
{
	const char *s = codec_param(env, "failover");
	if (s == NULL)
		return 0;
	if (codec_param_kind(env, "failover") != CODEC_NUMBER) {
		if (strcmp(s, "true") == 0 || strcmp(s, "") == 0) {
			*out = true;
			return 0;
		}
		if (strcmp(s, "false") == 0) {
			*out = false;
			return 0;
		}
	}
	snprintf(err, errlen, "failover must be true or false");
	return -1;
}

/*
 * The start as another node will carry it out: the same params, without
 * what only made sense for this request (the node it was sent to, its
 * ttl) and without request_id and timestamp, which the failover gives
 * anew. Returns a malloc'd string the caller frees.
 */
static char *start_definition(const struct envelope *env)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "verb", "start");
	cJSON *params = cJSON_AddObjectToObject(root, "params");
	for (size_t i = 0; i < env->nparams; i++) {
		const char *key = env->params[i].key;
		const char *value = env->params[i].value;
		if (strcmp(key, "node") == 0 || strcmp(key, "ttl") == 0)
			continue;
		/* A number keeps its text (an env_ value of 20 digits must not
		 * come back rounded); one JSON could not hold (1e999 read as
		 * inf) goes as that text, a string. */
		char *end;
		double d = strtod(value, &end);
		bool number = env->kinds[i] == CODEC_NUMBER && *end == '\0' && isfinite(d);
		cJSON *v = number			       ? cJSON_CreateRaw(value)
			   : env->kinds[i] == CODEC_BOOL ? cJSON_CreateBool(strcmp(value, "true") == 0)
							  : cJSON_CreateString(value);
		cJSON_AddItemToObject(params, key, v);
	}
	if (env->args_array != NULL) {
		cJSON *arr = cJSON_AddArrayToObject(params, "args");
		for (size_t i = 0; i < env->nargs_array; i++)
			cJSON_AddItemToArray(arr, cJSON_CreateString(env->args_array[i]));
	}
	if (env->agent_id != NULL)
		cJSON_AddStringToObject(root, "agent_id", env->agent_id);
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL)
		abort();
	return text;
}

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static const char *env_lookup(const struct start_spec *spec, const char *key)
{
	for (size_t i = 0; i < spec->nenv; i++)
		if (strcmp(spec->env[i].key, key) == 0)
			return spec->env[i].value;
	return NULL;
}

static void spec_set_env(struct start_spec *spec, const char *key, const char *value)
{
	for (size_t i = 0; i < spec->nenv; i++) {
		if (strcmp(spec->env[i].key, key) == 0) {
			free((char *)(uintptr_t)spec->env[i].value);
			spec->env[i].value = xstrdup(value);
			return;
		}
	}
	spec->env = xrealloc(spec->env, (spec->nenv + 1) * sizeof(*spec->env));
	spec->env[spec->nenv].key = xstrdup(key);
	spec->env[spec->nenv].value = xstrdup(value);
	spec->nenv++;
}

void start_spec_set_owner(struct start_spec *spec, const char *owner, const char *key)
{
	spec_set_env(spec, "TASKER_OWNER", owner);
	spec_set_env(spec, "TASKER_OWNER_KEY", key);
}

void start_spec_free(struct start_spec *spec)
{
	if (spec == NULL)
		return;
	free(spec->exec_path);
	free(spec->program);
	for (size_t i = 0; i < spec->argc; i++)
		free(spec->argv[i]);
	free(spec->argv);
	free(spec->cwd);
	free(spec->cron);
	free(spec->depends_on);
	for (size_t i = 0; i < spec->nenv; i++) {
		free((char *)(uintptr_t)spec->env[i].key);
		free((char *)(uintptr_t)spec->env[i].value);
	}
	free(spec->env);
	free(spec->definition);
	free(spec);
}

/* Resolves a program as execvp would, against the task's PATH, but only to
 * an absolute path we can check now: "command not found" is a reply, not a
 * crash loop in PM2. Returns a new string or NULL with err. */
static char *resolve_program(const char *prog, const char *cwd, const char *path, char *err,
			     size_t errlen)
{
	if (strchr(prog, '/') != NULL) {
		char *abs = prog[0] == '/' ? xstrdup(prog) : xasprintf("%s/%s", cwd, prog);
		if (!is_executable_file(abs)) {
			snprintf(err, errlen, "%s: %s", prog,
				 access(abs, F_OK) == 0 ? "is not an executable file"
							: "no such file");
			free(abs);
			return NULL;
		}
		return abs;
	}
	const char *p = path ? path : "/usr/local/bin:/usr/bin:/bin";
	while (*p) {
		const char *colon = strchr(p, ':');
		size_t n = colon ? (size_t)(colon - p) : strlen(p);
		if (n > 0 && p[0] == '/') {
			char *cand = xasprintf("%.*s/%s", (int)n, p, prog);
			if (is_executable_file(cand))
				return cand;
			free(cand);
		}
		p += n;
		if (*p == ':')
			p++;
	}
	snprintf(err, errlen, "command not found: %s", prog);
	return NULL;
}

static bool is_node_program(const char *path)
{
	const char *base = strrchr(path, '/');
	base = base ? base + 1 : path;
	return strcmp(base, "node") == 0 || strcmp(base, "nodejs") == 0;
}

static bool is_node_script(const char *s)
{
	size_t n = strlen(s);
	return (n > 3 && strcmp(s + n - 3, ".js") == 0) || (n > 4 && strcmp(s + n - 4, ".cjs") == 0) ||
	       (n > 4 && strcmp(s + n - 4, ".mjs") == 0);
}

static void argv_append(struct start_spec *spec, const char *word)
{
	spec->argv = xrealloc(spec->argv, (spec->argc + 2) * sizeof(char *));
	spec->argv[spec->argc++] = xstrdup(word);
	spec->argv[spec->argc] = NULL;
}

/*
 * PM2 keeps a record per instance holding the environment twice (as `env`
 * and again as top-level keys), and every listing carries every record: a
 * start of 600 instances with a 64 KB variable once made the list larger
 * than any reply tasker would read. This is an estimate of what one start
 * adds, in bytes; the fixed part is the rest of a record (~4 KB measured).
 */
static uint64_t start_footprint(const struct start_spec *spec, int cpus)
{
	uint64_t per = 4096 + strlen(spec->exec_path) + strlen(spec->cwd);
	for (size_t i = 0; i < spec->nenv; i++)
		per += 2 * (strlen(spec->env[i].key) + strlen(spec->env[i].value) + 8);
	for (size_t i = 0; i < spec->argc; i++)
		per += strlen(spec->argv[i]) + 4;
	int n = spec->instances > 0 ? spec->instances : (cpus > 0 ? cpus : 1);
	return per * (uint64_t)n;
}

/* The words of params.args (a string, or a number as its text). */
static int args_words(const struct envelope *env, char ***extra, size_t *nextra, char *err,
		      size_t errlen)
{
	const char *args = codec_param(env, "args");
	if (args == NULL)
		return 0;
	if (codec_param_kind(env, "args") == CODEC_BOOL) {
		snprintf(err, errlen, "params.args must be a string or an array of strings, not a boolean");
		return -1;
	}
	struct slash_error se;
	if (slash_split_argv(args, strlen(args), extra, nextra, &se) < 0) {
		snprintf(err, errlen, "args: %s", se.message);
		return -1;
	}
	return 0;
}

struct start_spec *check_start(const struct envelope *env, const struct start_defaults *def,
			       char *err, size_t errlen)
{
	if (check_text_params(env, err, errlen) < 0)
		return NULL;
	const char *command = codec_param(env, "command");
	if (command == NULL)
		command = codec_param(env, "script");
	if (command == NULL)
		command = codec_param(env, "cmd");
	if (command == NULL || command[strspn(command, " \t\r\n")] == '\0') {
		snprintf(err, errlen, "start needs a command (--command=\"node api.js\")");
		return NULL;
	}

	struct start_spec *spec = xcalloc(1, sizeof(*spec));
	spec->autorestart = true;
	spec->instances = 1;
	spec->max_memory = def->max_memory;
	char **words = NULL, **extra = NULL;
	size_t nwords = 0, nextra = 0;

	/* cwd first: relative programs and scripts resolve against it. */
	const char *cwd = codec_param(env, "cwd");
	char *cwd_abs = cwd == NULL || cwd[0] == '\0' ? xstrdup(def->cwd_base)
			 : cwd[0] == '/'		  ? xstrdup(cwd)
							  : xasprintf("%s/%s", def->cwd_base, cwd);
	char real[PATH_MAX];
	struct stat st;
	if (realpath(cwd_abs, real) == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "cwd is not an existing directory: %s", cwd ? cwd : cwd_abs);
		free(cwd_abs);
		goto fail;
	}
	free(cwd_abs);
	spec->cwd = xstrdup(real);

	/* The environment: a small base, then the sender's env_NAME params. */
	for (size_t i = 0; i < def->npass; i++) {
		const char *v = getenv(def->pass_env[i]);
		if (v != NULL)
			spec_set_env(spec, def->pass_env[i], v);
	}
	for (size_t i = 0; i < env->nparams; i++) {
		const char *key = env->params[i].key;
		if (strncmp(key, "env_", 4) != 0)
			continue;
		const char *name = key + 4;
		if (!check_env_name(name)) {
			snprintf(err, errlen,
				 "%s: an environment variable name is letters, digits and _, "
				 "not starting with a digit",
				 key);
			goto fail;
		}
		if (strncmp(name, "TASKER_", 7) == 0) {
			/* TASKER_OWNER and its kin say who started a task: only
			 * the executor writes them. */
			snprintf(err, errlen,
				 "%s: names starting with TASKER_ are the executor's (who started "
				 "the task); a command may not set them",
				 key);
			goto fail;
		}
		if (!pm2_conf_env_key_ok(name)) {
			snprintf(err, errlen, "%s: PM2 reserves the name %s for its own settings", key,
				 name);
			goto fail;
		}
		if (env->kinds[i] == CODEC_BOOL) {
			snprintf(err, errlen, "params.%s must be a string or a number, not a boolean",
				 key);
			goto fail;
		}
		spec_set_env(spec, name, env->params[i].value);
	}

	/* argv: the command split like a shell would split words, no expansion. */
	struct slash_error se;
	if (slash_split_argv(command, strlen(command), &words, &nwords, &se) < 0) {
		snprintf(err, errlen, "command: %s", se.message);
		goto fail;
	}
	if (args_words(env, &extra, &nextra, err, errlen) < 0)
		goto fail;
	if (nwords == 0) {
		/* Only blanks of a kind the check above does not know (\v, \f). */
		snprintf(err, errlen, "start needs a command (--command=\"node api.js\")");
		goto fail;
	}
	spec->exec_path = resolve_program(words[0], spec->cwd, env_lookup(spec, "PATH"), err, errlen);
	if (spec->exec_path == NULL)
		goto fail;
	spec->program = xstrdup(spec->exec_path);
	for (size_t i = 1; i < nwords; i++)
		argv_append(spec, words[i]);
	for (size_t i = 0; i < nextra; i++)
		argv_append(spec, extra[i]);
	for (size_t i = 0; i < env->nargs_array; i++)
		argv_append(spec, env->args_array[i]);
	slash_argv_free(words);
	slash_argv_free(extra);
	words = extra = NULL;

	if (parse_instances(env, &spec->instances, err, errlen) < 0)
		goto fail;
	/* Cluster mode only works for node scripts; anything else runs N forks. */
	if (spec->instances != 1 && is_node_program(spec->exec_path) && spec->argc > 0 &&
	    is_node_script(spec->argv[0])) {
		char *script = spec->argv[0][0] == '/' ? xstrdup(spec->argv[0])
						       : xasprintf("%s/%s", spec->cwd, spec->argv[0]);
		if (access(script, R_OK) != 0) {
			snprintf(err, errlen, "script not found: %s", spec->argv[0]);
			free(script);
			goto fail;
		}
		free(spec->exec_path);
		spec->exec_path = script;
		free(spec->argv[0]);
		memmove(spec->argv, spec->argv + 1, spec->argc * sizeof(char *));
		spec->argc--;
		spec->cluster = true;
	}
	if (parse_memory(env, &spec->max_memory, err, errlen) < 0 ||
	    parse_autorestart(env, &spec->autorestart, err, errlen) < 0 ||
	    parse_failover(env, &spec->failover, err, errlen) < 0 ||
	    parse_cron(env, spec, err, errlen) < 0 ||
	    deps_check_start(env, &spec->depends_on, &spec->depends_timeout_ms, err, errlen) < 0)
		goto fail;
	if (spec->depends_on != NULL)
		spec_set_env(spec, DEPS_ENV, spec->depends_on);
	if (spec->failover)
		spec->definition = start_definition(env);

	uint64_t bytes = start_footprint(spec, def->cpus);
	if (bytes > CHECK_MAX_START_BYTES) {
		int n = spec->instances > 0 ? spec->instances : def->cpus;
		snprintf(err, errlen,
			 "this start would add about %llu KiB to PM2's process list (%llu KiB per "
			 "instance, environment counted twice, x %d instances); the limit is %llu MiB: "
			 "use fewer instances or a smaller environment",
			 (unsigned long long)(bytes >> 10),
			 (unsigned long long)((bytes / (uint64_t)(n > 0 ? n : 1)) >> 10), n,
			 (unsigned long long)(CHECK_MAX_START_BYTES >> 20));
		goto fail;
	}
	return spec;
fail:
	slash_argv_free(words);
	slash_argv_free(extra);
	start_spec_free(spec);
	return NULL;
}
