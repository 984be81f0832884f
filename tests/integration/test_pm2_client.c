/*
 * Integration test of the PM2 client against a real, throwaway daemon.
 *
 * The daemon runs with a private PM2_HOME under /tmp and PM2_DISCRETE_MODE=1,
 * started through pm2_daemon_start() (`pm2 ping`, no shell); the pm2 command
 * comes from $PM2_BIN or ./.deps relative to the working directory (the
 * repository root). Everything waits for conditions with deadlines on the
 * loop, never with fixed sleeps. At exit, even after failures, the daemon is
 * killed (`pm2 kill`, then SIGKILL for anything whose command line names our
 * PM2_HOME) and the home directory removed.
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
#include "util.h"

extern char **environ;

#define MAX_EVENTS 8192
#define T_CALL 15000  /* ms: deadline for one call */
#define T_STATE 45000 /* ms: deadline for the daemon to reach a state (its memory check runs every 30 s) */

struct rec_event {
	enum pm2_event_kind kind;
	char name[64];
	char event[32];
	char status[24];
	int pm_id;
	bool manually;
};

/* The test's one fixture: the daemon, the loop and what the callbacks saw. */
static struct fixture {
	char home[64];
	char *bin;
	bool daemon_started;
	struct loop *loop;
	struct pm2_client *client;
	struct pm2_events *events;
	int connects, losses;
	char last_loss[400];
	int ev_connects, ev_losses;
	struct rec_event ev[MAX_EVENTS];
	size_t nev;
} fx;

/* ---- waiting ---------------------------------------------------------------- */

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

/* ---- callbacks ------------------------------------------------------------- */

static void on_state(struct pm2_client *c, bool connected, const char *reason, void *arg)
{
	(void)c;
	(void)arg;
	if (connected) {
		fx.connects++;
	} else {
		fx.losses++;
		snprintf(fx.last_loss, sizeof(fx.last_loss), "%s", reason ? reason : "");
	}
}

static void on_event(struct pm2_events *r, const struct pm2_event *ev, void *arg)
{
	(void)r;
	(void)arg;
	if (fx.nev == MAX_EVENTS)
		return;
	struct rec_event *e = &fx.ev[fx.nev++];
	e->kind = ev->kind;
	snprintf(e->name, sizeof(e->name), "%s", ev->name);
	snprintf(e->event, sizeof(e->event), "%s", ev->event);
	snprintf(e->status, sizeof(e->status), "%s", ev->status);
	e->pm_id = ev->pm_id;
	e->manually = ev->manually;
}

