/*
 * pm2: see pm2.h. This file owns the table of methods the daemon may be
 * sent and the shape of their arguments, the RPC and event connections, and
 * the `pm2 ping` child that starts a daemon. It draws nothing and never
 * waits: every socket is nonblocking and close-on-exec, every wait is a loop
 * watcher or timer.
 */
#include "pm2.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "pm2_list.h"
#include "util.h"

extern char **environ;

/* Bytes read from one socket per loop pass before the others get a turn. */
#define PM2_READ_BUDGET ((size_t)4 << 20)

/* ---- JSON helpers --------------------------------------------------------- */

/* Borrowed: the member of obj, or NULL when obj is no object or lacks it. */
static const cJSON *json_get(const cJSON *obj, const char *key)
{
	if (!cJSON_IsObject(obj))
		return NULL;
	return cJSON_GetObjectItemCaseSensitive(obj, key);
}

/* Borrowed: the string at key, or "" (never NULL). */
static const char *json_str(const cJSON *obj, const char *key)
{
	const cJSON *v = json_get(obj, key);
	return cJSON_IsString(v) && v->valuestring != NULL ? v->valuestring : "";
}

/* A finite number within [lo, hi], truncated; else def. Guards the double to
 * integer conversion, which is undefined out of range. */
static bool json_num_in(const cJSON *v, double lo, double hi, double *out)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	if (!isfinite(d) || d < lo || d > hi)
		return false;
	*out = d;
	return true;
}

static int64_t json_i64(const cJSON *obj, const char *key, int64_t def)
{
	double d;
	if (!json_num_in(json_get(obj, key), -9.0e18, 9.0e18, &d))
		return def;
	return (int64_t)d;
}

static int json_int(const cJSON *obj, const char *key, int def)
{
	double d;
	if (!json_num_in(json_get(obj, key), INT_MIN, INT_MAX, &d))
		return def;
	return (int)d;
}

/* An integral, non-negative pm_id; -1 for anything else ("PM2", 1.5, ...). */
static int json_pm_id(const cJSON *v)
{
	double d;
	if (!json_num_in(v, 0, INT_MAX, &d) || d != (double)(int)d)
		return -1;
	return (int)d;
}

/* ---- The request encoder -------------------------------------------------- */

enum arg_kind {
	ARG_OBJECT,    /* any object: ({}) for the getters */
	ARG_ID,        /* a process id: non-negative integer or short string */
	ARG_OBJECT_ID, /* an object whose "id" is a process id */
	ARG_NOTIFY,    /* {id, action_name: string} */
	ARG_CONF,      /* a prepare conf */
};

struct method_spec {
	const char *name;
	enum arg_kind kind; /* every method here takes exactly one argument */
};

/*
 * The methods we send, each with the one argument the daemon's handler
 * expects. The RPC server appends its callback after the given arguments, so
 * a wrong count puts the callback in the wrong place and the daemon dies;
 * so does a null where an object is read (opts.id). Left out on purpose:
 * killMe and notifyKillPM2 (no reply ever), getReport (the daemon's whole
 * environment), sendSignalToProcessId (a stopped app has pid 0, and
 * process.kill(0, sig) signals the daemon's own process group: SIGTERM sent
 * "to" a stopped app shut the daemon down, measured on 7.0.4).
 */
static const struct method_spec methods[] = {
    {"ping", ARG_OBJECT},
    {"getVersion", ARG_OBJECT},
    {"getMonitorData", ARG_OBJECT},
    {"getSystemData", ARG_OBJECT},
    {"reloadLogs", ARG_OBJECT},
    {"prepare", ARG_CONF},
    {"startProcessId", ARG_ID},
    {"stopProcessId", ARG_ID},
    {"deleteProcessId", ARG_ID},
    {"resetMetaProcessId", ARG_ID},
    {"restartProcessId", ARG_OBJECT_ID},
    {"reloadProcessId", ARG_OBJECT_ID},
    {"notifyByProcessId", ARG_NOTIFY},
};

/* The table entry (static) for name, or NULL. */
static const struct method_spec *method_find(const char *name)
{
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		if (strcmp(methods[i].name, name) == 0)
			return &methods[i];
	}
	return NULL;
}

static bool printable_ascii(const char *s, size_t max)
{
	size_t n = 0;
	for (; s[n] != '\0'; n++) {
		if (n >= max || s[n] < 0x21 || s[n] > 0x7e)
			return false;
	}
	return n > 0;
}

static bool arg_is_id(const cJSON *v)
{
	double d;
	if (cJSON_IsNumber(v))
		return json_num_in(v, 0, INT_MAX, &d) && d == (double)(int)d;
	return cJSON_IsString(v) && v->valuestring != NULL && printable_ascii(v->valuestring, 64);
}

static const char *arg_check(enum arg_kind kind, const cJSON *v)
{
	switch (kind) {
	case ARG_OBJECT:
		return cJSON_IsObject(v) ? NULL : "the argument must be an object";
	case ARG_ID:
		return arg_is_id(v) ? NULL : "the argument must be a process id";
	case ARG_OBJECT_ID:
		return cJSON_IsObject(v) && arg_is_id(json_get(v, "id"))
		           ? NULL
		           : "the argument must be an object with a process id";
	case ARG_NOTIFY:
		if (!cJSON_IsObject(v) || !arg_is_id(json_get(v, "id")) ||
		    !cJSON_IsString(json_get(v, "action_name")))
			return "the argument must be {id, action_name}";
		return NULL;
	case ARG_CONF:
		if (!cJSON_IsObject(v))
			return "the conf must be an object";
		if (!cJSON_IsObject(json_get(v, "env")))
			return "the conf has no env object";
		if (!cJSON_IsString(json_get(v, "pm_pid_path")))
			return "the conf has no pm_pid_path";
		if (!cJSON_IsString(json_get(v, "pm_exec_path")) ||
		    !cJSON_IsString(json_get(v, "name")))
			return "the conf has no name or pm_exec_path";
		return NULL;
	}
	return "unknown argument kind";
}

