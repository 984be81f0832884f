/*
 * slash: owns the slash-command grammar (verb / params / content) and the
 * shell-like word splitter that gives command strings the same quoting
 * rules. The grammar is k0mmand3r's, extended as the compatible superset
 * described in shared/reference/k0mmand3r.md: on every line the original
 * handles sensibly the result is identical, null versus empty included.
 *
 * This module must stay pure: no IO, no clock, no globals. Tests and the
 * fuzzer drive it with bytes alone. It is on the console's hot path, so it
 * scans each byte once and allocates only the strings it returns.
 *
 * Two kinds of whitespace matter, as in the original. Trimming (of the
 * line, of the rest after the verb, of content) removes every Unicode
 * White_Space character, because the original calls Rust's str::trim.
 * Separating tokens uses only the six ASCII blanks (space, tab, LF, VT,
 * FF, CR); the original accepted fewer (its separator had to start with a
 * space), and the superset widens that on purpose so a tab separates.
 *
 * Divergences from the original outside its sensible domain, chosen on
 * purpose because the original's result there is a truncation, not a
 * meaning anyone relies on:
 *   - "--a= --b=2": the original eats the blank after '=', fails to read a
 *     value, and then cannot find a separator, so "--b=2" becomes content.
 *     Here a token starting with "--" after '=' and blanks is never a value:
 *     a gets "" and --b=2 is the next parameter.
 *   - Content that starts with '/' ("/verb --x=1 /other") is dropped by the
 *     original (content null). Here it is kept: content "/other".
 *   - An unterminated quote in a value is an error here; the original
 *     silently turned the rest of the line into content.
 *   - --a="" gives a = "" and content ""; the original required at least
 *     one character between the quotes and so made `""` the content.
 *   - Leading blanks before '/' are ignored; the original failed.
 */
#include "slash.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "util.h"

typedef unsigned char uchar;

/* With more parameters than this, duplicate keys are found through a hash
 * index instead of a linear scan, so a hostile 100 KB line of distinct
 * keys stays linear in time. */
#define SLASH_LINEAR_KEYS 8

/* The ASCII blanks that separate tokens (C isspace in the C locale, and
 * exactly the ASCII part of Unicode White_Space). */
static inline bool is_blank(uchar c)
{
	return c == ' ' || (c >= '\t' && c <= '\r');
}

static inline bool is_alpha(uchar c)
{
	return (uchar)((c | 0x20) - 'a') < 26;
}

static inline bool is_alnum(uchar c)
{
	return is_alpha(c) || (uchar)(c - '0') < 10;
}

/* A key character after the first letter: the superset adds '_' and '-'. */
static inline bool is_key_char(uchar c)
{
	return is_alnum(c) || c == '_' || c == '-';
}

/*
 * Length in bytes of the Unicode White_Space character at p (what Rust's
 * char::is_whitespace accepts), or 0. The input is valid UTF-8, so a lead
 * byte is never mistaken for a continuation byte.
 */
static size_t space_len(const uchar *p, const uchar *e)
{
	uchar c = p[0];
	if (c < 0x80)
		return is_blank(c) ? 1 : 0;
	if (c == 0xc2) /* U+0085, U+00A0 */
		return e - p >= 2 && (p[1] == 0x85 || p[1] == 0xa0) ? 2 : 0;
	if (e - p < 3)
		return 0;
	if (c == 0xe1) /* U+1680 */
		return p[1] == 0x9a && p[2] == 0x80 ? 3 : 0;
	if (c == 0xe2) {
		/* U+2000..U+200A, U+2028, U+2029, U+202F */
		if (p[1] == 0x80)
			return p[2] <= 0x8a || p[2] == 0xa8 || p[2] == 0xa9 || p[2] == 0xaf ? 3 : 0;
		if (p[1] == 0x81) /* U+205F */
			return p[2] == 0x9f ? 3 : 0;
		return 0;
	}
	if (c == 0xe3) /* U+3000 */
		return p[1] == 0x80 && p[2] == 0x80 ? 3 : 0;
	return 0;
}

