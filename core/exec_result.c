/*
 * exec_result: one-shot task results (exec_result.h). The exit event is
 * PM2's, relayed by exec_relay.c; everything in it is untrusted (an app can
 * publish events), so the task must be one the view knows under that
 * pm_id and name, and the log files read are the ones this executor named
 * when it started the task (PM2_HOME/logs/NAME-out.log), never a path
 * from the event.
 *
 * Must not: block the loop (a tail reads at most 64 KiB a file), or keep
 * a result without its TTL.
 */
#include "exec_result.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "executor_int.h"
#include "log.h"
#include "metrics_exec.h"
#include "loop.h"
#include "pm2_conf.h"
#include "text.h"
#include "util.h"

#define TAIL_READ (64 * 1024)
#define LINE_MAX_BYTES 1000
/* The log stream of PM2 may be a little behind its exit event. */
#define RESULT_DELAY_MS 300

struct pending {
	struct executor *ex;
	cJSON *obj; /* the result, lines still to add */
	char *name;
	int pm_id;
};

/* s[0..len) as valid UTF-8 (bad bytes and NUL: U+FFFD), at most
 * LINE_MAX_BYTES of input. */
static char *clean(const char *s, size_t len)
{
	if (len > LINE_MAX_BYTES)
		len = LINE_MAX_BYTES;
	char *out = xcalloc(len * 3 + 1, 1);
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		uint32_t cp;
		size_t k = text_utf8_next(s + i, len - i, &cp);
		if (k == 0 || cp == 0) {
			memcpy(out + o, "\xef\xbf\xbd", 3);
			o += 3;
			i += k == 0 ? 1 : k;
			continue;
		}
		memcpy(out + o, s + i, k);
		o += k;
		i += k;
	}
	out[o] = '\0';
	return out;
}

cJSON *result_tail_lines(const char *path, size_t max)
{
	cJSON *arr = cJSON_CreateArray();
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return arr;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return arr;
	}
	off_t off = st.st_size > TAIL_READ ? st.st_size - TAIL_READ : 0;
	char *buf = xmalloc(TAIL_READ);
	ssize_t n = pread(fd, buf, TAIL_READ, off);
	close(fd);
	if (n <= 0) {
		free(buf);
		return arr;
	}
	size_t len = (size_t)n;
	if (len > 0 && buf[len - 1] == '\n')
		len--;
	/* Back from the end: the start of each of the last max lines. */
	size_t starts[RESULT_LINES + 1];
	size_t ends[RESULT_LINES + 1];
	size_t k = 0;
	size_t end = len;
	if (max > RESULT_LINES)
		max = RESULT_LINES;
	while (k < max && (end > 0 || (k == 0 && len > 0))) {
		size_t b = end;
		while (b > 0 && buf[b - 1] != '\n')
			b--;
		/* A first line cut by the 64 KiB window is left out. */
		if (b == 0 && off > 0)
			break;
		starts[k] = b;
		ends[k] = end;
		k++;
		if (b == 0)
			break;
		end = b - 1;
	}
	for (size_t i = k; i-- > 0;) {
		char *line = clean(buf + starts[i], ends[i] - starts[i]);
		cJSON_AddItemToArray(arr, cJSON_CreateString(line));
		free(line);
	}
	free(buf);
	return arr;
}

/* The log file this executor named for the task: NAME-KIND.log (one fork
 * instance), else NAME-KIND-PMID.log. */
static char *log_path(const struct executor *ex, const char *name, const char *kind, int pm_id)
{
	char *file = pm2_conf_file_name(name);
	char *p = xasprintf("%s/logs/%s-%s.log", ex->pm2_home, file, kind);
	struct stat st;
	if (stat(p, &st) != 0) {
		free(p);
		p = xasprintf("%s/logs/%s-%s-%d.log", ex->pm2_home, file, kind, pm_id);
	}
	free(file);
	return p;
}

/*
 * The signal that ended the task, from the daemon's own log: PM2 reports a
 * process a signal killed as exit code 0 in its event, and writes "App
 * [NAME:ID] exited with code [C] via signal [SIG]" to PM2_HOME/pm2.log
 * (SIGINT when there was none: not told apart from a clean exit). Copies
 * the last such signal name other than SIGINT into sig; false if none.
 */
