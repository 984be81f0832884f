/*
 * local_addr: see local_addr.h. Owns the local.json file of a --local
 * console: its place, its format, writing, removing and reading it. It
 * never starts or stops a server (tui/local.c does) and never exits.
 */
#include "local_addr.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cjson/cJSON.h>
#include <hiredis/hiredis.h>

#include "proc_stat.h"
#include "util.h"

#define LOCAL_ADDR_FILE "local.json"
#define LOCAL_ADDR_MAX 4096 /* a URL and a pid: anything larger is not ours */

char *local_addr_dir(void)
{
	const char *rt = getenv("XDG_RUNTIME_DIR");
	return rt && rt[0] == '/' ? xasprintf("%s/tasker", rt)
				  : xasprintf("/tmp/tasker-%u", (unsigned)getuid());
}

int local_addr_parse(const char *text, char *url, size_t urlsize, long *pid)
{
	cJSON *root = cJSON_Parse(text);
	if (root == NULL)
		return -1;
	int rc = -1;
	const cJSON *u = cJSON_GetObjectItemCaseSensitive(root, "url");
	const cJSON *p = cJSON_GetObjectItemCaseSensitive(root, "pid");
	if (cJSON_IsString(u) && u->valuestring[0] != '\0' && strlen(u->valuestring) < urlsize &&
	    cJSON_IsNumber(p) && p->valuedouble >= 1 && p->valuedouble <= 4194304 &&
	    p->valuedouble == (double)(long)p->valuedouble) {
		snprintf(url, urlsize, "%s", u->valuestring);
		*pid = (long)p->valuedouble;
		rc = 0;
	}
	cJSON_Delete(root);
	return rc;
}

/* The start time of pid (field 22 of /proc/PID/stat, clock ticks after
 * boot): with the pid, it names one process for good (a pid is reused, a
 * pid and its start time are not). 0 when it cannot be read. */
static unsigned long long start_of(long pid)
{
	char path[64], buf[1024];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof(buf));
	close(fd);
	struct proc_stat_line l;
	if (n <= 0 || proc_stat_parse(buf, (size_t)n, &l) < 0)
		return 0;
	return l.start;
}

int local_addr_write(const char *dir, const char *url, long pid, char *err, size_t errlen)
{
	cJSON *root = cJSON_CreateObject();
	cJSON_AddStringToObject(root, "url", url);
	cJSON_AddNumberToObject(root, "pid", (double)pid);
	unsigned long long start = start_of(pid);
	if (start != 0) {
		char st[24];
		snprintf(st, sizeof(st), "%llu", start);
		cJSON_AddStringToObject(root, "start", st);
	}
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	char *tmp = xasprintf("%s/.%s.%ld", dir, LOCAL_ADDR_FILE, pid);
	char *path = xasprintf("%s/%s", dir, LOCAL_ADDR_FILE);
	int rc = -1;
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		snprintf(err, errlen, "cannot write %s: %s", tmp, strerror(errno));
	} else {
		size_t n = strlen(text);
		bool ok = write(fd, text, n) == (ssize_t)n && write(fd, "\n", 1) == 1;
		if (close(fd) != 0)
			ok = false;
		if (!ok || rename(tmp, path) != 0) {
			snprintf(err, errlen, "cannot write %s: %s", path, strerror(errno));
			unlink(tmp);
		} else {
			rc = 0;
		}
	}
	free(text);
	free(tmp);
	free(path);
	return rc;
}

/* The file's text when it and its directory are ours and closed to
 * others; malloc'd (the caller frees), or NULL. */
static char *read_private(const char *dir, const char *path)
{
	struct stat st;
	if (lstat(dir, &st) != 0 || !S_ISDIR(st.st_mode) || st.st_uid != getuid() ||
	    (st.st_mode & 077) != 0)
		return NULL;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
	if (fd < 0)
		return NULL;
	char *text = NULL;
	if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == getuid() &&
	    (st.st_mode & 022) == 0 && st.st_size > 0 && st.st_size < LOCAL_ADDR_MAX) {
		text = xmalloc((size_t)st.st_size + 1);
		ssize_t n = read(fd, text, (size_t)st.st_size);
		if (n != st.st_size) {
			free(text);
			text = NULL;
		} else {
			text[n] = '\0';
		}
	}
	close(fd);
	return text;
}

void local_addr_remove(const char *dir, long pid)
{
	char *path = xasprintf("%s/%s", dir, LOCAL_ADDR_FILE);
	char *text = read_private(dir, path);
	char url[LOCAL_ADDR_MAX];
	long owner;
	if (text != NULL && local_addr_parse(text, url, sizeof(url), &owner) == 0 && owner == pid)
		unlink(path);
	free(text);
	free(path);
}

static bool pid_alive(long pid)
{
	return kill((pid_t)pid, 0) == 0 || errno == EPERM;
}

int local_addr_find(char *url, size_t urlsize, long *pid)
{
	char *dir = local_addr_dir();
	char *path = xasprintf("%s/%s", dir, LOCAL_ADDR_FILE);
	char *text = read_private(dir, path);
	free(path);
	free(dir);
	if (text == NULL)
		return -1;
	int rc = local_addr_parse(text, url, urlsize, pid);
	/* A console killed with SIGKILL leaves its file (and its Redis): once
	 * its pid is reused, the start time tells the new process apart. */
	cJSON *root = rc == 0 ? cJSON_Parse(text) : NULL;
	const char *st = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(root, "start"));
	bool reused = st != NULL && strtoull(st, NULL, 10) != start_of(*pid);
	cJSON_Delete(root);
	free(text);
	if (rc < 0 || !pid_alive(*pid) || reused)
		return -1;
	return 0;
}

bool local_addr_answers(const struct redis_url *url)
{
	struct timeval tv = {0, 300000};
	redisContext *c = url->is_unix ? redisConnectUnixWithTimeout(url->path, tv)
				       : redisConnectWithTimeout(url->host, url->port, tv);
	bool ok = false;
	if (c != NULL && c->err == 0) {
		redisSetTimeout(c, tv);
		errno = 0;
		redisReply *r = redisCommand(c, "PING");
		int e = errno; /* a read timeout: REDIS_ERR_IO with EAGAIN */
		/* Any reply means a server is there, an error too (NOAUTH,
		 * LOADING, BUSY, a renamed PING), and so does one too busy to
		 * answer in time: only a refused or closed connection is
		 * "nothing there" (a tool must not go elsewhere because the
		 * Redis it was meant for is having a bad moment). */
		ok = r != NULL || (c->err == REDIS_ERR_IO && (e == EAGAIN || e == EWOULDBLOCK));
		if (r != NULL)
			freeReplyObject(r);
	}
	if (c != NULL)
		redisFree(c);
	return ok;
}