static const uchar *skip_blanks(const uchar *p, const uchar *e)
{
	while (p < e && is_blank(*p))
		p++;
	return p;
}

static const uchar *trim_left(const uchar *p, const uchar *e)
{
	size_t n;
	while (p < e && (n = space_len(p, e)) > 0)
		p += n;
	return p;
}

static const uchar *trim_right(const uchar *s, const uchar *e)
{
	while (e > s) {
		if (is_blank(e[-1])) {
			e--;
			continue;
		}
		if (e[-1] < 0x80)
			break;
		const uchar *c = e - 1;
		while (c > s && (*c & 0xc0) == 0x80)
			c--;
		if (space_len(c, e) != (size_t)(e - c))
			break;
		e = c;
	}
	return e;
}

/* The 1-based column of at, counted in code points from base. */
static size_t column_at(const uchar *base, const uchar *at)
{
	size_t col = 1;
	for (const uchar *p = base; p < at; p++)
		col += (*p & 0xc0) != 0x80;
	return col;
}

static void fail(struct slash_error *err, const uchar *base, const uchar *at, const char *what)
{
	err->column = column_at(base, at);
	snprintf(err->message, sizeof(err->message), "%s at column %zu", what, err->column);
}

/*
 * Offset of the first byte that does not start a valid UTF-8 sequence, or
 * len. Only called once util_utf8_valid has said no, so it may be slow; it
 * reuses util's rules (overlongs, surrogates) sequence by sequence.
 */
static size_t utf8_bad_offset(const uchar *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		uchar c = s[i];
		size_t n = c < 0x80                 ? 1
		           : c >= 0xc2 && c <= 0xdf ? 2
		           : c >= 0xe0 && c <= 0xef ? 3
		           : c >= 0xf0 && c <= 0xf4 ? 4
		                                    : 0;
		if (n == 0 || n > len - i || !util_utf8_valid((const char *)s + i, n))
			return i;
		i += n;
	}
	return len;
}

/* Rejects NUL bytes and invalid UTF-8, reporting whichever comes first. */
static int check_text(const uchar *s, size_t len, struct slash_error *err)
{
	const uchar *nul = len ? memchr(s, '\0', len) : NULL;
	size_t bad = util_utf8_valid((const char *)s, len) ? len : utf8_bad_offset(s, len);
	if (nul != NULL && (size_t)(nul - s) < bad) {
		fail(err, s, nul, "NUL byte");
		return -1;
	}
	if (bad < len) {
		fail(err, s, s + bad, "invalid UTF-8");
		return -1;
	}
	return 0;
}

/*
 * The closing quote matching the quote at open, or NULL when the quote is
 * unterminated. Double quotes skip backslash pairs, so \" does not close
 * them; single quotes are literal and end at the next single quote.
 */
static const uchar *quote_end(const uchar *open, const uchar *e)
{
	const uchar *q = open + 1;
	if (*open == '\'')
		return memchr(q, '\'', (size_t)(e - q));
	while (q < e && *q != '"') {
		if (*q == '\\' && e - q < 2)
			return NULL;
		q += *q == '\\' ? 2 : 1;
	}
	return q < e ? q : NULL;
}

/*
 * Copies the text between open and its closing quote close into dst and
 * returns the bytes written, which never exceed close - open - 1. Double
 * quotes take the escapes \" \\ \n \t and keep any other backslash pair
 * as it is, so a Windows path or a regex survives; single quotes are
 * literal.
 */
