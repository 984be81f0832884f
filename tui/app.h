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
#include "loop.h"
#include "pm2.h"
#include "tasks.h"
#include "theme.h"

enum app_mode { MODE_TABLE, MODE_HELP, MODE_DETAIL, MODE_CONFIRM };
enum app_focus { FOCUS_TABLE, FOCUS_FEED };
enum msg_kind { MSG_INFO, MSG_OK, MSG_ERROR, MSG_WAIT };

#define APP_MAX_PENDING 64
#define APP_REPLY_WAIT_MS 5000

struct pending {
	char id[33];
	char what[160];
	int64_t deadline;
};

struct app {
	struct config *cfg;
	struct loop *loop;
	struct bus *bus;
	struct pm2_client *pm2;
	struct pm2_events *pmev;
	struct executor *ex; /* --local only */
	struct cmdbar *bar;
	bool local;

	/* What the header says. */
	char *pm2_home;
	bool pm2_ok, pm2_listing;
	char pm2_why[256];
	char pm2_version[32];
	bool redis_ok;
	bool redis_reported; /* the current outage is in the feed */
	char redis_why[300];
	int64_t started;
	int executors; /* presence keys seen; -1 unknown */
	int scan_found;

	struct theme theme;
	char theme_name[64];
	bool color;

	struct tasks tasks;
	struct feed feed;
	enum app_mode mode;
	enum app_focus focus;
	char message[512];
	enum msg_kind message_kind;
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

	/* Delete confirmation. */
	int confirm_pm_id;
	char *confirm_name; /* owned */

	/* Drawing. */
	bool dirty;
	int64_t last_draw;
	struct loop_timer *draw_timer;
	int table_rows; /* rows of the table body last drawn */
	int feed_rows;

	/* An ESC held back in case the rest of its sequence is on its way. */
	bool esc_held;
	struct loop_timer *esc_timer;

	/* A private redis-server for --local. */
	pid_t redis_pid;
	char *redis_dir;
};

/* Draws the whole screen from the state (draw.c). */
void draw_screen(struct app *app);
/* Curses attributes for a theme element (draw.c). */
int draw_attr(const struct app *app, enum theme_elem el);
/* Applies app->theme to the curses colour pairs (draw.c). */
void draw_apply_theme(struct app *app);

#endif
