/*
 * terminal: whether the terminal can show the console (see terminal.c).
 */
#ifndef TASKER_TUI_TERMINAL_H
#define TASKER_TUI_TERMINAL_H

#include <stdbool.h>
#include <stddef.h>

/* -1 with a sentence in why when the terminal cannot show the console:
 * TERM unset, unknown to terminfo, or without cursor addressing (TERM=dumb).
 * Call after setlocale() and before initscr(); leaves no terminfo loaded. */
int terminal_check(char *why, size_t size);

/* True when the current locale (LC_CTYPE) is UTF-8. */
bool terminal_utf8(void);

#endif
