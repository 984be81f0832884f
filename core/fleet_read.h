/*
 * fleet_read: reading the task tables every executor keeps in Redis
 * (fleet_tasks.h), for whoever shows the fleet: `tasker ls --fleet` and
 * the console.
 *
 * Owns: turning one table (untrusted JSON from Redis) into process records
 * (struct pm2_proc, as the local PM2 listing gives them), and the blocking
 * SCAN + GET a one-shot tool uses. The console reads the same keys on its
 * own loop (tui/fleet.c) and decodes them here.
 *
 * Must not: trust a table: every field is checked, a bad one is left at
 * its zero value, a bad table is skipped.
 */
#ifndef TASKER_FLEET_READ_H
#define TASKER_FLEET_READ_H

#include <stddef.h>
#include <stdint.h>

#include "fleet_tasks.h"

struct pm2_proc;
struct redisContext;

/* Presence keys (docs/protocol.md 7): one per live executor, TTL 30 s. */
#define FLEET_PRESENCE_PREFIX "b00t:tasker:executor:"
#define FLEET_PRESENCE_MATCH FLEET_PRESENCE_PREFIX "*"

/* Longest node name an executor accepts (config.c: --node). */
#define FLEET_NODE_MAX 128

/*
 * Decodes one table text[0..len). Sets *out to a new array of *n records
 * (free with pm2_procs_free; strings never NULL, an uptime becomes
 * pm_uptime = now_ms - uptime) and returns 0; -1 when the text is not a
 * table (*out NULL, *n 0). node_out (may be NULL), size nodelen: the
 * table's "node" field, "" when absent. task_nodes (may be NULL): a new
 * array of *n new strings, each record's own "node" (else the table's),
 * which the caller frees.
 */
int fleet_read_table(const char *text, size_t len, int64_t now_ms, struct pm2_proc **out,
		     size_t *n, char *node_out, size_t nodelen, char ***task_nodes);

/* The node a key names: the part after prefix, or NULL when key does not
 * start with it or the rest is empty or too long. Points into key. */
const char *fleet_read_key_node(const char *key, size_t len, const char *prefix);

/*
 * Blocking: the tables of every node, by SCAN MATCH and GET on rc. Sets
 * *texts to a new array of *n malloc'd JSON strings (free each, then the
 * array). Returns 0, or -1 with err holding Redis's sentence.
 */
int fleet_read_sync(struct redisContext *rc, char ***texts, size_t *n, char *err, size_t errlen);

#endif
