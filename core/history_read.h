/*
 * history_read: reads the status history stream (history.h) for a reader
 * that also listens to the status channel, and merges the two so that no
 * message is missed between them and none is shown twice.
 *
 * A merging reader holds every live message from its creation until its
 * first read has ended; the read replays the stream's entries (oldest
 * first); then the held messages follow, except those whose exact bytes
 * an entry of the replay already gave (each entry excuses one message);
 * after that, live messages pass, still without the copies of a replayed
 * entry that were late to arrive. Subscribe, create the reader, and start
 * the read once the subscription is confirmed: a message is then either
 * published before the subscription (and in the stream, if it is anywhere)
 * or received live (and perhaps also in the stream: shown once).
 *
 * Who frees: the reader is the caller's; free the bus first (its last
 * callbacks still reach the reader), then the reader.
 */
#ifndef TASKER_HISTORY_READ_H
#define TASKER_HISTORY_READ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"

struct history_read;

/* A message to show: a replayed entry or a live message released after the
 * replay. data is valid only during the call. */
typedef void (*history_message_fn)(const char *data, size_t len, void *arg);
/* A read ended: error is NULL, or why it could not be read (Redis's
 * words: NOPERM, an unknown command, a key of another type); replayed
 * counts the entries given. Called after the last entry, and before the
 * live messages held during the first read are given. */
typedef void (*history_done_fn)(const char *error, size_t replayed, void *arg);

/* merge: hold and merge live messages (see above); without it, the reader
 * only reads and the caller tells copies apart itself. done may be NULL. */
struct history_read *history_read_new(struct bus *bus, const char *status_channel, bool merge,
                                      history_message_fn message, history_done_fn done, void *arg);
void history_read_free(struct history_read *r);

/* Reads every entry from since_ms (wall clock) to the end of the stream,
 * in pages. Called while a read is under way, it reads again from since_ms
 * once that read has ended (so that what was added meanwhile is seen). */
void history_read_since(struct history_read *r, int64_t since_ms);
/* Reads the newest n entries (and gives them oldest first). */
void history_read_last(struct history_read *r, size_t n);
/* The bus is ready (again): a page lost with the connection, or not sent
 * while it was down, is asked now. */
void history_read_ready(struct history_read *r);

/* What a page's reply does (NULL: the connection went away). The bus
 * calls it; unit tests make the reader with bus NULL and feed it. */
struct redisReply;
void history_read_page(struct history_read *r, const struct redisReply *reply);

/* A live message on the status channel. Returns true when the reader took
 * it (held until the replay ends, or a copy of a replayed entry); false
 * when the caller shows it now. */
bool history_read_live(struct history_read *r, const char *data, size_t len);

#endif
