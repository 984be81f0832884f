/*
 * theme: see theme.h. It owns the theme file grammar, the built-in default,
 * the search path and the monochrome fallback. It must not include curses:
 * the console turns a struct theme into colour pairs. Only theme_load() and
 * theme_list() do IO; no module state.
 */
#include "theme.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#ifndef TASKER_SHAREDIR
#define TASKER_SHAREDIR "/usr/local/share/tasker"
#endif

/* A theme file is a few dozen lines; anything this big is a mistake. */
#define THEME_FILE_MAX (64 * 1024)
#define THEME_NAME_MAX 63

static const char *const elem_names[TH_COUNT] = {
    [TH_DEFAULT] = "default",
    [TH_HEADER] = "header",
    [TH_HEADER_ALERT] = "header-alert",
    [TH_TABLE_HEAD] = "table-head",
    [TH_ROW] = "row",
    [TH_ROW_SELECTED] = "row-selected",
    [TH_ROW_LOST] = "row-lost",
    [TH_STATUS_ONLINE] = "status-online",
    [TH_STATUS_STOPPED] = "status-stopped",
    [TH_STATUS_ERRORED] = "status-errored",
    [TH_STATUS_LAUNCHING] = "status-launching",
    [TH_STATUS_OTHER] = "status-other",
    [TH_FEED_TIME] = "feed-time",
    [TH_FEED_OK] = "feed-ok",
    [TH_FEED_ERROR] = "feed-error",
    [TH_FEED_INFO] = "feed-info",
    [TH_BAR] = "bar",
    [TH_BAR_PROMPT] = "bar-prompt",
    [TH_BAR_ERROR] = "bar-error",
    [TH_HINT] = "hint",
    [TH_OVERLAY] = "overlay",
    [TH_OVERLAY_TITLE] = "overlay-title",
    [TH_BORDER] = "border",
    [TH_SPARK_CPU] = "spark-cpu",
    [TH_SPARK_MEM] = "spark-mem",
    [TH_SPARK_RESTART] = "spark-restart",
    [TH_HEADER_METER] = "header-meter",
    [TH_JOB_PENDING] = "job-pending",
    [TH_JOB_RUNNING] = "job-running",
    [TH_JOB_SUCCEEDED] = "job-succeeded",
    [TH_JOB_FAILED] = "job-failed",
    [TH_JOB_SKIPPED] = "job-skipped",
    [TH_JOB_ROLLBACK] = "job-rollback",
};

/* The eight ANSI colours, in their numeric order. */
static const char *const colour_names[8] = {"black", "red",     "green", "yellow",
                                            "blue",  "magenta", "cyan",  "white"};

static const struct {
	const char *name;
	unsigned bit;
} attr_names[] = {
    {"bold", THEME_ATTR_BOLD},         {"dim", THEME_ATTR_DIM},
    {"reverse", THEME_ATTR_REVERSE},   {"underline", THEME_ATTR_UNDERLINE},
    {"standout", THEME_ATTR_STANDOUT}, {"italic", THEME_ATTR_ITALIC},
    {"blink", THEME_ATTR_BLINK},
};

#define B THEME_ATTR_BOLD
#define D THEME_ATTR_DIM
#define R THEME_ATTR_REVERSE
#define U THEME_ATTR_UNDERLINE

/* The built-in dark default. It uses only the eight ANSI colours so that it
 * works on 8-colour terminals; themes/default.theme must say the same
 * (a unit test compares them). */
