/*
 * tool_send: `tasker send` publishes command envelopes (from slash lines or
 * raw JSON) with a fresh request_id each, and with --wait prints the
 * replies that carry those ids. Subscribing happens before publishing, so
 * a fast executor's reply cannot be missed.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "loop.h"
#include "slash.h"
#include "tools.h"
#include "util.h"

static const char send_help[] =
	"Usage: tasker send [OPTIONS] LINE...\n"
	"       tasker send [OPTIONS] --json TEXT\n"
	"       tasker send [OPTIONS] -        (one message per stdin line: a slash\n"
	"                                    line, or a JSON envelope if it starts with {)\n"
	"\n"
	"Publishes a command on the command channel with a timestamp, agent_id and\n"
	"a fresh request_id (printed on stderr with -v).\n"
	"\n"
	"  -w, --wait[=SECONDS]  wait for the reply carrying the request_id (default 10 s)\n"
	"                        and print it\n"
	"  -J, --json TEXT       send TEXT, a JSON envelope; missing timestamp, agent_id\n"
	"                        and request_id are filled in\n"
	"  -r, --raw             print replies as raw JSON\n"
	"  -v, --verbose         print the envelope and request_id on stderr\n"
	"  -h, --help            show this help\n"
	"\n"
	"Exit status: 0 sent (with --wait: every reply a success), 1 an error reply\n"
	"or Redis unreachable, 2 bad usage or a parse error, 3 no reply in time\n"
	"(with --wait; also at once when nobody listens on the channel).\n"
	"\n"
	"Examples:\n"
	"  tasker send --wait '/start --task=api --command=\"node api.js\" --env_PORT=8080'\n"
	"  tasker send --json '{\"verb\":\"stop\",\"params\":{\"task\":\"api\"}}'\n";

struct outgoing {
	char *json;
	char request_id[260];
	bool published;
	int outcome; /* -1 pending, 0 error, 1 success */
};

