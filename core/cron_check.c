/*
 * cron_check: see cron_check.h. Every field is read whole: a number out of
 * its field's range, an empty list item, a step of 0, a range backwards or
 * a stray character is an error naming the field.
 */
#include "cron_check.h"
#include "cron_next.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct field {
	const char *name;
	int lo, hi;
	const char *const *names; /* 3-letter names for lo.., or NULL */
};

static const char *const months[] = {"jan", "feb", "mar", "apr", "may", "jun",
				     "jul", "aug", "sep", "oct", "nov", "dec", NULL};
static const char *const days[] = {"sun", "mon", "tue", "wed", "thu", "fri", "sat", NULL};

/* A number or a name at *p; advances it. */
static bool value(const char **p, const struct field *f, int *out)
{
	const char *s = *p;
	if (isdigit((unsigned char)*s)) {
		long v = 0;
		int digits = 0;
		while (isdigit((unsigned char)*s) && digits < 4) {
			v = v * 10 + (*s - '0');
			s++;
			digits++;
		}
		if (isdigit((unsigned char)*s))
			return false;
		*out = (int)v;
		*p = s;
		return true;
	}
	if (f->names != NULL && isalpha((unsigned char)s[0]) && isalpha((unsigned char)s[1]) &&
	    isalpha((unsigned char)s[2]) && !isalpha((unsigned char)s[3])) {
		for (int i = 0; f->names[i] != NULL; i++) {
			if (strncasecmp(s, f->names[i], 3) == 0) {
				*out = f->lo + i;
				*p = s + 3;
				return true;
			}
		}
	}
	return false;
}

static int field_check(const char *s, size_t len, const struct field *f, char *err, size_t errlen)
{
	char buf[CRON_MAX_LEN + 1];
	memcpy(buf, s, len);
	buf[len] = '\0';
	const char *p = buf;
	/* PM2 7's croner (4.1.97) throws on a comma list holding a range or
	 * a step ("1-5,10"), inside the daemon when the task starts: refused
	 * here instead. */
	if (strchr(buf, ',') != NULL && strpbrk(buf, "-/") != NULL) {
		snprintf(err, errlen,
			 "cron: %s field \"%s\": PM2's scheduler (croner 4.1) refuses a range or a "
			 "step inside a comma list: list the values (1,2,3,10) instead",
			 f->name, buf);
		return -1;
	}
	for (;;) {
		int a = f->lo, b = f->hi;
		if (*p == '*') {
			p++;
		} else {
			if (!value(&p, f, &a))
				goto bad;
			b = a;
			if (*p == '-') {
				p++;
				if (!value(&p, f, &b))
					goto bad;
			}
			if (a < f->lo || a > f->hi || b < f->lo || b > f->hi) {
				snprintf(err, errlen, "cron: %s field \"%s\": values are %d to %d",
					 f->name, buf, f->lo, f->hi);
				return -1;
			}
			if (b < a) {
				snprintf(err, errlen, "cron: %s field \"%s\": a range runs upwards",
					 f->name, buf);
				return -1;
			}
		}
		if (*p == '/') {
			p++;
			int step;
			struct field nf = {f->name, 0, 9999, NULL};
			if (!value(&p, &nf, &step) || step == 0 || step > f->hi) {
				snprintf(err, errlen, "cron: %s field \"%s\": a step is 1 to %d",
					 f->name, buf, f->hi);
				return -1;
			}
		}
		if (*p == ',') {
			p++;
			continue;
		}
		if (*p == '\0')
			return 0;
		goto bad;
	}
bad:
	snprintf(err, errlen,
		 "cron: %s field \"%s\" is not a list of *, N, N-M with an optional /STEP",
		 f->name, buf);
	return -1;
}

int cron_check(const char *expr, char *err, size_t errlen)
{
	static const struct field fields6[] = {
		{"seconds", 0, 59, NULL}, {"minute", 0, 59, NULL}, {"hour", 0, 23, NULL},
		{"day-of-month", 1, 31, NULL}, {"month", 1, 12, months}, {"day-of-week", 0, 7, days},
	};
	if (expr == NULL || expr[strspn(expr, " \t")] == '\0') {
		snprintf(err, errlen, "cron is empty (e.g. --cron=\"*/5 * * * *\")");
		return -1;
	}
	if (strlen(expr) > CRON_MAX_LEN) {
		snprintf(err, errlen, "cron is longer than %d characters", CRON_MAX_LEN);
		return -1;
	}
	const char *start[7];
	size_t len[7];
	int n = 0;
	for (const char *p = expr; *p;) {
		if (*p == ' ' || *p == '\t') {
			p++;
			continue;
		}
		if (n == 7)
			break;
		start[n] = p;
		while (*p && *p != ' ' && *p != '\t')
			p++;
		len[n] = (size_t)(p - start[n]);
		n++;
	}
	if (n != 5 && n != 6) {
		snprintf(err, errlen,
			 "cron needs 5 fields (minute hour day-of-month month day-of-week) or 6 "
			 "(seconds first), not %s%d",
			 n == 7 ? "more than " : "", n == 7 ? 6 : n);
		return -1;
	}
	const struct field *f = n == 6 ? fields6 : fields6 + 1;
	for (int i = 0; i < n; i++)
		if (field_check(start[i], len[i], &f[i], err, errlen) < 0)
			return -1;
	/* Well formed, and yet matching nothing as croner reads it: PM2's
	 * scheduler would search for a time for ever, in its daemon. */
	const char *empty = cron_empty_field(expr);
	if (empty != NULL) {
		snprintf(err, errlen,
			 "cron's %s field matches no value as PM2's scheduler (croner 4.1) reads "
			 "it (in N/STEP it counts N from 0 in the day-of-month and month fields: "
			 "31/2 or 12/2 match nothing)",
			 empty);
		return -1;
	}
	return 0;
}
