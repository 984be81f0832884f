/*
 * text: how untrusted text (from Redis, PM2, a typed line) may reach a
 * person's terminal or log. One rule for the whole program: the console
 * shows a refused character as '?', the tools and the text log as a
 * visible escape; both ask text_next() which characters are refused.
 *
 * Refused: bytes that do not decode in the current locale (LC_CTYPE; in a
 * UTF-8 locale: invalid UTF-8), C0 controls and DEL, C1 controls
 * (U+0080-U+009F, and the 8-bit C1 bytes of a single-byte locale),
 * characters wcwidth() calls unprintable, and the bidirectional overrides
 * and isolates (U+202A-U+202E, U+2066-U+2069), which reorder what follows
 * them on the screen.
 *
 * Pure: no IO, no clock; it reads the locale through mbrtowc()/wcwidth().
 */
#ifndef TASKER_TEXT_H
#define TASKER_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <wchar.h>

/* One character of input, as text_next() read it. */
struct text_char {
	size_t len;   /* bytes it takes in the input: at least 1 */
	int width;    /* terminal columns (0, 1 or 2); -1: must not be shown as is */
	bool decoded; /* false: a byte that does not decode (cp holds the byte) */
	uint32_t cp;  /* the character (a Unicode code point under glibc) */
};

/*
 * Reads the character at p (rest > 0 bytes left). st carries the decoder
 * state from one call to the next; it is reset after a byte that does not
 * decode, which then counts as one refused character of its own.
 */
void text_next(const char *p, size_t rest, mbstate_t *st, struct text_char *c);

/*
 * Copies s[0..len) into buf for a human line: every refused character
 * becomes a visible escape: \n, \r, \t, \xHH (other C0 controls, DEL and
 * bytes that do not decode), \uHHHH (a decoded C1 control, bidi override
 * or unprintable character). Stops before max_cols terminal columns
 * (SIZE_MAX: no limit) or when buf (size > 0) is full, at a whole
 * character or escape. Returns the columns used.
 */
size_t text_escape(const char *s, size_t len, size_t max_cols, char *buf, size_t size);

/*
 * Decodes one UTF-8 character at p (rest > 0 bytes), whatever the locale:
 * returns its length (1-4) and the code point in *cp, or 0 when the bytes
 * there are not valid UTF-8 (overlong forms and surrogates included).
 * For JSON, which is UTF-8 by definition.
 */
size_t text_utf8_next(const char *p, size_t rest, uint32_t *cp);

/* The length of s[0..len) without a trailing incomplete UTF-8 sequence:
 * where to cut a string that was truncated by bytes. */
size_t text_utf8_trim(const char *s, size_t len);

#endif
