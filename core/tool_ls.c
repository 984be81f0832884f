/*
 * tool_ls: `tasker ls`, the task list once: from the local PM2 daemon's
 * socket, or with --fleet from the task tables every executor keeps in
 * Redis (fleet_tasks.h), one row per process with its node.
 *
 * Must not: print untrusted text raw (names come from whoever ran `pm2
 * start --name`, or from whatever sits in Redis): the table escapes it,
 * --json keeps it exact.
 */
#include <langinfo.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "codec.h"
#include "cron_next.h"
#include "fleet_read.h"
#include "fleet_tasks.h"
#include "log.h"
#include "loop.h"
#include "pm2.h"
#include "text.h"
#include "text_cut.h"
#include "tools.h"
#include "util.h"

static const char ls_help[] =
	"Usage: tasker ls [OPTIONS]\n"
	"\n"
	"Lists tasks once: those of the local PM2 daemon, straight from its socket\n"
	"(no Redis), or with --fleet those of every executor that shares the Redis,\n"
	"from the task tables they keep there (no PM2 needed). In the table,\n"
	"control characters and bidi overrides in a name are shown as escapes\n"
	"(\\x1b, \\u202e); --json gives the names exactly. A long name is cut in\n"
	"the middle (payments-rec…-eu-west-1), as in the console; - marks no PID or\n"
	"memory (a task that is not online).\n"
	"\n"
	"  -f, --fleet        every node's tasks, from Redis (--redis, REDIS_URL)\n"
	"  -j, --json         one JSON array instead of a table (with --fleet, each\n"
	"                     task carries its node)\n"
	"  --color[=WHEN]     colour the STATUS column (online green, stopped yellow,\n"
	"                     errored red): auto (the default: when stdout is a\n"
	"                     terminal and NO_COLOR is not set), always, never\n"
	"  --pm2-home DIR     the daemon's home (PM2_HOME; default ~/.pm2)\n"
	"  -h, --help         show this help\n"
	"\n"
	"Exit status: 0 listed, 1 PM2 (or with --fleet, Redis) not reachable,\n"
	"2 bad usage.\n";

/* One row of the table, whichever source it came from. */
struct ls_row {
	const char *node; /* NULL: local */
	const char *name, *status, *mode;
	const char *owner; /* NULL: foreign (not started by tasker) */
	bool online;	   /* PID and MEM mean something */
	long pm_id, pid, restarts;
	double cpu;
	uint64_t memory;
	int64_t uptime_ms;
	const char *cron; /* NULL: no schedule */
};

static void human_bytes(uint64_t b, char *buf, size_t size)
{
	const char *units[] = {"B", "K", "M", "G", "T"};
	double v = (double)b;
	int u = 0;
	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(buf, size, u == 0 ? "%.0f%s" : "%.1f%s", v, units[u]);
}

static void human_duration(int64_t ms, char *buf, size_t size)
{
	int64_t s = ms / 1000;
	if (s < 60)
		snprintf(buf, size, "%llds", (long long)s);
	else if (s < 3600)
		snprintf(buf, size, "%lldm", (long long)(s / 60));
	else if (s < 86400)
		snprintf(buf, size, "%lldh", (long long)(s / 3600));
	else
		snprintf(buf, size, "%lldd", (long long)(s / 86400));
}

/* How the table looks: colours or not, the console's marks or ASCII. */
struct ls_look {
	bool color;
	bool utf8;
};

/* SGR colour of a status, as `pm2 ls` has them; NULL: plain. */
static const char *status_color(const char *status)
{
	if (strcmp(status, "online") == 0)
		return "\033[32m";
	if (strcmp(status, "errored") == 0)
		return "\033[1;31m";
	if (strcmp(status, "stopped") == 0)
		return "\033[33m";
	if (strcmp(status, "launching") == 0 || strcmp(status, "stopping") == 0 ||
	    strcmp(status, "waiting restart") == 0 || strcmp(status, "one-launch-status") == 0)
		return "\033[36m";
	return NULL;
}

/* text escaped and fitted to width columns, then padded to them; in
 * colour (an SGR sequence of ours, never from the text) when sgr says. */
