/*
 * fleet: the console's view of the whole fleet. Every second it reads the
 * task tables and presence keys every executor keeps in Redis (SCAN, then
 * MGET, on the bus's command connection: never blocking the loop), decodes
 * the tables with core/fleet_read.c (the same decoder as `tasker ls
 * --fleet`), and merges them with the local PM2's listing into the task
 * table, one row per process with its node.
 *
 * The local node's rows come from the local PM2 while it answers (its
 * listing is fresher than the table its executor writes); the table of the
 * node this console names (--node, TASKER_NODE, the host name) is then
 * left out, so that no task shows twice. Without a local PM2 they come
 * from that table like any other node's.
 *
 * A node is lost when its presence key expired, or when its table vanished
 * while it had tasks: its last rows stay, marked lost, until it comes back
 * (or for FORGET_MS). A scan that fails half-way (Redis went away) changes
 * nothing: an outage of Redis is not the loss of every node.
 *
 * Must not: trust what it reads (fleet_read.c checks every field), or draw.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "app.h"
#include "bulk.h"
#include "fleet_read.h"
#include "util.h"

#define SCAN_EVERY_MS 1000
#define MAX_KEYS 4096	    /* tables or presence keys read per scan */
#define FORGET_MS (10 * 60 * 1000) /* a lost node's rows go after this long */

struct fleet_scan {
	struct app *app;
	int phase; /* 0: SCAN tables, 1: SCAN presence, 2: MGET tables */
	char cursor[32];
	char **tables; /* table keys */
	size_t ntables;
	char **present; /* node names with a presence key */
	size_t npresent;
};

static void scan_free(struct fleet_scan *s)
{
	for (size_t i = 0; i < s->ntables; i++)
		free(s->tables[i]);
	free(s->tables);
	for (size_t i = 0; i < s->npresent; i++)
		free(s->present[i]);
	free(s->present);
	free(s);
}

static char *dup_or_empty(const char *s)
{
	return xstrdup(s ? s : "");
}

static char **strings_dup(char *const *v, size_t n)
{
	if (n == 0)
		return NULL;
	char **out = xcalloc(n, sizeof(char *));
	for (size_t i = 0; i < n; i++)
		out[i] = dup_or_empty(v[i]);
	return out;
}

/* A deep copy: the model owns its rows, the sources keep theirs. */
static void proc_copy(struct pm2_proc *dst, const struct pm2_proc *src)
{
	*dst = *src;
	dst->name = dup_or_empty(src->name);
	dst->namespace = dup_or_empty(src->namespace);
	dst->status = dup_or_empty(src->status);
	dst->exec_mode = dup_or_empty(src->exec_mode);
	dst->pm_cwd = dup_or_empty(src->pm_cwd);
	dst->pm_exec_path = dup_or_empty(src->pm_exec_path);
	dst->exec_interpreter = dup_or_empty(src->exec_interpreter);
	dst->out_log_path = dup_or_empty(src->out_log_path);
	dst->err_log_path = dup_or_empty(src->err_log_path);
	dst->args = strings_dup(src->args, src->nargs);
	dst->env_names = strings_dup(src->env_names, src->nenv);
	dst->owner = src->owner ? xstrdup(src->owner) : NULL;
	dst->owner_key = src->owner_key ? xstrdup(src->owner_key) : NULL;
	dst->cron = src->cron ? xstrdup(src->cron) : NULL;
	dst->depends_on = src->depends_on ? xstrdup(src->depends_on) : NULL;
}

static struct fleet_node *find_node(const struct app *app, const char *name)
{
	for (size_t i = 0; i < app->nnodes; i++)
		if (strcmp(app->nodes[i].name, name) == 0)
			return &app->nodes[i];
	return NULL;
}

bool fleet_node_known(const struct app *app, const char *name)
{
	return find_node(app, name) != NULL ||
	       (app->pm2_ok && strcmp(name, app->cfg->node) == 0);
}

