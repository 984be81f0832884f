/*
 * feed: see feed.h.
 */
#include "feed.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

void feed_init(struct feed *f, size_t cap)
{
	memset(f, 0, sizeof(*f));
	f->cap = cap ? cap : 1;
	f->lines = xcalloc(f->cap, sizeof(*f->lines));
}

void feed_free(struct feed *f)
{
	free(f->lines);
	memset(f, 0, sizeof(*f));
}

void feed_add(struct feed *f, const char *time, enum feed_kind kind, const char *text)
{
	size_t idx;
	if (f->count < f->cap) {
		idx = (f->start + f->count) % f->cap;
		f->count++;
	} else {
		idx = f->start;
		f->start = (f->start + 1) % f->cap;
	}
	struct feed_line *l = &f->lines[idx];
	snprintf(l->time, sizeof(l->time), "%s", time);
	snprintf(l->text, sizeof(l->text), "%s", text);
	/* A line is one screen row: newlines and tabs from senders become spaces. */
	for (char *p = l->text; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			*p = ' ';
	l->kind = kind;
	/* Someone reading the scrollback keeps their place. */
	if (f->scroll > 0 && f->scroll < f->count)
		f->scroll++;
}

const struct feed_line *feed_get(const struct feed *f, size_t i)
{
	if (i >= f->count)
		return NULL;
	return &f->lines[(f->start + i) % f->cap];
}

void feed_scroll(struct feed *f, long delta, size_t height)
{
	long max = f->count > height ? (long)(f->count - height) : 0;
	long s = (long)f->scroll + delta;
	if (s < 0)
		s = 0;
	if (s > max)
		s = max;
	f->scroll = (size_t)s;
}

void feed_clear(struct feed *f)
{
	f->start = f->count = f->scroll = 0;
}
