/*
 * pm2_rpc: see pm2.h. Owns the RPC client's connection to rpc.sock (two
 * sockets that live and die together), the calls pending on it (matched by
 * id, each with its own timeout), reading and dispatching replies, and the
 * listing socket's streamed parse. It draws nothing and never waits: every
 * socket is nonblocking and close-on-exec, every wait is a loop watcher or
 * timer. It must not build a request itself: the bytes come from
 * pm2_rpc_encode (pm2_wire.c).
 */
#include "pm2_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "loop.h"
#include "pm2_list.h"
#include "util.h"

/* ---- Socket helpers -------------------------------------------------------- */

int pm2_unix_connect(const char *path)
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

int pm2_socket_error(int fd)
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

/* Room after a call reply's payload for the rest of its frame (the id). */
#define REPLY_TAIL 256

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
	c->errors++;
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
	int fd = pm2_unix_connect(c->sock_path);
	int fd2 = fd >= 0 ? pm2_unix_connect(c->sock_path) : -1;
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
	    !pm2_arg_prefix(&f->args[f->argc - 1], 's'))
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
	if (rep.error != NULL)
		c->errors++;
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
	if (err != NULL)
		c->errors++;
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
		int e = pm2_socket_error(s->fd);
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

uint64_t pm2_client_errors(const struct pm2_client *c)
{
	return c->errors;
}

uint64_t pm2_client_call(struct pm2_client *c, struct pm2_sock *s, const char *method,
                         const cJSON *args, int64_t timeout_ms, pm2_reply_fn fn,
                         pm2_list_fn list_fn, void *arg, void (*drop)(void *arg), const char **err)
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
	return pm2_client_call(c, &c->calls, method, args, timeout_ms, fn, NULL, arg, NULL, err);
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