static const struct theme_style builtin_styles[TH_COUNT] = {
    [TH_DEFAULT] = {-1, -1, 0},
    [TH_HEADER] = {7, 4, B},
    [TH_HEADER_ALERT] = {7, 1, B},
    [TH_TABLE_HEAD] = {6, -1, B | U},
    [TH_ROW] = {-1, -1, 0},
    [TH_ROW_SELECTED] = {0, 6, 0},
    [TH_ROW_LOST] = {1, -1, 0},
    [TH_STATUS_ONLINE] = {2, -1, B},
    [TH_STATUS_STOPPED] = {-1, -1, D},
    [TH_STATUS_ERRORED] = {1, -1, B},
    [TH_STATUS_LAUNCHING] = {3, -1, 0},
    [TH_STATUS_OTHER] = {5, -1, 0},
    [TH_FEED_TIME] = {-1, -1, D},
    [TH_FEED_OK] = {2, -1, 0},
    [TH_FEED_ERROR] = {1, -1, B},
    [TH_FEED_INFO] = {6, -1, 0},
    [TH_BAR] = {-1, -1, 0},
    [TH_BAR_PROMPT] = {6, -1, B},
    [TH_BAR_ERROR] = {7, 1, B},
    [TH_HINT] = {0, 7, 0},
    [TH_OVERLAY] = {-1, -1, 0},
    [TH_OVERLAY_TITLE] = {3, -1, B},
    [TH_BORDER] = {6, -1, 0},
    [TH_SPARK_CPU] = {2, -1, 0},
    [TH_SPARK_MEM] = {6, -1, 0},
    [TH_SPARK_RESTART] = {1, -1, B},
    [TH_HEADER_METER] = {3, 4, B},
    [TH_JOB_PENDING] = {-1, -1, D},
    [TH_JOB_RUNNING] = {3, -1, B},
    [TH_JOB_SUCCEEDED] = {2, -1, 0},
    [TH_JOB_FAILED] = {1, -1, B},
    [TH_JOB_SKIPPED] = {5, -1, D},
    [TH_JOB_ROLLBACK] = {6, -1, 0},
};

/*
 * What monochrome adds, for the elements whose meaning colour carried.
 * Within each group below these are pairwise different, so they are also
 * the fallback when a theme's own attributes would make a group look alike.
 */
static const unsigned mono_attrs[TH_COUNT] = {
    [TH_HEADER] = R,
    [TH_HEADER_ALERT] = B | R | U,
    [TH_TABLE_HEAD] = U,
    [TH_ROW_SELECTED] = R,
    [TH_ROW_LOST] = D,
    [TH_STATUS_ONLINE] = B,
    [TH_STATUS_STOPPED] = D,
    [TH_STATUS_ERRORED] = B | R,
    [TH_STATUS_LAUNCHING] = U,
    [TH_STATUS_OTHER] = 0,
    [TH_FEED_ERROR] = B,
    [TH_BAR_PROMPT] = B,
    [TH_BAR_ERROR] = B | R,
    [TH_HINT] = R,
    [TH_OVERLAY_TITLE] = B,
    [TH_SPARK_RESTART] = B,
    [TH_HEADER_METER] = R,
    [TH_JOB_PENDING] = D,
    [TH_JOB_RUNNING] = B | U,
    [TH_JOB_SUCCEEDED] = B,
    [TH_JOB_FAILED] = B | R,
    [TH_JOB_SKIPPED] = D | U,
    [TH_JOB_ROLLBACK] = R,
};

#undef B
#undef D
#undef R
#undef U

/* Elements that must stay distinguishable from each other without colour;
 * each group ends with TH_COUNT. */
static const enum theme_elem mono_groups[][7] = {
    {TH_STATUS_ONLINE, TH_STATUS_STOPPED, TH_STATUS_ERRORED, TH_STATUS_LAUNCHING, TH_STATUS_OTHER,
     TH_COUNT},
    {TH_HEADER, TH_HEADER_ALERT, TH_COUNT},
    {TH_ROW, TH_ROW_SELECTED, TH_ROW_LOST, TH_COUNT},
    {TH_FEED_INFO, TH_FEED_ERROR, TH_COUNT},
    {TH_BAR, TH_BAR_ERROR, TH_COUNT},
    {TH_JOB_PENDING, TH_JOB_RUNNING, TH_JOB_SUCCEEDED, TH_JOB_FAILED, TH_JOB_SKIPPED,
     TH_JOB_ROLLBACK, TH_COUNT},
};

