/*
 * exec_deps: a start that waits for its dependencies, and a stop that
 * stops a group (docs/protocol.md, "Dependencies").
 *
 * A start with params.depends_on is held here, before it becomes a
 * command: every DEPS_POLL_MS it is checked against a PM2 listing (one
 * listing in flight at a time, shared by every waiting start) and, once
 * each named task has a process online,
 * probes each NAME:PORT with a non-blocking TCP connect to 127.0.0.1 and
 * ::1. When all are ready the start is handed to exec_command_take() as
 * if it had just arrived; past its deadline (depends_timeout_ms, or the
 * command's expiry if sooner) it is answered with an error naming what was
 * not ready, and nothing is started; a stop or delete of its name gives
 * it up (exec_deps_cancel). Waiting never blocks the loop, and a
 * waiting start holds no command slot (its name is not busy meanwhile).
 *
 * A stop with params.with_deps lists PM2, plans the group from the
 * TASKER_DEPENDS_ON each task was started with (deps_stop_plan), and runs
 * one ordinary stop command per task, one after another: each is judged by
 * the policy against that task's owner and answers for itself (one reply
 * per task, carrying group, group_step and group_size).
 *
 * Must not: start or stop anything itself (commands do), or act on a
 * start whose dependencies were not all seen ready.
 */
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "codec.h"
#include "deps.h"
#include "exec_command_int.h"
#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define DEPS_POLL_MS 250
#define DEPS_MAX_WAITERS 256

struct waiter;

/* One TCP connect in flight. */
struct probe {
	struct waiter *w;
	int fd;
	struct loop_watch *watch;
	size_t dep; /* index in w->deps */
};

struct waiter {
	struct executor *ex;
	struct waiter *next;
	/* The start, as exec_command_take would take it (owned). */
	char *verb_word, *name, *request_id, *agent_id;
	struct start_spec *spec;
	cJSON *conf;
	int64_t expires;
	bool has_entry;
	struct exec_entry entry;
	struct exec_auth_req *auth;
	/* Waiting */
	struct deps deps;
	const char **state; /* per dep: what was last seen ("not in PM2", ...) */
	bool *port_ok;      /* per dep: its port accepted a connection this round */
	struct loop_timer *poll, *deadline;
	bool wants_list; /* waits for the shared listing (exec_deps.list_call) */
	struct probe *probes;
	size_t nprobes, probes_left;
	int64_t began; /* monotonic ms */
	exec_done_fn done; /* told how the start ended (a job's step) */
	void *done_arg;
};

struct group {
	struct executor *ex;
	struct group *next;
	char *verb_word, *root, *request_id, *agent_id;
	int64_t expires;
	bool has_entry;
	struct exec_entry entry;
	struct exec_auth_req *auth; /* a template: each stop gets a copy for its task */
	uint64_t list_call;
	struct deps_step *steps;
	size_t nsteps, at;
	bool failed;
	char failed_why[200];
	struct loop_timer *timer;
};

struct exec_deps {
	struct waiter *waiters;
	size_t nwaiters;
	/* One listing at a time for every waiter (not one each: the daemon's
	 * cost must not grow with the starts that wait). */
	uint64_t list_call;
	struct group *groups;
	/* The command exec_command_take makes next belongs to this group step. */
	struct group *attach;
};

static struct exec_deps *deps_of(struct executor *ex)
{
	if (ex->deps == NULL)
		ex->deps = xcalloc(1, sizeof(*ex->deps));
	return ex->deps;
}

static char *dup_or_null(const char *s)
{
	return s != NULL ? xstrdup(s) : NULL;
}

/* --- replies outside a command ---------------------------------------------- */

static cJSON *reply_json(struct executor *ex, const char *verb, const char *task,
                         const char *status, const char *request_id, const char *agent_id,
                         const char *error)
{
	struct status_msg st = {
	    .task_name = task,
	    .status = status,
	    .pm_id = -1,
	    .request_id = request_id,
	    .verb = verb,
	    .node = ex->cfg->node,
	    .agent_id = agent_id,
	    .error = error,
	};
	return codec_status_json(&st, util_wall_ms());
}

/* A reply for a start that was not carried out: the same request_id may
 * come again and be carried out then. */
static void reply_not_done(struct executor *ex, bool has_entry, const struct exec_entry *entry,
                           const char *name, const char *request_id, cJSON *obj)
{
	if (has_entry) {
		exec_fleet_reply(ex, entry, obj, name, "del", request_id);
		return;
	}
	if (request_id != NULL)
		exec_forget(ex, request_id);
	exec_publish(ex, obj);
}

