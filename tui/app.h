/*
 * app: the console's state, shared by console.c (events and input) and
 * draw.c (rendering). Input and events only change this state and set
 * `dirty`; the screen is drawn once per loop pass at most, and at most
 * about 20 times a second, so a flood never floods a slow SSH link.
 */
#ifndef TASKER_TUI_APP_H
#define TASKER_TUI_APP_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "bus.h"
#include "cmdbar.h"
#include "config.h"
#include "executor.h"
#include "feed.h"
#include "history_ring.h"
#include "logview.h"
#include "loop.h"
#include "pm2.h"
#include "slash.h"
#include "tasks.h"
#include "theme.h"

enum app_mode { MODE_TABLE, MODE_HELP, MODE_DETAIL, MODE_CONFIRM, MODE_LOGS, MODE_JOBS };
enum app_focus { FOCUS_TABLE, FOCUS_FEED };
enum msg_kind { MSG_INFO, MSG_OK, MSG_ERROR, MSG_WAIT };

#define APP_MAX_PENDING 64
#define APP_REPLY_WAIT_MS 5000

struct pending {
	char id[33];
	char what[160];
	int64_t deadline;
	bool told_redis_down; /* the bar already said why it waits */
};

struct backlog;
struct procview;
struct fleet_scan;
struct resultview;
struct jobview;

/* A node of the fleet as the console last saw it (fleet.c). */
struct fleet_node {
	char name[TASKS_NODE_MAX + 1];
	struct pm2_proc *procs; /* its last task table, owned; kept while lost */
	size_t nprocs;
	bool present;	   /* its presence key was there at the last scan */
	bool table;	   /* its task table was there at the last scan */
	bool lost;	   /* presence gone, or its table gone while it had tasks */
	int64_t lost_since; /* monotonic ms; 0 while live */
};

struct app {
	struct config *cfg;
	struct loop *loop;
	struct bus *bus;
	struct backlog *backlog; /* the history read at start (backlog.h) */
	struct reply_trust *trust; /* checks status messages (reply_sig.h) */
	struct pm2_client *pm2;
	struct pm2_events *pmev;
	struct procview *pv; /* the local rows between listings (procview.h) */
	struct executor *ex; /* --local only, and only while no other serves the node */
	struct cmdbar *bar;
	bool local;
	bool ascii; /* no UTF-8 locale: draw with ASCII only */
	bool mouse; /* xterm mouse reports on (off: --no-mouse, TASKER_NO_MOUSE=1) */

	/* What the header says. */
	char *pm2_home;
	bool pm2_ok, pm2_listing;
	char pm2_why[256];
	char pm2_version[32];
	bool redis_ok;	      /* as the console tells it: honest, see console.c */
	bool bus_said_ready;  /* what the bus last said, hidden or not */
	bool redis_reported;  /* the current outage is in the feed */
	int64_t started;
	long long executors;  /* subscribers of the command channel; -1 unknown */
	bool counting;	      /* a PUBSUB NUMSUB for the header is in flight */
	long long dup_warned; /* the subscriber count a duplicate warning named */
	bool draining;	      /* quitting: the local executor finishes first */

	struct theme theme;
	char theme_name[64];
	bool color;

	struct tasks tasks;
	struct feed feed;
	struct hist_ring hist; /* CPU, memory, restarts per task (history_ring.h) */

	/* The fleet (fleet.c): every node's task table from Redis, merged with
	 * the local PM2's listing into tasks. */
	struct pm2_proc *local_procs; /* the local PM2's last listing, owned */
	size_t nlocal;
	struct fleet_node *nodes; /* sorted by name */
	size_t nnodes;
	struct fleet_scan *scan; /* the scan in flight, or NULL */
	bool fleet_seen;	 /* one scan has completed */

	/* Logs of a remote task through the `logs` verb (remote_logs.c). */
	bool detail_remote;	 /* the detail view shows a task of another node */
	char detail_node[TASKS_NODE_MAX + 1];
	char logs_rid[33];	 /* the request whose reply the view waits for */
	char *logs_stream;	 /* the follow stream, while following */
	char logs_last[64];	 /* the last stream entry id read */
	unsigned logs_gen;	 /* bumped whenever the view changes: older reads are void */
	bool logs_reading;	 /* an XREAD is in flight */
	unsigned logs_read_gen;	 /* logs_gen when it was sent */
	bool reader_on;		 /* the bus's reader connection was asked for */
	char logs_state[160];	 /* what the view says about the request */
	/* The full-screen log view (l, logview.h). */
	struct logview lv;
	char lv_task[128];	 /* the task it shows */
	int lv_rows;		 /* lines of it last drawn */
	/* The filter as typed (/filter TEXT in the bar, opened by f or \\):
	 * applied at every key; Esc puts back the one before. */
	bool live_filter;
	char filter_before[128];
	enum app_mode mode;
	enum app_focus focus;
	char message[512]; /* without its mark: draw.c adds one for the kind */
	enum msg_kind message_kind;
	char message_task[128]; /* the task an outcome in the bar is about */
	bool message_redis;	/* the bar blames a Redis outage (cleared when it ends) */
	struct pending pending[APP_MAX_PENDING];
	size_t npending;
	int interval_ms;

