/*
 * exec_failover: tasks started with failover=true are started again on
 * another node when theirs is lost (docs/fleet.md, "Failover").
 *
 * A start with failover=true leaves its definition in Redis, written by
 * the reply script in the same step as its reply (FLEET_DEF_LUA):
 * <prefix>def:<task>, a hash of the start (msg), the node that runs it,
 * who started it (owner, owner_key), an epoch, its state (active or stopped), and the set <prefix>defs of
 * such names. After each view of the fleet, every executor runs:
 *
 *   check: one script over the definitions: an active one whose node is
 *          not live gets "lost since" (Redis's clock) the first time; one
 *          lost for longer than the grace is a candidate;
 *   move:  per candidate, one script that checks again (same node, same
 *          epoch, still active, the grace over, on Redis's clock), then
 *          names the new node (rendezvous over the live nodes) with
 *          epoch + 1, moves the name's holder, appends the start to the
 *          new node's stream (signed with this executor's key in the
 *          failover context, for the recorded owner: docs/security.md,
 *          11) and publishes a "failover" status message.
 *          Only the first executor's script finds the epoch it expects;
 *          the others change nothing;
 *   fence: one script over this node's own tasks: a task whose definition
 *          now names another node, with an epoch above the one it had when
 *          it left this node (the field gone:<node>), is a stale copy left
 *          by a node that was lost (its executor killed, its PM2 not): it
 *          is deleted here, with a "fenced" status message.
 *
 * Must not: move a definition but through the move script (one mover), use
 * this machine's clock for the grace, delete a task whose definition still
 * names this node, or block the loop.
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
#include "log.h"
#include "loop.h"
#include "sig.h"
#include "util.h"

#define MAX_MOVES "100"	 /* candidates one check returns */
#define MAX_FENCE 500	 /* local tasks one fence check looks at */
#define FENCE_AGAIN_MS 15000 /* a name fenced is not fenced again this soon */
#define FENCE_TTL_MS 60000   /* the delete that fences is worth this long */

/* Redis's clock in ms; scripts that read it and then write need effects
 * replication on Redis < 7 (on 7 it is the only mode). */
#define NOW_LUA                                                                                    \
	"if redis.replicate_commands then redis.replicate_commands() end "                        \
	"local t = redis.call('TIME') "                                                            \
	"local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) "

/* KEYS: the defs set; ARGV: the def key prefix, the grace in ms, the most
 * candidates to return, the live nodes... Returns name, node, epoch, msg
 * owner, owner key for each definition lost for longer than the grace. A def key of another
 * type (not tasker's) is skipped; a name without one leaves the set. */
static const char check_lua[] =
	NOW_LUA
	"local live = {} "
	"for i = 4, #ARGV do live[ARGV[i]] = true end "
	"local out = {} "
	"for _, name in ipairs(redis.call('SMEMBERS', KEYS[1])) do "
	"local k = ARGV[1] .. name "
	"local ok, d = pcall(redis.call, 'HMGET', k, 'node', 'epoch', 'state', 'lost_since', "
	"'lost_node') "
	"if not ok then "
	"elseif not d[1] then redis.call('SREM', KEYS[1], name) "
	"elseif d[3] == 'active' and not live[d[1]] then "
	"local since = tonumber(d[4]) "
	"if not since or d[5] ~= d[1] then "
	"redis.call('HSET', k, 'lost_since', now, 'lost_node', d[1]) "
	"elseif now - since >= tonumber(ARGV[2]) and #out < 6 * tonumber(ARGV[3]) then "
	"local m = redis.call('HMGET', k, 'msg', 'owner', 'owner_key') "
	"out[#out + 1] = name out[#out + 1] = d[1] out[#out + 1] = d[2] or '0' "
	"out[#out + 1] = m[1] or '' out[#out + 1] = m[2] or 'unsigned' "
	"out[#out + 1] = m[3] or '' end "
	"elseif d[4] then redis.call('HDEL', k, 'lost_since', 'lost_node') end "
	"end "
	"return out";