char *pm2_rpc_encode(const char *method, const cJSON *args, const char *id, size_t *len,
                     const char **err)
{
	const char *dummy;
	if (err == NULL)
		err = &dummy;
	const struct method_spec *spec = method ? method_find(method) : NULL;
	if (spec == NULL) {
		*err = "not a method tasker sends to PM2";
		return NULL;
	}
	if (!cJSON_IsArray(args)) {
		*err = "the arguments must be a JSON array";
		return NULL;
	}
	if (cJSON_GetArraySize(args) != 1) {
		*err = "wrong number of arguments for this method";
		return NULL;
	}
	const char *why = arg_check(spec->kind, cJSON_GetArrayItem(args, 0));
	if (why != NULL) {
		*err = why;
		return NULL;
	}
	if (id == NULL || !printable_ascii(id, PM2_MAX_ID)) {
		*err = "the request id must be 1 to 64 printable ASCII bytes";
		return NULL;
	}
	char *printed = cJSON_PrintUnformatted(args);
	if (printed == NULL)
		abort();
	/* The method comes from the table above: no escaping needed. */
	char *call =
	    xasprintf("j:{\"type\":\"call\",\"method\":\"%s\",\"args\":%s}", spec->name, printed);
	cJSON_free(printed);
	char *sid = xasprintf("s:%s", id);
	struct amp_arg parts[2] = {{call, strlen(call)}, {sid, strlen(sid)}};
	char *frame = amp_encode(parts, 2, len);
	free(call);
	free(sid);
	if (frame == NULL)
		*err = "the request is too large";
	return frame;
}

/* ---- Reply parsing -------------------------------------------------------- */

/*
 * Reply trees live in an arena. A listing of 100 processes is a tree of
 * some 20,000 cJSON nodes, and the console parses one every second: one
 * malloc and one free per node was half of its CPU. cJSON's allocator hooks
 * are process-wide (the one reason for mutable state at file scope here),
 * so they point at the arena only while a reply is parsed or deleted; the
 * arena is emptied when no reply tree is left in it. Replies are parsed and
 * freed one at a time on the loop, so that is after every reply.
 */
struct arena_chunk {
	struct arena_chunk *next;
	size_t used, cap;
	max_align_t data[];
};

#define ARENA_CHUNK ((size_t)1 << 20)
#define ARENA_KEEP ((size_t)8 << 20)

static struct arena_chunk *arena_head;
static size_t arena_trees;

static void *arena_malloc(size_t n)
{
	n = (n + 15) & ~(size_t)15;
	struct arena_chunk *c = arena_head;
	if (c == NULL || c->cap - c->used < n) {
		size_t cap = n > ARENA_CHUNK ? n : ARENA_CHUNK;
		c = malloc(sizeof(*c) + cap);
		if (c == NULL)
			return NULL; /* cJSON reports it as a failed parse */
		c->next = arena_head;
		c->used = 0;
		c->cap = cap;
		arena_head = c;
	}
	void *p = (char *)c->data + c->used;
	c->used += n;
	return p;
}

static void arena_free(void *p)
{
	(void)p; /* all at once, in arena_release */
}

static void arena_hooks(bool on)
{
	cJSON_Hooks h = {arena_malloc, arena_free};
	cJSON_InitHooks(on ? &h : NULL);
}

static void arena_release(void)
{
	if (arena_trees == 0 || --arena_trees > 0 || arena_head == NULL)
		return;
	/* Keep one chunk as large as all of this round's, so the next reply
	 * of the same size fits without a malloc; give back anything huge. */
	size_t total = 0;
	for (struct arena_chunk *c = arena_head; c != NULL; c = c->next)
		total += c->cap;
	if (arena_head->next != NULL || total > ARENA_KEEP) {
		while (arena_head != NULL) {
			struct arena_chunk *next = arena_head->next;
			free(arena_head);
			arena_head = next;
		}
		size_t cap = total > ARENA_KEEP ? ARENA_CHUNK : total;
		arena_head = malloc(sizeof(*arena_head) + cap);
		if (arena_head == NULL)
			return;
		arena_head->next = NULL;
		arena_head->cap = cap;
	}
	arena_head->used = 0;
}

static bool arg_prefix(const struct amp_arg *a, char p)
{
	/* ptr is NULL for an argument that was streamed rather than kept. */
	return a->ptr != NULL && a->len >= 2 && a->ptr[0] == p && a->ptr[1] == ':';
}

int pm2_reply_parse(const struct amp_frame *frame, struct pm2_reply *out, const char **err)
{
	const char *dummy;
	if (err == NULL)
		err = &dummy;
	memset(out, 0, sizeof(*out));
	if (frame->argc < 1 || !arg_prefix(&frame->args[frame->argc - 1], 's')) {
		*err = "reply without an id";
		return -1;
	}
	const struct amp_arg *ida = &frame->args[frame->argc - 1];
	out->id = xstrndup(ida->ptr + 2, ida->len - 2);
	if (frame->argc != 2 || !arg_prefix(&frame->args[0], 'j')) {
		out->error = xstrdup("malformed reply from the PM2 daemon");
		return 0;
	}
	/* The tree and what is built in it below come from the arena. */
	arena_hooks(true);
	arena_trees++;
	out->arena = true;
	out->root = cJSON_ParseWithLength(frame->args[0].ptr + 2, frame->args[0].len - 2);
	const cJSON *e = json_get(out->root, "error");
	cJSON *a =
	    cJSON_IsObject(out->root) ? cJSON_GetObjectItemCaseSensitive(out->root, "args") : NULL;
	if (out->root == NULL) {
		out->error = xstrdup("unparseable reply from the PM2 daemon");
	} else if (e != NULL && !cJSON_IsNull(e)) {
		if (cJSON_IsString(e) && e->valuestring != NULL) {
			out->error = xstrdup(e->valuestring[0] ? e->valuestring : "error");
		} else {
			char *s = cJSON_PrintUnformatted(e);
			if (s == NULL)
				abort();
			/* Keep a message readable: a huge error object is cut. */
			out->error = xstrndup(s, strlen(s) > 512 ? 512 : strlen(s));
			cJSON_free(s);
		}
	} else if (cJSON_IsArray(a)) {
		if (cJSON_GetArraySize(a) == 0) {
			cJSON *null = cJSON_CreateNull();
			if (null == NULL || !cJSON_AddItemToArray(a, null))
				abort();
		}
		out->result = cJSON_GetArrayItem(a, 0);
	} else {
		out->error = xstrdup("reply without args from the PM2 daemon");
	}
	arena_hooks(false);
	return 0;
}

void pm2_reply_free(struct pm2_reply *r)
{
	free(r->id);
	free(r->error);
	if (r->arena) {
		arena_hooks(true);
		cJSON_Delete(r->root);
		arena_hooks(false);
		arena_release();
	}
	memset(r, 0, sizeof(*r));
}

/* ---- Process records ------------------------------------------------------ */

static const char *const status_names[] = {
    [PM2_ST_UNKNOWN] = "unknown",
    [PM2_ST_ONLINE] = "online",
    [PM2_ST_STOPPING] = "stopping",
    [PM2_ST_STOPPED] = "stopped",
    [PM2_ST_LAUNCHING] = "launching",
    [PM2_ST_ERRORED] = "errored",
    [PM2_ST_WAITING_RESTART] = "waiting restart",
    [PM2_ST_ONE_LAUNCH] = "one-launch-status",
};

