/*
 * cmdbar: see cmdbar.h. Follows the pattern of c-patterns.md: the console
 * reads the tty and hands the bytes here; rl_getc_function pops them from
 * our queue; readline's terminal preparation, signal handling and output
 * are switched off (curses owns the terminal and we draw the line).
 *
 * Readline is a library of globals: there is exactly one bar per process,
 * and `current` is the one global state this file keeps.
 */
#include "cmdbar.h"

#include <curses.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <wchar.h>

#include <readline/history.h>
#include <readline/readline.h>

#include "util.h"

#define QUEUE_SIZE 4096
#define CMDBAR_MAX_LINE 8192
#define HISTORY_MAX 1000

struct cmdbar {
	char *history_path;
	cmdbar_line_fn on_line;
	cmdbar_complete_fn on_complete;
	void *arg;
	bool active;
	bool dirty;
	bool cancel;
	bool fresh_slash; /* opened with "/" and nothing typed since */
	unsigned char queue[QUEUE_SIZE];
	size_t qhead, qlen;
	char matches[512];
	/* Completion state between readline's generator calls. */
	char **cands;
	size_t ncands, cand_next;
	FILE *devnull;
};

static struct cmdbar *current;

static int bar_getc(FILE *f)
{
	(void)f;
	struct cmdbar *bar = current;
	if (bar == NULL || bar->qlen == 0)
		return EOF;
	int c = bar->queue[bar->qhead];
	bar->qhead = (bar->qhead + 1) % QUEUE_SIZE;
	bar->qlen--;
	return c;
}

static int bar_input_available(void)
{
	return current != NULL && current->qlen > 0;
}

static void bar_redisplay(void)
{
	if (current != NULL)
		current->dirty = true;
}

static int bar_cancel(int count, int key)
{
	(void)count;
	(void)key;
	if (current != NULL)
		current->cancel = true;
	return 0;
}

char *cmdbar_mask_secrets(const char *line)
{
	size_t n = strlen(line);
	char *out = xmalloc(n + 4 * (n / 8 + 1) + 1);
	size_t o = 0, i = 0;
	while (i < n) {
		bool start = i == 0 || line[i - 1] == ' ' || line[i - 1] == '\t';
		if (!start || strncmp(line + i, "--env_", 6) != 0) {
			out[o++] = line[i++];
			continue;
		}
		size_t j = i + 6;
		while (j < n && line[j] != '=' && line[j] != ' ' && line[j] != '\t' &&
		       line[j] != '"' && line[j] != '\'')
			j++;
		size_t k = j;
		while (k < n && (line[k] == ' ' || line[k] == '\t'))
			k++;
		if (k < n && line[k] == '=') {
			k++;
			while (k < n && (line[k] == ' ' || line[k] == '\t'))
				k++;
			if (strncmp(line + k, "--", 2) == 0)
				k = n + 1; /* "--a= --b": no value */
		} else if (!(j == k && j < n && (line[j] == '"' || line[j] == '\''))) {
			k = n + 1; /* no value follows the key */
		}
		memcpy(out + o, line + i, j - i); /* --env_NAME */
		o += j - i;
		if (k > n) {
			i = j;
			continue;
		}
		/* The value: quoted (with backslash escapes) or up to a blank. */
		size_t v = k;
		if (v < n && (line[v] == '"' || line[v] == '\'')) {
			char q = line[v++];
			while (v < n && line[v] != q)
				v += line[v] == '\\' && v + 1 < n ? 2 : 1;
			if (v < n)
				v++;
		} else {
			while (v < n && line[v] != ' ' && line[v] != '\t')
				v++;
		}
		memcpy(out + o, "=***", 4);
		o += 4;
		i = v;
	}
	out[o] = '\0';
	return out;
}

static void bar_line(char *line)
{
	struct cmdbar *bar = current;
	rl_callback_handler_remove();
	bar->active = false;
	bar->dirty = true;
	if (line != NULL && line[strspn(line, " \t")] != '\0') {
		/* Values of --env_ flags are often secrets: the history (in
		 * memory and in its file) keeps them masked. */
		char *masked = cmdbar_mask_secrets(line);
		add_history(masked);
		free(masked);
		/* append_history does not create the file: the first line does. */
		if (bar->history_path != NULL && append_history(1, bar->history_path) != 0)
			write_history(bar->history_path);
	}
	bar->on_line(line, bar->arg);
}

static char *bar_generator(const char *text, int state)
{
	(void)text;
	struct cmdbar *bar = current;
	if (state == 0)
		bar->cand_next = 0;
	if (bar->cand_next < bar->ncands)
		return strdup(bar->cands[bar->cand_next++]);
	return NULL;
}

static void free_cands(struct cmdbar *bar)
{
	for (size_t i = 0; i < bar->ncands; i++)
		free(bar->cands[i]);
	free(bar->cands);
	bar->cands = NULL;
	bar->ncands = 0;
}

