/*
 * spark: see spark.h. Pure.
 */
#include "spark.h"

#include <string.h>

/* The eight heights, lowest first, then the ASCII forms. */
static const char *const blocks[8] = {"▁", "▂", "▃", "▄", "▅", "▆", "▇", "█"};
static const char ascii_line[8] = {'_', '.', ',', '-', '=', '+', '*', '#'};
/* Left-aligned partial blocks for the bar: 1/8 .. 7/8. */
static const char *const partial[8] = {"", "▏", "▎", "▍", "▌", "▋", "▊", "▉"};

/* Appends s to buf at *o when it fits whole (with the NUL). */
static void add(char *buf, size_t size, size_t *o, const char *s)
{
	size_t l = strlen(s);
	if (*o + l + 1 > size)
		return;
	memcpy(buf + *o, s, l);
	*o += l;
	buf[*o] = '\0';
}

float spark_scale(const float *v, size_t n, float floor)
{
	float m = floor;
	for (size_t i = 0; i < n; i++)
		if (v[i] > m)
			m = v[i];
	return m > 0 ? m : 1;
}

/* v/max in 0..1, whatever v and max are. */
static double ratio(float v, float max)
{
	if (!(v > 0) || !(max > 0))
		return 0;
	double r = (double)v / (double)max;
	return r > 1 ? 1 : r;
}

void spark_line(const float *v, size_t n, float max, bool ascii, char *buf, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return;
	buf[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		int k = (int)(ratio(v[i], max) * 7 + 0.5);
		if (ascii) {
			char c[2] = {ascii_line[k], '\0'};
			add(buf, size, &o, c);
		} else {
			add(buf, size, &o, blocks[k]);
		}
	}
}

void spark_rows(const float *v, size_t n, float max, int rows, int row, bool ascii, char *buf,
		size_t size)
{
	size_t o = 0;
	if (size == 0)
		return;
	buf[0] = '\0';
	if (rows < 1)
		rows = 1;
	int from_bottom = rows - 1 - row; /* whole cells below this row */
	for (size_t i = 0; i < n; i++) {
		int eighths = (int)(ratio(v[i], max) * rows * 8 + 0.5);
		int here = eighths - from_bottom * 8;
		if (here > 8)
			here = 8;
		if (here <= 0)
			add(buf, size, &o, " ");
		else if (ascii)
			add(buf, size, &o, here == 8 ? "#" : ".");
		else
			add(buf, size, &o, blocks[here - 1]);
	}
}

void spark_bar(double frac, int cells, bool ascii, char *buf, size_t size)
{
	size_t o = 0;
	if (size == 0)
		return;
	buf[0] = '\0';
	if (!(frac > 0))
		frac = 0;
	if (frac > 1)
		frac = 1;
	int eighths = (int)(frac * cells * 8 + 0.5);
	for (int c = 0; c < cells; c++) {
		int here = eighths - c * 8;
		if (here >= 8)
			add(buf, size, &o, ascii ? "#" : "█");
		else if (here > 0 && !ascii)
			add(buf, size, &o, partial[here]);
		else if (here >= 4 && ascii)
			add(buf, size, &o, "#");
		else
			add(buf, size, &o, " ");
	}
}
