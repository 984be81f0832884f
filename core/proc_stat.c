/*
 * proc_stat: see proc_stat.h. Owns the sampler's table and the parsing of
 * /proc/PID/stat. Must not: allocate per sample, or follow a pid across
 * its reuse by another process.
 */
#include "proc_stat.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util.h"

struct ps_entry {
	int pid;
	int fd; /* /proc/PID/stat kept open, or -1 */
	bool taken; /* carried into the next table */
	unsigned long long start, ticks;
	int64_t at_ms;
};

struct proc_stat {
	struct ps_entry *prev, *cur; /* prev sorted by pid */
	size_t nprev, cap;
	size_t max_fds, nfds; /* files kept open, at most max_fds */
	long hz, page;
};

/* Reads an unsigned decimal field at *p, moving past it and one space. */
static int field_u(const char **p, const char *end, unsigned long long *out)
{
	const char *s = *p;
	unsigned long long v = 0;
	bool neg = false;
	if (s < end && *s == '-') {
		neg = true;
		s++;
	}
	const char *digits = s;
	while (s < end && *s >= '0' && *s <= '9') {
		v = v * 10 + (unsigned long long)(*s - '0');
		s++;
	}
	if (s == digits)
		return -1;
	if (s < end && *s != ' ' && *s != '\n')
		return -1;
	if (s < end)
		s++;
	*p = s;
	*out = neg ? 0 : v;
	return 0;
}

int proc_stat_parse(const char *buf, size_t len, struct proc_stat_line *out)
{
	memset(out, 0, sizeof(*out));
	const char *end = buf + len;
	const char *p = buf;
	unsigned long long v;
	if (field_u(&p, end, &v) < 0 || v == 0 || v > 0x7fffffff)
		return -1;
	out->pid = (int)v;
	/* The command name may hold anything, ')' included: the fields go
	 * on after its last ')'. */
	const char *close = NULL;
	for (const char *q = p; q < end; q++)
		if (*q == ')')
			close = q;
	if (close == NULL || p >= end || *p != '(' || close + 3 >= end || close[1] != ' ')
		return -1;
	p = close + 2;
	out->state = *p;
	p++;
	if (p >= end || *p != ' ')
		return -1;
	p++;
	/* Fields 4 (ppid) to 24 (rss). */
	unsigned long long f[25] = {0};
	for (int i = 4; i <= 24; i++)
		if (field_u(&p, end, &f[i]) < 0)
			return -1;
	out->ticks = f[14] + f[15];
	out->start = f[22];
	out->rss_pages = (long long)f[24];
	return 0;
}

/* Reads and parses pid's line from fd (from its start). */
static int read_fd(int fd, int pid, struct proc_stat_line *out)
{
	char buf[1024];
	ssize_t n;
	do
		n = pread(fd, buf, sizeof(buf), 0);
	while (n < 0 && errno == EINTR);
	if (n <= 0 || proc_stat_parse(buf, (size_t)n, out) < 0 || out->pid != pid) {
		errno = ESRCH;
		return -1;
	}
	return 0;
}

static int open_stat(int pid)
{
	if (pid <= 0) {
		errno = ESRCH;
		return -1;
	}
	char path[32];
	snprintf(path, sizeof(path), "/proc/%d/stat", pid);
	return open(path, O_RDONLY | O_CLOEXEC);
}

int proc_stat_read(int pid, struct proc_stat_line *out)
{
	int fd = open_stat(pid);
	if (fd < 0)
		return -1;
	int rc = read_fd(fd, pid, out);
	close(fd);
	return rc;
}

