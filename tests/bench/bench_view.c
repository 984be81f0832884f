/*
 * bench_view: what a start and a stop through the executor cost beside the
 * floor, PM2's own work for the same thing, measured in the same run:
 *
 *   start  tasker: publish -> reply (`start`, `sleep 600`), against a bare
 *          `prepare` call of the same app conf on the daemon's socket
 *          (this program's own PM2 client; call -> answer)
 *   stop   tasker: publish -> reply, against a bare `stopProcessId` call
 *
 * first with no other task, then with FILL tasks (`sleep 600`, started here
 * with bare prepares) already running: an executor that lists on every
 * command pays a listing that grows with them (3 to 23 ms of daemon CPU),
 * one that keeps a live view does not.
 *
 * Rounds interleave the two sides, the order alternating; between two
 * measurements the run waits SETTLE_MS so that what one side left the
 * daemon doing (the executor's task table listing 200 ms after an event)
 * does not land on the other. The ratio tasker / bare is taken round by
 * round and printed as its median with its range; p50 and p95 of each side
 * are printed too, and the daemon's CPU per command (10 ms ticks, summed).
 * Prints figures; asserts nothing.
 *
 * Usage: bench_view REDIS_URL PM2_HOME EXEC_PID CWD SLEEP_PATH [FILL]
 */
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
#include "pm2.h"
#include "pm2_conf.h"
#include "redis_url.h"
#include "util.h"

#include "bench.h"

#define ROUNDS 15
#define SETTLE_MS 500
#define T_REPLY 30000
#define FILL_WINDOW 20 /* prepares in flight while filling */

static struct bench {
	struct loop *loop;
	struct bus *bus;
	struct pm2_client *pm2;
	const char *channel, *home, *cwd, *sleep_path;
	long exec_pid;
	char prefix[40];
	bool ready;
	/* the one request in flight through tasker */
	char want_id[64];
	int64_t got_us;
	char status[32];
	long pm_id;
	/* the one bare call in flight */
	bool call_done;
	char call_error[200];
	int call_pm_id;
	/* filling */
	int fill_inflight, fill_ok, fill_err;
} b;

typedef bool (*cond_fn)(void *arg);

static bool wait_for(cond_fn fn, void *arg, int64_t timeout_ms)
{
	int64_t deadline = util_mono_ms() + timeout_ms;
	while (fn == NULL || !fn(arg)) {
		int64_t left = deadline - util_mono_ms();
		if (left <= 0)
			return false;
		loop_run_once(b.loop, left > 100 ? 100 : (int)left);
	}
	return true;
}

/* Runs the loop for ms (replies and events keep flowing meanwhile). */
static void settle(int64_t ms)
{
	wait_for(NULL, NULL, ms);
}

