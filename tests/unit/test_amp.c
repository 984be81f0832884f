/*
 * Unit tests for the amp frame codec and for the pure half of the PM2
 * client: the strict request encoder, reply, event and record parsing. The
 * byte examples are the ones measured against a live daemon in
 * shared/reference/pm2.md.
 */
#include "unit.h"

#include <stdlib.h>
#include <string.h>

#include "amp.h"
#include "pm2.h"
#include "pm2_list.h"

/* 12 | 00 00 00 2d | j:{...ping...} | 00 00 00 09 | s:11593:0 */
static const char ping_request[] = "\x12\x00\x00\x00\x2d"
                                   "j:{\"type\":\"call\",\"method\":\"ping\",\"args\":[{}]}"
                                   "\x00\x00\x00\x09"
                                   "s:11593:0";
#define PING_REQUEST_LEN 63

static const char ping_reply[] = "\x12\x00\x00\x00\x1b"
                                 "j:{\"args\":[{\"msg\":\"pong\"}]}"
                                 "\x00\x00\x00\x09"
                                 "s:11593:0";
#define PING_REPLY_LEN (1 + 4 + 27 + 4 + 9)

static void test_encode_ping_bytes(void **state)
{
	(void)state;
	assert_int_equal(sizeof(ping_request) - 1, PING_REQUEST_LEN);
	const char *j = "j:{\"type\":\"call\",\"method\":\"ping\",\"args\":[{}]}";
	struct amp_arg args[2] = {{j, strlen(j)}, {"s:11593:0", 9}};
	size_t len = 0;
	char *out = amp_encode(args, 2, &len);
	assert_non_null(out);
	assert_int_equal(len, PING_REQUEST_LEN);
	assert_memory_equal(out, ping_request, PING_REQUEST_LEN);
	assert_int_equal(amp_encoded_size(args, 2), PING_REQUEST_LEN);
	free(out);
}

static void test_encode_refuses_bad_argc(void **state)
{
	(void)state;
	struct amp_arg args[16];
	for (size_t i = 0; i < 16; i++)
		args[i] = (struct amp_arg){"x", 1};
	size_t len = 99;
	assert_null(amp_encode(args, 0, &len));
	assert_null(amp_encode(args, 16, &len));
	char *ok = amp_encode(args, 15, &len);
	assert_non_null(ok);
	assert_int_equal((unsigned char)ok[0], 0x1f);
	assert_int_equal(len, 1 + 15 * 5);
	free(ok);
	char small[4];
	assert_int_equal(amp_encode_into(args, 1, small, sizeof(small)), 0);
}

static void test_rpc_encode_ping_exact(void **state)
{
	(void)state;
	cJSON *args = cJSON_Parse("[{}]");
	size_t len = 0;
	const char *err = NULL;
	char *out = pm2_rpc_encode("ping", args, "11593:0", &len, &err);
	assert_non_null(out);
	assert_null(err);
	assert_int_equal(len, PING_REQUEST_LEN);
	assert_memory_equal(out, ping_request, PING_REQUEST_LEN);
	free(out);
	cJSON_Delete(args);
}

