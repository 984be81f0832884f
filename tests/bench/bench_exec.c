/*
 * bench_exec: the executor (`tasker exec`) measured from the outside, the
 * way a sender sees it, against a real redis-server and a real PM2 daemon
 * with a private PM2_HOME (bench_exec.sh starts both and the executor).
 *
 *   listing   CPU per call of getMonitorData over the socket (pm2_list)
 *             against spawning `pm2 jlist`, each with the daemon's CPU
 *   latency   publish -> reply with the same request_id on the status
 *             channel, start then stop, one at a time, over 20 tasks
 *   burst     50 starts published at once: first publish -> last reply
 *
 * Every task runs `sleep 600`. Tasks are deleted between phases; the
 * burst's tasks are left running so the caller can read the executor's
 * memory with them in place. Prints figures; asserts nothing.
 *
 * With EXEC_PID, the latency and burst lines are followed by where the CPU
 * went: the PM2 daemon's and the executor's, per command.
 *
 * Usage: bench_exec REDIS_URL PM2_HOME PM2_BIN [EXEC_PID]
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "pm2.h"
#include "redis_url.h"
#include "util.h"

extern char **environ;

#define MAX_REQS 1024
#define LAT_TASKS 20
#define BURST_TASKS 50
#define LIST_TASKS 4
#define LIST_BATCHES 11
#define LIST_PER_BATCH 50
#define JLIST_RUNS 9
#define T_REPLY 30000 /* ms: deadline for one reply */

/* Upstream TypeScript service, measured on this machine by the author. */
#define TS_START_P50 32.0
#define TS_START_P95 50.0
#define TS_STOP_P50 143.0
#define TS_BURST 771.0

struct req {
	char id[64];
	int64_t sent_us, got_us; /* got_us 0: no reply yet */
	char status[32];
	char error[160];
};

static struct bench {
	struct loop *loop;
	struct bus *bus;
	struct pm2_client *pm2;
	const char *channel, *status_channel;
	const char *home, *pm2_bin;
	long exec_pid; /* 0: unknown */
	char prefix[40];
	bool ready;
	struct req reqs[MAX_REQS];
	size_t nreqs;
	/* listing */
	int lists_left;
	int list_errors;
	size_t last_count;
	/* pings */
	bool ping_done, ping_ok;
} b;

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

typedef bool (*cond_fn)(void *arg);

/* Runs the loop until fn(arg) holds or timeout_ms passes. */
static bool wait_for(cond_fn fn, void *arg, int64_t timeout_ms)
{
	int64_t deadline = util_mono_ms() + timeout_ms;
	while (!fn(arg)) {
		int64_t left = deadline - util_mono_ms();
		if (left <= 0)
			return false;
		loop_run_once(b.loop, left > 100 ? 100 : (int)left);
	}
	return true;
}

/* ---- the bus: requests and their replies ---------------------------------- */

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
                       void *arg)
{
	(void)bus;
	(void)channel;
	(void)arg;
	int64_t t = now_us();
	size_t plen = strlen(b.prefix);
	cJSON *root = cJSON_ParseWithLength(data, len);
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "request_id");
	if (!cJSON_IsString(rid) || strncmp(rid->valuestring, b.prefix, plen) != 0) {
		cJSON_Delete(root); /* a relayed PM2 event, or someone else's */
		return;
	}
	char *end;
	unsigned long i = strtoul(rid->valuestring + plen, &end, 10);
	if (*end == '\0' && i < b.nreqs && b.reqs[i].got_us == 0) {
		struct req *r = &b.reqs[i];
		r->got_us = t;
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(root, "error");
		snprintf(r->status, sizeof(r->status), "%s",
		         cJSON_IsString(st) ? st->valuestring : "?");
		snprintf(r->error, sizeof(r->error), "%s",
		         cJSON_IsString(er) ? er->valuestring : "");
	}
	cJSON_Delete(root);
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	(void)why;
	(void)arg;
	b.ready = ready;
}

static bool bus_is_ready(void *arg)
{
	(void)arg;
	return b.ready;
}

