/*
 * executor_int: what the executor's files share, and nothing else may use.
 *
 * The executor is a few files around one struct: executor.c (life cycle and
 * shutdown), exec_intake.c (a message until it is a command or refused),
 * exec_command.c (a command until its one reply), exec_auth.c (signatures,
 * the policy, replays, the audit), exec_relay.c (PM2's own
 * events relayed to the status channel), exec_presence.c (the presence key
 * and the task table) and exec_orphans.c (what a dead daemon left running).
 * Only executor.h is public.
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
#include "policy.h"
#include "sig.h"

#define SEEN_IDS 256 /* request ids carried out, remembered to drop resends */
#define EXEC_DEFAULT_TTL_MS 60000 /* params.ttl when absent */
#define EXEC_MAX_COMMANDS 1000    /* live commands; more are refused ("busy") */

/* V_JOB is the policy's word for running or stopping a job (exec_job.c);
 * it is not a verb of the command channel. */
enum verb { V_START, V_STOP, V_RESTART, V_DELETE, V_STATUS, V_LOGS, V_RESULT, V_JOB };

struct command;
struct exec_auth;
struct exec_auth_req;
struct exec_view;
struct exec_table;
struct exit_mark;
struct logs_follow;
struct fleet;

/* A command that came from this node's stream (exec_fleet.c). */
struct exec_entry {
	char id[48];	 /* the stream entry id */
	int64_t arrival; /* wall ms it was admitted: its time counts from here */
	bool acted;	 /* it was being carried out when its executor stopped */
	bool extra;	 /* routed here only for this node's table, the name's holder
			    has it too: a not_found is acknowledged, not answered */
};
/* Where the view stood when a listing was requested. */
struct exec_view_mark {
	uint64_t seq;
	unsigned gen;
};
struct orphan_sweep;

struct executor {
	struct loop *loop;
	struct bus *bus;
	const struct config *cfg;
	/* Its own key: every status message it publishes is signed with it
	 * (exec_sign.c); reply_pub is its "ed25519:..." text for presence. */
	struct sig_key *reply_key;
	char reply_pub[53];
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
	/* The live view of PM2's processes (exec_view.c), and the commands
	 * about to decide from it (exec_command.c, on_view_batch). */
	struct exec_view *view;
	struct exec_view_mark list_mark; /* the view when the listing was sent */
	struct command **view_batch;
	size_t nview_batch;
	struct loop_timer *view_timer;
	unsigned long command_lists; /* listings made for commands (debug log) */
	char **base_env_keys; /* names passed from our environment */
	size_t nbase;
	char *cwd_base;
	uint64_t default_max_memory;
	struct start_defaults start_def; /* points into the three above */
	int presence_ttl;
	char *presence_key;
	char *tasks_key; /* the task table (fleet_tasks.h) */
	uint64_t tasks_digest;
	int64_t tasks_at; /* when it was last written (monotonic ms) */
	bool tasks_refused;
	struct loop_timer *tasks_timer; /* a listing for the table, soon */
	struct exec_table *table;       /* the last listing, between listings (exec_table.c) */
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
	struct fleet *fleet; /* the stream intake (exec_fleet.c) */
	/* Another executor serves this node on this channel: take nothing. */
	bool conflicted;
	bool claimed; /* the presence key was written by us once */
	void (*on_conflict)(const char *why, void *arg);
	void *conflict_arg;
	/* The status history stream; NULL: none (history.h). */
	struct history_writer *history;
	/* Logs being followed (exec_logs.c): they outlive their commands. */
	struct logs_follow *follows;
	size_t nfollows;
	struct metrics_exec *metrics; /* NULL: no --metrics (metrics_exec.h) */
	/* Signatures, the policy, replay ids, the audit (exec_auth.c). */
	struct exec_auth *auth;
	/* Starts waiting for their dependencies, group stops (exec_deps.c). */
	struct exec_deps *deps;
	struct exec_jobs *jobs; /* job runs (exec_job.c) */
};

