/*
 * bench_metrics: what `tasker exec --metrics` costs, measured from the
 * outside against a real executor, redis-server and PM2 daemon with N
 * tasks running (bench_metrics.sh starts them all):
 *
 *   scrape    GET /metrics over a fresh connection, in the text format and
 *             in OpenMetrics, the two sides in interleaved rounds: wall time
 *             per scrape (median of each round), the executor's CPU per
 *             scrape (its CPU time over the round, divided by the
 *             scrapes; /proc/PID/schedstat, in ns), and the size of the
 *             text. The executor's own work in a round (its 5 s listing,
 *             if one falls in it) counts too: the median over rounds
 *             leaves it out.
 *   start     start then delete of a fresh task, publish -> reply, while a
 *             child process scrapes every second, beside the same with no
 *             scraper, in interleaved rounds (the order alternating): each
 *             side's p50 and the difference scraped - not scraped taken
 *             round by round, its median and range (goal: within +0.5 ms).
 *
 * Prints figures; asserts nothing.
 *
 * Usage: bench_metrics REDIS_URL TASKER_EXEC_PID METRICS_PORT
 */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "bus.h"
#include "config.h"
#include "log.h"
#include "loop.h"
#include "redis_url.h"
#include "util.h"

#include "bench.h"

#define SCRAPE_ROUNDS 7
#define SCRAPES_PER_ROUND 20
#define START_ROUNDS 6
#define ROUND_STARTS 12
#define T_REPLY 30000

static struct {
	struct loop *loop;
	struct bus *bus;
	const char *channel;
	char prefix[40];
	bool ready;
	char want[64];
	int64_t got_us;
	char status[32];
	unsigned seq;
	int port;
	long exec_pid;
} b;

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	(void)channel;
	(void)arg;
	int64_t t = bench_now_us();
	cJSON *root = cJSON_ParseWithLength(data, len);
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "request_id");
	if (cJSON_IsString(rid) && strcmp(rid->valuestring, b.want) == 0 && b.got_us == 0) {
		const cJSON *st = cJSON_GetObjectItemCaseSensitive(root, "status");
		snprintf(b.status, sizeof(b.status), "%s", cJSON_IsString(st) ? st->valuestring : "?");
		b.got_us = t;
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

/* publish -> reply in ms; -1 when no reply or not the status wanted. */
static double request(const char *verb, const char *task, const char *want_status)
{
	snprintf(b.want, sizeof(b.want), "%s%u", b.prefix, b.seq++);
	b.got_us = 0;
	cJSON *env = cJSON_CreateObject();
	cJSON_AddStringToObject(env, "verb", verb);
	cJSON *params = cJSON_AddObjectToObject(env, "params");
	cJSON_AddStringToObject(params, "task", task);
	if (strcmp(verb, "start") == 0)
		cJSON_AddStringToObject(params, "command", "sleep 600");
	cJSON_AddStringToObject(env, "request_id", b.want);
	char *s = cJSON_PrintUnformatted(env);
	cJSON_Delete(env);
	int64_t sent = bench_now_us();
	bus_publish(b.bus, b.channel, s, strlen(s), NULL, NULL);
	free(s);
	int64_t deadline = util_mono_ms() + T_REPLY;
	while (b.got_us == 0 && util_mono_ms() < deadline)
		loop_run_once(b.loop, 100);
	if (b.got_us == 0 || strcmp(b.status, want_status) != 0)
		return -1;
	return (double)(b.got_us - sent) / 1000.0;
}

/* One GET /metrics on a fresh connection; returns the bytes read (headers
 * and body), -1 on failure. */
static long scrape(bool om)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	if (fd < 0)
		return -1;
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)b.port)};
	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0) {
		close(fd);
		return -1;
	}
	char req[256];
	int n = snprintf(req, sizeof(req),
			 "GET /metrics HTTP/1.1\r\nHost: bench\r\nConnection: close\r\nAccept: %s\r\n\r\n",
			 om ? "application/openmetrics-text;version=1.0.0" : "text/plain;version=0.0.4");
	if (write(fd, req, (size_t)n) != n) {
		close(fd);
		return -1;
	}
	static char buf[1 << 16];
	long total = 0;
	ssize_t r;
	while ((r = read(fd, buf, sizeof(buf))) > 0)
		total += r;
	close(fd);
	return r < 0 ? -1 : total;
}

/* CPU time of a process's main thread in ms, from /proc/PID/schedstat (ns,
 * unlike the 10 ms ticks of /proc/PID/stat); the executor has one thread.
 * Falls back to the ticks; -1 when unreadable. */
static double cpu_ms(long pid)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%ld/schedstat", pid);
	FILE *f = fopen(path, "r");
	unsigned long long ns;
	if (f != NULL) {
		int ok = fscanf(f, "%llu", &ns) == 1;
		fclose(f);
		if (ok)
			return (double)ns / 1e6;
	}
	return bench_proc_cpu_ms(pid);
}

static double median(double *v, size_t n)
{
	return bench_pct(v, n, 0.5);
}

static void range(const double *v, size_t n, double *lo, double *hi)
{
	*lo = INFINITY;
	*hi = -INFINITY;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < *lo)
			*lo = v[i];
		if (v[i] > *hi)
			*hi = v[i];
	}
}

