/*
 * history: the status history, a capped Redis stream that holds the last N
 * status messages, so that a reader who was not listening when a message
 * went out (tasker watch --since, tasker send --wait after a reconnect, the
 * console as it opens) can still read it.
 *
 * This file owns what is written and how: the key name, the entry format
 * (one field "m" holding the exact bytes of the message as published), the
 * cap, and the writer the executor calls once per published message. The
 * reader that merges a replay with live messages is history_read.h.
 *
 * Must not: stop or delay a PUBLISH (the stream is a copy, the channel is
 * the protocol), or log a refusal more than once per outage.
 */
#ifndef TASKER_HISTORY_H
#define TASKER_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"

/* The stream of the default status channel; another channel has its own
 * (history_key). The {tasker} hash tag keeps every fleet key in one Redis
 * Cluster slot. */
#define HISTORY_KEY "b00t:{tasker}:status"
/* The entry's one field: the message bytes. */
#define HISTORY_FIELD "m"
/* Entries kept by default (tasker exec --history). */
#define HISTORY_DEFAULT_LEN 10000L
#define HISTORY_MAX_LEN 100000000L

struct redisReply;

/* The stream key for a status channel: HISTORY_KEY for the default
 * channel, HISTORY_KEY ":" CHANNEL for any other, so that readers of one
 * channel never replay another's messages. Caller frees. */
char *history_key(const char *status_channel);

/* A stream ID "MS-0" for a wall-clock time: the first ID at or after it
 * (times before the epoch give "0-0"). */
void history_id_at(int64_t wall_ms, char *buf, size_t size);

/*
 * Parses --since: a duration before now ("30s", "10m", "2h", "1d", or
 * several: "1h30m"), or an absolute ISO-8601 time with its zone
 * ("2026-11-27T10:00:00Z"). Sets *since_ms to the wall-clock time the
 * replay starts at. Returns 0, or -1 with a sentence in err. Pure: now_ms
 * is given.
 */
int history_parse_since(const char *text, int64_t now_ms, int64_t *since_ms, char *err,
                        size_t errlen);

/* One entry of an XRANGE or XREVRANGE reply; points into the reply. */
struct history_entry {
	const char *id;
	const char *data; /* the field "m"; NULL when the entry has none */
	size_t len;
};

/*
 * Reads an XRANGE/XREVRANGE reply: fills out[0..cap) in reply order and
 * returns how many entries the reply held (entries past cap are counted,
 * not stored), or -1 when the reply is not a list of entries. The reply is
 * untrusted: anything may have been added to the key; an entry without
 * the field "m" has data NULL.
 */
long history_entries(const struct redisReply *reply, struct history_entry *out, size_t cap);

/* --- the writer ------------------------------------------------------------ */

struct history_writer;

/* A writer appending to the stream of status_channel, keeping about
 * maxlen entries (MAXLEN ~). Returns NULL when maxlen <= 0 (no history);
 * every function below takes NULL and does nothing. The bus must outlive
 * the writer, or be freed first (its last callbacks still reach it). */
struct history_writer *history_writer_new(struct bus *bus, const char *status_channel, long maxlen);
void history_writer_free(struct history_writer *w);

/* Appends data[0..len) (a status message just published). While the
 * publish connection is down, the last entries wait (at most 1000) and go
 * out when it is back, after anything older. */
void history_add(struct history_writer *w, const char *data, size_t len);
/* Sends what waited while Redis was down (call when the bus is ready). */
void history_flush(struct history_writer *w);

#endif
