/*
 * What tests that start their own PM2 daemon leave behind, removed: every
 * process that names the test's private PM2_HOME in its command line (the
 * daemon, cluster workers) or its environment (fork-mode apps, also those
 * a killed daemon left running), and the directory itself. Header-only:
 * tests and benchmarks include it.
 */
#ifndef TASKER_TEST_CLEANUP_H
#define TASKER_TEST_CLEANUP_H

#include <dirent.h>
#include <ftw.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* SIGKILLs whatever names home in its command line or environment. */
static inline void cleanup_kill_marked(const char *home)
{
	DIR *d = opendir("/proc");
	if (d == NULL)
		return;
	struct dirent *de;
	while ((de = readdir(d)) != NULL) {
		pid_t pid = (pid_t)atoi(de->d_name);
		if (pid <= 1 || pid == getpid())
			continue;
		static const char *const files[] = {"cmdline", "environ"};
		for (size_t k = 0; k < 2; k++) {
			char path[64];
			snprintf(path, sizeof(path), "/proc/%d/%s", (int)pid, files[k]);
			FILE *f = fopen(path, "rb");
			if (f == NULL)
				continue;
			static char buf[1 << 16];
			size_t n = fread(buf, 1, sizeof(buf) - 1, f);
			fclose(f);
			for (size_t i = 0; i < n; i++)
				if (buf[i] == '\0')
					buf[i] = ' ';
			buf[n] = '\0';
			if (strstr(buf, home) != NULL)
				kill(pid, SIGKILL);
		}
	}
	closedir(d);
}

static inline int cleanup_rm_entry(const char *path, const struct stat *st, int flag,
				   struct FTW *ftw)
{
	(void)st;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

/* rm -rf dir */
static inline void cleanup_rm_tree(const char *dir)
{
	nftw(dir, cleanup_rm_entry, 16, FTW_DEPTH | FTW_PHYS);
}

#endif
