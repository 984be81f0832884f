/*
 * tool_exec: the headless executor (`tasker exec`): the loop, the bus and
 * signals around the executor.
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bus.h"
#include "executor.h"
#include "history.h"
#include "log.h"
#include "loop.h"
#include "metrics_exec.h"
#include "metrics_http.h"
#include "tools.h"
#include "util.h"

static const char exec_help[] =
	"Usage: tasker exec [OPTIONS]\n"
	"\n"
	"Runs the headless executor: subscribes to the command channel, carries out\n"
	"each command with the PM2 daemon (over its socket, never through a shell),\n"
	"and publishes one reply per command on the status channel, plus PM2's own\n"
	"events (a task that exits or gives up restarting).\n"
	"\n"
	"  --pm2 PATH              the pm2 command, used only to start the daemon\n"
	"                          (PM2_BIN; default .deps/node_modules/.bin/pm2, then PATH)\n"
	"  --pm2-home DIR          the daemon's home (PM2_HOME; default ~/.pm2)\n"
	"  --pass-env NAME,...     also pass these variables of ours to tasks\n"
	"                          (tasks get only PATH, HOME, LANG and their env_ params)\n"
	"  --cwd-base DIR          where relative cwd params resolve (default: our cwd)\n"
	"  --default-max-memory SIZE  restart tasks above SIZE (like 500M) unless a\n"
	"                          command sets its own limit (default: no limit)\n"
	"  --no-start-pm2          never start a PM2 daemon; use the one that runs\n"
	"  --command-timeout SECONDS  answer every command within this long of its\n"
	"                          arrival (default 8; from 0.1 to 3600): past it, a\n"
	"                          command that has not reached PM2 yet is refused, and\n"
	"                          one in progress is answered with what PM2 shows\n"
	"  --history N             keep about the last N status messages in the Redis\n"
	"                          stream b00t:{tasker}:status, for tasker watch --since\n"
	"                          and late readers (TASKER_HISTORY; default 10000;\n"
	"                          0 keeps none)\n"
	"  --metrics [ADDR:]PORT   serve Prometheus metrics at http://ADDR:PORT/metrics\n"
	"                          (TASKER_METRICS; off by default; a port alone listens\n"
	"                          on 127.0.0.1; an address alone uses port 8275)\n"
	"  --policy FILE           who may do what: a TOML policy (TASKER_POLICY;\n"
	"                          docs/security.md); without one the executor is open\n"
	"  --datum-dir DIR         where start --datum=NAME.TYPE reads NAME.TYPE.toml\n"
	"                          (TASKER_DATUM_DIR, else $_B00T_Path, else\n"
	"                          ~/.b00t/_b00t_)\n"
	"  -h, --help              show this help\n"
	"\n"
	"Verbs: start|run, stop, restart, delete|remove, status|list|ps, logs, result.\n"
	"Jobs: also serves b00t-cli's job protocol on b00t:job (actions run, status,\n"
	"stop, plan, list; replies on b00t:job:status): NAME.job.toml from the datum\n"
	"folder, its steps run as one-shot tasks job.NAME.STEP (docs/protocol.md 16).\n"
	"SIGINT or SIGTERM: finish the commands in flight, then exit 0.\n"
	"SIGHUP: with --policy or --trust, read those files again (a broken file keeps\n"
	"what it held in force, and the log says why); without either, as SIGTERM.\n";

struct exec_run {
	struct loop *loop;
	struct executor *ex;
	struct config *cfg;
	bool stopping;
	bool bus_lost; /* the bus was ready, then lost: its return is a reconnect */
	bool bus_was_ready;
};

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	struct exec_run *r = arg;
	if (r->ex != NULL && strcmp(channel, EXEC_JOB_CHANNEL) == 0)
		executor_handle_job(r->ex, data, len);
	else if (r->ex != NULL)
		executor_handle(r->ex, data, len);
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	struct exec_run *r = arg;
	if (!ready)
		log_warn("not listening: %s", why);
	if (ready && r->bus_lost && r->ex != NULL)
		metrics_exec_reconnect(r->ex);
	r->bus_lost = !ready && (r->bus_was_ready || r->bus_lost);
	r->bus_was_ready = ready;
	if (r->ex != NULL)
		executor_bus_state(r->ex, ready);
}

