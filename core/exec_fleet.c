/*
 * exec_fleet: the executor's side of the fleet (docs/fleet.md): commands
 * travel on Redis Streams read through a consumer group, so that several
 * executors on one Redis carry out each command once, where it belongs,
 * and a command survives an executor that dies.
 *
 *   pub/sub message ──admit (once key + XADD)──► <prefix>commands
 *        │ one executor (the consumer group) dispatches each entry:
 *        ▼ forward (XADD + XACK, one script) or answer itself
 *   <prefix>node:<node> ──► this node's executor ──► reply (PUBLISH + XACK + HDEL, one script)
 *
 * The prefix is b00t:{tasker}:<command channel>: executors on different
 * command channels are different fleets. Before its first call that
 * changes PM2, a command records its entry in <prefix>acting:<node> and
 * waits for Redis: an entry found there when it is delivered again is
 * verified (listed), not run a second time.
 *
 * Falls back to carrying out pub/sub messages directly (the single-host
 * behaviour) while Redis refuses the stream commands (an old Redis, an ACL
 * without them), and says so once.
 *
 * Must not: acknowledge an entry before its reply is published, run an
 * entry twice, or block the loop.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "executor_int.h"
#include "fleet_route.h"
#include "fleet_tasks.h"
#include "log.h"
#include "loop.h"
#include "util.h"

#define GROUP "tasker"
#define READ_COUNT "100"
#define READ_BLOCK_MS "2000"
#define VIEW_EVERY_MS 1000  /* the fleet view (live nodes, task tables) */
#define CLAIM_EVERY_MS 5000 /* entries a dead dispatcher held */
#define CLAIM_IDLE_MS "10000"
#define STREAM_MAXLEN "100000"
#define PRESENCE_MATCH "b00t:tasker:executor:*"

/* Admission: the first executor to see a message sets its once key and
 * appends it; the others find the key and drop their copy. */
static const char admit_lua[] =
	"if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then "
	"return redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[2]) end "
	"return false";

/* Dispatch: acknowledge and forward to every node stream named, at once;
 * an entry acknowledged already (dispatched twice) is not forwarded again.
 * KEYS: commands, name key, node streams...; ARGV: entry id, message,
 * arrival ms, node that now holds the name (or ""). */
static const char forward_lua[] =
	"if redis.call('XACK', KEYS[1], 'tasker', ARGV[1]) == 0 then return 0 end "
	"if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[4]) end "
	"for i = 3, #KEYS do redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[5], '*', 'm', "
	"ARGV[2], 't', ARGV[3]) end "
	"return #KEYS - 2";

/* A reply: publish, acknowledge, forget the acting record, keep the
 * name's holder, and for a command that was not carried out let its once
 * key go in 3 s (sent again later, it is taken again; the other executors'
 * copies of the same PUBLISH, admitted within ms, are still dropped). An
 * entry acknowledged already (delivered twice) publishes nothing. KEYS:
 * stream, acting hash, name key, once key; ARGV: status channel, reply,
 * entry id, "set"/"del"/"", node, "1" to let the once key go. */
static const char reply_lua[] =
	"if redis.call('XACK', KEYS[1], 'tasker', ARGV[3]) == 0 then return 0 end "
	"redis.call('PUBLISH', ARGV[1], ARGV[2]) "
	"redis.call('HDEL', KEYS[2], ARGV[3]) "
	"if ARGV[6] == '1' then redis.call('PEXPIRE', KEYS[4], 3000) end "
	"if ARGV[4] == 'del' and redis.call('GET', KEYS[3]) == ARGV[5] then "
	"redis.call('DEL', KEYS[3]) end "
	"if ARGV[4] == 'set' then redis.call('SET', KEYS[3], ARGV[5]) end "
	"return 1";

