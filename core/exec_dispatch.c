/*
 * exec_dispatch: where each entry of the intake stream goes (docs/fleet.md,
 * "Dispatch"): forwarded to the node streams that must act (XADD and XACK
 * in one script), or answered by the dispatcher itself (fleet status,
 * already_running, not_found). The decision is fleet_route.c's (pure).
 *
 * Must not: forward an entry acknowledged already, or lose one: an entry
 * whose decision did not finish stays pending and comes back.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "exec_fleet_int.h"
#include "executor_int.h"
#include "command_target.h"
#include "fleet_route.h"
#include "fleet_tasks.h"
#include "log.h"
#include "loop.h"
#include "util.h"

/* A dispatcher's own answer in flight: into the history once published. */
struct answer_ctx {
	struct fleet *f;
	char *json;
};

static void on_answered(struct bus *bus, redisReply *r, void *arg)
{
	struct answer_ctx *c = arg;
	fleet_on_acked(bus, r, c->f);
	/* 0: the entry was answered already (dispatched twice): not again. */
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1)
		history_add(c->f->ex->history, c->json, strlen(c->json));
	free(c->json);
	free(c);
}

/* Answers a commands-stream entry from here (the dispatcher), and
 * acknowledges it in the same script. */
static void dispatch_reply(struct fleet *f, const char *id, cJSON *obj)
{
	char *json = exec_status_text(f->ex, obj);
	if (json == NULL)
		return;
	char *name_key = fleet_key(f, "name:", "");
	/* Ids of different streams may be equal: no acting record of a node
	 * is this entry's. */
	char *no_acting = fleet_key(f, "acting:", "~dispatch");
	const char *argv[13] = {"EVAL", fleet_reply_lua, "4", f->k_commands, no_acting, name_key,
				name_key, f->ex->cfg->status_channel, json, id, "", f->ex->cfg->node,
				"0"};
	size_t lens[13];
	for (int i = 0; i < 13; i++)
		lens[i] = strlen(argv[i]);
	struct answer_ctx *c = xmalloc(sizeof(*c));
	*c = (struct answer_ctx){f, xstrdup(json)};
	if (bus_command(f->ex->bus, 13, argv, lens, on_answered, c) < 0) {
		free(c->json);
		free(c);
	}
	free(no_acting);
	free(name_key);
	free(json);
}

static cJSON *dispatch_status(struct fleet *f, const struct envelope *env, const char *status,
			      const char *task, const char *error)
{
	struct status_msg st = {
		.task_name = task,
		.status = status,
		.pm_id = -1,
		.request_id = env->request_id,
		.verb = env->verb,
		.node = f->ex->cfg->node,
		.agent_id = env->agent_id,
		.error = error,
	};
	return codec_status_json(&st, util_wall_ms());
}

/* status without a node: every live node's tasks, from their tables. */
static cJSON *fleet_status(struct fleet *f, const struct envelope *env)
{
	cJSON *obj = dispatch_status(f, env, "ok", NULL, NULL);
	cJSON_ReplaceItemInObjectCaseSensitive(obj, "type", cJSON_CreateString("task_list"));
	cJSON *arr = cJSON_AddArrayToObject(obj, "tasks");
	for (size_t i = 0; i < f->ntables; i++) {
		const cJSON *t;
		cJSON_ArrayForEach(t, cJSON_GetObjectItemCaseSensitive(f->tables[i], "tasks"))
			cJSON_AddItemToArray(arr, cJSON_Duplicate(t, true));
	}
	cJSON_AddNumberToObject(obj, "count", (double)cJSON_GetArraySize(arr));
	cJSON *nodes = cJSON_AddArrayToObject(obj, "nodes");
	for (size_t i = 0; i < f->nnodes; i++)
		cJSON_AddItemToArray(nodes, cJSON_CreateString(f->nodes[i]));
	return obj;
}

struct dispatch_ctx {
	struct fleet *f;
	char *id;
	char *data;
	size_t len;
	int64_t arrival;
	int64_t read_at; /* loop ms when this executor read the entry */
};