/* --- waiting for dependencies --------------------------------------------- */

static void probes_close(struct waiter *w)
{
	for (size_t i = 0; i < w->nprobes; i++) {
		if (w->probes[i].watch != NULL)
			loop_watch_remove(w->probes[i].watch);
		if (w->probes[i].fd >= 0)
			close(w->probes[i].fd);
	}
	free(w->probes);
	w->probes = NULL;
	w->nprobes = w->probes_left = 0;
}

/* Unlinks and frees w; what it holds for the start is freed unless it was
 * handed on (set to NULL). */
static void waiter_free(struct waiter *w)
{
	struct exec_deps *d = w->ex->deps;
	for (struct waiter **pp = &d->waiters; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == w) {
			*pp = w->next;
			d->nwaiters--;
			break;
		}
	}
	loop_timer_cancel(w->poll);
	loop_timer_cancel(w->deadline);
	probes_close(w);
	free(w->verb_word);
	free(w->name);
	free(w->request_id);
	free(w->agent_id);
	start_spec_free(w->spec);
	cJSON_Delete(w->conf);
	exec_auth_req_free(w->auth);
	deps_free(&w->deps);
	free(w->state);
	free(w->port_ok);
	free(w);
}

/* What was not ready, as a sentence and as a list for the reply. */
static void waiter_fail(struct waiter *w, const char *why)
{
	struct executor *ex = w->ex;
	char list[1200];
	size_t off = 0;
	list[0] = '\0';
	cJSON *arr = cJSON_CreateArray();
	for (size_t i = 0; i < w->deps.n; i++) {
		const struct dep *dp = &w->deps.v[i];
		bool online = w->state[i] != NULL && strcmp(w->state[i], "online") == 0;
		if (online && (dp->port == 0 || w->port_ok[i]))
			continue;
		char what[160];
		if (online)
			snprintf(what, sizeof(what), "online, but port %d accepts no connection",
			         dp->port);
		else
			snprintf(what, sizeof(what), "%s",
			         w->state[i] ? w->state[i] : "not seen yet");
		int n = snprintf(list + off, sizeof(list) - off, "%s%s (%s)", off ? ", " : "",
		                 dp->name, what);
		if (n > 0 && (size_t)n < sizeof(list) - off)
			off += (size_t)n;
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "task", dp->name);
		cJSON_AddStringToObject(o, "state",
		                        online        ? "online"
		                        : w->state[i] ? w->state[i]
		                                      : "unknown");
		if (dp->port > 0)
			cJSON_AddNumberToObject(o, "port", dp->port);
		cJSON_AddItemToArray(arr, o);
	}
	char msg[1500];
	snprintf(msg, sizeof(msg), "%s: not ready: %s; nothing was started", why, list);
	log_warn("start %s: %s", w->name, msg);
	cJSON *obj =
	    reply_json(ex, w->verb_word, w->name, "error", w->request_id, w->agent_id, msg);
	cJSON_AddItemToObject(obj, "not_ready", arr);
	reply_not_done(ex, w->has_entry, &w->entry, w->name, w->request_id, obj);
	if (w->done != NULL)
		w->done(w->done_arg, "error", msg);
	waiter_free(w);
}

static void on_deadline(struct loop *loop, void *arg)
{
	(void)loop;
	struct waiter *w = arg;
	w->deadline = NULL;
	char why[160];
	snprintf(why, sizeof(why), "its dependencies were not ready within %.1f s",
	         (double)(loop_now(w->ex->loop) - w->began) / 1000.0);
	waiter_fail(w, why);
}

static void poll_now(struct loop *loop, void *arg);

static void poll_later(struct waiter *w)
{
	if (w->poll == NULL)
		w->poll = loop_timer_add(w->ex->loop, DEPS_POLL_MS, poll_now, w);
}

