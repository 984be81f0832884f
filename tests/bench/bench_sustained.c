/*
 * bench_sustained: the executor under a steady offered load, measured from
 * the outside. Publishes commands at a fixed rate (BENCH_RATE a second, for
 * BENCH_SECONDS) through one Redis connection: a mix of start, stop and
 * status over BENCH_NAMES task names (start runs `sleep 600`), each with its
 * own request_id. Listens on the status channel and counts, for every
 * request_id, the replies it got (none, one, more than one).
 *
 * Prints what was sent, replied, missing and duplicated; how many commands
 * a second were carried out (a success, or a legitimate not_found or
 * already_running); the refusals by class; the reply latency; and the CPU
 * of the PM2 daemon, of the executor, of redis-server and of this program
 * over the sending window, with the machine's own load, so a reader can
 * tell which one is the limit.
 *
 * The publisher is this one process on tasker's bus (pipelined, no process
 * per message), paced against an absolute clock so a slow pass catches up
 * rather than lowering the rate; its own CPU is printed to show it is not
 * the bottleneck. After the last command it waits for late replies until
 * every command is answered or none has come for BENCH_QUIET seconds, then
 * listens BENCH_QUIET more for duplicates. Prints figures; asserts nothing.
 *
 * Usage: bench_sustained REDIS_URL PM2_HOME EXEC_PID [REDIS_PID]
 * (bench_sustained.sh starts Redis, the executor and its daemon.)
 */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "redis_url.h"
#include "util.h"

#include "bench.h"

enum verb { V_START, V_STOP, V_STATUS, NVERBS };
static const char *const verb_word[NVERBS] = {"start", "stop", "status"};

/* What a reply said; the first reply of a request decides. */
enum outcome {
	O_NONE,	    /* no reply */
	O_DONE,	    /* started, stopped, task_list, or any other success */
	O_LEGIT,    /* not_found or already_running: carried out, nothing to do */
	O_BUSY,	    /* too many commands waiting */
	O_EXPIRED,  /* past its deadline before it could be carried out */
	O_SHUTDOWN, /* the executor is shutting down */
	O_PM2,	    /* PM2 refused or failed */
	O_OTHER,    /* any other error */
	NOUTCOMES
};
static const char *const outcome_word[NOUTCOMES] = {
    "none", "done", "not_found/already_running", "busy (too many commands waiting)",
    "expired", "shutting down", "PM2 error", "other error"};

struct req {
	int64_t sent_us, first_us; /* first_us 0: no reply yet */
	unsigned short replies;
	unsigned char verb, outcome;
};

/* utime + stime of a process, in clock ticks; -1 when it is gone. */
struct cpu_mark {
	long long daemon, exec, redis, self;
	long long busy, total; /* the machine, all CPUs, from /proc/stat */
	int64_t t_us;
};

static struct bench {
	struct loop *loop;
	struct bus *bus;
	const char *channel, *home;
	long exec_pid, redis_pid, daemon_pid;
	char prefix[40];
	bool ready;
	long rate, seconds, names, quiet;
	struct req *reqs;
	size_t nreqs, total, answered;
	int64_t t0_us, last_reply_us;
	unsigned long long rng;
	char other_example[200];
	unsigned long foreign; /* replies that are not ours (relayed events...) */
} b;

/* ---- CPU accounting ------------------------------------------------------------ */

/* The machine's busy and total ticks over all CPUs (iowait counts as idle). */
static void machine_ticks(long long *busy, long long *total)
{
	*busy = *total = -1;
	FILE *f = fopen("/proc/stat", "r");
	if (f == NULL)
		return;
	unsigned long long v[8] = {0};
	if (fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3],
		   &v[4], &v[5], &v[6], &v[7]) == 8) {
		unsigned long long t = 0;
		for (int i = 0; i < 8; i++)
			t += v[i];
		*total = (long long)t;
		*busy = (long long)(t - v[3] - v[4]);
	}
	fclose(f);
}

