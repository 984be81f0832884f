/*
 * audit: the record of every decision the executor takes about who may do
 * what (docs/security.md, "Audit"): a capped Redis stream, one entry per
 * decision, read back by `tasker audit`.
 *
 * This file owns the key, the entry format (one field "m" holding a JSON
 * object, as in the status history) and the writer. The executor decides;
 * it calls audit_write() with what it decided.
 *
 * Must not: delay or stop a command (the stream is a record, written fire
 * and forget), or log a refused write more than once per outage.
 */
#ifndef TASKER_AUDIT_H
#define TASKER_AUDIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bus.h"

/* The {tasker} hash tag keeps it in the fleet's Redis Cluster slot. */
#define AUDIT_KEY "b00t:{tasker}:audit"
#define AUDIT_MAXLEN "100000"
#define AUDIT_FIELD "m"

/* One decision. Any string may be NULL (written as null). */
struct audit_record {
	const char *node;
	const char *agent;   /* the policy's agent name; NULL: unsigned or unknown */
	const char *key;     /* the signer's key, "ed25519:..."; NULL: unsigned */
	const char *agent_id; /* the label the command carried (untrusted) */
	const char *verb;
	const char *task;
	const char *request_id;
	bool allowed;
	const char *status; /* the refusal's status ("denied", ...); NULL when allowed */
	const char *role;
	const char *reason; /* one sentence */
};

/* The entry's JSON text: {"ts":...,"time":"...","decision":"allow"|"deny",...}.
 * Caller frees. */
char *audit_encode(const struct audit_record *r, int64_t wall_ms);

/* Appends r to AUDIT_KEY (XADD MAXLEN ~ AUDIT_MAXLEN), not waiting for
 * the answer; a refusal is logged once until a write succeeds again
 * (*refused_said, the caller's, must outlive the bus's callbacks). */
void audit_write(struct bus *bus, const struct audit_record *r, int64_t wall_ms,
		 bool *refused_said);

#endif
