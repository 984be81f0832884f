/*
 * history_ring: the console's short memory of each task's CPU, memory and
 * restarts, for the sparklines (the table's CPU HISTORY column, the detail
 * view's graph). Pure: no curses, no IO, no clock; the console calls
 * hist_ring_sample() once per refresh tick with the merged task table.
 *
 * Bounded: HIST_SAMPLES samples per task, one series per (node, pm_id),
 * and a series goes with the first sample that no longer lists its task.
 * A series remembers its process's name: when PM2 renumbered and another
 * process holds the pm_id (another name), the series starts afresh rather
 * than join two processes in one graph.
 * About 1 KB a task: 500 tasks keep about half a megabyte.
 */
#ifndef TASKER_TUI_HISTORY_RING_H
#define TASKER_TUI_HISTORY_RING_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tasks.h"

#define HIST_SAMPLES 120

struct hist_series {
	char node[TASKS_NODE_MAX + 1];
	int pm_id;
	char *name;	     /* the process's name: another name on the pm_id starts afresh */
	unsigned gen;	     /* the sample that last listed it */
	size_t count, head; /* samples held (<= HIST_SAMPLES); head: the next slot */
	int last_restarts;   /* restart_time at the last sample; -1: none yet */
	float cpu[HIST_SAMPLES];	   /* percent */
	uint32_t mem_kb[HIST_SAMPLES];	   /* KiB */
	unsigned char restarts[HIST_SAMPLES]; /* restarts since the sample before (at most 255) */
};

struct hist_ring {
	struct hist_series **s; /* sorted by (node, pm_id) */
	size_t n, cap;
	unsigned gen;
};

void hist_ring_init(struct hist_ring *h);
void hist_ring_free(struct hist_ring *h);

/* One sample of every row of t (filters play no part); the series of tasks
 * t no longer has are dropped. A lost node's rows keep their series but
 * add nothing (their figures are stale). */
void hist_ring_sample(struct hist_ring *h, const struct tasks *t);

/* The series of node's pm_id, or NULL. Valid until the next sample. */
const struct hist_series *hist_ring_find(const struct hist_ring *h, const char *node, int pm_id);

/* Copies the last at most max samples of s, oldest first, into the arrays
 * given (any may be NULL); returns how many. */
size_t hist_series_last(const struct hist_series *s, size_t max, float *cpu, float *mem_kb,
			unsigned char *restarts);

#endif
