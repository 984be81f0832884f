/*
 * Unit tests for core/text.c (which characters of untrusted text may reach
 * a terminal, and how the tools escape the others) and for the log lines
 * built on it (core/log.c): one message is one line, and the JSON form is
 * valid JSON whatever the bytes were.
 */
#include "unit.h"

#include <locale.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "log.h"
#include "text.h"

/* text_escape with no column limit into a fresh buffer; checks the result. */
static void expect_escape(const char *in, size_t len, const char *want)
{
	char buf[512];
	text_escape(in, len, SIZE_MAX, buf, sizeof(buf));
	if (strcmp(buf, want) != 0)
		fail_msg("escape of %zu bytes gave \"%s\", want \"%s\"", len, buf, want);
}

#define ESC(lit, want) expect_escape(lit, sizeof(lit) - 1, want)

/* What a terminal must never receive from untrusted text: bytes that are
 * not UTF-8, a C0 or C1 control, or a bidi override. */
static void assert_inert(const char *s)
{
	size_t len = strlen(s);
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = text_utf8_next(s + i, len - i, &cp);
		if (k == 0)
			fail_msg("\"%s\" is not UTF-8 at byte %zu", s, i);
		if (cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || (cp >= 0x202a && cp <= 0x202e) ||
		    (cp >= 0x2066 && cp <= 0x2069))
			fail_msg("\"%s\" holds control U+%04X", s, (unsigned)cp);
		i += k;
	}
}

static void escape_controls(void **state)
{
	(void)state;
	/* The reported attacks: clear screen, window title, clipboard, a forged line. */
	ESC("a\x1b[2Jb", "a\\x1b[2Jb");
	ESC("\x1b]0;pwned\x07", "\\x1b]0;pwned\\x07");
	ESC("\x1b]52;c;aGk=\x1b\\", "\\x1b]52;c;aGk=\\x1b\\");
	ESC("err\n12:00:00  started api", "err\\n12:00:00  started api");
	ESC("a\rb\tc\x7f", "a\\rb\\tc\\x7f");
	/* A NUL inside a counted string is a control too. */
	expect_escape("a\0b", 3, "a\\x00b");
}

static void escape_c1_and_bidi(void **state)
{
	(void)state;
	/* C1 encoded in UTF-8 (U+009B is CSI), and the 8-bit C1 byte alone. */
	ESC("a\xc2\x9b" "2Jb", "a\\u009b2Jb");
	ESC("a\xc2\x85" "b", "a\\u0085b");
	ESC("a\x9b" "2Jb", "a\\x9b2Jb");
	/* U+202E RIGHT-TO-LEFT OVERRIDE, U+2066..U+2069 isolates. */
	ESC("a\xe2\x80\xae" "b", "a\\u202eb");
	ESC("\xe2\x81\xa6x\xe2\x81\xa9", "\\u2066x\\u2069");
}

static void escape_invalid_utf8(void **state)
{
	(void)state;
	ESC("a\xff" "b", "a\\xffb");
	ESC("a\xc0\xaf" "b", "a\\xc0\\xafb");         /* overlong '/' */
	ESC("a\xed\xa0\x80" "b", "a\\xed\\xa0\\x80b"); /* a surrogate */
	ESC("end\xe2\x80", "end\\xe2\\x80");          /* cut short */
}

static void escape_keeps_text(void **state)
{
	(void)state;
	/* Ordinary text, accents, CJK, emoji and the backslash stay as they are. */
	ESC("started api (pm_id 3)", "started api (pm_id 3)");
	ESC("caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe6\x97\xa5\xe6\x9c\xac \xf0\x9f\x98\x80");
	ESC("C:\\dir", "C:\\dir");
}

static void escape_c_locale(void **state)
{
	(void)state;
	/* Outside UTF-8 nothing non-ASCII reaches the terminal as it is. */
	assert_non_null(setlocale(LC_CTYPE, "C"));
	ESC("caf\xc3\xa9", "caf\\xc3\\xa9");
	ESC("\xc2\x9b", "\\xc2\\x9b");
	assert_non_null(setlocale(LC_CTYPE, "C.UTF-8"));
}