static size_t unquote(const uchar *open, const uchar *close, char *dst)
{
	const uchar *q = open + 1;
	char *w = dst;
	if (*open == '\'') {
		memcpy(dst, q, (size_t)(close - q));
		return (size_t)(close - q);
	}
	while (q < close) {
		if (*q != '\\') {
			*w++ = (char)*q++;
			continue;
		}
		switch (q[1]) {
		case '"':
		case '\\':
			*w++ = (char)q[1];
			break;
		case 'n':
			*w++ = '\n';
			break;
		case 't':
			*w++ = '\t';
			break;
		default:
			*w++ = '\\';
			*w++ = (char)q[1];
			break;
		}
		q += 2;
	}
	return (size_t)(w - dst);
}

/* State of one parse: the output under construction and the key index. */
struct parser {
	struct slash_line *out;
	size_t cap;    /* allocated slots in out->params */
	size_t *slots; /* open addressing: param index + 1, 0 = empty */
	size_t nslots; /* a power of two, or 0 while scanning linearly */
};

static uint32_t key_hash(const uchar *k, size_t n)
{
	uint32_t h = 2166136261u; /* FNV-1a */
	while (n-- > 0)
		h = (h ^ *k++) * 16777619u;
	return h;
}

static bool key_equal(const char *key, const uchar *k, size_t n)
{
	return strncmp(key, (const char *)k, n) == 0 && key[n] == '\0';
}

static void index_insert(struct parser *ps, size_t i)
{
	const char *key = ps->out->params[i].key;
	size_t h = key_hash((const uchar *)key, strlen(key)) & (ps->nslots - 1);
	while (ps->slots[h] != 0)
		h = (h + 1) & (ps->nslots - 1);
	ps->slots[h] = i + 1;
}

static void index_rebuild(struct parser *ps, size_t nslots)
{
	free(ps->slots);
	ps->slots = xcalloc(nslots, sizeof(*ps->slots));
	ps->nslots = nslots;
	for (size_t i = 0; i < ps->out->nparams; i++)
		index_insert(ps, i);
}

/* Index of the parameter named k[0..n), or SIZE_MAX. */
static size_t find_key(const struct parser *ps, const uchar *k, size_t n)
{
	const struct slash_line *out = ps->out;
	if (ps->nslots == 0) {
		for (size_t i = 0; i < out->nparams; i++)
			if (key_equal(out->params[i].key, k, n))
				return i;
		return SIZE_MAX;
	}
	size_t h = key_hash(k, n) & (ps->nslots - 1);
	while (ps->slots[h] != 0) {
		size_t i = ps->slots[h] - 1;
		if (key_equal(out->params[i].key, k, n))
			return i;
		h = (h + 1) & (ps->nslots - 1);
	}
	return SIZE_MAX;
}

/* Stores key = value (value is taken over). A repeated key keeps the
 * position of its first appearance and takes the last value, as in the
 * original, where params is a map updated in order. */
static void add_param(struct parser *ps, const uchar *k, size_t n, char *value)
{
	struct slash_line *out = ps->out;
	size_t i = find_key(ps, k, n);
	if (i != SIZE_MAX) {
		free(out->params[i].value);
		out->params[i].value = value;
		return;
	}
	if (out->nparams == ps->cap) {
		ps->cap = ps->cap ? ps->cap * 2 : 4;
		out->params = xrealloc(out->params, ps->cap * sizeof(*out->params));
	}
	i = out->nparams++;
	out->params[i].key = xstrndup((const char *)k, n);
	out->params[i].value = value;
	if (out->nparams > SLASH_LINEAR_KEYS && out->nparams * 2 > ps->nslots)
		index_rebuild(ps, ps->nslots ? ps->nslots * 2 : 4 * SLASH_LINEAR_KEYS);
	else if (ps->nslots != 0)
		index_insert(ps, i);
}

/*
 * Reads parameters from p (just after the verb and its blanks) and returns
 * where they end, which is where content starts; NULL on error. This is
 * the original's separated(0.., param, sep) with the superset's tokens.
 */
