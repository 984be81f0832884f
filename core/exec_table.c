/*
 * exec_table: the executor's last full listing of PM2, kept so that the
 * task table (fleet_tasks.h) and the presence key can be refreshed between
 * listings: while the live view is fresh (exec_view.c: the event socket up
 * since a listing, no failed call) and no process event has been seen
 * since that listing was asked for, the presence refresh republishes it
 * with CPU and memory read from /proc (proc_stat.h) instead of asking the
 * daemon for its whole process list. Any process event makes it stale
 * (exec_tasks_soon lists then, as it always did); so does age: past
 * TABLE_MAX_AGE_MS the refresh lists again.
 *
 * Must not: publish a listing older than an event it has seen, or stand in
 * for a listing a command or a verification needs (those still list).
 */
#include <stdlib.h>

#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "proc_stat.h"
#include "util.h"

#define TABLE_MAX_AGE_MS 30000

struct exec_table {
	struct pm2_proc *procs; /* owned; the last listing taken in */
	size_t n;
	bool have;
	uint64_t seq;       /* process events seen (exec_tasks_soon) */
	uint64_t asked_seq; /* seq when the oldest listing in flight was asked for */
	unsigned asking;    /* listings in flight */
	uint64_t procs_seq; /* asked_seq of the listing held */
	int64_t at;         /* monotonic ms: when it came */
	unsigned long reused;
	struct proc_stat *ps;
	int *pids;
	struct proc_sample *samples;
	size_t cap;
};

static struct exec_table *table(struct executor *ex)
{
	if (ex->table == NULL)
		ex->table = xcalloc(1, sizeof(*ex->table));
	return ex->table;
}

void exec_table_free(struct executor *ex)
{
	struct exec_table *t = ex->table;
	if (t == NULL)
		return;
	pm2_procs_free(t->procs, t->n);
	proc_stat_free(t->ps);
	free(t->pids);
	free(t->samples);
	free(t);
	ex->table = NULL;
}

void exec_table_changed(struct executor *ex)
{
	table(ex)->seq++;
}

void exec_table_asking(struct executor *ex)
{
	struct exec_table *t = table(ex);
	if (t->asking++ == 0)
		t->asked_seq = t->seq;
}

void exec_table_listed(struct executor *ex, struct pm2_proc *procs, size_t n)
{
	struct exec_table *t = table(ex);
	uint64_t asked = t->asked_seq;
	/* The others in flight were asked for at some seq from asked_seq on:
	 * asked_seq stays their bound (an older bound only makes a listing
	 * count as stale sooner, never fresh when it is not). */
	if (t->asking > 0)
		t->asking--;
	if (procs == NULL)
		return;
	pm2_procs_free(t->procs, t->n);
	t->procs = procs;
	t->n = n;
	t->have = true;
	t->procs_seq = asked;
	t->at = loop_now(ex->loop);
}

bool exec_table_refresh(struct executor *ex)
{
	struct exec_table *t = table(ex);
	if (!t->have || t->procs_seq != t->seq || !exec_view_fresh(ex) ||
	    loop_now(ex->loop) - t->at >= TABLE_MAX_AGE_MS)
		return false;
	if (t->n > t->cap) {
		t->cap = t->n * 2;
		t->pids = xrealloc(t->pids, t->cap * sizeof(*t->pids));
		t->samples = xrealloc(t->samples, t->cap * sizeof(*t->samples));
	}
	if (t->ps == NULL)
		t->ps = proc_stat_new(0); /* every 5 s: no files held */
	for (size_t i = 0; i < t->n; i++)
		t->pids[i] = t->procs[i].state == PM2_ST_ONLINE ? t->procs[i].pid : 0;
	proc_stat_sample(t->ps, t->pids, t->n, proc_stat_now(), t->samples);
	for (size_t i = 0; i < t->n; i++) {
		t->procs[i].cpu = t->samples[i].alive ? t->samples[i].cpu : 0;
		t->procs[i].memory = t->samples[i].alive ? t->samples[i].rss : 0;
	}
	t->reused++;
	log_debug("task table: refreshed from the view and /proc (%zu tasks; %lu so far)", t->n,
		  t->reused);
	ex->task_count = (int)t->n;
	exec_tasks_publish(ex, t->procs, t->n);
	return true;
}
