/*
 * bench_exec: the executor (`tasker exec`) measured from the outside, the
 * way a sender sees it, against a real redis-server and a real PM2 daemon
 * with a private PM2_HOME (bench_exec.sh starts both and the executor),
 * side by side with the pm2 command doing the same thing to the same
 * daemon in the same run:
 *
 *   listing   `tasker ls` against `pm2 jlist` (a process per call each),
 *             and getMonitorData in-process over the socket; CPU with
 *             the daemon's share
 *   one by one  start, then stop: publish -> reply with the same
 *             request_id, against `pm2 start` / `pm2 stop` (spawn -> exit)
 *   burst     50 starts published at once (first publish -> last reply),
 *             against `pm2 start` of one ecosystem file with 50 apps
 *
 * Each comparison runs in rounds, the two sides one after the other and
 * their order alternating, and prints each side's median and the ratio
 * pm2 / tasker taken round by round: its median and its range. The
 * machine is shared and noisy, so only figures taken side by side are
 * compared. Every task runs `sleep 600`. Tasks are deleted between
 * phases; tasker's last burst is left running so the caller can read the
 * executor's memory with it in place. Prints figures; asserts nothing.
 *
 * Usage: bench_exec REDIS_URL PM2_HOME PM2_BIN TASKER_BIN EXEC_PID
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

#include "bench.h"

extern char **environ;

#define MAX_REQS 2048
#define MAX_ROUNDS 32
#define LAT_ROUNDS 15	  /* start/stop: one task a side per round */
#define BURST_TASKS 50
#define BURST_ROUNDS 3
#define LIST_TASKS 4
#define LIST_ROUNDS 7
#define LS_PER_ROUND 20	  /* tasker ls runs a round (a few ms each) */
#define JLIST_PER_ROUND 3 /* pm2 jlist runs a round (a few hundred ms each) */
#define LIST_PER_BATCH 50 /* in-process getMonitorData calls a round */
#define LIST_BATCHES 11
#define T_REPLY 30000 /* ms: deadline for one reply */

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
	const char *home, *pm2_bin, *tasker_bin;
	long exec_pid;
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
	int64_t t = bench_now_us();
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
	r->sent_us = bench_now_us();
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

/* CPU of the daemon and the executor, for "where did the time go". */
struct cpu_snap {
	double daemon, exec;
};

static struct cpu_snap cpu_snap(void)
{
	long dpid = bench_pm2_daemon_pid(b.home);
	struct cpu_snap c = {
	    .daemon = dpid > 0 ? bench_proc_cpu_ms(dpid) : -1,
	    .exec = bench_proc_cpu_ms(b.exec_pid),
	};
	return c;
}

/* ---- listing over the socket, in-process ------------------------------------------ */

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
		double d0 = bench_proc_cpu_ms(dpid), s0 = rusage_ms(RUSAGE_SELF);
		int64_t t0 = bench_now_us();
		if (!list_n(per))
			break;
		int64_t t1 = bench_now_us();
		double d1 = bench_proc_cpu_ms(dpid), s1 = rusage_ms(RUSAGE_SELF);
		cpu[n] = ((d1 - d0) + (s1 - s0)) / per;
		self[n] = (s1 - s0) / per;
		wall[n] = (double)(t1 - t0) / 1000.0 / per;
		n++;
	}
	if (n > 0) {
		out->cpu = bench_pct(cpu, (size_t)n, 0.5);
		out->self = bench_pct(self, (size_t)n, 0.5);
		out->wall = bench_pct(wall, (size_t)n, 0.5);
	}
	return n;
}

/* ---- side by side: rounds and their ratios ---------------------------------------- */

/* A figure per round for tasker and for its baseline; the ratio
 * baseline / tasker is taken round by round, so both sides of a ratio saw
 * the same moment of a shared, noisy machine. */
struct rounds {
	double tasker[MAX_ROUNDS], base[MAX_ROUNDS];
	int n;
};

static void rounds_add(struct rounds *r, double tasker, double base)
{
	if (r->n < MAX_ROUNDS) {
		r->tasker[r->n] = tasker;
		r->base[r->n] = base;
		r->n++;
	}
}

/* "median 21.3x (min 15.2x, max 30.1x; 15 rounds)": baseline / tasker. */
static const char *rounds_ratio(const struct rounds *r)
{
	static char s[120];
	double q[MAX_ROUNDS];
	int n = 0;
	for (int i = 0; i < r->n; i++)
		if (r->tasker[i] > 0)
			q[n++] = r->base[i] / r->tasker[i];
	if (n == 0) {
		snprintf(s, sizeof(s), "no ratio (tasker's figure was 0 in every round)");
		return s;
	}
	qsort(q, (size_t)n, sizeof(double), bench_cmp_double);
	snprintf(s, sizeof(s), "median %.1fx (min %.1fx, max %.1fx; %d rounds)", bench_pct(q, (size_t)n, 0.5),
		 q[0], q[n - 1], n);
	return s;
}