static void phase_scrape(int ntasks)
{
	double wall[2][SCRAPE_ROUNDS], cpu[2][SCRAPE_ROUNDS];
	long bytes[2] = {0, 0};
	int ok = 0;
	for (int r = 0; r < SCRAPE_ROUNDS; r++) {
		for (int k = 0; k < 2; k++) {
			int side = (r + k) % 2; /* 0 text, 1 OpenMetrics; order alternates */
			double one[SCRAPES_PER_ROUND];
			double c0 = cpu_ms(b.exec_pid);
			for (int i = 0; i < SCRAPES_PER_ROUND; i++) {
				int64_t t0 = bench_now_us();
				long got = scrape(side == 1);
				one[i] = (double)(bench_now_us() - t0) / 1000.0;
				if (got > 0) {
					bytes[side] = got;
					ok++;
				}
			}
			double c1 = cpu_ms(b.exec_pid);
			wall[side][r] = median(one, SCRAPES_PER_ROUND);
			cpu[side][r] = (c1 - c0) / SCRAPES_PER_ROUND;
		}
	}
	printf("scrape of /metrics with %d tasks in PM2 (%d rounds of %d scrapes a side, "
	       "interleaved; %d of %d scrapes answered)\n",
	       ntasks, SCRAPE_ROUNDS, SCRAPES_PER_ROUND, ok, 2 * SCRAPE_ROUNDS * SCRAPES_PER_ROUND);
	static const char *const names[2] = {"text 0.0.4 ", "OpenMetrics"};
	for (int side = 0; side < 2; side++) {
		double lo, hi, clo, chi;
		range(wall[side], SCRAPE_ROUNDS, &lo, &hi);
		range(cpu[side], SCRAPE_ROUNDS, &clo, &chi);
		double w = median(wall[side], SCRAPE_ROUNDS);
		double c = median(cpu[side], SCRAPE_ROUNDS);
		printf("  %s  wall per scrape %.2f ms (rounds %.2f-%.2f)   executor CPU per scrape "
		       "%.2f ms (rounds %.2f-%.2f)   %.0f KiB\n",
		       names[side], w, lo, hi, c, clo, chi, (double)bytes[side] / 1024.0);
	}
}

/* A child that scrapes every second until killed. */
static pid_t scraper_start(void)
{
	pid_t pid = fork();
	if (pid == 0) {
		for (;;) {
			int64_t t0 = bench_now_us();
			scrape(true);
			int64_t left = 1000000 - (bench_now_us() - t0);
			if (left > 0)
				usleep((useconds_t)left);
		}
	}
	return pid;
}

static void phase_start(int ntasks)
{
	double p50[2][START_ROUNDS], diff[START_ROUNDS];
	int done = 0;
	for (int r = 0; r < START_ROUNDS; r++) {
		for (int k = 0; k < 2; k++) {
			int side = (r + k) % 2; /* 0 not scraped, 1 scraped every second */
			pid_t sc = side == 1 ? scraper_start() : -1;
			double lat[ROUND_STARTS];
			size_t n = 0;
			for (int i = 0; i < ROUND_STARTS; i++) {
				char name[48];
				snprintf(name, sizeof(name), "bm-%d-%d-%d", r, side, i);
				double ms = request("start", name, "started");
				if (ms >= 0)
					lat[n++] = ms;
				request("delete", name, "deleted");
			}
			if (sc > 0) {
				kill(sc, SIGKILL);
				waitpid(sc, NULL, 0);
			}
			done += (int)n;
			p50[side][r] = median(lat, n);
		}
		diff[r] = p50[1][r] - p50[0][r];
	}
	double lo, hi, dlo, dhi;
	printf("start (publish -> reply, then delete), %d tasks in PM2, %d rounds of %d starts a side, "
	       "interleaved (%d of %d started)\n",
	       ntasks, START_ROUNDS, ROUND_STARTS, done, 2 * START_ROUNDS * ROUND_STARTS);
	range(p50[0], START_ROUNDS, &lo, &hi);
	printf("  not scraped            p50 %.2f ms (rounds %.2f-%.2f)\n",
	       median(p50[0], START_ROUNDS), lo, hi);
	range(p50[1], START_ROUNDS, &lo, &hi);
	printf("  scraped every second   p50 %.2f ms (rounds %.2f-%.2f)\n",
	       median(p50[1], START_ROUNDS), lo, hi);
	range(diff, START_ROUNDS, &dlo, &dhi);
	printf("  scraped - not scraped  %+.2f ms, round by round (range %+.2f to %+.2f)   "
	       "(goal: within +0.5 ms)\n",
	       median(diff, START_ROUNDS), dlo, dhi);
}

int main(int argc, char **argv)
{
	if (argc < 5) {
		fprintf(stderr, "usage: bench_metrics REDIS_URL EXEC_PID METRICS_PORT NTASKS\n");
		return 2;
	}
	log_configure(LOG_LVL_WARN, LOG_FMT_TEXT);
	b.exec_pid = atol(argv[2]);
	b.port = atoi(argv[3]);
	int ntasks = atoi(argv[4]);
	struct redis_url url;
	char err[256];
	if (redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_metrics: %s\n", err);
		return 2;
	}
	struct config cfg;
	if (config_init(&cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_metrics: %s\n", err);
		redis_url_free(&url);
		return 2;
	}
	b.channel = cfg.channel;
	snprintf(b.prefix, sizeof(b.prefix), "bm-%ld-", (long)getpid());
	b.loop = loop_new();
	struct bus_handlers h = {.on_message = on_message, .on_state = on_state};
	b.bus = bus_new(b.loop, &url, &h, NULL);
	bus_subscribe(b.bus, cfg.status_channel);
	int64_t deadline = util_mono_ms() + 10000;
	while (!b.ready && util_mono_ms() < deadline)
		loop_run_once(b.loop, 100);
	int rc = 1;
	if (!b.ready || request("status", "-", "ok") < 0) {
		fprintf(stderr, "bench_metrics: the executor does not answer\n");
		goto out;
	}
	phase_scrape(ntasks);
	phase_start(ntasks);
	rc = 0;
out:
	bus_free(b.bus);
	loop_free(b.loop);
	config_free(&cfg);
	redis_url_free(&url);
	return rc;
}