static char **bar_complete(const char *text, int start, int end)
{
	(void)text;
	(void)start;
	struct cmdbar *bar = current;
	rl_attempted_completion_over = 1; /* never fall back to file names */
	free_cands(bar);
	if (bar->on_complete == NULL)
		return NULL;
	size_t wstart = 0;
	bar->ncands = bar->on_complete(rl_line_buffer, (size_t)end, &bar->cands, &wstart, bar->arg);
	if (bar->ncands == 0)
		return NULL;
	/* A flag ending in '=' wants its value next, not a space. */
	rl_completion_append_character = ' ';
	if (bar->ncands == 1) {
		size_t n = strlen(bar->cands[0]);
		if (n > 0 && (bar->cands[0][n - 1] == '=' || bar->cands[0][n - 1] == '_'))
			rl_completion_append_character = '\0';
	}
	char **m = rl_completion_matches(text, bar_generator);
	/* Candidates quoted differently from what was typed ("my" against
	 * "\"my app\"") share a shorter prefix than the typed word: readline
	 * would replace the word with it. Keep the word instead. */
	if (m != NULL && m[0] != NULL && strlen(m[0]) < strlen(text)) {
		free(m[0]);
		m[0] = strdup(text);
	}
	return m;
}

static void bar_display_matches(char **matches, int num, int max_length)
{
	(void)max_length;
	struct cmdbar *bar = current;
	size_t o = 0;
	bar->matches[0] = '\0';
	for (int i = 1; i <= num && o + 2 < sizeof(bar->matches); i++)
		o += (size_t)snprintf(bar->matches + o, sizeof(bar->matches) - o, "%s%s",
				      i > 1 ? "  " : "", matches[i]);
	bar->dirty = true;
}

struct cmdbar *cmdbar_new(const char *history_path, cmdbar_line_fn on_line,
			  cmdbar_complete_fn on_complete, void *arg)
{
	struct cmdbar *bar = xcalloc(1, sizeof(*bar));
	bar->history_path = history_path ? xstrdup(history_path) : NULL;
	bar->on_line = on_line;
	bar->on_complete = on_complete;
	bar->arg = arg;
	current = bar;

	/* Before the first handler install (c-patterns.md): readline must not
	 * touch signals, the environment, the terminal modes or the screen. */
	rl_readline_name = "tasker";
	rl_catch_signals = 0;
	rl_catch_sigwinch = 0;
	rl_change_environment = 0;
	rl_prep_term_function = NULL;
	rl_deprep_term_function = NULL;
	bar->devnull = fopen("/dev/null", "w");
	rl_outstream = bar->devnull;
	rl_getc_function = bar_getc;
	rl_input_available_hook = bar_input_available;
	rl_redisplay_function = bar_redisplay;
	rl_attempted_completion_function = bar_complete;
	rl_completion_display_matches_hook = bar_display_matches;
	rl_completer_word_break_characters = (char *)(uintptr_t) " \t";
	rl_bind_key(7, bar_cancel); /* Ctrl-G */
	rl_bind_key(3, bar_cancel); /* Ctrl-C: the tty is raw, it arrives as a byte */

	using_history();
	stifle_history(HISTORY_MAX);
	if (bar->history_path != NULL)
		read_history(bar->history_path);
	return bar;
}

void cmdbar_free(struct cmdbar *bar)
{
	if (bar == NULL)
		return;
	if (bar->active)
		rl_callback_handler_remove();
	if (bar->history_path != NULL) {
		write_history(bar->history_path);
		history_truncate_file(bar->history_path, HISTORY_MAX);
	}
	free_cands(bar);
	free(bar->history_path);
	if (bar->devnull != NULL)
		fclose(bar->devnull);
	if (current == bar)
		current = NULL;
	free(bar);
}

void cmdbar_open(struct cmdbar *bar, const char *initial)
{
	if (bar->active)
		return;
	bar->active = true;
	bar->cancel = false;
	bar->qhead = bar->qlen = 0;
	bar->matches[0] = '\0';
	rl_callback_handler_install("", bar_line);
	/* ~/.inputrc's bindings load on the first install; ours win again. */
	rl_bind_key(7, bar_cancel);
	rl_bind_key(3, bar_cancel);
	if (initial != NULL && initial[0] != '\0')
		rl_insert_text(initial);
	bar->fresh_slash = initial != NULL && strcmp(initial, "/") == 0;
	bar->dirty = true;
}

void cmdbar_close(struct cmdbar *bar)
{
	if (!bar->active)
		return;
	/* Leave no half-typed state (or a stale i-search) for next time. */
	rl_free_line_state();
	rl_callback_sigcleanup();
	rl_replace_line("", 0);
	rl_callback_handler_remove();
	bar->active = false;
	bar->dirty = true;
	bar->matches[0] = '\0';
	bar->qlen = 0;
}

bool cmdbar_active(const struct cmdbar *bar)
{
	return bar->active;
}

