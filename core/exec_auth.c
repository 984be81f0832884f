/*
 * exec_auth: who sent a command and whether they may (docs/security.md).
 * It unwraps a signed message and verifies it (the key, the signature, the
 * window), remembers replay ids, holds the policy (--policy, reloaded on
 * SIGHUP), asks it, and writes every decision to the log and the audit
 * stream (audit.h).
 *
 * The checks are made by the executor that acts on the command: a message
 * from pub/sub is checked as it arrives; a fleet's stream entry when this
 * node's intake reads it, its window counted from its admission. Ownership
 * is judged where the command decides (exec_command.c), from the listing.
 *
 * Must not: let a refused command start or change anything, refuse one
 * without saying why, or keep a broken policy file (the old one stays).
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "audit.h"
#include "bus.h"
#include "codec.h"
#include "exec_fleet_int.h"
#include "executor_int.h"
#include "fleet_admit.h"
#include "log.h"
#include "metrics_exec.h"
#include "policy.h"
#include "policy_toml.h"
#include "reply_sig.h"
#include "sig.h"
#include "util.h"

#define RING 256	      /* replay ids accepted here, remembered locally */
#define RESEND_MS 2000	      /* a copy within this long is the bus's resend */

struct seen_id {
	char id[65];
	int64_t at; /* wall ms first seen */
};

struct exec_auth {
	struct policy *policy; /* NULL: open (no policy) */
	char *path;	       /* --policy, or NULL */
	int64_t window_ms;
	struct reply_trust *trust; /* --trust: executors' pinned keys, or NULL */
	struct seen_id ring[RING];
	size_t ring_next;
	bool audit_refused;
};

/* --- the policy ------------------------------------------------------------- */

static void log_warnings(const struct policy *p, const char *path)
{
	const char *w = policy_warnings(p);
	while (w != NULL && *w != '\0') {
		const char *nl = strchr(w, '\n');
		int n = nl ? (int)(nl - w) : (int)strlen(w);
		log_warn("policy %s: %.*s", path, n, w);
		w = nl ? nl + 1 : w + n;
	}
}

int exec_auth_new(struct executor *ex, const char *policy_path, char *err, size_t errlen)
{
	if (sig_init() < 0) {
		snprintf(err, errlen, "libsodium could not start (no randomness source)");
		return -1;
	}
	struct exec_auth *a = xcalloc(1, sizeof(*a));
	a->window_ms = SIG_WINDOW_MS;
	if (ex->cfg->trust_path != NULL) {
		char why[600];
		a->trust = reply_trust_new(NULL, ex->cfg->trust_path, why, sizeof(why));
		if (a->trust == NULL) {
			snprintf(err, errlen, "--trust: %s", why);
			free(a);
			return -1;
		}
	}
	if (policy_path != NULL && policy_path[0] != '\0') {
		char why[600];
		a->policy = policy_toml_load_file(policy_path, getenv("PATH"), why, sizeof(why));
		if (a->policy == NULL) {
			snprintf(err, errlen, "the policy cannot be used: %s", why);
			reply_trust_free(a->trust);
			free(a);
			return -1;
		}
		a->path = xstrdup(policy_path);
		log_warnings(a->policy, policy_path);
		log_info("policy %s: %zu agent(s), %zu role(s); signed commands are checked against it",
			 policy_path, policy_nagents(a->policy), policy_nroles(a->policy));
	} else {
		log_warn("no policy (--policy): this executor is OPEN: anyone who can publish on "
			 "the command channel may run any program here; signed commands are "
			 "verified, unsigned ones are carried out as they come (docs/security.md)");
	}
	ex->auth = a;
	return 0;
}

void exec_auth_free(struct executor *ex)
{
	if (ex->auth == NULL)
		return;
	policy_free(ex->auth->policy);
	reply_trust_free(ex->auth->trust);
	free(ex->auth->path);
	free(ex->auth);
	ex->auth = NULL;
}