/* Publishes one command envelope; returns its request index, or -1. */
static int publish(const char *verb, const char *task)
{
	if (b.nreqs == MAX_REQS)
		return -1;
	size_t i = b.nreqs++;
	struct req *r = &b.reqs[i];
	memset(r, 0, sizeof(*r));
	snprintf(r->id, sizeof(r->id), "%s%zu", b.prefix, i);
	cJSON *env = cJSON_CreateObject();
	cJSON_AddStringToObject(env, "verb", verb);
	cJSON *params = cJSON_AddObjectToObject(env, "params");
	cJSON_AddStringToObject(params, "task", task);
	if (strcmp(verb, "start") == 0)
		cJSON_AddStringToObject(params, "command", "sleep 600");
	cJSON_AddStringToObject(env, "request_id", r->id);
	cJSON_AddStringToObject(env, "agent_id", "bench_exec");
	char *s = cJSON_PrintUnformatted(env);
	cJSON_Delete(env);
	r->sent_us = now_us();
	int rc = bus_publish(b.bus, b.channel, s, strlen(s), NULL, NULL);
	free(s);
	return rc == 0 ? (int)i : -1;
}

struct span {
	size_t from, to; /* request indexes [from, to) */
};

static bool span_answered(void *arg)
{
	const struct span *sp = arg;
	for (size_t i = sp->from; i < sp->to; i++)
		if (b.reqs[i].got_us == 0)
			return false;
	return true;
}

static double req_ms(size_t i)
{
	return (double)(b.reqs[i].got_us - b.reqs[i].sent_us) / 1000.0;
}

/* Counts replies in [from, to) whose status is want; tells about the others. */
static int count_status(size_t from, size_t to, const char *want)
{
	int n = 0, told = 0;
	for (size_t i = from; i < to; i++) {
		if (b.reqs[i].got_us != 0 && strcmp(b.reqs[i].status, want) == 0) {
			n++;
		} else if (told++ < 3) {
			fprintf(stderr, "bench_exec: request %s: %s %s\n", b.reqs[i].id,
			        b.reqs[i].got_us ? b.reqs[i].status : "no reply", b.reqs[i].error);
		}
	}
	return n;
}

/* One command at a time: publish, wait for its reply. Returns the index. */
static int request(const char *verb, const char *task)
{
	int i = publish(verb, task);
	if (i < 0)
		return -1;
	struct span sp = {(size_t)i, (size_t)i + 1};
	wait_for(span_answered, &sp, T_REPLY);
	return i;
}

/* Publishes one verb for every name at once and waits for all replies. */
static struct span request_all(const char *verb, char names[][32], int n)
{
	struct span sp = {b.nreqs, b.nreqs};
	for (int k = 0; k < n; k++)
		if (publish(verb, names[k]) >= 0)
			sp.to = b.nreqs;
	wait_for(span_answered, &sp, T_REPLY + 100LL * n);
	return sp;
}

static void make_names(char names[][32], int n, const char *stem)
{
	for (int k = 0; k < n; k++)
		snprintf(names[k], 32, "%s-%02d", stem, k);
}

/* ---- statistics ----------------------------------------------------------------- */

static int cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;
	return a < c ? -1 : a > c;
}

/* Nearest-rank percentile of v[0..n) (sorts v). */
static double pct(double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), cmp_double);
	size_t k = (size_t)ceil(p * (double)n);
	return v[k > 0 ? k - 1 : 0];
}

/* ---- CPU accounting -------------------------------------------------------------- */

static double tv_ms(struct timeval tv)
{
	return (double)tv.tv_sec * 1000.0 + (double)tv.tv_usec / 1000.0;
}

static double rusage_ms(int who)
{
	struct rusage ru;
	getrusage(who, &ru);
	return tv_ms(ru.ru_utime) + tv_ms(ru.ru_stime);
}

static long daemon_pid(void)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pm2.pid", b.home);
	FILE *f = fopen(path, "r");
	long pid = -1;
	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

/* utime + stime of a process (all its threads), in ms, or with children
 * set cutime + cstime (its reaped children); -1 when unreadable. */
