/*
 * metrics_http: see metrics_http.h. Owns the libmicrohttpd daemon, its
 * loop watcher (the daemon's epoll fd) and its timer.
 *
 * libmicrohttpd runs in "external" mode with MHD_USE_EPOLL: it keeps its
 * sockets in one epoll fd, which our loop polls; when that fd is readable,
 * or when the timeout MHD_get_timeout() gave passes, MHD_run() does what
 * it can without blocking. After every run the timer is set again: MHD says
 * 0 when it already holds data to process.
 *
 * Must not: block the loop, start a thread, parse HTTP itself, or wait on
 * anything but the render callback (which only formats what is in memory).
 */
#include "metrics_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "log.h"
#include "loop.h"
#include "util.h"

struct metrics_http {
	struct loop *loop;
	struct MHD_Daemon *d;
	struct loop_watch *watch;
	struct loop_timer *timer;
	metrics_http_render_fn render;
	void *arg;
	char address[80];
};

static int parse_port(const char *s, unsigned *port)
{
	if (!util_ascii_digit(s[0]) || strlen(s) > 5)
		return -1;
	char *end;
	long p = strtol(s, &end, 10);
	if (*end != '\0' || p < 1 || p > 65535)
		return -1;
	*port = (unsigned)p;
	return 0;
}

int metrics_http_parse_addr(const char *text, struct sockaddr_storage *ss, socklen_t *sslen,
			    char *err, size_t errlen)
{
	char host[64];
	unsigned port = METRICS_HTTP_DEFAULT_PORT;
	const char *colon;
	memset(ss, 0, sizeof(*ss));
	if (text == NULL || text[0] == '\0' || strlen(text) >= sizeof(host))
		goto bad;
	if (parse_port(text, &port) == 0) {
		snprintf(host, sizeof(host), "127.0.0.1");
	} else if (text[0] == '[') {
		const char *close = strchr(text, ']');
		if (close == NULL || (close[1] != '\0' && close[1] != ':'))
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(close - text - 1), text + 1);
		if (close[1] == ':' && parse_port(close + 2, &port) < 0)
			goto bad;
	} else if ((colon = strrchr(text, ':')) != NULL) {
		if (strchr(text, ':') != colon || parse_port(colon + 1, &port) < 0)
			goto bad;
		snprintf(host, sizeof(host), "%.*s", (int)(colon - text), text);
	} else {
		snprintf(host, sizeof(host), "%s", text);
	}
	if (strcmp(host, "localhost") == 0)
		snprintf(host, sizeof(host), "127.0.0.1");
	if (strcmp(host, "*") == 0)
		snprintf(host, sizeof(host), "0.0.0.0");
	struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
	if (text[0] != '[' && inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
		v4->sin_family = AF_INET;
		v4->sin_port = htons((uint16_t)port);
		*sslen = sizeof(*v4);
		return 0;
	}
	if (text[0] == '[' && inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
		v6->sin6_family = AF_INET6;
		v6->sin6_port = htons((uint16_t)port);
		*sslen = sizeof(*v6);
		return 0;
	}
bad:
	snprintf(err, errlen,
		 "--metrics takes [ADDR:]PORT: a port from 1 to 65535 (on the loopback), "
		 "or an address (a numeric IPv4 address, [IPv6], localhost or *) with an "
		 "optional :PORT (default %d)",
		 METRICS_HTTP_DEFAULT_PORT);
	return -1;
}

