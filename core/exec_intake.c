/*
 * exec_intake: a message from the command channel, up to the moment it
 * becomes a command (exec_command.c) or is refused with a reply: who sent
 * it (a signed wrapper verified, exec_auth.c), decoding, resends of a
 * request_id already taken, replays, shutdown, the verb, the 1000 commands
 * an executor holds ("busy"), the per-value rules (command_check.c),
 * expiry, the policy (all but the target's owner, which exec_command.c
 * judges), and a start checked into its PM2 definition with its owner
 * recorded, so that nothing changes for a refused start.
 *
 * Must not: refuse a well-formed command without a reply (only garbage and
 * unauthenticated messages are rate-limited), or remember a request_id that
 * was not taken.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "command_target.h"
#include "datum.h"
#include "deps.h"
#include "executor_int.h"
#include "log.h"
#include "metrics_exec.h"
#include "loop.h"
#include "pm2_conf.h"
#include "util.h"

#define ERROR_BUCKET 20	    /* error replies to garbage: burst */
#define ERROR_REFILL_MS 100 /* one more token every 100 ms: 10 per second */

int exec_verb_parse(const char *word, enum verb *out)
{
	static const struct {
		const char *word;
		enum verb verb;
	} table[] = {
		{"start", V_START},   {"run", V_START},	    {"stop", V_STOP},	  {"restart", V_RESTART},
		{"delete", V_DELETE}, {"remove", V_DELETE}, {"status", V_STATUS}, {"list", V_STATUS},
		{"ps", V_STATUS},     {"logs", V_LOGS},	    {"result", V_RESULT},
	};
	for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
		if (strcmp(word, table[i].word) == 0) {
			*out = table[i].verb;
			return 0;
		}
	}
	return -1;
}

/* An error reply for a message that never became a command. Rate-limited
 * when limited: garbage on the channel must not become a flood on the
 * status channel. A well-formed command is never limited. */
static void reply_refused(struct executor *ex, const struct exec_entry *entry,
			  const struct envelope *env, const char *verb, const char *task,
			  const char *status, const char *error, bool limited)
{
	metrics_exec_command(ex, verb, status, 0);
	if (limited) {
		int64_t now = loop_now(ex->loop);
		int64_t refill = (now - ex->tokens_at) / ERROR_REFILL_MS;
		if (refill > 0) {
			ex->tokens = (int)(ex->tokens + refill > ERROR_BUCKET ? ERROR_BUCKET
									      : ex->tokens + refill);
			ex->tokens_at = now;
		}
		if (ex->tokens == 0) {
			/* Neither a reply nor a log line each: garbage must not
			 * flood the channel or the log. */
			if (ex->suppressed++ % 1000 == 0)
				log_warn("refusing malformed messages without replies (rate limit); "
					 "%lu so far, latest: %s",
					 ex->suppressed, error);
			if (entry != NULL)
				exec_fleet_ack(ex, entry);
			return;
		}
		ex->tokens--;
	}
	log_warn("refused %s%s%s: %s", verb ? verb : "message", task ? " " : "", task ? task : "",
		 error);
	/* A command by pm_id (its key "#N") is refused before its name is
	 * known: the reply says the pm_id, and no name. */
	long pm_key = command_pm_key(task);
	struct status_msg st = {
		.task_name = pm_key >= 0 ? NULL : task,
		.status = status,
		.pm_id = pm_key,
		.request_id = env ? env->request_id : NULL,
		.verb = verb,
		.node = ex->cfg->node,
		.agent_id = env ? env->agent_id : NULL,
		.error = error,
	};
	cJSON *obj = codec_status_json(&st, util_wall_ms());
	if (entry != NULL)
		exec_fleet_reply(ex, entry, obj, NULL, "", env ? env->request_id : NULL);
	else
		exec_publish(ex, obj);
}

void exec_commands_init(struct executor *ex)
{
	ex->tokens = ERROR_BUCKET;
}


/* --- intake ---------------------------------------------------------------- */

static bool seen_before(const struct executor *ex, const char *id)
{
	for (size_t i = 0; i < SEEN_IDS; i++)
		if (ex->seen[i] != NULL && strcmp(ex->seen[i], id) == 0)
			return true;
	return false;
}

