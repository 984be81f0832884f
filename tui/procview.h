/*
 * procview: the local PM2's rows of the console's table kept live between
 * listings, so that an open console does not ask the daemon for its whole
 * process list (about 720 KB at 500 tasks) every interval.
 *
 * The rows come from a full listing (every field of a task, as before);
 * the daemon's process events (pub.sock) patch status, restarts and
 * uptime at once and ask for one listing soon after (new pids, new tasks,
 * deletes, which PM2 never announces); CPU and memory of known pids are
 * read from /proc every interval (proc_stat.h), the figures PM2's own
 * monitoring gives. A safety listing comes every PROCVIEW_RELIST_MS, and
 * at once after any gap (the event socket lost or reconnected).
 *
 * Fallback: while the event socket is not up (an older daemon, an error),
 * the console lists every interval as it always did. So does
 * TASKER_CONSOLE_LIST=every (a hidden switch, for benches that compare).
 * TASKER_CONSOLE_STATS=FILE: writes the view's counters there (tests).
 *
 * Must not: show a row the daemon did not list, or trust a pid across a
 * gap.
 */
#ifndef TASKER_TUI_PROCVIEW_H
#define TASKER_TUI_PROCVIEW_H

#include <stdbool.h>
#include <stdint.h>

#include "pm2.h"

#define PROCVIEW_RELIST_MS 30000

struct app;

void procview_new(struct app *app);
void procview_free(struct app *app);

/* The interval's refresh: true when the console must list now; false when
 * the rows were refreshed from /proc instead. */
bool procview_tick(struct app *app);

/* A listing was sent, and came back (ok: procs are about to be merged).
 * procview_listed returns true when another listing is wanted soon (an
 * event arrived while this one was on its way). */
void procview_listing(struct app *app);
bool procview_listed(struct app *app, bool ok);

/* A process event: patches the row it names. Returns in how many ms a
 * listing should follow. */
int64_t procview_event(struct app *app, const struct pm2_event *ev);

/* The event socket came up or went down. */
void procview_events_state(struct app *app, bool up);

#endif
