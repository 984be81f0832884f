/*
 * exec_presence: the executor's presence key (b00t:tasker:executor:<node>),
 * written every PRESENCE_EVERY_MS with a short TTL so that consoles and
 * operators see which executors are alive, with versions and task count;
 * and its task table (fleet_tasks.h), written on every change and with
 * each presence refresh.
 * The presence listing is also how an executor notices at start-up that no
 * PM2 daemon answers, and starts one.
 *
 * Must not: write the key again after a shutdown deleted it.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "bus.h"
#include "codec.h"
#include "executor_int.h"
#include "fleet_tasks.h"
#include "log.h"
#include "metrics_exec.h"
#include "loop.h"
#include "util.h"

#define PRESENCE_EVERY_MS 5000
#define TASKS_TTL_S 20 /* a table outlives four refreshes, not more */
#define TASKS_SOON_MS 200 /* PM2 events in a burst share one listing */

static void on_version(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct executor *ex = arg;
	if (error == NULL && cJSON_IsString(result)) {
		free(ex->pm2_version);
		ex->pm2_version = xstrdup(result->valuestring);
	}
	exec_presence_write(ex);
}

/*
 * The presence key is also the node's claim: one executor per node and
 * command channel. The script writes it unless it names another executor
 * of this channel (another pid, or the same pid on another host; a claim
 * the console wrote for its own executor has our pid and may lack the
 * host), which it returns instead. ARGV: value, ttl, our pid, our host, our channel,
 * "1" to take over a key left by a dead process of this host.
 */
static const char claim_lua[] =
	"local cur = redis.call('GET', KEYS[1]) "
	"if cur and ARGV[6] ~= '1' then "
	"local ok, v = pcall(cjson.decode, cur) "
	"if ok and type(v) == 'table' and v.channel == ARGV[5] and "
	"(tostring(v.pid) ~= ARGV[3] or (v.host ~= nil and v.host ~= ARGV[4])) then "
	"return cur end end "
	"redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2]) return false";

static void presence_claim(struct executor *ex, bool force);

/* The key names another executor: stale (a dead pid of this host), or a
 * live one this executor must not run beside. */
static void presence_held(struct executor *ex, const char *text, size_t len)
{
	cJSON *v = cJSON_ParseWithLength(text, len);
	const cJSON *pid = cJSON_GetObjectItemCaseSensitive(v, "pid");
	const cJSON *host = cJSON_GetObjectItemCaseSensitive(v, "host");
	char me[256];
	util_hostname(me, sizeof(me));
	long p = 0;
	bool here = cJSON_IsString(host) && strcmp(host->valuestring, me) == 0;
	bool known = codec_json_long(pid, 1, 4194304, &p);
	if (here && known && kill((pid_t)p, 0) < 0 && errno == ESRCH) {
		log_warn("node %s: the presence key names pid %ld of this host, which is gone; "
			 "taking the node over",
			 ex->cfg->node, p);
		cJSON_Delete(v);
		presence_claim(ex, true);
		return;
	}
	char why[400];
	snprintf(why, sizeof(why),
		 "node %s is served by another executor (pid %ld on host %s, channel %s): "
		 "refusing to run a second one for it; stop that one, or give this one "
		 "another --node",
		 ex->cfg->node, p, cJSON_IsString(host) ? host->valuestring : "?",
		 ex->cfg->channel);
	cJSON_Delete(v);
	if (!ex->conflicted)
		log_error("%s", why);
	ex->conflicted = true;
	if (ex->on_conflict != NULL)
		ex->on_conflict(why, ex->conflict_arg);
}