enum pm2_status pm2_status_parse(const char *s)
{
	for (size_t i = 1; s != NULL && i < sizeof(status_names) / sizeof(status_names[0]); i++) {
		if (strcmp(s, status_names[i]) == 0)
			return (enum pm2_status)i;
	}
	return PM2_ST_UNKNOWN;
}

const char *pm2_status_name(enum pm2_status st)
{
	if ((size_t)st >= sizeof(status_names) / sizeof(status_names[0]))
		return "unknown";
	return status_names[st];
}

size_t pm2_started(const cJSON *result, int *pm_ids, int *pids, size_t max)
{
	size_t n = 0;
	if (!cJSON_IsArray(result))
		return 0;
	const cJSON *rec;
	cJSON_ArrayForEach(rec, result)
	{
		if (n == max)
			break;
		int id = json_pm_id(json_get(json_get(rec, "pm2_env"), "pm_id"));
		if (id < 0)
			continue;
		pm_ids[n] = id;
		if (pids != NULL) {
			int pid = json_int(json_get(rec, "process"), "pid", 0);
			pids[n] = pid > 0 ? pid : json_int(rec, "pid", 0);
		}
		n++;
	}
	return n;
}

/* ---- Socket helpers -------------------------------------------------------- */

/* A nonblocking close-on-exec socket connecting to home/name. Returns the
 * fd (connected or connecting) or -1 with errno. */
static int unix_connect(const char *path)
{
	struct sockaddr_un sa;
	memset(&sa, 0, sizeof(sa));
	sa.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sa.sun_path)) {
		errno = ENAMETOOLONG;
		return -1;
	}
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 && errno != EINPROGRESS) {
		int e = errno;
		close(fd);
		errno = e;
		return -1;
	}
	return fd;
}

static int socket_error(int fd)
{
	int soerr = 0;
	socklen_t sl = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) < 0)
		return errno;
	return soerr;
}

/* ---- The RPC client --------------------------------------------------------- */

/*
 * A client holds two sockets to rpc.sock that live and die together, as one
 * connection. One carries every call but the listing, pipelined and matched
 * by id, each reply kept whole up to max_reply. The other carries only
 * getMonitorData, whose reply is parsed as its bytes arrive (pm2_list.h),
 * so a process list of any size is read in bounded memory. The id of a
 * reply comes after its payload: on a shared socket a listing could not be
 * told from a large reply to another call before the whole of it had gone
 * by. On a socket of its own every reply is a listing, and the id at its end
 * only says which one.
 */

enum conn_state { CONN_IDLE, CONN_CONNECTING, CONN_UP };

/* Room after a call reply's payload for the rest of its frame (the id). */
#define REPLY_TAIL 256

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

	int depth; /* callbacks running; free waits for 0 */
	bool dead;
};

static void client_enter(struct pm2_client *c)
{
	c->depth++;
}

static void sock_limits(struct pm2_sock *s, size_t max_reply)
{
	if (s->lister) {
		/* Every listing streams, whatever its size; what is bounded is
		 * the rest of its frame: the header and the id. */
		s->dec.max_frame = 5 + REPLY_TAIL;
		amp_decoder_stream(&s->dec, 0);
	} else {
		/* A reply over the limit streams by, skipped, and fails its
		 * call alone; the connection stays. */
		s->dec.max_frame = max_reply + REPLY_TAIL;
		amp_decoder_stream(&s->dec, max_reply);
	}
}

static void sock_init(struct pm2_sock *s, struct pm2_client *c, bool lister)
{
	memset(s, 0, sizeof(*s));
	s->c = c;
	s->lister = lister;
	s->fd = -1;
	amp_decoder_init(&s->dec, 0);
	sock_limits(s, c->max_reply);
}

static void sock_close(struct pm2_sock *s)
{
	if (s->watch != NULL)
		loop_watch_remove(s->watch);
	s->watch = NULL;
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
	s->up = false;
	amp_decoder_reset(&s->dec);
	s->out_off = s->out_len = 0;
	pm2_list_parser_free(s->lp);
	s->lp = NULL;
}

static void client_destroy(struct pm2_client *c)
{
	struct pm2_sock *socks[] = {&c->calls, &c->lists};
	for (size_t i = 0; i < 2; i++) {
		amp_decoder_free(&socks[i]->dec);
		free(socks[i]->out);
		pm2_list_parser_free(socks[i]->lp);
	}
	free(c->sock_path);
	free(c);
}

/* Leaves a callback section; c may be gone afterwards. */
static void client_leave(struct pm2_client *c)
{
	if (--c->depth == 0 && c->dead)
		client_destroy(c);
}

static void pending_unlink(struct pm2_client *c, struct pm2_pending *p)
{
	if (p->prev)
		p->prev->next = p->next;
	else
		c->head = p->next;
	if (p->next)
		p->next->prev = p->prev;
	else
		c->tail = p->prev;
	p->prev = p->next = NULL;
	c->npending--;
}

static void pending_drop(struct pm2_pending *p)
{
	loop_timer_cancel(p->timer);
	if (p->drop != NULL)
		p->drop(p->arg);
	free(p);
}

/* Runs the callback of an unlinked call with an error, and frees it. */
static void pending_fail(struct pm2_client *c, struct pm2_pending *p, const char *msg)
{
	if (p->list_fn != NULL)
		p->list_fn(c, NULL, 0, msg, p->arg);
	else
		p->fn(c, NULL, msg, p->arg);
	free(p);
}

static void client_close_conn(struct pm2_client *c)
{
	sock_close(&c->calls);
	sock_close(&c->lists);
	c->state = CONN_IDLE;
	c->gen++;
}

/* Fails every pending call with msg and tells state_fn (when given). Runs
 * user callbacks: the caller must hold a depth reference or expect c gone. */
static void client_fail_all(struct pm2_client *c, const char *reason, const char *msg)
{
	struct pm2_pending *p = c->head;
	c->head = c->tail = NULL;
	c->npending = 0;
	client_enter(c);
	if (c->state_fn != NULL && reason != NULL)
		c->state_fn(c, false, reason, c->state_arg);
	while (p != NULL) {
		struct pm2_pending *next = p->next;
		loop_timer_cancel(p->timer);
		p->timer = NULL;
		if (c->dead)
			pending_drop(p);
		else
			pending_fail(c, p, msg);
		p = next;
	}
	client_leave(c);
}

static void client_lost(struct pm2_client *c, const char *reason)
{
	char msg[400];
	snprintf(msg, sizeof(msg), "lost the connection to the PM2 daemon: %s", reason);
	client_close_conn(c);
	client_fail_all(c, reason, msg);
}

static void client_fail_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct pm2_client *c = arg;
	c->fail_timer = NULL;
	char reason[sizeof(c->fail_reason)];
	memcpy(reason, c->fail_reason, sizeof(reason));
	/* Bytes queued for the connection that never came are void. */
	c->calls.out_off = c->calls.out_len = 0;
	c->lists.out_off = c->lists.out_len = 0;
	client_fail_all(c, reason, reason);
}