/* Another executor serves our node: a second one must not run. */
static void on_conflict(const char *why, void *arg)
{
	struct exec_run *r = arg;
	fprintf(stderr, "tasker exec: %s\n", why);
	loop_stop(r->loop, EXIT_FAIL);
}

static void on_drained(void *arg)
{
	struct exec_run *r = arg;
	log_info("shutdown complete");
	loop_stop(r->loop, EXIT_OK);
}

static void on_signal(struct loop *loop, int signo, void *arg)
{
	struct exec_run *r = arg;
	bool reloads = r->cfg->policy_path != NULL || r->cfg->trust_path != NULL;
	if (r->stopping && !(signo == SIGHUP && reloads)) {
		log_warn("second signal: exiting now");
		loop_stop(loop, EXIT_OK);
		return;
	}
	if (signo == SIGHUP && reloads) {
		executor_reload_policy(r->ex);
		return;
	}
	r->stopping = true;
	log_info("%s: shutting down", signo == SIGINT ? "SIGINT" : signo == SIGHUP ? "SIGHUP" : "SIGTERM");
	executor_drain(r->ex, on_drained, r);
}

enum { OPT_PM2 = 1, OPT_PM2_HOME, OPT_PASS_ENV, OPT_CWD_BASE, OPT_MAXMEM, OPT_NOSTART, OPT_TIMEOUT,
       OPT_HISTORY, OPT_METRICS, OPT_POLICY, OPT_DATUM_DIR };

static char *render_metrics(void *arg, enum metrics_format fmt, size_t *len)
{
	struct exec_run *r = arg;
	return metrics_exec_render(r->ex, fmt, len);
}

/* --history N and TASKER_HISTORY: 0 (none) to HISTORY_MAX_LEN entries;
 * sets *len as exec_options takes it (negative: none). */
static int parse_history(const char *text, long *len)
{
	char *end;
	long n = strtol(text, &end, 10);
	if (!util_ascii_digit(text[0]) || *end != '\0' || n > HISTORY_MAX_LEN)
		return -1;
	*len = n == 0 ? -1 : n;
	return 0;
}

