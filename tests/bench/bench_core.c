/*
 * bench_core: throughput of the pure modules, in-process, one core.
 * Prints figures; asserts nothing (timing belongs in benchmarks, not tests).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "codec.h"
#include "slash.h"
#include "util.h"

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static const char *const lines[] = {
	"/start --task=api --command=\"node api.js\" --env_PORT=8080",
	"/stop --task=api",
	"/status",
	"/start --task=worker --command=python3 --args=\"-m http.server 8000\" --instances=2 "
	"--max_memory_restart=500M",
	"/restart --task=web remaining content here",
};

static const char *const envelopes[] = {
	"{\"verb\":\"start\",\"params\":{\"task\":\"api\",\"command\":\"node api.js\",\"env_PORT\":"
	"\"8080\"},\"timestamp\":\"2026-11-27T10:00:00.000Z\",\"agent_id\":\"agent-123\","
	"\"request_id\":\"0123456789abcdef0123456789abcdef\"}",
	"{\"verb\":\"stop\",\"params\":{\"task\":\"api\"}}",
	"{\"verb\":\"start\",\"params\":{\"task\":\"api\",\"command\":\"node\",\"args\":\"api.js\","
	"\"instances\":4,\"max_memory_restart\":\"500M\"},\"timestamp\":1763391600}",
};

int main(void)
{
	size_t nl = sizeof(lines) / sizeof(lines[0]);
	size_t lens[8];
	for (size_t i = 0; i < nl; i++)
		lens[i] = strlen(lines[i]);

	long n = 0;
	double t0 = now_s(), t;
	do {
		for (int k = 0; k < 1000; k++, n++) {
			struct slash_line out;
			struct slash_error err;
			size_t i = (size_t)n % nl;
			if (slash_parse(lines[i], lens[i], &out, &err) == 0)
				slash_line_free(&out);
		}
		t = now_s() - t0;
	} while (t < 1.0);
	printf("parse:  %.0f lines/s (mixed slash lines, one core)   goal >= 1000000\n", n / t);

	size_t ne = sizeof(envelopes) / sizeof(envelopes[0]);
	n = 0;
	t0 = now_s();
	do {
		for (int k = 0; k < 1000; k++, n++) {
			struct envelope env;
			char err[200];
			const char *e = envelopes[(size_t)n % ne];
			codec_decode_command(e, strlen(e), &env, err, sizeof(err));
			codec_envelope_free(&env);
		}
		t = now_s() - t0;
	} while (t < 1.0);
	printf("decode: %.0f envelopes/s (command envelopes, one core)\n", n / t);
	return 0;
}
