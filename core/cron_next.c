/*
 * cron_next: see cron_next.h. A schedule becomes six sets of allowed
 * values; the search walks calendar days from the start (pure date
 * arithmetic, no clock), and within the first day that matches takes the
 * first allowed hour, minute and second not before the start. Only the
 * answer goes through mktime (local time).
 *
 * Must not: read the clock, or accept what cron_check refuses.
 */
#include "cron_next.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "cron_check.h"

struct sched {
	bool sec[60], min[60], hour[24], dom[31], mon[12], dow[8];
};

/* croner's replaceAlphaMonths / replaceAlphaDays, then the field is digits. */
static void names_to_numbers(const char *in, size_t len, char *out, size_t outlen, bool months)
{
	static const char *const mn[] = {"jan", "feb", "mar", "apr", "may", "jun",
	                                 "jul", "aug", "sep", "oct", "nov", "dec"};
	static const char *const dn[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat"};
	size_t o = 0;
	for (size_t i = 0; i < len && o + 3 < outlen;) {
		bool done = false;
		if (i + 3 <= len && isalpha((unsigned char)in[i])) {
			const char *const *names = months ? mn : dn;
			int n = months ? 12 : 7;
			for (int k = 0; k < n; k++) {
				if (strncasecmp(in + i, names[k], 3) == 0) {
					o += (size_t)snprintf(out + o, outlen - o, "%d",
					                      months ? k + 1 : k);
					i += 3;
					done = true;
					break;
				}
			}
		}
		if (!done)
			out[o++] = in[i++];
	}
	out[o] = '\0';
}

/* One item (no comma): *, N, N-M, N-M/S, * /S, N/S, into arr (size n,
 * index = value + off). */
static bool item(const char *s, bool *arr, int n, int off)
{
	if (strcmp(s, "*") == 0) {
		for (int i = 0; i < n; i++)
			arr[i] = true;
		return true;
	}
	const char *slash = strchr(s, '/');
	const char *dash = strchr(s, '-');
	char *end;
	if (slash != NULL && dash != NULL) {
		long lo = strtol(s, &end, 10), hi = strtol(dash + 1, &end, 10);
		long st = strtol(slash + 1, &end, 10);
		if (st <= 0)
			return false;
		for (long i = lo + off; i <= hi + off; i += st)
			if (i >= 0 && i < n)
				arr[i] = true;
		return true;
	}
	if (dash != NULL) {
		long lo = strtol(s, &end, 10), hi = strtol(dash + 1, &end, 10);
		for (long i = lo + off; i <= hi + off; i++)
			if (i >= 0 && i < n)
				arr[i] = true;
		return true;
	}
	if (slash != NULL) {
		/* croner 4.1: the start is an index, without the field's offset. */
		long start = s[0] == '*' ? 0 : strtol(s, &end, 10);
		long st = strtol(slash + 1, &end, 10);
		if (st <= 0)
			return false;
		for (long i = start; i < n; i += st)
			if (i >= 0)
				arr[i] = true;
		return true;
	}
	long v = strtol(s, &end, 10) + off;
	if (v >= 0 && v < n)
		arr[v] = true;
	return true;
}

static bool field(const char *s, size_t len, bool *arr, int n, int off, int kind)
{
	char buf[CRON_MAX_LEN * 2 + 8];
	names_to_numbers(s, len, buf, sizeof(buf), kind == 1);
	if (kind == 0) {
		memcpy(buf, s, len);
		buf[len] = '\0';
	}
	char *save = NULL;
	for (char *tok = strtok_r(buf, ",", &save); tok != NULL; tok = strtok_r(NULL, ",", &save))
		if (!item(tok, arr, n, off))
			return false;
	return true;
}

/* The fields' sets as croner reads them (expr's form already checked). */
static bool sched_build(const char *expr, struct sched *s)
{
	memset(s, 0, sizeof(*s));
	const char *start[6];
	size_t len[6];
	int n = 0;
	for (const char *p = expr; *p && n < 6;) {
		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		start[n] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		len[n] = (size_t)(p - start[n]);
		n++;
	}
	int k = 0;
	if (n == 6) {
		if (!field(start[0], len[0], s->sec, 60, 0, 0))
			return false;
		k = 1;
	} else {
		s->sec[0] = true;
	}
	if (!field(start[k], len[k], s->min, 60, 0, 0) ||
	    !field(start[k + 1], len[k + 1], s->hour, 24, 0, 0) ||
	    !field(start[k + 2], len[k + 2], s->dom, 31, -1, 0) ||
	    !field(start[k + 3], len[k + 3], s->mon, 12, -1, 1) ||
	    !field(start[k + 4], len[k + 4], s->dow, 8, 0, 2))
		return false;
	if (s->dow[7])
		s->dow[0] = true;
	return true;
}

static bool none_of(const bool *set, int n)
{
	for (int i = 0; i < n; i++)
		if (set[i])
			return false;
	return true;
}

const char *cron_empty_field(const char *expr)
{
	struct sched s;
	if (expr == NULL || !sched_build(expr, &s))
		return NULL;
	if (none_of(s.sec, 60))
		return "seconds";
	if (none_of(s.min, 60))
		return "minute";
	if (none_of(s.hour, 24))
		return "hour";
	if (none_of(s.dom, 31))
		return "day-of-month";
	if (none_of(s.mon, 12))
		return "month";
	if (none_of(s.dow, 8))
		return "day-of-week";
	return NULL;
}

static bool sched_parse(const char *expr, struct sched *s)
{
	char err[200];
	/* cron_check refuses a field that matches nothing (cron_empty_field):
	 * croner would search for ever. */
	return cron_check(expr, err, sizeof(err)) == 0 && sched_build(expr, s);
}

/* croner's CronDate: local time fields, JS Date's ranges (months 0..11),
 * normalised through mktime as `new Date(y, m, d, h, mi, s)` is. */
struct cdate {
	int years, months, days, hours, minutes, seconds;
};

static time_t cd_time(const struct cdate *c)
{
	struct tm tm = {0};
	tm.tm_year = c->years - 1900;
	tm.tm_mon = c->months;
	tm.tm_mday = c->days;
	tm.tm_hour = c->hours;
	tm.tm_min = c->minutes;
	tm.tm_sec = c->seconds;
	tm.tm_isdst = -1;
	struct tm other = tm;
	time_t t = mktime(&tm);
	/* A wall time that happens twice (DST ends) is the first of the two,
	 * as a JS Date takes it. */
	other.tm_isdst = tm.tm_isdst > 0 ? 0 : 1;
	time_t t2 = mktime(&other);
	struct tm back;
	if (t != (time_t)-1 && t2 != (time_t)-1 && t2 < t && localtime_r(&t2, &back) != NULL &&
	    back.tm_hour == tm.tm_hour && back.tm_min == tm.tm_min && back.tm_mday == tm.tm_mday)
		return t2;
	return t;
}

static void cd_from(struct cdate *c, time_t t)
{
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL)
		memset(&tm, 0, sizeof(tm));
	*c = (struct cdate){tm.tm_year + 1900, tm.tm_mon, tm.tm_mday,
	                    tm.tm_hour,        tm.tm_min, tm.tm_sec};
}