static void on_events_state(struct pm2_events *r, bool connected, const char *reason, void *arg)
{
	(void)r;
	(void)reason;
	(void)arg;
	if (connected)
		fx.ev_connects++;
	else
		fx.ev_losses++;
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

static void sync_clear(struct sync_call *s)
{
	cJSON_Delete(s->result);
	free(s->error);
	memset(s, 0, sizeof(*s));
}

static void sync_wait(struct sync_call *s)
{
	if (!wait_for(flag_set, &s->done, T_CALL))
		fail_msg("no answer within %d ms", T_CALL);
}

struct proclist {
	bool done;
	struct pm2_proc *p;
	size_t n;
	char *error;
};

static void list_cb(struct pm2_client *c, struct pm2_proc *procs, size_t n, const char *error,
                    void *arg)
{
	(void)c;
	struct proclist *l = arg;
	l->done = true;
	l->p = procs;
	l->n = n;
	l->error = error ? xstrdup(error) : NULL;
}

static void list_clear(struct proclist *l)
{
	pm2_procs_free(l->p, l->n);
	free(l->error);
	memset(l, 0, sizeof(*l));
}

static void list_now(struct proclist *l)
{
	memset(l, 0, sizeof(*l));
	assert_true(pm2_list(fx.client, list_cb, l) > 0);
	if (!wait_for(flag_set, &l->done, T_CALL))
		fail_msg("getMonitorData did not answer");
	if (l->error != NULL)
		fail_msg("getMonitorData failed: %s", l->error);
}

static const struct pm2_proc *find_proc(const struct proclist *l, int pm_id)
{
	for (size_t i = 0; i < l->n; i++) {
		if (l->p[i].pm_id == pm_id)
			return &l->p[i];
	}
	return NULL;
}

/* ---- conditions on the daemon's state --------------------------------------- */

struct proc_cond {
	int pm_id;
	enum pm2_status state; /* wanted status */
	int min_restarts;
	bool gone; /* wanted: no such id */
	struct pm2_proc last;
	bool found;
};

static bool proc_matches(void *arg)
{
	struct proc_cond *pc = arg;
	struct proclist l;
	list_now(&l);
	const struct pm2_proc *p = find_proc(&l, pc->pm_id);
	bool ok;
	pc->found = p != NULL;
	if (pc->gone) {
		ok = p == NULL;
	} else {
		ok = p != NULL && p->state == pc->state && p->restart_time >= pc->min_restarts;
		if (p != NULL) {
			pc->last.pid = p->pid;
			pc->last.restart_time = p->restart_time;
			pc->last.state = p->state;
		}
	}
	list_clear(&l);
	if (!ok)
		loop_run_once(fx.loop, 100); /* poll the daemon ten times a second */
	return ok;
}

static void wait_state(int pm_id, enum pm2_status st, int min_restarts, struct pm2_proc *out)
{
	struct proc_cond pc = {.pm_id = pm_id, .state = st, .min_restarts = min_restarts};
	if (!wait_for(proc_matches, &pc, T_STATE))
		fail_msg("pm_id %d did not reach %s (restarts >= %d); last seen %s, status %s",
		         pm_id, pm2_status_name(st), min_restarts, pc.found ? "yes" : "no",
		         pm2_status_name(pc.last.state));
	if (out != NULL)
		*out = pc.last;
}

static void wait_gone(int pm_id)
{
	struct proc_cond pc = {.pm_id = pm_id, .gone = true};
	if (!wait_for(proc_matches, &pc, T_STATE))
		fail_msg("pm_id %d is still listed", pm_id);
}

struct event_cond {
	const char *name;
	const char *event;  /* NULL: any */
	const char *status; /* NULL: any */
	int pm_id;
	bool need_manual;
	size_t from;
};

static bool event_seen(void *arg)
{
	struct event_cond *ec = arg;
	for (size_t i = ec->from; i < fx.nev; i++) {
		const struct rec_event *e = &fx.ev[i];
		if (strcmp(e->name, ec->name) != 0 || e->pm_id != ec->pm_id)
			continue;
		if (ec->event != NULL && strcmp(e->event, ec->event) != 0)
			continue;
		if (ec->status != NULL && strcmp(e->status, ec->status) != 0)
			continue;
		if (ec->need_manual && !e->manually)
			continue;
		return true;
	}
	return false;
}

static void wait_event(const char *event, int pm_id, const char *status, bool manual, size_t from)
{
	struct event_cond ec = {"process:event", event, status, pm_id, manual, from};
	if (!wait_for(event_seen, &ec, T_STATE))
		fail_msg("no process:event %s (status %s) for pm_id %d", event,
		         status ? status : "any", pm_id);
}

/* ---- files -------------------------------------------------------------------- */

/* Returns the file's content (malloc'd, caller frees) or NULL. */
static char *slurp(const char *path)
{
	FILE *f = fopen(path, "rb");
	if (f == NULL)
		return NULL;
	size_t cap = 4096, n = 0;
	char *buf = xmalloc(cap);
	size_t r;
	while ((r = fread(buf + n, 1, cap - n - 1, f)) > 0) {
		n += r;
		if (cap - n - 1 == 0) {
			cap *= 2;
			buf = xrealloc(buf, cap);
		}
	}
	fclose(f);
	buf[n] = '\0';
	return buf;
}

struct file_cond {
	const char *path;
	const char *needle;
	bool exact;
};

static bool file_has(void *arg)
{
	struct file_cond *fc = arg;
	char *s = slurp(fc->path);
	bool ok =
	    s != NULL && (fc->exact ? strcmp(s, fc->needle) == 0 : strstr(s, fc->needle) != NULL);
	free(s);
	if (!ok)
		loop_run_once(fx.loop, 50);
	return ok;
}

static void wait_file(const char *path, const char *needle, bool exact)
{
	struct file_cond fc = {path, needle, exact};
	if (!wait_for(file_has, &fc, T_STATE)) {
		char *s = slurp(path);
		fail_msg("%s never %s \"%s\"; it holds \"%s\"", path, exact ? "equalled" : "held",
		         needle, s ? s : "(missing)");
	}
}

/* ---- starting and removing apps ------------------------------------------------ */

static size_t start_app(const struct pm2_conf *conf, int *ids, int *pids, size_t max,
                        int64_t *elapsed_ms)
{
	char err[200] = "";
	cJSON *o = pm2_conf_build(conf, fx.home, err, sizeof(err));
	if (o == NULL)
		fail_msg("conf refused: %s", err);
	struct sync_call s = {0};
	const char *e = NULL;
	int64_t t0 = util_mono_ms();
	uint64_t id = pm2_start(fx.client, o, sync_cb, &s, &e);
	cJSON_Delete(o);
	if (id == 0)
		fail_msg("prepare refused: %s", e);
	sync_wait(&s);
	if (elapsed_ms != NULL)
		*elapsed_ms = util_mono_ms() - t0;
	if (s.error != NULL)
		fail_msg("prepare failed: %s", s.error);
	size_t n = pm2_started(s.result, ids, pids, max);
	sync_clear(&s);
	return n;
}

static void delete_app(int pm_id)
{
	struct sync_call s = {0};
	assert_true(pm2_delete(fx.client, pm_id, sync_cb, &s) > 0);
	sync_wait(&s);
	if (s.error != NULL)
		fail_msg("delete %d failed: %s", pm_id, s.error);
	sync_clear(&s);
}

static struct pm2_conf base_conf(const char *name, const char *exec)
{
	struct pm2_conf c = {
	    .name = name,
	    .exec_path = exec,
	    .cwd = fx.home,
	    .instances = 1,
	    .autorestart = true,
	};
	return c;
}

/* ---- daemon lifecycle ------------------------------------------------------------ */

struct launch_result {
	bool done, ok;
	char error[200];
};

static void launch_cb(struct pm2_launch *l, bool ok, const char *error, void *arg)
{
	(void)l;
	struct launch_result *r = arg;
	r->done = true;
	r->ok = ok;
	snprintf(r->error, sizeof(r->error), "%s", error ? error : "");
}

static bool daemon_start(void)
{
	struct launch_result r = {0};
	char err[200];
	struct pm2_launch *l =
	    pm2_daemon_start(fx.loop, fx.bin, fx.home, 60000, launch_cb, &r, err, sizeof(err));
	if (l == NULL) {
		fprintf(stderr, "daemon start: %s\n", err);
		return false;
	}
	fx.daemon_started = true;
	if (!wait_for(flag_set, &r.done, 70000)) {
		pm2_launch_cancel(l);
		fprintf(stderr, "daemon start: no result\n");
		return false;
	}
	if (!r.ok)
		fprintf(stderr, "daemon start: %s\n", r.error);
	return r.ok;
}

static pid_t daemon_pid(void)
{
	char path[128];
	snprintf(path, sizeof(path), "%s/pm2.pid", fx.home);
	char *s = slurp(path);
	pid_t pid = s ? (pid_t)atoi(s) : 0;
	free(s);
	return pid;
}

/* Runs `pm2 <verb>` against our home without a shell and waits for it. */
static void pm2_command(const char *verb)
{
	char *home_env = xasprintf("PM2_HOME=%s", fx.home);
	size_t n = 0;
	while (environ[n] != NULL)
		n++;
	char **envp = xcalloc(n + 3, sizeof(*envp));
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (strncmp(environ[i], "PM2_HOME=", 9) != 0)
			envp[k++] = environ[i];
	}
	envp[k++] = home_env;
	char discrete[] = "PM2_DISCRETE_MODE=1";
	envp[k++] = discrete;
	posix_spawn_file_actions_t fa;
	posix_spawn_file_actions_init(&fa);
	posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
	posix_spawn_file_actions_addopen(&fa, 1, "/dev/null", O_WRONLY, 0);
	posix_spawn_file_actions_adddup2(&fa, 1, 2);
	char *bin = xstrdup(fx.bin);
	char *v = xstrdup(verb);
	char *argv[] = {bin, v, NULL};
	pid_t pid;
	if (posix_spawn(&pid, fx.bin, &fa, NULL, argv, envp) == 0) {
		while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
			;
	}
	posix_spawn_file_actions_destroy(&fa);
	free(bin);
	free(v);
	free(home_env);
	free(envp);
}



