/*
 * tool_send: `tasker send` publishes command envelopes (from slash lines or
 * raw JSON) with a fresh request_id each, and with --wait prints the
 * replies that carry those ids. Subscribing happens before publishing, so
 * a fast executor's reply cannot be missed.
 *
 * Each envelope is first admitted into the fleet's intake stream, with the
 * executors' own script (fleet_admit.c): from then on it is durable, and
 * whichever executor of the fleet reads the intake carries it out, also
 * one started later. Then the same bytes are published, for listeners
 * that are not executors; executors find the once key and drop that copy.
 * A Redis that refuses the script or the stream for good (an old one, an
 * ACL without them) gets the PUBLISH alone, as before, said once.
 *
 * Anyone who can publish on the status channel sees our request ids on the
 * command channel. Until replies are signed, a reply counts only when its
 * verb and status fit the command sent (reply_fits); others are ignored.
 *
 * A reply published while our subscriber connection was down (a reconnect
 * after the publish) would be lost to pub/sub: after every reconnect the
 * history stream is read from a little before the first publish, and each
 * entry goes through the same checks as a live reply. A command answered
 * once is never answered again, so a reply seen both ways prints once.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "fleet_admit.h"
#include "history_read.h"
#include "log.h"
#include "loop.h"
#include "slash.h"
#include "reply_sig.h"
#include "tools.h"
#include "util.h"

static const char send_help[] =
	"Usage: tasker send [OPTIONS] LINE...\n"
	"       tasker send [OPTIONS] --json TEXT\n"
	"       tasker send [OPTIONS] -        (one message per stdin line: a slash\n"
	"                                    line, or a JSON envelope if it starts with {)\n"
	"\n"
	"Sends a command with a timestamp, agent_id and a fresh request_id (printed\n"
	"on stderr with -v): first into the fleet's intake stream\n"
	"(b00t:{tasker}:CHANNEL:commands), where it waits for an executor up to its\n"
	"ttl (60 s unless params.ttl says) even when none runs now, then as a PUBLISH\n"
	"on the command channel for other listeners. Executors carry it out once.\n"
	"When Redis refuses the script or the stream (an old Redis, an ACL without\n"
	"EVAL or XADD), it is published only, as with --publish-only, and send says so.\n"
	"\n"
	"Several LINE words are joined with spaces into one command, except that a\n"
	"word that begins with /VERB (a slash, a letter, then letters or digits, then\n"
	"a blank or the end of the word) starts the next command:\n"
	"  tasker send --wait '/stop --task=a' '/start --task=b --command=\"node b.js\"'\n"
	"sends two commands. A batch with a bad command or line is refused whole,\n"
	"each bad one named (command N, or line N of stdin); nothing is sent.\n"
	"\n"
	"  -w, --wait[=SECONDS]  wait for the reply carrying the request_id (default 10 s)\n"
	"                        and print it. A reply counts only if its verb is the one\n"
	"                        sent and its status one that verb can have (others are\n"
	"                        ignored; -v says so). Sets params.ttl to SECONDS unless\n"
	"                        the command has a ttl: an executor does not carry out a\n"
	"                        command nobody waits for any more (it answers expired).\n"
	"                        A reply that went out while the connection to Redis\n"
	"                        was down is still found, in the history stream\n"
	"  -J, --json TEXT       send TEXT, a JSON envelope; missing timestamp, agent_id\n"
	"                        and request_id are filled in\n"
	"  -P, --publish-only    only PUBLISH, as before the fleet: a command published\n"
	"                        while no executor listens is lost\n"
	"  -r, --raw             print replies as raw JSON\n"
	"  -v, --verbose         print the envelope and request_id on stderr, and every\n"
	"                        reply ignored because it does not fit the command\n"
	"  --key FILE            sign every command with this secret key (TASKER_KEY;\n"
	"                        docs/security.md): a shared option\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 sent (with --wait: every reply a success), 1 an error reply\n"
	"(error, not_found, busy, expired) or Redis unreachable (at once when its host\n"
	"name does not resolve), 2 bad usage or a parse error, 3 no reply in time\n"
	"(with --wait; also at once when nobody listens on the channel: the command\n"
	"still waits in the stream for an executor until its ttl, the wait).\n"
	"Text from replies is printed with escapes for control characters (\\x1b, \\n)\n"
	"unless --raw.\n"
	"\n"
	"Examples:\n"
	"  tasker send --wait '/start --task=api --command=\"node api.js\" --env_PORT=8080'\n"
	"  tasker send --json '{\"verb\":\"stop\",\"params\":{\"task\":\"api\"}}'\n";

struct sender;

struct outgoing {
	struct sender *owner;
	char *json;
	char request_id[260];
	char verb[132]; /* as the executor reads it (lowercased) and echoes it */
	bool busy;	/* its admission or PUBLISH is in flight or done */
	bool queued;	/* in the fleet's stream: durable */
	int tries;	/* admissions sent (one more after a lost reply) */
	char life[32];	/* how long it waits in the stream (its ttl), seconds */
	int outcome;	/* -1 pending, 0 error, 1 success */
	int spoofed;	/* replies refused as unverified (docs/security.md) */
};