static void sock_fd_cb(struct loop *loop, int fd, short revents, void *arg);

/* Starts a connection when idle. On an immediate failure the pending calls
 * and state_fn are told from a zero-delay timer; returns -1 with errno. */
static int client_open(struct pm2_client *c)
{
	if (c->state != CONN_IDLE)
		return 0;
	if (c->fail_timer != NULL) {
		/* A failure is being reported: the calls queued meanwhile share
		 * it, and the next call after it tries again. */
		errno = ECONNREFUSED;
		return -1;
	}
	int fd = unix_connect(c->sock_path);
	int fd2 = fd >= 0 ? unix_connect(c->sock_path) : -1;
	if (fd2 < 0) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		snprintf(c->fail_reason, sizeof(c->fail_reason),
		         "cannot connect to the PM2 daemon at %s: %s", c->sock_path, strerror(e));
		c->fail_timer = loop_timer_add(c->loop, 0, client_fail_cb, c);
		errno = e;
		return -1;
	}
	c->calls.fd = fd;
	c->lists.fd = fd2;
	c->state = CONN_CONNECTING;
	c->gen++;
	/* Writable means connected (or failed: SO_ERROR says which). */
	c->calls.watch = loop_watch_fd(c->loop, fd, POLLOUT, sock_fd_cb, &c->calls);
	c->lists.watch = loop_watch_fd(c->loop, fd2, POLLOUT, sock_fd_cb, &c->lists);
	return 0;
}

static void sock_want_write(struct pm2_sock *s)
{
	if (s->up && s->watch != NULL)
		loop_watch_set(s->watch, s->out_len > s->out_off ? POLLIN | POLLOUT : POLLIN);
}

/* Writes what it can; false when the connection was lost. */
static bool sock_flush(struct pm2_sock *s)
{
	while (s->out_off < s->out_len) {
		ssize_t n = send(s->fd, s->out + s->out_off, s->out_len - s->out_off, MSG_NOSIGNAL);
		if (n > 0) {
			s->out_off += (size_t)n;
			continue;
		}
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
			break;
		char reason[160];
		snprintf(reason, sizeof(reason), "write failed: %s",
		         n < 0 ? strerror(errno) : "short write");
		client_lost(s->c, reason);
		return false;
	}
	if (s->out_off == s->out_len) {
		s->out_off = s->out_len = 0;
		if (s->out_cap > ((size_t)1 << 20)) {
			free(s->out);
			s->out = NULL;
			s->out_cap = 0;
		}
	}
	sock_want_write(s);
	return true;
}

/* Borrowed: the pending call with this id, still linked, or NULL. */
static struct pm2_pending *pending_by_id(struct pm2_client *c, const char *id)
{
	for (struct pm2_pending *p = c->head; p != NULL; p = p->next) {
		if (strcmp(p->id, id) == 0)
			return p;
	}
	return NULL;
}

/* The id a reply frame ends with (a new string), or NULL. */
static char *frame_id(const struct amp_frame *f)
{
	/* A reply is data, then the id: one argument alone is no reply, and
	 * its first argument may have been streamed away (ptr NULL). */
	if (f->argc < 2 || f->args[f->argc - 1].ptr == NULL ||
	    !arg_prefix(&f->args[f->argc - 1], 's'))
		return NULL;
	const struct amp_arg *a = &f->args[f->argc - 1];
	return xstrndup(a->ptr + 2, a->len - 2);
}

/* A call reply too large to keep was skipped as it streamed by: its call
 * fails alone. Returns the pending call, unlinked, or NULL. */
static struct pm2_pending *take_pending(struct pm2_client *c, const char *id, bool lister)
{
	struct pm2_pending *p = id != NULL ? pending_by_id(c, id) : NULL;
	if (p == NULL || (p->list_fn != NULL) != lister) {
		/* Timed out or cancelled earlier. */
		log_debug("pm2: reply for unknown call %s", id ? id : "(no id)");
		return NULL;
	}
	pending_unlink(c, p);
	loop_timer_cancel(p->timer);
	p->timer = NULL;
	return p;
}

/* One frame on the call socket; false when c died or the connection
 * changed under a callback. */
static bool calls_frame(struct pm2_client *c, const struct amp_frame *f, unsigned gen)
{
	if (f->streamed) {
		char *id = frame_id(f);
		struct pm2_pending *p = take_pending(c, id, false);
		free(id);
		if (p == NULL)
			return true;
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "the PM2 daemon's reply to %s (%zu bytes) is larger than the limit of %zu "
		         "bytes",
		         p->method, f->args[0].len, c->max_reply);
		pending_fail(c, p, msg);
		return !c->dead && c->gen == gen;
	}
	struct pm2_reply rep;
	const char *perr;
	if (pm2_reply_parse(f, &rep, &perr) < 0) {
		log_warn("pm2: ignoring a frame from the daemon: %s", perr);
		return true;
	}
	struct pm2_pending *p = take_pending(c, rep.id, false);
	if (p == NULL) {
		pm2_reply_free(&rep);
		return true;
	}
	p->fn(c, rep.result, rep.error, p->arg);
	free(p);
	pm2_reply_free(&rep);
	return !c->dead && c->gen == gen;
}

/* Feeds the listing parser the bytes of the reply's first argument from
 * offset off on, past its "j:". */
static void lister_feed(struct pm2_sock *s, const char *ptr, size_t len, size_t off)
{
	if (off == 0) {
		pm2_list_parser_free(s->lp);
		s->lp = pm2_list_parser_new();
		s->lp_bad = false;
	}
	while (off < 2 && len > 0) {
		if (*ptr != "j:"[off])
			s->lp_bad = true;
		ptr++;
		len--;
		off++;
	}
	if (!s->lp_bad && len > 0)
		pm2_list_parser_feed(s->lp, ptr, len);
}

/* A whole frame on the listing socket (its first argument was fed). */
static bool lists_frame(struct pm2_client *c, const struct amp_frame *f, unsigned gen)
{
	struct pm2_sock *s = &c->lists;
	if (!f->streamed)
		lister_feed(s, f->args[0].ptr, f->args[0].len, 0);
	struct pm2_list_parser *lp = s->lp;
	s->lp = NULL;
	char *id = frame_id(f);
	if (id == NULL)
		log_warn("pm2: ignoring a frame from the daemon: reply without an id");
	struct pm2_pending *p = id != NULL ? take_pending(c, id, true) : NULL;
	free(id);
	if (p == NULL) {
		pm2_list_parser_free(lp);
		return true;
	}
	struct pm2_proc *procs = NULL;
	size_t n = 0;
	char *err = NULL;
	if (f->argc != 2 || s->lp_bad || f->args[0].len < 2)
		err = xstrdup("malformed reply from the PM2 daemon");
	else
		pm2_list_parser_finish(lp, &procs, &n, &err);
	pm2_list_parser_free(lp);
	p->list_fn(c, procs, n, err, p->arg);
	free(p);
	free(err);
	return !c->dead && c->gen == gen;
}