/* Every dependency online and every port open: the start goes on. */
static void waiter_ready(struct waiter *w)
{
	struct executor *ex = w->ex;
	log_info("start %s: dependencies ready after %lld ms (%zu)", w->name,
	         (long long)(loop_now(ex->loop) - w->began), w->deps.n);
	w->spec->depends_waited = true;
	struct start_spec *spec = w->spec;
	cJSON *conf = w->conf;
	struct exec_auth_req *auth = w->auth;
	w->spec = NULL;
	w->conf = NULL;
	w->auth = NULL;
	char *verb_word = w->verb_word, *name = w->name, *rid = w->request_id, *aid = w->agent_id;
	w->verb_word = w->name = w->request_id = w->agent_id = NULL;
	bool has_entry = w->has_entry;
	struct exec_entry entry = w->entry;
	int64_t expires = w->expires;
	exec_done_fn done = w->done;
	void *done_arg = w->done_arg;
	waiter_free(w);
	exec_command_take_then(ex, V_START, verb_word, name, rid, aid, spec, conf, expires,
	                       has_entry ? &entry : NULL, auth, done, done_arg);
	free(verb_word);
	free(name);
	free(rid);
	free(aid);
}

static void probe_round_done(struct waiter *w)
{
	probes_close(w);
	for (size_t i = 0; i < w->deps.n; i++) {
		if (w->deps.v[i].port > 0 && !w->port_ok[i]) {
			poll_later(w);
			return;
		}
	}
	waiter_ready(w);
}

static void probe_end(struct probe *p, bool ok)
{
	struct waiter *w = p->w;
	if (ok)
		w->port_ok[p->dep] = true;
	if (p->watch != NULL)
		loop_watch_remove(p->watch);
	p->watch = NULL;
	if (p->fd >= 0)
		close(p->fd);
	p->fd = -1;
	if (--w->probes_left == 0)
		probe_round_done(w);
}

static void on_probe(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)revents;
	int soerr = 0;
	socklen_t len = sizeof(soerr);
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &len) < 0)
		soerr = errno;
	probe_end(arg, soerr == 0);
}

/* A non-blocking connect to the port on one loopback address; false when
 * it failed at once (nothing left in flight). */
static bool probe_start(struct waiter *w, struct probe *p, int port, bool v6)
{
	p->w = w;
	p->watch = NULL;
	p->fd = socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (p->fd < 0)
		return false;
	int rc;
	if (v6) {
		struct sockaddr_in6 a = {.sin6_family = AF_INET6,
		                         .sin6_port = htons((uint16_t)port)};
		a.sin6_addr = in6addr_loopback;
		rc = connect(p->fd, (struct sockaddr *)&a, sizeof(a));
	} else {
		struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
		a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		rc = connect(p->fd, (struct sockaddr *)&a, sizeof(a));
	}
	if (rc == 0) {
		w->port_ok[p->dep] = true;
		close(p->fd);
		p->fd = -1;
		return false;
	}
	if (errno != EINPROGRESS) {
		close(p->fd);
		p->fd = -1;
		return false;
	}
	p->watch = loop_watch_fd(w->ex->loop, p->fd, POLLOUT, on_probe, p);
	if (p->watch == NULL) {
		close(p->fd);
		p->fd = -1;
		return false;
	}
	return true;
}

static void probe_ports(struct waiter *w)
{
	size_t n = 0;
	for (size_t i = 0; i < w->deps.n; i++) {
		w->port_ok[i] = false;
		if (w->deps.v[i].port > 0)
			n += 2;
	}
	if (n == 0) {
		waiter_ready(w);
		return;
	}
	w->probes = xcalloc(n, sizeof(*w->probes));
	w->nprobes = n;
	size_t k = 0;
	for (size_t i = 0; i < w->deps.n; i++) {
		if (w->deps.v[i].port == 0)
			continue;
		for (int v6 = 0; v6 < 2; v6++, k++) {
			w->probes[k].dep = i;
			if (probe_start(w, &w->probes[k], w->deps.v[i].port, v6 != 0))
				w->probes_left++;
		}
	}
	if (w->probes_left == 0)
		probe_round_done(w);
}

/* One waiter's dependencies against a listing (procs not freed here). */
static void waiter_check(struct waiter *w, const struct pm2_proc *procs, size_t n)
{
	bool all = true;
	for (size_t i = 0; i < w->deps.n; i++) {
		const char *st = "not in PM2";
		for (size_t j = 0; j < n; j++) {
			if (strcmp(procs[j].name, w->deps.v[i].name) != 0)
				continue;
			/* Any instance online is online; else the first one's state. */
			if (procs[j].state == PM2_ST_ONLINE) {
				st = "online";
				break;
			}
			if (strcmp(st, "not in PM2") == 0)
				st = pm2_status_name(procs[j].state);
		}
		w->state[i] = st;
		if (strcmp(st, "online") != 0)
			all = false;
	}
	if (all)
		probe_ports(w);
	else
		poll_later(w);
}