static void cleanup(void)
{
	fflush(stdout);
	if (fx.client != NULL) {
		pm2_client_free(fx.client);
		pm2_events_free(fx.events);
		loop_run_once(fx.loop, 0);
		fx.client = NULL;
		fx.events = NULL;
	}
	loop_free(fx.loop);
	fx.loop = NULL;
	if (fx.home[0] != '\0') {
		if (fx.daemon_started && fx.bin != NULL)
			pm2_command("kill");
		cleanup_kill_marked(fx.home);
		cleanup_rm_tree(fx.home);
		fx.home[0] = '\0';
	}
	free(fx.bin);
	fx.bin = NULL;
}

static int fixture_setup(void)
{
	char err[200];
	fx.bin = pm2_find_bin(NULL, NULL, err, sizeof(err));
	if (fx.bin == NULL) {
		fprintf(stderr, "test_pm2_client: %s\n", err);
		return -1;
	}
	snprintf(fx.home, sizeof(fx.home), "/tmp/tpm2.XXXXXX");
	if (mkdtemp(fx.home) == NULL) {
		fx.home[0] = '\0';
		return -1;
	}
	atexit(cleanup);
	/* The daemon checks max_memory_restart every worker interval (30 s by
	 * default); the daemon inherits this from `pm2 ping`. */
	setenv("PM2_WORKER_INTERVAL", "1000", 1);
	fx.loop = loop_new();
	if (!daemon_start())
		return -1;
	fx.client = pm2_client_new(fx.loop, fx.home, on_state, NULL);
	fx.events = pm2_events_new(fx.loop, fx.home, 0, on_event, on_events_state, NULL);
	if (pm2_events_connect(fx.events) < 0)
		return -1;
	return 0;
}

/* ---- tests ------------------------------------------------------------------------ */

static void test_ping(void **state)
{
	(void)state;
	struct sync_call s = {0};
	assert_true(pm2_ping(fx.client, sync_cb, &s) > 0);
	/* Never called back from inside the call. */
	assert_false(s.done);
	sync_wait(&s);
	assert_null(s.error);
	const cJSON *msg = cJSON_GetObjectItemCaseSensitive(s.result, "msg");
	assert_true(cJSON_IsString(msg));
	assert_string_equal(msg->valuestring, "pong");
	assert_int_equal(fx.connects, 1);
	assert_true(pm2_client_connected(fx.client));
	sync_clear(&s);
}

static bool events_up(void *arg)
{
	(void)arg;
	return pm2_events_connected(fx.events);
}

static void test_version(void **state)
{
	(void)state;
	struct sync_call s = {0};
	pm2_version(fx.client, sync_cb, &s);
	sync_wait(&s);
	assert_null(s.error);
	assert_true(cJSON_IsString(s.result));
	printf("# daemon version %s\n", s.result->valuestring);
	assert_true(strlen(s.result->valuestring) > 0);
	sync_clear(&s);
	assert_true(wait_for(events_up, NULL, T_CALL));
}