/* Dispatches every complete reply; false when c died or the connection
 * changed under a callback (then the caller stops touching it). */
static bool sock_drain(struct pm2_sock *s, unsigned gen)
{
	struct pm2_client *c = s->c;
	for (;;) {
		struct amp_frame f;
		enum amp_status st = amp_decoder_next(&s->dec, &f);
		if (st == AMP_NEED_MORE)
			return true;
		if (st == AMP_ERROR) {
			char reason[160];
			snprintf(reason, sizeof(reason), "bad data from the daemon (%s)",
			         s->dec.error);
			client_lost(c, reason);
			return false;
		}
		if (st == AMP_PART) {
			/* The call socket only streams what it skips. */
			if (s->lister)
				lister_feed(s, f.part.ptr, f.part.len, f.part_off);
			continue;
		}
		if (!(s->lister ? lists_frame(c, &f, gen) : calls_frame(c, &f, gen)))
			return false;
	}
}

static void sock_read(struct pm2_sock *s)
{
	struct pm2_client *c = s->c;
	unsigned gen = c->gen;
	char buf[65536];
	size_t total = 0;
	while (total < PM2_READ_BUDGET) {
		ssize_t n = recv(s->fd, buf, sizeof(buf), 0);
		if (n > 0) {
			total += (size_t)n;
			amp_decoder_feed(&s->dec, buf, (size_t)n);
			if (!sock_drain(s, gen))
				return;
			continue;
		}
		if (n == 0) {
			client_lost(c, "the daemon closed the connection");
			return;
		}
		if (errno == EINTR)
			continue;
		if (errno == EAGAIN || errno == EWOULDBLOCK)
			return;
		char reason[160];
		snprintf(reason, sizeof(reason), "read failed: %s", strerror(errno));
		client_lost(c, reason);
		return;
	}
}

static void sock_fd_cb(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)fd;
	struct pm2_sock *s = arg;
	struct pm2_client *c = s->c;
	client_enter(c);
	unsigned gen = c->gen;
	if (!s->up) {
		int e = socket_error(s->fd);
		if (e != 0) {
			snprintf(c->fail_reason, sizeof(c->fail_reason),
			         "cannot connect to the PM2 daemon at %s: %s", c->sock_path,
			         strerror(e));
			char reason[sizeof(c->fail_reason)];
			memcpy(reason, c->fail_reason, sizeof(reason));
			client_close_conn(c);
			client_fail_all(c, reason, reason);
			goto out;
		}
		s->up = true;
		sock_want_write(s);
		if (c->calls.up && c->lists.up) {
			c->state = CONN_UP;
			if (c->state_fn != NULL)
				c->state_fn(c, true, NULL, c->state_arg);
		}
		if (!c->dead && c->gen == gen)
			sock_flush(s);
		goto out;
	}
	if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
		sock_read(s);
		if (c->dead || c->gen != gen)
			goto out;
	}
	if (revents & POLLOUT)
		sock_flush(s);
out:
	client_leave(c);
}

static void call_timeout_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct pm2_pending *p = arg;
	struct pm2_client *c = p->c;
	p->timer = NULL;
	pending_unlink(c, p);
	char msg[160];
	snprintf(msg, sizeof(msg), "PM2 call %s timed out after %lld ms", p->method,
	         (long long)p->timeout_ms);
	client_enter(c);
	pending_fail(c, p, msg);
	client_leave(c);
}

struct pm2_client *pm2_client_new(struct loop *loop, const char *pm2_home, pm2_state_fn state_fn,
                                  void *arg)
{
	struct pm2_client *c = xcalloc(1, sizeof(*c));
	c->loop = loop;
	c->sock_path = xasprintf("%s/rpc.sock", pm2_home);
	c->state_fn = state_fn;
	c->state_arg = arg;
	c->pid = (long)getpid();
	c->timeout_ms = PM2_DEFAULT_TIMEOUT_MS;
	c->max_reply = AMP_DEFAULT_MAX_FRAME;
	sock_init(&c->calls, c, false);
	sock_init(&c->lists, c, true);
	return c;
}

void pm2_client_free(struct pm2_client *c)
{
	if (c == NULL || c->dead)
		return;
	c->dead = true;
	client_close_conn(c);
	loop_timer_cancel(c->fail_timer);
	c->fail_timer = NULL;
	while (c->head != NULL) {
		struct pm2_pending *p = c->head;
		pending_unlink(c, p);
		pending_drop(p);
	}
	if (c->depth == 0)
		client_destroy(c);
}

void pm2_client_set_limits(struct pm2_client *c, int64_t timeout_ms, size_t max_reply)
{
	if (timeout_ms > 0)
		c->timeout_ms = timeout_ms;
	if (max_reply > 0 && max_reply <= SIZE_MAX - REPLY_TAIL) {
		c->max_reply = max_reply;
		/* Takes effect with the next frame. */
		sock_limits(&c->calls, max_reply);
		sock_limits(&c->lists, max_reply);
	}
}

int pm2_client_connect(struct pm2_client *c)
{
	if (c->dead) {
		errno = EINVAL;
		return -1;
	}
	return client_open(c);
}

bool pm2_client_connected(const struct pm2_client *c)
{
	return c->state == CONN_UP;
}

void pm2_client_disconnect(struct pm2_client *c, const char *reason)
{
	if (c->dead || c->state == CONN_IDLE)
		return;
	client_enter(c);
	client_lost(c, reason ? reason : "closed by tasker");
	client_leave(c);
}

size_t pm2_client_pending(const struct pm2_client *c)
{
	return c->npending;
}

