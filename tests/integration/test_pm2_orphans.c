/*
 * Integration test of pm2_orphans against real daemons: apps started
 * through the client, the daemon SIGKILLed, a new daemon started in the
 * same private PM2_HOME, and the survivors of the old one found and stopped
 * while the new daemon's apps, and look-alikes of another home, are left
 * alone. Waits are conditions polled against deadlines, never sleeps. At
 * exit the daemon is killed (`pm2 kill`) and everything whose environment
 * or command line names our home is SIGKILLed.
 */
#include "../unit/cleanup.h"
#include "unit.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "loop.h"
#include "pm2.h"
#include "pm2_conf.h"
#include "pm2_orphans.h"
#include "util.h"

extern char **environ;

#define T_CALL 20000
#define T_STATE 30000

static struct fixture {
	char home[64];
	char other[64]; /* a home no daemon uses: for look-alikes */
	char *bin;
	bool daemon_started;
	struct loop *loop;
	struct pm2_client *client;
	pid_t decoys[3];
} fx;

typedef bool (*cond_fn)(void *arg);

static bool wait_for(cond_fn fn, void *arg, int64_t timeout_ms)
{
	int64_t deadline = util_mono_ms() + timeout_ms;
	while (!fn(arg)) {
		int64_t left = deadline - util_mono_ms();
		if (left <= 0)
			return false;
		loop_run_once(fx.loop, left > 50 ? 50 : (int)left);
	}
	return true;
}

static bool flag_set(void *arg)
{
	return *(bool *)arg;
}

/* Alive and not a zombie. */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return false;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *p = strrchr(buf, ')');
	return p != NULL && p[1] == ' ' && p[2] != 'Z' && p[2] != 'X';
}

static pid_t daemon_pid(void)
{
	char path[128], buf[32] = "";
	snprintf(path, sizeof(path), "%s/pm2.pid", fx.home);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return 0;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	return (pid_t)atoi(buf);
}

struct launch_result {
	bool done, ok;
};

static void launch_cb(struct pm2_launch *l, bool ok, const char *error, void *arg)
{
	(void)l;
	struct launch_result *r = arg;
	r->done = true;
	r->ok = ok;
	if (!ok)
		fprintf(stderr, "daemon start: %s\n", error);
}

static bool daemon_start(void)
{
	struct launch_result r = {0};
	char err[200];
	struct pm2_launch *l =
	    pm2_daemon_start(fx.loop, fx.bin, fx.home, 60000, launch_cb, &r, err, sizeof(err));
	if (l == NULL)
		return false;
	fx.daemon_started = true;
	if (!wait_for(flag_set, &r.done, 70000)) {
		pm2_launch_cancel(l);
		return false;
	}
	return r.ok;
}

struct sync_call {
	bool done;
	cJSON *result;
	char *error;
};

static void sync_cb(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	struct sync_call *s = arg;
	s->done = true;
	s->result = result ? cJSON_Duplicate(result, 1) : NULL;
	s->error = error ? xstrdup(error) : NULL;
}

/* Starts an app; returns how many instances, their ids and pids. */
static size_t start_app(const struct pm2_conf *conf, int *ids, int *pids, size_t max)
{
	char err[200] = "";
	cJSON *o = pm2_conf_build(conf, fx.home, err, sizeof(err));
	if (o == NULL)
		fail_msg("conf refused: %s", err);
	struct sync_call s = {0};
	const char *e = NULL;
	uint64_t id = pm2_start(fx.client, o, sync_cb, &s, &e);
	cJSON_Delete(o);
	if (id == 0)
		fail_msg("prepare refused: %s", e);
	if (!wait_for(flag_set, &s.done, T_CALL))
		fail_msg("prepare did not answer");
	if (s.error != NULL)
		fail_msg("prepare failed: %s", s.error);
	size_t n = pm2_started(s.result, ids, pids, max);
	cJSON_Delete(s.result);
	return n;
}

struct list_wait {
	bool done;
	size_t online;
	int want_pid;
	bool pid_listed;
};

