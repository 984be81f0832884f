/*
 * pm2_orphans: see pm2_orphans.h. Owns reading /proc (a process's stat and
 * environment) and the identity check before a signal. Everything read from
 * /proc is untrusted: another user's app may put anything in its
 * environment, so lengths are bounded and the JSON is parsed, not searched.
 */
#include "pm2_orphans.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "util.h"

/* An environment larger than this is read only this far (the kernel
 * allows a few MiB; PM2's marks come first in a fork app's, and a cluster
 * worker's pm2_env holds the app's env, so leave room for big values). */
#define ENVIRON_MAX ((size_t)8 << 20)
/* Ancestors followed at most, against a ppid cycle read mid-change. */
#define ANCESTRY_MAX 128

struct proc_stat {
	char state;
	pid_t ppid;
	uint64_t start_time;
};

/* Reads /proc/PID/stat; false when the process is gone or unreadable. */
static bool stat_read(pid_t pid, struct proc_stat *st)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	ssize_t n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return false;
	buf[n] = '\0';
	/* The command name is in parentheses and may hold any byte, ')' too:
	 * the fields start after the last one. */
	char *p = strrchr(buf, ')');
	if (p == NULL || p[1] != ' ')
		return false;
	p += 2;
	st->state = *p;
	/* Fields 3.. from here: state ppid pgrp session tty tpgid flags minflt
	 * cminflt majflt cmajflt utime stime cutime cstime priority nice
	 * num_threads itrealvalue starttime (22). */
	char *end;
	unsigned long long field = 0;
	for (int i = 4; i <= 22; i++) {
		/* p is at field i - 1: step to field i. */
		p = strchr(p, ' ');
		if (p == NULL)
			return false;
		p++;
		if (i == 4 || i == 22) {
			errno = 0;
			field = strtoull(p, &end, 10);
			if (errno != 0 || end == p)
				return false;
			if (i == 4)
				st->ppid = (pid_t)field;
		}
	}
	st->start_time = field;
	return true;
}

/* Reads /proc/PID/environ into a new buffer of *len bytes (NUL-separated);
 * NULL when gone, unreadable or empty. The caller frees it. */
static char *environ_read(pid_t pid, size_t *len)
{
	char path[64];
	snprintf(path, sizeof(path), "/proc/%d/environ", (int)pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return NULL;
	size_t cap = 16384, n = 0;
	char *buf = xmalloc(cap + 1);
	for (;;) {
		if (n == cap) {
			if (cap >= ENVIRON_MAX)
				break;
			cap *= 2;
			buf = xrealloc(buf, cap + 1);
		}
		ssize_t r = read(fd, buf + n, cap - n);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0) {
			/* ESRCH or an empty read: it went away or is a kernel
			 * thread; keep what came. */
			break;
		}
		n += (size_t)r;
	}
	close(fd);
	if (n == 0) {
		free(buf);
		return NULL;
	}
	buf[n] = '\0';
	*len = n;
	return buf;
}

/* Borrowed: the value of variable key in env, or NULL. */
static const char *environ_get(const char *env, size_t len, const char *key)
{
	size_t klen = strlen(key);
	for (size_t i = 0; i < len;) {
		const char *v = env + i;
		size_t vlen = strnlen(v, len - i);
		if (vlen > klen && memcmp(v, key, klen) == 0 && v[klen] == '=')
			return v + klen + 1;
		i += vlen + 1;
	}
	return NULL;
}

/* A pm_id written as decimal digits; -1 for anything else. */
static int pm_id_text(const char *s)
{
	if (s == NULL || *s == '\0' || strlen(s) > 9)
		return -1;
	for (const char *p = s; *p; p++) {
		if (!isdigit((unsigned char)*p))
			return -1;
	}
	return atoi(s);
}

/* True when daemon_pid is an ancestor of pid. */
static bool descends_from(pid_t pid, pid_t daemon_pid)
{
	if (daemon_pid <= 0)
		return false;
	for (int i = 0; i < ANCESTRY_MAX && pid > 1; i++) {
		struct proc_stat st;
		if (!stat_read(pid, &st))
			return false;
		if (st.ppid == daemon_pid)
			return true;
		pid = st.ppid;
	}
	return false;
}