/* KEYS: def key, name key, the new node's stream; ARGV: lost node, its
 * epoch, grace ms, new node, the start, stream MAXLEN, status channel,
 * status message. Returns the new epoch, or 0 when another executor moved
 * it first (or the node came back). */
static const char move_lua[] =
	NOW_LUA
	"local d = redis.call('HMGET', KEYS[1], 'node', 'epoch', 'state', 'lost_since', 'lost_node') "
	"if d[1] ~= ARGV[1] or d[2] ~= ARGV[2] or d[3] ~= 'active' or d[5] ~= ARGV[1] then "
	"return 0 end "
	"local since = tonumber(d[4]) "
	"if not since or now - since < tonumber(ARGV[3]) then return 0 end "
	"local ep = (tonumber(ARGV[2]) or 0) + 1 "
	/* The start first: if it cannot be written, nothing has moved. */
	"redis.call('XADD', KEYS[3], 'MAXLEN', '~', ARGV[6], '*', 'm', ARGV[5], 't', now) "
	"redis.call('HSET', KEYS[1], 'node', ARGV[4], 'epoch', ep, 'gone:' .. ARGV[1], ARGV[2]) "
	"redis.call('HDEL', KEYS[1], 'lost_since', 'lost_node', 'gone:' .. ARGV[4]) "
	"redis.call('SET', KEYS[2], ARGV[4]) "
	"redis.call('PUBLISH', ARGV[7], ARGV[8]) "
	"return ep";

/* KEYS: the def keys of this node's tasks; ARGV: this node, the names.
 * Returns name, node, epoch for each task that left this node since. */
static const char fence_lua[] =
	"local out = {} "
	"for i, k in ipairs(KEYS) do "
	"local ok, d = pcall(redis.call, 'HMGET', k, 'node', 'epoch', 'gone:' .. ARGV[1]) "
	"if ok and d[1] and d[1] ~= ARGV[1] and d[3] and "
	"(tonumber(d[2]) or 0) > (tonumber(d[3]) or 0) then "
	"out[#out + 1] = ARGV[i + 1] out[#out + 1] = d[1] out[#out + 1] = d[2] end "
	"end "
	"return out";

struct fence_mark {
	char *name;
	int64_t at; /* loop ms */
};

struct failover {
	bool checking, fencing; /* a script in flight */
	bool refused_said;
	struct fence_mark *marks;
	size_t nmarks;
};

const char *exec_failover_op(enum verb verb, const char *status, const struct start_spec *spec)
{
	switch (verb) {
	case V_START:
		if (strcmp(status, "started") != 0)
			return "";
		return spec != NULL && spec->failover ? "def" : "plain";
	case V_STOP:
		return strcmp(status, "stopped") == 0 ? "stop" : "";
	case V_RESTART:
		return strcmp(status, "restarted") == 0 ? "restart" : "";
	case V_DELETE:
		return strcmp(status, "deleted") == 0	? "delete"
		       : strcmp(status, "not_found") == 0 ? "forget"
							  : "";
	case V_STATUS:
	case V_LOGS:
	case V_RESULT:
	case V_JOB:
		break;
	}
	return "";
}

static struct failover *state(struct fleet *f)
{
	if (f->failover == NULL)
		f->failover = xcalloc(1, sizeof(*f->failover));
	return f->failover;
}

void fleet_failover_free(struct fleet *f)
{
	struct failover *fo = f->failover;
	if (fo == NULL)
		return;
	for (size_t i = 0; i < fo->nmarks; i++)
		free(fo->marks[i].name);
	free(fo->marks);
	free(fo);
	f->failover = NULL;
}

static void refused(struct failover *fo, const redisReply *r, const char *what)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return;
	if (!fo->refused_said)
		log_error("failover: redis refused the %s script: %s", what, r->str);
	fo->refused_said = true;
}

static bool is_live(const struct fleet *f, const char *node)
{
	for (size_t i = 0; i < f->nnodes; i++)
		if (strcmp(f->nodes[i], node) == 0)
			return true;
	return false;
}

static const char *text(const redisReply *r)
{
	return r != NULL && r->type == REDIS_REPLY_STRING ? r->str : NULL;
}

