/*
 * console: the operator console (`tasker`): lifecycle, events and input.
 *
 * It owns the terminal, the loop's watchers for the tty, the Redis bus (the
 * status channel, plus the command channel in --local mode), a PM2 client
 * for the task table (the daemon's socket, never `pm2 jlist`), and in
 * --local mode an in-process executor and possibly a private redis-server.
 *
 * The console never drives PM2 itself: every action is an envelope
 * published on the command channel, exactly as `tasker send` does, so it
 * works through any executor, local or remote.
 *
 * Handlers only change struct app and set dirty; draw.c paints at most
 * every 50 ms. The terminal is restored on every way out: normal exit,
 * SIGTERM, SIGHUP (the SSH link dropped), and fatal signals.
 */
#include "console.h"

#include <errno.h>
#include <fcntl.h>
#include <locale.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include <curses.h>
#include <hiredis/hiredis.h>

#include "app.h"
#include "backlog.h"
#include "bulk.h"
#include "codec.h"
#include "complete.h"
#include "help.h"
#include "fleet_admit.h"
#include "jobview.h"
#include "keys.h"
#include "log.h"
#include "procview.h"
#include "reply_sig.h"
#include "resultview.h"
#include "slash.h"
#include "terminal.h"
#include "tools.h"
#include "util.h"

#define DRAW_MIN_MS 50
#define EXECUTOR_SCAN_MS 5000
#define LOG_POLL_MS 500
#define LOG_TAIL_BYTES 16384
#define FEED_LINES 5000
#define CONFIRM_GUARD_MS 300

extern char **environ;

const struct option console_options[] = {
	{"local", no_argument, NULL, 'L'},
	{"theme", required_argument, NULL, 'T'},
	{"interval", required_argument, NULL, 'I'},
	{"pm2-home", required_argument, NULL, 'P'},
	{"no-mouse", no_argument, NULL, 'M'},
	{NULL, 0, NULL, 0},
};

/* The terminal as we found it, for the fatal-signal path. */
static struct termios saved_termios;
static bool saved_termios_ok;
static bool curses_on;

/* Bracketed paste (xterm mode 2004): pasted text arrives marked, so that
 * it is never taken for keys (dispatch_input). */
static void bracketed_paste(bool on)
{
	const char *seq = on ? "\033[?2004h" : "\033[?2004l";
	if (write(STDOUT_FILENO, seq, strlen(seq)) < 0) {
		/* a terminal that is gone needs no mode */
	}
}

/* Mouse reports (xterm 1000, SGR encoding 1006): clicks and the wheel. */
static bool mouse_on;
static void mouse_mode(bool on)
{
	const char *seq = on ? "\033[?1000h\033[?1006h" : "\033[?1006l\033[?1000l";
	mouse_on = on;
	if (write(STDOUT_FILENO, seq, strlen(seq)) < 0) {
		/* a terminal that is gone needs no mode */
	}
}

static void restore_terminal(void)
{
	if (curses_on) {
		curses_on = false;
		if (mouse_on)
			mouse_mode(false);
		bracketed_paste(false);
		endwin();
	}
}

/* Async-signal-safe: put the terminal back and die with the same signal. */
static void fatal_signal(int sig)
{
	static const char leave[] = "\033[?1006l\033[?1000l\033[?2004l\033[?1049l\033[?25h\r\n";
	if (saved_termios_ok)
		tcsetattr(STDIN_FILENO, TCSANOW, &saved_termios);
	if (write(STDOUT_FILENO, leave, sizeof(leave) - 1) < 0) {
		/* nothing more can be done here */
	}
	signal(sig, SIG_DFL);
	raise(sig);
}

static void mark(struct app *app)
{
	app->dirty = true;
}

static void set_message_v(struct app *app, enum msg_kind kind, const char *fmt, va_list ap)
{
	vsnprintf(app->message, sizeof(app->message), fmt, ap);
	app->message_kind = kind;
	app->message_task[0] = '\0';
	app->message_redis = false;
	mark(app);
}

static void set_message(struct app *app, enum msg_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* The bar's message alone: for what the feed already shows or what only
 * matters now (a sort, a filter, "waiting"). */
static void set_message(struct app *app, enum msg_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message_v(app, kind, fmt, ap);
	va_end(ap);
}

void app_feed(struct app *app, enum feed_kind kind, const char *text)
{
	char clock[16];
	tools_clock(NULL, clock, sizeof(clock));
	feed_add(&app->feed, clock, kind, text);
	mark(app);
}

/* The bar's message; an error also goes to the feed, where the next
 * message cannot overwrite it. */
void app_message(struct app *app, enum msg_kind kind, const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	set_message_v(app, kind, fmt, ap);
	va_end(ap);
	if (kind == MSG_ERROR)
		app_feed(app, FEED_ERROR, app->message);
}

/* Log lines go to the feed while curses owns the screen; only errors: the
 * feed already shows every outcome and every Redis state change, and a
 * local executor's warnings would repeat its own replies. */
static void log_to_feed(enum log_level level, const char *line, void *arg)
{
	struct app *app = arg;
	if (level < LOG_LVL_ERROR)
		return;
	/* Drop the time stamp the logger added: the feed has its own. */
	const char *text = strchr(line, ' ');
	text = text ? text + 1 : line;
	app_feed(app, level >= LOG_LVL_ERROR ? FEED_ERROR : FEED_INFO, text);
}

/* --- drawing schedule ------------------------------------------------------ */

static void check_redis_state(struct app *app);

static void on_draw_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct app *app = arg;
	app->draw_timer = NULL;
	mark(app);
}

static void on_idle(struct loop *loop, void *arg)
{
	struct app *app = arg;
	check_redis_state(app);
	if (cmdbar_dirty(app->bar))
		app->dirty = true;
	if (!app->dirty || !curses_on)
		return;
	int64_t now = loop_now(loop);
	if (now - app->last_draw < DRAW_MIN_MS) {
		if (app->draw_timer == NULL)
			app->draw_timer = loop_timer_add(loop, DRAW_MIN_MS - (now - app->last_draw),
							 on_draw_timer, app);
		return;
	}
	app->dirty = false;
	app->last_draw = now;
	draw_screen(app);
}

/* --- PM2: the task table ------------------------------------------------------ */

static void refresh_tasks(struct app *app);
static void refresh_soon(struct app *app);

static void on_list(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
		    void *arg)
{
	(void)c;
	struct app *app = arg;
	app->pm2_listing = false;
	if (procview_listed(app, error == NULL))
		refresh_soon(app);
	if (error != NULL) {
		bool was = app->pm2_ok;
		if (app->pm2_ok || strcmp(app->pm2_why, error) != 0)
			mark(app);
		app->pm2_ok = false;
		snprintf(app->pm2_why, sizeof(app->pm2_why), "%s", error);
		/* The local node's rows now come from its table, if it has one. */
		if (was)
			fleet_merge(app);
		return;
	}
	if (!app->pm2_ok)
		pm2_events_connect(app->pmev);
	app->pm2_ok = true;
	app->pm2_why[0] = '\0';
	fleet_set_local(app, procs, n);
}

static void on_version(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct app *app = arg;
	if (error == NULL && cJSON_IsString(result))
		snprintf(app->pm2_version, sizeof(app->pm2_version), "%s", result->valuestring);
}

static void refresh_tasks(struct app *app)
{
	if (app->pm2_listing)
		return;
	app->pm2_listing = true;
	procview_listing(app);
	pm2_list(app->pm2, on_list, app);
	if (app->pm2_version[0] == '\0')
		pm2_version(app->pm2, on_version, app);
}

/* Redis is down: in the feed and the bar. Plain `tasker` with nothing at
 * the default address most likely wants --local. */
static void report_redis_down(struct app *app, const char *why)
{
	if (!app->local && !app->cfg->redis_explicit)
		app_message(app, MSG_ERROR,
			    "no Redis at the default address (start redis-server, or run tasker "
			    "--local for a private one): %s",
			    why);
	else
		app_message(app, MSG_ERROR, "Redis: %s", why);
	app->message_redis = true;
}

