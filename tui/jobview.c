/*
 * jobview: see jobview.h. One read at a time: SCAN (cursor by cursor, at
 * most JOBVIEW_MAX_JOBS keys), then one MGET of what it found, then the
 * list is replaced whole, the selection kept by name.
 *
 * Must not: block, draw text that did not go through text_escape(), or
 * trust anything in a record (lengths, numbers, types).
 */
#include "jobview.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "app.h"
#include "bus.h"
#include "format.h"
#include "keys.h"
#include "text.h"
#include "util.h"

#define JOBVIEW_TICK_MS 250
#define JOBVIEW_EVERY_MS 1000
#define STEP_PAGE 10 /* step lines a PgUp or PgDn moves */
#define STEP_COLS 20 /* the STEP column's width, in terminal columns */

struct jobview {
	struct app *app;
	struct loop_timer *timer;
	bool busy;      /* a SCAN or MGET in flight */
	bool poke;      /* read again at the next tick */
	int64_t last;   /* when the last read began (monotonic ms) */
	bool read_once; /* a read has completed */
	char cursor[32];
	char **keys; /* found by the SCAN in progress */
	size_t nkeys;
	struct job_rec *jobs;
	size_t njobs;
	char selected[130]; /* the selected job's name */
	size_t top;	    /* the first job the list shows: follows the selection */
	size_t step_top;    /* the first step line shown (PgUp PgDn Home End) */
	size_t step_max;    /* the last step_top that still fills the pane (drawn) */
	char note[200];     /* a read that failed */
};

/* --- records (pure) -------------------------------------------------------- */

static void copy_text(char *dst, size_t size, const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	dst[0] = '\0';
	if (cJSON_IsString(v))
		text_escape(v->valuestring, strlen(v->valuestring), size - 1, dst, size);
}

static int64_t ms_of(const cJSON *o, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < 0 || v->valuedouble > 1e15)
		return 0;
	return (int64_t)v->valuedouble;
}

static long long_of(const cJSON *o, const char *key, long def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, key);
	if (!cJSON_IsNumber(v) || v->valuedouble < -1e6 || v->valuedouble > 1e6)
		return def;
	return (long)v->valuedouble;
}

static void step_from(const cJSON *s, bool rollback, struct job_step_row *r)
{
	memset(r, 0, sizeof(*r));
	r->rollback = rollback;
	copy_text(r->name, sizeof(r->name), s, "name");
	copy_text(r->state, sizeof(r->state), s, "state");
	copy_text(r->kind, sizeof(r->kind), s, "kind");
	copy_text(r->task, sizeof(r->task), s, "task");
	copy_text(r->signal, sizeof(r->signal), s, "signal");
	if (r->name[0] == '\0')
		snprintf(r->name, sizeof(r->name), "?");
	if (r->state[0] == '\0')
		snprintf(r->state, sizeof(r->state), "?");
	r->attempt = long_of(s, "attempt", 0);
	r->level = long_of(s, "level", -1);
	r->started_ms = ms_of(s, "started_ms");
	r->ended_ms = ms_of(s, "ended_ms");
	const cJSON *ec = cJSON_GetObjectItemCaseSensitive(s, "exit_code");
	if (cJSON_IsNumber(ec) && ec->valuedouble >= -1e6 && ec->valuedouble <= 1e6) {
		r->has_exit = true;
		r->exit_code = (long)ec->valuedouble;
	}
	const cJSON *deps = cJSON_GetObjectItemCaseSensitive(s, "depends_on");
	size_t o = 0;
	const cJSON *d;
	const cJSON *list = cJSON_IsArray(deps) ? deps : NULL;
	cJSON_ArrayForEach(d, list)
	{
		if (!cJSON_IsString(d) || o + 8 >= sizeof(r->deps))
			continue;
		char e[100];
		text_escape(d->valuestring, strlen(d->valuestring), 40, e, sizeof(e));
		o += (size_t)snprintf(r->deps + o, sizeof(r->deps) - o, "%s%s", o ? "," : "", e);
	}
}