void theme_builtin(struct theme *out)
{
	memset(out, 0, sizeof(*out));
	snprintf(out->name, sizeof(out->name), "default");
	memcpy(out->el, builtin_styles, sizeof(out->el));
}

const char *theme_elem_name(enum theme_elem e)
{
	if ((int)e < 0 || e >= TH_COUNT)
		return "?";
	return elem_names[e];
}

void theme_monochrome(struct theme *t)
{
	for (int e = 0; e < TH_COUNT; e++) {
		t->el[e].fg = -1;
		t->el[e].bg = -1;
		t->el[e].attrs |= mono_attrs[e];
	}
	for (size_t g = 0; g < sizeof(mono_groups) / sizeof(mono_groups[0]); g++) {
		const enum theme_elem *grp = mono_groups[g];
		bool alike = false;
		for (size_t i = 0; grp[i] != TH_COUNT; i++)
			for (size_t j = i + 1; grp[j] != TH_COUNT; j++)
				if (t->el[grp[i]].attrs == t->el[grp[j]].attrs)
					alike = true;
		if (alike)
			for (size_t i = 0; grp[i] != TH_COUNT; i++)
				t->el[grp[i]].attrs = mono_attrs[grp[i]];
	}
}

/* ---- parsing ---- */

struct token {
	const char *s;
	size_t len;
};

static bool token_is(struct token t, const char *word)
{
	return strlen(word) == t.len && strncasecmp(t.s, word, t.len) == 0;
}

/* Writes a token for an error message: printable ASCII only, cut at 40. */
static void token_show(struct token t, char *buf, size_t size)
{
	size_t o = 0;
	for (size_t i = 0; i < t.len && o + 4 < size; i++) {
		if (i == 40) {
			memcpy(buf + o, "...", 3);
			o += 3;
			break;
		}
		unsigned char c = (unsigned char)t.s[i];
		buf[o++] = (c >= 0x20 && c < 0x7f) ? (char)c : '?';
	}
	buf[o] = '\0';
}

static int lookup_elem(struct token t)
{
	for (int e = 0; e < TH_COUNT; e++)
		if (token_is(t, elem_names[e]))
			return e;
	return -1;
}

/* Parses a colour into *out; on failure writes the reason (without the
 * source and line) into why. */
static int parse_colour(struct token t, short *out, char *why, size_t whylen)
{
	char shown[48];
	token_show(t, shown, sizeof(shown));
	if (token_is(t, "default")) {
		*out = -1;
		return 0;
	}
	bool digits = t.len > 0;
	for (size_t i = 0; i < t.len; i++)
		if (t.s[i] < '0' || t.s[i] > '9')
			digits = false;
	if (digits) {
		unsigned long v = 0;
		for (size_t i = 0; i < t.len && v <= 255; i++)
			v = v * 10 + (unsigned long)(t.s[i] - '0');
		if (v > 255) {
			snprintf(why, whylen, "colour %s out of range (0..255)", shown);
			return -1;
		}
		*out = (short)v;
		return 0;
	}
	struct token base = t;
	int add = 0;
	if (t.len > 7 && strncasecmp(t.s, "bright-", 7) == 0) {
		base.s += 7;
		base.len -= 7;
		add = 8;
	}
	for (int c = 0; c < 8; c++) {
		if (token_is(base, colour_names[c])) {
			*out = (short)(c + add);
			return 0;
		}
	}
	snprintf(why, whylen, "unknown colour '%s'", shown);
	return -1;
}

