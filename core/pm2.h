/*
 * pm2: a client of the PM2 daemon over its own sockets, on our loop.
 *
 * Owns: the one strict request encoder (every byte sent to rpc.sock comes
 * from pm2_rpc_encode), the RPC client ($PM2_HOME/rpc.sock: pipelined calls
 * matched by id, per-call timeouts, bounded replies; listings on a second
 * socket, streamed), the event reader
 * ($PM2_HOME/pub.sock), and finding and starting the daemon (`pm2 ping`
 * spawned without a shell, watched by the loop).
 *
 * Must not: block the loop, spawn `pm2 jlist` or any pm2 command in steady
 * state, send a request the daemon could crash on (see
 * shared/reference/pm2.md: a wrong argument count or shape kills it and it
 * restarts every app with new ids), or expose `getReport`.
 *
 * Callbacks never run from inside the call that registered them; they run
 * from the loop. A client or reader may be freed from inside its own
 * callbacks.
 *
 * One header for the client's files, a section below each: pm2_wire.c
 * (encoding, reply and record parsing; no IO), pm2_rpc.c (the RPC client's
 * connection and pending calls), pm2_calls.c (the named calls),
 * pm2_events.c (the event reader) and pm2_daemon.c (finding and starting
 * the daemon). What they share and nothing else may use is in pm2_int.h.
 */
#ifndef TASKER_PM2_H
#define TASKER_PM2_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "amp.h"

struct loop;
struct pm2_client;
struct pm2_events;
struct pm2_launch;

#define PM2_DEFAULT_TIMEOUT_MS 10000
#define PM2_MAX_ID 64

/* ---- Pure helpers (no IO): encoding, reply and record parsing (pm2_wire.c) */

/*
 * Encodes one call as the two-argument frame
 *   j:{"type":"call","method":"<method>","args":[...]}  s:<id>
 * Refuses (NULL, *err set to a static sentence) unless: method is one the
 * daemon answers (killMe, notifyKillPM2 and getReport are refused), args is
 * a JSON array with exactly the number of arguments that method takes, each
 * of the expected kind (an object, or a process id as a number or string;
 * `prepare` needs a conf with an `env` object and a `pm_pid_path` string),
 * and id is 1..PM2_MAX_ID printable ASCII bytes.
 * Returns a new buffer of *len bytes; the caller frees it.
 */
char *pm2_rpc_encode(const char *method, const cJSON *args, const char *id, size_t *len,
                     const char **err);

/* One parsed reply frame. */
struct pm2_reply {
	char *id;            /* the echoed request id */
	cJSON *root;         /* the parsed j: object, owned */
	const cJSON *result; /* args[0] (a JSON null when args is empty); NULL on error */
	char *error;         /* the daemon's or the parser's message; NULL on success */
	bool arena;          /* private: root lives in the reply arena (pm2_wire.c) */
};

/*
 * Parses a reply frame ( j:{...} s:<id> ). Returns 0 with *out filled
 * (free with pm2_reply_free) whenever an id could be read, even when the
 * JSON part is broken (then out->error says so). Returns -1 with *err when
 * the frame is not a reply at all.
 */
int pm2_reply_parse(const struct amp_frame *frame, struct pm2_reply *out, const char **err);
void pm2_reply_free(struct pm2_reply *r);

enum pm2_status {
	PM2_ST_UNKNOWN,
	PM2_ST_ONLINE,
	PM2_ST_STOPPING,
	PM2_ST_STOPPED,
	PM2_ST_LAUNCHING,
	PM2_ST_ERRORED,
	PM2_ST_WAITING_RESTART,
	PM2_ST_ONE_LAUNCH,
};

enum pm2_status pm2_status_parse(const char *s);
const char *pm2_status_name(enum pm2_status st);

/* One process as getMonitorData describes it. Strings are never NULL
 * ("" when the daemon did not say); numbers are 0 when absent. */
struct pm2_proc {
	int pm_id;
	char *name;
	char *namespace;
	char *status; /* as the daemon wrote it */
	enum pm2_status state;
	int pid;                       /* 0 when stopped; may be stale while waiting restart */
	double cpu;                    /* percent */
	uint64_t memory;               /* bytes, main pid only */
	int64_t pm_uptime, created_at; /* epoch ms */
	int restart_time, unstable_restarts;
	bool cluster; /* exec_mode cluster_mode */
	char *exec_mode;
	int instances;
	char *pm_cwd, *pm_exec_path, *exec_interpreter;
	char **args; /* nargs strings */
	size_t nargs;
	char **env_names; /* the names of the app's env, never the values... */
	size_t nenv;
	/* ...but for these two, which say who started it through tasker
	 * (docs/security.md, "Ownership"): TASKER_OWNER and TASKER_OWNER_KEY
	 * of pm2_env.env; owner NULL: a foreign task (not started by tasker). */
	char *owner, *owner_key;
	/* TASKER_DEPENDS_ON (deps.h): what it waited for; NULL: nothing */
	char *depends_on;
	char *out_log_path, *err_log_path;
	uint64_t max_memory_restart; /* bytes; 0: none */
	char *cron;		     /* pm2_env.cron_restart; NULL: none */
};

