/*
 * metrics: see metrics.h. Owns the families and series and their text.
 *
 * Must not: read a clock or do IO (unit-tested by comparing whole texts),
 * or write a label value unescaped.
 */
#include "metrics.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util.h"

struct metrics_series {
	const struct metrics_family *f;
	char *labels[2 * METRICS_MAX_LABELS];
	size_t npairs;
	char *text; /* the labels as rendered, "{...}" or "" (not for histograms) */
	size_t textlen;
	double value;
	uint64_t *buckets; /* histogram: per bound, not cumulative */
	uint64_t count;
	double sum;
};

struct metrics_family {
	char *name, *unit, *help;
	enum metrics_type type;
	double *bounds;
	size_t nbounds;
	struct metrics_series **series;
	size_t n, cap;
};

struct metrics {
	struct metrics_family **fams;
	size_t n;
};

static char *labels_text(const struct metrics_series *s, size_t *len);

struct metrics *metrics_new(void)
{
	return xcalloc(1, sizeof(struct metrics));
}

static void series_free(struct metrics_series *s)
{
	for (size_t i = 0; i < 2 * s->npairs; i++)
		free(s->labels[i]);
	free(s->buckets);
	free(s->text);
	free(s);
}

void metrics_family_clear(struct metrics_family *f)
{
	for (size_t i = 0; i < f->n; i++)
		series_free(f->series[i]);
	f->n = 0;
}

void metrics_free(struct metrics *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->n; i++) {
		struct metrics_family *f = m->fams[i];
		metrics_family_clear(f);
		free(f->series);
		free(f->name);
		free(f->unit);
		free(f->help);
		free(f->bounds);
		free(f);
	}
	free(m->fams);
	free(m);
}

struct metrics_family *metrics_family_add(struct metrics *m, const char *name,
					  enum metrics_type type, const char *unit,
					  const char *help, const double *bounds, size_t nbounds)
{
	struct metrics_family *f = xcalloc(1, sizeof(*f));
	f->name = xstrdup(name);
	f->unit = unit ? xstrdup(unit) : NULL;
	f->help = xstrdup(help);
	f->type = type;
	if (type == METRICS_HISTOGRAM && nbounds > 0) {
		f->bounds = xcalloc(nbounds, sizeof(double));
		memcpy(f->bounds, bounds, nbounds * sizeof(double));
		f->nbounds = nbounds;
	}
	m->fams = xrealloc(m->fams, (m->n + 1) * sizeof(*m->fams));
	m->fams[m->n++] = f;
	return f;
}

size_t metrics_family_size(const struct metrics_family *f)
{
	return f->n;
}

struct metrics_series *metrics_series_append(struct metrics_family *f,
					     const char *const *labels, size_t npairs)
{
	if (npairs > METRICS_MAX_LABELS)
		npairs = METRICS_MAX_LABELS;
	struct metrics_series *s = xcalloc(1, sizeof(*s));
	for (size_t i = 0; i < 2 * npairs; i++)
		s->labels[i] = xstrdup(labels[i] ? labels[i] : "");
	s->npairs = npairs;
	s->f = f;
	if (f->type == METRICS_HISTOGRAM)
		s->buckets = xcalloc(f->nbounds + 1, sizeof(uint64_t));
	if (f->type == METRICS_INFO)
		s->value = 1;
	/* Escaped once here rather than at every scrape. */
	if (f->type != METRICS_HISTOGRAM)
		s->text = labels_text(s, &s->textlen);
	if (f->n == f->cap) {
		f->cap = f->cap ? f->cap * 2 : 8;
		f->series = xrealloc(f->series, f->cap * sizeof(*f->series));
	}
	f->series[f->n++] = s;
	return s;
}

struct metrics_series *metrics_series(struct metrics_family *f, const char *const *labels,
				      size_t npairs)
{
	for (size_t i = 0; i < f->n; i++) {
		struct metrics_series *s = f->series[i];
		if (s->npairs != npairs)
			continue;
		size_t k = 0;
		while (k < 2 * npairs && strcmp(s->labels[k], labels[k] ? labels[k] : "") == 0)
			k++;
		if (k == 2 * npairs)
			return s;
	}
	return metrics_series_append(f, labels, npairs);
}

void metrics_add(struct metrics_series *s, double v)
{
	if (s != NULL && v > 0)
		s->value += v;
}

void metrics_set(struct metrics_series *s, double v)
{
	if (s != NULL)
		s->value = v;
}

double metrics_value(const struct metrics_series *s)
{
	return s ? s->value : 0;
}