struct fleet {
	struct executor *ex;
	char *prefix; /* b00t:{tasker}:<channel>: */
	char *k_commands, *k_node, *k_acting;
	bool usable;	 /* the stream commands work on this Redis */
	bool complained; /* the fallback was logged */
	bool reading;	 /* a read is in flight on the reader connection */
	bool groups;	 /* both groups exist */
	bool view_ready; /* a first view of the fleet is in: dispatch may start */
	bool view_failed; /* a step of the view being gathered failed */
	char cur_commands[48], cur_node[48]; /* "0" (pending), an id, or ">" */
	bool sent_pending_c, sent_pending_n;  /* what the read in flight asked */
	bool rewind; /* read this node's pending entries again after this read */
	bool held;   /* reading waits for commands to finish (back-pressure) */
	/* Pub/sub messages waiting for the publish connection to be admitted. */
	char **queued;
	size_t *queued_len, nqueued;
	bool queue_full_said;
	/* Entries of the node stream being carried out here: not again. */
	char **live;
	size_t nlive;
	/* The view (refreshed every VIEW_EVERY_MS). */
	char **nodes;
	size_t nnodes;
	struct fleet_task_ref *tasks;
	size_t ntasks;
	cJSON **tables; /* roots the task refs point into */
	size_t ntables;
	/* A view being gathered. */
	int view_pending;
	char **v_nodes;
	size_t v_nnodes;
	char **v_tables;
	size_t v_ntables;
	struct loop_timer *view_timer, *claim_timer;
};

static void read_next(struct fleet *f);
static void queue_admission(struct fleet *f, const char *data, size_t len);

static char *prefixed(const struct fleet *f, const char *what, const char *name)
{
	return xasprintf("%s%s%s", f->prefix, what, name ? name : "");
}

static bool refused(const redisReply *r)
{
	return r == NULL || r->type == REDIS_REPLY_ERROR;
}

/* Stream commands refused (not a lost connection): carry on without. */
static bool permanent(const redisReply *r)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return r != NULL;
	return strncmp(r->str, "NOPERM", 6) == 0 || strncmp(r->str, "NOSCRIPT", 8) == 0 ||
	       strstr(r->str, "unknown command") != NULL;
}

