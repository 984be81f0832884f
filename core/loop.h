/*
 * loop: the one poll(2) loop everything runs on (Redis, PM2 sockets, the
 * terminal, child pipes, timers, signals).
 *
 * Callbacks only change state; nothing blocks. Signals arrive through a
 * signalfd as ordinary events, so no code runs in a signal handler. A watcher
 * or timer removed inside a callback is only marked and reaped after the
 * pass, so callbacks may remove anything, themselves included.
 *
 * Ownership: the loop owns every watcher and timer it returns; a pointer is
 * valid until it is removed (or the loop freed). Do not use it after that.
 */
#ifndef TASKER_LOOP_H
#define TASKER_LOOP_H

#include <stdbool.h>
#include <stdint.h>

struct loop;
struct loop_watch;
struct loop_timer;

/* revents: POLLIN, POLLOUT, POLLERR, POLLHUP, POLLNVAL as poll(2) gives. */
typedef void (*loop_fd_fn)(struct loop *loop, int fd, short revents, void *arg);
typedef void (*loop_timer_fn)(struct loop *loop, void *arg);
typedef void (*loop_signal_fn)(struct loop *loop, int signo, void *arg);
/* Runs once at the end of every pass, after all events: for redraws. */
typedef void (*loop_idle_fn)(struct loop *loop, void *arg);

/* Returns NULL with errno set when the signalfd cannot be made. */
struct loop *loop_new(void);
/* Frees all watchers and timers; restores the signal mask. */
void loop_free(struct loop *loop);

/* events: POLLIN and/or POLLOUT; 0 keeps the watcher but polls nothing. */
struct loop_watch *loop_watch_fd(struct loop *loop, int fd, short events, loop_fd_fn fn,
				 void *arg);
void loop_watch_set(struct loop_watch *w, short events);
short loop_watch_events(const struct loop_watch *w);
/* Deferred: the callback never runs again; memory is reaped after the pass. */
void loop_watch_remove(struct loop_watch *w);

/* One-shot timer after delay_ms (monotonic). */
struct loop_timer *loop_timer_add(struct loop *loop, int64_t delay_ms, loop_timer_fn fn,
				  void *arg);
void loop_timer_cancel(struct loop_timer *t);

/* Blocks signo for the process and delivers it through the loop.
 * Returns -1 with errno on failure. One handler per signal. */
int loop_signal(struct loop *loop, int signo, loop_signal_fn fn, void *arg);

void loop_set_idle(struct loop *loop, loop_idle_fn fn, void *arg);

/* Monotonic milliseconds as of the start of the current pass. */
int64_t loop_now(const struct loop *loop);

/* One pass: waits at most timeout_ms (-1: until an event or timer). */
int loop_run_once(struct loop *loop, int timeout_ms);
/* Runs passes until loop_stop(); returns the code given to loop_stop(). */
int loop_run(struct loop *loop);
void loop_stop(struct loop *loop, int code);
bool loop_stopped(const struct loop *loop);

#endif