bool exec_auth_has_policy(const struct executor *ex)
{
	return ex->auth != NULL && ex->auth->policy != NULL;
}

/* SIGHUP: the trust file (--trust) read again; a broken one keeps the
 * pins in force. */
static int reload_trust(struct exec_auth *a, const char *path)
{
	char why[600];
	struct reply_trust *t = reply_trust_new(NULL, path, why, sizeof(why));
	if (t == NULL) {
		log_error("SIGHUP: the trust file was not reloaded, the previous pins stay in "
			  "force: %s", why);
		return -1;
	}
	reply_trust_free(a->trust);
	a->trust = t;
	log_info("SIGHUP: trust file %s reloaded", path);
	return 0;
}

int executor_reload_policy(struct executor *ex)
{
	struct exec_auth *a = ex->auth;
	if (a == NULL)
		return 0;
	int rc = 0;
	if (ex->cfg->trust_path != NULL && reload_trust(a, ex->cfg->trust_path) < 0)
		rc = -1;
	if (a->path == NULL) {
		log_info("SIGHUP: no policy file to reload (--policy)");
		return rc;
	}
	char why[600];
	struct policy *p = policy_toml_load_file(a->path, getenv("PATH"), why, sizeof(why));
	if (p == NULL) {
		log_error("SIGHUP: the policy was not reloaded, the previous one stays in force: %s",
			  why);
		return -1;
	}
	policy_free(a->policy);
	a->policy = p;
	log_warnings(p, a->path);
	log_info("SIGHUP: policy %s reloaded: %zu agent(s), %zu role(s)", a->path,
		 policy_nagents(p), policy_nroles(p));
	return rc;
}

/* --- signed messages ------------------------------------------------------- */

void exec_auth_id_free(struct exec_auth_id *id)
{
	free(id->inner);
	id->inner = NULL;
}

/*
 * A start an executor moved here (exec_failover.c), signed in the failover
 * context by a key the policy lists under [executors] or the trust file
 * (--trust) pins (any key when there is no policy: an open executor takes
 * unsigned starts too), bound to this node (failover.to). It is
 * judged as the owner it records, never as the executor: an agent's name
 * must come with that agent's key, and "unsigned" is judged as unsigned.
 */
static int open_failover(struct executor *ex, struct sig_wrapper *w, const char *exec_node,
			 int64_t at_ms, struct exec_auth_id *id, const char **status, char *err,
			 size_t errlen)
{
	const struct policy *p = ex->auth ? ex->auth->policy : NULL;
	char why[300];
	sig_replay_id(SIG_FAILOVER, w, id->replay_id);
	id->inner = w->inner;
	id->inner_len = w->inner_len;
	w->inner = NULL;
	sig_wrapper_free(w);
	*status = "unauthenticated";
	cJSON *root = cJSON_ParseWithLength(id->inner, id->inner_len);
	const cJSON *fo = cJSON_GetObjectItemCaseSensitive(root, "failover");
	const cJSON *verb = cJSON_GetObjectItemCaseSensitive(root, "verb");
	struct envelope env;
	bool has_ts = codec_decode_command(id->inner, id->inner_len, &env, why, sizeof(why)) == 0 &&
		      env.has_timestamp;
	int64_t ts = env.timestamp_ms;
	codec_envelope_free(&env);
	const char *owner = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fo, "owner"));
	const char *okey = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fo, "owner_key"));
	const char *by = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fo, "by"));
	const char *to = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(fo, "to"));
	unsigned char opk[SIG_PUBLIC_BYTES];
	int rc = -1;
	if (!cJSON_IsString(verb) || strcmp(verb->valuestring, "start") != 0 || owner == NULL ||
	    okey == NULL || by == NULL || !has_ts) {
		snprintf(err, errlen,
			 "a failover message must be a start with a timestamp and failover.owner, "
			 "owner_key, by and to; nothing was done");
		goto done;
	}
	snprintf(id->failover_by, sizeof(id->failover_by), "%.64s",
		 exec_node != NULL ? exec_node : by);
	if (exec_node != NULL && strcmp(exec_node, by) != 0) {
		snprintf(err, errlen,
			 "failover.by names %.64s but the key is executor %.64s's; nothing was done",
			 by, exec_node);
		goto done;
	}
	if (to == NULL || strcmp(to, ex->cfg->node) != 0) {
		/* Bound to the node it was moved to: a copy appended to another
		 * node's stream is not a second failover. */
		snprintf(err, errlen, "this failover start is for node %.64s, not this one; nothing "
				      "was done",
			 to ? to : "(none)");
		goto done;
	}
	bool owned = strcmp(owner, "unsigned") != 0;
	if (owned && sig_parse_public(okey, opk, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "failover.owner_key: %s; nothing was done", why);
		goto done;
	}
	if (owned && p != NULL && !policy_agent_has_key(p, owner, opk)) {
		snprintf(err, errlen,
			 "the failover is for %.64s, which is not the policy's agent for key %.60s; "
			 "nothing was done",
			 owner, okey);
		goto done;
	}
	int64_t window = ex->auth ? ex->auth->window_ms : SIG_WINDOW_MS;
	if (sig_check_window(ts, at_ms, window, why, sizeof(why)) < 0) {
		*status = "stale";
		snprintf(err, errlen, "%s; nothing was done", why);
		goto done;
	}
	id->is_signed = owned;
	if (owned) {
		snprintf(id->agent, sizeof(id->agent), "%.64s", owner);
		snprintf(id->key, sizeof(id->key), "%s", okey);
	}
	id->replay_ttl_ms = sig_replay_ttl_ms(ts, util_wall_ms(), window);
	*status = NULL;
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

