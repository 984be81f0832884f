/*
 * pm2_view: see pm2_view.h. Owns the table of processes as last seen and
 * the rules that keep it: what each process event means, and how a full
 * listing is merged. Must not: do IO, read a clock, or trust an event (an
 * app can publish any name and payload on pub.sock).
 */
#include "pm2_view.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

struct view_entry {
	int pm_id;
	char *name;
	enum pm2_status st;
	char status[24]; /* pm2_status_name(st), for borrowed records */
	int pid;
	int restart_time;
	uint64_t seq;   /* the change that last touched it */
	bool uncertain; /* in flux: PM2 may be restarting it, or deleting it */
	bool gone;      /* deleted since (kept until a listing has seen it go) */
};

struct pm2_view {
	struct view_entry *e;
	size_t n, cap;
	uint64_t seq;
};

struct pm2_view *pm2_view_new(void)
{
	return xcalloc(1, sizeof(struct pm2_view));
}

void pm2_view_free(struct pm2_view *v)
{
	if (v == NULL)
		return;
	for (size_t i = 0; i < v->n; i++)
		free(v->e[i].name);
	free(v->e);
	free(v);
}

uint64_t pm2_view_seq(const struct pm2_view *v)
{
	return v->seq;
}

static struct view_entry *find_id(struct pm2_view *v, int pm_id)
{
	for (size_t i = 0; i < v->n; i++)
		if (v->e[i].pm_id == pm_id)
			return &v->e[i];
	return NULL;
}

/* The entry of pm_id, new (empty, named name) when the view lacks it. */
static struct view_entry *entry_of(struct pm2_view *v, int pm_id, const char *name)
{
	struct view_entry *e = find_id(v, pm_id);
	if (e == NULL) {
		if (v->n == v->cap) {
			v->cap = v->cap ? v->cap * 2 : 64;
			v->e = xrealloc(v->e, v->cap * sizeof(*v->e));
		}
		e = &v->e[v->n++];
		*e = (struct view_entry){.pm_id = pm_id, .name = xstrdup(name)};
	} else if (strcmp(e->name, name) != 0) {
		/* PM2 numbers afresh once its last process is deleted. */
		free(e->name);
		e->name = xstrdup(name);
	}
	return e;
}

static void set_state(struct view_entry *e, enum pm2_status st)
{
	e->st = st;
	snprintf(e->status, sizeof(e->status), "%s", pm2_status_name(st));
}

static void touch(struct pm2_view *v, struct view_entry *e)
{
	e->seq = ++v->seq;
}

void pm2_view_set(struct pm2_view *v, int pm_id, const char *name, enum pm2_status st, int pid)
{
	if (pm_id < 0 || name == NULL || name[0] == '\0')
		return;
	struct view_entry *e = entry_of(v, pm_id, name);
	set_state(e, st);
	e->pid = pid;
	e->gone = false;
	e->uncertain = st == PM2_ST_UNKNOWN;
	touch(v, e);
}

void pm2_view_gone(struct pm2_view *v, int pm_id)
{
	struct view_entry *e = find_id(v, pm_id);
	if (e == NULL)
		return;
	e->gone = true;
	e->uncertain = false;
	e->pid = 0;
	touch(v, e);
}

/* restart_time from an event's process, when it says. */
static void read_restarts(struct view_entry *e, const cJSON *payload)
{
	const cJSON *proc = cJSON_GetObjectItemCaseSensitive(payload, "process");
	const cJSON *rt = cJSON_GetObjectItemCaseSensitive(proc, "restart_time");
	if (cJSON_IsNumber(rt) && rt->valuedouble >= 0 && rt->valuedouble < 2e9)
		e->restart_time = (int)rt->valuedouble;
}

/* Whether PM2 leaves a process that exited on its own stopped: autorestart
 * false in the event's process. Anything else it may restart. */
static bool no_autorestart(const cJSON *payload)
{
	const cJSON *proc = cJSON_GetObjectItemCaseSensitive(payload, "process");
	const cJSON *ar = cJSON_GetObjectItemCaseSensitive(proc, "autorestart");
	return cJSON_IsFalse(ar) || (cJSON_IsString(ar) && strcmp(ar->valuestring, "false") == 0);
}