static void test_list_empty(void **state)
{
	(void)state;
	struct proclist l;
	list_now(&l);
	assert_int_equal(l.n, 0);
	list_clear(&l);
}

/* Pipelined calls: all sent before any reply, every reply matched by id. */
static void test_pipelined(void **state)
{
	(void)state;
	struct sync_call s[20];
	memset(s, 0, sizeof(s));
	for (int i = 0; i < 20; i++) {
		if (i % 2)
			pm2_ping(fx.client, sync_cb, &s[i]);
		else
			pm2_version(fx.client, sync_cb, &s[i]);
	}
	assert_int_equal(pm2_client_pending(fx.client), 20);
	for (int i = 0; i < 20; i++) {
		sync_wait(&s[i]);
		assert_null(s[i].error);
		if (i % 2)
			assert_true(cJSON_IsObject(s[i].result));
		else
			assert_true(cJSON_IsString(s[i].result));
		sync_clear(&s[i]);
	}
	assert_int_equal(pm2_client_pending(fx.client), 0);
}

static int sleeper_id = -1;
static int sleeper_pid;

static void test_start_sleep(void **state)
{
	(void)state;
	static const char *const argv[] = {"600"};
	struct pm2_conf c = base_conf("sleeper", "/bin/sleep");
	c.argv = argv;
	c.argc = 1;
	size_t from = fx.nev;
	int ids[2], pids[2];
	int64_t ms;
	assert_int_equal(start_app(&c, ids, pids, 2, &ms), 1);
	printf("# prepare of /bin/sleep: %lld ms\n", (long long)ms);
	sleeper_id = ids[0];
	sleeper_pid = pids[0];
	assert_true(sleeper_pid > 0);
	struct pm2_proc p;
	wait_state(sleeper_id, PM2_ST_ONLINE, 0, &p);
	assert_int_equal(p.pid, sleeper_pid);

	struct proclist l;
	list_now(&l);
	const struct pm2_proc *q = find_proc(&l, sleeper_id);
	assert_non_null(q);
	assert_string_equal(q->name, "sleeper");
	assert_string_equal(q->namespace, "default");
	assert_string_equal(q->pm_exec_path, "/bin/sleep");
	assert_string_equal(q->pm_cwd, fx.home);
	assert_false(q->cluster);
	assert_int_equal(q->nargs, 1);
	assert_string_equal(q->args[0], "600");
	assert_int_equal(q->restart_time, 0);
	assert_true(q->pm_uptime > 0 && q->created_at > 0);
	char want[128];
	snprintf(want, sizeof(want), "%s/logs/sleeper-out.log", fx.home);
	assert_string_equal(q->out_log_path, want);
	list_clear(&l);

	/* The kernel agrees on the argv. */
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/cmdline", sleeper_pid);
	FILE *f = fopen(path, "rb");
	assert_non_null(f);
	char buf[64];
	size_t n = fread(buf, 1, sizeof(buf), f);
	fclose(f);
	static const char want_cmdline[] = "/bin/sleep\0"
	                                   "600";
	assert_int_equal(n, sizeof(want_cmdline));
	assert_memory_equal(buf, want_cmdline, n);

	wait_event("online", sleeper_id, NULL, false, from);
}

static void test_argv_exact(void **state)
{
	(void)state;
	static const char *const argv[] = {"[%s]\\n", "a b",  ";ls", "$(x)", "'q'",
	                                   "\"dq\"",  "`id`", "é",   "*",    "-n"};
	struct pm2_conf c = base_conf("argv", "/usr/bin/printf");
	c.argv = argv;
	c.argc = sizeof(argv) / sizeof(argv[0]);
	c.autorestart = false;
	int ids[1];
	assert_int_equal(start_app(&c, ids, NULL, 1, NULL), 1);
	char path[128];
	snprintf(path, sizeof(path), "%s/logs/argv-out.log", fx.home);
	wait_file(path, "[a b]\n[;ls]\n[$(x)]\n['q']\n[\"dq\"]\n[`id`]\n[é]\n[*]\n[-n]\n", true);
	wait_state(ids[0], PM2_ST_STOPPED, 0, NULL);
	delete_app(ids[0]);
}

static void test_env_passed(void **state)
{
	(void)state;
	static const struct pm2_env_var env[] = {
	    {"FOO", "bar baz"},
	    {"WEIRD", "$(y);z 'q' \"d\""},
	    {"EMPTY", ""},
	};
	struct pm2_conf c = base_conf("envtest", "/usr/bin/env");
	c.env = env;
	c.nenv = 3;
	c.autorestart = false;
	int ids[1];
	assert_int_equal(start_app(&c, ids, NULL, 1, NULL), 1);
	char path[128];
	snprintf(path, sizeof(path), "%s/logs/envtest-out.log", fx.home);
	wait_file(path, "\nFOO=bar baz\n", false);
	wait_file(path, "\nWEIRD=$(y);z 'q' \"d\"\n", false);
	wait_file(path, "\nEMPTY=\n", false);
	/* Fork mode passes our env and PM2's own fields, nothing inherited. */
	char *s = slurp(path);
	assert_null(strstr(s, "\nPATH="));
	assert_null(strstr(s, "\nHOME="));
	free(s);

	struct proclist l;
	list_now(&l);
	const struct pm2_proc *p = find_proc(&l, ids[0]);
	assert_non_null(p);
	bool foo = false;
	for (size_t i = 0; i < p->nenv; i++)
		foo |= strcmp(p->env_names[i], "FOO") == 0;
	assert_true(foo);
	list_clear(&l);
	wait_state(ids[0], PM2_ST_STOPPED, 0, NULL);
	delete_app(ids[0]);
}

