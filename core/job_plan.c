/*
 * job_plan: a job's graph, checked and ordered (job_plan.h). Kahn's
 * algorithm (as upstream sorts jobs) gives the levels; the steps it cannot
 * place are on or behind a cycle, and one cycle among them is named.
 *
 * Must not: do IO, read the clock, or decide anything about running (the
 * policy and check_start judge each step's start in the runner).
 */
#include "job_plan.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "command_check.h"
#include "util.h"

const char *job_state_name(enum job_state s)
{
	static const char *const names[] = {"pending", "running",   "succeeded", "failed",
					    "skipped", "timed_out", "stopped"};
	return names[s];
}

const char *job_mode_name(enum job_mode m)
{
	return m == JOB_MODE_DAG ? "dag" : m == JOB_MODE_PARALLEL ? "parallel" : "sequential";
}

const char *job_when_name(enum job_when w)
{
	static const char *const names[] = {"on_success", "always", "on_failure", "on_previous"};
	return names[w];
}

char *job_task_name(const char *job, const char *step, bool rollback)
{
	char *s = xasprintf("job.%s.%s%s", job, rollback ? "rollback." : "", step);
	for (char *p = s; *p; p++) {
		unsigned char c = (unsigned char)*p;
		if (!util_ascii_alnum(c) && c != '.' && c != '_' && c != '-')
			*p = '_';
	}
	if (check_task_name(s) != NULL) {
		free(s);
		return NULL;
	}
	return s;
}

static long find_step(const struct job_def *def, const char *name)
{
	for (size_t i = 0; i < def->nsteps; i++)
		if (strcmp(def->steps[i].name, name) == 0)
			return (long)i;
	return -1;
}

static void add_dep(struct job_plan *p, size_t i, size_t d)
{
	for (size_t k = 0; k < p->ndeps[i]; k++)
		if (p->deps[i][k] == d)
			return;
	p->deps[i] = xrealloc(p->deps[i], (p->ndeps[i] + 1) * sizeof(size_t));
	p->deps[i][p->ndeps[i]++] = d;
}

/* One cycle among the steps Kahn could not place (left[i]): each of them
 * waits for another left one, so walking those waits must come back. */
static void name_cycle(const struct job_def *def, const struct job_plan *p, const bool *left,
		       char *err, size_t errlen)
{
	size_t start = 0;
	while (!left[start])
		start++;
	int *seen = xcalloc(p->n, sizeof(int)); /* position in the walk + 1 */
	size_t *walk = xcalloc(p->n + 1, sizeof(size_t));
	size_t len = 0, at = start;
	while (seen[at] == 0) {
		seen[at] = (int)len + 1;
		walk[len++] = at;
		size_t next = at;
		for (size_t k = 0; k < p->ndeps[at]; k++) {
			if (left[p->deps[at][k]]) {
				next = p->deps[at][k];
				break;
			}
		}
		at = next;
	}
	size_t from = (size_t)(seen[at] - 1);
	int o = snprintf(err, errlen, "the steps wait for each other in a cycle: ");
	for (size_t k = from; k < len && o > 0 && (size_t)o < errlen; k++)
		o += snprintf(err + o, errlen - (size_t)o, "%.64s waits for ", def->steps[walk[k]].name);
	if (o > 0 && (size_t)o < errlen)
		snprintf(err + o, errlen - (size_t)o, "%.64s; nothing was run", def->steps[at].name);
	free(seen);
	free(walk);
}

/* Marks i and, following follow (dependents or dependencies), the rest. */
static void mark(const struct job_plan *p, size_t i, bool *m, bool dependents)
{
	if (m[i])
		return;
	m[i] = true;
	if (!dependents) {
		for (size_t k = 0; k < p->ndeps[i]; k++)
			mark(p, p->deps[i][k], m, false);
		return;
	}
	for (size_t j = 0; j < p->n; j++)
		for (size_t k = 0; k < p->ndeps[j]; k++)
			if (p->deps[j][k] == i)
				mark(p, j, m, true);
}

