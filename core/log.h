/*
 * log: one line per event, with time and level, on stderr or a sink.
 *
 * The logger is process-wide configuration (level, format, sink), the one
 * deliberate exception to "no mutable globals in core/": every module logs,
 * and threading a logger through each call would add noise, not safety.
 * The console installs a sink so that log lines never scribble over curses.
 */
#ifndef TASKER_LOG_H
#define TASKER_LOG_H

#include <stdbool.h>

enum log_level { LOG_LVL_DEBUG, LOG_LVL_INFO, LOG_LVL_WARN, LOG_LVL_ERROR };

enum log_format { LOG_FMT_TEXT, LOG_FMT_JSON };

/* Receives a finished line (no trailing newline) and its level. */
typedef void (*log_sink_fn)(enum log_level level, const char *line, void *arg);

/* Parses "debug", "info", "warn"/"warning", "error"; -1 on anything else. */
int log_level_parse(const char *s, enum log_level *out);
const char *log_level_name(enum log_level level);

void log_configure(enum log_level level, enum log_format format);
enum log_level log_get_level(void);
/* NULL restores stderr. */
void log_set_sink(log_sink_fn fn, void *arg);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#define log_debug(...) log_msg(LOG_LVL_DEBUG, __VA_ARGS__)
#define log_info(...) log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_warn(...) log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_error(...) log_msg(LOG_LVL_ERROR, __VA_ARGS__)

#endif