/*
 * Parses a getMonitorData result (a JSON array). Records without a numeric
 * pm_id are skipped. Returns 0 and a new array of *n records (free with
 * pm2_procs_free), or -1 with *err when list is not an array. These two
 * are pm2_list.c's, beside the streaming parser that fills the same records.
 */
int pm2_procs_parse(const cJSON *list, struct pm2_proc **out, size_t *n, const char **err);
void pm2_procs_free(struct pm2_proc *procs, size_t n);

/*
 * Reads (pm_id, pid) pairs from a prepare result (an array with one record
 * per started instance) into the caller's arrays; returns how many were
 * found (at most max). pids may be NULL.
 */
size_t pm2_started(const cJSON *result, int *pm_ids, int *pids, size_t max);

/* ---- The RPC client (pm2_rpc.c) ------------------------------------------ */

/* connected: true once a connection is up; false when an attempt failed or
 * a connection was lost, with a sentence saying why. */
typedef void (*pm2_state_fn)(struct pm2_client *c, bool connected, const char *reason, void *arg);

/* Exactly one of result and error is non-NULL. result (the reply's first
 * value) is freed when the callback returns: copy what you keep. */
typedef void (*pm2_reply_fn)(struct pm2_client *c, const cJSON *result, const char *error,
                             void *arg);

/* On success the callback owns procs: free them with pm2_procs_free(). */
typedef void (*pm2_list_fn)(struct pm2_client *c, struct pm2_proc *procs, size_t n,
                            const char *error, void *arg);

/* Connects lazily, on the first call. pm2_home is copied. Returns a client
 * the caller frees with pm2_client_free(). state_fn may be NULL. */
struct pm2_client *pm2_client_new(struct loop *loop, const char *pm2_home, pm2_state_fn state_fn,
                                  void *arg);
/* Closes the connection; pending callbacks are dropped without being run. */
void pm2_client_free(struct pm2_client *c);

/* timeout_ms: the default per-call deadline (0 keeps it); max_reply: the
 * largest call reply kept (0 keeps it; default 64 MiB): a larger one is
 * skipped as it arrives and fails its call alone. Listings have no such
 * bound: they are parsed as they stream in (pm2_list.h). */
void pm2_client_set_limits(struct pm2_client *c, int64_t timeout_ms, size_t max_reply);

/* Starts connecting now rather than on the first call. Returns 0 when
 * connecting or connected, -1 with errno when the socket cannot be reached
 * (state_fn is then told as well, from the loop). */
int pm2_client_connect(struct pm2_client *c);
bool pm2_client_connected(const struct pm2_client *c);
/* Drops the connection; pending calls fail with reason. */
void pm2_client_disconnect(struct pm2_client *c, const char *reason);
size_t pm2_client_pending(const struct pm2_client *c);
/* Calls whose callback got an error so far (for metrics). */
uint64_t pm2_client_errors(const struct pm2_client *c);

/*
 * Sends one call (pipelined). timeout_ms 0 uses the client default. Returns
 * a call number > 0 for pm2_cancel(), or 0 with *err (static) when the
 * request was refused by pm2_rpc_encode; fn never runs then. If the daemon
 * is not reachable, fn gets the connection error from the loop.
 */
uint64_t pm2_call(struct pm2_client *c, const char *method, const cJSON *args, int64_t timeout_ms,
                  pm2_reply_fn fn, void *arg, const char **err);
/* Forgets a pending call: its callback will not run. */
void pm2_cancel(struct pm2_client *c, uint64_t call);

/* The named calls (pm2_calls.c). */

/* result {"msg":"pong"} */
uint64_t pm2_ping(struct pm2_client *c, pm2_reply_fn fn, void *arg);
/* result "7.0.4" */
uint64_t pm2_version(struct pm2_client *c, pm2_reply_fn fn, void *arg);
/* getMonitorData, parsed as it arrives on the client's listing socket:
 * any size of process list is read in memory bounded by its record count. */
uint64_t pm2_list(struct pm2_client *c, pm2_list_fn fn, void *arg);
/* prepare(conf) with a conf from pm2_conf_build(); result: one record per
 * instance (see pm2_started). 0 with *err when conf is refused. */
uint64_t pm2_start(struct pm2_client *c, const cJSON *conf, pm2_reply_fn fn, void *arg,
                   const char **err);
/* stopProcessId(id), then on success notifyByProcessId({id, "stop",
 * manually}) so pub.sock publishes a stop event as after `pm2 stop`. */
