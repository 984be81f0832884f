/*
 * bus: see bus.h. Owns both hiredis async contexts and glues them to the
 * loop. hiredis tells us what to watch through its ev hooks; the loop calls
 * back when the fd is ready. Two rules from hiredis 0.14 shape this file:
 * a context may be freed inside redisAsyncHandleRead/Write (so nothing
 * touches it after those calls), and the disconnect callback is the last
 * word on a context (so our pointer is dropped there).
 */
#include "bus.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <hiredis/async.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "util.h"

#define BACKOFF_MIN_MS 50
#define BACKOFF_MAX_MS 2000
#define CONNECT_TIMEOUT_MS 5000
#define QUEUE_MAX_MSGS 10000
#define QUEUE_MAX_BYTES (16u << 20)

enum conn_phase { PHASE_DOWN, PHASE_CONNECTING, PHASE_AUTH, PHASE_UP };

struct conn {
	struct bus *bus;
	bool is_sub;
	bool is_reader; /* the third connection, for blocking reads */
	redisAsyncContext *ac;
	struct loop_watch *watch;
	struct loop_timer *retry;   /* next connect attempt */
	struct loop_timer *timeout; /* connect attempt deadline */
	enum conn_phase phase;
	unsigned attempt;
	size_t confirmed; /* subscriptions the server confirmed */
	bool refused;	  /* the server refused AUTH or SELECT */
	bool complained;  /* this outage's refusal is logged already */
	struct loop_timer *drop; /* a deferred disconnect (see on_connect) */
	const char *drop_reason;
	char why[256];
};

struct queued {
	struct bus *bus;
	char *channel;
	char *data;
	size_t len;
	bus_published_fn cb;
	void *arg;
	struct queued *next;
};

struct bus {
	struct loop *loop;
	struct redis_url url;
	char address[512];
	struct bus_handlers h;
	void *arg;
	struct conn sub, pub, rd;
	bool rd_enabled;
	void (*on_reader)(struct bus *bus, bool up, void *arg);
	void *reader_arg;
	char **channels;
	size_t nchannels;
	bool ready;
	bool closing;
	bool unresolved_said;		     /* this outage's resolver failure is logged */
	struct loop_timer *unresolved_timer; /* tells on_unresolved from the loop */
	char unresolved_why[300];
	struct queued *qhead, *qtail;
	struct queued *requeue_tail; /* last message put back after a drop */
	size_t qcount, qbytes;
	char status[600];
};

static void conn_connect(struct conn *c);
static void flush_queue(struct bus *bus);

static const char *conn_role(const struct conn *c)
{
	return c->is_sub ? "subscriber" : c->is_reader ? "reader" : "publisher";
}

static void update_state(struct bus *bus)
{
	bool ready = bus->sub.phase == PHASE_UP && bus->pub.phase == PHASE_UP &&
		     bus->sub.confirmed >= bus->nchannels;
	const char *why = "";
	if (!ready) {
		struct conn *c = bus->sub.phase != PHASE_UP ? &bus->sub : &bus->pub;
		why = c->why[0] ? c->why : "subscribing";
	}
	if (ready)
		snprintf(bus->status, sizeof(bus->status), "connected to %s", bus->address);
	else
		snprintf(bus->status, sizeof(bus->status), "%s", why);
	if (ready == bus->ready)
		return;
	bus->ready = ready;
	if (ready)
		log_debug("redis: ready on %s", bus->address);
	if (bus->h.on_state != NULL)
		bus->h.on_state(bus, ready, ready ? "" : why, bus->arg);
}

/* --- loop glue: hiredis asks, the loop watches ------------------------- */

static void on_fd(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)fd;
	struct conn *c = arg;
	/* Either call may free the context (and so clear c->ac): check between. */
	if (c->ac != NULL && (revents & (POLLIN | POLLHUP | POLLERR)))
		redisAsyncHandleRead(c->ac);
	if (c->ac != NULL && (revents & POLLOUT))
		redisAsyncHandleWrite(c->ac);
}