	/* Detail view of one task. */
	int detail_pm_id;
	bool detail_env_values;
	char **env_pairs; /* "KEY=value", fetched on request */
	size_t nenv_pairs;
	char *log_out, *log_err; /* the tails shown */
	long long log_out_size, log_err_size;
	/* The last result in the detail view (resultview.h), the job view
	 * (J, /jobs: jobview.h). */
	struct resultview *rv;
	struct jobview *jv;

	/* A stop, restart or delete waiting for y (MODE_CONFIRM). */
	const char *confirm_verb; /* "stop", "restart" or "delete" */
	char *confirm_name;	  /* owned */
	char confirm_node[TASKS_NODE_MAX + 1]; /* "": no node named (the local PM2's row) */
	char confirm_prompt[400]; /* says exactly what y will do */
	enum app_mode confirm_back; /* the view the question was asked from */
	int confirm_pm_id;	    /* the row's pm_id: a name tasker refuses goes by it */
	int64_t confirm_at;	    /* when it was asked (monotonic ms) */

	struct bulk *bulk; /* marks and bulk actions (bulk.h); NULL until the first mark */
	size_t help_scroll; /* the first help line shown (help.h) */

	/* Drawing. */
	bool dirty;
	int64_t last_draw;
	struct loop_timer *draw_timer;
	int table_rows; /* rows of the table body last drawn */
	int feed_rows;

	/* The end of a read that may be the start of a sequence (an ESC, a
	 * paste marker), held back in case the rest is on its way. */
	unsigned char held[8];
	size_t nheld;
	struct loop_timer *esc_timer;
	/* Inside a bracketed paste: with the bar closed, pasted bytes are text,
	 * not keys (a pasted "system" must not stop a task). */
	bool pasting;
	int64_t paste_seen; /* the last read inside the paste (monotonic ms) */

	/* --local (local.c): a private redis-server, and the in-process
	 * executor, started only once no live executor of this node already
	 * serves the command channel (else every command would run twice). */
	pid_t redis_pid;
	char *redis_dir;
	struct loop_timer *local_timer; /* the next check, while no executor of ours runs */
	unsigned local_gen;		/* bumped by every outage: older replies are void */
	unsigned local_check_gen;	/* local_gen when the check in flight was sent */
	bool local_checking;		/* a check (NUMSUB, GET) is in flight */
	bool local_claiming;		/* the claim of the presence key is in flight */
	long long local_numsub;		/* the check's first half; -1: refused */
	int64_t local_quiet_since;	/* first check of this run that found nobody; 0: none */
	char local_said[64];		/* what the feed last said about other executors */
	bool local_subscribing;		/* the command channel is being added */
	int64_t local_subscribe_at;
};

/* The bar's message; MSG_ERROR ones also go to the feed (console.c). */
void app_message(struct app *app, enum msg_kind kind, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
/* Adds a line to the feed, stamped with the local time (console.c). */
void app_feed(struct app *app, enum feed_kind kind, const char *text);

/* --local (local.c). The private redis-server: started before the loop
 * when nothing answers at the default address; url then points at it. */
bool local_redis_answers(const struct redis_url *url);
int local_redis_start(struct app *app, struct redis_url *url, char *err, size_t errlen);
void local_redis_stop(struct app *app);
/* Starts watching for other executors of this node (--local only): the
 * in-process executor starts once none has been seen for long enough, and
 * the node is claimed (local.c explains the rule). */
void local_start(struct app *app);
/* Redis became ready (after start-up or an outage): check again, and never
 * conclude from this first look alone. */
void local_redis_up(struct app *app);
/* Redis went away: what was seen before says nothing about after. */
void local_redis_down(struct app *app);

/* The fleet (fleet.c). Starts scanning the task tables and presence keys
 * every second on the bus's command connection. */
void fleet_start(struct app *app);
void fleet_free(struct app *app);
/* The local PM2 listed: takes ownership of procs, then merges. */
void fleet_set_local(struct app *app, struct pm2_proc *procs, size_t n);
/* Rebuilds app->tasks from the local listing and the nodes' tables. */
void fleet_merge(struct app *app);
/* Whether a row comes from another node's table (actions name its node). */
bool fleet_row_remote(const struct app *app, const struct pm2_proc *p);
/* The next node name after current for the n key ("" = every node). */
const char *fleet_next_node(const struct app *app, const char *current);
bool fleet_node_known(const struct app *app, const char *name);
/* "n1 2 · n2 1 · n3 1 lost" for the header; "" without a fleet. */
void fleet_summary(const struct app *app, char *buf, size_t size);

/* The logs of a remote task (remote_logs.c): asks its node through the
 * `logs` verb (docs/protocol.md), then follows the reply's stream. */
void remote_logs_open(struct app *app, const char *node, const char *task);
void remote_logs_close(struct app *app);
/* A message on the status channel: true when it was the logs reply. */
bool remote_logs_reply(struct app *app, const char *data, size_t len);
/* Publishes a slash line as a typed line is (console.c's publish_line):
 * 0 with its request id in rid, or -1 (said in the bar) with rid "". */
int console_publish(struct app *app, const struct slash_line *l, char rid[33]);

/* The table column under screen column x, or -1 (draw.c). */
int draw_column_at(int x);
/* Draws the whole screen from the state (draw.c). */
void draw_screen(struct app *app);
/* Curses attributes for a theme element (draw.c). */
int draw_attr(const struct app *app, enum theme_elem el);
/* Applies app->theme to the curses colour pairs (draw.c). */
void draw_apply_theme(struct app *app);

#endif
