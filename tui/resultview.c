/*
 * resultview: see resultview.h. While the detail view is open it reads
 * the shown task's result every RESULT_POLL_MS (a GET on the bus's command
 * connection: one in flight at most), so a one-shot task that ends while
 * it is shown gets its result on screen within a second or so.
 *
 * Must not: block, draw text that did not go through text_escape(), or
 * fail on any record (a record is whatever Redis holds).
 */
#include "resultview.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "app.h"
#include "bus.h"
#include "cron_next.h"
#include "exec_result.h"
#include "text.h"
#include "util.h"

#define RESULT_POLL_MS 500

struct resultview {
	struct app *app;
	struct loop_timer *timer;
	bool inflight;
	char asked[128]; /* the task of the GET in flight */
	char task[128];  /* the task the summary is of; "" none */
	bool have;       /* a record was there */
	struct result_summary sum;
};

/* --- the record, made readable (pure) ---------------------------------- */

static const char *str_of(const cJSON *o, const char *k)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

/* "16:50:10" from an ISO time (its own clock part, as written: UTC). */
static void clock_of(const char *iso, char *buf, size_t size)
{
	const char *t = iso != NULL ? strchr(iso, 'T') : NULL;
	if (t == NULL || strlen(t) < 9) {
		snprintf(buf, size, "?");
		return;
	}
	char raw[16];
	snprintf(raw, sizeof(raw), "%.8s", t + 1);
	text_escape(raw, strlen(raw), 8, buf, size);
}

static void add_lines(struct result_summary *out, const cJSON *arr, const char *mark, size_t max)
{
	if (!cJSON_IsArray(arr))
		return;
	int n = cJSON_GetArraySize(arr);
	int from = n - (int)max;
	for (int i = from < 0 ? 0 : from; i < n && out->nlines < RESULT_SHOW_LINES; i++) {
		const cJSON *l = cJSON_GetArrayItem(arr, i);
		if (!cJSON_IsString(l))
			continue;
		char esc[280];
		text_escape(l->valuestring, strlen(l->valuestring), 200, esc, sizeof(esc));
		snprintf(out->lines[out->nlines++], sizeof(out->lines[0]), "%s %s", mark, esc);
	}
}

void result_summarize(const char *json, size_t len, struct result_summary *out)
{
	memset(out, 0, sizeof(*out));
	cJSON *o = cJSON_ParseWithLength(json, len);
	if (!cJSON_IsObject(o)) {
		snprintf(out->err, sizeof(out->err), "the stored result is not a JSON object");
		cJSON_Delete(o);
		return;
	}
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "exit_code");
	const char *sig = str_of(o, "signal");
	char what[120];
	if (cJSON_IsNumber(code) && code->valuedouble >= -1e9 && code->valuedouble <= 1e9) {
		long c = (long)code->valuedouble;
		snprintf(what, sizeof(what), "exit %ld%s", c, c == 0 ? " (ok)" : " (failed)");
		out->failed = c != 0;
	} else if (sig != NULL) {
		char s[40];
		text_escape(sig, strlen(sig), 20, s, sizeof(s));
		snprintf(what, sizeof(what), "ended by %s", s);
		out->failed = true;
	} else {
		snprintf(out->err, sizeof(out->err),
		         "the stored result has neither an exit_code nor a signal");
		cJSON_Delete(o);
		return;
	}
	char start[16], end[16], took[40] = "";
	clock_of(str_of(o, "start_time"), start, sizeof(start));
	clock_of(str_of(o, "end_time"), end, sizeof(end));
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(o, "duration_ms");
	if (cJSON_IsNumber(dur) && dur->valuedouble >= 0 && dur->valuedouble < 1e13)
		snprintf(took, sizeof(took), ", took %.1fs", dur->valuedouble / 1000.0);
	snprintf(out->head, sizeof(out->head), "%s, %s -> %s UTC%s", what, start, end, took);
	add_lines(out, cJSON_GetObjectItemCaseSensitive(o, "out"), "out|", 4);
	add_lines(out, cJSON_GetObjectItemCaseSensitive(o, "err"), "err|", 2);
	out->ok = true;
	cJSON_Delete(o);
}

/* --- reading ------------------------------------------------------------ */

static const char *shown_task(struct app *app)
{
	enum app_mode view = app->mode == MODE_CONFIRM ? app->confirm_back : app->mode;
	if (view != MODE_DETAIL)
		return NULL;
	const struct pm2_proc *p = tasks_find(&app->tasks, app->detail_node, app->detail_pm_id);
	return p != NULL ? p->name : NULL;
}

