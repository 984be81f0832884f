/*
 * exec_admit: pub/sub messages into the fleet's intake stream
 * (docs/fleet.md, "Admission"): the first executor to see a message sets
 * its once key and appends it, in one script; the others drop their copy.
 * Messages that arrive while Redis cannot take them wait in a queue.
 *
 * Must not: admit one message twice within its ttl, or lose one that
 * arrived while the publish connection was down.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "exec_fleet_int.h"
#include "executor_int.h"
#include "fleet_route.h"
#include "fleet_tasks.h"
#include "log.h"
#include "loop.h"
#include "util.h"

struct admit_ctx {
	struct fleet *f;
	char *data;
	size_t len;
};

static void on_admitted(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct admit_ctx *a = arg;
	if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		/* Streams refused: this message is carried out here, at once. */
		fleet_fall_back(a->f, r);
		exec_intake(a->f->ex, a->data, a->len, NULL);
	} else if (r == NULL) {
		/* The connection went before Redis answered: admit it again
		 * once it is back (the once key drops it if it was in). */
		fleet_queue_admission(a->f, a->data, a->len);
	}
	free(a->data);
	free(a);
}

/* The once key of a message: its request_id, else a digest of its bytes. */
static char *once_key(const struct fleet *f, const char *data, size_t len, int64_t *ttl_ms)
{
	struct envelope env;
	char err[64];
	*ttl_ms = EXEC_DEFAULT_TTL_MS;
	int ok = codec_decode_command(data, len, &env, err, sizeof(err));
	char *key;
	if (env.request_id != NULL) {
		key = fleet_key(f, "once:", env.request_id);
	} else {
		uint64_t h = 14695981039346656037ull;
		for (size_t i = 0; i < len; i++)
			h = (h ^ (unsigned char)data[i]) * 1099511628211ull;
		char hex[24];
		snprintf(hex, sizeof(hex), "~%016llx", (unsigned long long)h);
		key = fleet_key(f, "once:", hex);
	}
	int64_t ttl;
	if (ok == 0 && check_ttl(&env, EXEC_DEFAULT_TTL_MS, &ttl, err, sizeof(err)) == 0)
		*ttl_ms = ttl;
	codec_envelope_free(&env);
	return key;
}

/* A message to admit once the publish connection is back: the once key
 * makes a second admission of the same message harmless. */
void fleet_queue_admission(struct fleet *f, const char *data, size_t len)
{
	if (f->nqueued >= 10000) {
		if (!f->queue_full_said)
			log_error("fleet: 10000 commands wait for Redis; dropping more (other "
				  "executors of the fleet may still admit them)");
		f->queue_full_said = true;
		return;
	}
	f->queue_full_said = false;
	f->queued = xrealloc(f->queued, (f->nqueued + 1) * sizeof(char *));
	f->queued_len = xrealloc(f->queued_len, (f->nqueued + 1) * sizeof(size_t));
	f->queued[f->nqueued] = xstrndup(data, len);
	f->queued_len[f->nqueued++] = len;
}

bool exec_fleet_admit(struct executor *ex, const char *data, size_t len)
{
	struct fleet *f = ex->fleet;
	if (f == NULL || !f->usable)
		return false;
	if (!bus_can_command(ex->bus)) {
		fleet_queue_admission(f, data, len);
		return true;
	}
	int64_t ttl;
	char *key = once_key(f, data, len, &ttl);
	/* Remembered until the command's deadline: a resend inside it is the
	 * same command, one after it would be answered expired anyway. */
	char ttl_s[24];
	snprintf(ttl_s, sizeof(ttl_s), "%lld", (long long)ttl);
	const char *argv[8] = {"EVAL", fleet_admit_lua, "2", key, f->k_commands, ttl_s, NULL, STREAM_MAXLEN};
	size_t lens[8] = {4, strlen(fleet_admit_lua), 1, strlen(key), strlen(f->k_commands),
			  strlen(ttl_s), len, strlen(STREAM_MAXLEN)};
	argv[6] = data;
	struct admit_ctx *a = xmalloc(sizeof(*a));
	*a = (struct admit_ctx){f, xstrndup(data, len), len};
	int rc = bus_command(ex->bus, 8, argv, lens, on_admitted, a);
	free(key);
	if (rc < 0) {
		free(a->data);
		free(a);
		return false;
	}
	return true;
}