static double proc_cpu(long pid, bool children)
{
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces and parens. */
	char *p = strrchr(buf, ')');
	if (p == NULL)
		return -1;
	unsigned long long ut = 0, st = 0, cut = 0, cst = 0;
	/* state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime(14) stime(15) cutime(16) cstime(17) */
	if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &ut,
	           &st, &cut, &cst) != 4)
		return -1;
	return (double)(children ? cut + cst : ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

static double proc_cpu_ms(long pid)
{
	return proc_cpu(pid, false);
}

/* CPU of the daemon and the executor, for "where did the time go". */
struct cpu_snap {
	double daemon, daemon_kids, exec;
	int64_t t_us;
};

static struct cpu_snap cpu_snap(void)
{
	long dpid = daemon_pid();
	struct cpu_snap c = {
	    .daemon = dpid > 0 ? proc_cpu_ms(dpid) : -1,
	    .daemon_kids = dpid > 0 ? proc_cpu(dpid, true) : -1,
	    .exec = b.exec_pid > 0 ? proc_cpu_ms(b.exec_pid) : -1,
	    .t_us = now_us(),
	};
	return c;
}

/* Prints the CPU spent between two snapshots, per command. */
static void cpu_detail(const char *what, struct cpu_snap a, struct cpu_snap z, int per)
{
	if (b.exec_pid <= 0 || a.daemon < 0 || z.daemon < 0 || a.exec < 0 || z.exec < 0 || per <= 0)
		return;
	double wall = (double)(z.t_us - a.t_us) / 1000.0;
	printf("  %s: %.0f ms wall; CPU per command: PM2 daemon %.1f ms (+ %.1f ms in children it "
	       "reaped), executor %.2f ms (10 ms ticks, summed over %d)\n",
	       what, wall, (z.daemon - a.daemon) / per, (z.daemon_kids - a.daemon_kids) / per,
	       (z.exec - a.exec) / per, per);
}

/* ---- phase: listing cost ---------------------------------------------------------- */

static void on_list(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
                    void *arg)
{
	(void)arg;
	if (error != NULL) {
		b.list_errors++;
		b.lists_left = 0;
		fprintf(stderr, "bench_exec: getMonitorData: %s\n", error);
		return;
	}
	b.last_count = n;
	pm2_procs_free(procs, n);
	if (--b.lists_left > 0)
		pm2_list(c, on_list, NULL);
}

static bool lists_done(void *arg)
{
	(void)arg;
	return b.lists_left <= 0;
}

/* n getMonitorData calls, one after another; false on an error. */
static bool list_n(int n)
{
	b.lists_left = n;
	b.list_errors = 0;
	pm2_list(b.pm2, on_list, NULL);
	return wait_for(lists_done, NULL, T_REPLY) && b.list_errors == 0;
}

/* One `pm2 jlist`, stdout and stderr to /dev/null; waits for it. */
static bool spawn_jlist(void)
{
	char w0[1024], w1[8];
	snprintf(w0, sizeof(w0), "%s", b.pm2_bin);
	snprintf(w1, sizeof(w1), "jlist");
	char *argv[] = {w0, w1, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "bench_exec: spawning %s jlist: %s\n", b.pm2_bin, strerror(rc));
		return false;
	}
	int status;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* Medians over batches of getMonitorData calls, per call (the daemon's CPU
 * is counted in 10 ms ticks, hence batches). Returns the batches done. */
struct list_cost {
	double cpu, self, wall; /* ms per call: daemon + client, client, wall */
};

static int socket_list_cost(long dpid, int batches, int per, struct list_cost *out)
{
	double cpu[LIST_BATCHES], self[LIST_BATCHES], wall[LIST_BATCHES];
	int n = 0;
	if (batches > LIST_BATCHES)
		batches = LIST_BATCHES;
	for (int k = 0; k < batches; k++) {
		double d0 = proc_cpu_ms(dpid), s0 = rusage_ms(RUSAGE_SELF);
		int64_t t0 = now_us();
		if (!list_n(per))
			break;
		int64_t t1 = now_us();
		double d1 = proc_cpu_ms(dpid), s1 = rusage_ms(RUSAGE_SELF);
		cpu[n] = ((d1 - d0) + (s1 - s0)) / per;
		self[n] = (s1 - s0) / per;
		wall[n] = (double)(t1 - t0) / 1000.0 / per;
		n++;
	}
	if (n > 0) {
		out->cpu = pct(cpu, (size_t)n, 0.5);
		out->self = pct(self, (size_t)n, 0.5);
		out->wall = pct(wall, (size_t)n, 0.5);
	}
	return n;
}

static void phase_listing(void)
{
	char names[LIST_TASKS][32];
	make_names(names, LIST_TASKS, "bench-list");
	struct span sp = request_all("start", names, LIST_TASKS);
	int started = count_status(sp.from, sp.to, "started");
	long dpid = daemon_pid();
	if (started != LIST_TASKS || dpid <= 0 || proc_cpu_ms(dpid) < 0) {
		printf("listing cost: skipped (%d/%d tasks started, daemon pid %ld)\n", started,
		       LIST_TASKS, dpid);
		goto out;
	}
	list_n(5); /* warm the connection and the daemon's code paths */

	struct list_cost sock;
	int nsock = socket_list_cost(dpid, LIST_BATCHES, LIST_PER_BATCH, &sock);
	/* pm2 jlist: one process per call, as a script polling it would. */
	double jl[JLIST_RUNS], jl_child[JLIST_RUNS], jl_wall[JLIST_RUNS];
	int njl = 0;
	for (int k = 0; k < JLIST_RUNS; k++) {
		double d0 = proc_cpu_ms(dpid), c0 = rusage_ms(RUSAGE_CHILDREN);
		int64_t t0 = now_us();
		if (!spawn_jlist())
			break;
		int64_t t1 = now_us();
		double d1 = proc_cpu_ms(dpid), c1 = rusage_ms(RUSAGE_CHILDREN);
		jl[njl] = (d1 - d0) + (c1 - c0);
		jl_child[njl] = c1 - c0;
		jl_wall[njl] = (double)(t1 - t0) / 1000.0;
		njl++;
	}
	if (nsock == 0 || njl == 0) {
		printf("listing cost: failed (%d socket batches, %d pm2 jlist runs)\n", nsock, njl);
		goto out;
	}
	double s = sock.cpu, j = pct(jl, (size_t)njl, 0.5);
	printf("listing cost (%zu tasks)  socket getMonitorData %.2f ms CPU/call   "
	       "pm2 jlist %.0f ms CPU/call   %.0fx cheaper   (goal >= 50x cheaper)\n",
	       b.last_count, s, j, s > 0 ? j / s : INFINITY);
	printf("  medians: socket %.2f ms wall, client %.3f ms CPU (%d x %d calls); "
	       "pm2 jlist %.0f ms wall, pm2 process %.0f ms CPU (%d runs); daemon CPU included\n",
	       sock.wall, sock.self, nsock, LIST_PER_BATCH, pct(jl_wall, (size_t)njl, 0.5),
	       pct(jl_child, (size_t)njl, 0.5), njl);
out:
	request_all("delete", names, LIST_TASKS);
}

/* ---- phase: start and stop latency, one at a time ------------------------------------ */

static void phase_latency(void)
{
	char names[LAT_TASKS][32];
	make_names(names, LAT_TASKS, "bench-lat");
	double start[LAT_TASKS], stop[LAT_TASKS];
	int nstart = 0, nstop = 0;
	struct cpu_snap c0 = cpu_snap();
	for (int k = 0; k < LAT_TASKS; k++) {
		int i = request("start", names[k]);
		if (i >= 0 && b.reqs[i].got_us != 0 && strcmp(b.reqs[i].status, "started") == 0)
			start[nstart++] = req_ms((size_t)i);
		else if (i >= 0)
			count_status((size_t)i, (size_t)i + 1, "started");
	}
	struct cpu_snap c1 = cpu_snap();
	for (int k = 0; k < LAT_TASKS; k++) {
		int i = request("stop", names[k]);
		if (i >= 0 && b.reqs[i].got_us != 0 && strcmp(b.reqs[i].status, "stopped") == 0)
			stop[nstop++] = req_ms((size_t)i);
		else if (i >= 0)
			count_status((size_t)i, (size_t)i + 1, "stopped");
	}
	struct cpu_snap c2 = cpu_snap();
	printf("start reply latency   p50 %.1f ms  p95 %.1f ms  (%d/%d started)   "
	       "(upstream TS: p50 %.0f ms, p95 %.0f ms; goal p50 <= 15 ms)\n",
	       pct(start, (size_t)nstart, 0.5), pct(start, (size_t)nstart, 0.95), nstart, LAT_TASKS,
	       TS_START_P50, TS_START_P95);
	cpu_detail("20 starts", c0, c1, LAT_TASKS);
	printf("stop reply latency    p50 %.1f ms  p95 %.1f ms  (%d/%d stopped)   "
	       "(upstream TS: p50 %.0f ms; goal p50 <= ~110 ms)\n",
	       pct(stop, (size_t)nstop, 0.5), pct(stop, (size_t)nstop, 0.95), nstop, LAT_TASKS,
	       TS_STOP_P50);
	cpu_detail("20 stops", c1, c2, LAT_TASKS);
	request_all("delete", names, LAT_TASKS);
}

/* ---- phase: a burst of starts ----------------------------------------------------------- */

static void phase_burst(void)
{
	char names[BURST_TASKS][32];
	make_names(names, BURST_TASKS, "bench-burst");
	struct cpu_snap c0 = cpu_snap();
	struct span sp = request_all("start", names, BURST_TASKS);
	struct cpu_snap c1 = cpu_snap();
	int started = count_status(sp.from, sp.to, "started");
	int64_t last = 0;
	double each[BURST_TASKS];
	size_t n = 0;
	for (size_t i = sp.from; i < sp.to; i++) {
		if (b.reqs[i].got_us > last)
			last = b.reqs[i].got_us;
		if (b.reqs[i].got_us != 0)
			each[n++] = req_ms(i);
	}
	if (sp.to == sp.from || last == 0) {
		printf("burst of %d starts: no replies\n", BURST_TASKS);
		return;
	}
	printf("burst of %d starts    %.0f ms until the last reply  (%d/%d started; "
	       "replies p50 %.0f ms)   (upstream TS: %.0f ms; goal <= 375 ms)\n",
	       BURST_TASKS, (double)(last - b.reqs[sp.from].sent_us) / 1000.0, started, BURST_TASKS,
	       pct(each, n, 0.5), TS_BURST);
	cpu_detail("burst", c0, c1, BURST_TASKS);

	/* Every start and stop begins with getMonitorData, whose cost grows
	 * with the number of tasks: what it costs with the burst in place. */
	struct list_cost big;
	long dpid = daemon_pid();
	if (dpid > 0 && list_n(3) && socket_list_cost(dpid, 3, 20, &big) > 0)
		printf("  getMonitorData with %zu tasks: %.1f ms CPU/call (daemon + client), "
		       "%.1f ms wall; each start/stop lists first\n",
		       b.last_count, big.cpu, big.wall);
}

/* ---- main ---------------------------------------------------------------------------- */

static void on_ping(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	(void)arg;
	b.ping_ok = error == NULL;
	b.ping_done = true;
}

static bool ping_done(void *arg)
{
	(void)arg;
	return b.ping_done;
}

/* The executor starts the daemon itself; wait until it answers. */
static bool daemon_up(int64_t timeout_ms)
{
	int64_t deadline = util_mono_ms() + timeout_ms;
	while (util_mono_ms() < deadline) {
		b.ping_done = b.ping_ok = false;
		pm2_ping(b.pm2, on_ping, NULL);
		wait_for(ping_done, NULL, 5000);
		if (b.ping_ok && daemon_pid() > 0)
			return true;
		loop_run_once(b.loop, 100);
	}
	return false;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_exec REDIS_URL PM2_HOME PM2_BIN [EXEC_PID]\n");
		return 2;
	}
	log_configure(LOG_LVL_WARN, LOG_FMT_TEXT);
	b.home = argv[2];
	b.pm2_bin = argv[3];
	b.exec_pid = argc > 4 ? atol(argv[4]) : 0;
	/* `pm2 jlist` must talk to the private daemon, never ~/.pm2. */
	setenv("PM2_HOME", b.home, 1);
	setenv("PM2_DISCRETE_MODE", "1", 1);

	struct redis_url url;
	char err[256];
	if (redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_exec: %s\n", err);
		return 2;
	}
	struct config cfg;
	if (config_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_exec: %s\n", err);
		redis_url_free(&url);
		return 2;
	}
	b.channel = cfg.channel;
	b.status_channel = cfg.status_channel;
	snprintf(b.prefix, sizeof(b.prefix), "bench-%ld-", (long)getpid());

	int rc = 1;
	b.loop = loop_new();
	struct bus_handlers h = {.on_message = on_message, .on_state = on_state};
	b.bus = bus_new(b.loop, &url, &h, NULL);
	bus_subscribe(b.bus, b.status_channel);
	b.pm2 = pm2_client_new(b.loop, b.home, NULL, NULL);
	if (!wait_for(bus_is_ready, NULL, 10000)) {
		fprintf(stderr, "bench_exec: Redis is not ready: %s\n", bus_status(b.bus));
		goto out;
	}
	if (!daemon_up(30000)) {
		fprintf(stderr, "bench_exec: no PM2 daemon answers at %s\n", b.home);
		goto out;
	}
	/* Lets the executor's own client and event reader settle too. */
	int warm = request("status", "-");
	if (warm < 0 || b.reqs[warm].got_us == 0) {
		fprintf(stderr, "bench_exec: the executor does not answer on %s\n", b.channel);
		goto out;
	}
	phase_listing();
	phase_latency();
	phase_burst();
	rc = 0;
out:
	pm2_client_free(b.pm2);
	bus_free(b.bus);
	loop_free(b.loop);
	config_free(&cfg);
	redis_url_free(&url);
	return rc;
}