static void dispatch_ctx_free(struct dispatch_ctx *d)
{
	free(d->id);
	free(d->data);
	free(d);
}

static enum fleet_verb verb_class(const char *verb)
{
	if (strcmp(verb, "start") == 0 || strcmp(verb, "run") == 0)
		return FLEET_START;
	if (strcmp(verb, "status") == 0 || strcmp(verb, "list") == 0 || strcmp(verb, "ps") == 0)
		return FLEET_STATUS;
	return FLEET_ACT;
}

/* A forward in flight: the entry, for when Redis refuses the streams. */
struct fwd_ctx {
	struct fleet *f;
	char *id, *data;
	size_t len;
};

static void on_forwarded(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fwd_ctx *c = arg;
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    fleet_admit_refused_for_good(r->str)) {
		/* This executor may read the intake but not write a node's
		 * stream (an ACL without XADD): the fleet is off here, and this
		 * entry (a sender admitted it) is carried out at once rather than
		 * left in the stream. */
		fleet_fall_back(c->f, r);
		const char *argv[4] = {"XACK", c->f->k_commands, GROUP, c->id};
		size_t lens[4] = {4, strlen(c->f->k_commands), strlen(GROUP), strlen(c->id)};
		bus_command(c->f->ex->bus, 4, argv, lens, NULL, NULL);
		exec_intake(c->f->ex, c->data, c->len, NULL);
	} else if (fleet_refused(r) && r != NULL) {
		log_error("fleet: redis refused to forward a command: %s", r->str);
	}
	free(c->id);
	free(c->data);
	free(c);
}

/* Appends the entry to every target node's stream and acknowledges it,
 * in one script; claim: the node that holds name from now on, or NULL. */
static void forward(struct dispatch_ctx *d, const char *const *targets, size_t n,
		    const char *claim, const char *name, bool extras)
{
	struct fleet *f = d->f;
	const char **argv = xcalloc(n + 11, sizeof(char *));
	size_t *lens = xcalloc(n + 11, sizeof(size_t));
	char **keys = xcalloc(n + 1, sizeof(char *));
	char nkeys[16], arrival[24];
	snprintf(nkeys, sizeof(nkeys), "%zu", n + 2);
	snprintf(arrival, sizeof(arrival), "%lld", (long long)d->arrival);
	char *name_key = fleet_key(f, "name:", name ? name : "");
	size_t k = 0;
	argv[k++] = "EVAL";
	argv[k++] = fleet_forward_lua;
	argv[k++] = nkeys;
	argv[k++] = f->k_commands;
	argv[k++] = name_key;
	for (size_t i = 0; i < n; i++) {
		keys[i] = fleet_key(f, "node:", targets[i]);
		argv[k++] = keys[i];
	}
	argv[k++] = d->id;
	size_t data_at = k;
	argv[k++] = d->data;
	argv[k++] = arrival;
	argv[k++] = claim ? claim : "";
	argv[k++] = STREAM_MAXLEN;
	argv[k++] = extras ? "1" : "0";
	for (size_t i = 0; i < k; i++)
		lens[i] = i == data_at ? d->len : strlen(argv[i]);
	struct fwd_ctx *c = xmalloc(sizeof(*c));
	*c = (struct fwd_ctx){f, xstrdup(d->id), xstrndup(d->data, d->len), d->len};
	if (bus_command(f->ex->bus, (int)k, argv, lens, on_forwarded, c) < 0) {
		free(c->id);
		free(c->data);
		free(c);
	}
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(name_key);
	free(argv);
	free(lens);
}

/* Decides with the name's holder known; gone: the node that deleted the
 * name a moment ago (fleet_view.gone_from), or NULL. */
