/*
 * text: see text.h. Owns the one rule that decides which characters of
 * untrusted text may reach a terminal as they are. It must stay pure (no
 * IO, no clock) so the unit tests can pin every class of character.
 */
#include "text.h"

#include <stdio.h>
#include <string.h>

/* Bidirectional overrides and isolates reorder what follows them on the
 * screen: text from a task or a sender must not do that. */
static bool is_bidi_control(uint32_t cp)
{
	return (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

/* C0, DEL and C1: a terminal acts on them instead of showing them. wcwidth
 * refuses them too in glibc's locales; saying so here does not depend on
 * that. */
static bool is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f);
}

void text_next(const char *p, size_t rest, mbstate_t *st, struct text_char *c)
{
	wchar_t wc = 0;
	size_t k = mbrtowc(&wc, p, rest, st);
	if (k == (size_t)-1 || k == (size_t)-2 || k == 0) {
		/* Not decodable (or a NUL): one refused byte; start afresh after it. */
		memset(st, 0, sizeof(*st));
		*c = (struct text_char){
		    .len = 1, .width = -1, .decoded = k == 0, .cp = (unsigned char)*p};
		return;
	}
	uint32_t cp = (uint32_t)wc;
	int w = wcwidth(wc);
	if (w < 0 || is_control(cp) || is_bidi_control(cp))
		w = -1;
	*c = (struct text_char){.len = k, .width = w, .decoded = true, .cp = cp};
}

/* The visible escape for a refused character, into buf[16]. */
static size_t escape_of(const struct text_char *c, char *buf)
{
	if (c->decoded && c->cp == '\n')
		return (size_t)snprintf(buf, 16, "\\n");
	if (c->decoded && c->cp == '\r')
		return (size_t)snprintf(buf, 16, "\\r");
	if (c->decoded && c->cp == '\t')
		return (size_t)snprintf(buf, 16, "\\t");
	if (!c->decoded || c->cp < 0x80)
		return (size_t)snprintf(buf, 16, "\\x%02x", (unsigned)(c->cp & 0xff));
	if (c->cp <= 0xffff)
		return (size_t)snprintf(buf, 16, "\\u%04x", (unsigned)c->cp);
	return (size_t)snprintf(buf, 16, "\\U%08x", (unsigned)c->cp);
}

size_t text_escape(const char *s, size_t len, size_t max_cols, char *buf, size_t size)
{
	if (size == 0)
		return 0;
	mbstate_t st;
	memset(&st, 0, sizeof(st));
	size_t o = 0, cols = 0;
	for (size_t i = 0; i < len;) {
		struct text_char c;
		text_next(s + i, len - i, &st, &c);
		char esc[16];
		const char *bytes = s + i;
		size_t n = c.len, w = (size_t)c.width;
		if (c.width < 0) {
			n = escape_of(&c, esc);
			bytes = esc;
			w = n;
		}
		if (o + n >= size || cols + w > max_cols)
			break;
		memcpy(buf + o, bytes, n);
		o += n;
		cols += w;
		i += c.len;
	}
	buf[o] = '\0';
	return cols;
}

size_t text_utf8_next(const char *p, size_t rest, uint32_t *cp)
{
	const unsigned char *u = (const unsigned char *)p;
	unsigned char b = u[0];
	size_t n;
	uint32_t v, min;
	if (b < 0x80) {
		*cp = b;
		return 1;
	} else if (b >= 0xc2 && b <= 0xdf) {
		n = 2, v = b & 0x1f, min = 0x80;
	} else if (b >= 0xe0 && b <= 0xef) {
		n = 3, v = b & 0x0f, min = 0x800;
	} else if (b >= 0xf0 && b <= 0xf4) {
		n = 4, v = b & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (rest < n)
		return 0;
	for (size_t k = 1; k < n; k++) {
		if ((u[k] & 0xc0) != 0x80)
			return 0;
		v = (v << 6) | (u[k] & 0x3f);
	}
	if (v < min || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
		return 0;
	*cp = v;
	return n;
}

size_t text_utf8_trim(const char *s, size_t len)
{
	/* Back over at most 3 continuation bytes to the last lead byte. */
	size_t i = len;
	while (i > 0 && len - i < 3 && ((unsigned char)s[i - 1] & 0xc0) == 0x80)
		i--;
	if (i == 0)
		return len;
	unsigned char b = (unsigned char)s[i - 1];
	size_t need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
	return len - (i - 1) < need ? i - 1 : len;
}