static bool signal_from_daemon_log(const struct executor *ex, const char *name, int pm_id,
				   char *sig, size_t siglen)
{
	char *path = xasprintf("%s/pm2.log", ex->pm2_home);
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	free(path);
	if (fd < 0)
		return false;
	struct stat st;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return false;
	}
	off_t off = st.st_size > TAIL_READ ? st.st_size - TAIL_READ : 0;
	char *buf = xmalloc(TAIL_READ + 1);
	ssize_t n = pread(fd, buf, TAIL_READ, off);
	close(fd);
	if (n <= 0) {
		free(buf);
		return false;
	}
	buf[n] = '\0';
	char *needle = xasprintf("App [%s:%d] exited with code [", name, pm_id);
	const char *last = NULL;
	for (const char *p = buf; (p = memmem(p, (size_t)n - (size_t)(p - buf), needle, strlen(needle))) != NULL; p++)
		last = p;
	bool found = false;
	if (last != NULL) {
		const char *v = strstr(last + strlen(needle), "] via signal [");
		const char *nl = strchr(last, '\n');
		if (v != NULL && (nl == NULL || v < nl)) {
			v += strlen("] via signal [");
			size_t k = strspn(v, "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789");
			if (k > 3 && k < siglen && v[k] == ']' && strncmp(v, "SIG", 3) == 0 &&
			    !(k == 6 && strncmp(v, "SIGINT", 6) == 0)) {
				memcpy(sig, v, k);
				sig[k] = '\0';
				found = true;
			}
		}
	}
	free(needle);
	free(buf);
	return found;
}

static void on_stored(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	(void)arg;
	if (reply == NULL || reply->type == REDIS_REPLY_ERROR)
		log_warn("result: not kept in Redis: %s", reply ? reply->str : "the connection went");
}

static void on_delay(struct loop *loop, void *arg)
{
	(void)loop;
	struct pending *p = arg;
	struct executor *ex = p->ex;
	char sig[32];
	if (signal_from_daemon_log(ex, p->name, p->pm_id, sig, sizeof(sig))) {
		cJSON_ReplaceItemInObjectCaseSensitive(p->obj, "exit_code", cJSON_CreateNull());
		cJSON_ReplaceItemInObjectCaseSensitive(p->obj, "signal", cJSON_CreateString(sig));
		cJSON_ReplaceItemInObjectCaseSensitive(p->obj, "ok", cJSON_CreateFalse());
	}
	char *out = log_path(ex, p->name, "out", p->pm_id);
	char *err = log_path(ex, p->name, "error", p->pm_id);
	cJSON_AddItemToObject(p->obj, "out", result_tail_lines(out, RESULT_LINES));
	cJSON_AddItemToObject(p->obj, "err", result_tail_lines(err, RESULT_LINES));
	free(out);
	free(err);
	char *s = cJSON_PrintUnformatted(p->obj);
	if (s != NULL && bus_can_command(ex->bus)) {
		char *key = xasprintf("%s%s", RESULT_PREFIX, p->name);
		char ttl[32];
		snprintf(ttl, sizeof(ttl), "%d", RESULT_TTL_S);
		const char *argv[5] = {"SET", key, s, "EX", ttl};
		size_t lens[5] = {3, strlen(key), strlen(s), 2, strlen(ttl)};
		if (bus_command(ex->bus, 5, argv, lens, on_stored, NULL) == 0)
			log_info("result of %s (pm_id %d): kept for %d s", p->name, p->pm_id,
				 RESULT_TTL_S);
		free(key);
	} else if (s != NULL) {
		log_warn("result of %s: Redis is not reachable, not kept", p->name);
	}
	free(s);
	exec_job_result(ex, p->name, p->obj);
	exec_publish(ex, p->obj); /* takes obj */
	free(p->name);
	free(p);
}

void exec_result_exit(struct executor *ex, const struct pm2_event *ev)
{
	const cJSON *proc =
		ev->payload ? cJSON_GetObjectItemCaseSensitive(ev->payload, "process") : NULL;
	const cJSON *ar = proc ? cJSON_GetObjectItemCaseSensitive(proc, "autorestart") : NULL;
	bool oneshot = cJSON_IsFalse(ar) ||
		       (cJSON_IsString(ar) && strcmp(ar->valuestring, "false") == 0);
	if (!oneshot)
		return;
	/* A task the view knows under that id and name, not any name an
	 * event carries. */
	struct pm2_proc found[16];
	bool uncertain = false;
	size_t n = exec_view_find(ex, ev->process_name, found, 16, &uncertain);
	bool known = false;
	for (size_t i = 0; i < n && i < 16; i++)
		known = known || found[i].pm_id == ev->pm_id;
	if (!known) {
		log_debug("exit of %s (pm_id %d): not a task the view knows; no result",
			  ev->process_name, ev->pm_id);
		return;
	}
	int64_t end = util_wall_ms();
	long start = 0, code = 0;
	bool has_start = codec_json_long(cJSON_GetObjectItemCaseSensitive(proc, "pm_uptime"), 1,
					 end, &start);
	bool has_code = codec_json_long(cJSON_GetObjectItemCaseSensitive(proc, "exit_code"),
					-2147483648L, 2147483647L, &code);
	cJSON *obj = cJSON_CreateObject();
	char iso[40];
	cJSON_AddStringToObject(obj, "type", "task_result");
	cJSON_AddStringToObject(obj, "task_name", ev->process_name);
	cJSON_AddNumberToObject(obj, "pm_id", ev->pm_id);
	cJSON_AddStringToObject(obj, "node", ex->cfg->node);
	if (has_code)
		cJSON_AddNumberToObject(obj, "exit_code", (double)code);
	else
		cJSON_AddNullToObject(obj, "exit_code");
	/* The signal: from the daemon's log, shortly (on_delay). */
	cJSON_AddNullToObject(obj, "signal");
	cJSON_AddBoolToObject(obj, "ok", has_code && code == 0);
	if (has_start) {
		util_iso_time(start, iso, sizeof(iso));
		cJSON_AddStringToObject(obj, "start_time", iso);
		cJSON_AddNumberToObject(obj, "duration_ms", (double)(end - start));
	} else {
		cJSON_AddNullToObject(obj, "start_time");
		cJSON_AddNullToObject(obj, "duration_ms");
	}
	util_iso_time(end, iso, sizeof(iso));
	cJSON_AddStringToObject(obj, "end_time", iso);
	cJSON_AddStringToObject(obj, "timestamp", iso);
	cJSON_AddNumberToObject(obj, "ttl", RESULT_TTL_S);
	struct pending *p = xcalloc(1, sizeof(*p));
	p->ex = ex;
	p->obj = obj;
	p->name = xstrdup(ev->process_name);
	p->pm_id = ev->pm_id;
	loop_timer_add(ex->loop, RESULT_DELAY_MS, on_delay, p);
}