static void on_refresh_timer(struct loop *loop, void *arg)
{
	struct app *app = arg;
	loop_timer_add(loop, app->interval_ms, on_refresh_timer, app);
	/* Between listings, the rows follow PM2's events and /proc
	 * (procview.h); a listing every interval only without events. */
	if (procview_tick(app))
		refresh_tasks(app);
	hist_ring_sample(&app->hist, &app->tasks); /* one sample a tick: the sparklines' time axis */
	/* The bus reports changes; a Redis that was never up is said here once. */
	if (!app->redis_ok && !app->redis_reported && loop_now(loop) - app->started > 1000) {
		report_redis_down(app, bus_status(app->bus));
		app->redis_reported = true;
	}
	mark(app); /* the clock and uptimes move */
}

static struct loop_timer *soon_timer;

static void on_soon(struct loop *loop, void *arg)
{
	(void)loop;
	soon_timer = NULL;
	refresh_tasks(arg);
}

/* Refreshes in ms, coalescing a burst of events into one listing. */
static void refresh_in(struct app *app, int64_t ms)
{
	if (soon_timer == NULL)
		soon_timer = loop_timer_add(app->loop, ms, on_soon, app);
}

static void refresh_soon(struct app *app)
{
	refresh_in(app, 100);
}

static void on_pm2_event(struct pm2_events *r, const struct pm2_event *ev, void *arg)
{
	(void)r;
	struct app *app = arg;
	if (ev->kind == PM2_EV_PROCESS)
		refresh_in(app, procview_event(app, ev));
}

static void on_pm2_events_state(struct pm2_events *r, bool connected, const char *reason,
				void *arg)
{
	(void)r;
	(void)reason;
	struct app *app = arg;
	/* Reconnected by the next successful listing (on_list) or refresh
	 * (procview_tick); a listing at once after any gap. */
	procview_events_state(app, connected);
	if (connected)
		refresh_soon(app);
}

/* --- Redis: status feed, outcomes, executors ------------------------------------ */

static void status_checked(const char *data, size_t len, const struct reply_check *chk,
			   void *arg);

/* Every status message is checked against its node's key first
 * (reply_sig.h; a presence lookup may delay it, in order). */
static void handle_status(struct app *app, const char *data, size_t len)
{
	remote_logs_reply(app, data, len);
	reply_trust_check(app->trust, data, len, status_checked, app);
}

static void status_checked(const char *data, size_t len, const struct reply_check *chk,
			   void *arg)
{
	struct app *app = arg;
	struct status_view v;
	char err[200];
	if (codec_decode_status(data, len, &v, err, sizeof(err)) < 0) {
		char text[300];
		snprintf(text, sizeof(text), "unreadable status message: %s", err);
		app_feed(app, FEED_ERROR, text);
		return;
	}
	char line[1200];
	tools_describe_status(&v, line, sizeof(line));
	bool is_list = v.type != NULL && strcmp(v.type, "task_list") == 0;
	int outcome = codec_status_outcome(is_list ? "listed" : v.status);
	enum feed_kind kind = outcome == 1 ? FEED_OK : outcome == 0 ? FEED_ERROR : FEED_INFO;
	if (outcome < 0 && v.status != NULL &&
	    (strcmp(v.status, "exited") == 0 || strcmp(v.status, "errored") == 0))
		kind = FEED_ERROR;
	char clock[16], text[1400];
	tools_clock(&v, clock, sizeof(clock));
	if (v.node != NULL)
		snprintf(text, sizeof(text), "%s  [%s]", line, v.node);
	else
		snprintf(text, sizeof(text), "%s", line);
	/* Not the node's own words: marked, and never the answer awaited. */
	bool trusted = reply_acceptable(chk);
	if (chk->verdict != REPLY_VERIFIED) {
		size_t used = strlen(text);
		snprintf(text + used, sizeof(text) - used, "  %s", reply_verdict_word(chk));
		if (!trusted)
			kind = FEED_ERROR;
	}
	feed_add(&app->feed, clock, kind, text);
	jobview_message(app, v.type);

	bool ours = false;
	for (size_t i = 0; trusted && v.request_id != NULL && i < app->npending; i++) {
		if (strcmp(app->pending[i].id, v.request_id) != 0 || outcome < 0)
			continue;
		set_message(app, outcome ? MSG_OK : MSG_ERROR, "%s", line);
		snprintf(app->message_task, sizeof(app->message_task), "%s",
			 v.task_name ? v.task_name : "");
		app->pending[i] = app->pending[--app->npending];
		ours = true;
		break;
	}
	/* A task that crashes right after our "started" or "restarted": the
	 * bar must not keep a success the feed has already contradicted. */
	if (!ours && trusted && kind == FEED_ERROR && app->message_kind == MSG_OK && v.task_name != NULL &&
	    app->message_task[0] != '\0' && strcmp(v.task_name, app->message_task) == 0) {
		set_message(app, MSG_ERROR, "%s", line);
		snprintf(app->message_task, sizeof(app->message_task), "%s", v.task_name);
	}
	/* After the bar took the line: the bulk's summary has the last word. */
	bulk_reply(app, v.request_id, v.status, v.error, trusted ? outcome : -1);
	codec_status_view_free(&v);
	refresh_soon(app);
	mark(app);
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	struct app *app = arg;
	if (strcmp(channel, app->cfg->status_channel) == 0) {
		if (!backlog_live(app->backlog, data, len))
			handle_status(app, data, len);
	} else if (app->ex != NULL && strcmp(channel, app->cfg->channel) == 0) {
		executor_handle(app->ex, data, len);
	} else if (app->ex != NULL && strcmp(channel, EXEC_JOB_CHANNEL) == 0) {
		executor_handle_job(app->ex, data, len);
	}
}

/* How many clients listen on the command channel: the live executors of
 * that channel (presence keys count nodes, and two executors of one node
 * share one key). A watcher of commands counts too. With our own executor
 * running, more than one means every command may run twice: warn. */
static void on_numsub(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->counting = false;
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY || reply->elements != 2 ||
	    reply->element[1]->type != REDIS_REPLY_INTEGER)
		return;
	long long n = reply->element[1]->integer;
	if (app->executors != n)
		mark(app);
	app->executors = n;
	/* Our own subscription may not be confirmed yet: counted next time.
	 * Other executors on the channel are nodes of the same fleet, each
	 * command carried out once (docs/fleet.md); one for our own node is
	 * refused by the executor itself. Say so once when the count grows. */
	if (app->ex == NULL || app->local_subscribing)
		return;
	if (n > 1 && n > app->dup_warned) {
		char line[400];
		snprintf(line, sizeof(line),
			 "%lld clients listen on %s: other executors there are nodes of one fleet, "
			 "each command is carried out once",
			 n, app->cfg->channel);
		app_feed(app, FEED_INFO, line);
	}
	app->dup_warned = n > 1 ? n : 0;
}

static void count_executors(struct app *app)
{
	if (app->counting || !bus_can_command(app->bus))
		return;
	const char *argv[3] = {"PUBSUB", "NUMSUB", app->cfg->channel};
	size_t lens[3] = {6, 6, strlen(app->cfg->channel)};
	if (bus_command(app->bus, 3, argv, lens, on_numsub, app) == 0)
		app->counting = true;
}

static void on_scan_timer(struct loop *loop, void *arg)
{
	struct app *app = arg;
	loop_timer_add(loop, EXECUTOR_SCAN_MS, on_scan_timer, app);
	count_executors(app);
}

static void on_scan_timer_once(struct loop *loop, void *arg)
{
	(void)loop;
	count_executors(arg);
}

/* The local executor's channel being added (local.c) is no outage: the bus
 * is "not ready" only until Redis confirms it, and not for ever. */
#define SUBSCRIBE_GRACE_MS 5000

static bool adding_channel(const struct app *app)
{
	return app->local_subscribing && bus_can_command(app->bus) &&
	       strcmp(bus_status(app->bus), "subscribing") == 0 &&
	       loop_now(app->loop) - app->local_subscribe_at < SUBSCRIBE_GRACE_MS;
}