static enum MHD_Result answer(struct MHD_Connection *conn, unsigned status, const char *body,
			      const char *allow)
{
	struct MHD_Response *r =
		MHD_create_response_from_buffer(strlen(body), (void *)(uintptr_t)body,
						MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow != NULL)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	enum MHD_Result ret = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return ret;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_data_size, void **con_cls)
{
	(void)version;
	(void)upload_data;
	(void)upload_data_size;
	(void)con_cls;
	struct metrics_http *h = cls;
	/* Answered on the first call, before any body is read: a body sent
	 * with a refused method is never waited for. */
	if (strcmp(url, "/metrics") != 0)
		return answer(conn, MHD_HTTP_NOT_FOUND, "not found: the metrics are at /metrics\n",
			      NULL);
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return answer(conn, MHD_HTTP_METHOD_NOT_ALLOWED, "method not allowed: use GET\n",
			      "GET, HEAD");
	const char *accept = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Accept");
	enum metrics_format fmt = metrics_negotiate(accept);
	size_t len = 0;
	char *text = h->render(h->arg, fmt, &len);
	struct MHD_Response *r = MHD_create_response_from_buffer(len, text, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(text);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, metrics_content_type(fmt));
	enum MHD_Result ret = MHD_queue_response(conn, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return ret;
}

static void on_timer(struct loop *loop, void *arg);

/* Runs MHD once and sets the timer to what it asks for next. */
static void run(struct metrics_http *h)
{
	MHD_run(h->d);
	loop_timer_cancel(h->timer);
	h->timer = NULL;
	MHD_UNSIGNED_LONG_LONG to;
	if (MHD_get_timeout(h->d, &to) == MHD_YES)
		h->timer = loop_timer_add(h->loop, to > 60000 ? 60000 : (int64_t)to, on_timer, h);
}

static void on_timer(struct loop *loop, void *arg)
{
	(void)loop;
	struct metrics_http *h = arg;
	h->timer = NULL;
	run(h);
}

static void on_ready(struct loop *loop, int fd, short revents, void *arg)
{
	(void)loop;
	(void)fd;
	(void)revents;
	run(arg);
}

static void on_mhd_log(void *cls, const char *fmt, va_list ap)
{
	(void)cls;
	char msg[300];
	vsnprintf(msg, sizeof(msg), fmt, ap);
	size_t n = strlen(msg);
	while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == '\r'))
		msg[--n] = '\0';
	log_debug("metrics: %s", msg);
}

struct metrics_http *metrics_http_new(struct loop *loop, const char *addr,
				      metrics_http_render_fn render, void *arg, char *err,
				      size_t errlen)
{
	struct sockaddr_storage ss;
	socklen_t sslen;
	if (metrics_http_parse_addr(addr, &ss, &sslen, err, errlen) < 0)
		return NULL;
	struct metrics_http *h = xcalloc(1, sizeof(*h));
	h->loop = loop;
	h->render = render;
	h->arg = arg;
	char ip[INET6_ADDRSTRLEN];
	unsigned port;
	if (ss.ss_family == AF_INET6) {
		const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)&ss;
		inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof(ip));
		port = ntohs(v6->sin6_port);
		snprintf(h->address, sizeof(h->address), "[%s]:%u", ip, port);
	} else {
		const struct sockaddr_in *v4 = (const struct sockaddr_in *)&ss;
		inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof(ip));
		port = ntohs(v4->sin_port);
		snprintf(h->address, sizeof(h->address), "%s:%u", ip, port);
	}
	unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG;
	if (ss.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	errno = 0;
	h->d = MHD_start_daemon(flags, (uint16_t)port, NULL, NULL, on_request, h,
				MHD_OPTION_EXTERNAL_LOGGER, on_mhd_log, h,
				MHD_OPTION_SOCK_ADDR, (struct sockaddr *)&ss,
				MHD_OPTION_CONNECTION_LIMIT, (unsigned)METRICS_HTTP_MAX_CONN,
				MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)METRICS_HTTP_TIMEOUT_S,
				MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)METRICS_HTTP_HEADER_LIMIT,
				MHD_OPTION_END);
	if (h->d == NULL) {
		snprintf(err, errlen, "--metrics: cannot listen on %s: %s", h->address,
			 errno ? strerror(errno) : "libmicrohttpd refused");
		free(h);
		return NULL;
	}
	const union MHD_DaemonInfo *info = MHD_get_daemon_info(h->d, MHD_DAEMON_INFO_EPOLL_FD);
	if (info == NULL || info->epoll_fd < 0) {
		snprintf(err, errlen, "--metrics: libmicrohttpd has no epoll fd");
		MHD_stop_daemon(h->d);
		free(h);
		return NULL;
	}
	h->watch = loop_watch_fd(loop, info->epoll_fd, POLLIN, on_ready, h);
	run(h);
	return h;
}

void metrics_http_free(struct metrics_http *h)
{
	if (h == NULL)
		return;
	loop_watch_remove(h->watch);
	loop_timer_cancel(h->timer);
	MHD_stop_daemon(h->d);
	free(h);
}

const char *metrics_http_address(const struct metrics_http *h)
{
	return h->address;
}