static void ev_set(void *p, short bit, bool on)
{
	struct conn *c = p;
	short e = loop_watch_events(c->watch);
	loop_watch_set(c->watch, (short)(on ? e | bit : e & ~bit));
}

static void ev_add_read(void *p)
{
	ev_set(p, POLLIN, true);
}

static void ev_del_read(void *p)
{
	ev_set(p, POLLIN, false);
}

static void ev_add_write(void *p)
{
	ev_set(p, POLLOUT, true);
}

static void ev_del_write(void *p)
{
	ev_set(p, POLLOUT, false);
}

static void ev_cleanup(void *p)
{
	struct conn *c = p;
	loop_watch_remove(c->watch);
	c->watch = NULL;
}

/* --- connection lifecycle ---------------------------------------------- */

static void on_retry(struct loop *loop, void *arg)
{
	(void)loop;
	struct conn *c = arg;
	c->retry = NULL;
	conn_connect(c);
}

static void schedule_retry_quiet(struct conn *c, const char *why, bool quiet);

static void schedule_retry(struct conn *c, const char *why)
{
	schedule_retry_quiet(c, why, false);
}

static void schedule_retry_quiet(struct conn *c, const char *why, bool quiet)
{
	struct bus *bus = c->bus;
	c->phase = PHASE_DOWN;
	c->confirmed = 0;
	loop_timer_cancel(c->timeout);
	c->timeout = NULL;
	if (bus->closing)
		return;
	unsigned shift = c->attempt < 6 ? c->attempt : 6;
	int64_t delay = (int64_t)BACKOFF_MIN_MS << shift;
	if (delay > BACKOFF_MAX_MS)
		delay = BACKOFF_MAX_MS;
	c->attempt++;
	snprintf(c->why, sizeof(c->why), "waiting for Redis at %s: %s (retry %u in %lld ms)",
		 bus->address, why, c->attempt, (long long)delay);
	/* The first failures are normal at start-up; say it loudly only once it lasts. */
	if (!quiet && (c->attempt == 1 || c->attempt % 30 == 0))
		log_warn("redis (%s): %s", conn_role(c), c->why);
	else
		log_debug("redis (%s): %s", conn_role(c), c->why);
	loop_timer_cancel(c->retry);
	c->retry = loop_timer_add(bus->loop, delay, on_retry, c);
	update_state(bus);
	if (c->is_reader && bus->on_reader != NULL)
		bus->on_reader(bus, false, bus->reader_arg);
}

static void on_connect_timeout(struct loop *loop, void *arg)
{
	(void)loop;
	struct conn *c = arg;
	c->timeout = NULL;
	if (c->ac == NULL)
		return;
	redisAsyncContext *ac = c->ac;
	c->ac = NULL;
	/* Not yet connected, so hiredis calls no disconnect callback: our state
	 * is ours to reset. */
	ac->ev.cleanup = NULL;
	loop_watch_remove(c->watch);
	c->watch = NULL;
	redisAsyncFree(ac);
	schedule_retry(c, "connect timed out");
}

/* Redis said no (AUTH, SELECT, SUBSCRIBE): say why in the status, and in
 * the log once per outage rather than once per attempt. */
static void conn_refused(struct conn *c, const char *what, const char *detail)
{
	snprintf(c->why, sizeof(c->why), "Redis at %s refused %s: %s", c->bus->address, what,
		 detail);
	if (!c->complained)
		log_error("redis: %s", c->why);
	c->complained = true;
	update_state(c->bus);
}