static void redis_down(struct app *app, const char *why)
{
	bool was = app->redis_ok;
	app->redis_ok = false;
	app->local_subscribing = false;
	if (!was)
		return;
	app->redis_reported = true;
	report_redis_down(app, why);
	local_redis_down(app);
	if (app->ex != NULL)
		executor_bus_state(app->ex, false);
	mark(app);
}

static void redis_up(struct app *app)
{
	bool outage = !app->redis_ok;
	app->redis_ok = true;
	app->local_subscribing = false;
	if (outage) {
		app->redis_reported = false;
		app_feed(app, FEED_INFO, "Redis connected");
		/* The bar must not keep blaming an outage that is over. */
		if (app->message_redis)
			set_message(app, MSG_INFO, "Redis is back (%s)%s", bus_status(app->bus),
				    app->npending > 0 ? "; what was queued has gone out" : "");
	}
	if (outage)
		backlog_ready(app->backlog);
	count_executors(app);
	/* A local executor writes its presence just after this. */
	loop_timer_add(app->loop, 1000, on_scan_timer_once, app);
	/* What was published while Redis was down has only now gone out: its
	 * executor gets the full time to answer. (Also after a drop the bus
	 * never told: it cannot hurt.) */
	int64_t deadline = loop_now(app->loop) + APP_REPLY_WAIT_MS;
	for (size_t i = 0; i < app->npending; i++)
		if (app->pending[i].deadline < deadline)
			app->pending[i].deadline = deadline;
	if (app->ex != NULL)
		executor_bus_state(app->ex, true);
	else
		local_redis_up(app);
	mark(app);
}

/* The bus says when readiness changes; the console hides one "not ready"
 * (adding the local executor's channel). A drop while it hides that gets
 * no call of its own (the bus was not ready already), so the state is
 * checked against the bus after every loop pass too (on_idle). */
static void on_bus_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->bus_said_ready = ready;
	if (ready)
		redis_up(app);
	else if (!adding_channel(app))
		redis_down(app, why);
}

static void check_redis_state(struct app *app)
{
	if (app->redis_ok && !app->bus_said_ready && !adding_channel(app))
		redis_down(app, bus_status(app->bus));
}

static void on_pending_timer(struct loop *loop, void *arg)
{
	struct app *app = arg;
	loop_timer_add(loop, 500, on_pending_timer, app);
	int64_t now = loop_now(loop);
	for (size_t i = 0; i < app->npending;) {
		struct pending *p = &app->pending[i];
		if (p->deadline > now) {
			i++;
			continue;
		}
		if (!app->redis_ok) {
			/* Not an executor's silence: the command waits in the
			 * publish queue, and goes out when Redis is back. */
			if (!p->told_redis_down) {
				app_message(app, MSG_ERROR,
					    "no answer to %s: Redis is down (%s); it is sent when Redis "
					    "is back",
					    p->what, bus_status(app->bus));
				app->message_redis = true;
			}
			p->told_redis_down = true;
			p->deadline = now + APP_REPLY_WAIT_MS;
			i++;
			continue;
		}
		app_message(app, MSG_ERROR,
			    "no executor answered %s within %d s: is tasker exec running on %s? "
			    "(or run tasker --local)",
			    p->what, APP_REPLY_WAIT_MS / 1000, app->cfg->channel);
		*p = app->pending[--app->npending];
	}
}

/* --- commands ----------------------------------------------------------------- */

static void on_drained(void *arg)
{
	struct app *app = arg;
	loop_stop(app->loop, EXIT_OK);
}

/* A local executor is drained first: it finishes the commands in flight,
 * deletes its presence key (so a console started next does not wait for
 * the key to expire), and flushes its replies, within 15 s; asked twice,
 * the console leaves at once. */
static void quit(struct app *app)
{
	if (app->ex == NULL || app->draining) {
		loop_stop(app->loop, EXIT_OK);
		return;
	}
	app->draining = true;
	size_t n = executor_inflight(app->ex);
	if (n > 0)
		set_message(app, MSG_WAIT,
			    "quitting: the local executor finishes %zu command(s) first (q again: "
			    "leave now)",
			    n);
	else
		set_message(app, MSG_WAIT, "quitting: the local executor signs off");
	executor_drain(app->ex, on_drained, app);
}

static void open_detail(struct app *app, const struct pm2_proc *p);

static void theme_remember(const char *name);

/* Handles /help, /quit, /filter, /node, /sort, /theme, /clear; false when the
 * verb is not a console command. */
static bool console_command(struct app *app, const struct slash_line *l)
{
	const char *v = l->verb;
	const char *arg = l->content ? l->content : "";
	if (strcmp(v, "help") == 0) {
		app->mode = MODE_HELP;
	} else if (strcmp(v, "quit") == 0 || strcmp(v, "q") == 0 || strcmp(v, "exit") == 0) {
		quit(app);
	} else if (strcmp(v, "filter") == 0) {
		app->live_filter = false; /* typed to the end: it stays */
		tasks_set_filter(&app->tasks, arg);
		if (arg[0])
			set_message(app, MSG_INFO, "filter: %s (/filter alone clears it)", arg);
		else
			set_message(app, MSG_INFO, "filter cleared");
	} else if (strcmp(v, "node") == 0) {
		if (arg[0] != '\0' && !fleet_node_known(app, arg)) {
			app_message(app, MSG_ERROR, "/node: no node %.128s in the fleet (n cycles through them)",
				    arg);
			return true;
		}
		tasks_set_node_filter(&app->tasks, arg);
		if (arg[0])
			set_message(app, MSG_INFO, "node %s only (/node alone or n shows every node)", arg);
		else
			set_message(app, MSG_INFO, "every node");
	} else if (strcmp(v, "sort") == 0) {
		enum tasks_col col;
		if (tasks_col_parse(arg, &col) < 0) {
			app_message(app, MSG_ERROR,
				    "/sort takes a column: node id name status pid cpu memory uptime restarts "
				    "mode owner");
			return true;
		}
		tasks_sort_by(&app->tasks, col);
		set_message(app, MSG_INFO, "sorted by %s (%s)", tasks_col_name(col),
			    app->tasks.descending ? "descending" : "ascending");
	} else if (strcmp(v, "theme") == 0) {
		char err[300];
		struct theme t;
		if (arg[0] == '\0') {
			char **names;
			size_t n = theme_list(&names);
			char list[300] = "";
			size_t o = 0;
			for (size_t i = 0; i < n && o < sizeof(list) - 2; i++)
				o += (size_t)snprintf(list + o, sizeof(list) - o, " %s", names[i]);
			theme_list_free(names, n);
			set_message(app, MSG_INFO, "theme %s; available:%s", app->theme_name, list);
			return true;
		}
		if (theme_load(arg, &t, err, sizeof(err)) < 0) {
			app_message(app, MSG_ERROR, "%s", err);
			return true;
		}
		if (!app->color)
			theme_monochrome(&t);
		app->theme = t;
		snprintf(app->theme_name, sizeof(app->theme_name), "%s", arg);
		draw_apply_theme(app);
		theme_remember(arg);
		set_message(app, MSG_INFO, "theme %s (remembered)", arg);
	} else if (strcmp(v, "jobs") == 0) {
		jobview_open(app);
	} else if (strcmp(v, "clear") == 0) {
		feed_clear(&app->feed);
		app->message[0] = '\0';
	} else {
		return false;
	}
	mark(app);
	return true;
}

/* A typed command on its way into the fleet's stream (publish_line). */
struct admitting {
	struct app *app;
	char *json;
};

/* The admission's reply: the same bytes are published now, whatever it
 * says (executors drop the copy of a command admitted already; when Redis
 * refuses the stream, the PUBLISH alone is what gets it to them). */