/* Parses one attribute list token ("bold,underline") into *bits. */
static int parse_attrs(struct token t, unsigned *bits, bool *saw_none, char *why, size_t whylen)
{
	const char *p = t.s, *e = t.s + t.len;
	while (p < e) {
		const char *q = memchr(p, ',', (size_t)(e - p));
		if (q == NULL)
			q = e;
		struct token a = {p, (size_t)(q - p)};
		p = q + 1;
		if (a.len == 0)
			continue;
		if (token_is(a, "none")) {
			*saw_none = true;
			continue;
		}
		bool found = false;
		for (size_t i = 0; i < sizeof(attr_names) / sizeof(attr_names[0]); i++) {
			if (token_is(a, attr_names[i].name)) {
				*bits |= attr_names[i].bit;
				found = true;
			}
		}
		if (!found) {
			char shown[48];
			token_show(a, shown, sizeof(shown));
			snprintf(why, whylen, "unknown attribute '%s'", shown);
			return -1;
		}
	}
	return 0;
}

/* Splits line[0..len) (comment already removed) into blank-separated
 * tokens; returns how many, at most max (the rest are counted, not kept). */
static size_t split_tokens(const char *s, size_t len, struct token *tok, size_t max)
{
	size_t n = 0, i = 0;
	while (i < len) {
		while (i < len && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i >= len)
			break;
		size_t b = i;
		while (i < len && s[i] != ' ' && s[i] != '\t')
			i++;
		if (n < max)
			tok[n] = (struct token){s + b, i - b};
		n++;
	}
	return n;
}

/* The "name NAME" directive: the rest of the line, trimmed. */
static int parse_name(const char *s, size_t len, char *name, char *why, size_t whylen)
{
	while (len > 0 && (*s == ' ' || *s == '\t'))
		s++, len--;
	while (len > 0 && (s[len - 1] == ' ' || s[len - 1] == '\t'))
		len--;
	if (len == 0) {
		snprintf(why, whylen, "'name' needs a theme name");
		return -1;
	}
	if (len > THEME_NAME_MAX) {
		snprintf(why, whylen, "theme name longer than %d bytes", THEME_NAME_MAX);
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f) {
			snprintf(why, whylen, "control character in the theme name");
			return -1;
		}
	}
	if (!util_utf8_valid(s, len)) {
		snprintf(why, whylen, "the theme name is not valid UTF-8");
		return -1;
	}
	memcpy(name, s, len);
	name[len] = '\0';
	return 0;
}

/* Parses one line (no newline) into *t; -1 with the reason in why. */
static int parse_line(const char *s, size_t len, bool first, struct theme *t, char *why,
                      size_t whylen)
{
	const char *hash = memchr(s, '#', len);
	if (hash != NULL)
		len = (size_t)(hash - s);
	struct token tok[16];
	size_t n = split_tokens(s, len, tok, sizeof(tok) / sizeof(tok[0]));
	if (n == 0)
		return 0;
	if (token_is(tok[0], "name")) {
		if (!first) {
			snprintf(why, whylen, "'name' must come before the elements");
			return -1;
		}
		size_t off = (size_t)(tok[0].s + tok[0].len - s);
		return parse_name(s + off, len - off, t->name, why, whylen);
	}
	char shown[48];
	token_show(tok[0], shown, sizeof(shown));
	int e = lookup_elem(tok[0]);
	if (e < 0) {
		snprintf(why, whylen, "unknown element '%s'", shown);
		return -1;
	}
	if (n < 3) {
		snprintf(why, whylen, "'%s' needs a %s colour", shown,
		         n < 2 ? "foreground and a background" : "background");
		return -1;
	}
	struct theme_style st = {0, 0, 0};
	if (parse_colour(tok[1], &st.fg, why, whylen) != 0 ||
	    parse_colour(tok[2], &st.bg, why, whylen) != 0)
		return -1;
	if (n > sizeof(tok) / sizeof(tok[0])) {
		snprintf(why, whylen, "too many fields");
		return -1;
	}
	bool saw_none = false;
	for (size_t i = 3; i < n; i++)
		if (parse_attrs(tok[i], &st.attrs, &saw_none, why, whylen) != 0)
			return -1;
	if (saw_none && st.attrs != 0) {
		snprintf(why, whylen, "'none' cannot be combined with other attributes");
		return -1;
	}
	t->el[e] = st;
	return 0;
}