static void on_subscribe_reply(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac;
	struct conn *c = priv;
	redisReply *reply = r;
	if (reply == NULL || c->bus->closing)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* An ACL without the channel: Redis may drop us, we come back
		 * with backoff. */
		conn_refused(c, "SUBSCRIBE", reply->str);
		return;
	}
	if (reply->type != REDIS_REPLY_ARRAY || reply->elements < 3 ||
	    reply->element[0]->type != REDIS_REPLY_STRING)
		return;
	const char *kind = reply->element[0]->str;
	if (strcmp(kind, "subscribe") == 0) {
		c->confirmed++;
		if (c->confirmed >= c->bus->nchannels) {
			/* Only now is this connection known to work: reset the backoff. */
			c->attempt = 0;
			c->complained = false;
		}
		log_debug("redis: subscribed to %s", reply->element[1]->str);
		update_state(c->bus);
	} else if (strcmp(kind, "message") == 0 && c->bus->h.on_message != NULL) {
		redisReply *ch = reply->element[1], *data = reply->element[2];
		if (ch->type == REDIS_REPLY_STRING && data->type == REDIS_REPLY_STRING)
			c->bus->h.on_message(c->bus, ch->str, data->str, data->len, c->bus->arg);
	}
}

static void send_subscribe(struct conn *c, const char *channel)
{
	const char *argv[2] = {"SUBSCRIBE", channel};
	size_t lens[2] = {9, strlen(channel)};
	redisAsyncCommandArgv(c->ac, on_subscribe_reply, c, 2, argv, lens);
}

static void conn_up(struct conn *c)
{
	struct bus *bus = c->bus;
	c->phase = PHASE_UP;
	c->why[0] = '\0';
	bus->unresolved_said = false; /* the name resolved: a new outage is news */
	if (!c->is_sub) {
		c->attempt = 0;
		c->complained = false;
	}
	if (c->is_reader) {
		/* Not part of readiness: its user restarts its reads. */
		if (bus->on_reader != NULL)
			bus->on_reader(bus, true, bus->reader_arg);
		return;
	}
	if (c->is_sub) {
		c->confirmed = 0;
		snprintf(c->why, sizeof(c->why), "subscribing on %s", bus->address);
		for (size_t i = 0; i < bus->nchannels; i++)
			send_subscribe(c, bus->channels[i]);
	} else {
		flush_queue(bus);
	}
	update_state(bus);
}

static void on_select_reply(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac;
	struct conn *c = priv;
	redisReply *reply = r;
	if (reply == NULL || c->bus->closing)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* Keep the connection but never call it up: the address is wrong. */
		char what[32];
		snprintf(what, sizeof(what), "SELECT %d", c->bus->url.db);
		conn_refused(c, what, reply->str);
		return;
	}
	conn_up(c);
}

static void after_auth(struct conn *c)
{
	if (c->bus->url.db != 0) {
		char db[16];
		snprintf(db, sizeof(db), "%d", c->bus->url.db);
		const char *argv[2] = {"SELECT", db};
		size_t lens[2] = {6, strlen(db)};
		redisAsyncCommandArgv(c->ac, on_select_reply, c, 2, argv, lens);
		return;
	}
	conn_up(c);
}

static void on_auth_reply(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac;
	struct conn *c = priv;
	redisReply *reply = r;
	if (reply == NULL || c->bus->closing)
		return;
	if (reply->type == REDIS_REPLY_ERROR) {
		/* The server's words, never the password. */
		conn_refused(c, "the credentials", reply->str);
		/* Drop and retry slowly: the password may be fixed on the server. */
		c->attempt = 6;
		c->refused = true;
		redisAsyncDisconnect(c->ac);
		return;
	}
	after_auth(c);
}

static void on_drop(struct loop *loop, void *arg)
{
	(void)loop;
	struct conn *c = arg;
	c->drop = NULL;
	if (c->ac != NULL)
		redisAsyncDisconnect(c->ac);
}