static void on_line_admitted(struct bus *bus, redisReply *r, void *arg)
{
	struct admitting *a = arg;
	/* One console per process: the refusal is said once in its feed. */
	static bool said_refused;
	if (fleet_admit_outcome(r) == FLEET_REFUSED && !said_refused) {
		said_refused = true;
		char note[300];
		snprintf(note, sizeof(note),
			 "Redis refused the fleet's stream (%.150s): commands are published only; "
			 "one typed while no executor listens is lost",
			 r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		app_feed(a->app, FEED_ERROR, note);
		mark(a->app);
	}
	/* A lost reply (the connection went) leaves the PUBLISH queued for the
	 * reconnect; the executors admit it then. */
	bus_publish(bus, a->app->cfg->channel, a->json, strlen(a->json), NULL, NULL);
	free(a->json);
	free(a);
}

/* Publishes a parsed line as an envelope with a fresh request_id and
 * remembers it, so that the reply carrying that id shows in the bar. It
 * goes into the fleet's stream first, as `tasker send` does (fleet_admit.h):
 * an executor that starts within its ttl still carries it out. While Redis
 * is down it waits in the bus's queue as a plain PUBLISH. */
static int publish_line(struct app *app, const struct slash_line *l, char sent_id[33])
{
	char rid[33];
	sent_id[0] = '\0';
	util_random_id(rid);
	char *json = codec_encode_command(l, app->cfg->agent_id, rid, util_wall_ms());
	const char *task = slash_param_get(l, "task");
	if (task == NULL)
		task = slash_param_get(l, "name");
	const char *pm_id = task == NULL ? slash_param_get(l, "pm_id") : NULL;
	char what[160];
	snprintf(what, sizeof(what), "/%s%s%s%s", l->verb, task || pm_id ? " " : "",
		 pm_id ? "pm_id " : "", task ? task : pm_id ? pm_id : "");
	/* The operator's key signs it when one is configured (--key). */
	char serr[400];
	if (tools_sign_command(app->cfg->key_path, &json, serr, sizeof(serr)) < 0) {
		app_message(app, MSG_ERROR, "%s not sent: %s", what, serr);
		free(json);
		return -1;
	}
	int rc = -1;
	if (bus_can_command(app->bus)) {
		char *prefix = fleet_admit_prefix(app->cfg->channel);
		struct fleet_admit adm;
		fleet_admit_build(&adm, prefix, json, strlen(json));
		struct admitting *a = xmalloc(sizeof(*a));
		*a = (struct admitting){app, json};
		rc = bus_command(app->bus, FLEET_ADMIT_ARGC, adm.argv, adm.lens, on_line_admitted, a);
		fleet_admit_free(&adm);
		free(prefix);
		if (rc == 0)
			json = NULL; /* the callback's now */
		else
			free(a);
	}
	if (rc < 0 && bus_publish(app->bus, app->cfg->channel, json, strlen(json), NULL, NULL) < 0) {
		app_message(app, MSG_ERROR, "%s not sent: the publish queue is full", what);
		free(json);
		return -1;
	}
	free(json);
	if (app->npending == APP_MAX_PENDING)
		app->pending[0] = app->pending[--app->npending];
	struct pending *p = &app->pending[app->npending++];
	*p = (struct pending){0}; /* a reused slot keeps nothing of its last command */
	snprintf(p->id, sizeof(p->id), "%s", rid);
	snprintf(p->what, sizeof(p->what), "%s", what);
	/* While Redis is down the message waits in the queue; so does the clock. */
	p->deadline = loop_now(app->loop) + APP_REPLY_WAIT_MS;
	snprintf(sent_id, 33, "%s", rid);
	if (app->redis_ok) {
		set_message(app, MSG_WAIT, "%s sent, waiting for the outcome", what);
	} else {
		set_message(app, MSG_WAIT, "%s queued: Redis is down (%s)", what, bus_status(app->bus));
		app->message_redis = true;
	}
	return 0;
}

/* Parses a typed line and publishes it as `tasker send` would. */
static void submit_line(struct app *app, const char *line)
{
	struct slash_line l;
	struct slash_error e;
	if (slash_parse(line, strlen(line), &l, &e) < 0) {
		app_message(app, MSG_ERROR, "%s (nothing was sent): %.200s", e.message, line);
		return;
	}
	if (l.verb == NULL) {
		slash_line_free(&l);
		if (line[strspn(line, " \t")] != '\0')
			app_message(app, MSG_ERROR, "a command starts with /VERB; nothing was sent");
		return;
	}
	if (console_command(app, &l)) {
		slash_line_free(&l);
		return;
	}
	char rid[33];
	publish_line(app, &l, rid);
	slash_line_free(&l);
}

int console_publish(struct app *app, const struct slash_line *l, char rid[33])
{
	return publish_line(app, l, rid);
}

/* A key's action on a task: the envelope is built directly, not through
 * text, so a PM2 name with blanks or quotes names exactly that task. A row
 * of another node names that node (params.node), so the dispatcher sends
 * it there and nowhere else. */
static void send_action(struct app *app, const char *verb, const char *name, const char *node,
			int pm_id)
{
	char rid[33];
	bulk_send_action(app, verb, name, node, pm_id, rid); /* by pm_id when the name is refused */
}

static void on_bar_line(char *line, void *arg)
{
	struct app *app = arg;
	if (line != NULL) {
		submit_line(app, line);
		free(line);
	}
	mark(app);
}

static size_t on_complete(const char *line, size_t point, char ***out, size_t *start, void *arg)
{
	struct app *app = arg;
	const char **names;
	size_t n = tasks_names(&app->tasks, &names);
	char **themes;
	size_t nthemes = theme_list(&themes);
	size_t k = complete_candidates_themes(line, point, names, n, (const char *const *)themes, nthemes,
				       out, start);
	theme_list_free(themes, nthemes);
	free(names);
	return k;
}

/* --- detail view ----------------------------------------------------------------- */

static char *read_tail(const char *path, long long *size_out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return NULL;
	}
	off_t from = st.st_size > LOG_TAIL_BYTES ? st.st_size - LOG_TAIL_BYTES : 0;
	char *buf = xmalloc(LOG_TAIL_BYTES + 1);
	ssize_t n = pread(fd, buf, LOG_TAIL_BYTES, from);
	close(fd);
	if (n < 0)
		n = 0;
	buf[n] = '\0';
	*size_out = (long long)st.st_size;
	/* Start at a line boundary when we cut into the file. */
	if (from > 0) {
		char *nl = strchr(buf, '\n');
		if (nl != NULL)
			memmove(buf, nl + 1, strlen(nl + 1) + 1);
	}
	return buf;
}

static void reload_logs(struct app *app)
{
	if (app->detail_remote)
		return; /* remote_logs.c fills the tails */
	const struct pm2_proc *p = tasks_find(&app->tasks, app->detail_node, app->detail_pm_id);
	if (p == NULL)
		return;
	long long s;
	struct stat st;
	if (p->out_log_path[0] && stat(p->out_log_path, &st) == 0 &&
	    (long long)st.st_size != app->log_out_size) {
		free(app->log_out);
		app->log_out = read_tail(p->out_log_path, &s);
		app->log_out_size = app->log_out ? s : -1;
		mark(app);
	}
	if (p->err_log_path[0] && stat(p->err_log_path, &st) == 0 &&
	    (long long)st.st_size != app->log_err_size) {
		free(app->log_err);
		app->log_err = read_tail(p->err_log_path, &s);
		app->log_err_size = app->log_err ? s : -1;
		mark(app);
	}
}

static void on_log_timer(struct loop *loop, void *arg)
{
	struct app *app = arg;
	loop_timer_add(loop, LOG_POLL_MS, on_log_timer, app);
	if (app->mode == MODE_DETAIL)
		reload_logs(app);
	if (app->mode == MODE_LOGS || (app->mode == MODE_CONFIRM && app->confirm_back == MODE_LOGS)) {
		if (!app->detail_remote && logview_local_poll(&app->lv))
			mark(app);
	}
}

static void free_env_pairs(struct app *app)
{
	for (size_t i = 0; i < app->nenv_pairs; i++)
		free(app->env_pairs[i]);
	free(app->env_pairs);
	app->env_pairs = NULL;
	app->nenv_pairs = 0;
}