int tool_exec(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
		{"pm2", required_argument, NULL, OPT_PM2},
		{"pm2-home", required_argument, NULL, OPT_PM2_HOME},
		{"pass-env", required_argument, NULL, OPT_PASS_ENV},
		{"cwd-base", required_argument, NULL, OPT_CWD_BASE},
		{"default-max-memory", required_argument, NULL, OPT_MAXMEM},
		{"no-start-pm2", no_argument, NULL, OPT_NOSTART},
		{"command-timeout", required_argument, NULL, OPT_TIMEOUT},
		{"history", required_argument, NULL, OPT_HISTORY},
		{"metrics", required_argument, NULL, OPT_METRICS},
		{"policy", required_argument, NULL, OPT_POLICY},
		{"datum-dir", required_argument, NULL, OPT_DATUM_DIR},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	struct exec_options opt = {0};
	/* An option beats its variable, a bad variable included. */
	const char *history = getenv("TASKER_HISTORY");
	const char *history_from = "TASKER_HISTORY";
	const char *metrics = cfg->metrics;
	const char *metrics_from = "TASKER_METRICS";
	if (history != NULL && history[0] == '\0')
		history = NULL;
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+h", opts, "exec")) != -1) {
		switch (c) {
		case OPT_PM2:
			opt.pm2_bin = optarg;
			break;
		case OPT_PM2_HOME:
			opt.pm2_home = optarg;
			break;
		case OPT_PASS_ENV:
			opt.pass_env = optarg;
			break;
		case OPT_CWD_BASE:
			opt.cwd_base = optarg;
			break;
		case OPT_MAXMEM:
			if (util_parse_size(optarg, &opt.default_max_memory) < 0) {
				free(opts);
				return tools_usage_error("exec", "--default-max-memory takes a size like 500M (at most 1024G)");
			}
			break;
		case OPT_NOSTART:
			opt.no_start_pm2 = true;
			break;
		case OPT_TIMEOUT: {
			char *end;
			double secs = strtod(optarg, &end);
			if (end == optarg || *end != '\0' || !(secs >= 0.1 && secs <= 3600)) {
				free(opts);
				return tools_usage_error("exec", "--command-timeout takes seconds, from 0.1 to 3600");
			}
			opt.command_timeout_ms = (int64_t)(secs * 1000.0);
			break;
		}
		case OPT_HISTORY:
			history = optarg;
			history_from = "--history";
			break;
		case OPT_METRICS:
			metrics = optarg;
			metrics_from = "--metrics";
			break;
		case OPT_POLICY:
			free(cfg->policy_path);
			cfg->policy_path = xstrdup(optarg);
			break;
		case OPT_DATUM_DIR:
			free(cfg->datum_dir);
			cfg->datum_dir = xstrdup(optarg);
			break;
		case 'h':
			fputs(exec_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if (optind < argc)
		return tools_usage_error("exec", "takes no arguments");
	if (history != NULL && parse_history(history, &opt.history_len) < 0) {
		char msg[200];
		snprintf(msg, sizeof(msg), "%s takes a whole number of status messages, from 0 (no "
			 "history) to %ld", history_from, HISTORY_MAX_LEN);
		return tools_usage_error("exec", msg);
	}
	if (metrics != NULL) {
		struct sockaddr_storage ss;
		socklen_t sslen;
		char why[300], msg[340];
		if (metrics_http_parse_addr(metrics, &ss, &sslen, why, sizeof(why)) < 0) {
			snprintf(msg, sizeof(msg), "%s%s", metrics_from, why + strlen("--metrics"));
			return tools_usage_error("exec", msg);
		}
		opt.metrics = true;
	}
	int rc = tools_finish_config(cfg, "exec");
	if (rc != 0)
		return rc;
	opt.policy_path = cfg->policy_path;

	/* Log lines escape what the locale cannot show: in a UTF-8 locale
	 * "café" stays "café", not "caf\xc3\xa9". */
	tools_use_locale();
	struct exec_run r = {.cfg = cfg};
	r.loop = loop_new();
	loop_signal(r.loop, SIGINT, on_signal, &r);
	loop_signal(r.loop, SIGTERM, on_signal, &r);
	loop_signal(r.loop, SIGHUP, on_signal, &r);
	signal(SIGPIPE, SIG_IGN);
	char err[300];
	struct bus_handlers h = {.on_message = on_message, .on_state = on_state};
	struct bus *bus = bus_new(r.loop, &cfg->redis, &h, &r);
	r.ex = executor_new(r.loop, bus, cfg, &opt, err, sizeof(err));
	if (r.ex == NULL) {
		fprintf(stderr, "tasker exec: %s\n", err);
		bus_free(bus);
		loop_free(r.loop);
		return EXIT_USAGE;
	}
	executor_on_conflict(r.ex, on_conflict, &r);
	struct metrics_http *mh = NULL;
	if (metrics != NULL) {
		mh = metrics_http_new(r.loop, metrics, render_metrics, &r, err, sizeof(err));
		if (mh == NULL) {
			fprintf(stderr, "tasker exec: %s\n", err);
			bus_free(bus);
			executor_free(r.ex);
			loop_free(r.loop);
			return EXIT_FAIL;
		}
		log_info("metrics: serving http://%s/metrics", metrics_http_address(mh));
	}
	log_info("tasker %s executor on node %s; connecting to Redis at %s", TASKER_VERSION,
		 cfg->node, bus_address(bus));
	bus_subscribe(bus, cfg->channel);
	if (strcmp(cfg->channel, EXEC_JOB_CHANNEL) != 0)
		bus_subscribe(bus, EXEC_JOB_CHANNEL);
	rc = loop_run(r.loop);
	metrics_http_free(mh);
	/* The bus first: its last callbacks still reach the executor. */
	bus_free(bus);
	executor_free(r.ex);
	loop_free(r.loop);
	return rc < 0 ? EXIT_FAIL : rc;
}
