/*
 * pm2_conf: see pm2_conf.h. Owns the knowledge of which fields `prepare`
 * needs and which env keys PM2 would confuse with its own; builds cJSON only.
 */
#include "pm2_conf.h"

#include <stdarg.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

#include "util.h"

/*
 * Keys of PM2's process record. The daemon copies every env key over the
 * record before it launches the app (God.executeApp: Utility.extend(env_copy,
 * env_copy.env)), so an env key from this list would change how PM2 runs or
 * tracks the app rather than reach it.
 */
static const char *const reserved_keys[] = {
    "name",
    "namespace",
    "args",
    "env",
    "cwd",
    "instances",
    "exec_mode",
    "exec_interpreter",
    "autostart",
    "autorestart",
    "treekill",
    "status",
    "version",
    "versioning",
    "vizion",
    "vizion_running",
    "watch",
    "watch_delay",
    "watch_options",
    "ignore_watch",
    "instance_var",
    "increment_var",
    "NODE_APP_INSTANCE",
    "kill_retry_time",
    "kill_timeout",
    "listen_timeout",
    "wait_ready",
    "shutdown_with_message",
    "max_memory_restart",
    "max_restarts",
    "min_uptime",
    "restart_delay",
    "exp_backoff_restart_delay",
    "prev_restart_delay",
    "restart_task",
    "restart_time",
    "unstable_restarts",
    "created_at",
    "cron_restart",
    "stop_exit_codes",
    "exit_code",
    "merge_logs",
    "log_type",
    "log_date_format",
    "disable_logs",
    "source_map_support",
    "disable_source_map_support",
    "node_args",
    "node_version",
    "uid",
    "gid",
    "username",
    "windowsHide",
    "pmx",
    "pmx_module",
    "automation",
    "trace",
    "io",
    "filter_env",
    "unique_id",
    "current_conf",
    "km_link",
    "pm2_env",
    "__proto__",
};

/* Prefixes PM2 uses for its own record fields. */
static const char *const reserved_prefixes[] = {"pm_", "axm_", "_pm2", "_km", "_tree"};

static void set_err(char *err, size_t errsize, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errsize, const char *fmt, ...)
{
	if (err == NULL || errsize == 0)
		return;
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(err, errsize, fmt, ap);
	va_end(ap);
}

/* Valid UTF-8 without control characters (tab excepted when allowed). */
static bool text_ok(const char *s, bool allow_controls)
{
	size_t n = strlen(s);
	if (n > PM2_CONF_MAX_STRING || !util_utf8_valid(s, n))
		return false;
	if (allow_controls)
		return true;
	for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
		if (*p < 0x20 || *p == 0x7f)
			return false;
	}
	return true;
}

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s != '\0'; s++) {
		if (*s < '0' || *s > '9')
			return false;
	}
	return true;
}

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = strlen(suffix);
	return n >= m && strcmp(s + n - m, suffix) == 0;
}

bool pm2_conf_env_key_ok(const char *key)
{
	if (key == NULL || *key == '\0' || strchr(key, '=') != NULL || !text_ok(key, false))
		return false;
	for (size_t i = 0; i < sizeof(reserved_keys) / sizeof(reserved_keys[0]); i++) {
		if (strcmp(key, reserved_keys[i]) == 0)
			return false;
	}
	for (size_t i = 0; i < sizeof(reserved_prefixes) / sizeof(reserved_prefixes[0]); i++) {
		if (strncmp(key, reserved_prefixes[i], strlen(reserved_prefixes[i])) == 0)
			return false;
	}
	return true;
}

char *pm2_conf_file_name(const char *name)
{
	char *out = xstrdup(name);
	for (char *p = out; *p != '\0'; p++) {
		char ch = *p;
		bool keep = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		            (ch >= '0' && ch <= '9') || ch == '.' || ch == '-';
		if (!keep)
			*p = '-';
	}
	return out;
}

