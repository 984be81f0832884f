/*
 * help: the help box (?, F1, /help): every key of every view, made from one
 * table (help.c) so that the box, and the README's and the man page's key
 * tables written from it, list the same keys. It scrolls when it does not
 * fit: ↑↓ j k PgUp PgDn Home End g G; q or Esc closes it.
 *
 * Must not: draw (draw.c draws help_lines()), or act on a task.
 */
#ifndef TASKER_TUI_HELP_H
#define TASKER_TUI_HELP_H

#include <stdbool.h>
#include <stddef.h>

struct app;

/* The box's lines: a line starting with a non-blank is a section title.
 * Static; *n is set to their count. */
const char *const *help_lines(size_t *n);
/* The README's "Keys" tables made from the same table (sections as
 * "**Title**" then a markdown table; the closing prose left out): a test
 * checks that README.md holds them as they are. malloc'd. */
char *help_markdown(void);
/* The same for docs/tasker.1's key list (roff: .PP/.I titles, .TP/.B
 * keys). malloc'd. */
char *help_man(void);
/* A key while the help is open: true when it scrolled (the help stays),
 * false when it closes the help (the caller goes back to the table). */
bool help_key(struct app *app, int key);

#endif