static double median_of(const double *v, int n)
{
	double c[MAX_ROUNDS];
	memcpy(c, v, sizeof(double) * (size_t)n);
	return bench_pct(c, (size_t)n, 0.5);
}

/* Prints one side-by-side line: the medians of both, the ratio, and
 * tasker's goal when it has one (goal may be ""). */
static void print_rounds(const char *what, const char *base_name, const char *unit,
			 const struct rounds *r, const char *goal)
{
	if (r->n == 0) {
		printf("%-24s no round completed on both sides\n", what);
		return;
	}
	printf("%-24s tasker %.1f %s   %s %.1f %s   %s / tasker: %s%s%s\n", what,
	       median_of(r->tasker, r->n), unit, base_name, median_of(r->base, r->n), unit,
	       base_name, rounds_ratio(r), *goal ? "   " : "", goal);
}

/* ---- spawning the baselines ------------------------------------------------------------ */

/* What one command cost: wall, its own CPU (and its children's), and the
 * PM2 daemon's CPU meanwhile, in ms. */
struct cost {
	double wall, self, daemon;
	bool ok;
};

/* Runs words[] (NULL-terminated, at most 16 words) with stdin, stdout
 * and stderr on /dev/null and waits for it; ok when it exits 0. */
static struct cost spawn_cost(const char *const words[])
{
	char buf[16][512];
	char *argv[17];
	int n = 0;
	for (; words[n] != NULL && n < 16; n++) {
		snprintf(buf[n], sizeof(buf[n]), "%s", words[n]);
		argv[n] = buf[n];
	}
	argv[n] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	long dpid = bench_pm2_daemon_pid(b.home);
	struct cost c = {0};
	double d0 = bench_proc_cpu_ms(dpid), c0 = rusage_ms(RUSAGE_CHILDREN);
	int64_t t0 = bench_now_us();
	pid_t pid;
	int rc = posix_spawn(&pid, argv[0], &fa, NULL, argv, environ);
	posix_spawn_file_actions_destroy(&fa);
	if (rc != 0) {
		fprintf(stderr, "bench_exec: spawning %s: %s\n", argv[0], strerror(rc));
		return c;
	}
	int status = 0;
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	c.wall = (double)(bench_now_us() - t0) / 1000.0;
	c.self = rusage_ms(RUSAGE_CHILDREN) - c0;
	c.daemon = bench_proc_cpu_ms(dpid) - d0;
	c.ok = WIFEXITED(status) && WEXITSTATUS(status) == 0;
	if (!c.ok)
		fprintf(stderr, "bench_exec: %s %s failed (status %d)\n", argv[0],
			n > 1 ? argv[1] : "", status);
	return c;
}

/* One command through tasker exec: publish, wait for the reply. The
 * executor's CPU is its "self". ok when the reply's status is want. */
static struct cost tasker_cost(const char *verb, const char *task, const char *want)
{
	struct cpu_snap a = cpu_snap();
	int i = request(verb, task);
	struct cpu_snap z = cpu_snap();
	struct cost c = {0};
	if (i < 0 || b.reqs[i].got_us == 0) {
		fprintf(stderr, "bench_exec: %s %s: no reply\n", verb, task);
		return c;
	}
	c.wall = req_ms((size_t)i);
	c.self = z.exec - a.exec;
	c.daemon = z.daemon - a.daemon;
	c.ok = count_status((size_t)i, (size_t)i + 1, want) == 1;
	return c;
}

/* ---- phase: listing cost ----------------------------------------------------------------- */

/* Per round: tasker ls (a process, over the socket) and pm2 jlist (a
 * process, the Node.js client), in alternating order, then a batch of
 * in-process getMonitorData calls (what the console and the executor pay).
 * CPU is the client's plus the daemon's (the daemon in 10 ms ticks, hence
 * several calls per round). */
