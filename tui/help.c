/*
 * help: see help.h. One entry per key (or group of twin keys) of each view;
 * a key added to a view is added here, and README's "Keys" tables and
 * docs/tasker.1's key list are written from this table (help_markdown,
 * help_man: tests/unit/test_help.c fails when they drift apart).
 */
#include "help.h"

#include <stdio.h>
#include <string.h>

#include <curses.h>

#include "app.h"
#include "keys.h"
#include "util.h"

struct help_key {
	const char *keys; /* NULL: the next entries are a new section, titled what */
	const char *what;
};

static const struct help_key table[] = {
	{NULL, "Task table"},
	{"↑↓ j k", "select a row (the feed focused: scroll it)"},
	{"PgUp PgDn", "a page up or down"},
	{"Home End g G", "the first or the last row"},
	{"Enter", "details: the environment, the last log lines"},
	{"l", "the task's logs, full screen"},
	{"s r d", "stop, restart, delete: asks first, y goes on;"},
	{"", "every instance of the name; a name tasker refuses"},
	{"", "(\"my app\"): that one process, by its pm_id"},
	{"< > F6", "sort by the previous or the next column"},
	{"i", "reverse the sort"},
	{"Tab", "focus the table or the status feed"},
	{"[ ]", "scroll the feed a page back or forward"},
	{"Esc", "clear the message and the marks"},
	{"^L", "repaint the screen"},
	{"J", "jobs: each job run's steps, states, tries, times"},
	{"? h F1", "this help"},
	{"q F10 ^C", "quit (--local: the executor finishes first)"},
	{"mouse", "click: select a row, sort by a heading; wheel:"},
	{"", "scroll (off: --no-mouse)"},
	{NULL, "Marks and bulk actions (task table)"},
	{"Space", "mark or unmark the row, go to the next (shows *)"},
	{"*", "mark every row shown (the filter's, the node's)"},
	{"u", "unmark all (Esc too)"},
	{"s r d", "with marks: ONE question listing them all; y"},
	{"", "sends one command per task (per marked pm_id"},
	{"", "when only some instances of a name are marked);"},
	{"", "the panel shows each outcome and a summary"},
	{"", "(3 ok, 1 failed)"},
	{"↑↓ PgUp PgDn", "scroll the question or the outcomes; any other"},
	{"", "key cancels the question or closes the outcomes"},
	{NULL, "Fleet and nodes (task table)"},
	{"n", "one node at a time; again: the next; then all"},
	{"/node NAME", "one node (alone: every node)"},
	{"s r d l", "on another node's row: ask that node"},
	{NULL, "Filter (f, \\ or F4 opens the bar on /filter)"},
	{"TEXT", "keep the rows matching TEXT, as you type"},
	{"!TEXT", "every row but those"},
	{"Enter", "keep the filter (/filter alone clears it)"},
	{"Esc ^G", "drop it: the filter before comes back"},
	{NULL, "Details (Enter)"},
	{"s r", "stop or restart the task (asks first, y goes on)"},
	{"v", "show or hide the environment's values (local)"},
	{"? F1", "this help"},
	{"q Esc Enter l", "back to the table"},
	{"^C", "quit"},
	{NULL, "Job view (J or /jobs)"},
	{"↑↓ j k", "select a job; its steps by level on the right"},
	{"PgUp PgDn", "scroll the steps (Home End: the first, the last)"},
	{"g", "read the records again (they refresh every second)"},
	{"q Esc J", "back to the table"},
	{"^C", "quit"},
	{NULL, "Log view (l)"},
	{"↑↓ j k y e", "a line up or down"},
	{"PgUp PgDn b Space", "a page up or down (f ^B ^F too)"},
	{"g G < > Home End", "the first or the last line"},
	{"/ n N", "search; the next or the previous match"},
	{"F", "follow new lines as they come (again: stop)"},
	{"s r", "stop or restart the task (asks first)"},
	{"? F1", "this help"},
	{"q Esc F10", "back to the table"},
	{NULL, "Questions (s, r, d)"},
	{"y", "go on"},
	{"any other key", "cancel: nothing is sent"},
	{NULL, "Command bar (/ or : opens it)"},
	{"Enter", "send the line"},
	{"Esc ^G ^C", "leave the bar, nothing sent"},
	{"Tab", "complete verbs, flags and task names"},
	{"↑↓ ^R", "the history; search it (keeps --env_ values masked)"},
	{"^A ^E ^W ^U", "readline's editing keys"},
	{"", "/start --task=api --command=\"node api.js\""},
	{"", "/stop --task=api   /restart --pm_id=3 --node=n1"},
	{"", "/delete --task=api   /logs --task=api   /status"},
	{"", "--depends_on=db:5432,cache: start once they are up"},
	{"", "/stop --task=api --with_deps=true: then its deps"},
	{NULL, "Console commands (not sent)"},
	{"", "/help /quit /filter TEXT /node NAME /sort COLUMN"},
	{"", "/theme NAME /clear /jobs"},
	{NULL, "This help"},
	{"↑↓ j k PgUp PgDn", "scroll (Home End g G: the top or the end)"},
	{"q Esc", "close (any other key closes too)"},
	{NULL, "How it works"},
	{"", "Every command is published on the command channel"},
	{"", "and carried out by an executor (tasker exec, or this"},
	{"", "console with --local); its outcome comes back on"},
	{"", "the status channel and shows here and in the feed."},
};

