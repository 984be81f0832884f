/*
 * procview: see procview.h. Owns when the console lists the local PM2,
 * the patching of its rows from process events, and their CPU and memory
 * from /proc. Must not: list every interval while the events flow, or
 * draw (it sets dirty; draw.c paints).
 */
#include "procview.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "app.h"
#include "proc_stat.h"
#include "util.h"

#define SOON_MS 100 /* a burst of events shares one listing */

struct procview {
	bool legacy;     /* list every interval, as before */
	bool events_up;
	unsigned gen;      /* bumped by every gap */
	unsigned list_gen; /* gen when the listing in flight was asked for */
	unsigned fresh_gen;
	bool seeded;       /* a listing asked for with the events up came back */
	bool listing;
	bool moved;        /* an event arrived while the listing was on its way */
	int64_t listed_at; /* monotonic ms: the last listing that seeded */
	int64_t asked_at;  /* monotonic ms: the last listing asked for */
	struct loop_timer *merge_timer;
	struct proc_stat *ps;
	int *pids;
	struct proc_sample *samples;
	size_t cap;
	unsigned long lists, ticks_sampled, events;
	char *stats_path;
};

void procview_new(struct app *app)
{
	struct procview *pv = xcalloc(1, sizeof(*pv));
	const char *mode = getenv("TASKER_CONSOLE_LIST");
	pv->legacy = mode != NULL && strcmp(mode, "every") == 0;
	const char *stats = getenv("TASKER_CONSOLE_STATS");
	if (stats != NULL && stats[0] != '\0')
		pv->stats_path = xstrdup(stats);
	/* Files of /proc held open between samples (proc_stat.h): at most
	 * half of what the process may open, and no more than 4096. */
	struct rlimit rl;
	size_t max_fds = 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY)
		max_fds = (size_t)rl.rlim_cur / 2;
	else
		max_fds = 4096;
	pv->ps = proc_stat_new(max_fds > 4096 ? 4096 : max_fds);
	app->pv = pv;
}

void procview_free(struct app *app)
{
	struct procview *pv = app->pv;
	if (pv == NULL)
		return;
	loop_timer_cancel(pv->merge_timer);
	proc_stat_free(pv->ps);
	free(pv->pids);
	free(pv->samples);
	free(pv->stats_path);
	free(pv);
	app->pv = NULL;
}

static bool fresh(const struct app *app)
{
	const struct procview *pv = app->pv;
	return !pv->legacy && pv->events_up && pv->seeded && pv->fresh_gen == pv->gen &&
	       loop_now(app->loop) - pv->listed_at < PROCVIEW_RELIST_MS;
}

