/*
 * feed: the bounded scrollback of status messages (pure: no curses, no IO).
 * Old lines fall off the front; a flood costs a fixed amount of memory.
 */
#ifndef TASKER_TUI_FEED_H
#define TASKER_TUI_FEED_H

#include <stddef.h>

enum feed_kind { FEED_INFO, FEED_OK, FEED_ERROR };

struct feed_line {
	char time[12];
	char text[300];
	enum feed_kind kind;
};

struct feed {
	struct feed_line *lines; /* ring of cap lines */
	size_t cap, start, count;
	size_t scroll; /* lines scrolled back from the newest; 0 follows */
};

void feed_init(struct feed *f, size_t cap);
void feed_free(struct feed *f);
void feed_add(struct feed *f, const char *time, enum feed_kind kind, const char *text);
/* The i-th line, 0 the oldest kept; NULL past the end. */
const struct feed_line *feed_get(const struct feed *f, size_t i);
/* Scrolls back (positive) or forward (negative), clamped for a view of
 * height lines. */
void feed_scroll(struct feed *f, long delta, size_t height);
void feed_clear(struct feed *f);

#endif