/* The local PM2 shows the local node's rows (see the top of the file). */
static bool local_shown(const struct app *app)
{
	return app->pm2_ok || find_node(app, app->cfg->node) == NULL;
}

void fleet_merge(struct app *app)
{
	bool local = local_shown(app);
	size_t total = local ? app->nlocal : 0;
	for (size_t i = 0; i < app->nnodes; i++)
		if (!(local && strcmp(app->nodes[i].name, app->cfg->node) == 0))
			total += app->nodes[i].nprocs;
	struct pm2_proc *procs = xcalloc(total + 1, sizeof(*procs));
	char **nodes = xcalloc(total + 1, sizeof(char *));
	bool *lost = xcalloc(total + 1, sizeof(bool));
	size_t k = 0;
	for (size_t i = 0; local && i < app->nlocal; i++) {
		proc_copy(&procs[k], &app->local_procs[i]);
		nodes[k++] = xstrdup(app->cfg->node);
	}
	for (size_t i = 0; i < app->nnodes; i++) {
		const struct fleet_node *n = &app->nodes[i];
		if (local && strcmp(n->name, app->cfg->node) == 0)
			continue;
		for (size_t j = 0; j < n->nprocs; j++) {
			proc_copy(&procs[k], &n->procs[j]);
			lost[k] = n->lost;
			nodes[k++] = xstrdup(n->name);
		}
	}
	tasks_replace_nodes(&app->tasks, procs, nodes, lost, k);
	bulk_prune(app); /* a marked row that is gone loses its mark */
	app->dirty = true;
}

void fleet_set_local(struct app *app, struct pm2_proc *procs, size_t n)
{
	pm2_procs_free(app->local_procs, app->nlocal);
	app->local_procs = procs;
	app->nlocal = n;
	fleet_merge(app);
}

bool fleet_row_remote(const struct app *app, const struct pm2_proc *p)
{
	const char *node = tasks_node_of(&app->tasks, p);
	return node[0] != '\0' && !(local_shown(app) && strcmp(node, app->cfg->node) == 0);
}

/* --- the scan ------------------------------------------------------------- */

static int cmp_nodes(const void *a, const void *b)
{
	return strcmp(((const struct fleet_node *)a)->name, ((const struct fleet_node *)b)->name);
}

static struct fleet_node *add_node(struct app *app, const char *name)
{
	struct fleet_node *n = find_node(app, name);
	if (n != NULL)
		return n;
	app->nodes = xrealloc(app->nodes, (app->nnodes + 1) * sizeof(*app->nodes));
	n = &app->nodes[app->nnodes++];
	memset(n, 0, sizeof(*n));
	snprintf(n->name, sizeof(n->name), "%s", name);
	return n;
}

static bool in_list(char *const *v, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(v[i], s) == 0)
			return true;
	return false;
}

