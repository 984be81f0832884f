/*
 * history: see history.h. The key, the entry format, the --since syntax,
 * the reading of stream replies, and the writer (XADD on the bus's publish
 * connection, right after the PUBLISH of the same message).
 *
 * The writer's choices: an XADD refused by Redis (an ACL without XADD, a
 * Redis without streams) is logged once, until one is accepted again; the
 * message itself was already published. An XADD whose connection drops
 * before its reply is not sent again: the entry may be there already, and
 * a copy would show twice to every reader (at most once, where the
 * channel's publishes are at least once). While the publish connection is
 * down, the last WAIT_MAX entries wait here, as the publishes wait in the
 * bus, and go out first when it is back.
 */
#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "codec.h"
#include "config.h"
#include "log.h"
#include "util.h"

#define WAIT_MAX 1000
/* 100 years of seconds: any longer --since is a typo. */
#define SINCE_MAX_S (100LL * 366 * 86400)

char *history_key(const char *status_channel)
{
	if (strcmp(status_channel, CONFIG_DEFAULT_STATUS_CHANNEL) == 0)
		return xstrdup(HISTORY_KEY);
	return xasprintf("%s:%s", HISTORY_KEY, status_channel);
}

void history_id_at(int64_t wall_ms, char *buf, size_t size)
{
	snprintf(buf, size, "%lld-0", (long long)(wall_ms > 0 ? wall_ms : 0));
}

static int since_error(const char *text, char *err, size_t errlen)
{
	snprintf(err, errlen,
	         "'%.40s' is neither a duration (30s, 10m, 2h, 1d, 1h30m) nor an ISO-8601 time "
	         "with its zone (2026-11-27T10:00:00Z)",
	         text);
	return -1;
}

int history_parse_since(const char *text, int64_t now_ms, int64_t *since_ms, char *err,
                        size_t errlen)
{
	/* A date starts with four digits and a dash; a duration never does. */
	if (strlen(text) >= 10 && util_ascii_digit(text[0]) && text[4] == '-') {
		int64_t at;
		if (codec_parse_iso_time(text, &at) < 0)
			return since_error(text, err, errlen);
		*since_ms = at;
		return 0;
	}
	long long total = 0;
	const char *p = text;
	if (*p == '\0')
		return since_error(text, err, errlen);
	while (*p != '\0') {
		if (!util_ascii_digit(*p))
			return since_error(text, err, errlen);
		long long n = 0;
		while (util_ascii_digit(*p)) {
			n = n * 10 + (*p - '0');
			if (n > SINCE_MAX_S)
				break;
			p++;
		}
		long long unit;
		switch (*p) {
		case 's':
			unit = 1;
			break;
		case 'm':
			unit = 60;
			break;
		case 'h':
			unit = 3600;
			break;
		case 'd':
			unit = 86400;
			break;
		default:
			if (n > SINCE_MAX_S)
				goto too_long;
			return since_error(text, err, errlen);
		}
		p++;
		if (n > SINCE_MAX_S / unit || total + n * unit > SINCE_MAX_S)
			goto too_long;
		total += n * unit;
	}
	*since_ms = now_ms - total * 1000;
	return 0;
too_long:
	snprintf(err, errlen, "'%.40s' is longer than 100 years", text);
	return -1;
}

long history_entries(const struct redisReply *reply, struct history_entry *out, size_t cap)
{
	if (reply == NULL || reply->type != REDIS_REPLY_ARRAY)
		return -1;
	for (size_t i = 0; i < reply->elements; i++) {
		const redisReply *e = reply->element[i];
		if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
		    e->element[0]->type != REDIS_REPLY_STRING)
			return -1;
		const redisReply *fields = e->element[1];
		struct history_entry h = {.id = e->element[0]->str};
		/* A field list may be nil (an entry deleted under a consumer group). */
		if (fields->type == REDIS_REPLY_ARRAY) {
			for (size_t k = 0; k + 1 < fields->elements; k += 2) {
				const redisReply *f = fields->element[k],
				                 *v = fields->element[k + 1];
				if (f->type == REDIS_REPLY_STRING &&
				    v->type == REDIS_REPLY_STRING && f->len == 1 &&
				    f->str[0] == HISTORY_FIELD[0]) {
					h.data = v->str;
					h.len = v->len;
					break;
				}
			}
		} else if (fields->type != REDIS_REPLY_NIL) {
			return -1;
		}
		if (i < cap)
			out[i] = h;
	}
	return (long)reply->elements;
}

/* --- the writer ------------------------------------------------------------ */

