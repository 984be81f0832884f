/*
 * bench_bus: publish -> receive latency through the Redis bus, p50/p99 over
 * N messages a way, next to the same hop made by spawning `redis-cli
 * PUBLISH` and `tasker send` once per message (what a shell script would
 * do). The three ways take turns in ROUNDS rounds (the order rotating), and
 * each ratio to the bus is taken round by round (median p50 ratio, min,
 * max): the machine is shared, so only neighbours in time are compared.
 * Usage: bench_bus REDIS_URL TASKER_BIN [N]
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include "bus.h"
#include "log.h"
#include "loop.h"
#include "redis_url.h"
#include "util.h"

#include "bench.h"

extern char **environ;

#define MODES 3
#define ROUNDS 5

struct bench {
	struct loop *loop;
	struct bus *bus;
	int n, sent, got, mode;
	double *lat; /* this round's latencies, n of them */
	int64_t t_send_us;
	char port[16];
	const char *tasker;
	const char *url_text;
};

static void send_next(struct bench *b)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "{\"seq\":%d}", b->sent);
	b->t_send_us = bench_now_us();
	b->sent++;
	if (b->mode == 0) {
		bus_publish(b->bus, "bench:lat", msg, strlen(msg), NULL, NULL);
		return;
	}
	pid_t pid;
	/* posix_spawn takes char *const[]: build the words in writable buffers. */
	char w[6][256];
	char *argv[7];
	if (b->mode == 1) {
		snprintf(w[0], 256, "redis-cli");
		snprintf(w[1], 256, "-p");
		snprintf(w[2], 256, "%s", b->port);
		snprintf(w[3], 256, "PUBLISH");
		snprintf(w[4], 256, "bench:lat");
		snprintf(w[5], 256, "%s", msg);
	} else {
		snprintf(w[0], 256, "%s", b->tasker);
		snprintf(w[1], 256, "send");
		snprintf(w[2], 256, "--redis=%s", b->url_text);
		snprintf(w[3], 256, "--channel=bench:lat");
		snprintf(w[4], 256, "--json");
		snprintf(w[5], 256, "{\"verb\":\"bench\",\"params\":{\"seq\":\"%d\"}}", b->sent);
	}
	for (int i = 0; i < 6; i++)
		argv[i] = w[i];
	argv[6] = NULL;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
	if (posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ) == 0)
		waitpid(pid, NULL, 0);
	posix_spawn_file_actions_destroy(&fa);
}

static void on_message(struct bus *bus, const char *channel, const char *data, size_t len,
		       void *arg)
{
	(void)bus;
	(void)channel;
	(void)data;
	(void)len;
	struct bench *b = arg;
	b->lat[b->got++] = (double)(bench_now_us() - b->t_send_us) / 1000.0;
	if (b->got == b->n)
		loop_stop(b->loop, 0);
	else
		send_next(b);
}

static void on_state(struct bus *bus, bool ready, const char *why, void *arg)
{
	(void)bus;
	(void)why;
	struct bench *b = arg;
	if (ready && b->sent == 0)
		send_next(b);
}

static double p50(const double *v, int n)
{
	return v[n / 2];
}

/* One round of one way: b->n messages; leaves b->lat sorted. */
static void run(struct bench *b, const struct redis_url *url, int mode)
{
	b->mode = mode;
	b->sent = b->got = 0;
	b->loop = loop_new();
	struct bus_handlers h = {.on_message = on_message, .on_state = on_state};
	b->bus = bus_new(b->loop, url, &h, b);
	bus_subscribe(b->bus, "bench:lat");
	loop_run(b->loop);
	bus_free(b->bus);
	loop_free(b->loop);
	qsort(b->lat, (size_t)b->n, sizeof(double), bench_cmp_double);
}

int main(int argc, char **argv)
{
	if (argc < 3) {
		fprintf(stderr, "usage: bench_bus REDIS_URL TASKER_BIN [N]\n");
		return 2;
	}
	log_configure(LOG_LVL_WARN, LOG_FMT_TEXT);
	struct redis_url url;
	char err[200];
	if (redis_url_parse(argv[1], &url, err, sizeof(err)) < 0) {
		fprintf(stderr, "bench_bus: %s\n", err);
		return 2;
	}
	int total = argc > 3 ? atoi(argv[3]) : 1000;
	if (total < ROUNDS)
		total = ROUNDS;
	struct bench b = {.n = total / ROUNDS, .tasker = argv[2], .url_text = argv[1]};
	snprintf(b.port, sizeof(b.port), "%d", url.port);
	b.lat = xcalloc((size_t)b.n, sizeof(double));
	static const char *const label[MODES] = {"tasker bus (in-process publish)",
						 "redis-cli PUBLISH (a process per message)",
						 "tasker send (a process per message)"};
	double *all[MODES], p50s[MODES][ROUNDS];
	for (int m = 0; m < MODES; m++)
		all[m] = xcalloc((size_t)(b.n * ROUNDS), sizeof(double));
	for (int r = 0; r < ROUNDS; r++) {
		for (int k = 0; k < MODES; k++) {
			int m = (r + k) % MODES;
			run(&b, &url, m);
			memcpy(all[m] + (size_t)r * (size_t)b.n, b.lat, sizeof(double) * (size_t)b.n);
			p50s[m][r] = p50(b.lat, b.n);
		}
	}
	int n = b.n * ROUNDS;
	printf("publish -> receive latency (subscriber: the tasker bus), %d rounds of %d messages "
	       "a way, the order rotating:\n",
	       ROUNDS, b.n);
	for (int m = 0; m < MODES; m++) {
		qsort(all[m], (size_t)n, sizeof(double), bench_cmp_double);
		printf("  %-42s p50 %7.3f ms   p99 %7.3f ms   (n=%d)", label[m], p50(all[m], n),
		       all[m][(n * 99) / 100], n);
		if (m > 0) {
			double q[ROUNDS];
			for (int r = 0; r < ROUNDS; r++)
				q[r] = p50s[0][r] > 0 ? p50s[m][r] / p50s[0][r] : 0;
			qsort(q, ROUNDS, sizeof(double), bench_cmp_double);
			printf("   p50 / the bus's: median %.0fx (min %.0fx, max %.0fx)", q[ROUNDS / 2],
			       q[0], q[ROUNDS - 1]);
		}
		printf("\n");
		free(all[m]);
	}
	free(b.lat);
	redis_url_free(&url);
	return 0;
}
