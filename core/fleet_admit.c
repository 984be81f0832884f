/*
 * fleet_admit: admission into a fleet's intake stream, the script and the
 * once-key rule (fleet_admit.h). Pure: no IO, no clock.
 *
 * Must not: give two different keys to what an executor and a sender see
 * as the same message (the same bytes, or the same request_id).
 */
#include "fleet_admit.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "codec.h"
#include "command_check.h"
#include "sig.h"
#include "util.h"

/* The first to see a message appends it and sets its once key; the others
 * find the key and drop their copy. KEYS: once key, commands stream; ARGV:
 * ttl ms, message, MAXLEN. A script runs alone, so EXISTS then SET is as
 * good as SET NX. Redis does not undo a script that fails halfway, so
 * what an ACL may refuse comes in an order that leaves nothing behind:
 * the reads (EXISTS, TIME) first, then the once key, then the XADD; a
 * refused XADD (an ACL without streams, a Redis without them) takes the
 * once key back, so that a sender that then only publishes does not find
 * its command dropped by the executors as admitted already, and nothing
 * is ever appended without its once key (which would let the same command
 * be admitted twice). The once key holds the admission's time (Redis's
 * clock, ms): a signed command admitted again long after is a replay,
 * answered as one (exec_admit.c). */
const char fleet_admit_lua[] =
	"if redis.replicate_commands then redis.replicate_commands() end "
	"if redis.call('EXISTS', KEYS[1]) == 1 then return false end "
	"local t = redis.call('TIME') "
	"redis.call('SET', KEYS[1], t[1] * 1000 + math.floor(t[2] / 1000), 'PX', ARGV[1]) "
	"local id = redis.pcall('XADD', KEYS[2], 'MAXLEN', '~', ARGV[3], '*', 'm', ARGV[2]) "
	"if type(id) == 'table' and id.err then redis.pcall('DEL', KEYS[1]) return id end "
	"return id";

char *fleet_admit_prefix(const char *channel)
{
	return xasprintf("b00t:{tasker}:%s:", channel);
}

char *fleet_admit_once_key(const char *prefix, const char *data, size_t len, int64_t *ttl_ms)
{
	struct envelope env;
	char err[200];
	*ttl_ms = FLEET_ADMIT_DEFAULT_TTL_MS;
	/* A signed message: its replay id, kept until its window is over too,
	 * so that a copy is never admitted twice while it could be accepted. */
	struct sig_wrapper w;
	if (sig_parse_wrapper(data, len, &w, err, sizeof(err)) == 1) {
		char rid[65];
		sig_replay_id(SIG_COMMAND, &w, rid);
		char *key = xasprintf("%sonce:sig:%s", prefix, rid);
		struct envelope inner;
		int64_t ttl;
		if (codec_decode_command(w.inner, w.inner_len, &inner, err, sizeof(err)) == 0 &&
		    check_ttl(&inner, FLEET_ADMIT_DEFAULT_TTL_MS, &ttl, err, sizeof(err)) == 0)
			*ttl_ms = ttl;
		codec_envelope_free(&inner);
		sig_wrapper_free(&w);
		if (*ttl_ms < 2 * SIG_WINDOW_MS + 1000)
			*ttl_ms = 2 * SIG_WINDOW_MS + 1000;
		return key;
	}
	sig_wrapper_free(&w);
	int ok = codec_decode_command(data, len, &env, err, sizeof(err));
	char *key;
	if (env.request_id != NULL) {
		key = xasprintf("%sonce:%s", prefix, env.request_id);
	} else {
		uint64_t h = 14695981039346656037ull;
		for (size_t i = 0; i < len; i++)
			h = (h ^ (unsigned char)data[i]) * 1099511628211ull;
		key = xasprintf("%sonce:~%016llx", prefix, (unsigned long long)h);
	}
	int64_t ttl;
	/* Remembered until the command's deadline: a resend inside it is the
	 * same command, one after it would be answered expired anyway. */
	if (ok == 0 && check_ttl(&env, FLEET_ADMIT_DEFAULT_TTL_MS, &ttl, err, sizeof(err)) == 0)
		*ttl_ms = ttl;
	codec_envelope_free(&env);
	return key;
}

void fleet_admit_build(struct fleet_admit *a, const char *prefix, const char *data, size_t len)
{
	a->once_key = fleet_admit_once_key(prefix, data, len, &a->ttl_ms);
	a->commands_key = xasprintf("%scommands", prefix);
	snprintf(a->ttl, sizeof(a->ttl), "%lld", (long long)a->ttl_ms);
	const char *argv[FLEET_ADMIT_ARGC] = {"EVAL", fleet_admit_lua, "2", a->once_key,
					      a->commands_key, a->ttl, data, FLEET_ADMIT_MAXLEN};
	for (int i = 0; i < FLEET_ADMIT_ARGC; i++) {
		a->argv[i] = argv[i];
		a->lens[i] = i == 6 ? len : strlen(argv[i]);
	}
}

void fleet_admit_free(struct fleet_admit *a)
{
	free(a->once_key);
	free(a->commands_key);
	a->once_key = a->commands_key = NULL;
}

bool fleet_admit_refused_for_good(const char *error)
{
	/* An ACL refusal inside a script reads "ERR The user executing the
	 * script can't run this command or subcommand" (Redis 6.2, 7); a
	 * command an old Redis lacks, called from a script, "Unknown Redis
	 * command called from Lua script". */
	return strncmp(error, "NOPERM", 6) == 0 || strncmp(error, "NOSCRIPT", 8) == 0 ||
	       strcasestr(error, "unknown command") != NULL ||
	       strcasestr(error, "unknown redis command") != NULL ||
	       strstr(error, "can't run this command") != NULL;
}

enum fleet_admit_outcome fleet_admit_outcome(const struct redisReply *r)
{
	if (r == NULL)
		return FLEET_LOST;
	switch (r->type) {
	case REDIS_REPLY_STRING:
	case REDIS_REPLY_STATUS:
		return FLEET_ADMITTED;
	case REDIS_REPLY_NIL:
		return FLEET_TAKEN;
	case REDIS_REPLY_ERROR:
		return fleet_admit_refused_for_good(r->str) ? FLEET_REFUSED : FLEET_REFUSED_NOW;
	default:
		return FLEET_REFUSED;
	}
}