void metrics_observe(struct metrics_series *s, double v)
{
	if (s == NULL || s->buckets == NULL || isnan(v))
		return;
	const struct metrics_family *f = s->f;
	size_t i = 0;
	while (i < f->nbounds && v > f->bounds[i])
		i++;
	s->buckets[i]++;
	s->count++;
	s->sum += v;
}

/* --- rendering ---------------------------------------------------------- */

struct out {
	char *buf;
	size_t len, cap;
};

static void put(struct out *o, const char *s, size_t n)
{
	if (o->len + n + 1 > o->cap) {
		while (o->len + n + 1 > o->cap)
			o->cap = o->cap ? o->cap * 2 : 4096;
		o->buf = xrealloc(o->buf, o->cap);
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/* The shortest of %.15g and %.17g that reads back as v; integers as such. */
static void put_num(struct out *o, double v)
{
	char b[40];
	if (v == 0 || v == 1) {
		/* Most samples (every state series) are one of these. */
		put(o, v == 0 ? "0" : "1", 1);
		return;
	}
	if (v > 0 && v < 1e15 && v == floor(v)) {
		/* Whole numbers without snprintf: most of a scrape's text. */
		char *p = b + sizeof(b);
		uint64_t u = (uint64_t)v;
		do
			*--p = (char)('0' + u % 10);
		while ((u /= 10) != 0);
		put(o, p, (size_t)(b + sizeof(b) - p));
		return;
	}
	if (isnan(v))
		snprintf(b, sizeof(b), "NaN");
	else if (isinf(v))
		snprintf(b, sizeof(b), v > 0 ? "+Inf" : "-Inf");
	else if (v == floor(v) && fabs(v) < 1e15)
		snprintf(b, sizeof(b), "%.0f", v);
	else {
		snprintf(b, sizeof(b), "%.15g", v);
		if (strtod(b, NULL) != v)
			snprintf(b, sizeof(b), "%.17g", v);
	}
	puts_(o, b);
}

/* Length of the UTF-8 sequence at s (at most n bytes), 0 when invalid. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	size_t len;
	unsigned min;
	unsigned c = s[0];
	if (c < 0x80)
		return 1;
	if (c >= 0xc2 && c <= 0xdf)
		len = 2, min = 0x80, c &= 0x1f;
	else if (c >= 0xe0 && c <= 0xef)
		len = 3, min = 0x800, c &= 0x0f;
	else if (c >= 0xf0 && c <= 0xf4)
		len = 4, min = 0x10000, c &= 0x07;
	else
		return 0;
	if (n < len)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = (c << 6) | (s[i] & 0x3f);
	}
	if (c < min || c > 0x10ffff || (c >= 0xd800 && c <= 0xdfff))
		return 0;
	return len;
}

/* Escapes backslash and newline, and the double quote when quote is set
 * (label values; HELP in OpenMetrics); invalid UTF-8 becomes U+FFFD. */
static void put_escaped(struct out *o, const char *s, bool quote)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t n = strlen(s);
	while (n > 0) {
		/* A run of plain ASCII goes out in one piece. */
		size_t run = 0;
		while (run < n && p[run] < 0x80 && p[run] != '\\' && p[run] != '\n' && p[run] != '"')
			run++;
		if (run > 0) {
			put(o, (const char *)p, run);
			p += run;
			n -= run;
			continue;
		}
		if (*p == '"' && !quote) {
			put(o, "\"", 1);
		} else if (*p == '\\') {
			puts_(o, "\\\\");
		} else if (*p == '\n') {
			puts_(o, "\\n");
		} else if (*p == '"' && quote) {
			puts_(o, "\\\"");
		} else {
			size_t l = utf8_len(p, n);
			if (l == 0) {
				puts_(o, "\xef\xbf\xbd");
				l = 1;
			} else {
				put(o, (const char *)p, l);
			}
			p += l;
			n -= l;
			continue;
		}
		p++;
		n--;
	}
}

/* {a="x",b="y"} with an extra pair (le) when extra is given. */
static void put_labels(struct out *o, const struct metrics_series *s, const char *extra,
		       double extra_v)
{
	if (s->npairs == 0 && extra == NULL)
		return;
	puts_(o, "{");
	for (size_t i = 0; i < s->npairs; i++) {
		if (i > 0)
			puts_(o, ",");
		puts_(o, s->labels[2 * i]);
		puts_(o, "=\"");
		put_escaped(o, s->labels[2 * i + 1], true);
		puts_(o, "\"");
	}
	if (extra != NULL) {
		if (s->npairs > 0)
			puts_(o, ",");
		puts_(o, extra);
		puts_(o, "=\"");
		put_num(o, extra_v);
		puts_(o, "\"");
	}
	puts_(o, "}");
}

static char *labels_text(const struct metrics_series *s, size_t *len)
{
	struct out o = {.buf = xmalloc(128), .cap = 128};
	o.buf[0] = '\0';
	put_labels(&o, s, NULL, 0);
	*len = o.len;
	return o.buf;
}

static void put_sample(struct out *o, const char *name, const char *suffix,
		       const struct metrics_series *s, const char *extra, double extra_v,
		       double v)
{
	puts_(o, name);
	puts_(o, suffix);
	if (s->text != NULL && extra == NULL)
		put(o, s->text, s->textlen);
	else
		put_labels(o, s, extra, extra_v);
	puts_(o, " ");
	put_num(o, v);
	puts_(o, "\n");
}

static const char *type_word(enum metrics_type t, enum metrics_format fmt)
{
	switch (t) {
	case METRICS_COUNTER:
		return "counter";
	case METRICS_HISTOGRAM:
		return "histogram";
	case METRICS_INFO:
		return fmt == METRICS_OPENMETRICS ? "info" : "gauge";
	default:
		return "gauge";
	}
}

static void render_family(struct out *o, const struct metrics_family *f, enum metrics_format fmt)
{
	bool om = fmt == METRICS_OPENMETRICS;
	const char *suffix = f->type == METRICS_COUNTER ? "_total"
			     : f->type == METRICS_INFO	 ? "_info"
							 : "";
	/* The text format names a family by its samples' name; OpenMetrics
	 * by the name without the suffix. */
	char name[256];
	snprintf(name, sizeof(name), "%s%s", f->name, om ? "" : suffix);
	puts_(o, "# HELP ");
	puts_(o, name);
	puts_(o, " ");
	put_escaped(o, f->help, om);
	puts_(o, "\n# TYPE ");
	puts_(o, name);
	puts_(o, " ");
	puts_(o, type_word(f->type, fmt));
	puts_(o, "\n");
	if (om && f->unit != NULL) {
		puts_(o, "# UNIT ");
		puts_(o, name);
		puts_(o, " ");
		puts_(o, f->unit);
		puts_(o, "\n");
	}
	for (size_t i = 0; i < f->n; i++) {
		const struct metrics_series *s = f->series[i];
		if (f->type != METRICS_HISTOGRAM) {
			put_sample(o, f->name, suffix, s, NULL, 0, s->value);
			continue;
		}
		uint64_t cum = 0;
		for (size_t b = 0; b <= f->nbounds; b++) {
			cum += s->buckets[b];
			double le = b < f->nbounds ? f->bounds[b] : INFINITY;
			put_sample(o, f->name, "_bucket", s, "le", le, (double)cum);
		}
		put_sample(o, f->name, "_sum", s, NULL, 0, s->sum);
		put_sample(o, f->name, "_count", s, NULL, 0, (double)s->count);
	}
}

char *metrics_render(const struct metrics *m, enum metrics_format fmt, size_t *len)
{
	struct out o = {0};
	put(&o, "", 0);
	for (size_t i = 0; i < m->n; i++)
		render_family(&o, m->fams[i], fmt);
	if (fmt == METRICS_OPENMETRICS)
		puts_(&o, "# EOF\n");
	*len = o.len;
	return o.buf;
}

const char *metrics_content_type(enum metrics_format fmt)
{
	return fmt == METRICS_OPENMETRICS ? "application/openmetrics-text; version=1.0.0; charset=utf-8"
					  : "text/plain; version=0.0.4; charset=utf-8";
}

enum metrics_format metrics_negotiate(const char *accept)
{
	static const char om[] = "application/openmetrics-text";
	if (accept == NULL)
		return METRICS_TEXT;
	/* Each comma-separated media range: its type, then ;params (q=). */
	const char *p = accept;
	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		const char *end = p + n;
		while (p < end && isspace((unsigned char)*p))
			p++;
		if ((size_t)(end - p) >= sizeof(om) - 1 && strncasecmp(p, om, sizeof(om) - 1) == 0) {
			double q = 1;
			for (const char *s = p; s < end; s++) {
				if (*s != ';')
					continue;
				s++;
				while (s < end && isspace((unsigned char)*s))
					s++;
				if (s + 2 <= end && (s[0] == 'q' || s[0] == 'Q') && s[1] == '=')
					q = strtod(s + 2, NULL);
			}
			if (q > 0)
				return METRICS_OPENMETRICS;
		}
		p = *end ? end + 1 : end;
	}
	return METRICS_TEXT;
}