static int by_level(const void *a, const void *b)
{
	const struct job_step_row *x = a, *y = b;
	if (x->rollback != y->rollback)
		return x->rollback ? 1 : -1;
	if (x->level != y->level)
		return x->level < y->level ? -1 : 1;
	return 0;
}

void job_rec_parse(const char *name, const char *json, size_t len, struct job_rec *out)
{
	memset(out, 0, sizeof(*out));
	text_escape(name, strlen(name), 60, out->name, sizeof(out->name));
	cJSON *o = json != NULL ? cJSON_ParseWithLength(json, len) : NULL;
	if (!cJSON_IsObject(o)) {
		snprintf(out->err, sizeof(out->err), "the record is not a JSON object");
		cJSON_Delete(o);
		return;
	}
	const cJSON *steps = cJSON_GetObjectItemCaseSensitive(o, "steps");
	if (!cJSON_IsArray(steps)) {
		snprintf(out->err, sizeof(out->err), "the record has no steps array");
		cJSON_Delete(o);
		return;
	}
	copy_text(out->job, sizeof(out->job), o, "job");
	copy_text(out->status, sizeof(out->status), o, "status");
	copy_text(out->mode, sizeof(out->mode), o, "mode");
	copy_text(out->run_id, sizeof(out->run_id), o, "run_id");
	copy_text(out->node, sizeof(out->node), o, "node");
	if (out->status[0] == '\0')
		snprintf(out->status, sizeof(out->status), "?");
	out->started_ms = ms_of(o, "started_ms");
	out->ended_ms = ms_of(o, "ended_ms");
	const cJSON *rb = cJSON_GetObjectItemCaseSensitive(o, "rollback");
	size_t n = (size_t)cJSON_GetArraySize(steps) +
	           (cJSON_IsArray(rb) ? (size_t)cJSON_GetArraySize(rb) : 0);
	if (n > JOBVIEW_MAX_STEPS)
		n = JOBVIEW_MAX_STEPS;
	out->steps = xcalloc(n + 1, sizeof(*out->steps));
	const cJSON *s;
	cJSON_ArrayForEach(s, steps)
	{
		if (out->nsteps < n && cJSON_IsObject(s))
			step_from(s, false, &out->steps[out->nsteps++]);
	}
	const cJSON *rbl = cJSON_IsArray(rb) ? rb : NULL;
	cJSON_ArrayForEach(s, rbl)
	{
		if (out->nsteps < n && cJSON_IsObject(s))
			step_from(s, true, &out->steps[out->nsteps++]);
	}
	/* qsort is not stable: sort (level, original index) by hand. */
	for (size_t i = 1; i < out->nsteps; i++) {
		struct job_step_row cur = out->steps[i];
		size_t j = i;
		while (j > 0 && by_level(&out->steps[j - 1], &cur) > 0) {
			out->steps[j] = out->steps[j - 1];
			j--;
		}
		out->steps[j] = cur;
	}
	out->ok = true;
	cJSON_Delete(o);
}

void job_rec_free(struct job_rec *r)
{
	free(r->steps);
	r->steps = NULL;
	r->nsteps = 0;
}

/* --- reading ------------------------------------------------------------------ */

static void keys_free(struct jobview *jv)
{
	for (size_t i = 0; i < jv->nkeys; i++)
		free(jv->keys[i]);
	free(jv->keys);
	jv->keys = NULL;
	jv->nkeys = 0;
}

static void jobs_free(struct jobview *jv)
{
	for (size_t i = 0; i < jv->njobs; i++)
		job_rec_free(&jv->jobs[i]);
	free(jv->jobs);
	jv->jobs = NULL;
	jv->njobs = 0;
}