/* A command taken is remembered at once, so that a resend arriving while
 * it runs is dropped; reply_and_finish forgets it again when it was not
 * carried out after all (expired, or failed before reaching PM2). One
 * refused at the door (busy, invalid) is never remembered. */
void exec_remember(struct executor *ex, const char *id)
{
	free(ex->seen[ex->seen_next]);
	ex->seen[ex->seen_next] = xstrdup(id);
	ex->seen_next = (ex->seen_next + 1) % SEEN_IDS;
}

void exec_forget(struct executor *ex, const char *id)
{
	for (size_t i = 0; i < SEEN_IDS; i++) {
		if (ex->seen[i] != NULL && strcmp(ex->seen[i], id) == 0) {
			free(ex->seen[i]);
			ex->seen[i] = NULL;
		}
	}
}

/* When a command stops being worth carrying out: params.ttl (default 60 s)
 * after its timestamp, and never later than ttl after its arrival (a
 * sender whose clock runs ahead must not stretch it). */
static int64_t expiry(const struct envelope *env, int64_t ttl_ms, int64_t arrival)
{
	int64_t at = arrival + ttl_ms;
	if (env->has_timestamp && env->timestamp_ms + ttl_ms < at)
		at = env->timestamp_ms + ttl_ms;
	return at;
}

bool exec_verb_known(const char *verb)
{
	enum verb v;
	return verb != NULL && exec_verb_parse(verb, &v) == 0;
}

void executor_handle(struct executor *ex, const char *data, size_t len)
{
	/* In a fleet a message is carried out once, wherever it belongs: it
	 * goes into the intake stream, and comes back through this node's
	 * stream if it is ours (exec_fleet.c). */
	if (ex->conflicted)
		return; /* the node's other executor takes it */
	if (exec_fleet_active(ex) && exec_fleet_admit(ex, data, len))
		return;
	exec_intake(ex, data, len, NULL);
}

/* A signed command from pub/sub waits for its replay key (SET NX) before
 * it is taken: everything it needs, owned. */
struct pending_take {
	enum verb verb;
	char *verb_word, *name, *request_id, *agent_id;
	struct start_spec *spec;
	cJSON *conf;
	int64_t expires;
	struct exec_auth_req *auth;
};

static void pending_free(struct pending_take *p)
{
	free(p->verb_word);
	free(p->name);
	free(p->request_id);
	free(p->agent_id);
	start_spec_free(p->spec);
	cJSON_Delete(p->conf);
	exec_auth_req_free(p->auth);
	free(p);
}

/* The refusal of a command the policy or the replay check turned away:
 * logged and audited by the caller, answered here. */
static void reply_pending_refused(struct executor *ex, struct pending_take *p,
				  const char *status, const char *error)
{
	long pm_key = command_pm_key(p->name);
	struct status_msg st = {
		.task_name = p->verb == V_STATUS || pm_key >= 0 ? NULL : p->name,
		.status = status,
		.pm_id = pm_key,
		.request_id = p->request_id,
		.verb = p->verb_word,
		.node = ex->cfg->node,
		.agent_id = p->agent_id,
		.error = error,
	};
	exec_publish(ex, codec_status_json(&st, util_wall_ms()));
}

static void on_replay_claimed(struct executor *ex, int outcome, const char *why, void *arg)
{
	struct pending_take *p = arg;
	if (outcome == -2) {
		/* The connection went (or the bus is being freed): the sender
		 * sees no reply and may send it again; nothing was done. */
		log_warn("signed request %s dropped: %s", p->request_id ? p->request_id : "-", why);
		pending_free(p);
		return;
	}
	if (outcome == 1 && !ex->draining) {
		if (p->verb == V_STATUS || (p->verb == V_LOGS && command_pm_key(p->name) < 0) ||
		    p->verb == V_RESULT) {
			const char *st = NULL;
			char reason[400];
			exec_auth_check(ex, p->auth, POLICY_TASK_UNKNOWN, NULL, true, &st, reason,
					sizeof(reason));
		}
		exec_command_take(ex, p->verb, p->verb_word, p->name, p->request_id, p->agent_id,
				  p->spec, p->conf, p->expires, NULL, p->auth);
		p->spec = NULL;
		p->conf = NULL;
		p->auth = NULL;
	} else if (outcome == 0) {
		const char *msg = "this signed command was accepted already (a replay); nothing was done";
		exec_auth_audit(ex, p->auth, p->verb_word, false, "replay", NULL, msg);
		reply_pending_refused(ex, p, "replay", msg);
	} else {
		char msg[400];
		snprintf(msg, sizeof(msg),
			 "Redis did not record the signed command's replay id (%s); nothing was done",
			 why ? why : "shutting down");
		exec_auth_audit(ex, p->auth, p->verb_word, false, "error", NULL, msg);
		reply_pending_refused(ex, p, "error", msg);
	}
	pending_free(p);
}

