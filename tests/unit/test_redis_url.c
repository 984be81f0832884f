/*
 * Unit tests for core/redis_url.c: every form of address a user may type
 * (redis:// with credentials, IPv6, database; unix sockets three ways), the
 * refusals and their messages, and the one promise that matters most: the
 * password never shows up in a redacted address or in an error message.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "redis_url.h"

/* Parses text and fails the test, showing the error, unless it succeeds. */
static void parse_ok(const char *text, struct redis_url *url)
{
	char err[256] = "";
	if (redis_url_parse(text, url, err, sizeof(err)) != 0)
		fail_msg("parse of \"%s\" failed: %s", text, err);
}

/* Checks a TCP address field by field; user and password may be NULL. */
static void expect_tcp(const char *text, const char *host, int port, int db, const char *user,
                       const char *password)
{
	struct redis_url url;
	parse_ok(text, &url);
	assert_false(url.is_unix);
	assert_null(url.path);
	assert_non_null(url.host);
	assert_string_equal(url.host, host);
	assert_int_equal(url.port, port);
	assert_int_equal(url.db, db);
	if (user == NULL)
		assert_null(url.user);
	else
		assert_string_equal(url.user, user);
	if (password == NULL)
		assert_null(url.password);
	else
		assert_string_equal(url.password, password);
	redis_url_free(&url);
}

static void expect_unix(const char *text, const char *path, int db)
{
	struct redis_url url;
	parse_ok(text, &url);
	assert_true(url.is_unix);
	assert_null(url.host);
	assert_non_null(url.path);
	assert_string_equal(url.path, path);
	assert_int_equal(url.db, db);
	assert_null(url.user);
	assert_null(url.password);
	redis_url_free(&url);
}

/*
 * Checks that text is refused with a message containing what, that the
 * message does not contain secret (when given), and that nothing is left
 * to free.
 */
static void expect_error_secret(const char *text, const char *what, const char *secret)
{
	struct redis_url url;
	char err[256] = "";
	if (redis_url_parse(text, &url, err, sizeof(err)) != -1)
		fail_msg("\"%s\" was accepted, expected an error about %s", text, what);
	if (strstr(err, what) == NULL)
		fail_msg("error for \"%s\" is \"%s\", which lacks \"%s\"", text, err, what);
	if (secret != NULL && strstr(err, secret) != NULL)
		fail_msg("error for \"%s\" shows the password: \"%s\"", text, err);
	assert_null(url.host);
	assert_null(url.path);
	assert_null(url.user);
	assert_null(url.password);
	redis_url_free(&url);
}

static void expect_error(const char *text, const char *what)
{
	expect_error_secret(text, what, NULL);
}

/* Redacts text and compares; also checks that secret is not in it. */
static void expect_redacted(const char *text, const char *want, const char *secret)
{
	struct redis_url url;
	parse_ok(text, &url);
	char buf[512];
	redis_url_redact(&url, buf, sizeof(buf));
	if (secret != NULL && strstr(buf, secret) != NULL)
		fail_msg("redaction of \"%s\" shows the password: \"%s\"", text, buf);
	assert_string_equal(buf, want);
	redis_url_free(&url);
}

/* ---- TCP ---- */

static void tcp_defaults(void **state)
{
	(void)state;
	expect_tcp("redis://", "127.0.0.1", 6379, 0, NULL, NULL);
	expect_tcp("redis://localhost", "localhost", 6379, 0, NULL, NULL);
	expect_tcp("redis://localhost/", "localhost", 6379, 0, NULL, NULL);
	expect_tcp("redis://:6380", "127.0.0.1", 6380, 0, NULL, NULL);
	expect_tcp("redis:///3", "127.0.0.1", 6379, 3, NULL, NULL);
}

static void tcp_host_port_db(void **state)
{
	(void)state;
	expect_tcp("redis://example.com:6380/2", "example.com", 6380, 2, NULL, NULL);
	expect_tcp("redis://10.0.0.7:1", "10.0.0.7", 1, 0, NULL, NULL);
	expect_tcp("redis://h:65535/0", "h", 65535, 0, NULL, NULL);
	expect_tcp("redis://h/15", "h", 6379, 15, NULL, NULL);
	expect_tcp("redis://h:06379/007", "h", 6379, 7, NULL, NULL);
	expect_tcp("redis://h/1000000", "h", 6379, 1000000, NULL, NULL);
}