/* The history is read from this long before the first publish: the clock
 * of the stream's IDs is the Redis server's, not ours. */
#define HISTORY_MARGIN_MS 10000

struct sender {
	struct loop *loop;
	struct bus *bus;
	struct history_read *history; /* --wait only */
	struct reply_trust *trust;    /* --wait only: checks replies' signatures */
	int64_t sent_ms;	      /* wall clock of the first publish */
	struct config *cfg;
	struct outgoing *msgs;
	size_t nmsgs, npublished, nanswered;
	bool wait, raw, verbose, sent;
	bool publish_only; /* --publish-only, or Redis refused the stream */
	bool said_refused, said_nobody;
	char *prefix; /* the fleet's keys: b00t:{tasker}:<channel>: */
	int64_t timeout_ms;
	char ttl[32]; /* params.ttl for --wait: the wait, in seconds */
	int rc;
};

static void finish(struct sender *s, int rc)
{
	if (!loop_stopped(s->loop))
		loop_stop(s->loop, rc);
}

static int final_code(const struct sender *s)
{
	int rc = EXIT_OK;
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (s->msgs[i].outcome == 0)
			rc = EXIT_FAIL;
	}
	return rc;
}

/* "10" for 10000 ms, "2.5" for 2500, "0.001" for 1: seconds as params.ttl
 * takes them (a positive decimal number). */
static void ttl_text(int64_t ms, char *buf, size_t size)
{
	if (ms % 1000 == 0) {
		snprintf(buf, size, "%lld", (long long)(ms / 1000));
		return;
	}
	snprintf(buf, size, "%lld.%03lld", (long long)(ms / 1000), (long long)(ms % 1000));
	size_t n = strlen(buf);
	while (n > 0 && buf[n - 1] == '0')
		buf[--n] = '\0';
}

static void on_published(struct bus *bus, long long receivers, void *arg)
{
	(void)bus;
	struct outgoing *m = arg;
	struct sender *s = m->owner;
	if (loop_stopped(s->loop))
		return; /* shutting down: bus_free fails what is still queued */
	if (receivers < 0 && !m->queued) {
		fprintf(stderr, "tasker send: Redis did not accept the message\n");
		finish(s, EXIT_FAIL);
		return;
	}
	if (receivers < 0)
		/* In the stream already: the executors have it; only listeners
		 * that are not executors miss it. */
		fprintf(stderr,
			"tasker send: the PUBLISH of request_id %s failed; the command is queued in "
			"the fleet's stream all the same\n",
			m->request_id);
	s->npublished++;
	if (receivers == 0 && !s->said_nobody) {
		s->said_nobody = true;
		if (m->queued)
			fprintf(stderr,
				"tasker send: nobody is subscribed to %s: is an executor (tasker exec) "
				"running on this Redis? The command waits in the fleet's stream "
				"(%scommands): an executor that starts within %s s carries it out\n",
				s->cfg->channel, s->prefix, m->life);
		else
			fprintf(stderr,
				"tasker send: nobody is subscribed to %s: is an executor (tasker exec) "
				"running on this Redis?\n",
				s->cfg->channel);
	}
	if (receivers == 0 && s->wait) {
		finish(s, EXIT_TIMEOUT);
		return;
	}
	if (!s->wait && s->npublished == s->nmsgs)
		finish(s, EXIT_OK);
}

static void publish(struct sender *s, struct outgoing *m)
{
	m->busy = true;
	if (bus_publish(s->bus, s->cfg->channel, m->json, strlen(m->json), on_published, m) < 0)
		on_published(s->bus, -1, m);
}

