/*
 * tool_result: `tasker result TASK` reads a one-shot task's result from
 * Redis (b00t:{tasker}:result:TASK, exec_result.h): exit code or signal,
 * start, end, duration, how long it is still kept, and its last lines of
 * output; --json prints the stored object with "ttl_left" added.
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

#include "bus.h"
#include "command_check.h"
#include "exec_result.h"
#include "loop.h"
#include "tools.h"
#include "util.h"

static const char result_help[] =
	"Usage: tasker result [--json] TASK\n"
	"\n"
	"Prints the result of the one-shot task TASK (started with autorestart=false):\n"
	"its exit code or the signal that ended it, start and end time, duration and\n"
	"its last 50 lines of stdout and stderr, kept in Redis under\n"
	"b00t:{tasker}:result:TASK for 7 days after it ended. See docs/protocol.md,\n"
	"section 14.\n"
	"\n"
	"  --json       the stored result as JSON, with ttl_left (seconds)\n"
	"  -h, --help   show this help\n"
	"\n"
	"Exit status: 0 printed, 1 no result for TASK or Redis unreachable, 2 bad usage.\n";

#define TIMEOUT_MS 10000

struct result_read {
	struct loop *loop;
	struct bus *bus;
	const char *task;
	char *key;
	bool json, asked;
	char *text; /* the GET's answer */
};

static void line(const char *s)
{
	tools_print_human(stdout, s, strlen(s));
}

static const char *str_of(const cJSON *o, const char *k, const char *def)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
	return cJSON_IsString(v) ? v->valuestring : def;
}

static void show_lines(const cJSON *o, const char *k, const char *label)
{
	const cJSON *arr = cJSON_GetObjectItemCaseSensitive(o, k);
	if (!cJSON_IsArray(arr) || cJSON_GetArraySize(arr) == 0)
		return;
	char *head = xasprintf("%s (last %d lines):", label, cJSON_GetArraySize(arr));
	line(head);
	free(head);
	const cJSON *e;
	cJSON_ArrayForEach(e, arr)
	{
		if (!cJSON_IsString(e))
			continue;
		char *l = xasprintf("  %s", e->valuestring);
		line(l);
		free(l);
	}
}

static int show(struct result_read *r, long long ttl)
{
	cJSON *o = cJSON_Parse(r->text);
	if (!cJSON_IsObject(o)) {
		cJSON_Delete(o);
		fprintf(stderr, "tasker result: %s does not hold a result\n", r->key);
		return EXIT_FAIL;
	}
	if (r->json) {
		cJSON_AddNumberToObject(o, "ttl_left", (double)ttl);
		char *s = cJSON_PrintUnformatted(o);
		if (s != NULL)
			puts(s);
		free(s);
		cJSON_Delete(o);
		return EXIT_OK;
	}
	const cJSON *code = cJSON_GetObjectItemCaseSensitive(o, "exit_code");
	const cJSON *dur = cJSON_GetObjectItemCaseSensitive(o, "duration_ms");
	char how[120];
	if (cJSON_IsNumber(code))
		snprintf(how, sizeof(how), "exited with code %d", code->valueint);
	else
		snprintf(how, sizeof(how), "ended by %.40s", str_of(o, "signal", "a signal"));
	char durs[64] = "?";
	if (cJSON_IsNumber(dur))
		snprintf(durs, sizeof(durs), "%.3f s", dur->valuedouble / 1000.0);
	char *s = xasprintf("%s on %s %s; started %s, ended %s (%s); kept %lld s more",
			    str_of(o, "task_name", r->task), str_of(o, "node", "?"), how,
			    str_of(o, "start_time", "?"), str_of(o, "end_time", "?"), durs, ttl);
	line(s);
	free(s);
	show_lines(o, "out", "stdout");
	show_lines(o, "err", "stderr");
	cJSON_Delete(o);
	return EXIT_OK;
}

static void on_ttl(struct bus *bus, redisReply *reply, void *arg)
{
	(void)bus;
	struct result_read *r = arg;
	if (loop_stopped(r->loop))
		return;
	long long ttl = reply != NULL && reply->type == REDIS_REPLY_INTEGER ? reply->integer : -1;
	int rc = show(r, ttl);
	fflush(stdout);
	loop_stop(r->loop, rc);
}

static void on_get(struct bus *bus, redisReply *reply, void *arg)
{
	struct result_read *r = arg;
	if (loop_stopped(r->loop))
		return;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "tasker result: cannot read %s: %s\n", r->key,
			reply ? reply->str : "the connection went");
		loop_stop(r->loop, EXIT_FAIL);
		return;
	}
	if (reply->type != REDIS_REPLY_STRING) {
		fprintf(stderr,
			"tasker result: no result for %s (not a one-shot task, not ended yet, or "
			"older than its TTL)\n",
			r->task);
		loop_stop(r->loop, EXIT_FAIL);
		return;
	}
	r->text = xstrdup(reply->str);
	const char *argv[2] = {"TTL", r->key};
	size_t lens[2] = {3, strlen(r->key)};
	if (bus_command(bus, 2, argv, lens, on_ttl, r) < 0)
		loop_stop(r->loop, show(r, -1));
}

static void ask(struct result_read *r)
{
	const char *argv[2] = {"GET", r->key};
	size_t lens[2] = {3, strlen(r->key)};
	if (bus_command(r->bus, 2, argv, lens, on_get, r) < 0)
		r->asked = false;
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	(void)why;
	struct result_read *r = arg;
	if (ready && !r->asked) {
		r->asked = true;
		ask(r);
	}
}

static void on_unresolved(struct bus *bus, const char *why, void *arg)
{
	(void)bus;
	struct result_read *r = arg;
	fprintf(stderr, "tasker result: %s\n", why);
	loop_stop(r->loop, EXIT_FAIL);
}

static void on_timeout(struct loop *loop, void *arg)
{
	struct result_read *r = arg;
	fprintf(stderr, "tasker result: Redis did not answer within %d s (%s)\n", TIMEOUT_MS / 1000,
		bus_status(r->bus));
	loop_stop(loop, EXIT_FAIL);
}

int tool_result(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
		{"json", no_argument, NULL, 'j'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct result_read r = {0};
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+h", opts, "result")) != -1) {
		switch (c) {
		case 'j':
			r.json = true;
			break;
		case 'h':
			fputs(result_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if (argc - optind != 1)
		return tools_usage_error("result", "give one TASK");
	r.task = argv[optind];
	const char *problem = check_task_name(r.task);
	if (problem != NULL)
		return tools_usage_error("result", problem);
	int rc = tools_finish_config(cfg, "result");
	if (rc != 0)
		return rc;
	tools_use_locale();
	r.key = xasprintf("%s%s", RESULT_PREFIX, r.task);
	r.loop = loop_new();
	signal(SIGPIPE, SIG_IGN);
	struct bus_handlers h = {.on_state = on_state, .on_unresolved = on_unresolved};
	r.bus = bus_new(r.loop, &cfg->redis, &h, &r);
	loop_timer_add(r.loop, TIMEOUT_MS, on_timeout, &r);
	rc = loop_run(r.loop);
	bus_free(r.bus);
	loop_free(r.loop);
	free(r.key);
	free(r.text);
	return rc < 0 ? EXIT_FAIL : rc;
}