int theme_parse(const char *text, size_t len, const char *source_name, struct theme *inout,
                char *err, size_t errlen)
{
	struct theme t = *inout;
	const char *src = source_name != NULL ? source_name : "theme";
	size_t lineno = 0;
	bool first = true;
	const char *p = text, *end = text + len;
	while (p < end) {
		lineno++;
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl != NULL ? nl : end;
		size_t ll = (size_t)(le - p);
		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		char why[160];
		if (memchr(p, '\0', ll) != NULL) {
			snprintf(err, errlen, "%s line %zu: NUL byte", src, lineno);
			return -1;
		}
		if (parse_line(p, ll, first, &t, why, sizeof(why)) != 0) {
			snprintf(err, errlen, "%s line %zu: %s", src, lineno, why);
			return -1;
		}
		/* Only comments and blank lines may precede "name". */
		struct token tk;
		const char *hash = memchr(p, '#', ll);
		if (split_tokens(p, hash != NULL ? (size_t)(hash - p) : ll, &tk, 1) > 0)
			first = false;
		p = nl != NULL ? nl + 1 : end;
	}
	*inout = t;
	return 0;
}

/* ---- the search path ---- */

struct dirlist {
	char *dir[4];
	size_t n;
};

static void dirlist_add(struct dirlist *dl, char *dir)
{
	struct stat a, b;
	bool have = stat(dir, &a) == 0;
	for (size_t i = 0; i < dl->n; i++) {
		if (strcmp(dl->dir[i], dir) == 0 ||
		    (have && stat(dl->dir[i], &b) == 0 && a.st_dev == b.st_dev &&
		     a.st_ino == b.st_ino)) {
			free(dir);
			return;
		}
	}
	dl->dir[dl->n++] = dir;
}

/* Fills *dl with the theme directories in search order (see theme.h). */
static void search_dirs(struct dirlist *dl)
{
	dl->n = 0;
	const char *xdg = getenv("XDG_CONFIG_HOME");
	const char *home = getenv("HOME");
	/* The XDG spec says relative values are to be ignored. */
	if (xdg != NULL && xdg[0] == '/')
		dirlist_add(dl, xasprintf("%s/tasker/themes", xdg));
	else if (home != NULL && home[0] != '\0')
		dirlist_add(dl, xasprintf("%s/.config/tasker/themes", home));
	dirlist_add(dl, xstrdup(TASKER_SHAREDIR "/themes"));
	dirlist_add(dl, xstrdup("./themes"));
	char exe[PATH_MAX];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n > 0) {
		exe[n] = '\0';
		char *slash = strrchr(exe, '/');
		if (slash != NULL) {
			*slash = '\0';
			dirlist_add(dl, xasprintf("%s/themes", exe));
		}
	}
}

static void dirlist_free(struct dirlist *dl)
{
	for (size_t i = 0; i < dl->n; i++)
		free(dl->dir[i]);
	dl->n = 0;
}

static bool name_ok(const char *name, size_t len)
{
	if (len == 0 || len > THEME_NAME_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = name[i];
		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
		      c == '-' || c == '_'))
			return false;
	}
	return true;
}

/*
 * Reads path into a malloc'd buffer (caller frees) and its length. Returns
 * 1 when read, 0 when there is no such file, -1 with err filled otherwise.
 */