static void escape_columns_and_buffer(void **state)
{
	(void)state;
	char buf[64];
	/* Columns count what is shown: an escape takes its own length. */
	assert_int_equal(text_escape("ab\x1b" "cd", 5, 5, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "ab");
	assert_int_equal(text_escape("ab\x1b" "cd", 5, 6, buf, sizeof(buf)), 6);
	assert_string_equal(buf, "ab\\x1b");
	/* Wide characters take two columns and are never cut. */
	assert_int_equal(text_escape("\xe6\x97\xa5\xe6\x9c\xac", 6, 3, buf, sizeof(buf)), 2);
	assert_string_equal(buf, "\xe6\x97\xa5");
	/* A small buffer stops at a whole character or escape. */
	char small[6];
	text_escape("a\x1b" "bcdef", 7, SIZE_MAX, small, sizeof(small));
	assert_string_equal(small, "a\\x1b");
	text_escape("ab\xc3\xa9\xc3\xa9", 6, SIZE_MAX, small, 5);
	assert_string_equal(small, "ab\xc3\xa9");
}

static void next_classifies(void **state)
{
	(void)state;
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	struct text_char c;
	text_next("\xc3\xa9", 2, &st, &c);
	assert_int_equal(c.len, 2);
	assert_int_equal(c.width, 1);
	assert_int_equal(c.cp, 0xe9);
	text_next("\xe6\x97\xa5", 3, &st, &c);
	assert_int_equal(c.width, 2);
	text_next("\xe2\x80\xae", 3, &st, &c);
	assert_int_equal(c.width, -1);
	assert_true(c.decoded);
	text_next("\xff", 1, &st, &c);
	assert_int_equal(c.len, 1);
	assert_int_equal(c.width, -1);
	assert_false(c.decoded);
	/* After a bad byte the state starts afresh. */
	text_next("a", 1, &st, &c);
	assert_int_equal(c.width, 1);
	/* Every escape is inert on a terminal. */
	static const char *const hostile[] = {"\x1b[2J", "\xc2\x9b", "\x9b", "\xe2\x80\xae",
					      "\xe2\x81\xa9", "\n\r\t\x07\x7f"};
	for (size_t i = 0; i < sizeof(hostile) / sizeof(hostile[0]); i++) {
		char buf[64];
		text_escape(hostile[i], strlen(hostile[i]), SIZE_MAX, buf, sizeof(buf));
		assert_inert(buf);
	}
}

static void utf8_decode_and_trim(void **state)
{
	(void)state;
	uint32_t cp;
	assert_int_equal(text_utf8_next("A", 1, &cp), 1);
	assert_int_equal(cp, 'A');
	assert_int_equal(text_utf8_next("\xf0\x9f\x98\x80", 4, &cp), 4);
	assert_int_equal(cp, 0x1f600);
	assert_int_equal(text_utf8_next("\xc0\x80", 2, &cp), 0);
	assert_int_equal(text_utf8_next("\xe0\x80\x80", 3, &cp), 0);
	assert_int_equal(text_utf8_next("\xed\xbf\xbf", 3, &cp), 0);
	assert_int_equal(text_utf8_next("\xf4\x90\x80\x80", 4, &cp), 0);
	assert_int_equal(text_utf8_next("\xe2\x80", 2, &cp), 0);
	assert_int_equal(text_utf8_trim("ab\xe2\x80", 4), 2);
	assert_int_equal(text_utf8_trim("ab\xe2\x80\xa6", 5), 5);
	assert_int_equal(text_utf8_trim("ab\xf0\x9f\x98", 5), 2);
	assert_int_equal(text_utf8_trim("ab", 2), 2);
	assert_int_equal(text_utf8_trim("", 0), 0);
}

/* ---- log lines ---- */

struct captured {
	int lines;
	char last[8192];
};

static void capture(enum log_level level, const char *line, void *arg)
{
	(void)level;
	struct captured *c = arg;
	c->lines++;
	snprintf(c->last, sizeof(c->last), "%s", line);
}

static void log_text_escapes(void **state)
{
	(void)state;
	struct captured c = {0};
	log_set_sink(capture, &c);
	log_configure(LOG_LVL_INFO, LOG_FMT_TEXT);
	/* A refused task name that tries to forge a second log line. */
	log_info("refused task name '%s'",
		 "x\n2026-01-01T00:00:00.000Z error forged\x1b[2J\xc2\x9b\xe2\x80\xae\xff");
	assert_int_equal(c.lines, 1);
	assert_null(strchr(c.last, '\n'));
	assert_non_null(strstr(c.last, "'x\\n2026-01-01T00:00:00.000Z error forged\\x1b[2J"
					"\\u009b\\u202e\\xff'"));
	assert_inert(c.last);
	log_set_sink(NULL, NULL);
}

static void log_json_stays_json(void **state)
{
	(void)state;
	struct captured c = {0};
	log_set_sink(capture, &c);
	log_configure(LOG_LVL_INFO, LOG_FMT_JSON);
	log_info("name \"%s\"", "a\nb\x1b\xc2\x9b\xe2\x80\xae\xff\\z\xc3\xa9");
	cJSON *j = cJSON_Parse(c.last);
	assert_non_null(j);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(j, "msg");
	assert_true(cJSON_IsString(msg));
	assert_string_equal(msg->valuestring,
			    "name \"a\nb\x1b\xc2\x9b\xe2\x80\xae\xef\xbf\xbd\\z\xc3\xa9\"");
	cJSON_Delete(j);
	assert_inert(c.last);

	/* A message cut by the 1 KiB limit is still valid JSON: no half character. */
	char big[2000];
	memset(big, 'x', sizeof(big));
	for (size_t i = 1000; i + 3 < sizeof(big); i += 3)
		memcpy(big + i, "\xe2\x80\xa6", 3);
	big[sizeof(big) - 1] = '\0';
	for (int shift = 0; shift < 3; shift++) {
		log_info("%.*s%s", shift, "ab", big);
		j = cJSON_Parse(c.last);
		assert_non_null(j);
		cJSON_Delete(j);
	}
	log_configure(LOG_LVL_INFO, LOG_FMT_TEXT);
	log_set_sink(NULL, NULL);
}

int main(void)
{
	if (setlocale(LC_ALL, "C.UTF-8") == NULL) {
		fprintf(stderr, "text: the C.UTF-8 locale is missing\n");
		return 1;
	}
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(escape_controls),
	    cmocka_unit_test(escape_c1_and_bidi),
	    cmocka_unit_test(escape_invalid_utf8),
	    cmocka_unit_test(escape_keeps_text),
	    cmocka_unit_test(escape_c_locale),
	    cmocka_unit_test(escape_columns_and_buffer),
	    cmocka_unit_test(next_classifies),
	    cmocka_unit_test(utf8_decode_and_trim),
	    cmocka_unit_test(log_text_escapes),
	    cmocka_unit_test(log_json_stays_json),
	};
	UNIT_RUN("text", tests);
}
