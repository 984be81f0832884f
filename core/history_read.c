/*
 * history_read: see history_read.h. XRANGE pages from a start ID to the end
 * of the stream (the next page starts after the last ID given, so an entry
 * is read once), or one XREVRANGE for the newest entries; and the merge
 * with live messages.
 *
 * Why the merge compares bytes: the executor publishes a message, then adds
 * it to the stream, so a message published after the subscription was
 * confirmed reaches us live and may also be in the replay; nothing on the
 * channel says which entry it is, but the entry holds the very bytes. The
 * copies are among the newest entries of the replay (added after the
 * subscription), so only the last SEEN_MAX entries are remembered for it.
 *
 * Must not: hold live messages without bound (past HELD_BYTES they pass at
 * once), or read an entry twice in one read.
 */
#include "history_read.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "history.h"
#include "log.h"
#include "util.h"

#define PAGE 500
#define SEEN_MAX 4096
#define SEEN_BYTES (4u << 20)
#define HELD_BYTES (64u << 20)

enum read_state { READ_IDLE, READ_ASKING, READ_STALLED };

struct copy {
	uint64_t hash;
	char *data; /* NULL once used or dropped */
	size_t len;
};

struct history_read {
	struct bus *bus;
	char *key;
	bool merge;
	history_message_fn message;
	history_done_fn done;
	void *arg;

	enum read_state state;
	bool newest; /* XREVRANGE COUNT newest_n, not XRANGE pages */
	size_t newest_n;
	char cursor[48]; /* where the next XRANGE page starts */
	size_t replayed;
	bool again; /* a read asked while one was under way */
	int64_t again_ms;

	/* Live messages held until the first read ends. */
	bool holding;
	struct copy *held;
	size_t nheld, held_cap, held_bytes;
	bool overflow_said;

	/* The newest entries replayed: a ring of SEEN_MAX. */
	struct copy *seen;
	size_t seen_start, seen_count, seen_bytes;
};

static uint64_t hash_bytes(const char *data, size_t len)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)data[i];
		h *= 1099511628211ULL;
	}
	return h;
}

static char *copy_bytes(const char *data, size_t len)
{
	char *c = xmalloc(len + 1);
	memcpy(c, data, len);
	c[len] = '\0';
	return c;
}

struct history_read *history_read_new(struct bus *bus, const char *status_channel, bool merge,
                                      history_message_fn message, history_done_fn done, void *arg)
{
	struct history_read *r = xcalloc(1, sizeof(*r));
	r->bus = bus;
	r->key = history_key(status_channel);
	r->merge = merge;
	r->holding = merge;
	r->message = message;
	r->done = done;
	r->arg = arg;
	return r;
}

void history_read_free(struct history_read *r)
{
	if (r == NULL)
		return;
	for (size_t i = 0; i < r->nheld; i++)
		free(r->held[i].data);
	free(r->held);
	for (size_t i = 0; i < r->seen_count; i++)
		free(r->seen[(r->seen_start + i) % SEEN_MAX].data);
	free(r->seen);
	free(r->key);
	free(r);
}

/* --- the copies of replayed entries ---------------------------------------- */

static void seen_drop_oldest(struct history_read *r)
{
	struct copy *c = &r->seen[r->seen_start];
	if (c->data != NULL)
		r->seen_bytes -= c->len;
	free(c->data);
	c->data = NULL;
	r->seen_start = (r->seen_start + 1) % SEEN_MAX;
	r->seen_count--;
}

static void seen_add(struct history_read *r, const char *data, size_t len)
{
	if (r->seen == NULL)
		r->seen = xcalloc(SEEN_MAX, sizeof(*r->seen));
	while (r->seen_count > 0 && (r->seen_count == SEEN_MAX || r->seen_bytes + len > SEEN_BYTES))
		seen_drop_oldest(r);
	if (len > SEEN_BYTES)
		return;
	r->seen[(r->seen_start + r->seen_count) % SEEN_MAX] =
	    (struct copy){hash_bytes(data, len), copy_bytes(data, len), len};
	r->seen_count++;
	r->seen_bytes += len;
}

/* Whether data is a replayed entry not yet matched; each entry matches once. */
static bool seen_take(struct history_read *r, const char *data, size_t len)
{
	if (r->seen_count == 0)
		return false;
	uint64_t h = hash_bytes(data, len);
	for (size_t i = r->seen_count; i-- > 0;) {
		struct copy *c = &r->seen[(r->seen_start + i) % SEEN_MAX];
		if (c->data != NULL && c->hash == h && c->len == len &&
		    memcmp(c->data, data, len) == 0) {
			free(c->data);
			c->data = NULL;
			r->seen_bytes -= len;
			return true;
		}
	}
	return false;
}

/* --- reading ------------------------------------------------------------------- */

static void ask(struct history_read *r);

