/*
 * draw_history: see draw_history.h. Reads app->hist and the task table;
 * changes nothing.
 */
#include "draw_history.h"

#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "format.h"
#include "spark.h"

/* A task under this many percent looks idle: its line stays low instead
 * of magnifying noise. */
#define HISTORY_CPU_FLOOR 5.0f
#define HISTORY_COL_MIN 8
#define HISTORY_COL_MAX 30

int history_column_width(int spare)
{
	int w = spare - 1; /* the separator before it */
	if (w < HISTORY_COL_MIN)
		return 0;
	return w > HISTORY_COL_MAX ? HISTORY_COL_MAX : w;
}

static const struct hist_series *series_of(const struct app *app, const struct pm2_proc *p)
{
	return hist_ring_find(&app->hist, tasks_node_of(&app->tasks, p), p->pm_id);
}

/* text at (y, x) in attr, right-aligned in w columns of which text takes
 * used. */
static void put_right(int y, int x, int w, int used, int attr, const char *text)
{
	attrset(attr);
	move(y, x);
	for (int i = used; i < w; i++)
		addch(' ');
	addstr(text);
}

void history_draw_cell(const struct app *app, int y, int x, int w, const struct pm2_proc *p,
		       int attr)
{
	const struct hist_series *s = series_of(app, p);
	if (s == NULL || w <= 0)
		return;
	float v[HIST_SAMPLES];
	size_t n = hist_series_last(s, (size_t)(w < HIST_SAMPLES ? w : HIST_SAMPLES), v, NULL, NULL);
	char buf[HIST_SAMPLES * 3 + 1];
	spark_line(v, n, spark_scale(v, n, HISTORY_CPU_FLOOR), app->ascii, buf, sizeof(buf));
	put_right(y, x, w, (int)n, attr >= 0 ? attr : draw_attr(app, TH_SPARK_CPU), buf);
}

static void put_text(const struct app *app, int y, int x, int w, int attr, const char *text)
{
	char buf[512], ascii[512];
	if (w <= 0)
		return;
	if (app->ascii) {
		fmt_ascii(text, ascii, sizeof(ascii));
		text = ascii;
	}
	fmt_fit(text, w, buf, sizeof(buf));
	attrset(attr);
	mvaddstr(y, x, buf);
}

int history_draw_detail(const struct app *app, const struct pm2_proc *p, int y, int x, int w,
			int avail)
{
	const struct hist_series *s = series_of(app, p);
	if (s == NULL || s->count == 0 || avail < 2 || w < 20)
		return 0;
	float cpu[HIST_SAMPLES], mem[HIST_SAMPLES];
	unsigned char rs[HIST_SAMPLES];
	size_t max = (size_t)(w < HIST_SAMPLES ? w : HIST_SAMPLES);
	size_t n = hist_series_last(s, max, cpu, mem, rs);
	int ta = draw_attr(app, TH_OVERLAY_TITLE), oa = draw_attr(app, TH_OVERLAY);
	int ca = draw_attr(app, TH_SPARK_CPU), ma = draw_attr(app, TH_SPARK_MEM);
	float cmax = spark_scale(cpu, n, HISTORY_CPU_FLOOR);
	float mmax = spark_scale(mem, n, 1.0f), mmin = mem[0];
	float mrel[HIST_SAMPLES];
	int restarts = 0;
	for (size_t i = 0; i < n; i++) {
		if (mem[i] < mmin)
			mmin = mem[i];
		restarts += rs[i];
	}
	char now[16], top[16], line[400], buf[HIST_SAMPLES * 3 + 1];
	fmt_cpu(cpu[n - 1], now, sizeof(now));
	fmt_cpu(cmax, top, sizeof(top));
	snprintf(line, sizeof(line), "cpu      now %s, graph top %s, %zu samples %.1f s apart, newest "
				     "right",
		 now, top, n, app->interval_ms / 1000.0);
	bool tall = avail >= 12;
	int crow = tall ? 3 : 1, mrow = tall ? 2 : 1, used = 0;
	put_text(app, y + used++, x, w, ta, line);
	for (int r = 0; r < crow; r++) {
		spark_rows(cpu, n, cmax, crow, r, app->ascii, buf, sizeof(buf));
		put_right(y + used++, x, w, (int)n, ca, buf);
	}
	if (avail < 6)
		return used;
	/* Memory moves little against its size: the graph starts as far
	 * below the minimum as the range is wide, so a slow leak shows. */
	float base = mmin - (mmax - mmin);
	if (base < 0 || mmax <= mmin)
		base = 0;
	for (size_t i = 0; i < n; i++)
		mrel[i] = mem[i] - base;
	char lo[16], hi[16], cur[16], from[16];
	fmt_bytes((uint64_t)mem[n - 1] * 1024, cur, sizeof(cur));
	fmt_bytes((uint64_t)mmin * 1024, lo, sizeof(lo));
	fmt_bytes((uint64_t)mmax * 1024, hi, sizeof(hi));
	fmt_bytes((uint64_t)base * 1024, from, sizeof(from));
	snprintf(line, sizeof(line), "memory   now %s, min %s, max %s (the graph from %s)", cur, lo, hi,
		 base > 0 ? from : "0");
	put_text(app, y + used++, x, w, ta, line);
	for (int r = 0; r < mrow; r++) {
		spark_rows(mrel, n, mmax - base, mrow, r, app->ascii, buf, sizeof(buf));
		put_right(y + used++, x, w, (int)n, ma, buf);
	}
	/* Restarts on the same timeline: a mark under the sample that saw one. */
	if (!tall)
		return used;
	char marks[HIST_SAMPLES * 3 + 1];
	history_marks(rs, n, app->ascii, marks, sizeof(marks));
	put_right(y + used, x, w, (int)n, restarts ? draw_attr(app, TH_SPARK_RESTART) : oa,
		  marks);
	used++;
	snprintf(line, sizeof(line), "restarts %d in this window%s", restarts,
		 restarts ? (app->ascii ? " (R on the line above)" : " (↺ on the line above)") : "");
	put_text(app, y + used++, x, w, restarts ? draw_attr(app, TH_SPARK_RESTART) : oa, line);
	return used;
}

