/*
 * util: small helpers every module uses: allocation that treats
 * out-of-memory as fatal (the one error we do not report and carry on from),
 * clocks, time formatting, identifiers.
 */
#ifndef TASKER_UTIL_H
#define TASKER_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ASCII classes, whatever the locale: names and verbs on the wire are
 * ASCII, and isalnum() in a Latin-1 locale would pass 0xE9. */
static inline bool util_ascii_digit(int c)
{
	return c >= '0' && c <= '9';
}
static inline bool util_ascii_alpha(int c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
static inline bool util_ascii_alnum(int c)
{
	return util_ascii_alpha(c) || util_ascii_digit(c);
}

/* Allocation: abort with a message on out-of-memory; callers free(). */
void *xmalloc(size_t n);
void *xcalloc(size_t n, size_t size);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
char *xstrndup(const char *s, size_t n);
/* printf into a new string; caller frees. */
char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Milliseconds: wall clock since the epoch, and CLOCK_MONOTONIC. */
int64_t util_wall_ms(void);
int64_t util_mono_ms(void);

/* "2026-11-27T10:00:00.000Z" for a wall-clock time in ms. */
void util_iso_time(int64_t wall_ms, char *buf, size_t size);

/* Escapes text for a JSON string body (no quotes added); truncates to fit. */
void util_json_escape(const char *text, char *buf, size_t size);

/* The host name, or "localhost"; into buf. */
void util_hostname(char *buf, size_t size);

/* A fresh unique id: 32 lowercase hex digits (128 random bits) into buf[33]. */
void util_random_id(char buf[33]);

/* True when s holds valid UTF-8 of length len (no overlongs, no surrogates). */
bool util_utf8_valid(const char *s, size_t len);

/* Parses a size "^[0-9]+[KMG]?$" (K = 1024) into bytes, 1 byte to 1 TiB;
 * -1 on anything else (no blanks, no signs, no overflow). */
int util_parse_size(const char *s, uint64_t *out);

/* Sets FD_CLOEXEC (and O_NONBLOCK when nonblock); -1 with errno on failure. */
int util_fd_cloexec(int fd);
int util_fd_nonblock(int fd);

#endif