static void fall_back(struct fleet *f, const redisReply *r)
{
	/* A passing refusal (LOADING, BUSY, OOM, READONLY...) is retried: a
	 * fleet that ran everything everywhere would run each command N times. */
	if (!permanent(r)) {
		if (r != NULL)
			log_warn("fleet: redis said %s; trying again", r->str);
		return;
	}
	f->usable = false;
	if (!f->complained)
		log_error("redis refused the stream commands (%s): carrying out commands as they "
			  "arrive, on this executor alone; a fleet needs Redis >= 6.2 with EVAL, "
			  "XADD, XREADGROUP, XACK, XAUTOCLAIM on b00t:{tasker}:*",
			  r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
	f->complained = true;
}

/* --- the view of the fleet ----------------------------------------------- */

static void strings_free(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static void view_install(struct fleet *f)
{
	bool first = !f->view_ready;
	f->view_ready = true;
	strings_free(f->nodes, f->nnodes);
	for (size_t i = 0; i < f->ntables; i++)
		cJSON_Delete(f->tables[i]);
	free(f->tables);
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
	f->tables = xcalloc(f->v_ntables + 1, sizeof(*f->tables));
	f->ntables = 0;
	f->tasks = NULL;
	f->ntasks = 0;
	for (size_t i = 0; i < f->v_ntables; i++) {
		cJSON *root;
		const cJSON *tasks = fleet_tasks_decode(f->v_tables[i], strlen(f->v_tables[i]), &root);
		if (tasks == NULL)
			continue;
		/* Only the tables of live nodes on our channel count. */
		const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
		bool ours = false;
		for (size_t k = 0; cJSON_IsString(node) && k < f->nnodes; k++)
			ours = ours || strcmp(f->nodes[k], node->valuestring) == 0;
		if (!ours) {
			cJSON_Delete(root);
			continue;
		}
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
	strings_free(f->v_tables, f->v_ntables);
	f->v_tables = NULL;
	f->v_ntables = 0;
	if (first)
		log_debug("fleet: first view: %zu live node(s) on %s, %zu task(s)", f->nnodes,
			  f->ex->cfg->channel, f->ntasks);
	if (first)
		read_next(f);
}

static void view_step_done(struct fleet *f)
{
	if (--f->view_pending > 0)
		return;
	if (f->view_failed) {
		/* A view with holes would send a fleet's work to one node: keep
		 * the one we have. */
		f->view_failed = false;
		strings_free(f->v_nodes, f->v_nnodes);
		strings_free(f->v_tables, f->v_ntables);
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
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		f->view_failed = true;
	if (r != NULL && r->type == REDIS_REPLY_STRING) {
		cJSON *root = cJSON_ParseWithLength(r->str, r->len);
		const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
		const cJSON *channel = cJSON_GetObjectItemCaseSensitive(root, "channel");
		if (cJSON_IsString(node) && cJSON_IsString(channel) &&
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
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		f->view_failed = true;
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
	if (bus_command(f->ex->bus, 6, argv, lens, on_scan, ctx) == 0)
		f->view_pending++;
	else
		free(ctx);
}

static void on_view_timer(struct loop *loop, void *arg)
{
	struct fleet *f = arg;
	f->view_timer = loop_timer_add(loop, VIEW_EVERY_MS, on_view_timer, f);
	if (f->view_pending > 0 || !bus_can_command(f->ex->bus))
		return;
	/* One count for the start, dropped at the end: the view is installed
	 * once every reply it waits for has come. */
	f->view_pending = 1;
	scan_from(f, false, "0");
	scan_from(f, true, "0");
	view_step_done(f);
}

/* --- admission ----------------------------------------------------------- */

struct admit_ctx {
	struct fleet *f;
	char *data;
	size_t len;
};

static void on_admitted(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct admit_ctx *a = arg;
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		/* Streams refused: this message is carried out here, at once. */
		fall_back(a->f, r);
		exec_intake(a->f->ex, a->data, a->len, NULL);
	} else if (r == NULL) {
		/* The connection went before Redis answered: admit it again
		 * once it is back (the once key drops it if it was in). */
		queue_admission(a->f, a->data, a->len);
	}
	free(a->data);
	free(a);
}

/* The once key of a message: its request_id, else a digest of its bytes. */
static char *once_key(const struct fleet *f, const char *data, size_t len, int64_t *ttl_ms)
{
	struct envelope env;
	char err[64];
	*ttl_ms = EXEC_DEFAULT_TTL_MS;
	int ok = codec_decode_command(data, len, &env, err, sizeof(err));
	char *key;
	if (env.request_id != NULL) {
		key = prefixed(f, "once:", env.request_id);
	} else {
		uint64_t h = 14695981039346656037ull;
		for (size_t i = 0; i < len; i++)
			h = (h ^ (unsigned char)data[i]) * 1099511628211ull;
		char hex[24];
		snprintf(hex, sizeof(hex), "~%016llx", (unsigned long long)h);
		key = prefixed(f, "once:", hex);
	}
	int64_t ttl;
	if (ok == 0 && check_ttl(&env, EXEC_DEFAULT_TTL_MS, &ttl, err, sizeof(err)) == 0)
		*ttl_ms = ttl;
	codec_envelope_free(&env);
	return key;
}

/* A message to admit once the publish connection is back: the once key
 * makes a second admission of the same message harmless. */
static void queue_admission(struct fleet *f, const char *data, size_t len)
{
	if (f->nqueued >= 10000) {
		if (!f->queue_full_said)
			log_error("fleet: 10000 commands wait for Redis; dropping more (other "
				  "executors of the fleet may still admit them)");
		f->queue_full_said = true;
		return;
	}
	f->queue_full_said = false;
	f->queued = xrealloc(f->queued, (f->nqueued + 1) * sizeof(char *));
	f->queued_len = xrealloc(f->queued_len, (f->nqueued + 1) * sizeof(size_t));
	f->queued[f->nqueued] = xstrndup(data, len);
	f->queued_len[f->nqueued++] = len;
}

bool exec_fleet_admit(struct executor *ex, const char *data, size_t len)
{
	struct fleet *f = ex->fleet;
	if (f == NULL || !f->usable)
		return false;
	if (!bus_can_command(ex->bus)) {
		queue_admission(f, data, len);
		return true;
	}
	int64_t ttl;
	char *key = once_key(f, data, len, &ttl);
	/* Remembered until the command's deadline: a resend inside it is the
	 * same command, one after it would be answered expired anyway. */
	char ttl_s[24];
	snprintf(ttl_s, sizeof(ttl_s), "%lld", (long long)ttl);
	const char *argv[8] = {"EVAL", admit_lua, "2", key, f->k_commands, ttl_s, NULL, STREAM_MAXLEN};
	size_t lens[8] = {4, strlen(admit_lua), 1, strlen(key), strlen(f->k_commands),
			  strlen(ttl_s), len, strlen(STREAM_MAXLEN)};
	argv[6] = data;
	struct admit_ctx *a = xmalloc(sizeof(*a));
	*a = (struct admit_ctx){f, xstrndup(data, len), len};
	int rc = bus_command(ex->bus, 8, argv, lens, on_admitted, a);
	free(key);
	if (rc < 0) {
		free(a->data);
		free(a);
		return false;
	}
	return true;
}

/* --- dispatch ------------------------------------------------------------ */

static void on_acked(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	(void)arg;
	if (refused(r) && r != NULL)
		log_warn("fleet: redis refused to acknowledge a dispatched command: %s", r->str);
}

/* Answers a commands-stream entry from here (the dispatcher), and
 * acknowledges it in the same script. */
static void dispatch_reply(struct fleet *f, const char *id, cJSON *obj)
{
	char *json = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	char *name_key = prefixed(f, "name:", "");
	/* Ids of different streams may be equal: no acting record of a node
	 * is this entry's. */
	char *no_acting = prefixed(f, "acting:", "~dispatch");
	const char *argv[13] = {"EVAL", reply_lua, "4", f->k_commands, no_acting, name_key,
				name_key, f->ex->cfg->status_channel, json, id, "", f->ex->cfg->node,
				"0"};
	size_t lens[13];
	for (int i = 0; i < 13; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(f->ex->bus, 13, argv, lens, on_acked, f) == 0)
		history_add(f->ex->history, json, strlen(json));
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

static void on_forwarded(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	(void)arg;
	if (refused(r) && r != NULL)
		log_error("fleet: redis refused to forward a command: %s", r->str);
}

/* Appends the entry to every target node's stream and acknowledges it,
 * in one script; claim: the node that holds name from now on, or NULL. */
static void forward(struct dispatch_ctx *d, const char *const *targets, size_t n,
		    const char *claim, const char *name)
{
	struct fleet *f = d->f;
	const char **argv = xcalloc(n + 10, sizeof(char *));
	size_t *lens = xcalloc(n + 10, sizeof(size_t));
	char **keys = xcalloc(n + 1, sizeof(char *));
	char nkeys[16], arrival[24];
	snprintf(nkeys, sizeof(nkeys), "%zu", n + 2);
	snprintf(arrival, sizeof(arrival), "%lld", (long long)d->arrival);
	char *name_key = prefixed(f, "name:", name ? name : "");
	size_t k = 0;
	argv[k++] = "EVAL";
	argv[k++] = forward_lua;
	argv[k++] = nkeys;
	argv[k++] = f->k_commands;
	argv[k++] = name_key;
	for (size_t i = 0; i < n; i++) {
		keys[i] = prefixed(f, "node:", targets[i]);
		argv[k++] = keys[i];
	}
	argv[k++] = d->id;
	size_t data_at = k;
	argv[k++] = d->data;
	argv[k++] = arrival;
	argv[k++] = claim ? claim : "";
	argv[k++] = STREAM_MAXLEN;
	for (size_t i = 0; i < k; i++)
		lens[i] = i == data_at ? d->len : strlen(argv[i]);
	bus_command(f->ex->bus, (int)k, argv, lens, on_forwarded, f);
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(name_key);
	free(argv);
	free(lens);
}

/* Decides with the name's holder known. */
static void dispatch_route(struct dispatch_ctx *d, const char *holder)
{
	struct fleet *f = d->f;
	struct envelope env;
	char err[512];
	codec_decode_command(d->data, d->len, &env, err, sizeof(err));
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	const char *node = codec_param(&env, "node");
	enum fleet_verb verb = verb_class(env.verb);
	struct fleet_view view = {(const char *const *)f->nodes, f->nnodes, f->tasks, f->ntasks};
	struct fleet_route route;
	fleet_route(verb, name, node, holder, f->ex->cfg->node, &view, &route);
	if (route.kind == FLEET_STATUS_ALL) {
		dispatch_reply(f, d->id, fleet_status(f, &env));
	} else if (route.kind == FLEET_RUNNING) {
		cJSON *obj = dispatch_status(f, &env, "already_running", name, NULL);
		cJSON_ReplaceItemInObjectCaseSensitive(obj, "node", cJSON_CreateString(route.holder));
		dispatch_reply(f, d->id, obj);
	} else if (route.kind == FLEET_NOT_FOUND) {
		char msg[200];
		snprintf(msg, sizeof(msg), "no task named %s on any node", name);
		dispatch_reply(f, d->id, dispatch_status(f, &env, "not_found", name, msg));
	} else {
		forward(d, route.targets, route.ntargets,
			route.claim && name != NULL ? route.targets[0] : NULL, name);
	}
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
	dispatch_route(d, holder);
	free(holder);
	dispatch_ctx_free(d);
}

/* One entry of the commands stream: answer it here, or forward it. */
static void dispatch(struct fleet *f, const char *id, const char *data, size_t len)
{
	struct executor *ex = f->ex;
	struct envelope env;
	char err[512];
	int64_t arrival = strtoll(id, NULL, 10);
	bool decoded = codec_decode_command(data, len, &env, err, sizeof(err)) == 0;
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	const char *node = codec_param(&env, "node");
	enum fleet_verb verb = decoded ? verb_class(env.verb) : FLEET_ACT;
	/* Garbage and anything the router cannot place (an unknown verb, a bad name or
	 * node) goes to this node, whose intake answers it. */
	bool placeable = decoded && exec_verb_known(env.verb) &&
			 (node == NULL || check_task_name(node) == NULL) &&
			 (verb == FLEET_STATUS || (name != NULL && check_task_name(name) == NULL));
	struct dispatch_ctx *d = xmalloc(sizeof(*d));
	*d = (struct dispatch_ctx){f, xstrdup(id), xstrndup(data, len), len, arrival};
	if (!placeable || verb == FLEET_STATUS) {
		codec_envelope_free(&env);
		if (placeable) {
			dispatch_route(d, NULL);
		} else {
			const char *self = ex->cfg->node;
			forward(d, &self, 1, NULL, NULL);
		}
		dispatch_ctx_free(d);
		return;
	}
	/* The name's holder first (the key outlives the envelope). */
	char *key = prefixed(f, "name:", name);
	codec_envelope_free(&env);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	if (bus_command(ex->bus, 2, argv, lens, on_holder, d) < 0)
		dispatch_ctx_free(d);
	free(key);
}

/* --- this node's commands ------------------------------------------------ */

static bool is_live(const struct fleet *f, const char *id)
{
	for (size_t i = 0; i < f->nlive; i++)
		if (strcmp(f->live[i], id) == 0)
			return true;
	return false;
}

static void live_remove(struct fleet *f, const char *id)
{
	for (size_t i = 0; i < f->nlive; i++) {
		if (strcmp(f->live[i], id) == 0) {
			free(f->live[i]);
			f->live[i] = f->live[--f->nlive];
			return;
		}
	}
}

struct entry_ctx {
	struct fleet *f;
	struct exec_entry entry;
	char *data;
	size_t len;
};

static void on_acting(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct entry_ctx *e = arg;
	if (r == NULL) {
		/* Lost: read again from the pending list once back. */
		live_remove(e->f, e->entry.id);
	} else {
		/* Unknown (an error) counts as acted: verifying is safe, acting
		 * twice is not. */
		e->entry.acted = r->type == REDIS_REPLY_STRING || r->type == REDIS_REPLY_ERROR;
		if (e->entry.acted)
			log_warn("fleet: entry %s was being carried out when this executor stopped: "
				 "verifying what PM2 shows instead of acting again",
				 e->entry.id);
		exec_intake(e->f->ex, e->data, e->len, &e->entry);
	}
	free(e->data);
	free(e);
}

/* One entry of this node's stream; pending: read back from the pending
 * list (this executor took it before and may have acted). */
static void node_entry(struct fleet *f, const char *id, const char *data, size_t len,
		       int64_t arrival, bool pending)
{
	if (is_live(f, id))
		return;
	f->live = xrealloc(f->live, (f->nlive + 1) * sizeof(char *));
	f->live[f->nlive++] = xstrdup(id);
	struct entry_ctx *e = xcalloc(1, sizeof(*e));
	e->f = f;
	snprintf(e->entry.id, sizeof(e->entry.id), "%s", id);
	e->entry.arrival = arrival;
	e->data = xstrndup(data, len);
	e->len = len;
	if (!pending) {
		exec_intake(f->ex, e->data, e->len, &e->entry);
		free(e->data);
		free(e);
		return;
	}
	const char *argv[3] = {"HGET", f->k_acting, id};
	size_t lens[3] = {4, strlen(f->k_acting), strlen(id)};
	if (bus_command(f->ex->bus, 3, argv, lens, on_acting, e) < 0) {
		live_remove(f, id);
		free(e->data);
		free(e);
	}
}

struct reply_ctx {
	struct fleet *f;
	char id[48];
};

static void on_replied(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct reply_ctx *c = arg;
	struct executor *ex = c->f->ex;
	if (r != NULL && r->type == REDIS_REPLY_ERROR)
		log_error("fleet: redis refused a reply: %s", r->str);
	/* Success or not, the entry is no longer ours to skip: one whose reply
	 * did not go out is still pending and is read again. */
	live_remove(c->f, c->id);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		c->f->rewind = true;
	if (ex->unacked > 0)
		ex->unacked--;
	exec_drain_check(ex);
	free(c);
}

void exec_fleet_reply(struct executor *ex, const struct exec_entry *entry, cJSON *obj,
		      const char *name, const char *name_op, const char *forget_id)
{
	struct fleet *f = ex->fleet;
	char *json = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	char *name_key = prefixed(f, "name:", name ? name : "");
	char *once = prefixed(f, "once:", forget_id ? forget_id : "");
	const char *argv[13] = {"EVAL",	   reply_lua,	  "4",
				f->k_node, f->k_acting, name_key,
				once,	   ex->cfg->status_channel, json,
				entry->id, name ? name_op : "", ex->cfg->node,
				forget_id ? "1" : "0"};
	size_t lens[13];
	for (int i = 0; i < 13; i++)
		lens[i] = strlen(argv[i]);
	struct reply_ctx *c = xmalloc(sizeof(*c));
	c->f = f;
	snprintf(c->id, sizeof(c->id), "%s", entry->id);
	if (bus_command(ex->bus, 13, argv, lens, on_replied, c) == 0) {
		ex->unacked++;
		history_add(ex->history, json, strlen(json)); /* after its PUBLISH */
	} else {
		/* Redis is down: the entry stays pending; it is read again and
		 * answered once Redis is back (exec_fleet_bus_state). */
		live_remove(f, entry->id);
		free(c);
	}
	free(name_key);
	free(once);
	free(json);
}

static void ack_only(struct fleet *f, const char *stream, const char *id);

void exec_fleet_ack(struct executor *ex, const struct exec_entry *entry)
{
	ack_only(ex->fleet, ex->fleet->k_node, entry->id);
	live_remove(ex->fleet, entry->id);
}

struct mark_ctx {
	void (*done)(void *arg, bool ok);
	void *arg;
};

static void on_marked(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct mark_ctx *m = arg;
	m->done(m->arg, r != NULL && r->type == REDIS_REPLY_INTEGER);
	free(m);
}

int exec_fleet_mark(struct executor *ex, const struct exec_entry *entry,
		    void (*done)(void *arg, bool ok), void *arg)
{
	struct fleet *f = ex->fleet;
	char at[24];
	snprintf(at, sizeof(at), "%lld", (long long)util_wall_ms());
	const char *argv[4] = {"HSET", f->k_acting, entry->id, at};
	size_t lens[4] = {4, strlen(f->k_acting), strlen(entry->id), strlen(at)};
	struct mark_ctx *m = xmalloc(sizeof(*m));
	*m = (struct mark_ctx){done, arg};
	if (bus_command(ex->bus, 4, argv, lens, on_marked, m) < 0) {
		free(m);
		return -1;
	}
	return 0;
}

/* --- reading both streams ----------------------------------------------- */

static const char *field(const redisReply *fields, const char *name, size_t *len)
{
	if (fields == NULL || fields->type != REDIS_REPLY_ARRAY)
		return NULL;
	for (size_t i = 0; i + 1 < fields->elements; i += 2) {
		const redisReply *k = fields->element[i], *v = fields->element[i + 1];
		if (k->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING &&
		    strcmp(k->str, name) == 0) {
			*len = v->len;
			return v->str;
		}
	}
	return NULL;
}

static void ack_only(struct fleet *f, const char *stream, const char *id)
{
	const char *argv[4] = {"XACK", stream, GROUP, id};
	size_t lens[4] = {4, strlen(stream), strlen(GROUP), strlen(id)};
	bus_command(f->ex->bus, 4, argv, lens, on_acked, f);
}

/* The entries of one stream in a read or claim reply. */
static size_t take_entries(struct fleet *f, bool commands, const redisReply *entries, bool pending,
			   char *cursor, size_t cursor_size)
{
	size_t n = 0;
	for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
		const redisReply *e = entries->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements < 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			continue;
		const char *id = e->element[0]->str;
		n++;
		if (cursor != NULL)
			snprintf(cursor, cursor_size, "%s", id);
		size_t len = 0;
		const char *m = field(e->element[1], "m", &len);
		if (m == NULL) {
			/* Trimmed or deleted since it was taken: nothing to do. */
			ack_only(f, commands ? f->k_commands : f->k_node, id);
			continue;
		}
		if (commands) {
			dispatch(f, id, m, len);
		} else {
			size_t tl = 0;
			const char *t = field(e->element[1], "t", &tl);
			int64_t arrival = t ? strtoll(t, NULL, 10) : strtoll(id, NULL, 10);
			node_entry(f, id, m, len, arrival, pending);
		}
	}
	return n;
}

static void on_read(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fleet *f = arg;
	f->reading = false;
	if (r == NULL)
		return; /* the reader connection went: on_reader starts again */
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "NOGROUP", 7) == 0) {
			f->groups = false; /* the streams were deleted: make them again */
			exec_fleet_reader(bus, true, f->ex);
		} else {
			fall_back(f, r);
		}
		return;
	}
	bool pending_c = f->sent_pending_c;
	bool pending_n = f->sent_pending_n;
	size_t got_c = 0, got_n = 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *s = r->element[i];
		if (s->type != REDIS_REPLY_ARRAY || s->elements != 2 ||
		    s->element[0]->type != REDIS_REPLY_STRING)
			continue;
		bool commands = strcmp(s->element[0]->str, f->k_commands) == 0;
		if (commands)
			got_c = take_entries(f, true, s->element[1], pending_c,
					     pending_c ? f->cur_commands : NULL, sizeof(f->cur_commands));
		else
			got_n = take_entries(f, false, s->element[1], pending_n,
					     pending_n ? f->cur_node : NULL, sizeof(f->cur_node));
	}
	/* A pending list read to its end: from now on, new entries. */
	if (pending_c && got_c == 0)
		snprintf(f->cur_commands, sizeof(f->cur_commands), ">");
	if (pending_n && got_n == 0)
		snprintf(f->cur_node, sizeof(f->cur_node), ">");
	read_next(f);
}

static void read_next(struct fleet *f)
{
	struct executor *ex = f->ex;
	if (f->reading || !f->groups || !f->view_ready || !f->usable || ex->draining ||
	    ex->conflicted || !ex->claimed || !bus_reader_up(ex->bus))
		return;
	/* Back-pressure: a full executor reads no more; its commands wait in
	 * Redis (and expire there if they must) instead of being refused. */
	if (ex->ncommands + 100 > EXEC_MAX_COMMANDS) {
		f->held = true;
		return;
	}
	f->held = false;
	if (f->rewind) {
		f->rewind = false;
		snprintf(f->cur_node, sizeof(f->cur_node), "0");
	}
	f->sent_pending_c = strcmp(f->cur_commands, ">") != 0;
	f->sent_pending_n = strcmp(f->cur_node, ">") != 0;
	bool pending = f->sent_pending_c || f->sent_pending_n;
	const char *argv[14];
	size_t k = 0;
	argv[k++] = "XREADGROUP";
	argv[k++] = "GROUP";
	argv[k++] = GROUP;
	argv[k++] = ex->cfg->node;
	argv[k++] = "COUNT";
	argv[k++] = READ_COUNT;
	if (!pending) {
		argv[k++] = "BLOCK";
		argv[k++] = READ_BLOCK_MS;
	}
	argv[k++] = "STREAMS";
	argv[k++] = f->k_commands;
	argv[k++] = f->k_node;
	argv[k++] = f->cur_commands;
	argv[k++] = f->cur_node;
	size_t lens[14];
	for (size_t i = 0; i < k; i++)
		lens[i] = strlen(argv[i]);
	if (bus_reader_command(ex->bus, (int)k, argv, lens, on_read, f) == 0)
		f->reading = true;
}

struct group_ctx {
	struct fleet *f;
	int left;
	bool failed;
};

static void on_group(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct group_ctx *g = arg;
	struct fleet *f = g->f;
	if (r == NULL || (r->type == REDIS_REPLY_ERROR && strncmp(r->str, "BUSYGROUP", 9) != 0)) {
		if (!g->failed)
			fall_back(f, r);
		g->failed = true;
	}
	if (--g->left > 0)
		return;
	if (!g->failed) {
		f->groups = true;
		snprintf(f->cur_commands, sizeof(f->cur_commands), "0");
		snprintf(f->cur_node, sizeof(f->cur_node), "0");
		read_next(f);
	}
	free(g);
}

void exec_fleet_reader(struct bus *bus, bool up, void *arg)
{
	struct executor *ex = arg;
	struct fleet *f = ex->fleet;
	f->reading = false;
	if (!up || !f->usable)
		return;
	if (f->groups) {
		/* Back after a loss: what we took and did not finish first. */
		snprintf(f->cur_commands, sizeof(f->cur_commands), "0");
		snprintf(f->cur_node, sizeof(f->cur_node), "0");
		read_next(f);
		return;
	}
	struct group_ctx *g = xcalloc(1, sizeof(*g));
	g->f = f;
	const char *streams[2] = {f->k_commands, f->k_node};
	for (int i = 0; i < 2; i++) {
		const char *argv[6] = {"XGROUP", "CREATE", streams[i], GROUP, "0", "MKSTREAM"};
		size_t lens[6] = {6, 6, strlen(streams[i]), strlen(GROUP), 1, 8};
		if (bus_reader_command(bus, 6, argv, lens, on_group, g) == 0)
			g->left++;
	}
	if (g->left == 0)
		free(g);
}

/* Entries a dispatcher that died took and never acknowledged. */
static void on_claimed(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fleet *f = arg;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements < 2)
		return;
	size_t n = take_entries(f, true, r->element[1], true, NULL, 0);
	if (n > 0)
		log_warn("fleet: took over %zu command(s) a dispatcher left unfinished", n);
}

