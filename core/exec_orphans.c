/*
 * exec_orphans: the processes a dead PM2 daemon left running, found,
 * stopped and reported.
 *
 * A daemon killed hard (SIGKILL, the OOM killer, a crash in the middle of a
 * start) leaves its fork-mode apps running with ppid 1, invisible to the
 * next daemon and to tasker; a start run again after that would double
 * them. Whenever a daemon is seen to be new (tasker started it, or its pid
 * changed between two listings) and once at start-up, the executor asks
 * pm2_orphans for such processes, sends each SIGTERM at once (before any
 * command runs again), SIGKILL to those still there after a grace, and
 * publishes one status message per process saying what became of it.
 *
 * Must not: touch a process of the live daemon or of another PM2_HOME
 * (pm2_orphans decides), block the loop, or report a process twice.
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec.h"
#include "executor_int.h"
#include "log.h"
#include "loop.h"
#include "pm2_orphans.h"
#include "util.h"

#define ORPHAN_GRACE_MS 3000 /* SIGTERM, then this long, then SIGKILL */
#define ORPHAN_KILL_MS 1000  /* SIGKILL, then this long, then the report */

struct orphan_sweep {
	struct pm2_orphan *found; /* as found, for the report */
	struct pm2_orphan *alive; /* still running (pruned) */
	size_t nfound, nalive;
	bool killed; /* SIGKILL sent */
	struct loop_timer *timer;
};

/* The live daemon's pid from $PM2_HOME/pm2.pid, or 0. */
static pid_t daemon_pid(const struct executor *ex)
{
	char *path = xasprintf("%s/pm2.pid", ex->pm2_home);
	FILE *f = fopen(path, "re");
	free(path);
	if (f == NULL)
		return 0;
	long pid = 0;
	if (fscanf(f, "%ld", &pid) != 1 || pid <= 1)
		pid = 0;
	fclose(f);
	return (pid_t)pid;
}

static bool still_alive(const struct orphan_sweep *s, const struct pm2_orphan *o)
{
	for (size_t i = 0; i < s->nalive; i++)
		if (s->alive[i].pid == o->pid && s->alive[i].start_time == o->start_time)
			return true;
	return false;
}

static void report(struct executor *ex, struct orphan_sweep *s)
{
	for (size_t i = 0; i < s->nfound; i++) {
		const struct pm2_orphan *o = &s->found[i];
		bool alive = still_alive(s, o);
		char msg[300];
		snprintf(msg, sizeof(msg),
			 "process %d (pm_id %d of a PM2 daemon that is gone) was still running, "
			 "unmanaged; %s",
			 (int)o->pid, o->pm_id,
			 alive ? "it survived SIGTERM and SIGKILL" : "tasker stopped it");
		struct status_msg st = {
			.task_name = o->name[0] ? o->name : NULL,
			.status = alive ? "orphan_alive" : "orphan_stopped",
			.pm_id = o->pm_id,
			.node = ex->cfg->node,
			.error = msg,
		};
		cJSON *obj = codec_status_json(&st, util_wall_ms());
		cJSON_AddNumberToObject(obj, "pid", (double)o->pid);
		cJSON_AddStringToObject(obj, "source", "tasker");
		cJSON_AddStringToObject(obj, "event", "orphan");
		if (alive)
			log_error("%s %s: %s", st.status, o->name, msg);
		else
			log_warn("%s %s: %s", st.status, o->name, msg);
		exec_publish(ex, obj);
	}
}

static void sweep_free(struct orphan_sweep *s)
{
	if (s == NULL)
		return;
	loop_timer_cancel(s->timer);
	free(s->found);
	free(s->alive);
	free(s);
}

static void on_sweep_timer(struct loop *loop, void *arg)
{
	struct executor *ex = arg;
	struct orphan_sweep *s = ex->sweep;
	s->timer = NULL;
	s->nalive = pm2_orphans_prune(s->alive, s->nalive);
	if (s->nalive > 0 && !s->killed) {
		log_warn("pm2: %zu orphan(s) still running after SIGTERM; sending SIGKILL", s->nalive);
		pm2_orphans_signal(s->alive, s->nalive, SIGKILL);
		s->killed = true;
		s->timer = loop_timer_add(loop, ORPHAN_KILL_MS, on_sweep_timer, ex);
		return;
	}
	report(ex, s);
	sweep_free(s);
	ex->sweep = NULL;
}

/* Whether o is in list[0..n) (the same pid and start time). */
static bool listed(const struct pm2_orphan *list, size_t n, const struct pm2_orphan *o)
{
	for (size_t i = 0; i < n; i++)
		if (list[i].pid == o->pid && list[i].start_time == o->start_time)
			return true;
	return false;
}

void exec_orphans_check(struct executor *ex, const char *why)
{
	pid_t daemon = daemon_pid(ex);
	if (daemon > 0)
		ex->daemon_pid = daemon;
	/* Only with a live daemon: its own apps are then told apart for sure
	 * (a daemon that is starting has not written its pid yet). */
	if (daemon <= 0)
		return;
	struct pm2_orphan *found = NULL;
	size_t n = 0;
	if (pm2_orphans_find(ex->pm2_home, daemon, &found, &n) < 0) {
		log_warn("pm2: cannot look for orphaned processes: /proc: %s", strerror(errno));
		return;
	}
	/* A sweep may be under way (a daemon killed twice in a few seconds):
	 * only the orphans it does not know yet are new. */
	struct orphan_sweep *s = ex->sweep;
	size_t fresh = 0;
	for (size_t i = 0; i < n; i++)
		if (s == NULL || !listed(s->found, s->nfound, &found[i]))
			found[fresh++] = found[i];
	if (fresh == 0) {
		log_debug("pm2: no process left running by a dead daemon (%s)", why);
		free(found);
		return;
	}
	log_warn("pm2: %zu process(es) left running by a PM2 daemon that is gone (%s); stopping "
		 "them",
		 fresh, why);
	/* At once: a command run again after this must not find them there. */
	pm2_orphans_signal(found, fresh, SIGTERM);
	if (s == NULL) {
		s = xcalloc(1, sizeof(*s));
		ex->sweep = s;
	}
	s->found = xrealloc(s->found, (s->nfound + fresh) * sizeof(*s->found));
	memcpy(s->found + s->nfound, found, fresh * sizeof(*found));
	s->nfound += fresh;
	s->alive = xrealloc(s->alive, (s->nalive + fresh) * sizeof(*s->alive));
	memcpy(s->alive + s->nalive, found, fresh * sizeof(*found));
	s->nalive += fresh;
	free(found);
	/* The newcomers get their full grace before SIGKILL. */
	s->killed = false;
	loop_timer_cancel(s->timer);
	s->timer = loop_timer_add(ex->loop, ORPHAN_GRACE_MS, on_sweep_timer, ex);
}

void exec_orphans_seen_daemon(struct executor *ex)
{
	pid_t daemon = daemon_pid(ex);
	if (daemon > 0 && ex->daemon_pid > 0 && daemon != ex->daemon_pid)
		exec_orphans_check(ex, "the daemon was replaced");
	else if (daemon > 0 && ex->daemon_pid == 0)
		exec_orphans_check(ex, "found at start-up");
}

void exec_orphans_free(struct executor *ex)
{
	sweep_free(ex->sweep);
	ex->sweep = NULL;
}
