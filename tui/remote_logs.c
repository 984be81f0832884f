/*
 * remote_logs: the log view of a task that runs on another node. The
 * console has no access to that node's files: it publishes the `logs` verb
 * (docs/protocol.md, "logs"; params task, lines, follow, node) as a typed
 * line is published, shows the lines of the reply (matched by its
 * request_id), and while the view stays open follows the reply's stream
 * (XREAD BLOCK on the bus's reader connection, so the command connection
 * never waits) until its "end" entry.
 *
 * The local PM2's tasks keep the old view: their log files, read by
 * console.c. Everything read here is untrusted: fields are checked, lines
 * are bounded, and the tails are drawn by draw.c, which escapes them.
 *
 * Must not: block, or keep reading for a view that was closed (logs_gen
 * makes older replies void).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "app.h"
#include "bulk.h"
#include "util.h"

#define LOGS_LINES "200"
#define LOGS_FOLLOW "600"	/* seconds; the view asks again when it ends */
#define TAIL_MAX (64 * 1024)	/* bytes kept per stream */
#define LINE_MAX_BYTES 4096
#define XREAD_BLOCK_MS "2000"
#define XREAD_COUNT "500"

/* Appends one line to *buf, keeping at most TAIL_MAX bytes (whole lines). */
static void append_line(char **buf, const char *line, size_t len)
{
	if (len > LINE_MAX_BYTES)
		len = LINE_MAX_BYTES;
	size_t have = *buf ? strlen(*buf) : 0;
	char *s = xrealloc(*buf, have + len + 2);
	for (size_t i = 0; i < len; i++) {
		char c = line[i];
		/* One line stays one line; draw.c escapes the other controls. */
		s[have + i] = c == '\n' || c == '\r' || c == '\0' ? ' ' : c;
	}
	s[have + len] = '\n';
	s[have + len + 1] = '\0';
	size_t total = have + len + 1;
	if (total > TAIL_MAX) {
		char *cut = memchr(s + (total - TAIL_MAX), '\n', TAIL_MAX);
		if (cut != NULL)
			memmove(s, cut + 1, strlen(cut + 1) + 1);
	}
	*buf = s;
}

static void add_line(struct app *app, bool err, const char *line, size_t len)
{
	append_line(err ? &app->log_err : &app->log_out, line, len);
	if (app->mode == MODE_LOGS || (app->mode == MODE_CONFIRM && app->confirm_back == MODE_LOGS))
		logview_add(&app->lv, err, line, len);
	app->dirty = true;
}

static void read_stream(struct app *app);

static void on_xread(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct app *app = arg;
	app->logs_reading = false;
	if (app->logs_stream == NULL || app->logs_read_gen != app->logs_gen) {
		read_stream(app); /* this read was for a view since closed: void */
		return;
	}
	if (reply == NULL) {
		/* The reader connection went down: on_reader reads again. */
		return;
	}
	if (reply->type == REDIS_REPLY_ERROR) {
		char line[300];
		snprintf(line, sizeof(line), "logs of %.100s: the follow stream failed: %.150s",
			 app->detail_node, reply->str);
		app_feed(app, FEED_ERROR, line);
		free(app->logs_stream);
		app->logs_stream = NULL;
		return;
	}
	/* [[stream, [[id, [field, value, ...]], ...]]], or nil on timeout. */
	bool ended = false;
	if (reply->type == REDIS_REPLY_ARRAY && reply->elements >= 1 &&
	    reply->element[0]->type == REDIS_REPLY_ARRAY && reply->element[0]->elements == 2) {
		const redisReply *entries = reply->element[0]->element[1];
		for (size_t i = 0; entries->type == REDIS_REPLY_ARRAY && i < entries->elements; i++) {
			const redisReply *e = entries->element[i];
			if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 ||
			    e->element[0]->type != REDIS_REPLY_STRING ||
			    e->element[1]->type != REDIS_REPLY_ARRAY)
				continue;
			snprintf(app->logs_last, sizeof(app->logs_last), "%.*s",
				 (int)e->element[0]->len, e->element[0]->str);
			const redisReply *f = e->element[1];
			const redisReply *s = NULL, *l = NULL, *end = NULL;
			for (size_t k = 0; k + 1 < f->elements; k += 2) {
				const redisReply *name = f->element[k], *val = f->element[k + 1];
				if (name->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
					continue;
				if (strcmp(name->str, "s") == 0)
					s = val;
				else if (strcmp(name->str, "l") == 0)
					l = val;
				else if (strcmp(name->str, "end") == 0)
					end = val;
			}
			if (l != NULL)
				add_line(app, s != NULL && strcmp(s->str, "err") == 0, l->str, l->len);
			if (end != NULL) {
				snprintf(app->logs_state, sizeof(app->logs_state),
					 "the follow stream from node %.60s ended (%.60s)",
					 app->detail_node, end->str);
				ended = true;
			}
		}
	}
	if (ended) {
		free(app->logs_stream);
		app->logs_stream = NULL;
		return;
	}
	read_stream(app);
}

