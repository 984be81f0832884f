/*
 * cmdbar: the command bar, GNU readline in callback mode inside curses.
 * The only file that includes readline. Readline owns the bytes (UTF-8,
 * Ctrl-R, ~/.inputrc all work); curses only draws what readline holds.
 */
#ifndef TASKER_TUI_CMDBAR_H
#define TASKER_TUI_CMDBAR_H

#include <stdbool.h>
#include <stddef.h>

struct cmdbar;

/* A finished line (malloc'd: the callee frees), or NULL when cancelled. */
typedef void (*cmdbar_line_fn)(char *line, void *arg);
/* Completion candidates for the word before point: full replacement words
 * and the byte offset where the word starts; see complete.h. */
typedef size_t (*cmdbar_complete_fn)(const char *line, size_t point, char ***out, size_t *start,
				     void *arg);

/* line with the value of every --env_NAME flag replaced by *** (as the
 * history keeps it: "--env_TOKEN=***"). Returns a new string. */
char *cmdbar_mask_secrets(const char *line);
/* history_path may be NULL (no history kept). */
struct cmdbar *cmdbar_new(const char *history_path, cmdbar_line_fn on_line,
			  cmdbar_complete_fn on_complete, void *arg);
/* Saves history. */
void cmdbar_free(struct cmdbar *bar);

/* Opens the bar holding initial. Opened with "/", a '/' that comes first
 * (typed, or the start of a pasted "/start ...") replaces that one. */
void cmdbar_open(struct cmdbar *bar, const char *initial);
void cmdbar_close(struct cmdbar *bar);
bool cmdbar_active(const struct cmdbar *bar);

/* Bytes typed while the bar is open. Returns how many it took: when a line
 * ends (Enter) or the bar is left mid-chunk, the rest of a paste belongs to
 * whatever comes next, and the caller hands it on. */
size_t cmdbar_feed(struct cmdbar *bar, const unsigned char *buf, size_t len);

/* Draws prompt and line on row y of the screen, width columns, and returns
 * the cursor's column. */
int cmdbar_draw(struct cmdbar *bar, int y, int width);

/* Set when readline wants the bar redrawn; cleared by cmdbar_draw. */
bool cmdbar_dirty(const struct cmdbar *bar);

/* The matches last listed by Tab (for the console to show); may be "". */
const char *cmdbar_matches(const struct cmdbar *bar);

/* The line being typed ("" when the bar is closed). */
const char *cmdbar_text(const struct cmdbar *bar);

void cmdbar_resize(struct cmdbar *bar, int cols);

#endif
