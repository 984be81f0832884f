/*
 * fleet_tasks: see fleet_tasks.h. The record of each task is the one the
 * status reply uses (codec_task_json), so readers need one decoder.
 */
#include "fleet_tasks.h"

#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "pm2.h"
#include "util.h"

char *fleet_tasks_key(const char *node)
{
	return xasprintf("%s%s", FLEET_TASKS_PREFIX, node);
}

char *fleet_tasks_encode(const struct pm2_proc *procs, size_t n, const char *node,
			 const char *host, long pid, int64_t now_ms)
{
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "node", node);
	cJSON_AddStringToObject(obj, "host", host);
	cJSON_AddNumberToObject(obj, "pid", (double)pid);
	char stamp[40];
	util_iso_time(now_ms, stamp, sizeof(stamp));
	cJSON_AddStringToObject(obj, "at", stamp);
	cJSON_AddNumberToObject(obj, "count", (double)n);
	cJSON *arr = cJSON_AddArrayToObject(obj, "tasks");
	for (size_t i = 0; i < n; i++)
		cJSON_AddItemToArray(arr, codec_task_json(&procs[i], now_ms, node));
	char *s = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (s == NULL)
		abort();
	return s;
}

static uint64_t fnv(uint64_t h, const void *p, size_t len)
{
	const unsigned char *b = p;
	for (size_t i = 0; i < len; i++) {
		h ^= b[i];
		h *= 1099511628211ull;
	}
	return h;
}

uint64_t fleet_tasks_digest(const struct pm2_proc *procs, size_t n)
{
	uint64_t h = 14695981039346656037ull;
	for (size_t i = 0; i < n; i++) {
		const struct pm2_proc *p = &procs[i];
		h = fnv(h, p->name, strlen(p->name) + 1);
		h = fnv(h, p->status, strlen(p->status) + 1);
		h = fnv(h, &p->pm_id, sizeof(p->pm_id));
		h = fnv(h, &p->restart_time, sizeof(p->restart_time));
	}
	return h;
}

const cJSON *fleet_tasks_decode(const char *text, size_t len, cJSON **root)
{
	*root = cJSON_ParseWithLength(text, len);
	const cJSON *tasks = cJSON_GetObjectItemCaseSensitive(*root, "tasks");
	if (!cJSON_IsObject(*root) || !cJSON_IsArray(tasks)) {
		cJSON_Delete(*root);
		*root = NULL;
		return NULL;
	}
	return tasks;
}