static int by_name(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void scan_next(struct jobview *jv);

static void on_mget(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct jobview *jv = arg;
	jv->busy = false;
	if (r == NULL) {
		keys_free(jv);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != jv->nkeys) {
		snprintf(jv->note, sizeof(jv->note), "Redis refused the read of the job records");
		keys_free(jv);
		jv->app->dirty = true;
		return;
	}
	jobs_free(jv);
	jv->jobs = xcalloc(jv->nkeys + 1, sizeof(*jv->jobs));
	size_t plen = strlen(JOBVIEW_PREFIX);
	for (size_t i = 0; i < jv->nkeys; i++) {
		const redisReply *e = r->element[i];
		struct job_rec *rec = &jv->jobs[jv->njobs];
		const char *name = jv->keys[i] + plen;
		if (e->type == REDIS_REPLY_STRING) {
			job_rec_parse(name, e->str, e->len, rec);
		} else if (e->type == REDIS_REPLY_NIL) {
			continue; /* gone since the SCAN, or not a string */
		} else {
			job_rec_parse(name, NULL, 0, rec);
		}
		jv->njobs++;
	}
	keys_free(jv);
	jv->note[0] = '\0';
	jv->read_once = true;
	bool found = false;
	for (size_t i = 0; i < jv->njobs && !found; i++)
		found = strcmp(jv->jobs[i].name, jv->selected) == 0;
	if (!found)
		snprintf(jv->selected, sizeof(jv->selected), "%s",
		         jv->njobs ? jv->jobs[0].name : "");
	jv->app->dirty = true;
}

static void on_scan(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct jobview *jv = arg;
	jv->busy = false;
	if (r == NULL) {
		keys_free(jv);
		return;
	}
	if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
	    r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_ARRAY) {
		snprintf(jv->note, sizeof(jv->note), "Redis refused the SCAN of the job records");
		keys_free(jv);
		jv->app->dirty = true;
		return;
	}
	snprintf(jv->cursor, sizeof(jv->cursor), "%.*s", (int)r->element[0]->len,
	         r->element[0]->str);
	const redisReply *ks = r->element[1];
	for (size_t i = 0; i < ks->elements && jv->nkeys < JOBVIEW_MAX_JOBS; i++) {
		if (ks->element[i]->type != REDIS_REPLY_STRING || ks->element[i]->len > 300)
			continue;
		jv->keys = xrealloc(jv->keys, (jv->nkeys + 1) * sizeof(char *));
		jv->keys[jv->nkeys++] = xstrndup(ks->element[i]->str, ks->element[i]->len);
	}
	if (strcmp(jv->cursor, "0") != 0 && jv->nkeys < JOBVIEW_MAX_JOBS) {
		scan_next(jv);
		return;
	}
	if (jv->nkeys == 0) {
		jobs_free(jv);
		jv->selected[0] = '\0';
		jv->note[0] = '\0';
		jv->read_once = true;
		jv->app->dirty = true;
		return;
	}
	/* A SCAN may return a key twice: once each. */
	if (jv->nkeys > 1)
		qsort(jv->keys, jv->nkeys, sizeof(char *), by_name);
	size_t k = 0;
	for (size_t i = 0; i < jv->nkeys; i++) {
		if (k > 0 && strcmp(jv->keys[k - 1], jv->keys[i]) == 0) {
			free(jv->keys[i]);
			continue;
		}
		jv->keys[k++] = jv->keys[i];
	}
	jv->nkeys = k;
	const char **argv = xcalloc(jv->nkeys + 1, sizeof(char *));
	size_t *lens = xcalloc(jv->nkeys + 1, sizeof(size_t));
	argv[0] = "MGET";
	lens[0] = 4;
	for (size_t i = 0; i < jv->nkeys; i++) {
		argv[i + 1] = jv->keys[i];
		lens[i + 1] = strlen(jv->keys[i]);
	}
	if (bus_command(jv->app->bus, (int)jv->nkeys + 1, argv, lens, on_mget, jv) == 0)
		jv->busy = true;
	else
		keys_free(jv);
	free(argv);
	free(lens);
}

static void scan_next(struct jobview *jv)
{
	const char *argv[6] = {"SCAN", jv->cursor, "MATCH", JOBVIEW_PREFIX "*", "COUNT", "200"};
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(jv->app->bus, 6, argv, lens, on_scan, jv) == 0)
		jv->busy = true;
	else
		keys_free(jv);
}

