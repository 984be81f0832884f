/*
 * resultview: what the task detail view adds about a task's runs: its
 * schedule and next run (cron_next.h), and its last result as the
 * executor kept it in Redis (b00t:{tasker}:result:<task>, exec_result.h),
 * read on the console's own Redis connection, never blocking the screen.
 *
 * The record is untrusted: a malformed one is a line saying so; every text
 * goes through text_escape() before it reaches the terminal.
 */
#ifndef TASKER_TUI_RESULTVIEW_H
#define TASKER_TUI_RESULTVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct app;
struct pm2_proc;

/* A result record made readable: lines for the detail view. */
#define RESULT_SHOW_LINES 6
struct result_summary {
	bool ok;                            /* false: err says why the record is unreadable */
	char head[300];                     /* "exit 0 (ok), 16:50:10 -> 16:50:12 UTC, took 2.0s" */
	bool failed;                        /* not exit 0 */
	char lines[RESULT_SHOW_LINES][300]; /* "out| ..." / "err| ..." (escaped) */
	size_t nlines;
	char err[200];
};

/* Pure: reads a result record's JSON text into *out (times in local time). */
void result_summarize(const char *json, size_t len, struct result_summary *out);

/* Starts the reads (a timer on the loop); free after bus_free(). */
void resultview_start(struct app *app);
void resultview_free(struct app *app);
/* Draws the schedule and result lines for p from row on, in the box column
 * x of width w, not past bottom; returns the next free row. */
int resultview_draw(struct app *app, const struct pm2_proc *p, int row, int x, int w, int bottom);

#endif
