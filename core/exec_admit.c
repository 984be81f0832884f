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
#include "fleet_admit.h"
#include "fleet_route.h"
#include "fleet_tasks.h"
#include "log.h"
#include "loop.h"
#include "util.h"

_Static_assert(FLEET_ADMIT_DEFAULT_TTL_MS == EXEC_DEFAULT_TTL_MS,
	       "a sender and an executor keep a command's once key equally long");

#define QUEUE_MAX_BYTES (64u << 20) /* what waits for Redis, at most */

struct admit_ctx {
	struct fleet *f;
	char *data;
	size_t len;
};

/*
 * A signed message's admission (docs/security.md, "Replays"): as the
 * shared script (fleet_admit.c), and when the once key is there and was set
 * more than ARGV[4] ms ago by Redis's clock, this copy is not the fleet's
 * executors receiving one PUBLISH, nor a sender admitting before it
 * publishes: it is the message sent again, a replay. The first executor to
 * set KEYS[3] (for a second: every executor runs this for the same
 * PUBLISH) answers it; the script says so with "replay". As in the shared
 * script, the once key is set before the XADD and taken back when the XADD
 * is refused, so that an ACL refusing either never leaves an entry
 * without its once key (admitted twice) behind.
 */
static const char admit_signed_lua[] =
	"if redis.replicate_commands then redis.replicate_commands() end "
	"local v = redis.call('GET', KEYS[1]) "
	"local t = redis.call('TIME') "
	"local now = t[1] * 1000 + math.floor(t[2] / 1000) "
	"if v then "
	"  local at = tonumber(v) "
	"  if at and now - at > tonumber(ARGV[4]) and "
	"     redis.call('SET', KEYS[3], '1', 'NX', 'PX', '1000') then return 'replay' end "
	"  return false "
	"end "
	"redis.call('SET', KEYS[1], now, 'PX', ARGV[1]) "
	"local id = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[2]) "
	"if type(id) == 'table' and id.err then redis.pcall('DEL', KEYS[1]) return id end "
	"return id";
#define REPLAY_AFTER_MS "2000"

/* A replayed signed message, answered by the executor that won the
 * script's replied key: with the request_id inside, and audited. */
static void answer_replay(struct executor *ex, const char *data, size_t len)
{
	char *inner = NULL;
	size_t ilen = 0;
	exec_auth_inner(data, len, &inner, &ilen);
	struct envelope env;
	char err[300];
	codec_decode_command(inner ? inner : data, inner ? ilen : len, &env, err, sizeof(err));
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	const char *msg = "this signed command was accepted already (a replay); nothing was done";
	struct exec_auth_id id = {0};
	struct exec_auth_req *r = exec_auth_req_new(ex, &id, V_STATUS, name, &env, NULL);
	exec_auth_audit(ex, r, env.verb ? env.verb : "message", false, "replay", NULL, msg);
	exec_auth_req_free(r);
	struct status_msg st = {
		.task_name = name,
		.status = "replay",
		.pm_id = -1,
		.request_id = env.request_id,
		.verb = env.verb,
		.node = ex->cfg->node,
		.agent_id = env.agent_id,
		.error = msg,
	};
	exec_publish(ex, codec_status_json(&st, util_wall_ms()));
	codec_envelope_free(&env);
	free(inner);
}

static void on_admitted(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct admit_ctx *a = arg;
	if (r != NULL && r->type == REDIS_REPLY_STRING && strcmp(r->str, "replay") == 0) {
		answer_replay(a->f->ex, a->data, a->len);
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR &&
	    fleet_admit_refused_for_good(r->str)) {
		/* Streams refused for good: this message is carried out here,
		 * at once (and so are the next ones: the fleet is off). */
		fleet_fall_back(a->f, r);
		exec_intake(a->f->ex, a->data, a->len, NULL);
	} else if (r != NULL && r->type == REDIS_REPLY_ERROR) {
		/* LOADING, BUSY, OOM, READONLY: admitted again within a second
		 * (fleet_flush_admissions). Carried out here at once, it would
		 * run once on every executor that got the PUBLISH. */
		fleet_fall_back(a->f, r); /* says "trying again" */
		fleet_queue_admission(a->f, a->data, a->len);
	} else if (r == NULL) {
		/* The connection went before Redis answered: admit it again
		 * once it is back (the once key drops it if it was in). */
		fleet_queue_admission(a->f, a->data, a->len);
	}
	free(a->data);
	free(a);
}

