/*
 * draw: renders the console from struct app, top to bottom: header, task
 * table, status feed, key hints, command bar, then any overlay (help,
 * details, confirmation). It changes no state but the drawing bookkeeping
 * (table_rows, feed_rows, scroll positions) and never reads input.
 *
 * Everything is drawn on stdscr and flushed once with doupdate(): curses
 * sends only the cells that changed, so a refresh costs a few bytes.
 *
 * The text below uses a few Unicode characters (│ ▲ ↺ ✓ …); outside a
 * UTF-8 locale every string goes through fmt_ascii first, and boxes are
 * drawn with + - |, as htop does.
 */
#include <curses.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "bulk.h"
#include "draw_history.h"
#include "format.h"
#include "help.h"
#include "jobview.h"
#include "resultview.h"
#include "text_cut.h"
#include "util.h"

int draw_attr(const struct app *app, enum theme_elem el)
{
	const struct theme_style *s = &app->theme.el[el];
	int a = 0;
	if (app->color && (s->fg != -1 || s->bg != -1))
		a |= COLOR_PAIR((int)el + 1);
	if (s->attrs & THEME_ATTR_BOLD)
		a |= A_BOLD;
	if (s->attrs & THEME_ATTR_DIM)
		a |= A_DIM;
	if (s->attrs & THEME_ATTR_REVERSE)
		a |= A_REVERSE;
	if (s->attrs & THEME_ATTR_UNDERLINE)
		a |= A_UNDERLINE;
	if (s->attrs & THEME_ATTR_STANDOUT)
		a |= A_STANDOUT;
	if (s->attrs & THEME_ATTR_BLINK)
		a |= A_BLINK;
#ifdef A_ITALIC
	if (s->attrs & THEME_ATTR_ITALIC)
		a |= A_ITALIC;
#endif
	return a;
}

void draw_apply_theme(struct app *app)
{
	if (!app->color)
		return;
	for (int i = 0; i < TH_COUNT; i++) {
		short fg = app->theme.el[i].fg, bg = app->theme.el[i].bg;
		/* Fewer colours than the theme asks for: fold 8..255 down. */
		if (fg >= COLORS)
			fg = (short)(fg % 8);
		if (bg >= COLORS)
			bg = (short)(bg % 8);
		init_pair((short)(i + 1), fg, bg);
	}
	bkgdset((chtype)draw_attr(app, TH_DEFAULT) | ' ');
}

/* Set from app->ascii at the start of each draw_screen: put() and
 * put_cell() are called from everywhere here, and the drawing is one pass
 * on one thread. */
static bool ascii_only;

/* text, in ASCII when the locale is not UTF-8; may return text itself. */
static const char *glyphs(const char *text, char *buf, size_t size)
{
	if (!ascii_only)
		return text;
	fmt_ascii(text, buf, size);
	return buf;
}

/* Writes text at (y, x) within width columns, cut with an ellipsis. */
static int put(int y, int x, int width, int attr, const char *text)
{
	if (width <= 0)
		return 0;
	char buf[1024], ascii[1024];
	int used = (int)fmt_fit(glyphs(text, ascii, sizeof(ascii)), width, buf, sizeof(buf));
	attrset(attr);
	mvaddstr(y, x, buf);
	return used;
}

/* Fills a row from x to the edge with the attribute's background. */
static void fill(int y, int x, int attr)
{
	attrset(attr);
	move(y, x);
	for (int i = x; i < COLS; i++)
		addch(' ');
}

static enum theme_elem status_elem(const struct pm2_proc *p)
{
	switch (p->state) {
	case PM2_ST_ONLINE:
		return TH_STATUS_ONLINE;
	case PM2_ST_STOPPED:
		return TH_STATUS_STOPPED;
	case PM2_ST_ERRORED:
		return TH_STATUS_ERRORED;
	case PM2_ST_LAUNCHING:
	case PM2_ST_STOPPING:
	case PM2_ST_WAITING_RESTART:
		return TH_STATUS_LAUNCHING;
	default:
		return TH_STATUS_OTHER;
	}
}

