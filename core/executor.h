/*
 * executor: carries out command envelopes with PM2 and answers every one of
 * them on the status channel. Shared by `tasker exec` and the console's
 * --local mode, which both own the loop and the bus and hand the executor
 * the messages of the command channel.
 *
 * It never runs a shell: a task's command is split into argv by the slash
 * tokenizer, its program resolved to an absolute path, and the whole app
 * handed to the PM2 daemon over its socket. It never exits on bad input or
 * on Redis or PM2 going away; it reports, retries, and carries on.
 */
#ifndef TASKER_EXECUTOR_H
#define TASKER_EXECUTOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"
#include "config.h"
#include "loop.h"

struct executor;

struct exec_options {
	const char *pm2_bin;	 /* --pm2; NULL: PM2_BIN, .deps, PATH */
	const char *pm2_home;	 /* NULL: PM2_HOME, ~/.pm2 */
	const char *pass_env;	 /* "NAME,NAME" passed from our environment to tasks */
	const char *cwd_base;	 /* relative cwd params resolve here; NULL: our cwd */
	uint64_t default_max_memory; /* bytes; 0: no limit unless a command sets one */
	int presence_ttl;	 /* seconds; 0: 30 */
	bool no_start_pm2;	 /* never start a daemon (systemd runs PM2 itself) */
	int64_t command_timeout_ms; /* answer within this long of arrival; 0: default */
	bool metrics; /* keep the figures --metrics serves (metrics_exec.h) */
	long history_len; /* status messages kept in the history stream (history.h);
			     0: HISTORY_DEFAULT_LEN; negative: no history */
	const char *policy_path; /* --policy FILE; NULL: none (open, warned) */
};

/* Every command is answered within this long of its arrival by default
 * (tasker send --wait waits 10 s). */
#define EXEC_DEFAULT_COMMAND_TIMEOUT_MS 8000

/* Returns NULL with a sentence in err when the options are unusable (no
 * PM2_HOME, a --pass-env name that is not a variable name). The executor
 * borrows loop, bus and cfg: they must outlive it. */
struct executor *executor_new(struct loop *loop, struct bus *bus, const struct config *cfg,
			      const struct exec_options *opt, char *err, size_t errlen);
void executor_free(struct executor *ex);

/* A message from the command channel (untrusted bytes). */
void executor_handle(struct executor *ex, const char *data, size_t len);

/* The job protocol of b00t-cli (docs/protocol.md, "Jobs"): commands on
 * EXEC_JOB_CHANNEL, job_status replies on EXEC_JOB_STATUS_CHANNEL. */
#define EXEC_JOB_CHANNEL "b00t:job"
#define EXEC_JOB_STATUS_CHANNEL "b00t:job:status"
/* A message from EXEC_JOB_CHANNEL (untrusted bytes). */
void executor_handle_job(struct executor *ex, const char *data, size_t len);
/* The bus became ready or stopped being ready. */
void executor_bus_state(struct executor *ex, bool ready);

/* Stops taking commands, finishes those in flight, removes the presence
 * key, flushes replies, then calls done (from the loop). */
void executor_drain(struct executor *ex, void (*done)(void *arg), void *arg);

/* Called when the node turns out to be served by another executor on the
 * same command channel (its presence key names another live pid or host):
 * the executor then takes no command until that one is gone. why is a
 * sentence for a person. */
void executor_on_conflict(struct executor *ex, void (*fn)(const char *why, void *arg), void *arg);

/* Reads the policy file and the trust file again (SIGHUP): 0, or -1 when
 * one is broken (what it held stays in force, and the log says why). */
int executor_reload_policy(struct executor *ex);

/* Commands received and not yet answered. */
size_t executor_inflight(const struct executor *ex);
/* The PM2 home in use (for messages). */
const char *executor_pm2_home(const struct executor *ex);

#endif
