/*
 * fleet_admit: the one definition of admission into a fleet's intake
 * stream (docs/fleet.md, "Admission"), shared by the executors (which
 * admit what they receive by pub/sub, core/exec_admit.c) and the senders
 * (`tasker send`, the console), which admit their commands themselves
 * before they publish them.
 *
 * A message is admitted by one script: SET <prefix>once:<id> NX PX <ttl>,
 * and only if that succeeded XADD <prefix>commands. <id> is the message's
 * request_id, else "~" and a 64-bit FNV-1a digest of its bytes; ttl is the
 * command's params.ttl (FLEET_ADMIT_DEFAULT_TTL_MS when absent or bad). So
 * the same bytes, or the same request_id, admitted by a sender and then by
 * every executor that receives its PUBLISH, go into the stream once.
 *
 * Pure: builds key names and the command's argv, and reads a reply; does
 * no IO (the caller sends the command on its own connection).
 */
#ifndef TASKER_FLEET_ADMIT_H
#define TASKER_FLEET_ADMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct redisReply;

/* params.ttl when a command has none: the executor's default
 * (EXEC_DEFAULT_TTL_MS, checked equal where both are seen). */
#define FLEET_ADMIT_DEFAULT_TTL_MS 60000
/* XADD ... MAXLEN ~ of the fleet's streams. */
#define FLEET_ADMIT_MAXLEN "100000"
#define FLEET_ADMIT_ARGC 8

extern const char fleet_admit_lua[];

/* "b00t:{tasker}:<channel>:", the prefix of a fleet's keys; caller frees. */
char *fleet_admit_prefix(const char *channel);

/*
 * The once key of data[0..len) under prefix, and in *ttl_ms how long it is
 * kept (the command's ttl). Any bytes are fine (garbage gets a digest).
 * Caller frees.
 */
char *fleet_admit_once_key(const char *prefix, const char *data, size_t len, int64_t *ttl_ms);

/* The EVAL that admits one message. argv points into this struct and into
 * the message: both must live until the command is sent (hiredis copies
 * the arguments when it is queued). */
struct fleet_admit {
	const char *argv[FLEET_ADMIT_ARGC];
	size_t lens[FLEET_ADMIT_ARGC];
	char *once_key;	    /* owned */
	char *commands_key; /* owned */
	char ttl[24];	    /* milliseconds, as text */
	int64_t ttl_ms;
};

/* Fills a for data[0..len) and the fleet whose keys start with prefix.
 * Release with fleet_admit_free(). */
void fleet_admit_build(struct fleet_admit *a, const char *prefix, const char *data, size_t len);
void fleet_admit_free(struct fleet_admit *a);

enum fleet_admit_outcome {
	FLEET_ADMITTED,	   /* appended to the intake: durable from now on */
	FLEET_TAKEN,	   /* the once key was there: admitted already */
	FLEET_LOST,	   /* no reply (the connection went): it may be in or not */
	FLEET_REFUSED,	   /* refused for good: NOPERM, an unknown command, NOSCRIPT */
	FLEET_REFUSED_NOW, /* a passing refusal (LOADING, BUSY, OOM, READONLY...) */
};

/* What the script's reply r (NULL: none) means. A reply of a type the
 * script cannot give counts as refused for good. */
enum fleet_admit_outcome fleet_admit_outcome(const struct redisReply *r);

/* Whether a Redis error text means the scripts or the streams are refused
 * for good (an old Redis, an ACL without them), not for a moment. */
bool fleet_admit_refused_for_good(const char *error);

#endif
