/*
 * format: see format.h. Number formatting, column layout and fitting UTF-8
 * text into terminal columns. It must stay pure (no curses, no IO, no
 * clock) so the unit tests can pin every boundary.
 */
#include "format.h"

#include <math.h>
#include <stdio.h>
#include <string.h>
#include <wchar.h>

#include "text.h"

void fmt_bytes(uint64_t bytes, char *buf, size_t size)
{
	static const char units[] = "KMGTPE";
	if (size == 0)
		return;
	if (bytes < 1024) {
		snprintf(buf, size, "%uB", (unsigned)bytes);
		return;
	}
	double v = (double)bytes / 1024.0;
	size_t u = 0;
	while (v >= 1024.0 && u + 1 < sizeof(units) - 1) {
		v /= 1024.0;
		u++;
	}
	/* "1024K" would print for 1023.5K and up: say "1.0M" instead. */
	if (v >= 1023.5 && u + 1 < sizeof(units) - 1) {
		v /= 1024.0;
		u++;
	}
	if (v < 99.95)
		snprintf(buf, size, "%.1f%c", v, units[u]);
	else
		snprintf(buf, size, "%.0f%c", v, units[u]);
}

void fmt_duration(int64_t ms, char *buf, size_t size)
{
	if (size == 0)
		return;
	int64_t s = ms < 0 ? 0 : ms / 1000;
	int64_t m = s / 60, h = s / 3600, d = s / 86400;
	if (s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (m < 60)
		snprintf(buf, size, "%lldm", (long long)m);
	else if (h < 24 && m % 60 == 0)
		snprintf(buf, size, "%lldh", (long long)h);
	else if (h < 24)
		snprintf(buf, size, "%lldh%lldm", (long long)h, (long long)(m % 60));
	else if (d < 100 && h % 24 != 0)
		snprintf(buf, size, "%lldd%lldh", (long long)d, (long long)(h % 24));
	else
		snprintf(buf, size, "%lldd", (long long)d);
}

void fmt_cpu(double pct, char *buf, size_t size)
{
	if (size == 0)
		return;
	if (isnan(pct) || pct < 0) {
		snprintf(buf, size, "-");
		return;
	}
	/* Clamp so that a bogus huge value cannot widen the column without
	 * bound; a million percent is ten thousand busy cores. */
	if (pct > 999999.0)
		pct = 999999.0;
	snprintf(buf, size, "%.0f%%", pct);
}

size_t layout_columns(const struct column *cols, size_t n, int width, int gap, int *out_widths)
{
	if (gap < 0)
		gap = 0;
	long long need = 0;
	size_t nvis = 0;
	for (size_t i = 0; i < n; i++) {
		out_widths[i] = cols[i].min < 1 ? 1 : cols[i].min;
		need += out_widths[i];
		nvis++;
	}
	if (nvis > 0)
		need += (long long)gap * (long long)(nvis - 1);
	if (width < 0)
		width = 0;

	/* 1. Hide by priority: the highest number first, the rightmost of equals. */
	while (need > width) {
		size_t victim = n;
		for (size_t i = 0; i < n; i++)
			if (out_widths[i] > 0 && cols[i].priority > 0 &&
			    (victim == n || cols[i].priority >= cols[victim].priority))
				victim = i;
		if (victim == n)
			break;
		need -= out_widths[victim] + (nvis > 1 ? gap : 0);
		out_widths[victim] = 0;
		nvis--;
	}

	/* 2. The always-shown columns do not fit: shrink them from the right. */
	while (need > width && nvis > 0) {
		size_t j = n;
		while (j > 0 && out_widths[j - 1] == 0)
			j--;
		j--;
		long long over = need - width;
		if (out_widths[j] > over) {
			out_widths[j] -= (int)over;
			need = width;
		} else {
			need -= out_widths[j] + (nvis > 1 ? gap : 0);
			out_widths[j] = 0;
			nvis--;
		}
	}

	/* 3. Spare cells go to each column in turn, up to its want. */
	long long spare = width - need;
	for (size_t i = 0; i < n && spare > 0; i++) {
		if (out_widths[i] == 0)
			continue;
		long long more = (long long)cols[i].want - out_widths[i];
		if (more <= 0)
			continue;
		if (more > spare)
			more = spare;
		out_widths[i] += (int)more;
		spare -= more;
	}

	/* 4. The rest to the last visible flexible column. */
	for (size_t i = n; i > 0 && spare > 0; i--) {
		if (out_widths[i - 1] > 0 && cols[i - 1].flex) {
			out_widths[i - 1] += (int)spare;
			spare = 0;
		}
	}
	return nvis;
}

/* One piece of output: bytes to write and the columns they take. */
struct cell {
	const char *bytes;
	size_t len;
	int width;
};

/* Decodes the character at *p (of rest bytes) into *c and advances *p.
 * Which characters are shown is text_next()'s rule, shared with the tools
 * and the log; the console shows a refused one as '?'. */
static void next_cell(const char **p, size_t rest, mbstate_t *st, struct cell *c)
{
	struct text_char t;
	text_next(*p, rest, st, &t);
	if (t.width < 0)
		*c = (struct cell){"?", 1, 1};
	else
		*c = (struct cell){*p, t.len, t.width};
	*p += t.len;
}

/* The ellipsis in the current locale: "…" if it encodes as UTF-8, else "~". */
static const char *ellipsis(size_t *len)
{
	static const char utf8[] = "\xe2\x80\xa6";
	mbstate_t st;
	wchar_t wc = 0;
	memset(&st, 0, sizeof(st));
	if (mbrtowc(&wc, utf8, 3, &st) == 3 && wc == 0x2026 && wcwidth(wc) == 1) {
		*len = 3;
		return utf8;
	}
	*len = 1;
	return "~";
}

size_t fmt_fit(const char *s, int width, char *buf, size_t size)
{
	if (size == 0)
		return 0;
	buf[0] = '\0';
	if (width <= 0)
		return 0;
	size_t slen = strlen(s);
	const char *end = s + slen;
	mbstate_t st;
	struct cell c;

	/* Does all of it fit? */
	size_t cols = 0, bytes = 0;
	memset(&st, 0, sizeof(st));
	for (const char *p = s; p < end;) {
		next_cell(&p, (size_t)(end - p), &st, &c);
		cols += (size_t)c.width;
		bytes += c.len;
	}
	bool cut = cols > (size_t)width || bytes + 1 > size;

	size_t elen = 0;
	const char *ell = ellipsis(&elen);
	size_t col_limit = (size_t)width, byte_limit = size - 1;
	if (cut && byte_limit >= elen) {
		col_limit -= 1;
		byte_limit -= elen;
	} else {
		ell = NULL;
	}

	size_t used = 0, o = 0;
	memset(&st, 0, sizeof(st));
	for (const char *p = s; p < end;) {
		next_cell(&p, (size_t)(end - p), &st, &c);
		if (used + (size_t)c.width > col_limit || o + c.len > byte_limit)
			break;
		memcpy(buf + o, c.bytes, c.len);
		o += c.len;
		used += (size_t)c.width;
	}
	if (cut && ell != NULL) {
		memcpy(buf + o, ell, elen);
		o += elen;
		used += 1;
	}
	buf[o] = '\0';
	return used;
}

/* The console's own non-ASCII characters and what stands for each. */
static const struct {
	const char *utf8, *ascii;
} ascii_glyphs[] = {
	{"│", "|"},   {"─", "-"},	{"▲", "^"},  {"▼", "v"},  {"↺", "R"},
	{"✓", "+"},   {"✗", "x"},	{"…", "..."}, {"×", "x"},  {"↑↓", "Up/Dn"},
	{"↑", "Up"},  {"↓", "Dn"},	{"▶", ">"},
};

size_t fmt_ascii(const char *s, char *buf, size_t size)
{
	if (size == 0)
		return 0;
	size_t o = 0;
	while (*s != '\0') {
		const char *put = NULL;
		size_t adv = 1;
		if ((unsigned char)*s >= 0x80) {
			for (size_t i = 0; i < sizeof(ascii_glyphs) / sizeof(ascii_glyphs[0]); i++) {
				size_t n = strlen(ascii_glyphs[i].utf8);
				if (strncmp(s, ascii_glyphs[i].utf8, n) == 0) {
					put = ascii_glyphs[i].ascii;
					adv = n;
					break;
				}
			}
		}
		size_t n = put ? strlen(put) : 1;
		if (o + n >= size)
			break;
		memcpy(buf + o, put ? put : s, n);
		o += n;
		s += adv;
	}
	buf[o] = '\0';
	return o;
}
