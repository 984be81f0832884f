/*
 * pm2_daemon: see pm2.h. Owns finding the pm2 command and PM2_HOME, and
 * the `pm2 ping` child that starts a daemon: spawned without a shell, in
 * its own process group with a clean signal mask, watched from the loop
 * (a pidfd, else a 20 ms waitpid timer) and killed at its deadline, with
 * a minimal environment (launch_env: no secret of the executor's). It
 * must not run pm2 in steady state, nor wait for a running child (the one
 * blocking wait is the reap right after a SIGKILL).
 */
#include "pm2.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "util.h"

extern char **environ;

static bool is_executable_file(const char *path)
{
	struct stat st;
	return stat(path, &st) == 0 && S_ISREG(st.st_mode) && access(path, X_OK) == 0;
}

static void set_errbuf(char *err, size_t errsize, const char *msg, const char *path)
{
	if (err != NULL && errsize > 0)
		snprintf(err, errsize, "%s%s%s", msg, path ? ": " : "", path ? path : "");
}

char *pm2_find_bin(const char *explicit_path, const char *project_dir, char *err, size_t errsize)
{
	if (explicit_path != NULL && *explicit_path != '\0') {
		if (is_executable_file(explicit_path))
			return xstrdup(explicit_path);
		set_errbuf(err, errsize, "the given pm2 is not an executable file", explicit_path);
		return NULL;
	}
	const char *env = getenv("PM2_BIN");
	if (env != NULL && *env != '\0') {
		if (is_executable_file(env))
			return xstrdup(env);
		set_errbuf(err, errsize, "PM2_BIN is not an executable file", env);
		return NULL;
	}
	char cwd[PATH_MAX];
	const char *dir = project_dir;
	if (dir == NULL && getcwd(cwd, sizeof(cwd)) != NULL)
		dir = cwd;
	if (dir != NULL) {
		char *p = xasprintf("%s/.deps/node_modules/.bin/pm2", dir);
		if (is_executable_file(p))
			return p;
		free(p);
	}
	const char *path = getenv("PATH");
	if (path != NULL) {
		const char *s = path;
		for (;;) {
			const char *colon = strchr(s, ':');
			size_t n = colon ? (size_t)(colon - s) : strlen(s);
			/* An empty PATH entry means the current directory. */
			char *p = n == 0 ? xstrdup("./pm2") : xasprintf("%.*s/pm2", (int)n, s);
			if (is_executable_file(p))
				return p;
			free(p);
			if (colon == NULL)
				break;
			s = colon + 1;
		}
	}
	set_errbuf(err, errsize,
	           "pm2 not found (looked at PM2_BIN, .deps/node_modules/.bin/pm2 and PATH)", NULL);
	return NULL;
}

char *pm2_home_path(void)
{
	const char *home = getenv("PM2_HOME");
	if (home != NULL && *home != '\0')
		return xstrdup(home);
	home = getenv("HOME");
	if (home != NULL && *home != '\0')
		return xasprintf("%s/.pm2", home);
	return NULL;
}

struct pm2_launch {
	struct loop *loop;
	pid_t pid;
	int pidfd;
	struct loop_watch *watch;
	struct loop_timer *poll_timer; /* without pidfd: waitpid every 20 ms */
	struct loop_timer *deadline;
	int64_t timeout_ms;
	pm2_launch_fn fn;
	void *arg;
	bool in_callback;
};

static void launch_release(struct pm2_launch *l)
{
	if (l->watch != NULL)
		loop_watch_remove(l->watch);
	if (l->pidfd >= 0)
		close(l->pidfd);
	loop_timer_cancel(l->poll_timer);
	loop_timer_cancel(l->deadline);
	free(l);
}

static void launch_finish(struct pm2_launch *l, bool ok, const char *error)
{
	l->in_callback = true;
	l->fn(l, ok, error, l->arg);
	launch_release(l);
}

/* Reaps the child if it has exited; true when it did (and l is gone). */
static bool launch_check(struct pm2_launch *l)
{
	int status;
	pid_t r;
	do
		r = waitpid(l->pid, &status, WNOHANG);
	while (r < 0 && errno == EINTR);
	if (r == 0)
		return false;
	char msg[160];
	if (r < 0) {
		/* Someone else reaped it (a SIGCHLD handler waiting for any
		 * child): its status is lost, only a ping can tell. */
		snprintf(msg, sizeof(msg), "pm2 ping was reaped elsewhere; status unknown");
		launch_finish(l, false, msg);
		return true;
	}
	if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
		launch_finish(l, true, NULL);
		return true;
	}
	if (WIFEXITED(status))
		snprintf(msg, sizeof(msg), "pm2 ping exited with status %d", WEXITSTATUS(status));
	else
		snprintf(msg, sizeof(msg), "pm2 ping was killed by signal %d",
		         WIFSIGNALED(status) ? WTERMSIG(status) : 0);
	launch_finish(l, false, msg);
	return true;
}

static void launch_pidfd_cb(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)fd;
	(void)revents;
	launch_check(arg);
}

static void launch_poll_cb(struct loop *loop, void *arg)
{
	struct pm2_launch *l = arg;
	l->poll_timer = NULL;
	if (!launch_check(l))
		l->poll_timer = loop_timer_add(loop, 20, launch_poll_cb, l);
}

