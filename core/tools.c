/*
 * tools: the command table and what the commands share: option handling
 * and the human rendering of a status message (the console's feed uses the
 * same words as `tasker watch`).
 */
#include "tools.h"

#include <locale.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "local_addr.h"
#include "sig.h"
#include "text.h"
#include "util.h"

const struct tool tools_table[] = {
	{"exec", "run the headless executor: carry out commands with PM2", tool_exec},
	{"key", "make an Ed25519 key pair for signed commands (key new NAME)", tool_key},
	{"send", "publish a command (slash line or JSON) and optionally wait for its outcome",
	 tool_send},
	{"watch", "print status messages as they arrive", tool_watch},
	{"ls", "list PM2 tasks once (from the PM2 daemon)", tool_ls},
	{"logs", "print a task's last log lines, and follow them (from the node holding it)",
	 tool_logs},
	{"audit", "read the audit stream: who was allowed or refused what (--since, --agent)",
	 tool_audit},
	{"result", "print a one-shot task's result: exit code, times, last lines (from Redis)",
	 tool_result},
	{"parse", "print the parse of a slash line as JSON (no network)", tool_parse},
	{NULL, NULL, NULL},
};

int tools_sign_command(const char *key_path, char **json, char *err, size_t errlen)
{
	if (key_path == NULL)
		return 0;
	if (sig_init() < 0) {
		snprintf(err, errlen, "libsodium could not start (no randomness source)");
		return -1;
	}
	struct sig_key key;
	char why[300];
	if (sig_read_secret(key_path, &key, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "--key: %s", why);
		return -1;
	}
	char *wrapped = sig_wrap(SIG_COMMAND, &key, *json, strlen(*json));
	sig_key_wipe(&key);
	if (wrapped == NULL) {
		snprintf(err, errlen, "the command is too long to sign (at most %d bytes)",
			 SIG_MAX_INNER);
		return -1;
	}
	free(*json);
	*json = wrapped;
	return 0;
}

const struct tool *tools_find(const char *name)
{
	for (const struct tool *t = tools_table; t->name != NULL; t++)
		if (strcmp(t->name, name) == 0)
			return t;
	return NULL;
}

int tools_usage_error(const char *cmd, const char *msg)
{
	if (msg != NULL)
		fprintf(stderr, "tasker %s: %s\n", cmd, msg);
	fprintf(stderr, "Try 'tasker %s --help'.\n", cmd);
	return EXIT_USAGE;
}

int tools_getopt(struct config *cfg, int argc, char **argv, const char *shortopts,
		 const struct option *longopts, const char *cmd)
{
	for (;;) {
		int c = getopt_long(argc, argv, shortopts, longopts, NULL);
		if (c == -1)
			return -1;
		if (c == '?' || c == ':') {
			tools_usage_error(cmd, NULL);
			return '?';
		}
		char err[300];
		int r = config_option(cfg, c, optarg, err, sizeof(err));
		if (r < 0) {
			tools_usage_error(cmd, err);
			return '?';
		}
		if (r == 0)
			return c;
	}
}

/*
 * No address given and nothing at the default: the Redis of a running
 * `tasker --local` console, when its file names one that answers (the
 * README's tour: `make run` in one shell, `tasker send` in another). Said
 * on stderr, so nobody wonders which server a command went to. The
 * executor never follows it: it serves the address it is given.
 */
static void find_local_console(struct config *cfg, const char *cmd)
{
	if (cfg->redis_explicit || strcmp(cmd, "exec") == 0 || local_addr_answers(&cfg->redis))
		return;
	char url[1024];
	long pid;
	if (local_addr_find(url, sizeof(url), &pid) < 0)
		return;
	struct redis_url found;
	char why[200];
	if (redis_url_parse(url, &found, why, sizeof(why)) < 0)
		return;
	if (!local_addr_answers(&found)) {
		redis_url_free(&found);
		return;
	}
	char shown[1100];
	redis_url_redact(&found, shown, sizeof(shown));
	fprintf(stderr, "tasker %s: nothing answers at %s; using the Redis of the --local console (pid %ld): %s\n",
		cmd, CONFIG_DEFAULT_REDIS, pid, shown);
	redis_url_free(&cfg->redis);
	cfg->redis = found;
	free(cfg->redis_text);
	cfg->redis_text = xstrdup(url);
}