static uint64_t client_call(struct pm2_client *c, struct pm2_sock *s, const char *method,
                            const cJSON *args, int64_t timeout_ms, pm2_reply_fn fn,
                            pm2_list_fn list_fn, void *arg, void (*drop)(void *arg),
                            const char **err)
{
	const char *dummy;
	if (err == NULL)
		err = &dummy;
	if (c->dead || (fn == NULL && list_fn == NULL)) {
		*err = c->dead ? "the PM2 client is closed" : "no callback given";
		return 0;
	}
	uint64_t seq = c->next_seq + 1;
	char id[PM2_MAX_ID + 1];
	snprintf(id, sizeof(id), "%ld:%llu", c->pid, (unsigned long long)seq);
	size_t len;
	char *frame = pm2_rpc_encode(method, args, id, &len, err);
	if (frame == NULL)
		return 0;
	c->next_seq = seq;
	if (s->out_len + len > s->out_cap) {
		size_t cap = s->out_cap ? s->out_cap : 4096;
		while (cap < s->out_len + len)
			cap *= 2;
		s->out = xrealloc(s->out, cap);
		s->out_cap = cap;
	}
	memcpy(s->out + s->out_len, frame, len);
	s->out_len += len;
	free(frame);

	struct pm2_pending *p = xcalloc(1, sizeof(*p));
	p->c = c;
	p->seq = seq;
	memcpy(p->id, id, sizeof(id));
	snprintf(p->method, sizeof(p->method), "%s", method);
	p->timeout_ms = timeout_ms > 0 ? timeout_ms : c->timeout_ms;
	p->fn = fn;
	p->list_fn = list_fn;
	p->arg = arg;
	p->drop = drop;
	p->timer = loop_timer_add(c->loop, p->timeout_ms, call_timeout_cb, p);
	p->prev = c->tail;
	if (c->tail)
		c->tail->next = p;
	else
		c->head = p;
	c->tail = p;
	c->npending++;

	/* Never write or call back from here: the loop flushes next pass. */
	if (c->state == CONN_IDLE)
		client_open(c);
	else
		sock_want_write(s);
	return seq;
}

uint64_t pm2_call(struct pm2_client *c, const char *method, const cJSON *args, int64_t timeout_ms,
                  pm2_reply_fn fn, void *arg, const char **err)
{
	return client_call(c, &c->calls, method, args, timeout_ms, fn, NULL, arg, NULL, err);
}

void pm2_cancel(struct pm2_client *c, uint64_t call)
{
	for (struct pm2_pending *p = c->head; p != NULL; p = p->next) {
		if (p->seq == call) {
			pending_unlink(c, p);
			pending_drop(p);
			return;
		}
	}
}

/* A new one-element args array around item (which it takes); the caller
 * frees it with cJSON_Delete. */
static cJSON *args_of(cJSON *item)
{
	cJSON *a = cJSON_CreateArray();
	if (a == NULL || item == NULL || !cJSON_AddItemToArray(a, item))
		abort();
	return a;
}

/* A new {} the caller owns. */
static cJSON *empty_object(void)
{
	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	return o;
}

static uint64_t call_simple(struct pm2_client *c, const char *method, cJSON *args, pm2_reply_fn fn,
                            void *arg, void (*drop)(void *), const char **err)
{
	uint64_t id = client_call(c, &c->calls, method, args, 0, fn, NULL, arg, drop, err);
	cJSON_Delete(args);
	return id;
}

uint64_t pm2_ping(struct pm2_client *c, pm2_reply_fn fn, void *arg)
{
	return call_simple(c, "ping", args_of(empty_object()), fn, arg, NULL, NULL);
}

uint64_t pm2_version(struct pm2_client *c, pm2_reply_fn fn, void *arg)
{
	return call_simple(c, "getVersion", args_of(empty_object()), fn, arg, NULL, NULL);
}

uint64_t pm2_list(struct pm2_client *c, pm2_list_fn fn, void *arg)
{
	if (fn == NULL)
		return 0;
	cJSON *args = args_of(empty_object());
	uint64_t id =
	    client_call(c, &c->lists, "getMonitorData", args, 0, NULL, fn, arg, NULL, NULL);
	cJSON_Delete(args);
	return id;
}

uint64_t pm2_start(struct pm2_client *c, const cJSON *conf, pm2_reply_fn fn, void *arg,
                   const char **err)
{
	cJSON *dup = cJSON_Duplicate(conf, 1);
	if (dup == NULL) {
		if (err != NULL)
			*err = "no conf given";
		return 0;
	}
	return call_simple(c, "prepare", args_of(dup), fn, arg, NULL, err);
}

static void ignore_reply(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	(void)arg;
	if (error != NULL)
		log_debug("pm2: notifyByProcessId failed: %s", error);
}

static void send_notify(struct pm2_client *c, int pm_id, const char *action)
{
	cJSON *o = empty_object();
	if (!cJSON_AddNumberToObject(o, "id", pm_id) ||
	    !cJSON_AddStringToObject(o, "action_name", action) ||
	    !cJSON_AddBoolToObject(o, "manually", true))
		abort();
	call_simple(c, "notifyByProcessId", args_of(o), ignore_reply, NULL, NULL, NULL);
}

struct chain_ctx {
	pm2_reply_fn fn;
	void *arg;
	int pm_id;
	const char *action;
};

/* After a successful stop or restart, tell the event socket, as pm2 does. */
static void chain_done(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	struct chain_ctx *ctx = arg;
	if (error == NULL)
		send_notify(c, ctx->pm_id, ctx->action);
	ctx->fn(c, result, error, ctx->arg);
	free(ctx);
}

static uint64_t call_chained(struct pm2_client *c, const char *method, cJSON *args, int pm_id,
                             const char *action, pm2_reply_fn fn, void *arg)
{
	if (fn == NULL) {
		cJSON_Delete(args);
		return 0;
	}
	struct chain_ctx *ctx = xmalloc(sizeof(*ctx));
	*ctx = (struct chain_ctx){fn, arg, pm_id, action};
	uint64_t id = call_simple(c, method, args, chain_done, ctx, free, NULL);
	if (id == 0)
		free(ctx);
	return id;
}

uint64_t pm2_stop(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg)
{
	if (pm_id < 0)
		return 0;
	return call_chained(c, "stopProcessId", args_of(cJSON_CreateNumber(pm_id)), pm_id, "stop",
	                    fn, arg);
}

uint64_t pm2_restart(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg)
{
	if (pm_id < 0)
		return 0;
	cJSON *o = empty_object();
	if (!cJSON_AddNumberToObject(o, "id", pm_id))
		abort();
	return call_chained(c, "restartProcessId", args_of(o), pm_id, "restart", fn, arg);
}

uint64_t pm2_delete(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg)
{
	if (pm_id < 0 || fn == NULL)
		return 0;
	send_notify(c, pm_id, "delete");
	return call_simple(c, "deleteProcessId", args_of(cJSON_CreateNumber(pm_id)), fn, arg, NULL,
	                   NULL);
}

/* ---- Events (pub.sock) ----------------------------------------------------- */

