/*
 * bench.h: the few helpers every benchmark program needs: a microsecond
 * clock, a process's CPU from /proc, the PM2 daemon's pid, percentiles.
 * Header-only (static inline), since each benchmark is one source file
 * linked against the core objects. Nothing here prints or exits.
 */
#ifndef TASKER_BENCH_H
#define TASKER_BENCH_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static inline int64_t bench_now_us(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

/* utime + stime of a process (all its threads), in clock ticks (10 ms on
 * most kernels); -1 when it is gone or unreadable. */
static inline long long bench_proc_ticks(long pid)
{
	if (pid <= 0)
		return -1;
	char path[64], buf[2048];
	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	FILE *f = fopen(path, "r");
	if (f == NULL)
		return -1;
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces and parens:
	 * state(3) ppid pgrp session tty_nr tpgid flags minflt cminflt majflt
	 * cmajflt utime(14) stime(15). */
	char *p = strrchr(buf, ')');
	unsigned long long ut, st;
	if (p == NULL || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu",
				&ut, &st) != 2)
		return -1;
	return (long long)(ut + st);
}

/* The same in ms; -1 when unreadable. */
static inline double bench_proc_cpu_ms(long pid)
{
	long long t = bench_proc_ticks(pid);
	return t < 0 ? -1 : (double)t * 1000.0 / (double)sysconf(_SC_CLK_TCK);
}

/* The PM2 daemon's pid from PM2_HOME/pm2.pid; -1 when there is none. */
static inline long bench_pm2_daemon_pid(const char *pm2_home)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/pm2.pid", pm2_home);
	FILE *f = fopen(path, "r");
	long pid = -1;
	if (f != NULL) {
		if (fscanf(f, "%ld", &pid) != 1)
			pid = -1;
		fclose(f);
	}
	return pid;
}

static inline int bench_cmp_double(const void *x, const void *y)
{
	double a = *(const double *)x, c = *(const double *)y;
	return a < c ? -1 : a > c;
}

/* Nearest-rank percentile p (0..1) of v[0..n), which it sorts; NAN when
 * n is 0. */
static inline double bench_pct(double *v, size_t n, double p)
{
	if (n == 0)
		return NAN;
	qsort(v, n, sizeof(double), bench_cmp_double);
	size_t k = (size_t)ceil(p * (double)n);
	return v[k > 0 ? k - 1 : 0];
}

#endif