/* exec_fleet.c */
void exec_fleet_new(struct executor *ex);
void exec_fleet_free(struct executor *ex);
/* Whether commands travel on streams (else each is carried out as it
 * arrives on pub/sub, on this executor alone). */
bool exec_fleet_active(const struct executor *ex);
/* Whether node is live in the fleet's view (false without the fleet). */
bool exec_fleet_node_live(const struct executor *ex, const char *node);
/* Admits a pub/sub message into the fleet's intake stream; false when the
 * streams cannot take it now (the caller carries it out itself). */
bool exec_fleet_admit(struct executor *ex, const char *data, size_t len);
/* Publishes obj (and deletes it) as the reply to entry and acknowledges the
 * entry in the same script; name_op "set"/"del"/"" keeps the name's holder;
 * forget_id (a request_id, or NULL): the command was not carried out, so
 * the same request_id may be admitted again. */
void exec_fleet_reply(struct executor *ex, const struct exec_entry *entry, cJSON *obj,
		      const char *name, const char *name_op, const char *forget_id);
/* The same, and what becomes of the task's failover definition in that
 * step: def_op from exec_failover_op(), definition the start's (or NULL),
 * owner and owner_key who started it (TASKER_OWNER, TASKER_OWNER_KEY). */
void exec_fleet_reply_def(struct executor *ex, const struct exec_entry *entry, cJSON *obj,
			  const char *name, const char *name_op, const char *forget_id,
			  const char *def_op, const char *definition, const char *owner,
			  const char *owner_key);
/* Acknowledges entry without a reply (refused garbage past the rate
 * limit). */
void exec_fleet_ack(struct executor *ex, const struct exec_entry *entry);
/* Records that entry is about to change PM2; done(arg, ok) once Redis has
 * it. -1 at once when Redis is not there. */
int exec_fleet_mark(struct executor *ex, const struct exec_entry *entry,
		    void (*done)(void *arg, bool ok), void *arg);
void exec_fleet_reader(struct bus *bus, bool up, void *arg);
void exec_fleet_bus_state(struct executor *ex, bool ready);
/* A command finished: reading may go on if it waited for room. */
void exec_fleet_kick(struct executor *ex);

/* exec_auth.c */
/* Who sent a message, as its wrapper says (verified). */
struct exec_auth_id {
	bool is_signed;
	char *inner; /* signed: the command's bytes (owned); NULL: unsigned */
	size_t inner_len;
	char agent[72];		   /* the policy's agent for the key; "" if none */
	char key[SIG_PUBLIC_TEXT]; /* "ed25519:..." when signed */
	char replay_id[65];
	int64_t replay_ttl_ms;
	/* A failover start (docs/security.md, "Failover under a policy"):
	 * the executor that moved it; agent and key are the recorded owner's
	 * (is_signed false when it was started unsigned). "" otherwise. */
	char failover_by[72];
};
/* A command as the policy sees it (owned copies). */
struct exec_auth_req {
	bool is_signed;
	char *agent; /* NULL: unsigned, or a key no policy lists (open executor) */
	char *key;
	enum verb verb;
	char *task;
	char *request_id, *agent_id;
	char *program, *cwd; /* start only */
	int instances;
	char **env_names; /* the env_* params' names */
	size_t nenv;
	char *failover_by; /* the executor that moved it here, or NULL */
};
/* Loads the policy at policy_path (NULL: none, open, warned); 0 or -1. */
int exec_auth_new(struct executor *ex, const char *policy_path, char *err, size_t errlen);
void exec_auth_free(struct executor *ex);
bool exec_auth_has_policy(const struct executor *ex);
/* Unwraps and verifies data (at_ms: when it arrived, for the window).
 * 0: go on (id->inner holds the command when signed); -1: refused, with
 * *status ("unauthenticated", "stale") and a sentence in err. Always call
 * exec_auth_id_free() (the inner bytes give the refusal its request_id). */