int tools_finish_config(struct config *cfg, const char *cmd)
{
	char err[300];
	if (config_finish(cfg, err, sizeof(err)) < 0) {
		fprintf(stderr, "tasker %s: %s\n", cmd, err);
		return EXIT_USAGE;
	}
	find_local_console(cfg, cmd);
	return 0;
}

static int count_tasks(const cJSON *tasks, const char *status)
{
	int n = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, tasks)
	{
		const cJSON *s = cJSON_GetObjectItemCaseSensitive(t, "status");
		if (cJSON_IsString(s) && strcmp(s->valuestring, status) == 0)
			n++;
	}
	return n;
}

void tools_describe_status(const struct status_view *v, char *buf, size_t size)
{
	const char *task = v->task_name ? v->task_name : "-";
	if (v->type != NULL && strcmp(v->type, "task_list") == 0) {
		const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(v->root, "tasks");
		int n = cJSON_IsArray(tasks) ? cJSON_GetArraySize(tasks) : 0;
		snprintf(buf, size, "task_list: %d task%s (%d online, %d stopped, %d errored)%s%s", n,
			 n == 1 ? "" : "s", count_tasks(tasks, "online"), count_tasks(tasks, "stopped"),
			 count_tasks(tasks, "errored"), v->node ? " on " : "", v->node ? v->node : "");
		return;
	}
	char id[96] = "";
	const cJSON *ids = cJSON_GetObjectItemCaseSensitive(v->root, "pm_ids");
	int nids = cJSON_IsArray(ids) ? cJSON_GetArraySize(ids) : 0;
	if (nids > 1) {
		/* Several instances: the first ids, then how many in all. */
		size_t o = (size_t)snprintf(id, sizeof(id), " (pm_ids");
		int shown = 0;
		const cJSON *x;
		cJSON_ArrayForEach(x, ids)
		{
			if (!cJSON_IsNumber(x) || shown == 4)
				break;
			long pm_id;
			if (!codec_json_long(x, 0, 999999999, &pm_id))
				break; /* not an id PM2 could have given: say no more */
			o += (size_t)snprintf(id + o, sizeof(id) - o, "%s %ld", shown ? "," : "", pm_id);
			shown++;
		}
		if (nids > shown)
			snprintf(id + o, sizeof(id) - o, ", ... %d in all)", nids);
		else
			snprintf(id + o, sizeof(id) - o, ")");
	} else if (v->pm_id >= 0) {
		snprintf(id, sizeof(id), " (pm_id %ld)", v->pm_id);
	}
	if (v->type != NULL && strcmp(v->type, "task_result") == 0 && v->status == NULL) {
		/* A one-shot task ended (docs/protocol.md, section 14). */
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(v->root, "exit_code");
		const cJSON *sig = cJSON_GetObjectItemCaseSensitive(v->root, "signal");
		const cJSON *dur = cJSON_GetObjectItemCaseSensitive(v->root, "duration_ms");
		long c = 0;
		char how[80];
		if (codec_json_long(code, -2147483648L, 2147483647L, &c))
			snprintf(how, sizeof(how), "exited with code %ld", c);
		else
			snprintf(how, sizeof(how), "ended by %.32s",
				 cJSON_IsString(sig) ? sig->valuestring : "a signal");
		snprintf(buf, size, "result %s%s: %s after %.3f s", task, id, how,
			 cJSON_IsNumber(dur) ? dur->valuedouble / 1000.0 : 0.0);
		return;
	}
	if (v->type != NULL && strcmp(v->type, "job_step") == 0) {
		/* A job's step started or ended (docs/protocol.md, section 16). */
		const cJSON *job = cJSON_GetObjectItemCaseSensitive(v->root, "job");
		const cJSON *step = cJSON_GetObjectItemCaseSensitive(v->root, "step");
		const cJSON *code = cJSON_GetObjectItemCaseSensitive(v->root, "exit_code");
		long c = 0;
		char how[64] = "";
		if (codec_json_long(code, -2147483648L, 2147483647L, &c))
			snprintf(how, sizeof(how), ", exit code %ld", c);
		snprintf(buf, size, "job %.64s step %.64s: %s (task %s%s)%s%.200s",
			 cJSON_IsString(job) ? job->valuestring : "?",
			 cJSON_IsString(step) ? step->valuestring : "?",
			 v->status ? v->status : "?", task, how, v->error ? ": " : "",
			 v->error ? v->error : "");
		return;
	}
	const char *status = v->status ? v->status : (v->type ? v->type : "?");
	const cJSON *lines = cJSON_GetObjectItemCaseSensitive(v->root, "lines");
	if (v->error == NULL && v->verb != NULL && strcmp(v->verb, "logs") == 0 &&
	    cJSON_IsArray(lines)) {
		/* A logs reply: how much, not the lines (tasker logs prints those). */
		int n = cJSON_GetArraySize(lines);
		bool cut = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(v->root, "truncated"));
		const cJSON *stream = cJSON_GetObjectItemCaseSensitive(v->root, "stream");
		snprintf(buf, size, "logs %s%s: %d line%s%s%s%.200s", task, id, n, n == 1 ? "" : "s",
			 cut ? " (older ones left out)" : "",
			 cJSON_IsString(stream) ? ", following on " : "",
			 cJSON_IsString(stream) ? stream->valuestring : "");
		return;
	}
	if (v->error != NULL)
		snprintf(buf, size, "%s %s%s: %s", status, task, id, v->error);
	else
		snprintf(buf, size, "%s %s%s", status, task, id);
}

