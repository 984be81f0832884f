/*
 * draw_history: what the console draws from the task history
 * (history_ring.h): the table's CPU HISTORY column, the detail view's
 * graph with restarts on its timeline, and the header's CPU and memory
 * meter. draw.c calls these at a few points; they draw on stdscr and
 * change no state.
 */
#ifndef TASKER_TUI_DRAW_HISTORY_H
#define TASKER_TUI_DRAW_HISTORY_H

#include <stdbool.h>
#include <stddef.h>

#include "app.h"

/* The title of the table's history column. */
#define HISTORY_TITLE "CPU HISTORY"

/* How wide the history column is, from the columns left over at the
 * right of the table (0: too few, no column). */
int history_column_width(int spare);

/* The history cell of row p at (y, x), w columns wide; attr >= 0: draw in
 * it (the selected row), else in the theme's spark-cpu style. */
void history_draw_cell(const struct app *app, int y, int x, int w, const struct pm2_proc *p,
		       int attr);

/* The detail view's graph of p at row y, columns x..x+w, in at most avail
 * rows (what it needs, or a single line, or nothing). Returns rows used. */
int history_draw_detail(const struct app *app, const struct pm2_proc *p, int y, int x, int w,
			int avail);

/* Pure: the restarts line under the detail graph: one mark per sample of
 * rs[0..n) ("↺" where it saw a restart, else "─"; ascii: "R", "-"), whole
 * marks only, in buf[0..size). Returns how many marks it holds. */
size_t history_marks(const unsigned char *rs, size_t n, bool ascii, char *buf, size_t size);

/* The header's meter, for the rows shown: "cpu ██▍   45% mem 312M", or
 * per node in a fleet "n1 45% 300M · n2 3% 40M". "" when there is
 * nothing to say. ascii: no block characters. */
void history_meter(const struct app *app, bool ascii, char *buf, size_t size);

#endif
