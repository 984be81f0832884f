/*
 * loop: poll(2) over a small set of fds, monotonic one-shot timers, and a
 * signalfd. Watchers and timers live in plain arrays: there are a handful of
 * each, and a linear scan per pass is cheaper than any clever structure.
 * Removal is deferred to the end of the pass (see loop.h).
 */
#include "loop.h"

#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "util.h"

struct loop_watch {
	struct loop *loop;
	int fd;
	short events;
	bool dead;
	loop_fd_fn fn;
	void *arg;
};

struct loop_timer {
	struct loop *loop;
	int64_t when;
	bool dead;
	loop_timer_fn fn;
	void *arg;
};

struct loop_sig {
	int signo;
	loop_signal_fn fn;
	void *arg;
};

struct loop {
	struct loop_watch **watches;
	size_t nwatches, capwatches;
	struct loop_timer **timers;
	size_t ntimers, captimers;
	struct loop_sig sigs[16];
	size_t nsigs;
	sigset_t sigmask, oldmask;
	int sigfd;
	loop_idle_fn idle_fn;
	void *idle_arg;
	int64_t now;
	bool stop;
	int code;
	struct pollfd *pfds;
	struct loop_watch **pwatch;
	size_t cappfds;
};

struct loop *loop_new(void)
{
	struct loop *loop = xcalloc(1, sizeof(*loop));
	sigemptyset(&loop->sigmask);
	sigprocmask(SIG_BLOCK, NULL, &loop->oldmask);
	loop->sigfd = -1;
	loop->now = util_mono_ms();
	return loop;
}

void loop_free(struct loop *loop)
{
	if (loop == NULL)
		return;
	for (size_t i = 0; i < loop->nwatches; i++)
		free(loop->watches[i]);
	for (size_t i = 0; i < loop->ntimers; i++)
		free(loop->timers[i]);
	free(loop->watches);
	free(loop->timers);
	free(loop->pfds);
	free(loop->pwatch);
	if (loop->sigfd >= 0) {
		close(loop->sigfd);
		sigprocmask(SIG_SETMASK, &loop->oldmask, NULL);
	}
	free(loop);
}

struct loop_watch *loop_watch_fd(struct loop *loop, int fd, short events, loop_fd_fn fn,
				 void *arg)
{
	struct loop_watch *w = xcalloc(1, sizeof(*w));
	w->loop = loop;
	w->fd = fd;
	w->events = events;
	w->fn = fn;
	w->arg = arg;
	if (loop->nwatches == loop->capwatches) {
		loop->capwatches = loop->capwatches ? loop->capwatches * 2 : 8;
		loop->watches = xrealloc(loop->watches, loop->capwatches * sizeof(*loop->watches));
	}
	loop->watches[loop->nwatches++] = w;
	return w;
}

void loop_watch_set(struct loop_watch *w, short events)
{
	w->events = events;
}

short loop_watch_events(const struct loop_watch *w)
{
	return w->events;
}

void loop_watch_remove(struct loop_watch *w)
{
	if (w != NULL)
		w->dead = true;
}

struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ms, loop_timer_fn fn,
				  void *arg)
{
	struct loop_timer *t = xcalloc(1, sizeof(*t));
	t->loop = loop;
	/* Measured from the real clock, not the pass start: a long callback must
	 * not make a fresh timer fire early. */
	t->when = util_mono_ms() + (delay_ms > 0 ? delay_ms : 0);
	t->fn = fn;
	t->arg = arg;
	if (loop->ntimers == loop->captimers) {
		loop->captimers = loop->captimers ? loop->captimers * 2 : 8;
		loop->timers = xrealloc(loop->timers, loop->captimers * sizeof(*loop->timers));
	}
	loop->timers[loop->ntimers++] = t;
	return t;
}

void loop_timer_cancel(struct loop_timer *t)
{
	if (t != NULL)
		t->dead = true;
}