static void dispatch_route(struct dispatch_ctx *d, const char *holder, const char *gone)
{
	struct fleet *f = d->f;
	struct envelope env;
	char err[512];
	/* A signed message is routed by the command inside; the wrapper goes
	 * on unchanged, to be verified where it is carried out. */
	char *inner = NULL;
	size_t inner_len = 0;
	exec_auth_inner(d->data, d->len, &inner, &inner_len);
	codec_decode_command(inner ? inner : d->data, inner ? inner_len : d->len, &env, err,
			     sizeof(err));
	free(inner);
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	const char *node = codec_param(&env, "node");
	enum fleet_verb verb = verb_class(env.verb);
	struct fleet_view view = {(const char *const *)f->nodes, f->nnodes, f->tasks, f->ntasks};
	/* The tables follow PM2 about a second behind the replies: the
	 * entries of a name its node just deleted do not count. */
	struct fleet_task_ref *kept = NULL;
	if (gone != NULL && name != NULL) {
		kept = xcalloc(f->ntasks + 1, sizeof(*kept));
		view.ntasks = 0;
		for (size_t i = 0; i < f->ntasks; i++)
			if (strcmp(f->tasks[i].node, gone) != 0 || strcmp(f->tasks[i].name, name) != 0)
				kept[view.ntasks++] = f->tasks[i];
		view.tasks = kept;
	}
	struct fleet_route route;
	fleet_route(verb, name, node, holder, f->ex->cfg->node, &view, &route);
	/* What this node answers for the fleet is judged here first: who
	 * may not ask is not told (docs/security.md). */
	cJSON *refusal = NULL;
	if (route.kind == FLEET_STATUS_ALL || route.kind == FLEET_RUNNING ||
	    route.kind == FLEET_NEED_NODE || (route.kind == FLEET_NOT_FOUND && f->view_from >= d->read_at))
		refusal = exec_auth_precheck(f->ex, d->data, d->len, d->arrival);
	if (refusal != NULL) {
		dispatch_reply(f, d->id, refusal);
	} else if (route.kind == FLEET_STATUS_ALL) {
		dispatch_reply(f, d->id, fleet_status(f, &env));
	} else if (route.kind == FLEET_RUNNING) {
		cJSON *obj = dispatch_status(f, &env, "already_running", name, NULL);
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "node", cJSON_CreateString(route.holder));
		dispatch_reply(f, d->id, obj);
	} else if (route.kind == FLEET_NOT_FOUND && f->view_from < d->read_at) {
		/* The view may be a second behind a node that just joined (or
		 * whose table was late): not_found only from a view begun after
		 * the entry came. It stays pending meanwhile. */
		bool known = false; /* read again (a claim, a re-read): once is enough */
		for (size_t i = 0; i < f->ndeferred && !known; i++)
			known = strcmp(f->deferred[i].id, d->id) == 0;
		if (!known) {
			f->deferred = xrealloc(f->deferred,
					       (f->ndeferred + 1) * sizeof(*f->deferred));
			f->deferred[f->ndeferred++] = (struct deferred_entry){
				xstrdup(d->id), xstrndup(d->data, d->len), d->len, d->read_at};
		}
		fleet_view_refresh(f);
	} else if (route.kind == FLEET_NEED_NODE) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "a pm_id is PM2's number on one node and %zu nodes are live: name the node "
			 "(--node=NAME, as `tasker ls --fleet` shows it); nothing was done",
			 f->nnodes);
		dispatch_reply(f, d->id, dispatch_status(f, &env, "error", NULL, msg));
	} else if (route.kind == FLEET_NOT_FOUND) {
		char msg[200];
		snprintf(msg, sizeof(msg), "no task named %s on any node", name);
		dispatch_reply(f, d->id, dispatch_status(f, &env, "not_found", name, msg));
	} else {
		/* stop, restart, delete: the holder (first) answers; the nodes
		 * whose tables show the name too (maybe a second late) answer
		 * only when they hold it. */
		bool extras = verb == FLEET_ACT && node == NULL && holder != NULL &&
			      route.ntargets > 1 && strcmp(route.targets[0], holder) == 0;
		forward(d, route.targets, route.ntargets,
			route.claim && name != NULL ? route.targets[0] : NULL, name, extras);
	}
	free(kept);
	codec_envelope_free(&env);
}