static bool self_connected(int fd)
{
	struct sockaddr_storage a, b;
	socklen_t la = sizeof(a), lb = sizeof(b);
	if (getsockname(fd, (struct sockaddr *)&a, &la) != 0 ||
	    getpeername(fd, (struct sockaddr *)&b, &lb) != 0 || la != lb)
		return false;
	if (a.ss_family == AF_INET)
		return memcmp(&((struct sockaddr_in *)&a)->sin_addr,
			      &((struct sockaddr_in *)&b)->sin_addr, sizeof(struct in_addr)) == 0 &&
		       ((struct sockaddr_in *)&a)->sin_port == ((struct sockaddr_in *)&b)->sin_port;
	if (a.ss_family == AF_INET6)
		return memcmp(&((struct sockaddr_in6 *)&a)->sin6_addr,
			      &((struct sockaddr_in6 *)&b)->sin6_addr, sizeof(struct in6_addr)) == 0 &&
		       ((struct sockaddr_in6 *)&a)->sin6_port == ((struct sockaddr_in6 *)&b)->sin6_port;
	return false;
}

static void on_connect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->ev.data;
	loop_timer_cancel(c->timeout);
	c->timeout = NULL;
	if (status != REDIS_OK) {
		/* hiredis frees the context after we return. */
		c->ac = NULL;
		schedule_retry(c, ac->errstr[0] ? ac->errstr : "connection failed");
		return;
	}
	if (self_connected(ac->c.fd)) {
		/* Retrying a local port in the ephemeral range can connect the
		 * socket to itself (TCP simultaneous open): nobody is there.
		 * Drop it from the loop, not here: hiredis still uses the
		 * context after this callback returns. */
		c->drop_reason = "connected to itself: nobody listens on that port";
		loop_timer_cancel(c->drop);
		c->drop = loop_timer_add(c->bus->loop, 0, on_drop, c);
		return;
	}
	log_debug("redis (%s): connected to %s", conn_role(c),
		  c->bus->address);
	c->phase = PHASE_AUTH;
	if (c->bus->url.password != NULL) {
		const char *argv[3] = {"AUTH", c->bus->url.user, c->bus->url.password};
		size_t lens[3] = {4, 0, strlen(c->bus->url.password)};
		int argc = 2;
		if (c->bus->url.user != NULL) {
			lens[1] = strlen(c->bus->url.user);
			argc = 3;
		} else {
			argv[1] = c->bus->url.password;
			lens[1] = lens[2];
		}
		redisAsyncCommandArgv(c->ac, on_auth_reply, c, argc, argv, lens);
		return;
	}
	after_auth(c);
}

static void on_disconnect(const redisAsyncContext *ac, int status)
{
	struct conn *c = ac->ev.data;
	c->ac = NULL;
	if (c->bus->closing || status == REDIS_OK) {
		c->phase = PHASE_DOWN;
		if (!c->bus->closing)
			schedule_retry(c, c->refused       ? "credentials refused"
					  : c->drop_reason ? c->drop_reason
							   : "disconnected");
		c->refused = false;
		c->drop_reason = NULL;
		return;
	}
	/* After a refusal (NOPERM on SUBSCRIBE ends the connection) the loss is
	 * expected and was said once already. */
	log_msg(c->complained ? LOG_LVL_DEBUG : LOG_LVL_WARN, "redis (%s): connection lost: %s",
		conn_role(c),
		ac->errstr[0] ? ac->errstr : "server closed the connection");
	schedule_retry(c, ac->errstr[0] ? ac->errstr : "server closed the connection");
}

static void on_unresolved_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct bus *bus = arg;
	bus->unresolved_timer = NULL;
	if (bus->h.on_unresolved != NULL && !bus->closing)
		bus->h.on_unresolved(bus, bus->unresolved_why, bus->arg);
}

/*
 * hiredis resolves the host itself and keeps only gai_strerror()'s words
 * of the answer: compare with the answers that say the name does not
 * exist. A temporary failure (EAI_AGAIN) is not one of them.
 */
