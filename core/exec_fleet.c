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
 * This file reads both streams and carries out this node's entries; the
 * view of the fleet, admission and dispatch have files of their own
 * (exec_fleet_int.h).
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
#include "exec_fleet_int.h"
#include "executor_int.h"
#include "fleet_route.h"
#include "fleet_tasks.h"
#include "log.h"
#include "metrics_exec.h"
#include "loop.h"
#include "util.h"

/* Dispatch: acknowledge and forward to every node stream named, at once;
 * an entry acknowledged already (dispatched twice) is not forwarded again.
 * KEYS: commands, name key, node streams...; ARGV: entry id, message,
 * arrival ms, node that now holds the name (or ""), MAXLEN, "1" when the
 * first node is the name's holder and the others only show it in their
 * tables (their entries carry x=1: a not_found there stays silent). */
const char fleet_forward_lua[] =
	/* Nothing is written unless every write can succeed: a node stream key
	 * of another type would fail its XADD after the XACK (no rollback). */
	"for i = 3, #KEYS do local t = redis.call('TYPE', KEYS[i]).ok "
	"if t ~= 'stream' and t ~= 'none' then "
	"return redis.error_reply('WRONGTYPE ' .. KEYS[i] .. ' is not a stream') end end "
	"if redis.call('XACK', KEYS[1], 'tasker', ARGV[1]) == 0 then return 0 end "
	"if ARGV[4] ~= '' then redis.call('SET', KEYS[2], ARGV[4]) end "
	"for i = 3, #KEYS do if i > 3 and ARGV[6] == '1' then "
	"redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[5], '*', 'm', ARGV[2], 't', ARGV[3], "
	"'x', '1') else "
	"redis.call('XADD', KEYS[i], 'MAXLEN', '~', ARGV[5], '*', 'm', ARGV[2], 't', ARGV[3]) end end "
	"return #KEYS - 2";

/* A reply: publish, acknowledge, forget the acting record, keep the
 * name's holder, and for a command that was not carried out let its once
 * key go in 3 s (sent again later, it is taken again; the other executors'
 * copies of the same PUBLISH, admitted within ms, are still dropped). A
 * delete leaves "~<node>" on the name for 10 s: the node's task table
 * still shows the name for a moment, and dispatchers must not count it.
 * An entry acknowledged already (delivered twice) publishes nothing.
 * KEYS: stream, acting hash, name key, once key, def key, defs set; ARGV:
 * status channel, reply, entry id, "set"/"del"/"gone"/"", node, "1" to let
 * the once key go, what becomes of the failover definition
 * (exec_failover.c: "def", "plain", "stop", "restart", "delete", "forget"
 * or ""), the definition, the task name, its owner and owner key. The definition goes in the same
 * step as the reply, so a failover task never runs without one. */
const char fleet_reply_lua[] =
	"if redis.call('XACK', KEYS[1], 'tasker', ARGV[3]) == 0 then return 0 end "
	"redis.call('PUBLISH', ARGV[1], ARGV[2]) "
	"redis.call('HDEL', KEYS[2], ARGV[3]) "
	"if ARGV[6] == '1' then redis.call('PEXPIRE', KEYS[4], 3000) end "
	"if ARGV[4] == 'del' and redis.call('GET', KEYS[3]) == ARGV[5] then "
	"redis.call('DEL', KEYS[3]) end "
	"if ARGV[4] == 'set' then redis.call('SET', KEYS[3], ARGV[5]) end "
	"if ARGV[4] == 'gone' then local h = redis.call('GET', KEYS[3]) "
	"if not h or h == ARGV[5] then redis.call('SET', KEYS[3], '~' .. ARGV[5], 'PX', 10000) end end "
	FLEET_DEF_LUA
	"return 1";



char *fleet_key(const struct fleet *f, const char *what, const char *name)
{
	return xasprintf("%s%s%s", f->prefix, what, name ? name : "");
}

bool fleet_refused(const redisReply *r)
{
	return r == NULL || r->type == REDIS_REPLY_ERROR;
}

/* Stream commands refused (not a lost connection): carry on without. */
static bool permanent(const redisReply *r)
{
	if (r == NULL || r->type != REDIS_REPLY_ERROR)
		return r != NULL;
	return fleet_admit_refused_for_good(r->str);
}

