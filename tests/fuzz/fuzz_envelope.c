/*
 * libFuzzer target for core/codec.c: arbitrary bytes from the bus through
 * codec_decode_command and codec_decode_status. Whatever a publisher sends,
 * nothing may crash, leak or read out of bounds, and the results must keep
 * the promises the executor relies on: a decoded command has a lowercase
 * word for a verb and complete, flat params; a refusal always says why.
 * A decoded command is also encoded again and must decode to itself, and a
 * decoded status message likewise.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "codec.h"
#include "slash.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_envelope: invariant failed: %s (line %d)\n", #cond,  \
			        __LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

/* A fixed wall clock for the re-encoded messages: 2026-11-27T10:00:00.000Z. */
#define WALL_MS INT64_C(1795773600000)
/* Above this many params, the pairwise checks would make the fuzzer slow. */
#define MAX_PAIRWISE 256

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* The verb the executor dispatches on: [a-z][a-z0-9_-]*, at most 128. */
static bool is_lower_word(const char *s)
{
	size_t n = strlen(s);
	if (n == 0 || n > 128 || !(s[0] >= 'a' && s[0] <= 'z'))
		return false;
	for (size_t i = 1; i < n; i++) {
		char c = s[i];
		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_' || c == '-'))
			return false;
	}
	return true;
}

static bool same_or_both_null(const char *a, const char *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	return strcmp(a, b) == 0;
}

static void check_envelope(const struct envelope *env)
{
	CHECK(env->verb != NULL);
	CHECK(is_lower_word(env->verb));
	CHECK(env->nparams == 0 || env->params != NULL);
	for (size_t i = 0; i < env->nparams; i++) {
		const struct slash_param *p = &env->params[i];
		CHECK(p->key != NULL);
		CHECK(p->value != NULL);
		CHECK(p->key[0] != '\0');
		CHECK(strlen(p->key) <= 128);
		CHECK(!has_control(p->key));
		if (env->nparams <= MAX_PAIRWISE) {
			/* Keys are unique, so lookup finds this very entry. */
			CHECK(codec_param(env, p->key) == p->value);
		}
	}
	CHECK(env->nargs_array == 0 || env->args_array != NULL);
	for (size_t i = 0; i < env->nargs_array; i++)
		CHECK(env->args_array[i] != NULL);
	if (env->args_array != NULL)
		CHECK(env->args_array[env->nargs_array] == NULL);
	if (env->request_id != NULL)
		CHECK(strlen(env->request_id) <= 256 && !has_control(env->request_id));
	if (env->agent_id != NULL)
		CHECK(strlen(env->agent_id) <= 256 && !has_control(env->agent_id));
}

/* Encodes the decoded command again and checks it decodes to the same. */
static void check_command_round_trip(const struct envelope *env)
{
	struct slash_line line = {
	    .verb = env->verb,
	    .has_params = true,
	    .params = env->params,
	    .nparams = env->nparams,
	    .content = env->content,
	};
	char *json = codec_encode_command(&line, env->agent_id, env->request_id, WALL_MS);
	CHECK(json != NULL);
	size_t len = strlen(json);
	if (len > CODEC_MAX_MESSAGE) {
		/* Escaping can grow a message past the limit; that is fine. */
		free(json);
		return;
	}
	struct envelope back;
	char err[256] = "";
	int rc = codec_decode_command(json, len, &back, err, sizeof(err));
	if (rc != 0)
		fprintf(stderr, "fuzz_envelope: re-encoded %s refused: %s\n", json, err);
	CHECK(rc == 0);
	CHECK(strcmp(back.verb, env->verb) == 0);
	CHECK(back.nparams == env->nparams);
	for (size_t i = 0; i < env->nparams; i++) {
		CHECK(strcmp(back.params[i].key, env->params[i].key) == 0);
		CHECK(strcmp(back.params[i].value, env->params[i].value) == 0);
	}
	if (env->content == NULL || env->content[0] == '\0')
		CHECK(back.content == NULL);
	else
		CHECK(back.content != NULL && strcmp(back.content, env->content) == 0);
	CHECK(back.has_timestamp && back.timestamp_ms == WALL_MS);
	CHECK(same_or_both_null(back.agent_id, env->agent_id));
	CHECK(same_or_both_null(back.request_id, env->request_id));
	codec_envelope_free(&back);
	free(json);
}