static bool resolver_said_no(const char *errstr)
{
	static const int final[] = {EAI_NONAME, EAI_FAIL,
#ifdef EAI_NODATA
				    EAI_NODATA,
#endif
#ifdef EAI_ADDRFAMILY
				    EAI_ADDRFAMILY,
#endif
	};
	for (size_t i = 0; i < sizeof(final) / sizeof(final[0]); i++)
		if (strcmp(errstr, gai_strerror(final[i])) == 0)
			return true;
	return false;
}

/* A connect that failed before any socket existed. The resolver's "no
 * such host" is said once per outage (and to on_unresolved), not once per
 * attempt and connection. */
static void connect_failed(struct conn *c, const char *errstr)
{
	struct bus *bus = c->bus;
	if (bus->url.is_unix || !resolver_said_no(errstr)) {
		schedule_retry(c, errstr);
		return;
	}
	char why[300];
	snprintf(why, sizeof(why), "cannot resolve the Redis host %.200s: %s", bus->url.host,
		 errstr);
	bool first = !bus->unresolved_said;
	if (first) {
		bus->unresolved_said = true;
		snprintf(bus->unresolved_why, sizeof(bus->unresolved_why), "%s", why);
		/* A tool that stops on it says so itself. */
		log_msg(bus->h.on_unresolved != NULL ? LOG_LVL_DEBUG : LOG_LVL_WARN,
			"redis: %s (retrying)", why);
		if (bus->h.on_unresolved != NULL && bus->unresolved_timer == NULL)
			bus->unresolved_timer = loop_timer_add(bus->loop, 0, on_unresolved_timer, bus);
	}
	schedule_retry_quiet(c, why, true);
}

static void conn_connect(struct conn *c)
{
	struct bus *bus = c->bus;
	redisAsyncContext *ac = bus->url.is_unix ? redisAsyncConnectUnix(bus->url.path)
						 : redisAsyncConnect(bus->url.host, bus->url.port);
	if (ac == NULL) {
		schedule_retry(c, "out of memory");
		return;
	}
	if (ac->err) {
		char why[256];
		snprintf(why, sizeof(why), "%s", ac->errstr);
		redisAsyncFree(ac);
		connect_failed(c, why);
		return;
	}
	/* hiredis sockets are not close-on-exec: every spawned task would
	 * inherit the Redis connection. */
	util_fd_cloexec(ac->c.fd);
	c->ac = ac;
	c->phase = PHASE_CONNECTING;
	c->watch = loop_watch_fd(bus->loop, ac->c.fd, 0, on_fd, c);
	ac->ev.data = c;
	ac->ev.addRead = ev_add_read;
	ac->ev.delRead = ev_del_read;
	ac->ev.addWrite = ev_add_write;
	ac->ev.delWrite = ev_del_write;
	ac->ev.cleanup = ev_cleanup;
	/* Hooks first: setting the connect callback asks for write-readiness. */
	redisAsyncSetConnectCallback(ac, on_connect);
	redisAsyncSetDisconnectCallback(ac, on_disconnect);
	c->timeout = loop_timer_add(bus->loop, CONNECT_TIMEOUT_MS, on_connect_timeout, c);
	if (c->why[0] == '\0')
		snprintf(c->why, sizeof(c->why), "connecting to Redis at %s", bus->address);
}

/* --- publishing ---------------------------------------------------------- */

static void queued_free(struct queued *q)
{
	free(q->channel);
	free(q->data);
	free(q);
}

