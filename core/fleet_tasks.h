/*
 * fleet_tasks: the task table each executor keeps in Redis, so that a
 * console or `tasker ls --fleet` sees every node's tasks without a PM2 of
 * its own (docs/fleet.md).
 *
 * Key b00t:{tasker}:tasks:<node>, a string holding one JSON object:
 *   {"node":"web-2","host":"h","pid":1234,"at":"<ISO time>","count":N,
 *    "tasks":[<a task_list entry, docs/protocol.md 5.2, with its node>...]}
 * written with a TTL, so a node that stops writing disappears.
 *
 * Pure: no IO, no clock (callers pass the time in).
 */
#ifndef TASKER_FLEET_TASKS_H
#define TASKER_FLEET_TASKS_H

#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

struct pm2_proc;

#define FLEET_TASKS_PREFIX "b00t:{tasker}:tasks:"
/* The pattern that matches every node's table (for SCAN). */
#define FLEET_TASKS_MATCH FLEET_TASKS_PREFIX "*"

/* The key of node's table; a new string the caller frees. */
char *fleet_tasks_key(const char *node);

/* The table as JSON text; a new string the caller frees. */
char *fleet_tasks_encode(const struct pm2_proc *procs, size_t n, const char *node,
			 const char *host, long pid, int64_t now_ms);

/*
 * What changes a table in a way a reader cares about at once (a task
 * appears, goes, changes status or restarts), as a 64-bit digest: equal
 * digests mean only the figures (CPU, memory, uptime) moved.
 */
uint64_t fleet_tasks_digest(const struct pm2_proc *procs, size_t n);

/*
 * Reads a table written by any node (untrusted: it is whatever sits in
 * Redis). Returns the "tasks" array of the parsed root (owned by *root,
 * which the caller deletes), or NULL when the text is not a table.
 */
const cJSON *fleet_tasks_decode(const char *text, size_t len, cJSON **root);

#endif
