/*
 * Unit tests for core/history.c (the key, stream IDs, --since, the reading
 * of XRANGE replies) and core/history_read.c (the merge of a replay with
 * live messages), fed with RESP bytes through hiredis's reader: no Redis,
 * no clock.
 */
#include "unit.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "history.h"
#include "history_read.h"

/* ---- pure helpers ---- */

static void key_per_channel(void **state)
{
	(void)state;
	char *k = history_key("b00t:task:status");
	assert_string_equal(k, "b00t:{tasker}:status");
	free(k);
	k = history_key("box1:status");
	assert_string_equal(k, "b00t:{tasker}:status:box1:status");
	free(k);
}

static void id_at(void **state)
{
	(void)state;
	char buf[48];
	history_id_at(1796125972832LL, buf, sizeof(buf));
	assert_string_equal(buf, "1796125972832-0");
	history_id_at(-5, buf, sizeof(buf));
	assert_string_equal(buf, "0-0");
}

static int64_t since(const char *text)
{
	int64_t ms = -1;
	char err[200];
	if (history_parse_since(text, 1000000000000LL, &ms, err, sizeof(err)) < 0)
		fail_msg("'%s' refused: %s", text, err);
	return ms;
}

static void since_refused(const char *text, const char *want)
{
	int64_t ms = 42;
	char err[200] = "";
	if (history_parse_since(text, 1000000000000LL, &ms, err, sizeof(err)) == 0)
		fail_msg("'%s' accepted", text);
	if (strstr(err, want) == NULL)
		fail_msg("'%s': error \"%s\" lacks \"%s\"", text, err, want);
	assert_int_equal(ms, 42);
}

static void since_durations_and_times(void **state)
{
	(void)state;
	const int64_t now = 1000000000000LL;
	assert_int_equal(since("30s"), now - 30000);
	assert_int_equal(since("10m"), now - 600000);
	assert_int_equal(since("2h"), now - 7200000);
	assert_int_equal(since("1d"), now - 86400000);
	assert_int_equal(since("1h30m"), now - 5400000);
	assert_int_equal(since("0s"), now);
	assert_int_equal(since("2026-11-27T10:00:00Z"), 1795773600000LL);
	assert_int_equal(since("2026-11-27T12:00:00+02:00"), 1795773600000LL);
	assert_int_equal(since("2026-11-27T10:00:00.250Z"), 1795773600250LL);
	since_refused("", "neither a duration");
	since_refused("10", "neither a duration");
	since_refused("10x", "neither a duration");
	since_refused("m", "neither a duration");
	since_refused("-5m", "neither a duration");
	since_refused("5m ", "neither a duration");
	since_refused("2h30", "neither a duration");
	since_refused("2026-11-27", "neither a duration");
	since_refused("2026-11-27T10:00:00", "neither a duration"); /* no zone */
	since_refused("36601d", "longer than 100 years");
	since_refused("99999999999999999999999s", "longer than 100 years");
	since_refused("36000d36000d", "longer than 100 years");
}

/* ---- replies, through hiredis's own reader ---- */

static redisReply *parse_n(const char *resp, size_t len)
{
	redisReader *rd = redisReaderCreate();
	redisReaderFeed(rd, resp, len);
	void *reply = NULL;
	if (redisReaderGetReply(rd, &reply) != REDIS_OK || reply == NULL)
		fail_msg("bad RESP in the test: %s", resp);
	redisReaderFree(rd);
	return reply;
}

static redisReply *parse(const char *resp)
{
	return parse_n(resp, strlen(resp));
}

#define PARSE_LITERAL(lit) parse_n(lit, sizeof(lit) - 1)

/* An XRANGE reply of n entries "ID-i" whose m is the given bytes. */
static char *xrange_resp(const char *const *msgs, size_t n, const char *first_id)
{
	size_t cap = 64;
	for (size_t i = 0; i < n; i++)
		cap += strlen(msgs[i]) + 64;
	char *buf = malloc(cap);
	size_t o = (size_t)snprintf(buf, cap, "*%zu\r\n", n);
	for (size_t i = 0; i < n; i++) {
		char id[32];
		snprintf(id, sizeof(id), "%s%zu", first_id, i);
		o += (size_t)snprintf(buf + o, cap - o,
		                      "*2\r\n$%zu\r\n%s\r\n*2\r\n$1\r\nm\r\n$%zu\r\n%s\r\n",
		                      strlen(id), id, strlen(msgs[i]), msgs[i]);
	}
	return buf;
}