static int read_theme_file(const char *path, char **text, size_t *len, char *err, size_t errlen)
{
	/* O_NONBLOCK: a FIFO named like a theme must not hang the console. */
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			return 0;
		snprintf(err, errlen, "cannot open %s: %s", path, strerror(errno));
		return -1;
	}
	struct stat st;
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	char *buf = xmalloc(THEME_FILE_MAX + 1);
	size_t got = 0;
	for (;;) {
		ssize_t r = read(fd, buf + got, THEME_FILE_MAX + 1 - got);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
			free(buf);
			close(fd);
			return -1;
		}
		if (r == 0)
			break;
		got += (size_t)r;
		if (got > THEME_FILE_MAX) {
			snprintf(err, errlen, "%s is larger than %d KiB: not a theme file", path,
			         THEME_FILE_MAX / 1024);
			free(buf);
			close(fd);
			return -1;
		}
	}
	close(fd);
	*text = buf;
	*len = got;
	return 1;
}

int theme_load(const char *name, struct theme *out, char *err, size_t errlen)
{
	theme_builtin(out);
	if (errlen > 0)
		err[0] = '\0';
	size_t nlen = strlen(name);
	if (!name_ok(name, nlen)) {
		struct token t = {name, nlen};
		char shown[48];
		token_show(t, shown, sizeof(shown));
		snprintf(err, errlen,
		         "invalid theme name '%s': use 1 to %d letters, digits, '-' or '_'", shown,
		         THEME_NAME_MAX);
		return -1;
	}
	struct dirlist dl;
	search_dirs(&dl);
	int rc = 1; /* 1: not found yet */
	for (size_t i = 0; i < dl.n && rc == 1; i++) {
		char *path = xasprintf("%s/%s.theme", dl.dir[i], name);
		char *text = NULL;
		size_t len = 0;
		int r = read_theme_file(path, &text, &len, err, errlen);
		if (r < 0) {
			rc = -1;
		} else if (r == 1) {
			struct theme t;
			theme_builtin(&t);
			snprintf(t.name, sizeof(t.name), "%s", name);
			if (theme_parse(text, len, path, &t, err, errlen) == 0) {
				*out = t;
				rc = 0;
			} else {
				rc = -1;
			}
			free(text);
		}
		free(path);
	}
	if (rc == 1 && strcmp(name, "default") == 0) {
		rc = 0;
	} else if (rc == 1) {
		int o = snprintf(err, errlen, "theme '%s' not found (looked for %s.theme in", name,
		                 name);
		for (size_t i = 0; i < dl.n && o >= 0 && (size_t)o < errlen; i++)
			o +=
			    snprintf(err + o, errlen - (size_t)o, "%s %s", i ? "," : "", dl.dir[i]);
		if (o >= 0 && (size_t)o < errlen)
			snprintf(err + o, errlen - (size_t)o, ")");
		rc = -1;
	}
	dirlist_free(&dl);
	return rc;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

size_t theme_list(char ***names)
{
	size_t n = 0, cap = 8;
	char **v = xmalloc(cap * sizeof(*v));
	v[n++] = xstrdup("default");
	struct dirlist dl;
	search_dirs(&dl);
	for (size_t i = 0; i < dl.n; i++) {
		DIR *d = opendir(dl.dir[i]);
		if (d == NULL)
			continue;
		struct dirent *de;
		while ((de = readdir(d)) != NULL) {
			size_t len = strlen(de->d_name);
			struct stat st;
			if (len <= 6 || strcmp(de->d_name + len - 6, ".theme") != 0 ||
			    !name_ok(de->d_name, len - 6) ||
			    fstatat(dirfd(d), de->d_name, &st, 0) != 0 || !S_ISREG(st.st_mode))
				continue;
			if (n == cap) {
				cap *= 2;
				v = xrealloc(v, cap * sizeof(*v));
			}
			v[n++] = xstrndup(de->d_name, len - 6);
		}
		closedir(d);
	}
	dirlist_free(&dl);
	qsort(v, n, sizeof(*v), cmp_str);
	size_t u = 0;
	for (size_t i = 0; i < n; i++) {
		if (u > 0 && strcmp(v[u - 1], v[i]) == 0)
			free(v[i]);
		else
			v[u++] = v[i];
	}
	*names = v;
	return u;
}

void theme_list_free(char **names, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
}