static void on_presence_set(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct executor *ex = arg;
	if (reply != NULL && reply->type == REDIS_REPLY_STRING) {
		presence_held(ex, reply->str, reply->len);
		return;
	}
	/* Written, or refused (an ACL without the key: the executor works on
	 * as before): either way no other executor holds the node. */
	if (reply != NULL && reply->type != REDIS_REPLY_ERROR && ex->conflicted) {
		log_info("node %s: the other executor is gone; this one serves it now",
			 ex->cfg->node);
		ex->conflicted = false;
		ex->claimed = false; /* read from the start below */
	}
	if (reply != NULL && !ex->claimed) {
		ex->claimed = true;
		exec_fleet_bus_state(ex, true); /* the node is ours: read its stream */
	}
	bool refused = reply != NULL && reply->type == REDIS_REPLY_ERROR;
	/* An ACL without the presence keys: say so once, not every 5 s. */
	if (refused && !ex->presence_refused)
		log_error("redis refused the presence key %s: %s", ex->presence_key ? ex->presence_key : "", reply->str);
	ex->presence_refused = refused;
}

void exec_presence_write(struct executor *ex)
{
	presence_claim(ex, false);
}

static void presence_claim(struct executor *ex, bool force)
{
	/* After the DEL of a shutdown, a late listing must not bring it back. */
	if (ex->draining || ex->presence_key == NULL || !bus_can_command(ex->bus))
		return;
	cJSON *obj = cJSON_CreateObject();
	cJSON_AddStringToObject(obj, "node", ex->cfg->node);
	cJSON_AddStringToObject(obj, "version", TASKER_VERSION);
	cJSON_AddStringToObject(obj, "pm2_version", ex->pm2_version ? ex->pm2_version : "unknown");
	cJSON_AddBoolToObject(obj, "pm2_reachable", pm2_client_connected(ex->pm2));
	cJSON_AddNumberToObject(obj, "tasks", ex->task_count);
	cJSON_AddNumberToObject(obj, "pid", (double)getpid());
	char host[256];
	util_hostname(host, sizeof(host));
	cJSON_AddStringToObject(obj, "host", host);
	double load[1];
	if (getloadavg(load, 1) == 1)
		cJSON_AddNumberToObject(obj, "load", (double)(long)(load[0] * 100 + 0.5) / 100);
	cJSON_AddStringToObject(obj, "channel", ex->cfg->channel);
	cJSON_AddStringToObject(obj, "status_channel", ex->cfg->status_channel);
	if (ex->fleet != NULL && !exec_fleet_active(ex))
		cJSON_AddFalseToObject(obj, "fleet"); /* fell back: place nothing here */
	char stamp[40];
	util_iso_time(util_wall_ms(), stamp, sizeof(stamp));
	cJSON_AddStringToObject(obj, "seen", stamp);
	/* The key its status messages are signed with (docs/security.md). */
	if (ex->reply_key != NULL)
		cJSON_AddStringToObject(obj, "key", ex->reply_pub);
	char *value = cJSON_PrintUnformatted(obj);
	cJSON_Delete(obj);
	char ttl[16];
	snprintf(ttl, sizeof(ttl), "%d", ex->presence_ttl);
	char pid[24];
	snprintf(pid, sizeof(pid), "%ld", (long)getpid());
	const char *argv[10] = {"EVAL", claim_lua, "1",		 ex->presence_key, value,
				ttl,	pid,	   host,	 ex->cfg->channel, force ? "1" : "0"};
	size_t lens[10];
	for (int i = 0; i < 10; i++)
		lens[i] = strlen(argv[i]);
	bus_command(ex->bus, 10, argv, lens, on_presence_set, ex);
	free(value);
}

static void on_presence_list(struct pm2_client *c, struct pm2_proc *procs, size_t n,
			     const char *error, void *arg)
{
	(void)c;
	struct executor *ex = arg;
	if (error == NULL) {
		ex->task_count = (int)n;
		exec_orphans_seen_daemon(ex);
		exec_tasks_publish(ex, procs, n);
		exec_table_listed(ex, procs, n);
		exec_events_connect(ex);
		if (ex->pm2_version == NULL) {
			pm2_version(ex->pm2, on_version, ex); /* writes the presence */
			return;
		}
	} else {
		exec_table_listed(ex, NULL, 0);
		ex->task_count = -1;
		/* An executor exists to drive PM2: start the daemon once, at
		 * start-up, rather than on the first command. */
		if (!ex->launched_once && ex->launch == NULL && ex->pm2_bin != NULL &&
		    !pm2_client_connected(ex->pm2)) {
			char err[256];
			ex->launched_once = true;
			log_info("pm2: no daemon answers at %s; starting one", ex->pm2_home);
			ex->launch = pm2_daemon_start(ex->loop, ex->pm2_bin, ex->pm2_home, 0,
						      exec_daemon_started, ex, err, sizeof(err));
			if (ex->launch == NULL)
				log_error("pm2: could not start the daemon: %s", err);
		}
	}
	exec_presence_write(ex);
}