int exec_auth_open(struct executor *ex, const char *data, size_t len, int64_t at_ms,
		   struct exec_auth_id *id, const char **status, char *err, size_t errlen);
void exec_auth_id_free(struct exec_auth_id *id);
/* The local memory of accepted replay ids: 0 unseen, 1 seen within 2 s
 * (the bus sending it again), 2 seen earlier (a replay). */
int exec_auth_seen(struct executor *ex, const struct exec_auth_id *id, int64_t now_ms);
void exec_auth_remember(struct executor *ex, const struct exec_auth_id *id, int64_t now_ms);
/* SET <prefix>seen:<node>:<replay id> NX PX ttl; fn gets 1 (first), 0 (a
 * replay), -1 (Redis refused, with why) or -2 (the connection went: do
 * nothing more). Returns -1 at once when Redis is away. */
typedef void (*exec_auth_claim_fn)(struct executor *ex, int outcome, const char *why, void *arg);
int exec_auth_claim(struct executor *ex, const struct exec_auth_id *id, exec_auth_claim_fn fn,
		    void *arg);
/* The request for the policy; spec only for a start. Free with _free. */
struct exec_auth_req *exec_auth_req_new(const struct executor *ex, const struct exec_auth_id *id,
					enum verb verb, const char *task,
					const struct envelope *env, const struct start_spec *spec);
void exec_auth_req_free(struct exec_auth_req *r);
/* What TASKER_OWNER records for r: the agent, "unsigned", or "unlisted". */
const char *exec_auth_owner_name(const struct exec_auth_req *r);
/* Asks the policy (none: allowed); logs and audits a refusal, and an
 * allowance when audit_allow. false with *status and the reason. */
bool exec_auth_check(struct executor *ex, const struct exec_auth_req *r, enum policy_owner kind,
		     const char *owner, bool audit_allow, const char **status, char *reason,
		     size_t reasonlen);
/* Logs and audits one decision (r may be NULL). */
void exec_auth_audit(struct executor *ex, const struct exec_auth_req *r, const char *verb_word,
		     bool allowed, const char *status, const char *role, const char *reason);
/* Who owns the processes named name (TASKER_OWNER; "unsigned" gives NULL). */
enum policy_owner exec_auth_owner_of(const struct pm2_proc *procs, size_t n, const char *name,
				     const char **owner);
/* A fleet's dispatcher, before it answers for the fleet: NULL when the
 * message may go on, else the refusal to send (audited). */
cJSON *exec_auth_precheck(struct executor *ex, const char *data, size_t len, int64_t arrival);
/* 1 and the inner bytes (caller frees) when data is a wrapper (not
 * verified: for routing only); 0 otherwise. */
int exec_auth_inner(const char *data, size_t len, char **inner, size_t *inner_len);

/* exec_failover.c */
/* What a reply does to the task's failover definition (docs/fleet.md,
 * "Failover"): "def", "plain", "stop", "restart", "delete", "forget" or
 * "" (static strings). spec: the start's, or NULL. */
const char *exec_failover_op(enum verb verb, const char *status, const struct start_spec *spec);

/* exec_intake.c */
/* A message to carry out here: from pub/sub (entry NULL) or from this
 * node's stream. */
void exec_intake(struct executor *ex, const char *data, size_t len,
		 const struct exec_entry *entry);
/* Whether verb (lowercased) is one the executor knows. */
bool exec_verb_known(const char *verb);
/* The verb of a word ("run" is V_START); 0 or -1. */
int exec_verb_parse(const char *word, enum verb *out);
/* Remembers a request_id taken, so that a resend is dropped; forgets one
 * that was not carried out after all. */
void exec_remember(struct executor *ex, const char *id);
void exec_forget(struct executor *ex, const char *id);
/* Sets the command intake's initial state. */
void exec_commands_init(struct executor *ex);

/* exec_command.c */
/* Takes a checked command (spec and conf for a start, owned from now on;
 * the strings are copied) and runs it, or queues it behind a command for
 * the same name. expires: wall ms past which it is not carried out. auth
 * (owned; NULL: the executor's own command): who sent it, judged again
 * with the target's owner where the command decides. */