#define NTABLE (sizeof(table) / sizeof(table[0]))

const char *const *help_lines(size_t *n)
{
	static char text[2 * NTABLE][200]; /* a blank line before each section */
	static const char *lines[2 * NTABLE];
	static size_t count;
	if (count == 0) {
		for (size_t i = 0; i < NTABLE; i++) {
			if (table[i].keys == NULL) {
				if (count > 0)
					lines[count++] = "";
				snprintf(text[count], sizeof(text[count]), "%s", table[i].what);
			} else if (table[i].keys[0] == '\0') {
				snprintf(text[count], sizeof(text[count]), "  %-18s %s", "",
					 table[i].what);
			} else {
				/* %-18s counts bytes: pad by the columns the keys take. */
				size_t cols = 0;
				for (const char *p = table[i].keys; *p; p++)
					cols += ((unsigned char)*p & 0xc0) != 0x80;
				snprintf(text[count], sizeof(text[count]), "  %s%*s %s", table[i].keys,
					 cols < 18 ? (int)(18 - cols) : 0, "", table[i].what);
			}
			lines[count] = text[count];
			count++;
		}
	}
	*n = count;
	return lines;
}

/* "/node NAME", "any other key": one key in words, not keys side by side
 * (those are single letters, names like Esc, or symbols). */
static bool is_phrase(const char *keys)
{
	if (keys[0] == '/' && keys[1] >= 'a' && keys[1] <= 'z')
		return true;
	if (strchr(keys, ' ') == NULL)
		return false;
	size_t word = 0;
	for (const char *p = keys;; p++) {
		if (*p == ' ' || *p == '\0') {
			if (word < 2)
				return false;
			word = 0;
			if (*p == '\0')
				return true;
		} else if (*p < 'a' || *p > 'z') {
			return false;
		} else {
			word++;
		}
	}
}