int exec_auth_open(struct executor *ex, const char *data, size_t len, int64_t at_ms,
		   struct exec_auth_id *id, const char **status, char *err, size_t errlen)
{
	memset(id, 0, sizeof(*id));
	*status = NULL;
	struct sig_wrapper w;
	char why[400];
	int rc = sig_parse_wrapper(data, len, &w, why, sizeof(why));
	if (rc == 0)
		return 0; /* unsigned: the policy's [unsigned] role judges it */
	if (rc < 0) {
		sig_wrapper_free(&w);
		*status = "unauthenticated";
		snprintf(err, errlen, "%s; nothing was done", why);
		return -1;
	}
	const struct policy *p = ex->auth ? ex->auth->policy : NULL;
	const char *exec_node = p ? policy_executor_for_key(p, w.pk) : NULL;
	if (p != NULL && exec_node == NULL)
		exec_node = reply_trust_pinned(ex->auth->trust, w.pk);
	if ((p == NULL || exec_node != NULL) && sig_verify_wrapper(SIG_FAILOVER, &w))
		return open_failover(ex, &w, exec_node, at_ms, id, status, err, errlen);
	id->is_signed = true;
	sig_public_text(w.pk, id->key);
	bool verified = sig_verify_wrapper(SIG_COMMAND, &w);
	sig_replay_id(SIG_COMMAND, &w, id->replay_id);
	id->inner = w.inner;
	id->inner_len = w.inner_len;
	w.inner = NULL;
	const char *agent = p ? policy_agent_for_key(p, w.pk) : NULL;
	if (p != NULL && agent == NULL) {
		*status = "unauthenticated";
		snprintf(err, errlen, "unknown key %s: no agent of the policy has it; nothing was done",
			 id->key);
		sig_wrapper_free(&w);
		return -1;
	}
	if (!verified) {
		*status = "unauthenticated";
		snprintf(err, errlen,
			 "the signature does not match the signed bytes (a changed byte, or another "
			 "key); nothing was done");
		sig_wrapper_free(&w);
		return -1;
	}
	snprintf(id->agent, sizeof(id->agent), "%s", agent ? agent : "");
	struct envelope env;
	int dec = codec_decode_command(id->inner, id->inner_len, &env, why, sizeof(why));
	bool has_ts = env.has_timestamp;
	int64_t ts = env.timestamp_ms;
	codec_envelope_free(&env);
	sig_wrapper_free(&w);
	if (dec < 0)
		return 0; /* the intake answers with the codec's words */
	if (!has_ts) {
		*status = "unauthenticated";
		snprintf(err, errlen, "a signed command needs a timestamp; nothing was done");
		return -1;
	}
	int64_t window = ex->auth ? ex->auth->window_ms : SIG_WINDOW_MS;
	if (sig_check_window(ts, at_ms, window, why, sizeof(why)) < 0) {
		*status = "stale";
		snprintf(err, errlen, "%s; nothing was done", why);
		return -1;
	}
	id->replay_ttl_ms = sig_replay_ttl_ms(ts, util_wall_ms(), window);
	return 0;
}

