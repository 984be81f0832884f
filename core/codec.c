/*
 * codec: see codec.h. Owns the wire format of every message tasker reads or
 * writes on Redis. It must not do IO or read the clock, so that unit tests
 * and the fuzzer can feed it anything.
 */
#include "codec.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cron_next.h"
#include "pm2.h"
#include "util.h"

#define MAX_NAME 128  /* verb and param keys */
#define MAX_ID 256    /* agent_id and request_id */
#define MAX_PARAMS 256 /* keeps duplicate-key checks cheap on hostile input */

static bool has_control(const char *s)
{
	for (const unsigned char *p = (const unsigned char *)s; *p; p++)
		if (*p < 0x20 || *p == 0x7f)
			return true;
	return false;
}

/* A printable, bounded copy of a name for an error message. */
static void quote_name(const char *s, char *buf, size_t size)
{
	size_t o = 0;
	for (const unsigned char *p = (const unsigned char *)s; *p && o + 5 < size; p++) {
		if (*p < 0x20 || *p == 0x7f)
			o += (size_t)snprintf(buf + o, size - o, "\\x%02x", *p);
		else
			buf[o++] = (char)*p;
	}
	buf[o < size ? o : size - 1] = '\0';
}

/* Numbers become the text a person would write: 4, not 4.000000, and 0.1,
 * not 0.10000000000000001 (the shortest of %.15g..%.17g that reads back). */
static char *number_text(double v)
{
	if (isfinite(v) && v == floor(v) && fabs(v) < 9007199254740992.0)
		return xasprintf("%lld", (long long)v);
	for (int prec = 15; prec < 17; prec++) {
		char *s = xasprintf("%.*g", prec, v);
		if (strtod(s, NULL) == v)
			return s;
		free(s);
	}
	return xasprintf("%.17g", v);
}

/*
 * cJSON decodes the escape \u0000 into a real NUL, which would silently cut
 * a C string short ("stop\u0000all" read as "stop"). Such messages are
 * refused before parsing, as a raw NUL byte is.
 */
static bool has_escaped_nul(const char *buf, size_t len)
{
	bool in_string = false;
	for (size_t i = 0; i < len; i++) {
		if (!in_string) {
			if (buf[i] == '"')
				in_string = true;
			continue;
		}
		if (buf[i] == '"') {
			in_string = false;
		} else if (buf[i] == '\\' && i + 1 < len) {
			if (buf[i + 1] == 'u' && i + 5 < len && memcmp(buf + i + 2, "0000", 4) == 0)
				return true;
			i++; /* the escaped character */
		}
	}
	return false;
}

/* A scalar JSON value as a string param, or NULL for objects and arrays. */
static char *scalar_text(const cJSON *v)
{
	if (cJSON_IsString(v))
		return xstrdup(v->valuestring);
	if (cJSON_IsNumber(v))
		return number_text(v->valuedouble);
	if (cJSON_IsBool(v))
		return xstrdup(cJSON_IsTrue(v) ? "true" : "false");
	return NULL;
}

static const char *json_type_name(const cJSON *v)
{
	if (cJSON_IsObject(v))
		return "an object";
	if (cJSON_IsArray(v))
		return "an array";
	if (cJSON_IsNull(v))
		return "null";
	if (cJSON_IsNumber(v))
		return "a number";
	if (cJSON_IsBool(v))
		return "a boolean";
	return "a string";
}

static int read_id(const cJSON *root, const char *key, char **out, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	char *s = scalar_text(v);
	if (s == NULL) {
		snprintf(err, errlen, "%s must be a string, not %s", key, json_type_name(v));
		return -1;
	}
	if (strlen(s) > MAX_ID || has_control(s)) {
		snprintf(err, errlen, "%s must be at most %d printable characters", key, MAX_ID);
		free(s);
		return -1;
	}
	*out = s;
	return 0;
}

static void add_param(struct envelope *env, const char *key, char *value, enum codec_kind kind)
{
	for (size_t i = 0; i < env->nparams; i++) {
		if (strcmp(env->params[i].key, key) == 0) {
			free(env->params[i].value);
			env->params[i].value = value;
			env->kinds[i] = kind;
			return;
		}
	}
	env->params = xrealloc(env->params, (env->nparams + 1) * sizeof(*env->params));
	env->kinds = xrealloc(env->kinds, (env->nparams + 1) * sizeof(*env->kinds));
	env->params[env->nparams].key = xstrdup(key);
	env->params[env->nparams].value = value;
	env->kinds[env->nparams] = kind;
	env->nparams++;
}