static void read_stream(struct app *app)
{
	if (app->logs_stream == NULL || app->logs_reading || !bus_reader_up(app->bus))
		return;
	const char *argv[8] = {"XREAD",		"COUNT", XREAD_COUNT, "BLOCK", XREAD_BLOCK_MS,
			       "STREAMS", app->logs_stream, app->logs_last};
	size_t lens[8];
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (bus_reader_command(app->bus, 8, argv, lens, on_xread, app) == 0) {
		app->logs_reading = true;
		app->logs_read_gen = app->logs_gen;
	}
}

static void on_reader(struct bus *bus, bool up, void *arg)
{
	(void)bus;
	struct app *app = arg;
	if (!up)
		app->logs_reading = false;
	else
		read_stream(app);
}

void remote_logs_open(struct app *app, const char *node, const char *task)
{
	remote_logs_close(app);
	/* A name tasker refuses (a process the pm2 CLI made as "my app") is
	 * asked for by its pm_id, the row's (app->detail_pm_id). */
	char idtext[16];
	snprintf(idtext, sizeof(idtext), "%d", app->detail_pm_id);
	bool by_id = bulk_by_pm_id(task);
	struct slash_param params[4] = {
		{(char *)(uintptr_t)(by_id ? "pm_id" : "task"), (char *)(uintptr_t)(by_id ? idtext : task)},
		{(char *)(uintptr_t) "lines", (char *)(uintptr_t)LOGS_LINES},
		{(char *)(uintptr_t) "follow", (char *)(uintptr_t)LOGS_FOLLOW},
		{(char *)(uintptr_t) "node", (char *)(uintptr_t)node},
	};
	struct slash_line l = {
		.verb = (char *)(uintptr_t) "logs",
		.has_params = true,
		.params = params,
		.nparams = 4,
	};
	/* The request id is the one the console waits for ("" when it was
	 * not sent). */
	char rid[33];
	console_publish(app, &l, rid);
	snprintf(app->logs_rid, sizeof(app->logs_rid), "%s", rid);
	snprintf(app->logs_state, sizeof(app->logs_state), "asking node %s for the logs of %s",
		 node, task);
}

void remote_logs_close(struct app *app)
{
	app->logs_rid[0] = '\0';
	free(app->logs_stream);
	app->logs_stream = NULL;
	app->logs_last[0] = '\0';
	app->logs_gen++;
	/* An XREAD in flight comes back within XREAD_BLOCK_MS and is dropped. */
}

bool remote_logs_reply(struct app *app, const char *data, size_t len)
{
	if (app->logs_rid[0] == '\0' || memmem(data, len, app->logs_rid, strlen(app->logs_rid)) == NULL)
		return false;
	cJSON *root = cJSON_ParseWithLength(data, len);
	const cJSON *rid = cJSON_GetObjectItemCaseSensitive(root, "request_id");
	if (!cJSON_IsString(rid) || strcmp(rid->valuestring, app->logs_rid) != 0) {
		cJSON_Delete(root);
		return false;
	}
	const cJSON *status = cJSON_GetObjectItemCaseSensitive(root, "status");
	const char *st = cJSON_IsString(status) ? status->valuestring : "?";
	if (strcmp(st, "ok") != 0) {
		/* Said, and the request stays open: a request has one reply, but
		 * an executor of an older build refuses the verb from wherever
		 * the dispatcher stands, and the node's own answer may follow. */
		const cJSON *msg = cJSON_GetObjectItemCaseSensitive(root, "message");
		if (!cJSON_IsString(msg))
			msg = cJSON_GetObjectItemCaseSensitive(root, "error");
		snprintf(app->logs_state, sizeof(app->logs_state), "%.40s: %.100s", st,
			 cJSON_IsString(msg) ? msg->valuestring : "(no message)");
		cJSON_Delete(root);
		app->dirty = true;
		return true;
	}
	app->logs_rid[0] = '\0';
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(root, "lines");
	const cJSON *ln;
	const cJSON *arr = cJSON_IsArray(lines) ? lines : NULL;
	cJSON_ArrayForEach(ln, arr)
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(ln, "s");
		const cJSON *l = cJSON_GetObjectItemCaseSensitive(ln, "l");
		if (!cJSON_IsString(l))
			continue;
		add_line(app, cJSON_IsString(s) && strcmp(s->valuestring, "err") == 0, l->valuestring,
			 strlen(l->valuestring));
	}
	const cJSON *stream = cJSON_GetObjectItemCaseSensitive(root, "stream");
	if (cJSON_IsString(stream) && strncmp(stream->valuestring, "b00t:{tasker}:logs:", 19) == 0 &&
	    strlen(stream->valuestring) < 200) {
		app->logs_stream = xstrdup(stream->valuestring);
		snprintf(app->logs_last, sizeof(app->logs_last), "0");
		snprintf(app->logs_state, sizeof(app->logs_state), "following the logs on node %s",
			 app->detail_node);
		if (!app->reader_on) {
			app->reader_on = true;
			bus_reader_enable(app->bus, on_reader, app);
		}
		read_stream(app);
	} else {
		snprintf(app->logs_state, sizeof(app->logs_state), "the last lines from node %s",
			 app->detail_node);
	}
	if (!app->log_out)
		app->log_out = xstrdup("");
	if (!app->log_err)
		app->log_err = xstrdup("");
	cJSON_Delete(root);
	app->dirty = true;
	return true;
}