static void phase_listing(void)
{
	char names[LIST_TASKS][32];
	make_names(names, LIST_TASKS, "bench-list");
	struct span sp = request_all("start", names, LIST_TASKS);
	int started = count_status(sp.from, sp.to, "started");
	long dpid = bench_pm2_daemon_pid(b.home);
	if (started != LIST_TASKS || dpid <= 0 || bench_proc_cpu_ms(dpid) < 0) {
		printf("listing: skipped (%d/%d tasks started, daemon pid %ld)\n", started,
		       LIST_TASKS, dpid);
		goto out;
	}
	list_n(5); /* warm the connection and the daemon's code paths */

	const char *const ls[] = {b.tasker_bin, "ls", "--json", "--pm2-home", b.home, NULL};
	const char *const jlist[] = {b.pm2_bin, "jlist", NULL};
	struct rounds cpu = {0}, wall = {0}, sock_cpu = {0};
	for (int r = 0; r < LIST_ROUNDS; r++) {
		double t_cpu = 0, t_wall = 0, p_cpu = 0, p_wall = 0;
		bool ok = true;
		for (int side = 0; side < 2; side++) {
			bool tasker_side = (side == 0) == (r % 2 == 0);
			int calls = tasker_side ? LS_PER_ROUND : JLIST_PER_ROUND;
			for (int k = 0; k < calls; k++) {
				struct cost c = spawn_cost(tasker_side ? ls : jlist);
				ok = ok && c.ok;
				*(tasker_side ? &t_cpu : &p_cpu) += (c.self + c.daemon) / calls;
				*(tasker_side ? &t_wall : &p_wall) += c.wall / calls;
			}
		}
		struct list_cost sock;
		if (!ok || socket_list_cost(dpid, 1, LIST_PER_BATCH, &sock) != 1)
			continue;
		rounds_add(&cpu, t_cpu, p_cpu);
		rounds_add(&wall, t_wall, p_wall);
		rounds_add(&sock_cpu, sock.cpu, p_cpu);
	}
	printf("listing (%zu tasks), per call, medians of %d rounds (tasker ls x%d, pm2 jlist x%d, "
	       "getMonitorData x%d a round); CPU includes the daemon's\n",
	       b.last_count, cpu.n, LS_PER_ROUND, JLIST_PER_ROUND, LIST_PER_BATCH);
	print_rounds("  CPU", "pm2 jlist", "ms", &cpu, "");
	print_rounds("  wall", "pm2 jlist", "ms", &wall, "");
	print_rounds("  in-process socket CPU", "pm2 jlist", "ms", &sock_cpu,
		     "(goal: >= 50x cheaper)");
out:
	request_all("delete", names, LIST_TASKS);
}

/* ---- phase: start and stop, one at a time ------------------------------------------------ */

/* Per round, a task started by tasker (publish -> reply) and one started by
 * the pm2 command (spawn -> exit), in alternating order; then both
 * stopped the same way. Every task runs `sleep 600`. */
struct op_tally {
	struct rounds wall;
	double t_daemon, t_self, p_daemon, p_self; /* sums, ms */
};

static void tally_print(const char *what, const struct op_tally *t, const char *goal)
{
	print_rounds(what, "pm2 CLI", "ms", &t->wall, goal);
	if (t->wall.n > 0)
		printf("    CPU per command: tasker: daemon %.1f ms + executor %.1f ms; pm2 CLI: "
		       "daemon %.1f ms + the pm2 process %.0f ms (daemon and executor in 10 ms "
		       "ticks, summed over %d)\n",
		       t->t_daemon / t->wall.n, t->t_self / t->wall.n, t->p_daemon / t->wall.n,
		       t->p_self / t->wall.n, t->wall.n);
}

static void phase_latency(void)
{
	struct op_tally start = {0}, stop = {0};
	char tnames[LAT_ROUNDS][32], pnames[LAT_ROUNDS][32];
	make_names(tnames, LAT_ROUNDS, "bench-lat");
	make_names(pnames, LAT_ROUNDS, "bench-pm2");
	for (int r = 0; r < LAT_ROUNDS; r++) {
		const char *const pm2_start[] = {b.pm2_bin, "start", "sleep", "--name", pnames[r],
						 "--interpreter", "none", "--", "600", NULL};
		const char *const pm2_stop[] = {b.pm2_bin, "stop", pnames[r], NULL};
		for (int phase = 0; phase < 2; phase++) {
			struct op_tally *t = phase == 0 ? &start : &stop;
			struct cost tc = {0}, pc = {0};
			for (int side = 0; side < 2; side++) {
				if ((side == 0) == (r % 2 == 0))
					tc = phase == 0 ? tasker_cost("start", tnames[r], "started")
							: tasker_cost("stop", tnames[r], "stopped");
				else
					pc = spawn_cost(phase == 0 ? pm2_start : pm2_stop);
			}
			if (!tc.ok || !pc.ok)
				continue;
			rounds_add(&t->wall, tc.wall, pc.wall);
			t->t_daemon += tc.daemon;
			t->t_self += tc.self;
			t->p_daemon += pc.daemon;
			t->p_self += pc.self;
		}
	}
	printf("one at a time, medians of %d rounds (tasker: publish -> reply; pm2 CLI: "
	       "`pm2 start sleep --interpreter none -- 600`, `pm2 stop NAME`, spawn -> exit)\n",
	       LAT_ROUNDS);
	tally_print("  start", &start, "(goal: tasker p50 <= 15 ms)");
	tally_print("  stop", &stop, "");
	request_all("delete", tnames, LAT_ROUNDS);
	request_all("delete", pnames, LAT_ROUNDS);
}

