/*
 * Unit tests for core/metrics.c (the registry and its exposition text, in
 * the Prometheus text format 0.0.4 and in OpenMetrics 1.0), the Accept
 * negotiation, and the --metrics address parser of core/metrics_http.c.
 * Whole texts are compared byte for byte.
 */
#include "unit.h"

#include <arpa/inet.h>
#include <math.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "metrics.h"
#include "metrics_http.h"

static void expect_text(const char *got, size_t len, const char *want)
{
	if (len != strlen(got))
		fail_msg("length %zu, but the text has %zu bytes", len, strlen(got));
	if (strcmp(got, want) != 0)
		fail_msg("got:\n%s\nwant:\n%s", got, want);
}

/* A small registry: one of each type. */
static struct metrics *small(void)
{
	struct metrics *m = metrics_new();
	struct metrics_family *info =
		metrics_family_add(m, "app_build", METRICS_INFO, NULL, "Build.", NULL, 0);
	const char *bl[] = {"version", "1.2"};
	metrics_series(info, bl, 1);
	struct metrics_family *c =
		metrics_family_add(m, "app_commands", METRICS_COUNTER, NULL, "Commands.", NULL, 0);
	const char *l1[] = {"verb", "start", "outcome", "started"};
	const char *l2[] = {"verb", "stop", "outcome", "error"};
	metrics_add(metrics_series(c, l1, 2), 2);
	metrics_add(metrics_series(c, l2, 2), 1);
	metrics_add(metrics_series(c, l1, 2), 1);  /* the same series again */
	metrics_add(metrics_series(c, l1, 2), -5); /* counters never go down */
	struct metrics_family *g = metrics_family_add(m, "app_memory_bytes", METRICS_GAUGE,
						      "bytes", "Memory.", NULL, 0);
	metrics_set(metrics_series(g, NULL, 0), 1048576);
	static const double bounds[] = {0.01, 0.1, 1};
	struct metrics_family *h = metrics_family_add(m, "app_duration_seconds", METRICS_HISTOGRAM,
						      "seconds", "Latency.", bounds, 3);
	struct metrics_series *s = metrics_series(h, NULL, 0);
	metrics_observe(s, 0.005);
	metrics_observe(s, 0.01); /* le is inclusive */
	metrics_observe(s, 0.5);
	metrics_observe(s, 7);
	return m;
}

static void test_text_format(void **state)
{
	(void)state;
	struct metrics *m = small();
	size_t len;
	char *t = metrics_render(m, METRICS_TEXT, &len);
	expect_text(t, len,
		    "# HELP app_build_info Build.\n"
		    "# TYPE app_build_info gauge\n"
		    "app_build_info{version=\"1.2\"} 1\n"
		    "# HELP app_commands_total Commands.\n"
		    "# TYPE app_commands_total counter\n"
		    "app_commands_total{verb=\"start\",outcome=\"started\"} 3\n"
		    "app_commands_total{verb=\"stop\",outcome=\"error\"} 1\n"
		    "# HELP app_memory_bytes Memory.\n"
		    "# TYPE app_memory_bytes gauge\n"
		    "app_memory_bytes 1048576\n"
		    "# HELP app_duration_seconds Latency.\n"
		    "# TYPE app_duration_seconds histogram\n"
		    "app_duration_seconds_bucket{le=\"0.01\"} 2\n"
		    "app_duration_seconds_bucket{le=\"0.1\"} 2\n"
		    "app_duration_seconds_bucket{le=\"1\"} 3\n"
		    "app_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		    "app_duration_seconds_sum 7.515\n"
		    "app_duration_seconds_count 4\n");
	free(t);
	metrics_free(m);
}

static void test_openmetrics_format(void **state)
{
	(void)state;
	struct metrics *m = small();
	size_t len;
	char *t = metrics_render(m, METRICS_OPENMETRICS, &len);
	expect_text(t, len,
		    "# HELP app_build Build.\n"
		    "# TYPE app_build info\n"
		    "app_build_info{version=\"1.2\"} 1\n"
		    "# HELP app_commands Commands.\n"
		    "# TYPE app_commands counter\n"
		    "app_commands_total{verb=\"start\",outcome=\"started\"} 3\n"
		    "app_commands_total{verb=\"stop\",outcome=\"error\"} 1\n"
		    "# HELP app_memory_bytes Memory.\n"
		    "# TYPE app_memory_bytes gauge\n"
		    "# UNIT app_memory_bytes bytes\n"
		    "app_memory_bytes 1048576\n"
		    "# HELP app_duration_seconds Latency.\n"
		    "# TYPE app_duration_seconds histogram\n"
		    "# UNIT app_duration_seconds seconds\n"
		    "app_duration_seconds_bucket{le=\"0.01\"} 2\n"
		    "app_duration_seconds_bucket{le=\"0.1\"} 2\n"
		    "app_duration_seconds_bucket{le=\"1\"} 3\n"
		    "app_duration_seconds_bucket{le=\"+Inf\"} 4\n"
		    "app_duration_seconds_sum 7.515\n"
		    "app_duration_seconds_count 4\n"
		    "# EOF\n");
	free(t);
	metrics_free(m);
}

/* Task names are untrusted: quotes, backslashes, newlines and bytes that
 * are not UTF-8 must not break the line or the label. */
