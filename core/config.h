/*
 * config: the settings every command shares (Redis address, channels, log
 * level, identity), read from the environment and then from options, so an
 * option always beats its variable. Also the option table those settings
 * add to every command, so `tasker --redis X send` and `tasker send --redis
 * X` mean the same.
 */
#ifndef TASKER_CONFIG_H
#define TASKER_CONFIG_H

#include <getopt.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "log.h"
#include "redis_url.h"

#define CONFIG_DEFAULT_REDIS "redis://127.0.0.1:6379"
#define CONFIG_DEFAULT_CHANNEL "b00t:k0mmand3r"
#define CONFIG_DEFAULT_STATUS_CHANNEL "b00t:task:status"
#define CONFIG_DEFAULT_FAILOVER_GRACE_MS 30000
#define CONFIG_MIN_PRESENCE_TTL 10 /* presence is written every 5 s */

/* Exit codes: they mean something to scripts. */
enum {
	EXIT_OK = 0,
	EXIT_FAIL = 1,	  /* the command ran and failed, or an error outcome */
	EXIT_USAGE = 2,	  /* bad options or input */
	EXIT_TIMEOUT = 3, /* nothing answered in time */
};

struct config {
	char *redis_text;   /* as given; may hold a password: never print */
	bool redis_explicit; /* given by --redis or REDIS_URL */
	struct redis_url redis;
	char *channel;
	char *status_channel;
	enum log_level log_level;
	enum log_format log_format;
	char *agent_id;
	char *node;
	/* Executors: how long a presence key lives (seconds; 0: the default,
	 * 30), and how long a node must stay lost before its failover=true
	 * tasks are started elsewhere (docs/fleet.md, "Failover"). */
	int presence_ttl;
	int64_t failover_grace_ms;
	char *metrics; /* TASKER_METRICS: `tasker exec --metrics`; NULL: off */
	/* The secret key that signs what this command sends (TASKER_KEY, or
	 * the command's --key), and the executor's policy file (TASKER_POLICY,
	 * or exec --policy); NULL: none. Read when used. */
	char *key_path;
	char *policy_path;
	/* Executors: the datum folder (exec --datum-dir, TASKER_DATUM_DIR,
	 * else _B00T_Path, else ~/.b00t/_b00t_); NULL: no HOME either. */
	char *datum_dir;
	/* Pinned executor keys (--trust, TASKER_TRUST): replies are checked
	 * against them (reply_sig.h); NULL: none. */
	char *trust_path;
	/* A bad environment variable, reported by config_finish() so that
	 * --help and --version still work with LOG_LEVEL=loud. */
	char env_error[300];
	int env_error_opt; /* the option that replaces the bad variable */
};

/* First option code of the shared options; commands use codes below it. */
#define CONFIG_OPT_BASE 1000

/* Fills defaults and the environment. Returns -1 with err on a bad
 * variable (LOG_LEVEL=loud), but leaves cfg usable; the same error is
 * kept in cfg->env_error for config_finish(). */
int config_init(struct config *cfg, char *err, size_t errlen);
void config_free(struct config *cfg);

/*
 * Builds the long-option table for a command: its own options followed by
 * the shared ones. Returns a malloc'd, terminated array the caller frees.
 */
struct option *config_options(const struct option *own);

/* Handles a shared option code (>= CONFIG_OPT_BASE). Returns 1 when handled,
 * 0 when the code is not a shared one, -1 with err on a bad value. */
int config_option(struct config *cfg, int code, const char *arg, char *err, size_t errlen);

/* Validates and parses what was gathered (the Redis URL); -1 with err. */
int config_finish(struct config *cfg, char *err, size_t errlen);

/* True when arg ("--redis", "-x") names an option of own or a shared one
 * that takes its value as the next word. */
bool config_takes_value(const struct option *own, const char *arg);

/* The help text lines for the shared options. */
extern const char config_help[];

#endif