/* The counters, for tests: one line, rewritten. */
static void write_stats(const struct app *app)
{
	const struct procview *pv = app->pv;
	if (pv->stats_path == NULL)
		return;
	char line[200];
	int n = snprintf(line, sizeof(line), "lists=%lu sampled=%lu events=%lu mode=%s\n",
			 pv->lists, pv->ticks_sampled, pv->events, fresh(app) ? "events" : "list");
	int fd = open(pv->stats_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	if (write(fd, line, (size_t)n) < 0) {
		/* a test that cannot read it fails on its own */
	}
	close(fd);
}

/* Copies the new figures into the table's rows in place, when its first
 * rows are the local listing's (fleet_merge puts them there) and the order
 * does not depend on the figures: a merge deep-copies every row, which at
 * 500 tasks costs more than reading /proc. False: merge instead. */
static bool patch_rows(struct app *app)
{
	struct tasks *t = &app->tasks;
	if (t->sort == COL_CPU || t->sort == COL_MEMORY || t->nprocs < app->nlocal ||
	    t->nodes == NULL || app->pv->merge_timer != NULL)
		return false;
	for (size_t i = 0; i < app->nlocal; i++) {
		const struct pm2_proc *src = &app->local_procs[i];
		struct pm2_proc *dst = &t->procs[i];
		if (dst->pm_id != src->pm_id || strcmp(t->nodes[i], app->cfg->node) != 0 ||
		    strcmp(dst->name, src->name) != 0)
			return false;
	}
	for (size_t i = 0; i < app->nlocal; i++) {
		t->procs[i].cpu = app->local_procs[i].cpu;
		t->procs[i].memory = app->local_procs[i].memory;
	}
	return true;
}

/* CPU and memory of every online row's pid, from /proc. */
static void sample(struct app *app)
{
	struct procview *pv = app->pv;
	size_t n = app->nlocal;
	if (n > pv->cap) {
		pv->cap = n * 2;
		pv->pids = xrealloc(pv->pids, pv->cap * sizeof(*pv->pids));
		pv->samples = xrealloc(pv->samples, pv->cap * sizeof(*pv->samples));
	}
	for (size_t i = 0; i < n; i++) {
		const struct pm2_proc *p = &app->local_procs[i];
		pv->pids[i] = p->state == PM2_ST_ONLINE ? p->pid : 0;
	}
	proc_stat_sample(pv->ps, pv->pids, n, proc_stat_now(), pv->samples);
	for (size_t i = 0; i < n; i++) {
		struct pm2_proc *p = &app->local_procs[i];
		/* What PM2 says of a process it does not run: nothing. */
		p->cpu = pv->samples[i].alive ? pv->samples[i].cpu : 0;
		p->memory = pv->samples[i].alive ? pv->samples[i].rss : 0;
	}
	pv->ticks_sampled++;
	if (!patch_rows(app))
		fleet_merge(app);
	app->dirty = true;
}

bool procview_tick(struct app *app)
{
	struct procview *pv = app->pv;
	if (pv->legacy)
		return true;
	if (!pv->events_up) {
		/* A lost event socket is tried again; meanwhile, list. */
		if (app->pm2_ok)
			pm2_events_connect(app->pmev);
		write_stats(app);
		return true;
	}
	if (!fresh(app)) {
		write_stats(app);
		return true;
	}
	if (app->pm2_ok)
		sample(app);
	write_stats(app);
	return false;
}

void procview_listing(struct app *app)
{
	struct procview *pv = app->pv;
	pv->listing = true;
	pv->moved = false;
	pv->list_gen = pv->gen;
	pv->asked_at = loop_now(app->loop);
	pv->lists++;
}

bool procview_listed(struct app *app, bool ok)
{
	struct procview *pv = app->pv;
	pv->listing = false;
	bool again = pv->moved && !pv->legacy;
	pv->moved = false;
	if (ok && pv->events_up && pv->list_gen == pv->gen) {
		pv->fresh_gen = pv->gen;
		pv->seeded = true;
		pv->listed_at = loop_now(app->loop);
	} else if (pv->events_up && !pv->legacy) {
		again = true; /* a gap while it was on its way */
	}
	write_stats(app);
	return again;
}

static void on_merge(struct loop *loop, void *arg)
{
	(void)loop;
	struct app *app = arg;
	app->pv->merge_timer = NULL;
	fleet_merge(app);
}

static void replace_status(struct pm2_proc *p, enum pm2_status st)
{
	p->state = st;
	free(p->status);
	p->status = xstrdup(pm2_status_name(st));
}

/* What an event says of its process's row (the listing that follows
 * brings the rest: a new pid, a task that went). */
static void patch(struct app *app, const struct pm2_event *ev)
{
	struct pm2_proc *p = NULL;
	for (size_t i = 0; i < app->nlocal; i++)
		if (app->local_procs[i].pm_id == ev->pm_id) {
			p = &app->local_procs[i];
			break;
		}
	if (p == NULL || p->name == NULL || strcmp(p->name, ev->process_name) != 0)
		return; /* a new task, or PM2 numbered afresh: the listing says */
	const cJSON *proc = cJSON_GetObjectItemCaseSensitive(ev->payload, "process");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(proc, "restart_time");
	if (cJSON_IsNumber(rt) && rt->valuedouble >= 0 && rt->valuedouble < 2e9)
		p->restart_time = (int)rt->valuedouble;
	const cJSON *up = cJSON_GetObjectItemCaseSensitive(proc, "pm_uptime");
	if (cJSON_IsNumber(up) && up->valuedouble > 0 && up->valuedouble < 1e15)
		p->pm_uptime = (int64_t)up->valuedouble;
	enum pm2_status said = pm2_status_parse(ev->status);
	if (strcmp(ev->event, "online") == 0) {
		/* Sent before PM2 sets the status; the new pid is not in it. */
		replace_status(p, PM2_ST_ONLINE);
		p->pid = 0;
	} else if (strcmp(ev->event, "exit") == 0) {
		replace_status(p, said != PM2_ST_UNKNOWN && said != PM2_ST_ONLINE ? said
										  : PM2_ST_STOPPED);
		p->pid = 0;
	} else if (strcmp(ev->event, "restart overlimit") == 0) {
		replace_status(p, PM2_ST_ERRORED);
	} else if (said != PM2_ST_UNKNOWN) {
		replace_status(p, said);
	}
	if (p->state != PM2_ST_ONLINE || p->pid == 0) {
		p->cpu = 0;
		p->memory = 0;
	}
	if (app->pv->merge_timer == NULL)
		app->pv->merge_timer = loop_timer_add(app->loop, 0, on_merge, app);
}

int64_t procview_event(struct app *app, const struct pm2_event *ev)
{
	struct procview *pv = app->pv;
	if (pv->legacy)
		return SOON_MS;
	pv->events++;
	if (pv->listing)
		pv->moved = true;
	if (ev->pm_id >= 0 && ev->process_name[0] != '\0')
		patch(app, ev);
	/* A burst, or a task crashing in a loop, costs at most one listing
	 * an interval, as before this view. */
	int64_t wait = pv->asked_at + app->interval_ms - loop_now(app->loop);
	return wait > SOON_MS ? wait : SOON_MS;
}

void procview_events_state(struct app *app, bool up)
{
	struct procview *pv = app->pv;
	pv->events_up = up;
	pv->gen++;
	write_stats(app);
}
