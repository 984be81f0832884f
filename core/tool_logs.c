/*
 * tool_logs: `tasker logs TASK` sends a logs command (docs/protocol.md,
 * section 12), prints the lines of the reply, and with --follow reads the
 * follow stream (XREAD BLOCK on the bus's reader connection) until its end
 * entry, or Ctrl-C.
 *
 * It sends and waits the way `tasker send --wait` does, on the same
 * pieces: the envelope from codec_encode_command, the subscription before
 * the publish, the command admitted into the fleet's stream
 * (fleet_admit.h) and then published, the history stream read again
 * after a reconnect (a reply that went out while we were away is still
 * found), and a reply counted only when it fits the command (verb logs, a
 * status logs can have).
 * Without --node the command may be answered by several nodes (each
 * that holds the task): replies are gathered for a moment after the first.
 *
 * Must not: print text from Redis raw to a terminal (text_escape; --json
 * prints exact JSON instead).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "command_check.h"
#include "fleet_admit.h"
#include "history_read.h"
#include "log.h"
#include "loop.h"
#include "slash.h"
#include "text.h"
#include "tools.h"
#include "util.h"

#define GATHER_MS 300           /* more replies after the first, without --node */
#define HISTORY_MARGIN_MS 10000 /* as tool_send.c: the stream's clock is Redis's */
#define FOLLOW_DEFAULT_S 600
#define FOLLOW_GRACE_MS 30000 /* past the follow, the end entry is overdue */
#define MAX_REPLIES 64

static const char logs_help[] =
    "Usage: tasker logs [OPTIONS] TASK\n"
    "       tasker logs [OPTIONS] --pm_id N --node NODE\n"
    "\n"
    "Prints the last lines of TASK's PM2 logs (stdout and stderr), as read by the\n"
    "node that holds it, and with --follow the lines written afterwards.\n"
    "\n"
    "  -n, --lines N           how many of the last lines, 0 to 5000 (default 100);\n"
    "                          when both streams have more, each gets a fair share\n"
    "  -f, --follow[=SECONDS]  then print new lines for SECONDS, 1 to 3600 (default\n"
    "                          600), until the node ends the stream or Ctrl-C\n"
    "      --node NODE         ask that node (default: every node holding TASK)\n"
    "      --pm_id N           the process with PM2's id N instead of a TASK (a name\n"
    "                          tasker refuses, like \"my app\"); with several nodes,\n"
    "                          name its --node\n"
    "  -j, --json              print each reply as received (JSON), then each stream\n"
    "                          entry as {\"s\":...,\"l\":...} or {\"end\":...}\n"
    "  -w, --wait SECONDS      wait this long for the reply (default 10)\n"
    "  -h, --help              show this help\n"
    "\n"
    "stdout lines go to stdout, stderr lines to stderr; with replies from several\n"
    "nodes each of their lines starts with its node (the follow stream's do not).\n"
    "Control characters and bytes that are not text are shown as escapes (\\x1b,\n"
    "\\n), never sent to the terminal (--json: exact).\n"
    "A reply that left older lines out (the reply stays under 256 KiB) says so on\n"
    "stderr.\n"
    "\n"
    "Exit status: 0 the lines were printed (a follow ended: timeout, the task\n"
    "deleted, or Ctrl-C), 1 an error reply (not_found, invalid, busy, error) or\n"
    "Redis unreachable, 2 bad usage, 3 no reply in time (also at once when nobody\n"
    "listens on the channel), or a follow stream that did not end.\n"
    "\n"
    "Examples:\n"
    "  tasker logs api\n"
    "  tasker logs --lines 20 --follow=60 --node web-2 api\n";

struct logs_tool {
	struct loop *loop;
	struct bus *bus;
	struct history_read *history;
	struct config *cfg;
	char *json; /* the command */
	char request_id[33];
	bool json_out, sent, gathered, following, reading;
	bool admitting, published; /* the command on its way (send_command) */
	const char *node;
	long follow;
	int64_t wait_ms, sent_ms;
	struct loop_timer *gather, *deadline;
	/* The replies, one per node. */
	char *reply_node[MAX_REPLIES];
	size_t nreplies;
	int rc;
	/* The follow. */
	char *stream;
	char last_id[64];
	size_t ends_wanted, ends;
	bool end_error;
	bool many; /* several nodes: lines start with the node */
};

static void finish(struct logs_tool *t, int rc)
{
	if (!loop_stopped(t->loop))
		loop_stop(t->loop, rc);
}