/* ---- phase: a burst of starts ------------------------------------------------------------ */

/* tasker: 50 starts published at once, first publish -> last reply. */
static double tasker_burst(char names[][32], int *started)
{
	struct span sp = request_all("start", names, BURST_TASKS);
	*started = count_status(sp.from, sp.to, "started");
	int64_t last = 0;
	for (size_t i = sp.from; i < sp.to; i++)
		if (b.reqs[i].got_us > last)
			last = b.reqs[i].got_us;
	if (sp.to == sp.from || last == 0)
		return -1;
	return (double)(last - b.reqs[sp.from].sent_us) / 1000.0;
}

/* The same 50 apps for the pm2 command, in one ecosystem file: its
 * cheapest way to start 50 (one Node.js process, not 50). */
static bool write_ecosystem(const char *path, char names[][32])
{
	FILE *f = fopen(path, "w");
	if (f == NULL)
		return false;
	fprintf(f, "[");
	for (int k = 0; k < BURST_TASKS; k++)
		fprintf(f, "%s\n{\"name\":\"%s\",\"script\":\"sleep\",\"args\":[\"600\"],"
			   "\"interpreter\":\"none\"}",
			k ? "," : "", names[k]);
	fprintf(f, "\n]\n");
	return fclose(f) == 0;
}

static void phase_burst(void)
{
	char tnames[BURST_TASKS][32], pnames[BURST_TASKS][32], eco[600];
	make_names(tnames, BURST_TASKS, "bench-burst");
	make_names(pnames, BURST_TASKS, "bench-pm2burst");
	snprintf(eco, sizeof(eco), "%s/bench-burst.json", b.home);
	if (!write_ecosystem(eco, pnames)) {
		printf("burst: skipped (cannot write %s)\n", eco);
		return;
	}
	const char *const pm2_start[] = {b.pm2_bin, "start", eco, NULL};
	struct rounds wall = {0};
	int last_started = 0;
	for (int r = 0; r < BURST_ROUNDS; r++) {
		/* The last round starts pm2's tasks first, so tasker's burst is
		 * the one left running for the memory figure. */
		bool tasker_first = (BURST_ROUNDS - 1 - r) % 2 == 1;
		bool last = r == BURST_ROUNDS - 1;
		double t = -1;
		struct cost pc = {0};
		for (int side = 0; side < 2; side++) {
			if ((side == 0) == tasker_first) {
				t = tasker_burst(tnames, &last_started);
				if (!last || side == 0)
					request_all("delete", tnames, BURST_TASKS);
			} else {
				pc = spawn_cost(pm2_start);
				request_all("delete", pnames, BURST_TASKS);
			}
		}
		if (t > 0 && last_started == BURST_TASKS && pc.ok)
			rounds_add(&wall, t, pc.wall);
	}
	printf("burst of %d starts, medians of %d rounds (tasker: published at once, first publish "
	       "-> last reply; pm2 CLI: `pm2 start` of one ecosystem file holding the %d apps)\n",
	       BURST_TASKS, BURST_ROUNDS, BURST_TASKS);
	print_rounds("  until all started", "pm2 CLI", "ms", &wall, "(goal: tasker <= 375 ms)");

	/* Every start and stop begins with getMonitorData, whose cost grows
	 * with the number of tasks: what it costs with the burst in place. */
	struct list_cost big;
	long dpid = bench_pm2_daemon_pid(b.home);
	if (dpid > 0 && list_n(3) && socket_list_cost(dpid, 3, 20, &big) > 0)
		printf("  getMonitorData with %zu tasks (tasker's burst left running): %.1f ms CPU/call "
		       "(daemon + client), %.1f ms wall; each start/stop lists first\n",
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
		if (b.ping_ok && bench_pm2_daemon_pid(b.home) > 0)
			return true;
		loop_run_once(b.loop, 100);
	}
	return false;
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr, "usage: bench_exec REDIS_URL PM2_HOME PM2_BIN TASKER_BIN EXEC_PID\n");
		return 2;
	}
	log_configure(LOG_LVL_WARN, LOG_FMT_TEXT);
	b.home = argv[2];
	b.pm2_bin = argv[3];
	b.tasker_bin = argv[4];
	b.exec_pid = atol(argv[5]);
	/* The pm2 command must talk to the private daemon, never ~/.pm2. */
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