static void tcp_credentials(void **state)
{
	(void)state;
	expect_tcp("redis://alice:s3cret@cache:7000/3", "cache", 7000, 3, "alice", "s3cret");
	/* Password only, as redis-cli reads it, with or without the colon. */
	expect_tcp("redis://:s3cret@cache", "cache", 6379, 0, NULL, "s3cret");
	expect_tcp("redis://s3cret@cache", "cache", 6379, 0, NULL, "s3cret");
	/* An empty password after a user is still a password. */
	expect_tcp("redis://alice:@cache", "cache", 6379, 0, "alice", "");
	/* Credentials with the default host. */
	expect_tcp("redis://alice:s3cret@", "127.0.0.1", 6379, 0, "alice", "s3cret");
	expect_tcp("redis://alice:s3cret@:6390/4", "127.0.0.1", 6390, 4, "alice", "s3cret");
	/* A lone '@' gives no credentials. */
	expect_tcp("redis://@cache", "cache", 6379, 0, NULL, NULL);
}

static void tcp_percent_escapes(void **state)
{
	(void)state;
	expect_tcp("redis://al%40ce:p%40ss%3Aw%3ard@cache", "cache", 6379, 0, "al@ce", "p@ss:w:rd");
	expect_tcp("redis://:%2F%3F%23%25%20@cache", "cache", 6379, 0, NULL, "/?#% ");
	expect_tcp("redis://u:caf%C3%A9@h", "h", 6379, 0, "u", "caf\xc3\xa9");
	/* A colon in the password needs no escape: the first one splits. */
	expect_tcp("redis://u:a:b:c@h", "h", 6379, 0, "u", "a:b:c");
}

static void tcp_raw_at_in_password(void **state)
{
	(void)state;
	/* The last '@' before the host ends the credentials. */
	expect_tcp("redis://u:p@ss@word@h:1", "h", 1, 0, "u", "p@ss@word");
	expect_tcp("redis://:@@h", "h", 6379, 0, NULL, "@");
	expect_tcp("redis://p@@h", "h", 6379, 0, NULL, "p@");
}

static void tcp_broken_escape(void **state)
{
	(void)state;
	expect_error_secret("redis://u:abc%4@h", "broken %-escape in the password", "abc%4");
	expect_error_secret("redis://u:abc%zzdef@h", "broken %-escape in the password", "abc");
	expect_error_secret("redis://u:abcdef%@h", "broken %-escape in the password", "abcdef");
	expect_error_secret("redis://abcdef%g0@h", "broken %-escape in the password", "abcdef");
	expect_error("redis://us%2ger:pw@h", "broken %-escape in the user name");
	expect_error("redis://us%:pw@h", "broken %-escape in the user name");
}

static void tcp_nul_escape(void **state)
{
	(void)state;
	/* A decoded NUL would cut the secret short: refused. */
	expect_error_secret("redis://u:abc%00def@h", "password", "abcdef");
	expect_error_secret("redis://:abc%00@h", "password", "abc%00");
	expect_error("redis://u%00x:pw@h", "user name");
}

static void tcp_ipv6(void **state)
{
	(void)state;
	expect_tcp("redis://[::1]:6380", "::1", 6380, 0, NULL, NULL);
	expect_tcp("redis://[::1]", "::1", 6379, 0, NULL, NULL);
	expect_tcp("redis://[fe80::1]/4", "fe80::1", 6379, 4, NULL, NULL);
	expect_tcp("redis://u:pw@[2001:db8::7]:7000/1", "2001:db8::7", 7000, 1, "u", "pw");
	expect_error("redis://[::1", "without its closing ]");
	expect_error("redis://[::1:6380/2", "without its closing ]");
	expect_error("redis://[::1]6380", "text after the IPv6 address");
	expect_error("redis://[::1]:", "port");
	expect_error("redis://[::1]:abc", "port");
}

