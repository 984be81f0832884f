/*
 * policy: who may do what (docs/security.md, "The policy file"). A policy
 * maps public keys to agents, agents to roles, and says what each role may
 * do; [env] deny globs hold for everyone. Evaluation is deny-first and
 * pure: the caller resolves everything that needs the filesystem or PM2
 * (the program's path, the cwd, who owns the target task) and passes it in.
 *
 * core/policy_toml.cpp reads the TOML file and builds a policy through the
 * builder functions below; nothing here parses text.
 *
 * Must not: talk to Redis or PM2, read the clock, or log (the caller logs
 * the decision and its reason).
 */
#ifndef TASKER_POLICY_H
#define TASKER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "sig.h"

struct policy;

/* --- building (the loader calls these) ----------------------------------- */

/* A role as written. Lists are NULL-terminated arrays; NULL means the key
 * was absent (no restriction), an empty array that nothing passes. */
struct policy_role_spec {
	const char *name;
	const char *const *verbs; /* required; "*" is every verb */
	bool own_tasks_only;
	int foreign_tasks;           /* -1 absent (default: allowed when verbs has "*"), 0, 1 */
	const char *const *tasks;    /* fnmatch globs on the task name */
	const char *const *programs; /* absolute paths or bare names */
	const char *const *cwd;      /* absolute directory prefixes */
	int max_instances;           /* 0: no limit */
};

/* A new empty policy; unsigned commands get role "none" until set. */
struct policy *policy_new(void);
void policy_free(struct policy *p);

/* Each returns 0, or -1 with a sentence in err (the loader adds the file
 * and line). Names are 1 to 64 letters, digits, '.', '_' or '-'. */
int policy_set_unsigned_role(struct policy *p, const char *role, char *err, size_t errlen);
int policy_add_agent(struct policy *p, const char *name, const char *key, const char *role,
                     char *err, size_t errlen);
int policy_add_role(struct policy *p, const struct policy_role_spec *spec, char *err,
                    size_t errlen);
/* [executors]: an executor (node name) and its reply key, trusted to
 * move failover starts (docs/security.md, "Failover under a policy"). */
int policy_add_executor(struct policy *p, const char *node, const char *key, char *err,
                        size_t errlen);
int policy_add_env_deny(struct policy *p, const char *glob, char *err, size_t errlen);

/*
 * Ends building: every role an agent or [unsigned] names must exist, and
 * every path is resolved now: cwd prefixes and program paths through
 * realpath (when they exist; one that does not is kept as written and
 * matches only itself), bare program names on path_env (the executor's
 * PATH; NULL: "/usr/local/bin:/usr/bin:/bin"). Returns 0, or -1 with a
 * sentence naming the agent or role. Warnings (a program found nowhere)
 * are kept for policy_warnings().
 */
int policy_finish(struct policy *p, const char *path_env, char *err, size_t errlen);
/* Lines for the log, "\n"-separated, or NULL; owned by p. */
const char *policy_warnings(const struct policy *p);

/* --- asking ------------------------------------------------------------- */

/* The agent whose key is pk, or NULL (an unknown key). Owned by p. */
const char *policy_agent_for_key(const struct policy *p, const unsigned char pk[SIG_PUBLIC_BYTES]);
/* The node of [executors] whose key is pk, or NULL. Owned by p. */
const char *policy_executor_for_key(const struct policy *p,
                                    const unsigned char pk[SIG_PUBLIC_BYTES]);
/* True when agent is one of the policy's agents and pk its key. */
bool policy_agent_has_key(const struct policy *p, const char *agent,
                          const unsigned char pk[SIG_PUBLIC_BYTES]);
/* Counts, for logs and the bench. */
size_t policy_nagents(const struct policy *p);
size_t policy_nroles(const struct policy *p);

/* Who owns the task a command targets (the executor records owners). */
enum policy_owner {
	POLICY_TASK_NONE,    /* no such task yet (a start creates it) */
	POLICY_TASK_OWNED,   /* started through tasker; owner names who */
	POLICY_TASK_FOREIGN, /* in PM2, not started through tasker */
	/* Not known yet (before the PM2 listing): every rule but ownership
	 * is checked, so a command can be refused early; ask again with the
	 * owner before acting. */
	POLICY_TASK_UNKNOWN,
};

/* One command, resolved by the caller. */
struct policy_request {
	const char *agent; /* the signer's agent name; NULL: unsigned */
	const char *verb;  /* canonical: start, stop, restart, delete, status, logs */
	const char *task;  /* NULL for verbs without one (status) */
	/* start only: */
	const char *program;          /* policy_program_path() of what will be executed */
	const char *cwd;              /* realpath of the task's cwd */
	int instances;                /* the number that will run ("max" counted out) */
	const char *const *env_names; /* the names the command sets */
	size_t nenv;
	/* any verb with a task: */
	enum policy_owner owner_kind;
	const char *owner; /* POLICY_TASK_OWNED: agent name, NULL if started unsigned */
};

struct policy_decision {
	bool allow;
	const char *role; /* the role that applied (owned by the policy), or NULL */
	char reason[320]; /* one sentence naming the rule */
};

/* Decides req under p (deny rules first). Never fails: a request it cannot
 * judge is denied with the reason. */
void policy_eval(const struct policy *p, const struct policy_request *req,
                 struct policy_decision *out);

/*
 * The form of a program path the policy compares: the directory resolved
 * with realpath (so /bin/sleep and /usr/bin/sleep agree) and the file name
 * kept as it is (a link to a multi-call binary such as busybox picks its
 * behaviour by that name, so /bin/sh -> busybox must not pass as "sleep").
 * Returns 0, or -1 when the directory does not resolve.
 */
int policy_program_path(const char *path, char *out, size_t size);

#endif