static void on_timer(struct loop *loop, void *arg)
{
	struct jobview *jv = arg;
	jv->timer = loop_timer_add(loop, JOBVIEW_TICK_MS, on_timer, jv);
	struct app *app = jv->app;
	if (app->mode != MODE_JOBS || jv->busy || !bus_can_command(app->bus))
		return;
	int64_t now = loop_now(loop);
	if (!jv->poke && jv->read_once && now - jv->last < JOBVIEW_EVERY_MS) {
		app->dirty = true; /* running steps' durations move on */
		return;
	}
	jv->poke = false;
	jv->last = now;
	snprintf(jv->cursor, sizeof(jv->cursor), "0");
	keys_free(jv);
	scan_next(jv);
}

void jobview_start(struct app *app)
{
	struct jobview *jv = xcalloc(1, sizeof(*jv));
	jv->app = app;
	app->jv = jv;
	jv->timer = loop_timer_add(app->loop, JOBVIEW_TICK_MS, on_timer, jv);
}

void jobview_free(struct app *app)
{
	struct jobview *jv = app->jv;
	if (jv == NULL)
		return;
	loop_timer_cancel(jv->timer);
	keys_free(jv);
	jobs_free(jv);
	free(jv);
	app->jv = NULL;
}

void jobview_open(struct app *app)
{
	if (app->jv == NULL)
		return;
	app->mode = MODE_JOBS;
	app->jv->poke = true;
	app->dirty = true;
}

void jobview_message(struct app *app, const char *type)
{
	if (app->jv == NULL || type == NULL)
		return;
	if (strcmp(type, "job_step") == 0 || strcmp(type, "job_status") == 0 ||
	    strcmp(type, "job_state") == 0)
		app->jv->poke = true;
}

static long selected_index(const struct jobview *jv)
{
	for (size_t i = 0; i < jv->njobs; i++)
		if (strcmp(jv->jobs[i].name, jv->selected) == 0)
			return (long)i;
	return -1;
}

void jobview_key(struct app *app, int key)
{
	struct jobview *jv = app->jv;
	long at = selected_index(jv);
	switch (key) {
	case 'q':
	case KEYC_ESC:
	case 'J':
		app->mode = MODE_TABLE;
		break;
	case KEYC_UP:
	case 'k':
		if (at > 0) {
			snprintf(jv->selected, sizeof(jv->selected), "%s", jv->jobs[at - 1].name);
			jv->step_top = 0;
		}
		break;
	case KEYC_DOWN:
	case 'j':
		if (at >= 0 && (size_t)at + 1 < jv->njobs) {
			snprintf(jv->selected, sizeof(jv->selected), "%s", jv->jobs[at + 1].name);
			jv->step_top = 0;
		}
		break;
	/* The steps scroll: a job may have more than the screen holds. */
	case KEYC_PGUP:
		jv->step_top = jv->step_top > STEP_PAGE ? jv->step_top - STEP_PAGE : 0;
		break;
	case KEYC_PGDN:
		jv->step_top += STEP_PAGE;
		if (jv->step_top > jv->step_max)
			jv->step_top = jv->step_max;
		break;
	case KEYC_HOME:
		jv->step_top = 0;
		break;
	case KEYC_END:
		jv->step_top = jv->step_max;
		break;
	case 'g':
		jv->poke = true;
		break;
	default:
		return;
	}
	app->dirty = true;
}

/* --- drawing ------------------------------------------------------------------- */

static void line(int y, int x, int w, int attr, const char *s)
{
	if (w <= 0)
		return;
	char buf[1024];
	text_escape(s, strlen(s), (size_t)w, buf, sizeof(buf));
	attrset(attr);
	mvaddstr(y, x, buf);
}