static void test_cwd_with_space(void **state)
{
	(void)state;
	char dir[128];
	snprintf(dir, sizeof(dir), "%s/dir with space", fx.home);
	assert_int_equal(mkdir(dir, 0755), 0);
	struct pm2_conf c = base_conf("pwd", "/bin/pwd");
	c.cwd = dir;
	c.autorestart = false;
	int ids[1];
	assert_int_equal(start_app(&c, ids, NULL, 1, NULL), 1);
	char path[128], want[160];
	snprintf(path, sizeof(path), "%s/logs/pwd-out.log", fx.home);
	snprintf(want, sizeof(want), "%s\n", dir);
	wait_file(path, want, true);
	wait_state(ids[0], PM2_ST_STOPPED, 0, NULL);
	delete_app(ids[0]);
}

static void test_fork_instances(void **state)
{
	(void)state;
	static const char *const argv[] = {"601"};
	struct pm2_conf c = base_conf("twins", "/bin/sleep");
	c.argv = argv;
	c.argc = 1;
	c.instances = 2;
	int ids[4], pids[4];
	assert_int_equal(start_app(&c, ids, pids, 4, NULL), 2);
	assert_int_not_equal(ids[0], ids[1]);
	assert_int_not_equal(pids[0], pids[1]);
	for (int i = 0; i < 2; i++)
		wait_state(ids[i], PM2_ST_ONLINE, 0, NULL);
	struct proclist l;
	list_now(&l);
	for (int i = 0; i < 2; i++) {
		const struct pm2_proc *p = find_proc(&l, ids[i]);
		assert_non_null(p);
		assert_false(p->cluster);
		assert_int_equal(p->instances, 2);
		assert_int_equal(p->pid, pids[i]);
		/* One log per instance: <name>-out-<pm_id>.log. */
		char want[128];
		snprintf(want, sizeof(want), "%s/logs/twins-out-%d.log", fx.home, ids[i]);
		assert_string_equal(p->out_log_path, want);
	}
	list_clear(&l);
	delete_app(ids[0]);
	delete_app(ids[1]);
	wait_gone(ids[0]);
	wait_gone(ids[1]);
}

static void test_cluster_node(void **state)
{
	(void)state;
	char dir[128], script[160];
	snprintf(dir, sizeof(dir), "%s/app dir", fx.home);
	assert_int_equal(mkdir(dir, 0755), 0);
	snprintf(script, sizeof(script), "%s/app.js", dir);
	FILE *f = fopen(script, "w");
	assert_non_null(f);
	fputs("console.log(JSON.stringify({i: process.env.NODE_APP_INSTANCE,\n"
	      "  argv: process.argv.slice(2), foo: process.env.FOO}));\n"
	      "process.send({type: 'weird\\u0001:name', data: {process: 'x', at: 'y'}});\n"
	      "setInterval(() => {}, 100000);\n",
	      f);
	fclose(f);
	static const char *const argv[] = {"x y", "$(z)"};
	static const struct pm2_env_var env[] = {{"FOO", "bar"}};
	struct pm2_conf c = base_conf("cl", script);
	c.cwd = dir;
	c.cluster = true;
	c.instances = 2;
	c.argv = argv;
	c.argc = 2;
	c.env = env;
	c.nenv = 1;
	size_t from = fx.nev;
	int ids[4], pids[4];
	int64_t ms;
	assert_int_equal(start_app(&c, ids, pids, 4, &ms), 2);
	printf("# prepare of a 2-instance cluster app: %lld ms\n", (long long)ms);
	for (int i = 0; i < 2; i++) {
		wait_state(ids[i], PM2_ST_ONLINE, 0, NULL);
		wait_event("online", ids[i], NULL, false, from);
	}
	struct proclist l;
	list_now(&l);
	for (int i = 0; i < 2; i++) {
		const struct pm2_proc *p = find_proc(&l, ids[i]);
		assert_non_null(p);
		assert_true(p->cluster);
		assert_string_equal(p->exec_interpreter, "node");
		char want[200];
		snprintf(want, sizeof(want),
		         "{\"i\":\"%d\",\"argv\":[\"x y\",\"$(z)\"],\"foo\":\"bar\"}\n", i);
		wait_file(p->out_log_path, want, true);
	}
	list_clear(&l);
	/* An app published an arbitrary event name; the reader shrugged. */
	struct event_cond ec = {"weird\x01:name", NULL, NULL, ids[0], false, from};
	assert_true(wait_for(event_seen, &ec, T_STATE));
	assert_true(pm2_events_connected(fx.events));
	delete_app(ids[0]);
	delete_app(ids[1]);
}

