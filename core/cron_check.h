/*
 * cron_check: a start's params.cron (docs/protocol.md, section 15) checked
 * before anything is sent to PM2 (PM2 hands it to croner inside its daemon,
 * where a bad one would be found too late). Pure: no IO.
 *
 * Accepted: 5 fields (minute hour day-of-month month day-of-week) or 6
 * (seconds first, as croner reads them); each field a comma list of `*`,
 * N, N-M, with an optional /STEP; months jan..dec and days sun..sat by
 * name. Refused: anything else (croner's L, W, #, ?, @yearly...).
 */
#ifndef TASKER_CRON_CHECK_H
#define TASKER_CRON_CHECK_H

#include <stddef.h>

#define CRON_MAX_LEN 200

/* 0 when expr is a schedule we pass to PM2, else -1 with a sentence. */
int cron_check(const char *expr, char *err, size_t errlen);

#endif
