/*
 * audit: see audit.h. The writer is fire and forget: a Redis that refuses
 * the stream (an ACL without XADD) costs one log line, not a command.
 */
#include "audit.h"

#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "log.h"
#include "util.h"

static void add_text(cJSON *obj, const char *name, const char *value)
{
	if (value != NULL)
		cJSON_AddStringToObject(obj, name, value);
	else
		cJSON_AddNullToObject(obj, name);
}

char *audit_encode(const struct audit_record *r, int64_t wall_ms)
{
	cJSON *obj = cJSON_CreateObject();
	char stamp[40];
	util_iso_time(wall_ms, stamp, sizeof(stamp));
	cJSON_AddNumberToObject(obj, "ts", (double)wall_ms);
	cJSON_AddStringToObject(obj, "time", stamp);
	cJSON_AddStringToObject(obj, "decision", r->allowed ? "allow" : "deny");
	add_text(obj, "status", r->allowed ? NULL : r->status);
	add_text(obj, "node", r->node);
	add_text(obj, "agent", r->agent);
	add_text(obj, "key", r->key);
	add_text(obj, "agent_id", r->agent_id);
	add_text(obj, "role", r->role);
	add_text(obj, "verb", r->verb);
	add_text(obj, "task", r->task);
	add_text(obj, "request_id", r->request_id);
	add_text(obj, "reason", r->reason);
	char *text = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	if (text == NULL)
		abort();
	return text;
}

static void on_added(struct bus *bus, redisReply *reply, void *arg)
{
	(void)bus;
	bool *refused_said = arg;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR) {
		if (!*refused_said)
			log_warn("audit: Redis refused the audit stream %s: %s", AUDIT_KEY, reply->str);
		*refused_said = true;
	} else if (reply != NULL) {
		*refused_said = false;
	}
}

void audit_write(struct bus *bus, const struct audit_record *r, int64_t wall_ms,
		 bool *refused_said)
{
	char *text = audit_encode(r, wall_ms);
	const char *argv[8] = {"XADD", AUDIT_KEY, "MAXLEN", "~", AUDIT_MAXLEN, "*", AUDIT_FIELD, text};
	size_t lens[8];
	for (int i = 0; i < 8; i++)
		lens[i] = strlen(argv[i]);
	if (bus != NULL && bus_command(bus, 8, argv, lens, on_added, refused_said) < 0 &&
	    !*refused_said)
		log_warn("audit: Redis is not reachable; this decision is in the log only");
	free(text);
}