int pm2_event_parse(const struct amp_frame *frame, struct pm2_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (frame->argc < 1 || !arg_prefix(&frame->args[0], 's'))
		return -1;
	ev->name_ = xstrndup(frame->args[0].ptr + 2, frame->args[0].len - 2);
	ev->name = ev->name_;
	if (frame->argc >= 2 && arg_prefix(&frame->args[1], 'j'))
		ev->root_ = cJSON_ParseWithLength(frame->args[1].ptr + 2, frame->args[1].len - 2);
	ev->payload = ev->root_;

	if (strcmp(ev->name, "process:event") == 0)
		ev->kind = PM2_EV_PROCESS;
	else if (strcmp(ev->name, "log:out") == 0)
		ev->kind = PM2_EV_LOG_OUT;
	else if (strcmp(ev->name, "log:err") == 0)
		ev->kind = PM2_EV_LOG_ERR;
	else
		ev->kind = PM2_EV_OTHER;

	const cJSON *proc = json_get(ev->payload, "process");
	ev->pm_id = json_pm_id(json_get(proc, "pm_id"));
	ev->process_name = json_str(proc, "name");
	ev->namespace = json_str(proc, "namespace");
	ev->status = json_str(proc, "status");
	ev->event = ev->kind == PM2_EV_PROCESS ? json_str(ev->payload, "event") : "";
	ev->manually = cJSON_IsTrue(json_get(ev->payload, "manually"));
	ev->at = json_i64(ev->payload, "at", 0);
	ev->data = json_str(ev->payload, "data");
	ev->data_len = strlen(ev->data);
	return 0;
}

void pm2_event_clear(struct pm2_event *ev)
{
	cJSON_Delete(ev->root_);
	free(ev->name_);
	memset(ev, 0, sizeof(*ev));
}

struct pm2_events {
	struct loop *loop;
	char *sock_path;
	pm2_event_fn fn;
	pm2_events_state_fn state_fn;
	void *arg;
	int fd;
	struct loop_watch *watch;
	enum conn_state state;
	unsigned gen;
	struct amp_decoder dec;
	int depth;
	bool dead;
};

static void events_destroy(struct pm2_events *r)
{
	amp_decoder_free(&r->dec);
	free(r->sock_path);
	free(r);
}

static void events_leave(struct pm2_events *r)
{
	if (--r->depth == 0 && r->dead)
		events_destroy(r);
}

static void events_close_conn(struct pm2_events *r)
{
	if (r->watch != NULL)
		loop_watch_remove(r->watch);
	r->watch = NULL;
	if (r->fd >= 0)
		close(r->fd);
	r->fd = -1;
	r->state = CONN_IDLE;
	r->gen++;
	amp_decoder_reset(&r->dec);
}

static void events_lost(struct pm2_events *r, const char *reason)
{
	events_close_conn(r);
	if (r->state_fn != NULL)
		r->state_fn(r, false, reason, r->arg);
}

static void events_read(struct pm2_events *r)
{
	unsigned gen = r->gen;
	char buf[65536];
	size_t total = 0;
	while (total < PM2_READ_BUDGET) {
		ssize_t n = recv(r->fd, buf, sizeof(buf), 0);
		if (n == 0) {
			events_lost(r, "the daemon closed the event socket");
			return;
		}
		if (n < 0) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			char reason[160];
			snprintf(reason, sizeof(reason), "event socket read failed: %s",
			         strerror(errno));
			events_lost(r, reason);
			return;
		}
		total += (size_t)n;
		amp_decoder_feed(&r->dec, buf, (size_t)n);
		for (;;) {
			struct amp_frame f;
			enum amp_status st = amp_decoder_next(&r->dec, &f);
			if (st == AMP_NEED_MORE)
				break;
			if (st == AMP_ERROR) {
				char reason[160];
				snprintf(reason, sizeof(reason),
				         "bad data on the event socket (%s)", r->dec.error);
				events_lost(r, reason);
				return;
			}
			struct pm2_event ev;
			if (pm2_event_parse(&f, &ev) < 0)
				continue;
			r->fn(r, &ev, r->arg);
			pm2_event_clear(&ev);
			if (r->dead || r->gen != gen)
				return;
		}
	}
}

static void events_fd_cb(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)fd;
	struct pm2_events *r = arg;
	r->depth++;
	if (r->state == CONN_CONNECTING) {
		int e = socket_error(r->fd);
		if (e != 0) {
			char reason[320];
			snprintf(reason, sizeof(reason), "cannot connect to %s: %s", r->sock_path,
			         strerror(e));
			events_lost(r, reason);
		} else {
			r->state = CONN_UP;
			loop_watch_set(r->watch, POLLIN);
			if (r->state_fn != NULL)
				r->state_fn(r, true, NULL, r->arg);
		}
	} else if (revents & (POLLIN | POLLHUP | POLLERR | POLLNVAL)) {
		events_read(r);
	}
	events_leave(r);
}

struct pm2_events *pm2_events_new(struct loop *loop, const char *pm2_home, size_t max_frame,
                                  pm2_event_fn fn, pm2_events_state_fn state_fn, void *arg)
{
	struct pm2_events *r = xcalloc(1, sizeof(*r));
	r->loop = loop;
	r->sock_path = xasprintf("%s/pub.sock", pm2_home);
	r->fn = fn;
	r->state_fn = state_fn;
	r->arg = arg;
	r->fd = -1;
	amp_decoder_init(&r->dec, max_frame);
	return r;
}

void pm2_events_free(struct pm2_events *r)
{
	if (r == NULL || r->dead)
		return;
	r->dead = true;
	events_close_conn(r);
	if (r->depth == 0)
		events_destroy(r);
}

int pm2_events_connect(struct pm2_events *r)
{
	if (r->dead) {
		errno = EINVAL;
		return -1;
	}
	if (r->state != CONN_IDLE)
		return 0;
	int fd = unix_connect(r->sock_path);
	if (fd < 0)
		return -1;
	r->fd = fd;
	r->state = CONN_CONNECTING;
	r->gen++;
	r->watch = loop_watch_fd(r->loop, fd, POLLOUT, events_fd_cb, r);
	return 0;
}

void pm2_events_close(struct pm2_events *r)
{
	if (!r->dead)
		events_close_conn(r);
}

bool pm2_events_connected(const struct pm2_events *r)
{
	return r->state == CONN_UP;
}

/* ---- Finding and starting the daemon --------------------------------------- */

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static void set_errbuf(char *err, size_t errsize, const char *msg, const char *path)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s%s%s", msg, path ? ": " : "", path ? path : "");
}