static void draw_header(struct app *app)
{
	int ha = draw_attr(app, TH_HEADER);
	int alert = draw_attr(app, TH_HEADER_ALERT);
	fill(0, 0, ha);
	char clock[16];
	time_t now = time(NULL);
	struct tm tm;
	localtime_r(&now, &tm);
	strftime(clock, sizeof(clock), " %H:%M:%S ", &tm);
	int cw = (int)strlen(clock);
	/* The clock keeps the right edge; segments fill from the left in order
	 * of importance, the Redis address last since it is the longest. */
	int room = COLS - cw;
	/* The errored count is kept whatever the width (80x24 too): the
	 * segments before it are cut first. */
	int on, st, er, ot;
	tasks_count(&app->tasks, &on, &st, &er, &ot);
	char erbuf[40];
	snprintf(erbuf, sizeof(erbuf), "%d errored ", er);
	int lim = room - (er > 0 ? (int)strlen(erbuf) : 0);
	int x = put(0, 0, lim, ha | A_BOLD, " tasker ");
	char buf[512];

	x += put(0, x, lim - x, app->redis_ok ? ha : alert,
		 app->redis_ok ? " Redis up " : " Redis DOWN ");
	/* With a fleet to show, no local PM2 is a way of working (a console
	 * on an operator's laptop), not an alarm. */
	bool fleet = app->nnodes > 0;
	if (app->pm2_ok)
		snprintf(buf, sizeof(buf), "│ PM2 %s ", app->pm2_version[0] ? app->pm2_version : "up");
	else
		snprintf(buf, sizeof(buf), fleet ? "│ no local PM2 " : "│ PM2 DOWN ");
	x += put(0, x, lim - x, app->pm2_ok || fleet ? ha : alert, buf);
	if (app->executors >= 0) {
		/* Subscribers of the command channel: none is worth a look
		 * (several are the nodes of a fleet). */
		snprintf(buf, sizeof(buf), "│ exec %lld%s ", app->executors, app->ex ? " (local)" : "");
		x += put(0, x, lim - x, app->executors >= 1 ? ha : alert, buf);
	}
	snprintf(buf, sizeof(buf), "│ %d online %d stopped ", on, st);
	x += put(0, x, lim - x, ha, buf);
	if (er > 0)
		x += put(0, x, room - x, alert, erbuf);
	if (ot > 0) {
		snprintf(buf, sizeof(buf), "%d other ", ot);
		x += put(0, x, room - x, ha, buf);
	}
	/* Tasks per node, a lost one named so (its rows are marked too). */
	char nodes[400];
	fleet_summary(app, nodes, sizeof(nodes));
	if (nodes[0] != '\0') {
		snprintf(buf, sizeof(buf), "│ %s ", nodes);
		bool any_lost = false;
		for (size_t i = 0; i < app->nnodes; i++)
			any_lost |= app->nodes[i].lost;
		x += put(0, x, room - x, any_lost ? alert : ha, buf);
	}
	/* The meter of the rows shown, whole or not at all. */
	char meter[300];
	history_meter(app, ascii_only, meter, sizeof(meter));
	if (meter[0] != '\0') {
		char mb[1024];
		snprintf(buf, sizeof(buf), "│ %s ", meter);
		if ((int)fmt_fit(buf, 10000, mb, sizeof(mb)) <= room - x) {
			x += put(0, x, 2, ha, "│ ");
			x += put(0, x, room - x, draw_attr(app, TH_HEADER_METER), meter);
			x += put(0, x, room - x, ha, " ");
		}
	}
	snprintf(buf, sizeof(buf), "│ %s ", bus_address(app->bus));
	if ((int)strlen(buf) <= room - x)
		put(0, x, room - x, ha, buf);
	if (COLS >= cw)
		put(0, COLS - cw, cw, ha, clock);
}

/* The longest name among the rows shown (bytes), set by draw_table. */
static int need_name;
/* The CPU HISTORY column at the right of the table: 0 when there is no
 * room (draw_history.h); set by table_widths. */
static int spark_w;

static const struct column table_cols[COL_COUNT] = {
	/* name, min, want, priority (0 stays), right-aligned */
	[COL_NODE] = {"NODE", 4, 12, 1, false},
	[COL_ID] = {"ID", 3, 4, 1, true},
	[COL_NAME] = {"NAME", 8, 24, 0, false, true},
	[COL_STATUS] = {"STATUS", 7, 15, 0, false},
	[COL_PID] = {"PID", 5, 8, 5, true},
	[COL_CPU] = {"CPU", 4, 5, 2, true},
	[COL_MEMORY] = {"MEM", 6, 7, 2, true},
	[COL_UPTIME] = {"UPTIME", 6, 7, 3, true},
	[COL_RESTARTS] = {"↺", 3, 4, 4, true},
	[COL_MODE] = {"MODE", 4, 10, 6, false},
	[COL_OWNER] = {"OWNER", 5, 12, 5, false},
};

static void cell_text(const struct tasks *t, const struct pm2_proc *p, enum tasks_col c,
		      int64_t now, char *buf, size_t size)
{
	/* A lost node's rows say so in words, for NO_COLOR and mono too; the
	 * figures they would show are stale. */
	if (tasks_lost(t, p) && c != COL_NODE && c != COL_ID && c != COL_NAME && c != COL_MODE &&
	    c != COL_OWNER) {
		snprintf(buf, size, c == COL_STATUS ? "lost" : "-");
		return;
	}
	switch (c) {
	case COL_NODE:
		snprintf(buf, size, "%s", tasks_node_of(t, p));
		break;
	case COL_ID:
		snprintf(buf, size, "%d", p->pm_id);
		break;
	case COL_NAME:
		snprintf(buf, size, "%s", p->name);
		break;
	case COL_STATUS:
		snprintf(buf, size, "%s", p->status);
		break;
	case COL_PID:
		if (p->state == PM2_ST_ONLINE && p->pid > 0)
			snprintf(buf, size, "%d", p->pid);
		else
			snprintf(buf, size, "-");
		break;
	case COL_CPU:
		fmt_cpu(p->cpu, buf, size);
		break;
	case COL_MEMORY:
		if (p->state == PM2_ST_ONLINE)
			fmt_bytes(p->memory, buf, size);
		else
			snprintf(buf, size, "-");
		break;
	case COL_UPTIME:
		if (p->state == PM2_ST_ONLINE && p->pm_uptime > 0)
			fmt_duration(now - p->pm_uptime, buf, size);
		else
			snprintf(buf, size, "-");
		break;
	case COL_RESTARTS:
		snprintf(buf, size, "%d", p->restart_time);
		break;
	case COL_MODE:
		if (p->cluster)
			snprintf(buf, size, "cluster×%d", p->instances);
		else
			snprintf(buf, size, "fork");
		break;
	case COL_OWNER:
		snprintf(buf, size, "%s", p->owner ? p->owner : "-");
		break;
	case COL_COUNT:
		buf[0] = '\0';
		break;
	}
}

