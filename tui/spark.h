/*
 * spark: text graphs of a series of values, for the console's sparklines,
 * detail graph and header meter. Pure: no curses, no IO; the caller says
 * whether the terminal takes Unicode (▁▂▃▄▅▆▇█) or gets ASCII.
 *
 * Every function writes a NUL-terminated string into buf[0..size) and
 * never more than size bytes; one value takes one column.
 */
#ifndef TASKER_TUI_SPARK_H
#define TASKER_TUI_SPARK_H

#include <stdbool.h>
#include <stddef.h>

/* The scale for v[0..n): the largest value, at least floor. */
float spark_scale(const float *v, size_t n, float floor);

/*
 * One line of n columns: each value scaled to max (values above it are
 * full) as one of eight block heights, the lowest for 0 (a flat line reads
 * as "idle", a blank as "no data"). ASCII: _.,-=+*#.
 */
void spark_line(const float *v, size_t n, float max, bool ascii, char *buf, size_t size);

/*
 * Row `row` (0: the top) of a graph rows tall: a value fills
 * v/max*rows*8 eighths from the bottom, drawn with the block characters
 * (ASCII: '.' for a part, '#' for a whole cell); empty cells are blanks.
 */
void spark_rows(const float *v, size_t n, float max, int rows, int row, bool ascii, char *buf,
		size_t size);

/* A bar cells wide, frac (0..1) of it full, in eighths: "███▍  "
 * (ASCII: "###   "). */
void spark_bar(double frac, int cells, bool ascii, char *buf, size_t size);

#endif
