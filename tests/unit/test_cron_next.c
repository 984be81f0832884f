/*
 * Unit tests for core/cron_next.c: the next fire time of a schedule as PM2
 * 7's croner 4.1.97 computes it, in UTC (TZ=UTC here: no DST). Each
 * expected time below was computed by that croner itself
 * (Cron(pattern, {paused: true}).next(from)) from .deps/node_modules; the
 * same comparison over 400 random schedules in UTC, Europe/Berlin and
 * America/New_York agreed on every one when this was written.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron_check.h"
#include "cron_next.h"

struct ccase {
	const char *expr;
	long long from, want; /* epoch ms; want -1: never */
};

static const struct ccase cases[] = {
    {"*/5 * * * *", 1769903910000LL,
     1769904000000LL}, /* 2026-01-31T23:58:30Z -> 2026-02-01T00:00:00.000Z */
    {"0 0 31 * *", 1769904000000LL,
     1774915200000LL}, /* 2026-02-01T00:00:00Z -> 2026-03-31T00:00:00.000Z */
    {"0 12 29 2 *", 1772323200000LL,
     1835438400000LL}, /* 2026-03-01T00:00:00Z -> 2028-02-29T12:00:00.000Z */
    {"0 0 * * sun", 1796083200000LL,
     1796515200000LL}, /* 2026-12-01T00:00:00Z -> 2026-12-06T00:00:00.000Z */
    {"30 6 * * MON-fri", 1796367600000LL,
     1796625000000LL}, /* 2026-12-04T07:00:00Z -> 2026-12-07T06:30:00.000Z */
    {"0 0 13 * 5", 1767225600000LL,
     1770940800000LL}, /* 2026-01-01T00:00:00Z -> 2026-02-13T00:00:00.000Z */
    {"10-50/10 * * * *", 1767228600000LL,
     1767229800000LL}, /* 2026-01-01T00:50:00Z -> 2026-01-01T01:10:00.000Z */
    {"*/2 * * * * *", 1767225600500LL,
     1767225602000LL}, /* 2026-01-01T00:00:00.500Z -> 2026-01-01T00:00:02.000Z */
    {"0 0 1/2 * *", 1767225600000LL,
     1767312000000LL}, /* 2026-01-01T00:00:00Z -> 2026-01-02T00:00:00.000Z */
    {"0 0 0 1 1 0", 1767225600000LL,
     2019686400000LL}, /* 2026-01-01T00:00:00Z -> 2034-01-01T00:00:00.000Z */
    {"59 23 31 12 *", 1798761540000LL,
     1830297540000LL},                     /* 2026-12-31T23:59:00Z -> 2027-12-31T23:59:00.000Z */
    {"0 0 30 2 *", 1767225600000LL, -1LL}, /* 2026-01-01T00:00:00Z -> null */
    {"0 9 * jan,jul *", 1769904000000LL,
     1782896400000LL}, /* 2026-02-01T00:00:00Z -> 2026-07-01T09:00:00.000Z */
    {"15 14 1 * *", 1777561200000LL,
     1777644900000LL}, /* 2026-04-30T15:00:00Z -> 2026-05-01T14:15:00.000Z */
    {"0 0 * * 7", 1796083200000LL,
     1796515200000LL}, /* 2026-12-01T00:00:00Z -> 2026-12-06T00:00:00.000Z */
    {"0 0 * */3 *", 1771113600000LL,
     1775001600000LL}, /* 2026-02-15T00:00:00Z -> 2026-04-01T00:00:00.000Z */
    {"0 0 * 2/3 *", 1768435200000LL,
     1772323200000LL}, /* 2026-01-15T00:00:00Z -> 2026-03-01T00:00:00.000Z */
    {"0,30 8-10 * * *", 1782815400000LL,
     1782892800000LL}, /* 2026-06-30T10:30:00Z -> 2026-07-01T08:00:00.000Z */
    {"0 0 29 * *", 1801440000000LL,
     1806278400000LL}, /* 2027-02-01T00:00:00Z -> 2027-03-29T00:00:00.000Z */
    {"5 4 * * 0-6/2", 1796101200000LL,
     1796270700000LL}, /* 2026-12-01T05:00:00Z -> 2026-12-03T04:05:00.000Z */
    {"* 29 */20 * * 6", 1712755519000LL,
     1713040140000LL}, /* 2024-04-10T13:25:19Z -> 2024-04-13T20:29:00.000Z */
    {"* * * * 2,3", 1825411739000LL,
     1825757340000LL}, /* 2027-11-05T10:48:59Z -> 2027-11-09T10:49:00.000Z */
    {"38,57 */24 12-21 5-29 * 4-7", 1707921504000LL,
     1708008518000LL}, /* 2024-02-14T14:38:24Z -> 2024-02-15T14:48:38.000Z */
};