static void tcp_bad_port(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "redis://h:0",       "redis://h:65536", "redis://h:99999", "redis://h:abc",
	    "redis://h:",        "redis://h:-1",    "redis://h:+1",    "redis://h:63 79",
	    "redis://h:6379:1",  "redis://h:1e3",   "redis://h:0x10",  "redis://h:1234567890",
	    "redis://h:6379x/1",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		/* "63 79" is refused earlier, for its space. */
		const char *what = strchr(cases[i], ' ') ? "space" : "port";
		expect_error(cases[i], what);
	}
	expect_error("redis://h:0", "from 1 to 65535");
}

static void tcp_bad_db(void **state)
{
	(void)state;
	expect_error("redis://h/abc", "database");
	expect_error("redis://h/-1", "database");
	expect_error("redis://h/1x", "database");
	expect_error("redis://h/1/2", "database");
	expect_error("redis://h/1000001", "database");
	expect_error("redis://h:6379/9999999999", "database");
}

static void tcp_query_refused(void **state)
{
	(void)state;
	expect_error("redis://h?timeout=1", "query options");
	expect_error("redis://h:6379/0?protocol=3", "query options");
	expect_error("redis://h/?db=2", "query options");
	expect_error("redis://?", "query options");
}

static void tcp_schemes(void **state)
{
	(void)state;
	expect_error("rediss://h:6380", "TLS");
	expect_error("rediss://u:pw@h", "not supported");
	expect_error("http://h:6379", "must start with redis:// or unix://");
	expect_error("REDIS://h", "must start with redis://");
	expect_error("redis:/h", "must start with redis://");
	expect_error("localhost:6379", "must start with redis://");
	expect_error("redis-sentinel://h", "must start with redis://");
	expect_error("redis", "must start with redis://");
}

static void tcp_spaces_and_controls(void **state)
{
	(void)state;
	expect_error("redis://ho st", "space or control character");
	expect_error(" redis://h", "space or control character");
	expect_error("redis://h ", "space or control character");
	expect_error("redis://h\t", "space or control character");
	expect_error("redis://h\n", "space or control character");
	expect_error("redis://h\x7f", "space or control character");
	expect_error("redis://h\x01:1", "space or control character");
	expect_error_secret("redis://u:pass word@h", "space or control character", "pass word");
	expect_error("unix:///tmp/a b.sock", "space or control character");
}

static void empty_refused(void **state)
{
	(void)state;
	expect_error("", "empty");
	struct redis_url url;
	char err[256] = "";
	assert_int_equal(redis_url_parse(NULL, &url, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "empty"));
	redis_url_free(&url);
}

/* ---- unix sockets ---- */

static void unix_forms(void **state)
{
	(void)state;
	expect_unix("unix:///run/redis/redis.sock", "/run/redis/redis.sock", 0);
	expect_unix("unix:/run/redis.sock", "/run/redis.sock", 0);
	expect_unix("/run/redis.sock", "/run/redis.sock", 0);
	expect_unix("unix:///tmp/r.sock?db=3", "/tmp/r.sock", 3);
	expect_unix("/tmp/r.sock?db=0", "/tmp/r.sock", 0);
	expect_unix("unix:/tmp/r.sock?db=1000000", "/tmp/r.sock", 1000000);
	expect_unix("/", "/", 0);
}

static void unix_bad_query(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "unix:///tmp/r.sock?x=y",      "unix:///tmp/r.sock?db=", "unix:///tmp/r.sock?db=abc",
	    "unix:///tmp/r.sock?db=1&x=2", "unix:///tmp/r.sock?",    "unix:///tmp/r.sock?DB=1",
	    "unix:///tmp/r.sock?db=-1",    "/tmp/r.sock?db=1000001", "unix:///tmp/r.sock?db=1?db=2",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		expect_error(cases[i], "only ?db=N");
}

static void unix_relative_refused(void **state)
{
	(void)state;
	expect_error("unix://redis.sock", "absolute path");
	expect_error("unix:redis.sock", "absolute path");
	expect_error("unix:./redis.sock", "absolute path");
	expect_error("unix://", "absolute path");
	expect_error("unix:", "absolute path");
	expect_error("unix:?db=1", "absolute path");
}