void tools_clock(const struct status_view *v, char *buf, size_t size)
{
	int64_t ms;
	if (v == NULL || v->timestamp == NULL || codec_parse_iso_time(v->timestamp, &ms) < 0)
		ms = util_wall_ms();
	time_t secs = (time_t)(ms / 1000);
	struct tm tm;
	localtime_r(&secs, &tm);
	strftime(buf, size, "%H:%M:%S", &tm);
}

static bool ascii_letter(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

/*
 * Whether a LINE word starts a new command: /VERB (a slash, an ASCII
 * letter, then letters or digits) followed by a blank or the end of the
 * word, after leading blanks. "/tmp/x" and "/verb-name" do not.
 */
static bool starts_command(const char *word)
{
	while (*word == ' ' || *word == '\t')
		word++;
	/* ASCII only, whatever the locale: the grammar's verb (grammar.md, rule 2). */
	if (word[0] != '/' || !ascii_letter(word[1]))
		return false;
	const char *p = word + 2;
	while (ascii_letter(*p) || (*p >= '0' && *p <= '9'))
		p++;
	return *p == '\0' || strchr(" \t\n\v\f\r", *p) != NULL;
}

int tools_command_end(int argc, char **argv, int first)
{
	int end = first + 1;
	while (end < argc && !starts_command(argv[end]))
		end++;
	return end;
}

char *tools_join_args(int argc, char **argv, int from)
{
	size_t total = 1;
	for (int i = from; i < argc; i++)
		total += strlen(argv[i]) + 1;
	char *joined = xmalloc(total);
	size_t o = 0;
	for (int i = from; i < argc; i++) {
		size_t n = strlen(argv[i]);
		memcpy(joined + o, argv[i], n);
		o += n;
		if (i + 1 < argc)
			joined[o++] = ' ';
	}
	joined[o] = '\0';
	return joined;
}

void tools_print_human(FILE *out, const char *text, size_t len)
{
	/* An escape takes at most 10 bytes for a character of 1 to 4. */
	char buf[8 * 1024];
	if (len > sizeof(buf) / 4 - 1)
		len = text_utf8_trim(text, sizeof(buf) / 4 - 1);
	text_escape(text, len, SIZE_MAX, buf, sizeof(buf));
	fprintf(out, "%s\n", buf);
}

void tools_use_locale(void)
{
	setlocale(LC_CTYPE, "");
}