static bool check_label(const char *what, const char *s, char *err, size_t errsize)
{
	if (s == NULL || *s == '\0') {
		set_err(err, errsize, "the app %s is empty", what);
		return false;
	}
	if (strlen(s) > PM2_CONF_MAX_NAME) {
		set_err(err, errsize, "the app %s is longer than %d bytes", what,
		        PM2_CONF_MAX_NAME);
		return false;
	}
	if (!text_ok(s, false)) {
		set_err(err, errsize, "the app %s is not printable UTF-8", what);
		return false;
	}
	return true;
}

static bool check_path(const char *what, const char *s, char *err, size_t errsize)
{
	if (s == NULL || s[0] != '/') {
		set_err(err, errsize, "the %s must be an absolute path", what);
		return false;
	}
	if (strlen(s) > 4095 || !text_ok(s, false)) {
		set_err(err, errsize, "the %s is too long or not printable UTF-8", what);
		return false;
	}
	return true;
}

static bool check_conf(const struct pm2_conf *conf, const char *home, char *err, size_t errsize)
{
	if (conf == NULL) {
		set_err(err, errsize, "no app conf given");
		return false;
	}
	if (!check_label("name", conf->name, err, errsize))
		return false;
	/* The pm2 command reads a number as an id and "all" as every app. */
	if (all_digits(conf->name) || strcmp(conf->name, "all") == 0) {
		set_err(err, errsize, "the app name \"%s\" would be read as an id or a pattern",
		        conf->name);
		return false;
	}
	if (conf->namespace != NULL && !check_label("namespace", conf->namespace, err, errsize))
		return false;
	if (!check_path("program", conf->exec_path, err, errsize) ||
	    !check_path("working directory", conf->cwd, err, errsize) ||
	    !check_path("PM2 home", home, err, errsize))
		return false;
	if (conf->cluster && !ends_with(conf->exec_path, ".js") &&
	    !ends_with(conf->exec_path, ".cjs") && !ends_with(conf->exec_path, ".mjs")) {
		set_err(err, errsize, "cluster mode runs node scripts only (.js, .cjs, .mjs)");
		return false;
	}
	if (conf->instances < 0 || conf->instances > PM2_CONF_MAX_INSTANCES) {
		set_err(err, errsize, "instances must be 0 (one per CPU) to %d",
		        PM2_CONF_MAX_INSTANCES);
		return false;
	}
	if (conf->argc > PM2_CONF_MAX_ARGS || (conf->argc > 0 && conf->argv == NULL)) {
		set_err(err, errsize, "too many arguments");
		return false;
	}
	for (size_t i = 0; i < conf->argc; i++) {
		if (conf->argv[i] == NULL || !text_ok(conf->argv[i], true)) {
			set_err(err, errsize, "argument %zu is missing or not valid UTF-8", i + 1);
			return false;
		}
	}
	if (conf->nenv > PM2_CONF_MAX_ENV || (conf->nenv > 0 && conf->env == NULL)) {
		set_err(err, errsize, "too many environment variables");
		return false;
	}
	for (size_t i = 0; i < conf->nenv; i++) {
		const char *key = conf->env[i].key;
		if (!pm2_conf_env_key_ok(key)) {
			set_err(err, errsize,
			        "environment key \"%.64s\" is empty, has '=', is not UTF-8, or is "
			        "one of PM2's own settings",
			        key ? key : "");
			return false;
		}
		if (conf->env[i].value == NULL || !text_ok(conf->env[i].value, true)) {
			set_err(err, errsize, "the value of %.64s is missing or not valid UTF-8",
			        key);
			return false;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(conf->env[j].key, key) == 0) {
				set_err(err, errsize, "environment key %.64s is given twice", key);
				return false;
			}
		}
	}
	/* JSON numbers are doubles: beyond 2^53 bytes the value would change. */
	if (conf->max_memory_restart > ((uint64_t)1 << 53)) {
		set_err(err, errsize, "max_memory_restart is too large");
		return false;
	}
	return true;
}

static void add_string(cJSON *obj, const char *key, const char *value)
{
	if (cJSON_AddStringToObject(obj, key, value) == NULL)
		abort();
}