/* Prints text[0..len) escaped for a terminal, after prefix. */
static void print_line(FILE *out, const char *prefix, const char *text, size_t len)
{
	/* text_escape: at most 10 bytes out for a character of 1 to 4 bytes. */
	static char buf[10 * 4096 + 64];
	if (len > 4096)
		len = text_utf8_trim(text, 4096);
	text_escape(text, len, SIZE_MAX, buf, sizeof(buf));
	fprintf(out, "%s%s\n", prefix, buf);
}

static void print_entry(struct logs_tool *t, const char *node, const char *s, const char *l,
                        size_t len)
{
	if (t->json_out) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "s", s);
		cJSON_AddItemToObject(o, "l", cJSON_CreateString(l));
		char *j = cJSON_PrintUnformatted(o);
		printf("%s\n", j);
		free(j);
		cJSON_Delete(o);
		fflush(stdout);
		return;
	}
	char prefix[160] = "";
	if (t->many && node != NULL) {
		char esc[140];
		text_escape(node, strlen(node), 60, esc, sizeof(esc));
		snprintf(prefix, sizeof(prefix), "%s: ", esc);
	}
	FILE *out = strcmp(s, "err") == 0 ? stderr : stdout;
	print_line(out, prefix, l, len);
	fflush(out);
}

/* --- the follow stream -------------------------------------------------------- */

static void read_stream(struct logs_tool *t);

static void on_stream(struct bus *bus, redisReply *r, void *arg)
{
	(void)bus;
	struct logs_tool *t = arg;
	t->reading = false;
	if (loop_stopped(t->loop))
		return;
	if (r == NULL)
		return; /* the reader connection went: read again once it is back */
	if (r->type == REDIS_REPLY_ERROR) {
		fprintf(stderr, "tasker logs: cannot read the follow stream: %s\n", r->str);
		finish(t, EXIT_FAIL);
		return;
	}
	/* [[key, [[id, [field, value, ...]], ...]]] or nil after BLOCK. */
	if (r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_ARRAY && r->element[0]->elements == 2) {
		const redisReply *entries = r->element[0]->element[1];
		for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements;
		     i++) {
			const redisReply *e = entries->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING ||
			    e->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			snprintf(t->last_id, sizeof(t->last_id), "%s", e->element[0]->str);
			const redisReply *fv = e->element[1];
			const char *s = NULL, *end = NULL, *l = NULL;
			size_t llen = 0;
			for (size_t k = 0; k + 1 < fv->elements; k += 2) {
				const redisReply *f = fv->element[k], *v = fv->element[k + 1];
				if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
					continue;
				if (strcmp(f->str, "s") == 0)
					s = v->str;
				else if (strcmp(f->str, "l") == 0)
					l = v->str, llen = v->len;
				else if (strcmp(f->str, "end") == 0)
					end = v->str;
			}
			if (end != NULL) {
				if (t->json_out) {
					cJSON *o = cJSON_CreateObject();
					cJSON_AddStringToObject(o, "end", end);
					char *j = cJSON_PrintUnformatted(o);
					printf("%s\n", j);
					free(j);
					cJSON_Delete(o);
					fflush(stdout);
				} else {
					print_line(stderr, "tasker logs: the follow ended: ", end,
					           strlen(end));
				}
				if (strncmp(end, "error", 5) == 0)
					t->end_error = true;
				if (++t->ends >= t->ends_wanted) {
					finish(t, t->end_error ? EXIT_FAIL : t->rc);
					return;
				}
			} else if (s != NULL && l != NULL) {
				/* The stream carries no node: with several, none is named. */
				print_entry(t, NULL, strcmp(s, "err") == 0 ? "err" : "out", l,
				            llen);
			}
		}
	}
	read_stream(t);
}

static void read_stream(struct logs_tool *t)
{
	if (t->reading || !t->following || loop_stopped(t->loop))
		return;
	const char *argv[8] = {"XREAD", "COUNT",   "1000",    "BLOCK",
	                       "1000",  "STREAMS", t->stream, t->last_id};
	size_t lens[8];
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (bus_reader_command(t->bus, 8, argv, lens, on_stream, t) == 0)
		t->reading = true;
}

static void on_reader(struct bus *bus, bool up, void *arg)
{
	(void)bus;
	struct logs_tool *t = arg;
	if (up)
		read_stream(t);
}

