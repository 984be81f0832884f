/*
 * log: formats and emits log lines. Owns the process-wide log settings
 * (see log.h for why these are global). It must never exit or allocate
 * without bound: a log call is made from error paths.
 */
#include "log.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "util.h"

static enum log_level cur_level = LOG_LVL_INFO;
static enum log_format cur_format = LOG_FMT_TEXT;
static log_sink_fn cur_sink;
static void *cur_sink_arg;

static const char *const level_names[] = {"debug", "info", "warn", "error"};

int log_level_parse(const char *s, enum log_level *out)
{
	if (s == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
		if (strcasecmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	if (strcasecmp(s, "warning") == 0) {
		*out = LOG_LVL_WARN;
		return 0;
	}
	return -1;
}

const char *log_level_name(enum log_level level)
{
	return level_names[level];
}

void log_configure(enum log_level level, enum log_format format)
{
	cur_level = level;
	cur_format = format;
}

enum log_level log_get_level(void)
{
	return cur_level;
}

void log_set_sink(log_sink_fn fn, void *arg)
{
	cur_sink = fn;
	cur_sink_arg = arg;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < cur_level)
		return;

	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);

	char stamp[40];
	util_iso_time(util_wall_ms(), stamp, sizeof(stamp));

	char line[2300];
	if (cur_format == LOG_FMT_JSON) {
		char esc[2100];
		util_json_escape(text, esc, sizeof(esc));
		snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}", stamp,
			 level_names[level], esc);
	} else {
		snprintf(line, sizeof(line), "%s %-5s %s", stamp, level_names[level], text);
	}

	if (cur_sink != NULL) {
		cur_sink(level, line, cur_sink_arg);
		return;
	}
	fprintf(stderr, "%s\n", line);
}