static void unix_path_length(void **state)
{
	(void)state;
	/* sun_path holds 108 bytes with its NUL: 107 is the longest path. */
	char path[200], text[220];
	path[0] = '/';
	memset(path + 1, 'p', 106);
	path[107] = '\0';
	snprintf(text, sizeof(text), "unix://%s", path);
	expect_unix(text, path, 0);
	snprintf(text, sizeof(text), "%s?db=2", path);
	expect_unix(text, path, 2);

	path[107] = 'p';
	path[108] = '\0';
	snprintf(text, sizeof(text), "unix://%s", path);
	expect_error(text, "too long");
	expect_error(path, "at most 107 bytes");
	memset(path + 1, 'p', 150);
	path[151] = '\0';
	expect_error(path, "too long");
}

/* ---- redaction ---- */

static void redact_forms(void **state)
{
	(void)state;
	expect_redacted("redis://", "redis://127.0.0.1:6379", NULL);
	expect_redacted("redis://cache:6380/2", "redis://cache:6380/2", NULL);
	expect_redacted("redis://alice:Zq9xSecret@cache:7000/3", "redis://alice:***@cache:7000/3",
	                "Zq9xSecret");
	expect_redacted("redis://:Zq9xSecret@cache", "redis://:***@cache:6379", "Zq9xSecret");
	expect_redacted("redis://Zq9xSecret@cache", "redis://:***@cache:6379", "Zq9xSecret");
	expect_redacted("redis://u:Zq9x%40Secret@h", "redis://u:***@h:6379", "Zq9x@Secret");
	expect_redacted("redis://u:Zq9x%40Secret@h", "redis://u:***@h:6379", "Zq9x%40Secret");
	expect_redacted("redis://u:Zq9x@Secret@h", "redis://u:***@h:6379", "Zq9x@Secret");
	expect_redacted("redis://u:Zq9x@Secret@h", "redis://u:***@h:6379", "Secret");
	expect_redacted("redis://[::1]:6380", "redis://[::1]:6380", NULL);
	expect_redacted("redis://u:Zq9xSecret@[::1]/5", "redis://u:***@[::1]:6379/5", "Zq9xSecret");
	expect_redacted("unix:///run/redis.sock", "unix:///run/redis.sock", NULL);
	expect_redacted("/run/redis.sock?db=4", "unix:///run/redis.sock?db=4", NULL);
	expect_redacted("unix:/run/redis.sock?db=0", "unix:///run/redis.sock", NULL);
}