/* Env values are fetched only when asked for: they are often secrets. */
static void on_env_values(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct app *app = arg;
	free_env_pairs(app);
	if (error != NULL || !cJSON_IsArray(result)) {
		app_message(app, MSG_ERROR, "could not read the environment: %s",
			    error ? error : "unexpected reply");
		return;
	}
	const cJSON *rec;
	cJSON_ArrayForEach(rec, result)
	{
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(rec, "pm_id");
		if (!cJSON_IsNumber(id) || (int)id->valuedouble != app->detail_pm_id)
			continue;
		const cJSON *penv = cJSON_GetObjectItemCaseSensitive(rec, "pm2_env");
		const cJSON *env = penv ? cJSON_GetObjectItemCaseSensitive(penv, "env") : NULL;
		const cJSON *kv;
		size_t n = env ? (size_t)cJSON_GetArraySize(env) : 0;
		app->env_pairs = xcalloc(n + 1, sizeof(char *));
		cJSON_ArrayForEach(kv, env)
		{
			if (cJSON_IsString(kv))
				app->env_pairs[app->nenv_pairs++] =
					xasprintf("%s=%s", kv->string, kv->valuestring);
		}
		break;
	}
	mark(app);
}

static void open_detail(struct app *app, const struct pm2_proc *p)
{
	if (p == NULL)
		return;
	app->mode = MODE_DETAIL;
	app->detail_pm_id = p->pm_id;
	snprintf(app->detail_node, sizeof(app->detail_node), "%s", tasks_node_of(&app->tasks, p));
	app->detail_env_values = false;
	free_env_pairs(app);
	free(app->log_out);
	free(app->log_err);
	app->log_out = app->log_err = NULL;
	app->log_out_size = app->log_err_size = -1;
	remote_logs_close(app);
	/* The local PM2's tasks: their log files, read here. Another node's:
	 * the `logs` verb, answered by that node's executor. */
	app->detail_remote = fleet_row_remote(app, p);
	if (app->detail_remote)
		remote_logs_open(app, app->detail_node, p->name);
	else
		reload_logs(app);
	mark(app);
}

static void ask(struct app *app, const char *verb, const struct pm2_proc *p);

/* The full-screen log view (l): the local PM2's files, read here, or
 * another node's `logs` verb (remote_logs.c feeds app->lv). */
static void open_logs(struct app *app, const struct pm2_proc *p)
{
	if (p == NULL)
		return;
	free_env_pairs(app);
	remote_logs_close(app);
	logview_clear(&app->lv);
	snprintf(app->lv_task, sizeof(app->lv_task), "%s", p->name);
	app->detail_pm_id = p->pm_id;
	snprintf(app->detail_node, sizeof(app->detail_node), "%s", tasks_node_of(&app->tasks, p));
	app->detail_remote = fleet_row_remote(app, p);
	app->logs_state[0] = '\0';
	app->mode = MODE_LOGS;
	if (app->detail_remote)
		remote_logs_open(app, app->detail_node, p->name);
	else
		logview_local_open(&app->lv, p->out_log_path, p->err_log_path);
	logview_clamp(&app->lv, (size_t)(app->lv_rows > 0 ? app->lv_rows : 1));
	mark(app);
}

static void key_logs(struct app *app, int key)
{
	size_t rows = (size_t)(app->lv_rows > 0 ? app->lv_rows : 1);
	if (!app->lv.searching && (key == 'q' || key == KEYC_ESC || key == KEYC_F10)) {
		app->mode = MODE_TABLE;
		remote_logs_close(app);
		logview_clear(&app->lv);
	} else if (!app->lv.searching && key == 3) {
		quit(app);
	} else if (!app->lv.searching && (key == 's' || key == 'r')) {
		ask(app, key == 's' ? "stop" : "restart",
		    tasks_find(&app->tasks, app->detail_node, app->detail_pm_id));
		return;
	} else if (!app->lv.searching && (key == '?' || key == KEYC_F1)) {
		app->mode = MODE_HELP;
		remote_logs_close(app);
		logview_clear(&app->lv);
	} else if (!logview_key(&app->lv, key, rows)) {
		return;
	}
	mark(app);
}

/* --- keys ---------------------------------------------------------------------------- */

static void cycle_sort(struct app *app, int dir)
{
	int c = ((int)app->tasks.sort + dir + COL_COUNT) % COL_COUNT;
	tasks_sort_by(&app->tasks, (enum tasks_col)c);
	set_message(app, MSG_INFO, "sorted by %s", tasks_col_name((enum tasks_col)c));
}

/*
 * s, r and d ask first, so that a word typed while the bar is closed
 * ("start" is s, t, a, r, t) never stops or restarts anything. The question
 * says exactly what y does: the executor addresses tasks by name, so the
 * action reaches every instance of that name, and the question names them
 * all.
 */
static void ask(struct app *app, const char *verb, const struct pm2_proc *p)
{
	if (p == NULL)
		return;
	bool remote = fleet_row_remote(app, p);
	const char *node = tasks_node_of(&app->tasks, p);
	int ids[5];
	/* A name tasker refuses is reached by its pm_id: this one process. */
	bool by_id = bulk_by_pm_id(p->name);
	size_t n = by_id    ? 1
		   : remote ? tasks_instances_on(&app->tasks, node, p->name, ids, 5)
			    : tasks_instances(&app->tasks, p->name, ids, 5);
	char which[300];
	if (n <= 1) {
		snprintf(which, sizeof(which), "%s (pm_id %d%s)", p->name, p->pm_id,
			 by_id ? ", by its pm_id" : "");
	} else {
		size_t o = (size_t)snprintf(which, sizeof(which), "all %zu instances of %s (pm_ids", n,
					    p->name);
		for (size_t i = 0; i < n && i < 5 && o < sizeof(which); i++)
			o += (size_t)snprintf(which + o, sizeof(which) - o, "%s %d", i ? "," : "",
					      ids[i]);
		if (o < sizeof(which))
			snprintf(which + o, sizeof(which) - o, "%s)", n > 5 ? ", ..." : "");
	}
	bool del = strcmp(verb, "delete") == 0;
	const char *after = !del     ? ""
			    : n > 1 ? " They are stopped and removed from PM2."
				    : " It is stopped and removed from PM2.";
	char on[TASKS_NODE_MAX + 40] = "";
	if (remote)
		snprintf(on, sizeof(on), " on node %s%s", node,
			 tasks_lost(&app->tasks, p) ? " (lost: it waits for the node)" : "");
	snprintf(app->confirm_prompt, sizeof(app->confirm_prompt), "%s %s%s?%s y/n",
		 del ? "Delete" : strcmp(verb, "stop") == 0 ? "Stop" : "Restart", which, on, after);
	snprintf(app->confirm_node, sizeof(app->confirm_node), "%s", remote ? node : "");
	app->confirm_verb = verb;
	free(app->confirm_name);
	app->confirm_name = xstrdup(p->name);
	app->confirm_pm_id = p->pm_id;
	app->confirm_back = app->mode;
	app->mode = MODE_CONFIRM;
	app->confirm_at = loop_now(app->loop);
	mark(app);
}