static int names_unique(const struct job_step *v, size_t n, const char *what, char *err,
			size_t errlen)
{
	for (size_t i = 0; i < n; i++) {
		if (v[i].name[0] == '\0') {
			snprintf(err, errlen, "%s %zu has an empty name; nothing was run", what, i + 1);
			return -1;
		}
		for (size_t j = 0; j < i; j++) {
			if (strcmp(v[i].name, v[j].name) == 0) {
				snprintf(err, errlen, "two %ss are named '%.64s'; nothing was run",
					 what, v[i].name);
				return -1;
			}
		}
	}
	return 0;
}

int job_plan_build(const struct job_def *def, const char *job, const char *from, const char *to,
		   struct job_plan *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	size_t n = def->nsteps;
	if (n == 0) {
		snprintf(err, errlen, "the job has no steps; nothing was run");
		return -1;
	}
	if (names_unique(def->steps, n, "step", err, errlen) < 0 ||
	    names_unique(def->rollback, def->nrollback, "rollback step", err, errlen) < 0)
		return -1;
	out->n = n;
	out->deps = xcalloc(n, sizeof(size_t *));
	out->ndeps = xcalloc(n, sizeof(size_t));
	out->level = xcalloc(n, sizeof(int));
	out->selected = xcalloc(n, sizeof(bool));
	out->task = xcalloc(n, sizeof(char *));
	out->nrb = def->nrollback;
	out->rb_task = xcalloc(def->nrollback + 1, sizeof(char *));
	for (size_t i = 0; i < n; i++) {
		const struct job_step *s = &def->steps[i];
		for (size_t k = 0; k < s->ndeps; k++) {
			long d = find_step(def, s->depends_on[k]);
			if (d < 0) {
				snprintf(err, errlen,
					 "step %.64s depends on '%.64s', which is no step of this job; "
					 "nothing was run",
					 s->name, s->depends_on[k]);
				goto fail;
			}
			if ((size_t)d == i) {
				snprintf(err, errlen,
					 "the steps wait for each other in a cycle: %.64s waits for "
					 "itself; nothing was run",
					 s->name);
				goto fail;
			}
			add_dep(out, i, (size_t)d);
		}
		if (i > 0 && (def->mode == JOB_MODE_SEQUENTIAL || s->when == JOB_WHEN_ON_PREVIOUS))
			add_dep(out, i, i - 1);
		if (s->when == JOB_WHEN_ON_FAILURE && s->ndeps == 0)
			for (size_t j = 0; j < i; j++)
				add_dep(out, i, j);
		out->task[i] = job_task_name(job, s->name, false);
		if (out->task[i] == NULL) {
			snprintf(err, errlen,
				 "step %.64s: its task name (job.%.64s.%.64s) would be no valid task "
				 "name (at most 64 characters); nothing was run",
				 s->name, job, s->name);
			goto fail;
		}
	}
	for (size_t i = 0; i < def->nrollback; i++) {
		out->rb_task[i] = job_task_name(job, def->rollback[i].name, true);
		if (out->rb_task[i] == NULL) {
			snprintf(err, errlen,
				 "rollback step %.64s: its task name would be no valid task name (at "
				 "most 64 characters); nothing was run",
				 def->rollback[i].name);
			goto fail;
		}
	}
	/* Two steps on one PM2 task would drive one process: names that
	 * differ only in what the task name replaces ("a b", "a_b"), or a
	 * step "rollback.x" beside a rollback step "x", are refused. */
	for (size_t i = 0; i < n + def->nrollback; i++) {
		const char *ti = i < n ? out->task[i] : out->rb_task[i - n];
		for (size_t j = 0; j < i; j++) {
			const char *tj = j < n ? out->task[j] : out->rb_task[j - n];
			if (strcmp(ti, tj) == 0) {
				snprintf(err, errlen,
					 "two steps would run as one task %.100s ('%.64s' and '%.64s'); "
					 "nothing was run",
					 ti, j < n ? def->steps[j].name : def->rollback[j - n].name,
					 i < n ? def->steps[i].name : def->rollback[i - n].name);
				goto fail;
			}
		}
	}
	/* Kahn: a step's level once every step it waits for has one. */
	bool *placed = xcalloc(n, sizeof(bool));
	size_t nplaced = 0;
	for (bool progress = true; progress && nplaced < n;) {
		progress = false;
		for (size_t i = 0; i < n; i++) {
			if (placed[i])
				continue;
			int lvl = 0;
			bool ready = true;
			for (size_t k = 0; k < out->ndeps[i] && ready; k++) {
				size_t d = out->deps[i][k];
				if (!placed[d])
					ready = false;
				else if (out->level[d] + 1 > lvl)
					lvl = out->level[d] + 1;
			}
			if (!ready)
				continue;
			out->level[i] = lvl;
			placed[i] = true;
			nplaced++;
			progress = true;
			if (lvl + 1 > out->nlevels)
				out->nlevels = lvl + 1;
		}
	}
	if (nplaced < n) {
		bool *left = xcalloc(n, sizeof(bool));
		for (size_t i = 0; i < n; i++)
			left[i] = !placed[i];
		/* Only steps on a cycle, not the ones merely behind it. */
		for (bool changed = true; changed;) {
			changed = false;
			for (size_t i = 0; i < n; i++) {
				if (!left[i])
					continue;
				bool waits = false;
				for (size_t k = 0; k < out->ndeps[i]; k++)
					waits = waits || left[out->deps[i][k]];
				if (!waits) {
					left[i] = false;
					changed = true;
				}
			}
		}
		name_cycle(def, out, left, err, errlen);
		free(left);
		free(placed);
		goto fail;
	}
	free(placed);
	/* from_step / to_step */
	long f = -1, t = -1;
	if (from != NULL && (f = find_step(def, from)) < 0) {
		snprintf(err, errlen, "from_step '%.64s' is no step of this job; nothing was run", from);
		goto fail;
	}
	if (to != NULL && (t = find_step(def, to)) < 0) {
		snprintf(err, errlen, "to_step '%.64s' is no step of this job; nothing was run", to);
		goto fail;
	}
	bool *a = xcalloc(n, sizeof(bool)), *b = xcalloc(n, sizeof(bool));
	if (f >= 0)
		mark(out, (size_t)f, a, true);
	if (t >= 0)
		mark(out, (size_t)t, b, false);
	size_t nsel = 0;
	for (size_t i = 0; i < n; i++) {
		out->selected[i] = (f < 0 || a[i]) && (t < 0 || b[i]);
		nsel += out->selected[i];
	}
	free(a);
	free(b);
	if (nsel == 0) {
		snprintf(err, errlen,
			 "no step is both from_step %.64s or after it and to_step %.64s or before it; "
			 "nothing was run",
			 from, to);
		goto fail;
	}
	return 0;
fail:
	job_plan_free(out);
	return -1;
}