static void on_admitted(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct outgoing *m = arg;
	struct sender *s = m->owner;
	if (loop_stopped(s->loop))
		return;
	switch (fleet_admit_outcome(r)) {
	case FLEET_ADMITTED:
		m->queued = true;
		if (s->verbose)
			fprintf(stderr, "tasker send: request_id %s queued as %s in %scommands\n",
				m->request_id, r->str, s->prefix);
		break;
	case FLEET_TAKEN:
		if (m->tries > 1) {
			/* Our first admission got in before its reply was lost. */
			m->queued = true;
			break;
		}
		fprintf(stderr,
			"tasker send: request_id %s was sent already (within its ttl): the executors "
			"will not carry it out again\n",
			m->request_id);
		break;
	case FLEET_LOST:
		/* The connection went before Redis answered: admitted or not,
		 * it is admitted again after the reconnect (the once key makes
		 * that harmless). */
		m->busy = false;
		return;
	case FLEET_REFUSED:
		s->publish_only = true;
		if (!s->said_refused)
			fprintf(stderr,
				"tasker send: Redis refused the fleet's stream (%s): publishing only; a "
				"command published while no executor listens is lost\n",
				r->type == REDIS_REPLY_ERROR ? r->str : "unexpected reply");
		s->said_refused = true;
		break;
	case FLEET_REFUSED_NOW:
		/* The executors that receive the PUBLISH try to admit it too. */
		fprintf(stderr, "tasker send: Redis could not queue request_id %s (%s): published only\n",
			m->request_id, r->str);
		break;
	}
	publish(s, m);
}

/* Sends what has not gone out yet: each message is admitted into the
 * fleet's stream, then published (on_admitted), in order. */
static void send_pending(struct sender *s)
{
	for (size_t i = 0; i < s->nmsgs; i++) {
		struct outgoing *m = &s->msgs[i];
		if (m->busy)
			continue;
		if (s->publish_only) {
			publish(s, m);
			continue;
		}
		struct fleet_admit adm;
		fleet_admit_build(&adm, s->prefix, m->json, strlen(m->json));
		ttl_text(adm.ttl_ms, m->life, sizeof(m->life));
		int rc = bus_command(s->bus, FLEET_ADMIT_ARGC, adm.argv, adm.lens, on_admitted, m);
		fleet_admit_free(&adm);
		if (rc < 0)
			return; /* the connection is down: again when it is back */
		m->busy = true;
		m->tries++;
	}
}

static void publish_all(struct sender *s)
{
	if (s->sent)
		return;
	s->sent = true;
	s->sent_ms = util_wall_ms();
	send_pending(s);
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	struct sender *s = arg;
	if (!ready) {
		log_debug("%s", why);
		return;
	}
	if (!s->sent) {
		publish_all(s);
		return;
	}
	/* Back after an outage: admissions whose reply was lost go again, and
	 * a reply may have gone out meanwhile. */
	send_pending(s);
	if (s->history != NULL)
		history_read_since(s->history, s->sent_ms - HISTORY_MARGIN_MS);
}

/* The verb an alias stands for (the executor's table: run, remove, list
 * and ps are aliases); the verb itself when it is none. */
static const char *canonical_verb(const char *verb)
{
	static const char *const alias[][2] = {
	    {"run", "start"}, {"remove", "delete"}, {"list", "status"}, {"ps", "status"}};
	for (size_t i = 0; i < sizeof(alias) / sizeof(alias[0]); i++)
		if (strcmp(verb, alias[i][0]) == 0)
			return alias[i][1];
	return verb;
}

static bool is_one_of(const char *s, const char *const *set)
{
	for (; *set != NULL; set++)
		if (strcmp(s, *set) == 0)
			return true;
	return false;
}

/*
 * Whether a reply carrying our request_id can be the executor's answer to
 * the command: the verb echoed as sent, and a status that verb can have.
 * Anyone may publish on the status channel; this is what a forger cannot
 * get around without knowing the command (signatures will do the rest).
 */