static void print_cell(const char *text, int width, const char *sgr)
{
	char buf[400];
	size_t w = text_escape(text, strlen(text), (size_t)width, buf, sizeof(buf));
	if (sgr != NULL)
		printf("%s%s\033[0m%*s ", sgr, buf, (int)((size_t)width - w), "");
	else
		printf("%s%*s ", buf, (int)((size_t)width - w), "");
}

/* A name: cut in the middle when it is plain and too long (the console's
 * rule, core/text_cut.h), else escaped and cut at the end. */
static void print_name(const char *name, int width, const struct ls_look *look)
{
	char cut[400];
	text_cut_middle(name, width, !look->utf8, cut, sizeof(cut));
	print_cell(cut, width, NULL);
}

static void print_rows(const struct ls_row *rows, size_t n, bool with_node,
		       const struct ls_look *look)
{
	/* The console's column names (tui/draw.c), ↺ for restarts. */
	if (look->color)
		printf("\033[1m");
	if (with_node)
		printf("%-16s ", "NODE");
	printf("%4s  %-24s %-12s %-16s %8s %6s %8s %7s %*s  %s", "ID", "NAME", "OWNER", "STATUS",
	       "PID", "CPU", "MEM", "UPTIME", look->utf8 ? 7 : 5, look->utf8 ? "↺" : "RST", "MODE");
	printf(look->color ? "\033[0m\n" : "\n");
	for (size_t i = 0; i < n; i++) {
		const struct ls_row *r = &rows[i];
		char mem[16], up[16], pid[24];
		if (r->online && r->memory > 0)
			human_bytes(r->memory, mem, sizeof(mem));
		else
			snprintf(mem, sizeof(mem), "-");
		if (r->online && r->pid > 0)
			snprintf(pid, sizeof(pid), "%ld", r->pid);
		else
			snprintf(pid, sizeof(pid), "-");
		if (r->uptime_ms > 0)
			human_duration(r->uptime_ms, up, sizeof(up));
		else
			snprintf(up, sizeof(up), "-");
		if (with_node)
			print_cell(r->node ? r->node : "-", 16, NULL);
		printf("%4ld  ", r->pm_id);
		print_name(r->name, 24, look);
		print_cell(r->owner ? r->owner : "-", 12, NULL);
		print_cell(r->status, 16, look->color ? status_color(r->status) : NULL);
		char mode[40];
		text_escape(r->mode, strlen(r->mode), 8, mode, sizeof(mode));
		printf("%8s %5.0f%% %8s %7s %5ld  %s", pid, r->cpu, mem, up, r->restarts, mode);
		/* A schedule: when PM2 runs it next, at the end of its line. */
		int64_t next, now = util_wall_ms();
		if (r->cron != NULL && cron_next(r->cron, now, &next) == 0) {
			char when[64];
			cron_next_text(next, now, when, sizeof(when));
			printf("  next run %s", when);
		}
		printf("\n");
	}
	if (n == 0)
		printf("(no tasks)\n");
}

/* --- the local daemon ---------------------------------------------------- */

struct ls_run {
	struct loop *loop;
	bool json;
	const struct ls_look *look;
};

static void on_ls(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
		  void *arg)
{
	(void)c;
	struct ls_run *r = arg;
	if (error != NULL) {
		fprintf(stderr, "tasker ls: PM2 is not reachable: %s\n", error);
		loop_stop(r->loop, EXIT_FAIL);
		return;
	}
	int64_t now = util_wall_ms();
	if (r->json) {
		cJSON *arr = cJSON_CreateArray();
		for (size_t i = 0; i < n; i++)
			cJSON_AddItemToArray(arr, codec_task_json(&procs[i], now, NULL));
		char *s = cJSON_PrintUnformatted(arr);
		printf("%s\n", s);
		free(s);
		cJSON_Delete(arr);
	} else {
		struct ls_row *rows = xcalloc(n + 1, sizeof(*rows));
		for (size_t i = 0; i < n; i++) {
			const struct pm2_proc *p = &procs[i];
			bool online = p->state == PM2_ST_ONLINE;
			int64_t up = online && p->pm_uptime ? now - p->pm_uptime : 0;
			rows[i] = (struct ls_row){
				.name = p->name,
				.owner = p->owner,
				.online = online,
				.status = p->status,
				.mode = p->cluster ? "cluster" : "fork",
				.pm_id = p->pm_id,
				.pid = online ? p->pid : 0,
				.restarts = p->restart_time,
				.cpu = p->cpu,
				.memory = p->memory,
				.uptime_ms = up,
				.cron = p->cron,
			};
		}
		print_rows(rows, n, false, r->look);
		free(rows);
	}
	pm2_procs_free(procs, n);
	loop_stop(r->loop, EXIT_OK);
}