size_t cmdbar_feed(struct cmdbar *bar, const unsigned char *buf, size_t len)
{
	if (!bar->active)
		return 0;
	/* A lone ESC, read by itself, is the Escape key: leave the bar.
	 * (Callback mode ignores keyseq-timeout, so readline cannot tell.) */
	if (len == 1 && buf[0] == 0x1b && RL_ISSTATE(RL_STATE_ISEARCH | RL_STATE_NSEARCH)) {
		/* Inside ^R it only ends the search, keeping the line found
		 * (readline's own rule); a second Esc leaves the bar. */
		bar->queue[0] = 0x1b;
		bar->qhead = 0;
		bar->qlen = 1;
		rl_callback_read_char();
		bar->qlen = 0;
		return 1;
	}
	if (len == 1 && buf[0] == 0x1b) {
		cmdbar_close(bar);
		bar->on_line(NULL, bar->arg);
		return 1;
	}
	/* The bar opened on '/' already shows one: a pasted "/start ..." (or a
	 * '/' typed out of habit) must not make it "//start". */
	size_t skip = 0;
	if (bar->fresh_slash) {
		bar->fresh_slash = false;
		if (len > 0 && buf[0] == '/' && rl_end == 1 && rl_line_buffer[0] == '/')
			skip = 1;
	}
	buf += skip;
	len -= skip;
	/* The queue is empty between calls (we drain it below), so whatever is
	 * left in it when the bar closes is the tail of buf. */
	size_t take = len < QUEUE_SIZE ? len : QUEUE_SIZE;
	bar->qhead = 0;
	bar->qlen = 0;
	for (size_t i = 0; i < take; i++)
		bar->queue[bar->qlen++] = buf[i];
	if (!(len == 1 && buf[0] == '\t'))
		bar->matches[0] = '\0';
	while (bar->active && bar->qlen > 0) {
		rl_callback_read_char();
		if (bar->active && rl_end > CMDBAR_MAX_LINE) {
			/* A command line has no business being this long; a runaway
			 * paste must not make every redraw slower. */
			rl_delete_text(CMDBAR_MAX_LINE, rl_end);
			if (rl_point > rl_end)
				rl_point = rl_end;
			snprintf(bar->matches, sizeof(bar->matches),
				 "the line is cut at %d bytes", CMDBAR_MAX_LINE);
		}
		if (bar->cancel) {
			bar->cancel = false;
			size_t left = bar->qlen;
			cmdbar_close(bar);
			bar->on_line(NULL, bar->arg);
			return skip + take - left;
		}
	}
	size_t left = bar->qlen;
	bar->qlen = 0;
	return skip + take - left;
}

/* Terminal columns taken by s[0..n). */
static int text_width(const char *s, size_t n)
{
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	int w = 0;
	size_t i = 0;
	while (i < n) {
		wchar_t wc;
		size_t k = mbrtowc(&wc, s + i, n - i, &st);
		if (k == (size_t)-1 || k == (size_t)-2) {
			memset(&st, 0, sizeof(st));
			i++;
			w++;
			continue;
		}
		if (k == 0)
			k = 1;
		int cw = wc < 0x20 || wc == 0x7f ? 2 : wcwidth(wc); /* curses draws ^X */
		w += cw > 0 ? cw : 0;
		i += k;
	}
	return w;
}

int cmdbar_draw(struct cmdbar *bar, int y, int width)
{
	bar->dirty = false;
	const char *prompt = rl_display_prompt ? rl_display_prompt : "";
	const char *line = rl_line_buffer ? rl_line_buffer : "";
	size_t len = strlen(line);
	size_t point = rl_point >= 0 && (size_t)rl_point <= len ? (size_t)rl_point : len;
	int pw = text_width(prompt, strlen(prompt));
	int cur = pw + text_width(line, point);
	/* Scroll the line left so the cursor stays visible: skip whole
	 * characters from the start, subtracting each one's width (one pass). */
	size_t skip = 0;
	while (cur >= width - 1 && skip < point) {
		size_t k = 1;
		while (skip + k < len && ((unsigned char)line[skip + k] & 0xc0) == 0x80)
			k++;
		cur -= text_width(line + skip, k);
		skip += k;
	}
	move(y, 0);
	clrtoeol();
	addnstr(prompt, (int)strlen(prompt));
	int room = width - pw;
	if (room > 0) {
		/* Cut at a character boundary within room columns. */
		size_t end = skip;
		int used = 0;
		while (end < len) {
			size_t k = 1;
			while (end + k < len && ((unsigned char)line[end + k] & 0xc0) == 0x80)
				k++;
			int cw = text_width(line + end, k);
			if (used + cw > room)
				break;
			used += cw;
			end += k;
		}
		addnstr(line + skip, (int)(end - skip));
	}
	return cur < width ? cur : width - 1;
}

bool cmdbar_dirty(const struct cmdbar *bar)
{
	return bar->dirty;
}

const char *cmdbar_matches(const struct cmdbar *bar)
{
	return bar->matches;
}

void cmdbar_resize(struct cmdbar *bar, int cols)
{
	(void)bar;
	rl_set_screen_size(1, cols);
}

const char *cmdbar_text(const struct cmdbar *bar)
{
	return bar->active && rl_line_buffer ? rl_line_buffer : "";
}
