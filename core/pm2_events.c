/*
 * pm2_events: see pm2.h. Owns the event reader: the connection to
 * $PM2_HOME/pub.sock, reading its frames on the loop, and turning each into
 * a struct pm2_event (pm2_event_parse, which does no IO). Everything on
 * that socket is untrusted: apps publish what they like. It never writes
 * to the daemon and never reconnects on its own (the caller decides).
 */
#include "pm2_int.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

int pm2_event_parse(const struct amp_frame *frame, struct pm2_event *ev)
{
	memset(ev, 0, sizeof(*ev));
	if (frame->argc < 1 || !pm2_arg_prefix(&frame->args[0], 's'))
		return -1;
	ev->name_ = xstrndup(frame->args[0].ptr + 2, frame->args[0].len - 2);
	ev->name = ev->name_;
	if (frame->argc >= 2 && pm2_arg_prefix(&frame->args[1], 'j'))
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

	const cJSON *proc = pm2_json_get(ev->payload, "process");
	ev->pm_id = pm2_json_pm_id(pm2_json_get(proc, "pm_id"));
	ev->process_name = pm2_json_str(proc, "name");
	ev->namespace = pm2_json_str(proc, "namespace");
	ev->status = pm2_json_str(proc, "status");
	ev->event = ev->kind == PM2_EV_PROCESS ? pm2_json_str(ev->payload, "event") : "";
	ev->manually = cJSON_IsTrue(pm2_json_get(ev->payload, "manually"));
	ev->at = pm2_json_i64(ev->payload, "at", 0);
	ev->data = pm2_json_str(ev->payload, "data");
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
	bool reading; /* inside events_read: a drain must not nest */
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

static void events_read_frames(struct pm2_events *r);

static void events_read(struct pm2_events *r)
{
	r->reading = true;
	events_read_frames(r);
	r->reading = false;
}

static void events_read_frames(struct pm2_events *r)
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
		int e = pm2_socket_error(r->fd);
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
	int fd = pm2_unix_connect(r->sock_path);
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

void pm2_events_drain(struct pm2_events *r)
{
	if (r == NULL || r->dead || r->reading || r->state != CONN_UP)
		return;
	r->depth++;
	events_read(r);
	events_leave(r);
}

bool pm2_events_connected(const struct pm2_events *r)
{
	return r->state == CONN_UP;
}