/* --- moving a lost node's definitions ------------------------------------- */

struct move_ctx {
	struct fleet *f;
	char *name, *from, *to, *status;
};

static void on_moved(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct move_ctx *m = arg;
	struct executor *ex = m->f->ex;
	if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer > 0) {
		log_warn("failover: node %s is lost; task %s started again on node %s (epoch %lld)",
			 m->from, m->name, m->to, (long long)r->integer);
		history_add(ex->history, m->status, strlen(m->status)); /* after its PUBLISH */
	} else if (r != NULL && r->type == REDIS_REPLY_INTEGER) {
		log_debug("failover: task %s was moved by another executor (or its node is back)",
			  m->name);
	} else {
		refused(state(m->f), r, "move");
	}
	free(m->name);
	free(m->from);
	free(m->to);
	free(m->status);
	free(m);
}

/* The start the new node carries out: the definition with a request_id of
 * its own, so that its reply can be told apart, a timestamp, and who it is
 * for ("failover": the recorded owner and key, this node, the lost one,
 * the epoch), signed with this executor's key in the failover context
 * (docs/security.md, "Failover under a policy"). A definition that is not
 * a JSON object goes as it is: the new node answers it with an error, once,
 * rather than this executor complaining every second. */
static char *start_message(struct executor *ex, const char *msg, const char *request_id,
			   const char *owner, const char *owner_key, const char *from,
			   const char *to, long long epoch)
{
	cJSON *root = cJSON_Parse(msg);
	if (!cJSON_IsObject(root)) {
		cJSON_Delete(root);
		return xstrdup(msg);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(root, "request_id");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "timestamp");
	cJSON_DeleteItemFromObjectCaseSensitive(root, "failover");
	cJSON_AddStringToObject(root, "request_id", request_id);
	cJSON_AddNumberToObject(root, "timestamp", (double)util_wall_ms() / 1000.0); /* s */
	cJSON *fo = cJSON_AddObjectToObject(root, "failover");
	cJSON_AddStringToObject(fo, "owner", owner);
	cJSON_AddStringToObject(fo, "owner_key", owner_key);
	cJSON_AddStringToObject(fo, "by", ex->cfg->node);
	cJSON_AddStringToObject(fo, "from", from);
	cJSON_AddStringToObject(fo, "to", to);
	cJSON_AddNumberToObject(fo, "epoch", (double)epoch);
	char *s = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (s == NULL)
		abort();
	if (ex->reply_key == NULL)
		return s;
	char *w = sig_wrap(SIG_FAILOVER, ex->reply_key, s, strlen(s));
	if (w == NULL)
		return s; /* too long to sign: goes unsigned, judged as such */
	free(s);
	return w;
}

static void move(struct fleet *f, const char *name, const char *from, const char *epoch,
		 const char *msg, const char *owner, const char *owner_key)
{
	struct executor *ex = f->ex;
	/* Untrusted: what Redis holds was written by anyone with access. */
	if (check_task_name(name) != NULL || check_task_name(from) != NULL)
		return;
	if (is_live(f, from))
		return; /* back since the check: the script would clear it next time */
	const char *to = fleet_place(name, (const char *const *)f->nodes, f->nnodes);
	if (to == NULL)
		return;
	long long ep = strtoll(epoch, NULL, 10);
	char rid[128];
	snprintf(rid, sizeof(rid), "failover-%s-%lld", name, ep + 1);
	char *start = start_message(ex, msg, rid, owner, owner_key, from, to, ep + 1);
	char note[400];
	snprintf(note, sizeof(note),
		 "node %s was lost (its presence expired) for longer than the failover grace of "
		 "%.1f s: the task is started on node %s",
		 from, (double)ex->cfg->failover_grace_ms / 1000.0, to);
	struct status_msg st = {
		.task_name = name,
		.status = "failover",
		.pm_id = -1,
		.request_id = rid,
		.verb = "start",
		.node = to,
	};
	cJSON *obj = codec_status_json(&st, util_wall_ms());
	cJSON_AddStringToObject(obj, "from_node", from);
	cJSON_AddNumberToObject(obj, "epoch", (double)(ep + 1));
	cJSON_AddStringToObject(obj, "by_node", ex->cfg->node);
	cJSON_AddStringToObject(obj, "note", note);
	char *status = exec_status_text(ex, obj);
	if (status == NULL)
		abort();
	char *def_key = fleet_key(f, "def:", name);
	char *name_key = fleet_key(f, "name:", name);
	char *stream = fleet_key(f, "node:", to);
	char grace[32];
	snprintf(grace, sizeof(grace), "%lld", (long long)ex->cfg->failover_grace_ms);
	const char *argv[14] = {"EVAL", move_lua, "3",		   def_key,
				name_key, stream,   from,	   epoch,
				grace,	to,	    start,	   STREAM_MAXLEN,
				ex->cfg->status_channel, status};
	size_t lens[14];
	for (int i = 0; i < 14; i++)
		lens[i] = strlen(argv[i]);
	struct move_ctx *m = xmalloc(sizeof(*m));
	*m = (struct move_ctx){f, xstrdup(name), xstrdup(from), xstrdup(to), status};
	if (bus_command(ex->bus, 14, argv, lens, on_moved, m) < 0) {
		free(m->name);
		free(m->from);
		free(m->to);
		free(m->status);
		free(m);
	}
	free(start);
	free(def_key);
	free(name_key);
	free(stream);
}

