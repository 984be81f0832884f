/*
 * libFuzzer target for core/slash.c: feeds arbitrary bytes to slash_parse,
 * slash_line_to_json and slash_split_argv and checks the invariants the
 * rest of tasker relies on. Any broken invariant aborts, so the fuzzer
 * reports it with the input that caused it.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "slash.h"
#include "util.h"

#define CHECK(cond)                                                                                \
	do {                                                                                       \
		if (!(cond)) {                                                                     \
			fprintf(stderr, "fuzz_slash: invariant failed: %s (line %d)\n", #cond,     \
			        __LINE__);                                                         \
			abort();                                                                   \
		}                                                                                  \
	} while (0)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int is_blank(unsigned char c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static int is_alpha(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static size_t code_points(const uint8_t *s, size_t n)
{
	size_t count = 0;
	for (size_t i = 0; i < n; i++)
		count += (s[i] & 0xc0) != 0x80;
	return count;
}

static void check_error(const struct slash_error *err, const uint8_t *data, size_t size)
{
	CHECK(err->column >= 1);
	CHECK(err->column <= code_points(data, size) + 1);
	size_t mlen = strnlen(err->message, sizeof(err->message));
	CHECK(mlen > 0 && mlen < sizeof(err->message));
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A parse the grammar allows: verb and keys well formed, keys unique,
 * strings valid UTF-8, null versus empty consistent, content trimmed. */
static void check_line(const struct slash_line *line)
{
	if (line->verb == NULL) {
		CHECK(!line->has_params);
		CHECK(line->content != NULL);
	} else {
		CHECK(is_alpha((unsigned char)line->verb[0]));
		for (const char *p = line->verb + 1; *p; p++)
			CHECK(is_alpha((unsigned char)*p) || is_digit((unsigned char)*p));
		/* A verb alone has neither params nor content; otherwise both. */
		CHECK(line->has_params == (line->content != NULL));
	}
	if (!line->has_params)
		CHECK(line->nparams == 0);
	if (line->content != NULL) {
		size_t n = strlen(line->content);
		CHECK(util_utf8_valid(line->content, n));
		if (n > 0) {
			CHECK(!is_blank((unsigned char)line->content[0]));
			CHECK(!is_blank((unsigned char)line->content[n - 1]));
		}
	}
	const char **keys = malloc((line->nparams + 1) * sizeof(*keys));
	CHECK(keys != NULL);
	for (size_t i = 0; i < line->nparams; i++) {
		const char *k = line->params[i].key, *v = line->params[i].value;
		CHECK(k != NULL && v != NULL);
		CHECK(is_alpha((unsigned char)k[0]));
		for (const char *p = k + 1; *p; p++)
			CHECK(is_alpha((unsigned char)*p) || is_digit((unsigned char)*p) ||
			      *p == '_' || *p == '-');
		CHECK(util_utf8_valid(v, strlen(v)));
		CHECK(slash_param_get(line, k) == v);
		keys[i] = k;
	}
	qsort(keys, line->nparams, sizeof(*keys), cmp_str);
	for (size_t i = 1; i < line->nparams; i++)
		CHECK(strcmp(keys[i - 1], keys[i]) != 0);
	free(keys);
}

static void check_field(const cJSON *root, const char *name, const char *want)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(root, name);
	CHECK(item != NULL);
	if (want == NULL) {
		CHECK(cJSON_IsNull(item));
	} else {
		CHECK(cJSON_IsString(item));
		CHECK(strcmp(item->valuestring, want) == 0);
	}
}

/* The JSON is valid and says exactly what the struct says. */
static void check_json(const struct slash_line *line, const char *json)
{
	CHECK(json != NULL);
	cJSON *root = cJSON_Parse(json);
	CHECK(root != NULL && cJSON_IsObject(root));
	CHECK(cJSON_GetArraySize(root) == 3);
	check_field(root, "verb", line->verb);
	check_field(root, "content", line->content);
	const cJSON *params = cJSON_GetObjectItemCaseSensitive(root, "params");
	CHECK(params != NULL);
	if (!line->has_params) {
		CHECK(cJSON_IsNull(params));
	} else {
		CHECK(cJSON_IsObject(params));
		CHECK((size_t)cJSON_GetArraySize(params) == line->nparams);
		size_t i = 0;
		for (const cJSON *p = params->child; p != NULL; p = p->next, i++) {
			CHECK(strcmp(p->string, line->params[i].key) == 0);
			CHECK(cJSON_IsString(p));
			CHECK(strcmp(p->valuestring, line->params[i].value) == 0);
		}
	}
	cJSON_Delete(root);
}

static void fuzz_parse(const uint8_t *data, size_t size)
{
	const char *line = (const char *)data;
	struct slash_line out;
	struct slash_error err;
	int rc = slash_parse(line, size, &out, &err);
	CHECK(rc == 0 || rc == -1);
	if (rc == -1) {
		check_error(&err, data, size);
		CHECK(out.verb == NULL && out.content == NULL && out.params == NULL);
		CHECK(!out.has_params && out.nparams == 0);
		slash_line_free(&out);
		return;
	}
	CHECK(memchr(data, '\0', size) == NULL);
	CHECK(util_utf8_valid(line, size));
	check_line(&out);
	char *json = slash_line_to_json(&out);
	check_json(&out, json);

	/* The parse is a function of the bytes alone. */
	struct slash_line again;
	CHECK(slash_parse(line, size, &again, &err) == 0);
	char *json2 = slash_line_to_json(&again);
	CHECK(strcmp(json, json2) == 0);
	free(json2);
	slash_line_free(&again);
	free(json);
	slash_line_free(&out);
}

static void fuzz_argv(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	char **argv;
	size_t argc;
	struct slash_error err;
	int rc = slash_split_argv(s, size, &argv, &argc, &err);
	if (rc == -1) {
		CHECK(argv == NULL && argc == 0);
		check_error(&err, data, size);
		return;
	}
	CHECK(rc == 0 && argv != NULL && argv[argc] == NULL);
	CHECK(memchr(data, '\0', size) == NULL);
	for (size_t i = 0; i < argc; i++)
		CHECK(argv[i] != NULL);
	/* Without quotes or backslashes, splitting is plain splitting at
	 * blanks: the words are the input's non-blank runs, in order. */
	if (memchr(data, '"', size) == NULL && memchr(data, '\'', size) == NULL &&
	    memchr(data, '\\', size) == NULL) {
		size_t i = 0, w = 0;
		while (i < size) {
			while (i < size && is_blank(data[i]))
				i++;
			if (i == size)
				break;
			size_t start = i;
			while (i < size && !is_blank(data[i]))
				i++;
			CHECK(w < argc);
			CHECK(strlen(argv[w]) == i - start);
			CHECK(memcmp(argv[w], data + start, i - start) == 0);
			w++;
		}
		CHECK(w == argc);
	}
	slash_argv_free(argv);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	fuzz_parse(data, size);
	fuzz_argv(data, size);
	return 0;
}
