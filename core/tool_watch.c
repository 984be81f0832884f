/*
 * tool_watch: `tasker watch` subscribes to the status channel and prints one
 * readable line per message (or the raw JSON). It keeps waiting through
 * Redis outages and says so on stderr.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "log.h"
#include "loop.h"
#include "tools.h"

static const char watch_help[] =
	"Usage: tasker watch [OPTIONS]\n"
	"\n"
	"Prints status messages from the status channel, one line each:\n"
	"  TIME  STATUS TASK (pm_id N): ERROR   [node]\n"
	"Control characters, bidi overrides and bytes that are not text in those\n"
	"lines are shown as escapes (\\x1b, \\n, \\u202e), never sent to the terminal.\n"
	"\n"
	"  -j, --json        print each message's raw JSON instead\n"
	"  -n, --count N     exit after N messages\n"
	"  -c, --commands    also print messages on the command channel\n"
	"  -h, --help        show this help\n"
	"\n"
	"It waits for Redis when Redis is down and resubscribes by itself, but\n"
	"stops at once when the Redis host name does not resolve.\n"
	"Exit status: 0 (after --count messages, or on SIGINT/SIGTERM), 1 the Redis\n"
	"host name does not resolve, 2 bad usage.\n";

struct watch {
	struct loop *loop;
	struct config *cfg;
	bool json;
	long count, seen;
	bool ready_once;
};

static void print_message(struct watch *w, const char *channel, const char *data, size_t len)
{
	/* Everything but --json is for a person: what came from Redis goes
	 * through tools_print_human, escapes and all. */
	char line[6000];
	if (w->json) {
		fwrite(data, 1, len, stdout);
		fputc('\n', stdout);
	} else if (strcmp(channel, w->cfg->status_channel) != 0) {
		int n = snprintf(line, sizeof(line), "%s  command  ", channel);
		size_t head = n < 0 ? 0 : (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1;
		size_t take = len < 2000 ? len : 2000;
		if (take > sizeof(line) - head)
			take = sizeof(line) - head;
		memcpy(line + head, data, take);
		tools_print_human(stdout, line, head + take);
	} else {
		struct status_view v;
		char err[200], clock[16], desc[1200];
		if (codec_decode_status(data, len, &v, err, sizeof(err)) < 0) {
			tools_clock(NULL, clock, sizeof(clock));
			snprintf(line, sizeof(line), "%s  (unreadable status message: %s)", clock, err);
		} else {
			tools_clock(&v, clock, sizeof(clock));
			tools_describe_status(&v, desc, sizeof(desc));
			snprintf(line, sizeof(line), "%s  %s%s%.200s%s", clock, desc, v.node ? "  [" : "",
				 v.node ? v.node : "", v.node ? "]" : "");
			codec_status_view_free(&v);
		}
		tools_print_human(stdout, line, strlen(line));
	}
	fflush(stdout);
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	struct watch *w = arg;
	if (w->count > 0 && w->seen >= w->count)
		return;
	print_message(w, channel, data, len);
	w->seen++;
	if (w->count > 0 && w->seen >= w->count)
		loop_stop(w->loop, EXIT_OK);
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	struct watch *w = arg;
	if (ready) {
		log_info("watching %s on %s", w->cfg->status_channel, bus_address(bus));
		w->ready_once = true;
	} else {
		log_warn("%s", why);
	}
}

/* Waiting makes sense for a Redis that is down, not for a host name that
 * does not exist. */
static void on_unresolved(struct bus *bus, const char *why, void *arg)
{
	(void)bus;
	struct watch *w = arg;
	fprintf(stderr, "tasker watch: %s\n", why);
	loop_stop(w->loop, EXIT_FAIL);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	(void)signo;
	(void)arg;
	loop_stop(loop, EXIT_OK);
}

int tool_watch(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
		{"json", no_argument, NULL, 'j'},
		{"count", required_argument, NULL, 'n'},
		{"commands", no_argument, NULL, 'c'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct watch w = {.cfg = cfg};
	bool commands = false;
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+jn:ch", opts, "watch")) != -1) {
		char *end;
		switch (c) {
		case 'j':
			w.json = true;
			break;
		case 'c':
			commands = true;
			break;
		case 'n':
			w.count = strtol(optarg, &end, 10);
			if (*optarg == '\0' || *end != '\0' || w.count < 1) {
				free(opts);
				return tools_usage_error("watch", "--count needs a whole number of 1 or more");
			}
			break;
		case 'h':
			fputs(watch_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if (optind < argc)
		return tools_usage_error("watch", "takes no arguments");
	int rc = tools_finish_config(cfg, "watch");
	if (rc != 0)
		return rc;
	tools_use_locale();

	w.loop = loop_new();
	loop_signal(w.loop, SIGINT, on_signal, NULL);
	loop_signal(w.loop, SIGTERM, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct bus_handlers h = {.on_message = on_message,
				 .on_state = on_state,
				 .on_unresolved = on_unresolved};
	struct bus *bus = bus_new(w.loop, &cfg->redis, &h, &w);
	bus_subscribe(bus, cfg->status_channel);
	if (commands)
		bus_subscribe(bus, cfg->channel);
	rc = loop_run(w.loop);
	bus_free(bus);
	loop_free(w.loop);
	return rc < 0 ? EXIT_FAIL : rc;
}
