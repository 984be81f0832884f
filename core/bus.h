/*
 * bus: the Redis connections, on the loop (hiredis async).
 *
 * Two connections, as Redis requires: one subscribes, one publishes and
 * runs commands. Both reconnect by themselves with capped exponential
 * backoff (50 ms doubling to 2 s), authenticate, select the database and
 * re-subscribe. The bus is "ready" only once the server has confirmed every
 * subscription: a program that says it listens really does.
 *
 * Messages published while the publish connection is down wait in a
 * bounded queue and go out when it is back. Nothing here exits the program.
 */
#ifndef TASKER_BUS_H
#define TASKER_BUS_H

#include <stdbool.h>
#include <stddef.h>

#include "loop.h"
#include "redis_url.h"

struct bus;
struct redisReply;

struct bus_handlers {
	/* A message on a subscribed channel. data is valid only during the call. */
	void (*on_message)(struct bus *bus, const char *channel, const char *data, size_t len,
			   void *arg);
	/* Readiness changed; why says what we are waiting for when not ready
	 * ("connecting to redis://127.0.0.1:6379: connection refused"). */
	void (*on_state)(struct bus *bus, bool ready, const char *why, void *arg);
	/* Optional: the resolver answered that the Redis host name does not
	 * exist (why: "cannot resolve the Redis host nope: Name or service not
	 * known"). Called from the loop, once per outage. A one-shot tool stops
	 * here; without it the bus keeps retrying (a name may appear later,
	 * and a temporary resolver failure is always retried) and logs the
	 * reason once. */
	void (*on_unresolved)(struct bus *bus, const char *why, void *arg);
};

/* Reply to a publish: receivers as Redis counted them, or -1 on failure. */
typedef void (*bus_published_fn)(struct bus *bus, long long receivers, void *arg);
/* Reply to a command: reply is NULL when the connection went away. */
typedef void (*bus_reply_fn)(struct bus *bus, struct redisReply *reply, void *arg);

/* Copies url; connects at once (asynchronously). Free with bus_free(). */
struct bus *bus_new(struct loop *loop, const struct redis_url *url,
		    const struct bus_handlers *handlers, void *arg);
void bus_free(struct bus *bus);

/* Adds a channel to the subscription set (subscribed now if connected, and
 * after every reconnect). */
void bus_subscribe(struct bus *bus, const char *channel);

/* Publishes data[0..len) on channel; queued while down. cb may be NULL.
 * Returns -1 (and calls nothing) when the queue is full. */
int bus_publish(struct bus *bus, const char *channel, const char *data, size_t len,
		bus_published_fn cb, void *arg);

/* Runs a command (argv form, binary-safe) on the publish connection when it
 * is up; returns -1 at once when it is not. cb may be NULL. */
int bus_command(struct bus *bus, int argc, const char **argv, const size_t *lens,
		bus_reply_fn cb, void *arg);

/*
 * A third connection, for blocking reads (XREADGROUP ... BLOCK) that would
 * hold up the publish connection: connected (with the same AUTH, SELECT
 * and backoff) from now on. on_reader says when it comes up (issue the
 * reads again then) and when it goes down (the replies of commands in
 * flight on it come back NULL). It does not count towards readiness.
 */
void bus_reader_enable(struct bus *bus, void (*on_reader)(struct bus *bus, bool up, void *arg),
		       void *arg);
/* Runs a command on the reader connection; -1 at once when it is not up. */
int bus_reader_command(struct bus *bus, int argc, const char **argv, const size_t *lens,
		       bus_reply_fn cb, void *arg);
bool bus_reader_up(const struct bus *bus);

bool bus_ready(const struct bus *bus);
/* True when the publish connection is up (commands can run). */
bool bus_can_command(const struct bus *bus);
/* Messages waiting for the publish connection. */
size_t bus_pending(const struct bus *bus);
/* A redacted address for humans: never holds the password. */
const char *bus_address(const struct bus *bus);
/* What the bus is doing now, for a status line. */
const char *bus_status(const struct bus *bus);

#endif