static enum theme_elem state_elem(const char *st)
{
	if (strcmp(st, "pending") == 0 || strcmp(st, "planned") == 0)
		return TH_JOB_PENDING;
	if (strcmp(st, "running") == 0)
		return TH_JOB_RUNNING;
	if (strcmp(st, "succeeded") == 0 || strcmp(st, "completed") == 0)
		return TH_JOB_SUCCEEDED;
	if (strcmp(st, "failed") == 0 || strcmp(st, "timed_out") == 0)
		return TH_JOB_FAILED;
	if (strcmp(st, "skipped") == 0 || strcmp(st, "stopped") == 0)
		return TH_JOB_SKIPPED;
	if (strcmp(st, "rollback") == 0)
		return TH_JOB_ROLLBACK;
	return TH_OVERLAY;
}

static void took(int64_t start, int64_t end, bool running, char *buf, size_t size)
{
	if (start <= 0) {
		snprintf(buf, size, "-");
		return;
	}
	int64_t e = end > 0 ? end : running ? util_wall_ms() : 0;
	if (e < start) {
		snprintf(buf, size, "-");
		return;
	}
	snprintf(buf, size, "%.1fs%s", (double)(e - start) / 1000.0, end > 0 ? "" : "+");
}

void job_fit_pad(const char *s, int width, char *buf, size_t size)
{
	if (size == 0)
		return;
	size_t used = fmt_fit(s, width, buf, size);
	size_t o = strlen(buf);
	while (width > 0 && used < (size_t)width && o + 1 < size) {
		buf[o++] = ' ';
		used++;
	}
	buf[o] = '\0';
}

void job_step_line(const struct job_step_row *s, const char *took_text, char *buf, size_t size)
{
	char lvl[24];
	if (s->level >= 0)
		snprintf(lvl, sizeof(lvl), "%ld", s->level);
	else
		snprintf(lvl, sizeof(lvl), "-");
	char state[48];
	if (s->has_exit && s->exit_code != 0)
		snprintf(state, sizeof(state), "%s(%ld)", s->state, s->exit_code);
	else if (s->signal[0])
		snprintf(state, sizeof(state), "%s(%s)", s->state, s->signal);
	else
		snprintf(state, sizeof(state), "%s", s->state);
	/* Cut and padded by terminal columns, never mid-character. */
	char name[STEP_COLS * 4 + 8];
	job_fit_pad(s->name, STEP_COLS, name, sizeof(name));
	snprintf(buf, size, "%-3s %s %-10s %3ld %8s  %s", lvl, name, state, s->attempt, took_text,
	         s->deps[0] ? s->deps : "-");
}

/* How many lines the steps take (the rollback title is one). */
static size_t step_lines(const struct job_rec *j)
{
	size_t n = j->nsteps;
	for (size_t i = 0; i < j->nsteps; i++)
		if (j->steps[i].rollback)
			return n + 1;
	return n;
}

static void draw_steps(struct app *app, struct jobview *jv, const struct job_rec *j, int y, int x,
                       int w, int bottom)
{
	int oa = draw_attr(app, TH_OVERLAY), ta = draw_attr(app, TH_OVERLAY_TITLE);
	char buf[800], t[32];
	if (!j->ok) {
		snprintf(buf, sizeof(buf), "job %s: unreadable record: %s", j->name, j->err);
		line(y, x, w, draw_attr(app, TH_JOB_FAILED), buf);
		return;
	}
	took(j->started_ms, j->ended_ms, strcmp(j->status, "running") == 0, t, sizeof(t));
	snprintf(buf, sizeof(buf), "job %s  %s", j->job[0] ? j->job : j->name, j->status);
	line(y, x, w, draw_attr(app, state_elem(j->status)) | A_BOLD, buf);
	snprintf(buf, sizeof(buf), "mode %s  took %s  run %s  node %s", j->mode[0] ? j->mode : "?",
	         t, j->run_id[0] ? j->run_id : "?", j->node[0] ? j->node : "?");
	line(y + 1, x, w, oa, buf);
	snprintf(buf, sizeof(buf), "%-3s %-20s %-10s %3s %8s  %s", "LVL", "STEP", "STATE", "TRY",
	         "TOOK", "DEPENDS ON");
	line(y + 3, x, w, ta, buf);
	int row = y + 4;
	/* The step lines scroll (jv->step_top): clamped to what fills the pane. */
	size_t total = step_lines(j);
	size_t rows = bottom > row ? (size_t)(bottom - row) : 0;
	jv->step_max = total > rows ? total - rows : 0;
	if (jv->step_top > jv->step_max)
		jv->step_top = jv->step_max;
	if (total > rows && rows > 0) {
		snprintf(buf, sizeof(buf), "steps %zu-%zu of %zu (PgUp PgDn)", jv->step_top + 1,
		         jv->step_top + rows, total);
		line(y + 2, x, w, oa, buf);
	}
	size_t at = 0; /* the step line being laid out */
	bool rb_title = false;
	for (size_t i = 0; i < j->nsteps && row < bottom; i++) {
		const struct job_step_row *s = &j->steps[i];
		if (s->rollback && !rb_title) {
			rb_title = true;
			if (at++ >= jv->step_top)
				line(row++, x, w, ta, "rollback");
			if (row >= bottom)
				break;
		}
		if (at++ < jv->step_top)
			continue;
		took(s->started_ms, s->ended_ms, strcmp(s->state, "running") == 0, t, sizeof(t));
		job_step_line(s, t, buf, sizeof(buf));
		line(row++, x, w, draw_attr(app, state_elem(s->rollback ? "rollback" : s->state)),
		     buf);
	}
	if (j->nsteps == 0)
		line(row, x, w, oa, "(no steps)");
}