static void test_rpc_encode_refusals(void **state)
{
	(void)state;
	static const struct {
		const char *method;
		const char *args;
		const char *id;
	} bad[] = {
	    {"ping", "{}", "1"},                        /* args not an array */
	    {"ping", "[]", "1"},                        /* too few */
	    {"ping", "[{},{}]", "1"},                   /* too many: crashes the daemon */
	    {"ping", "[null]", "1"},                    /* not an object */
	    {"getMonitorData", "[\"x\"]", "1"},         /* not an object */
	    {"stopProcessId", "[null]", "1"},           /* null id crashes it */
	    {"stopProcessId", "[-1]", "1"},             /* not an id */
	    {"stopProcessId", "[1.5]", "1"},            /* not an id */
	    {"stopProcessId", "[{}]", "1"},             /* not an id */
	    {"restartProcessId", "[3]", "1"},           /* needs {id} */
	    {"restartProcessId", "[{}]", "1"},          /* needs {id} */
	    {"notifyByProcessId", "[{\"id\":1}]", "1"}, /* needs action_name */
	    {"prepare", "[{\"name\":\"a\",\"pm_exec_path\":\"/x\",\"pm_pid_path\":\"/p\"}]", "1"},
	    {"prepare", "[{\"name\":\"a\",\"pm_exec_path\":\"/x\",\"env\":{}}]", "1"},
	    {"prepare",
	     "[{\"name\":\"a\",\"pm_exec_path\":\"/x\",\"env\":[],"
	     "\"pm_pid_path\":\"/p\"}]",
	     "1"},
	    {"prepare", "[null]", "1"},
	    {"killMe", "[{}]", "1"},                                /* never replies */
	    {"notifyKillPM2", "[{}]", "1"},                         /* never replies */
	    {"getReport", "[{}]", "1"},                             /* leaks the environment */
	    {"sendSignalToProcessId", "[{\"process_id\":0}]", "1"}, /* pid 0 trap */
	    {"nosuch", "[{}]", "1"},
	    {"ping", "[{}]", ""},    /* empty id */
	    {"ping", "[{}]", "a b"}, /* space in id */
	    {"ping", "[{}]",
	     "0123456789012345678901234567890123456789012345678901234567890123456789"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		cJSON *args = cJSON_Parse(bad[i].args);
		assert_non_null(args);
		size_t len = 0;
		const char *err = NULL;
		char *out = pm2_rpc_encode(bad[i].method, args, bad[i].id, &len, &err);
		if (out != NULL)
			fail_msg("case %zu (%s %s) was accepted", i, bad[i].method, bad[i].args);
		assert_non_null(err);
		cJSON_Delete(args);
	}
	size_t len;
	const char *err = NULL;
	assert_null(pm2_rpc_encode("ping", NULL, "1", &len, &err));
	assert_non_null(err);
	assert_null(pm2_rpc_encode(NULL, NULL, "1", &len, NULL));
}

static void test_rpc_encode_accepts(void **state)
{
	(void)state;
	static const struct {
		const char *method;
		const char *args;
		const char *json;
	} good[] = {
	    {"stopProcessId", "[3]",
	     "j:{\"type\":\"call\",\"method\":\"stopProcessId\",\"args\":[3]}"},
	    {"stopProcessId", "[\"3\"]",
	     "j:{\"type\":\"call\",\"method\":\"stopProcessId\",\"args\":[\"3\"]}"},
	    {"restartProcessId", "[{\"id\":0}]",
	     "j:{\"type\":\"call\",\"method\":\"restartProcessId\",\"args\":[{\"id\":0}]}"},
	    {"notifyByProcessId", "[{\"id\":0,\"action_name\":\"stop\",\"manually\":true}]",
	     "j:{\"type\":\"call\",\"method\":\"notifyByProcessId\",\"args\":[{\"id\":0,"
	     "\"action_name\":\"stop\",\"manually\":true}]}"},
	    {"getMonitorData", "[{}]",
	     "j:{\"type\":\"call\",\"method\":\"getMonitorData\",\"args\":[{}]}"},
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		cJSON *args = cJSON_Parse(good[i].args);
		size_t len = 0;
		const char *err = NULL;
		char *out = pm2_rpc_encode(good[i].method, args, "7:1", &len, &err);
		assert_non_null(out);
		struct amp_decoder d;
		amp_decoder_init(&d, 0);
		assert_int_equal(amp_decoder_feed(&d, out, len), 0);
		struct amp_frame f;
		assert_int_equal(amp_decoder_next(&d, &f), AMP_FRAME);
		assert_int_equal(f.argc, 2);
		assert_int_equal(f.args[0].len, strlen(good[i].json));
		assert_memory_equal(f.args[0].ptr, good[i].json, f.args[0].len);
		assert_int_equal(f.args[1].len, 5);
		assert_memory_equal(f.args[1].ptr, "s:7:1", 5);
		assert_int_equal(amp_decoder_next(&d, &f), AMP_NEED_MORE);
		amp_decoder_free(&d);
		free(out);
		cJSON_Delete(args);
	}
}

static void check_ping_reply(const struct amp_frame *f)
{
	assert_int_equal(f->argc, 2);
	struct pm2_reply r;
	const char *err = NULL;
	assert_int_equal(pm2_reply_parse(f, &r, &err), 0);
	assert_string_equal(r.id, "11593:0");
	assert_null(r.error);
	assert_non_null(r.result);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(r.result, "msg");
	assert_true(cJSON_IsString(msg));
	assert_string_equal(msg->valuestring, "pong");
	pm2_reply_free(&r);
}

static void test_decode_ping_reply(void **state)
{
	(void)state;
	assert_int_equal(sizeof(ping_reply) - 1, PING_REPLY_LEN);
	struct amp_decoder d;
	amp_decoder_init(&d, 0);
	assert_int_equal(amp_decoder_feed(&d, ping_reply, PING_REPLY_LEN), 0);
	struct amp_frame f;
	assert_int_equal(amp_decoder_next(&d, &f), AMP_FRAME);
	check_ping_reply(&f);
	assert_int_equal(amp_decoder_next(&d, &f), AMP_NEED_MORE);
	amp_decoder_free(&d);
}

/* The request then the reply, fed one byte at a time. */
static void test_decode_split_feeds(void **state)
{
	(void)state;
	char stream[PING_REQUEST_LEN + PING_REPLY_LEN];
	memcpy(stream, ping_request, PING_REQUEST_LEN);
	memcpy(stream + PING_REQUEST_LEN, ping_reply, PING_REPLY_LEN);
	struct amp_decoder d;
	amp_decoder_init(&d, 0);
	struct amp_frame f;
	int frames = 0;
	for (size_t i = 0; i < sizeof(stream); i++) {
		assert_int_equal(amp_decoder_feed(&d, stream + i, 1), 0);
		enum amp_status st;
		while ((st = amp_decoder_next(&d, &f)) == AMP_FRAME) {
			frames++;
			if (frames == 1) {
				assert_int_equal(i, PING_REQUEST_LEN - 1);
				assert_int_equal(f.args[0].len, 45);
				assert_memory_equal(f.args[1].ptr, "s:11593:0", 9);
			} else {
				assert_int_equal(i, sizeof(stream) - 1);
				check_ping_reply(&f);
			}
		}
		assert_int_equal(st, AMP_NEED_MORE);
	}
	assert_int_equal(frames, 2);
	amp_decoder_free(&d);
}

/* Several frames in one chunk: each stays readable until the next feed. */
static void test_decode_many_in_one_chunk(void **state)
{
	(void)state;
	char stream[3 * PING_REPLY_LEN];
	for (int i = 0; i < 3; i++)
		memcpy(stream + i * PING_REPLY_LEN, ping_reply, PING_REPLY_LEN);
	struct amp_decoder d;
	amp_decoder_init(&d, 0);
	assert_int_equal(amp_decoder_feed(&d, stream, sizeof(stream) - 3), 0);
	struct amp_frame f[3];
	assert_int_equal(amp_decoder_next(&d, &f[0]), AMP_FRAME);
	assert_int_equal(amp_decoder_next(&d, &f[1]), AMP_FRAME);
	assert_int_equal(amp_decoder_next(&d, &f[2]), AMP_NEED_MORE);
	check_ping_reply(&f[0]);
	check_ping_reply(&f[1]);
	assert_int_equal(amp_decoder_feed(&d, stream + sizeof(stream) - 3, 3), 0);
	assert_int_equal(amp_decoder_next(&d, &f[2]), AMP_FRAME);
	check_ping_reply(&f[2]);
	amp_decoder_free(&d);
}

static void expect_error(const char *bytes, size_t len, size_t max_frame, const char *why)
{
	struct amp_decoder d;
	amp_decoder_init(&d, max_frame);
	assert_int_equal(amp_decoder_feed(&d, bytes, len), 0);
	struct amp_frame f;
	assert_int_equal(amp_decoder_next(&d, &f), AMP_ERROR);
	assert_non_null(d.error);
	assert_non_null(strstr(d.error, why));
	/* A failed stream stays failed. */
	assert_int_equal(amp_decoder_feed(&d, "x", 1), -1);
	assert_int_equal(amp_decoder_next(&d, &f), AMP_ERROR);
	amp_decoder_reset(&d);
	assert_null(d.error);
	assert_int_equal(amp_decoder_feed(&d, ping_reply, PING_REPLY_LEN), 0);
	assert_int_equal(amp_decoder_next(&d, &f), AMP_FRAME);
	amp_decoder_free(&d);
}

static void test_decode_bad_version(void **state)
{
	(void)state;
	expect_error("\x22\x00\x00\x00\x01x\x00\x00\x00\x01y", 11, 0, "version");
	expect_error("\x02", 1, 0, "version");
	expect_error("\xf1", 1, 0, "version");
}

static void test_decode_argc_zero(void **state)
{
	(void)state;
	expect_error("\x10", 1, 0, "no arguments");
}

static void test_decode_oversize(void **state)
{
	(void)state;
	/* Refused from the length alone, before any argument byte arrives. */
	expect_error("\x11\xff\xff\xff\xff", 5, 0, "limit");
	expect_error("\x11\x00\x00\x04\x00", 5, 1024, "limit");
	/* The bound covers the whole frame, not each argument. */
	char big[1 + 4 + 495 + 4 + 497];
	memset(big, 'a', sizeof(big));
	memcpy(big, "\x12\x00\x00\x01\xef", 5);
	memcpy(big + 5 + 495, "\x00\x00\x01\xf1", 4);
	expect_error(big, sizeof(big), 1000, "limit");

	/* Exactly max_frame bytes passes. */
	char exact[1 + 4 + 995];
	memset(exact, 'b', sizeof(exact));
	memcpy(exact, "\x11\x00\x00\x03\xe3", 5);
	struct amp_decoder d;
	amp_decoder_init(&d, 1000);
	assert_int_equal(amp_decoder_feed(&d, exact, sizeof(exact)), 0);
	struct amp_frame f;
	assert_int_equal(amp_decoder_next(&d, &f), AMP_FRAME);
	assert_int_equal(f.argc, 1);
	assert_int_equal(f.args[0].len, 995);
	amp_decoder_free(&d);
}

static void test_decode_empty_args(void **state)
{
	(void)state;
	/* Zero-length arguments end the frame at once (axon waits for one more
	 * byte here; we do not). */
	struct amp_decoder d;
	amp_decoder_init(&d, 0);
	assert_int_equal(amp_decoder_feed(&d, "\x13\0\0\0\0\0\0\0\0\0\0\0\0", 13), 0);
	struct amp_frame f;
	assert_int_equal(amp_decoder_next(&d, &f), AMP_FRAME);
	assert_int_equal(f.argc, 3);
	for (int i = 0; i < 3; i++)
		assert_int_equal(f.args[i].len, 0);
	assert_int_equal(amp_decoder_next(&d, &f), AMP_NEED_MORE);
	amp_decoder_free(&d);
}

static void parse_frame_of(const char *a0, const char *a1, struct amp_frame *f)
{
	f->argc = a1 ? 2 : 1;
	f->args[0] = (struct amp_arg){a0, strlen(a0)};
	if (a1)
		f->args[1] = (struct amp_arg){a1, strlen(a1)};
}

static void test_reply_parse_cases(void **state)
{
	(void)state;
	struct amp_frame f;
	struct pm2_reply r;
	const char *err;

	parse_frame_of("j:{\"error\":\"3 : id unknown\",\"stack\":\"Error: ...\"}", "s:9:1", &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), 0);
	assert_string_equal(r.id, "9:1");
	assert_null(r.result);
	assert_string_equal(r.error, "3 : id unknown");
	pm2_reply_free(&r);

	/* notifyByProcessId answers with no value: a JSON null. */
	parse_frame_of("j:{\"args\":[]}", "s:9:2", &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), 0);
	assert_null(r.error);
	assert_true(cJSON_IsNull(r.result));
	pm2_reply_free(&r);

	parse_frame_of("j:{\"error\":{\"code\":1}}", "s:9:3", &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), 0);
	assert_string_equal(r.error, "{\"code\":1}");
	pm2_reply_free(&r);

	parse_frame_of("j:{\"args\":", "s:9:4", &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), 0);
	assert_non_null(r.error);
	assert_null(r.result);
	pm2_reply_free(&r);

	parse_frame_of("j:[1]", "s:9:5", &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), 0);
	assert_non_null(r.error);
	pm2_reply_free(&r);

	parse_frame_of("s:9:6", NULL, &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), 0);
	assert_string_equal(r.id, "9:6");
	assert_non_null(r.error);
	pm2_reply_free(&r);

	parse_frame_of("j:{\"args\":[1]}", "x:9:7", &f);
	assert_int_equal(pm2_reply_parse(&f, &r, &err), -1);
	assert_non_null(err);
}