/* Fills o from env when it marks an app of home; false otherwise. */
static bool app_of_home(const char *env, size_t len, const char *home, struct pm2_orphan *o)
{
	const char *their_home = environ_get(env, len, "PM2_HOME");
	if (their_home != NULL) {
		if (strcmp(their_home, home) != 0)
			return false;
	} else {
		const char *pid_path = environ_get(env, len, "pm_pid_path");
		size_t hl = strlen(home);
		if (pid_path == NULL || strncmp(pid_path, home, hl) != 0 ||
		    strncmp(pid_path + hl, "/pids/", 6) != 0)
			return false;
	}
	/* Fork mode: pm_id and name are variables of their own. */
	int id = pm_id_text(environ_get(env, len, "pm_id"));
	const char *name = environ_get(env, len, "name");
	if (id < 0) {
		/* Cluster mode: the record as JSON. */
		const char *json = environ_get(env, len, "pm2_env");
		cJSON *rec = json != NULL ? cJSON_Parse(json) : NULL;
		const cJSON *pid_item = cJSON_GetObjectItemCaseSensitive(rec, "pm_id");
		const cJSON *name_item = cJSON_GetObjectItemCaseSensitive(rec, "name");
		if (cJSON_IsNumber(pid_item) && pid_item->valuedouble >= 0 &&
		    pid_item->valuedouble <= INT_MAX &&
		    pid_item->valuedouble == (double)(int)pid_item->valuedouble)
			id = (int)pid_item->valuedouble;
		if (id >= 0 && cJSON_IsString(name_item) && name_item->valuestring != NULL)
			snprintf(o->name, sizeof(o->name), "%s", name_item->valuestring);
		cJSON_Delete(rec);
		if (id < 0)
			return false;
	} else if (name != NULL) {
		snprintf(o->name, sizeof(o->name), "%s", name);
	}
	o->pm_id = id;
	return true;
}

int pm2_orphans_find(const char *pm2_home, pid_t daemon_pid, struct pm2_orphan **out, size_t *n)
{
	*out = NULL;
	*n = 0;
	DIR *d = opendir("/proc");
	if (d == NULL)
		return -1;
	uid_t me = geteuid();
	pid_t self = getpid();
	size_t cap = 0;
	/* Anything started after the live daemon is not a dead daemon's: a
	 * helper a live app double-forked (reparented to init, with the app's
	 * marks) must be left alone. */
	struct proc_stat dst;
	bool have_daemon = daemon_pid > 0 && stat_read(daemon_pid, &dst);
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		char *end;
		long v = strtol(de->d_name, &end, 10);
		if (*end != '\0' || v <= 1 || v > INT_MAX)
			continue;
		pid_t pid = (pid_t)v;
		if (pid == self || pid == daemon_pid)
			continue;
		char path[64];
		struct stat sb;
		snprintf(path, sizeof(path), "/proc/%d", (int)pid);
		if (stat(path, &sb) < 0 || sb.st_uid != me)
			continue;
		struct proc_stat st;
		if (!stat_read(pid, &st) || st.state == 'Z' || st.state == 'X')
			continue;
		size_t len;
		char *env = environ_read(pid, &len);
		if (env == NULL)
			continue;
		struct pm2_orphan o = {.pid = pid, .start_time = st.start_time};
		bool ours = app_of_home(env, len, pm2_home, &o);
		free(env);
		if (!ours || descends_from(pid, daemon_pid) ||
		    (have_daemon && st.start_time >= dst.start_time))
			continue;
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			*out = xrealloc(*out, cap * sizeof(**out));
		}
		(*out)[(*n)++] = o;
	}
	closedir(d);
	return 0;
}

/* True when o->pid is still the process that was found and not a zombie. */
static bool still_there(const struct pm2_orphan *o)
{
	struct proc_stat st;
	return stat_read(o->pid, &st) && st.start_time == o->start_time && st.state != 'Z' &&
	       st.state != 'X';
}

size_t pm2_orphans_signal(const struct pm2_orphan *orphans, size_t n, int sig)
{
	size_t sent = 0;
	for (size_t i = 0; i < n; i++) {
		if (still_there(&orphans[i]) && kill(orphans[i].pid, sig) == 0)
			sent++;
	}
	return sent;
}

size_t pm2_orphans_prune(struct pm2_orphan *orphans, size_t n)
{
	size_t k = 0;
	for (size_t i = 0; i < n; i++) {
		if (still_there(&orphans[i]))
			orphans[k++] = orphans[i];
	}
	return k;
}
