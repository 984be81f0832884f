/*
 * theme: the console's colour themes, as data. It owns the theme file
 * format (docs/themes.md), the built-in dark default, the search path for
 * theme files, and the monochrome fallback for NO_COLOR and colourless
 * terminals.
 *
 * No curses here: a style is a pair of colour numbers (-1 for the terminal's
 * default) and THEME_ATTR_* bits, which the console maps to init_pair() and
 * A_* attributes. Only theme_load() and theme_list() touch the file system;
 * everything else is pure, so the unit tests feed it strings.
 */
#ifndef TASKER_THEME_H
#define TASKER_THEME_H

#include <stddef.h>

/* What can be styled. The file names are the lowercase names with '-'
 * (TH_ROW_SELECTED is "row-selected"); theme_elem_name() gives them. */
enum theme_elem {
	TH_DEFAULT,          /* everything not covered below; the screen background */
	TH_HEADER,           /* the top line: host, bus and PM2 state, counts */
	TH_HEADER_ALERT,     /* the top line while Redis or PM2 is down */
	TH_TABLE_HEAD,       /* the task table's column titles */
	TH_ROW,              /* a task row */
	TH_ROW_SELECTED,     /* the task row under the cursor */
	TH_ROW_LOST,         /* a row of a lost node (its executor stopped answering) */
	TH_STATUS_ONLINE,    /* status cell: online */
	TH_STATUS_STOPPED,   /* status cell: stopped */
	TH_STATUS_ERRORED,   /* status cell: errored */
	TH_STATUS_LAUNCHING, /* status cell: launching, stopping, waiting restart */
	TH_STATUS_OTHER,     /* status cell: any other or unknown status */
	TH_FEED_TIME,        /* event feed: the time stamp */
	TH_FEED_OK,          /* event feed: a success */
	TH_FEED_ERROR,       /* event feed: a failure */
	TH_FEED_INFO,        /* event feed: anything else */
	TH_BAR,              /* the command bar */
	TH_BAR_PROMPT,       /* the command bar's prompt */
	TH_BAR_ERROR,        /* a message in the command bar about an error */
	TH_HINT,             /* the key hint line */
	TH_OVERLAY,          /* the help and detail boxes */
	TH_OVERLAY_TITLE,    /* their titles */
	TH_BORDER,           /* box borders and separators */
	TH_SPARK_CPU,        /* CPU history: the table's sparkline, the detail graph */
	TH_SPARK_MEM,        /* memory history in the detail graph */
	TH_SPARK_RESTART,    /* restarts marked on the detail graph's timeline */
	TH_HEADER_METER,     /* the header's CPU and memory meter */
	TH_JOB_PENDING,      /* job view: a step not started yet */
	TH_JOB_RUNNING,      /* job view: a step running */
	TH_JOB_SUCCEEDED,    /* job view: a step that succeeded (and a completed job) */
	TH_JOB_FAILED,       /* job view: a step that failed or timed out */
	TH_JOB_SKIPPED,      /* job view: a step skipped or stopped */
	TH_JOB_ROLLBACK,     /* job view: a rollback step */
	TH_COUNT
};

/* Attribute bits; the console maps them to A_BOLD etc. */
#define THEME_ATTR_BOLD 0x01u
#define THEME_ATTR_DIM 0x02u
#define THEME_ATTR_REVERSE 0x04u
#define THEME_ATTR_UNDERLINE 0x08u
#define THEME_ATTR_STANDOUT 0x10u
#define THEME_ATTR_ITALIC 0x20u
#define THEME_ATTR_BLINK 0x40u

/* fg and bg: -1 for the terminal's default colour, else 0..255 (0..7 the
 * ANSI colours, 8..15 their bright forms). Colours the terminal lacks
 * (>= COLORS) are the console's to map or drop. */
struct theme_style {
	short fg, bg;
	unsigned attrs; /* THEME_ATTR_* */
};

struct theme {
	char name[64]; /* for display: the file's "name" line, else its NAME */
	struct theme_style el[TH_COUNT];
};

/* The dark-background default, named "default"; themes/default.theme says
 * the same. Used whenever a theme file is missing or broken. */
void theme_builtin(struct theme *out);

/*
 * Parses theme text text[0..len) and applies it on top of *inout, so
 * elements the text does not mention keep their values. Returns 0, or -1
 * with *inout unchanged and err holding one line such as
 * "themes/x.theme line 7: unknown colour 'purpel'" (source_name may be NULL:
 * "theme" is used).
 */
int theme_parse(const char *text, size_t len, const char *source_name, struct theme *inout,
                char *err, size_t errlen);

/*
 * Loads the theme NAME ([A-Za-z0-9_-]+, at most 63 bytes: never a path) from
 * the first of these directories holding NAME.theme:
 *   $XDG_CONFIG_HOME/tasker/themes   (default ~/.config/tasker/themes)
 *   TASKER_SHAREDIR/themes           (the install prefix, from the Makefile)
 *   ./themes
 *   <directory of the running binary>/themes
 * The file is applied on top of the built-in default. "default" always
 * succeeds: with no default.theme anywhere it is the built-in theme.
 * Returns 0, or -1 with *out the built-in default and err saying why: a bad
 * name, not found (listing the places searched), unreadable, or the parse
 * error with its file and line. A broken file in an earlier directory is an
 * error; later directories are not tried, so the user sees their mistake.
 */
int theme_load(const char *name, struct theme *out, char *err, size_t errlen);

/*
 * Drops every colour (fg = bg = -1) for NO_COLOR and terminals without
 * colour. Attributes are kept, and the elements whose meaning was carried
 * by colour get attributes of their own added: selected row and headers
 * reverse, status online bold, stopped dim, errored bold+reverse, launching
 * underline, feed and bar errors bold (see docs/themes.md). Should the
 * result leave two status elements looking alike, the status elements get
 * exactly those fixed attributes. themes/mono.theme equals the monochrome
 * built-in default.
 */
void theme_monochrome(struct theme *t);

/* "row-selected" for TH_ROW_SELECTED; "?" when out of range. Static. */
const char *theme_elem_name(enum theme_elem e);

/*
 * The names (without ".theme") of the themes in the search path, plus
 * "default", sorted and unique. Sets *names to a malloc'd array of malloc'd
 * strings the caller frees with theme_list_free(); returns the count.
 */
size_t theme_list(char ***names);
void theme_list_free(char **names, size_t n);

#endif