uint64_t pm2_stop(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg);
/* restartProcessId({id}), then notifyByProcessId({id, "restart"}). */
uint64_t pm2_restart(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg);
/* notifyByProcessId({id, "delete"}) pipelined before deleteProcessId(id):
 * after the delete the id is gone and no event could name it. */
uint64_t pm2_delete(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg);

/* ---- The event reader (pub.sock; pm2_events.c) -------------------------- */

enum pm2_event_kind { PM2_EV_PROCESS, PM2_EV_LOG_OUT, PM2_EV_LOG_ERR, PM2_EV_OTHER };

/*
 * One published event. Everything in it is untrusted (apps can publish any
 * name and payload) and borrowed: valid during the callback only. Strings
 * are never NULL ("" when absent).
 */
struct pm2_event {
	enum pm2_event_kind kind;
	const char *name;  /* "process:event", "log:out", "log:err", or anything */
	const char *event; /* process events: "online", "exit", "stop", "restart
	                      overlimit", ...; "" otherwise */
	int pm_id;         /* -1 when absent or not an integer (log:PM2 says "PM2") */
	const char *process_name;
	const char *namespace;
	const char *status; /* process events: the status at the time */
	bool manually;
	int64_t at;       /* epoch ms; 0 when absent */
	const char *data; /* log events: the text (may hold any bytes) */
	size_t data_len;
	const cJSON *payload; /* the j: payload, or NULL when absent or not JSON */
	cJSON *root_;         /* private: owns payload */
	char *name_;          /* private: owns name */
};

/* Parses a pub.sock frame ( s:<event> j:<payload> ). Returns 0 and fills
 * *ev (release with pm2_event_clear), or -1 when the frame has no event
 * name. Never fails on a bad payload: payload is NULL then. */
int pm2_event_parse(const struct amp_frame *frame, struct pm2_event *ev);
void pm2_event_clear(struct pm2_event *ev);

typedef void (*pm2_event_fn)(struct pm2_events *r, const struct pm2_event *ev, void *arg);
typedef void (*pm2_events_state_fn)(struct pm2_events *r, bool connected, const char *reason,
                                    void *arg);

/* Returns a reader the caller frees with pm2_events_free(); it connects only
 * when asked. max_frame 0: AMP_DEFAULT_MAX_FRAME. */
struct pm2_events *pm2_events_new(struct loop *loop, const char *pm2_home, size_t max_frame,
                                  pm2_event_fn fn, pm2_events_state_fn state_fn, void *arg);
void pm2_events_free(struct pm2_events *r);
/* Returns 0 (state_fn says when connected) or -1 with errno. Reconnecting
 * after a loss is the caller's decision: call this again. */
int pm2_events_connect(struct pm2_events *r);
void pm2_events_close(struct pm2_events *r);
bool pm2_events_connected(const struct pm2_events *r);
/* Reads, now, every event already waiting on the socket (its callbacks run
 * from here; a no-op when not connected or called from inside one of
 * them). The daemon writes an event before it answers the call that caused
 * it: draining before taking in an answer keeps the two in order. */
void pm2_events_drain(struct pm2_events *r);

/* ---- Finding and starting the daemon (pm2_daemon.c) --------------------- */

/*
 * Finds the pm2 command: explicit (when not NULL), else $PM2_BIN, else
 * <project_dir or cwd>/.deps/node_modules/.bin/pm2, else pm2 on $PATH.
 * An explicit path or $PM2_BIN that is not executable is an error, not a
 * reason to look further. Returns a new string the caller frees, or NULL
 * with a sentence in err.
 */
char *pm2_find_bin(const char *explicit_path, const char *project_dir, char *err, size_t errsize);

/* $PM2_HOME, else $HOME/.pm2. Returns a new string the caller frees, or NULL
 * when neither variable is set. */
char *pm2_home_path(void);

/* ok: `pm2 ping` exited 0 (the daemon answers); else error says why. The
 * launch is freed after the callback returns. */
typedef void (*pm2_launch_fn)(struct pm2_launch *l, bool ok, const char *error, void *arg);

/*
 * Starts the daemon by spawning `bin ping` without a shell, with PM2_HOME
 * set, PM2_DISCRETE_MODE=1, stdio on /dev/null and a clean signal mask, and
 * watches the child from the loop (a pidfd). After timeout_ms (0: 30 s) the
 * child is killed and fn told. Returns the launch (cancel it with
 * pm2_launch_cancel) or NULL with a sentence in err.
 */
struct pm2_launch *pm2_daemon_start(struct loop *loop, const char *bin, const char *pm2_home,
                                    int64_t timeout_ms, pm2_launch_fn fn, void *arg, char *err,
                                    size_t errsize);
/* Kills and reaps the child if still running; fn does not run. */
void pm2_launch_cancel(struct pm2_launch *l);

#endif
