/*
 * tool_watch: `tasker watch` subscribes to the status channel and prints one
 * readable line per message (or the raw JSON). It keeps waiting through
 * Redis outages and says so on stderr. With --since it first replays the
 * history stream from that time, then goes on live, with no gap and no
 * message twice (history_read.h says how).
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bus.h"
#include "history.h"
#include "history_read.h"
#include "log.h"
#include "loop.h"
#include "reply_sig.h"
#include "sig.h"
#include "tools.h"
#include "util.h"

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
	"  -c, --commands    also print the commands on the command channel, one line\n"
	"                    each: TIME  command  /VERB --KEY=VALUE...  from AGENT  [ID]\n"
	"                    (--env_ values masked as ***)\n"
	"  -s, --since WHEN  first print the status messages published since WHEN,\n"
	"                    from the history stream the executor keeps: a duration\n"
	"                    before now (30s, 10m, 2h, 1d, 1h30m) or an ISO-8601 time\n"
	"                    with its zone (2026-11-27T10:00:00Z); then go on live,\n"
	"                    with no message missed or printed twice in between\n"
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
	struct history_read *history; /* --since only */
	int64_t since_ms;
	struct reply_trust *trust; /* checks status messages' signatures */
};

/*
 * A command seen with -c, as a person reads it: its time (the envelope's,
 * else now), then the slash line it stands for, who sent it and its
 * request_id: "10:02:03  command  /stop --task=api  from ops@h  [id]".
 * --env_ values are masked: a watcher's terminal is no place for them.
 */
static void describe_command(const char *data, size_t len, char *line, size_t size)
{
	struct sig_wrapper sw;
	char err[200];
	const char *signed_note = "";
	int wrapped = sig_parse_wrapper(data, len, &sw, err, sizeof(err));
	if (wrapped == 1) {
		data = sw.inner;
		len = sw.inner_len;
		signed_note = "  (signed)";
	}
	struct envelope env;
	memset(&env, 0, sizeof(env));
	int rc = wrapped < 0 ? -1 : codec_decode_command(data, len, &env, err, sizeof(err));
	int64_t ms = rc == 0 && env.has_timestamp ? env.timestamp_ms : util_wall_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	char clock[16];
	localtime_r(&secs, &tm);
	strftime(clock, sizeof(clock), "%H:%M:%S", &tm);
	size_t o = (size_t)snprintf(line, size, "%s  command  ", clock);
	if (rc < 0) {
		/* What it was, escaped on the way out (tools_print_human). */
		o += (size_t)snprintf(line + o, size - o, "(unreadable: %s) ", err);
		size_t take = len < 300 ? len : 300;
		if (o < size && take > size - o - 1)
			take = size - o - 1;
		if (o < size) {
			memcpy(line + o, data, take);
			line[o + take] = '\0';
		}
	} else {
		o += (size_t)snprintf(line + o, size - o, "/%.60s", env.verb ? env.verb : "?");
		for (size_t i = 0; i < env.nparams && o < size; i++) {
			const struct slash_param *pa = &env.params[i];
			bool secret = strncmp(pa->key, "env_", 4) == 0;
			const char *v = secret ? "***" : pa->value;
			bool quote = strpbrk(v, " \t\"'") != NULL || v[0] == '\0';
			o += (size_t)snprintf(line + o, size - o, quote ? " --%.60s=\"%.300s\"" : " --%.60s=%.300s",
					      pa->key, v);
		}
		if (o < size && env.content != NULL)
			o += (size_t)snprintf(line + o, size - o, " %.300s", env.content);
		if (o < size)
			o += (size_t)snprintf(line + o, size - o, "  from %.100s  [%.64s]%s",
					      env.agent_id ? env.agent_id : "?",
					      env.request_id ? env.request_id : "no request_id",
					      signed_note);
	}
	if (wrapped != 0)
		sig_wrapper_free(&sw);
	codec_envelope_free(&env);
}

static void print_message(struct watch *w, const char *channel, const char *data, size_t len,
			  const struct reply_check *chk)
{
	/* Everything but --json is for a person: what came from Redis goes
	 * through tools_print_human, escapes and all. */
	char line[6000];
	if (w->json) {
		fwrite(data, 1, len, stdout);
		fputc('\n', stdout);
	} else if (strcmp(channel, w->cfg->status_channel) != 0) {
		describe_command(data, len, line, sizeof(line));
		tools_print_human(stdout, line, strlen(line));
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
			/* Verified messages go unmarked; any other says what it is. */
			if (chk != NULL && chk->verdict != REPLY_VERIFIED) {
				size_t used = strlen(line);
				snprintf(line + used, sizeof(line) - used, "  %s%s%s",
					 reply_verdict_word(chk), chk->why[0] ? ": " : "", chk->why);
			}
			codec_status_view_free(&v);
		}
		tools_print_human(stdout, line, strlen(line));
	}
	fflush(stdout);
}

