/*
 * pm2_conf: builds the app conf that PM2's `prepare` call (start) needs,
 * from a small struct, and refuses anything that would make a malformed
 * request.
 *
 * A pure module: no IO, no clock. It does not check that files exist; it
 * checks that every value can travel through PM2 unchanged: absolute paths,
 * valid UTF-8, env keys that PM2 would not mistake for its own settings
 * (the daemon merges env into the process record, so an env key `name` or
 * `pm_exec_path` would silently rewrite the app), and a shape that cannot
 * crash the daemon (`env` object and `pm_pid_path` always present).
 */
#ifndef TASKER_PM2_CONF_H
#define TASKER_PM2_CONF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

/* Upper bounds: generous, but a conf is one request frame, not a data set. */
#define PM2_CONF_MAX_NAME 128
#define PM2_CONF_MAX_ARGS 4096
#define PM2_CONF_MAX_ENV 4096
#define PM2_CONF_MAX_INSTANCES 1024
#define PM2_CONF_MAX_STRING 65536

struct pm2_env_var {
	const char *key;
	const char *value;
};

struct pm2_conf {
	const char *name;        /* required; not all digits, not "all" */
	const char *namespace;   /* NULL: "default" */
	const char *exec_path;   /* absolute; cluster: a .js/.cjs/.mjs script */
	const char *const *argv; /* arguments after the program, byte-exact */
	size_t argc;
	const char *cwd;               /* absolute, required */
	const struct pm2_env_var *env; /* the app's whole environment */
	size_t nenv;
	int instances;               /* 1..N, or 0 for one per CPU of the daemon */
	bool cluster;                /* node cluster mode (node scripts only) */
	uint64_t max_memory_restart; /* bytes; 0: none */
	bool autorestart;
	const char *cron_restart; /* checked (cron_check.h); NULL: none */
};

/*
 * Builds the conf object for prepare. pm2_home is the daemon's PM2_HOME
 * (absolute): log and pid paths are placed under it as the pm2 command does.
 * Returns a new object the caller frees with cJSON_Delete(), or NULL with a
 * sentence in err (no trailing period).
 */
cJSON *pm2_conf_build(const struct pm2_conf *conf, const char *pm2_home, char *err, size_t errsize);

/* True when key may be used as an env key of an app (see the file comment). */
bool pm2_conf_env_key_ok(const char *key);

/* The file-name form of an app name, as the pm2 command makes it: every
 * byte outside [A-Za-z0-9.-] becomes '-'. Returns a new string; caller frees. */
char *pm2_conf_file_name(const char *name);

#endif
