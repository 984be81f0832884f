/*
 * tasks: the console's model of the task table (pure: no curses, no IO).
 *
 * Holds the rows of the last listing (the local PM2's and the fleet's task
 * tables, merged by the console), each with its node and whether that node
 * is lost, a sort column and direction, a text filter and a node filter,
 * and the selection. The selection is a (node, pm_id) pair, not a row
 * index, so it stays on the same task across refreshes, sorts and filters;
 * pm_ids repeat across nodes, the pair does not.
 */
#ifndef TASKER_TUI_TASKS_H
#define TASKER_TUI_TASKS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pm2.h"

enum tasks_col {
	COL_NODE,
	COL_ID,
	COL_NAME,
	COL_STATUS,
	COL_PID,
	COL_CPU,
	COL_MEMORY,
	COL_UPTIME,
	COL_RESTARTS,
	COL_MODE,
	COL_OWNER, /* who started it (TASKER_OWNER); "-": foreign */
	COL_COUNT
};

#define TASKS_NODE_MAX 128

struct tasks {
	struct pm2_proc *procs; /* owned; from the last listing */
	char **nodes;		/* owned, one per proc: its node, "" when unknown */
	bool *lost;		/* one per proc: its node is lost (shown, not live) */
	size_t nprocs;
	size_t *view; /* indexes into procs: filtered and sorted */
	size_t nview;
	enum tasks_col sort;
	bool descending;
	char filter[128];
	char node_filter[TASKS_NODE_MAX + 1]; /* "" shows every node */
	int selected; /* pm_id; -1: none */
	char selected_node[TASKS_NODE_MAX + 1];
	size_t top;   /* first view row on screen */
};

void tasks_init(struct tasks *t);
void tasks_free(struct tasks *t);

/* Takes ownership of procs (from pm2_list); keeps sort, filter, selection.
 * Every row gets the node "". */
void tasks_replace(struct tasks *t, struct pm2_proc *procs, size_t n, int64_t now_ms);
/* The same with a node per row: takes ownership of procs, nodes (each
 * string and the array) and lost (may be NULL: none lost). */
void tasks_replace_nodes(struct tasks *t, struct pm2_proc *procs, char **nodes, bool *lost,
			 size_t n);

/* The node of a row of t->procs (p points into it); "" when unknown. */
const char *tasks_node_of(const struct tasks *t, const struct pm2_proc *p);
bool tasks_lost(const struct tasks *t, const struct pm2_proc *p);
/* The row of node with pm_id, or NULL. */
const struct pm2_proc *tasks_find(const struct tasks *t, const char *node, int pm_id);
/* Shows only node's rows ("" or NULL: every node). */
void tasks_set_node_filter(struct tasks *t, const char *node);

/* Parses a column name ("id", "name", "mem", "memory", ...); -1 if none. */
int tasks_col_parse(const char *name, enum tasks_col *out);
const char *tasks_col_name(enum tasks_col col);

/* Sets the sort column; the same column again flips the direction. */
void tasks_sort_by(struct tasks *t, enum tasks_col col);
void tasks_set_filter(struct tasks *t, const char *text);

/* The selected row's position in the view, or -1. */
long tasks_selected_row(const struct tasks *t);
const struct pm2_proc *tasks_selected(const struct tasks *t);
/* Moves the selection by delta rows (clamped), or to the first/last. */
void tasks_move(struct tasks *t, long delta);
void tasks_home(struct tasks *t);
void tasks_end(struct tasks *t);
/* Keeps the selection within [top, top+height) by moving top. */
void tasks_scroll_into_view(struct tasks *t, size_t height);

/* Counts rows by state for the header (over all tasks, not the filter). */
void tasks_count(const struct tasks *t, int *online, int *stopped, int *errored, int *other);

/* How many processes are named name (all of them, whatever the filter):
 * the executor addresses tasks by name, so a stop, restart or delete
 * reaches every one. Their pm_ids, ascending, go to ids[0..max). */
size_t tasks_instances(const struct tasks *t, const char *name, int *ids, size_t max);
/* The same within one node's rows. */
size_t tasks_instances_on(const struct tasks *t, const char *node, const char *name, int *ids,
			  size_t max);

/* Task names (unique, in listing order) for completion: pointers into the
 * model, valid until the next tasks_replace; caller frees the array. */
size_t tasks_names(const struct tasks *t, const char ***out);

#endif