/* Right-aligns or left-aligns text in a cell of width w. */
static void put_cell(int y, int x, int w, int attr, const char *text, bool right)
{
	char buf[512], ascii[512];
	int used = (int)fmt_fit(glyphs(text, ascii, sizeof(ascii)), w, buf, sizeof(buf));
	attrset(attr);
	move(y, x);
	if (right)
		for (int i = used; i < w; i++)
			addch(' ');
	addstr(buf);
	if (!right)
		for (int i = used; i < w; i++)
			addch(' ');
}

/* The table's column widths. NAME takes what is left, but no more than its
 * longest name needs (at least its minimum, at most 48): the rest goes to
 * OWNER and NODE (up to 24 each), then stays empty at the right. */
static void table_widths(int *widths)
{
	spark_w = 0;
	layout_columns(table_cols, COL_COUNT, COLS - 1, 1, widths);
	/* As wide as the longest name shown (never under NAME's minimum or the
	 * title, never over 48): short names leave their room to the others. */
	int need = need_name < 48 ? need_name : 48;
	if (need < table_cols[COL_NAME].min)
		need = table_cols[COL_NAME].min;
	int extra = widths[COL_NAME] - need;
	if (extra <= 0)
		return;
	widths[COL_NAME] = need;
	/* The history column first: a trend says more than a wider OWNER. */
	spark_w = history_column_width(extra);
	extra -= spark_w > 0 ? spark_w + 1 : 0;
	static const int give[] = {COL_OWNER, COL_NODE};
	for (size_t i = 0; i < sizeof(give) / sizeof(give[0]) && extra > 0; i++) {
		int c = give[i];
		if (widths[c] == 0)
			continue;
		int more = 24 - widths[c];
		if (more > extra)
			more = extra;
		if (more > 0) {
			widths[c] += more;
			extra -= more;
		}
	}
}

/* A name too long for its cell keeps both ends (core/text_cut.h). */
static void cut_middle(char *text, int w)
{
	char out[256];
	if (text_cut_middle(text, w, ascii_only, out, sizeof(out)))
		snprintf(text, 256, "%s", out);
}

int draw_column_at(int x)
{
	int widths[COL_COUNT];
	table_widths(widths);
	int at = 1;
	for (int c = 0; c < COL_COUNT; c++) {
		if (widths[c] == 0)
			continue;
		if (x >= at && x < at + widths[c] + 1)
			return c;
		at += widths[c] + 1;
	}
	return -1;
}

static void draw_table(struct app *app, int y0, int rows)
{
	need_name = 0;
	for (size_t i = 0; i < app->tasks.nview; i++) {
		int l = (int)strlen(app->tasks.procs[app->tasks.view[i]].name);
		if (l > need_name)
			need_name = l;
	}
	int widths[COL_COUNT];
	table_widths(widths);
	int head = draw_attr(app, TH_TABLE_HEAD);
	if (app->focus == FOCUS_TABLE)
		head |= A_BOLD;
	fill(y0, 0, head);
	int x = 1;
	for (int c = 0; c < COL_COUNT; c++) {
		if (widths[c] == 0)
			continue;
		char title[64];
		snprintf(title, sizeof(title), "%s%s", table_cols[c].name,
			 app->tasks.sort == (enum tasks_col)c ? (app->tasks.descending ? "▼" : "▲")
							       : "");
		put_cell(y0, x, widths[c], head, title, table_cols[c].right);
		x += widths[c] + 1;
	}
	if (spark_w > 0)
		put_cell(y0, x, spark_w, head, HISTORY_TITLE, false);

	int rowattr = draw_attr(app, TH_ROW);
	for (int r = 0; r < rows; r++)
		fill(y0 + 1 + r, 0, rowattr);

	if (!app->pm2_ok && app->tasks.nprocs == 0 && app->nnodes == 0) {
		int ea = draw_attr(app, TH_STATUS_ERRORED);
		char line[600];
		snprintf(line, sizeof(line), "PM2 is not reachable: %s", app->pm2_why);
		put(y0 + 1, 2, COLS - 3, ea, line);
		if (rows > 1)
			put(y0 + 2, 2, COLS - 3, rowattr,
			    app->ex ? "Starting the PM2 daemon; the table fills as soon as it answers."
				       : "Start one: pm2 ping (with the same PM2_HOME), or run tasker "
					 "--local, or tasker exec (it starts PM2 when needed).");
		if (rows > 2) {
			snprintf(line, sizeof(line), "PM2_HOME=%s  (the table retries every %d ms)",
				 app->pm2_home, app->interval_ms);
			put(y0 + 3, 2, COLS - 3, rowattr, line);
		}
		return;
	}
	if (app->tasks.nview == 0) {
		put(y0 + 1, 2, COLS - 3, rowattr,
		    app->tasks.filter[0]	 ? "No task matches the filter (/filter to clear it)."
		    : app->tasks.node_filter[0] ? "No task on this node (n or /node shows every node)."
						 : "No tasks yet. Type /start --task=hello "
						   "--command=\"sleep 600\" and Enter.");
		return;
	}

	tasks_scroll_into_view(&app->tasks, (size_t)rows);
	int64_t now = util_wall_ms();
	for (int r = 0; r < rows; r++) {
		size_t vi = app->tasks.top + (size_t)r;
		if (vi >= app->tasks.nview)
			break;
		const struct pm2_proc *p = &app->tasks.procs[app->tasks.view[vi]];
		bool sel = p->pm_id == app->tasks.selected &&
			   strcmp(tasks_node_of(&app->tasks, p), app->tasks.selected_node) == 0;
		bool lost = tasks_lost(&app->tasks, p);
		int base = sel ? draw_attr(app, TH_ROW_SELECTED) : lost ? draw_attr(app, TH_ROW_LOST) : rowattr;
		int y = y0 + 1 + r;
		fill(y, 0, base);
		x = 1;
		for (int c = 0; c < COL_COUNT; c++) {
			if (widths[c] == 0)
				continue;
			char text[256];
			cell_text(&app->tasks, p, (enum tasks_col)c, now, text, sizeof(text));
			if (c == COL_NAME)
				cut_middle(text, widths[c]);
			int a = base;
			if (c == COL_STATUS && !sel && !lost)
				a = draw_attr(app, status_elem(p));
			put_cell(y, x, widths[c], a, text, table_cols[c].right);
			x += widths[c] + 1;
		}
		if (spark_w > 0)
			history_draw_cell(app, y, x, spark_w, p, sel || lost ? base : -1);
		if (bulk_marked(app, p)) /* the mark, in the column before the first */
			put(y, 0, 1, base | A_BOLD, "*");
	}
}