int exec_auth_seen(struct executor *ex, const struct exec_auth_id *id, int64_t now_ms)
{
	struct exec_auth *a = ex->auth;
	for (size_t i = 0; a != NULL && i < RING; i++) {
		if (a->ring[i].id[0] != '\0' && strcmp(a->ring[i].id, id->replay_id) == 0)
			return now_ms - a->ring[i].at < RESEND_MS ? 1 : 2;
	}
	return 0;
}

void exec_auth_remember(struct executor *ex, const struct exec_auth_id *id, int64_t now_ms)
{
	struct exec_auth *a = ex->auth;
	if (a == NULL || !id->is_signed)
		return;
	snprintf(a->ring[a->ring_next].id, sizeof(a->ring[0].id), "%s", id->replay_id);
	a->ring[a->ring_next].at = now_ms;
	a->ring_next = (a->ring_next + 1) % RING;
}

/* --- the replay key (pub/sub path) ----------------------------------------- */

struct claim {
	struct executor *ex;
	exec_auth_claim_fn fn;
	void *arg;
};

static void on_claimed(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct claim *c = arg;
	if (r == NULL)
		c->fn(c->ex, -2, "the connection to Redis went before the replay id was recorded",
		      c->arg);
	else if (r->type == REDIS_REPLY_ERROR)
		c->fn(c->ex, -1, r->str, c->arg);
	else
		c->fn(c->ex, r->type == REDIS_REPLY_NIL ? 0 : 1, NULL, c->arg);
	free(c);
}

int exec_auth_claim(struct executor *ex, const struct exec_auth_id *id, exec_auth_claim_fn fn,
		    void *arg)
{
	char *prefix = fleet_admit_prefix(ex->cfg->channel);
	char *key = xasprintf("%sseen:%s:%s", prefix, ex->cfg->node, id->replay_id);
	free(prefix);
	char ttl[24];
	snprintf(ttl, sizeof(ttl), "%lld", (long long)(id->replay_ttl_ms > 0 ? id->replay_ttl_ms
									       : 1000));
	const char *argv[6] = {"SET", key, "1", "NX", "PX", ttl};
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	struct claim *c = xmalloc(sizeof(*c));
	*c = (struct claim){ex, fn, arg};
	int rc = bus_command(ex->bus, 6, argv, lens, on_claimed, c);
	free(key);
	if (rc < 0)
		free(c);
	return rc;
}

/* --- asking the policy ----------------------------------------------------- */

static char **env_param_names(const struct envelope *env, size_t *n)
{
	char **names = xcalloc(env->nparams + 1, sizeof(char *));
	*n = 0;
	for (size_t i = 0; i < env->nparams; i++)
		if (strncmp(env->params[i].key, "env_", 4) == 0)
			names[(*n)++] = xstrdup(env->params[i].key + 4);
	return names;
}