static bool reply_fits(const char *verb, const struct status_view *v)
{
	static const char *const any[] = {"error",	 "busy",   "expired", "denied",
					  "unauthenticated", "replay", "stale",   NULL};
	static const char *const start[] = {"started", "already_running", NULL};
	static const char *const stop[] = {"stopped", "not_found", NULL};
	static const char *const restart[] = {"restarted", "not_found", NULL};
	static const char *const del[] = {"deleted", "not_found", NULL};
	static const char *const logs[] = {"ok", "not_found", "invalid", NULL};
	if (v->verb == NULL || v->status == NULL || v->type == NULL || strcmp(v->verb, verb) != 0)
		return false;
	const char *canon = canonical_verb(verb);
	if (strcmp(v->type, "task_list") == 0)
		return strcmp(canon, "status") == 0 && strcmp(v->status, "ok") == 0;
	if (strcmp(v->type, "task_status") != 0)
		return false;
	if (is_one_of(v->status, any))
		return true;
	if (strcmp(canon, "start") == 0)
		return is_one_of(v->status, start);
	if (strcmp(canon, "stop") == 0)
		return is_one_of(v->status, stop);
	if (strcmp(canon, "restart") == 0)
		return is_one_of(v->status, restart);
	if (strcmp(canon, "delete") == 0)
		return is_one_of(v->status, del);
	if (strcmp(canon, "logs") == 0 || strcmp(canon, "result") == 0)
		return is_one_of(v->status, logs);
	return false;
}

/* A one-shot tool does not wait for a host name that does not exist. */
static void on_unresolved(struct bus *bus, const char *why, void *arg)
{
	(void)bus;
	struct sender *s = arg;
	if (loop_stopped(s->loop))
		return;
	fprintf(stderr, "tasker send: %s; nothing was sent\n", why);
	finish(s, EXIT_FAIL);
}

/* A status message, live or from the history: ours if it carries one of
 * our request ids, fits that command, and the command has no answer yet. */