static void draw_feed(struct app *app, int y0, int rows)
{
	int head = draw_attr(app, TH_TABLE_HEAD);
	bool focus = app->focus == FOCUS_FEED;
	if (focus)
		head |= A_BOLD;
	fill(y0, 0, head);
	/* The table's filter is named on this rule, right-aligned: on the
	 * table's own head row it would cover the column titles. */
	char label[400] = "";
	if (app->tasks.filter[0] != '\0' && app->tasks.node_filter[0] != '\0')
		snprintf(label, sizeof(label), " node %s, table filter: %s (%zu of %zu) ",
			 app->tasks.node_filter, app->tasks.filter, app->tasks.nview,
			 app->tasks.nprocs);
	else if (app->tasks.filter[0] != '\0')
		snprintf(label, sizeof(label), " table filter: %s (%zu of %zu) ", app->tasks.filter,
			 app->tasks.nview, app->tasks.nprocs);
	else if (app->tasks.node_filter[0] != '\0')
		snprintf(label, sizeof(label), " node %s only (%zu of %zu) ", app->tasks.node_filter,
			 app->tasks.nview, app->tasks.nprocs);
	/* Then where the selection stands among the rows shown: 17/209. */
	long row = tasks_selected_row(&app->tasks);
	char pos[40];
	snprintf(pos, sizeof(pos), "%s%ld/%zu ", label[0] ? "· " : " ", row >= 0 ? row + 1 : 0,
		 app->tasks.nview);
	size_t ll = strlen(label);
	snprintf(label + ll, sizeof(label) - ll, "%s", pos);
	int lw = (int)strlen(label);
	if (lw > COLS / 2)
		lw = COLS / 2;
	char title[300];
	if (app->feed.scroll > 0)
		snprintf(title, sizeof(title), "%sStatus feed (%s, %zu lines back; End returns)%s ",
			 focus ? " ▶ " : " ", app->cfg->status_channel, app->feed.scroll,
			 focus ? " [focused]" : "");
	else
		snprintf(title, sizeof(title), "%sStatus feed (%s)%s ", focus ? " ▶ " : " ",
			 app->cfg->status_channel, focus ? " [focused]" : "");
	put(y0, 0, COLS - lw, head, title);
	if (lw > 0)
		put(y0, COLS - lw, lw, head, label);

	int rowattr = draw_attr(app, TH_DEFAULT);
	for (int r = 0; r < rows; r++)
		fill(y0 + 1 + r, 0, rowattr);
	feed_scroll(&app->feed, 0, (size_t)rows);
	size_t count = app->feed.count;
	size_t end = count - (app->feed.scroll < count ? app->feed.scroll : count);
	size_t start = end > (size_t)rows ? end - (size_t)rows : 0;
	int y = y0 + 1;
	for (size_t i = start; i < end; i++, y++) {
		const struct feed_line *l = feed_get(&app->feed, i);
		int x = put(y, 1, COLS - 1, draw_attr(app, TH_FEED_TIME), l->time);
		enum theme_elem el = l->kind == FEED_OK ? TH_FEED_OK
				     : l->kind == FEED_ERROR ? TH_FEED_ERROR
							     : TH_FEED_INFO;
		put(y, x + 2, COLS - x - 3, draw_attr(app, el), l->text);
	}
}

