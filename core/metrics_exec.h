/*
 * metrics_exec: the executor's figures for `tasker exec --metrics`
 * (docs/operations.md, "Metrics"): per task, the last PM2 listing the
 * executor made; per executor, commands by verb and outcome, their
 * latency, what is in flight, and the errors it met.
 *
 * The executor's files call the one-line hooks below as things happen;
 * a scrape only renders what is there (it never waits on PM2 or Redis).
 * Every hook is a no-op when ex has no registry.
 */
#ifndef TASKER_METRICS_EXEC_H
#define TASKER_METRICS_EXEC_H

#include <stddef.h>
#include <stdint.h>

#include "metrics.h"

struct executor;
struct metrics_exec;
struct pm2_proc;

/* node labels the task series and build info. Freed with
 * metrics_exec_free(). */
struct metrics_exec *metrics_exec_new(const char *node);
void metrics_exec_free(struct metrics_exec *me);

/* Monotonic microseconds, for a command's latency. */
int64_t metrics_exec_now_us(void);

/* A command answered: verb as received (aliases and unknown words are
 * folded), outcome its reply status; taken_us: when it was taken
 * (metrics_exec_now_us), 0 when it never became a command. */
void metrics_exec_command(struct executor *ex, const char *verb, const char *outcome,
			  int64_t taken_us);
/* A stream entry read back from the pending list. */
void metrics_exec_redelivered(struct executor *ex);
/* The bus came back after being lost. */
void metrics_exec_reconnect(struct executor *ex);
/* A command the policy refused (counted from the policy's own hook). */
void metrics_exec_policy_refused(struct executor *ex);
/* A fresh PM2 listing: replaces the task series. */
void metrics_exec_tasks(struct executor *ex, const struct pm2_proc *procs, size_t n);

/* The exposition of ex's figures; malloc'd, *len bytes, the caller frees. */
char *metrics_exec_render(struct executor *ex, enum metrics_format fmt, size_t *len);

#endif