static void test_label_escaping(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *g =
		metrics_family_add(m, "t_state", METRICS_GAUGE, NULL, "A \"b\\c\nd.", NULL, 0);
	const char *l1[] = {"task", "a\"b\\c\nd"};
	const char *l2[] = {"task", "caf\xc3\xa9 \xff\xc3"};
	const char *l3[] = {"task", ""};
	metrics_set(metrics_series(g, l1, 1), 1);
	metrics_set(metrics_series(g, l2, 1), 0.25);
	metrics_set(metrics_series(g, l3, 1), NAN);
	size_t len;
	char *t = metrics_render(m, METRICS_TEXT, &len);
	expect_text(t, len,
		    "# HELP t_state A \"b\\\\c\\nd.\n"
		    "# TYPE t_state gauge\n"
		    "t_state{task=\"a\\\"b\\\\c\\nd\"} 1\n"
		    "t_state{task=\"caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\"} 0.25\n"
		    "t_state{task=\"\"} NaN\n");
	free(t);
	t = metrics_render(m, METRICS_OPENMETRICS, &len);
	expect_text(t, len,
		    "# HELP t_state A \\\"b\\\\c\\nd.\n"
		    "# TYPE t_state gauge\n"
		    "t_state{task=\"a\\\"b\\\\c\\nd\"} 1\n"
		    "t_state{task=\"caf\xc3\xa9 \xef\xbf\xbd\xef\xbf\xbd\"} 0.25\n"
		    "t_state{task=\"\"} NaN\n"
		    "# EOF\n");
	free(t);
	metrics_free(m);
}

/* A family rebuilt from each listing: cleared series are gone. */
static void test_clear_and_numbers(void **state)
{
	(void)state;
	struct metrics *m = metrics_new();
	struct metrics_family *g = metrics_family_add(m, "x", METRICS_GAUGE, NULL, "X.", NULL, 0);
	const char *a[] = {"k", "a"};
	metrics_set(metrics_series_append(g, a, 1), 0.1);
	metrics_family_clear(g);
	assert_int_equal(metrics_family_size(g), 0);
	const char *b[] = {"k", "b"};
	metrics_set(metrics_series_append(g, b, 1), 1796133172.539);
	const char *c[] = {"k", "c"};
	metrics_set(metrics_series_append(g, c, 1), -INFINITY);
	const char *d[] = {"k", "d"};
	metrics_set(metrics_series_append(g, d, 1), 1e20);
	size_t len;
	char *t = metrics_render(m, METRICS_TEXT, &len);
	expect_text(t, len,
		    "# HELP x X.\n# TYPE x gauge\n"
		    "x{k=\"b\"} 1796133172.539\n"
		    "x{k=\"c\"} -Inf\n"
		    "x{k=\"d\"} 1e+20\n");
	free(t);
	metrics_free(m);
}

static void test_negotiate(void **state)
{
	(void)state;
	assert_int_equal(metrics_negotiate(NULL), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("*/*"), METRICS_TEXT);
	assert_int_equal(metrics_negotiate("text/plain;version=0.0.4"), METRICS_TEXT);
	/* What Prometheus 2.x sends. */
	assert_int_equal(metrics_negotiate("application/openmetrics-text;version=1.0.0,"
					   "application/openmetrics-text;version=0.0.1;q=0.75,"
					   "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"),
			 METRICS_OPENMETRICS);
	assert_int_equal(metrics_negotiate("text/plain, Application/OpenMetrics-Text; q=0.3"),
			 METRICS_OPENMETRICS);
	assert_int_equal(metrics_negotiate("application/openmetrics-text;q=0, text/plain"),
			 METRICS_TEXT);
	assert_int_equal(metrics_content_type(METRICS_OPENMETRICS) != NULL, 1);
}

static void expect_addr(const char *text, int family, const char *ip, unsigned port)
{
	struct sockaddr_storage ss;
	socklen_t len;
	char err[300];
	if (metrics_http_parse_addr(text, &ss, &len, err, sizeof(err)) < 0)
		fail_msg("'%s' refused: %s", text, err);
	char got[64];
	unsigned p;
	if (ss.ss_family == AF_INET) {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &v4->sin_addr, got, sizeof(got));
		p = ntohs(v4->sin_port);
	} else {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &v6->sin6_addr, got, sizeof(got));
		p = ntohs(v6->sin6_port);
	}
	assert_int_equal(ss.ss_family, family);
	assert_string_equal(got, ip);
	assert_int_equal(p, port);
}

static void test_parse_addr(void **state)
{
	(void)state;
	expect_addr("9999", AF_INET, "127.0.0.1", 9999);
	expect_addr("0.0.0.0:80", AF_INET, "0.0.0.0", 80);
	expect_addr("10.1.2.3", AF_INET, "10.1.2.3", METRICS_HTTP_DEFAULT_PORT);
	expect_addr("localhost:1234", AF_INET, "127.0.0.1", 1234);
	expect_addr("*:1234", AF_INET, "0.0.0.0", 1234);
	expect_addr("[::1]:5", AF_INET6, "::1", 5);
	expect_addr("[::]", AF_INET6, "::", METRICS_HTTP_DEFAULT_PORT);
	static const char *const bad[] = {"", "0", "65536", "host.example:80", "1.2.3.4:",
					  "1.2.3.4:x", "::1:80", "[::1", "[::1]x", "-1",
					  "1.2.3.4:80:80", "[1.2.3.4]:80"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct sockaddr_storage ss;
		socklen_t len;
		char err[300] = "";
		if (metrics_http_parse_addr(bad[i], &ss, &len, err, sizeof(err)) == 0)
			fail_msg("'%s' was taken", bad[i]);
		assert_non_null(strstr(err, "--metrics takes"));
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_text_format),	  cmocka_unit_test(test_openmetrics_format),
		cmocka_unit_test(test_label_escaping),	  cmocka_unit_test(test_clear_and_numbers),
		cmocka_unit_test(test_negotiate),	  cmocka_unit_test(test_parse_addr),
	};
	UNIT_RUN("test_metrics", tests);
}
