/*
 * Unit tests for proc_stat: parsing /proc/PID/stat lines (command names
 * with spaces and parentheses, malformed lines), and sampling the test
 * process itself: its CPU after it burnt some, its RSS against
 * /proc/self/statm, a pid that vanished, a pid never seen.
 */
#include "unit.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "proc_stat.h"

static void parses_a_line(void **state)
{
	(void)state;
	const char line[] = "4242 (a b) c)) S 1 4242 4242 0 -1 4194560 100 0 0 0 "
	                    "37 5 0 0 20 0 1 0 123456 10000000 2500 18446744073709551615\n";
	struct proc_stat_line l;
	assert_int_equal(proc_stat_parse(line, strlen(line), &l), 0);
	assert_int_equal(l.pid, 4242);
	assert_int_equal(l.state, 'S');
	assert_int_equal(l.ticks, 42);
	assert_int_equal(l.start, 123456);
	assert_int_equal(l.rss_pages, 2500);
}

static void refuses_garbage(void **state)
{
	(void)state;
	const char *bad[] = {"", "x", "12", "12 (abc", "12 (abc) S 1 2 3", "-3 (a) S 1",
	                     "12 (a) S 1 2 3 4 5 6 7 8 9 10 11 12 13 x 15 16 17 18 19 20 21 22 23"};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct proc_stat_line l;
		assert_int_equal(proc_stat_parse(bad[i], strlen(bad[i]), &l), -1);
	}
}

static double cpu_seconds(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void samples_itself(void **state)
{
	(void)state;
	struct proc_stat *ps = proc_stat_new(4);
	int me = (int)getpid();
	struct proc_sample s;
	assert_int_equal(proc_stat_sample(ps, &me, 1, proc_stat_now(), &s), 1);
	assert_true(s.alive);
	assert_true(s.cpu >= 0);

	/* Burn 0.3 s of CPU (whatever the wall time on a loaded machine),
	 * then the figure since the previous sample is well above zero and
	 * at most one core. */
	int64_t t0 = proc_stat_now();
	double c0 = cpu_seconds();
	volatile unsigned long x = 0;
	while (cpu_seconds() - c0 < 0.3)
		x++;
	int64_t t1 = proc_stat_now();
	assert_int_equal(proc_stat_sample(ps, &me, 1, t1, &s), 1);
	double expect = 0.3 / ((double)(t1 - t0) / 1000.0) * 100.0;
	assert_true(s.cpu > expect / 2);
	assert_true(s.cpu <= 105.0);

	/* RSS: the same as statm's resident pages (read just after). */
	FILE *f = fopen("/proc/self/statm", "r");
	assert_non_null(f);
	unsigned long size, resident;
	assert_int_equal(fscanf(f, "%lu %lu", &size, &resident), 2);
	fclose(f);
	uint64_t statm = (uint64_t)resident * (uint64_t)sysconf(_SC_PAGESIZE);
	assert_true(s.rss > 0);
	assert_true(s.rss > statm / 2 && s.rss < statm * 2);
	proc_stat_free(ps);
}

static void vanished_and_bogus_pids(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	assert_int_equal(waitpid(child, NULL, 0), child);
	struct proc_stat *ps = proc_stat_new(0);
	int pids[4] = {(int)child, 0, -5, (int)getpid()};
	struct proc_sample s[4];
	assert_int_equal(proc_stat_sample(ps, pids, 4, proc_stat_now(), s), 1);
	assert_false(s[0].alive);
	assert_false(s[1].alive);
	assert_false(s[2].alive);
	assert_true(s[3].alive);
	assert_true(s[0].cpu == 0 && s[0].rss == 0);
	/* A set that shrinks and grows again. */
	assert_int_equal(proc_stat_sample(ps, pids + 3, 1, proc_stat_now(), s), 1);
	assert_int_equal(proc_stat_sample(ps, pids, 4, proc_stat_now(), s), 1);
	proc_stat_free(ps);
}

static void a_zombie_is_gone(void **state)
{
	(void)state;
	pid_t child = fork();
	assert_true(child >= 0);
	if (child == 0)
		_exit(0);
	/* Until reaped it is a zombie: gone for the sampler. */
	struct proc_stat *ps = proc_stat_new(4);
	int pid = (int)child;
	struct proc_sample s;
	struct proc_stat_line l;
	for (int i = 0; i < 2000; i++) {
		if (proc_stat_read(pid, &l) == 0 && l.state == 'Z')
			break;
		usleep(1000);
	}
	assert_int_equal(proc_stat_sample(ps, &pid, 1, proc_stat_now(), &s), 0);
	assert_false(s.alive);
	waitpid(child, NULL, 0);
	proc_stat_free(ps);
}

static size_t open_fds(void)
{
	size_t n = 0;
	char path[64];
	for (int fd = 0; fd < 1024; fd++) {
		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n += access(path, F_OK) == 0;
	}
	return n;
}

/* Files kept open between samples: a process that dies while its file is
 * held reads as gone, the files of pids dropped from the set are closed,
 * no more than the limit are held, and none once the sampler is freed. */
static void kept_files(void **state)
{
	(void)state;
	size_t before = open_fds();
	pid_t kids[3];
	for (int i = 0; i < 3; i++) {
		kids[i] = fork();
		assert_true(kids[i] >= 0);
		if (kids[i] == 0) {
			pause();
			_exit(0);
		}
	}
	int pids[3] = {(int)kids[0], (int)kids[1], (int)kids[2]};
	struct proc_sample s[3];
	struct proc_stat *ps = proc_stat_new(2);
	assert_int_equal(proc_stat_sample(ps, pids, 3, proc_stat_now(), s), 3);
	assert_int_equal(open_fds(), before + 2);
	assert_int_equal(proc_stat_sample(ps, pids, 3, proc_stat_now(), s), 3);
	assert_int_equal(open_fds(), before + 2);
	kill(kids[0], SIGKILL);
	waitpid(kids[0], NULL, 0);
	assert_int_equal(proc_stat_sample(ps, pids, 3, proc_stat_now(), s), 2);
	assert_false(s[0].alive);
	assert_true(s[1].alive && s[2].alive);
	assert_true(open_fds() <= before + 2);
	assert_int_equal(proc_stat_sample(ps, pids + 2, 1, proc_stat_now(), s), 1);
	assert_true(open_fds() <= before + 1);
	proc_stat_free(ps);
	assert_int_equal(open_fds(), before);
	for (int i = 1; i < 3; i++) {
		kill(kids[i], SIGKILL);
		waitpid(kids[i], NULL, 0);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
	    cmocka_unit_test(parses_a_line),
	    cmocka_unit_test(refuses_garbage),
	    cmocka_unit_test(samples_itself),
	    cmocka_unit_test(vanished_and_bogus_pids),
	    cmocka_unit_test(a_zombie_is_gone),
	    cmocka_unit_test(kept_files),
	};
	UNIT_RUN("test_proc_stat", tests);
}