static void on_claim_timer(struct loop *loop, void *arg)
{
	struct fleet *f = arg;
	f->claim_timer = loop_timer_add(loop, CLAIM_EVERY_MS, on_claim_timer, f);
	if (!f->usable || !f->groups || !f->view_ready || f->ex->draining)
		return;
	const char *argv[9] = {"XAUTOCLAIM", f->k_commands, GROUP, f->ex->cfg->node, CLAIM_IDLE_MS,
			       "0-0", "COUNT", READ_COUNT, NULL};
	size_t lens[8];
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	bus_command(f->ex->bus, 8, argv, lens, on_claimed, f);
}

/* --- life cycle ---------------------------------------------------------- */

void exec_fleet_new(struct executor *ex)
{
	struct fleet *f = xcalloc(1, sizeof(*f));
	f->ex = ex;
	f->usable = true;
	f->prefix = xasprintf("b00t:{tasker}:%s:", ex->cfg->channel);
	f->k_commands = prefixed(f, "commands", NULL);
	f->k_node = prefixed(f, "node:", ex->cfg->node);
	f->k_acting = prefixed(f, "acting:", ex->cfg->node);
	snprintf(f->cur_commands, sizeof(f->cur_commands), "0");
	snprintf(f->cur_node, sizeof(f->cur_node), "0");
	ex->fleet = f;
	f->view_timer = loop_timer_add(ex->loop, 0, on_view_timer, f);
	f->claim_timer = loop_timer_add(ex->loop, CLAIM_EVERY_MS, on_claim_timer, f);
	bus_reader_enable(ex->bus, exec_fleet_reader, ex);
}