/* A message to admit once the publish connection is back: the once key
 * makes a second admission of the same message harmless. */
void fleet_queue_admission(struct fleet *f, const char *data, size_t len)
{
	if (f->nqueued >= 10000 || f->queued_bytes + len > QUEUE_MAX_BYTES) {
		if (!f->queue_full_said)
			log_error("fleet: 10000 commands (or 64 MiB) wait for Redis; dropping more (other "
				  "executors of the fleet may still admit them)");
		f->queue_full_said = true;
		return;
	}
	f->queue_full_said = false;
	f->queued = xrealloc(f->queued, (f->nqueued + 1) * sizeof(char *));
	f->queued_len = xrealloc(f->queued_len, (f->nqueued + 1) * sizeof(size_t));
	f->queued[f->nqueued] = xstrndup(data, len);
	f->queued_len[f->nqueued++] = len;
	f->queued_bytes += len;
}

bool exec_fleet_admit(struct executor *ex, const char *data, size_t len)
{
	struct fleet *f = ex->fleet;
	if (f == NULL || !f->usable)
		return false;
	/* Too big to be a command: the intake refuses it here (rate-limited),
	 * and it never reaches the streams. */
	if (len > CODEC_MAX_MESSAGE)
		return false;
	if (!bus_can_command(ex->bus)) {
		fleet_queue_admission(f, data, len);
		return true;
	}
	/* The script and the once-key rule are the senders' too
	 * (fleet_admit.c): a command `tasker send` admitted already is found
	 * by its once key here, and this copy of its PUBLISH dropped. */
	struct fleet_admit adm;
	fleet_admit_build(&adm, f->prefix, data, len);
	struct admit_ctx *a = xmalloc(sizeof(*a));
	*a = (struct admit_ctx){f, xstrndup(data, len), len};
	int rc;
	if (strstr(adm.once_key, "once:sig:") != NULL) {
		/* Its once key is once:sig:<replay id> (fleet_admit.c). */
		char *replied = xasprintf("%sreplied:%s", f->prefix,
					  strstr(adm.once_key, "once:sig:") + 9);
		const char *argv[10] = {"EVAL", admit_signed_lua, "3", adm.once_key,
					adm.commands_key, replied, adm.ttl, data,
					FLEET_ADMIT_MAXLEN, REPLAY_AFTER_MS};
		size_t lens[10];
		for (int i = 0; i < 10; i++)
			lens[i] = i == 7 ? len : strlen(argv[i]);
		rc = bus_command(ex->bus, 10, argv, lens, on_admitted, a);
		free(replied);
	} else {
		rc = bus_command(ex->bus, FLEET_ADMIT_ARGC, adm.argv, adm.lens, on_admitted, a);
	}
	fleet_admit_free(&adm);
	if (rc < 0) {
		free(a->data);
		free(a);
		return false;
	}
	return true;
}

/* Admits the messages that wait (Redis was away, or refused for a moment):
 * from the bus coming back, and from the view's tick every second. */
void fleet_flush_admissions(struct fleet *f)
{
	if (f->nqueued == 0 || !bus_can_command(f->ex->bus))
		return;
	char **q = f->queued;
	size_t *ql = f->queued_len, n = f->nqueued;
	f->queued = NULL;
	f->queued_len = NULL;
	f->nqueued = 0;
	f->queued_bytes = 0;
	for (size_t i = 0; i < n; i++) {
		/* The fleet fell back meanwhile: carried out here, as it came. */
		if (!exec_fleet_admit(f->ex, q[i], ql[i]))
			exec_intake(f->ex, q[i], ql[i], NULL);
		free(q[i]);
	}
	free(q);
	free(ql);
}
