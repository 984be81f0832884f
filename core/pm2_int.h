/*
 * pm2_int: what the PM2 client's files share, and nothing else may use.
 *
 * The client is five files behind one public header, pm2.h: pm2_wire.c
 * (the request encoder, reply and record parsing, the reply arena; no IO),
 * pm2_rpc.c (the connection to rpc.sock and the calls pending on it),
 * pm2_calls.c (the named calls: ping, version, list, start, stop, restart,
 * delete), pm2_events.c (the pub.sock reader) and pm2_daemon.c (finding
 * pm2 and starting the daemon). pm2_conf, pm2_list and pm2_orphans have
 * public headers of their own.
 */
#ifndef TASKER_PM2_INT_H
#define TASKER_PM2_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "amp.h"
#include "pm2.h"

struct loop_timer;
struct loop_watch;
struct pm2_list_parser;

/* Bytes read from one socket per loop pass before the others get a turn. */
#define PM2_READ_BUDGET ((size_t)4 << 20)

/* pm2_wire.c: JSON and frame helpers */
/* Borrowed: the member of obj, or NULL when obj is no object or lacks it. */
const cJSON *pm2_json_get(const cJSON *obj, const char *key);
/* Borrowed: the string at key, or "" (never NULL). */
const char *pm2_json_str(const cJSON *obj, const char *key);
/* The integer at key when it is a finite number in range; else def. */
int64_t pm2_json_i64(const cJSON *obj, const char *key, int64_t def);
/* An integral, non-negative pm_id; -1 for anything else ("PM2", 1.5, ...). */
int pm2_json_pm_id(const cJSON *v);
/* True when the frame argument a was kept and starts with p and a colon. */
bool pm2_arg_prefix(const struct amp_arg *a, char p);

/* pm2_rpc.c: socket helpers */
/* A nonblocking close-on-exec socket connecting to home/name. Returns the
 * fd (connected or connecting) or -1 with errno. */
int pm2_unix_connect(const char *path);
/* The pending error of a socket (SO_ERROR): 0 when none, errno when it
 * cannot be read. */
int pm2_socket_error(int fd);

/* The state of a connection: the RPC client's (pm2_rpc.c) and the event
 * reader's (pm2_events.c). */
enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_UP };

/* The RPC client: pm2_rpc.c owns it, pm2_calls.c queues calls on it. */

/* A call waiting for its reply. */
struct pm2_pending {
	struct pm2_pending *prev, *next;
	struct pm2_client *c;
	uint64_t seq;
	char id[PM2_MAX_ID + 1];
	char method[32];
	int64_t timeout_ms;
	pm2_reply_fn fn;     /* a call */
	pm2_list_fn list_fn; /* a listing (then fn is NULL) */
	void *arg;
	void (*drop)(void *arg); /* frees arg when no callback will run */
	struct loop_timer *timer;
};

/* One of the client's two sockets. */
struct pm2_sock {
	struct pm2_client *c;
	bool lister; /* carries getMonitorData only */
	int fd;
	struct loop_watch *watch;
	bool up; /* connected */
	struct amp_decoder dec;
	char *out; /* encoded requests not yet written */
	size_t out_off, out_len, out_cap;
	struct pm2_list_parser *lp; /* lister: the reply being read */
	bool lp_bad;                /* lister: it is not j: JSON */
};

struct pm2_client {
	struct loop *loop;
	char *sock_path;
	pm2_state_fn state_fn;
	void *state_arg;

	struct pm2_sock calls, lists;
	enum conn_state state; /* of the pair: up when both are */
	unsigned gen;          /* bumped per connection: stale work notices the change */

	struct pm2_pending *head, *tail;
	size_t npending;
	uint64_t next_seq;
	long pid;

	int64_t timeout_ms;
	size_t max_reply;

	/* A failed connect is reported from the loop, never from the call. */
	struct loop_timer *fail_timer;
	char fail_reason[320];

	uint64_t errors; /* calls answered with an error (pm2_client_errors) */
	int depth; /* callbacks running; free waits for 0 */
	bool dead;
};

/* Queues one request on s (&c->calls, or &c->lists for a listing) and
 * returns its call number, or 0 with *err (static) when it is refused;
 * exactly one of fn and list_fn is given. drop, when not NULL, frees arg
 * if the call is forgotten without its callback running. Never writes or
 * calls back from here: the loop flushes on its next pass. */
uint64_t pm2_client_call(struct pm2_client *c, struct pm2_sock *s, const char *method,
                         const cJSON *args, int64_t timeout_ms, pm2_reply_fn fn,
                         pm2_list_fn list_fn, void *arg, void (*drop)(void *arg), const char **err);

#endif