char *help_markdown(void)
{
	size_t cap = 16384, len = 0;
	char *out = xmalloc(cap);
	out[0] = '\0';
	/* An entry without keys carries on the row before it (the box cuts
	 * long texts into lines), unless it is an example (a command line,
	 * "/..." or "--..."): that is a row of its own, as code. */
	bool row_open = false;
	for (size_t i = 0; i < NTABLE; i++) {
		const struct help_key *k = &table[i];
		char buf[600];
		int n;
		if (k->keys == NULL && strcmp(k->what, "How it works") == 0)
			break; /* prose in the README, not a table */
		if (k->keys == NULL) {
			n = snprintf(buf, sizeof(buf), "%s**%s**\n\n| key | what it does |\n|---|---|",
				     len > 0 ? "\n\n" : "", k->what);
			row_open = false;
		} else if (k->keys[0] == '\0' && row_open && k->what[0] != '/' && k->what[0] != '-') {
			/* A sentence carried on: the same row. */
			out[len - 2] = '\0'; /* drop " |" */
			len -= 2;
			n = snprintf(buf, sizeof(buf), " %s |", k->what);
		} else if (k->keys[0] == '\0') {
			n = snprintf(buf, sizeof(buf), "\n| | `%s` |", k->what);
			row_open = false;
		} else {
			char keys[200] = "";
			size_t o = 0;
			const char *p = k->keys;
			if (is_phrase(p)) {
				snprintf(keys, sizeof(keys), "`%s`", p);
				p += strlen(p);
			}
			while (*p != '\0' && o < sizeof(keys) - 8) {
				size_t w = strcspn(p, " ");
				if (w > 0)
					o += (size_t)snprintf(keys + o, sizeof(keys) - o, "%s`%.*s`",
							      o ? " " : "", (int)w, p);
				p += w;
				p += strspn(p, " ");
			}
			/* A lone '*' in the text would start emphasis: escaped. */
			char what[300];
			size_t w = 0;
			for (const char *q = k->what; *q != '\0' && w < sizeof(what) - 3; q++) {
				if (*q == '*')
					what[w++] = '\\';
				what[w++] = *q;
			}
			what[w] = '\0';
			n = snprintf(buf, sizeof(buf), "\n| %s | %s |", keys, what);
			row_open = true;
		}
		if (n < 0)
			continue;
		if (len + (size_t)n + 2 > cap) {
			cap = (cap + (size_t)n) * 2;
			out = xrealloc(out, cap);
		}
		memcpy(out + len, buf, (size_t)n + 1);
		len += (size_t)n;
	}
	return out;
}

/* Appends text to *out (grown): a backslash as roff's \e, and with
 * escape, '-' as \- (not a hyphen). */
static void man_put(char **out, size_t *len, size_t *cap, const char *text, bool escape)
{
	for (const char *p = text; *p != '\0'; p++) {
		if (*len + 3 > *cap) {
			*cap *= 2;
			*out = xrealloc(*out, *cap);
		}
		if (*p == '\\') { /* roff's backslash: \e */
			(*out)[(*len)++] = '\\';
			(*out)[(*len)++] = 'e';
			continue;
		}
		if (escape && *p == '-')
			(*out)[(*len)++] = '\\';
		(*out)[(*len)++] = *p;
	}
	(*out)[*len] = '\0';
}

char *help_man(void)
{
	size_t cap = 16384, len = 0;
	char *out = xmalloc(cap);
	out[0] = '\0';
	for (size_t i = 0; i < NTABLE; i++) {
		const struct help_key *k = &table[i];
		if (k->keys == NULL && strcmp(k->what, "How it works") == 0)
			break;
		if (k->keys == NULL) {
			man_put(&out, &len, &cap, ".PP\n.I \"", false);
			man_put(&out, &len, &cap, k->what, false);
			man_put(&out, &len, &cap, "\"\n", false);
			continue;
		}
		if (k->keys[0] != '\0') {
			man_put(&out, &len, &cap, ".TP\n.B \"", false);
			man_put(&out, &len, &cap, k->keys, true);
			man_put(&out, &len, &cap, "\"\n", false);
		}
		man_put(&out, &len, &cap, k->what, true);
		man_put(&out, &len, &cap, "\n", false);
	}
	return out;
}

bool help_key(struct app *app, int key)
{
	size_t n;
	help_lines(&n);
	/* The box's rows at this terminal size (draw.c: the body less 5). */
	size_t page = LINES > 12 ? (size_t)(LINES - 9) : 1;
	size_t *s = &app->help_scroll;
	switch (key) {
	case KEYC_UP:
	case 'k':
		*s = *s > 0 ? *s - 1 : 0;
		break;
	case KEYC_DOWN:
	case 'j':
		(*s)++;
		break;
	case KEYC_PGUP:
		*s = *s > page ? *s - page : 0;
		break;
	case KEYC_PGDN:
	case ' ':
		*s += page;
		break;
	case KEYC_HOME:
	case 'g':
		*s = 0;
		break;
	case KEYC_END:
	case 'G':
		*s = n;
		break;
	default:
		app->help_scroll = 0;
		return false;
	}
	/* draw.c clamps it to the lines that fit. */
	if (*s > n)
		*s = n;
	app->dirty = true;
	return true;
}