/* ---- through tasker --------------------------------------------------------------- */

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
                       void *arg)
{
	(void)bus;
	(void)channel;
	(void)arg;
	int64_t t = bench_now_us();
	cJSON *root = cJSON_ParseWithLength(data, len);
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "request_id");
	if (cJSON_IsString(rid) && b.got_us == 0 && strcmp(rid->valuestring, b.want_id) == 0) {
		b.got_us = t;
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
		const cJSON *id = cJSON_GetObjectItemCaseSensitive(root, "pm_id");
		snprintf(b.status, sizeof(b.status), "%s",
		         cJSON_IsString(st) ? st->valuestring : "?");
		b.pm_id = cJSON_IsNumber(id) ? (long)id->valuedouble : -1;
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

static bool replied(void *arg)
{
	(void)arg;
	return b.got_us != 0;
}

/* One command through tasker: publish -> reply, in ms; -1 when the reply
 * did not come or its status is not want. */
static double tasker_ms(const char *verb, const char *task, const char *want)
{
	static unsigned n;
	snprintf(b.want_id, sizeof(b.want_id), "%s%u", b.prefix, n++);
	b.got_us = 0;
	cJSON *env = cJSON_CreateObject();
	cJSON_AddStringToObject(env, "verb", verb);
	cJSON *params = cJSON_AddObjectToObject(env, "params");
	cJSON_AddStringToObject(params, "task", task);
	if (strcmp(verb, "start") == 0)
		cJSON_AddStringToObject(params, "command", "sleep 600");
	cJSON_AddStringToObject(env, "request_id", b.want_id);
	char *s = cJSON_PrintUnformatted(env);
	cJSON_Delete(env);
	int64_t t0 = bench_now_us();
	int rc = bus_publish(b.bus, b.channel, s, strlen(s), NULL, NULL);
	free(s);
	if (rc != 0 || !wait_for(replied, NULL, T_REPLY))
		return -1;
	if (strcmp(b.status, want) != 0) {
		fprintf(stderr, "bench_view: %s %s: %s\n", verb, task, b.status);
		return -1;
	}
	return (double)(b.got_us - t0) / 1000.0;
}

/* ---- bare calls on the daemon's socket -------------------------------------------- */

static cJSON *conf_for(const char *name)
{
	const char *argv[] = {"600"};
	const char *keys[] = {"PATH", "HOME", "LANG"};
	struct pm2_env_var env[3];
	size_t nenv = 0;
	for (size_t i = 0; i < 3; i++)
		if (getenv(keys[i]) != NULL)
			env[nenv++] = (struct pm2_env_var){keys[i], getenv(keys[i])};
	struct pm2_conf pc = {
	    .name = name,
	    .exec_path = b.sleep_path,
	    .argv = argv,
	    .argc = 1,
	    .cwd = b.cwd,
	    .env = env,
	    .nenv = nenv,
	    .instances = 1,
	    .autorestart = true,
	};
	char err[200];
	cJSON *conf = pm2_conf_build(&pc, b.home, err, sizeof(err));
	if (conf == NULL)
		fprintf(stderr, "bench_view: conf: %s\n", err);
	return conf;
}

static void on_call(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)arg;
	b.call_done = true;
	snprintf(b.call_error, sizeof(b.call_error), "%s", error ? error : "");
	int ids[1];
	b.call_pm_id = error == NULL && pm2_started(result, ids, NULL, 1) == 1 ? ids[0] : -1;
}

static bool call_done(void *arg)
{
	(void)arg;
	return b.call_done;
}

/* A bare prepare of name: call -> answer in ms (-1 on failure); *pm_id. */
static double bare_prepare_ms(const char *name, int *pm_id)
{
	cJSON *conf = conf_for(name);
	if (conf == NULL)
		return -1;
	b.call_done = false;
	int64_t t0 = bench_now_us();
	const char *why = NULL;
	uint64_t id = pm2_start(b.pm2, conf, on_call, NULL, &why);
	cJSON_Delete(conf);
	if (id == 0 || !wait_for(call_done, NULL, T_REPLY) || b.call_error[0]) {
		fprintf(stderr, "bench_view: prepare %s: %s\n", name, why ? why : b.call_error);
		return -1;
	}
	*pm_id = b.call_pm_id;
	return (double)(bench_now_us() - t0) / 1000.0;
}

/* A bare ping: call -> answer in ms (-1 on failure). A command decided
 * from the executor's view pings the daemon before it acts: this is that
 * round trip's share. */
static double bare_ping_ms(void)
{
	b.call_done = false;
	int64_t t0 = bench_now_us();
	if (pm2_ping(b.pm2, on_call, NULL) == 0 || !wait_for(call_done, NULL, T_REPLY) ||
	    b.call_error[0])
		return -1;
	return (double)(bench_now_us() - t0) / 1000.0;
}

/* A bare call of method with one process id: call -> answer in ms. */
static double bare_id_ms(const char *method, int pm_id)
{
	cJSON *args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, cJSON_CreateNumber(pm_id));
	b.call_done = false;
	int64_t t0 = bench_now_us();
	const char *why = NULL;
	uint64_t id = pm2_call(b.pm2, method, args, 0, on_call, NULL, &why);
	cJSON_Delete(args);
	if (id == 0 || !wait_for(call_done, NULL, T_REPLY) || b.call_error[0]) {
		fprintf(stderr, "bench_view: %s %d: %s\n", method, pm_id, why ? why : b.call_error);
		return -1;
	}
	return (double)(bench_now_us() - t0) / 1000.0;
}