int loop_signal(struct loop *loop, int signo, loop_signal_fn fn, void *arg)
{
	for (size_t i = 0; i < loop->nsigs; i++) {
		if (loop->sigs[i].signo == signo) {
			loop->sigs[i].fn = fn;
			loop->sigs[i].arg = arg;
			return 0;
		}
	}
	if (loop->nsigs == sizeof(loop->sigs) / sizeof(loop->sigs[0])) {
		errno = ENOSPC;
		return -1;
	}
	sigaddset(&loop->sigmask, signo);
	if (sigprocmask(SIG_BLOCK, &loop->sigmask, NULL) < 0)
		return -1;
	int fd = signalfd(loop->sigfd, &loop->sigmask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return -1;
	loop->sigfd = fd;
	loop->sigs[loop->nsigs++] = (struct loop_sig){signo, fn, arg};
	return 0;
}

void loop_set_idle(struct loop *loop, loop_idle_fn fn, void *arg)
{
	loop->idle_fn = fn;
	loop->idle_arg = arg;
}

int64_t loop_now(const struct loop *loop)
{
	return loop->now;
}

static void read_signals(struct loop *loop)
{
	struct signalfd_siginfo si;
	while (read(loop->sigfd, &si, sizeof(si)) == (ssize_t)sizeof(si)) {
		for (size_t i = 0; i < loop->nsigs; i++) {
			if (loop->sigs[i].signo == (int)si.ssi_signo && loop->sigs[i].fn != NULL)
				loop->sigs[i].fn(loop, (int)si.ssi_signo, loop->sigs[i].arg);
		}
	}
}

static void reap(struct loop *loop)
{
	size_t o = 0;
	for (size_t i = 0; i < loop->nwatches; i++) {
		if (loop->watches[i]->dead)
			free(loop->watches[i]);
		else
			loop->watches[o++] = loop->watches[i];
	}
	loop->nwatches = o;
	o = 0;
	for (size_t i = 0; i < loop->ntimers; i++) {
		if (loop->timers[i]->dead)
			free(loop->timers[i]);
		else
			loop->timers[o++] = loop->timers[i];
	}
	loop->ntimers = o;
}

static int next_timeout(struct loop *loop, int timeout_ms)
{
	int64_t now = util_mono_ms();
	for (size_t i = 0; i < loop->ntimers; i++) {
		struct loop_timer *t = loop->timers[i];
		if (t->dead)
			continue;
		int64_t d = t->when - now;
		if (d < 0)
			d = 0;
		if (timeout_ms < 0 || d < timeout_ms)
			timeout_ms = (int)(d > 3600000 ? 3600000 : d);
	}
	return timeout_ms;
}

int loop_run_once(struct loop *loop, int timeout_ms)
{
	size_t need = loop->nwatches + 1;
	if (need > loop->cappfds) {
		loop->cappfds = need * 2;
		loop->pfds = xrealloc(loop->pfds, loop->cappfds * sizeof(*loop->pfds));
		loop->pwatch = xrealloc(loop->pwatch, loop->cappfds * sizeof(*loop->pwatch));
	}
	size_t n = 0;
	if (loop->sigfd >= 0) {
		loop->pfds[n] = (struct pollfd){.fd = loop->sigfd, .events = POLLIN};
		loop->pwatch[n++] = NULL;
	}
	for (size_t i = 0; i < loop->nwatches; i++) {
		struct loop_watch *w = loop->watches[i];
		if (w->dead || w->events == 0)
			continue;
		loop->pfds[n] = (struct pollfd){.fd = w->fd, .events = w->events};
		loop->pwatch[n++] = w;
	}

	int rc = poll(loop->pfds, n, next_timeout(loop, timeout_ms));
	loop->now = util_mono_ms();
	if (rc < 0 && errno != EINTR)
		return -1;

	if (rc > 0) {
		for (size_t i = 0; i < n; i++) {
			short re = loop->pfds[i].revents;
			if (re == 0)
				continue;
			struct loop_watch *w = loop->pwatch[i];
			if (w == NULL) {
				read_signals(loop);
				continue;
			}
			/* Skip a watcher removed earlier in this pass. */
			if (!w->dead)
				w->fn(loop, w->fd, re, w->arg);
		}
	}

	/* Timers due now; a timer added by a callback waits for the next pass. */
	size_t nt = loop->ntimers;
	for (size_t i = 0; i < nt; i++) {
		struct loop_timer *t = loop->timers[i];
		if (t->dead || t->when > loop->now)
			continue;
		t->dead = true;
		t->fn(loop, t->arg);
	}

	if (loop->idle_fn != NULL)
		loop->idle_fn(loop, loop->idle_arg);
	reap(loop);
	return 0;
}

int loop_run(struct loop *loop)
{
	while (!loop->stop) {
		if (loop_run_once(loop, -1) < 0)
			return -1;
	}
	return loop->code;
}

void loop_stop(struct loop *loop, int code)
{
	loop->stop = true;
	loop->code = code;
}

bool loop_stopped(const struct loop *loop)
{
	return loop->stop;
}