void exec_command_take(struct executor *ex, enum verb verb, const char *verb_word,
		       const char *name, const char *request_id, const char *agent_id,
		       struct start_spec *spec, cJSON *conf, int64_t expires,
		       const struct exec_entry *entry, struct exec_auth_req *auth);
/* The same, and done(done_arg, status, error) when the command's one reply
 * goes out (not called when the executor is freed first); the job runner
 * starts and stops its steps this way (exec_job_run.c). */
typedef void (*exec_done_fn)(void *arg, const char *status, const char *error);
void exec_command_take_then(struct executor *ex, enum verb verb, const char *verb_word,
			    const char *name, const char *request_id, const char *agent_id,
			    struct start_spec *spec, cJSON *conf, int64_t expires,
			    const struct exec_entry *entry, struct exec_auth_req *auth,
			    exec_done_fn done, void *done_arg);
/* "start", "stop", ... */
const char *exec_verb_name(enum verb v);
/* Publishes a status object (and deletes it); counted until Redis acks. */
void exec_publish(struct executor *ex, cJSON *obj);
/* exec_sign.c: loads --key (TASKER_KEY) or the key made at first start in
 * the state directory (made now when missing); 0, or -1 with err. */
int exec_sign_setup(struct executor *ex, char *err, size_t errlen);
void exec_sign_free(struct executor *ex);
/* A status message's published bytes: obj printed (and deleted) and signed
 * (reply_sig.h). A malloc'd string; NULL only when obj cannot be printed. */
char *exec_status_text(struct executor *ex, cJSON *obj);
/* The daemon launch finished: wake or fail the commands that waited. */
void exec_daemon_started(struct pm2_launch *l, bool ok, const char *error, void *arg);
/* Frees every live command without replying (teardown only). */
void exec_commands_free(struct executor *ex);

/* exec_relay.c */
void exec_relay_event(struct pm2_events *r, const struct pm2_event *ev, void *arg);
void exec_relay_state(struct pm2_events *r, bool connected, const char *reason, void *arg);
/* Connects the event reader unless it is connected; retries on failure. */
void exec_events_connect(struct executor *ex);
/* A new daemon numbers its processes afresh: forget what the relay knew. */
void exec_relay_forget(struct executor *ex);

/* exec_view.c */
void exec_view_new(struct executor *ex);
void exec_view_free(struct executor *ex);
/* Seeded by a listing since the last gap, events flowing: commands may
 * decide from it. */
bool exec_view_fresh(const struct executor *ex);
/* A gap (a failed call, ...): commands list until a listing comes back. */
void exec_view_stale(struct executor *ex, const char *why);
struct exec_view_mark exec_view_mark(const struct executor *ex);
/* A full listing requested at m (procs stay the caller's). */
void exec_view_listed(struct executor *ex, struct exec_view_mark m, const struct pm2_proc *procs,
		      size_t n);
/* From exec_relay.c: the event reader's events and state. */
void exec_view_event(struct executor *ex, const struct pm2_event *ev);
void exec_view_events_state(struct executor *ex, bool up);
/* What a call of ours established (pm2_view_set, pm2_view_gone). */
void exec_view_set(struct executor *ex, int pm_id, const char *name, enum pm2_status st, int pid);
void exec_view_gone(struct executor *ex, int pm_id);
/* The processes named name (pm2_view_find: records borrowed until the
 * view's next change). */
size_t exec_view_find(const struct executor *ex, const char *name, struct pm2_proc *out, size_t max,
		      bool *uncertain);

/* exec_presence.c */
/* Lists PM2 (starting the daemon once when none answers), then writes the
 * presence key. */
void exec_presence_refresh(struct executor *ex);
void exec_presence_write(struct executor *ex);
void exec_presence_timer(struct loop *loop, void *arg);
/* Writes the task table when it changed, or with the refresh. */
void exec_tasks_publish(struct executor *ex, const struct pm2_proc *procs, size_t n);
/* A PM2 event: list again shortly (bursts share one listing) and publish
 * the table if it changed. */