static void test_max_memory_restart(void **state)
{
	(void)state;
	static const char *const argv[] = {"602"};
	struct pm2_conf c = base_conf("fat", "/bin/sleep");
	c.argv = argv;
	c.argc = 1;
	c.max_memory_restart = 4096; /* any process is larger than 4 KiB */
	int ids[1], pids[1];
	assert_int_equal(start_app(&c, ids, pids, 1, NULL), 1);
	struct proclist l;
	list_now(&l);
	const struct pm2_proc *p = find_proc(&l, ids[0]);
	assert_non_null(p);
	assert_true(p->max_memory_restart == 4096);
	list_clear(&l);
	struct pm2_proc q;
	wait_state(ids[0], PM2_ST_ONLINE, 1, &q);
	assert_int_not_equal(q.pid, pids[0]);
	delete_app(ids[0]);
}

static void test_stop_restart_delete(void **state)
{
	(void)state;
	assert_true(sleeper_id >= 0);
	size_t from = fx.nev;
	struct sync_call s = {0};
	assert_true(pm2_stop(fx.client, sleeper_id, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	struct pm2_proc p;
	wait_state(sleeper_id, PM2_ST_STOPPED, 0, &p);
	assert_int_equal(p.pid, 0);
	assert_int_equal(kill(sleeper_pid, 0), -1);
	wait_event("exit", sleeper_id, "stopped", false, from);
	wait_event("stop", sleeper_id, NULL, true, from);

	from = fx.nev;
	assert_true(pm2_restart(fx.client, sleeper_id, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	/* From stopped, a restart is a start: restart_time stays. */
	wait_state(sleeper_id, PM2_ST_ONLINE, 0, &p);
	assert_true(p.pid > 0 && p.pid != sleeper_pid);
	wait_event("online", sleeper_id, NULL, false, from);
	wait_event("restart", sleeper_id, NULL, true, from);

	/* A restart of a running app. */
	int pid2 = p.pid;
	assert_true(pm2_restart(fx.client, sleeper_id, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	wait_state(sleeper_id, PM2_ST_ONLINE, 1, &p);
	assert_int_not_equal(p.pid, pid2);

	from = fx.nev;
	assert_true(pm2_delete(fx.client, sleeper_id, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	wait_gone(sleeper_id);
	wait_event("delete", sleeper_id, NULL, true, from);
	assert_int_equal(kill(p.pid, 0), -1);
}

static void test_bad_id_and_refusal(void **state)
{
	(void)state;
	struct sync_call s = {0};
	pm2_stop(fx.client, 9999, sync_cb, &s);
	sync_wait(&s);
	assert_non_null(s.error);
	assert_null(s.result);
	assert_non_null(strstr(s.error, "unknown"));
	sync_clear(&s);

	/* Refused before anything is sent: the callback never runs. */
	cJSON *bad = cJSON_Parse("{}");
	const char *err = NULL;
	assert_int_equal(pm2_call(fx.client, "ping", bad, 0, sync_cb, &s, &err), 0);
	assert_non_null(err);
	cJSON_Delete(bad);
	cJSON *two = cJSON_Parse("[{},{}]");
	assert_int_equal(pm2_call(fx.client, "ping", two, 0, sync_cb, &s, &err), 0);
	cJSON_Delete(two);
	assert_false(s.done);

	pm2_ping(fx.client, sync_cb, &s);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	assert_int_equal(fx.losses, 0);
}

static int trapper_id = -1;

/* An app that ignores SIGINT makes a stop last kill_timeout (1.6 s). */
static int start_trapper(void)
{
	static char script[200];
	snprintf(script, sizeof(script), "trap '' INT TERM; while :; do sleep 1; done # %s",
	         fx.home);
	const char *argv[] = {"-c", script};
	struct pm2_conf c = base_conf("trapper", "/bin/sh");
	c.argv = argv;
	c.argc = 2;
	c.autorestart = false;
	int ids[1];
	assert_int_equal(start_app(&c, ids, NULL, 1, NULL), 1);
	wait_state(ids[0], PM2_ST_ONLINE, 0, NULL);
	return ids[0];
}

static void test_timeout_and_late_reply(void **state)
{
	(void)state;
	trapper_id = start_trapper();
	cJSON *args = cJSON_CreateArray();
	cJSON_AddItemToArray(args, cJSON_CreateNumber(trapper_id));
	struct sync_call s = {0};
	const char *err = NULL;
	int64_t t0 = util_mono_ms();
	assert_true(pm2_call(fx.client, "stopProcessId", args, 300, sync_cb, &s, &err) > 0);
	cJSON_Delete(args);
	sync_wait(&s);
	int64_t took = util_mono_ms() - t0;
	assert_non_null(s.error);
	assert_non_null(strstr(s.error, "timed out"));
	assert_true(took >= 290 && took < 1500);
	sync_clear(&s);
	/* The late reply comes and is dropped; the connection carries on. */
	wait_state(trapper_id, PM2_ST_STOPPED, 0, NULL);
	pm2_ping(fx.client, sync_cb, &s);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	assert_int_equal(fx.losses, 0);
}

/* A reply over the limit fails its call alone: it is skipped as it
 * streams by and the connection stays. Listings have no such limit. */
static void test_reply_limit(void **state)
{
	(void)state;
	int losses = fx.losses;
	pm2_client_set_limits(fx.client, 0, 20);
	struct sync_call s = {0};
	assert_true(pm2_ping(fx.client, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_non_null(s.error);
	assert_non_null(strstr(s.error, "limit"));
	sync_clear(&s);
	assert_int_equal(fx.losses, losses);
	assert_true(pm2_client_connected(fx.client));
	struct proclist l;
	list_now(&l);
	assert_true(l.n >= 1);
	list_clear(&l);
	pm2_client_set_limits(fx.client, 0, AMP_DEFAULT_MAX_FRAME);
	assert_true(pm2_ping(fx.client, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	assert_int_equal(fx.losses, losses);
}

/*
 * A process list larger than the reply limit is still read whole, and a
 * process of it stopped and deleted. Each record carries the app's env
 * twice (pm2_env.env and as pm2_env keys), so 12 instances with a 64 KB
 * variable make a listing of about 1.6 MB; the limit is lowered to 1 MiB to
 * stand for the 64 MiB default, which 600 such instances passed.
 */
#define BIG_INSTANCES 12
#define BIG_VALUE 65000

static void test_listing_over_limit(void **state)
{
	(void)state;
	char *value = xmalloc(BIG_VALUE + 1);
	for (size_t i = 0; i < BIG_VALUE; i++)
		value[i] = (char)('a' + i % 26);
	value[BIG_VALUE] = '\0';
	const struct pm2_env_var env[] = {{"BIG", value}, {"SMALL", "x"}};
	static const char *const argv[] = {"603"};
	struct pm2_conf c = base_conf("big", "/bin/sleep");
	c.argv = argv;
	c.argc = 1;
	c.instances = BIG_INSTANCES;
	c.env = env;
	c.nenv = 2;
	int ids[BIG_INSTANCES], pids[BIG_INSTANCES];
	pm2_client_set_limits(fx.client, 60000, 0);
	assert_int_equal(start_app(&c, ids, pids, BIG_INSTANCES, NULL), BIG_INSTANCES);
	free(value);

	pm2_client_set_limits(fx.client, 0, (size_t)1 << 20);
	for (int i = 0; i < BIG_INSTANCES; i++)
		wait_state(ids[i], PM2_ST_ONLINE, 0, NULL);
	struct proclist l;
	list_now(&l);
	int found = 0;
	for (int i = 0; i < BIG_INSTANCES; i++) {
		const struct pm2_proc *p = find_proc(&l, ids[i]);
		assert_non_null(p);
		assert_string_equal(p->name, "big");
		assert_int_equal(p->pid, pids[i]);
		assert_int_equal(p->instances, BIG_INSTANCES);
		assert_int_equal(p->nargs, 1);
		assert_string_equal(p->args[0], "603");
		bool big = false, small = false;
		for (size_t k = 0; k < p->nenv; k++) {
			big |= strcmp(p->env_names[k], "BIG") == 0;
			small |= strcmp(p->env_names[k], "SMALL") == 0;
		}
		assert_true(big && small);
		found++;
	}
	assert_int_equal(found, BIG_INSTANCES);
	list_clear(&l);

	struct sync_call s = {0};
	assert_true(pm2_stop(fx.client, ids[0], sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	wait_state(ids[0], PM2_ST_STOPPED, 0, NULL);
	assert_int_equal(kill(pids[0], 0), -1);
	for (int i = 0; i < BIG_INSTANCES; i++)
		delete_app(ids[i]);
	for (int i = 0; i < BIG_INSTANCES; i++)
		wait_gone(ids[i]);
	pm2_client_set_limits(fx.client, PM2_DEFAULT_TIMEOUT_MS, AMP_DEFAULT_MAX_FRAME);
	assert_int_equal(fx.losses, 0);
}

struct self_free {
	bool done;
	struct pm2_client *c;
};

static void free_in_callback(struct pm2_client *c, const cJSON *result, const char *error,
                             void *arg)
{
	(void)result;
	(void)error;
	struct self_free *sf = arg;
	pm2_client_free(c);
	sf->done = true;
}

static void never_called(struct pm2_client *c, const cJSON *result, const char *error, void *arg)
{
	(void)c;
	(void)result;
	(void)error;
	(void)arg;
	fail_msg("a dropped callback ran");
}

static void test_free_inside_callback(void **state)
{
	(void)state;
	struct self_free sf = {0};
	sf.c = pm2_client_new(fx.loop, fx.home, NULL, NULL);
	pm2_ping(sf.c, free_in_callback, &sf);
	pm2_ping(sf.c, never_called, NULL);
	pm2_version(sf.c, never_called, NULL);
	assert_true(wait_for(flag_set, &sf.done, T_CALL));
	loop_run_once(fx.loop, 0);

	/* Cancelled calls never call back either. */
	uint64_t id = pm2_ping(fx.client, never_called, NULL);
	pm2_cancel(fx.client, id);
	struct sync_call s = {0};
	pm2_ping(fx.client, sync_cb, &s);
	sync_wait(&s);
	sync_clear(&s);
}

static void test_find_bin_and_home(void **state)
{
	(void)state;
	char err[200] = "";
	char *b = pm2_find_bin(fx.bin, NULL, err, sizeof(err));
	assert_non_null(b);
	assert_string_equal(b, fx.bin);
	free(b);
	/* An explicit choice that is wrong is an error, not a hint. */
	assert_null(pm2_find_bin("/nonexistent/pm2", NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "/nonexistent/pm2"));
	assert_null(pm2_find_bin("/etc/passwd", NULL, err, sizeof(err)));
	char *saved = getenv("PM2_BIN") ? xstrdup(getenv("PM2_BIN")) : NULL;
	setenv("PM2_BIN", "/nonexistent/pm2", 1);
	assert_null(pm2_find_bin(NULL, NULL, err, sizeof(err)));
	assert_non_null(strstr(err, "PM2_BIN"));
	if (saved != NULL)
		setenv("PM2_BIN", saved, 1);
	else
		unsetenv("PM2_BIN");
	free(saved);

	char *saved_home = getenv("PM2_HOME") ? xstrdup(getenv("PM2_HOME")) : NULL;
	setenv("PM2_HOME", fx.home, 1);
	char *h = pm2_home_path();
	assert_string_equal(h, fx.home);
	free(h);
	unsetenv("PM2_HOME");
	h = pm2_home_path();
	if (getenv("HOME") != NULL) {
		char *want = xasprintf("%s/.pm2", getenv("HOME"));
		assert_string_equal(h, want);
		free(want);
	}
	free(h);
	if (saved_home != NULL)
		setenv("PM2_HOME", saved_home, 1);
	free(saved_home);
}

static bool client_lost_cond(void *arg)
{
	return fx.losses > *(int *)arg;
}

static bool events_lost_cond(void *arg)
{
	return fx.ev_losses > *(int *)arg;
}

static bool events_connected_cond(void *arg)
{
	return fx.ev_connects > *(int *)arg;
}

static void test_daemon_killed_and_back(void **state)
{
	(void)state;
	assert_true(trapper_id >= 0);
	/* Every app but the trapper goes first: a SIGKILLed daemon leaves its
	 * fork-mode apps behind, and the trapper is marked for cleanup. */
	struct proclist l;
	list_now(&l);
	for (size_t i = 0; i < l.n; i++) {
		if (l.p[i].pm_id != trapper_id)
			delete_app(l.p[i].pm_id);
	}
	list_clear(&l);
	struct sync_call s = {0};
	assert_true(pm2_restart(fx.client, trapper_id, sync_cb, &s) > 0);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	wait_state(trapper_id, PM2_ST_ONLINE, 0, NULL);

	/* A stop that lasts 1.6 s is pending when the daemon dies. */
	int losses = fx.losses, ev_losses = fx.ev_losses;
	struct sync_call pending = {0};
	pm2_stop(fx.client, trapper_id, sync_cb, &pending);
	loop_run_once(fx.loop, 50);
	pid_t god = daemon_pid();
	assert_true(god > 0);
	assert_int_equal(kill(god, SIGKILL), 0);
	sync_wait(&pending);
	assert_non_null(pending.error);
	assert_non_null(strstr(pending.error, "lost the connection"));
	sync_clear(&pending);
	assert_true(wait_for(client_lost_cond, &losses, T_CALL));
	assert_true(wait_for(events_lost_cond, &ev_losses, T_CALL));
	assert_false(pm2_client_connected(fx.client));

	/* New calls fail cleanly while nobody listens. */
	losses = fx.losses;
	pm2_ping(fx.client, sync_cb, &s);
	assert_false(s.done);
	sync_wait(&s);
	assert_non_null(s.error);
	assert_non_null(strstr(s.error, "cannot connect"));
	assert_true(fx.losses > losses);
	sync_clear(&s);
	printf("# with the daemon gone: %s\n", fx.last_loss);

	/* Back: a new daemon, and the same client reconnects on its next call. */
	assert_true(daemon_start());
	int connects = fx.connects;
	pm2_ping(fx.client, sync_cb, &s);
	sync_wait(&s);
	assert_null(s.error);
	sync_clear(&s);
	assert_int_equal(fx.connects, connects + 1);
	list_now(&l);
	assert_int_equal(l.n, 0);
	list_clear(&l);
	int ev_connects = fx.ev_connects;
	assert_int_equal(pm2_events_connect(fx.events), 0);
	assert_true(wait_for(events_connected_cond, &ev_connects, T_CALL));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(test_ping),
	    cmocka_unit_test(test_version),
	    cmocka_unit_test(test_list_empty),
	    cmocka_unit_test(test_pipelined),
	    cmocka_unit_test(test_start_sleep),
	    cmocka_unit_test(test_argv_exact),
	    cmocka_unit_test(test_env_passed),
	    cmocka_unit_test(test_cwd_with_space),
	    cmocka_unit_test(test_fork_instances),
	    cmocka_unit_test(test_cluster_node),
	    cmocka_unit_test(test_max_memory_restart),
	    cmocka_unit_test(test_stop_restart_delete),
	    cmocka_unit_test(test_bad_id_and_refusal),
	    cmocka_unit_test(test_timeout_and_late_reply),
	    cmocka_unit_test(test_reply_limit),
	    cmocka_unit_test(test_listing_over_limit),
	    cmocka_unit_test(test_free_inside_callback),
	    cmocka_unit_test(test_find_bin_and_home),
	    cmocka_unit_test(test_daemon_killed_and_back),
	};
	if (fixture_setup() < 0) {
		printf("test_pmclient: 0 passed, 1 failed (no daemon)\n");
		return 1;
	}
	UNIT_RUN("test_pmclient", tests);
}