static int ls_local(const char *home, bool json, const struct ls_look *look)
{
	struct ls_run r = {.json = json, .look = look};
	r.loop = loop_new();
	struct pm2_client *pm2 = pm2_client_new(r.loop, home, NULL, NULL);
	pm2_list(pm2, on_ls, &r);
	int rc = loop_run(r.loop);
	pm2_client_free(pm2);
	loop_free(r.loop);
	return rc < 0 ? EXIT_FAIL : rc;
}

/* --- the fleet, from Redis ---------------------------------------------- */

/* A one-shot tool may block: a plain hiredis connection, with AUTH and
 * SELECT as the URL says. NULL with a sentence on stderr. */
static redisContext *redis_open(const struct config *cfg)
{
	const struct redis_url *u = &cfg->redis;
	struct timeval tv = {5, 0};
	redisContext *rc = u->is_unix ? redisConnectUnixWithTimeout(u->path, tv)
				      : redisConnectWithTimeout(u->host, u->port, tv);
	char where[512];
	redis_url_redact(u, where, sizeof(where));
	if (rc == NULL || rc->err) {
		fprintf(stderr, "tasker ls: cannot reach Redis at %s: %s\n", where,
			rc ? rc->errstr : "out of memory");
		redisFree(rc);
		return NULL;
	}
	redisSetTimeout(rc, tv);
	redisReply *r = NULL;
	if (u->password != NULL)
		r = u->user ? redisCommand(rc, "AUTH %s %s", u->user, u->password)
			    : redisCommand(rc, "AUTH %s", u->password);
	if (r == NULL || r->type != REDIS_REPLY_ERROR) {
		freeReplyObject(r);
		r = u->db != 0 ? redisCommand(rc, "SELECT %d", u->db) : NULL;
	}
	if (rc->err || (r != NULL && r->type == REDIS_REPLY_ERROR)) {
		fprintf(stderr, "tasker ls: Redis at %s refused us: %s\n", where,
			r ? r->str : rc->errstr);
		freeReplyObject(r);
		redisFree(rc);
		return NULL;
	}
	freeReplyObject(r);
	return rc;
}

static int ls_fleet(struct config *cfg, bool json, const struct ls_look *look)
{
	redisContext *rc = redis_open(cfg);
	if (rc == NULL)
		return EXIT_FAIL;
	char **tables;
	size_t ntables;
	char why[400];
	int err = fleet_read_sync(rc, &tables, &ntables, why, sizeof(why));
	if (err < 0)
		fprintf(stderr, "tasker ls: %s\n", why);
	redisFree(rc);
	if (err < 0)
		return EXIT_FAIL;

	cJSON *all = cJSON_CreateArray();
	cJSON **roots = xcalloc(ntables + 1, sizeof(*roots));
	for (size_t i = 0; i < ntables; i++) {
		const cJSON *tasks = fleet_tasks_decode(tables[i], strlen(tables[i]), &roots[i]);
		const cJSON *t;
		cJSON_ArrayForEach(t, tasks)
		{
			if (cJSON_IsObject(t))
				cJSON_AddItemReferenceToArray(all, (cJSON *)(uintptr_t)t);
		}
	}
	if (json) {
		char *s = cJSON_PrintUnformatted(all);
		printf("%s\n", s);
		free(s);
	} else {
		/* The same records, decoded as the console decodes them. */
		int64_t now = util_wall_ms();
		struct ls_row *rows = NULL;
		size_t k = 0;
		for (size_t i = 0; i < ntables; i++) {
			struct pm2_proc *procs;
			size_t n;
			char **nodes;
			if (fleet_read_table(tables[i], strlen(tables[i]), now, &procs, &n, NULL, 0,
					     &nodes) < 0)
				continue;
			rows = xrealloc(rows, (k + n + 1) * sizeof(*rows));
			for (size_t j = 0; j < n; j++) {
				const struct pm2_proc *p = &procs[j];
				rows[k++] = (struct ls_row){
					.node = nodes[j][0] ? nodes[j] : xstrdup("-"),
					.name = p->name,
					.owner = p->owner,
					.online = p->state == PM2_ST_ONLINE,
					.status = p->status,
					.mode = p->exec_mode,
					.pm_id = p->pm_id,
					.pid = p->pid,
					.restarts = p->restart_time,
					.cpu = p->cpu,
					.memory = p->memory,
					.uptime_ms = p->pm_uptime > 0 ? now - p->pm_uptime : 0,
					.cron = p->cron,
				};
				/* The row keeps the strings; the records go. */
				procs[j].name = procs[j].status = procs[j].exec_mode = NULL;
				procs[j].owner = procs[j].cron = NULL;
				if (!nodes[j][0])
					free(nodes[j]);
			}
			free(nodes);
			pm2_procs_free(procs, n);
		}
		print_rows(rows, k, true, look);
		for (size_t i = 0; i < k; i++) {
			free((char *)(uintptr_t)rows[i].node);
			free((char *)(uintptr_t)rows[i].name);
			free((char *)(uintptr_t)rows[i].owner);
			free((char *)(uintptr_t)rows[i].status);
			free((char *)(uintptr_t)rows[i].mode);
			free((char *)(uintptr_t)rows[i].cron);
		}
		free(rows);
	}
	cJSON_Delete(all);
	for (size_t i = 0; i < ntables; i++) {
		cJSON_Delete(roots[i]);
		free(tables[i]);
	}
	free(roots);
	free(tables);
	return EXIT_OK;
}