static void draw_hints(struct app *app, int y)
{
	int a = draw_attr(app, TH_HINT);
	fill(y, 0, a);
	const char *hints;
	switch (app->mode) {
	case MODE_HELP:
		hints = " ↑↓ PgUp PgDn Home End scroll  q/Esc close help";
		break;
	case MODE_DETAIL:
		hints = " Esc/q close  v show/hide env values  s stop  r restart  ? help";
		break;
	case MODE_CONFIRM:
		hints = " y go on  any other key: cancel";
		break;
	case MODE_JOBS:
		hints = " ↑↓ j k select job  PgUp PgDn Home End steps  g read again  Esc/q/J back";
		break;
	case MODE_LOGS:
		hints = app->lv.searching ? " Enter search  Esc cancel"
					  : " q back  PgUp PgDn page  g/G top/end  / search  n/N next/prev  "
					    "F follow  s stop  r restart  ? help";
		break;
	default:
		if (bulk_hints(app) != NULL && !cmdbar_active(app->bar))
			hints = bulk_hints(app); /* marks, or the bulk panel */
		else if (cmdbar_active(app->bar))
			hints = " Enter send  Esc/^G cancel  Tab complete  ^R history search  ↑↓ history";
		else if (app->focus == FOCUS_FEED)
			hints = " ↑↓ scroll feed  PgUp PgDn page  Home oldest  End newest  Tab table  "
				"/ command  ? help  q quit";
		else
			/* l (logs) is Enter's twin; the help overlay names it. */
			hints = " / command  ↑↓ select  Enter details  s stop  r restart  d delete  n node  "
				"Tab feed  ? help  q quit";
	}
	/* Too narrow for every hint: the middle ones go, "? help  q quit" stays. */
	const char *tail = strstr(hints, "  ? help");
	char buf[400];
	if (tail != NULL && fmt_fit(hints, 10000, buf, sizeof(buf)) > (size_t)COLS) {
		int tw = (int)fmt_fit(tail, 10000, buf, sizeof(buf));
		int x = put(y, 0, COLS - tw, a, hints);
		put(y, x, COLS - x, a, tail);
		return;
	}
	put(y, 0, COLS, a, hints);
}

/* Returns the cursor column when the bar is active, else -1. */
static int draw_bar(struct app *app, int y)
{
	if (cmdbar_active(app->bar)) {
		attrset(draw_attr(app, TH_BAR));
		int cur = cmdbar_draw(app->bar, y, COLS);
		const char *m = cmdbar_matches(app->bar);
		if (m[0] != '\0' && y > 0) {
			/* The matches take the whole hint row: no hint text after them. */
			int a = draw_attr(app, TH_BAR_PROMPT);
			fill(y - 1, 0, a);
			put(y - 1, 0, COLS, a, m);
		}
		return cur;
	}
	enum theme_elem el = app->message_kind == MSG_ERROR ? TH_BAR_ERROR
			     : app->message_kind == MSG_OK  ? TH_FEED_OK
							    : TH_BAR;
	fill(y, 0, draw_attr(app, TH_BAR));
	if (app->mode == MODE_CONFIRM) {
		put(y, 0, COLS, draw_attr(app, TH_BAR_ERROR) | A_BOLD, app->confirm_prompt);
	} else if (app->message[0] != '\0') {
		/* The mark goes with the kind, so no message can carry the wrong one. */
		const char *markc = app->message_kind == MSG_OK	     ? "✓ "
				    : app->message_kind == MSG_ERROR ? "✗ "
				    : app->message_kind == MSG_WAIT  ? "… "
								     : "";
		char text[600];
		snprintf(text, sizeof(text), "%s%s", markc, app->message);
		put(y, 0, COLS, draw_attr(app, el), text);
	} else {
		put(y, 0, COLS, draw_attr(app, TH_BAR_PROMPT), "Type / to enter a command, ? for help");
	}
	return -1;
}

/* The rows between the header and the key hints, where the table, the
 * feed and the overlays go. */
#define BODY_TOP 1
#define BODY_ROWS (LINES - 3)

/* A box with a border, h rows by w columns, centred in the body; clamped
 * to the body and returned in *h and *w with its origin in *y and *x. */
static void box_at(struct app *app, int *h, int *w, int *y, int *x)
{
	if (*h > BODY_ROWS)
		*h = BODY_ROWS;
	if (*w > COLS)
		*w = COLS;
	*y = BODY_TOP + (BODY_ROWS - *h) / 2;
	*x = (COLS - *w) / 2;
	int a = draw_attr(app, TH_OVERLAY);
	for (int r = 0; r < *h; r++)
		for (int c = 0; c < *w; c++)
			mvaddch(*y + r, *x + c, ' ' | (chtype)a);
	/* The wide-character forms: in a UTF-8 locale they are written as the
	 * Unicode box characters themselves, which every terminal shows, where
	 * the ACS forms depend on the terminal's alternate character set. */
	attrset(draw_attr(app, TH_BORDER));
	if (ascii_only) {
		mvhline(*y, *x, '-', *w);
		mvhline(*y + *h - 1, *x, '-', *w);
		mvvline(*y, *x, '|', *h);
		mvvline(*y, *x + *w - 1, '|', *h);
		mvaddch(*y, *x, '+');
		mvaddch(*y, *x + *w - 1, '+');
		mvaddch(*y + *h - 1, *x, '+');
		mvaddch(*y + *h - 1, *x + *w - 1, '+');
		return;
	}
	mvhline_set(*y, *x, WACS_HLINE, *w);
	mvhline_set(*y + *h - 1, *x, WACS_HLINE, *w);
	mvvline_set(*y, *x, WACS_VLINE, *h);
	mvvline_set(*y, *x + *w - 1, WACS_VLINE, *h);
	mvadd_wch(*y, *x, WACS_ULCORNER);
	mvadd_wch(*y, *x + *w - 1, WACS_URCORNER);
	mvadd_wch(*y + *h - 1, *x, WACS_LLCORNER);
	mvadd_wch(*y + *h - 1, *x + *w - 1, WACS_LRCORNER);
}

