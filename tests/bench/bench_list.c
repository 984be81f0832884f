/*
 * bench_list: CPU per pm2_list() call (getMonitorData over the socket,
 * parsed into struct pm2_proc records) with N tasks, against a throwaway
 * PM2 daemon with a private PM2_HOME. Not a test: prints figures, asserts
 * nothing. Standalone (not run by `make bench`: it starts up to N sleeps).
 *
 * Usage: bench_list N [CALLS] [ENV_BYTES]
 *   N tasks (`sleep 600`, one app with N fork instances), CALLS listings
 *   (default 100), each task with one env variable of ENV_BYTES (default 0).
 * Prints our process's CPU (user+sys) per call, the daemon's CPU per call,
 * and the reply size. Run it from the repository root (it finds .deps pm2).
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "../unit/cleanup.h"
#include "loop.h"
#include "pm2.h"
#include "pm2_conf.h"
#include "util.h"

static struct loop *loop;
static bool done, ok;
static size_t listed;

static void launch_cb(struct pm2_launch *l, bool o, const char *e, void *a)
{
	(void)l;
	(void)a;
	done = true;
	ok = o;
	if (e != NULL)
		fprintf(stderr, "bench_list: %s\n", e);
}

static void start_cb(struct pm2_client *c, const cJSON *r, const char *e, void *a)
{
	(void)c;
	(void)r;
	(void)a;
	done = true;
	ok = e == NULL;
	if (e != NULL)
		fprintf(stderr, "bench_list: prepare: %s\n", e);
}

static void list_cb(struct pm2_client *c, struct pm2_proc *p, size_t n, const char *e, void *a)
{
	(void)c;
	(void)a;
	done = true;
	ok = e == NULL;
	listed = n;
	if (e != NULL)
		fprintf(stderr, "bench_list: list: %s\n", e);
	pm2_procs_free(p, n);
}

static bool wait_done(int64_t ms)
{
	int64_t deadline = util_mono_ms() + ms;
	while (!done && util_mono_ms() < deadline)
		loop_run_once(loop, 50);
	bool d = done;
	done = false;
	return d && ok;
}

static double self_cpu_ms(void)
{
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_utime.tv_sec * 1e3 + ru.ru_utime.tv_usec / 1e3 + ru.ru_stime.tv_sec * 1e3 +
	       ru.ru_stime.tv_usec / 1e3;
}

/* utime+stime of pid in ms, from /proc/PID/stat. */
static double proc_cpu_ms(pid_t pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	unsigned long long ut = 0, st = 0;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
	                        &ut, &st) != 2)
		return 0;
	return (double)(ut + st) * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}


int main(int argc, char **argv)
{
	if (argc < 2) {
		fprintf(stderr, "usage: bench_list N [CALLS] [ENV_BYTES]\n");
		return 2;
	}
	int ntasks = atoi(argv[1]);
	int calls = argc > 2 ? atoi(argv[2]) : 100;
	size_t env_bytes = argc > 3 ? (size_t)atol(argv[3]) : 0;
	if (ntasks < 1 || ntasks > PM2_CONF_MAX_INSTANCES || calls < 1)
		return 2;
	char err[200];
	char *bin = pm2_find_bin(NULL, NULL, err, sizeof(err));
	if (bin == NULL) {
		fprintf(stderr, "bench_list: %s\n", err);
		return 1;
	}
	char home[] = "/tmp/blist.XXXXXX";
	if (mkdtemp(home) == NULL)
		return 1;
	loop = loop_new();
	int rc = 1;
	struct pm2_client *c = NULL;
	if (pm2_daemon_start(loop, bin, home, 60000, launch_cb, NULL, err, sizeof(err)) == NULL ||
	    !wait_done(70000))
		goto out;
	c = pm2_client_new(loop, home, NULL, NULL);
	pm2_client_set_limits(c, 120000, 0);

	char *value = xmalloc(env_bytes + 1);
	memset(value, 'v', env_bytes);
	value[env_bytes] = '\0';
	struct pm2_env_var env[] = {{"BENCH_VALUE", value}};
	static const char *const sargv[] = {"600"};
	struct pm2_conf conf = {.name = "bench",
	                        .exec_path = "/bin/sleep",
	                        .argv = sargv,
	                        .argc = 1,
	                        .cwd = home,
	                        .env = env,
	                        .nenv = 1,
	                        .instances = ntasks,
	                        .autorestart = false};
	cJSON *o = pm2_conf_build(&conf, home, err, sizeof(err));
	free(value);
	if (o == NULL) {
		fprintf(stderr, "bench_list: %s\n", err);
		goto out;
	}
	pm2_start(c, o, start_cb, NULL, NULL);
	cJSON_Delete(o);
	if (!wait_done(600000))
		goto out;
	/* Until the daemon lists them all online. */
	for (int tries = 0; tries < 600; tries++) {
		pm2_list(c, list_cb, NULL);
		if (!wait_done(120000))
			goto out;
		if (listed == (size_t)ntasks)
			break;
	}
	char pidpath[128];
	snprintf(pidpath, sizeof(pidpath), "%s/pm2.pid", home);
	FILE *pf = fopen(pidpath, "r");
	int god = 0;
	if (pf != NULL) {
		if (fscanf(pf, "%d", &god) != 1)
			god = 0;
		fclose(pf);
	}
	/* Warm up, then measure. */
	for (int i = 0; i < 3; i++) {
		pm2_list(c, list_cb, NULL);
		wait_done(120000);
	}
	double t0 = self_cpu_ms(), g0 = god ? proc_cpu_ms(god) : 0;
	int64_t w0 = util_mono_ms();
	for (int i = 0; i < calls; i++) {
		pm2_list(c, list_cb, NULL);
		if (!wait_done(120000))
			goto out;
	}
	double self = (self_cpu_ms() - t0) / calls;
	double daemon = god ? (proc_cpu_ms(god) - g0) / calls : 0;
	double wall = (double)(util_mono_ms() - w0) / calls;
	printf("bench_list: %d tasks (env value %zu B), %d calls: tasker %.3f ms CPU/call, daemon "
	       "%.2f ms CPU/call, %.1f ms wall/call, %zu listed\n",
	       ntasks, env_bytes, calls, self, daemon, wall, listed);
	rc = 0;
out:
	pm2_client_free(c);
	loop_free(loop);
	/* The daemon and its sleeps: `pm2 kill` against our home. */
	char *henv = xasprintf("PM2_HOME=%s", home);
	char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char *envp[] = {henv, path, NULL};
	char verb[] = "kill";
	char *kargv[] = {bin, verb, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	pid_t pid;
	if (posix_spawn(&pid, bin, &fa, NULL, kargv, envp) == 0)
		waitpid(pid, NULL, 0);
	posix_spawn_file_actions_destroy(&fa);
	free(henv);
	cleanup_rm_tree(home);
	free(bin);
	return rc;
}
