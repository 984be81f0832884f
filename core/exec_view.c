/*
 * exec_view: the executor's live view of PM2's processes (pm2_view.h),
 * and when it may be trusted.
 *
 * The view is seeded by a full listing once the event socket is connected,
 * follows the daemon's process events, takes in the outcome of every call
 * the executor makes (a prepare's answer names the new pm_id), and is
 * listed again as a safety net every VIEW_RELIST_MS and soon after any gap:
 * the event socket lost or reconnected (a daemon killed or restarted), a
 * call that failed. Between such a gap and the listing that follows it, the
 * view is stale and commands list as they always did (exec_command.c).
 *
 * Order between the two sockets: the daemon writes a process event to
 * pub.sock before it answers the call that caused it (both are written
 * synchronously, in that order), but the executor reads the sockets in
 * whatever order poll reports them. So before a listing or a call's answer
 * is taken into the view, every event already waiting on pub.sock is read
 * first (pm2_events_drain): an older event can then never overwrite a newer
 * answer.
 *
 * Must not: let a command trust the view across a gap, or list on every
 * command while the view is fresh.
 */
#include <stdlib.h>

#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "pm2_view.h"
#include "util.h"

#define VIEW_RELIST_MS 30000 /* the safety net */
#define VIEW_SOON_MS 20      /* after a gap: let a burst of causes share one listing */
#define VIEW_RETRY_MS 1000   /* a listing that failed */

struct exec_view {
	struct pm2_view *v;
	bool events_up;
	unsigned gen;       /* bumped by every gap */
	unsigned fresh_gen; /* the gen a merged listing was requested in */
	bool seeded;        /* fresh_gen is set */
	bool listing;       /* a listing of the view's own is in flight */
	struct exec_view_mark own;
	struct loop_timer *timer;
	int64_t listed_at;   /* monotonic ms: the last listing merged while fresh */
	unsigned long lists; /* the view's own listings, for the debug log */
};

static void view_arm(struct executor *ex, int64_t ms);

void exec_view_new(struct executor *ex)
{
	ex->view = xcalloc(1, sizeof(*ex->view));
	ex->view->v = pm2_view_new();
}

void exec_view_free(struct executor *ex)
{
	if (ex->view == NULL)
		return;
	loop_timer_cancel(ex->view->timer);
	pm2_view_free(ex->view->v);
	free(ex->view);
	ex->view = NULL;
	exec_table_free(ex);
}

bool exec_view_fresh(const struct executor *ex)
{
	const struct exec_view *w = ex->view;
	return w != NULL && w->events_up && w->seeded && w->fresh_gen == w->gen;
}

struct exec_view_mark exec_view_mark(const struct executor *ex)
{
	return (struct exec_view_mark){pm2_view_seq(ex->view->v), ex->view->gen};
}

/* Reads every event the daemon has already written, so that what follows
 * is newer than all of them. */
static void view_sync(struct executor *ex)
{
	if (ex->view->events_up)
		pm2_events_drain(ex->events);
}

void exec_view_listed(struct executor *ex, struct exec_view_mark m, const struct pm2_proc *procs,
                      size_t n)
{
	struct exec_view *w = ex->view;
	view_sync(ex);
	pm2_view_listed(w->v, procs, n, m.seq);
	/* A listing asked for after the last gap, with events flowing since:
	 * the view is whole again. */
	if (m.gen == w->gen && w->events_up) {
		if (!exec_view_fresh(ex))
			log_debug("pm2 view: fresh (%zu processes)", pm2_view_count(w->v));
		w->fresh_gen = w->gen;
		w->seeded = true;
		w->listed_at = loop_now(ex->loop);
	}
}

static void on_view_list(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
                         void *arg)
{
	(void)c;
	struct executor *ex = arg;
	struct exec_view *w = ex->view;
	w->listing = false;
	if (error != NULL) {
		exec_table_listed(ex, NULL, 0);
		log_debug("pm2 view: listing failed: %s", error);
		if (w->events_up)
			view_arm(ex, VIEW_RETRY_MS);
		return;
	}
	exec_view_listed(ex, w->own, procs, n);
	/* The safety net's listing serves the task table too (exec_table.c). */
	exec_tasks_publish(ex, procs, n);
	exec_table_listed(ex, procs, n);
	if (!exec_view_fresh(ex) && w->events_up)
		view_arm(ex, VIEW_SOON_MS); /* a gap while it was on its way */
}

static void view_list(struct executor *ex, const char *why)
{
	struct exec_view *w = ex->view;
	if (w->listing || ex->draining)
		return;
	w->listing = true;
	w->own = exec_view_mark(ex);
	w->lists++;
	log_debug("pm2 view: listing (%s; %lu so far)", why, w->lists);
	exec_table_asking(ex);
	if (pm2_list(ex->pm2, on_view_list, ex) == 0) {
		w->listing = false;
		exec_table_listed(ex, NULL, 0);
	}
}

static void on_view_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	struct exec_view *w = ex->view;
	w->timer = NULL;
	if (!w->events_up)
		return; /* the reconnect seeds it */
	/* Any full listing merged while fresh (a command's, after a miss)
	 * counts as the safety net's: the next one is due that much later. */
	int64_t since = loop_now(ex->loop) - w->listed_at;
	if (exec_view_fresh(ex) && since < VIEW_RELIST_MS) {
		w->timer = loop_timer_add(ex->loop, VIEW_RELIST_MS - since, on_view_timer, ex);
		return;
	}
	view_list(ex, exec_view_fresh(ex) ? "safety net" : "after a gap");
	view_arm(ex, VIEW_RELIST_MS);
}

/* Lists in ms, or sooner if a listing is due sooner already. */
static void view_arm(struct executor *ex, int64_t ms)
{
	struct exec_view *w = ex->view;
	if (ex->draining)
		return;
	if (w->timer != NULL && ms >= VIEW_RELIST_MS)
		return;
	loop_timer_cancel(w->timer);
	w->timer = loop_timer_add(ex->loop, ms, on_view_timer, ex);
}

void exec_view_stale(struct executor *ex, const char *why)
{
	struct exec_view *w = ex->view;
	if (exec_view_fresh(ex))
		log_debug("pm2 view: stale (%s)", why);
	w->gen++;
	if (w->events_up)
		view_arm(ex, VIEW_SOON_MS);
}

void exec_view_events_state(struct executor *ex, bool up)
{
	struct exec_view *w = ex->view;
	w->events_up = up;
	w->gen++;
	if (up) {
		/* Seed now: events from here on are all seen. */
		view_list(ex, "the event socket connected");
		view_arm(ex, VIEW_RELIST_MS);
	} else {
		log_debug("pm2 view: stale (the event socket is down)");
		loop_timer_cancel(w->timer);
		w->timer = NULL;
	}
}

void exec_view_event(struct executor *ex, const struct pm2_event *ev)
{
	pm2_view_event(ex->view->v, ev);
}

void exec_view_set(struct executor *ex, int pm_id, const char *name, enum pm2_status st, int pid)
{
	view_sync(ex);
	pm2_view_set(ex->view->v, pm_id, name, st, pid);
}

void exec_view_gone(struct executor *ex, int pm_id)
{
	view_sync(ex);
	pm2_view_gone(ex->view->v, pm_id);
}

size_t exec_view_find(const struct executor *ex, const char *name, struct pm2_proc *out, size_t max,
                      bool *uncertain)
{
	return pm2_view_find(ex->view->v, name, out, max, uncertain);
}