static void on_checked(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fleet *f = arg;
	struct failover *fo = state(f);
	fo->checking = false;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		refused(fo, r, "check");
		return;
	}
	if (f->ex->draining || f->ex->conflicted)
		return;
	for (size_t i = 0; i + 5 < r->elements; i += 6) {
		const char *name = text(r->element[i]), *node = text(r->element[i + 1]);
		const char *epoch = text(r->element[i + 2]), *msg = text(r->element[i + 3]);
		const char *owner = text(r->element[i + 4]), *okey = text(r->element[i + 5]);
		if (name != NULL && node != NULL && epoch != NULL && msg != NULL && owner != NULL &&
		    okey != NULL)
			move(f, name, node, epoch, msg, owner, okey);
	}
}

static void check(struct fleet *f, struct failover *fo)
{
	if (fo->checking)
		return;
	char *prefix = fleet_key(f, "def:", NULL);
	char grace[32];
	snprintf(grace, sizeof(grace), "%lld", (long long)f->ex->cfg->failover_grace_ms);
	size_t n = 7 + f->nnodes;
	const char **argv = xcalloc(n, sizeof(*argv));
	size_t *lens = xcalloc(n, sizeof(*lens));
	size_t k = 0;
	argv[k++] = "EVAL";
	argv[k++] = check_lua;
	argv[k++] = "1";
	argv[k++] = f->k_defs;
	argv[k++] = prefix;
	argv[k++] = grace;
	argv[k++] = MAX_MOVES;
	for (size_t i = 0; i < f->nnodes; i++)
		argv[k++] = f->nodes[i];
	for (size_t i = 0; i < k; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(f->ex->bus, (int)k, argv, lens, on_checked, f) == 0)
		fo->checking = true;
	free(argv);
	free(lens);
	free(prefix);
}

/* --- fencing this node's stale copies ------------------------------------- */

static bool fenced_lately(struct failover *fo, const char *name, int64_t now)
{
	for (size_t i = 0; i < fo->nmarks;) {
		if (now - fo->marks[i].at >= FENCE_AGAIN_MS) {
			free(fo->marks[i].name);
			fo->marks[i] = fo->marks[--fo->nmarks];
			continue;
		}
		if (strcmp(fo->marks[i].name, name) == 0)
			return true;
		i++;
	}
	return false;
}