void exec_presence_timer(struct loop *loop, void *arg)
{
	struct executor *ex = arg;
	ex->presence_timer = loop_timer_add(loop, PRESENCE_EVERY_MS, exec_presence_timer, ex);
	if (ex->launch == NULL)
		exec_presence_refresh(ex);
	else
		exec_presence_write(ex);
}

void exec_presence_refresh(struct executor *ex)
{
	/* Nothing changed since the last listing (exec_table.c): the table's
	 * figures come from /proc, and the daemon is not asked. */
	if (ex->pm2_version != NULL && exec_table_refresh(ex)) {
		exec_presence_write(ex);
		return;
	}
	exec_table_asking(ex);
	if (pm2_list(ex->pm2, on_presence_list, ex) == 0)
		exec_table_listed(ex, NULL, 0);
}

static void on_tasks_set(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct executor *ex = arg;
	bool refused = reply != NULL && reply->type == REDIS_REPLY_ERROR;
	if (refused && !ex->tasks_refused)
		log_error("redis refused the task table %s: %s", ex->tasks_key, reply->str);
	ex->tasks_refused = refused;
}

void exec_tasks_publish(struct executor *ex, const struct pm2_proc *procs, size_t n)
{
	exec_logs_listed(ex, procs, n); /* a followed task deleted ends its follow */
	metrics_exec_tasks(ex, procs, n);
	if (ex->conflicted || ex->draining || ex->tasks_key == NULL || !bus_can_command(ex->bus))
		return;
	/* A change goes out at once; figures alone wait for the next refresh. */
	uint64_t digest = fleet_tasks_digest(procs, n);
	int64_t now = loop_now(ex->loop);
	if (digest == ex->tasks_digest && ex->tasks_at != 0 && now - ex->tasks_at < PRESENCE_EVERY_MS)
		return;
	ex->tasks_digest = digest;
	ex->tasks_at = now;
	char host[256];
	util_hostname(host, sizeof(host));
	char *value = fleet_tasks_encode(procs, n, ex->cfg->node, host, (long)getpid(), util_wall_ms());
	char ttl[16];
	snprintf(ttl, sizeof(ttl), "%d", TASKS_TTL_S);
	const char *argv[5] = {"SET", ex->tasks_key, value, "EX", ttl};
	size_t lens[5] = {3, strlen(ex->tasks_key), strlen(value), 2, strlen(ttl)};
	bus_command(ex->bus, 5, argv, lens, on_tasks_set, ex);
	free(value);
}

static void on_tasks_list(struct pm2_client *c, struct pm2_proc *procs, size_t n,
			  const char *error, void *arg)
{
	(void)c;
	struct executor *ex = arg;
	if (error != NULL) {
		exec_table_listed(ex, NULL, 0);
		return;
	}
	exec_tasks_publish(ex, procs, n);
	exec_table_listed(ex, procs, n);
}

static void on_tasks_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	ex->tasks_timer = NULL;
	exec_table_asking(ex);
	if (pm2_list(ex->pm2, on_tasks_list, ex) == 0)
		exec_table_listed(ex, NULL, 0);
}

void exec_tasks_soon(struct executor *ex)
{
	exec_table_changed(ex);
	if (ex->tasks_timer == NULL && !ex->draining)
		ex->tasks_timer = loop_timer_add(ex->loop, TASKS_SOON_MS, on_tasks_timer, ex);
}