/* --- the replies ----------------------------------------------------------------- */

static void on_follow_overdue(struct loop *loop, void *arg)
{
	(void)loop;
	struct logs_tool *t = arg;
	t->deadline = NULL;
	fprintf(stderr, "tasker logs: the follow stream %s did not end within %ld s\n", t->stream,
	        t->follow + FOLLOW_GRACE_MS / 1000);
	finish(t, EXIT_TIMEOUT);
}

static void on_gathered(struct loop *loop, void *arg)
{
	struct logs_tool *t = arg;
	t->gather = NULL;
	t->gathered = true;
	if (t->ends_wanted == 0 || t->stream == NULL) {
		finish(t, t->rc);
		return;
	}
	t->following = true;
	loop_timer_cancel(t->deadline);
	t->deadline =
	    loop_timer_add(loop, t->follow * 1000 + FOLLOW_GRACE_MS, on_follow_overdue, t);
	read_stream(t);
}

static bool status_fits(const char *status)
{
	static const char *const ok[] = {"ok",	   "not_found",	      "invalid", "error", "busy",
					 "expired", "denied", "unauthenticated", "replay",  "stale"};
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(status, ok[i]) == 0)
			return true;
	return false;
}

static void take_reply(struct logs_tool *t, const char *data, size_t len)
{
	if (t->gathered)
		return;
	struct status_view v;
	char err[200];
	if (codec_decode_status(data, len, &v, err, sizeof(err)) < 0)
		return;
	if (v.request_id == NULL || strcmp(v.request_id, t->request_id) != 0 || v.verb == NULL ||
	    strcmp(v.verb, "logs") != 0 || v.status == NULL || v.type == NULL ||
	    strcmp(v.type, "task_status") != 0 || !status_fits(v.status)) {
		codec_status_view_free(&v);
		return;
	}
	/* One reply per node: a reply seen live and in the history is one. */
	const char *node = v.node ? v.node : "";
	for (size_t i = 0; i < t->nreplies; i++) {
		if (strcmp(t->reply_node[i], node) == 0) {
			codec_status_view_free(&v);
			return;
		}
	}
	if (t->nreplies == MAX_REPLIES) {
		codec_status_view_free(&v);
		return;
	}
	t->reply_node[t->nreplies++] = xstrdup(node);
	if (t->nreplies == 2)
		t->many = true;
	if (t->json_out) {
		fwrite(data, 1, len, stdout);
		fputc('\n', stdout);
		fflush(stdout);
	}
	if (strcmp(v.status, "ok") != 0) {
		t->rc = EXIT_FAIL;
		if (!t->json_out) {
			char desc[1200];
			tools_describe_status(&v, desc, sizeof(desc));
			fputs("tasker logs: ", stderr);
			tools_print_human(stderr, desc, strlen(desc));
		}
	} else {
		const cJSON *lines = cJSON_GetObjectItemCaseSensitive(v.root, "lines");
		const cJSON *l;
		if (!t->json_out) {
			cJSON_ArrayForEach(l, lines)
			{
				const cJSON *s = cJSON_GetObjectItemCaseSensitive(l, "s");
				const cJSON *text = cJSON_GetObjectItemCaseSensitive(l, "l");
				if (!cJSON_IsString(s) || !cJSON_IsString(text))
					continue;
				print_entry(t, v.node, s->valuestring, text->valuestring,
				            strlen(text->valuestring));
			}
			if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v.root, "truncated")))
				fprintf(stderr, "tasker logs: older lines were left out (the reply "
				                "stays under 256 KiB)\n");
		}
		const cJSON *stream = cJSON_GetObjectItemCaseSensitive(v.root, "stream");
		if (t->follow > 0 && cJSON_IsString(stream)) {
			if (t->stream == NULL)
				t->stream = xstrdup(stream->valuestring);
			if (strcmp(t->stream, stream->valuestring) == 0)
				t->ends_wanted++;
		}
	}
	codec_status_view_free(&v);
	if (t->node != NULL || t->nreplies == MAX_REPLIES) {
		on_gathered(t->loop, t);
	} else if (t->gather == NULL) {
		t->gather = loop_timer_add(t->loop, GATHER_MS, on_gathered, t);
	}
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
                       void *arg)
{
	(void)bus;
	(void)channel;
	take_reply(arg, data, len);
}

static void on_history_message(const char *data, size_t len, void *arg)
{
	struct logs_tool *t = arg;
	if (!loop_stopped(t->loop))
		take_reply(t, data, len);
}

