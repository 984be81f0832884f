/*
 * executor_int: what the executor's files share, and nothing else may use.
 *
 * The executor is four files around one struct: executor.c (life cycle and
 * shutdown), exec_command.c (a command from arrival to its one reply),
 * exec_relay.c (PM2's own events relayed to the status channel) and
 * exec_presence.c (the presence key). Only executor.h is public.
 */
#ifndef TASKER_EXECUTOR_INT_H
#define TASKER_EXECUTOR_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <cjson/cJSON.h>

#include "command_check.h"
#include "executor.h"
#include "history.h"
#include "pm2.h"

#define SEEN_IDS 256 /* request ids carried out, remembered to drop resends */

struct command;
struct exit_mark;
struct orphan_sweep;

struct executor {
	struct loop *loop;
	struct bus *bus;
	const struct config *cfg;
	struct pm2_client *pm2;
	struct pm2_events *events;
	struct loop_timer *events_retry;
	char *pm2_bin; /* NULL: none found (then no daemon start) */
	char *pm2_bin_error;
	char *pm2_home;
	char *pm2_version;
	struct pm2_launch *launch;
	bool launched_once;
	bool presence_refused;
	/* Commands: all live ones in arrival order, and how many. */
	struct command *commands;
	size_t ncommands;
	int64_t command_timeout_ms; /* an answer within this long of arrival */
	char *seen[SEEN_IDS];
	size_t seen_next;
	/* The shared listing (see exec_command.c, on_list). */
	bool list_inflight;
	struct command **batch_sent, **batch_next;
	size_t nbatch_sent, nbatch_next;
	char **base_env_keys; /* names passed from our environment */
	size_t nbase;
	char *cwd_base;
	uint64_t default_max_memory;
	struct start_defaults start_def; /* points into the three above */
	int presence_ttl;
	char *presence_key;
	struct loop_timer *presence_timer;
	int task_count;
	int self_pm_id; /* our own pm_id when PM2 runs us; -1 otherwise */
	/* Error replies to malformed messages are rate-limited (token bucket). */
	int tokens;
	int64_t tokens_at;
	unsigned long suppressed;
	/* Shutdown */
	bool draining;
	void (*drain_done)(void *arg);
	void *drain_arg;
	struct loop_timer *drain_deadline;
	size_t unacked; /* publishes not yet acknowledged by Redis */
	struct exit_mark *marks;
	size_t nmarks;
	bool ready_logged;
	/* Processes a dead daemon left behind (exec_orphans.c). */
	pid_t daemon_pid; /* the last live daemon seen; 0: none yet */
	struct orphan_sweep *sweep;
	/* The status history stream; NULL: none (history.h). */
	struct history_writer *history;
};

/* exec_command.c */
/* Publishes a status object (and deletes it); counted until Redis acks. */
void exec_publish(struct executor *ex, cJSON *obj);
/* The daemon launch finished: wake or fail the commands that waited. */
void exec_daemon_started(struct pm2_launch *l, bool ok, const char *error, void *arg);
/* Sets the command intake's initial state. */
void exec_commands_init(struct executor *ex);
/* Frees every live command without replying (teardown only). */
void exec_commands_free(struct executor *ex);

/* exec_relay.c */
void exec_relay_event(struct pm2_events *r, const struct pm2_event *ev, void *arg);
void exec_relay_state(struct pm2_events *r, bool connected, const char *reason, void *arg);
/* Connects the event reader unless it is connected; retries on failure. */
void exec_events_connect(struct executor *ex);
/* A new daemon numbers its processes afresh: forget what the relay knew. */
void exec_relay_forget(struct executor *ex);

/* exec_presence.c */
/* Lists PM2 (starting the daemon once when none answers), then writes the
 * presence key. */
void exec_presence_refresh(struct executor *ex);
void exec_presence_write(struct executor *ex);
void exec_presence_timer(struct loop *loop, void *arg);

/* exec_orphans.c */
/* Looks for processes a dead daemon of our PM2_HOME left running, SIGTERMs
 * them at once and reports each once they are gone (why: for the log). */
void exec_orphans_check(struct executor *ex, const char *why);
/* After a listing: a daemon seen for the first time, or with a new pid,
 * triggers a check. */
void exec_orphans_seen_daemon(struct executor *ex);
void exec_orphans_free(struct executor *ex);

/* executor.c */
/* Finishes a shutdown once nothing is left in flight. */
void exec_drain_check(struct executor *ex);

#endif