static void test_event_parse(void **state)
{
	(void)state;
	struct amp_frame f;
	struct pm2_event ev;
	parse_frame_of("s:process:event",
	               "j:{\"event\":\"online\",\"manually\":false,\"process\":{\"name\":\"sl\","
	               "\"namespace\":\"default\",\"pm_id\":2,\"status\":\"online\"},\"at\":"
	               "1795742828471}",
	               &f);
	assert_int_equal(pm2_event_parse(&f, &ev), 0);
	assert_int_equal(ev.kind, PM2_EV_PROCESS);
	assert_string_equal(ev.name, "process:event");
	assert_string_equal(ev.event, "online");
	assert_int_equal(ev.pm_id, 2);
	assert_string_equal(ev.process_name, "sl");
	assert_string_equal(ev.status, "online");
	assert_false(ev.manually);
	assert_true(ev.at == 1795742828471LL);
	pm2_event_clear(&ev);

	parse_frame_of("s:log:out",
	               "j:{\"process\":{\"pm_id\":4,\"name\":\"x\",\"namespace\":\"n\"},\"at\":5,"
	               "\"data\":\"hello\\n\"}",
	               &f);
	assert_int_equal(pm2_event_parse(&f, &ev), 0);
	assert_int_equal(ev.kind, PM2_EV_LOG_OUT);
	assert_int_equal(ev.pm_id, 4);
	assert_string_equal(ev.data, "hello\n");
	assert_int_equal(ev.data_len, 6);
	assert_string_equal(ev.event, "");
	pm2_event_clear(&ev);

	/* The daemon's own log lines carry pm_id "PM2". */
	parse_frame_of("s:log:PM2",
	               "j:{\"process\":{\"pm_id\":\"PM2\",\"name\":\"PM2\"},\"data\":1}", &f);
	assert_int_equal(pm2_event_parse(&f, &ev), 0);
	assert_int_equal(ev.kind, PM2_EV_OTHER);
	assert_int_equal(ev.pm_id, -1);
	assert_string_equal(ev.data, "");
	pm2_event_clear(&ev);

	/* Untrusted: garbage payloads and odd numbers give defaults. */
	parse_frame_of("s:process:event", "j:{\"process\":[],\"event\":7,\"at\":1e300}", &f);
	assert_int_equal(pm2_event_parse(&f, &ev), 0);
	assert_int_equal(ev.pm_id, -1);
	assert_string_equal(ev.event, "");
	assert_true(ev.at == 0);
	pm2_event_clear(&ev);

	parse_frame_of("s:x", "j:not json", &f);
	assert_int_equal(pm2_event_parse(&f, &ev), 0);
	assert_null(ev.payload);
	pm2_event_clear(&ev);

	parse_frame_of("j:{}", "s:x", &f);
	assert_int_equal(pm2_event_parse(&f, &ev), -1);
}