size_t job_list_top(size_t top, long sel, size_t n, size_t rows)
{
	if (rows == 0)
		rows = 1;
	size_t max = n > rows ? n - rows : 0;
	if (sel >= 0 && (size_t)sel < top)
		top = (size_t)sel;
	else if (sel >= 0 && (size_t)sel >= top + rows)
		top = (size_t)sel - rows + 1;
	return top > max ? max : top;
}

void jobview_draw(struct app *app)
{
	struct jobview *jv = app->jv;
	int top = 1, bottom = LINES - 2; /* the header above, the hints and bar below */
	int oa = draw_attr(app, TH_OVERLAY), ta = draw_attr(app, TH_TABLE_HEAD);
	for (int r = top; r < bottom; r++) {
		attrset(oa);
		move(r, 0);
		for (int c = 0; c < COLS; c++)
			addch(' ');
	}
	char buf[400];
	snprintf(buf, sizeof(buf), " jobs (%zu) from %s*  -  every second and on job messages",
	         jv->njobs, JOBVIEW_PREFIX);
	line(top, 0, COLS, ta, buf);
	if (jv->note[0])
		line(top + 1, 1, COLS - 2, draw_attr(app, TH_FEED_ERROR), jv->note);
	int y0 = top + 2;
	if (!jv->read_once) {
		line(y0, 1, COLS - 2, oa, "(reading the job records...)");
		return;
	}
	if (jv->njobs == 0) {
		line(y0, 1, COLS - 2, oa, "(no job records in Redis)");
		return;
	}
	int lw = COLS / 4;
	if (lw < 16)
		lw = 16;
	if (lw > 32)
		lw = 32;
	long sel = selected_index(jv);
	/* The list scrolls: its top follows the selection. */
	size_t rows = bottom > y0 ? (size_t)(bottom - y0) : 1;
	jv->top = job_list_top(jv->top, sel, jv->njobs, rows);
	for (size_t i = jv->top; i < jv->njobs && y0 + (int)(i - jv->top) < bottom; i++) {
		const struct job_rec *j = &jv->jobs[i];
		snprintf(buf, sizeof(buf), "%s %s  %s", (long)i == sel ? ">" : " ", j->name,
		         j->ok ? j->status : "unreadable");
		int a = draw_attr(app, j->ok ? state_elem(j->status) : TH_JOB_FAILED);
		if ((long)i == sel)
			a |= A_REVERSE;
		line(y0 + (int)(i - jv->top), 1, lw - 1, a, buf);
	}
	if (sel >= 0)
		draw_steps(app, jv, &jv->jobs[sel], y0, lw + 2, COLS - lw - 3, bottom);
}
