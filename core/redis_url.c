/*
 * redis_url: see redis_url.h. Pure: string in, struct out. Percent escapes
 * (%40 for '@', %3A for ':') are decoded in user and password so that any
 * password can be written in a URL.
 */
#include "redis_url.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

static int hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c = tolower(c);
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* Decodes %XX; returns NULL on a broken escape or a decoded NUL. */
static char *pct_decode(const char *s, size_t n)
{
	char *out = xmalloc(n + 1);
	size_t o = 0;
	for (size_t i = 0; i < n; i++) {
		if (s[i] != '%') {
			out[o++] = s[i];
			continue;
		}
		int hi = i + 1 < n ? hexval((unsigned char)s[i + 1]) : -1;
		int lo = i + 2 < n ? hexval((unsigned char)s[i + 2]) : -1;
		if (hi < 0 || lo < 0 || (hi == 0 && lo == 0)) {
			free(out);
			return NULL;
		}
		out[o++] = (char)(hi * 16 + lo);
		i += 2;
	}
	out[o] = '\0';
	return out;
}

static int parse_int(const char *s, size_t n, int lo, int hi, int *out)
{
	if (n == 0 || n > 9)
		return -1;
	int v = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (s[i] - '0');
	}
	if (v < lo || v > hi)
		return -1;
	*out = v;
	return 0;
}

void redis_url_free(struct redis_url *url)
{
	free(url->host);
	free(url->path);
	free(url->user);
	if (url->password != NULL) {
		/* Do not leave the secret in freed heap memory. */
		memset(url->password, 0, strlen(url->password));
		free(url->password);
	}
	memset(url, 0, sizeof(*url));
}

static char *dup_or_null(const char *s)
{
	return s ? xstrdup(s) : NULL;
}

void redis_url_copy(struct redis_url *dst, const struct redis_url *src)
{
	*dst = *src;
	dst->host = dup_or_null(src->host);
	dst->path = dup_or_null(src->path);
	dst->user = dup_or_null(src->user);
	dst->password = dup_or_null(src->password);
}

static int fail(struct redis_url *url, char *err, size_t errlen, const char *msg)
{
	redis_url_free(url);
	snprintf(err, errlen, "%s", msg);
	return -1;
}

/* "user:password", ":password" or "password" in [p, at). */
static int parse_credentials(const char *p, const char *at, struct redis_url *out, char *err,
			     size_t errlen)
{
	const char *colon = memchr(p, ':', (size_t)(at - p));
	if (colon != NULL) {
		if (colon > p) {
			out->user = pct_decode(p, (size_t)(colon - p));
			if (out->user == NULL)
				return fail(out, err, errlen,
					    "the Redis URL has a broken %-escape in the user name");
		}
		out->password = pct_decode(colon + 1, (size_t)(at - colon - 1));
		if (out->password == NULL)
			return fail(out, err, errlen, "the Redis URL has a broken %-escape in the password");
	} else if (at > p) {
		/* secret@host: a lone credential is a password, as redis-cli reads it. */
		out->password = pct_decode(p, (size_t)(at - p));
		if (out->password == NULL)
			return fail(out, err, errlen, "the Redis URL has a broken %-escape in the password");
	}
	return 0;
}

static int parse_unix(const char *p, struct redis_url *out, char *err, size_t errlen)
{
	out->is_unix = true;
	const char *q = strchr(p, '?');
	size_t plen = q ? (size_t)(q - p) : strlen(p);
	if (plen == 0 || p[0] != '/')
		return fail(out, err, errlen, "a unix socket URL needs an absolute path (unix:///path/to.sock)");
	if (plen >= 108)
		return fail(out, err, errlen, "the unix socket path is too long (at most 107 bytes)");
	out->path = xstrndup(p, plen);
	if (q != NULL) {
		q++;
		if (strncmp(q, "db=", 3) != 0 ||
		    parse_int(q + 3, strlen(q + 3), 0, 1000000, &out->db) < 0)
			return fail(out, err, errlen, "the unix socket URL accepts only ?db=N with N a number");
	}
	return 0;
}