static void test_procs_parse_sample(void **state)
{
	(void)state;
	cJSON *list = cJSON_Parse(
	    "[{\"pid\":4242,\"name\":\"api\",\"pm_id\":0,\"monit\":{\"memory\":48218112,"
	    "\"cpu\":0.4},\"pm2_env\":{\"status\":\"online\",\"pm_uptime\":1764230400000,"
	    "\"created_at\":1764230300000,\"restart_time\":2,\"unstable_restarts\":0,"
	    "\"exec_mode\":\"fork_mode\",\"instances\":1,\"pm_cwd\":\"/srv/api\","
	    "\"pm_exec_path\":\"/usr/bin/node\",\"exec_interpreter\":\"none\","
	    "\"args\":[\"server.js\",\"a b\"],\"namespace\":\"default\",\"version\":\"N/A\","
	    "\"max_memory_restart\":52428800,"
	    "\"pm_out_log_path\":\"/home/ops/.pm2/logs/api-out.log\","
	    "\"pm_err_log_path\":\"/home/ops/.pm2/logs/api-error.log\","
	    "\"env\":{\"PORT\":\"8080\",\"SECRET\":\"hunter2\"}}},"
	    "{\"name\":\"no id\"},"
	    "{\"pid\":0,\"name\":\"w\",\"pm_id\":3,\"pm2_env\":{\"status\":\"waiting restart\","
	    "\"exec_mode\":\"cluster_mode\",\"max_memory_restart\":\"1024\"}}]");
	assert_non_null(list);
	struct pm2_proc *p;
	size_t n;
	const char *err = NULL;
	assert_int_equal(pm2_procs_parse(list, &p, &n, &err), 0);
	assert_int_equal(n, 2);
	assert_int_equal(p[0].pm_id, 0);
	assert_string_equal(p[0].name, "api");
	assert_int_equal(p[0].pid, 4242);
	assert_int_equal(p[0].state, PM2_ST_ONLINE);
	assert_true(p[0].cpu > 0.39 && p[0].cpu < 0.41);
	assert_true(p[0].memory == 48218112);
	assert_true(p[0].pm_uptime == 1764230400000LL);
	assert_true(p[0].created_at == 1764230300000LL);
	assert_int_equal(p[0].restart_time, 2);
	assert_false(p[0].cluster);
	assert_string_equal(p[0].namespace, "default");
	assert_string_equal(p[0].pm_cwd, "/srv/api");
	assert_int_equal(p[0].nargs, 2);
	assert_string_equal(p[0].args[1], "a b");
	assert_int_equal(p[0].nenv, 2);
	assert_string_equal(p[0].env_names[0], "PORT");
	assert_string_equal(p[0].env_names[1], "SECRET");
	assert_string_equal(p[0].out_log_path, "/home/ops/.pm2/logs/api-out.log");
	assert_true(p[0].max_memory_restart == 52428800);
	assert_int_equal(p[1].pm_id, 3);
	assert_int_equal(p[1].state, PM2_ST_WAITING_RESTART);
	assert_true(p[1].cluster);
	assert_int_equal(p[1].nargs, 0);
	assert_string_equal(p[1].pm_cwd, "");
	assert_true(p[1].max_memory_restart == 1024);
	pm2_procs_free(p, n);
	cJSON_Delete(list);

	cJSON *obj = cJSON_Parse("{}");
	assert_int_equal(pm2_procs_parse(obj, &p, &n, &err), -1);
	cJSON_Delete(obj);
	assert_string_equal(pm2_status_name(pm2_status_parse("stopped")), "stopped");
	assert_int_equal(pm2_status_parse("nope"), PM2_ST_UNKNOWN);
}

