/*
 * pm2_list: reads a getMonitorData reply (PM2's process list) as its bytes
 * arrive, with yajl's streaming parser, into struct pm2_proc records.
 *
 * A listing repeats every app's whole environment twice per process (as
 * pm2_env.env and again as top-level pm2_env keys), so it grows with what
 * the apps were given, without bound: 600 instances with a 64 KB variable
 * made it larger than any sane frame limit. This parser never holds the
 * reply: it keeps the fields struct pm2_proc has and the env NAMES, never a
 * value, so its memory follows the number of processes, not the size of the
 * reply. (yajl itself holds the token it is inside, so one huge string costs
 * its size while it passes.)
 *
 * A pure module: no IO, no clock. Feed it the JSON of the reply's first
 * argument (after the "j:"), in pieces of any size, then finish it.
 */
#ifndef TASKER_PM2_LIST_H
#define TASKER_PM2_LIST_H

#include <stddef.h>

#include "pm2.h"

/* Kept per record at most; what is beyond is dropped. Generous: the
 * conf builder allows 4096 env keys and arguments. */
#define PM2_LIST_MAX_ENV_NAMES 4096
#define PM2_LIST_MAX_ARGS 4096
/* A kept string longer than this is cut (at a UTF-8 boundary). */
#define PM2_LIST_MAX_STRING 65536
/* Deeper nesting is refused as malformed: nothing PM2 sends is this deep. */
#define PM2_LIST_MAX_DEPTH 256

struct pm2_list_parser;

/* Returns a new parser; the caller frees it with pm2_list_parser_free(). */
struct pm2_list_parser *pm2_list_parser_new(void);
void pm2_list_parser_free(struct pm2_list_parser *lp);

/* Feeds the next len bytes. Returns 0, or -1 once the input is known to be
 * malformed; later feeds are then ignored and finish reports why. */
int pm2_list_parser_feed(struct pm2_list_parser *lp, const char *buf, size_t len);

/*
 * Ends the input. Returns 0 with a new array of *n records (the caller
 * frees it with pm2_procs_free(); records without a numeric pm_id are
 * skipped), or -1 with *error, a new string the caller frees: the daemon's
 * own error message, or a sentence saying why the reply could not be read.
 * The parser is spent afterwards: free it.
 */
int pm2_list_parser_finish(struct pm2_list_parser *lp, struct pm2_proc **procs, size_t *n,
                           char **error);

#endif
