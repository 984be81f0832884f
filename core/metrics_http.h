/*
 * metrics_http: the HTTP endpoint of `tasker exec --metrics` (GET or HEAD
 * /metrics), served by GNU libmicrohttpd from our own poll loop: its epoll
 * fd is one loop watcher and its timeout one loop timer; nothing blocks and
 * no thread is started. All HTTP parsing is libmicrohttpd's.
 *
 * Bad requests get their HTTP error: another path 404, another method 405,
 * headers over METRICS_HTTP_HEADER_LIMIT 431, a client silent for
 * METRICS_HTTP_TIMEOUT_S is dropped, and at most METRICS_HTTP_MAX_CONN
 * connections are open at once (more are closed as they come).
 */
#ifndef TASKER_METRICS_HTTP_H
#define TASKER_METRICS_HTTP_H

#include <stddef.h>
#include <sys/socket.h>

#include "metrics.h"

struct loop;
struct metrics_http;

/* 8275 spells TASK on a phone keypad, and lies outside Prometheus' default
 * port allocations (9090-9094, 9100-9999): see docs/operations.md. */
#define METRICS_HTTP_DEFAULT_PORT 8275
#define METRICS_HTTP_HEADER_LIMIT (16 * 1024)
#define METRICS_HTTP_TIMEOUT_S 10
#define METRICS_HTTP_MAX_CONN 32

/* Returns the exposition (malloc'd, *len bytes; the caller frees). */
typedef char *(*metrics_http_render_fn)(void *arg, enum metrics_format fmt, size_t *len);

/*
 * Parses "[ADDR:]PORT" or "ADDR" (then METRICS_HTTP_DEFAULT_PORT): PORT
 * alone binds the loopback; ADDR is a numeric IPv4 address, an IPv6 one
 * in brackets ("[::1]:8275"), "localhost" or "*" (every IPv4 address).
 * Returns -1 with a sentence in err when the text is none of these.
 */
int metrics_http_parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *sslen,
			    char *err, size_t errlen);

/* Listens on addr (metrics_http_parse_addr's form). Returns NULL with a
 * sentence in err (a bad address, a port in use). render is called for
 * each scrape; the server borrows loop and arg. */
struct metrics_http *metrics_http_new(struct loop *loop, const char *addr,
				      metrics_http_render_fn render, void *arg, char *err,
				      size_t errlen);
void metrics_http_free(struct metrics_http *h);

/* The address it listens on, as "ADDR:PORT" (for the log). */
const char *metrics_http_address(const struct metrics_http *h);

#endif