/* ---- filling: n tasks with bare prepares, FILL_WINDOW in flight ---------------------- */

static void on_fill(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	(void)arg;
	b.fill_inflight--;
	if (error == NULL)
		b.fill_ok++;
	else if (b.fill_err++ == 0)
		fprintf(stderr, "bench_view: filling: %s\n", error);
}

static bool fill_room(void *arg)
{
	(void)arg;
	return b.fill_inflight < FILL_WINDOW;
}

static bool fill_idle(void *arg)
{
	(void)arg;
	return b.fill_inflight == 0;
}

static int fill(int from, int to)
{
	for (int k = from; k < to; k++) {
		char name[40];
		snprintf(name, sizeof(name), "bench-fill-%03d", k);
		cJSON *conf = conf_for(name);
		if (conf == NULL || !wait_for(fill_room, NULL, T_REPLY)) {
			cJSON_Delete(conf);
			break;
		}
		if (pm2_start(b.pm2, conf, on_fill, NULL, NULL) != 0)
			b.fill_inflight++;
		cJSON_Delete(conf);
	}
	wait_for(fill_idle, NULL, T_REPLY * 4);
	return b.fill_ok;
}

/* ---- figures ------------------------------------------------------------------------------ */

struct side {
	double v[ROUNDS];
	int n;
};

struct pair {
	struct side tasker, bare;
	double ratio[ROUNDS];
	int nr;
	double daemon_t, daemon_b; /* daemon CPU ms, summed */
};

static void pair_add(struct pair *p, double t, double base, double dt, double db)
{
	if (t < 0 || base <= 0 || p->nr == ROUNDS)
		return;
	p->tasker.v[p->tasker.n++] = t;
	p->bare.v[p->bare.n++] = base;
	p->ratio[p->nr++] = t / base;
	p->daemon_t += dt;
	p->daemon_b += db;
}

static double pct(const double *v, int n, double q)
{
	double c[ROUNDS];
	memcpy(c, v, sizeof(double) * (size_t)n);
	return bench_pct(c, (size_t)n, q);
}

static void pair_print(const char *what, const char *bare_name, const struct pair *p)
{
	if (p->nr == 0) {
		printf("  %-6s no round completed on both sides\n", what);
		return;
	}
	printf(
	    "  %-6s tasker p50 %.2f ms p95 %.2f ms   bare %s p50 %.2f ms p95 %.2f ms   "
	    "tasker / bare: median %.2fx (min %.2fx, max %.2fx; %d rounds)   (goal: p50 <= 1.2x)\n",
	    what, pct(p->tasker.v, p->nr, 0.5), pct(p->tasker.v, p->nr, 0.95), bare_name,
	    pct(p->bare.v, p->nr, 0.5), pct(p->bare.v, p->nr, 0.95), pct(p->ratio, p->nr, 0.5),
	    pct(p->ratio, p->nr, 0), pct(p->ratio, p->nr, 1), p->nr);
	printf("         daemon CPU per command: tasker %.1f ms, bare %.1f ms (10 ms ticks, summed "
	       "over %d)\n",
	       p->daemon_t / p->nr, p->daemon_b / p->nr, p->nr);
}

static double daemon_ms(void)
{
	return bench_proc_cpu_ms(bench_pm2_daemon_pid(b.home));
}

