/*
 * pm2_calls: see pm2.h. Owns the named calls the rest of tasker makes
 * (ping, version, the listing, start, stop, restart, delete): the argument
 * each method takes, and the notifyByProcessId that follows a stop,
 * restart or delete so pub.sock reports it as it does after the pm2
 * command. Every call goes through pm2_client_call (pm2_rpc.c): this file
 * opens no socket and encodes no bytes.
 */
#include "pm2_int.h"

#include <stdlib.h>

#include "log.h"
#include "util.h"

/* A new one-element args array around item (which it takes); the caller
 * frees it with cJSON_Delete. */
static cJSON *args_of(cJSON *item)
{
	cJSON *a = cJSON_CreateArray();
	if (a == NULL || item == NULL || !cJSON_AddItemToArray(a, item))
		abort();
	return a;
}

/* A new {} the caller owns. */
static cJSON *empty_object(void)
{
	cJSON *o = cJSON_CreateObject();
	if (o == NULL)
		abort();
	return o;
}

static uint64_t call_simple(struct pm2_client *c, const char *method, cJSON *args, pm2_reply_fn fn,
                            void *arg, void (*drop)(void *), const char **err)
{
	uint64_t id = pm2_client_call(c, &c->calls, method, args, 0, fn, NULL, arg, drop, err);
	cJSON_Delete(args);
	return id;
}

uint64_t pm2_ping(struct pm2_client *c, pm2_reply_fn fn, void *arg)
{
	return call_simple(c, "ping", args_of(empty_object()), fn, arg, NULL, NULL);
}

uint64_t pm2_version(struct pm2_client *c, pm2_reply_fn fn, void *arg)
{
	return call_simple(c, "getVersion", args_of(empty_object()), fn, arg, NULL, NULL);
}

uint64_t pm2_list(struct pm2_client *c, pm2_list_fn fn, void *arg)
{
	if (fn == NULL)
		return 0;
	cJSON *args = args_of(empty_object());
	uint64_t id =
	    pm2_client_call(c, &c->lists, "getMonitorData", args, 0, NULL, fn, arg, NULL, NULL);
	cJSON_Delete(args);
	return id;
}

uint64_t pm2_start(struct pm2_client *c, const cJSON *conf, pm2_reply_fn fn, void *arg,
                   const char **err)
{
	cJSON *dup = cJSON_Duplicate(conf, 1);
	if (dup == NULL) {
		if (err != NULL)
			*err = "no conf given";
		return 0;
	}
	return call_simple(c, "prepare", args_of(dup), fn, arg, NULL, err);
}

static void ignore_reply(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	(void)arg;
	if (error != NULL)
		log_debug("pm2: notifyByProcessId failed: %s", error);
}

static void send_notify(struct pm2_client *c, int pm_id, const char *action)
{
	cJSON *o = empty_object();
	if (!cJSON_AddNumberToObject(o, "id", pm_id) ||
	    !cJSON_AddStringToObject(o, "action_name", action) ||
	    !cJSON_AddBoolToObject(o, "manually", true))
		abort();
	call_simple(c, "notifyByProcessId", args_of(o), ignore_reply, NULL, NULL, NULL);
}

struct chain_ctx {
	pm2_reply_fn fn;
	void *arg;
	int pm_id;
	const char *action;
};

/* After a successful stop or restart, tell the event socket, as pm2 does. */
static void chain_done(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	struct chain_ctx *ctx = arg;
	if (error == NULL)
		send_notify(c, ctx->pm_id, ctx->action);
	ctx->fn(c, result, error, ctx->arg);
	free(ctx);
}

static uint64_t call_chained(struct pm2_client *c, const char *method, cJSON *args, int pm_id,
                             const char *action, pm2_reply_fn fn, void *arg)
{
	if (fn == NULL) {
		cJSON_Delete(args);
		return 0;
	}
	struct chain_ctx *ctx = xmalloc(sizeof(*ctx));
	*ctx = (struct chain_ctx){fn, arg, pm_id, action};
	uint64_t id = call_simple(c, method, args, chain_done, ctx, free, NULL);
	if (id == 0)
		free(ctx);
	return id;
}

uint64_t pm2_stop(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg)
{
	if (pm_id < 0)
		return 0;
	return call_chained(c, "stopProcessId", args_of(cJSON_CreateNumber(pm_id)), pm_id, "stop",
	                    fn, arg);
}

uint64_t pm2_restart(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg)
{
	if (pm_id < 0)
		return 0;
	cJSON *o = empty_object();
	if (!cJSON_AddNumberToObject(o, "id", pm_id))
		abort();
	return call_chained(c, "restartProcessId", args_of(o), pm_id, "restart", fn, arg);
}

uint64_t pm2_delete(struct pm2_client *c, int pm_id, pm2_reply_fn fn, void *arg)
{
	if (pm_id < 0 || fn == NULL)
		return 0;
	send_notify(c, pm_id, "delete");
	return call_simple(c, "deleteProcessId", args_of(cJSON_CreateNumber(pm_id)), fn, arg, NULL,
	                   NULL);
}