static struct cpu_mark cpu_mark(void)
{
	struct cpu_mark m = {
	    .daemon = bench_proc_ticks(b.daemon_pid),
	    .exec = bench_proc_ticks(b.exec_pid),
	    .redis = bench_proc_ticks(b.redis_pid),
	    .self = bench_proc_ticks((long)getpid()),
	    .t_us = bench_now_us(),
	};
	machine_ticks(&m.busy, &m.total);
	return m;
}

/* Percent of one core used between two marks; NAN when unknown. */
static double core_pct(long long a, long long z, double wall_s)
{
	if (a < 0 || z < 0 || wall_s <= 0)
		return NAN;
	return (double)(z - a) / (double)sysconf(_SC_CLK_TCK) / wall_s * 100.0;
}

/* ---- the bus ---------------------------------------------------------------------- */

static enum outcome classify(const char *status, const char *error)
{
	static const char *const done[] = {"started", "stopped", "restarted", "deleted", "ok"};
	for (size_t i = 0; i < sizeof(done) / sizeof(done[0]); i++)
		if (strcmp(status, done[i]) == 0)
			return O_DONE;
	if (strcmp(status, "not_found") == 0 || strcmp(status, "already_running") == 0)
		return O_LEGIT;
	/* "busy" and "expired" are statuses of their own; executors before
	 * them said busy as an error sentence. */
	if (strcmp(status, "busy") == 0 || strstr(error, "too many commands waiting") != NULL)
		return O_BUSY;
	if (strcmp(status, "expired") == 0)
		return O_EXPIRED;
	if (strstr(error, "shutting down") != NULL)
		return O_SHUTDOWN;
	if (strncmp(error, "PM2", 3) == 0)
		return O_PM2;
	return O_OTHER;
}

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
	char *end;
	unsigned long i;
	if (!cJSON_IsString(rid) || strncmp(rid->valuestring, b.prefix, plen) != 0 ||
	    (i = strtoul(rid->valuestring + plen, &end, 10), *end != '\0') || i >= b.nreqs) {
		b.foreign++;
		cJSON_Delete(root);
		return;
	}
	struct req *r = &b.reqs[i];
	if (r->replies < USHRT_MAX)
		r->replies++;
	b.last_reply_us = t;
	if (r->first_us == 0) {
		r->first_us = t;
		b.answered++;
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
		const cJSON *er = cJSON_GetObjectItemCaseSensitive(root, "error");
		const char *status = cJSON_IsString(st) ? st->valuestring : "?";
		const char *error = cJSON_IsString(er) ? er->valuestring : "";
		r->outcome = (unsigned char)classify(status, error);
		if (r->outcome == O_OTHER && b.other_example[0] == '\0')
			snprintf(b.other_example, sizeof(b.other_example), "%s", error);
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

/* xorshift64: a fixed seed, so every run sends the same sequence. */
static unsigned long long rng_next(void)
{
	b.rng ^= b.rng << 13;
	b.rng ^= b.rng >> 7;
	b.rng ^= b.rng << 17;
	return b.rng;
}

/* Publishes the next command of the sequence. */
static void send_one(void)
{
	size_t i = b.nreqs++;
	struct req *r = &b.reqs[i];
	enum verb v = (enum verb)(rng_next() % NVERBS);
	unsigned long name = (unsigned long)(rng_next() % (unsigned long long)b.names);
	char msg[512];
	int n;
	if (v == V_START)
		n = snprintf(msg, sizeof(msg),
			     "{\"verb\":\"start\",\"params\":{\"task\":\"sus-%02lu\","
			     "\"command\":\"sleep 600\"},\"request_id\":\"%s%zu\","
			     "\"agent_id\":\"bench_sustained\"}",
			     name, b.prefix, i);
	else
		n = snprintf(msg, sizeof(msg),
			     "{\"verb\":\"%s\",\"params\":{\"task\":\"sus-%02lu\"},"
			     "\"request_id\":\"%s%zu\",\"agent_id\":\"bench_sustained\"}",
			     verb_word[v], name, b.prefix, i);
	r->verb = (unsigned char)v;
	r->sent_us = bench_now_us();
	if (bus_publish(b.bus, b.channel, msg, (size_t)n, NULL, NULL) < 0)
		fprintf(stderr, "bench_sustained: the publish queue is full at command %zu\n", i);
}

/* ---- statistics --------------------------------------------------------------------- */

/* Which process is the limit, in one sentence. */
static const char *verdict(bool kept_up, double daemon, double exec, double machine, long ncpu)
{
	static char s[200];
	if (kept_up)
		snprintf(s, sizeof(s),
			 "the executor kept up with the offered rate: no limit reached (the PM2 "
			 "daemon at %.0f%% of a core)",
			 daemon);
	else if (daemon >= 90.0)
		snprintf(s, sizeof(s), "the PM2 daemon at %.0f%% of a core: PM2 is the limit", daemon);
	else if (exec >= 90.0)
		snprintf(s, sizeof(s), "the executor at %.0f%% of a core: tasker is the limit", exec);
	else if (machine >= 90.0)
		snprintf(s, sizeof(s),
			 "the machine's %ld cores are %.0f%% busy: CPU contention is the limit, "
			 "not one process",
			 ncpu, machine);
	else
		snprintf(s, sizeof(s),
			 "no process holds a core and the machine has spare CPU: the limit is "
			 "waiting (the executor's own pacing or the daemon's replies)");
	return s;
}

static void report(struct cpu_mark c0, struct cpu_mark c1, int64_t t_end_send)
{
	size_t counts[NOUTCOMES] = {0}, dup = 0, multi_max = 0;
	size_t carried_in_window = 0, carried = 0;
	double *lat = xcalloc(b.nreqs + 1, sizeof(double));
	size_t nlat = 0;
	int64_t last_carried = 0;
	for (size_t i = 0; i < b.nreqs; i++) {
		const struct req *r = &b.reqs[i];
		if (r->first_us == 0) {
			counts[O_NONE]++;
			continue;
		}
		counts[r->outcome]++;
		if (r->replies > 1) {
			dup++;
			if (r->replies > multi_max)
				multi_max = r->replies;
		}
		lat[nlat++] = (double)(r->first_us - r->sent_us) / 1000.0;
		if (r->outcome == O_DONE || r->outcome == O_LEGIT) {
			carried++;
			if (r->first_us <= t_end_send)
				carried_in_window++;
			if (r->first_us > last_carried)
				last_carried = r->first_us;
		}
	}
	qsort(lat, nlat, sizeof(double), bench_cmp_double); /* for the max below */
	size_t by_verb[NVERBS][2] = {{0}}; /* sent, missing */
	for (size_t i = 0; i < b.nreqs; i++) {
		by_verb[b.reqs[i].verb][0]++;
		by_verb[b.reqs[i].verb][1] += b.reqs[i].first_us == 0;
	}
	double send_s = (double)(t_end_send - b.t0_us) / 1e6;
	double to_last_s = (double)(last_carried - b.t0_us) / 1e6;

	printf("offered   %ld commands/s for %ld s over %ld names (start, stop, status in equal "
	       "shares; sent in %.1f s)\n",
	       b.rate, b.seconds, b.names, send_s);
	printf("sent %zu   replied %zu   missing %zu (%.1f%%)   duplicated %zu%s\n", b.nreqs,
	       b.answered, counts[O_NONE],
	       b.nreqs ? 100.0 * (double)counts[O_NONE] / (double)b.nreqs : 0.0, dup,
	       dup ? " (request ids with more than one reply)" : "");
	printf("  missing by verb:");
	for (int v = 0; v < NVERBS; v++)
		printf(" %s %zu of %zu;", verb_word[v], by_verb[v][1], by_verb[v][0]);
	printf("\n");
	printf("carried out %zu (done %zu, not_found/already_running %zu): %.1f/s while sending, "
	       "%.1f/s from the first send to the last such reply (%.1f s)\n",
	       carried, counts[O_DONE], counts[O_LEGIT],
	       send_s > 0 ? (double)carried_in_window / send_s : 0.0,
	       to_last_s > 0 ? (double)carried / to_last_s : 0.0, to_last_s > 0 ? to_last_s : 0.0);
	printf("refused  ");
	size_t refused = 0;
	for (int o = O_BUSY; o < NOUTCOMES; o++) {
		refused += counts[o];
		if (counts[o] > 0)
			printf(" %s %zu;", outcome_word[o], counts[o]);
	}
	printf(refused == 0 ? " none\n" : "\n");
	if (b.other_example[0] != '\0')
		printf("  an \"other\" error: %s\n", b.other_example);
	printf("reply latency (first reply, every replied command)   p50 %.1f ms   p95 %.1f ms   "
	       "p99 %.1f ms   max %.1f ms\n",
	       bench_pct(lat, nlat, 0.5), bench_pct(lat, nlat, 0.95), bench_pct(lat, nlat, 0.99),
	       nlat ? lat[nlat - 1] : NAN);
	free(lat);

	double wall = (double)(c1.t_us - c0.t_us) / 1e6;
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	double daemon = core_pct(c0.daemon, c1.daemon, wall);
	double exec = core_pct(c0.exec, c1.exec, wall);
	double machine = NAN; /* percent of all the cores together */
	if (c0.total >= 0 && c1.total > c0.total)
		machine = (double)(c1.busy - c0.busy) / (double)(c1.total - c0.total) * 100.0;
	printf("CPU while sending (%.1f s, %% of one core)   PM2 daemon %.0f%%   executor %.0f%%   "
	       "redis-server %.0f%%   this publisher %.0f%%   (the machine, everyone: %.0f%% busy "
	       "over %ld cores)\n",
	       wall, daemon, exec, core_pct(c0.redis, c1.redis, wall),
	       core_pct(c0.self, c1.self, wall), machine, ncpu);
	/* Kept up: every command answered, and carried out while sending at
	 * 95% of the offered rate or better (the last ones land after). */
	bool kept_up = counts[O_NONE] == 0 && refused == 0 &&
		       (double)carried_in_window >= 0.95 * (double)b.nreqs;
	printf("  %s\n", verdict(kept_up, daemon, exec, machine, ncpu));
	long dpid = bench_pm2_daemon_pid(b.home);
	if (dpid != b.daemon_pid)
		printf("  the PM2 daemon changed during the run (pid %ld, then %ld): it restarted\n",
		       b.daemon_pid, dpid);
	if (c1.exec < 0)
		printf("  the executor was gone by the end of the sending window\n");
}

/* ---- main ------------------------------------------------------------------------------ */

static long env_long(const char *name, long def, long lo, long hi)
{
	const char *s = getenv(name);
	if (s == NULL || *s == '\0')
		return def;
	char *end;
	long v = strtol(s, &end, 10);
	if (*end != '\0' || v < lo || v > hi) {
		fprintf(stderr, "bench_sustained: %s=%s is not a number from %ld to %ld; using %ld\n",
			name, s, lo, hi, def);
		return def;
	}
	return v;
}

/* Runs the loop until the deadline (absolute, us) or until done() holds. */
static void run_until(int64_t deadline_us, bool (*done)(void))
{
	while ((done == NULL || !done()) && bench_now_us() < deadline_us) {
		int64_t left_ms = (deadline_us - bench_now_us()) / 1000;
		loop_run_once(b.loop, left_ms > 100 ? 100 : left_ms < 1 ? 1 : (int)left_ms);
	}
}

static bool bus_is_ready(void)
{
	return b.ready;
}

static bool all_answered(void)
{
	return b.answered == b.nreqs;
}

int main(int argc, char **argv)
{
	if (argc < 4) {
		fprintf(stderr, "usage: bench_sustained REDIS_URL PM2_HOME EXEC_PID [REDIS_PID]\n");
		return 2;
	}
	log_configure(LOG_LVL_WARN, LOG_FMT_TEXT);
	b.home = argv[2];
	b.exec_pid = atol(argv[3]);
	b.redis_pid = argc > 4 ? atol(argv[4]) : 0;
	b.rate = env_long("BENCH_RATE", 200, 1, 100000);
	b.seconds = env_long("BENCH_SECONDS", 60, 1, 86400);
	b.names = env_long("BENCH_NAMES", 50, 1, 1000);
	b.quiet = env_long("BENCH_QUIET", 10, 1, 3600);
	b.rng = 0x9e3779b97f4a7c15ULL;
	b.total = (size_t)b.rate * (size_t)b.seconds;
	b.reqs = xcalloc(b.total, sizeof(*b.reqs));
	snprintf(b.prefix, sizeof(b.prefix), "sus-%ld-", (long)getpid());

	struct redis_url url;
	char err[256];
	if (redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_sustained: %s\n", err);
		return 2;
	}
	struct config cfg;
	if (config_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_sustained: %s\n", err);
		redis_url_free(&url);
		return 2;
	}
	b.channel = cfg.channel;
	int rc = 1;
	b.loop = loop_new();
	struct bus_handlers h = {.on_message = on_message, .on_state = on_state};
	b.bus = bus_new(b.loop, &url, &h, NULL);
	bus_subscribe(b.bus, cfg.status_channel);
	run_until(bench_now_us() + 10000000, bus_is_ready);
	b.daemon_pid = bench_pm2_daemon_pid(b.home);
	if (!b.ready || b.daemon_pid <= 0) {
		fprintf(stderr, "bench_sustained: %s\n",
			b.ready ? "no PM2 daemon pid in PM2_HOME" : bus_status(b.bus));
		goto out;
	}

	/* Sending: command k is due at t0 + k / rate. */
	struct cpu_mark c0 = cpu_mark();
	b.t0_us = c0.t_us;
	while (b.nreqs < b.total) {
		int64_t t = bench_now_us();
		size_t due = (size_t)((double)(t - b.t0_us) * (double)b.rate / 1e6) + 1;
		while (b.nreqs < due && b.nreqs < b.total)
			send_one();
		/* Every command due is out, so the next one is ahead: sleep at
		 * least 1 ms (a 0 ms poll would spin and become the bottleneck). */
		int64_t next = b.t0_us + (int64_t)((double)b.nreqs * 1e6 / (double)b.rate);
		int64_t wait_ms = (next - bench_now_us() + 999) / 1000;
		loop_run_once(b.loop, wait_ms < 1 ? 1 : wait_ms > 100 ? 100 : (int)wait_ms);
	}
	int64_t t_end_send = bench_now_us();
	struct cpu_mark c1 = cpu_mark();

	/* Late replies: until all are in, or none came for BENCH_QUIET s. */
	b.last_reply_us = t_end_send;
	while (!all_answered()) {
		int64_t quiet_end = b.last_reply_us + (int64_t)b.quiet * 1000000;
		if (bench_now_us() >= quiet_end)
			break;
		run_until(quiet_end, all_answered);
	}
	/* Duplicates: listen a while longer. */
	run_until(bench_now_us() + (int64_t)b.quiet * 1000000, NULL);
	report(c0, c1, t_end_send);
	rc = 0;
out:
	bus_free(b.bus);
	loop_free(b.loop);
	config_free(&cfg);
	redis_url_free(&url);
	free(b.reqs);
	return rc;
}