static void on_holder(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct dispatch_ctx *d = arg;
	if (r == NULL) {
		/* Lost with the connection: the entry stays pending and comes
		 * back (XAUTOCLAIM, or our own pending read). */
		dispatch_ctx_free(d);
		return;
	}
	/* A holder that is not live (gone for good, or down) is no holder:
	 * its commands would wait for a node nobody runs. */
	char *holder = NULL;
	for (size_t i = 0; r->type == REDIS_REPLY_STRING && i < d->f->nnodes; i++)
		if (strcmp(d->f->nodes[i], r->str) == 0)
			holder = xstrdup(r->str);
	/* "~<node>": that node deleted the name a moment ago. */
	const char *gone = r->type == REDIS_REPLY_STRING && r->str[0] == '~' ? r->str + 1 : NULL;
	dispatch_route(d, holder, gone);
	free(holder);
	dispatch_ctx_free(d);
}

/* One entry of the commands stream: answer it here, or forward it. */
static void dispatch_entry(struct fleet *f, const char *id, const char *data, size_t len,
			   int64_t read_at);

void fleet_dispatch(struct fleet *f, const char *id, const char *data, size_t len)
{
	dispatch_entry(f, id, data, len, loop_now(f->ex->loop));
}

void fleet_dispatch_deferred(struct fleet *f)
{
	struct deferred_entry *v = f->deferred;
	size_t n = f->ndeferred;
	f->deferred = NULL;
	f->ndeferred = 0;
	for (size_t i = 0; i < n; i++) {
		dispatch_entry(f, v[i].id, v[i].data, v[i].len, v[i].read_at);
		free(v[i].id);
		free(v[i].data);
	}
	free(v);
}

void fleet_deferred_free(struct fleet *f)
{
	for (size_t i = 0; i < f->ndeferred; i++) {
		free(f->deferred[i].id);
		free(f->deferred[i].data);
	}
	free(f->deferred);
	f->deferred = NULL;
	f->ndeferred = 0;
}

static void dispatch_entry(struct fleet *f, const char *id, const char *data, size_t len,
			   int64_t read_at)
{
	struct executor *ex = f->ex;
	struct envelope env;
	char err[512];
	int64_t arrival = strtoll(id, NULL, 10);
	char *inner = NULL;
	size_t inner_len = 0;
	exec_auth_inner(data, len, &inner, &inner_len);
	bool decoded = codec_decode_command(inner ? inner : data, inner ? inner_len : len, &env, err,
					    sizeof(err)) == 0;
	free(inner);
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	const char *node = codec_param(&env, "node");
	enum fleet_verb verb = decoded ? verb_class(env.verb) : FLEET_ACT;
	/* Garbage and anything the router cannot place (an unknown verb, a bad name or
	 * node, a param of the wrong type or verb) goes to this node, whose intake
	 * answers it. */
	/* By pm_id (command_target.h): routed by node alone, never by name. */
	bool by_pm_id = decoded && verb == FLEET_ACT && name == NULL && command_pm_id(&env) >= 0;
	bool placeable = decoded && exec_verb_known(env.verb) &&
			 check_text_params(&env, err, sizeof(err)) == 0 &&
			 (node == NULL || check_task_name(node) == NULL) &&
			 (verb == FLEET_STATUS || by_pm_id ||
			  (name != NULL && check_task_name(name) == NULL));
	struct dispatch_ctx *d = xmalloc(sizeof(*d));
	*d = (struct dispatch_ctx){f, xstrdup(id), xstrndup(data, len), len, arrival, read_at};
	if (!placeable || verb == FLEET_STATUS || by_pm_id) {
		codec_envelope_free(&env);
		if (placeable) {
			dispatch_route(d, NULL, NULL);
		} else {
			const char *self = ex->cfg->node;
			forward(d, &self, 1, NULL, NULL, false);
		}
		dispatch_ctx_free(d);
		return;
	}
	/* The name's holder first (the key outlives the envelope). */
	char *key = fleet_key(f, "name:", name);
	codec_envelope_free(&env);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	if (bus_command(ex->bus, 2, argv, lens, on_holder, d) < 0)
		dispatch_ctx_free(d);
	free(key);
}