static void key_table(struct app *app, int key)
{
	const struct pm2_proc *sel = tasks_selected(&app->tasks);
	long page = app->table_rows > 1 ? app->table_rows - 1 : 1;
	bool feed = app->focus == FOCUS_FEED;
	switch (key) {
	case '/':
	case ':':
		cmdbar_open(app->bar, "/");
		break;
	case '\\':
	case 'f':
	case KEYC_F4:
		cmdbar_open(app->bar, "/filter ");
		break;
	case 'n': {
		const char *next = fleet_next_node(app, app->tasks.node_filter);
		char name[TASKS_NODE_MAX + 1];
		snprintf(name, sizeof(name), "%s", next);
		tasks_set_node_filter(&app->tasks, name);
		if (name[0])
			set_message(app, MSG_INFO, "node %s only (n: next node, /node NAME)", name);
		else
			set_message(app, MSG_INFO, "every node (n: one node at a time)");
		break;
	}
	case KEYC_UP:
	case 'k':
		if (feed)
			feed_scroll(&app->feed, 1, (size_t)app->feed_rows);
		else
			tasks_move(&app->tasks, -1);
		break;
	case KEYC_DOWN:
	case 'j':
		if (feed)
			feed_scroll(&app->feed, -1, (size_t)app->feed_rows);
		else
			tasks_move(&app->tasks, 1);
		break;
	case KEYC_PGUP:
		if (feed)
			feed_scroll(&app->feed, app->feed_rows - 1, (size_t)app->feed_rows);
		else
			tasks_move(&app->tasks, -page);
		break;
	case KEYC_PGDN:
		if (feed)
			feed_scroll(&app->feed, -(app->feed_rows - 1), (size_t)app->feed_rows);
		else
			tasks_move(&app->tasks, page);
		break;
	case '[':
		feed_scroll(&app->feed, app->feed_rows - 1, (size_t)app->feed_rows);
		break;
	case ']':
		feed_scroll(&app->feed, -(app->feed_rows - 1), (size_t)app->feed_rows);
		break;
	case KEYC_HOME:
	case 'g':
		if (feed)
			feed_scroll(&app->feed, (long)app->feed.count, (size_t)app->feed_rows);
		else
			tasks_home(&app->tasks);
		break;
	case KEYC_END:
	case 'G':
		if (feed)
			feed_scroll(&app->feed, -(long)app->feed.count, (size_t)app->feed_rows);
		else
			tasks_end(&app->tasks);
		break;
	case '\t':
		app->focus = feed ? FOCUS_TABLE : FOCUS_FEED;
		break;
	case KEYC_ENTER:
		open_detail(app, sel);
		break;
	case 'l':
		open_logs(app, sel);
		break;
	case 's':
		if (!bulk_ask(app, "stop")) /* with marks: every marked task */
			ask(app, "stop", sel);
		break;
	case 'r':
		if (!bulk_ask(app, "restart"))
			ask(app, "restart", sel);
		break;
	case 'd':
		if (!bulk_ask(app, "delete"))
			ask(app, "delete", sel);
		break;
	case ' ': /* mark, and on to the next row */
		bulk_toggle(app, sel);
		if (!feed)
			tasks_move(&app->tasks, 1);
		break;
	case '*': {
		size_t shown = bulk_mark_view(app);
		set_message(app, MSG_INFO, "%zu shown row(s) marked; %zu marked in all (u: unmark all)",
			    shown, bulk_count(app));
		break;
	}
	case 'u':
		bulk_clear(app);
		set_message(app, MSG_INFO, "no task marked");
		break;
	case '>':
	case KEYC_F6:
		cycle_sort(app, 1);
		break;
	case '<':
		cycle_sort(app, -1);
		break;
	case 'i':
		tasks_sort_by(&app->tasks, app->tasks.sort);
		set_message(app, MSG_INFO, "sort: %s, %s", tasks_col_name(app->tasks.sort),
			    app->tasks.descending ? "descending" : "ascending");
		break;
	case 'J':
		jobview_open(app);
		break;
	case '?':
	case 'h':
	case KEYC_F1:
		app->mode = MODE_HELP;
		break;
	case 'q':
	case KEYC_F10:
	case 3: /* Ctrl-C */
		quit(app);
		break;
	case 12: /* Ctrl-L: repaint everything */
		clearok(curscr, TRUE);
		break;
	case KEYC_ESC:
		app->message[0] = '\0';
		if (bulk_count(app) > 0)
			set_message(app, MSG_INFO, "%zu mark(s) dropped", bulk_count(app));
		bulk_clear(app);
		break;
	default:
		return;
	}
	mark(app);
}

static void key_detail(struct app *app, int key)
{
	const struct pm2_proc *p = tasks_find(&app->tasks, app->detail_node, app->detail_pm_id);
	switch (key) {
	case 'v':
		if (app->detail_remote) {
			set_message(app, MSG_INFO,
				    "environment values are read from the local PM2 only; this task "
				    "runs on node %s",
				    app->detail_node);
			break;
		}
		app->detail_env_values = !app->detail_env_values;
		if (app->detail_env_values) {
			cJSON *args = cJSON_CreateArray();
			cJSON_AddItemToArray(args, cJSON_CreateObject());
			const char *err = NULL;
			pm2_call(app->pm2, "getMonitorData", args, 0, on_env_values, app, &err);
			cJSON_Delete(args);
		} else {
			free_env_pairs(app);
		}
		break;
	case 's':
		ask(app, "stop", p);
		break;
	case 'r':
		ask(app, "restart", p);
		break;
	case 'q':
	case KEYC_ESC:
	case KEYC_ENTER:
	case 'l':
		app->mode = MODE_TABLE;
		free_env_pairs(app);
		remote_logs_close(app);
		break;
	case '?':
	case KEYC_F1:
		app->mode = MODE_HELP;
		free_env_pairs(app);
		remote_logs_close(app);
		break;
	case 3:
		quit(app);
		break;
	default:
		return;
	}
	mark(app);
}

/* A click selects a row or sorts by a column; the wheel scrolls. */
static void handle_mouse(struct app *app)
{
	const struct keys_mouse *m = keys_mouse_last();
	int b = m->button & ~(4 | 8 | 16); /* shift, meta, ctrl */
	if (b == 64 || b == 65) {
		int k = b == 64 ? KEYC_UP : KEYC_DOWN;
		for (int i = 0; i < 3; i++) {
			if (app->mode == MODE_LOGS)
				logview_key(&app->lv, k, (size_t)(app->lv_rows > 0 ? app->lv_rows : 1));
			else if (app->mode == MODE_TABLE)
				key_table(app, k);
		}
		mark(app);
		return;
	}
	if (b != 0 || m->release || app->mode != MODE_TABLE)
		return;
	if (m->y == 1) {
		int c = draw_column_at(m->x);
		if (c >= 0) {
			tasks_sort_by(&app->tasks, (enum tasks_col)c);
			set_message(app, MSG_INFO, "sorted by %s%s", tasks_col_name((enum tasks_col)c),
				    app->tasks.descending ? " (reversed)" : "");
		}
	} else if (m->y >= 2 && m->y < 2 + app->table_rows) {
		long want = (long)app->tasks.top + (m->y - 2);
		long at = tasks_selected_row(&app->tasks);
		if (want < (long)app->tasks.nview && at >= 0)
			tasks_move(&app->tasks, want - at);
		app->focus = FOCUS_TABLE;
	}
	mark(app);
}

static void handle_key(struct app *app, int key)
{
	if (key == KEYC_MOUSE) {
		handle_mouse(app);
		return;
	}
	if (bulk_key(app, key)) /* its question or its outcomes are open */
		return;
	switch (app->mode) {
	case MODE_HELP:
		if (key == 3)
			quit(app);
		else if (help_key(app, key)) /* it scrolled */
			break;
		app->mode = MODE_TABLE;
		mark(app);
		break;
	case MODE_CONFIRM:
		/* Nobody reads a question this fast: a key this soon was typed
		 * before it showed (the rest of a word, a paste), not an answer. */
		if (loop_now(app->loop) - app->confirm_at < CONFIRM_GUARD_MS)
			break;
		app->mode = app->confirm_back;
		if (key == 'y' || key == 'Y')
			send_action(app, app->confirm_verb, app->confirm_name, app->confirm_node,
				    app->confirm_pm_id);
		else
			set_message(app, MSG_INFO, "cancelled: %s was not %s (only y goes on)",
				    app->confirm_name,
				    strcmp(app->confirm_verb, "stop") == 0      ? "stopped"
				    : strcmp(app->confirm_verb, "restart") == 0 ? "restarted"
										: "deleted");
		mark(app);
		break;
	case MODE_DETAIL:
		key_detail(app, key);
		break;
	case MODE_LOGS:
		key_logs(app, key);
		break;
	case MODE_JOBS:
		if (key == 3) /* Ctrl-C quits, as in every view */
			quit(app);
		else
			jobview_key(app, key);
		break;
	case MODE_TABLE:
		key_table(app, key);
		break;
	}
}

/* The filter follows the bar while it holds "/filter TEXT"; a bar closed
 * any other way than by sending that line puts the filter back. */
