/*
 * local_addr: how the tools find the private Redis of a running `tasker
 * --local` console. The console writes a small JSON file,
 *
 *   $XDG_RUNTIME_DIR/tasker/local.json   (else /tmp/tasker-<uid>/local.json)
 *   {"url":"unix:///run/user/1000/tasker/redis-4242.sock","pid":4242,
 *    "start":"123456"}
 *
 * ("start": the console's start time, /proc/PID/stat field 22: a file
 * whose pid was reused by another process is stale too)
 * in its private directory (0700, ours) and removes it at exit. A tool
 * given no address (no --redis, no REDIS_URL) whose default address does
 * not answer reads it: a file naming a dead pid, or a Redis that does not
 * answer, is ignored. Reading never trusts the file more than its
 * directory: both must belong to us and be closed to others.
 */
#ifndef TASKER_LOCAL_ADDR_H
#define TASKER_LOCAL_ADDR_H

#include <stdbool.h>
#include <stddef.h>

#include "redis_url.h"

/* The private directory of this user's --local consoles; malloc'd, the
 * caller frees. Not created here. */
char *local_addr_dir(void);

/* Pure: the file's text to the URL and pid. 0, or -1 when the text is not
 * such a file (bad JSON, missing fields, a pid out of range). */
int local_addr_parse(const char *text, char *url, size_t urlsize, long *pid);

/* Writes DIR/local.json for the console of pid (atomically: a temporary
 * file renamed). -1 with err. */
int local_addr_write(const char *dir, const char *url, long pid, char *err, size_t errlen);

/* Removes DIR/local.json if it still names pid (a later console's file
 * stays). */
void local_addr_remove(const char *dir, long pid);

/* Reads this user's file: 0 with the URL and pid of a live console, -1
 * when there is none (no file, a stale one, an unsafe one). */
int local_addr_find(char *url, size_t urlsize, long *pid);

/* Whether a Redis server is there at url: it takes the connection and
 * answers PING with anything (an error too: NOAUTH, LOADING, BUSY), or is
 * too busy to answer within 300 ms. Blocking: for one-shot tools before
 * their loop. */
bool local_addr_answers(const struct redis_url *url);

#endif