void job_plan_free(struct job_plan *p)
{
	if (p == NULL)
		return;
	for (size_t i = 0; i < p->n; i++) {
		if (p->deps != NULL)
			free(p->deps[i]);
		if (p->task != NULL)
			free(p->task[i]);
	}
	for (size_t i = 0; p->rb_task != NULL && i < p->nrb; i++)
		free(p->rb_task[i]);
	free(p->deps);
	free(p->ndeps);
	free(p->level);
	free(p->selected);
	free(p->task);
	free(p->rb_task);
	memset(p, 0, sizeof(*p));
}

static bool ended(enum job_state s)
{
	return s != JS_PENDING && s != JS_RUNNING;
}

static bool failed(enum job_state s)
{
	return s == JS_FAILED || s == JS_TIMED_OUT;
}

enum job_decision job_plan_decide(const struct job_def *def, const struct job_plan *p,
				  const enum job_state *states, size_t i)
{
	if (!p->selected[i])
		return JOB_SKIP;
	bool ok = true, any_failed = false;
	for (size_t k = 0; k < p->ndeps[i]; k++) {
		size_t d = p->deps[i][k];
		if (!p->selected[d])
			continue; /* left out: counts as done */
		if (!ended(states[d]))
			return JOB_WAIT;
		ok = ok && states[d] == JS_SUCCEEDED;
		any_failed = any_failed || failed(states[d]);
	}
	switch (def->steps[i].when) {
	case JOB_WHEN_ALWAYS:
		return JOB_RUN;
	case JOB_WHEN_ON_FAILURE:
		return any_failed ? JOB_RUN : JOB_SKIP;
	case JOB_WHEN_ON_PREVIOUS:
		return i == 0 || !p->selected[i - 1] || states[i - 1] == JS_SUCCEEDED ? JOB_RUN
										       : JOB_SKIP;
	case JOB_WHEN_ON_SUCCESS:
	default:
		return ok || def->continue_on_failure ? JOB_RUN : JOB_SKIP;
	}
}