void exec_tasks_soon(struct executor *ex);

/* exec_table.c: the task table between listings. changed: a process
 * event (the held listing may be stale); asking/listed: a listing for the
 * table was sent, and came (procs NULL: it failed; else owned from now).
 * refresh: republishes the held listing with CPU and memory from /proc
 * when the view says nothing changed since; false: list instead. */
void exec_table_changed(struct executor *ex);
void exec_table_asking(struct executor *ex);
void exec_table_listed(struct executor *ex, struct pm2_proc *procs, size_t n);
bool exec_table_refresh(struct executor *ex);
void exec_table_free(struct executor *ex);

/* exec_orphans.c */
/* Looks for processes a dead daemon of our PM2_HOME left running, SIGTERMs
 * them at once and reports each once they are gone (why: for the log). */
void exec_orphans_check(struct executor *ex, const char *why);
/* After a listing: a daemon seen for the first time, or with a new pid,
 * triggers a check. */
void exec_orphans_seen_daemon(struct executor *ex);
void exec_orphans_free(struct executor *ex);

/* exec_logs.c */
/* The reply to a logs command, from the listing it shares: obj is the
 * reply so far ("ok"), returned with the lines, or with not_found, busy;
 * args holds the checked "lines" and "follow" (numbers). A follow starts
 * now and runs on after the command is answered. */
cJSON *exec_logs_answer(struct executor *ex, cJSON *obj, const char *name,
			const char *request_id, const cJSON *args, const struct pm2_proc *procs,
			size_t n);
/* Every listing of PM2: a followed task that is gone ends its follow. */
void exec_logs_listed(struct executor *ex, const struct pm2_proc *procs, size_t n);
/* Ends every follow with an end entry (counted in ex->unacked until Redis
 * has it): the executor is shutting down. */
void exec_logs_end_all(struct executor *ex, const char *why);
/* Frees every follow without writing anything (teardown only). */
void exec_logs_free(struct executor *ex);

/* exec_deps.c (docs/protocol.md, "Dependencies") */
struct exec_deps;
/* Takes a start that must wait for its depends_on, or a stop with_deps
 * (conf {"with_deps": true}): true when it did (then *spec, *conf and
 * *auth are its own and set to NULL); false: not for it, nothing taken. */
/* A stop or delete of name: the starts of name that wait for their
 * dependencies are given up (an error reply each, nothing started). */
void exec_deps_cancel(struct executor *ex, const char *name, const char *verb_word);
bool exec_deps_take(struct executor *ex, enum verb verb, const char *verb_word, const char *name,
		    const char *request_id, const char *agent_id, struct start_spec **spec,
		    cJSON **conf, int64_t expires, const struct exec_entry *entry,
		    struct exec_auth_req **auth, exec_done_fn done, void *done_arg);
/* A new command: a group stop's step when the group is taking it. */
void exec_deps_attach(struct executor *ex, struct command *cmd);
size_t exec_deps_waiting(const struct executor *ex);
/* Shutting down: every waiting start is answered (nothing started). */
void exec_deps_drain(struct executor *ex);
/* Teardown: frees everything without replying (after the commands). */
void exec_deps_free(struct executor *ex);
/* exec_job.c: the b00t:job channel (docs/protocol.md, "Jobs") */
void exec_job_new(struct executor *ex);
void exec_job_free(struct executor *ex);
/* Shutdown: every running job is stopped (its steps stopped in PM2, a
 * stopped reply), since no other executor can carry its run on. */
void exec_job_drain(struct executor *ex);
/* A one-shot task's result (exec_result.c), before it is published: ends
 * the job step that runs as that task, if any. */
void exec_job_result(struct executor *ex, const char *task, const cJSON *result);

/* executor.c */
/* Finishes a shutdown once nothing is left in flight. */
void exec_drain_check(struct executor *ex);

#endif