static void on_published(struct bus *bus, long long receivers, void *arg)
{
	(void)bus;
	struct logs_tool *t = arg;
	if (loop_stopped(t->loop))
		return;
	if (receivers < 0) {
		fprintf(stderr, "tasker logs: Redis did not accept the message\n");
		finish(t, EXIT_FAIL);
	} else if (receivers == 0) {
		fprintf(stderr,
		        "tasker logs: nobody is subscribed to %s: is an executor (tasker exec) "
		        "running on this Redis?\n",
		        t->cfg->channel);
		finish(t, EXIT_TIMEOUT);
	}
}

static void on_admitted(struct bus *bus, redisReply *r, void *arg)
{
	struct logs_tool *t = arg;
	if (loop_stopped(t->loop))
		return;
	t->admitting = false;
	if (fleet_admit_outcome(r) == FLEET_LOST)
		return; /* admitted again after the reconnect: the once key makes that harmless */
	/* In the fleet's stream, or refused there (then the executors that
	 * receive the PUBLISH admit it): published either way, as send does. */
	t->published = true;
	bus_publish(bus, t->cfg->channel, t->json, strlen(t->json), on_published, t);
}

/* The command goes into the fleet's intake stream (fleet_admit.h, the
 * script `tasker send` and the console use), then out by PUBLISH. */
static void send_command(struct logs_tool *t)
{
	if (t->published || t->admitting)
		return;
	char *prefix = fleet_admit_prefix(t->cfg->channel);
	struct fleet_admit adm;
	fleet_admit_build(&adm, prefix, t->json, strlen(t->json));
	if (bus_command(t->bus, FLEET_ADMIT_ARGC, adm.argv, adm.lens, on_admitted, t) == 0)
		t->admitting = true;
	fleet_admit_free(&adm);
	free(prefix);
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	struct logs_tool *t = arg;
	if (!ready) {
		log_debug("%s", why);
		return;
	}
	if (!t->sent) {
		t->sent = true;
		t->sent_ms = util_wall_ms();
	} else if (!t->gathered) {
		history_read_since(t->history, t->sent_ms - HISTORY_MARGIN_MS);
	}
	send_command(t);
}

static void on_unresolved(struct bus *bus, const char *why, void *arg)
{
	(void)bus;
	struct logs_tool *t = arg;
	if (loop_stopped(t->loop))
		return;
	fprintf(stderr, "tasker logs: %s; nothing was sent\n", why);
	finish(t, EXIT_FAIL);
}

static void on_wait_over(struct loop *loop, void *arg)
{
	(void)loop;
	struct logs_tool *t = arg;
	t->deadline = NULL;
	if (t->nreplies > 0)
		return; /* gathering */
	if (!t->sent) {
		fprintf(stderr, "tasker logs: could not publish within %lld s: %s\n",
		        (long long)(t->wait_ms / 1000), bus_status(t->bus));
		finish(t, EXIT_FAIL);
		return;
	}
	fprintf(stderr,
	        "tasker logs: no reply within %lld s; is an executor (tasker exec) running "
	        "on %s?\n",
	        (long long)(t->wait_ms / 1000), t->cfg->channel);
	finish(t, EXIT_TIMEOUT);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	(void)signo;
	struct logs_tool *t = arg;
	/* Ctrl-C is how a follow is left: not a failure then. */
	loop_stop(loop, t->following ? t->rc : EXIT_FAIL);
}

/* A whole number within [lo, hi] from an option's text. */
static bool parse_long(const char *s, long lo, long hi, long *out)
{
	char *end;
	if (s == NULL || *s == '\0' || !util_ascii_digit((unsigned char)*s))
		return false;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi)
		return false;
	*out = v;
	return true;
}

static void add_param(struct slash_line *l, const char *key, const char *value)
{
	l->params = xrealloc(l->params, (l->nparams + 1) * sizeof(*l->params));
	l->params[l->nparams].key = xstrdup(key);
	l->params[l->nparams].value = xstrdup(value);
	l->nparams++;
	l->has_params = true;
}