static void add_number(cJSON *obj, const char *key, double value)
{
	if (cJSON_AddNumberToObject(obj, key, value) == NULL)
		abort();
}

static void add_bool(cJSON *obj, const char *key, bool value)
{
	if (cJSON_AddBoolToObject(obj, key, value) == NULL)
		abort();
}

cJSON *pm2_conf_build(const struct pm2_conf *conf, const char *pm2_home, char *err, size_t errsize)
{
	if (!check_conf(conf, pm2_home, err, errsize))
		return NULL;

	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	add_string(o, "name", conf->name);
	add_string(o, "namespace", conf->namespace ? conf->namespace : "default");
	add_string(o, "pm_exec_path", conf->exec_path);
	add_string(o, "pm_cwd", conf->cwd);
	/*
	 * Fork mode with interpreter "none" spawns the program itself with the
	 * args, no shell. Cluster mode forks the daemon's own node on PM2's
	 * ProcessContainer.js, which loads pm_exec_path as the script; PM2
	 * records the interpreter as "node" there.
	 */
	add_string(o, "exec_interpreter", conf->cluster ? "node" : "none");
	add_string(o, "exec_mode", conf->cluster ? "cluster_mode" : "fork_mode");
	add_number(o, "instances", conf->instances);

	cJSON *args = cJSON_AddArrayToObject(o, "args");
	if (args == NULL)
		abort();
	for (size_t i = 0; i < conf->argc; i++) {
		cJSON *s = cJSON_CreateString(conf->argv[i]);
		if (s == NULL || !cJSON_AddItemToArray(args, s))
			abort();
	}
	/* Mandatory: prepare dereferences env and crashes the daemon without it. */
	cJSON *env = cJSON_AddObjectToObject(o, "env");
	if (env == NULL)
		abort();
	for (size_t i = 0; i < conf->nenv; i++)
		add_string(env, conf->env[i].key, conf->env[i].value);
	/* Always present, even for fork mode: `pm2 monit` reads
	 * node_args.length of every process and crashes without it. */
	if (cJSON_AddArrayToObject(o, "node_args") == NULL)
		abort();

	/*
	 * Paths as the pm2 command builds them. With one fork instance PM2
	 * merges logs (no -<id> suffix); otherwise the daemon appends -<pm_id>
	 * to each log and pid file, one per instance.
	 */
	bool merge = !conf->cluster && conf->instances == 1;
	char *file = pm2_conf_file_name(conf->name);
	char *pid = xasprintf("%s/pids/%s.pid", pm2_home, file);
	char *out = xasprintf("%s/logs/%s-out.log", pm2_home, file);
	char *errlog = xasprintf("%s/logs/%s-error.log", pm2_home, file);
	/* Mandatory too: the daemon rewrites it with .replace() unchecked. */
	add_string(o, "pm_pid_path", pid);
	add_string(o, "pm_out_log_path", out);
	add_string(o, "pm_err_log_path", errlog);
	free(file);
	free(pid);
	free(out);
	free(errlog);

	add_bool(o, "autostart", true);
	add_bool(o, "autorestart", conf->autorestart);
	if (conf->cron_restart != NULL)
		add_string(o, "cron_restart", conf->cron_restart);
	/* Without treekill the children of the main pid survive a stop. */
	add_bool(o, "treekill", true);
	add_bool(o, "merge_logs", merge);
	/* How often the daemon checks that a stopped process is gone. The pm2
	 * command's 100 ms makes every stop take at least 100 ms; 25 ms costs a
	 * few more log lines for a process that will not die, nothing else
	 * (the SIGKILL deadline is kill_timeout, unchanged). */
	add_number(o, "kill_retry_time", 25);
	add_string(o, "instance_var", "NODE_APP_INSTANCE");
	/* No git probing of the app's directory on every start. */
	add_bool(o, "vizion", false);
	/* A number of bytes: the daemon compares it with <, a string never trips. */
	if (conf->max_memory_restart > 0)
		add_number(o, "max_memory_restart", (double)conf->max_memory_restart);
	return o;
}
