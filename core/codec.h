/*
 * codec: the JSON messages on the bus (see docs/protocol.md).
 *
 * Command envelopes, inbound and outbound, and status messages. Pure: no IO
 * and no clock (callers pass the time in). Decoding is liberal where that is
 * safe (numbers and booleans as param strings, ISO or epoch timestamps,
 * unknown keys ignored) and strict where it is not (anything malformed is a
 * distinct, human-readable error).
 */
#ifndef TASKER_CODEC_H
#define TASKER_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <cjson/cJSON.h>

#include "slash.h"

/* The largest message decoded; anything bigger is refused unread. */
#define CODEC_MAX_MESSAGE (64 * 1024)

/* The JSON type a param value had on the wire (values are kept as text). */
enum codec_kind { CODEC_STRING, CODEC_NUMBER, CODEC_BOOL };

/* A decoded command. Every string is owned; free with codec_envelope_free(). */
struct envelope {
	char *verb; /* lowercased, without '/'; NULL when absent */
	struct slash_param *params;
	size_t nparams;
	enum codec_kind *kinds; /* kinds[i]: the wire type of params[i] */
	char **args_array; /* params.args given as a JSON array; NULL otherwise */
	size_t nargs_array;
	char *content; /* NULL when absent */
	bool has_timestamp;
	int64_t timestamp_ms; /* wall clock, ms since the epoch */
	char *agent_id;	      /* NULL when absent */
	char *request_id;     /* NULL when absent */
};

/*
 * Decodes buf[0..len). Returns 0, or -1 with a sentence in err. Even on
 * failure, out holds whatever could be read safely (request_id, agent_id,
 * verb), so that the error reply reaches the right sender; always call
 * codec_envelope_free().
 */
int codec_decode_command(const char *buf, size_t len, struct envelope *out, char *err,
			 size_t errlen);
void codec_envelope_free(struct envelope *env);
/* The value of params[key], or NULL. */
const char *codec_param(const struct envelope *env, const char *key);
/* The wire type of params[key]; CODEC_STRING when absent. */
enum codec_kind codec_param_kind(const struct envelope *env, const char *key);
/* "a string", "a number", "a boolean": for error sentences. */
const char *codec_kind_name(enum codec_kind kind);

/*
 * Encodes a parsed slash line as a command envelope: verb without '/',
 * params always an object, content only when non-empty, ISO timestamp
 * (UTC), agent_id and request_id. The line must have a verb. Returns a
 * malloc'd string the caller frees.
 */
char *codec_encode_command(const struct slash_line *line, const char *agent_id,
			   const char *request_id, int64_t wall_ms);

/* A status message going out. NULL fields and pm_id < 0 are left out. */
struct status_msg {
	const char *type; /* NULL: "task_status" */
	const char *task_name;
	const char *status;
	long pm_id;
	const char *request_id;
	const char *verb;
	const char *node;
	const char *agent_id;
	const char *error;
};

/* Builds the JSON object; the caller may add fields, then prints and
 * deletes it (cJSON_Delete). */
cJSON *codec_status_json(const struct status_msg *st, int64_t wall_ms);
/* Builds and prints; returns a malloc'd string the caller frees. */
char *codec_encode_status(const struct status_msg *st, int64_t wall_ms);

/* A status message coming in, for watchers. Strings point into root and
 * live until codec_status_view_free(); missing fields are NULL. */
struct status_view {
	cJSON *root;
	const char *type;
	const char *task_name;
	const char *status;
	const char *error;
	const char *request_id;
	const char *verb;
	const char *node;
	const char *agent_id;
	const char *timestamp;
	long pm_id; /* -1 when absent */
};

int codec_decode_status(const char *buf, size_t len, struct status_view *out, char *err,
			size_t errlen);
void codec_status_view_free(struct status_view *view);

/*
 * A JSON number that is a whole number within [lo, hi], into *out; false
 * for anything else (not a number, a fraction, out of range, 1e300). The
 * only way to turn an untrusted JSON number into an integer: converting a
 * double out of the integer's range is undefined behaviour.
 */
bool codec_json_long(const cJSON *v, long lo, long hi, long *out);

/* The outcome of a reply: 1 success, 0 error (error, not_found, busy,
 * expired, invalid), -1 not a final outcome (a relayed PM2 event, say). */
int codec_status_outcome(const char *status);

struct pm2_proc;

/* One task of a task_list reply (and of `tasker ls --json`): name, pm_id,
 * status, pid (0 unless online), cpu, memory, uptime (ms), restarts, mode,
 * instances, and node when not NULL. The caller owns the object. */
cJSON *codec_task_json(const struct pm2_proc *p, int64_t now_ms, const char *node);

/* Parses an ISO-8601 time ("2025-11-17T15:00:00Z", fractions, +hh:mm
 * offsets) into epoch ms; -1 on failure. */
int codec_parse_iso_time(const char *s, int64_t *out_ms);

#endif
