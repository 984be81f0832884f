/*
 * bench_bus: publish -> receive latency through the Redis bus, p50/p99 over
 * N messages, next to the same hop made by spawning `redis-cli PUBLISH`
 * and `tasker send` once per message (what a shell script would do).
 * Usage: bench_bus REDIS_URL TASKER_BIN [N]
 */
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "bus.h"
#include "log.h"
#include "loop.h"
#include "redis_url.h"
#include "util.h"

extern char **environ;

struct bench {
	struct loop *loop;
	struct bus *bus;
	int n, sent, got, mode;
	double *lat;
	int64_t t_send_us;
	char port[16];
	const char *tasker;
	const char *url_text;
};

static int64_t now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void send_next(struct bench *b)
{
	char msg[64];
	snprintf(msg, sizeof(msg), "{\"seq\":%d}", b->sent);
	b->t_send_us = now_us();
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
	b->lat[b->got++] = (double)(now_us() - b->t_send_us) / 1000.0;
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

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

static void run(struct bench *b, const struct redis_url *url, int mode, const char *label)
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
	qsort(b->lat, (size_t)b->n, sizeof(double), cmp);
	printf("  %-40s p50 %7.3f ms   p99 %7.3f ms   (n=%d)\n", label, b->lat[b->n / 2],
	       b->lat[(b->n * 99) / 100], b->n);
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
	struct bench b = {.n = argc > 3 ? atoi(argv[3]) : 1000, .tasker = argv[2], .url_text = argv[1]};
	snprintf(b.port, sizeof(b.port), "%d", url.port);
	b.lat = xcalloc((size_t)b.n, sizeof(double));
	printf("publish -> receive latency (subscriber: the tasker bus):\n");
	run(&b, &url, 0, "tasker bus (in-process publish)");
	run(&b, &url, 1, "redis-cli PUBLISH (a process per message)");
	run(&b, &url, 2, "tasker send (a process per message)");
	free(b.lat);
	redis_url_free(&url);
	return 0;
}