void fleet_fall_back(struct fleet *f, const redisReply *r)
{
	/* A passing refusal (LOADING, BUSY, OOM, READONLY...) is retried: a
	 * fleet that ran everything everywhere would run each command N times. */
	if (!permanent(r)) {
		/* Said once every 10 s at most: a long OOM refuses every retry. */
		int64_t now = loop_now(f->ex->loop);
		if (r != NULL && (f->passing_said == 0 || now - f->passing_said >= 10000)) {
			log_warn("fleet: redis said %s; trying again", r->str);
			f->passing_said = now;
		}
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

void fleet_on_acked(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	(void)arg;
	if (fleet_refused(r) && r != NULL)
		log_warn("fleet: redis refused to acknowledge a command: %s", r->str);
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
		       int64_t arrival, bool pending, bool extra)
{
	if (is_live(f, id))
		return;
	f->live = xrealloc(f->live, (f->nlive + 1) * sizeof(char *));
	f->live[f->nlive++] = xstrdup(id);
	struct entry_ctx *e = xcalloc(1, sizeof(*e));
	e->f = f;
	snprintf(e->entry.id, sizeof(e->entry.id), "%s", id);
	e->entry.arrival = arrival;
	e->entry.extra = extra;
	e->data = xstrndup(data, len);
	e->len = len;
	if (!pending) {
		exec_intake(f->ex, e->data, e->len, &e->entry);
		free(e->data);
		free(e);
		return;
	}
	metrics_exec_redelivered(f->ex);
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
	char *json; /* the reply: into the history once Redis published it */
};

static void on_replied(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct reply_ctx *c = arg;
	struct executor *ex = c->f->ex;
	bool lost = r == NULL || r->type == REDIS_REPLY_ERROR;
	if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    fleet_admit_refused_for_good(r->str)) {
		/* Redis will never take this script (an ACL without XACK or
		 * PUBLISH): the fleet is off here, and the reply goes out as a
		 * plain PUBLISH rather than being tried again for ever. */
		fleet_fall_back(c->f, r);
		if (bus_publish(ex->bus, ex->cfg->status_channel, c->json, strlen(c->json), NULL,
				NULL) == 0)
			history_add(ex->history, c->json, strlen(c->json));
		lost = false;
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		log_error("fleet: redis refused a reply: %s", r->str);
	} else if (r != NULL && r->type == REDIS_REPLY_INTEGER && r->integer == 1) {
		/* Published (0: the entry was answered already, by another copy). */
		history_add(ex->history, c->json, strlen(c->json));
	}
	/* Success or not, the entry is no longer ours to skip: one whose reply
	 * did not go out is still pending and is read again. */
	live_remove(c->f, c->id);
	if (lost)
		c->f->rewind = true;
	if (ex->unacked > 0)
		ex->unacked--;
	exec_drain_check(ex);
	free(c->json);
	free(c);
}

void exec_fleet_reply(struct executor *ex, const struct exec_entry *entry, cJSON *obj,
		      const char *name, const char *name_op, const char *forget_id)
{
	exec_fleet_reply_def(ex, entry, obj, name, name_op, forget_id, "", NULL, NULL, NULL);
}

void exec_fleet_reply_def(struct executor *ex, const struct exec_entry *entry, cJSON *obj,
			  const char *name, const char *name_op, const char *forget_id,
			  const char *def_op, const char *definition, const char *owner,
			  const char *owner_key)
{
	struct fleet *f = ex->fleet;
	char *json = exec_status_text(ex, obj);
	if (json == NULL)
		return;
	char *name_key = fleet_key(f, "name:", name ? name : "");
	char *once = fleet_key(f, "once:", forget_id ? forget_id : "");
	char *def_key = fleet_key(f, "def:", name ? name : "");
	const char *argv[20] = {"EVAL",
				fleet_reply_lua,
				"6",
				f->k_node,
				f->k_acting,
				name_key,
				once,
				def_key,
				f->k_defs,
				ex->cfg->status_channel,
				json,
				entry->id,
				name ? name_op : "",
				ex->cfg->node,
				forget_id ? "1" : "0",
				name && def_op ? def_op : "",
				definition ? definition : "",
				name ? name : "",
				owner ? owner : "unsigned",
				owner_key ? owner_key : ""};
	size_t lens[20];
	for (int i = 0; i < 20; i++)
		lens[i] = strlen(argv[i]);
	struct reply_ctx *c = xmalloc(sizeof(*c));
	c->f = f;
	snprintf(c->id, sizeof(c->id), "%s", entry->id);
	c->json = xstrdup(json);
	if (bus_command(ex->bus, 20, argv, lens, on_replied, c) == 0) {
		ex->unacked++;
	} else {
		/* Redis is down: the entry stays pending; it is read again and
		 * answered once Redis is back (exec_fleet_bus_state). */
		live_remove(f, entry->id);
		free(c->json);
		free(c);
	}
	free(name_key);
	free(once);
	free(def_key);
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
	bus_command(f->ex->bus, 4, argv, lens, fleet_on_acked, f);
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
			fleet_dispatch(f, id, m, len);
		} else {
			size_t tl = 0;
			const char *t = field(e->element[1], "t", &tl);
			/* t is the dispatcher's copy of the intake id's time: untrusted
			 * bytes, used only when sane (no later than this entry's own id). */
			int64_t own = strtoll(id, NULL, 10);
			int64_t arrival = t ? strtoll(t, NULL, 10) : own;
			if (arrival <= 0 || arrival > own)
				arrival = own;
			size_t xl = 0;
			const char *x = field(e->element[1], "x", &xl);
			node_entry(f, id, m, len, arrival, pending, x != NULL && xl == 1 && x[0] == '1');
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
			fleet_fall_back(f, r);
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
	fleet_read_next(f);
}

void fleet_read_next(struct fleet *f)
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
			fleet_fall_back(f, r);
		g->failed = true;
	}
	if (--g->left > 0)
		return;
	f->grouping = false;
	if (!g->failed) {
		f->groups = true;
		snprintf(f->cur_commands, sizeof(f->cur_commands), "0");
		snprintf(f->cur_node, sizeof(f->cur_node), "0");
		fleet_read_next(f);
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
		fleet_read_next(f);
		return;
	}
	if (f->grouping)
		return;
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
	else
		f->grouping = true;
}