static int cd_weekday(const struct cdate *c)
{
	time_t t = cd_time(c);
	struct tm tm;
	if (localtime_r(&t, &tm) == NULL)
		return 0;
	return tm.tm_wday;
}

enum { F_SEC, F_MIN, F_HOUR, F_DAY, F_MON, F_YEAR };

static int *cd_field(struct cdate *c, int f)
{
	switch (f) {
	case F_SEC:
		return &c->seconds;
	case F_MIN:
		return &c->minutes;
	case F_HOUR:
		return &c->hours;
	case F_DAY:
		return &c->days;
	case F_MON:
		return &c->months;
	default:
		return &c->years;
	}
}

static const bool *pat_field(const struct sched *s, int f, int *len)
{
	switch (f) {
	case F_SEC:
		*len = 60;
		return s->sec;
	case F_MIN:
		*len = 60;
		return s->min;
	case F_HOUR:
		*len = 24;
		return s->hour;
	case F_DAY:
		*len = 31;
		return s->dom;
	default:
		*len = 12;
		return s->mon;
	}
}

/* The work list of croner's increment(): the field, the one to carry
 * into, and the pattern's index offset. */
static const int todo[5][3] = {
    {F_SEC, F_MIN, 0},  {F_MIN, F_HOUR, 0}, {F_HOUR, F_DAY, 0},
    {F_DAY, F_MON, -1}, {F_MON, F_YEAR, 0},
};