void exec_intake(struct executor *ex, const char *data, size_t len,
		 const struct exec_entry *entry)
{
	struct envelope env;
	char err[512];
	/* A stream entry arrived when it was admitted, not when it is read. */
	int64_t now_wall = util_wall_ms();
	int64_t arrival = entry != NULL ? entry->arrival : now_wall;
	/* Who sent it: a signed message is verified here, at the node that
	 * acts, and its inner bytes are the command from now on. */
	struct exec_auth_id id;
	const char *astatus = NULL;
	char aerr[600];
	int arc = exec_auth_open(ex, data, len, arrival, &id, &astatus, aerr, sizeof(aerr));
	if (id.inner != NULL) {
		data = id.inner;
		len = id.inner_len;
	}
	if (codec_decode_command(data, len, &env, err, sizeof(err)) < 0 && arc == 0) {
		reply_refused(ex, entry, &env, env.verb, NULL, "error", err, true);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	enum verb verb;
	bool verb_ok = env.verb != NULL && exec_verb_parse(env.verb, &verb) == 0;
	if (arc < 0) {
		struct exec_auth_req *r = exec_auth_req_new(ex, &id, verb_ok ? verb : V_STATUS,
							    verb_ok && verb == V_STATUS ? NULL : name,
							    &env, NULL);
		exec_auth_audit(ex, r, env.verb ? env.verb : "message", false, astatus, NULL, aerr);
		exec_auth_req_free(r);
		/* A forged flood must not become a flood of replies: rate-limited
		 * like garbage, but for a stale or replayed command. */
		reply_refused(ex, entry, &env, env.verb, verb_ok && verb == V_STATUS ? NULL : name,
			      astatus, aerr, strcmp(astatus, "unauthenticated") == 0);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	/* Entries of a stream are once already (their admission made sure);
	 * a message straight from pub/sub may be a resend. */
	if (entry == NULL && id.is_signed) {
		int seen = exec_auth_seen(ex, &id, now_wall);
		if (seen == 1) {
			log_debug("signed request %s seen already: ignored (a resend)",
				  env.request_id ? env.request_id : "-");
			codec_envelope_free(&env);
			exec_auth_id_free(&id);
			return;
		}
		if (seen == 2) {
			const char *msg = "this signed command was accepted already (a replay); nothing "
					  "was done";
			struct exec_auth_req *r = exec_auth_req_new(
				ex, &id, verb_ok ? verb : V_STATUS, name, &env, NULL);
			exec_auth_audit(ex, r, env.verb ? env.verb : "message", false, "replay", NULL,
					msg);
			exec_auth_req_free(r);
			reply_refused(ex, entry, &env, env.verb, name, "replay", msg, false);
			codec_envelope_free(&env);
			exec_auth_id_free(&id);
			return;
		}
	} else if (entry == NULL && env.request_id != NULL && seen_before(ex, env.request_id)) {
		/* The bus sends a message again when a connection drops before
		 * Redis confirmed it; a command must not run twice for that. */
		log_debug("request %s seen already: ignored", env.request_id);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (ex->draining && entry == NULL) {
		/* Still subscribed while finishing the last commands: say no
		 * rather than take work that would be cut off. */
		reply_refused(ex, entry, &env, env.verb, name, "error",
			      "this executor is shutting down; nothing was done", false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (!verb_ok) {
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "unknown verb '%.40s' (expected start, stop, restart, delete, status, logs or result)",
			 env.verb);
		reply_refused(ex, entry, &env, env.verb, NULL, "error", msg, true);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (ex->ncommands >= EXEC_MAX_COMMANDS) {
		char msg[200];
		snprintf(msg, sizeof(msg),
			 "busy: %d commands are waiting for PM2; nothing was done, send it again "
			 "later",
			 EXEC_MAX_COMMANDS);
		reply_refused(ex, entry, &env, env.verb, name, "busy", msg, false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	/* A datum start becomes the start the datum describes (core/datum.c):
	 * resolved before every check, so each applies to the result. */
	if (verb == V_START && datum_resolve(&env, ex->cfg->datum_dir, err, sizeof(err)) < 0) {
		reply_refused(ex, entry, &env, env.verb, name, "error", err, false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (verb == V_START && name == NULL)
		name = codec_param(&env, "task");
	int64_t ttl_ms;
	if (check_text_params(&env, err, sizeof(err)) < 0 ||
	    check_ttl(&env, EXEC_DEFAULT_TTL_MS, &ttl_ms, err, sizeof(err)) < 0) {
		reply_refused(ex, entry, &env, env.verb, verb == V_STATUS ? NULL : name, "error", err, false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	/* stop, restart, delete and logs may name a pm_id instead: the name
	 * is then its key "#N" (command_target.h), resolved from the listing. */
	char pm_key[COMMAND_PM_KEY];
	long by_pm_id = -1;
	if (verb != V_STATUS &&
	    command_target(&env, verb != V_START && verb != V_RESULT, &name, &by_pm_id, pm_key, err,
			   sizeof(err)) < 0) {
		reply_refused(ex, entry, &env, env.verb, name, "error", err, false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	const char *expect_name = NULL;
	if (verb != V_STATUS &&
	    command_expect_name(&env, by_pm_id, &expect_name, err, sizeof(err)) < 0) {
		reply_refused(ex, entry, &env, env.verb, name, "error", err, false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	const char *target = codec_param(&env, "node");
	if (target != NULL && strcmp(target, ex->cfg->node) != 0) {
		if (entry == NULL) {
			/* Straight from pub/sub (no fleet): that node's executor
			 * answers it, not this one. */
			log_debug("request %s is for node %.64s: not this one",
				  env.request_id ? env.request_id : "-", target);
			codec_envelope_free(&env);
			exec_auth_id_free(&id);
			return;
		}
		/* Sent here by a dispatcher that could not place it (a node name
		 * no executor can have): answered, never carried out here. */
		char msg[300];
		const char *why = check_task_name(target);
		snprintf(msg, sizeof(msg), "params.node: %s; nothing was done",
			 why ? why : "names another node than this one");
		reply_refused(ex, entry, &env, env.verb, verb == V_STATUS ? NULL : name, "error", msg,
			      false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	int64_t expires = expiry(&env, ttl_ms, arrival);
	if (now_wall >= expires && !(entry != NULL && entry->acted)) {
		char msg[300];
		int64_t since = env.has_timestamp && env.timestamp_ms < arrival ? env.timestamp_ms : arrival;
		snprintf(msg, sizeof(msg),
			 "the command is %.1f s old, past its ttl of %.1f s (clocks apart?); nothing "
			 "was done",
			 (double)(now_wall - since) / 1000.0, (double)ttl_ms / 1000.0);
		reply_refused(ex, entry, &env, env.verb, verb == V_STATUS ? NULL : name, "expired", msg,
			      false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (codec_param(&env, "datum") != NULL && verb != V_START)
		log_debug("datum given to %s: read by start only", env.verb);

	struct start_spec *spec = NULL;
	cJSON *conf = NULL;
	if (verb == V_LOGS) {
		/* Its checked params travel in conf (exec_logs_answer reads them). */
		long lines, follow;
		if (check_logs(&env, &lines, &follow, err, sizeof(err)) < 0) {
			reply_refused(ex, entry, &env, env.verb, name, "invalid", err, false);
			codec_envelope_free(&env);
			exec_auth_id_free(&id);
			return;
		}
		conf = cJSON_CreateObject();
		cJSON_AddNumberToObject(conf, "lines", (double)lines);
		cJSON_AddNumberToObject(conf, "follow", (double)follow);
	}
	bool with_deps = false;
	if (deps_check_stop(&env, &with_deps, err, sizeof(err)) < 0) {
		reply_refused(ex, entry, &env, env.verb, name, "error", err, false);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (with_deps && expect_name != NULL) {
		reply_refused(ex, entry, &env, env.verb, name, "error",
			      "expect_name does not go with with_deps (a group stop checks no "
			      "name); nothing was done",
			      false);
		cJSON_Delete(conf);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (with_deps) /* exec_deps.c stops the group */
		cJSON_AddTrueToObject(conf = cJSON_CreateObject(), "with_deps");
	if (expect_name != NULL) /* exec_pmid.c compares it with the real name */
		cJSON_AddStringToObject(conf != NULL ? conf : (conf = cJSON_CreateObject()),
					"expect_name", expect_name);
	if (verb == V_START) {
		spec = check_start(&env, &ex->start_def, err, sizeof(err));
		if (spec == NULL) {
			reply_refused(ex, entry, &env, env.verb, name, "error", err, false);
			codec_envelope_free(&env);
			exec_auth_id_free(&id);
			return;
		}
	}
	/* The policy, with everything but the target's owner (the listing
	 * tells that, where the command decides): refused early, nothing
	 * changes. Executor-internal commands never pass here. */
	struct exec_auth_req *auth = exec_auth_req_new(
		ex, &id, verb, verb == V_STATUS || by_pm_id >= 0 ? NULL : name, &env, spec);
	const char *pstatus = "denied";
	char reason[400];
	if (!exec_auth_check(ex, auth, POLICY_TASK_UNKNOWN, NULL, false, &pstatus, reason,
			     sizeof(reason))) {
		char msg[460];
		snprintf(msg, sizeof(msg), "%s; nothing was done", reason);
		reply_refused(ex, entry, &env, env.verb, verb == V_STATUS ? NULL : name, pstatus, msg,
			      false);
		exec_auth_req_free(auth);
		start_spec_free(spec);
		cJSON_Delete(conf);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (verb == V_START) {
		/* Who started it, kept in the app's own environment: PM2 keeps
		 * it across restarts and in its dump (docs/security.md). */
		start_spec_set_owner(spec, exec_auth_owner_name(auth), auth->key ? auth->key : "");
		struct pm2_conf pc = {
			.name = name,
			.exec_path = spec->exec_path,
			.argv = (const char *const *)spec->argv,
			.argc = spec->argc,
			.cwd = spec->cwd,
			.env = spec->env,
			.nenv = spec->nenv,
			.instances = spec->instances,
			.cluster = spec->cluster,
			.max_memory_restart = spec->max_memory,
			.autorestart = spec->autorestart,
			.cron_restart = spec->cron,
		};
		conf = pm2_conf_build(&pc, ex->pm2_home, err, sizeof(err));
		if (conf == NULL) {
			reply_refused(ex, entry, &env, env.verb, name, "error", err, false);
			exec_auth_req_free(auth);
			start_spec_free(spec);
			codec_envelope_free(&env);
			exec_auth_id_free(&id);
			return;
		}
	}
	if (id.is_signed && entry == NULL) {
		/* Accepted once per node: the replay key decides, in Redis, so
		 * that a restarted executor still knows (docs/security.md 3.5). */
		struct pending_take *p = xcalloc(1, sizeof(*p));
		*p = (struct pending_take){
			.verb = verb,
			.verb_word = xstrdup(env.verb),
			.name = verb == V_STATUS || name == NULL ? NULL : xstrdup(name),
			.request_id = env.request_id ? xstrdup(env.request_id) : NULL,
			.agent_id = env.agent_id ? xstrdup(env.agent_id) : NULL,
			.spec = spec,
			.conf = conf,
			.expires = expires,
			.auth = auth,
		};
		exec_auth_remember(ex, &id, now_wall);
		if (exec_auth_claim(ex, &id, on_replay_claimed, p) < 0)
			on_replay_claimed(ex, -1, "Redis is not reachable", p);
		codec_envelope_free(&env);
		exec_auth_id_free(&id);
		return;
	}
	if (verb == V_STATUS || (verb == V_LOGS && by_pm_id < 0) || verb == V_RESULT)
		exec_auth_check(ex, auth, POLICY_TASK_UNKNOWN, NULL, true, &pstatus, reason,
				sizeof(reason)); /* the final word: audited */
	if (env.request_id != NULL && entry == NULL)
		exec_remember(ex, env.request_id);
	exec_command_take(ex, verb, env.verb, verb == V_STATUS ? NULL : name, env.request_id,
			  env.agent_id, spec, conf, expires, entry, auth);
	codec_envelope_free(&env);
	exec_auth_id_free(&id);
}

size_t executor_inflight(const struct executor *ex)
{
	return ex->ncommands;
}