/* --- /result --task=x: the stored result as a reply ------------------------ */

struct answer {
	struct executor *ex;
	bool has_entry;
	struct exec_entry entry;
	char *verb_word, *name, *request_id, *agent_id;
	int64_t taken_us;
};

static void answer_free(struct answer *a)
{
	free(a->verb_word);
	free(a->name);
	free(a->request_id);
	free(a->agent_id);
	free(a);
}

static void on_answer(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct answer *a = arg;
	struct executor *ex = a->ex;
	if (reply == NULL) {
		/* The connection went (or the executor is stopping): no
		 * reply; a stream entry stays pending and comes back. */
		answer_free(a);
		return;
	}
	const char *status = "ok";
	char msg[300] = "";
	cJSON *stored = NULL;
	if (reply->type == REDIS_REPLY_ERROR) {
		status = "error";
		snprintf(msg, sizeof(msg), "the result could not be read from Redis: %.200s",
			 reply->str);
	} else if (reply->type != REDIS_REPLY_STRING) {
		status = "not_found";
		snprintf(msg, sizeof(msg),
			 "no result for %s (not a one-shot task, not ended yet, or older than "
			 "its TTL)",
			 a->name);
	} else {
		stored = cJSON_ParseWithLength(reply->str, reply->len);
		if (!cJSON_IsObject(stored)) {
			status = "error";
			snprintf(msg, sizeof(msg), "%s%s does not hold a result", RESULT_PREFIX,
				 a->name);
			cJSON_Delete(stored);
			stored = NULL;
		}
	}
	struct status_msg st = {
		.task_name = a->name, /* a task_status reply, like logs */
		.status = status,
		.pm_id = -1,
		.request_id = a->request_id,
		.verb = a->verb_word,
		.node = ex->cfg->node,
		.agent_id = a->agent_id,
		.error = msg[0] ? msg : NULL,
	};
	cJSON *obj = codec_status_json(&st, util_wall_ms());
	if (stored != NULL)
		cJSON_AddItemToObject(obj, "result", stored);
	metrics_exec_command(ex, a->verb_word, status, a->taken_us);
	if (a->has_entry)
		exec_fleet_reply(ex, &a->entry, obj, a->name, "", NULL);
	else
		exec_publish(ex, obj);
	answer_free(a);
}

void exec_result_answer(struct executor *ex, const struct exec_entry *entry, const char *verb_word,
			const char *name, const char *request_id, const char *agent_id)
{
	struct answer *a = xcalloc(1, sizeof(*a));
	a->ex = ex;
	if (entry != NULL) {
		a->has_entry = true;
		a->entry = *entry;
	}
	a->verb_word = xstrdup(verb_word ? verb_word : "result");
	a->name = xstrdup(name ? name : "");
	a->request_id = request_id ? xstrdup(request_id) : NULL;
	a->agent_id = agent_id ? xstrdup(agent_id) : NULL;
	a->taken_us = metrics_exec_now_us();
	char *key = xasprintf("%s%s", RESULT_PREFIX, a->name);
	const char *argv[2] = {"GET", key};
	size_t lens[2] = {3, strlen(key)};
	int rc = bus_command(ex->bus, 2, argv, lens, on_answer, a);
	free(key);
	if (rc < 0) {
		static char why[] = "Redis is not reachable";
		struct redisReply fake = {.type = REDIS_REPLY_ERROR, .str = why, .len = sizeof(why) - 1};
		on_answer(ex->bus, &fake, a);
	}
}
