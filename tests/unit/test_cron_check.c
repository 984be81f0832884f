/*
 * Unit tests for core/cron_check.c: the schedules passed to PM2, and every
 * kind of bad one refused with the field named.
 */
#include "unit.h"

#include <string.h>

#include "cron_check.h"

static void ok(const char *expr)
{
	char err[300] = "";
	if (cron_check(expr, err, sizeof(err)) != 0)
		fail_msg("\"%s\" refused: %s", expr, err);
}

static void bad(const char *expr, const char *want)
{
	char err[300] = "";
	if (cron_check(expr, err, sizeof(err)) == 0)
		fail_msg("\"%s\" accepted", expr);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\": error \"%s\" lacks \"%s\"", expr, err, want);
}

static void accepted(void **state)
{
	(void)state;
	ok("*/5 * * * *");
	ok("0 0 * * *");
	ok("0,15,30,45 8-18 * * 1-5");
	ok("0 12 1 jan,jul *");
	ok("30 6 * * MON-fri");
	ok("*/2 * * * * *");
	ok("0 0 0 1 1 0");
	ok("  5  4 * * 7 ");
	ok("10-50/10 * * * *");
}

static void refused(void **state)
{
	(void)state;
	bad("", "empty");
	bad(NULL, "empty");
	bad("* * *", "5 fields");
	bad("* * * * * * *", "more than 6");
	bad("60 * * * *", "minute field");
	bad("* 24 * * *", "hour field");
	bad("* * 0 * *", "day-of-month field");
	bad("* * * 13 *", "month field");
	bad("* * * * 8", "day-of-week field");
	bad("*/0 * * * *", "step");
	bad("5-1 * * * *", "upwards");
	bad("1,,2 * * * *", "minute field");
	bad("0 0 L * *", "day-of-month field");
	bad("0 0 * * 1#2", "day-of-week field");
	bad("@daily", "5 fields");
	bad("a * * * *", "minute field");
	bad("* * * foo *", "month field");
	/* Well formed, matching nothing as croner 4.1 reads N/STEP (croner
	 * searched for ever: the daemon hung, and so did cron_next). */
	bad("0 0 31/2 * *", "day-of-month field matches no value");
	bad("0 0 1 12/2 *", "month field matches no value");
	ok("0 0 30/2 * *");
	ok("0 0 1 11/2 *");
	bad("99999 * * * *", "minute field");
	bad("* * * * * ;rm", "day-of-week field");
	char longexpr[300];
	memset(longexpr, '*', sizeof(longexpr) - 1);
	longexpr[sizeof(longexpr) - 1] = '\0';
	bad(longexpr, "longer than");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(accepted),
	    cmocka_unit_test(refused),
	};
	UNIT_RUN("cron_check", tests);
}
