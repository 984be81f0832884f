/*
 * backlog: the console opens with the recent feed. Once Redis is first
 * ready, the newest BACKLOG_ENTRIES entries of the status history stream
 * (core/history.h) go into the feed ahead of the live messages, with no
 * message lost or shown twice between the two (core/history_read.h).
 * console.c only wires it: the feed line itself is console.c's, through
 * the show function given.
 */
#ifndef TASKER_TUI_BACKLOG_H
#define TASKER_TUI_BACKLOG_H

#include <stdbool.h>
#include <stddef.h>

#define BACKLOG_ENTRIES 200

struct app;
struct backlog;

/* Shows one status message (an entry of the history, or a live message
 * held while the history was read) as a live one would be shown. */
typedef void (*backlog_show_fn)(struct app *app, const char *data, size_t len);

/* Made before the bus subscribes, so that no live message slips ahead of
 * the history. Free it after the bus (the bus's last callbacks still
 * reach it). backlog_free takes NULL. */
struct backlog *backlog_new(struct app *app, backlog_show_fn show);
void backlog_free(struct backlog *b);
/* Redis is ready: the first time, reads the history. */
void backlog_ready(struct backlog *b);
/* A live status message: false when the caller shows it now; true when
 * the backlog took it (held until the history is in the feed, or already
 * shown from the history). */
bool backlog_live(struct backlog *b, const char *data, size_t len);

#endif