/*
 * A box of lines that scrolls: the title on its top border, the lines,
 * the footer, and where the window stands (12-30/64) on its bottom border
 * when they do not all fit. *scroll is clamped here. A line starting with
 * a non-blank is a title, except that '+', '-' and '.' (bulk.h) mark an
 * outcome: ok, failed, waiting.
 */
static void draw_list_box(struct app *app, const char *title, const char *top,
			  const char *const *lines, size_t n, size_t *scroll, const char *footer,
			  int want_w)
{
	int t = top != NULL ? 1 : 0; /* a line kept above the ones that scroll */
	int y, x, h = (int)n + 4 + t, w = want_w;
	box_at(app, &h, &w, &y, &x);
	int rows = h - 3 - t > 1 ? h - 3 - t : 1;
	size_t max = n > (size_t)rows ? n - (size_t)rows : 0;
	if (*scroll > max)
		*scroll = max;
	put(y, x + 2, w - 4, draw_attr(app, TH_OVERLAY_TITLE), title);
	if (top != NULL)
		put(y + 1, x + 2, w - 4, draw_attr(app, TH_OVERLAY), top);
	for (int i = 0; i < rows && *scroll + (size_t)i < n; i++) {
		const char *l = lines[*scroll + (size_t)i];
		enum theme_elem el = l[0] == '+'		  ? TH_FEED_OK
				     : l[0] == '-'		  ? TH_FEED_ERROR
				     : l[0] == '.'		  ? TH_FEED_INFO
				     : l[0] != ' ' && l[0] != '\0' ? TH_OVERLAY_TITLE
								  : TH_OVERLAY;
		if (l[0] == '+' || l[0] == '-' || l[0] == '.')
			l++;
		put(y + 1 + t + i, x + 2, w - 4, draw_attr(app, el), l);
	}
	if (footer != NULL)
		put(y + h - 2, x + 2, w - 4, draw_attr(app, TH_OVERLAY_TITLE), footer);
	if (max > 0) {
		char pos[64];
		snprintf(pos, sizeof(pos), " %zu-%zu/%zu ", *scroll + 1,
			 *scroll + (size_t)rows < n ? *scroll + (size_t)rows : n, n);
		int pw = (int)strlen(pos);
		put(y + h - 1, x + w - 2 - pw, pw, draw_attr(app, TH_OVERLAY_TITLE), pos);
	}
}

/* The help box: help.c's table of every key of every view. */
static void draw_help(struct app *app)
{
	size_t n;
	const char *const *lines = help_lines(&n);
	/* Where the tools find this console (a --local Redis is a socket
	 * nobody could guess): first, and kept while the rest scrolls. */
	char addr[600];
	snprintf(addr, sizeof(addr), "Redis: %s  (tasker send/watch/logs given no address find a "
				     "--local console's by themselves)", bus_address(app->bus));
	draw_list_box(app, " tasker help ", addr, lines, n, &app->help_scroll,
		      "↑↓ PgUp PgDn: scroll   q/Esc: close", 92);
}

/* Draws up to max lines of the tail of text, last line at the bottom. */
/* Draws the last max lines of text (a log tail), the newest at the bottom.
 * Found by scanning back from the end: a long tail of short lines must
 * still show its end. */
static int draw_tail(int y, int x, int w, int max, int attr, const char *text)
{
	if (text == NULL || max <= 0)
		return 0;
	size_t end = strlen(text);
	if (end > 0 && text[end - 1] == '\n')
		end--; /* the final newline ends the last line; it starts none */
	/* starts[] holds line starts from the last line backwards. */
	size_t starts[256];
	int n = 0;
	size_t i = end;
	while (n < max && n < 256) {
		size_t b = i;
		while (b > 0 && text[b - 1] != '\n')
			b--;
		if (!(b == i && i == 0 && end == 0))
			starts[n++] = b;
		if (b == 0)
			break;
		i = b - 1;
	}
	for (int k = 0; k < n; k++) {
		size_t b = starts[n - 1 - k];
		const char *nl = memchr(text + b, '\n', end - b);
		size_t len = nl ? (size_t)(nl - (text + b)) : end - b;
		char buf[1024];
		snprintf(buf, sizeof(buf), "%.*s", (int)(len < 1000 ? len : 1000), text + b);
		put(y + k, x, w, attr, buf);
	}
	return n;
}