static int read_args_array(struct envelope *env, const cJSON *arr, char *err, size_t errlen)
{
	size_t n = (size_t)cJSON_GetArraySize(arr);
	char **args = xcalloc(n + 1, sizeof(char *));
	size_t i = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, arr)
	{
		char *s = (cJSON_IsString(item) || cJSON_IsNumber(item)) ? scalar_text(item) : NULL;
		if (s == NULL) {
			snprintf(err, errlen, "params.args[%zu] must be a string, not %s", i,
				 json_type_name(item));
			for (size_t k = 0; k < i; k++)
				free(args[k]);
			free(args);
			return -1;
		}
		args[i++] = s;
	}
	for (size_t k = 0; k < env->nargs_array; k++)
		free(env->args_array[k]);
	free(env->args_array);
	env->args_array = args;
	env->nargs_array = i;
	return 0;
}

static int read_params(struct envelope *env, const cJSON *params, char *err, size_t errlen)
{
	if (params == NULL || cJSON_IsNull(params))
		return 0;
	if (!cJSON_IsObject(params)) {
		snprintf(err, errlen, "params must be a JSON object, not %s", json_type_name(params));
		return -1;
	}
	if (cJSON_GetArraySize(params) > MAX_PARAMS) {
		snprintf(err, errlen, "params has %d keys, over the limit of %d",
			 cJSON_GetArraySize(params), MAX_PARAMS);
		return -1;
	}
	const cJSON *item;
	cJSON_ArrayForEach(item, params)
	{
		const char *key = item->string;
		char shown[64];
		quote_name(key, shown, sizeof(shown));
		if (key[0] == '\0') {
			snprintf(err, errlen, "params has an empty key");
			return -1;
		}
		if (has_control(key)) {
			snprintf(err, errlen, "params key \"%s\" contains a control character", shown);
			return -1;
		}
		if (strlen(key) > MAX_NAME) {
			snprintf(err, errlen, "params key \"%.40s...\" is longer than %d characters", shown,
				 MAX_NAME);
			return -1;
		}
		if (cJSON_IsNull(item))
			continue; /* null means "not given": safe to ignore */
		if (strcmp(key, "args") == 0 && cJSON_IsArray(item)) {
			if (read_args_array(env, item, err, errlen) < 0)
				return -1;
			continue;
		}
		char *value = scalar_text(item);
		if (value == NULL) {
			snprintf(err, errlen,
				 "params.%s must be a string, number or boolean, not %s (params are flat)",
				 shown, json_type_name(item));
			return -1;
		}
		add_param(env, key, value,
			  cJSON_IsNumber(item) ? CODEC_NUMBER
			  : cJSON_IsBool(item) ? CODEC_BOOL
					       : CODEC_STRING);
	}
	return 0;
}

static int read_verb(struct envelope *env, const cJSON *root, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "verb");
	if (v == NULL || cJSON_IsNull(v)) {
		snprintf(err, errlen, "the message has no verb (expected {\"verb\":\"start\",...})");
		return -1;
	}
	if (!cJSON_IsString(v)) {
		snprintf(err, errlen, "verb must be a string, not %s", json_type_name(v));
		return -1;
	}
	const char *s = v->valuestring;
	if (s[0] == '/')
		s++;
	if (has_control(s)) {
		snprintf(err, errlen, "verb contains a control character");
		return -1;
	}
	size_t n = strlen(s);
	if (n == 0) {
		snprintf(err, errlen, "verb is empty");
		return -1;
	}
	char shown[64];
	quote_name(s, shown, sizeof(shown));
	if (n > MAX_NAME) {
		snprintf(err, errlen, "verb \"%.40s...\" is longer than %d characters", shown, MAX_NAME);
		return -1;
	}
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (!(util_ascii_alnum(c) || ((c == '_' || c == '-') && i > 0)) || (i == 0 && !util_ascii_alpha(c))) {
			snprintf(err, errlen, "verb \"%s\" is not a word (a letter, then letters, digits, _ or -)", shown);
			return -1;
		}
	}
	env->verb = xstrdup(s);
	for (char *p = env->verb; *p; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
	return 0;
}