static void test_started_ids(void **state)
{
	(void)state;
	cJSON *res = cJSON_Parse("[{\"process\":{\"pid\":11},\"pm2_env\":{\"pm_id\":3}},"
	                         "{\"pid\":12,\"pm2_env\":{\"pm_id\":4}},{\"pm2_env\":{}}]");
	int ids[4], pids[4];
	assert_int_equal(pm2_started(res, ids, pids, 4), 2);
	assert_int_equal(ids[0], 3);
	assert_int_equal(pids[0], 11);
	assert_int_equal(ids[1], 4);
	assert_int_equal(pids[1], 12);
	assert_int_equal(pm2_started(res, ids, NULL, 1), 1);
	cJSON_Delete(res);
}

/* ---- Streaming ------------------------------------------------------------ */

/* A two-argument frame j:<n bytes> s:<id> in a new buffer of *len bytes. */
static char *big_frame(size_t n, const char *id, size_t *len)
{
	char *body = malloc(n);
	body[0] = 'j';
	body[1] = ':';
	for (size_t i = 2; i < n; i++)
		body[i] = (char)('a' + i % 26);
	struct amp_arg a[2] = {{body, n}, {id, strlen(id)}};
	char *f = amp_encode(a, 2, len);
	free(body);
	return f;
}

