/*
 * metrics: a registry of counters, gauges, histograms and info metrics, and
 * its exposition as text: the Prometheus text format 0.0.4 or OpenMetrics
 * 1.0 (docs/operations.md, "Metrics").
 *
 * Pure: no IO, no clock. Values are set by the owner (the executor,
 * core/metrics_exec.c); the HTTP server (core/metrics_http.c) only asks
 * for the text. Label values are untrusted (task names): they are escaped
 * here, and bytes that are not UTF-8 become U+FFFD.
 *
 * Ownership: the registry owns its families and series; a series pointer
 * stays valid until its family is cleared or the registry freed.
 */
#ifndef TASKER_METRICS_H
#define TASKER_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum metrics_type {
	METRICS_COUNTER,   /* samples end in _total */
	METRICS_GAUGE,
	METRICS_HISTOGRAM, /* _bucket{le}, _sum, _count */
	METRICS_INFO,	   /* samples end in _info, value 1 */
};

enum metrics_format {
	METRICS_TEXT,	     /* text/plain; version=0.0.4 */
	METRICS_OPENMETRICS, /* application/openmetrics-text; version=1.0.0 */
};

#define METRICS_MAX_LABELS 4

struct metrics;
struct metrics_family;
struct metrics_series;

struct metrics *metrics_new(void);
void metrics_free(struct metrics *m);

/*
 * Adds a family, rendered in the order added. name is the family's name
 * without the _total or _info suffix of its samples (it must be a valid
 * metric name); unit (NULL: none) must end name, as OpenMetrics asks.
 * bounds: a histogram's upper bounds, ascending, without +Inf (copied).
 */
struct metrics_family *metrics_family_add(struct metrics *m, const char *name,
					  enum metrics_type type, const char *unit,
					  const char *help, const double *bounds, size_t nbounds);

/*
 * The series of f with these labels (npairs name/value pairs, names first:
 * {"verb", "start", "outcome", "started"}), created at zero when new.
 * Names must be valid label names; values may be any bytes.
 */
struct metrics_series *metrics_series(struct metrics_family *f, const char *const *labels,
				      size_t npairs);
/* Adds a new series without looking for an equal one (the caller knows
 * the label sets differ, as when a task listing is copied in). */
struct metrics_series *metrics_series_append(struct metrics_family *f,
					     const char *const *labels, size_t npairs);
/* Drops every series of f (a family rebuilt from each listing). */
void metrics_family_clear(struct metrics_family *f);
size_t metrics_family_size(const struct metrics_family *f);

/* Counters only go up (a negative v is ignored); NULL s is a no-op. */
void metrics_add(struct metrics_series *s, double v);
void metrics_set(struct metrics_series *s, double v);
double metrics_value(const struct metrics_series *s);
void metrics_observe(struct metrics_series *s, double v);

/* The exposition; a malloc'd text of *len bytes the caller frees. */
char *metrics_render(const struct metrics *m, enum metrics_format fmt, size_t *len);

/* The Content-Type of a format. */
const char *metrics_content_type(enum metrics_format fmt);

/* The format an Accept header asks for (NULL: none): OpenMetrics when it
 * lists application/openmetrics-text with a q above 0, else text. */
enum metrics_format metrics_negotiate(const char *accept);

#endif
