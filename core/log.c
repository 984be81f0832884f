/*
 * log: formats and emits log lines. Owns the process-wide log settings
 * (see log.h for why these are global). It must never exit or allocate
 * without bound: a log call is made from error paths.
 */
#include "log.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "text.h"
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

/*
 * The JSON form of the message: valid JSON whatever the bytes were. Bytes
 * that are not UTF-8 become U+FFFD; controls (C0, DEL, C1) and bidi
 * overrides are \u escapes, so that a person reading the file with cat is
 * as safe as one reading the text log. Stops at a whole escape.
 */
static void json_text(const char *text, size_t len, char *buf, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = text_utf8_next(text + i, len - i, &cp);
		char tmp[16];
		const char *add = tmp;
		size_t n;
		if (k == 0) {
			add = "\\ufffd";
			n = 6;
			k = 1;
		} else if (cp == '"' || cp == '\\') {
			tmp[0] = '\\';
			tmp[1] = (char)cp;
			n = 2;
		} else if (cp == '\n' || cp == '\r' || cp == '\t') {
			tmp[0] = '\\';
			tmp[1] = cp == '\n' ? 'n' : cp == '\r' ? 'r' : 't';
			n = 2;
		} else if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
			   (cp >= 0x2066 && cp <= 0x2069)) {
			n = (size_t)snprintf(tmp, sizeof(tmp), "\\u%04x", (unsigned)cp);
		} else {
			add = text + i;
			n = k;
		}
		if (o + n >= size)
			break;
		memcpy(buf + o, add, n);
		o += n;
		i += k;
	}
	buf[o] = '\0';
}

void log_msg(enum log_level level, const char *fmt, ...)
{
	if (level < cur_level)
		return;

	char text[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	size_t len = n < 0 ? 0 : (size_t)n < sizeof(text) ? (size_t)n : sizeof(text) - 1;
	if ((size_t)n >= sizeof(text))
		len = text_utf8_trim(text, len); /* not half a character at the cut */

	char stamp[40];
	util_iso_time(util_wall_ms(), stamp, sizeof(stamp));

	/* Messages quote untrusted text (task names, Redis and PM2 errors): a
	 * newline or an escape sequence in it must not forge a line or drive
	 * the terminal of whoever reads the log. Each escape is at most 4
	 * bytes per input byte. */
	char esc[4 * sizeof(text) + 8];
	char line[sizeof(esc) + 100];
	if (cur_format == LOG_FMT_JSON) {
		json_text(text, len, esc, sizeof(esc));
		snprintf(line, sizeof(line), "{\"time\":\"%s\",\"level\":\"%s\",\"msg\":\"%s\"}", stamp,
			 level_names[level], esc);
	} else {
		text_escape(text, len, SIZE_MAX, esc, sizeof(esc));
		snprintf(line, sizeof(line), "%s %-5s %s", stamp, level_names[level], esc);
	}

	if (cur_sink != NULL) {
		cur_sink(level, line, cur_sink_arg);
		return;
	}
	fprintf(stderr, "%s\n", line);
}