/* The shared listing: every waiter that asked for it is checked against
 * it (a waiter may end, and be freed, while the others are checked: the
 * list is walked again from its head after each). */
static void on_listed(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
                      void *arg)
{
	(void)c;
	struct executor *ex = arg;
	struct exec_deps *d = ex->deps;
	d->list_call = 0;
	for (;;) {
		struct waiter *w = d->waiters;
		while (w != NULL && !w->wants_list)
			w = w->next;
		if (w == NULL)
			break;
		w->wants_list = false;
		if (error != NULL) {
			log_debug("start %s: listing for its dependencies failed: %s", w->name,
			          error);
			poll_later(w);
		} else {
			waiter_check(w, procs, n);
		}
	}
	pm2_procs_free(procs, n);
}

static void poll_now(struct loop *loop, void *arg)
{
	(void)loop;
	struct waiter *w = arg;
	struct exec_deps *d = w->ex->deps;
	w->poll = NULL;
	w->wants_list = true;
	if (d->list_call != 0)
		return; /* the listing in flight serves it too */
	d->list_call = pm2_list(w->ex->pm2, on_listed, w->ex);
	if (d->list_call == 0) {
		w->wants_list = false;
		poll_later(w);
	}
}

static void wait_begin(struct executor *ex, const char *verb_word, const char *name,
                       const char *request_id, const char *agent_id, struct start_spec *spec,
                       cJSON *conf, int64_t expires, const struct exec_entry *entry,
                       struct exec_auth_req *auth, exec_done_fn done, void *done_arg)
{
	struct exec_deps *d = deps_of(ex);
	struct waiter *w = xcalloc(1, sizeof(*w));
	w->ex = ex;
	w->done = done;
	w->done_arg = done_arg;
	w->verb_word = xstrdup(verb_word);
	w->name = xstrdup(name);
	w->request_id = dup_or_null(request_id);
	w->agent_id = dup_or_null(agent_id);
	w->spec = spec;
	w->conf = conf;
	w->expires = expires;
	w->auth = auth;
	if (entry != NULL) {
		w->has_entry = true;
		w->entry = *entry;
	}
	w->next = d->waiters;
	d->waiters = w;
	d->nwaiters++;
	char err[300];
	if (deps_parse(spec->depends_on, name, &w->deps, err, sizeof(err)) < 0 || w->deps.n == 0) {
		/* check_start wrote it: cannot happen, but never start blind. */
		cJSON *obj = reply_json(ex, verb_word, name, "error", request_id, agent_id, err);
		reply_not_done(ex, w->has_entry, &w->entry, name, request_id, obj);
		if (done != NULL)
			done(done_arg, "error", err);
		waiter_free(w);
		return;
	}
	if (d->nwaiters > DEPS_MAX_WAITERS) {
		char msg[200];
		snprintf(msg, sizeof(msg),
		         "busy: %d starts are waiting for their dependencies; nothing was started",
		         DEPS_MAX_WAITERS);
		cJSON *obj = reply_json(ex, verb_word, name, "busy", request_id, agent_id, msg);
		reply_not_done(ex, w->has_entry, &w->entry, name, request_id, obj);
		if (done != NULL)
			done(done_arg, "busy", msg);
		waiter_free(w);
		return;
	}
	w->state = xcalloc(w->deps.n, sizeof(*w->state));
	w->port_ok = xcalloc(w->deps.n, sizeof(*w->port_ok));
	w->began = loop_now(ex->loop);
	int64_t left = expires - util_wall_ms();
	int64_t limit = spec->depends_timeout_ms < left ? spec->depends_timeout_ms : left;
	if (limit < 0)
		limit = 0;
	log_info("start %s: waiting up to %lld ms for %s", name, (long long)limit,
	         spec->depends_on);
	w->deadline = loop_timer_add(ex->loop, limit, on_deadline, w);
	w->poll = loop_timer_add(ex->loop, 0, poll_now, w);
}

/* --- group stop ------------------------------------------------------------ */

static char **strs_dup(char *const *v, size_t n)
{
	if (n == 0)
		return NULL;
	char **c = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		c[i] = xstrdup(v[i]);
	return c;
}

