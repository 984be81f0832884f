/*
 * exec_fleet_view: the fleet as a dispatcher sees it (docs/fleet.md): the
 * live nodes of this command channel (their presence keys) and every
 * node's task table, gathered every VIEW_EVERY_MS with SCAN and GET and
 * installed only when every step of a round answered.
 *
 * Must not: install a view with a failed step, or block the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "exec_fleet_int.h"
#include "executor_int.h"
#include "fleet_route.h"
#include "fleet_tasks.h"
#include "log.h"
#include "loop.h"
#include "util.h"

void fleet_strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* FNV-1a over a table's bytes: a table read again unchanged (most are,
 * most seconds) is not parsed again. */
static uint64_t table_hash(const char *s, size_t len)
{
	uint64_t h = 1469598103934665603ULL ^ len;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static void view_install(struct fleet *f)
{
	bool first = !f->view_ready;
	f->view_ready = true;
	size_t before = f->nnodes;
	fleet_strings_free(f->nodes, f->nnodes);
	cJSON **old = f->tables;
	uint64_t *old_hash = f->table_hash;
	size_t nold = f->ntables;
	free(f->tasks);
	f->nodes = f->v_nodes;
	f->nnodes = f->v_nnodes;
	f->v_nodes = NULL;
	f->v_nnodes = 0;
	/* This node is live, whether or not its presence is written yet. */
	bool self = false;
	for (size_t i = 0; i < f->nnodes; i++)
		self = self || strcmp(f->nodes[i], f->ex->cfg->node) == 0;
	if (!self) {
		f->nodes = xrealloc(f->nodes, (f->nnodes + 1) * sizeof(char *));
		f->nodes[f->nnodes++] = xstrdup(f->ex->cfg->node);
	}
	if (!first && f->nnodes != before)
		log_debug("fleet: %zu live node(s) now", f->nnodes);
	f->tables = xcalloc(f->v_ntables + 1, sizeof(*f->tables));
	f->table_hash = xcalloc(f->v_ntables + 1, sizeof(*f->table_hash));
	f->ntables = 0;
	f->tasks = NULL;
	f->ntasks = 0;
	for (size_t i = 0; i < f->v_ntables; i++) {
		cJSON *root = NULL;
		size_t len = strlen(f->v_tables[i]);
		uint64_t h = table_hash(f->v_tables[i], len);
		const cJSON *tasks = NULL;
		for (size_t k = 0; k < nold && root == NULL; k++) {
			if (old[k] != NULL && old_hash[k] == h) {
				root = old[k]; /* the same bytes: the same table */
				old[k] = NULL;
				tasks = cJSON_GetObjectItemCaseSensitive(root, "tasks");
			}
		}
		if (root == NULL)
			tasks = fleet_tasks_decode(f->v_tables[i], len, &root);
		if (tasks == NULL) {
			cJSON_Delete(root);
			continue;
		}
		/* Only the tables of live nodes on our channel count. */
		const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
		bool ours = false;
		for (size_t k = 0; cJSON_IsString(node) && k < f->nnodes; k++)
			ours = ours || strcmp(f->nodes[k], node->valuestring) == 0;
		if (!ours) {
			cJSON_Delete(root);
			continue;
		}
		f->table_hash[f->ntables] = h;
		f->tables[f->ntables++] = root;
		const cJSON *t;
		cJSON_ArrayForEach(t, tasks)
		{
			const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
			const cJSON *status = cJSON_GetObjectItemCaseSensitive(t, "status");
			if (!cJSON_IsString(name) || !cJSON_IsString(status))
				continue;
			enum pm2_status st = pm2_status_parse(status->valuestring);
			f->tasks = xrealloc(f->tasks, (f->ntasks + 1) * sizeof(*f->tasks));
			f->tasks[f->ntasks++] = (struct fleet_task_ref){
				.node = node->valuestring,
				.name = name->valuestring,
				.active = st == PM2_ST_ONLINE || st == PM2_ST_LAUNCHING ||
					  st == PM2_ST_STOPPING || st == PM2_ST_WAITING_RESTART,
			};
		}
	}
	fleet_strings_free(f->v_tables, f->v_ntables);
	f->v_tables = NULL;
	f->v_ntables = 0;
	for (size_t k = 0; k < nold; k++)
		cJSON_Delete(old[k]);
	free(old);
	free(old_hash);
	if (first)
		log_debug("fleet: first view: %zu live node(s) on %s, %zu task(s)", f->nnodes,
			  f->ex->cfg->channel, f->ntasks);
	f->view_from = f->gather_from;
	if (first)
		fleet_read_next(f);
	else
		fleet_dispatch_deferred(f);
	fleet_failover_tick(f); /* lost nodes, stale copies (exec_failover.c) */
}

static void view_step_done(struct fleet *f)
{
	if (--f->view_pending > 0)
		return;
	if (f->view_failed) {
		/* A view with holes would send a fleet's work to one node: keep
		 * the one we have. */
		f->view_failed = false;
		fleet_strings_free(f->v_nodes, f->v_nnodes);
		fleet_strings_free(f->v_tables, f->v_ntables);
		f->v_nodes = f->v_tables = NULL;
		f->v_nnodes = f->v_ntables = 0;
		return;
	}
	view_install(f);
}

static void on_presence_value(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fleet *f = arg;
	/* An error reply to the GET (a key of another type under the pattern:
	 * WRONGTYPE) is no value; only a lost reply leaves a hole. */
	if (r == NULL)
		f->view_failed = true;
	if (r != NULL && r->type == REDIS_REPLY_STRING) {
		cJSON *root = cJSON_ParseWithLength(r->str, r->len);
		const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
		const cJSON *channel = cJSON_GetObjectItemCaseSensitive(root, "channel");
		/* An executor that fell back to direct handling reads no stream:
		 * nothing is placed or forwarded there. */
		bool streams = !cJSON_IsFalse(cJSON_GetObjectItemCaseSensitive(root, "fleet"));
		if (streams && cJSON_IsString(node) && cJSON_IsString(channel) &&
		    strcmp(channel->valuestring, f->ex->cfg->channel) == 0 &&
		    check_task_name(node->valuestring) == NULL) {
			f->v_nodes = xrealloc(f->v_nodes, (f->v_nnodes + 1) * sizeof(char *));
			f->v_nodes[f->v_nnodes++] = xstrdup(node->valuestring);
		}
		cJSON_Delete(root);
	}
	view_step_done(f);
}

static void on_table_value(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fleet *f = arg;
	if (r == NULL)
		f->view_failed = true; /* an error reply (WRONGTYPE) is no table */
	if (r != NULL && r->type == REDIS_REPLY_STRING) {
		f->v_tables = xrealloc(f->v_tables, (f->v_ntables + 1) * sizeof(char *));
		f->v_tables[f->v_ntables++] = xstrndup(r->str, r->len);
	}
	view_step_done(f);
}

struct scan_ctx {
	struct fleet *f;
	bool tables;
};

static void scan_from(struct fleet *f, bool tables, const char *cursor);

static void on_scan(struct bus *bus, redisReply *r, void *arg)
{
	struct scan_ctx *ctx = arg;
	struct fleet *f = ctx->f;
	bool tables = ctx->tables;
	free(ctx);
	if (r == NULL || r->type != REDIS_REPLY_ARRAY)
		f->view_failed = true;
	if (r != NULL && r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[0]->type == REDIS_REPLY_STRING &&
	    r->element[1]->type == REDIS_REPLY_ARRAY) {
		const redisReply *keys = r->element[1];
		for (size_t i = 0; i < keys->elements; i++) {
			if (keys->element[i]->type != REDIS_REPLY_STRING)
				continue;
			const char *argv[2] = {"GET", keys->element[i]->str};
			size_t lens[2] = {3, keys->element[i]->len};
			if (bus_command(bus, 2, argv, lens, tables ? on_table_value : on_presence_value,
					f) == 0)
				f->view_pending++;
			else
				f->view_failed = true;
		}
		if (strcmp(r->element[0]->str, "0") != 0)
			scan_from(f, tables, r->element[0]->str);
	}
	view_step_done(f);
}

static void scan_from(struct fleet *f, bool tables, const char *cursor)
{
	struct scan_ctx *ctx = xmalloc(sizeof(*ctx));
	*ctx = (struct scan_ctx){f, tables};
	const char *match = tables ? FLEET_TASKS_MATCH : PRESENCE_MATCH;
	const char *argv[6] = {"SCAN", cursor, "MATCH", match, "COUNT", "1000"};
	size_t lens[6] = {4, strlen(cursor), 5, strlen(match), 5, 4};
	if (bus_command(f->ex->bus, 6, argv, lens, on_scan, ctx) == 0) {
		f->view_pending++;
	} else {
		free(ctx);
		f->view_failed = true;
	}
}

void fleet_view_tick(struct loop *loop, void *arg)
{
	struct fleet *f = arg;
	f->view_timer = loop_timer_add(loop, VIEW_EVERY_MS, fleet_view_tick, f);
	fleet_flush_admissions(f);
	fleet_reader_kick(f);
	fleet_view_refresh(f);
}

void fleet_view_refresh(struct fleet *f)
{
	if (f->view_pending > 0 || !bus_can_command(f->ex->bus))
		return;
	/* One count for the start, dropped at the end: the view is installed
	 * once every reply it waits for has come. */
	f->view_pending = 1;
	f->gather_from = loop_now(f->ex->loop);
	scan_from(f, false, "0");
	scan_from(f, true, "0");
	view_step_done(f);
}