static void on_publish_reply(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac;
	struct queued *q = priv;
	struct bus *bus = q->bus;
	redisReply *reply = r;
	if (reply == NULL && !bus->closing) {
		/* The connection went away before the reply: the message may not
		 * have reached Redis. Send it again after the reconnect (at least
		 * once beats at most once; executors drop a request_id they have
		 * seen). hiredis fails the pending ones oldest first: they go
		 * back in that order, ahead of what was queued meanwhile. */
		if (bus->requeue_tail == NULL) {
			q->next = bus->qhead;
			bus->qhead = q;
		} else {
			q->next = bus->requeue_tail->next;
			bus->requeue_tail->next = q;
		}
		bus->requeue_tail = q;
		if (q->next == NULL)
			bus->qtail = q;
		bus->qcount++;
		bus->qbytes += q->len;
		return;
	}
	long long n = -1;
	if (reply != NULL && reply->type == REDIS_REPLY_INTEGER)
		n = reply->integer;
	else if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_error("redis: PUBLISH on %s refused: %s", q->channel, reply->str);
	if (q->cb != NULL)
		q->cb(bus, n, q->arg);
	queued_free(q);
}

static void send_publish(struct bus *bus, struct queued *q)
{
	const char *argv[3] = {"PUBLISH", q->channel, q->data};
	size_t lens[3] = {7, strlen(q->channel), q->len};
	q->next = NULL;
	if (redisAsyncCommandArgv(bus->pub.ac, on_publish_reply, q, 3, argv, lens) != REDIS_OK) {
		if (q->cb != NULL)
			q->cb(bus, -1, q->arg);
		queued_free(q);
	}
}

static void flush_queue(struct bus *bus)
{
	bus->requeue_tail = NULL;
	while (bus->qhead != NULL && bus->pub.phase == PHASE_UP && bus->pub.ac != NULL) {
		struct queued *q = bus->qhead;
		bus->qhead = q->next;
		if (bus->qhead == NULL)
			bus->qtail = NULL;
		bus->qcount--;
		bus->qbytes -= q->len;
		send_publish(bus, q);
	}
}

int bus_publish(struct bus *bus, const char *channel, const char *data, size_t len,
		bus_published_fn cb, void *arg)
{
	if (bus->qcount >= QUEUE_MAX_MSGS || bus->qbytes + len > QUEUE_MAX_BYTES) {
		log_error("redis: publish queue full (%zu messages); dropping a message for %s",
			  bus->qcount, channel);
		return -1;
	}
	struct queued *q = xcalloc(1, sizeof(*q));
	q->bus = bus;
	q->channel = xstrdup(channel);
	q->data = xmalloc(len + 1);
	memcpy(q->data, data, len);
	q->data[len] = '\0';
	q->len = len;
	q->cb = cb;
	q->arg = arg;
	if (bus->pub.phase == PHASE_UP && bus->pub.ac != NULL && bus->qhead == NULL) {
		send_publish(bus, q);
		return 0;
	}
	if (bus->qtail != NULL)
		bus->qtail->next = q;
	else
		bus->qhead = q;
	bus->qtail = q;
	bus->qcount++;
	bus->qbytes += len;
	return 0;
}

struct command_ctx {
	struct bus *bus;
	bus_reply_fn cb;
	void *arg;
};

static void on_command_reply(redisAsyncContext *ac, void *r, void *priv)
{
	(void)ac;
	struct command_ctx *ctx = priv;
	if (ctx->cb != NULL)
		ctx->cb(ctx->bus, r, ctx->arg);
	free(ctx);
}

static int conn_command(struct bus *bus, struct conn *c, int argc, const char **argv,
			const size_t *lens, bus_reply_fn cb, void *arg)
{
	if (c->phase != PHASE_UP || c->ac == NULL)
		return -1;
	struct command_ctx *ctx = xmalloc(sizeof(*ctx));
	*ctx = (struct command_ctx){bus, cb, arg};
	if (redisAsyncCommandArgv(c->ac, on_command_reply, ctx, argc, argv, lens) != REDIS_OK) {
		free(ctx);
		return -1;
	}
	return 0;
}

int bus_command(struct bus *bus, int argc, const char **argv, const size_t *lens,
		bus_reply_fn cb, void *arg)
{
	return conn_command(bus, &bus->pub, argc, argv, lens, cb, arg);
}

