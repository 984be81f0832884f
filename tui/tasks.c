/*
 * tasks: see tasks.h. Sorting is stable on pm_id so equal keys never
 * shuffle between refreshes (a jumping table is unreadable).
 */
#include "tasks.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

static const char *const col_names[COL_COUNT] = {
	"node", "id", "name", "status", "pid", "cpu", "memory", "uptime", "restarts", "mode", "owner",
};

int tasks_col_parse(const char *name, enum tasks_col *out)
{
	for (int i = 0; i < COL_COUNT; i++) {
		if (strcasecmp(name, col_names[i]) == 0) {
			*out = (enum tasks_col)i;
			return 0;
		}
	}
	static const struct {
		const char *alias;
		enum tasks_col col;
	} aliases[] = {{"mem", COL_MEMORY}, {"pm_id", COL_ID}, {"restart", COL_RESTARTS},
		       {"up", COL_UPTIME},  {"state", COL_STATUS}};
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++) {
		if (strcasecmp(name, aliases[i].alias) == 0) {
			*out = aliases[i].col;
			return 0;
		}
	}
	return -1;
}

const char *tasks_col_name(enum tasks_col col)
{
	return col_names[col];
}

void tasks_init(struct tasks *t)
{
	memset(t, 0, sizeof(*t));
	t->sort = COL_ID;
	t->selected = -1;
}

static void free_rows(struct tasks *t)
{
	for (size_t i = 0; t->nodes != NULL && i < t->nprocs; i++)
		free(t->nodes[i]);
	free(t->nodes);
	free(t->lost);
	pm2_procs_free(t->procs, t->nprocs);
	t->nodes = NULL;
	t->lost = NULL;
	t->procs = NULL;
	t->nprocs = 0;
}

void tasks_free(struct tasks *t)
{
	free_rows(t);
	free(t->view);
	memset(t, 0, sizeof(*t));
	t->selected = -1;
}

/* qsort has no context argument in C11: the comparison reads these. The
 * model is used from one thread only. */
static const struct tasks *sort_ctx;

static int cmp_num(double a, double b)
{
	return a < b ? -1 : a > b;
}

static int compare(const void *pa, const void *pb)
{
	size_t ia = *(const size_t *)pa, ib = *(const size_t *)pb;
	const struct pm2_proc *a = &sort_ctx->procs[ia];
	const struct pm2_proc *b = &sort_ctx->procs[ib];
	const char *na = tasks_node_of(sort_ctx, a), *nb = tasks_node_of(sort_ctx, b);
	int c = 0;
	switch (sort_ctx->sort) {
	case COL_NODE:
		c = strcmp(na, nb);
		break;
	case COL_ID:
		c = 0;
		break;
	case COL_NAME:
		c = strcmp(a->name, b->name);
		break;
	case COL_STATUS:
		c = strcmp(a->status, b->status);
		break;
	case COL_PID:
		c = cmp_num(a->pid, b->pid);
		break;
	case COL_CPU:
		c = cmp_num(a->cpu, b->cpu);
		break;
	case COL_MEMORY:
		c = cmp_num((double)a->memory, (double)b->memory);
		break;
	case COL_UPTIME:
		/* Longer uptime = earlier start; stopped tasks have none. */
		c = cmp_num(a->state == PM2_ST_ONLINE ? -(double)a->pm_uptime : -1e18,
			    b->state == PM2_ST_ONLINE ? -(double)b->pm_uptime : -1e18);
		break;
	case COL_RESTARTS:
		c = cmp_num(a->restart_time, b->restart_time);
		break;
	case COL_MODE:
		c = cmp_num(a->cluster, b->cluster);
		break;
	case COL_OWNER:
		c = strcmp(a->owner ? a->owner : "", b->owner ? b->owner : "");
		break;
	case COL_COUNT:
		break;
	}
	if (sort_ctx->descending)
		c = -c;
	if (c == 0)
		c = cmp_num(a->pm_id, b->pm_id);
	if (c == 0)
		c = strcmp(na, nb);
	return c;
}