struct sender {
	struct loop *loop;
	struct bus *bus;
	struct config *cfg;
	struct outgoing *msgs;
	size_t nmsgs, npublished, nanswered;
	bool wait, raw, verbose, sent;
	int64_t timeout_ms;
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

static void on_published(struct bus *bus, long long receivers, void *arg)
{
	(void)bus;
	struct sender *s = arg;
	if (loop_stopped(s->loop))
		return; /* shutting down: bus_free fails what is still queued */
	if (receivers < 0) {
		fprintf(stderr, "tasker send: Redis did not accept the message\n");
		finish(s, EXIT_FAIL);
		return;
	}
	s->npublished++;
	if (receivers == 0) {
		fprintf(stderr,
			"tasker send: nobody is subscribed to %s: is an executor (tasker exec) "
			"running on this Redis?\n",
			s->cfg->channel);
		if (s->wait) {
			finish(s, EXIT_TIMEOUT);
			return;
		}
	}
	if (!s->wait && s->npublished == s->nmsgs)
		finish(s, EXIT_OK);
}

static void publish_all(struct sender *s)
{
	if (s->sent)
		return;
	s->sent = true;
	for (size_t i = 0; i < s->nmsgs; i++) {
		if (s->verbose)
			fprintf(stderr, "tasker send: %s\n", s->msgs[i].json);
		bus_publish(s->bus, s->cfg->channel, s->msgs[i].json, strlen(s->msgs[i].json),
			    on_published, s);
	}
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	struct sender *s = arg;
	if (ready)
		publish_all(s);
	else
		log_debug("%s", why);
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	(void)channel;
	struct sender *s = arg;
	struct status_view v;
	char err[200];
	if (codec_decode_status(data, len, &v, err, sizeof(err)) < 0)
		return;
	for (size_t i = 0; v.request_id != NULL && i < s->nmsgs; i++) {
		struct outgoing *m = &s->msgs[i];
		if (strcmp(m->request_id, v.request_id) != 0 || m->outcome >= 0)
			continue;
		if (s->raw) {
			fwrite(data, 1, len, stdout);
			fputc('\n', stdout);
		} else {
			char line[1200], clock[16];
			tools_clock(&v, clock, sizeof(clock));
			tools_describe_status(&v, line, sizeof(line));
			printf("%s  %s\n", clock, line);
		}
		fflush(stdout);
		int outcome = codec_status_outcome(v.type && strcmp(v.type, "task_list") == 0
							   ? "listed"
							   : v.status);
		if (outcome >= 0) {
			m->outcome = outcome;
			if (++s->nanswered == s->nmsgs)
				finish(s, final_code(s));
		}
	}
	codec_status_view_free(&v);
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
	finish(s, EXIT_TIMEOUT);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	loop_stop(loop, EXIT_FAIL);
}

/* Builds one outgoing message from a slash line; prints errors. */
static int add_line(struct sender *s, const char *line, size_t len)
{
	struct slash_line parsed;
	struct slash_error e;
	if (slash_parse(line, len, &parsed, &e) < 0) {
		fprintf(stderr, "tasker send: %s\n", e.message);
		return EXIT_USAGE;
	}
	if (parsed.verb == NULL) {
		slash_line_free(&parsed);
		fprintf(stderr, "tasker send: a command starts with /VERB (as in /start "
				"--task=api); this line has none\n");
		return EXIT_USAGE;
	}
	struct outgoing *m = &s->msgs[s->nmsgs++];
	util_random_id(m->request_id);
	m->outcome = -1;
	m->json = codec_encode_command(&parsed, s->cfg->agent_id, m->request_id, util_wall_ms());
	slash_line_free(&parsed);
	return EXIT_OK;
}

/* Takes a raw JSON envelope, fills in what is missing, and validates it
 * with the same decoder the executor uses. */
static int add_json(struct sender *s, const char *text, size_t len)
{
	struct envelope env;
	char err[300];
	int ok = codec_decode_command(text, len, &env, err, sizeof(err));
	codec_envelope_free(&env);
	if (ok < 0) {
		fprintf(stderr, "tasker send: %s\n", err);
		return EXIT_USAGE;
	}
	cJSON *root = cJSON_ParseWithLength(text, len);
	struct outgoing *m = &s->msgs[s->nmsgs++];
	m->outcome = -1;
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "request_id");
	if (cJSON_IsString(rid)) {
		/* Executors answer a request_id once: a second one would wait forever. */
		for (size_t i = 0; i + 1 < s->nmsgs; i++) {
			if (strcmp(s->msgs[i].request_id, rid->valuestring) == 0) {
				fprintf(stderr, "tasker send: request_id %.80s appears twice\n",
					rid->valuestring);
				cJSON_Delete(root);
				s->nmsgs--;
				return EXIT_USAGE;
			}
		}
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
	m->json = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
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
		{"verbose", no_argument, NULL, 'v'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct sender s = {.cfg = cfg, .timeout_ms = 10000};
	const char *json = NULL;
	struct option *opts = config_options(own);
	int c, rc = EXIT_OK;
	while ((c = tools_getopt(cfg, argc, argv, "+w::J:rvh", opts, "send")) != -1) {
		char *end;
		switch (c) {
		case 'w':
			s.wait = true;
			if (optarg != NULL) {
				double secs = strtod(optarg, &end);
				if (*optarg == '\0' || *end != '\0' || !(secs > 0 && secs <= 86400)) {
					free(opts);
					return tools_usage_error("send", "--wait takes seconds, from 0.001 to 86400");
				}
				s.timeout_ms = (int64_t)(secs * 1000);
			}
			break;
		case 'J':
			json = optarg;
			break;
		case 'r':
			s.raw = true;
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

	size_t cap = 0;
	if (json != NULL) {
		if (optind < argc)
			return tools_usage_error("send", "give either --json TEXT or a LINE, not both");
		grow(&s, &cap);
		rc = add_json(&s, json, strlen(json));
	} else if (optind == argc - 1 && strcmp(argv[optind], "-") == 0) {
		char *line = NULL;
		size_t lcap = 0;
		ssize_t n;
		while (rc == EXIT_OK && (n = getline(&line, &lcap, stdin)) >= 0) {
			while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
				n--;
			size_t skip = strspn(line, " \t");
			if ((size_t)n == skip)
				continue; /* blank lines separate nothing */
			grow(&s, &cap);
			rc = line[skip] == '{' ? add_json(&s, line, (size_t)n)
					       : add_line(&s, line, (size_t)n);
		}
		free(line);
	} else if (optind < argc) {
		char *joined = tools_join_args(argc, argv, optind);
		grow(&s, &cap);
		rc = add_line(&s, joined, strlen(joined));
		free(joined);
	} else {
		return tools_usage_error("send", "give a LINE, --json TEXT, or - for stdin");
	}

	if (rc == EXIT_OK && s.nmsgs == 0)
		rc = tools_usage_error("send", "stdin held no message");
	if (rc == EXIT_OK) {
		s.loop = loop_new();
		loop_signal(s.loop, SIGINT, on_signal, NULL);
		loop_signal(s.loop, SIGTERM, on_signal, NULL);
		signal(SIGPIPE, SIG_IGN);
		struct bus_handlers h = {.on_message = s.wait ? on_message : NULL,
					 .on_state = on_state};
		s.bus = bus_new(s.loop, &cfg->redis, &h, &s);
		if (s.wait)
			bus_subscribe(s.bus, cfg->status_channel);
		else
			publish_all(&s); /* queued until the connection is up */
		if (s.verbose)
			for (size_t i = 0; i < s.nmsgs; i++)
				fprintf(stderr, "tasker send: request_id %s\n", s.msgs[i].request_id);
		loop_timer_add(s.loop, s.timeout_ms, on_timeout, &s);
		rc = loop_run(s.loop);
		bus_free(s.bus);
		loop_free(s.loop);
	}
	for (size_t i = 0; i < s.nmsgs; i++)
		free(s.msgs[i].json);
	free(s.msgs);
	return rc < 0 ? EXIT_FAIL : rc;
}