int64_t proc_stat_now(void)
{
	struct timespec ts;
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

struct proc_stat *proc_stat_new(size_t max_fds)
{
	struct proc_stat *ps = xcalloc(1, sizeof(*ps));
	ps->max_fds = max_fds;
	ps->hz = sysconf(_SC_CLK_TCK);
	if (ps->hz <= 0)
		ps->hz = 100;
	ps->page = sysconf(_SC_PAGESIZE);
	if (ps->page <= 0)
		ps->page = 4096;
	return ps;
}

void proc_stat_free(struct proc_stat *ps)
{
	if (ps == NULL)
		return;
	for (size_t i = 0; i < ps->nprev; i++)
		if (ps->prev[i].fd >= 0)
			close(ps->prev[i].fd);
	free(ps->prev);
	free(ps->cur);
	free(ps);
}

static int cmp_entry(const void *a, const void *b)
{
	int x = ((const struct ps_entry *)a)->pid, y = ((const struct ps_entry *)b)->pid;
	return (x > y) - (x < y);
}

static struct ps_entry *find_prev(struct proc_stat *ps, int pid)
{
	struct ps_entry key = {.pid = pid};
	return bsearch(&key, ps->prev, ps->nprev, sizeof(key), cmp_entry);
}

/*
 * Reads pid's line, through the file kept open from the previous sample
 * when there is one (a pread: no path lookup), else by opening it, kept
 * open while fewer than max_fds are. A file kept open stays bound to the
 * process it was opened for: once that process is gone it reads nothing,
 * even if the pid is reused. Returns the fd to keep (-1: none), and
 * whether the line was read in *ok.
 */
static int read_pid(struct proc_stat *ps, struct ps_entry *p, int pid, struct proc_stat_line *l,
		    bool *ok)
{
	int fd = -1;
	if (p != NULL && !p->taken && p->fd >= 0) {
		fd = p->fd;
		p->fd = -1;
		if (read_fd(fd, pid, l) == 0) {
			*ok = true;
			return fd;
		}
		close(fd);
		ps->nfds--;
		*ok = false;
		return -1;
	}
	fd = open_stat(pid);
	if (fd < 0) {
		*ok = false;
		return -1;
	}
	*ok = read_fd(fd, pid, l) == 0;
	if (!*ok || ps->nfds >= ps->max_fds) {
		close(fd);
		return -1;
	}
	ps->nfds++;
	return fd;
}

size_t proc_stat_sample(struct proc_stat *ps, const int *pids, size_t n, int64_t now_ms,
                        struct proc_sample *out)
{
	if (n > ps->cap) {
		/* The only growth: more pids than ever before. */
		ps->cap = n < 64 ? 64 : n * 2;
		ps->cur = xrealloc(ps->cur, ps->cap * sizeof(*ps->cur));
		ps->prev = xrealloc(ps->prev, ps->cap * sizeof(*ps->prev));
	}
	size_t k = 0, alive = 0;
	for (size_t i = 0; i < ps->nprev; i++)
		ps->prev[i].taken = false;
	for (size_t i = 0; i < n; i++) {
		out[i] = (struct proc_sample){0};
		struct proc_stat_line l;
		struct ps_entry *p = pids[i] > 0 ? find_prev(ps, pids[i]) : NULL;
		bool ok = false;
		int fd = pids[i] > 0 ? read_pid(ps, p, pids[i], &l, &ok) : -1;
		if (p != NULL)
			p->taken = true;
		if (!ok || l.state == 'Z' || l.state == 'X') {
			if (fd >= 0) {
				close(fd);
				ps->nfds--;
			}
			continue;
		}
		out[i].alive = true;
		alive++;
		out[i].rss = l.rss_pages > 0 ? (uint64_t)l.rss_pages * (uint64_t)ps->page : 0;
		double secs, used;
		if (p != NULL && p->start == l.start && l.ticks >= p->ticks && now_ms > p->at_ms) {
			secs = (double)(now_ms - p->at_ms) / 1000.0;
			used = (double)(l.ticks - p->ticks) / (double)ps->hz;
		} else {
			/* First look at this process: since it started, as
			 * PM2's pidusage does. */
			secs = (double)now_ms / 1000.0 - (double)l.start / (double)ps->hz;
			used = (double)l.ticks / (double)ps->hz;
		}
		out[i].cpu = secs > 0.001 ? used / secs * 100.0 : 0.0;
		if (out[i].cpu < 0)
			out[i].cpu = 0;
		ps->cur[k++] = (struct ps_entry){.pid = pids[i], .fd = fd, .start = l.start,
		                                 .ticks = l.ticks, .at_ms = now_ms};
	}
	/* The files of pids no longer asked for. */
	for (size_t i = 0; i < ps->nprev; i++)
		if (ps->prev[i].fd >= 0) {
			close(ps->prev[i].fd);
			ps->nfds--;
		}
	if (k > 1) /* (none at all: cur may still be NULL, which qsort may not take) */
		qsort(ps->cur, k, sizeof(*ps->cur), cmp_entry);
	struct ps_entry *t = ps->prev;
	ps->prev = ps->cur;
	ps->cur = t;
	ps->nprev = k;
	return alive;
}