/* croner's findNext: from the field's value (or from 0 when from_zero),
 * the next allowed one. */
static bool find_next(struct cdate *c, const struct sched *s, int f, int offset, bool from_zero)
{
	int len;
	const bool *pat = pat_field(s, f, &len);
	int *v = cd_field(c, f);
	int start = from_zero ? offset : *v + offset;
	for (int i = start < 0 ? 0 : start; i < len; i++) {
		if (pat[i]) {
			*v = i - offset;
			return true;
		}
	}
	return false;
}

static void reset_previous(struct cdate *c, const struct sched *s, int *doing, int offset)
{
	while (*doing + offset >= 0) {
		find_next(c, s, todo[*doing + offset][0], todo[*doing + offset][2], true);
		(*doing)--;
	}
}

/*
 * croner 4.1.97's CronDate.prototype.increment, step for step (the
 * recursion "run again without incrementing" is the outer loop). One
 * quirk kept on purpose, since it is when PM2 really fires: when the
 * weekday does not match, the day moves on but the time of day is not
 * reset (its resetPrevious() is called without an offset and does
 * nothing), so "* * * * 2" seen on a Friday at 10:48 fires next on
 * Tuesday at 10:49, not at 00:00.
 */
static int croner_next(const struct sched *s, struct cdate *c, int max_year)
{
	c->seconds += 1;
	for (int rounds = 0; rounds < 100000; rounds++) {
		time_t orig = cd_time(c);
		int doing = 0;
		/* Bounded, whatever the sets: each pass moves a field on. */
		for (int guard = 0; doing < 5; guard++) {
			if (guard > 10000)
				return -1;
			int f = todo[doing][0];
			int cur = *cd_field(c, f);
			if (!find_next(c, s, f, todo[doing][2], false)) {
				(*cd_field(c, todo[doing][1]))++;
				reset_previous(c, s, &doing, 0);
			} else if (cur != *cd_field(c, f)) {
				reset_previous(c, s, &doing, -1);
			}
			if (c->years >= 4000 || c->years > max_year)
				return -1;
			doing++;
		}
		for (int k = 0; k < 14 && !s->dow[cd_weekday(c)]; k++)
			c->days += 1;
		if (!s->dow[cd_weekday(c)])
			return -1;
		if (orig == cd_time(c))
			return 0;
		cd_from(c, cd_time(c)); /* apply(), then again */
	}
	return -1;
}

int cron_next(const char *expr, int64_t after_ms, int64_t *next_ms)
{
	struct sched s;
	if (expr == NULL || !sched_parse(expr, &s))
		return -1;
	/* croner: milliseconds dropped, one second on (in croner_next). */
	time_t t = (time_t)(after_ms >= 0 ? after_ms / 1000 : (after_ms - 999) / 1000);
	struct cdate c;
	cd_from(&c, t);
	if (croner_next(&s, &c, c.years + 50) < 0)
		return -1;
	time_t when = cd_time(&c);
	if (when == (time_t)-1 || when <= t)
		return -1;
	*next_ms = (int64_t)when * 1000;
	return 0;
}

void cron_next_text(int64_t next_ms, int64_t now_ms, char *buf, size_t size)
{
	if (size == 0)
		return;
	if (next_ms <= now_ms) {
		snprintf(buf, size, "due");
		return;
	}
	int64_t s = (next_ms - now_ms + 999) / 1000;
	char rel[40];
	if (s < 60)
		snprintf(rel, sizeof(rel), "%llds", (long long)s);
	else if (s < 3600)
		snprintf(rel, sizeof(rel), "%lldm %llds", (long long)(s / 60), (long long)(s % 60));
	else if (s < 86400)
		snprintf(rel, sizeof(rel), "%lldh %lldm", (long long)(s / 3600),
		         (long long)(s % 3600 / 60));
	else
		snprintf(rel, sizeof(rel), "%lldd %lldh", (long long)(s / 86400),
		         (long long)(s % 86400 / 3600));
	time_t t = (time_t)(next_ms / 1000);
	struct tm tm;
	char at[32] = "?";
	if (localtime_r(&t, &tm) != NULL)
		strftime(at, sizeof(at), s < 86400 ? "%H:%M:%S" : "%b %d %H:%M", &tm);
	snprintf(buf, size, "in %s (%s)", rel, at);
}
