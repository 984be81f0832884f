/*
 * exec_relay: PM2's own events (pub.sock) relayed to the status channel: a
 * task that exited by itself, a crash loop (coalesced to one message per
 * task per EXIT_RELAY_MS), PM2 giving up on a task. Stops the executor
 * asked for are not relayed: the command's reply says it.
 *
 * Must not: trust anything in an event (apps can publish any name and
 * payload), or publish one message per restart of a crash loop.
 */
#include <stdio.h>
#include <string.h>

#include "codec.h"
#include "exec_result.h"
#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define EVENTS_RETRY_MS 2000

/* What the relay remembers of a process between its events. */
struct exit_mark {
	int pm_id;
	bool stopping; /* saw the "stopping" half of a stop */
	bool errored;  /* relayed that PM2 gave up; until it is online again */
	int64_t exit_at;     /* when the last exit was relayed (monotonic ms) */
	unsigned suppressed; /* exits not relayed since (a crash loop) */
};

/* A crash loop restarts a task many times a second: one exit message per
 * task per this many ms, the next one counting those in between. */
#define EXIT_RELAY_MS 5000

static struct exit_mark *exit_mark(struct executor *ex, int pm_id)
{
	for (size_t i = 0; i < ex->nmarks; i++)
		if (ex->marks[i].pm_id == pm_id)
			return &ex->marks[i];
	/* Bounded: ids are reused rarely, and a full table starts over. */
	if (ex->nmarks == 4096)
		ex->nmarks = 0;
	ex->marks = xrealloc(ex->marks, (ex->nmarks + 1) * sizeof(*ex->marks));
	ex->marks[ex->nmarks] = (struct exit_mark){.pm_id = pm_id};
	return &ex->marks[ex->nmarks++];
}

static void relay(struct executor *ex, const struct pm2_event *ev, const char *status,
		  const char *error)
{
	struct status_msg st = {
		.task_name = ev->process_name,
		.status = status,
		.pm_id = ev->pm_id,
		.node = ex->cfg->node,
		.error = error,
	};
	cJSON *obj = codec_status_json(&st, util_wall_ms());
	cJSON_AddStringToObject(obj, "source", "pm2");
	cJSON_AddStringToObject(obj, "event", ev->event);
	if (ev->status[0])
		cJSON_AddStringToObject(obj, "pm2_status", ev->status);
	exec_publish(ex, obj);
}

void exec_relay_event(struct pm2_events *r, const struct pm2_event *ev, void *arg)
{
	(void)r;
	struct executor *ex = arg;
	exec_view_event(ex, ev);
	if (ev->kind != PM2_EV_PROCESS || ev->pm_id < 0 || ev->process_name[0] == '\0')
		return;
	log_debug("pm2 event: %s %s (pm_id %d) status=%s manually=%d", ev->event,
		  ev->process_name, ev->pm_id, ev->status, ev->manually);
	exec_tasks_soon(ex); /* the task table follows PM2's changes */
	struct exit_mark *m = exit_mark(ex, ev->pm_id);
	if (strcmp(ev->event, "exit") == 0) {
		/*
		 * PM2 says "manually" false for every exit, so a stop is told
		 * apart by its shape: an exit with status "stopping", then one
		 * with "stopped". A lone "stopped" exit is a task that ended by
		 * itself (PM2 restarts it); "errored" means PM2 gave up.
		 */
		if (strcmp(ev->status, "stopping") == 0) {
			m->stopping = true;
			return;
		}
		if (strcmp(ev->status, "stopped") == 0 && m->stopping) {
			m->stopping = false;
			return;
		}
		m->stopping = false;
		const cJSON *proc = ev->payload ? cJSON_GetObjectItemCaseSensitive(ev->payload, "process")
						: NULL;
		const cJSON *code = proc ? cJSON_GetObjectItemCaseSensitive(proc, "exit_code") : NULL;
		char msg[200];
		long exit_code;
		/* Untrusted: an app can publish any number here. */
		if (codec_json_long(code, -2147483648L, 2147483647L, &exit_code))
			snprintf(msg, sizeof(msg), "the task exited with code %ld", exit_code);
		else
			snprintf(msg, sizeof(msg), "the task exited");
		if (strcmp(ev->status, "errored") == 0) {
			/* PM2 sends "restart overlimit" before this exit: say it once. */
			if (!m->errored) {
				char more[200];
				snprintf(more, sizeof(more), "%s; PM2 gave up restarting it", msg);
				relay(ex, ev, "errored", more);
			}
			m->errored = true;
		} else {
			exec_result_exit(ex, ev); /* a one-shot task's result */
			int64_t now = loop_now(ex->loop);
			if (m->exit_at != 0 && now - m->exit_at < EXIT_RELAY_MS) {
				m->suppressed++;
				return;
			}
			if (m->suppressed > 0) {
				size_t k = strlen(msg);
				snprintf(msg + k, sizeof(msg) - k, " (and %u more time%s since)",
					 m->suppressed, m->suppressed == 1 ? "" : "s");
			}
			m->exit_at = now;
			m->suppressed = 0;
			relay(ex, ev, "exited", msg);
		}
	} else if (strcmp(ev->event, "restart overlimit") == 0) {
		if (!m->errored)
			relay(ex, ev, "errored", "the task restarted too often; PM2 stopped restarting it");
		m->errored = true;
	} else if (strcmp(ev->event, "online") == 0) {
		m->errored = false;
	}
}

static void on_events_retry(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	ex->events_retry = NULL;
	exec_events_connect(ex);
}

void exec_relay_state(struct pm2_events *r, bool connected, const char *reason, void *arg)
{
	(void)r;
	struct executor *ex = arg;
	exec_view_events_state(ex, connected);
	if (connected) {
		log_debug("pm2: listening to the daemon's events");
		return;
	}
	log_debug("pm2: event socket: %s", reason);
	if (ex->events_retry == NULL && !ex->draining)
		ex->events_retry = loop_timer_add(ex->loop, EVENTS_RETRY_MS, on_events_retry, ex);
}

void exec_events_connect(struct executor *ex)
{
	if (pm2_events_connected(ex->events))
		return;
	if (pm2_events_connect(ex->events) < 0 && ex->events_retry == NULL && !ex->draining)
		ex->events_retry = loop_timer_add(ex->loop, EVENTS_RETRY_MS, on_events_retry, ex);
}

void exec_relay_forget(struct executor *ex)
{
	ex->nmarks = 0;
}
