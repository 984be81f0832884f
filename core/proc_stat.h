/*
 * proc_stat: the CPU and memory of a set of processes, read from /proc,
 * so that a monitor can show them without asking the PM2 daemon for its
 * whole process list.
 *
 * Owns: a fixed table of what each pid looked like at the previous sample
 * (its start time and CPU ticks), how one /proc/PID/stat line is parsed,
 * and the figures PM2's own monitoring gives (pidusage): CPU as a percent
 * of one core over the time since the previous sample of that pid (since
 * the process started, on its first sample), and the resident set size in
 * bytes of the pid alone.
 *
 * At most one open and one read per pid per sample (/proc/PID/stat carries both
 * the ticks, field 14+15, and the RSS, field 24, which is what
 * /proc/PID/statm's second field says). A pid that vanished reads as
 * gone; a pid reused by another process (a different start time, field
 * 22) starts afresh. No allocation per sample: the table only grows when
 * more pids are asked for than ever before.
 *
 * Must not: trust a pid it was given (any number is read safely), or keep
 * figures of a process across a pid reuse.
 */
#ifndef TASKER_PROC_STAT_H
#define TASKER_PROC_STAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* What /proc/PID/stat says that the sampler needs. */
struct proc_stat_line {
	int pid;
	char state;                  /* R, S, Z, ... */
	unsigned long long ticks;    /* utime + stime, in clock ticks */
	unsigned long long start;    /* field 22: start time, ticks after boot */
	long long rss_pages;         /* field 24 */
};

/* Parses one /proc/PID/stat line (len bytes, need not end in NUL). The
 * command name (field 2) may hold spaces and parentheses: the fields after
 * it are found from its last ')'. Returns 0, or -1 on a malformed line. */
int proc_stat_parse(const char *buf, size_t len, struct proc_stat_line *out);

/* One pid's figures from a sample. */
struct proc_sample {
	bool alive;      /* false: no such process (cpu and rss are 0) */
	double cpu;      /* percent of one core */
	uint64_t rss;    /* bytes */
};

struct proc_stat;

/* A new sampler; free with proc_stat_free. It keeps up to max_fds files
 * of /proc open between samples (a pread instead of a path lookup each
 * time: the lookup is most of the cost); 0 opens and closes every time. */
struct proc_stat *proc_stat_new(size_t max_fds);
void proc_stat_free(struct proc_stat *ps);

/*
 * Samples pids[0..n) (0 or negative pids read as gone) into out[0..n),
 * and forgets every pid not in this set. now_ms is CLOCK_BOOTTIME in
 * milliseconds (proc_stat_now), the clock a process's start time counts
 * on. Returns how many were alive.
 */
size_t proc_stat_sample(struct proc_stat *ps, const int *pids, size_t n, int64_t now_ms,
                        struct proc_sample *out);

/* CLOCK_BOOTTIME in milliseconds. */
int64_t proc_stat_now(void);

/* Reads one pid's line from /proc (for tests and one-off looks). */
int proc_stat_read(int pid, struct proc_stat_line *out);

#endif