size_t history_marks(const unsigned char *rs, size_t n, bool ascii, char *buf, size_t size)
{
	if (size == 0)
		return 0;
	size_t o = 0, i = 0;
	for (; i < n; i++) {
		const char *m = rs[i] ? (ascii ? "R" : "↺") : (ascii ? "-" : "─");
		size_t l = strlen(m);
		if (o + l >= size) /* a whole mark and the NUL, or none */
			break;
		memcpy(buf + o, m, l);
		o += l;
	}
	buf[o] = '\0';
	return i;
}

/* Totals of the rows shown, per node when node is not NULL. */
static void totals(const struct app *app, const char *node, double *cpu, uint64_t *mem)
{
	*cpu = 0;
	*mem = 0;
	for (size_t i = 0; i < app->tasks.nview; i++) {
		const struct pm2_proc *p = &app->tasks.procs[app->tasks.view[i]];
		if (p->state != PM2_ST_ONLINE || tasks_lost(&app->tasks, p))
			continue;
		if (node != NULL && strcmp(tasks_node_of(&app->tasks, p), node) != 0)
			continue;
		if (p->cpu > 0)
			*cpu += p->cpu;
		*mem += p->memory;
	}
}

void history_meter(const struct app *app, bool ascii, char *buf, size_t size)
{
	buf[0] = '\0';
	if (app->tasks.nview == 0)
		return;
	char c[16], m[16];
	double cpu;
	uint64_t mem;
	if (app->nnodes == 0) {
		/* One machine: the bar is its CPU, all cores. */
		totals(app, NULL, &cpu, &mem);
		long cores = sysconf(_SC_NPROCESSORS_ONLN);
		if (cores < 1)
			cores = 1;
		char bar[64];
		spark_bar(cpu / (100.0 * (double)cores), 5, ascii, bar, sizeof(bar));
		fmt_cpu(cpu, c, sizeof(c));
		fmt_bytes(mem, m, sizeof(m));
		snprintf(buf, size, "cpu %s%s%s %s mem %s", ascii ? "[" : "▕", bar, ascii ? "]" : "▏", c,
			 m);
		return;
	}
	/* A fleet: each node of the rows shown (the local PM2's too, whether
	 * or not its executor keeps a table), in the order they first show. */
	const char *seen[16];
	size_t nseen = 0, o = 0;
	for (size_t k = 0; k < app->tasks.nview && nseen < 16; k++) {
		const char *node = tasks_node_of(&app->tasks, &app->tasks.procs[app->tasks.view[k]]);
		bool dup = false;
		for (size_t j = 0; j < nseen && !dup; j++)
			dup = strcmp(seen[j], node) == 0;
		if (!dup)
			seen[nseen++] = node;
	}
	for (size_t i = 0; i < nseen && o + 1 < size; i++) {
		totals(app, seen[i], &cpu, &mem);
		fmt_cpu(cpu, c, sizeof(c));
		fmt_bytes(mem, m, sizeof(m));
		int wrote = snprintf(buf + o, size - o, "%s%s %s %s", o ? " · " : "",
				     seen[i][0] ? seen[i] : "local", c, m);
		if (wrote < 0 || (size_t)wrote >= size - o) {
			buf[o] = '\0';
			break;
		}
		o += (size_t)wrote;
	}
}