enum { OPT_PM2_HOME = 1, OPT_COLOR };

int tool_ls(struct config *cfg, int argc, char **argv)
{
	static const struct option own[] = {
		{"json", no_argument, NULL, 'j'},
		{"fleet", no_argument, NULL, 'f'},
		{"pm2-home", required_argument, NULL, OPT_PM2_HOME},
		{"color", optional_argument, NULL, OPT_COLOR},
		{"colour", optional_argument, NULL, OPT_COLOR},
		{"help", no_argument, NULL, 'h'},
		{NULL, 0, NULL, 0},
	};
	bool json = false, fleet = false;
	const char *color = "auto";
	const char *home_opt = NULL;
	struct option *opts = config_options(own);
	int c;
	while ((c = tools_getopt(cfg, argc, argv, "+jfh", opts, "ls")) != -1) {
		switch (c) {
		case 'j':
			json = true;
			break;
		case 'f':
			fleet = true;
			break;
		case OPT_PM2_HOME:
			home_opt = optarg;
			break;
		case OPT_COLOR:
			color = optarg ? optarg : "always";
			if (strcmp(color, "auto") != 0 && strcmp(color, "always") != 0 &&
			    strcmp(color, "never") != 0) {
				free(opts);
				return tools_usage_error("ls", "--color takes auto, always or never");
			}
			break;
		case 'h':
			fputs(ls_help, stdout);
			free(opts);
			return EXIT_OK;
		default:
			free(opts);
			return EXIT_USAGE;
		}
	}
	free(opts);
	if (optind < argc)
		return tools_usage_error("ls", "takes no arguments");
	if (fleet) {
		int rc = tools_finish_config(cfg, "ls");
		if (rc != 0)
			return rc;
	} else if (cfg->env_error[0] != '\0') {
		fprintf(stderr, "tasker ls: %s\n", cfg->env_error);
		return EXIT_USAGE;
	}
	log_configure(cfg->log_level, cfg->log_format);
	tools_use_locale();
	/* NO_COLOR (no-color.org) turns auto off; an explicit --color=always
	 * still wins, as a command-line flag should. */
	const char *nc = getenv("NO_COLOR");
	struct ls_look look = {
		.color = strcmp(color, "always") == 0 ||
			 (strcmp(color, "auto") == 0 && isatty(STDOUT_FILENO) && !(nc && nc[0])),
		.utf8 = strcmp(nl_langinfo(CODESET), "UTF-8") == 0,
	};
	if (fleet)
		return ls_fleet(cfg, json, &look);
	char *home = home_opt ? xstrdup(home_opt) : pm2_home_path();
	if (home == NULL) {
		fprintf(stderr, "tasker ls: neither PM2_HOME nor HOME is set\n");
		return EXIT_USAGE;
	}
	int rc = ls_local(home, json, &look);
	free(home);
	return rc;
}