static void fence(struct fleet *f, const char *name, const char *node, const char *epoch)
{
	struct executor *ex = f->ex;
	struct failover *fo = state(f);
	int64_t now = loop_now(ex->loop);
	if (check_task_name(name) != NULL || fenced_lately(fo, name, now))
		return;
	fo->marks = xrealloc(fo->marks, (fo->nmarks + 1) * sizeof(*fo->marks));
	fo->marks[fo->nmarks++] = (struct fence_mark){xstrdup(name), now};
	char rid[128];
	snprintf(rid, sizeof(rid), "fence-%s-%.20s", name, epoch);
	char note[400];
	snprintf(note, sizeof(note),
		 "this node was lost and the task failed over to node %.128s (epoch %.20s): "
		 "deleting the copy left here",
		 node, epoch);
	log_warn("failover: task %s: %s", name, note);
	struct status_msg st = {
		.task_name = name,
		.status = "fenced",
		.pm_id = -1,
		.request_id = rid,
		.verb = "delete",
		.node = ex->cfg->node,
	};
	cJSON *obj = codec_status_json(&st, util_wall_ms());
	cJSON_AddStringToObject(obj, "to_node", node);
	cJSON_AddNumberToObject(obj, "epoch", (double)strtoll(epoch, NULL, 10));
	cJSON_AddStringToObject(obj, "note", note);
	exec_publish(ex, obj);
	/* A command like any other: it waits for one on the same name, and
	 * its reply (deleted) goes out on the status channel; not through the
	 * stream, so that the definition and the name's holder stay as the
	 * failover left them. */
	exec_command_take(ex, V_DELETE, "delete", name, rid, NULL, NULL, NULL,
			  util_wall_ms() + FENCE_TTL_MS, NULL, NULL);
}

static void on_fence_checked(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct fleet *f = arg;
	struct failover *fo = state(f);
	fo->fencing = false;
	if (r == NULL || r->type != REDIS_REPLY_ARRAY) {
		refused(fo, r, "fence");
		return;
	}
	if (f->ex->draining || f->ex->conflicted)
		return;
	for (size_t i = 0; i + 2 < r->elements; i += 3) {
		const char *name = text(r->element[i]), *node = text(r->element[i + 1]);
		const char *epoch = text(r->element[i + 2]);
		if (name != NULL && node != NULL && epoch != NULL)
			fence(f, name, node, epoch);
	}
}

static void fence_check(struct fleet *f, struct failover *fo)
{
	const char *self = f->ex->cfg->node;
	if (fo->fencing)
		return;
	/* This node's tasks, each name once, as its own table shows them. */
	const char **names = xcalloc(f->ntasks + 1, sizeof(*names));
	size_t n = 0;
	for (size_t i = 0; i < f->ntasks && n < MAX_FENCE; i++) {
		if (strcmp(f->tasks[i].node, self) != 0)
			continue;
		bool seen = false;
		for (size_t k = 0; k < n && !seen; k++)
			seen = strcmp(names[k], f->tasks[i].name) == 0;
		if (!seen)
			names[n++] = f->tasks[i].name;
	}
	if (n == 0) {
		free(names);
		return;
	}
	size_t argc = 3 + 2 * n + 1;
	const char **argv = xcalloc(argc, sizeof(*argv));
	size_t *lens = xcalloc(argc, sizeof(*lens));
	char **keys = xcalloc(n, sizeof(*keys));
	char count[24];
	snprintf(count, sizeof(count), "%zu", n);
	size_t k = 0;
	argv[k++] = "EVAL";
	argv[k++] = fence_lua;
	argv[k++] = count;
	for (size_t i = 0; i < n; i++)
		argv[k++] = keys[i] = fleet_key(f, "def:", names[i]);
	argv[k++] = self;
	for (size_t i = 0; i < n; i++)
		argv[k++] = names[i];
	for (size_t i = 0; i < k; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(f->ex->bus, (int)k, argv, lens, on_fence_checked, f) == 0)
		fo->fencing = true;
	for (size_t i = 0; i < n; i++)
		free(keys[i]);
	free(keys);
	free(argv);
	free(lens);
	free(names);
}

void fleet_failover_tick(struct fleet *f)
{
	struct executor *ex = f->ex;
	if (!f->usable || !f->view_ready || ex->draining || ex->conflicted || !ex->claimed ||
	    !bus_can_command(ex->bus))
		return;
	struct failover *fo = state(f);
	check(f, fo);
	fence_check(f, fo);
}