static void live_filter(struct app *app)
{
	const char *t = cmdbar_text(app->bar);
	bool filtering = cmdbar_active(app->bar) && strncmp(t, "/filter", 7) == 0 &&
			 (t[7] == '\0' || t[7] == ' ');
	if (filtering) {
		if (!app->live_filter) {
			app->live_filter = true;
			snprintf(app->filter_before, sizeof(app->filter_before), "%s",
				 app->tasks.filter);
		}
		const char *f = t + 7;
		f += strspn(f, " ");
		if (strcmp(f, app->tasks.filter) != 0)
			tasks_set_filter(&app->tasks, f);
	} else if (app->live_filter) {
		app->live_filter = false;
		tasks_set_filter(&app->tasks, app->filter_before);
	}
}

static void drop_held(struct app *app)
{
	app->nheld = 0;
	loop_timer_cancel(app->esc_timer);
	app->esc_timer = NULL;
}

/* Bytes up to the next paste marker (or the end). */
static size_t until_marker(const unsigned char *buf, size_t n)
{
	int begin;
	for (size_t i = 0; i < n; i++)
		if (buf[i] == 0x1b && keys_paste_marker(buf + i, n - i, &begin) > 0)
			return i;
	return n;
}

/*
 * One read's bytes, in order, to the bar or the keys. Two rules keep typed
 * or pasted text from acting: once a key asks a question, the rest of the
 * read is dropped (typed with the bar closed, "system" is s, then y); and
 * pasted text (bracketed paste) with the bar closed is dropped, but for a
 * '/' on the table, which opens the bar as typing it does.
 */
static void dispatch_input(struct app *app, const unsigned char *buf, size_t n)
{
	size_t off = 0;
	while (off < n) {
		int begin;
		size_t m = keys_paste_marker(buf + off, n - off, &begin);
		if (m > 0) {
			app->pasting = begin != 0;
			off += m;
			continue;
		}
		if (cmdbar_active(app->bar) && n - off >= 3 && memcmp(buf + off, "\033[<", 3) == 0) {
			/* A mouse report while typing: not text for the bar. */
			int mk;
			size_t k = keys_decode(buf + off, n - off, 1, &mk);
			off += k > 0 ? k : n - off;
			continue;
		}
		if (cmdbar_active(app->bar)) {
			size_t seg = until_marker(buf + off, n - off);
			size_t took = cmdbar_feed(app->bar, buf + off, seg);
			live_filter(app);
			mark(app);
			off += took > 0 ? took : seg;
			continue;
		}
		if (app->pasting) {
			if (buf[off] == '/' && app->mode == MODE_TABLE)
				key_table(app, '/');
			off++;
			continue;
		}
		int key;
		size_t k = keys_decode(buf + off, n - off, 1, &key);
		if (k == 0)
			break;
		off += k;
		bool asking = app->mode == MODE_CONFIRM;
		handle_key(app, key);
		if (!asking && app->mode == MODE_CONFIRM) {
			drop_held(app);
			return;
		}
	}
}

/* A read that ends in ESC (or the start of a paste marker) may be a key
 * split across reads (a slow SSH link): hold it briefly; if nothing
 * follows, a lone ESC is the Escape key. */
#define ESC_HOLD_MS 25
/* A paste whose end marker was lost ends after this long without input. */
#define PASTE_IDLE_MS 1000

static void on_esc_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct app *app = arg;
	app->esc_timer = NULL;
	if (app->nheld == 0)
		return;
	unsigned char held[sizeof(app->held)];
	size_t n = app->nheld;
	memcpy(held, app->held, n);
	app->nheld = 0;
	dispatch_input(app, held, n);
}

static void on_tty(struct loop *loop, int fd, short revents, void *arg)
{
	struct app *app = arg;
	unsigned char buf[4097 + sizeof(app->held)];
	size_t start = app->nheld;
	if (start > 0) {
		memcpy(buf, app->held, start);
		drop_held(app);
	}
	ssize_t n = read(fd, buf + start, sizeof(buf) - start);
	if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
	    (n < 0 && (revents & (POLLHUP | POLLERR)))) {
		/* The terminal is gone (the SSH link dropped): leave quietly. */
		quit(app);
		return;
	}
	int64_t now = loop_now(loop);
	if (app->pasting && now - app->paste_seen > PASTE_IDLE_MS)
		app->pasting = false;
	size_t total = start + (n > 0 ? (size_t)n : 0);
	size_t tail = keys_partial_tail(buf, total);
	if (tail > 0) {
		memcpy(app->held, buf + total - tail, tail);
		app->nheld = tail;
		app->esc_timer = loop_timer_add(loop, ESC_HOLD_MS, on_esc_timer, app);
		total -= tail;
	}
	dispatch_input(app, buf, total);
	if (app->pasting)
		app->paste_seen = now;
}

/* --- signals and resize ------------------------------------------------------------- */

static void on_winch(struct loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	struct app *app = arg;
	struct winsize ws;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row > 0 && ws.ws_col > 0) {
		resizeterm(ws.ws_row, ws.ws_col);
		cmdbar_resize(app->bar, ws.ws_col);
	}
	clearok(curscr, TRUE);
	mark(app);
}

static void on_term(struct loop *loop, int signo, void *arg)
{
	(void)loop;
	(void)signo;
	quit(arg);
}

/* --- setup ----------------------------------------------------------------------------------- */

static char *history_path(void)
{
	const char *state = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");
	char *dir;
	if (state != NULL && state[0] == '/')
		dir = xasprintf("%s/tasker", state);
	else if (home != NULL && home[0] == '/')
		dir = xasprintf("%s/.local/state/tasker", home);
	else
		return NULL;
	/* mkdir -p, quietly: no history is better than no console. */
	for (char *p = dir + 1; *p; p++) {
		if (*p == '/') {
			*p = '\0';
			mkdir(dir, 0700);
			*p = '/';
		}
	}
	mkdir(dir, 0700);
	char *path = xasprintf("%s/history", dir);
	free(dir);
	return path;
}

/* The theme chosen with /theme, remembered next to the history. */
static char *theme_state_path(void)
{
	char *h = history_path();
	if (h == NULL)
		return NULL;
	size_t n = strlen(h);
	if (n >= 7 && strcmp(h + n - 7, "history") == 0)
		snprintf(h + n - 7, 8, "theme");
	return h;
}

static void theme_remember(const char *name)
{
	char *path = theme_state_path();
	if (path == NULL)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	free(path);
	if (fd < 0)
		return;
	if (write(fd, name, strlen(name)) < 0 || write(fd, "\n", 1) < 0) {
		/* not remembered: the next start uses the default */
	}
	close(fd);
}