static int read_timestamp(struct envelope *env, const cJSON *root, char *err, size_t errlen)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, "timestamp");
	if (v == NULL || cJSON_IsNull(v))
		return 0;
	if (cJSON_IsNumber(v)) {
		double secs = v->valuedouble;
		if (!isfinite(secs) || secs < 0 || secs > 253402300799.0) {
			snprintf(err, errlen, "timestamp %g is not a time in epoch seconds", secs);
			return -1;
		}
		env->has_timestamp = true;
		env->timestamp_ms = (int64_t)(secs * 1000.0);
		return 0;
	}
	if (cJSON_IsString(v)) {
		if (codec_parse_iso_time(v->valuestring, &env->timestamp_ms) < 0) {
			char shown[48];
			quote_name(v->valuestring, shown, sizeof(shown));
			snprintf(err, errlen,
				 "timestamp \"%s\" is not ISO-8601 (2026-11-27T10:00:00Z) or epoch seconds",
				 shown);
			return -1;
		}
		env->has_timestamp = true;
		return 0;
	}
	snprintf(err, errlen, "timestamp must be an ISO-8601 string or epoch seconds, not %s",
		 json_type_name(v));
	return -1;
}

static int compare_keys(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/*
 * The first key (in sorted order) that appears twice in one object of the
 * tree under v, or NULL; path gets where that object is ("" for the top,
 * "params", "x[2].y"). JSON readers disagree on duplicates (cJSON keeps the
 * first, Python and JavaScript the last), so a message holding one means
 * different things to different readers. Sorting keeps hostile input with
 * thousands of keys cheap.
 */
static const char *duplicate_key(const cJSON *v, char *path, size_t size)
{
	size_t at = strlen(path);
	if (cJSON_IsObject(v)) {
		size_t n = (size_t)cJSON_GetArraySize(v);
		if (n > 1) {
			const char **keys = xcalloc(n, sizeof(*keys));
			size_t k = 0;
			const cJSON *item;
			cJSON_ArrayForEach(item, v)
				keys[k++] = item->string;
			qsort(keys, k, sizeof(*keys), compare_keys);
			for (size_t i = 1; i < k; i++) {
				if (strcmp(keys[i - 1], keys[i]) == 0) {
					const char *dup = keys[i];
					free(keys);
					return dup;
				}
			}
			free(keys);
		}
		const cJSON *item;
		cJSON_ArrayForEach(item, v)
		{
			if (!cJSON_IsObject(item) && !cJSON_IsArray(item))
				continue;
			char shown[48];
			quote_name(item->string, shown, sizeof(shown));
			snprintf(path + at, size - at, "%s%s", at ? "." : "", shown);
			const char *dup = duplicate_key(item, path, size);
			if (dup != NULL)
				return dup;
			path[at] = '\0';
		}
	} else if (cJSON_IsArray(v)) {
		size_t i = 0;
		const cJSON *item;
		cJSON_ArrayForEach(item, v)
		{
			if (cJSON_IsObject(item) || cJSON_IsArray(item)) {
				snprintf(path + at, size - at, "[%zu]", i);
				const char *dup = duplicate_key(item, path, size);
				if (dup != NULL)
					return dup;
				path[at] = '\0';
			}
			i++;
		}
	}
	return NULL;
}

static int count_key(const cJSON *obj, const char *key)
{
	int n = 0;
	const cJSON *item;
	cJSON_ArrayForEach(item, obj)
		n += strcmp(item->string, key) == 0;
	return n;
}

/*
 * A message with a duplicate key is refused. The error reply still names
 * what is certain: request_id, agent_id and verb when each appears once,
 * never a pick between two of them.
 */
static int refuse_duplicate(struct envelope *out, const cJSON *root, const char *dup,
			    const char *path, char *err, size_t errlen)
{
	char ignored[300];
	if (count_key(root, "request_id") == 1)
		read_id(root, "request_id", &out->request_id, ignored, sizeof(ignored));
	if (count_key(root, "agent_id") == 1)
		read_id(root, "agent_id", &out->agent_id, ignored, sizeof(ignored));
	if (count_key(root, "verb") == 1)
		read_verb(out, root, ignored, sizeof(ignored));
	char shown[64];
	quote_name(dup, shown, sizeof(shown));
	snprintf(err, errlen,
		 "the key \"%s\" appears twice%s%s (JSON readers disagree on which one counts)",
		 shown, path[0] ? " in " : "", path);
	return -1;
}

int codec_decode_command(const char *buf, size_t len, struct envelope *out, char *err,
			 size_t errlen)
{
	memset(out, 0, sizeof(*out));
	if (len > CODEC_MAX_MESSAGE) {
		snprintf(err, errlen, "message is %zu bytes, over the %d KiB limit", len,
			 CODEC_MAX_MESSAGE / 1024);
		return -1;
	}
	if (memchr(buf, '\0', len) != NULL) {
		snprintf(err, errlen, "message contains a NUL byte");
		return -1;
	}
	if (has_escaped_nul(buf, len)) {
		snprintf(err, errlen, "message contains a NUL character (\\u0000)");
		return -1;
	}
	if (!util_utf8_valid(buf, len)) {
		snprintf(err, errlen, "message is not valid UTF-8");
		return -1;
	}
	const char *end = NULL;
	cJSON *root = cJSON_ParseWithLengthOpts(buf, len, &end, false);
	if (root == NULL) {
		size_t at = end != NULL && end >= buf ? (size_t)(end - buf) : 0;
		snprintf(err, errlen, "message is not valid JSON (near byte %zu)", at + 1);
		return -1;
	}
	/* Trailing garbage after the value is an error too: "{}x" is not JSON. */
	while (end != NULL && (size_t)(end - buf) < len && isspace((unsigned char)*end))
		end++;
	if (end != NULL && (size_t)(end - buf) < len) {
		snprintf(err, errlen, "message has text after the JSON value (at byte %zu)",
			 (size_t)(end - buf) + 1);
		cJSON_Delete(root);
		return -1;
	}
	if (!cJSON_IsObject(root)) {
		snprintf(err, errlen, "message is %s, not a JSON object", json_type_name(root));
		cJSON_Delete(root);
		return -1;
	}

	/* The ids first, so that an error reply can still name its request. */
	int rc = -1;
	char path[200] = "";
	const char *dup = duplicate_key(root, path, sizeof(path));
	if (dup != NULL) {
		refuse_duplicate(out, root, dup, path, err, errlen);
		goto done;
	}
	if (read_id(root, "request_id", &out->request_id, err, errlen) < 0 ||
	    read_id(root, "agent_id", &out->agent_id, err, errlen) < 0 ||
	    read_verb(out, root, err, errlen) < 0 ||
	    read_params(out, cJSON_GetObjectItemCaseSensitive(root, "params"), err, errlen) < 0 ||
	    read_timestamp(out, root, err, errlen) < 0)
		goto done;

	const cJSON *content = cJSON_GetObjectItemCaseSensitive(root, "content");
	if (content != NULL && !cJSON_IsNull(content)) {
		if (!cJSON_IsString(content)) {
			snprintf(err, errlen, "content must be a string, not %s", json_type_name(content));
			goto done;
		}
		out->content = xstrdup(content->valuestring);
	}
	rc = 0;
done:
	cJSON_Delete(root);
	return rc;
}

void codec_envelope_free(struct envelope *env)
{
	free(env->verb);
	for (size_t i = 0; i < env->nparams; i++) {
		free(env->params[i].key);
		free(env->params[i].value);
	}
	free(env->params);
	free(env->kinds);
	for (size_t i = 0; i < env->nargs_array; i++)
		free(env->args_array[i]);
	free(env->args_array);
	free(env->content);
	free(env->agent_id);
	free(env->request_id);
	memset(env, 0, sizeof(*env));
}

const char *codec_param(const struct envelope *env, const char *key)
{
	for (size_t i = 0; i < env->nparams; i++)
		if (strcmp(env->params[i].key, key) == 0)
			return env->params[i].value;
	return NULL;
}

enum codec_kind codec_param_kind(const struct envelope *env, const char *key)
{
	for (size_t i = 0; i < env->nparams; i++)
		if (strcmp(env->params[i].key, key) == 0)
			return env->kinds[i];
	return CODEC_STRING;
}

const char *codec_kind_name(enum codec_kind kind)
{
	return kind == CODEC_NUMBER ? "a number" : kind == CODEC_BOOL ? "a boolean" : "a string";
}

static char *print_and_delete(cJSON *obj)
{
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (s == NULL) {
		fprintf(stderr, "tasker: out of memory printing JSON\n");
		abort();
	}
	return s;
}

char *codec_encode_command(const struct slash_line *line, const char *agent_id,
			   const char *request_id, int64_t wall_ms)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "verb", line->verb ? line->verb : "");
	cJSON *params = cJSON_AddObjectToObject(obj, "params");
	for (size_t i = 0; i < line->nparams; i++)
		cJSON_AddStringToObject(params, line->params[i].key, line->params[i].value);
	if (line->content != NULL && line->content[0] != '\0')
		cJSON_AddStringToObject(obj, "content", line->content);
	char stamp[40];
	util_iso_time(wall_ms, stamp, sizeof(stamp));
	cJSON_AddStringToObject(obj, "timestamp", stamp);
	if (agent_id != NULL)
		cJSON_AddStringToObject(obj, "agent_id", agent_id);
	if (request_id != NULL)
		cJSON_AddStringToObject(obj, "request_id", request_id);
	return print_and_delete(obj);
}