/* The scan is complete: decide every node's state from it. */
static void scan_done(struct fleet_scan *s, const redisReply *values)
{
	struct app *app = s->app;
	int64_t now = loop_now(app->loop), wall = util_wall_ms();
	for (size_t i = 0; i < app->nnodes; i++)
		app->nodes[i].table = false;
	for (size_t i = 0; values != NULL && i < values->elements && i < s->ntables; i++) {
		const redisReply *v = values->element[i];
		const char *name = fleet_read_key_node(s->tables[i], strlen(s->tables[i]),
						       FLEET_TASKS_PREFIX);
		if (name == NULL || v->type != REDIS_REPLY_STRING)
			continue; /* expired between SCAN and MGET: as if not there */
		if (app->pm2_ok && strcmp(name, app->cfg->node) == 0) {
			/* Left out while the local PM2 answers (see the top): not
			 * decoded every second either (500 tasks: most of a scan). */
			add_node(app, name)->table = true;
			continue;
		}
		struct pm2_proc *procs;
		size_t n;
		if (fleet_read_table(v->str, v->len, wall, &procs, &n, NULL, 0, NULL) < 0)
			continue;
		struct fleet_node *node = add_node(app, name);
		pm2_procs_free(node->procs, node->nprocs);
		node->procs = procs;
		node->nprocs = n;
		node->table = true;
	}
	for (size_t i = 0; i < s->npresent; i++)
		add_node(app, s->present[i]);
	for (size_t i = 0; i < app->nnodes;) {
		struct fleet_node *n = &app->nodes[i];
		n->present = in_list(s->present, s->npresent, n->name);
		bool lost = !n->present || (!n->table && n->nprocs > 0);
		/* A node that went with nothing to show, or lost long ago, goes. */
		if ((lost && n->nprocs == 0) ||
		    (lost && n->lost_since != 0 && now - n->lost_since > FORGET_MS)) {
			pm2_procs_free(n->procs, n->nprocs);
			app->nodes[i] = app->nodes[--app->nnodes];
			continue;
		}
		if (lost && !n->lost) {
			char line[300];
			snprintf(line, sizeof(line),
				 "node %s is lost: its executor stopped writing its presence and task "
				 "table; its last %zu task(s) show as lost",
				 n->name, n->nprocs);
			app_feed(app, FEED_ERROR, line);
			n->lost_since = now;
		} else if (!lost && n->lost) {
			char line[300];
			snprintf(line, sizeof(line), "node %s is back", n->name);
			app_feed(app, FEED_INFO, line);
			n->lost_since = 0;
		}
		n->lost = lost;
		i++;
	}
	if (app->nnodes > 1)
		qsort(app->nodes, app->nnodes, sizeof(*app->nodes), cmp_nodes);
	app->fleet_seen = true;
	fleet_merge(app);
}

static void scan_step(struct fleet_scan *s);

static void on_scan_reply(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct fleet_scan *s = arg;
	struct app *app = s->app;
	if (app->scan != s) { /* the console is going */
		scan_free(s);
		return;
	}
	bool ok = reply != NULL && reply->type == REDIS_REPLY_ARRAY;
	if (ok && s->phase < 2) {
		ok = reply->elements == 2 && reply->element[0]->type == REDIS_REPLY_STRING &&
		     reply->element[1]->type == REDIS_REPLY_ARRAY;
	}
	if (!ok) {
		/* Redis went away or refused SCAN: try again next time, change nothing. */
		app->scan = NULL;
		scan_free(s);
		return;
	}
	if (s->phase == 2) {
		scan_done(s, reply);
		app->scan = NULL;
		scan_free(s);
		return;
	}
	const char *prefix = s->phase == 0 ? FLEET_TASKS_PREFIX : FLEET_PRESENCE_PREFIX;
	const redisReply *keys = reply->element[1];
	for (size_t i = 0; i < keys->elements; i++) {
		const redisReply *k = keys->element[i];
		if (k->type != REDIS_REPLY_STRING || !fleet_read_key_node(k->str, k->len, prefix))
			continue;
		if (s->phase == 0 && s->ntables < MAX_KEYS) {
			s->tables = xrealloc(s->tables, (s->ntables + 1) * sizeof(char *));
			s->tables[s->ntables++] = xstrndup(k->str, k->len);
		} else if (s->phase == 1 && s->npresent < MAX_KEYS) {
			s->present = xrealloc(s->present, (s->npresent + 1) * sizeof(char *));
			s->present[s->npresent++] = xstrdup(fleet_read_key_node(k->str, k->len, prefix));
		}
	}
	snprintf(s->cursor, sizeof(s->cursor), "%s", reply->element[0]->str);
	if (strcmp(s->cursor, "0") == 0) {
		s->phase++;
		if (s->phase == 2 && s->ntables == 0) {
			scan_done(s, NULL);
			app->scan = NULL;
			scan_free(s);
			return;
		}
	}
	scan_step(s);
}