void bus_reader_enable(struct bus *bus, void (*on_reader)(struct bus *bus, bool up, void *arg),
		       void *arg)
{
	if (bus->rd_enabled)
		return;
	bus->rd_enabled = true;
	bus->on_reader = on_reader;
	bus->reader_arg = arg;
	bus->rd = (struct conn){.bus = bus, .is_reader = true};
	conn_connect(&bus->rd);
}

int bus_reader_command(struct bus *bus, int argc, const char **argv, const size_t *lens,
		       bus_reply_fn cb, void *arg)
{
	if (!bus->rd_enabled)
		return -1;
	return conn_command(bus, &bus->rd, argc, argv, lens, cb, arg);
}

bool bus_reader_up(const struct bus *bus)
{
	return bus->rd_enabled && bus->rd.phase == PHASE_UP && bus->rd.ac != NULL;
}

/* --- public -------------------------------------------------------------- */

struct bus *bus_new(struct loop *loop, const struct redis_url *url,
		    const struct bus_handlers *handlers, void *arg)
{
	struct bus *bus = xcalloc(1, sizeof(*bus));
	bus->loop = loop;
	redis_url_copy(&bus->url, url);
	redis_url_redact(url, bus->address, sizeof(bus->address));
	if (handlers != NULL)
		bus->h = *handlers;
	bus->arg = arg;
	bus->sub = (struct conn){.bus = bus, .is_sub = true};
	bus->pub = (struct conn){.bus = bus, .is_sub = false};
	snprintf(bus->status, sizeof(bus->status), "connecting to Redis at %s", bus->address);
	conn_connect(&bus->sub);
	conn_connect(&bus->pub);
	return bus;
}

void bus_subscribe(struct bus *bus, const char *channel)
{
	for (size_t i = 0; i < bus->nchannels; i++)
		if (strcmp(bus->channels[i], channel) == 0)
			return;
	bus->channels = xrealloc(bus->channels, (bus->nchannels + 1) * sizeof(char *));
	bus->channels[bus->nchannels++] = xstrdup(channel);
	if (bus->sub.phase == PHASE_UP && bus->sub.ac != NULL)
		send_subscribe(&bus->sub, channel);
	update_state(bus);
}

static void conn_close(struct conn *c)
{
	loop_timer_cancel(c->retry);
	loop_timer_cancel(c->timeout);
	loop_timer_cancel(c->drop);
	c->retry = c->timeout = c->drop = NULL;
	if (c->ac != NULL) {
		redisAsyncContext *ac = c->ac;
		c->ac = NULL;
		redisAsyncFree(ac);
	}
	if (c->watch != NULL) {
		loop_watch_remove(c->watch);
		c->watch = NULL;
	}
}

void bus_free(struct bus *bus)
{
	if (bus == NULL)
		return;
	bus->closing = true;
	loop_timer_cancel(bus->unresolved_timer);
	bus->unresolved_timer = NULL;
	conn_close(&bus->sub);
	conn_close(&bus->pub);
	if (bus->rd_enabled)
		conn_close(&bus->rd);
	while (bus->qhead != NULL) {
		struct queued *q = bus->qhead;
		bus->qhead = q->next;
		if (q->cb != NULL)
			q->cb(bus, -1, q->arg);
		queued_free(q);
	}
	for (size_t i = 0; i < bus->nchannels; i++)
		free(bus->channels[i]);
	free(bus->channels);
	redis_url_free(&bus->url);
	free(bus);
}

bool bus_ready(const struct bus *bus)
{
	return bus->ready;
}

bool bus_can_command(const struct bus *bus)
{
	return bus->pub.phase == PHASE_UP && bus->pub.ac != NULL;
}

size_t bus_pending(const struct bus *bus)
{
	return bus->qcount;
}

const char *bus_address(const struct bus *bus)
{
	return bus->address;
}

const char *bus_status(const struct bus *bus)
{
	return bus->status;
}