struct exec_auth_req *exec_auth_req_new(const struct executor *ex, const struct exec_auth_id *id,
					enum verb verb, const char *task,
					const struct envelope *env, const struct start_spec *spec)
{
	struct exec_auth_req *r = xcalloc(1, sizeof(*r));
	r->is_signed = id->is_signed;
	r->agent = id->is_signed && id->agent[0] != '\0' ? xstrdup(id->agent) : NULL;
	r->key = id->is_signed ? xstrdup(id->key) : NULL;
	r->verb = verb;
	r->task = task ? xstrdup(task) : NULL;
	r->request_id = env->request_id ? xstrdup(env->request_id) : NULL;
	r->agent_id = env->agent_id ? xstrdup(env->agent_id) : NULL;
	r->failover_by = id->failover_by[0] != '\0' ? xstrdup(id->failover_by) : NULL;
	if (spec != NULL) {
		char prog[4096];
		const char *from = spec->program ? spec->program : spec->exec_path;
		r->program = xstrdup(policy_program_path(from, prog, sizeof(prog)) == 0 ? prog : from);
		r->cwd = xstrdup(spec->cwd);
		r->instances = spec->instances > 0 ? spec->instances : ex->start_def.cpus;
		r->env_names = env_param_names(env, &r->nenv);
	}
	return r;
}

void exec_auth_req_free(struct exec_auth_req *r)
{
	if (r == NULL)
		return;
	free(r->agent);
	free(r->key);
	free(r->task);
	free(r->request_id);
	free(r->agent_id);
	free(r->failover_by);
	free(r->program);
	free(r->cwd);
	for (size_t i = 0; i < r->nenv; i++)
		free(r->env_names[i]);
	free(r->env_names);
	free(r);
}

const char *exec_auth_owner_name(const struct exec_auth_req *r)
{
	if (!r->is_signed)
		return "unsigned";
	return r->agent != NULL ? r->agent : "unlisted";
}

void exec_auth_audit(struct executor *ex, const struct exec_auth_req *r, const char *verb_word,
		     bool allowed, const char *status, const char *role, const char *reason)
{
	const char *who = r && r->agent ? r->agent : r && r->is_signed ? "unlisted key" : "unsigned";
	const char *task = r ? r->task : NULL;
	char fo_reason[600];
	if (r != NULL && r->failover_by != NULL) {
		snprintf(fo_reason, sizeof(fo_reason), "failover by executor %s for %s: %s",
			 r->failover_by, r->agent ? r->agent : "unsigned", reason ? reason : "");
		reason = fo_reason;
	}
	if (allowed)
		log_info("allowed: %s %s%s%s: %s", who, verb_word, task ? " " : "", task ? task : "",
			 reason);
	else
		log_warn("refused (%s): %s %s%s%s: %s", status, who, verb_word, task ? " " : "",
			 task ? task : "", reason);
	struct audit_record rec = {
		.node = ex->cfg->node,
		.agent = r ? r->agent : NULL,
		.key = r ? r->key : NULL,
		.agent_id = r ? r->agent_id : NULL,
		.verb = verb_word,
		.task = task,
		.request_id = r ? r->request_id : NULL,
		.allowed = allowed,
		.status = status,
		.role = role,
		.reason = reason,
	};
	audit_write(ex->bus, &rec, util_wall_ms(), &ex->auth->audit_refused);
	if (!allowed)
		metrics_exec_policy_refused(ex);
}

bool exec_auth_check(struct executor *ex, const struct exec_auth_req *r, enum policy_owner kind,
		     const char *owner, bool audit_allow, const char **status, char *reason,
		     size_t reasonlen)
{
	const struct policy *p = ex->auth ? ex->auth->policy : NULL;
	const char *verb_word = exec_verb_name(r->verb);
	if (p == NULL) {
		/* Open: everything passes; a signed command is still recorded. */
		snprintf(reason, reasonlen, "no policy: this executor is open");
		if (audit_allow && r->is_signed)
			exec_auth_audit(ex, r, verb_word, true, NULL, NULL, reason);
		return true;
	}
	struct policy_request req = {
		.agent = r->agent,
		.verb = verb_word,
		.task = r->task,
		.program = r->program,
		.cwd = r->cwd,
		.instances = r->instances,
		.env_names = (const char *const *)r->env_names,
		.nenv = r->nenv,
		.owner_kind = kind,
		.owner = owner,
	};
	struct policy_decision d;
	policy_eval(p, &req, &d);
	snprintf(reason, reasonlen, "%s", d.reason);
	if (d.allow) {
		if (audit_allow)
			exec_auth_audit(ex, r, verb_word, true, NULL, d.role, d.reason);
		return true;
	}
	*status = r->agent == NULL && !r->is_signed && d.role == NULL ? "unauthenticated" : "denied";
	exec_auth_audit(ex, r, verb_word, false, *status, d.role, d.reason);
	return false;
}