/* A first argument over the threshold comes out in pieces, whatever the
 * feeds, never counted against the frame bound; the frame after it is
 * whole again. */
static void test_decode_streamed_first_arg(void **state)
{
	(void)state;
	size_t l1, l2;
	char *f1 = big_frame(5000, "s:1:1", &l1);
	char *f2 = big_frame(40, "s:1:2", &l2);
	char *stream = malloc(l1 + l2);
	memcpy(stream, f1, l1);
	memcpy(stream + l1, f2, l2);
	static const size_t steps[] = {1, 7, 4096, 100000};
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct amp_decoder d;
		amp_decoder_init(&d, 200);
		amp_decoder_stream(&d, 100);
		char *got = calloc(1, 5000);
		size_t seen = 0, frames = 0;
		for (size_t off = 0; off < l1 + l2; off += steps[k]) {
			size_t n = l1 + l2 - off < steps[k] ? l1 + l2 - off : steps[k];
			assert_int_equal(amp_decoder_feed(&d, stream + off, n), 0);
			struct amp_frame f;
			enum amp_status st;
			while ((st = amp_decoder_next(&d, &f)) != AMP_NEED_MORE) {
				assert_int_not_equal(st, AMP_ERROR);
				if (st == AMP_PART) {
					assert_int_equal(frames, 0);
					assert_int_equal(f.part_off, seen);
					assert_true(f.part.len > 0);
					assert_int_equal(f.args[0].len, 5000);
					memcpy(got + seen, f.part.ptr, f.part.len);
					seen += f.part.len;
					continue;
				}
				frames++;
				assert_int_equal(f.argc, 2);
				if (frames == 1) {
					assert_true(f.streamed);
					assert_int_equal(seen, 5000);
					assert_int_equal(f.args[0].len, 5000);
					assert_memory_equal(f.args[1].ptr, "s:1:1", 5);
				} else {
					assert_false(f.streamed);
					assert_int_equal(f.args[0].len, 40);
					assert_memory_equal(f.args[1].ptr, "s:1:2", 5);
				}
			}
		}
		assert_int_equal(frames, 2);
		assert_memory_equal(got, f1 + 5, 5000);
		free(got);
		amp_decoder_free(&d);
	}
	free(stream);
	free(f2);

	/* The rest of a streamed frame is still bounded. */
	struct amp_decoder d;
	amp_decoder_init(&d, 20);
	amp_decoder_stream(&d, 0);
	char *big_id = malloc(64);
	memset(big_id, 'x', 63);
	big_id[0] = 's';
	big_id[1] = ':';
	big_id[63] = '\0';
	size_t l3;
	char *f3 = big_frame(10, big_id, &l3);
	assert_int_equal(amp_decoder_feed(&d, f3, l3), 0);
	struct amp_frame f;
	assert_int_equal(amp_decoder_next(&d, &f), AMP_PART);
	assert_int_equal(amp_decoder_next(&d, &f), AMP_ERROR);
	assert_non_null(d.error);
	amp_decoder_free(&d);
	free(f3);
	free(big_id);
	free(f1);
}