static void launch_kill(struct pm2_launch *l)
{
	kill(l->pid, SIGKILL);
	/* After SIGKILL the wait is short; an ECHILD means it was reaped. */
	while (waitpid(l->pid, NULL, 0) < 0 && errno == EINTR)
		;
}

static void launch_deadline_cb(struct loop *loop, void *arg)
{
	(void)loop;
	struct pm2_launch *l = arg;
	l->deadline = NULL;
	launch_kill(l);
	char msg[160];
	snprintf(msg, sizeof(msg), "pm2 ping did not finish within %lld ms",
	         (long long)l->timeout_ms);
	launch_finish(l, false, msg);
}

/*
 * The daemon's environment: only what node and pm2 need, never the
 * executor's own (REDIS_URL with its password, TASKER_* settings, key
 * paths). The daemon passes its environment on: to cluster-mode apps
 * (node's cluster.fork merges process.env), and to anyone who asks it for
 * a report. Kept: PATH, HOME, USER, LOGNAME, SHELL, LANG, LC_*, TZ, TMPDIR;
 * then PM2_HOME and PM2_DISCRETE_MODE=1. The strings are borrowed from
 * environ except the last two, which the caller frees.
 */
static bool daemon_keeps(const char *entry)
{
	static const char *const names[] = {"PATH", "HOME", "USER",	"LOGNAME",
					    "SHELL", "LANG", "LANGUAGE", "TZ", "TMPDIR"};
	size_t n = strcspn(entry, "=");
	if (entry[n] != '=')
		return false;
	if (n > 3 && strncmp(entry, "LC_", 3) == 0)
		return true;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strlen(names[i]) == n && strncmp(entry, names[i], n) == 0)
			return true;
	return false;
}

static char **launch_env(const char *home)
{
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **envp = xcalloc(n + 3, sizeof(*envp));
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (daemon_keeps(environ[i]))
			envp[k++] = environ[i];
	envp[k++] = xasprintf("PM2_HOME=%s", home);
	envp[k++] = xstrdup("PM2_DISCRETE_MODE=1");
	envp[k] = NULL;
	return envp;
}

struct pm2_launch *pm2_daemon_start(struct loop *loop, const char *bin, const char *pm2_home,
                                    int64_t timeout_ms, pm2_launch_fn fn, void *arg, char *err,
                                    size_t errsize)
{
	if (bin == NULL || pm2_home == NULL || pm2_home[0] != '/' || fn == NULL) {
		set_errbuf(err, errsize, "pm2 path, absolute PM2_HOME and callback are required",
		           NULL);
		return NULL;
	}
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	posix_spawn_file_actions_init(&fa);
	posix_spawnattr_init(&attr);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	/* The loop blocks the signals it reads through a signalfd; a daemon
	 * inheriting that mask could never be stopped with SIGTERM. */
	sigset_t none, defaults;
	sigemptyset(&none);
	sigemptyset(&defaults);
	int sigs[] = {SIGPIPE, SIGINT,  SIGTERM, SIGHUP,  SIGQUIT,
	              SIGCHLD, SIGUSR1, SIGUSR2, SIGWINCH};
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		sigaddset(&defaults, sigs[i]);
	posix_spawnattr_setsigmask(&attr, &none);
	posix_spawnattr_setsigdefault(&attr, &defaults);
	/* Its own process group: a ^C at our terminal must not reach it. */
	posix_spawnattr_setpgroup(&attr, 0);
	posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                                    POSIX_SPAWN_SETPGROUP);

	char **envp = launch_env(pm2_home);
	size_t nenv = 0;
	while (envp[nenv] != NULL)
		nenv++;
	char *bin_copy = xstrdup(bin);
	char ping[] = "ping";
	char *argv[] = {bin_copy, ping, NULL};
	pid_t pid;
	int rc = posix_spawn(&pid, bin, &fa, &attr, argv, envp);
	free(bin_copy);
	free(envp[nenv - 1]);
	free(envp[nenv - 2]);
	free(envp);
	posix_spawn_file_actions_destroy(&fa);
	posix_spawnattr_destroy(&attr);
	if (rc != 0) {
		if (err != NULL && errsize > 0)
			snprintf(err, errsize, "cannot run %s: %s", bin, strerror(rc));
		return NULL;
	}

	struct pm2_launch *l = xcalloc(1, sizeof(*l));
	l->loop = loop;
	l->pid = pid;
	l->fn = fn;
	l->arg = arg;
	l->timeout_ms = timeout_ms > 0 ? timeout_ms : 30000;
#ifdef SYS_pidfd_open
	l->pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
#else
	l->pidfd = -1;
#endif
	if (l->pidfd >= 0) {
		util_fd_cloexec(l->pidfd);
		l->watch = loop_watch_fd(loop, l->pidfd, POLLIN, launch_pidfd_cb, l);
	} else {
		l->poll_timer = loop_timer_add(loop, 20, launch_poll_cb, l);
	}
	l->deadline = loop_timer_add(loop, l->timeout_ms, launch_deadline_cb, l);
	return l;
}

void pm2_launch_cancel(struct pm2_launch *l)
{
	if (l == NULL || l->in_callback)
		return;
	launch_kill(l);
	launch_release(l);
}
