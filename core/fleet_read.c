/*
 * fleet_read: see fleet_read.h. A table's task records are the ones the
 * status reply uses (codec_task_json); the decoder here is their inverse,
 * so `tasker ls --fleet` and the console show the same figures.
 */
#include "fleet_read.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "codec.h"
#include "pm2.h"
#include "util.h"

static char *text_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return xstrdup(cJSON_IsString(v) ? v->valuestring : "");
}

static long long_of(const cJSON *obj, const char *key, long lo, long hi)
{
	long v = 0;
	if (!codec_json_long(cJSON_GetObjectItemCaseSensitive(obj, key), lo, hi, &v))
		v = 0;
	return v;
}

static double num_of(const cJSON *obj, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(obj, key);
	return cJSON_IsNumber(v) && v->valuedouble >= 0 && v->valuedouble < 1e15 ? v->valuedouble
										  : 0;
}

/* One record of a table; false when it is not an object with a name. */
static bool proc_from_json(const cJSON *t, int64_t now_ms, struct pm2_proc *p)
{
	const cJSON *name = cJSON_GetObjectItemCaseSensitive(t, "name");
	if (!cJSON_IsObject(t) || !cJSON_IsString(name))
		return false;
	memset(p, 0, sizeof(*p));
	p->name = xstrdup(name->valuestring);
	p->status = text_of(t, "status");
	p->state = pm2_status_parse(p->status);
	p->namespace = xstrdup("");
	p->exec_mode = text_of(t, "mode");
	p->cluster = strcmp(p->exec_mode, "cluster") == 0;
	p->pm_cwd = xstrdup("");
	p->pm_exec_path = xstrdup("");
	p->exec_interpreter = xstrdup("");
	p->out_log_path = xstrdup("");
	p->err_log_path = xstrdup("");
	const cJSON *owner = cJSON_GetObjectItemCaseSensitive(t, "owner");
	if (cJSON_IsString(owner))
		p->owner = xstrdup(owner->valuestring);
	const cJSON *cron = cJSON_GetObjectItemCaseSensitive(t, "cron");
	if (cJSON_IsString(cron) && strlen(cron->valuestring) <= 200)
		p->cron = xstrdup(cron->valuestring);
	p->pm_id = (int)long_of(t, "pm_id", 0, 1000000000L);
	p->pid = (int)long_of(t, "pid", 0, 2147483647L);
	p->restart_time = (int)long_of(t, "restarts", 0, 1000000000L);
	p->instances = (int)long_of(t, "instances", 0, 1000000L);
	p->cpu = num_of(t, "cpu");
	p->memory = (uint64_t)num_of(t, "memory");
	double up = num_of(t, "uptime");
	p->pm_uptime = up > 0 && p->state == PM2_ST_ONLINE ? now_ms - (int64_t)up : 0;
	return true;
}

int fleet_read_table(const char *text, size_t len, int64_t now_ms, struct pm2_proc **out,
		     size_t *n, char *node_out, size_t nodelen, char ***task_nodes)
{
	*out = NULL;
	*n = 0;
	if (task_nodes != NULL)
		*task_nodes = NULL;
	if (node_out != NULL && nodelen > 0)
		node_out[0] = '\0';
	cJSON *root;
	const cJSON *tasks = fleet_tasks_decode(text, len, &root);
	if (tasks == NULL)
		return -1;
	const cJSON *node = cJSON_GetObjectItemCaseSensitive(root, "node");
	if (node_out != NULL && nodelen > 0 && cJSON_IsString(node))
		snprintf(node_out, nodelen, "%s", node->valuestring);
	size_t total = (size_t)cJSON_GetArraySize(tasks);
	struct pm2_proc *procs = xcalloc(total + 1, sizeof(*procs));
	char **nodes = task_nodes != NULL ? xcalloc(total + 1, sizeof(char *)) : NULL;
	size_t k = 0;
	const cJSON *t;
	cJSON_ArrayForEach(t, tasks)
	{
		if (k >= total || !proc_from_json(t, now_ms, &procs[k]))
			continue;
		if (nodes != NULL) {
			const cJSON *own = cJSON_GetObjectItemCaseSensitive(t, "node");
			nodes[k] = xstrdup(cJSON_IsString(own)	  ? own->valuestring
					   : cJSON_IsString(node) ? node->valuestring
								  : "");
		}
		k++;
	}
	if (task_nodes != NULL)
		*task_nodes = nodes;
	cJSON_Delete(root);
	*out = procs;
	*n = k;
	return 0;
}

const char *fleet_read_key_node(const char *key, size_t len, const char *prefix)
{
	size_t pl = strlen(prefix);
	if (len <= pl || len - pl > FLEET_NODE_MAX || strncmp(key, prefix, pl) != 0 ||
	    memchr(key, '\0', len) != NULL)
		return NULL;
	return key + pl;
}

int fleet_read_sync(struct redisContext *rc, char ***texts, size_t *n, char *err, size_t errlen)
{
	*texts = NULL;
	*n = 0;
	char cursor[32] = "0";
	do {
		redisReply *r = redisCommand(rc, "SCAN %s MATCH %s COUNT 500", cursor, FLEET_TASKS_MATCH);
		if (r == NULL || r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		    r->element[0]->type != REDIS_REPLY_STRING) {
			snprintf(err, errlen, "SCAN failed: %s",
				 r && r->type == REDIS_REPLY_ERROR ? r->str : rc->errstr);
			freeReplyObject(r);
			return -1;
		}
		snprintf(cursor, sizeof(cursor), "%s", r->element[0]->str);
		const redisReply *keys = r->element[1];
		for (size_t i = 0; keys->type == REDIS_REPLY_ARRAY && i < keys->elements; i++) {
			const redisReply *k = keys->element[i];
			if (k->type != REDIS_REPLY_STRING)
				continue;
			redisReply *v = redisCommand(rc, "GET %b", k->str, k->len);
			if (v != NULL && v->type == REDIS_REPLY_STRING) {
				*texts = xrealloc(*texts, (*n + 1) * sizeof(char *));
				(*texts)[(*n)++] = xstrndup(v->str, v->len);
			}
			freeReplyObject(v);
		}
		freeReplyObject(r);
	} while (strcmp(cursor, "0") != 0);
	return 0;
}