static const uchar *parse_params(struct parser *ps, const uchar *p, const uchar *e,
                                 const uchar *base, struct slash_error *err)
{
	for (bool first = true;; first = false) {
		const uchar *save = p;
		if (!first) {
			/* A separator that is not followed by a parameter is
			 * given back, as winnow's separated() does; the
			 * content is trimmed anyway, so only the position of
			 * the end of params matters. */
			if (p >= e || !is_blank(*p))
				return p;
			p = skip_blanks(p, e);
		}
		if (e - p < 3 || p[0] != '-' || p[1] != '-' || !is_alpha(p[2]))
			return save;
		const uchar *key = p + 2;
		p = key + 1;
		while (p < e && is_key_char(*p))
			p++;
		size_t klen = (size_t)(p - key);

		/* The original's opt(multispace0 '=' multispace0): blanks
		 * before '=' are only consumed when '=' follows. */
		const uchar *after_eq = NULL;
		const uchar *t = skip_blanks(p, e);
		if (t < e && *t == '=') {
			after_eq = t + 1;
			p = skip_blanks(after_eq, e);
		}

		char *value;
		if (p < e && (*p == '"' || *p == '\'')) {
			/* As in the original, a quoted value may follow the
			 * key directly, without '=' (--tag"x"). */
			const uchar *close = quote_end(p, e);
			if (close == NULL) {
				fail(err, base, p, "unterminated quote");
				return NULL;
			}
			value = xmalloc((size_t)(close - p));
			value[unquote(p, close, value)] = '\0';
			p = close + 1;
		} else if (after_eq == NULL) {
			value = xstrdup(""); /* a flag */
		} else if (p > after_eq && e - p >= 2 && p[0] == '-' && p[1] == '-') {
			/* "--a= --b=2": the next token is a parameter, not
			 * this one's value (the original made it content).
			 * Give the blanks back so they separate. */
			value = xstrdup("");
			p = after_eq;
		} else {
			/* A bare value runs to any Unicode whitespace, so
			 * "--a=1<NBSP>x" still ends a at "1" and, NBSP not
			 * being a separator, makes the rest content, as the
			 * original does. */
			const uchar *v = p;
			while (p < e && (*p < 0x80 ? !is_blank(*p) : space_len(p, e) == 0))
				p++;
			value = xstrndup((const char *)v, (size_t)(p - v));
		}
		add_param(ps, key, klen, value);
		/* Something glued to the value ("--a="x"y") is not a
		 * separator, so params end and the rest is content. */
		if (p < e && !is_blank(*p))
			return p;
	}
}

void slash_line_free(struct slash_line *line)
{
	if (line == NULL)
		return;
	for (size_t i = 0; i < line->nparams; i++) {
		free(line->params[i].key);
		free(line->params[i].value);
	}
	free(line->params);
	free(line->verb);
	free(line->content);
	memset(line, 0, sizeof(*line));
}

int slash_parse(const char *line, size_t len, struct slash_line *out, struct slash_error *err)
{
	struct slash_error scratch;
	if (err == NULL)
		err = &scratch;
	memset(out, 0, sizeof(*out));
	err->column = 0;
	err->message[0] = '\0';
	const uchar *base = (const uchar *)(line ? line : "");
	if (line == NULL)
		len = 0;
	if (check_text(base, len, err) < 0)
		return -1;

	const uchar *e = base + len;
	const uchar *s = trim_left(base, e);
	const uchar *te = trim_right(s, e);
	if (s == te || *s != '/') {
		out->content = xstrndup((const char *)s, (size_t)(te - s));
		return 0;
	}

	const uchar *verb = s + 1;
	if (verb >= e || !is_alpha(*verb)) {
		fail(err, base, verb, "expected a verb (a letter, then letters or digits) after /");
		return -1;
	}
	const uchar *p = verb + 1;
	while (p < e && is_alnum(*p))
		p++;
	out->verb = xstrndup((const char *)verb, (size_t)(p - verb));
	/* te follows the last non-blank character, so p == te exactly when
	 * nothing but whitespace follows the verb: params and content null. */
	if (p >= te)
		return 0;

	out->has_params = true;
	struct parser ps = {.out = out};
	p = parse_params(&ps, skip_blanks(p, e), e, base, err);
	free(ps.slots);
	if (p == NULL) {
		slash_line_free(out);
		return -1;
	}
	if (p > te)
		p = te;
	p = trim_left(p, te);
	out->content = xstrndup((const char *)p, (size_t)(te - p));
	return 0;
}