/* A copy of a (for another task of the group); NULL stays NULL. */
static struct exec_auth_req *auth_for(const struct exec_auth_req *a, const char *task)
{
	if (a == NULL)
		return NULL;
	struct exec_auth_req *r = xcalloc(1, sizeof(*r));
	*r = *a;
	r->agent = dup_or_null(a->agent);
	r->key = dup_or_null(a->key);
	r->task = xstrdup(task);
	r->request_id = dup_or_null(a->request_id);
	r->agent_id = dup_or_null(a->agent_id);
	r->program = dup_or_null(a->program);
	r->cwd = dup_or_null(a->cwd);
	r->env_names = strs_dup(a->env_names, a->nenv);
	r->failover_by = dup_or_null(a->failover_by);
	return r;
}

static void group_free(struct group *g)
{
	struct exec_deps *d = g->ex->deps;
	for (struct group **pp = &d->groups; *pp != NULL; pp = &(*pp)->next) {
		if (*pp == g) {
			*pp = g->next;
			break;
		}
	}
	if (d->attach == g)
		d->attach = NULL;
	loop_timer_cancel(g->timer);
	if (g->list_call != 0)
		pm2_cancel(g->ex->pm2, g->list_call);
	deps_steps_free(g->steps, g->nsteps);
	free(g->verb_word);
	free(g->root);
	free(g->request_id);
	free(g->agent_id);
	exec_auth_req_free(g->auth);
	free(g);
}

static void group_fields(struct group *g, cJSON *obj)
{
	cJSON_AddStringToObject(obj, "group", g->root);
	cJSON_AddNumberToObject(obj, "group_step", (double)g->at + 1);
	cJSON_AddNumberToObject(obj, "group_size", (double)g->nsteps);
}

static void group_step(struct loop *loop, void *arg);

static void group_next(struct group *g)
{
	g->at++;
	if (g->at >= g->nsteps) {
		group_free(g);
		return;
	}
	if (g->timer == NULL)
		g->timer = loop_timer_add(g->ex->loop, 0, group_step, g);
}

/* A step's reply, about to go out (exec_reply.c): tagged with the group. */
static void on_step_reply(struct command *cmd, cJSON *obj, void *arg)
{
	(void)cmd;
	struct group *g = arg;
	group_fields(g, obj);
	const cJSON *st = cJSON_GetObjectItemCaseSensitive(obj, "status");
	const char *s = cJSON_IsString(st) ? st->valuestring : "?";
	/* A dependency already gone is no reason to keep the rest running. */
	if (strcmp(s, "stopped") != 0 && !(g->at > 0 && strcmp(s, "not_found") == 0)) {
		g->failed = true;
		snprintf(g->failed_why, sizeof(g->failed_why), "the stop of %.64s answered %.40s",
		         g->steps[g->at].name, s);
	}
	group_next(g);
}

static void group_step(struct loop *loop, void *arg)
{
	(void)loop;
	struct group *g = arg;
	struct executor *ex = g->ex;
	g->timer = NULL;
	const struct deps_step *s = &g->steps[g->at];
	if (g->failed || s->kept_by != NULL || ex->draining) {
		char msg[300];
		const char *status = s->kept_by != NULL && !g->failed ? "kept" : "skipped";
		if (g->failed)
			snprintf(msg, sizeof(msg), "not stopped: %s", g->failed_why);
		else if (ex->draining)
			snprintf(msg, sizeof(msg), "not stopped: the executor is shutting down");
		else
			snprintf(msg, sizeof(msg),
			         "not stopped: %.64s (running) still depends on it", s->kept_by);
		cJSON *obj =
		    reply_json(ex, g->verb_word, s->name, status, g->request_id, g->agent_id, msg);
		group_fields(g, obj);
		exec_publish(ex, obj);
		group_next(g);
		return;
	}
	/* The first stop answers the request itself (its stream entry). */
	bool first = g->at == 0;
	deps_of(ex)->attach = g;
	exec_command_take(ex, V_STOP, g->verb_word, s->name, g->request_id, g->agent_id, NULL, NULL,
	                  g->expires, first && g->has_entry ? &g->entry : NULL,
	                  auth_for(g->auth, s->name));
	deps_of(ex)->attach = NULL;
}