static void on_get(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct resultview *rv = arg;
	rv->inflight = false;
	if (r == NULL)
		return; /* the connection went (or the console is closing) */
	snprintf(rv->task, sizeof(rv->task), "%s", rv->asked);
	bool had = rv->have;
	struct result_summary before = rv->sum;
	if (r->type == REDIS_REPLY_STRING) {
		rv->have = true;
		result_summarize(r->str, r->len, &rv->sum);
	} else if (r->type == REDIS_REPLY_ERROR) {
		rv->have = true;
		memset(&rv->sum, 0, sizeof(rv->sum));
		snprintf(rv->sum.err, sizeof(rv->sum.err), "Redis refused the read");
	} else {
		rv->have = false;
	}
	if (had != rv->have || memcmp(&before, &rv->sum, sizeof(before)) != 0)
		rv->app->dirty = true;
}

static void on_timer(struct loop *loop, void *arg)
{
	struct resultview *rv = arg;
	rv->timer = loop_timer_add(loop, RESULT_POLL_MS, on_timer, rv);
	const char *task = shown_task(rv->app);
	if (task == NULL || rv->inflight || !bus_can_command(rv->app->bus))
		return;
	if (strcmp(task, rv->task) != 0) {
		rv->have = false; /* another task: nothing of the last one shows */
		rv->task[0] = '\0';
	}
	char key[200];
	snprintf(key, sizeof(key), "%s%s", RESULT_PREFIX, task);
	snprintf(rv->asked, sizeof(rv->asked), "%s", task);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	if (bus_command(rv->app->bus, 2, argv, lens, on_get, rv) == 0)
		rv->inflight = true;
}

void resultview_start(struct app *app)
{
	struct resultview *rv = xcalloc(1, sizeof(*rv));
	rv->app = app;
	app->rv = rv;
	rv->timer = loop_timer_add(app->loop, 0, on_timer, rv);
}

void resultview_free(struct app *app)
{
	if (app->rv == NULL)
		return;
	loop_timer_cancel(app->rv->timer);
	free(app->rv);
	app->rv = NULL;
}

/* --- drawing ---------------------------------------------------------------- */

/* Text already escaped (or our own), fitted to w columns. */
static void line(int y, int x, int w, int attr, const char *s)
{
	if (w <= 0)
		return;
	char buf[1024];
	text_escape(s, strlen(s), (size_t)w, buf, sizeof(buf));
	attrset(attr);
	mvaddstr(y, x, buf);
}

int resultview_draw(struct app *app, const struct pm2_proc *p, int row, int x, int w, int bottom)
{
	int oa = draw_attr(app, TH_OVERLAY);
	char buf[600];
	if (p->cron != NULL && row < bottom) {
		char cron[220], when[80] = "(never, as PM2's scheduler reads it)";
		text_escape(p->cron, strlen(p->cron), 60, cron, sizeof(cron));
		int64_t now = util_wall_ms(), next;
		if (cron_next(p->cron, now, &next) == 0) {
			char t[64];
			cron_next_text(next, now, t, sizeof(t));
			snprintf(when, sizeof(when), "next run %s", t);
		}
		snprintf(buf, sizeof(buf), "schedule %s   %s", cron, when);
		line(row++, x, w, oa, buf);
	}
	struct resultview *rv = app->rv;
	if (rv == NULL || !rv->have || strcmp(rv->task, p->name) != 0 || row >= bottom)
		return row;
	if (!rv->sum.ok) {
		snprintf(buf, sizeof(buf), "result   unreadable: %s", rv->sum.err);
		line(row++, x, w, draw_attr(app, TH_FEED_ERROR), buf);
		return row;
	}
	snprintf(buf, sizeof(buf), "result   %s", rv->sum.head);
	line(row++, x, w, draw_attr(app, rv->sum.failed ? TH_FEED_ERROR : TH_FEED_OK), buf);
	for (size_t i = 0; i < rv->sum.nlines && row < bottom; i++) {
		bool err = strncmp(rv->sum.lines[i], "err", 3) == 0;
		snprintf(buf, sizeof(buf), "         %s", rv->sum.lines[i]);
		line(row++, x, w, err ? draw_attr(app, TH_FEED_ERROR) : oa, buf);
	}
	return row;
}
