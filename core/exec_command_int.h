/*
 * exec_command_int: what the files of the command state machine share
 * (docs/architecture.md): the command record, and the steps one file hands
 * to another. exec_command.c takes commands, learns PM2's processes,
 * decides and acts (the verbs); exec_reply.c builds and sends the one reply
 * of each; exec_verify.c finds out what really happened when a command's
 * deadline passed or it came back after its executor died.
 */
#ifndef TASKER_EXEC_COMMAND_INT_H
#define TASKER_EXEC_COMMAND_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "executor_int.h"
#include "loop.h"
#include "pm2.h"

#define MAX_IDS 1024
#define ACT_WINDOW 32	  /* PM2 calls in flight for one command */
#define VERIFY_MS 1000	  /* how long the listing after a deadline may take */
#define SETTLE_MS 250	  /* a redelivered command: list again this much later... */
#define SETTLE_TRIES 20	  /* ...at most this often, while PM2 has not finished it */

/* Where a command is; what its deadline means depends on it. */
enum phase {
	PH_QUEUED,	/* behind a command for the same name */
	PH_LISTING,	/* waiting for the shared listing */
	PH_WAIT_DAEMON, /* PM2 was not there; waiting for it to start */
	PH_ACTING,	/* calls that change PM2 in flight */
	PH_VERIFYING,	/* past the deadline: listing to learn the truth */
};

/* One action call in flight: its answer says which pm_id it was for. */
struct act_slot {
	struct command *cmd;
	int pm_id;
};

struct command {
	struct executor *ex;
	struct command *next; /* all live commands, in arrival order */
	enum verb verb;
	enum phase phase;
	char verb_word[32]; /* as received: "run", "remove", ... */
	char *name;	    /* the task; NULL for status; "#N" for params.pm_id N */
	long pm_target;	    /* params.pm_id: the one process it acts on; -1: by name */
	char *target;	    /* pm_id: the process's real name, once a listing told it */
	char *request_id;
	char *agent_id;
	struct start_spec *spec;
	struct exec_auth_req *auth; /* who sent it (exec_auth.c); NULL: our own */
	cJSON *conf;	 /* start: the app conf for prepare; logs: lines and follow */
	int *ids;	 /* pm_ids acted on (for a start: the old ones it replaces) */
	uint64_t *calls; /* per id sent: its call (cancelling an answered one is a no-op) */
	struct act_slot *slots; /* per id: what its call's answer is for */
	int *done_ids;	 /* ids acted on with success (kept over a run again) */
	size_t ndone;
	size_t nids, sent, answered;
	uint64_t prepare_call, verify_call, ping_call;
	int first_id;
	bool acted;	 /* a call that changes PM2 was sent */
	bool prepared;	 /* start: prepare was sent */
	bool lost;	 /* the connection went while calls were in flight */
	bool deadline_expires; /* its deadline is its expiry, not the budget */
	bool has_entry;	 /* it came from this node's stream (exec_fleet.c) */
	bool marked;	 /* its acting record is in Redis */
	bool redelivered; /* it was being carried out when an executor stopped */
	struct exec_entry entry;
	struct mark_ticket *mark; /* an acting record on its way */
	bool relaunched; /* the daemon was started for this command once */
	bool from_view;	 /* decided from the live view, not a listing */
	bool view_miss;	 /* a call failed on a decision from the view */
	bool rerun;	 /* it was run again from a listing after a miss */
	bool pinged;	 /* the daemon answered a ping since it was decided */
	char error[300]; /* the first error PM2 gave for one of the ids */
	int64_t expires_wall; /* wall ms: past this it is not carried out */
	int64_t taken_us; /* metrics_exec_now_us() when taken: its latency */
	struct loop_timer *deadline;
	struct loop_timer *settle; /* redelivered: the next listing, PM2 still moving */
	int settle_tries;
	/* Called with the reply just before it goes out (exec_deps.c: a step
	 * of a group stop); NULL: none. */
	void (*on_reply)(struct command *cmd, cJSON *obj, void *arg);
	void *on_reply_arg;
	exec_done_fn done; /* told the reply's status (exec_command_take_then) */
	void *done_arg;
};

/* A pending acting record: the command may be gone when Redis answers. */
struct mark_ticket {
	struct command *cmd;
};


/* exec_command.c: the state machine */
void command_begin(struct command *cmd);
/* Past its expiry (params.ttl after its timestamp): not carried out. */
bool cmd_expired(const struct command *cmd);
double cmd_budget_s(const struct executor *ex);
/* One action call answered: the command replies when all are. */
void cmd_act_done(struct command *cmd);
bool cmd_proc_active(const struct pm2_proc *p);
void cmd_cancel_calls(struct command *cmd);
void cmd_batch_remove(struct command ***batch, size_t *n, struct command *cmd);
void cmd_on_deadline(struct loop *loop, void *arg);

/* exec_reply.c: the one reply; the finishing ones free the command */
cJSON *cmd_reply_json(struct command *cmd, const char *status, const char *error, long pm_id);
void cmd_add_ids(cJSON *obj, const int *ids, size_t n);
void cmd_reply_expired(struct command *cmd);
void cmd_reply_simple(struct command *cmd, const char *status, const char *error, long pm_id);
void cmd_reply_and_finish(struct command *cmd, cJSON *obj);

/* exec_pmid.c: a command by pm_id (command_target.h) */
/* The task name it acts on: the real name of a pm_id once known. */
const char *cmd_task(const struct command *cmd);
/* Whether p is what cmd acts on: its pm_id, or a process of its name. */
bool cmd_targets(const struct command *cmd, const struct pm2_proc *p);
/* A pm_id command on a listing: finds its process, learns its real name
 * and judges logs under the policy. Returns 0 with *procs and *n narrowed
 * to that one process, or -1 when it answered (not_found, denied). */
int cmd_pm_resolve(struct command *cmd, const struct pm2_proc **procs, size_t *n);

/* exec_verify.c: a fresh listing decides what happened */
void command_verify(struct command *cmd);

#endif