static void list_cb(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
                    void *arg)
{
	(void)c;
	struct list_wait *w = arg;
	w->done = true;
	if (error != NULL)
		return;
	for (size_t i = 0; i < n; i++) {
		if (procs[i].state == PM2_ST_ONLINE && procs[i].pid > 0)
			w->online++;
		if (procs[i].pid == w->want_pid)
			w->pid_listed = true;
	}
	pm2_procs_free(procs, n);
}

/* How many processes the daemon lists as online with a pid. */
static size_t online_count(int want_pid, bool *listed)
{
	struct list_wait w = {.want_pid = want_pid};
	pm2_list(fx.client, list_cb, &w);
	if (!wait_for(flag_set, &w.done, T_CALL))
		fail_msg("getMonitorData did not answer");
	if (listed != NULL)
		*listed = w.pid_listed;
	return w.online;
}

static bool all_online(void *arg)
{
	size_t want = *(size_t *)arg;
	bool ok = online_count(0, NULL) >= want;
	if (!ok)
		loop_run_once(fx.loop, 100);
	return ok;
}

/* Spawns `sleep 3600` with exactly envp; the test reaps it. */
static pid_t spawn_with_env(char *const envp[])
{
	char a0[] = "/bin/sleep", a1[] = "3600";
	char *argv[] = {a0, a1, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	pid_t pid = 0;
	if (posix_spawn(&pid, argv[0], &fa, NULL, argv, envp) != 0)
		pid = 0;
	posix_spawn_file_actions_destroy(&fa);
	return pid;
}

/* ---- cleanup ------------------------------------------------------------------ */

static void pm2_kill_command(void)
{
	char *home_env = xasprintf("PM2_HOME=%s", fx.home);
	char discrete[] = "PM2_DISCRETE_MODE=1";
	char path[] = "PATH=/usr/local/bin:/usr/bin:/bin";
	char *envp[] = {home_env, discrete, path, NULL};
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	char *bin = xstrdup(fx.bin);
	char verb[] = "kill";
	char *argv[] = {bin, verb, NULL};
	pid_t pid;
	if (posix_spawn(&pid, fx.bin, &fa, NULL, argv, envp) == 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	posix_spawn_file_actions_destroy(&fa);
	free(bin);
	free(home_env);
}



static void cleanup(void)
{
	fflush(stdout);
	for (size_t i = 0; i < 3; i++) {
		if (fx.decoys[i] > 0) {
			kill(fx.decoys[i], SIGKILL);
			waitpid(fx.decoys[i], NULL, 0);
		}
	}
	if (fx.client != NULL) {
		pm2_client_free(fx.client);
		loop_run_once(fx.loop, 0);
		fx.client = NULL;
	}
	loop_free(fx.loop);
	fx.loop = NULL;
	if (fx.home[0] != '\0') {
		if (fx.daemon_started && fx.bin != NULL)
			pm2_kill_command();
		cleanup_kill_marked(fx.home);
		cleanup_rm_tree(fx.home);
		fx.home[0] = '\0';
	}
	free(fx.bin);
	fx.bin = NULL;
}

/* ---- the test -------------------------------------------------------------------- */

#define MAXP 16

struct survivors {
	pid_t pid[MAXP];
	size_t n;
};

static bool pids_gone(void *arg)
{
	struct survivors *s = arg;
	for (size_t i = 0; i < s->n; i++) {
		if (pid_alive(s->pid[i]))
			return false;
	}
	return true;
}

struct prune_wait {
	struct pm2_orphan *o;
	size_t n, want;
};

static bool pruned_to(void *arg)
{
	struct prune_wait *w = arg;
	w->n = pm2_orphans_prune(w->o, w->n);
	return w->n <= w->want;
}

static bool has_pid(const struct pm2_orphan *o, size_t n, pid_t pid)
{
	for (size_t i = 0; i < n; i++) {
		if (o[i].pid == pid)
			return true;
	}
	return false;
}

static void test_orphans_after_daemon_killed(void **state)
{
	(void)state;
	/* Fork apps: three sleeps, and one that ignores SIGTERM. */
	static const char *const sleep_argv[] = {"604"};
	struct pm2_conf fork = {.name = "orph",
	                        .exec_path = "/bin/sleep",
	                        .argv = sleep_argv,
	                        .argc = 1,
	                        .cwd = fx.home,
	                        .instances = 3,
	                        .autorestart = true};
	int fork_ids[MAXP], fork_pids[MAXP];
	assert_int_equal(start_app(&fork, fork_ids, fork_pids, MAXP), 3);
	static const char *const deaf_argv[] = {"-c", "trap '' TERM; exec /bin/sleep 605"};
	struct pm2_conf deaf = {.name = "deaf",
	                        .exec_path = "/bin/sh",
	                        .argv = deaf_argv,
	                        .argc = 2,
	                        .cwd = fx.home,
	                        .instances = 1,
	                        .autorestart = true};
	int deaf_id, deaf_pid;
	assert_int_equal(start_app(&deaf, &deaf_id, &deaf_pid, 1), 1);
	/* Cluster workers: they go down with the daemon. */
	char script[160];
	snprintf(script, sizeof(script), "%s/worker.js", fx.home);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fputs("setInterval(() => {}, 100000);\n", f);
	fclose(f);
	struct pm2_conf clu = {.name = "clu",
	                       .exec_path = script,
	                       .cwd = fx.home,
	                       .instances = 2,
	                       .cluster = true,
	                       .autorestart = true};
	int clu_ids[MAXP], clu_pids[MAXP];
	assert_int_equal(start_app(&clu, clu_ids, clu_pids, MAXP), 2);
	size_t want = 6;
	assert_true(wait_for(all_online, &want, T_STATE));

	/* While the daemon lives, nothing is an orphan. */
	pid_t god = daemon_pid();
	assert_true(god > 0);
	struct pm2_orphan *o = NULL;
	size_t n = 0;
	assert_int_equal(pm2_orphans_find(fx.home, god, &o, &n), 0);
	assert_int_equal(n, 0);
	free(o);

	assert_int_equal(kill(god, SIGKILL), 0);
	struct survivors clu_set = {.n = 2};
	clu_set.pid[0] = clu_pids[0];
	clu_set.pid[1] = clu_pids[1];
	assert_true(wait_for(pids_gone, &clu_set, T_STATE));
	/* Measured on 7.0.4: fork apps live on with a new parent. */
	struct survivors left = {0};
	for (int i = 0; i < 3; i++) {
		if (pid_alive(fork_pids[i]))
			left.pid[left.n++] = fork_pids[i];
	}
	if (pid_alive(deaf_pid))
		left.pid[left.n++] = deaf_pid;
	printf("# after SIGKILL of the daemon: %zu of 4 fork apps alive, 0 of 2 cluster "
	       "workers\n",
	       left.n);
	assert_int_equal(left.n, 4);

	/* A new daemon with an app of its own, and look-alikes of another
	 * home and of no PM2 app at all. */
	pm2_client_disconnect(fx.client, "daemon replaced");
	assert_true(daemon_start());
	pid_t god2 = daemon_pid();
	assert_true(god2 > 0 && god2 != god);
	static const char *const fresh_argv[] = {"606"};
	struct pm2_conf fresh = {.name = "fresh",
	                         .exec_path = "/bin/sleep",
	                         .argv = fresh_argv,
	                         .argc = 1,
	                         .cwd = fx.home,
	                         .instances = 1,
	                         .autorestart = true};
	int fresh_id, fresh_pid;
	assert_int_equal(start_app(&fresh, &fresh_id, &fresh_pid, 1), 1);
	want = 1;
	assert_true(wait_for(all_online, &want, T_STATE));

	char *other_home = xasprintf("PM2_HOME=%s", fx.other);
	char *our_pidpath = xasprintf("pm_pid_path=%s/pids/orph-0.pid", fx.home);
	char *other_pidpath = xasprintf("pm_pid_path=%s/pids/x-1.pid", fx.other);
	char *our_home = xasprintf("PM2_HOME=%s", fx.home);
	char pm_id0[] = "pm_id=0", pm_id1[] = "pm_id=1";
	char *env_a[] = {other_home, pm_id0, our_pidpath, NULL}; /* another home wins */
	char *env_b[] = {pm_id1, other_pidpath, NULL};           /* another home's app */
	char *env_c[] = {our_home, NULL};                        /* no app: a pm2 command */
	fx.decoys[0] = spawn_with_env(env_a);
	fx.decoys[1] = spawn_with_env(env_b);
	fx.decoys[2] = spawn_with_env(env_c);
	free(other_home);
	free(our_pidpath);
	free(other_pidpath);
	free(our_home);
	for (int i = 0; i < 3; i++)
		assert_true(fx.decoys[i] > 0);

	/* Exactly the survivors, with their old ids and names. */
	assert_int_equal(pm2_orphans_find(fx.home, god2, &o, &n), 0);
	for (size_t i = 0; i < n; i++)
		printf("# orphan pid %d pm_id %d name %s\n", (int)o[i].pid, o[i].pm_id, o[i].name);
	assert_int_equal(n, 4);
	for (int i = 0; i < 3; i++) {
		assert_true(has_pid(o, n, fork_pids[i]));
		for (size_t k = 0; k < n; k++) {
			if (o[k].pid == fork_pids[i]) {
				assert_int_equal(o[k].pm_id, fork_ids[i]);
				assert_string_equal(o[k].name, "orph");
			}
		}
	}
	assert_true(has_pid(o, n, deaf_pid));
	assert_false(has_pid(o, n, fresh_pid));
	for (int i = 0; i < 3; i++)
		assert_false(has_pid(o, n, fx.decoys[i]));

	/* SIGTERM stops all but the one that ignores it; SIGKILL that one. */
	assert_int_equal(pm2_orphans_signal(o, n, SIGTERM), 4);
	struct prune_wait w = {o, n, 1};
	assert_true(wait_for(pruned_to, &w, T_STATE));
	assert_int_equal(w.n, 1);
	assert_int_equal(o[0].pid, deaf_pid);
	assert_int_equal(pm2_orphans_signal(o, w.n, SIGKILL), 1);
	w.want = 0;
	assert_true(wait_for(pruned_to, &w, T_STATE));
	/* A gone orphan is not signalled again (its pid may be reused). */
	assert_int_equal(pm2_orphans_signal(o, 1, SIGKILL), 0);
	free(o);

	/* The new daemon's app and the look-alikes were left alone. */
	bool listed = false;
	assert_int_equal(online_count(fresh_pid, &listed), 1);
	assert_true(listed);
	assert_true(pid_alive(fresh_pid));
	for (int i = 0; i < 3; i++)
		assert_true(pid_alive(fx.decoys[i]));
	assert_int_equal(pm2_orphans_find(fx.home, god2, &o, &n), 0);
	assert_int_equal(n, 0);
	free(o);
}

/* A home no process names has no orphans. */
static void test_orphans_no_daemon(void **state)
{
	(void)state;
	struct pm2_orphan *o = NULL;
	size_t n = 5;
	assert_int_equal(pm2_orphans_find("/nonexistent/home", 0, &o, &n), 0);
	assert_int_equal(n, 0);
	assert_null(o);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_orphans_no_daemon),
	    cmocka_unit_test(test_orphans_after_daemon_killed),
	};
	char err[200];
	fx.bin = pm2_find_bin(NULL, NULL, err, sizeof(err));
	if (fx.bin == NULL) {
		printf("test_pm2_orphans: 0 passed, 1 failed (%s)\n", err);
		return 1;
	}
	snprintf(fx.home, sizeof(fx.home), "/tmp/torph.XXXXXX");
	if (mkdtemp(fx.home) == NULL) {
		fx.home[0] = '\0';
		printf("test_pm2_orphans: 0 passed, 1 failed (mkdtemp)\n");
		return 1;
	}
	snprintf(fx.other, sizeof(fx.other), "%s-other", fx.home);
	atexit(cleanup);
	fx.loop = loop_new();
	if (!daemon_start()) {
		printf("test_pm2_orphans: 0 passed, 1 failed (no daemon)\n");
		return 1;
	}
	fx.client = pm2_client_new(fx.loop, fx.home, NULL, NULL);
	UNIT_RUN("test_pm2_orphans", tests);
}
