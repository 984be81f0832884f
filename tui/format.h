/*
 * format: how the console writes numbers and fits text and columns into
 * terminal cells. Pure: no curses, no IO, no clock. fmt_fit() reads the
 * current locale (LC_CTYPE) through mbrtowc() and wcwidth(); the console
 * sets a UTF-8 locale at start-up.
 *
 * Every fmt_* function writes a NUL-terminated string into buf[0..size)
 * and truncates to fit; size 0 writes nothing.
 */
#ifndef TASKER_FORMAT_H
#define TASKER_FORMAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/*
 * A byte count, 1024-based: "0B", "512B", "1.0K", "1.5K", "48.2M", "512M",
 * "3.1G", up to "16.0E". One decimal below 100 of the unit, none from 100;
 * a value that would round to 1024 goes up a unit ("1.0M", never "1024K").
 */
void fmt_bytes(uint64_t bytes, char *buf, size_t size);

/*
 * An uptime in milliseconds, rounded down, at most two units and never more
 * than 6 characters below 100000 days:
 *   under a minute   "0s" .. "59s"
 *   under an hour    "1m" .. "59m"
 *   under a day      "1h", "3h12m", "23h59m"   (minutes left out when 0)
 *   under 100 days   "1d", "2d4h", "99d23h"    (hours left out when 0)
 *   from 100 days    "100d", "365d"
 * Negative values (clock skew) print "0s".
 */
void fmt_duration(int64_t ms, char *buf, size_t size);

/* A CPU percentage rounded to a whole number: "0%", "12%", "150%" (one
 * core is 100%). Negative or NaN means unknown and prints "-". */
void fmt_cpu(double pct, char *buf, size_t size);

/* One table column for layout_columns(). */
struct column {
	const char *name;
	int min;      /* the narrowest useful width (values below 1 count as 1) */
	int want;     /* the width it gets when there is room (at least min) */
	int priority; /* 0: always shown; higher numbers are hidden first */
	bool right;   /* right-aligned (numbers); layout ignores it */
	bool flex;    /* takes the space left once every column has its want */
};

/*
 * Lays out n columns in width cells with gap cells between visible columns,
 * writing each column's width to out_widths[i] (0: hidden). Returns how many
 * are visible. Steps:
 *   1. While the min widths and gaps do not fit, hide the visible column
 *      with the highest priority number (of equal ones, the rightmost).
 *      A hidden column stays hidden even if it would fit again later.
 *   2. If the priority-0 columns alone do not fit, shrink them from the
 *      right, down to nothing (hidden) if need be.
 *   3. Hand out spare cells in column order, each column up to its want.
 *   4. Give what is left to the last visible flex column; with none, it is
 *      left unused.
 * The widths plus the gaps never exceed width.
 */
size_t layout_columns(const struct column *cols, size_t n, int width, int gap, int *out_widths);

/*
 * Copies UTF-8 text s into buf, cut to at most width terminal columns, and
 * ends it with "…" (one column) when it had to cut; in a locale that is not
 * UTF-8, "~" instead. Zero-width characters (combining marks, joiners) stay
 * with the character before them; a wide character that would straddle the
 * limit is left out. Bytes that are not valid in the locale and control
 * characters are written as "?" so the terminal never sees them. Also cuts
 * (with "…" when it fits) so that buf[0..size) holds the result. Returns
 * the columns used.
 */
size_t fmt_fit(const char *s, int width, char *buf, size_t size);

/*
 * Copies s into buf with the console's own box, arrow and mark characters
 * (│ ─ ▲ ▼ ↺ ✓ ✗ … × ↑ ↓ ▶) replaced by ASCII ("|", "-", "^", "v", "R",
 * "+", "x", "...", "x", "Up", "Dn", ">"; "↑↓" is "Up/Dn"), for a terminal whose locale is
 * not UTF-8; other bytes are copied as they are (fmt_fit shows what the
 * locale cannot as "?"). Stops at a whole replacement that would not fit
 * in buf[0..size). Returns the bytes written.
 */
size_t fmt_ascii(const char *s, char *buf, size_t size);

#endif
