/*
 * cron_next: when a schedule (params.cron, already passed by cron_check)
 * fires next, read the way PM2's own scheduler reads it: PM2 7 runs
 * cron_restart with croner 4.1.97 (.deps/node_modules/croner), in the
 * executor host's local time. Its rules, followed here:
 * - 5 fields (seconds then 0) or 6 (seconds first);
 * - day-of-month AND day-of-week must both match when both are restricted
 *   (croner 4.1 has no legacyMode: that OR, Vixie cron's, came in 4.2 as an
 *   option); day-of-week 7 is Sunday;
 * - N/STEP starts at N as an index: in the day-of-month and month fields
 *   that is one past N (croner 4.1 forgets their offset: "1/2" in
 *   day-of-month is the 2nd, 4th, ...);
 * - a month without the day (Feb 30) is skipped.
 * Pure: the time is given, nothing is read but the local time zone.
 */
#ifndef TASKER_CRON_NEXT_H
#define TASKER_CRON_NEXT_H

#include <stddef.h>
#include <stdint.h>

/*
 * The first time strictly after after_ms (epoch ms; whole seconds) that
 * expr matches, as epoch ms in *next_ms. 0, or -1 when expr cannot be read
 * or never fires within 30 years (e.g. "0 0 30 2 *").
 */
int cron_next(const char *expr, int64_t after_ms, int64_t *next_ms);

/* The name of the first field of expr (its form checked by cron_check)
 * that matches no value as croner 4.1 reads it ("day-of-month" for
 * "0 0 31/2 * *": croner counts N of N/STEP from 0 there), else NULL. */
const char *cron_empty_field(const char *expr);

/*
 * A next run for people, relative to now_ms: "in 3m 12s (17:05:00)", or
 * with the date when it is a day or more away ("in 2d 4h (Dec 03 17:05)"),
 * local time; "due" when it is not after now_ms. Into buf (always ended).
 */
void cron_next_text(int64_t next_ms, int64_t now_ms, char *buf, size_t size);

#endif
