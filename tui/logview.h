/*
 * logview: the full-screen log view of one task (the l key). Lines of
 * stdout and stderr, each marked with its stream, kept in a bounded ring
 * (LOGVIEW_MAX lines; the oldest go first), so tens of thousands of lines
 * cost one screen to draw: draw.c renders only the visible window.
 *
 * Sources: the local PM2's log files (logview_local_open/poll: bounded
 * reads from the end, then what the files grow by), or another node's
 * `logs` verb (remote_logs.c calls logview_add for every line it gets).
 * Stdout and stderr are merged in time order where PM2 stamped the lines
 * (its `time` option or log_date_format), else stdout then stderr.
 *
 * Pure state, no curses: console.c feeds keys, draw.c reads the window.
 */
#ifndef TASKER_TUI_LOGVIEW_H
#define TASKER_TUI_LOGVIEW_H

#include <stdbool.h>
#include <stddef.h>

#define LOGVIEW_MAX 50000
#define LOGVIEW_LINE_MAX 1024
#define LOGVIEW_SEARCH_MAX 128

struct logview_line {
	char *text; /* controls replaced by spaces, at most LOGVIEW_LINE_MAX bytes */
	bool err;   /* stderr */
};

struct logview {
	struct logview_line *ring; /* LOGVIEW_MAX slots */
	size_t head, count;	   /* oldest slot, lines held */
	size_t top;		   /* the first visible line (0 = oldest held) */
	bool follow;		   /* the window stays at the end as lines come */
	bool searching;		   /* the search prompt is open */
	char input[LOGVIEW_SEARCH_MAX];
	char pattern[LOGVIEW_SEARCH_MAX]; /* the last search, "" none */
	char note[160];			  /* "pattern not found" and the like */
	/* Local files: where the next read starts, -1 no file. */
	char out_path[4096], err_path[4096];
	long long out_off, err_off;
};

void logview_init(struct logview *lv);
void logview_clear(struct logview *lv);
void logview_free(struct logview *lv);
void logview_add(struct logview *lv, bool err, const char *line, size_t len);
/* The line at index i (0 = oldest held). */
const struct logview_line *logview_at(const struct logview *lv, size_t i);
/* Reads the end of both files (bounded) and merges them. */
void logview_local_open(struct logview *lv, const char *out_path, const char *err_path);
/* Reads what the files grew by; true when lines were added. */
bool logview_local_poll(struct logview *lv);
/* Keeps top within the lines and at the end while following. */
void logview_clamp(struct logview *lv, size_t rows);
/* A key (keys.h codes) with rows visible: true when it was used. 'q' and
 * Esc (outside the prompt) are the caller's. */
bool logview_key(struct logview *lv, int key, size_t rows);
/* Case-insensitive search of pattern in text: the match or NULL. */
const char *logview_match(const char *text, const char *pattern);

#endif