static void entries_read(void **state)
{
	(void)state;
	/* Two entries, the second with another field first; then one without m. */
	redisReply *r =
	    PARSE_LITERAL("*3\r\n"
	                  "*2\r\n$3\r\n1-0\r\n*2\r\n$1\r\nm\r\n$2\r\n{}\r\n"
	                  "*2\r\n$3\r\n2-0\r\n*4\r\n$1\r\nx\r\n$1\r\ny\r\n$1\r\nm\r\n$3\r\nab\0\r\n"
	                  "*2\r\n$3\r\n3-0\r\n*2\r\n$2\r\nmm\r\n$1\r\nz\r\n");
	struct history_entry e[3];
	assert_int_equal(history_entries(r, e, 3), 3);
	assert_string_equal(e[0].id, "1-0");
	assert_int_equal(e[0].len, 2);
	assert_memory_equal(e[0].data, "{}", 2);
	assert_string_equal(e[1].id, "2-0");
	assert_int_equal(e[1].len, 3); /* binary-safe: a NUL inside */
	assert_memory_equal(e[1].data, "ab\0", 3);
	assert_null(e[2].data);
	/* Counted past the cap, not stored. */
	struct history_entry one[1];
	assert_int_equal(history_entries(r, one, 1), 3);
	assert_string_equal(one[0].id, "1-0");
	freeReplyObject(r);

	r = parse("*0\r\n");
	assert_int_equal(history_entries(r, e, 3), 0);
	freeReplyObject(r);
	/* An entry whose fields are nil (deleted under a consumer group). */
	r = parse("*1\r\n*2\r\n$3\r\n1-0\r\n*-1\r\n");
	assert_int_equal(history_entries(r, e, 3), 1);
	assert_null(e[0].data);
	freeReplyObject(r);
	/* Not a list of entries. */
	const char *bad[] = {"-WRONGTYPE Operation against a key\r\n",
	                     ":3\r\n",
	                     "$2\r\nhi\r\n",
	                     "*1\r\n$3\r\n1-0\r\n",
	                     "*1\r\n*1\r\n$3\r\n1-0\r\n",
	                     "*1\r\n*2\r\n:1\r\n*0\r\n",
	                     "*1\r\n*2\r\n$3\r\n1-0\r\n:5\r\n"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		r = parse(bad[i]);
		assert_int_equal(history_entries(r, e, 3), -1);
		freeReplyObject(r);
	}
	assert_int_equal(history_entries(NULL, e, 3), -1);
}

/* ---- the merge ---- */

struct shown {
	char *lines[64];
	size_t n;
	int done;
	char error[200];
	size_t replayed;
};

static void on_show(const char *data, size_t len, void *arg)
{
	struct shown *s = arg;
	assert_true(s->n < 64);
	s->lines[s->n] = malloc(len + 1);
	memcpy(s->lines[s->n], data, len);
	s->lines[s->n][len] = '\0';
	s->n++;
}

static void on_done(const char *error, size_t replayed, void *arg)
{
	struct shown *s = arg;
	s->done++;
	s->replayed = replayed;
	snprintf(s->error, sizeof(s->error), "%s", error ? error : "");
}

static void expect_shown(struct shown *s, const char *const *want, size_t n)
{
	if (s->n != n)
		fail_msg("shown %zu messages, want %zu", s->n, n);
	for (size_t i = 0; i < n; i++)
		assert_string_equal(s->lines[i], want[i]);
}

static void shown_free(struct shown *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->lines[i]);
	memset(s, 0, sizeof(*s));
}

static bool live(struct history_read *r, const char *m)
{
	return history_read_live(r, m, strlen(m));
}

static void feed(struct history_read *r, const char *const *msgs, size_t n, const char *first_id)
{
	char *resp = xrange_resp(msgs, n, first_id);
	redisReply *reply = parse(resp);
	history_read_page(r, reply);
	freeReplyObject(reply);
	free(resp);
}

static void merge_no_gap_no_copy(void **state)
{
	(void)state;
	struct shown s = {0};
	struct history_read *r =
	    history_read_new(NULL, "b00t:task:status", true, on_show, on_done, &s);
	/* Live messages before and during the read are held. */
	assert_true(live(r, "c"));
	history_read_since(r, 0);
	assert_true(live(r, "d"));
	assert_true(live(r, "x"));
	assert_int_equal(s.n, 0);
	/* The replay: a, b, c, d (c and d came live too). */
	const char *page[] = {"a", "b", "c", "d"};
	feed(r, page, 4, "1-");
	assert_int_equal(s.done, 1);
	assert_int_equal(s.replayed, 4);
	const char *want[] = {"a", "b", "c", "d", "x"};
	expect_shown(&s, want, 5);
	/* A copy of a replayed entry late to arrive is dropped, once; then
	 * live messages pass to the caller. */
	assert_false(live(r, "c"));
	assert_true(live(r, "b"));
	assert_false(live(r, "b"));
	assert_false(live(r, "y"));
	expect_shown(&s, want, 5);
	history_read_free(r);
	shown_free(&s);
}