static const char listing[] =
    "{\"args\":[[{\"pid\":4242,\"name\":\"api\",\"pm_id\":0,\"monit\":{\"memory\":48218112,"
    "\"cpu\":0.4},\"pm2_env\":{\"status\":\"online\",\"pm_uptime\":1764230400000,"
    "\"PORT\":\"8080\",\"SECRET\":\"hunter2\",\"unique_id\":\"u\",\"axm_monitor\":{\"x\":"
    "{\"value\":123456789012345678901234567890}},\"exec_mode\":\"fork_mode\",\"instances\":1,"
    "\"args\":[\"server.js\",\"a \\\"b\\\"\\u00e9\",7,true,null,{\"k\":[1,\"v\"]}],"
    "\"env\":{\"PORT\":\"8080\",\"SECRET\":\"hunter2\",\"NESTED\":{\"deep\":[1,2]}},"
    "\"name\":\"envname\",\"pm_id\":9}},"
    "{\"name\":\"no id\",\"pm2_env\":{\"env\":{\"A\":\"1\"}}},"
    "7,"
    "{\"pid\":0,\"pm2_env\":{\"name\":\"w\",\"pm_id\":3,\"status\":\"stopped\"}}],\"extra\"],"
    "\"ignored\":{\"args\":[[{\"pm_id\":99}]]}}";

static int parse_text(const char *text, size_t len, size_t step, struct pm2_proc **p, size_t *n,
                      char **err)
{
	struct pm2_list_parser *lp = pm2_list_parser_new();
	for (size_t off = 0; off < len; off += step)
		pm2_list_parser_feed(lp, text + off, len - off < step ? len - off : step);
	int rc = pm2_list_parser_finish(lp, p, n, err);
	pm2_list_parser_free(lp);
	return rc;
}

/* The streaming parser reads the same records whatever the pieces, keeps
 * env names and never a value, and skips what it does not read. */
static void test_list_parser_streams(void **state)
{
	(void)state;
	static const size_t steps[] = {1, 2, 3, 17, sizeof(listing)};
	for (size_t k = 0; k < sizeof(steps) / sizeof(steps[0]); k++) {
		struct pm2_proc *p;
		size_t n;
		char *err = NULL;
		assert_int_equal(parse_text(listing, strlen(listing), steps[k], &p, &n, &err), 0);
		assert_null(err);
		assert_int_equal(n, 2);
		assert_int_equal(p[0].pm_id, 0);
		assert_string_equal(p[0].name, "api");
		assert_int_equal(p[0].pid, 4242);
		assert_true(p[0].memory == 48218112);
		assert_true(p[0].cpu > 0.39 && p[0].cpu < 0.41);
		assert_int_equal(p[0].state, PM2_ST_ONLINE);
		assert_int_equal(p[0].nargs, 6);
		assert_string_equal(p[0].args[0], "server.js");
		assert_string_equal(p[0].args[1], "a \"b\"\xc3\xa9");
		assert_string_equal(p[0].args[2], "7");
		assert_string_equal(p[0].args[3], "true");
		assert_string_equal(p[0].args[4], "null");
		assert_string_equal(p[0].args[5], "{\"k\":[1,\"v\"]}");
		assert_int_equal(p[0].nenv, 3);
		assert_string_equal(p[0].env_names[0], "PORT");
		assert_string_equal(p[0].env_names[1], "SECRET");
		assert_string_equal(p[0].env_names[2], "NESTED");
		assert_string_equal(p[0].namespace, "");
		/* The record's pm_id and name win over pm2_env's. */
		assert_int_equal(p[1].pm_id, 3);
		assert_string_equal(p[1].name, "w");
		assert_int_equal(p[1].state, PM2_ST_STOPPED);
		assert_null(p[1].env_names);
		pm2_procs_free(p, n);
	}
}

static void expect_list_error(const char *text, const char *want)
{
	struct pm2_proc *p = NULL;
	size_t n = 0;
	char *err = NULL;
	assert_int_equal(parse_text(text, strlen(text), 5, &p, &n, &err), -1);
	assert_null(p);
	assert_non_null(err);
	if (strstr(err, want) == NULL)
		fail_msg("\"%s\" does not say \"%s\"", err, want);
	free(err);
}

