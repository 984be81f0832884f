/*
 * redis_url: parses the Redis address a user gives (pure, no IO).
 *
 *   redis://[user[:password]@]host[:port][/db]
 *   unix://[user[:password]@]/path/to.sock[?db=N]   (also unix:/path, /path)
 *
 * Passwords are kept only to send AUTH; redis_url_redact() is what every
 * log line, help text and screen shows.
 */
#ifndef TASKER_REDIS_URL_H
#define TASKER_REDIS_URL_H

#include <stdbool.h>
#include <stddef.h>

struct redis_url {
	bool is_unix;
	char *host; /* NULL for unix; IPv6 without brackets */
	int port;
	char *path; /* NULL for tcp */
	char *user; /* NULL: none (AUTH password alone, or no AUTH) */
	char *password;
	int db;
};

/* Returns 0, or -1 with a human-readable sentence in err. On success free
 * the strings with redis_url_free(). */
int redis_url_parse(const char *text, struct redis_url *out, char *err, size_t errlen);
void redis_url_free(struct redis_url *url);
/* A deep copy; free with redis_url_free(). */
void redis_url_copy(struct redis_url *dst, const struct redis_url *src);
/* "redis://user:***@host:6379/2" or "unix:///run/redis.sock?db=2". */
void redis_url_redact(const struct redis_url *url, char *buf, size_t size);

#endif