const char *slash_param_get(const struct slash_line *line, const char *key)
{
	if (line == NULL || key == NULL)
		return NULL;
	for (size_t i = 0; i < line->nparams; i++)
		if (strcmp(line->params[i].key, key) == 0)
			return line->params[i].value;
	return NULL;
}

/* cJSON reports out-of-memory as NULL; like xmalloc, we treat it as fatal. */
static cJSON *must(cJSON *item)
{
	if (item == NULL)
		abort();
	return item;
}

static cJSON *string_or_null(const char *s)
{
	return must(s ? cJSON_CreateString(s) : cJSON_CreateNull());
}

char *slash_line_to_json(const struct slash_line *line)
{
	cJSON *root = must(cJSON_CreateObject());
	cJSON_AddItemToObject(root, "verb", string_or_null(line->verb));
	if (line->has_params) {
		cJSON *params = must(cJSON_CreateObject());
		for (size_t i = 0; i < line->nparams; i++)
			cJSON_AddItemToObject(params, line->params[i].key,
			                      must(cJSON_CreateString(line->params[i].value)));
		cJSON_AddItemToObject(root, "params", params);
	} else {
		cJSON_AddItemToObject(root, "params", must(cJSON_CreateNull()));
	}
	cJSON_AddItemToObject(root, "content", string_or_null(line->content));
	char *text = cJSON_PrintUnformatted(root);
	cJSON_Delete(root);
	if (text == NULL)
		abort();
	return text;
}

void slash_argv_free(char **argv)
{
	if (argv == NULL)
		return;
	for (char **a = argv; *a != NULL; a++)
		free(*a);
	free(argv);
}

int slash_split_argv(const char *s, size_t len, char ***argv, size_t *argc, struct slash_error *err)
{
	struct slash_error scratch;
	if (err == NULL)
		err = &scratch;
	*argv = NULL;
	*argc = 0;
	err->column = 0;
	err->message[0] = '\0';
	const uchar *base = (const uchar *)(s ? s : "");
	if (s == NULL)
		len = 0;
	const uchar *nul = len ? memchr(base, '\0', len) : NULL;
	if (nul != NULL) {
		fail(err, base, nul, "NUL byte");
		return -1;
	}

	/* A word never outgrows the input (escapes only shrink), so one
	 * scratch buffer of len bytes holds any word being assembled. */
	char *word = xmalloc(len + 1);
	size_t cap = 4, n = 0;
	char **v = xmalloc(cap * sizeof(*v));
	const uchar *p = base, *e = base + len;
	for (;;) {
		p = skip_blanks(p, e);
		if (p >= e)
			break;
		size_t w = 0;
		while (p < e && !is_blank(*p)) {
			if (*p == '\'' || *p == '"') {
				const uchar *close = quote_end(p, e);
				if (close == NULL) {
					fail(err, base, p, "unterminated quote");
					goto error;
				}
				w += unquote(p, close, word + w);
				p = close + 1;
			} else if (*p == '\\' && p + 1 < e) {
				word[w++] = (char)p[1];
				p += 2;
			} else {
				word[w++] = (char)*p++;
			}
		}
		if (n + 1 >= cap) {
			cap *= 2;
			v = xrealloc(v, cap * sizeof(*v));
		}
		v[n++] = xstrndup(word, w);
	}
	v[n] = NULL;
	free(word);
	*argv = v;
	*argc = n;
	return 0;
error:
	v[n] = NULL;
	slash_argv_free(v);
	free(word);
	return -1;
}