static void on_group_listed(struct pm2_client *c, struct pm2_proc *procs, size_t n,
                            const char *error, void *arg)
{
	(void)c;
	struct group *g = arg;
	g->list_call = 0;
	struct deps_node *nodes = xcalloc(n + 1, sizeof(*nodes));
	for (size_t i = 0; error == NULL && i < n; i++)
		nodes[i] = (struct deps_node){procs[i].name, procs[i].depends_on,
		                              cmd_proc_active(&procs[i])};
	g->nsteps = deps_stop_plan(nodes, error == NULL ? n : 0, g->root, &g->steps);
	free(nodes);
	if (error == NULL)
		pm2_procs_free(procs, n);
	char order[600];
	size_t off = 0;
	order[0] = '\0';
	for (size_t i = 0; i < g->nsteps; i++) {
		int w = snprintf(order + off, sizeof(order) - off, "%s%s%s", i ? ", " : "",
		                 g->steps[i].name, g->steps[i].kept_by ? " (kept)" : "");
		if (w > 0 && (size_t)w < sizeof(order) - off)
			off += (size_t)w;
	}
	log_info("stop %s with its dependencies: %s", g->root, order);
	g->at = 0;
	group_step(NULL, g);
}

static void group_begin(struct executor *ex, const char *verb_word, const char *name,
                        const char *request_id, const char *agent_id, int64_t expires,
                        const struct exec_entry *entry, struct exec_auth_req *auth)
{
	struct exec_deps *d = deps_of(ex);
	struct group *g = xcalloc(1, sizeof(*g));
	g->ex = ex;
	g->verb_word = xstrdup(verb_word);
	g->root = xstrdup(name);
	g->request_id = dup_or_null(request_id);
	g->agent_id = dup_or_null(agent_id);
	g->expires = expires;
	g->auth = auth;
	if (entry != NULL) {
		g->has_entry = true;
		g->entry = *entry;
	}
	g->next = d->groups;
	d->groups = g;
	g->list_call = pm2_list(ex->pm2, on_group_listed, g);
	if (g->list_call == 0)
		/* No daemon to list: stop the task alone (its command starts it). */
		on_group_listed(ex->pm2, NULL, 0, "PM2 is not connected", g);
}

/* --- hooks ------------------------------------------------------------------ */

bool exec_deps_take(struct executor *ex, enum verb verb, const char *verb_word, const char *name,
                    const char *request_id, const char *agent_id, struct start_spec **spec,
                    cJSON **conf, int64_t expires, const struct exec_entry *entry,
                    struct exec_auth_req **auth, exec_done_fn done, void *done_arg)
{
	if (name == NULL || (entry != NULL && entry->acted))
		return false;
	if (verb == V_START && *spec != NULL && (*spec)->depends_on != NULL &&
	    !(*spec)->depends_waited) {
		wait_begin(ex, verb_word, name, request_id, agent_id, *spec, *conf, expires, entry,
		           *auth, done, done_arg);
		*spec = NULL;
		*conf = NULL;
		*auth = NULL;
		return true;
	}
	if (verb == V_STOP && *conf != NULL &&
	    cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(*conf, "with_deps"))) {
		cJSON_Delete(*conf);
		*conf = NULL;
		group_begin(ex, verb_word, name, request_id, agent_id, expires, entry, *auth);
		*auth = NULL;
		return true;
	}
	return false;
}

void exec_deps_attach(struct executor *ex, struct command *cmd)
{
	if (ex->deps == NULL || ex->deps->attach == NULL)
		return;
	cmd->on_reply = on_step_reply;
	cmd->on_reply_arg = ex->deps->attach;
	ex->deps->attach = NULL;
}

void exec_deps_cancel(struct executor *ex, const char *name, const char *verb_word)
{
	if (ex->deps == NULL || name == NULL)
		return;
	for (struct waiter *w = ex->deps->waiters; w != NULL;) {
		struct waiter *next = w->next;
		if (strcmp(w->name, name) == 0) {
			char why[120];
			snprintf(why, sizeof(why), "a %s of %s came while it waited",
			         verb_word ? verb_word : "stop", name);
			waiter_fail(w, why);
			next = ex->deps->waiters; /* the list changed: from its head again */
		}
		w = next;
	}
}

size_t exec_deps_waiting(const struct executor *ex)
{
	return ex->deps != NULL ? ex->deps->nwaiters : 0;
}

void exec_deps_drain(struct executor *ex)
{
	if (ex->deps == NULL)
		return;
	while (ex->deps->waiters != NULL)
		waiter_fail(ex->deps->waiters, "the executor is shutting down");
}

void exec_deps_free(struct executor *ex)
{
	if (ex->deps == NULL)
		return;
	while (ex->deps->waiters != NULL)
		waiter_free(ex->deps->waiters);
	if (ex->deps->list_call != 0)
		pm2_cancel(ex->pm2, ex->deps->list_call);
	while (ex->deps->groups != NULL)
		group_free(ex->deps->groups);
	free(ex->deps);
	ex->deps = NULL;
}