static void scan_step(struct fleet_scan *s)
{
	struct app *app = s->app;
	int rc;
	if (s->phase < 2) {
		const char *match = s->phase == 0 ? FLEET_TASKS_MATCH : FLEET_PRESENCE_MATCH;
		const char *argv[6] = {"SCAN", s->cursor, "MATCH", match, "COUNT", "500"};
		size_t lens[6];
		for (int i = 0; i < 6; i++)
			lens[i] = strlen(argv[i]);
		rc = bus_command(app->bus, 6, argv, lens, on_scan_reply, s);
	} else {
		size_t argc = s->ntables + 1;
		const char **argv = xcalloc(argc, sizeof(char *));
		size_t *lens = xcalloc(argc, sizeof(size_t));
		argv[0] = "MGET";
		lens[0] = 4;
		for (size_t i = 0; i < s->ntables; i++) {
			argv[i + 1] = s->tables[i];
			lens[i + 1] = strlen(s->tables[i]);
		}
		rc = bus_command(app->bus, (int)argc, argv, lens, on_scan_reply, s);
		free(argv);
		free(lens);
	}
	if (rc < 0) {
		app->scan = NULL;
		scan_free(s);
	}
}

static void on_fleet_timer(struct loop *loop, void *arg)
{
	struct app *app = arg;
	loop_timer_add(loop, SCAN_EVERY_MS, on_fleet_timer, app);
	if (app->scan != NULL || !bus_can_command(app->bus))
		return;
	struct fleet_scan *s = xcalloc(1, sizeof(*s));
	s->app = app;
	snprintf(s->cursor, sizeof(s->cursor), "0");
	app->scan = s;
	scan_step(s);
}

void fleet_start(struct app *app)
{
	loop_timer_add(app->loop, 0, on_fleet_timer, app);
}

void fleet_free(struct app *app)
{
	/* Called after bus_free: hiredis has run the callback of a scan in
	 * flight with a NULL reply, which freed it. */
	app->scan = NULL;
	for (size_t i = 0; i < app->nnodes; i++)
		pm2_procs_free(app->nodes[i].procs, app->nodes[i].nprocs);
	free(app->nodes);
	app->nodes = NULL;
	app->nnodes = 0;
	pm2_procs_free(app->local_procs, app->nlocal);
	app->local_procs = NULL;
	app->nlocal = 0;
}

/* --- what the header and keys ask ------------------------------------------- */

const char *fleet_next_node(const struct app *app, const char *current)
{
	/* The nodes in order: the local one (when its PM2 answers and it has
	 * no table) first, then the table's. */
	const char *names[1 + 512];
	size_t n = 0;
	if (app->pm2_ok && find_node(app, app->cfg->node) == NULL)
		names[n++] = app->cfg->node;
	for (size_t i = 0; i < app->nnodes && n < sizeof(names) / sizeof(names[0]); i++)
		names[n++] = app->nodes[i].name;
	if (n == 0)
		return "";
	if (current == NULL || current[0] == '\0')
		return names[0];
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], current) == 0)
			return i + 1 < n ? names[i + 1] : "";
	return "";
}

void fleet_summary(const struct app *app, char *buf, size_t size)
{
	buf[0] = '\0';
	if (app->nnodes == 0 || size == 0)
		return;
	size_t o = 0;
	bool local_extra = app->pm2_ok && find_node(app, app->cfg->node) == NULL;
	if (local_extra)
		o += (size_t)snprintf(buf + o, size - o, "%s %zu", app->cfg->node, app->nlocal);
	for (size_t i = 0; i < app->nnodes && o < size; i++) {
		const struct fleet_node *n = &app->nodes[i];
		size_t count = n->nprocs;
		if (app->pm2_ok && strcmp(n->name, app->cfg->node) == 0)
			count = app->nlocal;
		o += (size_t)snprintf(buf + o, size - o, "%s%s %zu%s", o ? ", " : "", n->name, count,
				      n->lost ? " lost" : "");
	}
}