cJSON *codec_status_json(const struct status_msg *st, int64_t wall_ms)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "type", st->type ? st->type : "task_status");
	if (st->task_name != NULL)
		cJSON_AddStringToObject(obj, "task_name", st->task_name);
	if (st->status != NULL)
		cJSON_AddStringToObject(obj, "status", st->status);
	char stamp[40];
	util_iso_time(wall_ms, stamp, sizeof(stamp));
	cJSON_AddStringToObject(obj, "timestamp", stamp);
	if (st->pm_id >= 0)
		cJSON_AddNumberToObject(obj, "pm_id", (double)st->pm_id);
	if (st->request_id != NULL)
		cJSON_AddStringToObject(obj, "request_id", st->request_id);
	if (st->verb != NULL)
		cJSON_AddStringToObject(obj, "verb", st->verb);
	if (st->node != NULL)
		cJSON_AddStringToObject(obj, "node", st->node);
	if (st->agent_id != NULL)
		cJSON_AddStringToObject(obj, "agent_id", st->agent_id);
	if (st->error != NULL)
		cJSON_AddStringToObject(obj, "error", st->error);
	return obj;
}

char *codec_encode_status(const struct status_msg *st, int64_t wall_ms)
{
	return print_and_delete(codec_status_json(st, wall_ms));
}