static void croner_times(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int64_t got = 0;
		int rc = cron_next(cases[i].expr, cases[i].from, &got);
		if (cases[i].want < 0) {
			if (rc == 0)
				fail_msg("\"%s\" from %lld: %lld, want never", cases[i].expr,
				         cases[i].from, (long long)got);
			continue;
		}
		if (rc != 0 || got != cases[i].want)
			fail_msg("\"%s\" from %lld: rc %d, %lld, want %lld", cases[i].expr,
			         cases[i].from, rc, (long long)got, cases[i].want);
	}
}

static void strictly_after(void **state)
{
	(void)state;
	int64_t got = 0;
	/* Exactly on a fire time: the next one, not the same. */
	assert_int_equal(cron_next("*/5 * * * *", 1769904000000LL, &got), 0);
	assert_true(got == 1769904300000LL);
	/* Milliseconds are dropped, as croner does. */
	assert_int_equal(cron_next("* * * * * *", 1769904000999LL, &got), 0);
	assert_true(got == 1769904001000LL);
	/* Feb 29 from Feb 29 itself: four years on. 2028-02-29T12:00Z */
	assert_int_equal(cron_next("0 12 29 2 *", 1835438400000LL, &got), 0);
	assert_true(got == 1961668800000LL); /* 2032-02-29T12:00Z */
}

static void refused(void **state)
{
	(void)state;
	int64_t got = 0;
	assert_int_equal(cron_next(NULL, 0, &got), -1);
	assert_int_equal(cron_next("", 0, &got), -1);
	assert_int_equal(cron_next("* * * *", 0, &got), -1);
	assert_int_equal(cron_next("0 0 L * *", 0, &got), -1);
	/* croner 4.1 throws on these in PM2's daemon: cron_check refuses them. */
	char err[300];
	assert_int_equal(cron_check("1-5,10 * * * *", err, sizeof(err)), -1);
	assert_non_null(strstr(err, "comma list"));
	assert_int_equal(cron_check("*/5,7 * * * *", err, sizeof(err)), -1);
	assert_int_equal(cron_next("1-5,10 * * * *", 0, &got), -1);
	/* A field matching nothing (croner counts N of N/STEP from 0 in the
	 * day-of-month field): refused at once, not searched for ever. */
	assert_string_equal(cron_empty_field("0 0 31/2 * *"), "day-of-month");
	assert_string_equal(cron_empty_field("0 0 1 12/2 *"), "month");
	assert_null(cron_empty_field("0 0 30/2 * *"));
	assert_int_equal(cron_next("0 0 31/2 * *", 0, &got), -1);
	assert_int_equal(cron_next("0 0 30/2 * *", 0, &got), 0);
}

int main(void)
{
	setenv("TZ", "UTC", 1);
	tzset();
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(croner_times),
	    cmocka_unit_test(strictly_after),
	    cmocka_unit_test(refused),
	};
	UNIT_RUN("cron_next", tests);
}
