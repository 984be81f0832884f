/*
 * command_check: the rules for every value a command carries (see
 * docs/protocol.md, section 4), one rule per value, each refusal a sentence
 * for the sender. A start is checked whole here and turned into what PM2
 * needs (struct start_spec) before anything is handed to PM2.
 *
 * Must not: talk to PM2 or Redis, or act. It reads the filesystem only to
 * resolve a start's cwd and program (a missing program is a reply, not a
 * crash loop in PM2).
 */
#ifndef TASKER_COMMAND_CHECK_H
#define TASKER_COMMAND_CHECK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"
#include "pm2_conf.h"

/* The most one start may add to PM2's process list: PM2 keeps every
 * instance's environment twice in its record, and every listing carries
 * all of them (see check_start). */
#define CHECK_MAX_START_BYTES ((uint64_t)8 << 20)
/* The longest a command may live (params.ttl), in seconds. */
#define CHECK_MAX_TTL_S 86400

/* A start, checked and resolved. Every string is owned. */
struct start_spec {
	char *exec_path; /* absolute */
	/* argv[0] resolved, before cluster mode puts a node script in
	 * exec_path: what the policy's programs judge */
	char *program;
	char **argv;	 /* after the program; NULL-terminated */
	size_t argc;
	char *cwd; /* absolute, links resolved */
	struct pm2_env_var *env; /* owned keys and values */
	size_t nenv;
	int instances; /* 0: one per CPU ("max") */
	bool cluster;
	uint64_t max_memory; /* bytes; 0: none */
	bool autorestart;
	bool failover; /* params.failover: start it elsewhere when its node is lost */
	char *cron;    /* params.cron, checked (autorestart then false); NULL: none */
	/* failover only: the start as it is kept in Redis to be carried out
	 * on another node (docs/fleet.md, "Failover"): the verb, params but
	 * node and ttl, args, agent_id; JSON text. */
	char *definition;
	/* params.depends_on (deps.h), canonical; NULL: none. Recorded in the
	 * task's environment as TASKER_DEPENDS_ON. */
	char *depends_on;
	int64_t depends_timeout_ms;
	bool depends_waited; /* exec_deps.c found them ready: start now */
};

/* What a start takes from the executor rather than from the message. */
struct start_defaults {
	const char *const *pass_env; /* names passed from our environment */
	size_t npass;
	const char *cwd_base; /* relative cwd params resolve here (absolute) */
	uint64_t max_memory;  /* bytes; 0: none */
	int cpus;	      /* what "max" instances means, for the size bound */
};

/* NULL when name is a usable task name, else a sentence (static). */
const char *check_task_name(const char *name);
/* ^[A-Za-z_][A-Za-z0-9_]*$ */
bool check_env_name(const char *name);

/*
 * The params that must be JSON strings when present (task, name, command,
 * script, cmd, cwd, datum, node), and the start-only params (failover)
 * given to another verb: 0, or -1 with a sentence in err.
 */
int check_text_params(const struct envelope *env, char *err, size_t errlen);

/*
 * params.ttl: seconds, a JSON number or a decimal string, more than 0 and at
 * most CHECK_MAX_TTL_S. Returns 0 with *ms (def_ms when absent), or -1 with
 * a sentence in err.
 */
int check_ttl(const struct envelope *env, int64_t def_ms, int64_t *ms, char *err, size_t errlen);

/* The bounds of a logs command's params (docs/protocol.md, section 12). */
#define CHECK_LOGS_LINES_MAX 5000
#define CHECK_LOGS_LINES_DEFAULT 100
#define CHECK_LOGS_FOLLOW_MAX 3600

/*
 * params.lines (0..CHECK_LOGS_LINES_MAX, default CHECK_LOGS_LINES_DEFAULT)
 * and params.follow (seconds, 0..CHECK_LOGS_FOLLOW_MAX, default 0) of a
 * logs command: whole numbers, as JSON numbers or decimal strings. Returns
 * 0, or -1 with a sentence in err.
 */
int check_logs(const struct envelope *env, long *lines, long *follow, char *err, size_t errlen);

/*
 * Checks a start and builds its spec. Returns a spec the caller frees with
 * start_spec_free(), or NULL with a sentence in err.
 */
struct start_spec *check_start(const struct envelope *env, const struct start_defaults *def,
			       char *err, size_t errlen);
void start_spec_free(struct start_spec *spec);
/* Records who starts the task in its environment: TASKER_OWNER (an agent
 * name, "unsigned" or "unlisted") and TASKER_OWNER_KEY (the key, or ""). */
void start_spec_set_owner(struct start_spec *spec, const char *owner, const char *key);

#endif