static void finish(struct history_read *r, const char *error)
{
	r->state = READ_IDLE;
	size_t replayed = r->replayed;
	bool again = r->again;
	r->again = false;
	if (r->done != NULL)
		r->done(error, replayed, r->arg);
	if (r->holding) {
		/* The first read is over: what came live meanwhile follows it,
		 * without what the replay already gave. */
		r->holding = false;
		struct copy *held = r->held;
		size_t n = r->nheld;
		r->held = NULL;
		r->nheld = r->held_cap = r->held_bytes = 0;
		size_t copies = 0;
		for (size_t i = 0; i < n; i++) {
			if (seen_take(r, held[i].data, held[i].len))
				copies++;
			else
				r->message(held[i].data, held[i].len, r->arg);
			free(held[i].data);
		}
		free(held);
		log_debug("history: %zu live message(s) came during the read of %s, %zu of them "
		          "also in it",
		          n, r->key, copies);
	}
	if (again)
		history_read_since(r, r->again_ms);
}

void history_read_page(struct history_read *r, const struct redisReply *reply)
{
	if (reply == NULL) {
		/* The connection went away: ask again when it is back. */
		r->state = READ_STALLED;
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		finish(r, reply->str);
		return;
	}
	long n = history_entries(reply, NULL, 0);
	if (n < 0) {
		finish(r, "the history key does not hold stream entries");
		return;
	}
	struct history_entry *e = xcalloc(n > 0 ? (size_t)n : 1, sizeof(*e));
	history_entries(reply, e, (size_t)n);
	for (long i = 0; i < n; i++) {
		/* XREVRANGE gives the newest first: show them oldest first. */
		const struct history_entry *x = &e[r->newest ? n - 1 - i : i];
		if (x->data == NULL)
			continue; /* not an entry of ours */
		r->replayed++;
		if (r->merge)
			seen_add(r, x->data, x->len);
		r->message(x->data, x->len, r->arg);
	}
	if (!r->newest && n == PAGE) {
		/* "(" makes the start exclusive (Redis 6.2): the next page begins
		 * after the last entry given. */
		snprintf(r->cursor, sizeof(r->cursor), "(%.40s", e[n - 1].id);
		free(e);
		ask(r);
		return;
	}
	free(e);
	finish(r, NULL);
}

static void on_page(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	history_read_page(arg, reply);
}

static void ask(struct history_read *r)
{
	char count[24];
	int rc;
	if (r->bus == NULL) {
		r->state = READ_STALLED; /* a unit test feeds the pages */
		return;
	}
	if (r->newest) {
		snprintf(count, sizeof(count), "%zu", r->newest_n);
		const char *argv[6] = {"XREVRANGE", r->key, "+", "-", "COUNT", count};
		size_t lens[6] = {9, strlen(r->key), 1, 1, 5, strlen(count)};
		rc = bus_command(r->bus, 6, argv, lens, on_page, r);
	} else {
		snprintf(count, sizeof(count), "%d", PAGE);
		const char *argv[6] = {"XRANGE", r->key, r->cursor, "+", "COUNT", count};
		size_t lens[6] = {6, strlen(r->key), strlen(r->cursor), 1, 5, strlen(count)};
		rc = bus_command(r->bus, 6, argv, lens, on_page, r);
	}
	r->state = rc == 0 ? READ_ASKING : READ_STALLED;
}

void history_read_since(struct history_read *r, int64_t since_ms)
{
	if (r->state == READ_ASKING) {
		r->again = true;
		r->again_ms = since_ms;
		return;
	}
	r->newest = false;
	r->replayed = 0;
	history_id_at(since_ms, r->cursor, sizeof(r->cursor));
	ask(r);
}

void history_read_last(struct history_read *r, size_t n)
{
	if (r->state == READ_ASKING)
		return;
	r->newest = true;
	r->newest_n = n > 0 ? n : 1;
	r->replayed = 0;
	ask(r);
}

void history_read_ready(struct history_read *r)
{
	if (r->state == READ_STALLED)
		ask(r);
}

bool history_read_live(struct history_read *r, const char *data, size_t len)
{
	if (!r->merge)
		return false;
	if (!r->holding)
		return seen_take(r, data, len);
	if (r->held_bytes + len > HELD_BYTES) {
		/* Past the bound, live messages pass at once: out of order with
		 * the replay, but none lost. */
		if (!r->overflow_said)
			log_warn("history: more than %u MiB of live messages while reading %s; "
			         "showing them without waiting for the replay",
			         HELD_BYTES >> 20, r->key);
		r->overflow_said = true;
		return false;
	}
	if (r->nheld == r->held_cap) {
		r->held_cap = r->held_cap ? r->held_cap * 2 : 64;
		r->held = xrealloc(r->held, r->held_cap * sizeof(*r->held));
	}
	r->held[r->nheld++] = (struct copy){0, copy_bytes(data, len), len};
	r->held_bytes += len;
	return true;
}