int redis_url_parse(const char *text, struct redis_url *out, char *err, size_t errlen)
{
	memset(out, 0, sizeof(*out));
	out->port = 6379;
	if (text == NULL || *text == '\0')
		return fail(out, err, errlen, "the Redis URL is empty");
	for (const char *c = text; *c; c++) {
		if ((unsigned char)*c <= ' ' || *c == 0x7f)
			return fail(out, err, errlen, "the Redis URL contains a space or control character");
	}

	if (text[0] == '/')
		return parse_unix(text, out, err, errlen);
	if (strncmp(text, "unix://", 7) == 0) {
		/* unix://[user[:password]@]/path: credentials end at the "@/" that
		 * starts the path. */
		const char *p = text + 7;
		const char *at = p[0] != '/' ? strstr(p, "@/") : NULL;
		if (at != NULL) {
			if (parse_credentials(p, at, out, err, errlen) < 0)
				return -1;
			p = at + 1;
		}
		return parse_unix(p, out, err, errlen);
	}
	if (strncmp(text, "unix:", 5) == 0)
		return parse_unix(text + 5, out, err, errlen);
	if (strncmp(text, "rediss://", 9) == 0)
		return fail(out, err, errlen, "rediss:// (TLS) is not supported by this build; use an stunnel or a unix socket");
	if (strncmp(text, "redis://", 8) != 0)
		return fail(out, err, errlen, "the Redis URL must start with redis:// or unix://");

	const char *p = text + 8;
	const char *end = p + strcspn(p, "/?");
	const char *at = NULL;
	for (const char *c = p; c < end; c++)
		if (*c == '@')
			at = c; /* the last '@': a password may contain a raw '@' */
	if (at != NULL) {
		if (parse_credentials(p, at, out, err, errlen) < 0)
			return -1;
		p = at + 1;
	}

	const char *hend;
	const char *portp = NULL;
	if (*p == '[') {
		const char *rb = memchr(p, ']', (size_t)(end - p));
		if (rb == NULL)
			return fail(out, err, errlen, "the Redis URL has an IPv6 address without its closing ]");
		out->host = xstrndup(p + 1, (size_t)(rb - p - 1));
		hend = rb + 1;
		if (hend < end) {
			if (*hend != ':')
				return fail(out, err, errlen, "the Redis URL has text after the IPv6 address");
			portp = hend + 1;
		}
	} else {
		const char *colon = memchr(p, ':', (size_t)(end - p));
		hend = colon ? colon : end;
		out->host = xstrndup(p, (size_t)(hend - p));
		if (colon)
			portp = colon + 1;
	}
	if (out->host[0] == '\0') {
		free(out->host);
		out->host = xstrdup("127.0.0.1");
	}
	if (portp != NULL && parse_int(portp, (size_t)(end - portp), 1, 65535, &out->port) < 0)
		return fail(out, err, errlen, "the Redis URL has a port that is not a number from 1 to 65535");

	if (*end == '/') {
		const char *db = end + 1;
		size_t n = strcspn(db, "?");
		if (n > 0 && parse_int(db, n, 0, 1000000, &out->db) < 0)
			return fail(out, err, errlen, "the Redis URL has a database that is not a number (redis://host:port/DB)");
		end = db + n;
	}
	if (*end == '?')
		return fail(out, err, errlen, "the Redis URL has query options, which tasker does not understand");
	return 0;
}

void redis_url_redact(const struct redis_url *url, char *buf, size_t size)
{
	if (url->is_unix) {
		char cred[300] = "";
		if (url->user != NULL)
			snprintf(cred, sizeof(cred), "%s:***@", url->user);
		else if (url->password != NULL)
			snprintf(cred, sizeof(cred), ":***@");
		if (url->db != 0)
			snprintf(buf, size, "unix://%s%s?db=%d", cred, url->path, url->db);
		else
			snprintf(buf, size, "unix://%s%s", cred, url->path);
		return;
	}
	const char *lb = strchr(url->host, ':') ? "[" : "";
	const char *rb = *lb ? "]" : "";
	char cred[300] = "";
	if (url->user != NULL)
		snprintf(cred, sizeof(cred), "%s:***@", url->user);
	else if (url->password != NULL)
		snprintf(cred, sizeof(cred), ":***@");
	char db[24] = "";
	if (url->db != 0)
		snprintf(db, sizeof(db), "/%d", url->db);
	snprintf(buf, size, "redis://%s%s%s%s:%d%s", cred, lb, url->host, rb, url->port, db);
}