static const char *get_str(const cJSON *root, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(root, key);
	return cJSON_IsString(v) ? v->valuestring : NULL;
}

int codec_decode_status(const char *buf, size_t len, struct status_view *out, char *err,
			size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->pm_id = -1;
	if (len > CODEC_MAX_MESSAGE) {
		snprintf(err, errlen, "status message is %zu bytes, over the %d KiB limit", len,
			 CODEC_MAX_MESSAGE / 1024);
		return -1;
	}
	cJSON *root = cJSON_ParseWithLength(buf, len);
	if (root == NULL || !cJSON_IsObject(root)) {
		cJSON_Delete(root);
		snprintf(err, errlen, "status message is not a JSON object");
		return -1;
	}
	out->root = root;
	out->type = get_str(root, "type");
	out->task_name = get_str(root, "task_name");
	out->status = get_str(root, "status");
	out->error = get_str(root, "error");
	out->request_id = get_str(root, "request_id");
	out->verb = get_str(root, "verb");
	out->node = get_str(root, "node");
	out->agent_id = get_str(root, "agent_id");
	out->timestamp = get_str(root, "timestamp");
	long pm_id;
	if (codec_json_long(cJSON_GetObjectItemCaseSensitive(root, "pm_id"), 0, 999999999, &pm_id))
		out->pm_id = pm_id;
	return 0;
}

bool codec_json_long(const cJSON *v, long lo, long hi, long *out)
{
	if (!cJSON_IsNumber(v))
		return false;
	double d = v->valuedouble;
	/* The comparisons are in double, where lo and hi are exact for the
	 * ranges used here (|x| < 2^53); NaN fails them all. */
	if (!(d >= (double)lo && d <= (double)hi) || d != floor(d))
		return false;
	*out = (long)d;
	return true;
}

void codec_status_view_free(struct status_view *view)
{
	cJSON_Delete(view->root);
	memset(view, 0, sizeof(*view));
	view->pm_id = -1;
}

int codec_status_outcome(const char *status)
{
	static const char *const ok[] = {"started", "stopped", "restarted", "deleted",
					 "already_running", "ok", "listed"};
	/* busy: refused because too many commands wait; expired: the command
	 * passed its deadline (params.ttl); invalid: a param out of its rules
	 * (logs); denied, unauthenticated, replay, stale: refused by the
	 * authority checks (docs/security.md). Nothing was done: all are errors. */
	static const char *const bad[] = {"error",  "not_found", "busy",	   "expired", "invalid",
					  "denied", "replay",    "unauthenticated", "stale"};
	if (status == NULL)
		return -1;
	for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++)
		if (strcmp(status, ok[i]) == 0)
			return 1;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (strcmp(status, bad[i]) == 0)
			return 0;
	return -1;
}