static void test_list_parser_errors(void **state)
{
	(void)state;
	expect_list_error("{\"error\":\"process name not found\",\"stack\":\"x\"}",
	                  "process name not found");
	expect_list_error("{\"error\":{\"msg\":\"m\"}}", "{\"msg\":\"m\"}");
	expect_list_error("{\"error\":\"\"}", "error");
	expect_list_error("{\"args\":[{}]}", "not an array");
	expect_list_error("{\"args\":[]}", "not an array");
	expect_list_error("{}", "without args");
	expect_list_error("[1]", "without args");
	expect_list_error("\"x\"", "unparseable");
	expect_list_error("{\"args\":[[{\"pm_id\":1}]", "unparseable");
	expect_list_error("{\"args\":[[{\"pm_id\":1},]]}", "unparseable");
	/* Too deep is refused before the stack grows. */
	size_t depth = PM2_LIST_MAX_DEPTH + 10;
	char *deep = malloc(depth * 2 + 1);
	memset(deep, '[', depth);
	memset(deep + depth, ']', depth);
	deep[depth * 2] = '\0';
	expect_list_error(deep, "deep");
	free(deep);
	/* A null error is no error. */
	struct pm2_proc *p;
	size_t n;
	char *err = NULL;
	const char *ok = "{\"error\":null,\"args\":[[]]}";
	assert_int_equal(parse_text(ok, strlen(ok), 1, &p, &n, &err), 0);
	assert_int_equal(n, 0);
	pm2_procs_free(p, n);
}

/* A huge env value streams through without being kept; a record with
 * more env names than the cap keeps the first ones. */
static void test_list_parser_bounds(void **state)
{
	(void)state;
	struct pm2_list_parser *lp = pm2_list_parser_new();
	const char *head = "{\"args\":[[{\"pm_id\":5,\"pm2_env\":{\"env\":{\"BIG\":\"";
	assert_int_equal(pm2_list_parser_feed(lp, head, strlen(head)), 0);
	char chunk[4096];
	memset(chunk, 'v', sizeof(chunk));
	for (int i = 0; i < 1024; i++) /* 4 MiB of value */
		assert_int_equal(pm2_list_parser_feed(lp, chunk, sizeof(chunk)), 0);
	const char *mid = "\"";
	pm2_list_parser_feed(lp, mid, 1);
	for (int i = 0; i < PM2_LIST_MAX_ENV_NAMES + 5; i++) {
		char kv[40];
		int m = snprintf(kv, sizeof(kv), ",\"K%d\":\"v\"", i);
		assert_int_equal(pm2_list_parser_feed(lp, kv, (size_t)m), 0);
	}
	const char *tail = "}}}]]}";
	assert_int_equal(pm2_list_parser_feed(lp, tail, strlen(tail)), 0);
	struct pm2_proc *p;
	size_t n;
	char *err = NULL;
	assert_int_equal(pm2_list_parser_finish(lp, &p, &n, &err), 0);
	pm2_list_parser_free(lp);
	assert_int_equal(n, 1);
	assert_int_equal(p[0].pm_id, 5);
	assert_int_equal(p[0].nenv, PM2_LIST_MAX_ENV_NAMES);
	assert_string_equal(p[0].env_names[0], "BIG");
	assert_string_equal(p[0].env_names[1], "K0");
	pm2_procs_free(p, n);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_encode_ping_bytes),
	    cmocka_unit_test(test_encode_refuses_bad_argc),
	    cmocka_unit_test(test_rpc_encode_ping_exact),
	    cmocka_unit_test(test_rpc_encode_refusals),
	    cmocka_unit_test(test_rpc_encode_accepts),
	    cmocka_unit_test(test_decode_ping_reply),
	    cmocka_unit_test(test_decode_split_feeds),
	    cmocka_unit_test(test_decode_many_in_one_chunk),
	    cmocka_unit_test(test_decode_bad_version),
	    cmocka_unit_test(test_decode_argc_zero),
	    cmocka_unit_test(test_decode_oversize),
	    cmocka_unit_test(test_decode_empty_args),
	    cmocka_unit_test(test_reply_parse_cases),
	    cmocka_unit_test(test_event_parse),
	    cmocka_unit_test(test_procs_parse_sample),
	    cmocka_unit_test(test_started_ids),
	    cmocka_unit_test(test_decode_streamed_first_arg),
	    cmocka_unit_test(test_list_parser_streams),
	    cmocka_unit_test(test_list_parser_errors),
	    cmocka_unit_test(test_list_parser_bounds),
	};
	UNIT_RUN("test_amp", tests);
}