static void merge_same_bytes_twice(void **state)
{
	(void)state;
	/* Two entries with the same bytes excuse two live copies, not three. */
	struct shown s = {0};
	struct history_read *r =
	    history_read_new(NULL, "b00t:task:status", true, on_show, on_done, &s);
	history_read_since(r, 0);
	assert_true(live(r, "same"));
	assert_true(live(r, "same"));
	assert_true(live(r, "same"));
	const char *page[] = {"same", "same"};
	feed(r, page, 2, "1-");
	const char *want[] = {"same", "same", "same"};
	expect_shown(&s, want, 3);
	history_read_free(r);
	shown_free(&s);
}

static void merge_errors_and_lost_pages(void **state)
{
	(void)state;
	struct shown s = {0};
	struct history_read *r;

	/* A refusal ends the read with Redis's words and lets the held pass. */
	r = history_read_new(NULL, "b00t:task:status", true, on_show, on_done, &s);
	history_read_since(r, 0);
	assert_true(live(r, "held"));
	redisReply *err =
	    parse("-NOPERM this user has no permissions to run the 'xrange' command\r\n");
	history_read_page(r, err);
	freeReplyObject(err);
	assert_int_equal(s.done, 1);
	assert_non_null(strstr(s.error, "NOPERM"));
	const char *want[] = {"held"};
	expect_shown(&s, want, 1);
	assert_false(live(r, "next"));
	history_read_free(r);
	shown_free(&s);

	/* A lost connection (NULL) is no end: the held wait for the retry. */
	r = history_read_new(NULL, "b00t:task:status", true, on_show, on_done, &s);
	history_read_since(r, 0);
	assert_true(live(r, "w"));
	history_read_page(r, NULL);
	assert_int_equal(s.done, 0);
	assert_true(live(r, "w2"));
	history_read_ready(r);
	const char *page[] = {"v"};
	feed(r, page, 1, "1-");
	const char *want2[] = {"v", "w", "w2"};
	expect_shown(&s, want2, 3);
	history_read_free(r);
	shown_free(&s);
}

static size_t counted;
static void on_count(const char *data, size_t len, void *arg)
{
	(void)data;
	(void)len;
	(void)arg;
	counted++;
}

static void paging(void **state)
{
	(void)state;
	struct shown s = {0};
	struct history_read *r =
	    history_read_new(NULL, "b00t:task:status", false, on_count, on_done, &s);
	history_read_since(r, 0);
	const char *msgs[500];
	for (size_t i = 0; i < 500; i++)
		msgs[i] = "p";
	counted = 0;
	feed(r, msgs, 500, "1-");
	assert_int_equal(counted, 500);
	assert_int_equal(s.done, 0); /* a full page: the next one is asked */
	feed(r, msgs, 3, "2-");
	assert_int_equal(counted, 503);
	assert_int_equal(s.done, 1);
	assert_int_equal(s.replayed, 503);
	/* Without merge, live messages are the caller's. */
	assert_false(live(r, "p"));
	history_read_free(r);
}

static void newest_first_reversed(void **state)
{
	(void)state;
	/* XREVRANGE gives the newest first; they are shown oldest first. */
	struct shown s = {0};
	struct history_read *r =
	    history_read_new(NULL, "b00t:task:status", true, on_show, on_done, &s);
	history_read_last(r, 200);
	assert_true(live(r, "n3"));
	const char *page[] = {"n3", "n2", "n1"};
	feed(r, page, 3, "9-");
	const char *want[] = {"n1", "n2", "n3"};
	expect_shown(&s, want, 3);
	history_read_free(r);
	shown_free(&s);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(key_per_channel),
	    cmocka_unit_test(id_at),
	    cmocka_unit_test(since_durations_and_times),
	    cmocka_unit_test(entries_read),
	    cmocka_unit_test(merge_no_gap_no_copy),
	    cmocka_unit_test(merge_same_bytes_twice),
	    cmocka_unit_test(merge_errors_and_lost_pages),
	    cmocka_unit_test(paging),
	    cmocka_unit_test(newest_first_reversed),
	};
	UNIT_RUN("history", tests);
}