struct waiting {
	char *data;
	size_t len;
};

struct history_writer {
	struct bus *bus;
	char *key;
	char maxlen[24];
	struct waiting *wait; /* ring of WAIT_MAX, allocated on first use */
	size_t wstart, wcount;
	bool refused;      /* the last XADD was refused (and that is logged) */
	bool dropped_said; /* this outage's dropped entries are logged */
};

struct history_writer *history_writer_new(struct bus *bus, const char *status_channel, long maxlen)
{
	if (maxlen <= 0)
		return NULL;
	struct history_writer *w = xcalloc(1, sizeof(*w));
	w->bus = bus;
	w->key = history_key(status_channel);
	snprintf(w->maxlen, sizeof(w->maxlen), "%ld", maxlen);
	return w;
}

void history_writer_free(struct history_writer *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->wcount; i++)
		free(w->wait[(w->wstart + i) % WAIT_MAX].data);
	free(w->wait);
	free(w->key);
	free(w);
}

static void on_added(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct history_writer *w = arg;
	if (reply == NULL)
		return; /* the connection went away: not Redis's answer */
	if (reply->type == REDIS_REPLY_ERROR) {
		if (!w->refused)
			log_error(
			    "redis refused to add to the history stream %s: %s; status messages "
			    "are still published, but late readers (tasker watch --since) will not "
			    "find them",
			    w->key, reply->str);
		w->refused = true;
		return;
	}
	if (w->refused)
		log_info("redis accepts the history stream %s again", w->key);
	w->refused = false;
}

static int send_entry(struct history_writer *w, const char *data, size_t len)
{
	const char *argv[8] = {"XADD", w->key, "MAXLEN", "~", w->maxlen, "*", HISTORY_FIELD, data};
	size_t lens[8] = {4, strlen(w->key),        6,  1, strlen(w->maxlen),
	                  1, strlen(HISTORY_FIELD), len};
	return bus_command(w->bus, 8, argv, lens, on_added, w);
}

void history_flush(struct history_writer *w)
{
	if (w == NULL)
		return;
	while (w->wcount > 0 && bus_can_command(w->bus)) {
		struct waiting *e = &w->wait[w->wstart];
		if (send_entry(w, e->data, e->len) < 0)
			return;
		free(e->data);
		e->data = NULL;
		w->wstart = (w->wstart + 1) % WAIT_MAX;
		w->wcount--;
	}
	if (w->wcount == 0)
		w->dropped_said = false;
}

/* A logs reply carries up to 256 KiB of a task's output: the history keeps
 * the reply without it (10,000 of them would be 2.5 GiB), with
 * "lines_omitted": how many there were. NULL: keep the message as it is. */
static char *without_lines(const char *data, size_t len)
{
	if (len < 1024 || memmem(data, len, "\"lines\":[", 9) == NULL)
		return NULL;
	cJSON *obj = cJSON_ParseWithLength(data, len);
	cJSON *lines = cJSON_GetObjectItemCaseSensitive(obj, "lines");
	char *out = NULL;
	if (cJSON_IsArray(lines)) {
		int n = cJSON_GetArraySize(lines);
		cJSON_DeleteItemFromObjectCaseSensitive(obj, "lines");
		cJSON_AddNumberToObject(obj, "lines_omitted", n);
		out = cJSON_PrintUnformatted(obj);
	}
	cJSON_Delete(obj);
	return out;
}

void history_add(struct history_writer *w, const char *data, size_t len)
{
	if (w == NULL)
		return;
	char *slim = without_lines(data, len);
	if (slim != NULL) {
		history_add(w, slim, strlen(slim));
		free(slim);
		return;
	}
	history_flush(w);
	if (w->wcount == 0 && send_entry(w, data, len) == 0)
		return;
	if (w->wait == NULL)
		w->wait = xcalloc(WAIT_MAX, sizeof(*w->wait));
	if (w->wcount == WAIT_MAX) {
		/* The oldest goes: the channel had it, the stream will not. */
		if (!w->dropped_said)
			log_warn("redis is down: only the last %d status messages will reach the "
			         "history stream %s",
			         WAIT_MAX, w->key);
		w->dropped_said = true;
		free(w->wait[w->wstart].data);
		w->wstart = (w->wstart + 1) % WAIT_MAX;
		w->wcount--;
	}
	struct waiting *e = &w->wait[(w->wstart + w->wcount) % WAIT_MAX];
	e->data = xmalloc(len + 1);
	memcpy(e->data, data, len);
	e->data[len] = '\0';
	e->len = len;
	w->wcount++;
}