/* Rounds of start then stop, tasker and bare side by side. */
static void phase(int tasks, int tag)
{
	struct pair start = {0}, stop = {0};
	struct side ping = {0};
	int bare_ids[ROUNDS];
	char tn[ROUNDS][40], bn[ROUNDS][40];
	for (int r = 0; r < ROUNDS; r++) {
		snprintf(tn[r], sizeof(tn[r]), "bench-view-t%d-%02d", tag, r);
		snprintf(bn[r], sizeof(bn[r]), "bench-view-b%d-%02d", tag, r);
		bare_ids[r] = -1;
	}
	for (int r = 0; r < ROUNDS; r++) {
		double t = -1, base = -1, dt = 0, db = 0;
		for (int side = 0; side < 2; side++) {
			settle(SETTLE_MS);
			double d0 = daemon_ms();
			if ((side == 0) == (r % 2 == 0)) {
				t = tasker_ms("start", tn[r], "started");
				dt = daemon_ms() - d0;
			} else {
				base = bare_prepare_ms(bn[r], &bare_ids[r]);
				db = daemon_ms() - d0;
			}
		}
		pair_add(&start, t, base, dt, db);
		settle(SETTLE_MS);
		double pg = bare_ping_ms();
		if (pg >= 0)
			ping.v[ping.n++] = pg;
		t = base = -1;
		for (int side = 0; side < 2; side++) {
			settle(SETTLE_MS);
			double d0 = daemon_ms();
			if ((side == 0) == (r % 2 == 0)) {
				t = tasker_ms("stop", tn[r], "stopped");
				dt = daemon_ms() - d0;
			} else if (bare_ids[r] >= 0) {
				base = bare_id_ms("stopProcessId", bare_ids[r]);
				db = daemon_ms() - d0;
			}
		}
		pair_add(&stop, t, base, dt, db);
	}
	printf("%d other tasks running, %d rounds (tasker: publish -> reply; bare: the call on "
	       "rpc.sock -> its answer)\n",
	       tasks, ROUNDS);
	pair_print("start", "prepare", &start);
	pair_print("stop", "stopProcessId", &stop);
	if (ping.n > 0)
		printf("         bare ping p50 %.2f ms p95 %.2f ms (%d rounds): the executor pings "
		       "before it "
		       "acts on the view's word\n",
		       pct(ping.v, ping.n, 0.5), pct(ping.v, ping.n, 0.95), ping.n);
	for (int r = 0; r < ROUNDS; r++) {
		tasker_ms("delete", tn[r], "deleted");
		if (bare_ids[r] >= 0)
			bare_id_ms("deleteProcessId", bare_ids[r]);
	}
}

int main(int argc, char **argv)
{
	if (argc < 6) {
		fprintf(stderr,
		        "usage: bench_view REDIS_URL PM2_HOME EXEC_PID CWD SLEEP_PATH [FILL]\n");
		return 2;
	}
	log_configure(LOG_LVL_WARN, LOG_FMT_TEXT);
	b.home = argv[2];
	b.exec_pid = atol(argv[3]);
	b.cwd = argv[4];
	b.sleep_path = argv[5];
	int fill_n = argc > 6 ? atoi(argv[6]) : 500;

	struct redis_url url;
	char err[256];
	if (redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_view: %s\n", err);
		return 2;
	}
	struct config cfg;
	if (config_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_view: %s\n", err);
		redis_url_free(&url);
		return 2;
	}
	b.channel = cfg.channel;
	snprintf(b.prefix, sizeof(b.prefix), "bench-view-%ld-", (long)getpid());

	int rc = 1;
	b.loop = loop_new();
	struct bus_handlers h = {.on_message = on_message, .on_state = on_state};
	b.bus = bus_new(b.loop, &url, &h, NULL);
	bus_subscribe(b.bus, cfg.status_channel);
	b.pm2 = pm2_client_new(b.loop, b.home, NULL, NULL);
	if (!wait_for(bus_is_ready, NULL, 10000)) {
		fprintf(stderr, "bench_view: Redis is not ready: %s\n", bus_status(b.bus));
		goto out;
	}
	/* The executor answers (and has started its daemon). */
	if (tasker_ms("status", "-", "ok") < 0) {
		fprintf(stderr, "bench_view: the executor does not answer on %s\n", b.channel);
		goto out;
	}
	settle(1000); /* its view seeded */
	phase(0, 0);
	int64_t t0 = util_mono_ms();
	int n = fill(0, fill_n);
	printf("(started %d tasks with bare prepares in %.1f s)\n", n,
	       (double)(util_mono_ms() - t0) / 1000.0);
	settle(3000); /* the executor's view and table take them in */
	phase(n, 1);
	rc = 0;
out:
	pm2_client_free(b.pm2);
	bus_free(b.bus);
	loop_free(b.loop);
	config_free(&cfg);
	redis_url_free(&url);
	return rc;
}