char *pm2_find_bin(const char *explicit_path, const char *project_dir, char *err, size_t errsize)
{
	if (explicit_path != NULL && *explicit_path != '\0') {
		if (is_executable_file(explicit_path))
			return xstrdup(explicit_path);
		set_errbuf(err, errsize, "the given pm2 is not an executable file", explicit_path);
		return NULL;
	}
	const char *env = getenv("PM2_BIN");
	if (env != NULL && *env != '\0') {
		if (is_executable_file(env))
			return xstrdup(env);
		set_errbuf(err, errsize, "PM2_BIN is not an executable file", env);
		return NULL;
	}
	char cwd[PATH_MAX];
	const char *dir = project_dir;
	if (dir == NULL && getcwd(cwd, sizeof(cwd)) != NULL)
		dir = cwd;
	if (dir != NULL) {
		char *p = xasprintf("%s/.deps/node_modules/.bin/pm2", dir);
		if (is_executable_file(p))
			return p;
		free(p);
	}
	const char *path = getenv("PATH");
	if (path != NULL) {
		const char *s = path;
		for (;;) {
			const char *colon = strchr(s, ':');
			size_t n = colon ? (size_t)(colon - s) : strlen(s);
			/* An empty PATH entry means the current directory. */
			char *p = n == 0 ? xstrdup("./pm2") : xasprintf("%.*s/pm2", (int)n, s);
			if (is_executable_file(p))
				return p;
			free(p);
			if (colon == NULL)
				break;
			s = colon + 1;
		}
	}
	set_errbuf(err, errsize,
	           "pm2 not found (looked at PM2_BIN, .deps/node_modules/.bin/pm2 and PATH)", NULL);
	return NULL;
}

char *pm2_home_path(void)
{
	const char *home = getenv("PM2_HOME");
	if (home != NULL && *home != '\0')
		return xstrdup(home);
	home = getenv("HOME");
	if (home != NULL && *home != '\0')
		return xasprintf("%s/.pm2", home);
	return NULL;
}

struct pm2_launch {
	struct loop *loop;
	pid_t pid;
	int pidfd;
	struct loop_watch *watch;
	struct loop_timer *poll_timer; /* without pidfd: waitpid every 20 ms */
	struct loop_timer *deadline;
	int64_t timeout_ms;
	pm2_launch_fn fn;
	void *arg;
	bool in_callback;
};

static void launch_release(struct pm2_launch *l)
{
	if (l->watch != NULL)
		loop_watch_remove(l->watch);
	if (l->pidfd >= 0)
		close(l->pidfd);
	loop_timer_cancel(l->poll_timer);
	loop_timer_cancel(l->deadline);
	free(l);
}

static void launch_finish(struct pm2_launch *l, bool ok, const char *error)
{
	l->in_callback = true;
	l->fn(l, ok, error, l->arg);
	launch_release(l);
}

/* Reaps the child if it has exited; true when it did (and l is gone). */
static bool launch_check(struct pm2_launch *l)
{
	int status;
	pid_t r;
	do
		r = waitpid(l->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	char msg[160];
	if (r < 0) {
		/* Someone else reaped it (a SIGCHLD handler waiting for any
		 * child): its status is lost, only a ping can tell. */
		snprintf(msg, sizeof(msg), "pm2 ping was reaped elsewhere; status unknown");
		launch_finish(l, false, msg);
		return true;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		launch_finish(l, true, NULL);
		return true;
	}
	if (WIFEXITED(status))
		snprintf(msg, sizeof(msg), "pm2 ping exited with status %d", WEXITSTATUS(status));
	else
		snprintf(msg, sizeof(msg), "pm2 ping was killed by signal %d",
		         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	launch_finish(l, false, msg);
	return true;
}

static void launch_pidfd_cb(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)fd;
	(void)revents;
	launch_check(arg);
}

static void launch_poll_cb(struct loop *loop, void *arg)
{
	struct pm2_launch *l = arg;
	l->poll_timer = NULL;
	if (!launch_check(l))
		l->poll_timer = loop_timer_add(loop, 20, launch_poll_cb, l);
}

static void launch_kill(struct pm2_launch *l)
{
	kill(l->pid, SIGKILL);
	/* After SIGKILL the wait is short; an ECHILD means it was reaped. */
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void launch_deadline_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct pm2_launch *l = arg;
	l->deadline = NULL;
	launch_kill(l);
	char msg[160];
	snprintf(msg, sizeof(msg), "pm2 ping did not finish within %lld ms",
	         (long long)l->timeout_ms);
	launch_finish(l, false, msg);
}

/* environ without PM2_HOME and PM2_DISCRETE_MODE, plus ours. The strings
 * are borrowed from environ except the two added, which the caller frees
 * (they are the last two entries). */
static char **launch_env(const char *home)
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **envp = xcalloc(n + 3, sizeof(*envp));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "PM2_HOME=", 9) == 0 ||
		    strncmp(environ[i], "PM2_DISCRETE_MODE=", 18) == 0)
			continue;
		envp[k++] = environ[i];
	}
	envp[k++] = xasprintf("PM2_HOME=%s", home);
	envp[k++] = xstrdup("PM2_DISCRETE_MODE=1");
	envp[k] = NULL;
	return envp;
}

struct pm2_launch *pm2_daemon_start(struct loop *loop, const char *bin, const char *pm2_home,
                                    int64_t timeout_ms, pm2_launch_fn fn, void *arg, char *err,
                                    size_t errsize)
{
	if (bin == NULL || pm2_home == NULL || pm2_home[0] != '/' || fn == NULL) {
		set_errbuf(err, errsize, "pm2 path, absolute PM2_HOME and callback are required",
		           NULL);
		return NULL;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	/* The loop blocks the signals it reads through a signalfd; a daemon
	 * inheriting that mask could never be stopped with SIGTERM. */
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
	              SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&defaults, sigs[i]);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	/* Its own process group: a ^C at our terminal must not reach it. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                    POSIX_SPAWN_SETPGROUP);

	char **envp = launch_env(pm2_home);
	size_t nenv = 0;
	while (envp[nenv] != NULL)
		nenv++;
	char *bin_copy = xstrdup(bin);
	char ping[] = "ping";
	char *argv[] = {bin_copy, ping, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, bin, &fa, &attr, argv, envp);
	free(bin_copy);
	free(envp[nenv - 1]);
	free(envp[nenv - 2]);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		if (err != NULL && errsize > 0)
			snprintf(err, errsize, "cannot run %s: %s", bin, strerror(rc));
		return NULL;
	}

	struct pm2_launch *l = xcalloc(1, sizeof(*l));
	l->loop = loop;
	l->pid = pid;
	l->fn = fn;
	l->arg = arg;
	l->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
#ifdef SYS_pidfd_open
	l->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	l->pidfd = -1;
#endif
	if (l->pidfd >= 0) {
		util_fd_cloexec(l->pidfd);
		l->watch = loop_watch_fd(loop, l->pidfd, POLLIN, launch_pidfd_cb, l);
	} else {
		l->poll_timer = loop_timer_add(loop, 20, launch_poll_cb, l);
	}
	l->deadline = loop_timer_add(loop, l->timeout_ms, launch_deadline_cb, l);
	return l;
}

void pm2_launch_cancel(struct pm2_launch *l)
{
	if (l == NULL || l->in_callback)
		return;
	launch_kill(l);
	launch_release(l);
}