static void draw_detail(struct app *app)
{
	const struct pm2_proc *p = tasks_find(&app->tasks, app->detail_node, app->detail_pm_id);
	/* The whole body: nothing of the table shows beside it. */
	int y, x, h = BODY_ROWS, w = COLS;
	box_at(app, &h, &w, &y, &x);
	int in = x + 2, iw = w - 4, row = y + 1;
	int oa = draw_attr(app, TH_OVERLAY), ta = draw_attr(app, TH_OVERLAY_TITLE);
	if (p == NULL) {
		put(row, in, iw, ta, "This task is gone (deleted?). Esc closes.");
		return;
	}
	char buf[2048];
	if (app->detail_remote)
		snprintf(buf, sizeof(buf), " %s  (pm_id %d on node %s) ", p->name, p->pm_id,
			 app->detail_node);
	else
		snprintf(buf, sizeof(buf), " %s  (pm_id %d) ", p->name, p->pm_id);
	put(y, in, iw, ta, buf);
	if (app->detail_remote) {
		/* Another node's task: what its table says, and its logs through
		 * the logs verb (remote_logs.c). */
		bool lost = tasks_lost(&app->tasks, p);
		snprintf(buf, sizeof(buf), "status   %s%s%s   pid %d   restarts %d   %s",
			 lost ? "lost (last seen " : "", p->status, lost ? ")" : "",
			 p->state == PM2_ST_ONLINE && !lost ? p->pid : 0, p->restart_time,
			 p->cluster ? "cluster mode" : "fork mode");
		put(row++, in, iw, draw_attr(app, status_elem(p)), buf);
		snprintf(buf, sizeof(buf), "logs     %s", app->logs_state);
		put(row++, in, iw, oa, buf);
		row = resultview_draw(app, p, row, in, iw, y + h - 1);
		row += history_draw_detail(app, p, row, in, iw, y + h - 1 - row - 6);
		int rleft = y + h - 1 - row;
		if (rleft < 4)
			return;
		int rhalf = (rleft - 2) / 2;
		put(row++, in, iw, ta, "── stdout ──");
		draw_tail(row, in, iw, rhalf, oa, app->log_out);
		row += rhalf;
		put(row++, in, iw, ta, "── stderr ──");
		draw_tail(row, in, iw, rleft - rhalf - 2, draw_attr(app, TH_FEED_ERROR), app->log_err);
		return;
	}
	snprintf(buf, sizeof(buf), "status   %s   pid %d   restarts %d (unstable %d)   %s",
		 p->status, p->state == PM2_ST_ONLINE ? p->pid : 0, p->restart_time,
		 p->unstable_restarts, p->cluster ? "cluster mode" : "fork mode");
	put(row++, in, iw, draw_attr(app, status_elem(p)), buf);
	size_t o = (size_t)snprintf(buf, sizeof(buf), "command  %s", p->pm_exec_path);
	for (size_t i = 0; i < p->nargs && o < sizeof(buf) - 4; i++) {
		bool quote = p->args[i][0] == '\0' || strpbrk(p->args[i], " \t'\"\\$`;|&<>*?") != NULL;
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, quote ? " '%s'" : " %s", p->args[i]);
	}
	put(row++, in, iw, oa, buf);
	snprintf(buf, sizeof(buf), "cwd      %s", p->pm_cwd);
	put(row++, in, iw, oa, buf);
	if (p->max_memory_restart > 0) {
		char mem[16];
		fmt_bytes(p->max_memory_restart, mem, sizeof(mem));
		snprintf(buf, sizeof(buf), "memory   restart above %s", mem);
		put(row++, in, iw, oa, buf);
	}
	if (app->detail_env_values && app->env_pairs != NULL) {
		put(row++, in, iw, ta, "env (values shown; v hides them)");
		for (size_t i = 0; i < app->nenv_pairs && row < y + h / 2; i++)
			put(row++, in + 2, iw - 2, oa, app->env_pairs[i]);
	} else {
		o = (size_t)snprintf(buf, sizeof(buf), "env      ");
		for (size_t i = 0; i < p->nenv && o < sizeof(buf) - 2; i++)
			o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%s%s", i ? " " : "",
					      p->env_names[i]);
		if (p->nenv == 0)
			snprintf(buf + o, sizeof(buf) - o, "(none)");
		put(row++, in, iw, oa, buf);
		put(row++, in, iw, draw_attr(app, TH_HINT), "         values hidden: press v to show");
	}
	snprintf(buf, sizeof(buf), "out log  %s", p->out_log_path);
	put(row++, in, iw, oa, buf);
	snprintf(buf, sizeof(buf), "err log  %s", p->err_log_path);
	put(row++, in, iw, oa, buf);
	row = resultview_draw(app, p, row, in, iw, y + h - 1);
	row += history_draw_detail(app, p, row, in, iw, y + h - 1 - row - 6);

	int left = y + h - 1 - row;
	if (left < 4)
		return;
	int half = (left - 2) / 2;
	put(row++, in, iw, ta, "── stdout (following) ──");
	draw_tail(row, in, iw, half, oa, app->log_out);
	row += half;
	put(row++, in, iw, ta, "── stderr ──");
	draw_tail(row, in, iw, left - half - 2, draw_attr(app, TH_FEED_ERROR), app->log_err);
}

/* One log line at y: its stream mark, then the text with the matches of
 * the last search in reverse video. Only visible lines get here. */
