/*
 * terminal: what the console needs of the terminal, asked before curses
 * starts: cursor addressing (terminfo), and whether the locale is UTF-8
 * (else draw.c writes ASCII only). It draws nothing and keeps no state.
 *
 * Apart from the rest of tui/ because <term.h> defines macros named like
 * ordinary words (lines, columns) that other headers use as field names.
 */
#include "terminal.h"

#include <curses.h>
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <strings.h>
#include <term.h>
#include <unistd.h>

int terminal_check(char *why, size_t size)
{
	const char *term = getenv("TERM");
	int err = 0;
	if (term == NULL || term[0] == '\0') {
		snprintf(why, size, "TERM is not set: the console cannot draw; set it (for instance "
				    "TERM=xterm-256color), or use tasker watch, tasker ls or tasker send");
		return -1;
	}
	if (setupterm(NULL, STDOUT_FILENO, &err) != OK) {
		snprintf(why, size, "the terminal type TERM=%.60s is unknown here (no terminfo entry); "
				    "set TERM (for instance TERM=xterm-256color), or use tasker watch, "
				    "tasker ls or tasker send", term);
		return -1;
	}
	/* The console moves the cursor and clears lines: a terminal that cannot
	 * (TERM=dumb) gets one garbled line. */
	const char *cup = tigetstr("cup");
	const char *clear = tigetstr("clear");
	bool ok = cup != NULL && cup != (char *)-1 && clear != NULL && clear != (char *)-1;
	del_curterm(cur_term);
	cur_term = NULL;
	if (!ok) {
		snprintf(why, size, "the terminal TERM=%.60s cannot move the cursor, which the console "
				    "needs; use a full-screen terminal, or tasker watch, tasker ls or "
				    "tasker send", term);
		return -1;
	}
	return 0;
}

bool terminal_utf8(void)
{
	const char *codeset = nl_langinfo(CODESET);
	return strcasecmp(codeset, "UTF-8") == 0 || strcasecmp(codeset, "utf8") == 0;
}