static void emit(struct watch *w, const char *channel, const char *data, size_t len,
		 const struct reply_check *chk)
{
	if (w->count > 0 && w->seen >= w->count)
		return;
	print_message(w, channel, data, len, chk);
	w->seen++;
	if (w->count > 0 && w->seen >= w->count)
		loop_stop(w->loop, EXIT_OK);
}

static void on_checked(const char *data, size_t len, const struct reply_check *chk, void *arg)
{
	struct watch *w = arg;
	emit(w, w->cfg->status_channel, data, len, chk);
}

/* Status messages shown to a person are checked first (a presence lookup
 * may delay them, in order); --json prints the bytes as published. */
static void show(struct watch *w, const char *channel, const char *data, size_t len)
{
	if (!w->json && strcmp(channel, w->cfg->status_channel) == 0)
		reply_trust_check(w->trust, data, len, on_checked, w);
	else
		emit(w, channel, data, len, NULL);
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	struct watch *w = arg;
	/* During the replay the history reader holds live status messages,
	 * and drops those the replay gave already. */
	if (w->history != NULL && strcmp(channel, w->cfg->status_channel) == 0 &&
	    history_read_live(w->history, data, len))
		return;
	show(w, channel, data, len);
}

/* An entry of the history, or a live message the replay held back. */
static void on_history_message(const char *data, size_t len, void *arg)
{
	struct watch *w = arg;
	show(w, w->cfg->status_channel, data, len);
}

static void on_history_done(const char *error, size_t replayed, void *arg)
{
	struct watch *w = arg;
	if (error != NULL) {
		char *key = history_key(w->cfg->status_channel);
		fprintf(stderr, "tasker watch: cannot read the history stream %s: %s; showing live "
				"messages only\n", key, error);
		free(key);
		return;
	}
	log_info("replayed %zu earlier status message%s; now live", replayed,
		 replayed == 1 ? "" : "s");
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	struct watch *w = arg;
	if (ready) {
		log_info("watching %s on %s", w->cfg->status_channel, bus_address(bus));
		/* Subscribed first, then read: a message is either in the replay
		 * or live (or both, and shown once). */
		if (w->history != NULL && !w->ready_once)
			history_read_since(w->history, w->since_ms);
		else if (w->history != NULL)
			history_read_ready(w->history);
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
		{"since", required_argument, NULL, 's'},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct watch w = {.cfg = cfg};
	bool commands = false;
	const char *since = NULL;
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+jn:cs:h", opts, "watch")) != -1) {
		char *end;
		switch (c) {
		case 'j':
			w.json = true;
			break;
		case 'c':
			commands = true;
			break;
		case 's':
			since = optarg;
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
	if (since != NULL) {
		char err[200], msg[260];
		if (history_parse_since(since, util_wall_ms(), &w.since_ms, err, sizeof(err)) < 0) {
			snprintf(msg, sizeof(msg), "--since: %s", err);
			return tools_usage_error("watch", msg);
		}
	}
	int rc = tools_finish_config(cfg, "watch");
	if (rc != 0)
		return rc;
	tools_use_locale();
	char terr[400];
	w.trust = reply_trust_new(NULL, cfg->trust_path, terr, sizeof(terr));
	if (w.trust == NULL) {
		fprintf(stderr, "tasker watch: %s\n", terr);
		return EXIT_USAGE;
	}

	w.loop = loop_new();
	loop_signal(w.loop, SIGINT, on_signal, NULL);
	loop_signal(w.loop, SIGTERM, on_signal, NULL);
	signal(SIGPIPE, SIG_IGN);
	struct bus_handlers h = {.on_message = on_message,
				 .on_state = on_state,
				 .on_unresolved = on_unresolved};
	struct bus *bus = bus_new(w.loop, &cfg->redis, &h, &w);
	reply_trust_use_bus(w.trust, bus);
	if (since != NULL)
		w.history = history_read_new(bus, cfg->status_channel, true, on_history_message,
					     on_history_done, &w);
	bus_subscribe(bus, cfg->status_channel);
	if (commands)
		bus_subscribe(bus, cfg->channel);
	rc = loop_run(w.loop);
	bus_free(bus);
	history_read_free(w.history);
	reply_trust_free(w.trust);
	loop_free(w.loop);
	return rc < 0 ? EXIT_FAIL : rc;
}