static void draw_log_line(struct app *app, int y, const struct logview_line *l)
{
	int ea = draw_attr(app, TH_FEED_ERROR), oa = draw_attr(app, TH_DEFAULT);
	int ma = draw_attr(app, l->err ? TH_FEED_ERROR : TH_FEED_TIME);
	put(y, 0, 4, ma, l->err ? "err" : "out");
	put(y, 3, 1, draw_attr(app, TH_BORDER), ascii_only ? "|" : "│");
	int x0 = 4, w = COLS - x0;
	int a = l->err ? ea : oa;
	put(y, x0, w, a, l->text);
	const char *pat = app->lv.pattern;
	size_t plen = strlen(pat);
	if (plen == 0)
		return;
	const char *from = l->text;
	const char *m;
	char pre[LOGVIEW_LINE_MAX + 1], buf[LOGVIEW_LINE_MAX * 3 + 8];
	while ((m = logview_match(from, pat)) != NULL) {
		size_t off = (size_t)(m - l->text);
		memcpy(pre, l->text, off);
		pre[off] = '\0';
		int col = (int)fmt_fit(pre, 100000, buf, sizeof(buf));
		if (col >= w - 1)
			break;
		snprintf(pre, sizeof(pre), "%.*s", (int)plen, m);
		put(y, x0 + col, w - col, a | A_REVERSE, pre);
		from = m + plen;
	}
}

/* The full-screen log view (l): a title, the visible window, the prompt. */
static int draw_logs(struct app *app)
{
	struct logview *lv = &app->lv;
	int rows = LINES - 4;
	if (rows < 1)
		rows = 1;
	app->lv_rows = rows;
	logview_clamp(lv, (size_t)rows);
	int ta = draw_attr(app, TH_TABLE_HEAD);
	fill(1, 0, ta);
	char title[700];
	char on[TASKS_NODE_MAX + 16] = "";
	if (app->detail_remote)
		snprintf(on, sizeof(on), " on node %s", app->detail_node);
	size_t last = lv->top + (size_t)rows < lv->count ? lv->top + (size_t)rows : lv->count;
	snprintf(title, sizeof(title), " logs of %s%s · %zu-%zu/%zu%s%s%s", app->lv_task, on,
		 lv->count ? lv->top + 1 : 0, last, lv->count, lv->follow ? " · following (F)" : "",
		 lv->pattern[0] ? " · search: " : "", lv->pattern);
	int x = put(1, 0, COLS, ta, title);
	if (app->detail_remote && app->logs_state[0]) {
		char st[200];
		snprintf(st, sizeof(st), " · logs %s", app->logs_state);
		put(1, x, COLS - x, ta, st);
	}
	for (int r = 0; r < rows; r++) {
		const struct logview_line *l = logview_at(lv, lv->top + (size_t)r);
		if (l == NULL)
			break;
		draw_log_line(app, 2 + r, l);
	}
	if (lv->count == 0)
		put(2, 1, COLS - 1, draw_attr(app, TH_FEED_INFO),
		    app->detail_remote ? "(waiting for the node's lines)" : "(no log lines yet)");
	int ba = draw_attr(app, TH_BAR);
	if (lv->searching) {
		fill(LINES - 1, 0, ba);
		put(LINES - 1, 0, 1, draw_attr(app, TH_BAR_PROMPT), "/");
		int used = put(LINES - 1, 1, COLS - 2, ba, lv->input);
		return 1 + used;
	}
	if (lv->note[0]) {
		fill(LINES - 1, 0, ba);
		put(LINES - 1, 0, COLS, draw_attr(app, TH_BAR_ERROR), lv->note);
	}
	return -1;
}

void draw_screen(struct app *app)
{
	ascii_only = app->ascii;
	/* Layout: header, table head + rows, feed title + rows, hints, bar. */
	int body = LINES - 5;
	if (body < 2)
		body = 2;
	int want = app->tasks.nview > 0 ? (int)app->tasks.nview : 3;
	int table_rows = want < body * 7 / 10 ? want : body * 7 / 10;
	if (table_rows < 3)
		table_rows = body >= 5 ? 3 : 1;
	int feed_rows = body - table_rows;
	if (feed_rows < 1) {
		feed_rows = 1;
		table_rows = body - 1;
	}
	app->table_rows = table_rows;
	app->feed_rows = feed_rows;

	attrset(draw_attr(app, TH_DEFAULT));
	erase();
	draw_header(app);
	/* A question asked from the details keeps them on screen. */
	enum app_mode view = app->mode == MODE_CONFIRM ? app->confirm_back : app->mode;
	if (view == MODE_TABLE) {
		draw_table(app, 1, table_rows);
		draw_feed(app, 2 + table_rows, feed_rows);
	}
	draw_hints(app, LINES - 2);
	int cur = draw_bar(app, LINES - 1);
	/* Overlays go on an empty body: a table row showing beside a box reads
	 * as part of it. */
	if (view == MODE_HELP)
		draw_help(app);
	else if (view == MODE_DETAIL)
		draw_detail(app);
	else if (view == MODE_JOBS)
		jobview_draw(app);
	else if (view == MODE_LOGS && app->mode == MODE_LOGS) {
		int c = draw_logs(app);
		if (c >= 0)
			cur = c;
	} else if (view == MODE_LOGS)
		draw_logs(app);
	const struct bulk_panel *bp = view == MODE_TABLE ? bulk_panel(app) : NULL;
	if (bp != NULL)
		draw_list_box(app, bp->title, NULL, bp->lines, bp->nlines, bp->scroll, bp->footer,
			      100);
	if (cur >= 0) {
		curs_set(1);
		move(LINES - 1, cur);
	} else {
		curs_set(0);
	}
	attrset(A_NORMAL);
	wnoutrefresh(stdscr);
	doupdate();
}