static int digits(const char **p, int n, int *out)
{
	int v = 0;
	for (int i = 0; i < n; i++) {
		if (!isdigit((unsigned char)**p))
			return -1;
		v = v * 10 + (**p - '0');
		(*p)++;
	}
	*out = v;
	return 0;
}

int codec_parse_iso_time(const char *s, int64_t *out_ms)
{
	const char *p = s;
	int y, mo, d, h, mi, sec, ms = 0;
	if (digits(&p, 4, &y) < 0 || *p++ != '-' || digits(&p, 2, &mo) < 0 || *p++ != '-' ||
	    digits(&p, 2, &d) < 0 || (*p != 'T' && *p != 't' && *p != ' '))
		return -1;
	p++;
	if (digits(&p, 2, &h) < 0 || *p++ != ':' || digits(&p, 2, &mi) < 0 || *p++ != ':' ||
	    digits(&p, 2, &sec) < 0)
		return -1;
	if (*p == '.' || *p == ',') {
		p++;
		int scale = 100, nd = 0;
		while (isdigit((unsigned char)*p)) {
			if (nd < 3)
				ms += (*p - '0') * scale;
			scale /= 10;
			nd++;
			p++;
		}
		if (nd == 0)
			return -1;
	}
	int offset_min = 0;
	if (*p == 'Z' || *p == 'z') {
		p++;
	} else if (*p == '+' || *p == '-') {
		int sign = *p++ == '-' ? -1 : 1, oh, om;
		if (digits(&p, 2, &oh) < 0)
			return -1;
		if (*p == ':')
			p++;
		if (digits(&p, 2, &om) < 0 || oh > 23 || om > 59)
			return -1;
		offset_min = sign * (oh * 60 + om);
	} else {
		return -1; /* a time without a zone is ambiguous */
	}
	static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
	if (*p != '\0' || mo < 1 || mo > 12 || d < 1 || h > 23 || mi > 59 || sec > 60)
		return -1;
	bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
	if (d > mdays[mo - 1] + (mo == 2 && leap ? 1 : 0))
		return -1; /* timegm would roll 02-30 over into March */
	struct tm tm = {.tm_year = y - 1900, .tm_mon = mo - 1, .tm_mday = d,
			.tm_hour = h, .tm_min = mi, .tm_sec = sec};
	time_t t = timegm(&tm);
	*out_ms = ((int64_t)t - (int64_t)offset_min * 60) * 1000 + ms;
	return 0;
}

cJSON *codec_task_json(const struct pm2_proc *p, int64_t now_ms, const char *node)
{
	cJSON *t = cJSON_CreateObject();
	cJSON_AddStringToObject(t, "name", p->name);
	cJSON_AddNumberToObject(t, "pm_id", p->pm_id);
	cJSON_AddStringToObject(t, "status", p->status);
	/* PM2 keeps a dead pid on stopped and restarting records: trust the status. */
	cJSON_AddNumberToObject(t, "pid", p->state == PM2_ST_ONLINE ? p->pid : 0);
	cJSON_AddNumberToObject(t, "cpu", p->cpu);
	cJSON_AddNumberToObject(t, "memory", (double)p->memory);
	int64_t up = p->state == PM2_ST_ONLINE && p->pm_uptime > 0 ? now_ms - p->pm_uptime : 0;
	cJSON_AddNumberToObject(t, "uptime", (double)(up > 0 ? up : 0));
	cJSON_AddNumberToObject(t, "restarts", p->restart_time);
	cJSON_AddStringToObject(t, "mode", p->cluster ? "cluster" : "fork");
	cJSON_AddNumberToObject(t, "instances", p->instances);
	/* Who started it (docs/security.md, 6); null: a foreign task. */
	if (p->owner != NULL)
		cJSON_AddStringToObject(t, "owner", p->owner);
	else
		cJSON_AddNullToObject(t, "owner");
	if (p->cron != NULL) {
		cJSON_AddStringToObject(t, "cron", p->cron);
		/* When PM2 runs it next (docs/protocol.md, "Next run"). */
		int64_t next;
		if (cron_next(p->cron, now_ms, &next) == 0)
			cJSON_AddNumberToObject(t, "next_run", (double)next);
	}
	if (p->depends_on != NULL) /* what it waited for (docs/protocol.md, "Dependencies") */
		cJSON_AddStringToObject(t, "depends_on", p->depends_on);
	if (node != NULL)
		cJSON_AddStringToObject(t, "node", node);
	return t;
}