static void take_reply(struct sender *s, const char *data, size_t len,
		       const struct reply_check *chk)
{
	struct status_view v;
	char err[200];
	if (loop_stopped(s->loop) || codec_decode_status(data, len, &v, err, sizeof(err)) < 0)
		return;
	for (size_t i = 0; v.request_id != NULL && i < s->nmsgs; i++) {
		struct outgoing *m = &s->msgs[i];
		if (strcmp(m->request_id, v.request_id) != 0 || m->outcome >= 0)
			continue;
		if (!reply_fits(m->verb, &v)) {
			if (s->verbose) {
				char note[600];
				snprintf(note, sizeof(note),
					 "tasker send: ignored a reply for request_id %s that does not fit "
					 "/%s: verb %.100s, status %.100s%s%.100s",
					 m->request_id, m->verb, v.verb ? v.verb : "(none)",
					 v.status ? v.status : "(none)", v.type ? ", type " : "",
					 v.type ? v.type : "");
				tools_print_human(stderr, note, strlen(note));
			}
			continue;
		}
		/* A reply that is not the node's own (docs/security.md, "Checking
		 * replies") is not the answer: keep waiting for the real one. */
		if (!reply_acceptable(chk)) {
			char note[900];
			m->spoofed++;
			snprintf(note, sizeof(note),
				 "tasker send: ignored an %s reply for request_id %s claiming node "
				 "%.128s (%s): %.300s; still waiting for a verified one",
				 reply_verdict_word(chk), m->request_id,
				 chk->node ? chk->node : "(none)",
				 chk->why[0] ? chk->why : "the node is not in the trust file",
				 v.status ? v.status : "");
			tools_print_human(stderr, note, strlen(note));
			continue;
		}
		if (chk->verdict != REPLY_VERIFIED) {
			char note[500];
			snprintf(note, sizeof(note),
				 "tasker send: took an %s reply for request_id %s from node %.128s: no "
				 "key is pinned or published for that node, so anyone could have "
				 "sent it (pin executors' keys with --trust)",
				 chk->verdict == REPLY_UNSIGNED ? "unsigned" : "unverified",
				 m->request_id, chk->node ? chk->node : "(none)");
			tools_print_human(stderr, note, strlen(note));
		}
		if (s->raw) {
			fwrite(data, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			char desc[1200], line[1300], clock[16];
			tools_clock(&v, clock, sizeof(clock));
			tools_describe_status(&v, desc, sizeof(desc));
			snprintf(line, sizeof(line), "%s  %s", clock, desc);
			tools_print_human(stdout, line, strlen(line));
		}
		fflush(stdout);
		int outcome = codec_status_outcome(strcmp(v.type, "task_list") == 0 ? "listed"
										    : v.status);
		if (outcome >= 0) {
			m->outcome = outcome;
			if (++s->nanswered == s->nmsgs)
				finish(s, final_code(s));
		}
	}
	codec_status_view_free(&v);
}

static void on_checked(const char *data, size_t len, const struct reply_check *c, void *arg)
{
	take_reply(arg, data, len, c);
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	(void)channel;
	struct sender *s = arg;
	reply_trust_check(s->trust, data, len, on_checked, s);
}

static void on_history_message(const char *data, size_t len, void *arg)
{
	struct sender *s = arg;
	if (!loop_stopped(s->loop))
		reply_trust_check(s->trust, data, len, on_checked, s);
}

static void on_history_done(const char *error, size_t replayed, void *arg)
{
	struct sender *s = arg;
	if (error != NULL && s->verbose)
		fprintf(stderr, "tasker send: cannot read the history stream: %s\n", error);
	else
		log_debug("read %zu status message(s) from the history", replayed);
}

static void on_timeout(struct loop *loop, void *arg)
{
	(void)loop;
	struct sender *s = arg;
	if (!s->sent || s->npublished < s->nmsgs) {
		fprintf(stderr, "tasker send: could not publish within %lld s: %s\n",
			(long long)(s->timeout_ms / 1000), bus_status(s->bus));
		finish(s, EXIT_FAIL);
		return;
	}
	fprintf(stderr,
		"tasker send: no reply within %lld s for %zu of %zu message(s); is an executor "
		"(tasker exec) running on %s?\n",
		(long long)(s->timeout_ms / 1000), s->nmsgs - s->nanswered, s->nmsgs,
		s->cfg->channel);
	for (size_t i = 0; i < s->nmsgs; i++)
		if (s->msgs[i].outcome < 0 && s->msgs[i].spoofed > 0)
			fprintf(stderr,
				"tasker send: request_id %s had %d unverified reply(ies) and no "
				"verified one (a forgery, or an executor whose key is not the one "
				"pinned or published)\n",
				s->msgs[i].request_id, s->msgs[i].spoofed);
	finish(s, EXIT_TIMEOUT);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	loop_stop(loop, EXIT_FAIL);
}

/* The verb of a finished envelope as the executor will read and echo it:
 * the same decoder, so the same lowercasing. */
static void set_verb(struct outgoing *m)
{
	struct envelope env;
	char err[300];
	codec_decode_command(m->json, strlen(m->json), &env, err, sizeof(err));
	snprintf(m->verb, sizeof(m->verb), "%s", env.verb ? env.verb : "");
	codec_envelope_free(&env);
}

/* Builds one outgoing message from a slash line; prints errors after
 * where ("line 3: ", or "" for a lone command). */
static int add_line(struct sender *s, const char *line, size_t len, const char *where)
{
	struct slash_line parsed;
	struct slash_error e;
	if (slash_parse(line, len, &parsed, &e) < 0) {
		fprintf(stderr, "tasker send: %s%s\n", where, e.message);
		return EXIT_USAGE;
	}
	if (parsed.verb == NULL) {
		slash_line_free(&parsed);
		fprintf(stderr, "tasker send: %sa command starts with /VERB (as in /start "
				"--task=api); this line has none\n", where);
		return EXIT_USAGE;
	}
	if (s->wait && slash_param_get(&parsed, "ttl") == NULL) {
		parsed.params = xrealloc(parsed.params, (parsed.nparams + 1) * sizeof(*parsed.params));
		parsed.params[parsed.nparams].key = xstrdup("ttl");
		parsed.params[parsed.nparams].value = xstrdup(s->ttl);
		parsed.nparams++;
		parsed.has_params = true;
	}
	struct outgoing *m = &s->msgs[s->nmsgs++];
	*m = (struct outgoing){.owner = s, .outcome = -1};
	util_random_id(m->request_id);
	m->json = codec_encode_command(&parsed, s->cfg->agent_id, m->request_id, util_wall_ms());
	slash_line_free(&parsed);
	set_verb(m);
	return EXIT_OK;
}

/* Takes a raw JSON envelope, fills in what is missing, and validates it
 * with the same decoder the executor uses. */
static int add_json(struct sender *s, const char *text, size_t len, const char *where)
{
	struct envelope env;
	char err[300];
	int ok = codec_decode_command(text, len, &env, err, sizeof(err));
	codec_envelope_free(&env);
	if (ok < 0) {
		fprintf(stderr, "tasker send: %s%s\n", where, err);
		return EXIT_USAGE;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "request_id");
	if (cJSON_IsString(rid)) {
		/* Executors answer a request_id once: a second one would wait forever. */
		for (size_t i = 0; i < s->nmsgs; i++) {
			if (strcmp(s->msgs[i].request_id, rid->valuestring) == 0) {
				fprintf(stderr, "tasker send: %srequest_id %.80s appears twice\n", where,
					rid->valuestring);
				cJSON_Delete(root);
				return EXIT_USAGE;
			}
		}
	}
	struct outgoing *m = &s->msgs[s->nmsgs++];
	*m = (struct outgoing){.owner = s, .outcome = -1};
	if (cJSON_IsString(rid)) {
		snprintf(m->request_id, sizeof(m->request_id), "%s", rid->valuestring);
	} else {
		cJSON_DeleteItemFromObjectCaseSensitive(root, "request_id");
		util_random_id(m->request_id);
		cJSON_AddStringToObject(root, "request_id", m->request_id);
	}
	if (!cJSON_HasObjectItem(root, "agent_id"))
		cJSON_AddStringToObject(root, "agent_id", s->cfg->agent_id);
	if (!cJSON_HasObjectItem(root, "timestamp")) {
		char stamp[40];
		util_iso_time(util_wall_ms(), stamp, sizeof(stamp));
		cJSON_AddStringToObject(root, "timestamp", stamp);
	}
	if (s->wait) {
		/* A null params or ttl means "not given" (protocol.md, section 3). */
		cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
		if (!cJSON_IsObject(params)) {
			cJSON_DeleteItemFromObjectCaseSensitive(root, "params");
			params = cJSON_AddObjectToObject(root, "params");
		}
		const cJSON *ttl = cJSON_GetObjectItemCaseSensitive(params, "ttl");
		if (ttl == NULL || cJSON_IsNull(ttl)) {
			cJSON_DeleteItemFromObjectCaseSensitive(params, "ttl");
			cJSON_AddStringToObject(params, "ttl", s->ttl);
		}
	}
	m->json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	set_verb(m);
	return EXIT_OK;
}

static void grow(struct sender *s, size_t *cap)
{
	if (s->nmsgs == *cap) {
		*cap = *cap ? *cap * 2 : 8;
		s->msgs = xrealloc(s->msgs, *cap * sizeof(*s->msgs));
	}
}

int tool_send(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
		{"wait", optional_argument, NULL, 'w'},
		{"json", required_argument, NULL, 'J'},
		{"raw", no_argument, NULL, 'r'},
		{"publish-only", no_argument, NULL, 'P'},
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sender s = {.cfg = cfg, .timeout_ms = 10000};
	const char *json = NULL;
	struct option *opts = config_options(own);
	int c, rc = EXIT_OK;
	while ((c = tools_getopt(cfg, argc, argv, "+w::J:rPvh", opts, "send")) != -1) {
		char *end;
		switch (c) {
		case 'w':
			s.wait = true;
			if (optarg != NULL) {
				double secs = strtod(optarg, &end);
				if (*optarg == '\0' || *end != '\0' || !(secs >= 0.001 && secs <= 86400)) {
					free(opts);
					return tools_usage_error("send", "--wait takes seconds, from 0.001 to 86400");
				}
				s.timeout_ms = (int64_t)(secs * 1000 + 0.5);
			}
			break;
		case 'J':
			json = optarg;
			break;
		case 'r':
			s.raw = true;
			break;
		case 'P':
			s.publish_only = true;
			break;
		case 'v':
			s.verbose = true;
			break;
		case 'h':
			fputs(send_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if ((rc = tools_finish_config(cfg, "send")) != 0)
		return rc;
	tools_use_locale();
	ttl_text(s.timeout_ms, s.ttl, sizeof(s.ttl));

	/* Every command is built (and every bad one named) before anything is
	 * sent: a batch goes out whole or not at all. */
	size_t cap = 0, bad = 0, total = 0;
	char where[64];
	if (json != NULL) {
		if (optind < argc)
			return tools_usage_error("send", "give either --json TEXT or a LINE, not both");
		grow(&s, &cap);
		rc = add_json(&s, json, strlen(json), "");
	} else if (optind == argc - 1 && strcmp(argv[optind], "-") == 0) {
		char *line = NULL;
		size_t lcap = 0, lineno = 0;
		ssize_t n;
		while ((n = getline(&line, &lcap, stdin)) >= 0) {
			lineno++;
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				n--;
			size_t skip = strspn(line, " \t");
			if ((size_t)n == skip)
				continue; /* blank lines separate nothing */
			grow(&s, &cap);
			snprintf(where, sizeof(where), "line %zu: ", lineno);
			total++;
			if ((line[skip] == '{' ? add_json(&s, line, (size_t)n, where)
					       : add_line(&s, line, (size_t)n, where)) != EXIT_OK)
				bad++;
		}
		free(line);
	} else if (optind < argc) {
		/* One command per group of words, a group starting at each word
		 * that begins with /VERB: two commands never merge into one. */
		for (int first = optind; first < argc;) {
			int end = tools_command_end(argc, argv, first);
			total++;
			char *joined = tools_join_args(end, argv, first);
			grow(&s, &cap);
			if (first == optind && end == argc)
				where[0] = '\0'; /* a lone command: no need to say which */
			else
				snprintf(where, sizeof(where), "command %zu (word %d): ", total,
					 first - optind + 1);
			if (add_line(&s, joined, strlen(joined), where) != EXIT_OK)
				bad++;
			free(joined);
			first = end;
		}
	} else {
		return tools_usage_error("send", "give a LINE, --json TEXT, or - for stdin");
	}
	if (bad > 0) {
		if (total > 1)
			fprintf(stderr, "tasker send: %zu of %zu commands refused; nothing was sent\n",
				bad, total);
		rc = EXIT_USAGE;
	}

	if (rc == EXIT_OK && s.nmsgs == 0)
		rc = tools_usage_error("send", "stdin held no message");
	/* Signed last, over the exact bytes built above (--key, TASKER_KEY). */
	for (size_t i = 0; rc == EXIT_OK && i < s.nmsgs; i++) {
		char err[400];
		if (tools_sign_command(cfg->key_path, &s.msgs[i].json, err, sizeof(err)) < 0) {
			fprintf(stderr, "tasker send: %s; nothing was sent\n", err);
			rc = EXIT_USAGE;
		}
	}
	if (rc == EXIT_OK) {
		if (s.wait) {
			char terr[400];
			s.trust = reply_trust_new(NULL, cfg->trust_path, terr, sizeof(terr));
			if (s.trust == NULL) {
				fprintf(stderr, "tasker send: %s\n", terr);
				rc = EXIT_USAGE;
				goto out;
			}
		}
		s.loop = loop_new();
		loop_signal(s.loop, SIGINT, on_signal, NULL);
		loop_signal(s.loop, SIGTERM, on_signal, NULL);
		signal(SIGPIPE, SIG_IGN);
		struct bus_handlers h = {.on_message = s.wait ? on_message : NULL,
					 .on_state = on_state,
					 .on_unresolved = on_unresolved};
		s.prefix = fleet_admit_prefix(cfg->channel);
		s.bus = bus_new(s.loop, &cfg->redis, &h, &s);
		if (s.trust != NULL)
			reply_trust_use_bus(s.trust, s.bus);
		/* Everything goes out once the bus is ready (on_state): the
		 * admissions need the connection up, not just a queue. */
		if (s.wait) {
			s.history = history_read_new(s.bus, cfg->status_channel, false,
						     on_history_message, on_history_done, &s);
			bus_subscribe(s.bus, cfg->status_channel);
		}
		for (size_t i = 0; s.verbose && i < s.nmsgs; i++)
			fprintf(stderr, "tasker send: %s\n", s.msgs[i].json);
		for (size_t i = 0; s.verbose && i < s.nmsgs; i++)
			fprintf(stderr, "tasker send: request_id %s\n", s.msgs[i].request_id);
		loop_timer_add(s.loop, s.timeout_ms, on_timeout, &s);
		rc = loop_run(s.loop);
		bus_free(s.bus);
		history_read_free(s.history);
		reply_trust_free(s.trust);
		loop_free(s.loop);
		free(s.prefix);
	}
out:
	for (size_t i = 0; i < s.nmsgs; i++)
		free(s.msgs[i].json);
	free(s.msgs);
	return rc < 0 ? EXIT_FAIL : rc;
}
