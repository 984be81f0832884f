/*
 * pm2_orphans: finds and stops the apps a dead PM2 daemon left running.
 *
 * A daemon killed hard (SIGKILL, OOM, a crash during a start) takes its
 * cluster workers with it (they exit when their IPC channel closes) but not
 * its fork-mode apps: PM2 spawns those detached, in their own session, so
 * they live on with ppid 1, invisible to a new daemon and to tasker. They
 * are recognised by what PM2 put in their environment (measured on 7.0.4):
 *   fork mode:    every scalar field of the app's record as a variable:
 *                 pm_id=N, name=..., pm_pid_path=$PM2_HOME/pids/NAME-N.pid,
 *                 pm_out_log_path, status, ... and the app's own env; NO
 *                 PM2_HOME unless the app's env carried one.
 *   cluster mode: the daemon's own environment (so PM2_HOME=...) plus
 *                 pm2_env=<the record as JSON> (with pm_id and name) and
 *                 NODE_UNIQUE_ID.
 * A process belongs to our home when its PM2_HOME equals it, or when it has
 * no PM2_HOME and its pm_pid_path lies under $PM2_HOME/pids/. A PM2_HOME
 * naming another home always wins: never touch another daemon's apps.
 *
 * Reads /proc and sends signals; keeps no state and never blocks, so the
 * executor can stop orphans from its poll loop: signal, let a timer pass,
 * prune, signal the rest harder. Linux only.
 */
#ifndef TASKER_PM2_ORPHANS_H
#define TASKER_PM2_ORPHANS_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define PM2_ORPHAN_NAME_MAX 128

struct pm2_orphan {
	pid_t pid;
	int pm_id;                      /* the id the dead daemon gave it */
	char name[PM2_ORPHAN_NAME_MAX]; /* its app name ("" when unknown), cut to fit */
	/* Start time in clock ticks after boot (/proc/PID/stat): tells this
	 * process from a later one that got the same pid. */
	uint64_t start_time;
};

/*
 * Scans /proc for processes of our user whose environment marks them as
 * apps of pm2_home (see above), that do not descend from daemon_pid, the
 * live daemon ($PM2_HOME/pm2.pid; 0 or less when none runs), and that
 * started before it (a helper a live app double-forked carries the app's
 * marks but is younger than the daemon). A child an app
 * started itself inherits the marks and is reported too. Processes that
 * vanish or cannot be read mid-scan are passed over. Returns 0 with *out, a
 * new array of *n orphans (NULL when none) that the caller frees with
 * free(), or -1 with errno when /proc cannot be read.
 */
int pm2_orphans_find(const char *pm2_home, pid_t daemon_pid, struct pm2_orphan **out, size_t *n);

/*
 * Sends sig (SIGTERM first, SIGKILL after a grace) to every orphan that is
 * still the same process. Returns how many were signalled.
 */
size_t pm2_orphans_signal(const struct pm2_orphan *orphans, size_t n, int sig);

/*
 * Keeps, at the front of the array, the orphans still alive (a zombie
 * waiting for init to reap it counts as gone, and so does a pid now used by
 * another process); returns how many. Typical use: signal SIGTERM, prune
 * after a few seconds from a timer, SIGKILL what is left, prune again.
 */
size_t pm2_orphans_prune(struct pm2_orphan *orphans, size_t n);

#endif
