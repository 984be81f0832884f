/*
 * tools: the commands of the one binary. Each takes the shared config and
 * its own argv (argv[0] is the command name) and returns an exit code from
 * config.h. main.c dispatches through the table in tools.c.
 */
#ifndef TASKER_TOOLS_H
#define TASKER_TOOLS_H

#include <stdio.h>

#include "codec.h"
#include "config.h"

struct tool {
	const char *name;
	const char *summary; /* one line for `tasker --help` */
	int (*run)(struct config *cfg, int argc, char **argv);
};

/* NULL-terminated; the first entry with name NULL ends it. */
extern const struct tool tools_table[];
const struct tool *tools_find(const char *name);

int tool_parse(struct config *cfg, int argc, char **argv);
int tool_key(struct config *cfg, int argc, char **argv);
int tool_send(struct config *cfg, int argc, char **argv);
int tool_watch(struct config *cfg, int argc, char **argv);
int tool_exec(struct config *cfg, int argc, char **argv);
int tool_ls(struct config *cfg, int argc, char **argv);
int tool_logs(struct config *cfg, int argc, char **argv);
int tool_audit(struct config *cfg, int argc, char **argv);
int tool_result(struct config *cfg, int argc, char **argv);

/*
 * Signs a command for sending when key_path is set (--key, TASKER_KEY):
 * replaces *json (malloc'd) by its signed wrapper (docs/security.md).
 * Returns 0 (also when key_path is NULL: nothing to do), or -1 with a
 * sentence in err (the key file unreadable, too open, the command too big).
 */
int tools_sign_command(const char *key_path, char **json, char *err, size_t errlen);

/*
 * Shared option loop: returns the next command-specific option code, -1 at
 * the end of options, or '?' after printing a usage error. Shared options
 * are applied to cfg on the way.
 */
int tools_getopt(struct config *cfg, int argc, char **argv, const char *shortopts,
		 const struct option *longopts, const char *cmd);
/* Prints "tasker CMD: msg" and the hint to --help on stderr; returns EXIT_USAGE. */
int tools_usage_error(const char *cmd, const char *msg);
/* Finishes config (URL) and prints any error; returns 0 or EXIT_USAGE. */
int tools_finish_config(struct config *cfg, const char *cmd);

/* The end of the command whose words start at argv[first]: the next word
 * that begins with /VERB (a slash, an ASCII letter, letters or digits, then
 * a blank or the end of the word), else argc. Two commands given as words
 * never merge into one. */
int tools_command_end(int argc, char **argv, int first);
/* argv[from..argc) joined with single spaces; caller frees. */
char *tools_join_args(int argc, char **argv, int from);

/* One human line for a status message, without time: "started api (pm_id 3)". */
void tools_describe_status(const struct status_view *v, char *buf, size_t size);
/* Local "HH:MM:SS" of the message time (or now). */
void tools_clock(const struct status_view *v, char *buf, size_t size);

/*
 * Prints a line for a person on out, with a newline: text[0..len) comes
 * from Redis or PM2, so every character text_next() refuses (controls,
 * bidi overrides, bytes that do not decode) is written as a visible escape
 * (\x1b, \n, \u202e), never raw. --json and --raw output does not go
 * through here: it stays exact JSON.
 */
void tools_print_human(FILE *out, const char *text, size_t len);
/* Takes the character set of the user's locale (LC_CTYPE), so that
 * tools_print_human shows their non-ASCII letters as they are. */
void tools_use_locale(void);

#endif
