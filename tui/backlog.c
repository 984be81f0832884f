/*
 * backlog: see backlog.h. Must not: read the history again after a
 * reconnect (the feed would show what it has twice).
 */
#include "backlog.h"

#include <stdio.h>
#include <stdlib.h>

#include "app.h"
#include "history_read.h"
#include "reply_sig.h"
#include "util.h"

struct backlog {
	struct app *app;
	backlog_show_fn show;
	struct history_read *read;
	bool started;
	char done_error[300]; /* the end of the read, said in order */
	size_t done_replayed;
};

static void on_entry(const char *data, size_t len, void *arg)
{
	struct backlog *b = arg;
	b->show(b->app, data, len);
}

static void say_done(struct backlog *b, const char *error, size_t replayed);

/* After the replayed messages, which the signature checks may still hold
 * (reply_sig.h): the line that says "above" must come below them. */
static void done_in_order(void *arg)
{
	struct backlog *b = arg;
	say_done(b, b->done_error[0] ? b->done_error : NULL, b->done_replayed);
}

static void on_done(const char *error, size_t replayed, void *arg)
{
	struct backlog *b = arg;
	snprintf(b->done_error, sizeof(b->done_error), "%s", error ? error : "");
	b->done_replayed = replayed;
	reply_trust_after(b->app->trust, done_in_order, b);
}

static void say_done(struct backlog *b, const char *error, size_t replayed)
{
	char line[400];
	if (error != NULL) {
		snprintf(line, sizeof(line), "no earlier messages: cannot read the history: %.300s",
		         error);
		app_feed(b->app, FEED_INFO, line);
	} else if (replayed > 0) {
		snprintf(line, sizeof(line),
		         "above: the last %zu status message%s before the console "
		         "started (history)",
		         replayed, replayed == 1 ? "" : "s");
		app_feed(b->app, FEED_INFO, line);
	}
}

struct backlog *backlog_new(struct app *app, backlog_show_fn show)
{
	struct backlog *b = xcalloc(1, sizeof(*b));
	b->app = app;
	b->show = show;
	b->read = history_read_new(app->bus, app->cfg->status_channel, true, on_entry, on_done, b);
	return b;
}

void backlog_free(struct backlog *b)
{
	if (b == NULL)
		return;
	history_read_free(b->read);
	free(b);
}

void backlog_ready(struct backlog *b)
{
	if (b->started) {
		history_read_ready(b->read); /* a read cut by the outage goes on */
		return;
	}
	b->started = true;
	history_read_last(b->read, BACKLOG_ENTRIES);
}

bool backlog_live(struct backlog *b, const char *data, size_t len)
{
	return history_read_live(b->read, data, len);
}