void exec_fleet_bus_state(struct executor *ex, bool ready)
{
	struct fleet *f = ex->fleet;
	if (f == NULL || !ready)
		return;
	/* Replies that could not go out while Redis was away: their entries
	 * are still pending here; read them again (after the read in flight). */
	f->rewind = true;
	for (size_t i = 0; i < f->nqueued; i++) {
		exec_fleet_admit(ex, f->queued[i], f->queued_len[i]);
		free(f->queued[i]);
	}
	f->nqueued = 0;
	read_next(f);
}

void exec_fleet_kick(struct executor *ex)
{
	struct fleet *f = ex->fleet;
	if (f != NULL && f->held)
		read_next(f);
}

bool exec_fleet_active(const struct executor *ex)
{
	return ex->fleet != NULL && ex->fleet->usable;
}

void exec_fleet_free(struct executor *ex)
{
	struct fleet *f = ex->fleet;
	if (f == NULL)
		return;
	loop_timer_cancel(f->view_timer);
	loop_timer_cancel(f->claim_timer);
	strings_free(f->live, f->nlive);
	strings_free(f->queued, f->nqueued);
	free(f->queued_len);
	strings_free(f->nodes, f->nnodes);
	strings_free(f->v_nodes, f->v_nnodes);
	strings_free(f->v_tables, f->v_ntables);
	for (size_t i = 0; i < f->ntables; i++)
		cJSON_Delete(f->tables[i]);
	free(f->tables);
	free(f->tasks);
	free(f->prefix);
	free(f->k_commands);
	free(f->k_node);
	free(f->k_acting);
	free(f);
	ex->fleet = NULL;
}
