/*
 * executor: see executor.h. Owns the PM2 client and event reader it uses,
 * the commands in flight, the presence key, and the relay of PM2's own
 * events to the status channel.
 *
 * A command is a small state machine driven by PM2 replies: it lists the
 * processes, decides, acts (prepare, stop, restart, delete), and replies.
 * Commands for the same task name run one after another, in arrival order,
 * so "start api" then "stop api" can never cross; commands for different
 * names run side by side (the daemon pipelines them).
 *
 * What it must not do: run a shell, pass its own environment to tasks, act
 * on input it has not validated, or leave a command without a reply.
 */
#include "executor.h"

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "executor_int.h"
#include "fleet_tasks.h"
#include "log.h"
#include "metrics_exec.h"
#include "util.h"

#define DRAIN_DEADLINE_MS 15000

/* --- lifecycle ---------------------------------------------------------------- */

void executor_bus_state(struct executor *ex, bool ready)
{
	if (ready) {
		/* "ready" means Redis confirmed the subscription: a command sent
		 * after this line is seen. */
		log_info("ready: listening on %s (Redis %s), replying on %s, PM2_HOME %s",
			 ex->cfg->channel, bus_address(ex->bus), ex->cfg->status_channel,
			 ex->pm2_home);
		ex->ready_logged = true;
		history_flush(ex->history);
		exec_presence_write(ex);
		exec_fleet_bus_state(ex, true);
	}
}

struct executor *executor_new(struct loop *loop, struct bus *bus, const struct config *cfg,
			      const struct exec_options *opt, char *err, size_t errlen)
{
	char *home = opt->pm2_home ? xstrdup(opt->pm2_home) : pm2_home_path();
	if (home == NULL) {
		snprintf(err, errlen, "neither PM2_HOME nor HOME is set: cannot find PM2");
		return NULL;
	}
	struct executor *ex = xcalloc(1, sizeof(*ex));
	ex->loop = loop;
	ex->bus = bus;
	ex->cfg = cfg;
	ex->pm2_home = home;
	ex->self_pm_id = -1;
	const char *self = getenv("pm_id");
	if (self != NULL && isdigit((unsigned char)self[0]))
		ex->self_pm_id = atoi(self);
	ex->presence_ttl = opt->presence_ttl > 0 ? opt->presence_ttl
			   : cfg->presence_ttl > 0 ? cfg->presence_ttl
						   : 30;
	ex->default_max_memory = opt->default_max_memory;
	ex->command_timeout_ms =
		opt->command_timeout_ms > 0 ? opt->command_timeout_ms : EXEC_DEFAULT_COMMAND_TIMEOUT_MS;
	exec_commands_init(ex);
	exec_view_new(ex);
	ex->metrics = opt->metrics ? metrics_exec_new(cfg->node) : NULL;

	static const char *const base[] = {"PATH", "HOME", "LANG"};
	for (size_t i = 0; i < 3; i++) {
		ex->base_env_keys = xrealloc(ex->base_env_keys, (ex->nbase + 1) * sizeof(char *));
		ex->base_env_keys[ex->nbase++] = xstrdup(base[i]);
	}
	if (opt->pass_env != NULL && opt->pass_env[0] != '\0') {
		char *list = xstrdup(opt->pass_env);
		char *save = NULL;
		for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
			if (!check_env_name(tok)) {
				snprintf(err, errlen, "--pass-env: '%.60s' is not a variable name", tok);
				free(list);
				executor_free(ex);
				return NULL;
			}
			ex->base_env_keys = xrealloc(ex->base_env_keys, (ex->nbase + 1) * sizeof(char *));
			ex->base_env_keys[ex->nbase++] = xstrdup(tok);
		}
		free(list);
	}

	char cwd[PATH_MAX];
	const char *basedir = opt->cwd_base;
	if (basedir == NULL)
		basedir = getcwd(cwd, sizeof(cwd)) ? cwd : "/";
	char real[PATH_MAX];
	if (realpath(basedir, real) == NULL) {
		snprintf(err, errlen, "--cwd-base %.200s: %s", basedir, strerror(errno));
		executor_free(ex);
		return NULL;
	}
	ex->cwd_base = xstrdup(real);
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	ex->start_def = (struct start_defaults){
		.pass_env = (const char *const *)ex->base_env_keys,
		.npass = ex->nbase,
		.cwd_base = ex->cwd_base,
		.max_memory = ex->default_max_memory,
		.cpus = cpus > 0 ? (int)cpus : 1,
	};
	if (exec_auth_new(ex, opt->policy_path, err, errlen) < 0) {
		executor_free(ex);
		return NULL;
	}

	char why[256];
	ex->pm2_bin = opt->no_start_pm2 ? NULL : pm2_find_bin(opt->pm2_bin, NULL, why, sizeof(why));
	if (opt->no_start_pm2) {
		ex->pm2_bin_error = xstrdup("--no-start-pm2 is set");
	} else if (ex->pm2_bin == NULL) {
		if (opt->pm2_bin != NULL) {
			snprintf(err, errlen, "--pm2: %s", why);
			executor_free(ex);
			return NULL;
		}
		ex->pm2_bin_error = xstrdup(why);
		log_warn("pm2: %s; tasker can use a running daemon but cannot start one", why);
	}

	if (exec_sign_setup(ex, err, errlen) < 0) {
		executor_free(ex);
		return NULL;
	}
	ex->pm2 = pm2_client_new(loop, ex->pm2_home, NULL, ex);
	/* A command's own deadline, not a PM2 call's, decides when it is
	 * answered: calls may take a little longer than that. */
	if (ex->command_timeout_ms + 2000 > PM2_DEFAULT_TIMEOUT_MS)
		pm2_client_set_limits(ex->pm2, ex->command_timeout_ms + 2000, 0);
	ex->events = pm2_events_new(loop, ex->pm2_home, 0, exec_relay_event, exec_relay_state, ex);
	ex->presence_key = xasprintf("b00t:tasker:executor:%s", cfg->node);
	ex->tasks_key = fleet_tasks_key(cfg->node);
	ex->history = history_writer_new(bus, cfg->status_channel,
					 opt->history_len == 0 ? HISTORY_DEFAULT_LEN : opt->history_len);
	ex->presence_timer = loop_timer_add(loop, 0, exec_presence_timer, ex);
	exec_fleet_new(ex);
	exec_job_new(ex);
	return ex;
}