static void check_command(const char *buf, size_t size)
{
	struct envelope env;
	char err[256];
	memset(err, 0, sizeof(err));
	int rc = codec_decode_command(buf, size, &env, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		check_envelope(&env);
		check_command_round_trip(&env);
	} else {
		CHECK(err[0] != '\0');
		CHECK(memchr(err, '\0', sizeof(err)) != NULL);
		/* What was kept for the error reply is still well formed. */
		if (env.verb != NULL)
			CHECK(is_lower_word(env.verb));
		if (env.request_id != NULL)
			CHECK(!has_control(env.request_id));
	}
	codec_envelope_free(&env);
	CHECK(env.verb == NULL && env.params == NULL && env.nparams == 0);
	CHECK(env.content == NULL && env.request_id == NULL && env.agent_id == NULL);
}

/* Encodes the decoded status again and checks it decodes to the same. */
static void check_status_round_trip(const struct status_view *v)
{
	struct status_msg st = {
	    .type = v->type,
	    .task_name = v->task_name,
	    .status = v->status,
	    .pm_id = v->pm_id,
	    .request_id = v->request_id,
	    .verb = v->verb,
	    .node = v->node,
	    .agent_id = v->agent_id,
	    .error = v->error,
	};
	char *json = codec_encode_status(&st, WALL_MS);
	CHECK(json != NULL);
	size_t len = strlen(json);
	if (len > CODEC_MAX_MESSAGE) {
		free(json);
		return;
	}
	struct status_view back;
	char err[256] = "";
	CHECK(codec_decode_status(json, len, &back, err, sizeof(err)) == 0);
	CHECK(same_or_both_null(back.type, v->type ? v->type : "task_status"));
	CHECK(same_or_both_null(back.task_name, v->task_name));
	CHECK(same_or_both_null(back.status, v->status));
	CHECK(same_or_both_null(back.error, v->error));
	CHECK(same_or_both_null(back.request_id, v->request_id));
	CHECK(same_or_both_null(back.verb, v->verb));
	CHECK(same_or_both_null(back.node, v->node));
	CHECK(same_or_both_null(back.agent_id, v->agent_id));
	CHECK(same_or_both_null(back.timestamp, "2026-11-27T10:00:00.000Z"));
	CHECK(back.pm_id == v->pm_id);
	codec_status_view_free(&back);
	free(json);
}

static void check_status(const char *buf, size_t size)
{
	struct status_view v;
	char err[256];
	memset(err, 0, sizeof(err));
	int rc = codec_decode_status(buf, size, &v, err, sizeof(err));
	CHECK(rc == 0 || rc == -1);
	if (rc == 0) {
		CHECK(v.root != NULL && cJSON_IsObject(v.root));
		CHECK(v.pm_id >= -1);
		int outcome = codec_status_outcome(v.status);
		CHECK(outcome >= -1 && outcome <= 1);
		if (v.status == NULL)
			CHECK(outcome == -1);
		if (v.timestamp != NULL) {
			int64_t ms;
			(void)codec_parse_iso_time(v.timestamp, &ms);
		}
		check_status_round_trip(&v);
	} else {
		CHECK(err[0] != '\0');
		CHECK(v.root == NULL);
	}
	codec_status_view_free(&v);
	CHECK(v.root == NULL && v.status == NULL && v.pm_id == -1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* libFuzzer's buffer is exactly size bytes, so any read past the end
	 * is caught by ASan. */
	const char *buf = (const char *)data;
	check_command(buf, size);
	check_status(buf, size);

	/* The ISO parser reads a NUL-terminated string: give it one. */
	if (size <= 64) {
		char s[65];
		memcpy(s, data, size);
		s[size] = '\0';
		int64_t ms;
		int rc = codec_parse_iso_time(s, &ms);
		CHECK(rc == 0 || rc == -1);
	}
	return 0;
}