const char *tasks_node_of(const struct tasks *t, const struct pm2_proc *p)
{
	size_t i = (size_t)(p - t->procs);
	return t->nodes != NULL && i < t->nprocs && t->nodes[i] != NULL ? t->nodes[i] : "";
}

bool tasks_lost(const struct tasks *t, const struct pm2_proc *p)
{
	size_t i = (size_t)(p - t->procs);
	return t->lost != NULL && i < t->nprocs && t->lost[i];
}

static bool is_selected(const struct tasks *t, const struct pm2_proc *p)
{
	return p->pm_id == t->selected && strcmp(tasks_node_of(t, p), t->selected_node) == 0;
}

static void select_proc(struct tasks *t, const struct pm2_proc *p)
{
	if (p == NULL) {
		t->selected = -1;
		t->selected_node[0] = '\0';
		return;
	}
	t->selected = p->pm_id;
	snprintf(t->selected_node, sizeof(t->selected_node), "%s", tasks_node_of(t, p));
}

static void select_row(struct tasks *t, size_t row)
{
	select_proc(t, row < t->nview ? &t->procs[t->view[row]] : NULL);
}

const struct pm2_proc *tasks_find(const struct tasks *t, const char *node, int pm_id)
{
	for (size_t i = 0; i < t->nprocs; i++)
		if (t->procs[i].pm_id == pm_id && strcmp(tasks_node_of(t, &t->procs[i]), node) == 0)
			return &t->procs[i];
	return NULL;
}

static bool matches(const struct tasks *t, const struct pm2_proc *p)
{
	if (t->node_filter[0] != '\0' && strcmp(tasks_node_of(t, p), t->node_filter) != 0)
		return false;
	if (t->filter[0] == '\0')
		return true;
	/* "!TEXT": every row that does not match TEXT. */
	bool invert = t->filter[0] == '!';
	const char *f = t->filter + (invert ? 1 : 0);
	if (f[0] == '\0')
		return true;
	bool hit = strcasestr(p->name, f) != NULL || strcasestr(p->status, f) != NULL;
	return invert ? !hit : hit;
}

static void rebuild(struct tasks *t)
{
	free(t->view);
	t->view = xcalloc(t->nprocs + 1, sizeof(size_t));
	t->nview = 0;
	for (size_t i = 0; i < t->nprocs; i++)
		if (matches(t, &t->procs[i]))
			t->view[t->nview++] = i;
	sort_ctx = t;
	qsort(t->view, t->nview, sizeof(size_t), compare);
	sort_ctx = NULL;
	/* Keep the selection on its task; if it went away, take the row that
	 * is now where it was, or the first. */
	if (tasks_selected_row(t) < 0)
		select_row(t, 0);
}

void tasks_replace(struct tasks *t, struct pm2_proc *procs, size_t n, int64_t now_ms)
{
	(void)now_ms;
	tasks_replace_nodes(t, procs, NULL, NULL, n);
}

void tasks_replace_nodes(struct tasks *t, struct pm2_proc *procs, char **nodes, bool *lost,
			 size_t n)
{
	long old_row = tasks_selected_row(t);
	int old_id = t->selected;
	char old_node[sizeof(t->selected_node)];
	snprintf(old_node, sizeof(old_node), "%s", t->selected_node);
	free_rows(t);
	t->procs = procs;
	t->nodes = nodes;
	t->lost = lost;
	t->nprocs = n;
	rebuild(t);
	t->selected = old_id;
	snprintf(t->selected_node, sizeof(t->selected_node), "%s", old_node);
	if (old_id < 0 || tasks_selected_row(t) >= 0) {
		if (old_id < 0 && t->nview > 0)
			select_row(t, 0);
		return;
	}
	/* The selected task went away: stay on the same row, not the top. */
	if (old_row >= 0 && t->nview > 0)
		select_row(t, (size_t)old_row < t->nview ? (size_t)old_row : t->nview - 1);
	else
		select_row(t, 0);
}