int tool_logs(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
	    {"lines", required_argument, NULL, 'n'},
	    {"follow", optional_argument, NULL, 'f'},
	    {"node", required_argument, NULL, 'N'},
	    {"pm_id", required_argument, NULL, 'P'},
	    {"json", no_argument, NULL, 'j'},
	    {"wait", required_argument, NULL, 'w'},
	    {"help", no_argument, NULL, 'h'},
	    {NULL, 0, NULL, 0},
	};
	struct logs_tool t = {.cfg = cfg, .wait_ms = 10000, .rc = EXIT_OK};
	long lines = CHECK_LOGS_LINES_DEFAULT, wait_s = 10, lines_unused;
	const char *pm_id = NULL;
	struct option *opts = config_options(own);
	int c;
	const char *bad = NULL;
	while ((c = tools_getopt(cfg, argc, argv, "n:f::jw:h", opts, "logs")) != -1) {
		switch (c) {
		case 'n':
			if (!parse_long(optarg, 0, CHECK_LOGS_LINES_MAX, &lines))
				bad = "--lines takes a whole number from 0 to 5000";
			break;
		case 'f':
			t.follow = FOLLOW_DEFAULT_S;
			if (optarg != NULL &&
			    !parse_long(optarg, 1, CHECK_LOGS_FOLLOW_MAX, &t.follow))
				bad = "--follow takes a whole number of seconds from 1 to 3600";
			break;
		case 'N':
			t.node = optarg;
			break;
		case 'P':
			pm_id = optarg;
			if (!parse_long(optarg, 0, 999999999, &lines_unused))
				bad = "--pm_id takes PM2's id of the process, a whole number from 0";
			break;
		case 'j':
			t.json_out = true;
			break;
		case 'w':
			if (!parse_long(optarg, 1, 86400, &wait_s))
				bad = "--wait takes a whole number of seconds from 1 to 86400";
			break;
		case 'h':
			fputs(logs_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
		if (bad != NULL) {
			free(opts);
			return tools_usage_error("logs", bad);
		}
	}
	free(opts);
	if (optind != argc - (pm_id ? 0 : 1))
		return tools_usage_error("logs", pm_id ? "give either TASK or --pm_id, not both"
						       : "give one TASK");
	const char *task = pm_id ? NULL : argv[optind];
	const char *problem = task ? check_task_name(task) : NULL;
	if (problem == NULL && t.node != NULL && check_task_name(t.node) != NULL)
		problem = "--node: a node name has the rules of a task name";
	if (problem != NULL)
		return tools_usage_error("logs", problem);
	int rc = tools_finish_config(cfg, "logs");
	if (rc != 0)
		return rc;
	tools_use_locale();
	t.wait_ms = wait_s * 1000;

	struct slash_line line = {.verb = xstrdup("logs")};
	char num[32];
	if (pm_id != NULL)
		add_param(&line, "pm_id", pm_id);
	else
		add_param(&line, "task", task);
	snprintf(num, sizeof(num), "%ld", lines);
	add_param(&line, "lines", num);
	if (t.follow > 0) {
		snprintf(num, sizeof(num), "%ld", t.follow);
		add_param(&line, "follow", num);
	}
	if (t.node != NULL)
		add_param(&line, "node", t.node);
	/* Not carried out once nobody waits for it any more. */
	snprintf(num, sizeof(num), "%ld", wait_s);
	add_param(&line, "ttl", num);
	util_random_id(t.request_id);
	t.json = codec_encode_command(&line, cfg->agent_id, t.request_id, util_wall_ms());
	slash_line_free(&line);
	snprintf(t.last_id, sizeof(t.last_id), "0");

	t.loop = loop_new();
	loop_signal(t.loop, SIGINT, on_signal, &t);
	loop_signal(t.loop, SIGTERM, on_signal, &t);
	signal(SIGPIPE, SIG_IGN);
	struct bus_handlers h = {
	    .on_message = on_message, .on_state = on_state, .on_unresolved = on_unresolved};
	t.bus = bus_new(t.loop, &cfg->redis, &h, &t);
	if (t.follow > 0)
		bus_reader_enable(t.bus, on_reader, &t);
	t.history =
	    history_read_new(t.bus, cfg->status_channel, false, on_history_message, NULL, &t);
	bus_subscribe(t.bus, cfg->status_channel);
	t.deadline = loop_timer_add(t.loop, t.wait_ms, on_wait_over, &t);
	rc = loop_run(t.loop);
	bus_free(t.bus);
	history_read_free(t.history);
	loop_free(t.loop);
	for (size_t i = 0; i < t.nreplies; i++)
		free(t.reply_node[i]);
	free(t.stream);
	free(t.json);
	return rc < 0 ? EXIT_FAIL : rc;
}
