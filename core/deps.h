/*
 * deps: a start's depends_on list (docs/protocol.md, "Dependencies"):
 * parsed and checked from its text ("db:5432,cache"), written back in one
 * canonical form (what TASKER_DEPENDS_ON records in the task's PM2
 * environment), and the order a group stop takes (the task first, then
 * what it depends on, dependents always before their dependencies). Pure:
 * no IO, no clock.
 */
#ifndef TASKER_DEPS_H
#define TASKER_DEPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "codec.h"

#define DEPS_MAX 16                   /* names one start may wait for */
#define DEPS_TIMEOUT_DEFAULT_MS 30000 /* params.depends_timeout_ms when absent */
#define DEPS_TIMEOUT_MAX_MS 600000    /* its bound (10 min) */
#define DEPS_ENV "TASKER_DEPENDS_ON"

struct dep {
	char *name; /* a task name (check_task_name) */
	int port;   /* 1..65535: also ready when a TCP connect to it succeeds; 0: none */
};

struct deps {
	struct dep *v;
	size_t n;
};

/*
 * Parses a comma list of NAME or NAME:PORT (spaces around items are
 * ignored). self: the task being started (it may not depend on itself).
 * Returns 0 with *out (free with deps_free; n may be 0 for an empty text),
 * or -1 with a sentence in err and *out empty.
 */
int deps_parse(const char *text, const char *self, struct deps *out, char *err, size_t errlen);
void deps_free(struct deps *d);
/* The canonical text ("db:5432,cache"); the caller frees it. */
char *deps_format(const struct deps *d);

/*
 * A start's params.depends_on (a string; "" is none) and
 * params.depends_timeout_ms (a whole number of ms, 100..DEPS_TIMEOUT_MAX_MS,
 * default DEPS_TIMEOUT_DEFAULT_MS; only with depends_on). Returns 0 with
 * *canon (NULL: none; the caller frees it) and *timeout_ms, or -1 with a
 * sentence in err.
 */
int deps_check_start(const struct envelope *env, char **canon, int64_t *timeout_ms, char *err,
                     size_t errlen);
/*
 * A stop's params.with_deps (true/false as JSON booleans or text, a bare
 * slash flag is true): *group true when the task's dependencies are
 * stopped after it. 0, or -1 with a sentence (with_deps given to another
 * verb than stop is refused).
 */
int deps_check_stop(const struct envelope *env, bool *group, char *err, size_t errlen);

/* One process as a group stop sees it. */
struct deps_node {
	const char *name;
	const char *depends_on; /* its TASKER_DEPENDS_ON, or NULL */
	bool active;            /* online, launching, ... */
};

/* One task of a group stop, in order. */
struct deps_step {
	char *name;
	char *kept_by; /* NULL: stop it; else an active task outside the stop that
	                  still depends on it (then it is left running) */
};

/*
 * The stop order of root's group: root, then every task it depends on
 * (through the chain), each after all the tasks of the group that depend
 * on it (the reverse of the order they must start in). A dependency some
 * active task outside what is stopped still names is kept (kept_by), and
 * so are its own dependencies. Cycles and names no process has are
 * tolerated (a name without a process is still listed: its stop answers
 * not_found). Returns how many steps (>= 1) in *out; free with
 * deps_steps_free().
 */
size_t deps_stop_plan(const struct deps_node *nodes, size_t n, const char *root,
                      struct deps_step **out);
void deps_steps_free(struct deps_step *s, size_t n);

#endif