/* Reading stops on a passing refusal (LOADING, BUSY, ...) of a read or of
 * the groups' creation; the view's tick (every second) starts it again. */
void fleet_reader_kick(struct fleet *f)
{
	struct executor *ex = f->ex;
	if (!f->usable || f->reading || f->held || !bus_reader_up(ex->bus))
		return;
	if (!f->groups)
		exec_fleet_reader(ex->bus, true, ex);
	else
		fleet_read_next(f);
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
	if (!f->usable || !f->groups || !f->view_ready || f->ex->draining || f->ex->conflicted ||
	    !f->ex->claimed)
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
	f->k_commands = fleet_key(f, "commands", NULL);
	f->k_node = fleet_key(f, "node:", ex->cfg->node);
	f->k_acting = fleet_key(f, "acting:", ex->cfg->node);
	f->k_defs = fleet_key(f, "defs", NULL);
	snprintf(f->cur_commands, sizeof(f->cur_commands), "0");
	snprintf(f->cur_node, sizeof(f->cur_node), "0");
	ex->fleet = f;
	f->view_timer = loop_timer_add(ex->loop, 0, fleet_view_tick, f);
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
	fleet_flush_admissions(f);
	fleet_read_next(f);
}

void exec_fleet_kick(struct executor *ex)
{
	struct fleet *f = ex->fleet;
	if (f != NULL && f->held)
		fleet_read_next(f);
}

bool exec_fleet_active(const struct executor *ex)
{
	return ex->fleet != NULL && ex->fleet->usable;
}

bool exec_fleet_node_live(const struct executor *ex, const char *node)
{
	if (!exec_fleet_active(ex) || node == NULL)
		return false;
	for (size_t i = 0; i < ex->fleet->nnodes; i++)
		if (strcmp(ex->fleet->nodes[i], node) == 0)
			return true;
	return false;
}

void exec_fleet_free(struct executor *ex)
{
	struct fleet *f = ex->fleet;
	if (f == NULL)
		return;
	fleet_deferred_free(f);
	loop_timer_cancel(f->view_timer);
	loop_timer_cancel(f->claim_timer);
	fleet_strings_free(f->live, f->nlive);
	fleet_strings_free(f->queued, f->nqueued);
	free(f->queued_len);
	fleet_strings_free(f->nodes, f->nnodes);
	fleet_strings_free(f->v_nodes, f->v_nnodes);
	fleet_strings_free(f->v_tables, f->v_ntables);
	for (size_t i = 0; i < f->ntables; i++)
		cJSON_Delete(f->tables[i]);
	free(f->tables);
	free(f->table_hash);
	free(f->tasks);
	free(f->prefix);
	free(f->k_commands);
	free(f->k_node);
	free(f->k_acting);
	free(f->k_defs);
	fleet_failover_free(f);
	free(f);
	ex->fleet = NULL;
}