/* The remembered name into buf, or false (none, or not a plain name). */
static bool theme_remembered(char *buf, size_t size)
{
	char *path = theme_state_path();
	if (path == NULL)
		return false;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	free(path);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, size - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	buf[strcspn(buf, "\n")] = '\0';
	if (buf[0] == '\0' || buf[strspn(buf, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-")] != '\0')
		return false;
	return true;
}

static int setup_theme(struct app *app, const char *name, char *err, size_t errlen)
{
	const char *want = name ? name : getenv("TASKER_THEME");
	char saved[64];
	if ((want == NULL || want[0] == '\0') && theme_remembered(saved, sizeof(saved)))
		want = saved;
	if (want == NULL || want[0] == '\0')
		want = "default";
	snprintf(app->theme_name, sizeof(app->theme_name), "%s", want);
	if (theme_load(want, &app->theme, err, errlen) < 0) {
		/* theme_load left the built-in default in place: say so (in the
		 * feed, once the screen is up), carry on. */
		snprintf(app->theme_name, sizeof(app->theme_name), "default");
		return -1;
	}
	return 0;
}

/* The console is `tasker` itself: its help is `tasker --help`. */
static int usage_error(const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "tasker: %s\n", msg);
	fprintf(stderr, "Try 'tasker --help'.\n");
	return EXIT_USAGE;
}

int console_main(struct config *cfg, int argc, char **argv)
{
	struct app app_s;
	struct app *app = &app_s;
	memset(app, 0, sizeof(*app));
	logview_init(&app->lv);
	app->cfg = cfg;
	app->interval_ms = 1000;
	app->executors = -1;
	const char *theme_name = NULL, *pm2_home = NULL;
	bool no_mouse = false;

	struct option *opts = config_options(console_options);
	int c;
	optind = 1;
	while ((c = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		char *end;
		double secs;
		char oerr[300];
		int shared = c == '?' || c == ':' ? -1 : config_option(cfg, c, optarg, oerr, sizeof(oerr));
		if (shared < 0) {
			free(opts);
			/* getopt has already named an unknown option. */
			return usage_error(c == '?' || c == ':' ? NULL : oerr);
		}
		if (shared > 0)
			continue;
		switch (c) {
		case 'L':
			app->local = true;
			break;
		case 'T':
			theme_name = optarg;
			break;
		case 'P':
			pm2_home = optarg;
			break;
		case 'M':
			no_mouse = true;
			break;
		case 'I':
			secs = strtod(optarg, &end);
			if (*optarg == '\0' || *end != '\0' || !(secs >= 0.1 && secs <= 3600)) {
				free(opts);
				return usage_error("--interval takes seconds, from 0.1 to 3600");
			}
			app->interval_ms = (int)(secs * 1000);
			break;
		default:
			/* -h and --help never get here: main.c answers them. */
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if (optind < argc)
		return usage_error("the console takes no arguments (commands are typed in its bar)");
	char err[400];
	if (config_finish(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "tasker: %s\n", err);
		return EXIT_USAGE;
	}
	int rc;
	if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
		fprintf(stderr, "tasker: the console needs a terminal; for scripts use tasker watch, "
				"tasker ls or tasker send\n");
		return EXIT_USAGE;
	}
	setlocale(LC_ALL, "");
	/* Without cursor addressing (TERM=dumb, an unknown TERM) curses would
	 * draw garbage or exit on its own: refuse here, in words. */
	if (terminal_check(err, sizeof(err)) < 0) {
		fprintf(stderr, "tasker: %s\n", err);
		return EXIT_USAGE;
	}
	/* Box and arrow characters need a UTF-8 locale; elsewhere, ASCII
	 * (as htop does), not a screen of question marks. */
	app->ascii = !terminal_utf8();

	app->pm2_home = pm2_home ? xstrdup(pm2_home) : pm2_home_path();
	if (app->pm2_home == NULL) {
		fprintf(stderr, "tasker: neither PM2_HOME nor HOME is set\n");
		return EXIT_USAGE;
	}
	app->trust = reply_trust_new(NULL, cfg->trust_path, err, sizeof(err));
	if (app->trust == NULL) {
		fprintf(stderr, "tasker: %s\n", err);
		free(app->pm2_home);
		return EXIT_USAGE;
	}
	if (app->local && !cfg->redis_explicit && !local_redis_answers(&cfg->redis)) {
		if (local_redis_start(app, &cfg->redis, err, sizeof(err)) < 0) {
			fprintf(stderr, "tasker: no Redis at %s and %s\n", CONFIG_DEFAULT_REDIS, err);
			local_redis_stop(app);
			free(app->redis_dir);
			free(app->pm2_home);
			return EXIT_FAIL;
		}
	}
	char theme_err[400] = "";
	if (setup_theme(app, theme_name, theme_err, sizeof(theme_err)) < 0)
		log_warn("%s; using the built-in default theme", theme_err);

	app->loop = loop_new();
	app->started = loop_now(app->loop);
	loop_signal(app->loop, SIGTERM, on_term, app);
	loop_signal(app->loop, SIGHUP, on_term, app);
	loop_signal(app->loop, SIGINT, on_term, app);
	loop_signal(app->loop, SIGWINCH, on_winch, app);
	signal(SIGPIPE, SIG_IGN);
	signal(SIGTSTP, SIG_IGN); /* raw mode: ^Z is a byte we ignore */

	feed_init(&app->feed, FEED_LINES);
	tasks_init(&app->tasks);
	struct bus_handlers h = {.on_message = on_message, .on_state = on_bus_state};
	app->bus = bus_new(app->loop, &cfg->redis, &h, app);
	reply_trust_use_bus(app->trust, app->bus);
	app->backlog = backlog_new(app, handle_status);
	bus_subscribe(app->bus, cfg->status_channel);
	app->pm2 = pm2_client_new(app->loop, app->pm2_home, NULL, app);
	app->pmev = pm2_events_new(app->loop, app->pm2_home, 0, on_pm2_event, on_pm2_events_state, app);
	procview_new(app);
	/* --local: the in-process executor starts once Redis has said that no
	 * other executor of this node serves the channel (local.c). */

	char *hist = history_path();
	app->bar = cmdbar_new(hist, on_bar_line, on_complete, app);
	free(hist);

	/* Curses: we draw, readline and keys.c read the raw bytes. */
	if (tcgetattr(STDIN_FILENO, &saved_termios) == 0)
		saved_termios_ok = true;
	signal(SIGSEGV, fatal_signal);
	signal(SIGBUS, fatal_signal);
	signal(SIGFPE, fatal_signal);
	signal(SIGILL, fatal_signal);
	signal(SIGABRT, fatal_signal);
	atexit(restore_terminal);
	if (initscr() == NULL) {
		fprintf(stderr, "tasker: cannot initialise the terminal (TERM=%s)\n",
			getenv("TERM") ? getenv("TERM") : "unset");
		rc = EXIT_USAGE;
		goto out;
	}
	curses_on = true;
	raw();
	noecho();
	nonl();
	keypad(stdscr, FALSE);
	intrflush(stdscr, FALSE);
	const char *no_color = getenv("NO_COLOR");
	app->color = has_colors() && !(no_color != NULL && no_color[0] != '\0');
	if (app->color) {
		start_color();
		use_default_colors();
	} else {
		theme_monochrome(&app->theme);
	}
	draw_apply_theme(app);
	cmdbar_resize(app->bar, COLS);
	log_set_sink(log_to_feed, app);

	bracketed_paste(true);
	const char *nm = getenv("TASKER_NO_MOUSE");
	app->mouse = !no_mouse && !(nm != NULL && nm[0] != '\0' && strcmp(nm, "0") != 0);
	if (app->mouse)
		mouse_mode(true);
	util_fd_nonblock(STDIN_FILENO);
	loop_watch_fd(app->loop, STDIN_FILENO, POLLIN, on_tty, app);
	loop_set_idle(app->loop, on_idle, app);
	loop_timer_add(app->loop, 0, on_refresh_timer, app);
	loop_timer_add(app->loop, EXECUTOR_SCAN_MS, on_scan_timer, app);
	loop_timer_add(app->loop, 500, on_pending_timer, app);
	loop_timer_add(app->loop, LOG_POLL_MS, on_log_timer, app);
	app_feed(app, FEED_INFO, "console started; type / to enter a command, ? for help");
	local_start(app);
	fleet_start(app);
	resultview_start(app);
	jobview_start(app);
	if (theme_err[0] != '\0')
		app_message(app, MSG_ERROR, "%s; using the built-in default theme", theme_err);
	mark(app);

	rc = loop_run(app->loop);
	if (rc < 0)
		rc = EXIT_FAIL;

	log_set_sink(NULL, NULL);
	restore_terminal();
out:
	if (app->bar != NULL)
		cmdbar_free(app->bar);
	remote_logs_close(app);
	bus_free(app->bus);
	reply_trust_free(app->trust);
	fleet_free(app);
	resultview_free(app);
	jobview_free(app);
	backlog_free(app->backlog);
	if (app->ex != NULL)
		executor_free(app->ex);
	pm2_events_free(app->pmev);
	procview_free(app);
	pm2_client_free(app->pm2);
	tasks_free(&app->tasks);
	hist_ring_free(&app->hist);
	feed_free(&app->feed);
	free_env_pairs(app);
	logview_free(&app->lv);
	free(app->log_out);
	free(app->log_err);
	loop_free(app->loop);
	local_redis_stop(app);
	free(app->redis_dir);
	free(app->pm2_home);
	free(app->confirm_name);
	bulk_free(app);
	return rc;
}