void pm2_view_event(struct pm2_view *v, const struct pm2_event *ev)
{
	if (ev->kind != PM2_EV_PROCESS || ev->pm_id < 0 || ev->process_name[0] == '\0')
		return;
	struct view_entry *e = entry_of(v, ev->pm_id, ev->process_name);
	enum pm2_status said = pm2_status_parse(ev->status);
	bool was_stopping = !e->gone && e->st == PM2_ST_STOPPING;
	e->gone = false;
	read_restarts(e, ev->payload);
	if (strcmp(ev->event, "online") == 0) {
		/* Sent before PM2 sets the status: it may still say launching. */
		set_state(e, PM2_ST_ONLINE);
		e->uncertain = false;
	} else if (strcmp(ev->event, "exit") == 0) {
		e->pid = 0;
		if (said == PM2_ST_STOPPING || said == PM2_ST_ERRORED) {
			/* Being stopped (a stopped exit follows), or PM2 gave up. */
			set_state(e, said);
			e->uncertain = false;
		} else if (said == PM2_ST_STOPPED &&
		           (was_stopping || no_autorestart(ev->payload))) {
			set_state(e, PM2_ST_STOPPED);
			e->uncertain = false;
		} else {
			/* It ended by itself: PM2 restarts it now, later
			 * (waiting restart), or not at all. Ask the daemon. */
			set_state(e, said == PM2_ST_UNKNOWN ? PM2_ST_STOPPED : said);
			e->uncertain = true;
		}
	} else if (strcmp(ev->event, "restart overlimit") == 0) {
		set_state(e, PM2_ST_ERRORED);
		e->uncertain = false;
	} else if (strcmp(ev->event, "start") == 0 || strcmp(ev->event, "stop") == 0 ||
	           strcmp(ev->event, "restart") == 0) {
		/* Told by a client once its call was done: the status is
		 * the process's own at that moment. */
		set_state(e, said);
		e->uncertain = said == PM2_ST_UNKNOWN;
	} else {
		/* "delete" is sent before the process goes (or never, after
		 * the pm2 command deleted it); a reload, or a name an app
		 * made up: the view cannot tell what follows. */
		if (said != PM2_ST_UNKNOWN)
			set_state(e, said);
		e->uncertain = true;
	}
	touch(v, e);
}

static const struct pm2_proc *find_proc(const struct pm2_proc *procs, size_t n, int pm_id)
{
	for (size_t i = 0; i < n; i++)
		if (procs[i].pm_id == pm_id)
			return &procs[i];
	return NULL;
}

void pm2_view_listed(struct pm2_view *v, const struct pm2_proc *procs, size_t n, uint64_t since)
{
	/* Entries untouched since the request take the listing's word, or
	 * go when it lacks them. */
	size_t w = 0;
	for (size_t i = 0; i < v->n; i++) {
		struct view_entry *e = &v->e[i];
		bool keep = e->seq > since || find_proc(procs, n, e->pm_id) != NULL;
		if (!keep) {
			free(e->name);
			continue;
		}
		v->e[w++] = *e;
	}
	v->n = w;
	for (size_t i = 0; i < n; i++) {
		const struct pm2_proc *p = &procs[i];
		if (p->pm_id < 0 || p->name == NULL || p->name[0] == '\0')
			continue;
		struct view_entry *e = find_id(v, p->pm_id);
		if (e != NULL && e->seq > since)
			continue; /* learnt while the listing was on its way */
		e = entry_of(v, p->pm_id, p->name);
		set_state(e, p->state);
		e->pid = p->pid;
		e->restart_time = p->restart_time;
		e->gone = false;
		e->uncertain = p->state == PM2_ST_UNKNOWN;
		e->seq = since;
	}
}

size_t pm2_view_find(const struct pm2_view *v, const char *name, struct pm2_proc *out, size_t max,
                     bool *uncertain)
{
	size_t k = 0;
	*uncertain = false;
	for (size_t i = 0; i < v->n; i++) {
		struct view_entry *e = &v->e[i];
		if (e->gone || strcmp(e->name, name) != 0)
			continue;
		if (e->uncertain)
			*uncertain = true;
		if (k < max)
			out[k] = (struct pm2_proc){
			    .pm_id = e->pm_id,
			    .name = e->name,
			    .namespace = e->status + strlen(e->status), /* "" */
			    .status = e->status,
			    .state = e->st,
			    .pid = e->pid,
			    .restart_time = e->restart_time,
			};
		k++;
	}
	return k;
}

size_t pm2_view_count(const struct pm2_view *v)
{
	size_t k = 0;
	for (size_t i = 0; i < v->n; i++)
		k += !v->e[i].gone;
	return k;
}