static cJSON *names(char *const *v, size_t n)
{
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, cJSON_CreateString(v[i]));
	return arr;
}

cJSON *job_plan_json(const struct job_def *def, const struct job_plan *p, const char *job)
{
	cJSON *o = cJSON_CreateObject();
	cJSON_AddStringToObject(o, "job", job);
	cJSON_AddStringToObject(o, "mode", job_mode_name(def->mode));
	cJSON *levels = cJSON_AddArrayToObject(o, "levels");
	for (int l = 0; l < p->nlevels; l++) {
		cJSON *lv = cJSON_CreateArray();
		for (size_t i = 0; i < p->n; i++)
			if (p->level[i] == l && p->selected[i])
				cJSON_AddItemToArray(lv, cJSON_CreateString(def->steps[i].name));
		if (cJSON_GetArraySize(lv) > 0)
			cJSON_AddItemToArray(levels, lv);
		else
			cJSON_Delete(lv);
	}
	cJSON *steps = cJSON_AddArrayToObject(o, "steps");
	for (size_t i = 0; i < p->n; i++) {
		const struct job_step *s = &def->steps[i];
		cJSON *st = cJSON_CreateObject();
		cJSON_AddStringToObject(st, "name", s->name);
		cJSON_AddStringToObject(st, "kind", s->kind == JOB_STEP_BASH ? "bash" : "datum");
		cJSON_AddItemToObject(st, "depends_on", names(s->depends_on, s->ndeps));
		cJSON *waits = cJSON_AddArrayToObject(st, "waits_for");
		for (size_t k = 0; k < p->ndeps[i]; k++)
			cJSON_AddItemToArray(waits,
					     cJSON_CreateString(def->steps[p->deps[i][k]].name));
		cJSON_AddNumberToObject(st, "level", p->level[i]);
		cJSON_AddStringToObject(st, "when", job_when_name(s->when));
		cJSON_AddStringToObject(st, "task", p->task[i]);
		cJSON_AddBoolToObject(st, "selected", p->selected[i]);
		cJSON_AddItemToArray(steps, st);
	}
	cJSON *rb = cJSON_AddArrayToObject(o, "rollback");
	for (size_t i = 0; i < def->nrollback; i++) {
		cJSON *st = cJSON_CreateObject();
		cJSON_AddStringToObject(st, "name", def->rollback[i].name);
		cJSON_AddStringToObject(st, "kind",
					def->rollback[i].kind == JOB_STEP_BASH ? "bash" : "datum");
		cJSON_AddStringToObject(st, "task", p->rb_task[i]);
		cJSON_AddItemToArray(rb, st);
	}
	cJSON_AddBoolToObject(o, "continue_on_failure", def->continue_on_failure);
	cJSON_AddNumberToObject(o, "retry_failed_steps", def->retry_failed_steps);
	cJSON_AddBoolToObject(o, "rollback_on_failure", def->rollback_on_failure);
	return o;
}