void tasks_sort_by(struct tasks *t, enum tasks_col col)
{
	if (t->sort == col)
		t->descending = !t->descending;
	else {
		t->sort = col;
		/* Big numbers first is what one wants when sorting by load. */
		t->descending = col == COL_CPU || col == COL_MEMORY || col == COL_RESTARTS ||
				col == COL_UPTIME;
	}
	rebuild(t);
}

void tasks_set_filter(struct tasks *t, const char *text)
{
	snprintf(t->filter, sizeof(t->filter), "%s", text ? text : "");
	t->top = 0;
	rebuild(t);
}

void tasks_set_node_filter(struct tasks *t, const char *node)
{
	snprintf(t->node_filter, sizeof(t->node_filter), "%s", node ? node : "");
	t->top = 0;
	rebuild(t);
}

long tasks_selected_row(const struct tasks *t)
{
	for (size_t i = 0; i < t->nview; i++)
		if (is_selected(t, &t->procs[t->view[i]]))
			return (long)i;
	return -1;
}

const struct pm2_proc *tasks_selected(const struct tasks *t)
{
	long row = tasks_selected_row(t);
	return row < 0 ? NULL : &t->procs[t->view[row]];
}

void tasks_move(struct tasks *t, long delta)
{
	if (t->nview == 0)
		return;
	long row = tasks_selected_row(t);
	if (row < 0)
		row = 0;
	row += delta;
	if (row < 0)
		row = 0;
	if (row >= (long)t->nview)
		row = (long)t->nview - 1;
	select_row(t, (size_t)row);
}

void tasks_home(struct tasks *t)
{
	if (t->nview > 0)
		select_row(t, 0);
}

void tasks_end(struct tasks *t)
{
	if (t->nview > 0)
		select_row(t, t->nview - 1);
}

void tasks_scroll_into_view(struct tasks *t, size_t height)
{
	if (height == 0)
		return;
	long row = tasks_selected_row(t);
	if (t->nview <= height)
		t->top = 0;
	else if (t->top > t->nview - height)
		t->top = t->nview - height;
	if (row < 0)
		return;
	if ((size_t)row < t->top)
		t->top = (size_t)row;
	else if ((size_t)row >= t->top + height)
		t->top = (size_t)row - height + 1;
}

void tasks_count(const struct tasks *t, int *online, int *stopped, int *errored, int *other)
{
	*online = *stopped = *errored = *other = 0;
	for (size_t i = 0; i < t->nprocs; i++) {
		switch (t->procs[i].state) {
		case PM2_ST_ONLINE:
			(*online)++;
			break;
		case PM2_ST_STOPPED:
			(*stopped)++;
			break;
		case PM2_ST_ERRORED:
			(*errored)++;
			break;
		default:
			(*other)++;
		}
	}
}

size_t tasks_instances(const struct tasks *t, const char *name, int *ids, size_t max)
{
	return tasks_instances_on(t, NULL, name, ids, max);
}

size_t tasks_instances_on(const struct tasks *t, const char *node, const char *name, int *ids,
			  size_t max)
{
	size_t n = 0, kept = 0;
	for (size_t i = 0; i < t->nprocs; i++) {
		if (strcmp(t->procs[i].name, name) != 0)
			continue;
		if (node != NULL && strcmp(tasks_node_of(t, &t->procs[i]), node) != 0)
			continue;
		n++;
		/* Insertion into the smallest max ids seen so far, ascending. */
		int id = t->procs[i].pm_id;
		size_t k = kept;
		if (k == max) {
			if (max == 0 || ids[max - 1] <= id)
				continue;
			k--;
		} else {
			kept++;
		}
		while (k > 0 && ids[k - 1] > id) {
			ids[k] = ids[k - 1];
			k--;
		}
		ids[k] = id;
	}
	return n;
}

size_t tasks_names(const struct tasks *t, const char ***out)
{
	const char **names = xcalloc(t->nprocs + 1, sizeof(char *));
	size_t n = 0;
	for (size_t i = 0; i < t->nprocs; i++) {
		bool dup = false;
		for (size_t k = 0; k < n && !dup; k++)
			dup = strcmp(names[k], t->procs[i].name) == 0;
		if (!dup)
			names[n++] = t->procs[i].name;
	}
	*out = names;
	return n;
}