static void redact_never_shows_password(void **state)
{
	(void)state;
	static const struct {
		const char *text, *password;
	} cases[] = {
	    {"redis://alice:Zq9xSecret@cache", "Zq9xSecret"},
	    {"redis://:Zq9xSecret@cache", "Zq9xSecret"},
	    {"redis://Zq9xSecret@cache", "Zq9xSecret"},
	    {"redis://u:Zq9x%3ASecret@h/1", "Zq9x:Secret"},
	    {"redis://u:Zq9x:Secret@h/1", "Zq9x:Secret"},
	    {"redis://u:%5AQ9%58@h", "ZQ9X"},
	    {"redis://u:a@b@c@Zq9xHost", "a@b@c"},
	    {"redis://u:Zq9x%2FSecret%3F@[::1]:1", "Zq9x/Secret?"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct redis_url url;
		parse_ok(cases[i].text, &url);
		assert_non_null(url.password);
		assert_string_equal(url.password, cases[i].password);
		/* Every buffer size, so truncation cannot expose a prefix
		 * boundary differently. */
		for (size_t size = 1; size <= 128; size++) {
			char buf[128];
			memset(buf, 'Q', sizeof(buf));
			redis_url_redact(&url, buf, size);
			assert_non_null(memchr(buf, '\0', size));
			if (strstr(buf, cases[i].password) != NULL)
				fail_msg("redaction of \"%s\" shows the password: \"%s\"",
				         cases[i].text, buf);
			if (size == 128)
				assert_non_null(strstr(buf, "***@"));
		}
		redis_url_free(&url);
	}
}

static void redact_shows_user(void **state)
{
	(void)state;
	struct redis_url url;
	parse_ok("redis://svc-tasker:Zq9xSecret@redis.internal:6390/2", &url);
	char buf[256];
	redis_url_redact(&url, buf, sizeof(buf));
	assert_non_null(strstr(buf, "svc-tasker:***@"));
	assert_non_null(strstr(buf, "redis.internal"));
	assert_non_null(strstr(buf, ":6390"));
	assert_non_null(strstr(buf, "/2"));
	assert_null(strstr(buf, "Zq9x"));
	redis_url_free(&url);
	/* Without a password there is nothing to hide: no stars. */
	parse_ok("redis://cache", &url);
	redis_url_redact(&url, buf, sizeof(buf));
	assert_null(strstr(buf, "***"));
	assert_null(strchr(buf, '@'));
	redis_url_free(&url);
}

static void redact_parses_back(void **state)
{
	(void)state;
	/* Without credentials the redacted form is the same address. */
	static const char *const cases[] = {
	    "redis://",    "redis://cache:6380/2", "redis://[::1]:7000/1", "unix:/tmp/r.sock?db=3",
	    "/tmp/r.sock",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct redis_url a, b;
		parse_ok(cases[i], &a);
		char buf[256];
		redis_url_redact(&a, buf, sizeof(buf));
		parse_ok(buf, &b);
		assert_int_equal(a.is_unix, b.is_unix);
		assert_int_equal(a.port, b.port);
		assert_int_equal(a.db, b.db);
		if (a.is_unix)
			assert_string_equal(a.path, b.path);
		else
			assert_string_equal(a.host, b.host);
		redis_url_free(&a);
		redis_url_free(&b);
	}
}

/* ---- errors never show the password ---- */

static void errors_never_show_password(void **state)
{
	(void)state;
	static const char *const cases[] = {
	    "redis://alice:Zq9xSecret@h:0",     "redis://alice:Zq9xSecret@h:70000",
	    "redis://alice:Zq9xSecret@h:port",  "redis://alice:Zq9xSecret@h/db",
	    "redis://alice:Zq9xSecret@h/0?a=b", "redis://alice:Zq9xSecret@[::1",
	    "redis://alice:Zq9xSecret@[::1]x",  "redis://alice:Zq9xSecret%zz@h",
	    "redis://alice:Zq9xSecret%00@h",    "redis://al%zzice:Zq9xSecret@h",
	    "rediss://alice:Zq9xSecret@h",      "http://alice:Zq9xSecret@h",
	    "redis://alice:Zq9xSecret @h",      "redis://alice:Zq9xSecret@h\n",
	    "redis://:Zq9xSecret/x@h",          "redis://Zq9xSecret?@h",
	    "redis://alice:Zq9x/Secret@h:1/2",  "unix://alice:Zq9xSecret@/tmp/s?x=1",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct redis_url url;
		char err[256] = "";
		if (redis_url_parse(cases[i], &url, err, sizeof(err)) != -1)
			fail_msg("\"%s\" was accepted", cases[i]);
		assert_true(err[0] != '\0');
		if (strstr(err, "Zq9x") != NULL || strstr(err, "Secret") != NULL)
			fail_msg("error for \"%s\" shows the password: \"%s\"", cases[i], err);
		assert_null(url.password);
		redis_url_free(&url);
	}
}

/* ---- copy and free ---- */

static void copy_is_deep(void **state)
{
	(void)state;
	struct redis_url src, dst;
	parse_ok("redis://alice:Zq9xSecret@[::1]:6380/2", &src);
	redis_url_copy(&dst, &src);
	assert_ptr_not_equal(dst.host, src.host);
	assert_ptr_not_equal(dst.user, src.user);
	assert_ptr_not_equal(dst.password, src.password);
	redis_url_free(&src);
	/* The copy outlives its source. */
	assert_false(dst.is_unix);
	assert_string_equal(dst.host, "::1");
	assert_int_equal(dst.port, 6380);
	assert_int_equal(dst.db, 2);
	assert_string_equal(dst.user, "alice");
	assert_string_equal(dst.password, "Zq9xSecret");
	assert_null(dst.path);
	redis_url_free(&dst);

	parse_ok("unix:///tmp/r.sock?db=5", &src);
	redis_url_copy(&dst, &src);
	redis_url_free(&src);
	assert_true(dst.is_unix);
	assert_string_equal(dst.path, "/tmp/r.sock");
	assert_int_equal(dst.db, 5);
	assert_null(dst.host);
	assert_null(dst.user);
	assert_null(dst.password);
	redis_url_free(&dst);
}

static void unix_credentials(void **state)
{
	(void)state;
	struct redis_url u;
	char err[200], shown[300];
	assert_int_equal(redis_url_parse("unix://alice:p%40ss@/run/redis.sock?db=3", &u, err,
					 sizeof(err)),
			 0);
	assert_true(u.is_unix);
	assert_string_equal(u.path, "/run/redis.sock");
	assert_string_equal(u.user, "alice");
	assert_string_equal(u.password, "p@ss");
	assert_int_equal(u.db, 3);
	redis_url_redact(&u, shown, sizeof(shown));
	assert_string_equal(shown, "unix://alice:***@/run/redis.sock?db=3");
	redis_url_free(&u);
	assert_int_equal(redis_url_parse("unix://:only@/tmp/r.sock", &u, err, sizeof(err)), 0);
	assert_null(u.user);
	assert_string_equal(u.password, "only");
	redis_url_redact(&u, shown, sizeof(shown));
	assert_null(strstr(shown, "only"));
	redis_url_free(&u);
	/* No "@/" means no credentials: a relative path is still refused. */
	assert_int_equal(redis_url_parse("unix://alice@tmp/r.sock", &u, err, sizeof(err)), -1);
}

static void free_twice(void **state)
{
	(void)state;
	struct redis_url url;
	parse_ok("redis://u:p@h", &url);
	redis_url_free(&url);
	assert_null(url.password);
	assert_null(url.host);
	redis_url_free(&url); /* free leaves it empty, so twice is harmless */
}

static void reparse_into_same(void **state)
{
	(void)state;
	/* A failed parse leaves nothing behind; the struct can be reused. */
	struct redis_url url;
	char err[256];
	assert_int_equal(redis_url_parse("redis://u:p@h:0", &url, err, sizeof(err)), -1);
	assert_int_equal(redis_url_parse("redis://h:1", &url, err, sizeof(err)), 0);
	assert_string_equal(url.host, "h");
	assert_int_equal(url.port, 1);
	redis_url_free(&url);
}

static void small_error_buffer(void **state)
{
	(void)state;
	struct redis_url url;
	char err[8];
	memset(err, 'x', sizeof(err));
	assert_int_equal(redis_url_parse("redis://h:0", &url, err, sizeof(err)), -1);
	assert_non_null(memchr(err, '\0', sizeof(err)));
	assert_int_equal(strlen(err), sizeof(err) - 1);
	redis_url_free(&url);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(tcp_defaults),
	    cmocka_unit_test(tcp_host_port_db),
	    cmocka_unit_test(tcp_credentials),
	    cmocka_unit_test(tcp_percent_escapes),
	    cmocka_unit_test(tcp_raw_at_in_password),
	    cmocka_unit_test(tcp_broken_escape),
	    cmocka_unit_test(tcp_nul_escape),
	    cmocka_unit_test(tcp_ipv6),
	    cmocka_unit_test(tcp_bad_port),
	    cmocka_unit_test(tcp_bad_db),
	    cmocka_unit_test(tcp_query_refused),
	    cmocka_unit_test(tcp_schemes),
	    cmocka_unit_test(tcp_spaces_and_controls),
	    cmocka_unit_test(empty_refused),
	    cmocka_unit_test(unix_forms),
	    cmocka_unit_test(unix_credentials),
	    cmocka_unit_test(unix_bad_query),
	    cmocka_unit_test(unix_relative_refused),
	    cmocka_unit_test(unix_path_length),
	    cmocka_unit_test(redact_forms),
	    cmocka_unit_test(redact_never_shows_password),
	    cmocka_unit_test(redact_shows_user),
	    cmocka_unit_test(redact_parses_back),
	    cmocka_unit_test(errors_never_show_password),
	    cmocka_unit_test(copy_is_deep),
	    cmocka_unit_test(free_twice),
	    cmocka_unit_test(reparse_into_same),
	    cmocka_unit_test(small_error_buffer),
	};
	UNIT_RUN("redis_url", tests);
}
