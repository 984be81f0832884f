/*
 * tool_audit: `tasker audit` reads the audit stream (audit.h): every
 * decision executors took about who may do what, oldest first, as lines
 * for a person or, with --json, as the entries' exact JSON.
 *
 * Must not: print text from Redis raw to a terminal (tools_print_human
 * escapes it), or wait forever for a Redis that does not answer.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "audit.h"
#include "bus.h"
#include "history.h"
#include "loop.h"
#include "tools.h"
#include "util.h"

static const char audit_help[] =
	"Usage: tasker audit [--since WHEN] [--agent NAME] [--json]\n"
	"\n"
	"Prints the decisions executors took about commands (allowed or refused, by\n"
	"whom, what, why), oldest first, from the Redis stream " AUDIT_KEY "\n"
	"(the last 100,000 or so are kept). See docs/security.md, \"Audit\".\n"
	"\n"
	"  --since WHEN   from WHEN on: a duration before now (30s, 10m, 2h, 1d, 1h30m)\n"
	"                 or an ISO-8601 time with its zone (default: 1h)\n"
	"  --agent NAME   only the decisions about the agent NAME (the policy's name\n"
	"                 for the signing key; \"unsigned\" for unsigned commands)\n"
	"  --json         one entry per line, as stored (JSON)\n"
	"  -h, --help     show this help\n"
	"\n"
	"Exit status: 0 read (even when nothing matched), 1 Redis unreachable or the\n"
	"stream unreadable, 2 bad usage.\n";

#define PAGE 500
#define TIMEOUT_MS 10000

struct audit_read {
	struct loop *loop;
	struct bus *bus;
	const char *agent;
	bool json, asked;
	char next[64]; /* the first id of the next page */
	size_t shown;
};

static bool matches(const struct audit_read *r, const cJSON *obj)
{
	if (r->agent == NULL)
		return true;
	const cJSON *agent = cJSON_GetObjectItemCaseSensitive(obj, "agent");
	const cJSON *key = cJSON_GetObjectItemCaseSensitive(obj, "key");
	if (cJSON_IsString(agent))
		return strcmp(agent->valuestring, r->agent) == 0;
	return strcmp(r->agent, "unsigned") == 0 && !cJSON_IsString(key);
}

static const char *text_of(const cJSON *obj, const char *name, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, name);
	return cJSON_IsString(v) ? v->valuestring : def;
}

static void show(struct audit_read *r, const char *data, size_t len)
{
	cJSON *obj = cJSON_ParseWithLength(data, len);
	if (!cJSON_IsObject(obj) || !matches(r, obj)) {
		cJSON_Delete(obj);
		return;
	}
	r->shown++;
	if (r->json) {
		fwrite(data, 1, len, stdout);
		fputc('\n', stdout);
		cJSON_Delete(obj);
		return;
	}
	const char *decision = text_of(obj, "decision", "?");
	bool allowed = strcmp(decision, "allow") == 0;
	const char *who = text_of(obj, "agent", NULL);
	char whobuf[120];
	if (who == NULL) {
		const char *key = text_of(obj, "key", NULL);
		snprintf(whobuf, sizeof(whobuf), "%s", key ? "unknown key" : "unsigned");
		who = whobuf;
	}
	const char *task = text_of(obj, "task", NULL);
	char *line = xasprintf("%s %s %s%s%s: %s %s%s%s (request %s): %s", text_of(obj, "time", "?"),
			       text_of(obj, "node", "?"), allowed ? "ALLOW" : "DENY",
			       allowed ? "" : " ", allowed ? "" : text_of(obj, "status", "?"), who,
			       text_of(obj, "verb", "?"), task ? " " : "", task ? task : "",
			       text_of(obj, "request_id", "-"), text_of(obj, "reason", ""));
	tools_print_human(stdout, line, strlen(line));
	free(line);
	cJSON_Delete(obj);
}

static void ask(struct audit_read *r);

static void on_page(struct bus *bus, redisReply *reply, void *arg)
{
	(void)bus;
	struct audit_read *r = arg;
	if (loop_stopped(r->loop))
		return;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "tasker audit: cannot read %s: %s\n", AUDIT_KEY,
			reply ? reply->str : "the connection went");
		loop_stop(r->loop, EXIT_FAIL);
		return;
	}
	struct history_entry e[PAGE];
	long n = history_entries(reply, e, PAGE);
	if (n < 0) {
		fprintf(stderr, "tasker audit: %s is not a stream\n", AUDIT_KEY);
		loop_stop(r->loop, EXIT_FAIL);
		return;
	}
	for (long i = 0; i < n && i < PAGE; i++)
		if (e[i].data != NULL)
			show(r, e[i].data, e[i].len);
	if (n < PAGE) {
		fflush(stdout);
		loop_stop(r->loop, EXIT_OK);
		return;
	}
	/* The next page starts after the last id ("(" excludes it). */
	snprintf(r->next, sizeof(r->next), "(%s", e[PAGE - 1].id);
	ask(r);
}

static void ask(struct audit_read *r)
{
	const char *argv[6] = {"XRANGE", AUDIT_KEY, r->next, "+", "COUNT", "500"};
	size_t lens[6];
	for (int i = 0; i < 6; i++)
		lens[i] = strlen(argv[i]);
	if (bus_command(r->bus, 6, argv, lens, on_page, r) < 0)
		r->asked = false; /* again when the bus is ready */
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	(void)why;
	struct audit_read *r = arg;
	if (ready && !r->asked) {
		r->asked = true;
		ask(r);
	}
}

static void on_unresolved(struct bus *bus, const char *why, void *arg)
{
	(void)bus;
	struct audit_read *r = arg;
	fprintf(stderr, "tasker audit: %s\n", why);
	loop_stop(r->loop, EXIT_FAIL);
}

static void on_timeout(struct loop *loop, void *arg)
{
	struct audit_read *r = arg;
	fprintf(stderr, "tasker audit: Redis did not answer within %d s (%s)\n", TIMEOUT_MS / 1000,
		bus_status(r->bus));
	loop_stop(loop, EXIT_FAIL);
}

int tool_audit(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
		{"since", required_argument, NULL, 's'},
		{"agent", required_argument, NULL, 'a'},
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct audit_read r = {0};
	const char *since = "1h";
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+h", opts, "audit")) != -1) {
		switch (c) {
		case 's':
			since = optarg;
			break;
		case 'a':
			r.agent = optarg;
			break;
		case 'j':
			r.json = true;
			break;
		case 'h':
			fputs(audit_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if (optind < argc)
		return tools_usage_error("audit", "takes no arguments");
	int64_t since_ms;
	char err[300];
	if (history_parse_since(since, util_wall_ms(), &since_ms, err, sizeof(err)) < 0) {
		char msg[360];
		snprintf(msg, sizeof(msg), "--since: %s", err);
		return tools_usage_error("audit", msg);
	}
	int rc = tools_finish_config(cfg, "audit");
	if (rc != 0)
		return rc;
	tools_use_locale();
	history_id_at(since_ms, r.next, sizeof(r.next));
	r.loop = loop_new();
	signal(SIGPIPE, SIG_IGN);
	struct bus_handlers h = {.on_state = on_state, .on_unresolved = on_unresolved};
	r.bus = bus_new(r.loop, &cfg->redis, &h, &r);
	loop_timer_add(r.loop, TIMEOUT_MS, on_timeout, &r);
	rc = loop_run(r.loop);
	bus_free(r.bus);
	loop_free(r.loop);
	return rc < 0 ? EXIT_FAIL : rc;
}