/* --- the owner of a task ----------------------------------------------------- */

enum policy_owner exec_auth_owner_of(const struct pm2_proc *procs, size_t n, const char *name,
				     const char **owner)
{
	enum policy_owner kind = POLICY_TASK_NONE;
	*owner = NULL;
	for (size_t i = 0; i < n; i++) {
		if (strcmp(procs[i].name, name) != 0)
			continue;
		if (procs[i].owner == NULL)
			return POLICY_TASK_FOREIGN; /* one foreign instance makes it foreign */
		kind = POLICY_TASK_OWNED;
		*owner = strcmp(procs[i].owner, "unsigned") == 0 ? NULL : procs[i].owner;
	}
	return kind;
}

/* --- the dispatcher's check (a fleet) ------------------------------------- */

cJSON *exec_auth_precheck(struct executor *ex, const char *data, size_t len, int64_t arrival)
{
	struct exec_auth_id id;
	const char *status = NULL;
	char err[600];
	if (!exec_auth_has_policy(ex)) {
		char *inner;
		size_t ilen;
		if (exec_auth_inner(data, len, &inner, &ilen) == 0)
			return NULL; /* open and unsigned: nothing to check */
		free(inner);
	}
	int rc = exec_auth_open(ex, data, len, arrival, &id, &status, err, sizeof(err));
	struct envelope env;
	char derr[300];
	const char *bytes = id.inner ? id.inner : data;
	size_t blen = id.inner ? id.inner_len : len;
	codec_decode_command(bytes, blen, &env, derr, sizeof(derr));
	cJSON *obj = NULL;
	const char *name = codec_param(&env, "task");
	if (name == NULL)
		name = codec_param(&env, "name");
	enum verb verb = V_STATUS;
	bool known = env.verb != NULL && exec_verb_parse(env.verb, &verb) == 0;
	struct exec_auth_req *r = exec_auth_req_new(ex, &id, verb, verb == V_STATUS ? NULL : name,
						    &env, NULL);
	if (rc < 0) {
		exec_auth_audit(ex, r, env.verb ? env.verb : "message", false, status, NULL, err);
	} else if (known && verb != V_START &&
		   !exec_auth_check(ex, r, POLICY_TASK_UNKNOWN, NULL, false, &status, err,
				    sizeof(err))) {
		rc = -1;
	}
	if (rc < 0) {
		struct status_msg st = {
			.task_name = verb == V_STATUS ? NULL : name,
			.status = status,
			.pm_id = -1,
			.request_id = env.request_id,
			.verb = env.verb,
			.node = ex->cfg->node,
			.agent_id = env.agent_id,
			.error = err,
		};
		obj = codec_status_json(&st, util_wall_ms());
	}
	exec_auth_req_free(r);
	codec_envelope_free(&env);
	exec_auth_id_free(&id);
	return obj;
}

int exec_auth_inner(const char *data, size_t len, char **inner, size_t *inner_len)
{
	struct sig_wrapper w;
	char why[200];
	*inner = NULL;
	*inner_len = 0;
	int rc = sig_parse_wrapper(data, len, &w, why, sizeof(why));
	if (rc == 1) {
		*inner = w.inner;
		*inner_len = w.inner_len;
		w.inner = NULL;
	}
	if (rc != 0)
		sig_wrapper_free(&w);
	return rc == 1 ? 1 : 0;
}