void executor_on_conflict(struct executor *ex, void (*fn)(const char *why, void *arg), void *arg)
{
	ex->on_conflict = fn;
	ex->conflict_arg = arg;
}

const char *executor_pm2_home(const struct executor *ex)
{
	return ex->pm2_home;
}

static void drain_finish(struct executor *ex)
{
	if (ex->drain_done == NULL)
		return;
	void (*done)(void *) = ex->drain_done;
	ex->drain_done = NULL;
	loop_timer_cancel(ex->drain_deadline);
	ex->drain_deadline = NULL;
	done(ex->drain_arg);
}

static void on_drain_deadline(struct loop *loop, void *arg)
{
	(void)loop;
	struct executor *ex = arg;
	ex->drain_deadline = NULL;
	log_warn("shutdown: giving up on %zu command(s) and %zu reply(ies) after %d s",
		 executor_inflight(ex), ex->unacked, DRAIN_DEADLINE_MS / 1000);
	drain_finish(ex);
}

static void on_presence_deleted(struct bus *bus, struct redisReply *reply, void *arg)
{
	(void)bus;
	struct executor *ex = arg;
	if (reply != NULL && reply->type == REDIS_REPLY_ERROR)
		log_warn("redis refused to delete the presence key: %s", reply->str);
	if (ex->unacked > 0)
		ex->unacked--;
	exec_drain_check(ex);
}

void exec_drain_check(struct executor *ex)
{
	if (!ex->draining || ex->drain_done == NULL || ex->commands != NULL)
		return;
	if (ex->presence_key != NULL && bus_can_command(ex->bus)) {
		/* Others learn at once that this executor is gone, not 30 s later:
		 * its presence and its task table go together. */
		const char *keys[2] = {ex->presence_key, ex->tasks_key};
		for (size_t i = 0; i < 2; i++) {
			/* One DEL each: on Redis Cluster they live in other slots. */
			const char *argv[2] = {"DEL", keys[i]};
			size_t lens[2] = {3, strlen(keys[i])};
			if (bus_command(ex->bus, 2, argv, lens, on_presence_deleted, ex) == 0)
				ex->unacked++;
		}
		free(ex->presence_key);
		ex->presence_key = NULL;
	}
	if (ex->unacked == 0 || !bus_can_command(ex->bus))
		drain_finish(ex);
}

void executor_drain(struct executor *ex, void (*done)(void *arg), void *arg)
{
	ex->draining = true;
	ex->drain_done = done;
	ex->drain_arg = arg;
	loop_timer_cancel(ex->presence_timer);
	ex->presence_timer = NULL;
	exec_logs_end_all(ex, "error: the executor is shutting down");
	exec_deps_drain(ex);
	exec_job_drain(ex);
	if (ex->commands != NULL)
		log_info("shutdown: finishing %zu command(s) in flight", executor_inflight(ex));
	ex->drain_deadline = loop_timer_add(ex->loop, DRAIN_DEADLINE_MS, on_drain_deadline, ex);
	exec_drain_check(ex);
}

void executor_free(struct executor *ex)
{
	if (ex == NULL)
		return;
	exec_commands_free(ex);
	exec_deps_free(ex);
	exec_job_free(ex);
	exec_sign_free(ex);
	exec_logs_free(ex);
	exec_orphans_free(ex);
	exec_fleet_free(ex);
	exec_auth_free(ex);
	free(ex->batch_sent);
	free(ex->batch_next);
	free(ex->view_batch);
	loop_timer_cancel(ex->view_timer);
	exec_view_free(ex);
	if (ex->launch != NULL)
		pm2_launch_cancel(ex->launch);
	pm2_events_free(ex->events);
	pm2_client_free(ex->pm2);
	loop_timer_cancel(ex->events_retry);
	loop_timer_cancel(ex->presence_timer);
	loop_timer_cancel(ex->tasks_timer);
	loop_timer_cancel(ex->drain_deadline);
	for (size_t i = 0; i < ex->nbase; i++)
		free(ex->base_env_keys[i]);
	free(ex->base_env_keys);
	free(ex->cwd_base);
	free(ex->pm2_bin);
	free(ex->pm2_bin_error);
	free(ex->pm2_home);
	free(ex->pm2_version);
	free(ex->presence_key);
	free(ex->tasks_key);
	history_writer_free(ex->history);
	metrics_exec_free(ex->metrics);
	free(ex->marks);
	for (size_t i = 0; i < SEEN_IDS; i++)
		free(ex->seen[i]);
	free(ex);
}
